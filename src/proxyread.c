/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxyread.c: accept_proxy's first step, reading the PROXY header a
 * client (another relay, a load balancer) sends before its payload.  It
 * owns the wait (one event, read or deadline) and the header's bytes so
 * far; proxyproto.c judges them, the session decides what an answer
 * means.  Split from session.c so that a session's path reads straight
 * through, and so that the peek-then-take dance stays in one place.
 * Worker thread only.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "addr.h"
#include "log.h"
#include "proxyproto.h"
#include "proxyread.h"
#include "util.h"

struct proxyread {
	struct event	*ev;		/* readable, or the deadline */
	uint64_t	 deadline_ms;
	proxyread_cb	*cb;
	void		*arg;
	size_t		 len;		/* bytes of buf[] taken */
	uint8_t		 buf[PROXYPROTO_MAX];
};

static void proxyread_cb_ev(evutil_socket_t, short, void *);
static int proxyread_take(struct proxyread *, int, size_t);
static int proxyread_arm(struct proxyread *);
static void proxyread_end(struct proxyread *, enum proxyread_status,
    const struct proxyproto_info *, int, const char *);

struct proxyread *
proxyread_start(struct event_base *base, int fd, uint64_t timeout_ms,
    proxyread_cb *cb, void *arg)
{
	struct proxyread	*pr;

	if ((pr = malloc(sizeof(*pr))) == NULL)
		return NULL;
	pr->len = 0;
	pr->cb = cb;
	pr->arg = arg;
	pr->deadline_ms = util_now_ms() + timeout_ms;
	/*
	 * Not persistent: each wait is added with the time left, so the
	 * deadline is the whole header's, not each read's.
	 */
	if ((pr->ev = event_new(base, fd, EV_READ, proxyread_cb_ev, pr)) ==
		NULL ||
	    proxyread_arm(pr) == -1) {
		proxyread_cancel(pr);
		return NULL;
	}
	return pr;
}

void
proxyread_cancel(struct proxyread *pr)
{
	if (pr == NULL)
		return;
	if (pr->ev != NULL)
		event_free(pr->ev);
	free(pr);
}

/* Wait for more bytes, until the deadline. */
static int
proxyread_arm(struct proxyread *pr)
{
	uint64_t	 now = util_now_ms();
	struct timeval	 tv;

	tv = util_timeval(pr->deadline_ms > now ? pr->deadline_ms - now : 0);
	return event_add(pr->ev, &tv);
}

/*
 * The client is readable, or its time is up.  Peek, then take exactly
 * the bytes that are surely header (proxyproto_parse's promise), so not
 * one byte of payload is read here and none of the header goes upstream.
 * Bytes of an unfinished header are taken too, or the next wait would
 * wake at once for them.
 */
static void
proxyread_cb_ev(evutil_socket_t fd, short what, void *arg)
{
	struct proxyread	*pr = arg;
	struct proxyproto_info	 info;
	char			 err[256], msg[288];
	ssize_t			 n, r;
	size_t			 take;

	if (what & EV_TIMEOUT) {
		proxyread_end(pr, PROXYREAD_SLOW, NULL, 0,
		    "no whole PROXY header within proxy_timeout");
		return;
	}
	n = recv(fd, pr->buf + pr->len, sizeof(pr->buf) - pr->len, MSG_PEEK);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			if (proxyread_arm(pr) == -1)
				proxyread_end(pr, PROXYREAD_FAILED, NULL,
				    ENOMEM, NULL);
			return;
		}
		proxyread_end(pr, PROXYREAD_FAILED, NULL, errno, NULL);
		return;
	}
	if (n == 0) {
		proxyread_end(pr, PROXYREAD_CUT, NULL, 0,
		    "connection closed inside the PROXY header");
		return;
	}
	r = proxyproto_parse(pr->buf, pr->len + (size_t)n, &info, err,
	    sizeof(err));
	if (r == -1) {
		snprintf(msg, sizeof(msg), "bad PROXY header: %s", err);
		proxyread_end(pr, PROXYREAD_BAD, NULL, 0, msg);
		return;
	}
	take = r == 0 ? (size_t)n : (size_t)r - pr->len;
	if (proxyread_take(pr, fd, take) == -1)
		return;
	if (r > 0)
		proxyread_end(pr, PROXYREAD_DONE, &info, 0, NULL);
	else if (proxyread_arm(pr) == -1)
		proxyread_end(pr, PROXYREAD_FAILED, NULL, ENOMEM, NULL);
}

/*
 * Take ${take} bytes of header that a peek has just shown us.  Anything
 * but all of them ends the read (-1, the callback called).  Only a failed
 * recv() is reported with an errno: a short count has none of its own.
 */
static int
proxyread_take(struct proxyread *pr, int fd, size_t take)
{
	char	 msg[96];
	ssize_t	 n;

	if ((n = recv(fd, pr->buf + pr->len, take, 0)) == (ssize_t)take) {
		pr->len += take;
		return 0;
	}
	if (n == -1) {
		proxyread_end(pr, PROXYREAD_FAILED, NULL, errno, NULL);
		return -1;
	}
	if (n == 0)
		snprintf(msg, sizeof(msg),
		    "connection closed inside the PROXY header");
	else
		snprintf(msg, sizeof(msg),
		    "PROXY header: read %zd of the %zu bytes peeked", n, take);
	proxyread_end(pr, PROXYREAD_CUT, NULL, 0, msg);
	return -1;
}

/* The answer: free first, then call, so the callee may do anything. */
static void
proxyread_end(struct proxyread *pr, enum proxyread_status st,
    const struct proxyproto_info *info, int err, const char *msg)
{
	proxyread_cb	*cb = pr->cb;
	void		*arg = pr->arg;

	proxyread_cancel(pr);
	cb(arg, st, info, err, msg);
}

void
proxyread_warn(struct log_limit *lim, enum proxyread_status st,
    const char *route, const struct addr *client, const char *msg)
{
	char		 m[320], c[ADDR_STRLEN];
	unsigned	 held;

	if (st < PROXYREAD_BAD || st > PROXYREAD_SLOW ||
	    log_level() < LOG_LEVEL_WARN ||
	    !log_limit_pass(&lim[st - PROXYREAD_BAD], &held))
		return;
	if (held == 0)
		snprintf(m, sizeof(m), "%s", msg);
	else
		snprintf(m, sizeof(m), "%s (%u more like this suppressed)", msg,
		    held);
	log_warn("route=%s client=%s upstream=- msg=\"%s\"", route,
	    addr_format(client, c, sizeof(c)), m);
}
