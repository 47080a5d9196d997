/*
 * unix_refuse KIND: a victim holding a UNIX socket in a state crlazy
 * cannot save, for checking that a dump refuses it, naming the
 * descriptor, and leaves the victim running untouched. KIND is one of
 *   rights          a stream socketpair whose queue holds a descriptor in
 *                   flight (SCM_RIGHTS): fd <fd> is the receiving end
 *   pending-data    a connection waiting in a listener's accept queue
 *                   whose client already sent bytes: fd <fd> is the
 *                   client
 *   outside-pending the child C listens on "out.sock" and the parent P,
 *                   outside the dumped tree (the test dumps C), connects
 *                   to it without C accepting: fd <fd> of C is the
 *                   listener
 *   peek-off        a datagram socketpair end with SO_PEEK_OFF set
 *   timestamp       a datagram socketpair end with SO_TIMESTAMP on
 *   oob             a stream socketpair end with "ab" and an out-of-band
 *                   byte queued (MSG_OOB)
 * The dumped process then ticks every TICK_MS.
 *
 * Output:
 *   ready <pid to dump> <fd>
 *   tick <n>
 *   FAIL ...
 */
#include "victim.h"

#include <sys/socket.h>
#include <sys/un.h>

#define USAGE "unix_refuse rights|pending-data|outside-pending|peek-off|timestamp|oob"
#define TICK_MS 50
#define OUT_NAME "out.sock"

static int rights(void)
{
	int sv[2], passed = dup(1);
	char byte = 'x';
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	if (passed < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		fail_errno("socketpair");
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passed, sizeof(int));
	if (sendmsg(sv[1], &m, 0) != 1)
		fail_errno("sendmsg SCM_RIGHTS");
	close(passed);
	return sv[0];
}

static struct sockaddr_un named(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", name);
	return sun;
}

static int listener(const char *name)
{
	struct sockaddr_un sun = named(name);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	unlink(name);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(fd, 4) != 0)
		fail_errno("listen");
	return fd;
}

static int connect_to(const char *name)
{
	struct sockaddr_un sun = named(name);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		fail_errno("connect");
	return fd;
}

static int pending_data(void)
{
	listener("pend.sock");
	int c = connect_to("pend.sock");

	if (send(c, "early", 5, 0) != 5)
		fail_errno("send before accept");
	return c;
}

static int peek_off(void)
{
	int sv[2], off = 0;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) != 0)
		fail_errno("SO_PEEK_OFF");
	return sv[0];
}

static int timestamp(void)
{
	int sv[2], on = 1;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on)) != 0)
		fail_errno("SO_TIMESTAMP");
	return sv[0];
}

static int oob(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || send(sv[1], "ab", 2, 0) != 2 ||
	    send(sv[1], "!", 1, MSG_OOB) != 1)
		fail_errno("MSG_OOB");
	return sv[0];
}

static void tick(int fd)
{
	say("ready %d %d", (int)getpid(), fd);
	for (unsigned long long n = 0;; n++) {
		say("tick %llu", n);
		sleep_ms(TICK_MS);
	}
}

/* outside_pending: C listens and ticks; P connects once C is ready and
 * stays (it outlives C only as long as the test lets it). */
static void outside_pending(void)
{
	int ready[2];
	char b;

	if (pipe(ready) != 0)
		fail_errno("pipe");
	pid_t c = fork();
	if (c < 0)
		fail_errno("fork");
	if (c == 0) { /* no PR_SET_PDEATHSIG: a restore of C alone has another parent */
		close(ready[0]);
		int l = listener(OUT_NAME);
		if (write(ready[1], "r", 1) != 1)
			fail_errno("write");
		close(ready[1]);
		tick(l);
	}
	close(ready[1]);
	if (read(ready[0], &b, 1) != 1)
		fail("the child did not start");
	connect_to(OUT_NAME);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc != 2)
		usage(USAGE);
	if (strcmp(argv[1], "rights") == 0)
		tick(rights());
	if (strcmp(argv[1], "pending-data") == 0)
		tick(pending_data());
	if (strcmp(argv[1], "outside-pending") == 0)
		outside_pending();
	if (strcmp(argv[1], "peek-off") == 0)
		tick(peek_off());
	if (strcmp(argv[1], "timestamp") == 0)
		tick(timestamp());
	if (strcmp(argv[1], "oob") == 0)
		tick(oob());
	usage(USAGE);
}
