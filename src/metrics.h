/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_METRICS_H
#define RELAY46_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct evbuffer;

/*
 * What /metrics, /status and / show: a snapshot the control thread fills
 * from the per-worker counters (summed) and the pools, then formats with
 * the pure functions below.  Names follow DESIGN §5.
 */

/* Connect-time histogram upper bounds, seconds (Prometheus "le"). */
#define METRICS_CONNECT_BUCKETS	12
extern const double metrics_connect_bounds[METRICS_CONNECT_BUCKETS];
/* = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5 } */

struct metrics_upstream {
	const char	*name;		/* "127.0.0.1:8000", "[::1]:8001" */
	bool		 up;		/* not marked down (connects or checks) */
	bool		 present;	/* still in DNS (literals: always) */
	bool		 backup;
	unsigned	 weight;
	uint64_t	 live;		/* sessions on it now */
	uint64_t	 connects;	/* connects that succeeded */
	uint64_t	 connect_fails;
	/* its upstream line as written: "backend.internal:80", "[::1]:8001" */
	const char	*host;
	bool		 checked;	/* active health checks run for it */
	uint64_t	 check_fails;	/* active checks that failed */
	const char	*admin;		/* the operator's: "ready", "drain", "maint" */
	unsigned	 weight_now;	/* the weight in force (set upstream) */
	int		 down_err;	/* down: the last failure's errno */
	bool		 down_check;	/* ...of an active check, not a connect */
	uint64_t	 down_since;	/* down: since, unix seconds (0: unknown) */
};

/*
 * metrics_health(u): "down" (marked down by failed connects or checks),
 * "up" (checks run and pass) or "unchecked" (no checks run, and nothing
 * has marked it down: nobody knows more).
 */
const char *metrics_health(const struct metrics_upstream *u);

/*
 * metrics_down_why(u, buf, len): why ${u} is down, into ${buf}: what
 * marked it down ("check" or "connect") and the last failure's error
 * ("connect: Connection refused"); "" while it is not down.  Returns
 * ${buf}.
 */
const char *metrics_down_why(const struct metrics_upstream *u, char *buf,
    size_t len);

struct metrics_route {
	const char	*name;
	/* listen addresses as bound (port 0 shows the port the kernel chose) */
	const struct addr *listen;
	size_t		 nlisten;
	const char	*balance;	/* "roundrobin", ... (balance_name()) */
	bool		 health_check;	/* health_check = tcp */
	uint64_t	 check_interval_ms;
	unsigned	 rise, fall;
	uint64_t	 active;	/* sessions now */
	/* sessions ended, by end reason ("done", "client_reset", ...) */
	const char *const *result_names;
	const uint64_t	*results;
	size_t		 nresults;
	uint64_t	 bytes_up, bytes_down;	/* client->upstream, upstream->client */
	/* connect time: counts per bucket (NOT cumulative), plus +Inf */
	uint64_t	 connect_buckets[METRICS_CONNECT_BUCKETS + 1];
	double		 connect_sum;	/* seconds */
	struct metrics_upstream *ups;
	size_t		 nups;
};

/*
 * One listen address of a route, as the kernel sees its sockets (one
 * per worker, or one shared socket from systemd).
 */
struct metrics_listener {
	const char	*route;
	char		 listen[ADDR_STRLEN];	/* as bound: "[::]:8080" */
	uint64_t	 queue;		/* waiting for accept(), all sockets */
	uint64_t	 limit;		/* the most one socket holds */
	unsigned	 sockets;	/* its sockets, each counted once */
};

/*
 * One live session among the busiest (by bytes both ways), as a worker
 * reported it a moment ago.  rtt_us: the kernel's smoothed round trip
 * of that side (TCP_INFO), where *_rtt_ok.
 */
#define METRICS_TOP_SESSIONS	10
struct metrics_session {
	uint64_t	 id;		/* relay46ctl's */
	const char	*route;
	struct addr	 client;
	struct addr	 upstream;	/* AF_UNSPEC: not connected yet */
	uint64_t	 age_ms;
	uint64_t	 up, down;	/* bytes, client->upstream and back */
	uint32_t	 client_rtt_us, upstream_rtt_us;
	bool		 client_rtt_ok, upstream_rtt_ok;
};

struct metrics_snapshot {
	const char	*version;	/* "0.1.0" */
	const char	*libevent;	/* event_get_version(); NULL: unknown */
	bool		 splice;	/* built with splice(2) */
	uint64_t	 start_time;	/* unix seconds */
	uint64_t	 config_time;	/* the running config's load, unix s */
	bool		 reload_ok;	/* the last reload took (or none yet) */
	uint64_t	 now;		/* unix seconds */
	unsigned	 workers;
	uint64_t	 accept_errors;
	uint64_t	 sessions_active;	/* all routes */
	uint64_t	 access_log_dropped;
	uint64_t	 access_log_reopen_failures;	/* SIGUSR1 reopens */
	struct metrics_route *routes;
	size_t		 nroutes;
	/* Addresses whose queue could not be read (not Linux) are left out. */
	struct metrics_listener *listeners;
	size_t		 nlisteners;
	/* /proc/net/netstat's, system-wide; false: not read (not Linux). */
	bool		 netstat;
	uint64_t	 listen_overflows, listen_drops;
	/*
	 * The busiest live sessions, busiest first, as last gathered from
	 * the workers, ${sessions_age_ms} ago; !sessions_known: never yet.
	 * The filler sets sessions_shown false; whoever formats the
	 * snapshot sets it true before release if it showed them, so the
	 * filler may gather them again for the next look.
	 */
	const struct metrics_session *sessions;
	size_t		 nsessions;
	bool		 sessions_known;
	uint64_t	 sessions_age_ms;
	bool		 sessions_shown;
};

/*
 * metrics_prometheus(s, out): the Prometheus text exposition format
 * (version 0.0.4): HELP and TYPE for every family, label values escaped
 * (backslash, double quote, newline).  Families:
 *   relay46_info{version} 1 (gauge)
 *   relay46_build_info{version,splice="yes"|"no",libevent} 1 (gauge)
 *   relay46_start_time_seconds (gauge)
 *   relay46_workers (gauge)
 *   relay46_accept_errors_total (counter)
 *   relay46_access_log_dropped_total (counter)
 *   relay46_access_log_reopen_failures_total (counter)
 *   relay46_sessions_active{route} (gauge)
 *   relay46_sessions_total{route,result} (counter)
 *   relay46_bytes_total{route,direction="up"|"down"} (counter)
 *   relay46_connect_seconds{route} (histogram: _bucket{le} cumulative,
 *     le="+Inf" equal to _count, _sum, _count)
 *   relay46_upstream_up{route,upstream} 1|0 (gauge): 0 once marked down
 *     by failed connects or checks
 *   relay46_upstream_checked{route,upstream} 1|0 (gauge): active checks run
 *   relay46_upstream_sessions_active{route,upstream} (gauge)
 *   relay46_upstream_connects_total{route,upstream,result="ok"|"failed"}
 *     (counter)
 *   relay46_upstream_check_failures_total{route,upstream} (counter)
 *   relay46_upstream_info{route,upstream,host} 1 (gauge): the upstream
 *     line an address came from, joinable on {route,upstream}
 *   relay46_upstream_admin_state{route,upstream,state} 1|0 (gauge): the
 *     operator's state, one sample per state (ready, drain, maint)
 *   relay46_upstream_weight{route,upstream} (gauge): the weight in force
 *   relay46_config_last_reload_success 1|0 (gauge)
 *   relay46_config_last_reload_timestamp_seconds (gauge)
 *   relay46_listener_queue{route,listen} (gauge): connections waiting
 *     for accept(), summed over the address's sockets
 *   relay46_listener_queue_limit{route,listen} (gauge): the most one of
 *     them holds (its backlog, as the kernel capped it)
 *   relay46_tcp_listen_overflows_total,
 *   relay46_tcp_listen_drops_total (counters, system-wide; only where
 *     s->netstat)
 * Returns 0, or -1 on out of memory.
 */
int	 metrics_prometheus(const struct metrics_snapshot *s,
	    struct evbuffer *out);

/*
 * metrics_json(s, out): /status: {"version":..,"uptime_seconds":..,
 * "workers":..,"sessions_active":..,"routes":[{"name":..,
 * "listen":["0.0.0.0:8080",..] (as bound),"balance":"roundrobin",
 * "health_check":true,"check_interval_ms":..,"rise":..,"fall":..,
 * "active":..,"bytes_up":..,"bytes_down":..,"sessions":{"done":N,...},
 * "upstreams":[{"address":..,"host":..,"health":"up"|"down"|"unchecked",
 * "up":true,"present":true,"backup":false,"weight":1,"active":..,
 * "connects":..,"connect_fails":..,"checked":true,"check_fails":..,
 * "state":"ready"|"drain"|"maint","weight_now":1,
 * "down_why":"connect: Connection refused" ("" unless down),
 * "down_since":unix seconds (0 unless down, or not known)}]}],
 * "busiest_sessions_age_ms":.. (null: not gathered yet),
 * "busiest_sessions":[{"id":..,"route":..,"client":..,"upstream":..
 * (null: not connected yet),"age_ms":..,"bytes_up":..,"bytes_down":..,
 * "client_rtt_us":..,"upstream_rtt_us":.. (null: not known)}]},
 * strings escaped per RFC 8259.  Returns 0 or -1.
 */
int	 metrics_json(const struct metrics_snapshot *s, struct evbuffer *out);

/*
 * metrics_html(s, out): / : a small self-contained HTML page (no
 * scripts, no external resources) with the same facts as /status, bytes
 * and times for people, every text HTML-escaped.  It reloads itself
 * every 5 s (meta refresh).  Returns 0 or -1.
 */
int	 metrics_html(const struct metrics_snapshot *s, struct evbuffer *out);

#endif
