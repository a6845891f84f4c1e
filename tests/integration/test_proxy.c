/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The PROXY protocol over real sockets.  Sending (proxy_protocol = v1,
 * v2): a backend in the test accepts relay46's connection, parses the
 * header with its own parser (written from HAProxy's proxy-protocol.txt,
 * independent of src/proxyproto.c) and compares it byte for byte with
 * what the spec says for the real client and listener addresses; the
 * client's bytes must follow unchanged.  Receiving (accept_proxy = on):
 * good v1/v2 headers, LOCAL and UNKNOWN, TLVs, headers split over
 * segments, every kind of bad header and a burst of them (warnings held
 * back), proxy_timeout, the warning or error for a route without
 * proxy_from, the header's source used for source hashing, and a chain
 * of two relay46 processes.  Who may send a header (proxy_from) is in
 * test_access.c.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PAYLOAD		5000
#define V1_MAX		107	/* the spec: a v1 line is at most this long */
#define V2_SIGLEN	12
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const uint8_t v2sig[V2_SIGLEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* --- an independent PROXY header parser ---------------------------------- */

struct pp {
	int		 version;	/* 1 or 2 */
	bool		 local;		/* v2 LOCAL, v1 UNKNOWN */
	int		 family;	/* AF_INET, AF_INET6, or 0 */
	char		 src[INET6_ADDRSTRLEN];
	char		 dst[INET6_ADDRSTRLEN];
	unsigned	 sport, dport;
	size_t		 tlv_len;	/* v2: bytes after the addresses */
};

/* A decimal port as the spec writes it: 0..65535, no leading zero. */
static bool
pp_port(const char *s, size_t len, unsigned *port)
{
	size_t		 i;
	unsigned long	 v = 0;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

/* An address of ${family} exactly as inet_ntop() writes it. */
static bool
pp_addr(int family, const char *s, size_t len, char *out)
{
	uint8_t	 bin[16];
	char	 tmp[INET6_ADDRSTRLEN], back[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(family, tmp, bin) != 1 ||
	    inet_ntop(family, bin, back, sizeof(back)) == NULL ||
	    strcmp(back, tmp) != 0)
		return false;
	strcpy(out, tmp);
	return true;
}

/* v1: returns the header length, 0 for "need more", -1 if malformed. */
static ssize_t
pp_parse_v1(const uint8_t *b, size_t n, struct pp *pp, char *why, size_t wl)
{
	const char	*f[6];
	size_t		 flen[6], nf = 0, i, start, end;
	const uint8_t	*crlf = NULL;

	for (i = 0; i + 1 < n && i + 1 < V1_MAX; i++)
		if (b[i] == '\r' && b[i + 1] == '\n') {
			crlf = b + i;
			break;
		}
	if (crlf == NULL) {
		if (n >= V1_MAX) {
			snprintf(why, wl, "no CRLF within %d bytes", V1_MAX);
			return -1;
		}
		return 0;
	}
	end = (size_t)(crlf - b);
	/* Fields separated by exactly one space. */
	for (start = 0, i = 0; i <= end; i++)
		if (i == end || b[i] == ' ') {
			if (nf == 6) {
				snprintf(why, wl, "too many fields");
				return -1;
			}
			f[nf] = (const char *)b + start;
			flen[nf++] = i - start;
			start = i + 1;
		}
	if (flen[0] != 5 || memcmp(f[0], "PROXY", 5) != 0) {
		snprintf(why, wl, "v1: no PROXY");
		return -1;
	}
	memset(pp, 0, sizeof(*pp));
	pp->version = 1;
	if (nf >= 2 && flen[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
		pp->local = true;
		return (ssize_t)(end + 2);
	}
	if (nf != 6) {
		snprintf(why, wl, "v1: %zu fields", nf);
		return -1;
	}
	if (flen[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
		pp->family = AF_INET;
	else if (flen[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
		pp->family = AF_INET6;
	else {
		snprintf(why, wl, "v1: bad protocol");
		return -1;
	}
	if (!pp_addr(pp->family, f[2], flen[2], pp->src) ||
	    !pp_addr(pp->family, f[3], flen[3], pp->dst) ||
	    !pp_port(f[4], flen[4], &pp->sport) ||
	    !pp_port(f[5], flen[5], &pp->dport)) {
		snprintf(why, wl, "v1: bad address or port");
		return -1;
	}
	return (ssize_t)(end + 2);
}

static ssize_t
pp_parse_v2(const uint8_t *b, size_t n, struct pp *pp, char *why, size_t wl)
{
	size_t	 len, alen, off;

	if (n < 16)
		return 0;
	len = (size_t)b[14] << 8 | b[15];
	if (n < 16 + len)
		return 0;
	memset(pp, 0, sizeof(*pp));
	pp->version = 2;
	if ((b[12] >> 4) != 2) {
		snprintf(why, wl, "v2: version %d", b[12] >> 4);
		return -1;
	}
	switch (b[12] & 0x0f) {
	case 0:
		pp->local = true;
		return (ssize_t)(16 + len);
	case 1:
		break;
	default:
		snprintf(why, wl, "v2: command %d", b[12] & 0x0f);
		return -1;
	}
	switch (b[13]) {
	case 0x11:
		pp->family = AF_INET;
		alen = 12;
		break;
	case 0x21:
		pp->family = AF_INET6;
		alen = 36;
		break;
	default:
		snprintf(why, wl, "v2: family/transport %#x", b[13]);
		return -1;
	}
	if (len < alen) {
		snprintf(why, wl, "v2: %zu bytes for %zu of addresses", len, alen);
		return -1;
	}
	off = 16;
	inet_ntop(pp->family, b + off, pp->src, sizeof(pp->src));
	inet_ntop(pp->family, b + off + alen / 2 - 2, pp->dst, sizeof(pp->dst));
	pp->sport = (unsigned)b[off + alen - 4] << 8 | b[off + alen - 3];
	pp->dport = (unsigned)b[off + alen - 2] << 8 | b[off + alen - 1];
	pp->tlv_len = len - alen;
	/* TLVs: type, 16-bit length, value; each must fit. */
	for (off = 16 + alen; off < 16 + len;) {
		size_t	 tl;

		if (16 + len - off < 3) {
			snprintf(why, wl, "v2: a TLV cut short");
			return -1;
		}
		tl = (size_t)b[off + 1] << 8 | b[off + 2];
		if (off + 3 + tl > 16 + len) {
			snprintf(why, wl, "v2: a TLV overflows the header");
			return -1;
		}
		off += 3 + tl;
	}
	return (ssize_t)(16 + len);
}

/*
 * pp_parse(b, n, pp, why, wl): the header at the start of ${b}: its
 * length, 0 while it may still be a prefix of one, -1 if it is not one.
 */
static ssize_t
pp_parse(const uint8_t *b, size_t n, struct pp *pp, char *why, size_t wl)
{
	size_t	 k;

	k = n < V2_SIGLEN ? n : V2_SIGLEN;
	if (memcmp(b, v2sig, k) == 0)
		return n < V2_SIGLEN ? 0 : pp_parse_v2(b, n, pp, why, wl);
	k = n < 6 ? n : 6;
	if (memcmp(b, "PROXY ", k) == 0)
		return n < 6 ? 0 : pp_parse_v1(b, n, pp, why, wl);
	snprintf(why, wl, "neither a v1 nor a v2 header");
	return -1;
}

/* --- building expected headers ---------------------------------------------- */

/* The text of ${ss}'s address and its port. */
static void
sa_text(const struct sockaddr_storage *ss, char *buf, size_t len,
    unsigned *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len);
		*port = ntohs(s4->sin_port);
	}
}

/* The client side of ${fd}: its own address (src) and its peer's (dst). */
static void
fd_addrs(int fd, struct sockaddr_storage *src, struct sockaddr_storage *dst)
{
	socklen_t	 l1 = sizeof(*src), l2 = sizeof(*dst);

	if (getsockname(fd, (struct sockaddr *)src, &l1) == -1 ||
	    getpeername(fd, (struct sockaddr *)dst, &l2) == -1)
		fail_msg("getsockname/getpeername: %s", strerror(errno));
}

/* The header the spec gives for a TCP connection ${src} -> ${dst}. */
static size_t
expected_header(int version, const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst, uint8_t *out, size_t outlen)
{
	char		 s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	unsigned	 sp, dp;
	int		 n;
	size_t		 alen;

	assert_int_equal(src->ss_family, dst->ss_family);
	sa_text(src, s, sizeof(s), &sp);
	sa_text(dst, d, sizeof(d), &dp);
	if (version == 1) {
		n = snprintf((char *)out, outlen, "PROXY %s %s %s %u %u\r\n",
		    src->ss_family == AF_INET6 ? "TCP6" : "TCP4", s, d, sp, dp);
		assert_true(n > 0 && (size_t)n < outlen);
		return (size_t)n;
	}
	alen = src->ss_family == AF_INET6 ? 36 : 12;
	assert_true(outlen >= 16 + alen);
	memcpy(out, v2sig, V2_SIGLEN);
	out[12] = 0x21;		/* version 2, PROXY */
	out[13] = src->ss_family == AF_INET6 ? 0x21 : 0x11;	/* STREAM */
	out[14] = 0;
	out[15] = (uint8_t)alen;
	if (src->ss_family == AF_INET6) {
		memcpy(out + 16, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
		memcpy(out + 32, &((const struct sockaddr_in6 *)dst)->sin6_addr, 16);
	} else {
		memcpy(out + 16, &((const struct sockaddr_in *)src)->sin_addr, 4);
		memcpy(out + 20, &((const struct sockaddr_in *)dst)->sin_addr, 4);
	}
	out[16 + alen - 4] = (uint8_t)(sp >> 8);
	out[16 + alen - 3] = (uint8_t)sp;
	out[16 + alen - 2] = (uint8_t)(dp >> 8);
	out[16 + alen - 1] = (uint8_t)dp;
	return 16 + alen;
}

/* Printable dump of a header, for failure messages. */
static const char *
dump(const uint8_t *b, size_t n)
{
	static char	 out[4 * 300 + 1];
	size_t		 i, o = 0;

	for (i = 0; i < n && o + 5 < sizeof(out); i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
			out[o++] = (char)b[i];
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x",
			    b[i]);
	}
	out[o] = '\0';
	return out;
}

/*
 * The backend's side: accept relay46's connection on ${lfd}, read and
 * parse the header (into ${pp}; its raw bytes into ${raw}, length
 * returned), then the ${paylen} bytes of stream ${seed}, which must
 * follow unchanged.  Returns the accepted fd.
 */
static int
backend_take(int lfd, struct pp *pp, uint8_t *raw, size_t rawcap,
    size_t *rawlen, uint64_t seed, size_t paylen)
{
	uint8_t		*buf;
	size_t		 have = 0, cap = rawcap + paylen + 1;
	int64_t		 deadline = h_now_ms() + H_IO_MS, bad;
	ssize_t		 hl = 0, n;
	unsigned	 i;
	char		 why[128] = "";
	int		 fd;

	if ((fd = h_accept(lfd, H_IO_MS)) == -1)
		fail_msg("the backend accepted no connection: %s",
		    strerror(errno));
	if ((buf = malloc(cap)) == NULL)
		h_fault("out of memory");
	/* Byte by byte until the header is whole: never read past it. */
	for (i = 0; i < 100000u && hl == 0; i++) {
		struct pollfd	 p = { fd, POLLIN, 0 };

		if (have == rawcap)
			fail_msg("no header within %zu bytes: %s", rawcap,
			    dump(buf, have));
		n = recv(fd, buf + have, 1, 0);
		if (n == 1) {
			have++;
			hl = pp_parse(buf, have, pp, why, sizeof(why));
			if (hl == -1)
				fail_msg("the backend got a bad PROXY header "
				    "(%s): %s", why, dump(buf, have));
			continue;
		}
		if (n == 0)
			fail_msg("EOF inside the PROXY header: %s",
			    dump(buf, have));
		if (errno != EAGAIN && errno != EINTR)
			fail_msg("recv: %s", strerror(errno));
		if (h_left(deadline) == 0)
			fail_msg("no whole PROXY header in time: %s",
			    dump(buf, have));
		(void)poll(&p, 1, h_left(deadline));
	}
	memcpy(raw, buf, (size_t)hl);
	*rawlen = (size_t)hl;
	if (paylen > 0) {
		size_t	 got = 0;
		int	 end = h_recv_n(fd, buf, paylen, H_IO_MS, &got);

		if (end != H_OK)
			fail_msg("payload after the header: %zu of %zu bytes, %s",
			    got, paylen, h_end_str(end));
		if ((bad = h_pattern_check(seed, 0, buf, paylen)) != -1)
			fail_msg("payload byte %lld differs", (long long)bad);
	}
	free(buf);
	return fd;
}

/* Send ${len} bytes of stream ${seed} on ${fd}. */
static void
send_stream(int fd, uint64_t seed, size_t len)
{
	uint8_t	*b;

	if ((b = malloc(len)) == NULL)
		h_fault("out of memory");
	h_pattern(seed, 0, b, len);
	H_ASSERT_END(h_send_all(fd, b, len, H_IO_MS), H_OK, H_OK);
	free(b);
}

/* Receive exactly ${len} bytes of stream ${seed} on ${fd}. */
static void
recv_stream(int fd, uint64_t seed, size_t len)
{
	uint8_t	*b;
	size_t	 got = 0;
	int	 end;

	if ((b = malloc(len + 1)) == NULL)
		h_fault("out of memory");
	end = h_recv_n(fd, b, len, H_IO_MS, &got);
	if (end != H_OK)
		fail_msg("received %zu of %zu bytes: %s", got, len,
		    h_end_str(end));
	assert_int_equal(h_pattern_check(seed, 0, b, len), -1);
	free(b);
}

/* --- proxy_protocol = v1 | v2 ------------------------------------------- */

/*
 * A client (from ${src} unless NULL, on ${family}) through a relay that
 * listens on ${listen} (NULL: the family's loopback) and sends a header
 * of each of ${versions} in turn (a relay each) to a parsing backend.
 * The header must come first, even before the client says anything
 * (server-speaks-first protocols need that), be byte-exact, and name the
 * address the client reached, never a wildcard; the payload must follow
 * it, and the reply must come back untouched, without any header.  A new
 * such scenario is a new row.
 */
struct send_row {
	const char	*name;
	int		 family;
	const char	*listen;
	const char	*src;
	int		 versions[2];	/* 1 or 2; 0: none */
};

static const struct send_row send_rows[] = {
	{ "send_v1_v4", AF_INET, NULL, "127.0.0.7", { 1, 0 } },
	{ "send_v2_v4", AF_INET, NULL, "127.0.0.8", { 2, 0 } },
	{ "send_v1_v6", AF_INET6, NULL, NULL, { 1, 0 } },
	{ "send_v2_v6", AF_INET6, NULL, NULL, { 2, 0 } },
	/* Wildcard listeners (0.0.0.0:P, [::]:P), both versions. */
	{ "send_wild_v4", AF_INET, "0.0.0.0:0", NULL, { 1, 2 } },
	{ "send_wild_v6", AF_INET6, "[::]:0", NULL, { 1, 2 } },
};

/*
 * The header the backend got for client ${fd} (as ${raw}, ${rawlen}
 * bytes, parsed into ${pp}) is the one the spec gives, for the listener
 * on ${port}.
 */
static void
check_header(const struct send_row *row, int version, int fd, int port,
    const struct pp *pp, const uint8_t *raw, size_t rawlen)
{
	struct sockaddr_storage	 cs, cd;
	uint8_t			 want[256];
	size_t			 wantlen;
	char			 csrc[INET6_ADDRSTRLEN], cdst[INET6_ADDRSTRLEN];
	unsigned		 csp, cdp;

	fd_addrs(fd, &cs, &cd);
	sa_text(&cs, csrc, sizeof(csrc), &csp);
	sa_text(&cd, cdst, sizeof(cdst), &cdp);
	wantlen = expected_header(version, &cs, &cd, want, sizeof(want));
	print_message("v%d from %s:%u to %s:%u: backend got %zu bytes: %s\n",
	    version, csrc, csp, cdst, cdp, rawlen, dump(raw, rawlen));
	assert_int_equal(pp->version, version);
	assert_false(pp->local);
	assert_int_equal(pp->family, row->family);
	assert_string_equal(pp->src, csrc);
	assert_string_equal(pp->dst, cdst);
	assert_string_equal(pp->dst,
	    row->family == AF_INET6 ? "::1" : "127.0.0.1");
	assert_int_equal(pp->sport, csp);
	assert_int_equal(pp->dport, cdp);
	assert_int_equal(pp->dport, port);
	assert_int_equal(pp->tlv_len, 0);
	if (rawlen != wantlen || memcmp(raw, want, wantlen) != 0)
		fail_msg("header is not byte-exact: got %s", dump(raw, rawlen));
}

static void
send_header(const struct send_row *row, int version)
{
	struct h_relay		*r;
	struct pp		 pp;
	uint8_t			 raw[256];
	size_t			 rawlen;
	int			 lfd, bport = 0, port, fd, bfd;

	lfd = h_listen_at("127.0.0.1", &bport);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route pp]\nlisten = %s\nupstream = %s\nproxy_protocol = v%d\n",
	    row->listen != NULL ? row->listen : h_hostport(row->family, 0),
	    h_hostport(AF_INET, bport), version);
	port = h_relay_ready_port(r, "pp", 0);
	/* To the family's loopback, also through a wildcard listener. */
	fd = row->src == NULL ?
	    h_connect_port(row->family, port, H_IO_MS) :
	    h_relay_connect_from(r, "pp", row->family, row->src);
	assert_true(fd != -1);
	/* Nothing sent yet: the header alone must arrive. */
	bfd = backend_take(lfd, &pp, raw, sizeof(raw), &rawlen, 0, 0);
	check_header(row, version, fd, port, &pp, raw, rawlen);
	/* Then the client's bytes, unchanged, and the reply back. */
	send_stream(fd, 77, PAYLOAD);
	recv_stream(bfd, 77, PAYLOAD);
	send_stream(bfd, 78, PAYLOAD);
	recv_stream(fd, 78, PAYLOAD);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(bfd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(bfd);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
	H_EXPECT_LOG(r, "end=done");
	h_relay_finish(r);
	close(lfd);
}

static void
run_send(void **state)
{
	const struct send_row	*row = *state;
	size_t			 i;

	if (row->family == AF_INET6)
		h_require_ipv6();
	for (i = 0; i < NELEM(row->versions); i++)
		if (row->versions[i] != 0)
			send_header(row, row->versions[i]);
}

/* --- accept_proxy = on: good headers ----------------------------------------- */

/*
 * A v2 header for ${family} from src:sport to dst:dport, over UDP if
 * ${udp} (else TCP), ${tlv} appended.
 */
static size_t
v2_header(uint8_t *out, int cmd, int family, bool udp, const char *src,
    unsigned sport, const char *dst, unsigned dport, const uint8_t *tlv,
    size_t tlvlen)
{
	size_t	 alen = family == AF_INET6 ? 36 : family == AF_INET ? 12 : 0;
	size_t	 len = alen + tlvlen;

	memcpy(out, v2sig, V2_SIGLEN);
	out[12] = (uint8_t)(0x20 | cmd);
	out[13] = family == AF_INET6 ? 0x21 : family == AF_INET ? 0x11 : 0x00;
	if (family != 0 && udp)
		out[13] = (uint8_t)(out[13] + 1);
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	if (family != 0) {
		assert_int_equal(inet_pton(family, src, out + 16), 1);
		assert_int_equal(inet_pton(family, dst, out + 16 + alen / 2 - 2),
		    1);
		out[16 + alen - 4] = (uint8_t)(sport >> 8);
		out[16 + alen - 3] = (uint8_t)sport;
		out[16 + alen - 2] = (uint8_t)(dport >> 8);
		out[16 + alen - 1] = (uint8_t)dport;
	}
	if (tlvlen > 0)
		memcpy(out + 16 + alen, tlv, tlvlen);
	return 16 + len;
}

/*
 * Send ${hdr} and PAYLOAD bytes in one go (or the header in two parts
 * with a pause between, ${split} > 0) through an accept_proxy relay to
 * an echo backend: the echo must be the payload alone; the backend must
 * have received nothing else; the end line must show ${client}, and the
 * real peer as via= (unless ${local}).
 */
static void
accept_good(struct h_relay *r, struct h_backend *b, const uint8_t *hdr,
    size_t hdrlen, size_t split, const char *client, bool local,
    uint64_t seed)
{
	struct h_backend_stats	 before, after;
	char			 a[128], v[64];
	uint8_t			*msg;
	int			 fd, port;

	h_backend_stats(b, &before);
	fd = h_relay_connect(r, "ap", AF_INET);
	port = h_sock_port(fd, false);
	if ((msg = malloc(hdrlen + PAYLOAD)) == NULL)
		h_fault("out of memory");
	memcpy(msg, hdr, hdrlen);
	h_pattern(seed, 0, msg + hdrlen, PAYLOAD);
	if (split > 0) {
		struct pollfd	 p = { fd, POLLIN, 0 };

		H_ASSERT_END(h_send_all(fd, msg, split, H_IO_MS), H_OK, H_OK);
		/* Half a header: relay46 must wait, neither answer nor close. */
		assert_int_equal(poll(&p, 1, 200), 0);
		H_ASSERT_END(h_send_all(fd, msg + split, hdrlen - split +
		    PAYLOAD, H_IO_MS), H_OK, H_OK);
	} else
		H_ASSERT_END(h_send_all(fd, msg, hdrlen + PAYLOAD, H_IO_MS),
		    H_OK, H_OK);
	free(msg);
	recv_stream(fd, seed, PAYLOAD);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
	assert_true(h_backend_wait(b, before.accepted + 1, before.done + 1,
	    before.rx + PAYLOAD, H_IO_MS));
	h_backend_stats(b, &after);
	/* Not one byte of the header went upstream. */
	assert_int_equal(after.rx - before.rx, PAYLOAD);
	if (local) {
		snprintf(a, sizeof(a), "client=127.0.0.1:%d ", port);
		H_EXPECT_LOG_LINE(r, a, "end=done");
	} else {
		snprintf(a, sizeof(a), "client=%s via=127.0.0.1:%d upstream=",
		    client, port);
		snprintf(v, sizeof(v), "end=done");
		H_EXPECT_LOG_LINE(r, a, v);
	}
}

static struct h_relay *
accept_relay(struct h_backend *b, const char *extra)
{
	return h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route ap]\nlisten = %s\nupstream = %s\naccept_proxy = on\n%s",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)),
	    extra);
}

/*
 * Good headers, as rows: each step is a client that sends the v1 header
 * ${v1} or the v2 header ${v2} (in two parts when ${split} is not 0, the
 * first that long, or counted from the end when negative) and is served
 * as accept_good() says, with the session line showing ${client} (NULL:
 * the real peer, for LOCAL and UNKNOWN).  All the steps of a row go
 * through one relay.  A new such scenario is a new row.
 */
struct v2 {
	int		 cmd;		/* as v2_header() takes them */
	int		 family;
	const char	*src;
	unsigned	 sport;
	const char	*dst;
	unsigned	 dport;
	const uint8_t	*tlv;
	size_t		 tlvlen;
	bool		 udp;		/* DGRAM (0x2) rather than STREAM */
};

struct good {
	const char	*v1;		/* this v1 header, or */
	const struct v2	*v2;		/* this v2 header; both NULL: no more */
	int		 split;
	const char	*client;
};

struct accept_row {
	const char	*name;
	struct good	 steps[4];
};

/* PP2_TYPE_NOOP (0x04) with 3 bytes, PP2_TYPE_AUTHORITY (0x02) with 8. */
static const uint8_t tlv_noop_authority[] = { 0x04, 0x00, 0x03, 0xaa, 0xbb,
	0xcc, 0x02, 0x00, 0x08, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.' };
static const uint8_t tlv_noop[] = { 0x04, 0x00, 0x01, 0x00 };

static const struct v2 v2_tcp4 = { 1, AF_INET, "192.0.2.20", 1234,
	"198.51.100.2", 80, NULL, 0, false };
static const struct v2 v2_tcp6_tlvs = { 1, AF_INET6, "2001:db8::7", 4444,
	"2001:db8::1", 443, tlv_noop_authority, sizeof(tlv_noop_authority),
	false };
static const struct v2 v2_local = { 0, 0, NULL, 0, NULL, 0, NULL, 0, false };
/* LOCAL with addresses and a TLV: the addresses are ignored. */
static const struct v2 v2_local_addrs = { 0, AF_INET, "192.0.2.30", 1,
	"192.0.2.31", 2, tlv_noop, sizeof(tlv_noop), false };
/* PROXY for UDP: a datagram flow's addresses are no TCP client. */
static const struct v2 v2_udp4 = { 1, AF_INET, "192.0.2.40", 53, "198.51.100.4",
	53, NULL, 0, true };
static const struct v2 v2_udp6_tlv = { 1, AF_INET6, "2001:db8::40", 443,
	"2001:db8::4", 443, tlv_noop, sizeof(tlv_noop), true };

#define V1_TCP4 "PROXY TCP4 192.0.2.10 198.51.100.1 5555 443\r\n"

static const struct accept_row accept_rows[] = {
	{ "accept_v1",
	    {
		{ V1_TCP4, NULL, 0, "192.0.2.10:5555" },
		{ "PROXY TCP6 2001:db8::10 2001:db8::1 65535 443\r\n", NULL, 0,
		    "[2001:db8::10]:65535" },
		/* Split inside the address, and right before the CRLF. */
		{ V1_TCP4, NULL, 14, "192.0.2.10:5555" },
		{ V1_TCP4, NULL, -1, "192.0.2.10:5555" },
	    } },
	{ "accept_v2",
	    {
		{ NULL, &v2_tcp4, 0, "192.0.2.20:1234" },
		{ NULL, &v2_tcp6_tlvs, 0, "[2001:db8::7]:4444" },
		/* Split in the signature, and in the TLVs. */
		{ NULL, &v2_tcp6_tlvs, 5, "[2001:db8::7]:4444" },
		{ NULL, &v2_tcp6_tlvs, -4, "[2001:db8::7]:4444" },
	    } },
	/*
	 * LOCAL (v2) and UNKNOWN (v1) carry no client: the real connection's
	 * addresses are used.
	 */
	{ "accept_local",
	    {
		{ NULL, &v2_local, 0, NULL },
		{ NULL, &v2_local_addrs, 0, NULL },
		{ "PROXY UNKNOWN\r\n", NULL, 0, NULL },
		{ "PROXY UNKNOWN 192.0.2.1 192.0.2.2 1 2\r\n", NULL, 0, NULL },
	    } },
	/*
	 * PROXY for UDP: accepted, but in the spec's UNSPEC mode (we relay
	 * TCP alone), so the real connection's addresses are used too.
	 */
	{ "accept_udp",
	    {
		{ NULL, &v2_udp4, 0, NULL },
		{ NULL, &v2_udp6_tlv, 0, NULL },
		{ NULL, &v2_udp6_tlv, -2, NULL },
	    } },
};

/* The bytes of step ${g}'s header into ${out}; returns their count. */
static size_t
hdr_bytes(const struct good *g, uint8_t *out, size_t outlen)
{
	const struct v2	*h = g->v2;
	size_t		 n;

	if (g->v1 != NULL) {
		n = strlen(g->v1);
		assert_true(n <= outlen);
		memcpy(out, g->v1, n);
		return n;
	}
	assert_true(16 + 36 + h->tlvlen <= outlen);
	return v2_header(out, h->cmd, h->family, h->udp, h->src, h->sport,
	    h->dst, h->dport, h->tlv, h->tlvlen);
}

static void
run_accept(void **state)
{
	const struct accept_row	*row = *state;
	const struct good	*g;
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	uint8_t			 h[256];
	size_t			 n, split, i;

	b = h_backend_start(AF_INET, &cfg);
	r = accept_relay(b, "");
	for (i = 0; i < NELEM(row->steps); i++) {
		g = &row->steps[i];
		if (g->v1 == NULL && g->v2 == NULL)
			break;
		n = hdr_bytes(g, h, sizeof(h));
		split = g->split < 0 ? n - (size_t)-g->split : (size_t)g->split;
		accept_good(r, b, h, n, split, g->client, g->client == NULL,
		    i + 1);
	}
	h_relay_finish(r);
	h_backend_free(b);
}

/* --- accept_proxy = on: bad headers ----------------------------------------- */

/*
 * Headers that are bad, or never whole, as rows: each client of a row
 * sends one input (and with ${eof} shuts its side down), then is closed
 * with no byte back (within ${min_ms} to ${max_ms} of its connect when
 * ${max_ms} is not 0) and gets its own end=${end} line.  The backend
 * receives nothing.  Then ${needle} must be in the log and ${absent} not.
 * All the inputs of a row go through one relay, started with ${keys}.  A
 * new bad header is a new line of an input table.
 */
struct input {
	const char	*name;
	const char	*bytes;
	size_t		 len;
	bool		 eof;
};

#define BYTES(s)	s, sizeof(s) - 1
#define SIG		"\r\n\r\n\0\r\nQUIT\n"	/* v2's signature */
/* v2's TCP4 addresses: 192.0.2.1 port 1 to 192.0.2.2 port 2. */
#define V2_TCP4		"\xc0\x00\x02\x01\xc0\x00\x02\x02\x00\x01\x00\x02"
/* "PROXY TCP4 " and 189 digits: 200 bytes without a CRLF. */
#define X10(s)		s s s s s s s s s s
#define V1_LONG		"PROXY TCP4 " X10(X10("1")) X10("11111111") "111111111"

/* Every malformed header we can think of. */
static const struct input bad_inputs[] = {
	{ "no header at all", BYTES("GET / HTTP/1.0\r\n\r\n"), false },
	{ "lower-case proxy", BYTES("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    false },
	{ "bad IPv4", BYTES("PROXY TCP4 300.1.2.3 5.6.7.8 1 2\r\n"), false },
	{ "port > 65535", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n"),
	    false },
	{ "TCP5", BYTES("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), false },
	{ "missing port", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), false },
	{ "IPv6 under TCP4", BYTES("PROXY TCP4 ::1 ::1 1 2\r\n"), false },
	{ "LF without CR",
	    BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET / HTTP/1.0\r\n"),
	    false },
	{ "v1 over-long, no CRLF", BYTES(V1_LONG), false },
	{ "v1 cut short, then EOF", BYTES("PROXY TCP4 192.0.2.1 "), true },
	{ "v2 version 1", BYTES(SIG "\x11\x11\x00\x0c" V2_TCP4), false },
	{ "v2 command 15", BYTES(SIG "\x2f\x11\x00\x0c" V2_TCP4), false },
	{ "v2 length 65535", BYTES(SIG "\x21\x11\xff\xff" V2_TCP4), false },
	{ "v2 TCP4 with 8 address bytes",
	    BYTES(SIG "\x21\x11\x00\x08"
		      "\xc0\x00\x02\x01\xc0\x00\x02\x02"),
	    false },
	{ "v2 TLV longer than the header",
	    BYTES(SIG "\x21\x11\x00\x10" V2_TCP4 "\x04\x00\x10\x00"), false },
	{ "v2 cut short, then EOF",
	    BYTES(SIG "\x21\x11\x00\x10\xc0\x00\x02\x01"), true },
	{ "v2 signature cut short, then EOF", BYTES("\r\n\r\n\0\r\n"), true },
};

/* The start of a header that never goes on (or none at all). */
static const struct input slow_inputs[] = {
	{ "v1 begun", BYTES("PROXY TCP4 192.0.2.1 "), false },
	{ "nothing", BYTES(""), false },
	{ "v2 signature alone", BYTES(SIG), false },
};

struct reject_row {
	const char		*name;
	const char		*keys;		/* more route keys */
	const struct input	*inputs;
	size_t			 ninputs;
	bool			 waits;		/* relay46 waits for more: every
						   byte must go out */
	const char		*end;
	int64_t			 min_ms;
	int64_t			 max_ms;
	const char		*needle;
	const char		*absent;
};

static const struct reject_row reject_rows[] = {
	/*
	 * Each bad header closes the client well before connect_timeout
	 * (5 s), with end=proxy_error on its line.
	 */
	{ "accept_bad", "connect_timeout = 5s\n", bad_inputs, NELEM(bad_inputs),
	    false, "proxy_error", 0, 0, NULL, "end=proxy_timeout" },
	/*
	 * A header that never completes (or never starts) is given up at
	 * proxy_timeout (300 ms here), not at the far longer connect_timeout.
	 */
	{ "accept_timeout", "connect_timeout = 5s\nproxy_timeout = 300ms\n",
	    slow_inputs, NELEM(slow_inputs), true, "proxy_timeout", 250, 1500,
	    "no whole PROXY header within proxy_timeout", NULL },
};

/* One client of row ${row}, sending ${in}. */
static void
reject_one(struct h_relay *r, const struct reject_row *row,
    const struct input *in)
{
	char		 needle[64], end_is[64];
	uint64_t	 extra = 0;
	int64_t		 t0 = h_now_ms(), took;
	int		 fd, port, end;

	fd = h_relay_connect(r, "ap", AF_INET);
	port = h_sock_port(fd, false);
	if (in->len > 0 && row->waits)
		H_ASSERT_END(h_send_all(fd, in->bytes, in->len, H_IO_MS), H_OK,
		    H_OK);
	else if (in->len > 0)
		(void)h_send_all(fd, in->bytes, in->len, 1000);
	if (in->eof)
		(void)shutdown(fd, SHUT_WR);
	end = h_wait_end(fd, 4000, &extra);
	took = h_now_ms() - t0;
	close(fd);
	print_message("%-32s closed after %4lld ms (%s)\n", in->name,
	    (long long)took, h_end_str(end));
	if ((end != H_EOF && end != ECONNRESET) || extra != 0)
		fail_msg("%s: the client was not closed in time: %s "
			 "(%llu bytes back)",
		    in->name, h_end_str(end), (unsigned long long)extra);
	if (row->max_ms != 0)
		assert_in_range(took, row->min_ms, row->max_ms);
	snprintf(needle, sizeof(needle), "127.0.0.1:%d ", port);
	snprintf(end_is, sizeof(end_is), "end=%s", row->end);
	if (!h_relay_log_line(r, needle, end_is, H_IO_MS)) {
		h_relay_dump(r);
		fail_msg("%s: no %s line for port %d", in->name, end_is, port);
	}
}

static void
run_reject(void **state)
{
	const struct reject_row	*row = *state;
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	size_t			 i;

	b = h_backend_start(AF_INET, &cfg);
	r = accept_relay(b, row->keys);
	for (i = 0; i < row->ninputs; i++)
		reject_one(r, row, &row->inputs[i]);
	h_backend_stats(b, &st);
	print_message("backend: %u accepted, %llu bytes\n", st.accepted,
	    (unsigned long long)st.rx);
	/* The contract: nothing received (ideally not even a connect). */
	assert_int_equal(st.rx, 0);
	if (row->needle != NULL)
		H_EXPECT_LOG(r, row->needle);
	if (row->absent != NULL)
		assert_int_equal(h_relay_log_count(r, row->absent), 0);
	h_relay_finish(r);
	h_backend_free(b);
}

#define FLOOD	100

/*
 * Sum of the "(N more like this suppressed)" counts in ${log}, and the
 * number of "bad PROXY header" warnings in *${lines}.
 */
static unsigned long
held_back(const char *log, unsigned *lines)
{
	const char	*p, *q;
	unsigned long	 held = 0;

	*lines = 0;
	for (p = log; (p = strstr(p, "bad PROXY header")) != NULL; p++)
		(*lines)++;
	for (p = log; (p = strstr(p, " more like this suppressed)")) != NULL;
	    p++) {
		for (q = p; q > log && isdigit((unsigned char)q[-1]); q--)
			;
		held += strtoul(q, NULL, 10);
	}
	return held;
}

/* A client that sends ${junk} for a header; the caller closes it. */
static int
junk_client(struct h_relay *r, const char *junk)
{
	int	 fd = h_relay_connect(r, "ap", AF_INET);

	/* relay46 may have closed already: what it read was enough. */
	(void)h_send_all(fd, junk, strlen(junk), H_IO_MS);
	return fd;
}

/*
 * A burst of FLOOD clients with garbage for a header: each gets its own
 * session line (end=proxy_error), but warnings go out at most once a
 * second per route and kind, and the first one after the burst tells
 * how many were held back: every bad header is accounted for.
 */
static void
test_accept_flood(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend_stats	 st;
	struct h_backend	*b;
	struct h_relay		*r;
	const char		*junk = "GET / HTTP/1.0\r\n\r\n";
	unsigned long		 held;
	unsigned		 lines, i;
	int			 fds[FLOOD], fd;
	char			*log;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = accept_relay(b, "");
	for (i = 0; i < FLOOD; i++)
		fds[i] = junk_client(r, junk);
	if (!h_relay_log_wait_n(r, "end=proxy_error", FLOOD, H_IO_MS))
		fail_msg("not %d end=proxy_error lines", FLOOD);
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
	log = h_relay_log(r);
	held = held_back(log, &lines);
	free(log);
	print_message("burst: %u warnings, %lu held back\n", lines, held);
	assert_in_range(lines, 1, 3);
	/* Once the limit's second is over, the next warning tells the count. */
	(void)poll(NULL, 0, 1100);
	fd = junk_client(r, junk);
	H_EXPECT_LOG(r, " more like this suppressed)");
	if (!h_relay_log_wait_n(r, "end=proxy_error", FLOOD + 1, H_IO_MS))
		fail_msg("not %d end=proxy_error lines", FLOOD + 1);
	close(fd);
	log = h_relay_log(r);
	held = held_back(log, &lines);
	free(log);
	print_message("after: %u warnings, %lu held back\n", lines, held);
	assert_in_range(lines, 2, 3);
	assert_int_equal(lines + held, FLOOD + 1);
	h_backend_stats(b, &st);
	assert_int_equal(st.rx, 0);
	h_relay_finish(r);
	h_backend_free(b);
}

/* "relay46 -t" on ${text}: its exit code, with stderr in *${err}. */
static int
check_file(const char *text, char **err)
{
	char		 path[H_PATH], *out = NULL;
	const char	*args[] = { "-t", "-c", path, NULL };
	int		 rc;

	h_write_file(path, sizeof(path), h_tmpdir(), "t.ini", text);
	rc = h_run(args, &out, err, H_IO_MS);
	free(out);
	return rc;
}

/*
 * accept_proxy without proxy_from: on loopback relay46 starts and warns
 * that anyone who reaches the listener can claim any address; on a
 * wildcard address the file is refused at the accept_proxy line, unless
 * "proxy_from = any" says it is meant.  Nothing binds the wildcard.
 */
static void
test_accept_no_proxy_from(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 text[512], *err = NULL;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = accept_relay(b, "");
	H_EXPECT_LOG(r, "warn msg=\"");
	H_EXPECT_LOG_LINE(r, ": route ap: accept_proxy without proxy_from: "
	    "anyone who reaches 127.0.0.1:", " can claim any client address");
	h_relay_finish(r);
	/* Only checked (-t): the port is never bound. */
	snprintf(text, sizeof(text),
	    "[route ap]\nlisten = 0.0.0.0:4646\n"
	    "upstream = %s\naccept_proxy = on\n",
	    h_hostport(AF_INET, h_backend_port(b)));
	assert_int_equal(check_file(text, &err), 1);
	H_ASSERT_CONTAINS(err, "t.ini:4: accept_proxy without proxy_from on "
	    "listen 0.0.0.0:");
	H_ASSERT_CONTAINS(err, "a wildcard address");
	free(err);
	strcat(text, "proxy_from = any\n");
	err = NULL;
	assert_int_equal(check_file(text, &err), 0);
	if (strstr(err, "proxy_from") != NULL)
		fail_msg("a warning after all: %s", err);
	free(err);
	h_backend_free(b);
}

/*
 * balance = source behind accept_proxy hashes the header's source, not
 * the real peer (127.0.0.1 for every client here): one header source
 * always lands on one backend, and 30 of them spread over more than one.
 */
static void
test_accept_source_hash(void **state)
{
	struct h_backend	*b[3];
	struct h_relay		*r;
	static const char *const tags[3] = { "b0", "b1", "b2" };
	unsigned		 per[3] = { 0 }, i, k, used = 0;
	char			 hdr[128], t[2];
	int			 fd, home = -1, idx;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct h_backend_cfg	 cfg = { .mode = H_ECHO,
		    .hello = tags[i] };

		b[i] = h_backend_start(AF_INET, &cfg);
	}
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route ap]\nlisten = %s\naccept_proxy = on\nbalance = source\n"
	    "upstream = %s\nupstream = %s\nupstream = %s\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b[0])),
	    h_hostport(AF_INET, h_backend_port(b[1])),
	    h_hostport(AF_INET, h_backend_port(b[2])));
	for (i = 1; i <= 30; i++) {
		for (k = 0; k < 2; k++) {
			snprintf(hdr, sizeof(hdr), "PROXY TCP4 192.0.2.%u "
			    "198.51.100.1 %u 80\r\n", i, 1000 + 7 * k);
			fd = h_relay_connect(r, "ap", AF_INET);
			H_ASSERT_END(h_send_all(fd, hdr, strlen(hdr), H_IO_MS),
			    H_OK, H_OK);
			H_ASSERT_END(h_recv_n(fd, t, 2, H_IO_MS, NULL), H_OK,
			    H_OK);
			idx = t[1] - '0';
			assert_in_range(idx, 0, 2);
			close(fd);
			if (k == 0) {
				home = idx;
				per[idx]++;
			} else if (idx != home)
				fail_msg("header source 192.0.2.%u went to b%d, "
				    "then b%d", i, home, idx);
		}
	}
	for (i = 0; i < 3; i++)
		used += per[i] > 0;
	print_message("source hash of header sources: %u,%u,%u\n", per[0],
	    per[1], per[2]);
	assert_true(used >= 2);
	h_relay_finish(r);
	for (i = 0; i < 3; i++)
		h_backend_free(b[i]);
}

/* --- a chain of two relays -------------------------------------------------- */

/*
 * The destination B passes on is A's listener ${adst}:${aport}, what the
 * client connected to (as HAProxy passes it on), not B's own ${bport}.
 */
static void
chain_dst(const struct pp *pp, const char *adst, unsigned aport,
    unsigned bport)
{
	if (strcmp(pp->dst, adst) == 0 && pp->dport == aport)
		return;
	fail_msg("chain: destination %s:%u is not A's listener %s:%u (B "
	    "listens on %u)", pp->dst, pp->dport, adst, aport, bport);
}

/*
 * client (from ${src}) -> relay A (proxy_protocol = v2) -> relay B
 * (accept_proxy = on, proxy_protocol = v1) -> parsing backend: the
 * backend's header names the original client, and B's log shows it as
 * client= with A as via=.
 */
static void
chain(int family, const char *src)
{
	struct sockaddr_storage	 cs, cd;
	struct h_relay		*ra, *rb;
	struct pp		 pp;
	uint8_t			 raw[256];
	size_t			 rawlen;
	char			 csrc[INET6_ADDRSTRLEN], cdst[INET6_ADDRSTRLEN];
	char			 needle[128];
	unsigned		 csp, cdp, bport_l;
	int			 lfd, bport = 0, fd, bfd;

	lfd = h_listen_at("127.0.0.1", &bport);
	rb = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route b]\nlisten = %s\nupstream = %s\naccept_proxy = on\n"
	    "proxy_protocol = v1\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, bport));
	bport_l = (unsigned)h_relay_port(rb, "b", AF_INET);
	ra = h_relay_start("[global]\nshutdown_timeout = 2s\n"
			   "[route a]\nlisten = %s\nupstream = 127.0.0.1:%u\n"
			   "proxy_protocol = v2\n",
	    h_hostport(family, 0), bport_l);
	fd = src == NULL ? h_relay_connect(ra, "a", family) :
	    h_relay_connect_from(ra, "a", family, src);
	fd_addrs(fd, &cs, &cd);
	sa_text(&cs, csrc, sizeof(csrc), &csp);
	sa_text(&cd, cdst, sizeof(cdst), &cdp);
	send_stream(fd, 90, PAYLOAD);
	bfd = backend_take(lfd, &pp, raw, sizeof(raw), &rawlen, 90, PAYLOAD);
	print_message("chain: client %s:%u -> A %s:%u -> B 127.0.0.1:%u; "
	    "backend got %s\n", csrc, csp, cdst, cdp, bport_l,
	    dump(raw, rawlen));
	assert_int_equal(pp.version, 1);
	assert_int_equal(pp.family, family);
	assert_string_equal(pp.src, csrc);
	assert_int_equal(pp.sport, csp);
	chain_dst(&pp, cdst, cdp, bport_l);
	send_stream(bfd, 91, PAYLOAD);
	recv_stream(fd, 91, PAYLOAD);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(bfd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(bfd);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
	if (family == AF_INET6)
		snprintf(needle, sizeof(needle), "client=[%s]:%u via=127.0.0.1:",
		    csrc, csp);
	else
		snprintf(needle, sizeof(needle), "client=%s:%u via=127.0.0.1:",
		    csrc, csp);
	H_EXPECT_LOG_LINE(rb, needle, "end=done");
	h_relay_finish(ra);
	h_relay_finish(rb);
	close(lfd);
}

static void
test_chain_v4(void **state)
{
	(void)state;
	chain(AF_INET, "127.0.0.9");
}

static void
test_chain_v6(void **state)
{
	(void)state;
	h_require_ipv6();
	chain(AF_INET6, NULL);
}

int
main(void)
{
	const struct CMUnitTest	 funcs[] = {
		cmocka_unit_test_teardown(test_accept_flood, h_teardown),
		cmocka_unit_test_teardown(test_accept_no_proxy_from,
		    h_teardown),
		cmocka_unit_test_teardown(test_accept_source_hash, h_teardown),
		cmocka_unit_test_teardown(test_chain_v4, h_teardown),
		cmocka_unit_test_teardown(test_chain_v6, h_teardown),
	};
	struct CMUnitTest	 tests[NELEM(send_rows) + NELEM(accept_rows) +
	    NELEM(reject_rows) + NELEM(funcs)];
	size_t			 i, n = 0;

	/* Each row is a test of its own, named after the row. */
	for (i = 0; i < NELEM(send_rows); i++)
		tests[n++] = (struct CMUnitTest) { send_rows[i].name, run_send,
			NULL, h_teardown, (void *)&send_rows[i] };
	for (i = 0; i < NELEM(accept_rows); i++)
		tests[n++] = (struct CMUnitTest) { accept_rows[i].name,
			run_accept, NULL, h_teardown, (void *)&accept_rows[i] };
	for (i = 0; i < NELEM(reject_rows); i++)
		tests[n++] = (struct CMUnitTest) { reject_rows[i].name,
			run_reject, NULL, h_teardown, (void *)&reject_rows[i] };
	for (i = 0; i < NELEM(funcs); i++)
		tests[n++] = funcs[i];
	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
