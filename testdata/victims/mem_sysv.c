/*
 * mem_sysv: a process holding System V shared memory (shmget, shmat),
 * which crlazy refuses to dump. It counts in the segment, so that a test
 * can see it go on untouched after the refusal.
 *
 * Output:
 *   ready <pid>
 *   tick <n>       every TICK_MS
 *   FAIL ...
 */
#include "victim.h"

#include <sys/ipc.h>
#include <sys/shm.h>

#define TICK_MS 50

int main(void)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

	if (id < 0)
		fail_errno("shmget");
	volatile uint64_t *seg = shmat(id, NULL, 0);
	if (seg == (void *)-1)
		fail_errno("shmat");
	if (shmctl(id, IPC_RMID, NULL) != 0) /* gone once detached */
		fail_errno("shmctl");
	say("ready %d", getpid());
	for (uint64_t n = 1;; n++) {
		seg[0] = n;
		say("tick %llu", (unsigned long long)seg[0]);
		sleep_ms(TICK_MS);
	}
}
