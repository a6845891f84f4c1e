/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "pipe.h"
#include "util.h"

/*
 * Largest single read.  A full default buffer in one call keeps the
 * syscall count per byte low for bulk transfers, while a reservation
 * only costs memory as long as bytes wait in it.
 */
#define PIPE_READ_MAX	(64 * 1024)

static void	pipe_read_cb(evutil_socket_t, short, void *);
static void	pipe_write_cb(evutil_socket_t, short, void *);

int
pipe_init(struct pipe *p, struct event_base *base, int src_fd, size_t limit,
    uint64_t *touch, pipe_status_fn *status, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->base = base;
	p->src_fd = src_fd;
	p->dst_fd = -1;
	p->limit = limit;
	p->touch = touch;
	p->status = status;
	p->arg = arg;
	if ((p->buf = evbuffer_new()) == NULL ||
	    (p->rev = event_new(base, src_fd, EV_READ | EV_PERSIST,
	    pipe_read_cb, p)) == NULL)
		return -1;
	return 0;
}

static void
pipe_want_read(struct pipe *p, bool on)
{
	if (on == p->reading)
		return;
	if (on)
		event_add(p->rev, NULL);
	else
		event_del(p->rev);
	p->reading = on;
}

static void
pipe_want_write(struct pipe *p, bool on)
{
	if (on == p->writing || p->wev == NULL)
		return;
	if (on)
		event_add(p->wev, NULL);
	else
		event_del(p->wev);
	p->writing = on;
}

void
pipe_start(struct pipe *p)
{
	if (p->eof)
		return;
	/* Full already (client bytes that came while we connected)? */
	p->paused = evbuffer_get_length(p->buf) >= p->limit;
	pipe_want_read(p, !p->paused);
}

int
pipe_src_error(const struct pipe *p)
{
	return util_sock_error(p->src_fd);
}

bool
pipe_src_hangup(struct pipe *p)
{
	int	 err;

	if ((err = util_sock_error(p->src_fd)) == 0)
		return false;
	/*
	 * A reset that follows the peer's FIN finds the socket in CLOSE_WAIT,
	 * for which Linux records EPIPE: it is the peer's reset all the same.
	 */
	if (err == EPIPE)
		err = ECONNRESET;
	p->status(p->arg, p, PIPE_READ_ERROR, err);
	return true;
}

/*
 * Pass the source's FIN on: 0, or the errno.  ENOTCONN means that the
 * destination is gone and this is the first call to find out; its
 * pending error says why (a reset, as a rule), and that is what the owner
 * needs to end the session with the right reason.
 */
static int
pipe_shut_dst(struct pipe *p)
{
	int	 e, soerr;

	if (shutdown(p->dst_fd, SHUT_WR) == 0)
		return 0;
	if ((e = errno) == ENOTCONN && (soerr = util_sock_error(p->dst_fd)) !=
	    0)
		e = soerr;
	return e;
}

/*
 * Write what we can.  Returns 0, or -1 after a status call (which may
 * have freed ${p}: the caller must not touch it then).
 */
static int
pipe_flush(struct pipe *p)
{
	size_t	 len;
	int	 n, e;

	while ((len = evbuffer_get_length(p->buf)) > 0) {
		n = evbuffer_write_atmost(p->buf, p->dst_fd, -1);
		if (n == -1) {
			e = errno;
			if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
				break;
			pipe_want_write(p, false);
			p->status(p->arg, p, PIPE_WRITE_ERROR, e);
			return -1;
		}
		p->bytes += (uint64_t)n;
		*p->touch = util_now_ms();
		if ((size_t)n < len)
			break;	/* the socket is full: wait for writability */
	}
	len = evbuffer_get_length(p->buf);
	pipe_want_write(p, len > 0);
	/* Resume at half, not at once, so we do not wake for every few bytes. */
	if (!p->eof && p->paused && len <= p->limit / 2) {
		p->paused = false;
		pipe_want_read(p, true);
	}
	if (len == 0 && p->eof && !p->done) {
		p->done = true;
		if ((e = pipe_shut_dst(p)) != 0) {
			p->status(p->arg, p, PIPE_WRITE_ERROR, e);
			return -1;
		}
		p->status(p->arg, p, PIPE_DONE, 0);
		return -1;
	}
	return 0;
}

/*
 * Read what the source has into the buffer, never past the limit.
 * Returns as readv(2).
 */
static ssize_t
pipe_readv(struct pipe *p)
{
	struct evbuffer_iovec	 vec[2];
	size_t			 space;
	ssize_t			 n;
	int			 nvec, e;

	/* Reading is on only below the limit (pipe_want_read callers). */
	space = p->limit - evbuffer_get_length(p->buf);
	assert(space > 0);
	if (space > PIPE_READ_MAX)
		space = PIPE_READ_MAX;
	if ((nvec = evbuffer_reserve_space(p->buf, (ev_ssize_t)space, vec,
	    2)) == -1) {
		errno = ENOMEM;
		return -1;
	}
	/* A reservation may be larger than asked. */
	if (vec[0].iov_len >= space) {
		vec[0].iov_len = space;
		nvec = 1;
	} else if (nvec == 2 && vec[0].iov_len + vec[1].iov_len > space)
		vec[1].iov_len = space - vec[0].iov_len;
	n = readv(p->src_fd, (struct iovec *)vec, nvec);
	e = errno;
	if (n <= 0)
		nvec = 0;
	else if ((size_t)n <= vec[0].iov_len) {
		vec[0].iov_len = (size_t)n;
		nvec = 1;
	} else
		vec[1].iov_len = (size_t)n - vec[0].iov_len;
	evbuffer_commit_space(p->buf, vec, nvec);
	errno = e;
	return n;
}

static void
pipe_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipe	*p = arg;
	ssize_t		 n;
	int		 e;

	(void)fd;
	(void)what;
	if ((n = pipe_readv(p)) == -1) {
		e = errno;
		if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
			return;
		pipe_want_read(p, false);
		p->status(p->arg, p, PIPE_READ_ERROR, e);
		return;
	}
	if (n == 0) {
		p->eof = true;
		pipe_want_read(p, false);
		/* PIPE_EOF only informs: the owner never frees us here. */
		p->status(p->arg, p, PIPE_EOF, 0);
	} else {
		*p->touch = util_now_ms();
		if (evbuffer_get_length(p->buf) >= p->limit) {
			pipe_want_read(p, false);
			p->paused = true;
			p->status(p->arg, p, PIPE_PAUSED, 0);	/* never frees us */
		}
	}
	if (p->dst_fd != -1)
		(void)pipe_flush(p);
}

static void
pipe_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)pipe_flush(arg);
}

int
pipe_set_dst(struct pipe *p, int fd)
{
	p->dst_fd = fd;
	if ((p->wev = event_new(p->base, fd, EV_WRITE | EV_PERSIST,
	    pipe_write_cb, p)) == NULL)
		return -1;
	/*
	 * Write from the event loop, not from here: the first write may end
	 * the session, and our caller is still using it.
	 */
	pipe_want_write(p, evbuffer_get_length(p->buf) > 0 || p->eof);
	return 0;
}

void
pipe_free(struct pipe *p)
{
	if (p->rev != NULL)
		event_free(p->rev);
	if (p->wev != NULL)
		event_free(p->wev);
	if (p->buf != NULL)
		evbuffer_free(p->buf);
	p->rev = p->wev = NULL;
	p->buf = NULL;
}
