/*
 * net_udp [PEERPORT | raw]: UDP sockets, for checkpointing them.
 *   It binds a UDP socket to 127.0.0.1 on a port the kernel picks (with
 *   SO_REUSEADDR and IP_PKTINFO) and answers every datagram "x" with
 *   "echo x" to its sender. With PEERPORT it also connects a second UDP
 *   socket to 127.0.0.1:PEERPORT and sends "tick <n>" on it every
 *   TICK_MS. With raw it also holds a raw IPv4 socket, which a dump
 *   refuses.
 *
 * Output (one line each, flushed):
 *   ready <pid> port <port>
 *   echoed <n>        after each datagram answered
 *   FAIL ...
 */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#define USAGE "net_udp [PEERPORT | raw]"
#define TICK_MS 20
#define DGRAM_MAX 512

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;

	if (fd < 0)
		fail_errno("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) != 0)
		fail_errno("setsockopt");
	return fd;
}

static int bound(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = udp_socket();

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, len) != 0)
		fail_errno("bind");
	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		fail_errno("getsockname");
	say("ready %d port %d", (int)getpid(), ntohs(sin.sin_port));
	return fd;
}

static int connected(unsigned long port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		fail_errno("socket");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		fail_errno("connect");
	return fd;
}

static void echo(int fd, unsigned long *n)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char in[DGRAM_MAX], out[DGRAM_MAX + 8];
	ssize_t r = recvfrom(fd, in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &len);
	int olen;

	if (r < 0) {
		if (errno == EINTR)
			return;
		fail_errno("recvfrom");
	}
	in[r] = 0;
	olen = snprintf(out, sizeof(out), "echo %s", in);
	if (sendto(fd, out, olen, 0, (struct sockaddr *)&from, len) != olen)
		fail_errno("sendto");
	say("echoed %lu", ++*n);
}

int main(int argc, char **argv)
{
	int fd, peer = -1;
	unsigned long n = 0, ticks = 0;
	uint64_t next = 0;

	if (argc > 2)
		usage(USAGE);
	if (argc == 2 && strcmp(argv[1], "raw") == 0) {
		if (socket(AF_INET, SOCK_RAW, IPPROTO_UDP) < 0)
			fail_errno("socket raw");
	} else if (argc == 2) {
		peer = connected(parse_count(argv[1], USAGE));
	}
	fd = bound();
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();

		if (peer >= 0 && now >= next) {
			char tick[32];
			int len = snprintf(tick, sizeof(tick), "tick %lu", ticks++);

			if (send(peer, tick, len, 0) != len && errno != ECONNREFUSED)
				fail_errno("send");
			next = now + TICK_MS * 1000000ull;
		}
		if (poll(&p, 1, TICK_MS) < 0 && errno != EINTR)
			fail_errno("poll");
		if (p.revents & POLLIN)
			echo(fd, &n);
	}
}
