#include "autoconf.h"

#include "balance.h"

int
balance_rr_pick(const unsigned *weights, int *credit, size_t n,
    const unsigned char *skip)
{
	size_t	 i;
	int	 best = -1, total = 0;

	for (i = 0; i < n; i++) {
		if (skip != NULL && skip[i])
			continue;
		credit[i] += (int)weights[i];
		total += (int)weights[i];
		if (best == -1 || credit[i] > credit[best])
			best = (int)i;
	}
	if (best != -1)
		credit[best] -= total;
	return best;
}
