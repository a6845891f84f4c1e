/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sessionlog.c: the one line each session leaves when it ends, in the
 * daemon's log at info or, when there is one, in the access log, with
 * what the kernel measured of both sides (TCP_INFO); and the words for
 * the end reasons (session_end.h) that those lines and /metrics use.
 * Formatting only, from a struct session_line: it knows no session.
 * The lines are written on the worker threads; session_end_name() is
 * called on any.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accesslog.h"
#include "log.h"
#include "sessionlog.h"
#include "util.h"

static void	   session_line_access(const struct session_line *);
static const char *session_line_via(const struct session_line *, char *,
    size_t);
static const char *session_line_tcp(const struct session_line *, char *,
    size_t);

void
session_tcp_read(int fd, struct session_tcp *t)
{
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	memset(t, 0, sizeof(*t));
	if (fd == -1 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return;
	t->ok = true;
	t->rtt_us = ti.tcpi_rtt;
	t->rttvar_us = ti.tcpi_rttvar;
	t->retrans = ti.tcpi_total_retrans;
	t->unacked = ti.tcpi_unacked;
	t->cwnd = ti.tcpi_snd_cwnd;
}

void
session_line_write(const struct session_line *l)
{
	char		 c[ADDR_STRLEN], v[ADDR_STRLEN + 8], t[96];
	uint64_t	 ms;

	if (l->alog != NULL) {
		session_line_access(l);
		return;
	}
	/* Formatting addresses costs: skip it when the line is dropped. */
	if (log_level() < LOG_LEVEL_INFO)
		return;
	ms = util_now_ms() - l->start_ms;
	log_info("route=%s client=%s%s upstream=%s msg=\"session end\" "
		 "end=%s%s%s%s up=%llu down=%llu duration=%llu.%03llus%s",
	    l->route, addr_format(l->client, c, sizeof(c)),
	    session_line_via(l, v, sizeof(v)),
	    l->upstream == NULL ? "-" : l->upstream, session_end_name(l->why),
	    l->err ? " error=\"" : "", l->err ? strerror(l->err) : "",
	    l->err ? "\"" : "", (unsigned long long)l->up,
	    (unsigned long long)l->down, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000), session_line_tcp(l, t, sizeof(t)));
}

/*
 * The access log's line: UTC time, then the session line's fields.
 * Formatted here, written by the access log's own thread.
 */
static void
session_line_access(const struct session_line *l)
{
	char		 line[1024], c[ADDR_STRLEN], v[ADDR_STRLEN + 8], t[96];
	uint64_t	 ms = util_now_ms() - l->start_ms;
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;
	int		 k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n,
	    ".%03ldZ route=%s client=%s%s upstream=%s up=%llu down=%llu "
	    "duration=%llu.%03llus end=%s%s%s%s%s\n",
	    ts.tv_nsec / 1000000, l->route,
	    addr_format(l->client, c, sizeof(c)),
	    session_line_via(l, v, sizeof(v)),
	    l->upstream == NULL ? "-" : l->upstream, (unsigned long long)l->up,
	    (unsigned long long)l->down, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000), session_end_name(l->why),
	    l->err ? " error=\"" : "", l->err ? strerror(l->err) : "",
	    l->err ? "\"" : "", session_line_tcp(l, t, sizeof(t)));
	if (k > 0 && (size_t)k < sizeof(line) - n)
		accesslog_write(l->alog, line, n + (size_t)k);
}

/* " via=PEER" for a client named by a PROXY header, else "". */
static const char *
session_line_via(const struct session_line *l, char *buf, size_t len)
{
	buf[0] = '\0';
	if (l->via != NULL && len > 5) {
		memcpy(buf, " via=", 5);
		addr_format(l->via, buf + 5, len - 5);
	}
	return buf;
}

/*
 * " rtt=C/Uus retrans=C/U": what the kernel measured of the client's side
 * (C) and the upstream's (U) as the session ends, "-" for a side with no
 * connection.  Where trouble starts (a lossy client path, a slow
 * backend) shows here, per session, without a packet capture.
 */
static const char *
session_line_tcp(const struct session_line *l, char *buf, size_t len)
{
	struct session_tcp c, u;
	char		 f[4][16];

	session_tcp_read(l->cfd, &c);
	session_tcp_read(l->ufd, &u);
	snprintf(buf, len, " rtt=%s/%sus retrans=%s/%s",
	    session_tcp_num(&c, c.rtt_us, f[0], sizeof(f[0])),
	    session_tcp_num(&u, u.rtt_us, f[1], sizeof(f[1])),
	    session_tcp_num(&c, c.retrans, f[2], sizeof(f[2])),
	    session_tcp_num(&u, u.retrans, f[3], sizeof(f[3])));
	return buf;
}

const char *
session_tcp_num(const struct session_tcp *t, uint32_t v, char *buf, size_t len)
{
	if (!t->ok)
		return "-";
	snprintf(buf, len, "%u", v);
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
	[SESSION_END_KILLED] = "killed",
};

const char *
session_end_name(enum session_end e)
{
	if ((size_t)e >= NELEM(session_end_names))
		return "unknown";
	return session_end_names[e];
}
