#ifndef RELAY46_CONTROL_H
#define RELAY46_CONTROL_H

#include <stddef.h>

struct config;

/*
 * control_run(cfg, fds, nfds): the main thread's loop.  Starts one worker
 * serving the listening sockets ${fds} (ownership passes to it), handles
 * signals, and returns once relay46 has stopped: the exit status.
 */
int	 control_run(struct config *cfg, const int *fds, size_t nfds);

#endif
