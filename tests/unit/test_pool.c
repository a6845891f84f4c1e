/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Run-time upstream state: per-upstream limits, passive and active health
 * with rise and fall, host name addresses coming and going, and per-client
 * counting (IPv6 by /64), and choosing an upstream for a session
 * (pool_pick).  Configs come from config_load_fp, as in the daemon.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "addr.h"
#include "balance.h"
#include "config.h"
#include "health.h"
#include "log.h"
#include "pool.h"
#include "util.h"

static struct config *
load(const char *text)
{
	struct config	*c;
	FILE		*fp;
	char		*errs = NULL;

	if ((fp = fmemopen((void *)text, strlen(text), "r")) == NULL)
		fail_msg("fmemopen: %s", strerror(errno));
	c = config_load_fp(fp, "pool.ini", CONFIG_LOAD_NO_RESOLVE, &errs);
	fclose(fp);
	if (c == NULL)
		fail_msg("config: %s", errs != NULL ? errs : "?");
	/* As the daemon does for a config it runs: the parser makes none. */
	if (pool_attach(c) == -1)
		fail_msg("pool_attach: out of memory");
	return c;
}

static struct addr
A(const char *s)
{
	struct addr	 a;
	char		 err[128];

	if (addr_parse(s, &a, err, sizeof(err)) == -1)
		fail_msg("%s: %s", s, err);
	return a;
}

/* Options reach the pool; max_connections holds, release frees a slot. */
static void
test_limits(void **state)
{
	struct config	*c;
	struct pool	*p;
	struct upstream	*u;

	(void)state;
	c = load("[route r]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10 weight=7 max_connections=2\n"
	    "upstream = [::1]:11 backup\n");
	p = c->routes[0].pool;
	assert_int_equal(pool_count(p), 2);
	assert_int_equal(p->cap, 2);	/* no names: no spare room */
	u = &p->u[0];
	assert_string_equal(u->name, "127.0.0.1:10");
	assert_int_equal(u->weight, 7);
	assert_false(u->backup);
	assert_int_equal(u->max_connections, 2);
	assert_true(p->u[1].backup);
	assert_int_equal(p->u[1].max_connections, 0);
	assert_true(pool_acquire(u));
	assert_true(pool_acquire(u));
	assert_false(pool_acquire(u));
	assert_int_equal(pool_live(u), 2);
	pool_release(u);
	assert_true(pool_acquire(u));
	/* No limit: any number. */
	for (int i = 0; i < 1000; i++)
		assert_true(pool_acquire(&p->u[1]));
	assert_int_equal(pool_live(&p->u[1]), 1000);
	config_unref(c);
}

/*
 * Passive: fall failures in a row mark it down (a success in between
 * starts the count again); down, it is due again after check_interval,
 * one claimer per interval; a connect brings it up at once.
 */
static void
test_passive(void **state)
{
	struct config	*c;
	struct pool	*p;
	struct upstream	*u;
	uint64_t	 now;

	(void)state;
	c = load("[route r]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10\nfall = 3\ncheck_interval = 1h\n");
	p = c->routes[0].pool;
	u = &p->u[0];
	now = util_now_ms();
	assert_true(pool_usable(u, now));
	pool_connect_failed(p, u, ECONNREFUSED);
	pool_connect_failed(p, u, ECONNREFUSED);
	pool_connect_ok(p, u);
	pool_connect_failed(p, u, ECONNREFUSED);
	pool_connect_failed(p, u, ECONNREFUSED);
	assert_true(atomic_load(&u->up));
	pool_connect_failed(p, u, ETIMEDOUT);
	assert_false(atomic_load(&u->up));
	now = util_now_ms();
	assert_false(pool_usable(u, now));
	/* An hour later it is due, and only one caller gets the probe. */
	assert_true(pool_usable(u, now + 3600 * 1000));
	assert_true(pool_claim_retry(u, now + 3600 * 1000, 3600 * 1000));
	assert_false(pool_claim_retry(u, now + 3600 * 1000, 3600 * 1000));
	assert_false(pool_usable(u, now + 3600 * 1000));
	pool_connect_ok(p, u);
	assert_true(atomic_load(&u->up));
	assert_int_equal(atomic_load(&u->fails), 0);
	assert_int_equal(atomic_load(&u->connect_fails), 5);
	assert_int_equal(atomic_load(&u->connects), 2);
	config_unref(c);
}

/* Active: rise successes in a row bring it up, fall failures take it down. */
static void
test_active(void **state)
{
	struct config	*c;
	struct pool	*p;
	struct upstream	*u;
	int		 i;

	(void)state;
	c = load("[route r]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10\nhealth_check = tcp\nrise = 2\n"
	    "fall = 2\n");
	p = c->routes[0].pool;
	u = &p->u[0];
	pool_check_result(p, u, ECONNREFUSED);
	assert_true(atomic_load(&u->up));
	pool_check_result(p, u, 0);		/* breaks the streak */
	pool_check_result(p, u, ECONNREFUSED);
	assert_true(atomic_load(&u->up));
	pool_check_result(p, u, ETIMEDOUT);
	assert_false(atomic_load(&u->up));
	/* More failures while down change nothing. */
	for (i = 0; i < 5; i++)
		pool_check_result(p, u, ECONNREFUSED);
	assert_false(atomic_load(&u->up));
	pool_check_result(p, u, 0);
	assert_false(atomic_load(&u->up));
	pool_check_result(p, u, ECONNREFUSED);	/* breaks the streak */
	pool_check_result(p, u, 0);
	assert_false(atomic_load(&u->up));
	pool_check_result(p, u, 0);
	assert_true(atomic_load(&u->up));
	config_unref(c);
}

/*
 * A name's addresses change: new ones are appended (the array never
 * moves, so a worker may be reading it), vanished ones are marked absent
 * and come back as the same entry, an empty answer changes nothing, and
 * past POOL_NAME_ROOM the rest is ignored.  Built by hand: the test must
 * not depend on the resolver.
 */
static void
test_names(void **state)
{
	struct config	*c;
	struct route	*r;
	struct pool	*p;
	struct upstream	*first;
	struct addr	 v[POOL_NAME_ROOM + 8];
	size_t		 i;

	(void)state;
	c = load("[route r]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10 weight=3\n");
	r = &c->routes[0];
	/* Make the line a name line, as config_load does for names. */
	r->specs[0].host = util_strdup("backend.test");
	pool_free(r->pool);
	assert_non_null(r->pool = pool_new(r, 1));
	p = r->pool;
	assert_int_equal(p->cap, 1 + POOL_NAME_ROOM);
	first = p->u;

	v[0] = A("127.0.0.2:10");
	v[1] = A("[::1]:10");
	pool_set_name_addrs(p, 0, v, 2);
	assert_int_equal(pool_count(p), 3);
	assert_ptr_equal(p->u, first);
	assert_false(atomic_load(&p->u[0].present));
	assert_true(atomic_load(&p->u[1].present));
	assert_string_equal(p->u[2].name, "[::1]:10");
	assert_int_equal(p->u[2].weight, 3);	/* the line's options */
	assert_int_equal(p->u[2].spec, 0);

	pool_set_name_addrs(p, 0, v, 0);	/* failed lookup: keep */
	assert_true(atomic_load(&p->u[1].present));

	v[0] = A("127.0.0.1:10");
	pool_set_name_addrs(p, 0, v, 1);	/* the first one is back */
	assert_int_equal(pool_count(p), 3);
	assert_true(atomic_load(&p->u[0].present));
	assert_false(atomic_load(&p->u[1].present));
	assert_false(atomic_load(&p->u[2].present));

	for (i = 0; i < NELEM(v); i++) {
		char	 s[32];

		snprintf(s, sizeof(s), "10.9.%zu.1:10", i);
		v[i] = A(s);
	}
	pool_set_name_addrs(p, 0, v, NELEM(v));
	assert_int_equal(pool_count(p), p->cap);
	config_unref(c);
}

/* The present entry of line ${spec}; fails unless there is exactly one. */
static struct upstream *
present_of(struct pool *p, size_t spec)
{
	struct upstream	*u = NULL;
	size_t		 i;

	for (i = 0; i < pool_count(p); i++)
		if (p->u[i].spec == spec && atomic_load(&p->u[i].present)) {
			assert_null(u);
			u = &p->u[i];
		}
	assert_non_null(u);
	return u;
}

/*
 * A name that moves on and on: each name has its own room, and past it a
 * new address takes the place of one gone, but never of one a session
 * still uses, nor another name's.
 */
static void
test_names_reuse(void **state)
{
	struct config	*c;
	struct route	*r;
	struct pool	*p;
	struct upstream	*held, *u;
	struct addr	 v;
	char		 s[32];
	size_t		 i;

	(void)state;
	c = load("[route reuse]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10\nupstream = 127.0.0.1:20\n");
	r = &c->routes[0];
	r->specs[0].host = util_strdup("one.test");
	r->specs[1].host = util_strdup("two.test");
	pool_free(r->pool);
	assert_non_null(r->pool = pool_new(r, 1));
	p = r->pool;
	for (i = 1; i <= 3 * POOL_NAME_ROOM; i++) {
		snprintf(s, sizeof(s), "10.1.%zu.%zu:10", i / 256, i % 256);
		v = A(s);
		pool_set_name_addrs(p, 0, &v, 1);
		u = present_of(p, 0);
		assert_true(addr_equal(&u->addr, &v));
		assert_string_equal(u->name, s);
		assert_int_equal(atomic_load(&u->family), AF_INET);
	}
	/* One's room is used up; two's is untouched. */
	assert_int_equal(pool_count(p), 2 + POOL_NAME_ROOM);
	v = A("10.2.0.1:20");
	pool_set_name_addrs(p, 1, &v, 1);
	assert_int_equal(pool_count(p), 3 + POOL_NAME_ROOM);
	assert_true(addr_equal(&present_of(p, 1)->addr, &v));
	/* A session holds one's address: its place is not taken under it. */
	held = present_of(p, 0);
	assert_true(pool_acquire(held));
	for (i = 1; i <= 2 * POOL_NAME_ROOM; i++) {
		snprintf(s, sizeof(s), "10.3.%zu.%zu:10", i / 256, i % 256);
		v = A(s);
		pool_set_name_addrs(p, 0, &v, 1);
		u = present_of(p, 0);
		assert_ptr_not_equal(u, held);
		assert_true(addr_equal(&u->addr, &v));
	}
	assert_string_equal(held->name, "10.1.0.96:10");
	assert_int_equal(pool_live(held), 1);
	pool_release(held);
	config_unref(c);
}

/* A listening socket on a free port of 127.0.0.1; its address in ${a}. */
static int
listen_lo(int backlog, struct addr *a)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, backlog) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		fail_msg("listener: %s", strerror(errno));
	addr_from_sockaddr(a, (struct sockaddr *)&sin, len);
	return fd;
}

static void
set_flag_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/*
 * An active check still connecting when a lookup gives its entry to
 * another address (pool_reuse()): the old address's verdict is not the
 * new one's.  The old address is a listener whose accept queue is full
 * (backlog 0, one connection waiting), so Linux drops the check's SYN
 * and the check times out; the new address answers.  With fall = 1 the
 * stale timeout would take the new address down at once.  The health
 * checker runs on this thread, as on the control thread, and the test
 * stands in for its lookups by calling pool_set_name_addrs() itself.
 */
static void
test_check_readdressed(void **state)
{
	struct config	*c;
	struct route	*r;
	struct pool	*p;
	struct health	*h;
	struct event_base *base;
	struct event	*ev;
	struct addr	 a, b, v[2];
	struct pollfd	 pfd;
	char		 text[512], s[32], name[ADDR_STRLEN];
	int		 fa, fb, filler;
	size_t		 i;
	uint64_t	 deadline;
	bool		 b_checked = false;

	(void)state;
	fa = listen_lo(0, &a);
	fb = listen_lo(16, &b);
	if ((filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(filler, (struct sockaddr *)&a.ss, a.len) == -1)
		fail_msg("filler: %s", strerror(errno));
	/* Readable: the filler is in the accept queue, which is now full. */
	pfd.fd = fa;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);

	snprintf(text, sizeof(text),
	    "[route hc]\nlisten = 127.0.0.1:1\n"
	    "upstream = %s\nhealth_check = tcp\ncheck_interval = 200ms\n"
	    "connect_timeout = 200ms\nfall = 1\nrise = 1\nresolve = 0\n",
	    addr_format(&a, name, sizeof(name)));
	c = load(text);
	r = &c->routes[0];
	r->specs[0].host = util_strdup("moving.test");
	pool_free(r->pool);
	assert_non_null(r->pool = pool_new(r, 1));
	p = r->pool;
	/* Use up the name's room, so that a new address reuses an entry. */
	v[0] = a;
	for (i = 1; i <= POOL_NAME_ROOM; i++) {
		snprintf(s, sizeof(s), "192.0.2.%zu:10", i);
		v[1] = A(s);
		pool_set_name_addrs(p, 0, v, 2);
	}
	pool_set_name_addrs(p, 0, &a, 1);
	assert_int_equal(pool_count(p), p->cap);
	assert_ptr_equal(present_of(p, 0), &p->u[0]);

	assert_non_null(base = event_base_new());
	assert_non_null(h = health_start(base, c));
	/* The first round has begun: a's check is connecting, no verdict. */
	assert_int_equal(atomic_load(&p->u[0].oks), 0);
	assert_int_equal(atomic_load(&p->u[0].check_fails), 0);

	/* The name moves to b, in a's entry, while a's check is under way. */
	pool_set_name_addrs(p, 0, &b, 1);
	assert_true(addr_equal(&p->u[0].addr, &b));
	assert_true(atomic_load(&p->u[0].up));

	/*
	 * Entry 0 is checked again (b gets a connection) only once a's check
	 * has ended: a probe at a time per entry.
	 */
	ev = event_new(base, fb, EV_READ, set_flag_cb, &b_checked);
	assert_non_null(ev);
	assert_int_equal(event_add(ev, NULL), 0);
	deadline = util_now_ms() + 5000;
	while (!b_checked && util_now_ms() < deadline)
		assert_int_not_equal(event_base_loop(base, EVLOOP_ONCE), -1);
	assert_true(b_checked);
	assert_int_equal(atomic_load(&p->u[0].check_fails), 0);
	assert_int_equal(atomic_load(&p->u[0].down_since), 0);
	assert_true(atomic_load(&p->u[0].up));

	event_free(ev);
	health_stop(h);
	event_base_free(base);
	close(filler);
	close(fa);
	close(fb);
	config_unref(c);
}

/*
 * test_acquire_readdressing: a name's answers keep changing on one
 * thread (the control thread's lookups) while another picks and acquires
 * (a worker).  The address that stays in every answer is never refused,
 * though it is full at one session (max_connections=1) while we hold it;
 * and an entry a pick holds never changes address under it.
 */
#define READDR_ROUNDS	20000

struct readdr {
	struct pool	*p;
	struct addr	 stay;
	pthread_barrier_t go;
	atomic_bool	 done;
};

/* The control thread's part: a new second address every round. */
static void *
readdr_lookups(void *arg)
{
	struct readdr	*rd = arg;
	struct addr	 v[2];
	char		 s[32];
	unsigned	 i;

	v[0] = rd->stay;
	pthread_barrier_wait(&rd->go);
	for (i = 0; i < READDR_ROUNDS; i++) {
		snprintf(s, sizeof(s), "10.4.%u.%u:10", i / 256 % 256, i % 256);
		if (addr_parse(s, &v[1], NULL, 0) == -1)
			break;
		pool_set_name_addrs(rd->p, 0, v, 2);
	}
	atomic_store(&rd->done, true);
	return NULL;
}

static void
test_acquire_readdressing(void **state)
{
	static const char text[] =
	    "[route moving]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10 max_connections=1\n";
	struct config	*c;
	struct route	*r;
	struct readdr	 rd;
	struct upstream	*stay, *u;
	struct balance_state bal;
	struct pool_pick pk;
	pthread_t	 t;
	char		 name[ADDR_STRLEN];
	size_t		 cap;
	unsigned long	 k, picks = 0, refused = 0, none = 0, torn = 0;

	(void)state;
	c = load(text);
	r = &c->routes[0];
	r->specs[0].host = util_strdup("moving.test");
	pool_free(r->pool);
	assert_non_null(r->pool = pool_new(r, 1));
	memset(&rd, 0, sizeof(rd));
	rd.p = r->pool;
	rd.stay = A("127.0.0.1:10");
	stay = &rd.p->u[0];
	cap = rd.p->cap;
	memset(&bal, 0, sizeof(bal));
	memset(&pk, 0, sizeof(pk));
	assert_non_null(bal.credit = calloc(cap, sizeof(*bal.credit)));
	assert_non_null(pk.cand = calloc(cap, sizeof(*pk.cand)));
	assert_non_null(pk.skip = calloc(cap, 1));
	assert_non_null(pk.tried = calloc(cap, 1));
	balance_seed(&bal, 1);
	pk.bal = &bal;
	assert_int_equal(pthread_barrier_init(&rd.go, NULL, 2), 0);
	assert_int_equal(pthread_create(&t, NULL, readdr_lookups, &rd), 0);
	pthread_barrier_wait(&rd.go);
	/* Bounded: the lookups end after READDR_ROUNDS rounds. */
	for (k = 0; k < 100 * READDR_ROUNDS && !atomic_load(&rd.done); k++) {
		if (!pool_acquire(stay))
			refused++;
		else
			pool_release(stay);
		memset(pk.tried, 0, cap);
		pk.saw_full = false;
		if ((u = pool_pick(rd.p, &pk, 0, -1, util_now_ms())) == NULL) {
			none++;
			continue;
		}
		picks++;
		/* Held: its address and name are one, and stay so. */
		addr_format(&u->addr, name, sizeof(name));
		torn += strcmp(name, u->name) != 0;
		pool_release(u);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&rd.done));
	assert_int_equal(refused, 0);
	assert_int_equal(none, 0);
	assert_int_equal(torn, 0);
	assert_true(picks > 0);
	assert_true(addr_equal(&stay->addr, &rd.stay));
	pthread_barrier_destroy(&rd.go);
	free(pk.tried);
	free(pk.skip);
	free(pk.cand);
	free(bal.credit);
	config_unref(c);
}

/* max_per_client: per address for IPv4, per /64 for IPv6. */
static void
test_clients(void **state)
{
	struct config	*c;
	struct pool	*p;
	struct addr	 a = A("192.0.2.1:1000"), b = A("192.0.2.2:1000");
	struct addr	 x = A("[2001:db8:0:1::1]:1"), y = A("[2001:db8:0:1::ffff]:2");
	struct addr	 z = A("[2001:db8:0:2::1]:1");

	(void)state;
	c = load("[route r]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:10\n"
	    "max_per_client = 2\n");
	p = c->routes[0].pool;
	assert_true(pool_client_enter(p, &a, 2));
	assert_true(pool_client_enter(p, &a, 2));
	assert_false(pool_client_enter(p, &a, 2));
	assert_true(pool_client_enter(p, &b, 2));
	pool_client_leave(p, &a);
	assert_true(pool_client_enter(p, &a, 2));
	assert_true(pool_client_enter(p, &x, 2));
	assert_true(pool_client_enter(p, &y, 2));	/* same /64 */
	assert_false(pool_client_enter(p, &x, 2));
	assert_true(pool_client_enter(p, &z, 2));	/* another /64 */
	assert_true(pool_client_enter(p, &z, 0));	/* 0: no limit */
	pool_client_leave(p, &y);
	assert_true(pool_client_enter(p, &x, 2));
	/* The table is the route name's: what is left counts on (and the
	 * test's last pool_stats_free_all() frees it, ASan checks). */
	config_unref(c);
}

/*
 * A reload makes new pools, but the counts are the route's: the sessions
 * of the first configuration still count against the second's limits,
 * per client and per upstream address, and in pool_live().
 */
static void
test_counts_survive_reload(void **state)
{
	static const char text[] = "[route keep]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10 max_connections=1\n"
	    "upstream = 127.0.0.1:11\nmax_per_client = 1\n";
	struct config	*c1, *c2;
	struct pool	*p1, *p2;
	struct addr	 a = A("192.0.2.1:1000");

	(void)state;
	c1 = load(text);
	p1 = c1->routes[0].pool;
	assert_true(pool_client_enter(p1, &a, 1));
	assert_true(pool_acquire(&p1->u[0]));
	c2 = load(text);
	p2 = c2->routes[0].pool;
	assert_false(pool_client_enter(p2, &a, 1));
	assert_false(pool_acquire(&p2->u[0]));
	assert_int_equal(pool_live(&p2->u[0]), 1);
	assert_int_equal(pool_live(&p2->u[1]), 0);
	/* The old configuration goes; its session ends later. */
	config_unref(c1);
	pool_client_leave(p2, &a);
	pool_release(&p2->u[0]);
	assert_true(pool_client_enter(p2, &a, 1));
	assert_true(pool_acquire(&p2->u[0]));
	pool_client_leave(p2, &a);
	pool_release(&p2->u[0]);
	config_unref(c2);
}

/*
 * max_per_client's table is hashed with a random key per table: the same
 * addresses land in other buckets in another table (so a peer cannot
 * choose addresses that share one), and always in the same one within a
 * table.
 */
static void
test_client_hash_keyed(void **state)
{
	struct route_stats	*s1, *s2;
	struct addr		 a[64];
	size_t			 i, differ = 0, b1;
	char			 buf[64];

	(void)state;
	s1 = pool_stats("hash-one", 1);
	s2 = pool_stats("hash-two", 1);
	assert_non_null(s1);
	assert_non_null(s2);
	assert_true(s1->clients_key[0] != s2->clients_key[0] ||
	    s1->clients_key[1] != s2->clients_key[1]);
	for (i = 0; i < NELEM(a); i++) {
		snprintf(buf, sizeof(buf), i % 2 ? "192.0.2.%zu:1" :
		    "[2001:db8:%zx::1]:1", i);
		a[i] = A(buf);
		b1 = pool_client_bucket(s1, &a[i]);
		assert_true(b1 < s1->nbuckets);
		assert_int_equal(pool_client_bucket(s1, &a[i]), b1);
		differ += pool_client_bucket(s2, &a[i]) != b1;
	}
	/* By chance alike: 1/1024 per address. */
	assert_true(differ >= NELEM(a) / 2);
}

/*
 * pool_pick(): a worker's balancing state and scratch for one pool, and
 * one session's tried flags, as worker.c and upstream.c make them.
 */
#define PICK_MAX	8

struct picker {
	struct pool	*p;
	struct balance_state bal;
	int		 credit[PICK_MAX];
	struct balance_cand cand[PICK_MAX];
	unsigned char	 skip[PICK_MAX];
	unsigned char	 tried[PICK_MAX];
	struct pool_pick pk;
};

static void
picker_init(struct picker *k, struct config *c)
{
	memset(k, 0, sizeof(*k));
	k->p = c->routes[0].pool;
	assert_true(k->p->cap <= PICK_MAX);
	k->bal.credit = k->credit;
	balance_seed(&k->bal, 1);
	k->pk.bal = &k->bal;
	k->pk.cand = k->cand;
	k->pk.skip = k->skip;
	k->pk.tried = k->tried;
}

/* A new session: nothing tried, nothing seen full. */
static void
picker_session(struct picker *k)
{
	memset(k->tried, 0, sizeof(k->tried));
	k->pk.saw_full = false;
}

/* The index pool_pick() chose for the session under way, or -1. */
static int
pick(struct picker *k, uint64_t now)
{
	struct upstream	*u = pool_pick(k->p, &k->pk, 0, -1, now);

	if (u == NULL)
		return -1;
	assert_true(k->tried[u - k->p->u]);
	return (int)(u - k->p->u);
}

/* A whole session's pick, given back at once (its connect ended). */
static int
pick_new(struct picker *k, uint64_t now)
{
	int	 j;

	picker_session(k);
	if ((j = pick(k, now)) != -1)
		pool_release(&k->p->u[j]);
	return j;
}

/* As pick_new(), for a pick that must find one. */
static int
pick_some(struct picker *k, uint64_t now)
{
	int	 j = pick_new(k, now);

	assert_int_not_equal(j, -1);
	return j;
}

/* Passive health takes ${u} down now: due again after check_interval. */
static void
take_down(struct picker *k, struct upstream *u)
{
	unsigned	 i;

	for (i = 0; i < k->p->route->fall; i++)
		pool_connect_failed(k->p, u, ECONNREFUSED);
	assert_false(atomic_load(&u->up));
}

/*
 * Weighted round robin over the entries a session may use: shares as
 * the weights say, and a down one (not yet due) never.
 */
static void
test_pick_roundrobin(void **state)
{
	struct config	*c;
	struct picker	 k;
	int		 count[3] = { 0 }, i;

	(void)state;
	c = load("[route rr]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10\nupstream = 127.0.0.1:11 weight=2\n"
		 "upstream = 127.0.0.1:12\nfall = 1\ncheck_interval = 1h\n");
	picker_init(&k, c);
	for (i = 0; i < 40; i++)
		count[pick_some(&k, util_now_ms())]++;
	assert_int_equal(count[0], 10);
	assert_int_equal(count[1], 20);
	assert_int_equal(count[2], 10);
	take_down(&k, &k.p->u[2]);
	memset(count, 0, sizeof(count));
	for (i = 0; i < 30; i++)
		count[pick_some(&k, util_now_ms())]++;
	assert_int_equal(count[0], 10);
	assert_int_equal(count[1], 20);
	assert_int_equal(count[2], 0);
	assert_int_equal(pool_live(&k.p->u[1]), 0);
	config_unref(c);
}

/*
 * A down entry is skipped until its retry time; then exactly one session
 * gets it (the probe), and the rest wait another check_interval.  With
 * active checks, sessions never probe: the checks bring it back.
 */
static void
test_pick_down_until_retry(void **state)
{
	static const char *const text[] = {
		"[route down]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:10\n"
		"upstream = 127.0.0.1:11\nfall = 1\ncheck_interval = 1h\n",
		"[route checked]\nlisten = 127.0.0.1:1\n"
		"upstream = 127.0.0.1:10\nupstream = 127.0.0.1:11\n"
		"fall = 1\ncheck_interval = 1h\nhealth_check = tcp\n",
	};
	struct config	*c;
	struct picker	 k;
	uint64_t	 now, due;
	int		 got, i;
	size_t		 t;

	(void)state;
	for (t = 0; t < NELEM(text); t++) {
		c = load(text[t]);
		picker_init(&k, c);
		take_down(&k, &k.p->u[1]);
		now = util_now_ms();
		due = now + 3600 * 1000 + 1000;
		for (i = 0; i < 10; i++)
			assert_int_equal(pick_new(&k, now), 0);
		for (got = 0, i = 0; i < 10; i++)
			got += pick_new(&k, due) == 1;
		assert_int_equal(got, t == 0 ? 1 : 0);
		config_unref(c);
	}
}

/* A session never gets an entry it has tried; then there is none left. */
static void
test_pick_tried(void **state)
{
	struct config	*c;
	struct picker	 k;
	int		 seen[3] = { 0 }, i, j;

	(void)state;
	c = load("[route tried]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10\nupstream = 127.0.0.1:11\n"
		 "upstream = 127.0.0.1:12\n");
	picker_init(&k, c);
	picker_session(&k);
	k.tried[1] = 1;
	for (i = 0; i < 2; i++) {
		j = pick(&k, util_now_ms());
		assert_int_not_equal(j, 1);
		assert_int_not_equal(j, -1);
		seen[j]++;
		pool_release(&k.p->u[j]);
	}
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[2], 1);
	assert_int_equal(pick(&k, util_now_ms()), -1);
	assert_false(k.pk.saw_full);
	/* A pick given back untried may come again. */
	picker_session(&k);
	j = pick(&k, util_now_ms());
	assert_int_equal(pool_live(&k.p->u[j]), 1);
	pool_unpick(k.p, &k.pk, &k.p->u[j]);
	assert_false(k.tried[j]);
	assert_int_equal(pool_live(&k.p->u[j]), 0);
	config_unref(c);
}

/*
 * An entry at its max_connections is passed over, and the session learns
 * it (upstream_full, not upstream_unreachable, when nothing else is
 * left); a place given back makes it a candidate again.
 */
static void
test_pick_full(void **state)
{
	struct config	*c;
	struct picker	 k;
	struct upstream	*a, *b;
	int		 i;

	(void)state;
	c = load("[route full]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10 max_connections=1\n"
		 "upstream = 127.0.0.1:11 max_connections=1\n");
	picker_init(&k, c);
	a = &k.p->u[0];
	b = &k.p->u[1];
	assert_true(pool_acquire(a));	/* another session's */
	for (i = 0; i < 4; i++) {
		assert_int_equal(pick_new(&k, util_now_ms()), 1);
		assert_true(k.pk.saw_full);
	}
	assert_true(pool_acquire(b));
	assert_int_equal(pick_new(&k, util_now_ms()), -1);
	assert_true(k.pk.saw_full);
	pool_release(a);
	assert_int_equal(pick_new(&k, util_now_ms()), 0);
	pool_release(b);
	pick_new(&k, util_now_ms());
	assert_false(k.pk.saw_full);
	config_unref(c);
}

/*
 * None usable: every entry tried, or none present in the last lookup.
 * NULL, and no entry reported full.
 */
static void
test_pick_none(void **state)
{
	struct config	*c;
	struct picker	 k;

	(void)state;
	c = load("[route none]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10\nupstream = [::1]:10\n");
	picker_init(&k, c);
	picker_session(&k);
	memset(k.tried, 1, pool_count(k.p));
	assert_int_equal(pick(&k, util_now_ms()), -1);
	assert_false(k.pk.saw_full);
	atomic_store(&k.p->u[0].present, false);
	atomic_store(&k.p->u[1].present, false);
	assert_int_equal(pick_new(&k, util_now_ms()), -1);
	assert_false(k.pk.saw_full);
	assert_int_equal(pool_live(&k.p->u[0]), 0);
	config_unref(c);
}

/*
 * Backups serve while no primary is up, or once a session has tried the
 * primaries; when everything is down, all are candidates, so that a total
 * outage ends as soon as one answers.
 */
static void
test_pick_backup_outage(void **state)
{
	struct config	*c;
	struct picker	 k;
	int		 i, seen[2] = { 0 };

	(void)state;
	c = load("[route backup]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10\nupstream = 127.0.0.1:11 backup\n"
		 "fall = 1\ncheck_interval = 1h\n");
	picker_init(&k, c);
	for (i = 0; i < 5; i++)
		assert_int_equal(pick_new(&k, util_now_ms()), 0);
	picker_session(&k);
	k.tried[0] = 1;
	assert_int_equal(pick(&k, util_now_ms()), 1);
	pool_release(&k.p->u[1]);
	take_down(&k, &k.p->u[0]);
	for (i = 0; i < 5; i++)
		assert_int_equal(pick_new(&k, util_now_ms()), 1);
	take_down(&k, &k.p->u[1]);
	for (i = 0; i < 8; i++)
		seen[pick_some(&k, util_now_ms())]++;
	assert_int_equal(seen[0], 8);	/* primaries first, even now */
	picker_session(&k);
	k.tried[0] = 1;
	assert_int_equal(pick(&k, util_now_ms()), 1);
	pool_release(&k.p->u[1]);
	config_unref(c);
}

/* leastconn goes by live sessions on each address (per weight). */
static void
test_pick_leastconn(void **state)
{
	struct config	*c;
	struct picker	 k;
	struct upstream	*held[4];
	int		 i;

	(void)state;
	c = load("[route least]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10\nupstream = 127.0.0.1:11\n"
		 "balance = leastconn\n");
	picker_init(&k, c);
	assert_true(pool_acquire(&k.p->u[0]));
	assert_true(pool_acquire(&k.p->u[0]));
	/* Kept, not given back: each pick adds to the load it balances. */
	for (i = 0; i < 4; i++) {
		picker_session(&k);
		held[i] = &k.p->u[pick(&k, util_now_ms())];
	}
	assert_ptr_equal(held[0], &k.p->u[1]);
	assert_ptr_equal(held[1], &k.p->u[1]);
	assert_int_equal(pool_live(&k.p->u[0]), 3);
	assert_int_equal(pool_live(&k.p->u[1]), 3);
	for (i = 0; i < 4; i++)
		pool_release(held[i]);
	pool_release(&k.p->u[0]);
	pool_release(&k.p->u[0]);
	config_unref(c);
}

/*
 * source: a client keeps its upstream from pick to pick, clients spread
 * over all of them, and one whose upstream is tried moves to another.
 */
static void
test_pick_source(void **state)
{
	struct config	*c;
	struct picker	 k;
	int		 first, i, j, seen[3] = { 0 };
	uint64_t	 h;

	(void)state;
	c = load("[route source]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10\nupstream = 127.0.0.1:11\n"
		 "upstream = 127.0.0.1:12\nbalance = source\n");
	picker_init(&k, c);
	for (h = 0; h < 64; h++) {
		k.pk.client = balance_hash(&h, sizeof(h));
		first = pick_some(&k, util_now_ms());
		seen[first]++;
		for (i = 0; i < 5; i++)
			assert_int_equal(pick_new(&k, util_now_ms()), first);
		picker_session(&k);
		k.tried[first] = 1;
		j = pick(&k, util_now_ms());
		assert_int_not_equal(j, first);
		assert_int_not_equal(j, -1);
		pool_release(&k.p->u[j]);
	}
	for (i = 0; i < 3; i++)
		assert_true(seen[i] > 0);
	config_unref(c);
}

/* Happy Eyeballs narrows a pick to one family and one upstream line. */
static void
test_pick_family_spec(void **state)
{
	struct config	*c;
	struct picker	 k;
	struct upstream	*u;
	int		 i;

	(void)state;
	c = load("[route he]\nlisten = 127.0.0.1:1\n"
		 "upstream = 127.0.0.1:10\nupstream = [::1]:10\n"
		 "upstream = [::1]:11\n");
	picker_init(&k, c);
	for (i = 0; i < 6; i++) {
		picker_session(&k);
		assert_non_null(
		    u = pool_pick(k.p, &k.pk, AF_INET6, -1, util_now_ms()));
		assert_int_equal(u->addr.ss.ss_family, AF_INET6);
		pool_release(u);
		picker_session(&k);
		assert_non_null(u = pool_pick(k.p, &k.pk, 0, 2, util_now_ms()));
		assert_ptr_equal(u, &k.p->u[2]);
		pool_release(u);
	}
	picker_session(&k);
	assert_null(pool_pick(k.p, &k.pk, AF_INET, 1, util_now_ms()));
	config_unref(c);
}

int
main(void)
{
	int	 rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_passive),
		cmocka_unit_test(test_active),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_reuse),
		cmocka_unit_test(test_check_readdressed),
		cmocka_unit_test(test_acquire_readdressing),
		cmocka_unit_test(test_clients),
		cmocka_unit_test(test_counts_survive_reload),
		cmocka_unit_test(test_client_hash_keyed),
		cmocka_unit_test(test_pick_roundrobin),
		cmocka_unit_test(test_pick_down_until_retry),
		cmocka_unit_test(test_pick_tried),
		cmocka_unit_test(test_pick_full),
		cmocka_unit_test(test_pick_none),
		cmocka_unit_test(test_pick_backup_outage),
		cmocka_unit_test(test_pick_leastconn),
		cmocka_unit_test(test_pick_source),
		cmocka_unit_test(test_pick_family_spec),
	};

	/* The state changes log at warn; keep the test output readable. */
	log_init(false, LOG_LEVEL_ERROR);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	pool_stats_free_all();
	return rc;
}
