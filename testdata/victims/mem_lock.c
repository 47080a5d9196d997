/*
 * mem_lock: memory locked with mlock(2) stays locked (and intact) after
 * a restore. It locks a 1 MiB area filled with a pattern and checks it.
 *
 * Output:
 *   ready <pid> <area start, hex>
 *   tick <n>       every TICK_MS, once the pattern checks
 *   FAIL ...
 */
#include "victim.h"

#include <sys/mman.h>

#define TICK_MS 100
#define SIZE (1u << 20)

int main(void)
{
	unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail_errno("mmap");
	for (unsigned i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	if (mlock(p, SIZE) != 0)
		fail_errno("mlock");
	say("ready %d %lx", (int)getpid(), (unsigned long)p);
	for (unsigned long n = 1;; n++) {
		for (unsigned i = 0; i < SIZE; i++)
			if (p[i] != (unsigned char)(i * 7 + 3))
				fail("byte %u changed", i);
		say("tick %lu", n);
		sleep_ms(TICK_MS);
	}
}
