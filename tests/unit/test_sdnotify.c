/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for sdnotify.c.  A unix datagram socket in a temporary
 * directory (or in the abstract namespace) stands in for systemd and
 * receives what sdnotify() sends.  Socket activation runs in a forked
 * child, which can lay its sockets out on fds 3, 4, ... as systemd does
 * without disturbing cmocka; the child reports the first check that
 * failed through a pipe and its exit status, and the parent asserts.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "addr.h"
#include "sdnotify.h"
#include "util.h"

#define WAIT_MS		5000	/* for anything that should be at once */

/* ---- a stand-in for systemd's notify socket ---------------------------- */

struct fake {
	char	 dir[256];
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int	 fd;
};

static int
fake_setup(void **state)
{
	struct fake	*f;
	const char	*base;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->fd = -1;
	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/relay46-test.XXXXXX", base);
	if (mkdtemp(f->dir) == NULL) {
		print_error("mkdtemp %s: %s\n", f->dir, strerror(errno));
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
fake_teardown(void **state)
{
	struct fake	*f = *state;

	unsetenv("NOTIFY_SOCKET");
	if (f->fd != -1)
		close(f->fd);
	if (f->path[0] != '\0')
		unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Bind the stand-in: a file in the directory, or "@..." (abstract). */
static void
fake_bind(struct fake *f, bool abstract)
{
	struct sockaddr_un	 un;
	socklen_t		 len;
	char			 name[64];

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (abstract) {
		snprintf(name, sizeof(name), "relay46-test-%ld-%p",
		    (long)getpid(), (void *)f);
		memcpy(un.sun_path + 1, name, strlen(name));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(name));
		snprintf(f->path, sizeof(f->path), "@%s", name);
	} else {
		if ((size_t)snprintf(f->path, sizeof(f->path), "%s/notify",
		    f->dir) >= sizeof(f->path))
			skip();		/* TMPDIR too long for a unix socket */
		memcpy(un.sun_path, f->path, strlen(f->path) + 1);
		len = (socklen_t)sizeof(un);
	}
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_not_equal(f->fd, -1);
	if (bind(f->fd, (struct sockaddr *)&un, len) == -1)
		fail_msg("bind %s: %s", f->path, strerror(errno));
	assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
	/* Only a file needs unlinking at teardown. */
	if (abstract)
		f->path[0] = '\0';
}

/* The next datagram, waiting up to ${ms}; its length, or -1 if none came. */
static ssize_t
fake_recv(struct fake *f, char *buf, size_t len, int ms)
{
	struct pollfd	 p = { .fd = f->fd, .events = POLLIN };
	ssize_t		 r;

	if (poll(&p, 1, ms) != 1)
		return -1;
	r = recv(f->fd, buf, len - 1, MSG_DONTWAIT);
	if (r >= 0)
		buf[r] = '\0';
	return r;
}

static void
expect_status(struct fake *f)
{
	char	 buf[256];
	ssize_t	 r;

	assert_int_equal(sdnotify("READY=1\nSTATUS=%u sessions", 3u), 0);
	r = fake_recv(f, buf, sizeof(buf), WAIT_MS);
	assert_true(r > 0);
	assert_string_equal(buf, "READY=1\nSTATUS=3 sessions");
	/* One datagram, not one per line. */
	assert_int_equal(fake_recv(f, buf, sizeof(buf), 0), -1);
}

static void
test_notify_path(void **state)
{
	struct fake	*f = *state;

	fake_bind(f, false);
	expect_status(f);
}

static void
test_notify_abstract(void **state)
{
	struct fake	*f = *state;

	fake_bind(f, true);
	expect_status(f);
}

/* Outside systemd: success, and nothing anywhere. */
static void
test_notify_unset(void **state)
{
	struct fake	*f = *state;
	char		 buf[64];

	fake_bind(f, false);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sdnotify("READY=1"), 0);
	/* sendto() on a unix socket queues before it returns: no wait. */
	assert_int_equal(fake_recv(f, buf, sizeof(buf), 0), -1);
}

/* A STATUS line longer than any fixed buffer arrives whole. */
static void
test_notify_long(void **state)
{
	struct fake	*f = *state;
	char		 text[3001], want[3100], buf[4096];

	fake_bind(f, false);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	snprintf(want, sizeof(want), "STATUS=%s", text);
	assert_int_equal(sdnotify("STATUS=%s", text), 0);
	assert_int_equal(fake_recv(f, buf, sizeof(buf), WAIT_MS),
	    (ssize_t)strlen(want));
	assert_string_equal(buf, want);
}

static void
test_notify_errors(void **state)
{
	struct fake	*f = *state;
	char		 path[512];

	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	errno = 0;
	assert_int_equal(sdnotify("READY=1"), -1);
	assert_int_equal(errno, EAFNOSUPPORT);

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	setenv("NOTIFY_SOCKET", path, 1);
	errno = 0;
	assert_int_equal(sdnotify("READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	path[0] = '@';
	setenv("NOTIFY_SOCKET", path, 1);
	errno = 0;
	assert_int_equal(sdnotify("READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	/* Nobody listening: an error with errno, never a signal. */
	snprintf(path, sizeof(path), "%s/nobody", f->dir);
	setenv("NOTIFY_SOCKET", path, 1);
	errno = 0;
	assert_int_equal(sdnotify("READY=1"), -1);
	assert_int_not_equal(errno, 0);
}

/* ---- LISTEN_PID / LISTEN_FDS: parsing, in this process ----------------- */

#define SELF	"self"
#define OTHER	"other"

struct env_row {
	const char	*pid;		/* SELF, OTHER, NULL (unset) or text */
	const char	*fds;		/* NULL: unset */
	int		 rc;
	const char	*why;		/* part of err when rc is -1 */
};

/* Rows that never reach fd 3, so they are safe outside a child. */
static const struct env_row env_rows[] = {
	{ NULL,		"2",	0,	NULL },
	{ OTHER,	"2",	0,	NULL },
	{ SELF,		NULL,	0,	NULL },
	{ SELF,		"0",	0,	NULL },
	{ SELF,		"abc",	-1,	"LISTEN_FDS=abc: not a number" },
	{ SELF,		"-1",	-1,	"LISTEN_FDS=-1: not a number" },
	{ SELF,		" 2",	-1,	"not a number" },
	{ SELF,		"2x",	-1,	"not a number" },
	{ SELF,		"",	-1,	"not a number" },
	{ SELF,		"1025",	-1,	"LISTEN_FDS=1025: more than 1024" },
	{ SELF,		"99999999999999999999999", -1, "not a number" },
	{ "12x",	"1",	-1,	"LISTEN_PID=12x: not a process id" },
	{ "",		"1",	-1,	"not a process id" },
};

static void
set_pid_env(const char *pid)
{
	char	 buf[32];

	if (pid == NULL)
		unsetenv("LISTEN_PID");
	else if (strcmp(pid, SELF) == 0 || strcmp(pid, OTHER) == 0) {
		snprintf(buf, sizeof(buf), "%ld", strcmp(pid, SELF) == 0 ?
		    (long)getpid() : (long)getppid());
		setenv("LISTEN_PID", buf, 1);
	} else
		setenv("LISTEN_PID", pid, 1);
}

static void
test_listen_env(void **state)
{
	const struct env_row	*r;
	int			*fds;
	size_t			 i, n;
	char			 err[256];

	(void)state;
	for (i = 0; i < NELEM(env_rows); i++) {
		r = &env_rows[i];
		set_pid_env(r->pid);
		if (r->fds != NULL)
			setenv("LISTEN_FDS", r->fds, 1);
		else
			unsetenv("LISTEN_FDS");
		setenv("LISTEN_FDNAMES", "x", 1);
		err[0] = '\0';
		n = 99;
		fds = (int *)&n;
		if (sdnotify_listen_fds(&fds, &n, err, sizeof(err)) != r->rc)
			fail_msg("row %zu: rc != %d (err '%s')", i, r->rc, err);
		assert_int_equal(n, 0);
		assert_null(fds);
		if (r->rc == -1 && strstr(err, r->why) == NULL)
			fail_msg("row %zu: '%s' lacks '%s'", i, err, r->why);
		assert_null(getenv("LISTEN_PID"));
		assert_null(getenv("LISTEN_FDS"));
		assert_null(getenv("LISTEN_FDNAMES"));
	}
}

/* ---- socket activation in a child ------------------------------------- */

struct child {
	int		 report;	/* pipe to the parent */
	struct addr	 v4, idle, v6;	/* what fds 3, 4 and 5 are bound to */
	bool		 has6;		/* ::1 works here: fd 5 exists */
	size_t		 want;		/* LISTEN_FDS */
};

/* In the child: report the first failed check and end. */
#define CHECK(c, cond) do {						\
	if (!(cond))							\
		child_fail((c), __LINE__, #cond);			\
} while (0)

static void __attribute__((noreturn))
child_fail(struct child *c, int line, const char *what)
{
	char	 buf[512];
	int	 len;

	len = snprintf(buf, sizeof(buf), "child line %d: %s (errno %s)",
	    line, what, strerror(errno));
	if (len > 0)
		(void)!write(c->report, buf, (size_t)len);
	_exit(1);
}

/* A TCP socket on ${host} port 0, listening or not; -1 if unavailable. */
static int
child_socket(const char *host, bool listening, struct addr *a)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 text[64], err[128];
	int			 fd;

	snprintf(text, sizeof(text), strchr(host, ':') != NULL ? "[%s]:1" :
	    "%s:1", host);
	if (addr_parse(text, a, err, sizeof(err)) == -1)
		return -1;
	addr_set_port(a, 0);
	if ((fd = socket(a->ss.ss_family, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&a->ss, a->len) == -1 ||
	    (listening && listen(fd, 8) == -1) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		return -1;
	}
	addr_from_sockaddr(a, (struct sockaddr *)&ss, len);
	return fd;
}

/* Move ${fd} above every fd systemd would use. */
static int
child_high(struct child *c, int fd)
{
	int	 high;

	CHECK(c, (high = fcntl(fd, F_DUPFD_CLOEXEC, 100)) != -1);
	CHECK(c, close(fd) == 0);
	return high;
}

/* Put ${high} on exactly ${to}, as systemd leaves it: no FD_CLOEXEC. */
static void
child_place(struct child *c, int high, int to)
{
	CHECK(c, dup2(high, to) == to);
	CHECK(c, close(high) == 0);
}

static struct addr
child_addr(const struct addr *a, unsigned port)
{
	struct addr	 b = *a;

	addr_set_port(&b, port);
	return b;
}

/* The setting: listeners on 3 and 5, a bound idle socket on 4. */
static void
child_layout(struct child *c)
{
	char	 buf[32];
	int	 s4, si, s6;

	CHECK(c, (s4 = child_socket("127.0.0.1", true, &c->v4)) != -1);
	CHECK(c, (si = child_socket("127.0.0.1", false, &c->idle)) != -1);
	s6 = child_socket("::1", true, &c->v6);
	/*
	 * Everything up out of the way first, the report pipe included, so
	 * that no dup2() below closes a socket still to be placed.
	 */
	c->report = child_high(c, c->report);
	s4 = child_high(c, s4);
	si = child_high(c, si);
	child_place(c, s4, 3);
	child_place(c, si, 4);
	c->want = 2;
	if ((c->has6 = s6 != -1)) {
		child_place(c, child_high(c, s6), 5);
		c->want = 3;
	}
	snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	CHECK(c, setenv("LISTEN_PID", buf, 1) == 0);
	snprintf(buf, sizeof(buf), "%zu", c->want);
	CHECK(c, setenv("LISTEN_FDS", buf, 1) == 0);
	CHECK(c, setenv("LISTEN_FDNAMES", "v4:idle:v6", 1) == 0);
}

static void
child_match(struct child *c, const int *fds, size_t n)
{
	struct addr	 b;
	char		 err[128];

	CHECK(c, sdnotify_match(fds, n, &c->v4) == 0);
	b = child_addr(&c->v4, addr_port(&c->v4) % 65535 + 1);
	CHECK(c, sdnotify_match(fds, n, &b) == -1);
	/* Bound but not listening: not a listener to take over. */
	CHECK(c, sdnotify_match(fds, n, &c->idle) == -1);
	CHECK(c, sdnotify_match(fds, 0, &c->v4) == -1);
	if (!c->has6)
		return;
	CHECK(c, sdnotify_match(fds, n, &c->v6) == 2);
	b = child_addr(&c->v6, addr_port(&c->v6) % 65535 + 1);
	CHECK(c, sdnotify_match(fds, n, &b) == -1);
	/* [::]:Q is not [::1]:Q, and a v4-mapped address is not IPv4. */
	CHECK(c, addr_parse("[::]:1", &b, err, sizeof(err)) == 0);
	addr_set_port(&b, addr_port(&c->v6));
	CHECK(c, sdnotify_match(fds, n, &b) == -1);
	CHECK(c, addr_parse("[::ffff:127.0.0.1]:1", &b, err, sizeof(err)) == 0);
	addr_set_port(&b, addr_port(&c->v4));
	CHECK(c, sdnotify_match(fds, n, &b) == -1);
}

/* LISTEN_PID is us and LISTEN_FDS is ${n}. */
static void
child_env(struct child *c, size_t n)
{
	char	 buf[32];

	snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	CHECK(c, setenv("LISTEN_PID", buf, 1) == 0);
	snprintf(buf, sizeof(buf), "%zu", n);
	CHECK(c, setenv("LISTEN_FDS", buf, 1) == 0);
}

/* Taking the passed fds fails, naming ${fd}, and leaves nothing. */
static void
child_refused(struct child *c, const char *fd_why)
{
	char	 err[256];
	int	*fds;
	size_t	 n;

	CHECK(c, sdnotify_listen_fds(&fds, &n, err, sizeof(err)) == -1);
	if (strstr(err, fd_why) == NULL)
		child_fail(c, __LINE__, err);
	CHECK(c, n == 0 && fds == NULL);
	CHECK(c, getenv("LISTEN_PID") == NULL);
	CHECK(c, getenv("LISTEN_FDS") == NULL);
}

static void
child_activated(struct child *c)
{
	char	 err[256];
	int	*fds, all[3], idle;
	size_t	 n, i;

	/* A bound socket that does not listen is not a listener to take. */
	child_layout(c);
	child_refused(c, "fd 4: a TCP socket, but not listening");
	/* Without it: 3 and (if ::1 works) 4, as systemd passes them. */
	idle = child_high(c, 4);
	if (c->has6)
		child_place(c, child_high(c, 5), 4);
	child_env(c, c->want - 1);
	CHECK(c, setenv("LISTEN_FDNAMES", "v4:v6", 1) == 0);
	CHECK(c, sdnotify_listen_fds(&fds, &n, err, sizeof(err)) == 0);
	CHECK(c, n == c->want - 1);
	for (i = 0; i < n; i++) {
		CHECK(c, fds[i] == 3 + (int)i);
		CHECK(c, (fcntl(fds[i], F_GETFD) & FD_CLOEXEC) != 0);
		/* Passed blocking (systemd's default): made non-blocking. */
		CHECK(c, (fcntl(fds[i], F_GETFL) & O_NONBLOCK) != 0);
	}
	CHECK(c, getenv("LISTEN_PID") == NULL);
	CHECK(c, getenv("LISTEN_FDS") == NULL);
	CHECK(c, getenv("LISTEN_FDNAMES") == NULL);
	/* sdnotify_match() checks for itself, the idle socket included. */
	all[0] = fds[0];
	all[1] = idle;
	all[2] = c->has6 ? fds[1] : -1;
	child_match(c, all, c->has6 ? 3 : 2);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	close(idle);

	/* A UDP socket is not a TCP listener. */
	CHECK(c, (idle = socket(AF_INET, SOCK_DGRAM, 0)) != -1);
	child_place(c, child_high(c, idle), 3);
	child_env(c, 1);
	child_refused(c, "LISTEN_FDS=1: fd 3: not a TCP socket");
	close(3);

	/* A count that names an fd which is not open. */
	child_env(c, 1);
	child_refused(c, "LISTEN_FDS=1: fd 3");
	_exit(0);
}

/* Run ${fn} in a child; fail with its report unless it exits 0. */
static void
run_child(void (*fn)(struct child *))
{
	struct child	 c;
	struct pollfd	 p;
	char		 buf[512];
	size_t		 got = 0;
	ssize_t		 r;
	pid_t		 pid;
	int		 pfd[2], status;

	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid = fork();
	assert_int_not_equal(pid, -1);
	if (pid == 0) {
		close(pfd[0]);
		c.report = pfd[1];
		fn(&c);
		_exit(2);
	}
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	/*
	 * Read the report until the child's exit closes its end; a child
	 * that hangs past the deadline is killed.
	 */
	for (;;) {
		if (poll(&p, 1, WAIT_MS) != 1) {
			kill(pid, SIGKILL);
			break;
		}
		r = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (r <= 0 || (got += (size_t)r) == sizeof(buf) - 1)
			break;
	}
	buf[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status %#x): %s", status, buf);
}

static void
test_listen_fds(void **state)
{
	(void)state;
	run_child(child_activated);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, fake_setup, fake_teardown)
	const struct CMUnitTest tests[] = {
		T(test_notify_path),
		T(test_notify_abstract),
		T(test_notify_unset),
		T(test_notify_long),
		T(test_notify_errors),
		cmocka_unit_test(test_listen_env),
		cmocka_unit_test(test_listen_fds),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
