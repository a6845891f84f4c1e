/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_SESSION_H
#define RELAY46_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stdint.h>

#include "addr.h"
#include "pipe.h"
#include "session_end.h"
#include "sessionlog.h"

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
	struct event	*timer;		/* idle, fin, unsure reads */
	struct pipe	 c2u, u2c;
	uint64_t	 id;		/* the process's, from 1: relay46ctl's */
	uint64_t	 start_ms, last_ms;
	uint64_t	 due_ms;	/* the timer's, coarse; 0: not armed */
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

/* One session as "show sessions" lists it (copied: it may end next). */
struct session_report {
	uint64_t	 id;
	char		 route[65];
	struct addr	 client;
	struct addr	 upstream;	/* AF_UNSPEC before connected */
	const char	*state;		/* a static word */
	uint64_t	 age_ms, idle_ms;
	uint64_t	 up, down;	/* bytes, client -> upstream and back */
	struct session_tcp c, u;	/* the client's side, the upstream's */
};

/*
 * session_report(s, r): fill *${r} from ${s}, with TCP_INFO asked now.
 * session_kill(s): the operator's kill: both sides reset, end=killed.
 * On ${s}'s worker thread.
 */
void	 session_report(const struct session *s, struct session_report *r);
void	 session_kill(struct session *s);

/* Bytes of the client's own: our PROXY header is not among them. */
static inline uint64_t
session_up_bytes(const struct session *s)
{
	return s->c2u.bytes > s->sent_hdr ? s->c2u.bytes - s->sent_hdr : 0;
}

#endif
