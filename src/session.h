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

/* One connect under way.  Happy Eyeballs races two at most. */
struct session_attempt {
	int		 fd;		/* -1: slot free */
	struct event	*ev;		/* writable, or the connect timeout */
	struct upstream	*u;
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
 * ones, then bytes, leaving no holes (480 bytes with its malloc header,
 * and about 1 KiB a session with its events: contrib/bench).
 */
struct session {
	TAILQ_ENTRY(session) entry;
	struct worker	*w;
	struct worker_gen *gen;		/* its config and rt[] live while it does */
	struct route_rt	*rt;
	struct session_via *via;	/* client came from a PROXY header */
	struct upstream	*up;		/* the connected one, NULL before */
	unsigned char	*tried;		/* per pool entry, this session */
	struct session_attempt a[2];
	struct event	*he_timer;	/* Happy Eyeballs: start the other family */
	struct event	*timer;		/* PROXY read, socket retry, idle, fin */
	struct event	*pev;		/* accept_proxy: client readable */
	uint8_t		*phdr;		/* accept_proxy: the header so far */
	struct pipe	 c2u, u2c;
	uint64_t	 start_ms, last_ms;
	uint64_t	 connect_us;	/* the first connect attempt's start */
	struct addr	 client;
	enum session_state state;
	int		 cfd, ufd;
	unsigned	 attempts;	/* sequential tries (Happy Eyeballs' not) */
	int		 last_err;	/* of the last failed connect */
	int		 he_first;	/* family the race began with; 0: none */
	uint32_t	 phdr_len;	/* < PROXYPROTO_MAX */
	uint32_t	 sent_hdr;	/* PROXY header bytes we sent upstream */
	unsigned char	 tried_buf[16];	/* ...here for small pools: no malloc */
	bool		 client_counted;	/* in max_per_client */
	bool		 saw_full;	/* an upstream was skipped as full */
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
