/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for config.c.  Each test writes INI text into files in its
 * own mkdtemp() directory and calls config_load() on them: good files
 * are checked value by value, and a table of bad files gives, for each,
 * the line the error must name and a part of its text (STYLE.md 2.6).
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

#include "addr.h"
#include "balance.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "resolve.h"
#include "splice.h"
#include "util.h"

/* ---- fixture: one temporary directory per test ------------------------- */

struct tmp {
	char	 dir[1024];
	char	 path[PATH_MAX];	/* the file last written */
};

static int
tmp_setup(void **state)
{
	struct tmp	*t;
	const char	*base;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	snprintf(t->dir, sizeof(t->dir), "%s/relay46-test.XXXXXX", base);
	if (mkdtemp(t->dir) == NULL) {
		print_error("mkdtemp %s: %s\n", t->dir, strerror(errno));
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
tmp_teardown(void **state)
{
	struct tmp	*t = *state;
	struct dirent	*de;
	DIR		*d;
	char		 p[PATH_MAX + 256];

	if ((d = opendir(t->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", t->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(t->dir);
	free(t);
	/* A test that failed half-way must not leave its hosts file on. */
	unsetenv("RELAY46_HOSTS");
	return 0;
}

/* Write ${len} bytes of ${text} to DIR/${name}; returns its path. */
static const char *
write_bytes(struct tmp *t, const char *name, const char *text, size_t len)
{
	FILE	*fp;

	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	if ((fp = fopen(t->path, "w")) == NULL)
		fail_msg("fopen %s: %s", t->path, strerror(errno));
	if (len > 0 && fwrite(text, 1, len, fp) != len)
		fail_msg("fwrite %s: %s", t->path, strerror(errno));
	if (fclose(fp) != 0)
		fail_msg("fclose %s: %s", t->path, strerror(errno));
	return t->path;
}

static const char *
write_file(struct tmp *t, const char *name, const char *text)
{
	return write_bytes(t, name, text, strlen(text));
}

/* Load a file the test expects to be good. */
static struct config *
must_load(const char *path)
{
	struct config	*c;
	char		*errs = (char *)"unset";

	c = config_load(path, &errs);
	if (c == NULL) {
		print_error("%s", errs != NULL ? errs : "(no errs)\n");
		free(errs);
		fail_msg("config_load(%s) failed", path);
	}
	assert_null(errs);
	return c;
}

static const char *
fmt(const struct addr *a, char *buf)
{
	return addr_format(a, buf, ADDR_STRLEN);
}

/* ---- checking error text ----------------------------------------------- */

/*
 * Every line of ${errs} must read "PREFIX:LINE: msg" or "PREFIX: msg",
 * in file order with the line-less ones last.  Returns how many lines.
 */
static int
check_err_lines(const char *errs, const char *prefix)
{
	const char	*s, *nl, *q;
	size_t		 plen = strlen(prefix);
	long		 line, last = 1;
	int		 n = 0;
	char		*end;

	for (s = errs; *s != '\0'; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			fail_msg("errors do not end in a newline: '%s'", s);
		if (strncmp(s, prefix, plen) != 0 || s[plen] != ':')
			fail_msg("error line without '%s:': '%.*s'", prefix,
			    (int)(nl - s), s);
		q = s + plen + 1;
		if (*q == ' ')
			line = LONG_MAX;	/* whole-file error: last */
		else {
			line = strtol(q, &end, 10);
			if (end == q || line < 1 || end[0] != ':' ||
			    end[1] != ' ')
				fail_msg("bad error line '%.*s'",
				    (int)(nl - s), s);
		}
		if (line < last)
			fail_msg("errors out of file order:\n%s", errs);
		last = line;
		n++;
	}
	return n;
}

/*
 * Find a line of ${errs} that starts "PREFIX:LINE: " (or "PREFIX: " when
 * ${line} is 0) and contains ${want}; with ${exact}, that is all of it.
 */
static bool
has_err(const char *errs, const char *prefix, int line, const char *want,
    bool exact)
{
	char		 head[PATH_MAX + 32];
	const char	*s, *nl;
	size_t		 hlen, wlen = strlen(want);

	if (line > 0)
		snprintf(head, sizeof(head), "%s:%d: ", prefix, line);
	else
		snprintf(head, sizeof(head), "%s: ", prefix);
	hlen = strlen(head);
	for (s = errs; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
		if ((size_t)(nl - s) < hlen || strncmp(s, head, hlen) != 0)
			continue;
		if (exact) {
			if ((size_t)(nl - s) == hlen + wlen &&
			    strncmp(s + hlen, want, wlen) == 0)
				return true;
		} else if (memmem(s + hlen, (size_t)(nl - s) - hlen, want,
		    wlen) != NULL)
			return true;
	}
	return false;
}

/* ---- good files -------------------------------------------------------- */

static const char full_ini[] =
	"; every supported key\n"			/*  1 */
	"[global]\n"					/*  2 */
	"workers = 1\n"					/*  3 */
	"max_connections = 1000\n"			/*  4 */
	"log = syslog\n"				/*  5 */
	"log_level = debug\n"				/*  6 */
	"shutdown_timeout = 10s\n"			/*  7 */
	"access_log = off\n"				/*  8 */
	"admin = off\n"					/*  9 */
	"splice = 0\n"					/* 10 */
	"pidfile = /run/relay46.pid\n"			/* 11 */
	"[route web]\n"					/* 12 */
	"listen = *:18080\n"				/* 13 */
	"listen = [::1]:18081        ; an inline comment\n"	/* 14 */
	"listen = 127.0.0.1:18082\n"			/* 15 */
	"upstream = 127.0.0.1:8000\n"			/* 16 */
	"upstream = [::1]:8001 weight=3\n"		/* 17 */
	"upstream = 127.0.0.2:8002\tweight=256 ; most\n"	/* 18 */
	"balance = roundrobin\n"			/* 19 */
	"connect_timeout = 250ms\n"			/* 20 */
	"idle_timeout = 2m\n"				/* 21 */
	"fin_timeout = 0\n"				/* 22 */
	"keepalive = off\n"				/* 23 */
	"retries = 0\n"					/* 24 */
	"buffer = 1m\n"					/* 25 */
	"max_connections = 77\n"			/* 26 */
	"max_per_client = 4\n"				/* 27 */
	"proxy_protocol = v2\n"				/* 28 */
	"accept_proxy = on\n"				/* 29 */
	"health_check = tcp\n"				/* 30 */
	"allow = 10.0.0.0/8 ; rise=2 fall=3 default\n"	/* 31 */
	"proxy_from = 10.0.0.0/8\n"			/* 32 */
	"proxy_timeout = 1500ms\n"			/* 33 */
	"# a second route, all defaults\n"		/* 34 */
	"[route db.internal_2-b]\n"			/* 35 */
	"listen = 127.0.0.1:15432\n"			/* 36 */
	"upstream = 127.0.0.1:5432\n";			/* 37 */

static void
check_defaults(const struct route *r)
{
	assert_int_equal(r->balance, BALANCE_ROUNDROBIN);
	assert_int_equal(r->connect_timeout_ms, 5000);
	assert_int_equal(r->idle_timeout_ms, 3600 * 1000);
	assert_int_equal(r->fin_timeout_ms, 60 * 1000);
	assert_int_equal(r->retries, 2);
	assert_int_equal(r->backlog, 0);	/* the kernel's cap */
	assert_int_equal(r->buffer, 64 * 1024);
	assert_true(r->keepalive);
	assert_int_equal(r->max_connections, 0);
	assert_int_equal(r->max_per_client, 0);
	assert_int_equal(r->proxy_protocol, 0);
	assert_false(r->accept_proxy);
	assert_int_equal(r->accept_proxy_line, 0);
	assert_int_equal(r->proxy_from.nallow, 0);
	assert_int_equal(r->proxy_from_line, 0);
	assert_int_equal(r->proxy_timeout_ms, 3000);
	assert_false(r->health_check);
	assert_int_equal(r->check_interval_ms, 5000);
	assert_int_equal(r->rise, 2);
	assert_int_equal(r->fall, 3);
	assert_int_equal(r->resolve_ms, 30000);
	assert_int_equal(r->acl.nallow + r->acl.ndeny, 0);
}

static void
test_full_file(void **state)
{
	static const char *listen[] = { "0.0.0.0:18080", "[::]:18080",
	    "[::1]:18081", "127.0.0.1:18082" };
	static const int listen_line[] = { 13, 13, 14, 15 };
	static const struct { const char *addr, *spec; unsigned w; } up[] = {
		{ "127.0.0.1:8000", "127.0.0.1:8000", 1 },
		{ "[::1]:8001", "[::1]:8001", 3 },
		{ "127.0.0.2:8002", "127.0.0.2:8002", 256 },
	};
	struct tmp		*t = *state;
	struct config		*c;
	const struct route	*r;
	const char		*path;
	char			 buf[ADDR_STRLEN];
	size_t			 i;

	path = write_file(t, "full.ini", full_ini);
	c = must_load(path);
	assert_string_equal(c->path, path);
	assert_int_equal(c->refs, 1);
	assert_int_equal(c->workers, 1);
	assert_int_equal(c->max_connections, 1000);
	assert_false(c->max_connections_auto);
	assert_string_equal(c->pidfile, "/run/relay46.pid");
	assert_int_equal(c->log, CONFIG_LOG_SYSLOG);
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->shutdown_timeout_ms, 10000);
	assert_int_equal(c->nroutes, 2);

	r = &c->routes[0];
	assert_string_equal(r->name, "web");
	assert_int_equal(r->line, 12);
	assert_int_equal(r->nlisten, NELEM(listen));
	for (i = 0; i < NELEM(listen); i++) {
		assert_string_equal(fmt(&r->listen[i], buf), listen[i]);
		assert_int_equal(r->listen_line[i], listen_line[i]);
	}
	assert_int_equal(r->nup, NELEM(up));
	for (i = 0; i < NELEM(up); i++) {
		assert_string_equal(fmt(&r->up[i].addr, buf), up[i].addr);
		assert_string_equal(r->specs[r->up[i].spec].text, up[i].spec);
		assert_int_equal(r->specs[r->up[i].spec].weight, up[i].w);
	}
	assert_int_equal(r->balance, BALANCE_ROUNDROBIN);
	assert_int_equal(r->connect_timeout_ms, 250);
	assert_int_equal(r->idle_timeout_ms, 120000);
	assert_int_equal(r->fin_timeout_ms, 0);
	assert_false(r->keepalive);
	assert_int_equal(r->retries, 0);
	assert_int_equal(r->buffer, 1024 * 1024);
	assert_int_equal(r->max_connections, 77);
	assert_int_equal(r->max_per_client, 4);
	assert_int_equal(r->proxy_protocol, 2);
	assert_true(r->accept_proxy);
	assert_int_equal(r->accept_proxy_line, 29);
	assert_int_equal(r->proxy_from.nallow, 1);
	assert_int_equal(r->proxy_from_line, 32);
	assert_int_equal(r->proxy_timeout_ms, 1500);
	/* A wildcard listen is fine for accept_proxy with proxy_from. */
	assert_null(c->warnings);
	assert_true(r->health_check);
	assert_int_equal(r->acl.nallow, 1);
	assert_int_equal(r->acl.ndeny, 0);
	assert_int_equal(r->rise, 2);
	assert_int_equal(r->fall, 3);
	assert_null(r->pool);	/* the parser builds no run-time state */

	r = &c->routes[1];
	assert_string_equal(r->name, "db.internal_2-b");
	assert_int_equal(r->line, 35);
	assert_int_equal(r->nlisten, 1);
	assert_string_equal(fmt(&r->listen[0], buf), "127.0.0.1:15432");
	assert_int_equal(r->listen_line[0], 36);
	assert_int_equal(r->nup, 1);
	assert_string_equal(fmt(&r->up[0].addr, buf), "127.0.0.1:5432");
	assert_int_equal(r->specs[r->up[0].spec].weight, 1);
	check_defaults(r);

	/* Shared by reference: freed with the last unref. */
	assert_ptr_equal(config_ref(c), c);
	assert_int_equal(c->refs, 2);
	config_unref(c);
	assert_int_equal(c->refs, 1);
	config_unref(c);
	config_unref(NULL);
}

/* Pools: every balance method, upstream options, ACLs, health keys. */
static void
test_pool_keys(void **state)
{
	struct tmp		*t = *state;
	struct config		*c;
	const struct route	*r;

	c = must_load(write_file(t, "pool.ini",
	    "[route a]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:10 weight=5 max_connections=7\n"
	    "upstream = 127.0.0.1:11 backup weight=2\n"
	    "upstream = [::1]:12 max_connections=1 backup\n"
	    "balance = leastconn\ncheck_interval = 250ms\nrise = 1\n"
	    "fall = 100\nresolve = 0\nallow = 10.0.0.0/8\nallow = ::1\n"
	    "deny = 10.0.0.66\nproxy_protocol = v1\n"
	    "[route b]\nlisten = 127.0.0.1:2\nupstream = 127.0.0.1:10\n"
	    "balance = source\n"
	    "[route c]\nlisten = 127.0.0.1:3\nupstream = 127.0.0.1:10\n"
	    "balance = random\n"));
	r = &c->routes[0];
	assert_int_equal(r->balance, BALANCE_LEASTCONN);
	assert_int_equal(r->nspecs, 3);
	assert_int_equal(r->specs[0].weight, 5);
	assert_int_equal(r->specs[0].max_connections, 7);
	assert_false(r->specs[0].backup);
	assert_null(r->specs[0].host);
	assert_int_equal(r->specs[0].line, 3);
	assert_true(r->specs[1].backup);
	assert_int_equal(r->specs[1].weight, 2);
	assert_int_equal(r->specs[1].max_connections, 0);
	assert_true(r->specs[2].backup);
	assert_int_equal(r->specs[2].max_connections, 1);
	assert_int_equal(r->check_interval_ms, 250);
	assert_int_equal(r->rise, 1);
	assert_int_equal(r->fall, 100);
	assert_int_equal(r->resolve_ms, 0);
	assert_int_equal(r->acl.nallow, 2);
	assert_int_equal(r->acl.ndeny, 1);
	assert_int_equal(r->proxy_protocol, 1);
	assert_int_equal(c->routes[1].balance, BALANCE_SOURCE);
	assert_int_equal(c->routes[2].balance, BALANCE_RANDOM);
	/* The pool, made for a config to run, mirrors the options. */
	assert_int_equal(pool_attach(c), 0);
	assert_int_equal(pool_count(r->pool), 3);
	assert_true(r->pool->u[2].backup);
	assert_int_equal(r->pool->u[0].max_connections, 7);
	config_unref(c);
}

/*
 * No max_connections: what the hard open files limit leaves after the
 * config's reserve (two descriptors a session), not a fixed 50000 that
 * a limit of 20000 or systemd's 65536 cannot hold.
 */
static void
check_auto_max(const struct config *c)
{
	struct rlimit	 rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(c->max_connections_auto);
	assert_int_equal(c->max_connections, config_max_connections_for(
	    rl.rlim_max == RLIM_INFINITY ? ULLONG_MAX : rl.rlim_max,
	    config_fd_reserve(c)));
	if (rl.rlim_max != RLIM_INFINITY)
		assert_true(2ULL * c->max_connections + config_fd_reserve(c) <=
		    rl.rlim_max);
}

/* max_connections: a number (0: no limit) or auto, the default. */
static void
test_max_connections(void **state)
{
	static const struct {
		unsigned long long nofile, reserve;
		unsigned	 want;
	} rows[] = {
		{ 20000, 69, 9965 },		/* this project's test box */
		{ 65536, 69, 32733 },		/* LimitNOFILE=65536 */
		{ 1024, 64, 480 },
		{ 600, 600, 1 },		/* never 0: that is no limit */
		{ 10, 600, 1 },
		{ ULLONG_MAX, 64, CONFIG_MAX_CONNECTIONS_MAX },
	};
	struct tmp	*t = *state;
	struct config	*c;
	size_t		 i;

	for (i = 0; i < NELEM(rows); i++)
		assert_int_equal(config_max_connections_for(rows[i].nofile,
		    rows[i].reserve), rows[i].want);
	c = must_load(write_file(t, "m.ini", "[global]\nmax_connections = 0\n"
	    "[route web]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n"));
	assert_int_equal(c->max_connections, 0);
	assert_false(c->max_connections_auto);
	config_unref(c);
	c = must_load(write_file(t, "m.ini", "[global]\n"
	    "max_connections = auto\n[route web]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:2\n"));
	check_auto_max(c);
	config_unref(c);
	/*
	 * The reserve: 64, and per worker 4 and its listening sockets (3),
	 * and, with health checks, one per upstream and 32 per host name.
	 */
	c = must_load(write_file(t, "m.ini", "[global]\nworkers = 2\n"
	    "[route a]\nlisten = *:1\nupstream = 127.0.0.1:2\n"
	    "upstream = 127.0.0.1:3\nupstream = localhost:4\n"
	    "health_check = tcp\n"
	    "[route b]\nlisten = 127.0.0.1:5\nupstream = 127.0.0.1:2\n"));
	assert_int_equal(config_fd_reserve(c), 64 + 2 * (4 + 3) +
	    c->routes[0].nup + 32);
	check_auto_max(c);
	config_unref(c);
}

/* Without a workers key: RELAY46_WORKERS (1..64), else one per CPU. */
static unsigned
default_workers(void)
{
	const char	*v = getenv("RELAY46_WORKERS");
	long		 cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int		 n = v != NULL ? atoi(v) : 0;

	if (n >= 1 && n <= 64)
		return (unsigned)n;
	return cpus < 1 ? 1 : cpus > 256 ? 256 : (unsigned)cpus;
}

/* workers: a number, "auto" (the CPUs, the default), or RELAY46_WORKERS. */
static void
test_workers(void **state)
{
	struct tmp	*t = *state;
	struct config	*c;
	long		 cpus = sysconf(_SC_NPROCESSORS_ONLN);
	const char	*path;

	c = must_load(write_file(t, "w.ini", "[global]\nworkers = 3\n"
	    "[route web]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n"));
	assert_int_equal(c->workers, 3);
	config_unref(c);
	c = must_load(write_file(t, "w.ini", "[global]\nworkers = auto\n"
	    "[route web]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n"));
	assert_int_equal(c->workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
	config_unref(c);
	path = write_file(t, "d.ini", "[route web]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:2\n");
	setenv("RELAY46_WORKERS", "2", 1);
	c = must_load(path);
	assert_int_equal(c->workers, 2);
	config_unref(c);
	setenv("RELAY46_WORKERS", "lots", 1);	/* ignored, not an error */
	c = must_load(path);
	assert_int_equal(c->workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
	config_unref(c);
	unsetenv("RELAY46_WORKERS");
	c = must_load(path);
	assert_int_equal(c->workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
	config_unref(c);
}

/* Global defaults when there is no [global] at all. */
static void
test_defaults(void **state)
{
	struct tmp	*t = *state;
	struct config	*c;
	char		 buf[ADDR_STRLEN];

	c = must_load(write_file(t, "min.ini", "[route web]\n"
	    "listen = [::1]:18080\nupstream = [::1]:8000\n"));
	assert_int_equal(c->workers, default_workers());
	check_auto_max(c);
	assert_null(c->pidfile);
	assert_int_equal(c->log, CONFIG_LOG_STDERR);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->shutdown_timeout_ms, 30000);
	assert_int_equal(c->nroutes, 1);
	assert_int_equal(c->routes[0].line, 1);
	assert_string_equal(fmt(&c->routes[0].listen[0], buf), "[::1]:18080");
	assert_int_equal(c->routes[0].listen_line[0], 2);
	assert_int_equal(c->routes[0].specs[0].weight, 1);
	check_defaults(&c->routes[0]);
	config_unref(c);
}

/*
 * Leading whitespace is not a continuation: an indented key is a key of
 * its own (config.c hands inih each line left-trimmed).
 */
static void
test_indented_keys(void **state)
{
	struct tmp	*t = *state;
	struct config	*c;
	char		 buf[ADDR_STRLEN];

	c = must_load(write_file(t, "indent.ini",
	    "  [route web]\n"
	    "   listen = 127.0.0.1:1234\n"
	    "\tupstream = 127.0.0.1:80\n"
	    "   \t connect_timeout = 2s\n"
	    "    ; an indented comment\n"
	    "  [ global ]\n"
	    "\t\tlog_level = warn\n"));
	assert_int_equal(c->nroutes, 1);
	assert_int_equal(c->routes[0].nlisten, 1);
	assert_string_equal(fmt(&c->routes[0].listen[0], buf),
	    "127.0.0.1:1234");
	assert_int_equal(c->routes[0].nup, 1);
	assert_string_equal(fmt(&c->routes[0].up[0].addr, buf),
	    "127.0.0.1:80");
	assert_int_equal(c->routes[0].connect_timeout_ms, 2000);
	assert_int_equal(c->log_level, LOG_LEVEL_WARN);
	config_unref(c);
}

/* CRLF endings, no final newline, odd spacing, a 190-byte line. */
static void
test_layout(void **state)
{
#define X10	"xxxxxxxxxx"
#define X50	X10 X10 X10 X10 X10
	struct tmp	*t = *state;
	struct config	*c;
	char		 buf[ADDR_STRLEN];

	c = must_load(write_file(t, "crlf.ini", "[route web]\r\n"
	    "listen=127.0.0.1:1234\r\nupstream   =   127.0.0.1:80\r\n"
	    "[route  other ]\r\nlisten = 127.0.0.1:1235\r\n"
	    "upstream = 127.0.0.1:81"));
	assert_int_equal(c->nroutes, 2);
	assert_string_equal(c->routes[1].name, "other");
	assert_string_equal(fmt(&c->routes[0].up[0].addr, buf),
	    "127.0.0.1:80");
	assert_string_equal(fmt(&c->routes[1].up[0].addr, buf),
	    "127.0.0.1:81");
	config_unref(c);

	/* Exactly CONFIG_LINE_MAX bytes is still fine. */
	assert_int_equal(strlen(";" X50 X50 X50 X10 X10 X10 "xxxxxxxxx"),
	    CONFIG_LINE_MAX);
	assert_int_equal(strlen("listen = 127.0.0.1:1235 ;" X50 X50 X50
	    "xxxxxxxxxxxxxxx"), CONFIG_LINE_MAX);
	c = must_load(write_file(t, "190.ini", "[route web]\n"
	    ";" X50 X50 X50 X10 X10 X10 "xxxxxxxxx\n"
	    "listen = 127.0.0.1:1234\n"
	    "listen = 127.0.0.1:1235 ;" X50 X50 X50 "xxxxxxxxxxxxxxx\n"
	    "upstream = 127.0.0.1:80\n"));
	assert_int_equal(c->routes[0].nlisten, 2);
	config_unref(c);
#undef X10
#undef X50
}

/* Names of up to CONFIG_NAME_MAX characters; global after routes. */
static void
test_names_and_order(void **state)
{
#define N16	"abcdefghijklmnop"
	struct tmp	*t = *state;
	struct config	*c;

	assert_int_equal(strlen(N16 N16 N16 N16), CONFIG_NAME_MAX);
	c = must_load(write_file(t, "names.ini",
	    "[route " N16 N16 N16 N16 "]\n"
	    "listen = 127.0.0.1:1234\nupstream = 127.0.0.1:80\n"
	    "max_connections = 5\n"
	    "[global]\nmax_connections = 6\n"
	    "[route A-Z_0.9]\n"
	    "listen = 127.0.0.1:1235\nupstream = 127.0.0.1:80\n"));
	assert_int_equal(c->nroutes, 2);
	assert_string_equal(c->routes[0].name, N16 N16 N16 N16);
	assert_string_equal(c->routes[1].name, "A-Z_0.9");
	assert_int_equal(c->routes[0].max_connections, 5);
	assert_int_equal(c->routes[1].max_connections, 0);
	assert_int_equal(c->max_connections, 6);
	config_unref(c);
#undef N16
}

/* Switch spellings, sizes and the "off" values of keys not built yet. */
static void
test_values(void **state)
{
	struct tmp	*t = *state;
	struct config	*c;

	c = must_load(write_file(t, "values.ini",
	    "[global]\nlog = stderr\nlog_level = error\nshutdown_timeout = 0\n"
	    "max_connections = 0\naccess_log = 0\nadmin = 0\nsplice = off\n"
	    "[route web]\nlisten = 127.0.0.1:1234\n"
	    "upstream = 127.0.0.1:80 weight=1\n"
	    "keepalive = yes\nbuffer = 1k\nretries = 100\nbacklog = 1\n"
	    "connect_timeout = 1ms\nidle_timeout = 30d\nfin_timeout = 7\n"
	    "max_per_client = off\nproxy_protocol = 0\naccept_proxy = 0\n"
	    "health_check = 0\n"
	    "[route big]\nlisten = 127.0.0.1:1235\nupstream = 127.0.0.1:80\n"
	    "buffer = 64M\nkeepalive = FALSE\nmax_connections = 10000000\n"
	    "backlog = 65535\n"));
	assert_int_equal(c->log, CONFIG_LOG_STDERR);
	assert_int_equal(c->log_level, LOG_LEVEL_ERROR);
	assert_int_equal(c->shutdown_timeout_ms, 0);
	assert_int_equal(c->max_connections, 0);
	assert_int_equal(c->splice, SPLICE_OFF);
	assert_true(c->routes[0].keepalive);
	assert_int_equal(c->routes[0].buffer, 1024);
	assert_int_equal(c->routes[0].retries, 100);
	assert_int_equal(c->routes[0].backlog, 1);
	assert_int_equal(c->routes[1].backlog, 65535);
	assert_int_equal(c->routes[0].connect_timeout_ms, 1);
	assert_int_equal(c->routes[0].idle_timeout_ms,
	    30ULL * 24 * 3600 * 1000);
	assert_int_equal(c->routes[0].fin_timeout_ms, 7000);
	assert_int_equal(c->routes[1].buffer, 64 * 1024 * 1024);
	assert_false(c->routes[1].keepalive);
	assert_int_equal(c->routes[1].max_connections, 10000000);
	config_unref(c);
}

/* splice: on, off, always, and the boolean spellings it had before. */
#define SPLICE_INI(v)                                                      \
	"[global]\nsplice = " v "\n[route web]\nlisten = 127.0.0.1:1234\n" \
	"upstream = 127.0.0.1:80\n"

static void
test_splice_values(void **state)
{
	static const char *const values[] = { "on", "yes", "1", "off", "false",
		"always" };
	static const int	 modes[] = { SPLICE_ON, SPLICE_ON, SPLICE_ON,
			SPLICE_OFF, SPLICE_OFF, SPLICE_ALWAYS };
	struct config		*c;
	char			 text[256], *errs = NULL;
	size_t			 i;

	for (i = 0; i < NELEM(values); i++) {
		snprintf(text, sizeof(text), SPLICE_INI("%s"), values[i]);
		c = must_load(write_file(*state, "splice.ini", text));
		/* Without splice(2) in the build, every value is off. */
		assert_int_equal(c->splice,
		    splice_supported() ? modes[i] : SPLICE_OFF);
		config_unref(c);
	}
	c = config_load(
	    write_file(*state, "splice.ini", SPLICE_INI("sometimes")), &errs);
	assert_null(c);
	assert_non_null(errs);
	if (strstr(errs,
		":2: splice = sometimes: expected on, off or always") == NULL)
		fail_msg("unexpected error text: %s", errs);
	free(errs);
}

static bool
is_loopback(const struct addr *a)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	if (a->ss.ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)&a->ss;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	s6 = (const struct sockaddr_in6 *)&a->ss;
	return a->ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
}

/* A host name becomes one upstream per address found. */
static void
test_localhost_upstream(void **state)
{
	struct tmp		*t = *state;
	struct config		*c;
	const struct route	*r;
	char			 buf[ADDR_STRLEN];
	size_t			 i, j;

	c = must_load(write_file(t, "host.ini", "[route web]\n"
	    "listen = 127.0.0.1:1234\n"
	    "upstream = localhost:8000 weight=2\n"));
	r = &c->routes[0];
	assert_true(r->nup >= 1);
	for (i = 0; i < r->nup; i++) {
		if (!is_loopback(&r->up[i].addr))
			fail_msg("localhost gave %s", fmt(&r->up[i].addr, buf));
		assert_int_equal(addr_port(&r->up[i].addr), 8000);
		assert_int_equal(r->specs[r->up[i].spec].weight, 2);
		assert_string_equal(r->specs[r->up[i].spec].text, "localhost:8000");
		for (j = 0; j < i; j++)
			assert_false(addr_equal(&r->up[i].addr,
			    &r->up[j].addr));
	}
	config_unref(c);
}

/*
 * One address, two upstream lines: whichever line's options held was a
 * guess (a name repeating a literal was dropped silently, "backup" and
 * all), so it is an error naming both lines, however the address came.
 * dup.test is 127.0.0.1 and ::1 in a RELAY46_HOSTS file (resolve.h).
 */
static const struct {
	const char	*ups;		/* upstream lines 3 and 4 */
	const char	*err;		/* line 4's whole error; NULL: good */
	size_t		 nup;		/* good: upstream addresses */
} dup_rows[] = {
	{ "upstream = 127.0.0.1:18000\nupstream = dup.test:18000 backup\n",
	    "upstream = dup.test:18000 backup: 127.0.0.1:18000 is also given "
	    "on line 3 (as 127.0.0.1:18000) without backup", 0 },
	{ "upstream = dup.test:18000 backup\nupstream = [::1]:18000\n",
	    "upstream = [::1]:18000: [::1]:18000 is also given on line 3 (as "
	    "dup.test:18000) with backup", 0 },
	{ "upstream = 127.0.0.1:18000\nupstream = dup.test:18000\n",
	    "upstream = dup.test:18000: 127.0.0.1:18000 is given twice (also "
	    "on line 3 as 127.0.0.1:18000)", 0 },
	{ "upstream = dup.test:18000\nupstream = dup.test:18000\n",
	    "upstream = dup.test:18000: 127.0.0.1:18000 is given twice (also "
	    "on line 3 as dup.test:18000)", 0 },
	{ "upstream = [::1]:18000 weight=2 max_connections=5\n"
	    "upstream = dup.test:18000 backup\n",
	    "upstream = dup.test:18000 backup: [::1]:18000 is also given on "
	    "line 3 (as [::1]:18000) with weight=2 and with max_connections=5 "
	    "and without backup", 0 },
	{ "upstream = dup.test:18000 max_connections=9\n"
	    "upstream = 127.0.0.1:18000 max_connections=8\n",
	    "upstream = 127.0.0.1:18000 max_connections=8: 127.0.0.1:18000 is "
	    "also given on line 3 (as dup.test:18000) with max_connections=9",
	    0 },
	/* Another port is another upstream. */
	{ "upstream = 127.0.0.1:18000\nupstream = dup.test:18001 backup\n",
	    NULL, 3 },
	/* A name listing an address twice is one upstream, not an error. */
	{ "upstream = twice.test:18000\nupstream = [::1]:18001\n", NULL, 2 },
};

static void
test_upstream_dup(void **state)
{
	struct tmp	*t = *state;
	struct config	*c;
	const char	*path;
	char		 hosts[PATH_MAX], text[512], *errs;
	size_t		 i;

	snprintf(hosts, sizeof(hosts), "%s", write_file(t, "hosts",
	    "127.0.0.1 dup.test\n::1 dup.test\n"
	    "127.0.0.1 twice.test\n127.0.0.1 twice.test\n"));
	setenv("RELAY46_HOSTS", hosts, 1);
	for (i = 0; i < NELEM(dup_rows); i++) {
		snprintf(text, sizeof(text), "[route web]\n"
		    "listen = 127.0.0.1:1\n%s", dup_rows[i].ups);
		path = write_file(t, "dup.ini", text);
		errs = NULL;
		c = config_load(path, &errs);
		if (dup_rows[i].err == NULL) {
			if (c == NULL)
				fail_msg("dup row %zu: %s", i, errs);
			assert_int_equal(c->routes[0].nup, dup_rows[i].nup);
			config_unref(c);
			continue;
		}
		if (c != NULL)
			fail_msg("dup row %zu: accepted", i);
		if (check_err_lines(errs, path) != 1 ||
		    !has_err(errs, path, 4, dup_rows[i].err, true))
			fail_msg("dup row %zu: got\n%swant line 4: %s", i, errs,
			    dup_rows[i].err);
		free(errs);
	}
	unsetenv("RELAY46_HOSTS");
}

/*
 * The report as it came: "localhost" (127.0.0.1 in every /etc/hosts)
 * after the literal, with "backup", passed "-t" and lost the backup.
 */
static void
test_upstream_dup_localhost(void **state)
{
	struct tmp	*t = *state;
	const char	*path;
	char		*errs = NULL;

	path = write_file(t, "lh.ini", "[route web]\nlisten = 127.0.0.1:1\n"
	    "upstream = 127.0.0.1:18000\nupstream = localhost:18000 backup\n");
	assert_null(config_load(path, &errs));
	if (!has_err(errs, path, 4, "upstream = localhost:18000 backup: "
	    "127.0.0.1:18000 is also given on line 3 (as 127.0.0.1:18000) "
	    "without backup", true))
		fail_msg("got %s", errs);
	free(errs);
}

/*
 * A lookup that cannot finish is given up, and nothing of it stays
 * behind.  resolve_sync() gives up when its loop has no event left, fails
 * or reaches its guard.  One way there: when the name server of a
 * RELAY46_RESOLV_CONF cannot be added because socket() fails (EMFILE),
 * evdns is left with none and parks the questions where no event wakes
 * them.  A seccomp filter in a child makes every UDP socket() fail so.
 * The lookup used to stay allocated (its event, its evdns base, evdns's
 * questions) and counted by resolve_pending() for ever; the child checks
 * that count, and its exit runs LeakSanitizer in a sanitizer build.
 * Exit status: 0 right, 1 wrong (said on stderr), 77 no seccomp here,
 * 23 LeakSanitizer's.
 */
#define GIVEN_UP_MS	20000
#define GIVEN_UP_INI \
	"[route web]\nlisten = 127.0.0.1:1\nupstream = never.relay46.test:80\n"
#define GIVEN_UP_ERR \
	"cannot resolve 'never.relay46.test': lookup did not finish"

#ifdef __linux__
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARG_LOW(n)	(offsetof(struct seccomp_data, args[n]) + 4)
#else
#define ARG_LOW(n)	offsetof(struct seccomp_data, args[n])
#endif

/* From now on, socket(any, SOCK_DGRAM) fails with EMFILE.  -1: cannot. */
static int
no_udp_sockets(void)
{
	struct sock_filter	 f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1)),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_DGRAM, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EMFILE),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog	 prog = { NELEM(f), f };
	int			 fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		return -1;
	/* socketcall(2) systems, say, would pass the filter by. */
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) != -1) {
		close(fd);
		return -1;
	}
	return errno == EMFILE ? 0 : -1;
}
#else
static int
no_udp_sockets(void)
{
	return -1;
}
#endif

/* The child: load ${path} without UDP sockets, and exit as above. */
static void
given_up_child(const char *path)
{
	struct config	*c;
	char		*errs = NULL;
	int		 rc = 0;

	if (no_udp_sockets() == -1)
		_exit(77);
	c = config_load(path, &errs);
	if (c != NULL || errs == NULL || strstr(errs, GIVEN_UP_ERR) == NULL) {
		fprintf(stderr, "loaded: %s\n", errs != NULL ? errs : "OK");
		rc = 1;
	}
	if (resolve_pending() != 0) {
		fprintf(stderr, "%u lookups still pending\n",
		    resolve_pending());
		rc = 1;
	}
	config_unref(c);
	free(errs);
	/* Not _exit(): LeakSanitizer runs at exit. */
	exit(rc);
}

static void
test_lookup_given_up(void **state)
{
	struct tmp	*t = *state;
	struct pollfd	 pfd;
	char		 conf[PATH_MAX], path[PATH_MAX], c;
	pid_t		 pid;
	int		 p[2], status;

	snprintf(conf, sizeof(conf), "%s",
	    write_file(t, "resolv.conf", "nameserver 127.0.0.1:1\n"));
	snprintf(path, sizeof(path), "%s",
	    write_file(t, "given_up.ini", GIVEN_UP_INI));
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	assert_int_not_equal(pid = fork(), -1);
	if (pid == 0) {
		close(p[0]);
		setenv("RELAY46_RESOLV_CONF", conf, 1);
		given_up_child(path);
	}
	close(p[1]);
	/* The child's end closes when it exits; a hung child is killed. */
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, GIVEN_UP_MS) != 1 || read(p[0], &c, 1) != 0)
		kill(pid, SIGKILL);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		skip();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child: %s %d", WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/*
 * Service names as ports, in listen and upstream alike (addr.c looks
 * them up in /etc/services, from netbase: skipped, saying so, without).
 */
static void
test_service_names(void **state)
{
	struct tmp		*t = *state;
	struct config		*c;
	const struct route	*r;
	const char		*path;
	char			 buf[ADDR_STRLEN], *errs = NULL;
	size_t			 i;

	if (access("/etc/services", R_OK) == -1) {
		print_message("no /etc/services (package netbase): skipped\n");
		skip();
	}
	c = must_load(write_file(t, "svc.ini",
	    "[route web]\n"
	    "listen = *:http\nlisten = 127.0.0.1:https\n"
	    "upstream = localhost:smtp weight=2\nupstream = [::1]:ssh\n"));
	r = &c->routes[0];
	assert_int_equal(r->nlisten, 3);
	assert_string_equal(fmt(&r->listen[0], buf), "0.0.0.0:80");
	assert_string_equal(fmt(&r->listen[1], buf), "[::]:80");
	assert_string_equal(fmt(&r->listen[2], buf), "127.0.0.1:443");
	assert_int_equal(r->specs[0].port, 25);
	assert_string_equal(r->specs[0].text, "localhost:smtp");
	for (i = 0; i < r->nup; i++)
		assert_int_equal(addr_port(&r->up[i].addr),
		    r->specs[r->up[i].spec].host != NULL ? 25 : 22);
	config_unref(c);

	path = write_file(t, "svc-bad.ini", "[route web]\n"
	    "listen = 127.0.0.1:htp\nupstream = localhost:htp\n");
	assert_null(config_load(path, &errs));
	if (!has_err(errs, path, 2, "listen = 127.0.0.1:htp: "
	    "'127.0.0.1:htp': unknown service 'htp'", true) ||
	    !has_err(errs, path, 3, "upstream = localhost:htp: "
	    "'localhost:htp': unknown service 'htp'", true))
		fail_msg("got %s", errs);
	free(errs);
}

/* ---- bad files --------------------------------------------------------- */

struct bad_row {
	const char	*what;
	const char	*text;		/* NULL: the file does not exist */
	int		 line;		/* the error's line; 0: none */
	const char	*err;		/* part of the message */
	int		 nerr;		/* how many errors in all */
	bool		 exact;		/* ${err} is the whole message */
};

#define WEB	"[route web]\n"
#define L1	"listen = 127.0.0.1:18080\n"
#define U1	"upstream = 127.0.0.1:8000\n"
#define OK3	WEB L1 U1	/* lines 1-3; the row's own line is 4 */
#define X10	"xxxxxxxxxx"
#define X190	X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 \
		X10 X10 X10 X10 X10 X10 X10 X10 X10
#define N65	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct bad_row bad_rows[] = {
	/* Syntax: only "key = value" lines, every bad one reported. */
	{ "colon separator", OK3 "listen: 127.0.0.1:81\n", 4,
	    "expected 'key = value' or '[section]'", 1, true },
	{ "no separator", OK3 "listen 127.0.0.1:81\n", 4,
	    "expected 'key = value' or '[section]'", 1, true },
	{ "'=' only in a comment",
	    OK3 "listen = 127.0.0.1:65536\nfoo ; a=b\n", 5,
	    "expected 'key = value' or '[section]'", 2, true },
	{ "text after a section header", "[route web] junk\n" L1 U1, 1,
	    "unexpected text after ']'", 1, true },
	{ "upstream given twice", OK3 "upstream = 127.0.0.1:8000 weight=5\n",
	    4, "upstream = 127.0.0.1:8000 weight=5: 127.0.0.1:8000 is also "
	    "given on line 3 (as 127.0.0.1:8000) with weight=1", 1, true },
	{ "same upstream line twice", OK3 U1, 4, "upstream = 127.0.0.1:8000: "
	    "127.0.0.1:8000 is given twice (also on line 3 as 127.0.0.1:8000)",
	    1, true },
	/* Addresses. */
	{ "bad port", OK3 "listen = 127.0.0.1:8o\n", 4,
	    "listen = 127.0.0.1:8o: '127.0.0.1:8o': bad port '8o'", 1, true },
	{ "missing port", OK3 "listen = 127.0.0.1\n", 4,
	    "listen = 127.0.0.1: '127.0.0.1': missing port", 1, true },
	{ "listen port 65536", OK3 "listen = 127.0.0.1:65536\n", 4,
	    "listen = 127.0.0.1:65536: '127.0.0.1:65536': port out of range "
	    "(0 to 65535)", 1, true },
	{ "upstream port 0", OK3 "upstream = 127.0.0.1:0\n", 4,
	    "upstream = 127.0.0.1:0: '127.0.0.1:0': port out of range "
	    "(1 to 65535)", 1, true },
	{ "port 65536", OK3 "upstream = 127.0.0.1:65536\n", 4,
	    "upstream = 127.0.0.1:65536: '127.0.0.1:65536': port out of "
	    "range (1 to 65535)", 1, true },
	{ "bad IPv6 literal", OK3 "listen = [::g]:80\n", 4,
	    "'[::g]:80': bad IPv6 address '::g'", 1, false },
	{ "missing ] in address", OK3 "upstream = [::1:8000\n", 4,
	    "upstream = [::1:8000: '[::1:8000': missing ']'", 1, true },
	{ "unbracketed IPv6", OK3 "listen = ::1:80\n", 4,
	    "an IPv6 address needs brackets, as in [::1]:80", 1, false },
	{ "not an IP", OK3 "listen = 1.2.3:80\n", 4,
	    "'1.2.3' is not an IP address", 1, false },
	{ "host name listen", OK3 "listen = localhost:80\n", 4,
	    "'localhost' is not an IP address", 1, false },
	{ "short IPv4 upstream", OK3 "upstream = 10.1:80\n", 4,
	    "'10.1' is not an IP address", 1, false },
	{ "wildcard upstream", OK3 "upstream = *:80\n", 4,
	    "'*' is not an upstream address", 1, false },
	{ "unknown interface", OK3 "listen = [fe80::1%nosuchif0]:80\n", 4,
	    "unknown interface 'nosuchif0'", 1, false },

	/* Sections. */
	{ "missing ] in header", "[route web\n" L1 U1, 1,
	    "missing ']' in section header", 1, true },
	{ "unknown section", "[foo]\nx = 1\n" OK3, 1,
	    "unknown section [foo]", 1, true },
	{ "route without name", "[route]\n" L1 U1, 1,
	    "section [route] needs a name: [route NAME]", 1, true },
	{ "bad route name", "[route we/b]\n" L1 U1, 1,
	    "bad route name 'we/b'", 1, false },
	{ "route name too long", "[route " N65 "]\n" L1 U1, 1,
	    "bad route name '" N65 "'", 1, false },
	{ "global twice", "[global]\n[global]\n" OK3, 2,
	    "section [global] is given twice", 1, true },
	{ "route twice", OK3 WEB "listen = 127.0.0.1:18081\n" U1, 4,
	    "route 'web' is defined twice (first on line 1)", 1, true },
	{ "route without listen", WEB U1, 1,
	    "route 'web' has no listen", 1, true },
	{ "route without upstream", WEB L1, 1,
	    "route 'web' has no upstream", 1, true },
	{ "route with neither", "[global]\n" WEB, 2,
	    "route 'web' has no upstream", 2, true },
	{ "empty file", "", 0,
	    "no routes: add a [route NAME] section with listen and upstream",
	    1, true },
	{ "comments only", "; nothing\n# here\n\n   \n", 0, "no routes", 1,
	    false },
	{ "global only", "[global]\nworkers = 1\n", 0, "no routes", 1,
	    false },
	{ "missing file", NULL, 0, "No such file or directory", 1, true },

	{ "max_connections not a number", "[global]\nmax_connections = lots\n"
	    OK3, 2, "max_connections = lots: 'lots' is not a number", 1,
	    false },
	{ "max_connections too big", "[global]\n"
	    "max_connections = 10000001\n" OK3, 2, "out of range", 1, false },
	{ "relative pidfile", "[global]\npidfile = relay46.pid\n" OK3, 2,
	    "pidfile = relay46.pid: expected off or an absolute path", 1,
	    true },
	/* Keys. */
	{ "unknown key", OK3 "foo = bar\n", 4,
	    "unknown key 'foo' in [route web]", 1, true },
	{ "unknown global key", "[global]\nfoo = 1\n" OK3, 2,
	    "unknown key 'foo' in [global]", 1, true },
	/* A near miss names the key meant, from that section's keys only. */
	{ "misspelt key", OK3 "idle_timout = 5s\n", 4,
	    "unknown key 'idle_timout' in [route web]; did you mean "
	    "'idle_timeout'?", 1, true },
	{ "swapped letters", OK3 "lsiten = 127.0.0.1:1\n", 4,
	    "unknown key 'lsiten' in [route web]; did you mean 'listen'?", 1,
	    true },
	{ "capitals", OK3 "Balance = leastconn\n", 4,
	    "unknown key 'Balance' in [route web]; did you mean 'balance'?",
	    1, true },
	{ "misspelt global key", "[global]\nworkres = 2\n" OK3, 2,
	    "unknown key 'workres' in [global]; did you mean 'workers'?", 1,
	    true },
	{ "two edits", OK3 "max_per_clients_ = 1\n", 4,
	    "unknown key 'max_per_clients_' in [route web]; did you mean "
	    "'max_per_client'?", 1, true },
	{ "near only a route key", "[global]\nidle_timout = 5s\n" OK3, 2,
	    "unknown key 'idle_timout' in [global]", 1, true },
	{ "nothing near", OK3 "timeout = 5s\n", 4,
	    "unknown key 'timeout' in [route web]", 1, true },
	{ "short and far", OK3 "lag = 1\n", 4,
	    "unknown key 'lag' in [route web]", 1, true },
	{ "route key in global", "[global]\nlisten = 127.0.0.1:1\n" OK3, 2,
	    "key 'listen' belongs in [route NAME], not in [global]", 1, true },
	{ "global key in route", OK3 "workers = 1\n", 4,
	    "key 'workers' belongs in [global], not in [route web]", 1, true },
	{ "key outside sections", "listen = 127.0.0.1:18081\n" OK3, 1,
	    "key 'listen' is outside any section (put it under [global] or "
	    "[route NAME])", 1, true },
	{ "key twice", OK3 "connect_timeout = 1s\nconnect_timeout = 2s\n", 5,
	    "key 'connect_timeout' is given twice (first on line 4)", 1,
	    true },
	{ "global key twice", "[global]\nlog = stderr\nlog = syslog\n" OK3,
	    3, "key 'log' is given twice (first on line 2)", 1, true },
	{ "key without value", OK3 "retries =\n", 4,
	    "key 'retries' has no value", 1, true },
	{ "line without =", OK3 "keepalive\n", 4,
	    "expected 'key = value' or '[section]'", 1, true },
	{ "over-long line", OK3 ";" X190 "\n", 4,
	    "line too long (191 bytes, at most 190)", 1, true },
	{ "over-long key line", OK3 "upstream = 127.0.0.1:8001 ;" X190 "\n",
	    4, "line too long", 1, false },

	/* Durations, sizes, numbers, switches, words. */
	{ "garbled duration", OK3 "connect_timeout = 5 seconds\n", 4,
	    "connect_timeout = 5 seconds: bad duration '5 seconds'", 1,
	    false },
	{ "negative duration", OK3 "idle_timeout = -1s\n", 4,
	    "idle_timeout = -1s: negative value '-1s'", 1, true },
	{ "duration too long", OK3 "fin_timeout = 31d\n", 4,
	    "duration '31d' is too long (at most 30d)", 1, false },
	{ "garbled global duration", "[global]\nshutdown_timeout = soon\n" OK3,
	    2, "shutdown_timeout = soon: 'soon' is not a number", 1, true },
	{ "connect_timeout 0", OK3 "connect_timeout = 0\n", 4,
	    "connect_timeout = 0: must be more than 0", 1, true },
	{ "garbled size", OK3 "buffer = 64kb\n", 4,
	    "buffer = 64kb: bad size '64kb'", 1, false },
	{ "negative size", OK3 "buffer = -64k\n", 4,
	    "buffer = -64k: negative value '-64k'", 1, true },
	{ "buffer too small", OK3 "buffer = 100\n", 4,
	    "buffer = 100: out of range (1k to 64m)", 1, true },
	{ "buffer too big", OK3 "buffer = 65m\n", 4,
	    "out of range (1k to 64m)", 1, false },
	{ "retries too many", OK3 "retries = 101\n", 4,
	    "retries = 101: 101 is out of range (0 to 100)", 1, true },
	{ "negative global number", "[global]\nmax_connections = -1\n" OK3, 2,
	    "max_connections = -1: negative value '-1'", 1, true },
	{ "route number too big", OK3 "max_connections = 10000001\n", 4,
	    "10000001 is out of range (0 to 10000000)", 1, false },
	{ "bad switch", OK3 "keepalive = maybe\n", 4,
	    "keepalive = maybe: 'maybe' is not on or off", 1, true },
	{ "bad log", "[global]\nlog = file\n" OK3, 2,
	    "log = file: expected stderr or syslog", 1, true },
	{ "bad log_level", "[global]\nlog_level = verbose\n" OK3, 2,
	    "log_level = verbose: expected error, warn, info or debug", 1,
	    true },
	{ "bad balance", OK3 "balance = fastest\n", 4,
	    "balance = fastest: expected roundrobin, leastconn, source or "
	    "random", 1, true },
	{ "relative access_log", "[global]\naccess_log = access.log\n" OK3,
	    2, "access_log = access.log: expected off, stderr or an absolute "
	    "path", 1, true },
	{ "bad proxy_protocol", OK3 "proxy_protocol = v3\n", 4,
	    "proxy_protocol = v3: expected off, v1 or v2", 1, true },
	{ "bad accept_proxy", OK3 "accept_proxy = maybe\n", 4,
	    "accept_proxy = maybe: 'maybe' is not on or off", 1, true },
	{ "proxy_from without accept_proxy", OK3 "proxy_from = 10.0.0.0/8\n"
	    "proxy_from = 10.1.0.0/16\n", 4,
	    "proxy_from needs accept_proxy = on", 1, true },
	{ "proxy_from with accept_proxy off", OK3 "accept_proxy = off\n"
	    "proxy_from = any\n", 5, "proxy_from needs accept_proxy = on", 1,
	    true },
	{ "bad proxy_from", OK3 "accept_proxy = on\nproxy_from = relays\n", 5,
	    "proxy_from = relays: ", 1, false },
	{ "proxy_from host bits", OK3 "accept_proxy = on\n"
	    "proxy_from = 10.0.0.1/8\n", 5, "proxy_from = 10.0.0.1/8: "
	    "'10.0.0.1/8': host bits set: did you mean 10.0.0.0/8?", 1, true },
	{ "proxy_timeout 0", OK3 "proxy_timeout = 0\n", 4,
	    "proxy_timeout = 0: must be more than 0", 1, true },
	{ "proxy_timeout twice", OK3 "proxy_timeout = 1s\nproxy_timeout = 2s\n",
	    5, "key 'proxy_timeout' is given twice (first on line 4)", 1,
	    true },
	{ "bad health_check", OK3 "health_check = http\n", 4,
	    "health_check = http: expected off or tcp", 1, true },
	{ "bad max_per_client", OK3 "max_per_client = lots\n", 4,
	    "max_per_client = lots: 'lots' is not a number", 1, true },
	{ "max_per_client too big", OK3 "max_per_client = 1000001\n", 4,
	    "1000001 is out of range (0 to 1000000)", 1, false },
	{ "rise 0", OK3 "rise = 0\n", 4,
	    "rise = 0: 0 is out of range (1 to 100)", 1, true },
	{ "fall 101", OK3 "fall = 101\n", 4,
	    "fall = 101: 101 is out of range (1 to 100)", 1, true },
	{ "check_interval too short", OK3 "check_interval = 5ms\n", 4,
	    "check_interval = 5ms: must be at least 10ms", 1, true },
	{ "bad resolve", OK3 "resolve = soon\n", 4,
	    "resolve = soon: 'soon' is not a number", 1, true },
	{ "allow host bits", OK3 "allow = 10.0.0.1/8\n", 4,
	    "allow = 10.0.0.1/8: '10.0.0.1/8': host bits set: did you mean "
	    "10.0.0.0/8?", 1, true },
	{ "deny garbage", OK3 "allow = ::1\ndeny = nobody\n", 5,
	    "deny = nobody: ", 1, false },
	{ "allow with port", OK3 "allow = 10.0.0.1:80\n", 4,
	    "allow = 10.0.0.1:80: ", 1, false },

	/* Not supported yet. */
	{ "unknown user", "[global]\nuser = no-such-user-r46\n" OK3, 2,
	    "user = no-such-user-r46: user 'no-such-user-r46' does not exist",
	    1, true },
	{ "unknown group", "[global]\nuser = root\ngroup = no-such-grp-r46\n"
	    OK3, 3, "group = no-such-grp-r46: group 'no-such-grp-r46' does not "
	    "exist", 1, true },
	{ "admin on", "[global]\nadmin = on\n" OK3, 2,
	    "admin = on: 'on': missing port", 1, false },
	{ "admin not loopback", "[global]\nadmin = 0.0.0.0:9100\n" OK3, 2,
	    "admin 0.0.0.0:9100 is not a loopback address: add admin_allow = "
	    "CIDR lines for who may use it", 1, true },
	{ "admin_allow bad", "[global]\nadmin = [::1]:9100\n"
	    "admin_allow = 10.0.0.1/8\n" OK3, 3, "admin_allow = 10.0.0.1/8: "
	    "'10.0.0.1/8': host bits set", 1, false },
	{ "workers 300", "[global]\nworkers = 300\n" OK3, 2,
	    "workers = 300: 300 is out of range (1 to 256)", 1, true },
	{ "workers many", "[global]\nworkers = many\n" OK3, 2,
	    "workers = many: 'many' is not a number", 1, true },
	{ "workers 0", "[global]\nworkers = 0\n" OK3, 2,
	    "0 is out of range (1 to 256)", 1, false },
	{ "upstream max_connections 0", OK3
	    "upstream = 127.0.0.1:8001 max_connections=0\n", 4,
	    "upstream = 127.0.0.1:8001 max_connections=0: 0 is out of range "
	    "(1 to 10000000)", 1, true },
	{ "upstream option typo", OK3 "upstream = 127.0.0.1:8001 backups\n",
	    4, "upstream = 127.0.0.1:8001 backups: unknown upstream option "
	    "'backups' (weight=N, backup, max_connections=N)", 1, true },

	/* Upstream options. */
	{ "weight 0", OK3 "upstream = 127.0.0.1:8001 weight=0\n", 4,
	    "upstream = 127.0.0.1:8001 weight=0: 0 is out of range "
	    "(1 to 256)", 1, true },
	{ "weight 257", OK3 "upstream = 127.0.0.1:8001 weight=257\n", 4,
	    "257 is out of range (1 to 256)", 1, false },
	{ "weight garbled", OK3 "upstream = 127.0.0.1:8001 weight=x\n", 4,
	    "'x' is not a number", 1, false },
	{ "unknown option", OK3 "upstream = 127.0.0.1:8001 weigth=2\n", 4,
	    "unknown upstream option 'weigth=2'", 1, false },

	/* Listen clashes, reported on the later listen's line. */
	{ "listen in two routes", "[route a]\n" L1 U1 "[route b]\n" L1 U1, 5,
	    "listen 127.0.0.1:18080 clashes with listen 127.0.0.1:18080 of "
	    "route 'a' (line 2)", 1, true },
	{ "0.0.0.0 and *", "[route a]\nlisten = 0.0.0.0:18080\n" U1
	    "[route b]\nlisten = *:18080\n" U1, 5,
	    "listen 0.0.0.0:18080 clashes with listen 0.0.0.0:18080 of "
	    "route 'a' (line 2)", 1, true },
	{ "* and 10.0.0.1", "[route a]\nlisten = *:18080\n" U1
	    "[route b]\nlisten = 10.0.0.1:18080\n" U1, 5,
	    "listen 10.0.0.1:18080 clashes with listen 0.0.0.0:18080 of "
	    "route 'a' (line 2)", 1, true },
	{ "[::] and [::1]", WEB "listen = [::]:18080\nlisten = [::1]:18080\n"
	    U1, 3, "listen [::1]:18080 clashes with listen [::]:18080 of "
	    "route 'web' (line 2)", 1, true },
	{ "same listen twice", WEB L1 L1 U1, 3,
	    "listen 127.0.0.1:18080 clashes with listen 127.0.0.1:18080 of "
	    "route 'web' (line 2)", 1, true },
};

/* ---- who may send a PROXY header --------------------------------------- */

enum trust_want {
	TRUST_QUIET = 0,	/* loads, no warning */
	TRUST_WARN,		/* loads, one warning */
	TRUST_ERROR,		/* refused */
};

/*
 * A route "web" with ${listen} lines from line 2, upstream after them,
 * then "accept_proxy = on" and ${extra}: what it does, at which line (the
 * warning's or the error's), with what text.
 */
static const struct {
	const char	*listen, *extra;
	enum trust_want	 want;
	int		 line;
	const char	*text;
} trust_rows[] = {
	{ "listen = 127.0.0.1:18080\n", "", TRUST_WARN, 4, "route web: "
	    "accept_proxy without proxy_from: anyone who reaches "
	    "127.0.0.1:18080 can claim any client address" },
	{ "listen = [::1]:18080\nlisten = 127.0.0.2:18080\n", "", TRUST_WARN,
	    5, "anyone who reaches [::1]:18080, 127.0.0.2:18080 can claim" },
	{ "listen = 10.1.2.3:18080\n", "", TRUST_WARN, 4, "10.1.2.3:18080" },
	{ "listen = 172.16.0.1:18080\n", "", TRUST_WARN, 4, "172.16.0.1" },
	{ "listen = 172.31.255.254:18080\n", "", TRUST_WARN, 4, "172.31." },
	{ "listen = 192.168.1.1:18080\n", "", TRUST_WARN, 4, "192.168.1.1" },
	{ "listen = 169.254.1.1:18080\n", "", TRUST_WARN, 4, "169.254.1.1" },
	{ "listen = [fd12:3456::1]:18080\n", "", TRUST_WARN, 4, "fd12:" },
	{ "listen = [fc00::1]:18080\n", "", TRUST_WARN, 4, "[fc00::1]" },
	{ "listen = [fe80::1%lo]:18080\n", "", TRUST_WARN, 4, "[fe80::1%lo]" },
	/* Wildcards and public addresses: refused, at accept_proxy's line. */
	{ "listen = 0.0.0.0:18080\n", "", TRUST_ERROR, 4, "accept_proxy "
	    "without proxy_from on listen 0.0.0.0:18080 (line 2), a wildcard "
	    "address: anyone who reaches it can claim any client address; "
	    "add proxy_from = the CIDR of the relays that send headers (or "
	    "proxy_from = any)" },
	{ "listen = [::]:18080\n", "", TRUST_ERROR, 4,
	    "listen [::]:18080 (line 2), a wildcard address" },
	{ "listen = *:18080\n", "", TRUST_ERROR, 4,
	    "listen 0.0.0.0:18080 (line 2), a wildcard address" },
	{ "listen = 192.0.2.7:18080\n", "", TRUST_ERROR, 4,
	    "listen 192.0.2.7:18080 (line 2), a public address" },
	{ "listen = 172.32.0.1:18080\n", "", TRUST_ERROR, 4,
	    "172.32.0.1:18080 (line 2), a public address" },
	{ "listen = 11.0.0.1:18080\n", "", TRUST_ERROR, 4, "a public" },
	{ "listen = 100.64.0.1:18080\n", "", TRUST_ERROR, 4, "a public" },
	{ "listen = [2001:db8::1]:18080\n", "", TRUST_ERROR, 4,
	    "[2001:db8::1]:18080 (line 2), a public address" },
	{ "listen = [fe00::1]:18080\n", "", TRUST_ERROR, 4, "a public" },
	{ "listen = 127.0.0.1:18080\nlisten = 198.51.100.1:18080\n", "",
	    TRUST_ERROR, 5, "listen 198.51.100.1:18080 (line 3), a public" },
	/* Said in so many words: quiet. */
	{ "listen = 0.0.0.0:18080\n", "proxy_from = any\n", TRUST_QUIET, 0,
	    NULL },
	{ "listen = *:18080\n", "proxy_from = 10.0.0.0/8\nproxy_from = "
	    "2001:db8::/32\n", TRUST_QUIET, 0, NULL },
	{ "listen = [2001:db8::1]:18080\n", "proxy_from = 2001:db8::7\n",
	    TRUST_QUIET, 0, NULL },
	{ "listen = 127.0.0.1:18080\n", "proxy_from = 127.0.0.1\n",
	    TRUST_QUIET, 0, NULL },
};

/* Load trust_rows[${i}]; returns the config or NULL, errors in *${errs}. */
static struct config *
trust_load(struct tmp *t, size_t i, const char **path, char **errs)
{
	char	 text[512], name[32];

	snprintf(text, sizeof(text), WEB "%s" U1 "accept_proxy = on\n%s",
	    trust_rows[i].listen, trust_rows[i].extra);
	snprintf(name, sizeof(name), "trust-%02zu.ini", i);
	*path = write_file(t, name, text);
	*errs = NULL;
	return config_load(*path, errs);
}

/*
 * accept_proxy without proxy_from: a warning where only this host or a
 * private network can connect, an error on a wildcard or public address,
 * nothing once proxy_from says who may send headers.
 */
static void
test_proxy_trust(void **state)
{
	struct tmp	*t = *state;
	struct config	*c;
	const char	*path, *want;
	char		*errs;
	size_t		 i;

	for (i = 0; i < NELEM(trust_rows); i++) {
		c = trust_load(t, i, &path, &errs);
		want = trust_rows[i].want == TRUST_ERROR ? errs : c != NULL ?
		    c->warnings : NULL;
		if ((c == NULL) != (trust_rows[i].want == TRUST_ERROR) ||
		    (want == NULL) != (trust_rows[i].want == TRUST_QUIET)) {
			print_error("%s%s", errs != NULL ? errs : "",
			    c != NULL && c->warnings != NULL ?
			    c->warnings : "");
			fail_msg("row %zu (%s): not as expected (%d)", i,
			    trust_rows[i].listen, trust_rows[i].want);
		}
		if (want != NULL && (check_err_lines(want, path) != 1 ||
		    !has_err(want, path, trust_rows[i].line,
		    trust_rows[i].text, i == 0 || i == 10)))
			fail_msg("row %zu: want line %d '%s' in:\n%s", i,
			    trust_rows[i].line, trust_rows[i].text, want);
		free(errs);
		config_unref(c);
	}
}

/* proxy_from = any is both families' every address; no warning anywhere. */
static void
test_proxy_from_any(void **state)
{
	struct tmp	*t = *state;
	struct config	*c;
	struct addr	 a;

	c = must_load(write_file(t, "any.ini", WEB "listen = *:18080\n" U1
	    "accept_proxy = on\nproxy_from = any\nproxy_timeout = 300ms\n"));
	assert_int_equal(c->routes[0].proxy_from.nallow, 2);
	assert_int_equal(c->routes[0].proxy_from_line, 5);
	assert_int_equal(c->routes[0].proxy_timeout_ms, 300);
	assert_int_equal(addr_parse("[2001:db8::1]:1", &a, NULL, 0), 0);
	assert_true(acl_allows(&c->routes[0].proxy_from, &a));
	assert_int_equal(addr_parse("192.0.2.1:1", &a, NULL, 0), 0);
	assert_true(acl_allows(&c->routes[0].proxy_from, &a));
	assert_null(c->warnings);
	config_unref(c);
	/* Without accept_proxy there is nothing to warn about. */
	c = must_load(write_file(t, "plain.ini", WEB "listen = *:18080\n" U1));
	assert_null(c->warnings);
	config_unref(c);
}

/*
 * What -t passed once and bind or connect refused later, or what ran
 * but could not have been meant, and the messages' own hygiene.
 */
static const struct bad_row late_rows[] = {
	{ "group without user", "[global]\ngroup = root\n" OK3, 2,
	    "group is set but user is not", 1, false },
	{ "listen link-local", WEB "listen = [fe80::1]:18080\n" U1, 2,
	    "listen = [fe80::1]:18080: '[fe80::1]:18080': a link-local "
	    "address needs its interface, as [fe80::1%eth0]:PORT",
	    1, true },
	{ "upstream link-local", WEB L1 "upstream = [fe80::1]:80\n", 3,
	    "a link-local address needs its interface", 1, false },
	{ "upstream mapped twice", OK3 "upstream = [::ffff:127.0.0.1]:8000\n",
	    4,
	    "upstream = [::ffff:127.0.0.1]:8000: 127.0.0.1:8000 is given "
	    "twice (also on line 3 as 127.0.0.1:8000)",
	    1, true },
	{ "admin on a listen", "[global]\nadmin = 127.0.0.1:18080\n" OK3, 2,
	    "admin 127.0.0.1:18080 clashes with listen 127.0.0.1:18080 of "
	    "route 'web' (line 4)",
	    1, true },
	{ "admin under a wildcard",
	    "[global]\nadmin = [::1]:18080\n" WEB "listen = *:18080\n" U1, 2,
	    "admin [::1]:18080 clashes with "
	    "listen [::]:18080 of route 'web' (line 4)",
	    1, true },
	{ "upstream wildcard", WEB L1 "upstream = 0.0.0.0:8000\n", 3,
	    "upstream = 0.0.0.0:8000: '0.0.0.0' is a listen wildcard, not an "
	    "upstream address (for this host: 127.0.0.1)",
	    1, true },
	{ "upstream [::]", WEB L1 "upstream = [::]:8000\n", 3,
	    "(for this host: [::1])", 1, false },
	{ "upstream is own listen", WEB L1 "upstream = 127.0.0.1:18080\n", 3,
	    "upstream 127.0.0.1:18080 is listen 127.0.0.1:18080 of route "
	    "'web' (line 2): relay46 would relay to itself",
	    1, true },
	{ "upstream loopback under own wildcard",
	    WEB "listen = *:18080\n"
		"upstream = [::1]:18080\n",
	    3,
	    "upstream [::1]:18080 is listen "
	    "[::]:18080 of route 'web' (line 2): relay46 would relay to itself",
	    1, true },
	{ "two routes in a loop",
	    "[route a]\nlisten = 127.0.0.1:18080\n"
	    "upstream = 127.0.0.1:18081\n[route b]\nlisten = "
	    "127.0.0.1:18081\nupstream = 127.0.0.1:8000\n"
	    "upstream = 127.0.0.1:18080\n",
	    3,
	    "upstream 127.0.0.1:18081 is "
	    "listen 127.0.0.1:18081 of route 'b' (line 5), whose upstreams "
	    "lead back here: relay46 would relay to itself",
	    2, true },
	{ "option twice", OK3 "upstream = 127.0.0.1:8001 weight=2 weight=3\n",
	    4,
	    "upstream = 127.0.0.1:8001 weight=2 weight=3: option 'weight' "
	    "is given twice",
	    1, true },
	{ "backup twice", OK3 "upstream = 127.0.0.1:8001 backup backup\n", 4,
	    "option 'backup' is given twice", 1, false },
	{ "bad listen, no 'has no listen'", WEB "listen = 127.0.0.1:65536\n" U1,
	    2, "port out of range", 1, false },
	{ "empty listen, no 'has no listen'", WEB "listen =\n" U1, 2,
	    "key 'listen' has no value", 1, true },
	{ "control bytes shown escaped", WEB "foo\x1b[2J = 1\n" L1 U1, 2,
	    "unknown key 'foo\\x1b[2J' in [route web]", 1, true },
	{ "C1 shown escaped, UTF-8 kept", WEB "f\xc3\xa9\xc2\x9b = 1\n" L1 U1,
	    2, "unknown key 'f\xc3\xa9\\xc2\\x9b' in [route web]", 1, true },
};

/* Each of ${rows} (${n}) is refused with its error, and only that. */
static void
check_bad_rows(struct tmp *t, const struct bad_row *rows, size_t nrows,
    const char *prefix)
{
	const struct bad_row	*r;
	struct config		*c;
	const char		*path;
	char			*errs, name[32];
	size_t			 i;
	int			 n;

	for (i = 0; i < nrows; i++) {
		r = &rows[i];
		snprintf(name, sizeof(name), "%s-%02zu.ini", prefix, i);
		if (r->text != NULL)
			path = write_file(t, name, r->text);
		else {
			snprintf(t->path, sizeof(t->path), "%s/%s", t->dir,
			    name);
			path = t->path;
		}
		errs = NULL;
		c = config_load(path, &errs);
		if (c != NULL) {
			config_unref(c);
			fail_msg("row %zu (%s): accepted", i, r->what);
		}
		if (errs == NULL)
			fail_msg("row %zu (%s): no errors", i, r->what);
		n = check_err_lines(errs, path);
		if (!has_err(errs, path, r->line, r->err, r->exact)) {
			print_error("%s", errs);
			fail_msg("row %zu (%s): no %s'%s:%d: %s'", i, r->what,
			    r->exact ? "line " : "line containing ", path,
			    r->line, r->err);
		}
		if (n != r->nerr) {
			print_error("%s", errs);
			fail_msg("row %zu (%s): %d errors, want %d", i, r->what,
			    n, r->nerr);
		}
		free(errs);
	}
}

static void
test_bad_files(void **state)
{
	check_bad_rows(*state, bad_rows, NELEM(bad_rows), "bad");
}

static void
test_bad_late(void **state)
{
	check_bad_rows(*state, late_rows, NELEM(late_rows), "late");
}

/*
 * admin = ADDR:0 is taken, as for a listen address: the kernel picks the
 * port when relay46 binds it, and the -R file's "@admin" line names it.
 * "*:P" is refused (the endpoint is one socket), and so is a route named
 * "@admin", so that line can never be taken for a route's.
 */
static const struct admin_row {
	const char	*text;
	int		 line;
	const char	*err;
} admin_bad[] = {
	{ "[global]\nadmin = *:0\n" OK3, 2,
	    "admin = *:0: '*:0': '*' is not an IP address" },
	{ "[global]\nadmin = 127.0.0.1:65536\n" OK3, 2,
	    "'127.0.0.1:65536': port out of range (0 to 65535)" },
	{ "[route @admin]\n" L1 U1, 1, "bad route name '@admin'" },
};

static void
test_admin_address(void **state)
{
	static const char *const good[] = { "127.0.0.1:0", "[::1]:0",
		"127.0.0.1:9100" };
	const struct admin_row	*b;
	struct tmp		*t = *state;
	struct config		*c;
	const char		*path;
	char			 text[256], buf[ADDR_STRLEN], *errs;
	size_t			 i;
	int			 n;

	for (i = 0; i < NELEM(good); i++) {
		snprintf(text, sizeof(text), "[global]\nadmin = %s\n" OK3,
		    good[i]);
		c = must_load(write_file(t, "admin.ini", text));
		assert_true(c->admin_on);
		assert_int_equal(c->admin_line, 2);
		assert_string_equal(addr_format(&c->admin, buf, sizeof(buf)),
		    good[i]);
		config_unref(c);
	}
	for (i = 0; i < NELEM(admin_bad); i++) {
		b = &admin_bad[i];
		path = write_file(t, "admin-bad.ini", b->text);
		errs = NULL;
		if ((c = config_load(path, &errs)) != NULL) {
			config_unref(c);
			fail_msg("admin row %zu: accepted", i);
		}
		assert_non_null(errs);
		n = check_err_lines(errs, path);
		if (n != 1 || !has_err(errs, path, b->line, b->err, false)) {
			print_error("%s", errs);
			fail_msg("admin row %zu: want one error, line %d: %s",
			    i, b->line, b->err);
		}
		free(errs);
	}
}

/*
 * backlog: 1..65535 in a route, as a file:line error otherwise.  A table
 * of its own: clang-format-diff reflows all of bad_rows[] for one row
 * added to it (.ci/format-check).
 */
static void
test_backlog_errors(void **state)
{
	static const struct {
		const char *text, *err;
		int line;
	} rows[] = {
		{ OK3 "backlog = 0\n",
		    "backlog = 0: 0 is out of range (1 to 65535)", 4 },
		{ OK3 "backlog = 65536\n",
		    "backlog = 65536: 65536 is out of range (1 to 65535)", 4 },
		{ OK3 "backlog = lots\n",
		    "backlog = lots: 'lots' is not a number", 4 },
		{ "[global]\nbacklog = 7\n" OK3,
		    "key 'backlog' belongs in [route NAME], not in [global]",
		    2 },
	};
	struct config	*c;
	const char	*path;
	char		*errs;
	size_t		 i;

	for (i = 0; i < NELEM(rows); i++) {
		path = write_file(*state, "backlog.ini", rows[i].text);
		errs = NULL;
		c = config_load(path, &errs);
		assert_null(c);
		assert_non_null(errs);
		if (check_err_lines(errs, path) != 1 ||
		    !has_err(errs, path, rows[i].line, rows[i].err, true))
			fail_msg("row %zu: want '%s:%d: %s', got:\n%s", i, path,
			    rows[i].line, rows[i].err, errs);
		free(errs);
	}
}

/* Every error is reported, in file order, however many there are. */
static void
test_many_errors(void **state)
{
	struct tmp	*t = *state;
	const char	*path;
	char		*errs, *want;
	size_t		 len;

	path = write_file(t, "many.ini",
	    "[global]\n"					/*  1 */
	    "workers = 300\n"					/*  2 */
	    "[route web]\n"					/*  3 */
	    "listen = 127.0.0.1:65536\n"			/*  4 */
	    "upstream = 127.0.0.1:8000 weight=0\n"		/*  5 */
	    "bogus = 1\n"					/*  6 */
	    "[route web]\n"					/*  7 */
	    "listen = 127.0.0.1:1\n"				/*  8: skipped */
	    "[route ok]\n"					/*  9 */
	    "listen = 127.0.0.1:18080\n"			/* 10 */
	    "upstream = 127.0.0.1:8000\n"			/* 11 */
	    "buffer = 1\n"					/* 12 */
	    "[nope]\n");					/* 13 */
	assert_null(config_load(path, &errs));
	assert_non_null(errs);
	len = 16 * (strlen(path) + 100);
	want = malloc(len);
	assert_non_null(want);
	snprintf(want, len,
	    "%s:2: workers = 300: 300 is out of range (1 to 256)\n"
	    "%s:4: listen = 127.0.0.1:65536: '127.0.0.1:65536': port out of "
	    "range (0 to 65535)\n"
	    "%s:5: upstream = 127.0.0.1:8000 weight=0: 0 is out of range "
	    "(1 to 256)\n"
	    "%s:6: unknown key 'bogus' in [route web]\n"
	    "%s:7: route 'web' is defined twice (first on line 3)\n"
	    "%s:12: buffer = 1: out of range (1k to 64m)\n"
	    "%s:13: unknown section [nope]\n",
	    path, path, path, path, path, path, path);
	assert_string_equal(errs, want);
	free(want);
	free(errs);
}

/* A NUL byte inside a line is refused, not silently cut. */
static void
test_nul_byte(void **state)
{
	static const char text[] = "[route web]\n"
	    "listen = 127.0.0.1:1\0junk\n"
	    "upstream = 127.0.0.1:80\n";
	struct tmp	*t = *state;
	const char	*path;
	char		*errs;

	path = write_bytes(t, "nul.ini", text, sizeof(text) - 1);
	assert_null(config_load(path, &errs));
	assert_non_null(errs);
	if (!has_err(errs, path, 2, "NUL byte in line", true))
		fail_msg("no NUL error in:\n%s", errs);
	check_err_lines(errs, path);
	free(errs);
}

/*
 * What some editors write: a UTF-8 byte order mark and CRLF line ends;
 * and an IPv4-mapped address, which is the IPv4 one.
 */
static void
test_bom_crlf_mapped(void **state)
{
	static const char text[] = "\xef\xbb\xbf[route web]\r\n"
				   "listen = [::ffff:127.0.0.1]:18080\r\n"
				   "upstream = [::ffff:10.0.0.1]:80\r\n"
				   "; " X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
				       X10 X10 X10 X10 X10 X10 X10 X10
				   "xxxxxxxx\r\n"; /* 190 bytes and the CR */
	struct tmp    *t = *state;
	struct config *c;
	char	       buf[ADDR_STRLEN], *errs;
	const char    *path;

	c = must_load(write_file(t, "bom.ini", text));
	assert_string_equal(fmt(&c->routes[0].listen[0], buf),
	    "127.0.0.1:18080");
	assert_int_equal(c->routes[0].listen[0].ss.ss_family, AF_INET);
	assert_int_equal(c->routes[0].up[0].addr.ss.ss_family, AF_INET);
	config_unref(c);
	/* A BOM is no part of the first line's 190 bytes. */
	config_unref(must_load(write_file(t, "bom190.ini",
	    "\xef\xbb\xbf; " X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
		X10 X10 X10 X10 X10 "xxxxxxxx\r\r\n" WEB L1 U1)));
	/* One byte over: its CRs are no part of the count. */
	path = write_file(t, "long.ini",
	    "[route web]\r\n; " X190 "x\r\r\n" L1 U1);
	assert_null(config_load(path, &errs));
	if (!has_err(errs, path, 2, "line too long (193 bytes, at most 190)",
		true))
		fail_msg("no 'line too long' in:\n%s", errs);
	free(errs);
}

/*
 * A file no configuration could be, such as -c /dev/zero: refused after
 * 16 MiB, in that much time and memory, not read until memory runs out.
 */
static void
test_huge_file(void **state)
{
	struct config *c;
	FILE	      *fp;
	char	      *errs = NULL, line[64];
	size_t	       i;

	(void)state;
	if ((fp = fopen("/dev/zero", "r")) != NULL) {
		assert_null(config_load_fp(fp, "/dev/zero", 0, &errs));
		fclose(fp);
		assert_non_null(errs);
		if (strstr(errs,
			"/dev/zero: more than 16 MiB: not a "
			"configuration file\n") == NULL)
			fail_msg("no 'more than 16 MiB' in:\n%s", errs);
		free(errs);
	}
	/* Valid lines all the way: the size alone refuses it. */
	fp = tmpfile();
	assert_non_null(fp);
	fputs("[route web]\n" L1 U1, fp);
	memset(line, ' ', sizeof(line) - 2);
	line[0] = ';';
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	for (i = 0; i < (16u << 20) / (sizeof(line) - 1) + 1; i++)
		fputs(line, fp);
	rewind(fp);
	c = config_load_fp(fp, "big.ini", 0, &errs);
	fclose(fp);
	assert_null(c);
	assert_non_null(errs);
	assert_non_null(strstr(errs, "big.ini: more than 16 MiB"));
	free(errs);
}

/*
 * A file of thousands of routes is checked whole: a chain as long as the
 * file that runs into a loop of two (only the two are refused: the chain
 * leads to them, but not back), a name given twice after the table of
 * names has grown many times, and a wildcard clash with an early route.
 */
#define MANY	3000
static void
test_many_routes(void **state)
{
	struct config *c;
	FILE	      *fp;
	char	      *errs = NULL, want[160];
	const char    *s;
	int	       i, n = 0;

	(void)state;
	fp = tmpfile();
	assert_non_null(fp);
	/* Route i: line 3i + 1 its header, 3i + 2 listen, 3i + 3 upstream. */
	for (i = 0; i < MANY; i++)
		fprintf(fp,
		    "[route r%d]\nlisten = 127.0.0.1:%d\n"
		    "upstream = 127.0.0.1:%d\n",
		    i, 20000 + i,
		    i == MANY - 1     ? 19999 :
			i == MANY - 2 ? 20000 + MANY - 3 :
					20001 + i);
	fprintf(fp,
	    "[route r5]\n[route w]\nlisten = 0.0.0.0:20010\n"
	    "upstream = 127.0.0.2:9\n");
	rewind(fp);
	c = config_load_fp(fp, "many.ini", 0, &errs);
	fclose(fp);
	assert_null(c);
	assert_non_null(errs);
	for (s = errs; (s = strchr(s, '\n')) != NULL; s++)
		n++;
	if (n != 4)
		fail_msg("4 errors expected:\n%s", errs);
	/* r2997 and r2998 lead to each other; r2996 only leads there. */
	for (i = MANY - 3; i < MANY - 1; i++) {
		int o = i == MANY - 3 ? MANY - 2 : MANY - 3;

		snprintf(want, sizeof(want),
		    "upstream 127.0.0.1:%d is listen 127.0.0.1:%d of route "
		    "'r%d' (line %d), whose upstreams lead back here",
		    20000 + o, 20000 + o, o, 3 * o + 2);
		if (!has_err(errs, "many.ini", 3 * i + 3, want, false))
			fail_msg("no '%s' in:\n%s", want, errs);
	}
	if (!has_err(errs, "many.ini", 3 * MANY + 1,
		"route 'r5' is defined twice (first on line 16)", true) ||
	    !has_err(errs, "many.ini", 3 * MANY + 3,
		"listen 0.0.0.0:20010 clashes with listen 127.0.0.1:20010 of "
		"route 'r10' (line 32)",
		true))
		fail_msg("a name given twice, a clash expected:\n%s", errs);
	free(errs);
}

/*
 * The lookups a reload makes on a config: a route by name, a listen by
 * route and address (the Nth of a route's equal "ADDR:0" lines, or one
 * address in any route), and a listen's place back to its route; then
 * each route and listen of a file of MANY routes, one or two listens
 * each.
 */
static struct config *load_text(const char *);

static void
test_lookups(void **state)
{
	static const size_t route_of[] = { 0, 0, 0, 1, 2, 2, 3, 3 };
	struct config	*c;
	struct addr	 a[2];
	char		 err[128], name[16], hp[32], *text;
	size_t		 i, k, n = 0, len = 0;

	(void)state;
	c = load_text("[route a]\nlisten = 127.0.0.1:0\n"
		      "listen = 127.0.0.1:18081\nlisten = 127.0.0.1:0\n" U1
		      "[route b]\nlisten = [::1]:18082\n" U1
		      "[route c]\nlisten = 127.0.0.2:18081\n"
		      "listen = [::1]:18083\n" U1);
	assert_int_equal(config_listen_count(c), 6);
	assert_int_equal(config_route_find(c, "a"), 0);
	assert_int_equal(config_route_find(c, "b"), 1);
	assert_int_equal(config_route_find(c, "c"), 2);
	assert_int_equal(config_route_find(c, "d"), 3);
	assert_int_equal(config_route_find(c, ""), 3);
	for (k = 0; k < NELEM(route_of); k++)
		assert_int_equal(config_listen_route(c, k), route_of[k]);
	assert_int_equal(addr_parse_listen("127.0.0.1:0", a, err, sizeof(err)),
	    1);
	assert_int_equal(config_listen_find(c, "a", &a[0], 0), 0);
	assert_int_equal(config_listen_find(c, "a", &a[0], 1), 2);
	assert_int_equal(config_listen_find(c, "a", &a[0], 2), 6);
	assert_int_equal(config_listen_find(c, "b", &a[0], 0), 6);
	assert_int_equal(config_listen_find(c, NULL, &a[0], 0), 6);
	assert_int_equal(addr_parse("127.0.0.1:18081", &a[0], err, sizeof(err)),
	    0);
	assert_int_equal(config_listen_find(c, NULL, &a[0], 0), 1);
	assert_int_equal(config_listen_find(c, "c", &a[0], 0), 6);
	assert_int_equal(config_listen_find(c, "x", &a[0], 0), 6);
	assert_int_equal(addr_parse("127.0.0.2:18081", &a[0], err, sizeof(err)),
	    0);
	assert_int_equal(config_listen_find(c, NULL, &a[0], 0), 4);
	assert_int_equal(addr_parse("[::1]:18083", &a[0], err, sizeof(err)), 0);
	assert_int_equal(config_listen_find(c, NULL, &a[0], 0), 5);
	assert_int_equal(config_listen_find(c, "c", &a[0], 0), 5);
	assert_int_equal(config_listen_find(c, "c", &a[0], 1), 6);
	config_unref(c);

	/* "*:P" is two listens, found by address as the wildcards they are. */
	c = load_text("[route a]\nlisten = 127.0.0.1:18090\n"
		      "listen = *:18091\n" U1);
	assert_int_equal(addr_parse("[::]:18091", &a[0], err, sizeof(err)), 0);
	assert_int_equal(config_listen_find(c, NULL, &a[0], 0), 2);
	assert_int_equal(addr_parse("0.0.0.0:18091", &a[0], err, sizeof(err)),
	    0);
	assert_int_equal(config_listen_find(c, NULL, &a[0], 0), 1);
	assert_int_equal(addr_parse("127.0.0.1:18091", &a[0], err, sizeof(err)),
	    0);
	assert_int_equal(config_listen_find(c, NULL, &a[0], 0), 3);
	config_unref(c);

	/* Route i has two listens when i is odd: 20000 + i and [::1]. */
	assert_non_null(text = malloc(MANY * 128));
	for (i = 0; i < MANY; i++)
		len += (size_t)snprintf(text + len, MANY * 128 - len,
		    "[route r%zu]\nlisten = 127.0.0.1:%zu\n%s" U1, i, 20000 + i,
		    i % 2 == 1 ? "listen = [::1]:0\n" : "");
	c = load_text(text);
	free(text);
	assert_int_equal(config_listen_count(c), MANY + MANY / 2);
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "r%zu", i);
		assert_int_equal(config_route_find(c, name), i);
		snprintf(hp, sizeof(hp), "127.0.0.1:%zu", 20000 + i);
		assert_int_equal(addr_parse(hp, &a[0], err, sizeof(err)), 0);
		assert_int_equal(config_listen_find(c, NULL, &a[0], 0), n);
		assert_int_equal(config_listen_route(c, n++), i);
		if (i % 2 == 1)
			assert_int_equal(config_listen_route(c, n++), i);
	}
	config_unref(c);
}

/*
 * Many hosts on one port: each clash is told once, on the later line,
 * in file order: a wildcard after them clashes with every one, and a
 * host given again with its first listen, then with the wildcard.
 */
#define HOSTS	50
static void
test_clash_order(void **state)
{
	struct config *c;
	FILE	      *fp;
	char	      *errs = NULL, want[160], *line, *save = NULL;
	int	       i, n = 0;

	(void)state;
	fp = tmpfile();
	assert_non_null(fp);
	/* Route i: line 3i + 1 its header, 3i + 2 listen, 3i + 3 upstream. */
	for (i = 0; i < HOSTS; i++)
		fprintf(fp, "[route h%d]\nlisten = 127.0.0.%d:18100\n" U1, i,
		    i + 1);
	fprintf(fp,
	    "[route w]\nlisten = 0.0.0.0:18100\n" U1
	    "[route d]\nlisten = 127.0.0.7:18100\n" U1);
	rewind(fp);
	c = config_load_fp(fp, "hosts.ini", CONFIG_LOAD_NO_RESOLVE, &errs);
	fclose(fp);
	assert_null(c);
	assert_non_null(errs);
	for (line = strtok_r(errs, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), n++) {
		if (n < HOSTS)
			snprintf(want, sizeof(want),
			    "hosts.ini:%d: listen 0.0.0.0:18100 clashes with "
			    "listen 127.0.0.%d:18100 of route 'h%d' (line %d)",
			    3 * HOSTS + 2, n + 1, n, 3 * n + 2);
		else if (n == HOSTS)
			snprintf(want, sizeof(want),
			    "hosts.ini:%d: listen 127.0.0.7:18100 clashes with "
			    "listen 127.0.0.7:18100 of route 'h6' (line 20)",
			    3 * HOSTS + 5);
		else
			snprintf(want, sizeof(want),
			    "hosts.ini:%d: listen 127.0.0.7:18100 clashes with "
			    "listen 0.0.0.0:18100 of route 'w' (line %d)",
			    3 * HOSTS + 5, 3 * HOSTS + 2);
		assert_string_equal(line, want);
	}
	assert_int_equal(n, HOSTS + 2);
	free(errs);
}

/* config_load_fp() reads an open stream and names it as told. */
static void
test_load_fp(void **state)
{
	static const char good[] = "[route web]\nlisten = 127.0.0.1:1234\n"
				   "upstream = 127.0.0.1:80\n";
	static const char host[] = "[route web]\nlisten = 127.0.0.1:1234\n"
	    "upstream = localhost:80\n";
	struct config	*c;
	FILE		*fp;
	char		*errs = (char *)"unset";

	(void)state;
	assert_non_null(fp = fmemopen((void *)good, sizeof(good) - 1, "r"));
	c = config_load_fp(fp, "mem", CONFIG_LOAD_NO_RESOLVE, &errs);
	fclose(fp);
	assert_non_null(c);
	assert_null(errs);
	assert_string_equal(c->path, "mem");
	assert_int_equal(c->routes[0].nup, 1);
	config_unref(c);

	/* Host names are refused when told not to look them up. */
	assert_non_null(fp = fmemopen((void *)host, sizeof(host) - 1, "r"));
	c = config_load_fp(fp, "mem", CONFIG_LOAD_NO_RESOLVE, &errs);
	fclose(fp);
	assert_null(c);
	assert_non_null(errs);
	check_err_lines(errs, "mem");
	if (!has_err(errs, "mem", 3, "host names are not looked up", false))
		fail_msg("got %s", errs);
	free(errs);
}

/*
 * A stream that gives ${text}, then fails one read with EIO, then ends:
 * a read error in the middle of a line (a disk or a network file system
 * giving up once).
 */
struct flaky {
	const char	*text;
	size_t		 off;
	bool		 failed;
};

static ssize_t
flaky_read(void *cookie, char *buf, size_t size)
{
	struct flaky	*f = cookie;
	size_t		 n = strlen(f->text + f->off);

	if (n == 0 && !f->failed) {
		f->failed = true;
		errno = EIO;
		return -1;
	}
	if (n > size)
		n = size;
	memcpy(buf, f->text + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

/*
 * The read error names the errno of the read that failed.  The line it
 * cut short is still parsed first, and its unknown interface leaves
 * ENODEV in errno (if_nametoindex()), which used to be reported instead.
 */
#define FLAKY_TEXT \
	"[route web]\nupstream = 127.0.0.1:80\nlisten = [fe80::1%r46nosuch0]:1"

static void
test_read_error(void **state)
{
	cookie_io_functions_t	 io = { .read = flaky_read };
	struct flaky		 f = { FLAKY_TEXT, 0, false };
	FILE			*fp;
	char			*errs = NULL, want[128];

	(void)state;
	assert_non_null(fp = fopencookie(&f, "r", io));
	assert_null(config_load_fp(fp, "flaky", CONFIG_LOAD_NO_RESOLVE, &errs));
	fclose(fp);
	assert_non_null(errs);
	assert_true(f.failed);
	snprintf(want, sizeof(want), "read error: %s", strerror(EIO));
	if (!has_err(errs, "flaky", 0, want, true))
		fail_msg("want \"flaky: %s\" in\n%s", want, errs);
	check_err_lines(errs, "flaky");
	free(errs);
}

/*
 * The parser builds no run-time state (as the fuzzer loads files,
 * tests/fuzz/fuzz_config.c): no pools, so no route's counters join
 * pool.c's process-wide list, which a long fuzz run with a new route
 * name each time would otherwise grow forever.  pool_attach() makes them,
 * for a config that will run, and its last reference frees the pools.
 */
static struct config *
load_text(const char *text)
{
	struct config	*c;
	FILE		*fp;
	char		*errs = NULL;

	assert_non_null(fp = fmemopen((void *)text, strlen(text), "r"));
	c = config_load_fp(fp, "fuzz.ini", CONFIG_LOAD_NO_RESOLVE, &errs);
	fclose(fp);
	assert_non_null(c);
	assert_null(errs);
	return c;
}

static void
test_load_no_pools(void **state)
{
	struct config	*c;
	char		 text[256];
	size_t		 before, i;
	bool		 pooled;

	(void)state;
	before = pool_stats_count();
	for (i = 0; i < 8; i++) {
		snprintf(text, sizeof(text), "[route fuzz%zu]\n%s", i,
		    "listen = 127.0.0.1:1234\nupstream = 127.0.0.1:80\n");
		c = load_text(text);
		pooled = c->routes[0].pool != NULL;
		config_unref(c);
		assert_int_equal(pool_stats_count(), before);
		assert_false(pooled);
	}
	c = load_text("[route torun]\nlisten = 127.0.0.1:1234\n"
		      "upstream = 127.0.0.1:80\nupstream = 127.0.0.1:81\n");
	assert_int_equal(pool_attach(c), 0);
	assert_non_null(c->routes[0].pool);
	assert_int_equal(pool_count(c->routes[0].pool), 2);
	assert_int_equal(pool_stats_count(), before + 1);
	config_unref(c);	/* frees the pool: ASan's leak check says so */
}

/* ---- config_quick ------------------------------------------------------ */

static void
test_quick_good(void **state)
{
	/* Spaces around a value go, as in the file. */
	char *const	 listen[] = { (char *)" 127.0.0.1:18080",
		     (char *)"*:18081\t" };
	char *const	 up[] = { (char *)"127.0.0.1:8000 ",
		     (char *)" [::1]:8001 weight=4 " };
	struct config	*c;
	struct route	*r;
	char		*errs = (char *)"unset", buf[ADDR_STRLEN];

	(void)state;
	c = config_quick(listen, NELEM(listen), up, NELEM(up), &errs);
	if (c == NULL) {
		print_error("%s", errs);
		free(errs);
		fail();
	}
	assert_null(errs);
	assert_null(c->path);
	assert_int_equal(c->workers, default_workers());
	check_auto_max(c);
	assert_int_equal(c->nroutes, 1);
	r = &c->routes[0];
	assert_string_equal(r->name, "quick");
	assert_int_equal(r->nlisten, 3);
	assert_string_equal(fmt(&r->listen[0], buf), "127.0.0.1:18080");
	assert_string_equal(fmt(&r->listen[1], buf), "0.0.0.0:18081");
	assert_string_equal(fmt(&r->listen[2], buf), "[::]:18081");
	assert_int_equal(r->listen_line[0], 0);
	assert_int_equal(r->nup, 2);
	assert_string_equal(fmt(&r->up[0].addr, buf), "127.0.0.1:8000");
	assert_int_equal(r->specs[r->up[0].spec].weight, 1);
	assert_string_equal(fmt(&r->up[1].addr, buf), "[::1]:8001");
	assert_int_equal(r->specs[r->up[1].spec].weight, 4);
	assert_string_equal(r->specs[r->up[1].spec].text, "[::1]:8001");
	check_defaults(r);
	config_unref(c);
}

struct quick_row {
	const char	*l[3];		/* NULL-terminated */
	const char	*u[4];
	const char	*err[3];	/* whole lines after "relay46: " */
};

static const struct quick_row quick_rows[] = {
	{ { "127.0.0.1:65536", NULL }, { "127.0.0.1:8000", NULL },
	    { "-l 127.0.0.1:65536: '127.0.0.1:65536': port out of range (0 "
	    "to 65535)", NULL } },
	{ { "localhost:80", NULL }, { "127.0.0.1:8000", NULL },
	    { "-l localhost:80: 'localhost:80': 'localhost' is not an IP "
	    "address", NULL } },
	{ { "127.0.0.1:80", NULL }, { "127.0.0.1:8000 weight=0", NULL },
	    { "-u 127.0.0.1:8000 weight=0: 0 is out of range (1 to 256)",
	    NULL } },
	{ { "127.0.0.1:80", NULL }, { "*:80", NULL },
	    { "-u *:80: '*' is not an upstream address", NULL } },
	{ { "127.0.0.1:80", NULL }, { "127.0.0.1:8000 backupx", NULL },
	    { "-u 127.0.0.1:8000 backupx: unknown upstream option 'backupx' "
	    "(weight=N, backup, max_connections=N)", NULL } },
	{ { "[::1:80", NULL }, { "[::g]:80", NULL },
	    { "-l [::1:80: '[::1:80': missing ']'",
	    "-u [::g]:80: '[::g]:80': bad IPv6 address '::g'", NULL } },
	{ { "127.0.0.1:80", NULL }, { "127.0.0.1:8000", "[::1]:8001",
	    "127.0.0.1:8000 backup" }, { "-u 127.0.0.1:8000 backup: "
	    "127.0.0.1:8000 is also given on the command line (as "
	    "127.0.0.1:8000) without backup", NULL } },
	{ { NULL }, { "127.0.0.1:8000", NULL },
	    { "route 'quick' has no listen", NULL } },
	{ { "127.0.0.1:80", NULL }, { NULL },
	    { "route 'quick' has no upstream", NULL } },
};

static size_t
count(const char *const *v)
{
	size_t	 n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

static void
test_quick_bad(void **state)
{
	const struct quick_row	*r;
	struct config		*c;
	char			*errs, want[512];
	size_t			 i, j, len;

	(void)state;
	for (i = 0; i < NELEM(quick_rows); i++) {
		r = &quick_rows[i];
		errs = NULL;
		c = config_quick((char *const *)r->l, count(r->l),
		    (char *const *)r->u, count(r->u), &errs);
		if (c != NULL) {
			config_unref(c);
			fail_msg("quick row %zu: accepted", i);
		}
		assert_non_null(errs);
		want[0] = '\0';
		for (j = 0; r->err[j] != NULL; j++) {
			len = strlen(want);
			snprintf(want + len, sizeof(want) - len,
			    "relay46: %s\n", r->err[j]);
		}
		if (strcmp(errs, want) != 0)
			fail_msg("quick row %zu: got\n%swant\n%s", i, errs,
			    want);
		free(errs);
	}
}

/* "*:P" and "0.0.0.0:P" on the command line clash. */
static void
test_quick_clash(void **state)
{
	char *const	 listen[] = { (char *)"*:18080",
	    (char *)"0.0.0.0:18080" };
	char *const	 up[] = { (char *)"127.0.0.1:8000" };
	char		*errs;

	(void)state;
	assert_null(config_quick(listen, NELEM(listen), up, NELEM(up),
	    &errs));
	assert_non_null(errs);
	if (strncmp(errs,
		"relay46: listen 0.0.0.0:18080 clashes with "
		"listen 0.0.0.0:18080 of route 'quick'",
		77) != 0)
		fail_msg("got %s", errs);
	free(errs);
}

/*
 * "HEAD", blanks, then "TAIL": ${len} bytes in all, into ${buf} (which
 * holds ${len} + 1).  Blanks separate an upstream's options.
 */
static char *
padded(char *buf, size_t len, const char *head, const char *tail)
{
	size_t	 h = strlen(head), t = strlen(tail);

	assert_true(h + t <= len);
	memcpy(buf, head, h);
	memset(buf + h, ' ', len - h - t);
	memcpy(buf + len - t, tail, t + 1);
	return buf;
}

/*
 * A -u or -l no longer than a line of the file (CONFIG_LINE_MAX) is
 * taken whole; a longer one is refused, never cut: -u used to be cut at
 * CONFIG_LINE_MAX, so a "max_connections=100" that ran one byte past it
 * was silently started as max_connections=10.  The message quotes only
 * the start of the value, so the reason is never cut off instead.
 */
#define TOO_LONG(opt) \
	"relay46: -" opt " %.40s...: too long (%d bytes, at most %d)\n"

static void
test_quick_too_long(void **state)
{
	char	 u[CONFIG_LINE_MAX + 2], l[CONFIG_LINE_MAX + 2], want[256];
	char	*ups[1] = { u }, *lis[1] = { l }, *ok[1], *errs;
	struct config	*c;
	struct route	*r;
	unsigned	 mc;

	(void)state;
	ok[0] = (char *)"127.0.0.1:18080";
	padded(u, CONFIG_LINE_MAX, "127.0.0.1:8000", "max_connections=100");
	errs = NULL;
	c = config_quick(ok, 1, ups, 1, &errs);
	if (c == NULL)
		fail_msg("%zu bytes refused: %s", strlen(u), errs);
	r = &c->routes[0];
	assert_int_equal(r->specs[r->up[0].spec].max_connections, 100);
	config_unref(c);

	padded(u, CONFIG_LINE_MAX + 1, "127.0.0.1:8000", "max_connections=100");
	padded(l, CONFIG_LINE_MAX + 1, "127.0.0.1:", "18080");
	memset(l + strlen("127.0.0.1:"), '0', CONFIG_LINE_MAX + 1 - 15);
	errs = NULL;
	c = config_quick(lis, 1, ups, 1, &errs);
	if (c != NULL) {
		r = &c->routes[0];
		mc = r->specs[r->up[0].spec].max_connections;
		config_unref(c);
		fail_msg("%zu bytes taken, as max_connections=%u", strlen(u),
		    mc);
	}
	assert_non_null(errs);
	snprintf(want, sizeof(want), TOO_LONG("l") TOO_LONG("u"), l,
	    CONFIG_LINE_MAX + 1, CONFIG_LINE_MAX, u, CONFIG_LINE_MAX + 1,
	    CONFIG_LINE_MAX);
	if (strcmp(errs, want) != 0)
		fail_msg("got\n%swant\n%s", errs, want);
	free(errs);
}

/* ---- documentation ----------------------------------------------------- */

static char *
slurp(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 n;

	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* A line of the sample config that sets ${key}, maybe commented out. */
static bool
ini_has_key(const char *text, const char *key)
{
	const char	*s, *nl;
	size_t		 klen = strlen(key);

	for (s = text; *s != '\0'; s = *nl != '\0' ? nl + 1 : nl) {
		nl = s + strcspn(s, "\n");
		if (*s == ';' || *s == '#')
			s++;
		s += strspn(s, " \t");
		if (strncmp(s, key, klen) == 0 &&
		    (s[klen] == ' ' || s[klen] == '\t' || s[klen] == '='))
			return true;
	}
	return false;
}

/* An ".It Ic" line of the man page that names ${key}. */
static bool
man_has_key(const char *text, const char *key)
{
	const char	*s, *nl, *w;
	size_t		 klen = strlen(key), wlen;

	for (s = text; *s != '\0'; s = *nl != '\0' ? nl + 1 : nl) {
		nl = s + strcspn(s, "\n");
		if (strncmp(s, ".It Ic ", 7) != 0)
			continue;
		for (w = s + 7; w < nl; w += wlen) {
			w += strspn(w, " ");
			wlen = strcspn(w, " \n");
			if (wlen == klen && strncmp(w, key, klen) == 0)
				return true;
		}
	}
	return false;
}

static void
test_keys_documented(void **state)
{
	const char *const	*names;
	const char		*src;
	char			 path[PATH_MAX];
	char			*ini, *man;
	size_t			 i, missing = 0;

	(void)state;
	if ((src = getenv("RELAY46_SRCDIR")) == NULL || *src == '\0')
		skip();
	snprintf(path, sizeof(path), "%s/etc/relay46.ini", src);
	ini = slurp(path);
	snprintf(path, sizeof(path), "%s/src/relay46.ini.5.in", src);
	man = slurp(path);
	names = config_key_names();
	assert_non_null(names[0]);
	for (i = 0; names[i] != NULL; i++) {
		if (!ini_has_key(ini, names[i])) {
			print_error("key '%s' is not in etc/relay46.ini\n",
			    names[i]);
			missing++;
		}
		if (!man_has_key(man, names[i])) {
			print_error("key '%s' is not in src/relay46.ini.5.in\n",
			    names[i]);
			missing++;
		}
	}
	free(ini);
	free(man);
	assert_int_equal(missing, 0);
}

/* Every known key is recognised by the parser (none is "unknown"). */
static void
test_key_names_known(void **state)
{
	struct tmp		*t = *state;
	const char *const	*names = config_key_names();
	const char		*path;
	char			 text[256], *errs;
	size_t			 i;
	struct config		*c;

	for (i = 0; names[i] != NULL; i++) {
		snprintf(text, sizeof(text), "[global]\n%s = ?\n"
		    "[route web]\n%s = ?\n", names[i], names[i]);
		path = write_file(t, "known.ini", text);
		errs = NULL;
		c = config_load(path, &errs);
		config_unref(c);
		assert_null(c);
		assert_non_null(errs);
		if (strstr(errs, "unknown key") != NULL)
			fail_msg("key '%s' is unknown:\n%s", names[i], errs);
		free(errs);
	}
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)
	const struct CMUnitTest tests[] = {
		T(test_full_file),
		T(test_defaults),
		T(test_indented_keys),
		T(test_layout),
		T(test_names_and_order),
		T(test_values),
		T(test_splice_values),
		T(test_admin_address),
		T(test_localhost_upstream),
		T(test_upstream_dup),
		T(test_upstream_dup_localhost),
		T(test_lookup_given_up),
		T(test_service_names),
		T(test_bad_files),
		T(test_bad_late),
		T(test_backlog_errors),
		T(test_many_errors),
		T(test_nul_byte),
		T(test_bom_crlf_mapped),
		T(test_huge_file),
		T(test_many_routes),
		T(test_lookups),
		T(test_clash_order),
		cmocka_unit_test(test_load_fp),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_load_no_pools),
		T(test_pool_keys),
		T(test_workers),
		T(test_max_connections),
		T(test_quick_good),
		T(test_quick_bad),
		T(test_quick_clash),
		T(test_quick_too_long),
		T(test_proxy_trust),
		T(test_proxy_from_any),
		T(test_keys_documented),
		T(test_key_names_known),
	};
#undef T

	/* Defaults are checked as a file gives them, not as make check's. */
	unsetenv("RELAY46_WORKERS");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
