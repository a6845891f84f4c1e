/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sdnotify.c: relay46's side of two systemd protocols, without linking
 * libsystemd: telling the service manager we are ready (and what we are
 * doing: STATUS=, RELOADING=1, STOPPING=1), and taking the listening
 * sockets a .socket unit passed us.
 *
 * It owns nothing past a call: sdnotify() opens and closes its own
 * socket each time, and the listening fds it returns are the caller's
 * (main.c, which gives each to the listener whose address it matches).
 * sdnotify() runs on the control thread; the fd functions run once, in
 * main() before any thread starts, because they read and then clear the
 * environment, which is not safe while other threads may read it.
 *
 * Neither logs, and both succeed quietly outside systemd, so the same
 * binary runs under systemd, another supervisor or a shell.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "sdnotify.h"
#include "util.h"

/* The first fd systemd passes: SD_LISTEN_FDS_START in sd-daemon.h. */
#define SDNOTIFY_FD_START	3

/*
 * Fill ${un} from $NOTIFY_SOCKET.  systemd gives an absolute path or, for
 * the abstract namespace, "@name"; the kernel takes the latter as a
 * leading NUL and the length counts exactly the name, with no trailing NUL.
 */
static int
sdnotify_addr(const char *path, struct sockaddr_un *un, socklen_t *len)
{
	size_t	 plen = strlen(path);

	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	if (path[0] == '@') {
		if (plen > sizeof(un->sun_path))
			goto toolong;
		memcpy(un->sun_path + 1, path + 1, plen - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
		return 0;
	}
	if (path[0] != '/') {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (plen >= sizeof(un->sun_path))
		goto toolong;
	memcpy(un->sun_path, path, plen + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

int
sdnotify(const char *fmt, ...)
{
	struct sockaddr_un	 un;
	socklen_t		 slen;
	const char		*path;
	char			*msg = NULL;
	va_list			 ap;
	int			 fd = -1, size, saved, rc = -1;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return 0;
	if (sdnotify_addr(path, &un, &slen) == -1)
		return -1;
	/*
	 * Measured, then allocated: one datagram must carry the whole
	 * message, since systemd reads each datagram as one notification.
	 */
	va_start(ap, fmt);
	size = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (size < 0 || (msg = malloc((size_t)size + 1)) == NULL)
		goto out;
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)size + 1, fmt, ap);
	va_end(ap);
	/*
	 * A blocking socket, as sd_notify(3) uses: systemd reads its socket
	 * promptly, and a READY=1 dropped on a full queue would fail the
	 * start after TimeoutStartSec.  MSG_NOSIGNAL: a vanished systemd
	 * must cost an error, not the process.
	 */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		goto out;
	if (sendto(fd, msg, (size_t)size, MSG_NOSIGNAL,
	    (const struct sockaddr *)&un, slen) == -1)
		goto out;
	rc = 0;
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(msg);
	errno = saved;
	return rc;
}

/*
 * A decimal number of digits only that fits an unsigned long; 0 or -1.
 * strtoul() alone would take " 12", "+12" or "-1" (as a huge number).
 */
static int
sdnotify_number(const char *s, unsigned long *out)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/*
 * Is ${fd} a listening TCP socket of IPv4 or IPv6?  If so, make it
 * non-blocking and return 0; else -1 with why in ${why}.  systemd passes
 * a blocking socket unless the unit says NonBlocking=yes, and a worker
 * that accept()s on one blocks there for the next client, so it never
 * serves those it already took.
 */
static int
sdnotify_check_fd(int fd, char *why, size_t whylen)
{
	socklen_t	 len;
	int		 type, domain, proto, listening, flags;

	/*
	 * The kernel answers for the socket, whatever the unit file claims:
	 * a ListenDatagram= or a Unix socket passed by mistake is refused at
	 * start, not found out at the first accept().
	 */
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		goto sys;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == -1)
		goto sys;
	len = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == -1)
		goto sys;
	if (type != SOCK_STREAM || proto != IPPROTO_TCP ||
	    (domain != AF_INET && domain != AF_INET6)) {
		err_set(why, whylen, "not a TCP socket of IPv4 or IPv6");
		return -1;
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1)
		goto sys;
	if (!listening) {
		err_set(why, whylen, "a TCP socket, but not listening");
		return -1;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		goto sys;
	return 0;
sys:
	err_set(why, whylen, "%s", strerror(errno));
	return -1;
}

/*
 * Make the passed fds ours: open, not leaked into any exec, listening TCP
 * sockets and non-blocking.
 */
static int *
sdnotify_take_fds(unsigned long count, char *err, size_t errlen)
{
	char	 why[128];
	int	*v;
	int	 fd, flags;

	if ((v = calloc(count, sizeof(*v))) == NULL) {
		err_set(err, errlen, "LISTEN_FDS: %s", strerror(errno));
		return NULL;
	}
	/*
	 * count <= SDNOTIFY_FDS_MAX, so the int cannot overflow.  FD_CLOEXEC
	 * first: systemd passes them inheritable, and no child of ours (there
	 * is none today) should ever hold a listening socket.
	 */
	for (fd = SDNOTIFY_FD_START; fd < SDNOTIFY_FD_START + (int)count;
	    fd++) {
		if ((flags = fcntl(fd, F_GETFD)) == -1 ||
		    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1)
			err_set(why, sizeof(why), "%s", strerror(errno));
		else if (sdnotify_check_fd(fd, why, sizeof(why)) == 0) {
			v[fd - SDNOTIFY_FD_START] = fd;
			continue;
		}
		err_set(err, errlen, "LISTEN_FDS=%lu: fd %d: %s", count, fd,
		    why);
		free(v);
		return NULL;
	}
	return v;
}

int
sdnotify_listen_fds(int **fds, size_t *n, char *err, size_t errlen)
{
	const char	*pid_s, *n_s;
	unsigned long	 pid, count;
	int		 rc = -1;

	*fds = NULL;
	*n = 0;
	pid_s = getenv("LISTEN_PID");
	n_s = getenv("LISTEN_FDS");
	/* Not activated, or the variables were inherited from a parent. */
	if (pid_s == NULL) {
		rc = 0;
		goto out;
	}
	if (sdnotify_number(pid_s, &pid) == -1) {
		err_set(err, errlen, "LISTEN_PID=%s: not a process id", pid_s);
		goto out;
	}
	/*
	 * Another pid: the variables were meant for a process that started
	 * us (a wrapper script), not for us; its fds are not ours to take.
	 */
	if (pid != (unsigned long)getpid() || n_s == NULL) {
		rc = 0;
		goto out;
	}
	if (sdnotify_number(n_s, &count) == -1) {
		err_set(err, errlen, "LISTEN_FDS=%s: not a number", n_s);
		goto out;
	}
	if (count > SDNOTIFY_FDS_MAX) {
		err_set(err, errlen, "LISTEN_FDS=%s: more than %d", n_s,
		    SDNOTIFY_FDS_MAX);
		goto out;
	}
	if (count > 0 && (*fds = sdnotify_take_fds(count, err, errlen)) == NULL)
		goto out;
	*n = count;
	rc = 0;
out:
	/* After the last use of pid_s and n_s, which point into environ. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}

/* Is ${fd} a listening TCP socket bound to exactly ${a}? */
static int
sdnotify_is(int fd, const struct addr *a)
{
	struct sockaddr_storage	 ss;
	struct addr		 got;
	socklen_t		 len;
	int			 v;

	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == -1 ||
	    v != SOCK_STREAM)
		return 0;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1 ||
	    v == 0)
		return 0;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	addr_from_sockaddr(&got, (struct sockaddr *)&ss, len);
	/*
	 * Unmapped on neither side: addr_equal() compares families, so a v6
	 * socket on [::ffff:192.0.2.1]:P is not the IPv4 listener
	 * 192.0.2.1:P, and it keeps [::]:P apart from every other address.
	 */
	return addr_equal(&got, a);
}

/*
 * The first match wins; systemd passes each address once, so there is
 * no second.  Linear: a handful of sockets, once at start.
 */
int
sdnotify_match(const int *fds, size_t n, const struct addr *a)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (sdnotify_is(fds[i], a))
			return (int)i;
	return -1;
}
