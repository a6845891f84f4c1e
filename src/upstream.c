/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * upstream.c: one session's way to a connected upstream socket.  It picks
 * an upstream (pool_pick()), connects to it without blocking, bounded by
 * connect_timeout, moves on to the next upstream when that fails, up to
 * retries more, and races the two families of a host name (Happy
 * Eyeballs, RFC 8305).  What each outcome means for the pool is counted
 * here: the upstream's health (pool_connect_ok(), pool_connect_failed()),
 * the family that won a race (pool_he_won()), the connect time, and the
 * rate-limited "connect failed" warnings.
 *
 * It owns a struct upstream_conn from upstream_connect() until it calls
 * back or is cancelled, and with it the sockets under way (two at most:
 * one per family in a race), their events, its timers and the session's
 * tried flags.  All of that is freed before the callback, so a connected
 * session keeps none of it, only the socket and the entry it won (an idle
 * session's bytes count: struct session).  Worker thread only.
 *
 * From the top: upstream_connect(), then upstream_next(), which picks
 * and starts an attempt, upstream_attempt_cb(), which hears how it went,
 * and upstream_done(), which hands over the answer.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "balance.h"
#include "config.h"
#include "host.h"
#include "log.h"
#include "pipe.h"
#include "pool.h"
#include "reaper.h"
#include "upstream.h"
#include "util.h"

/* How long a connect waits for a descriptor before trying again. */
#define UPSTREAM_RETRY_SOCKET_MS	250

/* Happy Eyeballs (RFC 8305 §5): the other family's head start. */
#define UPSTREAM_HE_DELAY_MS	250

/* One connect under way.  Happy Eyeballs races two at most. */
struct upstream_attempt {
	int		 fd;		/* -1: slot free */
	struct event	*ev;		/* writable, or the connect timeout */
	struct upstream	*u;
};

struct upstream_conn {
	struct session_host *h;
	const struct route *r;
	const struct addr *client;	/* the session's, for log lines */
	upstream_conn_cb *cb;
	void		*arg;
	struct pool_pick pick;		/* its tried: ${tried} below */
	struct upstream_attempt a[2];
	struct event	*timer;		/* socket retry, or the answer kept */
	struct event	*he_timer;	/* Happy Eyeballs: the other family */
	uint64_t	 start_ms;
	uint64_t	 connect_us;	/* the first attempt's start */
	unsigned	 attempts;	/* sequential tries (not the race's) */
	int		 last_err;	/* of the last failed connect */
	int		 he_first;	/* family the race began with, or 0 */
	bool		 starting;	/* within upstream_connect() */
	bool		 data_first;	/* the client's bytes are in */
	bool		 deferred;	/* it answered there: timer tells */
	enum upstream_status res;	/* ...this answer */
	int		 res_err;
	short		 ready;		/* the winner's edge (EV_*) */
	unsigned char	 tried[];	/* one per pool entry */
};

/* Defined below in the order a connect meets them. */
static void upstream_next(struct upstream_conn *);
static bool upstream_he_possible(const struct upstream_conn *,
    const struct upstream *);
static void upstream_sockopts(int, bool, bool);
static bool upstream_local_shortage(int);
static void upstream_later(struct upstream_conn *, struct upstream *, int);
static void upstream_timer_cb(evutil_socket_t, short, void *);
static void upstream_attempt_cb(evutil_socket_t, short, void *);
static void upstream_connected(struct upstream_conn *,
    struct upstream_attempt *, short);
static void upstream_attempt_failed(struct upstream_conn *,
    struct upstream_attempt *, int);
static void upstream_log_connect(const struct upstream_conn *,
    struct upstream *, int);
static void upstream_he_cb(evutil_socket_t, short, void *);
static void upstream_done(struct upstream_conn *, int, struct upstream *,
    enum upstream_status, int);
static void upstream_attempt_drop(struct upstream_conn *,
    struct upstream_attempt *);
static void upstream_timer_set(struct event *, uint64_t);

static struct upstream *upstream_he_prefer(struct upstream_conn *,
    struct upstream *);

static int upstream_attempt_start(struct upstream_conn *, struct upstream *,
    int *);

static uint64_t upstream_client_hash(const struct addr *);
static size_t upstream_connect_kind(int);
static unsigned upstream_inflight(const struct upstream_conn *);

struct upstream_conn *
upstream_connect(struct session_host *h, struct route_rt *rt,
    const struct addr *client, bool data_first, upstream_conn_cb *cb, void *arg)
{
	const struct route	*r = rt->route;
	struct upstream_conn	*c;

	/* tried[] sized once: a pool never grows past its cap. */
	if ((c = calloc(1, sizeof(*c) + r->pool->cap)) == NULL)
		return NULL;
	if ((c->timer = evtimer_new(h->base, upstream_timer_cb, c)) == NULL) {
		free(c);
		return NULL;
	}
	c->h = h;
	c->r = r;
	c->client = client;
	c->cb = cb;
	c->arg = arg;
	c->data_first = data_first;
	c->a[0].fd = c->a[1].fd = -1;
	c->pick.bal = &rt->bal;
	c->pick.cand = rt->cand;
	c->pick.skip = rt->skip;
	c->pick.tried = c->tried;
	if (r->balance == BALANCE_SOURCE)
		c->pick.client = upstream_client_hash(client);
	c->start_ms = util_now_ms();
	c->starting = true;
	upstream_next(c);
	c->starting = false;
	return c;
}

/* The client's address bytes, hashed for balance = source. */
static uint64_t
upstream_client_hash(const struct addr *a)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	if (a->ss.ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)&a->ss;
		return balance_hash(&s4->sin_addr, 4);
	}
	s6 = (const struct sockaddr_in6 *)&a->ss;
	return balance_hash(&s6->sin6_addr, 16);
}

/*
 * The next sequential try: the first, or the one after a failure.  None
 * left is the answer: the upstreams were full if that is all that kept
 * this client from them, else unreached, for the last failure's reason.
 */
static void
upstream_next(struct upstream_conn *c)
{
	struct upstream	*u = NULL;
	int		 err;

	if (c->attempts <= c->r->retries)
		u = pool_pick(c->r->pool, &c->pick, 0, -1, util_now_ms());
	if (u == NULL) {
		if (c->last_err == 0 && c->pick.saw_full)
			upstream_done(c, -1, NULL, UPSTREAM_FULL, 0);
		else
			upstream_done(c, -1, NULL, UPSTREAM_UNREACHED,
			    c->last_err);
		return;
	}
	u = upstream_he_prefer(c, u);
	c->attempts++;
	if (upstream_he_possible(c, u)) {
		if (c->he_timer == NULL &&
		    (c->he_timer = evtimer_new(c->h->base, upstream_he_cb,
			 c)) == NULL) {
			pool_release(u);
			upstream_done(c, -1, NULL, UPSTREAM_NO_RESOURCES,
			    ENOMEM);
			return;
		}
		upstream_timer_set(c->he_timer, UPSTREAM_HE_DELAY_MS);
	}
	if (upstream_attempt_start(c, u, &err) == 0)
		return;
	if (c->he_timer != NULL)
		evtimer_del(c->he_timer);
	c->attempts--;
	if (upstream_local_shortage(err))
		upstream_later(c, u, err);
	else {
		/* socket() refused the family itself (EAFNOSUPPORT). */
		c->last_err = err;
		upstream_log_connect(c, u, err);
		/* Released after its last use: then it may be reused. */
		pool_release(u);
		upstream_next(c);
	}
}

/*
 * A host name whose other family won a Happy Eyeballs race lately: start
 * with that family rather than give the one that lost its head start
 * again.  Returns the upstream to try (${u}, or its replacement).
 */
static struct upstream *
upstream_he_prefer(struct upstream_conn *c, struct upstream *u)
{
	struct pool	*pool = c->r->pool;
	struct upstream	*v;
	int		 fam;

	if (c->r->specs[u->spec].host == NULL ||
	    (fam = pool_he_family(pool, u->spec, util_now_ms())) == 0 ||
	    u->addr.ss.ss_family == fam ||
	    (v = pool_pick(pool, &c->pick, fam, (long)u->spec,
		 util_now_ms())) == NULL)
		return u;
	/* Give ${u} back untried: it may still race later. */
	pool_unpick(pool, &c->pick, u);
	return v;
}

/* Does ${u}'s host name also have an untried address of the other family? */
static bool
upstream_he_possible(const struct upstream_conn *c, const struct upstream *u)
{
	struct pool	*pool = c->r->pool;
	size_t		 i, n = pool_count(pool);

	if (c->r->specs[u->spec].host == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (pool->u[i].spec == u->spec && !c->tried[i] &&
		    atomic_load_explicit(&pool->u[i].family,
			memory_order_relaxed) != u->addr.ss.ss_family &&
		    atomic_load(&pool->u[i].present))
			return true;
	return false;
}

/*
 * Start a non-blocking connect to ${u} in a free slot.  Returns 0 when
 * under way or over (${c} may be gone then), or -1 when there was no
 * socket for it, with the reason in ${errp} (the caller decides; ${u} is
 * still counted).  A connect that works at once is heard of from the
 * loop too (writable), so that no success is told from within
 * upstream_connect().
 */
static int
upstream_attempt_start(struct upstream_conn *c, struct upstream *u, int *errp)
{
	struct upstream_attempt	*a = c->a[0].fd == -1 ? &c->a[0] : &c->a[1];
	struct timeval		 tv;
	int			 fd, err = 0;

	assert(a->fd == -1);
	if (c->connect_us == 0)
		c->connect_us = util_now_us();
	fd = socket(u->addr.ss.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*errp = errno;
		return -1;
	}
	a->fd = fd;
	a->u = u;
	upstream_sockopts(fd, c->r->keepalive, c->data_first);
	if (connect(fd, (struct sockaddr *)&u->addr.ss, u->addr.len) == -1)
		err = errno;
	if (err != 0 && err != EINPROGRESS) {
		upstream_attempt_failed(c, a, err);
		return 0;
	}
	/*
	 * EV_READ too: it tells a failed connect from one that worked.  The
	 * flags are the pipe's (upstream_conn_cb): the session takes the
	 * socket's registration over as it is.
	 */
	if ((a->ev = event_new(c->h->base, fd, PIPE_EVENTS, upstream_attempt_cb,
		 c)) == NULL) {
		upstream_done(c, -1, NULL, UPSTREAM_NO_RESOURCES, ENOMEM);
		return 0;
	}
	tv = util_timeval(c->r->connect_timeout_ms);
	event_add(a->ev, &tv);
	return 0;
}

/*
 * Options for the upstream side; the client side inherits the same ones
 * from its listener (listener_socket).  TCP_NODELAY is safe for a relay:
 * we write what we have as soon as we read it, so segments follow the
 * sender's own; with Nagle on, a small reply could wait for a delayed ACK
 * at every hop.  With ${data_first}, TCP_QUICKACK off: Linux then holds
 * the handshake's last ACK for the first write, which follows at once
 * (the connected edge flushes what the client sent), so the upstream sees
 * one segment less per connection.  The kernel leaves that mode when the
 * handshake completes; later ACKs are as usual.
 */
static void
upstream_sockopts(int fd, bool keepalive, bool data_first)
{
	int	 on = 1, off = 0;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (keepalive)
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	if (data_first)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off,
		    sizeof(off));
}

/* Out of descriptors or memory here: not the upstream's fault. */
static bool
upstream_local_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;
}

/*
 * No socket for the upstream: give the pick back, pause accepting, and
 * try again after a moment, while connect_timeout lasts.  The client keeps
 * its place instead of being dropped; those behind it wait in the backlog.
 */
static void
upstream_later(struct upstream_conn *c, struct upstream *u, int err)
{
	char	 cl[ADDR_STRLEN], what[ADDR_STRLEN + CONFIG_NAME_MAX + 64];

	pool_unpick(c->r->pool, &c->pick, u);
	if (util_now_ms() - c->start_ms >= c->r->connect_timeout_ms) {
		upstream_done(c, -1, NULL, UPSTREAM_NO_RESOURCES, err);
		return;
	}
	snprintf(what, sizeof(what), "route=%s client=%s msg=\"upstream socket",
	    c->r->name, addr_format(c->client, cl, sizeof(cl)));
	c->h->pause_accept(c->h, what, err);
	upstream_timer_set(c->timer, UPSTREAM_RETRY_SOCKET_MS);
}

/* The retry after a socket shortage, or the answer upstream_done() kept. */
static void
upstream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->deferred)
		upstream_done(c, -1, NULL, c->res, c->res_err);
	else
		upstream_next(c);
}

static void
upstream_attempt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_conn	*c = arg;
	struct upstream_attempt	*a = c->a[0].fd == fd ? &c->a[0] : &c->a[1];
	struct timeval		 tv;
	int			 err;

	assert(a->fd == fd);
	/*
	 * Writable and nothing else is a connect that worked: a failed one
	 * always has an error or hang-up, which libevent reports as read and
	 * write at once.  Only then (or with the upstream's first bytes
	 * already in) is SO_ERROR worth a system call.
	 */
	what &= EV_READ | EV_WRITE | EV_CLOSED | EV_TIMEOUT; /* not EV_ET */
	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (what == EV_WRITE)
		err = 0;
	else
		err = util_sock_error(fd);
	if (err == 0)
		upstream_connected(c, a, what);
	else if (err == EINPROGRESS) {
		/* Spurious: keep waiting, still bounded by connect_timeout. */
		tv = util_timeval(c->r->connect_timeout_ms);
		event_add(a->ev, &tv);
	} else
		upstream_attempt_failed(c, a, err);
}

/*
 * Attempt ${a} connected, as the edge ${what} said: it wins, any other is
 * dropped.  Its event is freed only after the callback, which may have
 * registered the same flags on the socket by then: no epoll_ctl at all.
 */
static void
upstream_connected(struct upstream_conn *c, struct upstream_attempt *a,
    short what)
{
	struct pool	*pool = c->r->pool;
	struct upstream	*u = a->u;
	struct event	*ev = a->ev;
	int		 fd = a->fd;

	upstream_attempt_drop(c, a == &c->a[0] ? &c->a[1] : &c->a[0]);
	/* Out of its slot: the winner is the caller's, not dropped. */
	a->ev = NULL;
	a->fd = -1;
	a->u = NULL;
	pool_connect_ok(pool, u);
	/* The other family overtook the one the race began with: remember. */
	if (c->he_first != 0 && u->addr.ss.ss_family != c->he_first)
		pool_he_won(pool, u->spec, u->addr.ss.ss_family);
	pool_stats_connect(pool_stats_slot(pool->stats, c->h->index),
	    util_now_us() - c->connect_us);
	c->ready = what;
	upstream_done(c, fd, u, UPSTREAM_CONNECTED, 0);
	event_free(ev);
}

/* Attempt ${a} failed with ${err}: count it against its upstream. */
static void
upstream_attempt_failed(struct upstream_conn *c, struct upstream_attempt *a,
    int err)
{
	struct upstream	*u = a->u;

	upstream_log_connect(c, u, err);
	pool_connect_failed(c->r->pool, u, err);
	c->last_err = err;
	upstream_attempt_drop(c, a);
	/* The other family's attempt is still under way: let it finish. */
	if (upstream_inflight(c) > 0)
		return;
	/*
	 * A race with no winner is over: whatever connects next is a plain
	 * try, maybe on another upstream line, and no race won.
	 */
	c->he_first = 0;
	if (c->he_timer != NULL)
		evtimer_del(c->he_timer);
	upstream_next(c);
}

/*
 * "connect failed" for ${u}: in an outage every client would add one, so
 * at most one a second per upstream and kind goes out, telling how many
 * were held back.  Each session's own line still says how it ended.
 */
static void
upstream_log_connect(const struct upstream_conn *c, struct upstream *u, int err)
{
	char		 cl[ADDR_STRLEN], more[48] = "";
	unsigned	 held;

	if (log_level() < LOG_LEVEL_WARN ||
	    !log_limit_pass(&u->connect_log[upstream_connect_kind(err)], &held))
		return;
	if (held != 0)
		snprintf(more, sizeof(more), " (%u more like this suppressed)",
		    held);
	log_warn("route=%s client=%s upstream=%s msg=\"connect failed%s%s%s\"",
	    c->r->name, addr_format(c->client, cl, sizeof(cl)), u->name,
	    err ? ": " : "", err ? strerror(err) : "", more);
}

/* The slot of ${u}'s connect_log that a failure with ${err} counts in. */
static size_t
upstream_connect_kind(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return 0;
	case ETIMEDOUT:
		return 1;
	case EHOSTUNREACH:
		return 2;
	case ENETUNREACH:
		return 3;
	default:
		return UPSTREAM_LOG_KINDS - 1;
	}
}

/* 250 ms and the first family has not answered: start the other one. */
static void
upstream_he_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_conn	*c = arg;
	struct upstream_attempt	*a = c->a[0].fd != -1 ? &c->a[0] : &c->a[1];
	struct upstream		*u;
	int			 err;

	(void)fd;
	(void)what;
	if (upstream_inflight(c) != 1)
		return;
	u = pool_pick(c->r->pool, &c->pick,
	    a->u->addr.ss.ss_family == AF_INET ? AF_INET6 : AF_INET,
	    (long)a->u->spec, util_now_ms());
	if (u == NULL)
		return;
	c->he_first = a->u->addr.ss.ss_family;
	if (upstream_attempt_start(c, u, &err) == -1) {
		/* No descriptor for the race: the first attempt goes on. */
		pool_unpick(c->r->pool, &c->pick, u);
	}
}

/*
 * The one answer.  ${c} goes first, so that the callback may end its
 * session (which would cancel ${c}).  Within upstream_connect() the
 * caller has no handle yet to be told with: then the answer waits for
 * the loop (a failure; a success always comes from the loop).
 */
static void
upstream_done(struct upstream_conn *c, int fd, struct upstream *u,
    enum upstream_status st, int err)
{
	upstream_conn_cb	*cb = c->cb;
	void			*arg = c->arg;
	short			 ready = c->ready;

	if (c->starting) {
		assert(fd == -1);
		c->deferred = true;
		c->res = st;
		c->res_err = err;
		/* Over: no race may start meanwhile. */
		if (c->he_timer != NULL)
			evtimer_del(c->he_timer);
		upstream_timer_set(c->timer, 0);
		return;
	}
	upstream_connect_cancel(c);
	cb(arg, fd, u, st, err, ready);
}

void
upstream_connect_cancel(struct upstream_conn *c)
{
	if (c == NULL)
		return;
	upstream_attempt_drop(c, &c->a[0]);
	upstream_attempt_drop(c, &c->a[1]);
	if (c->he_timer != NULL)
		event_free(c->he_timer);
	event_free(c->timer);
	free(c);
}

/* Give up a connect under way: no verdict on the upstream. */
static void
upstream_attempt_drop(struct upstream_conn *c, struct upstream_attempt *a)
{
	if (a->fd == -1)
		return;
	if (a->ev != NULL)
		event_free(a->ev);
	a->ev = NULL;
	reaper_close(c->h->reaper, a->fd);
	a->fd = -1;
	pool_release(a->u);
	a->u = NULL;
}

static unsigned
upstream_inflight(const struct upstream_conn *c)
{
	return (c->a[0].fd != -1) + (c->a[1].fd != -1);
}

static void
upstream_timer_set(struct event *ev, uint64_t ms)
{
	struct timeval	 tv = util_timeval(ms);

	evtimer_add(ev, &tv);
}
