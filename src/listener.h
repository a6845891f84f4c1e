#ifndef RELAY46_LISTENER_H
#define RELAY46_LISTENER_H

#include <sys/queue.h>
#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

struct evconnlistener;
struct event;
struct worker;
struct route_rt;

/* One listening socket served by one worker. */
struct listener {
	TAILQ_ENTRY(listener) entry;
	struct worker	*w;
	struct route_rt	*rt;
	struct addr	 addr;		/* as bound */
	struct evconnlistener *lev;
	struct event	*backoff;	/* re-enables accept after EMFILE */
};

/*
 * listener_socket(a, keepalive, err, errlen): open a non-blocking
 * listening socket on ${a}; an IPv6 one never accepts IPv4
 * (IPV6_V6ONLY).  TCP_NODELAY, and SO_KEEPALIVE if ${keepalive}, are set
 * on it for the accepted sockets to inherit (Linux).  Returns the fd,
 * which the caller owns, or -1 with "listen ADDR: reason" in ${err}.
 */
int	 listener_socket(const struct addr *a, bool keepalive, char *err,
	    size_t errlen);

/*
 * listener_new(w, rt, fd): serve ${fd} on ${w}'s loop for route ${rt}.
 * Takes ownership of ${fd}, also on failure (NULL).
 */
struct listener *listener_new(struct worker *w, struct route_rt *rt, int fd);

/*
 * listener_pause(l): stop accepting for a short back-off; a timer turns it
 * back on.  For when descriptors or memory run out.
 */
void	 listener_pause(struct listener *l);

/* listener_free(l): stop accepting and close the socket; NULL is fine. */
void	 listener_free(struct listener *l);

#endif
