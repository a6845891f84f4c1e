/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session.c: one client connection, from accept to close, on the worker
 * that accepted it.  In the order a session meets them: session_accept()
 * checks the limits and allow/deny, with accept_proxy first has
 * proxyread.c read the client's PROXY header, then session_begin() starts
 * reading the client and asks upstream.c for a connected upstream;
 * session_connected() starts the other direction, and the relay runs in
 * the two pipes (pipe.c, splice.c), which report back to
 * session_pipe_cb(), under the idle and fin timeouts (session_timer_cb()).
 * Every session ends in session_close(), which counts it, writes its one
 * line and frees it.
 *
 * A session owns its two sockets, its events and its pipes' buffers; it
 * holds the connect under way (struct upstream_conn) until that answers,
 * a place on its upstream (pool_acquire()) once connected, a place in
 * the route's, the process's and maybe the client's limits, and its
 * configuration (s->gen) until it ends.  Worker thread only.
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
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "admit.h"
#include "config.h"
#include "host.h"
#include "log.h"
#include "pool.h"
#include "proxyproto.h"
#include "proxyread.h"
#include "reaper.h"
#include "session.h"
#include "upstream.h"
#include "util.h"

/*
 * How often a session with a paused side looks for a reset there, when
 * no edge came to make it unsure (pipe_settle()).
 */
#define SESSION_PAUSED_CHECK_MS	1000

/*
 * How soon a read left unsure (PIPE_UNSURE) is verified: a reset that
 * came in one edge with a peer's last bytes is passed on within this.
 * A session that keeps moving bytes clears it on every edge, so a busy
 * one pays one timer and at most one read per period, not one read per
 * message.
 */
#define SESSION_VERIFY_MS	100

/*
 * The functions below come in the order a session meets them, so each
 * is declared here first: accept, the PROXY header, connect, relay,
 * teardown.
 */

static void session_refuse(struct session_host *, struct route_rt *, int,
    const struct addr *, enum session_end);

static void session_proxy_start(struct session *);
static void session_proxy_cb(void *, enum proxyread_status,
    const struct proxyproto_info *, int, const char *);
static void session_proxy_done(struct session *,
    const struct proxyproto_info *);

static void session_begin(struct session *);
static void session_upstream_cb(void *, int, struct upstream *,
    enum upstream_status, int, short);
static void session_connected(struct session *, int, struct upstream *, short);
static int session_send_proxy(struct session *);
static void session_set_state(struct session *, enum session_state);

static enum session_end session_connect_end(int);

static bool session_pipe_cb(void *, struct pipe *, enum pipe_status, int);
static enum session_end session_end_side(bool, int);
static void session_timer_cb(evutil_socket_t, short, void *);
static bool session_check_paused(struct session *);
static void session_arm(struct session *);
static void session_verify_soon(struct session *);
static uint64_t session_period(const struct session *);
static void session_timer_set(struct session *, uint64_t);

static bool session_end_unreached(enum session_end);
static void session_reset_fd(struct session_host *, int);
static void session_log_end(const struct session *, enum session_end, int);

/* --- Accept: the limits, allow/deny, and accept_proxy's header. */

/* The last session id given out: ids are the process's, from 1 on. */
static atomic_uint_fast64_t session_last_id;

void
session_accept(struct session_host *h, struct worker_gen *gen,
    struct route_rt *rt, int fd, const struct sockaddr *sa, socklen_t salen)
{
	const struct route	*r = rt->route;
	struct session		*s;
	struct addr		 client;
	enum session_end	 why;

	addr_from_sockaddr(&client, sa, salen);
	addr_unmap(&client);
	if ((why = admit_enter(gen->cfg, r, &client)) != SESSION_END_DONE) {
		session_refuse(h, rt, fd, &client, why);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		admit_leave(r->pool, &client,
		    !r->accept_proxy && r->max_per_client != 0);
		log_error("route=%s msg=\"out of memory, client dropped\"",
		    r->name);
		close(fd);
		return;
	}
	s->h = h;
	s->gen = gen;
	s->id = atomic_fetch_add_explicit(&session_last_id, 1,
		    memory_order_relaxed) +
	    1;
	s->rt = rt;
	s->cfd = fd;
	s->ufd = -1;
	s->client = client;
	s->start_ms = s->last_ms = util_now_ms();
	h->add(h, s);
	/* The client socket inherited its options from the listener. */
	if ((s->timer = evtimer_new(h->base, session_timer_cb, s)) == NULL) {
		s->client_counted = !r->accept_proxy && r->max_per_client != 0;
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	if (r->accept_proxy)
		session_proxy_start(s);
	else
		session_begin(s);
}

/*
 * Refused before a session exists: log it like a session line, and close.
 * A peer that may not send a PROXY header is reset: it is no client but
 * a misplaced relay or a probe, and should learn at once.
 */
static void
session_refuse(struct session_host *h, struct route_rt *rt, int fd,
    const struct addr *client, enum session_end why)
{
	struct linger	 l = { 1, 0 };
	struct session	 s;

	pool_stats_end(pool_stats_slot(rt->route->pool->stats, h->index), why,
	    0, 0);
	/* The session line as any other: a bare session, no upstream. */
	memset(&s, 0, sizeof(s));
	s.h = h;
	s.rt = rt;
	s.cfd = fd;
	s.ufd = -1;
	s.client = *client;
	s.start_ms = util_now_ms();
	session_log_end(&s, why, 0);
	if (why == SESSION_END_PROXY_UNTRUSTED)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/*
 * accept_proxy: wait for the header within proxy_timeout, not the longer
 * connect_timeout: a relay sends it with its first bytes, so a long wait
 * would only let a silent stranger hold a max_connections place.
 */
static void
session_proxy_start(struct session *s)
{
	if ((s->pr = proxyread_start(s->h->base, s->cfd,
		 s->rt->route->proxy_timeout_ms, session_proxy_cb, s)) == NULL)
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
}

/* The header reader's answer (proxyread.h). */
static void
session_proxy_cb(void *arg, enum proxyread_status st,
    const struct proxyproto_info *info, int err, const char *msg)
{
	struct session	*s = arg;

	s->pr = NULL;
	switch (st) {
	case PROXYREAD_DONE:
		session_proxy_done(s, info);
		return;
	case PROXYREAD_BAD:
	case PROXYREAD_CUT:
	case PROXYREAD_SLOW:
		proxyread_warn(s->rt->route->pool->proxy_log, st,
		    s->rt->route->name, &s->client, msg);
		session_close(s,
		    st == PROXYREAD_SLOW ? SESSION_END_PROXY_TIMEOUT :
					   SESSION_END_PROXY_ERROR,
		    0);
		return;
	case PROXYREAD_FAILED:
		session_close(s, session_end_side(true, err), err);
		return;
	}
}

/* The whole PROXY header is in: the client is who it says. */
static void
session_proxy_done(struct session *s, const struct proxyproto_info *info)
{
	enum session_end	 why;
	char			 c[ADDR_STRLEN], v[ADDR_STRLEN];

	if (info->has_addr) {
		if ((s->via = malloc(sizeof(*s->via))) == NULL) {
			session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
			return;
		}
		s->via->peer = s->client;
		s->via->dst = info->dst;
		s->client = info->src;
		if (log_level() >= LOG_LEVEL_DEBUG)
			log_debug("route=%s client=%s via=%s msg=\"PROXY v%d "
				  "header\"",
			    s->rt->route->name,
			    addr_format(&s->client, c, sizeof(c)),
			    addr_format(&s->via->peer, v, sizeof(v)),
			    info->version);
	}
	if ((why = admit_client(s->rt->route, &s->client)) !=
	    SESSION_END_DONE) {
		session_close(s, why, 0);
		return;
	}
	session_begin(s);
}

/* --- Connect: upstream.c does it; here is what its answer means. */

/*
 * Admitted: read the client while we connect; its bytes wait, bounded.
 * The first read comes before the connect, which then knows whether the
 * client spoke first (upstream_connect()'s data_first).  upstream.c
 * picks, connects, retries and races the families, and calls
 * session_upstream_cb() once.
 */
static void
session_begin(struct session *s)
{
	int	 data;

	s->client_counted = s->rt->route->max_per_client != 0;
	if (pipe_init(&s->c2u, s->h->base, s->h->pipes, s->cfd,
		s->rt->route->buffer, s->gen->cfg->splice, &s->last_ms,
		session_pipe_cb, s) == -1) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	pipe_pair(&s->c2u, &s->u2c);
	session_set_state(s, SESSION_CONNECTING);
	if ((data = pipe_prime(&s->c2u)) == -1)
		return;
	pipe_start(&s->c2u);
	/* A PROXY header is a first write at connect too. */
	if ((s->uc = upstream_connect(s->h, s->rt, &s->client,
		 data == 1 || s->rt->route->proxy_protocol != 0,
		 session_upstream_cb, s)) == NULL)
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
}

/* The connect's answer (upstream.h): relay, or end for its reason. */
static void
session_upstream_cb(void *arg, int fd, struct upstream *up,
    enum upstream_status st, int err, short ready)
{
	struct session	*s = arg;

	s->uc = NULL;
	switch (st) {
	case UPSTREAM_CONNECTED:
		session_connected(s, fd, up, ready);
		return;
	case UPSTREAM_UNREACHED:
		session_close(s, session_connect_end(err), 0);
		return;
	case UPSTREAM_FULL:
		session_close(s, SESSION_END_UPSTREAM_FULL, 0);
		return;
	case UPSTREAM_NO_RESOURCES:
		session_close(s, SESSION_END_INTERNAL_ERROR, err);
		return;
	}
}

/*
 * Connected to ${up} on ${fd}, whose first edge said ${ready}: both
 * directions start.
 */
static void
session_connected(struct session *s, int fd, struct upstream *up, short ready)
{
	s->ufd = fd;
	s->up = up;
	/*
	 * Taken out for maintenance while this connect was under way: the
	 * operator's kill came too early to find it, so it ends here.
	 */
	if (atomic_load_explicit(&up->admin, memory_order_relaxed) ==
	    POOL_ADMIN_MAINT) {
		session_close(s, SESSION_END_KILLED, 0);
		return;
	}
	if ((s->rt->route->proxy_protocol != 0 &&
		session_send_proxy(s) == -1) ||
	    pipe_init(&s->u2c, s->h->base, s->h->pipes, s->ufd,
		s->rt->route->buffer, s->gen->cfg->splice, &s->last_ms,
		session_pipe_cb, s) == -1) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	pipe_set_dst(&s->u2c, s->cfd);
	pipe_set_dst(&s->c2u, s->ufd);
	session_set_state(s,
	    s->c2u.eof ? SESSION_HALF_CLOSED : SESSION_RELAYING);
	s->last_ms = util_now_ms();
	/*
	 * The pipe takes the connect's registration over (upstream.h), and
	 * with it the edge that registration took: replayed, from the loop,
	 * not from here, it pumps both directions, and what the client sent
	 * meanwhile goes out.
	 */
	pipe_start(&s->u2c);
	pipe_replay(&s->u2c, ready);
	session_arm(s);
}

/* The end reason for a connect that failed with ${err}. */
static enum session_end
session_connect_end(int err)
{
	if (err == ECONNREFUSED)
		return SESSION_END_UPSTREAM_REFUSED;
	if (err == ETIMEDOUT)
		return SESSION_END_CONNECT_TIMEOUT;
	return SESSION_END_UPSTREAM_UNREACHABLE;
}

/*
 * The PROXY header goes in front of whatever the client has sent so far,
 * so that it is the first thing the upstream reads.
 */
static int
session_send_proxy(struct session *s)
{
	uint8_t		 hdr[PROXYPROTO_MAX];
	struct addr	 local;
	const struct addr *dst = &local;
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);
	ssize_t		 n;

	/*
	 * The address the client reached is the accepted socket's own, not
	 * the listener's, which is a wildcard (0.0.0.0, ::) on "*:80".  Asked
	 * here, not kept from accept, so that only PROXY routes pay for it,
	 * in time or in memory.
	 */
	if (s->via != NULL)
		dst = &s->via->dst;
	else if (getsockname(s->cfd, (struct sockaddr *)&ss, &len) == 0) {
		addr_from_sockaddr(&local, (struct sockaddr *)&ss, len);
		addr_unmap(&local);
	} else
		return -1;
	n = proxyproto_format(s->rt->route->proxy_protocol, &s->client, dst,
	    hdr, sizeof(hdr));
	/* Before any byte the client sent, spliced or not (pipe.h). */
	if (n == -1 || pipe_prepend(&s->c2u, hdr, (size_t)n) == -1)
		return -1;
	s->sent_hdr = (uint32_t)n;
	return 0;
}

static const char *const session_state_names[] = {
	[SESSION_ACCEPTED] = "accepted",
	[SESSION_CONNECTING] = "connecting",
	[SESSION_RELAYING] = "relaying",
	[SESSION_HALF_CLOSED] = "half_closed",
};

/*
 * Every state change goes through here: an illegal one is a bug, caught
 * at once rather than as a stuck or double-freed session later.
 */
static void
session_set_state(struct session *s, enum session_state to)
{
	/* legal[from] is the set of states reachable from it. */
	static const unsigned legal[] = {
		[SESSION_ACCEPTED] = 1u << SESSION_CONNECTING,
		[SESSION_CONNECTING] = 1u << SESSION_RELAYING |
		    1u << SESSION_HALF_CLOSED,
		[SESSION_RELAYING] = 1u << SESSION_HALF_CLOSED,
		[SESSION_HALF_CLOSED] = 0,
	};
	char	 c[ADDR_STRLEN];

	assert(legal[s->state] & (1u << to));
	if (log_level() >= LOG_LEVEL_DEBUG)
		log_debug("route=%s client=%s upstream=%s msg=\"%s -> %s\"",
		    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
		    s->up == NULL ? "-" : s->up->name,
		    session_state_names[s->state], session_state_names[to]);
	s->state = to;
}

/* --- Relay: the pipes move the bytes; here are their news and the timeouts. */

/*
 * A pipe's news.  A reset after an ended side's FIN needs no watch of
 * ours: the socket's edge-triggered event reports it (pipe.c).
 */
static bool
session_pipe_cb(void *arg, struct pipe *p, enum pipe_status st, int err)
{
	struct session	*s = arg;
	bool		 from_client = p == &s->c2u;

	switch (st) {
	case PIPE_PAUSED:
		session_arm(s);
		return false;
	case PIPE_EOF:
		if (s->state == SESSION_RELAYING) {
			session_set_state(s, SESSION_HALF_CLOSED);
			session_arm(s);
		}
		return false;
	case PIPE_DONE:
		if (!s->c2u.done || !s->u2c.done)
			return false;
		session_close(s, SESSION_END_DONE, 0);
		return true;
	case PIPE_READ_ERROR:
		/* Reading one side failed: that side is the culprit. */
		session_close(s, session_end_side(from_client, err), err);
		return true;
	case PIPE_WRITE_ERROR:
		/* Writing failed: the destination is gone. */
		session_close(s, session_end_side(!from_client, err), err);
		return true;
	case PIPE_UNSURE:
		session_verify_soon(s);
		return false;
	}
	return false;
}

/*
 * Have the timer verify the unsure pipes within SESSION_VERIFY_MS, unless
 * it fires that soon anyway.  Per message, so no clock but the coarse one.
 * Before the relay the timer waits; session_connected() arms it.
 */
static void
session_verify_soon(struct session *s)
{
	if (s->state < SESSION_RELAYING ||
	    (s->due_ms != 0 &&
		s->due_ms <= util_coarse_ms() + SESSION_VERIFY_MS))
		return;
	session_timer_set(s, SESSION_VERIFY_MS);
}

/*
 * How a session ends when a socket of one side (${client}: the client's)
 * failed with ${err}.  Each of these says the peer reset: ECONNRESET;
 * EPIPE, which Linux records for a reset that came after the peer's FIN;
 * ENOTCONN, when a call (shutdown) finds the connection already gone and
 * no pending error is left to tell why.
 */
static enum session_end
session_end_side(bool client, int err)
{
	if (err == ECONNRESET || err == EPIPE || err == ENOTCONN)
		return client ? SESSION_END_CLIENT_RESET :
				SESSION_END_UPSTREAM_RESET;
	if (err == ENOMEM)
		return SESSION_END_INTERNAL_ERROR;
	return client ? SESSION_END_CLIENT_ERROR : SESSION_END_UPSTREAM_ERROR;
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	uint64_t	 period;

	(void)fd;
	(void)what;
	/*
	 * Before the relay the timer waits: the header reader and upstream.c
	 * keep their own deadlines.
	 */
	assert(s->state >= SESSION_RELAYING);
	s->due_ms = 0;
	/* A paused pipe's verify is the paused check that follows (pipe.h). */
	if (pipe_verify(&s->c2u) || pipe_verify(&s->u2c) ||
	    session_check_paused(s))
		return;
	/* Activity only stamps last_ms; the deadline is checked here. */
	period = session_period(s);
	if (period == 0 || util_now_ms() - s->last_ms < period)
		session_arm(s);
	else if (period == s->rt->route->idle_timeout_ms)
		session_close(s, SESSION_END_IDLE_TIMEOUT, 0);
	else
		session_close(s, SESSION_END_FIN_TIMEOUT, 0);
}

/*
 * A side that reset while we were not reading it, because the other side
 * was slow: end the session as if the read had failed.  Returns true if
 * the session is gone.
 */
static bool
session_check_paused(struct session *s)
{
	int	 err;

	if (s->c2u.paused && (err = pipe_src_error(&s->c2u)) != 0) {
		session_close(s, session_end_side(true, err), err);
		return true;
	}
	if (s->u2c.paused && (err = pipe_src_error(&s->u2c)) != 0) {
		session_close(s, session_end_side(false, err), err);
		return true;
	}
	return false;
}

/*
 * (Re)arm the timer for the idle or fin timeout, counted from last_ms,
 * or sooner for a paused side or an unsure read.
 */
static void
session_arm(struct session *s)
{
	uint64_t		 period, now, left;

	/* Before the relay it is idle (session_timer_cb()). */
	if (s->state < SESSION_RELAYING)
		return;
	period = session_period(s);
	now = util_now_ms();
	left = s->last_ms + period > now ? s->last_ms + period - now : 0;
	/* A paused side is checked for resets now and then (pipe.h). */
	if ((s->c2u.paused || s->u2c.paused) &&
	    (period == 0 || left > SESSION_PAUSED_CHECK_MS))
		left = SESSION_PAUSED_CHECK_MS;
	else if (period == 0)
		left = UINT64_MAX;	/* no timeout: only the checks below */
	if ((s->c2u.unsure || s->u2c.unsure) && left > SESSION_VERIFY_MS)
		left = SESSION_VERIFY_MS;
	if (left == UINT64_MAX) {
		evtimer_del(s->timer);
		s->due_ms = 0;
		return;
	}
	/*
	 * A timer due sooner stays: it may be an unsure read's check, and
	 * firing early costs nothing, since session_timer_cb() arms anew.
	 */
	if (s->due_ms != 0 && s->due_ms <= util_coarse_ms() + left)
		return;
	session_timer_set(s, left);
}

/* The timeout in force: fin_timeout once half-closed, if shorter. */
static uint64_t
session_period(const struct session *s)
{
	const struct route	*r = s->rt->route;

	if (s->state == SESSION_HALF_CLOSED && r->fin_timeout_ms != 0 &&
	    (r->idle_timeout_ms == 0 || r->fin_timeout_ms < r->idle_timeout_ms))
		return r->fin_timeout_ms;
	return r->idle_timeout_ms;
}

static void
session_timer_set(struct session *s, uint64_t ms)
{
	struct timeval	 tv = util_timeval(ms);

	s->due_ms = util_coarse_ms() + ms;
	evtimer_add(s->timer, &tv);
}

/* --- Looked at and ended from outside: the control socket's view. */

void
session_report(const struct session *s, struct session_report *r)
{
	uint64_t	 now = util_now_ms();

	memset(r, 0, sizeof(*r));
	r->id = s->id;
	snprintf(r->route, sizeof(r->route), "%s", s->rt->route->name);
	r->client = s->client;
	if (s->up != NULL)
		r->upstream = s->up->addr;
	r->state = session_state_names[s->state];
	r->age_ms = now - s->start_ms;
	r->idle_ms = now > s->last_ms ? now - s->last_ms : 0;
	/* last_ms is a coarse stamp (pipe.c): up to a tick behind. */
	if (r->idle_ms > r->age_ms)
		r->idle_ms = r->age_ms;
	r->up = session_up_bytes(s);
	r->down = s->u2c.bytes;
	session_tcp_read(s->cfd, &r->c);
	session_tcp_read(s->ufd, &r->u);
}

void
session_kill(struct session *s)
{
	session_close(s, SESSION_END_KILLED, 0);
}

/* --- Teardown: one way out, one line per session. */

void
session_close(struct session *s, enum session_end why, int err)
{
	struct pool	*pool = s->rt->route->pool;
	bool		 reset_client, reset_up;

	/*
	 * Count before the line goes out: whoever sees the line (a test, an
	 * operator tailing the log) then finds the session in /metrics too.
	 */
	pool_stats_end(pool_stats_slot(pool->stats, s->h->index), why,
	    session_up_bytes(s), s->u2c.bytes);
	/*
	 * Give back the places too: whoever sees the line may connect again
	 * at once, on another worker, and must find the place free.  The
	 * upstream's waits for the line, which reads its name.
	 */
	admit_leave(pool, &s->client, s->client_counted);
	session_log_end(s, why, err);
	/* An abort on one side is passed on as an abort on the other. */
	reset_up = why == SESSION_END_CLIENT_RESET ||
	    why == SESSION_END_CLIENT_ERROR ||
	    why == SESSION_END_UPSTREAM_ERROR ||
	    why == SESSION_END_INTERNAL_ERROR || why == SESSION_END_KILLED;
	reset_client = why == SESSION_END_UPSTREAM_RESET ||
	    why == SESSION_END_UPSTREAM_ERROR ||
	    why == SESSION_END_CLIENT_ERROR ||
	    why == SESSION_END_INTERNAL_ERROR || why == SESSION_END_KILLED ||
	    session_end_unreached(why);
	pipe_free(&s->c2u);
	pipe_free(&s->u2c);
	upstream_connect_cancel(s->uc);
	proxyread_cancel(s->pr);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->ufd != -1) {
		if (reset_up)
			session_reset_fd(s->h, s->ufd);
		else
			reaper_close(s->h->reaper, s->ufd);
	}
	if (s->up != NULL)
		pool_release(s->up);
	if (reset_client)
		session_reset_fd(s->h, s->cfd);
	else
		reaper_close(s->h->reaper, s->cfd);
	/* May free the session's configuration generation: rt is gone too. */
	s->h->gone(s->h, s);
	free(s->via);
	free(s);
}

/*
 * No upstream could be reached.  A FIN would read as an empty reply; a
 * reset is the nearest an accepting relay comes to the ECONNREFUSED a
 * client connecting directly would get.
 */
static bool
session_end_unreached(enum session_end why)
{
	return why == SESSION_END_UPSTREAM_REFUSED ||
	    why == SESSION_END_CONNECT_TIMEOUT ||
	    why == SESSION_END_UPSTREAM_UNREACHABLE ||
	    why == SESSION_END_UPSTREAM_FULL;
}

/* Close with RST rather than FIN, so the peer learns of the abort at once. */
static void
session_reset_fd(struct session_host *h, int fd)
{
	struct linger	 l = { 1, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	reaper_close(h->reaper, fd);
}

/* The session's one line (sessionlog.c), from what it is now. */
static void
session_log_end(const struct session *s, enum session_end why, int err)
{
	struct session_line l = {
		.route = s->rt->route->name,
		.client = &s->client,
		.via = s->via != NULL ? &s->via->peer : NULL,
		.upstream = s->up != NULL ? s->up->name : NULL,
		.why = why,
		.err = err,
		.up = session_up_bytes(s),
		.down = s->u2c.bytes,
		.start_ms = s->start_ms,
		.cfd = s->cfd,
		.ufd = s->ufd,
		.alog = s->h->alog,
	};

	session_line_write(&l);
}
