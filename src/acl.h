/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_ACL_H
#define RELAY46_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/*
 * allow/deny lists of CIDR prefixes, either family.  Pure: no I/O, no
 * logging; errors go to the caller's ${err} buffer.
 */

/* One prefix: 10.0.0.0/8, 2001:db8::/32, 192.0.2.7 (= /32), ::1 (= /128). */
struct acl_rule {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network order; 4 used for AF_INET */
	unsigned	 prefix;	/* 0..32 or 0..128 */
};

struct acl {
	struct acl_rule	*allow;
	size_t		 nallow;
	struct acl_rule	*deny;
	size_t		 ndeny;
};

/*
 * acl_rule_parse(s, r, err, errlen): parse "ADDR" or "ADDR/LEN" (IPv4
 * dotted quad or IPv6, no brackets, no port, no scope).  An IPv4-mapped
 * IPv6 prefix (::ffff:10.0.0.0/104) becomes the IPv4 one (10.0.0.0/8).
 * Host bits set below the prefix are refused ("host bits set: did you
 * mean 10.0.0.0/8?").  Returns 0, or -1 with the reason in ${err}.
 */
int	 acl_rule_parse(const char *s, struct acl_rule *r, char *err,
	    size_t errlen);

/* acl_add(a, deny, s, err, errlen): parse ${s} and append it to a list. */
int	 acl_add(struct acl *a, bool deny, const char *s, char *err,
	    size_t errlen);

/*
 * acl_match(r, a): does address ${a} fall in ${r}?  An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) is matched as the IPv4 address.  The port and
 * the IPv6 scope are ignored.
 */
bool	 acl_match(const struct acl_rule *r, const struct addr *a);

/*
 * acl_allows(acl, a): true if ${a} may come in: it matches no deny rule,
 * and it matches an allow rule or there are none.  An empty ACL (or NULL)
 * allows everyone.
 */
bool	 acl_allows(const struct acl *acl, const struct addr *a);

/* acl_format(r, buf, len): "10.0.0.0/8" or "2001:db8::/32"; returns ${buf}. */
const char *acl_format(const struct acl_rule *r, char *buf, size_t len);

/* acl_free(a): free the lists (not ${a} itself); NULL is fine. */
void	 acl_free(struct acl *a);

#endif
