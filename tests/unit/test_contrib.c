/*
 * The sample configurations in contrib/examples must load with the
 * parser that ships beside them: a sample that fails "relay46 -t" is
 * worse than none.  Every *.ini there is loaded with config_load(); the
 * source tree is found through $RELAY46_SRCDIR, as test_config.c finds
 * etc/relay46.ini.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

/* Those the README and the unit files point to; more may be added. */
static const char *const expected[] = {
	"port-forward.ini", "ipv6-front.ini", "pool.ini", "proxy-chain.ini",
};

static int
has_suffix(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

static void
test_examples_load(void **state)
{
	struct dirent	*de;
	struct config	*c;
	const char	*src;
	char		 dir[PATH_MAX], path[PATH_MAX + 256], *errs;
	size_t		 i, loaded = 0, seen[NELEM(expected)] = { 0 };
	DIR		*d;

	(void)state;
	if ((src = getenv("RELAY46_SRCDIR")) == NULL || *src == '\0')
		skip();
	snprintf(dir, sizeof(dir), "%s/contrib/examples", src);
	if ((d = opendir(dir)) == NULL)
		fail_msg("opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (!has_suffix(de->d_name, ".ini"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		errs = NULL;
		if ((c = config_load(path, &errs)) == NULL) {
			print_error("%s", errs != NULL ? errs : "no reason\n");
			free(errs);
			closedir(d);
			fail_msg("%s does not load", path);
		}
		config_unref(c);
		loaded++;
		for (i = 0; i < NELEM(expected); i++)
			if (strcmp(de->d_name, expected[i]) == 0)
				seen[i]++;
	}
	closedir(d);
	for (i = 0; i < NELEM(expected); i++)
		if (seen[i] == 0)
			fail_msg("contrib/examples/%s is missing", expected[i]);
	assert_true(loaded >= NELEM(expected));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
