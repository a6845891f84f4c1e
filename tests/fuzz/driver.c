/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs a fuzz target over its seed corpus without libFuzzer, so that
 * "make check" keeps every target building and replays the seeds under
 * the sanitizers.  Usage: fuzz_X [FILE...]; with no arguments it reads
 * $RELAY46_SRCDIR/tests/fuzz/corpus/<name>/.
 */
#include "autoconf.h"

#include <dirent.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	static uint8_t	 buf[1 << 16];
	size_t		 n;
	FILE		*fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int
main(int argc, char **argv)
{
	char		 dir[4096], path[8192], *name, *p;
	const char	*src = getenv("RELAY46_SRCDIR");
	struct dirent	*de;
	DIR		*d;
	int		 i, n = 0;

	for (i = 1; i < argc; i++)
		if (run_file(argv[i]) == -1)
			return 1;
	if (argc > 1)
		return 0;
	name = basename(argv[0]);
	if ((p = strstr(name, "fuzz_")) != NULL)
		name = p + 5;
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
	    src != NULL ? src : ".", name);
	if ((d = opendir(dir)) == NULL) {
		perror(dir);
		return 99;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (run_file(path) == -1) {
			closedir(d);
			return 1;
		}
		n++;
	}
	closedir(d);
	printf("%s: %d seed inputs replayed\n", name, n);
	return n > 0 ? 0 : 99;
}
