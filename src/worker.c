/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker.c: one event loop on one thread, and what it owns: its
 * listeners (one socket of every listen address), the registry of the
 * sessions it accepted, each configuration generation they run under,
 * its deferred close (reaper.c) and its kernel pipes.  It lends its
 * sessions a struct session_host (host.h) and hears from the control
 * thread only through its wake-up channel: stop, abort, reload, and
 * queries about its sessions (the control socket's).
 */
#include "autoconf.h"

#include <assert.h>
#include <sys/eventfd.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "pipe.h"
#include "pool.h"
#include "reaper.h"
#include "session.h"
#include "util.h"
#include "worker.h"

/* The host callbacks (host.h), at the end. */
static void	worker_pause_accept(struct session_host *, const char *, int);
static void	worker_session_add(struct session_host *, struct session *);
static void	worker_session_gone(struct session_host *, struct session *);

/* The worker that lends ${h} to its sessions (it is w->host). */
static struct worker *
worker_of(struct session_host *h)
{
	char	*p = (char *)h - offsetof(struct worker, host);

	return (struct worker *)(void *)p;
}

static void
worker_gen_free(struct worker_gen *g)
{
	size_t	 i;

	if (g == NULL)
		return;
	for (i = 0; g->rt != NULL && i < g->cfg->nroutes; i++) {
		free(g->rt[i].bal.credit);
		free(g->rt[i].cand);
		free(g->rt[i].skip);
	}
	free(g->rt);
	config_unref(g->cfg);
	free(g);
}

static struct worker_gen *
worker_gen_new(struct config *cfg)
{
	struct worker_gen	*g;
	const struct route	*r;
	struct route_rt		*rt;
	size_t			 i, cap;
	uint64_t		 seed;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->cfg = config_ref(cfg);
	if ((g->rt = calloc(cfg->nroutes, sizeof(*g->rt))) == NULL)
		goto fail;
	for (i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		rt = &g->rt[i];
		rt->route = r;
		cap = r->pool->cap;
		if ((rt->bal.credit = calloc(cap, sizeof(int))) == NULL ||
		    (rt->cand = calloc(cap, sizeof(*rt->cand))) == NULL ||
		    (rt->skip = calloc(cap, 1)) == NULL)
			goto fail;
		/* random: different in each process and worker, on purpose. */
		if (getentropy(&seed, sizeof(seed)) == -1)
			seed = util_now_ms() ^ (uint64_t)getpid() << 32 ^ i;
		balance_seed(&rt->bal, seed);
	}
	return g;
fail:
	worker_gen_free(g);
	return NULL;
}

/* A listener's client: a session on the route the listener serves. */
static void
worker_accept_cb(struct listener *l, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct worker	*w = l->owner;

	session_accept(&w->host, w->gen, l->arg, fd, sa, salen);
}

/*
 * A listener's accept() failed, out of descriptors or memory: count it,
 * and pause every listener of the worker (worker_pause_accept()).
 */
static void
worker_accept_error_cb(struct listener *l, int err)
{
	struct worker	*w = l->owner;
	struct route_rt	*rt = l->arg;
	char		 abuf[ADDR_STRLEN];
	char		 what[ADDR_STRLEN + CONFIG_NAME_MAX + 64];

	atomic_fetch_add_explicit(&w->stats.accept_errors, 1,
	    memory_order_relaxed);
	snprintf(what, sizeof(what), "route=%s addr=%s msg=\"accept",
	    rt->route->name, addr_format(&l->addr, abuf, sizeof(abuf)));
	worker_pause_accept(&w->host, what, err);
}

/* A listener cannot watch its socket yet; it retries on its own. */
static void
worker_listener_stuck_cb(struct listener *l, int err)
{
	struct worker	*w = l->owner;
	struct route_rt	*rt = l->arg;
	char		 abuf[ADDR_STRLEN];

	if (log_ratelimit(&w->accept_err_logged))
		log_warn("route=%s addr=%s msg=\"cannot accept: %s; retrying\"",
		    rt->route->name, addr_format(&l->addr, abuf, sizeof(abuf)),
		    strerror(err));
}

static const struct listener_cbs worker_listener_cbs = {
	.accept = worker_accept_cb,
	.error = worker_accept_error_cb,
	.stuck = worker_listener_stuck_cb,
};

/*
 * A listener of ${fd} for route ${rt} on ${w}'s loop; it knows the
 * worker only as the owner its callbacks above are given.
 */
static struct listener *
worker_listener_new(struct worker *w, struct route_rt *rt, int fd)
{
	return listener_new(w->host.base, w->host.reaper, fd,
	    &worker_listener_cbs, w, rt);
}

/*
 * A reload keeps listener ${l} (of socket ${fd}) for route ${rt}, whose
 * keepalive may have changed.
 */
static void
worker_listener_keep(struct listener *l, struct route_rt *rt, int fd)
{
	l->arg = rt;
	if (listener_sockopts(fd, rt->route->keepalive) == -1)
		log_warn(
		    "route=%s msg=\"reload: keepalive on a kept listener: %s\"",
		    rt->route->name, strerror(errno));
}

/*
 * Free ${rl}: on the thread of the worker it was made for, or while that
 * loop does not run (listener_discard()).
 */
static void
worker_reload_free(struct worker_reload *rl)
{
	size_t	 k;

	for (k = 0; rl->fresh != NULL && k < rl->nfds; k++)
		listener_discard(rl->fresh[k]);	/* the sockets are not ours */
	worker_gen_free(rl->gen);
	config_unref(rl->cfg);
	free(rl->fresh);
	free(rl->fds);
	free(rl->byfd);
	free(rl);
}

/*
 * A reload's sockets sorted by descriptor, each with its place in the
 * config's listen order, so that matching a worker's listeners to them
 * is a binary search each, not a walk of all: with 10 000 routes that
 * walk alone held the worker (and its sessions) for a while.
 */
struct worker_fdk {
	int		 fd;
	size_t		 k;
};

static int
worker_fdk_cmp(const void *va, const void *vb)
{
	const struct worker_fdk *a = va, *b = vb;

	return a->fd < b->fd ? -1 : a->fd > b->fd;
}

/* ${fds}, ${n} of them, as a sorted map; NULL when out of memory. */
static struct worker_fdk *
worker_fdk_sorted(const int *fds, size_t n)
{
	struct worker_fdk *m;
	size_t		 k;

	if ((m = calloc(n + 1, sizeof(*m))) == NULL)
		return NULL;
	for (k = 0; k < n; k++) {
		m[k].fd = fds[k];
		m[k].k = k;
	}
	qsort(m, n, sizeof(*m), worker_fdk_cmp);
	return m;
}

/* The place of ${fd} in the ${n} of map ${m}, or ${n}. */
static size_t
worker_fdk_find(const struct worker_fdk *m, size_t n, int fd)
{
	struct worker_fdk key = { fd, 0 }, *x;

	x = bsearch(&key, m, n, sizeof(*m), worker_fdk_cmp);
	return x != NULL ? x->k : n;
}

/*
 * Apply a reload: listeners whose socket stays are kept as they are (no
 * accept is missed) and pointed at the new routes; the rest close; the
 * listeners made for new sockets start.  The old configuration stays for
 * its sessions.  Everything that needs memory was made by
 * worker_reload_prepare(), so this cannot fail.
 */
static void
worker_apply_reload(struct worker *w, struct worker_reload *rl)
{
	struct worker_gen	*g = rl->gen;
	struct listener		*l, *next;
	size_t			 k;

	for (l = TAILQ_FIRST(&w->listeners); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		k = worker_fdk_find(rl->byfd, rl->nfds,
		    evconnlistener_get_fd(l->lev));
		if (k < rl->nfds) {
			assert(rl->fresh[k] == NULL);	/* was in "old" */
			worker_listener_keep(l,
			    &g->rt[config_listen_route(rl->cfg, k)],
			    rl->fds[k]);
			continue;
		}
		TAILQ_REMOVE(&w->listeners, l, entry);
		listener_free(l);
	}
	for (k = 0; k < rl->nfds; k++) {
		if ((l = rl->fresh[k]) == NULL)
			continue;
		rl->fresh[k] = NULL;
		TAILQ_INSERT_TAIL(&w->listeners, l, entry);
		listener_start(l);
	}
	if (w->gen->nsessions > 0)
		TAILQ_INSERT_TAIL(&w->old_gens, w->gen, entry);
	else
		worker_gen_free(w->gen);
	w->gen = g;
	rl->gen = NULL;
	worker_reload_free(rl);
	if (w->reloaded != NULL)
		w->reloaded(w->drained_arg);
}

/* Worker thread: apply or free what was handed over. */
static void
worker_reload_take(struct worker *w)
{
	struct worker_reload	*rl, *next;

	for (rl = atomic_exchange(&w->reload, NULL); rl != NULL; rl = next) {
		next = rl->next;
		if (rl->discard)
			worker_reload_free(rl);
		else
			worker_apply_reload(w, rl);
	}
}

static void	worker_post(struct worker *, int);
static void	worker_queries_run(struct worker *);

/* Any thread: put ${rl} on ${w}'s stack of reloads, and wake it up. */
static void
worker_reload_push(struct worker *w, struct worker_reload *rl)
{
	rl->next = atomic_load(&w->reload);
	while (!atomic_compare_exchange_weak(&w->reload, &rl->next, rl))
		;
	worker_post(w, WORKER_MSG_RELOAD);
}

struct worker_reload *
worker_reload_prepare(struct worker *w, struct config *cfg, const int *fds,
    size_t nfds, const int *old, size_t nold)
{
	struct worker_reload	*rl;
	struct worker_fdk	*had = NULL;
	struct route_rt		*rt;
	size_t			 k;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	rl->cfg = config_ref(cfg);
	rl->nfds = nfds;
	if ((rl->fds = calloc(nfds + 1, sizeof(*fds))) == NULL ||
	    (rl->fresh = calloc(nfds + 1, sizeof(*rl->fresh))) == NULL ||
	    (rl->byfd = worker_fdk_sorted(fds, nfds)) == NULL ||
	    (had = worker_fdk_sorted(old, nold)) == NULL ||
	    (rl->gen = worker_gen_new(cfg)) == NULL)
		goto fail;
	memcpy(rl->fds, fds, nfds * sizeof(*fds));
	/*
	 * The new sockets' listeners, here rather than when the worker
	 * applies this: they are the last thing that needs memory.
	 */
	for (k = 0; k < nfds; k++) {
		if (worker_fdk_find(had, nold, fds[k]) < nold)
			continue;	/* the worker has its listener */
		rt = &rl->gen->rt[config_listen_route(cfg, k)];
		if ((rl->fresh[k] = worker_listener_new(w, rt, fds[k])) == NULL)
			goto fail;
	}
	free(had);
	return rl;
fail:
	free(had);
	worker_reload_discard(w, rl);
	return NULL;
}

void
worker_reload_post(struct worker *w, struct worker_reload *rl)
{
	worker_reload_push(w, rl);	/* rl->discard is false */
}

/*
 * Not here: freeing a listener reads its loop's state (listener.c), and
 * that loop runs on the worker's thread.
 */
void
worker_reload_discard(struct worker *w, struct worker_reload *rl)
{
	if (rl == NULL)
		return;
	rl->discard = true;
	worker_reload_push(w, rl);
}

/* The last session is gone after a stop: tell the control thread. */
static void
worker_check_drained(struct worker *w)
{
	if (w->stopping && w->nsessions == 0 && TAILQ_EMPTY(&w->listeners) &&
	    !w->drained_told) {
		/* Once: the control thread counts workers that are done. */
		w->drained_told = true;
		event_base_loopbreak(w->host.base);
		if (w->drained != NULL)
			w->drained(w->drained_arg);
	}
}

static void
worker_close_listeners(struct worker *w)
{
	struct listener	*l;

	while ((l = TAILQ_FIRST(&w->listeners)) != NULL) {
		TAILQ_REMOVE(&w->listeners, l, entry);
		listener_free(l);
	}
}

static void
worker_msg_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct session	*s;
	int		 msg;

	(void)fd;
	(void)what;
	uint64_t	 n;

	if (read(w->wake_fd, &n, sizeof(n)) == -1)
		n = 0;		/* EAGAIN: woken twice for one write */
	msg = atomic_exchange(&w->msg, 0);
	if (msg & WORKER_MSG_RELOAD)
		worker_reload_take(w);
	if (msg & WORKER_MSG_QUERY)
		worker_queries_run(w);
	if (msg & (WORKER_MSG_STOP | WORKER_MSG_ABORT)) {
		w->stopping = true;
		worker_close_listeners(w);
	}
	if (msg & WORKER_MSG_ABORT)
		while ((s = TAILQ_FIRST(&w->sessions)) != NULL)
			session_close(s, SESSION_END_SHUTDOWN, 0);
	worker_check_drained(w);
}

/*
 * One query is done with: count it off, and the last one out wakes the
 * asker.  What it needs is read first: from the decrement on, the query
 * may be the asker's again, and freed.
 */
static void
worker_query_answered(struct worker_query *q)
{
	struct event	*wake = q->wake;

	if (atomic_fetch_sub(q->pending, 1) == 1)
		event_active(wake, EV_READ, 0);
}

/* The queries posted since the last wake-up, each over every session. */
static void
worker_queries_run(struct worker *w)
{
	struct worker_query *q, *next;
	struct session	*s, *snext;

	for (q = atomic_exchange(&w->queries, NULL); q != NULL; q = next) {
		next = q->next;
		/* each() may end ${s}: its successor is taken first. */
		for (s = TAILQ_FIRST(&w->sessions); s != NULL; s = snext) {
			snext = TAILQ_NEXT(s, entry);
			if (!q->each(q, s))
				break;
		}
		if (q->done != NULL)
			q->done(q);
		worker_query_answered(q);
	}
}

void
worker_query_post(struct worker *w, struct worker_query *q)
{
	q->next = atomic_load(&w->queries);
	while (!atomic_compare_exchange_weak(&w->queries, &q->next, q))
		;
	worker_post(w, WORKER_MSG_QUERY);
}

static struct event_base *
worker_base_new(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	/* Only its own thread ever touches it (worker_post). */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	/*
	 * A bulk stream whose source never runs dry re-activates itself
	 * (pipe_pump): after this many callbacks the loop polls again, so
	 * every other socket's edges get their turn.  Priority 0 (the
	 * reaper) is not limited.
	 */
	event_config_set_max_dispatch_interval(cfg, NULL, 64, 1);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	/* Everything else gets the default, 1; the reaper 0 (reaper.c). */
	if (base != NULL && event_base_priority_init(base, 2) == -1) {
		event_base_free(base);
		base = NULL;
	}
	return base;
}

struct worker *
worker_new(struct config *cfg, const int *fds, size_t nfds,
    const struct worker_opts *o)
{
	struct worker	*w;
	struct listener	*l;
	size_t		 i, j, k = 0;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto fail;
	TAILQ_INIT(&w->listeners);
	TAILQ_INIT(&w->sessions);
	TAILQ_INIT(&w->old_gens);
	w->wake_fd = -1;
	atomic_init(&w->reload, NULL);
	atomic_init(&w->queries, NULL);
	w->host.index = o->index;
	w->host.alog = o->alog;
	w->host.add = worker_session_add;
	w->host.gone = worker_session_gone;
	w->host.pause_accept = worker_pause_accept;
	w->drained = o->drained;
	w->reloaded = o->reloaded;
	w->drained_arg = o->arg;
	if ((w->gen = worker_gen_new(cfg)) == NULL)
		goto fail;
	if ((w->host.base = worker_base_new()) == NULL ||
	    (w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (w->msg_ev = event_new(w->host.base, w->wake_fd,
		 EV_READ | EV_PERSIST, worker_msg_cb, w)) == NULL ||
	    event_add(w->msg_ev, NULL) == -1 ||
	    (w->host.pipes = calloc(1, sizeof(*w->host.pipes))) == NULL)
		goto fail;
	/* Before the listeners: they close their sockets through it. */
	if ((w->host.reaper = reaper_new(w->host.base)) == NULL)
		goto fail;
	splice_pool_init(&w->host.pipes->sp);
	for (i = 0; i < cfg->nroutes; i++)
		for (j = 0; j < cfg->routes[i].nlisten; j++) {
			if (k >= nfds)
				goto fail;
			l = worker_listener_new(w, &w->gen->rt[i], fds[k]);
			if (l == NULL)
				goto fail;
			k++;
			TAILQ_INSERT_TAIL(&w->listeners, l, entry);
			listener_start(l);
		}
	return w;
fail:
	/* Descriptors not yet handed to a listener are still ours to close. */
	for (; k < nfds; k++)
		close(fds[k]);
	worker_free(w);
	return NULL;
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	event_base_dispatch(w->host.base);
	/*
	 * Stopped (drained, or a loop error): what is left to close would
	 * otherwise stay open, a listener still taking connections into its
	 * backlog, until worker_free().  No dispatch follows, so no late DEL.
	 */
	reaper_flush(w->host.reaper);
	return NULL;
}

int
worker_start(struct worker *w)
{
	int	 rc;

	/* Signals belong to the control thread; workers never see them. */
	if ((rc = util_thread_start(&w->thread, worker_main, w)) != 0) {
		errno = rc;
		return -1;
	}
	w->running = true;
	return 0;
}

/*
 * Any thread: set message bits and wake the worker through its eventfd.
 * Its event_base is never touched from outside, so it needs no lock
 * (EVENT_BASE_FLAG_NOLOCK): nothing on the data path locks.
 */
static void
worker_post(struct worker *w, int msg)
{
	uint64_t	 one = 1;

	atomic_fetch_or(&w->msg, msg);
	/* EAGAIN: the counter is saturated, so a wake-up is pending anyway. */
	if (write(w->wake_fd, &one, sizeof(one)) == -1)
		return;
}

void
worker_stop(struct worker *w)
{
	worker_post(w, WORKER_MSG_STOP);
}

void
worker_abort(struct worker *w)
{
	worker_post(w, WORKER_MSG_ABORT);
}

void
worker_join(struct worker *w)
{
	if (w->running)
		pthread_join(w->thread, NULL);
	w->running = false;
}

unsigned
worker_live(const struct worker *w)
{
	return atomic_load_explicit(&w->stats.live, memory_order_relaxed);
}

/* The session host's pause_accept (host.h). */
static void
worker_pause_accept(struct session_host *h, const char *what, int err)
{
	struct worker	*w = worker_of(h);
	struct listener	*l;

	if (log_ratelimit(&w->accept_err_logged))
		log_error("%s: %s%s\"", what, strerror(err),
		    err == EMFILE || err == ENFILE ? " (pausing accept; raise "
		    "the open files limit or lower max_connections)" : "");
	/* Idle kernel pipes hold descriptors that sessions need more. */
	if (w->host.pipes != NULL && (err == EMFILE || err == ENFILE))
		splice_pool_lean(&w->host.pipes->sp, util_now_ms());
	/* Descriptors are per process: every listener would hit the wall. */
	TAILQ_FOREACH(l, &w->listeners, entry)
		listener_pause(l);
}

/*
 * The worker's registry of its sessions, both halves here, called by the
 * sessions through their host (host.h): w->sessions, the counts
 * (w->nsessions, stats.live, the route's active slot) and each
 * configuration's session count, which frees an older configuration
 * with its last session.
 */
static void
worker_session_add(struct session_host *h, struct session *s)
{
	struct worker	*w = worker_of(h);
	struct route_stats_slot *sl;

	s->gen->nsessions++;
	TAILQ_INSERT_TAIL(&w->sessions, s, entry);
	w->nsessions++;
	sl = pool_stats_slot(s->rt->route->pool->stats, w->host.index);
	atomic_fetch_add_explicit(&sl->active, 1, memory_order_relaxed);
	atomic_store_explicit(&w->stats.live, w->nsessions,
	    memory_order_relaxed);
}

static void
worker_session_gone(struct session_host *h, struct session *s)
{
	struct worker	*w = worker_of(h);
	struct route_stats_slot *sl;

	TAILQ_REMOVE(&w->sessions, s, entry);
	w->nsessions--;
	atomic_store_explicit(&w->stats.live, w->nsessions,
	    memory_order_relaxed);
	sl = pool_stats_slot(s->rt->route->pool->stats, w->host.index);
	atomic_fetch_sub_explicit(&sl->active, 1, memory_order_relaxed);
	/* The last session of an older configuration: let it go. */
	if (--s->gen->nsessions == 0 && s->gen != w->gen) {
		TAILQ_REMOVE(&w->old_gens, s->gen, entry);
		worker_gen_free(s->gen);
	}
	if (w->stopping)
		worker_check_drained(w);
}

void
worker_free(struct worker *w)
{
	struct worker_reload *rl, *next;
	struct session	*s;

	if (w == NULL)
		return;
	w->drained = NULL;	/* nobody is waiting any more */
	while ((s = TAILQ_FIRST(&w->sessions)) != NULL)
		session_close(s, SESSION_END_SHUTDOWN, 0);
	worker_close_listeners(w);
	if (w->msg_ev != NULL)
		event_free(w->msg_ev);
	if (w->wake_fd != -1)
		close(w->wake_fd);
	/* After the sessions: they hand their kernel pipes back. */
	if (w->host.pipes != NULL)
		splice_pool_free(&w->host.pipes->sp);
	free(w->host.pipes);
	/* The loop has stopped: nothing of ours is left in the changelist. */
	reaper_free(w->host.reaper);
	/* Reloads handed over but never applied (or freed). */
	for (rl = atomic_exchange(&w->reload, NULL); rl != NULL; rl = next) {
		next = rl->next;
		worker_reload_free(rl);
	}
	worker_gen_free(w->gen);
	if (w->host.base != NULL)
		event_base_free(w->host.base);
	free(w);
}
