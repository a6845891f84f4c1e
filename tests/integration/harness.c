/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Upper bounds on loop counts; the deadlines are what normally ends them. */
#define H_LOOP_MAX	20000000u
#define H_MAX_OBJ	32
#define H_CHUNK		65536
#define H_ECHO_BUF	32768		/* per echo connection */
#define H_BACKEND_LIFE_MS 300000	/* a backend thread gives up after this */

/*
 * What the running test still owns.  Only the main thread touches these;
 * h_teardown() empties them.
 */
static void		*h_relays[H_MAX_OBJ];	/* struct h_relay * */
static void		*h_backends[H_MAX_OBJ];	/* struct h_backend * */
static void		*h_dirs[H_MAX_OBJ];	/* char *, malloc'd */
static pid_t		 h_spawned[H_MAX_OBJ];	/* h_spawn_track(), 0: free */
static char		 h_env_over[1024];	/* "NAME=value" or "" */
static rlim_t		 h_nofile;		/* child RLIMIT_NOFILE, 0: ours */
static int		 h_v6 = -1;		/* h_ipv6_ok(), -1: not yet known */
static bool		 h_v6_skipped;

/* --- small things ----------------------------------------------------------- */

int64_t
h_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
h_left(int64_t deadline)
{
	int64_t	 d = deadline - h_now_ms();

	if (d <= 0)
		return 0;
	return d > INT_MAX ? INT_MAX : (int)d;
}

void
h_fault(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "harness fault: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(H_EXIT_HARD);
}

static const char *
h_bin(void)
{
	const char	*p = getenv("RELAY46");

	if (p == NULL || *p == '\0')
		h_fault("RELAY46 is not set (the path of the built relay46)");
	return p;
}

void
h_init(void)
{
	struct rlimit	 rl;
	const char	*bin = h_bin();

	if (access(bin, X_OK) == -1)
		h_fault("RELAY46=%s: %s", bin, strerror(errno));
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		h_fault("getrlimit: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		h_fault("setrlimit: %s", strerror(errno));
	/* A peer's reset must show up as EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * relay46 honours RELAY46_HOSTS and RELAY46_RESOLV_CONF only beside
	 * this (relay46(8), ENVIRONMENT); every relay we start inherits it.
	 */
	if (setenv("RELAY46_TEST_SEAMS", "1", 1) == -1)
		h_fault("setenv: %s", strerror(errno));
}

int
h_exit_code(int failed)
{
	if (failed != 0)
		return 1;
	return h_v6_skipped ? H_EXIT_SKIP : 0;
}

const char *
h_end_str(int end)
{
	if (end == H_OK)
		return "ok";
	if (end == H_EOF)
		return "EOF";
	return strerror(end);
}

void
h_assert_contains(const char *hay, const char *needle, const char *what,
    const char *file, int line)
{
	if (hay != NULL && strstr(hay, needle) != NULL)
		return;
	print_error("expected \"%s\" in %s, which is:\n-----\n%s-----\n",
	    needle, what, hay == NULL ? "(null)\n" : hay);
	_fail(file, line);
}

void
h_expect_log(struct h_relay *r, const char *needle, const char *file,
    int line)
{
	if (h_relay_log_wait(r, needle, H_IO_MS))
		return;
	h_relay_dump(r);
	print_error("expected \"%s\" in relay46's log within %d ms\n", needle,
	    H_IO_MS);
	_fail(file, line);
}

void
h_assert_end(int got, int a, int b, const char *file, int line)
{
	if (got == a || got == b)
		return;
	print_error("connection ended with %s (%d), expected %s or %s\n",
	    h_end_str(got), got, h_end_str(a), h_end_str(b));
	_fail(file, line);
}

/* --- registry ------------------------------------------------------------- */

static void
h_reg_add(void *slots[], void *p)
{
	size_t	 i;

	for (i = 0; i < H_MAX_OBJ; i++)
		if (slots[i] == NULL) {
			slots[i] = p;
			return;
		}
	h_fault("more than %d live harness objects", H_MAX_OBJ);
}

static void
h_reg_del(void *slots[], const void *p)
{
	size_t	 i;

	for (i = 0; i < H_MAX_OBJ; i++)
		if (slots[i] == p)
			slots[i] = NULL;
}

static void
h_rmdir(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[H_PATH + 256];
	unsigned	 n = 0;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL && n++ < 10000) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
h_teardown(void **state)
{
	size_t	 i;

	(void)state;
	h_env_over[0] = '\0';
	h_nofile = 0;
	for (i = 0; i < H_MAX_OBJ; i++) {
		if (h_relays[i] != NULL) {
			struct h_relay	*r = h_relays[i];

			h_relay_dump(r);
			h_relay_free(r);
		}
		if (h_backends[i] != NULL)
			h_backend_free(h_backends[i]);
		if (h_dirs[i] != NULL) {
			h_rmdir(h_dirs[i]);
			free(h_dirs[i]);
			h_dirs[i] = NULL;
		}
		/* A test that failed before stopping its relay46. */
		if (h_spawned[i] != 0)
			(void)h_spawn_stop(h_spawned[i], SIGKILL);
	}
	return 0;
}

static char *
h_mkdtemp(void)
{
	const char	*tmp = getenv("TMPDIR");
	char		*d;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (asprintf(&d, "%s/relay46-test.XXXXXX", tmp) == -1)
		h_fault("out of memory");
	if (mkdtemp(d) == NULL)
		h_fault("mkdtemp %s: %s", d, strerror(errno));
	return d;
}

const char *
h_tmpdir(void)
{
	char	*d = h_mkdtemp();

	h_reg_add(h_dirs, d);
	return d;
}

void
h_write_file(char *path, size_t pathlen, const char *dir, const char *name,
    const char *text)
{
	FILE	*f;

	snprintf(path, pathlen, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("fopen %s: %s", path, strerror(errno));
	if (fputs(text, f) == EOF || fclose(f) == EOF)
		fail_msg("write %s: %s", path, strerror(errno));
}

void
h_replace_file(const char *path, const char *text)
{
	char	 tmp[H_PATH + 16];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((f = fopen(tmp, "w")) == NULL)
		fail_msg("fopen %s: %s", tmp, strerror(errno));
	if (fputs(text, f) == EOF || fclose(f) == EOF)
		fail_msg("write %s: %s", tmp, strerror(errno));
	if (rename(tmp, path) == -1)
		fail_msg("rename %s: %s", tmp, strerror(errno));
}

char *
h_read_file(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096 + 1) {
			char	*nb;

			cap = cap == 0 ? 8192 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* --- payload ------------------------------------------------------------- */

/* splitmix64's finaliser: a good 64-bit mix of a counter. */
static uint64_t
h_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
h_word(uint64_t seed, uint64_t k)
{
	return h_mix(k ^ (seed * 0xd1342543de82ef95ULL));
}

void
h_pattern(uint64_t seed, uint64_t off, void *buf, size_t len)
{
	uint8_t		*b = buf;
	size_t		 i = 0;

	while (i < len) {
		uint64_t	 p = off + i;
		uint64_t	 w = h_word(seed, p >> 3);
		unsigned	 sh;

		for (sh = (unsigned)(p & 7); sh < 8 && i < len; sh++)
			b[i++] = (uint8_t)(w >> (8 * sh));
	}
}

int64_t
h_pattern_check(uint64_t seed, uint64_t off, const void *buf, size_t len)
{
	const uint8_t	*b = buf;
	size_t		 i = 0;

	while (i < len) {
		uint64_t	 p = off + i;
		uint64_t	 w = h_word(seed, p >> 3);
		unsigned	 sh;

		for (sh = (unsigned)(p & 7); sh < 8 && i < len; sh++, i++)
			if (b[i] != (uint8_t)(w >> (8 * sh)))
				return (int64_t)i;
	}
	return -1;
}

/* --- sockets ------------------------------------------------------------- */

socklen_t
h_loopback(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_loopback;
		return sizeof(*s6);
	} else {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*s4);
	}
}

const char *
h_hostport(int family, int port)
{
	static char	 bufs[8][64];
	static unsigned	 next;
	char		*b = bufs[next++ % 8];

	if (family == AF_INET6)
		snprintf(b, sizeof(bufs[0]), "[::1]:%d", port);
	else
		snprintf(b, sizeof(bufs[0]), "127.0.0.1:%d", port);
	return b;
}

static int
h_sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * A socket bound to a fresh loopback port, listening or not.  Returns the
 * fd or -1 with errno set; never fails the test (backend threads use the
 * sockets, but only the main thread creates them).
 */
static int
h_bound_socket_sa(struct sockaddr_storage *ss, socklen_t len, int backlog,
    bool reuse, int *port)
{
	int			 family = ss->ss_family, fd, on = 1, saved;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	/* A port given again: its old connections may sit in TIME_WAIT. */
	if (reuse &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)ss, len) == -1)
		goto fail;
	if (backlog >= 0 && listen(fd, backlog) == -1)
		goto fail;
	len = sizeof(*ss);
	if (getsockname(fd, (struct sockaddr *)ss, &len) == -1)
		goto fail;
	*port = h_sa_port(ss);
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * A listening socket has SO_REUSEADDR, which its connections inherit: a
 * backend stopped while a connection is open (a health check's, say)
 * leaves it in FIN_WAIT or TIME_WAIT, and without the flag that socket
 * keeps h_hold_port() and a backend restarted there from the port.
 */
static int
h_bound_socket(int family, bool listening, int *port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = h_loopback(family, 0, &ss);

	return h_bound_socket_sa(&ss, len, listening ? 4096 : -1, listening,
	    port);
}

int
h_listen_socket(int family, int *port)
{
	int	 fd = h_bound_socket(family, true, port);

	if (fd == -1)
		fail_msg("listening socket: %s", strerror(errno));
	return fd;
}

int
h_refused_port(int family, int *port)
{
	int	 fd = h_bound_socket(family, false, port);

	if (fd == -1)
		fail_msg("refused port: %s", strerror(errno));
	return fd;
}

/*
 * A socket bound to ${ip} port *${port} (0: a new port, written back)
 * with SO_REUSEADDR, not listening; -1 with errno if it cannot be bound.
 */
static int
h_hold_try(const char *ip, int *port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = h_sockaddr(ip, *port, &ss);

	return h_bound_socket_sa(&ss, len, -1, true, port);
}

int
h_hold_port(const char *ip, int *port)
{
	int	 fd = h_hold_try(ip, port);

	if (fd == -1)
		fail_msg("hold %s port %d: %s", ip, *port, strerror(errno));
	return fd;
}

int
h_dual_port(const char *ip4, const char *ip6, int *fd4, int *fd6)
{
	unsigned	 try;
	int		 port;

	/*
	 * The kernel's new IPv4 port may be in use on ${ip6} (or by a
	 * socket on [::]); then another.  Each try is a new port, so a few
	 * do.
	 */
	for (try = 0; try < 20; try++) {
		port = 0;
		*fd4 = h_hold_port(ip4, &port);
		if ((*fd6 = h_hold_try(ip6, &port)) != -1)
			return port;
		if (errno != EADDRINUSE)
			fail_msg("hold %s port %d: %s", ip6, port,
			    strerror(errno));
		close(*fd4);
	}
	fail_msg("no port was free on both %s and %s in %u tries", ip4, ip6,
	    try);
	return -1;
}

socklen_t
h_sockaddr(const char *ip, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return sizeof(*s6);
	}
	h_fault("not an IP address: \"%s\"", ip);
}

int
h_listen_at(const char *ip, int *port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = h_sockaddr(ip, *port, &ss);
	int			 fd;

	/*
	 * SO_REUSEADDR on a new port too: the connections it leaves behind
	 * (TIME_WAIT, closing) inherit it, and only then does a later
	 * SO_REUSEADDR bind of the port (h_hold_port, a backend back on its
	 * port) not collide with them.
	 */
	fd = h_bound_socket_sa(&ss, len, 4096, true, port);
	if (fd == -1)
		fail_msg("listen on %s: %s", ip, strerror(errno));
	return fd;
}

int
h_blackhole(int family, int *port, int *filler)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = h_loopback(family, *port, &ss);
	int			 fd, c, i;

	fd = h_bound_socket_sa(&ss, len, 0, *port != 0, port);
	if (fd == -1)
		fail_msg("blackhole listener: %s", strerror(errno));
	*filler = -1;
	/* Connect until one does not complete: the queue is then full. */
	for (i = 0; i < 8; i++) {
		if ((c = h_connect_port(family, *port, 300)) == -1)
			return fd;
		if (*filler != -1)
			close(*filler);
		*filler = c;
	}
	h_fault("blackhole: the accept queue never filled");
}

static int	h_connect_via(const struct sockaddr *, socklen_t,
		    const struct sockaddr *, socklen_t, int);

int
h_connect_from(const char *src, const struct sockaddr *sa, socklen_t len,
    int timeout_ms)
{
	struct sockaddr_storage	 from;
	socklen_t		 flen = h_sockaddr(src, 0, &from);

	if (from.ss_family != sa->sa_family) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	return h_connect_via((struct sockaddr *)&from, flen, sa, len,
	    timeout_ms);
}

int
h_accept(int lfd, int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;
	int		 fd;

	for (i = 0; i < 100000u; i++) {
		struct pollfd	 p = { lfd, POLLIN, 0 };

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1)
			return fd;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			return -1;
		if (h_left(deadline) == 0)
			break;
		if (poll(&p, 1, h_left(deadline)) == -1 && errno != EINTR)
			return -1;
	}
	errno = ETIMEDOUT;
	return -1;
}

int
h_sock_port(int fd, bool peer)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 rc;

	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
	    getsockname(fd, (struct sockaddr *)&ss, &len);
	return rc == -1 ? -1 : h_sa_port(&ss);
}

/*
 * Connect to ${sa} from ${from} (bound first; NULL: any) within
 * ${timeout_ms}.  The fd (non-blocking), or -1 with errno.
 */
static int
h_connect_via(const struct sockaddr *from, socklen_t flen,
    const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	struct pollfd	 p;
	int		 fd, err, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (from != NULL && bind(fd, from, flen) == -1)
		goto fail;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	p.fd = fd;
	p.events = POLLOUT;
	p.revents = 0;
	switch (poll(&p, 1, timeout_ms)) {
	case -1:
		goto fail;
	case 0:
		errno = ETIMEDOUT;
		goto fail;
	}
	if ((err = h_connect_result(fd)) != 0) {
		errno = err;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
h_connect_sa(const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	return h_connect_via(NULL, 0, sa, len, timeout_ms);
}

int
h_connect_start(const struct sockaddr *sa, socklen_t len)
{
	int	 fd, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, sa, len) == 0 || errno == EINPROGRESS)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
h_connect_result(int fd)
{
	int		 err = 0;
	socklen_t	 elen = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
		return errno;
	return err;
}

int
h_connect_port(int family, int port, int timeout_ms)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = h_loopback(family, port, &ss);

	return h_connect_sa((struct sockaddr *)&ss, len, timeout_ms);
}

void
h_wait_refused(int family, int port, int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;
	int		 fd;

	for (i = 0; i < 100000u; i++) {
		fd = h_connect_port(family, port, h_left(deadline));
		if (fd == -1 && errno == ECONNREFUSED)
			return;
		/*
		 * A reset: the handshake landed in the backlog of a listener
		 * that closed just then.  The next probe tells.
		 */
		if (fd == -1 && errno != ECONNRESET)
			fail_msg("probe connect: %s", strerror(errno));
		if (fd != -1)
			close(fd);	/* accepted before the listener closed */
		if (h_left(deadline) == 0)
			break;
		poll(NULL, 0, 10);
	}
	fail_msg("%s still accepts after %d ms", h_hostport(family, port),
	    timeout_ms);
}

bool
h_ipv6_ok(void)
{
	int	 lfd, cfd, afd = -1, port;

	if (h_v6 != -1)
		return h_v6 == 1;
	h_v6 = 0;
	if ((lfd = h_bound_socket(AF_INET6, true, &port)) == -1)
		return false;
	if ((cfd = h_connect_port(AF_INET6, port, 2000)) != -1) {
		struct pollfd	 p = { lfd, POLLIN, 0 };

		if (poll(&p, 1, 2000) == 1)
			afd = accept(lfd, NULL, NULL);
		close(cfd);
	}
	if (afd != -1) {
		close(afd);
		h_v6 = 1;
	}
	close(lfd);
	return h_v6 == 1;
}

void
h_require_ipv6(void)
{
	if (h_ipv6_ok())
		return;
	h_v6_skipped = true;
	print_message("[::1] is not usable here: skipping this IPv6 case\n");
	skip();
}

void
h_linger_reset(int fd)
{
	struct linger	 l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

void
h_tcp_info(int fd, struct tcp_info *ti)
{
	socklen_t	 len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len), 0);
}

bool
h_wait_tcp_state(int fd, int state, int timeout_ms)
{
	struct tcp_info	 ti;
	int64_t		 deadline = h_now_ms() + timeout_ms;
	int		 i;

	for (i = 0; i <= timeout_ms; i++) {
		h_tcp_info(fd, &ti);
		if (ti.tcpi_state == state)
			return true;
		if (h_left(deadline) == 0)
			break;
		(void)poll(NULL, 0, 1);
	}
	return false;
}

void
h_stop_process(pid_t pid)
{
	siginfo_t	 si;
	int		 i;

	assert_int_equal(kill(pid, SIGSTOP), 0);
	for (i = 0; i < 2000; i++) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WSTOPPED | WNOHANG) == 0 &&
		    si.si_pid == pid)
			return;
		(void)poll(NULL, 0, 5);
	}
	fail_msg("process %d did not stop", (int)pid);
}

uint64_t
h_fill(int fd, uint64_t seed, int timeout_ms)
{
	uint8_t		*buf;
	uint64_t	 sent = 0;
	int64_t		 deadline = h_now_ms() + timeout_ms, last = h_now_ms();
	unsigned	 i;
	ssize_t		 n;

	if ((buf = malloc(H_CHUNK)) == NULL)
		h_fault("out of memory");
	for (i = 0; i < H_LOOP_MAX; i++) {
		struct pollfd	 p = { fd, POLLOUT, 0 };

		if (h_now_ms() - last >= H_STALL_MS)
			break;
		if (h_left(deadline) == 0) {
			free(buf);
			fail_msg("sending never stalled: %llu bytes in %d ms",
			    (unsigned long long)sent, timeout_ms);
		}
		if (poll(&p, 1, 50) <= 0)
			continue;
		h_pattern(seed, sent, buf, H_CHUNK);
		n = send(fd, buf, H_CHUNK, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (uint64_t)n;
			last = h_now_ms();
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			free(buf);
			fail_msg("send after %llu bytes: %s",
			    (unsigned long long)sent, strerror(errno));
		}
	}
	free(buf);
	return sent;
}

int
h_wait_error(int fd, int timeout_ms)
{
	struct pollfd	 p = { fd, 0, 0 };
	int		 err;

	/* With no events asked for, poll() still reports POLLERR and POLLHUP. */
	if (poll(&p, 1, timeout_ms) <= 0)
		return ETIMEDOUT;
	if ((err = h_connect_result(fd)) != 0)
		return err;
	return H_EOF;
}

long
h_cpu_ms(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: 14 and 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

int
h_fd_count(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0, i;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	for (i = 0; i < 100000 && (e = readdir(d)) != NULL; i++)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
h_pipe_fd_count(pid_t pid)
{
	char		 path[300], link[64];
	DIR		*d;
	struct dirent	*e;
	ssize_t		 n;
	int		 count = 0, i;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	for (i = 0; i < 100000 && (e = readdir(d)) != NULL; i++) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid,
		    e->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) == -1)
			continue;
		link[n] = '\0';
		if (strncmp(link, "pipe:", 5) == 0)
			count++;
	}
	closedir(d);
	return count;
}

static int
h_poll1(int fd, short events, int64_t deadline)
{
	struct pollfd	 p = { fd, events, 0 };
	int		 n;

	n = poll(&p, 1, h_left(deadline));
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	return n;
}

int
h_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t	*b = buf;
	size_t		 off = 0;
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;
	ssize_t		 n;

	for (i = 0; i < H_LOOP_MAX && off < len; i++) {
		n = send(fd, b + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return errno;
		if (h_left(deadline) == 0)
			return ETIMEDOUT;
		if (h_poll1(fd, POLLOUT, deadline) == -1)
			return errno;
	}
	return off == len ? H_OK : ETIMEDOUT;
}

/*
 * Receive into ${buf} until ${n} bytes came (${n} > 0), or, with ${n} 0,
 * into a scratch buffer until the end of the stream.  ${total} gets the
 * byte count.  H_OK, H_EOF, errno, or ETIMEDOUT at ${deadline}.
 */
static int
h_recv_loop(int fd, uint8_t *buf, size_t n, int64_t deadline,
    uint64_t *total)
{
	uint8_t		 scratch[16384];
	uint64_t	 off = 0;
	unsigned	 i;
	ssize_t		 r;
	int		 end = ETIMEDOUT;

	for (i = 0; i < H_LOOP_MAX; i++) {
		if (n > 0 && off == n) {
			end = H_OK;
			break;
		}
		r = n > 0 ? recv(fd, buf + off, n - (size_t)off, 0) :
		    recv(fd, scratch, sizeof(scratch), 0);
		if (r > 0) {
			off += (uint64_t)r;
			continue;
		}
		if (r == 0) {
			end = H_EOF;
			break;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			end = errno;
			break;
		}
		if (h_left(deadline) == 0)
			break;
		if (h_poll1(fd, POLLIN, deadline) == -1) {
			end = errno;
			break;
		}
	}
	*total = off;
	return end;
}

int
h_recv_n(int fd, void *buf, size_t n, int timeout_ms, size_t *got)
{
	uint64_t	 total = 0;
	int		 end = H_OK;

	if (n > 0)
		end = h_recv_loop(fd, buf, n, h_now_ms() + timeout_ms, &total);
	if (got != NULL)
		*got = (size_t)total;
	return end;
}

int
h_wait_end(int fd, int timeout_ms, uint64_t *extra)
{
	uint64_t	 total = 0;
	int		 end;

	end = h_recv_loop(fd, NULL, 0, h_now_ms() + timeout_ms, &total);
	if (extra != NULL)
		*extra = total;
	return end;
}

int
h_echo(int fd, uint64_t seed, size_t len, int timeout_ms)
{
	uint8_t		*out, *in;
	size_t		 tx = 0, rx = 0;
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;
	ssize_t		 n;
	int		 end = ETIMEDOUT;

	if ((out = malloc(len + 1)) == NULL || (in = malloc(len + 1)) == NULL)
		h_fault("out of memory");
	h_pattern(seed, 0, out, len);
	for (i = 0; i < H_LOOP_MAX; i++) {
		struct pollfd	 p = { fd, POLLIN, 0 };

		if (rx == len) {
			end = memcmp(in, out, len) == 0 ? H_OK : EPROTO;
			break;
		}
		if (tx < len)
			p.events |= POLLOUT;
		if (poll(&p, 1, h_left(deadline)) == 0)
			break;
		if (tx < len) {
			n = send(fd, out + tx, len - tx, MSG_NOSIGNAL);
			if (n > 0)
				tx += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != EINTR) {
				end = errno;
				break;
			}
		}
		n = recv(fd, in + rx, len - rx, 0);
		if (n > 0)
			rx += (size_t)n;
		else if (n == 0) {
			end = H_EOF;
			break;
		} else if (errno != EAGAIN && errno != EINTR) {
			end = errno;
			break;
		}
	}
	free(out);
	free(in);
	return end;
}

/* --- checked transfers ------------------------------------------------- */

short
h_xfer_events(const struct h_xfer *x)
{
	short	 ev = 0;

	if (x->done)
		return 0;
	if (!x->eof)
		ev |= POLLIN;
	if (!x->shut && (!x->out_after_eof || x->eof))
		ev |= POLLOUT;
	return ev;
}

static void
h_xfer_fail(struct h_xfer *x, int end)
{
	x->done = true;
	x->end = end;
}

static void
h_xfer_read(int fd, struct h_xfer *x, uint8_t *scratch, size_t scratchlen)
{
	unsigned	 k;
	ssize_t		 n;
	int64_t		 bad;

	for (k = 0; k < 8 && !x->eof && !x->done; k++) {
		n = recv(fd, scratch, scratchlen, 0);
		if (n > 0) {
			if (x->rx + (uint64_t)n > x->in_len) {
				x->bad_at = x->in_len;
				h_xfer_fail(x, EPROTO);	/* more than expected */
				return;
			}
			bad = h_pattern_check(x->in_seed, x->rx, scratch, (size_t)n);
			if (bad != -1) {
				x->bad_at = x->rx + (uint64_t)bad;
				h_xfer_fail(x, EPROTO);
				return;
			}
			x->rx += (uint64_t)n;
		} else if (n == 0) {
			x->eof = true;
			if (x->rx != x->in_len) {
				x->bad_at = x->rx;
				h_xfer_fail(x, EPROTO);	/* short */
			}
		} else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		else if (errno != EINTR) {
			h_xfer_fail(x, errno);
			return;
		}
	}
}

static void
h_xfer_write(int fd, struct h_xfer *x, uint8_t *scratch, size_t scratchlen)
{
	unsigned	 k;
	ssize_t		 n;
	size_t		 chunk;

	for (k = 0; k < 8 && x->tx < x->out_len; k++) {
		chunk = x->out_len - x->tx < scratchlen ?
		    (size_t)(x->out_len - x->tx) : scratchlen;
		h_pattern(x->out_seed, x->tx, scratch, chunk);
		n = send(fd, scratch, chunk, MSG_NOSIGNAL);
		if (n > 0)
			x->tx += (uint64_t)n;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		else if (errno != EINTR) {
			h_xfer_fail(x, errno);
			return;
		}
	}
	if (x->tx == x->out_len) {
		if (shutdown(fd, SHUT_WR) == -1) {
			h_xfer_fail(x, errno);
			return;
		}
		x->shut = true;
	}
}

void
h_xfer_step(int fd, struct h_xfer *x, short revents, uint8_t *scratch,
    size_t scratchlen)
{
	if (x->done)
		return;
	if (!x->eof && (revents & (POLLIN | POLLHUP | POLLERR)) != 0)
		h_xfer_read(fd, x, scratch, scratchlen);
	/* Try to write whenever allowed: a just-seen EOF may have allowed it. */
	if (!x->done && !x->shut && (!x->out_after_eof || x->eof))
		h_xfer_write(fd, x, scratch, scratchlen);
	if (!x->done && x->eof && x->shut) {
		x->done = true;
		x->end = H_OK;
	}
}

int
h_xfer_run(int fd, struct h_xfer *x, int timeout_ms)
{
	uint8_t		*scratch;
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;

	if ((scratch = malloc(H_CHUNK)) == NULL)
		h_fault("out of memory");
	for (i = 0; i < H_LOOP_MAX && !x->done; i++) {
		struct pollfd	 p = { fd, h_xfer_events(x), 0 };
		int		 n;

		n = poll(&p, 1, h_left(deadline));
		if (n == -1 && errno != EINTR) {
			h_xfer_fail(x, errno);
			break;
		}
		if (n == 0 && h_left(deadline) == 0) {
			h_xfer_fail(x, ETIMEDOUT);
			break;
		}
		h_xfer_step(fd, x, p.revents, scratch, H_CHUNK);
	}
	if (!x->done)
		h_xfer_fail(x, ETIMEDOUT);
	free(scratch);
	return x->end;
}

/* --- relay46 processes ------------------------------------------------------ */

static struct h_relay *
h_relay_new(void)
{
	struct h_relay	*r;
	char		*d;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		h_fault("out of memory");
	r->pid = -1;
	r->reaped = true;
	d = h_mkdtemp();
	if (strlen(d) >= sizeof(r->dir))
		h_fault("temporary directory name too long: %s", d);
	snprintf(r->dir, sizeof(r->dir), "%s", d);
	free(d);
	snprintf(r->conf, sizeof(r->conf), "%s/relay46.ini", r->dir);
	snprintf(r->ready, sizeof(r->ready), "%s/ready", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/relay46.log", r->dir);
	h_reg_add(h_relays, r);
	return r;
}

/*
 * Wait up to ${timeout_ms} for ${pid} to exit.  Returns 0 with its status,
 * or -1 (errno ETIMEDOUT) while it still runs.  A pidfd makes the wait a
 * single poll(); without one we look every 5 ms.
 */
static int
h_waitpid(pid_t pid, int *status, int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	int		 pfd = -1, rc = -1;
	unsigned	 i;
	pid_t		 w;

#ifdef SYS_pidfd_open
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (i = 0; i < H_LOOP_MAX; i++) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid) {
			rc = 0;
			break;
		}
		if (w == -1 && errno != EINTR)
			break;
		if (h_left(deadline) == 0) {
			errno = ETIMEDOUT;
			break;
		}
		if (pfd != -1) {
			struct pollfd	 p = { pfd, POLLIN, 0 };

			poll(&p, 1, h_left(deadline));
		} else
			poll(NULL, 0, h_left(deadline) < 5 ? h_left(deadline) : 5);
	}
	if (pfd != -1)
		close(pfd);
	return rc;
}

void
h_relay_setenv(const char *name, const char *value)
{
	if (name == NULL)
		h_env_over[0] = '\0';
	else if ((size_t)snprintf(h_env_over, sizeof(h_env_over), "%s=%s", name,
	    value) >= sizeof(h_env_over))
		h_fault("environment override too long");
}

void
h_relay_set_nofile(unsigned n)
{
	h_nofile = (rlim_t)n;
}

/*
 * The environment for a child: ours with h_env_over in place of the
 * variable of that name.  Built before fork(), since the child may only
 * make async-signal-safe calls.  The array (not the strings) is malloc'd.
 */
static char **
h_child_env(void)
{
	extern char	**environ;
	char		**env;
	size_t		 n = 0, i, j = 0, namelen;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL)
		h_fault("out of memory");
	namelen = strcspn(h_env_over, "=") + 1;
	for (i = 0; i < n; i++)
		if (h_env_over[0] == '\0' ||
		    strncmp(environ[i], h_env_over, namelen) != 0)
			env[j++] = environ[i];
	if (h_env_over[0] != '\0')
		env[j++] = h_env_over;
	env[j] = NULL;
	return env;
}

static void
h_child_exec(const char *const *argv, char **env, int in, int out, int err)
{
	struct sigaction	 sa;
	sigset_t		 none;

	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(126);
	/* The test ignores SIGPIPE; relay46 must not inherit that. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_range(3, ~0U, 0);
	if (h_nofile != 0) {
		struct rlimit	 rl = { h_nofile, h_nofile };

		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(125);
	}
	execve(argv[0], (char *const *)argv, env);
	_exit(127);
}

static void
h_relay_spawn(struct h_relay *r, const char *const *args)
{
	const char	*argv[64];
	char		**env;
	size_t		 n = 0, i;
	int		 logfd, nullfd;

	argv[n++] = h_bin();
	for (i = 0; args[i] != NULL && n < 60; i++)
		argv[n++] = args[i];
	argv[n++] = "-R";
	argv[n++] = r->ready;
	argv[n] = NULL;
	logfd = open(r->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd == -1 || nullfd == -1)
		h_fault("open %s: %s", r->log, strerror(errno));
	env = h_child_env();
	r->pid = fork();
	if (r->pid == -1)
		h_fault("fork: %s", strerror(errno));
	if (r->pid == 0)
		h_child_exec(argv, env, nullfd, logfd, logfd);
	free(env);
	r->reaped = false;
	close(logfd);
	close(nullfd);
}

/* Parse "ROUTE 127.0.0.1:P" or "ROUTE [::1]:P" into a->ss. */
static bool
h_parse_addr(struct h_addr *a)
{
	char		 host[96];
	const char	*t = a->text, *colon;
	long		 port;
	char		*end;

	memset(&a->ss, 0, sizeof(a->ss));
	if (*t == '[') {
		const char	*rb = strchr(t, ']');
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		if (rb == NULL || rb[1] != ':' || (size_t)(rb - t - 1) >= sizeof(host))
			return false;
		memcpy(host, t + 1, (size_t)(rb - t - 1));
		host[rb - t - 1] = '\0';
		host[strcspn(host, "%")] = '\0';
		colon = rb + 1;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return false;
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		if ((colon = strrchr(t, ':')) == NULL ||
		    (size_t)(colon - t) >= sizeof(host))
			return false;
		memcpy(host, t, (size_t)(colon - t));
		host[colon - t] = '\0';
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return false;
		a->len = sizeof(*s4);
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return false;
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	return true;
}

static bool
h_relay_parse_ready(struct h_relay *r, char *text)
{
	char		*line, *save = NULL;
	struct h_addr	*a;

	r->naddr = 0;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (r->naddr == H_MAX_ADDRS)
			return false;
		a = &r->addr[r->naddr];
		if (sscanf(line, "%79s %95s", a->route, a->text) != 2 ||
		    !h_parse_addr(a)) {
			print_error("bad ready-file line: \"%s\"\n", line);
			return false;
		}
		r->naddr++;
	}
	return r->naddr > 0;
}

/*
 * Whether ${pid} (our child) has exited, without reaping it: its caller
 * reaps it and reads the status.
 */
static bool
h_exited(pid_t pid)
{
	siginfo_t	 si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		return errno == ECHILD;
	return si.si_pid == pid;
}

int
h_ready_wait(const char *ready, pid_t pid, int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	char		 dir[H_PATH], ev[4096];
	struct pollfd	 p[2];
	const char	*slash;
	unsigned	 i;
	int		 ifd, pfd = -1, n = 0, wait, rc = ETIMEDOUT;

	/*
	 * relay46 renames the file into place: an inotify watch on its
	 * directory wakes us the moment that happens, and a pidfd the moment
	 * relay46 exits instead.  Without either, look every 5 ms.
	 */
	slash = strrchr(ready, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - ready), ready);
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd != -1 &&
	    inotify_add_watch(ifd, dir,
		IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) == -1) {
		close(ifd);
		ifd = -1;
	}
	memset(p, 0, sizeof(p));
	if (ifd != -1) {
		p[n].fd = ifd;
		p[n++].events = POLLIN;
	}
#ifdef SYS_pidfd_open
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	if (pfd != -1) {
		p[n].fd = pfd;
		p[n++].events = POLLIN;
	}
	/* The watch is in place before the first look: nothing is missed. */
	for (i = 0; i < H_LOOP_MAX; i++) {
		if (access(ready, F_OK) == 0) {
			rc = H_OK;
			break;
		}
		if (h_exited(pid)) {
			rc = ECHILD;
			break;
		}
		if ((wait = h_left(deadline)) == 0)
			break;
		if ((ifd == -1 || pfd == -1) && wait > 5)
			wait = 5;
		if (poll(p, (nfds_t)n, wait) > 0 && ifd != -1)
			while (read(ifd, ev, sizeof(ev)) > 0)
				;
	}
	if (ifd != -1)
		close(ifd);
	if (pfd != -1)
		close(pfd);
	return rc;
}

static void
h_relay_wait_ready(struct h_relay *r)
{
	char		*text;
	bool		 ok;
	int		 rc;

	rc = h_ready_wait(r->ready, r->pid, H_READY_MS);
	if (rc == ECHILD) {
		(void)h_relay_running(r);
		h_relay_dump(r);
		fail_msg("relay46 exited before it was ready (status %#x)",
		    r->status);
	}
	if (rc != H_OK) {
		h_relay_dump(r);
		fail_msg("relay46 was not ready within %d ms", H_READY_MS);
	}
	text = h_read_file(r->ready);
	ok = text != NULL && h_relay_parse_ready(r, text);
	free(text);
	if (!ok) {
		h_relay_dump(r);
		fail_msg("relay46 wrote a bad ready file %s", r->ready);
	}
}

struct h_relay *
h_relay_start(const char *fmt, ...)
{
	struct h_relay	*r = h_relay_new();
	const char	*args[] = { "-c", r->conf, NULL };
	FILE		*f;
	va_list		 ap;

	if ((f = fopen(r->conf, "w")) == NULL)
		h_fault("fopen %s: %s", r->conf, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) == EOF)
		h_fault("write %s: %s", r->conf, strerror(errno));
	h_relay_spawn(r, args);
	h_relay_wait_ready(r);
	return r;
}

struct h_relay *
h_relay_start_args(const char *const *args)
{
	struct h_relay	*r = h_relay_new();

	h_relay_spawn(r, args);
	h_relay_wait_ready(r);
	return r;
}

const struct h_addr *
h_relay_addr(const struct h_relay *r, const char *route, int family)
{
	size_t	 i;

	for (i = 0; i < r->naddr; i++)
		if (strcmp(r->addr[i].route, route) == 0 &&
		    r->addr[i].ss.ss_family == family)
			return &r->addr[i];
	fail_msg("the ready file has no %s listener for route %s",
	    family == AF_INET6 ? "IPv6" : "IPv4", route);
	return NULL;
}

int
h_relay_port(const struct h_relay *r, const char *route, int family)
{
	return h_sa_port(&h_relay_addr(r, route, family)->ss);
}

const struct h_addr *
h_relay_ready_addr(const struct h_relay *r, const char *route, size_t n)
{
	size_t	 i, seen = 0;

	for (i = 0; i < r->naddr; i++)
		if (strcmp(r->addr[i].route, route) == 0 && seen++ == n)
			return &r->addr[i];
	fail_msg("the ready file has %zu listeners for route %s, not %zu",
	    seen, route, n + 1);
	return NULL;
}

int
h_relay_ready_port(const struct h_relay *r, const char *route, size_t n)
{
	return h_sa_port(&h_relay_ready_addr(r, route, n)->ss);
}

int
h_relay_connect(const struct h_relay *r, const char *route, int family)
{
	return h_relay_connect_from(r, route, family, NULL);
}

int
h_relay_connect_from(const struct h_relay *r, const char *route, int family,
    const char *src)
{
	const struct h_addr	*a = h_relay_addr(r, route, family);
	struct sockaddr_storage	 ss = a->ss;
	int			 fd;

	/* A wildcard listener is reached through loopback. */
	if (family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr))
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (family == AF_INET &&
	    ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY))
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	if (src == NULL) {
		if ((fd = h_connect_sa((struct sockaddr *)&ss, a->len,
		    H_IO_MS)) == -1)
			fail_msg("connect to relay46 %s: %s", a->text,
			    strerror(errno));
		return fd;
	}
	fd = h_connect_from(src, (struct sockaddr *)&ss, a->len, H_IO_MS);
	if (fd == -1)
		fail_msg("connect from %s to relay46 %s: %s", src, a->text,
		    strerror(errno));
	return fd;
}

int
h_relay_try_connect(const struct h_relay *r, const char *route, int family,
    const char *src)
{
	const struct h_addr	*a = h_relay_addr(r, route, family);
	struct sockaddr_storage	 ss = a->ss;
	int			 fd;

	if (family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr))
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (family == AF_INET &&
	    ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY))
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	fd = src == NULL ? h_connect_sa((struct sockaddr *)&ss, a->len,
	    H_IO_MS) : h_connect_from(src, (struct sockaddr *)&ss, a->len,
	    H_IO_MS);
	/*
	 * ECONNRESET, not ECONNREFUSED: the handshake was done and relay46
	 * reset the connection before we read the connect's result.
	 */
	if (fd == -1 && errno != ECONNRESET)
		fail_msg("connect from %s to relay46 %s: %s", src == NULL ?
		    "loopback" : src, a->text, strerror(errno));
	return fd;
}

bool
h_relay_running(struct h_relay *r)
{
	if (!r->reaped && waitpid(r->pid, &r->status, WNOHANG) == r->pid)
		r->reaped = true;
	return !r->reaped;
}

int
h_relay_wait(struct h_relay *r, int timeout_ms)
{
	if (!r->reaped && h_waitpid(r->pid, &r->status, timeout_ms) == 0)
		r->reaped = true;
	return r->reaped ? r->status : -1;
}

int
h_relay_stop(struct h_relay *r, int sig, int timeout_ms)
{
	if (r->reaped)
		return r->status;
	kill(r->pid, sig);
	if (h_relay_wait(r, timeout_ms) != -1)
		return r->status;
	kill(r->pid, SIGKILL);
	h_relay_wait(r, 5000);
	return -1;
}

static const char *const h_sanitizer_marks[] = {
	"AddressSanitizer", "LeakSanitizer", "runtime error:",
	"ThreadSanitizer",
};

void
h_relay_finish(struct h_relay *r)
{
	int	 st = h_relay_stop(r, SIGTERM, H_STOP_MS);
	char	*log = h_relay_log(r);
	size_t	 i;

	for (i = 0; log != NULL && i < sizeof(h_sanitizer_marks) /
	    sizeof(h_sanitizer_marks[0]); i++)
		if (strstr(log, h_sanitizer_marks[i]) != NULL) {
			free(log);
			h_relay_dump(r);
			fail_msg("relay46's log holds a sanitizer report");
		}
	free(log);
	if (st == -1) {
		h_relay_dump(r);
		fail_msg("relay46 did not exit within %d ms of SIGTERM",
		    H_STOP_MS);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		h_relay_dump(r);
		fail_msg("relay46 did not exit 0 after SIGTERM (status %#x)", st);
	}
	h_relay_free(r);
}

void
h_relay_free(struct h_relay *r)
{
	if (r == NULL)
		return;
	if (!r->reaped) {
		kill(r->pid, SIGKILL);
		h_relay_wait(r, 5000);
	}
	h_rmdir(r->dir);
	h_reg_del(h_relays, r);
	free(r);
}

char *
h_relay_log(const struct h_relay *r)
{
	return h_read_file(r->log);
}

bool
h_relay_log_wait(const struct h_relay *r, const char *needle, int timeout_ms)
{
	return h_relay_log_wait_n(r, needle, 1, timeout_ms);
}

bool
h_relay_log_wait_n(const struct h_relay *r, const char *needle, unsigned n,
    int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;

	for (i = 0; i < (unsigned)timeout_ms / 10 + 100; i++) {
		if (h_relay_log_count(r, needle) >= n)
			return true;
		if (h_left(deadline) == 0)
			break;
		poll(NULL, 0, 10);
	}
	return false;
}

/* Whether one line of ${log} holds both ${a} and ${b} (NULL: any). */
static bool
h_log_has_line(const char *log, const char *a, const char *b)
{
	const char	*p = log, *nl;
	char		*line;
	size_t		 len;
	bool		 found = false;

	while (p != NULL && *p != '\0' && !found) {
		nl = strchr(p, '\n');
		len = nl == NULL ? strlen(p) : (size_t)(nl - p);
		if ((line = strndup(p, len)) == NULL)
			h_fault("out of memory");
		found = strstr(line, a) != NULL &&
		    (b == NULL || strstr(line, b) != NULL);
		free(line);
		p = nl == NULL ? NULL : nl + 1;
	}
	return found;
}

bool
h_relay_log_line(const struct h_relay *r, const char *a, const char *b,
    int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	unsigned	 i;
	char		*log;
	bool		 found;

	for (i = 0; i < (unsigned)timeout_ms / 10 + 100; i++) {
		log = h_relay_log(r);
		found = log != NULL && h_log_has_line(log, a, b);
		free(log);
		if (found)
			return true;
		if (h_left(deadline) == 0)
			break;
		poll(NULL, 0, 10);
	}
	return false;
}

void
h_expect_log_line(struct h_relay *r, const char *a, const char *b,
    const char *file, int line)
{
	if (h_relay_log_line(r, a, b, H_IO_MS))
		return;
	h_relay_dump(r);
	print_error("expected a line with \"%s\" and \"%s\" in relay46's "
		    "log within %d ms\n",
	    a, b == NULL ? "" : b, H_IO_MS);
	_fail(file, line);
}

unsigned
h_relay_log_count(const struct h_relay *r, const char *needle)
{
	char		*log = h_relay_log(r), *p;
	unsigned	 n = 0;

	for (p = log; p != NULL && (p = strstr(p, needle)) != NULL;
	     p += strlen(needle))
		n++;
	free(log);
	return n;
}

/*
 * The port of the ${n}th "listening" line of ${route} in ${log}, or -1
 * if there are not that many.  Lines go "... route=R addr=A msg=..."
 * ("listening" or "listening (socket from systemd)").  Linear in the
 * log, which a test that makes many sessions can make long.
 */
static int
h_log_listening_port(const char *log, const char *route, unsigned n)
{
	static const char	 msg[] = " msg=\"listening";
	char			 rt[96];
	const char		*m, *t, *r, *colon;
	size_t			 rl;

	rl = (size_t)snprintf(rt, sizeof(rt), "route=%s ", route);
	if (rl >= sizeof(rt))
		h_fault("route name too long: %s", route);
	for (m = log; (m = strstr(m, msg)) != NULL; m += sizeof(msg) - 1) {
		/* [t, m) is the token before, "addr=A"; [r, t) "route=R ". */
		for (t = m; t > log && t[-1] != ' ' && t[-1] != '\n'; t--)
			;
		if (strncmp(t, "addr=", 5) != 0 || (size_t)(t - log) < rl)
			continue;
		r = t - rl;
		if (memcmp(r, rt, rl) != 0)
			continue;
		if ((r > log && r[-1] != ' ' && r[-1] != '\n') || n-- > 0)
			continue;
		for (colon = m; colon > t && colon[-1] != ':'; colon--)
			;
		return colon > t ? atoi(colon) : -1;
	}
	return -1;
}

int
h_relay_listening_port(const struct h_relay *r, const char *route, unsigned n)
{
	int64_t		 deadline = h_now_ms() + H_IO_MS;
	unsigned	 i;
	char		*log;
	int		 port = -1;

	for (i = 0; i < H_IO_MS / 10 + 100; i++) {
		log = h_relay_log(r);
		port = log != NULL ? h_log_listening_port(log, route, n) : -1;
		free(log);
		if (port != -1 || h_left(deadline) == 0)
			break;
		poll(NULL, 0, 10);
	}
	if (port < 1 || port > 65535)
		fail_msg("no \"listening\" line %u for route %s in the log", n,
		    route);
	return port;
}

void
h_relay_dump(struct h_relay *r)
{
	char	*log;

	if (r->dumped)
		return;
	r->dumped = true;
	if ((log = h_read_file(r->conf)) != NULL)
		fprintf(stderr, "----- relay46 config %s -----\n%s", r->conf, log);
	free(log);
	log = h_relay_log(r);
	fprintf(stderr, "----- relay46 log %s (pid %d) -----\n%s"
	    "----- end of relay46 log -----\n", r->log, (int)r->pid,
	    log == NULL ? "(unreadable)\n" : log);
	free(log);
}

/*
 * The timer column of /proc/net/tcp for the connection from 127.0.0.1
 * port ${lport} to port ${rport}: 0 none, 1 retransmit, 2 keepalive,
 * 4 zero-window probe; -1 if there is no such line.
 */
static int
h_tcp_timer(int lport, int rport)
{
	char		 line[512], want_l[32], want_r[32], l[64], r[64];
	unsigned	 tr;
	int		 found = -1;
	FILE		*fp;

	snprintf(want_l, sizeof(want_l), "0100007F:%04X", lport);
	snprintf(want_r, sizeof(want_r), "0100007F:%04X", rport);
	if ((fp = fopen("/proc/net/tcp", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, " %*s %63s %63s %*s %*s %x:", l, r, &tr) == 3 &&
		    strcmp(l, want_l) == 0 && strcmp(r, want_r) == 0) {
			found = (int)tr;
			break;
		}
	fclose(fp);
	return found;
}

int
h_tcp_keepalive(int lport, int rport)
{
	int64_t		 deadline = h_now_ms() + H_IO_MS;
	unsigned	 i;
	int		 tr;

	for (i = 0; i < H_IO_MS / 5 + 1; i++) {
		tr = h_tcp_timer(lport, rport);
		if (tr != 1 && tr != 4)
			return tr == -1 ? -1 : tr == 2;
		if (h_left(deadline) == 0)
			break;
		(void)poll(NULL, 0, 5);
	}
	fail_msg("127.0.0.1:%d -> %d still has data unacknowledged after %d ms",
	    lport, rport, H_IO_MS);
	return -1;
}

int
h_tcp_listeners(int port)
{
	static const char *const files[] = {
		"/proc/net/tcp", "/proc/net/tcp6",
	};
	char		 line[512], l[64], st[8], *colon;
	size_t		 i;
	int		 n = 0;
	FILE		*fp;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((fp = fopen(files[i], "r")) == NULL)
			continue;	/* no IPv6 here: none of that family */
		while (fgets(line, sizeof(line), fp) != NULL)
			/* "sl local rem st": the port is after the colon. */
			if (sscanf(line, " %*s %63s %*s %7s", l, st) == 2 &&
			    (colon = strrchr(l, ':')) != NULL &&
			    strtol(colon + 1, NULL, 16) == port &&
			    strcmp(st, "0A") == 0)
				n++;
		fclose(fp);
	}
	return n;
}

void
h_spawn_track(pid_t pid)
{
	size_t	 i;

	for (i = 0; i < H_MAX_OBJ; i++)
		if (h_spawned[i] == 0) {
			h_spawned[i] = pid;
			return;
		}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	h_fault("more than %d relay46 processes of one test", H_MAX_OBJ);
}

int
h_spawn_stop(pid_t pid, int sig)
{
	size_t	 i;
	int	 st;

	for (i = 0; i < H_MAX_OBJ; i++)
		if (h_spawned[i] == pid)
			h_spawned[i] = 0;
	kill(pid, sig);
	if (h_waitpid(pid, &st, H_STOP_MS) == 0)
		return st;
	kill(pid, SIGKILL);
	(void)h_waitpid(pid, &st, 5000);
	return -1;
}

pid_t
h_spawn_ready(const char *conf, const char *ready)
{
	const char	*relay = getenv("RELAY46");
	pid_t		 pid;
	int		 devnull, rc;

	if (relay == NULL)
		h_fault("RELAY46 is not set (the path of the built relay46)");
	unlink(ready);
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		if ((devnull = open("/dev/null", O_WRONLY)) != -1) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execl(relay, relay, "-c", conf, "-R", ready, (char *)NULL);
		_exit(127);
	}
	h_spawn_track(pid);
	if ((rc = h_ready_wait(ready, pid, H_READY_MS)) != H_OK) {
		(void)h_spawn_stop(pid, SIGKILL);
		fail_msg("relay46 (-c %s) was not ready within %d ms: %s", conf,
		    H_READY_MS, rc == ECHILD ? "it exited" : h_end_str(rc));
	}
	return pid;
}

long
h_rss_kb(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Append what ${fd} has to *${buf}; false at EOF or error. */
static bool
h_slurp(int fd, char **buf, size_t *len, size_t *cap)
{
	ssize_t	 n;

	if (*cap - *len < 4096) {
		char	*nb;

		*cap = *cap * 2 + 8192;
		if ((nb = realloc(*buf, *cap)) == NULL)
			h_fault("out of memory");
		*buf = nb;
	}
	n = read(fd, *buf + *len, *cap - *len - 1);
	if (n > 0) {
		*len += (size_t)n;
		(*buf)[*len] = '\0';
		return true;
	}
	return n == -1 && (errno == EINTR || errno == EAGAIN);
}

int
h_run(const char *const *args, char **out, char **err, int timeout_ms)
{
	return h_run_bin(h_bin(), args, out, err, timeout_ms);
}

int
h_run_bin(const char *bin, const char *const *args, char **out, char **err,
    int timeout_ms)
{
	const char	*argv[64];
	char		**env;
	int		 po[2], pe[2], nullfd, st;
	size_t		 n = 0, i, len[2] = { 0, 0 }, cap[2] = { 0, 0 };
	char		*buf[2] = { NULL, NULL };
	int64_t		 deadline = h_now_ms() + timeout_ms;
	pid_t		 pid;
	struct pollfd	 p[2];

	argv[n++] = bin;
	for (i = 0; args[i] != NULL && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) == -1 || pipe2(pe, O_CLOEXEC) == -1 ||
	    (nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		h_fault("pipe: %s", strerror(errno));
	env = h_child_env();
	if ((pid = fork()) == -1)
		h_fault("fork: %s", strerror(errno));
	if (pid == 0)
		h_child_exec(argv, env, nullfd, po[1], pe[1]);
	free(env);
	close(po[1]);
	close(pe[1]);
	close(nullfd);
	p[0].fd = po[0];
	p[1].fd = pe[0];
	for (i = 0; i < 2; i++) {
		cap[i] = 8192;
		if ((buf[i] = calloc(1, cap[i])) == NULL)
			h_fault("out of memory");
		p[i].events = POLLIN;
	}
	for (i = 0; i < H_LOOP_MAX && (p[0].fd != -1 || p[1].fd != -1); i++) {
		if (poll(p, 2, h_left(deadline)) == 0 && h_left(deadline) == 0)
			break;
		for (n = 0; n < 2; n++)
			if (p[n].fd != -1 && p[n].revents != 0 &&
			    !h_slurp(p[n].fd, &buf[n], &len[n], &cap[n])) {
				close(p[n].fd);
				p[n].fd = -1;
			}
	}
	for (n = 0; n < 2; n++)
		if (p[n].fd != -1)
			close(p[n].fd);
	*out = buf[0];
	*err = buf[1];
	if (h_waitpid(pid, &st, h_left(deadline)) == -1) {
		kill(pid, SIGKILL);
		h_waitpid(pid, &st, 5000);
		return -1;
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* --- backends -------------------------------------------------------------- */

struct h_conn {
	int		 fd;
	bool		 eof;		/* read side ended */
	bool		 closed;	/* finished; fd closed or parked */
	uint64_t	 rx;
	uint64_t	 tx;
	int64_t		 last;		/* H_FLOOD: when sending last progressed */
	uint8_t		*buf;		/* H_ECHO: bytes not sent back yet */
	size_t		 len;
	struct h_xfer	 x;		/* H_STREAM */
};

struct h_backend {
	struct h_backend_cfg	 cfg;
	int			 family;
	int			 port;
	int			 lfd;
	int			 stop[2];
	pthread_t		 th;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct h_backend_stats	 st;	/* under mu */
	struct h_conn		**conns;
	size_t			 nconn;
	size_t			 cap;
	uint8_t			*scratch;
};

static void
h_backend_note(struct h_backend *b, uint64_t rx, uint64_t tx)
{
	if (rx == 0 && tx == 0)
		return;
	pthread_mutex_lock(&b->mu);
	b->st.rx += rx;
	b->st.tx += tx;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Connection ${c} ended as ${end}; an error when ${why} is not NULL. */
static void
h_conn_end(struct h_backend *b, struct h_conn *c, int end, const char *why,
    bool keep_fd)
{
	pthread_mutex_lock(&b->mu);
	if (why == NULL)
		b->st.done++;
	else {
		b->st.failed++;
		if (b->st.error[0] == '\0')
			snprintf(b->st.error, sizeof(b->st.error),
			    "backend connection: %s (%s)", why, h_end_str(end));
	}
	b->st.last_end = end;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	c->closed = true;
	if (!keep_fd) {
		close(c->fd);
		c->fd = -1;
	}
	free(c->buf);
	c->buf = NULL;
}

static short
h_conn_events(const struct h_backend *b, const struct h_conn *c)
{
	if (c->closed)
		return 0;
	switch (b->cfg.mode) {
	case H_ECHO:
		return (short)((!c->eof && c->len < H_ECHO_BUF ? POLLIN : 0) |
		    (c->len > 0 ? POLLOUT : 0));
	case H_STREAM:
		return h_xfer_events(&c->x);
	case H_RESET:
		return c->rx < b->cfg.reset_after ? POLLIN : POLLOUT;
	case H_SILENT:
		return c->eof ? 0 : POLLIN;
	case H_FLOOD:
		return c->tx < b->cfg.out_len ? POLLOUT : 0;
	case H_SINK:
		break;
	}
	return 0;
}

/* Read into ${buf}; returns bytes, 0 at EOF, -1 with errno (EAGAIN too). */
static ssize_t
h_conn_recv(struct h_conn *c, void *buf, size_t len)
{
	ssize_t	 n;

	do
		n = recv(c->fd, buf, len, 0);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		c->rx += (uint64_t)n;
	return n;
}

static void
h_conn_echo(struct h_backend *b, struct h_conn *c, short rev)
{
	ssize_t	 n;

	if (c->buf == NULL && (c->buf = malloc(H_ECHO_BUF)) == NULL) {
		h_conn_end(b, c, ENOMEM, "out of memory", false);
		return;
	}
	if (!c->eof && c->len < H_ECHO_BUF && (rev & (POLLIN | POLLHUP | POLLERR))) {
		n = h_conn_recv(c, c->buf + c->len, H_ECHO_BUF - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			h_backend_note(b, (uint64_t)n, 0);
		} else if (n == 0)
			c->eof = true;
		else if (errno != EAGAIN) {
			h_conn_end(b, c, errno, "recv", false);
			return;
		}
	}
	if (c->len > 0) {
		n = send(c->fd, c->buf, c->len, MSG_NOSIGNAL);
		if (n > 0) {
			memmove(c->buf, c->buf + n, c->len - (size_t)n);
			c->len -= (size_t)n;
			c->tx += (uint64_t)n;
			h_backend_note(b, 0, (uint64_t)n);
		} else if (errno != EAGAIN && errno != EINTR) {
			h_conn_end(b, c, errno, "send", false);
			return;
		}
	}
	if (c->eof && c->len == 0)
		h_conn_end(b, c, H_EOF, NULL, false);
}

static void
h_conn_stream(struct h_backend *b, struct h_conn *c, short rev)
{
	uint64_t	 rx = c->x.rx, tx = c->x.tx;
	char		 why[96];

	h_xfer_step(c->fd, &c->x, rev, b->scratch, H_CHUNK);
	h_backend_note(b, c->x.rx - rx, c->x.tx - tx);
	if (!c->x.done)
		return;
	if (c->x.end == H_OK)
		h_conn_end(b, c, H_EOF, NULL, false);
	else {
		snprintf(why, sizeof(why), "stream failed at rx=%llu tx=%llu "
		    "bad_at=%llu", (unsigned long long)c->x.rx,
		    (unsigned long long)c->x.tx, (unsigned long long)c->x.bad_at);
		h_conn_end(b, c, c->x.end, why, false);
	}
}

static void
h_conn_reset(struct h_backend *b, struct h_conn *c, short rev)
{
	ssize_t		 n;
	size_t		 chunk;

	if (c->rx < b->cfg.reset_after && (rev & (POLLIN | POLLHUP | POLLERR))) {
		n = h_conn_recv(c, b->scratch, H_CHUNK);
		if (n > 0)
			h_backend_note(b, (uint64_t)n, 0);
		else if (n == 0)
			h_conn_end(b, c, H_EOF, "EOF before the reset point", false);
		else if (errno != EAGAIN)
			h_conn_end(b, c, errno, "recv", false);
		return;
	}
	if (c->rx < b->cfg.reset_after)
		return;
	while (c->tx < b->cfg.out_len) {
		chunk = b->cfg.out_len - c->tx < H_CHUNK ?
		    (size_t)(b->cfg.out_len - c->tx) : H_CHUNK;
		h_pattern(b->cfg.out_seed, c->tx, b->scratch, chunk);
		n = send(c->fd, b->scratch, chunk, MSG_NOSIGNAL);
		if (n > 0) {
			c->tx += (uint64_t)n;
			h_backend_note(b, 0, (uint64_t)n);
		} else if (errno == EAGAIN)
			return;
		else if (errno != EINTR) {
			h_conn_end(b, c, errno, "send", false);
			return;
		}
	}
	{
		struct linger	 l = { 1, 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	h_conn_end(b, c, H_OK, NULL, false);
}

static void
h_conn_silent(struct h_backend *b, struct h_conn *c, short rev)
{
	ssize_t	 n;

	if (c->eof || (rev & (POLLIN | POLLHUP | POLLERR)) == 0)
		return;
	n = h_conn_recv(c, b->scratch, H_CHUNK);
	if (n > 0)
		h_backend_note(b, (uint64_t)n, 0);
	else if (n == 0) {
		c->eof = true;
		/* Keep the fd: a silent backend never closes. */
		h_conn_end(b, c, H_EOF, NULL, true);
	} else if (errno != EAGAIN) {
		c->eof = true;
		h_conn_end(b, c, errno, "recv", true);
	}
}

/* A sink only learns that its client went away. */
static void
h_conn_sink(struct h_backend *b, struct h_conn *c, short rev)
{
	int	 err;

	if ((rev & (POLLERR | POLLHUP)) == 0)
		return;
	err = h_connect_result(c->fd);
	h_conn_end(b, c, err != 0 ? err : H_EOF, NULL, false);
}

static void
h_conn_flood(struct h_backend *b, struct h_conn *c, short rev)
{
	size_t		 chunk;
	ssize_t		 n;
	unsigned	 k;

	if ((rev & (POLLOUT | POLLERR | POLLHUP)) == 0)
		return;
	for (k = 0; k < 8 && c->tx < b->cfg.out_len; k++) {
		chunk = b->cfg.out_len - c->tx < H_CHUNK ?
		    (size_t)(b->cfg.out_len - c->tx) : H_CHUNK;
		h_pattern(b->cfg.out_seed, c->tx, b->scratch, chunk);
		n = send(c->fd, b->scratch, chunk, MSG_NOSIGNAL);
		if (n > 0) {
			c->tx += (uint64_t)n;
			c->last = h_now_ms();
			h_backend_note(b, 0, (uint64_t)n);
		} else if (errno == EAGAIN)
			return;
		else if (errno != EINTR) {
			h_conn_end(b, c, errno, "send", false);
			return;
		}
	}
}

/* Work that depends on time, not on the socket: H_FLOOD's reset. */
static void
h_conn_tick(struct h_backend *b, struct h_conn *c)
{
	struct linger	 l = { 1, 0 };

	if (c->closed || b->cfg.mode != H_FLOOD ||
	    h_now_ms() - c->last < H_STALL_MS)
		return;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	h_conn_end(b, c, H_OK, NULL, false);
}

static void
h_conn_step(struct h_backend *b, struct h_conn *c, short rev)
{
	if (c->closed)
		return;
	switch (b->cfg.mode) {
	case H_ECHO:
		h_conn_echo(b, c, rev);
		break;
	case H_STREAM:
		h_conn_stream(b, c, rev);
		break;
	case H_RESET:
		h_conn_reset(b, c, rev);
		break;
	case H_SILENT:
		h_conn_silent(b, c, rev);
		break;
	case H_SINK:
		h_conn_sink(b, c, rev);
		break;
	case H_FLOOD:
		h_conn_flood(b, c, rev);
		break;
	}
}

/* Accept what is waiting; false on a fatal error (recorded). */
static bool
h_backend_accept(struct h_backend *b)
{
	struct h_conn	*c;
	unsigned	 k;
	int		 fd;

	for (k = 0; k < 256; k++) {
		fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED;
		if (b->nconn == b->cap) {
			struct h_conn	**nc;

			b->cap = b->cap * 2 + 64;
			if ((nc = realloc(b->conns, b->cap * sizeof(*nc))) == NULL)
				return false;
			b->conns = nc;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return false;
		c->fd = fd;
		c->last = h_now_ms();
		c->x.in_len = b->cfg.in_len;
		c->x.in_seed = b->cfg.in_seed;
		c->x.out_len = b->cfg.out_len;
		c->x.out_seed = b->cfg.out_seed;
		c->x.out_after_eof = b->cfg.out_after_eof;
		if (b->cfg.mode == H_ECHO && b->cfg.hello != NULL) {
			/* The echo sends its buffer first: the hello leads. */
			if ((c->buf = malloc(H_ECHO_BUF)) == NULL) {
				close(fd);
				free(c);
				return false;
			}
			c->len = strlen(b->cfg.hello) < H_ECHO_BUF ?
			    strlen(b->cfg.hello) : H_ECHO_BUF;
			memcpy(c->buf, b->cfg.hello, c->len);
		}
		b->conns[b->nconn++] = c;
		pthread_mutex_lock(&b->mu);
		b->st.accepted++;
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
	}
	return true;
}

static void
h_backend_error(struct h_backend *b, const char *what)
{
	pthread_mutex_lock(&b->mu);
	if (b->st.error[0] == '\0')
		snprintf(b->st.error, sizeof(b->st.error), "backend: %s: %s",
		    what, strerror(errno));
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Drop finished connections (parked fds of silent ones stay open). */
static void
h_backend_compact(struct h_backend *b)
{
	size_t	 i, j;

	for (i = j = 0; i < b->nconn; i++) {
		struct h_conn	*c = b->conns[i];

		if (c->closed && c->fd == -1)
			free(c);
		else
			b->conns[j++] = c;
	}
	b->nconn = j;
}

static void *
h_backend_main(void *arg)
{
	struct h_backend	*b = arg;
	struct pollfd		*p = NULL;
	size_t			 pcap = 0, n, i;
	int64_t			 deadline = h_now_ms() + H_BACKEND_LIFE_MS;
	unsigned		 it;
	int			 left;

	for (it = 0; it < H_LOOP_MAX; it++) {
		if ((left = h_left(deadline)) == 0) {
			errno = ETIMEDOUT;
			h_backend_error(b, "lifetime exceeded");
			break;
		}
		h_backend_compact(b);
		if (pcap < b->nconn + 2) {
			struct pollfd	*np;

			pcap = (b->nconn + 2) * 2;
			if ((np = realloc(p, pcap * sizeof(*p))) == NULL) {
				h_backend_error(b, "realloc");
				break;
			}
			p = np;
		}
		p[0] = (struct pollfd){ b->stop[0], POLLIN, 0 };
		p[1] = (struct pollfd){ b->lfd, POLLIN, 0 };
		n = b->nconn;
		for (i = 0; i < n; i++) {
			struct h_conn	*c = b->conns[i];

			/* Events 0 still reports POLLERR/POLLHUP (H_SINK). */
			p[2 + i] = (struct pollfd){ c->closed ? -1 : c->fd,
			    h_conn_events(b, c), 0 };
		}
		/* Wake often enough for H_FLOOD's stall timer. */
		if (poll(p, 2 + n, left < 50 ? left : 50) == -1) {
			if (errno == EINTR)
				continue;
			h_backend_error(b, "poll");
			break;
		}
		if (p[0].revents != 0)
			break;
		for (i = 0; i < n; i++) {
			if (p[2 + i].revents != 0)
				h_conn_step(b, b->conns[i], p[2 + i].revents);
			h_conn_tick(b, b->conns[i]);
		}
		if ((p[1].revents & POLLIN) && !h_backend_accept(b)) {
			h_backend_error(b, "accept");
			break;
		}
	}
	free(p);
	return NULL;
}

/* A backend thread on the listening socket ${lfd} (which it takes over). */
static struct h_backend *
h_backend_run(int lfd, int family, int port, const struct h_backend_cfg *cfg)
{
	struct h_backend	*b;
	pthread_condattr_t	 ca;

	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->scratch = malloc(H_CHUNK)) == NULL)
		h_fault("out of memory");
	b->cfg = *cfg;
	b->family = family;
	b->lfd = lfd;
	b->port = port;
	if (pipe2(b->stop, O_CLOEXEC | O_NONBLOCK) == -1)
		h_fault("pipe: %s", strerror(errno));
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&b->th, NULL, h_backend_main, b) != 0)
		h_fault("pthread_create failed");
	h_reg_add(h_backends, b);
	return b;
}

struct h_backend *
h_backend_start(int family, const struct h_backend_cfg *cfg)
{
	int	 port, lfd = h_listen_socket(family, &port);

	return h_backend_run(lfd, family, port, cfg);
}

struct h_backend *
h_backend_start_at(const char *ip, int port, const struct h_backend_cfg *cfg)
{
	struct sockaddr_storage	 ss;
	int			 lfd;

	(void)h_sockaddr(ip, port, &ss);
	lfd = h_listen_at(ip, &port);
	return h_backend_run(lfd, ss.ss_family, port, cfg);
}

struct h_backend *
h_backend_start_port(int family, int port, const struct h_backend_cfg *cfg)
{
	return h_backend_start_at(family == AF_INET6 ? "::1" : "127.0.0.1",
	    port, cfg);
}

int
h_backend_port(const struct h_backend *b)
{
	return b->port;
}

void
h_backend_stats(struct h_backend *b, struct h_backend_stats *st)
{
	pthread_mutex_lock(&b->mu);
	*st = b->st;
	pthread_mutex_unlock(&b->mu);
}

bool
h_backend_wait(struct h_backend *b, unsigned accepted, unsigned ended,
    uint64_t rx, int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	struct timespec	 ts;
	unsigned	 i;
	bool		 ok = false;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->mu);
	for (i = 0; i < H_LOOP_MAX; i++) {
		ok = b->st.accepted >= accepted &&
		    b->st.done + b->st.failed >= ended && b->st.rx >= rx;
		if (ok || h_left(deadline) == 0 ||
		    pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT)
			break;
	}
	ok = b->st.accepted >= accepted &&
	    b->st.done + b->st.failed >= ended && b->st.rx >= rx;
	pthread_mutex_unlock(&b->mu);
	return ok;
}

void
h_backend_free(struct h_backend *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	if (write(b->stop[1], "x", 1) == -1)
		h_fault("backend stop: %s", strerror(errno));
	pthread_join(b->th, NULL);
	for (i = 0; i < b->nconn; i++) {
		if (b->conns[i]->fd != -1)
			close(b->conns[i]->fd);
		free(b->conns[i]->buf);
		free(b->conns[i]);
	}
	free(b->conns);
	close(b->lfd);
	close(b->stop[0]);
	close(b->stop[1]);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->scratch);
	h_reg_del(h_backends, b);
	free(b);
}

/* --- scenario rows -------------------------------------------------------- */

/* Fail with what both ends of a transfer saw: often the backend knows better. */
static void
h_scenario_fail_xfer(const struct h_xfer *x, struct h_backend *b)
{
	struct h_backend_stats	 st;
	char			 bad[64] = "";

	h_backend_stats(b, &st);
	if (x->end == EPROTO)
		snprintf(bad, sizeof(bad), ", wrong or missing byte at %llu",
		    (unsigned long long)x->bad_at);
	fail_msg("client: %s at tx=%llu rx=%llu%s; backend: %s",
	    h_end_str(x->end), (unsigned long long)x->tx,
	    (unsigned long long)x->rx, bad,
	    st.error[0] != '\0' ? st.error : "no error");
}

/* Row ${s}'s transfer on ${fd}, checked at both ends. */
static void
h_scenario_xfer(const struct h_scenario *s, int fd, struct h_backend *b)
{
	struct h_backend_stats	 st;
	struct h_xfer		 x = s->xfer;
	int64_t			 t0 = h_now_ms();

	h_xfer_run(fd, &x, s->xfer_ms);
	print_message("%s: %lld ms, client tx=%llu rx=%llu\n", s->name,
	    (long long)(h_now_ms() - t0), (unsigned long long)x.tx,
	    (unsigned long long)x.rx);
	if (x.end != H_OK)
		h_scenario_fail_xfer(&x, b);
	/* h_xfer_run() shut down its side and read the other to EOF. */
	assert_true(x.shut);
	assert_int_equal(x.tx, x.out_len);
	assert_int_equal(x.rx, x.in_len);
	/* The backend got every byte and then the EOF. */
	assert_true(h_backend_wait(b, 1, 1, x.out_len, H_IO_MS));
	h_backend_stats(b, &st);
	if (st.failed != 0)
		fail_msg("%s", st.error);
	assert_int_equal(st.rx, x.out_len);
	assert_int_equal(st.tx, x.in_len);
}

/* Row ${s}'s client on ${fd}; returns when it did its last act. */
static int64_t
h_scenario_act(const struct h_scenario *s, int fd, struct h_backend *b)
{
	uint8_t		 req[4096];
	uint64_t	 sent = s->echo + s->send;
	int64_t		 t;

	if (s->xfer.out_len > 0 || s->xfer.in_len > 0) {
		h_scenario_xfer(s, fd, b);
		return h_now_ms();
	}
	if (s->echo > 0)
		H_ASSERT_END(h_echo(fd, s->seed, s->echo, H_IO_MS), H_OK, H_OK);
	t = h_now_ms();
	if (s->send > 0) {
		assert_true(s->send <= sizeof(req));
		h_pattern(s->seed, s->echo, req, s->send);
		H_ASSERT_END(h_send_all(fd, req, s->send, H_IO_MS), H_OK, H_OK);
		assert_true(h_backend_wait(b, 1, 0, sent, H_IO_MS));
		t = h_now_ms();
	}
	if (s->shut) {
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
		t = h_now_ms();
		/* The EOF reaches the backend: the half-close went through. */
		assert_true(h_backend_wait(b, 1, 1, sent, H_IO_MS));
	}
	return t;
}

void
h_scenario_run(void **state)
{
	const struct h_scenario	*s = *state;
	struct h_backend	*b;
	struct h_relay		*r;
	char			 up[64], line[160], bytes[64];
	uint64_t		 extra = 0, tx, rx;
	int64_t			 t0, took;
	int			 cf, uf, fd, end;

	cf = s->client != 0 ? s->client : AF_INET;
	uf = s->upstream != 0 ? s->upstream : AF_INET;
	if (cf == AF_INET6 || uf == AF_INET6)
		h_require_ipv6();
	b = h_backend_start(uf, &s->backend);
	snprintf(up, sizeof(up), "%s", h_hostport(uf, h_backend_port(b)));
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			  "[route sc]\nlisten = %s\nupstream = %s\n%s",
	    h_hostport(cf, 0), up, s->keys != NULL ? s->keys : "");
	fd = h_relay_connect(r, "sc", cf);
	t0 = h_scenario_act(s, fd, b);
	end = h_wait_end(fd, s->end_ms != 0 ? s->end_ms : H_IO_MS, &extra);
	took = h_now_ms() - t0;
	print_message("%s: %s %lld ms after the last act, %llu bytes more\n",
	    s->name, h_end_str(end), (long long)took,
	    (unsigned long long)extra);
	if (s->ends[0] == 0 && s->ends[1] == 0)
		H_ASSERT_END(end, H_EOF, H_EOF);
	else
		H_ASSERT_END(end, s->ends[0], s->ends[1]);
	assert_int_equal(extra, 0);
	if (s->max_ms != 0)
		assert_in_range(took, s->min_ms, s->max_ms);
	close(fd);
	/* The session used the upstream of the family asked for. */
	tx = s->xfer.out_len + s->echo + s->send;
	rx = s->xfer.in_len + s->echo;
	snprintf(line, sizeof(line), "upstream=%s msg=\"session end\" end=%s ",
	    up, s->end);
	snprintf(bytes, sizeof(bytes), " up=%llu down=%llu ",
	    (unsigned long long)tx, (unsigned long long)rx);
	H_EXPECT_LOG_LINE(r, line, bytes);
	h_relay_finish(r);
	h_backend_free(b);
}

struct CMUnitTest
h_scenario_test(const struct h_scenario *row)
{
	struct CMUnitTest	 t = { row->name, h_scenario_run, NULL, h_teardown,
		(void *)row };

	return t;
}
