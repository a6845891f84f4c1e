/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * SIGHUP: the configuration reloaded in a running process.  It reads the
 * file again, works out which listening sockets stay (matched by address
 * and route, so that their accept queues never close), binds the new
 * ones, and hands the new configuration to every worker all or nothing,
 * then counts the workers' answers (reload_acked()).  It owns, between a
 * SIGHUP and the hand-over, the new configuration and the sockets it
 * opened for it; the running ones are control.c's (c->lfds) and the
 * workers'.  It calls nothing of control.c's: control.c calls in here,
 * tells systemd around it, and finishes the reload on the control loop
 * once the last worker has answered.
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin.h"
#include "config.h"
#include "control-int.h"
#include "health.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "worker.h"

/* On a worker's thread: one more worker has applied the reload. */
void
reload_acked(void *arg)
{
	struct control	*c = arg;

	if (atomic_fetch_add(&c->reload_acks, 1) + 1 == c->nw)
		event_active(c->reload_ev, EV_READ, 0);
}

/*
 * A reload that will not happen: say why; the caller keeps running as
 * before (and control.c tells systemd so).
 */
static void
reload_refused(struct control *c, const char *why)
{
	log_error("msg=\"reload: %s; keeping the running configuration\"",
	    why);
	reload_note(c, "%s; keeping the running configuration", why);
}

void
reload_note(struct control *c, const char *fmt, ...)
{
	va_list	 ap;

	if (c->reload_report == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(c->reload_report, fmt, ap);
	va_end(ap);
	fputc('\n', c->reload_report);
}

/* Do two optional strings (NULL: off) differ? */
static bool
reload_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/*
 * ${*dst} takes ${src}'s value (NULL: off) if it differs: 0, or -1 out of
 * memory with ${*dst} unchanged.
 */
static int
reload_keep_str(char **dst, const char *src)
{
	char	*v = NULL;

	if (!reload_differ(*dst, src))
		return 0;
	if (src != NULL && (v = util_strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = v;
	return 0;
}

/*
 * A key of ${what} changed that only a restart applies: kept for the log
 * and the report of a reload that goes through (reload_later_log()), and
 * not logged before then, since a refused reload changes nothing.
 */
static void
reload_later(struct control *c, const char *what)
{
	size_t	 n = strlen(c->reload_later);

	snprintf(c->reload_later + n, sizeof(c->reload_later) - n, "%s%s",
	    n > 0 ? ", " : "", what);
}

/* The reload went through: a warning for each key reload_later() kept. */
static void
reload_later_log(const struct control *c)
{
	const char	*k = c->reload_later, *e;

	while (*k != '\0') {
		e = strstr(k, ", ");
		log_warn("msg=\"reload: a change of %.*s takes effect at the "
			 "next restart\"",
		    (int)(e != NULL ? (size_t)(e - k) : strlen(k)), k);
		k = e != NULL ? e + 2 : k + strlen(k);
	}
}

/*
 * Keys a reload cannot change in a running process: note each that ${n}
 * changes (reload_later(), logged once the reload goes through), and
 * carry the value in force over from ${o} (whose own were carried over
 * the same way), so that the next reload compares with what runs, not
 * with the file last read: the same file read again warns again, and
 * going back to what runs is no change.  The admin endpoint
 * keeps its own (control.c's admin_cfg) and is compared with that.
 * -1: out of memory.
 */
static int
reload_fixed(struct control *c, const struct config *o, struct config *n)
{
	const struct config	*a = c->admin != NULL ? c->admin_cfg : NULL;

	c->reload_later[0] = '\0';
	if (reload_differ(o->user, n->user))
		reload_later(c, "user");
	if (reload_differ(o->group, n->group))
		reload_later(c, "group");
	if (reload_differ(o->access_log, n->access_log))
		reload_later(c, "access_log");
	if ((a != NULL) != n->admin_on ||
	    (a != NULL && !addr_equal(&a->admin, &n->admin)))
		reload_later(c, "admin");
	if (reload_differ(o->pidfile, n->pidfile))
		reload_later(c, "pidfile");
	if (reload_differ(o->control, n->control))
		reload_later(c, "control");
	if (o->log != n->log || o->log_level != n->log_level)
		reload_later(c, "log or log_level");
	n->log = o->log;
	n->log_level = o->log_level;
	if (reload_keep_str(&n->user, o->user) == -1 ||
	    reload_keep_str(&n->group, o->group) == -1 ||
	    reload_keep_str(&n->access_log, o->access_log) == -1 ||
	    reload_keep_str(&n->pidfile, o->pidfile) == -1 ||
	    reload_keep_str(&n->control, o->control) == -1)
		return -1;
	return 0;
}

/*
 * Which running listen (c->cfg's, main_listen's order) listen ${j} of the
 * new route ${r} takes over, or c->per: a new one.  The same address in
 * the same route; failing that, for a fixed port, the same address in any
 * route (the file forbids it twice).  "ADDR:0" stays where it was, on
 * the port it was given, as long as its route keeps that line: the Nth
 * of a route's equal "ADDR:0" lines takes over the Nth's sockets.
 */
static size_t
reload_kept(const struct control *c, const struct route *r, size_t j)
{
	const struct addr *a = &r->listen[j];
	size_t		 l, k, nth = 0;

	for (l = 0; l < j; l++)
		if (addr_equal(&r->listen[l], a))
			nth++;
	if ((k = config_listen_find(c->cfg, r->name, a, nth)) == c->per &&
	    addr_port(a) != 0)
		k = config_listen_find(c->cfg, NULL, a, 0);
	return k;
}

/* The route of ${cfg} named ${name}, or NULL. */
static const struct route *
reload_route(const struct config *cfg, const char *name)
{
	size_t	 i = config_route_find(cfg, name);

	return i < cfg->nroutes ? &cfg->routes[i] : NULL;
}

/* Does route ${r} have listen address ${a}? */
static bool
reload_has_listen(const struct route *r, const struct addr *a)
{
	size_t	 j;

	for (j = 0; j < r->nlisten; j++)
		if (addr_equal(&r->listen[j], a))
			return true;
	return false;
}

/* Route ${r}'s upstream line for address ${text}, or NULL. */
static const struct upstream_spec *
reload_spec(const struct route *r, const char *text)
{
	size_t	 j;

	for (j = 0; j < r->nspecs; j++)
		if (strcmp(r->specs[j].text, text) == 0)
			return &r->specs[j];
	return NULL;
}

/* Do two rule lists (allow, deny or proxy_from) say the same? */
static bool
reload_rules_equal(const struct acl_rule *a, size_t na,
    const struct acl_rule *b, size_t nb)
{
	size_t	 i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (a[i].family != b[i].family || a[i].prefix != b[i].prefix ||
		    memcmp(a[i].addr, b[i].addr, sizeof(a[i].addr)) != 0)
			return false;
	return true;
}

static bool
reload_acl_equal(const struct acl *a, const struct acl *b)
{
	return reload_rules_equal(a->allow, a->nallow, b->allow, b->nallow) &&
	    reload_rules_equal(a->deny, a->ndeny, b->deny, b->ndeny);
}

/* Upstream line ${u} of route ${name} keeps its address, was ${was}. */
static void
reload_spec_changes(struct control *c, const char *name,
    const struct upstream_spec *was, const struct upstream_spec *u)
{
	if (was->weight != u->weight)
		reload_note(c, "route %s: upstream %s: weight %u -> %u", name,
		    u->text, was->weight, u->weight);
	if (was->backup != u->backup)
		reload_note(c, "route %s: upstream %s: %s", name, u->text,
		    u->backup ? "now a backup" : "no longer a backup");
	if (was->max_connections != u->max_connections)
		reload_note(c,
		    "route %s: upstream %s: max_connections %u -> %u "
		    "(0: no limit)",
		    name, u->text, was->max_connections, u->max_connections);
}

/*
 * Route ${o} becomes ${n} (same name): its listen addresses and upstream
 * lines that come or go, one line each in the report, and "settings
 * changed" for the rest that a session feels.
 */
static void
reload_route_changes(struct control *c, const struct route *o,
    const struct route *n)
{
	const struct upstream_spec *was;
	char		 abuf[ADDR_STRLEN];
	size_t		 j;

	for (j = 0; j < n->nlisten; j++)
		if (!reload_has_listen(o, &n->listen[j]))
			reload_note(c, "route %s: listen %s added", n->name,
			    addr_format(&n->listen[j], abuf, sizeof(abuf)));
	for (j = 0; j < o->nlisten; j++)
		if (!reload_has_listen(n, &o->listen[j]))
			reload_note(c, "route %s: listen %s removed", n->name,
			    addr_format(&o->listen[j], abuf, sizeof(abuf)));
	for (j = 0; j < n->nspecs; j++)
		if ((was = reload_spec(o, n->specs[j].text)) == NULL)
			reload_note(c, "route %s: upstream %s added", n->name,
			    n->specs[j].text);
		else
			reload_spec_changes(c, n->name, was, &n->specs[j]);
	for (j = 0; j < o->nspecs; j++)
		if (reload_spec(n, o->specs[j].text) == NULL)
			reload_note(c, "route %s: upstream %s removed", n->name,
			    o->specs[j].text);
	if (o->balance != n->balance || o->buffer != n->buffer ||
	    o->connect_timeout_ms != n->connect_timeout_ms ||
	    o->idle_timeout_ms != n->idle_timeout_ms ||
	    o->fin_timeout_ms != n->fin_timeout_ms ||
	    o->retries != n->retries ||
	    o->max_connections != n->max_connections ||
	    o->max_per_client != n->max_per_client ||
	    o->proxy_protocol != n->proxy_protocol ||
	    o->accept_proxy != n->accept_proxy ||
	    o->health_check != n->health_check ||
	    o->check_interval_ms != n->check_interval_ms ||
	    o->backlog != n->backlog || o->keepalive != n->keepalive ||
	    o->rise != n->rise || o->fall != n->fall ||
	    o->resolve_ms != n->resolve_ms ||
	    o->proxy_timeout_ms != n->proxy_timeout_ms ||
	    !reload_acl_equal(&o->acl, &n->acl) ||
	    !reload_acl_equal(&o->proxy_from, &n->proxy_from))
		reload_note(c, "route %s: settings changed", n->name);
}

/*
 * What a good reload changes, for whoever asked for it (relay46ctl
 * reload): routes added and removed, and each kept route's changes; when
 * none of these wrote a line, "no change to the routes".
 */
static void
reload_changes(struct control *c, const struct config *o,
    const struct config *n)
{
	const struct route *r;
	long		 start;
	size_t		 i;

	if (c->reload_report == NULL)
		return;
	start = ftell(c->reload_report);
	for (i = 0; i < n->nroutes; i++) {
		if ((r = reload_route(o, n->routes[i].name)) == NULL)
			reload_note(c, "route %s added", n->routes[i].name);
		else
			reload_route_changes(c, r, &n->routes[i]);
	}
	for (i = 0; i < o->nroutes; i++)
		if (reload_route(n, o->routes[i].name) == NULL)
			reload_note(c, "route %s removed", o->routes[i].name);
	if (ftell(c->reload_report) == start)
		reload_note(c, "no change to the routes");
	if (c->reload_later[0] != '\0')
		reload_note(c, "waits for a restart: %s", c->reload_later);
}

/*
 * A reload's new configuration, with its pools, or NULL (logged, refused)
 * if the file has errors, asks for what only a restart can do, or memory
 * runs out.
 */
static struct config *
reload_load(struct control *c)
{
	struct config	*n;
	char		*errs = NULL, *line, *save = NULL, why[128], q[2048];

	if ((n = config_load(c->cfg->path, &errs)) == NULL) {
		for (line = errs != NULL ? strtok_r(errs, "\n", &save) : NULL;
		     line != NULL; line = strtok_r(NULL, "\n", &save)) {
			log_error("msg=\"reload: %s\"",
			    log_quote(line, q, sizeof(q)));
			reload_note(c, "%s", line);
		}
		free(errs);
		reload_refused(c, "the file has errors");
		return NULL;
	}
	log_warn_lines("reload: ", n->warnings);
	if (n->workers != c->nw) {
		snprintf(why, sizeof(why), "workers changed from %u to %u, "
		    "which needs a restart", c->nw, n->workers);
		config_unref(n);
		reload_refused(c, why);
		return NULL;
	}
	/* Only now, refusals checked: pools register counters for good. */
	if (reload_fixed(c, c->cfg, n) == -1 || pool_attach(n) == -1) {
		config_unref(n);
		reload_refused(c, "out of memory");
		return NULL;
	}
	return n;
}

/*
 * Undo reload_bind() for the first ${k} listens of ${nfds}: close
 * what the reload opened; the kept sockets are the workers'.
 */
static void
reload_unbind(struct control *c, int *nfds, size_t nper, size_t k)
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

/* "listening" for new socket ${fd} of ${a}: the port as bound (port 0). */
static void
reload_listening(const struct route *r, const struct addr *a, int fd)
{
	char		 abuf[ADDR_STRLEN];
	struct addr	 bound = *a;

	(void)listener_address(fd, &bound);
	log_info("route=%s addr=%s msg=\"listening\"", r->name,
	    addr_format(&bound, abuf, sizeof(abuf)));
}

/*
 * Route ${r} keeps the running listen ${k2}: its sockets go to ${nfds}
 * (one per worker, ${nper} apart), and a backlog that changed is applied
 * to them (Linux takes a second listen() on a listening socket).  A
 * failure there is logged, not fatal: the old queue length serves on.
 */
static void
reload_keep(struct control *c, const struct route *r, size_t k2, int *nfds,
    size_t nper)
{
	size_t		 i = config_listen_route(c->cfg, k2);
	const struct route *o = i < c->cfg->nroutes ? &c->cfg->routes[i] : NULL;
	bool		 again = o != NULL && o->backlog != r->backlog;
	unsigned	 w;
	int		 fd;

	for (w = 0; w < c->nw; w++) {
		fd = c->lfds[w * c->per + k2];
		nfds[w * nper] = fd;
		if (again && listener_listen(fd, r->backlog) == -1)
			log_warn("route=%s msg=\"reload: backlog %u: %s\"",
			    r->name, r->backlog, strerror(errno));
	}
}

/*
 * Fill ${nfds} (worker by worker, ${nper} each) with ${n}'s listening
 * sockets: the running ones for addresses that stay, new ones for the
 * rest.  All or nothing: on a failure, close what this opened and return
 * -1 with the reason in ${why}.
 */
static int
reload_bind(struct control *c, const struct config *n, int *nfds,
    size_t nper, char *why, size_t whylen)
{
	const struct route *r;
	char		 err[512];
	int		 tmp[CONFIG_WORKERS_MAX];
	size_t		 i, j, k, k2, nw = c->nw;
	unsigned	 w;

	assert(nw <= CONFIG_WORKERS_MAX);	/* config.c caps workers */
	for (i = 0, k = 0; i < n->nroutes; i++) {
		r = &n->routes[i];
		for (j = 0; j < r->nlisten; j++, k++) {
			if ((k2 = reload_kept(c, r, j)) < c->per) {
				reload_keep(c, r, k2, nfds + k, nper);
				continue;
			}
			if (listener_open(&r->listen[j], r->keepalive,
				r->backlog, (unsigned)nw, tmp, err,
				sizeof(err)) == -1) {
				snprintf(why, whylen, "route %s: %s%s", r->name,
				    err, errno == EACCES && geteuid() != 0 ?
				    " (relay46 no longer runs as root: a new "
				    "port below 1024 needs a restart)" : "");
				goto undo;
			}
			reload_listening(r, &r->listen[j], tmp[0]);
			for (w = 0; w < nw; w++)
				nfds[w * nper + k] = tmp[w];
		}
	}
	return 0;
undo:
	reload_unbind(c, nfds, nper, k);
	return -1;
}

/*
 * Hand ${n} and its sockets ${nfds} over: from now on it is the config.
 * All or nothing: every worker's part is prepared before any is handed
 * over, down to the listeners of the new sockets, so running out of
 * memory here changes nothing (-1), and once handed over no worker can
 * fail to apply it: each serves every socket of ${nfds}, so c->lfds is
 * exactly what the workers hold.
 */
static int
reload_apply(struct control *c, struct config *n, int *nfds,
    size_t nper)
{
	struct worker_reload *rl[CONFIG_WORKERS_MAX];
	struct health	*h;
	size_t		 i, j;
	unsigned	 w;

	for (w = 0; w < c->nw; w++) {
		rl[w] = worker_reload_prepare(c->w[w], n, nfds + w * nper, nper,
		    c->lfds + w * c->per, c->per);
		if (rl[w] == NULL)
			goto discard;
	}
	/* Health and counters carry over for routes that keep their name. */
	for (i = 0; i < n->nroutes; i++)
		if ((j = config_route_find(c->cfg, n->routes[i].name)) <
		    c->cfg->nroutes)
			pool_inherit(n->routes[i].pool, c->cfg->routes[j].pool);
	/*
	 * The new checks before the old ones stop: with health_check on,
	 * only checks bring a down upstream up (pool_connect_ok()), so a
	 * reload that could not start them must not go ahead without.
	 * pool_inherit() wrote only to ${n}'s pools, which go with it.
	 */
	if ((h = health_start(c->base, n)) == NULL)
		goto discard;
	health_stop(c->health);
	c->health = h;
	c->reloading = true;
	atomic_store(&c->reload_acks, 0);
	for (w = 0; w < c->nw; w++)
		worker_reload_post(c->w[w], rl[w]);
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
discard:
	while (w > 0) {
		w--;
		worker_reload_discard(c->w[w], rl[w]);
	}
	return -1;
}

const char *
reload_blocked(const struct control *c)
{
	if (c->stopping)
		return "relay46 is stopping";
	if (c->reloading)
		return "a reload is still under way; try again in a moment";
	if (c->cfg->path == NULL)
		return "started without a file (-l/-u): nothing to reload";
	return NULL;
}

/*
 * SIGHUP: read the file again.  A bad file changes nothing.  A good one:
 * listening sockets whose address stays are handed to the new routes as
 * they are (their accept queue never closes, so no client is refused),
 * new addresses are bound (all of them first: one failure and nothing
 * changes), addresses gone are closed by the workers; sessions under way
 * keep the configuration they started with.
 */
int
reload_start(struct control *c)
{
	struct config	*n, *o;
	char		 why[600];
	int		*nfds;
	size_t		 i, nper = 0;

	if ((n = reload_load(c)) == NULL)
		return -1;
	for (i = 0; i < n->nroutes; i++)
		nper += n->routes[i].nlisten;
	if ((nfds = calloc(nper * c->nw + 1, sizeof(*nfds))) == NULL) {
		config_unref(n);
		reload_refused(c, "out of memory");
		return -1;
	}
	if (reload_bind(c, n, nfds, nper, why, sizeof(why)) == -1) {
		free(nfds);
		config_unref(n);
		reload_refused(c, why);
		return -1;
	}
	/* The report says what changed only once it has: not on a refusal. */
	o = config_ref(c->cfg);
	if (reload_apply(c, n, nfds, nper) == -1) {
		config_unref(o);
		reload_unbind(c, nfds, nper, nper);
		free(nfds);
		config_unref(n);
		reload_refused(c, "out of memory");
		return -1;
	}
	reload_later_log(c);
	reload_changes(c, o, n);
	config_unref(o);
	return 0;
}
