/*
 * tree: a victim that is a process tree with the hard parts of one.
 *
 * The root is a child subreaper and forks:
 *   Z  exits at once with status 7; the root leaves it a zombie
 *   S  counts; the root stops it with SIGSTOP; a SIGCONT handler says "s cont"
 *   L  starts a session (setsid), forks G and exits; the root reaps L, so G
 *      is reparented to the root and lives in a session and process group
 *      whose leader is gone. G sets its parent-death signal to SIGUSR2.
 *   W  cloned with CLONE_FILES|CLONE_FS: it shares the root's descriptor
 *      table and working directory. Every tick the root dups a descriptor
 *      and changes directory, and W checks it sees both.
 *
 * The processes talk with queued signals and their payloads (sigqueue), so
 * that the victim holds no descriptor but its stdio: G tells the root its
 * pid, the root asks W about a descriptor and a directory, W answers.
 * The root checks on every tick that Z is still a zombie with status 7, that
 * G is in session and group L with the root as parent, and that W answered;
 * on SIGUSR1 it reaps Z.
 *
 * Output:
 *   ready <root pid> z=<pid> s=<pid> l=<pid> g=<pid> w=<pid>
 *   tick <n> s=<state of S>                   every TICK_MS, all checks passed
 *   s cont                                    S got SIGCONT
 *   reaped <pid> status <n>                   after SIGUSR1
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define TICK_MS 100
#define W_STACK (256 * 1024)

static volatile sig_atomic_t got_usr1, got_cont;

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }
static void on_cont(int sig) { (void)sig; got_cont = 1; }

static pid_t must_fork(void)
{
	pid_t p = fork();

	if (p < 0)
		fail_errno("fork");
	return p;
}

#define SIG_G_HELLO (SIGRTMIN + 2) /* G to the root: value = G's pid */
#define SIG_PROBE (SIGRTMIN)        /* root to W: value = fd << 1 | dir index */
#define SIG_ANSWER (SIGRTMIN + 1)   /* W to the root: value = 1 if all is shared */
#define SIG_S_READY (SIGRTMIN + 3) /* S to the root: its SIGCONT handler is set */

static void stopped_child(pid_t root)
{
	struct sigaction sa = { .sa_handler = on_cont };
	unsigned long n = 0;

	if (sigaction(SIGCONT, &sa, NULL) != 0)
		fail_errno("sigaction SIGCONT");
	if (sigqueue(root, SIG_S_READY, (union sigval){ 0 }) != 0)
		fail_errno("sigqueue ready");
	for (;;) {
		sleep_ms(TICK_MS);
		n++;
		if (got_cont) {
			got_cont = 0;
			say("s cont %lu", n);
		}
	}
}


static const char *dirs[] = { "/", "/tmp" };

static void grandchild(pid_t root, pid_t l)
{
	union sigval v = { .sival_int = getpid() };

	while (getppid() != root)
		sleep_ms(5);
	if (prctl(PR_SET_PDEATHSIG, SIGUSR2) != 0)
		fail_errno("PR_SET_PDEATHSIG");
	if (sigqueue(root, SIG_G_HELLO, v) != 0)
		fail_errno("sigqueue hello");
	for (;;) {
		int sig;

		if (getsid(0) != l || getpgrp() != l || getppid() != root)
			fail("g: sid %d pgid %d ppid %d, want %d %d %d", getsid(0), getpgrp(), getppid(), l, l, root);
		if (prctl(PR_GET_PDEATHSIG, &sig) != 0 || sig != SIGUSR2)
			fail("g: parent-death signal %d", sig);
		sleep_ms(TICK_MS);
	}
}

/* wait_value waits for sig (blocked) and returns its payload. */
static int wait_value(int sig)
{
	sigset_t set;
	siginfo_t si;

	sigemptyset(&set);
	sigaddset(&set, sig);
	while (sigwaitinfo(&set, &si) != sig)
		if (errno != EINTR)
			fail_errno("sigwaitinfo");
	return si.si_value.sival_int;
}

static int shared_child(void *arg)
{
	pid_t root = *(pid_t *)arg;

	for (;;) {
		int probe = wait_value(SIG_PROBE);
		char cwd[64];
		union sigval ok;

		ok.sival_int = fcntl(probe >> 1, F_GETFD) >= 0 && getcwd(cwd, sizeof(cwd)) != NULL &&
			       strcmp(cwd, dirs[probe & 1]) == 0;
		if (sigqueue(root, SIG_ANSWER, ok) != 0)
			fail_errno("w: sigqueue");
	}
	return 0;
}

static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

static void check_zombie(pid_t z)
{
	siginfo_t si = { 0 };

	if (waitid(P_PID, z, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		fail_errno("waitid zombie");
	if (si.si_pid != z || si.si_code != CLD_EXITED || si.si_status != 7)
		fail("zombie %d: pid %d code %d status %d", z, si.si_pid, si.si_code, si.si_status);
}

static void check_shared(pid_t w, unsigned long n)
{
	union sigval probe;
	int fd;

	if (chdir(dirs[n % 2]) != 0)
		fail_errno("chdir");
	fd = dup(1);
	if (fd < 0)
		fail_errno("dup");
	probe.sival_int = fd << 1 | (int)(n % 2);
	if (sigqueue(w, SIG_PROBE, probe) != 0)
		fail_errno("sigqueue probe");
	if (!wait_value(SIG_ANSWER))
		fail("w does not share the descriptor table or the working directory");
	close(fd);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	static pid_t root;
	pid_t z, s, l, g, w;
	sigset_t set;
	char *stack;
	unsigned long n;
	int st;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		fail_errno("PR_SET_CHILD_SUBREAPER");
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction");
	/* Blocked in every process (children inherit the mask) so that they
	 * queue until someone waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIG_G_HELLO);
	sigaddset(&set, SIG_S_READY);
	sigaddset(&set, SIG_PROBE);
	sigaddset(&set, SIG_ANSWER);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fail_errno("sigprocmask");
	root = getpid();

	if ((z = must_fork()) == 0)
		_exit(7);
	if ((s = must_fork()) == 0)
		stopped_child(root);
	if ((l = must_fork()) == 0) {
		pid_t self = getpid();

		if (setsid() < 0)
			fail_errno("setsid");
		if (must_fork() == 0)
			grandchild(root, self);
		_exit(0);
	}
	if (waitpid(l, &st, 0) != l)
		fail_errno("waitpid l");
	g = wait_value(SIG_G_HELLO);

	stack = malloc(W_STACK);
	if (stack == NULL)
		fail_errno("malloc");
	w = clone(shared_child, stack + W_STACK, CLONE_FILES | CLONE_FS | SIGCHLD, &root);
	if (w < 0)
		fail_errno("clone");

	wait_value(SIG_S_READY); /* stop S only once its handler is set */
	if (kill(s, SIGSTOP) != 0)
		fail_errno("kill SIGSTOP");
	while (proc_state(s) != 'T')
		sleep_ms(5);
	say("ready %d z=%d s=%d l=%d g=%d w=%d", root, z, s, l, g, w);

	for (n = 1;; n++) {
		check_zombie(z);
		if (getsid(g) != l || getpgid(g) != l)
			fail("g %d: sid %d pgid %d, want %d", g, getsid(g), getpgid(g), l);
		check_shared(w, n);
		say("tick %lu s=%c", n, proc_state(s));
		sleep_ms(TICK_MS);
		if (got_usr1) {
			got_usr1 = 0;
			if (waitpid(z, &st, 0) != z)
				fail_errno("waitpid zombie");
			say("reaped %d status %d", z, WEXITSTATUS(st));
			for (;;)
				pause();
		}
	}
}
