/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin.c: the read-only HTTP endpoint (admin = ADDR): /metrics for
 * Prometheus, /status as JSON, / as a page for people, each from a
 * snapshot of the counters that its caller fills (admin_snapshot_fn)
 * and metrics.c formats.  It owns its evhttp server, its connections
 * (bounded) and its admin_allow check.  Control thread only; nothing
 * here changes the running relay (that is the control socket's).
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "acl.h"
#include "addr.h"
#include "admin.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/*
 * Limits that keep a slow or hostile client from holding the endpoint:
 * a request is a line and a few headers, never a body worth reading.
 * ADMIN_TIMEOUT_S bounds a whole connection from its accept, however
 * slowly bytes trickle in (evhttp's own timeout is reset by each byte);
 * ADMIN_MAX_CONNS bounds the descriptors the endpoint can ever hold, so
 * it cannot starve the relay's sessions.
 */
#define ADMIN_BACKLOG		64
#define ADMIN_TIMEOUT_S		10
#define ADMIN_MAX_HEADERS	8192
#define ADMIN_MAX_BODY		1024
#define ADMIN_MAX_CONNS		16

/* How long accepting pauses when descriptors run out, as listener.c. */
#define ADMIN_BACKOFF_MS	250

/* libevent 2.1 names no 403. */
#define ADMIN_FORBIDDEN		403

/*
 * Every method evhttp can parse.  evhttp answers a method outside its
 * allowed set with 501 itself; admitting them all lets admin_request_cb()
 * give the 405 (with Allow) that HTTP asks for.
 */
#define ADMIN_PARSED_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | \
	EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
	EVHTTP_REQ_PATCH)

struct admin;

/*
 * One accepted connection, from evhttp's asking us for its bufferevent
 * until evhttp frees the connection (admin_conn_close_cb).  Until
 * admin_conn_check() has run, ${bev} holds a reference of ours, so
 * it outlives an evhttp that gave the connection up at once.
 */
struct admin_conn {
	struct admin		*a;
	struct bufferevent	*bev;
	struct evhttp_connection *evcon;	/* NULL until checked */
	struct event		*timer;		/* the check, then the deadline */
	bool			 over;		/* accepted past the limit */
	LIST_ENTRY(admin_conn)	 entry;
};

struct admin {
	struct evhttp		*http;
	struct evconnlistener	*lev;		/* evhttp's, on our socket */
	struct event		*backoff;	/* accept paused: resume */
	const struct acl	*allow;
	admin_snapshot_fn	*fill;
	admin_release_fn	*release;
	void			*arg;
	struct addr		 addr;		/* where we listen, for logs */
	unsigned		 nconns;	/* in conns */
	bool			 full;		/* paused at ADMIN_MAX_CONNS */
	bool			 stopping;	/* in admin_stop() */
	unsigned long long	 err_logged;	/* log_ratelimit() */
	LIST_HEAD(, admin_conn)	 conns;
	LIST_ENTRY(admin)	 entry;		/* in admin_all */
};

/*
 * Every admin serving, for admin_accept_error_cb() alone: libevent 2.1
 * hands a listener's error callback the listener's argument, which evhttp
 * has made its own evhttp, so the listener is the only way back to us.
 * Touched only on the thread running the admins' loop (the control
 * thread), like everything else here.
 */
static LIST_HEAD(, admin) admin_all = LIST_HEAD_INITIALIZER(admin_all);

typedef int admin_format_fn(const struct metrics_snapshot *,
    struct evbuffer *);

/*
 * ${sessions}: the page shows the busiest sessions, so that the filler
 * gathers them again for the next request; a scrape of /metrics, which
 * does not show them, makes no worker walk its sessions.
 */
static const struct admin_page {
	const char	*path;
	const char	*type;
	admin_format_fn	*format;
	bool		 sessions;
} admin_pages[] = {
	{ "/metrics", "text/plain; version=0.0.4; charset=utf-8",
	    metrics_prometheus, false },
	{ "/status", "application/json", metrics_json, true },
	{ "/", "text/html; charset=utf-8", metrics_html, true },
};

static bool
admin_acl_empty(const struct acl *acl)
{
	return acl == NULL || (acl->nallow == 0 && acl->ndeny == 0);
}

/*
 * Is the peer of ${fd} allowed in?  A peer we cannot name is let in only
 * when nobody is shut out anyway: an ACL fails closed.
 */
static bool
admin_fd_allowed(const struct admin *a, evutil_socket_t fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct addr		 peer;

	if (admin_acl_empty(a->allow))
		return true;
	if (fd == -1 || getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	addr_from_sockaddr(&peer, (struct sockaddr *)&ss, len);
	return acl_allows(a->allow, &peer);
}

/* May the peer of ${req} see the pages? */
static bool
admin_peer_allowed(const struct admin *a, struct evhttp_request *req)
{
	struct evhttp_connection *evcon;
	struct bufferevent	*bev;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return admin_fd_allowed(a, -1);
	return admin_fd_allowed(a, bufferevent_getfd(bev));
}

/* Headers every answer carries: these pages are live, never cache them. */
static void
admin_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

/*
 * Every answer goes out here: our headers, the length of ${body} (NULL: out
 * of memory, no body), and for HEAD the length GET would get with no body
 * (RFC 9110 9.3.2); libevent 2.1 would send the body even to HEAD.
 */
static void
admin_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, struct evbuffer *body)
{
	char	 len[32];

	admin_headers(req, type);
	if (body != NULL) {
		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Length", len);
		if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
			evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason, body);
}

/*
 * A short plain-text error, "CODE REASON" and ${why} when not NULL.
 * evhttp_send_error() would send HTML without our headers.  ${close}:
 * hang up afterwards, for clients we refuse.
 */
static void
admin_error_why(struct evhttp_request *req, int code, const char *reason,
    const char *why, bool close)
{
	struct evbuffer	*body;

	if (code == HTTP_BADMETHOD)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
	if (close)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
	/* Out of memory the reply still goes, just without its body. */
	if ((body = evbuffer_new()) != NULL)
		evbuffer_add_printf(body, "%d %s%s%s\n", code, reason,
		    why != NULL ? ": " : "", why != NULL ? why : "");
	admin_reply(req, code, reason, "text/plain; charset=utf-8", body);
	if (body != NULL)
		evbuffer_free(body);
}

static void
admin_error(struct evhttp_request *req, int code, const char *reason,
    bool close)
{
	admin_error_why(req, code, reason, NULL, close);
}

static const struct admin_page *
admin_route(struct evhttp_request *req)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path, *raw = evhttp_request_get_uri(req);
	size_t			 i;

	/*
	 * evhttp reads "//X/metrics" as host X and path "/metrics"; as a
	 * request target it is the path "//X/metrics", which is no page.
	 */
	if (raw == NULL || strncmp(raw, "//", 2) == 0)
		return NULL;
	if (uri == NULL || (path = evhttp_uri_get_path(uri)) == NULL)
		return NULL;
	for (i = 0; i < NELEM(admin_pages); i++)
		if (strcmp(path, admin_pages[i].path) == 0)
			return &admin_pages[i];
	return NULL;
}

/* Fill a snapshot, format it, release it: exactly once each. */
static void
admin_serve(struct admin *a, struct evhttp_request *req,
    const struct admin_page *pg)
{
	struct metrics_snapshot	 s;
	struct evbuffer		*body;
	int			 rc;

	if ((body = evbuffer_new()) == NULL) {
		admin_error(req, HTTP_INTERNAL, "Internal Server Error", true);
		return;
	}
	memset(&s, 0, sizeof(s));
	a->fill(a->arg, &s);
	rc = pg->format(&s, body);
	s.sessions_shown = pg->sessions && rc == 0;
	if (a->release != NULL)
		a->release(a->arg, &s);
	if (rc == -1) {
		evbuffer_free(body);
		admin_error(req, HTTP_INTERNAL, "Internal Server Error", true);
		return;
	}
	admin_reply(req, HTTP_OK, "OK", pg->type, body);
	evbuffer_free(body);
}

/* ${p}: nothing, or a colon and at most five digits (an empty port too). */
static bool
admin_port_ok(const char *p)
{
	size_t	 n;

	if (*p == '\0')
		return true;
	if (*p++ != ':')
		return false;
	n = strspn(p, "0123456789");
	return n <= 5 && p[n] == '\0';
}

/*
 * Does ${host}, a Host header or the authority of an absolute URI, name
 * this endpoint by address: an IPv4 literal, an [IPv6] literal (with a
 * %zone or not) or "localhost", each with an optional port?  Any other
 * name may be one whose DNS an attacker turned to 127.0.0.1 (DNS
 * rebinding), so that a web page in a browser here could read the pages.
 */
static bool
admin_host_ok(const char *host)
{
	char		 ip[INET6_ADDRSTRLEN + 1];
	unsigned char	 bin[sizeof(struct in6_addr)];
	const char	*end, *zone;
	size_t		 n;
	bool		 v6 = host[0] == '[';

	if (v6) {
		if ((end = strchr(host, ']')) == NULL)
			return false;
		host++;
		n = (size_t)(end - host);
		end++;
		/* A zone (fe80::1%25eth0) is the kernel's business, not DNS's. */
		if ((zone = memchr(host, '%', n)) != NULL)
			n = (size_t)(zone - host);
	} else {
		n = strcspn(host, ":");
		end = host + n;
	}
	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, host, n);
	ip[n] = '\0';
	if (v6 ? inet_pton(AF_INET6, ip, bin) != 1 :
	    inet_pton(AF_INET, ip, bin) != 1 && strcasecmp(ip, "localhost") != 0)
		return false;
	return admin_port_ok(end);
}

/*
 * Every Host header of ${req} and the host of an absolute request URI
 * pass admin_host_ok(); a request with neither (HTTP/1.0) passes too.
 */
static bool
admin_host_allowed(struct evhttp_request *req)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	const char		*host;
	unsigned char		 bin[sizeof(struct in6_addr)];

	TAILQ_FOREACH(kv, h, next)
		if (strcasecmp(kv->key, "Host") == 0 &&
		    !admin_host_ok(kv->value))
			return false;
	/*
	 * Only an absolute URI (with a scheme) names a host: evhttp reads
	 * the path "//metrics" as the authority "metrics", a 403 where the
	 * path should get its 404.
	 */
	if (uri == NULL || evhttp_uri_get_scheme(uri) == NULL ||
	    (host = evhttp_uri_get_host(uri)) == NULL)
		return true;
	/* evhttp may hand an IPv6 host over without its brackets. */
	return admin_host_ok(host) || inet_pton(AF_INET6, host, bin) == 1;
}

static void
admin_request_cb(struct evhttp_request *req, void *arg)
{
	struct admin			*a = arg;
	const struct admin_page		*pg;
	enum evhttp_cmd_type		 m = evhttp_request_get_command(req);

	/*
	 * The peer was checked at accept; this catches one accepted before
	 * a reload narrowed admin_allow.
	 */
	if (!admin_peer_allowed(a, req))
		admin_error(req, ADMIN_FORBIDDEN, "Forbidden", true);
	else if (!admin_host_allowed(req))
		admin_error_why(req, ADMIN_FORBIDDEN, "Forbidden", "the Host "
		    "header must be an IP address or localhost", true);
	else if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD)
		admin_error(req, HTTP_BADMETHOD, "Method Not Allowed", false);
	else if ((pg = admin_route(req)) == NULL)
		admin_error(req, HTTP_NOTFOUND, "Not Found", false);
	else
		admin_serve(a, req, pg);
}

int
admin_open(const struct addr *addr, char *err, size_t errlen)
{
	/* Bound like a listener, with a small backlog of its own. */
	return listener_bind(addr, false, ADMIN_BACKLOG, err, errlen);
}

/* Accepting is paused (out of descriptors, or full): resume if we may. */
static void
admin_resume(struct admin *a)
{
	if (!a->stopping && !a->full && !evtimer_pending(a->backoff, NULL))
		evconnlistener_enable(a->lev);
}

/* ${c} is gone: forget it, and make room for the next one. */
static void
admin_conn_free(struct admin_conn *c)
{
	struct admin	*a = c->a;

	LIST_REMOVE(c, entry);
	event_free(c->timer);
	free(c);
	a->nconns--;
	if (a->full && a->nconns < ADMIN_MAX_CONNS) {
		a->full = false;
		admin_resume(a);
	}
}

/* evhttp frees a connection we checked: by then it has closed the fd. */
static void
admin_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	/* Once: evhttp calls this from a reset and a free alike. */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	admin_conn_free(arg);
}

/*
 * Right after the accept, in the same turn of the loop, before evhttp
 * has read a byte: close a peer outside admin_allow, or one past the
 * limit, at once and without an answer; give the rest their deadline.
 */
static void
admin_conn_check(struct admin_conn *c)
{
	struct timeval		 tv = { ADMIN_TIMEOUT_S, 0 };
	void			*cbarg = NULL;
	struct evhttp_connection *evcon;

	/*
	 * evhttp makes its connection the argument of the bufferevent's
	 * callbacks; NULL means it gave the connection up already (out of
	 * memory), and freed the bufferevent, or never took it.
	 */
	bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
	evcon = cbarg;
	if (evcon == NULL || evhttp_connection_get_bufferevent(evcon) !=
	    c->bev) {
		if (bufferevent_decref(c->bev) == 0 && evcon == NULL)
			bufferevent_free(c->bev);
		admin_conn_free(c);
		return;
	}
	bufferevent_decref(c->bev);	/* evhttp's alone from now on */
	if (c->over || !admin_fd_allowed(c->a, bufferevent_getfd(c->bev))) {
		evhttp_connection_free(evcon);
		admin_conn_free(c);
		return;
	}
	c->evcon = evcon;
	evhttp_connection_set_closecb(evcon, admin_conn_close_cb, c);
	evtimer_add(c->timer, &tv);
}

/*
 * First the check, then the deadline: however it is getting on, the
 * connection has had ADMIN_TIMEOUT_S since its accept (evhttp's own
 * timeout starts again with every byte).  Freeing it calls
 * admin_conn_close_cb().
 */
static void
admin_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->evcon == NULL)
		admin_conn_check(c);
	else
		evhttp_connection_free(c->evcon);
}

/*
 * evhttp has accepted a connection and asks for its bufferevent: the one
 * hook libevent 2.1 gives us at accept.  Count it (at the limit, pause
 * accepting until one ends) and check it before evhttp reads from it.
 */
static struct bufferevent *
admin_bev_cb(struct event_base *base, void *arg)
{
	struct admin		*a = arg;
	struct admin_conn	*c;

	/* Out of memory evhttp makes its own: admin_request_cb() checks. */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->timer = evtimer_new(base, admin_conn_timer_cb, c)) == NULL ||
	    (c->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
		return NULL;
	}
	bufferevent_incref(c->bev);
	c->a = a;
	/* More than the limit in one burst: evhttp accepts in a loop. */
	c->over = a->nconns >= ADMIN_MAX_CONNS;
	LIST_INSERT_HEAD(&a->conns, c, entry);
	if (++a->nconns >= ADMIN_MAX_CONNS && !a->full) {
		a->full = true;
		evconnlistener_disable(a->lev);
	}
	event_active(c->timer, EV_TIMEOUT, 0);
	return c->bev;
}

static void
admin_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	admin_resume(arg);
}

/*
 * accept() failed with something other than EAGAIN, EINTR or
 * ECONNABORTED.  Out of descriptors or memory the socket stays readable,
 * and accepting again at once would spin (and, without this callback,
 * libevent would print a line each time): pause, as the routes' listeners
 * do, and say so at most once a second.
 */
static void
admin_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct timeval	 tv = { 0, ADMIN_BACKOFF_MS * 1000 };
	struct admin	*a;
	char		 abuf[ADDR_STRLEN];
	int		 e = EVUTIL_SOCKET_ERROR();

	(void)arg;
	evconnlistener_disable(lev);
	LIST_FOREACH(a, &admin_all, entry)
		if (a->lev == lev)
			break;
	assert(a != NULL);
	if (log_ratelimit(&a->err_logged))
		log_error("addr=%s msg=\"admin accept: %s (pausing the admin "
		    "endpoint)\"", addr_format(&a->addr, abuf, sizeof(abuf)),
		    strerror(e));
	evtimer_add(a->backoff, &tv);
}

/* Hand ${fd} to evhttp: from now on it is the listener's, closed with it. */
static int
admin_listen(struct admin *a, int fd)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_from_sockaddr(&a->addr, (struct sockaddr *)&ss, len);
	if ((bound = evhttp_accept_socket_with_handle(a->http, fd)) == NULL)
		return -1;
	a->lev = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(a->lev, admin_accept_error_cb);
	return 0;
}

struct admin *
admin_start(struct event_base *base, int fd, const struct acl *allow,
    admin_snapshot_fn *fill, admin_release_fn *release, void *arg, char *err,
    size_t errlen)
{
	struct admin	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->http = evhttp_new(base)) == NULL ||
	    (a->backoff = evtimer_new(base, admin_backoff_cb, a)) == NULL) {
		err_set(err, errlen, "admin: out of memory");
		goto fail;
	}
	LIST_INIT(&a->conns);
	a->allow = allow;
	a->fill = fill;
	a->release = release;
	a->arg = arg;
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
	evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
	evhttp_set_allowed_methods(a->http, ADMIN_PARSED_METHODS);
	evhttp_set_gencb(a->http, admin_request_cb, a);
	evhttp_set_bevcb(a->http, admin_bev_cb, a);
	if (admin_listen(a, fd) == -1) {
		err_set(err, errlen, "admin: cannot serve on the socket");
		goto fail;
	}
	LIST_INSERT_HEAD(&admin_all, a, entry);
	return a;
fail:
	close(fd);
	if (a != NULL && a->http != NULL)
		evhttp_free(a->http);
	if (a != NULL && a->backoff != NULL)
		event_free(a->backoff);
	free(a);
	return NULL;
}

void
admin_set_allow(struct admin *a, const struct acl *allow)
{
	a->allow = allow;
}

void
admin_stop(struct admin *a)
{
	struct admin_conn	*c;

	if (a == NULL)
		return;
	a->stopping = true;
	LIST_REMOVE(a, entry);
	/*
	 * Closes the listener and every connection, pending or not; those
	 * checked leave through admin_conn_close_cb().
	 */
	evhttp_free(a->http);
	/* Those accepted but not checked yet: only our reference is left. */
	while ((c = LIST_FIRST(&a->conns)) != NULL) {
		bufferevent_decref(c->bev);
		admin_conn_free(c);
	}
	event_free(a->backoff);
	free(a);
}
