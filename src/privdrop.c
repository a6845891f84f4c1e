/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * privdrop.c: giving up root for the configured user and group, once the
 * privileged work is done (listening sockets bound, pidfile and access
 * log opened).
 *
 * config.c calls privdrop_resolve() while loading, so that a misspelt
 * user fails "relay46 -t" and a start before anything is bound; control.c
 * calls privdrop_apply() once, before the workers and the access log
 * writer start, so that no thread of ours ever runs as root past it.
 *
 * It owns nothing that outlives a call.  It must not log (the caller
 * does, with its own context) and must never report success unless the
 * drop is complete and irreversible in every thread: a half-dropped
 * process must exit, which is the caller's job on -1.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"
#include "util.h"

/* Where sysconf() gives no hint; doubled on ERANGE up to the cap. */
#define PRIVDROP_BUF_MIN	1024
#define PRIVDROP_BUF_MAX	(1024 * 1024)

/*
 * These are how some libcs say "no such entry" (getpwnam_r(3) lists
 * them); glibc returns 0 with a NULL result.  Anything else is a real
 * failure to look, such as an unreachable LDAP server, and is reported
 * as such rather than as a user that does not exist.
 */
static int
privdrop_absent(int rc)
{
	return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF ||
	    rc == EPERM;
}

/* sysconf()'s hint for getpwnam_r()'s or getgrnam_r()'s buffer, or ours. */
static size_t
privdrop_bufsize(int name)
{
	long	 n = sysconf(name);

	return n > PRIVDROP_BUF_MIN ? (size_t)n : PRIVDROP_BUF_MIN;
}

/*
 * ${user}'s uid and primary gid.  The _r form, into a buffer of our own:
 * getpwnam() returns static storage that any other lookup, on any
 * thread, may overwrite.
 */
static int
privdrop_user(const char *user, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	struct passwd	 pw, *res = NULL;
	size_t		 len = privdrop_bufsize(_SC_GETPW_R_SIZE_MAX);
	char		*buf = NULL, *nbuf;
	int		 rc;

	/* A user with a long gecos or home may need more than sysconf says. */
	do {
		if ((nbuf = realloc(buf, len)) == NULL) {
			rc = errno;
			break;
		}
		buf = nbuf;
		rc = getpwnam_r(user, &pw, buf, len, &res);
		len *= 2;
	} while (rc == ERANGE && len <= PRIVDROP_BUF_MAX);
	if (res != NULL) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	} else if (privdrop_absent(rc))
		err_set(err, errlen, "user '%s' does not exist", user);
	else
		err_set(err, errlen, "user '%s': %s", user, strerror(rc));
	free(buf);
	return res != NULL ? 0 : -1;
}

/* ${group}'s gid, growing the buffer as privdrop_user() does. */
static int
privdrop_group(const char *group, gid_t *gid, char *err, size_t errlen)
{
	struct group	 gr, *res = NULL;
	size_t		 len = privdrop_bufsize(_SC_GETGR_R_SIZE_MAX);
	char		*buf = NULL, *nbuf;
	int		 rc;

	/* The member list of a big group easily outgrows the hint. */
	do {
		if ((nbuf = realloc(buf, len)) == NULL) {
			rc = errno;
			break;
		}
		buf = nbuf;
		rc = getgrnam_r(group, &gr, buf, len, &res);
		len *= 2;
	} while (rc == ERANGE && len <= PRIVDROP_BUF_MAX);
	if (res != NULL)
		*gid = gr.gr_gid;
	else if (privdrop_absent(rc))
		err_set(err, errlen, "group '%s' does not exist", group);
	else
		err_set(err, errlen, "group '%s': %s", group, strerror(rc));
	free(buf);
	return res != NULL ? 0 : -1;
}

int
privdrop_resolve(const char *user, const char *group, uid_t *uid,
    gid_t *gid, char *err, size_t errlen)
{
	uid_t	 u = 0;
	gid_t	 g = 0;	/* set by privdrop_user; gcc -O2 cannot tell */

	if (user != NULL && privdrop_user(user, &u, &g, err, errlen) == -1)
		return -1;
	if (group != NULL && privdrop_group(group, &g, err, errlen) == -1)
		return -1;
	*uid = u;
	*gid = g;
	return 0;
}

/*
 * Trust nothing: a setuid() that "succeeded" may have left the saved id
 * at 0 (a bug or an unusual libc), from which root is one call away.
 */
static int
privdrop_verify(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;

	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1) {
		err_set(err, errlen, "getresuid: %s", strerror(errno));
		return -1;
	}
	if (ru != uid || eu != uid || su != uid) {
		err_set(err, errlen, "uids are %u/%u/%u after setuid(%u)",
		    (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)uid);
		return -1;
	}
	if (rg != gid || eg != gid || sg != gid) {
		err_set(err, errlen, "gids are %u/%u/%u after setgid(%u)",
		    (unsigned)rg, (unsigned)eg, (unsigned)sg, (unsigned)gid);
		return -1;
	}
	/*
	 * The test that matters: if root can be had back, the drop failed,
	 * whatever the ids say.  A success here leaves us root, and the
	 * caller exits on the -1.
	 */
	if (uid != 0 && setuid(0) != -1) {
		err_set(err, errlen, "setuid(0) still works after dropping "
		    "to uid %u", (unsigned)uid);
		return -1;
	}
	/* setgid() to one's own gid is allowed, so only test a real change. */
	if (uid != 0 && gid != 0 && setgid(0) != -1) {
		err_set(err, errlen, "setgid(0) still works after dropping "
		    "to gid %u", (unsigned)gid);
		return -1;
	}
	return 0;
}

/*
 * The Uid: and Gid: lines (real, effective, saved, filesystem) of thread
 * ${tid}'s status.  0; 1 if the thread is gone (it ended meanwhile); -1
 * with errno.
 */
static int
privdrop_task_ids(const char *tid, unsigned uids[4], unsigned gids[4])
{
	char	 path[NAME_MAX + 32], line[256];
	FILE	*fp;
	int	 found = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT || errno == ESRCH ? 1 : -1;
	/*
	 * found: bit 0 for the Uid: line, bit 1 for Gid:.  A line longer than
	 * the buffer (Groups: of a big list) is read in pieces; no piece but
	 * a line's first can start with "Uid:" or "Gid:".
	 */
	while (found != 3 && fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "Uid: %u %u %u %u", &uids[0], &uids[1],
		    &uids[2], &uids[3]) == 4)
			found |= 1;
		else if (sscanf(line, "Gid: %u %u %u %u", &gids[0], &gids[1],
		    &gids[2], &gids[3]) == 4)
			found |= 2;
	}
	fclose(fp);
	if (found != 3) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Whether all four ids of ${ids} are ${want}. */
static bool
privdrop_all(const unsigned ids[4], unsigned want)
{
	return ids[0] == want && ids[1] == want && ids[2] == want &&
	    ids[3] == want;
}

int
privdrop_check_threads(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	unsigned	 u[4], g[4];
	int		 rc = -1, r;

	if ((d = opendir("/proc/self/task")) == NULL) {
		err_set(err, errlen, "cannot check every thread's ids: "
		    "/proc/self/task: %s", strerror(errno));
		return -1;
	}
	/*
	 * errno is cleared before each readdir(): NULL is both the end and
	 * an error, and only errno tells them apart.
	 */
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((r = privdrop_task_ids(de->d_name, u, g)) == 1)
			continue;
		if (r == -1) {
			err_set(err, errlen, "cannot check thread %s's ids: "
			    "%s", de->d_name, strerror(errno));
			goto out;
		}
		if (!privdrop_all(u, (unsigned)uid) ||
		    !privdrop_all(g, (unsigned)gid)) {
			err_set(err, errlen, "thread %s still has uids "
			    "%u/%u/%u/%u and gids %u/%u/%u/%u, not %u and %u",
			    de->d_name, u[0], u[1], u[2], u[3], g[0], g[1],
			    g[2], g[3], (unsigned)uid, (unsigned)gid);
			goto out;
		}
	}
	if (errno != 0)
		err_set(err, errlen, "/proc/self/task: %s", strerror(errno));
	else
		rc = 0;
out:
	closedir(d);
	return rc;
}

int
privdrop_apply(const char *user, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	/*
	 * Groups first and uid last: each step needs the privilege the next
	 * one gives up.  Root's supplementary groups (0 among them) would
	 * otherwise survive setgid() and setuid() untouched.
	 */
	if ((user == NULL || initgroups(user, gid) == -1) &&
	    setgroups(1, &gid) == -1) {
		err_set(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setgid(gid) == -1) {
		err_set(err, errlen, "setgid(%u): %s", (unsigned)gid,
		    strerror(errno));
		return -1;
	}
	if (setuid(uid) == -1) {
		err_set(err, errlen, "setuid(%u): %s", (unsigned)uid,
		    strerror(errno));
		return -1;
	}
	/*
	 * The kernel keeps ids per thread; glibc's setuid() changes every
	 * thread it knows of, but a thread it does not know (or a libc that
	 * does not) would stay root, unseen by getresuid().
	 */
	if (privdrop_verify(uid, gid, err, errlen) == -1)
		return -1;
	return privdrop_check_threads(uid, gid, err, errlen);
}
