/*
 * files DIR: a victim whose state is mostly open file descriptions.
 *
 * It opens
 *   data   DIR/data, O_RDWR|O_CREAT|O_TRUNC, and dup() of it (one shared offset)
 *   log    DIR/log, O_WRONLY|O_CREAT|O_APPEND
 *   dir    DIR, O_RDONLY|O_DIRECTORY|O_CLOEXEC
 *   null   /dev/null, O_WRONLY
 *   zero   /dev/zero, O_RDONLY
 * and loops: write record <counter> (RECORD_SIZE bytes) to data, through the
 * fd and its dup in turn; check both offsets are counter*RECORD_SIZE; read
 * back the new record and an older one with pread; append "log <counter>" to
 * log and check its size; write to /dev/null; read zeros from /dev/zero; check
 * the dir fd is still DIR and data is still DIR/data (same inode), and the
 * flags (access mode, O_APPEND, FD_CLOEXEC) of each fd; then sleep TICK_MS in
 * nanosleep, so a dump often finds it inside a syscall.
 *
 * Output (one line each, flushed):
 *   ready <pid>
 *   tick <counter> <offset>          offset = counter*RECORD_SIZE, after each record
 *   FAIL ...
 */
#include "victim.h"

#include <fcntl.h>
#include <sys/stat.h>

#define USAGE "files DIR"
#define RECORD_SIZE 64
#define ZERO_READ 16
#define TICK_MS 20

struct files {
	int data, dup, log, dir, null, zero;
	ino_t dir_ino, data_ino;
	off_t log_size;
};

static int open_or_fail(int dirfd, const char *path, int flags)
{
	int fd = openat(dirfd, path, flags, 0644);

	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	return fd;
}

static ino_t ino_of(int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		fail("fstat %s: %s", what, strerror(errno));
	return st.st_ino;
}

static void files_open(struct files *f, const char *dir)
{
	f->dir = open_or_fail(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->data = open_or_fail(f->dir, "data", O_RDWR | O_CREAT | O_TRUNC);
	f->dup = dup(f->data);
	if (f->dup < 0)
		fail_errno("dup data");
	f->log = open_or_fail(f->dir, "log", O_WRONLY | O_CREAT | O_APPEND);
	f->null = open_or_fail(AT_FDCWD, "/dev/null", O_WRONLY);
	f->zero = open_or_fail(AT_FDCWD, "/dev/zero", O_RDONLY);
	f->dir_ino = ino_of(f->dir, "dir");
	f->data_ino = ino_of(f->data, "data");
	f->log_size = 0;
	if (ftruncate(f->log, 0) != 0)
		fail_errno("truncate log");
}

static void record(char *buf, unsigned long long n)
{
	int len = snprintf(buf, RECORD_SIZE, "rec %020llu", n);

	memset(buf + len, '.', RECORD_SIZE - 1 - len);
	buf[RECORD_SIZE - 1] = '\n';
}

static void check_record(const struct files *f, unsigned long long n)
{
	char want[RECORD_SIZE], got[RECORD_SIZE];
	ssize_t r = pread(f->data, got, RECORD_SIZE, (off_t)(n - 1) * RECORD_SIZE);

	record(want, n);
	if (r != RECORD_SIZE || memcmp(got, want, RECORD_SIZE) != 0)
		fail("data record %llu: read %zd bytes: %.20s", n, r, r > 0 ? got : "");
}

static void check_offset(int fd, const char *what, off_t want)
{
	off_t got = lseek(fd, 0, SEEK_CUR);

	if (got != want)
		fail("%s offset %lld, want %lld", what, (long long)got, (long long)want);
}

static void check_flags(int fd, const char *what, int fl_mask, int fl_want, int fd_want)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	if (fl < 0 || fdfl < 0)
		fail("fcntl %s: %s", what, strerror(errno));
	if ((fl & fl_mask) != fl_want || (fdfl & FD_CLOEXEC) != fd_want)
		fail("%s flags %#x fd flags %#x", what, fl, fdfl);
}

static void write_data(struct files *f, unsigned long long n)
{
	char buf[RECORD_SIZE];
	int fd = n % 2 ? f->data : f->dup;

	record(buf, n);
	if (write(fd, buf, RECORD_SIZE) != RECORD_SIZE)
		fail("write data record %llu: %s", n, strerror(errno));
	check_offset(f->data, "data", (off_t)n * RECORD_SIZE);
	check_offset(f->dup, "dup of data", (off_t)n * RECORD_SIZE);
	check_record(f, n);
	check_record(f, 1 + mix64(n) % n);
}

static void write_log(struct files *f, unsigned long long n)
{
	char line[64];
	int len = snprintf(line, sizeof(line), "log %llu\n", n);
	struct stat st;

	if (write(f->log, line, len) != len)
		fail("write log: %s", strerror(errno));
	f->log_size += len;
	if (fstat(f->log, &st) != 0)
		fail_errno("fstat log");
	if (st.st_size != f->log_size)
		fail("log size %lld, want %lld", (long long)st.st_size, (long long)f->log_size);
}

static void check_devices(const struct files *f)
{
	char buf[ZERO_READ];

	if (write(f->null, "0123456789abcdef", ZERO_READ) != ZERO_READ)
		fail("write /dev/null: %s", strerror(errno));
	memset(buf, 0xa5, sizeof(buf));
	if (read(f->zero, buf, ZERO_READ) != ZERO_READ)
		fail("read /dev/zero: %s", strerror(errno));
	for (int i = 0; i < ZERO_READ; i++)
		if (buf[i] != 0)
			fail("read /dev/zero: byte %d is %#x", i, (unsigned char)buf[i]);
}

static void check_identity(const struct files *f)
{
	struct stat st;

	if (fstat(f->dir, &st) != 0)
		fail_errno("fstat dir");
	if (!S_ISDIR(st.st_mode) || st.st_ino != f->dir_ino)
		fail("dir fd: mode %o inode %llu", st.st_mode, (unsigned long long)st.st_ino);
	if (fstatat(f->dir, "data", &st, 0) != 0)
		fail_errno("stat DIR/data");
	if (st.st_ino != f->data_ino || ino_of(f->data, "data") != f->data_ino)
		fail("data fd is no longer DIR/data");
	check_flags(f->data, "data", O_ACCMODE | O_APPEND, O_RDWR, 0);
	check_flags(f->dup, "dup", O_ACCMODE | O_APPEND, O_RDWR, 0);
	check_flags(f->log, "log", O_ACCMODE | O_APPEND, O_WRONLY | O_APPEND, 0);
	check_flags(f->dir, "dir", O_ACCMODE | O_DIRECTORY, O_RDONLY | O_DIRECTORY, FD_CLOEXEC);
	check_flags(f->null, "null", O_ACCMODE, O_WRONLY, 0);
	check_flags(f->zero, "zero", O_ACCMODE, O_RDONLY, 0);
}

int main(int argc, char **argv)
{
	struct files f;

	if (argc != 2)
		usage(USAGE);
	files_open(&f, argv[1]);
	say("ready %d", (int)getpid());
	for (unsigned long long n = 1;; n++) {
		write_data(&f, n);
		write_log(&f, n);
		check_devices(&f);
		check_identity(&f);
		say("tick %llu %lld", n, (long long)n * RECORD_SIZE);
		sleep_ms(TICK_MS);
	}
}
