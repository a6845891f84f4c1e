/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * resolve.c: host name upstreams made into addresses, every A and AAAA
 * of a name, with libevent's evdns.  Two callers: config.c, which blocks
 * on resolve_sync() while it loads a file, and health.c, which looks
 * names up again on the control loop with resolve_start().
 *
 * Each lookup owns a struct resolve_req and its own evdns_base, made for
 * that lookup and freed with it.  A fresh base reads /etc/resolv.conf
 * and /etc/hosts again each time, so an operator's change of resolver is
 * picked up by the next lookup without a restart, and no resolver state
 * (a name server evdns marked down, say) outlives one lookup.  The price
 * is reading those files and opening the name server sockets again for
 * every lookup: once per `resolve` interval per name.
 *
 * Threads: resolve_start() and everything after it run on the thread of
 * the base they are given, which is the control thread (resolve_sync()
 * makes a private base on the main thread, which is the same thread).
 * resolve_live is a plain counter for that reason.  Nothing here may run
 * on a worker: a worker must never wait for DNS.
 *
 * It never logs: failures reach the caller as text, which health.c and
 * config.c put in their own lines.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <ctype.h>
#include <netdb.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <arpa/inet.h>

#include "resolve.h"
#include "util.h"

/*
 * Bounds for one lookup: evdns's defaults (5 s, 3 tries) are too patient.
 * With these, a name server that does not answer costs each query about
 * 4 s (2 s, twice) rather than 15 s; that is what a start, a "relay46 -t"
 * or a reload waits per such name (and per search domain tried).
 */
#define RESOLVE_TIMEOUT		"2"
#define RESOLVE_ATTEMPTS	"2"
/*
 * Addresses kept per answer; the rest are dropped.  More than a pool
 * keeps of one name (POOL_NAME_ROOM), which its callers then cut to.
 */
#define RESOLVE_MAX		64

/*
 * One lookup, from resolve_start() until resolve_deliver_cb() frees it.
 * Whoever started it may drop interest (resolve_cancel()), but never
 * frees it: only the delivery event does, from the loop.
 */
struct resolve_req {
	struct event_base *base;
	struct evdns_base *dns;
	unsigned	 port;
	resolve_cb	*cb;
	void		*arg;
	struct addr	 addrs[RESOLVE_MAX];
	size_t		 n;
	char		 err[256];
	bool		 done;
	struct event	*ev;		/* hands the result over, and frees */
	struct evdns_getaddrinfo_request *gai;	/* under way in evdns */
};

/* Lookups started and not yet freed: resolve_pending(). */
static unsigned	resolve_live;

/*
 * Add one address of the answer, with the lookup's port, unless it is
 * there already (a name listed twice in a hosts file, or an answer with
 * repeats) or RESOLVE_MAX are: callers get each address once.
 */
static void
resolve_add(struct resolve_req *q, const struct sockaddr *sa, socklen_t len)
{
	size_t	 i;

	if (q->n == RESOLVE_MAX)
		return;
	addr_from_sockaddr(&q->addrs[q->n], sa, len);
	addr_set_port(&q->addrs[q->n], q->port);
	for (i = 0; i < q->n; i++)
		if (addr_equal(&q->addrs[i], &q->addrs[q->n]))
			return;
	q->n++;
}

/*
 * RELAY46_HOSTS: "ADDRESS NAME..." lines, '#' comments.  Read here rather
 * than by evdns, whose hosts-only lookups of a missing name wait for a
 * name server that will never come.
 */
static void
resolve_hosts_file(struct resolve_req *q, const char *path, const char *host)
{
	FILE			*fp;
	char			 line[1024], *tok, *save, *a;
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;

	if ((fp = fopen(path, "r")) == NULL) {
		err_set(q->err, sizeof(q->err), "RELAY46_HOSTS %s: %s", path,
		    strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "#\n")] = '\0';
		if ((a = strtok_r(line, " \t", &save)) == NULL)
			continue;
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
			if (strcasecmp(tok, host) != 0)
				continue;
			memset(&s4, 0, sizeof(s4));
			memset(&s6, 0, sizeof(s6));
			if (inet_pton(AF_INET, a, &s4.sin_addr) == 1) {
				s4.sin_family = AF_INET;
				resolve_add(q, (struct sockaddr *)&s4,
				    sizeof(s4));
			} else if (inet_pton(AF_INET6, a, &s6.sin6_addr) == 1) {
				s6.sin6_family = AF_INET6;
				resolve_add(q, (struct sockaddr *)&s6,
				    sizeof(s6));
			}
			break;
		}
	}
	fclose(fp);
	if (q->n == 0)
		err_set(q->err, sizeof(q->err), "not in RELAY46_HOSTS file "
		    "%s", path);
}

/*
 * RELAY46_RESOLV_CONF: read this file instead of /etc/resolv.conf (the
 * tests' other seam: a name server of their own on loopback, named as
 * "nameserver 127.0.0.1:PORT").
 */
static struct evdns_base *
resolve_dns_new(struct event_base *base, char *err, size_t errlen)
{
	struct evdns_base	*dns;
	/* Never from a set-id start; main_seams_check() has the rest. */
	const char		*conf = secure_getenv("RELAY46_RESOLV_CONF");
	int			 rc;

	if (conf != NULL && conf[0] == '\0')
		conf = NULL;
	if ((dns = evdns_base_new(base, (conf == NULL ?
	    EVDNS_BASE_INITIALIZE_NAMESERVERS : 0) |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		err_set(err, errlen, "cannot set up the resolver");
		return NULL;
	}
	if (conf != NULL && (rc = evdns_base_resolv_conf_parse(dns,
	    DNS_OPTIONS_ALL, conf)) != 0 && rc != 6) {
		/* 6: no name server in it, which evdns then assumes. */
		err_set(err, errlen, "RELAY46_RESOLV_CONF %s: cannot read it "
		    "(evdns error %d)", conf, rc);
		evdns_base_free(dns, 0);
		return NULL;
	}
	(void)evdns_base_set_option(dns, "timeout:", RESOLVE_TIMEOUT);
	(void)evdns_base_set_option(dns, "attempts:", RESOLVE_ATTEMPTS);
	return dns;
}

/*
 * The result, delivered from a fresh callback: evdns must not be freed
 * from inside its own callback, and the caller of resolve_start() is
 * promised a call from the loop, never a nested one.
 */
static void
resolve_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolve_req	*q = arg;

	(void)fd;
	(void)what;
	if (q->dns != NULL)
		evdns_base_free(q->dns, 0);
	if (q->cb != NULL)		/* NULL: cancelled */
		q->cb(q->arg, q->addrs, q->n, q->n == 0 ? q->err : NULL);
	event_free(q->ev);
	free(q);
	resolve_live--;
}

/*
 * The system's words for a lookup error.  evutil_gai_strerror() has its
 * own, from BSD ("nodename nor servname provided, or not known"), even
 * for codes that are the system's EAI_* under another name; operators
 * know glibc's ("Name or service not known") from every other tool.
 */
static const char *
resolve_gai_strerror(int e)
{
	static const struct {
		int	 ev, sys;
	} map[] = {
#ifdef EAI_ADDRFAMILY
		{ EVUTIL_EAI_ADDRFAMILY,	EAI_ADDRFAMILY },
#endif
		{ EVUTIL_EAI_AGAIN,		EAI_AGAIN },
		{ EVUTIL_EAI_BADFLAGS,		EAI_BADFLAGS },
		{ EVUTIL_EAI_FAIL,		EAI_FAIL },
		{ EVUTIL_EAI_FAMILY,		EAI_FAMILY },
		{ EVUTIL_EAI_MEMORY,		EAI_MEMORY },
#ifdef EAI_NODATA
		{ EVUTIL_EAI_NODATA,		EAI_NODATA },
#endif
		{ EVUTIL_EAI_NONAME,		EAI_NONAME },
		{ EVUTIL_EAI_SERVICE,		EAI_SERVICE },
		{ EVUTIL_EAI_SOCKTYPE,		EAI_SOCKTYPE },
		{ EVUTIL_EAI_SYSTEM,		EAI_SYSTEM },
	};
	size_t	 i;

	for (i = 0; i < NELEM(map); i++)
		if (map[i].ev == e)
			return gai_strerror(map[i].sys);
	/* EVUTIL_EAI_CANCEL and the like have no system twin. */
	return evutil_gai_strerror(e);
}

/*
 * evdns's answer, once per evdns_getaddrinfo(): from inside that call
 * when it can answer at once (a numeric name, a hosts entry), else later
 * from the loop, cancelled lookups included (EVUTIL_EAI_CANCEL).  It only
 * records the result and wakes resolve_deliver_cb(), which hands it over.
 */
static void
resolve_gai_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct resolve_req	*q = arg;
	struct evutil_addrinfo	*ai;

	if (result != 0)
		err_set(q->err, sizeof(q->err), "%s",
		    resolve_gai_strerror(result));
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			resolve_add(q, ai->ai_addr, (socklen_t)ai->ai_addrlen);
	if (res != NULL)
		evutil_freeaddrinfo(res);
	if (result == 0 && q->n == 0)
		err_set(q->err, sizeof(q->err), "no IPv4 or IPv6 address");
	q->gai = NULL;		/* evdns frees it after this call */
	q->done = true;
	event_active(q->ev, 0, 0);
}

struct resolve_req *
resolve_start(struct event_base *base, const char *host, unsigned port,
    resolve_cb *cb, void *arg)
{
	struct resolve_req	*q;
	struct evutil_addrinfo	 hints;
	/* Never from a set-id start; main_seams_check() has the rest. */
	const char		*hosts = secure_getenv("RELAY46_HOSTS");

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->base = base;
	q->port = port;
	q->cb = cb;
	q->arg = arg;
	if ((q->ev = event_new(base, -1, 0, resolve_deliver_cb, q)) == NULL) {
		free(q);
		return NULL;
	}
	resolve_live++;
	/* Either way the result is delivered from the loop, later. */
	if (hosts != NULL && hosts[0] != '\0') {
		resolve_hosts_file(q, hosts, host);
		event_active(q->ev, 0, 0);
		return q;
	}
	if ((q->dns = resolve_dns_new(base, q->err, sizeof(q->err))) == NULL) {
		event_active(q->ev, 0, 0);
		return q;
	}
	/* AF_UNSPEC: both A and AAAA, which is the point of relay46. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* No AI_ADDRCONFIG: it hides ::1 on a host with only loopback v6. */
	q->gai = evdns_getaddrinfo(q->dns, host, NULL, &hints, resolve_gai_cb,
	    q);
	if (q->done)		/* answered at once (an address, /etc/hosts) */
		q->gai = NULL;
	return q;
}

void
resolve_cancel(struct resolve_req *q)
{
	struct evdns_getaddrinfo_request *gai = q->gai;

	q->cb = NULL;
	/* evdns calls resolve_gai_cb back, from the loop; that frees all. */
	if (gai != NULL)
		evdns_getaddrinfo_cancel(gai);
}

unsigned
resolve_pending(void)
{
	return resolve_live;
}

/* What resolve_sync()'s callback hands back to it, on its stack. */
struct resolve_sync_state {
	bool		 done;
	struct addr	*out;
	size_t		 max, n;
	char		*err;
	size_t		 errlen;
};

/* Copy the answer out: ${addrs} is valid only during this call. */
static void
resolve_sync_cb(void *arg, const struct addr *addrs, size_t n,
    const char *err)
{
	struct resolve_sync_state *st = arg;

	st->done = true;
	if (n == 0) {
		err_set(st->err, st->errlen, "%s", err);
		return;
	}
	st->n = n < st->max ? n : st->max;
	memcpy(st->out, addrs, st->n * sizeof(*addrs));
}

int
resolve_sync(const char *host, unsigned port, struct addr *out, size_t max,
    size_t *n, char *err, size_t errlen)
{
	struct event_base		*base;
	struct resolve_req		*q = NULL;
	struct resolve_sync_state	 st;
	char				 why[256] = "";
	unsigned			 i, live = resolve_live;

	memset(&st, 0, sizeof(st));
	st.out = out;
	st.max = max;
	st.err = why;
	st.errlen = sizeof(why);
	/*
	 * A private base, run only here until the answer comes: it works
	 * before the control loop exists (at start, and for "relay46 -t"),
	 * and a reload's lookup runs none of the control loop's other events
	 * in the middle of config_load().
	 */
	if ((base = event_base_new()) != NULL)
		q = resolve_start(base, host, port, resolve_sync_cb, &st);
	if (q == NULL) {
		if (base != NULL)
			event_base_free(base);
		err_set(err, errlen, "cannot resolve '%s': out of memory",
		    host);
		return -1;
	}
	/* evdns bounds each lookup itself; this only guards against a bug. */
	for (i = 0; !st.done && i < 100000; i++)
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			break;		/* error, or nothing left to wait for */
	/*
	 * Given up (no event left, or the guard): the lookup is still out.
	 * Cancelled, it frees itself (its event, its evdns base, evdns's
	 * questions) from this base's loop only, so that runs before the base
	 * is freed; no other lookup runs here, so resolve_live says when.
	 */
	if (!st.done) {
		resolve_cancel(q);
		for (i = 0; resolve_live > live && i < 16; i++)
			(void)event_base_loop(base, EVLOOP_NONBLOCK);
	}
	event_base_free(base);
	if (st.n == 0) {
		err_set(err, errlen, "cannot resolve '%s': %s", host,
		    st.done ? why : "lookup did not finish");
		return -1;
	}
	*n = st.n;
	return 0;
}
