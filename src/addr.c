/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * addr.c: socket addresses of either family as relay46 reads and writes
 * them: "A.B.C.D:P", "[V6]:P", "[fe80::1%eth0]:P", "*:P" for listening,
 * and the comparisons the config checks and the pools need.
 *
 * Pure: it owns no memory beyond the caller's buffers, keeps no state,
 * never logs and never exits; a reason goes into the caller's ${err}.
 * Any thread may call it.  The only calls that reach outside the process
 * are getservbyname_r() (a service name as the port: services(5)),
 * if_nametoindex() and if_indextoname() (an IPv6 scope); none of them
 * is made for a plain numeric address.
 *
 * It must never resolve a host name: that is resolve.c's job, with its
 * own timeouts.  AI_NUMERICHOST makes sure getaddrinfo() here never asks
 * DNS.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "util.h"

/*
 * A service name ("http", "http-alt") as the port: looked up in
 * services(5) for TCP.  getservbyname_r, since a reload parses on the
 * control thread while the tests may parse on others.
 */
static int
addr_service(const char *p, const char *whole, unsigned *port, char *err,
    size_t errlen)
{
	struct servent	 se, *res = NULL;
	char		 buf[1024];	/* a services(5) line fits many times */

	if (getservbyname_r(p, "tcp", &se, buf, sizeof(buf), &res) != 0 ||
	    res == NULL) {
		err_set(err, errlen, "'%s': unknown service '%s'", whole, p);
		return -1;
	}
	/* s_port is an int that holds the port in network byte order. */
	*port = ntohs((uint16_t)res->s_port);
	if (*port < 1) {
		err_set(err, errlen, "'%s': service '%s' has port 0", whole, p);
		return -1;
	}
	return 0;
}

/*
 * The port of "HOST:P": ${min} is 1, or 0 for a listen address, where 0
 * asks the kernel for any free port.
 */
static int
addr_port_parse(const char *p, const char *whole, unsigned min,
    unsigned *port, char *err, size_t errlen)
{
	unsigned long	 n = 0;
	const char	*q;

	if (*p == '\0') {
		err_set(err, errlen, "'%s': missing port", whole);
		return -1;
	}
	/*
	 * A name starts with a letter; one starting with a digit ("8o") is
	 * a mistyped number, and is reported as a bad port.
	 */
	if (isalpha((unsigned char)*p) && strspn(p, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == strlen(p))
		return addr_service(p, whole, port, err, errlen);
	for (q = p; *q != '\0'; q++) {
		if (!isdigit((unsigned char)*q)) {
			err_set(err, errlen, "'%s': bad port '%s'", whole, p);
			return -1;
		}
		/*
		 * Stop growing once past 65535: the value is out of range
		 * anyway, and a long run of digits cannot overflow.
		 */
		if (n <= 65535)
			n = n * 10 + (unsigned long)(*q - '0');
	}
	if (n < min || n > 65535) {
		err_set(err, errlen, "'%s': port out of range (%u to 65535)",
		    whole, min);
		return -1;
	}
	*port = (unsigned)n;
	return 0;
}

/*
 * addr_split(), with ports from ${min} up.  The port is whatever follows
 * the last ':' (or the "]:" of a bracketed address), so "[::1]:80" and
 * "10.0.0.1:80" split alike; an unbracketed host with a ':' in it is an
 * IPv6 address written without brackets, which is refused with a hint
 * rather than guessed at ("::1:80" has no unambiguous port).
 */
static int
addr_split_min(const char *s, char *host, size_t hostlen, unsigned min,
    unsigned *port, char *err, size_t errlen)
{
	const char	*h, *end, *colon;
	size_t		 n;

	if (*s == '[') {
		h = s + 1;
		if ((end = strchr(h, ']')) == NULL) {
			err_set(err, errlen, "'%s': missing ']'", s);
			return -1;
		}
		if (end[1] != ':') {
			err_set(err, errlen, "'%s': missing port", s);
			return -1;
		}
		colon = end + 1;
	} else {
		h = s;
		if ((colon = strrchr(s, ':')) == NULL) {
			err_set(err, errlen, "'%s': missing port", s);
			return -1;
		}
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			err_set(err, errlen, "'%s': an IPv6 address needs "
			    "brackets, as in [::1]:80", s);
			return -1;
		}
		end = colon;
	}
	n = (size_t)(end - h);
	if (n == 0) {
		err_set(err, errlen, "'%s': missing address", s);
		return -1;
	}
	if (n >= hostlen) {
		err_set(err, errlen, "'%.40s...': address too long", s);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	return addr_port_parse(colon + 1, s, min, port, err, errlen);
}

int
addr_split(const char *s, char *host, size_t hostlen, unsigned *port,
    char *err, size_t errlen)
{
	return addr_split_min(s, host, hostlen, 1, port, err, errlen);
}

/*
 * Parse a numeric host of family ${af} (AF_UNSPEC: either) into ${a},
 * with ${port}: getaddrinfo() fills in the whole sockaddr and its length,
 * and AI_NUMERICHOST keeps it from ever asking DNS.  It is lax about IPv4
 * ("1" is 0.0.0.1), which is why addr_parse_min() asks inet_pton() first.
 * 0, or -1 without a reason: the caller knows what it asked for.
 */
static int
addr_numeric(const char *host, int af, unsigned port, struct addr *a)
{
	struct addrinfo	 hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = af;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	addr_from_sockaddr(a, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	addr_set_port(a, port);
	return 0;
}

/*
 * Set the scope of IPv6 ${a} from an interface name or index.  A name is
 * looked up now (if_nametoindex()), so an interface that does not exist
 * yet is an error at load time, not a bind that fails later.  -1: not an
 * interface.
 */
static int
addr_scope(const char *scope, struct addr *a)
{
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&a->ss;
	unsigned long		 n;
	char			*end;

	if (*scope == '\0')
		return -1;
	if (isdigit((unsigned char)*scope)) {
		errno = 0;
		n = strtoul(scope, &end, 10);
		if (*end != '\0' || errno != 0 || n == 0 || n > UINT32_MAX)
			return -1;
		s6->sin6_scope_id = (uint32_t)n;
		return 0;
	}
	if ((s6->sin6_scope_id = if_nametoindex(scope)) == 0)
		return -1;
	return 0;
}

/* addr_parse(), with ports from ${min} up (0 for a listen address). */
static int
addr_parse_min(const char *s, struct addr *a, unsigned min, char *err,
    size_t errlen)
{
	char		 host[ADDR_STRLEN], *scope;
	unsigned	 port;
	struct in_addr	 in4;

	if (addr_split_min(s, host, sizeof(host), min, &port, err,
	    errlen) == -1)
		return -1;
	if (*s == '[') {
		/*
		 * The scope is ours to read: glibc takes an interface name
		 * only on link-local addresses, so "[::1%lo]" would not
		 * parse back from what addr_format() shows.
		 */
		if ((scope = strchr(host, '%')) != NULL)
			*scope++ = '\0';
		if (addr_numeric(host, AF_INET6, port, a) == -1) {
			err_set(err, errlen, "'%s': bad IPv6 address '%s'",
			    s, host);
			return -1;
		}
		if (scope != NULL && addr_scope(scope, a) == -1) {
			err_set(err, errlen, "'%s': unknown interface '%s'",
			    s, scope);
			return -1;
		}
		return 0;
	}
	/* inet_pton, unlike getaddrinfo, refuses "1" or "1.2.3". */
	if (inet_pton(AF_INET, host, &in4) != 1 ||
	    addr_numeric(host, AF_INET, port, a) == -1) {
		err_set(err, errlen, "'%s': '%s' is not an IP address", s,
		    host);
		return -1;
	}
	return 0;
}

int
addr_parse(const char *s, struct addr *a, char *err, size_t errlen)
{
	return addr_parse_min(s, a, 1, err, errlen);
}

int
addr_parse_listen(const char *s, struct addr out[2], char *err, size_t errlen)
{
	char		 host[ADDR_STRLEN];
	unsigned	 port;

	/* Port 0: any free port, which the listener reads back once bound. */
	if (s[0] == '*' && s[1] == ':') {
		if (addr_split_min(s, host, sizeof(host), 0, &port, err,
		    errlen) == -1)
			return -1;
		if (addr_numeric("0.0.0.0", AF_INET, port, &out[0]) == -1 ||
		    addr_numeric("::", AF_INET6, port, &out[1]) == -1) {
			err_set(err, errlen, "'%s': cannot make wildcard", s);
			return -1;
		}
		return 2;
	}
	if (addr_parse_min(s, &out[0], 0, err, errlen) == -1)
		return -1;
	return 1;
}

/*
 * A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; relay46
 * logs, matches and counts it as the IPv4 address it is.  Copied out
 * first: the IPv4 form is written over the same storage.
 */
void
addr_unmap(struct addr *a)
{
	struct sockaddr_in6	 s6;
	struct sockaddr_in	*s4;

	if (a->ss.ss_family != AF_INET6)
		return;
	memcpy(&s6, &a->ss, sizeof(s6));
	if (!IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
		return;
	memset(&a->ss, 0, sizeof(a->ss));
	s4 = (struct sockaddr_in *)&a->ss;
	s4->sin_family = AF_INET;
	s4->sin_port = s6.sin6_port;
	memcpy(&s4->sin_addr, &s6.sin6_addr.s6_addr[12], 4);
	a->len = sizeof(*s4);
}

/*
 * Written so that addr_parse() reads it back, and an operator can paste
 * it into a config file (an IPv4-mapped address comes back as plain
 * IPv4).  A scope is shown by interface name while the interface exists,
 * else by number, which addr_parse() reads too; looking the name up asks
 * the kernel, but only for a scoped address.  Never fails: an unknown
 * family gives "(family N)".
 */
const char *
addr_format(const struct addr *a, char *buf, size_t len)
{
	struct addr		 u = *a;
	char			 host[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in  *s4;

	addr_unmap(&u);
	if (u.ss.ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)&u.ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, addr_port(&u));
	} else if (u.ss.ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)&u.ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		if (s6->sin6_scope_id == 0)
			snprintf(buf, len, "[%s]:%u", host, addr_port(&u));
		else if (if_indextoname(s6->sin6_scope_id, ifname) != NULL)
			snprintf(buf, len, "[%s%%%s]:%u", host, ifname,
			    addr_port(&u));
		else
			snprintf(buf, len, "[%s%%%u]:%u", host,
			    (unsigned)s6->sin6_scope_id, addr_port(&u));
	} else
		snprintf(buf, len, "(family %d)", (int)u.ss.ss_family);
	return buf;
}

/* 0 for a family other than AF_INET and AF_INET6, which has no port. */
unsigned
addr_port(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

/* Does nothing to a family other than AF_INET and AF_INET6. */
void
addr_set_port(struct addr *a, unsigned port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port =
		    htons((uint16_t)port);
}

/*
 * Same family and address, ignoring the port.  The IPv6 scope counts:
 * fe80::1 on eth0 and fe80::1 on eth1 are different hosts.  No unmapping
 * here: callers that want ::ffff:a.b.c.d to equal a.b.c.d unmap first.
 */
static bool
addr_same_host(const struct addr *a, const struct addr *b)
{
	const struct sockaddr_in6 *x6, *y6;
	const struct sockaddr_in  *x4, *y4;

	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		x4 = (const struct sockaddr_in *)&a->ss;
		y4 = (const struct sockaddr_in *)&b->ss;
		return x4->sin_addr.s_addr == y4->sin_addr.s_addr;
	}
	if (a->ss.ss_family == AF_INET6) {
		x6 = (const struct sockaddr_in6 *)&a->ss;
		y6 = (const struct sockaddr_in6 *)&b->ss;
		return memcmp(&x6->sin6_addr, &y6->sin6_addr, 16) == 0 &&
		    x6->sin6_scope_id == y6->sin6_scope_id;
	}
	return false;
}

/*
 * Compares the fields, never the bytes of ${ss}: padding and sin6_flowinfo
 * may differ between two copies of the same address.
 */
bool
addr_equal(const struct addr *a, const struct addr *b)
{
	return addr_same_host(a, b) && addr_port(a) == addr_port(b);
}

bool
addr_is_any(const struct addr *a)
{
	const struct sockaddr_in6 *s6;

	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	if (a->ss.ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)&a->ss;
		return IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	}
	return false;
}

bool
addr_overlap(const struct addr *a, const struct addr *b)
{
	/* Port 0 gets a port of its own from the kernel: never a clash. */
	if (a->ss.ss_family != b->ss.ss_family ||
	    addr_port(a) != addr_port(b) || addr_port(a) == 0)
		return false;
	return addr_same_host(a, b) || addr_is_any(a) || addr_is_any(b);
}

/*
 * A length larger than the storage (a kernel that returned a truncated
 * address says how long the whole one was) is cut to what was copied,
 * never trusted.
 */
void
addr_from_sockaddr(struct addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(a, 0, sizeof(*a));
	if (len > sizeof(a->ss))
		len = sizeof(a->ss);
	memcpy(&a->ss, sa, len);
	a->len = len;
}
