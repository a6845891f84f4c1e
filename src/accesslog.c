/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "log.h"
#include "util.h"

/*
 * Double buffering: callers append whole lines to ${fill} under ${lock};
 * the writer swaps ${fill} with its own ${out} under the lock and writes
 * ${out} with the lock released, so no caller ever waits on the disk,
 * only on another caller's memcpy.
 */
struct accesslog {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;		/* writer: work, reopen or stop */
	pthread_t	 thread;

	/* Guarded by ${lock}. */
	char		*fill;
	size_t		 len;
	bool		 reopen;
	size_t		 reopen_at;	/* lines before it go to the old file */
	bool		 stop;

	/* The writer's own, once started. */
	char		*out;
	int		 fd;
	unsigned long long last_warn;	/* log_ratelimit() */

	char		*path;		/* NULL: stderr */
	_Atomic uint64_t dropped;
};

static uint64_t
accesslog_count_lines(const char *p, size_t n)
{
	uint64_t	 lines = 0;
	const char	*end = p + n, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p = nl + 1;
	}
	return lines;
}

/*
 * Write ${n} bytes of whole lines.  A failed write (disk full, EIO) loses
 * what is left; count those lines and carry on, as the sessions do.
 */
static void
accesslog_flush(struct accesslog *l, const char *p, size_t n)
{
	ssize_t	 w;
	size_t	 off = 0;
	int	 saved;

	while (off < n) {
		w = write(l->fd, p + off, n - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 || w == 0) {
			saved = w == -1 ? errno : EIO;
			/* A line cut short counts as lost as well. */
			atomic_fetch_add(&l->dropped,
			    accesslog_count_lines(p + off, n - off));
			if (log_ratelimit(&l->last_warn))
				log_warn("path=%s msg=\"access log: %s; lines "
				    "dropped\"", l->path != NULL ? l->path :
				    "stderr", strerror(saved));
			return;
		}
		off += (size_t)w;
	}
}

/* The access log file, opened the same way at start and on SIGUSR1. */
static int
accesslog_open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/*
 * Open the new file before closing the old one: if logrotate left us
 * nowhere to write, the old descriptor still works and nothing is lost.
 */
static void
accesslog_reopen_fd(struct accesslog *l)
{
	int	 fd;

	if ((fd = accesslog_open_path(l->path)) == -1) {
		log_warn("path=%s msg=\"access log: reopen: %s; still writing "
		    "to the old file\"", l->path, strerror(errno));
		return;
	}
	close(l->fd);
	l->fd = fd;
}

static void *
accesslog_main(void *arg)
{
	struct accesslog *l = arg;
	char		*tmp;
	size_t		 n, at;
	bool		 reopen;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (l->len == 0 && !l->reopen && !l->stop)
			pthread_cond_wait(&l->wake, &l->lock);
		/* Stop only once everything written before it is out. */
		if (l->len == 0 && !l->reopen && l->stop)
			break;
		tmp = l->out;
		l->out = l->fill;
		l->fill = tmp;
		n = l->len;
		l->len = 0;
		reopen = l->reopen;
		at = reopen ? l->reopen_at : n;
		l->reopen = false;
		pthread_mutex_unlock(&l->lock);

		accesslog_flush(l, l->out, at);
		if (reopen)
			accesslog_reopen_fd(l);
		accesslog_flush(l, l->out + at, n - at);

		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

static void
accesslog_free(struct accesslog *l)
{
	free(l->fill);
	free(l->out);
	free(l->path);
	free(l);
}

struct accesslog *
accesslog_open(const char *path, char *err, size_t errlen)
{
	struct accesslog *l;
	int		 rc;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->fill = malloc(ACCESSLOG_BUFFER)) == NULL ||
	    (l->out = malloc(ACCESSLOG_BUFFER)) == NULL) {
		err_set(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto fail;
	}
	l->fd = STDERR_FILENO;
	atomic_init(&l->dropped, 0);
	if (strcmp(path, "stderr") != 0) {
		if ((l->path = util_strdup(path)) == NULL) {
			err_set(err, errlen, "%s: %s", path, strerror(ENOMEM));
			goto fail;
		}
		if ((l->fd = accesslog_open_path(path)) == -1) {
			err_set(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if ((rc = pthread_mutex_init(&l->lock, NULL)) != 0)
		goto fail_fd;
	if ((rc = pthread_cond_init(&l->wake, NULL)) != 0)
		goto fail_lock;
	/* SIGHUP, SIGTERM and SIGUSR1 stay with the control thread. */
	if ((rc = util_thread_start(&l->thread, accesslog_main, l)) != 0)
		goto fail_cond;
	return l;

fail_cond:
	pthread_cond_destroy(&l->wake);
fail_lock:
	pthread_mutex_destroy(&l->lock);
fail_fd:
	err_set(err, errlen, "%s: %s", path, strerror(rc));
	if (l->path != NULL)
		close(l->fd);
fail:
	if (l != NULL)
		accesslog_free(l);
	return NULL;
}

void
accesslog_write(struct accesslog *l, const char *line, size_t len)
{
	bool	 wake = false, drop = false;

	if (len == 0)
		return;
	pthread_mutex_lock(&l->lock);
	if (len > ACCESSLOG_BUFFER - l->len)
		drop = true;
	else {
		/* The writer sleeps only on an empty buffer. */
		wake = l->len == 0;
		memcpy(l->fill + l->len, line, len);
		l->len += len;
	}
	pthread_mutex_unlock(&l->lock);
	if (drop)
		atomic_fetch_add(&l->dropped, 1);
	if (wake)
		pthread_cond_signal(&l->wake);
}

void
accesslog_reopen(struct accesslog *l)
{
	if (l->path == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	/* A second reopen before the writer acts keeps the first's split. */
	if (!l->reopen) {
		l->reopen = true;
		l->reopen_at = l->len;
	}
	pthread_mutex_unlock(&l->lock);
	pthread_cond_signal(&l->wake);
}

uint64_t
accesslog_dropped(const struct accesslog *l)
{
	return atomic_load(&l->dropped);
}

void
accesslog_close(struct accesslog *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_signal(&l->wake);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	if (l->path != NULL)
		close(l->fd);
	accesslog_free(l);
}
