/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_SDNOTIFY_H
#define RELAY46_SDNOTIFY_H

#include <stddef.h>

#include "addr.h"

/*
 * The two halves of systemd's service protocol that relay46 speaks,
 * written from sd_notify(3) and sd_listen_fds(3) without libsystemd:
 * readiness notification and socket activation.  Neither logs; outside
 * systemd both do nothing and succeed.
 */

/* LISTEN_FDS above this is taken for garbage rather than honoured. */
#define SDNOTIFY_FDS_MAX	1024

/*
 * sdnotify(fmt, ...): format a message such as "READY=1" or
 * "STATUS=%u sessions" (several "KEY=VALUE" lines separated by '\n') and
 * send it as one datagram to the socket named by $NOTIFY_SOCKET: a path,
 * or "@name" for the abstract namespace.  Returns 0 once sent, and 0
 * without sending anything when $NOTIFY_SOCKET is unset or empty; -1 with
 * errno kept on failure (EAFNOSUPPORT for an address that is neither,
 * ENAMETOOLONG for one too long).
 */
int	 sdnotify(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * sdnotify_listen_fds(fds, n, err, errlen): take the listening sockets
 * systemd passed: when $LISTEN_PID is our pid and $LISTEN_FDS is N, they
 * are fds 3 .. 3+N-1.  Each must be a listening TCP socket of IPv4 or
 * IPv6, and gets FD_CLOEXEC and O_NONBLOCK (systemd passes it blocking
 * unless the unit says NonBlocking=yes).  On success *${fds} is a
 * malloc'd array of them (the caller frees it and owns the fds) and *${n}
 * their count; *${n} is 0 and *${fds} NULL when we were not activated
 * ($LISTEN_PID unset or another process's, or LISTEN_FDS unset or 0).
 * $LISTEN_PID, $LISTEN_FDS and $LISTEN_FDNAMES are removed from the
 * environment in every case, so that no child takes them for its own.
 * Returns 0, or -1 with the reason in ${err} when a value is malformed,
 * LISTEN_FDS exceeds SDNOTIFY_FDS_MAX, or a passed fd is not open or not
 * a listening TCP socket ("LISTEN_FDS=2: fd 4: a TCP socket, but not
 * listening").  The fds are left open then: they were never ours.
 */
int	 sdnotify_listen_fds(int **fds, size_t *n, char *err, size_t errlen);

/*
 * sdnotify_match(fds, n, a): the index in ${fds} of a listening TCP
 * socket (SO_ACCEPTCONN, SOCK_STREAM) of ${a}'s family bound exactly to
 * ${a}, or -1 if none is.  A socket bound to [::]:P matches only [::]:P,
 * never [::1]:P, and 0.0.0.0:P never matches [::]:P.  IPV6_V6ONLY is not
 * checked: a unit that passes [::]:P must say BindIPv6Only=ipv6-only for
 * it to mean IPv6 only, as relay46's own sockets do.
 */
int	 sdnotify_match(const int *fds, size_t n, const struct addr *a);

#endif
