/*
 * tty_pty: a pty inside the tree, like script(1) or a terminal emulator.
 *
 * The parent P opens a pty master, sets its window to ROWSxCOLS and forks
 * C, which starts a session, opens the slave (its controlling terminal),
 * turns ECHO off and answers each line "ping <n>" it reads with
 * "pong <n> ctty <0|1> fg <0|1> echo <0|1> win <rows>x<cols>": whether
 * /dev/tty opens (it has a controlling terminal), whether its group is
 * the terminal's foreground group, the ECHO flag and the window size.
 * P sends "ping <n>" and waits for its pong, sending it again after
 * RESEND_MS (bytes in flight in a pty are lost by a checkpoint), ignores
 * pongs of earlier pings and checks the rest: ctty 1 fg 1 echo 0 and the
 * window it set. It also checks that its slave keeps its number.
 *
 * Output:
 *   ready <pid> <child pid> <pty index>
 *   pty <n> ok <pty index>        every PRINT_EVERY pongs
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>

#define ROWS 33
#define COLS 77
#define RESEND_MS 200
#define PRINT_EVERY 20

static void child(const char *slave)
{
	char line[256], out[256];
	size_t have = 0;
	int fd;
	struct termios t;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || setsid() < 0)
		fail_errno("child: setsid");
	if ((fd = open(slave, O_RDWR)) < 0) /* a session leader's first terminal: its controlling one */
		fail_errno("child: open slave");
	if (tcgetattr(fd, &t) != 0)
		fail_errno("tcgetattr");
	t.c_lflag &= ~(tcflag_t)ECHO;
	if (tcsetattr(fd, TCSANOW, &t) != 0)
		fail_errno("tcsetattr");
	for (;;) {
		ssize_t n = read(fd, line + have, sizeof(line) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("child: read the slave: %zd %s", n, strerror(errno));
		have += (size_t)n;
		if (have == 0 || line[have - 1] != '\n')
			continue;
		line[have - 1] = 0;
		have = 0;
		unsigned long long k;
		if (sscanf(line, "ping %llu", &k) != 1)
			fail("child: read %s", line);
		int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
		struct winsize w = { 0 };
		ioctl(fd, TIOCGWINSZ, &w);
		tcgetattr(fd, &t);
		int len = snprintf(out, sizeof(out), "pong %llu ctty %d fg %d echo %d win %dx%d\n", k, tty >= 0,
				   tcgetpgrp(fd) == getpgrp(), (t.c_lflag & ECHO) != 0, w.ws_row, w.ws_col);
		if (tty >= 0)
			close(tty);
		if (write(fd, out, (size_t)len) != len)
			fail_errno("child: write");
	}
}

/*
 * check_pong checks one answer; it returns 1 if it answers ping cur. The
 * first pings may come back as their echo, before C turns ECHO off.
 */
static int check_pong(const char *line, unsigned long long cur)
{
	unsigned long long k;
	int ctty, fg, echo, rows, cols;

	if (cur == 0 && strncmp(line, "ping ", 5) == 0)
		return 0;
	if (sscanf(line, "pong %llu ctty %d fg %d echo %d win %dx%d", &k, &ctty, &fg, &echo, &rows, &cols) != 6)
		fail("parent: read %s", line);
	if (k > cur)
		fail("pong %llu before ping %llu was sent", k, k);
	if (k < cur)
		return 0; /* a ping sent twice */
	if (!ctty || !fg || echo || rows != ROWS || cols != COLS)
		fail("child's terminal: %s", line);
	return 1;
}

int main(void)
{
	/* Non-blocking: a read that the checkpoint interrupted is restarted,
	 * and if the bytes it was about to return were lost with the pty's
	 * queue it must not wait for them, but go on resending. */
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK), idx;
	struct winsize w = { .ws_row = ROWS, .ws_col = COLS };
	char buf[512];
	size_t have = 0;
	unsigned long long cur = 0;
	uint64_t sent = 0;

	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || ioctl(m, TIOCSWINSZ, &w) != 0 || ioctl(m, TIOCGPTN, &idx) != 0)
		fail_errno("open a pty");
	pid_t c = fork();
	if (c < 0)
		fail_errno("fork");
	if (c == 0)
		child(ptsname(m));
	say("ready %d %d %d", (int)getpid(), (int)c, idx);
	for (;;) {
		struct pollfd p = { .fd = m, .events = POLLIN };
		if (now_ns() - sent > RESEND_MS * 1000000ull) {
			char ping[32];
			int len = snprintf(ping, sizeof(ping), "ping %llu\n", cur);
			if (write(m, ping, (size_t)len) != len)
				fail_errno("write ping");
			sent = now_ns();
		}
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = read(m, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			fail_errno("read the master");
		have += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			*nl = 0;
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = 0;
			if (check_pong(buf, cur)) {
				int now;
				if (ioctl(m, TIOCGPTN, &now) != 0 || now != idx)
					fail("the pty is number %d, was %d", now, idx);
				if (++cur % PRINT_EVERY == 0)
					say("pty %llu ok %d", cur, now);
				sent = 0; /* ping the next one at once */
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
		}
	}
}
