/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_LOG_H
#define RELAY46_LOG_H

#include <stdbool.h>

enum {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/*
 * log_init(syslog, level): send log lines to stderr or syslog, dropping
 * those above ${level}.  Safe to call again (the log sink is the one
 * mutable global besides the signal bridge).
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
 * log_ratelimit(last_ms): true at most once a second per ${last_ms}
 * slot, for errors that can repeat in a tight loop (accept failures).
 */
bool	 log_ratelimit(unsigned long long *last_ms);

/* fatalx(fmt, ...): log at error level and exit(1).  Start-up only. */
void	 fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
