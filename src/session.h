#ifndef RELAY46_SESSION_H
#define RELAY46_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stdint.h>

#include "addr.h"
#include "pipe.h"

struct route_rt;
struct worker;

enum session_state {
	SESSION_ACCEPTED = 0,
	SESSION_CONNECTING,	/* client bytes wait, bounded */
	SESSION_RELAYING,
	SESSION_HALF_CLOSED,	/* one direction has ended */
};

/* How a session ended; each has one word for the logs. */
enum session_end {
	SESSION_END_DONE = 0,
	SESSION_END_CLIENT_RESET,
	SESSION_END_UPSTREAM_RESET,
	SESSION_END_CLIENT_ERROR,
	SESSION_END_UPSTREAM_ERROR,
	SESSION_END_UPSTREAM_REFUSED,
	SESSION_END_CONNECT_TIMEOUT,
	SESSION_END_UPSTREAM_UNREACHABLE,
	SESSION_END_IDLE_TIMEOUT,
	SESSION_END_FIN_TIMEOUT,
	SESSION_END_MAX_CONNECTIONS,
	SESSION_END_SHUTDOWN,
	SESSION_END_INTERNAL_ERROR,
};

/* session_end_name(e): "done", "client_reset", ... */
const char *session_end_name(enum session_end e);

/*
 * One client connection and its upstream, owned by the worker that
 * accepted it.  Only session_close() frees it.
 */
struct session {
	TAILQ_ENTRY(session) entry;
	struct worker	*w;
	struct config	*cfg;		/* a reference: the route lives on */
	struct route_rt	*rt;
	enum session_state state;
	int		 cfd, ufd;
	struct addr	 client, upstream, local;
	int		 up_idx;	/* in route->up, -1 before the first */
	unsigned	 attempts;
	unsigned char	*tried;		/* per upstream, this session */
	int		 last_err;	/* of the last failed connect */
	struct event	*cev;		/* connect completion */
	struct event	*timer;		/* connect, idle and fin timeouts */
	struct pipe	 c2u, u2c;
	uint64_t	 start_ms, last_ms;
};

/*
 * session_accept(w, rt, fd, sa, salen, local): a new client on ${fd}
 * (owned from here on, also on failure) for route ${rt}.  Applies the
 * limits, then starts connecting upstream.
 */
void	 session_accept(struct worker *w, struct route_rt *rt, int fd,
	    const struct sockaddr *sa, socklen_t salen, const struct addr *local);

/*
 * session_close(s, why, err): the one teardown.  Logs the session line,
 * resets the peers where ${why} calls for it, closes both descriptors and
 * frees ${s}.  ${err} is an errno worth logging, or 0.
 */
void	 session_close(struct session *s, enum session_end why, int err);

#endif
