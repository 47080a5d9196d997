/*
 * demo MIB: the README's demo process. It fills MIB MiB of memory (see
 * memregion.h) and keeps rewriting and verifying it; about once a second,
 * once every page has been verified again since the previous line, it prints
 * its counter and the checksum of its memory.
 *
 * Output (one line each, flushed):
 *   ready <pid>
 *   counter=<n> checksum=<16 hex> (verified)
 *   FAIL ...                          memory corrupted, exit 2
 */
#include "memregion.h"

#define USAGE "demo MIB"
#define LINE_MS 1000u

int main(int argc, char **argv)
{
	struct region r;
	uint64_t next, last_verified = 0;

	if (argc != 2)
		usage(USAGE);
	region_init(&r, parse_count(argv[1], USAGE), 1);
	say("ready %d", (int)getpid());
	next = now_ns() + LINE_MS * 1000000ull;
	for (;;) {
		region_step(&r);
		if (now_ns() < next || r.verified - last_verified < r.npages)
			continue;
		last_verified = r.verified;
		next = now_ns() + LINE_MS * 1000000ull;
		say("counter=%llu checksum=%016llx (verified)", (unsigned long long)r.step,
		    (unsigned long long)r.sum);
	}
}
