/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for metrics.c: a snapshot built by hand (two routes, upstreams
 * with hostile names) is formatted three ways and each output is checked by
 * a small validator written here: the Prometheus text format (0.0.4)
 * grammar and family rules, a JSON (RFC 8259) recursive-descent parser,
 * and an HTML check that every tag and entity is one the page means to
 * write.  The validators are themselves fed bad input, so that a lenient
 * one cannot pass everything.  Specific lines are checked as well.
 */
#include "autoconf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "addr.h"
#include "metrics.h"
#include "util.h"

/* ---- the snapshot ------------------------------------------------------- */

/* Quotes, backslashes, a newline, markup, a bad byte, and real UTF-8. */
#define EVIL_UP		"ev\"il\\up\nline<b>&amp;</b>'x\xff\xc3\xa9"
/* The same with the bad byte as U+FFFD, as every output must show it. */
#define EVIL_UP_SHOWN	"ev\"il\\up\nline<b>&amp;</b>'x\xef\xbf\xbd\xc3\xa9"
#define EVIL_ROUTE	"r\"2\\\n<&>"

static const char *const web_result_names[] = {
	"done", "client_reset", "upstream_refused", "idle_timeout"
};
static const uint64_t web_results[] = { 5, 1, 2, 0 };
static const char *const evil_result_names[] = { "done", "we\"ird\\\n<&>" };
static const uint64_t evil_results[] = { 7, 3 };

/*
 * address, up, present, backup, weight, live, connects, connect_fails,
 * host (the upstream line as written), checked, check_fails, admin,
 * weight in force, down: errno, by a check, since.
 */
static struct metrics_upstream web_ups[] = {
	{ "127.0.0.1:8000", true, true, false, 1, 3, 40, 2, "127.0.0.1:8000",
	    true, 0, "ready", 1, 0, false, 0 },
	{ "[::1]:8001", false, true, true, 5, 0, 7, 9, "backend.internal:8001",
	    true, 4, "drain", 5, 111, true, 1700000100 },
	{ EVIL_UP, false, false, false, 2, 1, 1, 1, EVIL_UP, false, 0, "maint",
	    0, 110, false, 1700000200 },
};
static struct metrics_upstream evil_ups[] = {
	{ "[2001:db8::1]:443", true, true, false, 1, 0, 0, 0,
	    "evil.example:443", false, 0, "ready", 1, 0, false, 0 },
};

/*
 * route, listen as bound, queue (summed over sockets), limit (each),
 * sockets.
 */
static struct metrics_listener listeners[] = {
	{ "web", "0.0.0.0:8080", 3, 4096, 2 },
	{ "web", "[::]:8080", 0, 4096, 2 },
	{ EVIL_ROUTE, "[fe80::1%eth0]:443", 7, 7, 1 },
};

/*
 * The busiest sessions, addresses set by snapshot_make(): id, route,
 * client, upstream (the second is not connected yet), age, bytes up and
 * down, RTTs, whether known.
 */
static struct metrics_session sessions[] = {
	{ 42, "web", { .len = 0 }, { .len = 0 }, 3723000, 1610612736, 1536, 42,
	    1300, true, true },
	{ 7, EVIL_ROUTE, { .len = 0 }, { .len = 0 }, 900, 5, 0, 0, 0, false,
	    false },
};

/* Listen addresses as bound, and client and upstream addresses. */
static struct addr web_listen[2], evil_listen[1];

static void
addr_set(struct addr *a, const char *text)
{
	char	 err[128];

	if (addr_parse(text, a, err, sizeof(err)) == -1)
		fail_msg("%s: %s", text, err);
}

static void
snapshot_make(struct metrics_snapshot *s, struct metrics_route r[2])
{
	static const uint64_t buckets[METRICS_CONNECT_BUCKETS + 1] = {
		1, 0, 2, 0, 0, 3, 0, 0, 0, 1, 0, 0, 4
	};

	addr_set(&web_listen[0], "0.0.0.0:8080");
	addr_set(&web_listen[1], "[::]:8080");
	addr_set(&evil_listen[0], "[::1]:443");
	addr_set(&sessions[0].client, "192.0.2.1:50000");
	addr_set(&sessions[0].upstream, "127.0.0.1:8000");
	addr_set(&sessions[1].client, "[2001:db8::7]:40000");
	memset(&sessions[1].upstream, 0, sizeof(sessions[1].upstream));
	memset(r, 0, 2 * sizeof(*r));
	r[0].name = "web";
	r[0].listen = web_listen;
	r[0].nlisten = NELEM(web_listen);
	r[0].balance = "leastconn";
	r[0].health_check = true;
	r[0].check_interval_ms = 2000;
	r[0].rise = 2;
	r[0].fall = 3;
	r[0].active = 3;
	r[0].result_names = web_result_names;
	r[0].results = web_results;
	r[0].nresults = NELEM(web_results);
	r[0].bytes_up = 1234;
	r[0].bytes_down = UINT64_MAX;
	memcpy(r[0].connect_buckets, buckets, sizeof(buckets));
	r[0].connect_sum = 21.123456;
	r[0].ups = web_ups;
	r[0].nups = NELEM(web_ups);
	r[1].name = EVIL_ROUTE;
	r[1].listen = evil_listen;
	r[1].nlisten = NELEM(evil_listen);
	r[1].balance = "roundrobin";
	r[1].check_interval_ms = 5000;
	r[1].rise = 2;
	r[1].fall = 1;
	r[1].result_names = evil_result_names;
	r[1].results = evil_results;
	r[1].nresults = NELEM(evil_results);
	r[1].ups = evil_ups;
	r[1].nups = NELEM(evil_ups);
	memset(s, 0, sizeof(*s));
	s->version = "0.1.0";
	s->libevent = "2.1.12-stable";
	s->splice = true;
	s->start_time = 1700000000;
	s->now = 1700000000 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5;
	s->workers = 2;
	s->accept_errors = 4;
	s->sessions_active = 3;
	s->access_log_dropped = 6;
	s->access_log_reopen_failures = 2;
	s->routes = r;
	s->nroutes = 2;
	s->listeners = listeners;
	s->nlisteners = NELEM(listeners);
	s->netstat = true;
	s->listen_overflows = 2517;
	s->listen_drops = UINT64_MAX;
	s->sessions = sessions;
	s->nsessions = NELEM(sessions);
	s->sessions_known = true;
	s->sessions_age_ms = 1234;
}

/* ${text} has ${want} in it, or the test fails showing both. */
#define H_CONTAINS(text, want)                                         \
	do {                                                           \
		if (strstr((text), (want)) == NULL)                    \
			fail_msg("missing %s in\n%s", (want), (text)); \
	} while (0)

/* Format with ${fn} into a NUL-terminated string the caller frees. */
static char *
format(int (*fn)(const struct metrics_snapshot *, struct evbuffer *),
    const struct metrics_snapshot *s)
{
	struct evbuffer	*b;
	char		*text;
	size_t		 n;

	assert_non_null(b = evbuffer_new());
	assert_int_equal(fn(s, b), 0);
	n = evbuffer_get_length(b);
	assert_non_null(text = malloc(n + 1));
	assert_int_equal(evbuffer_remove(b, text, n), (int)n);
	text[n] = '\0';
	evbuffer_free(b);
	assert_int_equal(strlen(text), n);	/* no NUL inside */
	return text;
}

static bool
utf8_ok(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n, i;

	while (*p != '\0') {
		if (*p < 0x80)
			n = 1;
		else if (*p >= 0xc2 && *p <= 0xdf)
			n = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4;
		else
			return false;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		if ((n == 3 && *p == 0xe0 && p[1] < 0xa0) ||
		    (n == 3 && *p == 0xed && p[1] > 0x9f) ||
		    (n == 4 && *p == 0xf0 && p[1] < 0x90) ||
		    (n == 4 && *p == 0xf4 && p[1] > 0x8f))
			return false;
		p += n;
	}
	return true;
}

/* ---- a Prometheus text format validator ------------------------------- */

#define PV_MAXFAM	64
#define PV_MAXSER	512
#define PV_MAXLAB	8
#define PV_STR		160

struct pv_family {
	char		 name[PV_STR];
	char		 type[16];
	int		 help, typed;	/* lines seen */
	bool		 sampled;	/* its samples began */
	bool		 closed;	/* another family's samples followed */
};

struct pv_sample {
	char		 name[PV_STR];
	size_t		 nlab;
	char		 key[PV_MAXLAB][PV_STR];
	char		 val[PV_MAXLAB][PV_STR];	/* decoded */
	double		 v;
	char		 series[2 * PV_STR];	/* name{labels} as written */
};

struct pv {
	struct pv_family fam[PV_MAXFAM];
	size_t		 nfam;
	struct pv_sample ser[PV_MAXSER];
	size_t		 nser;
	int		 last;		/* family of the previous sample, or -1 */
	char		 why[256];	/* why it is not valid */
};

static bool pv_fail(struct pv *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static bool
pv_fail(struct pv *pv, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(pv->why, sizeof(pv->why), fmt, ap);
	va_end(ap);
	return false;
}

static bool
pv_name_ok(const char *s, size_t n, bool label)
{
	size_t	 i;

	if (n == 0 || n >= PV_STR)
		return false;
	for (i = 0; i < n; i++) {
		char	 c = s[i];
		bool	 alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '_' || (!label && c == ':');

		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return false;
	}
	return true;
}

static struct pv_family *
pv_find(struct pv *pv, const char *name)
{
	size_t	 i;

	for (i = 0; i < pv->nfam; i++)
		if (strcmp(pv->fam[i].name, name) == 0)
			return &pv->fam[i];
	return NULL;
}

/* "# HELP name text" or "# TYPE name type"; other comments are allowed. */
static bool
pv_comment(struct pv *pv, const char *line)
{
	static const char *const types[] = {
		"counter", "gauge", "histogram", "summary", "untyped"
	};
	struct pv_family	*f;
	char			 name[PV_STR];
	const char		*p, *sp;
	bool			 help;
	size_t			 i;

	if (strncmp(line, "# HELP ", 7) != 0 && strncmp(line, "# TYPE ", 7) != 0)
		return true;
	help = line[2] == 'H';
	p = line + 7;
	if ((sp = strchr(p, ' ')) == NULL || !pv_name_ok(p, sp - p, false))
		return pv_fail(pv, "bad metadata line '%s'", line);
	snprintf(name, sizeof(name), "%.*s", (int)(sp - p), p);
	if ((f = pv_find(pv, name)) == NULL) {
		if (pv->nfam == PV_MAXFAM)
			return pv_fail(pv, "too many families");
		f = &pv->fam[pv->nfam++];
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	if (f->sampled)
		return pv_fail(pv, "%s: metadata after its samples", name);
	if (help)
		return f->help++ == 0 ? true :
		    pv_fail(pv, "%s: second HELP", name);
	if (f->typed++ != 0)
		return pv_fail(pv, "%s: second TYPE", name);
	for (i = 0; i < NELEM(types); i++)
		if (strcmp(sp + 1, types[i]) == 0)
			break;
	if (i == NELEM(types))
		return pv_fail(pv, "%s: unknown type '%s'", name, sp + 1);
	snprintf(f->type, sizeof(f->type), "%s", sp + 1);
	if (strcmp(f->type, "counter") == 0 &&
	    (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total") != 0))
		return pv_fail(pv, "%s: a counter not ending in _total", name);
	return true;
}

/* One label value after the opening quote; ${p} ends past the closing one. */
static bool
pv_label_value(struct pv *pv, const char **pp, char *out)
{
	const char	*p = *pp;
	size_t		 n = 0;

	for (; *p != '"'; p++) {
		if (*p == '\0')
			return pv_fail(pv, "unterminated label value");
		if (n + 2 >= PV_STR)
			return pv_fail(pv, "label value too long");
		if (*p != '\\') {
			out[n++] = *p;
			continue;
		}
		p++;
		if (*p == '\\' || *p == '"')
			out[n++] = *p;
		else if (*p == 'n')
			out[n++] = '\n';
		else
			return pv_fail(pv, "bad escape '\\%c'", *p);
	}
	out[n] = '\0';
	*pp = p + 1;
	if (!utf8_ok(out))
		return pv_fail(pv, "label value is not UTF-8");
	return true;
}

static bool
pv_labels(struct pv *pv, const char **pp, struct pv_sample *sm)
{
	const char	*p = *pp, *eq;
	size_t		 i;

	for (;;) {
		if ((eq = strchr(p, '=')) == NULL || !pv_name_ok(p, eq - p, true))
			return pv_fail(pv, "bad label name at '%s'", p);
		if (sm->nlab == PV_MAXLAB || eq[1] != '"')
			return pv_fail(pv, "bad label at '%s'", p);
		snprintf(sm->key[sm->nlab], PV_STR, "%.*s", (int)(eq - p), p);
		for (i = 0; i < sm->nlab; i++)
			if (strcmp(sm->key[i], sm->key[sm->nlab]) == 0)
				return pv_fail(pv, "label %s twice", sm->key[i]);
		p = eq + 2;
		if (!pv_label_value(pv, &p, sm->val[sm->nlab++]))
			return false;
		if (*p == '}')
			break;
		if (*p++ != ',')
			return pv_fail(pv, "expected ',' or '}' at '%s'", p - 1);
	}
	*pp = p + 1;
	return true;
}

/* name[{labels}] value: fills ${sm}. */
static bool
pv_sample_parse(struct pv *pv, const char *line, struct pv_sample *sm)
{
	const char	*p = line, *end;
	size_t		 n;

	memset(sm, 0, sizeof(*sm));
	n = strcspn(p, "{ ");
	if (!pv_name_ok(p, n, false))
		return pv_fail(pv, "bad metric name in '%s'", line);
	snprintf(sm->name, sizeof(sm->name), "%.*s", (int)n, p);
	p += n;
	if (*p == '{' && (p++, !pv_labels(pv, &p, sm)))
		return false;
	snprintf(sm->series, sizeof(sm->series), "%.*s", (int)(p - line),
	    line);
	if (*p++ != ' ' || *p == '\0' || *p == ' ')
		return pv_fail(pv, "no value in '%s'", line);
	sm->v = strtod(p, (char **)&end);
	if (*end != '\0')
		return pv_fail(pv, "bad value (or a timestamp) in '%s'", line);
	return true;
}

/* The family a sample belongs to: its own name, or a histogram's. */
static struct pv_family *
pv_family_of(struct pv *pv, const char *name)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	struct pv_family	*f;
	char			 base[PV_STR];
	size_t			 i, n = strlen(name), k;

	if ((f = pv_find(pv, name)) != NULL &&
	    strcmp(f->type, "histogram") != 0)
		return f;
	for (i = 0; i < NELEM(sfx); i++) {
		k = strlen(sfx[i]);
		if (n <= k || strcmp(name + n - k, sfx[i]) != 0)
			continue;
		snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
		if ((f = pv_find(pv, base)) != NULL &&
		    strcmp(f->type, "histogram") == 0)
			return f;
	}
	return NULL;
}

static bool
pv_sample(struct pv *pv, const char *line)
{
	struct pv_sample	*sm;
	struct pv_family	*f;
	size_t			 i;
	int			 fi;

	if (pv->nser == PV_MAXSER)
		return pv_fail(pv, "too many samples");
	sm = &pv->ser[pv->nser];
	if (!pv_sample_parse(pv, line, sm))
		return false;
	if ((f = pv_family_of(pv, sm->name)) == NULL)
		return pv_fail(pv, "%s: no HELP/TYPE before it", sm->name);
	if (f->help != 1 || f->typed != 1)
		return pv_fail(pv, "%s: needs one HELP and one TYPE", f->name);
	fi = (int)(f - pv->fam);
	if (f->closed)
		return pv_fail(pv, "%s: samples not together", f->name);
	if (pv->last != -1 && pv->last != fi)
		pv->fam[pv->last].closed = true;
	pv->last = fi;
	f->sampled = true;
	for (i = 0; i < pv->nser; i++)
		if (strcmp(pv->ser[i].series, sm->series) == 0)
			return pv_fail(pv, "series %s twice", sm->series);
	pv->nser++;
	return true;
}

static const char *
pv_label(const struct pv_sample *sm, const char *key)
{
	size_t	 i;

	for (i = 0; i < sm->nlab; i++)
		if (strcmp(sm->key[i], key) == 0)
			return sm->val[i];
	return NULL;
}

/* Do ${a} and ${b} have the same labels, ignoring "le"? */
static bool
pv_same_series(const struct pv_sample *a, const struct pv_sample *b)
{
	const char	*v;
	size_t		 i, na = 0, nb = 0;

	for (i = 0; i < a->nlab; i++) {
		if (strcmp(a->key[i], "le") == 0)
			continue;
		na++;
		if ((v = pv_label(b, a->key[i])) == NULL ||
		    strcmp(v, a->val[i]) != 0)
			return false;
	}
	for (i = 0; i < b->nlab; i++)
		nb += strcmp(b->key[i], "le") != 0;
	return na == nb;
}

/*
 * One histogram series, starting at its first bucket ${first}: "le"
 * rising, counts cumulative, +Inf last and equal to _count, a _sum.
 */
static bool
pv_histogram_series(struct pv *pv, const struct pv_family *f, size_t first)
{
	char		 bname[PV_STR + 16], name[PV_STR + 16];
	const char	*le;
	double		 prev_le = -INFINITY, prev_v = 0, inf = NAN, x;
	bool		 sum = false, count = false;
	size_t		 i;

	snprintf(bname, sizeof(bname), "%s_bucket", f->name);
	for (i = first; i < pv->nser; i++) {
		const struct pv_sample *sm = &pv->ser[i];

		if (!pv_same_series(&pv->ser[first], sm))
			continue;
		if (strcmp(sm->name, bname) == 0) {
			if ((le = pv_label(sm, "le")) == NULL)
				return pv_fail(pv, "%s without le", sm->series);
			x = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
			if (!(x > prev_le) || sm->v < prev_v)
				return pv_fail(pv, "%s: not cumulative",
				    sm->series);
			prev_le = x;
			prev_v = sm->v;
			if (isinf(x))
				inf = sm->v;
			continue;
		}
		snprintf(name, sizeof(name), "%s_count", f->name);
		if (strcmp(sm->name, name) == 0) {
			if (count || sm->v != inf)
				return pv_fail(pv, "%s: +Inf %g, count %g",
				    sm->series, inf, sm->v);
			count = true;
		} else
			sum = true;
	}
	return sum && count ? true : pv_fail(pv, "%s: no _sum or _count",
	    pv->ser[first].series);
}

static bool
pv_histograms(struct pv *pv)
{
	char	 bname[PV_STR + 16];
	size_t	 i, j;
	bool	 seen;

	for (i = 0; i < pv->nser; i++) {
		const struct pv_family *f = pv_family_of(pv, pv->ser[i].name);

		if (strcmp(f->type, "histogram") != 0)
			continue;
		snprintf(bname, sizeof(bname), "%s_bucket", f->name);
		if (strcmp(pv->ser[i].name, bname) != 0)
			continue;
		/* Check each series once, from its first bucket. */
		for (seen = false, j = 0; j < i && !seen; j++)
			seen = strcmp(pv->ser[j].name, bname) == 0 &&
			    pv_same_series(&pv->ser[i], &pv->ser[j]);
		if (!seen && !pv_histogram_series(pv, f, i))
			return false;
	}
	return true;
}

/* Validate ${text}; false with the reason in pv->why. */
static bool
pv_check(struct pv *pv, const char *text)
{
	char		 line[1024];
	const char	*p = text, *nl;
	size_t		 i;

	memset(pv, 0, sizeof(*pv));
	pv->last = -1;
	if (!utf8_ok(text))
		return pv_fail(pv, "not UTF-8");
	for (; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			return pv_fail(pv, "last line has no newline");
		if ((size_t)(nl - p) >= sizeof(line))
			return pv_fail(pv, "line too long");
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (line[0] == '#' ? !pv_comment(pv, line) :
		    !pv_sample(pv, line))
			return false;
	}
	for (i = 0; i < pv->nfam; i++)
		if (pv->fam[i].help != 1 || pv->fam[i].typed != 1)
			return pv_fail(pv, "%s: needs one HELP and one TYPE",
			    pv->fam[i].name);
	return pv_histograms(pv);
}

/* The value of the sample written exactly as ${series}, or fail. */
static double
pv_value(const struct pv *pv, const char *series)
{
	size_t	 i;

	for (i = 0; i < pv->nser; i++)
		if (strcmp(pv->ser[i].series, series) == 0)
			return pv->ser[i].v;
	fail_msg("no sample %s", series);
	return NAN;
}

/* ---- Prometheus tests ---------------------------------------------------- */

static struct pv	 pv;	/* big: kept off the stack */

static void
test_prom_validator_rejects(void **state)
{
	static const char *const bad[] = {
		"x 1\n",					/* no TYPE */
		"# HELP x h\n# TYPE x gauge\nx 1",		/* no newline */
		"# HELP x h\n# TYPE x gauge\n1x 1\n",
		"# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",
		"# HELP x h\n# TYPE x gauge\nx{a=\"b\",a=\"c\"} 1\n",
		"# HELP x h\n# TYPE x gauge\nx{a=\"b} 1\n",
		"# HELP x h\n# TYPE x gauge\nx{a=\"\xff\"} 1\n",
		"# HELP x h\n# TYPE x gauge\nx{1a=\"b\"} 1\n",
		"# HELP x h\n# TYPE x gauge\nx one\n",
		"# HELP x h\n# TYPE x gauge\nx 1 2\n",
		"# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",
		"# HELP x h\n# HELP x h\n# TYPE x gauge\nx 1\n",
		"# HELP x h\n# TYPE x gauge\nx 1\n# TYPE x gauge\n",
		"# HELP x h\n# TYPE x counter\nx 1\n",
		"# HELP x_total h\n# TYPE x_total counter\n# HELP y h\n"
		    "# TYPE y gauge\nx_total 1\ny 1\nx_total{a=\"b\"} 1\n",
		"# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
		    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		"# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
		"# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_sum 1\nh_count 1\n",
		"# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
		    "h_count 1\n",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (pv_check(&pv, bad[i]))
			fail_msg("validator took bad input %zu:\n%s", i, bad[i]);
	assert_true(pv_check(&pv, "# HELP h h\n# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.5\n"
	    "h_count 2\n"));
}

static void
test_prom_valid(void **state)
{
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text;

	(void)state;
	snapshot_make(&s, r);
	text = format(metrics_prometheus, &s);
	if (!pv_check(&pv, text))
		fail_msg("invalid: %s\n%s", pv.why, text);
	/* Every family of the contract, typed as it says. */
	assert_string_equal(pv_find(&pv, "relay46_info")->type, "gauge");
	assert_string_equal(pv_find(&pv, "relay46_connect_seconds")->type,
	    "histogram");
	assert_string_equal(pv_find(&pv,
	    "relay46_upstream_connects_total")->type, "counter");
	assert_string_equal(pv_find(&pv, "relay46_listener_queue")->type,
	    "gauge");
	assert_string_equal(pv_find(&pv, "relay46_upstream_admin_state")->type,
	    "gauge");
	assert_string_equal(
	    pv_find(&pv, "relay46_config_last_reload_success")->type, "gauge");
	assert_int_equal(pv.nfam, 25);
	free(text);

	/* No routes at all is still a valid page. */
	s.nroutes = 0;
	s.nlisteners = 0;
	text = format(metrics_prometheus, &s);
	if (!pv_check(&pv, text))
		fail_msg("invalid: %s\n%s", pv.why, text);
	free(text);
}

/* Is ${line} a whole line of ${text}? */
static bool
has_line(const char *text, const char *line)
{
	const char	*p = strstr(text, line);

	return p != NULL && (p == text || p[-1] == '\n');
}

/*
 * The kernel's view and the build: each listen address's queue and its
 * limit, label values escaped as everywhere; the host's counters, left
 * out (not 0) where /proc/net/netstat could not be read.
 */
static void
test_prom_kernel(void **state)
{
	static const char *const lines[] = {
		"relay46_build_info{version=\"0.1.0\",splice=\"yes\","
		"libevent=\"2.1.12-stable\"} 1\n",
		"relay46_listener_queue{route=\"web\",listen=\"0.0.0.0:8080\"} "
		"3\n",
		"relay46_listener_queue{route=\"web\",listen=\"[::]:8080\"} 0\n",
		"relay46_listener_queue{route=\"r\\\"2\\\\\\n<&>\","
		"listen=\"[fe80::1%eth0]:443\"} 7\n",
		"relay46_listener_queue_limit{route=\"web\","
		"listen=\"[::]:8080\"} 4096\n",
		"relay46_listener_queue_limit{route=\"r\\\"2\\\\\\n<&>\","
		"listen=\"[fe80::1%eth0]:443\"} 7\n",
		"relay46_tcp_listen_overflows_total 2517\n",
		"relay46_tcp_listen_drops_total 18446744073709551615\n",
	};
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text;
	size_t			 i;

	(void)state;
	snapshot_make(&s, r);
	text = format(metrics_prometheus, &s);
	assert_true(pv_check(&pv, text));
	assert_string_equal(
	    pv_find(&pv, "relay46_tcp_listen_drops_total")->type, "counter");
	for (i = 0; i < NELEM(lines); i++)
		if (!has_line(text, lines[i]))
			fail_msg("missing line %s", lines[i]);
	free(text);

	s.netstat = false;
	s.libevent = NULL;
	text = format(metrics_prometheus, &s);
	if (!pv_check(&pv, text))
		fail_msg("invalid: %s\n%s", pv.why, text);
	assert_null(pv_find(&pv, "relay46_tcp_listen_overflows_total"));
	assert_null(pv_find(&pv, "relay46_tcp_listen_drops_total"));
	assert_int_equal(pv.nfam, 23);
	assert_true(has_line(text,
	    "relay46_build_info{version=\"0.1.0\","
	    "splice=\"yes\",libevent=\"unknown\"} 1\n"));
	free(text);
}

static void
test_prom_lines(void **state)
{
	static const char *const lines[] = {
		"relay46_info{version=\"0.1.0\"} 1\n",
		"relay46_start_time_seconds 1700000000\n",
		"relay46_workers 2\n",
		"relay46_accept_errors_total 4\n",
		"relay46_access_log_dropped_total 6\n",
		"relay46_access_log_reopen_failures_total 2\n",
		"relay46_sessions_active{route=\"web\"} 3\n",
		"relay46_sessions_total{route=\"web\",result=\"done\"} 5\n",
		"relay46_sessions_total{route=\"web\",result=\"idle_timeout\"} 0\n",
		"relay46_bytes_total{route=\"web\",direction=\"up\"} 1234\n",
		"relay46_bytes_total{route=\"web\",direction=\"down\"} "
		    "18446744073709551615\n",
		"relay46_connect_seconds_bucket{route=\"web\",le=\"0.0005\"} 1\n",
		"relay46_connect_seconds_bucket{route=\"web\",le=\"0.0025\"} 3\n",
		"relay46_connect_seconds_bucket{route=\"web\",le=\"1\"} 7\n",
		"relay46_connect_seconds_bucket{route=\"web\",le=\"5\"} 7\n",
		"relay46_connect_seconds_bucket{route=\"web\",le=\"+Inf\"} 11\n",
		"relay46_connect_seconds_sum{route=\"web\"} 21.123456\n",
		"relay46_connect_seconds_count{route=\"web\"} 11\n",
		"relay46_upstream_up{route=\"web\",upstream=\"127.0.0.1:8000\"} 1\n",
		"relay46_upstream_up{route=\"web\",upstream=\"[::1]:8001\"} 0\n",
		"relay46_upstream_sessions_active{route=\"web\","
		    "upstream=\"127.0.0.1:8000\"} 3\n",
		"relay46_upstream_connects_total{route=\"web\","
		    "upstream=\"[::1]:8001\",result=\"ok\"} 7\n",
		"relay46_upstream_connects_total{route=\"web\","
		    "upstream=\"[::1]:8001\",result=\"failed\"} 9\n",
		"relay46_upstream_up{route=\"web\",upstream=\"ev\\\"il\\\\up\\n"
		    "line<b>&amp;</b>'x\xef\xbf\xbd\xc3\xa9\"} 0\n",
		"relay46_sessions_total{route=\"r\\\"2\\\\\\n<&>\","
		    "result=\"we\\\"ird\\\\\\n<&>\"} 3\n",
		"relay46_connect_seconds_count{route=\"r\\\"2\\\\\\n<&>\"} 0\n",
		"relay46_upstream_checked{route=\"web\","
		    "upstream=\"127.0.0.1:8000\"} 1\n",
		"relay46_upstream_checked{route=\"r\\\"2\\\\\\n<&>\","
		    "upstream=\"[2001:db8::1]:443\"} 0\n",
		"relay46_upstream_check_failures_total{route=\"web\","
		    "upstream=\"[::1]:8001\"} 4\n",
		"relay46_upstream_info{route=\"web\",upstream=\"[::1]:8001\","
		    "host=\"backend.internal:8001\"} 1\n",
	};
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text;
	size_t			 i;

	(void)state;
	snapshot_make(&s, r);
	text = format(metrics_prometheus, &s);
	for (i = 0; i < NELEM(lines); i++) {
		const char *p = strstr(text, lines[i]);

		/* Whole lines only: the match must start a line. */
		if (p == NULL || (p != text && p[-1] != '\n'))
			fail_msg("missing line %s", lines[i]);
	}
	free(text);
}

/* The hostile names come back intact once the label escapes are undone. */
static void
test_prom_round_trip(void **state)
{
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text;
	size_t			 i, hits = 0;

	(void)state;
	snapshot_make(&s, r);
	text = format(metrics_prometheus, &s);
	assert_true(pv_check(&pv, text));
	for (i = 0; i < pv.nser; i++) {
		const char *u = pv_label(&pv.ser[i], "upstream");
		const char *rt = pv_label(&pv.ser[i], "route");

		if (u != NULL && strstr(u, "line") != NULL) {
			assert_string_equal(u, EVIL_UP_SHOWN);
			hits++;
		}
		if (rt != NULL && strcmp(rt, "web") != 0)
			assert_string_equal(rt, EVIL_ROUTE);
	}
	/*
	 * up, checked, sessions_active, two connects_total samples,
	 * check_failures_total, info, three admin_state samples, weight.
	 */
	assert_int_equal(hits, 11);
	/* The operator's state: one sample per state, 1 for the one in force. */
	assert_true(pv_value(&pv,
			"relay46_upstream_admin_state{route=\"web\","
			"upstream=\"[::1]:8001\",state=\"drain\"}") == 1);
	assert_true(pv_value(&pv,
			"relay46_upstream_admin_state{route=\"web\","
			"upstream=\"[::1]:8001\",state=\"ready\"}") == 0);
	assert_true(pv_value(&pv,
			"relay46_upstream_weight{route=\"web\","
			"upstream=\"[::1]:8001\"}") == 5);
	assert_true(pv_value(&pv,
	    "relay46_connect_seconds_bucket{route=\"web\",le=\"0.5\"}") == 7);
	free(text);
}

/* ---- a JSON validator (RFC 8259) ------------------------------------------ */

#define JV_DEPTH	32
#define JV_MAXSTR	256

struct jv {
	const char	*p;
	char		 strs[JV_MAXSTR][PV_STR];	/* every string, decoded */
	size_t		 nstr;
};

static void
jv_ws(struct jv *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static bool
jv_lit(struct jv *j, const char *lit)
{
	size_t	 n = strlen(lit);

	if (strncmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

static int
jv_hex4(const char *p)
{
	int	 v = 0, i;

	for (i = 0; i < 4; i++) {
		char	 c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* One escape after the backslash, decoded into ${out} (BMP only). */
static bool
jv_escape(struct jv *j, char *out, size_t *n)
{
	static const char	 from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char		*q;
	int			 u;

	if (*j->p != '\0' && (q = strchr(from, *j->p)) != NULL) {
		out[(*n)++] = to[q - from];
		j->p++;
		return true;
	}
	if (*j->p++ != 'u' || (u = jv_hex4(j->p)) == -1 ||
	    (u >= 0xd800 && u <= 0xdfff))
		return false;
	j->p += 4;
	if (u < 0x80)
		out[(*n)++] = (char)u;
	else if (u < 0x800) {
		out[(*n)++] = (char)(0xc0 | u >> 6);
		out[(*n)++] = (char)(0x80 | (u & 0x3f));
	} else {
		out[(*n)++] = (char)(0xe0 | u >> 12);
		out[(*n)++] = (char)(0x80 | ((u >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (u & 0x3f));
	}
	return true;
}

static bool
jv_string(struct jv *j)
{
	char	 buf[PV_STR];
	size_t	 n = 0;

	if (*j->p++ != '"')
		return false;
	while (*j->p != '"') {
		if ((unsigned char)*j->p < 0x20 || n + 4 >= sizeof(buf))
			return false;	/* raw control character, or NUL */
		if (*j->p == '\\') {
			j->p++;
			if (!jv_escape(j, buf, &n))
				return false;
		} else
			buf[n++] = *j->p++;
	}
	j->p++;
	buf[n] = '\0';
	if (!utf8_ok(buf) || j->nstr == JV_MAXSTR)
		return false;
	memcpy(j->strs[j->nstr++], buf, n + 1);
	return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
jv_number(struct jv *j)
{
	const char	*p = j->p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		if (*++p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	return true;
}

static bool	 jv_value(struct jv *, int);

/* The members or elements of an object (${close} '}') or array (']'). */
static bool
jv_members(struct jv *j, char close, int depth)
{
	jv_ws(j);
	if (*j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		jv_ws(j);
		if (close == '}') {
			if (!jv_string(j))
				return false;
			jv_ws(j);
			if (*j->p++ != ':')
				return false;
		}
		if (!jv_value(j, depth + 1))
			return false;
		jv_ws(j);
		if (*j->p == close) {
			j->p++;
			return true;
		}
		if (*j->p++ != ',')
			return false;
	}
}

static bool
jv_value(struct jv *j, int depth)
{
	if (depth > JV_DEPTH)
		return false;
	jv_ws(j);
	switch (*j->p) {
	case '{':
	case '[':
		return j->p++, jv_members(j, j->p[-1] == '{' ? '}' : ']', depth);
	case '"':
		return jv_string(j);
	case 't':
		return jv_lit(j, "true");
	case 'f':
		return jv_lit(j, "false");
	case 'n':
		return jv_lit(j, "null");
	default:
		return jv_number(j);
	}
}

static bool
jv_check(struct jv *j, const char *text)
{
	memset(j, 0, sizeof(*j));
	j->p = text;
	if (!jv_value(j, 0))
		return false;
	jv_ws(j);
	return *j->p == '\0';
}

static bool
jv_has_string(const struct jv *j, const char *s)
{
	size_t	 i;

	for (i = 0; i < j->nstr; i++)
		if (strcmp(j->strs[i], s) == 0)
			return true;
	return false;
}

/* ---- JSON tests -------------------------------------------------------- */

static struct jv	 jv;

static void
test_json_validator_rejects(void **state)
{
	static const char *const bad[] = {
		"", "{", "{}}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]",
		"[01]", "[1.]", "[-]", "[1e]", "[.5]", "[\"a\nb\"]",
		"[\"\\x\"]", "[\"\\u12\"]", "[\"\\ud800\"]", "[\"\xff\"]",
		"{a:1}", "[tru]", "[1] [2]", "['a']", "[+1]",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (jv_check(&jv, bad[i]))
			fail_msg("validator took bad input '%s'", bad[i]);
	assert_true(jv_check(&jv, " {\"a\": [1, -2.5e+3, true, false, null, "
	    "{}, [], \"\\u00e9\\n\"]} "));
	assert_true(jv_has_string(&jv, "\xc3\xa9\n"));
}

static void
test_json(void **state)
{
	static const char *const frags[] = {
		"{\"version\":\"0.1.0\",\"uptime_seconds\":183845,"
		"\"workers\":2,\"sessions_active\":3,\"routes\":[",
		"{\"name\":\"web\",\"listen\":[\"0.0.0.0:8080\",\"[::]:8080\"],"
		"\"balance\":\"leastconn\",\"health_check\":true,"
		"\"check_interval_ms\":2000,\"rise\":2,\"fall\":3,"
		"\"active\":3,\"bytes_up\":1234,"
		"\"bytes_down\":18446744073709551615,\"sessions\":"
		"{\"done\":5,\"client_reset\":1,\"upstream_refused\":2,"
		"\"idle_timeout\":0},\"upstreams\":[",
		"{\"address\":\"127.0.0.1:8000\",\"host\":\"127.0.0.1:8000\","
		"\"health\":\"up\",\"up\":true,\"present\":true,"
		"\"backup\":false,\"weight\":1,\"active\":3,\"connects\":40,"
		"\"connect_fails\":2,\"checked\":true,\"check_fails\":0,"
		"\"state\":\"ready\",\"weight_now\":1,\"down_why\":\"\","
		"\"down_since\":0}",
		"{\"address\":\"[::1]:8001\",\"host\":\"backend.internal:8001\","
		"\"health\":\"down\",\"up\":false,\"present\":true,"
		"\"backup\":true,\"weight\":5,",
		"\"connect_fails\":9,\"checked\":true,\"check_fails\":4,"
		"\"state\":\"drain\",\"weight_now\":5,\"down_why\":"
		"\"check: ",
		"\"state\":\"maint\",\"weight_now\":0,\"down_why\":"
		"\"connect: ",
		"\"address\":\"ev\\\"il\\\\up\\nline<b>&amp;</b>'x"
		"\xef\xbf\xbd\xc3\xa9\",\"host\":",
		"\"health\":\"down\",\"up\":false,\"present\":false,",
		"{\"address\":\"[2001:db8::1]:443\",\"host\":"
		"\"evil.example:443\",\"health\":\"unchecked\",\"up\":true,",
		"{\"name\":\"r\\\"2\\\\\\n<&>\",\"listen\":[\"[::1]:443\"],"
		"\"balance\":\"roundrobin\",\"health_check\":false,"
		"\"check_interval_ms\":5000,\"rise\":2,\"fall\":1,",
		"]}],\"busiest_sessions_age_ms\":1234,\"busiest_sessions\":[",
		"{\"id\":42,\"route\":\"web\",\"client\":\"192.0.2.1:50000\","
		"\"upstream\":\"127.0.0.1:8000\",\"age_ms\":3723000,"
		"\"bytes_up\":1610612736,\"bytes_down\":1536,"
		"\"client_rtt_us\":42,\"upstream_rtt_us\":1300},",
		"{\"id\":7,\"route\":\"r\\\"2\\\\\\n<&>\","
		"\"client\":\"[2001:db8::7]:40000\",\"upstream\":null,"
		"\"age_ms\":900,\"bytes_up\":5,\"bytes_down\":0,"
		"\"client_rtt_us\":null,\"upstream_rtt_us\":null}]}\n",
	};
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text, want[256];
	size_t			 i;

	(void)state;
	snapshot_make(&s, r);
	text = format(metrics_json, &s);
	if (!jv_check(&jv, text))
		fail_msg("invalid JSON near '%.40s' in\n%s", jv.p, text);
	assert_true(jv_has_string(&jv, EVIL_UP_SHOWN));
	assert_true(jv_has_string(&jv, EVIL_ROUTE));
	assert_true(jv_has_string(&jv, "we\"ird\\\n<&>"));
	for (i = 0; i < NELEM(frags); i++)
		if (strstr(text, frags[i]) == NULL)
			fail_msg("missing %s in\n%s", frags[i], text);
	/* Why down, as the C library words the error, and since when. */
	snprintf(want, sizeof(want),
	    "\"down_why\":\"check: %s\","
	    "\"down_since\":1700000100}",
	    strerror(ECONNREFUSED));
	H_CONTAINS(text, want);
	snprintf(want, sizeof(want),
	    "\"down_why\":\"connect: %s\","
	    "\"down_since\":1700000200}",
	    strerror(ETIMEDOUT));
	H_CONTAINS(text, want);
	free(text);

	/* A clock stepped back shows no uptime rather than 2^64 - n. */
	s.now = s.start_time - 10;
	s.nroutes = 0;
	text = format(metrics_json, &s);
	assert_true(jv_check(&jv, text));
	assert_non_null(strstr(text, "\"uptime_seconds\":0,"));
	assert_non_null(strstr(text, "\"routes\":[],"));
	free(text);

	/* The busiest sessions never gathered: null, not an age of 0. */
	s.sessions_known = false;
	s.nsessions = 0;
	text = format(metrics_json, &s);
	assert_true(jv_check(&jv, text));
	assert_non_null(strstr(text,
	    "\"busiest_sessions_age_ms\":null,"
	    "\"busiest_sessions\":[]}"));
	free(text);
}

/* ---- HTML ---------------------------------------------------------------- */

/*
 * Every tag is one the page means to write, every '&' starts one of the
 * entities it writes, and nothing loads from elsewhere.  An unescaped
 * hostile name shows up as a stray tag or a stray '&'.
 */
static bool
html_ok(const char *t, char *why, size_t len)
{
	static const char *const tags[] = { "<!DOCTYPE html>",
		"<html lang=\"en\">", "</html>", "<head>", "</head>",
		"<meta charset=\"utf-8\">",
		"<meta http-equiv=\"refresh\" content=\"5\">", "<title>",
		"</title>", "<body>", "</body>", "<h1>", "</h1>", "<h2>",
		"</h2>", "<p>", "<p class=\"note\">", "</p>",
		"<table class=\"route\">", "<table class=\"ups\">",
		"<table class=\"ses\">", "</table>", "<tr>",
		"<tr class=\"down\">", "<tr class=\"off\">", "</tr>", "<th>",
		"</th>", "<td>", "</td>" };
	static const char *const ents[] = {
		"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"
	};
	const char	*p, *e;
	size_t		 i;

	if (!utf8_ok(t))
		return snprintf(why, len, "not UTF-8"), false;
	for (p = t; *p != '\0'; p++) {
		if (strncmp(p, "<style>", 7) == 0) {
			if ((e = strstr(p, "</style>")) == NULL ||
			    memchr(p, '"', e - p) != NULL)
				return snprintf(why, len, "style"), false;
			p = e + 7;
		} else if (*p == '<' || *p == '&') {
			const char *const *set = *p == '<' ? tags : ents;
			size_t n = *p == '<' ? NELEM(tags) : NELEM(ents);

			for (i = 0; i < n; i++)
				if (strncmp(p, set[i], strlen(set[i])) == 0)
					break;
			if (i == n)
				return snprintf(why, len, "stray '%.20s'", p),
				    false;
			p += strlen(set[i]) - 1;
		} else if (*p == '>')
			return snprintf(why, len, "stray '>'"), false;
	}
	return true;
}

static void
test_html(void **state)
{
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text, why[64];

	(void)state;
	assert_false(html_ok("<p><b>x</b></p>", why, sizeof(why)));
	assert_false(html_ok("<p>a & b</p>", why, sizeof(why)));
	assert_false(html_ok("<p>a > b</p>", why, sizeof(why)));
	snapshot_make(&s, r);
	text = format(metrics_html, &s);
	if (!html_ok(text, why, sizeof(why)))
		fail_msg("%s in\n%s", why, text);
	H_CONTAINS(text,
	    "<td>ev&quot;il\\up\nline&lt;b&gt;"
	    "&amp;amp;&lt;/b&gt;&#39;x\xef\xbf\xbd\xc3\xa9</td>");
	H_CONTAINS(text, "<h2>Route r&quot;2\\\n&lt;&amp;&gt;</h2>");
	H_CONTAINS(text, "we&quot;ird\\\n&lt;&amp;&gt; 3");
	H_CONTAINS(text, "<h1>relay46 0.1.0</h1>");
	H_CONTAINS(text, "Up 2d 03:04:05, 2 workers");
	/* It reloads itself, and says when it was made. */
	H_CONTAINS(text,
	    "<head>\n<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"refresh\" content=\"5\">\n");
	H_CONTAINS(text,
	    "<p class=\"note\">As of 2023-11-17 01:17:25 UTC; "
	    "this page reloads itself every 5 s.</p>");
	assert_null(strstr(text, "<script"));
	assert_null(strstr(text, "src="));
	assert_null(strstr(text, "href="));
	assert_null(strstr(text, "url("));
	assert_null(strstr(text, "@import"));
	free(text);
}

/*
 * A route's settings above its table, its bytes in binary units, and
 * each upstream's state: why and since when it is down, the operator's
 * state, the weight in force (and the line's where they differ).
 */
static void
test_html_route(void **state)
{
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text, want[512];

	(void)state;
	snapshot_make(&s, r);
	text = format(metrics_html, &s);
	H_CONTAINS(text,
	    "<table class=\"route\">\n<tr><th>Listen</th>"
	    "<td>0.0.0.0:8080, [::]:8080</td></tr>\n<tr><th>Balance</th>"
	    "<td>leastconn</td></tr>\n<tr><th>Health checks</th><td>tcp "
	    "every 2s, rise 2, fall 3</td></tr>\n<tr><th>Sessions</th><td>3 "
	    "active, 8 ended: done 5, client_reset 1, upstream_refused 2"
	    "</td></tr>\n<tr><th>Bytes</th><td>1.2 KiB up, 16.0 EiB down, by "
	    "the sessions that ended</td></tr>\n</table>\n");
	/* The ends that never happened are left out: /metrics has them. */
	assert_null(strstr(text, "idle_timeout"));
	H_CONTAINS(text,
	    "<tr><th>Listen</th><td>[::1]:443</td></tr>\n"
	    "<tr><th>Balance</th><td>roundrobin</td></tr>\n<tr><th>Health "
	    "checks</th><td>off; down after 1 failed connect in a row (fall), "
	    "tried again every 5s</td></tr>\n");
	H_CONTAINS(text,
	    "<tr><td>127.0.0.1:8000</td><td>127.0.0.1:8000</td>"
	    "<td>up</td><td></td><td></td><td>ready</td><td>1</td><td>3</td>"
	    "<td>40</td><td>2</td><td>0</td></tr>\n");
	snprintf(want, sizeof(want),
	    "<tr class=\"down\"><td>[::1]:8001</td>"
	    "<td>backend.internal:8001</td><td>down, backup</td><td>check: "
	    "%s</td><td>2023-11-14 22:15:00 UTC, for 2d 03h</td><td>drain</td>"
	    "<td>5</td><td>0</td><td>7</td><td>9</td><td>4</td></tr>\n",
	    strerror(ECONNREFUSED));
	H_CONTAINS(text, want);
	snprintf(want, sizeof(want),
	    "&#39;x\xef\xbf\xbd\xc3\xa9</td><td>down, "
	    "gone from DNS</td><td>connect: %s</td><td>2023-11-14 22:16:40 "
	    "UTC, for 2d 03h</td><td>maint</td><td>0 (line: 2)</td>",
	    strerror(ETIMEDOUT));
	H_CONTAINS(text, want);
	free(text);

	/* Down since today: the time without the date. */
	s.now = 1700000100 + 65;
	text = format(metrics_html, &s);
	H_CONTAINS(text,
	    "</td><td>22:15:00 UTC, for 1m 05s</td><td>drain</td>");
	H_CONTAINS(text, "</td><td>22:16:40 UTC, for 0s</td><td>maint</td>");
	free(text);

	/* Taken out by the operator but up: grey, not red. */
	web_ups[1].up = true;
	text = format(metrics_html, &s);
	H_CONTAINS(text,
	    "<tr class=\"off\"><td>[::1]:8001</td>"
	    "<td>backend.internal:8001</td><td>up, backup</td><td></td>"
	    "<td></td><td>drain</td>");
	web_ups[1].up = false;
	free(text);
}

/*
 * The busiest sessions: bytes in binary units, age and round trips for
 * people, a hostile route name escaped, "-" for what is not known; and
 * what the table says before the workers were first asked, and when
 * they have no sessions.
 */
static void
test_html_sessions(void **state)
{
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text, why[64];

	(void)state;
	snapshot_make(&s, r);
	text = format(metrics_html, &s);
	H_CONTAINS(text,
	    "<h2>Busiest sessions</h2>\n<p class=\"note\">The 10 "
	    "live sessions with the most bytes both ways, as of 1.2 s ago."
	    "</p>\n<table class=\"ses\">\n<tr><th>Id</th><th>Route</th>"
	    "<th>Client</th><th>Upstream</th><th>Age</th><th>Up</th>"
	    "<th>Down</th><th>Client RTT</th><th>Upstream RTT</th></tr>\n"
	    "<tr><td>42</td><td>web</td><td>192.0.2.1:50000</td>"
	    "<td>127.0.0.1:8000</td><td>1h 02m</td><td>1.5 GiB</td>"
	    "<td>1.5 KiB</td><td>42 \xc2\xb5s</td><td>1.3 ms</td></tr>\n"
	    "<tr><td>7</td><td>r&quot;2\\\n&lt;&amp;&gt;</td>"
	    "<td>[2001:db8::7]:40000</td><td>-</td><td>0s</td><td>5 B</td>"
	    "<td>0 B</td><td>-</td><td>-</td></tr>\n</table>\n</body>");
	free(text);

	s.nsessions = 0;
	text = format(metrics_html, &s);
	if (!html_ok(text, why, sizeof(why)))
		fail_msg("%s in\n%s", why, text);
	H_CONTAINS(text, "as of 1.2 s ago.</p>\n<p>No live sessions.</p>\n");
	assert_null(strstr(text, "<table class=\"ses\">"));
	free(text);

	s.sessions_known = false;
	text = format(metrics_html, &s);
	if (!html_ok(text, why, sizeof(why)))
		fail_msg("%s in\n%s", why, text);
	H_CONTAINS(text,
	    "<h2>Busiest sessions</h2>\n<p class=\"note\">Asked "
	    "of the workers now: they show at the next refresh.</p>\n"
	    "</body>");
	free(text);
}

/* ---- upstream health ------------------------------------------------------ */

/*
 * Health says what is known: "unchecked" where no checks run and nothing
 * marked the upstream down, and "up" only where checks run.  The HELP of
 * relay46_upstream_up no longer claims checks pass; host names show.
 */
static void
test_health(void **state)
{
	static const struct {
		bool		 up, checked;
		const char	*want;
	} rows[] = {
		{ true, true, "up" },
		{ true, false, "unchecked" },
		{ false, true, "down" },
		{ false, false, "down" },
	};
	struct metrics_upstream	 u;
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	char			*text;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(rows); i++) {
		memset(&u, 0, sizeof(u));
		u.up = rows[i].up;
		u.checked = rows[i].checked;
		assert_string_equal(metrics_health(&u), rows[i].want);
	}
	snapshot_make(&s, r);
	text = format(metrics_prometheus, &s);
	assert_null(strstr(text, "health checks pass"));
	assert_non_null(strstr(text, "# HELP relay46_upstream_up 1 unless "
	    "marked down by failed connects or failed health checks"));
	free(text);
	text = format(metrics_html, &s);
	assert_non_null(strstr(text, "<td>[::1]:8001</td>"
	    "<td>backend.internal:8001</td><td>down, backup</td>"));
	assert_non_null(strstr(text, "<td>evil.example:443</td>"
	    "<td>unchecked</td>"));
	/* Checks failed: the last column of the [::1]:8001 row. */
	assert_non_null(strstr(text, "<td>7</td><td>9</td><td>4</td></tr>"));
	free(text);
}

/* ---- out of memory ---------------------------------------------------- */

/* A buffer frozen at its end refuses every add, as when memory runs out. */
static void
test_add_fails(void **state)
{
	int (*const fns[])(const struct metrics_snapshot *,
	    struct evbuffer *) = { metrics_prometheus, metrics_json,
	    metrics_html };
	struct metrics_snapshot	 s;
	struct metrics_route	 r[2];
	struct evbuffer		*b;
	size_t			 i;

	(void)state;
	snapshot_make(&s, r);
	for (i = 0; i < NELEM(fns); i++) {
		assert_non_null(b = evbuffer_new());
		assert_int_equal(evbuffer_freeze(b, 0), 0);
		assert_int_equal(fns[i](&s, b), -1);
		assert_int_equal(evbuffer_get_length(b), 0);
		evbuffer_free(b);
	}
}

static void
test_bounds(void **state)
{
	size_t	 i;

	(void)state;
	assert_true(metrics_connect_bounds[0] == 0.0005);
	assert_true(metrics_connect_bounds[METRICS_CONNECT_BUCKETS - 1] == 5);
	for (i = 1; i < METRICS_CONNECT_BUCKETS; i++)
		assert_true(metrics_connect_bounds[i] >
		    metrics_connect_bounds[i - 1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_prom_validator_rejects),
		cmocka_unit_test(test_prom_valid),
		cmocka_unit_test(test_prom_lines),
		cmocka_unit_test(test_prom_round_trip),
		cmocka_unit_test(test_prom_kernel),
		cmocka_unit_test(test_json_validator_rejects),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_html_route),
		cmocka_unit_test(test_html_sessions),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_add_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
