/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_TEST_DNS_H
#define RELAY46_TEST_DNS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A name server of the test's own, on a UDP port of 127.0.0.1, so
 * relay46's evdns path is tested against real DNS packets.  relay46 is
 * pointed at it by RELAY46_RESOLV_CONF=h_dns_resolv_conf(d).  It knows
 * one name; any other gets NXDOMAIN.  Main thread only, except that it
 * answers on a thread of its own.
 */
struct h_dns;

/* h_dns_start(): a new server (no name yet); h_fault() on failure. */
struct h_dns *h_dns_start(void);

/*
 * h_dns_set(d, name, addrs, n): from now on, ${name} has these ${n}
 * addresses (IPv4 and IPv6 text, answered to A and AAAA questions).
 */
void	h_dns_set(struct h_dns *d, const char *name,
	    const char *const *addrs, size_t n);

/* h_dns_silent(d, on): count questions but answer none (a dead server). */
void	h_dns_silent(struct h_dns *d, bool on);

/* h_dns_queries(d): questions received so far. */
unsigned h_dns_queries(struct h_dns *d);

/* h_dns_resolv_conf(d): a resolv.conf file naming this server. */
const char *h_dns_resolv_conf(const struct h_dns *d);

/* h_dns_free(d): stop and free it; NULL is fine. */
void	h_dns_free(struct h_dns *d);

#endif
