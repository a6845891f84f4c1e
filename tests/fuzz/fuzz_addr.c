/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for address parsing: whatever parses must format and
 * parse back to the same address.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 s[256], buf[ADDR_STRLEN], err[256];
	struct addr	 a[2], b[2], u;
	int		 n, i;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((n = addr_parse_listen(s, a, err, sizeof(err))) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	for (i = 0; i < n; i++) {
		/* v4-mapped addresses are shown, and so read back, as IPv4. */
		u = a[i];
		addr_unmap(&u);
		addr_format(&a[i], buf, sizeof(buf));
		/*
		 * Read back as a listen address: only those may have port 0
		 * ("any free port"), which an upstream may not.
		 */
		if (addr_parse_listen(buf, b, err, sizeof(err)) != 1 ||
		    !addr_equal(&u, &b[0]))
			abort();
	}
	return 0;
}
