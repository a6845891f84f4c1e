/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_POOL_H
#define RELAY46_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "session_end.h"

struct balance_cand;
struct balance_state;
struct route;

/*
 * A route's counters, kept by route name for the life of the process so
 * that they run on across reloads (a Prometheus counter must not go
 * back).  Workers add to them with relaxed atomics.
 */

/* One worker's share, on cache lines of its own: no line is shared. */
struct route_stats_slot {
	_Alignas(64) atomic_uint_fast64_t active;
	atomic_uint_fast64_t ends[SESSION_END_COUNT];
	atomic_uint_fast64_t bytes_up, bytes_down;
	atomic_uint_fast64_t connect_buckets[METRICS_CONNECT_BUCKETS + 1];
	atomic_uint_fast64_t connect_sum_us;
};

/*
 * An upstream address's live sessions (connecting included) on one route,
 * shared by the pool entries for that address of every configuration, so
 * that after a reload max_connections, leastconn and /metrics still count
 * the sessions begun before it.  Refcounted by those entries; one no
 * entry refers to stays on the route's list, to serve another address
 * later, rather than being freed under a worker that may still be
 * reading its count (freed with the route's stats, at exit).
 */
struct pool_load {
	struct pool_load *next;
	struct addr	 addr;
	unsigned	 refs;		/* under the stats lock */
	atomic_uint	 live;
};

struct route_stats {
	struct route_stats *next;
	struct route_stats *hnext;	/* in pool.c's table by name */
	char		*name;
	/*
	 * The route's live sessions, all workers and all configurations
	 * (max_connections): kept here, by route name, so that a reload's
	 * new pool still counts the sessions that started before it.  The
	 * per-client and per-upstream counts live here for the same reason.
	 */
	atomic_uint	 sessions;
	struct pool_load *loads;	/* under the stats lock */
	pthread_mutex_t	 clients_lock;	/* accept path only, never per byte */
	struct pool_client **clients;	/* hash buckets */
	size_t		 nbuckets;
	uint64_t	 clients_key[2];	/* random: a peer cannot aim */
	unsigned	 nslots;	/* one per worker */
	struct route_stats_slot *slot;
};

/*
 * pool_stats(name, nslots): the counters of route ${name}, one slot per
 * worker (each written by its worker only, summed when read), made on
 * first use and kept until pool_stats_free_all() at exit.  NULL on out of
 * memory.
 */
struct route_stats *pool_stats(const char *name, unsigned nslots);
void	 pool_stats_free_all(void);

/* pool_stats_count(): how many routes' counters are kept (for tests). */
size_t	 pool_stats_count(void);

/* pool_stats_slot(st, w): worker ${w}'s slot (the last one if out of range). */
struct route_stats_slot *pool_stats_slot(struct route_stats *st, unsigned w);

/* pool_stats_connect(sl, us): one connect that took ${us} microseconds. */
void	 pool_stats_connect(struct route_stats_slot *sl, uint64_t us);

/*
 * pool_stats_end(sl, why, up, down): one session ended for ${why}, having
 * moved ${up} bytes from its client and ${down} back.
 */
void pool_stats_end(struct route_stats_slot *sl, enum session_end why,
    uint64_t up, uint64_t down);

/*
 * What relay46 knows at run time about a route's upstreams: which are up,
 * how loaded, which addresses a host name has now.  One pool per route of
 * a config, made and freed with it.  The settings stay immutable; only
 * this state moves, and only through atomics, so workers (passive health,
 * load counts) and the control thread (checks, lookups) share it without
 * locks.  The array never moves: it is sized once for every literal
 * upstream and POOL_NAME_ROOM addresses per host name, and entries are
 * appended (by the control thread) and published through ${n}, each name
 * within its own POOL_NAME_ROOM; past that, a name's new address takes
 * the entry of one of its addresses gone, once unused (struct upstream).
 */

/* Addresses added per host name: as many as config.c keeps of one. */
#define POOL_NAME_ROOM		CONFIG_NAME_ADDRS

/*
 * Kinds of connect failure whose log lines are limited apart: refused,
 * timed out, no route to the host, to the network, anything else.
 */
#define UPSTREAM_LOG_KINDS	5

/*
 * Kinds of bad PROXY header whose warnings are limited apart: malformed,
 * cut short, too slow (session.c).
 */
#define POOL_PROXY_LOG_KINDS	3

/*
 * An entry of a host name's line may be given to another address once its
 * own has left the name and no session uses it (pool_set_name_addrs).
 * Workers read entries without locks, so:
 * - addr and name are read only by a session that holds the entry (after
 *   pool_acquire() succeeded), which keeps it from being reused;
 * - what balancing reads of every entry (key, family, load) is atomic;
 * - ${gen} is odd while the control thread rewrites the entry, and
 *   pool_acquire() takes an entry only if ${gen} was even and unchanged
 *   around its count, which the control thread checks is 0 after making
 *   ${gen} odd (both sequentially consistent: one of them sees the other).
 * spec, weight, backup and max_connections are the line's: never change.
 */

/*
 * An upstream's administrative state, the operator's to set: READY takes
 * new sessions; DRAIN takes none, and lets its live ones finish; MAINT
 * takes none either, and its live ones are closed (by whoever set it).
 */
enum pool_admin {
	POOL_ADMIN_READY = 0,
	POOL_ADMIN_DRAIN,
	POOL_ADMIN_MAINT,
};
struct upstream {
	struct addr	 addr;
	char		 name[ADDR_STRLEN];	/* addr, formatted, for logs */
	atomic_uint_fast64_t key;	/* balance_hash(name): identity */
	atomic_int	 family;	/* addr's */
	size_t		 spec;		/* its upstream line: route->specs[spec] */
	unsigned	 weight;
	bool		 backup;
	unsigned	 max_connections;	/* 0: no limit */
	_Atomic(struct pool_load *) load;	/* sessions using its address */
	atomic_uint	 gen;		/* odd: being given another address */

	atomic_bool	 present;	/* in the last lookup (literals: always) */
	atomic_bool	 up;
	atomic_uint	 fails;		/* consecutive failures */
	atomic_uint	 oks;		/* consecutive check successes */
	atomic_uint_fast64_t retry_ms;	/* down: a session may try it from then */
	atomic_uint_fast64_t connects, connect_fails;	/* counters */
	/* Why and since when it is down (pool_mark_down()), for people. */
	atomic_int	 down_err;	/* the last failure's errno */
	atomic_bool	 down_check;	/* ...of an active check, not a connect */
	atomic_uint_fast64_t down_since;	/* unix seconds */
	/*
	 * The operator's (relay46ctl set upstream): enum pool_admin, and the
	 * weight in force, ${weight} until set.  A reload keeps both for the
	 * address (pool_inherit()), the weight only while the line's own
	 * weight= is unchanged.
	 */
	atomic_uint	 admin;
	atomic_uint	 weight_now;
	atomic_uint_fast64_t check_fails;	/* active checks failed: counter */
	/* "connect failed" lines, limited per kind (upstream.c) */
	struct log_limit connect_log[UPSTREAM_LOG_KINDS];
};

/*
 * Happy Eyeballs' memory, per host name line: the family that won a race
 * the other family had started first, tried first until ${until_ms}
 * (RFC 8305 §4 suggests caching), so a black-holed family costs one
 * session its head start, not every session.
 */
#define POOL_HE_MEMORY_MS	(10 * 60 * 1000)

struct pool_he {
	atomic_int	 family;	/* AF_INET, AF_INET6, or 0: none */
	atomic_uint_fast64_t until_ms;
};

struct pool {
	const struct route *route;
	struct route_stats *stats;
	struct upstream	*u;
	size_t		 cap;
	atomic_size_t	 n;		/* published entries of u[] */
	size_t		*spare;		/* per line: entries it may still add */
	struct pool_he	*he;		/* one per upstream line */
	/* accept_proxy: anyone who connects can make one, all workers share */
	struct log_limit proxy_log[POOL_PROXY_LOG_KINDS];
};

/*
 * pool_new(r, workers): the pool of route ${r}, with every upstream
 * address the config found, all up, and counters for ${workers} workers.
 * NULL on out of memory.
 */
struct pool *pool_new(const struct route *r, unsigned workers);

/*
 * pool_inherit(p, old): a reload: each upstream of ${p} at an address
 * that ${old} also had takes over that entry's health (up, failure
 * streaks, retry time) and counters, so a down backend stays down and
 * counters do not restart.  The control thread, before ${p} is handed to
 * the workers.
 */
void	 pool_inherit(struct pool *p, const struct pool *old);

/* pool_free(p): NULL is fine. */
void	 pool_free(struct pool *p);

/*
 * pool_attach(c): give each route of ${c} its pool (pool_new(), counters
 * for c->workers workers), freed with ${c}'s last reference.  The step
 * between loading a config and running it: the parser builds no
 * run-time state, so that "relay46 -t" and the fuzzers register nothing
 * process-wide.  Once per config, before anyone else holds it.  0, or -1
 * on out of memory, and then no route has a pool.
 */
int	 pool_attach(struct config *c);

/* pool_count(p): how many entries of p->u[] may be read (acquire). */
size_t	 pool_count(const struct pool *p);

/*
 * pool_acquire(u): count a session on ${u} unless it is at its
 * max_connections; false if it is full.  pool_release(u) undoes it.
 * Counted by route name and address (struct pool_load): sessions of
 * earlier configurations count too.
 */
bool	 pool_acquire(struct upstream *u);
void	 pool_release(struct upstream *u);

/* pool_live(u): sessions on ${u}'s address now, every configuration's. */
unsigned pool_live(const struct upstream *u);

/*
 * pool_session_enter(p, max): one more session on the route unless it has
 * ${max} (0: no limit), counting those of earlier configurations of the
 * same route name still live; pool_session_leave(p) when it ends.  Any
 * thread.
 */
bool	 pool_session_enter(struct pool *p, unsigned max);
void	 pool_session_leave(struct pool *p);

/*
 * pool_usable(u, now): may a new session try ${u}?  Up, or down but due
 * for another try (retry_ms has come); present in the last lookup.
 */
bool	 pool_usable(const struct upstream *u, uint64_t now);

/*
 * pool_claim_retry(u, now, interval): a down upstream is due: take the
 * one try for this interval (so that one session, not all, probes it).
 * True if this caller got it.
 */
bool	 pool_claim_retry(struct upstream *u, uint64_t now, uint64_t interval);

/*
 * What choosing an upstream for one session needs besides the pool.  The
 * first three are the calling worker's for this pool (struct route_rt),
 * since picks on one thread share the balancing state; ${tried} is the
 * session's.  Arrays have p->cap entries.
 */
struct pool_pick {
	struct balance_state *bal;	/* credit, cursor, random state */
	struct balance_cand *cand;	/* scratch */
	unsigned char	*skip;		/* scratch */
	unsigned char	*tried;		/* 1: the session tried entry i */
	uint64_t	 client;	/* balance = source: client's hash */
	bool		 saw_full;	/* out: one was passed over as full */
};

/*
 * pool_set_admin(p, u, st), pool_set_weight(p, u, w): the operator's
 * change to ${u} (any thread), logged at warn when it changes anything.
 * pool_admin_name(st): "ready", "drain", "maint".  pool_weight(u): the
 * weight in force.
 */
void	 pool_set_admin(struct pool *p, struct upstream *u, enum pool_admin st);
void	 pool_set_weight(struct pool *p, struct upstream *u, unsigned w);
const char *pool_admin_name(enum pool_admin st);
unsigned pool_weight(const struct upstream *u);

/*
 * pool_pick(p, pk, family, spec, now): choose the entry of ${p} that a
 * session connects to next, by the route's balance method, count the
 * session on it (pool_acquire()) and mark it in pk->tried; NULL when none
 * is left.  Never chosen: entries in pk->tried, absent from the last
 * lookup, of another ${family} (0: any) or upstream line ${spec} (-1:
 * any; these two narrow the choice for Happy Eyeballs), taken out by the
 * operator (drain, maint, weight 0), and full ones (max_connections),
 * which set pk->saw_full.  The primaries come first:
 * those up, and a down one whose retry time has come by ${now} (ms,
 * util_now_ms()), handed to one session per check_interval
 * (pool_claim_retry()), unless an active check watches it.  The backups
 * come next: they serve while no primary is up, or once the session has
 * tried every primary it could.  When every entry is down, all are
 * candidates at once, so a total outage ends as soon as one is back.
 * pool_unpick(p, pk, u): undo the pick of ${u}: released, and untried.
 */
struct upstream *pool_pick(struct pool *p, struct pool_pick *pk, int family,
    long spec, uint64_t now);
void	 pool_unpick(struct pool *p, struct pool_pick *pk, struct upstream *u);

/*
 * Health results.  Each logs a state change once, at warn, with the
 * reason: "upstream down" after ${fall} consecutive failures, "upstream
 * up" after ${rise} consecutive successes (a real session's connect counts
 * as enough on its own: rise 1).
 * pool_connect_ok(p, u): a session connected.
 * pool_connect_failed(p, u, err): a session's connect failed (errno, or
 *   ETIMEDOUT for the connect timeout).
 * pool_check_result(p, u, err): an active check ended: 0 or errno.
 */
void	 pool_connect_ok(struct pool *p, struct upstream *u);
void	 pool_connect_failed(struct pool *p, struct upstream *u, int err);
void	 pool_check_result(struct pool *p, struct upstream *u, int err);

/*
 * pool_set_name_addrs(p, spec, addrs, n): the control thread's new lookup
 * result for host name upstream line ${spec}: addresses not yet known are
 * added (appended while the line has room, else in the entry of one of
 * its absent addresses that no session uses), known ones are marked
 * present, and the rest of that line's are marked absent (live sessions
 * on them go on).  Each change is logged.  An empty result is ignored:
 * keep the last good.
 */
void	 pool_set_name_addrs(struct pool *p, size_t spec,
	    const struct addr *addrs, size_t n);

/*
 * pool_he_family(p, spec, now): the family that Happy Eyeballs found
 * answers for upstream line ${spec}, or 0.  pool_he_won(p, spec, family):
 * that family won a race the other had started first: prefer it for
 * POOL_HE_MEMORY_MS (logged when it changes).
 */
int	 pool_he_family(struct pool *p, size_t spec, uint64_t now);
void	 pool_he_won(struct pool *p, size_t spec, int family);

/*
 * pool_client_enter(p, a, max): one more session from client ${a} unless
 * it already has ${max} (0: no limit, always true).  pool_client_leave(p,
 * a) when it ends.  IPv6 clients are counted by /64, and by route name,
 * so sessions of earlier configurations count too.
 */
bool	 pool_client_enter(struct pool *p, const struct addr *a, unsigned max);
void	 pool_client_leave(struct pool *p, const struct addr *a);

/*
 * pool_client_bucket(st, a): the bucket of ${st}'s client table that
 * counts ${a}.  The hash is keyed at random per table (SipHash-2-4), so
 * a peer that chooses its addresses (accept_proxy) cannot aim them all
 * at one bucket.  For tests.
 */
size_t	 pool_client_bucket(const struct route_stats *st, const struct addr *a);

#endif
