/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * Out of descriptors (DESIGN §4, the accept row): with EMFILE, relay46
 * stops accepting for a short back-off instead of spinning, logs at most
 * once a second, keeps serving the live sessions, and resumes by itself
 * once descriptors are free again; the clients that came meanwhile wait in
 * the kernel's backlog and are served then.
 *
 * relay46 runs with a small RLIMIT_NOFILE (soft = hard, so it cannot raise
 * it) and an echo backend.  Every session holds two descriptors (client
 * and upstream), so the parity of the free descriptors matters, and each
 * parity is a test of its own.  Even: the sessions fill the table exactly
 * and the next accept() is the call that fails.  Odd: accept() takes the
 * last descriptor and the upstream socket() fails; that client must keep
 * its place (no reset, no "unreachable" upstream) and be served once
 * descriptors are free, while accepting pauses just the same.  The test
 * counts relay46's descriptors with one session open and lowers its limit
 * by one (prlimit(2) on the running process) where the parity is wrong.
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NOFILE		64	/* relay46's limit at start (soft = hard) */
#define MAX_CLIENTS	100	/* bound: far more than NOFILE / 2 can hold */
#define STUCK_MS	300	/* no echo this long: maybe not accepted */
#define HOLD_MS		2000	/* how long the test keeps relay46 at the limit */
#define CPU_MS		1500	/* CPU measured over at least this much of it */
#define CPU_MAX_PCT	20	/* of the wall time; a busy loop takes ~100 */
#define RESUME_MS	2000	/* waiting clients served this soon after */
#define NWAIT		3	/* clients left waiting in the backlog */
#define NCLOSE		4	/* live sessions closed to make room (> NWAIT) */
#define MSG		1000	/* bytes per echo round-trip */
#define EMFILE_LOG	"accept: Too many open files"
#define SOCKET_LOG	"upstream socket: Too many open files"

struct cli {
	int		 fd;
	uint64_t	 seed;	/* stream of the round-trip under way */
};

/*
 * Connections waiting in the accept queue of the IPv4 listener ${a}: for a
 * listening socket, the rx_queue column of /proc/net/tcp.  -1 if unknown.
 */
static int
accept_queue(const struct h_addr *a)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
	char		 line[512];
	unsigned	 addr, port, st, tx, rx, i;
	FILE		*f;
	int		 q = -1;

	if ((f = fopen("/proc/net/tcp", "r")) == NULL)
		return -1;
	for (i = 0; i < 100000 && fgets(line, sizeof(line), f) != NULL; i++)
		if (sscanf(line, " %*u: %8X:%4X %*8X:%*4X %2X %8X:%8X", &addr,
		    &port, &st, &tx, &rx) == 5 && st == 0x0A &&
		    port == ntohs(s4->sin_port) &&
		    (uint32_t)addr == (uint32_t)s4->sin_addr.s_addr) {
			q = (int)rx;
			break;
		}
	fclose(f);
	return q;
}

/* Wait until the accept queue of ${a} holds ${n}; the last value seen. */
static int
accept_queue_wait(const struct h_addr *a, int n, int timeout_ms)
{
	int64_t	 deadline = h_now_ms() + timeout_ms;
	unsigned i;
	int	 q = -1;

	for (i = 0; i < 1000; i++) {
		if ((q = accept_queue(a)) == n || q == -1 ||
		    h_left(deadline) == 0)
			break;
		poll(NULL, 0, 10);
	}
	return q;
}

/*
 * Read the echo of the ${MSG} bytes of ${c}->seed, of which ${got} came
 * already; H_OK, H_EOF, EPROTO (a wrong byte) or errno (ETIMEDOUT).
 */
static int
echo_recv(const struct cli *c, size_t got, int timeout_ms, size_t *gotp)
{
	uint8_t	 buf[MSG];
	size_t	 n = 0;
	int	 end;

	end = h_recv_n(c->fd, buf + got, MSG - got, timeout_ms, &n);
	if (gotp != NULL)
		*gotp = got + n;
	if (h_pattern_check(c->seed, got, buf + got, n) != -1)
		return EPROTO;
	return end;
}

/* Start a round-trip of ${MSG} bytes of stream ${seed} on ${c}. */
static void
echo_send(struct cli *c, uint64_t seed)
{
	uint8_t	 buf[MSG];

	c->seed = seed;
	h_pattern(seed, 0, buf, sizeof(buf));
	H_ASSERT_END(h_send_all(c->fd, buf, sizeof(buf), H_IO_MS), H_OK, H_OK);
}

/* A whole round-trip on ${c}, byte-exact. */
static void
echo_check(struct cli *c, uint64_t seed, const char *what, size_t i)
{
	int	 end;

	echo_send(c, seed);
	if ((end = echo_recv(c, 0, H_IO_MS, NULL)) != H_OK)
		fail_msg("%s %zu: echo failed: %s", what, i, h_end_str(end));
}

/* Half-close ${c}, wait for relay46 to end the session cleanly, close. */
static void
end_session(struct cli *c)
{
	assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(c->fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(c->fd);
	c->fd = -1;
}

static void
run_emfile(bool odd)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	const struct h_addr	*a;
	struct cli		 live[MAX_CLIENTS], waiting[NWAIT], fresh;
	struct pollfd		 p[NWAIT];
	struct rlimit		 rl;
	size_t			 nlive = 0, nwait = 0, i, got;
	int64_t			 t_full = 0, t0, wall, window, deadline;
	long			 cpu0, cpu1;
	unsigned		 nlog, nall, it;
	int			 base, limit, nfd, q, end, pipes0;
	uint64_t		 seed = 1000;
	int			 inq = odd ? 0 : 1;	/* stuck one in backlog? */

	b = h_backend_start(AF_INET, &cfg);
	h_relay_set_nofile(NOFILE);
	r = h_relay_start(
	    /* One worker: the test reads one socket's accept queue. */
	    "[global]\nworkers = 1\nmax_connections = 10000\n"
	    "shutdown_timeout = 2s\n"
	    "[route e]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	h_relay_set_nofile(0);
	a = h_relay_addr(r, "e", AF_INET);
	assert_int_equal(prlimit(r->pid, RLIMIT_NOFILE, NULL, &rl), 0);
	assert_int_equal(rl.rlim_cur, NOFILE);
	assert_int_equal(rl.rlim_max, NOFILE);

	/*
	 * One session open: relay46's own descriptors are the rest, but for
	 * the kernel pipes splice(2) used, which its pool keeps for reuse
	 * only while descriptors are plenty (at the limit it closes them).
	 */
	pipes0 = h_pipe_fd_count(r->pid);
	live[0].fd = h_relay_connect(r, "e", AF_INET);
	echo_check(&live[0], seed++, "session", 0);
	nlive = 1;
	assert_true((nfd = h_fd_count(r->pid)) > 0);
	base = nfd - 2 - (h_pipe_fd_count(r->pid) - pipes0);
	limit = NOFILE - (((NOFILE - base) & 1) != (odd ? 1 : 0));
	if (limit != NOFILE) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)limit;
		assert_int_equal(prlimit(r->pid, RLIMIT_NOFILE, &rl, NULL), 0);
	}
	print_message("relay46 uses %d descriptors of its own; limit %d "
	    "leaves room for %d sessions\n", base, limit, (limit - base) / 2);
	assert_in_range(base, 3, NOFILE - 8);
	assert_int_equal(accept_queue(a), 0);

	/*
	 * Open clients one by one until one gets no echo: then relay46 must
	 * have every descriptor in use and that client must sit in the
	 * backlog.  A merely slow echo is waited for.
	 */
	for (;;) {
		struct cli	*c;

		if (nlive == MAX_CLIENTS)
			fail_msg("relay46 served %d sessions under a limit of "
			    "%d descriptors", MAX_CLIENTS, limit);
		c = &live[nlive];
		t0 = h_now_ms();
		c->fd = h_relay_connect(r, "e", AF_INET);
		echo_send(c, seed++);
		end = echo_recv(c, 0, STUCK_MS, &got);
		if (end == ETIMEDOUT && got == 0 &&
		    h_fd_count(r->pid) == limit && accept_queue(a) == inq) {
			waiting[nwait++] = *c;
			t_full = t0;
			break;
		}
		if (end == ETIMEDOUT)
			end = echo_recv(c, got, H_IO_MS, NULL);
		if (end != H_OK)
			fail_msg(
			    "client %zu, at %d of relay46's %d descriptors: "
			    "%s instead of an echo or of waiting in the backlog",
			    nlive, h_fd_count(r->pid), limit, h_end_str(end));
		nlive++;
	}
	print_message("%zu sessions live; client %zu waits in the backlog\n",
	    nlive, nlive);
	assert_int_equal(nlive, (size_t)(limit - base) / 2);

	/* More clients arrive; they wait too, their request already sent. */
	while (nwait < NWAIT) {
		waiting[nwait].fd = h_relay_connect(r, "e", AF_INET);
		echo_send(&waiting[nwait], seed++);
		nwait++;
	}
	q = accept_queue_wait(a, NWAIT - 1 + inq, H_IO_MS);
	assert_int_equal(q, NWAIT - 1 + inq);

	/*
	 * Hold relay46 there.  Every live session still echoes; nobody
	 * waiting gets a byte or a hang-up; relay46 does not spin.
	 */
	cpu0 = h_cpu_ms(r->pid);
	t0 = h_now_ms();
	for (i = 0; i < nlive; i++)
		echo_check(&live[i], seed++, "live session at the limit", i);
	deadline = t0 + CPU_MS > t_full + HOLD_MS ? t0 + CPU_MS :
	    t_full + HOLD_MS;
	for (i = 0; i < NWAIT; i++)
		p[i] = (struct pollfd){ waiting[i].fd, POLLIN, 0 };
	for (it = 0; it < 100000 && h_left(deadline) > 0; it++)
		if (poll(p, NWAIT, h_left(deadline)) > 0)
			for (i = 0; i < NWAIT; i++)
				if (p[i].revents != 0)
					fail_msg("waiting client %zu got events "
					    "%#x while relay46 had no descriptor "
					    "for it", i, (unsigned)p[i].revents);
	cpu1 = h_cpu_ms(r->pid);
	wall = h_now_ms() - t0;
	/* Every line counted was written within the window. */
	nlog = h_relay_log_count(r, EMFILE_LOG) +
	    h_relay_log_count(r, SOCKET_LOG);
	nall = h_relay_log_count(r, "Too many open files");
	window = h_now_ms() - t_full;
	print_message("at the limit for %lld ms: relay46 used %ld ms of CPU in "
	    "%lld ms (%lld%%); \"%s\" logged %u times\n", (long long)window,
	    cpu1 - cpu0, (long long)wall,
	    (long long)((cpu1 - cpu0) * 100 / (wall > 0 ? wall : 1)),
	    EMFILE_LOG, nlog);
	assert_true(cpu0 >= 0 && cpu1 >= cpu0);
	if ((cpu1 - cpu0) * 100 >= (long)wall * CPU_MAX_PCT)
		fail_msg("relay46 used %ld ms of CPU in %lld ms out of "
		    "descriptors: a busy loop", cpu1 - cpu0, (long long)wall);
	if (nlog == 0 || (odd && h_relay_log_count(r, SOCKET_LOG) == 0)) {
		h_relay_dump(r);
		fail_msg("relay46 did not log \"%s\"", odd ? SOCKET_LOG :
		    EMFILE_LOG);
	}
	/* At most once a second: lines at 0 s, 1 s, 2 s... of the window. */
	if (nlog > 1 + (unsigned)(window / 1000)) {
		h_relay_dump(r);
		fail_msg("\"%s\" logged %u times in %lld ms", EMFILE_LOG, nlog,
		    (long long)window);
	}
	/* No client was taken in and dropped for want of a descriptor. */
	if (nall != nlog || h_relay_log_count(r, "session end") != 0) {
		h_relay_dump(r);
		fail_msg("\"Too many open files\" logged %u times, only %u of "
		    "them as a pause; or a session ended", nall, nlog);
	}
	assert_int_equal(h_fd_count(r->pid), limit);
	assert_int_equal(accept_queue(a), NWAIT - 1 + inq);

	/* Room for the waiting clients and one more: they are served. */
	for (i = 0; i < NCLOSE; i++)
		end_session(&live[--nlive]);
	t0 = h_now_ms();
	for (i = 0; i < NWAIT; i++) {
		if ((end = echo_recv(&waiting[i], 0, h_left(t0 + RESUME_MS),
		    NULL)) != H_OK)
			fail_msg("waiting client %zu, %lld ms after %d sessions "
			    "ended: %s", i, (long long)(h_now_ms() - t0),
			    NCLOSE, h_end_str(end));
	}
	print_message("%d waiting clients served %lld ms after %d sessions "
	    "ended\n", NWAIT, (long long)(h_now_ms() - t0), NCLOSE);
	assert_int_equal(accept_queue_wait(a, 0, H_IO_MS), 0);
	fresh.fd = h_relay_connect(r, "e", AF_INET);
	echo_check(&fresh, seed++, "fresh client", 0);
	for (i = 0; i < NWAIT; i++)
		echo_check(&waiting[i], seed++, "formerly waiting client", i);
	/* Full again: the old sessions are unharmed. */
	for (i = 0; i < nlive; i++)
		echo_check(&live[i], seed++, "session", i);

	end_session(&fresh);
	for (i = 0; i < NWAIT; i++)
		end_session(&waiting[i]);
	while (nlive > 0)
		end_session(&live[--nlive]);
	h_relay_finish(r);
	h_backend_free(b);
}

/* The sessions fill the table: accept() fails. */
static void
test_emfile_accept(void **state)
{
	(void)state;
	run_emfile(false);
}

/* One descriptor spare: accept() succeeds, the upstream socket() fails. */
static void
test_emfile_upstream_socket(void **state)
{
	(void)state;
	run_emfile(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_emfile_accept, h_teardown),
		cmocka_unit_test_teardown(test_emfile_upstream_socket,
		    h_teardown),
	};

	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
