/*
 * fd_async: signal-driven I/O (O_ASYNC), as nginx's master and workers
 * use on their channels. The parent P makes a socketpair, puts its end in
 * signal-driven mode (F_SETOWN_EX to itself, F_SETSIG SIGRTMIN+1,
 * O_ASYNC) and forks C, which writes one byte into its end every 20 ms.
 * P's handler counts the signals and P reads what arrived; it checks that
 * its end keeps its owner, signal and O_ASYNC.
 *
 * Output:
 *   ready <pid> <child pid>
 *   async <signals> <bytes> owner <pid> sig <n> flag <0|1>   every 200 ms
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

static volatile sig_atomic_t signals;

static void on_io(int sig)
{
	(void)sig;
	signals++;
}

int main(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		fail_errno("socketpair");
	pid_t c = fork();
	if (c < 0)
		fail_errno("fork");
	if (c == 0) {
		close(sv[0]);
		for (;;) {
			if (write(sv[1], "x", 1) != 1)
				fail_errno("child: write");
			usleep(20000);
		}
	}
	close(sv[1]);
	struct sigaction sa = { .sa_handler = on_io, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN + 1, &sa, NULL) != 0)
		fail_errno("sigaction");
	struct f_owner_ex own = { .type = F_OWNER_PID, .pid = getpid() };
	if (fcntl(sv[0], F_SETOWN_EX, &own) != 0 || fcntl(sv[0], F_SETSIG, SIGRTMIN + 1) != 0 ||
	    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC | O_NONBLOCK) != 0)
		fail_errno("signal-driven mode");
	say("ready %d %d", (int)getpid(), (int)c);
	long bytes = 0;
	for (;;) {
		usleep(200000);
		char buf[256];
		ssize_t n;
		while ((n = read(sv[0], buf, sizeof(buf))) > 0)
			bytes += n;
		struct f_owner_ex got;
		if (fcntl(sv[0], F_GETOWN_EX, &got) != 0)
			fail_errno("F_GETOWN_EX");
		say("async %d %ld owner %d sig %d flag %d", (int)signals, bytes, (int)got.pid,
		    fcntl(sv[0], F_GETSIG) - SIGRTMIN, (fcntl(sv[0], F_GETFL) & O_ASYNC) != 0);
	}
}
