/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for admin.c: the endpoint runs on a private event_base, and
 * the test's HTTP client is a bufferevent on that same base, so one
 * thread drives both ends with event_base_loop(EVLOOP_ONCE) until the
 * server hangs up or a deadline timer fires.  Nothing sleeps.  Checked:
 * status lines, Content-Type and Cache-Control for every page, 404, 405,
 * 403 from the ACL (on 127.0.0.1 and ::1), HEAD, keep-alive, oversized
 * requests, a port already taken, and that fill and release pair up.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "acl.h"
#include "addr.h"
#include "admin.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* Loopback answers in microseconds; this is for a machine under load. */
#define DEADLINE_S	10
#define MAX_ROUNDS	100000

#define CT_METRICS	"text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON		"application/json"
#define CT_HTML		"text/html; charset=utf-8"

struct fx {
	struct event_base	*base;
	struct admin		*admin;
	struct addr		 addr;
	struct acl		 acl;
	int			 fills, releases;
	int			 shown;		/* released with sessions_shown */
};

struct resp {
	char		*raw;		/* the whole answer, NUL-terminated */
	size_t		 len;
	int		 status;	/* of the first answer */
	const char	*body;		/* after the first blank line */
};

/* ---- the snapshot the filler hands out ------------------------------- */

static const char *const result_names[] = { "done", "client_reset" };
static const uint64_t results[] = { 5, 1 };

/*
 * Allocates what it fills, as the real filler will: LeakSanitizer then
 * catches a release that is skipped.
 */
static void
fill_cb(void *arg, struct metrics_snapshot *s)
{
	struct fx		*fx = arg;
	struct metrics_route	*r;
	struct metrics_upstream	*u;

	fx->fills++;
	assert_non_null(r = calloc(1, sizeof(*r)));
	assert_non_null(u = calloc(1, sizeof(*u)));
	u->name = "127.0.0.1:8000";
	u->host = "backend.internal:8000";	/* a host name line */
	u->up = u->present = true;
	u->weight = 1;
	u->connects = 9;
	r->name = "web";
	r->result_names = result_names;
	r->results = results;
	r->nresults = NELEM(results);
	r->ups = u;
	r->nups = 1;
	s->version = "0.1.0";
	s->workers = 1;
	s->routes = r;
	s->nroutes = 1;
}

static void
release_cb(void *arg, struct metrics_snapshot *s)
{
	struct fx	*fx = arg;

	fx->releases++;
	if (s->sessions_shown)
		fx->shown++;
	assert_int_equal(s->nroutes, 1);
	free(s->routes[0].ups);
	free(s->routes);
}

/* ---- setting up --------------------------------------------------------- */

static bool
loopback(int family, struct addr *a)
{
	char	 err[128];

	return addr_parse(family == AF_INET ? "127.0.0.1:1" : "[::1]:1", a,
	    err, sizeof(err)) == 0;
}

/*
 * A port nobody listens on now: bind port 0, read what the kernel chose,
 * close.  addr_parse() takes ports 1..65535 only, so admin_open() cannot
 * be given 0 itself.  Returns 0 if ${family} has no loopback here.
 */
static unsigned
free_port(int family)
{
	struct addr	 a;
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);
	unsigned	 port = 0;
	int		 fd;

	assert_true(loopback(family, &a));
	addr_set_port(&a, 0);
	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return 0;
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

/* Start an admin on loopback of ${family}; false if that has no loopback. */
static bool
fx_start(struct fx *fx, int family, const char *allow)
{
	char		 err[256];
	unsigned	 port;
	int		 fd, tries;

	memset(fx, 0, sizeof(*fx));
	assert_non_null(fx->base = event_base_new());
	if (allow != NULL && acl_add(&fx->acl, false, allow, err,
	    sizeof(err)) != 0)
		fail_msg("acl_add %s: %s", allow, err);
	/* Another process may take the port in between: try a few. */
	for (tries = 0; tries < 5 && fx->admin == NULL; tries++) {
		if ((port = free_port(family)) == 0)
			return false;
		assert_true(loopback(family, &fx->addr));
		addr_set_port(&fx->addr, port);
		err[0] = '\0';
		if ((fd = admin_open(&fx->addr, err, sizeof(err))) == -1) {
			if (strstr(err, "in use") == NULL)
				fail_msg("admin_open: %s", err);
			continue;
		}
		if ((fx->admin = admin_start(fx->base, fd, &fx->acl, fill_cb,
		    release_cb, fx, err, sizeof(err))) == NULL)
			fail_msg("admin_start: %s", err);
	}
	assert_non_null(fx->admin);
	return true;
}

static void
fx_stop(struct fx *fx)
{
	admin_stop(fx->admin);
	event_base_free(fx->base);
	acl_free(&fx->acl);
	/* Every snapshot filled was released, whatever the request. */
	assert_int_equal(fx->fills, fx->releases);
}

/* ---- the client ----------------------------------------------------------- */

struct fetch {
	struct evbuffer	*in;
	bool		 done;		/* the server hung up */
	bool		 timed_out;
};

static void
fetch_read_cb(struct bufferevent *bev, void *arg)
{
	struct fetch	*f = arg;

	evbuffer_add_buffer(f->in, bufferevent_get_input(bev));
}

static void
fetch_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fetch	*f = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		evbuffer_add_buffer(f->in, bufferevent_get_input(bev));
		f->done = true;
	}
}

static void
fetch_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch	*f = arg;

	f->timed_out = true;
}

/*
 * The status of an answer whose status line is exactly the one for its
 * code ("HTTP/1.1 404 Not Found"), else -1.
 */
static int
status_of(const char *raw)
{
	static const struct {
		int		 code;
		const char	*line;
	} lines[] = {
		{ 200, "HTTP/1.1 200 OK\r\n" },
		{ 403, "HTTP/1.1 403 Forbidden\r\n" },
		{ 404, "HTTP/1.1 404 Not Found\r\n" },
		{ 405, "HTTP/1.1 405 Method Not Allowed\r\n" },
		{ 400, "HTTP/1.1 400 Bad Request\r\n" },
		{ 413, "HTTP/1.1 413 Request Entity Too Large\r\n" },
	};
	size_t	 i;

	for (i = 0; i < NELEM(lines); i++)
		if (strncmp(raw, lines[i].line, strlen(lines[i].line)) == 0)
			return lines[i].code;
	return -1;
}

/*
 * Send ${req} (${len} bytes) to the admin and read until it hangs up.
 * The client bufferevent shares the server's base, so each round of the
 * loop serves whichever side is ready; the timer bounds the whole.
 */
static void
fetch(struct fx *fx, const void *req, size_t len, struct resp *r)
{
	struct timeval		 tv = { DEADLINE_S, 0 };
	struct fetch		 f = { NULL, false, false };
	struct bufferevent	*bev;
	struct event		*timer;
	char			*hdr_end;
	int			 i;

	assert_non_null(f.in = evbuffer_new());
	assert_non_null(timer = evtimer_new(fx->base, fetch_timeout_cb, &f));
	assert_int_equal(evtimer_add(timer, &tv), 0);
	assert_non_null(bev = bufferevent_socket_new(fx->base, -1,
	    BEV_OPT_CLOSE_ON_FREE));
	bufferevent_setcb(bev, fetch_read_cb, NULL, fetch_event_cb, &f);
	assert_int_equal(bufferevent_enable(bev, EV_READ), 0);
	assert_int_equal(bufferevent_socket_connect(bev,
	    (struct sockaddr *)&fx->addr.ss, (int)fx->addr.len), 0);
	assert_int_equal(bufferevent_write(bev, req, len), 0);
	for (i = 0; i < MAX_ROUNDS && !f.done && !f.timed_out; i++)
		assert_int_not_equal(event_base_loop(fx->base, EVLOOP_ONCE), -1);
	bufferevent_free(bev);
	event_free(timer);
	if (!f.done)
		fail_msg("no hang-up within %d s (%d rounds)", DEADLINE_S, i);
	memset(r, 0, sizeof(*r));
	r->len = evbuffer_get_length(f.in);
	assert_non_null(r->raw = malloc(r->len + 1));
	evbuffer_remove(f.in, r->raw, r->len);
	r->raw[r->len] = '\0';
	evbuffer_free(f.in);
	r->status = status_of(r->raw);
	hdr_end = strstr(r->raw, "\r\n\r\n");
	r->body = hdr_end != NULL ? hdr_end + 4 : r->raw + r->len;
}

static void
fetch_str(struct fx *fx, const char *req, struct resp *r)
{
	fetch(fx, req, strlen(req), r);
}

/* The value of header ${name} in the first answer, or NULL. */
static const char *
header(const struct resp *r, const char *name, char *buf, size_t len)
{
	const char	*p, *end;
	size_t		 n = strlen(name);

	for (p = strstr(r->raw, "\r\n"); p != NULL && p + 2 < r->body;
	    p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) != 0 || p[2 + n] != ':')
			continue;
		p += 2 + n + 1;
		p += strspn(p, " ");
		end = strstr(p, "\r\n");
		snprintf(buf, len, "%.*s", (int)(end - p), p);
		return buf;
	}
	return NULL;
}

static void
expect_header(const struct resp *r, const char *name, const char *want)
{
	char		 buf[256];
	const char	*v = header(r, name, buf, sizeof(buf));

	if (v == NULL || strcmp(v, want) != 0)
		fail_msg("%s: '%s', not '%s', in\n%s", name, v ? v : "(none)",
		    want, r->raw);
}

/* A GET of ${path}: the status, and for 200 the type and the length. */
static void
expect_get(struct fx *fx, const char *path, int status, const char *type)
{
	struct resp	 r;
	char		 req[256], len[32];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", path);
	fetch_str(fx, req, &r);
	if (r.status != status)
		fail_msg("GET %s: want %d, got\n%s", path, status, r.raw);
	expect_header(&r, "Cache-Control", "no-store");
	if (type != NULL) {
		expect_header(&r, "Content-Type", type);
		snprintf(len, sizeof(len), "%zu", strlen(r.body));
		expect_header(&r, "Content-Length", len);
	}
	free(r.raw);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_pages(void **state)
{
	struct fx	 fx;
	struct resp	 r;

	(void)state;
	assert_true(fx_start(&fx, AF_INET, NULL));
	expect_get(&fx, "/metrics", 200, CT_METRICS);
	expect_get(&fx, "/metrics?x=1", 200, CT_METRICS);
	expect_get(&fx, "/status", 200, CT_JSON);
	expect_get(&fx, "/", 200, CT_HTML);
	assert_int_equal(fx.fills, 4);
	/*
	 * / and /status show the busiest sessions, so the filler may ask
	 * for them again; a scrape of /metrics does not.
	 */
	assert_int_equal(fx.shown, 2);
	expect_get(&fx, "/nope", 404, NULL);
	expect_get(&fx, "/metrics/", 404, NULL);
	expect_get(&fx, "/status.json", 404, NULL);
	/* A path, not an authority: "//metrics" names no host. */
	expect_get(&fx, "//metrics", 404, NULL);
	expect_get(&fx, "//evil.example/metrics", 404, NULL);
	expect_get(&fx, "///status", 404, NULL);
	assert_int_equal(fx.fills, 4);

	/* The content, briefly: the formatters have their own tests. */
	fetch_str(&fx, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_non_null(strstr(r.body, "\nrelay46_sessions_total{route=\"web\","
	    "result=\"done\"} 5\n"));
	free(r.raw);
	fetch_str(&fx, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_non_null(strstr(r.body, "{\"version\":\"0.1.0\","));
	free(r.raw);
	fx_stop(&fx);
	assert_int_equal(fx.fills, 6);
}

/*
 * An upstream no check tests shows as "unchecked" on every page, never
 * "up", and its host name shows beside its address.
 */
static void
test_health_pages(void **state)
{
	struct fx	 fx;
	struct resp	 r;

	(void)state;
	assert_true(fx_start(&fx, AF_INET, NULL));
	fetch_str(&fx, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_non_null(strstr(r.body, "{\"address\":\"127.0.0.1:8000\","
	    "\"host\":\"backend.internal:8000\",\"health\":\"unchecked\","));
	assert_non_null(strstr(r.body, "\"checked\":false,\"check_fails\":0,"));
	free(r.raw);
	fetch_str(&fx, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_non_null(strstr(r.body, "\nrelay46_upstream_checked{route=\"web\","
	    "upstream=\"127.0.0.1:8000\"} 0\n"));
	assert_non_null(strstr(r.body, "\nrelay46_upstream_info{route=\"web\","
	    "upstream=\"127.0.0.1:8000\",host=\"backend.internal:8000\"} 1\n"));
	assert_null(strstr(r.body, "health checks pass"));
	free(r.raw);
	fetch_str(&fx, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_non_null(strstr(r.body, "<td>127.0.0.1:8000</td>"
	    "<td>backend.internal:8000</td><td>unchecked</td>"));
	free(r.raw);
	fx_stop(&fx);
	assert_int_equal(fx.fills, 3);
}

/*
 * HEAD: the headers GET would send, no body, for a page and for an error;
 * HTTP/1.0 gets an answer too.
 */
static void
test_head(void **state)
{
	struct fx	 fx;
	struct resp	 r;
	char		 buf[32];

	(void)state;
	assert_true(fx_start(&fx, AF_INET, NULL));
	fetch_str(&fx, "HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	expect_header(&r, "Content-Type", CT_METRICS);
	assert_non_null(header(&r, "Content-Length", buf, sizeof(buf)));
	assert_true(strtoul(buf, NULL, 10) > 100);
	assert_string_equal(r.body, "");
	free(r.raw);
	/* Errors too: the length GET would get, and no body. */
	fetch_str(&fx, "HEAD /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 404);
	expect_header(&r, "Content-Length", "14");
	assert_string_equal(r.body, "");
	free(r.raw);
	fetch_str(&fx, "GET /status HTTP/1.0\r\n\r\n", &r);
	assert_true(strncmp(r.raw, "HTTP/1.0 200 ", 13) == 0);
	free(r.raw);
	fx_stop(&fx);
	assert_int_equal(fx.fills, 2);
}

static void
test_methods(void **state)
{
	static const char *const reqs[] = {
		"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n"
		    "Connection: close\r\n\r\nabc",
		"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n",
		"PUT /status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n",
		"DELETE / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
		"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
		"PATCH / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
		"TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	};
	struct fx	 fx;
	struct resp	 r;
	size_t		 i;

	(void)state;
	assert_true(fx_start(&fx, AF_INET, NULL));
	for (i = 0; i < NELEM(reqs); i++) {
		fetch_str(&fx, reqs[i], &r);
		if (r.status != 405)
			fail_msg("want 405 for\n%s\ngot\n%s", reqs[i], r.raw);
		expect_header(&r, "Allow", "GET, HEAD");
		expect_header(&r, "Cache-Control", "no-store");
		free(r.raw);
	}
	fx_stop(&fx);
	assert_int_equal(fx.fills, 0);
}

/*
 * A client outside admin_allow is hung up on at accept, before anything
 * it sent is read: no answer at all (it used to get a 403, after evhttp
 * had read and parsed its request); nothing is filled for it.
 */
static void
expect_forbidden(struct fx *fx)
{
	struct resp	 r;

	fetch_str(fx, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	    &r);
	if (r.len != 0)
		fail_msg("want a hang-up without an answer, got\n%s", r.raw);
	free(r.raw);
}

static void
test_acl(void **state)
{
	struct fx	 fx;
	bool		 v6;

	(void)state;
	/* 127.0.0.1 is not on a list that names only ::1. */
	assert_true(fx_start(&fx, AF_INET, "::1"));
	expect_forbidden(&fx);
	fx_stop(&fx);
	assert_int_equal(fx.fills, 0);

	assert_true(fx_start(&fx, AF_INET, "127.0.0.0/8"));
	expect_get(&fx, "/metrics", 200, CT_METRICS);
	fx_stop(&fx);
	assert_int_equal(fx.fills, 1);

	/* The same over IPv6, where the machine has ::1. */
	if ((v6 = fx_start(&fx, AF_INET6, "127.0.0.1"))) {
		expect_forbidden(&fx);
		fx_stop(&fx);
		assert_int_equal(fx.fills, 0);
		assert_true(fx_start(&fx, AF_INET6, "::1"));
		expect_get(&fx, "/status", 200, CT_JSON);
		expect_get(&fx, "/", 200, CT_HTML);
		expect_get(&fx, "/nope", 404, NULL);
	}
	fx_stop(&fx);
	if (!v6)
		skip();
}

/* Two requests on one connection, the second one sent before the first answer. */
static void
test_keepalive(void **state)
{
	struct fx	 fx;
	struct resp	 r;
	const char	*second;

	(void)state;
	assert_true(fx_start(&fx, AF_INET, NULL));
	fetch_str(&fx, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	    "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	    "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	    &r);
	assert_int_equal(r.status, 200);
	assert_non_null(second = strstr(r.body, "HTTP/1.1 404 "));
	assert_non_null(strstr(second, "HTTP/1.1 200 "));
	assert_non_null(strstr(second, "\r\n\r\n# HELP relay46_info "));
	free(r.raw);
	fx_stop(&fx);
	assert_int_equal(fx.fills, 2);
}

/* Requests over the limits are refused before anything is filled. */
static void
test_limits(void **state)
{
	static const char tls_hello[] =
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
	struct fx	 fx;
	struct resp	 r;
	char		*big;
	size_t		 n = 16384;

	(void)state;
	assert_true(fx_start(&fx, AF_INET, NULL));
	assert_non_null(big = malloc(n + 128));
	/* Headers of 16k, where 8k is the limit. */
	snprintf(big, n + 128, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: %0*d"
	    "\r\n\r\n", (int)n, 0);
	fetch_str(&fx, big, &r);
	if (r.status != 400)
		fail_msg("16k of headers: want 400, got\n%.200s", r.raw);
	free(r.raw);
	/* A body of 2k, where 1k is the limit. */
	snprintf(big, n + 128, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 2048\r\n\r\n%0*d", 2048, 0);
	fetch_str(&fx, big, &r);
	if (r.status != 413)
		fail_msg("a 2k body: want 413, got\n%.200s", r.raw);
	free(r.raw);
	/* Not HTTP at all: the start of a TLS hello. */
	fetch(&fx, tls_hello, sizeof(tls_hello) - 1, &r);
	assert_int_equal(r.status, 400);
	free(r.raw);
	free(big);
	fx_stop(&fx);
	assert_int_equal(fx.fills, 0);
}

/*
 * DNS rebinding: a Host that is not an IP literal or localhost is
 * refused with a short 403 and a hang-up, before anything is filled;
 * addresses (with or without a port), localhost and no Host at all are
 * served.
 */
static void
test_host(void **state)
{
	static const char *const good[] = {
		"127.0.0.1", "127.0.0.1:9100", "localhost", "LocalHost:9100",
		"[::1]", "[::1]:9100", "[fe80::1%25eth0]:80", "192.0.2.7:",
	};
	static const char *const bad[] = {
		"evil.example", "evil.example:9100", "localhost.evil.example",
		"127.0.0.1.evil.example", "[::1", "[evil.example]:80",
		"127.0.0.1:80:80", "127.0.0.1:123456", "::1", "", "127.1",
	};
	struct fx	 fx;
	struct resp	 r;
	char		 req[256];
	size_t		 i;
	int		 fills = 0;

	(void)state;
	assert_true(fx_start(&fx, AF_INET, NULL));
	for (i = 0; i < NELEM(bad); i++) {
		snprintf(req, sizeof(req), "GET /status HTTP/1.1\r\nHost: %s"
		    "\r\n\r\n", bad[i]);
		fetch_str(&fx, req, &r);
		if (r.status != 403 || strstr(r.body, "Host") == NULL)
			fail_msg("Host: %s: want 403, got\n%s", bad[i], r.raw);
		expect_header(&r, "Connection", "close");
		free(r.raw);
	}
	/* A second Host, or an absolute URI naming another host. */
	fetch_str(&fx, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Host: evil.example\r\n\r\n", &r);
	assert_int_equal(r.status, 403);
	free(r.raw);
	fetch_str(&fx, "GET http://evil.example/status HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n\r\n", &r);
	assert_int_equal(r.status, 403);
	free(r.raw);
	assert_int_equal(fx.fills, 0);
	for (i = 0; i < NELEM(good); i++) {
		snprintf(req, sizeof(req), "GET /status HTTP/1.1\r\nHost: %s"
		    "\r\nConnection: close\r\n\r\n", good[i]);
		fetch_str(&fx, req, &r);
		if (r.status != 200)
			fail_msg("Host: %s: want 200, got\n%s", good[i], r.raw);
		free(r.raw);
		fills++;
	}
	fetch_str(&fx, "GET /status HTTP/1.0\r\n\r\n", &r);
	assert_true(strncmp(r.raw, "HTTP/1.0 200 ", 13) == 0);
	free(r.raw);
	fetch_str(&fx, "GET http://127.0.0.1:9/status HTTP/1.1\r\n"
	    "Host: 127.0.0.1:9\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	free(r.raw);
	fx_stop(&fx);
	assert_int_equal(fx.fills, fills + 2);
}

static void
never_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fail_msg("called");
}

/*
 * libevent's own messages come through our log (the admin listener once
 * made libevent print millions of "[warn] Error from accept() call"
 * lines to stderr, past log = syslog): a burst of 200 warnings is one
 * line of ours, at warn, and nothing in libevent's format.
 */
static void
test_libevent_log(void **state)
{
	struct event_base	*base;
	char			 path[] = "/tmp/test_admin.XXXXXX", buf[8192];
	const char		*p;
	ssize_t			 n;
	int			 fd, saved, i, lines = 0;

	(void)state;
	log_init(false, LOG_LEVEL_INFO);
	log_libevent_init();
	assert_non_null(base = event_base_new());
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(unlink(path), 0);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	/* A signal event cannot also wait for reading: libevent warns. */
	for (i = 0; i < 200; i++)
		assert_null(event_new(base, SIGUSR2, EV_SIGNAL | EV_READ,
		    never_cb, NULL));
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	assert_true((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0);
	close(fd);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, " warn msg=\"libevent: ")) != NULL; p++)
		lines++;
	if (lines != 1 || strstr(buf, "[warn]") != NULL ||
	    strstr(buf, "EV_SIGNAL is not compatible") == NULL)
		fail_msg("want one line of ours, got:\n%s", buf);
	event_base_free(base);
}

static void
test_start_errors(void **state)
{
	struct fx	 fx;
	char		 err[256], want[128], abuf[ADDR_STRLEN];

	(void)state;
	admin_stop(NULL);
	/* The port of a running admin is taken, and the reason says so. */
	assert_true(fx_start(&fx, AF_INET, NULL));
	assert_int_equal(admin_open(&fx.addr, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "listen %s: %s",
	    addr_format(&fx.addr, abuf, sizeof(abuf)), strerror(EADDRINUSE));
	assert_string_equal(err, want);
	/* The first one still serves. */
	expect_get(&fx, "/status", 200, CT_JSON);
	fx_stop(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_acl),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_health_pages),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_libevent_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
