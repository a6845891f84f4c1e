/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "accesslog.h"
#include "acl.h"
#include "balance.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "proxyproto.h"
#include "session.h"
#include "util.h"
#include "worker.h"

/* How long a session waits for a descriptor before trying again. */
#define SESSION_RETRY_SOCKET_MS	250

/* How often a session with a paused side looks for a reset there. */
#define SESSION_PAUSED_CHECK_MS	1000

/* Happy Eyeballs (RFC 8305 §5): the other family's head start. */
#define SESSION_HE_DELAY_MS	250

static const char *const session_end_names[] = {
	[SESSION_END_DONE] = "done",
	[SESSION_END_CLIENT_RESET] = "client_reset",
	[SESSION_END_UPSTREAM_RESET] = "upstream_reset",
	[SESSION_END_CLIENT_ERROR] = "client_error",
	[SESSION_END_UPSTREAM_ERROR] = "upstream_error",
	[SESSION_END_UPSTREAM_REFUSED] = "upstream_refused",
	[SESSION_END_CONNECT_TIMEOUT] = "connect_timeout",
	[SESSION_END_UPSTREAM_UNREACHABLE] = "upstream_unreachable",
	[SESSION_END_IDLE_TIMEOUT] = "idle_timeout",
	[SESSION_END_FIN_TIMEOUT] = "fin_timeout",
	[SESSION_END_MAX_CONNECTIONS] = "max_connections",
	[SESSION_END_SHUTDOWN] = "shutdown",
	[SESSION_END_INTERNAL_ERROR] = "internal_error",
	[SESSION_END_DENIED] = "denied",
	[SESSION_END_MAX_PER_CLIENT] = "max_per_client",
	[SESSION_END_UPSTREAM_FULL] = "upstream_full",
	[SESSION_END_PROXY_ERROR] = "proxy_error",
	[SESSION_END_PROXY_TIMEOUT] = "proxy_timeout",
	[SESSION_END_PROXY_UNTRUSTED] = "proxy_untrusted",
};

/* Which of a route's limits (pool->proxy_log) a PROXY warning counts in. */
enum session_proxy_log {
	SESSION_PROXY_LOG_BAD = 0,	/* malformed or too long */
	SESSION_PROXY_LOG_CUT,		/* the client closed inside it */
	SESSION_PROXY_LOG_SLOW,		/* not whole within proxy_timeout */
};

static void	session_connect_next(struct session *);
static void	session_attempt_cb(evutil_socket_t, short, void *);
static void	session_timer_cb(evutil_socket_t, short, void *);
static bool	session_pipe_cb(void *, struct pipe *, enum pipe_status, int);
static void	session_proxy_timeout(struct session *);

const char *
session_end_name(enum session_end e)
{
	if ((size_t)e >= NELEM(session_end_names))
		return "unknown";
	return session_end_names[e];
}

/*
 * Options for the upstream side; the client side inherits the same ones
 * from its listener (listener_socket).  TCP_NODELAY is safe for a relay:
 * we write what we have as soon as we read it, so segments follow the
 * sender's own; with Nagle on, a small reply could wait for a delayed ACK
 * at every hop.
 */
static void
session_sockopts(int fd, bool keepalive)
{
	int	 on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (keepalive)
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
}

/* Close with RST rather than FIN, so the peer learns of the abort at once. */
static void
session_reset_fd(struct worker *w, int fd)
{
	struct linger	 l = { 1, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	worker_close_fd(w, fd);
}

static void
session_log(const struct session *s, const struct upstream *u,
    const char *msg, int err)
{
	char	 c[ADDR_STRLEN];

	log_warn("route=%s client=%s upstream=%s msg=\"%s%s%s\"",
	    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
	    u == NULL ? "-" : u->name, msg, err ? ": " : "",
	    err ? strerror(err) : "");
}

/* The slot of ${u}'s connect_log that a failure with ${err} counts in. */
static size_t
session_connect_kind(int err)
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

/*
 * "connect failed" for ${u}: in an outage every client would add one, so
 * at most one a second per upstream and kind goes out, telling how many
 * were held back.  Each session's own line still says how it ended.
 */
static void
session_log_connect(const struct session *s, struct upstream *u, int err)
{
	char		 c[ADDR_STRLEN];
	unsigned	 held;

	if (log_level() < LOG_LEVEL_WARN ||
	    !log_limit_pass(&u->connect_log[session_connect_kind(err)], &held))
		return;
	if (held == 0) {
		session_log(s, u, "connect failed", err);
		return;
	}
	log_warn("route=%s client=%s upstream=%s msg=\"connect failed: %s "
	    "(%u more like this suppressed)\"", s->rt->route->name,
	    addr_format(&s->client, c, sizeof(c)), u->name, strerror(err),
	    held);
}

/* Bytes of the client's own: our PROXY header is not among them. */
static uint64_t
session_up_bytes(const struct session *s)
{
	return s->c2u.bytes > s->sent_hdr ? s->c2u.bytes - s->sent_hdr : 0;
}

/* " via=PEER" for a client named by a PROXY header, else "". */
static const char *
session_via(const struct session *s, char *buf, size_t len)
{
	buf[0] = '\0';
	if (s->via != NULL && len > 5) {
		memcpy(buf, " via=", 5);
		addr_format(&s->via->peer, buf + 5, len - 5);
	}
	return buf;
}

/*
 * The access log's line: UTC time, then the session line's fields.
 * Formatted here, written by the access log's own thread.
 */
static void
session_access_log(const struct session *s, enum session_end why, int err)
{
	char		 line[1024], c[ADDR_STRLEN], v[ADDR_STRLEN + 8];
	uint64_t	 ms = util_now_ms() - s->start_ms;
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;
	int		 k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ route=%s client=%s%s "
	    "upstream=%s up=%llu down=%llu duration=%llu.%03llus end=%s%s%s%s\n",
	    ts.tv_nsec / 1000000, s->rt->route->name, addr_format(&s->client,
	    c, sizeof(c)), session_via(s, v, sizeof(v)), s->up == NULL ? "-" :
	    s->up->name, (unsigned long long)session_up_bytes(s),
	    (unsigned long long)s->u2c.bytes,
	    (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
	    session_end_name(why), err ? " error=\"" : "",
	    err ? strerror(err) : "", err ? "\"" : "");
	if (k > 0 && (size_t)k < sizeof(line) - n)
		accesslog_write(s->w->alog, line, n + (size_t)k);
}

/*
 * The session's line: one per session, at info in the daemon's log, or in
 * the access log when there is one.
 */
static void
session_log_end(const struct session *s, enum session_end why, int err)
{
	char		 c[ADDR_STRLEN], v[ADDR_STRLEN + 8];
	uint64_t	 ms;

	if (s->w->alog != NULL) {
		session_access_log(s, why, err);
		return;
	}
	/* Formatting addresses costs: skip it when the line is dropped. */
	if (log_level() < LOG_LEVEL_INFO)
		return;
	ms = util_now_ms() - s->start_ms;
	log_info("route=%s client=%s%s upstream=%s msg=\"session end\" "
	    "end=%s%s%s%s up=%llu down=%llu duration=%llu.%03llus",
	    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
	    session_via(s, v, sizeof(v)), s->up == NULL ? "-" : s->up->name,
	    session_end_name(why), err ? " error=\"" : "",
	    err ? strerror(err) : "", err ? "\"" : "",
	    (unsigned long long)session_up_bytes(s),
	    (unsigned long long)s->u2c.bytes,
	    (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

/* The route's counters (pool.h), read by /metrics. */
static void
session_count(struct route_stats_slot *st, enum session_end why, uint64_t up,
    uint64_t down)
{
	atomic_fetch_add_explicit(&st->ends[why], 1, memory_order_relaxed);
	if (up != 0)
		atomic_fetch_add_explicit(&st->bytes_up, up,
		    memory_order_relaxed);
	if (down != 0)
		atomic_fetch_add_explicit(&st->bytes_down, down,
		    memory_order_relaxed);
}

/* Give up a connect under way: no verdict on the upstream. */
static void
session_attempt_drop(struct session *s, struct session_attempt *a)
{
	if (a->fd == -1)
		return;
	if (a->ev != NULL)
		event_free(a->ev);
	a->ev = NULL;
	worker_close_fd(s->w, a->fd);
	a->fd = -1;
	pool_release(a->u);
	a->u = NULL;
}

static unsigned
session_inflight(const struct session *s)
{
	return (s->a[0].fd != -1) + (s->a[1].fd != -1);
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

void
session_close(struct session *s, enum session_end why, int err)
{
	struct pool	*pool = s->rt->route->pool;
	bool		 reset_client, reset_up;

	/*
	 * Count before the line goes out: whoever sees the line (a test, an
	 * operator tailing the log) then finds the session in /metrics too.
	 */
	session_count(pool_stats_slot(pool->stats, s->w->index), why,
	    session_up_bytes(s), s->u2c.bytes);
	/*
	 * Give back the places too: whoever sees the line may connect again
	 * at once, on another worker, and must find the place free.  The
	 * upstream's waits for the line, which reads its name.
	 */
	pool_session_leave(pool);
	worker_global_leave();
	if (s->client_counted)
		pool_client_leave(pool, &s->client);
	session_log_end(s, why, err);
	/* An abort on one side is passed on as an abort on the other. */
	reset_up = why == SESSION_END_CLIENT_RESET ||
	    why == SESSION_END_CLIENT_ERROR ||
	    why == SESSION_END_UPSTREAM_ERROR ||
	    why == SESSION_END_INTERNAL_ERROR;
	reset_client = why == SESSION_END_UPSTREAM_RESET ||
	    why == SESSION_END_UPSTREAM_ERROR ||
	    why == SESSION_END_CLIENT_ERROR ||
	    why == SESSION_END_INTERNAL_ERROR ||
	    session_end_unreached(why);
	pipe_free(&s->c2u);
	pipe_free(&s->u2c);
	session_attempt_drop(s, &s->a[0]);
	session_attempt_drop(s, &s->a[1]);
	if (s->he_timer != NULL)
		event_free(s->he_timer);
	if (s->pev != NULL)
		event_free(s->pev);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->ufd != -1) {
		if (reset_up)
			session_reset_fd(s->w, s->ufd);
		else
			worker_close_fd(s->w, s->ufd);
	}
	if (s->up != NULL)
		pool_release(s->up);
	if (reset_client)
		session_reset_fd(s->w, s->cfd);
	else
		worker_close_fd(s->w, s->cfd);
	/* May free the session's configuration generation: rt is gone too. */
	worker_session_gone(s->w, s);
	free(s->via);
	free(s->phdr);
	if (s->tried != s->tried_buf)
		free(s->tried);
	free(s);
}

/*
 * Every state change goes through here: an illegal one is a bug, caught
 * at once rather than as a stuck or double-freed session later.
 */
static void
session_set_state(struct session *s, enum session_state to)
{
	static const char *const names[] = {
		[SESSION_ACCEPTED] = "accepted",
		[SESSION_CONNECTING] = "connecting",
		[SESSION_RELAYING] = "relaying",
		[SESSION_HALF_CLOSED] = "half_closed",
	};
	/* legal[from] is the set of states reachable from it. */
	static const unsigned legal[] = {
		[SESSION_ACCEPTED] = 1u << SESSION_CONNECTING,
		[SESSION_CONNECTING] = 1u << SESSION_CONNECTING |
		    1u << SESSION_RELAYING | 1u << SESSION_HALF_CLOSED,
		[SESSION_RELAYING] = 1u << SESSION_HALF_CLOSED,
		[SESSION_HALF_CLOSED] = 0,
	};
	char	 c[ADDR_STRLEN];

	assert(legal[s->state] & (1u << to));
	if (log_level() >= LOG_LEVEL_DEBUG)
		log_debug("route=%s client=%s upstream=%s msg=\"%s -> %s\"",
		    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
		    s->up == NULL ? "-" : s->up->name, names[s->state],
		    names[to]);
	s->state = to;
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

static void
session_timer_set(struct event *ev, uint64_t ms)
{
	struct timeval	 tv = util_timeval(ms);

	evtimer_add(ev, &tv);
}

/* (Re)arm the timer for the idle or fin timeout, counted from last_ms. */
static void
session_arm(struct session *s)
{
	uint64_t		 period, now, left;

	/* Until connected, the timer serves the connect phase. */
	if (s->state < SESSION_RELAYING)
		return;
	period = session_period(s);
	now = util_now_ms();
	left = s->last_ms + period > now ? s->last_ms + period - now : 0;
	/* A paused side is checked for resets now and then (pipe.h). */
	if ((s->c2u.paused || s->u2c.paused) &&
	    (period == 0 || left > SESSION_PAUSED_CHECK_MS))
		left = SESSION_PAUSED_CHECK_MS;
	else if (period == 0) {
		evtimer_del(s->timer);
		return;
	}
	session_timer_set(s->timer, left);
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

/* Attempt ${a} connected: it wins, any other is dropped. */
static void
session_connected(struct session *s, struct session_attempt *a)
{
	struct pool	*pool = s->rt->route->pool;

	session_attempt_drop(s, a == &s->a[0] ? &s->a[1] : &s->a[0]);
	if (s->he_timer != NULL)
		evtimer_del(s->he_timer);
	evtimer_del(s->timer);
	event_free(a->ev);
	a->ev = NULL;
	s->ufd = a->fd;
	s->up = a->u;
	a->fd = -1;
	a->u = NULL;
	pool_connect_ok(pool, s->up);
	/* The other family overtook the one the race began with: remember. */
	if (s->he_first != 0 && s->up->addr.ss.ss_family != s->he_first)
		pool_he_won(pool, s->up->spec, s->up->addr.ss.ss_family);
	pool_stats_connect(pool_stats_slot(pool->stats, s->w->index),
	    util_now_us() - s->connect_us);
	if ((s->rt->route->proxy_protocol != 0 &&
	    session_send_proxy(s) == -1) ||
	    pipe_init(&s->u2c, s->w->base, s->w->pipes, s->ufd,
	    s->rt->route->buffer, s->gen->cfg->splice, &s->last_ms,
	    session_pipe_cb, s) == -1) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	pipe_set_dst(&s->u2c, s->cfd);
	pipe_set_dst(&s->c2u, s->ufd);
	session_set_state(s, s->c2u.eof ? SESSION_HALF_CLOSED :
	    SESSION_RELAYING);
	s->last_ms = util_now_ms();
	/*
	 * The new socket's first edge (writable) pumps both directions: what
	 * the client sent meanwhile goes first, from the loop, not from here.
	 */
	pipe_start(&s->u2c);
	session_arm(s);
}

/* Attempt ${a} failed with ${err}: count it against its upstream. */
static void
session_attempt_failed(struct session *s, struct session_attempt *a, int err)
{
	struct upstream	*u = a->u;

	session_log_connect(s, u, err);
	pool_connect_failed(s->rt->route->pool, u, err);
	s->last_err = err;
	session_attempt_drop(s, a);
	/* The other family's attempt is still under way: let it finish. */
	if (session_inflight(s) > 0)
		return;
	/*
	 * A race with no winner is over: whatever connects next is a plain
	 * try, maybe on another upstream line, and no race won.
	 */
	s->he_first = 0;
	if (s->he_timer != NULL)
		evtimer_del(s->he_timer);
	session_connect_next(s);
}

static void
session_attempt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session		*s = arg;
	struct session_attempt	*a = s->a[0].fd == fd ? &s->a[0] : &s->a[1];
	struct timeval		 tv;
	int			 err;

	assert(a->fd == fd);
	/*
	 * Writable and nothing else is a connect that worked: a failed one
	 * always has an error or hang-up, which libevent reports as read and
	 * write at once.  Only then (or with the upstream's first bytes
	 * already in) is SO_ERROR worth a system call.
	 */
	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (what == EV_WRITE)
		err = 0;
	else
		err = util_sock_error(fd);
	if (err == 0)
		session_connected(s, a);
	else if (err == EINPROGRESS) {
		/* Spurious: keep waiting, still bounded by connect_timeout. */
		tv = util_timeval(s->rt->route->connect_timeout_ms);
		event_add(a->ev, &tv);
	} else
		session_attempt_failed(s, a, err);
}

/* The client's address bytes, hashed for balance = source. */
static uint64_t
session_client_hash(const struct session *s)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	if (s->client.ss.ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)&s->client.ss;
		return balance_hash(&s4->sin_addr, 4);
	}
	s6 = (const struct sockaddr_in6 *)&s->client.ss;
	return balance_hash(&s6->sin6_addr, 16);
}

/*
 * May a new session try ${u}?  Up; or down but due for a probe, when no
 * active check is there to find out instead (passive health).
 */
static bool
session_usable(const struct route *r, const struct upstream *u, uint64_t now)
{
	if (atomic_load_explicit(&u->up, memory_order_relaxed))
		return true;
	return !r->health_check && pool_usable(u, now);
}

/*
 * Mark in rt->skip all but the upstreams of one tier (backups or not) that
 * this session may try; ${any_health}: down ones too.  Returns how many
 * are left.
 */
static size_t
session_tier(struct session *s, size_t n, uint64_t now, bool backup,
    bool any_health, int family, long spec)
{
	struct route_rt		*rt = s->rt;
	struct upstream		*u = rt->route->pool->u;
	size_t			 i, left = 0;

	for (i = 0; i < n; i++) {
		rt->cand[i].weight = u[i].weight;
		rt->cand[i].live = pool_live(&u[i]);
		rt->cand[i].key = atomic_load_explicit(&u[i].key,
		    memory_order_relaxed);
		rt->skip[i] = s->tried[i] || u[i].backup != backup ||
		    !atomic_load_explicit(&u[i].present, memory_order_relaxed) ||
		    (!any_health && !session_usable(rt->route, &u[i], now)) ||
		    (family != 0 && atomic_load_explicit(&u[i].family,
		    memory_order_relaxed) != family) ||
		    (spec != -1 && u[i].spec != (size_t)spec);
		if (!rt->skip[i] && u[i].max_connections != 0 &&
		    rt->cand[i].live >= u[i].max_connections) {
			rt->skip[i] = 1;
			s->saw_full = true;
		}
		left += !rt->skip[i];
	}
	return left;
}

/*
 * Choose an upstream for a new connect and count the session on it; NULL
 * if none is left.  The primaries come first: those up, and a down one
 * that is due to be probed (one session per check_interval, so passive
 * health heals by itself).  The backups come next: they serve while no
 * primary is up, or once this session has tried every primary it could.
 * When every upstream is down, all are tried at once, so a total outage
 * ends as soon as one is back.  ${family} (0: any) and ${spec} (-1: any)
 * narrow the choice for Happy Eyeballs.
 */
static struct upstream *
session_pick(struct session *s, int family, long spec)
{
	struct route_rt	*rt = s->rt;
	const struct route *r = rt->route;
	struct pool	*pool = r->pool;
	struct upstream	*u;
	size_t		 n = pool_count(pool), k, i;
	uint64_t	 now = util_now_ms(), hash;
	bool		 prim_up = false, back_up = false, outage, backup;
	int		 j, tier;

	hash = r->balance == BALANCE_SOURCE ? session_client_hash(s) : 0;
	for (i = 0; i < n; i++)
		if (atomic_load_explicit(&pool->u[i].present,
		    memory_order_relaxed) && atomic_load_explicit(
		    &pool->u[i].up, memory_order_relaxed))
			*(pool->u[i].backup ? &back_up : &prim_up) = true;
	outage = !prim_up && !back_up;
	for (tier = 0; tier < 2; tier++) {
		backup = tier == 1;
		if (session_tier(s, n, now, backup, outage, family, spec) == 0)
			continue;
		/* Each round returns or skips one more: n rounds at most. */
		for (k = 0; k < n; k++) {
			j = balance_pick(r->balance, rt->cand, n, rt->skip,
			    &rt->bal, hash);
			if (j == -1)
				break;
			u = &pool->u[j];
			rt->skip[j] = 1;
			if (!outage && !atomic_load(&u->up) &&
			    !pool_claim_retry(u, now, r->check_interval_ms))
				continue;
			if (!pool_acquire(u)) {
				s->saw_full = true;
				continue;
			}
			s->tried[j] = 1;
			return u;
		}
	}
	return NULL;
}

/* Out of descriptors or memory here: not the upstream's fault. */
static bool
session_local_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;
}

/* Undo session_pick(): ${u} goes back to the pool, untried by this session. */
static void
session_unpick(struct session *s, struct upstream *u)
{
	s->tried[u - s->rt->route->pool->u] = 0;
	pool_release(u);
}

/*
 * No socket for the upstream: give the attempt back, pause accepting, and
 * try again after a moment, while connect_timeout lasts.  The client keeps
 * its place instead of being dropped; those behind it wait in the backlog.
 */
static void
session_connect_later(struct session *s, struct upstream *u, int err)
{
	char		 c[ADDR_STRLEN], what[ADDR_STRLEN + CONFIG_NAME_MAX + 64];

	session_unpick(s, u);
	if (util_now_ms() - s->start_ms >= s->rt->route->connect_timeout_ms) {
		session_close(s, SESSION_END_INTERNAL_ERROR, err);
		return;
	}
	snprintf(what, sizeof(what), "route=%s client=%s msg=\"upstream "
	    "socket", s->rt->route->name, addr_format(&s->client, c,
	    sizeof(c)));
	worker_pause_accept(s->w, what, err);
	session_timer_set(s->timer, SESSION_RETRY_SOCKET_MS);
}

/*
 * Start a non-blocking connect to ${u} in a free slot.  Returns 0 when
 * under way or done (the session may be gone then), or -1 when there was
 * no socket for it (the caller decides; ${u} is still counted).
 */
static int
session_attempt_start(struct session *s, struct upstream *u, int *errp)
{
	const struct route	*r = s->rt->route;
	struct session_attempt	*a = s->a[0].fd == -1 ? &s->a[0] : &s->a[1];
	struct timeval		 tv;
	int			 fd, err;

	assert(a->fd == -1);
	if (s->connect_us == 0)
		s->connect_us = util_now_us();
	fd = socket(u->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*errp = errno;
		return -1;
	}
	a->fd = fd;
	a->u = u;
	session_sockopts(fd, r->keepalive);
	if (connect(fd, (struct sockaddr *)&u->addr.ss, u->addr.len) == 0)
		err = 0;
	else
		err = errno;
	if (err != 0 && err != EINPROGRESS) {
		session_attempt_failed(s, a, err);
		return 0;
	}
	/* EV_READ too: it tells a failed connect from one that worked. */
	if ((a->ev = event_new(s->w->base, fd, EV_READ | EV_WRITE,
	    session_attempt_cb, s)) == NULL) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return 0;
	}
	if (err == 0) {
		session_connected(s, a);
		return 0;
	}
	tv = util_timeval(r->connect_timeout_ms);
	event_add(a->ev, &tv);
	return 0;
}

/* Does ${u}'s host name also have an address of the other family? */
static bool
session_he_possible(const struct session *s, const struct upstream *u)
{
	const struct route	*r = s->rt->route;
	struct pool		*pool = r->pool;
	size_t			 i, n = pool_count(pool);

	if (r->specs[u->spec].host == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (pool->u[i].spec == u->spec && !s->tried[i] &&
		    atomic_load_explicit(&pool->u[i].family,
		    memory_order_relaxed) != u->addr.ss.ss_family &&
		    atomic_load(&pool->u[i].present))
			return true;
	return false;
}

/* 250 ms and the first family has not answered: start the other one. */
static void
session_he_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session		*s = arg;
	struct session_attempt	*a = s->a[0].fd != -1 ? &s->a[0] : &s->a[1];
	struct upstream		*u;
	int			 err;

	(void)fd;
	(void)what;
	if (session_inflight(s) != 1)
		return;
	u = session_pick(s, a->u->addr.ss.ss_family == AF_INET ? AF_INET6 :
	    AF_INET, (long)a->u->spec);
	if (u == NULL)
		return;
	s->he_first = a->u->addr.ss.ss_family;
	if (session_attempt_start(s, u, &err) == -1) {
		/* No descriptor for the race: the first attempt goes on. */
		session_unpick(s, u);
	}
}

/*
 * A host name whose other family won a Happy Eyeballs race lately: start
 * with that family rather than give the one that lost its head start
 * again.  Returns the upstream to try (${u}, or its replacement).
 */
static struct upstream *
session_he_prefer(struct session *s, struct upstream *u)
{
	struct pool	*pool = s->rt->route->pool;
	struct upstream	*v;
	int		 fam;

	if (s->rt->route->specs[u->spec].host == NULL ||
	    (fam = pool_he_family(pool, u->spec, util_now_ms())) == 0 ||
	    u->addr.ss.ss_family == fam ||
	    (v = session_pick(s, fam, (long)u->spec)) == NULL)
		return u;
	/* Give ${u} back untried: it may still race later. */
	session_unpick(s, u);
	return v;
}

static void
session_connect_next(struct session *s)
{
	struct upstream	*u = NULL;
	int		 err;

	session_set_state(s, SESSION_CONNECTING);
	if (s->attempts <= s->rt->route->retries)
		u = session_pick(s, 0, -1);
	if (u == NULL) {
		session_close(s, s->last_err == 0 && s->saw_full ?
		    SESSION_END_UPSTREAM_FULL : session_connect_end(s->last_err),
		    0);
		return;
	}
	u = session_he_prefer(s, u);
	s->attempts++;
	if (session_he_possible(s, u)) {
		if (s->he_timer == NULL && (s->he_timer = evtimer_new(
		    s->w->base, session_he_cb, s)) == NULL) {
			pool_release(u);
			session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
			return;
		}
		session_timer_set(s->he_timer, SESSION_HE_DELAY_MS);
	}
	if (session_attempt_start(s, u, &err) == 0)
		return;
	if (s->he_timer != NULL)
		evtimer_del(s->he_timer);
	s->attempts--;
	if (session_local_shortage(err))
		session_connect_later(s, u, err);
	else {
		/* socket() refused the family itself (EAFNOSUPPORT). */
		s->last_err = err;
		session_log_connect(s, u, err);
		/* Released after its last use: then it may be reused. */
		pool_release(u);
		session_connect_next(s);
	}
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	uint64_t	 period;

	(void)fd;
	(void)what;
	if (s->state == SESSION_ACCEPTED) {
		session_proxy_timeout(s);
		return;
	}
	if (s->state == SESSION_CONNECTING) {
		/* We were waiting for a descriptor. */
		session_connect_next(s);
		return;
	}
	if (session_check_paused(s))
		return;
	/* Activity only stamps last_ms; the deadline is checked here, lazily. */
	period = session_period(s);
	if (period != 0 && util_now_ms() - s->last_ms >= period) {
		session_close(s, period == s->rt->route->idle_timeout_ms ?
		    SESSION_END_IDLE_TIMEOUT : SESSION_END_FIN_TIMEOUT, 0);
		return;
	}
	session_arm(s);
}

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
	}
	return false;
}

/*
 * Refused before a session exists: log it like a session line, and close.
 * A peer that may not send a PROXY header is reset: it is no client but
 * a misplaced relay or a probe, and should learn at once.
 */
static void
session_refuse(struct worker *w, struct route_rt *rt, int fd,
    const struct addr *client, enum session_end why)
{
	struct linger	 l = { 1, 0 };
	struct session	 s;

	session_count(pool_stats_slot(rt->route->pool->stats, w->index), why,
	    0, 0);
	/* The session line as any other: a bare session, no upstream. */
	memset(&s, 0, sizeof(s));
	s.w = w;
	s.rt = rt;
	s.client = *client;
	s.start_ms = util_now_ms();
	session_log_end(&s, why, 0);
	if (why == SESSION_END_PROXY_UNTRUSTED)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/*
 * The client is known (after accept, or after its PROXY header): may it
 * come in?  Returns the reason it may not, or SESSION_END_DONE.
 */
static enum session_end
session_admit(const struct route *r, const struct addr *a)
{
	if (!acl_allows(&r->acl, a))
		return SESSION_END_DENIED;
	if (!pool_client_enter(r->pool, a, r->max_per_client))
		return SESSION_END_MAX_PER_CLIENT;
	return SESSION_END_DONE;
}

/* Admitted: read the client while we connect; its bytes wait, bounded. */
static void
session_begin(struct session *s)
{
	s->client_counted = s->rt->route->max_per_client != 0;
	if (pipe_init(&s->c2u, s->w->base, s->w->pipes, s->cfd,
	    s->rt->route->buffer, s->gen->cfg->splice, &s->last_ms,
	    session_pipe_cb, s) == -1) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	pipe_pair(&s->c2u, &s->u2c);
	pipe_start(&s->c2u);
	session_connect_next(s);
}

/* The whole PROXY header is in: the client is who it says. */
static void
session_proxy_done(struct session *s, const struct proxyproto_info *info)
{
	enum session_end	 why;
	char			 c[ADDR_STRLEN], v[ADDR_STRLEN];

	event_free(s->pev);
	s->pev = NULL;
	evtimer_del(s->timer);
	free(s->phdr);
	s->phdr = NULL;
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
			    "header\"", s->rt->route->name, addr_format(
			    &s->client, c, sizeof(c)), addr_format(
			    &s->via->peer, v, sizeof(v)), info->version);
	}
	if ((why = session_admit(s->rt->route, &s->client)) !=
	    SESSION_END_DONE) {
		session_close(s, why, 0);
		return;
	}
	session_begin(s);
}

/*
 * A warning about a client's PROXY header: whoever reaches the listener
 * can cause one per connection, so at most one a second per route and
 * ${kind} goes out, telling how many were held back.  The session's own
 * line still says how each one ended.
 */
static void
session_proxy_warn(const struct session *s, enum session_proxy_log kind,
    const char *msg)
{
	char		 m[320];
	unsigned	 held;

	if (log_level() < LOG_LEVEL_WARN ||
	    !log_limit_pass(&s->rt->route->pool->proxy_log[kind], &held))
		return;
	if (held == 0) {
		session_log(s, NULL, msg, 0);
		return;
	}
	snprintf(m, sizeof(m), "%s (%u more like this suppressed)", msg, held);
	session_log(s, NULL, m, 0);
}

/* The header's deadline (session_timer_cb): the client is too slow. */
static void
session_proxy_timeout(struct session *s)
{
	session_proxy_warn(s, SESSION_PROXY_LOG_SLOW, "no whole PROXY header "
	    "within proxy_timeout");
	session_close(s, SESSION_END_PROXY_TIMEOUT, 0);
}

/*
 * Take ${take} bytes of header that a peek has just shown us.  Anything
 * but all of them ends the session (-1).  Only a failed recv() sets
 * errno: an end or a short count logged with strerror(errno) would name
 * whatever error came last, elsewhere.
 */
static int
session_proxy_take(struct session *s, int fd, size_t take)
{
	char	 msg[96];
	ssize_t	 n;
	int	 err;

	if ((n = recv(fd, s->phdr + s->phdr_len, take, 0)) == (ssize_t)take) {
		s->phdr_len += (uint32_t)take;
		return 0;
	}
	if (n == -1) {
		err = errno;
		session_close(s, err == ECONNRESET ? SESSION_END_CLIENT_RESET :
		    SESSION_END_CLIENT_ERROR, err);
		return -1;
	}
	if (n == 0)
		snprintf(msg, sizeof(msg), "connection closed inside the PROXY "
		    "header");
	else
		snprintf(msg, sizeof(msg), "PROXY header: read %zd of the %zu "
		    "bytes peeked", n, take);
	session_proxy_warn(s, SESSION_PROXY_LOG_CUT, msg);
	session_close(s, SESSION_END_PROXY_ERROR, 0);
	return -1;
}

/*
 * accept_proxy: the client is readable.  Peek, then take exactly the bytes
 * that are surely header (proxyproto_parse's promise), so not one byte of
 * payload is read here and none of the header goes upstream.  Bytes of an
 * unfinished header are taken too, or a level-triggered loop would spin.
 */
static void
session_proxy_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session		*s = arg;
	struct proxyproto_info	 info;
	char			 err[256], msg[288];
	size_t			 room = PROXYPROTO_MAX - s->phdr_len, take;
	ssize_t			 n, r;
	int			 e;

	(void)what;
	n = recv(fd, s->phdr + s->phdr_len, room, MSG_PEEK);
	if (n == -1) {
		e = errno;
		if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
			return;
		session_close(s, e == ECONNRESET ? SESSION_END_CLIENT_RESET :
		    SESSION_END_CLIENT_ERROR, e);
		return;
	}
	if (n == 0) {
		session_proxy_warn(s, SESSION_PROXY_LOG_CUT, "connection "
		    "closed inside the PROXY header");
		session_close(s, SESSION_END_PROXY_ERROR, 0);
		return;
	}
	r = proxyproto_parse(s->phdr, s->phdr_len + (size_t)n, &info, err,
	    sizeof(err));
	if (r == -1) {
		snprintf(msg, sizeof(msg), "bad PROXY header: %s", err);
		session_proxy_warn(s, SESSION_PROXY_LOG_BAD, msg);
		session_close(s, SESSION_END_PROXY_ERROR, 0);
		return;
	}
	take = r == 0 ? (size_t)n : (size_t)r - s->phdr_len;
	if (session_proxy_take(s, fd, take) == -1)
		return;
	if (r > 0)
		session_proxy_done(s, &info);
}

/*
 * accept_proxy: wait for the header within proxy_timeout, not the longer
 * connect_timeout: a relay sends it with its first bytes, so a long wait
 * would only let a silent stranger hold a max_connections place.
 */
static void
session_proxy_start(struct session *s)
{
	if ((s->pev = event_new(s->w->base, s->cfd, EV_READ | EV_PERSIST,
	    session_proxy_cb, s)) == NULL) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	event_add(s->pev, NULL);
	session_timer_set(s->timer, s->rt->route->proxy_timeout_ms);
}

/*
 * May the peer at ${client} in, before anything is allocated for it?
 * With accept_proxy, first whether it may send a header at all
 * (proxy_from): ahead of the limits, so that a stranger never holds a
 * place in them.  Without, allow/deny and max_per_client are judged now.
 * Returns SESSION_END_DONE with the route's and the global count taken,
 * or the reason for refusing with nothing taken.
 */
static enum session_end
session_accept_check(struct worker *w, const struct route *r,
    const struct addr *client)
{
	enum session_end	 why;

	if (r->accept_proxy && !acl_allows(&r->proxy_from, client))
		return SESSION_END_PROXY_UNTRUSTED;
	/* Counted across every worker: the limits are the process's. */
	if (!worker_global_enter(w->gen->cfg->max_connections))
		return SESSION_END_MAX_CONNECTIONS;
	if (!pool_session_enter(r->pool, r->max_connections)) {
		worker_global_leave();
		return SESSION_END_MAX_CONNECTIONS;
	}
	if (!r->accept_proxy &&
	    (why = session_admit(r, client)) != SESSION_END_DONE) {
		pool_session_leave(r->pool);
		worker_global_leave();
		return why;
	}
	return SESSION_END_DONE;
}

void
session_accept(struct worker *w, struct route_rt *rt, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	const struct route	*r = rt->route;
	struct session		*s;
	struct addr		 client;
	enum session_end	 why;

	addr_from_sockaddr(&client, sa, salen);
	addr_unmap(&client);
	if ((why = session_accept_check(w, r, &client)) != SESSION_END_DONE) {
		session_refuse(w, rt, fd, &client, why);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) != NULL)
		s->tried = r->pool->cap <= sizeof(s->tried_buf) ? s->tried_buf :
		    calloc(r->pool->cap, 1);
	if (s == NULL || s->tried == NULL ||
	    (r->accept_proxy && (s->phdr = malloc(PROXYPROTO_MAX)) == NULL)) {
		if (s != NULL) {
			if (s->tried != s->tried_buf)
				free(s->tried);
			free(s);
		}
		if (!r->accept_proxy)
			pool_client_leave(r->pool, &client);
		pool_session_leave(r->pool);
		worker_global_leave();
		log_error("route=%s msg=\"out of memory, client dropped\"",
		    r->name);
		close(fd);
		return;
	}
	s->w = w;
	s->gen = w->gen;
	s->rt = rt;
	s->cfd = fd;
	s->ufd = -1;
	s->a[0].fd = s->a[1].fd = -1;
	s->client = client;
	s->start_ms = s->last_ms = util_now_ms();
	worker_session_add(w, s);
	/* The client socket inherited its options from the listener. */
	if ((s->timer = evtimer_new(w->base, session_timer_cb, s)) == NULL) {
		s->client_counted = !r->accept_proxy && r->max_per_client != 0;
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	if (r->accept_proxy)
		session_proxy_start(s);
	else
		session_begin(s);
}
