/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The splice(2) data path: byte-exact both ways, no kernel pipe held by
 * an idle session, and the buffered path taking over, byte-exact too,
 * when descriptors for pipes run out.  Every other scenario runs with
 * splice on (the default) and again with RELAY46_SPLICE=off in CI.
 */

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define MiB		(1024u * 1024u)
#define NSESS		12	/* sessions at once */
#define POOL_CACHE	16	/* SPLICE_CACHE: idle pipes a worker keeps */

/*
 * Drive ${n} transfers at once until all are done or ${timeout_ms} pass;
 * fails the test on any error or wrong byte.
 */
static void
xfer_all(const int *fds, struct h_xfer *x, size_t n, int timeout_ms)
{
	static uint8_t	 scratch[64 * 1024];
	struct pollfd	 p[NSESS * 4];
	int64_t		 deadline = h_now_ms() + timeout_ms;
	size_t		 i, left;
	unsigned	 it;

	assert_true(n <= NSESS * 4);
	for (it = 0; it < 10000000u; it++) {
		for (i = 0, left = 0; i < n; i++) {
			p[i] = (struct pollfd){ x[i].done ? -1 : fds[i],
			    h_xfer_events(&x[i]), 0 };
			left += !x[i].done;
		}
		if (left == 0 || h_left(deadline) == 0)
			break;
		if (poll(p, n, h_left(deadline)) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (p[i].revents != 0)
				h_xfer_step(fds[i], &x[i], p[i].revents,
				    scratch, sizeof(scratch));
	}
	for (i = 0; i < n; i++)
		if (!x[i].done || x[i].end != H_OK)
			fail_msg("session %zu: %s at tx=%llu rx=%llu (bad at "
			    "%llu)", i, x[i].done ? h_end_str(x[i].end) :
			    "timeout", (unsigned long long)x[i].tx,
			    (unsigned long long)x[i].rx,
			    (unsigned long long)x[i].bad_at);
}

static struct h_relay *
relay_for(struct h_backend *b, const char *extra)
{
	return h_relay_start("[global]\nshutdown_timeout = 2s\nsplice = on\n%s"
			     "[route s]\nlisten = %s\nupstream = %s\n",
	    extra, h_hostport(AF_INET, 0),
	    h_hostport(AF_INET, h_backend_port(b)));
}

/* ${n} sessions each send and receive ${len} bytes at once, checked. */
static void
run_sessions(struct h_relay *r, struct h_backend *b, size_t n, uint64_t len)
{
	struct h_xfer		 x[NSESS];
	struct h_backend_stats	 st;
	int			 fds[NSESS];
	size_t			 i;

	for (i = 0; i < n; i++) {
		fds[i] = h_relay_connect(r, "s", AF_INET);
		x[i] = (struct h_xfer){ .out_len = len, .out_seed = 71,
		    .in_len = len, .in_seed = 72 };
	}
	xfer_all(fds, x, n, 60000);
	for (i = 0; i < n; i++)
		close(fds[i]);
	assert_true(h_backend_wait(b, (unsigned)n, (unsigned)n, 0, H_IO_MS));
	h_backend_stats(b, &st);
	if (st.failed != 0)
		fail_msg("backend: %s", st.error);
	assert_int_equal(st.rx, n * len);
	assert_int_equal(st.tx, n * len);
}

/* Megabytes both ways at once, spliced, and the counts in the log. */
static void
test_splice_duplex(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_STREAM,
		.in_len = 24 * MiB, .in_seed = 71,
		.out_len = 24 * MiB, .out_seed = 72 };
	struct h_backend	*b;
	struct h_relay		*r;
	char			*log;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = relay_for(b, "");
	run_sessions(r, b, 2, 24 * MiB);
	assert_true(h_relay_log_wait_n(r, "end=done", 2, H_IO_MS));
	log = h_relay_log(r);
	H_ASSERT_CONTAINS(log, "up=25165824 down=25165824");
	free(log);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * Sessions that moved bytes and went quiet hold no kernel pipe: what is
 * left is the worker's cache of idle ones, POOL_CACHE at most.
 */
static void
test_splice_idle_holds_no_pipe(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	int			 fds[40], i, p0, p1, end;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = relay_for(b, "workers = 1\n");
	p0 = h_pipe_fd_count(r->pid);
	for (i = 0; i < 40; i++)
		fds[i] = h_relay_connect(r, "s", AF_INET);
	for (i = 0; i < 40; i++)
		if ((end = h_echo(fds[i], 500 + (uint64_t)i, 256 * 1024,
		    H_IO_MS)) != H_OK)
			fail_msg("session %d: %s", i, h_end_str(end));
	p1 = h_pipe_fd_count(r->pid);
	print_message("pipe ends: %d before, %d with 40 idle sessions\n", p0,
	    p1);
	assert_in_range(p1 - p0, 0, 2 * POOL_CACHE);
	for (i = 0; i < 40; i++)
		close(fds[i]);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * An open files limit that leaves room for the sessions' sockets but not
 * for their pipes: pipe2() fails with EMFILE, and every session relays,
 * byte-exact, on the buffered path instead.
 */
static void
test_splice_no_pipes_falls_back(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_STREAM,
		.in_len = 2 * MiB, .in_seed = 71,
		.out_len = 2 * MiB, .out_seed = 72 };
	struct h_backend	*b;
	struct h_relay		*r;
	struct rlimit		 rl;
	int			 base;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	h_relay_set_nofile(256);
	r = relay_for(b, "workers = 1\nmax_connections = 100\n");
	h_relay_set_nofile(0);
	/* Its own descriptors, then exactly NSESS sessions' sockets more. */
	base = h_fd_count(r->pid);	/* no kernel pipe made yet */
	rl.rlim_cur = rl.rlim_max = (rlim_t)(base + 2 * NSESS);
	assert_int_equal(prlimit(r->pid, RLIMIT_NOFILE, &rl, NULL), 0);
	print_message("relay46 holds %d descriptors; limit %d\n", base,
	    base + 2 * NSESS);
	run_sessions(r, b, NSESS, 2 * MiB);
	assert_true(h_relay_log_wait_n(r, "end=done", NSESS, H_IO_MS));
	assert_int_equal(h_relay_log_count(r, "end=internal_error"), 0);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * splice = on splices bulk only: echoes of 64 bytes are copied, and no
 * kernel pipe is ever made for them; a megabyte is spliced, so pipes
 * appear.  splice = always makes pipes for the small echoes too.  The
 * pipe ends are counted while the session still has a burst in flight
 * on the bulk side, and after, in the worker's cache of idle pipes.
 */
static void
splice_mode_pipes(const char *mode, uint64_t len, bool want_pipes)
{
	struct h_backend_cfg cfg = { .mode = H_ECHO };
	struct h_backend    *b;
	struct h_relay	    *r;
	int		     fd, i, p0, p1, end;

	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\nworkers = 1\n"
	    "splice = %s\n[route s]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    mode, h_hostport(AF_INET, h_backend_port(b)));
	p0 = h_pipe_fd_count(r->pid);
	fd = h_relay_connect(r, "s", AF_INET);
	for (i = 0; i < 20; i++)
		if ((end = h_echo(fd, 900 + (uint64_t)i, len, H_IO_MS)) != H_OK)
			fail_msg("splice = %s, echo %d of %llu bytes: %s", mode,
			    i, (unsigned long long)len, h_end_str(end));
	p1 = h_pipe_fd_count(r->pid);
	print_message("splice = %s, echoes of %llu bytes: pipe ends %d, then "
		      "%d\n",
	    mode, (unsigned long long)len, p0, p1);
	if (want_pipes)
		assert_true(p1 > p0);
	else
		assert_int_equal(p1, p0);
	close(fd);
	h_relay_finish(r);
	h_backend_free(b);
}

static void
test_splice_on_copies_small(void **state)
{
	(void)state;
	splice_mode_pipes("on", 64, false);
}

static void
test_splice_on_splices_bulk(void **state)
{
	(void)state;
	splice_mode_pipes("on", MiB, true);
}

static void
test_splice_always_splices_small(void **state)
{
	(void)state;
	splice_mode_pipes("always", 64, true);
}

/*
 * Bytes that the socket from 127.0.0.1 port ${lport} to port ${rport}
 * holds unread, as sock_diag(7) tells them on the NETLINK_SOCK_DIAG
 * socket ${nl}: an exact lookup, not a walk of every socket as a read of
 * /proc/net/tcp is (milliseconds).  -1 if there is no such socket.
 */
static long
tcp_unread(int nl, int lport, int rport)
{
	struct {
		struct nlmsghdr		 nh;
		struct inet_diag_req_v2	 req;
	} q;
	union {
		struct nlmsghdr	 nh;
		char		 b[1024];
	} a;
	struct inet_diag_msg	*m;
	ssize_t			 n;

	memset(&q, 0, sizeof(q));
	q.nh.nlmsg_len = sizeof(q);
	q.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nh.nlmsg_flags = NLM_F_REQUEST;
	q.req.sdiag_family = AF_INET;
	q.req.sdiag_protocol = IPPROTO_TCP;
	q.req.idiag_states = ~0u;
	q.req.id.idiag_sport = htons((uint16_t)lport);
	q.req.id.idiag_dport = htons((uint16_t)rport);
	q.req.id.idiag_src[0] = q.req.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
	q.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (send(nl, &q, sizeof(q), 0) != (ssize_t)sizeof(q))
		return -1;
	/* The kernel answers within send(): the reply waits already. */
	n = recv(nl, &a, sizeof(a), MSG_DONTWAIT);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(*m)) ||
	    a.nh.nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return -1;
	m = NLMSG_DATA(&a.nh);
	return (long)m->idiag_rqueue;
}

/*
 * Whether relay46 has read all that the client ${fd} (port ${cport}) of
 * its listener on ${rport} sent: none left unsent here, none unread
 * there.  sock_diag(7) tells the latter on ${nl}.
 */
static bool
read_all(int fd, int nl, int rport, int cport)
{
	long	 unread;
	int	 unsent;

	if (ioctl(fd, SIOCOUTQNSD, &unsent) == -1)
		h_fault("SIOCOUTQNSD: %s", strerror(errno));
	if (unsent > 0)
		return false;
	if ((unread = tcp_unread(nl, rport, cport)) == -1)
		h_fault("sock_diag: no socket 127.0.0.1:%d -> %d", rport,
		    cport);
	return unread == 0;
}

/*
 * Send ${chunk}-byte messages on ${fd}, a client of relay46's listener
 * on ${rport}, each only once relay46 has read the one before: so each
 * is a segment of its own, and each read of relay46's takes one.  Ends
 * once relay46 leaves one unread for H_STALL_MS.  Returns the bytes
 * sent; fails the test if that does not happen within ${timeout_ms}.
 */
static uint64_t
send_paced(int fd, int rport, size_t chunk, int timeout_ms)
{
	/* Polled, as nothing tells us when relay46 reads; 1 ms is too slow. */
	const struct timespec tick = { 0, 100000 };
	uint8_t		      buf[4096];
	uint64_t	      sent = 0;
	int64_t		      deadline = h_now_ms() + timeout_ms, stall;
	unsigned	      i, k;
	int		      one = 1, cport = h_sock_port(fd, false), nl;
	int		      end = H_OK;

	assert_true(chunk <= sizeof(buf));
	assert_int_equal(
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl == -1)
		h_fault("sock_diag: %s", strerror(errno));
	for (i = 0; i < 1000000u && h_left(deadline) > 0; i++) {
		h_pattern(73, sent, buf, chunk);
		if ((end = h_send_all(fd, buf, chunk, H_IO_MS)) != H_OK)
			break;
		sent += chunk;
		stall = h_now_ms() + H_STALL_MS;
		for (k = 0; k < H_STALL_MS * 100; k++) {
			if (read_all(fd, nl, rport, cport))
				break;
			if (h_left(stall) == 0) {
				close(nl);
				return sent;
			}
			(void)ppoll(NULL, 0, &tick, NULL);
		}
	}
	close(nl);
	fail_msg("relay46 never stopped reading: %llu bytes sent (%s)",
	    (unsigned long long)sent, h_end_str(end));
	return sent;
}

/*
 * A client's reset must get through while the kernel pipe is out of
 * slots rather than bytes.  A pipe has a slot per buffer it holds (16 at
 * 64k), and a splice from a socket takes one or more per segment, however
 * small.  Once the sink upstream stops taking bytes, 16 messages of 2k
 * fill the slots with 32k; splice(2) then says EAGAIN before it looks at
 * the socket, so the reset there is never read.  The reset's edge leaves
 * the paused pipe unsure, so the session must still end as client_reset
 * within 100 ms (SESSION_VERIFY_MS; H_VERIFY_MS allowed here), as for a pipe full
 * of bytes, and the upstream must be reset.  (Before, the edge re-armed
 * the once-a-second paused check: 1005-1012 ms.)
 */
static void
test_splice_reset_out_of_slots(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_SINK };
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	uint64_t		 sent;
	long			 cpu0, cpu;
	int64_t			 t0, ms;
	int			 fd;
	bool			 ended;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "splice = always\n[route s]\nlisten = %s\n"
			  "upstream = %s\nbuffer = 64k\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "s", AF_INET);
	assert_true(h_backend_wait(b, 1, 0, 0, H_IO_MS));
	sent = send_paced(fd, h_relay_port(r, "s", AF_INET), 2048, 30000);
	cpu0 = h_cpu_ms(r->pid);
	t0 = h_now_ms();
	h_linger_reset(fd);
	ended = h_relay_log_wait(r, "end=client_reset", 3000);
	ms = h_now_ms() - t0;
	cpu = h_cpu_ms(r->pid) - cpu0;
	print_message("relay46 stopped reading after %llu bytes; the client's "
		      "reset %s after %lld ms, %ld ms of CPU\n",
	    (unsigned long long)sent, ended ? "seen" : "not seen",
	    (long long)ms, cpu);
	if (!ended) {
		h_relay_dump(r);
		fail_msg("the session never learnt of the client's reset");
	}
	assert_in_range(ms, 0, H_VERIFY_MS);
	assert_true(h_backend_wait(b, 1, 1, 0, H_IO_MS));
	h_backend_stats(b, &st);
	H_ASSERT_END(st.last_end, ECONNRESET, ECONNRESET);
	/* Waiting for the reset must not cost relay46 a busy CPU. */
	assert_true(cpu * 2 <= ms + 200);
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * A relay46 route "f" to a backend of our own that reads little (4 KiB
 * receive buffer) and only when told; its client ${*fd} and the backend's
 * end of the session ${*bfd}, and the listener ${*lfd}.
 */
static struct h_relay *
slow_backend_pair(int *lfd, int *fd, int *bfd)
{
	struct h_relay	*r;
	int		 port = 0, small = 4096;

	*lfd = h_listen_at("127.0.0.1", &port);
	assert_int_equal(
	    setsockopt(*lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n[route f]\n"
			  "listen = %s\nupstream = %s\nbuffer = 64k\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, port));
	*fd = h_relay_connect(r, "f", AF_INET);
	if ((*bfd = h_accept(*lfd, H_IO_MS)) == -1)
		fail_msg("the backend accepted nothing: %s", strerror(errno));
	return r;
}

/*
 * The client half-closes, then resets, while relay46 is not reading it
 * (its upstream does not read: the buffer or the kernel pipe is full).
 * The reset's edge leaves the paused side unsure; should the upstream
 * drain it before the session's check, relay46 reads the client's last
 * bytes and its FIN, and must still find the reset behind that FIN and
 * pass it on, not a clean end.  Whatever the path (RELAY46_SPLICE).
 */
static void
test_fin_then_reset_while_paused(void **state)
{
	struct h_relay	*r;
	int		 lfd, fd, bfd, end;

	(void)state;
	r = slow_backend_pair(&lfd, &fd, &bfd);
	(void)send_paced(fd, h_relay_port(r, "f", AF_INET), 2048, 30000);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	/* Our FIN acknowledged: it is in relay46's socket. */
	assert_true(h_wait_tcp_state(fd, TCP_FIN_WAIT2, H_IO_MS));
	h_linger_reset(fd);
	/* The upstream reads at once: relay46 resumes before any check. */
	end = h_wait_end(bfd, H_IO_MS, NULL);
	print_message("the client's FIN, then its reset, while paused: the "
		      "upstream saw %s\n",
	    h_end_str(end));
	H_ASSERT_END(end, ECONNRESET, ECONNRESET);
	H_EXPECT_LOG(r, "end=client_reset");
	close(bfd);
	close(lfd);
	h_relay_finish(r);
}

/*
 * The upstream half-closes first, so relay46 has shut the client's socket
 * for writing; then the client fills relay46 until it stops reading, and
 * resets.  That reset comes as an edge relay46 reads on to at once for a
 * source whose peer direction is done, but this source is paused: the
 * edge must still leave it unsure, so the upstream is reset within the
 * session's 100 ms check (H_VERIFY_MS allowed), not its once-a-second paused
 * check.  The upstream does not read meanwhile: only the reset wakes it.
 */
static void
test_reset_while_paused_after_upstream_fin(void **state)
{
	struct h_relay	*r;
	int64_t		 t0, ms;
	int		 lfd, fd, bfd, end;

	(void)state;
	r = slow_backend_pair(&lfd, &fd, &bfd);
	assert_int_equal(shutdown(bfd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	(void)send_paced(fd, h_relay_port(r, "f", AF_INET), 2048, 30000);
	t0 = h_now_ms();
	h_linger_reset(fd);
	end = h_wait_error(bfd, 3000);
	ms = h_now_ms() - t0;
	print_message("the upstream had half-closed; the client's reset while "
		      "paused reached it as %s after %lld ms\n",
	    h_end_str(end), (long long)ms);
	H_ASSERT_END(end, ECONNRESET, ECONNRESET);
	assert_in_range(ms, 0, H_VERIFY_MS);
	H_EXPECT_LOG(r, "end=client_reset");
	close(bfd);
	close(lfd);
	h_relay_finish(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_splice_duplex, h_teardown),
		cmocka_unit_test_teardown(test_splice_idle_holds_no_pipe,
		    h_teardown),
		cmocka_unit_test_teardown(test_splice_no_pipes_falls_back,
		    h_teardown),
		cmocka_unit_test_teardown(test_splice_on_copies_small,
		    h_teardown),
		cmocka_unit_test_teardown(test_splice_on_splices_bulk,
		    h_teardown),
		cmocka_unit_test_teardown(test_splice_always_splices_small,
		    h_teardown),
		cmocka_unit_test_teardown(test_splice_reset_out_of_slots,
		    h_teardown),
		cmocka_unit_test_teardown(test_fin_then_reset_while_paused,
		    h_teardown),
		cmocka_unit_test_teardown(
		    test_reset_while_paused_after_upstream_fin, h_teardown),
	};

	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
