/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_RESOLVE_H
#define RELAY46_RESOLVE_H

#include <stddef.h>

#include "addr.h"

struct event_base;
struct resolve_req;

/*
 * Host name lookups with libevent's evdns: every A and AAAA address of a
 * name.  Each lookup reads /etc/resolv.conf and /etc/hosts afresh, so a
 * changed resolver setup is picked up without a restart.  When the
 * environment variable RELAY46_HOSTS names a file, names are looked up
 * in that hosts(5) file only, with no DNS: the tests' seam.  When
 * RELAY46_RESOLV_CONF names a file, evdns reads it instead of
 * /etc/resolv.conf (a test's own name server on a loopback port).
 */

/*
 * resolve_sync(host, port, out, max, n, err, errlen): look ${host} up now
 * (start-up and config checks), blocking.  Fills up to ${max} addresses
 * with ${port} into ${out} and their count into *${n} (at least 1).
 * Returns 0, or -1 with the reason in ${err}.
 */
int	 resolve_sync(const char *host, unsigned port, struct addr *out,
	    size_t max, size_t *n, char *err, size_t errlen);

/*
 * Called once per resolve_start(): ${n} addresses (with the port) on
 * success; on failure ${n} is 0 and ${err} says why.  The array is valid
 * only during the call.
 */
typedef void resolve_cb(void *arg, const struct addr *addrs, size_t n,
	    const char *err);

/*
 * resolve_start(base, host, port, cb, arg): look ${host} up without
 * blocking, on ${base}; ${cb} is called later, from ${base}'s loop, never
 * from inside this call, unless resolve_cancel() comes first.  Returns
 * the lookup, valid until ${cb} is called, or NULL if it could not start
 * (out of memory; ${cb} is then not called).
 */
struct resolve_req *resolve_start(struct event_base *base, const char *host,
	    unsigned port, resolve_cb *cb, void *arg);

/*
 * resolve_cancel(q): ${q}'s callback will not be called.  What the lookup
 * holds is freed from ${base}'s loop a moment later (a loop that is not
 * run again leaks it: see resolve_pending()).
 */
void	 resolve_cancel(struct resolve_req *q);

/*
 * resolve_pending(): lookups started and not yet freed, on any base (one
 * thread only: the control thread's).  Before freeing a base, run its
 * loop until this is 0, so cancelled lookups can finish.
 */
unsigned resolve_pending(void);

#endif
