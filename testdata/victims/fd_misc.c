/*
 * fd_misc: the descriptor kinds a daemon keeps beside its event loop.
 *   FIFO     "fifo" in the working directory, open for reading and for
 *            writing (non-blocking), holding FIFO_MSG unread
 *   inotify  watching the working directory for IN_CREATE; a watch made
 *            and removed first, so that the watch descriptor is not 1
 *   timerfd  a CLOCK_REALTIME timer armed TFD_TIMER_ABSTIME |
 *            TFD_TIMER_CANCEL_ON_SET for ABS_SEC seconds after start
 * It waits in poll() on the inotify descriptor.
 *
 * Output:
 *   ready <pid> wd <wd>
 *   event <wd> <name>            a file was created in the directory
 *   state fifo ok abs <ms>       on SIGUSR1: the FIFO held FIFO_MSG (put
 *                                back), the timer expires at <ms> (ms
 *                                since the epoch)
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#define FIFO_NAME "fifo"
#define FIFO_MSG "bytes waiting in a FIFO"
#define ABS_SEC 3600
#define POLL_MS 100

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

static void report(int rfd, int wfd, int tfd)
{
	char buf[sizeof(FIFO_MSG) + 16];
	struct itimerspec left;
	struct timespec now;
	ssize_t n = read(rfd, buf, sizeof(buf));

	if (n != (ssize_t)strlen(FIFO_MSG) || memcmp(buf, FIFO_MSG, n) != 0)
		fail("the FIFO held %zd bytes, not the message", n);
	if (write(wfd, FIFO_MSG, strlen(FIFO_MSG)) != (ssize_t)strlen(FIFO_MSG))
		fail_errno("write fifo");
	if (timerfd_gettime(tfd, &left) != 0 || clock_gettime(CLOCK_REALTIME, &now) != 0)
		fail_errno("timerfd_gettime");
	if (left.it_value.tv_sec == 0 && left.it_value.tv_nsec == 0)
		fail("the absolute timer is disarmed");
	/* The expiry in milliseconds: now + time left, read a few µs apart. */
	say("state fifo ok abs %lld", (long long)(now.tv_sec + left.it_value.tv_sec) * 1000 +
		(now.tv_nsec + left.it_value.tv_nsec) / 1000000);
}

static void events(int in, int wd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(in, buf, sizeof(buf));

	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *ev = (struct inotify_event *)p;

		if (ev->wd != wd || !(ev->mask & IN_CREATE))
			fail("inotify event wd %d mask %#x, want wd %d IN_CREATE", ev->wd, ev->mask, wd);
		say("event %d %s", ev->wd, ev->len ? ev->name : "");
		p += sizeof(*ev) + ev->len;
	}
}

static void drain(int in)
{
	char buf[4096];

	while (read(in, buf, sizeof(buf)) > 0)
		;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct itimerspec abs = { { 0, 0 }, { 0, 0 } };
	int rfd, wfd, in, wd, tfd;

	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction");
	if (mkfifo(FIFO_NAME, 0600) != 0)
		fail_errno("mkfifo");
	rfd = open(FIFO_NAME, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	wfd = open(FIFO_NAME, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0 || wfd < 0)
		fail_errno("open fifo");
	if (write(wfd, FIFO_MSG, strlen(FIFO_MSG)) != (ssize_t)strlen(FIFO_MSG))
		fail_errno("write fifo");
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in < 0)
		fail_errno("inotify_init1");
	wd = inotify_add_watch(in, "/", IN_DELETE);
	if (wd < 0 || inotify_rm_watch(in, wd) != 0)
		fail_errno("inotify watch /");
	wd = inotify_add_watch(in, ".", IN_CREATE);
	if (wd < 0)
		fail_errno("inotify_add_watch");
	drain(in); /* the IN_IGNORED of the removed watch */
	tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	if (tfd < 0 || clock_gettime(CLOCK_REALTIME, &abs.it_value) != 0)
		fail_errno("timerfd_create");
	abs.it_value.tv_sec += ABS_SEC;
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &abs, NULL) != 0)
		fail_errno("timerfd_settime");
	say("ready %d wd %d", (int)getpid(), wd);
	for (;;) {
		struct pollfd pfd = { .fd = in, .events = POLLIN };

		if (poll(&pfd, 1, POLL_MS) < 0 && errno != EINTR)
			fail_errno("poll");
		if (pfd.revents & POLLIN)
			events(in, wd);
		if (got_usr1) {
			got_usr1 = 0;
			report(rfd, wfd, tfd);
		}
	}
}
