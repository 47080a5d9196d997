/*
 * seccomp: a victim that dropped capabilities and runs under seccomp
 * filters, and checks on every tick that all of it still holds.
 *
 *   capabilities: CAP_CHOWN and CAP_SYS_ADMIN dropped from the effective,
 *   permitted and bounding sets; no_new_privs set.
 *   process-wide filters (installed before any thread, so every thread has
 *   them, stacked):
 *     A  getpriority fails with ENOMSG; getitimer with EPERM (crlazy itself
 *        calls getitimer inside the process it dumps: it must get through)
 *     B  uname fails with EXDEV
 *   thread filter C, in the helper thread only: getcwd fails with ENOTSUP.
 *
 * Output:
 *   ready <pid>
 *   tick <n> ok                                every TICK_MS
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>

#define TICK_MS 100

/* A filter that fails syscalls nr[i] with errno err[i] and allows the rest
 * (the architecture is checked: x86_64 only). */
static void install(const int *nr, const int *err, int n)
{
	struct sock_filter prog[32];
	struct sock_fprog fprog = { .filter = prog };
	int k = 0, i;

	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (i = 0; i < n; i++) {
		prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr[i], 0, 1);
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err[i]);
	}
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	fprog.len = k;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
		fail_errno("seccomp");
}

static void drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	int i;

	if (syscall(SYS_capget, &h, d) != 0)
		fail_errno("capget");
	for (i = 0; i < 2; i++) {
		d[i].effective &= ~(i == 0 ? 1u << CAP_CHOWN | 1u << CAP_SYS_ADMIN : 0);
		d[i].permitted &= ~(i == 0 ? 1u << CAP_CHOWN | 1u << CAP_SYS_ADMIN : 0);
	}
	if (syscall(SYS_capset, &h, d) != 0)
		fail_errno("capset");
	if (prctl(PR_CAPBSET_DROP, CAP_CHOWN) != 0 || prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) != 0)
		fail_errno("PR_CAPBSET_DROP");
}

/* expect_errno checks that ret is -1 with errno want. */
static void expect_errno(const char *what, long ret, int want)
{
	if (ret != -1 || errno != want)
		fail("%s: returned %ld errno %d, want errno %d", what, ret, errno, want);
}

static void check_common(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	struct itimerval itv;
	struct utsname u;

	errno = 0;
	expect_errno("getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0), ENOMSG);
	expect_errno("getitimer", syscall(SYS_getitimer, ITIMER_REAL, &itv), EPERM);
	expect_errno("uname", syscall(SYS_uname, &u), EXDEV);
	expect_errno("chown", chown("file", 1, 1), EPERM);
	if (syscall(SYS_capget, &h, d) != 0)
		fail_errno("capget");
	if (d[0].effective & (1u << CAP_CHOWN | 1u << CAP_SYS_ADMIN))
		fail("capabilities came back: effective %#x", d[0].effective);
	if (prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) != 0)
		fail("CAP_CHOWN is back in the bounding set");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fail("no_new_privs lost: %d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
}

static atomic_ulong helper_rounds;

static void *helper(void *arg)
{
	static const int nr[] = { SYS_getcwd };
	static const int err[] = { ENOTSUP };
	char buf[64];

	(void)arg;
	install(nr, err, 1);
	for (;;) {
		check_common();
		expect_errno("getcwd in the helper", syscall(SYS_getcwd, buf, sizeof(buf)), ENOTSUP);
		atomic_fetch_add(&helper_rounds, 1);
		sleep_ms(TICK_MS / 2);
	}
	return NULL;
}

int main(void)
{
	static const int nr_a[] = { SYS_getpriority, SYS_getitimer };
	static const int err_a[] = { ENOMSG, EPERM };
	static const int nr_b[] = { SYS_uname };
	static const int err_b[] = { EXDEV };
	unsigned long n, seen = 0;
	char buf[256];
	pthread_t t;
	int fd;

	fd = open("file", O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		fail_errno("open");
	close(fd);
	drop_caps();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fail_errno("PR_SET_NO_NEW_PRIVS");
	install(nr_a, err_a, 2);
	install(nr_b, err_b, 1);
	if (pthread_create(&t, NULL, helper, NULL) != 0)
		fail("pthread_create");
	say("ready %d", getpid());
	for (n = 1;; n++) {
		check_common();
		if (getcwd(buf, sizeof(buf)) == NULL)
			fail_errno("getcwd in the main thread");
		sleep_ms(TICK_MS);
		if (atomic_load(&helper_rounds) == seen)
			fail("the helper thread stopped");
		seen = atomic_load(&helper_rounds);
		say("tick %lu ok", n);
	}
}
