/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * Listening sockets: opening them (one per worker per address, probed
 * first so SO_REUSEPORT cannot hide another relay46; port 0 read back
 * and shared) and serving one on an event loop (accept, the EMFILE
 * back-off).  A struct listener owns its evconnlistener and back-off
 * timer; its socket is closed through its loop's reaper (reaper.c says
 * why it cannot simply be closed).  It knows no worker and no session:
 * what it accepts, and every failure to, goes to the callbacks it was
 * given (struct listener_cbs), so it sits below them.  The sockets
 * listener_open() returns are the caller's.
 *
 * A reload makes its listeners on the control thread and hands them to
 * the worker (worker_reload_prepare()), so that applying it cannot fail.
 * That is safe because making one only assigns events to the worker's
 * loop (which reads nothing there but its fixed count of priorities) and
 * adds none; freeing one reads the loop's state (event_del()), so only
 * the worker's thread frees, also a listener it never started.
 *
 * It also reads what the kernel knows of listening: the queue a socket
 * listens with (listener_backlog(), the cap net.core.somaxconn), how
 * full an accept queue is (TCP_INFO) and how many connections found one
 * full, system-wide (/proc/net/netstat), for the admin endpoint.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "listener.h"
#include "reaper.h"
#include "util.h"

/* How long accept pauses when descriptors or memory run out. */
#define LISTENER_BACKOFF_MS	250
#define LISTENER_SOMAXCONN	"/proc/sys/net/core/somaxconn"
#define LISTENER_NETSTAT	"/proc/net/netstat"
/* /proc/net/netstat is some 5 KB; room to spare for kernels to come. */
#define LISTENER_NETSTAT_MAX	65536

/* "listen ADDR: reason" for the errno of a failed call on ${fd}; -1. */
static int
listener_fail(const struct addr *a, int fd, char *err, size_t errlen)
{
	char	 abuf[ADDR_STRLEN];
	int	 saved = errno;

	err_set(err, errlen, "listen %s: %s",
	    addr_format(a, abuf, sizeof(abuf)), strerror(saved));
	if (fd != -1)
		close(fd);
	errno = saved;
	return -1;
}

int
listener_bind(const struct addr *a, bool reuseport, int backlog, char *err,
    size_t errlen)
{
	int	 fd, on = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return listener_fail(a, fd, err, errlen);
	/* Restarting must not wait for old connections in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		return listener_fail(a, fd, err, errlen);
	/* "[::]:80" must not also take IPv4, whatever net.ipv6.bindv6only says. */
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		return listener_fail(a, fd, err, errlen);
	/* One socket per worker on one address: the kernel spreads clients. */
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		return listener_fail(a, fd, err, errlen);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 ||
	    (backlog > 0 && listen(fd, backlog) == -1))
		return listener_fail(a, fd, err, errlen);
	return fd;
}

/*
 * Accepted sockets inherit these on Linux: two system calls fewer per
 * session than setting them on each (session.c says why).
 */
int
listener_sockopts(int fd, bool keepalive)
{
	int	 on = 1, ka = keepalive;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &ka, sizeof(ka)) == -1)
		return -1;
	return 0;
}

/*
 * Not given, a backlog is as long as the kernel lets it be: it cuts
 * listen()'s argument to net.core.somaxconn, which the operator tunes
 * once for the host, so asking for the most gets exactly that.
 */
int
listener_backlog(unsigned backlog)
{
	if (backlog == 0 || backlog > LISTENER_BACKLOG_MAX)
		return LISTENER_BACKLOG_MAX;
	return (int)backlog;
}

int
listener_listen(int fd, unsigned backlog)
{
	return listen(fd, listener_backlog(backlog));
}

int
listener_somaxconn(unsigned *m)
{
	unsigned	 v;
	FILE		*fp;
	int		 n, saved;

	if ((fp = fopen(LISTENER_SOMAXCONN, "re")) == NULL)
		return -1;
	n = fscanf(fp, "%u", &v);
	saved = errno;
	fclose(fp);
	if (n != 1) {
		errno = n == EOF ? saved : EINVAL;
		return -1;
	}
	*m = v;
	return 0;
}

/*
 * For a listening socket, Linux's TCP_INFO puts the accept queue where a
 * connection's counts of unacknowledged and SACKed segments go
 * (tcp_get_info(): sk_ack_backlog and sk_max_ack_backlog).
 */
int
listener_queue(int fd, unsigned *len, unsigned *limit)
{
#if defined(__linux__) && defined(TCP_INFO)
	struct tcp_info	 ti;
	socklen_t	 tl = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == -1)
		return -1;
	if (ti.tcpi_state != TCP_LISTEN) {
		errno = EINVAL;
		return -1;
	}
	*len = ti.tcpi_unacked;
	*limit = ti.tcpi_sacked;
	return 0;
#else
	(void)fd;
	(void)len;
	(void)limit;
	errno = ENOTSUP;
	return -1;
#endif
}

/*
 * The next blank-separated word of the line at *${p}, into ${w} and
 * ${wlen}; false at the end of the line.  *${p} moves past it.
 */
static bool
listener_word(const char **p, const char **w, size_t *wlen)
{
	const char	*s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	*w = s;
	while (*s != '\0' && *s != '\n' && *s != ' ' && *s != '\t')
		s++;
	*wlen = (size_t)(s - *w);
	*p = s;
	return *wlen > 0;
}

/* The ${len} characters at ${s} as a number: 0, or -1 if they are not. */
static int
listener_number(const char *s, size_t len, uint64_t *v)
{
	uint64_t	 n = 0;
	size_t		 i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    n > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*v = n;
	return 0;
}

/* Is the word of ${len} characters at ${w} ${name}? */
static bool
listener_is(const char *w, size_t len, const char *name)
{
	return strlen(name) == len && strncmp(w, name, len) == 0;
}

/* The line after the one at ${p}, or NULL if it is the last. */
static const char *
listener_next_line(const char *p)
{
	if ((p = strchr(p, '\n')) == NULL || p[1] == '\0')
		return NULL;
	return p + 1;
}

/*
 * A value is the one at its name's place in the line of names before it,
 * so a kernel that adds or moves counters changes nothing here.
 */
int
listener_netstat_parse(const char *text, uint64_t *overflows, uint64_t *drops)
{
	static const char	 tag[] = "TcpExt:";
	const char		*names, *vals, *n, *v, *nw, *vw;
	size_t			 nlen, vlen;
	unsigned		 found = 0;

	for (names = text; names != NULL; names = listener_next_line(names)) {
		if (strncmp(names, tag, sizeof(tag) - 1) != 0)
			continue;
		if ((vals = listener_next_line(names)) == NULL ||
		    strncmp(vals, tag, sizeof(tag) - 1) != 0)
			return -1;
		n = names + sizeof(tag) - 1;
		v = vals + sizeof(tag) - 1;
		while (listener_word(&n, &nw, &nlen) &&
		    listener_word(&v, &vw, &vlen)) {
			if (listener_is(nw, nlen, "ListenOverflows") &&
			    listener_number(vw, vlen, overflows) == 0)
				found |= 1;
			if (listener_is(nw, nlen, "ListenDrops") &&
			    listener_number(vw, vlen, drops) == 0)
				found |= 2;
		}
		break;
	}
	return found == 3 ? 0 : -1;
}

int
listener_netstat(uint64_t *overflows, uint64_t *drops)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, rc = -1;

	if ((fd = open(LISTENER_NETSTAT, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((buf = malloc(LISTENER_NETSTAT_MAX)) == NULL) {
		close(fd);
		return -1;
	}
	/* /proc hands its text out in pieces: read to the end, bounded. */
	while (len < LISTENER_NETSTAT_MAX - 1 &&
	    (n = read(fd, buf + len, LISTENER_NETSTAT_MAX - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	rc = listener_netstat_parse(buf, overflows, drops);
out:
	free(buf);
	close(fd);
	return rc;
}

int
listener_socket(const struct addr *a, bool keepalive, bool reuseport,
    unsigned backlog, char *err, size_t errlen)
{
	int	 fd;

	if ((fd = listener_bind(a, reuseport, 0, err, errlen)) == -1)
		return -1;
	if (listener_sockopts(fd, keepalive) == -1 ||
	    listener_listen(fd, backlog) == -1)
		return listener_fail(a, fd, err, errlen);
	return fd;
}

int
listener_probe(const struct addr *a, char *err, size_t errlen)
{
	int	 fd;

	if ((fd = listener_bind(a, false, 0, err, errlen)) == -1)
		return -1;
	close(fd);
	return 0;
}

int
listener_address(int fd, struct addr *a)
{
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	addr_from_sockaddr(a, (struct sockaddr *)&ss, len);
	return 0;
}

/*
 * Port 0 with several workers: each worker binding port 0 would get a
 * port of its own, so the first socket asks the kernel for one and the
 * others take that (DESIGN 2.5).  No probe is needed for it: a port the
 * kernel picks for bind(0) is one nobody holds, not even through
 * SO_REUSEPORT.  The others bind ${a} with that port filled in.
 */
static int
listener_open_any(const struct addr *a, bool keepalive, unsigned backlog,
    unsigned n, int *fds, char *err, size_t errlen)
{
	struct addr	 b = *a, got;
	unsigned	 i;
	int		 saved;

	fds[0] = listener_socket(a, keepalive, n > 1, backlog, err, errlen);
	if (fds[0] == -1)
		return -1;
	if (listener_address(fds[0], &got) == -1) {
		saved = errno;
		close(fds[0]);
		errno = saved;
		return listener_fail(a, -1, err, errlen);
	}
	addr_set_port(&b, addr_port(&got));
	for (i = 1; i < n; i++) {
		fds[i] = listener_socket(&b, keepalive, true, backlog, err,
		    errlen);
		if (fds[i] == -1) {
			saved = errno;	/* the caller reads it */
			while (i > 0)
				close(fds[--i]);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

int
listener_open(const struct addr *a, bool keepalive, unsigned backlog,
    unsigned n, int *fds, char *err, size_t errlen)
{
	unsigned	 i;

	if (addr_port(a) == 0)
		return listener_open_any(a, keepalive, backlog, n, fds, err,
		    errlen);
	if (n > 1 && listener_probe(a, err, errlen) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		fds[i] = listener_socket(a, keepalive, n > 1, backlog, err,
		    errlen);
		if (fds[i] == -1) {
			int	 saved = errno;	/* the caller reads it */

			while (i > 0)
				close(fds[--i]);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

static void
listener_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct listener	*l = arg;

	(void)lev;
	l->cbs->accept(l, fd, sa, (socklen_t)len);
}

static void	listener_retry(struct listener *, int);

/* The back-off is over (listener_pause()), or a retry of listener_start(). */
static void
listener_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)what;
	if (evconnlistener_enable(l->lev) == -1)
		listener_retry(l, errno);
}

/*
 * libevent found no memory to watch ${l}'s socket (its descriptor map or
 * change list; errno ${err}): say so, and try again after a back-off.
 * Should even the timer find none, make it due now; the loop still goes
 * round (every 64 callbacks at most, worker.c) and comes back to it.
 * Either way the socket is never left unwatched for good.
 */
static void
listener_retry(struct listener *l, int err)
{
	struct timeval	 tv = { 0, LISTENER_BACKOFF_MS * 1000 };

	l->cbs->stuck(l, err);
	if (evtimer_add(l->backoff, &tv) == -1)
		event_active(l->backoff, EV_TIMEOUT, 1);
}

void
listener_start(struct listener *l)
{
	if (evconnlistener_enable(l->lev) == -1)
		listener_retry(l, errno);
}

void
listener_pause(struct listener *l)
{
	struct timeval	 tv = { 0, LISTENER_BACKOFF_MS * 1000 };

	evconnlistener_disable(l->lev);
	evtimer_add(l->backoff, &tv);
}

/*
 * accept() failed with something other than EAGAIN, EINTR or
 * ECONNABORTED, which libevent handles itself.  Out of descriptors or
 * memory, the socket stays readable, so accepting again at once would
 * spin: the owner pauses accepting for a moment (listener_pause(), on
 * every listener that would hit the same wall) and keeps serving live
 * sessions.
 */
static void
listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener	*l = arg;

	(void)lev;
	l->cbs->error(l, EVUTIL_SOCKET_ERROR());
}

struct listener *
listener_new(struct event_base *base, struct reaper *reaper, int fd,
    const struct listener_cbs *cbs, void *owner, void *arg)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->cbs = cbs;
	l->owner = owner;
	l->arg = arg;
	l->reaper = reaper;
	(void)listener_address(fd, &l->addr);
	/*
	 * Our own memory, so that a failure below frees it without asking
	 * the loop, which may be another thread's (see the top).
	 */
	if ((l->backoff = calloc(1, event_get_struct_event_size())) == NULL ||
	    evtimer_assign(l->backoff, base, listener_backoff_cb, l) == -1)
		goto fail;
	/*
	 * Disabled: listener_start() adds it, on the loop's thread.  Backlog
	 * 0: the socket already listens.  No LEV_OPT_CLOSE_ON_FREE:
	 * listener_free() closes (reaper_close()), listener_discard() not.
	 */
	l->lev = evconnlistener_new(base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 0, fd);
	if (l->lev == NULL)
		goto fail;
	evconnlistener_set_error_cb(l->lev, listener_error_cb);
	return l;
fail:
	if (l->backoff != NULL)		/* never added: nothing to take back */
		event_debug_unassign(l->backoff);
	free(l->backoff);
	free(l);
	return NULL;
}

void
listener_discard(struct listener *l)
{
	if (l == NULL)
		return;
	evconnlistener_free(l->lev);
	event_del(l->backoff);
	event_debug_unassign(l->backoff);
	free(l->backoff);
	free(l);
}

void
listener_free(struct listener *l)
{
	struct reaper	*r;
	int		 fd;

	if (l == NULL)
		return;
	r = l->reaper;
	fd = evconnlistener_get_fd(l->lev);
	listener_discard(l);
	reaper_close(r, fd);
}
