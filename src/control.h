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
 * control_run(cfg, fds, nfds, afd, alog, ready): the main thread's loop.
 * Starts cfg->workers workers, each serving its share of the listening
 * sockets ${fds} (main_listen's order; ownership passes to them), serves
 * the admin endpoint on ${afd} (admin_open()'s socket, which passes to
 * us; -1: none), runs health checks and handles signals, and returns once
 * relay46 has stopped: the exit status.  ${alog} (NULL: none) is the
 * access log (accesslog_open()'s, its writer not started yet): given to
 * "user" and started here once root is dropped, closed here after the
 * workers are gone.  ${ready} (NULL:
 * none) is the -R file, written once the admin endpoint serves too: a
 * "ROUTE ADDR" line for each listening address, then "@admin ADDR" for
 * the admin endpoint, all as bound.
 * ${pidfile} (NULL: none) gets our pid just before it, and is removed on
 * the way out; one that cannot be written ends the start (exit status 1).
 */
int	 control_run(struct config *cfg, const int *fds, size_t nfds, int afd,
	    struct accesslog *alog, const char *ready, const char *pidfile);

#endif
