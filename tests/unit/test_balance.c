/* Smooth weighted round robin: exact shares, spread out, skips honoured. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "balance.h"
#include "util.h"

/* Over one cycle of sum(weights) picks, each is chosen weight times. */
static void
test_exact_shares(void **state)
{
	static const struct { unsigned w[4]; size_t n; } rows[] = {
		{ { 1 }, 1 },
		{ { 1, 1 }, 2 },
		{ { 5, 1, 1 }, 3 },
		{ { 3, 2, 1, 4 }, 4 },
		{ { 256, 1 }, 2 },
	};
	size_t	 r, i, k, total;
	int	 credit[4], count[4];

	(void)state;
	for (r = 0; r < NELEM(rows); r++) {
		memset(credit, 0, sizeof(credit));
		memset(count, 0, sizeof(count));
		for (total = 0, i = 0; i < rows[r].n; i++)
			total += rows[r].w[i];
		/* Several whole cycles: the state comes back each time. */
		for (k = 0; k < 3 * total; k++) {
			int j = balance_rr_pick(rows[r].w, credit, rows[r].n,
			    NULL);
			assert_in_range(j, 0, (int)rows[r].n - 1);
			count[j]++;
		}
		for (i = 0; i < rows[r].n; i++)
			assert_int_equal(count[i], 3 * (int)rows[r].w[i]);
		for (i = 0; i < rows[r].n; i++)
			assert_int_equal(credit[i], 0);
	}
}

/*
 * Weights 5,1,1 give a a b a c a a, cycle after cycle: the light ones are
 * spread into the heavy one's run rather than sent back to back (plain
 * weighted round robin would give a a a a a b c).  Across a cycle
 * boundary a runs four times: with 5 of every 7 picks, runs of at most
 * two are impossible (they would cap a's share at 2/3).
 */
static void
test_spread(void **state)
{
	static const unsigned w[] = { 5, 1, 1 };
	static const char want[] = "aabacaa";
	int	 credit[3] = { 0 }, last = -1, run = 0, maxrun = 0, j;
	size_t	 k;

	(void)state;
	for (k = 0; k < 7000; k++) {
		j = balance_rr_pick(w, credit, 3, NULL);
		assert_int_equal('a' + j, want[k % 7]);
		run = j == last ? run + 1 : 1;
		last = j;
		if (run > maxrun)
			maxrun = run;
	}
	assert_int_equal(maxrun, 4);
}

/* Skipped upstreams are never chosen; all skipped gives -1. */
static void
test_skip(void **state)
{
	static const unsigned w[] = { 2, 1, 1 };
	unsigned char	 skip[3] = { 1, 0, 0 };
	int		 credit[3] = { 0 }, count[3] = { 0 };
	size_t		 k;

	(void)state;
	for (k = 0; k < 100; k++)
		count[balance_rr_pick(w, credit, 3, skip)]++;
	assert_int_equal(count[0], 0);
	assert_int_equal(count[1], 50);
	assert_int_equal(count[2], 50);
	memset(skip, 1, sizeof(skip));
	assert_int_equal(balance_rr_pick(w, credit, 3, skip), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_shares),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_skip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
