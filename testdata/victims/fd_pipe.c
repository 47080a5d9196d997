/*
 * fd_pipe: a producer and a consumer across a pipe, two processes of one
 * tree, with the pipe kept full so that bytes are always in flight.
 *
 * The parent P makes a pipe of PIPE_SIZE bytes, sets O_NONBLOCK on its
 * read end and opens the file "shared.log" in the working directory, then
 * forks the consumer C; both keep every descriptor, so the read end and
 * the log are open file descriptions shared by the two processes.
 *   P  writes a deterministic byte stream (byte k is a hash of k) into the
 *      pipe in CHUNK-byte writes (odd-sized: the pipe holds many partly
 *      filled buffers). P holds a pidfd of C.
 *   C  reads slowly (a pause after each read, so the pipe stays full),
 *      checks every byte against the stream and the pipe's capacity.
 * Every REPORT_MS each appends a LOG_REC-byte record "P <n>" / "C <n>" to
 * shared.log through the shared offset (no O_APPEND): if the offset were
 * not shared, records would overwrite each other.
 * On SIGUSR1, P clears O_NONBLOCK of its copy of the read end and signals
 * C with SIGUSR2 through the pidfd; C checks that its copy (the same
 * description) lost O_NONBLOCK too.
 *
 * Output:
 *   ready <pid> <child pid>
 *   producer <bytes written>
 *   consumer <bytes read and checked>
 *   usr1 sent                 P signalled C through the pidfd
 *   flags shared              C saw the flag change
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define PIPE_SIZE (128 * 1024)
#define CHUNK 3000
#define READ_MAX 4096
#define REPORT_MS 100
#define PAUSE_MS 1
#define LOG_NAME "shared.log"
#define LOG_REC 13 /* "P 0000000001\n" */

static volatile sig_atomic_t got_sig;

static void on_sig(int sig) { (void)sig; got_sig = 1; }

static uint8_t stream_byte(uint64_t off)
{
	return (uint8_t)(mix64(off >> 3) >> ((off & 7) * 8));
}

static void handle(int sig)
{
	struct sigaction sa = { .sa_handler = on_sig }; /* no SA_RESTART */

	if (sigaction(sig, &sa, NULL) != 0)
		fail_errno("sigaction");
}

static void log_record(int fd, char who, unsigned long long n)
{
	char rec[LOG_REC + 1];

	snprintf(rec, sizeof(rec), "%c %010llu\n", who, n);
	if (write(fd, rec, LOG_REC) != LOG_REC)
		fail_errno("write log");
}

static void consumer(int rfd, int logfd)
{
	static uint8_t buf[READ_MAX];
	uint64_t got = 0, records = 0, next = now_ns();

	handle(SIGUSR2);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		fail_errno("prctl");
	for (;;) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		ssize_t n = 0;

		if (poll(&pfd, 1, REPORT_MS) > 0 && (pfd.revents & POLLIN))
			n = read(rfd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail_errno("read pipe");
		if (n == 0 && pfd.revents & POLLHUP)
			fail("the producer's end is gone");
		for (ssize_t i = 0; i < n; i++, got++)
			if (buf[i] != stream_byte(got))
				fail("byte %llu is %#x, want %#x", (unsigned long long)got, buf[i], stream_byte(got));
		if (n > 0)
			sleep_ms(PAUSE_MS);
		if (got_sig) {
			got_sig = 0;
			if (fcntl(rfd, F_GETFL) & O_NONBLOCK)
				fail("the read end is still non-blocking: not the producer's description");
			say("flags shared");
		}
		if (now_ns() >= next) {
			int size = fcntl(rfd, F_GETPIPE_SZ);

			if (size != PIPE_SIZE)
				fail("pipe capacity %d, want %d", size, PIPE_SIZE);
			log_record(logfd, 'C', ++records);
			say("consumer %llu", (unsigned long long)got);
			next = now_ns() + REPORT_MS * 1000000ULL;
		}
	}
}

static void producer(int wfd, int rfd, int logfd, int pidfd)
{
	static uint8_t buf[CHUNK];
	uint64_t off = 0, records = 0, next = now_ns();

	for (;;) {
		ssize_t n;

		for (int i = 0; i < CHUNK; i++)
			buf[i] = stream_byte(off + i);
		n = write(wfd, buf, CHUNK);
		if (n < 0 && errno != EINTR)
			fail_errno("write pipe");
		if (n > 0)
			off += n;
		if (got_sig) {
			got_sig = 0;
			if (fcntl(rfd, F_SETFL, 0) != 0)
				fail_errno("fcntl F_SETFL");
			if (syscall(SYS_pidfd_send_signal, pidfd, SIGUSR2, NULL, 0) != 0)
				fail_errno("pidfd_send_signal");
			say("usr1 sent");
		}
		if (now_ns() >= next) {
			log_record(logfd, 'P', ++records);
			say("producer %llu", (unsigned long long)off);
			next = now_ns() + REPORT_MS * 1000000ULL;
		}
	}
}

int main(void)
{
	int p[2], logfd, pidfd;
	pid_t child;

	handle(SIGUSR1);
	if (pipe(p) != 0)
		fail_errno("pipe");
	if (fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE) != PIPE_SIZE)
		fail_errno("F_SETPIPE_SZ");
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) != 0)
		fail_errno("F_SETFL");
	logfd = open(LOG_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0)
		fail_errno("open " LOG_NAME);
	child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0)
		consumer(p[0], logfd);
	pidfd = syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0)
		fail_errno("pidfd_open");
	say("ready %d %d", (int)getpid(), (int)child);
	producer(p[1], p[0], logfd, pidfd);
	return 0;
}
