/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_CONFIG_H
#define RELAY46_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acl.h"
#include "addr.h"

struct pool;

/* Lines longer than this (without the newline) are refused. */
#define CONFIG_LINE_MAX		190
#define CONFIG_NAME_MAX		64
#define CONFIG_WORKERS_MAX	256
/*
 * Addresses kept of one host name upstream: at load, and in its pool at
 * run time (pool.h's POOL_NAME_ROOM), which config_fd_reserve() counts.
 */
#define CONFIG_NAME_ADDRS	32

enum config_log {
	CONFIG_LOG_STDERR = 0,
	CONFIG_LOG_SYSLOG,
};

/* One "upstream =" line, as written. */
struct upstream_spec {
	char		*text;		/* the address as written: "db:5432" */
	char		*host;		/* a name to look up again, or NULL */
	unsigned	 port;
	unsigned	 weight;	/* 1..256 */
	bool		 backup;
	unsigned	 max_connections;	/* 0: no limit */
	int		 line;		/* 0: command line */
};

/* One upstream address.  A hostname gives one of these per address found. */
struct upstream_conf {
	struct addr	 addr;
	size_t		 spec;		/* index in route->specs */
};

struct route {
	char		*name;
	int		 line;		/* of its [route NAME] header */
	struct addr	*listen;
	int		*listen_line;	/* where each was given (0: command line) */
	size_t		 nlisten;
	/*
	 * listen()'s queue for each listening socket, 1..65535; 0: not
	 * given, as long as the kernel allows (listener_backlog()).
	 */
	unsigned	 backlog;
	struct upstream_spec *specs;
	size_t		 nspecs;
	struct upstream_conf *up;	/* every address found at load */
	size_t		 nup;
	int		 balance;	/* BALANCE_* from balance.h */
	uint64_t	 connect_timeout_ms;
	uint64_t	 idle_timeout_ms;	/* 0: none */
	uint64_t	 fin_timeout_ms;	/* 0: none (idle_timeout only) */
	unsigned	 retries;
	size_t		 buffer;
	bool		 keepalive;
	unsigned	 max_connections;	/* 0: only the global limit */
	unsigned	 max_per_client;	/* 0: no limit */
	struct acl	 acl;
	int		 proxy_protocol;	/* 0 (off), 1 or 2 */
	bool		 accept_proxy;
	int		 accept_proxy_line;	/* where it was set; 0: not */
	/*
	 * accept_proxy: the real peers that may send a PROXY header, as
	 * allow rules ("any" is 0.0.0.0/0 and ::/0).  Empty: anyone may, as
	 * before proxy_from existed; config_load() allows that only on
	 * private listen addresses, with a warning.
	 */
	struct acl	 proxy_from;
	int		 proxy_from_line;	/* the first one; 0: none */
	uint64_t	 proxy_timeout_ms;	/* for the whole PROXY header */
	bool		 health_check;		/* active TCP checks */
	uint64_t	 check_interval_ms;
	unsigned	 rise, fall;
	uint64_t	 resolve_ms;		/* 0: never look names up again */
	/*
	 * Run-time state (health, load, lookups): see pool.h.  NULL from
	 * the parser; pool_attach() makes it for a config that will run.
	 */
	struct pool	*pool;
};

struct cfg_index;	/* config.c's */

/*
 * A whole configuration.  Built by config_load() or config_quick(),
 * immutable afterwards, shared by reference: each holder calls
 * config_ref() and config_unref().
 */
struct config {
	atomic_uint	 refs;
	char		*path;		/* NULL in quick mode */
	unsigned	 workers;
	unsigned char	 splice;	/* enum splice_mode (splice.h) */
	unsigned	 max_connections;	/* 0: no limit */
	/*
	 * max_connections was not given, or was "auto": it is then what the
	 * open files limit allows (config_max_connections_for()).
	 */
	bool		 max_connections_auto;
	enum config_log	 log;
	int		 log_level;	/* LOG_LEVEL_* from log.h */
	uint64_t	 shutdown_timeout_ms;
	char		*access_log;	/* "stderr" or a path; NULL: off */
	char		*pidfile;	/* an absolute path; NULL: off */
	char		*control;	/* the control socket's path; NULL: off */
	char		*user, *group;	/* to drop to after binding; NULL: stay */
	bool		 admin_on;	/* the admin HTTP endpoint */
	struct addr	 admin;
	int		 admin_line;
	struct acl	 admin_allow;	/* empty: anyone who can reach it */
	struct route	*routes;
	size_t		 nroutes;
	/*
	 * Derived by the load, for lookups (config_route_find(),
	 * config_listen_route(), config_listen_find()): route names hashed
	 * (index + 1, 0 a free slot; nnames a power of two), each route's
	 * first listen in config_listen_route()'s count ([nroutes]: the
	 * count), and the listens sorted by family, port and host.
	 */
	size_t		*names;
	size_t		 nnames;
	size_t		*listens_at;
	struct cfg_index *lidx;
	/*
	 * What works but is likely a mistake: "FILE:LINE: message\n" each,
	 * in file order, for the caller to log; NULL when there is none.
	 */
	char		*warnings;
	/*
	 * Frees the run-time state that the daemon hung on this config after
	 * the load (route->pool: pool_attach()), with the last reference;
	 * NULL: none.  A hook, so that the parser neither builds nor knows
	 * that state.
	 */
	void		(*runtime_free)(struct config *);
};

/*
 * config_load(path, errs): read and check the INI file ${path}.  Returns
 * a config with one reference, or NULL; then *${errs} holds every error
 * found, one "FILE:LINE: message\n" each in file order (or "FILE: ..."
 * where no line applies), and the caller frees it.  On success *${errs}
 * is NULL, and c->warnings holds what deserves a warning.  Hostname
 * upstreams are looked up here (getaddrinfo).  Without max_connections
 * (or with "auto"), it is derived from the hard RLIMIT_NOFILE, which
 * relay46 raises its soft limit to at start.  It builds no run-time
 * state (route->pool stays NULL until pool_attach()), so that checking a
 * file (-t, the fuzzers) registers nothing process-wide.
 */
struct config *config_load(const char *path, char **errs);

#define CONFIG_LOAD_NO_RESOLVE	0x1	/* refuse host names (fuzzing) */

/*
 * config_load_fp(fp, name, flags, errs): as config_load(), reading the
 * open stream ${fp} (not closed) and naming it ${name} in errors.
 */
struct config *config_load_fp(FILE *fp, const char *name, unsigned flags,
	    char **errs);

/*
 * config_quick(listen, nlisten, up, nup, errs): the configuration of
 * "relay46 -l ... -u ...": defaults and one route named "quick".  Errors
 * as config_load(), each "-l VALUE: message" or "-u VALUE: message".  A
 * value longer than CONFIG_LINE_MAX is an error, as a line of a file is.
 */
struct config *config_quick(char *const *listen, size_t nlisten,
	    char *const *up, size_t nup, char **errs);

/* Descriptors kept out of any session's reach, whatever the config. */
#define CONFIG_FD_SPARE		64	/* stdio, logs, admin, resolver, signals */
#define CONFIG_FD_PER_WORKER	4	/* event loop, its wake-ups, margin */
#define CONFIG_MAX_CONNECTIONS_MAX 10000000

/*
 * config_fd_reserve(c): how many descriptors ${c} needs apart from its
 * sessions: CONFIG_FD_SPARE, each worker's listening sockets and
 * CONFIG_FD_PER_WORKER, and one per upstream a health check may connect
 * to at once.  A session holds two (client and upstream), so the open
 * files limit ${c} needs is 2 * max_connections + config_fd_reserve(c).
 */
unsigned long long config_fd_reserve(const struct config *c);

/*
 * config_max_connections_for(nofile, reserve): the sessions an open files
 * limit of ${nofile} leaves room for after ${reserve}: (nofile - reserve)
 * / 2, at least 1 (0 would mean no limit) and at most
 * CONFIG_MAX_CONNECTIONS_MAX.  As HAProxy derives maxconn from ulimit -n.
 */
unsigned config_max_connections_for(unsigned long long nofile,
	    unsigned long long reserve);

/* config_ref(c): take a reference; returns ${c}. */
struct config *config_ref(struct config *c);

/* config_unref(c): drop a reference, freeing ${c} with the last; NULL is fine. */
void	 config_unref(struct config *c);

/*
 * config_listen_route(c, k): the index of the route of ${c} that its
 * ${k}th listen address belongs to, counting every route's in file order
 * (the order listening sockets are handed around in); c->nroutes if
 * there is no ${k}th.
 */
size_t	 config_listen_route(const struct config *c, size_t k);

/* config_listen_count(c): how many listens ${c} has, every route's. */
size_t	 config_listen_count(const struct config *c);

/*
 * config_listen_find(c, name, a, nth): where listen ${a} of route ${name}
 * is in config_listen_route()'s count, ${nth} counting equal ones of that
 * route from 0; with ${name} NULL, the first listen of any route that is
 * ${a} (port 0 is never found so: each such listen gets a port of its
 * own).  config_listen_count(c) if there is none.
 */
size_t config_listen_find(const struct config *c, const char *name,
    const struct addr *a, size_t nth);

/* config_route_find(c, name): route ${name}'s index; c->nroutes if none. */
size_t config_route_find(const struct config *c, const char *name);

/*
 * config_key_names(): the NULL-terminated list of every key the parser
 * knows (those not supported yet included), for documentation checks.
 */
const char *const *config_key_names(void);

#endif
