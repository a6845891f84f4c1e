/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a packager and a newcomer meet, checked: the sample configurations
 * in contrib/examples load with the parser that ships beside them (a
 * sample that fails "relay46 -t" is worse than none); etc/relay46.ini
 * listens on loopback only; the systemd unit made for this build runs as
 * relay46 with the configured paths; logrotate signals only this relay46;
 * the README carries the two commands CI runs; "relay46 -V" tells the
 * version and the libevent.  The source tree is found through
 * $RELAY46_SRCDIR, the build tree through $RELAY46_BUILDDIR and the
 * daemon through $RELAY46, as the other tests do.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

/* Those the README and the unit files point to; more may be added. */
static const char *const expected[] = {
	"port-forward.ini", "ipv6-front.ini", "pool.ini", "proxy-chain.ini",
};

static int
has_suffix(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

static void
test_examples_load(void **state)
{
	struct dirent	*de;
	struct config	*c;
	const char	*src;
	char		 dir[PATH_MAX], path[PATH_MAX + 256], *errs;
	size_t		 i, loaded = 0, seen[NELEM(expected)] = { 0 };
	DIR		*d;

	(void)state;
	if ((src = getenv("RELAY46_SRCDIR")) == NULL || *src == '\0')
		skip();
	snprintf(dir, sizeof(dir), "%s/contrib/examples", src);
	if ((d = opendir(dir)) == NULL)
		fail_msg("opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (!has_suffix(de->d_name, ".ini"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		errs = NULL;
		if ((c = config_load(path, &errs)) == NULL) {
			print_error("%s", errs != NULL ? errs : "no reason\n");
			free(errs);
			closedir(d);
			fail_msg("%s does not load", path);
		}
		config_unref(c);
		loaded++;
		for (i = 0; i < NELEM(expected); i++)
			if (strcmp(de->d_name, expected[i]) == 0)
				seen[i]++;
	}
	closedir(d);
	for (i = 0; i < NELEM(expected); i++)
		if (seen[i] == 0)
			fail_msg("contrib/examples/%s is missing", expected[i]);
	assert_true(loaded >= NELEM(expected));
}

/* The whole of DIR/REL (DIR from the environment variable ENV), or skip. */
static char *
slurp(const char *env, const char *rel)
{
	const char	*dir;
	char		 path[PATH_MAX], *buf;
	size_t		 len = 0, cap = 4096, n;
	FILE		*fp;

	if ((dir = getenv(env)) == NULL || *dir == '\0') {
		print_message("%s is not set\n", env);
		skip();
	}
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	buf = malloc(cap);
	assert_non_null(buf);
	while ((n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

#define ASSERT_HAS(text, what, file) do {				\
	if (strstr((text), (what)) == NULL)				\
		fail_msg("%s does not say '%s'", (file), (what));	\
} while (0)
#define ASSERT_LACKS(text, what, file) do {				\
	if (strstr((text), (what)) != NULL)				\
		fail_msg("%s says '%s'", (file), (what));		\
} while (0)

/* The sample that "make install" installs serves this machine only. */
static void
test_sample_loopback(void **state)
{
	char	*ini, *line, *save = NULL;
	int	 listens = 0;

	(void)state;
	ini = slurp("RELAY46_SRCDIR", "etc/relay46.ini");
	for (line = strtok_r(ini, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "listen", 6) != 0)
			continue;
		listens++;
		if (strstr(line, "= 127.0.0.1:") == NULL &&
		    strstr(line, "= [::1]:") == NULL)
			fail_msg("etc/relay46.ini: not loopback: %s", line);
	}
	free(ini);
	assert_int_equal(listens, 2);
}

/*
 * The socket unit and the sample config it ships with listen on the same
 * addresses: relay46 takes a passed socket only for a listen line that is
 * exactly it, and binds the rest itself, so a socket unit out of step
 * makes the installed service fail ("Address already in use").
 */
static void
test_socket_unit(void **state)
{
	const char *f = "contrib/systemd/relay46.socket";
	char	   *unit, *ini, *line, *save = NULL, want[128];
	int	    n = 0;

	(void)state;
	unit = slurp("RELAY46_SRCDIR", f);
	ini = slurp("RELAY46_SRCDIR", "etc/relay46.ini");
	for (line = strtok_r(unit, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "ListenStream=", 13) != 0)
			continue;
		n++;
		snprintf(want, sizeof(want), "\nlisten = %s ", line + 13);
		if (strstr(ini, want) == NULL)
			fail_msg("%s: %s is no listen line of etc/relay46.ini",
			    f, line);
	}
	assert_int_equal(n, 2);
	free(unit);
	free(ini);
}

/* A configure placeholder left in ${text} ("@sbindir@"), or NULL. */
static const char *
placeholder(const char *text)
{
	const char	*at, *e;

	for (at = strchr(text, '@'); at != NULL; at = strchr(at + 1, '@')) {
		for (e = at + 1; islower((unsigned char)*e) || *e == '_'; e++)
			;
		if (*e == '@' && e > at + 1)
			return at;
	}
	return NULL;
}

/*
 * The unit "make install" installs: the service user, this build's paths,
 * the sandbox (relay46's system calls are all in @system-service).
 */
static void
test_unit_file(void **state)
{
	static const char *const must[] = {
		"Type=notify\n",
		"User=relay46\n",
		"Group=relay46\n",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE\n",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
		"RuntimeDirectory=relay46\n",
		"LogsDirectory=relay46\n",
		"LimitNOFILE=1048576\n",
		"ProtectSystem=strict\n",
		"SystemCallFilter=@system-service\n",
		"SystemCallErrorNumber=EPERM\n",
		"ProtectProc=invisible\n",
		"RestrictSUIDSGID=yes\n",
		"/sbin/relay46 -c /",
		"/relay46/relay46.ini\n",
		/* The outcome through the control socket; SIGHUP without. */
		"/sbin/relay46ctl -s /run/relay46/control.sock reload; ",
		"[ $$rc -le 1 ] && exit $$rc; ",
		"/bin/kill -HUP $${MAINPID}'\n",
	};
	const char	*f = "contrib/systemd/relay46.service";
	char		*unit;
	size_t		 i;

	(void)state;
	unit = slurp("RELAY46_BUILDDIR", f);
	for (i = 0; i < NELEM(must); i++)
		ASSERT_HAS(unit, must[i], f);
	if (placeholder(unit) != NULL)
		fail_msg("%s: not substituted: %.20s", f, placeholder(unit));
	ASSERT_LACKS(unit, "\nProcSubset=", f);	/* /proc/sys is read */
	free(unit);
	unit = slurp("RELAY46_SRCDIR", "contrib/systemd/relay46.service.in");
	if (placeholder(unit) == NULL)
		fail_msg("placeholder() finds no @sbindir@ in the .in file");
	free(unit);
	unit = slurp("RELAY46_SRCDIR", "contrib/sysusers/relay46.conf");
	ASSERT_HAS(unit, "\nu relay46 - \"relay46 TCP relay\" -\n",
	    "contrib/sysusers/relay46.conf");
	free(unit);
	unit = slurp("RELAY46_SRCDIR", "contrib/tmpfiles/relay46.conf");
	ASSERT_HAS(unit, "\nd /var/log/relay46 0750 relay46 relay46 -\n",
	    "contrib/tmpfiles/relay46.conf");
	free(unit);
}

/* pidof would signal every relay46 on the machine. */
static void
test_logrotate(void **state)
{
	const char	*f = "contrib/logrotate/relay46";
	char		*lr;

	(void)state;
	lr = slurp("RELAY46_SRCDIR", f);
	ASSERT_LACKS(lr, "pidof", f);
	ASSERT_LACKS(lr, "killall", f);
	ASSERT_HAS(lr, "systemctl kill -s USR1 --kill-whom=main relay46.service", f);
	ASSERT_HAS(lr, "/run/relay46/relay46.pid", f);
	ASSERT_HAS(lr, "\tcreate 0640 relay46 relay46\n", f);
	free(lr);
}

/* .ci/run runs the README's two commands, found by these markers. */
static void
test_readme_commands(void **state)
{
	char	*readme, *p;

	(void)state;
	readme = slurp("RELAY46_SRCDIR", "README.md");
	p = strstr(readme, "<!-- ci: daemon -->\n```sh\nsh contrib/install-deps.sh && ");
	if (p == NULL || strstr(p, "./src/relay46 -c etc/relay46.ini\n```") == NULL)
		fail_msg("README.md: no daemon command for .ci/run");
	p = strstr(readme, "<!-- ci: test -->\n```sh\nsh contrib/install-deps.sh --tests && ");
	if (p == NULL || strstr(p, "make check\n```") == NULL)
		fail_msg("README.md: no test command for .ci/run");
	free(readme);
}

/* relay46 -V: this version, and the libevent it runs with. */
static void
test_version(void **state)
{
	const char	*bin = getenv("RELAY46");
	char		 out[4096];
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd[2], st;
	pid_t		 pid;

	(void)state;
	if (bin == NULL || *bin == '\0')
		skip();
	assert_int_equal(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execl(bin, "relay46", "-V", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(fd[1]);
	while (len < sizeof(out) - 1 &&
	    (n = read(fd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (strncmp(out, "relay46 " PACKAGE_VERSION "\n", 9 +
	    strlen(PACKAGE_VERSION)) != 0)
		fail_msg("relay46 -V printed:\n%s", out);
	ASSERT_HAS(out, "\nlibevent ", "relay46 -V");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_load),
		cmocka_unit_test(test_sample_loopback),
		cmocka_unit_test(test_unit_file),
		cmocka_unit_test(test_socket_unit),
		cmocka_unit_test(test_logrotate),
		cmocka_unit_test(test_readme_commands),
		cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
