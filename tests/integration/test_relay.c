/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * Bytes in, the same bytes out: every family pair, big transfers in both
 * directions at once, and half-close from either end.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define MiB		(1024u * 1024u)
#define BIG		(32u * MiB)

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The bytes of a family pair's message, one stream per pair. */
#define FAMILY_SEED(c, u) (0x46 + 7 * (uint64_t)(c) + (uint64_t)(u))

/*
 * The scenarios of one client through one route, as rows (harness.h,
 * struct h_scenario): a new such scenario is a new row.
 */
static const struct h_scenario rows[] = {
	/*
	 * One short message through each family pair; the client's EOF
	 * travels to the echo backend, which closes: EOF back.
	 */
	{ .name = "v4_to_v4",
	    .client = AF_INET,
	    .upstream = AF_INET,
	    .backend = { .mode = H_ECHO },
	    .seed = FAMILY_SEED(AF_INET, AF_INET),
	    .echo = 100,
	    .shut = true,
	    .end = "done" },
	{ .name = "v6_to_v4",
	    .client = AF_INET6,
	    .upstream = AF_INET,
	    .backend = { .mode = H_ECHO },
	    .seed = FAMILY_SEED(AF_INET6, AF_INET),
	    .echo = 100,
	    .shut = true,
	    .end = "done" },
	{ .name = "v4_to_v6",
	    .client = AF_INET,
	    .upstream = AF_INET6,
	    .backend = { .mode = H_ECHO },
	    .seed = FAMILY_SEED(AF_INET, AF_INET6),
	    .echo = 100,
	    .shut = true,
	    .end = "done" },
	{ .name = "v6_to_v6",
	    .client = AF_INET6,
	    .upstream = AF_INET6,
	    .backend = { .mode = H_ECHO },
	    .seed = FAMILY_SEED(AF_INET6, AF_INET6),
	    .echo = 100,
	    .shut = true,
	    .end = "done" },
	/* 32 MiB each way at the same time. */
	{ .name = "duplex_32mib",
	    .backend = { .mode = H_STREAM,
		.in_len = BIG,
		.in_seed = 1001,
		.out_len = BIG,
		.out_seed = 2002 },
	    .xfer = { .out_len = BIG,
		.out_seed = 1001,
		.in_len = BIG,
		.in_seed = 2002 },
	    .xfer_ms = 60000,
	    .end = "done" },
	/* The client ends its request first and still gets the whole reply. */
	{ .name = "client_halfclose_first",
	    .backend = { .mode = H_STREAM,
		.in_len = 1000,
		.in_seed = 11,
		.out_len = MiB,
		.out_seed = 12,
		.out_after_eof = true },
	    .xfer = { .out_len = 1000,
		.out_seed = 11,
		.in_len = MiB,
		.in_seed = 12 },
	    .xfer_ms = 20000,
	    .end = "done" },
	/*
	 * The backend sends its reply and shuts down first, then keeps
	 * reading: the client's upload made after that EOF still gets there
	 * whole, and the client's side stays at EOF.
	 */
	{ .name = "upstream_halfclose_first",
	    .backend = { .mode = H_STREAM,
		.in_len = MiB,
		.in_seed = 21,
		.out_len = MiB,
		.out_seed = 22 },
	    .xfer = { .out_len = MiB,
		.out_seed = 21,
		.in_len = MiB,
		.in_seed = 22,
		.out_after_eof = true },
	    .xfer_ms = 20000,
	    .end = "done" },
};

/* "*:P" is two sockets, 0.0.0.0:P and [::]:P; both reach the backend. */
static void
test_wildcard_listen(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 want[32];
	int			 fd4, fd6, h4, h6, port;

	(void)state;
	h_require_ipv6();
	b = h_backend_start(AF_INET, &cfg);
	/* One port free in both families, which relay46 takes over. */
	port = h_dual_port("0.0.0.0", "::", &h4, &h6);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route any]\nlisten = *:%d\nupstream = %s\n",
	    port, h_hostport(AF_INET, h_backend_port(b)));
	close(h4);
	close(h6);
	assert_int_equal(r->naddr, 2);
	snprintf(want, sizeof(want), "0.0.0.0:%d", port);
	assert_string_equal(h_relay_ready_addr(r, "any", 0)->text, want);
	snprintf(want, sizeof(want), "[::]:%d", port);
	assert_string_equal(h_relay_ready_addr(r, "any", 1)->text, want);
	fd4 = h_relay_connect(r, "any", AF_INET);
	fd6 = h_relay_connect(r, "any", AF_INET6);
	H_ASSERT_END(h_echo(fd4, 41, 4096, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_echo(fd6, 61, 4096, H_IO_MS), H_OK, H_OK);
	close(fd4);
	close(fd6);
	assert_true(h_backend_wait(b, 2, 2, 8192, H_IO_MS));
	h_relay_finish(r);
	h_backend_free(b);
}

/* --- quick mode ---------------------------------------------------------- */

static void
test_quick_mode(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 l[64], u[64];
	const char		*args[] = { "-l", l, "-u", u, NULL };
	int			 fd, hold, port = 0;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	/* A port of our own, which relay46 takes over (h_hold_port). */
	hold = h_hold_port("127.0.0.1", &port);
	snprintf(l, sizeof(l), "%s", h_hostport(AF_INET, port));
	snprintf(u, sizeof(u), "%s", h_hostport(AF_INET, h_backend_port(b)));
	r = h_relay_start_args(args);
	close(hold);
	/* The ready file names the route "quick" and the address we gave. */
	assert_string_equal(h_relay_addr(r, "quick", AF_INET)->text, l);
	fd = h_relay_connect(r, "quick", AF_INET);
	H_ASSERT_END(h_echo(fd, 77, 65536, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_echo(fd, 78, 300000, H_IO_MS), H_OK, H_OK);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
	H_EXPECT_LOG(r, "end=done");
	h_relay_finish(r);
	h_backend_free(b);
}

/* --- Segments: what relay46 adds to a connection's packets. */

/* TCP_INFO of ${fd}, by value for one field at a time. */
static struct tcp_info
tcp_info_of(int fd)
{
	struct tcp_info	 ti;

	h_tcp_info(fd, &ti);
	return ti;
}

/* A route "seg" to a backend we accept from ourselves: on ${lfd}. */
static struct h_relay *
seg_relay(int *lfd)
{
	int	 port = 0;

	*lfd = h_listen_at("127.0.0.1", &port);
	return h_relay_start("[route seg]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, port));
}

/*
 * A reply and the FIN behind it, both waiting when relay46 reads them
 * (it is stopped while the upstream sends them), leave relay46 as one
 * segment, as they left the upstream: the client counts one segment in
 * for both, not a data segment and a FIN (MSG_MORE, pipe.c).
 */
static void
test_reply_and_fin_one_segment(void **state)
{
	struct h_relay	*r;
	char		 buf[8];
	size_t		 got = 0;
	unsigned	 s0;
	int		 lfd, fd, bfd, i;

	(void)state;
	r = seg_relay(&lfd);
	fd = h_relay_connect(r, "seg", AF_INET);
	if ((bfd = h_accept(lfd, H_IO_MS)) == -1)
		fail_msg("the backend accepted nothing: %s", strerror(errno));
	H_ASSERT_END(h_send_all(fd, "ping", 4, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_recv_n(bfd, buf, 4, H_IO_MS, &got), H_OK, H_OK);
	/* Our request acknowledged: no ACK of it may count below. */
	for (i = 0; i < 200 && tcp_info_of(fd).tcpi_unacked != 0; i++)
		(void)poll(NULL, 0, 5);
	assert_int_equal(tcp_info_of(fd).tcpi_unacked, 0);
	h_stop_process(r->pid);
	s0 = tcp_info_of(fd).tcpi_segs_in;
	H_ASSERT_END(h_send_all(bfd, "pong", 4, H_IO_MS), H_OK, H_OK);
	assert_int_equal(shutdown(bfd, SHUT_WR), 0);
	assert_int_equal(kill(r->pid, SIGCONT), 0);
	H_ASSERT_END(h_recv_n(fd, buf, 4, H_IO_MS, &got), H_OK, H_OK);
	assert_memory_equal(buf, "pong", 4);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	assert_int_equal(tcp_info_of(fd).tcpi_segs_in - s0, 1);
	close(fd);
	close(bfd);
	close(lfd);
	H_EXPECT_LOG(r, "end=done");
	h_relay_finish(r);
}

/*
 * relay46 stopped while its client ${*fd} connects to route "seg" and
 * sends "ping" (and its FIN, with ${fin}); then the backend's end of the
 * session, accepted on ${lfd}, once "ping" has come through.
 */
static int
spoke_before_accept(struct h_relay *r, int lfd, bool fin, int *fd)
{
	char	 buf[8];
	size_t	 got = 0;
	int	 bfd;

	h_stop_process(r->pid);
	/* The kernel completes our handshake while relay46 is stopped. */
	*fd = h_relay_connect(r, "seg", AF_INET);
	H_ASSERT_END(h_send_all(*fd, "ping", 4, H_IO_MS), H_OK, H_OK);
	if (fin)
		assert_int_equal(shutdown(*fd, SHUT_WR), 0);
	assert_int_equal(kill(r->pid, SIGCONT), 0);
	if ((bfd = h_accept(lfd, H_IO_MS)) == -1)
		fail_msg("the backend accepted nothing: %s", strerror(errno));
	H_ASSERT_END(h_recv_n(bfd, buf, 4, H_IO_MS, &got), H_OK, H_OK);
	assert_memory_equal(buf, "ping", 4);
	return bfd;
}

/*
 * A client that spoke before relay46 accepted it: the upstream's
 * handshake ends with those bytes, not with an ACK of its own, so the
 * backend counts two segments in (SYN, then ACK and bytes), not three
 * (TCP_QUICKACK off, upstream.c).
 */
static void
test_first_bytes_end_handshake(void **state)
{
	struct h_relay	*r;
	int		 lfd, fd, bfd;

	(void)state;
	r = seg_relay(&lfd);
	bfd = spoke_before_accept(r, lfd, false, &fd);
	assert_int_equal(tcp_info_of(bfd).tcpi_segs_in, 2);
	close(fd);
	close(bfd);
	close(lfd);
	h_relay_finish(r);
}

/*
 * A client that sent its request and its FIN before relay46 accepted it:
 * both wait in relay46 for the upstream connect, and then leave as one
 * segment, so the backend counts two in (SYN, then ACK, bytes and FIN),
 * not three (a FIN of its own; MSG_MORE on the buffered send, pipe.c).
 */
static void
test_first_bytes_and_fin_one_segment(void **state)
{
	struct h_relay	*r;
	int		 lfd, fd, bfd;

	(void)state;
	r = seg_relay(&lfd);
	bfd = spoke_before_accept(r, lfd, true, &fd);
	H_ASSERT_END(h_wait_end(bfd, H_IO_MS, NULL), H_EOF, H_EOF);
	assert_int_equal(tcp_info_of(bfd).tcpi_segs_in, 2);
	close(bfd);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
	close(lfd);
	H_EXPECT_LOG(r, "end=done");
	h_relay_finish(r);
}

int
main(void)
{
	const struct CMUnitTest	 funcs[] = {
		cmocka_unit_test_teardown(test_wildcard_listen, h_teardown),
		cmocka_unit_test_teardown(test_quick_mode, h_teardown),
		cmocka_unit_test_teardown(test_reply_and_fin_one_segment,
		    h_teardown),
		cmocka_unit_test_teardown(test_first_bytes_end_handshake,
		    h_teardown),
		cmocka_unit_test_teardown(test_first_bytes_and_fin_one_segment,
		    h_teardown),
	};
	struct CMUnitTest	 tests[NELEM(rows) + NELEM(funcs)];
	size_t			 i, n = 0;

	/* Each row is a test of its own, named after the row. */
	for (i = 0; i < NELEM(rows); i++)
		tests[n++] = h_scenario_test(&rows[i]);
	for (i = 0; i < NELEM(funcs); i++)
		tests[n++] = funcs[i];
	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
