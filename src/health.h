/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_HEALTH_H
#define RELAY46_HEALTH_H

struct config;
struct event_base;
struct health;

/*
 * Upkeep of the pools of a config, on the control thread's loop: active
 * TCP checks (health_check = tcp) every check_interval, and host name
 * upstreams looked up again every `resolve` interval, or sooner when one
 * of a name's addresses is down.  It never touches a session: results go
 * into the pools (pool.h), which the workers read.
 */

/* health_start(base, cfg): start; NULL on out of memory. */
struct health *health_start(struct event_base *base, struct config *cfg);

/* health_stop(h): cancel checks and timers; NULL is fine. */
void	 health_stop(struct health *h);

#endif
