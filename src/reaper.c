/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The deferred close: descriptors one event loop may have watched wait
 * here until the loop has told the kernel it no longer watches them.
 * A struct reaper owns its timer event and the descriptors handed to
 * reaper_close() until it closes them; it belongs to one loop and is
 * used only on that loop's thread.  A worker owns one (worker.c) and
 * lends it to its listeners (listener.c) and sessions.
 *
 * Sessions switch events on and off many times per loop iteration
 * (connect, then read, pause, resume); epoll's changelist folds those into
 * one epoll_ctl per descriptor per iteration, or none when they cancel.
 * We never dup() a socket, which is the changelist's known pitfall.
 *
 * The price: an event_del() reaches the kernel only at the start of the
 * next iteration.  Were the socket closed at once, that EPOLL_CTL_DEL
 * would name a descriptor number the process had given up, and another
 * thread (a worker's accept, the control thread's health check or reload
 * bind) may already have been given it.  The DEL would fail harmlessly,
 * but it is a cross-thread use of a reused number, which ThreadSanitizer
 * rightly reports.  So reaper_close() keeps the socket open until the
 * changes are in: a zero timeout fires only after the next dispatch has
 * applied them, and the reaper has the higher of two priorities, so it
 * runs before any other callback of that iteration can doom another
 * socket whose DEL is still waiting.  (libevent then leaves the rest of
 * the iteration's callbacks to the next one: one more epoll_wait, with a
 * zero timeout, per iteration that closes something.)
 */

#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "reaper.h"

struct reaper {
	struct event	*ev;		/* zero timeout, priority 0 */
	int		*doomed;	/* to close once their DELs are in */
	size_t		 ndoomed, cap;
};

/* The changes are in (or the loop has stopped): close what waits. */
static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reaper	*r = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < r->ndoomed; i++)
		close(r->doomed[i]);
	r->ndoomed = 0;
}

struct reaper *
reaper_new(struct event_base *base)
{
	struct reaper	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->ev = evtimer_new(base, reaper_cb, r)) == NULL ||
	    event_priority_set(r->ev, 0) == -1) {
		reaper_free(r);
		return NULL;
	}
	return r;
}

void
reaper_close(struct reaper *r, int fd)
{
	static const struct timeval zero = { 0, 0 };
	int		*p;
	size_t		 cap;

	if (r == NULL) {
		close(fd);
		return;
	}
	if (r->ndoomed == r->cap) {
		cap = r->cap == 0 ? 64 : r->cap * 2;
		if ((p = realloc(r->doomed, cap * sizeof(*p))) == NULL) {
			/*
			 * Out of memory: close now.  The late DEL fails; for
			 * our own sockets that is harmless, but a socket
			 * systemd passed (dup'd per worker) would stay in
			 * this loop's epoll set until the worker stops.
			 */
			close(fd);
			return;
		}
		r->doomed = p;
		r->cap = cap;
	}
	r->doomed[r->ndoomed++] = fd;
	if (r->ndoomed == 1 && evtimer_add(r->ev, &zero) == -1)
		reaper_cb(-1, 0, r);
}

void
reaper_flush(struct reaper *r)
{
	if (r != NULL)
		reaper_cb(-1, 0, r);
}

void
reaper_free(struct reaper *r)
{
	if (r == NULL)
		return;
	reaper_flush(r);
	if (r->ev != NULL)
		event_free(r->ev);
	free(r->doomed);
	free(r);
}
