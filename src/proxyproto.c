/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxyproto.c: PROXY protocol v1 and v2 headers: a strict parser that
 * can tell "not yet whole" from "never valid", and a writer.  See
 * proxyproto.h.
 *
 * The parser reads bytes straight from a client that accept_proxy lets
 * send a header, so it is written for hostile input: it never reads past
 * ${len}, never allocates, bounds every field, and is fuzzed
 * (tests/fuzz/fuzz_proxyproto).  Being called again with more bytes each
 * time a read adds some, it must answer "wait" (0) for every prefix of a
 * valid header and "never" (-1) as soon as no continuation could be
 * valid, so that a garbage byte ends the session at once rather than at
 * proxy_timeout.
 *
 * Pure: no state, no I/O, no logging; any thread.  The session (on its
 * worker) owns the buffer and decides what an error costs.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "proxyproto.h"
#include "util.h"

/* The v1 fields, in the order they come on the line. */
enum pp_v1_field {
	PP_V1_MAGIC = 0,
	PP_V1_PROTO,
	PP_V1_SRC,
	PP_V1_DST,
	PP_V1_SPORT,
	PP_V1_DPORT,
	PP_V1_NFIELDS
};

/* v2: the signature (12), version and command, family, length (2). */
#define PP_V2_HDRLEN		16
#define PP_V2_CMD_LOCAL		0x0
#define PP_V2_CMD_PROXY		0x1
#define PP_V2_TYPE_CRC32C	0x03
/* CRC32c (Castagnoli), reflected, as RFC 4960 Appendix B computes it. */
#define PP_CRC32C_POLY		0x82f63b78u

/* "\r\n\r\n\0\r\nQUIT\n": chosen by the spec to be no valid v1 line. */
static const uint8_t pp_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* The fields' names in error messages, by enum pp_v1_field. */
static const char *const pp_v1_names[PP_V1_NFIELDS] = {
	"magic", "protocol", "source address", "destination address",
	"source port", "destination port"
};

/* ---- v1 ------------------------------------------------------------- */

/*
 * Is s[0..n) the proto field, or (when !whole) the start of one?  Sets
 * *fam to AF_INET, AF_INET6 or AF_UNSPEC (UNKNOWN) once it is whole.
 */
static int
pp_v1_proto(const char *s, size_t n, bool whole, int *fam)
{
	static const struct {
		const char	*name;
		int		 fam;
	} protos[] = {
		{ "TCP4", AF_INET }, { "TCP6", AF_INET6 },
		{ "UNKNOWN", AF_UNSPEC },
	};
	size_t	 i, plen;

	for (i = 0; i < NELEM(protos); i++) {
		plen = strlen(protos[i].name);
		if (whole ? n != plen : n > plen)
			continue;
		if (memcmp(s, protos[i].name, n) == 0) {
			if (whole)
				*fam = protos[i].fam;
			return 0;
		}
	}
	return -1;
}

/*
 * An address field.  A part of one is held to the same alphabet and
 * length as a whole one, so that no prefix of a valid line is refused.
 */
static int
pp_v1_addr(int fam, const char *s, size_t n, bool whole, void *out)
{
	char		 tmp[INET6_ADDRSTRLEN];
	const char	*ok;
	size_t		 max, i;

	if (fam == AF_INET) {
		ok = "0123456789.";
		max = INET_ADDRSTRLEN - 1;
	} else {
		ok = "0123456789abcdefABCDEF:.";
		max = INET6_ADDRSTRLEN - 1;
	}
	if (n > max)
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(ok, s[i]) == NULL)
			return -1;
	if (!whole)
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(fam, tmp, out) == 1 ? 0 : -1;
}

/*
 * A port: plain decimal 0..65535, no sign, no leading zero, so that each
 * port has exactly one spelling.  Returns 0, -1 (bad character or form)
 * or -2 (out of range).
 */
static int
pp_v1_port(const char *s, size_t n, bool whole, unsigned *port)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (n > 1 && s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535)
			return -2;
	}
	if (whole && n == 0)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* Where a v1 line's values go while it is being read. */
struct pp_v1 {
	int		 fam;		/* -1 until the proto field is whole */
	union {
		struct in_addr	 v4;
		struct in6_addr	 v6;
	}		 ip[2];
	unsigned	 port[2];
};

/* Check field ${idx}, s[0..n); ${whole} unless more of it may follow. */
static int
pp_v1_field(struct pp_v1 *v, int idx, const char *s, size_t n, bool whole,
    char *err, size_t errlen)
{
	int	 rc;

	if (whole && n == 0) {
		err_set(err, errlen, "v1: unexpected space");
		return -1;
	}
	switch (idx) {
	case PP_V1_MAGIC:
		if (whole ? n != 5 : n > 5)
			break;
		if (memcmp(s, "PROXY", n) == 0)
			return 0;
		break;
	case PP_V1_PROTO:
		if (pp_v1_proto(s, n, whole, &v->fam) == 0)
			return 0;
		err_set(err, errlen, "v1: bad protocol (not TCP4, TCP6 or "
		    "UNKNOWN)");
		return -1;
	case PP_V1_SRC:
	case PP_V1_DST:
		if (pp_v1_addr(v->fam, s, n, whole, &v->ip[idx - PP_V1_SRC])
		    == 0)
			return 0;
		err_set(err, errlen, "v1: bad %s %s", v->fam == AF_INET ?
		    "IPv4" : "IPv6", pp_v1_names[idx]);
		return -1;
	case PP_V1_SPORT:
	case PP_V1_DPORT:
		rc = pp_v1_port(s, n, whole, &v->port[idx - PP_V1_SPORT]);
		if (rc == 0)
			return 0;
		err_set(err, errlen, "v1: %s %s", pp_v1_names[idx], rc == -2 ?
		    "out of range" : "is not a plain decimal number");
		return -1;
	default:
		err_set(err, errlen, "v1: too many fields");
		return -1;
	}
	err_set(err, errlen, "not a PROXY protocol header");
	return -1;
}

/*
 * Split s[0..n) at single spaces and check each field; the last one may
 * be partial unless ${whole}.  After "UNKNOWN " anything goes.
 */
static int
pp_v1_fields(struct pp_v1 *v, const char *s, size_t n, bool whole,
    char *err, size_t errlen)
{
	size_t	 i, start = 0;
	int	 idx = 0;

	v->fam = -1;
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (pp_v1_field(v, idx, s + start, i - start, i < n || whole,
		    err, errlen) == -1)
			return -1;
		idx++;
		start = i + 1;
		if (v->fam == AF_UNSPEC)
			return 0;
	}
	if (whole && idx < PP_V1_NFIELDS) {
		err_set(err, errlen, "v1: missing %s", pp_v1_names[idx]);
		return -1;
	}
	return 0;
}

/* ${a} = IPv4 address ${ip} (4 bytes, network order), port ${port}. */
static void
pp_set_in4(struct addr *a, const void *ip, unsigned port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;

	memset(a, 0, sizeof(*a));
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, ip, sizeof(sin->sin_addr));
	sin->sin_port = htons((uint16_t)port);
	a->len = sizeof(*sin);
}

/* ${a} = IPv6 address ${ip} (16 bytes), port ${port}, unmapped. */
static void
pp_set_in6(struct addr *a, const void *ip, unsigned port)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, ip, sizeof(sin6->sin6_addr));
	sin6->sin6_port = htons((uint16_t)port);
	a->len = sizeof(*sin6);
	/* Callers compare and log IPv4 peers as IPv4, however they came. */
	addr_unmap(a);
}

/*
 * A v1 line: "PROXY TCP4 SRC DST SPORT DPORT\r\n", or "PROXY UNKNOWN
 * ...\r\n".  At most PROXYPROTO_V1_MAX bytes with the CRLF, which the
 * spec guarantees a sender keeps to, so a longer line is refused without
 * waiting for its end.  Returns as proxyproto_parse().
 */
static ssize_t
pp_v1_parse(const char *buf, size_t len, struct proxyproto_info *info,
    char *err, size_t errlen)
{
	struct pp_v1	 v;
	size_t		 end, n;
	bool		 whole;

	/* The line ends at the first CR or LF; only CRLF may end it. */
	n = len < PROXYPROTO_V1_MAX ? len : PROXYPROTO_V1_MAX;
	for (end = 0; end < n; end++)
		if (buf[end] == '\r' || buf[end] == '\n')
			break;
	whole = end < n;
	if (whole && buf[end] == '\n') {
		err_set(err, errlen, "v1: LF without CR");
		return -1;
	}
	if (whole && end + 2 > PROXYPROTO_V1_MAX) {
		err_set(err, errlen, "v1: no CRLF in the first %d bytes",
		    PROXYPROTO_V1_MAX);
		return -1;
	}
	if (whole && end + 1 < len && buf[end + 1] != '\n') {
		err_set(err, errlen, "v1: CR without LF");
		return -1;
	}
	/* A CR ends the text even before its LF is here. */
	if (pp_v1_fields(&v, buf, end, whole, err, errlen) == -1)
		return -1;
	if (!whole && len >= PROXYPROTO_V1_MAX) {
		err_set(err, errlen, "v1: no CRLF in the first %d bytes",
		    PROXYPROTO_V1_MAX);
		return -1;
	}
	if (!whole || end + 1 == len)
		return 0;

	memset(info, 0, sizeof(*info));
	info->version = 1;
	info->has_addr = v.fam != AF_UNSPEC;
	if (v.fam == AF_INET) {
		pp_set_in4(&info->src, &v.ip[0].v4, v.port[0]);
		pp_set_in4(&info->dst, &v.ip[1].v4, v.port[1]);
	} else if (v.fam == AF_INET6) {
		pp_set_in6(&info->src, &v.ip[0].v6, v.port[0]);
		pp_set_in6(&info->dst, &v.ip[1].v6, v.port[1]);
	}
	return (ssize_t)(end + 2);
}

/* ---- v2 ------------------------------------------------------------- */

/*
 * Bit by bit, no table: a header is at most about a kilobyte and carries
 * a CRC rarely, so 256 words of table would buy nothing that shows.
 */
static uint32_t
pp_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	int	 k;

	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? PP_CRC32C_POLY : 0);
	}
	return crc;
}

/* The CRC32c of hdr[0..n) with the 4 bytes at ${at} read as zeros. */
static uint32_t
pp_crc32c_hdr(const uint8_t *hdr, size_t n, size_t at)
{
	static const uint8_t	 zero[4];
	uint32_t		 crc = 0xffffffffu;

	crc = pp_crc32c(crc, hdr, at);
	crc = pp_crc32c(crc, zero, sizeof(zero));
	crc = pp_crc32c(crc, hdr + at + 4, n - at - 4);
	return ~crc;
}

/*
 * The size of the address block for a family/transport byte, or -1.
 * These are the spec's seven "valid combinations".  It says receivers
 * must refuse a family over 3 or a transport over 2; an UNSPEC half
 * beside a specified one (0x01, 0x10, ...) is in neither list and gives
 * the address block no defined size, so the TLVs after it could not be
 * found: refused too.
 */
static int
pp_v2_addrlen(uint8_t fam)
{
	switch (fam) {
	case 0x00:
		return 0;
	case 0x11:
	case 0x12:
		return 12;
	case 0x21:
	case 0x22:
		return 36;
	case 0x31:
	case 0x32:
		return 216;
	default:
		return -1;
	}
}

/*
 * The TLVs in hdr[off..n) must tile it exactly: a sender that gets the
 * framing wrong cannot be trusted with the addresses either.
 */
static int
pp_v2_tlvs(const uint8_t *hdr, size_t off, size_t n, char *err,
    size_t errlen)
{
	size_t	 tlen, crc_at = 0;
	uint32_t got;

	/* Each TLV: a type byte, a 2-byte big-endian length, the value. */
	while (off < n) {
		if (n - off < 3) {
			err_set(err, errlen, "v2: %zu stray bytes after the "
			    "TLVs", n - off);
			return -1;
		}
		tlen = (size_t)hdr[off + 1] << 8 | hdr[off + 2];
		if (tlen > n - off - 3) {
			err_set(err, errlen, "v2: TLV 0x%02x overruns the "
			    "header", hdr[off]);
			return -1;
		}
		if (hdr[off] == PP_V2_TYPE_CRC32C) {
			if (tlen != 4 || crc_at != 0) {
				err_set(err, errlen, "v2: bad CRC32c TLV (%s)",
				    crc_at != 0 ? "twice" : "length not 4");
				return -1;
			}
			crc_at = off + 3;
		}
		off += 3 + tlen;
	}
	if (crc_at == 0)
		return 0;
	got = (uint32_t)hdr[crc_at] << 24 | (uint32_t)hdr[crc_at + 1] << 16 |
	    (uint32_t)hdr[crc_at + 2] << 8 | hdr[crc_at + 3];
	if (got != pp_crc32c_hdr(hdr, n, crc_at)) {
		err_set(err, errlen, "v2: CRC32c mismatch");
		return -1;
	}
	return 0;
}

/*
 * The 16 fixed bytes, as far as buf[0..len) holds them.  Returns the
 * data length once all 16 are here, 0 before, or -1.
 */
static int
pp_v2_fixed(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	size_t	 dlen;
	int	 alen = 0;

	if (memcmp(p, pp_v2_sig, len < 12 ? len : 12) != 0) {
		err_set(err, errlen, "not a PROXY protocol header (bad v2 "
		    "signature)");
		return -1;
	}
	if (len > 12 && p[12] >> 4 != 2) {
		err_set(err, errlen, "v2: unsupported version %d", p[12] >> 4);
		return -1;
	}
	if (len > 12 && (p[12] & 0xf) > PP_V2_CMD_PROXY) {
		err_set(err, errlen, "v2: unknown command %d", p[12] & 0xf);
		return -1;
	}
	if (len > 13 && (alen = pp_v2_addrlen(p[13])) == -1) {
		err_set(err, errlen, "v2: unsupported address family and "
		    "transport 0x%02x", p[13]);
		return -1;
	}
	/* Already too long on the high byte alone: no need to wait. */
	dlen = len > 15 ? (size_t)p[14] << 8 | p[15] :
	    len > 14 ? (size_t)p[14] << 8 : 0;
	if (dlen > PROXYPROTO_V2_MAXDATA) {
		err_set(err, errlen, "v2: data length %zu over %d", dlen,
		    PROXYPROTO_V2_MAXDATA);
		return -1;
	}
	if (len < PP_V2_HDRLEN)
		return 0;
	if (dlen < (size_t)alen) {
		err_set(err, errlen, "v2: data length %zu too short for the "
		    "%d-byte address block", dlen, alen);
		return -1;
	}
	return (int)dlen;
}

/*
 * A v2 header: 16 fixed bytes, then the address block for its family and
 * transport, then TLVs to the end of the stated length.  Returns as
 * proxyproto_parse().
 */
static ssize_t
pp_v2_parse(const uint8_t *p, size_t len, struct proxyproto_info *info,
    char *err, size_t errlen)
{
	const uint8_t	*a = p + PP_V2_HDRLEN;
	size_t		 n;
	int		 dlen;

	if ((dlen = pp_v2_fixed(p, len, err, errlen)) == -1)
		return -1;
	/* The spec wants the whole block before any of it is parsed. */
	if (len < PP_V2_HDRLEN || len < PP_V2_HDRLEN + (size_t)dlen)
		return 0;
	n = PP_V2_HDRLEN + (size_t)dlen;
	if (pp_v2_tlvs(p, PP_V2_HDRLEN + (size_t)pp_v2_addrlen(p[13]), n,
	    err, errlen) == -1)
		return -1;

	memset(info, 0, sizeof(*info));
	info->version = 2;
	/* LOCAL: the proxy's own connection; its addresses mean nothing. */
	if ((p[12] & 0xf) == PP_V2_CMD_LOCAL)
		return (ssize_t)n;
	/*
	 * By family and transport: only TCP over IPv4 or IPv6 names a peer
	 * of a connection like the one we relay.  UDP (0x12, 0x22) names a
	 * datagram flow and its UDP ports, which must not become the TCP
	 * client that allow, deny, max_per_client and balance = source
	 * judge.  For the combinations a receiver does not support the spec
	 * says it "automatically falls back to the UNSPEC mode", in which
	 * "the receiver should ignore address information": so AF_UNSPEC,
	 * AF_UNIX and UDP leave has_addr false and the connection's own
	 * addresses stand, as HAProxy does.
	 */
	switch (p[13]) {
	case 0x11:
		pp_set_in4(&info->src, a, (unsigned)a[8] << 8 | a[9]);
		pp_set_in4(&info->dst, a + 4, (unsigned)a[10] << 8 | a[11]);
		info->has_addr = true;
		break;
	case 0x21:
		pp_set_in6(&info->src, a, (unsigned)a[32] << 8 | a[33]);
		pp_set_in6(&info->dst, a + 16, (unsigned)a[34] << 8 | a[35]);
		info->has_addr = true;
		break;
	}
	return (ssize_t)n;
}

ssize_t
proxyproto_parse(const void *buf, size_t len, struct proxyproto_info *info,
    char *err, size_t errlen)
{
	const uint8_t	*p = buf;

	if (len == 0)
		return 0;
	/* The two versions differ from the first byte on. */
	if (p[0] == 'P')
		return pp_v1_parse(buf, len, info, err, errlen);
	if (p[0] == pp_v2_sig[0])
		return pp_v2_parse(p, len, info, err, errlen);
	err_set(err, errlen, "not a PROXY protocol header");
	return -1;
}

/* ---- format --------------------------------------------------------- */

/*
 * The address of ${a} as 4 bytes, or as 16 when ${v6} (an IPv4 one then
 * IPv4-mapped), and its port.  -1 for other families.
 */
static int
pp_ip(const struct addr *a, bool v6, uint8_t ip[16], unsigned *port)
{
	const struct sockaddr_in	*sin = (const void *)&a->ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ss;

	if (a->ss.ss_family == AF_INET6) {
		memcpy(ip, &sin6->sin6_addr, 16);
	} else if (a->ss.ss_family == AF_INET && !v6) {
		memcpy(ip, &sin->sin_addr, 4);
	} else if (a->ss.ss_family == AF_INET) {
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &sin->sin_addr, 4);
	} else
		return -1;
	*port = addr_port(a);
	return 0;
}

/*
 * "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" into ${buf}, or -1 if it
 * does not fit in ${len}.  Formatted into a line of the spec's maximum
 * first, so a short ${buf} never receives half a header.
 */
static ssize_t
pp_format_v1(bool v6, uint8_t ip[2][16], const unsigned port[2],
    uint8_t *buf, size_t len)
{
	char	 line[PROXYPROTO_V1_MAX + 1];
	char	 s[2][INET6_ADDRSTRLEN];
	int	 fam = v6 ? AF_INET6 : AF_INET, n, i;

	for (i = 0; i < 2; i++)
		if (inet_ntop(fam, ip[i], s[i], sizeof(s[i])) == NULL)
			return -1;
	n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
	    v6 ? "TCP6" : "TCP4", s[0], s[1], port[0], port[1]);
	if (n < 0 || (size_t)n >= sizeof(line) || (size_t)n > len)
		return -1;
	memcpy(buf, line, (size_t)n);
	return n;
}

/*
 * A v2 PROXY command over TCP with the two addresses and ports, and no
 * TLVs: nothing relay46 knows needs one, and every receiver must take a
 * header without.  -1 if it does not fit in ${len}.
 */
static ssize_t
pp_format_v2(bool v6, uint8_t ip[2][16], const unsigned port[2],
    uint8_t *buf, size_t len)
{
	size_t	 alen = v6 ? 16 : 4, dlen = 2 * alen + 4, i;
	uint8_t	*p = buf + PP_V2_HDRLEN;

	if (len < PP_V2_HDRLEN + dlen)
		return -1;
	memcpy(buf, pp_v2_sig, sizeof(pp_v2_sig));
	buf[12] = 0x20 | PP_V2_CMD_PROXY;
	buf[13] = v6 ? 0x21 : 0x11;		/* TCP over IPv6 / IPv4 */
	buf[14] = 0;
	buf[15] = (uint8_t)dlen;
	for (i = 0; i < 2; i++) {
		memcpy(p + i * alen, ip[i], alen);
		p[2 * alen + 2 * i] = (uint8_t)(port[i] >> 8);
		p[2 * alen + 2 * i + 1] = (uint8_t)port[i];
	}
	return (ssize_t)(PP_V2_HDRLEN + dlen);
}

ssize_t
proxyproto_format(int version, const struct addr *src, const struct addr *dst,
    void *buf, size_t len)
{
	uint8_t		 ip[2][16];
	unsigned	 port[2];
	bool		 v6;

	/* One IPv6 end makes both IPv6: a header has a single family. */
	v6 = src->ss.ss_family == AF_INET6 || dst->ss.ss_family == AF_INET6;
	if (pp_ip(src, v6, ip[0], &port[0]) == -1 ||
	    pp_ip(dst, v6, ip[1], &port[1]) == -1)
		return -1;
	if (version == 1)
		return pp_format_v1(v6, ip, port, buf, len);
	if (version == 2)
		return pp_format_v2(v6, ip, port, buf, len);
	return -1;
}
