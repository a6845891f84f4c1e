#ifndef RELAY46_BALANCE_H
#define RELAY46_BALANCE_H

#include <stddef.h>

/*
 * Smooth weighted round-robin (the nginx idea): every pick adds each
 * candidate's weight to its credit, takes the one with the most credit
 * and charges it the total.  Over sum(weights) picks each upstream is
 * chosen weight times, and heavy ones are spread out, not bunched.
 * Pure: the caller owns ${credit} (one int per upstream, zeroed at start).
 */

/*
 * balance_rr_pick(weights, credit, n, skip): index of the next upstream
 * among ${n}, passing over those with skip[i] true (skip may be NULL).
 * Returns -1 if every one is skipped.
 */
int	 balance_rr_pick(const unsigned *weights, int *credit, size_t n,
	    const unsigned char *skip);

#endif
