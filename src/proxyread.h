/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_PROXYREAD_H
#define RELAY46_PROXYREAD_H

#include <stdint.h>

struct addr;
struct event_base;
struct log_limit;
struct proxyproto_info;
struct proxyread;

/* How reading a client's PROXY header ended: the callback's ${st}. */
enum proxyread_status {
	PROXYREAD_DONE = 0,	/* ${info} is the whole header's */
	PROXYREAD_BAD,		/* malformed or too long: ${msg} says how */
	PROXYREAD_CUT,		/* the client closed inside it: ${msg} */
	PROXYREAD_SLOW,		/* not whole within the deadline: ${msg} */
	PROXYREAD_FAILED,	/* recv() failed with ${err} */
};

/*
 * The one answer of a proxyread_start().  ${info} (DONE) and ${msg}
 * (BAD, CUT, SLOW) live only for the call; otherwise they are NULL.
 */
typedef void proxyread_cb(void *arg, enum proxyread_status st,
    const struct proxyproto_info *info, int err, const char *msg);

/*
 * proxyread_start(base, fd, timeout_ms, cb, arg): read the PROXY header
 * (proxyproto.h) that a client on ${fd} sends first, on ${base}, within
 * ${timeout_ms} from now.  Takes exactly the header's bytes from the
 * socket, not one byte of what follows, so the relay reads the payload
 * from the socket as if there had been no header.  ${fd} stays the
 * caller's.  Calls cb(arg, ...) exactly once, never from within
 * proxyread_start(), after the reader has freed itself.  Returns the
 * handle, or NULL (no callback then) on out of memory.
 */
struct proxyread *proxyread_start(struct event_base *base, int fd,
    uint64_t timeout_ms, proxyread_cb *cb, void *arg);

/*
 * proxyread_cancel(pr): give up before the callback, which is then never
 * called, and free ${pr}.  NULL is fine; not allowed once the callback
 * has been called.
 */
void	 proxyread_cancel(struct proxyread *pr);

/*
 * proxyread_warn(lim, st, route, client, msg): the warning for a header
 * that ended as ${st} (BAD, CUT or SLOW; ${msg} as the callback had it).
 * Whoever reaches an accept_proxy listener can cause one per connection,
 * so at most one a second per kind goes out, each in its own
 * lim[st - PROXYREAD_BAD] of the route's (pool.h: proxy_log), telling
 * how many were held back; the session's own line still says how each
 * one ended.
 */
void proxyread_warn(struct log_limit *lim, enum proxyread_status st,
    const char *route, const struct addr *client, const char *msg);

#endif
