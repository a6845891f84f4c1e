/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.c: the admin endpoint's three views of one snapshot: /metrics
 * (Prometheus text format 0.0.4), /status (JSON) and / (a small HTML
 * page).
 *
 * Pure formatting: snapshot.c gathers the numbers on the control thread
 * and admin.c calls these functions there, with an evbuffer that admin.c
 * owns and sends.  Nothing here reads a counter, a clock or a pool, so
 * the unit tests can check the output of a snapshot they build by hand.
 * It must never log, and never fail half way without saying so: every
 * function returns -1 once any write failed (out of memory), and the
 * caller then answers 500 rather than send a truncated page.
 *
 * Every string that comes from the config (route names, upstream lines
 * as written) or the network (addresses) is escaped for where it goes,
 * and bytes that are not UTF-8 become U+FFFD, whatever config.c already
 * refuses: one bad label makes a Prometheus scraper reject the whole
 * page, and one unescaped '<' would let a config line write HTML.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "addr.h"
#include "metrics.h"
#include "units.h"
#include "util.h"

/*
 * From half a millisecond (a connect on the same host or rack) to five
 * seconds (the default connect_timeout).  Only connects that succeed are
 * counted; one slower than 5 s needs a longer connect_timeout, and lands
 * in +Inf.
 */
const double metrics_connect_bounds[METRICS_CONNECT_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5
};

/* U+FFFD, shown in place of bytes that are not UTF-8. */
#define METRICS_REPLACEMENT	"\xef\xbf\xbd"

/*
 * Output with a sticky error: the formatters write many small pieces, and
 * checking each one would bury what they write.  Once an add fails
 * (out of memory) the rest are skipped and the result is -1.
 */
struct out {
	struct evbuffer	*buf;
	int		 rc;
};

enum metrics_esc {
	ESC_LABEL = 0,		/* Prometheus label value */
	ESC_JSON,		/* JSON string, RFC 8259 */
	ESC_HTML		/* HTML text or attribute */
};

static void	 out_printf(struct out *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Append ${n} bytes, unless an earlier append already failed. */
static void
out_add(struct out *o, const void *p, size_t n)
{
	if (o->rc == 0 && n > 0 && evbuffer_add(o->buf, p, n) == -1)
		o->rc = -1;
}

static void
out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list	 ap;

	if (o->rc != 0)
		return;
	va_start(ap, fmt);
	if (evbuffer_add_vprintf(o->buf, fmt, ap) == -1)
		o->rc = -1;
	va_end(ap);
}

/*
 * The length of the well-formed UTF-8 sequence at ${p} (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t
utf8_len(const unsigned char *p)
{
	size_t		 n, i;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range is what rules out the bad forms. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* The escape for ASCII byte ${c} in context ${how}, or NULL if none. */
static const char *
esc_ascii(unsigned char c, enum metrics_esc how, char *tmp, size_t len)
{
	/*
	 * The five characters that can end an HTML text or a quoted
	 * attribute value, so that one escaping serves both contexts.
	 */
	static const char *const html[] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;",
		['"'] = "&quot;", ['\''] = "&#39;"
	};

	switch (how) {
	case ESC_LABEL:
		/* The three escapes the text format defines for label values. */
		if (c == '\\' || c == '"')
			return c == '\\' ? "\\\\" : "\\\"";
		return c == '\n' ? "\\n" : NULL;
	case ESC_JSON:
		/* RFC 8259 wants every control character below 0x20 escaped. */
		if (c == '\\' || c == '"')
			return c == '\\' ? "\\\\" : "\\\"";
		if (c >= 0x20)
			return NULL;
		if (c == '\n' || c == '\r' || c == '\t')
			return c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
		snprintf(tmp, len, "\\u%04x", c);
		return tmp;
	case ESC_HTML:
		return c < NELEM(html) ? html[c] : NULL;
	}
	return NULL;
}

/*
 * Write ${s} escaped for ${how}.  Runs that need no escaping go out in
 * one piece; a byte that does not start well-formed UTF-8 becomes U+FFFD,
 * since Prometheus refuses label values that are not UTF-8 and a JSON
 * reader may too.
 */
static void
out_escaped(struct out *o, const char *s, enum metrics_esc how)
{
	const unsigned char	*p = (const unsigned char *)
				    (s != NULL ? s : "");
	const char		*e;
	char			 tmp[8];
	size_t			 run, n;

	while (*p != '\0') {
		run = 0;
		e = NULL;
		while (p[run] != '\0') {
			if ((n = utf8_len(p + run)) == 0)
				break;
			if (n == 1 &&
			    (e = esc_ascii(p[run], how, tmp, sizeof(tmp))) != NULL)
				break;
			run += n;
		}
		out_add(o, p, run);
		p += run;
		if (*p == '\0')
			break;
		out_str(o, e != NULL ? e : METRICS_REPLACEMENT);
		p++;
	}
}

/* ---- Prometheus text format 0.0.4 ------------------------------------ */

/*
 * A family's HELP and TYPE lines.  The format wants them once per family,
 * before its first sample, and all of a family's samples together; each
 * family below is written whole, route by route, for that reason.
 */
static void
prom_family(struct out *o, const char *name, const char *type,
    const char *help)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Opens a sample: name{route="..."; prom_label() and prom_u64() follow. */
static void
prom_start(struct out *o, const char *name, const char *route)
{
	out_printf(o, "%s{route=\"", name);
	out_escaped(o, route, ESC_LABEL);
	out_str(o, "\"");
}

static void
prom_label(struct out *o, const char *key, const char *value)
{
	out_printf(o, ",%s=\"", key);
	out_escaped(o, value, ESC_LABEL);
	out_str(o, "\"");
}

static void
prom_u64(struct out *o, uint64_t v)
{
	out_printf(o, "} %" PRIu64 "\n", v);
}

/*
 * What an operator asks first of a binary: its version, and what it was
 * built with that changes how it runs (relay46 -V says the same).
 */
static void
prom_build(struct out *o, const struct metrics_snapshot *s)
{
	prom_family(o, "relay46_info", "gauge", "Version of relay46, as a label.");
	out_str(o, "relay46_info{version=\"");
	out_escaped(o, s->version, ESC_LABEL);
	out_str(o, "\"} 1\n");
	prom_family(o, "relay46_build_info", "gauge",
	    "Always 1: the version, whether splice(2) was built in, and the "
	    "libevent in use.");
	out_str(o, "relay46_build_info{version=\"");
	out_escaped(o, s->version, ESC_LABEL);
	out_printf(o, "\",splice=\"%s\",libevent=\"", s->splice ? "yes" : "no");
	out_escaped(o, s->libevent != NULL ? s->libevent : "unknown",
	    ESC_LABEL);
	out_str(o, "\"} 1\n");
}

/* The process-wide families, which have no route label. */
static void
prom_global(struct out *o, const struct metrics_snapshot *s)
{
	prom_build(o, s);
	prom_family(o, "relay46_start_time_seconds", "gauge",
	    "When relay46 started, in seconds since the Unix epoch.");
	out_printf(o, "relay46_start_time_seconds %" PRIu64 "\n", s->start_time);
	prom_family(o, "relay46_config_last_reload_success", "gauge",
	    "1 if the last reload (SIGHUP, relay46ctl reload) took, or none "
	    "was asked yet; 0 if it was refused.");
	out_printf(o, "relay46_config_last_reload_success %d\n",
	    s->reload_ok ? 1 : 0);
	prom_family(o, "relay46_config_last_reload_timestamp_seconds", "gauge",
	    "When the running configuration was loaded (at start "
	    "or by the last good reload), in seconds since the Unix epoch.");
	out_printf(o,
	    "relay46_config_last_reload_timestamp_seconds %" PRIu64 "\n",
	    s->config_time);
	prom_family(o, "relay46_workers", "gauge", "Worker threads.");
	out_printf(o, "relay46_workers %u\n", s->workers);
	prom_family(o, "relay46_accept_errors_total", "counter",
	    "accept() failures other than the transient ones.");
	out_printf(o, "relay46_accept_errors_total %" PRIu64 "\n",
	    s->accept_errors);
	prom_family(o, "relay46_access_log_dropped_total", "counter",
	    "Access log lines dropped because the writer fell behind.");
	out_printf(o, "relay46_access_log_dropped_total %" PRIu64 "\n",
	    s->access_log_dropped);
	prom_family(o, "relay46_access_log_reopen_failures_total", "counter",
	    "SIGUSR1 reopens of the access log that failed (lines kept going "
	    "to the old file).");
	out_printf(o, "relay46_access_log_reopen_failures_total %" PRIu64
	    "\n", s->access_log_reopen_failures);
}

/*
 * Per route: sessions open, sessions ended by result, bytes each way.
 * Every result is written, zeros included: a series that appears only
 * once it is 1 makes rate() and alerts on it miss the first one.
 */
static void
prom_sessions(struct out *o, const struct metrics_snapshot *s)
{
	const struct metrics_route	*r;
	size_t				 i, j;

	prom_family(o, "relay46_sessions_active", "gauge",
	    "Sessions open now.");
	for (i = 0; i < s->nroutes; i++) {
		prom_start(o, "relay46_sessions_active", s->routes[i].name);
		prom_u64(o, s->routes[i].active);
	}
	prom_family(o, "relay46_sessions_total", "counter",
	    "Sessions ended, by how they ended.");
	for (i = 0; i < s->nroutes; i++) {
		r = &s->routes[i];
		for (j = 0; j < r->nresults; j++) {
			prom_start(o, "relay46_sessions_total", r->name);
			prom_label(o, "result", r->result_names[j]);
			prom_u64(o, r->results[j]);
		}
	}
	prom_family(o, "relay46_bytes_total", "counter",
	    "Bytes relayed: up is client to upstream, down the other way.");
	for (i = 0; i < s->nroutes; i++) {
		r = &s->routes[i];
		prom_start(o, "relay46_bytes_total", r->name);
		prom_label(o, "direction", "up");
		prom_u64(o, r->bytes_up);
		prom_start(o, "relay46_bytes_total", r->name);
		prom_label(o, "direction", "down");
		prom_u64(o, r->bytes_down);
	}
}

/* The snapshot counts per bucket; Prometheus wants running totals. */
static void
prom_histogram(struct out *o, const struct metrics_snapshot *s)
{
	const struct metrics_route	*r;
	uint64_t			 sum;
	size_t				 i, b;

	prom_family(o, "relay46_connect_seconds", "histogram",
	    "Time to connect to an upstream.");
	for (i = 0; i < s->nroutes; i++) {
		r = &s->routes[i];
		sum = 0;
		/* <=: the extra bucket past the last bound is +Inf. */
		for (b = 0; b <= METRICS_CONNECT_BUCKETS; b++) {
			sum += r->connect_buckets[b];
			prom_start(o, "relay46_connect_seconds_bucket", r->name);
			/* %g writes 0.0005 and 1, not 0.000500 and 1.000000. */
			if (b < METRICS_CONNECT_BUCKETS)
				out_printf(o, ",le=\"%g\"",
				    metrics_connect_bounds[b]);
			else
				out_str(o, ",le=\"+Inf\"");
			prom_u64(o, sum);
		}
		prom_start(o, "relay46_connect_seconds_sum", r->name);
		out_printf(o, "} %.6f\n", r->connect_sum);
		/* _count equals the +Inf bucket, as the format requires. */
		prom_start(o, "relay46_connect_seconds_count", r->name);
		prom_u64(o, sum);
	}
}

/*
 * "up" only when checks vouch for it: without checks, an upstream not
 * marked down is merely not known to be broken, and saying "up" would
 * let a dashboard claim more than relay46 knows.
 */
const char *
metrics_health(const struct metrics_upstream *u)
{
	return !u->up ? "down" : u->checked ? "up" : "unchecked";
}

/*
 * What marked ${u} down and the last failure's error, as the log line
 * that said so had it; "" while it is not down.
 */
const char *
metrics_down_why(const struct metrics_upstream *u, char *buf, size_t len)
{
	const char	*by = u->down_check ? "check" : "connect";

	if (u->up)
		snprintf(buf, len, "%s", "");
	else if (u->down_err == 0)
		snprintf(buf, len, "%s", by);
	else
		snprintf(buf, len, "%s: %s", by, strerror(u->down_err));
	return buf;
}

/* One upstream sample: name{route,upstream[,key=value]} v. */
static void
prom_upstream(struct out *o, const char *name, const char *route,
    const struct metrics_upstream *u, const char *key, const char *value,
    uint64_t v)
{
	prom_start(o, name, route);
	prom_label(o, "upstream", u->name);
	if (key != NULL)
		prom_label(o, key, value);
	prom_u64(o, v);
}

/*
 * Upstream health as two 0/1 gauges rather than one state label: "up"
 * keeps its meaning for the alerts already written on it (== 0: marked
 * down), and "checked" says whether a 1 rests on checks at all.  The
 * upstream line's host name is metadata, so it goes in an _info gauge
 * to join on, not into every series' identity.
 */
enum prom_ufam {
	PROM_U_UP = 0,
	PROM_U_CHECKED,
	PROM_U_LIVE,
	PROM_U_CONNECTS,
	PROM_U_CHECK_FAILS,
	PROM_U_INFO,
	PROM_U_ADMIN,
	PROM_U_WEIGHT,
	PROM_U_COUNT
};

static const struct {
	const char	*name, *type, *help;
} prom_ufams[PROM_U_COUNT] = {
	{ "relay46_upstream_up", "gauge",
	    "1 unless marked down by failed "
	    "connects or failed health checks, else 0; see "
	    "relay46_upstream_checked." },
	{ "relay46_upstream_checked", "gauge",
	    "1 if active health checks "
	    "(health_check = tcp) test this upstream, else 0." },
	{ "relay46_upstream_sessions_active", "gauge",
	    "Sessions on this upstream now." },
	{ "relay46_upstream_connects_total", "counter",
	    "Connects to this upstream, by result." },
	{ "relay46_upstream_check_failures_total", "counter",
	    "Active health checks of this upstream that failed." },
	{ "relay46_upstream_info", "gauge",
	    "Always 1: host is the upstream "
	    "line this address came from, as written." },
	{ "relay46_upstream_admin_state", "gauge",
	    "The operator's state of "
	    "this upstream (relay46ctl set upstream): 1 for the one in force "
	    "(ready, drain or maint), 0 for the others." },
	{ "relay46_upstream_weight", "gauge",
	    "The weight in force: the "
	    "upstream line's, or the operator's (relay46ctl)." },
};

/*
 * One sample per state, 1 for the one in force, as Prometheus writes an
 * enum: "== 1" selects it, and a state that was never set still has a
 * series to alert on.
 */
static void
prom_admin(struct out *o, const char *name, const char *route,
    const struct metrics_upstream *u)
{
	static const char *const states[] = { "ready", "drain", "maint" };
	const char	*now = u->admin != NULL ? u->admin : "ready";
	size_t		 i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		prom_upstream(o, name, route, u, "state", states[i],
		    strcmp(now, states[i]) == 0);
}

static void
prom_upstream_samples(struct out *o, enum prom_ufam f, const char *route,
    const struct metrics_upstream *u)
{
	const char	*name = prom_ufams[f].name;

	switch (f) {
	case PROM_U_UP:
		prom_upstream(o, name, route, u, NULL, NULL, u->up ? 1 : 0);
		break;
	case PROM_U_CHECKED:
		prom_upstream(o, name, route, u, NULL, NULL, u->checked ? 1 : 0);
		break;
	case PROM_U_LIVE:
		prom_upstream(o, name, route, u, NULL, NULL, u->live);
		break;
	case PROM_U_CONNECTS:
		prom_upstream(o, name, route, u, "result", "ok", u->connects);
		prom_upstream(o, name, route, u, "result", "failed",
		    u->connect_fails);
		break;
	case PROM_U_CHECK_FAILS:
		prom_upstream(o, name, route, u, NULL, NULL, u->check_fails);
		break;
	case PROM_U_INFO:
		prom_upstream(o, name, route, u, "host",
		    u->host != NULL ? u->host : u->name, 1);
		break;
	case PROM_U_ADMIN:
		prom_admin(o, name, route, u);
		break;
	case PROM_U_WEIGHT:
		prom_upstream(o, name, route, u, NULL, NULL, u->weight_now);
		break;
	case PROM_U_COUNT:
		break;
	}
}

static void
prom_upstreams(struct out *o, const struct metrics_snapshot *s)
{
	const struct metrics_route	*r;
	size_t				 i, j;
	int				 f;

	/* Family by family: each family's samples must be together. */
	for (f = 0; f < PROM_U_COUNT; f++) {
		prom_family(o, prom_ufams[f].name, prom_ufams[f].type,
		    prom_ufams[f].help);
		for (i = 0; i < s->nroutes; i++) {
			r = &s->routes[i];
			for (j = 0; j < r->nups; j++)
				prom_upstream_samples(o, (enum prom_ufam)f,
				    r->name, &r->ups[j]);
		}
	}
}

/*
 * The kernel's view of listening (DESIGN §5), where TCP trouble shows
 * before relay46 sees a client: each listen address's accept queue, and
 * the host's count of connections that found one full.  A queue near its
 * limit, or overflows that grow, mean clients wait out a handshake
 * retransmission (a second or more) before they are accepted.
 */
static void
prom_listeners(struct out *o, const struct metrics_snapshot *s)
{
	const struct metrics_listener	*l;
	size_t				 i;

	prom_family(o, "relay46_listener_queue", "gauge",
	    "Connections waiting for accept() on this listen address, over "
	    "its sockets (one per worker).");
	for (i = 0; i < s->nlisteners; i++) {
		l = &s->listeners[i];
		prom_start(o, "relay46_listener_queue", l->route);
		prom_label(o, "listen", l->listen);
		prom_u64(o, l->queue);
	}
	prom_family(o, "relay46_listener_queue_limit", "gauge",
	    "The most connections one socket of this listen address holds "
	    "for accept(): its backlog, as net.core.somaxconn capped it.");
	for (i = 0; i < s->nlisteners; i++) {
		l = &s->listeners[i];
		prom_start(o, "relay46_listener_queue_limit", l->route);
		prom_label(o, "listen", l->listen);
		prom_u64(o, l->limit);
	}
	if (!s->netstat)
		return;
	prom_family(o, "relay46_tcp_listen_overflows_total", "counter",
	    "Connections this host's kernel turned away from a full accept "
	    "queue, any process's (TcpExt ListenOverflows).");
	out_printf(o, "relay46_tcp_listen_overflows_total %" PRIu64 "\n",
	    s->listen_overflows);
	prom_family(o, "relay46_tcp_listen_drops_total", "counter",
	    "Connections this host's kernel dropped on their way to any "
	    "process's accept queue, overflows included (TcpExt "
	    "ListenDrops).");
	out_printf(o, "relay46_tcp_listen_drops_total %" PRIu64 "\n",
	    s->listen_drops);
}

int
metrics_prometheus(const struct metrics_snapshot *s, struct evbuffer *out)
{
	struct out	 o = { out, 0 };

	prom_global(&o, s);
	prom_sessions(&o, s);
	prom_histogram(&o, s);
	prom_upstreams(&o, s);
	prom_listeners(&o, s);
	return o.rc;
}

/* ---- JSON ------------------------------------------------------------ */

/* A JSON string value: quoted, escaped, never raw bytes from a config. */
static void
json_str(struct out *o, const char *s)
{
	out_str(o, "\"");
	out_escaped(o, s, ESC_JSON);
	out_str(o, "\"");
}

static const char *
json_bool(bool b)
{
	return b ? "true" : "false";
}

/* The operator's state; "ready" where nobody said (a snapshot by hand). */
static const char *
admin_state(const struct metrics_upstream *u)
{
	return u->admin != NULL ? u->admin : "ready";
}

/* How long a down upstream has been down; 0 when not down or unknown. */
static uint64_t
down_since(const struct metrics_upstream *u)
{
	return u->up ? 0 : u->down_since;
}

/*
 * One upstream object.  "host" falls back to the address for an entry
 * that has no line text, so a reader never meets null.
 */
static void
json_upstream(struct out *o, const struct metrics_upstream *u)
{
	char	 why[128];

	out_str(o, "{\"address\":");
	json_str(o, u->name);
	out_str(o, ",\"host\":");
	json_str(o, u->host != NULL ? u->host : u->name);
	out_printf(o, ",\"health\":\"%s\"", metrics_health(u));
	out_printf(o,
	    ",\"up\":%s,\"present\":%s,\"backup\":%s,\"weight\":%u,"
	    "\"active\":%" PRIu64 ",\"connects\":%" PRIu64 ","
	    "\"connect_fails\":%" PRIu64
	    ",\"checked\":%s,\"check_fails\":%" PRIu64,
	    json_bool(u->up), json_bool(u->present), json_bool(u->backup),
	    u->weight, u->live, u->connects, u->connect_fails,
	    json_bool(u->checked), u->check_fails);
	out_printf(o,
	    ",\"state\":\"%s\",\"weight_now\":%u,\"down_why\":", admin_state(u),
	    u->weight_now);
	json_str(o, metrics_down_why(u, why, sizeof(why)));
	out_printf(o, ",\"down_since\":%" PRIu64 "}", down_since(u));
}

/* A route's settings: where it listens, how it picks, how it checks. */
static void
json_route_conf(struct out *o, const struct metrics_route *r)
{
	char	 abuf[ADDR_STRLEN];
	size_t	 i;

	out_str(o, ",\"listen\":[");
	for (i = 0; i < r->nlisten; i++) {
		if (i > 0)
			out_str(o, ",");
		json_str(o, addr_format(&r->listen[i], abuf, sizeof(abuf)));
	}
	out_str(o, "],\"balance\":");
	json_str(o, r->balance != NULL ? r->balance : "");
	out_printf(o,
	    ",\"health_check\":%s,\"check_interval_ms\":%" PRIu64
	    ",\"rise\":%u,\"fall\":%u",
	    json_bool(r->health_check), r->check_interval_ms, r->rise, r->fall);
}

/* One route object: its counters, sessions by result, its upstreams. */
static void
json_route(struct out *o, const struct metrics_route *r)
{
	size_t	 i;

	out_str(o, "{\"name\":");
	json_str(o, r->name);
	json_route_conf(o, r);
	out_printf(o, ",\"active\":%" PRIu64 ",\"bytes_up\":%" PRIu64
	    ",\"bytes_down\":%" PRIu64 ",\"sessions\":{", r->active,
	    r->bytes_up, r->bytes_down);
	for (i = 0; i < r->nresults; i++) {
		if (i > 0)
			out_str(o, ",");
		json_str(o, r->result_names[i]);
		out_printf(o, ":%" PRIu64, r->results[i]);
	}
	out_str(o, "},\"upstreams\":[");
	for (i = 0; i < r->nups; i++) {
		if (i > 0)
			out_str(o, ",");
		json_upstream(o, &r->ups[i]);
	}
	out_str(o, "]}");
}

/* A clock stepped back must not show an uptime near 2^64. */
static uint64_t
uptime(const struct metrics_snapshot *s)
{
	return s->now > s->start_time ? s->now - s->start_time : 0;
}

/* A session's RTT of one side in microseconds, or null: not known. */
static void
json_rtt(struct out *o, const char *key, bool ok, uint32_t us)
{
	if (ok)
		out_printf(o, ",\"%s\":%" PRIu32, key, us);
	else
		out_printf(o, ",\"%s\":null", key);
}

static void
json_session(struct out *o, const struct metrics_session *ms)
{
	char	 abuf[ADDR_STRLEN];

	out_printf(o, "{\"id\":%" PRIu64 ",\"route\":", ms->id);
	json_str(o, ms->route);
	out_str(o, ",\"client\":");
	json_str(o, addr_format(&ms->client, abuf, sizeof(abuf)));
	out_str(o, ",\"upstream\":");
	if (ms->upstream.ss.ss_family == AF_UNSPEC)
		out_str(o, "null");
	else
		json_str(o, addr_format(&ms->upstream, abuf, sizeof(abuf)));
	out_printf(o,
	    ",\"age_ms\":%" PRIu64 ",\"bytes_up\":%" PRIu64
	    ",\"bytes_down\":%" PRIu64,
	    ms->age_ms, ms->up, ms->down);
	json_rtt(o, "client_rtt_us", ms->client_rtt_ok, ms->client_rtt_us);
	json_rtt(o, "upstream_rtt_us", ms->upstream_rtt_ok,
	    ms->upstream_rtt_us);
	out_str(o, "}");
}

/* The busiest sessions and how old that list is (null: not yet made). */
static void
json_sessions(struct out *o, const struct metrics_snapshot *s)
{
	size_t	 i;

	if (s->sessions_known)
		out_printf(o, ",\"busiest_sessions_age_ms\":%" PRIu64,
		    s->sessions_age_ms);
	else
		out_str(o, ",\"busiest_sessions_age_ms\":null");
	out_str(o, ",\"busiest_sessions\":[");
	for (i = 0; i < s->nsessions; i++) {
		if (i > 0)
			out_str(o, ",");
		json_session(o, &s->sessions[i]);
	}
	out_str(o, "]");
}

int
metrics_json(const struct metrics_snapshot *s, struct evbuffer *out)
{
	struct out	 o = { out, 0 };
	size_t		 i;

	out_str(&o, "{\"version\":");
	json_str(&o, s->version);
	out_printf(&o, ",\"uptime_seconds\":%" PRIu64 ",\"workers\":%u,"
	    "\"sessions_active\":%" PRIu64 ",\"routes\":[", uptime(s),
	    s->workers, s->sessions_active);
	for (i = 0; i < s->nroutes; i++) {
		if (i > 0)
			out_str(&o, ",");
		json_route(&o, &s->routes[i]);
	}
	out_str(&o, "]");
	json_sessions(&o, s);
	out_str(&o, "}\n");
	return o.rc;
}

/* ---- HTML ------------------------------------------------------------ */

/* How often the page reloads itself: seconds, as the head writes them. */
#define HTML_REFRESH_S	"5"

/*
 * The page's head: inline CSS only, no script and nothing fetched from
 * elsewhere, so the page works on a host with no way out, and an escaped
 * name has no script to reach.  It reloads itself (a meta refresh, which
 * needs no script); numbers are right-aligned by column, so that no cell
 * needs a class of its own.
 */
static const char html_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"refresh\" content=\"" HTML_REFRESH_S "\">\n"
    "<title>relay46</title>\n<style>\n"
    "body{font-family:sans-serif;margin:1em 2em;color:#222}\n"
    "h2{margin:1.4em 0 .4em}\n"
    "table{border-collapse:collapse;margin:.4em 0;"
    "font-variant-numeric:tabular-nums}\n"
    "th,td{border:1px solid #bbb;padding:.2em .5em;text-align:left;"
    "vertical-align:top}\n"
    "th{background:#eee}\n"
    ".ups td,.ses td{white-space:nowrap}\n"
    ".ups td:nth-child(4){white-space:normal}\n"
    ".ups td:nth-child(n+7),.ses td:nth-child(1),"
    ".ses td:nth-child(n+5){text-align:right}\n"
    ".route th{width:9em}\n"
    ".down{color:#b00}\n"
    ".off{color:#777}\n"
    ".note{color:#555}\n"
    "</style>\n</head>\n<body>\n";

/* "2023-11-14 22:13:20 UTC" for unix seconds ${t}; "" for 0. */
static const char *
html_time(uint64_t t, char *buf, size_t len)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	buf[0] = '\0';
	if (t != 0 && gmtime_r(&tt, &tm) != NULL)
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

/* A span for people, to the second: "42s", "3m 20s", "2h 05m", "3d 04h". */
static const char *
html_span(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%us", (unsigned)s);
	else if (s < 3600)
		snprintf(buf, len, "%um %02us", (unsigned)(s / 60),
		    (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%uh %02um", (unsigned)(s / 3600),
		    (unsigned)(s / 60 % 60));
	else
		snprintf(buf, len, "%" PRIu64 "d %02uh", s / 86400,
		    (unsigned)(s / 3600 % 24));
	return buf;
}

/* A round trip: "42 µs" below a millisecond, else "1.3 ms"; "-": unknown. */
static const char *
html_rtt(bool ok, uint32_t us, char *buf, size_t len)
{
	if (!ok)
		snprintf(buf, len, "-");
	else if (us < 1000)
		snprintf(buf, len, "%" PRIu32 " \xc2\xb5s", us);
	else
		snprintf(buf, len, "%" PRIu32 ".%" PRIu32 " ms", us / 1000,
		    us % 1000 / 100);
	return buf;
}

static void
html_text(struct out *o, const char *s)
{
	out_escaped(o, s, ESC_HTML);
}

/* A cell of text from outside (a config, the network, strerror()). */
static void
html_cell(struct out *o, const char *s)
{
	out_str(o, "<td>");
	html_text(o, s);
	out_str(o, "</td>");
}

/* A row's class: red when down, grey when the operator took it out. */
static const char *
html_up_class(const struct metrics_upstream *u)
{
	if (!u->up)
		return " class=\"down\"";
	return strcmp(admin_state(u), "ready") != 0 ? " class=\"off\"" : "";
}

/*
 * Since when ${u} is down, and for how long by ${now}: "15:06:43 UTC,
 * for 8s", with the date in front unless it is ${now}'s (the column
 * stays narrow enough for the table to fit a screen); "" when not down,
 * or not known since when.
 */
static void
html_down_since(struct out *o, const struct metrics_upstream *u, uint64_t now)
{
	char	 t[40], today[40], span[32];
	uint64_t since = down_since(u);

	if (since == 0) {
		out_str(o, "<td></td>");
		return;
	}
	html_time(since, t, sizeof(t));
	html_time(now, today, sizeof(today));
	/* "YYYY-MM-DD ": the first 11 bytes. */
	out_printf(o, "<td>%s, for %s</td>",
	    strncmp(t, today, 11) == 0 ? t + 11 : t,
	    html_span(now > since ? now - since : 0, span, sizeof(span)));
}

/* One table row per upstream; a down one is shown in red (.down). */
static void
html_upstream(struct out *o, const struct metrics_upstream *u, uint64_t now)
{
	char	 why[128];

	out_printf(o, "<tr%s>", html_up_class(u));
	html_cell(o, u->name);
	html_cell(o, u->host != NULL ? u->host : u->name);
	out_printf(o, "<td>%s%s%s</td>", metrics_health(u),
	    u->backup ? ", backup" : "", u->present ? "" : ", gone from DNS");
	html_cell(o, metrics_down_why(u, why, sizeof(why)));
	html_down_since(o, u, now);
	html_cell(o, admin_state(u));
	/* The weight in force, and the line's where the operator set one. */
	if (u->weight_now != u->weight)
		out_printf(o, "<td>%u (line: %u)</td>", u->weight_now,
		    u->weight);
	else
		out_printf(o, "<td>%u</td>", u->weight_now);
	out_printf(o,
	    "<td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
	    "</td><td>%" PRIu64 "</td></tr>\n",
	    u->live, u->connects, u->connect_fails, u->check_fails);
}

/* A route's settings: where it listens, how it picks, how it checks. */
static void
html_route_conf(struct out *o, const struct metrics_route *r)
{
	char	 abuf[ADDR_STRLEN], d[32];
	size_t	 i;

	out_str(o, "<tr><th>Listen</th><td>");
	for (i = 0; i < r->nlisten; i++) {
		out_str(o, i > 0 ? ", " : "");
		html_text(o, addr_format(&r->listen[i], abuf, sizeof(abuf)));
	}
	out_str(o, "</td></tr>\n<tr><th>Balance</th>");
	html_cell(o, r->balance != NULL ? r->balance : "");
	units_format_duration(r->check_interval_ms, d, sizeof(d));
	/* The keys' own names: what an operator changes to change them. */
	if (r->health_check)
		out_printf(o,
		    "</tr>\n<tr><th>Health checks</th><td>tcp every "
		    "%s, rise %u, fall %u</td></tr>\n",
		    d, r->rise, r->fall);
	else
		out_printf(o,
		    "</tr>\n<tr><th>Health checks</th><td>off; down "
		    "after %u failed connect%s in a row (fall), tried again "
		    "every %s</td></tr>\n",
		    r->fall, r->fall == 1 ? "" : "s", d);
}

/*
 * Sessions open and ended, the latter by how they ended.  Only the ends
 * that happened: a line of twenty-odd zeros hides the one that matters
 * (/metrics keeps every one, for rate()).
 */
static void
html_route_sessions(struct out *o, const struct metrics_route *r)
{
	uint64_t	 ended = 0;
	size_t		 i;
	bool		 first = true;

	for (i = 0; i < r->nresults; i++)
		ended += r->results[i];
	out_printf(o,
	    "<tr><th>Sessions</th><td>%" PRIu64 " active, %" PRIu64 " ended",
	    r->active, ended);
	for (i = 0; i < r->nresults; i++) {
		if (r->results[i] == 0)
			continue;
		out_str(o, first ? ": " : ", ");
		first = false;
		html_text(o, r->result_names[i]);
		out_printf(o, " %" PRIu64, r->results[i]);
	}
	out_str(o, "</td></tr>\n");
}

/*
 * A route's heading, its settings and counters in a small table, and its
 * upstream table.  A session's bytes count for its route when it ends:
 * the live ones' are in the busiest sessions' table.
 */
static void
html_route(struct out *o, const struct metrics_route *r, uint64_t now)
{
	char	 up[32], down[32];
	size_t	 i;

	out_str(o, "<h2>Route ");
	html_text(o, r->name);
	out_str(o, "</h2>\n<table class=\"route\">\n");
	html_route_conf(o, r);
	html_route_sessions(o, r);
	out_printf(o,
	    "<tr><th>Bytes</th><td>%s up, %s down, by the sessions "
	    "that ended</td></tr>\n</table>\n",
	    units_format_bytes(r->bytes_up, up, sizeof(up)),
	    units_format_bytes(r->bytes_down, down, sizeof(down)));
	out_str(o,
	    "<table class=\"ups\">\n<tr><th>Upstream</th><th>Host</th>"
	    "<th>Health</th><th>Why down</th><th>Down since</th>"
	    "<th>State</th><th>Weight</th><th>Active</th><th>Connects</th>"
	    "<th>Failed</th><th>Checks failed</th></tr>\n");
	for (i = 0; i < r->nups; i++)
		html_upstream(o, &r->ups[i], now);
	out_str(o, "</table>\n");
}

static void
html_session(struct out *o, const struct metrics_session *ms)
{
	char abuf[ADDR_STRLEN], age[32], up[32], down[32], crtt[32], urtt[32];

	out_printf(o, "<tr><td>%" PRIu64 "</td>", ms->id);
	html_cell(o, ms->route);
	html_cell(o, addr_format(&ms->client, abuf, sizeof(abuf)));
	html_cell(o,
	    ms->upstream.ss.ss_family == AF_UNSPEC ?
		"-" :
		addr_format(&ms->upstream, abuf, sizeof(abuf)));
	out_printf(o,
	    "<td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
	    "<td>%s</td></tr>\n",
	    html_span(ms->age_ms / 1000, age, sizeof(age)),
	    units_format_bytes(ms->up, up, sizeof(up)),
	    units_format_bytes(ms->down, down, sizeof(down)),
	    html_rtt(ms->client_rtt_ok, ms->client_rtt_us, crtt, sizeof(crtt)),
	    html_rtt(ms->upstream_rtt_ok, ms->upstream_rtt_us, urtt,
		sizeof(urtt)));
}

/* The busiest live sessions, as the workers last told them. */
static void
html_sessions(struct out *o, const struct metrics_snapshot *s)
{
	size_t	 i;

	out_str(o, "<h2>Busiest sessions</h2>\n");
	if (!s->sessions_known) {
		out_str(o,
		    "<p class=\"note\">Asked of the workers now: they "
		    "show at the next refresh.</p>\n");
		return;
	}
	out_printf(o,
	    "<p class=\"note\">The %d live sessions with the most "
	    "bytes both ways, as of %" PRIu64 ".%" PRIu64 " s ago.</p>\n",
	    METRICS_TOP_SESSIONS, s->sessions_age_ms / 1000,
	    s->sessions_age_ms % 1000 / 100);
	if (s->nsessions == 0) {
		out_str(o, "<p>No live sessions.</p>\n");
		return;
	}
	out_str(o,
	    "<table class=\"ses\">\n<tr><th>Id</th><th>Route</th>"
	    "<th>Client</th><th>Upstream</th><th>Age</th><th>Up</th>"
	    "<th>Down</th><th>Client RTT</th><th>Upstream RTT</th></tr>\n");
	for (i = 0; i < s->nsessions; i++)
		html_session(o, &s->sessions[i]);
	out_str(o, "</table>\n");
}

int
metrics_html(const struct metrics_snapshot *s, struct evbuffer *out)
{
	struct out	 o = { out, 0 };
	uint64_t	 up = uptime(s);
	char		 now[40];
	size_t		 i;

	out_str(&o, html_head);
	out_str(&o, "<h1>relay46 ");
	html_text(&o, s->version);
	out_printf(&o, "</h1>\n<p>Up %" PRIu64 "d %02u:%02u:%02u, %u workers, "
	    "%" PRIu64 " sessions active, %" PRIu64 " accept errors, %"
	    PRIu64 " access log lines dropped.</p>\n", up / 86400,
	    (unsigned)(up / 3600 % 24), (unsigned)(up / 60 % 60),
	    (unsigned)(up % 60), s->workers, s->sessions_active,
	    s->accept_errors, s->access_log_dropped);
	out_printf(&o,
	    "<p class=\"note\">As of %s; this page reloads itself "
	    "every " HTML_REFRESH_S " s.</p>\n",
	    html_time(s->now, now, sizeof(now)));
	for (i = 0; i < s->nroutes; i++)
		html_route(&o, &s->routes[i], s->now);
	html_sessions(&o, s);
	out_str(&o, "</body>\n</html>\n");
	return o.rc;
}
