/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for worker.c's reload: all or nothing, even when libevent
 * runs out of memory making a new socket's listener.  A real worker
 * (worker_new) serves one bound loopback socket; a reload adds two more.
 * The link wraps evconnlistener_new() (-Wl,--wrap, see Makefile.am) so
 * that the test can make one call fail: worker_reload_prepare() must then
 * return NULL and change nothing (the worker keeps exactly its listener,
 * the new sockets stay open, the caller's).  Prepared again without the
 * failure and posted, the reload gives the worker all three listeners,
 * and a real client on each address reaches the test's upstream socket
 * through the worker, even the one whose first evconnlistener_enable()
 * fails (wrapped too): it is tried again after a back-off.  Once with
 * the worker's loop driven from the test's thread (EVLOOP_NONBLOCK
 * rounds), once with the worker on its own thread as relay46 runs it,
 * the reload prepared on the test's thread (for ThreadSanitizer).  Waits
 * poll with a deadline; nothing sleeps.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "config.h"
#include "listener.h"
#include "pool.h"
#include "util.h"
#include "worker.h"

/* Loopback answers in microseconds; this is for a machine under load. */
#define DEADLINE_MS	10000
#define POLL_MS		10
#define NADDR		3	/* the one at start, and two a reload adds */

/* ---- the wrap: make the Nth evconnlistener_new() fail ------------------- */

struct evconnlistener *__real_evconnlistener_new(struct event_base *,
    evconnlistener_cb, void *, unsigned, int, evutil_socket_t);
struct evconnlistener *__wrap_evconnlistener_new(struct event_base *,
    evconnlistener_cb, void *, unsigned, int, evutil_socket_t);

static atomic_uint	wrap_calls;	/* every call */
static atomic_uint	wrap_fail_at;	/* fail the call with this count; 0: none */
static atomic_uint	wrap_enabled;	/* calls that asked to accept at once */

struct evconnlistener *
__wrap_evconnlistener_new(struct event_base *base, evconnlistener_cb cb,
    void *arg, unsigned flags, int backlog, evutil_socket_t fd)
{
	unsigned	 n = atomic_fetch_add(&wrap_calls, 1) + 1;

	if (n == atomic_load(&wrap_fail_at)) {
		errno = ENOMEM;
		return NULL;
	}
	/* Anything else would touch the loop from this thread. */
	if (!(flags & LEV_OPT_DISABLED) || backlog != 0)
		atomic_fetch_add(&wrap_enabled, 1);
	return __real_evconnlistener_new(base, cb, arg, flags, backlog, fd);
}

/* ...and evconnlistener_enable(): fail the next ${wrap_enable_fails}. */
int	 __real_evconnlistener_enable(struct evconnlistener *);
int	 __wrap_evconnlistener_enable(struct evconnlistener *);

static atomic_uint	wrap_enable_calls;
static atomic_uint	wrap_enable_fails;

int
__wrap_evconnlistener_enable(struct evconnlistener *lev)
{
	unsigned	 n = atomic_load(&wrap_enable_fails);

	atomic_fetch_add(&wrap_enable_calls, 1);
	if (n > 0 &&
	    atomic_compare_exchange_strong(&wrap_enable_fails, &n, n - 1)) {
		errno = ENOMEM;
		return -1;
	}
	return __real_evconnlistener_enable(lev);
}

/* ---- fixture ----------------------------------------------------------- */

struct fx {
	bool		 threaded;	/* the worker runs on its own thread */
	struct worker	*w;
	int		 fds[NADDR];	/* listening sockets, as bound */
	uint16_t	 port[NADDR];
	int		 up;		/* the upstream's listening socket */
	uint16_t	 up_port;
	int		 note[2];	/* a pipe: the worker's "reloaded" */
	atomic_uint	 reloads;	/* reloaded() calls */
	atomic_uint	 nlisteners;	/* the worker's, counted in reloaded() */
};

/* A listening socket on 127.0.0.1, port from the kernel. */
static int
bind_any(uint16_t *port)
{
	struct addr	 a[2], got;
	char		 err[512];
	int		 fd;

	assert_int_equal(addr_parse_listen("127.0.0.1:0", a, err, sizeof(err)),
	    1);
	if (listener_open(&a[0], false, 0, 1, &fd, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(listener_address(fd, &got), 0);
	*port = addr_port(&got);
	return fd;
}

/* On the worker's thread: it has applied a reload. */
static void
fx_reloaded(void *arg)
{
	struct fx	*fx = arg;
	struct listener	*l;
	unsigned	 n = 0;
	char		 c = 'r';

	TAILQ_FOREACH(l, &fx->w->listeners, entry)
		n++;
	atomic_store(&fx->nlisteners, n);
	atomic_fetch_add(&fx->reloads, 1);
	if (write(fx->note[1], &c, 1) != 1)
		abort();	/* cmocka is not for other threads */
}

/* "quick" config: listen on the first ${n} of fx's ports, one upstream. */
static struct config *
fx_config(struct fx *fx, size_t n)
{
	char		 lbuf[NADDR][32], ubuf[32], *listen[NADDR], *up[1];
	char		*errs = NULL;
	struct config	*cfg;
	size_t		 i;

	for (i = 0; i < n; i++) {
		snprintf(lbuf[i], sizeof(lbuf[i]), "127.0.0.1:%u",
		    (unsigned)fx->port[i]);
		listen[i] = lbuf[i];
	}
	snprintf(ubuf, sizeof(ubuf), "127.0.0.1:%u", (unsigned)fx->up_port);
	up[0] = ubuf;
	if ((cfg = config_quick(listen, n, up, 1, &errs)) == NULL)
		fail_msg("config_quick: %s", errs != NULL ? errs : "?");
	/* A worker runs it: it needs the pools the parser does not make. */
	if (pool_attach(cfg) == -1)
		fail_msg("pool_attach: out of memory");
	return cfg;
}

/*
 * Wait until ${fd} is readable: with the worker on the test's thread, run
 * its loop between polls.  false at the deadline.
 */
static bool
fx_wait(struct fx *fx, int fd)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };
	uint64_t	 end = util_now_ms() + DEADLINE_MS;

	while (util_now_ms() < end) {
		if (!fx->threaded &&
		    event_base_loop(fx->w->host.base, EVLOOP_NONBLOCK) == -1)
			fail_msg("event_base_loop failed");
		if (poll(&p, 1, POLL_MS) == 1)
			return true;
	}
	return false;
}

/* A few rounds of the worker's loop, for what it was posted to run. */
static void
fx_spin(struct fx *fx)
{
	int	 i, rc;

	for (i = 0; !fx->threaded && i < 10; i++) {
		rc = event_base_loop(fx->w->host.base, EVLOOP_NONBLOCK);
		assert_int_not_equal(rc, -1);
	}
}

/* The worker's listeners, in order; it must not be mid-reload. */
static size_t
fx_listeners(struct fx *fx, int *fds, size_t max)
{
	struct listener	*l;
	size_t		 n = 0;

	TAILQ_FOREACH(l, &fx->w->listeners, entry) {
		if (n < max)
			fds[n] = evconnlistener_get_fd(l->lev);
		n++;
	}
	return n;
}

/*
 * A client connects to port ${i}; the worker must accept it and connect
 * to the upstream, whose listening socket the test accepts from.
 */
static void
fx_through(struct fx *fx, size_t i)
{
	struct sockaddr_in sin;
	int		 c, u;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(fx->port[i]);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_not_equal(c, -1);
	/* Loopback: the kernel completes it from the listen queue. */
	if (connect(c, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fail_msg("connect to port %u: %s", (unsigned)fx->port[i],
		    strerror(errno));
	if (!fx_wait(fx, fx->up))
		fail_msg("a client of port %u never reached the upstream",
		    (unsigned)fx->port[i]);
	assert_int_not_equal(u = accept(fx->up, NULL, NULL), -1);
	close(u);
	close(c);
}

static bool
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void
reload_scenario(bool threaded)
{
	struct fx		 fx;
	struct worker_opts	 wo = { .reloaded = fx_reloaded, .arg = &fx };
	struct config		*c1, *c3;
	struct worker_reload	*rl;
	int			 got[NADDR + 1];
	char			 buf[16];
	size_t			 i;

	memset(&fx, 0, sizeof(fx));
	fx.threaded = threaded;
	atomic_init(&fx.reloads, 0);
	atomic_init(&fx.nlisteners, 0);
	for (i = 0; i < NADDR; i++)
		fx.fds[i] = bind_any(&fx.port[i]);
	fx.up = bind_any(&fx.up_port);
	assert_int_equal(pipe2(fx.note, O_CLOEXEC | O_NONBLOCK), 0);
	c1 = fx_config(&fx, 1);
	c3 = fx_config(&fx, NADDR);

	/* The worker serves the first socket (it owns it from now on). */
	atomic_store(&wrap_calls, 0);
	atomic_store(&wrap_fail_at, 0);
	atomic_store(&wrap_enabled, 0);
	assert_non_null(fx.w = worker_new(c1, fx.fds, 1, &wo));
	assert_int_equal(atomic_load(&wrap_calls), 1);
	if (threaded)
		assert_int_equal(worker_start(fx.w), 0);
	fx_through(&fx, 0);

	/*
	 * A reload adding two sockets, when libevent has no memory for the
	 * second one's listener: nothing may change.
	 */
	atomic_store(&wrap_fail_at, 3);
	rl = worker_reload_prepare(fx.w, c3, fx.fds, NADDR, fx.fds, 1);
	assert_null(rl);
	assert_int_equal(atomic_load(&wrap_calls), 3);
	assert_int_equal(fx_listeners(&fx, got, NADDR), 1);
	assert_int_equal(got[0], fx.fds[0]);
	assert_true(fd_open(fx.fds[1]));
	assert_true(fd_open(fx.fds[2]));
	/* The worker frees the first one's listener, keeping its socket. */
	fx_spin(&fx);
	assert_int_equal(atomic_load(&fx.reloads), 0);
	assert_true(fd_open(fx.fds[1]));
	assert_true(fd_open(fx.fds[2]));
	fx_through(&fx, 0);

	/*
	 * Again, with memory: prepared, posted, applied.  The worker's first
	 * try to watch the second socket fails (no memory in the loop): its
	 * listener must try again, not drop it.
	 */
	atomic_store(&wrap_fail_at, 0);
	rl = worker_reload_prepare(fx.w, c3, fx.fds, NADDR, fx.fds, 1);
	assert_non_null(rl);
	assert_int_equal(atomic_load(&wrap_calls), 5);	/* new sockets only */
	atomic_store(&wrap_enable_calls, 0);
	atomic_store(&wrap_enable_fails, 1);
	worker_reload_post(fx.w, rl);
	if (!fx_wait(&fx, fx.note[0]))
		fail_msg("the worker never applied the reload");
	assert_int_equal(read(fx.note[0], buf, sizeof(buf)), 1);
	assert_int_equal(atomic_load(&fx.reloads), 1);
	assert_int_equal(atomic_load(&fx.nlisteners), NADDR);
	if (!threaded) {
		assert_int_equal(fx_listeners(&fx, got, NADDR), NADDR);
		for (i = 0; i < NADDR; i++)
			assert_int_equal(got[i], fx.fds[i]);
	}
	assert_int_equal(atomic_load(&wrap_enable_fails), 0);
	for (i = 0; i < NADDR; i++)
		fx_through(&fx, i);
	/* Two at the reload, one more for the retry, which got through. */
	assert_int_equal(atomic_load(&wrap_enable_calls), 3);
	/* Made disabled, started by the worker: none asked libevent to add. */
	assert_int_equal(atomic_load(&wrap_enabled), 0);

	if (threaded) {
		worker_abort(fx.w);
		worker_join(fx.w);
	}
	worker_free(fx.w);	/* closes the listening sockets */
	config_unref(c1);
	config_unref(c3);
	close(fx.up);
	close(fx.note[0]);
	close(fx.note[1]);
}

static void
test_reload_oom_loop(void **state)
{
	(void)state;
	reload_scenario(false);
}

static void
test_reload_oom_thread(void **state)
{
	(void)state;
	reload_scenario(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_oom_loop),
		cmocka_unit_test(test_reload_oom_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
