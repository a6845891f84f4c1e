#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "session.h"
#include "util.h"
#include "worker.h"

/* Sessions of the whole process, every worker's, for max_connections. */
static atomic_uint	worker_global_live;

bool
worker_global_enter(unsigned max)
{
	unsigned	 n = atomic_load_explicit(&worker_global_live,
			    memory_order_relaxed);

	do {
		if (max != 0 && n >= max)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&worker_global_live,
	    &n, n + 1, memory_order_relaxed, memory_order_relaxed));
	return true;
}

void
worker_global_leave(void)
{
	atomic_fetch_sub_explicit(&worker_global_live, 1, memory_order_relaxed);
}

static void
worker_rt_free(struct worker *w)
{
	size_t	 i;

	if (w->rt == NULL)
		return;
	for (i = 0; i < w->cfg->nroutes; i++) {
		free(w->rt[i].bal.credit);
		free(w->rt[i].cand);
		free(w->rt[i].skip);
	}
	free(w->rt);
	w->rt = NULL;
}

static int
worker_rt_new(struct worker *w)
{
	const struct route	*r;
	struct route_rt		*rt;
	size_t			 i, cap;
	uint64_t		 seed;

	if ((w->rt = calloc(w->cfg->nroutes, sizeof(*w->rt))) == NULL)
		return -1;
	for (i = 0; i < w->cfg->nroutes; i++) {
		r = &w->cfg->routes[i];
		rt = &w->rt[i];
		rt->route = r;
		rt->index = i;
		cap = r->pool->cap;
		if ((rt->bal.credit = calloc(cap, sizeof(int))) == NULL ||
		    (rt->cand = calloc(cap, sizeof(*rt->cand))) == NULL ||
		    (rt->skip = calloc(cap, 1)) == NULL)
			return -1;
		/* random: different in each process and worker, on purpose. */
		if (getentropy(&seed, sizeof(seed)) == -1)
			seed = util_now_ms() ^ (uint64_t)getpid() << 32 ^ i;
		balance_seed(&rt->bal, seed);
	}
	return 0;
}

/* The last session is gone after a stop: tell the control thread. */
static void
worker_check_drained(struct worker *w)
{
	if (w->stopping && w->nsessions == 0 && TAILQ_EMPTY(&w->listeners) &&
	    !w->drained_told) {
		/* Once: the control thread counts workers that are done. */
		w->drained_told = true;
		event_base_loopbreak(w->base);
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
	msg = atomic_exchange(&w->msg, 0);
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
 * Sessions switch events on and off many times per loop iteration
 * (connect, then read, pause, resume); epoll's changelist folds those into
 * one epoll_ctl per descriptor per iteration, or none when they cancel.
 * We never dup() a socket, which is the changelist's known pitfall.  With
 * several workers it is left off: a deferred EPOLL_CTL_DEL then reaches
 * the kernel after close(), when another worker may already have been
 * given the same descriptor number.  Harmless (a DEL on another epoll
 * set fails with ENOENT), but it is a cross-thread use of a reused
 * number, which ThreadSanitizer rightly reports and we do not want to
 * reason about.
 */
static struct event_base *
worker_base_new(bool changelist)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	if (changelist)
		event_config_set_flag(cfg,
		    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

struct worker *
worker_new(struct config *cfg, const int *fds, size_t nfds,
    void (*drained)(void *), void *arg)
{
	struct worker	*w;
	struct listener	*l;
	size_t		 i, j, k = 0;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto fail;
	TAILQ_INIT(&w->listeners);
	TAILQ_INIT(&w->sessions);
	w->cfg = config_ref(cfg);
	w->drained = drained;
	w->drained_arg = arg;
	if ((w->base = worker_base_new(cfg->workers == 1)) == NULL || worker_rt_new(w) == -1 ||
	    (w->msg_ev = event_new(w->base, -1, 0, worker_msg_cb, w)) == NULL)
		goto fail;
	for (i = 0; i < cfg->nroutes; i++)
		for (j = 0; j < cfg->routes[i].nlisten; j++) {
			if (k >= nfds)
				goto fail;
			if ((l = listener_new(w, &w->rt[i], fds[k++])) == NULL)
				goto fail;
			TAILQ_INSERT_TAIL(&w->listeners, l, entry);
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

	event_base_dispatch(w->base);
	return NULL;
}

int
worker_start(struct worker *w)
{
	sigset_t	 all, old;
	int		 rc;

	/* Signals belong to the control thread; workers never see them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	w->running = true;
	return 0;
}

static void
worker_post(struct worker *w, int msg)
{
	atomic_fetch_or(&w->msg, msg);
	event_active(w->msg_ev, EV_READ, 0);
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

void
worker_pause_accept(struct worker *w, const char *what, int err)
{
	struct listener	*l;

	if (log_ratelimit(&w->accept_err_logged))
		log_error("%s: %s%s\"", what, strerror(err),
		    err == EMFILE || err == ENFILE ? " (pausing accept; raise "
		    "the open files limit or lower max_connections)" : "");
	/* Descriptors are per process: every listener would hit the wall. */
	TAILQ_FOREACH(l, &w->listeners, entry)
		listener_pause(l);
}

void
worker_session_gone(struct worker *w, struct session *s)
{
	TAILQ_REMOVE(&w->sessions, s, entry);
	w->nsessions--;
	atomic_store_explicit(&w->stats.live, w->nsessions,
	    memory_order_relaxed);
	pool_session_leave(s->rt->route->pool);
	atomic_fetch_sub_explicit(&s->rt->route->pool->stats->active, 1,
	    memory_order_relaxed);
	worker_global_leave();
	atomic_fetch_add_explicit(&w->stats.sessions_total, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&w->stats.bytes_up, s->c2u.bytes,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&w->stats.bytes_down, s->u2c.bytes,
	    memory_order_relaxed);
	if (w->stopping)
		worker_check_drained(w);
}

void
worker_free(struct worker *w)
{
	struct session	*s;

	if (w == NULL)
		return;
	w->drained = NULL;	/* nobody is waiting any more */
	while ((s = TAILQ_FIRST(&w->sessions)) != NULL)
		session_close(s, SESSION_END_SHUTDOWN, 0);
	worker_close_listeners(w);
	if (w->msg_ev != NULL)
		event_free(w->msg_ev);
	if (w->cfg != NULL)
		worker_rt_free(w);
	if (w->base != NULL)
		event_base_free(w->base);
	config_unref(w->cfg);
	free(w);
}
