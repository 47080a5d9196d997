/*
 * fd_epoll: an event loop over epoll, the way servers are written, for
 * checking that epoll, eventfd, timerfd and signalfd come back whole.
 *
 * One epoll instance watches (each with its own 64-bit tag as data):
 *   tfd   a periodic CLOCK_MONOTONIC timerfd, every TICK_MS
 *   wake  an eventfd (level-triggered): on every tick the loop writes
 *         WAKE_ADD to it, and reading it must give exactly WAKE_ADD
 *   sfd   a signalfd for SIGUSR1 (blocked), registered edge-triggered
 * Two eventfds stay out of epoll:
 *   sem   in semaphore mode, preloaded with SEM_START: every tick reads 1
 *   big   holding BIG_COUNT (above 2^32), checked on SIGUSR1
 *
 * Output:
 *   ready <pid>
 *   tick <n> <ms>            n counts timer expirations; ms is CLOCK_MONOTONIC
 *   signal ok <n>            SIGUSR1 arrived through the signalfd and big,
 *                            sem, and the pipe of state all check out
 *   FAIL ...
 */
#include "victim.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#define TICK_MS 50
#define WAKE_ADD 3
#define SEM_START 1000000
#define BIG_COUNT ((1ULL << 40) + 5)
#define TAG(n) (0x7a6b5c4d00000000ULL | (n))

enum { T_TIMER = 1, T_WAKE, T_SIG };

static uint64_t read_u64(int fd, const char *what)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		fail_errno(what);
	return v;
}

static void write_u64(int fd, uint64_t v, const char *what)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		fail_errno(what);
}

static void watch(int ep, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		fail_errno("epoll_ctl");
}

int main(void)
{
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L }, .it_value = { 0, TICK_MS * 1000000L } };
	struct epoll_event evs[4];
	uint64_t ticks = 0, sem_reads = 0;
	sigset_t mask;
	int ep, tfd, wake, sfd, sem, big;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
		fail_errno("sigprocmask");
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	sem = eventfd(SEM_START, EFD_CLOEXEC | EFD_SEMAPHORE);
	big = eventfd(0, EFD_CLOEXEC);
	if (ep < 0 || tfd < 0 || wake < 0 || sfd < 0 || sem < 0 || big < 0)
		fail_errno("create");
	write_u64(big, BIG_COUNT, "write big");
	if (timerfd_settime(tfd, 0, &its, NULL) != 0)
		fail_errno("timerfd_settime");
	watch(ep, tfd, EPOLLIN, TAG(T_TIMER));
	watch(ep, wake, EPOLLIN, TAG(T_WAKE));
	watch(ep, sfd, EPOLLIN | EPOLLET, TAG(T_SIG));
	say("ready %d", (int)getpid());
	for (;;) {
		int n = epoll_wait(ep, evs, 4, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail_errno("epoll_wait");
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG(T_TIMER)) {
				ticks += read_u64(tfd, "read timerfd");
				if (read_u64(sem, "read sem") != 1)
					fail("semaphore eventfd read more than 1");
				sem_reads++;
				write_u64(wake, WAKE_ADD, "write wake");
				say("tick %llu %llu", (unsigned long long)ticks, (unsigned long long)(now_ns() / 1000000));
			} else if (tag == TAG(T_WAKE)) {
				uint64_t v = read_u64(wake, "read wake");

				if (v != WAKE_ADD)
					fail("wake eventfd held %llu, want %d", (unsigned long long)v, WAKE_ADD);
			} else if (tag == TAG(T_SIG)) {
				struct signalfd_siginfo si;
				uint64_t b;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo != SIGUSR1)
						fail("signalfd gave signal %u", si.ssi_signo);
					b = read_u64(big, "read big");
					if (b != BIG_COUNT)
						fail("big eventfd held %llu", (unsigned long long)b);
					write_u64(big, b, "write big");
					say("signal ok %llu", (unsigned long long)sem_reads);
				}
			} else {
				fail("epoll gave unknown data %#llx", (unsigned long long)tag);
			}
		}
	}
}
