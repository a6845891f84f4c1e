/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_ADDR_H
#define RELAY46_ADDR_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

/* "[ffff:...%interfacename]:65535" with room to spare. */
#define ADDR_STRLEN	(INET6_ADDRSTRLEN + IF_NAMESIZE + 16)

/*
 * Room for an IPv4 or IPv6 socket address and nothing else: 28 bytes, not
 * sockaddr_storage's 128, since every session keeps one (its client) and
 * a relay holds tens of thousands of sessions.  ss_family overlays the
 * family field both sockaddr_in and sockaddr_in6 begin with, so code
 * written for sockaddr_storage (a->ss.ss_family, casts of &a->ss) reads
 * the same.  Anything longer is cut to this size (addr_from_sockaddr).
 */
union addr_storage {
	sa_family_t		 ss_family;
	struct sockaddr		 sa;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
};

/* A socket address of either family, with its length. */
struct addr {
	union addr_storage	 ss;
	socklen_t		 len;
};

/*
 * addr_parse(s, a, err, errlen): parse a numeric "A.B.C.D:P", "[V6]:P" or
 * "[fe80::1%ifname]:P" into ${a}.  The port P is a number, 1..65535, or a
 * TCP service name from services(5) that starts with a letter ("http",
 * looked up with getservbyname_r).  Returns 0, or -1 with the reason in
 * ${err} ("missing port", "port out of range", "unknown service 'htp'",
 * "bad IPv6 address", "missing ']'", "not an IP address", ...).
 */
int	 addr_parse(const char *s, struct addr *a, char *err, size_t errlen);

/*
 * addr_split(s, host, hostlen, port, err, errlen): split "HOST:P",
 * "[V6]:P" or "*:P" into ${host} (brackets removed) and the port number
 * (P as in addr_parse(): 1..65535 or a service name).  Returns 0 or -1
 * with the reason in ${err}.
 */
int	 addr_split(const char *s, char *host, size_t hostlen,
	    unsigned *port, char *err, size_t errlen);

/*
 * addr_parse_listen(s, out, err, errlen): parse a listen address.  As
 * addr_parse(), and "*:P" means both 0.0.0.0:P and [::]:P; P may be 0
 * (any free port, chosen when the socket is bound).  Fills ${out}
 * (room for two) and returns how many addresses it holds (1 or 2), or -1
 * with the reason in ${err}.
 */
int	 addr_parse_listen(const char *s, struct addr out[2], char *err,
	    size_t errlen);

/*
 * addr_format(a, buf, len): "A.B.C.D:P" or "[V6%scope]:P" into ${buf};
 * an IPv4-mapped IPv6 address is shown as IPv4.  Returns ${buf}.
 */
const char *addr_format(const struct addr *a, char *buf, size_t len);

/* addr_unmap(a): turn an IPv4-mapped IPv6 address (::ffff:a.b.c.d) into IPv4. */
void	 addr_unmap(struct addr *a);

/* addr_port(a): the port in host order. */
unsigned addr_port(const struct addr *a);

/* addr_set_port(a, port): set the port (host order). */
void	 addr_set_port(struct addr *a, unsigned port);

/* addr_equal(a, b): same family, address, scope and port. */
bool	 addr_equal(const struct addr *a, const struct addr *b);

/* addr_is_any(a): 0.0.0.0 or :: (a wildcard listen address). */
bool	 addr_is_any(const struct addr *a);

/*
 * addr_overlap(a, b): true if listening on both at once would clash: the
 * same family and port, and the same address or either one a wildcard.
 * Never for port 0, which the kernel makes a new port on each bind.
 */
bool	 addr_overlap(const struct addr *a, const struct addr *b);

/* addr_from_sockaddr(a, sa, len): copy a kernel-given address into ${a}. */
void	 addr_from_sockaddr(struct addr *a, const struct sockaddr *sa,
	    socklen_t len);

#endif
