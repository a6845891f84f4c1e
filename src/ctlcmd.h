/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_CTLCMD_H
#define RELAY46_CTLCMD_H

/*
 * The control socket's language (control = PATH), shared by relay46 and
 * relay46ctl.  Pure: no I/O, no globals, so the parser is unit-tested
 * and fuzzed alone.
 *
 * A client writes one command per line (LF, an optional CR before it is
 * dropped); words are separated by spaces or tabs.  A line is at most
 * CTL_LINE_MAX bytes with its LF.  Commands:
 *
 *   help
 *   show info
 *   show routes
 *   show upstreams [ROUTE]
 *   show listeners
 *   show sessions [ROUTE] [client CIDR] [upstream ADDR]
 *   set upstream ROUTE ADDR state ready|drain|maint
 *   set upstream ROUTE ADDR weight N          (0 .. CTL_WEIGHT_MAX)
 *   kill session ID
 *   kill sessions upstream ROUTE ADDR
 *   reload
 *
 * In "show sessions", a first word that is not followed by a value of
 * its own (an odd number of words) is the ROUTE; "client" and
 * "upstream" then take one value each, in any order, at most once.
 * ADDR is an upstream's address as shown ("127.0.0.1:80", "[::1]:80")
 * or its upstream line as written in the config ("db.example:5432"),
 * which stands for every address of that line; it is matched by relay46,
 * not here.  CIDR is an address or a network ("10.0.0.0/8", "::1"),
 * read as allow = reads it: host bits set are an error ("10.0.0.1/8":
 * "did you mean 10.0.0.0/8?"), and ::ffff:10.0.0.0/104 is 10.0.0.0/8.
 * N and ID are plain decimal: no sign, no leading zero.
 *
 * relay46 answers each command, in order, with one status line and the
 * lines it announces:
 *
 *   ok N KIND      then N lines.  KIND says their shape:
 *                  table: a header of column names, then one row per
 *                         line; fields separated by one TAB;
 *                  kv:    "KEY<TAB>VALUE" per line;
 *                  text:  free lines for people (N may be 0).
 *   err N          then N >= 1 lines, each one reason (a reload's
 *                  "FILE:LINE: message" lines).
 *
 * No field holds a TAB or a newline.  "-" is "none" (JSON null).  A
 * column name or key ending in ":n" marks a number (JSON number); the
 * suffix is not part of the name.  Words and names are ASCII.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct acl_rule;

/* A command line's longest, LF included. */
#define CTL_LINE_MAX		4096
/* The longest ADDR or CIDR word kept. */
#define CTL_WORD_MAX		300
/* set upstream ... weight N: the largest N, as the config's weight=N. */
#define CTL_WEIGHT_MAX		256

enum ctlcmd_kind {
	CTLCMD_HELP = 0,
	CTLCMD_SHOW_INFO,
	CTLCMD_SHOW_ROUTES,
	CTLCMD_SHOW_UPSTREAMS,	/* route: optional */
	CTLCMD_SHOW_LISTENERS,
	CTLCMD_SHOW_SESSIONS,	/* route, client, upstream: optional */
	CTLCMD_SET_STATE,	/* route, upstream, state */
	CTLCMD_SET_WEIGHT,	/* route, upstream, weight */
	CTLCMD_KILL_SESSION,	/* id */
	CTLCMD_KILL_UPSTREAM,	/* route, upstream */
	CTLCMD_RELOAD,
};

/* An upstream's administrative state (set upstream ... state). */
enum ctl_admin {
	CTL_ADMIN_READY = 0,	/* takes new sessions */
	CTL_ADMIN_DRAIN,	/* no new sessions; live ones finish */
	CTL_ADMIN_MAINT,	/* no new sessions; live ones are closed */
};

struct ctlcmd {
	enum ctlcmd_kind kind;
	char		 route[65];	/* "" when not given */
	char		 upstream[CTL_WORD_MAX + 1];	/* "" when not given */
	bool		 has_client;
	struct addr	 client;	/* the network's address... */
	unsigned	 client_bits;	/* ...and prefix length */
	enum ctl_admin	 state;
	unsigned	 weight;
	uint64_t	 id;
};

/*
 * ctlcmd_parse(line, len, cmd, err, errlen): parse one command line of
 * ${len} bytes (without its LF; a trailing CR is ignored; it need not be
 * NUL-terminated) into ${cmd}.  0, or -1 with a one-line reason in ${err}
 * (an unknown command, a missing or extra word, a bad number, a name too
 * long, a byte that is not printable ASCII, a ${len} over
 * CTL_LINE_MAX - 1, CR included).  Never reads line[len].  On success
 * the fields the command does not take are zero ("", false, 0); on
 * failure ${cmd} is left as it was.  The reason is printable ASCII.
 */
int ctlcmd_parse(const char *line, size_t len, struct ctlcmd *cmd, char *err,
    size_t errlen);

/* ctlcmd_changes(cmd): does ${cmd} change anything (logged with its peer)? */
bool	 ctlcmd_changes(const struct ctlcmd *cmd);

/*
 * ctlcmd_client_rule(cmd, r): the client network of "show sessions ...
 * client CIDR" (cmd->has_client) as an allow rule, to match with
 * acl_match() or print with acl_format().
 */
void	 ctlcmd_client_rule(const struct ctlcmd *cmd, struct acl_rule *r);

/* ctl_admin_name(s): "ready", "drain", "maint"; "?" for any other value. */
const char *ctl_admin_name(enum ctl_admin s);

#endif
