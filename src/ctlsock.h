/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_CTLSOCK_H
#define RELAY46_CTLSOCK_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

struct ctlcmd;
struct ctl_conn;
struct ctlsock;
struct event_base;
struct evbuffer;

/* Control connections at once; one more is told so and closed. */
#define CTLSOCK_CLIENTS_MAX	16
/* A connection silent this long (no command under way) is closed. */
#define CTLSOCK_IDLE_SECS	60

/*
 * ctlsock_cmd_fn(arg, cc, cmd): a command parsed from ${cc}.  The callee
 * answers it exactly once, now or later, with ctl_reply() or
 * ctl_error(); the connection reads no further command until then, so
 * answers come in order.
 */
typedef void ctlsock_cmd_fn(void *arg, struct ctl_conn *cc,
    const struct ctlcmd *cmd);

/*
 * ctlsock_open(path, err, errlen): bind the control socket at ${path}
 * (a stale socket there, which nobody answers on, is replaced; a live
 * one is not), mode 0660, listening.  Before the privileges drop, so
 * that it can be handed to the user with ctlsock_chown().  NULL with a
 * reason in ${err}.
 */
struct ctlsock *ctlsock_open(const char *path, char *err, size_t errlen);

/* ctlsock_chown(cs, uid, gid): give the socket to relay46's user. */
int ctlsock_chown(struct ctlsock *cs, uid_t uid, gid_t gid, char *err,
    size_t errlen);

/*
 * ctlsock_start(cs, base, fn, arg): serve on ${base} (the control
 * thread's loop), handing each command to fn(arg, ...).  0, or -1.
 */
int ctlsock_start(struct ctlsock *cs, struct event_base *base,
    ctlsock_cmd_fn *fn, void *arg);

/*
 * ctlsock_close(cs): close every connection (answers still owed are
 * dropped: ctl_reply() on them only frees them) and remove the socket's
 * path.  NULL is fine.
 */
void	 ctlsock_close(struct ctlsock *cs);

/* ctl_peer(cc, uid, pid): who is on ${cc} (SO_PEERCRED; -1 unknown). */
void	 ctl_peer(const struct ctl_conn *cc, long *uid, long *pid);

/*
 * An answer under construction: lines for the body, counted.  ctl_line()
 * appends one line (printf-style; a TAB in ${fmt} separates fields, and
 * no argument may hold a TAB or newline: ctl_field() cleans one).
 */
struct ctl_body {
	struct evbuffer	*buf;
	size_t		 n;
	bool		 oom;
};

int  ctl_body_init(struct ctl_body *b);
void ctl_body_free(struct ctl_body *b);
void ctl_line(struct ctl_body *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ctl_field(s, buf, len): ${s} with TABs and newlines made spaces; "-" for NULL/"". */
const char *ctl_field(const char *s, char *buf, size_t len);

/*
 * ctl_reply(cc, kind, b): answer "ok N KIND" and ${b}'s lines (NULL: none),
 * and free ${b}.  ctl_error(cc, b): answer "err N" and ${b}'s lines, at
 * least one, and free ${b}; ctl_error_msg(cc, msg): one line.  Out of
 * memory while building gives "err 1 / out of memory".  After any of
 * them ${cc} may be gone.
 */
void	 ctl_reply(struct ctl_conn *cc, const char *kind, struct ctl_body *b);
void	 ctl_error(struct ctl_conn *cc, struct ctl_body *b);
void	 ctl_error_msg(struct ctl_conn *cc, const char *msg);

#endif
