/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_REAPER_H
#define RELAY46_REAPER_H

/*
 * The deferred close of one event loop's descriptors: a socket the loop
 * may have watched is closed only once the loop has handed its pending
 * event changes to the kernel (reaper.c says why).  One per loop; a
 * worker owns one and lends it to its listeners and sessions.
 */

struct event_base;
struct reaper;

/*
 * reaper_new(base): a reaper for the loop ${base}, which must have been
 * given two priorities at least (event_base_priority_init()): it runs
 * at 0, ahead of every other callback.  NULL on out of memory.
 */
struct reaper *reaper_new(struct event_base *base);

/*
 * reaper_close(r, fd): close ${fd} (ours from now on), which ${r}'s loop
 * may have watched, once the loop has passed its pending event changes
 * to the kernel: at most one loop iteration later.  On the loop's
 * thread.  A NULL ${r} (its loop never ran) closes at once.
 */
void	 reaper_close(struct reaper *r, int fd);

/*
 * reaper_flush(r): close what waits now.  Only once the loop has
 * stopped: no change is pending then, and nothing else would close them
 * before reaper_free().  NULL is fine.
 */
void	 reaper_flush(struct reaper *r);

/*
 * reaper_free(r): flush, then free; before its loop's event_base_free().
 * NULL is fine.
 */
void	 reaper_free(struct reaper *r);

#endif
