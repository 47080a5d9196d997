/*
 * lazyops MIB: a victim that changes its address space all the time, for
 * lazy restore. It holds a patterned region of MIB MiB and BLOCKS blocks,
 * each a mapping of its own (as malloc makes for large allocations), and
 * each step does one of
 *   fork      a child checks a range of the region and a block, exits 0
 *             (2 on a mismatch); the parent checks its status
 *   mremap    grows a block by a page with mremap(MREMAP_MAYMOVE), as
 *             realloc does: the old pages keep their content, the new one
 *             reads as zeros; then shrinks it back
 *   dontneed  madvise(MADV_DONTNEED) on a range of the region: it reads as
 *             zeros, then is refilled
 *   munmap    unmaps a block and maps a fresh one (zeros), refilled
 * and then checks a few random pages of the region and a random block.
 *
 * Output (one line each, flushed):
 *   ready <pid> <pages>
 *   tick <steps> fork=<n> mremap=<n> dontneed=<n> munmap=<n>   every 200 steps
 *   FAIL ...
 */
#include "victim.h"

#include <sys/mman.h>
#include <sys/wait.h>

#define USAGE "lazyops MIB"
#define PAGE 4096u
#define WORDS (PAGE / 8u)
#define MAX_RANGE 64u
#define BLOCKS 64u
#define MAX_BLOCK_PAGES 64u
#define CHECKS_PER_STEP 16u
#define TICK_STEPS 200u
#define BLOCK_TAG (1ull << 40)

struct block {
	uint64_t *mem;
	size_t pages;
	uint64_t id; /* pattern key, changes when the block is replaced */
};

static uint64_t *region;
static size_t pages;
static struct block blocks[BLOCKS];
static uint64_t next_id = BLOCK_TAG;

static uint64_t want_word(uint64_t key, size_t word) { return mix64(key << 16 | word) | 1; }

static void fill(uint64_t *at, uint64_t key0, size_t n)
{
	for (size_t p = 0; p < n; p++)
		for (size_t j = 0; j < WORDS; j++)
			at[p * WORDS + j] = want_word(key0 + p, j);
}

/* check returns 0 if n pages at base hold the pattern of keys key0.., or
 * zeros. */
static int check(const uint64_t *base, uint64_t key0, size_t n, int zeros, const char *what)
{
	for (size_t p = 0; p < n; p++)
		for (size_t j = 0; j < WORDS; j++) {
			uint64_t want = zeros ? 0 : want_word(key0 + p, j);
			if (base[p * WORDS + j] != want) {
				say("FAIL %s page %zu word %zu got %016llx want %016llx", what, p, j,
				    (unsigned long long)base[p * WORDS + j], (unsigned long long)want);
				return -1;
			}
		}
	return 0;
}

static void must(int ok, const char *what)
{
	if (!ok)
		fail("%s", what);
}

static void new_block(struct block *b, size_t n)
{
	b->mem = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->mem == MAP_FAILED)
		fail_errno("mmap block");
	must(check(b->mem, 0, n, 1, "fresh block") == 0, "fresh memory is not zero");
	b->pages = n;
	b->id = next_id;
	next_id += MAX_BLOCK_PAGES + 1;
	fill(b->mem, b->id, n);
}

static void op_fork(size_t first, size_t n, struct block *b)
{
	pid_t c = fork();
	if (c < 0)
		fail_errno("fork");
	if (c == 0)
		_exit(check(region + first * WORDS, first, n, 0, "child region") ||
		      check(b->mem, b->id, b->pages, 0, "child block") ? 2 : 0);
	int st;
	if (waitpid(c, &st, 0) != c)
		fail_errno("waitpid");
	must(WIFEXITED(st) && WEXITSTATUS(st) == 0, "forked child found bad memory");
}

static void op_mremap(struct block *b)
{
	uint64_t *grown = mremap(b->mem, b->pages * PAGE, (b->pages + 1) * PAGE, MREMAP_MAYMOVE);
	if (grown == MAP_FAILED)
		fail_errno("mremap grow");
	must(check(grown, b->id, b->pages, 0, "grown block") == 0, "memory changed when moved");
	must(check(grown + b->pages * WORDS, 0, 1, 1, "grown page") == 0, "a grown page is not zero");
	uint64_t *shrunk = mremap(grown, (b->pages + 1) * PAGE, b->pages * PAGE, 0);
	if (shrunk == MAP_FAILED)
		fail_errno("mremap shrink");
	b->mem = shrunk;
}

static void op_dontneed(size_t first, size_t n)
{
	if (madvise(region + first * WORDS, n * PAGE, MADV_DONTNEED))
		fail_errno("madvise");
	must(check(region + first * WORDS, 0, n, 1, "discarded") == 0, "MADV_DONTNEED memory is not zero");
	fill(region + first * WORDS, first, n);
}

static void op_munmap(struct block *b)
{
	if (munmap(b->mem, b->pages * PAGE))
		fail_errno("munmap");
	new_block(b, b->pages);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		usage(USAGE);
	pages = (size_t)parse_count(argv[1], USAGE) * (1048576u / PAGE);
	region = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		fail_errno("mmap");
	fill(region, 0, pages);
	for (unsigned i = 0; i < BLOCKS; i++)
		new_block(&blocks[i], 1 + mix64(i) % MAX_BLOCK_PAGES);
	say("ready %d %zu", getpid(), pages);
	unsigned long counts[4] = {0};
	uint64_t rng = (uint64_t)getpid();
	for (unsigned long step = 1;; step++) {
		rng = mix64(rng + step);
		size_t n = 1 + rng % MAX_RANGE;
		size_t first = (rng >> 8) % (pages - n);
		struct block *b = &blocks[(rng >> 32) % BLOCKS];
		unsigned op = (rng >> 40) % 4;
		switch (op) {
		case 0: op_fork(first, n, b); break;
		case 1: op_mremap(b); break;
		case 2: op_dontneed(first, n); break;
		default: op_munmap(b); break;
		}
		counts[op]++;
		for (unsigned k = 0; k < CHECKS_PER_STEP; k++) {
			rng = mix64(rng + k);
			size_t p = rng % pages;
			must(check(region + p * WORDS, p, 1, 0, "region") == 0, "memory changed");
		}
		b = &blocks[rng % BLOCKS];
		must(check(b->mem, b->id, b->pages, 0, "block") == 0, "a block changed");
		if (step % TICK_STEPS == 0)
			say("tick %lu fork=%lu mremap=%lu dontneed=%lu munmap=%lu", step, counts[0], counts[1], counts[2], counts[3]);
	}
}
