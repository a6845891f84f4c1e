/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_SESSION_H
#define RELAY46_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stdint.h>

#include "addr.h"
#include "pipe.h"
#include "session_end.h"

struct route_rt;
struct upstream;
struct upstream_conn;
struct proxyread;
struct session_host;
struct worker_gen;

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
	struct session_host *h;		/* its worker's loop (host.h) */
	struct worker_gen *gen;		/* its config and rt[] live while it does */
	struct route_rt	*rt;
	struct session_via *via;	/* client came from a PROXY header */
	struct upstream	*up;		/* the connected one, NULL before */
	struct upstream_conn *uc;	/* the connect under way, or NULL */
	struct proxyread *pr;		/* accept_proxy: the header under way */
	struct event	*timer;		/* idle, fin */
	struct pipe	 c2u, u2c;
	uint64_t	 start_ms, last_ms;
	struct addr	 client;
	enum session_state state;
	int		 cfd, ufd;
	uint32_t	 sent_hdr;	/* PROXY header bytes we sent upstream */
	bool		 client_counted;	/* in max_per_client */
};

/*
 * session_accept(h, gen, rt, fd, sa, salen): a new client on ${fd}
 * (owned from here on, also on failure) for route ${rt} of configuration
 * ${gen}, on the loop of ${h}.  With
 * accept_proxy, a peer outside proxy_from is reset at once, before it
 * counts anywhere; the others get proxy_timeout for their header.  Then
 * applies the limits and starts connecting upstream.
 */
void session_accept(struct session_host *h, struct worker_gen *gen,
    struct route_rt *rt, int fd, const struct sockaddr *sa, socklen_t salen);

/*
 * session_close(s, why, err): the one teardown.  Logs the session line,
 * resets the peers where ${why} calls for it, closes both descriptors and
 * frees ${s}.  ${err} is an errno worth logging, or 0.
 */
void	 session_close(struct session *s, enum session_end why, int err);

/*
 * session_log_end(s, why, err): the session's one line (sessionlog.c), in
 * the access log when its host has one, else in the log at info.  For
 * session_close(), and for a client refused before it had a session.
 */
void session_log_end(const struct session *s, enum session_end why, int err);

/* Bytes of the client's own: our PROXY header is not among them. */
static inline uint64_t
session_up_bytes(const struct session *s)
{
	return s->c2u.bytes > s->sent_hdr ? s->c2u.bytes - s->sent_hdr : 0;
}

#endif
