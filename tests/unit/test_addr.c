/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for addr.c: parsing, splitting, listen wildcards,
 * formatting, v4-mapped addresses, equality and listen clashes.  Tables
 * of input -> expected value or error text (STYLE.md 2.6).
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "util.h"

/* Parse ${s}, which the test expects to be good. */
static void
must_parse(const char *s, struct addr *a)
{
	char	 err[256];

	err[0] = '\0';
	if (addr_parse(s, a, err, sizeof(err)) != 0)
		fail_msg("addr_parse('%s'): unexpected error '%s'", s, err);
}

/* Rows that name interface "lo" are skipped where it does not exist. */
static bool
needs_missing_lo(const char *s)
{
	return strstr(s, "%lo]") != NULL && if_nametoindex("lo") == 0;
}

/* ---- addr_parse and addr_format: good inputs --------------------------- */

struct good_row {
	const char	*in;
	int		 family;
	unsigned	 port;
	const char	*shown;		/* addr_format() of the result */
};

static const struct good_row good_rows[] = {
	{ "1.2.3.4:80", AF_INET, 80, "1.2.3.4:80" },
	{ "127.0.0.1:8080", AF_INET, 8080, "127.0.0.1:8080" },
	{ "0.0.0.0:1", AF_INET, 1, "0.0.0.0:1" },
	{ "255.255.255.255:65535", AF_INET, 65535, "255.255.255.255:65535" },
	{ "1.2.3.4:0080", AF_INET, 80, "1.2.3.4:80" },
	{ "[::1]:80", AF_INET6, 80, "[::1]:80" },
	{ "[::]:443", AF_INET6, 443, "[::]:443" },
	{ "[2001:db8::1]:80", AF_INET6, 80, "[2001:db8::1]:80" },
	{ "[2001:DB8:0:0:0:0:0:1]:80", AF_INET6, 80, "[2001:db8::1]:80" },
	{ "[fe80::1%lo]:80", AF_INET6, 80, "[fe80::1%lo]:80" },
	/* v4-mapped stays IPv6 inside but is shown as IPv4. */
	{ "[::ffff:1.2.3.4]:8080", AF_INET6, 8080, "1.2.3.4:8080" },
	{ "[::ffff:7f00:1]:1", AF_INET6, 1, "127.0.0.1:1" },
};

static void
test_parse_good(void **state)
{
	const struct good_row	*r;
	struct addr		 a, b;
	char			 buf[ADDR_STRLEN];
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(good_rows); i++) {
		r = &good_rows[i];
		if (needs_missing_lo(r->in))
			continue;
		must_parse(r->in, &a);
		if (a.ss.ss_family != r->family)
			fail_msg("'%s': family %d, want %d", r->in,
			    (int)a.ss.ss_family, r->family);
		if (a.len != (r->family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
			fail_msg("'%s': length %u", r->in, (unsigned)a.len);
		if (addr_port(&a) != r->port)
			fail_msg("'%s': port %u, want %u", r->in,
			    addr_port(&a), r->port);
		assert_ptr_equal(addr_format(&a, buf, sizeof(buf)), buf);
		if (strcmp(buf, r->shown) != 0)
			fail_msg("'%s' is shown as '%s', want '%s'", r->in, buf,
			    r->shown);
		/* The shown form parses back to the same address. */
		must_parse(buf, &b);
		addr_unmap(&a);
		if (!addr_equal(&a, &b))
			fail_msg("'%s' -> '%s' does not round-trip", r->in, buf);
	}
}

/*
 * A service name is a port (services(5), TCP).  /etc/services comes with
 * Debian's netbase, which a minimal system may lack: those rows are then
 * skipped with a message rather than failed.
 */
static const struct {
	const char	*in;
	int		 n;		/* addr_parse_listen()'s count */
	const char	*shown[2];
} service_rows[] = {
	{ "127.0.0.1:http", 1, { "127.0.0.1:80", NULL } },
	{ "127.0.0.1:https", 1, { "127.0.0.1:443", NULL } },
	{ "[::1]:ssh", 1, { "[::1]:22", NULL } },
	{ "[::1]:http-alt", 1, { "[::1]:8080", NULL } },
	{ "*:http", 2, { "0.0.0.0:80", "[::]:80" } },
};

static void
test_service_ports(void **state)
{
	struct addr	 out[2];
	char		 buf[ADDR_STRLEN], host[ADDR_STRLEN], err[256];
	unsigned	 port;
	size_t		 i;
	int		 j;

	(void)state;
	if (access("/etc/services", R_OK) == -1) {
		print_message("no /etc/services (package netbase): service "
		    "name rows skipped\n");
		skip();
	}
	for (i = 0; i < NELEM(service_rows); i++) {
		err[0] = '\0';
		if (addr_parse_listen(service_rows[i].in, out, err,
		    sizeof(err)) != service_rows[i].n)
			fail_msg("'%s': %s", service_rows[i].in, err);
		for (j = 0; j < service_rows[i].n; j++)
			if (strcmp(addr_format(&out[j], buf, sizeof(buf)),
			    service_rows[i].shown[j]) != 0)
				fail_msg("'%s' [%d]: '%s', want '%s'",
				    service_rows[i].in, j, buf,
				    service_rows[i].shown[j]);
	}
	/* A host name keeps its service port for the resolver. */
	assert_int_equal(addr_split("localhost:https", host, sizeof(host),
	    &port, err, sizeof(err)), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 443);
}

/* ---- addr_parse: bad inputs -------------------------------------------- */

struct bad_row {
	const char	*in;
	const char	*want_err;	/* a substring of the reason */
};

static const struct bad_row bad_rows[] = {
	{ "1.2.3.4", "'1.2.3.4': missing port" },
	{ "1.2.3.4:", "'1.2.3.4:': missing port" },
	{ "[::1]", "'[::1]': missing port" },
	{ "[::1]:", "'[::1]:': missing port" },
	{ "[::1]80", "'[::1]80': missing port" },
	{ "1.2.3.4:0", "'1.2.3.4:0': port out of range (1 to 65535)" },
	{ "[::1]:0", "'[::1]:0': port out of range (1 to 65535)" },
	{ "1.2.3.4:65536", "'1.2.3.4:65536': port out of range (1 to 65535)" },
	{ "1.2.3.4:99999999999999999999", "port out of range (1 to 65535)" },
	{ "1.2.3.4:000", "port out of range" },
	{ "1.2.3.4:8o", "'1.2.3.4:8o': bad port '8o'" },
	{ "1.2.3.4:-1", "bad port '-1'" },
	{ "1.2.3.4:+80", "bad port '+80'" },
	{ "1.2.3.4: 80", "bad port ' 80'" },
	{ "1.2.3.4:80 ", "bad port '80 '" },
	{ "1.2.3.4:htp", "'1.2.3.4:htp': unknown service 'htp'" },
	{ "1.2.3.4:http ", "bad port 'http '" },
	{ "1.2.3.4:-http", "bad port '-http'" },
	{ "1.2.3.4:ht/tp", "bad port 'ht/tp'" },
	{ "[::g]:80", "'[::g]:80': bad IPv6 address '::g'" },
	{ "[1.2.3.4]:80", "bad IPv6 address '1.2.3.4'" },
	{ "[::1::2]:80", "bad IPv6 address '::1::2'" },
	{ "[::1:80", "'[::1:80': missing ']'" },
	{ "[::1", "missing ']'" },
	{ "::1:80", "'::1:80': an IPv6 address needs brackets, as in [::1]:80" },
	{ "fe80::1%lo:80", "an IPv6 address needs brackets" },
	{ "1.2.3:80", "'1.2.3:80': '1.2.3' is not an IP address" },
	{ "1:80", "'1' is not an IP address" },
	{ "1.2.3.4.5:80", "'1.2.3.4.5' is not an IP address" },
	{ "256.1.1.1:80", "'256.1.1.1' is not an IP address" },
	{ "0x7f.0.0.1:80", "is not an IP address" },
	{ "", "'': missing port" },
	{ ":80", "':80': missing address" },
	{ "[]:80", "'[]:80': missing address" },
	{ "localhost:80", "'localhost:80': 'localhost' is not an IP address" },
	{ "example.com:443", "'example.com' is not an IP address" },
	{ "*:80", "'*' is not an IP address" },	/* only listen knows '*' */
	/* The interface does not exist: getaddrinfo refuses the scope. */
	{ "[fe80::1%nosuchif0]:80",
	    "'[fe80::1%nosuchif0]:80': unknown interface 'nosuchif0'" },
};

static void
test_parse_bad(void **state)
{
	struct addr	 a;
	char		 err[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(bad_rows); i++) {
		err[0] = '\0';
		if (addr_parse(bad_rows[i].in, &a, err, sizeof(err)) != -1)
			fail_msg("addr_parse('%s') accepted it", bad_rows[i].in);
		if (strstr(err, bad_rows[i].want_err) == NULL)
			fail_msg("addr_parse('%s'): error '%s' lacks '%s'",
			    bad_rows[i].in, err, bad_rows[i].want_err);
	}
}

/* A host part longer than any address is refused, not overrun. */
static void
test_parse_too_long(void **state)
{
	char		 s[300], err[256];
	struct addr	 a;

	(void)state;
	memset(s, '1', sizeof(s));
	memcpy(s + 200, ":80", 4);
	assert_int_equal(addr_parse(s, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "address too long"));

	s[0] = '[';
	memcpy(s + 200, "]:80", 5);
	assert_int_equal(addr_parse(s, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "address too long"));
}

/* A short error buffer is truncated and terminated. */
static void
test_parse_short_err(void **state)
{
	struct addr	 a;
	char		 err[8];

	(void)state;
	memset(err, 'X', sizeof(err));
	assert_int_equal(addr_parse("1.2.3.4:0", &a, err, 5), -1);
	assert_string_equal(err, "'1.2");
	assert_int_equal(err[5], 'X');
	assert_int_equal(addr_parse("1.2.3.4:0", &a, NULL, 0), -1);
}

/* ---- addr_split -------------------------------------------------------- */

struct split_row {
	const char	*in;
	int		 rc;
	const char	*host;		/* rc == 0: host; rc == -1: error */
	unsigned	 port;
};

static const struct split_row split_rows[] = {
	{ "1.2.3.4:80", 0, "1.2.3.4", 80 },
	{ "example.com:443", 0, "example.com", 443 },
	{ "localhost:65535", 0, "localhost", 65535 },
	{ "[::1]:80", 0, "::1", 80 },
	{ "[fe80::1%eth0]:22", 0, "fe80::1%eth0", 22 },
	{ "[anything]:1", 0, "anything", 1 },	/* split does not check */
	{ "*:8080", 0, "*", 8080 },
	{ "host", -1, "'host': missing port", 0 },
	{ "host:", -1, "'host:': missing port", 0 },
	{ "host:0", -1, "'host:0': port out of range (1 to 65535)", 0 },
	{ "host:65536", -1, "port out of range", 0 },
	{ "host:8o", -1, "'host:8o': bad port '8o'", 0 },
	{ ":80", -1, "missing address", 0 },
	{ "[::1", -1, "'[::1': missing ']'", 0 },
	{ "[::1]", -1, "missing port", 0 },
	{ "a:b:80", -1, "an IPv6 address needs brackets", 0 },
	{ "", -1, "missing port", 0 },
};

static void
test_split(void **state)
{
	const struct split_row	*r;
	char			 host[ADDR_STRLEN], err[256];
	unsigned		 port;
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < NELEM(split_rows); i++) {
		r = &split_rows[i];
		err[0] = '\0';
		host[0] = '\0';
		port = 0;
		rc = addr_split(r->in, host, sizeof(host), &port, err,
		    sizeof(err));
		if (rc != r->rc)
			fail_msg("addr_split('%s'): rc %d, want %d (%s)", r->in,
			    rc, r->rc, err);
		if (rc == 0 && (strcmp(host, r->host) != 0 || port != r->port))
			fail_msg("addr_split('%s'): '%s' %u, want '%s' %u",
			    r->in, host, port, r->host, r->port);
		if (rc == -1 && strstr(err, r->host) == NULL)
			fail_msg("addr_split('%s'): error '%s' lacks '%s'",
			    r->in, err, r->host);
	}
}

/* The host buffer's size is respected. */
static void
test_split_small_host(void **state)
{
	char		 host[4], err[256];
	unsigned	 port;

	(void)state;
	memset(host, 'X', sizeof(host));
	assert_int_equal(addr_split("abcdef:80", host, sizeof(host), &port,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "address too long"));
	assert_int_equal(addr_split("abc:80", host, sizeof(host), &port, err,
	    sizeof(err)), 0);
	assert_string_equal(host, "abc");
	assert_int_equal(port, 80);
}

/* ---- addr_parse_listen ------------------------------------------------- */

struct listen_row {
	const char	*in;
	int		 n;		/* -1: error */
	const char	*shown[2];	/* n >= 1; shown[0] is the error if -1 */
};

static const struct listen_row listen_rows[] = {
	{ "*:80", 2, { "0.0.0.0:80", "[::]:80" } },
	{ "*:65535", 2, { "0.0.0.0:65535", "[::]:65535" } },
	{ "127.0.0.1:80", 1, { "127.0.0.1:80", NULL } },
	{ "0.0.0.0:80", 1, { "0.0.0.0:80", NULL } },
	{ "[::]:80", 1, { "[::]:80", NULL } },
	{ "[::1]:8080", 1, { "[::1]:8080", NULL } },
	{ "[fe80::1%lo]:80", 1, { "[fe80::1%lo]:80", NULL } },
	{ "*:0", 2, { "0.0.0.0:0", "[::]:0" } },
	{ "127.0.0.1:0", 1, { "127.0.0.1:0", NULL } },
	{ "[::1]:0", 1, { "[::1]:0", NULL } },
	{ "*:65536", -1, { "'*:65536': port out of range (0 to 65535)",
	    NULL } },
	{ "*:", -1, { "'*:': missing port", NULL } },
	{ "*", -1, { "'*': missing port", NULL } },
	{ "*:htp", -1, { "'*:htp': unknown service 'htp'", NULL } },
	{ "**:80", -1, { "'**' is not an IP address", NULL } },
	{ "localhost:80", -1, { "'localhost' is not an IP address", NULL } },
	{ "::1:80", -1, { "an IPv6 address needs brackets", NULL } },
	{ "[::1:80", -1, { "missing ']'", NULL } },
	{ "1.2.3.4:65536", -1, { "port out of range (0 to 65535)", NULL } },
};

static void
test_parse_listen(void **state)
{
	const struct listen_row	*r;
	struct addr		 out[2];
	char			 buf[ADDR_STRLEN], err[256];
	size_t			 i;
	int			 n, j;

	(void)state;
	for (i = 0; i < NELEM(listen_rows); i++) {
		r = &listen_rows[i];
		if (needs_missing_lo(r->in))
			continue;
		err[0] = '\0';
		n = addr_parse_listen(r->in, out, err, sizeof(err));
		if (n != r->n)
			fail_msg("listen '%s': got %d, want %d (%s)", r->in, n,
			    r->n, err);
		if (n == -1) {
			if (strstr(err, r->shown[0]) == NULL)
				fail_msg("listen '%s': error '%s' lacks '%s'",
				    r->in, err, r->shown[0]);
			continue;
		}
		for (j = 0; j < n; j++) {
			addr_format(&out[j], buf, sizeof(buf));
			if (strcmp(buf, r->shown[j]) != 0)
				fail_msg("listen '%s' [%d]: '%s', want '%s'",
				    r->in, j, buf, r->shown[j]);
		}
	}
}

/* "*:P" gives one wildcard of each family. */
static void
test_listen_wildcard(void **state)
{
	struct addr	 out[2];
	char		 err[256];

	(void)state;
	assert_int_equal(addr_parse_listen("*:8080", out, err, sizeof(err)),
	    2);
	assert_int_equal(out[0].ss.ss_family, AF_INET);
	assert_int_equal(out[1].ss.ss_family, AF_INET6);
	assert_int_equal(out[0].len, sizeof(struct sockaddr_in));
	assert_int_equal(out[1].len, sizeof(struct sockaddr_in6));
	assert_true(addr_is_any(&out[0]));
	assert_true(addr_is_any(&out[1]));
	assert_int_equal(addr_port(&out[0]), 8080);
	assert_int_equal(addr_port(&out[1]), 8080);
	/* The two never clash with each other (IPV6_V6ONLY). */
	assert_false(addr_overlap(&out[0], &out[1]));
}

/*
 * Port 0 (any free port) is for listen addresses only, and never clashes:
 * the kernel gives each bind a port of its own.
 */
static void
test_listen_any_port(void **state)
{
	struct addr	 a[2], b[2], c;
	char		 err[256];

	(void)state;
	assert_int_equal(addr_parse_listen("127.0.0.1:0", a, err,
	    sizeof(err)), 1);
	assert_int_equal(addr_port(&a[0]), 0);
	assert_int_equal(addr_parse_listen("0.0.0.0:0", b, err, sizeof(err)),
	    1);
	assert_true(addr_equal(&a[0], &a[0]));
	assert_false(addr_overlap(&a[0], &a[0]));
	assert_false(addr_overlap(&a[0], &b[0]));
	assert_int_equal(addr_parse_listen("*:0", b, err, sizeof(err)), 2);
	assert_int_equal(addr_port(&b[1]), 0);
	/* Not for an upstream or the admin endpoint. */
	assert_int_equal(addr_parse("127.0.0.1:0", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "port out of range (1 to 65535)"));
}

/* ---- addr_unmap -------------------------------------------------------- */

struct unmap_row {
	const char	*in;
	int		 family;	/* after addr_unmap() */
	const char	*same_as;	/* addr_equal() to this afterwards */
};

static const struct unmap_row unmap_rows[] = {
	{ "[::ffff:1.2.3.4]:80", AF_INET, "1.2.3.4:80" },
	{ "[::ffff:127.0.0.1]:65535", AF_INET, "127.0.0.1:65535" },
	{ "[::ffff:0.0.0.0]:1", AF_INET, "0.0.0.0:1" },
	{ "1.2.3.4:80", AF_INET, "1.2.3.4:80" },
	{ "[::1]:80", AF_INET6, "[::1]:80" },
	{ "[::]:80", AF_INET6, "[::]:80" },
	{ "[::1.2.3.4]:80", AF_INET6, "[::1.2.3.4]:80" },  /* compatible */
	{ "[64:ff9b::1.2.3.4]:80", AF_INET6, "[64:ff9b::1.2.3.4]:80" },
};

static void
test_unmap(void **state)
{
	struct addr	 a, b;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(unmap_rows); i++) {
		must_parse(unmap_rows[i].in, &a);
		must_parse(unmap_rows[i].same_as, &b);
		addr_unmap(&a);
		if (a.ss.ss_family != unmap_rows[i].family)
			fail_msg("unmap '%s': family %d, want %d",
			    unmap_rows[i].in, (int)a.ss.ss_family,
			    unmap_rows[i].family);
		if (a.len != b.len || !addr_equal(&a, &b))
			fail_msg("unmap '%s' is not '%s'", unmap_rows[i].in,
			    unmap_rows[i].same_as);
	}
}

/* ---- addr_equal, addr_overlap, addr_is_any ----------------------------- */

struct pair_row {
	const char	*a, *b;
	bool		 equal;
	bool		 overlap;
};

static const struct pair_row pair_rows[] = {
	{ "1.2.3.4:80", "1.2.3.4:80", true, true },
	{ "1.2.3.4:80", "1.2.3.4:81", false, false },
	{ "1.2.3.4:80", "1.2.3.5:80", false, false },
	{ "[::1]:80", "[::1]:80", true, true },
	{ "[::1]:80", "[0:0:0:0:0:0:0:1]:80", true, true },
	{ "[::1]:80", "[::1]:81", false, false },
	{ "[::1]:80", "[::2]:80", false, false },
	{ "0.0.0.0:80", "127.0.0.1:80", false, true },
	{ "0.0.0.0:80", "0.0.0.0:80", true, true },
	{ "0.0.0.0:80", "127.0.0.1:81", false, false },
	{ "0.0.0.0:80", "0.0.0.0:81", false, false },
	{ "[::]:80", "[::1]:80", false, true },
	{ "[::]:80", "[2001:db8::1]:80", false, true },
	{ "[::]:80", "[::]:80", true, true },
	{ "[::]:80", "[::1]:81", false, false },
	/* Different families never clash: IPv6 listeners are V6ONLY. */
	{ "[::]:80", "0.0.0.0:80", false, false },
	{ "[::]:80", "127.0.0.1:80", false, false },
	{ "[::1]:80", "0.0.0.0:80", false, false },
	{ "[::ffff:1.2.3.4]:80", "1.2.3.4:80", false, false },
	{ "127.0.0.1:80", "[::1]:80", false, false },
	/* The scope is part of the address. */
	{ "[fe80::1%lo]:80", "[fe80::1]:80", false, false },
	{ "[fe80::1%lo]:80", "[fe80::1%lo]:80", true, true },
	{ "[fe80::1%lo]:80", "[::]:80", false, true },
};

static void
test_equal_overlap(void **state)
{
	const struct pair_row	*r;
	struct addr		 a, b;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(pair_rows); i++) {
		r = &pair_rows[i];
		if (needs_missing_lo(r->a) || needs_missing_lo(r->b))
			continue;
		must_parse(r->a, &a);
		must_parse(r->b, &b);
		if (addr_equal(&a, &b) != r->equal ||
		    addr_equal(&b, &a) != r->equal)
			fail_msg("addr_equal('%s', '%s') is not %d", r->a, r->b,
			    r->equal);
		if (addr_overlap(&a, &b) != r->overlap ||
		    addr_overlap(&b, &a) != r->overlap)
			fail_msg("addr_overlap('%s', '%s') is not %d", r->a,
			    r->b, r->overlap);
		/* Anything equals and overlaps itself. */
		assert_true(addr_equal(&a, &a));
		assert_true(addr_overlap(&a, &a));
	}
}

struct any_row {
	const char	*in;
	bool		 any;
};

static const struct any_row any_rows[] = {
	{ "0.0.0.0:80", true },
	{ "[::]:80", true },
	{ "[0:0:0:0:0:0:0:0]:1", true },
	{ "127.0.0.1:80", false },
	{ "255.255.255.255:80", false },
	{ "0.0.0.1:80", false },
	{ "[::1]:80", false },
	{ "[2001:db8::]:80", false },
	{ "[::ffff:0.0.0.0]:80", false },
};

static void
test_is_any(void **state)
{
	struct addr	 a;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(any_rows); i++) {
		must_parse(any_rows[i].in, &a);
		if (addr_is_any(&a) != any_rows[i].any)
			fail_msg("addr_is_any('%s') is not %d", any_rows[i].in,
			    any_rows[i].any);
	}
}

/* ---- ports, kernel addresses, odd families ----------------------------- */

static void
test_set_port(void **state)
{
	struct addr	 a;
	char		 buf[ADDR_STRLEN];

	(void)state;
	must_parse("1.2.3.4:80", &a);
	addr_set_port(&a, 65535);
	assert_int_equal(addr_port(&a), 65535);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)),
	    "1.2.3.4:65535");
	must_parse("[::1]:80", &a);
	addr_set_port(&a, 1);
	assert_int_equal(addr_port(&a), 1);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "[::1]:1");
}

static void
test_from_sockaddr(void **state)
{
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;
	struct addr		 a, b;
	char			 buf[ADDR_STRLEN];

	(void)state;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons(4242);
	s4.sin_addr.s_addr = htonl(0x7f000001);
	addr_from_sockaddr(&a, (struct sockaddr *)&s4, sizeof(s4));
	must_parse("127.0.0.1:4242", &b);
	assert_int_equal(a.len, sizeof(s4));
	assert_true(addr_equal(&a, &b));
	assert_string_equal(addr_format(&a, buf, sizeof(buf)),
	    "127.0.0.1:4242");

	/* A v4-mapped peer, as a dual-stack accept() would give. */
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(4242);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1",
	    &s6.sin6_addr), 1);
	addr_from_sockaddr(&a, (struct sockaddr *)&s6, sizeof(s6));
	assert_int_equal(a.len, sizeof(s6));
	assert_string_equal(addr_format(&a, buf, sizeof(buf)),
	    "127.0.0.1:4242");
	assert_false(addr_equal(&a, &b));
	addr_unmap(&a);
	assert_true(addr_equal(&a, &b));

	/* A scope with no interface left is shown as a number. */
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &s6.sin6_addr), 1);
	s6.sin6_scope_id = 99999;
	addr_from_sockaddr(&a, (struct sockaddr *)&s6, sizeof(s6));
	if (if_indextoname(99999, buf) == NULL)
		assert_string_equal(addr_format(&a, buf, sizeof(buf)),
		    "[fe80::1%99999]:4242");
}

static void
test_format_odd(void **state)
{
	struct addr	 a;
	char		 buf[ADDR_STRLEN], small[8];

	(void)state;
	memset(&a, 0, sizeof(a));
	a.ss.ss_family = AF_UNIX;
	assert_string_equal(addr_format(&a, buf, sizeof(buf)),
	    "(family 1)");
	assert_int_equal(addr_port(&a), 0);
	assert_false(addr_is_any(&a));

	/* A short buffer is truncated and terminated. */
	must_parse("255.255.255.255:65535", &a);
	memset(small, 'X', sizeof(small));
	addr_format(&a, small, 6);
	assert_string_equal(small, "255.2");
	assert_int_equal(small[6], 'X');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_service_ports),
		cmocka_unit_test(test_parse_too_long),
		cmocka_unit_test(test_parse_short_err),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_small_host),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_listen_wildcard),
		cmocka_unit_test(test_listen_any_port),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_equal_overlap),
		cmocka_unit_test(test_is_any),
		cmocka_unit_test(test_set_port),
		cmocka_unit_test(test_from_sockaddr),
		cmocka_unit_test(test_format_odd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
