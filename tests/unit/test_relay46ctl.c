/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The built relay46ctl ($RELAY46CTL) against a control server of the
 * test's own: a thread on a Unix socket in a mkdtemp directory that reads
 * one command line, writes a canned answer and then closes, or holds the
 * connection until the test lets it go.  Each case checks what the
 * program prints on stdout and stderr and how it exits: every answer
 * kind plain and as JSON, a refusal, and the ways a server can fail it
 * (no socket, no answer, a late answer, a malformed one).  Every wait is
 * a poll() with a deadline; nothing sleeps.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define T_DEADLINE_MS	10000	/* the longest any one wait of the test */
#define T_MAX_ARGS	16

/* The control server: one connection, one answer. */
struct fake {
	char		 dir[64];
	char		 path[100];	/* fits sun_path */
	int		 lfd;
	int		 stop[2];	/* closing stop[1] ends the server */
	const char	*answer;	/* sent after the command; NULL: none */
	size_t		 answer_len;
	bool		 hold;		/* keep the connection until stopped */
	bool		 started;
	pthread_t	 thr;
	char		 got[4096];	/* the command it read */
	const char	*fault;		/* what went wrong in the thread */
};

/* What one run of relay46ctl did. */
struct run {
	int		 status;	/* exit status; -1: killed */
	char		 out[16384], err[16384];
	size_t		 outlen, errlen;
	int64_t		 ms;		/* from fork to exit */
};

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until ${fd} (-1: none) is readable: false when stopped or late. */
static bool
fake_wait(struct fake *f, int fd, int64_t deadline)
{
	struct pollfd	 pfd[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = f->stop[0], .events = POLLIN },
	};
	int64_t		 left;

	while ((left = deadline - now_ms()) > 0)
		if (poll(pfd, 2, (int)left) > 0)
			return pfd[1].revents == 0;
	return false;
}

/* The server thread; no cmocka assertion here, only f->fault. */
static void *
fake_serve(void *arg)
{
	struct fake	*f = arg;
	int64_t		 deadline = now_ms() + T_DEADLINE_MS;
	size_t		 len = 0;
	ssize_t		 n;
	int		 c;

	if (!fake_wait(f, f->lfd, deadline) ||
	    (c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		f->fault = "no client came";
		return NULL;
	}
	while (memchr(f->got, '\n', len) == NULL && len < sizeof(f->got) - 1) {
		if (!fake_wait(f, c, deadline) ||
		    (n = read(c, f->got + len, sizeof(f->got) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	f->got[len] = '\0';
	/* relay46ctl may leave at once on a bad answer: EPIPE, no signal. */
	len = 0;
	while (f->answer != NULL && len < f->answer_len) {
		n = send(c, f->answer + len, f->answer_len - len, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (f->hold)
		fake_wait(f, -1, deadline);
	close(c);
	return NULL;
}

static int
setup(void **state)
{
	struct fake		*f;
	struct sockaddr_un	 sun;
	const char		*tmp = getenv("TMPDIR");

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	/* A socket's path is at most 107 bytes: a long TMPDIR won't do. */
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/rctl.XXXXXX", tmp);
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	if ((f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(f->lfd, 4) == -1 || pipe2(f->stop, O_CLOEXEC) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake	*f = *state;

	close(f->stop[1]);
	if (f->started)
		pthread_join(f->thr, NULL);
	close(f->stop[0]);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Serve ${answer} (NULL: none), then close, or hold until teardown. */
static void
fake_start(struct fake *f, const char *answer, size_t len, bool hold)
{
	f->answer = answer;
	f->answer_len = answer != NULL && len == 0 ? strlen(answer) : len;
	f->hold = hold;
	assert_int_equal(pthread_create(&f->thr, NULL, fake_serve, f), 0);
	f->started = true;
}

/*
 * What the server read, once its thread is done with it: stop it (a held
 * connection too) and join it, so that the read of f->got comes after
 * its writes for ThreadSanitizer too, not only through the sockets.
 */
static const char *
fake_got(struct fake *f)
{
	ssize_t	 n;

	if (f->started) {
		n = write(f->stop[1], "x", 1);
		(void)n;	/* a full pipe still wakes it */
		pthread_join(f->thr, NULL);
		f->started = false;
	}
	return f->got;
}

/* Keep what fits of what ${fd} gives; false at its end. */
static bool
drain(int fd, char *buf, size_t cap, size_t *len)
{
	char	 junk[4096];
	ssize_t	 n;

	if (*len < cap - 1)
		n = read(fd, buf + *len, cap - 1 - *len);
	else
		n = read(fd, junk, sizeof(junk));
	if (n > 0 && *len < cap - 1)
		*len += (size_t)n;
	buf[*len] = '\0';
	return n > 0 || (n == -1 && errno == EINTR);
}

/* Both of the child's outputs until they end, within the deadline. */
static bool
collect(struct run *r, int out, int err)
{
	struct pollfd	 pfd[2] = {
		{ .fd = out, .events = POLLIN },
		{ .fd = err, .events = POLLIN },
	};
	int64_t		 deadline = now_ms() + T_DEADLINE_MS, left;

	while ((pfd[0].fd != -1 || pfd[1].fd != -1) &&
	    (left = deadline - now_ms()) > 0) {
		if (poll(pfd, 2, (int)left) <= 0)
			continue;
		if (pfd[0].revents != 0 &&
		    !drain(out, r->out, sizeof(r->out), &r->outlen))
			pfd[0].fd = -1;
		if (pfd[1].revents != 0 &&
		    !drain(err, r->err, sizeof(r->err), &r->errlen))
			pfd[1].fd = -1;
	}
	return pfd[0].fd == -1 && pfd[1].fd == -1;
}

/* Run relay46ctl with ${args} (NULL-terminated) into ${r}. */
static void
run_ctlv(struct run *r, const char *const *args)
{
	const char	*bin = getenv("RELAY46CTL");
	char		*argv[T_MAX_ARGS + 2];
	int		 out[2], err[2], st;
	size_t		 i;
	bool		 ended;
	pid_t		 pid;

	if (bin == NULL || *bin == '\0')
		fail_msg("RELAY46CTL is not set (the built relay46ctl)");
	memset(r, 0, sizeof(*r));
	argv[0] = (char *)"relay46ctl";
	for (i = 0; args[i] != NULL && i < T_MAX_ARGS; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	r->ms = now_ms();
	if ((pid = fork()) == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(bin, argv);
		_exit(127);
	}
	assert_true(pid > 0);
	close(out[1]);
	close(err[1]);
	if (!(ended = collect(r, out[0], err[0])))
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r->ms = now_ms() - r->ms;
	close(out[0]);
	close(err[0]);
	if (!ended)
		fail_msg("relay46ctl ran for %d s", T_DEADLINE_MS / 1000);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* run_ctlv() with the arguments after ${r}, up to a NULL. */
static void
run_ctl(struct run *r, ...)
{
	const char	*args[T_MAX_ARGS + 1];
	va_list		 ap;
	size_t		 i = 0;

	va_start(ap, r);
	while (i < T_MAX_ARGS && (args[i] = va_arg(ap, const char *)) != NULL)
		i++;
	va_end(ap);
	args[i] = NULL;
	run_ctlv(r, args);
}

static void
assert_has(const char *text, const char *what)
{
	if (strstr(text, what) == NULL)
		fail_msg("'%s' is not in:\n%s", what, text);
}

/* show sessions, one of each column: numbers, nulls, escapes. */
static const char table_answer[] =
    "ok 4 table\n"
    "id:n\troute\tclient\trtt:n\tnote\n"
    "7\tweb\t[::1]:5000\t-\tq\"uo\\te\n"
    "12345\tdb\t127.0.0.1:6000\t1.5e3\t\001ctl\303\251\377\n"
    "3\tweb\t[2001:db8::7]:51512\t007\t-\n";

static void
test_table_plain(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, table_answer, 0, false);
	run_ctl(&r, "-s", f->path, "show", "sessions", "web", NULL);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out,
	    "   ID  ROUTE  CLIENT                 RTT  NOTE\n"
	    "    7  web    [::1]:5000               -  q\"uo\\te\n"
	    "12345  db     127.0.0.1:6000       1.5e3  ?ctl\303\251\377\n"
	    "    3  web    [2001:db8::7]:51512    007  -\n");
	assert_int_equal(r.status, 0);
	assert_null(f->fault);
	assert_string_equal(fake_got(f), "show sessions web\n");
}

static void
test_table_json(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, table_answer, 0, false);
	run_ctl(&r, "-j", "-s", f->path, "show", "sessions", NULL);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out,
	    "[\n"
	    "  {\"id\": 7, \"route\": \"web\", \"client\": \"[::1]:5000\", "
	    "\"rtt\": null, \"note\": \"q\\\"uo\\\\te\"},\n"
	    "  {\"id\": 12345, \"route\": \"db\", \"client\": "
	    "\"127.0.0.1:6000\", \"rtt\": 1.5e3, "
	    "\"note\": \"\\u0001ctl\303\251\\u00ff\"},\n"
	    "  {\"id\": 3, \"route\": \"web\", \"client\": "
	    "\"[2001:db8::7]:51512\", \"rtt\": \"007\", \"note\": null}\n"
	    "]\n");
	assert_int_equal(r.status, 0);
	assert_string_equal(fake_got(f), "show sessions\n");
}

/* A table of no rows is still its header; as JSON, []. */
static void
test_table_empty(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, "ok 1 table\nid:n\troute\n", 0, false);
	run_ctl(&r, "-j", "-s", f->path, "show", "sessions", NULL);
	assert_string_equal(r.out, "[]\n");
	assert_int_equal(r.status, 0);
}

static const char kv_answer[] =
    "ok 3 kv\nversion\t0.2.0\nsessions:n\t12\npidfile\t-\n";

static void
test_kv_plain(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, kv_answer, 0, false);
	run_ctl(&r, "-s", f->path, "show", "info", NULL);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out,
	    "version:  0.2.0\n"
	    "sessions: 12\n"
	    "pidfile:  -\n");
	assert_int_equal(r.status, 0);
	assert_string_equal(fake_got(f), "show info\n");
}

static void
test_kv_json(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, kv_answer, 0, false);
	run_ctl(&r, "-s", f->path, "-j", "show", "info", NULL);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out,
	    "{\n"
	    "  \"version\": \"0.2.0\",\n"
	    "  \"sessions\": 12,\n"
	    "  \"pidfile\": null\n"
	    "}\n");
	assert_int_equal(r.status, 0);
}

/* Text as it comes; a CR before the LF is dropped. */
static const char text_answer[] =
    "ok 3 text\r\nreloaded relay46.ini\r\n\troute web: 2 upstreams\n-\n";

static void
test_text(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, text_answer, 0, false);
	run_ctl(&r, "-s", f->path, "reload", NULL);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out,
	    "reloaded relay46.ini\n\troute web: 2 upstreams\n-\n");
	assert_int_equal(r.status, 0);
	assert_string_equal(fake_got(f), "reload\n");
}

static void
test_text_json(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, text_answer, 0, false);
	run_ctl(&r, "-j", "-s", f->path, "reload", NULL);
	assert_string_equal(r.out,
	    "[\n"
	    "  \"reloaded relay46.ini\",\n"
	    "  \"\\troute web: 2 upstreams\",\n"
	    "  \"-\"\n"
	    "]\n");
	assert_int_equal(r.status, 0);
}

static void
test_text_none(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, "ok 0 text\n", 0, false);
	run_ctl(&r, "-j", "-s", f->path, "set", "upstream", "web",
	    "127.0.0.1:80", "weight", "-1", NULL);
	assert_string_equal(r.out, "[]\n");
	assert_string_equal(r.err, "");
	assert_int_equal(r.status, 0);
	/* "-1" is the command's word, not an option. */
	assert_string_equal(fake_got(f),
	    "set upstream web 127.0.0.1:80 weight -1\n");
}

/* A refusal: each reason on stderr, exit 1, stdout empty even with -j. */
static const char err_answer[] = "err 2\n"
				 "relay46.ini:4: listen = x: bad\n"
				 "relay46.ini:9: \033[31mworse\n";

static void
test_err(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, err_answer, 0, false);
	run_ctl(&r, "-j", "-s", f->path, "reload", NULL);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err,
	    "relay46ctl: relay46.ini:4: listen = x: bad\n"
	    "relay46ctl: relay46.ini:9: ?[31mworse\n");
	assert_int_equal(r.status, 1);
}

static void
test_no_socket(void **state)
{
	struct fake	*f = *state;
	struct run	 r;
	char		 path[160];

	snprintf(path, sizeof(path), "%s/absent.sock", f->dir);
	run_ctl(&r, "-s", path, "show", "info", NULL);
	assert_string_equal(r.out, "");
	assert_has(r.err, path);
	assert_has(r.err, "No such file or directory");
	assert_int_equal(r.status, 2);
}

static void
test_closed(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, NULL, 0, false);
	run_ctl(&r, "-s", f->path, "show", "info", NULL);
	assert_string_equal(r.out, "");
	assert_has(r.err, f->path);
	assert_has(r.err, "closed without an answer");
	assert_int_equal(r.status, 2);
}

/* A server that never answers: -t bounds the wait, poll() keeps it. */
static void
test_timeout(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, NULL, 0, true);
	run_ctl(&r, "-t", "1", "-s", f->path, "reload", NULL);
	assert_string_equal(r.out, "");
	assert_has(r.err, f->path);
	assert_has(r.err, "within 1 s");
	assert_int_equal(r.status, 2);
	if (r.ms < 900 || r.ms > 2500)
		fail_msg("-t 1 took %lld ms", (long long)r.ms);
	assert_string_equal(fake_got(f), "reload\n");
}

/* Half an answer, then silence: the deadline counts for all of it. */
static void
test_timeout_midway(void **state)
{
	struct fake	*f = *state;
	struct run	 r;

	fake_start(f, "ok 3 text\none\n", 0, true);
	run_ctl(&r, "-t", "0.5", "-s", f->path, "help", NULL);
	assert_string_equal(r.out, "");
	assert_has(r.err, "within 0.5 s");
	assert_int_equal(r.status, 2);
	if (r.ms > 2000)
		fail_msg("-t 0.5 took %lld ms", (long long)r.ms);
}

static char long_line[70000 + 16];

/* Answers no server may give, and what relay46ctl calls each. */
static const struct {
	const char	*answer;
	const char	*why;
} malformed[] = {
	{ "hello\n", "malformed answer: status line 'hello'" },
	{ "OK 1 text\nx\n",			"status line" },
	{ "ok 1\nx\n",				"status line" },
	{ "ok 1 blob\nx\n",			"status line 'ok 1 blob'" },
	{ "ok -1 text\n",			"status line" },
	{ "ok 1000001 text\n",			"status line" },
	{ "ok 1 text \nx\n",			"status line" },
	{ "err 0\n",				"status line 'err 0'" },
	{ "err 1 kv\nx\n",			"status line" },
	{ "\033]0;owned\007\n",			"status line '?]0;owned?'" },
	{ "ok 1 kv\nno tab here\n",		"line 2: 1 field, not 2" },
	{ "ok 1 kv\na\tb\tc\n",			"line 2: 3 fields, not 2" },
	{ "ok 2 table\na\tb\nc\n",		"line 3: 1 field, not 2" },
	{ "ok 3 text\none\n",			"closed after 1 of 3 lines" },
	{ "ok 1 text\nno end of line",		"closed after 0 of 1 lines" },
	{ long_line,				"a line over 65535 bytes" },
};

/* A server for each answer; cmocka's teardown() frees the last one. */
static void
test_malformed(void **state)
{
	struct fake	*f;
	struct run	 r;
	size_t		 i;

	memcpy(long_line, "ok 1 text\n", 10);
	memset(long_line + 10, 'x', sizeof(long_line) - 12);
	long_line[sizeof(long_line) - 2] = '\n';
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (i > 0) {
			teardown(state);
			assert_int_equal(setup(state), 0);
		}
		f = *state;
		fake_start(f, malformed[i].answer, 0, false);
		run_ctl(&r, "-s", f->path, "show", "info", NULL);
		if (r.status != 2 || r.out[0] != '\0' ||
		    strstr(r.err, f->path) == NULL ||
		    strstr(r.err, malformed[i].why) == NULL)
			fail_msg("answer %zu: exit %d, out '%s', err '%s'", i,
			    r.status, r.out, r.err);
	}
}

/* The command line itself: usage, -h, -V, bad options and words. */
static const struct {
	const char	*args[4];
	int		 status;
	const char	*out, *err;	/* what each must hold */
} usage_cases[] = {
	{ { NULL },				2, "", "no command" },
	{ { "-s", "/x", NULL },			2, "", "usage: relay46ctl" },
	{ { "-x", "show", "info", NULL },	2, "", "usage: relay46ctl" },
	{ { "-t", "0", "show", NULL },		2, "", "-t 0: expected" },
	{ { "-t", "nan", "show", NULL },	2, "", "-t nan: expected" },
	{ { "-t", "2s", "show", NULL },		2, "", "-t 2s: expected" },
	{ { "show", "a\nb", NULL },		2, "", "line break" },
	{ { "-h", NULL },			0, "usage: relay46ctl", "" },
	{ { "-V", NULL }, 0, "relay46ctl " PACKAGE_VERSION "\n", "" },
};

static void
test_usage(void **state)
{
	struct run	 r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
		run_ctlv(&r, usage_cases[i].args);
		if (r.status != usage_cases[i].status ||
		    strstr(r.out, usage_cases[i].out) == NULL ||
		    strstr(r.err, usage_cases[i].err) == NULL ||
		    (*usage_cases[i].out == '\0') != (r.out[0] == '\0'))
			fail_msg("case %zu: exit %d, stdout '%s', stderr '%s'",
			    i, r.status, r.out, r.err);
	}
}

/* A command longer than a control line can be never leaves. */
static void
test_too_long(void **state)
{
	static char	 word[5000];
	struct run	 r;

	(void)state;
	memset(word, 'a', sizeof(word) - 1);
	run_ctl(&r, "-s", "/nonexistent", "show", word, NULL);
	assert_has(r.err, "longer than 4095 bytes");
	assert_int_equal(r.status, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_table_plain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_table_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_table_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kv_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_text_none, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_err, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_midway, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
