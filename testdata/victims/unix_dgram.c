/*
 * unix_dgram: UNIX datagram sockets with datagrams always queued.
 *
 *   S1  bound to the absolute path <cwd>/dgram.sock, SO_PASSCRED on and
 *       SO_RCVBUF set; C1, unbound, sends to it with sendto.
 *   S2  bound to the abstract name "\0crlazy-dgram-<pid>"; C2, bound to
 *       "\0crlazy-dgram-client-<pid>" and connected to S2, sends to it.
 *       S2 answers each datagram to its sender's address ("ack <n>"),
 *       which C2 reads and checks.
 *   D1, D2  a datagram socketpair: D1 sends, D2 reads.
 * Every datagram is numbered and sized after its number; each receiver
 * reads only a few per tick (the queues stay full: max_dgram_qlen) and
 * checks that they come 0, 1, 2, ... with their size and bytes, and that
 * S2's come from C2's name. Every report also checks the names, peer and
 * options.
 *
 * Output:
 *   ready <pid>
 *   dgram sent <n> got <n>       every REPORT_MS
 *   FAIL ...
 */
#include "victim.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#define PATH_NAME "dgram.sock"
#define TICK_MS 10
#define READS_PER_TICK 3
#define REPORT_MS 100
#define MSG_MAX 5000
#define S1_RCVBUF 100000

struct chan {
	const char *name;
	int tx, rx;
	struct sockaddr_un to; /* sendto address; sun_family 0: connected */
	socklen_t tolen;
	uint64_t sent, got;
};

static struct sockaddr_un s2_addr, c2_addr;
static socklen_t s2_len, c2_len;

static size_t msg_len(uint64_t n) { return 8 + (size_t)(n * 131 % (MSG_MAX - 8)); }

static void fill(uint8_t *b, const char *name, uint64_t n)
{
	memcpy(b, &n, 8);
	for (size_t i = 8; i < msg_len(n); i++)
		b[i] = (uint8_t)(mix64(n ^ ((uint64_t)name[0] << 40) ^ i) >> 11);
}

static int dgram(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0)
		fail_errno("socket");
	return fd;
}

static socklen_t abstract(struct sockaddr_un *a, const char *what)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "crlazy-dgram-%s%d", what, (int)getpid());
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void bind_to(int fd, struct sockaddr_un *a, socklen_t len)
{
	if (bind(fd, (struct sockaddr *)a, len) != 0)
		fail_errno("bind");
}

static void send_some(struct chan *c)
{
	static uint8_t buf[MSG_MAX];

	for (;;) {
		fill(buf, c->name, c->sent);
		ssize_t n = c->to.sun_family ? sendto(c->tx, buf, msg_len(c->sent), MSG_DONTWAIT, (struct sockaddr *)&c->to, c->tolen)
					     : send(c->tx, buf, msg_len(c->sent), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n != (ssize_t)msg_len(c->sent))
			fail("%s: send: %s", c->name, strerror(errno));
		c->sent++;
	}
}

/* recv_one reads one datagram into buf and checks it; 0 if none. */
static int recv_one(struct chan *c, uint8_t *buf, struct sockaddr_un *from, socklen_t *fromlen)
{
	static uint8_t want[MSG_MAX];
	ssize_t n = recvfrom(c->rx, buf, MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)from, fromlen);
	uint64_t k;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 8)
		fail("%s: recv %zd: %s", c->name, n, strerror(errno));
	memcpy(&k, buf, 8);
	fill(want, c->name, c->got);
	if (k != c->got || (size_t)n != msg_len(k) || memcmp(buf, want, (size_t)n) != 0)
		fail("%s: datagram %llu of %zd bytes, expected %llu of %zu", c->name, (unsigned long long)k, n,
		     (unsigned long long)c->got, msg_len(c->got));
	c->got++;
	return 1;
}

/* serve_s2 reads from S2, checks the sender and answers it. */
static void serve_s2(struct chan *c, uint64_t *acks)
{
	static uint8_t buf[MSG_MAX];

	for (int i = 0; i < READS_PER_TICK; i++) {
		struct sockaddr_un from;
		socklen_t fromlen = sizeof(from);
		char ack[32];

		if (!recv_one(c, buf, &from, &fromlen))
			return;
		if (fromlen != c2_len || memcmp(&from, &c2_addr, fromlen) != 0)
			fail("%s: datagram %llu not from C2's name (%u bytes)", c->name, (unsigned long long)c->got - 1, fromlen);
		int n = snprintf(ack, sizeof(ack), "ack %llu", (unsigned long long)(*acks)++);
		if (sendto(c->rx, ack, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, fromlen) != n)
			fail_errno("S2: answer");
	}
}

/* read_acks reads S2's answers on C2. */
static void read_acks(int c2, uint64_t *got)
{
	char buf[32], want[32];

	for (;;) {
		ssize_t n = recv(c2, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		int wn = snprintf(want, sizeof(want), "ack %llu", (unsigned long long)*got);
		if (n != wn || memcmp(buf, want, (size_t)n) != 0)
			fail("C2: answer %zd bytes, expected %s", n, want);
		(*got)++;
	}
}

static int getint(int fd, int opt)
{
	int v;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0)
		fail_errno("getsockopt");
	return v;
}

static void check_names(int s1, int s2, int c2, int rcvbuf)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);

	if (getsockname(s2, (struct sockaddr *)&a, &len) != 0 || len != s2_len || memcmp(&a, &s2_addr, len) != 0)
		fail("S2 lost its name");
	len = sizeof(a);
	if (getsockname(c2, (struct sockaddr *)&a, &len) != 0 || len != c2_len || memcmp(&a, &c2_addr, len) != 0)
		fail("C2 lost its name");
	len = sizeof(a);
	if (getpeername(c2, (struct sockaddr *)&a, &len) != 0 || len != s2_len || memcmp(&a, &s2_addr, len) != 0)
		fail("C2 is no longer connected to S2");
	len = sizeof(a);
	if (getsockname(s1, (struct sockaddr *)&a, &len) != 0 || a.sun_path[0] != '/' || strstr(a.sun_path, PATH_NAME) == NULL)
		fail("S1 lost its name");
	if (getint(s1, SO_PASSCRED) != 1 || getint(s1, SO_RCVBUF) != rcvbuf)
		fail("S1 options: passcred %d rcvbuf %d, want 1 %d", getint(s1, SO_PASSCRED), getint(s1, SO_RCVBUF), rcvbuf);
}

int main(void)
{
	struct chan c1 = { .name = "S1" }, c2 = { .name = "S2" }, d = { .name = "D2" };
	int one = 1, v = S1_RCVBUF, pair[2];
	uint64_t acks = 0, acked = 0, next = 0;
	static uint8_t buf[MSG_MAX];

	c1.rx = dgram();
	c1.to.sun_family = AF_UNIX;
	if (!getcwd(c1.to.sun_path, sizeof(c1.to.sun_path) - sizeof(PATH_NAME) - 1))
		fail_errno("getcwd");
	strcat(c1.to.sun_path, "/" PATH_NAME);
	c1.tolen = sizeof(c1.to);
	unlink(c1.to.sun_path);
	bind_to(c1.rx, &c1.to, c1.tolen);
	if (setsockopt(c1.rx, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0 ||
	    setsockopt(c1.rx, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) != 0)
		fail_errno("setsockopt");
	v = getint(c1.rx, SO_RCVBUF);
	c1.tx = dgram();
	c2.rx = dgram();
	s2_len = abstract(&s2_addr, "");
	bind_to(c2.rx, &s2_addr, s2_len);
	c2.tx = dgram();
	c2_len = abstract(&c2_addr, "client-");
	bind_to(c2.tx, &c2_addr, c2_len);
	if (connect(c2.tx, (struct sockaddr *)&s2_addr, s2_len) != 0)
		fail_errno("connect C2");
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0)
		fail_errno("socketpair");
	d.tx = pair[0];
	d.rx = pair[1];
	say("ready %d", (int)getpid());
	for (;;) {
		send_some(&c1);
		send_some(&c2);
		send_some(&d);
		for (int i = 0; i < READS_PER_TICK; i++) {
			struct sockaddr_un from;
			socklen_t fromlen = sizeof(from);

			recv_one(&c1, buf, &from, &fromlen);
			fromlen = sizeof(from);
			recv_one(&d, buf, &from, &fromlen);
		}
		serve_s2(&c2, &acks);
		read_acks(c2.tx, &acked);
		if (now_ns() >= next) {
			next = now_ns() + REPORT_MS * 1000000ull;
			check_names(c1.rx, c2.rx, c2.tx, v);
			say("dgram sent %llu got %llu", (unsigned long long)(c1.sent + c2.sent + d.sent),
			    (unsigned long long)(c1.got + c2.got + d.got + acked));
		}
		sleep_ms(TICK_MS);
	}
}
