/*
 * unix_stream: a UNIX stream server and its client, two processes of one
 * tree, with data always queued both ways.
 *
 * The parent P listens on the relative path "srv.sock" (in its working
 * directory) and forks the client C, which connects to it; P accepts.
 * Over that connection each side writes numbered REC-byte records as
 * fast as the socket takes them (non-blocking) and reads only a few per
 * tick, so both queues stay full; each checks that the records it reads
 * are numbered 0, 1, 2, ... with their checksum (nothing lost, nothing
 * twice). Beside it, a SOCK_SEQPACKET socketpair carries records of
 * varying sizes the same way (boundaries checked). C's stream socket has
 * SO_SNDBUF set; C checks it is still the same at the end.
 *
 * C also opens a second connection to srv.sock that P does not accept
 * (it waits in the accept queue) and holds the end of a stream
 * socketpair on which P wrote "bye\n" and shut down writing. On SIGUSR1
 * P accepts the waiting connection and sends "ping" on it; C, polling
 * it, then reads "bye\n" and end-of-file from the half-closed pair,
 * writes on its open half and says "pending ok".
 *
 * Output:
 *   ready <pid> <child pid>
 *   server sent <n> got <n>      every REPORT_MS
 *   client sent <n> got <n>
 *   pending ok
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SOCK_NAME "srv.sock"
#define REC 64
#define TICK_MS 10
#define READS_PER_TICK 8
#define REPORT_MS 100
#define SEQ_MAX 3000
#define CLIENT_SNDBUF 48000

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

/* A stream of numbered records, one direction of one socket. */
struct flow {
	int fd;
	char side;           /* 'S' or 'C': who writes it */
	uint64_t sent, got;  /* records written, records read and checked */
	uint8_t out[SEQ_MAX];
	size_t out_len, out_off;
	uint8_t in[SEQ_MAX];
	size_t in_off;
	int packet;          /* seqpacket: whole records of varying size */
};

static size_t rec_len(const struct flow *f, uint64_t n)
{
	return f->packet ? 8 + (size_t)(n * 37 % (SEQ_MAX - 8)) : REC;
}

static uint8_t rec_byte(char side, uint64_t n, size_t i)
{
	return (uint8_t)(mix64((n << 16) ^ ((uint64_t)side << 8) ^ i) >> 7);
}

static void make_rec(struct flow *f, char side)
{
	uint64_t n = f->sent;

	f->out_len = rec_len(f, n);
	memcpy(f->out, &n, 8);
	for (size_t i = 8; i < f->out_len; i++)
		f->out[i] = rec_byte(side, n, i);
	f->out_off = 0;
}

/* send_some writes records until the socket is full. */
static void send_some(struct flow *f, char side)
{
	for (;;) {
		if (f->out_off == f->out_len)
			make_rec(f, side);
		ssize_t n = send(f->fd, f->out + f->out_off, f->out_len - f->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			fail_errno("send");
		f->out_off += (size_t)n;
		if (f->out_off == f->out_len)
			f->sent++;
	}
}

static void check_rec(struct flow *f, char peer_side, size_t len)
{
	uint64_t n;

	memcpy(&n, f->in, 8);
	if (n != f->got)
		fail("%c read record %llu, expected %llu", f->side, (unsigned long long)n, (unsigned long long)f->got);
	if (len != rec_len(f, n))
		fail("%c record %llu has %zu bytes, expected %zu", f->side, (unsigned long long)n, len, rec_len(f, n));
	for (size_t i = 8; i < len; i++)
		if (f->in[i] != rec_byte(peer_side, n, i))
			fail("%c record %llu corrupt at byte %zu", f->side, (unsigned long long)n, i);
	f->got++;
}

/* recv_some reads and checks up to READS_PER_TICK records. */
static void recv_some(struct flow *f, char peer_side)
{
	for (int k = 0; k < READS_PER_TICK;) {
		size_t want = f->packet ? SEQ_MAX : REC - f->in_off;
		ssize_t n = recv(f->fd, f->in + f->in_off, want, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			fail("%c recv: %s", f->side, n == 0 ? "end of file" : strerror(errno));
		if (f->packet) {
			check_rec(f, peer_side, (size_t)n);
			k++;
			continue;
		}
		f->in_off += (size_t)n;
		if (f->in_off == REC) {
			check_rec(f, peer_side, REC);
			f->in_off = 0;
			k++;
		}
	}
}

static int listen_here(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = SOCK_NAME };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	unlink(SOCK_NAME);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		fail_errno("bind " SOCK_NAME);
	if (listen(fd, 4) != 0)
		fail_errno("listen");
	return fd;
}

static int connect_here(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = SOCK_NAME };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		fail_errno("connect " SOCK_NAME);
	return fd;
}

static void report(const char *who, struct flow *a, struct flow *b, uint64_t *next)
{
	if (now_ns() < *next)
		return;
	*next = now_ns() + REPORT_MS * 1000000ull;
	say("%s sent %llu got %llu", who, (unsigned long long)(a->sent + b->sent),
	    (unsigned long long)(a->got + b->got));
}

static int sndbuf(int fd)
{
	int v;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) != 0)
		fail_errno("getsockopt SO_SNDBUF");
	return v;
}

/*
 * client_pending returns 1 once the waiting connection got "ping" and the
 * rest checked out.
 */
static int client_pending(int pend, int half, int stream, int want_sndbuf)
{
	char buf[16];
	ssize_t n = recv(pend, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n != 4 || memcmp(buf, "ping", 4) != 0)
		fail("pending connection read %zd bytes", n);
	if ((n = recv(half, buf, sizeof(buf), 0)) != 4 || memcmp(buf, "bye\n", 4) != 0)
		fail("half-closed pair read %zd bytes", n);
	if ((n = recv(half, buf, sizeof(buf), 0)) != 0)
		fail("half-closed pair: %zd bytes after bye, expected end of file", n);
	if (send(half, "ack", 3, MSG_NOSIGNAL) != 3)
		fail_errno("half-closed pair: write the open half");
	if (sndbuf(stream) != want_sndbuf)
		fail("SO_SNDBUF is %d, was %d", sndbuf(stream), want_sndbuf);
	say("pending ok");
	return 1;
}

static void client(int pkt, int half)
{
	struct flow st = { .side = 'C' }, sp = { .fd = pkt, .side = 'C', .packet = 1 };
	int v = CLIENT_SNDBUF, pend, done = 0;
	uint64_t next = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		fail_errno("prctl");
	st.fd = connect_here();
	if (setsockopt(st.fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) != 0)
		fail_errno("setsockopt SO_SNDBUF");
	v = sndbuf(st.fd);
	pend = connect_here();
	for (;;) {
		send_some(&st, 'C');
		send_some(&sp, 'C');
		recv_some(&st, 'S');
		recv_some(&sp, 'S');
		if (!done)
			done = client_pending(pend, half, st.fd, v);
		report("client", &st, &sp, &next);
		sleep_ms(TICK_MS);
	}
}

int main(void)
{
	int pkt[2], half[2], lfd = listen_here();
	struct flow st = { .side = 'S' }, sp = { .side = 'S', .packet = 1 };
	struct sigaction sa = { .sa_handler = on_usr1 };
	uint64_t next = 0;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pkt) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, half) != 0)
		fail_errno("socketpair");
	if (send(half[0], "bye\n", 4, 0) != 4 || shutdown(half[0], SHUT_WR) != 0)
		fail_errno("half-close");
	child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0) {
		close(lfd);
		close(pkt[0]);
		close(half[0]);
		client(pkt[1], half[1]);
	}
	close(pkt[1]);
	close(half[1]);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction");
	if ((st.fd = accept(lfd, NULL, NULL)) < 0)
		fail_errno("accept");
	sp.fd = pkt[0];
	say("ready %d %d", (int)getpid(), (int)child);
	for (;;) {
		send_some(&st, 'S');
		send_some(&sp, 'S');
		recv_some(&st, 'C');
		recv_some(&sp, 'C');
		if (got_usr1 == 1) {
			int p = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

			if (p < 0)
				fail_errno("accept the waiting connection");
			if (send(p, "ping", 4, MSG_NOSIGNAL) != 4)
				fail_errno("send ping");
			got_usr1 = 2;
		}
		report("server", &st, &sp, &next);
		sleep_ms(TICK_MS);
	}
}
