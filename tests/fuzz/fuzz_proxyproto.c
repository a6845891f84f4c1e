/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the PROXY protocol parser: it never claims more
 * than it was given, always says why it refuses, asks for more on every
 * prefix of a good header, takes a v2 client's address from TCP alone,
 * and what it reads formats and parses back to the same addresses.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "proxyproto.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse data[0..len) from a copy of exactly that size, for ASan. */
static ssize_t
parse_copy(const uint8_t *data, size_t len, struct proxyproto_info *info,
    char *err, size_t errlen)
{
	uint8_t	*copy;
	ssize_t	 n;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(copy, data, len);
	err[0] = '\0';
	n = proxyproto_parse(copy, len, info, err, errlen);
	free(copy);
	return n;
}

/* The addresses must survive format -> parse in the same version. */
static void
check_reformat(const struct proxyproto_info *info)
{
	struct proxyproto_info	 back;
	uint8_t			 buf[PROXYPROTO_MAX];
	char			 err[256];
	ssize_t			 n;

	n = proxyproto_format(info->version, &info->src, &info->dst, buf,
	    sizeof(buf));
	if (n <= 0 || parse_copy(buf, (size_t)n, &back, err, sizeof(err)) != n)
		abort();
	/* The parser unmaps, so what it gave is already unmapped. */
	if (back.version != info->version || !back.has_addr ||
	    !addr_equal(&back.src, &info->src) ||
	    !addr_equal(&back.dst, &info->dst))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto_info	 info, tmp;
	char			 err[256];
	size_t			 cut[4], i;
	ssize_t			 n;

	if (size > 2 * PROXYPROTO_MAX)
		return 0;
	n = parse_copy(data, size, &info, err, sizeof(err));
	if (n > (ssize_t)size || n < -1)
		abort();
	if (n == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (n == 0)
		return 0;
	if (info.version != 1 && info.version != 2)
		abort();
	/* In v2 only a PROXY command over TCP names a client (proxyproto.h). */
	if (info.version == 2 && info.has_addr &&
	    (data[12] != 0x21 || (data[13] != 0x11 && data[13] != 0x21)))
		abort();
	if (info.has_addr)
		check_reformat(&info);
	/* The payload after the header was not looked at. */
	if (parse_copy(data, (size_t)n, &tmp, err, sizeof(err)) != n)
		abort();
	/* A few proper prefixes, ends included: each must ask for more. */
	cut[0] = 0;
	cut[1] = 1;
	cut[2] = (size_t)n / 2;
	cut[3] = (size_t)n - 1;
	for (i = 0; i < NELEM(cut); i++)
		if (parse_copy(data, cut[i], &tmp, err, sizeof(err)) != 0)
			abort();
	return 0;
}
