/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/*
 * The log sink: set at start-up and on reload by the control thread
 * before workers read it; plain ints are enough for that.
 */
static int	 log_use_syslog;
static int	 log_cur_level = LOG_LEVEL_INFO;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_init(bool use_syslog, int level)
{
	if (use_syslog && !log_use_syslog)
		openlog("relay46", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && log_use_syslog)
		closelog();
	log_use_syslog = use_syslog;
	log_cur_level = level;
}

int
log_level(void)
{
	return log_cur_level;
}

int
log_level_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < NELEM(log_names); i++)
		if (strcmp(s, log_names[i]) == 0)
			return (int)i;
	return -1;
}

static void __attribute__((format(printf, 2, 0)))
log_vwrite(int level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char		 line[2048];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;
	int		 k;

	if (level > log_cur_level)
		return;
	if (log_use_syslog) {
		vsnprintf(line, sizeof(line), fmt, ap);
		syslog(prio[level], "%s %s", log_names[level], line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
	    ts.tv_nsec / 1000000, log_names[level]);
	if (k > 0)
		n += (size_t)k;
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (k > 0)
		n += (size_t)k;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line, so lines of several threads never mix. */
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(fn, level)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	log_vwrite(level, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

bool
log_ratelimit(unsigned long long *last_ms)
{
	unsigned long long	 now = util_now_ms();

	if (*last_ms != 0 && now - *last_ms < 1000)
		return false;
	*last_ms = now;
	return true;
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
