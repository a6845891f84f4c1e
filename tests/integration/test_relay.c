/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * Bytes in, the same bytes out: every family pair, big transfers in both
 * directions at once, and half-close from either end.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define MiB		(1024u * 1024u)
#define BIG		(32u * MiB)

/* --- one short message through each family pair -------------------------- */

struct family_row {
	int	 client;	/* family the client and the listener use */
	int	 upstream;	/* family of the backend */
};

static void
run_family(const struct family_row *row)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 needle[96];
	int			 fd;

	if (row->client == AF_INET6 || row->upstream == AF_INET6)
		h_require_ipv6();
	b = h_backend_start(row->upstream, &cfg);
	r = h_relay_start("[global]\n"
			  "shutdown_timeout = 2s\n"
			  "\n"
			  "[route fam]\n"
			  "listen = %s\n"
			  "upstream = %s\n",
	    h_hostport(row->client, 0),
	    h_hostport(row->upstream, h_backend_port(b)));
	fd = h_relay_connect(r, "fam", row->client);
	H_ASSERT_END(h_echo(fd, 0x46 + (uint64_t)row->client * 7 +
	    (uint64_t)row->upstream, 100, H_IO_MS), H_OK, H_OK);
	/* Client EOF travels to the echo backend, which closes: EOF back. */
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
	/* The session used the upstream of the family we asked for. */
	snprintf(needle, sizeof(needle), "upstream=%s",
	    h_hostport(row->upstream, h_backend_port(b)));
	H_EXPECT_LOG(r, "end=done");
	{
		char	*log = h_relay_log(r);

		H_ASSERT_CONTAINS(log, needle);
		H_ASSERT_CONTAINS(log, "up=100 down=100");
		free(log);
	}
	h_relay_finish(r);
	h_backend_free(b);
}

static void
test_v4_to_v4(void **state)
{
	static const struct family_row	 row = { AF_INET, AF_INET };

	(void)state;
	run_family(&row);
}

static void
test_v6_to_v4(void **state)
{
	static const struct family_row	 row = { AF_INET6, AF_INET };

	(void)state;
	run_family(&row);
}

static void
test_v4_to_v6(void **state)
{
	static const struct family_row	 row = { AF_INET, AF_INET6 };

	(void)state;
	run_family(&row);
}

static void
test_v6_to_v6(void **state)
{
	static const struct family_row	 row = { AF_INET6, AF_INET6 };

	(void)state;
	run_family(&row);
}

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

/* --- 32 MiB each way at the same time ------------------------------------- */

/* Fail with what both ends saw: often the backend knows better. */
static void
fail_xfer(const struct h_xfer *x, struct h_backend *b)
{
	struct h_backend_stats	 st;
	char			 bad[64] = "";

	h_backend_stats(b, &st);
	if (x->end == EPROTO)
		snprintf(bad, sizeof(bad), ", wrong or missing byte at %llu",
		    (unsigned long long)x->bad_at);
	fail_msg("client: %s at tx=%llu rx=%llu%s; backend: %s",
	    h_end_str(x->end), (unsigned long long)x->tx,
	    (unsigned long long)x->rx, bad,
	    st.error[0] != '\0' ? st.error : "no error");
}

static void
test_duplex_32mib(void **state)
{
	struct h_backend_cfg	 cfg = {
		.mode = H_STREAM,
		.in_len = BIG, .in_seed = 1001,
		.out_len = BIG, .out_seed = 2002,
	};
	struct h_xfer		 x = {
		.out_len = BIG, .out_seed = 1001,
		.in_len = BIG, .in_seed = 2002,
	};
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	int64_t			 t0;
	int			 fd;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route big]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "big", AF_INET);
	t0 = h_now_ms();
	h_xfer_run(fd, &x, 60000);
	print_message("32 MiB each way: %lld ms, client tx=%llu rx=%llu\n",
	    (long long)(h_now_ms() - t0), (unsigned long long)x.tx,
	    (unsigned long long)x.rx);
	if (x.end != H_OK)
		fail_xfer(&x, b);
	assert_int_equal(x.rx, BIG);
	close(fd);
	assert_true(h_backend_wait(b, 1, 1, 0, H_IO_MS));
	h_backend_stats(b, &st);
	if (st.failed != 0)
		fail_msg("%s", st.error);
	assert_int_equal(st.rx, BIG);
	assert_int_equal(st.tx, BIG);
	h_relay_finish(r);
	h_backend_free(b);
}

/* --- half-close ---------------------------------------------------------- */

/* The client ends its request first and still gets the whole reply. */
static void
test_client_halfclose_first(void **state)
{
	struct h_backend_cfg	 cfg = {
		.mode = H_STREAM,
		.in_len = 1000, .in_seed = 11,
		.out_len = MiB, .out_seed = 12,
		.out_after_eof = true,
	};
	struct h_xfer		 x = {
		.out_len = 1000, .out_seed = 11,
		.in_len = MiB, .in_seed = 12,
	};
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	int			 fd;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route hc]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "hc", AF_INET);
	h_xfer_run(fd, &x, 20000);
	if (x.end != H_OK)
		fail_xfer(&x, b);
	/* h_xfer_run() shut down first and then read the reply to EOF. */
	assert_true(x.shut);
	assert_int_equal(x.rx, MiB);
	close(fd);
	assert_true(h_backend_wait(b, 1, 1, 0, H_IO_MS));
	h_backend_stats(b, &st);
	if (st.failed != 0)
		fail_msg("%s", st.error);
	H_EXPECT_LOG(r, "up=1000 down=1048576");
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * The backend sends its reply and shuts down first, then keeps reading:
 * the client's upload made after that EOF still gets there whole.
 */
static void
test_upstream_halfclose_first(void **state)
{
	struct h_backend_cfg	 cfg = {
		.mode = H_STREAM,
		.in_len = MiB, .in_seed = 21,
		.out_len = MiB, .out_seed = 22,
	};
	struct h_xfer		 x = {
		.out_len = MiB, .out_seed = 21,
		.in_len = MiB, .in_seed = 22,
		.out_after_eof = true,
	};
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	uint64_t		 extra = 0;
	int			 fd;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route hc]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "hc", AF_INET);
	h_xfer_run(fd, &x, 20000);
	if (x.end != H_OK)
		fail_xfer(&x, b);
	assert_int_equal(x.rx, MiB);
	assert_int_equal(x.tx, MiB);
	/* The backend got every byte of the upload and then our EOF. */
	assert_true(h_backend_wait(b, 1, 1, MiB, H_IO_MS));
	h_backend_stats(b, &st);
	if (st.failed != 0)
		fail_msg("%s", st.error);
	assert_int_equal(st.rx, MiB);
	/* Our side stays at EOF, nothing more, and the session ends clean. */
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, &extra), H_EOF, H_EOF);
	assert_int_equal(extra, 0);
	close(fd);
	H_EXPECT_LOG(r, "up=1048576 down=1048576");
	H_EXPECT_LOG(r, "end=done");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_v4_to_v4, h_teardown),
		cmocka_unit_test_teardown(test_v6_to_v4, h_teardown),
		cmocka_unit_test_teardown(test_v4_to_v6, h_teardown),
		cmocka_unit_test_teardown(test_v6_to_v6, h_teardown),
		cmocka_unit_test_teardown(test_wildcard_listen, h_teardown),
		cmocka_unit_test_teardown(test_duplex_32mib, h_teardown),
		cmocka_unit_test_teardown(test_client_halfclose_first,
		    h_teardown),
		cmocka_unit_test_teardown(test_upstream_halfclose_first,
		    h_teardown),
		cmocka_unit_test_teardown(test_quick_mode, h_teardown),
	};

	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
