/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_PIPE_H
#define RELAY46_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;
struct evbuffer;
struct pipe;

enum pipe_status {
	PIPE_EOF = 0,		/* the source sent FIN (read returned 0) */
	PIPE_PAUSED,		/* the buffer is full: reading stops for now */
	PIPE_DONE,		/* ...and everything was passed on, then SHUT_WR */
	PIPE_READ_ERROR,	/* reading the source failed: err holds errno */
	PIPE_WRITE_ERROR,	/* writing the destination failed: errno */
};

/* Told of a pipe's progress; may free the pipe (through its owner). */
typedef void pipe_status_fn(void *arg, struct pipe *p, enum pipe_status st,
	    int err);

/*
 * One direction of a session: bytes read from src_fd are written to
 * dst_fd, through a user-space buffer of at most `limit` bytes.  Reading
 * stops when the buffer is full and resumes when it has drained to half,
 * so a slow destination slows the source through TCP flow control.  On
 * EOF from the source, what is buffered is flushed, then the destination
 * is shut down for writing; the other direction is not touched.  The
 * pipe never closes a descriptor: its owner does.
 */
struct pipe {
	struct event_base *base;
	int		 src_fd, dst_fd;	/* dst_fd -1 until set */
	struct event	*rev, *wev;
	struct evbuffer	*buf;
	size_t		 limit;
	uint64_t	 bytes;		/* passed to the destination */
	uint64_t	*touch;		/* set to now (ms) whenever bytes move */
	bool		 reading, writing;	/* events added */
	bool		 paused;	/* reading stopped by a full buffer */
	bool		 eof, done;
	bool		 watched;	/* src_fd is in the worker's watch */
	pipe_status_fn	*status;
	void		*arg;
};

/*
 * pipe_init(p, base, src_fd, limit, touch, status, arg): set up ${p} to
 * read ${src_fd}; nothing is registered yet.  Returns 0, or -1 (out of
 * memory) with ${p} safe to pipe_free().
 */
int	 pipe_init(struct pipe *p, struct event_base *base, int src_fd,
	    size_t limit, uint64_t *touch, pipe_status_fn *status, void *arg);

/* pipe_start(p): start reading the source. */
void	 pipe_start(struct pipe *p);

/*
 * pipe_set_dst(p, fd): the destination is connected: start passing bytes
 * on (what was read meanwhile goes first).  Returns 0, or -1 on out of
 * memory.
 */
int	 pipe_set_dst(struct pipe *p, int fd);

/*
 * pipe_src_error(p): the pending error (errno) of the source socket, or 0.
 * While a pipe is paused nothing polls its source, so a reset there goes
 * unseen (libevent maps EPOLLERR to read/write readiness only, and no
 * read event is registered); the owner asks this now and then instead.
 */
int	 pipe_src_error(const struct pipe *p);

/*
 * pipe_src_hangup(p): the worker's error watch saw the source hang up or
 * fail after it had ended (EOF), when no read event of ours is there to
 * notice.  With an error pending, it is passed on as PIPE_READ_ERROR
 * (which may free ${p}) and true is returned.  False: no error, only both
 * directions of the socket shut, which is no news; the caller stops
 * watching.
 */
bool	 pipe_src_hangup(struct pipe *p);

/* pipe_free(p): release events and buffer (not the descriptors). */
void	 pipe_free(struct pipe *p);

#endif
