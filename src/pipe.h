/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_PIPE_H
#define RELAY46_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "splice.h"

struct event;
struct event_base;
struct evbuffer;
struct pipe;

/*
 * Largest single read on the buffered path.  A full default buffer in one
 * call keeps the syscall count per byte low for bulk transfers.
 */
#define PIPE_READ_MAX	(64 * 1024)

enum pipe_status {
	PIPE_EOF = 0,		/* the source sent FIN (read returned 0) */
	PIPE_PAUSED,		/* the buffer is full: reading stops for now */
	PIPE_DONE,		/* ...and everything was passed on, then SHUT_WR */
	PIPE_READ_ERROR,	/* reading the source failed: err holds errno */
	PIPE_WRITE_ERROR,	/* writing the destination failed: errno */
	PIPE_UNSURE,		/* a short read, or an edge while paused,
				   may hide an error: call pipe_verify()
				   soon (pipe_read_copy(), pipe_settle()) */
};

/*
 * Told of a pipe's progress.  Returns true when it has freed the pipe
 * (through its owner), false when the pipe lives on.  PIPE_EOF,
 * PIPE_PAUSED and PIPE_UNSURE only inform: the owner must not free the
 * pipe then (nor call pipe_verify(), which may).
 */
typedef bool pipe_status_fn(void *arg, struct pipe *p, enum pipe_status st,
	    int err);

/*
 * What the pipes of one worker share: the kernel pipes splice(2) borrows,
 * and one read buffer for the buffered path, where bytes only stay in a
 * pipe's own evbuffer when the destination cannot take them at once.
 * Owned by the worker; one thread only.
 */
struct pipe_shared {
	struct splice_pool sp;
	unsigned char	 scratch[PIPE_READ_MAX];
};

/*
 * One direction of a session: bytes read from src_fd are written to
 * dst_fd.  Two ways: splice(2) through a kernel pipe borrowed from the
 * worker's pool (Linux, splice on), or recv(2)/send(2) through a buffer
 * that holds bytes only while the destination is full.  Either way at
 * most `limit` bytes (one kernel pipe's worth on the splice path) wait
 * per direction: past that, reading stops, and it resumes once half has
 * drained, so a slow destination slows the source through TCP flow
 * control.  On EOF from the source, what waits is flushed, then the
 * destination is shut down for writing; the other direction is not
 * touched.  A pipe that is idle (nothing waiting, source drained) holds
 * neither a kernel pipe nor a buffer.
 *
 * Each socket has one edge-triggered event, registered once (pipe_start)
 * and owned by the pipe that reads it; readiness is tracked in the flags
 * below (set by an edge, cleared by EAGAIN), so the data path makes no
 * epoll_ctl.  The pipe never closes a session socket: its owner does.
 */
/*
 * Two per session, held for the session's life, idle ones included: the
 * fields are ordered and sized (32-bit counts of bytes waiting, which
 * "buffer" caps at 64m) so that there are no holes.
 */
struct pipe {
	struct pipe_shared *sh;
	struct pipe	*peer;		/* the other direction of the session */
	struct event	*ev;		/* src_fd: our reads, peer's writes */
	struct evbuffer	*buf;		/* buffered path, PROXY header; or NULL */
	uint64_t	 bytes;		/* passed to the destination */
	uint64_t	   *touch; /* util_coarse_ms() whenever bytes move */
	pipe_status_fn	   *status;
	void		*arg;
	int		 src_fd, dst_fd;	/* dst_fd -1 until set */
	struct splice_pipe kp;		/* kp.fd[0] -1: none borrowed */
	uint32_t	 kfill;		/* bytes in kp: splice's EAGAIN is vague */
	uint32_t	 limit;
	unsigned char	 splice;	/* enum splice_mode: may borrow a pipe */
	bool		 bulk;		/* the last read was SPLICE_BULK_MIN+ */
	bool		 readable;	/* src: no EAGAIN since its last edge */
	bool		 drain;		/* src: an end may follow (or we are
					   verifying): read to EAGAIN, not to
					   a short read */
	bool		 maybe_err;	/* src: the edge may have been an error */
	bool		 unsure;	/* src: ...and a short read left it
					   unread: pipe_verify() */
	bool		 writable;	/* dst: no EAGAIN since its last edge */
	bool		 paused;	/* reading stopped by a full buffer */
	bool		 pause_told;
	bool		 fin;		/* src: its FIN is in (EV_CLOSED) */
	bool		 eof, done;
};

/*
 * pipe_init(p, base, sh, src_fd, limit, splice, touch, status, arg): set
 * up ${p}, which must have been zeroed (readiness its peer's event saw
 * already is kept), to read ${src_fd}; nothing is registered yet.
 * ${splice}: an enum splice_mode, when to move bytes with splice(2) (if
 * the pool has a pipe).
 * Returns 0, or -1 (out of memory) with ${p} safe to pipe_free().
 */
int pipe_init(struct pipe *p, struct event_base *base, struct pipe_shared *sh,
    int src_fd, size_t limit, int splice, uint64_t *touch,
    pipe_status_fn *status, void *arg);

/*
 * pipe_pair(a, b): ${a} and ${b} are the two directions of one session
 * (a's source is b's destination): an edge on one socket serves both.
 */
void	 pipe_pair(struct pipe *a, struct pipe *b);

/*
 * pipe_verify(p): read the source to EAGAIN if a short read left it
 * unsure (PIPE_UNSURE), which finds an error that came in the same edge
 * as the last bytes.  A paused source is not read: the owner must ask its
 * pipe_src_error() right after, as its paused check does.  Returns true
 * when the owner freed the pipe.
 */
bool	 pipe_verify(struct pipe *p);

/*
 * The one event on a session socket: edge-triggered, registered once.
 * upstream.c watches a connect with the same flags, so that the pipe's
 * event can take the socket over with no epoll_ctl (libevent asks the
 * kernel only when an fd's set of flags changes); pipe_replay() then
 * passes on the edge the connect's event took.
 */
#define PIPE_EVENTS	(EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST)

/* pipe_replay(p, what): act on ${what} (EV_*) as if an edge had said it. */
void	 pipe_replay(struct pipe *p, short what);

/*
 * pipe_prime(p): before pipe_start(), read what the source sent with its
 * connection (a client's request, as a rule), so that the connect knows
 * whether bytes wait for it; without the EAGAIN read a connecting pipe's
 * edge would take.  The registration that follows reports anything that
 * came after this read.  Returns 1 when bytes wait, 0 when none, -1 when
 * the owner freed the pipe (a reset, or out of memory).
 */
int	 pipe_prime(struct pipe *p);

/* pipe_start(p): register the source's event; reading starts. */
void	 pipe_start(struct pipe *p);

/*
 * pipe_set_dst(p, fd): the destination is connected.  What was read
 * meanwhile goes first, from the event loop (the connected socket's first
 * edge), not from here: a write may end the session.
 */
void	 pipe_set_dst(struct pipe *p, int fd);

/*
 * pipe_prepend(p, data, len): ${len} bytes to send before anything read
 * so far or later (a PROXY header).  0, or -1 on out of memory.
 */
int	 pipe_prepend(struct pipe *p, const void *data, size_t len);

/*
 * pipe_src_error(p): the pending error (errno) of the source socket, or 0
 * (a reset behind the peer's FIN, EPIPE to Linux, is ECONNRESET).  While
 * a pipe is paused nothing reads its source, so a reset there shows only
 * as an edge we cannot tell from new data; the owner asks this now and
 * then instead, and soon after such an edge (PIPE_UNSURE).
 */
int	 pipe_src_error(const struct pipe *p);

/* pipe_free(p): release the event, buffer and kernel pipe (not the sockets). */
void	 pipe_free(struct pipe *p);

#endif
