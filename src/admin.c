/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "acl.h"
#include "addr.h"
#include "admin.h"
#include "listener.h"
#include "metrics.h"
#include "util.h"

/*
 * Limits that keep a slow or hostile client from holding the endpoint:
 * a request is a line and a few headers, never a body worth reading.
 */
#define ADMIN_BACKLOG		64
#define ADMIN_TIMEOUT_S		10
#define ADMIN_MAX_HEADERS	8192
#define ADMIN_MAX_BODY		1024

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

struct admin {
	struct evhttp		*http;
	const struct acl	*allow;
	admin_snapshot_fn	*fill;
	admin_release_fn	*release;
	void			*arg;
};

typedef int admin_format_fn(const struct metrics_snapshot *,
    struct evbuffer *);

static const struct admin_page {
	const char	*path;
	const char	*type;
	admin_format_fn	*format;
} admin_pages[] = {
	{ "/metrics", "text/plain; version=0.0.4; charset=utf-8",
	    metrics_prometheus },
	{ "/status", "application/json", metrics_json },
	{ "/", "text/html; charset=utf-8", metrics_html },
};


static bool
admin_acl_empty(const struct acl *acl)
{
	return acl == NULL || (acl->nallow == 0 && acl->ndeny == 0);
}

/*
 * May the peer of ${req} see the pages?  A peer we cannot name is let in
 * only when nobody is shut out anyway: an ACL fails closed.
 */
static bool
admin_peer_allowed(const struct admin *a, struct evhttp_request *req)
{
	struct evhttp_connection *evcon;
	struct bufferevent	*bev;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct addr		 peer;
	evutil_socket_t		 fd;

	if (admin_acl_empty(a->allow))
		return true;
	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) == -1 ||
	    getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	addr_from_sockaddr(&peer, (struct sockaddr *)&ss, len);
	return acl_allows(a->allow, &peer);
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
 * A short plain-text error.  evhttp_send_error() would send HTML without
 * our headers.  ${close}: hang up afterwards, for clients we refuse.
 */
static void
admin_error(struct evhttp_request *req, int code, const char *reason,
    bool close)
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
		evbuffer_add_printf(body, "%d %s\n", code, reason);
	admin_reply(req, code, reason, "text/plain; charset=utf-8", body);
	if (body != NULL)
		evbuffer_free(body);
}

static const struct admin_page *
admin_route(struct evhttp_request *req)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path;
	size_t			 i;

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

static void
admin_request_cb(struct evhttp_request *req, void *arg)
{
	struct admin			*a = arg;
	const struct admin_page		*pg;
	enum evhttp_cmd_type		 m = evhttp_request_get_command(req);

	if (!admin_peer_allowed(a, req))
		admin_error(req, ADMIN_FORBIDDEN, "Forbidden", true);
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

struct admin *
admin_start(struct event_base *base, int fd, const struct acl *allow,
    admin_snapshot_fn *fill, admin_release_fn *release, void *arg, char *err,
    size_t errlen)
{
	struct admin	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->http = evhttp_new(base)) == NULL) {
		err_set(err, errlen, "admin: out of memory");
		goto fail;
	}
	a->allow = allow;
	a->fill = fill;
	a->release = release;
	a->arg = arg;
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
	evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
	evhttp_set_allowed_methods(a->http, ADMIN_PARSED_METHODS);
	evhttp_set_gencb(a->http, admin_request_cb, a);
	/* On success evhttp owns the socket and closes it in evhttp_free(). */
	if (evhttp_accept_socket_with_handle(a->http, fd) == NULL) {
		err_set(err, errlen, "admin: cannot serve on the socket");
		goto fail;
	}
	return a;
fail:
	close(fd);
	if (a != NULL && a->http != NULL)
		evhttp_free(a->http);
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
	if (a == NULL)
		return;
	/* Closes the listener and every connection, pending or not. */
	evhttp_free(a->http);
	free(a);
}
