/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * splice.c: the Linux-only part of the zero-copy data path, kept apart
 * from pipe.c so that the direction logic (backpressure, half-close,
 * readiness) is one piece of code for both paths and only the way bytes
 * move differs.  Owns the kernel pipes it has not lent out.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "splice.h"

#if defined(HAVE_SPLICE) && defined(HAVE_PIPE2) && defined(F_SETPIPE_SZ)
#define SPLICE_OK	1
#else
#define SPLICE_OK	0
#endif

bool
splice_supported(void)
{
	return SPLICE_OK;
}

void
splice_pool_init(struct splice_pool *sp)
{
	memset(sp, 0, sizeof(*sp));
}

size_t
splice_pool_cached(const struct splice_pool *sp)
{
	return sp->ncache;
}

static void
splice_close(struct splice_pipe *kp)
{
	if (kp->fd[0] != -1) {
		close(kp->fd[0]);
		close(kp->fd[1]);
	}
	kp->fd[0] = kp->fd[1] = -1;
	kp->cap = 0;
}

void
splice_pool_free(struct splice_pool *sp)
{
	while (sp->ncache > 0)
		splice_close(&sp->cache[--sp->ncache]);
}

/*
 * Descriptors ran out: an idle kernel pipe holds two that a session needs
 * more, so give back every cached one and cache none for a while; the
 * sessions that find no pipe meanwhile copy, which only costs a little
 * CPU.  0 means "not lean", so the deadline is never 0.
 */
void
splice_pool_lean(struct splice_pool *sp, uint64_t now)
{
	splice_pool_free(sp);
	sp->lean_until = now + SPLICE_LEAN_MS;
	if (sp->lean_until == 0)
		sp->lean_until = 1;
}

#if SPLICE_OK

/* /proc/sys/fs/pipe-max-size, read once: an unprivileged user's ceiling. */
static size_t
splice_max_size(struct splice_pool *sp)
{
	FILE		*f;
	unsigned long	 v = 0;

	if (sp->max_size != 0)
		return sp->max_size;
	if ((f = fopen("/proc/sys/fs/pipe-max-size", "re")) != NULL) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	sp->max_size = v >= 4096 ? (size_t)v : 64 * 1024;
	return sp->max_size;
}

/*
 * Give ${kp} ${size} bytes, or what the kernel allows.  EPERM means past
 * pipe-max-size without CAP_SYS_RESOURCE: try that ceiling.  If that
 * fails too (the user's pipe pages are spent), keep the size it has.
 */
static void
splice_resize(struct splice_pool *sp, struct splice_pipe *kp, size_t size)
{
	int	 r;

	if (kp->cap == size)
		return;
	r = fcntl(kp->fd[0], F_SETPIPE_SZ, (int)size);
	if (r == -1 && errno == EPERM && size > splice_max_size(sp))
		r = fcntl(kp->fd[0], F_SETPIPE_SZ, (int)splice_max_size(sp));
	if (r == -1)
		r = fcntl(kp->fd[0], F_GETPIPE_SZ);
	kp->cap = r > 0 ? (uint32_t)r : 4096;
}

/*
 * A pipe for one direction: a cached one when there is one (two system
 * calls saved, and its size likely right), else a new one, unless the
 * pool is lean or at SPLICE_LIVE_MAX (the caller copies then: a pipe is
 * an optimisation, never a reason to fail a session).
 */
int
splice_pool_get(struct splice_pool *sp, size_t size, uint64_t now,
    struct splice_pipe *out)
{
	out->fd[0] = out->fd[1] = -1;
	if (sp->lean_until != 0 && now >= sp->lean_until)
		sp->lean_until = 0;
	if (sp->ncache > 0) {
		*out = sp->cache[--sp->ncache];
	} else {
		if (sp->lean_until != 0) {
			errno = EMFILE;
			return -1;
		}
		if (sp->live >= SPLICE_LIVE_MAX) {
			errno = EAGAIN;
			return -1;
		}
		if (pipe2(out->fd, O_NONBLOCK | O_CLOEXEC) == -1) {
			if (errno == EMFILE || errno == ENFILE)
				splice_pool_lean(sp, now);
			out->fd[0] = out->fd[1] = -1;
			return -1;
		}
		out->cap = 0;	/* unknown: splice_resize() asks */
	}
	splice_resize(sp, out, size);
	/*
	 * Far smaller than asked: the user's pipe pages are spent (past
	 * fs.pipe-user-pages-soft an unprivileged user gets 8 KiB pipes that
	 * cannot grow).  Splicing a few KiB a call costs more than copying
	 * 64 KiB, so the session copies; and the idle pipes give their pages
	 * back for a while, as when descriptors run out.
	 */
	if (out->cap < size && out->cap < SPLICE_BULK_MIN) {
		splice_close(out);
		splice_pool_lean(sp, now);
		errno = ENOBUFS;
		return -1;
	}
	sp->live++;
	return 0;
}

/*
 * SPLICE_F_MOVE is a hint the kernel may take for page moves; NONBLOCK
 * keeps the pipe's own end from blocking even on a blocking pipe, as the
 * socket's O_NONBLOCK does for the socket's.
 */
ssize_t
splice_in(int fd, const struct splice_pipe *kp, size_t len)
{
	return splice(fd, NULL, kp->fd[1], NULL, len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

ssize_t
splice_out(const struct splice_pipe *kp, int fd, size_t len, bool more)
{
	return splice(kp->fd[0], NULL, fd, NULL, len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0));
}

#else	/* !SPLICE_OK */

int
splice_pool_get(struct splice_pool *sp, size_t size, uint64_t now,
    struct splice_pipe *out)
{
	(void)sp;
	(void)size;
	(void)now;
	out->fd[0] = out->fd[1] = -1;
	errno = ENOSYS;
	return -1;
}

ssize_t
splice_in(int fd, const struct splice_pipe *kp, size_t len)
{
	(void)fd;
	(void)kp;
	(void)len;
	errno = ENOSYS;
	return -1;
}

ssize_t
splice_out(const struct splice_pipe *kp, int fd, size_t len, bool more)
{
	(void)fd;
	(void)kp;
	(void)len;
	(void)more;
	errno = ENOSYS;
	return -1;
}

#endif	/* SPLICE_OK */

/*
 * Take back a pipe.  Only an empty one is cached: one that still holds
 * bytes would hand a stranger's data to the next session, so it is
 * closed (its bytes go with it, as its session has ended).
 */
void
splice_pool_put(struct splice_pool *sp, struct splice_pipe *kp, bool empty)
{
	if (kp->fd[0] == -1)
		return;
	sp->live--;
	if (empty && sp->lean_until == 0 && sp->ncache < SPLICE_CACHE) {
		sp->cache[sp->ncache++] = *kp;
		kp->fd[0] = kp->fd[1] = -1;
		kp->cap = 0;
		return;
	}
	splice_close(kp);
}
