/*
 * tty_shell: a job started by a shell on its terminal, for --shell-job.
 *
 * Its standard descriptors are the terminal (the session's controlling
 * terminal, outside the tree). It turns ECHO off, then every TICK_MS
 * writes "tick <n> fg <0|1> echo <0|1>" (whether its group is the
 * terminal's foreground group; the ECHO flag) and answers every line it
 * reads on stdin with "got <line>".
 *
 * Output (on the terminal, lines end in \r\n):
 *   ready <pid>
 *   tick <n> fg <0|1> echo <0|1>
 *   got <line>
 *   FAIL ...
 */
#include "victim.h"

#include <poll.h>
#include <termios.h>

#define TICK_MS 100

int main(void)
{
	struct termios t;
	char line[256];
	size_t have = 0;
	uint64_t next = 0;

	for (int fd = 0; fd <= 2; fd++)
		if (!isatty(fd))
			fail("descriptor %d is not a terminal", fd);
	if (tcgetattr(0, &t) != 0)
		fail_errno("tcgetattr");
	t.c_lflag &= ~(tcflag_t)ECHO;
	if (tcsetattr(0, TCSANOW, &t) != 0)
		fail_errno("tcsetattr");
	say("ready %d", (int)getpid());
	for (unsigned long long n = 0;;) {
		struct pollfd p = { .fd = 0, .events = POLLIN };

		if (now_ns() >= next) {
			next = now_ns() + TICK_MS * 1000000ull;
			if (tcgetattr(0, &t) != 0)
				fail_errno("tcgetattr");
			say("tick %llu fg %d echo %d", n++, tcgetpgrp(0) == getpgrp(), (t.c_lflag & ECHO) != 0);
		}
		if (poll(&p, 1, TICK_MS / 2) <= 0)
			continue;
		ssize_t r = read(0, line + have, sizeof(line) - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("read the terminal: %zd %s", r, strerror(errno));
		have += (size_t)r;
		if (line[have - 1] != '\n' && have < sizeof(line) - 1)
			continue;
		line[have - 1] = 0;
		say("got %s", line);
		have = 0;
	}
}
