/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The process around the relay: command line, config checking, start-up
 * failures, "listen = ADDR:0" (any free port, read from the ready file)
 * and the SIGTERM shutdown.
 */

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS		10000

/* --- config errors --------------------------------------------------------- */

/*
 * Bad files: where the error is (the line relay46 must name) and a piece
 * of the message.  Every file would be fine without its bad line.
 */
static const struct bad_config {
	const char	*text;
	int		 line;
	const char	*why;
} bad_configs[] = {
	{ "[global]\n"
	  "log_level = info\n"
	  "\n"
	  "[route web]\n"
	  "listen = 127.0.0.1:65536\n"
	  "upstream = 127.0.0.1:9\n",
	  5, "port out of range" },
	{ "[route web]\n"
	  "listen = 127.0.0.1:8080\n"
	  "upstream = 127.0.0.1:9\n"
	  "foo = bar\n",
	  4, "unknown key 'foo'" },
	{ "; a comment\n"
	  "[route web]\n"
	  "listen = 127.0.0.1:8080\n"
	  "upstream = 127.0.0.1:9\n"
	  "[bogus]\n",
	  5, "unknown section [bogus]" },
	{ "[route web]\n"
	  "listen = 127.0.0.1:8080\n"
	  "upstream = 127.0.0.1:9\n"
	  "\n"
	  "[route web]\n"
	  "listen = 127.0.0.1:8081\n"
	  "upstream = 127.0.0.1:9\n",
	  5, "defined twice (first on line 1)" },
	{ "[route web]\n"
	  "listen = 127.0.0.1:8080\n"
	  "upstream = 127.0.0.1:9\n"
	  "connect_timeout = 5 fortnights\n",
	  4, "connect_timeout" },
	{ "[global]\n"
	  "\n"
	  "[route lonely]\n"
	  "listen = 127.0.0.1:8080\n",
	  3, "has no upstream" },
	{ "[route web]\n"
	  "listen = 127.0.0.1:8080\n"
	  "upstream = 127.0.0.1:9 weight=0\n",
	  3, "upstream" },
	{ "[global]\n"
	  "workers = 0\n"
	  "[route web]\n"
	  "listen = 127.0.0.1:8080\n"
	  "upstream = 127.0.0.1:9\n",
	  2, "out of range" },
	{ "[route web]\n"
	  "listen = 127.0.0.1:8080\n"
	  "listen = 127.0.0.1:8080\n"
	  "upstream = 127.0.0.1:9\n",
	  3, "127.0.0.1:8080" },
};

/* A 200-byte line, past the 190-byte limit, on line 3. */
static char *
long_line_config(void)
{
	char	*t, pad[201];

	memset(pad, 'x', 200);
	pad[200] = '\0';
	if (asprintf(&t, "[route web]\nlisten = 127.0.0.1:8080\n; %s\n"
	    "upstream = 127.0.0.1:9\n", pad) == -1)
		h_fault("out of memory");
	return t;
}

static void
check_bad(const char *text, int line, const char *why)
{
	const char	*dir = h_tmpdir();
	char		 path[H_PATH + 16], needle[64], *out, *err;
	const char	*args_t[] = { "-t", "-c", path, NULL };
	const char	*args_run[] = { "-c", path, NULL };
	int		 rc;

	h_write_file(path, sizeof(path), dir, "bad.ini", text);
	/* Line 0: an error about the whole file, "FILE: message". */
	if (line == 0)
		snprintf(needle, sizeof(needle), "bad.ini: ");
	else
		snprintf(needle, sizeof(needle), "bad.ini:%d:", line);

	rc = h_run(args_t, &out, &err, RUN_MS);
	if (rc != 1)
		fail_msg("relay46 -t -c on a bad file (line %d) exited %d, "
		    "stderr:\n%s", line, rc, err);
	H_ASSERT_CONTAINS(err, needle);
	H_ASSERT_CONTAINS(err, why);
	free(out);
	free(err);

	/* Without -t it must refuse to start, with the same message. */
	rc = h_run(args_run, &out, &err, RUN_MS);
	if (rc != 1)
		fail_msg("relay46 -c on a bad file (line %d) exited %d, "
		    "stderr:\n%s", line, rc, err);
	H_ASSERT_CONTAINS(err, needle);
	free(out);
	free(err);
}

static void
test_bad_configs(void **state)
{
	size_t	 i;
	char	*t;

	(void)state;
	for (i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++)
		check_bad(bad_configs[i].text, bad_configs[i].line,
		    bad_configs[i].why);
	t = long_line_config();
	check_bad(t, 3, "line too long");
	free(t);
	check_bad("", 0, "no routes");
}

/* Every error is reported, in file order, not just the first. */
static void
test_all_errors_reported(void **state)
{
	const char	*dir = h_tmpdir();
	char		 path[H_PATH + 16], *out, *err, *a, *b;
	const char	*args[] = { "-t", "-c", path, NULL };

	(void)state;
	h_write_file(path, sizeof(path), dir, "bad.ini",
	    "[route web]\n"
	    "listen = 127.0.0.1:8080\n"
	    "upstream = 127.0.0.1:9\n"
	    "nope = 1\n"
	    "buffer = lots\n");
	assert_int_equal(h_run(args, &out, &err, RUN_MS), 1);
	H_ASSERT_CONTAINS(err, "bad.ini:4:");
	H_ASSERT_CONTAINS(err, "bad.ini:5:");
	a = strstr(err, "bad.ini:4:");
	b = strstr(err, "bad.ini:5:");
	assert_true(a < b);
	free(out);
	free(err);
}

static void
test_good_config_check(void **state)
{
	const char	*dir = h_tmpdir();
	char		 path[H_PATH + 16], *out, *err;
	const char	*args[] = { "-t", "-c", path, NULL };

	(void)state;
	h_write_file(path, sizeof(path), dir, "good.ini",
	    "[global]\n"
	    "max_connections = 100\n"
	    "shutdown_timeout = 5s\n"
	    "\n"
	    "[route web]\n"
	    "listen = 127.0.0.1:8080\n"
	    "listen = [::1]:8080\n"
	    "upstream = 127.0.0.1:8000\n"
	    "upstream = [::1]:8001 weight=3\n"
	    "connect_timeout = 250ms\n"
	    "idle_timeout = 1h\n"
	    "fin_timeout = 1m\n"
	    "retries = 2\n"
	    "buffer = 64k\n");
	assert_int_equal(h_run(args, &out, &err, RUN_MS), 0);
	H_ASSERT_CONTAINS(out, "good.ini: configuration OK");
	free(out);
	free(err);
}

/* The example config shipped in etc/ passes -t. */
static void
test_sample_config_check(void **state)
{
	const char	*src = getenv("RELAY46_SRCDIR");
	char		 path[H_PATH], *out, *err;
	const char	*args[] = { "-t", "-c", path, NULL };
	int		 rc;

	(void)state;
	if (src == NULL || *src == '\0') {
		print_message("RELAY46_SRCDIR is not set\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/etc/relay46.ini", src);
	if (access(path, R_OK) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	rc = h_run(args, &out, &err, RUN_MS);
	if (rc != 0)
		fail_msg("relay46 -t -c %s exited %d, stderr:\n%s", path, rc, err);
	H_ASSERT_CONTAINS(out, "configuration OK");
	free(out);
	free(err);
}

static void
test_missing_config(void **state)
{
	const char	*dir = h_tmpdir();
	char		 path[H_PATH + 16], *out, *err;
	const char	*args_t[] = { "-t", "-c", path, NULL };
	const char	*args_run[] = { "-c", path, NULL };

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.ini", dir);
	assert_int_equal(h_run(args_t, &out, &err, RUN_MS), 1);
	H_ASSERT_CONTAINS(err, "missing.ini: No such file or directory");
	free(out);
	free(err);
	assert_int_equal(h_run(args_run, &out, &err, RUN_MS), 1);
	H_ASSERT_CONTAINS(err, "No such file or directory");
	free(out);
	free(err);
}

/* --- command line ----------------------------------------------------------- */

static void
test_version_and_help(void **state)
{
	const char	*v[] = { "-V", NULL }, *vl[] = { "--version", NULL };
	const char	*h[] = { "-h", NULL }, *hl[] = { "--help", NULL };
	char		*out, *err;

	(void)state;
	assert_int_equal(h_run(v, &out, &err, RUN_MS), 0);
	assert_true(strncmp(out, "relay46 ", 8) == 0);
	assert_true(strlen(out) > 9);
	free(out);
	free(err);
	assert_int_equal(h_run(vl, &out, &err, RUN_MS), 0);
	assert_true(strncmp(out, "relay46 ", 8) == 0);
	free(out);
	free(err);
	assert_int_equal(h_run(h, &out, &err, RUN_MS), 0);
	H_ASSERT_CONTAINS(out, "-c");
	H_ASSERT_CONTAINS(out, "-l");
	free(out);
	free(err);
	assert_int_equal(h_run(hl, &out, &err, RUN_MS), 0);
	assert_true(strlen(out) > 0);
	free(out);
	free(err);
}

static void
test_bad_usage(void **state)
{
	static const char *const cases[][4] = {
		{ "-Z", NULL },
		{ "--no-such-option", NULL },
		{ "-c", NULL },			/* missing argument */
	};
	char	*out, *err;
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = h_run(cases[i], &out, &err, RUN_MS);
		if (rc != 2)
			fail_msg("relay46 %s %s exited %d, expected 2; stderr:\n%s",
			    cases[i][0], cases[i][1] ? cases[i][1] : "", rc, err);
		assert_true(strlen(err) > 0);
		free(out);
		free(err);
	}
}

/* --- start-up failure --------------------------------------------------------- */

static void
test_bind_in_use(void **state)
{
	const char	*dir = h_tmpdir();
	char		 path[H_PATH + 16], conf[256], *out, *err;
	const char	*args[] = { "-c", path, NULL };
	int		 hold, port, rc;

	(void)state;
	hold = h_listen_socket(AF_INET, &port);
	snprintf(conf, sizeof(conf),
	    "[route busy]\nlisten = 127.0.0.1:%d\nupstream = 127.0.0.1:9\n",
	    port);
	h_write_file(path, sizeof(path), dir, "busy.ini", conf);
	rc = h_run(args, &out, &err, RUN_MS);
	if (rc != 1)
		fail_msg("relay46 with its port taken exited %d, expected 1; "
		    "stderr:\n%s", rc, err);
	H_ASSERT_CONTAINS(err, "Address already in use");
	H_ASSERT_CONTAINS(err, h_hostport(AF_INET, port));
	free(out);
	free(err);
	close(hold);
}

/*
 * A ready file (-R) that cannot be written ends relay46 with status 1, as
 * a pidfile does: whoever waits for it must fail, not wait; and the
 * pidfile written just before goes again.
 */
static void
test_ready_file_unwritable(void **state)
{
	const char *dir = h_tmpdir();
	char	    ready[H_PATH + 16], pid[H_PATH + 16], *out, *err;
	const char *args[] = { "-l", "127.0.0.1:0", "-u", "127.0.0.1:9", "-p",
		pid, "-R", ready, NULL };
	int	    rc;

	(void)state;
	snprintf(ready, sizeof(ready), "%s/no-such-dir/ready", dir);
	snprintf(pid, sizeof(pid), "%s/relay46.pid", dir);
	rc = h_run(args, &out, &err, RUN_MS);
	if (rc != 1)
		fail_msg("relay46 with -R in a missing directory exited %d, "
			 "expected 1; stderr:\n%s",
		    rc, err);
	H_ASSERT_CONTAINS(err, "cannot write ready file");
	H_ASSERT_CONTAINS(err, "No such file or directory");
	assert_int_equal(access(pid, F_OK), -1);
	free(out);
	free(err);
}

/* --- listen = ADDR:0 ------------------------------------------------------------ */

/* Port ${p} relays to an echo backend: stream ${seed} comes back. */
static void
check_echo_port(int p, uint64_t seed)
{
	int	 fd;

	if ((fd = h_connect_port(AF_INET, p, H_IO_MS)) == -1)
		fail_msg("connect to 127.0.0.1:%d: %s", p, strerror(errno));
	H_ASSERT_END(h_echo(fd, seed, 1000, H_IO_MS), H_OK, H_OK);
	close(fd);
}

/* The port of route ${route}'s "listening" line in the log, or fail. */
static int
logged_port(const struct h_relay *r, const char *route)
{
	char	 needle[96], *log, *at;
	int	 p;

	snprintf(needle, sizeof(needle), "route=%s addr=127.0.0.1:", route);
	if (!h_relay_log_line(r, needle, "msg=\"listening\"", H_IO_MS))
		fail_msg("no \"listening\" line for route %s", route);
	log = h_relay_log(r);
	at = strstr(log, needle);
	p = at != NULL ? atoi(at + strlen(needle)) : 0;
	free(log);
	assert_in_range(p, 1, 65535);
	return p;
}

/*
 * listen = ADDR:0: the kernel picks a free port, and both workers'
 * sockets are on it (bound to it after the first one got it, not each
 * on a port of its own); the log and the ready file show it.  Each such
 * line gets a port of its own, also twice in one route.
 */
static void
test_listen_any_port(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 up[64], needle[96];
	int			 p[3];
	size_t			 i;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	snprintf(up, sizeof(up), "%s", h_hostport(AF_INET, h_backend_port(b)));
	r = h_relay_start("[global]\nworkers = 2\n"
	    "[route a]\nlisten = 127.0.0.1:0\nlisten = 127.0.0.1:0\n"
	    "upstream = %s\n[route b]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    up, up);
	p[0] = h_relay_ready_port(r, "a", 0);
	p[1] = h_relay_ready_port(r, "a", 1);
	p[2] = h_relay_ready_port(r, "b", 0);
	assert_int_not_equal(p[0], p[1]);
	assert_int_not_equal(p[0], p[2]);
	assert_int_not_equal(p[1], p[2]);
	for (i = 0; i < 3; i++) {
		assert_int_equal(h_tcp_listeners(p[i]), 2);
		snprintf(needle, sizeof(needle), "addr=%s msg=\"listening\"",
		    h_hostport(AF_INET, p[i]));
		H_EXPECT_LOG(r, needle);
		check_echo_port(p[i], 20 + i);
	}
	assert_int_equal(h_relay_log_count(r, "msg=\"listening\""), 3);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * A reload keeps an "ADDR:0" listener that stays in its route: the same
 * sockets, so the same port (a new one would strand every client that
 * read the old one), and a session on it goes on.  A new "ADDR:0" line
 * gets a new port.
 */
static void
test_reload_any_port(void **state)
{
	static const char conf[] = "[global]\nworkers = 2\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = %s\n%s";
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 up[64], text[512], more[128];
	int			 fd, p, pb;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	snprintf(up, sizeof(up), "%s", h_hostport(AF_INET, h_backend_port(b)));
	r = h_relay_start(conf, up, "");
	p = h_relay_ready_port(r, "a", 0);
	assert_int_equal(logged_port(r, "a"), p);
	fd = h_relay_connect(r, "a", AF_INET);
	H_ASSERT_END(h_echo(fd, 30, 1000, H_IO_MS), H_OK, H_OK);

	snprintf(more, sizeof(more), "[route b]\nlisten = 127.0.0.1:0\n"
	    "upstream = %s\n", up);
	snprintf(text, sizeof(text), conf, up, more);
	h_replace_file(r->conf, text);
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	H_EXPECT_LOG(r, "configuration reloaded");
	pb = logged_port(r, "b");
	assert_int_not_equal(pb, p);
	/* Route a was not bound again: one "listening" line each. */
	assert_int_equal(h_relay_log_count(r, "msg=\"listening\""), 2);
	assert_int_equal(h_tcp_listeners(p), 2);
	assert_int_equal(h_tcp_listeners(pb), 2);
	H_ASSERT_END(h_echo(fd, 31, 1000, H_IO_MS), H_OK, H_OK);
	close(fd);
	check_echo_port(p, 32);
	check_echo_port(pb, 33);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * A fixed address that moves to another route (here the route is renamed)
 * keeps its sockets: it is not bound again, so no client who connects
 * meanwhile is refused, and the new route serves it.
 */
static void
test_reload_moves_listen(void **state)
{
	static const char conf[] =
	    "[global]\nworkers = 2\n"
	    "[route %s]\nlisten = 127.0.0.1:%d\nupstream = %s\n";
	struct h_backend_cfg cfg = { .mode = H_ECHO };
	struct h_backend    *b;
	struct h_relay	    *r;
	char		     up[64], text[512];
	int		     hold, p = 0;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	snprintf(up, sizeof(up), "%s", h_hostport(AF_INET, h_backend_port(b)));
	hold = h_hold_port("127.0.0.1", &p);
	r = h_relay_start(conf, "a", p, up);
	close(hold);
	check_echo_port(p, 40);
	H_EXPECT_LOG_LINE(r, "route=a ", "end=done");

	snprintf(text, sizeof(text), conf, "b", p, up);
	h_replace_file(r->conf, text);
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	H_EXPECT_LOG(r, "configuration reloaded");
	assert_int_equal(h_relay_log_count(r, "msg=\"listening\""), 1);
	assert_int_equal(h_tcp_listeners(p), 2);
	check_echo_port(p, 41);
	H_EXPECT_LOG_LINE(r, "route=b ", "end=done");
	h_relay_finish(r);
	h_backend_free(b);
}

/* --- SIGTERM -------------------------------------------------------------------- */

static struct h_relay *
start_echo_relay(struct h_backend *b, const char *shutdown_timeout)
{
	return h_relay_start(
	    "[global]\nshutdown_timeout = %s\n"
	    "[route live]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    shutdown_timeout, h_hostport(AF_INET, h_backend_port(b)));
}

/*
 * SIGTERM closes the listener at once but lets a live session finish;
 * relay46 exits 0 as soon as it has (long before shutdown_timeout).
 */
static void
test_sigterm_drains(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	int64_t			 t0;
	int			 fd, port, st;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = start_echo_relay(b, "20s");
	port = h_relay_port(r, "live", AF_INET);
	fd = h_relay_connect(r, "live", AF_INET);
	H_ASSERT_END(h_echo(fd, 1, 65536, H_IO_MS), H_OK, H_OK);
	t0 = h_now_ms();
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	h_wait_refused(AF_INET, port, 3000);
	/* The session still carries bytes both ways... */
	H_ASSERT_END(h_echo(fd, 2, 200000, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_echo(fd, 3, 1, H_IO_MS), H_OK, H_OK);
	assert_true(h_relay_running(r));
	/* ...and ends cleanly, after which relay46 goes. */
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
	st = h_relay_wait(r, 8000);
	print_message("relay46 exited %lld ms after SIGTERM\n",
	    (long long)(h_now_ms() - t0));
	if (st == -1)
		fail_msg("relay46 still runs after its last session ended");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	H_EXPECT_LOG(r, "up=265537 down=265537");
	H_EXPECT_LOG(r, "end=done");
	h_relay_finish(r);
	h_backend_free(b);
}

/* A session that never ends holds relay46 for shutdown_timeout, no more. */
static void
test_sigterm_timeout(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	int64_t			 t0, took;
	int			 fd, st;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = start_echo_relay(b, "1s");
	fd = h_relay_connect(r, "live", AF_INET);
	H_ASSERT_END(h_echo(fd, 5, 1000, H_IO_MS), H_OK, H_OK);
	t0 = h_now_ms();
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	st = h_relay_wait(r, 5000);
	took = h_now_ms() - t0;
	print_message("relay46 exited %lld ms after SIGTERM\n", (long long)took);
	if (st == -1)
		fail_msg("relay46 ignored shutdown_timeout = 1s");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_in_range(took, 800, 3500);
	/* The client learns that the session is over. */
	H_ASSERT_END(h_wait_end(fd, 3000, NULL), H_EOF, ECONNRESET);
	close(fd);
	H_EXPECT_LOG(r, "end=shutdown");
	h_relay_finish(r);
	h_backend_free(b);
}

/* A second SIGTERM does not wait for the sessions. */
static void
test_second_signal(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	int64_t			 t0;
	int			 fd, st;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = start_echo_relay(b, "30s");
	fd = h_relay_connect(r, "live", AF_INET);
	H_ASSERT_END(h_echo(fd, 6, 1000, H_IO_MS), H_OK, H_OK);
	assert_int_equal(kill(r->pid, SIGINT), 0);
	h_wait_refused(AF_INET, h_relay_port(r, "live", AF_INET), 3000);
	assert_true(h_relay_running(r));
	t0 = h_now_ms();
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	st = h_relay_wait(r, 3000);
	print_message("relay46 exited %lld ms after the second signal\n",
	    (long long)(h_now_ms() - t0));
	if (st == -1)
		fail_msg("relay46 still runs 3 s after a second signal");
	assert_true(WIFEXITED(st));
	close(fd);
	h_relay_free(r);
	h_backend_free(b);
}

/*
 * log = syslog where nothing listens at /dev/log: syslog(3) would drop
 * every line without a word, so relay46 says so on stderr at start and
 * keeps running.  Skipped where /dev/log exists (its daemon may answer).
 */
static void
test_syslog_missing(void **state)
{
	struct h_relay	*r;

	(void)state;
	if (access("/dev/log", F_OK) == 0) {
		print_message("/dev/log exists here: skipping\n");
		skip();
	}
	r = h_relay_start("[global]\nlog = syslog\nshutdown_timeout = 1s\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n");
	H_EXPECT_LOG(r, "relay46: log = syslog but /dev/log is missing: "
	    "nothing will be logged; use log = stderr or start a syslog "
	    "daemon\n");
	assert_int_equal(h_relay_log_count(r, "log = syslog"), 1);
	assert_true(h_relay_running(r));
	h_relay_finish(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bad_configs, h_teardown),
		cmocka_unit_test_teardown(test_all_errors_reported, h_teardown),
		cmocka_unit_test_teardown(test_good_config_check, h_teardown),
		cmocka_unit_test_teardown(test_sample_config_check, h_teardown),
		cmocka_unit_test_teardown(test_missing_config, h_teardown),
		cmocka_unit_test_teardown(test_version_and_help, h_teardown),
		cmocka_unit_test_teardown(test_bad_usage, h_teardown),
		cmocka_unit_test_teardown(test_bind_in_use, h_teardown),
		cmocka_unit_test_teardown(test_ready_file_unwritable,
		    h_teardown),
		cmocka_unit_test_teardown(test_listen_any_port, h_teardown),
		cmocka_unit_test_teardown(test_reload_any_port, h_teardown),
		cmocka_unit_test_teardown(test_reload_moves_listen, h_teardown),
		cmocka_unit_test_teardown(test_sigterm_drains, h_teardown),
		cmocka_unit_test_teardown(test_sigterm_timeout, h_teardown),
		cmocka_unit_test_teardown(test_second_signal, h_teardown),
		cmocka_unit_test_teardown(test_syslog_missing, h_teardown),
	};

	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
