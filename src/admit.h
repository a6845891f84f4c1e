/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_ADMIT_H
#define RELAY46_ADMIT_H

#include <stdbool.h>

#include "session_end.h"

struct addr;
struct config;
struct pool;
struct route;

/*
 * admit_enter(cfg, r, client): may the peer at ${client} in on route
 * ${r} of ${cfg}, before anything is allocated for it?  With
 * accept_proxy, first whether it may send a header at all (proxy_from):
 * ahead of the limits, so that a stranger never holds a place in them;
 * then the process's max_connections and the route's; without
 * accept_proxy, allow/deny and max_per_client too (admit_client()).
 * SESSION_END_DONE with the places taken, or the reason with none taken.
 */
enum session_end admit_enter(const struct config *cfg, const struct route *r,
    const struct addr *client);

/*
 * admit_client(r, a): the client is known (at accept, or from its PROXY
 * header): allow/deny, then a place in max_per_client.
 * SESSION_END_DONE with the place taken, or the reason.
 */
enum session_end admit_client(const struct route *r, const struct addr *a);

/*
 * admit_leave(p, client, counted): give back the places of a session of
 * pool ${p}: the route's, the process's and, if ${counted}, the
 * client's.  Any thread.
 */
void	 admit_leave(struct pool *p, const struct addr *client, bool counted);

#endif
