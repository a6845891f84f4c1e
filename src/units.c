/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * units.c: the value syntaxes of relay46.ini shared by many keys:
 * durations ("250ms", "5s"), sizes ("64k"), plain numbers and switches;
 * and byte counts as the status page shows them ("1.5 GiB").
 *
 * Pure: it owns nothing, keeps no state, never logs; a reason goes into
 * the caller's ${err}, which config.c prefixes with "FILE:LINE: key =
 * value: ".  Any thread may call it.
 *
 * Strict on purpose: a value is refused rather than read some other way
 * than its writer meant.  No sign, no fraction, no spaces, no overflow,
 * no unit that is not listed, so "1.5s", "-1", "5 s" and "10M" for a
 * duration are errors, where strtoul() would have made 1, a huge number,
 * 5 and 10 of them.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "units.h"
#include "util.h"

/*
 * Read the leading decimal digits of ${s} into ${v}, refusing signs and
 * overflow, which strtoull would quietly accept or wrap.  Returns the
 * first byte after the digits, or NULL.
 */
static const char *
units_digits(const char *s, uint64_t *v, char *err, size_t errlen)
{
	uint64_t	 n = 0;
	const char	*p = s;

	if (*p == '-') {
		err_set(err, errlen, "negative value '%s'", s);
		return NULL;
	}
	if (!isdigit((unsigned char)*p)) {
		err_set(err, errlen, "'%s' is not a number", s);
		return NULL;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			err_set(err, errlen, "'%s' is too large", s);
			return NULL;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*v = n;
	return p;
}

int
units_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	/*
	 * A bare number is seconds, the unit most keys are thought of in.
	 * Suffixes are lower case only, as relay46.ini(5) lists them: "5M"
	 * is an error, not five minutes.
	 */
	static const struct { const char *sfx; uint64_t mul; } u[] = {
		{ "ms", 1 }, { "", 1000 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	const char	*p;
	uint64_t	 n;
	size_t		 i;

	if ((p = units_digits(s, &n, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < NELEM(u); i++) {
		if (strcmp(p, u[i].sfx) != 0)
			continue;
		/* Divided, not multiplied: n * mul could wrap unseen. */
		if (n > UNITS_DURATION_MAX / u[i].mul) {
			err_set(err, errlen, "duration '%s' is too long "
			    "(at most 30d)", s);
			return -1;
		}
		*ms = n * u[i].mul;
		return 0;
	}
	err_set(err, errlen, "bad duration '%s' (use e.g. 250ms, 5s, 2m, 1h)",
	    s);
	return -1;
}

/* Sizes, unlike durations, take either case: "64K" is never ambiguous. */
int
units_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	const char	*p;
	uint64_t	 n, mul;

	if ((p = units_digits(s, &n, err, errlen)) == NULL)
		return -1;
	if (*p == '\0')
		mul = 1;
	else if (strcasecmp(p, "k") == 0)
		mul = 1ULL << 10;
	else if (strcasecmp(p, "m") == 0)
		mul = 1ULL << 20;
	else if (strcasecmp(p, "g") == 0)
		mul = 1ULL << 30;
	else {
		err_set(err, errlen, "bad size '%s' (use e.g. 512, 64k, 1m)",
		    s);
		return -1;
	}
	if (n > UNITS_SIZE_MAX / mul) {
		err_set(err, errlen, "size '%s' is too large (at most 1g)", s);
		return -1;
	}
	*bytes = n * mul;
	return 0;
}

int
units_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v,
    char *err, size_t errlen)
{
	const char	*p;
	uint64_t	 n;

	if ((p = units_digits(s, &n, err, errlen)) == NULL)
		return -1;
	if (*p != '\0') {
		err_set(err, errlen, "'%s' is not a whole number", s);
		return -1;
	}
	if (n < min || n > max) {
		err_set(err, errlen, "%s is out of range (%llu to %llu)", s,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*v = n;
	return 0;
}

int
units_parse_bool(const char *s, int *v, char *err, size_t errlen)
{
	static const char *yes[] = { "on", "yes", "true", "1" };
	static const char *no[] = { "off", "no", "false", "0" };
	size_t	 i;

	for (i = 0; i < NELEM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	err_set(err, errlen, "'%s' is not on or off", s);
	return -1;
}

/*
 * The largest unit that divides ${ms} exactly, so nothing is rounded:
 * 90000 is "90s", not "1.5m" (which units_parse_duration() would refuse)
 * nor "2m".  0 is "0s".
 */
const char *
units_format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, len, "%llud", (unsigned long long)(ms / 86400000));
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}

/*
 * Integers only: a double has 53 bits, and the tenths of 2^64 - 1 would
 * round differently from those of a value a little below it.  A value
 * that rounds up to 1024.0 of a unit is shown as 1.0 of the next.
 */
const char *
units_format_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
		"PiB", "EiB" };
	uint64_t		 div = 1, whole, tenths;
	size_t			 u = 0;

	while (u + 1 < NELEM(unit) && n / div >= 1024) {
		div *= 1024;
		u++;
	}
	if (u == 0) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	whole = n / div;
	/* n % div < 2^60, so ten times it still fits in 64 bits. */
	tenths = (n % div * 10 + div / 2) / div;
	if (tenths == 10) {
		whole++;
		tenths = 0;
	}
	if (whole == 1024 && u + 1 < NELEM(unit)) {
		whole = 1;
		u++;
	}
	snprintf(buf, len, "%llu.%llu %s", (unsigned long long)whole,
	    (unsigned long long)tenths, unit[u]);
	return buf;
}
