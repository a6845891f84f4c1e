/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_ACCESSLOG_H
#define RELAY46_ACCESSLOG_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct accesslog;

/*
 * The access log: one line per finished session, written by a thread of
 * its own so that a slow disk or a full pipe never blocks a worker's
 * event loop.  Lines wait in a bounded in-memory buffer; when it is full,
 * new lines are dropped and counted rather than waiting.
 */

#define ACCESSLOG_BUFFER	(1024 * 1024)	/* bytes waiting at most */

/*
 * accesslog_open(path, err, errlen): "stderr", or a file path opened
 * O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW|O_CLOEXEC, mode 0640 (less the
 * umask).  Called as root, in a directory the service user may write to:
 * a symlink at ${path} is refused, not followed, and so is anything but
 * a regular file with a single link.  No thread yet: lines written
 * before accesslog_start() wait in the buffer.  NULL with the reason in
 * ${err} ("/var/log/x: Permission denied", "/var/log/x: not a regular
 * file", "/var/log/x: is a symbolic link (not followed)").
 */
struct accesslog *accesslog_open(const char *path, char *err, size_t errlen);

/*
 * accesslog_chown(l, uid, gid, err, errlen): give the open file to
 * ${uid}:${gid} (as fchown(2): -1 leaves one as it is), so that the user
 * root is dropped to can write it and logrotate's "create" keeps that
 * owner.  Needs root; a no-op for stderr.  0, or -1 with the reason in
 * ${err}.
 */
int	 accesslog_chown(struct accesslog *l, uid_t uid, gid_t gid, char *err,
	    size_t errlen);

/*
 * accesslog_start(l): start the writer thread.  Call it once, after any
 * privilege drop, so that no thread of ours ever ran as root past it.
 * 0, or the pthread error number.
 */
int	 accesslog_start(struct accesslog *l);

/*
 * accesslog_write(l, line, len): any thread, never blocks on I/O: copy
 * ${len} bytes (one whole line, ending in '\n') for the writer.  A line
 * that does not fit in what is left of the buffer is dropped whole.
 */
void	 accesslog_write(struct accesslog *l, const char *line, size_t len);

/*
 * accesslog_reopen(l): any thread (SIGUSR1, for logrotate): the writer
 * reopens the path (as accesslog_open() does) and closes the old file
 * before writing more.  If the path cannot be opened (EACCES: the file
 * logrotate made is not ours), lines keep going to the old file, the
 * writer logs that at error level and accesslog_reopen_failures() counts
 * it.  No-op for stderr.
 */
void	 accesslog_reopen(struct accesslog *l);

/* accesslog_dropped(l): lines dropped so far (buffer full, write errors). */
uint64_t accesslog_dropped(const struct accesslog *l);

/* accesslog_reopen_failures(l): reopens that failed so far. */
uint64_t accesslog_reopen_failures(const struct accesslog *l);

/*
 * accesslog_close(l): write what waits (once started), stop the thread,
 * close; NULL ok.
 */
void	 accesslog_close(struct accesslog *l);

#endif
