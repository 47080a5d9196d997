/*
 * bench_touch MIB HOT ZERO THREADS PROCS: the victim of crlazy's benchmark
 * (bench/). It is a tree of PROCS processes (the root and PROCS-1 children
 * it forks first; they die with the root), each with THREADS threads and MIB/PROCS MiB of private
 * anonymous memory (at least 1 MiB):
 *   ZERO percent of the pages are written with zeros (present, all zero);
 *   the others hold pseudo-random words (incompressible), a pure function
 *   of the process's index, the page and the word.
 * Then every thread loops forever over its share of the hot set (HOT percent
 * of the pages, in runs of HOT_RUN pages, the same set every pass) in a new
 * random order, checking every word of every page it visits.
 *
 * Thread 0 of each process times the first read of each page it visits.
 * When it sees a jump in time of more than JUMP_MS between two clock reads
 * (the process was frozen: dumped, then restored), it starts over and, once
 * it has visited every page of its share after the jump, prints the
 * distribution of those read latencies: what the process saw while its
 * memory came in.
 *
 * Output (one line each, flushed; <pid> is the printing process's):
 *   ready <pid> <pages>      once per process, when its memory is filled
 *   pass <pid> <n>           thread 0 finished pass n (at most every PASS_MS,
 *                            and always the first pass after a jump)
 *   lat <pid> <n> <p50> <p90> <p99> <max> <in_us> <jump_ms> <nf> <fp50> <fp99> <h0>,<h1>,...
 *                            after the first full pass following a jump:
 *                            n reads, percentiles and max in ns, in_us the
 *                            time from the jump to the end of that pass,
 *                            jump_ms the length of the jump; nf reads took
 *                            FAULT_NS or more (they waited for their page:
 *                            a read of a present page takes well under a
 *                            microsecond), fp50 and fp99 their percentiles;
 *                            h<k> the reads that took [2^k, 2^(k+1)) ns
 *   FAIL ...                 a word is not what it must be
 */
#include "victim.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define USAGE "bench_touch MIB HOT ZERO THREADS PROCS"
#define PAGE 4096u
#define WORDS (PAGE / 8u)
#define PAGES_PER_MIB (1048576u / PAGE)
#define HOT_RUN 64u
#define MAX_THREADS 64u
#define MAX_PROCS 64u
#define JUMP_MS 50u
#define PASS_MS 100u
#define BUCKETS 40u
#define FAULT_NS 2000u /* a read this slow waited for its page */
#define SALT_ZERO 0x7a65726fULL
#define SALT_HOT 0x686f74ULL

struct proc_state {
	uint64_t *mem;
	size_t pages;
	uint64_t seed;
	size_t *hot;   /* indices of the hot pages */
	size_t nhot;
	unsigned threads;
};

static struct proc_state ps;

static int is_zero(size_t p, unsigned zero)
{
	return mix64(p ^ SALT_ZERO) % 100 < zero;
}

static uint64_t want_word(size_t p, size_t j, int zero)
{
	return zero ? 0 : mix64(ps.seed ^ ((uint64_t)p << 9 | j)) | 1;
}

static void fill(unsigned zero)
{
	ps.mem = mmap(NULL, ps.pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ps.mem == MAP_FAILED)
		fail_errno("mmap");
	for (size_t p = 0; p < ps.pages; p++) {
		int z = is_zero(p, zero);
		for (size_t j = 0; j < WORDS; j++)
			ps.mem[p * WORDS + j] = want_word(p, j, z);
	}
}

static void pick_hot(unsigned hot)
{
	ps.hot = malloc(ps.pages * sizeof(*ps.hot));
	if (ps.hot == NULL)
		fail_errno("malloc");
	for (size_t p = 0; p < ps.pages; p++)
		if (mix64(p / HOT_RUN ^ ps.seed ^ SALT_HOT) % 100 < hot)
			ps.hot[ps.nhot++] = p;
	if (ps.nhot == 0) /* a tiny process: keep one page hot */
		ps.hot[ps.nhot++] = 0;
}

static void check_page(size_t p, unsigned zero)
{
	const volatile uint64_t *w = ps.mem + p * WORDS;
	int z = is_zero(p, zero);

	for (size_t j = 0; j < WORDS; j++)
		if (w[j] != want_word(p, j, z))
			fail("pid %d page %zu word %zu got %016llx want %016llx", getpid(), p, j,
			     (unsigned long long)w[j], (unsigned long long)want_word(p, j, z));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* report prints the lat line for n read latencies (sorted in place). */
static void report(uint64_t *lat, size_t n, uint64_t in_ns, uint64_t jump_ns)
{
	unsigned long long h[BUCKETS] = { 0 };
	char hist[BUCKETS * 12] = "", *at = hist;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned k = 0;
		while (k + 1 < BUCKETS && lat[i] >> (k + 1))
			k++;
		h[k]++;
	}
	for (unsigned k = 0; k < BUCKETS; k++)
		at += sprintf(at, k ? ",%llu" : "%llu", h[k]);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	size_t f = 0; /* the first read that faulted */
	while (f < n && lat[f] < FAULT_NS)
		f++;
	size_t nf = n - f;
	say("lat %d %zu %llu %llu %llu %llu %llu %llu %zu %llu %llu %s", getpid(), n,
	    (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 9 / 10],
	    (unsigned long long)lat[n * 99 / 100], (unsigned long long)lat[n - 1],
	    (unsigned long long)(in_ns / 1000), (unsigned long long)(jump_ns / 1000000), nf,
	    (unsigned long long)(nf ? lat[f + nf / 2] : 0), (unsigned long long)(nf ? lat[f + nf * 99 / 100] : 0), hist);
}

struct walker {
	unsigned id;
	unsigned zero;
	size_t *order; /* this thread's share of the hot pages */
	size_t n;
	uint64_t rng;
};

static void shuffle(struct walker *w)
{
	for (size_t i = w->n - 1; i > 0 && w->n > 1; i--) {
		w->rng = mix64(w->rng + i);
		size_t k = w->rng % (i + 1), t = w->order[i];
		w->order[i] = w->order[k];
		w->order[k] = t;
	}
}

/*
 * timed_pass visits every page of w once, timing each first read into lat.
 * It stops and returns 1 at a jump in time, so that the pass after it visits
 * every page once from the jump on.
 */
static int timed_pass(struct walker *w, uint64_t *lat, uint64_t *last, uint64_t *jump_at, uint64_t *jump_len)
{
	for (size_t i = 0; i < w->n; i++) {
		const volatile uint64_t *page = ps.mem + w->order[i] * WORDS;
		uint64_t t0 = now_ns();
		(void)page[0];
		uint64_t t1 = now_ns();

		int jumped = t0 - *last > JUMP_MS * 1000000ull || t1 - t0 > JUMP_MS * 1000000ull;

		if (jumped) {
			*jump_at = t1;
			*jump_len = t1 - *last;
		}
		lat[i] = t1 - t0;
		*last = t1;
		check_page(w->order[i], w->zero);
		if (jumped)
			return 1;
	}
	return 0;
}

static void *walk(void *arg)
{
	struct walker *w = arg;
	uint64_t *lat = w->id == 0 ? malloc(w->n * sizeof(*lat)) : NULL;
	uint64_t last = now_ns(), jump_at = 0, jump_len = 0, printed = 0;
	int measuring = 0, first_after = 0;

	if (w->id == 0 && lat == NULL)
		fail_errno("malloc");
	for (unsigned long pass = 1;; pass++) {
		shuffle(w);
		if (w->id != 0) {
			for (size_t i = 0; i < w->n; i++)
				check_page(w->order[i], w->zero);
			continue;
		}
		if (timed_pass(w, lat, &last, &jump_at, &jump_len)) {
			measuring = 1;
			continue; /* the next pass is the first whole one after it */
		}
		uint64_t now = now_ns();
		if (measuring) {
			report(lat, w->n, now - jump_at, jump_len);
			measuring = 0;
			first_after = 1;
		}
		if (first_after || now - printed >= PASS_MS * 1000000ull) {
			say("pass %d %lu", getpid(), pass);
			printed = now;
			first_after = 0;
		}
	}
	return NULL;
}

static void run(unsigned zero, uint64_t salt)
{
	static struct walker ws[MAX_THREADS];
	size_t per = ps.nhot / ps.threads + 1;

	for (unsigned t = 0; t < ps.threads; t++) {
		ws[t] = (struct walker){ .id = t, .zero = zero, .rng = mix64(salt + t) };
		ws[t].order = malloc(per * sizeof(size_t));
		if (ws[t].order == NULL)
			fail_errno("malloc");
		for (size_t i = t; i < ps.nhot; i += ps.threads)
			ws[t].order[ws[t].n++] = ps.hot[i];
	}
	for (unsigned t = 1; t < ps.threads; t++) {
		pthread_t th;
		if (ws[t].n > 0 && pthread_create(&th, NULL, walk, &ws[t]) != 0)
			fail("pthread_create");
	}
	walk(&ws[0]);
}

int main(int argc, char **argv)
{
	if (argc != 6)
		usage(USAGE);
	unsigned long mib = parse_count(argv[1], USAGE);
	unsigned long hot = parse_count(argv[2], USAGE);
	unsigned long zero = parse_u64(argv[3], USAGE);
	unsigned long threads = parse_count(argv[4], USAGE);
	unsigned long procs = parse_count(argv[5], USAGE);
	if (hot > 100 || zero > 100 || threads > MAX_THREADS || procs > MAX_PROCS)
		usage(USAGE);
	unsigned long idx = 0;
	for (unsigned long i = 1; i < procs; i++) {
		pid_t p = fork();
		if (p < 0)
			fail_errno("fork");
		if (p == 0) {
			idx = i;
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
				fail_errno("prctl PR_SET_PDEATHSIG");
			break;
		}
	}
	ps.pages = (size_t)(mib / procs > 0 ? mib / procs : 1) * PAGES_PER_MIB;
	ps.seed = mix64(idx + 1);
	ps.threads = (unsigned)threads;
	fill((unsigned)zero);
	pick_hot((unsigned)hot);
	say("ready %d %zu", getpid(), ps.pages);
	run((unsigned)zero, ps.seed ^ (uint64_t)getpid());
	return 0;
}
