/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the config reader: any bytes must give either a
 * config or a list of "NAME:LINE: ..." errors, never a crash or a leak.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c;
	char		*errs = NULL;
	FILE		*fp;

	if (size == 0)
		return 0;
	if ((fp = fmemopen((void *)(uintptr_t)data, size, "r")) == NULL)
		return 0;
	/*
	 * Loading builds no pools (only pool_attach() does), so nothing piles
	 * up in pool.c's process-wide list of counters.
	 */
	c = config_load_fp(fp, "fuzz.ini", CONFIG_LOAD_NO_RESOLVE, &errs);
	fclose(fp);
	if (c == NULL) {
		/* Every failure explains itself, naming the input. */
		if (errs == NULL || strncmp(errs, "fuzz.ini:", 9) != 0)
			abort();
		free(errs);
	} else if (errs != NULL || c->nroutes == 0)
		abort();
	config_unref(c);
	return 0;
}
