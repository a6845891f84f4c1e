/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <sys/socket.h>
#include <assert.h>
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
#include "health.h"
#include "listener.h"
#include "metrics.h"
#include "pool.h"
#include "privdrop.h"
#include "resolve.h"
#include "sdnotify.h"
#include "session.h"
#include "util.h"
#include "log.h"
#include "units.h"
#include "worker.h"

/* How often systemd's STATUS= line is refreshed. */
#define CONTROL_STATUS_SECS	2

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
	atomic_uint	 reload_acks, reload_fails;
	struct event	*reload_ev;	/* the last worker has answered */
	unsigned	 reloads;
	struct event	*drained_ev;
	struct event	*stop_timer;
	struct event	*status_timer;	/* systemd's STATUS= line */
	bool		 stopping;
	unsigned long long notify_err_logged;
};

/* On a worker's thread: wake the control loop once the last one is done. */
static void
control_drained(void *arg)
{
	struct control	*c = arg;

	if (atomic_fetch_add(&c->drained, 1) + 1 == c->nw)
		event_active(c->drained_ev, EV_READ, 0);
}

/* Live sessions of every worker (each one's count, read relaxed). */
static unsigned
control_live(const struct control *c)
{
	unsigned	 i, n = 0;

	for (i = 0; i < c->nw; i++)
		n += worker_live(c->w[i]);
	return n;
}

/* One upstream's line in the snapshot: its state, read now. */
static void
control_fill_upstream(struct metrics_upstream *mu, const struct route *r,
    struct upstream *u)
{
	mu->name = u->name;
	mu->host = r->specs[u->spec].text;
	mu->checked = r->health_check;
	mu->up = atomic_load(&u->up);
	mu->present = atomic_load(&u->present);
	mu->backup = u->backup;
	mu->weight = u->weight;
	mu->live = pool_live(u);
	mu->connects = atomic_load(&u->connects);
	mu->connect_fails = atomic_load(&u->connect_fails);
	mu->check_fails = atomic_load(&u->check_fails);
}

/* The counters of route ${r}: each worker's slot, summed. */
static void
control_fill_counters(struct metrics_route *mr, const struct route *r)
{
	struct route_stats	*st = r->pool->stats;
	struct route_stats_slot	*sl;
	size_t			 j;
	unsigned		 k;

	mr->name = r->name;
	/* Nobody but its worker writes a slot: relaxed reads suffice. */
	for (k = 0; k < st->nslots; k++) {
		sl = &st->slot[k];
		mr->active += atomic_load_explicit(&sl->active,
		    memory_order_relaxed);
		mr->bytes_up += atomic_load_explicit(&sl->bytes_up,
		    memory_order_relaxed);
		mr->bytes_down += atomic_load_explicit(&sl->bytes_down,
		    memory_order_relaxed);
		for (j = 0; j < METRICS_CONNECT_BUCKETS + 1; j++)
			mr->connect_buckets[j] += atomic_load_explicit(
			    &sl->connect_buckets[j], memory_order_relaxed);
		mr->connect_sum += (double)atomic_load_explicit(
		    &sl->connect_sum_us, memory_order_relaxed) / 1e6;
	}
}

/*
 * Route ${r} into *${mr}, which it fills from zero, so that a slot left
 * by a route given up on (out of memory) holds nothing of it.  Returns 0,
 * or -1 having freed what it allocated.
 */
static int
control_fill_route(struct metrics_route *mr, const struct route *r,
    const char *const *names)
{
	struct route_stats	*st = r->pool->stats;
	uint64_t		*res;
	size_t			 j, n;
	unsigned		 k;

	memset(mr, 0, sizeof(*mr));
	n = pool_count(r->pool);
	if ((res = calloc(SESSION_END_COUNT, sizeof(*res))) == NULL ||
	    (mr->ups = calloc(n + 1, sizeof(*mr->ups))) == NULL) {
		free(res);
		return -1;
	}
	control_fill_counters(mr, r);
	/* Copied one by one: they are atomics that workers add to. */
	for (j = 0; j < SESSION_END_COUNT; j++)
		for (k = 0; k < st->nslots; k++)
			res[j] += atomic_load_explicit(&st->slot[k].ends[j],
			    memory_order_relaxed);
	mr->result_names = names;
	mr->results = res;
	mr->nresults = SESSION_END_COUNT;
	for (j = 0; j < n; j++)
		control_fill_upstream(&mr->ups[mr->nups++], r, &r->pool->u[j]);
	return 0;
}

/* /metrics, /status, /: sum the workers' and the routes' counters now. */
static void
control_fill(void *arg, struct metrics_snapshot *m)
{
	static const char	*names[SESSION_END_COUNT];
	struct control		*c = arg;
	const struct config	*cfg = c->cfg;
	size_t			 i;
	unsigned		 k;

	for (i = 0; i < SESSION_END_COUNT; i++)
		names[i] = session_end_name((enum session_end)i);
	memset(m, 0, sizeof(*m));
	m->version = PACKAGE_VERSION;
	m->start_time = c->start_time;
	m->now = (uint64_t)time(NULL);
	m->workers = c->nw;
	for (k = 0; k < c->nw; k++)
		m->accept_errors += atomic_load_explicit(
		    &c->w[k]->stats.accept_errors, memory_order_relaxed);
	m->sessions_active = control_live(c);
	m->access_log_dropped = c->alog != NULL ?
	    accesslog_dropped(c->alog) : 0;
	m->access_log_reopen_failures = c->alog != NULL ?
	    accesslog_reopen_failures(c->alog) : 0;
	if ((m->routes = calloc(cfg->nroutes, sizeof(*m->routes))) == NULL)
		return;		/* an empty page rather than none */
	/* A route out of memory is left out; the page shows the rest. */
	for (i = 0; i < cfg->nroutes; i++)
		if (control_fill_route(&m->routes[m->nroutes], &cfg->routes[i],
		    names) == 0)
			m->nroutes++;
}

static void
control_release(void *arg, struct metrics_snapshot *m)
{
	size_t	 i;

	(void)arg;
	for (i = 0; i < m->nroutes; i++) {
		free(m->routes[i].ups);
		free((uint64_t *)(uintptr_t)m->routes[i].results);
	}
	free(m->routes);
}

/*
 * Started as root with "user": bound and opened everything; give the
 * access log to the user (its reopens on SIGUSR1 run as that user), then
 * give root up.
 */
static int
control_privdrop(const struct config *cfg, struct accesslog *alog)
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
	if (alog != NULL && accesslog_chown(alog, uid, gid, err,
	    sizeof(err)) == -1) {
		log_error("msg=\"access_log: %s\"", err);
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

	if (control_privdrop(cfg, c->alog) == -1)
		return -1;
	if (c->alog != NULL && (rc = accesslog_start(c->alog)) != 0) {
		log_error("msg=\"cannot start the access log writer: %s\"",
		    strerror(rc));
		return -1;
	}
	return 0;
}

/* systemd shows this line in "systemctl status". */
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

/* On a worker's thread: one more worker has applied the reload. */
static void
control_reloaded(void *arg, bool ok)
{
	struct control	*c = arg;

	if (!ok)
		atomic_fetch_add(&c->reload_fails, 1);
	if (atomic_fetch_add(&c->reload_acks, 1) + 1 == c->nw)
		event_active(c->reload_ev, EV_READ, 0);
}

static void
control_reload_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control	*c = arg;

	(void)fd;
	(void)what;
	c->reloading = false;
	c->reloads++;
	if (atomic_load(&c->reload_fails) != 0)
		log_error("msg=\"reload: %u workers kept the old configuration "
		    "(out of memory); restart relay46\"",
		    atomic_load(&c->reload_fails));
	else
		log_info("msg=\"configuration reloaded\" routes=%zu "
		    "reloads=%u", c->cfg->nroutes, c->reloads);
	control_status(c, "READY=1\n");
}

/* A reload that will not happen: say why, keep running as before. */
static void
control_reload_refused(struct control *c, const char *why)
{
	log_error("msg=\"reload: %s; keeping the running configuration\"",
	    why);
	control_status(c, "READY=1\n");
}

/* Warn about keys a reload cannot change in a running process. */
static void
control_reload_fixed(const struct config *o, const struct config *n)
{
	static const char *const later = "takes effect at the next restart";

	if ((o->user == NULL) != (n->user == NULL) || (o->user != NULL &&
	    strcmp(o->user, n->user) != 0))
		log_warn("msg=\"reload: a change of user %s\"", later);
	if ((o->group == NULL) != (n->group == NULL) || (o->group != NULL &&
	    strcmp(o->group, n->group) != 0))
		log_warn("msg=\"reload: a change of group %s\"", later);
	if ((o->access_log == NULL) != (n->access_log == NULL) ||
	    (o->access_log != NULL && strcmp(o->access_log,
	    n->access_log) != 0))
		log_warn("msg=\"reload: a change of access_log %s\"", later);
	if (o->admin_on != n->admin_on || (o->admin_on &&
	    !addr_equal(&o->admin, &n->admin)))
		log_warn("msg=\"reload: a change of admin %s\"", later);
	if ((o->pidfile == NULL) != (n->pidfile == NULL) ||
	    (o->pidfile != NULL && strcmp(o->pidfile, n->pidfile) != 0))
		log_warn("msg=\"reload: a change of pidfile %s\"", later);
	if (o->log != n->log || o->log_level != n->log_level)
		log_warn("msg=\"reload: a change of log or log_level %s\"",
		    later);
}

/* Where ${a} is among c->cfg's listens (main_listen's order), or c->per. */
static size_t
control_kept(const struct control *c, const struct addr *a)
{
	size_t	 i, j, k = 0;

	for (i = 0; i < c->cfg->nroutes; i++)
		for (j = 0; j < c->cfg->routes[i].nlisten; j++, k++)
			if (addr_equal(&c->cfg->routes[i].listen[j], a))
				return k;
	return c->per;
}

/*
 * A reload's new configuration, or NULL (logged, refused) if the file has
 * errors or asks for what only a restart can do.
 */
static struct config *
control_reload_load(struct control *c)
{
	struct config	*n;
	char		*errs = NULL, *line, *save = NULL, why[128];

	if ((n = config_load(c->cfg->path, &errs)) == NULL) {
		for (line = errs != NULL ? strtok_r(errs, "\n", &save) : NULL;
		    line != NULL; line = strtok_r(NULL, "\n", &save))
			log_error("msg=\"reload: %s\"", line);
		free(errs);
		control_reload_refused(c, "the file has errors");
		return NULL;
	}
	log_warn_lines("reload: ", n->warnings);
	if (n->workers != c->nw) {
		snprintf(why, sizeof(why), "workers changed from %u to %u, "
		    "which needs a restart", c->nw, n->workers);
		config_unref(n);
		control_reload_refused(c, why);
		return NULL;
	}
	control_reload_fixed(c->cfg, n);
	return n;
}

/*
 * Undo control_reload_bind() for the first ${k} listens of ${nfds}: close
 * what the reload opened; the kept sockets are the workers'.
 */
static void
control_reload_unbind(struct control *c, int *nfds, size_t nper, size_t k)
{
	size_t		 i, k2;
	unsigned	 w;

	for (i = 0; i < k; i++) {
		for (k2 = 0; k2 < c->per && nfds[i] != c->lfds[k2]; k2++)
			;
		if (k2 == c->per)
			for (w = 0; w < c->nw; w++)
				close(nfds[w * nper + i]);
	}
}

/*
 * Fill ${nfds} (worker by worker, ${nper} each) with ${n}'s listening
 * sockets: the running ones for addresses that stay, new ones for the
 * rest.  All or nothing: on a failure, close what this opened and return
 * -1 with the reason in ${why}.
 */
static int
control_reload_bind(struct control *c, const struct config *n, int *nfds,
    size_t nper, char *why, size_t whylen)
{
	const struct route *r;
	char		 err[512], abuf[ADDR_STRLEN];
	int		 tmp[CONFIG_WORKERS_MAX];
	size_t		 i, j, k, k2, nw = c->nw;
	unsigned	 w;

	assert(nw <= CONFIG_WORKERS_MAX);	/* config.c caps workers */
	for (i = 0, k = 0; i < n->nroutes; i++) {
		r = &n->routes[i];
		for (j = 0; j < r->nlisten; j++, k++) {
			if ((k2 = control_kept(c, &r->listen[j])) < c->per) {
				for (w = 0; w < nw; w++)
					nfds[w * nper + k] =
					    c->lfds[w * c->per + k2];
				continue;
			}
			if (listener_open(&r->listen[j], r->keepalive,
			    (unsigned)nw, tmp, err, sizeof(err)) == -1) {
				snprintf(why, whylen, "route %s: %s%s", r->name,
				    err, errno == EACCES && geteuid() != 0 ?
				    " (relay46 no longer runs as root: a new "
				    "port below 1024 needs a restart)" : "");
				goto undo;
			}
			log_info("route=%s addr=%s msg=\"listening\"",
			    r->name, addr_format(&r->listen[j], abuf,
			    sizeof(abuf)));
			for (w = 0; w < nw; w++)
				nfds[w * nper + k] = tmp[w];
		}
	}
	return 0;
undo:
	control_reload_unbind(c, nfds, nper, k);
	return -1;
}

/*
 * Hand ${n} and its sockets ${nfds} over: from now on it is the config.
 * All or nothing: every worker's part is prepared before any is handed
 * over, so running out of memory here changes nothing (-1).
 */
static int
control_reload_apply(struct control *c, struct config *n, int *nfds,
    size_t nper)
{
	struct worker_reload *rl[CONFIG_WORKERS_MAX];
	size_t		 i, j;
	unsigned	 w;

	for (w = 0; w < c->nw; w++)
		if ((rl[w] = worker_reload_prepare(c->w[w], n, nfds + w * nper,
		    nper)) == NULL) {
			while (w > 0)
				worker_reload_discard(rl[--w]);
			return -1;
		}

	/* Health and counters carry over for routes that keep their name. */
	for (i = 0; i < n->nroutes; i++)
		for (j = 0; j < c->cfg->nroutes; j++)
			if (strcmp(n->routes[i].name,
			    c->cfg->routes[j].name) == 0)
				pool_inherit(n->routes[i].pool,
				    c->cfg->routes[j].pool);
	health_stop(c->health);
	if ((c->health = health_start(c->base, n)) == NULL)
		log_error("msg=\"reload: cannot start health checks\"");
	c->reloading = true;
	atomic_store(&c->reload_acks, 0);
	atomic_store(&c->reload_fails, 0);
	for (w = 0; w < c->nw; w++)
		worker_reload_post(c->w[w], rl[w]);
	/* The workers write -1 where a new socket could not be served. */
	free(c->lfds);
	c->lfds = nfds;
	c->per = nper;
	/* The endpoint stays where it is: its admin_allow is the new one. */
	if (c->admin != NULL && n->admin_on &&
	    addr_equal(&n->admin, &c->admin_cfg->admin)) {
		admin_set_allow(c->admin, &n->admin_allow);
		config_unref(c->admin_cfg);
		c->admin_cfg = config_ref(n);
	}
	config_unref(c->cfg);
	c->cfg = n;
	return 0;
}

/*
 * SIGHUP: read the file again.  A bad file changes nothing.  A good one:
 * listening sockets whose address stays are handed to the new routes as
 * they are (their accept queue never closes, so no client is refused),
 * new addresses are bound (all of them first: one failure and nothing
 * changes), addresses gone are closed by the workers; sessions under way
 * keep the configuration they started with.
 */
static void
control_reload(struct control *c)
{
	struct config	*n;
	char		 why[600];
	int		*nfds;
	size_t		 i, nper = 0;

	if (c->stopping)
		return;
	if (c->reloading) {
		log_warn("msg=\"SIGHUP: a reload is still under way; try again "
		    "in a moment\"");
		return;
	}
	if (c->cfg->path == NULL) {
		log_warn("msg=\"SIGHUP: started without a file (-l/-u): "
		    "nothing to reload\"");
		return;
	}
	log_info("msg=\"SIGHUP: reloading %s\"", c->cfg->path);
	/* systemd (253 on) wants the time with RELOADING=1. */
	snprintf(why, sizeof(why), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
	    (unsigned long long)util_now_us());
	control_status(c, why);
	if ((n = control_reload_load(c)) == NULL)
		return;
	for (i = 0; i < n->nroutes; i++)
		nper += n->routes[i].nlisten;
	if ((nfds = calloc(nper * c->nw + 1, sizeof(*nfds))) == NULL) {
		config_unref(n);
		control_reload_refused(c, "out of memory");
		return;
	}
	if (control_reload_bind(c, n, nfds, nper, why, sizeof(why)) == -1) {
		free(nfds);
		config_unref(n);
		control_reload_refused(c, why);
		return;
	}
	if (control_reload_apply(c, n, nfds, nper) == -1) {
		control_reload_unbind(c, nfds, nper, nper);
		free(nfds);
		config_unref(n);
		control_reload_refused(c, "out of memory");
	}
}

static void
control_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct control	*c = arg;
	char		 buf[32];
	uint64_t	 ms = c->cfg->shutdown_timeout_ms;
	struct timeval	 tv = util_timeval(ms);

	(void)what;
	if (sig == SIGHUP) {
		control_reload(c);
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
 * handled.  Written whole and renamed into place, so a reader never sees
 * half a file.  As root still, like the sockets: util_write_file() does
 * not follow a symlink planted at PATH.tmp.
 */
static int
control_ready_file(const char *path, const struct config *cfg, const int *fds)
{
	char		 abuf[ADDR_STRLEN], *text = NULL;
	struct sockaddr_storage ss;
	struct addr	 a;
	socklen_t	 len;
	size_t		 i, j, k = 0, n = 0;
	FILE		*fp;
	int		 rc, saved;

	if ((fp = open_memstream(&text, &n)) == NULL)
		return -1;
	for (i = 0; i < cfg->nroutes; i++)
		for (j = 0; j < cfg->routes[i].nlisten; j++, k++) {
			len = sizeof(ss);
			if (getsockname(fds[k], (struct sockaddr *)&ss,
			    &len) == -1)
				continue;
			addr_from_sockaddr(&a, (struct sockaddr *)&ss, len);
			fprintf(fp, "%s %s\n", cfg->routes[i].name,
			    addr_format(&a, abuf, sizeof(abuf)));
		}
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
 * for that finds the pidfile too).  A pidfile that cannot be written is
 * fatal, as init scripts would act on a stale one: -1.
 */
static int
control_announce(const struct config *cfg, const int *fds, const char *ready,
    const char *pidfile)
{
	if (pidfile != NULL && control_pidfile(pidfile) == -1) {
		log_error("msg=\"cannot write pidfile %s: %s\"", pidfile,
		    strerror(errno));
		return -1;
	}
	if (ready != NULL && control_ready_file(ready, cfg, fds) == -1)
		log_warn("msg=\"cannot write %s: %s\"", ready,
		    strerror(errno));
	return 0;
}

/* Serve the admin endpoint on ${afd} (ours now; -1: none). */
static int
control_admin_start(struct control *c, struct config *cfg, int afd)
{
	char	 err[512], abuf[ADDR_STRLEN];

	if (afd == -1)
		return 0;
	c->admin_cfg = config_ref(cfg);
	if ((c->admin = admin_start(c->base, afd, &cfg->admin_allow,
	    control_fill, control_release, c, err, sizeof(err))) == NULL) {
		log_error("msg=\"admin: %s\"", err);
		return -1;
	}
	log_info("addr=%s msg=\"admin endpoint listening\"",
	    addr_format(&cfg->admin, abuf, sizeof(abuf)));
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
	size_t	 i, per = nfds / cfg->workers;

	/* Kept to hand the ones that stay over on a reload. */
	if ((c->lfds = calloc(nfds + 1, sizeof(*c->lfds))) == NULL ||
	    (c->w = calloc(cfg->workers, sizeof(*c->w))) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	memcpy(c->lfds, fds, nfds * sizeof(*fds));
	c->per = per;
	for (i = 0; i < cfg->workers; i++) {
		c->w[i] = worker_new(cfg, fds + i * per, per, control_drained,
		    c);
		*given = (i + 1) * per;
		if (c->w[i] == NULL) {
			log_error("msg=\"cannot set up worker %zu\"", i);
			return -1;
		}
		c->w[i]->index = (unsigned)i;
		c->w[i]->alog = c->alog;
		c->w[i]->reloaded = control_reloaded;
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

	admin_stop(c->admin);
	if (c->admin_cfg != NULL)
		config_unref(c->admin_cfg);
	health_stop(c->health);
	for (i = 0; i < c->nw; i++)
		worker_free(c->w[i]);
	free(c->w);
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

int
control_run(struct config *cfg, const int *fds, size_t nfds, int afd,
    struct accesslog *alog, const char *ready, const char *pidfile)
{
	struct event	*sev[NELEM(control_sigs)] = { NULL };
	struct control	 c;
	size_t		 i, given = 0;
	int		 rc = 1;
	bool		 bad, pid_written = false;

	memset(&c, 0, sizeof(c));
	c.cfg = config_ref(cfg);
	c.alog = alog;
	atomic_init(&c.reload_acks, 0);
	atomic_init(&c.reload_fails, 0);
	if ((c.base = event_base_new()) == NULL ||
	    (c.drained_ev = event_new(c.base, -1, 0, control_drained_cb,
	    &c)) == NULL ||
	    (c.stop_timer = evtimer_new(c.base, control_stop_timer_cb,
	    &c)) == NULL ||
	    (c.reload_ev = event_new(c.base, -1, 0, control_reload_done_cb,
	    &c)) == NULL) {
		log_error("msg=\"cannot set up the event loop\"");
		goto out;
	}
	for (i = 0; i < NELEM(control_sigs); i++)
		if ((sev[i] = evsignal_new(c.base, control_sigs[i],
		    control_signal_cb, &c)) == NULL ||
		    evsignal_add(sev[i], NULL) == -1) {
			log_error("msg=\"cannot handle signals\"");
			goto out;
		}
	/* Handlers in: what came while held is delivered to them now. */
	control_mask(SIG_UNBLOCK);
	c.start_time = (uint64_t)time(NULL);
	bad = control_admin_start(&c, cfg, afd) == -1;
	afd = -1;	/* the admin's now, even when that failed */
	if (bad)
		goto out;
	if (control_announce(cfg, fds, ready, pidfile) == -1)
		goto out;
	pid_written = pidfile != NULL;
	/* Everything is bound and open: no thread may start as root. */
	if (control_drop(&c, cfg) == -1 ||
	    control_workers_new(&c, cfg, fds, nfds, &given) == -1 ||
	    control_workers_start(&c, cfg) == -1)
		goto out;
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
