/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_SESSIONLOG_H
#define RELAY46_SESSIONLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "session_end.h"

struct accesslog;

/*
 * What the kernel knows of one side's TCP connection (TCP_INFO), for
 * the session's line and "show sessions".  ${ok}: false when there was
 * no socket or the kernel would not say.
 */
struct session_tcp {
	bool		 ok;
	uint32_t	 rtt_us, rttvar_us;	/* smoothed round trip, variance */
	uint32_t	 retrans;	/* segments retransmitted, all told */
	uint32_t	 unacked;	/* segments sent, not yet acknowledged */
	uint32_t	 cwnd;		/* congestion window, segments */
};

/* session_tcp_read(fd, t): TCP_INFO of ${fd} (-1: none) into *${t}. */
void	 session_tcp_read(int fd, struct session_tcp *t);

/*
 * session_tcp_num(t, v, buf, len): ${v}, a field of *${t}, in decimal
 * in ${buf}, or "-" when the kernel did not say (!t->ok).
 */
const char *session_tcp_num(const struct session_tcp *t, uint32_t v, char *buf,
    size_t len);

/*
 * Everything the one line of a finished session says, as session.c
 * hands it over: the line is formatted from this alone, so the log's
 * format knows nothing of struct session.
 */
struct session_line {
	const char	*route;
	const struct addr *client;
	const struct addr *via;		/* the peer behind a PROXY header */
	const char	*upstream;	/* its name; NULL: none reached */
	enum session_end why;
	int		 err;		/* an errno worth logging, or 0 */
	uint64_t	 up, down;	/* the client's bytes, and back */
	uint64_t	 start_ms;	/* util_now_ms() at accept */
	int		 cfd, ufd;	/* for TCP_INFO; -1: none */
	struct accesslog *alog;		/* NULL: the daemon's log */
};

/*
 * session_line_write(l): the session's line, in the access log when
 * l->alog is set, else in the log at info (and not even formatted when
 * the log level drops it).
 */
void	 session_line_write(const struct session_line *l);

#endif
