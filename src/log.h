/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_LOG_H
#define RELAY46_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/*
 * log_init(syslog, level): send log lines to stderr or syslog, dropping
 * those above ${level}.  Call before starting threads.  On switching to
 * syslog it checks that _PATH_LOG (/dev/log) takes a connection, and if
 * not says so in one line on stderr (syslog(3) would drop every line
 * without a word); relay46 carries on either way.
 */
void	 log_init(bool use_syslog, int level);

/* log_level(): the current level. */
int	 log_level(void);

/* log_level_parse(s): LOG_LEVEL_* for "error".."debug", or -1. */
int	 log_level_parse(const char *s);

/*
 * log_error() .. log_debug(): one line, "TIME LEVEL message", written
 * with a single write(2) so lines from several threads never interleave.
 */
void	 log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * log_quote(s, buf, len): ${s} made safe inside msg="...": '"' and '\\'
 * escaped with a backslash, control characters as \xHH (util_escape());
 * cut to fit ${len} (at least 1).  Returns ${buf}.
 */
const char *log_quote(const char *s, char *buf, size_t len);

/*
 * log_warn_lines(prefix, text): log_warn() each line of ${text} (NULL:
 * none) as msg="${prefix}LINE", such as a config's warnings.
 */
void	 log_warn_lines(const char *prefix, const char *text);

/*
 * log_ratelimit(last_ms): true at most once a second per ${last_ms}
 * slot, for errors that can repeat in a tight loop (accept failures).
 */
bool	 log_ratelimit(unsigned long long *last_ms);

/*
 * A limit for one kind of line that can come once per client, such as a
 * connect failure in an outage: at most one a second goes out, and the
 * number held back meanwhile is told in the next.  Lock-free, so every
 * worker may share one; zeroed memory is a fresh limit.
 */
struct log_limit {
	atomic_uint_fast64_t	 last_ms;	/* the last line out; 0: none */
	atomic_uint		 held;		/* lines held back since */
};

/*
 * log_limit_pass(l, held): may a line limited by ${l} go out now?  true
 * at most once a second, with *${held} the number held back since the
 * last one that went out (to be told in this one); false counts the line
 * as held back.
 */
bool	 log_limit_pass(struct log_limit *l, unsigned *held);

/*
 * log_libevent_init(): send libevent's own messages through this log, at
 * our level for theirs (debug, info, warn, error), at most one a second
 * with the number held back told in the next, instead of libevent
 * writing them to stderr itself (bypassing "log = syslog" and any limit).
 * Call first in main(), before anything uses libevent.
 */
void	 log_libevent_init(void);

/* fatalx(fmt, ...): log at error level and exit(1).  Start-up only. */
void	 fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
