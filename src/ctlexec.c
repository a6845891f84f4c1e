/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctlexec.c: what the control socket's commands do (relay46ctl(8)).  The
 * "show" commands answer at once from the configuration, the pools and
 * the counters, as /metrics does; the session commands ask every worker
 * (worker_query_post()) and answer when the last one has replied; set
 * changes a pool entry's operator state; reload asks control.c (through
 * c->reload) and answers with the outcome.  It owns the requests under
 * way (c->reqs) and the answers they owe.  Control thread only, but for
 * the queries' each() and done(), which run on the workers' threads and
 * touch only their own part of a request.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "acl.h"
#include "config.h"
#include "control-int.h"
#include "ctlcmd.h"
#include "ctlsock.h"
#include "host.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "session.h"
#include "splice.h"
#include "util.h"
#include "worker.h"

/* The most sessions one worker lists for "show sessions". */
#define CTL_SESSIONS_MAX	1000000

/* A request's share of one worker: filled on that worker's thread. */
struct ctl_part {
	struct worker_query q;		/* first: the query is the part */
	struct ctl_req	*req;
	struct session_report *rows;
	size_t		 n, cap;
	unsigned	 killed;
	bool		 oom;
};

/* A command asked of every worker, until the last one answers. */
struct ctl_req {
	struct ctl_req	*next;		/* in c->reqs */
	struct control	*c;
	struct ctl_conn	*cc;
	struct ctlcmd	 cmd;
	struct event	*ev;		/* the last part is done */
	atomic_uint	 pending;
	struct addr	*ups;		/* upstream addresses to match */
	size_t		 nups;
	struct ctl_body	 pre;		/* lines before the count (set maint) */
	bool		 has_rule;	/* show sessions client CIDR */
	struct acl_rule	 rule;
	unsigned	 nparts;
	struct ctl_part	 parts[];
};

static void ctlexec_cmd(void *, struct ctl_conn *, const struct ctlcmd *);

int
ctlexec_start(struct control *c)
{
	return ctlsock_start(c->ctl, c->base, ctlexec_cmd, c);
}

/*
 * Free a request whose answer is given (or will never be): the parts'
 * rows, copied out of the workers' sessions so that they outlive them,
 * go with it.
 */
static void
ctlexec_req_free(struct ctl_req *rq)
{
	unsigned	 i;

	for (i = 0; i < rq->nparts; i++)
		free(rq->parts[i].rows);
	if (rq->ev != NULL)
		event_free(rq->ev);
	free(rq->ups);
	ctl_body_free(&rq->pre);
	free(rq);
}

void
ctlexec_stop(struct control *c)
{
	struct ctl_req	*rq;

	while ((rq = c->reqs) != NULL) {
		c->reqs = rq->next;
		ctlexec_req_free(rq);
	}
	ctlsock_close(c->ctl);
	c->ctl = NULL;
}

/* --- The commands that answer at once. */

/* "2026-12-02T14:00:00Z" for unix seconds ${t}; "-" for 0. */
static const char *
ctlexec_time(uint64_t t, char *buf, size_t len)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		return "-";
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/*
 * The commands, one per line, as the language has them: what a person at
 * a socat prompt needs, and relay46ctl(8) says the rest.
 */
static void
ctlexec_help(struct ctl_conn *cc)
{
	static const char *const lines[] = {
		"show info",
		"show routes",
		"show upstreams [ROUTE]",
		"show listeners",
		"show sessions [ROUTE] [client CIDR] [upstream ADDR]",
		"set upstream ROUTE ADDR state ready|drain|maint",
		"set upstream ROUTE ADDR weight N",
		"kill session ID",
		"kill sessions upstream ROUTE ADDR",
		"reload",
	};
	struct ctl_body	 b;
	size_t		 i;

	if (ctl_body_init(&b) == -1) {
		ctl_error_msg(cc, "out of memory");
		return;
	}
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ctl_line(&b, "%s", lines[i]);
	ctl_reply(cc, "text", &b);
}

/*
 * The process as a whole.  The times are UTC and whole seconds, as an
 * operator compares them with logs from other machines; "-" where there
 * is nothing yet (no reload asked), so a script can tell "never" apart.
 */
static void
ctlexec_info(struct control *c, struct ctl_conn *cc)
{
	struct ctl_body	 b;
	char		 t1[32], t2[32], t3[32], p[512];
	uint64_t	 now = (uint64_t)time(NULL), ov, dr;

	if (ctl_body_init(&b) == -1) {
		ctl_error_msg(cc, "out of memory");
		return;
	}
	ctl_line(&b, "version\t%s", PACKAGE_VERSION);
	ctl_line(&b, "build\tsplice=%s libevent=%s",
	    splice_supported() ? "yes" : "no", event_get_version());
	ctl_line(&b, "pid:n\t%ld", (long)getpid());
	ctl_line(&b, "started\t%s",
	    ctlexec_time(c->start_time, t1, sizeof(t1)));
	ctl_line(&b, "uptime_seconds:n\t%" PRIu64, now - c->start_time);
	ctl_line(&b, "workers:n\t%u", c->nw);
	ctl_line(&b, "sessions:n\t%u", control_live(c));
	ctl_line(&b, "config\t%s", ctl_field(c->cfg->path, p, sizeof(p)));
	ctl_line(&b, "config_loaded\t%s",
	    ctlexec_time(c->cfg_time, t2, sizeof(t2)));
	ctl_line(&b, "reloads:n\t%u", c->reloads);
	ctl_line(&b, "last_reload\t%s",
	    c->reload_time == 0 ? "-" :
		c->reload_ok	? "ok" :
				  "failed");
	ctl_line(&b, "last_reload_time\t%s",
	    ctlexec_time(c->reload_time, t3, sizeof(t3)));
	/*
	 * The accept queues' drops, where the kernel gives them: for the
	 * whole host, not per socket.
	 */
	if (listener_netstat(&ov, &dr) == 0) {
		ctl_line(&b, "tcp_listen_overflows:n\t%" PRIu64, ov);
		ctl_line(&b, "tcp_listen_drops:n\t%" PRIu64, dr);
	}
	ctl_reply(cc, "kv", &b);
}

/* The counters, as /metrics has them; NULL (answered) on out of memory. */
static bool
ctlexec_snapshot(struct control *c, struct ctl_conn *cc,
    struct metrics_snapshot *m, struct ctl_body *b)
{
	snapshot_fill(c, m);
	/* A route left out would shift the rows against c->cfg's. */
	if (m->nroutes != c->cfg->nroutes || ctl_body_init(b) == -1) {
		snapshot_release(c, m);
		ctl_error_msg(cc, "out of memory");
		return false;
	}
	return true;
}

/*
 * One row per route of the running configuration, with the same sums
 * /metrics shows (snapshot_fill()), so the two never disagree.  Older
 * configurations still draining are not routes any more: their sessions
 * show in "show sessions" and their counts in the route of that name.
 */
static void
ctlexec_routes(struct control *c, struct ctl_conn *cc)
{
	struct metrics_snapshot m;
	struct metrics_route *mr;
	struct ctl_body	 b;
	char		 ls[1024], abuf[ADDR_STRLEN];
	uint64_t	 total;
	size_t		 i, j, k, n;

	if (!ctlexec_snapshot(c, cc, &m, &b))
		return;
	ctl_line(&b,
	    "route\tlisten\tbalance\thealth_check\tupstreams:n\t"
	    "sessions:n\tsessions_total:n\tbytes_up:n\tbytes_down:n");
	for (i = 0; i < m.nroutes; i++) {
		mr = &m.routes[i];
		/* As bound: port 0 shows the port the kernel chose. */
		for (j = 0, n = 0, ls[0] = '\0'; j < mr->nlisten; j++)
			n += (size_t)snprintf(ls + n,
			    n < sizeof(ls) ? sizeof(ls) - n : 0, "%s%s",
			    j ? "," : "",
			    addr_format(&mr->listen[j], abuf, sizeof(abuf)));
		for (k = 0, total = 0; k < mr->nresults; k++)
			total += mr->results[k];
		ctl_line(&b,
		    "%s\t%s\t%s\t%s\t%zu\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		    "\t%" PRIu64,
		    mr->name, ls, mr->balance, mr->health_check ? "on" : "off",
		    mr->nups, mr->active, total + mr->active, mr->bytes_up,
		    mr->bytes_down);
	}
	snapshot_release(c, &m);
	ctl_reply(cc, "table", &b);
}

/*
 * One row per pool entry, every route or the one named: the address and
 * the line it came from, what the operator set (state, weight in force)
 * beside what the checks found (health, why and since when down), so
 * that "is it out because I said so, or because it is down?" has one
 * answer.
 */
static void
ctlexec_upstreams(struct control *c, struct ctl_conn *cc,
    const struct ctlcmd *cmd)
{
	struct metrics_snapshot m;
	const struct metrics_upstream *u;
	struct ctl_body	 b;
	char		 why[128], f[128], t[32], msg[128];
	size_t		 i, j, shown = 0;

	if (!ctlexec_snapshot(c, cc, &m, &b))
		return;
	ctl_line(&b,
	    "route\tupstream\thost\tbackup\tweight:n\tstate\thealth\t"
	    "down_why\tdown_since\tsessions:n\tconnects:n\t"
	    "connect_fails:n\tcheck_fails:n");
	for (i = 0; i < m.nroutes; i++) {
		if (cmd->route[0] != '\0' &&
		    strcmp(cmd->route, m.routes[i].name) != 0)
			continue;
		shown++;
		for (j = 0; j < m.routes[i].nups; j++) {
			u = &m.routes[i].ups[j];
			ctl_line(&b,
			    "%s\t%s\t%s\t%s\t%u\t%s\t%s\t%s\t%s\t%" PRIu64
			    "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64,
			    m.routes[i].name, u->name, u->host,
			    u->backup ? "yes" : "no", u->weight_now, u->admin,
			    u->present ? metrics_health(u) : "gone",
			    ctl_field(metrics_down_why(u, why, sizeof(why)), f,
				sizeof(f)),
			    strcmp(metrics_health(u), "down") == 0 ?
				ctlexec_time(u->down_since, t, sizeof(t)) :
				"-",
			    u->live, u->connects, u->connect_fails,
			    u->check_fails);
		}
	}
	snapshot_release(c, &m);
	if (cmd->route[0] != '\0' && shown == 0) {
		/* Worded as ctlexec_route() words it for every other command. */
		ctl_body_free(&b);
		snprintf(msg, sizeof(msg), "no route %s", cmd->route);
		ctl_error_msg(cc, msg);
		return;
	}
	ctl_reply(cc, "table", &b);
}

/*
 * One row per listen address, in the configuration's order, from the
 * snapshot /metrics shows (snapshot_fill()): the accept queue is where a
 * relay that cannot keep up shows first, before any client is accepted
 * to be counted.  Its sockets are one per worker, or one socket systemd
 * passed and relay46 dup'd for each, counted once.
 */
static void
ctlexec_listeners(struct control *c, struct ctl_conn *cc)
{
	struct metrics_snapshot m;
	const struct metrics_listener *l;
	struct ctl_body	 b;
	size_t		 i;

	if (!ctlexec_snapshot(c, cc, &m, &b))
		return;
	ctl_line(&b, "route\tlisten\tsockets:n\tqueue:n\tqueue_limit:n");
	for (i = 0; i < m.nlisteners; i++) {
		l = &m.listeners[i];
		ctl_line(&b, "%s\t%s\t%u\t%" PRIu64 "\t%" PRIu64, l->route,
		    l->listen, l->sockets, l->queue, l->limit);
	}
	snapshot_release(c, &m);
	ctl_reply(cc, "table", &b);
}

/* --- Naming upstreams: ROUTE ADDR as the operator writes them. */

/* Route ${name} of the running configuration, or NULL (answered). */
static const struct route *
ctlexec_route(struct control *c, struct ctl_conn *cc, const char *name)
{
	char	 msg[128];
	size_t	 i;

	for (i = 0; i < c->cfg->nroutes; i++)
		if (strcmp(c->cfg->routes[i].name, name) == 0)
			return &c->cfg->routes[i];
	snprintf(msg, sizeof(msg), "no route %s", name);
	ctl_error_msg(cc, msg);
	return NULL;
}

/*
 * The entries of route ${r}'s pool that ${word} names: by the address
 * shown ("127.0.0.1:80", or any spelling of it), or by its upstream
 * line as written ("db.internal:5432": every address of that line).
 * Fills ${out} (pool cap entries) and returns how many.
 */
static size_t
ctlexec_match(const struct route *r, const char *word, struct upstream **out)
{
	struct pool	*p = r->pool;
	struct upstream	*u;
	struct addr	 a;
	char		 err[128];
	bool		 parsed;
	size_t		 j, n = 0, cnt = pool_count(p);

	parsed = addr_parse(word, &a, err, sizeof(err)) == 0;
	if (parsed)
		addr_unmap(&a);
	for (j = 0; j < cnt; j++) {
		u = &p->u[j];
		if (strcmp(u->name, word) == 0 ||
		    strcmp(r->specs[u->spec].text, word) == 0 ||
		    (parsed && addr_equal(&u->addr, &a)))
			out[n++] = u;
	}
	return n;
}

/*
 * Route and upstream of a set or kill: the entries, in *${out} (the
 * caller frees it), and their count; 0 when answered with an error.
 */
static size_t
ctlexec_upstreams_of(struct control *c, struct ctl_conn *cc,
    const struct ctlcmd *cmd, const struct route **rp, struct upstream ***out)
{
	char	 msg[CTL_WORD_MAX + 128];
	size_t	 n;

	if ((*rp = ctlexec_route(c, cc, cmd->route)) == NULL)
		return 0;
	if ((*out = calloc((*rp)->pool->cap + 1, sizeof(**out))) == NULL) {
		ctl_error_msg(cc, "out of memory");
		return 0;
	}
	if ((n = ctlexec_match(*rp, cmd->upstream, *out)) == 0) {
		snprintf(msg, sizeof(msg), "route %s has no upstream %s",
		    cmd->route, cmd->upstream);
		ctl_error_msg(cc, msg);
		free(*out);
		*out = NULL;
	}
	return n;
}

/* --- Asked of the workers: sessions, kills. */

static bool ctlexec_each(struct worker_query *, struct session *);
static void ctlexec_req_done_cb(evutil_socket_t, short, void *);

/* A request for every worker, not posted yet; NULL (answered) on OOM. */
static struct ctl_req *
ctlexec_req_new(struct control *c, struct ctl_conn *cc,
    const struct ctlcmd *cmd)
{
	struct ctl_req	*rq;
	unsigned	 i;

	if ((rq = calloc(1, sizeof(*rq) + c->nw * sizeof(rq->parts[0]))) ==
		NULL ||
	    (rq->ev = event_new(c->base, -1, 0, ctlexec_req_done_cb, rq)) ==
		NULL) {
		free(rq);
		ctl_error_msg(cc, "out of memory");
		return NULL;
	}
	rq->c = c;
	rq->cc = cc;
	rq->cmd = *cmd;
	rq->nparts = c->nw;
	atomic_init(&rq->pending, c->nw);
	for (i = 0; i < c->nw; i++) {
		rq->parts[i].req = rq;
		rq->parts[i].q.each = ctlexec_each;
		/* The last worker to answer wakes ctlexec_req_done_cb(). */
		rq->parts[i].q.pending = &rq->pending;
		rq->parts[i].q.wake = rq->ev;
	}
	return rq;
}

/*
 * Hand a request to every worker.  It is on c->reqs from now on, so that
 * a relay46 stopping before the last answer frees it (ctlexec_stop()).
 */
static void
ctlexec_req_post(struct ctl_req *rq)
{
	struct control	*c = rq->c;
	unsigned	 i;

	rq->next = c->reqs;
	c->reqs = rq;
	for (i = 0; i < rq->nparts; i++)
		worker_query_post(c->w[i], &rq->parts[i].q);
}

/* Is ${s} on one of the request's upstream addresses? */
static bool
ctlexec_on_ups(const struct ctl_req *rq, const struct session *s)
{
	size_t	 i;

	if (s->up == NULL)
		return false;
	for (i = 0; i < rq->nups; i++)
		if (addr_equal(&s->up->addr, &rq->ups[i]))
			return true;
	return false;
}

/* May ${s} be listed (show sessions' filters)? */
static bool
ctlexec_listed(const struct ctl_req *rq, const struct session *s)
{
	if (rq->cmd.route[0] != '\0' &&
	    strcmp(rq->cmd.route, s->rt->route->name) != 0)
		return false;
	if (rq->has_rule && !acl_match(&rq->rule, &s->client))
		return false;
	return rq->cmd.upstream[0] == '\0' || ctlexec_on_ups(rq, s);
}

/* One more row for "show sessions", within CTL_SESSIONS_MAX. */
static void
ctlexec_list(struct ctl_part *pt, const struct session *s)
{
	struct session_report *rows;
	size_t		 cap;

	if (pt->n == pt->cap) {
		cap = pt->cap == 0 ? 64 : pt->cap * 2;
		if (cap > CTL_SESSIONS_MAX ||
		    (rows = realloc(pt->rows, cap * sizeof(*rows))) == NULL) {
			pt->oom = true;
			return;
		}
		pt->rows = rows;
		pt->cap = cap;
	}
	session_report(s, &pt->rows[pt->n++]);
}

/* On a worker's thread: one of its sessions, for the request. */
static bool
ctlexec_each(struct worker_query *q, struct session *s)
{
	struct ctl_part	*pt = (struct ctl_part *)(void *)q;
	struct ctl_req	*rq = pt->req;

	switch (rq->cmd.kind) {
	case CTLCMD_SHOW_SESSIONS:
		if (ctlexec_listed(rq, s))
			ctlexec_list(pt, s);
		return !pt->oom;
	case CTLCMD_KILL_SESSION:
		if (s->id != rq->cmd.id)
			return true;
		session_kill(s);
		pt->killed++;
		return false;
	default:	/* kill sessions upstream, set ... state maint */
		if (strcmp(rq->cmd.route, s->rt->route->name) == 0 &&
		    ctlexec_on_ups(rq, s)) {
			session_kill(s);
			pt->killed++;
		}
		return true;
	}
}

/* Ids grow with accept order: by id is oldest first, across workers. */
static int
ctlexec_by_id(const void *a, const void *b)
{
	const struct session_report *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* One session's row: who, how far, and the kernel's view of each side. */
static void
ctlexec_session_row(struct ctl_body *b, const struct session_report *r)
{
	char	 cl[ADDR_STRLEN], up[ADDR_STRLEN], f[10][16];

	if (r->upstream.ss.ss_family == AF_UNSPEC)
		snprintf(up, sizeof(up), "-");
	else
		addr_format(&r->upstream, up, sizeof(up));
	ctl_line(b,
	    "%" PRIu64 "\t%s\t%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
	    "\t%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s"
	    "\t%s\t%s",
	    r->id, r->route, addr_format(&r->client, cl, sizeof(cl)), up,
	    r->state, r->age_ms, r->idle_ms, r->up, r->down,
	    session_tcp_num(&r->c, r->c.rtt_us, f[0], 16),
	    session_tcp_num(&r->c, r->c.rttvar_us, f[1], 16),
	    session_tcp_num(&r->c, r->c.retrans, f[2], 16),
	    session_tcp_num(&r->c, r->c.unacked, f[3], 16),
	    session_tcp_num(&r->c, r->c.cwnd, f[4], 16),
	    session_tcp_num(&r->u, r->u.rtt_us, f[5], 16),
	    session_tcp_num(&r->u, r->u.rttvar_us, f[6], 16),
	    session_tcp_num(&r->u, r->u.retrans, f[7], 16),
	    session_tcp_num(&r->u, r->u.unacked, f[8], 16),
	    session_tcp_num(&r->u, r->u.cwnd, f[9], 16));
}

/* Every worker's rows, gathered and in id order (oldest first). */
static void
ctlexec_sessions_answer(struct ctl_req *rq)
{
	struct session_report *all;
	struct ctl_body	 b;
	size_t		 i, j, n = 0;

	for (i = 0; i < rq->nparts; i++)
		n += rq->parts[i].n;
	if ((all = calloc(n + 1, sizeof(*all))) == NULL ||
	    ctl_body_init(&b) == -1) {
		free(all);
		ctl_error_msg(rq->cc, "out of memory");
		return;
	}
	for (i = 0, n = 0; i < rq->nparts; i++)
		for (j = 0; j < rq->parts[i].n; j++)
			all[n++] = rq->parts[i].rows[j];
	qsort(all, n, sizeof(*all), ctlexec_by_id);
	ctl_line(&b,
	    "id:n\troute\tclient\tupstream\tstate\tage_ms:n\t"
	    "idle_ms:n\tbytes_up:n\tbytes_down:n\tc_rtt_us:n\t"
	    "c_rttvar_us:n\tc_retrans:n\tc_unacked:n\tc_cwnd:n\t"
	    "u_rtt_us:n\tu_rttvar_us:n\tu_retrans:n\tu_unacked:n\t"
	    "u_cwnd:n");
	for (i = 0; i < n; i++)
		ctlexec_session_row(&b, &all[i]);
	free(all);
	ctl_reply(rq->cc, "table", &b);
}

/* A kill's answer: how many ended, after what set said (maint). */
static void
ctlexec_kill_answer(struct ctl_req *rq)
{
	struct ctl_body	*b = &rq->pre;
	unsigned	 i, killed = 0;
	char		 msg[64];

	for (i = 0; i < rq->nparts; i++)
		killed += rq->parts[i].killed;
	if (rq->cmd.kind == CTLCMD_KILL_SESSION && killed == 0) {
		snprintf(msg, sizeof(msg), "no session %" PRIu64, rq->cmd.id);
		ctl_error_msg(rq->cc, msg);
		return;
	}
	if (b->buf == NULL && ctl_body_init(b) == -1) {
		ctl_error_msg(rq->cc, "out of memory");
		return;
	}
	ctl_line(b, "%u session%s killed", killed, killed == 1 ? "" : "s");
	ctl_reply(rq->cc, "text", b);
}

/* Every worker has answered ${arg}: answer the client, and forget it. */
static void
ctlexec_req_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_req	*rq = arg, **pp;

	(void)fd;
	(void)what;
	for (pp = &rq->c->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rq) {
			*pp = rq->next;
			break;
		}
	if (rq->cmd.kind == CTLCMD_SHOW_SESSIONS)
		ctlexec_sessions_answer(rq);
	else
		ctlexec_kill_answer(rq);
	ctlexec_req_free(rq);
}

/*
 * show sessions ... upstream ADDR: the addresses ADDR stands for.  An
 * address is itself, even one no upstream has now (an older
 * configuration's sessions may still use it); an upstream line as
 * written ("db.internal:5432") is every address of that line, in every
 * route or in ROUTE, as set and kill read it.  false when answered.
 */
static bool
ctlexec_req_listed_ups(struct ctl_req *rq)
{
	const struct config *cfg = rq->c->cfg;
	struct upstream	**u;
	size_t		 i, j, n, cap = 1;

	for (i = 0; i < cfg->nroutes; i++)
		cap += cfg->routes[i].pool->cap;
	if ((rq->ups = calloc(cap, sizeof(*rq->ups))) == NULL ||
	    (u = calloc(cap, sizeof(*u))) == NULL) {
		free(rq->ups);
		rq->ups = NULL;
		ctl_error_msg(rq->cc, "out of memory");
		return false;
	}
	if (addr_parse(rq->cmd.upstream, rq->ups, NULL, 0) == 0) {
		addr_unmap(rq->ups);
		rq->nups = 1;
	}
	for (i = 0; i < cfg->nroutes; i++) {
		if (rq->cmd.route[0] != '\0' &&
		    strcmp(rq->cmd.route, cfg->routes[i].name) != 0)
			continue;
		n = ctlexec_match(&cfg->routes[i], rq->cmd.upstream, u);
		for (j = 0; j < n && rq->nups < cap; j++)
			rq->ups[rq->nups++] = u[j]->addr;
	}
	free(u);
	return true;
}

/*
 * The request's upstream addresses, from its route and ADDR word.  false
 * when answered (error).
 */
static bool
ctlexec_req_ups(struct ctl_req *rq)
{
	const struct route *r;
	struct upstream	**u = NULL;
	size_t		 i, n;

	if (rq->cmd.kind == CTLCMD_SHOW_SESSIONS)
		return ctlexec_req_listed_ups(rq);
	if ((n = ctlexec_upstreams_of(rq->c, rq->cc, &rq->cmd, &r, &u)) == 0)
		return false;
	if ((rq->ups = calloc(n, sizeof(*rq->ups))) == NULL) {
		free(u);
		ctl_error_msg(rq->cc, "out of memory");
		return false;
	}
	for (i = 0; i < n; i++)
		rq->ups[i] = u[i]->addr;
	rq->nups = n;
	free(u);
	return true;
}

/* show sessions, kill session, kill sessions upstream: ask the workers. */
static void
ctlexec_ask(struct control *c, struct ctl_conn *cc, const struct ctlcmd *cmd)
{
	struct ctl_req	*rq;

	if ((rq = ctlexec_req_new(c, cc, cmd)) == NULL)
		return;
	if ((rq->has_rule = cmd->has_client))
		ctlcmd_client_rule(cmd, &rq->rule);
	if (cmd->upstream[0] != '\0' && !ctlexec_req_ups(rq)) {
		ctlexec_req_free(rq);
		return;
	}
	ctlexec_req_post(rq);
}

/*
 * set upstream ROUTE ADDR state|weight: each entry ADDR names, a line
 * each.  maint closes the live sessions too: then the answer waits for
 * the workers, and ends with how many.
 */
static void
ctlexec_set(struct control *c, struct ctl_conn *cc, const struct ctlcmd *cmd)
{
	const struct route *r;
	struct upstream	**u;
	struct ctl_req	*rq;
	struct ctl_body	 b;
	size_t		 i, n;

	if ((n = ctlexec_upstreams_of(c, cc, cmd, &r, &u)) == 0)
		return;
	if (ctl_body_init(&b) == -1) {
		free(u);
		ctl_error_msg(cc, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		if (cmd->kind == CTLCMD_SET_WEIGHT) {
			ctl_line(&b, "%s %s weight %u (was %u)", r->name,
			    u[i]->name, cmd->weight, pool_weight(u[i]));
			pool_set_weight(r->pool, u[i], cmd->weight);
			continue;
		}
		ctl_line(&b, "%s %s state %s (was %s)", r->name, u[i]->name,
		    ctl_admin_name(cmd->state),
		    pool_admin_name(
			(enum pool_admin)atomic_load(&u[i]->admin)));
		pool_set_admin(r->pool, u[i], (enum pool_admin)cmd->state);
	}
	free(u);
	if (cmd->kind != CTLCMD_SET_STATE || cmd->state != CTL_ADMIN_MAINT ||
	    (rq = ctlexec_req_new(c, cc, cmd)) == NULL) {
		/* (Out of memory for the kills: answered already.) */
		if (cmd->kind != CTLCMD_SET_STATE ||
		    cmd->state != CTL_ADMIN_MAINT)
			ctl_reply(cc, "text", &b);
		else
			ctl_body_free(&b);
		return;
	}
	rq->pre = b;
	if (!ctlexec_req_ups(rq)) {
		ctlexec_req_free(rq);
		return;
	}
	ctlexec_req_post(rq);
}

/* --- reload: the outcome, not just "sent". */

/* c->reload_told: the reload asked for is over; its report is the answer. */
static void
ctlexec_reload_told(struct control *c, bool ok)
{
	struct ctl_conn	*cc = c->reload_waiter;
	struct ctl_body	 b;
	char		*text = c->reload_text, *line, *save = NULL, f[1024];

	c->reload_waiter = NULL;
	c->reload_told = NULL;
	if (cc == NULL)
		return;
	if (ctl_body_init(&b) == -1) {
		ctl_error_msg(cc, "out of memory");
		return;
	}
	for (line = text != NULL ? strtok_r(text, "\n", &save) : NULL;
	     line != NULL; line = strtok_r(NULL, "\n", &save))
		ctl_line(&b, "%s", ctl_field(line, f, sizeof(f)));
	if (ok) {
		ctl_reply(cc, "text", &b);
		return;
	}
	if (b.n == 0)
		ctl_line(&b, "reload failed; see the log");
	ctl_error(cc, &b);
}

/*
 * reload: the same reload as SIGHUP (c->reload, control.c's), but this
 * caller waits for its outcome.  One waits at a time: a reload asked
 * while another is under way is refused at once, and the first caller
 * keeps its place.
 */
static void
ctlexec_reload(struct control *c, struct ctl_conn *cc)
{
	struct ctl_conn	*waiter = c->reload_waiter;
	const char	*why;

	c->reload_waiter = cc;
	c->reload_told = ctlexec_reload_told;
	if (c->reload(c, &why) == -1 && why != NULL) {
		/*
		 * Refused before it began ("a reload is still under way"):
		 * whoever asked for the one under way still waits for it.
		 */
		c->reload_waiter = waiter;
		c->reload_told = waiter != NULL ? ctlexec_reload_told : NULL;
		ctl_error_msg(cc, why);
	}
}

/* --- The commands, each to its place; a change is logged with its peer. */

/*
 * Log a command that changes something, with who asked (SO_PEERCRED):
 * the socket's mode lets a whole group steer relay46, and the log is
 * where an operator later finds who drained which backend.
 */
static void
ctlexec_log(const struct ctl_conn *cc, const struct ctlcmd *cmd)
{
	long	 uid, pid;
	char	 what[CTL_WORD_MAX + 128];

	ctl_peer(cc, &uid, &pid);
	switch (cmd->kind) {
	case CTLCMD_SET_STATE:
		snprintf(what, sizeof(what), "set upstream %s %s state %s",
		    cmd->route, cmd->upstream, ctl_admin_name(cmd->state));
		break;
	case CTLCMD_SET_WEIGHT:
		snprintf(what, sizeof(what), "set upstream %s %s weight %u",
		    cmd->route, cmd->upstream, cmd->weight);
		break;
	case CTLCMD_KILL_SESSION:
		snprintf(what, sizeof(what), "kill session %" PRIu64, cmd->id);
		break;
	case CTLCMD_KILL_UPSTREAM:
		snprintf(what, sizeof(what), "kill sessions upstream %s %s",
		    cmd->route, cmd->upstream);
		break;
	default:
		snprintf(what, sizeof(what), "reload");
		break;
	}
	log_info("msg=\"control: %s\" uid=%ld pid=%ld", what, uid, pid);
}

/*
 * ctlsock.c's callback: one parsed command.  Each branch answers it
 * exactly once, now or when the workers have (ctlsock.h).
 */
static void
ctlexec_cmd(void *arg, struct ctl_conn *cc, const struct ctlcmd *cmd)
{
	struct control	*c = arg;

	if (ctlcmd_changes(cmd))
		ctlexec_log(cc, cmd);
	switch (cmd->kind) {
	case CTLCMD_HELP:
		ctlexec_help(cc);
		return;
	case CTLCMD_SHOW_INFO:
		ctlexec_info(c, cc);
		return;
	case CTLCMD_SHOW_ROUTES:
		ctlexec_routes(c, cc);
		return;
	case CTLCMD_SHOW_UPSTREAMS:
		ctlexec_upstreams(c, cc, cmd);
		return;
	case CTLCMD_SHOW_LISTENERS:
		ctlexec_listeners(c, cc);
		return;
	case CTLCMD_SET_STATE:
	case CTLCMD_SET_WEIGHT:
		ctlexec_set(c, cc, cmd);
		return;
	case CTLCMD_SHOW_SESSIONS:
	case CTLCMD_KILL_SESSION:
	case CTLCMD_KILL_UPSTREAM:
		ctlexec_ask(c, cc, cmd);
		return;
	case CTLCMD_RELOAD:
		ctlexec_reload(c, cc);
		return;
	}
	ctl_error_msg(cc, "unknown command");
}
