/*
 * mem_shared [PATTERN_PAGES]: a parent P and a child C sharing anonymous
 * memory (MAP_SHARED|MAP_ANONYMOUS made before the fork), which must come
 * back shared after a restore, not as two copies.
 *
 * Before the fork P maps
 *   A  a counter block: one counter per process, each incremented only by
 *      its owner every TICK_MS, plus a total both increment atomically;
 *      then PATTERN_PAGES pages (default 256) that hold a hash of their
 *      page number (never written after, verified on SIGUSR1);
 *   B  SLOTS_PAGES pages; C unmaps the first two of them, so its mapping
 *      of B starts at an offset (pgoff) into the object while P's does not.
 *      Both increment a counter on the last page of B.
 * After the fork P alone maps
 *   D  one shared page of its own, holding a hash (a single process's
 *      shared anonymous memory), verified on SIGUSR1.
 * Each process checks on every tick that the other's counter in A and the
 * B counter moved within STALL_TICKS ticks of its own: with copies instead
 * of one object they would not. SIGUSR1 to P makes both verify everything.
 *
 * Output:
 *   ready <P pid> <C pid>
 *   tick <n> <P count> <C count> <total>   P, every TICK_MS
 *   child <n> <C count> <P count>          C, every TICK_MS
 *   verified P | verified C                after SIGUSR1
 *   FAIL ...
 */
#include "victim.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define USAGE "mem_shared [PATTERN_PAGES]"
#define PAGE 4096u
#define TICK_MS 50
#define STALL_TICKS 40
#define SLOTS_PAGES 8
#define B_UNMAPPED 2

struct counters {
	volatile uint64_t count[2]; /* P, C */
	volatile uint64_t total;
};

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

static void *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail_errno("mmap shared");
	return p;
}

static uint64_t word(uint64_t seed, size_t page, size_t i) { return mix64(seed ^ (page << 16) ^ i); }

static void fill(uint64_t *mem, size_t pages, uint64_t seed)
{
	for (size_t p = 0; p < pages; p++)
		for (size_t i = 0; i < PAGE / 8; i++)
			mem[p * PAGE / 8 + i] = word(seed, p, i);
}

static void verify(const uint64_t *mem, size_t pages, uint64_t seed, const char *what)
{
	for (size_t p = 0; p < pages; p++)
		for (size_t i = 0; i < PAGE / 8; i++)
			if (mem[p * PAGE / 8 + i] != word(seed, p, i))
				fail("%s: page %zu word %zu corrupted", what, p, i);
}

/* watch tracks a counter another process moves. */
struct watch {
	uint64_t last;
	unsigned stalled;
};

static void watch(struct watch *w, uint64_t now, const char *what)
{
	if (now != w->last) {
		w->last = now;
		w->stalled = 0;
	} else if (++w->stalled > STALL_TICKS) {
		fail("%s has not moved for %d ticks (stuck at %llu): memory not shared", what, STALL_TICKS,
		     (unsigned long long)now);
	}
}

struct layout {
	struct counters *a;
	uint64_t *pattern;
	size_t pattern_pages;
	volatile uint64_t *b_counter;
};

static void loop(int me, struct layout *l, uint64_t *d, pid_t peer)
{
	struct watch other = { 0, 0 }, b = { 0, 0 };
	uint64_t n = 0;

	for (;;) {
		n++;
		l->a->count[me]++;
		__atomic_fetch_add(&l->a->total, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(l->b_counter, 1, __ATOMIC_SEQ_CST);
		watch(&other, l->a->count[!me], me ? "the parent's counter" : "the child's counter");
		watch(&b, *l->b_counter - n, "the other's increments of the B counter");
		if (me == 0)
			say("tick %llu %llu %llu %llu", (unsigned long long)n, (unsigned long long)l->a->count[0],
			    (unsigned long long)l->a->count[1], (unsigned long long)l->a->total);
		else
			say("child %llu %llu %llu", (unsigned long long)n, (unsigned long long)l->a->count[1],
			    (unsigned long long)l->a->count[0]);
		if (got_usr1) {
			got_usr1 = 0;
			verify(l->pattern, l->pattern_pages, 0xa11ce, "shared pattern");
			if (d != NULL)
				verify(d, 1, 0xd0d0, "private shared page");
			if (peer > 0 && kill(peer, SIGUSR1) != 0)
				fail_errno("kill child");
			say("verified %c", me ? 'C' : 'P');
		}
		sleep_ms(TICK_MS);
	}
}

int main(int argc, char **argv)
{
	struct layout l;
	struct sigaction sa = { .sa_handler = on_usr1 };

	if (argc > 2)
		usage(USAGE);
	l.pattern_pages = argc == 2 ? parse_count(argv[1], USAGE) : 256;
	char *a = map_shared((1 + l.pattern_pages) * PAGE);
	l.a = (struct counters *)a;
	l.pattern = (uint64_t *)(a + PAGE);
	fill(l.pattern, l.pattern_pages, 0xa11ce);
	char *b = map_shared(SLOTS_PAGES * PAGE);
	l.b_counter = (volatile uint64_t *)(b + (SLOTS_PAGES - 1) * PAGE);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction");
	pid_t child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			fail_errno("prctl");
		if (munmap(b, B_UNMAPPED * PAGE) != 0)
			fail_errno("munmap");
		loop(1, &l, NULL, 0);
	}
	uint64_t *d = map_shared(PAGE);
	fill(d, 1, 0xd0d0);
	say("ready %d %d", getpid(), child);
	loop(0, &l, d, child);
}
