/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_UTIL_H
#define RELAY46_UTIL_H

#include <sys/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * err_set(err, errlen, fmt, ...): format a reason into the caller's ${err}
 * buffer of ${errlen} bytes (truncating, always terminated).  A NULL ${err}
 * or zero ${errlen} is allowed and does nothing.
 */
void	err_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* util_timeval(ms): ${ms} milliseconds as a struct timeval (libevent's). */
struct timeval util_timeval(uint64_t ms);

/* util_now_ms(), util_now_us(): milli- and microseconds of CLOCK_MONOTONIC. */
uint64_t util_now_ms(void);
uint64_t util_now_us(void);

/*
 * util_coarse_ms(): util_now_ms() as of the kernel's last clock tick
 * (CLOCK_MONOTONIC_COARSE): up to a tick (1 to 10 ms) behind, never
 * ahead, and a fifth of the cost, since it reads no clock hardware.  For
 * stamps taken per read and write, where a tick early is no matter.
 */
uint64_t util_coarse_ms(void);

/*
 * util_sock_error(fd): the pending error of socket ${fd} (SO_ERROR, which
 * reading clears), or the errno of asking; 0 if none.
 */
int	 util_sock_error(int fd);

/*
 * util_count_enter(n, max): add one to *${n} unless it has reached ${max}
 * (0: no limit), with a compare-and-swap, so that a limit shared by
 * several threads holds.  Returns whether it was added.
 */
bool	 util_count_enter(atomic_uint *n, unsigned max);

/*
 * util_escape(s, buf, len, quote): ${s} into ${buf}, with each control
 * character a terminal acts on (C0, DEL, and C1 as UTF-8 writes it) as
 * \xHH, and each byte of ${quote} ("" for none) after a backslash; cut
 * to fit ${len} (at least 1).  Returns ${buf}.
 */
const char *util_escape(const char *s, char *buf, size_t len,
    const char *quote);

/*
 * util_thread_start(t, fn, arg): pthread_create with every signal
 * blocked in the new thread, so signals stay with the main thread's
 * libevent handlers.  0, or the pthread error number.
 */
int	 util_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/*
 * util_strdup(s): strdup that the tests can rely on; NULL on out of memory.
 */
char	*util_strdup(const char *s);

/*
 * util_hash_str(s): FNV-1a of the string ${s}, for tables keyed by name
 * (never for anything a peer chooses: it has no key).
 */
uint64_t util_hash_str(const char *s);

/*
 * util_write_file(path, data, len): replace ${path} with the ${len} bytes
 * of ${data}, whole, safely as root in a directory others may write to:
 * a stale "${path}.tmp" (or a symlink planted there) is removed, never
 * followed; a new one is created with O_EXCL | O_NOFOLLOW (mode 0644,
 * less the umask), written and renamed over ${path}, so a reader sees the
 * old file or the new one, never half.  Returns 0, or -1 with errno set
 * and no .tmp file left behind.
 */
int	 util_write_file(const char *path, const void *data, size_t len);

#endif
