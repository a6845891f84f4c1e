/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELAY46_PRIVDROP_H
#define RELAY46_PRIVDROP_H

#include <sys/types.h>
#include <stddef.h>

/*
 * Dropping root after the listeners are bound: look the user and group up
 * while /etc is still readable, then give up every id and check that the
 * change took.  Neither function logs; reasons go to the caller's ${err}.
 */

/*
 * privdrop_resolve(user, group, uid, gid, err, errlen): look ${user} up
 * (getpwnam_r) into *${uid}, and ${group} (getgrnam_r) into *${gid}, or
 * the user's primary group when ${group} is NULL (NULL ${user}: the group
 * only, *${uid} is 0).  Returns 0, or -1 with
 * "user 'x' does not exist", "group 'x' does not exist" or the lookup's
 * error in ${err}.
 */
int	 privdrop_resolve(const char *user, const char *group, uid_t *uid,
	    gid_t *gid, char *err, size_t errlen);

/*
 * privdrop_apply(user, uid, gid, err, errlen): become ${uid}:${gid} for
 * good, in every thread.  The supplementary groups become ${user}'s from
 * the group database (initgroups), or ${gid} alone when ${user} is NULL
 * or initgroups fails (no entry the group database can give); then
 * setgid, then setuid.  Then it checks the
 * result: real, effective and saved ids are ${uid} and ${gid}, for a
 * ${uid} other than 0 setuid(0) fails (and setgid(0) unless ${gid} is
 * 0), and privdrop_check_threads() passes.  Returns 0, or -1 with the
 * step that failed in ${err}; after a failure the process may be half
 * changed and should exit.
 */
int	 privdrop_apply(const char *user, uid_t uid, gid_t gid, char *err,
	    size_t errlen);

/*
 * privdrop_check_threads(uid, gid, err, errlen): every thread of the
 * process has ${uid} as its real, effective, saved and filesystem uid,
 * and ${gid} as each gid (the Uid: and Gid: lines of
 * /proc/self/task/TID/status).  Returns 0, or -1 with the first thread
 * that does not, or why it could not look (no /proc), in ${err}.
 */
int	 privdrop_check_threads(uid_t uid, gid_t gid, char *err,
	    size_t errlen);

#endif
