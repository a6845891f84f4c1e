/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_ACCESSLOG_H
#define RELAY46_ACCESSLOG_H

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
 * accesslog_open(path, err, errlen): "stderr" or a file path (opened
 * O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640) and start the writer
 * thread.  NULL with the reason in ${err} ("/var/log/x: Permission
 * denied").
 */
struct accesslog *accesslog_open(const char *path, char *err, size_t errlen);

/*
 * accesslog_write(l, line, len): any thread, never blocks on I/O: copy
 * ${len} bytes (one whole line, ending in '\n') for the writer.  A line
 * that does not fit in what is left of the buffer is dropped whole.
 */
void	 accesslog_write(struct accesslog *l, const char *line, size_t len);

/*
 * accesslog_reopen(l): any thread (SIGUSR1, for logrotate): the writer
 * closes and reopens the path before writing more.  No-op for stderr.
 */
void	 accesslog_reopen(struct accesslog *l);

/* accesslog_dropped(l): lines dropped so far (buffer full, write errors). */
uint64_t accesslog_dropped(const struct accesslog *l);

/* accesslog_close(l): write what waits, stop the thread, close; NULL ok. */
void	 accesslog_close(struct accesslog *l);

#endif
