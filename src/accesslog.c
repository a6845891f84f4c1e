/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * accesslog.c: the access log, one line per finished session, written by
 * a thread of its own.
 *
 * The workers format their lines (session.c) and hand them over with
 * accesslog_write(), which only copies into memory under a mutex; the
 * writer thread does every write(2), so a slow disk, a full pipe or a
 * stopped reader of stderr delays the log, never a session.  When the
 * writer falls ACCESSLOG_BUFFER behind, lines are dropped whole and
 * counted (relay46_access_log_dropped_total) instead of blocking a
 * worker: losing log lines is the lesser harm.
 *
 * A struct accesslog owns both buffers, the file descriptor (unless it is
 * stderr), the path and the writer thread.  main.c opens it as root;
 * control.c gives the file to the service user, starts the writer after
 * the privilege drop, asks for a reopen on SIGUSR1 (logrotate), and
 * closes it at exit once the workers are gone, which flushes what waits.
 *
 * The writer logs its own trouble (write errors, at most once a second;
 * a failed reopen, at error) through log.c, whose lines are single
 * write(2)s and safe from any thread.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>
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
	bool		 started;	/* accesslog_start() ran the thread */

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
	_Atomic uint64_t reopen_failures;
};

/*
 * The lines in ${p}[0..${n}), counted by their '\n': every line handed
 * over ends in one, so a line that a failed write cut short is counted
 * by its tail.
 */
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

	/*
	 * Blocking writes: this thread exists to wait on the disk, and
	 * O_APPEND keeps each write at the end even if logrotate's
	 * copytruncate shortens the file meanwhile.
	 */
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

/*
 * Why open(${path}) failed with ${saved}: ELOOP (O_NOFOLLOW met a
 * symlink), ENXIO (a FIFO with no reader, a socket) and EISDIR say
 * little to an operator, so say what is there instead.
 */
static void
accesslog_refused(const char *path, int saved, char *err, size_t errlen)
{
	struct stat	 st;

	if (lstat(path, &st) == -1 || S_ISREG(st.st_mode))
		err_set(err, errlen, "%s: %s", path, strerror(saved));
	else if (S_ISLNK(st.st_mode))
		err_set(err, errlen, "%s: is a symbolic link (not followed)",
		    path);
	else
		err_set(err, errlen, "%s: not a regular file", path);
}

/*
 * The access log file, opened the same way at start (as root) and on
 * SIGUSR1.  The directory may belong to the user we drop to, so what is
 * at ${path} is not to be trusted: never through a symlink (root would
 * append to whatever it names), only a regular file (O_NONBLOCK: a FIFO
 * with no reader fails here instead of hanging the start), and one with
 * no other name (a hard link to another file would be appended to and
 * handed to the user by accesslog_chown()).  -1 with the reason in ${err}.
 */
static int
accesslog_open_path(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd, flags, saved;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0640);
	if (fd == -1) {
		saved = errno;
		accesslog_refused(path, saved, err, errlen);
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1 || (flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		saved = errno;
		err_set(err, errlen, "%s: %s", path, strerror(saved));
		goto fail;
	}
	saved = EINVAL;
	if (!S_ISREG(st.st_mode)) {
		err_set(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_nlink != 1) {
		err_set(err, errlen, "%s: has %ju hard links; refusing a file "
		    "that is also elsewhere", path, (uintmax_t)st.st_nlink);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Open the new file before closing the old one: if logrotate left us
 * nowhere to write, the old descriptor still works and nothing is lost
 * yet; but the old file will be compressed and removed, so say it loudly
 * and count it (/metrics) rather than carry on quietly.
 */
static void
accesslog_reopen_fd(struct accesslog *l)
{
	char	 err[512];
	int	 fd;

	if ((fd = accesslog_open_path(l->path, err, sizeof(err))) == -1) {
		atomic_fetch_add(&l->reopen_failures, 1);
		log_error("msg=\"access_log: reopen %s; still writing to the "
		    "old file\"", err);
		return;
	}
	close(l->fd);
	l->fd = fd;
}

/*
 * The writer thread: swap buffers under the lock, write with it released.
 * A reopen splits the batch at ${reopen_at}, so lines accepted before
 * SIGUSR1 go to the old file and the rest to the new, as logrotate
 * expects of a postrotate signal.
 */
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

/* The memory only: the caller has closed the file and ended the thread. */
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

	/*
	 * Both buffers now, at their full size: the writer swaps them, and
	 * accesslog_write() must never allocate on a worker's path.
	 */
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->fill = malloc(ACCESSLOG_BUFFER)) == NULL ||
	    (l->out = malloc(ACCESSLOG_BUFFER)) == NULL) {
		err_set(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto fail;
	}
	l->fd = STDERR_FILENO;
	atomic_init(&l->dropped, 0);
	atomic_init(&l->reopen_failures, 0);
	if (strcmp(path, "stderr") != 0) {
		if ((l->path = util_strdup(path)) == NULL) {
			err_set(err, errlen, "%s: %s", path, strerror(ENOMEM));
			goto fail;
		}
		if ((l->fd = accesslog_open_path(path, err, errlen)) == -1)
			goto fail;
	}
	if ((rc = pthread_mutex_init(&l->lock, NULL)) != 0)
		goto fail_fd;
	if ((rc = pthread_cond_init(&l->wake, NULL)) != 0) {
		pthread_mutex_destroy(&l->lock);
		goto fail_fd;
	}
	return l;

fail_fd:
	err_set(err, errlen, "%s: %s", path, strerror(rc));
	if (l->path != NULL)
		close(l->fd);
fail:
	if (l != NULL)
		accesslog_free(l);
	return NULL;
}

/*
 * fchown() on the descriptor, never chown() on the path: the path may
 * name another file by now, and the descriptor is the file we checked.
 */
int
accesslog_chown(struct accesslog *l, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	if (l->path == NULL)
		return 0;
	if (fchown(l->fd, uid, gid) == -1) {
		err_set(err, errlen, "%s: chown to %u:%u: %s", l->path,
		    (unsigned)uid, (unsigned)gid, strerror(errno));
		return -1;
	}
	return 0;
}

int
accesslog_start(struct accesslog *l)
{
	int	 rc;

	/* SIGHUP, SIGTERM and SIGUSR1 stay with the control thread. */
	if ((rc = util_thread_start(&l->thread, accesslog_main, l)) != 0)
		return rc;
	l->started = true;
	return 0;
}

void
accesslog_write(struct accesslog *l, const char *line, size_t len)
{
	bool	 wake = false, drop = false;

	if (len == 0)
		return;
	/*
	 * The lock is held for one memcpy of one line (a few hundred bytes):
	 * the writer holds it only to swap two pointers, so a worker never
	 * waits behind a write(2).
	 */
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
	/*
	 * Signalled after the unlock, so the writer does not wake only to
	 * block on the mutex we still hold; a waiter cannot miss it, since
	 * it rechecks ${len} under the lock before it sleeps.
	 */
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

uint64_t
accesslog_reopen_failures(const struct accesslog *l)
{
	return atomic_load(&l->reopen_failures);
}

/*
 * The writer drains the buffer before it sees ${stop} (accesslog_main()),
 * so every line written before this call reaches the file.  The caller
 * must have stopped every thread that writes lines first.
 */
void
accesslog_close(struct accesslog *l)
{
	if (l == NULL)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->lock);
		l->stop = true;
		pthread_mutex_unlock(&l->lock);
		pthread_cond_signal(&l->wake);
		pthread_join(l->thread, NULL);
	}
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	if (l->path != NULL)
		close(l->fd);
	accesslog_free(l);
}
