/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * What a client sees when something breaks: an upstream that refuses,
 * one that resets in the middle of a stream, a client that resets.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "harness.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Scenarios with no upstream reached, as rows: the client is reset (not
 * sent a FIN, which reads as an empty reply), with no byte, within
 * max_ms, and the session line says end=${end}.  A new such scenario is
 * a new row.
 */
enum up_kind {
	UP_REFUSED,	/* a loopback port held bound, not listening */
	UP_BLACKHOLE,	/* a listener whose accept queue is full */
	UP_LITERAL,	/* the address in keys, nothing to set up */
};

struct unreached_row {
	const char	*name;
	enum up_kind	 up;
	const char	*keys;		/* route keys after listen (a %s for
					   the upstream unless UP_LITERAL) */
	size_t		 send;		/* bytes the client sends first */
	const char	*end;		/* the session line's end= */
	int64_t		 max_ms;	/* the reset comes within this */
};

static const struct unreached_row unreached_rows[] = {
	/* The only upstream refuses, after retries: reset within a second. */
	{ "upstream_refused", UP_REFUSED, "upstream = %s\nretries = 2\n", 0,
	    "upstream_refused", 1000 },
	/* The connect hangs past connect_timeout: reset. */
	{ "connect_timeout_resets", UP_BLACKHOLE,
	    "upstream = %s\nretries = 0\nconnect_timeout = 300ms\n", 0,
	    "connect_timeout", 2000 },
	/*
	 * No route: Linux refuses a TCP connect to a multicast address with
	 * ENETUNREACH before any packet leaves, so this stays on the host.
	 */
	{ "upstream_unreachable_resets", UP_LITERAL,
	    "upstream = 224.0.0.1:9\nretries = 0\n", 0, "upstream_unreachable",
	    1000 },
	/*
	 * The client already sending: the bytes it sent while the relay was
	 * connecting do not keep the session alive.
	 */
	{ "refused_with_pending_bytes", UP_REFUSED,
	    "upstream = %s\nretries = 0\n", 4096, "upstream_refused", 3000 },
};

static void
run_unreached(void **state)
{
	const struct unreached_row *row = *state;
	struct h_relay	*r;
	char		 route[256], needle[64];
	uint8_t		 req[4096];
	uint64_t	 extra = 0;
	int64_t		 t0, took;
	int		 fd, got, hold = -1, filler = -1, port = 0;

	switch (row->up) {
	case UP_REFUSED:
		hold = h_refused_port(AF_INET, &port);
		break;
	case UP_BLACKHOLE:
		hold = h_blackhole(AF_INET, &port, &filler);
		break;
	case UP_LITERAL:
		break;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(route, sizeof(route), row->keys, h_hostport(AF_INET, port));
#pragma GCC diagnostic pop
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route un]\nlisten = %s\n%s",
	    h_hostport(AF_INET, 0), route);
	t0 = h_now_ms();
	fd = h_relay_try_connect(r, "un", AF_INET, NULL);
	assert_true(row->send <= sizeof(req));
	if (fd != -1 && row->send > 0) {
		h_pattern(50, 0, req, row->send);
		/* The relay may already have reset: EPIPE/ECONNRESET are fine. */
		(void)h_send_all(fd, req, row->send, 1000);
	}
	got = fd == -1 ? ECONNRESET :
			 h_wait_end(fd, (int)row->max_ms + 3000, &extra);
	took = h_now_ms() - t0;
	print_message("%s: client saw %s after %lld ms, %llu bytes\n", row->end,
	    h_end_str(got), (long long)took, (unsigned long long)extra);
	H_ASSERT_END(got, ECONNRESET, ECONNRESET);
	assert_int_equal(extra, 0);
	assert_in_range(took, 0, row->max_ms);
	if (fd != -1)
		close(fd);
	snprintf(needle, sizeof(needle), "end=%s", row->end);
	H_EXPECT_LOG(r, needle);
	h_relay_finish(r);
	if (filler != -1)
		close(filler);
	if (hold != -1)
		close(hold);
}

/*
 * A host name that does not exist (the test's name server answers
 * NXDOMAIN) is reported in the system's words, as getaddrinfo(3) users
 * know them, not in libevent's BSD ones.
 */
static void
test_unknown_host_wording(void **state)
{
	const char	*args[] = { "-t", "-c", NULL, NULL };
	struct h_dns	*dns;
	char		 conf[H_PATH + 32], *out = NULL, *err = NULL;
	int		 rc;

	(void)state;
	dns = h_dns_start();
	h_write_file(conf, sizeof(conf), h_tmpdir(), "nx.ini",
	    "[route nx]\nlisten = 127.0.0.1:1\n"
	    "upstream = nosuch.relay46.test:80\n");
	args[2] = conf;
	h_relay_setenv("RELAY46_RESOLV_CONF", h_dns_resolv_conf(dns));
	rc = h_run(args, &out, &err, 10000);
	h_relay_setenv(NULL, NULL);
	print_message("relay46 -t: %s", err);
	assert_int_equal(rc, 1);
	H_ASSERT_CONTAINS(err, "cannot resolve 'nosuch.relay46.test': "
	    "Name or service not known");
	free(out);
	free(err);
	h_dns_free(dns);
}

/*
 * The "connect failed" lines in ${log}: how many, and the sum of the
 * "(N more like this suppressed)" counts they carry.
 */
static void
count_connect_failed(const char *log, unsigned *lines, unsigned *held)
{
	const char	*p, *q, *eol;
	unsigned	 n;

	*lines = *held = 0;
	for (p = log; (p = strstr(p, "msg=\"connect failed")) != NULL;
	    p = eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		(*lines)++;
		if ((q = strstr(p, "more like this suppressed")) != NULL &&
		    q < eol) {
			while (q > p && q[-1] == ' ')
				q--;
			while (q > p && q[-1] >= '0' && q[-1] <= '9')
				q--;
			if (sscanf(q, "%u", &n) == 1)
				*held += n;
		}
	}
}

/*
 * An outage must not flood the log: 200 clients refused in a burst give
 * each its session line, but "connect failed" comes at most once a second
 * (so one or two lines, three on a slow machine), and the next one that
 * goes out tells how many were held back: every failure is accounted for.
 */
#define FLOOD_CLIENTS	200

static void
test_refused_no_flood(void **state)
{
	struct h_relay	*r;
	char		*log;
	unsigned	 i, lines, held;
	int64_t		 t0, took;
	int		 hold, port, fd;

	(void)state;
	hold = h_refused_port(AF_INET, &port);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route fl]\nlisten = %s\nupstream = %s\nretries = 0\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, port));
	t0 = h_now_ms();
	for (i = 0; i < FLOOD_CLIENTS; i++)
		if ((fd = h_relay_try_connect(r, "fl", AF_INET, NULL)) != -1) {
			(void)h_wait_end(fd, 3000, NULL);
			close(fd);
		}
	took = h_now_ms() - t0;
	if (!h_relay_log_wait_n(r, "end=upstream_refused", FLOOD_CLIENTS,
	    H_IO_MS)) {
		h_relay_dump(r);
		fail_msg("fewer than %d session lines", FLOOD_CLIENTS);
	}
	/* One more once the second is over: it carries the count. */
	while (h_now_ms() - t0 < 1100)
		(void)poll(NULL, 0, 50);
	if ((fd = h_relay_try_connect(r, "fl", AF_INET, NULL)) != -1) {
		(void)h_wait_end(fd, 3000, NULL);
		close(fd);
	}
	if (!h_relay_log_wait_n(r, "end=upstream_refused", FLOOD_CLIENTS + 1,
	    H_IO_MS))
		fail_msg("no session line for the last client");
	H_EXPECT_LOG(r, "more like this suppressed");
	log = h_relay_log(r);
	count_connect_failed(log, &lines, &held);
	print_message("%d refused clients in %lld ms, then one more: %u "
	    "\"connect failed\" lines, %u held back\n", FLOOD_CLIENTS,
	    (long long)took, lines, held);
	free(log);
	assert_in_range(lines, 2, 2 + (unsigned)(took / 1000));
	assert_int_equal(lines + held, FLOOD_CLIENTS + 1);
	assert_int_equal(h_relay_log_count(r, "end=upstream_refused"),
	    FLOOD_CLIENTS + 1);
	h_relay_finish(r);
	close(hold);
}

/*
 * Upstreams [refused, echo] with retries = 1: round robin starts some
 * sessions on the refused one, and each of them must move on to the echo.
 */
static void
test_retry_next_upstream(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	int			 hold, port, fd, i;

	(void)state;
	hold = h_refused_port(AF_INET, &port);
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route rt]\nlisten = %s\n"
			  "upstream = %s\nupstream = %s\nretries = 1\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, port),
	    h_hostport(AF_INET, h_backend_port(b)));
	for (i = 0; i < 4; i++) {
		fd = h_relay_connect(r, "rt", AF_INET);
		H_ASSERT_END(h_echo(fd, 500 + (uint64_t)i, 20000, H_IO_MS),
		    H_OK, H_OK);
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
		H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
		close(fd);
	}
	assert_true(h_backend_wait(b, 4, 4, 4 * 20000, H_IO_MS));
	h_backend_stats(b, &st);
	assert_int_equal(st.accepted, 4);
	assert_int_equal(st.failed, 0);
	if (!h_relay_log_wait_n(r, "end=done", 4, H_IO_MS)) {
		h_relay_dump(r);
		fail_msg("expected 4 sessions with end=done");
	}
	assert_int_equal(h_relay_log_count(r, "end=upstream_refused"), 0);
	/* Round robin did start some sessions on the refused upstream. */
	assert_true(h_relay_log_count(r, "Connection refused") >= 1);
	h_relay_finish(r);
	h_backend_free(b);
	close(hold);
}

/* The backend sends part of a reply and then resets: so does the client. */
static void
test_upstream_reset(void **state)
{
	struct h_backend_cfg	 cfg = {
		.mode = H_RESET,
		.reset_after = 100,
		.out_len = 32768, .out_seed = 31,
	};
	struct h_backend	*b;
	struct h_relay		*r;
	uint8_t			 req[100];
	uint64_t		 got = 0;
	int			 fd, end;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route rs]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "rs", AF_INET);
	h_pattern(30, 0, req, sizeof(req));
	H_ASSERT_END(h_send_all(fd, req, sizeof(req), H_IO_MS), H_OK, H_OK);
	assert_true(h_backend_wait(b, 1, 1, sizeof(req), H_IO_MS));
	end = h_wait_end(fd, 5000, &got);
	print_message("client got %llu bytes, then %s\n",
	    (unsigned long long)got, h_end_str(end));
	/* A reset must not turn into a clean end of stream. */
	H_ASSERT_END(end, ECONNRESET, ECONNRESET);
	assert_in_range(got, 0, 32768);
	close(fd);
	H_EXPECT_LOG(r, "end=upstream_reset");
	h_relay_finish(r);
	h_backend_free(b);
}

/* The client resets: the backend learns it through a reset too. */
static void
test_client_reset(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	int			 fd;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route cr]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "cr", AF_INET);
	H_ASSERT_END(h_echo(fd, 40, 10000, H_IO_MS), H_OK, H_OK);
	h_linger_reset(fd);
	if (!h_backend_wait(b, 1, 1, 0, 5000))
		fail_msg("the backend connection did not end after the "
			 "client's reset");
	h_backend_stats(b, &st);
	print_message("backend connection ended with %s\n",
	    h_end_str(st.last_end));
	H_ASSERT_END(st.last_end, ECONNRESET, ECONNRESET);
	H_EXPECT_LOG(r, "end=client_reset");
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * A reset must get through even while relay46 has stopped reading that
 * side for backpressure.  Here the client fills everything up to a sink
 * that never reads, then resets: the sink must see the reset, and the
 * relay must not spin meanwhile.  The reset's edge reaches a paused
 * side, which the session verifies within 100 ms (SESSION_VERIFY_MS), not
 * at its next once-a-second paused check: well within H_VERIFY_MS.
 */

static void
test_client_reset_while_stalled(void **state)
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
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route st]\nlisten = %s\nupstream = %s\nbuffer = 64k\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "st", AF_INET);
	assert_true(h_backend_wait(b, 1, 0, 0, H_IO_MS));
	sent = h_fill(fd, 60, 20000);
	cpu0 = h_cpu_ms(r->pid);
	t0 = h_now_ms();
	h_linger_reset(fd);
	ended = h_backend_wait(b, 1, 1, 0, 3000);
	ms = h_now_ms() - t0;
	cpu = h_cpu_ms(r->pid) - cpu0;
	print_message(
	    "stalled after %llu bytes; after the client's reset the "
	    "sink %s after %lld ms; relay46 used %ld ms of CPU meanwhile\n",
	    (unsigned long long)sent, ended ? "saw the end" : "saw nothing",
	    (long long)ms, cpu);
	if (!ended) {
		h_relay_dump(r);
		fail_msg("the upstream never learnt of the client's reset");
	}
	h_backend_stats(b, &st);
	H_ASSERT_END(st.last_end, ECONNRESET, ECONNRESET);
	assert_in_range(ms, 0, H_VERIFY_MS);
	/* Waiting for the reset must not cost relay46 a busy CPU. */
	assert_true(cpu * 2 <= ms + 200);
	H_EXPECT_LOG(r, "end=client_reset");
	h_relay_finish(r);
	h_backend_free(b);
}

/* The same the other way: upstream floods a client that does not read. */
static void
test_upstream_reset_while_stalled(void **state)
{
	struct h_backend_cfg	 cfg = {
		.mode = H_FLOOD,
		.out_len = 1024u * 1024u * 1024u, .out_seed = 70,
	};
	struct h_backend	*b;
	struct h_relay		*r;
	long			 cpu0, cpu;
	int64_t			 t0, ms;
	int			 fd, end;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route st]\nlisten = %s\nupstream = %s\nbuffer = 64k\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	fd = h_relay_connect(r, "st", AF_INET);
	/* The backend resets once nothing more goes out: everything is full. */
	if (!h_backend_wait(b, 1, 1, 0, 20000))
		fail_msg("the flood backend never stalled");
	cpu0 = h_cpu_ms(r->pid);
	t0 = h_now_ms();
	/* Not reading is the point: only an error or hang-up wakes us. */
	end = h_wait_error(fd, 3000);
	ms = h_now_ms() - t0;
	cpu = h_cpu_ms(r->pid) - cpu0;
	print_message("after the upstream's reset the client saw %s after "
		      "%lld ms; relay46 used %ld ms of CPU meanwhile\n",
	    h_end_str(end), (long long)ms, cpu);
	if (end == ETIMEDOUT)
		h_relay_dump(r);
	H_ASSERT_END(end, ECONNRESET, ECONNRESET);
	/* The backend's reset came before t0. */
	assert_in_range(ms, 0, H_VERIFY_MS);
	assert_true(cpu * 2 <= ms + 200);
	close(fd);
	H_EXPECT_LOG(r, "end=upstream_reset");
	h_relay_finish(r);
	h_backend_free(b);
}

/*
 * A client and a backend connected through relay46, one of them the
 * peer that resets (${client}: the client), for the reset tests below.
 */
struct rpair {
	struct h_relay	*r;
	int		 lfd;
	int		 a;		/* the peer that resets */
	int		 b;		/* the other peer */
	bool		 client;
};

static void
rpair_open(struct rpair *p, bool client, const char *route_keys)
{
	int	 port = 0, fd, bfd;

	p->client = client;
	p->lfd = h_listen_at("127.0.0.1", &port);
	p->r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			     "[route rp]\nlisten = %s\nupstream = %s\n%s",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, port), route_keys);
	fd = h_relay_connect(p->r, "rp", AF_INET);
	if ((bfd = h_accept(p->lfd, H_IO_MS)) == -1)
		fail_msg("the backend accepted nothing: %s", strerror(errno));
	p->a = client ? fd : bfd;
	p->b = client ? bfd : fd;
}

/*
 * Since ${t0} the resetting peer is gone: the other must see the reset
 * (${end_ok}, or ECONNRESET) within a second, and the session line must
 * say who reset.  Closes everything.
 */
static void
rpair_expect_reset(struct rpair *p, int64_t t0, const char *what, int end_ok)
{
	int64_t	 ms;
	int	 end;

	end = h_wait_error(p->b, 3000);
	ms = h_now_ms() - t0;
	print_message("%s %s: the %s saw %s after %lld ms\n",
	    p->client ? "client" : "upstream", what,
	    p->client ? "upstream" : "client", h_end_str(end), (long long)ms);
	if (end == ETIMEDOUT)
		h_relay_dump(p->r);
	H_ASSERT_END(end, ECONNRESET, end_ok);
	assert_in_range(ms, 0, 1000);
	close(p->b);
	H_EXPECT_LOG(p->r,
	    p->client ? "end=client_reset" : "end=upstream_reset");
	h_relay_finish(p->r);
	close(p->lfd);
}

/*
 * A peer that has sent its request and FIN, then resets (${client}: the
 * client does; else the upstream).  relay46 reads nothing more from that
 * side, yet the other peer must learn of the reset at once (DESIGN §1),
 * well before fin_timeout, and the session line must say it was a reset.
 */
static void
reset_after_fin(bool client)
{
	struct rpair	 p;
	char		 buf[16];
	size_t		 got = 0;

	rpair_open(&p, client, "fin_timeout = 6s\n");
	H_ASSERT_END(h_send_all(p.a, "request", 7, H_IO_MS), H_OK, H_OK);
	assert_int_equal(shutdown(p.a, SHUT_WR), 0);
	/* The other peer has it all, FIN included: relay46 read the EOF. */
	H_ASSERT_END(h_recv_n(p.b, buf, 7, H_IO_MS, &got), H_OK, H_OK);
	H_ASSERT_END(h_wait_end(p.b, H_IO_MS, NULL), H_EOF, H_EOF);
	h_linger_reset(p.a);
	/* In CLOSE_WAIT (its FIN came first) Linux reports a reset as EPIPE. */
	rpair_expect_reset(&p, h_now_ms(), "reset after its FIN", EPIPE);
}

/*
 * A peer's last bytes and its reset reach relay46 in one edge (relay46 is
 * stopped while they come): libevent reports that edge as it reports
 * plain bytes, and pipe.c leaves the read that finds the reset to the
 * session's timer rather than pay it per message.  The other peer must
 * get the bytes, then the reset, well within a second, and the session
 * line must say it was a reset (${client}: the client resets; else the
 * upstream).  With ${fin} the peer half-closes between the bytes and the
 * reset: the read then finds the FIN, and the reset behind it must not
 * pass for a clean end.
 */
static void
bytes_then_reset(bool client, bool fin)
{
	struct rpair	 p;
	char		 buf[16];
	size_t		 got = 0;
	int64_t		 t0;

	rpair_open(&p, client, "");
	/* One message relayed first: the session is relaying. */
	H_ASSERT_END(h_send_all(p.a, "first", 5, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_recv_n(p.b, buf, 5, H_IO_MS, &got), H_OK, H_OK);
	h_stop_process(p.r->pid);
	H_ASSERT_END(h_send_all(p.a, "last", 4, H_IO_MS), H_OK, H_OK);
	if (fin)
		assert_int_equal(shutdown(p.a, SHUT_WR), 0);
	h_linger_reset(p.a);
	assert_int_equal(kill(p.r->pid, SIGCONT), 0);
	t0 = h_now_ms();
	H_ASSERT_END(h_recv_n(p.b, buf, 4, H_IO_MS, &got), H_OK, H_OK);
	assert_memory_equal(buf, "last", 4);
	rpair_expect_reset(&p, t0,
	    fin ? "sent its last bytes, FIN and reset in one edge" :
		  "sent its last bytes and reset in one edge",
	    ECONNRESET);
}

static void
test_client_bytes_then_reset(void **state)
{
	(void)state;
	bytes_then_reset(true, false);
}

static void
test_upstream_bytes_then_reset(void **state)
{
	(void)state;
	bytes_then_reset(false, false);
}

static void
test_client_fin_reset_one_edge(void **state)
{
	(void)state;
	bytes_then_reset(true, true);
}

static void
test_upstream_fin_reset_one_edge(void **state)
{
	(void)state;
	bytes_then_reset(false, true);
}

static void
test_client_reset_after_fin(void **state)
{
	(void)state;
	reset_after_fin(true);
}

static void
test_upstream_reset_after_fin(void **state)
{
	(void)state;
	reset_after_fin(false);
}

/*
 * The upstream resets while relay46 is not reading it (the client reads
 * nothing, so that direction is paused), and the client's FIN comes
 * first: passing the FIN on (shutdown) is what finds the upstream gone,
 * with ENOTCONN.  That is the upstream's reset, and must be logged as one,
 * not as an upstream error "Transport endpoint is not connected".
 */
static void
test_upstream_reset_seen_at_fin(void **state)
{
	struct h_relay	*r;
	int		 lfd, port = 0, fd, bfd, end, small = 4096;

	(void)state;
	lfd = h_listen_at("127.0.0.1", &port);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route rs]\nlisten = %s\nupstream = %s\nbuffer = 16k\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, port));
	fd = h_relay_connect(r, "rs", AF_INET);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if ((bfd = h_accept(lfd, H_IO_MS)) == -1)
		fail_msg("the backend accepted nothing: %s", strerror(errno));
	/* Stalled: relay46 has stopped reading the upstream. */
	(void)h_fill(bfd, 80, 20000);
	h_linger_reset(bfd);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	end = h_wait_error(fd, 3000);
	print_message("the client saw %s\n", h_end_str(end));
	H_ASSERT_END(end, ECONNRESET, ECONNRESET);
	close(fd);
	H_EXPECT_LOG(r, "end=upstream_reset");
	assert_int_equal(h_relay_log_count(r, "end=upstream_error"), 0);
	h_relay_finish(r);
	close(lfd);
}

/*
 * An upstream whose accept queue is full drops our SYN, so the connect
 * hangs.  A listening socket with backlog 0 holds one connection; fill it
 * and hand the port out.  Returns the listening fd; *${filler} holds the
 * queued connection.  Both stay open as long as the caller needs.
 */
static int
blackhole(int *port, int *filler)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, c, i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 0) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		h_fault("blackhole listener: %s", strerror(errno));
	*port = ntohs(sin.sin_port);
	*filler = -1;
	/* Connect until one does not complete: the queue is then full. */
	for (i = 0; i < 8; i++) {
		if ((c = h_connect_port(AF_INET, *port, 300)) == -1)
			return fd;
		if (*filler != -1)
			close(*filler);
		*filler = c;
	}
	h_fault("blackhole: the accept queue never filled");
	return -1;
}

/*
 * A relay46 whose route "ct" connects to a blackhole() (no retries), with
 * ${keys} added to the route; *${lfd} and *${filler} as blackhole()'s.
 */
static struct h_relay *
blackhole_relay(const char *keys, int *lfd, int *filler)
{
	int	 port;

	*lfd = blackhole(&port, filler);
	return h_relay_start("[global]\nshutdown_timeout = 2s\n"
			     "[route ct]\nlisten = %s\nupstream = %s\n"
			     "retries = 0\n%s",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, port), keys);
}

/*
 * The client fills its buffer while the connect hangs: the session still
 * gets the whole connect_timeout (the pause check must not cut it short).
 */
static void
test_connect_timeout_with_full_buffer(void **state)
{
	struct h_relay	*r;
	uint8_t		 req[32768];
	int64_t		 t0, took;
	int		 lfd, filler, fd;

	(void)state;
	r = blackhole_relay("connect_timeout = 3s\nbuffer = 4k\n", &lfd,
	    &filler);
	t0 = h_now_ms();
	fd = h_relay_connect(r, "ct", AF_INET);
	h_pattern(60, 0, req, sizeof(req));
	H_ASSERT_END(h_send_all(fd, req, sizeof(req), 2000), H_OK, H_OK);
	H_ASSERT_END(h_wait_end(fd, 6000, NULL), ECONNRESET, ECONNRESET);
	took = h_now_ms() - t0;
	print_message("connect gave up after %lld ms (connect_timeout 3s)\n",
	    (long long)took);
	assert_in_range(took, 2800, 5000);
	close(fd);
	H_EXPECT_LOG(r, "end=connect_timeout");
	h_relay_finish(r);
	if (filler != -1)
		close(filler);
	close(lfd);
}

/*
 * The client sends bytes and resets, in one edge (relay46 is stopped
 * meanwhile), while the connect upstream hangs: the reset must end the
 * session and cancel the connect at once, not wait for connect_timeout.
 */
static void
test_client_reset_while_connecting(void **state)
{
	struct h_relay	*r;
	int64_t		 t0, ms;
	int		 lfd, filler, fd;
	bool		 ended;

	(void)state;
	r = blackhole_relay("connect_timeout = 5s\n", &lfd, &filler);
	fd = h_relay_connect(r, "ct", AF_INET);
	h_stop_process(r->pid);
	H_ASSERT_END(h_send_all(fd, "hello", 5, H_IO_MS), H_OK, H_OK);
	h_linger_reset(fd);
	assert_int_equal(kill(r->pid, SIGCONT), 0);
	t0 = h_now_ms();
	ended = h_relay_log_wait(r, "end=client_reset", 3000);
	ms = h_now_ms() - t0;
	print_message("the client reset while connecting: %s after %lld ms\n",
	    ended ? "end=client_reset" : "no end", (long long)ms);
	if (!ended) {
		h_relay_dump(r);
		fail_msg("the session waited for its connect, not the reset");
	}
	assert_in_range(ms, 0, 1000);
	h_relay_finish(r);
	if (filler != -1)
		close(filler);
	close(lfd);
}

/*
 * Sessions end by the thousand while the control thread opens and closes
 * a health-check socket every 10 ms (the backup upstream refuses).  Both
 * threads take the lowest free descriptor number, so the numbers a worker
 * gives up are reused at once: a worker that passed an fd to epoll_ctl
 * after closing it (libevent's changelist applies event_del() only at the
 * next dispatch) did so on the control thread's socket, which
 * ThreadSanitizer reports (and, in clang 14-16, then crashes on).  Under
 * --enable-tsan this is the test for worker_close_fd(); in every build,
 * no session may fail.
 */
#define CHURN_THREADS	4
#define CHURN_MAX	5000	/* sessions per thread */
#define CHURN_MS	2000

struct churn {
	const struct h_relay *r;
	int64_t		 deadline;
	unsigned	 ok, failed;
};

static void *
churn_main(void *arg)
{
	struct churn	*c = arg;
	unsigned	 i;
	int		 fd;

	for (i = 0; i < CHURN_MAX && h_now_ms() < c->deadline; i++) {
		fd = h_connect_port(AF_INET,
		    h_relay_port(c->r, "churn", AF_INET), 2000);
		if (fd != -1 && h_echo(fd, i, 16, 2000) == H_OK)
			c->ok++;
		else
			c->failed++;
		if (fd != -1)
			close(fd);
	}
	return NULL;
}

static void
test_churn_with_health_checks(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	struct churn		 c[CHURN_THREADS];
	pthread_t		 t[CHURN_THREADS];
	unsigned		 ok = 0, failed = 0, i;
	int			 hold, port;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	hold = h_refused_port(AF_INET, &port);
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route churn]\nlisten = %s\nupstream = %s\n"
			  "upstream = 127.0.0.1:%d backup\n"
			  "health_check = tcp\ncheck_interval = 10ms\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)),
	    port);
	/* The backup is down. */
	H_EXPECT_LOG(r, "msg=\"upstream down\"");
	for (i = 0; i < CHURN_THREADS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].r = r;
		c[i].deadline = h_now_ms() + CHURN_MS;
		assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c[i]),
		    0);
	}
	for (i = 0; i < CHURN_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		ok += c[i].ok;
		failed += c[i].failed;
	}
	print_message("%u sessions, %u failed\n", ok + failed, failed);
	assert_int_equal(failed, 0);
	assert_true(ok >= 100);
	assert_true(h_relay_running(r));
	h_relay_finish(r);
	close(hold);
}

int
main(void)
{
	const struct CMUnitTest	 funcs[] = {
		cmocka_unit_test_teardown(test_unknown_host_wording,
		    h_teardown),
		cmocka_unit_test_teardown(test_refused_no_flood, h_teardown),
		cmocka_unit_test_teardown(test_retry_next_upstream, h_teardown),
		cmocka_unit_test_teardown(test_upstream_reset, h_teardown),
		cmocka_unit_test_teardown(test_client_reset, h_teardown),
		cmocka_unit_test_teardown(test_client_reset_while_stalled,
		    h_teardown),
		cmocka_unit_test_teardown(test_upstream_reset_while_stalled,
		    h_teardown),
		cmocka_unit_test_teardown(test_client_bytes_then_reset,
		    h_teardown),
		cmocka_unit_test_teardown(test_upstream_bytes_then_reset,
		    h_teardown),
		cmocka_unit_test_teardown(test_client_fin_reset_one_edge,
		    h_teardown),
		cmocka_unit_test_teardown(test_upstream_fin_reset_one_edge,
		    h_teardown),
		cmocka_unit_test_teardown(test_client_reset_after_fin,
		    h_teardown),
		cmocka_unit_test_teardown(test_upstream_reset_after_fin,
		    h_teardown),
		cmocka_unit_test_teardown(test_upstream_reset_seen_at_fin,
		    h_teardown),
		cmocka_unit_test_teardown(test_churn_with_health_checks,
		    h_teardown),
		cmocka_unit_test_teardown(test_client_reset_while_connecting,
		    h_teardown),
		cmocka_unit_test_teardown(test_connect_timeout_with_full_buffer,
		    h_teardown),
	};
	struct CMUnitTest	 tests[NELEM(unreached_rows) + NELEM(funcs)];
	size_t			 i, n = 0;

	/* Each row is a test of its own, named after the row. */
	for (i = 0; i < NELEM(unreached_rows); i++)
		tests[n++] = (struct CMUnitTest) { unreached_rows[i].name,
			run_unreached, NULL, h_teardown,
			(void *)&unreached_rows[i] };
	for (i = 0; i < NELEM(funcs); i++)
		tests[n++] = funcs[i];
	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
