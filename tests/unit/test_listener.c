/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for what listener.c reads of the kernel: the accept queue
 * of a listening socket (TCP_INFO), filled by real clients on loopback
 * that nobody accepts, so the count and the limit the kernel reports are
 * checked against what the test did; the backlog a socket listens with
 * (a route's, or the kernel's cap by default), also changed by a second
 * listen().  Waits poll with a deadline; nothing sleeps to
 * synchronise.
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
	rc = listener_open_backlog(&a[0], false, backlog, 1, &fd, err,
	    sizeof(err));
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_fills),
		cmocka_unit_test(test_listen_again),
		cmocka_unit_test(test_default_backlog),
		cmocka_unit_test(test_queue_not_listening),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
