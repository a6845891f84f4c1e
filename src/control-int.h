/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_CONTROL_INT_H
#define RELAY46_CONTROL_INT_H

/*
 * Inside the control plane, and nowhere else (other modules use
 * control.h): struct control, which these files share.  control.c starts
 * and stops everything, handles signals and runs the loop; reload.c
 * applies a SIGHUP; snapshot.c copies the counters the admin endpoint
 * shows, and top.c the busiest sessions; ctlexec.c runs the control
 * socket's commands.  All of it runs on the control thread unless it
 * says otherwise.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct accesslog;
struct admin;
struct ctl_conn;
struct ctl_req;
struct ctlsock;
struct config;
struct event;
struct event_base;
struct health;
struct metrics_snapshot;
struct top;
struct worker;

struct control {
	struct event_base *base;
	struct config	*cfg;
	struct worker	**w;
	unsigned	 nw;
	atomic_uint	 drained;	/* workers done after a stop */
	struct health	*health;
	struct accesslog *alog;
	struct admin	*admin;
	struct config	*admin_cfg;	/* whose admin_allow it uses (a ref) */
	uint64_t	 start_time;	/* unix seconds */
	int		*lfds;		/* listening sockets, worker by worker */
	size_t		 per;		/* ...and per worker: cfg's listens */
	bool		 reloading;	/* waiting for the workers' answers */
	atomic_uint	 reload_acks;
	struct event	*reload_ev;	/* the last worker has answered */
	unsigned	 reloads;
	struct event	*drained_ev;
	struct event	*stop_timer;
	struct event	*status_timer;	/* systemd's STATUS= line */
	bool		 stopping;
	unsigned long long notify_err_logged;
	/* The control socket (ctlexec.c), and what "show info" tells. */
	struct ctlsock	*ctl;
	struct ctl_req	*reqs;		/* asked of the workers, unanswered */
	uint64_t	 cfg_time;	/* unix seconds: c->cfg was loaded */
	uint64_t	 reload_time;	/* the last reload's end, or 0 */
	bool		 reload_ok;	/* ...and whether it took */
	/*
	 * The reload under way's report, "FILE:LINE: message" or what
	 * changed, a line each (reload.c writes it), and who waits for it:
	 * reload_told(c, ok, text) once it is over, if set.
	 */
	FILE		*reload_report;
	/* What of it waits for a restart: one line each, told on success. */
	char		 reload_later[256];
	char		*reload_text;
	size_t		 reload_len;
	void		(*reload_told)(struct control *c, bool ok);
	struct ctl_conn	*reload_waiter;
	/*
	 * reload(c, why): control.c's, for the control socket below it: a
	 * reload with systemd told.  0 once handed to the workers
	 * (reload_told() follows when they have it).  -1 when refused:
	 * before it started (*${why} says why; nothing happened), or by the
	 * file or the sockets (*${why} NULL; reload_told() has had the
	 * report).
	 */
	int		(*reload)(struct control *c, const char **why);
	/* The status page's busiest sessions (top.c); NULL until looked at. */
	struct top	*top;
};

/*
 * reload.c.  It calls nothing of control.c's: what systemd is told about
 * a reload (RELOADING=1, READY=1) and the end of one (c->reload_ev's
 * callback) are control.c's, which calls in here.
 */

/*
 * reload_blocked(c): why a reload may not start now, or NULL: not while
 * stopping, while a reload is under way, or without a file (-l/-u).
 */
const char *reload_blocked(const struct control *c);

/*
 * reload_note(c, fmt, ...): one line of the reload's report (c->reload_
 * report), if one is being kept.
 */
void reload_note(struct control *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * reload_start(c): after reload_blocked(): read the file again and
 * hand the new configuration, with its listening sockets, to the
 * workers.  0 once handed over: each worker then calls reload_acked(),
 * and the last one wakes c->reload_ev.  -1 when refused (a bad file, a
 * change only a restart can make, a socket that cannot be bound, out of
 * memory): logged, and nothing changed.
 */
int	 reload_start(struct control *c);

/*
 * reload_acked(c): each worker's "reloaded" callback, called on that
 * worker's thread once it has applied the reload (which cannot fail:
 * worker_reload_prepare() made all it needs); the last one wakes the
 * control loop's c->reload_ev.
 */
void	 reload_acked(void *c);

/* ctlexec.c: the control socket's commands. */

/*
 * ctlexec_start(c): serve c->ctl (opened by control.c) on the control
 * loop.  ctlexec_stop(c): close it, and drop the answers still owed
 * (after the workers have stopped).
 */
int	 ctlexec_start(struct control *c);
void	 ctlexec_stop(struct control *c);

/* snapshot.c */

/* control_live(c): live sessions of every worker (read relaxed). */
unsigned control_live(const struct control *c);

/*
 * snapshot_fill(c, m), snapshot_release(c, m): the admin endpoint's
 * admin_snapshot_fn and admin_release_fn: sum the workers' and routes'
 * counters into *${m} now, and free what that allocated.
 */
void	 snapshot_fill(void *c, struct metrics_snapshot *m);
void	 snapshot_release(void *c, struct metrics_snapshot *m);

/* top.c: the busiest live sessions, asked of the workers. */

/*
 * top_fill(c, m): the busiest sessions as the workers last told them
 * into m->sessions (c->top's own: valid until the control loop runs
 * on), m->nsessions, m->sessions_known and m->sessions_age_ms; nothing
 * if they were never asked.  top_ask(c): they have been shown: ask every
 * worker again unless a question is under way or the answer is under
 * 2 s old.  top_free(c): after the workers have been joined (a question
 * may never have been answered).
 */
void	 top_fill(struct control *c, struct metrics_snapshot *m);
void	 top_ask(struct control *c);
void	 top_free(struct control *c);

#endif
