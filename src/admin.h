/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_ADMIN_H
#define RELAY46_ADMIN_H

#include "acl.h"
#include "addr.h"

struct admin;
struct event_base;
struct metrics_snapshot;

/*
 * The admin HTTP endpoint (libevent evhttp) on the control thread's loop:
 * GET /metrics (text/plain; version=0.0.4), /status (application/json),
 * / (text/html).  Anything else: 404; a method other than GET or HEAD:
 * 405.  A client not allowed by ${allow} is closed at accept, before a
 * byte of it is read, without an answer (an empty ACL allows everyone:
 * the caller enforces "non-loopback needs admin_allow"); one let in
 * before a reload narrowed ${allow} gets 403.  A request whose Host (or
 * absolute URI) is not an IP address or localhost, with a port or not,
 * gets 403: DNS rebinding.  At most 16 connections are held at once
 * (accepting pauses until one ends), each for at most 10 s from its
 * accept, however slowly it sends; out of descriptors, accepting pauses
 * for 250 ms, logged at most once a second.
 */

/*
 * Fill *${s} for one request; admin calls ${done} with the same pointer
 * once it has formatted it, so the filler may free what it allocated,
 * with s->sessions_shown set if the page showed the busiest sessions
 * (/ and /status).
 */
typedef void admin_snapshot_fn(void *arg, struct metrics_snapshot *s);
typedef void admin_release_fn(void *arg, struct metrics_snapshot *s);

/*
 * admin_open(a, err, errlen): bind and listen on ${a}, as root if need be:
 * main() calls it beside the route listeners, before anything says
 * "started", so that a port in use stops start-up like theirs does.
 * Returns the fd, which the caller owns, or -1 with the reason in ${err}
 * ("listen 127.0.0.1:9100: Address already in use").
 */
int	 admin_open(const struct addr *a, char *err, size_t errlen);

/*
 * admin_start(base, fd, allow, fill, release, arg, err, errlen): serve on
 * the listening socket ${fd} (from admin_open()), which the admin owns
 * from now on, even when this fails (it is closed then).  ${allow} must
 * outlive the admin.  Returns NULL (out of memory) with the reason in
 * ${err}.
 */
struct admin *admin_start(struct event_base *base, int fd,
	    const struct acl *allow, admin_snapshot_fn *fill,
	    admin_release_fn *release, void *arg, char *err, size_t errlen);

/*
 * admin_set_allow(a, allow): from the next request on, ${allow} decides
 * (a reload's admin_allow); it must outlive the admin or the next call.
 */
void	 admin_set_allow(struct admin *a, const struct acl *allow);

/* admin_stop(a): close the listener and every connection; NULL is fine. */
void	 admin_stop(struct admin *a);

#endif
