/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_SESSION_END_H
#define RELAY46_SESSION_END_H

/*
 * Why a session ended: the one list of reasons, apart from struct
 * session, so that what counts them per reason (pool.h's route_stats
 * slots, the admin snapshot) needs neither the session nor its socket
 * headers.  session_end_name() is defined in sessionlog.c beside the
 * session's other log words.
 */

/* How a session ended; each has one word for the logs. */
enum session_end {
	SESSION_END_DONE = 0,
	SESSION_END_CLIENT_RESET,
	SESSION_END_UPSTREAM_RESET,
	SESSION_END_CLIENT_ERROR,
	SESSION_END_UPSTREAM_ERROR,
	SESSION_END_UPSTREAM_REFUSED,
	SESSION_END_CONNECT_TIMEOUT,
	SESSION_END_UPSTREAM_UNREACHABLE,
	SESSION_END_IDLE_TIMEOUT,
	SESSION_END_FIN_TIMEOUT,
	SESSION_END_MAX_CONNECTIONS,
	SESSION_END_SHUTDOWN,
	SESSION_END_INTERNAL_ERROR,
	SESSION_END_DENIED,		/* allow/deny refused the client */
	SESSION_END_MAX_PER_CLIENT,
	SESSION_END_UPSTREAM_FULL,	/* every upstream at max_connections */
	SESSION_END_PROXY_ERROR,	/* a bad PROXY header from the client */
	SESSION_END_PROXY_TIMEOUT,	/* no whole PROXY header in time */
	SESSION_END_PROXY_UNTRUSTED,	/* peer not in proxy_from */
	SESSION_END_KILLED,		/* the operator's kill (relay46ctl) */
};
#define SESSION_END_COUNT	(SESSION_END_KILLED + 1)

/*
 * session_end_name(e): the access log's and /metrics' word for ${e}:
 * "done", "client_reset", ...; "unknown" out of range.
 */
const char *session_end_name(enum session_end e);

#endif
