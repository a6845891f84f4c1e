/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctlsock.c: the control socket's transport (control = PATH): the Unix
 * socket itself, its connections, their lines in and answers out, and
 * the limits that keep a local client from hurting the daemon: at most
 * CTLSOCK_CLIENTS_MAX connections, lines of at most CTL_LINE_MAX bytes,
 * one command under way per connection, idle ones closed.  What a command
 * does is the callback's (ctlexec.c); the language is ctlcmd.c's.  It
 * owns the listening socket, its path (removed at close) and every
 * connection.  Control thread only.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ctlcmd.h"
#include "ctlsock.h"
#include "log.h"
#include "util.h"

struct ctl_conn {
	struct ctl_conn	*next;
	struct ctlsock	*cs;
	struct bufferevent *bev;
	long		 uid, pid;
	bool		 busy;		/* a command awaits its answer */
	bool		 dead;		/* the peer left while busy */
	bool		 closing;	/* close once the output is out */
	bool		 eof;		/* the peer sends no more */
	bool		 in_read;	/* ctl_conn_read() is on the stack */
};

struct ctlsock {
	char		*path;
	char		*dir;		/* made by us (root, missing): chowned too */
	int		 fd;
	struct event	*ev;
	ctlsock_cmd_fn	*fn;
	void		*arg;
	struct ctl_conn	*conns;
	unsigned	 nconns;
};

static void ctl_accept_cb(evutil_socket_t, short, void *);
static void ctl_read_cb(struct bufferevent *, void *);
static void ctl_write_cb(struct bufferevent *, void *);
static void ctl_event_cb(struct bufferevent *, short, void *);
static void ctl_conn_idle(struct ctl_conn *);
static void ctl_conn_read(struct ctl_conn *);
static void ctl_conn_line(struct ctl_conn *, const char *, size_t);
static void ctl_conn_free(struct ctl_conn *);
static void ctl_send(struct ctl_conn *, const char *, struct ctl_body *);

/* --- The socket. */

/*
 * Whatever is at ${path} may go if it is a socket nobody answers on (a
 * relay46 that was killed leaves one).  -1 with a reason otherwise.
 */
static int
ctl_clear_stale(const char *path, const struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	struct stat	 st;
	int		 fd, rc;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "another process serves %s", path);
		return -1;
	}
	return unlink(path);
}

/*
 * ${path}'s directory is missing: as root, make it (0750), as systemd's
 * RuntimeDirectory= would for the sample file's /run/relay46, so that a
 * relay46 started by hand finds its socket where relay46ctl looks.  Its
 * path (to chown), or NULL with errno.
 */
static char *
ctl_make_dir(const char *path)
{
	char	*dir, *slash;

	if (geteuid() != 0) {
		errno = ENOENT;
		return NULL;
	}
	if ((dir = util_strdup(path)) == NULL)
		return NULL;
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir) {
		free(dir);
		errno = ENOENT;
		return NULL;
	}
	*slash = '\0';
	if (mkdir(dir, 0750) == -1) {
		free(dir);
		errno = ENOENT;
		return NULL;
	}
	return dir;
}

struct ctlsock *
ctlsock_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct ctlsock		*cs;
	char			*dir = NULL;
	mode_t			 old;
	int			 fd = -1, rc;

	err[0] = '\0';
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "path too long");
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (ctl_clear_stale(path, &sun, err, errlen) == -1 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1)
		goto fail;
	/* Born 0660: no moment in which others may connect. */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 && errno == ENOENT && (dir = ctl_make_dir(path)) != NULL) {
		old = umask(0117);
		rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
	}
	if (rc == -1 || chmod(path, 0660) == -1 ||
	    listen(fd, CTLSOCK_CLIENTS_MAX) == -1)
		goto fail;
	if ((cs = calloc(1, sizeof(*cs))) == NULL ||
	    (cs->path = util_strdup(path)) == NULL) {
		free(cs);
		errno = ENOMEM;
		goto fail;
	}
	cs->fd = fd;
	cs->dir = dir;
	return cs;
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd != -1) {
		close(fd);
		if (errno != EADDRINUSE)
			(void)unlink(path);
	}
	free(dir);
	return NULL;
}

/*
 * Root is about to go: the socket (and a directory we made for it) must
 * belong to the user relay46 will run as, or it could not remove them
 * at exit.
 */
int
ctlsock_chown(struct ctlsock *cs, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	const char	*what = cs->path;

	/* Our directory too, or the user could not remove the socket. */
	if ((cs->dir == NULL || chown(what = cs->dir, uid, gid) == 0) &&
	    chown(what = cs->path, uid, gid) == 0)
		return 0;
	snprintf(err, errlen, "chown %s: %s", what, strerror(errno));
	return -1;
}

int
ctlsock_start(struct ctlsock *cs, struct event_base *base, ctlsock_cmd_fn *fn,
    void *arg)
{
	cs->fn = fn;
	cs->arg = arg;
	if ((cs->ev = event_new(base, cs->fd, EV_READ | EV_PERSIST,
		 ctl_accept_cb, cs)) == NULL ||
	    event_add(cs->ev, NULL) == -1)
		return -1;
	return 0;
}

/*
 * At exit: the path goes too, so that a relay46ctl run after it says
 * "no such file" (relay46 is not running) rather than "refused".
 */
void
ctlsock_close(struct ctlsock *cs)
{
	if (cs == NULL)
		return;
	while (cs->conns != NULL) {
		cs->conns->dead = false;
		cs->conns->busy = false;
		ctl_conn_free(cs->conns);
	}
	if (cs->ev != NULL)
		event_free(cs->ev);
	close(cs->fd);
	if (unlink(cs->path) == -1 && errno != ENOENT)
		log_warn("msg=\"cannot remove %s: %s\"", cs->path,
		    strerror(errno));
	free(cs->path);
	free(cs->dir);
	free(cs);
}

/*
 * A client.  Past the limit it is told so in one line and closed: a
 * local script looping on relay46ctl must not starve the daemon of
 * descriptors, nor wait on a socket that will never answer.
 */
static void
ctl_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	static const char full[] = "err 1\ntoo many control connections\n";
	struct ctlsock	*cs = arg;
	struct ctl_conn	*cc;
	struct ucred	 cr;
	socklen_t	 len = sizeof(cr);
	int		 c;

	(void)what;
	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (cs->nconns >= CTLSOCK_CLIENTS_MAX ||
	    (cc = calloc(1, sizeof(*cc))) == NULL) {
		(void)send(c, full, sizeof(full) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		close(c);
		return;
	}
	cc->uid = cc->pid = -1;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0) {
		cc->uid = (long)cr.uid;
		cc->pid = (long)cr.pid;
	}
	cc->cs = cs;
	if ((cc->bev = bufferevent_socket_new(event_get_base(cs->ev), c,
		 BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(c);
		free(cc);
		return;
	}
	cc->next = cs->conns;
	cs->conns = cc;
	cs->nconns++;
	ctl_conn_idle(cc);
	bufferevent_setcb(cc->bev, ctl_read_cb, ctl_write_cb, ctl_event_cb, cc);
	bufferevent_enable(cc->bev, EV_READ | EV_WRITE);
}

/* --- A connection: lines in, answers out, one at a time. */

/* Waiting for a command: a silent peer goes after CTLSOCK_IDLE_SECS. */
static void
ctl_conn_idle(struct ctl_conn *cc)
{
	struct timeval	 tv = { CTLSOCK_IDLE_SECS, 0 };

	bufferevent_set_timeouts(cc->bev, &tv, NULL);
}

/* Bytes came: whole lines are commands (ctl_conn_read()). */
static void
ctl_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ctl_conn_read(arg);
}

/* Every answer is out: close if that was the last word. */
static void
ctl_write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*cc = arg;

	if (cc->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctl_conn_free(cc);
}

/*
 * The peer is done sending (the commands it sent are still answered:
 * "printf 'show info\n' | socat - UNIX-CONNECT:..." works), failed, or
 * idled out.
 */
static void
ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn	*cc = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		cc->eof = true;
		bufferevent_disable(bev, EV_READ);
		if (!cc->busy)
			ctl_conn_read(cc);
		return;
	}
	if (cc->busy) {
		/* The answer owed frees it (ctl_send()). */
		cc->dead = true;
		bufferevent_disable(cc->bev, EV_READ | EV_WRITE);
		return;
	}
	ctl_conn_free(cc);
}

/*
 * The commands that have come in whole, one at a time: a command that is
 * answered later stops the reading until it is (ctl_send() resumes it).
 */
static void
ctl_conn_read(struct ctl_conn *cc)
{
	struct evbuffer	*in = bufferevent_get_input(cc->bev);
	char		*line;
	size_t		 n;

	if (cc->in_read)
		return;
	cc->in_read = true;
	while (!cc->busy && !cc->dead && !cc->closing) {
		if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) == NULL) {
			if (evbuffer_get_length(in) >= CTL_LINE_MAX) {
				cc->closing = true;
				ctl_error_msg(cc,
				    "line longer than 4096 bytes");
			}
			break;
		}
		ctl_conn_line(cc, line, n);
		free(line);
	}
	cc->in_read = false;
	if (cc->dead && !cc->busy) {
		ctl_conn_free(cc);
		return;
	}
	if (cc->busy)
		return;
	if (cc->eof)
		cc->closing = true;
	if (!cc->closing) {
		bufferevent_enable(cc->bev, EV_READ);
		return;
	}
	bufferevent_disable(cc->bev, EV_READ);
	/* Nothing left to write: no write callback would come. */
	if (evbuffer_get_length(bufferevent_get_output(cc->bev)) == 0)
		ctl_conn_free(cc);
}

/* One line: parsed here, done by the callback. */
static void
ctl_conn_line(struct ctl_conn *cc, const char *line, size_t n)
{
	struct ctlcmd	 cmd;
	char		 err[256];

	if (n + 1 > CTL_LINE_MAX) {
		cc->closing = true;
		ctl_error_msg(cc, "line longer than 4096 bytes");
		return;
	}
	if (ctlcmd_parse(line, n, &cmd, err, sizeof(err)) == -1) {
		ctl_error_msg(cc, err);
		return;
	}
	cc->busy = true;
	bufferevent_disable(cc->bev, EV_READ);
	cc->cs->fn(cc->cs->arg, cc, &cmd);
}

/*
 * Free a connection, but never under ctl_conn_read(), which still holds
 * it: that one frees it on its way out.  Closing the socket drops what
 * was not sent yet, which is why a closing connection waits for
 * ctl_write_cb() first.
 */
static void
ctl_conn_free(struct ctl_conn *cc)
{
	struct ctl_conn	**pp;

	if (cc->in_read) {
		/* ctl_conn_read() frees it on its way out. */
		cc->dead = true;
		return;
	}
	for (pp = &cc->cs->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cc) {
			*pp = cc->next;
			break;
		}
	cc->cs->nconns--;
	bufferevent_free(cc->bev);
	free(cc);
}

void
ctl_peer(const struct ctl_conn *cc, long *uid, long *pid)
{
	*uid = cc->uid;
	*pid = cc->pid;
}

/* --- Answers. */

int
ctl_body_init(struct ctl_body *b)
{
	b->n = 0;
	b->oom = false;
	return (b->buf = evbuffer_new()) == NULL ? -1 : 0;
}

void
ctl_body_free(struct ctl_body *b)
{
	if (b != NULL && b->buf != NULL)
		evbuffer_free(b->buf);
	if (b != NULL)
		b->buf = NULL;
}

/*
 * One more line of an answer.  Out of memory is remembered, not returned:
 * the answer then becomes "err 1 / out of memory" as a whole (ctl_send())
 * rather than a table with a line missing.
 */
void
ctl_line(struct ctl_body *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = evbuffer_add_vprintf(b->buf, fmt, ap);
	va_end(ap);
	if (rc < 0 || evbuffer_add(b->buf, "\n", 1) == -1)
		b->oom = true;
	b->n++;
}

/*
 * A field from outside (a path, a config line) made safe for the wire:
 * a TAB would shift a table's columns and a newline would end the
 * answer early for the client.
 */
const char *
ctl_field(const char *s, char *buf, size_t len)
{
	size_t	 i;

	if (s == NULL || s[0] == '\0')
		return "-";
	snprintf(buf, len, "%s", s);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	return buf;
}

/* The status line counts the body's lines, so a client reads no further. */
void
ctl_reply(struct ctl_conn *cc, const char *kind, struct ctl_body *b)
{
	char	 head[64];

	snprintf(head, sizeof(head), "ok %zu %s", b != NULL ? b->n : 0, kind);
	ctl_send(cc, head, b);
}

void
ctl_error(struct ctl_conn *cc, struct ctl_body *b)
{
	char	 head[32];

	snprintf(head, sizeof(head), "err %zu", b->n);
	ctl_send(cc, head, b);
}

void
ctl_error_msg(struct ctl_conn *cc, const char *msg)
{
	struct ctl_body	 b;
	char		 f[512];

	if (ctl_body_init(&b) == -1) {
		ctl_send(cc, NULL, NULL);
		return;
	}
	ctl_line(&b, "%s", ctl_field(msg, f, sizeof(f)));
	ctl_error(cc, &b);
}

/*
 * The one way out for an answer: the status line ${head} (NULL, or a
 * body that ran out of memory: "err 1 / out of memory") and ${b}'s lines.
 * Then the next command, if one is waiting.
 */
static void
ctl_send(struct ctl_conn *cc, const char *head, struct ctl_body *b)
{
	struct evbuffer	*out = bufferevent_get_output(cc->bev);

	cc->busy = false;
	if (!cc->dead) {
		if (head == NULL || (b != NULL && b->oom))
			evbuffer_add_printf(out, "err 1\nout of memory\n");
		else {
			evbuffer_add_printf(out, "%s\n", head);
			if (b != NULL)
				evbuffer_add_buffer(out, b->buf);
		}
	}
	ctl_body_free(b);
	if (cc->dead) {
		ctl_conn_free(cc);
		return;
	}
	if (cc->closing || cc->in_read)
		return;
	ctl_conn_read(cc);
}
