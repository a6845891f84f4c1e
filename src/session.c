#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "balance.h"
#include "config.h"
#include "log.h"
#include "session.h"
#include "util.h"
#include "worker.h"

/* How long a session waits for a descriptor before trying again. */
#define SESSION_RETRY_SOCKET_MS	250

/* How often a session with a paused side looks for a reset there. */
#define SESSION_PAUSED_CHECK_MS	1000

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
};

static void	session_connect_next(struct session *);
static void	session_timer_cb(evutil_socket_t, short, void *);
static void	session_pipe_cb(void *, struct pipe *, enum pipe_status, int);

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
session_reset_fd(int fd)
{
	struct linger	 l = { 1, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void
session_log(const struct session *s, const char *level_msg, int err)
{
	char	 c[ADDR_STRLEN], u[ADDR_STRLEN];

	log_warn("route=%s client=%s upstream=%s msg=\"%s%s%s\"",
	    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
	    s->up_idx == -1 ? "-" : addr_format(&s->upstream, u, sizeof(u)),
	    level_msg, err ? ": " : "", err ? strerror(err) : "");
}

/* The session's line: one per session, at info. */
static void
session_log_end(const struct session *s, enum session_end why, int err)
{
	char		 c[ADDR_STRLEN], u[ADDR_STRLEN];
	uint64_t	 ms;

	/* Formatting addresses costs: skip it when the line is dropped. */
	if (log_level() < LOG_LEVEL_INFO)
		return;
	ms = util_now_ms() - s->start_ms;
	log_info("route=%s client=%s upstream=%s msg=\"session end\" "
	    "end=%s%s%s%s up=%llu down=%llu duration=%llu.%03llus",
	    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
	    s->ufd == -1 && s->state < SESSION_RELAYING ? "-" :
	    addr_format(&s->upstream, u, sizeof(u)), session_end_name(why),
	    err ? " error=\"" : "", err ? strerror(err) : "",
	    err ? "\"" : "", (unsigned long long)s->c2u.bytes,
	    (unsigned long long)s->u2c.bytes,
	    (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

void
session_close(struct session *s, enum session_end why, int err)
{
	bool		 reset_client, reset_up;

	session_log_end(s, why, err);
	/* An abort on one side is passed on as an abort on the other. */
	reset_up = why == SESSION_END_CLIENT_RESET ||
	    why == SESSION_END_CLIENT_ERROR ||
	    why == SESSION_END_UPSTREAM_ERROR ||
	    why == SESSION_END_INTERNAL_ERROR;
	reset_client = why == SESSION_END_UPSTREAM_RESET ||
	    why == SESSION_END_UPSTREAM_ERROR ||
	    why == SESSION_END_CLIENT_ERROR ||
	    why == SESSION_END_INTERNAL_ERROR;
	pipe_free(&s->c2u);
	pipe_free(&s->u2c);
	if (s->cev != NULL)
		event_free(s->cev);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->ufd != -1) {
		if (reset_up)
			session_reset_fd(s->ufd);
		else
			close(s->ufd);
	}
	if (reset_client)
		session_reset_fd(s->cfd);
	else
		close(s->cfd);
	worker_session_gone(s->w, s);
	config_unref(s->cfg);
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
	char	 c[ADDR_STRLEN], u[ADDR_STRLEN];

	assert(legal[s->state] & (1u << to));
	if (log_level() >= LOG_LEVEL_DEBUG)
		log_debug("route=%s client=%s upstream=%s msg=\"%s -> %s\"",
		    s->rt->route->name, addr_format(&s->client, c, sizeof(c)),
		    s->up_idx == -1 ? "-" : addr_format(&s->upstream, u,
		    sizeof(u)), names[s->state], names[to]);
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
 * A side that reset while we were not reading it, because the other side
 * was slow: end the session as if the read had failed.  Returns true if
 * the session is gone.
 */
static bool
session_check_paused(struct session *s)
{
	int	 err;

	if (s->c2u.paused && (err = pipe_src_error(&s->c2u)) != 0) {
		session_close(s, err == ECONNRESET ? SESSION_END_CLIENT_RESET :
		    SESSION_END_CLIENT_ERROR, err);
		return true;
	}
	if (s->u2c.paused && (err = pipe_src_error(&s->u2c)) != 0) {
		session_close(s, err == ECONNRESET ? SESSION_END_UPSTREAM_RESET :
		    SESSION_END_UPSTREAM_ERROR, err);
		return true;
	}
	return false;
}

/* (Re)arm the timer for the idle or fin timeout, counted from last_ms. */
static void
session_arm(struct session *s)
{
	uint64_t		 period, now, left;
	struct timeval		 tv;

	/* Until connected, the timer is the connect timeout's. */
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
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(s->timer, &tv);
}

static void
session_connected(struct session *s)
{
	event_free(s->cev);
	s->cev = NULL;
	evtimer_del(s->timer);
	if (pipe_init(&s->u2c, s->w->base, s->ufd, s->rt->route->buffer,
	    &s->last_ms, session_pipe_cb, s) == -1 ||
	    pipe_set_dst(&s->u2c, s->cfd) == -1 ||
	    pipe_set_dst(&s->c2u, s->ufd) == -1) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	session_set_state(s, s->c2u.eof ? SESSION_HALF_CLOSED :
	    SESSION_RELAYING);
	s->last_ms = util_now_ms();
	pipe_start(&s->u2c);
	pipe_start(&s->c2u);
	session_arm(s);
}

/* A connect attempt failed with ${err}: note it and try the next one. */
static void
session_connect_failed(struct session *s, int err)
{
	if (s->cev != NULL) {
		event_free(s->cev);
		s->cev = NULL;
	}
	evtimer_del(s->timer);
	close(s->ufd);
	s->ufd = -1;
	s->last_err = err;
	session_log(s, "connect failed", err);
	session_connect_next(s);
}

static void
session_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	int		 err = util_sock_error(fd);

	(void)what;
	if (err == 0)
		session_connected(s);
	else if (err != EINPROGRESS)
		session_connect_failed(s, err);
}

/* Choose the next upstream this session has not tried; -1 if none. */
static int
session_pick(struct session *s)
{
	struct route_rt	*rt = s->rt;
	int		 i;

	if (s->attempts > rt->route->retries)
		return -1;
	i = balance_rr_pick(rt->weights, rt->credit, rt->route->nup, s->tried);
	if (i != -1)
		s->tried[i] = 1;
	return i;
}

/* Start a non-blocking connect; 0 when under way or done, else errno. */
static int
session_connect_start(struct session *s)
{
	const struct route	*r = s->rt->route;
	struct timeval		 tv;

	s->ufd = socket(s->upstream.ss.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->ufd == -1)
		return errno;
	session_sockopts(s->ufd, r->keepalive);
	if (connect(s->ufd, (struct sockaddr *)&s->upstream.ss,
	    s->upstream.len) == 0) {
		session_connected(s);
		return 0;
	}
	if (errno != EINPROGRESS)
		return errno;
	s->cev = event_new(s->w->base, s->ufd, EV_WRITE, session_connect_cb, s);
	if (s->cev == NULL)
		return ENOMEM;
	event_add(s->cev, NULL);
	tv.tv_sec = (time_t)(r->connect_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(r->connect_timeout_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
	return 0;
}

/* Out of descriptors or memory here: not the upstream's fault. */
static bool
session_local_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;
}

/*
 * No socket for the upstream: give the attempt back, pause accepting, and
 * try again after a moment, while connect_timeout lasts.  The client keeps
 * its place instead of being dropped; those behind it wait in the backlog.
 */
static void
session_connect_later(struct session *s, int i, int err)
{
	char		 c[ADDR_STRLEN], what[ADDR_STRLEN + CONFIG_NAME_MAX + 64];
	struct timeval	 tv = { 0, SESSION_RETRY_SOCKET_MS * 1000 };

	if (util_now_ms() - s->start_ms >= s->rt->route->connect_timeout_ms) {
		session_close(s, SESSION_END_INTERNAL_ERROR, err);
		return;
	}
	s->tried[i] = 0;
	s->attempts--;
	snprintf(what, sizeof(what), "route=%s client=%s msg=\"upstream "
	    "socket", s->rt->route->name, addr_format(&s->client, c,
	    sizeof(c)));
	worker_pause_accept(s->w, what, err);
	evtimer_add(s->timer, &tv);
}

static void
session_connect_next(struct session *s)
{
	int	 i, err;

	session_set_state(s, SESSION_CONNECTING);
	if ((i = session_pick(s)) == -1) {
		session_close(s, session_connect_end(s->last_err), 0);
		return;
	}
	s->up_idx = i;
	s->upstream = s->rt->route->up[i].addr;
	s->attempts++;
	if ((err = session_connect_start(s)) == 0)
		return;
	if (s->ufd == -1 && session_local_shortage(err))
		session_connect_later(s, i, err);
	else
		session_connect_failed(s, err);
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	uint64_t	 period;

	(void)fd;
	(void)what;
	if (s->state == SESSION_CONNECTING) {
		/* No socket yet: we were waiting for a descriptor. */
		if (s->ufd == -1)
			session_connect_next(s);
		else
			session_connect_failed(s, ETIMEDOUT);
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

static void
session_pipe_cb(void *arg, struct pipe *p, enum pipe_status st, int err)
{
	struct session	*s = arg;
	bool		 from_client = p == &s->c2u;

	switch (st) {
	case PIPE_PAUSED:
		session_arm(s);
		break;
	case PIPE_EOF:
		if (s->state == SESSION_RELAYING) {
			session_set_state(s, SESSION_HALF_CLOSED);
			session_arm(s);
		}
		break;
	case PIPE_DONE:
		if (s->c2u.done && s->u2c.done)
			session_close(s, SESSION_END_DONE, 0);
		break;
	case PIPE_READ_ERROR:
		/* Reading one side failed: that side is the culprit. */
		session_close(s, err == ECONNRESET ? (from_client ?
		    SESSION_END_CLIENT_RESET : SESSION_END_UPSTREAM_RESET) :
		    err == ENOMEM ? SESSION_END_INTERNAL_ERROR : (from_client ?
		    SESSION_END_CLIENT_ERROR : SESSION_END_UPSTREAM_ERROR), err);
		break;
	case PIPE_WRITE_ERROR:
		/* Writing failed: the destination is gone. */
		session_close(s, err == ECONNRESET || err == EPIPE ?
		    (from_client ? SESSION_END_UPSTREAM_RESET :
		    SESSION_END_CLIENT_RESET) : (from_client ?
		    SESSION_END_UPSTREAM_ERROR : SESSION_END_CLIENT_ERROR), err);
		break;
	}
}

/* Refused before a session exists: log it like a session line, and close. */
static void
session_refuse(struct route_rt *rt, int fd, const struct addr *client,
    enum session_end why)
{
	char	 c[ADDR_STRLEN];

	log_info("route=%s client=%s upstream=- msg=\"session end\" end=%s "
	    "up=0 down=0 duration=0.000s", rt->route->name,
	    addr_format(client, c, sizeof(c)), session_end_name(why));
	close(fd);
}

void
session_accept(struct worker *w, struct route_rt *rt, int fd,
    const struct sockaddr *sa, socklen_t salen, const struct addr *local)
{
	const struct route	*r = rt->route;
	struct session		*s;
	struct addr		 client;

	addr_from_sockaddr(&client, sa, salen);
	addr_unmap(&client);
	if ((w->cfg->max_connections != 0 &&
	    w->nsessions >= w->cfg->max_connections) ||
	    (r->max_connections != 0 && rt->live >= r->max_connections)) {
		atomic_fetch_add_explicit(&w->stats.refused_limit, 1,
		    memory_order_relaxed);
		session_refuse(rt, fd, &client, SESSION_END_MAX_CONNECTIONS);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->tried = calloc(r->nup, 1)) == NULL) {
		if (s != NULL)
			free(s);
		log_error("route=%s msg=\"out of memory, client dropped\"",
		    r->name);
		close(fd);
		return;
	}
	s->w = w;
	s->cfg = config_ref(w->cfg);
	s->rt = rt;
	s->cfd = fd;
	s->ufd = -1;
	s->up_idx = -1;
	s->client = client;
	s->local = *local;
	s->start_ms = s->last_ms = util_now_ms();
	TAILQ_INSERT_TAIL(&w->sessions, s, entry);
	w->nsessions++;
	atomic_store_explicit(&w->stats.live, w->nsessions,
	    memory_order_relaxed);
	rt->live++;
	/* The client socket inherited its options from the listener. */
	if ((s->timer = evtimer_new(w->base, session_timer_cb, s)) == NULL ||
	    pipe_init(&s->c2u, w->base, fd, r->buffer, &s->last_ms,
	    session_pipe_cb, s) == -1) {
		session_close(s, SESSION_END_INTERNAL_ERROR, ENOMEM);
		return;
	}
	/* Read the client while we connect: its bytes wait, bounded. */
	pipe_start(&s->c2u);
	session_connect_next(s);
}
