/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_BALANCE_H
#define RELAY46_BALANCE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Choosing an upstream.  Pure: no I/O, no clock, no global state; the
 * caller owns every array and the per-route state.  Candidates are the
 * route's upstreams in a fixed order; ${skip}[i] true (or skip NULL for
 * none) removes one from this pick (down, full, already tried).
 */

enum balance_method {
	BALANCE_ROUNDROBIN = 0,	/* smooth weighted round robin */
	BALANCE_LEASTCONN,	/* fewest live sessions per weight */
	BALANCE_SOURCE,		/* consistent hash of the client address */
	BALANCE_RANDOM,		/* two weighted random choices, less loaded wins */
};

/* balance_name(m): "roundrobin", ... as relay46.ini(5) spells it. */
const char *balance_name(int m);

struct balance_cand {
	unsigned	 weight;	/* 1..256 */
	unsigned	 live;		/* sessions at once on it */
	uint64_t	 key;		/* stable identity: balance_hash() of its address text */
};

/*
 * What a picker keeps between picks, per route (and per worker thread).
 * Zero it (and give it a credit array of at least as many ints as there
 * can be candidates, zeroed) before the first pick; balance_seed() sets
 * the random state.
 */
struct balance_state {
	int		*credit;	/* roundrobin: one per candidate */
	size_t		 cursor;	/* leastconn: where tie-breaking starts */
	uint64_t	 rng;		/* random: generator state */
};

/*
 * balance_pick(m, c, n, skip, st, client): the index of the chosen one
 * among the ${n} candidates ${c}, or -1 when every one is skipped.
 *  - ROUNDROBIN: smooth weighted round robin (each pick adds weight to
 *    every candidate's credit, takes the highest, charges it the total of
 *    the weights taken part); over sum(weights) picks each is chosen
 *    weight times.
 *  - LEASTCONN: the lowest (live + 1) / weight, the load it would have
 *    with this session (compared as (live_a + 1) * w_b < (live_b + 1) *
 *    w_a, no division); ties go to the first at or after st->cursor, in
 *    circular order, and the cursor moves past the winner.
 *  - SOURCE: weighted rendezvous hashing: each candidate scores
 *    weight / -ln(u), u in (0,1) from mixing ${client} with its key; the
 *    highest wins.  Removing or skipping one of N moves only the clients
 *    that were on it (1/N of them); the same client and keys give the
 *    same answer in any process.
 *  - RANDOM: two draws (distinct where two or more are left), each with
 *    probability proportional to weight; the lower live/weight wins, the
 *    first draw on a tie.
 * ${client} is used by SOURCE only (balance_hash() of the client address).
 */
int	 balance_pick(enum balance_method m, const struct balance_cand *c,
	    size_t n, const unsigned char *skip, struct balance_state *st,
	    uint64_t client);

/*
 * balance_hash(buf, len): a 64-bit hash of ${len} bytes, the same on
 * every platform and in every run (no seed): FNV-1a then a 64-bit
 * finaliser (splitmix64's), so that near inputs spread.
 */
uint64_t balance_hash(const void *buf, size_t len);

/* balance_seed(st, seed): set the random generator; seed 0 is allowed. */
void	 balance_seed(struct balance_state *st, uint64_t seed);

/* Kept for the round-robin unit tests: as BALANCE_ROUNDROBIN over weights. */
int	 balance_rr_pick(const unsigned *weights, int *credit, size_t n,
	    const unsigned char *skip);

#endif
