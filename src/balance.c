/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * balance.c: choosing an upstream among candidates, by the four methods
 * of balance.h.  session.c fills the candidate array from the pool (the
 * weights, live counts and keys) and marks in skip[] those a session may
 * not use; this file only picks.
 *
 * It owns nothing: the arrays are the caller's, and the only state that
 * lasts between picks is the caller's struct balance_state, one per
 * route per worker, so no two threads ever share one and there is
 * nothing to lock.  It must never do I/O, read a clock, log or allocate:
 * it runs once or more per accepted session, on the worker's thread.
 */
#include "autoconf.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "balance.h"

/*
 * Everything here is a function of its arguments and the caller's state:
 * no clock, no pointer values, no globals.  Two workers (or two relay46
 * processes) given the same candidates and client make the same choice,
 * which is what SOURCE promises.
 */

/* splitmix64's finaliser: a bijection that spreads every input bit. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t
balance_hash(const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint64_t		 h = UINT64_C(0xcbf29ce484222325);
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	/* FNV-1a alone leaves near inputs (10.0.0.1, 10.0.0.2) near. */
	return mix64(h);
}

/*
 * splitmix64 as a generator: the state only steps by a constant, so every
 * seed, 0 included, gives a full-period stream.
 */
void
balance_seed(struct balance_state *st, uint64_t seed)
{
	st->rng = seed;
}

/* The next 64 random bits of ${st}'s stream. */
static uint64_t
rng_next(struct balance_state *st)
{
	st->rng += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(st->rng);
}

/* A uniform integer in [0, bound), bound < 2^32: Lemire's multiply-shift. */
static uint64_t
rng_below(struct balance_state *st, uint64_t bound)
{
	/* The bias is at most bound / 2^32, far below what a test can see. */
	return ((rng_next(st) >> 32) * bound) >> 32;
}

/* Is candidate ${i} out of this pick?  ${skip} NULL: none is. */
static bool
skipped(const unsigned char *skip, size_t i)
{
	return skip != NULL && skip[i];
}

/* The header says 1..256; a stray 0 must not divide by zero or starve. */
static uint64_t
weight_of(const struct balance_cand *c)
{
	return c->weight == 0 ? 1 : c->weight;
}

/*
 * Smooth weighted round robin (nginx's).  The weights come either from
 * ${w} or from ${c}, so that balance_rr_pick() and balance_pick() share
 * one body.
 */
static int
rr_pick(const unsigned *w, const struct balance_cand *c, size_t n,
    const unsigned char *skip, int *credit)
{
	size_t	 i;
	int	 best = -1, total = 0, wi;

	/*
	 * A skipped candidate's credit stands still: it neither earns nor
	 * pays, so when it comes back it takes up its turn where it left it
	 * rather than with a burst of saved-up credit.
	 */
	for (i = 0; i < n; i++) {
		if (skipped(skip, i))
			continue;
		wi = (int)(w != NULL ? w[i] : c[i].weight);
		credit[i] += wi;
		total += wi;
		if (best == -1 || credit[i] > credit[best])
			best = (int)i;
	}
	/* Charging the winner the whole total keeps the credits at sum 0. */
	if (best != -1)
		credit[best] -= total;
	return best;
}

int
balance_rr_pick(const unsigned *weights, int *credit, size_t n,
    const unsigned char *skip)
{
	return rr_pick(weights, NULL, n, skip, credit);
}

/* Is ${a} less loaded than ${b}, per weight?  Cross-multiplied: no division. */
static bool
lighter(const struct balance_cand *a, const struct balance_cand *b)
{
	return (uint64_t)a->live * weight_of(b) <
	    (uint64_t)b->live * weight_of(a);
}

/*
 * Would ${a} be less loaded than ${b} per weight with this session on it?
 * Counting the new session ((live + 1) / weight, as HAProxy does) sends
 * the first sessions of an idle pool to the heavy upstreams and keeps
 * shares close to the weights even when few sessions are live (worst
 * case measured in test_balance: 8.9 % off with live / weight, 1.5 % so).
 */
static bool
lighter_after(const struct balance_cand *a, const struct balance_cand *b)
{
	return ((uint64_t)a->live + 1) * weight_of(b) <
	    ((uint64_t)b->live + 1) * weight_of(a);
}

/*
 * LEASTCONN: the candidate that would be least loaded per weight with
 * this session on it.  The live counts are the pool's, read a moment ago
 * and shared by every worker, so two workers picking at once may both
 * choose the same one; the next picks see it heavier and even it out.
 */
static int
leastconn_pick(const struct balance_cand *c, size_t n,
    const unsigned char *skip, struct balance_state *st)
{
	size_t	 j, i, start;
	int	 best = -1;

	if (n == 0)
		return -1;
	/*
	 * Start at the cursor and let only a strictly lighter one take over,
	 * so equal candidates win in turn rather than the first one always.
	 */
	start = st->cursor % n;
	for (j = 0; j < n; j++) {
		i = (start + j) % n;
		if (skipped(skip, i))
			continue;
		if (best == -1 || lighter_after(&c[i], &c[best]))
			best = (int)i;
	}
	if (best != -1)
		st->cursor = ((size_t)best + 1) % n;
	return best;
}

/* One draw with probability proportional to weight, among those not out. */
static int
weighted_draw(const struct balance_cand *c, size_t n,
    const unsigned char *skip, int also_out, struct balance_state *st)
{
	uint64_t	 total = 0, r;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (!skipped(skip, i) && (int)i != also_out)
			total += weight_of(&c[i]);
	if (total == 0)
		return -1;
	r = rng_below(st, total);
	for (i = 0; i < n; i++) {
		if (skipped(skip, i) || (int)i == also_out)
			continue;
		if (r < weight_of(&c[i]))
			return (int)i;
		r -= weight_of(&c[i]);
	}
	return -1;	/* not reached: r < total */
}

/*
 * RANDOM: the power of two choices (Mitzenmacher): two weighted draws,
 * the lighter one wins.  Nearly as even as leastconn, but two workers
 * picking at once rarely pile onto the same upstream, since their draws
 * differ.
 */
static int
random_pick(const struct balance_cand *c, size_t n,
    const unsigned char *skip, struct balance_state *st)
{
	int	 a, b;

	if ((a = weighted_draw(c, n, skip, -1, st)) == -1)
		return -1;
	/* A second draw of the same one would waste the choice. */
	if ((b = weighted_draw(c, n, skip, a, st)) == -1)
		return a;
	/* The first draw wins ties, so an idle pool follows the weights. */
	return lighter(&c[b], &c[a]) ? b : a;
}

/*
 * -ln(u) for candidate key ${key} and client ${client}, u in (0,1) taken
 * from 53 mixed bits.  Keying by the candidate's key rather than its
 * index makes the answer independent of the order of the array.
 *
 * Why log() from libm and not a trick without it: the score must be
 * weight / -ln(u) for the weighted shares to come out right, and glibc's
 * log() is deterministic for a given input.  Two libms that disagree in
 * the last bit could only flip a near-exact tie, about 2^-50 of clients.
 */
static double
source_neglog(uint64_t client, uint64_t key)
{
	uint64_t	 x;

	/* Mix the key first: client ^ key alone would collide on swaps. */
	x = mix64(client ^ mix64(key)) >> 11;
	/* 0 would give u = 0 and an infinite -ln(u); 1 is as likely. */
	if (x == 0)
		x = 1;
	/* x < 2^53, so x * 2^-53 is exact and strictly below 1. */
	return -log((double)x * 0x1p-53);
}

/*
 * SOURCE: the highest weight / -ln(u) wins (weighted rendezvous hashing,
 * as balance.h describes).  One pass, no table to rebuild when the
 * candidates change: a skipped candidate simply takes no part, and only
 * its clients move.
 */
static int
source_pick(const struct balance_cand *c, size_t n,
    const unsigned char *skip, uint64_t client)
{
	double	 score, best_score = 0;
	size_t	 i;
	int	 best = -1;

	for (i = 0; i < n; i++) {
		if (skipped(skip, i))
			continue;
		score = (double)weight_of(&c[i]) / source_neglog(client,
		    c[i].key);
		/* Ties go to the lower key: still independent of order. */
		if (best == -1 || score > best_score ||
		    (score == best_score && c[i].key < c[best].key)) {
			best = (int)i;
			best_score = score;
		}
	}
	return best;
}

int
balance_pick(enum balance_method m, const struct balance_cand *c, size_t n,
    const unsigned char *skip, struct balance_state *st, uint64_t client)
{
	switch (m) {
	case BALANCE_ROUNDROBIN:
		return rr_pick(NULL, c, n, skip, st->credit);
	case BALANCE_LEASTCONN:
		return leastconn_pick(c, n, skip, st);
	case BALANCE_SOURCE:
		return source_pick(c, n, skip, client);
	case BALANCE_RANDOM:
		return random_pick(c, n, skip, st);
	}
	/* A method config.c never sets: no choice rather than a wrong one. */
	return -1;
}

const char *
balance_name(int m)
{
	switch (m) {
	case BALANCE_ROUNDROBIN:
		return "roundrobin";
	case BALANCE_LEASTCONN:
		return "leastconn";
	case BALANCE_SOURCE:
		return "source";
	case BALANCE_RANDOM:
		return "random";
	}
	return "unknown";
}
