/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * acl.c: allow and deny lists of CIDR prefixes (allow, deny, admin_allow,
 * proxy_from), parsed at config load and matched against each client as
 * it is accepted.
 *
 * A struct acl owns its two arrays and nothing else; it lives inside the
 * struct config or struct route that holds it and is freed with it
 * (acl_free()).  Parsing runs where the config is loaded; matching runs
 * on the workers (and the control thread, for admin_allow) with no lock,
 * since a loaded ACL is never written again.
 *
 * Pure: no I/O, no logging, no global state.  A rule is kept in its
 * canonical form (host bits refused rather than cleared, IPv4-mapped
 * prefixes as IPv4), so that what acl_format() shows is what matches.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "util.h"

/* The longest rule: a full IPv6 address with an embedded quad, "/128". */
#define ACL_STRLEN	(INET6_ADDRSTRLEN + 4)

/* ::ffff:0:0/96, the prefix of an IPv4-mapped IPv6 address. */
static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* The longest prefix of ${family}: a whole address. */
static unsigned
family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/*
 * Why inet_pton() did not like ${s}, for a message better than "no":
 * the usual mistakes are writing an address the way addr_parse() wants
 * it, with brackets, a port or a scope.
 */
static const char *
not_ip_hint(const char *s)
{
	if (strchr(s, '[') != NULL || strchr(s, ']') != NULL)
		return " (no brackets here)";
	if (strchr(s, '%') != NULL)
		return " (no scope here)";
	if (strchr(s, '.') != NULL && strchr(s, ':') != NULL &&
	    strrchr(s, ':') > strrchr(s, '.'))
		return " (no port here)";
	return "";
}

/*
 * Parse the text after '/': decimal, no sign, no leading zero (so that
 * "/08" is not quietly read as 8, or as octal by a reader of the config),
 * at most ${max}.
 */
static int
prefix_parse(const char *p, const char *whole, unsigned max, unsigned *out,
    char *err, size_t errlen)
{
	unsigned	 n = 0;
	const char	*q;

	if (*p == '\0') {
		err_set(err, errlen, "'%s': missing prefix length after '/'",
		    whole);
		return -1;
	}
	for (q = p; *q != '\0'; q++) {
		if (!isdigit((unsigned char)*q)) {
			err_set(err, errlen, "'%s': bad prefix length '%s'",
			    whole, p);
			return -1;
		}
		/* Saturate: "/99999999999" is out of range, not wrapped. */
		if (n <= 128)
			n = n * 10 + (unsigned)(*q - '0');
	}
	if (p[0] == '0' && p[1] != '\0') {
		err_set(err, errlen, "'%s': bad prefix length '%s' "
		    "(leading zero)", whole, p);
		return -1;
	}
	if (n > max) {
		err_set(err, errlen, "'%s': prefix length out of range "
		    "(0 to %u)", whole, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* Clear the bits of ${r}'s address below its prefix. */
static void
rule_mask(struct acl_rule *r)
{
	unsigned	 i, bits = family_bits(r->family);

	for (i = 0; i < bits / 8; i++) {
		if (i * 8 >= r->prefix)
			r->addr[i] = 0;
		else if (i * 8 + 8 > r->prefix)
			r->addr[i] &= (uint8_t)(0xff << (8 - r->prefix % 8));
	}
}

/* ::ffff:a.b.c.d/N (N >= 96) is the IPv4 rule a.b.c.d/(N-96). */
static void
rule_unmap(struct acl_rule *r)
{
	if (r->family != AF_INET6 || r->prefix < 96 ||
	    memcmp(r->addr, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0)
		return;
	r->family = AF_INET;
	memmove(r->addr, r->addr + 12, 4);
	memset(r->addr + 4, 0, 12);
	r->prefix -= 96;
}

/* Split ${s} at '/' and read the address part into ${r}. */
static int
rule_addr_parse(const char *s, struct acl_rule *r, const char **slash,
    char *err, size_t errlen)
{
	char		 host[ACL_STRLEN];
	size_t		 n;

	*slash = strchr(s, '/');
	n = *slash != NULL ? (size_t)(*slash - s) : strlen(s);
	if (n >= sizeof(host)) {
		err_set(err, errlen, "'%s': not an IP address (too long)", s);
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, host, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, host, r->addr) == 1)
		r->family = AF_INET6;
	else {
		err_set(err, errlen, "'%s': not an IP address%s", s,
		    not_ip_hint(host));
		return -1;
	}
	return 0;
}

int
acl_rule_parse(const char *s, struct acl_rule *r, char *err, size_t errlen)
{
	struct acl_rule	 t, masked;
	const char	*slash, *q;
	char		 buf[ACL_STRLEN + 8];	/* acl_format(), with room */

	if (s == NULL || *s == '\0') {
		err_set(err, errlen, "empty address rule");
		return -1;
	}
	/* inet_pton() would say "no" too; this says why. */
	for (q = s; *q != '\0'; q++) {
		if (isspace((unsigned char)*q)) {
			err_set(err, errlen, "'%s': not an IP address "
			    "(whitespace)", s);
			return -1;
		}
	}
	if (rule_addr_parse(s, &t, &slash, err, errlen) == -1)
		return -1;
	/* No "/LEN": the one address, as "allow = 192.0.2.7" reads. */
	t.prefix = family_bits(t.family);
	if (slash != NULL && prefix_parse(slash + 1, s,
	    family_bits(t.family), &t.prefix, err, errlen) == -1)
		return -1;
	/*
	 * Unmapped before the host bits are checked, so the hint names the
	 * IPv4 rule that will actually match.  Clients are unmapped too
	 * (acl_match()), so ::ffff:10.0.0.0/104 and 10.0.0.0/8 match alike.
	 */
	rule_unmap(&t);
	/*
	 * 10.0.0.1/8 is usually a typo for either 10.0.0.1 or 10.0.0.0/8;
	 * guessing would silently widen or narrow the rule, so ask.
	 */
	masked = t;
	rule_mask(&masked);
	if (memcmp(masked.addr, t.addr, sizeof(t.addr)) != 0) {
		err_set(err, errlen, "'%s': host bits set: did you mean %s?", s,
		    acl_format(&masked, buf, sizeof(buf)));
		return -1;
	}
	/* Write ${r} only on success: a caller never sees half a rule. */
	*r = t;
	return 0;
}

/* Append ${r} to the list *${list} of *${n}. */
static int
rule_append(struct acl_rule **list, size_t *n, const struct acl_rule *r)
{
	struct acl_rule	*nl;

	/* Lists are built once per config load: growing by one is enough. */
	nl = realloc(*list, (*n + 1) * sizeof(**list));
	if (nl == NULL)
		return -1;
	nl[*n] = *r;
	*list = nl;
	(*n)++;
	return 0;
}

int
acl_add(struct acl *a, bool deny, const char *s, char *err, size_t errlen)
{
	struct acl_rule	 r;
	int		 rc;

	if (acl_rule_parse(s, &r, err, errlen) == -1)
		return -1;
	if (deny)
		rc = rule_append(&a->deny, &a->ndeny, &r);
	else
		rc = rule_append(&a->allow, &a->nallow, &r);
	if (rc == -1) {
		err_set(err, errlen, "'%s': out of memory", s);
		return -1;
	}
	return 0;
}

bool
acl_match(const struct acl_rule *r, const struct addr *a)
{
	struct addr	 u = *a;
	uint8_t		 bytes[16];
	unsigned	 full, rest;

	/* A v4-mapped client is an IPv4 client, for rules as for logs. */
	addr_unmap(&u);
	if (u.ss.ss_family != r->family)
		return false;
	if (r->family == AF_INET)
		memcpy(bytes, &((const struct sockaddr_in *)&u.ss)->sin_addr,
		    4);
	else
		memcpy(bytes, &((const struct sockaddr_in6 *)&u.ss)->sin6_addr,
		    16);
	full = r->prefix / 8;
	rest = r->prefix % 8;
	/* Whole bytes first, then the bits of the one byte cut by the prefix. */
	if (memcmp(bytes, r->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((bytes[full] ^ r->addr[full]) & (0xff << (8 - rest))) == 0;
}

/*
 * Does ${a} match any of the ${n} rules of ${list}?  A linear scan: lists
 * are a few lines of a config file, and the scan runs once per accepted
 * session, not per byte.
 */
static bool
any_match(const struct acl_rule *list, size_t n, const struct addr *a)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (acl_match(&list[i], a))
			return true;
	return false;
}

bool
acl_allows(const struct acl *acl, const struct addr *a)
{
	if (acl == NULL)
		return true;
	/* Deny first: "allow 10/8, deny 10.6.6.6" must keep 10.6.6.6 out. */
	if (any_match(acl->deny, acl->ndeny, a))
		return false;
	return acl->nallow == 0 || any_match(acl->allow, acl->nallow, a);
}

const char *
acl_format(const struct acl_rule *r, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];

	if ((r->family != AF_INET && r->family != AF_INET6) ||
	    inet_ntop(r->family, r->addr, host, sizeof(host)) == NULL)
		snprintf(buf, len, "(family %d)", r->family);
	else
		snprintf(buf, len, "%s/%u", host, r->prefix);
	return buf;
}

/*
 * Leaves ${a} empty, not dangling: an ACL freed twice, or used after,
 * allows everyone rather than reading freed memory.
 */
void
acl_free(struct acl *a)
{
	if (a == NULL)
		return;
	free(a->allow);
	free(a->deny);
	a->allow = a->deny = NULL;
	a->nallow = a->ndeny = 0;
}
