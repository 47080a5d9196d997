/*
 * memshape PAGES: a victim whose memory has a known shape, for the FUSE
 * view of a store. It maps PAGES anonymous pages (with a guard page on
 * each side, so the kernel cannot merge the area with another) and:
 *   - fills page i with 64-bit words that hold their own address with the
 *     low bit set, except
 *   - pages with i % 8 == 7, which it writes and then zeroes (present but
 *     all zeros: a zero run in the store), and
 *   - pages with i % 64 in [32, 40), which it never touches (not present:
 *     never dumped).
 * It also maps its own executable privately and writable and changes one
 * word of its first page (a copied-on-write page of a file mapping).
 * Then it prints one line and waits in pause(), so its memory stays as
 * it is while a --leave-running dump and the test look at it.
 *
 * Output (one line, flushed):
 *   ready <pid> <area start, hex> <pages> <file mapping start, hex>
 */
#include "victim.h"

#include <fcntl.h>
#include <sys/mman.h>

#define USAGE "memshape PAGES"
#define PAGE 4096u
#define WORDS (PAGE / 8u)

static int untouched(size_t i)
{
	return i % 64 >= 32 && i % 64 < 40;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		usage(USAGE);
	size_t pages = parse_count(argv[1], USAGE);
	char *guarded = mmap(NULL, (pages + 2) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guarded == MAP_FAILED)
		fail_errno("mmap guard");
	uint64_t *mem = mmap(guarded + PAGE, pages * PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (mem == MAP_FAILED)
		fail_errno("mmap area");
	for (size_t i = 0; i < pages; i++) {
		if (untouched(i))
			continue;
		uint64_t *p = mem + i * WORDS;
		for (size_t j = 0; j < WORDS; j++)
			p[j] = ((uint64_t)(uintptr_t)&p[j]) | 1;
		if (i % 8 == 7)
			memset(p, 0, PAGE);
	}
	int fd = open("/proc/self/exe", O_RDONLY);
	if (fd < 0)
		fail_errno("open exe");
	uint64_t *file = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED)
		fail_errno("mmap exe");
	close(fd);
	file[1] = 0x5eed5eed5eed5eedULL;
	say("ready %d %llx %zu %llx", getpid(), (unsigned long long)(uintptr_t)mem, pages,
	    (unsigned long long)(uintptr_t)file);
	for (;;)
		pause();
}
