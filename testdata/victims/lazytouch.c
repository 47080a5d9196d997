/*
 * lazytouch MIB [HOT]: a victim for lazy restore. It fills MIB MiB with a
 * pattern that is a pure function of the page index (every 16th page is
 * left all zeros, to mix holes in), then forever: visits every page (or
 * only the hot ones: HOT percent of the pages, in runs of HOT_RUN pages as
 * a program's working set is, the same set every pass) in a new random
 * order, checks its content, and counts the pass.
 *
 * Output (one line each, flushed):
 *   ready <pid> <pages>
 *   pass <n> ok <pages>        after each pass, with the pages it checked
 *   FAIL page <i> word <j> got <hex> want <hex>
 */
#include "victim.h"

#include <sys/mman.h>

#define USAGE "lazytouch MIB [HOT]"
#define PAGE 4096u
#define WORDS (PAGE / 8u)
#define ZERO_EVERY 16u
#define HOT_RUN 64u

static uint64_t want_word(size_t page, size_t word)
{
	if (page % ZERO_EVERY == ZERO_EVERY - 1)
		return 0;
	return mix64((uint64_t)page << 16 | word) | 1;
}

static void check_page(const uint64_t *mem, size_t page)
{
	const uint64_t *w = mem + page * WORDS;
	for (size_t j = 0; j < WORDS; j++)
		if (w[j] != want_word(page, j))
			fail("page %zu word %zu got %016llx want %016llx", page, j,
			     (unsigned long long)w[j], (unsigned long long)want_word(page, j));
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3)
		usage(USAGE);
	size_t pages = (size_t)parse_count(argv[1], USAGE) * (1048576u / PAGE);
	unsigned long hot = argc == 3 ? parse_count(argv[2], USAGE) : 100;
	if (hot == 0 || hot > 100)
		usage(USAGE);
	uint64_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail_errno("mmap");
	for (size_t p = 0; p < pages; p++)
		if (p % ZERO_EVERY != ZERO_EVERY - 1)
			for (size_t j = 0; j < WORDS; j++)
				mem[p * WORDS + j] = want_word(p, j);
	size_t *order = malloc(pages * sizeof(*order));
	if (!order)
		fail_errno("malloc");
	/* The hot set: the runs of HOT_RUN pages whose hash falls below HOT. */
	size_t visit = 0;
	for (size_t i = 0; i < pages; i++)
		if (hot == 100 || mix64(i / HOT_RUN) % 100 < hot)
			order[visit++] = i;
	say("ready %d %zu", getpid(), pages);
	uint64_t rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	for (unsigned long pass = 1;; pass++) {
		for (size_t i = visit - 1; i > 0; i--) {
			rng = mix64(rng + i);
			size_t k = rng % (i + 1), t = order[i];
			order[i] = order[k];
			order[k] = t;
		}
		for (size_t i = 0; i < visit; i++)
			check_page(mem, order[i]);
		say("pass %lu ok %zu", pass, visit);
	}
}
