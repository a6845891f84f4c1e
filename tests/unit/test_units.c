/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for units.c: durations, sizes, bounded integers, switches
 * and the duration formatter.  Every parser is driven by a table of
 * input -> value or input -> error text (STYLE.md 2.6).
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "units.h"
#include "util.h"

struct good_row {
	const char	*in;
	uint64_t	 want;
};

struct bad_row {
	const char	*in;
	const char	*want_err;	/* a substring of the reason */
};

/* ---- durations --------------------------------------------------------- */

static const struct good_row duration_good[] = {
	{ "250ms", 250 },
	{ "0ms", 0 },
	{ "1ms", 1 },
	{ "5s", 5000 },
	{ "2m", 120000 },
	{ "1h", 3600000 },
	{ "1d", 86400000 },
	{ "7", 7000 },			/* a bare number is seconds */
	{ "0", 0 },
	{ "0s", 0 },
	{ "007s", 7000 },
	{ "90m", 5400000 },
	{ "30d", UNITS_DURATION_MAX },	/* the largest accepted */
	{ "720h", UNITS_DURATION_MAX },
	{ "2592000", UNITS_DURATION_MAX },
	{ "2592000000ms", UNITS_DURATION_MAX },
};

static const struct bad_row duration_bad[] = {
	{ "", "'' is not a number" },
	{ "-1", "negative value '-1'" },
	{ "-5s", "negative value '-5s'" },
	{ "+5s", "'+5s' is not a number" },
	{ " 5s", "is not a number" },
	{ "1.5s", "bad duration '1.5s' (use e.g. 250ms, 5s, 2m, 1h)" },
	{ "5x", "bad duration '5x'" },
	{ "5 s", "bad duration '5 s'" },
	{ "5s ", "bad duration '5s '" },
	{ "5sec", "bad duration '5sec'" },
	{ "1h30m", "bad duration '1h30m'" },
	{ "5mss", "bad duration '5mss'" },
	{ "s", "'s' is not a number" },
	{ "ms", "'ms' is not a number" },
	{ "99999999999999999999", "'99999999999999999999' is too large" },
	{ "31d", "duration '31d' is too long (at most 30d)" },
	{ "721h", "duration '721h' is too long" },
	{ "2592001", "duration '2592001' is too long" },
	{ "2592000001ms", "duration '2592000001ms' is too long" },
	/* Large enough that n * 86400000 would wrap a uint64_t. */
	{ "999999999999999d", "is too long (at most 30d)" },
};

static void
test_duration_good(void **state)
{
	char		 err[256];
	uint64_t	 ms;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(duration_good); i++) {
		ms = 12345;
		err[0] = '\0';
		if (units_parse_duration(duration_good[i].in, &ms, err,
		    sizeof(err)) != 0)
			fail_msg("duration '%s': unexpected error '%s'",
			    duration_good[i].in, err);
		if (ms != duration_good[i].want)
			fail_msg("duration '%s': got %llu, want %llu",
			    duration_good[i].in, (unsigned long long)ms,
			    (unsigned long long)duration_good[i].want);
	}
}

static void
test_duration_bad(void **state)
{
	char		 err[256];
	uint64_t	 ms;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(duration_bad); i++) {
		ms = 12345;
		err[0] = '\0';
		if (units_parse_duration(duration_bad[i].in, &ms, err,
		    sizeof(err)) != -1)
			fail_msg("duration '%s': accepted as %llu",
			    duration_bad[i].in, (unsigned long long)ms);
		if (strstr(err, duration_bad[i].want_err) == NULL)
			fail_msg("duration '%s': error '%s' lacks '%s'",
			    duration_bad[i].in, err, duration_bad[i].want_err);
		if (ms != 12345)
			fail_msg("duration '%s': output written on error",
			    duration_bad[i].in);
	}
}

/* ---- sizes ------------------------------------------------------------- */

static const struct good_row size_good[] = {
	{ "512", 512 },
	{ "0", 0 },
	{ "1", 1 },
	{ "64k", 65536 },
	{ "64K", 65536 },
	{ "1m", 1048576 },
	{ "1M", 1048576 },
	{ "1g", 1073741824 },
	{ "1G", 1073741824 },
	{ "1048576k", UNITS_SIZE_MAX },
	{ "1024m", UNITS_SIZE_MAX },
	{ "1073741824", UNITS_SIZE_MAX },
};

static const struct bad_row size_bad[] = {
	{ "", "'' is not a number" },
	{ "-1", "negative value '-1'" },
	{ "-64k", "negative value '-64k'" },
	{ "k", "'k' is not a number" },
	{ "1t", "bad size '1t' (use e.g. 512, 64k, 1m)" },
	{ "64kb", "bad size '64kb'" },
	{ "1.5k", "bad size '1.5k'" },
	{ "64 k", "bad size '64 k'" },
	{ "2g", "size '2g' is too large (at most 1g)" },
	{ "1025m", "size '1025m' is too large" },
	{ "1048577k", "size '1048577k' is too large" },
	{ "1073741825", "size '1073741825' is too large" },
	{ "99999999999999999999", "'99999999999999999999' is too large" },
	/* Large enough that n << 30 would wrap a uint64_t. */
	{ "99999999999g", "size '99999999999g' is too large" },
};

static void
test_size_good(void **state)
{
	char		 err[256];
	uint64_t	 n;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(size_good); i++) {
		n = 12345;
		err[0] = '\0';
		if (units_parse_size(size_good[i].in, &n, err,
		    sizeof(err)) != 0)
			fail_msg("size '%s': unexpected error '%s'",
			    size_good[i].in, err);
		if (n != size_good[i].want)
			fail_msg("size '%s': got %llu, want %llu",
			    size_good[i].in, (unsigned long long)n,
			    (unsigned long long)size_good[i].want);
	}
}

static void
test_size_bad(void **state)
{
	char		 err[256];
	uint64_t	 n;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(size_bad); i++) {
		n = 12345;
		err[0] = '\0';
		if (units_parse_size(size_bad[i].in, &n, err,
		    sizeof(err)) != -1)
			fail_msg("size '%s': accepted as %llu", size_bad[i].in,
			    (unsigned long long)n);
		if (strstr(err, size_bad[i].want_err) == NULL)
			fail_msg("size '%s': error '%s' lacks '%s'",
			    size_bad[i].in, err, size_bad[i].want_err);
		if (n != 12345)
			fail_msg("size '%s': output written on error",
			    size_bad[i].in);
	}
}

/* ---- bounded integers -------------------------------------------------- */

struct uint_row {
	const char	*in;
	uint64_t	 min, max;
	int		 rc;
	uint64_t	 want;		/* when rc == 0 */
	const char	*want_err;	/* when rc == -1 */
};

static const struct uint_row uint_rows[] = {
	{ "5", 0, 10, 0, 5, NULL },
	{ "0", 0, 10, 0, 0, NULL },
	{ "10", 0, 10, 0, 10, NULL },
	{ "1", 1, 256, 0, 1, NULL },
	{ "256", 1, 256, 0, 256, NULL },
	{ "0100", 0, 100, 0, 100, NULL },
	{ "10000000", 0, 10000000, 0, 10000000, NULL },
	{ "4294967296", 0, UINT64_C(1) << 40, 0, UINT64_C(4294967296), NULL },
	{ "11", 0, 10, -1, 0, "11 is out of range (0 to 10)" },
	{ "0", 1, 256, -1, 0, "0 is out of range (1 to 256)" },
	{ "257", 1, 256, -1, 0, "257 is out of range (1 to 256)" },
	{ "4294967296", 0, 10000000, -1, 0, "out of range (0 to 10000000)" },
	{ "5x", 0, 10, -1, 0, "'5x' is not a whole number" },
	{ "1.0", 0, 10, -1, 0, "'1.0' is not a whole number" },
	{ "1 ", 0, 10, -1, 0, "'1 ' is not a whole number" },
	{ "1k", 0, 10000, -1, 0, "'1k' is not a whole number" },
	{ "", 0, 10, -1, 0, "'' is not a number" },
	{ " 1", 0, 10, -1, 0, "' 1' is not a number" },
	{ "+1", 0, 10, -1, 0, "'+1' is not a number" },
	{ "0x10", 0, 100, -1, 0, "'0x10' is not a whole number" },
	{ "-1", 0, 10, -1, 0, "negative value '-1'" },
	{ "-0", 0, 10, -1, 0, "negative value '-0'" },
	{ "99999999999999999999", 0, 10, -1, 0, "is too large" },
};

static void
test_uint(void **state)
{
	const struct uint_row	*r;
	char			 err[256];
	uint64_t		 v;
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < NELEM(uint_rows); i++) {
		r = &uint_rows[i];
		v = 12345;
		err[0] = '\0';
		rc = units_parse_uint(r->in, r->min, r->max, &v, err,
		    sizeof(err));
		if (rc != r->rc)
			fail_msg("uint '%s' [%llu, %llu]: rc %d, want %d (%s)",
			    r->in, (unsigned long long)r->min,
			    (unsigned long long)r->max, rc, r->rc, err);
		if (rc == 0 && v != r->want)
			fail_msg("uint '%s': got %llu, want %llu", r->in,
			    (unsigned long long)v, (unsigned long long)r->want);
		if (rc == -1 && strstr(err, r->want_err) == NULL)
			fail_msg("uint '%s': error '%s' lacks '%s'", r->in, err,
			    r->want_err);
		if (rc == -1 && v != 12345)
			fail_msg("uint '%s': output written on error", r->in);
	}
}

/* ---- switches ---------------------------------------------------------- */

struct bool_row {
	const char	*in;
	int		 rc;
	int		 want;
};

static const struct bool_row bool_rows[] = {
	{ "on", 0, 1 }, { "yes", 0, 1 }, { "true", 0, 1 }, { "1", 0, 1 },
	{ "ON", 0, 1 }, { "Yes", 0, 1 }, { "TRUE", 0, 1 },
	{ "off", 0, 0 }, { "no", 0, 0 }, { "false", 0, 0 }, { "0", 0, 0 },
	{ "OFF", 0, 0 }, { "No", 0, 0 }, { "False", 0, 0 },
	{ "", -1, 0 }, { "2", -1, 0 }, { "onn", -1, 0 }, { "o", -1, 0 },
	{ "enable", -1, 0 }, { " on", -1, 0 }, { "on ", -1, 0 },
	{ "-1", -1, 0 }, { "y", -1, 0 },
};

static void
test_bool(void **state)
{
	char	 err[256], want[256];
	size_t	 i;
	int	 v, rc;

	(void)state;
	for (i = 0; i < NELEM(bool_rows); i++) {
		v = 42;
		err[0] = '\0';
		rc = units_parse_bool(bool_rows[i].in, &v, err, sizeof(err));
		if (rc != bool_rows[i].rc)
			fail_msg("bool '%s': rc %d, want %d (%s)",
			    bool_rows[i].in, rc, bool_rows[i].rc, err);
		if (rc == 0 && v != bool_rows[i].want)
			fail_msg("bool '%s': got %d, want %d", bool_rows[i].in,
			    v, bool_rows[i].want);
		if (rc == -1) {
			snprintf(want, sizeof(want), "'%s' is not on or off",
			    bool_rows[i].in);
			assert_string_equal(err, want);
			assert_int_equal(v, 42);
		}
	}
}

/* ---- formatting -------------------------------------------------------- */

struct fmt_row {
	uint64_t	 ms;
	const char	*want;		/* NULL: only check the round trip */
};

static const struct fmt_row fmt_rows[] = {
	{ 0, "0s" },
	{ 1, "1ms" },
	{ 250, "250ms" },
	{ 999, "999ms" },
	{ 1000, "1s" },
	{ 1500, "1500ms" },
	{ 5000, "5s" },
	{ 59000, "59s" },
	{ 60000, "1m" },
	{ 61000, "61s" },
	{ 90000, "90s" },
	{ 120000, "2m" },
	{ 3600000, "1h" },
	{ 3601000, "3601s" },
	{ 5400000, "90m" },
	{ 7200000, "2h" },
	{ 86400000, "1d" },
	{ 90000000, "25h" },
	{ 86400001, "86400001ms" },
	{ UNITS_DURATION_MAX, "30d" },
	{ UNITS_DURATION_MAX - 1, NULL },
	{ 3599999, NULL },
	{ 60001, NULL },
};

static void
test_format_duration(void **state)
{
	char		 buf[64], err[256];
	uint64_t	 back;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(fmt_rows); i++) {
		memset(buf, 'X', sizeof(buf));
		assert_ptr_equal(units_format_duration(fmt_rows[i].ms, buf,
		    sizeof(buf)), buf);
		if (fmt_rows[i].want != NULL &&
		    strcmp(buf, fmt_rows[i].want) != 0)
			fail_msg("format %llu: got '%s', want '%s'",
			    (unsigned long long)fmt_rows[i].ms, buf,
			    fmt_rows[i].want);
		back = 12345;
		if (units_parse_duration(buf, &back, err, sizeof(err)) != 0)
			fail_msg("format %llu gave '%s', which does not parse: "
			    "%s", (unsigned long long)fmt_rows[i].ms, buf, err);
		if (back != fmt_rows[i].ms)
			fail_msg("format %llu gave '%s', which parses as %llu",
			    (unsigned long long)fmt_rows[i].ms, buf,
			    (unsigned long long)back);
	}
}

/* Every parsed duration formats to a string that parses to the same value. */
static void
test_duration_round_trip(void **state)
{
	char		 buf[64], err[256];
	uint64_t	 ms, back;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(duration_good); i++) {
		assert_int_equal(units_parse_duration(duration_good[i].in, &ms,
		    err, sizeof(err)), 0);
		units_format_duration(ms, buf, sizeof(buf));
		assert_int_equal(units_parse_duration(buf, &back, err,
		    sizeof(err)), 0);
		if (back != ms)
			fail_msg("'%s' -> %llu -> '%s' -> %llu",
			    duration_good[i].in, (unsigned long long)ms, buf,
			    (unsigned long long)back);
	}
}

/* A short buffer is truncated and terminated, never overrun. */
static void
test_format_short_buffer(void **state)
{
	char	 buf[8];

	(void)state;
	memset(buf, 'X', sizeof(buf));
	units_format_duration(86400001, buf, 4);
	assert_int_equal(strlen(buf), 3);
	assert_int_equal(buf[4], 'X');
}

static const struct {
	uint64_t	 n;
	const char	*want;
} bytes_rows[] = {
	{ 0, "0 B" },
	{ 1, "1 B" },
	{ 1023, "1023 B" },
	{ 1024, "1.0 KiB" },
	{ 1075, "1.0 KiB" },		/* 1.0498 */
	{ 1076, "1.1 KiB" },		/* 1.0508 */
	{ 1536, "1.5 KiB" },
	{ 1048524, "1023.9 KiB" },	/* 1023.949 */
	{ 1048525, "1.0 MiB" },		/* 1023.950: rounds to 1024.0 */
	{ 1048575, "1.0 MiB" },
	{ 1048576, "1.0 MiB" },
	{ 1610612736, "1.5 GiB" },
	{ 1099511627776ULL * 3 / 2, "1.5 TiB" },
	{ 1ULL << 50, "1.0 PiB" },
	{ 1ULL << 60, "1.0 EiB" },
	{ UINT64_MAX, "16.0 EiB" },
};

/* Bytes for people: the unit steps at 1024, tenths rounded. */
static void
test_format_bytes(void **state)
{
	char	 buf[32], small[6];
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(bytes_rows); i++) {
		memset(buf, 'X', sizeof(buf));
		assert_ptr_equal(
		    units_format_bytes(bytes_rows[i].n, buf, sizeof(buf)), buf);
		if (strcmp(buf, bytes_rows[i].want) != 0)
			fail_msg("bytes %llu: got '%s', want '%s'",
			    (unsigned long long)bytes_rows[i].n, buf,
			    bytes_rows[i].want);
	}
	/* Cut short, never overrun. */
	units_format_bytes(UINT64_MAX, small, sizeof(small));
	assert_string_equal(small, "16.0 ");
}

/* A NULL error buffer is allowed (err_set's contract). */
static void
test_null_err(void **state)
{
	uint64_t	 v;
	int		 b;

	(void)state;
	assert_int_equal(units_parse_duration("x", &v, NULL, 0), -1);
	assert_int_equal(units_parse_size("x", &v, NULL, 0), -1);
	assert_int_equal(units_parse_uint("x", 0, 1, &v, NULL, 0), -1);
	assert_int_equal(units_parse_bool("x", &b, NULL, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_format_short_buffer),
		cmocka_unit_test(test_format_bytes),
		cmocka_unit_test(test_null_err),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
