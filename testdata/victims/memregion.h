/*
 * memregion.h: a self-checking region of private anonymous memory, shared by
 * memcount.c and demo.c.
 *
 * The region is cut into 4 KiB pages of three kinds, by page index modulo 16:
 *   slot 7   untouched: never written, so it must read as zeros;
 *   slot 11  zero: written with zeros (a real page whose content is zero);
 *   others   pattern: word i of page p holds region_word(p, i, gen[p]).
 * gen[] (one generation per page, on the heap) starts at 0 and grows by one
 * each time a step rewrites the page. Step s rewrites the pages picked by
 * region_pick(s, k), so the generations after step s, and hence the content,
 * depend on s alone.
 *
 * The checksum is the XOR over all pages of a hash of the page's index and
 * its 512 words: a pure function of the memory content. It is kept up to date
 * as pages are rewritten, and every page is compared word by word with its
 * expected value (by the rolling verification, and before each rewrite).
 */
#ifndef CRLAZY_MEMREGION_H
#define CRLAZY_MEMREGION_H

#include "victim.h"

#include <sys/mman.h>

#define REGION_PAGE 4096u                    /* bytes in a logical page */
#define REGION_WORDS (REGION_PAGE / 8u)      /* 64-bit words in a page */
#define REGION_PAGES_PER_MIB (1048576u / REGION_PAGE)
#define REGION_MAX_MIB (1u << 20)            /* 1 TiB: a sanity bound */
#define REGION_KIND_PERIOD 16u
#define REGION_UNTOUCHED_SLOT 7u
#define REGION_ZERO_SLOT 11u
#define REGION_REWRITES 2u                   /* pages rewritten per step */
#define REGION_SLICE 8u                      /* pages verified per step */
#define REGION_SEED 0x63726c617a79ULL        /* "crlazy" */

enum page_kind { PAGE_PATTERN, PAGE_UNTOUCHED, PAGE_ZERO };

struct region {
	uint64_t *mem;      /* npages * REGION_WORDS words; NULL when only simulated */
	size_t npages;
	uint32_t *gen;      /* generation of each page (heap) */
	uint64_t sum;       /* XOR of the page hashes */
	uint64_t step;      /* steps taken: the counter */
	size_t cursor;      /* next page of the rolling verification */
	uint64_t verified;  /* pages verified so far */
};

static inline enum page_kind region_kind(size_t p)
{
	switch (p % REGION_KIND_PERIOD) {
	case REGION_UNTOUCHED_SLOT:
		return PAGE_UNTOUCHED;
	case REGION_ZERO_SLOT:
		return PAGE_ZERO;
	default:
		return PAGE_PATTERN;
	}
}

static inline uint64_t region_word(size_t p, size_t i, uint32_t gen)
{
	uint64_t w = (uint64_t)p * REGION_WORDS + i;

	return mix64(w * 0x9e3779b97f4a7c15ULL + REGION_SEED + (uint64_t)gen * 0xd1b54a32d192ed03ULL);
}

static inline uint64_t hash_begin(size_t p)
{
	return mix64((uint64_t)p ^ (REGION_SEED << 8));
}

static inline uint64_t hash_word(uint64_t h, uint64_t word)
{
	h ^= word;
	h *= 0xff51afd7ed558ccdULL;
	return (h << 29) | (h >> 35);
}

/* page_hash hashes the 512 words of page p at words. */
static inline uint64_t page_hash(size_t p, const uint64_t *words)
{
	uint64_t h = hash_begin(p);

	for (size_t i = 0; i < REGION_WORDS; i++)
		h = hash_word(h, words[i]);
	return mix64(h);
}

/* page_fill writes the content page p has at generation gen. */
static inline void page_fill(uint64_t *words, size_t p, uint32_t gen)
{
	if (region_kind(p) != PAGE_PATTERN) {
		memset(words, 0, REGION_PAGE);
		return;
	}
	for (size_t i = 0; i < REGION_WORDS; i++)
		words[i] = region_word(p, i, gen);
}

static inline uint64_t expected_hash(size_t p, uint32_t gen)
{
	uint64_t buf[REGION_WORDS];

	page_fill(buf, p, gen);
	return page_hash(p, buf);
}

static inline uint64_t *page_at(const struct region *r, size_t p)
{
	return r->mem + p * REGION_WORDS;
}

/*
 * page_verify compares page p with its expected content, FAILs on the first
 * wrong word and returns the page's hash.
 */
static inline uint64_t page_verify(struct region *r, size_t p)
{
	const volatile uint64_t *words = page_at(r, p);
	int pattern = region_kind(p) == PAGE_PATTERN;
	uint64_t h = hash_begin(p);

	for (size_t i = 0; i < REGION_WORDS; i++) {
		uint64_t got = words[i];
		uint64_t want = pattern ? region_word(p, i, r->gen[p]) : 0;

		if (got != want)
			fail("page %zu word %zu got %016llx want %016llx gen %u", p, i,
			     (unsigned long long)got, (unsigned long long)want, r->gen[p]);
		h = hash_word(h, got);
	}
	r->verified++;
	return mix64(h);
}

/* region_init fills a region of mib MiB (simulated only when with_mem is 0). */
static inline void region_init(struct region *r, unsigned long mib, int with_mem)
{
	memset(r, 0, sizeof(*r));
	if (mib > REGION_MAX_MIB)
		fail("region of %lu MiB is larger than %u MiB", mib, REGION_MAX_MIB);
	r->npages = (size_t)mib * REGION_PAGES_PER_MIB;
	r->gen = calloc(r->npages, sizeof(r->gen[0]));
	if (r->gen == NULL)
		fail_errno("calloc generations");
	if (!with_mem)
		return;
	r->mem = mmap(NULL, r->npages * REGION_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->mem == MAP_FAILED)
		fail_errno("mmap region");
	for (size_t p = 0; p < r->npages; p++) {
		if (region_kind(p) != PAGE_UNTOUCHED)
			page_fill(page_at(r, p), p, 0);
		r->sum ^= expected_hash(p, 0);
	}
}

static inline size_t region_pick(const struct region *r, uint64_t step, unsigned k)
{
	return (size_t)(mix64(step * REGION_REWRITES + k + REGION_SEED) % r->npages);
}

/* page_rewrite verifies page p, moves it to the next generation and rewrites it. */
static inline void page_rewrite(struct region *r, size_t p)
{
	uint64_t old = page_verify(r, p);

	r->gen[p]++;
	page_fill(page_at(r, p), p, r->gen[p]);
	r->sum ^= old ^ page_hash(p, page_at(r, p));
}

/* region_step takes one step: rewrites a few pages and verifies a slice. */
static inline void region_step(struct region *r)
{
	r->step++;
	for (unsigned k = 0; k < REGION_REWRITES; k++) {
		size_t p = region_pick(r, r->step, k);

		if (region_kind(p) != PAGE_UNTOUCHED)
			page_rewrite(r, p);
	}
	for (unsigned k = 0; k < REGION_SLICE; k++) {
		page_verify(r, r->cursor);
		r->cursor = (r->cursor + 1) % r->npages;
	}
}

/* region_check_all verifies every page and the running checksum. */
static inline void region_check_all(struct region *r)
{
	uint64_t sum = 0;

	for (size_t p = 0; p < r->npages; p++)
		sum ^= page_verify(r, p);
	if (sum != r->sum)
		fail("checksum of memory %016llx, running checksum %016llx",
		     (unsigned long long)sum, (unsigned long long)r->sum);
}

/* region_expect returns the checksum a region of mib MiB has after step steps. */
static inline uint64_t region_expect(unsigned long mib, uint64_t steps)
{
	struct region r;
	uint64_t sum = 0;

	region_init(&r, mib, 0);
	for (uint64_t s = 1; s <= steps; s++)
		for (unsigned k = 0; k < REGION_REWRITES; k++) {
			size_t p = region_pick(&r, s, k);

			if (region_kind(p) != PAGE_UNTOUCHED)
				r.gen[p]++;
		}
	for (size_t p = 0; p < r.npages; p++)
		sum ^= expected_hash(p, r.gen[p]);
	free(r.gen);
	return sum;
}

#endif
