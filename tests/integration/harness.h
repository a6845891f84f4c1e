/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_HARNESS_H
#define RELAY46_HARNESS_H

/*
 * Integration test harness: starts the real src/relay46 (named by
 * $RELAY46) on a config written into a private mktemp -d directory, runs
 * backends in threads, and talks to both over real loopback sockets.
 *
 * Rules the harness keeps, so the tests can keep them too:
 *  - nothing sleeps to synchronise: every wait is poll() (or a condition
 *    variable) against a deadline, and every loop is bounded in count too;
 *  - functions marked "main thread" may fail the running cmocka test (they
 *    longjmp); backend threads never call cmocka, they record errors that
 *    the test reads with h_backend_stats();
 *  - every relay, backend and temporary directory is registered, and
 *    h_teardown() (the teardown of every test) frees what a failed test
 *    left behind, printing the relay's log first.
 *
 * The prefix h_ stands for harness_.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define H_EXIT_SKIP	77	/* automake: the test was skipped */
#define H_EXIT_HARD	99	/* automake: the harness itself broke */

#define H_READY_MS	10000	/* relay46 start-up, until the ready file */
#define H_STOP_MS	10000	/* relay46 exit after a signal */
#define H_IO_MS		10000	/* default bound for one exchange */
#define H_MAX_ADDRS	16	/* listeners read from one ready file */
#define H_PATH		512

/* End codes of the socket helpers: H_OK, H_EOF, or an errno value. */
#define H_OK		0
#define H_EOF		(-1)	/* the peer closed cleanly (recv returned 0) */

/* --- process-wide ----------------------------------------------------- */

/*
 * h_init(): check $RELAY46, raise RLIMIT_NOFILE's soft limit to the hard
 * limit and ignore SIGPIPE.  Exits H_EXIT_HARD when the environment is
 * unusable.  Call first in main().
 */
void	h_init(void);

/*
 * h_exit_code(failed): what main() returns after cmocka_run_group_tests()
 * returned ${failed}: 1 on failures, H_EXIT_SKIP when nothing failed but
 * h_require_ipv6() skipped a test, else 0.
 */
int	h_exit_code(int failed);

/* h_fault(fmt, ...): report a harness fault and exit H_EXIT_HARD. */
_Noreturn void h_fault(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* h_ipv6_ok(): whether [::1] can be bound and connected to (cached). */
bool	h_ipv6_ok(void);

/* h_require_ipv6(): main thread.  cmocka skip() unless h_ipv6_ok(). */
void	h_require_ipv6(void);

/*
 * h_teardown(state): cmocka teardown for every test.  Whatever the test
 * did not free (because it failed) is freed here: relays are killed after
 * their log is printed, backends are stopped and joined, temporary
 * directories are removed.
 */
int	h_teardown(void **state);

/* h_now_ms(): CLOCK_MONOTONIC in milliseconds. */
int64_t	h_now_ms(void);

/* h_left(deadline): milliseconds until ${deadline}, 0 once past. */
int	h_left(int64_t deadline);

/*
 * h_tmpdir(): main thread.  A new mktemp -d directory, removed (with the
 * files in it) by h_teardown().  The string belongs to the harness.
 */
const char *h_tmpdir(void);

/*
 * h_write_file(path, pathlen, dir, name, text): main thread.  Write
 * ${text} to ${dir}/${name}; its path goes to ${path}.
 */
void	h_write_file(char *path, size_t pathlen, const char *dir,
	    const char *name, const char *text);

/*
 * h_replace_file(path, text): main thread.  Replace ${path} atomically:
 * write ${path}.new, then rename it over ${path}.
 */
void	h_replace_file(const char *path, const char *text);

/*
 * h_read_file(path): the whole file, NUL-terminated, for the caller to
 * free; NULL if it cannot be read.
 */
char	*h_read_file(const char *path);

/* --- payload ------------------------------------------------------------ */

/*
 * h_pattern(seed, off, buf, len): bytes ${off} .. ${off}+${len} of the
 * pseudo-random stream ${seed}.  Any chunking of a stream gives the same
 * bytes, so both ends can generate and check it independently.
 */
void	h_pattern(uint64_t seed, uint64_t off, void *buf, size_t len);

/*
 * h_pattern_check(seed, off, buf, len): index in ${buf} of the first byte
 * that differs from the stream, or -1 when all ${len} match.
 */
int64_t	h_pattern_check(uint64_t seed, uint64_t off, const void *buf,
	    size_t len);

/* --- sockets (all non-blocking and close-on-exec) ----------------------- */

/* h_end_str(end): "ok", "EOF" or strerror(end). */
const char *h_end_str(int end);

/*
 * h_loopback(family, port, ss): 127.0.0.1:${port} or [::1]:${port} in
 * ${ss}; returns its length.
 */
socklen_t h_loopback(int family, int port, struct sockaddr_storage *ss);

/*
 * h_hostport(family, port): "127.0.0.1:P" or "[::1]:P", in one of eight
 * rotating static buffers (enough for one config).
 */
const char *h_hostport(int family, int port);

/*
 * h_listen_socket(family, port): main thread.  A listening socket on a
 * new loopback port, which goes to *${port}.  The caller owns the fd.
 */
int	h_listen_socket(int family, int *port);

/*
 * h_refused_port(family, port): main thread.  A socket bound to a new
 * loopback port that does NOT listen, so that connecting to *${port}
 * gets ECONNREFUSED for as long as the caller holds the fd.
 */
int	h_refused_port(int family, int *port);

/*
 * h_hold_port(ip, port): main thread.  Hold ${ip} port *${port} (0: a new
 * port, written to *${port}) for a listener bound there later: a socket
 * bound with SO_REUSEADDR that does not listen, so connecting to it is
 * refused and no port-0 bind or outgoing connect is given the port, yet
 * whatever binds it with SO_REUSEADDR too can take it while the fd is
 * held.  That is h_listen_at(), h_blackhole() and h_backend_start_at()
 * with a given port, and relay46's own listeners and admin endpoint
 * (listener.c), on that same address: the port may be in use on
 * another one, so to hand relay46 a wildcard, hold the wildcard.  Close
 * the fd once they listen.  For a port a test must
 * know before relay46 starts (in a config it writes, for a port kept
 * across a reload, for an admin address) and for a backend that comes
 * back on its port without anyone taking the port while it is down.
 */
int	h_hold_port(const char *ip, int *port);

/*
 * h_dual_port(ip4, ip6, fd4, fd6): main thread.  A new port held (as
 * h_hold_port() holds it) on both the IPv4 address ${ip4} and the IPv6
 * address ${ip6}, for a test that needs one port number in both
 * families: "127.0.0.1" and "::1" for its own listeners, "0.0.0.0" and
 * "::" for relay46's "*:P" (a port free on 127.0.0.1 alone may be in use
 * on another address, which a wildcard bind collides with).  Returns the
 * port; the caller closes both fds once the listeners are bound there.
 */
int	h_dual_port(const char *ip4, const char *ip6, int *fd4, int *fd6);

/*
 * h_sockaddr(ip, port, ss): "127.0.0.5" or "::1" with ${port} in ${ss};
 * returns its length.  A harness fault if ${ip} is not an address.
 */
socklen_t h_sockaddr(const char *ip, int port, struct sockaddr_storage *ss);

/*
 * h_listen_at(ip, port): main thread.  A listening socket on ${ip} (any
 * loopback address: all of 127/8 works on Linux) and port *${port}; with
 * *${port} 0 a new port, which goes to *${port}.  Bound with SO_REUSEADDR
 * (also a new port, which its connections then carry into TIME_WAIT), so
 * a backend can come back on the port it had, and a port h_hold_port()
 * holds can be taken.  The caller owns the fd.
 */
int	h_listen_at(const char *ip, int *port);

/*
 * h_blackhole(family, port, filler): main thread.  A loopback listener
 * whose accept queue is full, so that a connect to it hangs (the SYN is
 * dropped) for as long as the caller holds both fds.  On *${port}, or on
 * a new port (written to *${port}) when it is 0.  Returns the listening
 * fd; *${filler} gets the queued connection (or -1).
 */
int	h_blackhole(int family, int *port, int *filler);

/*
 * h_connect_from(src, sa, len, timeout_ms): as h_connect_sa(), from the
 * local address ${src} ("127.0.0.7"; port chosen by the kernel).
 */
int	h_connect_from(const char *src, const struct sockaddr *sa,
	    socklen_t len, int timeout_ms);

/*
 * h_accept(lfd, timeout_ms): accept one connection on ${lfd} within
 * ${timeout_ms}.  Returns the (non-blocking) fd, or -1 with errno
 * (ETIMEDOUT on the deadline).
 */
int	h_accept(int lfd, int timeout_ms);

/* h_sock_port(fd, peer): the local (or, with ${peer}, remote) port, or -1. */
int	h_sock_port(int fd, bool peer);

/*
 * h_connect_sa(sa, len, timeout_ms): connect within ${timeout_ms}.
 * Returns the fd, or -1 with errno set (ETIMEDOUT on the deadline).
 */
int	h_connect_sa(const struct sockaddr *sa, socklen_t len, int timeout_ms);

/*
 * h_connect_start(sa, len): start a non-blocking connect.  Returns the fd
 * (poll it for POLLOUT, then ask h_connect_result()), or -1 with errno.
 */
int	h_connect_start(const struct sockaddr *sa, socklen_t len);

/* h_connect_result(fd): 0 once connected, else the pending socket error. */
int	h_connect_result(int fd);

/* h_connect_port(family, port, timeout_ms): h_connect_sa() to loopback. */
int	h_connect_port(int family, int port, int timeout_ms);

/*
 * h_wait_refused(family, port, timeout_ms): main thread.  Connect to
 * loopback ${port} until it refuses, which must happen within
 * ${timeout_ms}: for a listener that is closing (relay46 closes one a
 * moment after it logs why).  Fails the test if it still accepts then.
 */
void	h_wait_refused(int family, int port, int timeout_ms);

/*
 * h_fill(fd, seed, timeout_ms): send stream ${seed} until the connection
 * takes nothing more for H_STALL_MS (every buffer on the way is full).
 * Returns the bytes sent; fails the test if it never stalls or errs.
 * Main thread.
 */
uint64_t h_fill(int fd, uint64_t seed, int timeout_ms);

/*
 * h_wait_error(fd, timeout_ms): without reading, wait for the connection
 * to fail or hang up.  Returns the socket error (ECONNRESET...), H_EOF for
 * a hang-up without one, or ETIMEDOUT.
 */
int	h_wait_error(int fd, int timeout_ms);

/* h_cpu_ms(pid): user + system CPU time ${pid} used so far, or -1. */
long	h_cpu_ms(pid_t pid);

/* h_fd_count(pid): how many descriptors ${pid} has open (/proc), or -1. */
int	h_fd_count(pid_t pid);

/* h_pipe_fd_count(pid): how many of them are pipe ends; -1 on error. */
int	h_pipe_fd_count(pid_t pid);

/* h_linger_reset(fd): close ${fd} with SO_LINGER {1, 0}: the peer gets RST. */
void	h_linger_reset(int fd);

struct tcp_info;

/*
 * h_tcp_info(fd, ti): TCP_INFO of ${fd} into *${ti} (main thread).  The
 * struct of <linux/tcp.h>, which has the segment counters; glibc's
 * <netinet/tcp.h> declares an older, shorter one of the same name.
 */
void	h_tcp_info(int fd, struct tcp_info *ti);

/*
 * h_wait_tcp_state(fd, state, timeout_ms): poll ${fd}'s TCP_INFO each
 * millisecond until its tcpi_state is ${state} (TCP_FIN_WAIT2, ...);
 * true once it is, false at the deadline (main thread).
 */
bool	h_wait_tcp_state(int fd, int state, int timeout_ms);

/*
 * What a test allows relay46 to pass on a reset that reached a side it
 * does not read: its session verifies within 100 ms (SESSION_VERIFY_MS);
 * six times that leaves room for a loaded CI machine and still fails
 * the once-a-second paused check this bound replaced.
 */
#define H_VERIFY_MS	600

/*
 * h_stop_process(pid): SIGSTOP our child ${pid} and wait (10 s at most)
 * until every thread of it has stopped; SIGCONT resumes it.
 */
void	h_stop_process(pid_t pid);

/*
 * h_send_all(fd, buf, len, timeout_ms): send all ${len} bytes.  Returns
 * H_OK or an errno value (ETIMEDOUT on the deadline).
 */
int	h_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * h_recv_n(fd, buf, n, timeout_ms, got): receive exactly ${n} bytes.
 * Returns H_OK, H_EOF (the peer closed first) or an errno value; the count
 * received goes to *${got} when it is not NULL.
 */
int	h_recv_n(int fd, void *buf, size_t n, int timeout_ms, size_t *got);

/*
 * h_wait_end(fd, timeout_ms, extra): read and throw away until the
 * connection ends.  Returns H_EOF, an errno value (ECONNRESET...) or
 * ETIMEDOUT; the number of bytes thrown away goes to *${extra} if not NULL.
 */
int	h_wait_end(int fd, int timeout_ms, uint64_t *extra);

/*
 * h_echo(fd, seed, len, timeout_ms): send ${len} bytes of stream ${seed}
 * and read the same ${len} bytes back (through an echo backend), sending
 * and receiving at the same time.  Returns H_OK, H_EOF, EPROTO (a wrong
 * byte) or an errno value.
 */
int	h_echo(int fd, uint64_t seed, size_t len, int timeout_ms);

/*
 * One side of a checked transfer: send ${out_len} bytes of stream
 * ${out_seed} then shutdown(SHUT_WR), while reading exactly ${in_len}
 * bytes of stream ${in_seed} followed by EOF.  With ${out_after_eof},
 * sending starts only once the peer's EOF has arrived.
 */
struct h_xfer {
	uint64_t	 out_len;
	uint64_t	 out_seed;
	uint64_t	 in_len;
	uint64_t	 in_seed;
	bool		 out_after_eof;
	/* progress and result, zero at the start */
	uint64_t	 tx;
	uint64_t	 rx;
	bool		 eof;
	bool		 shut;
	bool		 done;
	int		 end;		/* once done: H_OK, EPROTO or errno */
	uint64_t	 bad_at;	/* EPROTO: stream offset of the wrong byte */
};

/* h_xfer_events(x): the poll() events ${x} waits for now. */
short	h_xfer_events(const struct h_xfer *x);

/*
 * h_xfer_step(fd, x, revents, scratch, scratchlen): advance ${x} on ${fd}
 * after poll() gave ${revents}.  Sets x->done when it finished or failed.
 * Thread-safe as long as ${scratch} is not shared.
 */
void	h_xfer_step(int fd, struct h_xfer *x, short revents, uint8_t *scratch,
	    size_t scratchlen);

/*
 * h_xfer_run(fd, x, timeout_ms): drive ${x} on ${fd} alone until done or
 * the deadline (then x->end is ETIMEDOUT).  Returns x->end.
 */
int	h_xfer_run(int fd, struct h_xfer *x, int timeout_ms);

/* --- relay46 processes ---------------------------------------------------- */

struct h_addr {
	char			 route[80];
	char			 text[96];	/* as in the ready file */
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

struct h_relay {
	pid_t		 pid;
	bool		 reaped;
	int		 status;	/* wait status once reaped */
	bool		 dumped;	/* log already printed */
	char		 dir[H_PATH / 2];
	char		 conf[H_PATH];
	char		 ready[H_PATH];
	char		 log[H_PATH];
	size_t		 naddr;
	struct h_addr	 addr[H_MAX_ADDRS];
};

/*
 * h_relay_start(fmt, ...): main thread.  Write the config (printf-style)
 * into a new directory, start "$RELAY46 -c CONF -R READY" with stdout and
 * stderr going to a log file there, and wait for the ready file.  Fails the
 * test (printing the log) if relay46 exits or is not ready within
 * H_READY_MS.  The relay belongs to the harness until h_relay_free().
 */
struct h_relay *h_relay_start(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * h_relay_setenv(name, value): main thread.  Relays started from now on
 * get ${name}=${value} in their environment (one override at a time);
 * h_relay_setenv(NULL, NULL) and h_teardown() drop it.
 */
void	h_relay_setenv(const char *name, const char *value);

/*
 * h_relay_set_nofile(n): main thread.  Relays started from now on run
 * with RLIMIT_NOFILE soft and hard limits of ${n}, set in the child before
 * exec (relay46 raises its soft limit to the hard one, so both are set);
 * h_relay_set_nofile(0) and h_teardown() go back to the test's own limits.
 */
void	h_relay_set_nofile(unsigned n);

/*
 * h_relay_start_args(args): main thread.  As h_relay_start() but with the
 * NULL-terminated ${args} (no program name, no -R) instead of -c CONF.
 */
struct h_relay *h_relay_start_args(const char *const *args);

/*
 * h_relay_addr(r, route, family): main thread.  The listener of ${route}
 * with ${family} from the ready file; fails the test if there is none.
 */
const struct h_addr *h_relay_addr(const struct h_relay *r, const char *route,
	    int family);

/* h_relay_port(r, route, family): main thread.  That listener's port. */
int	h_relay_port(const struct h_relay *r, const char *route, int family);

/*
 * h_relay_ready_addr(r, route, n): main thread.  Listener ${n} (from 0)
 * of ${route} in the ready file, which lists a route's listen addresses
 * in the order of its listen lines ("*:P" is two: 0.0.0.0, then [::]),
 * as bound: "listen = 127.0.0.1:0" shows the port the kernel chose.
 * Fails the test if the route has no such listener.
 * h_relay_ready_port(r, route, n): that listener's port.
 */
const struct h_addr *h_relay_ready_addr(const struct h_relay *r,
	    const char *route, size_t n);
int	h_relay_ready_port(const struct h_relay *r, const char *route,
	    size_t n);

/*
 * h_relay_connect(r, route, family): main thread.  A client connected to
 * that listener; fails the test if the connect fails.
 */
int	h_relay_connect(const struct h_relay *r, const char *route, int family);

/*
 * h_relay_connect_from(r, route, family, src): main thread.  As
 * h_relay_connect(), from the local address ${src} ("127.0.0.9"; NULL:
 * any, which is h_relay_connect()).
 */
int	h_relay_connect_from(const struct h_relay *r, const char *route,
	    int family, const char *src);

/*
 * h_relay_try_connect(r, route, family, src): main thread.  As
 * h_relay_connect_from(), for a client relay46 may reset at once (no
 * upstream reached): a reset that comes before the connect's result is
 * read is not a failure.  Returns the fd, or -1 with errno ECONNRESET.
 */
int	h_relay_try_connect(const struct h_relay *r, const char *route,
	    int family, const char *src);

/* h_relay_running(r): whether relay46 has not exited yet (reaps it if so). */
bool	h_relay_running(struct h_relay *r);

/*
 * h_relay_wait(r, timeout_ms): wait for relay46 to exit by itself.
 * Returns its wait status, or -1 if it still runs at the deadline.
 */
int	h_relay_wait(struct h_relay *r, int timeout_ms);

/*
 * h_relay_stop(r, sig, timeout_ms): send ${sig} and wait for the exit.
 * Returns the wait status, or -1 if it did not exit in time (it is then
 * killed with SIGKILL).
 */
int	h_relay_stop(struct h_relay *r, int sig, int timeout_ms);

/*
 * h_relay_finish(r): main thread.  The normal end of a test: SIGTERM,
 * check that relay46 exits 0 within H_STOP_MS and that its log holds no
 * sanitizer report, then h_relay_free().  Fails the test otherwise.
 */
void	h_relay_finish(struct h_relay *r);

/* h_relay_free(r): kill relay46 if it runs, remove its directory, free. */
void	h_relay_free(struct h_relay *r);

/* h_relay_log(r): relay46's log so far, for the caller to free. */
char	*h_relay_log(const struct h_relay *r);

/*
 * h_relay_log_wait(r, needle, timeout_ms): whether ${needle} appears in
 * the log before the deadline (the log is read every 10 ms).
 */
bool	h_relay_log_wait(const struct h_relay *r, const char *needle,
	    int timeout_ms);

/*
 * h_relay_log_wait_n(r, needle, n, timeout_ms): whether ${needle} appears
 * at least ${n} times in the log before the deadline.
 */
bool	h_relay_log_wait_n(const struct h_relay *r, const char *needle,
	    unsigned n, int timeout_ms);

/*
 * h_relay_log_line(r, a, b, timeout_ms): whether one line of the log
 * holds both ${a} and ${b} (${b} NULL: just ${a}) before the deadline.
 */
bool	h_relay_log_line(const struct h_relay *r, const char *a,
	    const char *b, int timeout_ms);

/* h_relay_log_count(r, needle): how many times ${needle} is in the log. */
unsigned h_relay_log_count(const struct h_relay *r, const char *needle);

/*
 * h_relay_listening_port(r, route, n): main thread.  The port of the
 * ${n}th (from 0) "listening" line of ${route} in the log, which shows a
 * listener as bound: how a test learns the port of an "ADDR:0" listener
 * that a reload added (the ready file is written once, at the start).
 * Waits up to H_IO_MS for that line; fails the test if it does not come.
 */
int	h_relay_listening_port(const struct h_relay *r, const char *route,
    unsigned n);

/* h_relay_dump(r): print the log to stderr (once). */
void	h_relay_dump(struct h_relay *r);

/*
 * h_tcp_keepalive(lport, rport): whether the connection from 127.0.0.1
 * port ${lport} to 127.0.0.1 port ${rport} has SO_KEEPALIVE on, as the
 * timer column of /proc/net/tcp shows it on an idle connection: 1 (a
 * keepalive timer runs) or 0 (none); -1 if there is no such connection.
 * /proc shows a retransmit timer instead while data is unacknowledged,
 * so that is waited out (up to H_IO_MS).
 */
int	h_tcp_keepalive(int lport, int rport);

/*
 * h_tcp_listeners(port): how many sockets listen on TCP port ${port}, of
 * any address and family, as /proc/net/tcp and tcp6 show them: with
 * SO_REUSEPORT, one per relay46 worker that shares the port.
 */
int	h_tcp_listeners(int port);

/*
 * h_ready_wait(ready, pid, timeout_ms): the one wait for relay46 to be
 * ready.  Wait for the ready file ${ready} (-R) that relay46 ${pid}, our
 * child, renames into place, watched with inotify so that the caller
 * learns it the moment it appears.  Returns H_OK once it exists, ECHILD if
 * ${pid} exited first (not reaped: the caller reaps it), or ETIMEDOUT.
 */
int	h_ready_wait(const char *ready, pid_t pid, int timeout_ms);

/*
 * h_spawn_ready(conf, ready): main thread.  Start "$RELAY46 -c ${conf} -R
 * ${ready}" (output to /dev/null) and return its pid the moment ${ready}
 * exists (h_ready_wait()), for a test that acts right then.  Fails the
 * test if it is not ready within H_READY_MS.  Stop it with h_spawn_stop().
 */
pid_t	h_spawn_ready(const char *conf, const char *ready);

/*
 * h_spawn_track(pid): a relay46 the test forked itself; h_teardown() kills
 * it if the test ends (or fails) before h_spawn_stop().
 */
void	h_spawn_track(pid_t pid);

/*
 * h_spawn_stop(pid, sig): send ${sig}, reap it within H_STOP_MS (else
 * SIGKILL) and stop tracking it.  Its wait status, or -1 if it had to be
 * killed.
 */
int	h_spawn_stop(pid_t pid, int sig);

/* h_rss_kb(pid): VmRSS of ${pid} in KiB from /proc, or -1. */
long	h_rss_kb(pid_t pid);

/*
 * h_run(args, out, err, timeout_ms): run "$RELAY46 ARGS..." to completion,
 * collecting stdout into *${out} and stderr into *${err} (NUL-terminated,
 * for the caller to free).  Returns the exit code, 128 + the signal number
 * if it died of a signal, or -1 if it did not end in time (then killed).
 */
int	h_run(const char *const *args, char **out, char **err, int timeout_ms);

/*
 * h_run_bin(bin, args, out, err, timeout_ms): as h_run(), for the program
 * ${bin} ($RELAY46CTL, say) instead of $RELAY46.
 */
int h_run_bin(const char *bin, const char *const *args, char **out, char **err,
    int timeout_ms);

/* --- backends ------------------------------------------------------------- */

enum h_mode {
	H_ECHO = 0,	/* send back what arrives; close after EOF and flush */
	H_STREAM,	/* an h_xfer per connection, from the config below */
	H_RESET,	/* read reset_after bytes, send out_len, then RST */
	H_SINK,		/* accept, never read; notices only a reset */
	H_SILENT,	/* read and discard to EOF, never write, never close */
	H_FLOOD,	/* send out_len bytes without reading; once sending has
			   stalled for H_STALL_MS, reset */
};

#define H_STALL_MS	300	/* no progress this long: the pipe is full */

struct h_backend_cfg {
	enum h_mode	 mode;
	uint64_t	 in_len;	/* H_STREAM: expected from the client */
	uint64_t	 in_seed;
	uint64_t	 out_len;	/* H_STREAM, H_RESET: sent to the client */
	uint64_t	 out_seed;
	bool		 out_after_eof;	/* H_STREAM: reply after the client's EOF */
	uint64_t	 reset_after;	/* H_RESET */
	const char	*hello;		/* H_ECHO: sent first on each connection
					   (NULL: nothing); tells a client
					   which backend it reached */
};

struct h_backend_stats {
	unsigned	 accepted;
	unsigned	 done;		/* connections that ended as expected */
	unsigned	 failed;	/* connections that ended in an error */
	uint64_t	 rx;		/* bytes received, all connections */
	uint64_t	 tx;
	int		 last_end;	/* how the last one ended: H_EOF, H_OK, errno */
	char		 error[256];	/* the first error, "" if none */
};

struct h_backend;

/*
 * h_backend_start(family, cfg): main thread.  A backend thread serving a
 * new loopback port of ${family} as ${cfg} says.  Belongs to the harness
 * until h_backend_free().
 */
struct h_backend *h_backend_start(int family, const struct h_backend_cfg *cfg);

/*
 * h_backend_start_at(ip, port, cfg): main thread.  As h_backend_start(),
 * listening on ${ip} and ${port} (0: a new port).  A given port is bound
 * with SO_REUSEADDR: this is how a killed backend comes back.
 */
struct h_backend *h_backend_start_at(const char *ip, int port,
	    const struct h_backend_cfg *cfg);

/* h_backend_start_port(family, port, cfg): h_backend_start_at() on loopback. */
struct h_backend *h_backend_start_port(int family, int port,
	    const struct h_backend_cfg *cfg);

/* h_backend_port(b): the port it listens on. */
int	h_backend_port(const struct h_backend *b);

/* h_backend_stats(b, st): a consistent copy of its counters. */
void	h_backend_stats(struct h_backend *b, struct h_backend_stats *st);

/*
 * h_backend_wait(b, accepted, ended, rx, timeout_ms): wait until at least
 * ${accepted} connections were accepted, ${ended} ended (done + failed)
 * and ${rx} bytes arrived.  Returns whether that happened in time.
 */
bool	h_backend_wait(struct h_backend *b, unsigned accepted, unsigned ended,
	    uint64_t rx, int timeout_ms);

/* h_backend_free(b): stop the thread, join it, close everything. */
void	h_backend_free(struct h_backend *b);

/* --- scenario rows -------------------------------------------------------- */

/*
 * The skeleton most scenarios share, as one row of a table: a backend
 * (${backend}, on ${upstream}'s loopback); relay46 with one route that
 * listens on ${client}'s loopback, has the backend as its upstream, and
 * then ${keys}; one client, which connects and then either
 *  - runs ${xfer} within ${xfer_ms}, when that moves any byte: it must
 *    end H_OK, and the backend must have got it all, EOF included, with
 *    no error; or
 *  - echoes ${echo} bytes of stream ${seed}, sends ${send} more bytes of
 *    it that get no reply (the backend must get them all), and with
 *    ${shut} shuts its sending side down (the backend must see the EOF).
 * Then, with no byte more, the client's connection must end as ${ends}[0]
 * or ${ends}[1] (H_EOF, ECONNRESET...; { 0, 0 }: H_EOF alone, a clean
 * end) within ${end_ms} (0: H_IO_MS), and
 * when ${max_ms} is not 0, ${min_ms} to ${max_ms} after its last act.  The
 * session line must name the backend, say end=${end}, and count the
 * bytes that went each way.  A family of 0 is AF_INET.  A new scenario of
 * this shape is a new row; one that needs more stays a function.
 */
struct h_scenario {
	const char		*name;		/* the cmocka test's name */
	int			 client;	/* family of listener and client */
	int			 upstream;	/* family of the backend */
	const char		*keys;		/* more route keys, or NULL */
	struct h_backend_cfg	 backend;
	struct h_xfer		 xfer;		/* progress fields left zero */
	int			 xfer_ms;
	uint64_t		 seed;
	uint64_t		 echo;
	uint64_t		 send;		/* at most 4096 */
	bool			 shut;
	int			 ends[2];
	int			 end_ms;
	int64_t			 min_ms;
	int64_t			 max_ms;
	const char		*end;		/* the session line's end= */
};

/*
 * h_scenario_run(state): main thread.  The cmocka test that runs the
 * row *${state} (a const struct h_scenario *) as described above.
 */
void	h_scenario_run(void **state);

/*
 * h_scenario_test(row): the cmocka test of ${row}: h_scenario_run() on
 * it, named after it, with h_teardown().  ${row} must outlive the run.
 */
struct CMUnitTest h_scenario_test(const struct h_scenario *row);

/* --- assertions ------------------------------------------------------------ */

/*
 * H_ASSERT_CONTAINS(hay, needle): fail the test, printing ${hay}, unless
 * ${needle} occurs in it.
 */
#define H_ASSERT_CONTAINS(hay, needle)					\
	h_assert_contains((hay), (needle), #hay, __FILE__, __LINE__)

void	h_assert_contains(const char *hay, const char *needle,
	    const char *what, const char *file, int line);

/*
 * H_EXPECT_LOG(r, needle): wait up to H_IO_MS for ${needle} in relay46's
 * log; fail the test, printing the log, if it does not come.
 */
#define H_EXPECT_LOG(r, needle)						\
	h_expect_log((r), (needle), __FILE__, __LINE__)

void	h_expect_log(struct h_relay *r, const char *needle, const char *file,
	    int line);

/*
 * H_EXPECT_LOG_LINE(r, a, b): as H_EXPECT_LOG, for one line that holds
 * both ${a} and ${b}.
 */
#define H_EXPECT_LOG_LINE(r, a, b)					\
	h_expect_log_line((r), (a), (b), __FILE__, __LINE__)

void	h_expect_log_line(struct h_relay *r, const char *a, const char *b,
	    const char *file, int line);

/*
 * H_ASSERT_END(got, a, b): fail unless the end code ${got} is ${a} or ${b}
 * (pass the same twice for one), naming them in the message.
 */
#define H_ASSERT_END(got, a, b)						\
	h_assert_end((got), (a), (b), __FILE__, __LINE__)

void	h_assert_end(int got, int a, int b, const char *file, int line);

#endif
