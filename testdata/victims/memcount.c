/*
 * memcount MIB: a memory-heavy victim that checks its own memory.
 * memcount --expect COUNTER MIB: prints the checksum a run has at COUNTER.
 *
 * It fills a region of MIB MiB (see memregion.h) and then loops: each step
 * increments the counter, rewrites a few pages with a new generation and
 * verifies a rolling slice, so the whole region is verified every few
 * seconds. A linked list of LIST_NODES malloc'd nodes of varied sizes is
 * walked and checked on each tick, and one node is replaced.
 *
 * Output (one line each, flushed):
 *   ready <pid>                                   after the region is filled
 *   tick <counter> <checksum:16 hex> <verified>   every TICK_MS
 *   full <counter> <checksum:16 hex> <verified>   after a SIGUSR1 (everything checked)
 *   expect <counter> <checksum:16 hex>            --expect mode only, then exit 0
 *   FAIL ...                                      corruption found, exit 2
 * <verified> counts the pages verified so far. The checksum at a given counter
 * depends on MIB and the counter only, so `--expect` can confirm a tick line.
 */
#include "memregion.h"

#include <signal.h>

#define USAGE "memcount MIB | memcount --expect COUNTER MIB"
#define TICK_MS 100u
#define LIST_NODES 1024u
#define LIST_MIN_PAYLOAD 16u
#define LIST_MAX_PAYLOAD 2048u

struct node {
	struct node *next;
	uint32_t idx;
	uint32_t gen;
	uint32_t len;
	uint64_t check;
	unsigned char payload[];
};

static volatile sig_atomic_t full_requested;

static void on_usr1(int sig)
{
	(void)sig;
	full_requested = 1;
}

static uint64_t node_seed(uint32_t idx, uint32_t gen)
{
	return mix64(((uint64_t)idx << 32 | gen) ^ REGION_SEED);
}

static unsigned char node_byte(uint64_t seed, uint32_t j)
{
	return (unsigned char)((seed >> ((j % 8) * 8)) ^ j);
}

static struct node *node_new(uint32_t idx, uint32_t gen)
{
	uint64_t seed = node_seed(idx, gen);
	uint32_t len = LIST_MIN_PAYLOAD + (uint32_t)(seed % LIST_MAX_PAYLOAD);
	struct node *n = malloc(sizeof(*n) + len);

	if (n == NULL)
		fail_errno("malloc node");
	n->next = NULL;
	n->idx = idx;
	n->gen = gen;
	n->len = len;
	n->check = seed;
	for (uint32_t j = 0; j < len; j++)
		n->payload[j] = node_byte(seed, j);
	return n;
}

static void node_check(const struct node *n, uint32_t idx)
{
	uint64_t seed = node_seed(idx, n->gen);

	if (n->idx != idx || n->check != seed)
		fail("list node %u: idx %u check %016llx", idx, n->idx, (unsigned long long)n->check);
	if (n->len != LIST_MIN_PAYLOAD + (uint32_t)(seed % LIST_MAX_PAYLOAD))
		fail("list node %u: len %u", idx, n->len);
	for (uint32_t j = 0; j < n->len; j++)
		if (n->payload[j] != node_byte(seed, j))
			fail("list node %u: payload byte %u is %02x", idx, j, n->payload[j]);
}

static struct node *list_new(void)
{
	struct node *head = NULL;

	for (uint32_t i = LIST_NODES; i > 0; i--) {
		struct node *n = node_new(i - 1, 0);

		n->next = head;
		head = n;
	}
	return head;
}

static void list_check(const struct node *head)
{
	uint32_t i = 0;

	for (const struct node *n = head; n != NULL; n = n->next, i++) {
		if (i >= LIST_NODES)
			fail("list longer than %u nodes", LIST_NODES);
		node_check(n, i);
	}
	if (i != LIST_NODES)
		fail("list has %u nodes, want %u", i, LIST_NODES);
}

/* list_replace swaps node idx for a fresh allocation of the next generation. */
static void list_replace(struct node **head, uint32_t idx)
{
	struct node **link = head;

	while ((*link)->idx != idx)
		link = &(*link)->next;
	struct node *old = *link;
	struct node *n = node_new(idx, old->gen + 1);

	n->next = old->next;
	*link = n;
	free(old);
}

static void install_usr1(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction SIGUSR1");
}

static void print_state(const char *what, const struct region *r)
{
	say("%s %llu %016llx %llu", what, (unsigned long long)r->step,
	    (unsigned long long)r->sum, (unsigned long long)r->verified);
}

static void run(unsigned long mib)
{
	struct region r;
	struct node *head = list_new();
	uint64_t ticks = 0, next_tick;

	install_usr1();
	region_init(&r, mib, 1);
	say("ready %d", (int)getpid());
	next_tick = now_ns() + TICK_MS * 1000000ull;
	for (;;) {
		region_step(&r);
		if (full_requested) {
			full_requested = 0;
			region_check_all(&r);
			list_check(head);
			print_state("full", &r);
		}
		uint64_t now = now_ns();
		if (now < next_tick)
			continue;
		next_tick += TICK_MS * 1000000ull;
		if (next_tick <= now) /* a long stop, e.g. between dump and restore */
			next_tick = now + TICK_MS * 1000000ull;
		list_check(head);
		list_replace(&head, (uint32_t)(ticks++ % LIST_NODES));
		print_state("tick", &r);
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--expect") == 0) {
		uint64_t steps = parse_u64(argv[2], USAGE);
		unsigned long mib = parse_count(argv[3], USAGE);

		say("expect %llu %016llx", (unsigned long long)steps,
		    (unsigned long long)region_expect(mib, steps));
		return 0;
	}
	if (argc != 2)
		usage(USAGE);
	run(parse_count(argv[1], USAGE));
	return 0;
}
