/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_SPLICE_H
#define RELAY46_SPLICE_H

/*
 * Kernel pipes for splice(2), and the per-worker pool that lends them.
 * Linux only; elsewhere (or built without splice) splice_pool_get()
 * always fails and pipe.c stays on its buffered path.
 */

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Idle pipes a worker keeps for reuse.  A bulk stream releases its pipe
 * at every pause of its source and takes one again at the next byte, so
 * reuse saves a pipe2() and an F_SETPIPE_SZ per burst; 16 cover the
 * directions that are busy at once on a loaded worker at the price of
 * 32 idle descriptors.
 */
#define SPLICE_CACHE	16

/*
 * Pipes a worker has out at once.  Past it, new bursts use the buffered
 * path: each pipe costs two descriptors and up to a pipe's worth of
 * kernel memory, and descriptors are what accept() needs (max_connections
 * auto counts two per session).  A quarter of the sessions moving data
 * at any instant is HAProxy's rule of thumb too (maxpipes = maxconn / 4).
 */
#define SPLICE_LIVE_MAX	1024

/*
 * When a direction splices (the "splice" key).  SPLICE_ON splices bulk
 * only: a read of fewer than SPLICE_BULK_MIN bytes (a request, a reply,
 * a keystroke) is cheaper copied, since the copy path learns from a short
 * read that the socket is drained and the splice path cannot (see
 * pipe.c), which saves a system call per message each way.  Once a read
 * brings SPLICE_BULK_MIN or more, the next ones splice, until the bytes
 * come small again.  SPLICE_ALWAYS splices every read it can, so the
 * tests can drive the splice path with small messages.
 */
enum splice_mode {
	SPLICE_OFF = 0,
	SPLICE_ON,
	SPLICE_ALWAYS,
};

/*
 * The read size from which splicing pays.  Copying costs two passes over
 * the bytes (in and out of user space); splicing costs one more system
 * call per burst (its EAGAIN) and the pipe's bookkeeping.  Measured here
 * (contrib/bench, 64-byte ping-pong vs bulk), the two meet well below
 * 16 KiB; above it a copy is pure loss.
 */
#define SPLICE_BULK_MIN (16 * 1024)

/* One kernel pipe lent to a direction; fd[0] -1: none. */
struct splice_pipe {
	int		 fd[2];
	uint32_t	 cap;		/* what F_SETPIPE_SZ gave */
};

/*
 * After descriptors ran out (pipe2, accept or an upstream socket), the
 * pool goes lean for this long: it closes its idle pipes and makes no
 * new ones, so that its descriptors go to sessions first.
 */
#define SPLICE_LEAN_MS	5000

struct splice_pool {
	struct splice_pipe cache[SPLICE_CACHE];
	size_t		 ncache;
	size_t		 live;		/* lent out now */
	size_t		 max_size;	/* pipe-max-size, 0: not read yet */
	uint64_t	 lean_until;	/* ms (util_now_ms); 0: not lean */
};

/* splice_supported(): built with splice(2) and pipe2(2). */
bool	 splice_supported(void);

/* splice_pool_init(sp): an empty pool. */
void	 splice_pool_init(struct splice_pool *sp);

/*
 * splice_pool_get(sp, size, now, out): lend an empty pipe holding ${size}
 * bytes, or as many as the kernel allows an unprivileged user
 * (/proc/sys/fs/pipe-max-size, or less when the user's pipe pages run
 * short).  ${now}: util_now_ms().  0, or -1 with errno: EMFILE/ENFILE
 * (pipe2, or lean), EAGAIN (the pool's cap), ENOBUFS (the user's pipe
 * pages are spent: the kernel gave less than SPLICE_BULK_MIN; the pool
 * goes lean), ENOSYS (no splice here).  The caller falls back to
 * copying.
 */
int	 splice_pool_get(struct splice_pool *sp, size_t size, uint64_t now,
	    struct splice_pipe *out);

/*
 * splice_pool_lean(sp, now): descriptors (or the user's pipe pages) ran
 * out: close the idle pipes and make none for SPLICE_LEAN_MS.
 */
void	 splice_pool_lean(struct splice_pool *sp, uint64_t now);

/*
 * splice_pool_put(sp, kp, empty): take ${kp} back.  Only an ${empty} pipe
 * is kept for reuse; one still holding bytes is closed, so no byte of one
 * session can reach another.
 */
void	 splice_pool_put(struct splice_pool *sp, struct splice_pipe *kp,
	    bool empty);

/* splice_pool_free(sp): close the cached pipes (lent ones are the users'). */
void	 splice_pool_free(struct splice_pool *sp);

/* splice_pool_cached(sp): idle pipes held, for tests and /status. */
size_t	 splice_pool_cached(const struct splice_pool *sp);

/*
 * splice_in(fd, kp, len) and splice_out(kp, fd, len, more): move up to
 * ${len} bytes socket → pipe and pipe → socket without copying them to
 * user space, never blocking.  As splice(2).  ${more}: SPLICE_F_MORE, the
 * socket may hold a short last segment for what follows (a FIN).
 */
ssize_t	 splice_in(int fd, const struct splice_pipe *kp, size_t len);
ssize_t splice_out(const struct splice_pipe *kp, int fd, size_t len, bool more);

#endif
