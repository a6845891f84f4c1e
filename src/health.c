/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * health.c: the upkeep of one configuration's pools, run on the control
 * thread's event loop.  Two jobs: active TCP checks (health_check = tcp),
 * one connect per upstream every check_interval, whose verdicts go to
 * pool_check_result(); and host name upstreams looked up again every
 * `resolve` interval (sooner when one of a name's addresses is down),
 * whose answers go to pool_set_name_addrs().
 *
 * A struct health owns its timers, the probes' sockets and events, the
 * lookups under way, and a reference to the configuration whose pools it
 * feeds.  control.c makes one at start and reload.c replaces it on each
 * reload (health_stop() of the old, health_start() of the new), so the
 * checks always follow the configuration that new sessions use.
 *
 * It must never touch a session or block the control loop: every connect
 * is non-blocking and bounded by a timeout, every lookup asynchronous.
 * It writes only through the pool functions, which the workers read
 * lock-free.  What an operator sees comes from pool.c ("upstream down",
 * "upstream up", "upstream added") and from the lookup lines here.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "config.h"
#include "health.h"
#include "log.h"
#include "pool.h"
#include "resolve.h"
#include "util.h"

/*
 * A name with a down address is looked up again, but not more often than
 * this: a backend that moved is found within seconds, while a backend
 * that is simply down (and still in DNS) costs one lookup per 5 s, not a
 * flood of them.  HEALTH_WATCH_MS is how often health_watch_cb() looks
 * for such names; it only reads the pools, so once a second is cheap.
 */
#define HEALTH_RELOOK_MIN_MS	5000
#define HEALTH_WATCH_MS		1000

struct health;

/*
 * One pool entry's TCP check: idle (fd -1) or a connect under way.  One
 * per entry of the pool's whole capacity, so that an address a name adds
 * later is checked without any allocation.  ${addr} is the address being
 * checked: a lookup may give the entry to another address before the
 * check ends (pool_set_name_addrs() reuses the entry of one gone).
 */
struct health_probe {
	struct health_route *hr;
	size_t		 idx;		/* in the pool */
	int		 fd;		/* -1: idle */
	struct event	*ev;
	struct addr	 addr;		/* connecting to */
};

/* A route with health_check = tcp: its timer and its probes. */
struct health_route {
	struct health	*h;
	struct route	*r;
	struct event	*tick;		/* every check_interval */
	struct health_probe *probes;	/* one per pool entry (cap) */
};

/* One host name upstream line. */
struct health_name {
	struct health	*h;
	struct route	*r;
	size_t		 spec;
	struct event	*tick;		/* every resolve interval */
	struct resolve_req *busy;	/* a lookup under way */
	uint64_t	 last_ms;	/* last lookup started */
	unsigned	 fails;		/* lookups failed in a row */
};

struct health {
	struct event_base *base;
	struct config	*cfg;
	struct health_route *routes;
	size_t		 nroutes;
	struct health_name **names;
	size_t		 nnames;
	struct event	*watch;		/* looks for names with down addresses */
};

/*
 * The check of ${pr} ended with ${err} (0: connected): free its socket
 * and event before handing the verdict over, so the probe is idle again
 * whatever the pool does with it.  The connect is all a TCP check asks
 * for; nothing is sent, and close() ends the connection.
 */
static void
health_probe_end(struct health_probe *pr, int err)
{
	struct pool	*pool = pr->hr->r->pool;
	struct upstream	*u = &pool->u[pr->idx];

	event_free(pr->ev);
	pr->ev = NULL;
	close(pr->fd);
	pr->fd = -1;
	/*
	 * The verdict is the address's we connected to.  If the entry now
	 * holds another (reused while we waited), it is no news about that
	 * one, whose own check comes at the next tick: drop it.  Only this
	 * thread rewrites an entry's address, so the compare is safe.
	 */
	if (addr_equal(&u->addr, &pr->addr))
		pool_check_result(pool, u, err);
}

/*
 * Wait for the connect to end, bounded like a session's connect, and by
 * the interval too: a check still running at the next tick is skipped
 * (health_probe_start()), so a longer timeout would silently stretch the
 * interval.  A timeout counts as a failure (ETIMEDOUT).
 */
static void
health_probe_arm(struct health_probe *pr)
{
	const struct route	*r = pr->hr->r;
	struct timeval		 tv;

	tv = util_timeval(r->connect_timeout_ms < r->check_interval_ms ?
	    r->connect_timeout_ms : r->check_interval_ms);
	event_add(pr->ev, &tv);
}

static void
health_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe	*pr = arg;
	int			 err;

	err = (what & EV_TIMEOUT) ? ETIMEDOUT : util_sock_error(fd);
	/*
	 * Spurious: wait again, as session_attempt_cb() does.  The event is
	 * one-shot, so returning without re-adding it would leave the probe
	 * busy (fd != -1) for good and this upstream never checked again.
	 */
	if (err == EINPROGRESS) {
		health_probe_arm(pr);
		return;
	}
	health_probe_end(pr, err);
}

/*
 * Start one check of ${pr}'s entry: a non-blocking connect.  A connect
 * that ends at once (0, or an error such as ENETUNREACH) gives its
 * verdict here; on EINPROGRESS we wait for the socket to become writable,
 * which is how the kernel reports a non-blocking connect's end (success
 * or failure, read back with SO_ERROR).
 */
static void
health_probe_start(struct health_probe *pr)
{
	struct route	*r = pr->hr->r;
	struct upstream	*u = &r->pool->u[pr->idx];
	int		 err;

	if (pr->fd != -1)
		return;		/* the last one is still going: it has its timeout */
	pr->addr = u->addr;
	if ((pr->fd = socket(pr->addr.ss.ss_family,
		 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		/* Our shortage, not the upstream's: no verdict. */
		return;
	}
	if (connect(pr->fd, (struct sockaddr *)&pr->addr.ss, pr->addr.len) == 0)
		err = 0;
	else
		err = errno == EINPROGRESS ? -1 : errno;
	if (err != -1) {
		close(pr->fd);
		pr->fd = -1;
		pool_check_result(r->pool, u, err);
		return;
	}
	/* Out of memory: as for socket(), our shortage, no verdict. */
	if ((pr->ev = event_new(pr->hr->h->base, pr->fd, EV_WRITE,
	    health_probe_cb, pr)) == NULL) {
		close(pr->fd);
		pr->fd = -1;
		return;
	}
	health_probe_arm(pr);
}

/*
 * Every check_interval: check every entry still in DNS.  The count is
 * read anew each tick, so addresses a lookup added since are included;
 * absent ones are not checked, as no new session will use them.
 */
static void
health_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health_route	*hr = arg;
	struct pool		*pool = hr->r->pool;
	size_t			 i, n = pool_count(pool);

	(void)fd;
	(void)what;
	for (i = 0; i < n; i++)
		if (atomic_load(&pool->u[i].present))
			health_probe_start(&hr->probes[i]);
}

static void	health_lookup(struct health_name *);

/*
 * A lookup of ${hn}'s name ended.  A failed lookup changes nothing: the
 * pool keeps the addresses it had, since a resolver outage must not take
 * every upstream away, and the operator sees one warning per streak of
 * failures and one line when the name resolves again.
 */
static void
health_lookup_cb(void *arg, const struct addr *addrs, size_t n,
    const char *err)
{
	struct health_name	*hn = arg;
	const struct upstream_spec *us;

	hn->busy = NULL;
	us = &hn->r->specs[hn->spec];
	if (n == 0) {
		/* Keep the last good addresses; say so once per streak. */
		if (hn->fails++ == 0)
			log_warn("route=%s msg=\"looking up %s again failed, "
			    "keeping its last addresses: %s\"", hn->r->name,
			    us->host, err);
		return;
	}
	if (hn->fails != 0)
		log_warn("route=%s msg=\"%s resolves again\"", hn->r->name,
		    us->host);
	hn->fails = 0;
	pool_set_name_addrs(hn->r->pool, hn->spec, addrs, n);
}

/*
 * Start a lookup of ${hn}'s name unless one is under way: one at a time
 * per name, so a slow resolver cannot pile lookups up.  If it cannot
 * start (out of memory), ${busy} stays NULL and the next tick tries
 * again.
 */
static void
health_lookup(struct health_name *hn)
{
	const struct upstream_spec *us = &hn->r->specs[hn->spec];

	if (hn->busy != NULL)
		return;
	hn->last_ms = util_now_ms();
	hn->busy = resolve_start(hn->h->base, us->host, us->port,
	    health_lookup_cb, hn);
}

static void
health_name_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	health_lookup(arg);
}

/* A name whose address is down may have moved: look again, soon. */
static void
health_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health		*h = arg;
	struct health_name	*hn;
	struct pool		*pool;
	size_t			 i, j, n;
	uint64_t		 now = util_now_ms();

	(void)fd;
	(void)what;
	for (i = 0; i < h->nnames; i++) {
		hn = h->names[i];
		if (hn->busy != NULL || now - hn->last_ms < HEALTH_RELOOK_MIN_MS)
			continue;
		pool = hn->r->pool;
		n = pool_count(pool);
		for (j = 0; j < n; j++)
			if (pool->u[j].spec == hn->spec &&
			    atomic_load(&pool->u[j].present) &&
			    !atomic_load(&pool->u[j].up)) {
				health_lookup(hn);
				break;
			}
	}
}

/*
 * Also the unwinding of a health_start() that failed half way, so every
 * member may still be NULL or idle.  Probes under way are closed without
 * a verdict: the pool they would report to belongs to a configuration
 * being replaced or freed.
 */
void
health_stop(struct health *h)
{
	struct health_route	*hr;
	size_t			 i, j;

	if (h == NULL)
		return;
	for (i = 0; i < h->nroutes; i++) {
		hr = &h->routes[i];
		if (hr->tick != NULL)
			event_free(hr->tick);
		for (j = 0; hr->probes != NULL && j < hr->r->pool->cap; j++)
			if (hr->probes[j].fd != -1) {
				event_free(hr->probes[j].ev);
				close(hr->probes[j].fd);
			}
		free(hr->probes);
	}
	for (i = 0; i < h->nnames; i++) {
		if (h->names[i]->tick != NULL)
			event_free(h->names[i]->tick);
		/* Its lookup frees itself from the loop (resolve_pending). */
		if (h->names[i]->busy != NULL)
			resolve_cancel(h->names[i]->busy);
		free(h->names[i]);
	}
	if (h->watch != NULL)
		event_free(h->watch);
	free(h->names);
	free(h->routes);
	config_unref(h->cfg);
	free(h);
}

/*
 * Watch host name line ${spec} of ${r}: a persistent timer every
 * resolve_ms.  The first lookup is not now but one interval later,
 * since config_load() has just resolved the name.  On failure what was
 * made is left in ${h} for health_stop() to free.  0, or -1: out of
 * memory.
 */
static int
health_add_name(struct health *h, struct route *r, size_t spec)
{
	struct health_name	*hn, **nv;
	struct timeval		 tv;

	if ((nv = reallocarray(h->names, h->nnames + 1, sizeof(*nv))) == NULL)
		return -1;
	h->names = nv;
	if ((hn = calloc(1, sizeof(*hn))) == NULL)
		return -1;
	hn->h = h;
	hn->r = r;
	hn->spec = spec;
	hn->last_ms = util_now_ms();	/* config_load just looked */
	h->names[h->nnames++] = hn;
	if ((hn->tick = event_new(h->base, -1, EV_PERSIST,
	    health_name_tick_cb, hn)) == NULL)
		return -1;
	tv = util_timeval(r->resolve_ms);
	event_add(hn->tick, &tv);
	return 0;
}

struct health *
health_start(struct event_base *base, struct config *cfg)
{
	struct health		*h;
	struct health_route	*hr;
	struct route		*r;
	struct timeval		 tv;
	size_t			 i, j;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	/* Our reference keeps the routes and pools alive as long as we are. */
	h->cfg = config_ref(cfg);
	if ((h->routes = calloc(cfg->nroutes, sizeof(*h->routes))) == NULL)
		goto fail;
	h->nroutes = cfg->nroutes;
	for (i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		hr = &h->routes[i];
		hr->h = h;
		hr->r = r;
		/* resolve = 0: names are looked up at load only. */
		for (j = 0; r->resolve_ms != 0 && j < r->nspecs; j++)
			if (r->specs[j].host != NULL &&
			    health_add_name(h, r, j) == -1)
				goto fail;
		if (!r->health_check)
			continue;
		if ((hr->probes = calloc(r->pool->cap,
		    sizeof(*hr->probes))) == NULL)
			goto fail;
		for (j = 0; j < r->pool->cap; j++) {
			hr->probes[j].hr = hr;
			hr->probes[j].idx = j;
			hr->probes[j].fd = -1;
		}
		if ((hr->tick = event_new(base, -1, EV_PERSIST, health_tick_cb,
		    hr)) == NULL)
			goto fail;
		tv = util_timeval(r->check_interval_ms);
		event_add(hr->tick, &tv);
		/* First round now: do not wait an interval to learn the state. */
		health_tick_cb(-1, 0, hr);
	}
	if (h->nnames > 0) {
		if ((h->watch = event_new(base, -1, EV_PERSIST,
		    health_watch_cb, h)) == NULL)
			goto fail;
		tv = util_timeval(HEALTH_WATCH_MS);
		event_add(h->watch, &tv);
	}
	return h;
fail:
	health_stop(h);
	return NULL;
}
