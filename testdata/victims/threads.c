/*
 * threads: a victim whose state is mostly per-thread state.
 *
 * NWORKERS workers each keep, and check on every round:
 *   a __thread variable (TLS through fs_base) with a value of their own,
 *   their own SSE/x87 rounding mode (MXCSR and the x87 control word), with
 *   a floating-point accumulator computed in it,
 *   their own name (pthread_setname_np), alternate signal stack and
 *   blocked mask.
 * Worker 0 also has a signal pending for itself alone (SIG_THREAD, with
 * payload THREAD_VALUE), which it takes when told to.
 * Three more threads sit in a system call across the checkpoint: one in
 * futex wait on a word, one in nanosleep, one in sigwaitinfo for SIG_WAKE.
 * The process has two signals pending for it (SIG_SHARED, payloads 111
 * and 222), blocked in every thread.
 *
 * SIGUSR1 asks the main thread to wake the futex waiter and the signal
 * waiter, take the two process-wide signals and have worker 0 take its own.
 *
 * Output:
 *   ready <pid>
 *   tick <n> <min rounds over the workers>          every TICK_MS
 *   futex woke
 *   sigwait woke <value>
 *   shared <v1> <v2>
 *   thread-signal <value>
 *   FAIL ...
 */
#include "victim.h"

#include <fenv.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define NWORKERS 8
#define TICK_MS 100
#define ALTSTACK_SIZE (64 * 1024)
#define SIG_SHARED (SIGRTMIN + 1)
#define SIG_THREAD (SIGRTMIN + 2)
#define SIG_WAKE (SIGRTMIN + 3)
#define THREAD_VALUE 777

static const int modes[] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };

static __thread unsigned long tls_value;
static atomic_ulong rounds[NWORKERS];
static atomic_int phase;     /* 1: worker 0 takes its signal */
static atomic_int futex_word;
static pthread_t workers[NWORKERS];
static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

static int futex(atomic_int *word, int op, int val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* The accumulator is computed with the thread's rounding mode, so a thread
 * running with another's MXCSR gets another value. */
static double accumulate(int idx)
{
	volatile double x = 1.0 + idx;
	int i;

	for (i = 0; i < 1000; i++)
		x = x / 3.0 * 3.0 + 1e-9;
	return x;
}

static int take_signal(int sig)
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

static void *worker(void *arg)
{
	int idx = (int)(long)arg;
	unsigned long want = 0x1000 + idx * 7919;
	char name[16], got[16];
	stack_t ss = { .ss_size = ALTSTACK_SIZE }, cur;
	sigset_t mask, curmask;
	double ref;

	snprintf(name, sizeof(name), "worker%d", idx);
	if (pthread_setname_np(pthread_self(), name) != 0)
		fail("setname");
	ss.ss_sp = malloc(ALTSTACK_SIZE);
	if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0)
		fail_errno("sigaltstack");
	sigemptyset(&mask);
	sigaddset(&mask, SIGRTMIN + 4 + idx % 4);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		fail("pthread_sigmask");
	tls_value = want;
	fesetround(modes[idx % 4]);
	ref = accumulate(idx);
	for (;;) {
		if (tls_value != want)
			fail("worker %d: tls %#lx, want %#lx", idx, tls_value, want);
		if (fegetround() != modes[idx % 4])
			fail("worker %d: rounding mode %d, want %d", idx, fegetround(), modes[idx % 4]);
		if (accumulate(idx) != ref)
			fail("worker %d: accumulator changed", idx);
		if (pthread_getname_np(pthread_self(), got, sizeof(got)) != 0 || strcmp(got, name) != 0)
			fail("worker %d: name %s", idx, got);
		if (sigaltstack(NULL, &cur) != 0 || cur.ss_sp != ss.ss_sp || cur.ss_size != ss.ss_size)
			fail("worker %d: alternate stack moved", idx);
		if (pthread_sigmask(SIG_BLOCK, NULL, &curmask) != 0 || !sigismember(&curmask, SIGRTMIN + 4 + idx % 4))
			fail("worker %d: mask lost", idx);
		if (idx == 0 && atomic_load(&phase) == 1) {
			atomic_store(&phase, 2);
			say("thread-signal %d", take_signal(SIG_THREAD));
		}
		atomic_fetch_add(&rounds[idx], 1);
		sleep_ms(10);
	}
	return NULL;
}

static void *futex_waiter(void *arg)
{
	(void)arg;
	while (atomic_load(&futex_word) == 0)
		if (futex(&futex_word, FUTEX_WAIT_PRIVATE, 0) != 0 && errno != EAGAIN && errno != EINTR)
			fail_errno("futex wait");
	say("futex woke");
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = { .tv_sec = 3600 };

		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *signal_waiter(void *arg)
{
	(void)arg;
	say("sigwait woke %d", take_signal(SIG_WAKE));
	return NULL;
}

static void start(void *(*fn)(void *), void *arg, pthread_t *out)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, arg) != 0)
		fail("pthread_create");
	if (out != NULL)
		*out = t;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	union sigval v;
	sigset_t set;
	pthread_t waiter;
	unsigned long n;
	int i;

	sigemptyset(&set);
	sigaddset(&set, SIG_SHARED);
	sigaddset(&set, SIG_THREAD);
	sigaddset(&set, SIG_WAKE);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fail_errno("sigprocmask");
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction");
	for (i = 0; i < NWORKERS; i++)
		start(worker, (void *)(long)i, &workers[i]);
	start(futex_waiter, NULL, NULL);
	start(sleeper, NULL, NULL);
	start(signal_waiter, NULL, &waiter);
	v.sival_int = 111;
	if (sigqueue(getpid(), SIG_SHARED, v) != 0)
		fail_errno("sigqueue");
	v.sival_int = 222;
	if (sigqueue(getpid(), SIG_SHARED, v) != 0)
		fail_errno("sigqueue");
	v.sival_int = THREAD_VALUE;
	if (pthread_sigqueue(workers[0], SIG_THREAD, v) != 0)
		fail("pthread_sigqueue");
	say("ready %d", getpid());

	for (n = 1;; n++) {
		unsigned long least = (unsigned long)-1;

		sleep_ms(TICK_MS);
		for (i = 0; i < NWORKERS; i++)
			if (atomic_load(&rounds[i]) < least)
				least = atomic_load(&rounds[i]);
		say("tick %lu %lu", n, least);
		if (got_usr1) {
			int a, b;

			got_usr1 = 0;
			atomic_store(&futex_word, 1);
			futex(&futex_word, FUTEX_WAKE_PRIVATE, 1);
			v.sival_int = 4242;
			if (pthread_sigqueue(waiter, SIG_WAKE, v) != 0)
				fail("pthread_sigqueue");
			a = take_signal(SIG_SHARED);
			b = take_signal(SIG_SHARED);
			say("shared %d %d", a, b);
			atomic_store(&phase, 1);
		}
	}
}
