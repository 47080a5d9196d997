/*
 * mem_sysv: System V shared memory (shmget, shmat), as PostgreSQL uses
 * for its interlock segment. The parent P makes two segments: A, with
 * the key given as argument and mode 0640, and B, private and removed at
 * once (IPC_RMID: gone at the last detach). It fills B with a pattern,
 * forks C, and both attach A: C counts in A[1], P in A[0], and P checks
 * that C's count moves, that B still holds its pattern, and that
 * shmctl(IPC_STAT) on A's id still finds A with its key, mode and two
 * attachments.
 *
 * Output:
 *   ready <pid> <child pid> <A id> <B id>
 *   tick <n> child <m>       every TICK_MS, once the checks pass
 *   FAIL ...
 */
#include "victim.h"

#include <signal.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>

#define TICK_MS 50
#define B_WORDS 4096

static volatile uint64_t *attach(int id)
{
	volatile uint64_t *p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		fail_errno("shmat");
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		usage("mem_sysv KEY");
	key_t key = (key_t)strtol(argv[1], NULL, 0);
	int a = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0640);
	int b = shmget(IPC_PRIVATE, B_WORDS * 8, IPC_CREAT | 0600);
	if (a < 0 || b < 0)
		fail_errno("shmget");
	volatile uint64_t *pb = attach(b);
	if (shmctl(b, IPC_RMID, NULL) != 0)
		fail_errno("shmctl IPC_RMID");
	for (uint64_t i = 0; i < B_WORDS; i++)
		pb[i] = i * 0x9e3779b97f4a7c15ull;
	pid_t c = fork();
	if (c < 0)
		fail_errno("fork");
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		volatile uint64_t *pa = attach(a);
		for (;;) {
			pa[1]++;
			sleep_ms(10);
		}
	}
	volatile uint64_t *pa = attach(a);
	say("ready %d %d %d %d", (int)getpid(), (int)c, a, b);
	uint64_t last = 0;
	for (uint64_t n = 1;; n++) {
		pa[0] = n;
		sleep_ms(TICK_MS);
		for (uint64_t i = 0; i < B_WORDS; i++)
			if (pb[i] != i * 0x9e3779b97f4a7c15ull)
				fail("segment B word %llu changed", (unsigned long long)i);
		struct shmid_ds ds;
		if (shmctl(a, IPC_STAT, &ds) != 0)
			fail_errno("shmctl IPC_STAT");
		if (ds.shm_perm.__key != key || (ds.shm_perm.mode & 0777) != 0640 || ds.shm_nattch != 2)
			fail("segment A: key %#x mode %o nattch %lu", (unsigned)ds.shm_perm.__key,
			     (unsigned)ds.shm_perm.mode, (unsigned long)ds.shm_nattch);
		if (pa[1] == last)
			continue; /* the child did not run in this tick: try again */
		last = pa[1];
		say("tick %llu child %llu", (unsigned long long)n, (unsigned long long)last);
	}
}
