/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.c: the INI file (or the -l/-u command line) made into one
 * immutable struct config.
 *
 * The parse is table-driven: cfg_keys[] names every key once, with its
 * section, its type and its range, and the same table serves the parser,
 * the "did you mean" suggestions and the documentation test
 * (config_key_names()).  Every error is collected as "FILE:LINE: message"
 * and all of them are returned at once, in file order, so that one run
 * of "relay46 -t" shows everything wrong; nothing is bound or started
 * from a file with an error.
 *
 * What it owns: the struct config it builds and everything hanging from
 * it (routes, their upstream lines and addresses, ACLs), freed with the
 * last reference (config_unref()); and, while a load runs, the struct
 * cfg_parse with its error lists.  It has no global state and builds no
 * run-time state: the daemon gives a config to run its pools afterwards
 * (pool_attach()), and the last reference frees them through the
 * config's runtime_free hook, so this file never calls pool.c.
 *
 * Threads: config_load() runs on the main thread, at start and again on
 * SIGHUP (the control loop runs there too), never on a worker.  It blocks
 * while host name upstreams are looked up (resolve_sync(), bounded by the
 * resolver's timeouts); that stalls the control loop only, never a
 * session.  Once returned, a config is never written again and any
 * thread may read it; config_ref() and config_unref() are atomic.
 *
 * It never logs and never exits: errors and warnings go back to the
 * caller as text, and main.c or reload.c decides what to do with them.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "balance.h"
#include "config.h"
#include "log.h"
#include "privdrop.h"
#include "resolve.h"
#include "splice.h"
#include "units.h"
#include "util.h"

/* Where a key may be given: under [global], or under a [route NAME]. */
enum cfg_scope {
	CFG_GLOBAL = 0,
	CFG_ROUTE,
};

enum cfg_type {
	CFG_T_FUNC = 0,		/* set() does the work */
	CFG_T_DURATION,		/* uint64_t ms */
	CFG_T_SIZE,		/* size_t */
	CFG_T_UINT,		/* unsigned, [min, max] */
	CFG_T_BOOL,		/* bool */
	CFG_T_OFF_ONLY,		/* not built yet: only "off"/"0" is accepted */
};

#define CFG_REPEAT	0x1	/* may be given more than once */

struct cfg_parse;

/*
 * One key: most are stored straight into struct config or struct route
 * at ${off} by type; those that need more (several fields, a lookup, a
 * special word such as "auto") are CFG_T_FUNC and have a set().
 */
struct cfg_key {
	const char	*name;
	enum cfg_scope	 scope;
	enum cfg_type	 type;
	unsigned	 flags;
	size_t		 off;		/* into struct config or struct route */
	uint64_t	 min, max;	/* CFG_T_UINT, CFG_T_DURATION, CFG_T_SIZE */
	int		(*set)(struct cfg_parse *, const char *, char *, size_t);
};

enum cfg_section {
	CFG_SEC_NONE = 0,	/* before any header */
	CFG_SEC_GLOBAL,
	CFG_SEC_ROUTE,
	CFG_SEC_BAD,		/* header was wrong: its keys are skipped */
};

/* One error or warning, until cfg_err_join() makes the text. */
struct cfg_err {
	int		 line;		/* 0: about the whole file */
	size_t		 seq;		/* keeps the order within a line */
	char		*msg;
};

/* The state of one config_load() or config_quick(). */
struct cfg_parse {
	const char	*path;
	FILE		*fp;
	unsigned	 flags;		/* CONFIG_LOAD_* */
	/*
	 * A line, a BOM before it, a NUL and one to spare: a line longer
	 * than this keeps is too long, BOM or not (cfg_getline()).
	 */
	char		 buf[CONFIG_LINE_MAX + 5];
	size_t		 nread;		/* bytes of the file read so far */
	int		 line;		/* physical line last handed to inih */
	int		 read_errno;	/* of the first read that failed */
	struct config	*c;
	enum cfg_section sec;
	struct route	*cur;		/* valid while sec == CFG_SEC_ROUTE */
	bool		 seen_global;
	int		*seen;		/* per key: line where it was set in this section */
	struct cfg_err	*errv;
	size_t		 nerr;
	struct cfg_err	*warnv;		/* as errv, for config->warnings */
	size_t		 nwarn;
	bool		 oom;
	size_t		*bad;		/* route << 1 | CFG_BAD_*: a line refused */
	size_t		 nbad;
	int		 group_line;
};

/*
 * The whole file's listen addresses, sorted by family and port, then
 * wildcards before hosts and hosts by address, then by route and line
 * order.  An address overlaps only listens of its family and port
 * (addr_overlap()): the wildcards there, and its own host's.  Those are
 * two runs of the index, so the clash and loop checks, and a reload's
 * config_listen_find(), take a few steps each: a file of 20 000 routes
 * is checked in well under a second, where comparing each with all took
 * 12 s, whether the ports differ or 20 000 addresses share port 443.
 * Port 0 never clashes, so it is left out.  Kept with the config
 * (c->lidx).
 */
struct cfg_lent {
	sa_family_t	 fam;
	uint16_t	 port;
	unsigned char	 spec;		/* 0: a wildcard (first), 1: a host */
	unsigned char	 host[16];	/* spec: the address and its scope */
	uint32_t	 scope;
	size_t		 k, j;		/* route, its listen */
};

struct cfg_index {
	struct cfg_lent	*e;
	size_t		 n;
};

/* Of a route's lines, those whose absence would go unsaid once refused. */
#define CFG_BAD_UPSTREAM	0
#define CFG_BAD_LISTEN		1

/*
 * No configuration is this big (a route takes a few hundred bytes); a
 * larger file is a mistake, such as -c /dev/zero, and is refused before
 * it takes the daemon's memory or time.
 */
#define CFG_FILE_MAX		(16u << 20)

static int cfg_set_workers(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_max_connections(struct cfg_parse *, const char *, char *,
	    size_t);
static int cfg_set_log(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_admin(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_admin_allow(struct cfg_parse *, const char *, char *,
	    size_t);
static int cfg_set_user(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_group(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_access_log(struct cfg_parse *, const char *, char *,
	    size_t);
static int cfg_set_log_level(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_pidfile(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_control(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_splice(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_listen(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_upstream(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_balance(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_allow(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_deny(struct cfg_parse *, const char *, char *, size_t);
static int cfg_set_max_per_client(struct cfg_parse *, const char *, char *,
	    size_t);
static int cfg_set_proxy_protocol(struct cfg_parse *, const char *, char *,
	    size_t);
static int cfg_set_health_check(struct cfg_parse *, const char *, char *,
	    size_t);
static int cfg_set_accept_proxy(struct cfg_parse *, const char *, char *,
	    size_t);
static int cfg_set_proxy_from(struct cfg_parse *, const char *, char *,
	    size_t);

/*
 * Every key, each with the range relay46.ini(5) documents for it: a range
 * changed here must change there too (test_config checks that every key
 * is documented, not what its range says).  min and max of a duration
 * are in milliseconds, of a size in bytes.
 */
#define G(m)	offsetof(struct config, m)
#define R(m)	offsetof(struct route, m)

static const struct cfg_key cfg_keys[] = {
	{ "workers", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_workers },
	{ "max_connections", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0,
	    cfg_set_max_connections },
	{ "log", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_log },
	{ "log_level", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_log_level },
	{ "shutdown_timeout", CFG_GLOBAL, CFG_T_DURATION, 0,
	    G(shutdown_timeout_ms), 0, UNITS_DURATION_MAX, NULL },
	{ "user", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_user },
	{ "group", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_group },
	{ "access_log", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0,
	    cfg_set_access_log },
	{ "admin", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_admin },
	{ "admin_allow", CFG_GLOBAL, CFG_T_FUNC, CFG_REPEAT, 0, 0, 0,
	    cfg_set_admin_allow },
	{ "splice", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_splice },
	{ "pidfile", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_pidfile },
	{ "control", CFG_GLOBAL, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_control },

	{ "listen", CFG_ROUTE, CFG_T_FUNC, CFG_REPEAT, 0, 0, 0,
	    cfg_set_listen },
	{ "backlog", CFG_ROUTE, CFG_T_UINT, 0, R(backlog), 1, 65535, NULL },
	{ "upstream", CFG_ROUTE, CFG_T_FUNC, CFG_REPEAT, 0, 0, 0,
	    cfg_set_upstream },
	{ "balance", CFG_ROUTE, CFG_T_FUNC, 0, 0, 0, 0, cfg_set_balance },
	{ "connect_timeout", CFG_ROUTE, CFG_T_DURATION, 0,
	    R(connect_timeout_ms), 1, UNITS_DURATION_MAX, NULL },
	{ "idle_timeout", CFG_ROUTE, CFG_T_DURATION, 0, R(idle_timeout_ms), 0,
	    UNITS_DURATION_MAX, NULL },
	{ "fin_timeout", CFG_ROUTE, CFG_T_DURATION, 0, R(fin_timeout_ms), 0,
	    UNITS_DURATION_MAX, NULL },
	{ "keepalive", CFG_ROUTE, CFG_T_BOOL, 0, R(keepalive), 0, 0, NULL },
	{ "retries", CFG_ROUTE, CFG_T_UINT, 0, R(retries), 0, 100, NULL },
	{ "buffer", CFG_ROUTE, CFG_T_SIZE, 0, R(buffer), 1024, 64 << 20, NULL },
	{ "max_connections", CFG_ROUTE, CFG_T_UINT, 0, R(max_connections), 0,
	    10000000, NULL },
	{ "max_per_client", CFG_ROUTE, CFG_T_FUNC, 0, 0, 0, 0,
	    cfg_set_max_per_client },
	{ "allow", CFG_ROUTE, CFG_T_FUNC, CFG_REPEAT, 0, 0, 0, cfg_set_allow },
	{ "deny", CFG_ROUTE, CFG_T_FUNC, CFG_REPEAT, 0, 0, 0, cfg_set_deny },
	{ "proxy_protocol", CFG_ROUTE, CFG_T_FUNC, 0, 0, 0, 0,
	    cfg_set_proxy_protocol },
	{ "accept_proxy", CFG_ROUTE, CFG_T_FUNC, 0, 0, 0, 0,
	    cfg_set_accept_proxy },
	{ "proxy_from", CFG_ROUTE, CFG_T_FUNC, CFG_REPEAT, 0, 0, 0,
	    cfg_set_proxy_from },
	{ "proxy_timeout", CFG_ROUTE, CFG_T_DURATION, 0, R(proxy_timeout_ms), 1,
	    UNITS_DURATION_MAX, NULL },
	{ "health_check", CFG_ROUTE, CFG_T_FUNC, 0, 0, 0, 0,
	    cfg_set_health_check },
	{ "check_interval", CFG_ROUTE, CFG_T_DURATION, 0, R(check_interval_ms),
	    10, UNITS_DURATION_MAX, NULL },
	{ "rise", CFG_ROUTE, CFG_T_UINT, 0, R(rise), 1, 100, NULL },
	{ "fall", CFG_ROUTE, CFG_T_UINT, 0, R(fall), 1, 100, NULL },
	{ "resolve", CFG_ROUTE, CFG_T_DURATION, 0, R(resolve_ms), 0,
	    UNITS_DURATION_MAX, NULL },
};

#undef G
#undef R

/*
 * Append ${msg} at ${line} to the list *${v} of *${n}.  Out of memory is
 * remembered in ${p}->oom rather than returned: the load then fails with
 * "out of memory" in place of the list it could not keep.
 */
static void
cfg_note(struct cfg_parse *p, struct cfg_err **v, size_t *n, int line,
    const char *raw)
{
	struct cfg_err	*nv;
	char		 msg[4 * 512];

	/*
	 * The message quotes the file, which may hold any byte: a control
	 * character, an escape sequence to the operator's terminal or a CR
	 * that splits a log line, goes out as \xHH.
	 */
	util_escape(raw, msg, sizeof(msg), "");

	if ((nv = reallocarray(*v, *n + 1, sizeof(*nv))) == NULL) {
		p->oom = true;
		return;
	}
	*v = nv;
	nv[*n].line = line;
	nv[*n].seq = *n;
	if ((nv[*n].msg = util_strdup(msg)) == NULL) {
		p->oom = true;
		return;
	}
	(*n)++;
}

/* Record one error; "FILE:LINE: " when ${line} > 0, else "FILE: ". */
static void __attribute__((format(printf, 3, 4)))
cfg_error(struct cfg_parse *p, int line, const char *fmt, ...)
{
	char		 msg[512];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_note(p, &p->errv, &p->nerr, line, msg);
}

/*
 * Record one warning, as cfg_error(): what works but is likely a mistake,
 * which must not stop a file that ran before from loading.
 */
static void __attribute__((format(printf, 3, 4)))
cfg_warn(struct cfg_parse *p, int line, const char *fmt, ...)
{
	char		 msg[512];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_note(p, &p->warnv, &p->nwarn, line, msg);
}

/* Has line ${line} an error already?  Used to keep inih's vaguer one out. */
static bool
cfg_has_error(const struct cfg_parse *p, int line)
{
	size_t	 i;

	for (i = 0; i < p->nerr; i++)
		if (p->errv[i].line == line)
			return true;
	return false;
}

/* File order; errors without a line (whole-file ones) last. */
static int
cfg_err_cmp(const void *a, const void *b)
{
	const struct cfg_err *x = a, *y = b;
	int	 lx = x->line > 0 ? x->line : INT_MAX;
	int	 ly = y->line > 0 ? y->line : INT_MAX;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The ${n} notes of ${v}, sorted, as one string of lines: "FILE:LINE: "
 * each, or "FILE: " without a line.  NULL on out of memory.
 */
static char *
cfg_err_join(const char *path, struct cfg_err *v, size_t n)
{
	size_t	 i, len = 0, off = 0;
	char	*out;
	int	 k;

	qsort(v, n, sizeof(*v), cfg_err_cmp);
	/* 16: ':', an int's digits and sign, ": " and '\n', with room over. */
	for (i = 0; i < n; i++)
		len += strlen(path) + strlen(v[i].msg) + 16;
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (v[i].line > 0)
			k = snprintf(out + off, len + 1 - off, "%s:%d: %s\n",
			    path, v[i].line, v[i].msg);
		else
			k = snprintf(out + off, len + 1 - off, "%s: %s\n",
			    path, v[i].msg);
		if (k > 0)
			off += (size_t)k;
	}
	return out;
}

static void
cfg_notes_free(struct cfg_err *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i].msg);
	free(v);
}

/*
 * A new route's values before its keys are read: the defaults that
 * relay46.ini(5) and etc/relay46.ini document, which must agree with
 * these.
 */
static void
cfg_route_defaults(struct route *r)
{
	memset(r, 0, sizeof(*r));
	r->balance = BALANCE_ROUNDROBIN;
	r->connect_timeout_ms = 5000;
	r->idle_timeout_ms = 3600 * 1000;
	r->fin_timeout_ms = 60 * 1000;
	r->retries = 2;
	r->backlog = 0;		/* as long as the kernel allows */
	r->buffer = 64 * 1024;
	r->keepalive = true;
	r->max_connections = 0;
	r->check_interval_ms = 5000;
	r->rise = 2;
	r->fall = 3;
	r->resolve_ms = 30 * 1000;
	/* A relay sends its header at once: only a stranger takes longer. */
	r->proxy_timeout_ms = 3000;
}

static unsigned	cfg_cpus(void);

/*
 * Without a "workers" key: one per online CPU, as HAProxy and nginx do
 * (short connections, accept-bound, scale with them; see NEWS), or
 * RELAY46_WORKERS when set (1..64), so that the test suite can run every
 * scenario with one worker and with several.
 */
static unsigned
cfg_default_workers(void)
{
	const char	*v = getenv("RELAY46_WORKERS");
	uint64_t	 n;

	if (v == NULL || units_parse_uint(v, 1, 64, &n, NULL, 0) == -1)
		return cfg_cpus();
	return (unsigned)n;
}

/*
 * "splice": on, off or always (enum splice_mode); the booleans' other
 * spellings too, as the key was a boolean before "always".  Without
 * splice(2) in this build every value means off.  -1 for anything else.
 */
static int
cfg_splice_parse(const char *v)
{
	int	 b;

	if (strcmp(v, "always") == 0)
		return splice_supported() ? SPLICE_ALWAYS : SPLICE_OFF;
	if (units_parse_bool(v, &b, NULL, 0) == -1)
		return -1;
	return b != 0 && splice_supported() ? SPLICE_ON : SPLICE_OFF;
}

/*
 * Without a "splice" key: on where this build has splice(2), unless
 * RELAY46_SPLICE says otherwise, so that the test suite can run every
 * scenario on the buffered path, and on the splice path alone, too.
 */
static unsigned char
cfg_default_splice(void)
{
	const char	*v = getenv("RELAY46_SPLICE");
	int		 m;

	if (v != NULL && (m = cfg_splice_parse(v)) != -1)
		return (unsigned char)m;
	return splice_supported() ? SPLICE_ON : SPLICE_OFF;
}

static int
cfg_set_splice(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	int	 m;

	if ((m = cfg_splice_parse(v)) == -1) {
		err_set(err, errlen, "expected on, off or always");
		return -1;
	}
	p->c->splice = (unsigned char)m;
	return 0;
}

/*
 * An empty configuration with the global defaults and one reference; the
 * [global] keys then overwrite them.  NULL on out of memory.
 */
static struct config *
cfg_new(void)
{
	struct config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	atomic_init(&c->refs, 1);
	c->workers = cfg_default_workers();
	c->splice = cfg_default_splice();
	c->max_connections_auto = true;		/* cfg_finish() sets it */
	c->log = CONFIG_LOG_STDERR;
	c->log_level = LOG_LEVEL_INFO;
	c->shutdown_timeout_ms = 30 * 1000;
	return c;
}

/*
 * Free ${c} and all it owns, and what was hung on it (runtime_free),
 * first, as it may point into the routes.  Only through
 * config_unref(), or on a load that failed (no other reference exists
 * then); a half-built config is fine, every pointer being NULL or valid.
 */
static void
cfg_free(struct config *c)
{
	size_t	 i, j;

	if (c == NULL)
		return;
	if (c->runtime_free != NULL)
		c->runtime_free(c);
	for (i = 0; i < c->nroutes; i++) {
		free(c->routes[i].name);
		free(c->routes[i].listen);
		free(c->routes[i].listen_line);
		for (j = 0; j < c->routes[i].nspecs; j++) {
			free(c->routes[i].specs[j].text);
			free(c->routes[i].specs[j].host);
		}
		free(c->routes[i].specs);
		free(c->routes[i].up);
		acl_free(&c->routes[i].acl);
		acl_free(&c->routes[i].proxy_from);
	}
	free(c->routes);
	free(c->names);
	free(c->listens_at);
	if (c->lidx != NULL)
		free(c->lidx->e);
	free(c->lidx);
	free(c->access_log);
	free(c->pidfile);
	free(c->control);
	free(c->user);
	free(c->group);
	acl_free(&c->admin_allow);
	free(c->path);
	free(c->warnings);
	free(c);
}

/*
 * Sequentially consistent, the default: references are taken a few times
 * per start or reload (each worker's generation, health, admin), never
 * per session, so a weaker order would save nothing.
 */
struct config *
config_ref(struct config *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

/*
 * The thread that drops the last reference frees the config, which may
 * be a worker freeing an old generation; the decrement's full ordering
 * makes every other thread's use of the config happen before the free.
 */
void
config_unref(struct config *c)
{
	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
		cfg_free(c);
}

size_t
config_listen_route(const struct config *c, size_t k)
{
	size_t	 lo = 0, hi = c->nroutes, mid;

	if (k >= c->listens_at[c->nroutes])
		return c->nroutes;
	/* The last route that starts at or before k: the one that has it. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (c->listens_at[mid] <= k)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Filled on each call, from cfg_keys[], so the two can never disagree. */
const char *const *
config_key_names(void)
{
	static const char	*names[NELEM(cfg_keys) + 1];
	size_t			 i;

	for (i = 0; i < NELEM(cfg_keys); i++)
		names[i] = cfg_keys[i].name;
	names[i] = NULL;
	return names;
}

/* "auto": one per online CPU, as many as the machine can run at once. */
static unsigned
cfg_cpus(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX :
	    (unsigned)n;
}

/* "auto" (one per online CPU) or 1..CONFIG_WORKERS_MAX. */
static int
cfg_set_workers(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	uint64_t	 n;

	if (strcmp(v, "auto") == 0) {
		p->c->workers = cfg_cpus();
		return 0;
	}
	if (units_parse_uint(v, 1, CONFIG_WORKERS_MAX, &n, err, errlen) == -1)
		return -1;
	p->c->workers = (unsigned)n;
	return 0;
}

/* A number (0: no limit), or "auto": what the open files limit allows. */
static int
cfg_set_max_connections(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	uint64_t	 n;

	if (strcmp(v, "auto") == 0) {
		p->c->max_connections_auto = true;
		return 0;
	}
	if (units_parse_uint(v, 0, CONFIG_MAX_CONNECTIONS_MAX, &n, err,
	    errlen) == -1)
		return -1;
	p->c->max_connections = (unsigned)n;
	p->c->max_connections_auto = false;
	return 0;
}

/*
 * Counted generously rather than exactly: too small a reserve lets the
 * sessions use up the descriptors that health checks, lookups, the admin
 * endpoint or a log reopen need, and then those fail with EMFILE instead
 * of max_connections turning a client away.
 */
unsigned long long
config_fd_reserve(const struct config *c)
{
	const struct route	*r;
	unsigned long long	 n = CONFIG_FD_SPARE, listens = 0;
	size_t			 i, j;

	for (i = 0; i < c->nroutes; i++) {
		r = &c->routes[i];
		listens += r->nlisten;
		if (!r->health_check)
			continue;
		/* As pool_new() sizes a pool: room for each name's addresses. */
		n += r->nup;
		for (j = 0; j < r->nspecs; j++)
			if (r->specs[j].host != NULL)
				n += CONFIG_NAME_ADDRS;
	}
	return n + (unsigned long long)c->workers *
	    (CONFIG_FD_PER_WORKER + listens);
}

unsigned
config_max_connections_for(unsigned long long nofile,
    unsigned long long reserve)
{
	unsigned long long	 n;

	/* Two descriptors per session: the client's and the upstream's. */
	n = nofile > reserve ? (nofile - reserve) / 2 : 0;
	return n < 1 ? 1 : n > CONFIG_MAX_CONNECTIONS_MAX ?
	    CONFIG_MAX_CONNECTIONS_MAX : (unsigned)n;
}

/*
 * max_connections "auto": from the hard limit, which main_raise_nofile()
 * raises the soft one to before any session, so that the limit that holds
 * is the one the system grants rather than a number the file guessed.
 */
static void
cfg_derive_max_connections(struct config *c)
{
	struct rlimit	 rl;

	if (!c->max_connections_auto)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_max = RLIM_INFINITY;
	c->max_connections = config_max_connections_for(
	    rl.rlim_max == RLIM_INFINITY ? ULLONG_MAX :
	    (unsigned long long)rl.rlim_max, config_fd_reserve(c));
}

/*
 * Where the log goes.  log_init() applies it at start only: a reload that
 * changes it logs that the change waits for the next restart (reload.c).
 */
static int
cfg_set_log(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "stderr") == 0)
		p->c->log = CONFIG_LOG_STDERR;
	else if (strcmp(v, "syslog") == 0)
		p->c->log = CONFIG_LOG_SYSLOG;
	else {
		err_set(err, errlen, "expected stderr or syslog");
		return -1;
	}
	return 0;
}

/* "off" or "0": a key whose default is off, set to its default. */
static bool
cfg_is_off(const char *v)
{
	return strcmp(v, "off") == 0 || strcmp(v, "0") == 0;
}

/*
 * An IPv6 address ${a}, written as ${v}, that the kernel would refuse only
 * later, at bind or connect and as "Invalid argument", is refused now: a
 * link-local address names a host only with its interface.  One mapped
 * from IPv4, [::ffff:A.B.C.D], is taken as the IPv4 address it is, as
 * addr_format() shows it anyway: an IPv6-only listener cannot bind it,
 * and an upstream written both ways must count as one.
 */
static int
cfg_addr_check(const char *v, struct addr *a, char *err, size_t errlen)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		if (s6->sin6_scope_id != 0) {
			err_set(err, errlen,
			    "'%s': an IPv4 address has no "
			    "interface",
			    v);
			return -1;
		}
		addr_unmap(a);
		return 0;
	}
	if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) && s6->sin6_scope_id == 0) {
		err_set(err, errlen,
		    "'%s': a link-local address needs its "
		    "interface, as [fe80::1%%eth0]:PORT",
		    v);
		return -1;
	}
	return 0;
}

/*
 * The admin endpoint's address, or off.  Whether a non-loopback address
 * has admin_allow lines can only be told once the whole file is read:
 * cfg_check() does it, with this line.  Port 0, as for a listen address,
 * lets the kernel pick one, which the log and the -R file's "@admin" line
 * show, so a test need not guess a free port.  But one socket only:
 * "*:P", two of them, is refused as addr_parse() refuses it.
 */
static int
cfg_set_admin(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	struct addr	 a[2];
	int		 k;

	if (cfg_is_off(v))
		return 0;
	if ((k = addr_parse_listen(v, a, err, errlen)) == -1)
		return -1;
	if (k != 1) {
		err_set(err, errlen, "'%s': '*' is not an IP address", v);
		return -1;
	}
	if (cfg_addr_check(v, &a[0], err, errlen) == -1)
		return -1;
	p->c->admin = a[0];
	p->c->admin_on = true;
	p->c->admin_line = p->line;
	return 0;
}

static int
cfg_set_admin_allow(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	return acl_add(&p->c->admin_allow, false, v, err, errlen);
}

/*
 * 127.0.0.0/8 or ::1: only this machine can reach it.  An address
 * written as ::ffff:127.0.0.1 was unmapped when read (cfg_addr_check()).
 */
static bool
cfg_is_loopback(const struct addr *a)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	return a->ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
}

/*
 * The user and group must exist now, so that "relay46 -t" finds a typo
 * rather than the start as root.
 */
static int
cfg_set_user(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	uid_t	 uid;
	gid_t	 gid;

	if (privdrop_resolve(v, NULL, &uid, &gid, err, errlen) == -1)
		return -1;
	if ((p->c->user = util_strdup(v)) == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
cfg_set_group(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	uid_t	 uid;
	gid_t	 gid;

	if (privdrop_resolve(NULL, v, &uid, &gid, err, errlen) == -1)
		return -1;
	if ((p->c->group = util_strdup(v)) == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	p->group_line = p->line;
	return 0;
}

/*
 * Off, stderr or an absolute path: relative paths would depend on the
 * directory relay46 happened to be started from.  The file is opened by
 * main.c (accesslog_open()), not here, so "relay46 -t" creates nothing.
 */
static int
cfg_set_access_log(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	if (cfg_is_off(v))
		return 0;
	if (strcmp(v, "stderr") != 0 && v[0] != '/') {
		err_set(err, errlen, "expected off, stderr or an absolute path");
		return -1;
	}
	if ((p->c->access_log = util_strdup(v)) == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Absolute: relay46 may be started from any directory, and -p wins. */
static int
cfg_set_pidfile(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	if (cfg_is_off(v))
		return 0;
	if (v[0] != '/') {
		err_set(err, errlen, "expected off or an absolute path");
		return -1;
	}
	if ((p->c->pidfile = util_strdup(v)) == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The control socket's path (relay46ctl(8)): absolute, like pidfile, and
 * short enough for a Unix socket's address (sun_path, 108 bytes with its
 * NUL), which the kernel would otherwise refuse only at bind time.
 */
static int
cfg_set_control(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;

	if (cfg_is_off(v))
		return 0;
	if (v[0] != '/') {
		err_set(err, errlen, "expected off or an absolute path");
		return -1;
	}
	if (strlen(v) >= sizeof(sun.sun_path)) {
		err_set(err, errlen,
		    "a Unix socket's path is at most %zu bytes",
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	if ((p->c->control = util_strdup(v)) == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* error, warn, info or debug, as log_level_parse() knows them. */
static int
cfg_set_log_level(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	int	 l;

	if ((l = log_level_parse(v)) == -1) {
		err_set(err, errlen, "expected error, warn, info or debug");
		return -1;
	}
	p->c->log_level = l;
	return 0;
}

/* The balancing method by its name in relay46.ini(5); see balance.h. */
static int
cfg_set_balance(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	static const struct { const char *name; int m; } methods[] = {
		{ "roundrobin", BALANCE_ROUNDROBIN },
		{ "leastconn", BALANCE_LEASTCONN },
		{ "source", BALANCE_SOURCE },
		{ "random", BALANCE_RANDOM },
	};
	size_t	 i;

	for (i = 0; i < NELEM(methods); i++)
		if (strcmp(v, methods[i].name) == 0) {
			p->cur->balance = methods[i].m;
			return 0;
		}
	err_set(err, errlen, "expected roundrobin, leastconn, source or "
	    "random");
	return -1;
}

/*
 * allow and deny lines add to the route's one ACL; the order of lines
 * does not matter, deny always wins (acl_allows()).
 */
static int
cfg_set_allow(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	return acl_add(&p->cur->acl, false, v, err, errlen);
}

static int
cfg_set_deny(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	return acl_add(&p->cur->acl, true, v, err, errlen);
}

/* A number (0 or "off": no limit), counted per IPv4 address or IPv6 /64. */
static int
cfg_set_max_per_client(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	uint64_t	 n;

	if (strcmp(v, "off") == 0)
		n = 0;
	else if (units_parse_uint(v, 0, 1000000, &n, err, errlen) == -1)
		return -1;
	p->cur->max_per_client = (unsigned)n;
	return 0;
}

/* The PROXY header relay46 sends to the upstream: off, v1 or v2. */
static int
cfg_set_proxy_protocol(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	if (cfg_is_off(v))
		p->cur->proxy_protocol = 0;
	else if (strcmp(v, "v1") == 0)
		p->cur->proxy_protocol = 1;
	else if (strcmp(v, "v2") == 0)
		p->cur->proxy_protocol = 2;
	else {
		err_set(err, errlen, "expected off, v1 or v2");
		return -1;
	}
	return 0;
}

/* Active checks: off, or tcp (a connect every check_interval). */
static int
cfg_set_health_check(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	if (cfg_is_off(v))
		p->cur->health_check = false;
	else if (strcmp(v, "tcp") == 0)
		p->cur->health_check = true;
	else {
		err_set(err, errlen, "expected off or tcp");
		return -1;
	}
	return 0;
}

/* The line is kept for cfg_check_proxy()'s messages. */
static int
cfg_set_accept_proxy(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	int	 b;

	if (units_parse_bool(v, &b, err, errlen) == -1)
		return -1;
	p->cur->accept_proxy = b != 0;
	p->cur->accept_proxy_line = p->line;
	return 0;
}

/*
 * A CIDR rule, or "any": the operator trusts every peer on purpose, which
 * a wildcard or public listener needs said in so many words.
 */
static int
cfg_set_proxy_from(struct cfg_parse *p, const char *v, char *err,
    size_t errlen)
{
	struct acl	*a = &p->cur->proxy_from;

	if (strcmp(v, "any") == 0) {
		if (acl_add(a, false, "0.0.0.0/0", err, errlen) == -1 ||
		    acl_add(a, false, "::/0", err, errlen) == -1)
			return -1;
	} else if (acl_add(a, false, v, err, errlen) == -1)
		return -1;
	if (p->cur->proxy_from_line == 0)
		p->cur->proxy_from_line = p->line;
	return 0;
}

/*
 * One listen line: one address, or two for "*:P" (0.0.0.0:P and [::]:P,
 * so that IPv4 never depends on net.ipv6.bindv6only).  Each address
 * remembers its line for the clash errors of cfg_check().  Both arrays
 * grow together; if one grows and the other cannot, nlisten is unchanged
 * and the larger one is merely larger.
 */
static int
cfg_set_listen(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	struct route	*r = p->cur;
	struct addr	 a[2], *n;
	int		 k, i, *nl;

	if ((k = addr_parse_listen(v, a, err, errlen)) == -1 ||
	    (k == 1 && cfg_addr_check(v, &a[0], err, errlen) == -1))
		return -1;
	if ((n = reallocarray(r->listen, r->nlisten + (size_t)k,
	    sizeof(*n))) != NULL)
		r->listen = n;
	if ((nl = reallocarray(r->listen_line, r->nlisten + (size_t)k,
	    sizeof(*nl))) != NULL)
		r->listen_line = nl;
	if (n == NULL || nl == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < k; i++) {
		r->listen_line[r->nlisten] = p->line;
		r->listen[r->nlisten++] = a[i];
	}
	return 0;
}

/* Add one upstream address, from line ${spec}, to the current route. */
static int
cfg_add_upstream(struct route *r, const struct addr *a, size_t spec,
    char *err, size_t errlen)
{
	struct upstream_conf	*n;
	size_t			 i;

	/* Other lines' were refused before: a name that lists one twice. */
	for (i = 0; i < r->nup; i++)
		if (addr_equal(&r->up[i].addr, a))
			return 0;
	if ((n = reallocarray(r->up, r->nup + 1, sizeof(*n))) == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	r->up = n;
	n[r->nup].addr = *a;
	n[r->nup].spec = spec;
	r->nup++;
	return 0;
}

/*
 * Parse the options after an upstream address: "weight=3 backup".  Each
 * at most once: with two, which one holds would be a guess.
 */
static int
cfg_upstream_opts(char *opts, struct upstream_spec *us, char *err,
    size_t errlen)
{
	static const char *const names[] = { "weight", "backup",
		"max_connections" };
	char		*tok, *save = NULL;
	uint64_t	 n;
	unsigned		 seen = 0, i;

	/* strtok_r, not strtok: no hidden state shared between calls. */
	for (tok = strtok_r(opts, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (strncmp(tok, "weight=", 7) == 0)
			i = 0;
		else if (strcmp(tok, "backup") == 0)
			i = 1;
		else if (strncmp(tok, "max_connections=", 16) == 0)
			i = 2;
		else {
			err_set(err, errlen,
			    "unknown upstream option '%s' "
			    "(weight=N, backup, max_connections=N)",
			    tok);
			return -1;
		}
		if (seen & (1u << i)) {
			err_set(err, errlen, "option '%s' is given twice",
			    names[i]);
			return -1;
		}
		seen |= 1u << i;
		if (i == 0) {
			if (units_parse_uint(tok + 7, 1, 256, &n, err,
			    errlen) == -1)
				return -1;
			us->weight = (unsigned)n;
		} else if (i == 1)
			us->backup = true;
		else {
			if (units_parse_uint(tok + 16, 1, 10000000, &n, err,
			    errlen) == -1)
				return -1;
			us->max_connections = (unsigned)n;
		}
	}
	return 0;
}

/*
 * How upstream line ${o}'s options differ from ${us}'s, as "with weight=1
 * and without backup" (what ${o} says), into ${buf}; "" if they do not.
 */
static void
cfg_opts_diff(const struct upstream_spec *o, const struct upstream_spec *us,
    char *buf, size_t len)
{
	const char	*and = "";
	size_t		 off = 0;
	int		 n;

	buf[0] = '\0';
	if (o->weight != us->weight) {
		n = snprintf(buf, len, "with weight=%u", o->weight);
		off += n > 0 ? (size_t)n : 0;
		and = " and ";
	}
	if (o->max_connections != us->max_connections && off < len) {
		if (o->max_connections == 0)
			n = snprintf(buf + off, len - off, "%swithout "
			    "max_connections", and);
		else
			n = snprintf(buf + off, len - off, "%swith "
			    "max_connections=%u", and, o->max_connections);
		off += n > 0 ? (size_t)n : 0;
		and = " and ";
	}
	if (o->backup != us->backup && off < len)
		snprintf(buf + off, len - off, "%s%s backup", and,
		    o->backup ? "with" : "without");
}

/*
 * An address may come from one upstream line of a route only: with two,
 * which line's weight, backup or max_connections holds is a guess (the
 * first one used to win silently, so "backup" could vanish).  -1 with
 * both lines in ${err} if ${a}, from line ${us}, is already in ${r}.
 */
static int
cfg_upstream_dup(const struct route *r, const struct upstream_spec *us,
    const struct addr *a, char *err, size_t errlen)
{
	const struct upstream_spec *o;
	char		 abuf[ADDR_STRLEN], where[48], diff[128];
	size_t		 i;

	for (i = 0; i < r->nup && !addr_equal(&r->up[i].addr, a); i++)
		;
	if (i == r->nup)
		return 0;
	o = &r->specs[r->up[i].spec];
	if (o->line > 0)
		snprintf(where, sizeof(where), "line %d", o->line);
	else
		snprintf(where, sizeof(where), "the command line");
	addr_format(a, abuf, sizeof(abuf));
	cfg_opts_diff(o, us, diff, sizeof(diff));
	if (diff[0] != '\0')
		err_set(err, errlen, "%s is also given on %s (as %s) %s",
		    abuf, where, o->text, diff);
	else
		err_set(err, errlen, "%s is given twice (also on %s as %s)",
		    abuf, where, o->text);
	return -1;
}

/* Keep the line as written: names are looked up again from it. */
static int
cfg_add_spec(struct route *r, const struct upstream_spec *us, const char *text,
    const char *host, size_t *idx, char *err, size_t errlen)
{
	struct upstream_spec	*n;

	if ((n = reallocarray(r->specs, r->nspecs + 1, sizeof(*n))) == NULL)
		goto oom;
	r->specs = n;
	n = &r->specs[r->nspecs];
	*n = *us;
	n->host = NULL;
	if ((n->text = util_strdup(text)) == NULL)
		goto oom;
	if (host != NULL && (n->host = util_strdup(host)) == NULL) {
		free(n->text);
		goto oom;
	}
	*idx = r->nspecs++;
	return 0;
oom:
	err_set(err, errlen, "out of memory");
	return -1;
}

/*
 * "upstream = ADDRESS [weight=N] [backup] [max_connections=N]".  A
 * literal address gives one upstream; a host name is looked up now, with
 * every A and AAAA address kept (up to CONFIG_NAME_ADDRS), and the line is
 * kept too so that health.c can look it up again.  A name that does not
 * resolve is an error: relay46 does not start, or a reload is refused,
 * rather than run a route with nowhere to send clients.
 */
static int
cfg_set_upstream(struct cfg_parse *p, const char *v, char *err, size_t errlen)
{
	char			 spec[CONFIG_LINE_MAX + 1], host[ADDR_STRLEN];
	char			*opts;
	struct upstream_spec	 us;
	struct addr		 a, found[CONFIG_NAME_ADDRS];
	size_t			 i, idx, nfound;
	bool			 literal;

	memset(&us, 0, sizeof(us));
	us.weight = 1;
	us.line = p->line;
	/*
	 * A copy to cut at the options.  A value from the file always fits,
	 * and config_quick() refuses a longer -u; never cut one here, as a
	 * cut "max_connections=100" or name would be another upstream.
	 */
	if ((size_t)snprintf(spec, sizeof(spec), "%s", v) >= sizeof(spec)) {
		err_set(err, errlen, "too long (at most %d bytes)",
		    CONFIG_LINE_MAX);
		return -1;
	}
	if ((opts = strpbrk(spec, " \t")) != NULL)
		*opts++ = '\0';
	if (opts != NULL && cfg_upstream_opts(opts, &us, err, errlen) == -1)
		return -1;
	if (addr_split(spec, host, sizeof(host), &us.port, err, errlen) == -1)
		return -1;
	if (strcmp(host, "*") == 0) {
		err_set(err, errlen, "'*' is not an upstream address");
		return -1;
	}
	/*
	 * Brackets or only digits and dots: a literal, never handed to the
	 * resolver, which would read "10.1" as 10.0.0.1.
	 */
	literal = spec[0] == '[' || strspn(host, "0123456789.") ==
	    strlen(host);
	if (literal) {
		if (addr_parse(spec, &a, err, errlen) == -1 ||
		    cfg_addr_check(spec, &a, err, errlen) == -1)
			return -1;
		/* A connect to it reaches this host, by no rule one can see. */
		if (addr_is_any(&a)) {
			err_set(err, errlen,
			    "'%s' is a listen wildcard, not an "
			    "upstream address (for this host: %s)",
			    host,
			    a.ss.ss_family == AF_INET ? "127.0.0.1" : "[::1]");
			return -1;
		}
		found[0] = a;
		nfound = 1;
	} else if (p->flags & CONFIG_LOAD_NO_RESOLVE) {
		err_set(err, errlen, "'%s': host names are not looked up "
		    "here", host);
		return -1;
	} else if (resolve_sync(host, us.port, found, NELEM(found), &nfound,
	    err, errlen) == -1)
		return -1;
	/* All checks before the first change: a refused line leaves no trace. */
	for (i = 0; i < nfound; i++)
		if (cfg_upstream_dup(p->cur, &us, &found[i], err, errlen) == -1)
			return -1;
	if (cfg_add_spec(p->cur, &us, spec, literal ? NULL : host, &idx, err,
	    errlen) == -1)
		return -1;
	for (i = 0; i < nfound; i++)
		if (cfg_add_upstream(p->cur, &found[i], idx, err, errlen) == -1)
			return -1;
	return 0;
}

/*
 * Store ${v} for a table-typed key.  Returns 0; -1 with the reason in
 * ${err}; or -2 when ${err} is the whole message (a key not built yet).
 */
static int
cfg_set_typed(struct cfg_parse *p, const struct cfg_key *k, const char *v,
    char *err, size_t errlen)
{
	char		*base;
	uint64_t	 n;
	int		 b;

	base = k->scope == CFG_GLOBAL ? (char *)p->c : (char *)p->cur;
	switch (k->type) {
	case CFG_T_FUNC:
		return k->set(p, v, err, errlen);
	case CFG_T_DURATION:
		if (units_parse_duration(v, &n, err, errlen) == -1)
			return -1;
		if (n < k->min) {
			char	 m[32];

			/*
			 * As relay46.ini(5) words it: "at least 1ms" would
			 * hide that 0 is what was refused.
			 */
			if (k->min == 1)
				err_set(err, errlen, "must be more than 0");
			else
				err_set(err, errlen, "must be at least %s",
				    units_format_duration(k->min, m,
				    sizeof(m)));
			return -1;
		}
		*(uint64_t *)(base + k->off) = n;
		return 0;
	case CFG_T_SIZE:
		if (units_parse_size(v, &n, err, errlen) == -1)
			return -1;
		/* buffer is the only size key: the message states its range. */
		if (n < k->min || n > k->max) {
			err_set(err, errlen, "out of range (1k to 64m)");
			return -1;
		}
		*(size_t *)(base + k->off) = (size_t)n;
		return 0;
	case CFG_T_UINT:
		if (units_parse_uint(v, k->min, k->max, &n, err, errlen) == -1)
			return -1;
		*(unsigned *)(base + k->off) = (unsigned)n;
		return 0;
	case CFG_T_BOOL:
		if (units_parse_bool(v, &b, err, errlen) == -1)
			return -1;
		*(bool *)(base + k->off) = b != 0;
		return 0;
	case CFG_T_OFF_ONLY:
		if (cfg_is_off(v))
			return 0;
		break;
	}
	err_set(err, errlen, "key '%s' is not supported yet", k->name);
	return -2;
}

/*
 * The key ${name} of ${scope}, or NULL; then *${other_scope} says whether
 * the other section knows it, for a better message than "unknown".  A
 * linear search: some thirty keys, once per line.
 */
static const struct cfg_key *
cfg_find_key(const char *name, enum cfg_scope scope, bool *other_scope)
{
	size_t	 i;

	*other_scope = false;
	for (i = 0; i < NELEM(cfg_keys); i++) {
		if (strcmp(cfg_keys[i].name, name) != 0)
			continue;
		if (cfg_keys[i].scope == scope)
			return &cfg_keys[i];
		*other_scope = true;
	}
	return NULL;
}

/*
 * Edit distance between ${a} and ${b}, ignoring case: insertions,
 * deletions, substitutions and swaps of two neighbours ("timout",
 * "lsiten") each count one (optimal string alignment).  Names longer
 * than CFG_SUGGEST_LEN are never close to a key: CFG_SUGGEST_LEN + 1.
 */
#define CFG_SUGGEST_LEN	40

static size_t
cfg_distance(const char *a, const char *b)
{
	size_t	 d[3][CFG_SUGGEST_LEN + 1], la = strlen(a), lb = strlen(b);
	size_t	 i, j, cost, v, *prev2, *prev, *cur;

	/*
	 * Three rows of the usual table, reused in turn: a swap needs the
	 * row two back, and nothing older.  Bounded lengths keep the rows on
	 * the stack, and an unknown key of any length costs no allocation.
	 */
	if (la > CFG_SUGGEST_LEN || lb > CFG_SUGGEST_LEN)
		return CFG_SUGGEST_LEN + 1;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		prev2 = d[(i + 1) % 3];		/* row i - 2 */
		prev = d[(i - 1) % 3];
		cur = d[i % 3];
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]);
			v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) ==
			    tolower((unsigned char)b[j - 1]) &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

/*
 * The key of ${scope} nearest to the unknown ${name}, or NULL when none
 * is near enough to be a likely typo: at most two edits, and fewer than
 * half of ${name}'s letters (so "foo" does not become "log").
 */
static const char *
cfg_suggest(const char *name, enum cfg_scope scope)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;

	for (i = 0; i < NELEM(cfg_keys); i++) {
		if (cfg_keys[i].scope != scope)
			continue;
		d = cfg_distance(name, cfg_keys[i].name);
		if (d < bestd && 2 * d < strlen(name)) {
			best = cfg_keys[i].name;
			bestd = d;
		}
	}
	return best;
}

/* A key that ${scope} does not know: say where it goes, or what was meant. */
static void
cfg_unknown_key(struct cfg_parse *p, const char *name, enum cfg_scope scope,
    const char *where, bool other_scope)
{
	const char	*near;

	if (other_scope)
		cfg_error(p, p->line, "key '%s' belongs in %s, not in %s",
		    name, scope == CFG_GLOBAL ? "[route NAME]" : "[global]",
		    where);
	else if ((near = cfg_suggest(name, scope)) != NULL)
		cfg_error(p, p->line, "unknown key '%s' in %s; did you mean "
		    "'%s'?", name, where, near);
	else
		cfg_error(p, p->line, "unknown key '%s' in %s", name, where);
}

/*
 * An upstream or listen line (${kind}, CFG_BAD_*) of the current route
 * was refused: "has no upstream" or "has no listen" would only repeat
 * it, so cfg_check() keeps quiet about that for this route.
 */
static void
cfg_mark_bad(struct cfg_parse *p, size_t kind)
{
	/* By index: p->cur points into routes[], which may move. */
	size_t	*n;

	if ((n = reallocarray(p->bad, p->nbad + 1, sizeof(*n))) == NULL)
		return;		/* then the extra line is said after all */
	p->bad = n;
	n[p->nbad++] = (size_t)(p->cur - p->c->routes) << 1 | kind;
}

static bool
cfg_had_bad(const struct cfg_parse *p, size_t route, size_t kind)
{
	size_t	 i;

	for (i = 0; i < p->nbad; i++)
		if (p->bad[i] == (route << 1 | kind))
			return true;
	return false;
}

/* What cfg_mark_bad() should note when key ${k} is refused. */
static void
cfg_refused(struct cfg_parse *p, const struct cfg_key *k)
{
	if (k->set == cfg_set_upstream)
		cfg_mark_bad(p, CFG_BAD_UPSTREAM);
	else if (k->set == cfg_set_listen)
		cfg_mark_bad(p, CFG_BAD_LISTEN);
}

/* inih calls this for every "key = value"; we always return 1 (go on). */
static int
cfg_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct cfg_parse	*p = arg;
	const struct cfg_key	*k;
	enum cfg_scope		 scope;
	char			 err[512];
	bool			 other;
	char			 where[CONFIG_NAME_MAX + 16];

	(void)section;	/* we track sections ourselves, with their lines */
	/*
	 * Returning 1 even for a bad key: we report it ourselves, with the
	 * reason, and a 0 would only make inih count the line as an error of
	 * its own (or stop there, if ini_stop_on_first_error were set).  The
	 * keys of a section whose header was refused are skipped, since the
	 * header's error already covers them.
	 */
	if (p->sec == CFG_SEC_BAD)
		return 1;
	if (p->sec == CFG_SEC_NONE) {
		cfg_error(p, p->line, "key '%s' is outside any section "
		    "(put it under [global] or [route NAME])", name);
		return 1;
	}
	scope = p->sec == CFG_SEC_GLOBAL ? CFG_GLOBAL : CFG_ROUTE;
	if (scope == CFG_GLOBAL)
		snprintf(where, sizeof(where), "[global]");
	else
		snprintf(where, sizeof(where), "[route %s]", p->cur->name);
	if ((k = cfg_find_key(name, scope, &other)) == NULL) {
		cfg_unknown_key(p, name, scope, where, other);
		return 1;
	}
	if (!(k->flags & CFG_REPEAT) && p->seen[k - cfg_keys] != 0) {
		cfg_error(p, p->line, "key '%s' is given twice (first on line "
		    "%d)", name, p->seen[k - cfg_keys]);
		return 1;
	}
	/* Recorded even for a bad value: a second line is still "twice". */
	p->seen[k - cfg_keys] = p->line;
	if (*value == '\0') {
		cfg_error(p, p->line, "key '%s' has no value", name);
		cfg_refused(p, k);
		return 1;
	}
	switch (cfg_set_typed(p, k, value, err, sizeof(err))) {
	case -1:
		cfg_error(p, p->line, "%s = %s: %s", name, value, err);
		cfg_refused(p, k);
		break;
	case -2:
		cfg_error(p, p->line, "%s", err);
		break;
	}
	return 1;
}

/* Route names go into logs and metrics labels: keep them plain. */
static bool
cfg_name_ok(const char *s)
{
	size_t	 n = strlen(s);

	return n > 0 && n <= CONFIG_NAME_MAX && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") == n;
}

/*
 * Route names, hashed as they are read: "defined twice" is one
 * look per header, not a walk of every route before it (a file of 20 000
 * routes took 2 s on that walk alone), and the table stays with the
 * config for config_route_find().
 */
static size_t
cfg_name_slot(const struct config *c, const char *name)
{
	size_t		 x;

	for (x = (size_t)util_hash_str(name) & (c->nnames - 1);
	     c->names[x] != 0 &&
	     strcmp(c->routes[c->names[x] - 1].name, name) != 0;
	     x = (x + 1) & (c->nnames - 1))
		;
	return x;
}

size_t
config_route_find(const struct config *c, const char *name)
{
	size_t	 x;

	if (c->nnames == 0)
		return c->nroutes;
	x = cfg_name_slot(c, name);
	return c->names[x] != 0 ? c->names[x] - 1 : c->nroutes;
}

/* Room for one more name, at most half the slots used.  0, or -1. */
static int
cfg_names_grow(struct config *c)
{
	size_t	*old = c->names, n = c->nnames, i;

	if (2 * (c->nroutes + 1) <= n)
		return 0;
	c->nnames = n == 0 ? 64 : 2 * n;
	if ((c->names = calloc(c->nnames, sizeof(*c->names))) == NULL) {
		c->names = old;
		c->nnames = n;
		return -1;
	}
	for (i = 0; i < c->nroutes; i++)
		c->names[cfg_name_slot(c, c->routes[i].name)] = i + 1;
	free(old);
	return 0;
}

/*
 * A "[route NAME]" header: a new route with the defaults, where the keys
 * that follow go.  The section stays CFG_SEC_BAD (its keys skipped) when
 * the name is bad or taken, or memory runs out.
 */
static void
cfg_start_route(struct cfg_parse *p, const char *name)
{
	struct route	*n;
	size_t		 i;

	p->sec = CFG_SEC_BAD;
	if (!cfg_name_ok(name)) {
		cfg_error(p, p->line, "bad route name '%s' (letters, digits, "
		    "'-', '_', '.'; at most %d)", name, CONFIG_NAME_MAX);
		return;
	}
	if ((i = config_route_find(p->c, name)) < p->c->nroutes) {
		cfg_error(p, p->line,
		    "route '%s' is defined twice "
		    "(first on line %d)",
		    name, p->c->routes[i].line);
		return;
	}
	if (cfg_names_grow(p->c) == -1) {
		p->oom = true;
		return;
	}
	/*
	 * routes[] may move: nothing may keep a pointer into it across a
	 * header but p->cur, set just below (pools, which do, are made only
	 * once the config is whole: pool_attach()).
	 */
	n = reallocarray(p->c->routes, p->c->nroutes + 1, sizeof(*n));
	if (n == NULL) {
		p->oom = true;
		return;
	}
	p->c->routes = n;
	p->cur = &n[p->c->nroutes];
	cfg_route_defaults(p->cur);
	if ((p->cur->name = util_strdup(name)) == NULL) {
		p->oom = true;
		return;
	}
	p->cur->line = p->line;
	p->c->names[cfg_name_slot(p->c, name)] = ++p->c->nroutes;
	p->sec = CFG_SEC_ROUTE;
}

/* A "[...]" line: choose where the keys that follow go. */
static void
cfg_section(struct cfg_parse *p, char *line)
{
	char	*end, *name, *rest;

	/* "Given twice" is per section: each route has its own listen lines. */
	memset(p->seen, 0, NELEM(cfg_keys) * sizeof(*p->seen));
	p->sec = CFG_SEC_BAD;
	if ((end = strchr(line, ']')) == NULL) {
		cfg_error(p, p->line, "missing ']' in section header");
		return;
	}
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		cfg_error(p, p->line, "unexpected text after ']'");
		return;
	}
	*end = '\0';
	for (name = line + 1; isspace((unsigned char)*name); name++)
		;
	while (end > name && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (strcmp(name, "global") == 0) {
		if (p->seen_global)
			cfg_error(p, p->line, "section [global] is given "
			    "twice");
		else
			p->sec = CFG_SEC_GLOBAL;
		p->seen_global = true;
	} else if (strncmp(name, "route", 5) == 0 &&
	    isspace((unsigned char)name[5])) {
		for (name += 5; isspace((unsigned char)*name); name++)
			;
		cfg_start_route(p, name);
	} else if (strcmp(name, "route") == 0)
		cfg_error(p, p->line, "section [route] needs a name: "
		    "[route NAME]");
	else
		cfg_error(p, p->line, "unknown section [%s]", name);
}

/*
 * "key = value", where the '=' comes before any inline comment and before
 * any ':' (inih would also take "key: value", which we do not document).
 */
static bool
cfg_is_pair(const char *s)
{
	const char	*eq = strchr(s, '=');
	const char	*c;

	if (eq == NULL || eq == s)
		return false;
	for (c = s; c < eq; c++)
		if (*c == ':' || (*c == ';' && c > s &&
		    isspace((unsigned char)c[-1])))
			return false;
	return true;
}

/*
 * One physical line of the file into p->buf, without its newline and
 * CRs; what does not fit is read and counted, never kept, so no line can
 * take more memory than a line may have.  *${nul}: a NUL byte was in it.
 * Returns the line's whole length, or -1 at the end of the file (or past
 * CFG_FILE_MAX, when the caller reports it).
 */
static ssize_t
cfg_getline(struct cfg_parse *p, bool *nul)
{
	size_t	 n = 0, keep = 0, crs = 0;
	int	 ch = EOF;

	*nul = false;
	while (p->nread < CFG_FILE_MAX && (ch = getc(p->fp)) != EOF) {
		p->nread++;
		if (ch == '\n')
			break;
		if (ch == '\0')
			*nul = true;
		if (n < sizeof(p->buf) - 1)
			p->buf[keep++] = (char)ch;
		crs = ch == '\r' ? crs + 1 : 0;
		n++;
	}
	if (n == 0 && ch != '\n')
		return -1;
	/*
	 * The CRs at the end (of a CRLF file) are no part of the line, kept
	 * or not: a line too long to keep still gets its exact count.
	 */
	n -= crs;
	keep = keep < n ? keep : n;
	p->buf[keep] = '\0';
	return (ssize_t)n;
}

/*
 * inih's line reader.  We read whole physical lines ourselves so that we
 * know the true line number of every key (Debian's libinih 55 gives the
 * handler none), refuse over-long lines instead of letting inih split them
 * silently, and see section headers, which inih does not report.  Each
 * line reaches inih left-trimmed, so an indented key is never taken for a
 * continuation of the previous value.  A line we have already refused is
 * handed over as an empty line.
 */
static char *
cfg_reader(char *str, int num, void *arg)
{
	struct cfg_parse	*p = arg;
	ssize_t			 n;
	size_t			 max;
	bool			 nul;
	char			*s;

	n = cfg_getline(p, &nul);
	/*
	 * Now, not after the file: a line cut short by the failed read is
	 * still handed on, and its checks and lookups overwrite errno.
	 */
	if (ferror(p->fp) && p->read_errno == 0)
		p->read_errno = errno;
	if (n == -1)
		return NULL;
	p->line++;
	/*
	 * inih's buffer (${num} bytes, INI_MAX_LINE) must take the line, the
	 * newline put back below and the NUL, with one byte to spare; with
	 * Debian's 200, CONFIG_LINE_MAX (190, as relay46.ini(5) promises)
	 * is the smaller.
	 */
	max = CONFIG_LINE_MAX;
	if (num > 3 && (size_t)num - 3 < max)
		max = (size_t)num - 3;
	s = p->buf;
	/* A UTF-8 byte order mark, as some editors write, is no text. */
	if (p->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		n -= 3;
	}
	if ((size_t)n > max) {
		cfg_error(p, p->line, "line too long (%zd bytes, at most %zu)",
		    n, max);
		s = "";
	} else if (nul) {
		cfg_error(p, p->line, "NUL byte in line");
		s = "";
	}
	while (isspace((unsigned char)*s))
		s++;
	/*
	 * A header is handled here, as it is read: inih calls the handler
	 * for a line before it asks for the next one, so the section we set
	 * now is the one in force for the keys that follow.
	 */
	if (*s == '[')
		cfg_section(p, s);
	else if (*s != '\0' && *s != ';' && *s != '#' && !cfg_is_pair(s)) {
		cfg_error(p, p->line, "expected 'key = value' or '[section]'");
		s = "";
	}
	/* A section line inih would choke on was reported just above. */
	if (*s == '[' && strchr(s, ']') == NULL)
		s = "";
	snprintf(str, (size_t)num, "%s\n", s);
	return str;
}

/*
 * ${what} (listen, or admin) ${a}, on line ${line}, clashes with listen
 * address ${l} of ${o} (possibly the same route): one error, on the later
 * line, naming the earlier.  Caught here, not as a bind's "Address
 * already in use", which reads as if another program held it.
 */
static void
cfg_clash(struct cfg_parse *p, int line, const char *what, const struct addr *a,
    const struct route *o, size_t l)
{
	char	 a1[ADDR_STRLEN], a2[ADDR_STRLEN], at[32] = "";

	if (o->listen_line[l] > 0)
		snprintf(at, sizeof(at), " (line %d)", o->listen_line[l]);
	cfg_error(p, line, "%s %s clashes with listen %s of route '%s'%s", what,
	    addr_format(a, a1, sizeof(a1)),
	    addr_format(&o->listen[l], a2, sizeof(a2)), o->name, at);
}

/* ${a}'s place in the index: family, port, wildcard or host. */
static void
cfg_lent_key(const struct addr *a, struct cfg_lent *e)
{
	const struct sockaddr_in  *s4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;

	memset(e, 0, sizeof(*e));
	e->fam = a->ss.ss_family;
	e->port = addr_port(a);
	e->spec = !addr_is_any(a);
	if (!e->spec)
		return;
	if (e->fam == AF_INET) {
		memcpy(e->host, &s4->sin_addr, 4);
	} else if (e->fam == AF_INET6) {
		memcpy(e->host, &s6->sin6_addr, 16);
		e->scope = s6->sin6_scope_id;
	}
}

/*
 * The index's order, as far as ${level} says: 0 family and port (the
 * listens an address may overlap), 1 also the host (addr_same_host();
 * all wildcards alike), 2 also route and listen.
 */
static int
cfg_lent_order(const struct cfg_lent *a, const struct cfg_lent *b, int level)
{
	int	 r;

	if (a->fam != b->fam)
		return a->fam < b->fam ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (level == 0)
		return 0;
	if (a->spec != b->spec)
		return a->spec < b->spec ? -1 : 1;
	if (a->spec && (r = memcmp(a->host, b->host, sizeof(a->host))) != 0)
		return r;
	if (a->spec && a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	if (level == 1)
		return 0;
	if (a->k != b->k)
		return a->k < b->k ? -1 : 1;
	return a->j < b->j ? -1 : a->j > b->j;
}

static int
cfg_lent_cmp(const void *va, const void *vb)
{
	return cfg_lent_order(va, vb, 2);
}

/* Route and listen order only: the order errors are told in. */
static int
cfg_lent_before(const struct cfg_lent *a, size_t k, size_t j)
{
	return a->k < k || (a->k == k && a->j < j);
}

static int
cfg_lent_cmp_kj(const void *va, const void *vb)
{
	const struct cfg_lent *a = va, *b = vb;

	if (cfg_lent_before(a, b->k, b->j))
		return -1;
	return cfg_lent_before(b, a->k, a->j);
}

/*
 * ${c}'s index of listens, and c->listens_at: route k's first listen
 * in config_listen_route()'s count.  0, or -1 when out of memory.
 */
static int
cfg_index_build(struct config *c)
{
	const struct route *r;
	struct cfg_index   *ix;
	struct cfg_lent	   *e;
	size_t		    k, j, n = 0;

	if ((c->listens_at = calloc(c->nroutes + 1, sizeof(*c->listens_at))) ==
	    NULL)
		return -1;
	for (k = 0; k < c->nroutes; k++) {
		c->listens_at[k] = n;
		n += c->routes[k].nlisten;
	}
	c->listens_at[k] = n;
	if ((ix = c->lidx = calloc(1, sizeof(*ix))) == NULL ||
	    (ix->e = calloc(n + 1, sizeof(*ix->e))) == NULL)
		return -1;
	for (k = 0; k < c->nroutes; k++) {
		r = &c->routes[k];
		for (j = 0; j < r->nlisten; j++) {
			if (addr_port(&r->listen[j]) == 0)
				continue;
			e = &ix->e[ix->n++];
			cfg_lent_key(&r->listen[j], e);
			e->k = k;
			e->j = j;
		}
	}
	qsort(ix->e, ix->n, sizeof(*ix->e), cfg_lent_cmp);
	return 0;
}

/*
 * The run of ${ix}'s entries equal to ${key} at ${level}
 * (cfg_lent_order()): [return, *${end}), in route and listen order.
 */
static size_t
cfg_index_run(const struct cfg_index *ix, const struct cfg_lent *key, int level,
    size_t *end)
{
	size_t lo = 0, hi = ix->n, mid, first;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cfg_lent_order(&ix->e[mid], key, level) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	hi = ix->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cfg_lent_order(&ix->e[mid], key, level) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*end = lo;
	return first;
}

/* The wildcards of ${key}'s family and port: as cfg_index_run(). */
static size_t
cfg_index_wild(const struct cfg_index *ix, const struct cfg_lent *key,
    size_t *end)
{
	struct cfg_lent	 w = *key;

	w.spec = 0;
	return cfg_index_run(ix, &w, 1, end);
}

size_t
config_listen_find(const struct config *c, const char *name,
    const struct addr *a, size_t nth)
{
	const struct cfg_index *ix = c->lidx;
	const struct route *r;
	struct cfg_lent	 key;
	size_t		 i, j, x, end;

	if (name != NULL) {
		if ((i = config_route_find(c, name)) == c->nroutes)
			return c->listens_at[c->nroutes];
		r = &c->routes[i];
		for (j = 0; j < r->nlisten; j++)
			if (addr_equal(&r->listen[j], a) && nth-- == 0)
				return c->listens_at[i] + j;
		return c->listens_at[c->nroutes];
	}
	/* A host's run is its equal listens, in order; wildcards by scope. */
	cfg_lent_key(a, &key);
	for (x = cfg_index_run(ix, &key, 1, &end); x < end; x++)
		if (addr_equal(&c->routes[ix->e[x].k].listen[ix->e[x].j], a))
			return c->listens_at[ix->e[x].k] + ix->e[x].j;
	return c->listens_at[c->nroutes];
}

size_t
config_listen_count(const struct config *c)
{
	return c->listens_at[c->nroutes];
}

/*
 * The route one of whose listen addresses ${u} is (the very address, or
 * a loopback one under a wildcard of its port), its index, with that
 * listen's in *${rj}; or -1.  Listens never clash (cfg_check()), so
 * there is one such route at most.
 */
static ssize_t
cfg_listen_route(const struct cfg_index *ix, const struct addr *u, size_t *rj)
{
	const struct cfg_lent *best = NULL;
	struct cfg_lent	 key;
	size_t		 x, end;

	if (addr_port(u) == 0)
		return -1;
	cfg_lent_key(u, &key);
	if (key.spec) {
		/* The first of its host's, and of the wildcards' if it may. */
		if ((x = cfg_index_run(ix, &key, 1, &end)) < end)
			best = &ix->e[x];
		if (cfg_is_loopback(u) &&
		    (x = cfg_index_wild(ix, &key, &end)) < end &&
		    (best == NULL ||
			cfg_lent_before(&ix->e[x], best->k, best->j)))
			best = &ix->e[x];
	} else {
		/* A wildcard (upstream refuses one): any host of the port. */
		for (x = cfg_index_run(ix, &key, 0, &end); x < end; x++)
			if (ix->e[x].spec &&
			    (best == NULL ||
				cfg_lent_before(&ix->e[x], best->k, best->j)))
				best = &ix->e[x];
	}
	if (best == NULL)
		return -1;
	*rj = best->j;
	return (ssize_t)best->k;
}

/*
 * Routes as a graph: an upstream that is one of relay46's own listens is
 * an edge to that listen's route (cfg_listen_route()).  Built once for
 * the whole file; comp[] then numbers its strongly connected components,
 * so that "does route k lead back to route i" is comp[k] == comp[i].
 */
struct cfg_graph {
	size_t		*off;	/* route i's edges: tgt[off[i] .. off[i + 1]) */
	ssize_t		*tgt;	/* per upstream: its route, or -1 */
	size_t		*tj;	/* and that route's listen */
	size_t		*comp;
	size_t		*mem;	/* the work arrays of cfg_graph_components() */
};

static void
cfg_graph_free(struct cfg_graph *g)
{
	free(g->off);
	free(g->tgt);
	free(g->tj);
	free(g->comp);
	free(g->mem);
}

/*
 * Tarjan's algorithm, with an explicit stack so that a chain of routes
 * as long as the file is no deeper a recursion than one route.  idx 0 is
 * "not seen yet"; each route is entered once and each edge followed once.
 */
static void
cfg_graph_components(struct cfg_graph *g, size_t n)
{
	size_t	*idx = g->mem, *low = idx + n, *stk = low + n, *cs = stk + n;
	size_t	*ce = cs + n, *on = ce + n;
	size_t	 next = 1, sp = 0, d, ncomp = 0, s, v, w, e;

	for (s = 0; s < n; s++) {
		if (idx[s] != 0)
			continue;
		idx[s] = low[s] = next++;
		stk[sp++] = s;
		on[s] = 1;
		cs[0] = s;
		ce[0] = g->off[s];
		d = 1;
		while (d > 0) {
			v = cs[d - 1];
			if (ce[d - 1] < g->off[v + 1]) {
				e = ce[d - 1]++;
				if (g->tgt[e] < 0)
					continue;
				w = (size_t)g->tgt[e];
				if (idx[w] == 0) {
					idx[w] = low[w] = next++;
					stk[sp++] = w;
					on[w] = 1;
					cs[d] = w;
					ce[d] = g->off[w];
					d++;
				} else if (on[w] && idx[w] < low[v])
					low[v] = idx[w];
				continue;
			}
			if (low[v] == idx[v]) {
				do {
					w = stk[--sp];
					on[w] = 0;
					g->comp[w] = ncomp;
				} while (w != v);
				ncomp++;
			}
			if (--d > 0 && low[v] < low[cs[d - 1]])
				low[cs[d - 1]] = low[v];
		}
	}
}

/* 0, or -1 when out of memory. */
static int
cfg_graph_build(const struct config *c, const struct cfg_index *ix,
    struct cfg_graph *g)
{
	const struct route *r;
	size_t		 n = c->nroutes, i, x, e = 0;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < n; i++)
		e += c->routes[i].nup;
	if ((g->off = calloc(n + 1, sizeof(*g->off))) == NULL ||
	    (g->tgt = calloc(e + 1, sizeof(*g->tgt))) == NULL ||
	    (g->tj = calloc(e + 1, sizeof(*g->tj))) == NULL ||
	    (g->comp = calloc(n + 1, sizeof(*g->comp))) == NULL ||
	    (g->mem = calloc(6 * n + 1, sizeof(*g->mem))) == NULL)
		return -1;
	for (i = 0, e = 0; i < n; i++) {
		r = &c->routes[i];
		g->off[i] = e;
		for (x = 0; x < r->nup; x++, e++)
			g->tgt[e] = cfg_listen_route(ix, &r->up[x].addr,
			    &g->tj[e]);
	}
	g->off[n] = e;
	cfg_graph_components(g, n);
	return 0;
}

/*
 * An upstream of route ${i} that is relay46's own listen address, of this
 * route or of one whose upstreams lead back here, would relay every client
 * round the loop, each time as a new session, until the slots run out.
 * A chain that ends (an edge route whose upstream is an inner route's
 * listen, as in contrib/examples/proxy-chain.ini) is fine.
 */
static void
cfg_check_loops(struct cfg_parse *p, const struct cfg_graph *g, size_t i)
{
	const struct route *r = &p->c->routes[i], *o;
	char		    a1[ADDR_STRLEN], a2[ADDR_STRLEN], at[32];
	size_t		    x, e, j;
	ssize_t		    k;

	for (x = 0; x < r->nup; x++) {
		e = g->off[i] + x;
		if ((k = g->tgt[e]) == -1 ||
		    ((size_t)k != i && g->comp[k] != g->comp[i]))
			continue;
		o = &p->c->routes[k];
		j = g->tj[e];
		at[0] = '\0';
		if (o->listen_line[j] > 0)
			snprintf(at, sizeof(at), " (line %d)",
			    o->listen_line[j]);
		cfg_error(p, r->specs[r->up[x].spec].line,
		    "upstream %s is "
		    "listen %s of route '%s'%s%s: relay46 would relay to itself",
		    addr_format(&r->up[x].addr, a1, sizeof(a1)),
		    addr_format(&o->listen[j], a2, sizeof(a2)), o->name, at,
		    (size_t)k != i ? ", whose upstreams lead back here" : "");
	}
}

/*
 * Reachable from this host or a private network only: loopback, RFC 1918,
 * link-local, IPv6 unique local (fc00::/7).  Not a wildcard, which takes
 * every address the host has, public ones too.
 */
static bool
cfg_is_private(const struct addr *a)
{
	struct addr		 u = *a;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&u.ss;
	uint32_t		 v4;

	addr_unmap(&u);
	if (cfg_is_loopback(&u))
		return true;
	if (u.ss.ss_family == AF_INET) {
		v4 = ntohl(
		    ((const struct sockaddr_in *)&u.ss)->sin_addr.s_addr);
		/* 10/8, 172.16/12, 192.168/16, 169.254/16 */
		return (v4 >> 24) == 10 || (v4 >> 20) == 0xac1 ||
		    (v4 >> 16) == 0xc0a8 || (v4 >> 16) == 0xa9fe;
	}
	return u.ss.ss_family == AF_INET6 &&
	    ((s6->sin6_addr.s6_addr[0] & 0xfe) == 0xfc ||
	    IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr));
}

/* ${r}'s listen addresses, "A, B", into ${buf}; cut short with "...". */
static const char *
cfg_listen_list(const struct route *r, char *buf, size_t len)
{
	char	 a[ADDR_STRLEN];
	size_t	 i, off = 0;
	int	 n;

	buf[0] = '\0';
	for (i = 0; i < r->nlisten && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s", i > 0 ? ", " : "",
		    addr_format(&r->listen[i], a, sizeof(a)));
		if (n < 0 || (size_t)n >= len - off) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			break;
		}
		off += (size_t)n;
	}
	return buf;
}

/*
 * accept_proxy believes the header: without proxy_from, whoever reaches
 * the listener picks the address that allow, deny and max_per_client
 * judge.  Tolerable (with a warning) where only this host or a private
 * network can connect; refused where the listener may face the Internet,
 * unless "proxy_from = any" says it is meant.
 */
static void
cfg_check_proxy(struct cfg_parse *p, const struct route *r)
{
	char	 a[ADDR_STRLEN], list[256];
	size_t	 j;

	if (!r->accept_proxy) {
		if (r->proxy_from_line != 0)
			cfg_error(p, r->proxy_from_line, "proxy_from needs "
			    "accept_proxy = on");
		return;
	}
	if (r->proxy_from.nallow != 0)
		return;
	for (j = 0; j < r->nlisten; j++) {
		if (cfg_is_private(&r->listen[j]) &&
		    !addr_is_any(&r->listen[j]))
			continue;
		cfg_error(p, r->accept_proxy_line, "accept_proxy without "
		    "proxy_from on listen %s (line %d), %s: anyone who reaches "
		    "it can claim any client address; add proxy_from = the "
		    "CIDR of the relays that send headers (or proxy_from = "
		    "any)", addr_format(&r->listen[j], a, sizeof(a)),
		    r->listen_line[j], addr_is_any(&r->listen[j]) ?
		    "a wildcard address" : "a public address");
		return;
	}
	cfg_warn(p, r->accept_proxy_line,
	    "route %s: accept_proxy without "
	    "proxy_from: anyone who reaches %s can claim any client address",
	    r->name, cfg_listen_list(r, list, sizeof(list)));
}

/*
 * Listen ${j} of route ${i} against the listens before it only (this
 * route's earlier ones, every earlier route's), so that a clash is told
 * once, and in that order.  A host overlaps the wildcards of its port and
 * its own host's listens: two runs of the index, merged.  A wildcard
 * overlaps every listen of its port, each one an error to tell.
 */
static void
cfg_check_clash(struct cfg_parse *p, const struct cfg_index *ix, size_t i,
    size_t j)
{
	const struct route *r = &p->c->routes[i];
	const struct cfg_lent *e;
	struct cfg_lent	 key, *all;
	size_t		 h, hend, w, wend, x, n = 0;

	if (addr_port(&r->listen[j]) == 0)
		return;
	cfg_lent_key(&r->listen[j], &key);
	if (key.spec) {
		h = cfg_index_run(ix, &key, 1, &hend);
		w = cfg_index_wild(ix, &key, &wend);
		for (;;) {
			if (h < hend &&
			    (w == wend ||
				cfg_lent_cmp_kj(&ix->e[h], &ix->e[w]) < 0))
				e = &ix->e[h++];
			else if (w < wend)
				e = &ix->e[w++];
			else
				break;
			if (!cfg_lent_before(e, i, j))
				break;
			cfg_clash(p, r->listen_line[j], "listen", &r->listen[j],
			    &p->c->routes[e->k], e->j);
		}
		return;
	}
	x = cfg_index_run(ix, &key, 0, &hend);
	if ((all = calloc(hend - x + 1, sizeof(*all))) == NULL) {
		p->oom = true;
		return;
	}
	for (; x < hend; x++)
		if (cfg_lent_before(&ix->e[x], i, j))
			all[n++] = ix->e[x];
	qsort(all, n, sizeof(*all), cfg_lent_cmp_kj);
	for (x = 0; x < n; x++)
		cfg_clash(p, r->listen_line[j], "listen", &r->listen[j],
		    &p->c->routes[all[x].k], all[x].j);
	free(all);
}

/* Checks that need the whole file: required keys, listen clashes. */
static void
cfg_check(struct cfg_parse *p)
{
	struct route	*r;
	const struct cfg_index *ix;
	struct cfg_graph g;
	size_t		 i, j;

	memset(&g, 0, sizeof(g));
	if (cfg_index_build(p->c) == -1 ||
	    cfg_graph_build(p->c, p->c->lidx, &g) == -1) {
		p->oom = true;
		cfg_graph_free(&g);
		return;
	}
	ix = p->c->lidx;

	if (p->c->admin_on && !cfg_is_loopback(&p->c->admin) &&
	    p->c->admin_allow.nallow == 0) {
		char a[ADDR_STRLEN];

		cfg_error(p, p->c->admin_line,
		    "admin %s is not a loopback "
		    "address: add admin_allow = CIDR lines for who may use it",
		    addr_format(&p->c->admin, a, sizeof(a)));
	}
	if (p->c->group != NULL && p->c->user == NULL)
		cfg_error(p, p->group_line,
		    "group is set but user is not: "
		    "set both, or "
		    "only user (its own group is then used)");
	/* Only when nothing else is wrong: a bad header already said why. */
	if (p->c->nroutes == 0 && p->nerr == 0)
		cfg_error(p, 0,
		    "no routes: add a [route NAME] section with "
		    "listen and upstream");
	for (i = 0; i < p->c->nroutes; i++) {
		r = &p->c->routes[i];
		if (r->nlisten == 0 && !cfg_had_bad(p, i, CFG_BAD_LISTEN))
			cfg_error(p, r->line, "route '%s' has no listen",
			    r->name);
		if (r->nup == 0 && !cfg_had_bad(p, i, CFG_BAD_UPSTREAM))
			cfg_error(p, r->line, "route '%s' has no upstream",
			    r->name);
		cfg_check_proxy(p, r);
		for (j = 0; j < r->nlisten; j++)
			cfg_check_clash(p, ix, i, j);
		cfg_check_loops(p, &g, i);
		if (p->c->admin_on)
			for (j = 0; j < r->nlisten; j++)
				if (addr_overlap(&p->c->admin, &r->listen[j]))
					cfg_clash(p, p->c->admin_line, "admin",
					    &p->c->admin, r, j);
	}
	cfg_graph_free(&g);
}

/* Hand the errors to the caller and free what was built. */
static struct config *
cfg_finish(struct cfg_parse *p, char **errs)
{
	free(p->seen);
	free(p->bad);
	/* After the whole file: it needs every route's listens and checks. */
	if (p->c != NULL)
		cfg_derive_max_connections(p->c);
	if (p->nerr == 0 && !p->oom && p->nwarn > 0 &&
	    (p->c->warnings = cfg_err_join(p->path, p->warnv, p->nwarn)) ==
	    NULL)
		p->oom = true;
	cfg_notes_free(p->warnv, p->nwarn);
	if (p->nerr == 0 && !p->oom) {
		*errs = NULL;
		return p->c;
	}
	*errs = p->oom ? NULL : cfg_err_join(p->path, p->errv, p->nerr);
	if (*errs == NULL)
		*errs = util_strdup("out of memory\n");
	cfg_notes_free(p->errv, p->nerr);
	cfg_free(p->c);
	return NULL;
}

struct config *
config_load_fp(FILE *fp, const char *name, unsigned flags, char **errs)
{
	struct cfg_parse	 p;
	int			 rc;

	memset(&p, 0, sizeof(p));
	p.path = name;
	p.fp = fp;
	p.flags = flags;
	if ((p.c = cfg_new()) == NULL ||
	    (p.seen = calloc(NELEM(cfg_keys), sizeof(*p.seen))) == NULL ||
	    (p.c->path = util_strdup(name)) == NULL) {
		p.oom = true;
		return cfg_finish(&p, errs);
	}
	/*
	 * Our reader gives inih exactly one physical line per call, so the
	 * line number inih returns for its own complaint is ours too.
	 */
	rc = ini_parse_stream(cfg_reader, &p, cfg_handler, &p);
	if (p.nread >= CFG_FILE_MAX && !ferror(fp) && getc(fp) != EOF)
		cfg_error(&p, 0, "more than %u MiB: not a configuration file",
		    CFG_FILE_MAX >> 20);
	if (ferror(fp))
		cfg_error(&p, 0, "read error: %s",
		    strerror(p.read_errno != 0 ? p.read_errno : EIO));
	/*
	 * inih's own syntax complaint, where we did not already say why: rc
	 * is the line of its first one; -2 is inih out of memory (-1, a file
	 * it could not open, cannot come from a stream).
	 */
	if (rc > 0 && !cfg_has_error(&p, rc))
		cfg_error(&p, rc, "syntax error");
	else if (rc < 0)
		p.oom = true;
	cfg_check(&p);
	return cfg_finish(&p, errs);
}

/*
 * A file that cannot be opened is one error without a line ("PATH:
 * reason"), in the same form as the rest, so callers print it alike.
 */
struct config *
config_load(const char *path, char **errs)
{
	struct config	*c;
	FILE		*fp;
	char		 msg[512];
	int		 n;

	if ((fp = fopen(path, "r")) == NULL) {
		n = snprintf(msg, sizeof(msg), "%s: %s\n", path,
		    strerror(errno));
		*errs = n > 0 ? util_strdup(msg) : NULL;
		return NULL;
	}
	c = config_load_fp(fp, path, 0, errs);
	fclose(fp);
	return c;
}

/*
 * One -l or -u (${opt}) value ${v}, stored by ${set}.  No longer than a
 * line of the file, as relay46(8) says: a longer one is refused whole and
 * quoted only in part, so that the reason still fits in the message.
 */
static void
cfg_quick_arg(struct cfg_parse *p, int opt, const char *v,
    int (*set)(struct cfg_parse *, const char *, char *, size_t))
{
	char	 err[512], val[CONFIG_LINE_MAX + 1];
	size_t	 n;

	/* Spaces around it go, as around a value in the file. */
	while (isspace((unsigned char)*v))
		v++;
	for (n = strlen(v); n > 0 && isspace((unsigned char)v[n - 1]); n--)
		;
	if (n > CONFIG_LINE_MAX) {
		cfg_error(p, 0,
		    "-%c %.40s...: too long (%zu bytes, at most %d)", opt, v, n,
		    CONFIG_LINE_MAX);
		return;
	}
	memcpy(val, v, n);
	val[n] = '\0';
	if (set(p, val, err, sizeof(err)) == -1)
		cfg_error(p, 0, "-%c %s: %s", opt, val, err);
}

struct config *
config_quick(char *const *listen, size_t nlisten, char *const *up, size_t nup,
    char **errs)
{
	struct cfg_parse	 p;
	size_t			 i;

	memset(&p, 0, sizeof(p));
	/* Errors read "relay46: -l VALUE: message"; there is no file. */
	p.path = "relay46";
	if ((p.c = cfg_new()) == NULL ||
	    (p.seen = calloc(NELEM(cfg_keys), sizeof(*p.seen))) == NULL) {
		p.oom = true;
		return cfg_finish(&p, errs);
	}
	cfg_start_route(&p, "quick");
	if (p.sec != CFG_SEC_ROUTE)
		return cfg_finish(&p, errs);
	for (i = 0; i < nlisten; i++)
		cfg_quick_arg(&p, 'l', listen[i], cfg_set_listen);
	for (i = 0; i < nup; i++)
		cfg_quick_arg(&p, 'u', up[i], cfg_set_upstream);
	/* A bad -l or -u would only come back as "no listen", "no upstream". */
	if (p.nerr == 0)
		cfg_check(&p);
	return cfg_finish(&p, errs);
}
