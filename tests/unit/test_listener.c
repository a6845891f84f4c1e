/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for what listener.c reads of the kernel: the accept queue
 * of a listening socket (TCP_INFO), filled by real clients on loopback
 * that nobody accepts, so the count and the limit the kernel reports are
 * checked against what the test did; the backlog a socket listens with
 * (a route's, or the kernel's cap by default), also changed by a second
 * listen(); and the parser of /proc/net/netstat, table-driven.  Waits
 * poll with a deadline; nothing sleeps to synchronise.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "listener.h"
#include "util.h"

/* Loopback answers in microseconds; this is for a machine under load. */
#define DEADLINE_MS	10000
#define POLL_MS		5
#define NCLIENTS	5

/* ---- the accept queue -------------------------------------------------- */

/* A socket on 127.0.0.1 (port from the kernel), listening with ${backlog}. */
static int
open_loopback(unsigned backlog, struct addr *bound)
{
	struct addr	 a[2];
	char		 err[512];
	int		 fd, rc;

	assert_int_equal(addr_parse_listen("127.0.0.1:0", a, err, sizeof(err)),
	    1);
	rc = listener_open(&a[0], false, backlog, 1, &fd, err, sizeof(err));
	if (rc == -1)
		fail_msg("%s", err);
	assert_int_equal(listener_address(fd, bound), 0);
	return fd;
}

/* A client of ${a}, its handshake started (non-blocking). */
static int
client(const struct addr *a)
{
	int	 fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1 &&
	    errno != EINPROGRESS)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

/*
 * Wait until the kernel counts ${want} connections in ${fd}'s accept
 * queue, or fail at the deadline; the limit it reports goes to *${limit}.
 */
static void
wait_queue(int fd, unsigned want, unsigned *limit)
{
	unsigned	 len = 0, i;

	for (i = 0; i < DEADLINE_MS / POLL_MS; i++) {
		if (listener_queue(fd, &len, limit) == -1) {
			if (errno == ENOTSUP) {
				print_message("no TCP_INFO here: skipped\n");
				skip();
			}
			fail_msg("listener_queue: %s", strerror(errno));
		}
		if (len == want)
			return;
		(void)poll(NULL, 0, POLL_MS);
	}
	fail_msg("accept queue %u after %d ms, wanted %u", len, DEADLINE_MS,
	    want);
}

/*
 * Clients nobody accepts wait in the queue: the kernel counts each one
 * and reports the backlog the socket listens with; one accepted leaves.
 */
static void
test_queue_fills(void **state)
{
	struct addr	 a;
	unsigned	 limit = 0, i;
	int		 lfd, c[NCLIENTS], afd;

	(void)state;
	lfd = open_loopback(8, &a);
	wait_queue(lfd, 0, &limit);
	assert_int_equal(limit, 8);
	for (i = 0; i < NCLIENTS; i++)
		c[i] = client(&a);
	wait_queue(lfd, NCLIENTS, &limit);
	assert_int_equal(limit, 8);
	assert_true((afd = accept(lfd, NULL, NULL)) != -1);
	wait_queue(lfd, NCLIENTS - 1, &limit);
	close(afd);
	for (i = 0; i < NCLIENTS; i++)
		close(c[i]);
	close(lfd);
}

/*
 * A second listen() sets a new length on a socket that listens already
 * (Linux), as for a socket a reload keeps or one systemd passed; the
 * clients already queued stay.
 */
static void
test_listen_again(void **state)
{
	struct addr	 a;
	unsigned	 limit = 0;
	int		 lfd, c;

	(void)state;
	lfd = open_loopback(16, &a);
	c = client(&a);
	wait_queue(lfd, 1, &limit);
	assert_int_equal(limit, 16);
	assert_int_equal(listener_listen(lfd, 3), 0);
	wait_queue(lfd, 1, &limit);
	assert_int_equal(limit, 3);
	close(c);
	close(lfd);
}

/*
 * No backlog given: the most, which the kernel cuts to
 * net.core.somaxconn; so the queue's limit is the host's cap.
 */
static void
test_default_backlog(void **state)
{
	struct addr	 a;
	unsigned	 limit = 0, cap;
	int		 lfd;

	(void)state;
	assert_int_equal(listener_backlog(0), LISTENER_BACKLOG_MAX);
	assert_int_equal(listener_backlog(1), 1);
	assert_int_equal(listener_backlog(511), 511);
	assert_int_equal(listener_backlog(LISTENER_BACKLOG_MAX),
	    LISTENER_BACKLOG_MAX);
	lfd = open_loopback(0, &a);
	wait_queue(lfd, 0, &limit);
	if (listener_somaxconn(&cap) == -1) {
		print_message("no net.core.somaxconn (%s): %u unchecked\n",
		    strerror(errno), limit);
	} else {
		print_message("net.core.somaxconn %u, default limit %u\n", cap,
		    limit);
		assert_int_equal(limit,
		    cap < LISTENER_BACKLOG_MAX ? cap : LISTENER_BACKLOG_MAX);
	}
	close(lfd);
}

/* A socket that does not listen has no accept queue. */
static void
test_queue_not_listening(void **state)
{
	unsigned	 len, limit;
	int		 fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	errno = 0;
	assert_int_equal(listener_queue(fd, &len, &limit), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
	assert_int_equal(listener_queue(fd, &len, &limit), -1);
	assert_int_equal(errno, EBADF);
}

/* ---- /proc/net/netstat ------------------------------------------------- */

/* As Linux 6.1 writes it, cut short: groups of a names line, a values line. */
#define NS_TCP_NAMES                                \
	"TcpExt: SyncookiesSent SyncookiesRecv TW " \
	"ListenOverflows ListenDrops TCPHPHits\n"
#define NS_TCP_VALUES	"TcpExt: 0 0 4395851 227 230 18014074\n"
#define NS_IP		"IpExt: InNoRoutes InOctets\nIpExt: 0 46923823\n"
#define NS_MPTCP                                     \
	"MPTcpExt: MPCapableSYNRX ListenOverflows\n" \
	"MPTcpExt: 1 99\n"

static const struct {
	const char	*what, *text;
	int		 rc;
	uint64_t	 overflows, drops;
} netstat_rows[] = {
	{ "as Linux writes it", NS_TCP_NAMES NS_TCP_VALUES NS_IP, 0, 227, 230 },
	{ "after another group", NS_IP NS_TCP_NAMES NS_TCP_VALUES, 0, 227,
	    230 },
	{ "a like-named counter elsewhere", NS_MPTCP NS_TCP_NAMES NS_TCP_VALUES,
	    0, 227, 230 },
	{ "no newline at the end",
	    "TcpExt: ListenDrops ListenOverflows\n"
	    "TcpExt: 7 3",
	    0, 3, 7 },
	{ "tabs and repeated blanks",
	    "TcpExt:\tListenOverflows  ListenDrops\n"
	    "TcpExt:  18446744073709551615\t0\n",
	    0, UINT64_MAX, 0 },
	{ "ListenDrops missing", "TcpExt: ListenOverflows TW\nTcpExt: 1 2\n",
	    -1, 0, 0 },
	{ "values line missing", NS_TCP_NAMES, -1, 0, 0 },
	{ "values line of another group", NS_TCP_NAMES NS_IP, -1, 0, 0 },
	{ "values cut short",
	    "TcpExt: TW ListenOverflows ListenDrops\n"
	    "TcpExt: 1 2\n",
	    -1, 0, 0 },
	{ "not a number",
	    "TcpExt: ListenOverflows ListenDrops\n"
	    "TcpExt: 1 x2\n",
	    -1, 0, 0 },
	{ "a sign",
	    "TcpExt: ListenOverflows ListenDrops\n"
	    "TcpExt: -1 2\n",
	    -1, 0, 0 },
	{ "too big",
	    "TcpExt: ListenOverflows ListenDrops\n"
	    "TcpExt: 18446744073709551616 2\n",
	    -1, 0, 0 },
	{ "a longer name",
	    "TcpExt: ListenOverflowsX ListenDrops\n"
	    "TcpExt: 1 2\n",
	    -1, 0, 0 },
	{ "no TcpExt", NS_IP, -1, 0, 0 },
	{ "empty", "", -1, 0, 0 },
};

static void
test_netstat_parse(void **state)
{
	uint64_t	 ov, dr;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(netstat_rows); i++) {
		ov = dr = 12345;
		if (listener_netstat_parse(netstat_rows[i].text, &ov, &dr) !=
		    netstat_rows[i].rc)
			fail_msg("%s: not %d", netstat_rows[i].what,
			    netstat_rows[i].rc);
		if (netstat_rows[i].rc == -1)
			continue;
		if (ov != netstat_rows[i].overflows ||
		    dr != netstat_rows[i].drops)
			fail_msg("%s: overflows %llu drops %llu",
			    netstat_rows[i].what, (unsigned long long)ov,
			    (unsigned long long)dr);
	}
}

/* This kernel's file, where there is one: both counters are in it. */
static void
test_netstat_live(void **state)
{
	uint64_t	 ov, dr;

	(void)state;
	if (access("/proc/net/netstat", R_OK) == -1) {
		print_message("no /proc/net/netstat: skipped\n");
		skip();
	}
	assert_int_equal(listener_netstat(&ov, &dr), 0);
	print_message("ListenOverflows %llu ListenDrops %llu\n",
	    (unsigned long long)ov, (unsigned long long)dr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_fills),
		cmocka_unit_test(test_listen_again),
		cmocka_unit_test(test_default_backlog),
		cmocka_unit_test(test_queue_not_listening),
		cmocka_unit_test(test_netstat_parse),
		cmocka_unit_test(test_netstat_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
