/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The command line and start-up as root: options, the configuration (or
 * -t), the log, the open files limit, the access log, the admin socket
 * and every listening socket (systemd's, or bound here), all before
 * control_run() takes them over and, if asked, drops root.  Owns nothing
 * past start-up but the configuration's first reference.
 */

#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "accesslog.h"
#include "admin.h"
#include "config.h"
#include "pool.h"
#include "sdnotify.h"
#include "control.h"
#include "listener.h"
#include "log.h"
#include "util.h"

#define MAIN_DEFAULT_CONFIG	SYSCONFDIR "/relay46/relay46.ini"
#define MAIN_MAX_QUICK		64

struct opts {
	const char	*config;
	const char	*ready;
	const char	*pidfile;	/* -p: wins over the pidfile key */
	bool		 test;
	int		 verbosity;
	unsigned	 seams;		/* main_seams_check() */
	bool		 seams_on;
	char		*listen[MAIN_MAX_QUICK], *up[MAIN_MAX_QUICK];
	size_t		 nlisten, nup;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: relay46 [-tvqVh] [-c FILE] [-p FILE] [-R FILE]\n"
	    "       relay46 [-tvq] [-p FILE] -l LISTEN [-l LISTEN ...] -u UPSTREAM "
	    "[-u UPSTREAM ...]\n"
	    "  -c, --config FILE      configuration file (default %s)\n"
	    "  -t, --test             check the configuration and exit\n"
	    "  -l, --listen ADDR      quick mode: listen here (repeatable)\n"
	    "  -u, --upstream ADDR    quick mode: relay to here (repeatable)\n"
	    "  -p, --pidfile FILE     write the pid here once listening "
	    "(over pidfile =)\n"
	    "  -R, --ready-file FILE  write the bound addresses here once "
	    "listening\n"
	    "  -v, --verbose          more log output (repeatable)\n"
	    "  -q, --quiet            less log output (repeatable)\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n",
	    MAIN_DEFAULT_CONFIG);
}

/* -V: the version, and what this binary was built with, for bug reports. */
static void
main_version(void)
{
	static const char *const sanitizers[] = {
#ifdef WITH_ASAN
		"ASan",
#endif
#ifdef WITH_UBSAN
		"UBSan",
#endif
#ifdef WITH_TSAN
		"TSan",
#endif
		NULL,
	};
	size_t	 i;

	printf("relay46 %s\n", PACKAGE_VERSION);
	printf("libevent %s (built against %s)\n", event_get_version(),
	    LIBEVENT_VERSION);
#ifdef HAVE_SPLICE
	printf("splice: yes\n");
#else
	printf("splice: no\n");
#endif
	printf("systemd notify: yes (built in, no libsystemd)\n");
	printf("sanitizers:");
	for (i = 0; sanitizers[i] != NULL; i++)
		printf(" %s", sanitizers[i]);
	printf("%s\n", i == 0 ? " none" : "");
}

/* -l or -u (${ch}) ${arg}: one more quick-mode address; exits 2 if full. */
static void
main_quick_arg(struct opts *o, int ch, char *arg)
{
	if ((ch == 'l' ? o->nlisten : o->nup) == MAIN_MAX_QUICK) {
		fprintf(stderr, "relay46: too many -%c\n", ch);
		exit(2);
	}
	if (ch == 'l')
		o->listen[o->nlisten++] = arg;
	else
		o->up[o->nup++] = arg;
}

/* What getopt cannot check: no stray argument, -l with -u, not with -c. */
static void
main_opts_check(int argc, char **argv, const struct opts *o)
{
	if (optind < argc) {
		fprintf(stderr, "relay46: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		exit(2);
	}
	if ((o->nlisten > 0) != (o->nup > 0) ||
	    (o->nlisten > 0 && o->config != NULL)) {
		fprintf(stderr, "relay46: -l and -u go together, and not "
		    "with -c\n");
		usage(stderr);
		exit(2);
	}
}

static void
main_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "c:tl:u:p:R:vqVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 't': o->test = true; break;
		case 'p': o->pidfile = optarg; break;
		case 'R': o->ready = optarg; break;
		case 'v': o->verbosity++; break;
		case 'q': o->verbosity--; break;
		case 'V':
			main_version();
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case 'l':
		case 'u':
			main_quick_arg(o, ch, optarg);
			break;
		default:
			usage(stderr);
			exit(2);
		}
	}
	main_opts_check(argc, argv, o);
}

/* What relay46 opens whatever the file says: stdio, log, signals, ... */
#define MAIN_FD_BASE	16

/*
 * As HAProxy does: take every descriptor the hard limit allows, so that
 * max_connections, not an accident of the login shell, is what bounds us.
 * Without max_connections (or with "auto") the config derived it from
 * that hard limit (config_max_connections_for()), so it fits by
 * construction; only a number the operator chose can ask for more
 * descriptors than there are, and then the warning says what to raise.
 * A limit too low for the listening sockets themselves ends the start.
 */
static void
main_raise_nofile(const struct config *cfg)
{
	struct rlimit	 rl;
	unsigned long long need, base, reserve = config_fd_reserve(cfg);
	const char	*advice;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 &&
		    getrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_warn("msg=\"cannot raise the open files limit to "
			    "the hard limit: %s\"", strerror(errno));
	}
	/*
	 * The listening sockets alone past the limit: the binds would fail
	 * one by one, each with "Too many open files", and leave no room
	 * for a single session.  Say once what to change, before any bind.
	 * What is needed for sure, not the reserve, which has a margin: a
	 * small limit that leaves room for a few sessions is allowed.
	 */
	base = config_listen_count(cfg) + CONFIG_FD_PER_WORKER;
	base = base * cfg->workers + MAIN_FD_BASE;
	if (base + 2 > rl.rlim_cur) {
		advice = cfg->workers > 1 ? "lower workers" :
					    "use fewer listen addresses";
		fatalx("msg=\"open files limit %llu is too low: %zu listen "
		       "addresses for each of %u workers need at least %llu "
		       "descriptors before any session; raise it (ulimit -n, "
		       "or LimitNOFILE= in the systemd unit) or %s\"",
		    (unsigned long long)rl.rlim_cur, config_listen_count(cfg),
		    cfg->workers, base + 2, advice);
	}
	if (cfg->max_connections_auto) {
		log_info("max_connections=%u nofile=%llu msg=\"max_connections "
		    "is what nofile allows (2 descriptors a session, %llu "
		    "kept back); set max_connections to choose\"",
		    cfg->max_connections, (unsigned long long)rl.rlim_max,
		    reserve);
		return;
	}
	need = 2ULL * cfg->max_connections + reserve;
	if (cfg->max_connections != 0 && need > rl.rlim_cur)
		log_warn("msg=\"open files limit %llu is below what "
		    "max_connections %u needs (%llu): raise it (ulimit -n, or "
		    "LimitNOFILE= in the systemd unit) or lower "
		    "max_connections; until then accept pauses when "
		    "descriptors run out\"", (unsigned long long)rl.rlim_cur,
		    cfg->max_connections, need);
}

/*
 * Sockets systemd passed (LISTEN_FDS) stand in for the listen addresses
 * they are bound to.  Returns how many there are.  Exits on malformed
 * variables.
 */
static size_t
main_passed(int **passedp)
{
	char	 err[256];
	size_t	 n;

	if (sdnotify_listen_fds(passedp, &n, err, sizeof(err)) == -1)
		fatalx("msg=\"socket activation: %s\"", err);
	return n;
}

/*
 * The ${nw} sockets of listen address ${a} of route ${r} into ${one}: the
 * one systemd passed for it (dup'd for the other workers, which then
 * share it), else new ones (listener_open(), with the route's
 * backlog: with several workers the address is probed first, so that a
 * port already taken is an error even though SO_REUSEPORT would share
 * it).  Logs "listening" with the address as bound, whose port the
 * kernel chose for port 0.  0, or -1 (logged).
 */
static int
main_listen_one(const struct route *r, const struct addr *a, unsigned nw,
    int *passed, size_t npassed, int *one)
{
	char		 err[256], abuf[ADDR_STRLEN];
	struct addr	 bound = *a;
	unsigned	 w;
	int		 m, rc;

	if ((m = sdnotify_match(passed, npassed, a)) == -1) {
		/* As a reload binds: probe, then one per worker. */
		rc = listener_open(a, r->keepalive, r->backlog, nw, one, err,
		    sizeof(err));
		if (rc == -1) {
			log_error("route=%s msg=\"%s\"", r->name, err);
			return -1;
		}
	} else {
		one[0] = passed[m];
		passed[m] = -1;		/* now the caller's */
		/* As our own sockets get (the dups share them). */
		if (listener_sockopts(one[0], r->keepalive) == -1)
			log_warn("route=%s msg=\"socket from systemd: %s\"",
			    r->name, strerror(errno));
		/* The route's backlog wins over the unit's Backlog= (Linux). */
		if (r->backlog != 0 &&
		    listener_listen(one[0], r->backlog) == -1)
			log_warn("route=%s msg=\"socket from systemd: "
				 "backlog: %s\"",
			    r->name, strerror(errno));
		for (w = 1; w < nw; w++)
			if ((one[w] = fcntl(one[0], F_DUPFD_CLOEXEC, 3)) == -1)
				fatalx("msg=\"dup: %s\"", strerror(errno));
	}
	(void)listener_address(one[0], &bound);
	log_info("route=%s addr=%s msg=\"listening%s\"", r->name,
	    addr_format(&bound, abuf, sizeof(abuf)), m != -1 ?
	    " (socket from systemd)" : "");
	return 0;
}

/*
 * A backlog above net.core.somaxconn is cut to it by the kernel, without
 * a word: say so once, at start, for each route that asks for more (not
 * for one that gives none: that asks for the most on purpose).  Where
 * the cap cannot be read (not Linux), nothing is said.
 */
static void
main_backlog_warn(const struct config *cfg)
{
	const struct route *r;
	unsigned	 cap;
	size_t		 i;

	if (listener_somaxconn(&cap) == -1)
		return;
	for (i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		if (r->backlog > cap)
			log_warn("route=%s msg=\"backlog %u is capped by "
				 "net.core.somaxconn=%u\"",
			    r->name, r->backlog, cap);
	}
}

/* Passed sockets no listen address wants are not ours to keep. */
static void
main_passed_close(int *passed, size_t npassed)
{
	size_t	 i;

	for (i = 0; i < npassed; i++)
		if (passed[i] != -1) {
			log_warn("msg=\"systemd passed fd %d, which matches no "
			    "listen address; closing it\"", passed[i]);
			close(passed[i]);
		}
	free(passed);
}

/*
 * Open every listening socket, in route order, once per worker: the fds
 * come worker by worker (worker w's are fds[w * per .. w * per + per - 1]).
 * main_listen_one() says where each comes from.  All or nothing: on any
 * failure, log each one, close what was opened and return -1.
 */
static int
main_listen(const struct config *cfg, int **fdsp, size_t *nfdsp)
{
	const struct route *r;
	size_t		 i, j, per = 0, k, npassed, nw = cfg->workers;
	unsigned	 w;
	int		*fds, *passed = NULL, *one, bad = 0;

	npassed = main_passed(&passed);
	main_backlog_warn(cfg);
	for (i = 0; i < cfg->nroutes; i++)
		per += cfg->routes[i].nlisten;
	if ((fds = calloc(per * nw, sizeof(*fds))) == NULL ||
	    (one = calloc(nw, sizeof(*one))) == NULL)
		fatalx("out of memory");
	for (k = 0; k < per * nw; k++)
		fds[k] = -1;
	for (i = 0, k = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		for (j = 0; j < r->nlisten; j++, k++) {
			if (main_listen_one(r, &r->listen[j], cfg->workers,
			    passed, npassed, one) == -1) {
				bad = 1;
				continue;
			}
			for (w = 0; w < nw; w++)
				fds[w * per + k] = one[w];
		}
	}
	main_passed_close(passed, npassed);
	free(one);
	if (bad) {
		for (k = 0; k < per * nw; k++)
			if (fds[k] != -1)
				close(fds[k]);
		free(fds);
		return -1;
	}
	*fdsp = fds;
	*nfdsp = per * nw;
	return 0;
}

/*
 * The admin endpoint's socket, bound where the listeners are (as root,
 * before anything says "started"), so that a port in use stops start-up
 * the same way and names the line that asked for it.  Returns the fd
 * (-1 with admin = off), or exits 1 on failure.
 */
static int
main_admin(const struct config *cfg)
{
	char	 err[256];
	int	 fd;

	if (!cfg->admin_on)
		return -1;
	if ((fd = admin_open(&cfg->admin, err, sizeof(err))) == -1)
		fatalx("msg=\"%s:%d: admin: %s\"", cfg->path != NULL ?
		    cfg->path : "command line", cfg->admin_line, err);
	return fd;
}

/*
 * The tests' seams (resolve.h): files named by these variables stand in
 * for /etc/hosts, DNS and /etc/resolv.conf in every upstream lookup.
 */
static const char *const main_seam_names[] = {
	"RELAY46_HOSTS", "RELAY46_RESOLV_CONF",
};

/*
 * A unit file, an EnvironmentFile or an operator's shell that happens to
 * carry a seam would quietly send a production relay46 (root, or about
 * to drop root) to other upstreams.  So they count only beside
 * RELAY46_TEST_SEAMS=1, which no one sets by accident and the tests set
 * (tests/integration/harness.c), and never in a set-id or file-capability
 * start (secure_getenv).  Otherwise they leave the environment here,
 * before the configuration's lookups, so no lookup ever sees them.
 * Returns a bit (1 << i) for each seam that was set, for main_seams_warn()
 * once the log is set up; *${honoured}: whether they are used.
 */
static unsigned
main_seams_check(bool *honoured)
{
	const char	*v = secure_getenv("RELAY46_TEST_SEAMS");
	unsigned	 set = 0;
	size_t		 i;

	*honoured = v != NULL && strcmp(v, "1") == 0;
	for (i = 0; i < NELEM(main_seam_names); i++) {
		if ((v = getenv(main_seam_names[i])) == NULL || *v == '\0')
			continue;
		set |= 1u << i;
		if (!*honoured && unsetenv(main_seam_names[i]) == -1)
			fatalx("msg=\"unsetenv %s: %s\"", main_seam_names[i],
			    strerror(errno));
	}
	return set;
}

/* Say once, at start, which seams were set and what became of them. */
static void
main_seams_warn(unsigned set, bool honoured)
{
	size_t	 i;

	for (i = 0; i < NELEM(main_seam_names); i++) {
		if ((set & (1u << i)) == 0)
			continue;
		if (honoured)
			log_warn("msg=\"%s=%s: upstream names are looked up "
			    "there (RELAY46_TEST_SEAMS=1; for tests only)\"",
			    main_seam_names[i], getenv(main_seam_names[i]));
		else
			log_warn("msg=\"%s is ignored: a test setting "
			    "(ENVIRONMENT in relay46(8))\"",
			    main_seam_names[i]);
	}
}

/*
 * Start-up warnings, once the log is set up.  Root for the whole run,
 * with nothing to say so, is how a sample config with ";user = relay46"
 * ends up in production: say it, and which key ends it.  Not an error:
 * that same sample must start as written from the source tree, where no
 * user relay46 exists.
 */
static void
main_warn(const struct opts *o, const struct config *cfg)
{
	main_seams_warn(o->seams, o->seams_on);
	log_warn_lines("", cfg->warnings);
	if (geteuid() == 0 && cfg->user == NULL)
		log_warn("msg=\"running as root: set user = relay46 (or "
		    "another unprivileged user) in [global] to drop root once "
		    "listening\"");
}

/* The log as the config says, -v and -q moving its level; then warnings. */
static void
main_log_init(const struct opts *o, const struct config *cfg)
{
	int	 level = cfg->log_level + o->verbosity;

	level = level < LOG_LEVEL_ERROR ? LOG_LEVEL_ERROR :
	    level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : level;
	log_init(cfg->log == CONFIG_LOG_SYSLOG, level);
	main_warn(o, cfg);
}

static struct config *
main_config(const struct opts *o, const char **name)
{
	struct config	*cfg;
	char		*errs = NULL;

	*name = o->config != NULL ? o->config : MAIN_DEFAULT_CONFIG;
	if (o->nlisten > 0) {
		*name = "command line";
		cfg = config_quick(o->listen, o->nlisten, o->up, o->nup, &errs);
	} else
		cfg = config_load(*name, &errs);
	/*
	 * The parser builds no run-time state: a config that will run gets
	 * its pools here.  -t needs none, so it registers nothing.
	 */
	if (cfg != NULL && !o->test && pool_attach(cfg) == -1) {
		config_unref(cfg);
		cfg = NULL;
	}
	if (cfg == NULL) {
		fputs(errs != NULL ? errs : "out of memory\n", stderr);
		free(errs);
	}
	/* No log_init() for these: the warnings go to stderr as they are. */
	if (cfg == NULL || o->test)
		main_seams_warn(o->seams, o->seams_on);
	if (cfg != NULL && o->test && cfg->warnings != NULL)
		fputs(cfg->warnings, stderr);
	return cfg;
}

int
main(int argc, char **argv)
{
	struct opts	 o;
	struct config	*cfg;
	const char	*name;
	struct accesslog *alog = NULL;
	char		 err[512];
	int		*fds = NULL, afd, rc;
	size_t		 nfds = 0;

	/* Before anything touches libevent, so it never writes on its own. */
	log_libevent_init();
	memset(&o, 0, sizeof(o));
	main_opts(argc, argv, &o);
	o.seams = main_seams_check(&o.seams_on);
	if ((cfg = main_config(&o, &name)) == NULL)
		return 1;
	if (o.test) {
		printf("%s: configuration OK\n", name);
		config_unref(cfg);
		return 0;
	}
	main_log_init(&o, cfg);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Hold the signals the control loop handles until its handlers are
	 * in (control_run unblocks them): threads started meanwhile inherit
	 * the mask, and a SIGHUP that came early would otherwise kill us.
	 */
	control_hold_signals();
	if (evthread_use_pthreads() == -1)
		fatalx("msg=\"libevent has no thread support\"");
	main_raise_nofile(cfg);
	/* Files first, like sockets: before any privileges could be dropped. */
	if (cfg->access_log != NULL && (alog = accesslog_open(cfg->access_log,
	    err, sizeof(err))) == NULL) {
		log_error("msg=\"access_log: %s\"", err);
		config_unref(cfg);
		return 1;
	}
	afd = main_admin(cfg);
	if (main_listen(cfg, &fds, &nfds) == -1) {
		if (afd != -1)
			close(afd);
		accesslog_close(alog);
		config_unref(cfg);
		return 1;
	}
	log_info("msg=\"relay46 %s started\" routes=%zu workers=%u",
	    PACKAGE_VERSION, cfg->nroutes, cfg->workers);
	rc = control_run(cfg, fds, nfds, afd, alog, o.ready,
	    o.pidfile != NULL ? o.pidfile : cfg->pidfile);
	free(fds);
	config_unref(cfg);
	pool_stats_free_all();
	libevent_global_shutdown();
	return rc;
}
