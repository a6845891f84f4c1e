/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_CONTROL_H
#define RELAY46_CONTROL_H

#include <stddef.h>

struct accesslog;
struct config;

/*
 * control_hold_signals(): block the signals control_run() handles
 * (SIGTERM, SIGINT, SIGHUP, SIGUSR1) until it has installed its handlers;
 * call it before anything that tells the world we are up.  Threads
 * started meanwhile inherit the mask.
 */
void	 control_hold_signals(void);

/*
 * control_run(cfg, fds, nfds, alog, ready): the main thread's loop.
 * Starts cfg->workers workers, each serving its share of the listening
 * sockets ${fds} (main_listen's order; ownership passes to them), runs
 * health checks and handles signals, and returns once relay46 has
 * stopped: the exit status.  ${alog} (NULL: none) is the access log,
 * closed here after the workers are gone.  ${ready} (NULL: none) is the
 * -R file, written once the admin endpoint listens too.
 */
int	 control_run(struct config *cfg, const int *fds, size_t nfds,
	    struct accesslog *alog, const char *ready);

#endif
