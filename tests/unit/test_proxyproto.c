/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for proxyproto.c: good v1/v2 headers and every prefix of
 * them, malformed headers with their reasons, and format -> parse round
 * trips.  Tables of input -> expected value or error text (STYLE.md 2.6).
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "proxyproto.h"
#include "util.h"

/* A byte string literal and its length, NULs and all. */
#define B(s)	(const uint8_t *)(s), sizeof(s) - 1
/* The v2 signature, as a literal to paste in front of the rest. */
#define SIG	"\r\n\r\n\0\r\nQUIT\n"
/* 10.0.0.1:1234 -> 10.0.0.2:80 as a v2 IPv4 address block. */
#define A4	"\x0a\x00\x00\x01\x0a\x00\x00\x02\x04\xd2\x00\x50"
/* [2001:db8::1]:1234 -> [2001:db8::2]:80 as a v2 IPv6 address block. */
#define A6                                           \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" \
	"\x04\xd2\x00\x50"

/*
 * Parse buf[0..len) from a heap copy of exactly that size, so that ASan
 * catches any read past the end.
 */
static ssize_t
parse_exact(const uint8_t *buf, size_t len, struct proxyproto_info *info,
    char *err, size_t errlen)
{
	uint8_t	*copy;
	ssize_t	 rc;

	copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	err[0] = '\0';
	rc = proxyproto_parse(copy, len, info, err, errlen);
	free(copy);
	return rc;
}

static const char *
show(const struct addr *a, char *buf, size_t len)
{
	return addr_format(a, buf, len);
}

/* ---- good headers ------------------------------------------------------ */

struct good_row {
	const char	*name;
	const uint8_t	*in;
	size_t		 len;
	size_t		 hdrlen;	/* what parse must return */
	int		 version;
	const char	*src, *dst;	/* addr_format(); NULL: !has_addr */
	int		 family;	/* of both, after unmapping */
};

static const struct good_row good_rows[] = {
	{ "v1 tcp4", B("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
	    47, 1, "192.168.0.1:56324", "192.168.0.11:443", AF_INET },
	{ "v1 tcp4 + payload",
	    B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.0\r\n\r\n"),
	    32, 1, "1.2.3.4:1", "5.6.7.8:2", AF_INET },
	{ "v1 tcp4 ports 0",
	    B("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"), 44, 1,
	    "0.0.0.0:0", "255.255.255.255:65535", AF_INET },
	{ "v1 tcp6", B("PROXY TCP6 2001:db8::1 2001:DB8::2 1 65535\r\n"),
	    44, 1, "[2001:db8::1]:1", "[2001:db8::2]:65535", AF_INET6 },
	{ "v1 tcp6 mapped",
	    B("PROXY TCP6 ::ffff:10.0.0.1 ::ffff:10.0.0.2 0 80\r\nx"),
	    49, 1, "10.0.0.1:0", "10.0.0.2:80", AF_INET },
	{ "v1 tcp6 longest", B("PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 104,
	    1, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", AF_INET6 },
	{ "v1 unknown", B("PROXY UNKNOWN\r\n"), 15, 1, NULL, NULL, 0 },
	{ "v1 unknown + payload", B("PROXY UNKNOWN\r\nPROXY"), 15, 1, NULL,
	    NULL, 0 },
	{ "v1 unknown with junk", B("PROXY UNKNOWN ffff:f...f:ffff "
	    "ffff:f...f:ffff 65535 65535\r\n"), 59, 1, NULL, NULL, 0 },
	{ "v1 unknown 107 bytes", B("PROXY UNKNOWN "
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "01234567891\r\n"), 107, 1, NULL, NULL, 0 },

	{ "v2 tcp4", B(SIG "\x21\x11\x00\x0c" A4), 28, 2,
	    "10.0.0.1:1234", "10.0.0.2:80", AF_INET },
	{ "v2 tcp4 + payload", B(SIG "\x21\x11\x00\x0c" A4 "\r\n\r\n\0"), 28,
	    2, "10.0.0.1:1234", "10.0.0.2:80", AF_INET },
	{ "v2 tcp6", B(SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02"
	    "\xff\xff\x00\x00"), 52, 2, "[2001:db8::1]:65535",
	    "[2001:db8::2]:0", AF_INET6 },
	{ "v2 tcp4 tlvs", B(SIG "\x21\x11\x00\x1f" A4 "\x01\x00\x02h2"
	    "\x02\x00\x0b" "example.com"), 47, 2, "10.0.0.1:1234",
	    "10.0.0.2:80", AF_INET },
	{ "v2 tcp4 empty tlv", B(SIG "\x21\x11\x00\x0f" A4 "\x04\x00\x00"),
	    31, 2, "10.0.0.1:1234", "10.0.0.2:80", AF_INET },
	{ "v2 tcp4 crc32c", B(SIG "\x21\x11\x00\x13" A4
	    "\x03\x00\x04\xf0\x92\xf7\x51"), 35, 2, "10.0.0.1:1234",
	    "10.0.0.2:80", AF_INET },
	{ "v2 tcp4 alpn crc32c noop", B(SIG "\x21\x11\x00\x1b" A4
	    "\x01\x00\x02h2\x03\x00\x04\x3f\x52\x9b\x19\x04\x00\x00"), 43, 2,
	    "10.0.0.1:1234", "10.0.0.2:80", AF_INET },
	{ "v2 local", B(SIG "\x20\x00\x00\x00"), 16, 2, NULL, NULL, 0 },
	{ "v2 local + payload", B(SIG "\x20\x00\x00\x00" "PROXY"), 16, 2,
	    NULL, NULL, 0 },
	{ "v2 local tcp4", B(SIG "\x20\x11\x00\x0c" A4), 28, 2, NULL, NULL,
	    0 },
	{ "v2 local crc32c", B(SIG "\x20\x00\x00\x07"
	    "\x03\x00\x04\xa9\xb8\x7e\x8f"), 23, 2, NULL, NULL, 0 },
	{ "v2 proxy unspec tlv", B(SIG "\x21\x00\x00\x07"
	    "\x04\x00\x04" "abcd"), 23, 2, NULL, NULL, 0 },
};

/*
 * Check a good header: in full it parses to what ${r} says, and every
 * shorter prefix asks for more (0).
 */
static void
check_good(const struct good_row *r)
{
	struct proxyproto_info	 info;
	char			 err[256], buf[ADDR_STRLEN];
	ssize_t			 rc;
	size_t			 k;

	rc = parse_exact(r->in, r->len, &info, err, sizeof(err));
	if (rc != (ssize_t)r->hdrlen)
		fail_msg("%s: parse gave %zd, want %zu (%s)", r->name, rc,
		    r->hdrlen, err);
	if (info.version != r->version)
		fail_msg("%s: version %d", r->name, info.version);
	if (info.has_addr != (r->src != NULL))
		fail_msg("%s: has_addr %d", r->name, (int)info.has_addr);
	if (r->src != NULL) {
		if (strcmp(show(&info.src, buf, sizeof(buf)), r->src) != 0 ||
		    info.src.ss.ss_family != r->family)
			fail_msg("%s: source %s", r->name, buf);
		if (strcmp(show(&info.dst, buf, sizeof(buf)), r->dst) != 0 ||
		    info.dst.ss.ss_family != r->family)
			fail_msg("%s: destination %s", r->name, buf);
	}
	for (k = 0; k < r->hdrlen; k++) {
		rc = parse_exact(r->in, k, &info, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s: prefix of %zu bytes gave %zd (%s)",
			    r->name, k, rc, err);
	}
}

static void
test_good(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(good_rows); i++)
		check_good(&good_rows[i]);
}

/* Headers too big for a table row: AF_UNIX and the longest v2. */
static void
test_good_big(void **state)
{
	struct good_row	 r;
	uint8_t		 buf[PROXYPROTO_MAX + 8];
	size_t		 dlen;

	(void)state;
	/* UNIX stream, 216 bytes of paths, then a TLV. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, SIG "\x21\x31\x00\xdc", 16);
	memcpy(buf + 16, "/tmp/a", 6);
	memcpy(buf + 16 + 216, "\x04\x00\x01X", 4);
	r = (struct good_row){ "v2 unix", buf, 16 + 220 + 3, 16 + 220, 2,
	    NULL, NULL, 0 };
	check_good(&r);

	/* PROXYPROTO_V2_MAXDATA exactly, padded with a NOOP TLV. */
	dlen = PROXYPROTO_V2_MAXDATA;
	memcpy(buf, SIG "\x21\x11", 14);
	buf[14] = (uint8_t)(dlen >> 8);
	buf[15] = (uint8_t)dlen;
	memcpy(buf + 16, A4, 12);
	buf[28] = 0x04;
	buf[29] = (uint8_t)((dlen - 15) >> 8);
	buf[30] = (uint8_t)(dlen - 15);
	r = (struct good_row){ "v2 max", buf, 16 + dlen, 16 + dlen, 2,
	    "10.0.0.1:1234", "10.0.0.2:80", AF_INET };
	check_good(&r);
}

/* ---- v2 family and transport, each combination ------------------------ */

/* The v2 commands, as the low nibble of byte 12. */
enum pp_cmd {
	PP_LOCAL = 0,
	PP_PROXY,
};

/*
 * What a relay of TCP makes of each v2 family/transport byte (family in
 * the high nibble, transport in the low) under each command.  PROXY over
 * TCP alone gives the client; UDP and AF_UNIX fall back to the spec's
 * UNSPEC mode (accepted, addresses ignored), as AF_UNSPEC itself does;
 * LOCAL never gives one.  A byte that is not one of the spec's seven
 * combinations is refused as soon as it arrives, whatever the command:
 * these rows for the families and transports the spec names (and
 * transport 3, the first it does not), and every byte not in them
 * (family 4 and over, transport 4 and over) too.
 */
enum fam_want {
	FAM_REFUSED = 0,	/* -1, "... family and transport 0xNN" */
	FAM_NO_ADDR,		/* the whole header, has_addr false */
	FAM_ADDR,		/* the whole header and its two addresses */
};

struct fam_row {
	uint8_t		 fam;
	const char	*name;
	enum fam_want	 local, proxy;	/* under LOCAL, under PROXY */
};

static const struct fam_row fam_rows[] = {
	{ 0x00, "UNSPEC",		FAM_NO_ADDR,	FAM_NO_ADDR },
	{ 0x01, "UNSPEC over STREAM",	FAM_REFUSED,	FAM_REFUSED },
	{ 0x02, "UNSPEC over DGRAM",	FAM_REFUSED,	FAM_REFUSED },
	{ 0x03, "UNSPEC, transport 3",	FAM_REFUSED,	FAM_REFUSED },
	{ 0x10, "IPv4, UNSPEC",		FAM_REFUSED,	FAM_REFUSED },
	{ 0x11, "TCP over IPv4",	FAM_NO_ADDR,	FAM_ADDR },
	{ 0x12, "UDP over IPv4",	FAM_NO_ADDR,	FAM_NO_ADDR },
	{ 0x13, "IPv4, transport 3",	FAM_REFUSED,	FAM_REFUSED },
	{ 0x20, "IPv6, UNSPEC",		FAM_REFUSED,	FAM_REFUSED },
	{ 0x21, "TCP over IPv6",	FAM_NO_ADDR,	FAM_ADDR },
	{ 0x22, "UDP over IPv6",	FAM_NO_ADDR,	FAM_NO_ADDR },
	{ 0x23, "IPv6, transport 3",	FAM_REFUSED,	FAM_REFUSED },
	{ 0x30, "UNIX, UNSPEC",		FAM_REFUSED,	FAM_REFUSED },
	{ 0x31, "UNIX stream",		FAM_NO_ADDR,	FAM_NO_ADDR },
	{ 0x32, "UNIX datagram",	FAM_NO_ADDR,	FAM_NO_ADDR },
	{ 0x33, "UNIX, transport 3",	FAM_REFUSED,	FAM_REFUSED },
};

/*
 * A v2 header with command ${cmd} and family/transport ${fam} into
 * ${buf}: its family's address block (none for UNSPEC and unknown
 * families) and a NOOP TLV, which is only found where that block ends.
 * Returns its length.
 */
static size_t
fam_header(uint8_t *buf, int cmd, int fam)
{
	size_t	 alen;

	memset(buf, 0, 16 + 216 + 4);
	memcpy(buf, SIG, 12);
	buf[12] = (uint8_t)(0x20 | cmd);
	buf[13] = (uint8_t)fam;
	switch (fam >> 4) {
	case 1:
		alen = 12;
		memcpy(buf + 16, A4, alen);
		break;
	case 2:
		alen = 36;
		memcpy(buf + 16, A6, alen);
		break;
	case 3:
		alen = 216;
		memcpy(buf + 16, "/tmp/a", 6);
		memcpy(buf + 16 + 108, "/tmp/b", 6);
		break;
	default:
		alen = 0;
		break;
	}
	memcpy(buf + 16 + alen, "\x04\x00\x01X", 4);
	buf[15] = (uint8_t)(alen + 4);
	return 16 + alen + 4;
}

/* ${buf} (${len} bytes, byte 13 ${fam}) is refused at byte 13 already. */
static void
check_fam_refused(const char *name, const uint8_t *buf, size_t len, int fam)
{
	struct proxyproto_info	 info;
	char			 err[256], want[64];

	snprintf(want, sizeof(want),
	    "unsupported address family and transport 0x%02x", fam);
	if (parse_exact(buf, len, &info, err, sizeof(err)) != -1 ||
	    strstr(err, want) == NULL)
		fail_msg("%s: not refused for its byte 13 (%s)", name, err);
	if (parse_exact(buf, 14, &info, err, sizeof(err)) != -1)
		fail_msg("%s: not refused as soon as byte 13 came", name);
}

/* Command ${cmd} with family/transport ${fam} gives what ${row} says. */
static void
check_fam(int cmd, int fam, const struct fam_row *row)
{
	static const char *const cmds[2] = { "LOCAL", "PROXY" };
	struct good_row		 r;
	enum fam_want		 want = FAM_REFUSED;
	uint8_t			 buf[16 + 216 + 4];
	char			 name[96];
	size_t			 len;

	if (row != NULL)
		want = cmd == PP_LOCAL ? row->local : row->proxy;
	snprintf(name, sizeof(name), "v2 %s 0x%02x (%s)", cmds[cmd], fam,
	    row != NULL ? row->name : "not in the spec");
	len = fam_header(buf, cmd, fam);
	if (want == FAM_REFUSED) {
		check_fam_refused(name, buf, len, fam);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.name = name;
	r.in = buf;
	r.len = r.hdrlen = len;
	r.version = 2;
	if (want == FAM_ADDR && fam == 0x11) {
		r.src = "10.0.0.1:1234";
		r.dst = "10.0.0.2:80";
		r.family = AF_INET;
	} else if (want == FAM_ADDR) {
		r.src = "[2001:db8::1]:1234";
		r.dst = "[2001:db8::2]:80";
		r.family = AF_INET6;
	}
	check_good(&r);
}

static void
test_v2_fam(void **state)
{
	const struct fam_row	*row;
	size_t			 i;
	int			 fam;

	(void)state;
	for (fam = 0; fam < 256; fam++) {
		row = NULL;
		for (i = 0; i < NELEM(fam_rows); i++)
			if (fam_rows[i].fam == fam)
				row = &fam_rows[i];
		check_fam(PP_LOCAL, fam, row);
		check_fam(PP_PROXY, fam, row);
	}
}

/* UDP with a payload after it, and IPv4-mapped: no address either. */
static const struct good_row udp_rows[] = {
	{ "v2 udp4", B(SIG "\x21\x12\x00\x0c" A4 "payload"), 28, 2, NULL, NULL,
	    0 },
	{ "v2 udp6 mapped",
	    B(SIG "\x21\x22\x00\x24"
		  "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x01"
		  "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x02"
		  "\x00\x01\x00\x02"
		  "payload"),
	    52, 2, NULL, NULL, 0 },
};

static void
test_v2_udp(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(udp_rows); i++)
		check_good(&udp_rows[i]);
}

/* ---- malformed headers ------------------------------------------------- */

struct bad_row {
	const uint8_t	*in;
	size_t		 len;
	const char	*want_err;	/* a substring of the reason */
};

static const struct bad_row bad_rows[] = {
	{ B("GET / HTTP/1.1\r\n"), "not a PROXY protocol header" },
	{ B("\x16\x03\x01\x02\x00\x01"), "not a PROXY protocol header" },
	{ B("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "not a PROXY protocol" },
	{ B("PROXZ"), "not a PROXY protocol header" },
	{ B("PROXYTCP4"), "not a PROXY protocol header" },
	{ B("PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "not a PROXY protocol" },
	{ B("PROXY\r\n"), "v1: missing protocol" },
	{ B("PROXY TCP4\r\n"), "v1: missing source address" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8\r\n"), "v1: missing source port" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), "missing destination port" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1\r"), "missing destination port" },
	{ B("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), "v1: bad protocol" },
	{ B("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), "v1: bad protocol" },
	{ B("PROXY UNKNOWNX\r\n"), "v1: bad protocol" },
	{ B("PROXY UDP4"), "v1: bad protocol" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n"),
	    "v1: source port out of range" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 80 99999\r\n"),
	    "v1: destination port out of range" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 80 0443\r\n"),
	    "v1: destination port is not a plain decimal number" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 00 443\r\n"),
	    "v1: source port is not a plain decimal number" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n"),
	    "v1: source port is not" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 +80 80\r\n"),
	    "v1: source port is not" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443x\r\n"),
	    "v1: destination port is not" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 0x50 80\r\n"), "source port is not" },
	{ B("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "v1: unexpected space" },
	{ B("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), "v1: unexpected space" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), "v1: unexpected space" },
	{ B(" PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "not a PROXY protocol" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), "v1: too many fields" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 "), "v1: too many fields" },
	{ B("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"),
	    "v1: bad IPv4 source address" },
	{ B("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"),
	    "v1: bad IPv4 source address" },
	{ B("PROXY TCP4 1.2.3.4 256.1.1.1 1 2\r\n"),
	    "v1: bad IPv4 destination address" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8.9 1 2\r\n"),
	    "v1: bad IPv4 destination address" },
	{ B("PROXY TCP4 1.2.3.4 1234567890123456"),
	    "v1: bad IPv4 destination address" },
	{ B("PROXY TCP4 ::1 ::1 1 2\r\n"), "v1: bad IPv4 source address" },
	{ B("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"),
	    "v1: bad IPv6 source address" },
	{ B("PROXY TCP6 ::1 1.2.3.4 1 2\r\n"),
	    "v1: bad IPv6 destination address" },
	{ B("PROXY TCP6 fe80::1%lo ::1 1 2\r\n"),
	    "v1: bad IPv6 source address" },
	{ B("PROXY TCP6 ::1::2 ::1 1 2\r\n"), "v1: bad IPv6 source address" },
	{ B("PROXY TCP6 [::1] ::1 1 2\r\n"), "v1: bad IPv6 source address" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "v1: LF without CR" },
	{ B("PROXY UNKNOWN\n"), "v1: LF without CR" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), "v1: CR without LF" },
	{ B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), "v1: CR without LF" },
	{ B("PROXY UNKNOWN\r\r\n"), "v1: CR without LF" },
	{ B("PROXY UNKNOWN a\nb\r\n"), "v1: LF without CR" },
	/* 107 bytes and no CRLF; then a CRLF that would end at 108. */
	{ B("PROXY UNKNOWN "
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012"), "v1: no CRLF in the first 107 bytes" },
	{ B("PROXY UNKNOWN "
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "012345678901\r\n"), "v1: no CRLF in the first 107 bytes" },

	{ B("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c"), "bad v2 signature" },
	{ B("\r\n\r\n\0\r\nQU\r\n\r\n"), "bad v2 signature" },
	{ B("\r\n\r\nGET"), "bad v2 signature" },
	{ B("\r\nPROXY"), "bad v2 signature" },
	{ B(SIG "\x11\x11\x00\x0c" A4), "v2: unsupported version 1" },
	{ B(SIG "\x31\x11\x00\x0c" A4), "v2: unsupported version 3" },
	{ B(SIG "\x01"), "v2: unsupported version 0" },
	{ B(SIG "\x22"), "v2: unknown command 2" },
	{ B(SIG "\x2f\x11\x00\x0c" A4), "v2: unknown command 15" },
	{ B(SIG "\x21\x41\x00\x0c" A4), "family and transport 0x41" },
	{ B(SIG "\x21\xf1"), "family and transport 0xf1" },
	{ B(SIG "\x21\x13\x00\x0c" A4), "family and transport 0x13" },
	{ B(SIG "\x21\x10\x00\x0c" A4), "family and transport 0x10" },
	{ B(SIG "\x21\x01\x00\x00"), "family and transport 0x01" },
	{ B(SIG "\x20\x41\x00\x00"), "family and transport 0x41" },
	{ B(SIG "\x21\x11\x00\x0b" A4), "v2: data length 11 too short for "
	    "the 12-byte address block" },
	{ B(SIG "\x21\x11\x00\x00"), "too short for the 12-byte" },
	{ B(SIG "\x21\x21\x00\x0c" A4), "too short for the 36-byte" },
	{ B(SIG "\x21\x31\x00\x24"), "too short for the 216-byte" },
	{ B(SIG "\x20\x11\x00\x00"), "too short for the 12-byte" },
	{ B(SIG "\x21\x11\x04\x01"), "v2: data length 1025 over 1024" },
	{ B(SIG "\x21\x11\xff\xff"), "v2: data length 65535 over 1024" },
	{ B(SIG "\x21\x11\x05"), "v2: data length 1280 over 1024" },
	{ B(SIG "\x21\x11\x00\x10" A4 "\x04\x00\x02" "a"),
	    "v2: TLV 0x04 overruns the header" },
	{ B(SIG "\x21\x11\x00\x12" A4 "\x04\x00\x00" "\x01\x01\x00" "abc"),
	    "v2: TLV 0x01 overruns the header" },
	{ B(SIG "\x21\x11\x00\x0d" A4 "\x04"), "v2: 1 stray bytes" },
	{ B(SIG "\x21\x11\x00\x0e" A4 "\x04\x00"), "v2: 2 stray bytes" },
	{ B(SIG "\x21\x11\x00\x11" A4 "\x04\x00\x00" "\x00\x00"),
	    "v2: 2 stray bytes" },
	{ B(SIG "\x20\x00\x00\x02" "\x04\x00"), "v2: 2 stray bytes" },
	{ B(SIG "\x21\x11\x00\x13" A4 "\x03\x00\x04\xf0\x92\xf7\x50"),
	    "v2: CRC32c mismatch" },
	{ B(SIG "\x21\x12\x00\x13" A4 "\x03\x00\x04\xf0\x92\xf7\x51"),
	    "v2: CRC32c mismatch" },	/* the same CRC, another header */
	{ B(SIG "\x21\x11\x00\x12" A4 "\x03\x00\x03\xf0\x92\xf7"),
	    "v2: bad CRC32c TLV (length not 4)" },
	{ B(SIG "\x21\x11\x00\x1a" A4 "\x03\x00\x04\xf0\x92\xf7\x51"
	    "\x03\x00\x04\xf0\x92\xf7\x51"), "v2: bad CRC32c TLV (twice)" },
};

static void
test_bad(void **state)
{
	struct proxyproto_info	 info;
	char			 err[256];
	size_t			 i;
	ssize_t			 rc;

	(void)state;
	for (i = 0; i < NELEM(bad_rows); i++) {
		rc = parse_exact(bad_rows[i].in, bad_rows[i].len, &info, err,
		    sizeof(err));
		if (rc != -1)
			fail_msg("bad row %zu ('%.20s...') gave %zd", i,
			    (const char *)bad_rows[i].in, rc);
		if (strstr(err, bad_rows[i].want_err) == NULL)
			fail_msg("bad row %zu: error '%s' lacks '%s'", i, err,
			    bad_rows[i].want_err);
	}
}

/* Every command but LOCAL and PROXY is refused, as soon as it is seen. */
static void
test_bad_commands(void **state)
{
	struct proxyproto_info	 info;
	uint8_t			 buf[13];
	char			 err[256], want[64];
	int			 cmd;

	(void)state;
	memcpy(buf, SIG, 12);
	for (cmd = 2; cmd <= 15; cmd++) {
		buf[12] = (uint8_t)(0x20 | cmd);
		assert_int_equal(parse_exact(buf, sizeof(buf), &info, err,
		    sizeof(err)), -1);
		snprintf(want, sizeof(want), "v2: unknown command %d", cmd);
		assert_string_equal(err, want);
	}
}

/* A short error buffer is truncated and terminated; NULL is allowed. */
static void
test_short_err(void **state)
{
	struct proxyproto_info	 info;
	char			 err[8];

	(void)state;
	memset(err, 'X', sizeof(err));
	assert_int_equal(proxyproto_parse("GET /", 5, &info, err, 4), -1);
	assert_string_equal(err, "not");
	assert_int_equal(err[4], 'X');
	assert_int_equal(proxyproto_parse("GET /", 5, &info, NULL, 0), -1);
	assert_int_equal(proxyproto_parse("", 0, &info, NULL, 0), 0);
}

/* ---- format ------------------------------------------------------------ */

static void
must_addr(const char *s, struct addr *a)
{
	char	 err[256];

	if (addr_parse(s, a, err, sizeof(err)) == -1)
		fail_msg("addr_parse('%s'): %s", s, err);
}

struct fmt_row {
	const char	*src, *dst;
	const char	*v1;		/* the v1 line */
	size_t		 v2len;		/* the v2 header's length */
};

static const struct fmt_row fmt_rows[] = {
	{ "1.2.3.4:1234", "5.6.7.8:80",
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n", 28 },
	{ "255.255.255.255:65535", "0.0.0.0:1",
	    "PROXY TCP4 255.255.255.255 0.0.0.0 65535 1\r\n", 28 },
	{ "[2001:db8::1]:1234", "[::1]:443",
	    "PROXY TCP6 2001:db8::1 ::1 1234 443\r\n", 52 },
	{ "1.2.3.4:1234", "[2001:db8::1]:80",
	    "PROXY TCP6 ::ffff:1.2.3.4 2001:db8::1 1234 80\r\n", 52 },
	{ "[2001:db8::1]:1234", "10.0.0.1:80",
	    "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1234 80\r\n", 52 },
	{ "[::ffff:1.2.3.4]:1", "[::ffff:5.6.7.8]:2",
	    "PROXY TCP6 ::ffff:1.2.3.4 ::ffff:5.6.7.8 1 2\r\n", 52 },
	{ "[fe80::1%1]:1", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	    "PROXY TCP6 fe80::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "1 65535\r\n", 52 },
};

/* What ${s} should read back as: unmapped, and without its scope. */
static void
expect_back(const char *s, struct addr *a)
{
	must_addr(s, a);
	addr_unmap(a);
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_scope_id = 0;
}

static void
check_round_trip(const struct fmt_row *r, int version)
{
	struct proxyproto_info	 info;
	struct addr		 src, dst, want;
	uint8_t			 buf[PROXYPROTO_MAX];
	char			 err[256];
	ssize_t			 n;

	must_addr(r->src, &src);
	must_addr(r->dst, &dst);
	n = proxyproto_format(version, &src, &dst, buf, sizeof(buf));
	if (version == 1 && (n != (ssize_t)strlen(r->v1) ||
	    memcmp(buf, r->v1, strlen(r->v1)) != 0))
		fail_msg("%s -> %s: v1 line '%.*s'", r->src, r->dst, (int)n,
		    (const char *)buf);
	if (version == 2 && n != (ssize_t)r->v2len)
		fail_msg("%s -> %s: v2 length %zd", r->src, r->dst, n);
	if (parse_exact(buf, (size_t)n, &info, err, sizeof(err)) != n)
		fail_msg("%s -> %s: v%d does not parse: %s", r->src, r->dst,
		    version, err);
	assert_int_equal(info.version, version);
	assert_true(info.has_addr);
	expect_back(r->src, &want);
	if (!addr_equal(&info.src, &want))
		fail_msg("%s -> %s: v%d source differs", r->src, r->dst,
		    version);
	expect_back(r->dst, &want);
	if (!addr_equal(&info.dst, &want))
		fail_msg("%s -> %s: v%d destination differs", r->src, r->dst,
		    version);
	/* One byte short of room is refused; exactly enough is fine. */
	assert_int_equal(proxyproto_format(version, &src, &dst, buf,
	    (size_t)n - 1), -1);
	assert_int_equal(proxyproto_format(version, &src, &dst, buf,
	    (size_t)n), n);
}

static void
test_round_trip(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(fmt_rows); i++) {
		check_round_trip(&fmt_rows[i], 1);
		check_round_trip(&fmt_rows[i], 2);
	}
}

/* The v2 bytes themselves, for a reader that is not ours. */
static void
test_format_v2_bytes(void **state)
{
	static const uint8_t	 want[] = SIG "\x21\x11\x00\x0c" A4;
	struct addr		 src, dst;
	uint8_t			 buf[PROXYPROTO_MAX];

	(void)state;
	must_addr("10.0.0.1:1234", &src);
	must_addr("10.0.0.2:80", &dst);
	assert_int_equal(proxyproto_format(2, &src, &dst, buf, sizeof(buf)),
	    sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
}

static void
test_format_bad(void **state)
{
	struct addr	 a, u;
	uint8_t		 buf[PROXYPROTO_MAX];

	(void)state;
	must_addr("1.2.3.4:80", &a);
	memset(&u, 0, sizeof(u));
	u.ss.ss_family = AF_UNIX;
	assert_int_equal(proxyproto_format(1, &a, &u, buf, sizeof(buf)), -1);
	assert_int_equal(proxyproto_format(2, &u, &a, buf, sizeof(buf)), -1);
	assert_int_equal(proxyproto_format(0, &a, &a, buf, sizeof(buf)), -1);
	assert_int_equal(proxyproto_format(3, &a, &a, buf, sizeof(buf)), -1);
	assert_int_equal(proxyproto_format(1, &a, &a, buf, 0), -1);
	assert_int_equal(proxyproto_format(2, &a, &a, buf, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_good_big),
		cmocka_unit_test(test_v2_fam),
		cmocka_unit_test(test_v2_udp),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_bad_commands),
		cmocka_unit_test(test_short_err),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_v2_bytes),
		cmocka_unit_test(test_format_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
