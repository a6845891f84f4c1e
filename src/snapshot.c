/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The counters behind the admin endpoint (/metrics, /status, /): a
 * snapshot, taken on the control thread for each request, of every
 * worker's and every route's counters, summed into the plain structs
 * metrics.c formats.  It owns only the arrays it allocates for one
 * snapshot, which snapshot_release() frees; the counters themselves are
 * the workers' and the pools', read here as relaxed atomics.  What the
 * kernel knows is read here too: each listening socket's accept queue
 * (c->lfds, TCP_INFO) and the host's listen overflows and drops.  The
 * busiest sessions are top.c's cache, asked for again once shown.
 */

#include <sys/stat.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "accesslog.h"
#include "balance.h"
#include "config.h"
#include "control-int.h"
#include "listener.h"
#include "metrics.h"
#include "pool.h"
#include "session.h"
#include "splice.h"
#include "worker.h"

unsigned
control_live(const struct control *c)
{
	unsigned	 i, n = 0;

	for (i = 0; i < c->nw; i++)
		n += worker_live(c->w[i]);
	return n;
}

/* One upstream's line in the snapshot: its state, read now. */
static void
snapshot_upstream(struct metrics_upstream *mu, const struct route *r,
    struct upstream *u)
{
	mu->name = u->name;
	mu->host = r->specs[u->spec].text;
	mu->checked = r->health_check;
	mu->up = atomic_load(&u->up);
	mu->present = atomic_load(&u->present);
	mu->backup = u->backup;
	mu->weight = u->weight;
	mu->live = pool_live(u);
	mu->connects = atomic_load(&u->connects);
	mu->connect_fails = atomic_load(&u->connect_fails);
	mu->check_fails = atomic_load(&u->check_fails);
	mu->admin = pool_admin_name((enum pool_admin)atomic_load(&u->admin));
	mu->weight_now = pool_weight(u);
	mu->down_err = atomic_load(&u->down_err);
	mu->down_check = atomic_load(&u->down_check);
	mu->down_since = atomic_load(&u->down_since);
}

/* The counters of route ${r}: each worker's slot, summed. */
static void
snapshot_counters(struct metrics_route *mr, const struct route *r)
{
	struct route_stats	*st = r->pool->stats;
	struct route_stats_slot	*sl;
	size_t			 j;
	unsigned		 k;

	mr->name = r->name;
	/* Nobody but its worker writes a slot: relaxed reads suffice. */
	for (k = 0; k < st->nslots; k++) {
		sl = &st->slot[k];
		mr->active += atomic_load_explicit(&sl->active,
		    memory_order_relaxed);
		mr->bytes_up += atomic_load_explicit(&sl->bytes_up,
		    memory_order_relaxed);
		mr->bytes_down += atomic_load_explicit(&sl->bytes_down,
		    memory_order_relaxed);
		for (j = 0; j < METRICS_CONNECT_BUCKETS + 1; j++)
			mr->connect_buckets[j] += atomic_load_explicit(
			    &sl->connect_buckets[j], memory_order_relaxed);
		mr->connect_sum += (double)atomic_load_explicit(
		    &sl->connect_sum_us, memory_order_relaxed) / 1e6;
	}
}

/*
 * The listen addresses of route ${r}, whose first is listen ${k} of
 * c->cfg (c->lfds' order), as bound: port 0 shows the port the kernel
 * chose.  As written where the first worker's socket cannot say.
 */
static struct addr *
snapshot_listen(const struct control *c, const struct route *r, size_t k)
{
	struct addr	*a;
	size_t		 j;

	if ((a = calloc(r->nlisten + 1, sizeof(*a))) == NULL)
		return NULL;
	for (j = 0; j < r->nlisten; j++, k++)
		if (k >= c->per || listener_address(c->lfds[k], &a[j]) == -1)
			a[j] = r->listen[j];
	return a;
}

/* How route ${r} is set up: what the status page says above its table. */
static void
snapshot_route_conf(struct metrics_route *mr, const struct route *r)
{
	mr->nlisten = r->nlisten;
	mr->balance = balance_name(r->balance);
	mr->health_check = r->health_check;
	mr->check_interval_ms = r->check_interval_ms;
	mr->rise = r->rise;
	mr->fall = r->fall;
}

/*
 * Route ${r}, whose first listen address is c->cfg's ${k}th, into *${mr},
 * which it fills from zero, so that a slot left by a route given up on
 * (out of memory) holds nothing of it.  Returns 0, or -1 having freed
 * what it allocated.
 */
static int
snapshot_route(const struct control *c, struct metrics_route *mr,
    const struct route *r, size_t k0, const char *const *names)
{
	struct route_stats	*st = r->pool->stats;
	uint64_t		*res;
	struct addr		*listen = NULL;
	size_t			 j, n;
	unsigned		 k;

	memset(mr, 0, sizeof(*mr));
	n = pool_count(r->pool);
	if ((res = calloc(SESSION_END_COUNT, sizeof(*res))) == NULL ||
	    (listen = snapshot_listen(c, r, k0)) == NULL ||
	    (mr->ups = calloc(n + 1, sizeof(*mr->ups))) == NULL) {
		free(listen);
		free(res);
		return -1;
	}
	mr->listen = listen;
	snapshot_route_conf(mr, r);
	snapshot_counters(mr, r);
	/* Copied one by one: they are atomics that workers add to. */
	for (j = 0; j < SESSION_END_COUNT; j++)
		for (k = 0; k < st->nslots; k++)
			res[j] += atomic_load_explicit(&st->slot[k].ends[j],
			    memory_order_relaxed);
	mr->result_names = names;
	mr->results = res;
	mr->nresults = SESSION_END_COUNT;
	/*
	 * An address its name no longer has takes no new sessions: once
	 * its last one has ended it is no upstream, and is not shown as one
	 * (it comes back with the name's next lookup that has it).
	 */
	for (j = 0; j < n; j++)
		if (atomic_load(&r->pool->u[j].present) ||
		    pool_live(&r->pool->u[j]) != 0)
			snapshot_upstream(&mr->ups[mr->nups++], r,
			    &r->pool->u[j]);
	return 0;
}

/*
 * The accept queue of listen ${k} (c->cfg's order, as c->lfds holds
 * them), over its sockets, one per worker: the length summed, the limit
 * the largest.  Sockets from systemd are one socket dup'd for each
 * worker, counted once (the same inode).  The sockets counted go to
 * *${socks}.  false when none could be read.
 */
static bool
snapshot_queue(const struct control *c, size_t k, uint64_t *len,
    uint64_t *limit, unsigned *socks)
{
	ino_t		 seen[CONFIG_WORKERS_MAX];
	struct stat	 st;
	unsigned	 w, n = 0, i, ql, qlim;
	int		 fd;

	*len = *limit = 0;
	for (w = 0; w < c->nw && w < CONFIG_WORKERS_MAX; w++) {
		fd = c->lfds[w * c->per + k];
		if (fstat(fd, &st) == -1)
			continue;
		for (i = 0; i < n && seen[i] != st.st_ino; i++)
			;
		if (i < n || listener_queue(fd, &ql, &qlim) == -1)
			continue;
		seen[n++] = st.st_ino;
		*len += ql;
		if (qlim > *limit)
			*limit = qlim;
	}
	*socks = n;
	return n > 0;
}

/*
 * Every listen address's queue into m->listeners, in c->cfg's order;
 * left empty on out of memory.  The addresses as bound (port 0 shows
 * the port the kernel chose), read from the first worker's socket.
 */
static void
snapshot_listeners(const struct control *c, struct metrics_snapshot *m)
{
	const struct route	*r;
	struct metrics_listener	*ml;
	struct addr		 a;
	size_t			 i, j, k = 0;

	if (c->per == 0 ||
	    (m->listeners = calloc(c->per, sizeof(*m->listeners))) == NULL)
		return;
	/* c->per is the routes' count of listens: reload.c keeps it so. */
	for (i = 0; i < c->cfg->nroutes; i++) {
		r = &c->cfg->routes[i];
		for (j = 0; j < r->nlisten && k < c->per; j++, k++) {
			ml = &m->listeners[m->nlisteners];
			if (!snapshot_queue(c, k, &ml->queue, &ml->limit,
				&ml->sockets))
				continue;
			if (listener_address(c->lfds[k], &a) == -1)
				a = r->listen[j];
			ml->route = r->name;
			addr_format(&a, ml->listen, sizeof(ml->listen));
			m->nlisteners++;
		}
	}
}

/* /metrics, /status, /: sum the workers' and the routes' counters now. */
void
snapshot_fill(void *arg, struct metrics_snapshot *m)
{
	static const char	*names[SESSION_END_COUNT];
	struct control		*c = arg;
	const struct config	*cfg = c->cfg;
	size_t			 i, k0 = 0;
	unsigned		 k;

	for (i = 0; i < SESSION_END_COUNT; i++)
		names[i] = session_end_name((enum session_end)i);
	memset(m, 0, sizeof(*m));
	m->version = PACKAGE_VERSION;
	m->libevent = event_get_version();
	m->splice = splice_supported();
	m->start_time = c->start_time;
	m->config_time = c->cfg_time;
	m->reload_ok = c->reload_ok;
	m->now = (uint64_t)time(NULL);
	m->workers = c->nw;
	for (k = 0; k < c->nw; k++)
		m->accept_errors += atomic_load_explicit(
		    &c->w[k]->stats.accept_errors, memory_order_relaxed);
	m->sessions_active = control_live(c);
	m->access_log_dropped = c->alog != NULL ?
	    accesslog_dropped(c->alog) : 0;
	m->access_log_reopen_failures = c->alog != NULL ?
	    accesslog_reopen_failures(c->alog) : 0;
	snapshot_listeners(c, m);
	top_fill(c, m);
	if (listener_netstat(&m->listen_overflows, &m->listen_drops) == 0)
		m->netstat = true;
	if ((m->routes = calloc(cfg->nroutes, sizeof(*m->routes))) == NULL)
		return;		/* an empty page rather than none */
	/* A route out of memory is left out; the page shows the rest. */
	for (i = 0; i < cfg->nroutes; k0 += cfg->routes[i++].nlisten)
		if (snapshot_route(c, &m->routes[m->nroutes], &cfg->routes[i],
			k0, names) == 0)
			m->nroutes++;
}

void
snapshot_release(void *arg, struct metrics_snapshot *m)
{
	size_t	 i;

	/* Looked at: have them fresh for the next look. */
	if (m->sessions_shown)
		top_ask(arg);
	for (i = 0; i < m->nroutes; i++) {
		free((struct addr *)(uintptr_t)m->routes[i].listen);
		free(m->routes[i].ups);
		free((uint64_t *)(uintptr_t)m->routes[i].results);
	}
	free(m->routes);
	free(m->listeners);
}
