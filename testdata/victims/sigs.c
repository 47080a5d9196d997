/*
 * sigs: a victim whose state is mostly signal state.
 *
 *   SIGUSR1  handler, SA_ONSTACK|SA_SIGINFO|SA_RESTART, sa_mask = {SIGHUP}
 *   SIGUSR2  blocked with sigprocmask (so one sent stays pending)
 *   SIGINT   ignored (SIG_IGN)
 *   an alternate signal stack of ALTSTACK_SIZE bytes from malloc
 *
 * The SIGUSR1 handler records whether it runs on the alternate stack and
 * whether its mask holds SIGHUP (sa_mask), SIGUSR1 (no SA_NODEFER) and SIGUSR2.
 * The main loop sleeps TICK_MS in nanosleep; after each loop it checks that
 * the mask, the dispositions and the alternate stack are unchanged, and after
 * a SIGUSR1 it reports what the handler saw.
 *
 * Output (one line each, flushed):
 *   ready <pid>
 *   tick <n>                         every TICK_MS
 *   handled onstack=<0|1> usr2blocked=<0|1> sigint-ignored=<0|1> count=<n> handlermask=<0|1> usr2pending=<0|1>
 *                                    after SIGUSR1; count = SIGUSR1s handled so far
 *   FAIL ...                         a check failed (after the handled line, if any field is 0;
 *                                    usr2pending is only reported)
 */
#include "victim.h"

#include <signal.h>

#define ALTSTACK_SIZE (64 * 1024)
#define TICK_MS 50
#define USR1_FLAGS (SA_ONSTACK | SA_SIGINFO | SA_RESTART)

static char *altstack;
static volatile sig_atomic_t handled, on_altstack, mask_ok;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	char local;
	uintptr_t a = (uintptr_t)&local;
	sigset_t cur;

	(void)uc;
	on_altstack = a >= (uintptr_t)altstack && a < (uintptr_t)altstack + ALTSTACK_SIZE;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	mask_ok = sig == SIGUSR1 && si->si_signo == SIGUSR1 && sigismember(&cur, SIGHUP) == 1 &&
		  sigismember(&cur, SIGUSR1) == 1 && sigismember(&cur, SIGUSR2) == 1;
	handled++;
}

static void setup(void)
{
	stack_t ss = { .ss_size = ALTSTACK_SIZE };
	struct sigaction sa;
	sigset_t usr2;

	altstack = malloc(ALTSTACK_SIZE);
	if (altstack == NULL)
		fail_errno("malloc altstack");
	ss.ss_sp = altstack;
	if (sigaltstack(&ss, NULL) != 0)
		fail_errno("sigaltstack");
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = USR1_FLAGS;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction SIGUSR1");
	if (signal(SIGINT, SIG_IGN) == SIG_ERR)
		fail_errno("signal SIGINT");
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &usr2, NULL) != 0)
		fail_errno("sigprocmask");
}

static int usr2_blocked(void)
{
	sigset_t cur;

	if (sigprocmask(SIG_SETMASK, NULL, &cur) != 0)
		fail_errno("sigprocmask query");
	return sigismember(&cur, SIGUSR2) == 1;
}

static int sigint_ignored(void)
{
	struct sigaction sa;

	if (sigaction(SIGINT, NULL, &sa) != 0)
		fail_errno("sigaction query SIGINT");
	return sa.sa_handler == SIG_IGN;
}

static int usr2_pending(void)
{
	sigset_t pend;

	if (sigpending(&pend) != 0)
		fail_errno("sigpending");
	return sigismember(&pend, SIGUSR2) == 1;
}

/* check_state FAILs if the handler, the alternate stack or the mask changed. */
static void check_state(void)
{
	struct sigaction sa;
	stack_t ss;

	if (sigaction(SIGUSR1, NULL, &sa) != 0)
		fail_errno("sigaction query SIGUSR1");
	if (sa.sa_sigaction != on_usr1 || (sa.sa_flags & USR1_FLAGS) != USR1_FLAGS ||
	    sigismember(&sa.sa_mask, SIGHUP) != 1)
		fail("SIGUSR1 action changed: flags %#x", (unsigned)sa.sa_flags);
	if (sigaltstack(NULL, &ss) != 0)
		fail_errno("sigaltstack query");
	if (ss.ss_sp != altstack || ss.ss_size != ALTSTACK_SIZE || (ss.ss_flags & SS_DISABLE))
		fail("alternate stack changed: sp %p size %zu flags %#x", ss.ss_sp, ss.ss_size,
		     (unsigned)ss.ss_flags);
	if (!usr2_blocked() || !sigint_ignored())
		fail("mask or SIGINT disposition changed: usr2blocked=%d sigint-ignored=%d",
		     usr2_blocked(), sigint_ignored());
}

static void report(void)
{
	int onstack = on_altstack, maskok = mask_ok, blocked = usr2_blocked(), ign = sigint_ignored();

	say("handled onstack=%d usr2blocked=%d sigint-ignored=%d count=%d handlermask=%d usr2pending=%d",
	    onstack, blocked, ign, (int)handled, maskok, usr2_pending());
	if (!onstack || !maskok || !blocked || !ign)
		fail("signal state after SIGUSR1: onstack=%d usr2blocked=%d sigint-ignored=%d handlermask=%d",
		     onstack, blocked, ign, maskok);
}

int main(void)
{
	sig_atomic_t seen = 0;

	setup();
	say("ready %d", (int)getpid());
	for (unsigned long long n = 1;;) {
		if (!sleep_ms(TICK_MS))
			say("tick %llu", n++);
		if (handled != seen) {
			seen = handled;
			report();
		}
		check_state();
	}
}
