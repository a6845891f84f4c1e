/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for ctlcmd.c: every command of the control socket and every
 * way of writing it (blanks, CR, the optional words of show sessions),
 * every refusal and its reason, lines and words at and past their
 * limits, and lines that are not NUL-terminated.  Tables of input ->
 * expected fields or error text (STYLE.md 2.6).
 *
 * Each row is parsed twice: from a heap copy of exactly its bytes, so
 * that ASan catches a read of line[len], and from a copy with garbage
 * after them, which must change nothing.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acl.h"
#include "addr.h"
#include "ctlcmd.h"
#include "util.h"

/* A literal and its length, embedded NULs included. */
#define L(s)	s, sizeof(s) - 1

/* What follows a row's bytes in the second parse: none of it counts. */
static const char garbage[] = " extra\0\xff\r\nkill session 1";

static size_t	 nrows;		/* rows run, for the summary */

/*
 * Parse ${len} bytes of ${in} from a heap copy of just that size (or,
 * with ${tail}, followed by the garbage), into ${c} filled with 0xa5
 * beforehand.  err is filled with 'X' so that a missing NUL shows.
 */
static int
parse(const char *in, size_t len, bool tail, struct ctlcmd *c, char *err,
    size_t errlen)
{
	char	*buf;
	size_t	 extra = tail ? sizeof(garbage) : 0;
	int	 rc;

	if ((buf = malloc(len + extra + 1)) == NULL)
		fail_msg("out of memory");
	memcpy(buf, in, len);
	memcpy(buf + len, garbage, extra);
	memset(c, 0xa5, sizeof(*c));
	memset(err, 'X', errlen);
	rc = ctlcmd_parse(buf, len, c, err, errlen);
	free(buf);
	return rc;
}

/* "10.0.0.0/8" for the client network of ${c}, as acl_format() says. */
static const char *
client_str(const struct ctlcmd *c, char *buf, size_t len)
{
	struct acl_rule	 r;

	ctlcmd_client_rule(c, &r);
	if (r.family != AF_INET && r.family != AF_INET6)
		fail_msg("client of family %d", r.family);
	return acl_format(&r, buf, len);
}

/* ${s} is a NUL-terminated, non-empty line of printable ASCII. */
static void
check_reason(const char *what, const char *s, size_t len)
{
	size_t	 i;

	if (memchr(s, '\0', len) == NULL)
		fail_msg("'%s': reason not terminated", what);
	if (s[0] == '\0')
		fail_msg("'%s': empty reason", what);
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			fail_msg("'%s': byte 0x%02x in the reason", what,
			    (unsigned char)s[i]);
}

/* ---- good lines -------------------------------------------------------- */

struct good_row {
	const char	*in;
	size_t		 len;
	enum ctlcmd_kind kind;
	const char	*route;		/* NULL: "" */
	const char	*upstream;	/* NULL: "" */
	const char	*client;	/* acl_format() form; NULL: none */
	enum ctl_admin	 state;
	unsigned	 weight;
	uint64_t	 id;
};

#define SESS	.kind = CTLCMD_SHOW_SESSIONS

static const struct good_row good_rows[] = {
	/* Every command, plainly written. */
	{ L("help"), .kind = CTLCMD_HELP },
	{ L("show info"), .kind = CTLCMD_SHOW_INFO },
	{ L("show routes"), .kind = CTLCMD_SHOW_ROUTES },
	{ L("show upstreams"), .kind = CTLCMD_SHOW_UPSTREAMS },
	{ L("show upstreams web"), .kind = CTLCMD_SHOW_UPSTREAMS,
	    .route = "web" },
	{ L("show upstreams a.b-c_D9"), .kind = CTLCMD_SHOW_UPSTREAMS,
	    .route = "a.b-c_D9" },
	{ L("show listeners"), .kind = CTLCMD_SHOW_LISTENERS },
	{ L("reload"), .kind = CTLCMD_RELOAD },
	/* show sessions: an odd word out is the route, pairs in any order. */
	{ L("show sessions"), SESS },
	{ L("show sessions web"), SESS, .route = "web" },
	{ L("show sessions client 10.0.0.0/8"), SESS, .client = "10.0.0.0/8" },
	{ L("show sessions upstream 127.0.0.1:80"), SESS,
	    .upstream = "127.0.0.1:80" },
	{ L("show sessions web client 192.0.2.7"), SESS, .route = "web",
	    .client = "192.0.2.7/32" },
	{ L("show sessions web upstream [::1]:80"), SESS, .route = "web",
	    .upstream = "[::1]:80" },
	{ L("show sessions client ::1 upstream db.example:5432"), SESS,
	    .client = "::1/128", .upstream = "db.example:5432" },
	{ L("show sessions upstream 127.0.0.1:80 client 2001:db8::/32"), SESS,
	    .upstream = "127.0.0.1:80", .client = "2001:db8::/32" },
	{ L("show sessions web client 10.0.0.0/8 upstream 127.0.0.1:80"), SESS,
	    .route = "web", .client = "10.0.0.0/8",
	    .upstream = "127.0.0.1:80" },
	{ L("show sessions web upstream 127.0.0.1:80 client 10.0.0.0/8"), SESS,
	    .route = "web", .client = "10.0.0.0/8",
	    .upstream = "127.0.0.1:80" },
	/* One word is a route even when it reads like a filter's name. */
	{ L("show sessions client"), SESS, .route = "client" },
	{ L("show sessions upstream"), SESS, .route = "upstream" },
	{ L("show sessions client client 10.0.0.0/8"), SESS, .route = "client",
	    .client = "10.0.0.0/8" },
	{ L("show sessions upstream upstream x"), SESS, .route = "upstream",
	    .upstream = "x" },
	{ L("show sessions upstream client ::1 upstream upstream"), SESS,
	    .route = "upstream", .client = "::1/128", .upstream = "upstream" },
	/* CIDRs as allow = reads them. */
	{ L("show sessions client 0.0.0.0/0"), SESS, .client = "0.0.0.0/0" },
	{ L("show sessions client ::/0"), SESS, .client = "::/0" },
	{ L("show sessions client ::ffff:10.0.0.0/104"), SESS,
	    .client = "10.0.0.0/8" },
	{ L("show sessions client 2001:DB8::1"), SESS,
	    .client = "2001:db8::1/128" },
	/* set upstream. */
	{ L("set upstream web 127.0.0.1:80 state ready"),
	    .kind = CTLCMD_SET_STATE, .route = "web",
	    .upstream = "127.0.0.1:80", .state = CTL_ADMIN_READY },
	{ L("set upstream web 127.0.0.1:80 state drain"),
	    .kind = CTLCMD_SET_STATE, .route = "web",
	    .upstream = "127.0.0.1:80", .state = CTL_ADMIN_DRAIN },
	{ L("set upstream web db.example:5432 state maint"),
	    .kind = CTLCMD_SET_STATE, .route = "web",
	    .upstream = "db.example:5432", .state = CTL_ADMIN_MAINT },
	{ L("set upstream web [::1]:80 weight 0"), .kind = CTLCMD_SET_WEIGHT,
	    .route = "web", .upstream = "[::1]:80", .weight = 0 },
	{ L("set upstream web [::1]:80 weight 1"), .kind = CTLCMD_SET_WEIGHT,
	    .route = "web", .upstream = "[::1]:80", .weight = 1 },
	{ L("set upstream web [::1]:80 weight 256"), .kind = CTLCMD_SET_WEIGHT,
	    .route = "web", .upstream = "[::1]:80", .weight = 256 },
	/* The route and ADDR are words, whatever they look like. */
	{ L("set upstream state weight state ready"), .kind = CTLCMD_SET_STATE,
	    .route = "state", .upstream = "weight", .state = CTL_ADMIN_READY },
	/* kill. */
	{ L("kill session 0"), .kind = CTLCMD_KILL_SESSION, .id = 0 },
	{ L("kill session 1"), .kind = CTLCMD_KILL_SESSION, .id = 1 },
	{ L("kill session 18446744073709551615"), .kind = CTLCMD_KILL_SESSION,
	    .id = UINT64_MAX },
	{ L("kill session 18446744073709551610"), .kind = CTLCMD_KILL_SESSION,
	    .id = UINT64_MAX - 5 },
	{ L("kill sessions upstream web 127.0.0.1:80"),
	    .kind = CTLCMD_KILL_UPSTREAM, .route = "web",
	    .upstream = "127.0.0.1:80" },
	/* Blanks: any run of spaces and tabs, before, between, after. */
	{ L("  help  "), .kind = CTLCMD_HELP },
	{ L("\thelp\t"), .kind = CTLCMD_HELP },
	{ L("show \t  info"), .kind = CTLCMD_SHOW_INFO },
	{ L(" \t show\t\tsessions  web \t client\t10.0.0.0/8 "), SESS,
	    .route = "web", .client = "10.0.0.0/8" },
	{ L("kill\tsession\t42\t"), .kind = CTLCMD_KILL_SESSION, .id = 42 },
	/* One trailing CR is dropped. */
	{ L("help\r"), .kind = CTLCMD_HELP },
	{ L("reload\r"), .kind = CTLCMD_RELOAD },
	{ L("help \r"), .kind = CTLCMD_HELP },
	{ L("show upstreams web\r"), .kind = CTLCMD_SHOW_UPSTREAMS,
	    .route = "web" },
	{ L("kill session 7\r"), .kind = CTLCMD_KILL_SESSION, .id = 7 },
	{ L("set upstream w a weight 3\r"), .kind = CTLCMD_SET_WEIGHT,
	    .route = "w", .upstream = "a", .weight = 3 },
	/* Only the first len bytes count: a NUL after them is not seen. */
	{ "help\0garbage", 4, .kind = CTLCMD_HELP },
	{ "help me", 4, .kind = CTLCMD_HELP },
	{ "show info\x01", 9, .kind = CTLCMD_SHOW_INFO },
	{ "kill session 12345", 15, .kind = CTLCMD_KILL_SESSION, .id = 12 },
	{ "show upstreams web\r", 18, .kind = CTLCMD_SHOW_UPSTREAMS,
	    .route = "web" },
};

/* ${c} holds just what ${g} expects, and zero in what it does not take. */
static void
check_good(const struct good_row *g, const struct ctlcmd *c)
{
	char	 buf[128];

	if (c->kind != g->kind)
		fail_msg("'%s': kind %d, want %d", g->in, c->kind, g->kind);
	if (strcmp(c->route, g->route != NULL ? g->route : "") != 0)
		fail_msg("'%s': route '%s'", g->in, c->route);
	if (strcmp(c->upstream, g->upstream != NULL ? g->upstream : "") != 0)
		fail_msg("'%s': upstream '%s'", g->in, c->upstream);
	if (c->has_client != (g->client != NULL))
		fail_msg("'%s': has_client %d", g->in, c->has_client);
	if (g->client != NULL &&
	    strcmp(client_str(c, buf, sizeof(buf)), g->client) != 0)
		fail_msg("'%s': client %s, want %s", g->in, buf, g->client);
	if (g->client == NULL && (c->client.len != 0 || c->client_bits != 0))
		fail_msg("'%s': client not zero", g->in);
	if (g->client == NULL && c->client.ss.ss_family != 0)
		fail_msg("'%s': client family not zero", g->in);
	if (c->state != g->state || c->weight != g->weight || c->id != g->id)
		fail_msg("'%s': state %d weight %u id %llu", g->in, c->state,
		    c->weight, (unsigned long long)c->id);
}

static void
test_good(void **state)
{
	const struct good_row	*g;
	struct ctlcmd		 c;
	char			 err[256];
	size_t			 i;
	int			 rc, tail;

	(void)state;
	for (i = 0; i < NELEM(good_rows); i++, nrows++) {
		g = &good_rows[i];
		for (tail = 0; tail < 2; tail++) {
			rc = parse(g->in, g->len, tail, &c, err, sizeof(err));
			if (rc != 0)
				fail_msg("'%s' (tail %d): refused: %.200s",
				    g->in, tail, err);
			check_good(g, &c);
		}
	}
}

/* ---- refused lines ----------------------------------------------------- */

struct bad_row {
	const char	*in;
	size_t		 len;
	const char	*want_err;	/* a substring of the reason */
};

static const struct bad_row bad_rows[] = {
	/* Nothing there. */
	{ L(""), "empty command" },
	{ L("   "), "empty command" },
	{ L("\t \t"), "empty command" },
	{ L("\r"), "empty command" },
	{ L(" \t\r"), "empty command" },
	{ "help", 0, "empty command" },
	/* Unknown commands, case included. */
	{ L("foo"), "unknown command \"foo\"; try \"help\"" },
	{ L("foo bar"), "unknown command \"foo\"; try \"help\"" },
	{ L("HELP"), "unknown command \"HELP\"" },
	{ L("Show info"), "unknown command \"Show\"" },
	{ L("show Info"), "unknown command \"show Info\"; try \"help\"" },
	{ L("show foo"), "unknown command \"show foo\"; try \"help\"" },
	{ L("show session"), "unknown command \"show session\"" },
	{ L("set upstreams w a state ready"),
	    "unknown command \"set upstreams\"" },
	{ L("kill upstream w a"), "unknown command \"kill upstream\"" },
	{ L("reload!"), "unknown command \"reload!\"" },
	{ L("show"), "\"show\" needs another word; try \"help\"" },
	{ L("set"), "\"set\" needs another word" },
	{ L("kill"), "\"kill\" needs another word" },
	/* Extra words. */
	{ L("help me"), "extra word \"me\": usage: help" },
	{ L("show info now"), "extra word \"now\": usage: show info" },
	{ L("show routes x"), "extra word \"x\": usage: show routes" },
	{ L("show listeners x"), "extra word \"x\"" },
	{ L("reload now"), "extra word \"now\": usage: reload" },
	{ L("show upstreams a b"),
	    "extra word \"b\": usage: show upstreams [ROUTE]" },
	{ L("show sessions a client 1.2.3.4 upstream x y"),
	    "extra word \"y\": usage: show sessions [ROUTE] [client CIDR] "
	    "[upstream ADDR]" },
	{ L("show sessions client 1.2.3.4 upstream x a b"),
	    "extra word \"b\"" },
	{ L("set upstream w a state ready now"), "extra word \"now\"" },
	{ L("set upstream w a weight 1 2"), "extra word \"2\"" },
	{ L("kill session 1 2"), "extra word \"2\": usage: kill session ID" },
	{ L("kill sessions upstream w a b"), "extra word \"b\"" },
	/* Missing words. */
	{ L("set upstream"),
	    "missing ROUTE: usage: set upstream ROUTE ADDR "
	    "state|weight ready|drain|maint|N" },
	{ L("set upstream w"), "missing ADDR" },
	{ L("set upstream w a"), "missing state|weight" },
	{ L("set upstream w a state"), "missing ready|drain|maint|N" },
	{ L("set upstream w a weight\r"), "missing ready|drain|maint|N" },
	{ L("kill session"), "missing ID: usage: kill session ID" },
	{ L("kill session \r"), "missing ID" },
	{ L("kill sessions"),
	    "missing upstream: usage: kill sessions upstream ROUTE ADDR" },
	{ L("kill sessions upstream"), "missing ROUTE" },
	{ L("kill sessions upstream w"), "missing ADDR" },
	/* show sessions: filters in pairs, each at most once. */
	{ L("show sessions web client"),
	    "\"web\" is not \"client\" or \"upstream\" (ROUTE comes first" },
	{ L("show sessions web web web"), "\"web\" is not \"client\"" },
	{ L("show sessions client 10.0.0.0/8 web"), "\"10.0.0.0/8\" is not" },
	{ L("show sessions route web"), "\"route\" is not \"client\"" },
	{ L("show sessions Client 10.0.0.0/8"), "\"Client\" is not" },
	{ L("show sessions client 10.0.0.0/8 client 10.0.0.0/8"),
	    "\"client\" given twice" },
	{ L("show sessions upstream a upstream b"),
	    "\"upstream\" given twice" },
	{ L("show sessions w upstream a upstream b"), "given twice" },
	{ L("show sessions upstream upstream x upstream y"),
	    "\"upstream\" given twice" },
	{ L("show sessions client client 1.2.3.4 client y"),
	    "\"client\" given twice" },
	/* Bad CIDRs: acl_rule_parse()'s reasons, after "client". */
	{ L("show sessions client 10.0.0.1/8"),
	    "client '10.0.0.1/8': host bits set: did you mean 10.0.0.0/8?" },
	{ L("show sessions client 2001:db8::1/32"),
	    "host bits set: did you mean 2001:db8::/32?" },
	{ L("show sessions client 10.0.0.0/33"),
	    "prefix length out of range (0 to 32)" },
	{ L("show sessions client ::/129"), "prefix length out of range" },
	{ L("show sessions client 10.0.0.0/08"), "leading zero" },
	{ L("show sessions client 10.0.0.0/"), "missing prefix length" },
	{ L("show sessions client foo"), "client 'foo': not an IP address" },
	{ L("show sessions client [::1]"), "no brackets here" },
	{ L("show sessions client 1.2.3.4:80"), "no port here" },
	{ L("show sessions client fe80::1%lo"), "no scope here" },
	{ L("show sessions client 10/8"), "not an IP address" },
	/* set upstream: state and weight. */
	{ L("set upstream w a mode ready"),
	    "\"mode\" is not \"state\" or \"weight\"" },
	{ L("set upstream w a State ready"), "\"State\" is not" },
	{ L("set upstream w a state up"),
	    "state \"up\" is not ready, drain or maint" },
	{ L("set upstream w a state READY"), "state \"READY\" is not" },
	{ L("set upstream w a state 0"), "state \"0\" is not" },
	{ L("set upstream w a weight 257"),
	    "weight \"257\" is out of range (0 to 256)" },
	{ L("set upstream w a weight 1000"), "out of range (0 to 256)" },
	{ L("set upstream w a weight 99999999999999999999999"),
	    "out of range (0 to 256)" },
	{ L("set upstream w a weight -1"),
	    "weight \"-1\" is not a decimal number" },
	{ L("set upstream w a weight +1"), "weight \"+1\" is not a decimal" },
	{ L("set upstream w a weight 1.5"), "is not a decimal number" },
	{ L("set upstream w a weight 0x10"), "is not a decimal number" },
	{ L("set upstream w a weight 1e2"), "is not a decimal number" },
	{ L("set upstream w a weight ten"), "is not a decimal number" },
	{ L("set upstream w a weight 010"),
	    "weight \"010\" has a leading zero" },
	{ L("set upstream w a weight 00"), "has a leading zero" },
	/* kill session ID: a decimal uint64. */
	{ L("kill session -1"), "session ID \"-1\" is not a decimal number" },
	{ L("kill session +1"), "session ID \"+1\" is not a decimal number" },
	{ L("kill session 18446744073709551616"),
	    "session ID \"18446744073709551616\" is out of range (0 to "
	    "18446744073709551615)" },
	{ L("kill session 18446744073709551620"), "out of range" },
	{ L("kill session 99999999999999999999"), "out of range" },
	{ L("kill session 184467440737095516150"), "out of range" },
	{ L("kill session 00"), "has a leading zero" },
	{ L("kill session 01"), "has a leading zero" },
	{ L("kill session 0x1f"), "is not a decimal number" },
	{ L("kill session 1_000"), "is not a decimal number" },
	{ L("kill session abc"), "is not a decimal number" },
	/* kill sessions upstream. */
	{ L("kill sessions route w a"),
	    "\"route\" is not \"upstream\": "
	    "usage: kill sessions upstream ROUTE ADDR" },
	{ L("kill sessions client w a"), "\"client\" is not \"upstream\"" },
	/* Bytes that are not printable ASCII, NUL first. */
	{ L("help\0"), "NUL byte at column 5" },
	{ L("\0"), "NUL byte at column 1" },
	{ L("show\0info"), "NUL byte at column 5" },
	{ L("help\0\r"), "NUL byte at column 5" },
	{ L("help\x01"), "byte 0x01 at column 5 is not printable ASCII" },
	{ L("h\xc3\xa9lp"), "byte 0xc3 at column 2 is not printable ASCII" },
	{ L("show upstreams caf\xc3\xa9"), "byte 0xc3 at column 19" },
	{ L("help\x7f"), "byte 0x7f at column 5" },
	{ L("help\xff"), "byte 0xff at column 5" },
	{ L("\x1b[31mhelp"), "byte 0x1b at column 1" },
	{ L("help\n"), "byte 0x0a at column 5" },
	{ L("show\vinfo"), "byte 0x0b at column 5" },
	{ L("show\finfo"), "byte 0x0c at column 5" },
	{ L("show\x85info"), "byte 0x85 at column 5" },
	/* A CR anywhere but last is a byte like any other. */
	{ L("help\r\r"), "byte 0x0d at column 5" },
	{ L("help\r "), "byte 0x0d at column 5" },
	{ L("he\rlp"), "byte 0x0d at column 3" },
	{ L("\rhelp"), "byte 0x0d at column 1" },
	/* A word in a reason is cut, never the reason's own words. */
	{ L("unknownunknownunknownunknownunknownunknownunknown"),
	    "unknown command \"unknownunknownunknownunknownunknownunkno...\"; "
	    "try \"help\"" },
};

/* The reason is checked, and ${c} is left just as it was. */
static void
check_bad(const struct bad_row *b, bool tail)
{
	struct ctlcmd	 c, before;
	char		 err[512];

	if (parse(b->in, b->len, tail, &c, err, sizeof(err)) != -1)
		fail_msg("'%s' (tail %d): accepted", b->in, tail);
	check_reason(b->in, err, sizeof(err));
	if (strstr(err, b->want_err) == NULL)
		fail_msg("'%s' (tail %d): reason '%s' lacks '%s'", b->in, tail,
		    err, b->want_err);
	memset(&before, 0xa5, sizeof(before));
	if (memcmp(&c, &before, sizeof(c)) != 0)
		fail_msg("'%s': refused, but the struct changed", b->in);
}

static void
test_bad(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(bad_rows); i++, nrows++) {
		check_bad(&bad_rows[i], false);
		check_bad(&bad_rows[i], true);
	}
}

/* ---- limits: lines and words at and past their longest ---------------- */

struct long_row {
	const char	*head;
	char		 fill;
	size_t		 n;		/* how many ${fill} bytes */
	const char	*tail;
	const char	*want_err;	/* NULL: accepted */
	enum ctlcmd_kind kind;
};

static const struct long_row long_rows[] = {
	/* ROUTE: at most 64 bytes, as a [route NAME]. */
	{ "show upstreams ", 'r', 64, "", NULL, CTLCMD_SHOW_UPSTREAMS },
	{ "show upstreams ", 'r', 65, "",
	    "rrrrrrrrrr...\" is too long (at most 64 bytes)", 0 },
	{ "show sessions ", 'r', 64, " client ::1", NULL,
	    CTLCMD_SHOW_SESSIONS },
	{ "show sessions ", 'r', 65, "", "is too long (at most 64 bytes)", 0 },
	{ "set upstream ", 'r', 65, " a state ready", "route \"rrr", 0 },
	{ "kill sessions upstream ", 'r', 65, " a", "route \"rrr", 0 },
	{ "kill sessions upstream ", 'r', 1000, " a", "at most 64 bytes", 0 },
	/* ADDR and CIDR: at most CTL_WORD_MAX. */
	{ "set upstream w ", 'a', CTL_WORD_MAX, " weight 1", NULL,
	    CTLCMD_SET_WEIGHT },
	{ "set upstream w ", 'a', CTL_WORD_MAX + 1, " weight 1",
	    "aaaaaaaaaa...\" is too long (at most 300 bytes)", 0 },
	{ "show sessions upstream ", 'a', CTL_WORD_MAX, "", NULL,
	    CTLCMD_SHOW_SESSIONS },
	{ "show sessions upstream ", 'a', CTL_WORD_MAX + 1, "",
	    "at most 300 bytes", 0 },
	{ "kill sessions upstream w ", 'a', CTL_WORD_MAX + 1, "",
	    "at most 300 bytes", 0 },
	{ "show sessions client ", '1', CTL_WORD_MAX + 1, "",
	    "1111111111...\" is too long (at most 300 bytes)", 0 },
	{ "show sessions client ", '1', CTL_WORD_MAX, "", "not an IP address",
	    0 },
	/* Numbers of many digits: no wrap. */
	{ "kill session 1", '0', 19, "", NULL, CTLCMD_KILL_SESSION },
	{ "kill session 1", '0', 20, "", "out of range", 0 },
	{ "kill session 1", '0', 4000, "", "out of range", 0 },
	{ "set upstream w a weight 1", '0', 2, "", NULL, CTLCMD_SET_WEIGHT },
	{ "set upstream w a weight 1", '0', 3000, "", "out of range", 0 },
	/* The line: at most CTL_LINE_MAX - 1 bytes before LF, CR included. */
	{ "help", ' ', CTL_LINE_MAX - 1 - 4, "", NULL, CTLCMD_HELP },
	{ "help", ' ', CTL_LINE_MAX - 4, "",
	    "command too long (4096 bytes; at most 4095)", 0 },
	{ "help", ' ', CTL_LINE_MAX - 1 - 5, "\r", NULL, CTLCMD_HELP },
	{ "help", ' ', CTL_LINE_MAX - 4, "\r", "command too long (4097 bytes",
	    0 },
	{ "help", '\t', 100000, "", "command too long (100004 bytes", 0 },
	{ "show\t", '\t', CTL_LINE_MAX - 20, "info", NULL, CTLCMD_SHOW_INFO },
	{ "", ' ', CTL_LINE_MAX - 1, "", "empty command", 0 },
	/* A line too long is refused before its bytes are looked at. */
	{ "", '\0', CTL_LINE_MAX, "", "command too long", 0 },
	{ "", '\0', CTL_LINE_MAX - 1, "", "NUL byte at column 1", 0 },
	/* One long word. */
	{ "", 'x', CTL_LINE_MAX - 1, "", "xxxxxxxxxx...\"; try \"help\"", 0 },
	{ "show ", 'x', 4000, "", "unknown command \"show xxxxxxxxxxxxx", 0 },
};

/* head, fill * n, tail into a new buffer; its length into *${len}. */
static char *
build(const struct long_row *r, size_t *len)
{
	size_t	 h = strlen(r->head), t = strlen(r->tail);
	char	*buf;

	*len = h + r->n + t;
	if ((buf = malloc(*len + 1)) == NULL)
		fail_msg("out of memory");
	memcpy(buf, r->head, h);
	memset(buf + h, r->fill, r->n);
	memcpy(buf + h + r->n, r->tail, t);
	buf[*len] = '\0';
	return buf;
}

static void
test_long(void **state)
{
	const struct long_row	*r;
	struct ctlcmd		 c;
	char			 err[512], *line;
	size_t			 i, len;
	int			 rc, tail;

	(void)state;
	for (i = 0; i < NELEM(long_rows); i++, nrows++) {
		r = &long_rows[i];
		line = build(r, &len);
		for (tail = 0; tail < 2; tail++) {
			rc = parse(line, len, tail, &c, err, sizeof(err));
			if (r->want_err == NULL && rc != 0)
				fail_msg("row %zu: refused: %s", i, err);
			if (r->want_err == NULL && c.kind != r->kind)
				fail_msg("row %zu: kind %d", i, c.kind);
			if (r->want_err != NULL && rc != -1)
				fail_msg("row %zu: accepted", i);
			if (r->want_err != NULL)
				check_reason(r->head, err, sizeof(err));
			if (r->want_err != NULL &&
			    strstr(err, r->want_err) == NULL)
				fail_msg("row %zu: reason '%s' lacks '%s'", i,
				    err, r->want_err);
		}
		free(line);
	}
}

/* Words kept at their longest come through whole. */
static void
test_long_kept(void **state)
{
	struct ctlcmd	 c;
	char		 err[256], line[1024];
	size_t		 n;

	(void)state;
	memset(line, 'r', sizeof(line));
	memcpy(line, "set upstream ", 13);
	n = 13 + 64;
	line[n++] = ' ';
	memset(line + n, 'a', CTL_WORD_MAX);
	n += CTL_WORD_MAX;
	memcpy(line + n, " state maint", 12);
	n += 12;
	assert_int_equal(ctlcmd_parse(line, n, &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, CTLCMD_SET_STATE);
	assert_int_equal(strlen(c.route), 64);
	assert_int_equal(strspn(c.route, "r"), 64);
	assert_int_equal(strlen(c.upstream), CTL_WORD_MAX);
	assert_int_equal(strspn(c.upstream, "a"), CTL_WORD_MAX);
	assert_int_equal(c.state, CTL_ADMIN_MAINT);
	nrows++;
}

/* ---- error buffers and odd arguments ----------------------------------- */

static void
test_err_buffers(void **state)
{
	struct ctlcmd	 c;
	char		 err[8];

	(void)state;
	/* No room for a reason is allowed; the answer is still -1. */
	assert_int_equal(ctlcmd_parse("foo", 3, &c, NULL, 0), -1);
	assert_int_equal(ctlcmd_parse("foo", 3, &c, err, 0), -1);
	/* A small buffer gets a cut, terminated reason. */
	memset(err, 'X', sizeof(err));
	assert_int_equal(ctlcmd_parse("foo", 3, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown");
	/* No line at all is an empty one. */
	assert_int_equal(ctlcmd_parse(NULL, 0, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "empty c");
	assert_int_equal(ctlcmd_parse("help", 4, &c, NULL, 0), 0);
	assert_int_equal(c.kind, CTLCMD_HELP);
	nrows += 5;
}

/* ---- ctlcmd_changes, ctl_admin_name ------------------------------------ */

static const struct {
	enum ctlcmd_kind kind;
	bool		 changes;
} changes_rows[] = {
	{ CTLCMD_HELP, false },
	{ CTLCMD_SHOW_INFO, false },
	{ CTLCMD_SHOW_ROUTES, false },
	{ CTLCMD_SHOW_UPSTREAMS, false },
	{ CTLCMD_SHOW_LISTENERS, false },
	{ CTLCMD_SHOW_SESSIONS, false },
	{ CTLCMD_SET_STATE, true },
	{ CTLCMD_SET_WEIGHT, true },
	{ CTLCMD_KILL_SESSION, true },
	{ CTLCMD_KILL_UPSTREAM, true },
	{ CTLCMD_RELOAD, true },
};

static void
test_changes(void **state)
{
	struct ctlcmd	 c;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(changes_rows); i++, nrows++) {
		memset(&c, 0, sizeof(c));
		c.kind = changes_rows[i].kind;
		if (ctlcmd_changes(&c) != changes_rows[i].changes)
			fail_msg("kind %d: changes %d", c.kind,
			    !changes_rows[i].changes);
	}
	/* And on parsed commands, which is how relay46 asks. */
	assert_int_equal(ctlcmd_parse(L("reload"), &c, NULL, 0), 0);
	assert_true(ctlcmd_changes(&c));
	assert_int_equal(ctlcmd_parse(L("show sessions"), &c, NULL, 0), 0);
	assert_false(ctlcmd_changes(&c));
}

static const struct {
	int		 s;
	const char	*name;
} admin_rows[] = {
	{ CTL_ADMIN_READY, "ready" },
	{ CTL_ADMIN_DRAIN, "drain" },
	{ CTL_ADMIN_MAINT, "maint" },
	{ CTL_ADMIN_MAINT + 1, "?" },
	{ -1, "?" },
	{ 1000, "?" },
};

static void
test_admin_name(void **state)
{
	struct ctlcmd	 c;
	char		 line[128], err[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(admin_rows); i++, nrows++)
		assert_string_equal(
		    ctl_admin_name((enum ctl_admin)admin_rows[i].s),
		    admin_rows[i].name);
	/* Each name parses back to its state. */
	for (i = CTL_ADMIN_READY; i <= CTL_ADMIN_MAINT; i++) {
		snprintf(line, sizeof(line), "set upstream w a state %s",
		    ctl_admin_name((enum ctl_admin)i));
		assert_int_equal(
		    ctlcmd_parse(line, strlen(line), &c, err, sizeof(err)), 0);
		assert_int_equal(c.state, i);
	}
}

static void
test_summary(void **state)
{
	(void)state;
	print_message("ctlcmd: %zu table rows\n", nrows);
	assert_true(nrows >= 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_long_kept),
		cmocka_unit_test(test_err_buffers),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_admin_name),
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
