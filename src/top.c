/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * top.c: the busiest live sessions for the status page, kept in a cache
 * on the control thread.  The admin endpoint answers at once and the
 * sessions are the workers', so the page shows what the workers last
 * said; once it has been shown, and is over TOP_STALE_MS old, every
 * worker is asked again (worker_query_post()).  Each picks its own
 * busiest during the walk and reports them when it ends, on its own
 * thread, while they are still alive; the last one wakes the control
 * loop, which merges the answers into the cache.  So the data is at most
 * one refresh of the page old, and nothing is asked while nobody looks.
 *
 * It owns the cache and the queries (struct top, c->top), made at the
 * first look and freed by top_free() once the workers are gone.  Control
 * thread only, but for top_each() and top_part_done(), which run on the
 * workers' threads and touch only their own part.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "control-int.h"
#include "metrics.h"
#include "session.h"
#include "util.h"
#include "worker.h"

#define TOP_N		METRICS_TOP_SESSIONS

/* A cache younger than this is shown without asking again (ms). */
#define TOP_STALE_MS	2000

/* One worker's share of a question: filled on that worker's thread. */
struct top_part {
	struct worker_query q;		/* first: the query is the part */
	/* During the walk: its busiest sessions so far, busiest first. */
	struct session	*best[TOP_N];
	uint64_t	 bytes[TOP_N];
	size_t		 nbest;
	/* At its end, while they are still alive: their reports. */
	struct session_report rows[TOP_N];
};

struct top {
	struct event	*ev;		/* the last part is done */
	atomic_uint	 pending;	/* parts not done yet */
	bool		 asking;	/* a question is under way */
	bool		 known;		/* the cache has been filled */
	uint64_t	 at_ms;		/* ...at this time (util_now_ms()) */
	/* The cache, busiest first; shown[i].route points into rows[i]. */
	struct session_report rows[TOP_N];
	struct metrics_session shown[TOP_N];
	size_t		 n;
	unsigned	 nparts;
	struct top_part	 parts[];
};

/* Both ways: what the page ranks by. */
static uint64_t
top_bytes(const struct session_report *r)
{
	return r->up + r->down;
}

/* Busiest first; of two as busy, the older (the smaller id). */
static int
top_cmp(const void *a, const void *b)
{
	const struct session_report *x = a, *y = b;
	uint64_t	 bx = top_bytes(x), by = top_bytes(y);

	if (bx != by)
		return bx > by ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * On a worker's thread: ${s} among its busiest?  Sessions come oldest
 * first, so one no busier than the last kept stays out, as top_cmp()
 * wants; most sessions cost one comparison.
 */
static bool
top_each(struct worker_query *q, struct session *s)
{
	struct top_part	*pt = (struct top_part *)(void *)q;
	uint64_t	 b = session_up_bytes(s) + s->u2c.bytes;
	size_t		 i;

	if (pt->nbest == TOP_N && b <= pt->bytes[TOP_N - 1])
		return true;
	if (pt->nbest < TOP_N)
		pt->nbest++;
	for (i = pt->nbest - 1; i > 0 && pt->bytes[i - 1] < b; i--) {
		pt->best[i] = pt->best[i - 1];
		pt->bytes[i] = pt->bytes[i - 1];
	}
	pt->best[i] = s;
	pt->bytes[i] = b;
	return true;
}

/*
 * On a worker's thread, right after the walk: nothing has run in
 * between, so every session kept is alive.  The worker then counts the
 * part off, and the last one wakes top_done_cb() (worker.h).
 */
static void
top_part_done(struct worker_query *q)
{
	struct top_part	*pt = (struct top_part *)(void *)q;
	size_t		 i;

	for (i = 0; i < pt->nbest; i++)
		session_report(pt->best[i], &pt->rows[i]);
}

/* A report as the page shows it; its route stays in ${r}. */
static void
top_show(struct metrics_session *ms, const struct session_report *r)
{
	memset(ms, 0, sizeof(*ms));
	ms->id = r->id;
	ms->route = r->route;
	ms->client = r->client;
	ms->upstream = r->upstream;
	ms->age_ms = r->age_ms;
	ms->up = r->up;
	ms->down = r->down;
	ms->client_rtt_ok = r->c.ok;
	ms->client_rtt_us = r->c.rtt_us;
	ms->upstream_rtt_ok = r->u.ok;
	ms->upstream_rtt_us = r->u.rtt_us;
}

/*
 * Every worker has answered: their busiest, merged, are the cache.  Each
 * part's rows are in top_cmp()'s order already, so the busiest of all
 * is always at the head of one of them.
 */
static void
top_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct top		*t = arg;
	const struct session_report *head, *best;
	size_t			 next[CONFIG_WORKERS_MAX] = { 0 };
	unsigned		 i, from;

	(void)fd;
	(void)what;
	for (t->n = 0; t->n < TOP_N; t->n++) {
		best = NULL;
		from = 0;
		for (i = 0; i < t->nparts; i++) {
			if (next[i] == t->parts[i].nbest)
				continue;
			head = &t->parts[i].rows[next[i]];
			if (best == NULL || top_cmp(head, best) < 0) {
				best = head;
				from = i;
			}
		}
		if (best == NULL)
			break;
		next[from]++;
		t->rows[t->n] = *best;
		top_show(&t->shown[t->n], &t->rows[t->n]);
	}
	t->at_ms = util_now_ms();
	t->known = true;
	t->asking = false;
}

static struct top *
top_new(struct control *c)
{
	struct top	*t;
	unsigned	 i;

	assert(c->nw <= CONFIG_WORKERS_MAX); /* config.c caps workers */
	if ((t = calloc(1, sizeof(*t) + c->nw * sizeof(t->parts[0]))) == NULL)
		return NULL;
	if ((t->ev = event_new(c->base, -1, 0, top_done_cb, t)) == NULL) {
		free(t);
		return NULL;
	}
	atomic_init(&t->pending, 0);
	t->nparts = c->nw;
	for (i = 0; i < t->nparts; i++) {
		t->parts[i].q.each = top_each;
		t->parts[i].q.done = top_part_done;
		t->parts[i].q.pending = &t->pending;
		t->parts[i].q.wake = t->ev;
	}
	return t;
}

void
top_fill(struct control *c, struct metrics_snapshot *m)
{
	struct top	*t = c->top;

	if (t == NULL || !t->known)
		return;
	m->sessions = t->shown;
	m->nsessions = t->n;
	m->sessions_known = true;
	m->sessions_age_ms = util_now_ms() - t->at_ms;
}

void
top_ask(struct control *c)
{
	struct top	*t;
	unsigned	 i;

	/* Out of memory the page goes on without the table. */
	if (c->nw == 0 || (c->top == NULL && (c->top = top_new(c)) == NULL))
		return;
	t = c->top;
	if (t->asking || (t->known && util_now_ms() - t->at_ms < TOP_STALE_MS))
		return;
	t->asking = true;
	atomic_store(&t->pending, t->nparts);
	for (i = 0; i < t->nparts; i++) {
		t->parts[i].nbest = 0;
		worker_query_post(c->w[i], &t->parts[i].q);
	}
}

void
top_free(struct control *c)
{
	if (c->top == NULL)
		return;
	event_free(c->top->ev);
	free(c->top);
	c->top = NULL;
}
