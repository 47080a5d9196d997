/*
 * sockholder [tcp|unix]: a victim that holds a socket, for checking that a
 * dump refuses what it cannot handle.
 *   tcp   (default) a TCP socket listening on 127.0.0.1, on a port the
 *         kernel picks
 *   unix  a connected pair of UNIX stream sockets (socketpair)
 * It then sleeps SLEEP_MS at a time in nanosleep, forever.
 *
 * Output (one line each, flushed):
 *   ready <pid> tcp <port> | ready <pid> unix
 *   FAIL ...
 */
#include "victim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define USAGE "sockholder [tcp|unix]"
#define SLEEP_MS 1000

static int listen_tcp(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		fail_errno("socket");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		fail_errno("bind 127.0.0.1:0");
	if (listen(fd, 1) != 0)
		fail_errno("listen");
	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		fail_errno("getsockname");
	return ntohs(sin.sin_port);
}

int main(int argc, char **argv)
{
	int pair[2];

	if (argc > 2)
		usage(USAGE);
	if (argc == 1 || strcmp(argv[1], "tcp") == 0) {
		say("ready %d tcp %d", (int)getpid(), listen_tcp());
	} else if (strcmp(argv[1], "unix") == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
			fail_errno("socketpair");
		say("ready %d unix", (int)getpid());
	} else {
		usage(USAGE);
	}
	for (;;)
		sleep_ms(SLEEP_MS);
}
