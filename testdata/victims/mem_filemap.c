/*
 * mem_filemap: a file mapped shared (MAP_SHARED) and written by two
 * processes. The parent P creates "shared.map" (two pages, the first a
 * pattern) in the working directory and maps it; its child C inherits that
 * mapping and also maps the file again on its own. Every TICK_MS each
 * increments its own counter on the second page (P through its mapping, C
 * through its own) and checks:
 *   - its counter still holds what it last wrote (a write through the
 *     mapping before the checkpoint is still in the file after it),
 *   - the other's counter moved within STALL_TICKS ticks (one file: what
 *     one writes, the other sees),
 *   - the file, read with pread, holds the same counters and the pattern.
 *
 * Output:
 *   ready <P pid> <C pid>
 *   tick <n> <P count> <C count>     P, every TICK_MS
 *   child <n> <C count> <P count>    C, every TICK_MS
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define PAGE 4096u
#define TICK_MS 50
#define STALL_TICKS 40
#define FILE_NAME "shared.map"

static uint64_t word(size_t i) { return mix64(0xf11e + i); }

static volatile uint64_t *map_file(int fd)
{
	void *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		fail_errno("mmap");
	return p;
}

static void check_file(int fd, volatile uint64_t *mem)
{
	static uint64_t buf[2 * PAGE / 8];

	if (pread(fd, buf, sizeof(buf), 0) != sizeof(buf))
		fail_errno("pread");
	for (size_t i = 0; i < PAGE / 8; i++)
		if (buf[i] != word(i) || mem[i] != word(i))
			fail("word %zu of the pattern corrupted", i);
	/* The other may write between the two reads: only our own counter. */
}

static void loop(int me, int fd, volatile uint64_t *mem)
{
	volatile uint64_t *count = mem + PAGE / 8;
	uint64_t n = count[me], last = count[!me];
	unsigned stalled = 0;

	for (;;) {
		if (count[me] != n)
			fail("my counter is %llu, I wrote %llu", (unsigned long long)count[me], (unsigned long long)n);
		count[me] = ++n;
		uint64_t in_file;
		if (pread(fd, &in_file, sizeof(in_file), PAGE + 8 * me) != sizeof(in_file) || in_file != n)
			fail("the file does not hold my counter %llu", (unsigned long long)n);
		check_file(fd, mem);
		if (count[!me] != last) {
			last = count[!me];
			stalled = 0;
		} else if (++stalled > STALL_TICKS) {
			fail("the other's counter has not moved for %d ticks: the mapping is not shared", STALL_TICKS);
		}
		say("%s %llu %llu %llu", me ? "child" : "tick", (unsigned long long)n, (unsigned long long)count[me],
		    (unsigned long long)count[!me]);
		sleep_ms(TICK_MS);
	}
}

int main(void)
{
	int fd = open(FILE_NAME, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || ftruncate(fd, 2 * PAGE) != 0)
		fail_errno("create " FILE_NAME);
	volatile uint64_t *mem = map_file(fd);
	for (size_t i = 0; i < PAGE / 8; i++)
		mem[i] = word(i);
	pid_t child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			fail_errno("prctl");
		int own = open(FILE_NAME, O_RDWR);
		if (own < 0)
			fail_errno("open");
		loop(1, own, map_file(own));
	}
	say("ready %d %d", getpid(), child);
	loop(0, fd, mem);
}
