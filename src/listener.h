/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_LISTENER_H
#define RELAY46_LISTENER_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct evconnlistener;
struct event;
struct event_base;
struct listener;
struct reaper;

/*
 * What a listener tells whoever made it, on its loop's thread: it hands
 * over what it accepts and knows nothing of what becomes of it.  Each
 * callback gets the listener, whose ${owner} and ${arg} are the maker's.
 */
struct listener_cbs {
	/* A client connected: ${fd} is the callee's from now on. */
	void	(*accept)(struct listener *l, int fd, const struct sockaddr *sa,
	    socklen_t salen);
	/*
	 * accept() failed with errno ${err}, one libevent does not retry
	 * itself (out of descriptors or memory): the socket stays readable,
	 * so the callee must pause accepting (listener_pause()) and says so.
	 */
	void	(*error)(struct listener *l, int err);
	/*
	 * libevent found no memory to watch the socket (errno ${err}); the
	 * listener tries again from its back-off timer.  For the log.
	 */
	void	(*stuck)(struct listener *l, int err);
};

/* One listening socket served on one event loop (a worker's). */
struct listener {
	TAILQ_ENTRY(listener) entry;	/* the maker's list */
	const struct listener_cbs *cbs;
	void		*owner;		/* the maker's, fixed (a worker) */
	/* The maker's, per socket (a route): it may change it on the loop. */
	void		*arg;
	struct addr	 addr;		/* as bound */
	struct evconnlistener *lev;
	struct event	*backoff;	/* re-enables accept after EMFILE */
	struct reaper	*reaper;	/* closes the socket: the loop's */
};

/*
 * listener_bind(a, reuseport, backlog, err, errlen): a non-blocking TCP
 * socket bound to ${a} (SO_REUSEADDR; IPV6_V6ONLY for IPv6; SO_REUSEPORT
 * if ${reuseport}), listening with ${backlog} if it is above 0.  Returns
 * the fd, which the caller owns, or -1 with "listen ADDR: reason" in
 * ${err} and errno kept.
 */
int	 listener_bind(const struct addr *a, bool reuseport, int backlog,
	    char *err, size_t errlen);

/*
 * listener_socket(a, keepalive, reuseport, backlog, err, errlen): open a
 * non-blocking listening socket on ${a}; an IPv6 one never accepts IPv4
 * (IPV6_V6ONLY).  TCP_NODELAY, and SO_KEEPALIVE if ${keepalive}, are set
 * on it for the accepted sockets to inherit (Linux).  ${reuseport}: one
 * of several sockets on ${a}, one per worker (SO_REUSEPORT).  It listens
 * with listener_backlog(${backlog}).  Returns the fd, which the caller
 * owns, or -1 with "listen ADDR: reason" in ${err}.
 */
int	 listener_socket(const struct addr *a, bool keepalive, bool reuseport,
    unsigned backlog, char *err, size_t errlen);

/*
 * listener_sockopts(fd, keepalive): TCP_NODELAY, and SO_KEEPALIVE on or
 * off as ${keepalive} says, on listening socket ${fd} for the sockets it
 * accepts to inherit.  Also for sockets systemd passed and sockets a
 * reload keeps.  0, or -1 with errno.
 */
int	 listener_sockopts(int fd, bool keepalive);

/*
 * The longest listen() queue a route may ask for ("backlog"), and what
 * one that asks for none gets: the kernel cuts it to net.core.somaxconn
 * (4096 on Linux 5.4 and later), so that is what it gets.
 */
#define LISTENER_BACKLOG_MAX	65535

/*
 * listener_backlog(backlog): what to hand listen() for a route's
 * ${backlog}: itself, or LISTENER_BACKLOG_MAX for 0 (not given).
 */
int	 listener_backlog(unsigned backlog);

/*
 * listener_listen(fd, backlog): listen() on ${fd} with
 * listener_backlog(${backlog}).  On a socket that listens already, Linux
 * takes the new length for the queue (a reload's kept socket, a socket
 * systemd passed).  0, or -1 with errno.
 */
int	 listener_listen(int fd, unsigned backlog);

/*
 * listener_somaxconn(m): the kernel's cap on a listen() queue,
 * net.core.somaxconn, into *${m}.  0, or -1 with errno where it cannot be
 * read (not Linux, no /proc).
 */
int	 listener_somaxconn(unsigned *m);

/*
 * listener_queue(fd, len, limit): the accept queue of listening socket
 * ${fd} as the kernel sees it (TCP_INFO, Linux): *${len} connections
 * waiting for accept() and *${limit}, the most it holds (the backlog as
 * the kernel capped it).  0, or -1 with errno: EINVAL if ${fd} does not
 * listen, ENOTSUP without TCP_INFO.
 */
int	 listener_queue(int fd, unsigned *len, unsigned *limit);

/*
 * listener_netstat_parse(text, overflows, drops): the TcpExt counters
 * ListenOverflows and ListenDrops from ${text}, as /proc/net/netstat
 * gives it (a line of names, then a line of values, for each group).
 * Pure.  0, or -1 if either is missing or not a number.
 */
int	 listener_netstat_parse(const char *text, uint64_t *overflows,
    uint64_t *drops);

/*
 * listener_netstat(overflows, drops): the same, read from
 * /proc/net/netstat now: system-wide counts of connections that found an
 * accept queue full, and of those dropped on the way to one for any
 * reason (overflows included).  0, or -1 where it cannot be read.
 */
int	 listener_netstat(uint64_t *overflows, uint64_t *drops);

/*
 * listener_probe(a, err, errlen): can ${a} be bound by us alone?  Binds a
 * socket without SO_REUSEPORT and closes it: SO_REUSEPORT sockets would
 * otherwise share the port silently with another relay46 of the same
 * user.  0, or -1 with "listen ADDR: reason".
 */
int	 listener_probe(const struct addr *a, char *err, size_t errlen);

/*
 * listener_open(a, keepalive, backlog, n, fds, err, errlen): ${n}
 * listening sockets on ${a}, one per worker (probed first, SO_REUSEPORT,
 * when n > 1), into ${fds}, each listening with
 * listener_backlog(${backlog}) (a route's "backlog").  Port 0: the first
 * socket gets a free port from the kernel and the other n - 1 are bound
 * to that same port (listener_address() tells which).  All or none: 0, or
 * -1 with the reason in ${err} and errno kept.
 */
int listener_open(const struct addr *a, bool keepalive, unsigned backlog,
    unsigned n, int *fds, char *err, size_t errlen);

/*
 * listener_address(fd, a): the address socket ${fd} is bound to, with the
 * port the kernel chose for port 0, into ${a}.  0, or -1 with errno.
 */
int	 listener_address(int fd, struct addr *a);

/*
 * listener_new(base, reaper, fd, cbs, owner, arg): a listener of ${fd}
 * on the loop ${base}, not accepting yet (listener_start()), that calls
 * ${cbs} (which must outlive it) with l->owner = ${owner} and l->arg =
 * ${arg}, and closes ${fd} through ${reaper}, that loop's.  NULL on out
 * of memory, and ${fd} stays the caller's.  It touches nothing of the
 * loop's (no event is added), so a thread other than the loop's may make
 * it and hand it over, as a reload does (worker_reload_prepare()).  Once
 * made, it holds ${fd}: listener_free() closes it, listener_discard()
 * leaves it open.
 */
struct listener *listener_new(struct event_base *base, struct reaper *reaper,
    int fd, const struct listener_cbs *cbs, void *owner, void *arg);

/*
 * listener_start(l): accept on its loop; on the loop's thread, or before
 * the loop runs.  Cannot fail: should libevent find no memory to watch
 * the socket, it says so (cbs->stuck) and tries again from the back-off
 * timer until it can, so a socket is never dropped.
 */
void	 listener_start(struct listener *l);

/*
 * listener_pause(l): stop accepting for a short back-off; a timer turns it
 * back on.  For when descriptors or memory run out.
 */
void	 listener_pause(struct listener *l);

/* listener_free(l): stop accepting and close the socket; NULL is fine. */
void	 listener_free(struct listener *l);

/*
 * listener_discard(l): as listener_free(), but leave the socket open for
 * its owner to close, as a reload's that never took effect; NULL is
 * fine.  On the worker's thread, or while its loop does not run: freeing
 * reads the loop's state.
 */
void	 listener_discard(struct listener *l);

#endif
