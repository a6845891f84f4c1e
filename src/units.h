/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_UNITS_H
#define RELAY46_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* The largest duration accepted: 30 days, in milliseconds. */
#define UNITS_DURATION_MAX	(30ULL * 24 * 3600 * 1000)
/* The largest size accepted: 1 GiB. */
#define UNITS_SIZE_MAX		(1ULL << 30)

/*
 * units_parse_duration(s, ms, err, errlen): parse "250ms", "5s", "2m",
 * "1h", "1d" or a bare number of seconds into milliseconds.  Rejects
 * empty, negative, fractional, garbled and too large values (over
 * UNITS_DURATION_MAX).  Returns 0, or -1 with the reason in ${err}.
 */
int	 units_parse_duration(const char *s, uint64_t *ms, char *err,
	    size_t errlen);

/*
 * units_parse_size(s, bytes, err, errlen): parse "512", "64k", "1m", "1g"
 * (powers of 1024; upper case too) into bytes, at most UNITS_SIZE_MAX.
 * Returns 0, or -1 with the reason in ${err}.
 */
int	 units_parse_size(const char *s, uint64_t *bytes, char *err,
	    size_t errlen);

/*
 * units_parse_uint(s, min, max, v, err, errlen): a plain decimal integer
 * in [min, max].  Returns 0, or -1 with the reason in ${err}.
 */
int	 units_parse_uint(const char *s, uint64_t min, uint64_t max,
	    uint64_t *v, char *err, size_t errlen);

/*
 * units_parse_bool(s, v, err, errlen): on/off, yes/no, true/false, 1/0.
 * Returns 0, or -1 with the reason in ${err}.
 */
int	 units_parse_bool(const char *s, int *v, char *err, size_t errlen);

/*
 * units_format_duration(ms, buf, len): the shortest exact form of ${ms}
 * ("250ms", "5s", "2m", "1h", "1d"); a value parsed back gives ${ms} again.
 * Returns ${buf}.
 */
const char *units_format_duration(uint64_t ms, char *buf, size_t len);

/*
 * units_format_bytes(n, buf, len): ${n} bytes for people, in powers of
 * 1024 with one decimal, rounded to the nearest: "512 B", "1.5 KiB",
 * "1.0 MiB" (for 1048575 too), up to "16.0 EiB".  Not for parsing back.
 * Returns ${buf}.
 */
const char *units_format_bytes(uint64_t n, char *buf, size_t len);

#endif
