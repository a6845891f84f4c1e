/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"
#include "util.h"

/* Where sysconf() gives no hint; doubled on ERANGE up to the cap. */
#define PRIVDROP_BUF_MIN	1024
#define PRIVDROP_BUF_MAX	(1024 * 1024)

/* These are how some libcs say "no such entry" (getpwnam_r(3)). */
static int
privdrop_absent(int rc)
{
	return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF ||
	    rc == EPERM;
}

static size_t
privdrop_bufsize(int name)
{
	long	 n = sysconf(name);

	return n > PRIVDROP_BUF_MIN ? (size_t)n : PRIVDROP_BUF_MIN;
}

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
	return privdrop_verify(uid, gid, err, errlen);
}
