/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for privdrop.c: looking users and groups up, the errors for
 * unknown ones, and, when run as root, a real drop to "nobody" in a
 * forked child that then checks from the inside what it may still do,
 * and the check that every thread, not only the caller, was changed.
 * The child reports the first failed check through a pipe and its exit
 * status; the parent asserts.
 */
#include "autoconf.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
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

#include "privdrop.h"
#include "util.h"

#define WAIT_MS		5000
#define NO_USER		"relay46-no-such-user"
#define NO_GROUP	"relay46-no-such-group"

static void
test_resolve_root(void **state)
{
	struct group	*gr;
	uid_t		 uid = 99;
	gid_t		 gid = 99;
	char		 err[256], name[64];

	(void)state;
	err[0] = '\0';
	if (privdrop_resolve("root", NULL, &uid, &gid, err, sizeof(err)) != 0)
		fail_msg("root: %s", err);
	assert_int_equal(uid, 0);
	assert_int_equal(gid, 0);

	/* An explicit group wins over the primary one. */
	if ((gr = getgrgid(0)) == NULL)
		skip();
	snprintf(name, sizeof(name), "%s", gr->gr_name);
	gid = 99;
	assert_int_equal(privdrop_resolve("root", name, &uid, &gid, err,
	    sizeof(err)), 0);
	assert_int_equal(gid, 0);
	/* No user: the group only (how the config checks "group ="). */
	gid = 99;
	assert_int_equal(privdrop_resolve(NULL, name, &uid, &gid, err,
	    sizeof(err)), 0);
	assert_int_equal(gid, 0);
}

static void
test_resolve_unknown(void **state)
{
	uid_t	 uid = 42;
	gid_t	 gid = 42;
	char	 err[256];

	(void)state;
	assert_int_equal(privdrop_resolve(NO_USER, NULL, &uid, &gid, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "user '" NO_USER "' does not exist");
	assert_int_equal(privdrop_resolve(NO_USER, "root", &uid, &gid, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "user '" NO_USER "' does not exist");
	assert_int_equal(privdrop_resolve("root", NO_GROUP, &uid, &gid, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "group '" NO_GROUP "' does not exist");
	assert_int_equal(privdrop_resolve(NULL, NO_GROUP, &uid, &gid, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "group '" NO_GROUP "' does not exist");
	/* Nothing is written on failure. */
	assert_int_equal(uid, 42);
	assert_int_equal(gid, 42);
}

/* ---- a real drop, in a child ------------------------------------------ */

struct drop {
	char	 dir[256];
	char	 secret[PATH_MAX];	/* root's, mode 0600 */
	char	 open[PATH_MAX];	/* root's, mode 0644 */
	uid_t	 uid;
	gid_t	 gid;
	gid_t	 groups[64];		/* what nobody should end up in */
	int	 ngroups;
	int	 report;
};

#define CHECK(d, cond) do {						\
	if (!(cond))							\
		child_fail((d), __LINE__, #cond);			\
} while (0)

static void __attribute__((noreturn))
child_fail(struct drop *d, int line, const char *what)
{
	char	 buf[512];
	int	 len;

	len = snprintf(buf, sizeof(buf), "child line %d: %s (errno %s)",
	    line, what, strerror(errno));
	if (len > 0)
		(void)!write(d->report, buf, (size_t)len);
	_exit(1);
}

static bool
in_groups(const struct drop *d, gid_t g)
{
	int	 i;

	for (i = 0; i < d->ngroups; i++)
		if (d->groups[i] == g)
			return true;
	return false;
}

static void
child_drop(struct drop *d)
{
	gid_t	 got[64];
	char	 err[256];
	int	 i, n, fd;

	if (privdrop_apply("nobody", d->uid, d->gid, err, sizeof(err)) != 0) {
		errno = 0;
		child_fail(d, __LINE__, err);
	}
	CHECK(d, getuid() == d->uid && geteuid() == d->uid);
	CHECK(d, getgid() == d->gid && getegid() == d->gid);
	CHECK(d, (n = getgroups((int)NELEM(got), got)) != -1);
	/* Root's group 0 is gone; nobody's own groups, and only they, remain. */
	for (i = 0; i < n; i++)
		CHECK(d, in_groups(d, got[i]));
	for (i = 0; i < n && got[i] != d->gid; i++)
		continue;
	CHECK(d, i < n);
	CHECK(d, setuid(0) == -1 && errno == EPERM);
	CHECK(d, seteuid(0) == -1 && errno == EPERM);
	/* And a second drop, back up, fails at its first step. */
	CHECK(d, privdrop_apply("root", 0, 0, err, sizeof(err)) == -1);
	CHECK(d, strncmp(err, "setgroups: ", 11) == 0);
	/* The directory is open to all: EACCES comes from the file's mode. */
	CHECK(d, (fd = open(d->open, O_RDONLY)) != -1);
	close(fd);
	CHECK(d, open(d->secret, O_RDONLY) == -1 && errno == EACCES);
	_exit(0);
}

static void
make_file(const char *path, mode_t mode)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		fail_msg("create %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	/* Whatever the umask did. */
	assert_int_equal(chmod(path, mode), 0);
}

/* Run ${fn} in a child; its wait status, and its report in ${buf}. */
static int
run_child(struct drop *d, void (*fn)(struct drop *), char *buf, size_t len)
{
	struct pollfd	 p;
	ssize_t		 r;
	size_t		 got = 0;
	pid_t		 pid;
	int		 pfd[2], status;

	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	assert_int_not_equal((pid = fork()), -1);
	if (pid == 0) {
		close(pfd[0]);
		d->report = pfd[1];
		fn(d);
		_exit(0);
	}
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	/* Until the child's exit closes its end; a hung child is killed. */
	for (;;) {
		if (poll(&p, 1, WAIT_MS) != 1) {
			kill(pid, SIGKILL);
			break;
		}
		r = read(pfd[0], buf + got, len - 1 - got);
		if (r <= 0 || (got += (size_t)r) == len - 1)
			break;
	}
	buf[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
test_apply_nobody(void **state)
{
	struct drop	 d;
	struct passwd	*pw;
	const char	*group;
	char		 err[256], report[512];
	int		 status;

	(void)state;
	if (geteuid() != 0)
		skip();
	if ((pw = getpwnam("nobody")) == NULL)
		skip();
	memset(&d, 0, sizeof(d));
	group = getgrnam("nogroup") != NULL ? "nogroup" : NULL;
	if (privdrop_resolve("nobody", group, &d.uid, &d.gid, err,
	    sizeof(err)) != 0)
		fail_msg("nobody: %s", err);
	assert_int_equal(d.uid, pw->pw_uid);
	d.ngroups = (int)NELEM(d.groups);
	if (getgrouplist("nobody", d.gid, d.groups, &d.ngroups) == -1)
		fail_msg("nobody is in more than %zu groups", NELEM(d.groups));

	/*
	 * Not $TMPDIR: nobody must be able to reach the directory, and a
	 * TMPDIR under /root would give EACCES for the wrong reason.
	 */
	snprintf(d.dir, sizeof(d.dir), "/tmp/relay46-test.XXXXXX");
	if (mkdtemp(d.dir) == NULL)
		fail_msg("mkdtemp %s: %s", d.dir, strerror(errno));
	assert_int_equal(chmod(d.dir, 0755), 0);
	snprintf(d.secret, sizeof(d.secret), "%s/secret", d.dir);
	snprintf(d.open, sizeof(d.open), "%s/open", d.dir);
	make_file(d.secret, 0600);
	make_file(d.open, 0644);

	status = run_child(&d, child_drop, report, sizeof(report));
	unlink(d.secret);
	unlink(d.open);
	rmdir(d.dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status %#x): %s", status, report);
}

/* ---- every thread, not just the caller ---------------------------------- */

/* A thread that sits in read() until its pipe closes (the child's exit). */
static void *
idle_main(void *arg)
{
	char	 c;

	(void)!read(*(int *)arg, &c, 1);
	return NULL;
}

static void
start_idle(struct drop *d, pthread_t *th, int *pfd)
{
	CHECK(d, pipe(pfd) == 0);
	CHECK(d, pthread_create(th, NULL, idle_main, &pfd[0]) == 0);
}

/*
 * Only the calling thread drops (the raw system calls, which glibc does
 * not pass on to the other threads as it does for setuid()): the other
 * thread is still root, and privdrop_check_threads() must say so.
 */
static void
child_raw_drop(struct drop *d)
{
	pthread_t	 th;
	char		 err[256];
	int		 pfd[2];

	start_idle(d, &th, pfd);
	CHECK(d, syscall(SYS_setgroups, 1, &d->gid) == 0);
	CHECK(d, syscall(SYS_setresgid, d->gid, d->gid, d->gid) == 0);
	CHECK(d, syscall(SYS_setresuid, d->uid, d->uid, d->uid) == 0);
	CHECK(d, privdrop_check_threads(d->uid, d->gid, err,
	    sizeof(err)) == -1);
	CHECK(d, strstr(err, " still has uids 0/0/0/0 and gids 0/0/0/0, "
	    "not ") != NULL);
	_exit(0);
}

/* privdrop_apply() with a second thread running: both are changed. */
static void
child_apply_threads(struct drop *d)
{
	pthread_t	 th;
	char		 err[256];
	int		 pfd[2];

	start_idle(d, &th, pfd);
	if (privdrop_apply("nobody", d->uid, d->gid, err, sizeof(err)) != 0) {
		errno = 0;
		child_fail(d, __LINE__, err);
	}
	CHECK(d, privdrop_check_threads(d->uid, d->gid, err,
	    sizeof(err)) == 0);
	_exit(0);
}

static void
test_threads(void **state)
{
	struct drop	 d;
	char		 err[256], report[512];
	int		 status;

	(void)state;
	/* As we are, every thread has our ids. */
	if (privdrop_check_threads(getuid(), getgid(), err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (geteuid() != 0 || getpwnam("nobody") == NULL)
		skip();
	memset(&d, 0, sizeof(d));
	if (privdrop_resolve("nobody", NULL, &d.uid, &d.gid, err,
	    sizeof(err)) != 0)
		fail_msg("nobody: %s", err);
	status = run_child(&d, child_raw_drop, report, sizeof(report));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("raw drop (status %#x): %s", status, report);
	status = run_child(&d, child_apply_threads, report, sizeof(report));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("apply (status %#x): %s", status, report);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_root),
		cmocka_unit_test(test_resolve_unknown),
		cmocka_unit_test(test_apply_nobody),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
