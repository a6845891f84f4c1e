/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loadgen: load generator and backend for benchmarking relay46 (or any TCP
 * relay) on the loopback interface.
 *
 * Build:  cc -O2 -pthread -o loadgen loadgen.c
 *
 *   loadgen server echo|sink|close PORT [MAXSECONDS]
 *	epoll backend on 127.0.0.1:PORT and [::1]:PORT.  echo sends every
 *	byte back, sink discards, close sends back the first 16 bytes of each
 *	connection and then closes it (the server ends the connection, as an
 *	HTTP/1.0 server does).  Runs until SIGTERM/SIGINT or MAXSECONDS
 *	(default 3600).
 *   loadgen throughput HOST PORT CONNS SECONDS
 *	CONNS connections each stream 64 KiB writes of a known pattern to an
 *	echo backend and read everything back, checking every byte.  Reports
 *	MB/s (10^6 bytes/s) relayed one way, all connections together.
 *   loadgen latency HOST PORT COUNT
 *	one connection, COUNT ping-pongs of 64 bytes; reports min, median,
 *	p99, mean and max round trip in microseconds.
 *   loadgen connrate HOST PORT SECONDS CONCURRENCY [server|client]
 *	CONCURRENCY connections at a time: connect, send 16 bytes, read them
 *	back, close.  Reports connections per second and failures.  "server"
 *	(the default, for a "close" backend): after the 16 bytes, wait for the
 *	server to close first, then close.  "client" (for an "echo" backend):
 *	close as soon as the 16 bytes are back.  Whoever closes first keeps
 *	the TIME_WAIT state; when that is the connecting side, every
 *	connect() to the same address competes for ~28k ephemeral ports that
 *	each stay blocked for a second or more, and the rate measured is the
 *	kernel's port ceiling (about 14k/s here), not the relay's.
 *   loadgen hold HOST PORT N SECONDS
 *	opens N connections, one 16-byte ping-pong on each (so a relay has
 *	connected its upstream and moved data), prints "READY held=N", then
 *	holds them idle for SECONDS (or until SIGTERM/SIGINT) and closes them.
 *
 * HOST must be a loopback address: 127.0.0.0/8, ::1 or localhost.  Every
 * client mode prints one machine-readable line starting with "RESULT".
 * Exit status: 0 success, 1 usage or I/O failure, 2 protocol error (wrong
 * bytes or a stream that ended early).  Every loop is bounded in count and
 * in time.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK		(64 * 1024)	/* throughput write size */
#define RBUF		(256 * 1024)	/* largest single read */
#define PERIOD		251		/* pattern period: prime, unaligned */
#define PAT_LEN		(RBUF + PERIOD)
#define LAT_MSG		64
#define CR_MSG		16
#define IO_TIMEOUT_S	5		/* per blocking call / per connection */
#define DRAIN_TIMEOUT_S	15		/* throughput: wait for the echo tail */
#define MAX_CONNS	100000

static unsigned char		 pat[PAT_LEN];
static volatile sig_atomic_t	 stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
proto_error(const char *fmt, ...)
{
	va_list	 ap;

	fputs("loadgen: protocol error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long
parse_long(const char *s, long lo, long hi, const char *what)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("bad %s '%s' (want %ld..%ld)", what, s, lo, hi);
	return v;
}

static double
parse_secs(const char *s, double lo, double hi)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		die("bad SECONDS '%s' (want %g..%g)", s, lo, hi);
	return v;
}

/* Fill ${ss} from a loopback HOST and PORT; anything else is refused. */
static socklen_t
resolve(const char *host, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 h[INET6_ADDRSTRLEN + 2];
	size_t			 n;
	int			 p;

	p = (int)parse_long(port, 1, 65535, "PORT");
	memset(ss, 0, sizeof(*ss));
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	n = strlen(host);
	if (n >= sizeof(h))
		die("bad HOST '%s'", host);
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
	} else
		memcpy(h, host, n + 1);
	if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			die("HOST %s is not a loopback address", host);
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			die("HOST %s is not a loopback address", host);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		return sizeof(*sin6);
	}
	die("HOST must be a loopback address (127.x.y.z, ::1, localhost), "
	    "not '%s'", host);
	return 0;
}

static void
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		die("fcntl: %s", strerror(errno));
}

static void
set_nodelay(int fd)
{
	int	 on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void
set_timeouts(int fd, int secs)
{
	struct timeval	 tv = { secs, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A blocking connect, bounded by IO_TIMEOUT_S; -1 with errno on failure. */
static int
connect_blocking(const struct sockaddr_storage *ss, socklen_t len)
{
	int	 fd, e;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	set_timeouts(fd, IO_TIMEOUT_S);
	if (connect(fd, (const struct sockaddr *)ss, len) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Write or read all of ${len} bytes on a blocking socket; -1 on failure. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR && !stop_flag)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns bytes read: < len on EOF, -1 on error. */
static ssize_t
read_all(int fd, void *buf, size_t len)
{
	char	*p = buf;
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = read(fd, p + got, len - got);
		if (n == -1 && errno == EINTR && !stop_flag)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---------------------------------------------------------------- server */

enum { K_LISTENER, K_CONN };
enum { S_ECHO, S_SINK, S_CLOSE };

struct sconn {
	int		 kind;
	int		 fd;
	size_t		 echoed;	/* S_CLOSE: bytes sent back so far */
	unsigned char	*pend;		/* echo bytes the socket did not take */
	size_t		 plen, poff;
};

static void
sconn_close(int ep, struct sconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
}

static void
sconn_want(int ep, struct sconn *c, uint32_t events)
{
	struct epoll_event	 ev = { .events = events, .data.ptr = c };

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Flush pending echo bytes; false if the connection was closed. */
static bool
sconn_flush(int ep, struct sconn *c)
{
	ssize_t	 n;

	while (c->poff < c->plen) {
		n = write(c->fd, c->pend + c->poff, c->plen - c->poff);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return true;	/* still waiting for EPOLLOUT */
		if (n <= 0) {
			sconn_close(ep, c);
			return false;
		}
		c->poff += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->plen = c->poff = 0;
	sconn_want(ep, c, EPOLLIN);
	return true;
}

static void
sconn_read(int ep, struct sconn *c, int mode, unsigned char *buf)
{
	ssize_t	 n, w;
	size_t	 k;
	int	 i;

	/* At most 16 reads per wake-up, so one busy peer cannot starve. */
	for (i = 0; i < 16; i++) {
		n = read(c->fd, buf, RBUF);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* EOF or error: nothing is pending here (we stop
			 * reading while anything is), so close now. */
			sconn_close(ep, c);
			return;
		}
		if (mode == S_SINK)
			continue;
		if (mode == S_CLOSE) {
			/* Echo up to CR_MSG bytes in all, then hang up. */
			k = CR_MSG - c->echoed;
			if ((size_t)n < k)
				k = (size_t)n;
			if (write(c->fd, buf, k) != (ssize_t)k ||
			    (c->echoed += k) >= CR_MSG) {
				sconn_close(ep, c);
				return;
			}
			continue;
		}
		w = write(c->fd, buf, (size_t)n);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			w = 0;
		if (w == -1) {
			sconn_close(ep, c);
			return;
		}
		if (w < n) {
			/* Backpressure: park the rest, stop reading. */
			c->plen = (size_t)(n - w);
			c->poff = 0;
			if ((c->pend = malloc(c->plen)) == NULL)
				die("out of memory");
			memcpy(c->pend, buf + w, c->plen);
			sconn_want(ep, c, EPOLLOUT);
			return;
		}
	}
}

static int
server_listen(int ep, int family, int port, struct sconn *l)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct epoll_event	 ev;
	socklen_t		 len;
	int			 fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 4096) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	l->kind = K_LISTENER;
	l->fd = fd;
	ev.events = EPOLLIN;
	ev.data.ptr = l;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	return fd;
}

static void
server_accept(int ep, struct sconn *l)
{
	struct epoll_event	 ev;
	struct sconn		*c;
	int			 fd, i;

	for (i = 0; i < 64; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				fprintf(stderr, "loadgen: accept: %s\n",
				    strerror(errno));
				usleep(10000);	/* no busy loop */
			}
			return;
		}
		set_nodelay(fd);
		if ((c = calloc(1, sizeof(*c))) == NULL)
			die("out of memory");
		c->kind = K_CONN;
		c->fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
}

static int
cmd_server(int argc, char **argv)
{
	struct epoll_event	 evs[256];
	struct sconn		 l4, l6, *c;
	unsigned char		*buf;
	double			 deadline;
	int			 mode, ep, port, n, i, nl = 0;

	if (argc < 2 || argc > 3)
		die("usage: loadgen server echo|sink|close PORT [MAXSECONDS]");
	if (strcmp(argv[0], "echo") == 0)
		mode = S_ECHO;
	else if (strcmp(argv[0], "sink") == 0)
		mode = S_SINK;
	else if (strcmp(argv[0], "close") == 0)
		mode = S_CLOSE;
	else
		die("server mode must be echo, sink or close, not '%s'",
		    argv[0]);
	port = (int)parse_long(argv[1], 1, 65535, "PORT");
	deadline = now_s() + (argc == 3 ? parse_secs(argv[2], 1, 86400) :
	    3600);
	if ((buf = malloc(RBUF)) == NULL)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	if (server_listen(ep, AF_INET, port, &l4) == -1)
		die("listen 127.0.0.1:%d: %s", port, strerror(errno));
	nl++;
	if (server_listen(ep, AF_INET6, port, &l6) == -1)
		fprintf(stderr, "loadgen: listen [::1]:%d: %s (IPv4 only)\n",
		    port, strerror(errno));
	else
		nl++;
	fprintf(stderr, "loadgen: %s server on 127.0.0.1:%d%s\n",
	    argv[0], port, nl == 2 ? " and [::1]" : "");
	while (!stop_flag && now_s() < deadline) {
		n = epoll_wait(ep, evs, 256, 200);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c->kind == K_LISTENER) {
				server_accept(ep, c);
				continue;
			}
			if (c->pend != NULL) {
				if (evs[i].events & (EPOLLOUT | EPOLLERR |
				    EPOLLHUP))
					(void)sconn_flush(ep, c);
			} else
				sconn_read(ep, c, mode, buf);
		}
	}
	free(buf);
	return 0;
}

/* ------------------------------------------------------------ throughput */

struct tconn {
	int		 fd;
	uint64_t	 sent, rcvd;
	bool		 finished;
};

static void
tconn_read(struct tconn *c, unsigned char *buf)
{
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 16; i++) {
		n = read(c->fd, buf, RBUF);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1)
			die("read: %s", strerror(errno));
		if (n == 0)
			proto_error("connection closed after %llu of %llu "
			    "echoed bytes", (unsigned long long)c->rcvd,
			    (unsigned long long)c->sent);
		if ((uint64_t)n > c->sent - c->rcvd)
			proto_error("got %zd bytes, only %llu outstanding", n,
			    (unsigned long long)(c->sent - c->rcvd));
		if (memcmp(buf, pat + c->rcvd % PERIOD, (size_t)n) != 0)
			proto_error("wrong bytes at stream offset %llu",
			    (unsigned long long)c->rcvd);
		c->rcvd += (uint64_t)n;
		if (n < RBUF)
			return;
	}
}

static void
tconn_write(struct tconn *c)
{
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 16; i++) {
		n = write(c->fd, pat + c->sent % PERIOD, CHUNK);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1)
			die("write: %s", strerror(errno));
		c->sent += (uint64_t)n;
		if (n < CHUNK)
			return;
	}
}

static int
cmd_throughput(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	struct epoll_event	 ev, evs[64];
	struct tconn		*cs;
	unsigned char		*buf;
	socklen_t		 len;
	double			 secs, t0, t_end, t_stop, dt = 0;
	uint64_t		 window = 0, total;
	long			 nconn, i, left;
	bool			 writing = true;
	int			 ep, n, k;

	if (argc != 4)
		die("usage: loadgen throughput HOST PORT CONNS SECONDS");
	len = resolve(argv[0], argv[1], &ss);
	nconn = parse_long(argv[2], 1, 4096, "CONNS");
	secs = parse_secs(argv[3], 0.05, 3600);
	if ((cs = calloc((size_t)nconn, sizeof(*cs))) == NULL ||
	    (buf = malloc(RBUF)) == NULL)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < nconn; i++) {
		if ((cs[i].fd = connect_blocking(&ss, len)) == -1)
			die("connect %s:%s: %s", argv[0], argv[1],
			    strerror(errno));
		set_nonblock(cs[i].fd);
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.ptr = &cs[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
	t0 = now_s();
	t_stop = t0 + secs;
	t_end = t_stop + DRAIN_TIMEOUT_S;
	left = nconn;
	while (left > 0) {
		double t = now_s();

		if (writing && (t >= t_stop || stop_flag)) {
			/* Measurement window over: count what came back in
			 * it, stop sending, then wait for the tail. */
			writing = false;
			dt = t - t0;
			for (i = 0; i < nconn; i++) {
				window += cs[i].rcvd;
				ev.events = EPOLLIN;
				ev.data.ptr = &cs[i];
				epoll_ctl(ep, EPOLL_CTL_MOD, cs[i].fd, &ev);
				if (cs[i].rcvd == cs[i].sent &&
				    !cs[i].finished) {
					cs[i].finished = true;
					left--;
				}
			}
			continue;
		}
		if (t >= t_end) {
			for (i = 0; i < nconn; i++)
				if (!cs[i].finished)
					fprintf(stderr, "loadgen: connection %ld:"
					    " sent %llu, echoed %llu, missing "
					    "%llu\n", i,
					    (unsigned long long)cs[i].sent,
					    (unsigned long long)cs[i].rcvd,
					    (unsigned long long)(cs[i].sent -
					    cs[i].rcvd));
			die("timed out waiting %ds for the echo of %ld of %ld "
			    "connection(s)", DRAIN_TIMEOUT_S, left, nconn);
		}
		n = epoll_wait(ep, evs, 64, 10);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (k = 0; k < n; k++) {
			struct tconn *c = evs[k].data.ptr;

			if (c->finished)
				continue;
			if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				tconn_read(c, buf);
			if (writing && (evs[k].events & EPOLLOUT))
				tconn_write(c);
			if (!writing && c->rcvd == c->sent) {
				c->finished = true;
				left--;
			}
		}
	}
	total = 0;
	for (i = 0; i < nconn; i++) {
		total += cs[i].rcvd;
		close(cs[i].fd);
	}
	printf("RESULT mode=throughput conns=%ld seconds=%.3f bytes=%llu "
	    "total_bytes=%llu mbps=%.1f\n", nconn, dt,
	    (unsigned long long)window, (unsigned long long)total,
	    (double)window / dt / 1e6);
	free(cs);
	free(buf);
	return 0;
}

/* --------------------------------------------------------------- latency */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmd_latency(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	unsigned char		 out[LAT_MSG], in[LAT_MSG];
	uint64_t		*rtt, t, sum = 0;
	socklen_t		 len;
	double			 deadline;
	long			 count, warm, i, j, done = 0;
	ssize_t			 n;
	int			 fd;

	if (argc != 3)
		die("usage: loadgen latency HOST PORT COUNT");
	len = resolve(argv[0], argv[1], &ss);
	count = parse_long(argv[2], 1, 10000000, "COUNT");
	warm = count / 10 < 1000 ? count / 10 : 1000;
	if ((rtt = calloc((size_t)count, sizeof(*rtt))) == NULL)
		die("out of memory");
	if ((fd = connect_blocking(&ss, len)) == -1)
		die("connect %s:%s: %s", argv[0], argv[1], strerror(errno));
	set_nodelay(fd);
	deadline = now_s() + 120;
	for (i = -warm; i < count && !stop_flag; i++) {
		for (j = 0; j < LAT_MSG; j++)
			out[j] = (unsigned char)(i * 13 + j);
		t = now_ns();
		if (write_all(fd, out, LAT_MSG) == -1)
			die("write: %s", strerror(errno));
		if ((n = read_all(fd, in, LAT_MSG)) == -1)
			die("read: %s", strerror(errno));
		if (n != LAT_MSG)
			proto_error("connection closed after %zd of %d bytes",
			    n, LAT_MSG);
		t = now_ns() - t;
		if (memcmp(in, out, LAT_MSG) != 0)
			proto_error("wrong bytes in message %ld", i);
		if (i >= 0) {
			rtt[done++] = t;
			sum += t;
		}
		if ((i & 255) == 0 && now_s() > deadline) {
			fprintf(stderr, "loadgen: time limit reached after %ld "
			    "round trips\n", done);
			break;
		}
	}
	close(fd);
	if (done == 0)
		die("no round trip measured");
	qsort(rtt, (size_t)done, sizeof(*rtt), cmp_u64);
	j = done * 99 / 100;
	if (j >= done)
		j = done - 1;
	printf("RESULT mode=latency count=%ld min_us=%.1f median_us=%.1f "
	    "p99_us=%.1f mean_us=%.1f max_us=%.1f\n", done, (double)rtt[0] / 1e3,
	    (double)rtt[done / 2] / 1e3, (double)rtt[j] / 1e3,
	    (double)sum / (double)done / 1e3,
	    (double)rtt[done - 1] / 1e3);
	free(rtt);
	return 0;
}

/* -------------------------------------------------------------- connrate */

enum { CR_IDLE, CR_CONNECTING, CR_READING, CR_WAIT_EOF };

struct cconn {
	int		 fd;
	int		 state;
	unsigned	 id;
	size_t		 got;
	double		 started;
	unsigned char	 msg[CR_MSG];
};

static void
cconn_done(int ep, struct cconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = CR_IDLE;
}

/* Start a connection in slot ${c}; false (and IDLE) if it failed at once. */
static bool
cconn_start(int ep, struct cconn *c, const struct sockaddr_storage *ss,
    socklen_t len, unsigned id)
{
	struct epoll_event	 ev;
	size_t			 i;

	c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return false;
	c->id = id;
	c->got = 0;
	c->started = now_s();
	for (i = 0; i < CR_MSG; i++)
		c->msg[i] = (unsigned char)(id * 7 + i);
	if (connect(c->fd, (const struct sockaddr *)ss, len) == -1 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->state = CR_CONNECTING;
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	return true;
}

/* Handle an event; returns 1 on success, -1 on failure, 0 if in progress. */
static int
cconn_event(int ep, struct cconn *c, uint32_t events, bool server_closes)
{
	struct epoll_event	 ev;
	unsigned char		 in[CR_MSG];
	socklen_t		 sl = sizeof(int);
	ssize_t			 n;
	int			 err = 0;

	if (c->state == CR_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
			err = errno;
		if (err != 0 || !(events & EPOLLOUT))
			goto fail;
		if (write(c->fd, c->msg, CR_MSG) != CR_MSG)
			goto fail;
		c->state = CR_READING;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return 0;
	}
	if (c->state == CR_WAIT_EOF) {
		n = read(c->fd, in, sizeof(in));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n > 0)
			proto_error("%zd unexpected bytes on connection %u",
			    n, c->id);
		if (n == -1)
			goto fail;
		cconn_done(ep, c);
		return 1;
	}
	n = read(c->fd, in, CR_MSG - c->got);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		goto fail;
	if (memcmp(in, c->msg + c->got, (size_t)n) != 0)
		proto_error("wrong bytes on connection %u", c->id);
	c->got += (size_t)n;
	if (c->got < CR_MSG)
		return 0;
	if (server_closes) {
		c->state = CR_WAIT_EOF;
		return 0;
	}
	cconn_done(ep, c);
	return 1;
fail:
	cconn_done(ep, c);
	return -1;
}

static int
cmd_connrate(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	struct epoll_event	 evs[256];
	struct cconn		*cs;
	socklen_t		 len;
	double			 secs, t0, t_stop, t_end, t, last_scan, dt;
	uint64_t		 ok = 0, failed = 0, timeouts = 0;
	unsigned		 next_id = 0;
	long			 conc, i, busy;
	bool			 server_closes = true;
	int			 ep, n, k, r;

	if (argc != 4 && argc != 5)
		die("usage: loadgen connrate HOST PORT SECONDS CONCURRENCY "
		    "[server|client]");
	len = resolve(argv[0], argv[1], &ss);
	secs = parse_secs(argv[2], 0.05, 3600);
	conc = parse_long(argv[3], 1, 10000, "CONCURRENCY");
	if (argc == 5) {
		if (strcmp(argv[4], "client") == 0)
			server_closes = false;
		else if (strcmp(argv[4], "server") != 0)
			die("connrate: who closes first: server or client, "
			    "not '%s'", argv[4]);
	}
	if ((cs = calloc((size_t)conc, sizeof(*cs))) == NULL)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < conc; i++) {
		cs[i].fd = -1;
		cs[i].state = CR_IDLE;
	}
	t0 = last_scan = now_s();
	t_stop = t0 + secs;
	t_end = t_stop + IO_TIMEOUT_S;
	for (;;) {
		t = now_s();
		busy = 0;
		/* Fill idle slots while the window is open. */
		for (i = 0; i < conc; i++) {
			if (cs[i].state == CR_IDLE && t < t_stop && !stop_flag &&
			    !cconn_start(ep, &cs[i], &ss, len, next_id++))
				failed++;
			if (cs[i].state != CR_IDLE)
				busy++;
		}
		if (busy == 0 && (t >= t_stop || stop_flag))
			break;
		if (t >= t_end) {
			/* Whatever is still open past the grace time fails. */
			for (i = 0; i < conc; i++)
				if (cs[i].state != CR_IDLE) {
					cconn_done(ep, &cs[i]);
					failed++;
					timeouts++;
				}
			break;
		}
		n = epoll_wait(ep, evs, 256, busy < conc && t < t_stop ? 1 :
		    10);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (k = 0; k < n; k++) {
			r = cconn_event(ep, evs[k].data.ptr, evs[k].events,
			    server_closes);
			if (r > 0)
				ok++;
			else if (r < 0)
				failed++;
		}
		/* Per-connection timeout, checked ten times a second. */
		t = now_s();
		if (t - last_scan >= 0.1) {
			last_scan = t;
			for (i = 0; i < conc; i++)
				if (cs[i].state != CR_IDLE &&
				    t - cs[i].started > IO_TIMEOUT_S) {
					cconn_done(ep, &cs[i]);
					failed++;
					timeouts++;
				}
		}
	}
	dt = now_s() - t0;
	if (dt < secs)
		dt = secs;
	printf("RESULT mode=connrate seconds=%.3f concurrency=%ld close=%s "
	    "ok=%llu failed=%llu timeouts=%llu cps=%.0f\n", dt, conc,
	    server_closes ? "server" : "client",
	    (unsigned long long)ok, (unsigned long long)failed,
	    (unsigned long long)timeouts, (double)ok / dt);
	free(cs);
	return 0;
}

/* ------------------------------------------------------------------ hold */

static int
cmd_hold(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	unsigned char		 out[CR_MSG], in[CR_MSG];
	socklen_t		 len;
	double			 secs, deadline;
	long			 want, held = 0, failed = 0, i, j;
	ssize_t			 n;
	int			*fds;

	if (argc != 4)
		die("usage: loadgen hold HOST PORT N SECONDS");
	len = resolve(argv[0], argv[1], &ss);
	want = parse_long(argv[2], 1, MAX_CONNS, "N");
	secs = parse_secs(argv[3], 0.05, 86400);
	if ((fds = calloc((size_t)want, sizeof(*fds))) == NULL)
		die("out of memory");
	deadline = now_s() + 60;	/* bound on the opening phase */
	for (i = 0; i < want && !stop_flag && now_s() < deadline; i++) {
		int fd = connect_blocking(&ss, len);

		if (fd == -1) {
			int e = errno;

			if (failed++ == 0)
				fprintf(stderr, "loadgen: connect %s:%s: %s\n",
				    argv[0], argv[1], strerror(e));
			if (e == EMFILE || e == ENFILE)
				break;
			continue;
		}
		for (j = 0; j < CR_MSG; j++)
			out[j] = (unsigned char)(i * 7 + j);
		if (write_all(fd, out, CR_MSG) == -1 ||
		    (n = read_all(fd, in, CR_MSG)) != CR_MSG) {
			failed++;
			close(fd);
			continue;
		}
		if (memcmp(in, out, CR_MSG) != 0)
			proto_error("wrong bytes on connection %ld", i);
		fds[held++] = fd;
	}
	printf("READY held=%ld failed=%ld\n", held, failed);
	fflush(stdout);
	deadline = now_s() + secs;
	while (!stop_flag && now_s() < deadline)
		usleep(20000);
	for (i = 0; i < held; i++)
		close(fds[i]);
	printf("RESULT mode=hold held=%ld failed=%ld\n", held, failed);
	free(fds);
	return failed > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ main */

static void
usage(void)
{
	fputs("usage: loadgen server echo|sink|close PORT [MAXSECONDS]\n"
	    "       loadgen throughput HOST PORT CONNS SECONDS\n"
	    "       loadgen latency HOST PORT COUNT\n"
	    "       loadgen connrate HOST PORT SECONDS CONCURRENCY "
	    "[server|client]\n"
	    "       loadgen hold HOST PORT N SECONDS\n"
	    "HOST: 127.x.y.z, ::1 or localhost\n", stderr);
	exit(1);
}

int
main(int argc, char **argv)
{
	size_t	 i;

	if (argc < 2)
		usage();
	for (i = 0; i < PAT_LEN; i++)
		pat[i] = (unsigned char)(i % PERIOD);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_nofile();
	signals();
	if (strcmp(argv[1], "server") == 0)
		return cmd_server(argc - 2, argv + 2);
	if (strcmp(argv[1], "throughput") == 0)
		return cmd_throughput(argc - 2, argv + 2);
	if (strcmp(argv[1], "latency") == 0)
		return cmd_latency(argc - 2, argv + 2);
	if (strcmp(argv[1], "connrate") == 0)
		return cmd_connrate(argc - 2, argv + 2);
	if (strcmp(argv[1], "hold") == 0)
		return cmd_hold(argc - 2, argv + 2);
	usage();
	return 1;
}
