#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "accesslog.h"
#include "control.h"
#include "health.h"
#include "sdnotify.h"
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

static void
control_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct control	*c = arg;
	char		 buf[32];
	uint64_t	 ms = c->cfg->shutdown_timeout_ms;
	struct timeval	 tv = { (time_t)(ms / 1000),
			    (suseconds_t)(ms % 1000) * 1000 };

	(void)what;
	if (sig == SIGHUP) {
		log_warn("msg=\"SIGHUP: reload is not supported yet; restart "
		    "relay46 to apply a new configuration\"");
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

int
control_run(struct config *cfg, const int *fds, size_t nfds,
    struct accesslog *alog)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct event	*sev[4] = { NULL };
	struct control	 c;
	size_t		 i, per, given = 0;
	int		 rc = 1;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.alog = alog;
	if ((c.base = event_base_new()) == NULL ||
	    (c.drained_ev = event_new(c.base, -1, 0, control_drained_cb,
	    &c)) == NULL ||
	    (c.stop_timer = evtimer_new(c.base, control_stop_timer_cb,
	    &c)) == NULL) {
		log_error("msg=\"cannot set up the event loop\"");
		goto out;
	}
	for (i = 0; i < 4; i++)
		if ((sev[i] = evsignal_new(c.base, sigs[i], control_signal_cb,
		    &c)) == NULL || evsignal_add(sev[i], NULL) == -1) {
			log_error("msg=\"cannot handle signals\"");
			goto out;
		}
	/* Each worker gets its own socket of every address (main_listen). */
	per = nfds / cfg->workers;
	if ((c.w = calloc(cfg->workers, sizeof(*c.w))) == NULL) {
		log_error("msg=\"out of memory\"");
		goto out;
	}
	for (i = 0; i < cfg->workers; i++) {
		c.w[i] = worker_new(cfg, fds + i * per, per, control_drained,
		    &c);
		given = (i + 1) * per;
		if (c.w[i] != NULL)
			c.w[i]->alog = c.alog;
		if (c.w[i] == NULL) {
			log_error("msg=\"cannot set up worker %zu\"", i);
			goto out;
		}
		c.nw++;
	}
	if ((c.health = health_start(c.base, cfg)) == NULL) {
		log_error("msg=\"cannot start health checks\"");
		goto out;
	}
	for (i = 0; i < c.nw; i++)
		if (worker_start(c.w[i]) == -1) {
			log_error("msg=\"cannot start a worker: %s\"",
			    strerror(errno));
			/* Those started must be stopped before they are freed. */
			control_each(&c, worker_abort);
			for (i = 0; i < c.nw; i++)
				worker_join(c.w[i]);
			goto out;
		}
	/* Listening since main_listen, serving from now on: tell systemd. */
	control_status(&c, "READY=1\n");
	if (getenv("NOTIFY_SOCKET") != NULL &&
	    (c.status_timer = event_new(c.base, -1, EV_PERSIST,
	    control_status_cb, &c)) != NULL) {
		struct timeval	 tv = { CONTROL_STATUS_SECS, 0 };

		event_add(c.status_timer, &tv);
	}
	event_base_dispatch(c.base);
	for (i = 0; i < c.nw; i++)
		worker_join(c.w[i]);
	rc = 0;
out:
	/* Descriptors never handed to a worker are still ours. */
	for (i = given; fds != NULL && i < nfds; i++)
		close(fds[i]);
	health_stop(c.health);
	for (i = 0; i < c.nw; i++)
		worker_free(c.w[i]);
	free(c.w);
	/* After the workers: their last sessions were still logging. */
	accesslog_close(c.alog);
	for (i = 0; i < 4; i++)
		if (sev[i] != NULL)
			event_free(sev[i]);
	if (c.stop_timer != NULL)
		event_free(c.stop_timer);
	if (c.status_timer != NULL)
		event_free(c.status_timer);
	if (c.drained_ev != NULL)
		event_free(c.drained_ev);
	if (c.base != NULL)
		event_base_free(c.base);
	return rc;
}
