/*
 * net_opts: listening sockets with options set, for checking that a
 * restore brings every option back.
 *   An IPv6 TCP listener on [::1] (IPV6_V6ONLY, SO_REUSEADDR,
 *   SO_REUSEPORT, TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE 33,
 *   TCP_KEEPINTVL 11, TCP_KEEPCNT 4, SO_BINDTODEVICE lo, SO_RCVBUF,
 *   SO_PRIORITY 3, SO_MARK 7, SO_SNDTIMEO 2.5 s, SO_LINGER 9, backlog 7)
 *   and an MPTCP listener on 127.0.0.1 (SO_REUSEADDR, TCP_NODELAY,
 *   SO_KEEPALIVE, TCP_KEEPIDLE 44, backlog 9), on ports the kernel
 *   picks. Then it sleeps.
 *
 * Output (one line each, flushed):
 *   ready <pid> ports <port6> <portmptcp>
 *   FAIL ...
 */
#include "victim.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static void set(int fd, int level, int opt, int v, const char *what)
{
	if (setsockopt(fd, level, opt, &v, sizeof(v)) != 0)
		fail_errno(what);
}

static int port_of(int fd)
{
	struct sockaddr_in6 sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		fail_errno("getsockname");
	return ntohs(sa.sin6_port); /* same offset in sockaddr_in */
}

static int listener6(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct timeval tv = { .tv_sec = 2, .tv_usec = 500000 };
	struct linger lg = { .l_onoff = 1, .l_linger = 9 };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	if (fd < 0)
		fail_errno("socket");
	set(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "v6only");
	set(fd, SOL_SOCKET, SO_REUSEADDR, 1, "reuseaddr");
	set(fd, SOL_SOCKET, SO_REUSEPORT, 1, "reuseport");
	set(fd, IPPROTO_TCP, TCP_NODELAY, 1, "nodelay");
	set(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "keepalive");
	set(fd, IPPROTO_TCP, TCP_KEEPIDLE, 33, "keepidle");
	set(fd, IPPROTO_TCP, TCP_KEEPINTVL, 11, "keepintvl");
	set(fd, IPPROTO_TCP, TCP_KEEPCNT, 4, "keepcnt");
	set(fd, SOL_SOCKET, SO_RCVBUF, 100000, "rcvbuf");
	set(fd, SOL_SOCKET, SO_PRIORITY, 3, "priority");
	set(fd, SOL_SOCKET, SO_MARK, 7, "mark");
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
		fail_errno("setsockopt");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 7) != 0)
		fail_errno("bind/listen");
	return fd;
}

static int listener_mptcp(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);

	if (fd < 0)
		fail_errno("socket mptcp");
	set(fd, SOL_SOCKET, SO_REUSEADDR, 1, "reuseaddr");
	set(fd, IPPROTO_TCP, TCP_NODELAY, 1, "nodelay");
	set(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "keepalive");
	set(fd, IPPROTO_TCP, TCP_KEEPIDLE, 44, "keepidle");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 9) != 0)
		fail_errno("bind/listen mptcp");
	return fd;
}

int main(void)
{
	int a = listener6(), b = listener_mptcp();

	say("ready %d ports %d %d", (int)getpid(), port_of(a), port_of(b));
	for (;;)
		sleep_ms(1000);
}
