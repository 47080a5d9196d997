/*
 * unix_ext [dgram|stream]: a client whose UNIX socket is connected to a
 * server in its parent, for dumping the client alone (its peer is then
 * outside the dumped tree).
 *   dgram   (default) the parent P binds a datagram socket to "ext.sock"
 *           in the working directory; the child C connects a datagram
 *           socket to it.
 *   stream  P and C share a stream socketpair.
 * C sends a numbered record every TICK_MS ("<n>\n", n from 0); P reads
 * them, checks that they come 0, 1, 2, ... and reports. P outlives C (a
 * dump kills C; P reaps it and waits for records from a restored C).
 *
 * Output:
 *   ready <parent pid> <child pid>
 *   server got <n>              every record P checks
 *   client died                 P reaped C
 *   FAIL ...
 */
#include "victim.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define USAGE "unix_ext [dgram|stream]"
#define SOCK_NAME "ext.sock"
#define TICK_MS 20

static void client(int fd)
{
	char buf[32];

	for (unsigned long long n = 0;; n++) {
		int len = snprintf(buf, sizeof(buf), "%llu\n", n);
		if (send(fd, buf, (size_t)len, MSG_NOSIGNAL) != len)
			fail_errno("client send");
		sleep_ms(TICK_MS);
	}
}

/* serve reads records and checks their numbers; a stream may give
 * several at once or part of one. */
static void serve(int fd, pid_t child)
{
	char buf[4096], line[32];
	size_t have = 0;
	unsigned long long want = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int status;

		if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
			say("client died");
			child = 0;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) { /* the stream's other end is gone */
			sleep_ms(100);
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (have == sizeof(line) - 1)
				fail("record too long");
			line[have++] = buf[i];
			if (buf[i] != '\n')
				continue;
			line[have] = 0;
			if (strtoull(line, NULL, 10) != want)
				fail("server got %s after %llu", line, want - 1);
			say("server got %llu", want++);
			have = 0;
		}
	}
}

int main(int argc, char **argv)
{
	int fds[2];
	int dgram = argc < 2 || strcmp(argv[1], "dgram") == 0;

	if (argc > 2 || (!dgram && strcmp(argv[1], "stream") != 0))
		usage(USAGE);
	if (dgram) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = SOCK_NAME };

		fds[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
		fds[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
		unlink(SOCK_NAME);
		if (fds[0] < 0 || fds[1] < 0 || bind(fds[0], (struct sockaddr *)&sun, sizeof(sun)) != 0)
			fail_errno("bind " SOCK_NAME);
		if (connect(fds[1], (struct sockaddr *)&sun, sizeof(sun)) != 0)
			fail_errno("connect " SOCK_NAME);
	} else if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
		fail_errno("socketpair");
	}
	pid_t child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0) {
		close(fds[0]);
		client(fds[1]);
	}
	close(fds[1]);
	say("ready %d %d", (int)getpid(), (int)child);
	serve(fds[0], child);
}
