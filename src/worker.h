/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_WORKER_H
#define RELAY46_WORKER_H

#include <sys/queue.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "host.h"

struct accesslog;
struct config;
struct event;
struct event_base;
struct listener;
struct pipe_shared;
struct reaper;
struct route;
struct session;

struct worker_fdk;	/* worker.c's */

/*
 * A reload handed to a worker: its listening sockets for ${cfg}, and all
 * it needs memory for, made before anything is handed over, down to the
 * listeners of the new sockets: applying it cannot fail.
 */
struct worker_reload {
	struct worker_reload *next;	/* in w->reload */
	bool		 discard;	/* not to apply, only to free */
	struct config	*cfg;		/* a reference, the worker's now */
	int		*fds;		/* in ${cfg}'s listen order */
	size_t		 nfds;
	struct worker_gen *gen;		/* ${cfg} as the worker will run it */
	struct listener	**fresh;	/* per fd: a new socket's, or NULL */
	struct worker_fdk *byfd;	/* fds[] sorted, for the apply */
};

/* Counters: written by the worker only, read by anyone (relaxed atomics). */
struct worker_stats {
	atomic_uint_fast64_t accept_errors;
	atomic_uint	 live;		/* nsessions, for other threads */
};

/*
 * One event loop on one thread.  It owns its listeners and every session
 * it accepted; no other thread touches them.  The control thread gives
 * it what it needs through worker_new() (struct worker_opts) and writes
 * none of its fields; once it runs, the control thread reaches it only
 * through its wake-up channel (worker_stop(), worker_abort() and the
 * worker_reload_*() post a message and write its eventfd) and reads its
 * counters (stats, worker_live()) as relaxed atomics.
 */
struct worker {
	/*
	 * Its loop (host.base), reaper, pipes, access log (the control
	 * thread's; NULL: none) and counter slot (host.index, 0..workers-1),
	 * as lent to its sessions.
	 */
	struct session_host host;
	pthread_t	 thread;
	bool		 running;
	struct worker_gen *gen;		/* the current configuration */
	TAILQ_HEAD(, worker_gen) old_gens;	/* with sessions still on them */
	/* Handed over, for the worker's thread to apply or free: a stack. */
	_Atomic(struct worker_reload *) reload;
	_Atomic(struct worker_query *) queries;	/* posted, a stack */
	void		(*reloaded)(void *);	/* on the worker thread */
	TAILQ_HEAD(, listener) listeners;
	TAILQ_HEAD(, session) sessions;
	unsigned	 nsessions;	/* worker thread only */
	int		 wake_fd;	/* eventfd: the control thread wakes us */
	struct event	*msg_ev;	/* ...and this reads it */
	atomic_int	 msg;		/* WORKER_MSG_* bits */
	bool		 stopping;
	bool		 drained_told;	/* drained() was called */
	void		(*drained)(void *);	/* called on the worker thread */
	void		*drained_arg;	/* for drained() and reloaded() */
	unsigned long long accept_err_logged;
	struct worker_stats stats;
};

#define WORKER_MSG_STOP		0x1	/* close listeners, drain */
#define WORKER_MSG_ABORT	0x2	/* end every session now, then exit */
#define WORKER_MSG_RELOAD	0x4	/* apply (or free) w->reload */
#define WORKER_MSG_QUERY	0x8	/* run w->queries */

/*
 * A question about a worker's sessions, from another thread (the control
 * socket's "show sessions", "kill ...", the status page's busiest): on
 * the worker's thread, each() is called for every session it has (until
 * it returns false; it may end the session it is given), then done()
 * once (NULL: none).  An asker who asks every worker counts the queries
 * out in *${pending}: the worker takes one off after done(), and the one
 * that takes the last activates ${wake}, an event on the asker's loop
 * (whose libevent base is locked), so the answers are gathered there.
 * The asker owns the query and may take it back only once ${wake} ran.
 */
struct worker_query {
	struct worker_query *next;	/* in w->queries */
	bool		(*each)(struct worker_query *q, struct session *s);
	void		(*done)(struct worker_query *q);
	atomic_uint	*pending;	/* the asker's: queries still out */
	struct event	*wake;		/* ...and what the last one wakes */
};

/* What a worker is given by whoever runs it, for its whole life. */
struct worker_opts {
	unsigned	 index;		/* 0..workers-1: its counter slots */
	struct accesslog *alog;		/* the sessions' access log; NULL: none */
	/*
	 * Called with ${arg} on the worker's thread: ${drained} once it has
	 * stopped and its last session has ended; ${reloaded} once it has
	 * applied a reload (worker_reload_post()).  NULL: not called.
	 */
	void		(*drained)(void *arg);
	void		(*reloaded)(void *arg);
	void		*arg;
};

/*
 * worker_new(cfg, fds, nfds, o): a worker for ${cfg} (it takes its own
 * reference) serving the listening sockets ${fds}, in the order of the
 * routes' listen addresses, with what ${o} gives it (copied).  It takes
 * ownership of the fds, also on failure.  Returns NULL on failure.
 */
struct worker *worker_new(struct config *cfg, const int *fds, size_t nfds,
    const struct worker_opts *o);

/*
 * worker_query_post(w, q): any thread: run ${q} on ${w}'s thread.  Only
 * while ${w} runs its loop (started, not joined): a worker that has
 * stopped and drained answers no more.
 */
void	 worker_query_post(struct worker *w, struct worker_query *q);

/* worker_start(w): run its loop on a new thread.  0, or -1 with errno. */
int	 worker_start(struct worker *w);

/* worker_stop(w): any thread: stop accepting; sessions drain. */
void	 worker_stop(struct worker *w);

/* worker_abort(w): any thread: end every session now and leave the loop. */
void	 worker_abort(struct worker *w);

/*
 * A reload is all or nothing, so it comes in two steps.
 * worker_reload_prepare(w, cfg, fds, nfds, old, nold): any thread: make
 * everything a reload of ${w} to ${cfg} on the listening sockets ${fds}
 * (copied; in ${cfg}'s listen order) needs memory for, down to the
 * listeners (not accepting yet) of those not among the ${old} sockets
 * ${w} serves now; nothing is handed over yet.  NULL on out of memory,
 * and every socket stays where it was (the new ones the caller's).
 * Then, once every worker's is prepared, worker_reload_post(w, rl),
 * which cannot fail: from now on ${w} serves ${cfg} (the worker takes
 * its own reference) on ${fds}.  Sockets it already listens on stay open
 * and keep their queue; the others it closes, and new ones it takes
 * over.  Sessions under way keep their configuration.  Applying it needs
 * no memory, so no worker can be left half-way, serving only some of
 * ${fds}: should libevent find none to watch a new socket, its listener
 * warns and tries again until it can (listener_start()).  When done,
 * worker_opts' reloaded(arg) is called on the worker's thread.  One
 * reload at a time: the caller waits for that call.  A prepared reload
 * not posted: worker_reload_discard(w, rl), which closes no socket and
 * cannot fail; ${w}'s thread frees it, as only that thread may free what
 * was made for its loop (see listener.c).
 */
struct worker_reload *worker_reload_prepare(struct worker *w,
    struct config *cfg, const int *fds, size_t nfds, const int *old,
    size_t nold);
void	 worker_reload_post(struct worker *w, struct worker_reload *rl);
void	 worker_reload_discard(struct worker *w, struct worker_reload *rl);

/* worker_join(w): wait for the thread to end. */
void	 worker_join(struct worker *w);

/* worker_free(w): after worker_join(); NULL is fine. */
void	 worker_free(struct worker *w);

/* worker_live(w): sessions at once (approximate from another thread). */
unsigned worker_live(const struct worker *w);

#endif
