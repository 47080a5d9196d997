/*
 * mem_memfd: memfds in every way a program holds them, checked on every
 * tick (so also right after a restore):
 *   S  sealed: written, then F_SEAL_WRITE|SHRINK|GROW|SEAL, then mapped
 *      read-only and shared; its descriptor's offset is SEALED_POS. Its
 *      contents must be intact (through the mapping and pread), its seals
 *      the same, and writing, truncating or making the mapping writable
 *      must still fail; its name in /proc stays.
 *   M  shared by the parent P and its child C (mapped shared before the
 *      fork, descriptor inherited): both count in the mapping, P also
 *      writes its count through the descriptor and C watches it through
 *      the mapping: one object for the descriptor and the mappings of two
 *      processes.
 *   F  mapped writable, then F_SEAL_FUTURE_WRITE: writes through the old
 *      mapping still work, write(2) and a new writable mapping fail.
 *   O  only open (never mapped), offset O_POS: contents read with pread.
 *   R  mapped privately, its descriptor closed, one word changed (a
 *      copied-on-write page): the other pages are the memfd's.
 *
 * Output:
 *   ready <P pid> <C pid>
 *   tick <n> <P count> <C count>     P, every TICK_MS, all checks passed
 *   child <n> <C count> <P count>    C, every TICK_MS
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define PAGE 4096u
#define TICK_MS 50
#define STALL_TICKS 40
#define SEALED_SIZE (3 * PAGE + 100)
#define SEALED_POS 1000
#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define O_SIZE 10000
#define O_POS 5000
#define R_PAGES 2
#define R_WORD 0x0123456789abcdefULL

static int s_fd, m_fd, f_fd, o_fd;
static const uint8_t *s_map;
static volatile uint64_t *m_map, *f_map, *r_map;

static uint8_t pattern(uint64_t seed, size_t off) { return (uint8_t)mix64(seed + off / 8) >> (off % 8); }

static void fill(uint8_t *buf, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(seed, i);
}

/* check compares buf with bytes [from, n) of the pattern. */
static void check_from(const uint8_t *buf, size_t from, size_t n, uint64_t seed, const char *what)
{
	for (size_t i = from; i < n; i++)
		if (buf[i] != pattern(seed, i))
			fail("%s: byte %zu corrupted", what, i);
}

static void check(const uint8_t *buf, size_t n, uint64_t seed, const char *what)
{
	check_from(buf, 0, n, seed, what);
}

static int new_memfd(const char *name, unsigned flags, size_t size, uint64_t seed)
{
	static uint8_t buf[SEALED_SIZE > O_SIZE ? SEALED_SIZE : O_SIZE];
	int fd = memfd_create(name, flags);

	if (fd < 0)
		fail_errno("memfd_create");
	if (seed != 0) {
		fill(buf, size, seed);
		if (write(fd, buf, size) != (ssize_t)size)
			fail_errno("write memfd");
	} else if (ftruncate(fd, size) != 0) {
		fail_errno("ftruncate");
	}
	return fd;
}

static void *map(int fd, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED)
		fail_errno("mmap memfd");
	return p;
}

static void expect_eperm(int ret, const char *what)
{
	if (ret != -1 || (errno != EPERM && errno != EACCES))
		fail("%s: returned %d (%s), want EPERM", what, ret, ret == -1 ? strerror(errno) : "no error");
}

static void check_name(int fd, const char *want)
{
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		fail_errno("readlink");
	link[n] = '\0';
	if (strcmp(link, want) != 0)
		fail("fd %d is %s, want %s", fd, link, want);
}

static void check_sealed(void)
{
	static uint8_t buf[SEALED_SIZE];
	struct stat st;

	if (fcntl(s_fd, F_GET_SEALS) != SEALS)
		fail("sealed memfd has seals %#x, want %#x", fcntl(s_fd, F_GET_SEALS), SEALS);
	check(s_map, SEALED_SIZE, 1, "sealed memfd mapping");
	if (pread(s_fd, buf, SEALED_SIZE, 0) != SEALED_SIZE)
		fail_errno("pread sealed");
	check(buf, SEALED_SIZE, 1, "sealed memfd read");
	if (fstat(s_fd, &st) != 0 || st.st_size != SEALED_SIZE)
		fail("sealed memfd has %lld bytes", (long long)st.st_size);
	if (lseek(s_fd, 0, SEEK_CUR) != SEALED_POS)
		fail("sealed memfd offset %lld", (long long)lseek(s_fd, 0, SEEK_CUR));
	expect_eperm((int)write(s_fd, "x", 1), "write to sealed memfd");
	expect_eperm(ftruncate(s_fd, PAGE), "shrink sealed memfd");
	expect_eperm(mprotect((void *)s_map, PAGE, PROT_READ | PROT_WRITE), "mprotect sealed mapping writable");
	check_name(s_fd, "/memfd:crlazy sealed (deleted)");
}

static void check_future(uint64_t n)
{
	f_map[1] = n;
	if (f_map[1] != n)
		fail("write through the future-write sealed mapping lost");
	if (fcntl(f_fd, F_GET_SEALS) != F_SEAL_FUTURE_WRITE)
		fail("future-write memfd has seals %#x", fcntl(f_fd, F_GET_SEALS));
	expect_eperm((int)write(f_fd, "x", 1), "write to future-write sealed memfd");
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f_fd, 0);
	if (p != MAP_FAILED)
		fail("a new writable mapping of a future-write sealed memfd worked");
}

static void check_others(void)
{
	static uint8_t buf[O_SIZE];
	struct stat st;

	if (pread(o_fd, buf, O_SIZE, 0) != O_SIZE)
		fail_errno("pread fd-only memfd");
	check(buf, O_SIZE, 3, "fd-only memfd");
	if (lseek(o_fd, 0, SEEK_CUR) != O_POS || fcntl(o_fd, F_GET_SEALS) != F_SEAL_SEAL)
		fail("fd-only memfd: offset %lld, seals %#x", (long long)lseek(o_fd, 0, SEEK_CUR), fcntl(o_fd, F_GET_SEALS));
	if (fstat(o_fd, &st) != 0 || (st.st_mode & 0777) != 0777)
		fail("fd-only memfd has mode %o", st.st_mode);
	check_name(o_fd, "/memfd:crlazy fd only (deleted)");
	if (r_map[0] != R_WORD)
		fail("private copy of the memfd lost its change");
	check_from((const uint8_t *)r_map, 8, R_PAGES * PAGE, 4, "private memfd mapping");
}

static void watch(uint64_t *last, unsigned *stalled, uint64_t now, const char *what)
{
	if (now != *last) {
		*last = now;
		*stalled = 0;
	} else if (++*stalled > STALL_TICKS) {
		fail("%s has not moved for %d ticks: the memfd is not shared", what, STALL_TICKS);
	}
}

static void child_loop(void)
{
	uint64_t n = 0, last = 0, last_fd = 0;
	unsigned stalled = 0, stalled_fd = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		fail_errno("prctl");
	for (;;) {
		m_map[1] = ++n;
		watch(&last, &stalled, m_map[0], "the parent's count");
		watch(&last_fd, &stalled_fd, m_map[PAGE / 8], "the parent's count written through the descriptor");
		say("child %llu %llu %llu", (unsigned long long)n, (unsigned long long)m_map[1], (unsigned long long)m_map[0]);
		sleep_ms(TICK_MS);
	}
}

int main(void)
{
	s_fd = new_memfd("crlazy sealed", MFD_ALLOW_SEALING, SEALED_SIZE, 1);
	if (fcntl(s_fd, F_ADD_SEALS, SEALS) != 0)
		fail_errno("F_ADD_SEALS");
	s_map = map(s_fd, 4 * PAGE, PROT_READ, MAP_SHARED);
	if (lseek(s_fd, SEALED_POS, SEEK_SET) != SEALED_POS)
		fail_errno("lseek");
	m_fd = new_memfd("crlazy shared", 0, 2 * PAGE, 0);
	m_map = map(m_fd, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED);
	f_fd = new_memfd("crlazy future", MFD_ALLOW_SEALING, PAGE, 0);
	f_map = map(f_fd, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (fcntl(f_fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) != 0)
		fail_errno("F_ADD_SEALS future write");
	o_fd = new_memfd("crlazy fd only", MFD_CLOEXEC, O_SIZE, 3);
	if (lseek(o_fd, O_POS, SEEK_SET) != O_POS)
		fail_errno("lseek");
	int r_fd = new_memfd("crlazy private", 0, R_PAGES * PAGE, 4);
	r_map = map(r_fd, R_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	close(r_fd);
	r_map[0] = R_WORD;
	pid_t child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0)
		child_loop();
	say("ready %d %d", getpid(), child);
	uint64_t n = 0, last = 0;
	unsigned stalled = 0;
	for (;;) {
		m_map[0] = ++n;
		if (pwrite(m_fd, &n, sizeof(n), PAGE) != sizeof(n))
			fail_errno("pwrite shared memfd");
		watch(&last, &stalled, m_map[1], "the child's count");
		check_sealed();
		check_future(n);
		check_others();
		say("tick %llu %llu %llu", (unsigned long long)n, (unsigned long long)m_map[0], (unsigned long long)m_map[1]);
		sleep_ms(TICK_MS);
	}
}
