/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.c: relay46's own log (not the access log): one line per event, to
 * stderr or to syslog, from any thread; and the limits that keep a storm
 * of one kind of line (accept failures, connect failures in an outage,
 * libevent's complaints) from flooding it.
 *
 * It owns the sink setting (two ints, set once before any thread starts)
 * and libevent's limit.  Lines go to stderr each as a single write(2),
 * which the kernel keeps whole between threads (a pipe takes up to
 * PIPE_BUF, 4096 bytes, in one piece), so no lock is needed; syslog(3)
 * locks on its own.  A line longer than 2 KiB is cut, never split.
 *
 * It is called on the workers' data path (a failed connect, a session
 * ended by an error), so a line costs a format into a stack buffer and
 * one write(2) or syslog() call, nothing more.  Messages follow one
 * convention, key=value pairs with msg="..." (see the callers), so that
 * a log processor can parse them.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"

/*
 * The log sink: set by main() through log_init() before any other thread
 * starts, and not changed afterwards (a reload that changes log or
 * log_level is told it needs a restart), so plain ints are enough.
 */
static int	 log_use_syslog;
static int	 log_cur_level = LOG_LEVEL_INFO;

/* By LOG_LEVEL_*: the word in each line, and what log_level accepts. */
static const char *const log_names[] = { "error", "warn", "info", "debug" };

/*
 * libevent's messages: in a busy loop it can say the same thing millions
 * of times a second ("Error from accept() call"), on any thread.
 */
static struct log_limit	 log_libevent_limit;

/* Where syslog(3) sends lines: glibc names it in <syslog.h>. */
#ifndef _PATH_LOG
#define _PATH_LOG	"/dev/log"
#endif

/* Connect to ${sun} as syslog(3) would: 0, or -1 with errno kept. */
static int
log_syslog_connect(const struct sockaddr_un *sun)
{
	int	 fd, rc, saved;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	if (rc == -1 && errno == EPROTOTYPE) {
		/* A stream socket there: syslog(3) tries that next. */
		close(fd);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	}
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * syslog(3) drops every line, without a word, when nothing listens at
 * _PATH_LOG (a container, a system with no syslog daemon), and so would
 * every error of ours: say so on stderr, once, and carry on.
 */
static void
log_syslog_check(void)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			 why[128];

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	if (stat(_PATH_LOG, &st) == -1)
		snprintf(why, sizeof(why), "is %s", errno == ENOENT ?
		    "missing" : strerror(errno));
	else if (!S_ISSOCK(st.st_mode))
		snprintf(why, sizeof(why), "is not a socket");
	else if (log_syslog_connect(&sun) == 0)
		return;
	else
		snprintf(why, sizeof(why), "does not answer (%s)",
		    strerror(errno));
	fprintf(stderr, "relay46: log = syslog but %s %s: nothing will be "
	    "logged; use log = stderr or start a syslog daemon\n", _PATH_LOG,
	    why);
}

/*
 * LOG_NDELAY opens the connection to /dev/log here, at start, rather
 * than with the first line, which may come from a worker.
 */
void
log_init(bool use_syslog, int level)
{
	if (use_syslog && !log_use_syslog) {
		log_syslog_check();
		openlog("relay46", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
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
	/*
	 * syslog stamps the time and pid itself; the level word stays in
	 * the text, so a line reads the same wherever it ends up.
	 */
	if (log_use_syslog) {
		vsnprintf(line, sizeof(line), fmt, ap);
		syslog(prio[level], "%s %s", log_names[level], line);
		return;
	}
	/* UTC with milliseconds: lines from several hosts sort together. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
	    ts.tv_nsec / 1000000, log_names[level]);
	if (k > 0)
		n += (size_t)k;
	/*
	 * One byte is kept back for the newline.  vsnprintf() returns the
	 * length it wanted, not what fit, so a cut message is clamped here.
	 */
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (k > 0)
		n += (size_t)k;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line, so lines of several threads never mix. */
	(void)!write(STDERR_FILENO, line, n);
}

/* The four level functions differ only in their level. */
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

const char *
log_quote(const char *s, char *buf, size_t len)
{
	return util_escape(s, buf, len, "\"\\");
}

void
log_warn_lines(const char *prefix, const char *text)
{
	const char	*eol;
	char		 line[1024], q[2048];

	for (; text != NULL && *text != '\0'; text = eol + (*eol != '\0')) {
		if ((eol = strchr(text, '\n')) == NULL)
			eol = text + strlen(text);
		snprintf(line, sizeof(line), "%.*s", (int)(eol - text), text);
		log_warn("msg=\"%s%s\"", prefix, log_quote(line, q, sizeof(q)));
	}
}

/*
 * Not atomic: each slot belongs to one thread (a worker's accept errors,
 * the access log writer's, the control thread's).  A limit shared by
 * threads uses struct log_limit instead.
 */
bool
log_ratelimit(unsigned long long *last_ms)
{
	unsigned long long	 now = util_now_ms();

	if (*last_ms != 0 && now - *last_ms < 1000)
		return false;
	*last_ms = now;
	return true;
}

/*
 * Start-up only, before any worker runs: exit() while other threads run
 * would tear down what they still use.
 */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

bool
log_limit_pass(struct log_limit *l, unsigned *held)
{
	uint_fast64_t	 now = util_now_ms(), last;

	last = atomic_load_explicit(&l->last_ms, memory_order_relaxed);
	/*
	 * Of several threads due at once, the one whose exchange succeeds
	 * writes the line; the others count as held back.
	 */
	/*
	 * Relaxed: the two fields need not be seen together.  At worst a
	 * line held back in the very millisecond another goes out is told
	 * in the next line instead of this one.
	 */
	if ((last != 0 && now - last < 1000) ||
	    !atomic_compare_exchange_strong_explicit(&l->last_ms, &last, now,
	    memory_order_relaxed, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&l->held, 1, memory_order_relaxed);
		return false;
	}
	*held = atomic_exchange_explicit(&l->held, 0, memory_order_relaxed);
	return true;
}

/* libevent's severity, EVENT_LOG_DEBUG .. EVENT_LOG_ERR, as ours. */
static int
log_libevent_level(int severity)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		return LOG_LEVEL_DEBUG;
	case EVENT_LOG_MSG:
		return LOG_LEVEL_INFO;
	case EVENT_LOG_WARN:
		return LOG_LEVEL_WARN;
	default:
		return LOG_LEVEL_ERROR;
	}
}

static void
log_libevent_cb(int severity, const char *msg)
{
	char		 more[64] = "";
	unsigned	 held;
	int		 level = log_libevent_level(severity);

	/* Lines we would drop anyway must not use up the limit. */
	if (level > log_cur_level || !log_limit_pass(&log_libevent_limit,
	    &held))
		return;
	if (held > 0)
		snprintf(more, sizeof(more), " held_back=%u", held);
	switch (level) {
	case LOG_LEVEL_DEBUG:
		log_debug("msg=\"libevent: %s\"%s", msg, more);
		break;
	case LOG_LEVEL_INFO:
		log_info("msg=\"libevent: %s\"%s", msg, more);
		break;
	case LOG_LEVEL_WARN:
		log_warn("msg=\"libevent: %s\"%s", msg, more);
		break;
	default:
		log_error("msg=\"libevent: %s\"%s", msg, more);
		break;
	}
}

/*
 * Before anything uses libevent, so that nothing it says reaches stderr
 * past the limit, or past "log = syslog".
 */
void
log_libevent_init(void)
{
	event_set_log_callback(log_libevent_cb);
}
