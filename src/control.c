/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The control thread's life: start-up (signals, the admin endpoint, the
 * pidfile and the -R ready file, dropping root, the workers and health
 * checks), its event loop (signals, systemd's STATUS= line) and the
 * shutdown (SIGTERM's drain, shutdown_timeout, teardown).  It owns
 * struct control (control-int.h), the workers, the listening sockets'
 * record c->lfds, the health checks and, once handed over, the access log
 * and the admin endpoint.  A reload is reload.c's; the admin endpoint's
 * counters are snapshot.c's.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "accesslog.h"
#include "admin.h"
#include "control.h"
#include "ctlsock.h"
#include "control-int.h"
#include "health.h"
#include "listener.h"
#include "privdrop.h"
#include "resolve.h"
#include "sdnotify.h"
#include "util.h"
#include "log.h"
#include "units.h"
#include "worker.h"

/* How often systemd's STATUS= line is refreshed. */
#define CONTROL_STATUS_SECS	2

/* On a worker's thread: wake the control loop once the last one is done. */
static void
control_drained(void *arg)
{
	struct control	*c = arg;

	if (atomic_fetch_add(&c->drained, 1) + 1 == c->nw)
		event_active(c->drained_ev, EV_READ, 0);
}

/*
 * Started as root with "user": bound and opened everything; give the
 * access log to the user (its reopens on SIGUSR1 run as that user), then
 * give root up.
 */
static int
control_privdrop(struct control *c, const struct config *cfg)
{
	char	 err[512];
	uid_t	 uid;
	gid_t	 gid;

	if (cfg->user == NULL)
		return 0;
	if (geteuid() != 0) {
		log_warn("msg=\"not started as root: user %s is ignored\"",
		    cfg->user);
		return 0;
	}
	if (privdrop_resolve(cfg->user, cfg->group, &uid, &gid, err,
	    sizeof(err)) == -1) {
		log_error("msg=\"cannot drop privileges: %s\"", err);
		return -1;
	}
	if (c->alog != NULL &&
	    accesslog_chown(c->alog, uid, gid, err, sizeof(err)) == -1) {
		log_error("msg=\"access_log: %s\"", err);
		return -1;
	}
	if (c->ctl != NULL &&
	    ctlsock_chown(c->ctl, uid, gid, err, sizeof(err)) == -1) {
		log_error("msg=\"control: %s\"", err);
		return -1;
	}
	if (privdrop_apply(cfg->user, uid, gid, err, sizeof(err)) == -1) {
		log_error("msg=\"cannot drop privileges: %s\"", err);
		return -1;
	}
	log_info("msg=\"running as user %s (uid %u), group %u\"", cfg->user,
	    (unsigned)uid, (unsigned)gid);
	return 0;
}

/*
 * Give root up (if asked to), and only then start the access log's
 * writer, so that no thread of ours ever runs as root past the drop.
 */
static int
control_drop(struct control *c, const struct config *cfg)
{
	int	 rc;

	if (control_privdrop(c, cfg) == -1)
		return -1;
	if (c->alog != NULL && (rc = accesslog_start(c->alog)) != 0) {
		log_error("msg=\"cannot start the access log writer: %s\"",
		    strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * Send systemd ${state} ("READY=1\n", or "") and the STATUS= line that
 * "systemctl status" shows.  A failure is logged, at most once a second.
 */
static void
control_status(struct control *c, const char *state)
{
	if (sdnotify("%sSTATUS=%s%u live sessions, %u workers", state,
	    c->stopping ? "stopping: " : "", control_live(c), c->nw) == -1 &&
	    log_ratelimit(&c->notify_err_logged))
		log_warn("msg=\"cannot notify systemd: %s\"", strerror(errno));
}

static void
control_status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	control_status(arg, "");
}

static void
control_each(struct control *c, void (*fn)(struct worker *))
{
	unsigned	 i;

	for (i = 0; i < c->nw; i++)
		fn(c->w[i]);
}

/*
 * A reload is over, ${ok} or not: remember it for "show info" and
 * /metrics, and give its report to whoever waits (c->reload_told).
 */
static void
control_reload_over(struct control *c, bool ok)
{
	c->reload_time = (uint64_t)time(NULL);
	c->reload_ok = ok;
	if (ok)
		c->cfg_time = c->reload_time;
	if (c->reload_report != NULL && fclose(c->reload_report) == EOF) {
		free(c->reload_text);
		c->reload_text = NULL;
		c->reload_len = 0;
	}
	c->reload_report = NULL;
	if (c->reload_told != NULL)
		c->reload_told(c, ok);
	free(c->reload_text);
	c->reload_text = NULL;
	c->reload_len = 0;
}

/*
 * SIGHUP, relay46ctl reload: reload.c does the work; systemd hears of it
 * from here, wanting RELOADING=1 with the time (253 on) before, and
 * READY=1 once it is over either way: now if it was refused, or when
 * every worker has it (control_reload_done_cb()).
 */
static int
control_reload(struct control *c, const char **why)
{
	char	 state[64];

	if ((*why = reload_blocked(c)) != NULL) {
		/* Stopping: say nothing, as the stop itself was logged. */
		if (!c->stopping)
			log_warn("msg=\"reload: %s\"", *why);
		return -1;
	}
	/* No report is no loss: the log has every line of it too. */
	c->reload_report = open_memstream(&c->reload_text, &c->reload_len);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
	    (unsigned long long)util_now_us());
	control_status(c, state);
	if (reload_start(c) == -1) {
		control_status(c, "READY=1\n");
		control_reload_over(c, false);
		return -1;
	}
	return 0;
}

/* c->reload_ev: the last worker has applied the reload (reload_acked()). */
static void
control_reload_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control	*c = arg;

	(void)fd;
	(void)what;
	c->reloading = false;
	c->reloads++;
	log_info("msg=\"configuration reloaded\" routes=%zu reloads=%u",
	    c->cfg->nroutes, c->reloads);
	control_status(c, "READY=1\n");
	control_reload_over(c, true);
}

static void
control_drained_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control	*c = arg;

	(void)fd;
	(void)what;
	log_info("msg=\"all sessions ended, exiting\"");
	event_base_loopbreak(c->base);
}

static void
control_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control	*c = arg;

	(void)fd;
	(void)what;
	log_warn("msg=\"shutdown_timeout reached: closing %u live sessions\"",
	    control_live(c));
	control_each(c, worker_abort);
}

static void
control_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct control	*c = arg;
	const char	*why;
	char		 buf[32];
	uint64_t	 ms = c->cfg->shutdown_timeout_ms;
	struct timeval	 tv = util_timeval(ms);

	(void)what;
	if (sig == SIGHUP) {
		log_info("msg=\"SIGHUP: reloading %s\"",
		    c->cfg->path != NULL ? c->cfg->path : "(no file)");
		(void)control_reload(c, &why);
		return;
	}
	if (sig == SIGUSR1) {
		if (c->alog != NULL) {
			log_info("msg=\"SIGUSR1: reopening the access log\"");
			accesslog_reopen(c->alog);
		}
		return;
	}
	if (c->stopping) {
		log_warn("msg=\"%s again: closing %u live sessions now\"",
		    strsignal((int)sig), control_live(c));
		control_each(c, worker_abort);
		return;
	}
	c->stopping = true;
	control_status(c, "STOPPING=1\n");
	log_info("msg=\"%s: no longer accepting; waiting up to %s for %u "
	    "live sessions\"", strsignal((int)sig),
	    units_format_duration(ms, buf, sizeof(buf)), control_live(c));
	control_each(c, worker_stop);
	evtimer_add(c->stop_timer, &tv);
}

/* The signals the control loop handles. */
static const int control_sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };

static void
control_mask(int how)
{
	sigset_t	 set;
	size_t		 i;

	sigemptyset(&set);
	for (i = 0; i < NELEM(control_sigs); i++)
		sigaddset(&set, control_sigs[i]);
	pthread_sigmask(how, &set, NULL);
}

void
control_hold_signals(void)
{
	control_mask(SIG_BLOCK);
}

/*
 * Tell whoever waits (tests, scripts) which addresses we really bound,
 * once all of them listen and so does the admin endpoint, and signals are
 * handled: "ROUTE ADDR" for each listener, then "@admin ADDR" for the
 * endpoint at ${admin} (NULL: none), which no route name can be mistaken
 * for, as a route name never has an '@' (cfg_name_ok()).  Written whole
 * and renamed into place, so a reader never sees half a file.  As root
 * still, like the sockets: util_write_file() does not follow a symlink
 * planted at PATH.tmp.
 */
static int
control_ready_file(const char *path, const struct config *cfg, const int *fds,
    const struct addr *admin)
{
	char		 abuf[ADDR_STRLEN], *text = NULL;
	struct addr	 a;
	size_t		 i, j, k = 0, n = 0;
	FILE		*fp;
	int		 rc, saved;

	if ((fp = open_memstream(&text, &n)) == NULL)
		return -1;
	for (i = 0; i < cfg->nroutes; i++)
		for (j = 0; j < cfg->routes[i].nlisten; j++, k++) {
			/* As bound: the port the kernel chose for port 0. */
			if (listener_address(fds[k], &a) == -1)
				continue;
			fprintf(fp, "%s %s\n", cfg->routes[i].name,
			    addr_format(&a, abuf, sizeof(abuf)));
		}
	if (admin != NULL)
		fprintf(fp, "@admin %s\n",
		    addr_format(admin, abuf, sizeof(abuf)));
	if (fclose(fp) == EOF) {
		free(text);
		return -1;
	}
	rc = util_write_file(path, text, n);
	saved = errno;
	free(text);
	errno = saved;
	return rc;
}

/* The pidfile: our pid and a newline, written like the ready file. */
static int
control_pidfile(const char *path)
{
	char	 buf[32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	return util_write_file(path, buf, (size_t)n);
}

/*
 * Listening: say so in the pidfile, then the ready file (so whoever waits
 * for that finds the pidfile too), with the admin endpoint at ${admin}
 * (NULL: none).  Either one that cannot be written is fatal, -1: init
 * scripts would act on a stale pidfile, and a script or test waiting for
 * the ready file would wait for ever, not fail.
 */
static int
control_announce(const struct config *cfg, const int *fds,
    const struct addr *admin, const char *ready, const char *pidfile)
{
	if (pidfile != NULL && control_pidfile(pidfile) == -1) {
		log_error("msg=\"cannot write pidfile %s: %s\"", pidfile,
		    strerror(errno));
		return -1;
	}
	if (ready != NULL && control_ready_file(ready, cfg, fds, admin) == -1) {
		log_error("msg=\"cannot write ready file %s: %s\"", ready,
		    strerror(errno));
		if (pidfile != NULL)
			(void)unlink(pidfile);
		return -1;
	}
	return 0;
}

/*
 * The control socket (control = PATH), bound now, before the privileges
 * go, so that it can be given to the user.  One that cannot be made is
 * logged and left out: relaying matters more than steering it, and the
 * sample file's path (/run/relay46) may not exist outside systemd.
 */
static void
control_ctl_open(struct control *c, const struct config *cfg)
{
	char	 err[512];

	if (cfg->control == NULL)
		return;
	if ((c->ctl = ctlsock_open(cfg->control, err, sizeof(err))) == NULL)
		log_warn("msg=\"control socket: %s; relay46ctl will not "
			 "reach this relay46 (control = off, or a path in a "
			 "directory relay46 can write)\"",
		    err);
	else
		log_info("msg=\"control socket %s\"", cfg->control);
}

/*
 * Serve the admin endpoint on ${afd} (ours now; -1: none).  Its address
 * as bound goes to *${bound}, for the log and the ready file: with "admin
 * = ADDR:0" only that names the port the kernel chose.
 */
static int
control_admin_start(struct control *c, struct config *cfg, int afd,
    struct addr *bound)
{
	char	 err[512], abuf[ADDR_STRLEN];

	if (afd == -1)
		return 0;
	*bound = cfg->admin;
	(void)listener_address(afd, bound);
	c->admin_cfg = config_ref(cfg);
	if ((c->admin = admin_start(c->base, afd, &cfg->admin_allow,
	    snapshot_fill, snapshot_release, c, err, sizeof(err))) == NULL) {
		log_error("msg=\"admin: %s\"", err);
		return -1;
	}
	log_info("addr=%s msg=\"admin endpoint listening\"",
	    addr_format(bound, abuf, sizeof(abuf)));
	return 0;
}

/*
 * Make a worker for each share of ${fds} (main_listen's order: each
 * worker gets its own socket of every address).  *${given} counts the
 * fds handed over, which are the workers' from then on.
 */
static int
control_workers_new(struct control *c, struct config *cfg, const int *fds,
    size_t nfds, size_t *given)
{
	struct worker_opts	 o = {
		.alog = c->alog,
		.drained = control_drained,
		.reloaded = reload_acked,
		.arg = c,
	};
	size_t			 i, per = nfds / cfg->workers;

	/* Kept to hand the ones that stay over on a reload. */
	if ((c->lfds = calloc(nfds + 1, sizeof(*c->lfds))) == NULL ||
	    (c->w = calloc(cfg->workers, sizeof(*c->w))) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	memcpy(c->lfds, fds, nfds * sizeof(*fds));
	c->per = per;
	for (i = 0; i < cfg->workers; i++) {
		o.index = (unsigned)i;
		c->w[i] = worker_new(cfg, fds + i * per, per, &o);
		*given = (i + 1) * per;
		if (c->w[i] == NULL) {
			log_error("msg=\"cannot set up worker %zu\"", i);
			return -1;
		}
		c->nw++;
	}
	return 0;
}

/* Health checks, then the workers' threads: from now on we serve. */
static int
control_workers_start(struct control *c, struct config *cfg)
{
	unsigned	 i;

	if ((c->health = health_start(c->base, cfg)) == NULL) {
		log_error("msg=\"cannot start health checks\"");
		return -1;
	}
	for (i = 0; i < c->nw; i++)
		if (worker_start(c->w[i]) == -1) {
			log_error("msg=\"cannot start a worker: %s\"",
			    strerror(errno));
			/* Those started must be stopped before they are freed. */
			control_each(c, worker_abort);
			for (i = 0; i < c->nw; i++)
				worker_join(c->w[i]);
			return -1;
		}
	return 0;
}

/* Listening since main_listen, serving from now on: tell systemd. */
static void
control_ready(struct control *c)
{
	struct timeval	 tv = { CONTROL_STATUS_SECS, 0 };

	control_status(c, "READY=1\n");
	if (getenv("NOTIFY_SOCKET") != NULL &&
	    (c->status_timer = event_new(c->base, -1, EV_PERSIST,
	    control_status_cb, c)) != NULL)
		event_add(c->status_timer, &tv);
}

/* Undo control_run(), whatever it got to; ${sev}: its signal events. */
static void
control_free(struct control *c, struct event **sev)
{
	size_t	 i;

	/*
	 * Freeing the signal events puts back the default actions: a SIGTERM
	 * or SIGHUP from now on would kill us halfway through the teardown
	 * (a second SIGTERM once "exiting" was logged did, status 15).  Held,
	 * they die with the process, which exits as it meant to.
	 */
	control_mask(SIG_BLOCK);
	admin_stop(c->admin);
	if (c->admin_cfg != NULL)
		config_unref(c->admin_cfg);
	health_stop(c->health);
	for (i = 0; i < c->nw; i++)
		worker_free(c->w[i]);
	free(c->w);
	/* After the workers: no query of theirs is under way. */
	ctlexec_stop(c);
	top_free(c);
	/* After the workers: their last sessions were still logging. */
	accesslog_close(c->alog);
	for (i = 0; i < NELEM(control_sigs); i++)
		if (sev[i] != NULL)
			event_free(sev[i]);
	if (c->stop_timer != NULL)
		event_free(c->stop_timer);
	if (c->status_timer != NULL)
		event_free(c->status_timer);
	if (c->reload_ev != NULL)
		event_free(c->reload_ev);
	free(c->lfds);
	config_unref(c->cfg);
	if (c->drained_ev != NULL)
		event_free(c->drained_ev);
	/*
	 * Host name lookups cancelled by health_stop() free themselves from
	 * the loop: let them (every other event is gone by now).
	 */
	for (i = 0; c->base != NULL && resolve_pending() > 0 && i < 16; i++)
		(void)event_base_loop(c->base, EVLOOP_NONBLOCK);
	if (resolve_pending() > 0)
		log_warn("msg=\"%u host name lookups did not finish\"",
		    resolve_pending());
	if (c->base != NULL)
		event_base_free(c->base);
}

/*
 * The control loop's events: its wake-ups and the signals, handled from
 * now on.  0, or -1 (logged); control_free() frees what was made.
 */
static int
control_events(struct control *c, struct event **sev)
{
	size_t	 i;

	if ((c->base = event_base_new()) != NULL) {
		c->drained_ev = event_new(c->base, -1, 0, control_drained_cb,
		    c);
		c->stop_timer = evtimer_new(c->base, control_stop_timer_cb, c);
		c->reload_ev = event_new(c->base, -1, 0, control_reload_done_cb,
		    c);
	}
	if (c->drained_ev == NULL || c->stop_timer == NULL ||
	    c->reload_ev == NULL) {
		log_error("msg=\"cannot set up the event loop\"");
		return -1;
	}
	for (i = 0; i < NELEM(control_sigs); i++)
		if ((sev[i] = evsignal_new(c->base, control_sigs[i],
		    control_signal_cb, c)) == NULL ||
		    evsignal_add(sev[i], NULL) == -1) {
			log_error("msg=\"cannot handle signals\"");
			return -1;
		}
#ifdef WITH_TSAN
	/*
	 * ThreadSanitizer (clang 14's and gcc 12's) sets up a thread's signal
	 * state on the thread's first blocking call, here the loop's first
	 * epoll_wait(), and drops a signal that lands meanwhile: a SIGHUP
	 * right after the ready file went unanswered.  One turn of the loop
	 * while ours are held sets it up where none can land.
	 */
	(void)event_base_loop(c->base, EVLOOP_NONBLOCK);
#endif
	/* Handlers in: what came while held is delivered to them now. */
	control_mask(SIG_UNBLOCK);
	return 0;
}

int
control_run(struct config *cfg, const int *fds, size_t nfds, int afd,
    struct accesslog *alog, const char *ready, const char *pidfile)
{
	struct event	*sev[NELEM(control_sigs)] = { NULL };
	struct control	 c;
	struct addr	 admin_at;	/* the admin endpoint's, as bound */
	const struct addr *admin = NULL;	/* &admin_at once it serves */
	size_t		 i, given = 0;
	int		 rc = 1;
	bool		 bad, pid_written = false;

	memset(&c, 0, sizeof(c));
	c.cfg = config_ref(cfg);
	c.alog = alog;
	atomic_init(&c.reload_acks, 0);
	if (control_events(&c, sev) == -1)
		goto out;
	c.start_time = c.cfg_time = (uint64_t)time(NULL);
	c.reload_ok = true;
	c.reload = control_reload;
	bad = control_admin_start(&c, cfg, afd, &admin_at) == -1;
	afd = -1;	/* the admin's now, even when that failed */
	if (bad)
		goto out;
	if (c.admin != NULL)
		admin = &admin_at;
	/*
	 * The workers' loops and wake-up descriptors exist before the ready
	 * file does: whoever waits for that file finds every descriptor the
	 * process keeps (a test counting them once measured 4 too few).  No
	 * thread starts yet: that waits for the privilege drop.
	 */
	control_ctl_open(&c, cfg);
	if (control_workers_new(&c, cfg, fds, nfds, &given) == -1 ||
	    control_announce(cfg, fds, admin, ready, pidfile) == -1)
		goto out;
	pid_written = pidfile != NULL;
	/* Everything is bound and open: no thread may start as root. */
	if (control_drop(&c, cfg) == -1 ||
	    control_workers_start(&c, cfg) == -1)
		goto out;
	if (c.ctl != NULL && ctlexec_start(&c) == -1)
		log_error("msg=\"control socket: cannot serve it\"");
	control_ready(&c);
	event_base_dispatch(c.base);
	for (i = 0; i < c.nw; i++)
		worker_join(c.w[i]);
	rc = 0;
out:
	if (afd != -1)
		close(afd);	/* we never got as far as serving on it */
	/* Descriptors never handed to a worker are still ours. */
	for (i = given; fds != NULL && i < nfds; i++)
		close(fds[i]);
	control_free(&c, sev);
	/* Privileges may be gone: the directory must let the user remove it. */
	if (pid_written && unlink(pidfile) == -1 && errno != ENOENT)
		log_warn("msg=\"cannot remove pidfile %s: %s\"", pidfile,
		    strerror(errno));
	return rc;
}
