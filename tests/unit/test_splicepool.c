/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for splice.c's pool: pipes are lent at the size asked, taken
 * back and reused; and once the user's pipe pages are spent (Linux gives
 * an unprivileged user 8 KiB pipes past fs.pipe-user-pages-soft), the
 * pool refuses rather than lend a pipe too small to pay, so the session
 * copies.  That last test needs root, to become a user of its own in a
 * forked child (a uid nobody else uses, so no other test shares its
 * pages); the child reports the first failed check by its exit status.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

#include "splice.h"

/* A uid with no passwd entry, for this test alone. */
#define SPENT_UID ((uid_t)3999817)

/* Pages a default pipe holds: 64 KiB. */
#define PIPE_PAGES 16

static void
test_lend_and_reuse(void **state)
{
	struct splice_pool sp;
	struct splice_pipe kp;
	int		   fd;

	(void)state;
	if (!splice_supported())
		skip();
	splice_pool_init(&sp);
	assert_int_equal(splice_pool_get(&sp, 64 * 1024, 1, &kp), 0);
	assert_int_equal(kp.cap, 64 * 1024);
	assert_int_equal(fcntl(kp.fd[0], F_GETPIPE_SZ), 64 * 1024);
	fd = kp.fd[0];
	splice_pool_put(&sp, &kp, true);
	assert_int_equal(kp.fd[0], -1);
	assert_int_equal(splice_pool_cached(&sp), 1);
	/* The same pipe again, with no system call to make it. */
	assert_int_equal(splice_pool_get(&sp, 64 * 1024, 2, &kp), 0);
	assert_int_equal(kp.fd[0], fd);
	assert_int_equal(splice_pool_cached(&sp), 0);
	/* One that held bytes is closed, never lent again. */
	splice_pool_put(&sp, &kp, false);
	assert_int_equal(splice_pool_cached(&sp), 0);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	splice_pool_free(&sp);
}

/* fs.pipe-user-pages-soft, or -1. */
static long
pages_soft(void)
{
	FILE *f;
	long  v = -1;

	if ((f = fopen("/proc/sys/fs/pipe-user-pages-soft", "re")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * The child: as SPENT_UID, check that a 64 KiB pipe can be had, spend
 * the user's pages with plain pipes, then check that the pool refuses
 * with ENOBUFS and goes lean.  Exit status: 0, or the failed check.
 */
static int
spend_and_ask(long soft)
{
	struct splice_pool sp;
	struct splice_pipe kp;
	struct rlimit	   rl;
	long		   i, want = soft / PIPE_PAGES + 8;
	int		   fd[2];

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 10;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    (rlim_t)(2 * want + 64) > rl.rlim_cur)
		return 77; /* not enough descriptors here: skip */
	if (setgroups(0, NULL) == -1 || setgid((gid_t)SPENT_UID) == -1 ||
	    setuid(SPENT_UID) == -1)
		return 11;
	splice_pool_init(&sp);
	if (splice_pool_get(&sp, 64 * 1024, 1, &kp) != 0 || kp.cap != 64 * 1024)
		return 12;
	splice_pool_put(&sp, &kp, false); /* closed: no cached pipe */
	for (i = 0; i < want; i++) {
		if (pipe(fd) == -1)
			return 13;
		if (fcntl(fd[0], F_GETPIPE_SZ) < 64 * 1024)
			break;
	}
	if (i == want)
		return 14; /* the soft limit never bit */
	errno = 0;
	if (splice_pool_get(&sp, 64 * 1024, 2, &kp) != -1)
		return 15;
	if (errno != ENOBUFS)
		return 16;
	if (kp.fd[0] != -1 || sp.live != 0)
		return 17;
	if (sp.lean_until == 0)
		return 18;
	return 0;
}

static void
test_spent_pages_refused(void **state)
{
	long  soft = pages_soft();
	pid_t pid;
	int   status;

	(void)state;
	if (!splice_supported() || geteuid() != 0 || soft <= 0) {
		print_message("needs root and fs.pipe-user-pages-soft > 0\n");
		skip();
	}
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(spend_and_ask(soft));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		print_message("not enough descriptors to spend %ld pages\n",
		    soft);
		skip();
	}
	print_message(
	    "uid %u spent its %ld pipe pages; the pool then said %s\n",
	    (unsigned)SPENT_UID, soft,
	    WEXITSTATUS(status) == 0 ? "ENOBUFS and went lean" : "otherwise");
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lend_and_reuse),
		cmocka_unit_test(test_spent_pages_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
