/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_UPSTREAM_H
#define RELAY46_UPSTREAM_H

#include <stdbool.h>

struct addr;
struct route_rt;
struct upstream;
struct upstream_conn;
struct session_host;

/* How an upstream_connect() ended: its callback's ${st}. */
enum upstream_status {
	UPSTREAM_CONNECTED = 0,	/* ${fd} and ${up} are the caller's now */
	UPSTREAM_UNREACHED,	/* tries used up; ${err}: the last connect's
				   errno, 0 if there was none to try */
	UPSTREAM_FULL,		/* no connect failed, but upstreams were
				   passed over at their max_connections */
	UPSTREAM_NO_RESOURCES,	/* descriptors or memory ran out here: ${err} */
};

/*
 * The one answer of an upstream_connect(): on UPSTREAM_CONNECTED a
 * connected non-blocking socket ${fd} (the callee's to close) and the
 * pool entry ${up} it reached, counted on it (pool_release() when done);
 * otherwise ${fd} is -1 and ${up} NULL.  The connect was watched with
 * PIPE_EVENTS (pipe.h), and that event lasts until the callback returns:
 * a pipe on ${fd} made within the callback takes the registration over
 * with no system call, and must replay ${ready}, the EV_* flags of the
 * edge that the connect's event took (writable, and maybe the upstream's
 * first bytes or its FIN).
 */
typedef void upstream_conn_cb(void *arg, int fd, struct upstream *up,
    enum upstream_status st, int err, short ready);

/*
 * upstream_connect(h, rt, client, data_first, cb, arg): connect a client
 * at ${client}, on the loop of ${h}, to an upstream of route ${rt}:
 * pool_pick(), then a non-blocking connect bounded by connect_timeout, and
 * on failure the next upstream, up to retries more.  For a host name with
 * addresses of both families, Happy Eyeballs (RFC 8305): the other family
 * starts if the first has not answered in 250 ms, the first to connect
 * wins, and a family that won is tried first for a while (pool_he_won()).
 * With no socket to be had it pauses the worker's accepting
 * (h->pause_accept()) and tries again every 250 ms, within
 * connect_timeout.  Each failed connect counts against its upstream
 * (pool_connect_failed(), a rate-limited "connect failed" warning), the
 * success for it (pool_connect_ok(), the connect time in the route's
 * stats).
 * ${data_first}: the client's first bytes are already in, so the
 * handshake's last ACK may wait a moment to ride on them (TCP_QUICKACK
 * off before connect()): one segment fewer per connection.  Not without
 * such bytes: a server that speaks first could not accept until the
 * delayed ACK's timer fired (up to 200 ms).
 * Calls cb(arg, ...) exactly once, never from within upstream_connect(),
 * after the connect has freed itself; ${client} and ${rt} must last until
 * then.  Returns the handle, or NULL (no callback then) on out of memory.
 */
struct upstream_conn *upstream_connect(struct session_host *h,
    struct route_rt *rt, const struct addr *client, bool data_first,
    upstream_conn_cb *cb, void *arg);

/*
 * upstream_connect_cancel(c): give up before the callback: closes the
 * sockets under way and gives back their upstreams, with no verdict on
 * them, and frees ${c}; the callback is never called.  NULL is fine;
 * not allowed once the callback has been called.
 */
void	 upstream_connect_cancel(struct upstream_conn *c);

#endif
