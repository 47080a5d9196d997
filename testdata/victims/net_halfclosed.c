/*
 * net_halfclosed: TCP connections in half-closed states, for
 * checkpointing them.
 *   It listens on 127.0.0.1 on a port the kernel picks and accepts two
 *   clients. To the first (A) it writes "bye-A\n" and shuts down writing
 *   (FIN_WAIT2 once acknowledged). From the second (B) it expects data
 *   and a FIN, which it leaves unread (CLOSE_WAIT) until A sends "go\n";
 *   then it reads B to its end, answers "reply-B <bytes>\n" on B and
 *   closes it.
 *
 * Output (one line each, flushed):
 *   ready <pid> port <port>
 *   half-closed         A is shut down, B's FIN has arrived, nothing read
 *   B <data> EOF        B's bytes, read after "go"
 *   done
 *   FAIL ...
 */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#define BUF_LEN 256

static int listen_lo(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		fail_errno("socket");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, len) != 0 || listen(fd, 4) != 0)
		fail_errno("bind/listen");
	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		fail_errno("getsockname");
	say("ready %d port %d", (int)getpid(), ntohs(sin.sin_port));
	return fd;
}

/* read_some reads once, retrying EINTR (a dump interrupts a blocked read). */
static ssize_t read_some(int fd, char *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);

		if (r >= 0 || errno != EINTR)
			return r;
	}
}

int main(void)
{
	int ln = listen_lo(), a, b;
	char buf[BUF_LEN];
	size_t have = 0;
	struct pollfd p;

	if ((a = accept(ln, NULL, NULL)) < 0)
		fail_errno("accept A");
	if (write(a, "bye-A\n", 6) != 6 || shutdown(a, SHUT_WR) != 0)
		fail_errno("write/shutdown A");
	if ((b = accept(ln, NULL, NULL)) < 0)
		fail_errno("accept B");
	p = (struct pollfd){ .fd = b, .events = POLLRDHUP };
	while (!(p.revents & POLLRDHUP))
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			fail_errno("poll B");
	say("half-closed");
	for (;;) {
		ssize_t r = read_some(a, buf, sizeof(buf));

		if (r <= 0)
			fail("A ended before \"go\" (%zd)", r);
		if (r >= 3 && memcmp(buf, "go\n", 3) == 0)
			break;
	}
	for (;;) {
		ssize_t r = read_some(b, buf + have, sizeof(buf) - 1 - have);

		if (r < 0)
			fail_errno("read B");
		if (r == 0)
			break;
		have += r;
	}
	buf[have] = 0;
	if (have > 0 && buf[have - 1] == '\n')
		buf[have - 1] = 0;
	say("B %s EOF", buf);
	dprintf(b, "reply-B %zu\n", have);
	close(b);
	say("done");
	for (;;)
		sleep_ms(1000);
}
