/*
 * timers: a victim with interval timers and POSIX timers running.
 *
 *   ITIMER_REAL     every REAL_MS        (SIGALRM)
 *   ITIMER_VIRTUAL  every VIRT_MS of CPU (SIGVTALRM)
 *   ITIMER_PROF     every PROF_MS of CPU (SIGPROF)
 *   POSIX timers, created with the raw system call so that their ids are
 *   the kernel's; five in a row, the second and fourth deleted, leaving
 *     mono  CLOCK_MONOTONIC, SIG_MONO to the process, every MONO_MS,
 *           sival MONO_VALUE
 *     thr   CLOCK_REALTIME, SIG_THR to the ticker thread alone
 *           (SIGEV_THREAD_ID), every THR_MS, sival THR_VALUE
 *     none  CLOCK_MONOTONIC, SIGEV_NONE, one shot LONG_S seconds away
 *
 * The main thread burns CPU part of the time (for the CPU-time timers) and
 * reports the counts. The handlers check the payload and the timer id each
 * signal carries; the ticker thread checks that its signals come to it.
 *
 * Output:
 *   ids <mono> <thr> <none>
 *   ready <pid>
 *   tick <n> ms=<monotonic ms> real=<n> virt=<n> prof=<n> mono=<n> thr=<n> left=<ms of none>
 *   FAIL ...
 */
#include "victim.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define TICK_MS 200
#define BURN_MS 40
#define REAL_MS 20
#define VIRT_MS 10
#define PROF_MS 10
#define MONO_MS 25
#define THR_MS 40
#define LONG_S 3600
#define MONO_VALUE 0x1234
#define THR_VALUE 0x5678
#define SIG_MONO (SIGRTMIN + 1)
#define SIG_THR (SIGRTMIN + 2)

static atomic_ulong n_real, n_virt, n_prof, n_mono, n_thr;
static pid_t ticker_tid;
static int mono_id, thr_id;

static void on_itimer(int sig)
{
	if (sig == SIGALRM)
		atomic_fetch_add(&n_real, 1);
	else if (sig == SIGVTALRM)
		atomic_fetch_add(&n_virt, 1);
	else
		atomic_fetch_add(&n_prof, 1);
}

static void on_posix(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (si->si_code != SI_TIMER)
		fail("signal %d with code %d", sig, si->si_code);
	if (sig == SIG_MONO) {
		if (si->si_value.sival_int != MONO_VALUE || si->si_timerid != mono_id)
			fail("mono timer: value %#x id %d", si->si_value.sival_int, si->si_timerid);
		atomic_fetch_add(&n_mono, 1);
		return;
	}
	if (si->si_value.sival_int != THR_VALUE || si->si_timerid != thr_id)
		fail("thread timer: value %#x id %d", si->si_value.sival_int, si->si_timerid);
	if (syscall(SYS_gettid) != ticker_tid)
		fail("thread timer signal in thread %ld, want %d", (long)syscall(SYS_gettid), ticker_tid);
	atomic_fetch_add(&n_thr, 1);
}

static void handle(int sig, int posix)
{
	struct sigaction sa = { .sa_flags = SA_RESTART };

	if (posix) {
		sa.sa_sigaction = on_posix;
		sa.sa_flags |= SA_SIGINFO;
	} else {
		sa.sa_handler = on_itimer;
	}
	if (sigaction(sig, &sa, NULL) != 0)
		fail_errno("sigaction");
}

static int timer_new(clockid_t clock, struct sigevent *se)
{
	int id;

	if (syscall(SYS_timer_create, clock, se, &id) != 0)
		fail_errno("timer_create");
	return id;
}

static void timer_arm(int id, long first_ms, long every_ms)
{
	struct itimerspec v = {
		.it_value = { first_ms / 1000, first_ms % 1000 * 1000000L },
		.it_interval = { every_ms / 1000, every_ms % 1000 * 1000000L },
	};

	if (syscall(SYS_timer_settime, id, 0, &v, NULL) != 0)
		fail_errno("timer_settime");
}

static void itimer(int which, long ms)
{
	struct itimerval v = {
		.it_value = { 0, ms * 1000 },
		.it_interval = { 0, ms * 1000 },
	};

	if (setitimer(which, &v, NULL) != 0)
		fail_errno("setitimer");
}

/* The ticker thread only receives its timer's signals, which the other
 * threads block. */
static void *ticker(void *arg)
{
	sigset_t set;

	(void)arg;
	ticker_tid = syscall(SYS_gettid);
	sigemptyset(&set);
	sigaddset(&set, SIG_THR);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;)
		pause();
	return NULL;
}

static void burn(long ms)
{
	uint64_t end = now_ns() + ms * 1000000ULL;
	volatile uint64_t x = 0;

	while (now_ns() < end)
		x = mix64(x);
}

/* sleep_until sleeps to a CLOCK_MONOTONIC deadline, across signals. */
static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = { deadline_ns / 1000000000u, deadline_ns % 1000000000u };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static long left_ms(int id)
{
	struct itimerspec v;

	if (syscall(SYS_timer_gettime, id, &v) != 0)
		fail_errno("timer_gettime");
	return v.it_value.tv_sec * 1000 + v.it_value.tv_nsec / 1000000;
}

int main(void)
{
	struct sigevent se = { .sigev_notify = SIGEV_SIGNAL };
	pthread_t t;
	sigset_t set;
	unsigned long n;
	int dummy[2], none_id;

	handle(SIGALRM, 0);
	handle(SIGVTALRM, 0);
	handle(SIGPROF, 0);
	handle(SIG_MONO, 1);
	handle(SIG_THR, 1);
	sigemptyset(&set);
	sigaddset(&set, SIG_THR);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fail_errno("sigprocmask");
	if (pthread_create(&t, NULL, ticker, NULL) != 0)
		fail("pthread_create");
	while (ticker_tid == 0)
		sleep_ms(1);

	se.sigev_signo = SIG_MONO;
	se.sigev_value.sival_int = MONO_VALUE;
	mono_id = timer_new(CLOCK_MONOTONIC, &se);
	dummy[0] = timer_new(CLOCK_MONOTONIC, &se);
	se.sigev_notify = SIGEV_THREAD_ID;
	se._sigev_un._tid = ticker_tid;
	se.sigev_signo = SIG_THR;
	se.sigev_value.sival_int = THR_VALUE;
	thr_id = timer_new(CLOCK_REALTIME, &se);
	dummy[1] = timer_new(CLOCK_REALTIME, &se);
	se.sigev_notify = SIGEV_NONE;
	none_id = timer_new(CLOCK_MONOTONIC, &se);
	if (syscall(SYS_timer_delete, dummy[0]) != 0 || syscall(SYS_timer_delete, dummy[1]) != 0)
		fail_errno("timer_delete");
	say("ids %d %d %d", mono_id, thr_id, none_id);
	timer_arm(mono_id, MONO_MS, MONO_MS);
	timer_arm(thr_id, THR_MS, THR_MS);
	timer_arm(none_id, LONG_S * 1000L, 0);
	itimer(ITIMER_REAL, REAL_MS);
	itimer(ITIMER_VIRTUAL, VIRT_MS);
	itimer(ITIMER_PROF, PROF_MS);
	say("ready %d", getpid());

	for (n = 1;; n++) {
		uint64_t start = now_ns();

		burn(BURN_MS);
		sleep_until(start + TICK_MS * 1000000ULL);
		say("tick %lu ms=%llu real=%lu virt=%lu prof=%lu mono=%lu thr=%lu left=%ld", n,
		    (unsigned long long)(now_ns() / 1000000), atomic_load(&n_real),
		    atomic_load(&n_virt), atomic_load(&n_prof), atomic_load(&n_mono), atomic_load(&n_thr),
		    left_ms(none_id));
	}
}
