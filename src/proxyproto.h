/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_PROXYPROTO_H
#define RELAY46_PROXYPROTO_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/*
 * The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 (text)
 * and 2 (binary): the header a proxy sends first on a connection to tell
 * the server who the real client is.  Pure: no I/O, no logging.
 */

/* v1: "PROXY TCP6 <39> <39> 65535 65535\r\n" is 104 bytes; the spec's cap. */
#define PROXYPROTO_V1_MAX	107
/* v2: 16 fixed bytes and up to this much address and TLV data (ours). */
#define PROXYPROTO_V2_MAXDATA	1024
#define PROXYPROTO_MAX		(16 + PROXYPROTO_V2_MAXDATA)

struct proxyproto_info {
	int		 version;	/* 1 or 2 */
	/*
	 * true for v1 TCP4 and TCP6, and a v2 PROXY command for TCP over
	 * IPv4 or IPv6 (0x11, 0x21).  false for v1 "UNKNOWN", v2 LOCAL,
	 * and a v2 PROXY command for what we do not relay (AF_UNSPEC,
	 * AF_UNIX, UDP): the receiver then uses the connection's own
	 * addresses, the spec's "UNSPEC mode".
	 */
	bool		 has_addr;
	struct addr	 src, dst;	/* when has_addr; IPv4-mapped made IPv4 */
};

/*
 * proxyproto_parse(buf, len, info, err, errlen): look at the first ${len}
 * bytes a client sent.  Returns
 *   n > 0: buf[0..n) is one whole, valid header; ${info} is filled.
 *          Bytes from n on are payload and were not looked at.
 *   0:     buf[0..len) is a proper prefix of a header that could still be
 *          valid, so every one of those bytes belongs to the header: the
 *          caller may consume them and wait for more.  (len 0 gives 0.)
 *   -1:    not a valid header (wrong signature, malformed, over-long:
 *          more than PROXYPROTO_V1_MAX bytes without CRLF, or v2 data
 *          longer than PROXYPROTO_V2_MAXDATA); the reason is in ${err}.
 * Never reads buf[len] or beyond.  v2 TLVs are checked for framing (each
 * fits in the header) and otherwise skipped.
 */
ssize_t	 proxyproto_parse(const void *buf, size_t len,
	    struct proxyproto_info *info, char *err, size_t errlen);

/*
 * proxyproto_format(version, src, dst, buf, len): write the header for a
 * TCP connection from ${src} to ${dst} (version 1 or 2) into ${buf} of
 * ${len} bytes (PROXYPROTO_MAX is always enough).  If one address is
 * IPv4 and the other IPv6, the IPv4 one is written IPv4-mapped (TCP6 /
 * AF_INET6).  Returns the header length, or -1 if ${len} is too small or
 * a family is neither AF_INET nor AF_INET6.
 */
ssize_t	 proxyproto_format(int version, const struct addr *src,
	    const struct addr *dst, void *buf, size_t len);

#endif
