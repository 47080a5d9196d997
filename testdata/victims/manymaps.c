/*
 * manymaps MAPS FDS: a victim with many small mappings and descriptors,
 * the shape of a JVM or a big server more than of a test program. It maps
 * MAPS one-page anonymous areas whose protections alternate (read-only,
 * read-write), so the kernel cannot merge neighbours, writes a known byte
 * into every writable one, and opens FDS descriptors of /dev/null. Then it
 * checks every writable page five times a second.
 *
 * Output (one line each, flushed):
 *   ready <pid> <maps> <fds>
 *   tick <n> <writable pages checked>
 *   FAIL ...   if a page lost its byte or a descriptor is gone
 */
#include "victim.h"

#include <fcntl.h>
#include <sys/mman.h>

#define USAGE "manymaps MAPS FDS"

int main(int argc, char **argv)
{
	if (argc != 3)
		usage(USAGE);
	size_t maps = parse_count(argv[1], USAGE);
	size_t fds = parse_count(argv[2], USAGE);
	unsigned char **area = calloc(maps, sizeof *area);
	int *fd = calloc(fds, sizeof *fd);
	if (area == NULL || fd == NULL)
		fail_errno("calloc");
	for (size_t i = 0; i < maps; i++) {
		int prot = (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ;
		area[i] = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area[i] == MAP_FAILED)
			fail_errno("mmap");
		if (i & 1)
			area[i][i % 4096] = (unsigned char)(i | 1);
	}
	for (size_t i = 0; i < fds; i++)
		if ((fd[i] = open("/dev/null", O_RDONLY)) < 0)
			fail_errno("open /dev/null");
	say("ready %d %zu %zu", getpid(), maps, fds);
	for (long n = 0;; n++) {
		size_t checked = 0;
		for (size_t i = 1; i < maps; i += 2, checked++)
			if (area[i][i % 4096] != (unsigned char)(i | 1))
				fail("area %zu at %p lost its byte", i, (void *)area[i]);
		for (size_t i = 0; i < fds; i++)
			if (fcntl(fd[i], F_GETFD) < 0)
				fail("descriptor %d is gone", fd[i]);
		say("tick %ld %zu", n, checked);
		usleep(200000);
	}
}
