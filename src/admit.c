/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admit.c: who may come in, and the places a session holds while it
 * lives: the process's max_connections (a count of its own, here), the
 * route's and the client's (kept by route name in pool.c, so that a
 * reload's new pool counts the sessions begun before it), and the
 * allow/deny and proxy_from rules.  A session takes its places at accept
 * (admit_enter()) and gives them back in its teardown (admit_leave()),
 * before its line is written: whoever reads the line may connect again
 * at once, on another worker.  Any thread; no state but the one counter.
 */
#include "autoconf.h"

#include <stdatomic.h>

#include "acl.h"
#include "admit.h"
#include "config.h"
#include "pool.h"
#include "util.h"

/* Sessions of the whole process, every worker's, for max_connections. */
static atomic_uint admit_live;

static void
admit_global_leave(void)
{
	atomic_fetch_sub_explicit(&admit_live, 1, memory_order_relaxed);
}

enum session_end
admit_enter(const struct config *cfg, const struct route *r,
    const struct addr *client)
{
	enum session_end	 why;

	if (r->accept_proxy && !acl_allows(&r->proxy_from, client))
		return SESSION_END_PROXY_UNTRUSTED;
	/* Counted across every worker: the limits are the process's. */
	if (!util_count_enter(&admit_live, cfg->max_connections))
		return SESSION_END_MAX_CONNECTIONS;
	if (!pool_session_enter(r->pool, r->max_connections)) {
		admit_global_leave();
		return SESSION_END_MAX_CONNECTIONS;
	}
	if (!r->accept_proxy &&
	    (why = admit_client(r, client)) != SESSION_END_DONE) {
		pool_session_leave(r->pool);
		admit_global_leave();
		return why;
	}
	return SESSION_END_DONE;
}

enum session_end
admit_client(const struct route *r, const struct addr *a)
{
	if (!acl_allows(&r->acl, a))
		return SESSION_END_DENIED;
	if (!pool_client_enter(r->pool, a, r->max_per_client))
		return SESSION_END_MAX_PER_CLIENT;
	return SESSION_END_DONE;
}

void
admit_leave(struct pool *p, const struct addr *client, bool counted)
{
	pool_session_leave(p);
	admit_global_leave();
	if (counted)
		pool_client_leave(p, client);
}
