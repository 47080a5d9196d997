/*
 * fd_refuse KIND: a victim holding one descriptor that crlazy cannot save
 * yet, for checking that a dump refuses it by name and leaves the victim
 * running untouched. KIND is one of
 *   netlink     a NETLINK_ROUTE socket
 *   packet      an AF_PACKET socket (needs CAP_NET_RAW)
 *   io_uring    an io_uring instance (raw io_uring_setup)
 *   userfaultfd a userfaultfd
 *   epoll-stale an epoll whose target was registered as fd 5, then moved
 *               to fd 6 (dup2 + close): the registration names a number
 *               that no longer holds the file
 * It then ticks every TICK_MS.
 *
 * Output:
 *   ready <pid> <fd>
 *   tick <n>
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define USAGE "fd_refuse netlink|packet|io_uring|userfaultfd|epoll-stale"
#define TICK_MS 50
#define ETH_P_ALL_BE 0x0300 /* htons(ETH_P_ALL) */
#define URING_ENTRIES 4
#define URING_PARAMS_SIZE 120 /* sizeof(struct io_uring_params) */

static int epoll_stale(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0), e = eventfd(0, 0);

	if (ep < 0 || e < 0 || dup2(e, 5) != 5)
		fail_errno("epoll-stale setup");
	close(e);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, 5, &ev) != 0 || dup2(5, 6) != 6 || close(5) != 0)
		fail_errno("epoll-stale register");
	return ep;
}

static int open_kind(const char *kind)
{
	static char uring_params[URING_PARAMS_SIZE];

	if (strcmp(kind, "netlink") == 0)
		return socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (strcmp(kind, "packet") == 0)
		return socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE);
	if (strcmp(kind, "io_uring") == 0)
		return syscall(SYS_io_uring_setup, URING_ENTRIES, uring_params);
	if (strcmp(kind, "userfaultfd") == 0)
		return syscall(SYS_userfaultfd, O_CLOEXEC);
	if (strcmp(kind, "epoll-stale") == 0)
		return epoll_stale();
	usage(USAGE);
}

int main(int argc, char **argv)
{
	unsigned long n = 0;
	int fd;

	if (argc != 2)
		usage(USAGE);
	fd = open_kind(argv[1]);
	if (fd < 0)
		fail_errno(argv[1]);
	say("ready %d %d", (int)getpid(), fd);
	for (;;) {
		sleep_ms(TICK_MS);
		say("tick %lu", ++n);
	}
}
