/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pool.c: what relay46 knows at run time about each route's upstreams
 * (up or down, present in DNS or not, how loaded), and the per-route
 * counters and limits that must outlive one configuration.
 *
 * It owns two kinds of memory.  A struct pool belongs to one route of one
 * configuration: pool_attach() makes them once the config is loaded, and
 * the config's last reference frees them (through its runtime_free
 * hook), so one lives as long as the last worker, session or health
 * checker holding a reference to that configuration.
 * A struct route_stats, with its pool_load list and its client table, is
 * kept by route name in pool_stats_list for the life of the process, so
 * that counters never go back and limits count the sessions of earlier
 * configurations too; main() frees them all at exit
 * (pool_stats_free_all()).
 *
 * Threads: the workers call the data-path half for every session
 * (pool_pick(), pool_acquire(), pool_release(), pool_connect_ok(),
 * pool_connect_failed(), the session and client counts, Happy Eyeballs'
 * memory).  The control thread calls the rest: pool_attach() and
 * pool_inherit() while loading a configuration, pool_check_result() and
 * pool_set_name_addrs() from health.c, and the reads behind /metrics.
 * An entry changes under the workers only through atomics and the
 * generation protocol described at struct upstream in pool.h.  The two
 * mutexes are taken when a session starts or ends (clients_lock) and when
 * entries are made, reused or freed (pool_stats_lock), never per byte.
 *
 * It must never block on I/O, and never free what a worker may still
 * read: a pool_load that no entry refers to any more stays listed, to be
 * reused, until exit.  Its only output is the log: each change of an
 * upstream's state gives one line at warn.
 */
#include "autoconf.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "balance.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "util.h"

/*
 * Buckets of a route's client table (max_per_client).  A fixed number:
 * the table is made once per route name and never resized, so no accept
 * ever waits for a rehash; with N clients live, a lookup walks about
 * N / 1024 entries under clients_lock.  Only clients with a live session
 * are in it (pool_client_leave() removes one at 0).
 */
#define POOL_CLIENT_BUCKETS	1024

/* One client (an IPv4 address or an IPv6 /64) with sessions on a route. */
struct pool_client {
	struct pool_client *next;
	int		 family;
	uint8_t		 key[16];
	unsigned	 live;
};

/*
 * Every route name's counters, newest first; pool_stats_lock guards the
 * list and each pool_load's ${refs} (the counts themselves are atomics).
 * A process-wide list is the point: a reload makes new pools, and they
 * must find the counters of the route of the same name.
 */
static pthread_mutex_t	 pool_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_stats *pool_stats_list;
/*
 * The same entries by name hash, chained through hnext, so that a
 * config of 10 000 routes finds its counters in one look each, not a
 * walk of the list (a reload of that many took seconds on it).  With no
 * table (out of memory), the list is walked.
 */
static struct route_stats **pool_stats_tab;
static size_t		 pool_stats_nslots, pool_stats_n;

/* The shared count of ${a} on route ${st}, one more reference; NULL: ENOMEM. */
static struct pool_load *
pool_load_get(struct route_stats *st, const struct addr *a)
{
	struct pool_load	*l, *idle = NULL;

	pthread_mutex_lock(&pool_stats_lock);
	for (l = st->loads; l != NULL; l = l->next) {
		if (addr_equal(&l->addr, a))
			break;
		if (l->refs == 0 && idle == NULL &&
		    atomic_load(&l->live) == 0)
			idle = l;
	}
	/* Unused, so workers only ever read its count, which is 0: reuse. */
	if (l == NULL && (l = idle) != NULL)
		l->addr = *a;
	else if (l == NULL && (l = calloc(1, sizeof(*l))) != NULL) {
		l->addr = *a;
		atomic_init(&l->live, 0);
		l->next = st->loads;
		st->loads = l;
	}
	/*
	 * refs counts entries, not sessions: sessions are in ${live}.  It is
	 * what tells an idle count (no entry, no session) from one in use.
	 */
	if (l != NULL)
		l->refs++;
	pthread_mutex_unlock(&pool_stats_lock);
	return l;
}

/* Drop a reference; the count stays listed (struct pool_load). */
static void
pool_load_put(struct pool_load *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&pool_stats_lock);
	l->refs--;
	pthread_mutex_unlock(&pool_stats_lock);
}

/*
 * Entry ${u} of ${p} for address ${a} of line ${spec}: every field from
 * zero, up and present, with the line's settings.  The caller publishes
 * it (pool_new(), pool_add()); until then no worker can reach it, so
 * atomic_init() is enough.  -1: out of memory.
 */
static int
pool_fill(struct pool *p, struct upstream *u, const struct addr *a,
    size_t spec)
{
	const struct upstream_spec *us = &p->route->specs[spec];
	struct pool_load	*l;

	if ((l = pool_load_get(p->stats, a)) == NULL)
		return -1;
	memset(u, 0, sizeof(*u));
	atomic_init(&u->load, l);
	atomic_init(&u->gen, 0);
	u->addr = *a;
	addr_format(a, u->name, sizeof(u->name));
	atomic_init(&u->key, balance_hash(u->name, strlen(u->name)));
	atomic_init(&u->family, a->ss.ss_family);
	u->spec = spec;
	u->weight = us->weight;
	u->backup = us->backup;
	u->max_connections = us->max_connections;
	atomic_init(&u->present, true);
	atomic_init(&u->up, true);
	atomic_init(&u->fails, 0);
	atomic_init(&u->oks, 0);
	atomic_init(&u->retry_ms, 0);
	atomic_init(&u->connects, 0);
	atomic_init(&u->connect_fails, 0);
	atomic_init(&u->check_fails, 0);
	atomic_init(&u->down_err, 0);
	atomic_init(&u->down_check, false);
	atomic_init(&u->down_since, 0);
	atomic_init(&u->admin, POOL_ADMIN_READY);
	atomic_init(&u->weight_now, us->weight);
	return 0;
}

/* A new route's counters and client table; NULL on out of memory. */
static struct route_stats *
pool_stats_new(const char *name, unsigned nslots)
{
	struct route_stats	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->nslots = nslots;
	st->nbuckets = POOL_CLIENT_BUCKETS;
	if ((st->name = util_strdup(name)) == NULL ||
	    (st->slot = aligned_alloc(64, nslots * sizeof(*st->slot))) ==
	    NULL || (st->clients = calloc(st->nbuckets,
	    sizeof(*st->clients))) == NULL ||
	    pthread_mutex_init(&st->clients_lock, NULL) != 0) {
		free(st->clients);
		free(st->slot);
		free(st->name);
		free(st);
		return NULL;
	}
	/*
	 * Each slot is aligned to 64 bytes (struct route_stats_slot) so that
	 * two workers never write the same cache line; aligned_alloc() wants
	 * a size that is a multiple of the alignment, which the slot's
	 * _Alignas gives.
	 */
	memset(st->slot, 0, nslots * sizeof(*st->slot));
	/* Unguessable without the key; a fallback still differs per table. */
	if (getentropy(st->clients_key, sizeof(st->clients_key)) == -1) {
		st->clients_key[0] = util_now_us() ^ (uint64_t)getpid() << 32;
		st->clients_key[1] = (uint64_t)(uintptr_t)st;
	}
	return st;
}

/* Under pool_stats_lock: the entry named ${name}, or NULL. */
static struct route_stats *
pool_stats_find(const char *name)
{
	struct route_stats	*st;

	if (pool_stats_tab == NULL) {
		for (st = pool_stats_list; st != NULL; st = st->next)
			if (strcmp(st->name, name) == 0)
				return st;
		return NULL;
	}
	st = pool_stats_tab[util_hash_str(name) & (pool_stats_nslots - 1)];
	for (; st != NULL; st = st->hnext)
		if (strcmp(st->name, name) == 0)
			return st;
	return NULL;
}

/*
 * Under pool_stats_lock: put new entry ${st} on the list and in the table,
 * which doubles at one entry a slot (if it cannot, its chains grow).
 */
static void
pool_stats_add(struct route_stats *st)
{
	struct route_stats	**tab, *e;
	size_t			  n, x;

	st->next = pool_stats_list;
	pool_stats_list = st;
	pool_stats_n++;
	if (pool_stats_n > pool_stats_nslots) {
		n = pool_stats_nslots == 0 ? 64 : 2 * pool_stats_nslots;
		if ((tab = calloc(n, sizeof(*tab))) != NULL) {
			for (e = pool_stats_list; e != NULL; e = e->next) {
				x = util_hash_str(e->name) & (n - 1);
				e->hnext = tab[x];
				tab[x] = e;
			}
			free(pool_stats_tab);
			pool_stats_tab = tab;
			pool_stats_nslots = n;
			return;
		}
	}
	if (pool_stats_tab != NULL) {
		x = util_hash_str(st->name) & (pool_stats_nslots - 1);
		st->hnext = pool_stats_tab[x];
		pool_stats_tab[x] = st;
	}
}

/*
 * Found by name, or made: the first configuration that names a route sets
 * its slot count for good.  The number of workers cannot change without
 * a restart (reload.c refuses it before it makes any pool), so later
 * configurations ask for the same count.
 */
struct route_stats *
pool_stats(const char *name, unsigned nslots)
{
	struct route_stats	*st;

	if (nslots == 0)
		nslots = 1;
	pthread_mutex_lock(&pool_stats_lock);
	if ((st = pool_stats_find(name)) == NULL &&
	    (st = pool_stats_new(name, nslots)) != NULL)
		pool_stats_add(st);
	pthread_mutex_unlock(&pool_stats_lock);
	return st;
}

/*
 * Out of range only if a route's counters were made for fewer workers
 * than now run, which reload.c prevents (pool_stats()); a guard all the
 * same.  Sharing the last slot is still correct, every field being an
 * atomic, only slower: far better than writing past the array.
 */
struct route_stats_slot *
pool_stats_slot(struct route_stats *st, unsigned w)
{
	return &st->slot[w < st->nslots ? w : st->nslots - 1];
}

/*
 * At exit, after every worker has stopped and every configuration has
 * been freed: nothing can read the counters any more.
 */
void
pool_stats_free_all(void)
{
	struct route_stats	*st;
	struct pool_client	*c, *next;
	struct pool_load	*l;
	size_t			 i;

	pthread_mutex_lock(&pool_stats_lock);
	while ((st = pool_stats_list) != NULL) {
		pool_stats_list = st->next;
		for (i = 0; i < st->nbuckets; i++)
			for (c = st->clients[i]; c != NULL; c = next) {
				next = c->next;
				free(c);
			}
		/* Pools still hold loads only if they outlive us: none do. */
		while ((l = st->loads) != NULL) {
			st->loads = l->next;
			free(l);
		}
		pthread_mutex_destroy(&st->clients_lock);
		free(st->clients);
		free(st->slot);
		free(st->name);
		free(st);
	}
	free(pool_stats_tab);
	pool_stats_tab = NULL;
	pool_stats_nslots = pool_stats_n = 0;
	pthread_mutex_unlock(&pool_stats_lock);
}

size_t
pool_stats_count(void)
{
	size_t	 n;

	pthread_mutex_lock(&pool_stats_lock);
	n = pool_stats_n;
	pthread_mutex_unlock(&pool_stats_lock);
	return n;
}

/*
 * Counted in the first bucket whose bound is at least the time taken,
 * each bucket on its own (metrics.c makes them cumulative when it writes
 * them); past the last bound, in the extra +Inf bucket.  Relaxed: the
 * slot is this worker's, and a reader only sums.
 */
void
pool_stats_end(struct route_stats_slot *sl, enum session_end why, uint64_t up,
    uint64_t down)
{
	atomic_fetch_add_explicit(&sl->ends[why], 1, memory_order_relaxed);
	if (up != 0)
		atomic_fetch_add_explicit(&sl->bytes_up, up,
		    memory_order_relaxed);
	if (down != 0)
		atomic_fetch_add_explicit(&sl->bytes_down, down,
		    memory_order_relaxed);
}

void
pool_stats_connect(struct route_stats_slot *sl, uint64_t us)
{
	size_t	 i;

	for (i = 0; i < METRICS_CONNECT_BUCKETS &&
	    (double)us / 1e6 > metrics_connect_bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&sl->connect_buckets[i], 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&sl->connect_sum_us, us,
	    memory_order_relaxed);
}

/*
 * Called by reload.c before the workers are handed ${p}, so no other
 * thread reads ${p} yet.  ${old} is still in use: what its sessions
 * record between this copy and the workers' switch is not carried over,
 * at most a few results, which the next check or connect puts right.
 * Quadratic in the number of entries, which is small (a route's
 * upstreams) and paid once per reload.
 */
/*
 * What else a reload carries over for an address: why and since when it
 * is down, and the operator's state; the operator's weight too, unless
 * the file's own weight= for it changed, which is the newer word.
 */
static void
pool_inherit_state(struct upstream *u, const struct upstream *o)
{
	atomic_store(&u->down_err, atomic_load(&o->down_err));
	atomic_store(&u->down_check, atomic_load(&o->down_check));
	atomic_store(&u->down_since, atomic_load(&o->down_since));
	atomic_store(&u->admin, atomic_load(&o->admin));
	if (u->weight == o->weight)
		atomic_store(&u->weight_now, atomic_load(&o->weight_now));
}

void
pool_inherit(struct pool *p, const struct pool *old)
{
	size_t		 i, j, n = pool_count(p), no = pool_count(old);
	struct upstream	*u;
	const struct upstream *o;

	for (i = 0; i < n; i++) {
		u = &p->u[i];
		for (j = 0; j < no; j++) {
			o = &old->u[j];
			if (!addr_equal(&u->addr, &o->addr))
				continue;
			atomic_store(&u->up, atomic_load(&o->up));
			atomic_store(&u->fails, atomic_load(&o->fails));
			atomic_store(&u->oks, atomic_load(&o->oks));
			atomic_store(&u->retry_ms, atomic_load(&o->retry_ms));
			atomic_store(&u->connects, atomic_load(&o->connects));
			atomic_store(&u->connect_fails,
			    atomic_load(&o->connect_fails));
			atomic_store(&u->check_fails,
			    atomic_load(&o->check_fails));
			pool_inherit_state(u, o);
			break;
		}
	}
}

struct pool *
pool_new(const struct route *r, unsigned workers)
{
	struct pool	*p;
	size_t		 i, cap = r->nup;

	/*
	 * Sized once, for good: workers index u[] without a lock, so it may
	 * never be reallocated.  config_fd_reserve() counts the same way.
	 */
	for (i = 0; i < r->nspecs; i++)
		if (r->specs[i].host != NULL)
			cap += POOL_NAME_ROOM;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->route = r;
	p->cap = cap;
	if ((p->stats = pool_stats(r->name, workers)) == NULL) {
		free(p);
		return NULL;
	}
	atomic_init(&p->n, 0);
	/*
	 * he and spare get one element more than there are lines, so that
	 * neither asks calloc() for 0 bytes, which may return NULL and would
	 * read as out of memory.
	 */
	if ((p->u = calloc(cap, sizeof(*p->u))) == NULL ||
	    (p->he = calloc(r->nspecs + 1, sizeof(*p->he))) == NULL ||
	    (p->spare = calloc(r->nspecs + 1, sizeof(*p->spare))) == NULL) {
		pool_free(p);
		return NULL;
	}
	for (i = 0; i < r->nspecs; i++)
		if (r->specs[i].host != NULL)
			p->spare[i] = POOL_NAME_ROOM;
	for (i = 0; i < r->nup; i++) {
		if (pool_fill(p, &p->u[i], &r->up[i].addr, r->up[i].spec) ==
		    -1) {
			pool_free(p);
			return NULL;
		}
		/* No worker sees the pool yet; pool_free() needs the count. */
		atomic_store_explicit(&p->n, i + 1, memory_order_relaxed);
	}
	return p;
}

/*
 * Runs on whichever thread drops the config's last reference, a worker
 * included: it only gives back each entry's pool_load reference, under
 * pool_stats_lock, and frees what no other thread can reach any more.
 */
void
pool_free(struct pool *p)
{
	size_t	 i, n;

	if (p == NULL)
		return;
	n = p->u != NULL ? pool_count(p) : 0;
	for (i = 0; i < n; i++)
		pool_load_put(atomic_load(&p->u[i].load));
	free(p->spare);
	free(p->he);
	free(p->u);
	free(p);
}

/* ${c}'s runtime_free hook: its pools go with its last reference. */
static void
pool_detach(struct config *c)
{
	size_t	 i;

	for (i = 0; i < c->nroutes; i++) {
		pool_free(c->routes[i].pool);
		c->routes[i].pool = NULL;
	}
	c->runtime_free = NULL;
}

int
pool_attach(struct config *c)
{
	size_t	 i;

	assert(c->runtime_free == NULL);	/* once per config */
	/* Set first: a half-made set is freed the same way. */
	c->runtime_free = pool_detach;
	for (i = 0; i < c->nroutes; i++) {
		c->routes[i].pool = pool_new(&c->routes[i], c->workers);
		if (c->routes[i].pool == NULL) {
			pool_detach(c);
			return -1;
		}
	}
	return 0;
}

/*
 * Acquire: pairs with the release store in pool_add(), so an entry
 * counted here was filled before the count was read.
 */
size_t
pool_count(const struct pool *p)
{
	return atomic_load_explicit(&p->n, memory_order_acquire);
}

/*
 * The worker's half of the protocol in struct upstream.  The count and
 * the second look at ${gen} are sequentially consistent, as are the
 * control thread's make-${gen}-odd and its look at the count in
 * pool_reuse(): in the single order of those four, one side's first step
 * comes before the other's second, so either this worker sees ${gen}
 * moved and backs out, or pool_reuse() sees the count and gives up.  An
 * entry can never be rewritten under a session that holds it.
 *
 * False also when the entry is being rewritten; the caller counts that
 * as full, which only ever happens to an entry whose address just left
 * DNS.
 */
bool
pool_acquire(struct upstream *u)
{
	struct pool_load	*l;
	unsigned		 g, v;

	/* Odd: the control thread is writing the entry (struct upstream). */
	if ((g = atomic_load_explicit(&u->gen, memory_order_acquire)) & 1)
		return false;
	l = atomic_load_explicit(&u->load, memory_order_acquire);
	v = atomic_load_explicit(&l->live, memory_order_relaxed);
	/* A CAS, not an add: max_connections must hold across workers. */
	do {
		if (u->max_connections != 0 && v >= u->max_connections)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&l->live, &v, v + 1,
	    memory_order_seq_cst, memory_order_relaxed));
	/* Counted first, then checked: pool_reuse() does the reverse. */
	if (atomic_load_explicit(&u->gen, memory_order_seq_cst) != g) {
		atomic_fetch_sub_explicit(&l->live, 1, memory_order_release);
		return false;
	}
	return true;
}

void
pool_release(struct upstream *u)
{
	/* Release: pool_reuse() may rewrite what this session read. */
	atomic_fetch_sub_explicit(&atomic_load_explicit(&u->load,
	    memory_order_relaxed)->live, 1, memory_order_release);
}

/*
 * For balancing and /metrics: a hint that may be stale by the time it is
 * used, which leastconn tolerates.  Acquire on ${load} so that a count
 * pool_reuse() has just installed is seen initialised.
 */
unsigned
pool_live(const struct upstream *u)
{
	return atomic_load_explicit(&atomic_load_explicit(&u->load,
	    memory_order_acquire)->live, memory_order_relaxed);
}

/*
 * The count lives in the route's stats, not in ${p}: a session of the
 * configuration before a reload still counts against the new limit.
 */
bool
pool_session_enter(struct pool *p, unsigned max)
{
	return util_count_enter(&p->stats->sessions, max);
}

void
pool_session_leave(struct pool *p)
{
	atomic_fetch_sub_explicit(&p->stats->sessions, 1, memory_order_relaxed);
}

/*
 * Relaxed loads: these flags publish nothing else, and a stale one costs
 * at most one session a failed try (which moves on to the next upstream)
 * or one pick that skips an upstream just back.
 */
bool
pool_usable(const struct upstream *u, uint64_t now)
{
	if (!atomic_load_explicit(&u->present, memory_order_relaxed))
		return false;
	return atomic_load_explicit(&u->up, memory_order_relaxed) ||
	    now >= atomic_load_explicit(&u->retry_ms, memory_order_relaxed);
}

/*
 * The compare-and-swap alone decides who probes: of the workers that see
 * the same due time, exactly one moves it on.  Nothing else rides on it,
 * so relaxed suffices.
 */
bool
pool_claim_retry(struct upstream *u, uint64_t now, uint64_t interval)
{
	uint_fast64_t	 due = atomic_load_explicit(&u->retry_ms,
			    memory_order_relaxed);

	if (now < due)
		return false;
	return atomic_compare_exchange_strong_explicit(&u->retry_ms, &due,
	    now + interval, memory_order_relaxed, memory_order_relaxed);
}

/*
 * May ${u} take new sessions at all, whatever its health?  In the last
 * lookup, and not taken out by the operator (drain, maint, weight 0), so
 * that a drained primary lets the backups serve as a down one would.
 */
static bool
pool_pick_admitted(const struct upstream *u)
{
	return atomic_load_explicit(&u->present, memory_order_relaxed) &&
	    atomic_load_explicit(&u->admin, memory_order_relaxed) ==
	    POOL_ADMIN_READY &&
	    atomic_load_explicit(&u->weight_now, memory_order_relaxed) != 0;
}

/*
 * May a new session try ${u}?  Up; or down but due for a probe, when no
 * active check is there to find out instead (passive health).
 */
static bool
pool_pick_usable(const struct pool *p, const struct upstream *u, uint64_t now)
{
	if (atomic_load_explicit(&u->up, memory_order_relaxed))
		return true;
	return !p->route->health_check && pool_usable(u, now);
}

/*
 * Set pk->skip for every entry of the first ${n} that this pick may not
 * take from one tier (backups or not); ${any_health}: down ones may be
 * taken too.  Fills pk->cand for balance_pick().  Returns how many are
 * left.
 */
static size_t
pool_pick_tier(struct pool *p, struct pool_pick *pk, size_t n, uint64_t now,
    bool backup, bool any_health, int family, long spec)
{
	struct upstream	*u = p->u;
	size_t		 i, left = 0;

	for (i = 0; i < n; i++) {
		pk->cand[i].weight = pool_weight(&u[i]);
		pk->cand[i].live = pool_live(&u[i]);
		pk->cand[i].key = atomic_load_explicit(&u[i].key,
		    memory_order_relaxed);
		pk->skip[i] = pk->tried[i] || u[i].backup != backup ||
		    !pool_pick_admitted(&u[i]) ||
		    (!any_health && !pool_pick_usable(p, &u[i], now)) ||
		    (family != 0 &&
			atomic_load_explicit(&u[i].family,
			    memory_order_relaxed) != family) ||
		    (spec != -1 && u[i].spec != (size_t)spec);
		if (!pk->skip[i] && u[i].max_connections != 0 &&
		    pk->cand[i].live >= u[i].max_connections) {
			pk->skip[i] = 1;
			pk->saw_full = true;
		}
		left += !pk->skip[i];
	}
	return left;
}

/*
 * The tiers in turn; within one, balance_pick() proposes and the entry
 * itself has the last word: a down one due for a retry goes to the
 * session that claims the retry, and one that filled up since the scratch
 * was filled (another worker) is passed over.
 */
struct upstream *
pool_pick(struct pool *p, struct pool_pick *pk, int family, long spec,
    uint64_t now)
{
	const struct route *r = p->route;
	struct upstream	*u;
	size_t		 n = pool_count(p), k, i;
	bool		 prim_up = false, back_up = false, outage;
	int		 j, tier;

	for (i = 0; i < n; i++)
		if (pool_pick_admitted(&p->u[i]) &&
		    atomic_load_explicit(&p->u[i].up, memory_order_relaxed))
			*(p->u[i].backup ? &back_up : &prim_up) = true;
	outage = !prim_up && !back_up;
	for (tier = 0; tier < 2; tier++) {
		if (pool_pick_tier(p, pk, n, now, tier == 1, outage, family,
			spec) == 0)
			continue;
		/* Each round returns or skips one more: n rounds at most. */
		for (k = 0; k < n; k++) {
			j = balance_pick(r->balance, pk->cand, n, pk->skip,
			    pk->bal, pk->client);
			if (j == -1)
				break;
			u = &p->u[j];
			pk->skip[j] = 1;
			if (!outage && !atomic_load(&u->up) &&
			    !pool_claim_retry(u, now, r->check_interval_ms))
				continue;
			if (!pool_acquire(u)) {
				pk->saw_full = true;
				continue;
			}
			pk->tried[j] = 1;
			return u;
		}
	}
	return NULL;
}

void
pool_unpick(struct pool *p, struct pool_pick *pk, struct upstream *u)
{
	pk->tried[u - p->u] = 0;
	pool_release(u);
}

static void
pool_log(const struct pool *p, const struct upstream *u, const char *msg,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * One warn line about upstream ${u}: route=R upstream=A msg="MSG"
 * reason="...", the form operators grep for state changes.  Not rate
 * limited: each caller logs only on a change of state, which
 * check_interval, rise/fall and the resolve interval already bound.
 */
static void
pool_log(const struct pool *p, const struct upstream *u, const char *msg,
    const char *fmt, ...)
{
	char	 reason[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_warn("route=%s upstream=%s msg=\"%s\" reason=\"%s\"",
	    p->route->name, u->name, msg, reason);
}

/*
 * Down: logged by whichever thread flips it, once, since only one
 * exchange can see true.  The retry time goes first, so that a probe is
 * not due the moment the upstream goes down; a worker's relaxed read may
 * still see the old time and probe once early, which costs one connect.
 * ${check}: active checks failed, else sessions' connects; ${err} is the
 * last failure's errno.  Why and since when are kept for relay46ctl.
 */
static void
pool_mark_down(struct pool *p, struct upstream *u, bool check, int err)
{
	unsigned	 fails = atomic_load(&u->fails);
	const char	*what = check ? "checks" : "connects";

	atomic_store(&u->retry_ms, util_now_ms() + p->route->check_interval_ms);
	atomic_store(&u->down_err, err);
	atomic_store(&u->down_check, check);
	if (atomic_exchange(&u->up, false)) {
		atomic_store(&u->down_since, (uint64_t)time(NULL));
		pool_log(p, u, "upstream down", "%u %s failed in a row, last: "
		    "%s", fails, what, strerror(err));
	}
}

/* The operator's word on ${u}: logged when it changes anything. */
void
pool_set_admin(struct pool *p, struct upstream *u, enum pool_admin st)
{
	unsigned	 was = atomic_exchange(&u->admin, (unsigned)st);

	if (was != (unsigned)st)
		pool_log(p, u, "upstream state", "%s -> %s (operator)",
		    pool_admin_name((enum pool_admin)was), pool_admin_name(st));
}

void
pool_set_weight(struct pool *p, struct upstream *u, unsigned w)
{
	unsigned	 was = atomic_exchange(&u->weight_now, w);

	if (was != w)
		pool_log(p, u, "upstream weight", "%u -> %u (operator)", was,
		    w);
}

const char *
pool_admin_name(enum pool_admin st)
{
	switch (st) {
	case POOL_ADMIN_READY:
		return "ready";
	case POOL_ADMIN_DRAIN:
		return "drain";
	case POOL_ADMIN_MAINT:
		return "maint";
	}
	return "unknown";
}

unsigned
pool_weight(const struct upstream *u)
{
	return atomic_load_explicit(&u->weight_now, memory_order_relaxed);
}

/* Up again: logged once, as pool_mark_down(), with ${why} as the reason. */
static void
pool_mark_up(struct pool *p, struct upstream *u, const char *why)
{
	if (!atomic_exchange(&u->up, true))
		pool_log(p, u, "upstream up", "%s", why);
}

/*
 * Without active checks, a real session's connect is proof enough: up at
 * once, because a client is being served by it.  With them, the checks
 * decide, as relay46(8) promises: a session in a total outage (which
 * tries the down upstreams rather than fail every client) does not skip
 * rise, so a flapping upstream does not get every session on its first
 * good connect.
 */
void
pool_connect_ok(struct pool *p, struct upstream *u)
{
	atomic_fetch_add_explicit(&u->connects, 1, memory_order_relaxed);
	if (atomic_load_explicit(&u->fails, memory_order_relaxed) != 0)
		atomic_store_explicit(&u->fails, 0, memory_order_relaxed);
	if (!p->route->health_check &&
	    !atomic_load_explicit(&u->up, memory_order_relaxed))
		pool_mark_up(p, u, "a session connected");
}

/*
 * Passive health: ${fall} failed connects in a row, from any worker, mark
 * ${u} down; the exchange in pool_mark_down() lets only one of the
 * workers that get there at once log it.
 */
void
pool_connect_failed(struct pool *p, struct upstream *u, int err)
{
	unsigned	 fails;

	atomic_fetch_add_explicit(&u->connect_fails, 1, memory_order_relaxed);
	atomic_store(&u->oks, 0);
	fails = atomic_fetch_add(&u->fails, 1) + 1;
	if (!atomic_load(&u->up)) {
		/* A retry of a down one failed: wait another interval. */
		atomic_store(&u->retry_ms, util_now_ms() +
		    p->route->check_interval_ms);
		return;
	}
	if (fails >= p->route->fall)
		pool_mark_down(p, u, false, err);
}

/*
 * Active health, on the control thread: ${rise} passed checks in a row
 * bring ${u} up, ${fall} failed ones take it down.  A failed check of an
 * upstream already down leaves its retry time alone: sessions do not
 * probe an upstream that active checks watch (pool_pick_usable()).
 */
void
pool_check_result(struct pool *p, struct upstream *u, int err)
{
	unsigned	 n;
	char		 why[64];

	if (err == 0) {
		atomic_store(&u->fails, 0);
		n = atomic_fetch_add(&u->oks, 1) + 1;
		if (n >= p->route->rise && !atomic_load(&u->up)) {
			snprintf(why, sizeof(why), "%u checks passed in a row",
			    n);
			pool_mark_up(p, u, why);
		}
		return;
	}
	atomic_store(&u->oks, 0);
	atomic_fetch_add_explicit(&u->check_fails, 1, memory_order_relaxed);
	n = atomic_fetch_add(&u->fails, 1) + 1;
	if (!atomic_load(&u->up))
		return;
	if (n >= p->route->fall)
		pool_mark_down(p, u, true, err);
}

/*
 * Mark the addresses of line ${spec} present or absent, as ${addrs} says.
 * An absent entry keeps its sessions (they run on); it only stops being
 * picked, and becomes free to reuse once its count is 0.
 */
static void
pool_mark_present(struct pool *p, size_t spec, const struct addr *addrs,
    size_t n)
{
	size_t		 i, j, have = pool_count(p);
	struct upstream	*u;
	bool		 found;

	for (i = 0; i < have; i++) {
		u = &p->u[i];
		if (u->spec != spec)
			continue;
		for (found = false, j = 0; j < n && !found; j++)
			found = addr_equal(&u->addr, &addrs[j]);
		if (atomic_exchange(&u->present, found) != found)
			pool_log(p, u, found ? "upstream added" :
			    "upstream removed", "%s %s",
			    p->route->specs[spec].host, found ?
			    "has it again" : "no longer has it");
	}
}

/*
 * Give entry ${u}, absent, to address ${a}, if no session uses it: the
 * control thread's half of the protocol in struct upstream.  The counts
 * and health are the new address's own, from zero.  0, or -1 (in use).
 */
static int
pool_reuse(struct pool *p, struct upstream *u, const struct addr *a)
{
	struct pool_load	*old = atomic_load(&u->load), *l;

	/* Odd: pool_acquire() now refuses it (seq_cst: see there). */
	atomic_fetch_add(&u->gen, 1);
	if (atomic_load(&old->live) != 0 ||
	    (l = pool_load_get(p->stats, a)) == NULL) {
		atomic_fetch_add_explicit(&u->gen, 1, memory_order_release);
		return -1;
	}
	u->addr = *a;
	addr_format(a, u->name, sizeof(u->name));
	atomic_store(&u->key, balance_hash(u->name, strlen(u->name)));
	atomic_store(&u->family, a->ss.ss_family);
	atomic_store(&u->load, l);
	atomic_store(&u->up, true);
	atomic_store(&u->fails, 0);
	atomic_store(&u->oks, 0);
	atomic_store(&u->retry_ms, 0);
	atomic_store(&u->connects, 0);
	atomic_store(&u->connect_fails, 0);
	atomic_store(&u->check_fails, 0);
	memset(u->connect_log, 0, sizeof(u->connect_log));
	pool_load_put(old);
	/*
	 * Even again, with release: a worker whose acquire load sees this
	 * value also sees the new addr and name written above.  Present
	 * last, so that balancing starts picking it only once it is whole.
	 */
	atomic_fetch_add_explicit(&u->gen, 1, memory_order_release);
	atomic_store(&u->present, true);
	return 0;
}

/*
 * A new address for line ${spec}: appended while the line has room, else
 * in the place of one of its addresses gone.  0, or -1 (no place).
 */
static int
pool_add(struct pool *p, size_t spec, const struct addr *a)
{
	const char	*host = p->route->specs[spec].host;
	char		 was[ADDR_STRLEN];
	size_t		 i, have = pool_count(p);
	struct upstream	*u;

	/*
	 * Only the control thread appends, so ${have} cannot move under us;
	 * each line has its own POOL_NAME_ROOM so that one name with many
	 * addresses cannot take the room of another.
	 */
	if (p->spare[spec] > 0 && have < p->cap) {
		if (pool_fill(p, &p->u[have], a, spec) == -1)
			return -1;
		p->spare[spec]--;
		/* Filled first, then published: workers read up to ${n}. */
		atomic_store_explicit(&p->n, have + 1, memory_order_release);
		pool_log(p, &p->u[have], "upstream added", "new address of %s",
		    host);
		return 0;
	}
	for (i = 0; i < have; i++) {
		u = &p->u[i];
		if (u->spec != spec || atomic_load(&u->present))
			continue;
		memcpy(was, u->name, sizeof(was));
		if (pool_reuse(p, u, a) == 0) {
			pool_log(p, u, "upstream added", "new address of %s, "
			    "in the place of %s, gone", host, was);
			return 0;
		}
	}
	return -1;
}

/*
 * Absent ones are marked first, so that an address gone from this very
 * answer frees its entry for a new one in the same call (if no session
 * uses it).  The control thread only; the workers see each entry change
 * through the protocol in struct upstream.
 */
void
pool_set_name_addrs(struct pool *p, size_t spec, const struct addr *addrs,
    size_t n)
{
	size_t		 i, j, have;
	bool		 found;

	if (n == 0)
		return;
	pool_mark_present(p, spec, addrs, n);
	for (j = 0; j < n; j++) {
		have = pool_count(p);
		for (found = false, i = 0; i < have && !found; i++)
			found = addr_equal(&p->u[i].addr, &addrs[j]);
		if (found || pool_add(p, spec, &addrs[j]) == 0)
			continue;
		log_warn("route=%s msg=\"%s has more addresses than relay46 "
		    "keeps (%d more, and those gone that no session uses); "
		    "ignoring the rest\"", p->route->name,
		    p->route->specs[spec].host, POOL_NAME_ROOM);
		break;
	}
}

/*
 * Relaxed: a family and a deadline read from two different updates only
 * change which family one session tries first (upstream_he_prefer()).
 */
int
pool_he_family(struct pool *p, size_t spec, uint64_t now)
{
	struct pool_he	*he = &p->he[spec];

	if (now >= atomic_load_explicit(&he->until_ms, memory_order_relaxed))
		return 0;
	return atomic_load_explicit(&he->family, memory_order_relaxed);
}

void
pool_he_won(struct pool *p, size_t spec, int family)
{
	struct pool_he	*he = &p->he[spec];
	uint64_t	 now = util_now_ms();
	int		 was = pool_he_family(p, spec, now);

	atomic_store_explicit(&he->family, family, memory_order_relaxed);
	atomic_store_explicit(&he->until_ms, now + POOL_HE_MEMORY_MS,
	    memory_order_relaxed);
	if (was != family)
		log_info("route=%s msg=\"Happy Eyeballs: %s of %s answers "
		    "first; trying it first for %d minutes\"", p->route->name,
		    family == AF_INET ? "IPv4" : "IPv6",
		    p->route->specs[spec].host != NULL ?
		    p->route->specs[spec].host : p->route->specs[spec].text,
		    POOL_HE_MEMORY_MS / 60000);
}

/*
 * The counting key: the IPv4 address, or the /64 of an IPv6 one.  A /64
 * because one host commonly gets a whole /64 and can pick any address in
 * it (privacy addresses, RFC 8981), so counting by /128 would not limit
 * it at all.
 */
static void
pool_client_key(const struct addr *a, int *family, uint8_t key[16])
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	memset(key, 0, 16);
	*family = a->ss.ss_family;
	if (a->ss.ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)&a->ss;
		memcpy(key, &s4->sin_addr, 4);
	} else if (a->ss.ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)&a->ss;
		memcpy(key, &s6->sin6_addr, 8);
	}
}

#define POOL_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

static void
pool_sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = POOL_ROTL(v[1], 13); v[1] ^= v[0];
	v[0] = POOL_ROTL(v[0], 32);
	v[2] += v[3]; v[3] = POOL_ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = POOL_ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = POOL_ROTL(v[1], 17); v[1] ^= v[2];
	v[2] = POOL_ROTL(v[2], 32);
}

/*
 * SipHash-2-4 (Aumasson and Bernstein) of a counting key, which is always
 * three words: the 16 address bytes and the family.  Keyed, so that the
 * bucket of an address cannot be known, nor chosen, from outside.
 */
static uint64_t
pool_siphash(const uint64_t k[2], const uint64_t m[3])
{
	uint64_t	 v[4];
	unsigned	 i, r;

	v[0] = k[0] ^ 0x736f6d6570736575ULL;
	v[1] = k[1] ^ 0x646f72616e646f6dULL;
	v[2] = k[0] ^ 0x6c7967656e657261ULL;
	v[3] = k[1] ^ 0x7465646279746573ULL;
	for (i = 0; i < 3; i++) {
		v[3] ^= m[i];
		for (r = 0; r < 2; r++)
			pool_sipround(v);
		v[0] ^= m[i];
	}
	/* The last block: the message length (24) in the top byte. */
	v[3] ^= (uint64_t)24 << 56;
	pool_sipround(v);
	pool_sipround(v);
	v[0] ^= (uint64_t)24 << 56;
	v[2] ^= 0xff;
	for (r = 0; r < 4; r++)
		pool_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The bucket of a counting key: keyed SipHash, reduced to nbuckets. */
static size_t
pool_client_hash(const struct route_stats *st, int family,
    const uint8_t key[16])
{
	uint64_t	 m[3];

	memcpy(&m[0], key, 8);
	memcpy(&m[1], key + 8, 8);
	m[2] = (uint64_t)family;
	return (size_t)(pool_siphash(st->clients_key, m) % st->nbuckets);
}

size_t
pool_client_bucket(const struct route_stats *st, const struct addr *a)
{
	uint8_t	 key[16];
	int	 family;

	pool_client_key(a, &family, key);
	return pool_client_hash(st, family, key);
}

/*
 * Where the client with this key is, or would be linked: the returned
 * pointer is the chain link to it (or the NULL at the chain's end), so
 * the caller can insert or unlink in place.  Under clients_lock.
 */
static struct pool_client **
pool_client_find(struct route_stats *st, int family, const uint8_t key[16])
{
	struct pool_client	**cp;

	for (cp = &st->clients[pool_client_hash(st, family, key)];
	    *cp != NULL; cp = &(*cp)->next)
		if ((*cp)->family == family && memcmp((*cp)->key, key, 16) == 0)
			break;
	return cp;
}

bool
pool_client_enter(struct pool *p, const struct addr *a, unsigned max)
{
	struct pool_client	**cp, *c;
	uint8_t			 key[16];
	int			 family;
	bool			 ok = true;

	/*
	 * No limit: not counted at all.  The session remembers that
	 * (client_counted in session.c) and then never calls
	 * pool_client_leave(), which would take from another's count.
	 */
	if (max == 0)
		return true;
	pool_client_key(a, &family, key);
	/*
	 * A mutex rather than atomics: the entry may have to be made or
	 * freed, and this runs once per accepted session, never per byte.
	 */
	pthread_mutex_lock(&p->stats->clients_lock);
	cp = pool_client_find(p->stats, family, key);
	if ((c = *cp) == NULL) {
		/* Out of memory: let the client in rather than guess. */
		if ((c = calloc(1, sizeof(*c))) != NULL) {
			c->family = family;
			memcpy(c->key, key, 16);
			*cp = c;
		}
	}
	if (c != NULL) {
		if (c->live >= max)
			ok = false;
		else
			c->live++;
	}
	pthread_mutex_unlock(&p->stats->clients_lock);
	return ok;
}

/*
 * The entry goes at 0, so the table holds only clients with live
 * sessions and cannot grow with every address ever seen.
 */
void
pool_client_leave(struct pool *p, const struct addr *a)
{
	struct pool_client	**cp, *c;
	uint8_t			 key[16];
	int			 family;

	pool_client_key(a, &family, key);
	pthread_mutex_lock(&p->stats->clients_lock);
	cp = pool_client_find(p->stats, family, key);
	if ((c = *cp) != NULL && --c->live == 0) {
		*cp = c->next;
		free(c);
	}
	pthread_mutex_unlock(&p->stats->clients_lock);
}
