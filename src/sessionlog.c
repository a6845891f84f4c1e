/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sessionlog.c: the one line each session leaves when it ends, in the
 * daemon's log at info or, when there is one, in the access log, and the
 * words for the end reasons (session_end.h) that those lines and
 * /metrics use.  Formatting only: it reads a session, changes nothing,
 * and is called once, from session_close().  Worker thread only.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accesslog.h"
#include "config.h"
#include "host.h"
#include "log.h"
#include "pool.h"
#include "session.h"
#include "util.h"

static void session_access_log(const struct session *, enum session_end, int);
static const char *session_via(const struct session *, char *, size_t);

/*
 * The session's line: one per session, at info in the daemon's log, or in
 * the access log when there is one.
 */
void
session_log_end(const struct session *s, enum session_end why, int err)
{
	char		 c[ADDR_STRLEN], v[ADDR_STRLEN + 8];
	uint64_t	 ms;

	if (s->h->alog != NULL) {
		session_access_log(s, why, err);
		return;
	}
	/* Formatting addresses costs: skip it when the line is dropped. */
	if (log_level() < LOG_LEVEL_INFO)
		return;
	ms = util_now_ms() - s->start_ms;
	log_info("route=%s client=%s%s upstream=%s msg=\"session end\" "
		 "end=%s%s%s%s up=%llu down=%llu duration=%llu.%03llus",
	    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
	    session_via(s, v, sizeof(v)), s->up == NULL ? "-" : s->up->name,
	    session_end_name(why), err ? " error=\"" : "",
	    err ? strerror(err) : "", err ? "\"" : "",
	    (unsigned long long)session_up_bytes(s),
	    (unsigned long long)s->u2c.bytes, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000));
}

/*
 * The access log's line: UTC time, then the session line's fields.
 * Formatted here, written by the access log's own thread.
 */
static void
session_access_log(const struct session *s, enum session_end why, int err)
{
	char		 line[1024], c[ADDR_STRLEN], v[ADDR_STRLEN + 8];
	uint64_t	 ms = util_now_ms() - s->start_ms;
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;
	int		 k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n,
	    ".%03ldZ route=%s client=%s%s upstream=%s up=%llu down=%llu "
	    "duration=%llu.%03llus end=%s%s%s%s\n",
	    ts.tv_nsec / 1000000, s->rt->route->name,
	    addr_format(&s->client, c, sizeof(c)), session_via(s, v, sizeof(v)),
	    s->up == NULL ? "-" : s->up->name,
	    (unsigned long long)session_up_bytes(s),
	    (unsigned long long)s->u2c.bytes, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000), session_end_name(why),
	    err ? " error=\"" : "", err ? strerror(err) : "", err ? "\"" : "");
	if (k > 0 && (size_t)k < sizeof(line) - n)
		accesslog_write(s->h->alog, line, n + (size_t)k);
}

/* " via=PEER" for a client named by a PROXY header, else "". */
static const char *
session_via(const struct session *s, char *buf, size_t len)
{
	buf[0] = '\0';
	if (s->via != NULL && len > 5) {
		memcpy(buf, " via=", 5);
		addr_format(&s->via->peer, buf + 5, len - 5);
	}
	return buf;
}

static const char *const session_end_names[] = {
	[SESSION_END_DONE] = "done",
	[SESSION_END_CLIENT_RESET] = "client_reset",
	[SESSION_END_UPSTREAM_RESET] = "upstream_reset",
	[SESSION_END_CLIENT_ERROR] = "client_error",
	[SESSION_END_UPSTREAM_ERROR] = "upstream_error",
	[SESSION_END_UPSTREAM_REFUSED] = "upstream_refused",
	[SESSION_END_CONNECT_TIMEOUT] = "connect_timeout",
	[SESSION_END_UPSTREAM_UNREACHABLE] = "upstream_unreachable",
	[SESSION_END_IDLE_TIMEOUT] = "idle_timeout",
	[SESSION_END_FIN_TIMEOUT] = "fin_timeout",
	[SESSION_END_MAX_CONNECTIONS] = "max_connections",
	[SESSION_END_SHUTDOWN] = "shutdown",
	[SESSION_END_INTERNAL_ERROR] = "internal_error",
	[SESSION_END_DENIED] = "denied",
	[SESSION_END_MAX_PER_CLIENT] = "max_per_client",
	[SESSION_END_UPSTREAM_FULL] = "upstream_full",
	[SESSION_END_PROXY_ERROR] = "proxy_error",
	[SESSION_END_PROXY_TIMEOUT] = "proxy_timeout",
	[SESSION_END_PROXY_UNTRUSTED] = "proxy_untrusted",
};

const char *
session_end_name(enum session_end e)
{
	if ((size_t)e >= NELEM(session_end_names))
		return "unknown";
	return session_end_names[e];
}
