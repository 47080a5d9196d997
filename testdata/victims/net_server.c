/*
 * net_server [4|6] [pad] [raw]: a TCP server whose one connection
 * carries numbered lines both ways, for checkpointing a live connection.
 *   It listens on 127.0.0.1 (or ::1 with 6) on a port the kernel picks,
 *   accepts one client, then keeps sending "S<n>\n" (n = 0, 1, ...),
 *   TICK_MS apart, and reads the client's lines, which must be "C<m>\n"
 *   with m = 0, 1, ... in order. With pad each line is "S<n> " followed
 *   by PAD_LEN dots (so that a client that stops reading soon fills the
 *   connection). With raw it also holds a raw socket (opened after the
 *   connection), which a dump refuses.
 *
 * Output (one line each, flushed):
 *   ready <pid> port <port>
 *   accepted
 *   recv <m>          every REPORT_EVERY client lines
 *   FAIL ...          a line out of sequence, an error, EOF
 */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#define USAGE "net_server [4|6] [pad] [raw]"
#define TICK_MS 5
#define REPORT_EVERY 50
#define PAD_LEN 2000
#define LINE_MAX_LEN (PAD_LEN + 32)

static int listen_on(int family)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr *sa = (struct sockaddr *)&sin;
	socklen_t len = sizeof(sin);
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0)
		fail_errno("socket");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (family == AF_INET6) {
		sa = (struct sockaddr *)&sin6;
		len = sizeof(sin6);
	}
	if (bind(fd, sa, len) != 0)
		fail_errno("bind");
	if (listen(fd, 4) != 0)
		fail_errno("listen");
	if (getsockname(fd, sa, &len) != 0)
		fail_errno("getsockname");
	say("ready %d port %d", (int)getpid(),
	    ntohs(family == AF_INET6 ? sin6.sin6_port : sin.sin_port));
	return fd;
}

/* write_all writes n bytes, resuming after a short write (a dump that
 * interrupts a blocked write leaves one). */
static void write_all(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail_errno("write");
		b += w;
		n -= w;
	}
}

/* take_lines consumes the complete lines of buf, checking the sequence. */
static size_t take_lines(char *buf, size_t n, unsigned long *want)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		char *end;

		buf[i] = 0;
		if (buf[start] != 'C' || strtoul(buf + start + 1, &end, 10) != *want || *end != 0)
			fail("line %lu: got %s", *want, buf + start);
		if (++*want % REPORT_EVERY == 0)
			say("recv %lu", *want);
		start = i + 1;
	}
	memmove(buf, buf + start, n - start);
	return n - start;
}

int main(int argc, char **argv)
{
	int family = AF_INET, conn, pad = 0, with_raw = 0;
	unsigned long sent = 0, want = 0;
	char buf[4096];
	size_t have = 0;
	uint64_t next = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "6") == 0)
			family = AF_INET6;
		else if (strcmp(argv[i], "pad") == 0)
			pad = PAD_LEN;
		else if (strcmp(argv[i], "raw") == 0)
			with_raw = 1;
		else if (strcmp(argv[i], "4") != 0)
			usage(USAGE);
	}
	conn = accept(listen_on(family), NULL, NULL);
	if (conn < 0)
		fail_errno("accept");
	say("accepted");
	if (with_raw && socket(AF_INET, SOCK_RAW, IPPROTO_UDP) < 0)
		fail_errno("socket raw");
	for (;;) {
		struct pollfd p = { .fd = conn, .events = POLLIN };
		uint64_t now = now_ns();
		char line[LINE_MAX_LEN];
		ssize_t r;

		if (now >= next) {
			int len = snprintf(line, sizeof(line), pad ? "S%lu " : "S%lu", sent++);

			memset(line + len, '.', pad);
			line[len + pad] = '\n';
			len += pad + 1;
			write_all(conn, line, len);
			next = now + TICK_MS * 1000000ull;
		}
		if (poll(&p, 1, TICK_MS) < 0 && errno != EINTR)
			fail_errno("poll");
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(conn, buf + have, sizeof(buf) - have);
		if (r < 0 && errno != EINTR)
			fail_errno("read");
		if (r == 0)
			fail("EOF from the client after %lu lines", want);
		if (r > 0)
			have = take_lines(buf, have + r, &want);
	}
}
