/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loadgen: load generator and backend for benchmarking relay46 (or any TCP
 * relay) on the loopback interface.
 *
 * Build:  cc -O2 -pthread -o loadgen loadgen.c
 *
 *   loadgen server echo|sink|source|close PORT [MAXSECONDS]
 *	epoll backend on 127.0.0.1:PORT and [::1]:PORT.  echo sends every
 *	byte back; sink checks that every byte follows the pattern and
 *	acknowledges every MiB received with its 8-byte total; source sends
 *	the pattern as fast as the connection takes it; close sends back the
 *	first 64 bytes of each connection and then closes it (the server
 *	ends the connection, as an HTTP/1.0 server does).  Runs until
 *	SIGTERM/SIGINT or MAXSECONDS (default 3600).
 *   loadgen bulk up|down HOST PORT CONNS SECONDS
 *	up: CONNS connections stream the pattern to a sink backend; the run
 *	ends when the sink has acknowledged every byte.  down: CONNS
 *	connections read the pattern from a source backend, checking every
 *	byte, after a warm-up of SECONDS/10.  Reports Gbit/s, all
 *	connections together.
 *   loadgen rr HOST PORT CONNS SECONDS
 *	CONNS connections each do 64-byte request/response round trips with
 *	an echo backend, one outstanding per connection, for SECONDS; reports
 *	requests, p50 and p99 round trip (first 10% of the time is warm-up).
 *   loadgen slowread HOST PORT SECONDS KIB_PER_S
 *	one connection reads from a source backend at KIB_PER_S, in 4 KiB
 *	reads, checking every byte.
 *   loadgen throughput HOST PORT CONNS SECONDS
 *	CONNS connections each stream 64 KiB writes of a known pattern to an
 *	echo backend and read everything back, checking every byte.  Reports
 *	MB/s (10^6 bytes/s) relayed one way, all connections together.
 *   loadgen latency HOST PORT COUNT
 *	one connection, COUNT ping-pongs of 64 bytes; reports min, median,
 *	p99, mean and max round trip in microseconds.
 *   loadgen connrate HOST PORT SECONDS CONCURRENCY [server|client]
 *	CONCURRENCY connections at a time: connect, send 64 bytes, read them
 *	back, close.  Reports connections per second and failures.  "server"
 *	(the default, for a "close" backend): after the 64 bytes, wait for the
 *	server to close first, then close.  "client" (for an "echo" backend):
 *	close as soon as the 64 bytes are back.  Whoever closes first keeps
 *	the TIME_WAIT state; when that is the connecting side, every
 *	connect() to the same address competes for ~28k ephemeral ports that
 *	each stay blocked for a second or more, and the rate measured is the
 *	kernel's port ceiling (about 14k/s here), not the relay's.
 *   loadgen hold HOST PORT N SECONDS
 *	opens N connections, one 16-byte ping-pong on each (so a relay has
 *	connected its upstream and moved data), prints "READY held=N", then
 *	holds them idle for SECONDS (or until SIGTERM/SIGINT) and closes them.
 *	Stops opening after 3 failures in a row (a proxy at its limit).
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
#define LAT_MSG		64		/* latency / rr message */
#define CR_MSG		64		/* connrate message, each way */
#define HOLD_MSG	16		/* hold: bytes moved before idling */
#define ACK_EVERY	(1024 * 1024)	/* sink: ack every MiB received */
#define RR_MAX_SAMPLES	(4 * 1024 * 1024)
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
enum { S_ECHO, S_SINK, S_CLOSE, S_SOURCE };

struct sconn {
	int		 kind;
	int		 fd;
	size_t		 echoed;	/* S_CLOSE: bytes sent back so far */
	uint64_t	 count;		/* S_SINK: received, S_SOURCE: sent */
	uint64_t	 acked;		/* S_SINK: count last acknowledged */
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
		if (mode == S_SOURCE)
			continue;	/* whatever the client says: ignored */
		if (mode == S_SINK) {
			if (memcmp(buf, pat + c->count % PERIOD, (size_t)n)
			    != 0) {
				fprintf(stderr, "loadgen: sink: protocol error:"
				    " wrong bytes at stream offset %llu\n",
				    (unsigned long long)c->count);
				sconn_close(ep, c);
				return;
			}
			c->count += (uint64_t)n;
			if (c->count / ACK_EVERY != c->acked / ACK_EVERY) {
				/* 8 bytes, little endian: total received.
				 * Tiny, so the socket always takes it. */
				unsigned char	 a[8];
				int		 b;

				for (b = 0; b < 8; b++)
					a[b] = (unsigned char)(c->count >>
					    (8 * b));
				if (write(c->fd, a, 8) != 8) {
					sconn_close(ep, c);
					return;
				}
				c->acked = c->count;
			}
			continue;
		}
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

/* S_SOURCE: send the pattern as fast as the socket takes it. */
static void
sconn_source(int ep, struct sconn *c)
{
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 16; i++) {
		n = write(c->fd, pat + c->count % PERIOD, CHUNK);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			sconn_close(ep, c);
			return;
		}
		c->count += (uint64_t)n;
		if (n < CHUNK)
			return;
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
server_accept(int ep, struct sconn *l, int mode)
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
		ev.events = EPOLLIN | (mode == S_SOURCE ? EPOLLOUT : 0);
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
		die("usage: loadgen server echo|sink|source|close PORT "
		    "[MAXSECONDS]");
	if (strcmp(argv[0], "echo") == 0)
		mode = S_ECHO;
	else if (strcmp(argv[0], "sink") == 0)
		mode = S_SINK;
	else if (strcmp(argv[0], "close") == 0)
		mode = S_CLOSE;
	else if (strcmp(argv[0], "source") == 0)
		mode = S_SOURCE;
	else
		die("server mode must be echo, sink, source or close, not "
		    "'%s'", argv[0]);
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
				server_accept(ep, c, mode);
				continue;
			}
			if (mode == S_SOURCE) {
				if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
					sconn_close(ep, c);
					continue;
				}
				if (evs[i].events & EPOLLIN) {
					sconn_read(ep, c, mode, buf);
					continue;	/* c may be gone */
				}
				if (evs[i].events & EPOLLOUT)
					sconn_source(ep, c);
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
	unsigned char		 out[HOLD_MSG], in[HOLD_MSG];
	socklen_t		 len;
	double			 secs, deadline;
	long			 want, held = 0, failed = 0, i, j, row = 0;
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
		for (j = 0; j < HOLD_MSG; j++)
			out[j] = (unsigned char)(i * 7 + j);
		n = -1;
		set_timeouts(fd, 2);
		if (write_all(fd, out, HOLD_MSG) == -1 ||
		    (n = read_all(fd, in, HOLD_MSG)) != HOLD_MSG) {
			if (failed++ == 0)
				fprintf(stderr, "loadgen: connection %ld: no "
				    "echo (%s)\n", i, n == -1 ?
				    strerror(errno) : "closed");
			close(fd);
			/* A proxy at its connection limit: stop there. */
			if (++row >= 3)
				break;
			continue;
		}
		row = 0;
		if (memcmp(in, out, HOLD_MSG) != 0)
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

/* ------------------------------------------------------------------ bulk */

struct bconn {
	int		 fd;
	uint64_t	 sent, acked, rcvd, target;
	unsigned char	 ack[8];
	int		 ackn;
	bool		 done;
};

/* Read the sink's 8-byte acknowledgements; false once the conn is done. */
static void
bconn_acks(struct bconn *c, unsigned char *buf)
{
	ssize_t	 n, i;
	uint64_t v;
	int	 b;

	for (;;) {
		n = read(c->fd, buf, 4096);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1)
			die("read: %s", strerror(errno));
		if (n == 0)
			proto_error("sink closed after acknowledging %llu of "
			    "%llu bytes", (unsigned long long)c->acked,
			    (unsigned long long)c->sent);
		for (i = 0; i < n; i++) {
			c->ack[c->ackn++] = buf[i];
			if (c->ackn < 8)
				continue;
			c->ackn = 0;
			for (v = 0, b = 7; b >= 0; b--)
				v = v << 8 | c->ack[b];
			if (v > c->sent || v < c->acked)
				proto_error("sink acknowledged %llu bytes, "
				    "sent %llu", (unsigned long long)v,
				    (unsigned long long)c->sent);
			c->acked = v;
		}
	}
}

/*
 * bulk up: CONNS connections write the pattern to a "sink" backend, which
 * checks every byte and acknowledges every MiB.  After SECONDS each
 * connection tops its stream up to a whole MiB, and the run ends when the
 * sink has acknowledged everything: bytes / time, nothing left in buffers.
 * bulk down: CONNS connections read from a "source" backend and check
 * every byte; after a warm-up of a tenth of SECONDS (so the buffers on
 * the path are as full at the start as at the end), bytes read in SECONDS
 * / SECONDS.  total_bytes counts the warm-up too (for CPU per byte).
 */
static int
cmd_bulk(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	struct epoll_event	 ev, evs[64];
	struct bconn		*cs;
	unsigned char		*buf;
	socklen_t		 len;
	double			 secs, t0, t, t_stop, t_end, t_warm = 0, dt;
	uint64_t		 total = 0, before = 0;
	long			 nconn, i, left;
	bool			 up, writing = true;
	int			 ep, n, k, j;

	if (argc != 5)
		die("usage: loadgen bulk up|down HOST PORT CONNS SECONDS");
	if (strcmp(argv[0], "up") == 0)
		up = true;
	else if (strcmp(argv[0], "down") == 0)
		up = false;
	else
		die("bulk: direction must be up or down, not '%s'", argv[0]);
	len = resolve(argv[1], argv[2], &ss);
	nconn = parse_long(argv[3], 1, 4096, "CONNS");
	secs = parse_secs(argv[4], 0.05, 3600);
	if ((cs = calloc((size_t)nconn, sizeof(*cs))) == NULL ||
	    (buf = malloc(RBUF)) == NULL)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < nconn; i++) {
		if ((cs[i].fd = connect_blocking(&ss, len)) == -1)
			die("connect %s:%s: %s", argv[1], argv[2],
			    strerror(errno));
		set_nonblock(cs[i].fd);
		ev.events = EPOLLIN | (up ? EPOLLOUT : 0);
		ev.data.ptr = &cs[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
	t0 = now_s();
	if (!up) {
		t_warm = t0 + secs / 10;
		t_stop = t_warm + secs;
	} else
		t_stop = t0 + secs;
	t_end = t_stop + DRAIN_TIMEOUT_S;
	left = nconn;
	while (left > 0) {
		t = now_s();
		if (!up && t_warm > 0 && t >= t_warm) {
			/* Warm-up over: the window starts now. */
			for (i = 0; i < nconn; i++)
				before += cs[i].rcvd;
			t0 = t;
			t_warm = 0;
		}
		if (writing && (t >= t_stop || stop_flag)) {
			writing = false;
			if (!up)
				break;
			for (i = 0; i < nconn; i++)
				cs[i].target = (cs[i].sent + ACK_EVERY - 1) /
				    ACK_EVERY * ACK_EVERY;
		}
		if (t >= t_end)
			die("timed out waiting %ds for the sink's "
			    "acknowledgements", DRAIN_TIMEOUT_S);
		n = epoll_wait(ep, evs, 64, 10);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (k = 0; k < n; k++) {
			struct bconn	*c = evs[k].data.ptr;
			ssize_t		 w;
			size_t		 want;

			if (c->done)
				continue;
			if (!up) {
				for (j = 0; j < 16; j++) {
					w = read(c->fd, buf, RBUF);
					if (w == -1 && (errno == EAGAIN ||
					    errno == EINTR))
						break;
					if (w == -1)
						die("read: %s", strerror(errno));
					if (w == 0)
						proto_error("source closed after "
						    "%llu bytes", (unsigned long
						    long)c->rcvd);
					if (memcmp(buf, pat + c->rcvd % PERIOD,
					    (size_t)w) != 0)
						proto_error("wrong bytes at "
						    "stream offset %llu",
						    (unsigned long long)c->rcvd);
					c->rcvd += (uint64_t)w;
					if (w < RBUF)
						break;
				}
				continue;
			}
			if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				bconn_acks(c, buf);
			if (evs[k].events & EPOLLOUT) {
				for (j = 0; j < 16; j++) {
					want = CHUNK;
					if (!writing) {
						if (c->sent >= c->target)
							break;
						if (c->target - c->sent < want)
							want = (size_t)(c->target
							    - c->sent);
					}
					w = write(c->fd, pat + c->sent % PERIOD,
					    want);
					if (w == -1 && (errno == EAGAIN ||
					    errno == EINTR))
						break;
					if (w == -1)
						die("write: %s",
						    strerror(errno));
					c->sent += (uint64_t)w;
					if ((size_t)w < want)
						break;
				}
			}
			if (!writing && c->sent == c->target) {
				if (c->acked == c->target) {
					c->done = true;
					left--;
				} else {
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd,
					    &ev);
				}
			}
		}
	}
	dt = now_s() - t0;
	for (i = 0; i < nconn; i++) {
		total += up ? cs[i].acked : cs[i].rcvd;
		close(cs[i].fd);
	}
	printf("RESULT mode=bulk dir=%s conns=%ld seconds=%.3f bytes=%llu "
	    "total_bytes=%llu gbps=%.3f\n", up ? "up" : "down", nconn, dt,
	    (unsigned long long)(total - before), (unsigned long long)total,
	    (double)(total - before) * 8 / dt / 1e9);
	free(cs);
	free(buf);
	return 0;
}

/* -------------------------------------------------------------------- rr */

struct rconn {
	int		 fd;
	size_t		 off;		/* bytes of the reply read so far */
	uint64_t	 n, t;		/* requests done; start of the current */
	unsigned char	 msg[LAT_MSG];
};

static void
rconn_send(struct rconn *c)
{
	size_t	 j;

	for (j = 0; j < LAT_MSG; j++)
		c->msg[j] = (unsigned char)(c->n * 13 + j + (size_t)c->fd);
	c->off = 0;
	c->t = now_ns();
	if (write_all(c->fd, c->msg, LAT_MSG) == -1)
		die("write: %s", strerror(errno));
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * rr: CONNS connections, each sends 64 bytes to an echo backend and waits
 * for them before the next, for SECONDS.  Round trips in the first 10% of
 * the time are warm-up: counted in requests, not in the percentiles.
 */
static int
cmd_rr(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	struct epoll_event	 ev, evs[256];
	struct rconn		*cs;
	uint32_t		*lat;
	unsigned char		 in[LAT_MSG];
	socklen_t		 len;
	double			 secs, t0, t_warm, t_stop, dt;
	uint64_t		 total = 0, now, d;
	size_t			 ns = 0, p50, p99;
	long			 nconn, i;
	ssize_t			 r;
	int			 ep, n, k;

	if (argc != 4)
		die("usage: loadgen rr HOST PORT CONNS SECONDS");
	len = resolve(argv[0], argv[1], &ss);
	nconn = parse_long(argv[2], 1, 4096, "CONNS");
	secs = parse_secs(argv[3], 0.05, 600);
	if ((cs = calloc((size_t)nconn, sizeof(*cs))) == NULL ||
	    (lat = malloc(RR_MAX_SAMPLES * sizeof(*lat))) == NULL)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < nconn; i++) {
		if ((cs[i].fd = connect_blocking(&ss, len)) == -1)
			die("connect %s:%s: %s", argv[0], argv[1],
			    strerror(errno));
		set_nodelay(cs[i].fd);
		set_nonblock(cs[i].fd);
		ev.events = EPOLLIN;
		ev.data.ptr = &cs[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
	t0 = now_s();
	t_warm = t0 + secs / 10;
	t_stop = t0 + secs;
	for (i = 0; i < nconn; i++)
		rconn_send(&cs[i]);
	while (!stop_flag) {
		n = epoll_wait(ep, evs, 256, 1000);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		if (n == 0)
			die("no reply for 1 s");
		now = now_ns();
		for (k = 0; k < n; k++) {
			struct rconn *c = evs[k].data.ptr;

			r = read(c->fd, in, LAT_MSG - c->off);
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r == -1)
				die("read: %s", strerror(errno));
			if (r == 0)
				proto_error("connection closed after %llu "
				    "requests", (unsigned long long)c->n);
			if (memcmp(in, c->msg + c->off, (size_t)r) != 0)
				proto_error("wrong bytes in reply %llu",
				    (unsigned long long)c->n);
			c->off += (size_t)r;
			if (c->off < LAT_MSG)
				continue;
			d = now - c->t;
			c->n++;
			total++;
			if ((double)c->t / 1e9 >= t_warm &&
			    ns < RR_MAX_SAMPLES)
				lat[ns++] = d > UINT32_MAX ? UINT32_MAX :
				    (uint32_t)d;
		}
		if (now_s() >= t_stop)
			break;
		for (k = 0; k < n; k++) {
			struct rconn *c = evs[k].data.ptr;

			if (c->off == LAT_MSG)
				rconn_send(c);
		}
	}
	dt = now_s() - t0;
	for (i = 0; i < nconn; i++)
		close(cs[i].fd);
	if (ns == 0)
		die("no round trip measured");
	qsort(lat, ns, sizeof(*lat), cmp_u32);
	p50 = ns / 2;
	p99 = ns * 99 / 100;
	if (p99 >= ns)
		p99 = ns - 1;
	printf("RESULT mode=rr conns=%ld seconds=%.3f requests=%llu "
	    "measured=%zu rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
	    nconn, dt, (unsigned long long)total, ns, (double)total / dt,
	    lat[p50] / 1e3, lat[p99] / 1e3, lat[ns - 1] / 1e3);
	free(cs);
	free(lat);
	return 0;
}

/* -------------------------------------------------------------- slowread */

/*
 * slowread: one connection from a "source" backend, read KIB_PER_S KiB/s
 * in 4 KiB reads for SECONDS, checking every byte.  The backend sends as
 * fast as it can, so whatever sits between them fills up: a relay that
 * bounds its buffer stops reading from the backend, one that does not
 * grows.
 */
static int
cmd_slowread(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	unsigned char		 buf[4096];
	socklen_t		 len;
	double			 secs, t0, next, step;
	uint64_t		 rcvd = 0;
	long			 kps;
	ssize_t			 n;
	int			 fd;

	if (argc != 4)
		die("usage: loadgen slowread HOST PORT SECONDS KIB_PER_S");
	len = resolve(argv[0], argv[1], &ss);
	secs = parse_secs(argv[2], 0.05, 600);
	kps = parse_long(argv[3], 4, 1000000, "KIB_PER_S");
	if ((fd = connect_blocking(&ss, len)) == -1)
		die("connect %s:%s: %s", argv[0], argv[1], strerror(errno));
	step = 4.0 / (double)kps;
	t0 = next = now_s();
	while (!stop_flag && now_s() < t0 + secs) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read: %s", strerror(errno));
		if (n == 0)
			proto_error("source closed after %llu bytes",
			    (unsigned long long)rcvd);
		if (memcmp(buf, pat + rcvd % PERIOD, (size_t)n) != 0)
			proto_error("wrong bytes at stream offset %llu",
			    (unsigned long long)rcvd);
		rcvd += (uint64_t)n;
		next += step * (double)n / sizeof(buf);
		if (next > now_s())
			usleep((useconds_t)((next - now_s()) * 1e6));
	}
	close(fd);
	printf("RESULT mode=slowread seconds=%.3f bytes=%llu\n",
	    now_s() - t0, (unsigned long long)rcvd);
	return 0;
}

/* ------------------------------------------------------------------ main */

static void
usage(void)
{
	fputs("usage: loadgen server echo|sink|source|close PORT "
	    "[MAXSECONDS]\n"
	    "       loadgen throughput HOST PORT CONNS SECONDS\n"
	    "       loadgen latency HOST PORT COUNT\n"
	    "       loadgen connrate HOST PORT SECONDS CONCURRENCY "
	    "[server|client]\n"
	    "       loadgen hold HOST PORT N SECONDS\n"
	    "       loadgen bulk up|down HOST PORT CONNS SECONDS\n"
	    "       loadgen rr HOST PORT CONNS SECONDS\n"
	    "       loadgen slowread HOST PORT SECONDS KIB_PER_S\n"
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
	if (strcmp(argv[1], "bulk") == 0)
		return cmd_bulk(argc - 2, argv + 2);
	if (strcmp(argv[1], "rr") == 0)
		return cmd_rr(argc - 2, argv + 2);
	if (strcmp(argv[1], "slowread") == 0)
		return cmd_slowread(argc - 2, argv + 2);
	usage();
	return 1;
}
