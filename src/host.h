/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_HOST_H
#define RELAY46_HOST_H

/*
 * host.h: what a worker lends the sessions and connects that run on its
 * loop.  It sits below session.c and upstream.c, which reach their worker
 * only through struct session_host (fields and callbacks), never by
 * calling into worker.c: the layers go one way, worker -> session ->
 * upstream (HACKING.md).  The worker fills one in once, for its life.
 */

#include <sys/queue.h>

#include "balance.h"

struct accesslog;
struct config;
struct event_base;
struct pipe_shared;
struct reaper;
struct route;
struct session;

/* What a worker keeps per route of its config: balancing and counts. */
struct route_rt {
	const struct route *route;
	struct balance_state bal;	/* this worker's picker */
	struct balance_cand *cand;	/* scratch, one per pool entry */
	unsigned char	*skip;		/* scratch, one per pool entry */
};

/*
 * One configuration as a worker runs it: its routes' balancing state.
 * New sessions take the current one; a reload makes a new one, and the
 * old lives on until the last session that started under it has ended,
 * so live sessions finish on the route and upstreams they started with.
 */
struct worker_gen {
	TAILQ_ENTRY(worker_gen) entry;
	struct config	*cfg;		/* a reference */
	struct route_rt	*rt;		/* one per route */
	unsigned	 nsessions;
};

/*
 * The loop a session runs on, and its way back to the worker that owns
 * it.  Read-only to sessions; the callbacks run on the worker's thread.
 */
struct session_host {
	struct event_base *base;
	struct reaper	*reaper;	/* closes sockets after the loop turn */
	struct pipe_shared *pipes;	/* kernel pipes and scratch, shared */
	struct accesslog *alog;		/* the sessions' lines; NULL: the log */
	unsigned	 index;		/* this worker's slot in the counters */
	/*
	 * add(h, s): ${s} is set up (s->gen, s->rt); the worker counts it in
	 * its registry.  gone(h, s): from its teardown, the last use of
	 * s->gen (which may be freed then).
	 */
	void		(*add)(struct session_host *h, struct session *s);
	void		(*gone)(struct session_host *h, struct session *s);
	/*
	 * pause_accept(h, what, err): descriptors or memory ran out (${err}):
	 * the worker pauses every listener for a short back-off and logs
	 * "${what}: strerror(err)\"" at most once a second; ${what} starts
	 * the log line and ends inside an open msg=" quote.
	 */
	void (*pause_accept)(struct session_host *h, const char *what, int err);
};

#endif
