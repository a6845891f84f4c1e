/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for accesslog.c: lines from several threads all arrive once
 * and whole, reopen after a rename splits old and new lines between the
 * two files, a writer stuck on a full FIFO never holds up the callers
 * (lines are dropped and counted instead), a failed reopen keeps the old
 * file and is counted, stderr mode, open errors, and what is refused at
 * the path (symlink, FIFO, hard link).  Every wait polls with a deadline.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "accesslog.h"
#include "util.h"

#define LINE_LEN	100		/* every test line, '\n' included */
#define NTHREADS	4
#define NLINES		5000		/* per thread */
#define DRAIN_MS	20000		/* the stuck-writer test's drain */

struct fixture {
	char	 dir[64];
};

/* Everything a test may leave in its directory, files before dirs. */
static const char *const fixture_files[] = {
	"access.log", "access.log.1", "fifo", "stderr.out",
	"sub/access.log", "sub.old/access.log", "sub", "sub.old",
};

static int
setup(void **state)
{
	struct fixture	*f;
	const char	*tmp = getenv("TMPDIR");

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_accesslog.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 path[256];
	size_t		 i;

	for (i = 0; i < NELEM(fixture_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, fixture_files[i]);
		if (unlink(path) == -1)
			rmdir(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char *
fpath(const struct fixture *f, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", f->dir, name);
	return buf;
}

/* Line ${n} of thread ${t}: its number, then letters that depend on it. */
static size_t
line_make(char *buf, int t, int n)
{
	int	 k;

	k = snprintf(buf, LINE_LEN, "t%d n%06d ", t, n);
	memset(buf + k, 'a' + (t * 31 + n) % 26, (size_t)(LINE_LEN - 1 - k));
	buf[LINE_LEN - 1] = '\n';
	return LINE_LEN;
}

/*
 * Check every line of ${p}[${n}] is a whole line_make() line of thread
 * ${want_t} (-1: any) and is new to ${seen} (NTHREADS x NLINES); return
 * how many lines there were.
 */
static size_t
lines_check(const char *p, size_t n, int want_t, unsigned char *seen)
{
	char	 expect[LINE_LEN];
	size_t	 count = 0;
	int	 t, k;

	if (n % LINE_LEN != 0)
		fail_msg("%zu bytes: not whole lines", n);
	for (; n > 0; p += LINE_LEN, n -= LINE_LEN, count++) {
		if (sscanf(p, "t%d n%d ", &t, &k) != 2 || t < 0 ||
		    t >= NTHREADS || k < 0 || k >= NLINES)
			fail_msg("bad line '%.*s'", LINE_LEN - 1, p);
		line_make(expect, t, k);
		if (memcmp(p, expect, LINE_LEN) != 0)
			fail_msg("mangled line '%.*s'", LINE_LEN - 1, p);
		if (want_t != -1 && t != want_t)
			fail_msg("line of thread %d in the wrong file", t);
		if (seen[t * NLINES + k]++ != 0)
			fail_msg("line t%d n%d twice", t, k);
	}
	return count;
}

/* Check the file at ${path} as lines_check() does. */
static size_t
file_check(const char *path, int want_t, unsigned char *seen)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0, count;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_not_equal(fstat(fd, &st), -1);
	assert_non_null(buf = malloc((size_t)st.st_size + 1));
	while (off < (size_t)st.st_size) {
		r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r == -1 && errno == EINTR)
			continue;
		assert_true(r > 0);
		off += (size_t)r;
	}
	close(fd);
	count = lines_check(buf, off, want_t, seen);
	free(buf);
	return count;
}

/* accesslog_open() and accesslog_start(), or fail the test. */
static struct accesslog *
open_started(const char *path)
{
	struct accesslog *l;
	char		 err[512];

	if ((l = accesslog_open(path, err, sizeof(err))) == NULL)
		fail_msg("accesslog_open: %s", err);
	assert_int_equal(accesslog_start(l), 0);
	return l;
}

static void
write_lines(struct accesslog *l, int t, int from, int to)
{
	char	 line[LINE_LEN];
	int	 n;

	for (n = from; n < to; n++)
		accesslog_write(l, line, line_make(line, t, n));
}

/* ---- several threads ---------------------------------------------------- */

struct producer {
	struct accesslog *l;
	int		 t;
};

static void *
producer_main(void *arg)
{
	struct producer	*p = arg;

	write_lines(p->l, p->t, 0, NLINES);
	return NULL;
}

static void
test_threads(void **state)
{
	struct fixture	*f = *state;
	struct producer	 p[NTHREADS];
	pthread_t	 th[NTHREADS];
	struct accesslog *l;
	unsigned char	*seen;
	char		 path[256];
	uint64_t	 dropped;
	size_t		 lines;
	int		 i;

	fpath(f, "access.log", path, sizeof(path));
	l = open_started(path);
	for (i = 0; i < NTHREADS; i++) {
		p[i].l = l;
		p[i].t = i;
		assert_int_equal(pthread_create(&th[i], NULL, producer_main,
		    &p[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	dropped = accesslog_dropped(l);
	accesslog_close(l);

	assert_non_null(seen = calloc(NTHREADS * NLINES, 1));
	lines = file_check(path, -1, seen);
	free(seen);
	/*
	 * 2 MB through a 1 MiB buffer: an idle machine drops nothing, but
	 * a busy one ("make -j2 check", two cores) may starve the writer
	 * long enough to drop some, so what must hold is the accounting.
	 */
	if (dropped != 0)
		print_message("note: %llu of %d lines dropped\n",
		    (unsigned long long)dropped, NTHREADS * NLINES);
	assert_int_equal(lines + dropped, NTHREADS * NLINES);
}

/* ---- reopen ------------------------------------------------------------- */

static void
test_reopen(void **state)
{
	struct fixture	*f = *state;
	struct accesslog *l;
	unsigned char	*seen;
	char		 path[256], old[256];

	fpath(f, "access.log", path, sizeof(path));
	fpath(f, "access.log.1", old, sizeof(old));
	l = open_started(path);
	write_lines(l, 0, 0, 100);
	assert_int_equal(rename(path, old), 0);	/* what logrotate does */
	accesslog_reopen(l);
	write_lines(l, 1, 0, 100);
	accesslog_reopen(l);		/* same path again: harmless */
	write_lines(l, 1, 100, 200);
	assert_int_equal(accesslog_dropped(l), 0);
	accesslog_close(l);

	assert_non_null(seen = calloc(NTHREADS * NLINES, 1));
	assert_int_equal(file_check(old, 0, seen), 100);
	assert_int_equal(file_check(path, 1, seen), 200);
	free(seen);
}

/* Wait (bounded) for accesslog_reopen_failures(l) to reach ${want}. */
static void
wait_reopen_failures(struct accesslog *l, uint64_t want)
{
	uint64_t	 deadline = util_now_ms() + DRAIN_MS;

	while (accesslog_reopen_failures(l) < want &&
	    util_now_ms() < deadline)
		(void)poll(NULL, 0, 5);
	assert_int_equal(accesslog_reopen_failures(l), want);
}

/*
 * The new path cannot be opened: keep writing to the old file, and count
 * the failure.
 */
static void
test_reopen_fails(void **state)
{
	struct fixture	*f = *state;
	struct accesslog *l;
	unsigned char	*seen;
	char		 path[256], dir[256], old[256];

	fpath(f, "sub", dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	fpath(f, "sub/access.log", path, sizeof(path));
	l = open_started(path);
	write_lines(l, 0, 0, 100);
	assert_int_equal(rename(dir, fpath(f, "sub.old", old, sizeof(old))),
	    0);
	accesslog_reopen(l);
	write_lines(l, 1, 0, 100);
	/* Counted for /metrics, once the writer has tried. */
	wait_reopen_failures(l, 1);
	accesslog_close(l);

	assert_non_null(seen = calloc(NTHREADS * NLINES, 1));
	fpath(f, "sub.old/access.log", old, sizeof(old));
	assert_int_equal(file_check(old, -1, seen), 200);
	free(seen);
	assert_int_equal(access(path, F_OK), -1);
}

/* ---- a stuck writer never blocks the callers ---------------------------- */

struct drain {
	int		 fd;
	size_t		 bytes;
	size_t		 lines;
	bool		 eof;
};

/* Read the FIFO until the writer closes it, or give up at the deadline. */
static void *
drain_main(void *arg)
{
	struct drain	*d = arg;
	struct pollfd	 pfd = { .fd = d->fd, .events = POLLIN };
	uint64_t	 deadline = util_now_ms() + DRAIN_MS, now;
	char		 buf[65536];
	ssize_t		 r, i;

	while ((now = util_now_ms()) < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now)) == -1 &&
		    errno != EINTR)
			break;
		r = read(d->fd, buf, sizeof(buf));
		if (r == 0) {
			d->eof = true;
			break;
		}
		if (r == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		d->bytes += (size_t)r;
		for (i = 0; i < r; i++)
			d->lines += buf[i] == '\n';
	}
	/* On a timeout this closes the pipe: the writer gets EPIPE. */
	close(d->fd);
	return NULL;
}

/*
 * The writer is stuck on a pipe that nobody reads (access_log = stderr,
 * with stderr a pipe, as under a service manager that stopped reading).
 */
static void
test_stuck_writer(void **state)
{
	struct accesslog *l;
	struct drain	 d = { .fd = -1 };
	pthread_t	 th;
	char		 err[256], line[LINE_LEN];
	uint64_t	 start, took, dropped;
	size_t		 i, total = 10 * 1024 * 1024 / LINE_LEN;
	int		 p[2], saved;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	d.fd = p[0];
	assert_int_not_equal(saved = dup(STDERR_FILENO), -1);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	l = accesslog_open("stderr", err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(accesslog_start(l), 0);

	start = util_now_ms();
	for (i = 0; i < total; i++)
		accesslog_write(l, line, line_make(line, 0, (int)(i % NLINES)));
	took = util_now_ms() - start;
	dropped = accesslog_dropped(l);
	if (took >= 1000)
		fail_msg("10 MiB of lines took %llu ms", (unsigned long long)took);
	assert_true(dropped > 0);

	assert_int_equal(pthread_create(&th, NULL, drain_main, &d), 0);
	accesslog_close(l);
	/* Our stderr back: the pipe's last writer gone, the drain sees EOF. */
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(d.eof);
	assert_int_equal(d.bytes, d.lines * LINE_LEN);
	assert_int_equal(d.lines + dropped, total);
}

/* ---- stderr, oversized lines, open errors -------------------------------- */

static void
test_stderr(void **state)
{
	struct fixture	*f = *state;
	struct accesslog *l;
	unsigned char	*seen;
	char		 path[256], err[256], *big;
	int		 fd, saved;

	fpath(f, "stderr.out", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_int_not_equal(fd, -1);
	assert_int_not_equal(saved = dup(STDERR_FILENO), -1);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);

	l = accesslog_open("stderr", err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(accesslog_start(l), 0);
	write_lines(l, 2, 0, 10);
	accesslog_reopen(l);			/* no-op */
	/* Larger than the whole buffer: dropped whole, counted once. */
	assert_non_null(big = malloc(ACCESSLOG_BUFFER + 1));
	memset(big, 'x', ACCESSLOG_BUFFER);
	big[ACCESSLOG_BUFFER] = '\n';
	accesslog_write(l, big, ACCESSLOG_BUFFER + 1);
	free(big);
	write_lines(l, 2, 10, 20);
	assert_int_equal(accesslog_dropped(l), 1);
	accesslog_close(l);
	accesslog_close(NULL);

	/* fd 2 is not the log's to close. */
	assert_int_not_equal(fcntl(STDERR_FILENO, F_GETFD), -1);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_non_null(seen = calloc(NTHREADS * NLINES, 1));
	assert_int_equal(file_check(path, 2, seen), 20);
	free(seen);
}

static void
test_open_errors(void **state)
{
	struct fixture	*f = *state;
	char		 path[256], err[512], want[600];

	fpath(f, "missing/access.log", path, sizeof(path));
	strcpy(err, "unset");
	assert_null(accesslog_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
	/* A NULL err buffer is allowed. */
	assert_null(accesslog_open(path, NULL, 0));
}

/*
 * What the service user could leave at the path in a directory of its
 * own, hoping root opens it at the next start: a symlink to a file root
 * may append to, a FIFO (which would hang the start), a hard link to
 * someone else's file.  Each is refused, with a reason, and the target
 * is untouched.
 */
static void
test_open_refuses(void **state)
{
	struct fixture	*f = *state;
	struct accesslog *l;
	struct stat	 st;
	char		 path[256], victim[256], err[512], want[600];
	int		 fd;

	fpath(f, "access.log.1", victim, sizeof(victim));
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_int_not_equal(fd, -1);
	assert_int_equal(write(fd, "precious\n", 9), 9);
	close(fd);
	fpath(f, "access.log", path, sizeof(path));

	assert_int_equal(symlink(victim, path), 0);
	assert_null(accesslog_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: is a symbolic link (not followed)",
	    path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);

	/* Hard links: two names, so not a log file of ours alone. */
	assert_int_equal(link(victim, path), 0);
	assert_null(accesslog_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: has 2 hard links; refusing a file "
	    "that is also elsewhere", path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 9);

	/* No reader: a blocking open would never return. */
	fpath(f, "fifo", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(accesslog_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	assert_string_equal(err, want);
	/* With a reader the open works, and the check after it refuses. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_int_not_equal(fd, -1);
	assert_null(accesslog_open(path, err, sizeof(err)));
	assert_string_equal(err, want);
	close(fd);

	/* A plain file is fine, and starts empty with mode 0640 at most. */
	fpath(f, "access.log", path, sizeof(path));
	assert_non_null(l = accesslog_open(path, err, sizeof(err)));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0137, 0);
	accesslog_close(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stuck_writer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses, setup,
		    teardown),
	};

	/* A writer that blocked a caller would hang us: bound the run. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
