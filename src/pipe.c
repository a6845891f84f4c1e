/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pipe.c: one direction of a session, on either path (splice or
 * buffered), driven by one edge-triggered event per socket.  Owns its
 * buffer and the kernel pipe it borrowed; never a session socket.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "pipe.h"
#include "util.h"

/* Reads per wake-up before others get their turn: 1 MiB at 64k. */
#define PIPE_PUMP_READS	16

/* The buffer's chunks one send takes at most. */
#define PIPE_SEND_IOV	16

static void	pipe_io_cb(evutil_socket_t, short, void *);
static size_t	pipe_pending(const struct pipe *);
static int	pipe_pump(struct pipe *);

int
pipe_init(struct pipe *p, struct event_base *base, struct pipe_shared *sh,
    int src_fd, size_t limit, int splice, uint64_t *touch,
    pipe_status_fn *status, void *arg)
{
	p->sh = sh;
	p->src_fd = src_fd;
	p->dst_fd = -1;
	p->kp.fd[0] = p->kp.fd[1] = -1;
	p->limit = (uint32_t)limit;	/* buffer: 64m at most (config.c) */
	p->splice = splice_supported() ? (unsigned char)splice : SPLICE_OFF;
	p->touch = touch;
	p->status = status;
	p->arg = arg;
	/*
	 * One event for everything on this socket, registered once: EV_ET so
	 * that a readiness we do not act on at once (a paused source, a
	 * socket at EOF) does not wake the loop again and again; EV_CLOSED so
	 * that a short read can tell "drained" from "FIN waiting".
	 */
	if ((p->ev = event_new(base, src_fd, PIPE_EVENTS, pipe_io_cb, p)) ==
	    NULL)
		return -1;
	return 0;
}

void
pipe_pair(struct pipe *a, struct pipe *b)
{
	a->peer = b;
	b->peer = a;
}

void
pipe_start(struct pipe *p)
{
	event_add(p->ev, NULL);
}

void
pipe_replay(struct pipe *p, short what)
{
	event_active(p->ev, what, 0);
}

int
pipe_prime(struct pipe *p)
{
	p->readable = true;
	if (pipe_pump(p) == -1)
		return -1;
	return pipe_pending(p) > 0;
}

void
pipe_set_dst(struct pipe *p, int fd)
{
	p->dst_fd = fd;
	/* A socket just connected has an empty send buffer. */
	p->writable = true;
}

static size_t
pipe_buf_len(const struct pipe *p)
{
	return p->buf == NULL ? 0 : evbuffer_get_length(p->buf);
}

/* Bytes read and not yet written, on either path. */
static size_t
pipe_pending(const struct pipe *p)
{
	return pipe_buf_len(p) + p->kfill;
}

static int
pipe_buf_need(struct pipe *p)
{
	if (p->buf == NULL && (p->buf = evbuffer_new()) == NULL)
		return -1;
	return 0;
}

int
pipe_prepend(struct pipe *p, const void *data, size_t len)
{
	if (pipe_buf_need(p) == -1 || evbuffer_prepend(p->buf, data, len) == -1)
		return -1;
	return 0;
}

/*
 * A reset that follows the peer's FIN finds the socket in CLOSE_WAIT, for
 * which Linux records EPIPE: it is the peer's reset all the same, and
 * said so.
 */
int
pipe_src_error(const struct pipe *p)
{
	int	 err = util_sock_error(p->src_fd);

	return err == EPIPE ? ECONNRESET : err;
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

/* A write of ${n} bytes went out. */
static void
pipe_wrote(struct pipe *p, size_t n)
{
	p->bytes += n;
	*p->touch = util_coarse_ms();
}

/*
 * A write failed with ${e}: EAGAIN waits for the next writable edge;
 * anything else ends the direction.  Returns 0, or -1 when the owner
 * freed the pipe.
 */
static int
pipe_write_failed(struct pipe *p, int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK) {
		p->writable = false;
		return 0;
	}
	if (e == EINTR)
		return 0;
	p->writable = false;
	return p->status(p->arg, p, PIPE_WRITE_ERROR, e) ? -1 : 0;
}

/*
 * Send what the buffer holds, from its first ${*len} bytes (the chunks
 * one call takes), set here.  sendmsg(), not writev(): straight to the
 * socket, as recv() and send() in pipe_read_copy(), no SIGPIPE; and
 * MSG_MORE when the source's FIN is known, so that the bytes read before
 * the connect and the FIN read with them leave as one segment too.
 */
static ssize_t
pipe_send_buf(struct pipe *p, size_t *len)
{
	struct evbuffer_iovec	 v[PIPE_SEND_IOV];
	struct iovec		 iov[PIPE_SEND_IOV];
	struct msghdr		 m;
	int			 i, k;
	ssize_t			 n;

	k = evbuffer_peek(p->buf, -1, NULL, v, PIPE_SEND_IOV);
	if (k > PIPE_SEND_IOV)
		k = PIPE_SEND_IOV;
	*len = 0;
	for (i = 0; i < k; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
		*len += v[i].iov_len;
	}
	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = (size_t)k;
	n = sendmsg(p->dst_fd, &m, MSG_NOSIGNAL | (p->fin ? MSG_MORE : 0));
	if (n > 0)
		evbuffer_drain(p->buf, (size_t)n);
	return n;
}

/*
 * Write what waits while the destination takes it: the buffer first (it
 * holds the PROXY header, and bytes read before a kernel pipe was
 * borrowed), then the kernel pipe.  A short write means the send buffer
 * is full, and the kernel then marks the socket so that the next free
 * space raises an edge: no EAGAIN call is needed to learn it.  Returns 0,
 * or -1 when the pipe was freed.
 */
static int
pipe_flush(struct pipe *p)
{
	size_t	 len;
	ssize_t	 n;

	while (p->writable && pipe_buf_len(p) > 0) {
		if ((n = pipe_send_buf(p, &len)) == -1) {
			if (pipe_write_failed(p, errno) == -1)
				return -1;
			continue;
		}
		pipe_wrote(p, (size_t)n);
		if ((size_t)n < len)
			p->writable = false;
	}
	while (p->writable && pipe_buf_len(p) == 0 && p->kfill > 0) {
		/* A FIN known to follow: as in pipe_read_copy(). */
		if ((n = splice_out(&p->kp, p->dst_fd, p->kfill, p->fin)) ==
		    -1) {
			if (pipe_write_failed(p, errno) == -1)
				return -1;
			continue;
		}
		p->kfill -= (uint32_t)n;
		pipe_wrote(p, (size_t)n);
		if (p->kfill > 0)
			p->writable = false;
	}
	/*
	 * Resume at half, not at once, so we do not read a few bytes a time;
	 * both halves, as either path may have filled its own.
	 */
	if (p->paused && p->kfill <= p->kp.cap / 2 &&
	    pipe_buf_len(p) <= p->limit / 2) {
		p->paused = false;
		p->pause_told = false;
	}
	return 0;
}

/*
 * The source sent FIN.  A reset may have come after it: in the same edge
 * (maybe_err: libevent said read and write, not EV_CLOSED), where the
 * read reports the FIN and the reset waits unread; its pending error says
 * so, and the session then ends as reset, not done.  Returns as
 * pipe_read_end().
 */
static int
pipe_read_eof(struct pipe *p)
{
	int	 err = p->maybe_err || p->unsure ? pipe_src_error(p) : 0;

	p->readable = p->maybe_err = p->unsure = false;
	if (err != 0)
		return p->status(p->arg, p, PIPE_READ_ERROR, err) ? -1 : 0;
	p->eof = true;
	(void)p->status(p->arg, p, PIPE_EOF, 0);
	return 0;
}

/*
 * A read returned ${n} <= 0 with ${e}: EOF, nothing there, or an error.
 * Returns 0 (no progress, stop reading for now), or -1 when the pipe was
 * freed.
 */
static int
pipe_read_end(struct pipe *p, ssize_t n, int e)
{
	if (n == 0)
		return pipe_read_eof(p);
	if (e == EAGAIN || e == EWOULDBLOCK) {
		p->readable = p->drain = p->maybe_err = p->unsure = false;
		return 0;
	}
	if (e == EINTR)
		return 0;
	p->readable = false;
	return p->status(p->arg, p, PIPE_READ_ERROR, e) ? -1 : 0;
}

/*
 * Splice what the source has into the kernel pipe.  splice(2) says EAGAIN
 * both for "socket empty" and "pipe full", and a pipe runs out of slots
 * (one per socket buffer) before it runs out of bytes: only an EAGAIN
 * into an empty pipe proves the socket empty.  Otherwise the source stays
 * readable and is tried again once the pipe has drained.  Until then it
 * is paused, as for a pipe full of bytes: splice(2) finds the pipe full
 * before it asks the socket, so a reset there is never read, and the
 * owner must look for it (session.c).  Returns 1 when bytes moved, 0
 * when not, -1 when the pipe was freed.
 */
static int
pipe_read_splice(struct pipe *p)
{
	ssize_t	 n;

	n = splice_in(p->src_fd, &p->kp, p->kp.cap - p->kfill);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
	    p->kfill > 0) {
		p->paused = true;
		return 0;
	}
	if (n <= 0)
		return pipe_read_end(p, n, errno);
	p->kfill += (uint32_t)n;
	p->bulk = (size_t)n >= SPLICE_BULK_MIN;
	*p->touch = util_coarse_ms();
	if (p->kfill >= p->kp.cap)
		p->paused = true;
	return 1;
}

/* Keep ${len} bytes that the destination did not take.  0, or -1 (ENOMEM). */
static int
pipe_keep(struct pipe *p, const unsigned char *data, size_t len)
{
	if (pipe_buf_need(p) == -1 || evbuffer_add(p->buf, data, len) == -1)
		return -1;
	if (evbuffer_get_length(p->buf) >= p->limit)
		p->paused = true;
	return 0;
}

/*
 * The buffered path: read into the worker's scratch buffer and write
 * straight on when nothing waits before these bytes; only what the
 * destination does not take is copied into our own buffer.  recv() and
 * send(), not read() and write(): they go straight to the socket, without
 * the file position lock and the VFS layer (3 % of a 64-byte round trip
 * in perf), and MSG_NOSIGNAL makes a send to a reset peer an EPIPE even
 * where SIGPIPE is not ignored.  Returns as pipe_read_splice().
 */
static int
pipe_read_copy(struct pipe *p)
{
	unsigned char	*b = p->sh->scratch;
	size_t		 room, off = 0;
	ssize_t		 n, w;

	room = p->limit - pipe_buf_len(p);
	if (room > PIPE_READ_MAX)
		room = PIPE_READ_MAX;
	if ((n = recv(p->src_fd, b, room, 0)) <= 0)
		return pipe_read_end(p, n, errno);
	/* A full read is bulk too, or a small "buffer" would never splice. */
	p->bulk = (size_t)n >= SPLICE_BULK_MIN || (size_t)n == room;
	*p->touch = util_coarse_ms();
	/*
	 * A short read drained the socket: new bytes will raise a new edge.
	 * A FIN or a reset that came with these bytes raises none.  A FIN is
	 * certain (EV_CLOSED): read on to the EOF now.  A reset is only
	 * possible (libevent says "read and write" for an error and for
	 * plain bytes on a writable socket alike), and the EAGAIN read that
	 * would rule it out costs a system call per message, a twentieth of
	 * a relayed round trip; so it is left to pipe_verify(), which the
	 * owner calls once the session has been quiet a moment.  Any later
	 * read of this socket rules it out as well.
	 */
	if ((size_t)n < room && !p->drain) {
		p->readable = false;
		if (p->maybe_err) {
			p->maybe_err = false;
			p->unsure = true;
		}
	}
	/*
	 * With the source's FIN known to follow these bytes, MSG_MORE holds
	 * them for the SHUT_WR that pipe_settle() makes right after the EOF
	 * read: bytes and FIN leave as one segment, not two plus the peer's
	 * ACK of the first.  With upstream.c's TCP_QUICKACK, a short
	 * request-reply connection costs 17 segments instead of 20.  Nothing
	 * waits on it: the next read is that EOF, or an error that ends the
	 * session.
	 */
	if (pipe_buf_len(p) == 0 && p->dst_fd != -1 && p->writable) {
		if ((w = send(p->dst_fd, b, (size_t)n,
			 MSG_NOSIGNAL | (p->fin ? MSG_MORE : 0))) == -1) {
			if (pipe_write_failed(p, errno) == -1)
				return -1;
			w = 0;
		} else {
			pipe_wrote(p, (size_t)w);
			if (w < n)
				p->writable = false;
		}
		off = (size_t)w;
	}
	if (off < (size_t)n && pipe_keep(p, b + off, (size_t)n - off) == -1)
		return p->status(p->arg, p, PIPE_READ_ERROR, ENOMEM) ? -1 : 0;
	return 1;
}

/*
 * Read once, by splice when we may and it pays (enum splice_mode): bulk,
 * or always; and while the kernel pipe holds bytes, since a copy read
 * would queue newer bytes in the buffer, which is written first.  Not
 * before the destination is connected: the bytes a client sends with its
 * request would hold a kernel pipe (two descriptors) for as long as the
 * connect takes, so they wait in the buffer instead (bounded, and seldom
 * more than one request).  Returns as pipe_read_splice().
 */
static int
pipe_read(struct pipe *p)
{
	/* A PROXY header may have pushed the buffer past the limit. */
	if (pipe_buf_len(p) >= p->limit) {
		p->paused = true;
		return 0;
	}
	if (p->kfill == 0 &&
	    (p->splice == SPLICE_OFF || p->dst_fd == -1 ||
		(p->splice == SPLICE_ON && !p->bulk)))
		return pipe_read_copy(p);
	if (p->kp.fd[0] == -1 &&
	    splice_pool_get(&p->sh->sp, p->limit, util_now_ms(), &p->kp) ==
		-1) {
		p->splice = SPLICE_OFF; /* out of pipes: copy, this session */
		return pipe_read_copy(p);
	}
	return pipe_read_splice(p);
}

/*
 * After a pump: pass a flushed EOF on; give back what an idle direction
 * holds; tell the owner of a pause once, so it can watch the source.
 * Returns 0, or -1 when the pipe was freed.
 */
static int
pipe_settle(struct pipe *p)
{
	int	 e;

	if (pipe_pending(p) == 0 && (!p->readable || p->eof)) {
		if (p->kp.fd[0] != -1)
			splice_pool_put(&p->sh->sp, &p->kp, true);
		if (p->buf != NULL) {
			evbuffer_free(p->buf);
			p->buf = NULL;
		}
	}
	if (p->eof && !p->done && p->dst_fd != -1 && pipe_pending(p) == 0) {
		p->done = true;
		if ((e = pipe_shut_dst(p)) != 0)
			return p->status(p->arg, p, PIPE_WRITE_ERROR, e) ? -1 : 0;
		return p->status(p->arg, p, PIPE_DONE, 0) ? -1 : 0;
	}
	/*
	 * An edge that may have been a reset reached a source we do not read
	 * while paused (for a splice out of slots, we cannot): its reset
	 * would wait for the owner's paused check, a second.  Unsure, as
	 * after a short read, the owner verifies it within its short delay
	 * (and runs the paused check with it), at one SO_ERROR for the edges
	 * of that while, not one per edge.
	 * maybe_err stays until then: should the pipe resume first and read
	 * a FIN, the reset behind it must still be asked for
	 * (pipe_read_eof()).  Before the pause is told, so the owner's timer
	 * already counts it.
	 */
	if (p->paused && p->maybe_err && !p->eof)
		p->unsure = true;
	if (p->paused && !p->pause_told) {
		p->pause_told = true;
		(void)p->status(p->arg, p, PIPE_PAUSED, 0);
	}
	if (p->unsure)
		(void)p->status(p->arg, p, PIPE_UNSURE, 0);
	return 0;
}

/*
 * Move as much as the sockets allow: write, read, write again while the
 * source has bytes and the destination takes them, so one wake-up does
 * all it can.  Returns 0, or -1 when the pipe was freed.
 */
static int
pipe_pump(struct pipe *p)
{
	unsigned	 reads = 0;
	int		 r;

	if (p->ev == NULL || p->done)
		return 0;
	for (;;) {
		if (p->dst_fd != -1 && pipe_flush(p) == -1)
			return -1;
		if (p->eof || !p->readable || p->paused)
			break;
		/*
		 * Fair to the worker's other sessions: a source that never
		 * runs dry gets another turn later, since no new edge would
		 * wake us for bytes already there (worker.c caps a turn).
		 */
		if (++reads > PIPE_PUMP_READS) {
			event_active(p->ev, EV_READ, 0);
			break;
		}
		if ((r = pipe_read(p)) == -1)
			return -1;
		if (r == 0)
			break;
	}
	return pipe_settle(p);
}

/*
 * The source of ${p} ended long ago and an edge says it is readable: a
 * socket at EOF stays readable, so that is news only as an error or a
 * hang-up.  A reset that follows the peer's FIN must reach the other peer
 * at once (DESIGN §1).  Asked only when no write of ours to this socket
 * is waiting: such a write would report the reset itself.  Returns true
 * when the pipe was freed.
 */
static bool
pipe_src_hangup(struct pipe *p)
{
	int	 err;

	if ((err = pipe_src_error(p)) == 0)
		return false;
	return p->status(p->arg, p, PIPE_READ_ERROR, err);
}

static void
pipe_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipe	*p = arg, *q = p->peer;	/* q writes to this socket */
	bool		 q_live = q != NULL && q->ev != NULL, rw;

	(void)fd;
	rw = (what & (EV_READ | EV_WRITE)) == (EV_READ | EV_WRITE);
	/*
	 * libevent reports EPOLLERR and EPOLLHUP as read and write at once,
	 * EPOLLRDHUP as EV_CLOSED: the source may hold an end or an error
	 * behind its last bytes.  A plain edge with bytes says read and
	 * write too while the socket has room, which is nearly always, so
	 * such an edge only makes a short read unsure (pipe_read_copy()),
	 * for the owner to verify later.  Asking for EV_WRITE only once a
	 * write blocks does not help: libevent then masks an EPOLLERR or
	 * EPOLLHUP edge down to EV_READ, and a reset behind the last bytes
	 * went unseen (tried, test_upstream_reset).  Once q has shut this
	 * socket for writing, the peer's FIN comes as EPOLLHUP (with
	 * EV_CLOSED), and its reset as EPOLLERR|EPOLLHUP (without), both
	 * reported as read and write: read on to either at once.
	 * Before the destination is connected there is no message to save
	 * a read on, and a reset found now cancels the connect: drain too.
	 */
	if (what & EV_CLOSED)
		p->drain = p->fin = true;
	else if (rw) {
		p->maybe_err = true;
		if (p->dst_fd == -1 || (q != NULL && q->done))
			p->drain = true;
	}
	if (what & EV_READ) {
		p->readable = true;
		/* This edge's reads will tell. */
		p->unsure = false;
	}
	/* Before q is set up too: pipe_init() keeps it. */
	if ((what & EV_WRITE) && q != NULL)
		q->writable = true;
	if (p->eof && (what & EV_READ) && (!q_live || q->done ||
	    pipe_pending(q) == 0) && pipe_src_hangup(p))
		return;
	if (pipe_pump(p) == -1)
		return;
	if (q_live)
		(void)pipe_pump(q);
}

bool
pipe_verify(struct pipe *p)
{
	if (!p->unsure)
		return false;
	p->unsure = false;
	if (p->ev == NULL || p->eof)
		return false;
	/*
	 * Paused (pipe_settle()): no read; the owner's paused check asks the
	 * pending error of every paused source (pipe.h).  After it, the
	 * edges so far were bytes, and a later reset raises one of its own.
	 */
	if (p->paused) {
		p->maybe_err = false;
		return false;
	}
	/* As after the edge that left it unsure: an EOF asks SO_ERROR. */
	p->readable = p->drain = p->maybe_err = true;
	return pipe_pump(p) == -1;
}

void
pipe_free(struct pipe *p)
{
	if (p->ev != NULL)
		event_free(p->ev);
	p->ev = NULL;
	if (p->buf != NULL)
		evbuffer_free(p->buf);
	p->buf = NULL;
	if (p->kp.fd[0] != -1 && p->sh != NULL)
		splice_pool_put(&p->sh->sp, &p->kp, p->kfill == 0);
	p->kfill = 0;
}
