/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * util.c: the small helpers that several modules need and none owns: the
 * error buffer, the monotonic clock, a socket's pending error, a bounded
 * shared counter, thread start with signals blocked, and an atomic file
 * replace for the pidfile and the -R file.
 *
 * It owns no state and never logs: every helper returns what went wrong
 * and leaves the words to its caller.  All of it is safe on any thread.
 */
#include "autoconf.h"

#include <signal.h>

#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void
err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * CLOCK_MONOTONIC, never the wall clock: timeouts, retry times and rate
 * limits must not fire early or stall when NTP or an operator steps the
 * time.  Milliseconds since boot (on Linux), so never 0 in practice,
 * which lets callers use 0 to mean "not set".
 */
uint64_t
util_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct timeval
util_timeval(uint64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

uint64_t
util_coarse_ms(void)
{
	struct timespec	 ts;

#ifdef CLOCK_MONOTONIC_COARSE
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
		return (uint64_t)ts.tv_sec * 1000 +
		    (uint64_t)ts.tv_nsec / 1000000;
#endif
	return util_now_ms();
}

uint64_t
util_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * How a non-blocking connect ended: the kernel reports it by making the
 * socket writable, and the outcome is read (and cleared) with SO_ERROR.
 */
int
util_sock_error(int fd)
{
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

char *
util_strdup(const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*p;

	if ((p = malloc(n)) != NULL)
		memcpy(p, s, n);
	return p;
}

uint64_t
util_hash_str(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	uint64_t	 h = 14695981039346656037ull;

	while (*u != '\0')
		h = (h ^ *u++) * 1099511628211ull;
	return h;
}

/*
 * How many bytes at ${s} make one control character a terminal acts on:
 * 1 for C0 (not the NUL that ends ${s}) and DEL, 2 for C1 as UTF-8 writes
 * it (0xc2 0x80-0x9f); else 0.
 */
static size_t
util_control_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	if ((u[0] > 0 && u[0] < 0x20) || u[0] == 0x7f)
		return 1;
	if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
		return 2;
	return 0;
}

const char *
util_escape(const char *s, char *buf, size_t len, const char *quote)
{
	size_t	 o = 0, j, k;

	for (; *s != '\0' && o + 9 < len; s += k) {
		if ((k = util_control_len(s)) != 0) {
			for (j = 0; j < k; j++)
				o += (size_t)snprintf(buf + o, len - o,
				    "\\x%02x", (unsigned char)s[j]);
			continue;
		}
		if (strchr(quote, *s) != NULL)
			buf[o++] = '\\';
		buf[o++] = *s;
		k = 1;
	}
	buf[o] = '\0';
	return buf;
}

/*
 * A compare-and-swap, not a fetch-and-add followed by a check: the
 * latter would count past ${max} for a moment, and a thread racing it
 * would then refuse a session that fits.  Relaxed: the count guards no
 * other data, only how many may be in at once.
 */
bool
util_count_enter(atomic_uint *n, unsigned max)
{
	unsigned	 v = atomic_load_explicit(n, memory_order_relaxed);

	do {
		if (max != 0 && v >= max)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(n, &v, v + 1,
	    memory_order_relaxed, memory_order_relaxed));
	return true;
}

/*
 * A new thread inherits the creator's signal mask: block everything for
 * the moment of pthread_create(), so the thread starts with every signal
 * blocked, and put the creator's mask back.  The kernel then delivers
 * SIGHUP, SIGTERM and SIGUSR1 to the main thread, whose event loop
 * handles them.
 */
int
util_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t	 all, old;
	int		 rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int
util_write_file(const char *path, const void *data, size_t len)
{
	char		 tmp[PATH_MAX];
	const char	*p = data;
	ssize_t		 n;
	int		 fd = -1, saved;

	/* Beside ${path}: rename() is atomic only within one file system. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * fopen(tmp, "w") would write through a symlink someone planted at
	 * tmp, as root, into any file it names: unlink the name instead
	 * (that removes the link, not its target) and create it anew.
	 */
	if (unlink(tmp) == -1 && errno != ENOENT)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		return -1;
	/* write() may take less than asked (a signal, a full disk coming). */
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	/*
	 * close() can report a write error that write() did not (NFS); only
	 * a file known whole is renamed into place.  No fsync(): these files
	 * describe a running process, and after a crash there is none.
	 */
	n = close(fd);
	fd = -1;
	if (n == -1 || rename(tmp, path) == -1)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
