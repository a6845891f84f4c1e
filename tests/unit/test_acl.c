/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for acl.c: rule parsing (good rules and how they are shown,
 * bad rules and the reason given), prefix matching in both families and
 * for v4-mapped clients, allow/deny precedence and format round trips.
 * Tables of input -> expected value or error text (STYLE.md 2.6).
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
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
#include "util.h"

static void
must_rule(const char *s, struct acl_rule *r)
{
	char	 err[256];

	err[0] = '\0';
	if (acl_rule_parse(s, r, err, sizeof(err)) != 0)
		fail_msg("acl_rule_parse('%s'): unexpected error '%s'", s, err);
}

static void
must_addr(const char *s, struct addr *a)
{
	char	 err[256];

	err[0] = '\0';
	if (addr_parse(s, a, err, sizeof(err)) != 0)
		fail_msg("addr_parse('%s'): unexpected error '%s'", s, err);
}

static bool
rule_equal(const struct acl_rule *a, const struct acl_rule *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* ---- acl_rule_parse: good rules ---------------------------------------- */

struct good_row {
	const char	*in;
	int		 family;
	const char	*shown;		/* acl_format() of the result */
};

static const struct good_row good_rows[] = {
	{ "10.0.0.0/8", AF_INET, "10.0.0.0/8" },
	{ "192.0.2.7", AF_INET, "192.0.2.7/32" },
	{ "192.0.2.7/32", AF_INET, "192.0.2.7/32" },
	{ "0.0.0.0/0", AF_INET, "0.0.0.0/0" },
	{ "255.255.255.255", AF_INET, "255.255.255.255/32" },
	{ "10.0.0.0/7", AF_INET, "10.0.0.0/7" },
	{ "10.8.0.0/13", AF_INET, "10.8.0.0/13" },
	{ "128.0.0.0/1", AF_INET, "128.0.0.0/1" },
	{ "192.0.2.6/31", AF_INET, "192.0.2.6/31" },
	{ "::1", AF_INET6, "::1/128" },
	{ "::/0", AF_INET6, "::/0" },
	{ "::", AF_INET6, "::/128" },
	{ "2001:db8::/32", AF_INET6, "2001:db8::/32" },
	{ "2001:DB8:0:0:0:0:0:0/32", AF_INET6, "2001:db8::/32" },
	{ "2001:db8::8000:0:0:0/65", AF_INET6, "2001:db8:0:0:8000::/65" },
	{ "fe80::/10", AF_INET6, "fe80::/10" },
	{ "2001:db8::1/128", AF_INET6, "2001:db8::1/128" },
	/* v4-mapped with a prefix of at least 96 is an IPv4 rule. */
	{ "::ffff:10.0.0.0/104", AF_INET, "10.0.0.0/8" },
	{ "::ffff:0:0/96", AF_INET, "0.0.0.0/0" },
	{ "::ffff:192.0.2.7", AF_INET, "192.0.2.7/32" },
	{ "::ffff:c000:200/120", AF_INET, "192.0.2.0/24" },
	{ "::FFFF:10.8.0.0/109", AF_INET, "10.8.0.0/13" },
	/* Shorter than /96 it is IPv6 (and ::ffff: would be host bits). */
	{ "::/80", AF_INET6, "::/80" },
	/* An IPv4-compatible (not mapped) address is IPv6. */
	{ "::10.0.0.1", AF_INET6, "::10.0.0.1/128" },
};

static void
test_parse_good(void **state)
{
	const struct good_row	*g;
	struct acl_rule		 r, back;
	char			 buf[128];
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(good_rows); i++) {
		g = &good_rows[i];
		must_rule(g->in, &r);
		if (r.family != g->family)
			fail_msg("'%s': family %d, want %d", g->in, r.family,
			    g->family);
		assert_ptr_equal(acl_format(&r, buf, sizeof(buf)), buf);
		if (strcmp(buf, g->shown) != 0)
			fail_msg("'%s' is shown as '%s', want '%s'", g->in, buf,
			    g->shown);
		/* What is shown parses back to the same rule. */
		must_rule(buf, &back);
		if (!rule_equal(&r, &back))
			fail_msg("'%s' -> '%s' does not round-trip", g->in,
			    buf);
	}
}

/* ---- acl_rule_parse: bad rules ----------------------------------------- */

struct bad_row {
	const char	*in;
	const char	*want_err;	/* a substring of the reason */
};

static const struct bad_row bad_rows[] = {
	{ "", "empty" },
	{ "10.0.0.0/33", "'10.0.0.0/33': prefix length out of range (0 to 32)" },
	{ "::/129", "'::/129': prefix length out of range (0 to 128)" },
	{ "10.0.0.0/128", "prefix length out of range (0 to 32)" },
	{ "10.0.0.0/99999999999999999999", "prefix length out of range" },
	{ "10.0.0.1/8", "'10.0.0.1/8': host bits set: did you mean 10.0.0.0/8?" },
	{ "10.0.0.0/0", "host bits set: did you mean 0.0.0.0/0?" },
	{ "11.0.0.0/7", "host bits set: did you mean 10.0.0.0/7?" },
	{ "192.0.2.7/31", "host bits set: did you mean 192.0.2.6/31?" },
	{ "2001:db8::1/32", "host bits set: did you mean 2001:db8::/32?" },
	{ "2001:db8::4000:0:0:0/65",
	    "host bits set: did you mean 2001:db8::/65?" },
	{ "::ffff:10.0.0.1/104", "host bits set: did you mean 10.0.0.0/8?" },
	{ "::ffff:0:0/95", "host bits set: did you mean ::fffe:0:0/95?" },
	{ "10.0.0.0/08", "'10.0.0.0/08': bad prefix length '08' (leading zero)" },
	{ "10.0.0.0/00", "leading zero" },
	{ "10.0.0.0/", "'10.0.0.0/': missing prefix length after '/'" },
	{ "10.0.0.0/-1", "bad prefix length '-1'" },
	{ "10.0.0.0/+8", "bad prefix length '+8'" },
	{ "10.0.0.0/8a", "bad prefix length '8a'" },
	{ "10.0.0.0/0x8", "bad prefix length '0x8'" },
	{ "10.0.0.0/8/8", "bad prefix length '8/8'" },
	{ " 10.0.0.0/8", "not an IP address (whitespace)" },
	{ "10.0.0.0/8 ", "not an IP address (whitespace)" },
	{ "10.0.0.0/ 8", "not an IP address (whitespace)" },
	{ "10.0.0.0\t/8", "not an IP address (whitespace)" },
	{ "[::1]", "'[::1]': not an IP address (no brackets here)" },
	{ "[2001:db8::]/32", "not an IP address (no brackets here)" },
	{ "1.2.3.4:80", "'1.2.3.4:80': not an IP address (no port here)" },
	{ "fe80::1%lo", "'fe80::1%lo': not an IP address (no scope here)" },
	{ "fe80::%1/64", "not an IP address (no scope here)" },
	{ "localhost", "'localhost': not an IP address" },
	{ "10/8", "'10/8': not an IP address" },
	{ "10.0.0/24", "not an IP address" },
	{ "256.0.0.0/8", "not an IP address" },
	{ "1.2.3.4.5", "not an IP address" },
	{ "0x0a.0.0.0/8", "not an IP address" },
	{ "::1::2", "not an IP address" },
	{ "/8", "'/8': not an IP address" },
	{ "/", "not an IP address" },
	{ "*", "not an IP address" },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/64",
	    "not an IP address (too long)" },
};

static void
test_parse_bad(void **state)
{
	const struct bad_row	*b;
	struct acl_rule		 r, before;
	char			 err[256];
	size_t			 i;

	(void)state;
	assert_true(NELEM(bad_rows) >= 20);
	for (i = 0; i < NELEM(bad_rows); i++) {
		b = &bad_rows[i];
		memset(&r, 0xa5, sizeof(r));
		before = r;
		err[0] = '\0';
		if (acl_rule_parse(b->in, &r, err, sizeof(err)) != -1)
			fail_msg("acl_rule_parse('%s'): accepted", b->in);
		if (strstr(err, b->want_err) == NULL)
			fail_msg("acl_rule_parse('%s'): error '%s' lacks '%s'",
			    b->in, err, b->want_err);
		/* A refused rule leaves the caller's struct alone. */
		if (memcmp(&r, &before, sizeof(r)) != 0)
			fail_msg("acl_rule_parse('%s'): rule changed", b->in);
	}
}

/* NULL input and a NULL or tiny error buffer are all survivable. */
static void
test_parse_err_buffers(void **state)
{
	struct acl_rule	 r;
	char		 err[8];

	(void)state;
	assert_int_equal(acl_rule_parse(NULL, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "empty a");
	assert_int_equal(acl_rule_parse("nope", &r, NULL, 0), -1);
	memset(err, 'X', sizeof(err));
	assert_int_equal(acl_rule_parse("10.0.0.1/8", &r, err, sizeof(err)),
	    -1);
	assert_int_equal(err[sizeof(err) - 1], '\0');
}

/* ---- acl_match --------------------------------------------------------- */

struct match_row {
	const char	*rule;
	const char	*client;	/* addr_parse() form */
	bool		 want;
};

static const struct match_row match_rows[] = {
	/* IPv4, and the port never matters. */
	{ "10.0.0.0/8", "10.1.2.3:1", true },
	{ "10.0.0.0/8", "10.255.255.255:65535", true },
	{ "10.0.0.0/8", "11.0.0.0:80", false },
	{ "10.0.0.0/8", "9.255.255.255:80", false },
	{ "192.0.2.7", "192.0.2.7:80", true },
	{ "192.0.2.7/32", "192.0.2.6:80", false },
	{ "192.0.2.7/32", "192.0.2.8:80", false },
	{ "0.0.0.0/0", "1.2.3.4:80", true },
	{ "0.0.0.0/0", "255.255.255.255:80", true },
	{ "0.0.0.0/0", "[::1]:80", false },
	{ "0.0.0.0/0", "[::]:80", false },
	/* Odd prefixes: the boundary inside a byte. */
	{ "10.0.0.0/7", "10.0.0.0:80", true },
	{ "10.0.0.0/7", "11.255.255.255:80", true },
	{ "10.0.0.0/7", "9.255.255.255:80", false },
	{ "10.0.0.0/7", "12.0.0.0:80", false },
	{ "10.8.0.0/13", "10.8.0.0:80", true },
	{ "10.8.0.0/13", "10.15.255.255:80", true },
	{ "10.8.0.0/13", "10.7.255.255:80", false },
	{ "10.8.0.0/13", "10.16.0.0:80", false },
	{ "128.0.0.0/1", "128.0.0.1:80", true },
	{ "128.0.0.0/1", "127.255.255.255:80", false },
	{ "192.0.2.6/31", "192.0.2.7:80", true },
	{ "192.0.2.6/31", "192.0.2.5:80", false },
	{ "192.0.2.6/31", "192.0.2.8:80", false },
	/* IPv6. */
	{ "::/0", "[::1]:80", true },
	{ "::/0", "[2001:db8::1]:80", true },
	{ "::1", "[::1]:80", true },
	{ "::1/128", "[::2]:80", false },
	{ "::1/128", "[::]:80", false },
	{ "2001:db8::1/128", "[2001:db8::1]:80", true },
	{ "2001:db8::1/128", "[2001:db8::1:1]:80", false },
	{ "2001:db8::/32", "[2001:db8:ffff::1]:80", true },
	{ "2001:db8::/32", "[2001:db9::]:80", false },
	{ "2001:db8::/32", "[2001:db7:ffff::]:80", false },
	{ "fe80::/10", "[febf::1]:80", true },
	{ "fe80::/10", "[fec0::1]:80", false },
	{ "2001:db8::/65", "[2001:db8::7fff:ffff:ffff:ffff]:80", true },
	{ "2001:db8::/65", "[2001:db8::8000:0:0:0]:80", false },
	{ "2001:db8::8000:0:0:0/65", "[2001:db8::8000:0:0:1]:80", true },
	{ "2001:db8::8000:0:0:0/65", "[2001:db8::ffff:ffff:ffff:ffff]:80", true },
	{ "2001:db8::8000:0:0:0/65", "[2001:db8::7fff:ffff:ffff:ffff]:80", false },
	{ "2001:db8::8000:0:0:0/65", "[2001:db8:0:1::]:80", false },
	/* A v4-mapped client is IPv4: IPv4 rules match it, IPv6 ones not. */
	{ "10.0.0.0/8", "[::ffff:10.1.2.3]:80", true },
	{ "10.0.0.0/8", "[::ffff:11.1.2.3]:80", false },
	{ "192.0.2.7", "[::ffff:c000:207]:80", true },
	{ "0.0.0.0/0", "[::ffff:1.2.3.4]:80", true },
	{ "::/0", "[::ffff:1.2.3.4]:80", false },
	{ "::/0", "1.2.3.4:80", false },
	{ "::/80", "[::ffff:1.2.3.4]:80", false },
	/* A v4-mapped rule is IPv4 too. */
	{ "::ffff:10.0.0.0/104", "10.9.9.9:80", true },
	{ "::ffff:10.0.0.0/104", "[::ffff:10.9.9.9]:80", true },
	{ "::ffff:10.0.0.0/104", "11.9.9.9:80", false },
	{ "::ffff:0:0/96", "1.2.3.4:80", true },
	{ "::ffff:0:0/96", "[::1]:80", false },
	/* IPv4 never matches a non-mapped IPv6 address that looks alike. */
	{ "10.0.0.0/8", "[::10.1.2.3]:80", false },
	{ "10.0.0.0/8", "[2001:db8::a01:203]:80", false },
	{ "10.0.0.0/8", "[::ffff:0:a01:203]:80", false },
};

static void
test_match(void **state)
{
	const struct match_row	*m;
	struct acl_rule		 r;
	struct addr		 a;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(match_rows); i++) {
		m = &match_rows[i];
		must_rule(m->rule, &r);
		must_addr(m->client, &a);
		if (acl_match(&r, &a) != m->want)
			fail_msg("rule '%s', client '%s': %s, want %s",
			    m->rule, m->client, m->want ? "no match" : "match",
			    m->want ? "match" : "no match");
	}
}

/* The IPv6 scope (and the port) of the client play no part. */
static void
test_match_scope(void **state)
{
	struct acl_rule		 r;
	struct addr		 a;
	struct sockaddr_in6	 s6;

	(void)state;
	must_addr("[fe80::1]:80", &a);
	memcpy(&s6, &a.ss, sizeof(s6));
	s6.sin6_scope_id = 7;
	s6.sin6_port = htons(4242);
	memcpy(&a.ss, &s6, sizeof(s6));
	must_rule("fe80::/64", &r);
	assert_true(acl_match(&r, &a));
	must_rule("fe80::1", &r);
	assert_true(acl_match(&r, &a));
	must_rule("fe80::2", &r);
	assert_false(acl_match(&r, &a));
}

/* /0 and full-length rules at every address of a sweep. */
static void
test_match_extremes(void **state)
{
	struct acl_rule	 all4, all6, one;
	struct addr	 a;
	char		 s[64], rule[64];
	unsigned	 i;

	(void)state;
	must_rule("0.0.0.0/0", &all4);
	must_rule("::/0", &all6);
	for (i = 0; i < 256; i++) {
		snprintf(s, sizeof(s), "%u.%u.%u.%u:80", i, (i * 7) & 255,
		    (i * 13) & 255, 255 - i);
		must_addr(s, &a);
		assert_true(acl_match(&all4, &a));
		assert_false(acl_match(&all6, &a));
		snprintf(rule, sizeof(rule), "%u.%u.%u.%u/32", i, (i * 7) & 255,
		    (i * 13) & 255, 255 - i);
		must_rule(rule, &one);
		assert_true(acl_match(&one, &a));
		snprintf(s, sizeof(s), "[2001:db8::%x:%x]:80", i, i * 31);
		must_addr(s, &a);
		assert_true(acl_match(&all6, &a));
		assert_false(acl_match(&all4, &a));
		snprintf(rule, sizeof(rule), "2001:db8::%x:%x/128", i, i * 31);
		must_rule(rule, &one);
		assert_true(acl_match(&one, &a));
		snprintf(rule, sizeof(rule), "2001:db8::%x:%x/128", i,
		    i * 31 + 1);
		must_rule(rule, &one);
		assert_false(acl_match(&one, &a));
	}
}

/* ---- acl_allows -------------------------------------------------------- */

struct allows_row {
	const char	*allow;		/* space-separated rules, or "" */
	const char	*deny;
	const char	*client;
	bool		 want;
};

static const struct allows_row allows_rows[] = {
	/* Empty lists let everyone in, of both families. */
	{ "", "", "1.2.3.4:80", true },
	{ "", "", "[::1]:80", true },
	{ "", "", "[::ffff:1.2.3.4]:80", true },
	/* A non-empty allow list must be matched. */
	{ "10.0.0.0/8", "", "10.1.1.1:80", true },
	{ "10.0.0.0/8", "", "11.1.1.1:80", false },
	{ "10.0.0.0/8", "", "[::1]:80", false },
	{ "10.0.0.0/8 2001:db8::/32", "", "[2001:db8::5]:80", true },
	{ "10.0.0.0/8 2001:db8::/32", "", "10.0.0.5:80", true },
	{ "10.0.0.0/8 2001:db8::/32", "", "192.168.1.1:80", false },
	{ "::/0", "", "1.2.3.4:80", false },
	{ "::/0", "", "[::ffff:1.2.3.4]:80", false },
	/* Deny alone keeps out only what it names. */
	{ "", "10.6.6.6", "1.2.3.4:80", true },
	{ "", "10.6.6.6", "10.6.6.6:80", false },
	{ "", "10.6.6.6", "[::ffff:10.6.6.6]:80", false },
	{ "", "10.6.6.6", "[::10.6.6.6]:80", true },
	/* Deny wins over allow, whichever is wider. */
	{ "10.0.0.0/8", "10.6.6.6", "10.6.6.6:80", false },
	{ "10.0.0.0/8", "10.6.6.6", "10.6.6.7:80", true },
	{ "10.6.6.6", "10.0.0.0/8", "10.6.6.6:80", false },
	{ "10.0.0.0/8", "10.0.0.0/8", "10.0.0.1:80", false },
	{ "0.0.0.0/0 ::/0", "::/0", "[::1]:80", false },
	{ "0.0.0.0/0 ::/0", "::/0", "1.2.3.4:80", true },
	{ "0.0.0.0/0 ::/0", "::/0", "[::ffff:1.2.3.4]:80", true },
	{ "0.0.0.0/0", "::ffff:0:0/96", "1.2.3.4:80", false },
};

/* Add each space-separated rule of ${list} to ${acl}. */
static void
add_rules(struct acl *acl, bool deny, const char *list)
{
	char	 buf[256], err[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		if (acl_add(acl, deny, tok, err, sizeof(err)) != 0)
			fail_msg("acl_add('%s'): %s", tok, err);
}

static void
test_allows(void **state)
{
	const struct allows_row	*w;
	struct acl		 acl;
	struct addr		 a;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(allows_rows); i++) {
		w = &allows_rows[i];
		memset(&acl, 0, sizeof(acl));
		add_rules(&acl, false, w->allow);
		add_rules(&acl, true, w->deny);
		must_addr(w->client, &a);
		if (acl_allows(&acl, &a) != w->want)
			fail_msg("allow '%s' deny '%s', client '%s': %s",
			    w->allow, w->deny, w->client,
			    w->want ? "refused" : "let in");
		acl_free(&acl);
	}
	/* No ACL at all allows everyone. */
	must_addr("[2001:db8::1]:80", &a);
	assert_true(acl_allows(NULL, &a));
}

/* acl_add keeps lists in order, refuses bad rules without damage. */
static void
test_add_free(void **state)
{
	struct acl	 acl;
	char		 err[256], buf[64];
	size_t		 i;

	(void)state;
	memset(&acl, 0, sizeof(acl));
	for (i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "10.0.%zu.0/24", i);
		assert_int_equal(acl_add(&acl, i % 2 == 1, buf, err,
		    sizeof(err)), 0);
	}
	assert_int_equal(acl.nallow, 50);
	assert_int_equal(acl.ndeny, 50);
	assert_string_equal(acl_format(&acl.allow[49], buf, sizeof(buf)),
	    "10.0.98.0/24");
	assert_string_equal(acl_format(&acl.deny[0], buf, sizeof(buf)),
	    "10.0.1.0/24");
	assert_int_equal(acl_add(&acl, false, "10.0.0.1/8", err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "did you mean 10.0.0.0/8?"));
	assert_int_equal(acl.nallow, 50);
	acl_free(&acl);
	assert_null(acl.allow);
	assert_int_equal(acl.nallow + acl.ndeny, 0);
	acl_free(&acl);		/* twice is fine */
	acl_free(NULL);
}

/* ---- acl_format round trip at every prefix length ---------------------- */

/*
 * ${base}/${p} as a rule: as written if its host bits are clear, else the
 * rule the "did you mean" hint offers, which must then parse.
 */
static void
masked_rule(const char *base, unsigned p, struct acl_rule *r)
{
	char		 in[128], err[256];
	const char	*dym;
	size_t		 n;

	snprintf(in, sizeof(in), "%s/%u", base, p);
	if (acl_rule_parse(in, r, err, sizeof(err)) == 0)
		return;
	if ((dym = strstr(err, "did you mean ")) == NULL)
		fail_msg("'%s': %s", in, err);
	snprintf(in, sizeof(in), "%s", dym + strlen("did you mean "));
	n = strlen(in);
	assert_true(n > 0 && in[n - 1] == '?');
	in[n - 1] = '\0';
	must_rule(in, r);
}

static void
test_format_round_trip(void **state)
{
	static const char *const bases[] = {
		"255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"172.31.200.9", "2001:db8:85a3:8d3:1319:8a2e:370:7348",
	};
	struct acl_rule	 full, r, back;
	struct addr	 a;
	char		 buf[128];
	unsigned	 p, i;

	(void)state;
	for (i = 0; i < NELEM(bases); i++) {
		must_rule(bases[i], &full);
		snprintf(buf, sizeof(buf), full.family == AF_INET ? "%s:1" :
		    "[%s]:1", bases[i]);
		must_addr(buf, &a);
		for (p = 0; p <= full.prefix; p++) {
			masked_rule(bases[i], p, &r);
			assert_int_equal(r.family, full.family);
			assert_int_equal(r.prefix, p);
			must_rule(acl_format(&r, buf, sizeof(buf)), &back);
			if (!rule_equal(&r, &back))
				fail_msg("'%s' does not round-trip", buf);
			/* Masking kept the base address inside the rule. */
			assert_true(acl_match(&r, &a));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_err_buffers),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_scope),
		cmocka_unit_test(test_match_extremes),
		cmocka_unit_test(test_allows),
		cmocka_unit_test(test_add_free),
		cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
