#include "autoconf.h"

/*
 * Running as a service: the access log (one line per session, in a file
 * or on stderr, reopened on SIGUSR1 for logrotate).
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* How many lines of ${path} contain ${needle} (0 if it does not exist). */
static unsigned
count_lines(const char *path, const char *needle)
{
	char		*text, *p, *nl;
	unsigned	 n = 0;

	if (access(path, F_OK) == -1)
		return 0;
	text = h_read_file(path);
	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			fail_msg("%s: last line not whole: '%s'", path, p);
		*nl = '\0';
		if (strstr(p, needle) != NULL)
			n++;
	}
	free(text);
	return n;
}

/* Wait (bounded) until ${path} has ${want} lines with ${needle}. */
static void
wait_lines(const char *path, const char *needle, unsigned want)
{
	int64_t		 deadline = h_now_ms() + H_IO_MS;
	unsigned	 i, got = 0;

	/* The log's own thread writes: poll the file with a deadline. */
	for (i = 0; i < 10000 && h_left(deadline) > 0; i++) {
		if ((got = count_lines(path, needle)) >= want)
			return;
		(void)poll(NULL, 0, 5);
	}
	fail_msg("%s: %u lines with '%s' after %d ms, wanted %u", path, got,
	    needle, H_IO_MS, want);
}

static void
one_session(struct h_relay *r, const char *route, uint64_t seed)
{
	int	 fd = h_relay_connect(r, route, AF_INET);

	H_ASSERT_END(h_echo(fd, seed, 1000, H_IO_MS), H_OK, H_OK);
	shutdown(fd, SHUT_WR);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
}

/*
 * access_log = FILE: each session is one line there (with its bytes and
 * end), refusals too, and the daemon's own log no longer repeats them.
 * After a rename and SIGUSR1, new lines go to a new file at the old path.
 */
static void
test_access_log_file(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 path[H_PATH + 32], old[H_PATH + 48], *log;
	int			 fd, i, hold;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	snprintf(path, sizeof(path), "%s/access.log", h_tmpdir());
	snprintf(old, sizeof(old), "%s.1", path);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\naccess_log = %s\n"
	    "[route al]\nlisten = %s\nupstream = %s\nmax_connections = 1\n",
	    path, h_hostport(AF_INET, h_free_port(AF_INET)),
	    h_hostport(AF_INET, h_backend_port(b)));
	for (i = 0; i < 3; i++)
		one_session(r, "al", 70 + (uint64_t)i);
	wait_lines(path, "route=al client=127.0.0.1:", 3);
	assert_int_equal(count_lines(path, " up=1000 down=1000 "), 3);
	assert_int_equal(count_lines(path, " end=done"), 3);
	/* A refusal is a line too: one session held, the next refused. */
	hold = h_relay_connect(r, "al", AF_INET);
	H_ASSERT_END(h_echo(hold, 80, 10, H_IO_MS), H_OK, H_OK);
	fd = h_relay_connect(r, "al", AF_INET);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, ECONNRESET);
	close(fd);
	wait_lines(path, "upstream=- up=0 down=0 duration=0.000s "
	    "end=max_connections", 1);
	close(hold);
	wait_lines(path, " up=10 down=10 ", 1);

	/* logrotate: rename, SIGUSR1, and the next line is in a new file. */
	if (rename(path, old) == -1)
		fail_msg("rename: %s", strerror(errno));
	assert_int_equal(kill(r->pid, SIGUSR1), 0);
	H_EXPECT_LOG(r, "reopening the access log");
	one_session(r, "al", 90);
	wait_lines(path, " end=done", 1);
	assert_int_equal(count_lines(path, "route=al"), 1);
	assert_int_equal(count_lines(old, "route=al"), 5);
	log = h_relay_log(r);
	if (strstr(log, "msg=\"session end\"") != NULL)
		fail_msg("session lines in the daemon log too:\n%s", log);
	free(log);
	h_relay_finish(r);
	h_backend_free(b);
}

/* access_log = stderr: the lines go with the daemon's own output. */
static void
test_access_log_stderr(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\naccess_log = stderr\n"
	    "[route as]\nlisten = %s\nupstream = %s\n",
	    h_hostport(AF_INET, h_free_port(AF_INET)),
	    h_hostport(AF_INET, h_backend_port(b)));
	one_session(r, "as", 5);
	H_EXPECT_LOG(r, "Z route=as client=127.0.0.1:");
	H_EXPECT_LOG(r, " up=1000 down=1000 ");
	h_relay_finish(r);
	h_backend_free(b);
}

/* A file that cannot be opened stops the start, with the reason. */
static void
test_access_log_unwritable(void **state)
{
	const char	*args[] = { "-c", NULL, NULL };
	char		 conf[H_PATH + 32], text[256], *out = NULL, *err = NULL;
	const char	*dir = h_tmpdir();
	int		 rc;

	(void)state;
	snprintf(text, sizeof(text), "[global]\n"
	    "access_log = /nonexistent/dir/access.log\n"
	    "[route x]\nlisten = %s\nupstream = 127.0.0.1:2\n",
	    h_hostport(AF_INET, h_free_port(AF_INET)));
	h_write_file(conf, sizeof(conf), dir, "bad.ini", text);
	args[1] = conf;
	rc = h_run(args, &out, &err, 10000);
	assert_int_not_equal(rc, 0);
	H_ASSERT_CONTAINS(err, "/nonexistent/dir/access.log");
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_access_log_file, h_teardown),
		cmocka_unit_test_teardown(test_access_log_stderr, h_teardown),
		cmocka_unit_test_teardown(test_access_log_unwritable,
		    h_teardown),
	};

	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
