/*
 * mem_ghost [BIG_BYTES]: files deleted while open ("ghost" files), in the
 * working directory, used on every tick (so also right after a restore):
 *   ghost-read     READ_SIZE bytes with a hole in the middle, open
 *                  read-only: read on sequentially, REC bytes a tick, each
 *                  checked (the offset must carry on); its first page is
 *                  also mapped privately with one word changed.
 *   ghost-log      open twice: write-only O_APPEND (a line appended each
 *                  tick) and read-only (the line read back): one file.
 *   ghost-map      two pages mapped shared and open: a count written
 *                  through the mapping is read back through the descriptor.
 *   ghost-maponly  one page mapped shared, its descriptor closed.
 *   ghost-big      BIG_BYTES (when given) open read-only, for the size
 *                  limit; its last byte is checked.
 * All are unlinked once open or mapped; every tick checks that they are
 * still unlinked (st_nlink 0) under their names, and their contents.
 *
 * Output:
 *   ready <pid>
 *   tick <n> <offset of ghost-read>   every TICK_MS, all checks passed
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define USAGE "mem_ghost [BIG_BYTES]"
#define PAGE 4096u
#define TICK_MS 50
#define READ_SIZE (300 * 1000)
#define HOLE_START 100000
#define HOLE_END 200000
#define REC 7000
#define MAP_WORD 0x600d600d600d600dULL

static int read_fd, log_w, log_r, map_fd, big_fd;
static uint64_t *read_map, *map_mem, *maponly_mem;
static off_t expect_off, log_size;
static size_t big_size;
static char cwd[PATH_MAX];

static uint8_t pattern(uint64_t seed, size_t off) { return (uint8_t)(mix64(seed + off / 8) >> (off % 8 * 8)); }

static uint8_t read_byte(size_t off) { return off >= HOLE_START && off < HOLE_END ? 0 : pattern(1, off); }

static int create(const char *name, size_t size, uint64_t seed, int hole)
{
	static uint8_t buf[10000]; /* the hole starts and ends on a multiple */
	int fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0640);

	if (fd < 0)
		fail_errno("create");
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = hole ? read_byte(off + i) : pattern(seed, off + i);
		if (hole && off >= HOLE_START && off < HOLE_END)
			continue; /* leave a hole */
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			fail_errno("write");
	}
	if (ftruncate(fd, size) != 0)
		fail_errno("ftruncate");
	return fd;
}

static void *map(int fd, size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		fail_errno("mmap");
	return p;
}

static void check_deleted(int fd, const char *name)
{
	char path[64], link[PATH_MAX + 32], want[PATH_MAX + 32];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		fail_errno("readlink");
	link[n] = '\0';
	snprintf(want, sizeof(want), "%s/%s (deleted)", cwd, name);
	if (strcmp(link, want) != 0)
		fail("fd %d is %s, want %s", fd, link, want);
	if (fstat(fd, &st) != 0 || st.st_nlink != 0 || (st.st_mode & 0777) != 0640)
		fail("%s: %lu links, mode %o", name, (unsigned long)st.st_nlink, st.st_mode & 0777);
}

static void read_on(void)
{
	static uint8_t buf[REC];
	off_t at = lseek(read_fd, 0, SEEK_CUR);
	ssize_t n;

	if (at != expect_off)
		fail("ghost-read offset is %lld, want %lld", (long long)at, (long long)expect_off);
	n = read(read_fd, buf, REC);
	if (n < 0)
		fail_errno("read ghost-read");
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != read_byte(at + i))
			fail("ghost-read: byte %lld corrupted", (long long)(at + i));
	expect_off = at + n;
	if (n < REC) {
		if (at + n != READ_SIZE)
			fail("ghost-read ended at %lld", (long long)(at + n));
		expect_off = lseek(read_fd, 0, SEEK_SET);
	}
	if (read_map[0] != MAP_WORD)
		fail("private mapping of ghost-read lost its change");
	for (size_t i = 8; i < PAGE; i++)
		if (((uint8_t *)read_map)[i] != read_byte(i))
			fail("private mapping of ghost-read: byte %zu corrupted", i);
}

static void log_on(uint64_t n)
{
	char line[64], back[64];
	int len = snprintf(line, sizeof(line), "line %llu\n", (unsigned long long)n);

	if (write(log_w, line, len) != len)
		fail_errno("append ghost-log");
	if (pread(log_r, back, len, log_size) != len || memcmp(line, back, len) != 0)
		fail("ghost-log: the appended line is not there through the other descriptor");
	log_size += len;
}

static void map_on(uint64_t n)
{
	uint64_t back;

	map_mem[PAGE / 8] = n;
	if (pread(map_fd, &back, sizeof(back), PAGE) != sizeof(back) || back != n)
		fail("ghost-map: a write through the mapping is not in the file");
	for (size_t i = 0; i < PAGE; i++)
		if (((uint8_t *)map_mem)[i] != pattern(2, i))
			fail("ghost-map: byte %zu corrupted", i);
	if (maponly_mem[0] != MAP_WORD)
		fail("ghost-maponly: lost its word");
	for (size_t i = 8; i < PAGE - 8; i++)
		if (((uint8_t *)maponly_mem)[i] != pattern(3, i))
			fail("ghost-maponly: byte %zu corrupted", i);
	maponly_mem[PAGE / 8 - 1] = n;
}

int main(int argc, char **argv)
{
	if (argc > 2)
		usage(USAGE);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fail_errno("getcwd");
	read_fd = create("ghost-read", READ_SIZE, 1, 1);
	read_map = map(read_fd, PAGE, MAP_PRIVATE);
	read_map[0] = MAP_WORD;
	close(read_fd);
	read_fd = open("ghost-read", O_RDONLY);
	log_w = create("ghost-log", 0, 0, 0);
	close(log_w);
	log_w = open("ghost-log", O_WRONLY | O_APPEND);
	log_r = open("ghost-log", O_RDONLY);
	map_fd = create("ghost-map", 2 * PAGE, 2, 0);
	map_mem = map(map_fd, 2 * PAGE, MAP_SHARED);
	int fd = create("ghost-maponly", PAGE, 3, 0);
	maponly_mem = map(fd, PAGE, MAP_SHARED);
	maponly_mem[0] = MAP_WORD;
	close(fd);
	if (argc == 2) {
		big_size = parse_count(argv[1], USAGE);
		big_fd = create("ghost-big", big_size, 4, 0);
		if (unlink("ghost-big") != 0)
			fail_errno("unlink");
	}
	if (read_fd < 0 || log_w < 0 || log_r < 0)
		fail_errno("open");
	const char *names[] = { "ghost-read", "ghost-log", "ghost-map", "ghost-maponly" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (unlink(names[i]) != 0)
			fail_errno("unlink");
	say("ready %d", getpid());
	for (uint64_t n = 1;; n++) {
		check_deleted(read_fd, "ghost-read");
		check_deleted(log_w, "ghost-log");
		check_deleted(map_fd, "ghost-map");
		read_on();
		log_on(n);
		map_on(n);
		if (big_size != 0) {
			uint8_t last;
			if (pread(big_fd, &last, 1, big_size - 1) != 1 || last != pattern(4, big_size - 1))
				fail("ghost-big: last byte lost");
		}
		say("tick %llu %lld", (unsigned long long)n, (long long)expect_off);
		sleep_ms(TICK_MS);
	}
}
