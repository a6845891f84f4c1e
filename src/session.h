/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_SESSION_H
#define RELAY46_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stdint.h>

#include "addr.h"
#include "pipe.h"

struct route_rt;
struct upstream;
struct upstream_conn;
struct worker_gen;
struct worker;

/*
 * What a PROXY header replaced: kept apart, since most sessions have
 * none and every idle session's bytes count.
 */
struct session_via {
	struct addr	 peer;		/* who really connected */
	struct addr	 dst;		/* the header's destination */
};

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
	SESSION_END_DENIED,		/* allow/deny refused the client */
	SESSION_END_MAX_PER_CLIENT,
	SESSION_END_UPSTREAM_FULL,	/* every upstream at max_connections */
	SESSION_END_PROXY_ERROR,	/* a bad PROXY header from the client */
	SESSION_END_PROXY_TIMEOUT,	/* no whole PROXY header in time */
	SESSION_END_PROXY_UNTRUSTED,	/* peer not in proxy_from */
};
#define SESSION_END_COUNT	(SESSION_END_PROXY_UNTRUSTED + 1)

/* session_end_name(e): "done", "client_reset", ... */
const char *session_end_name(enum session_end e);

/*
 * One client connection and its upstream, owned by the worker that
 * accepted it.  Only session_close() frees it.  An idle relay holds tens
 * of thousands of these, so the fields go pointers first, then 4-byte
 * ones, then bytes, leaving no holes (384 bytes with its malloc header,
 * and under 1 KiB a session with its events: contrib/bench), and what
 * only connecting needs lives in upstream.c's struct upstream_conn,
 * freed once connected.
 */
struct session {
	TAILQ_ENTRY(session) entry;
	struct worker	*w;
	struct worker_gen *gen;		/* its config and rt[] live while it does */
	struct route_rt	*rt;
	struct session_via *via;	/* client came from a PROXY header */
	struct upstream	*up;		/* the connected one, NULL before */
	struct upstream_conn *uc;	/* the connect under way, or NULL */
	struct event	*timer;		/* PROXY read, idle, fin */
	struct event	*pev;		/* accept_proxy: client readable */
	uint8_t		*phdr;		/* accept_proxy: the header so far */
	struct pipe	 c2u, u2c;
	uint64_t	 start_ms, last_ms;
	struct addr	 client;
	enum session_state state;
	int		 cfd, ufd;
	uint32_t	 phdr_len;	/* < PROXYPROTO_MAX */
	uint32_t	 sent_hdr;	/* PROXY header bytes we sent upstream */
	bool		 client_counted;	/* in max_per_client */
};

/*
 * session_accept(w, rt, fd, sa, salen): a new client on ${fd}
 * (owned from here on, also on failure) for route ${rt}.  With
 * accept_proxy, a peer outside proxy_from is reset at once, before it
 * counts anywhere; the others get proxy_timeout for their header.  Then
 * applies the limits and starts connecting upstream.
 */
void session_accept(struct worker *w, struct route_rt *rt, int fd,
    const struct sockaddr *sa, socklen_t salen);

/*
 * session_close(s, why, err): the one teardown.  Logs the session line,
 * resets the peers where ${why} calls for it, closes both descriptors and
 * frees ${s}.  ${err} is an errno worth logging, or 0.
 */
void	 session_close(struct session *s, enum session_end why, int err);

#endif
