/*
 * unix_edge: UNIX sockets in the states unix_stream and unix_dgram leave
 * out, all in one tree.
 *
 * Traffic, checked on every read:
 *   SEQPACKET  a listener bound to the abstract name
 *              "\0crlazy-edge-<pid>"; a client connected and accepted;
 *              numbered records of varying sizes queued both ways.
 *   senders    a datagram socket R bound to "multi.sock" (relative path)
 *              receives from four senders, each record tagged with its
 *              sender and numbered per sender: A bound to an abstract
 *              name, B bound to "b.sock", U unbound, and S, bound to an
 *              abstract name and shared by the parent P and its child C
 *              (both send on it, with tags of their own). R checks each
 *              record's number and its sender's address.
 * Checked once, on SIGUSR1 (checks ok):
 *   - a second seqpacket client waits in the listener's accept queue:
 *     P accepts it and a record goes through;
 *   - a stream listener bound to "<cwd>/gone.sock", whose file P
 *     unlinked: it keeps its name, the file stays gone, and the
 *     connection it accepted still holds "hello"; a datagram socket bound
 *     to the relative "rgone.sock", unlinked too, keeps its name;
 *   - a stream socketpair end shut down for reading with "abc" queued:
 *     it reads "abc" then end of file, and its peer's send fails (EPIPE);
 *   - options of a socket: SO_RCVTIMEO, SO_SNDTIMEO, SO_PRIORITY,
 *     SO_RCVLOWAT, SO_MARK, SO_PASSCRED, SO_SNDBUF, SO_RCVBUF as set;
 *   - a datagram socket bound to "missing.sock", with a datagram queued
 *     (a test removes the file between dump and restore): the file is
 *     there again, its datagram is read, and one sent to the name
 *     arrives.
 *
 * Output:
 *   ready <pid> <child pid> <fd of S>
 *   edge sent <n> got <n>         every REPORT_MS
 *   checks ok
 *   FAIL ...
 */
#include "victim.h"

#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define TICK_MS 10
#define REPORT_MS 100
#define READS_PER_TICK 3
#define DGRAM_READS_PER_TICK 2
#define PKT_MAX 4000
#define DGRAM_MAX 1500
#define NTAGS 5 /* A, B, U, S from P, S from C */

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

struct addr {
	struct sockaddr_un sa;
	socklen_t len;
};

static struct addr abstract_name(const char *what)
{
	struct addr a = { .sa = { .sun_family = AF_UNIX } };
	int n = snprintf(a.sa.sun_path + 1, sizeof(a.sa.sun_path) - 1, "crlazy-edge-%s%d", what, (int)getpid());

	a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	return a;
}

static struct addr path_name(const char *path)
{
	struct addr a = { .sa = { .sun_family = AF_UNIX } };

	snprintf(a.sa.sun_path, sizeof(a.sa.sun_path), "%s", path);
	a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	return a;
}

static int sock_at(int type, const struct addr *a)
{
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0)
		fail_errno("socket");
	if (a && a->sa.sun_path[0])
		unlink(a->sa.sun_path);
	if (a && bind(fd, (const struct sockaddr *)&a->sa, a->len) != 0)
		fail_errno("bind");
	return fd;
}

static int connect_to(int type, const struct addr *a)
{
	int fd = sock_at(type, NULL);

	if (connect(fd, (const struct sockaddr *)&a->sa, a->len) != 0)
		fail_errno("connect");
	return fd;
}

/* ---- seqpacket records ---- */

struct pkt {
	int fd;
	char side;
	uint64_t sent, got;
};

static size_t pkt_len(uint64_t n) { return 8 + (size_t)(n * 53 % (PKT_MAX - 8)); }

static void pkt_fill(uint8_t *b, char side, uint64_t n)
{
	memcpy(b, &n, 8);
	for (size_t i = 8; i < pkt_len(n); i++)
		b[i] = (uint8_t)(mix64((n << 8) ^ (uint64_t)side ^ (i << 40)) >> 13);
}

static void pkt_send(struct pkt *p)
{
	static uint8_t b[PKT_MAX];

	for (;;) {
		pkt_fill(b, p->side, p->sent);
		ssize_t n = send(p->fd, b, pkt_len(p->sent), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n != (ssize_t)pkt_len(p->sent))
			fail("%c: seqpacket send: %s", p->side, strerror(errno));
		p->sent++;
	}
}

static void pkt_recv(struct pkt *p, char peer)
{
	static uint8_t b[PKT_MAX + 1], want[PKT_MAX];

	for (int i = 0; i < READS_PER_TICK; i++) {
		ssize_t n = recv(p->fd, b, sizeof(b), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		pkt_fill(want, peer, p->got);
		if (n != (ssize_t)pkt_len(p->got) || memcmp(b, want, (size_t)n) != 0)
			fail("%c: seqpacket record %llu: %zd bytes, want %zu (%s)", p->side, (unsigned long long)p->got, n,
			     pkt_len(p->got), n < 0 ? strerror(errno) : "boundaries or bytes differ");
		p->got++;
	}
}

/* ---- datagrams from several senders ---- */

struct sender {
	int fd;
	int tag;
	const struct addr *name; /* NULL: unbound */
	uint64_t sent;
};

static struct addr r_name, a_name, b_name, s_name;
static uint64_t got_tag[NTAGS];

static size_t dg_len(int tag, uint64_t n) { return 16 + (size_t)((n * 97 + (uint64_t)tag * 31) % (DGRAM_MAX - 16)); }

static void dg_fill(uint8_t *b, int tag, uint64_t n)
{
	uint64_t t = (uint64_t)tag;

	memcpy(b, &t, 8);
	memcpy(b + 8, &n, 8);
	for (size_t i = 16; i < dg_len(tag, n); i++)
		b[i] = (uint8_t)(mix64(n ^ (t << 50) ^ (i << 20)) >> 17);
}

/*
 * dg_send sends one datagram per tick: every sender gets into R's queue
 * (net.unix.max_dgram_qlen may be as low as 10), which R drains more
 * slowly than they fill it.
 */
static void dg_send(struct sender *s)
{
	static uint8_t b[DGRAM_MAX];

	dg_fill(b, s->tag, s->sent);
	ssize_t n = sendto(s->fd, b, dg_len(s->tag, s->sent), MSG_DONTWAIT, (struct sockaddr *)&r_name.sa, r_name.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)dg_len(s->tag, s->sent))
		fail("sender %d: sendto: %s", s->tag, strerror(errno));
	s->sent++;
}

static const struct addr *tag_name(int tag)
{
	switch (tag) {
	case 0: return &a_name;
	case 1: return &b_name;
	case 2: return NULL;
	default: return &s_name;
	}
}

static int same_name(const struct addr *want, const struct sockaddr_un *got, socklen_t len)
{
	if (want == NULL)
		return len <= sizeof(sa_family_t);
	if (want->sa.sun_path[0] == 0)
		return len == want->len && memcmp(got->sun_path, want->sa.sun_path, len - sizeof(sa_family_t)) == 0;
	/* a relative path comes back as bound */
	return len > sizeof(sa_family_t) && strcmp(got->sun_path, want->sa.sun_path) == 0;
}

static void dg_recv(int r)
{
	static uint8_t b[DGRAM_MAX + 1], want[DGRAM_MAX];

	for (int i = 0; i < DGRAM_READS_PER_TICK; i++) {
		struct sockaddr_un from;
		socklen_t len = sizeof(from);
		uint64_t tag, n;
		ssize_t k = recvfrom(r, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &len);

		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (k < 16)
			fail("R: recv %zd: %s", k, strerror(errno));
		memcpy(&tag, b, 8);
		memcpy(&n, b + 8, 8);
		if (tag >= NTAGS)
			fail("R: datagram with tag %llu", (unsigned long long)tag);
		dg_fill(want, (int)tag, got_tag[tag]);
		if (n != got_tag[tag] || k != (ssize_t)dg_len((int)tag, n) || memcmp(b, want, (size_t)k) != 0)
			fail("R: sender %llu: datagram %llu of %zd bytes, want %llu of %zu", (unsigned long long)tag,
			     (unsigned long long)n, k, (unsigned long long)got_tag[tag], dg_len((int)tag, got_tag[tag]));
		if (!same_name(tag_name((int)tag), &from, len))
			fail("R: sender %llu: datagram %llu from another address (%u bytes)", (unsigned long long)tag,
			     (unsigned long long)n, len);
		got_tag[tag]++;
	}
}

/* ---- the one-time checks ---- */

struct once {
	int lst, pend_client;             /* seqpacket listener and waiting client */
	int gone, gone_acc;               /* unlinked listener, its accepted end */
	int rd[2];                        /* rd[0] shut down for reading */
	int opt;                          /* the socket with options */
	int opt_want[8];
	int missing;                      /* bound to missing.sock */
	int rgone;                        /* bound to rgone.sock, unlinked */
	struct sockaddr_un gone_sa;
	socklen_t gone_len;
};

static const int opt_names[8] = { SO_RCVTIMEO, SO_SNDTIMEO, SO_PRIORITY, SO_RCVLOWAT,
				  SO_MARK, SO_PASSCRED, SO_SNDBUF, SO_RCVBUF };

static int opt_get(int fd, int i)
{
	if (opt_names[i] == SO_RCVTIMEO || opt_names[i] == SO_SNDTIMEO) {
		struct timeval tv;
		socklen_t len = sizeof(tv);
		if (getsockopt(fd, SOL_SOCKET, opt_names[i], &tv, &len) != 0)
			fail_errno("getsockopt timeout");
		return (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
	}
	int v;
	socklen_t len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, opt_names[i], &v, &len) != 0)
		fail_errno("getsockopt");
	return v;
}

static void set_opts(struct once *o)
{
	struct timeval rcv = { 1, 500000 }, snd = { 2, 250000 };
	int prio = 5, lowat = 7, mark = 42, one = 1, sndbuf = 50000, rcvbuf = 70000;

	if (setsockopt(o->opt, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)) != 0 ||
	    setsockopt(o->opt, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)) != 0 ||
	    setsockopt(o->opt, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)) != 0 ||
	    setsockopt(o->opt, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) != 0 ||
	    setsockopt(o->opt, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0 ||
	    setsockopt(o->opt, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0 ||
	    setsockopt(o->opt, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0 ||
	    setsockopt(o->opt, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0)
		fail_errno("setsockopt");
	for (int i = 0; i < 8; i++)
		o->opt_want[i] = opt_get(o->opt, i);
}

static void setup_once(struct once *o, const struct addr *lst_name)
{
	struct addr missing = path_name("missing.sock"), rgone = path_name("rgone.sock"), gone;
	char cwd[108];
	int sv[2];

	if (!getcwd(cwd, sizeof(cwd) - sizeof("/gone.sock")))
		fail_errno("getcwd");
	strcat(cwd, "/gone.sock");
	gone = path_name(cwd);

	o->pend_client = connect_to(SOCK_SEQPACKET, lst_name);
	o->gone = sock_at(SOCK_STREAM, &gone);
	if (listen(o->gone, 2) != 0)
		fail_errno("listen gone.sock");
	int c = connect_to(SOCK_STREAM, &gone);
	if ((o->gone_acc = accept(o->gone, NULL, NULL)) < 0 || send(c, "hello", 5, 0) != 5)
		fail_errno("gone.sock: accept and send");
	close(c);
	o->gone_len = sizeof(o->gone_sa);
	if (getsockname(o->gone, (struct sockaddr *)&o->gone_sa, &o->gone_len) != 0 || unlink(cwd) != 0)
		fail_errno("unlink gone.sock");
	o->rgone = sock_at(SOCK_DGRAM, &rgone);
	if (unlink("rgone.sock") != 0)
		fail_errno("unlink rgone.sock");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, o->rd) != 0 || send(o->rd[1], "abc", 3, 0) != 3 ||
	    shutdown(o->rd[0], SHUT_RD) != 0)
		fail_errno("SHUT_RD pair");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		fail_errno("socketpair");
	o->opt = sv[0];
	set_opts(o);
	o->missing = sock_at(SOCK_DGRAM, &missing);
	int u = sock_at(SOCK_DGRAM, NULL);
	if (sendto(u, "queued", 6, 0, (struct sockaddr *)&missing.sa, missing.len) != 6)
		fail_errno("send to missing.sock");
	close(u);
}

static void expect_recv(int fd, const char *want, const char *what)
{
	char b[64];
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(want) || memcmp(b, want, (size_t)n) != 0)
		fail("%s: read %zd bytes (%s), want %s", what, n, n < 0 ? strerror(errno) : "", want);
}

static void check_once(struct once *o)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct stat st;
	char b[16];

	int acc = accept(o->lst, NULL, NULL);
	if (acc < 0 || send(o->pend_client, "late", 4, 0) != 4)
		fail_errno("accept the waiting seqpacket connection");
	expect_recv(acc, "late", "waiting seqpacket connection");
	if (getsockname(o->gone, (struct sockaddr *)&sa, &len) != 0 || len != o->gone_len ||
	    memcmp(&sa, &o->gone_sa, len) != 0)
		fail("gone.sock: the listener lost its name");
	if (lstat("gone.sock", &st) == 0 || errno != ENOENT)
		fail("gone.sock: the unlinked name's file is back");
	expect_recv(o->gone_acc, "hello", "gone.sock's accepted connection");
	len = sizeof(sa);
	if (getsockname(o->rgone, (struct sockaddr *)&sa, &len) != 0 || strcmp(sa.sun_path, "rgone.sock") != 0)
		fail("rgone.sock: the socket lost its name");
	if (lstat("rgone.sock", &st) == 0 || errno != ENOENT)
		fail("rgone.sock: the unlinked name's file is back");
	expect_recv(o->rd[0], "abc", "SHUT_RD end");
	if (recv(o->rd[0], b, sizeof(b), MSG_DONTWAIT) != 0)
		fail("SHUT_RD end: no end of file after its data");
	if (send(o->rd[1], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != -1 || errno != EPIPE)
		fail("SHUT_RD end's peer can still send");
	for (int i = 0; i < 8; i++)
		if (opt_get(o->opt, i) != o->opt_want[i])
			fail("option %d is %d, was %d", opt_names[i], opt_get(o->opt, i), o->opt_want[i]);
	if (lstat("missing.sock", &st) != 0 || !S_ISSOCK(st.st_mode))
		fail("missing.sock: the socket's file is not there again");
	expect_recv(o->missing, "queued", "missing.sock's queued datagram");
	struct addr m = path_name("missing.sock");
	int u = sock_at(SOCK_DGRAM, NULL);
	if (sendto(u, "again", 5, 0, (struct sockaddr *)&m.sa, m.len) != 5)
		fail_errno("send to missing.sock after restore");
	expect_recv(o->missing, "again", "missing.sock after restore");
	close(u);
	close(acc);
	say("checks ok");
}

static void child(int s)
{
	struct sender cs = { .fd = s, .tag = 4, .name = &s_name };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		fail_errno("prctl");
	for (;;) {
		dg_send(&cs);
		sleep_ms(TICK_MS);
	}
}

int main(void)
{
	struct addr lst_name = abstract_name("");
	struct pkt srv = { .side = 'S' }, cli = { .side = 'C' };
	struct sender snd[4];
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct once o;
	uint64_t next = 0;
	unsigned ticks = 0;

	r_name = path_name("multi.sock");
	a_name = abstract_name("a-");
	b_name = path_name("b.sock");
	s_name = abstract_name("s-");
	int r = sock_at(SOCK_DGRAM, &r_name);
	int s = sock_at(SOCK_DGRAM, &s_name);
	pid_t c = fork();
	if (c < 0)
		fail_errno("fork");
	if (c == 0)
		child(s);
	snd[0] = (struct sender){ .fd = sock_at(SOCK_DGRAM, &a_name), .tag = 0 };
	snd[1] = (struct sender){ .fd = sock_at(SOCK_DGRAM, &b_name), .tag = 1 };
	snd[2] = (struct sender){ .fd = sock_at(SOCK_DGRAM, NULL), .tag = 2 };
	snd[3] = (struct sender){ .fd = s, .tag = 3 };
	o.lst = sock_at(SOCK_SEQPACKET, &lst_name);
	if (listen(o.lst, 4) != 0)
		fail_errno("listen");
	cli.fd = connect_to(SOCK_SEQPACKET, &lst_name);
	if ((srv.fd = accept(o.lst, NULL, NULL)) < 0)
		fail_errno("accept");
	setup_once(&o, &lst_name);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail_errno("sigaction");
	say("ready %d %d %d", (int)getpid(), (int)c, s);
	for (;;) {
		pkt_send(&srv);
		pkt_send(&cli);
		for (int i = 0; i < 4; i++) /* each tick another one first */
			dg_send(&snd[(ticks + (unsigned)i) % 4]);
		ticks++;
		pkt_recv(&srv, 'C');
		pkt_recv(&cli, 'S');
		dg_recv(r);
		if (got_usr1) {
			got_usr1 = 0;
			check_once(&o);
		}
		if (now_ns() >= next) {
			uint64_t got = srv.got + cli.got;
			for (int i = 0; i < NTAGS; i++)
				got += got_tag[i];
			next = now_ns() + REPORT_MS * 1000000ull;
			say("edge sent %llu got %llu", (unsigned long long)(srv.sent + cli.sent), (unsigned long long)got);
		}
		sleep_ms(TICK_MS);
	}
}
