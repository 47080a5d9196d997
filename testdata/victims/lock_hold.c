/*
 * lock_hold: a process (or a parent and child) holding file locks on files
 * in the directory DIR it is given, created there if missing.
 *
 *   lock_hold single DIR
 *     DIR/flock  flock(LOCK_EX)
 *     DIR/posix  fcntl F_SETLK write lock on bytes 0-99 (start 0, len 100)
 *                and read lock on bytes 200 to the end (start 200, len 0)
 *     DIR/ofd    fcntl F_OFD_SETLK write lock on bytes 10-19
 *   On SIGUSR1 it drops every lock (LOCK_UN, F_UNLCK) and says so; on
 *   SIGUSR2 it takes them all again, without waiting, and says so.
 *
 *   lock_hold tree DIR
 *     The parent opens DIR/shared, takes flock(LOCK_EX) and forks a child:
 *     the two share the locked open file description (one lock). On
 *     SIGUSR1 the child drops the lock through its descriptor (LOCK_UN),
 *     which frees it for both.
 *
 *   lock_hold lease DIR
 *     A read lease (F_SETLEASE) on DIR/lease, which crlazy refuses.
 *
 * Every TICK_MS each process checks what it can see of its own locks from
 * a second description (another flock fails, the OFD lock shows with
 * F_OFD_GETLK) while it believes it holds them.
 *
 * Output:
 *   ready <pid> [<child pid>]
 *   tick <n>                  the (parent) process goes on
 *   unlocked | relocked       after SIGUSR1 / SIGUSR2 (single)
 *   child unlocked            after SIGUSR1 to the child (tree)
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>

#define TICK_MS 50
#define PATH_MAX_LEN 4096

static volatile sig_atomic_t got_usr1, got_usr2;

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }
static void on_usr2(int sig) { (void)sig; got_usr2 = 1; }

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn }; /* no SA_RESTART */

	if (sigaction(sig, &sa, NULL) != 0)
		fail_errno("sigaction");
}

static int open_in(const char *dir, const char *name, int flags)
{
	char path[PATH_MAX_LEN];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CREAT, 0644);
	if (fd < 0)
		fail_errno(path);
	return fd;
}

static void range_lock(int fd, int cmd, short type, off_t start, off_t len, const char *what)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &l) != 0)
		fail_errno(what);
}

struct single {
	const char *dir;
	int flock_fd, posix_fd, ofd_fd;
	int held;
};

static void lock_all(struct single *s, int on)
{
	if (flock(s->flock_fd, on ? LOCK_EX | LOCK_NB : LOCK_UN) != 0)
		fail_errno("flock");
	range_lock(s->posix_fd, F_SETLK, on ? F_WRLCK : F_UNLCK, 0, 100, "posix write lock");
	range_lock(s->posix_fd, F_SETLK, on ? F_RDLCK : F_UNLCK, 200, 0, "posix read lock");
	range_lock(s->ofd_fd, F_OFD_SETLK, on ? F_WRLCK : F_UNLCK, 10, 10, "ofd lock");
	s->held = on;
}

/* check_held looks at the flock and OFD lock from new descriptions. */
static void check_held(struct single *s)
{
	int fd = open_in(s->dir, "flock", O_RDONLY);
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 15, .l_len = 1 };

	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		fail("the flock on %s/flock is not held", s->dir);
	if (errno != EWOULDBLOCK)
		fail_errno("flock check");
	close(fd);
	fd = open_in(s->dir, "ofd", O_RDWR);
	if (fcntl(fd, F_OFD_GETLK, &l) != 0)
		fail_errno("F_OFD_GETLK");
	if (l.l_type != F_WRLCK || l.l_start != 10 || l.l_len != 10)
		fail("the ofd lock is not held: type %d start %lld len %lld", l.l_type,
		     (long long)l.l_start, (long long)l.l_len);
	close(fd);
}

static void run_single(const char *dir)
{
	struct single s = { .dir = dir };
	unsigned long n = 0;

	s.flock_fd = open_in(dir, "flock", O_RDONLY);
	s.posix_fd = open_in(dir, "posix", O_RDWR);
	s.ofd_fd = open_in(dir, "ofd", O_RDWR);
	lock_all(&s, 1);
	say("ready %d", getpid());
	for (;;) {
		if (got_usr1) {
			got_usr1 = 0;
			lock_all(&s, 0);
			say("unlocked");
		}
		if (got_usr2) {
			got_usr2 = 0;
			lock_all(&s, 1);
			say("relocked");
		}
		if (s.held)
			check_held(&s);
		say("tick %lu", ++n);
		sleep_ms(TICK_MS);
	}
}

static void run_tree(const char *dir)
{
	int fd = open_in(dir, "shared", O_RDWR);
	unsigned long n = 0;
	pid_t child;

	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		fail_errno("flock shared");
	child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			fail_errno("prctl");
		for (;;) {
			if (got_usr1) {
				got_usr1 = 0;
				if (flock(fd, LOCK_UN) != 0)
					fail_errno("child flock LOCK_UN");
				say("child unlocked");
			}
			sleep_ms(TICK_MS);
		}
	}
	say("ready %d %d", getpid(), child);
	for (;;) {
		say("tick %lu", ++n);
		sleep_ms(TICK_MS);
	}
}

static void run_lease(const char *dir)
{
	int fd = open_in(dir, "lease", O_RDONLY);
	unsigned long n = 0;

	if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0)
		fail_errno("F_SETLEASE");
	say("ready %d", getpid());
	for (;;) {
		say("tick %lu", ++n);
		sleep_ms(TICK_MS);
	}
}

int main(int argc, char **argv)
{
	const char *text = "lock_hold single|tree|lease DIR";

	if (argc != 3)
		usage(text);
	handle(SIGUSR1, on_usr1);
	handle(SIGUSR2, on_usr2);
	if (strcmp(argv[1], "single") == 0)
		run_single(argv[2]);
	else if (strcmp(argv[1], "tree") == 0)
		run_tree(argv[2]);
	else if (strcmp(argv[1], "lease") == 0)
		run_lease(argv[2]);
	usage(text);
}
