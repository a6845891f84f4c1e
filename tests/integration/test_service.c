/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * Running as a service: the access log (one line per session, in a file
 * or on stderr, reopened on SIGUSR1 for logrotate), systemd's notify
 * protocol (a socket of ours stands in for systemd), socket activation
 * (LISTEN_FDS), dropping root for "user", the pidfile, and writing the
 * pidfile and ready file without following a planted symlink.  Issue 9:
 * the access log refuses a planted symlink and belongs to "user", so a
 * logrotate reopen as that user works (and a failed one is loud), every
 * thread runs as "user", root without "user" is warned about, and the
 * tests' lookup seams need RELAY46_TEST_SEAMS=1.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* How many lines of ${path} contain ${needle} (0 if it does not exist). */
static unsigned
count_lines(const char *path, const char *needle)
{
	char		*text, *p, *nl;
	unsigned	 n = 0;

	if (access(path, F_OK) == -1)
		return 0;
	text = h_read_file(path);
	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			fail_msg("%s: last line not whole: '%s'", path, p);
		*nl = '\0';
		if (strstr(p, needle) != NULL)
			n++;
	}
	free(text);
	return n;
}

/* Wait (bounded) until ${path} has ${want} lines with ${needle}. */
static void
wait_lines(const char *path, const char *needle, unsigned want)
{
	int64_t		 deadline = h_now_ms() + H_IO_MS;
	unsigned	 i, got = 0;

	/* The log's own thread writes: poll the file with a deadline. */
	for (i = 0; i < 10000 && h_left(deadline) > 0; i++) {
		if ((got = count_lines(path, needle)) >= want)
			return;
		(void)poll(NULL, 0, 5);
	}
	fail_msg("%s: %u lines with '%s' after %d ms, wanted %u", path, got,
	    needle, H_IO_MS, want);
}

static void
one_session(struct h_relay *r, const char *route, uint64_t seed)
{
	int	 fd = h_relay_connect(r, route, AF_INET);

	H_ASSERT_END(h_echo(fd, seed, 1000, H_IO_MS), H_OK, H_OK);
	shutdown(fd, SHUT_WR);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
}

/*
 * access_log = FILE: each session is one line there (with its bytes and
 * end), refusals too, and the daemon's own log no longer repeats them.
 * After a rename and SIGUSR1, new lines go to a new file at the old path.
 */
static void
test_access_log_file(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 path[H_PATH + 32], old[H_PATH + 48], *log;
	int			 fd, i, hold;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	snprintf(path, sizeof(path), "%s/access.log", h_tmpdir());
	snprintf(old, sizeof(old), "%s.1", path);
	/*
	 * One worker: with two, the next client can reach the other worker
	 * a moment before the last session's slot is given back, and be
	 * refused by max_connections = 1 (right, but not what this tests).
	 */
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\naccess_log = %s\nworkers = 1\n"
	    "[route al]\nlisten = 127.0.0.1:0\nupstream = %s\n"
	    "max_connections = 1\n", path,
	    h_hostport(AF_INET, h_backend_port(b)));
	for (i = 0; i < 3; i++)
		one_session(r, "al", 70 + (uint64_t)i);
	wait_lines(path, "route=al client=127.0.0.1:", 3);
	assert_int_equal(count_lines(path, " up=1000 down=1000 "), 3);
	assert_int_equal(count_lines(path, " end=done"), 3);
	/* A refusal is a line too: one session held, the next refused. */
	hold = h_relay_connect(r, "al", AF_INET);
	H_ASSERT_END(h_echo(hold, 80, 10, H_IO_MS), H_OK, H_OK);
	fd = h_relay_connect(r, "al", AF_INET);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, ECONNRESET);
	close(fd);
	wait_lines(path, "upstream=- up=0 down=0 duration=0.000s "
	    "end=max_connections", 1);
	close(hold);
	wait_lines(path, " up=10 down=10 ", 1);

	/* logrotate: rename, SIGUSR1, and the next line is in a new file. */
	if (rename(path, old) == -1)
		fail_msg("rename: %s", strerror(errno));
	assert_int_equal(kill(r->pid, SIGUSR1), 0);
	H_EXPECT_LOG(r, "reopening the access log");
	one_session(r, "al", 90);
	wait_lines(path, " end=done", 1);
	assert_int_equal(count_lines(path, "route=al"), 1);
	assert_int_equal(count_lines(old, "route=al"), 5);
	log = h_relay_log(r);
	if (strstr(log, "msg=\"session end\"") != NULL)
		fail_msg("session lines in the daemon log too:\n%s", log);
	free(log);
	h_relay_finish(r);
	h_backend_free(b);
}

/* access_log = stderr: the lines go with the daemon's own output. */
static void
test_access_log_stderr(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\naccess_log = stderr\n"
	    "[route as]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	one_session(r, "as", 5);
	H_EXPECT_LOG(r, "Z route=as client=127.0.0.1:");
	H_EXPECT_LOG(r, " up=1000 down=1000 ");
	h_relay_finish(r);
	h_backend_free(b);
}

/* A file that cannot be opened stops the start, with the reason. */
static void
test_access_log_unwritable(void **state)
{
	const char	*args[] = { "-c", NULL, NULL };
	char		 conf[H_PATH + 32], text[256], *out = NULL, *err = NULL;
	const char	*dir = h_tmpdir();
	int		 rc;

	(void)state;
	snprintf(text, sizeof(text),
	    "[global]\n"
	    "access_log = /nonexistent/dir/access.log\n"
	    "[route x]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:2\n");
	h_write_file(conf, sizeof(conf), dir, "bad.ini", text);
	args[1] = conf;
	rc = h_run(args, &out, &err, 10000);
	assert_int_not_equal(rc, 0);
	H_ASSERT_CONTAINS(err, "/nonexistent/dir/access.log");
	free(out);
	free(err);
}

/* --- admin endpoint ------------------------------------------------------ */

/*
 * GET ${path} from 127.0.0.1:${port} with HTTP/1.0; the whole response
 * (headers and body), for the caller to free.
 */
static char *
http_get(int port, const char *path)
{
	char	 req[256], *buf;
	size_t	 cap = 1 << 20, len = 0;
	int	 fd, end;

	if ((buf = malloc(cap)) == NULL)
		fail_msg("out of memory");
	fd = h_connect_port(AF_INET, port, H_IO_MS);
	assert_true(fd != -1);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	    "\r\n", path);
	assert_int_equal(h_send_all(fd, req, strlen(req), H_IO_MS), H_OK);
	/* HTTP/1.0: the server closes after the body. */
	end = h_recv_n(fd, buf, cap - 1, H_IO_MS, &len);
	H_ASSERT_END(end, H_EOF, H_EOF);
	buf[len] = '\0';
	close(fd);
	return buf;
}

/*
 * The admin endpoint's port: relay46 listens on "admin = 127.0.0.1:0",
 * where the kernel picks the port, and names it in the ready file's
 * "@admin ADDR" line (issue 11: no test guesses a free port).
 */
static int
admin_port(const struct h_relay *r)
{
	return h_relay_ready_port(r, "@admin", 0);
}

/*
 * For a relay46 the test started itself (no struct h_relay): the port of
 * line ${n} (from 0) of the -R file ${path} that names ${name} ("@admin"
 * for the admin endpoint) with a 127.0.0.1 address.  Fails the test if
 * there is no such line.
 */
static int
ready_file_port(const char *path, const char *name, unsigned n)
{
	char		*text, *line, *save = NULL, *end, want[96];
	unsigned	 seen = 0;
	long		 port = -1;

	if ((text = h_read_file(path)) == NULL)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	snprintf(want, sizeof(want), "%s 127.0.0.1:", name);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, want, strlen(want)) != 0 || seen++ != n)
			continue;
		port = strtol(line + strlen(want), &end, 10);
		if (*end != '\0' || port < 1 || port > 65535)
			port = -1;
		break;
	}
	free(text);
	if (port == -1)
		fail_msg("%s has no line %u \"%s<port>\"", path, n, want);
	return (int)port;
}

/* promtool, where it is installed, on the body of ${resp}. */
static void
promtool_check(const char *resp)
{
	char		 path[H_PATH + 32], cmd[H_PATH + 128];
	const char	*body = strstr(resp, "\r\n\r\n");
	FILE		*fp;
	int		 rc;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		print_message("promtool not installed: the format is checked "
		    "by tests/unit/test_metrics\n");
		return;
	}
	assert_non_null(body);
	snprintf(path, sizeof(path), "%s/metrics.txt", h_tmpdir());
	if ((fp = fopen(path, "w")) == NULL || fputs(body + 4, fp) == EOF ||
	    fclose(fp) == EOF)
		fail_msg("%s: %s", path, strerror(errno));
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	print_message("promtool check metrics: exit %d\n", rc);
	assert_int_equal(rc, 0);
}

/*
 * An admin endpoint reachable but not allowed (admin_allow) hangs up
 * without an answer, until a reload's admin_allow lets us in at once.
 */
static void
check_admin_allow(struct h_backend *b)
{
	/* Port 0 both times: a reload keeps both sockets where they are. */
	static const char admin_conf[] =
	    "[global]\nshutdown_timeout = 2s\n"
	    "admin = 127.0.0.1:0\nadmin_allow = %s\n"
	    "[route m]\nlisten = 127.0.0.1:0\nupstream = %s\n";
	struct h_relay		*r2;
	char			*resp, text[512];
	int			 port2;

	snprintf(text, sizeof(text), admin_conf, "10.0.0.0/8",
	    h_hostport(AF_INET, h_backend_port(b)));
	r2 = h_relay_start("%s", text);
	port2 = admin_port(r2);
	resp = http_get(port2, "/metrics");
	if (resp[0] != '\0')
		fail_msg("a client outside admin_allow got an answer:\n%s",
		    resp);
	free(resp);
	/* A reload's admin_allow applies at once. */
	snprintf(text, sizeof(text), admin_conf, "127.0.0.0/8",
	    h_hostport(AF_INET, h_backend_port(b)));
	h_replace_file(r2->conf, text);
	assert_int_equal(kill(r2->pid, SIGHUP), 0);
	H_EXPECT_LOG(r2, "msg=\"configuration reloaded\"");
	resp = http_get(port2, "/metrics");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	free(resp);
	h_relay_finish(r2);
}

/*
 * admin = 127.0.0.1:0: /metrics counts the sessions, bytes, connects and
 * upstream health of a route with two workers' sessions summed; /status
 * is JSON with the same; a client outside admin_allow gets 403.
 */
static void
test_admin(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			*resp, want[256];
	int			 port, i, dead, dead_port;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	dead = h_refused_port(AF_INET, &dead_port);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\nworkers = 2\nadmin = 127.0.0.1:0\n"
	    "[route m]\nlisten = 127.0.0.1:0\nupstream = %s\nupstream = %s\n"
	    "fall = 1\n",
	    h_hostport(AF_INET, h_backend_port(b)),
	    h_hostport(AF_INET, dead_port));
	port = admin_port(r);
	H_EXPECT_LOG(r, "admin endpoint listening");
	for (i = 0; i < 6; i++)
		one_session(r, "m", 200 + (uint64_t)i);
	H_EXPECT_LOG(r, "msg=\"upstream down\"");
	/* A client sees its EOF before the relay has counted the session. */
	assert_true(h_relay_log_wait_n(r, "end=done", 6, H_IO_MS));
	resp = http_get(port, "/metrics");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	H_ASSERT_CONTAINS(resp, "Content-Type: text/plain; version=0.0.4");
	H_ASSERT_CONTAINS(resp, "relay46_workers 2\n");
	H_ASSERT_CONTAINS(resp, "relay46_sessions_total{route=\"m\","
	    "result=\"done\"} 6\n");
	H_ASSERT_CONTAINS(resp, "relay46_bytes_total{route=\"m\","
	    "direction=\"up\"} 6000\n");
	H_ASSERT_CONTAINS(resp, "relay46_connect_seconds_count{route=\"m\"} "
	    "6\n");
	snprintf(want, sizeof(want), "relay46_upstream_up{route=\"m\","
	    "upstream=\"%s\"} 1\n", h_hostport(AF_INET, h_backend_port(b)));
	H_ASSERT_CONTAINS(resp, want);
	snprintf(want, sizeof(want), "relay46_upstream_up{route=\"m\","
	    "upstream=\"%s\"} 0\n", h_hostport(AF_INET, dead_port));
	H_ASSERT_CONTAINS(resp, want);
	promtool_check(resp);
	free(resp);
	resp = http_get(port, "/status");
	H_ASSERT_CONTAINS(resp, "application/json");
	H_ASSERT_CONTAINS(resp, "\"name\":\"m\"");
	H_ASSERT_CONTAINS(resp, "\"done\":6");
	free(resp);
	resp = http_get(port, "/");
	H_ASSERT_CONTAINS(resp, "text/html");
	free(resp);
	h_relay_finish(r);
	check_admin_allow(b);
	close(dead);
	h_backend_free(b);
}

/*
 * The ready file means the admin endpoint answers too: connect the moment
 * it appears, 10 starts in a row.  (It used to be written before the
 * admin socket was opened.)
 */
#define ADMIN_READY_STARTS	10

static void
test_admin_ready(void **state)
{
	char		 conf[H_PATH + 32], ready[H_PATH + 32], text[256], *resp;
	const char	*dir = h_tmpdir();
	pid_t		 pid;
	int		 i, port, status;

	(void)state;
	snprintf(text, sizeof(text),
	    "[global]\nadmin = 127.0.0.1:0\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n");
	h_write_file(conf, sizeof(conf), dir, "admin.ini", text);
	snprintf(ready, sizeof(ready), "%s/admin.ready", dir);
	for (i = 0; i < ADMIN_READY_STARTS; i++) {
		pid = h_spawn_ready(conf, ready);
		/* A new port each start, known only from the file. */
		port = ready_file_port(ready, "@admin", 0);
		resp = http_get(port, "/status");
		H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
		free(resp);
		status = h_spawn_stop(pid, SIGTERM);
		if (status == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			fail_msg("start %d: relay46 did not exit 0", i);
	}
}

/*
 * An admin port already taken stops start-up as a listener's would: exit
 * 1, the admin line's FILE:LINE and the reason on stderr, and never a
 * "started" line first.  (It used to say "started", then fail.)
 */
static void
test_admin_busy(void **state)
{
	const char	*args[] = { "-c", NULL, NULL };
	char		 conf[H_PATH + 32], text[256], want[H_PATH + 128];
	char		*out = NULL, *err = NULL;
	int		 busy, port, rc;

	(void)state;
	busy = h_listen_socket(AF_INET, &port);
	snprintf(text, sizeof(text),
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:%d\n[route a]\nlisten = 127.0.0.1:0\n"
	    "upstream = 127.0.0.1:9\n",
	    port);
	h_write_file(conf, sizeof(conf), h_tmpdir(), "busy.ini", text);
	args[1] = conf;
	rc = h_run(args, &out, &err, 10000);
	if (rc != 1)
		fail_msg("relay46 exited %d, not 1; stderr:\n%s", rc, err);
	snprintf(want, sizeof(want), "%s:3: admin: listen 127.0.0.1:%d: %s",
	    conf, port, strerror(EADDRINUSE));
	H_ASSERT_CONTAINS(err, want);
	if (strstr(err, "started") != NULL)
		fail_msg("\"started\" before the admin bind failed:\n%s", err);
	free(out);
	free(err);
	close(busy);
}

/* The number after ${key} in ${text}, from the first ${after} on; or fail. */
static unsigned long
number_after(const char *text, const char *after, const char *key)
{
	const char	*p;

	if ((p = strstr(text, after)) == NULL ||
	    (p = strstr(p, key)) == NULL)
		fail_msg("no %s after %s in\n%s", key, after, text);
	return strtoul(p + strlen(key), NULL, 10);
}

/*
 * test_admin_health's /metrics and /: route plain's upstream ${pl} is not
 * checked, route checked's ${ck} failed its checks, route named's is
 * localhost:${p3}.
 */
static void
check_health_pages(int port, const char *pl, const char *ck, int p3)
{
	char	*resp, want[256];

	resp = http_get(port, "/metrics");
	H_ASSERT_CONTAINS(resp, "# HELP relay46_upstream_up 1 unless marked "
	    "down by failed connects or failed health checks");
	snprintf(want, sizeof(want), "relay46_upstream_checked{route=\"plain\","
	    "upstream=\"%s\"} 0\n", pl);
	H_ASSERT_CONTAINS(resp, want);
	snprintf(want, sizeof(want), "relay46_upstream_checked{"
	    "route=\"checked\",upstream=\"%s\"} 1\n", ck);
	H_ASSERT_CONTAINS(resp, want);
	snprintf(want, sizeof(want), "relay46_upstream_check_failures_total{"
	    "route=\"checked\",upstream=\"%s\"} ", ck);
	if (number_after(resp, want, "} ") == 0)
		fail_msg("check failures 0 in\n%s", resp);
	snprintf(want, sizeof(want), "relay46_upstream_info{route=\"named\","
	    "upstream=\"127.0.0.1:%d\",host=\"localhost:%d\"} 1\n", p3, p3);
	H_ASSERT_CONTAINS(resp, want);
	promtool_check(resp);
	free(resp);

	resp = http_get(port, "/");
	snprintf(want, sizeof(want), "<td>127.0.0.1:%d</td><td>localhost:%d"
	    "</td><td>unchecked</td>", p3, p3);
	H_ASSERT_CONTAINS(resp, want);
	free(resp);
}

/*
 * The admin pages say what relay46 knows of an upstream: with no checks
 * and nothing listening, "unchecked" (never "up", and
 * relay46_upstream_checked 0); with health_check = tcp and nothing
 * listening, "down" with its failed checks counted; a host name upstream
 * shows the name beside its address.
 */
static void
test_admin_health(void **state)
{
	struct h_relay	*r;
	char		*resp, want[256], pl[64], ck[64];
	int		 fd1, fd2, fd3, p1, p2, p3, port;

	(void)state;
	fd1 = h_refused_port(AF_INET, &p1);
	fd2 = h_refused_port(AF_INET, &p2);
	fd3 = h_refused_port(AF_INET, &p3);
	snprintf(pl, sizeof(pl), "%s", h_hostport(AF_INET, p1));
	snprintf(ck, sizeof(ck), "%s", h_hostport(AF_INET, p2));
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:0\n"
	    "[route plain]\nlisten = 127.0.0.1:0\nupstream = %s\n"
	    "[route checked]\nlisten = 127.0.0.1:0\nupstream = %s\n"
	    "health_check = tcp\ncheck_interval = 100ms\nfall = 1\n"
	    "[route named]\nlisten = 127.0.0.1:0\nupstream = localhost:%d\n"
	    "resolve = 0\n",
	    pl, ck, p3);
	port = admin_port(r);
	H_EXPECT_LOG_LINE(r, "route=checked", "msg=\"upstream down\"");
	resp = http_get(port, "/status");
	snprintf(want, sizeof(want), "{\"address\":\"%s\",\"host\":\"%s\","
	    "\"health\":\"unchecked\",\"up\":true,", pl, pl);
	H_ASSERT_CONTAINS(resp, want);
	snprintf(want, sizeof(want), "{\"address\":\"%s\",\"host\":\"%s\","
	    "\"health\":\"down\",\"up\":false,", ck, ck);
	H_ASSERT_CONTAINS(resp, want);
	if (number_after(resp, want, "\"check_fails\":") == 0)
		fail_msg("no failed check counted:\n%s", resp);
	snprintf(want, sizeof(want), "{\"address\":\"127.0.0.1:%d\","
	    "\"host\":\"localhost:%d\",\"health\":\"unchecked\",", p3, p3);
	H_ASSERT_CONTAINS(resp, want);
	free(resp);
	check_health_pages(port, pl, ck, p3);
	h_relay_finish(r);
	close(fd1);
	close(fd2);
	close(fd3);
}

/*
 * The status page lists a live session among the busiest sessions: the
 * first look finds none gathered yet and asks the workers, a later one
 * (a refresh) shows the session, its client address, and its bytes in
 * binary units; /status has it too.
 */
static void
test_admin_busiest(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	struct sockaddr_in	 me;
	socklen_t		 len = sizeof(me);
	char			*resp, *tab = NULL, want[128];
	int64_t			 deadline;
	int			 port, fd, i;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 1s\nworkers = 2\n"
			  "admin = 127.0.0.1:0\n"
			  "[route m]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	port = admin_port(r);
	fd = h_relay_connect(r, "m", AF_INET);
	H_ASSERT_END(h_echo(fd, 31, 3000, H_IO_MS), H_OK, H_OK);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	snprintf(want, sizeof(want), "<td>m</td><td>127.0.0.1:%d</td>",
	    ntohs(me.sin_port));
	resp = http_get(port, "/");
	H_ASSERT_CONTAINS(resp, "<meta http-equiv=\"refresh\" content=\"5\">");
	H_ASSERT_CONTAINS(resp, "Asked of the workers now");
	/* The workers answer on their own: poll, as the page's refresh does. */
	deadline = h_now_ms() + H_IO_MS;
	for (i = 0; i < 1000 && h_left(deadline) > 0; i++) {
		free(resp);
		resp = http_get(port, "/");
		if ((tab = strstr(resp, "<table class=\"ses\">")) != NULL &&
		    strstr(tab, want) != NULL)
			break;
		(void)poll(NULL, 0, 20);
	}
	if (tab == NULL || strstr(tab, want) == NULL)
		fail_msg("no %s among the busiest sessions after %d ms:\n%s",
		    want, H_IO_MS, resp);
	/* 3000 bytes each way. */
	H_ASSERT_CONTAINS(strstr(tab, want),
	    "<td>2.9 KiB</td><td>2.9 KiB</td>");
	free(resp);
	resp = http_get(port, "/status");
	snprintf(want, sizeof(want),
	    "\"route\":\"m\",\"client\":"
	    "\"127.0.0.1:%d\",",
	    ntohs(me.sin_port));
	H_ASSERT_CONTAINS(resp, "\"busiest_sessions\":[{\"id\":");
	H_ASSERT_CONTAINS(resp, want);
	H_ASSERT_CONTAINS(resp, "\"bytes_up\":3000,\"bytes_down\":3000,");
	free(resp);
	close(fd);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * The admin socket is bound once, at start: a reload that moves admin is
 * applied otherwise, says the move needs a restart, and the endpoint
 * keeps answering where it was.  The new port must be known before the
 * reload, so the test holds it (h_hold_port(): nothing else is given it,
 * a connect to it is refused, yet relay46 could take it if it did move):
 * a connect that succeeds there means relay46 moved.
 */
static void
test_admin_reload_moved(void **state)
{
	static const char conf[] =
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:%d\n[route a]\nlisten = 127.0.0.1:0\n"
	    "upstream = 127.0.0.1:9\n";
	struct h_relay		*r;
	char			 text[256], *resp;
	int			 port, port2 = 0, held, fd;

	(void)state;
	held = h_hold_port("127.0.0.1", &port2);
	r = h_relay_start(conf, 0);
	port = admin_port(r);
	snprintf(text, sizeof(text), conf, port2);
	h_replace_file(r->conf, text);
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	H_EXPECT_LOG(r, "msg=\"configuration reloaded\"");
	H_EXPECT_LOG(r, "reload: a change of admin takes effect at the next "
	    "restart");
	resp = http_get(port, "/status");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	free(resp);
	fd = h_connect_port(AF_INET, port2, H_IO_MS);
	if (fd != -1)
		fail_msg("the new admin port %d answers before a restart",
		    port2);
	h_relay_finish(r);
	close(held);
}

/* --- admin endpoint under attack (issue 9) -------------------------------- */

/*
 * Send ${req} to ${port} from ${src} (NULL: any) and read until the
 * server hangs up: the whole answer, "" for none, for the caller to free.
 */
static char *
http_req(const char *src, int port, const char *req)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = h_loopback(AF_INET, port, &ss);
	char			*buf;
	size_t			 cap = 1 << 20, len = 0;
	int			 fd, end;

	if ((buf = malloc(cap)) == NULL)
		fail_msg("out of memory");
	fd = src != NULL ? h_connect_from(src, (struct sockaddr *)&ss, sl,
	    H_IO_MS) : h_connect_sa((struct sockaddr *)&ss, sl, H_IO_MS);
	assert_true(fd != -1);
	assert_int_equal(h_send_all(fd, req, strlen(req), H_IO_MS), H_OK);
	end = h_recv_n(fd, buf, cap - 1, H_IO_MS, &len);
	H_ASSERT_END(end, H_EOF, ECONNRESET);
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* The size of ${path} in bytes, or -1. */
static long long
file_size(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == -1 ? -1 : (long long)st.st_size;
}

#define EMF_NOFILE	64	/* relay46's limit (soft = hard) */
#define EMF_CLIENTS	40	/* two descriptors each: more than it has */
#define EMF_HOLD_MS	2000	/* how long it is held out of descriptors */
#define EMF_CPU_MS	500	/* a busy loop takes about EMF_HOLD_MS */
#define EMF_LOG_BYTES	4096	/* a few lines a second, not a flood */

/* Wait until ${pid} has ${want} descriptors open; the last count seen. */
static int
fd_count_wait(pid_t pid, int want, int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;
	int		 n = -1;

	for (i = 0; i < 10000 && h_left(deadline) > 0; i++) {
		if ((n = h_fd_count(pid)) == want)
			break;
		(void)poll(NULL, 0, 10);
	}
	return n;
}

/*
 * Hold relay46 out of descriptors for EMF_HOLD_MS with the admin client
 * ${afd} waiting: it must get nothing, and relay46 must neither spin nor
 * flood its log.
 */
static void
emf_hold(struct h_relay *r, int afd)
{
	struct pollfd	 p = { afd, POLLIN, 0 };
	long		 cpu0, cpu1;
	long long	 log0, log1;

	cpu0 = h_cpu_ms(r->pid);
	log0 = file_size(r->log);
	if (poll(&p, 1, EMF_HOLD_MS) != 0)
		fail_msg("the admin client got events %#x with no descriptor "
		    "left for it", (unsigned)p.revents);
	cpu1 = h_cpu_ms(r->pid);
	log1 = file_size(r->log);
	print_message("out of descriptors for %d ms: relay46 used %ld ms of "
	    "CPU and logged %lld bytes\n", EMF_HOLD_MS, cpu1 - cpu0,
	    log1 - log0);
	assert_true(cpu0 >= 0 && log0 >= 0);
	if (cpu1 - cpu0 >= EMF_CPU_MS || log1 - log0 >= EMF_LOG_BYTES) {
		if (log1 - log0 < 65536)
			h_relay_dump(r);
		fail_msg("out of descriptors with an admin client waiting: "
		    "%ld ms of CPU in %d ms, %lld bytes of log", cpu1 - cpu0,
		    EMF_HOLD_MS, log1 - log0);
	}
	if (h_relay_log_count(r, "Error from accept") != 0 ||
	    h_relay_log_count(r, "admin accept: Too many open files") == 0)
		fail_msg("no \"admin accept\" line, or libevent's own");
}

/*
 * Out of descriptors, a pending admin connection must not make the
 * control thread spin, nor libevent flood stderr with "Error from
 * accept() call" (it did: 100 % CPU and millions of lines): the endpoint
 * pauses accepting like the routes' listeners, logs at most once a
 * second, and answers again once descriptors are free.
 */
static void
test_admin_emfile(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	static const char	 req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct h_backend	*b;
	struct h_relay		*r;
	char			 buf[4096], *resp;
	int			 fds[EMF_CLIENTS], port, afd, i, n, end;
	size_t			 got = 0;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	h_relay_set_nofile(EMF_NOFILE);
	r = h_relay_start("[global]\nshutdown_timeout = 1s\n"
			  "max_connections = 10000\nadmin = 127.0.0.1:0\n"
			  "[route f]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	h_relay_set_nofile(0);
	port = admin_port(r);
	for (i = 0; i < EMF_CLIENTS; i++)
		fds[i] = h_relay_connect(r, "f", AF_INET);
	n = fd_count_wait(r->pid, EMF_NOFILE, H_IO_MS);
	if (n != EMF_NOFILE)
		fail_msg("relay46 holds %d descriptors, not %d", n, EMF_NOFILE);
	/* One admin client, its request sent, waits in the backlog. */
	afd = h_connect_port(AF_INET, port, H_IO_MS);
	assert_true(afd != -1);
	assert_int_equal(h_send_all(afd, req, strlen(req), H_IO_MS), H_OK);
	emf_hold(r, afd);
	/* Descriptors free again: the waiting client is answered. */
	for (i = 0; i < EMF_CLIENTS; i++)
		close(fds[i]);
	end = h_recv_n(afd, buf, sizeof(buf) - 1, H_IO_MS, &got);
	buf[got] = '\0';
	/* H_OK: the buffer is full, the answer may be longer. */
	if ((end != H_EOF && end != H_OK) ||
	    strncmp(buf, "HTTP/1.0 200 ", 13) != 0)
		fail_msg("the waiting admin client: %s after\n%s",
		    h_end_str(end), buf);
	close(afd);
	resp = http_get(port, "/metrics");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	free(resp);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * A client outside admin_allow is closed at accept, before it sends a
 * byte (it used to be held until it had sent a whole request, or for the
 * 10 s idle timeout), and gets no answer; an allowed one is served.
 */
static void
test_admin_denied_at_accept(void **state)
{
	struct h_relay	*r;
	char		*resp;
	int		 port, fd, end;
	int64_t		 t0;
	uint64_t	 extra = 0;

	(void)state;
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:0\nadmin_allow = 127.0.0.2/32\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n");
	port = admin_port(r);
	fd = h_connect_port(AF_INET, port, H_IO_MS);
	assert_true(fd != -1);
	t0 = h_now_ms();
	end = h_wait_end(fd, 2000, &extra);
	print_message("denied peer: %s after %lld ms\n", h_end_str(end),
	    (long long)(h_now_ms() - t0));
	H_ASSERT_END(end, H_EOF, ECONNRESET);
	assert_int_equal(extra, 0);
	close(fd);
	/* Sending first changes nothing: no answer. */
	resp = http_req(NULL, port, "GET /metrics HTTP/1.0\r\n\r\n");
	if (resp[0] != '\0')
		fail_msg("a denied peer got an answer:\n%s", resp);
	free(resp);
	resp = http_req("127.0.0.2", port, "GET /metrics HTTP/1.0\r\n\r\n");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	free(resp);
	h_relay_finish(r);
}

#define LIM_CLIENTS	40
#define LIM_MAX		16	/* admin.c's ADMIN_MAX_CONNS */
#define LIM_MORE_MS	500	/* time for it to take more, if it would */

/*
 * The TCP sockets on 127.0.0.1:${port} as the kernel's sock_diag reports
 * them: *${held} connections accepted (they have an inode, so a process
 * holds them: only relay46 can), *${queued} those waiting in the
 * listener's accept queue.  0, or -1 if the kernel cannot say.  Two
 * counts that did not do: relay46's descriptors less those it had at its
 * ready file (its worker opens its own after that file, and under load
 * those four counted as admin connections: "holds 20"), and
 * /proc/net/tcp (read a page at a time while other tests' sockets come
 * and go, it listed some sockets several times; sock_diag picks ours by
 * port and sends them at once).
 */
static int
admin_conns(int port, int *held, int *queued)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	} req;
	struct sockaddr_nl	 sa = { .nl_family = AF_NETLINK };
	struct inet_diag_msg	*m;
	struct nlmsghdr		*h;
	long			 buf[8192];	/* aligned for nlmsghdr */
	ssize_t			 got;
	unsigned		 len;
	int			 fd, i, rc = -1;

	*held = 0;
	*queued = -1;
	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		 NETLINK_SOCK_DIAG)) == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = AF_INET;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_sport = htons((uint16_t)port);
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa,
		sizeof(sa)) == -1)
		goto out;
	for (i = 0; i < 10000 && rc == -1; i++) {
		if ((got = recv(fd, buf, sizeof(buf), 0)) <= 0)
			goto out;
		len = (unsigned)got;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto out;
			m = NLMSG_DATA(h);
			if (m->id.idiag_sport != htons((uint16_t)port) ||
			    m->id.idiag_src[0] != htonl(INADDR_LOOPBACK))
				continue;
			if (m->idiag_state == TCP_LISTEN)
				*queued = (int)m->idiag_rqueue;
			else if (m->idiag_inode != 0)
				(*held)++;
		}
	}
out:
	close(fd);
	return rc;
}

/*
 * However many clients connect and say nothing, relay46 holds at most 16
 * of them (it held every one, 500 of them in the review, until the relay
 * had no descriptor left for its sessions); the rest wait in the backlog,
 * none is closed, and they are served once the first ones are gone.
 */
static void
test_admin_conn_limit(void **state)
{
	struct h_relay	*r;
	struct pollfd	 p;
	char		*resp;
	int		 fds[LIM_CLIENTS], port, i, n = -1, most = -1, queued;
	int		 nclosed = 0;
	int64_t		 deadline, settled = -1;

	(void)state;
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:0\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n");
	port = admin_port(r);
	for (i = 0; i < LIM_CLIENTS; i++) {
		fds[i] = h_connect_port(AF_INET, port, H_IO_MS);
		assert_true(fds[i] != -1);
	}
	/*
	 * Until it holds 16 with 24 waiting, then LIM_MORE_MS more: the most
	 * it held at any point counts.
	 */
	deadline = h_now_ms() + H_IO_MS;
	for (i = 0; i < 100000 && h_left(deadline) > 0; i++) {
		if (admin_conns(port, &n, &queued) == -1)
			fail_msg("sock_diag cannot list the sockets: %s",
			    strerror(errno));
		if (n > most)
			most = n;
		if (settled == -1 && n == LIM_MAX &&
		    queued == LIM_CLIENTS - LIM_MAX)
			deadline = (settled = h_now_ms()) + LIM_MORE_MS;
		(void)poll(NULL, 0, 10);
	}
	for (i = 0; i < LIM_CLIENTS; i++) {
		p = (struct pollfd) { fds[i], POLLIN | POLLRDHUP, 0 };
		if (poll(&p, 1, 0) != 0)
			nclosed++;
	}
	print_message("%d idle admin clients: relay46 holds %d of them (at "
		      "most %d), %d wait in the backlog, %d closed\n",
	    LIM_CLIENTS, n, most, queued, nclosed);
	if (most != LIM_MAX || n != LIM_MAX)
		fail_msg("relay46 held %d admin connections (%d at the end)",
		    most, n);
	assert_int_equal(queued, LIM_CLIENTS - LIM_MAX);
	assert_int_equal(nclosed, 0);
	for (i = 0; i < LIM_CLIENTS; i++)
		close(fds[i]);
	resp = http_get(port, "/metrics");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	free(resp);
	h_relay_finish(r);
}

#define SLOW_STEP_MS	300	/* one header byte this often */
#define SLOW_MIN_MS	9500	/* the deadline is 10 s from the accept */
#define SLOW_MAX_MS	12000

/*
 * A client that sends a header byte every 300 ms is closed 10 s after it
 * connected (each byte used to start evhttp's 10 s timeout again, which
 * kept such a client for hours).
 */
static void
test_admin_deadline(void **state)
{
	static const char	 start[] = "GET /metrics HTTP/1.1\r\nX-Slow: ";
	struct h_relay		*r;
	struct pollfd		 p;
	char			 buf[512];
	int			 port, fd, i, rc;
	int64_t			 t0, took = -1;
	ssize_t			 k;

	(void)state;
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:0\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n");
	port = admin_port(r);
	fd = h_connect_port(AF_INET, port, H_IO_MS);
	assert_true(fd != -1);
	t0 = h_now_ms();
	assert_int_equal(h_send_all(fd, start, strlen(start), H_IO_MS), H_OK);
	for (i = 0; i < SLOW_MAX_MS / SLOW_STEP_MS + 2 && took == -1; i++) {
		if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
			took = h_now_ms() - t0;
			break;
		}
		p = (struct pollfd){ fd, POLLIN, 0 };
		if ((rc = poll(&p, 1, SLOW_STEP_MS)) == 1) {
			k = recv(fd, buf, sizeof(buf), 0);
			if (k > 0)
				fail_msg("the slow client got an answer: %.*s",
				    (int)k, buf);
			took = h_now_ms() - t0;
		}
	}
	close(fd);
	print_message("a client sending a byte every %d ms was closed after "
	    "%lld ms\n", SLOW_STEP_MS, (long long)took);
	if (took < SLOW_MIN_MS || took > SLOW_MAX_MS)
		fail_msg("closed after %lld ms, want %d..%d (-1: never)",
		    (long long)took, SLOW_MIN_MS, SLOW_MAX_MS);
	h_relay_finish(r);
}

/*
 * DNS rebinding: a Host that names no address is refused with a short
 * 403, so a web page whose name was turned to 127.0.0.1 cannot read the
 * pages; addresses, localhost (with a port or not) and no Host are served.
 */
static void
test_admin_host(void **state)
{
	static const char *const ok[] = {
		"127.0.0.1:", "localhost:", "[::1]:", "127.0.0.1",
	};
	struct h_relay	*r;
	char		 req[256], host[64], *resp;
	int		 port;
	size_t		 i;

	(void)state;
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:0\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n");
	port = admin_port(r);
	snprintf(req, sizeof(req), "GET /status HTTP/1.1\r\n"
	    "Host: evil.example:%d\r\n\r\n", port);
	resp = http_req(NULL, port, req);
	H_ASSERT_CONTAINS(resp, "HTTP/1.1 403 ");
	H_ASSERT_CONTAINS(resp, "Host");
	if (strstr(resp, "\"routes\"") != NULL)
		fail_msg("refused, but with the page:\n%s", resp);
	free(resp);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		/* With the port where the entry ends in a colon. */
		snprintf(host, sizeof(host), "%s", ok[i]);
		if (host[strlen(host) - 1] == ':')
			snprintf(host + strlen(host), sizeof(host) -
			    strlen(host), "%d", port);
		snprintf(req, sizeof(req), "GET /status HTTP/1.1\r\n"
		    "Host: %s\r\nConnection: close\r\n\r\n", host);
		resp = http_req(NULL, port, req);
		if (strncmp(resp, "HTTP/1.1 200 ", 13) != 0)
			fail_msg("Host: %s: not served:\n%s", host, resp);
		free(resp);
	}
	resp = http_req(NULL, port, "GET /status HTTP/1.0\r\n\r\n");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	free(resp);
	h_relay_finish(r);
}

/*
 * The kernel's view (issue 12): "backlog = 7" is the limit the kernel
 * reports for the route's listen address (each worker's socket has it),
 * nobody waits in its queue, the host's listen counters are there where
 * /proc/net/netstat is, and so is the build.  A backlog above
 * net.core.somaxconn is capped, which is logged at start, and the limit
 * is then the cap.
 */
static void
test_admin_listener_queue(void **state)
{
	struct h_relay	*r;
	char		 want[256], *resp;
	unsigned	 cap = 0;
	FILE		*fp;
	int		 port;

	(void)state;
	if ((fp = fopen("/proc/sys/net/core/somaxconn", "r")) != NULL) {
		if (fscanf(fp, "%u", &cap) != 1)
			cap = 0;
		fclose(fp);
	}
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:0\n"
	    "[route q]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n"
	    "backlog = 7\n"
	    "[route big]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n"
	    "backlog = 65535\n");
	H_EXPECT_LOG(r, "admin endpoint listening");
	port = admin_port(r);
	resp = http_get(port, "/metrics");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	snprintf(want, sizeof(want),
	    "\nrelay46_listener_queue_limit{route=\"q\","
	    "listen=\"127.0.0.1:%d\"} 7\n",
	    h_relay_ready_port(r, "q", 0));
	H_ASSERT_CONTAINS(resp, want);
	snprintf(want, sizeof(want),
	    "\nrelay46_listener_queue{route=\"q\","
	    "listen=\"127.0.0.1:%d\"} 0\n",
	    h_relay_ready_port(r, "q", 0));
	H_ASSERT_CONTAINS(resp, want);
	H_ASSERT_CONTAINS(resp,
	    "\nrelay46_build_info{version=\"" PACKAGE_VERSION "\",splice=\"");
	if (access("/proc/net/netstat", R_OK) == 0) {
		H_ASSERT_CONTAINS(resp,
		    "\nrelay46_tcp_listen_overflows_total ");
		H_ASSERT_CONTAINS(resp, "\nrelay46_tcp_listen_drops_total ");
	}
	if (cap > 0 && cap < 65535) {
		snprintf(want, sizeof(want),
		    "route=big msg=\"backlog 65535 is capped by "
		    "net.core.somaxconn=%u\"",
		    cap);
		H_EXPECT_LOG(r, want);
		snprintf(want, sizeof(want),
		    "\nrelay46_listener_queue_limit{"
		    "route=\"big\",listen=\"127.0.0.1:%d\"} %u\n",
		    h_relay_ready_port(r, "big", 0), cap);
		H_ASSERT_CONTAINS(resp, want);
	} else
		print_message("net.core.somaxconn %u: the cap is not tested\n",
		    cap);
	promtool_check(resp);
	free(resp);
	h_relay_finish(r);
}

/* --- systemd ---------------------------------------------------------- */

/* A datagram socket at ${path}, standing in for systemd's notify socket. */
static int
notify_socket(char *path, size_t len)
{
	struct sockaddr_un	 sun;
	int			 fd;

	snprintf(path, len, "%s/notify", h_tmpdir());
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fail_msg("notify socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fail_msg("notify socket: %s", strerror(errno));
	return fd;
}

/* Wait for a datagram containing ${needle}; returns it (static buffer). */
static const char *
notify_wait(int fd, const char *needle)
{
	static char	 buf[1024];
	int64_t		 deadline = h_now_ms() + H_IO_MS;
	ssize_t		 n;
	unsigned	 i;

	for (i = 0; i < 1000 && h_left(deadline) > 0; i++) {
		struct pollfd	 p = { fd, POLLIN, 0 };

		if (poll(&p, 1, h_left(deadline)) <= 0)
			continue;
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, needle) != NULL)
			return buf;
	}
	fail_msg("no notify message with '%s' within %d ms", needle,
	    H_IO_MS);
	return NULL;
}

/*
 * Type=notify: READY=1 with a STATUS= line once relay46 serves, STATUS=
 * again with the live count, STOPPING=1 on SIGTERM.
 */
static void
test_notify(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 path[H_PATH + 32];
	const char		*msg;
	int			 nfd, fd;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	nfd = notify_socket(path, sizeof(path));
	h_relay_setenv("NOTIFY_SOCKET", path);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route sd]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	h_relay_setenv(NULL, NULL);
	msg = notify_wait(nfd, "READY=1");
	H_ASSERT_CONTAINS(msg, "STATUS=0 live sessions");
	/* A session held open shows in the next STATUS= (every 2 s). */
	fd = h_relay_connect(r, "sd", AF_INET);
	H_ASSERT_END(h_echo(fd, 3, 100, H_IO_MS), H_OK, H_OK);
	msg = notify_wait(nfd, "STATUS=1 live sessions");
	close(fd);
	/* A reload: RELOADING=1 (with the time systemd 253 wants), READY=1. */
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	msg = notify_wait(nfd, "RELOADING=1");
	H_ASSERT_CONTAINS(msg, "MONOTONIC_USEC=");
	msg = notify_wait(nfd, "READY=1");
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	msg = notify_wait(nfd, "STOPPING=1");
	H_ASSERT_CONTAINS(msg, "STATUS=stopping: ");
	h_relay_finish(r);
	close(nfd);
	h_backend_free(b);
}

#define TERM_SENT_MAX	1000000

/*
 * SIGTERMs that keep coming while relay46 exits change nothing: it exits
 * 0.  Its teardown gave the signals their default action back while they
 * could still come, so test_notify's second SIGTERM (h_relay_finish's,
 * sent right after STOPPING=1) now and then killed it: status 15.
 */
static void
test_term_while_exiting(void **state)
{
	struct h_relay	*r;
	int64_t		 deadline;
	unsigned	 i, sent = 0;

	(void)state;
	r = h_relay_start("[global]\nshutdown_timeout = 1s\n"
			  "[route t]\nlisten = 127.0.0.1:0\n"
			  "upstream = 127.0.0.1:9\n");
	deadline = h_now_ms() + H_STOP_MS;
	/* As fast as we can: the teardown takes a few milliseconds. */
	for (i = 0; i < TERM_SENT_MAX && h_left(deadline) > 0; i++) {
		if (h_relay_wait(r, 0) != -1)
			break;
		if (kill(r->pid, SIGTERM) == 0)
			sent++;
	}
	print_message("%u SIGTERMs while relay46 exited\n", sent);
	h_relay_finish(r);
}

/*
 * ${n} clients connect to ${port} before any of them sends; then each
 * sends, and only then does any read its echo.  A relay that handles one
 * client at a time (a worker stuck in accept() on a blocking listening
 * socket) fails this within the deadline.
 */
#define AT_ONCE_MAX	8
#define AT_ONCE_LEN	1000

static void
serve_at_once(int port, unsigned n)
{
	uint8_t		 buf[AT_ONCE_LEN];
	size_t		 got;
	unsigned	 k;
	int		 fds[AT_ONCE_MAX], end;

	assert_true(n <= AT_ONCE_MAX);
	for (k = 0; k < n; k++) {
		fds[k] = h_connect_port(AF_INET, port, 2000);
		assert_true(fds[k] != -1);
	}
	for (k = 0; k < n; k++) {
		h_pattern(200 + k, 0, buf, sizeof(buf));
		H_ASSERT_END(h_send_all(fds[k], buf, sizeof(buf), 2000), H_OK,
		    H_OK);
	}
	for (k = 0; k < n; k++) {
		end = h_recv_n(fds[k], buf, sizeof(buf), 3000, &got);
		if (end != H_OK)
			fail_msg("client %u of %u at once: %s after %zu bytes",
			    k + 1, n, h_end_str(end), got);
		assert_int_equal(h_pattern_check(200 + k, 0, buf, sizeof(buf)),
		    -1);
		close(fds[k]);
	}
}

/*
 * Start "$RELAY46 -c ${conf}" as systemd would with one socket, ${lfd},
 * as fd 3 (LISTEN_PID is the child's own pid, known only in the child),
 * its output to ${log}, and wait for its ready file (in a directory of
 * its own), whose path goes to ${ready} (${readylen} bytes).
 * Returns the pid (tracked: h_teardown() kills it).
 */
static pid_t
spawn_activated(const char *conf, const char *log, int lfd, char *ready,
    size_t readylen)
{
	const char	*relay = getenv("RELAY46");
	char		 pid[32];
	pid_t		 child;
	int64_t		 deadline;
	int		 i, lg;

	assert_non_null(relay);
	snprintf(ready, readylen, "%s/ready", h_tmpdir());
	if ((lg = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		fail_msg("%s: %s", log, strerror(errno));
	if ((child = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (child == 0) {
		if (dup2(lfd, 3) == -1 || dup2(lg, 1) == -1 ||
		    dup2(lg, 2) == -1)
			_exit(127);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("LISTEN_PID", pid, 1);
		setenv("LISTEN_FDS", "1", 1);
		execl(relay, relay, "-c", conf, "-R", ready, (char *)NULL);
		_exit(127);
	}
	h_spawn_track(child);
	close(lg);
	deadline = h_now_ms() + H_READY_MS;
	for (i = 0; i < 10000 && access(ready, F_OK) == -1 &&
	    h_left(deadline) > 0; i++)
		(void)poll(NULL, 0, 10);
	if (access(ready, F_OK) == -1) {
		(void)h_spawn_stop(child, SIGKILL);
		fail_msg("relay46 not ready:\n%s", h_read_file(log));
	}
	return child;
}

/*
 * Socket activation: a listening socket passed as fd 3 with LISTEN_PID
 * and LISTEN_FDS serves its listen address (relay46 does not bind it
 * again), and the other address of the route is bound as usual (port 0,
 * which matches no passed socket: the ready file's second line names the
 * port).  The socket is passed blocking, as systemd does without
 * NonBlocking=yes, and must still serve several clients at once.
 * Started by hand: LISTEN_PID must be relay46's own pid, known only in
 * the child.
 */
static void
test_listen_fds(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	char			 conf[H_PATH + 32], log[H_PATH + 32];
	char			 ready[H_PATH + 32], text[512], *out;
	const char		*dir = h_tmpdir();
	int			 lfd, port, other, fd, status, i;
	pid_t			 child;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	lfd = h_listen_socket(AF_INET, &port);
	if ((i = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, i & ~O_NONBLOCK) == -1)
		fail_msg("fcntl: %s", strerror(errno));
	snprintf(text, sizeof(text),
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route act]\nlisten = 127.0.0.1:%d\nlisten = 127.0.0.1:0\n"
	    "upstream = %s\n",
	    port, h_hostport(AF_INET, h_backend_port(b)));
	h_write_file(conf, sizeof(conf), dir, "act.ini", text);
	snprintf(log, sizeof(log), "%s/relay.log", dir);
	child = spawn_activated(conf, log, lfd, ready, sizeof(ready));
	close(lfd);	/* relay46 has it now */
	assert_int_equal(ready_file_port(ready, "act", 0), port);
	other = ready_file_port(ready, "act", 1);
	serve_at_once(port, 3);
	for (i = 0; i < 2; i++) {
		fd = h_connect_port(AF_INET, i == 0 ? port : other, H_IO_MS);
		assert_true(fd != -1);
		H_ASSERT_END(h_echo(fd, 40 + (uint64_t)i, 1000, H_IO_MS), H_OK,
		    H_OK);
		/* keepalive (on by default) reaches the passed socket too. */
		assert_int_equal(h_tcp_keepalive(i == 0 ? port : other,
		    h_sock_port(fd, false)), 1);
		close(fd);
	}
	status = h_spawn_stop(child, SIGTERM);
	out = h_read_file(log);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("relay46 did not exit 0:\n%s", out);
	snprintf(text, sizeof(text), "addr=127.0.0.1:%d msg=\"listening "
	    "(socket from systemd)\"", port);
	H_ASSERT_CONTAINS(out, text);
	snprintf(text, sizeof(text), "addr=127.0.0.1:%d msg=\"listening\"",
	    other);
	H_ASSERT_CONTAINS(out, text);
	if (strstr(out, "Sanitizer") != NULL || strstr(out, "runtime error"))
		fail_msg("sanitizer report:\n%s", out);
	free(out);
	h_backend_free(b);
}

/* --- dropping root -------------------------------------------------------- */

/* The Uid: or Gid: line of /proc/PID/status: real, effective, saved, fs. */
static void
proc_ids(pid_t pid, const char *key, unsigned ids[4])
{
	char	 path[64], *text, *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = h_read_file(path);
	if ((p = strstr(text, key)) == NULL ||
	    sscanf(p + strlen(key), "%u %u %u %u", &ids[0], &ids[1], &ids[2],
	    &ids[3]) != 4)
		fail_msg("no %s in %s", key, path);
	free(text);
}

/*
 * Started as root with "user = nobody": every id of the process (and so of
 * every thread, started after the drop) is nobody's, and it still serves.
 * Skipped when the tests do not run as root or there is no "nobody".
 */
static void
test_user(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	struct passwd		*pw;
	unsigned		 ids[4], i;
	int			 fd;

	(void)state;
	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL) {
		print_message("not root, or no user nobody: skipped\n");
		skip();
	}
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\nuser = nobody\n"
			  "[route u]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	H_EXPECT_LOG(r, "msg=\"running as user nobody");
	proc_ids(r->pid, "Uid:", ids);
	for (i = 0; i < 4; i++)
		assert_int_equal(ids[i], pw->pw_uid);
	proc_ids(r->pid, "Gid:", ids);
	for (i = 0; i < 4; i++)
		assert_int_equal(ids[i], pw->pw_gid);
	fd = h_relay_connect(r, "u", AF_INET);
	H_ASSERT_END(h_echo(fd, 8, 5000, H_IO_MS), H_OK, H_OK);
	close(fd);
	h_relay_finish(r);
	h_backend_free(b);
}

/* A free port below 1024 on 127.0.0.1 (we are root), or 0 if none. */
static int
low_port(void)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 port, fd, on = 1;

	for (port = 1000; port > 900; port--) {
		len = h_loopback(AF_INET, port, &ss);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return 0;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
			close(fd);
			return port;
		}
		close(fd);
	}
	return 0;
}

/*
 * Replace ${path} with ${text}, mode 0644 whatever the umask: a relay46
 * that has dropped root must be able to read it again, as in /etc.
 */
static void
replace_readable(const char *path, const char *text)
{
	char	 tmp[H_PATH + 8];
	FILE	*fp;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fp = fopen(tmp, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF || chmod(tmp, 0644) == -1 ||
	    rename(tmp, path) == -1)
		fail_msg("%s: %s", path, strerror(errno));
}

/*
 * After dropping root, a reload still works for the listeners it keeps
 * (and for new ports above 1024), while a new port below 1024 is refused
 * with a clear reason and changes nothing.  The kept listener and the
 * new one are both "127.0.0.1:0": the ready file names the first one's
 * port, the reload's "listening" line the second's.
 */
static void
test_user_reload(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 text[512];
	int			 port, high, low = 0, fd;

	(void)state;
	if (geteuid() != 0 || getpwnam("nobody") == NULL ||
	    (low = low_port()) == 0) {
		print_message("not root, no user nobody or no free low port: "
		    "skipped\n");
		skip();
	}
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\nuser = nobody\n"
			  "[route u]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	port = h_relay_ready_port(r, "u", 0);
	H_EXPECT_LOG(r, "msg=\"running as user nobody");
	/* nobody must be able to read the file again, as in /etc. */
	assert_int_equal(chmod(r->dir, 0755), 0);
	snprintf(text, sizeof(text),
	    "[global]\nshutdown_timeout = 2s\n"
	    "user = nobody\n[route u]\nlisten = 127.0.0.1:0\n"
	    "listen = 127.0.0.1:0\nupstream = %s\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	replace_readable(r->conf, text);
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	H_EXPECT_LOG(r, "msg=\"configuration reloaded\"");
	/* The first line kept its port; the second is new, above 1024. */
	assert_int_equal(h_relay_listening_port(r, "u", 0), port);
	high = h_relay_listening_port(r, "u", 1);
	assert_true(high >= 1024 && high != port);
	fd = h_connect_port(AF_INET, high, H_IO_MS);
	assert_true(fd != -1);
	H_ASSERT_END(h_echo(fd, 11, 1000, H_IO_MS), H_OK, H_OK);
	close(fd);

	snprintf(text, sizeof(text),
	    "[global]\nshutdown_timeout = 2s\n"
	    "user = nobody\n[route u]\nlisten = 127.0.0.1:0\n"
	    "listen = 127.0.0.1:%d\nupstream = %s\n",
	    low, h_hostport(AF_INET, h_backend_port(b)));
	replace_readable(r->conf, text);
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	H_EXPECT_LOG(r, "Permission denied (relay46 no longer runs as root: "
	    "a new port below 1024 needs a restart)");
	H_EXPECT_LOG(r, "keeping the running configuration");
	/* Nothing changed: both earlier listeners still serve. */
	fd = h_connect_port(AF_INET, high, H_IO_MS);
	assert_true(fd != -1);
	H_ASSERT_END(h_echo(fd, 12, 1000, H_IO_MS), H_OK, H_OK);
	close(fd);
	fd = h_relay_connect(r, "u", AF_INET);
	H_ASSERT_END(h_echo(fd, 13, 1000, H_IO_MS), H_OK, H_OK);
	close(fd);
	h_relay_finish(r);
	h_backend_free(b);
}

/* A user that does not exist is a config error, found by -t already. */
static void
test_user_unknown(void **state)
{
	const char	*args[] = { "-t", "-c", NULL, NULL };
	char		 conf[H_PATH + 32], *out = NULL, *err = NULL;
	int		 rc;

	(void)state;
	h_write_file(conf, sizeof(conf), h_tmpdir(), "u.ini",
	    "[global]\nuser = no-such-user-r46\n"
	    "[route x]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n");
	args[2] = conf;
	rc = h_run(args, &out, &err, 10000);
	assert_int_equal(rc, 1);
	H_ASSERT_CONTAINS(err, "u.ini:2: user = no-such-user-r46: user "
	    "'no-such-user-r46' does not exist");
	free(out);
	free(err);
}

/* --- pidfile and the ready file -------------------------------------------- */

/* ${path} holds exactly ${want}. */
static void
assert_file_is(const char *path, const char *want)
{
	char	*text = h_read_file(path);

	if (text == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	if (strcmp(text, want) != 0)
		fail_msg("%s holds '%s', want '%s'", path, text, want);
	free(text);
}

/*
 * Plant ${dir}/${name}.tmp as a symlink to ${dir}/victim, as someone who
 * can write to the directory could, hoping root writes through it.
 */
static void
plant_symlink(const char *dir, const char *name, char *victim, size_t len)
{
	char	 link[H_PATH + 16];

	h_write_file(victim, len, dir, "victim", "precious\n");
	snprintf(link, sizeof(link), "%s/%s.tmp", dir, name);
	if (symlink(victim, link) == -1)
		fail_msg("symlink %s: %s", link, strerror(errno));
}

/*
 * pidfile = FILE: the daemon's pid while it runs (written without
 * following a symlink at FILE.tmp), gone once SIGTERM has stopped it; a
 * reload that changes it says it needs a restart.
 */
static void
test_pidfile(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	const char		*dir = h_tmpdir();
	char			 pidf[H_PATH + 16], victim[H_PATH + 16];
	char			 want[32];
	struct stat		 st;

	(void)state;
	snprintf(pidf, sizeof(pidf), "%s/relay.pid", dir);
	plant_symlink(dir, "relay.pid", victim, sizeof(victim));
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\npidfile = %s\n"
	    "[route p]\nlisten = 127.0.0.1:0\nupstream = %s\n", pidf,
	    h_hostport(AF_INET, h_backend_port(b)));
	snprintf(want, sizeof(want), "%ld\n", (long)r->pid);
	assert_file_is(pidf, want);
	assert_file_is(victim, "precious\n");
	assert_int_equal(lstat(victim, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	h_replace_file(r->conf, "[global]\npidfile = /nonexistent/x.pid\n"
	    "[route p]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n");
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	H_EXPECT_LOG(r, "reload: a change of pidfile takes effect at the "
	    "next restart");
	assert_file_is(pidf, want);

	h_relay_finish(r);
	if (access(pidf, F_OK) == 0)
		fail_msg("%s is still there after SIGTERM", pidf);
	h_backend_free(b);
}

/* -p FILE wins over the key; -t writes no pidfile. */
static void
test_pidfile_option(void **state)
{
	const char		*dir = h_tmpdir();
	const char		*args[] = { "-c", NULL, "-p", NULL, NULL };
	const char		*targs[] = { "-t", "-c", NULL, "-p", NULL,
				    NULL };
	char			 conf[H_PATH + 16], keyf[H_PATH + 16];
	char			 optf[H_PATH + 16], text[2 * H_PATH], want[32];
	char			*out = NULL, *err = NULL;
	struct h_relay		*r;
	int			 rc;

	(void)state;
	snprintf(keyf, sizeof(keyf), "%s/key.pid", dir);
	snprintf(optf, sizeof(optf), "%s/opt.pid", dir);
	snprintf(text, sizeof(text),
	    "[global]\npidfile = %s\n"
	    "[route p]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\n",
	    keyf);
	h_write_file(conf, sizeof(conf), dir, "p.ini", text);
	targs[2] = conf;
	targs[4] = optf;
	rc = h_run(targs, &out, &err, 10000);
	free(out);
	free(err);
	assert_int_equal(rc, 0);
	assert_int_equal(access(optf, F_OK), -1);
	assert_int_equal(access(keyf, F_OK), -1);

	args[1] = conf;
	args[3] = optf;
	r = h_relay_start_args(args);
	snprintf(want, sizeof(want), "%ld\n", (long)r->pid);
	assert_file_is(optf, want);
	assert_int_equal(access(keyf, F_OK), -1);
	h_relay_finish(r);
	assert_int_equal(access(optf, F_OK), -1);
}

/*
 * The -R file lists every listen address as bound, one "ROUTE ADDRESS"
 * line each in the file's order, so "ADDR:0" shows the port the kernel
 * chose and a fixed port shows itself; with no admin endpoint, nothing
 * else.  The fixed port is held by the test until relay46 has it.
 */
static void
test_ready_ports(void **state)
{
	struct h_relay	*r;
	char		 want[256], *got;
	int		 fixed = 0, held, p1, p2;

	(void)state;
	held = h_hold_port("127.0.0.1", &fixed);
	r = h_relay_start("[route one]\nlisten = 127.0.0.1:0\n"
	    "listen = %s\nupstream = 127.0.0.1:9\n"
	    "[route two]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n",
	    h_hostport(AF_INET, fixed));
	close(held);
	p1 = h_relay_ready_port(r, "one", 0);
	p2 = h_relay_ready_port(r, "two", 0);
	assert_int_equal(h_relay_ready_port(r, "one", 1), fixed);
	snprintf(want, sizeof(want), "one 127.0.0.1:%d\none 127.0.0.1:%d\n"
	    "two 127.0.0.1:%d\n", p1, fixed, p2);
	if ((got = h_read_file(r->ready)) == NULL)
		fail_msg("cannot read %s", r->ready);
	assert_string_equal(got, want);
	free(got);
	h_relay_finish(r);
}

/*
 * admin = 127.0.0.1:0 (issue 11): the kernel picks the admin port; the
 * -R file ends with "@admin 127.0.0.1:P" for it, the log says the
 * endpoint listens on that port, and it answers there, also after a
 * reload of the same file (port 0 stays port 0: it does not move).
 */
static void
test_ready_admin(void **state)
{
	struct h_relay	*r;
	char		 want[256], *got, *resp;
	int		 port, aport;

	(void)state;
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\n"
	    "admin = 127.0.0.1:0\n"
	    "[route a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n");
	port = h_relay_ready_port(r, "a", 0);
	aport = admin_port(r);
	assert_int_not_equal(aport, port);
	snprintf(want, sizeof(want), "a 127.0.0.1:%d\n@admin 127.0.0.1:%d\n",
	    port, aport);
	if ((got = h_read_file(r->ready)) == NULL)
		fail_msg("cannot read %s", r->ready);
	assert_string_equal(got, want);
	free(got);
	snprintf(want, sizeof(want),
	    "addr=127.0.0.1:%d msg=\"admin endpoint listening\"", aport);
	H_EXPECT_LOG(r, want);
	resp = http_get(aport, "/metrics");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	H_ASSERT_CONTAINS(resp, "\nrelay46_workers ");
	free(resp);
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	H_EXPECT_LOG(r, "msg=\"configuration reloaded\"");
	assert_int_equal(h_relay_log_count(r, "a change of admin"), 0);
	resp = http_get(aport, "/status");
	H_ASSERT_CONTAINS(resp, "HTTP/1.0 200");
	free(resp);
	h_relay_finish(r);
}

/* -R FILE, written as root too, does not follow a symlink at FILE.tmp. */
static void
test_ready_symlink(void **state)
{
	const char	*dir = h_tmpdir();
	char		 conf[H_PATH + 16], ready[H_PATH + 16];
	char		 victim[H_PATH + 16], text[256], *got;
	pid_t		 pid;

	(void)state;
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	plant_symlink(dir, "ready", victim, sizeof(victim));
	snprintf(text, sizeof(text),
	    "[route s]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\n");
	h_write_file(conf, sizeof(conf), dir, "s.ini", text);
	pid = h_spawn_ready(conf, ready);
	assert_file_is(victim, "precious\n");
	got = h_read_file(ready);
	assert_non_null(got);
	H_ASSERT_CONTAINS(got, "s 127.0.0.1:");
	free(got);
	assert_int_equal(h_spawn_stop(pid, SIGTERM), 0);
}

/* --- files written as root, and what runs as root (issue 9) --------------- */

/* The user "nobody", or skip the test (not root, or no such user). */
static struct passwd *
need_nobody(void)
{
	struct passwd	*pw = NULL;

	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL) {
		print_message("not root, or no user nobody: skipped\n");
		skip();
	}
	return pw;
}

/*
 * A new directory of ${pw}'s (mode 0755), as /var/log/relay46 is the
 * service user's; skipped if that user could not reach it (a TMPDIR it
 * may not search).
 */
static const char *
user_dir(const struct passwd *pw)
{
	const char	*d = h_tmpdir();
	char		 parent[H_PATH];
	struct stat	 st;

	snprintf(parent, sizeof(parent), "%s", d);
	*strrchr(parent, '/') = '\0';
	if (stat(parent, &st) == -1 || (st.st_mode & S_IXOTH) == 0) {
		print_message("%s is closed to others: skipped\n", parent);
		skip();
	}
	if (chown(d, pw->pw_uid, pw->pw_gid) == -1 || chmod(d, 0755) == -1)
		fail_msg("%s: %s", d, strerror(errno));
	return d;
}

/*
 * Every thread of ${pid} (/proc/PID/task/TID/status) has ${pw}'s uid and
 * gid as its real, effective, saved and filesystem id.  Returns how many
 * threads there are.
 */
static unsigned
assert_tasks_are(pid_t pid, const struct passwd *pw)
{
	char		 path[64], status[H_PATH], *text, *p;
	unsigned	 ids[4], n = 0, i, k;
	struct dirent	*e;
	DIR		*d;
	static const char *const keys[] = { "\nUid:", "\nGid:" };

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(status, sizeof(status), "%s/%s/status", path,
		    e->d_name);
		if ((text = h_read_file(status)) == NULL)
			continue;	/* it ended meanwhile */
		for (k = 0; k < 2; k++) {
			if ((p = strstr(text, keys[k])) == NULL ||
			    sscanf(p + strlen(keys[k]), "%u %u %u %u", &ids[0],
			    &ids[1], &ids[2], &ids[3]) != 4)
				fail_msg("no %s in %s", keys[k] + 1, status);
			for (i = 0; i < 4; i++)
				if (ids[i] != (k == 0 ? pw->pw_uid : pw->pw_gid))
					fail_msg("thread %s: %s %u %u %u %u",
					    e->d_name, keys[k] + 1, ids[0],
					    ids[1], ids[2], ids[3]);
		}
		free(text);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * The threads start just after the drop is logged: check them (as
 * assert_tasks_are()) until there are ${want}, or the deadline.  Returns
 * how many there were last.
 */
static unsigned
wait_tasks_are(pid_t pid, const struct passwd *pw, unsigned want)
{
	int64_t		 deadline = h_now_ms() + H_IO_MS;
	unsigned	 i, n = 0;

	for (i = 0; i < 10000 && h_left(deadline) > 0; i++) {
		if ((n = assert_tasks_are(pid, pw)) >= want)
			break;
		(void)poll(NULL, 0, 5);
	}
	return n;
}

/*
 * What logrotate's "create" does with no arguments (and what "create
 * 0640 relay46 relay46" does when relay46 already owns the file): rename
 * ${path} to ${old}, then make a new empty ${path} with the old file's
 * mode, owner and group.
 */
static void
rotate_create(const char *path, const char *old)
{
	struct stat	 st;
	int		 fd;

	if (stat(path, &st) == -1 || rename(path, old) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || fchown(fd, st.st_uid, st.st_gid) == -1 ||
	    fchmod(fd, st.st_mode & 07777) == -1)
		fail_msg("create %s: %s", path, strerror(errno));
	close(fd);
}

/* ${path}'s owner and group are ${pw}'s; its mode gives others nothing. */
static void
assert_owned_by(const char *path, const struct passwd *pw)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	if (st.st_uid != pw->pw_uid || st.st_gid != pw->pw_gid)
		fail_msg("%s is %u:%u, not %u:%u", path, (unsigned)st.st_uid,
		    (unsigned)st.st_gid, (unsigned)pw->pw_uid,
		    (unsigned)pw->pw_gid);
	assert_int_equal(st.st_mode & 0137, 0);
}

/*
 * user = nobody with an access log in nobody's directory: every thread,
 * the log's writer and the workers included, runs as nobody; the file is
 * nobody's, so after logrotate renames it and creates the next one with
 * the same owner (or creates none), the SIGUSR1 reopen, as nobody, works
 * and new sessions are logged in the new file.
 */
static void
test_user_access_log(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	struct passwd		*pw = need_nobody();
	const char		*dir = user_dir(pw);
	char			 path[H_PATH + 16], old[H_PATH + 32];
	char			 old2[H_PATH + 32];

	(void)state;
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	snprintf(old2, sizeof(old2), "%s.2", path);
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\nuser = nobody\nworkers = 2\n"
	    "access_log = %s\n[route ua]\nlisten = 127.0.0.1:0\n"
	    "upstream = %s\n",
	    path, h_hostport(AF_INET, h_backend_port(b)));
	H_EXPECT_LOG(r, "msg=\"running as user nobody");
	/* main, two workers, the access log's writer: all started by now */
	assert_true(wait_tasks_are(r->pid, pw, 4) >= 4);
	assert_owned_by(path, pw);
	one_session(r, "ua", 1);
	wait_lines(path, " end=done", 1);

	rotate_create(path, old);
	assert_int_equal(kill(r->pid, SIGUSR1), 0);
	H_EXPECT_LOG(r, "reopening the access log");
	one_session(r, "ua", 2);
	wait_lines(path, " end=done", 1);
	assert_int_equal(count_lines(old, "route=ua"), 1);

	/* No "create": nobody makes the file in its own directory. */
	if (rename(path, old2) == -1)
		fail_msg("rename: %s", strerror(errno));
	assert_int_equal(kill(r->pid, SIGUSR1), 0);
	assert_true(h_relay_log_wait_n(r, "reopening the access log", 2,
	    H_IO_MS));
	one_session(r, "ua", 3);
	wait_lines(path, " end=done", 1);
	assert_owned_by(path, pw);
	assert_int_equal(count_lines(old2, "route=ua"), 1);
	assert_int_equal(h_relay_log_count(r, "access_log: reopen"), 0);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * The reopen fails (renamed, nothing created, and nobody may not create
 * files in root's directory): logged at error with the path and the
 * reason, counted in /metrics, and lines keep going to the old file.
 */
static void
test_access_log_reopen_fails(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	const char		*dir;
	char			 path[H_PATH + 16], old[H_PATH + 32];
	char			 want[2 * H_PATH], *resp;
	int			 aport;

	(void)state;
	need_nobody();
	dir = h_tmpdir();
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\nuser = nobody\n"
			  "access_log = %s\nadmin = 127.0.0.1:0\n"
			  "[route rf]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    path, h_hostport(AF_INET, h_backend_port(b)));
	aport = admin_port(r);
	one_session(r, "rf", 1);
	wait_lines(path, " end=done", 1);
	if (rename(path, old) == -1)
		fail_msg("rename: %s", strerror(errno));
	assert_int_equal(kill(r->pid, SIGUSR1), 0);
	snprintf(want, sizeof(want), "access_log: reopen %s: %s; still "
	    "writing to the old file", path, strerror(EACCES));
	H_EXPECT_LOG_LINE(r, " error ", want);
	resp = http_get(aport, "/metrics");
	H_ASSERT_CONTAINS(resp, "\nrelay46_access_log_reopen_failures_total "
	    "1\n");
	free(resp);
	one_session(r, "rf", 2);
	wait_lines(old, " end=done", 2);
	assert_int_equal(access(path, F_OK), -1);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * A symlink at the access_log path (planted by whoever may write to the
 * directory) stops the start with a clear reason; its target is left
 * as it was.
 */
static void
test_access_log_symlink(void **state)
{
	const char	*args[] = { "-c", NULL, NULL };
	const char	*dir = h_tmpdir();
	char		 conf[H_PATH + 16], victim[H_PATH + 16];
	char		 path[H_PATH + 16], text[2 * H_PATH], want[3 * H_PATH];
	char		*out = NULL, *err = NULL;
	struct stat	 st;
	int		 rc;

	(void)state;
	h_write_file(victim, sizeof(victim), dir, "victim", "precious\n");
	snprintf(path, sizeof(path), "%s/access.log", dir);
	if (symlink(victim, path) == -1)
		fail_msg("symlink: %s", strerror(errno));
	snprintf(text, sizeof(text),
	    "[global]\naccess_log = %s\n"
	    "[route x]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\n",
	    path);
	h_write_file(conf, sizeof(conf), dir, "l.ini", text);
	args[1] = conf;
	rc = h_run(args, &out, &err, 5000);
	snprintf(want, sizeof(want), "access_log: %s: is a symbolic link "
	    "(not followed)", path);
	H_ASSERT_CONTAINS(err, want);
	assert_int_equal(rc, 1);
	assert_file_is(victim, "precious\n");
	/* Still ours, whoever runs the test: nothing chowned it. */
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	free(out);
	free(err);
}

/*
 * Root with no "user": a warning at start naming the key; with user =
 * nobody, none.
 */
static void
test_root_warning(void **state)
{
	struct h_relay	*r;
	const char	*needle = "warn msg=\"running as root: set user = "
			    "relay46 (or another unprivileged user) in "
			    "[global]";

	(void)state;
	need_nobody();
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route w]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\n");
	H_EXPECT_LOG(r, needle);
	h_relay_finish(r);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\nuser = nobody\n"
	    "[route w]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\n");
	H_EXPECT_LOG(r, "msg=\"running as user nobody");
	assert_int_equal(h_relay_log_count(r, "running as root"), 0);
	h_relay_finish(r);
}

/*
 * RELAY46_HOSTS and RELAY46_RESOLV_CONF without RELAY46_TEST_SEAMS=1 (as
 * a unit file or a shell might carry them) are ignored, with a warning:
 * "localhost" is what the system says it is, not what the planted file
 * says (127.0.0.3, where nothing listens).  With the switch, as the
 * tests run, the file is used and that is said too.
 */
static void
test_seams_ignored(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	const char		*dir = h_tmpdir();
	const char		*args[] = { "-t", "-c", NULL, NULL };
	char			 hosts[H_PATH + 16], conf[H_PATH + 16];
	char			 text[512], *out = NULL, *err = NULL;
	int			 fd, rc;

	(void)state;
	h_write_file(hosts, sizeof(hosts), dir, "hosts",
	    "127.0.0.3 localhost seam.test\n");
	b = h_backend_start(AF_INET, &cfg);
	unsetenv("RELAY46_TEST_SEAMS");
	h_relay_setenv("RELAY46_HOSTS", hosts);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route sm]\nlisten = 127.0.0.1:0\nupstream = localhost:%d\n"
	    "retries = 2\n",
	    h_backend_port(b));
	H_EXPECT_LOG(r, "warn msg=\"RELAY46_HOSTS is ignored");
	fd = h_relay_connect(r, "sm", AF_INET);
	H_ASSERT_END(h_echo(fd, 21, 1000, H_IO_MS), H_OK, H_OK);
	close(fd);
	h_relay_finish(r);

	snprintf(text, sizeof(text), "[route sm]\nlisten = 127.0.0.1:1\n"
	    "upstream = localhost:%d\n", h_backend_port(b));
	h_write_file(conf, sizeof(conf), dir, "sm.ini", text);
	args[2] = conf;
	h_relay_setenv("RELAY46_RESOLV_CONF", "/nonexistent/resolv.conf");
	rc = h_run(args, &out, &err, 10000);
	H_ASSERT_CONTAINS(err, "RELAY46_RESOLV_CONF is ignored");
	assert_int_equal(rc, 0);
	free(out);
	free(err);

	/* The tests' way: the switch and the file. */
	assert_int_equal(setenv("RELAY46_TEST_SEAMS", "1", 1), 0);
	h_relay_setenv("RELAY46_HOSTS", hosts);
	snprintf(text, sizeof(text), "[route sm]\nlisten = 127.0.0.1:1\n"
	    "upstream = seam.test:%d\n", h_backend_port(b));
	h_write_file(conf, sizeof(conf), dir, "sm.ini", text);
	rc = h_run(args, &out, &err, 10000);
	H_ASSERT_CONTAINS(err, "RELAY46_HOSTS=");
	H_ASSERT_CONTAINS(err, "upstream names are looked up there "
	    "(RELAY46_TEST_SEAMS=1; for tests only)");
	assert_int_equal(rc, 0);
	free(out);
	free(err);
	h_relay_setenv(NULL, NULL);
	h_backend_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_access_log_file, h_teardown),
		cmocka_unit_test_teardown(test_access_log_stderr, h_teardown),
		cmocka_unit_test_teardown(test_access_log_unwritable,
		    h_teardown),
		cmocka_unit_test_teardown(test_admin, h_teardown),
		cmocka_unit_test_teardown(test_admin_ready, h_teardown),
		cmocka_unit_test_teardown(test_admin_busy, h_teardown),
		cmocka_unit_test_teardown(test_admin_health, h_teardown),
		cmocka_unit_test_teardown(test_admin_busiest, h_teardown),
		cmocka_unit_test_teardown(test_admin_reload_moved, h_teardown),
		cmocka_unit_test_teardown(test_admin_emfile, h_teardown),
		cmocka_unit_test_teardown(test_admin_denied_at_accept,
		    h_teardown),
		cmocka_unit_test_teardown(test_admin_conn_limit, h_teardown),
		cmocka_unit_test_teardown(test_admin_deadline, h_teardown),
		cmocka_unit_test_teardown(test_admin_host, h_teardown),
		cmocka_unit_test_teardown(test_admin_listener_queue,
		    h_teardown),
		cmocka_unit_test_teardown(test_notify, h_teardown),
		cmocka_unit_test_teardown(test_term_while_exiting, h_teardown),
		cmocka_unit_test_teardown(test_listen_fds, h_teardown),
		cmocka_unit_test_teardown(test_user, h_teardown),
		cmocka_unit_test_teardown(test_user_reload, h_teardown),
		cmocka_unit_test_teardown(test_user_unknown, h_teardown),
		cmocka_unit_test_teardown(test_pidfile, h_teardown),
		cmocka_unit_test_teardown(test_pidfile_option, h_teardown),
		cmocka_unit_test_teardown(test_ready_ports, h_teardown),
		cmocka_unit_test_teardown(test_ready_admin, h_teardown),
		cmocka_unit_test_teardown(test_ready_symlink, h_teardown),
		cmocka_unit_test_teardown(test_user_access_log, h_teardown),
		cmocka_unit_test_teardown(test_access_log_reopen_fails,
		    h_teardown),
		cmocka_unit_test_teardown(test_access_log_symlink, h_teardown),
		cmocka_unit_test_teardown(test_root_warning, h_teardown),
		cmocka_unit_test_teardown(test_seams_ignored, h_teardown),
	};

	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
