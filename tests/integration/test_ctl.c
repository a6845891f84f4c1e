/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * The control socket (control = PATH, issue 12) against a live relay46:
 * every command through the built relay46ctl ($RELAY46CTL), plain and
 * with -j, its output parsed back into rows and checked column by
 * column; what an operator does with it (drain, maint, weights, kills,
 * reloads) checked on the traffic itself; and, through a raw Unix
 * socket speaking ctlcmd.h's protocol, what relay46ctl cannot show:
 * answers in order, half-close, the limits, and an accept queue seen
 * while the worker cannot accept.
 *
 * Every backend of the traffic tests is an echo that first sends a tag
 * ("A", "B", ...), so each client knows which upstream it reached; the
 * backends' own counters must agree.
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#define CTL_MS		10000	/* one relay46ctl run, start to exit */
#define T_ROWS		64	/* rows of one answer, its header aside */
#define T_COLS		24
#define T_CELL		256
#define ECHO_LEN	100	/* bytes echoed by a whole session */
#define POLL_MAX	2000	/* rounds of a bounded wait */

/* Each table's columns and show info's keys, as ctlexec.c writes them. */
static const char info_keys[] =
    "version build pid:n started uptime_seconds:n workers:n sessions:n "
    "config config_loaded reloads:n last_reload last_reload_time "
    "tcp_listen_overflows:n tcp_listen_drops:n";
static const char routes_cols[] =
    "route listen balance health_check upstreams:n sessions:n "
    "sessions_total:n bytes_up:n bytes_down:n";
static const char upstreams_cols[] =
    "route upstream host backup weight:n state health down_why down_since "
    "sessions:n connects:n connect_fails:n check_fails:n";
static const char listeners_cols[] =
    "route listen sockets:n queue:n queue_limit:n";
static const char sessions_cols[] =
    "id:n route client upstream state age_ms:n idle_ms:n bytes_up:n "
    "bytes_down:n c_rtt_us:n c_rttvar_us:n c_retrans:n c_unacked:n "
    "c_cwnd:n u_rtt_us:n u_rttvar_us:n u_retrans:n u_unacked:n u_cwnd:n";

static const char *const help_lines[] = {
	"show info",
	"show routes",
	"show upstreams [ROUTE]",
	"show listeners",
	"show sessions [ROUTE] [client CIDR] [upstream ADDR]",
	"set upstream ROUTE ADDR state ready|drain|maint",
	"set upstream ROUTE ADDR weight N",
	"kill session ID",
	"kill sessions upstream ROUTE ADDR",
	"reload",
};

/* --- relay46ctl ----------------------------------------------------------- */

struct run {
	int		 rc;
	char		*out;
	char		*err;
};

/* "relay46ctl -s SOCK -t 10 [-j] WORDS...", ${cmd} split at its spaces. */
static void
ctl_run(struct run *o, const char *sock, bool json, const char *cmd)
{
	const char	*bin = getenv("RELAY46CTL");
	const char	*args[48];
	char		 words[1024], *w, *save = NULL;
	size_t		 n = 0;

	if (bin == NULL || *bin == '\0')
		fail_msg("RELAY46CTL is not set (the built relay46ctl)");
	if (strlen(cmd) >= sizeof(words))
		fail_msg("command too long for the test: %s", cmd);
	snprintf(words, sizeof(words), "%s", cmd);
	args[n++] = "-s";
	args[n++] = sock;
	args[n++] = "-t";
	args[n++] = "10";
	if (json)
		args[n++] = "-j";
	for (w = strtok_r(words, " ", &save); w != NULL && n < 47;
	     w = strtok_r(NULL, " ", &save))
		args[n++] = w;
	args[n] = NULL;
	o->rc = h_run_bin(bin, args, &o->out, &o->err, CTL_MS);
}

/* A command that must be done: exit 0, nothing on stderr.  Its stdout. */
static char *
ctl_ok(const char *sock, bool json, const char *cmd)
{
	struct run	 o;

	ctl_run(&o, sock, json, cmd);
	if (o.rc != 0 || o.err[0] != '\0')
		fail_msg("relay46ctl%s %s: exit %d\n--- stdout:\n%s--- "
			 "stderr:\n%s",
		    json ? " -j" : "", cmd, o.rc, o.out, o.err);
	free(o.err);
	return o.out;
}

/* ctl_ok(), and its stdout must be ${want} exactly. */
static void
ctl_says(const char *sock, const char *cmd, const char *want)
{
	char	*out = ctl_ok(sock, false, cmd);

	if (strcmp(out, want) != 0)
		fail_msg("relay46ctl %s said:\n%s--- expected:\n%s", cmd, out,
		    want);
	free(out);
}

/*
 * A command relay46 must refuse: exit 1 and nothing on stdout, with and
 * without -j, the same reasons on stderr each time.  The reasons, for the
 * caller to free; each must contain ${needle}.
 */
static char *
ctl_refused(const char *sock, const char *cmd, const char *needle)
{
	struct run	 o, oj;

	ctl_run(&o, sock, false, cmd);
	ctl_run(&oj, sock, true, cmd);
	if (o.rc != 1 || o.out[0] != '\0' || oj.rc != 1 || oj.out[0] != '\0')
		fail_msg("relay46ctl %s: exit %d / -j %d, expected 1\n--- "
			 "stdout:\n%s--- -j stdout:\n%s--- stderr:\n%s--- -j "
			 "stderr:\n%s",
		    cmd, o.rc, oj.rc, o.out, oj.out, o.err, oj.err);
	if (strncmp(o.err, "relay46ctl: ", 12) != 0 ||
	    strstr(o.err, needle) == NULL || strcmp(o.err, oj.err) != 0)
		fail_msg("relay46ctl %s: stderr '%s' (-j: '%s'), expected "
			 "'relay46ctl: ...%s...'",
		    cmd, o.err, oj.err, needle);
	free(o.out);
	free(oj.out);
	free(oj.err);
	return o.err;
}

/* --- answers parsed back into rows ---------------------------------------- */

enum cell_type {
	CELL_STR = 0,
	CELL_NUM,
	CELL_NULL,	/* JSON null; its text is "-", as relay46 sent it */
};

struct cell {
	enum cell_type	 t;
	char		 s[T_CELL];
};

/*
 * One answer: a table's columns and rows; show info's keys as the columns
 * of one row; text as one column of lines.  From relay46ctl's plain
 * output or from its JSON (${json}: typed cells).
 */
struct tab {
	bool		 json;
	bool		 upper;		/* a plain table: its header */
	size_t		 ncol, nrow;
	char		 col[T_COLS][40];
	struct cell	 c[T_ROWS][T_COLS];
};

enum kind {
	KIND_TABLE = 0,
	KIND_KV,
	KIND_TEXT,
};

static struct tab *
tab_new(void)
{
	struct tab	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fail_msg("out of memory");
	return t;
}

static void
tab_set(char *dst, size_t cap, const char *s, size_t len, const char *what)
{
	if (len >= cap)
		fail_msg("%s: a field of %zu bytes: %.*s", what, len, (int)len,
		    s);
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static struct cell *
tab_add(struct tab *t, size_t row, size_t col, const char *what)
{
	if (row >= T_ROWS || col >= T_COLS)
		fail_msg("%s: more than %d rows or %d columns", what, T_ROWS,
		    T_COLS);
	return &t->c[row][col];
}

/*
 * Plain output.  A table: aligned columns, at least two spaces apart, the
 * numbers right-aligned (so a line may start with blanks).  kv: "key:",
 * blanks, the value.  text: lines.
 */
static void
plain_parse(const char *text, enum kind k, struct tab *t, const char *what)
{
	const char	*p = text, *nl, *q, *f;
	size_t		 line = 0, nf;
	struct cell	*c;

	memset(t, 0, sizeof(*t));
	t->upper = k == KIND_TABLE;
	for (; *p != '\0'; p = nl + 1, line++) {
		if ((nl = strchr(p, '\n')) == NULL)
			fail_msg("%s: last line not ended: '%s'", what, p);
		if (k == KIND_TEXT) {
			if (line == 0) {
				t->ncol = 1;
				snprintf(t->col[0], sizeof(t->col[0]), "line");
			}
			c = tab_add(t, t->nrow++, 0, what);
			tab_set(c->s, sizeof(c->s), p, (size_t)(nl - p), what);
			continue;
		}
		if (k == KIND_KV) {
			if ((q = memchr(p, ':', (size_t)(nl - p))) == NULL ||
			    q[1] != ' ')
				fail_msg("%s: not 'key: value': %.*s", what,
				    (int)(nl - p), p);
			t->nrow = 1;
			if (t->ncol >= T_COLS)
				fail_msg("%s: too many keys", what);
			tab_set(t->col[t->ncol], sizeof(t->col[0]), p,
			    (size_t)(q - p), what);
			for (q++; *q == ' '; q++)
				continue;
			c = tab_add(t, 0, t->ncol++, what);
			tab_set(c->s, sizeof(c->s), q, (size_t)(nl - q), what);
			continue;
		}
		for (q = p; *q == ' '; q++)
			continue;
		for (nf = 0; q < nl; nf++) {
			for (f = q; q < nl &&
			     !(q[0] == ' ' && q + 1 < nl && q[1] == ' ');
			     q++)
				continue;
			if (line == 0) {
				if (nf >= T_COLS)
					fail_msg("%s: too many columns", what);
				tab_set(t->col[nf], sizeof(t->col[0]), f,
				    (size_t)(q - f), what);
			} else {
				c = tab_add(t, line - 1, nf, what);
				tab_set(c->s, sizeof(c->s), f, (size_t)(q - f),
				    what);
			}
			while (q < nl && *q == ' ')
				q++;
		}
		if (line == 0)
			t->ncol = nf;
		else if (nf != t->ncol)
			fail_msg(
			    "%s: line %zu has %zu fields, the header %zu:\n%s",
			    what, line + 1, nf, t->ncol, text);
		else
			t->nrow = line;
	}
}

/* A tiny reader for exactly what relay46ctl -j writes. */
struct json {
	const char	*p;
	const char	*what;
	const char	*text;
};

static void
json_bad(const struct json *j, const char *expected)
{
	fail_msg("%s: not JSON as expected (%s) at offset %td:\n%s", j->what,
	    expected, j->p - j->text, j->text);
}

static void
json_ws(struct json *j)
{
	while (*j->p == ' ' || *j->p == '\n')
		j->p++;
}

static void
json_expect(struct json *j, char ch)
{
	char	 e[8];

	json_ws(j);
	if (*j->p != ch) {
		snprintf(e, sizeof(e), "'%c'", ch);
		json_bad(j, e);
	}
	j->p++;
}

static bool
json_peek(struct json *j, char ch)
{
	json_ws(j);
	return *j->p == ch;
}

/* A string into ${out}: the escapes relay46ctl writes, \u00XX as a byte. */
static void
json_string(struct json *j, char *out, size_t cap)
{
	static const char	 from[] = "\"\\/bfnrt";
	static const char	 to[] = "\"\\/\b\f\n\r\t";
	const char		*e;
	unsigned		 v;
	size_t			 n = 0;

	json_expect(j, '"');
	while (*j->p != '"') {
		if (*j->p == '\0' || (unsigned char)*j->p < 0x20)
			json_bad(j, "a string's end");
		if (n + 1 >= cap)
			json_bad(j, "a shorter string");
		if (*j->p != '\\') {
			out[n++] = *j->p++;
			continue;
		}
		j->p++;
		if (*j->p == 'u') {
			if (sscanf(j->p + 1, "%4x", &v) != 1 || v > 0xff)
				json_bad(j, "\\u00XX");
			out[n++] = (char)v;
			j->p += 5;
		} else if (*j->p != '\0' && (e = strchr(from, *j->p)) != NULL) {
			out[n++] = to[e - from];
			j->p++;
		} else
			json_bad(j, "an escape");
	}
	j->p++;
	out[n] = '\0';
}

/* A value: a string, a number (kept as written) or null. */
static void
json_value(struct json *j, struct cell *c)
{
	const char	*s;

	json_ws(j);
	if (*j->p == '"') {
		c->t = CELL_STR;
		json_string(j, c->s, sizeof(c->s));
		return;
	}
	if (strncmp(j->p, "null", 4) == 0) {
		c->t = CELL_NULL;
		snprintf(c->s, sizeof(c->s), "-");
		j->p += 4;
		return;
	}
	s = j->p;
	if (*j->p == '-')
		j->p++;
	if (*j->p == '0')
		j->p++;
	else if (*j->p >= '1' && *j->p <= '9')
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	else
		json_bad(j, "a string, a number or null");
	if (*j->p == '.' || *j->p == 'e' || *j->p == 'E')
		json_bad(j, "an integer");
	c->t = CELL_NUM;
	tab_set(c->s, sizeof(c->s), s, (size_t)(j->p - s), j->what);
}

/* {"key": value, ...} as row ${row} of ${t}; row 0 names the columns. */
static void
json_object(struct json *j, struct tab *t, size_t row)
{
	char	 key[T_CELL];
	size_t	 n = 0;

	json_expect(j, '{');
	while (!json_peek(j, '}')) {
		if (n > 0)
			json_expect(j, ',');
		json_string(j, key, sizeof(key));
		json_expect(j, ':');
		if (row == 0) {
			if (n >= T_COLS)
				json_bad(j, "fewer members");
			tab_set(t->col[n], sizeof(t->col[0]), key, strlen(key),
			    j->what);
		} else if (n >= t->ncol || strcmp(key, t->col[n]) != 0)
			json_bad(j, "the members of the first row, in order");
		json_value(j, tab_add(t, row, n, j->what));
		n++;
	}
	j->p++;
	if (row == 0)
		t->ncol = n;
	else if (n != t->ncol)
		json_bad(j, "as many members as the first row");
}

/* -j output: a table is [{...}, ...], kv {...}, text ["...", ...]. */
static void
json_parse(const char *text, enum kind k, struct tab *t, const char *what)
{
	struct json	 j = { text, what, text };
	struct cell	*c;

	memset(t, 0, sizeof(*t));
	t->json = true;
	if (k == KIND_KV) {
		json_object(&j, t, 0);
		t->nrow = 1;
	} else {
		json_expect(&j, '[');
		if (k == KIND_TEXT) {
			t->ncol = 1;
			snprintf(t->col[0], sizeof(t->col[0]), "line");
		}
		while (!json_peek(&j, ']')) {
			if (t->nrow > 0)
				json_expect(&j, ',');
			if (k == KIND_TABLE)
				json_object(&j, t, t->nrow);
			else {
				c = tab_add(t, t->nrow, 0, what);
				c->t = CELL_STR;
				json_string(&j, c->s, sizeof(c->s));
			}
			t->nrow++;
		}
		j.p++;
	}
	/* One document, ended by a newline, nothing after it. */
	if (strcmp(j.p, "\n") != 0)
		json_bad(&j, "a newline, then the end");
}

/* The column ${name} (case aside: a plain header is in upper case). */
static size_t
tab_col(const struct tab *t, const char *name)
{
	size_t	 i;

	for (i = 0; i < t->ncol; i++)
		if (strcasecmp(t->col[i], name) == 0)
			return i;
	fail_msg("no column '%s' in the answer", name);
	return 0;
}

static const struct cell *
tab_cell(const struct tab *t, size_t row, const char *name)
{
	if (row >= t->nrow)
		fail_msg("row %zu of %zu asked for", row, t->nrow);
	return &t->c[row][tab_col(t, name)];
}

static const char *
tab_s(const struct tab *t, size_t row, const char *name)
{
	return tab_cell(t, row, name)->s;
}

/* A number: in JSON it must be one; plain, all digits. */
static long long
tab_n(const struct tab *t, size_t row, const char *name)
{
	const struct cell *c = tab_cell(t, row, name);
	char		*end;
	long long	 v;

	if (t->json && c->t != CELL_NUM)
		fail_msg("row %zu, %s: '%s' is not a JSON number", row, name,
		    c->s);
	errno = 0;
	v = strtoll(c->s, &end, 10);
	if (c->s[0] == '\0' || *end != '\0' || errno != 0)
		fail_msg("row %zu, %s: '%s' is not a number", row, name, c->s);
	return v;
}

/* The first row whose ${name} is ${value}, or -1. */
static long
tab_row(const struct tab *t, const char *name, const char *value)
{
	size_t	 i, k = tab_col(t, name);

	for (i = 0; i < t->nrow; i++)
		if (strcmp(t->c[i][k].s, value) == 0)
			return (long)i;
	return -1;
}

/* As tab_row(), failing when there is none. */
static size_t
tab_must(const struct tab *t, const char *name, const char *value)
{
	long	 i = tab_row(t, name, value);

	if (i == -1)
		fail_msg("no row with %s = %s", name, value);
	return (size_t)i;
}

/* How many rows have ${name} = ${value}. */
static unsigned
tab_count(const struct tab *t, const char *name, const char *value)
{
	size_t		 i, k = tab_col(t, name);
	unsigned	 n = 0;

	for (i = 0; i < t->nrow; i++)
		n += strcmp(t->c[i][k].s, value) == 0;
	return n;
}

/* Row ${row}'s ${name} is JSON null (and was "-" on the wire). */
static void
tab_null(const struct tab *t, size_t row, const char *name)
{
	const struct cell *c = tab_cell(t, row, name);

	if (c->t != CELL_NULL)
		fail_msg("row %zu, %s: '%s', expected null", row, name, c->s);
}

/*
 * ${t} has exactly the columns ${cols} ("name" or "name:n" for a number,
 * in order), without ":n": a plain table's header in upper case; in JSON
 * every number column holds numbers or null, every other one strings or
 * null.  An empty table in JSON is "[]", which names no column.
 */
static void
tab_shape(const struct tab *t, const char *cols, const char *what)
{
	char		 list[1024], *w, *save = NULL, up[40];
	size_t		 i = 0, r, len, k;
	bool		 num;

	if (t->json && t->nrow == 0 && t->ncol == 0)
		return;
	snprintf(list, sizeof(list), "%s", cols);
	for (w = strtok_r(list, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save), i++) {
		len = strlen(w);
		if ((num = len > 2 && strcmp(w + len - 2, ":n") == 0))
			w[len -= 2] = '\0';
		if (i >= t->ncol)
			fail_msg("%s: %zu columns, '%s' missing", what, t->ncol,
			    w);
		for (k = 0; k <= len && k < sizeof(up); k++)
			up[k] = (char)toupper((unsigned char)w[k]);
		if (strcmp(t->col[i], t->upper ? up : w) != 0)
			fail_msg("%s: column %zu is '%s', expected '%s'", what,
			    i + 1, t->col[i], t->upper ? up : w);
		for (r = 0; t->json && r < t->nrow; r++)
			if (t->c[r][i].t != CELL_NULL &&
			    (t->c[r][i].t == CELL_NUM) != num)
				fail_msg("%s: row %zu, %s: '%s' is %s a number",
				    what, r, w, t->c[r][i].s,
				    num ? "not" : "unexpectedly");
	}
	if (i != t->ncol)
		fail_msg("%s: %zu columns, expected %zu", what, t->ncol, i);
}

/*
 * Run ${cmd} plain and with -j into ${p} and ${j}; both must have the
 * shape ${cols} (NULL: not checked) and as many rows.  ${same}: columns
 * whose every value must read the same both ways (space-separated).
 */
static void
show(const char *sock, const char *cmd, enum kind k, const char *cols,
    const char *same, struct tab *p, struct tab *j)
{
	char	*out, list[512], *w, *save = NULL, what[160];
	size_t	 r;

	out = ctl_ok(sock, false, cmd);
	snprintf(what, sizeof(what), "relay46ctl %s", cmd);
	plain_parse(out, k, p, what);
	free(out);
	out = ctl_ok(sock, true, cmd);
	snprintf(what, sizeof(what), "relay46ctl -j %s", cmd);
	json_parse(out, k, j, what);
	free(out);
	if (cols != NULL) {
		tab_shape(p, cols, cmd);
		tab_shape(j, cols, cmd);
	}
	if (p->nrow != j->nrow)
		fail_msg("%s: %zu rows plain, %zu with -j", cmd, p->nrow,
		    j->nrow);
	snprintf(list, sizeof(list), "%s", same != NULL ? same : "");
	for (w = strtok_r(list, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save))
		for (r = 0; r < p->nrow; r++)
			if (strcmp(tab_s(p, r, w), tab_s(j, r, w)) != 0)
				fail_msg("%s: row %zu, %s: '%s' plain, '%s' "
					 "with -j",
				    cmd, r, w, tab_s(p, r, w), tab_s(j, r, w));
}

/* Only the -j form, for the checks that need no plain twin. */
static void
show_json(const char *sock, const char *cmd, enum kind k, const char *cols,
    struct tab *j)
{
	char	*out = ctl_ok(sock, true, cmd);

	json_parse(out, k, j, cmd);
	free(out);
	if (cols != NULL)
		tab_shape(j, cols, cmd);
}

/* --- the raw protocol ----------------------------------------------------- */

struct raw {
	int		 fd;
	char		 buf[1 << 16];
	size_t		 len;
};

/* A control connection of our own, without relay46ctl; -1 with errno. */
static int
raw_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1)
		fail_msg("socket: %s", strerror(errno));
	/* A Unix socket connects at once, or fails: EAGAIN is a full queue. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static struct raw *
raw_open(const char *path)
{
	struct raw	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fail_msg("out of memory");
	if ((c->fd = raw_connect(path)) == -1)
		fail_msg("connect %s: %s", path, strerror(errno));
	return c;
}

static void
raw_close(struct raw *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

static void
raw_send(struct raw *c, const char *s, size_t len)
{
	H_ASSERT_END(h_send_all(c->fd, s, len, H_IO_MS), H_OK, H_OK);
}

/* The next line, LF cut off, into ${line}: H_OK, H_EOF or an errno value. */
static int
raw_line(struct raw *c, char *line, size_t cap, int timeout_ms)
{
	int64_t		 deadline = h_now_ms() + timeout_ms;
	struct pollfd	 pfd = { .fd = c->fd, .events = POLLIN };
	char		*nl;
	ssize_t		 n;
	size_t		 len;
	unsigned	 i;

	for (i = 0; i < 100000; i++) {
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			len = (size_t)(nl - c->buf);
			if (len >= cap)
				fail_msg("an answer's line of %zu bytes", len);
			memcpy(line, c->buf, len);
			line[len] = '\0';
			memmove(c->buf, nl + 1, c->len - len - 1);
			c->len -= len + 1;
			return H_OK;
		}
		if (c->len == sizeof(c->buf))
			fail_msg("an answer's line over %zu bytes",
			    sizeof(c->buf));
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return c->len == 0 ? H_EOF : EPROTO;
		if (errno != EAGAIN && errno != EINTR)
			return errno;
		if (h_left(deadline) == 0)
			return ETIMEDOUT;
		(void)poll(&pfd, 1, h_left(deadline));
	}
	return ETIMEDOUT;
}

/* An answer: "ok N KIND" or "err N", and its lines, LF-joined. */
struct answer {
	bool		 ok;
	size_t		 n;
	char		 kind[16];
	char		 body[1 << 15];
};

static void
raw_answer(struct raw *c, struct answer *a)
{
	char	 line[8192];
	size_t	 i, off = 0, len;
	int	 end, used = 0;

	memset(a, 0, sizeof(*a));
	if ((end = raw_line(c, line, sizeof(line), H_IO_MS)) != H_OK)
		fail_msg("no status line: %s", h_end_str(end));
	if (sscanf(line, "ok %zu %15s%n", &a->n, a->kind, &used) == 2 &&
	    line[used] == '\0')
		a->ok = true;
	else if (sscanf(line, "err %zu%n", &a->n, &used) != 1 ||
	    line[used] != '\0' || a->n == 0)
		fail_msg("not a status line: '%s'", line);
	for (i = 0; i < a->n; i++) {
		if ((end = raw_line(c, line, sizeof(line), H_IO_MS)) != H_OK)
			fail_msg("line %zu of %zu: %s", i + 1, a->n,
			    h_end_str(end));
		len = strlen(line);
		if (off + len + 2 > sizeof(a->body))
			fail_msg("an answer over %zu bytes", sizeof(a->body));
		memcpy(a->body + off, line, len);
		off += len;
		a->body[off++] = '\n';
		a->body[off] = '\0';
	}
}

/* Send ${cmd} (LF added) and read its answer. */
static void
raw_ask(struct raw *c, const char *cmd, struct answer *a)
{
	char	 line[512];

	snprintf(line, sizeof(line), "%s\n", cmd);
	raw_send(c, line, strlen(line));
	raw_answer(c, a);
}

/*
 * The value in column ${col} of the row whose first field is ${first}, in
 * a table answer's body (TAB-separated, header first), or -1 if none.
 */
static long long
raw_cell(const struct answer *a, const char *first, const char *col)
{
	char		 body[sizeof(a->body)], *line, *save = NULL, *f, *fs;
	long		 k = -1, i;
	long long	 v = -1;
	char		 name[64];

	snprintf(body, sizeof(body), "%s", a->body);
	for (line = strtok_r(body, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		fs = NULL;
		if (k == -1) {
			for (i = 0, f = strtok_r(line, "\t", &fs); f != NULL;
			     f = strtok_r(NULL, "\t", &fs), i++) {
				snprintf(name, sizeof(name), "%s", f);
				name[strcspn(name, ":")] = '\0';
				if (strcmp(name, col) == 0)
					k = i;
			}
			if (k == -1)
				fail_msg("no column %s in:\n%s", col, a->body);
			continue;
		}
		f = strtok_r(line, "\t", &fs);
		if (f == NULL || strcmp(f, first) != 0)
			continue;
		for (i = 1; i <= k && f != NULL; i++)
			f = strtok_r(NULL, "\t", &fs);
		if (f != NULL)
			v = strtoll(f, NULL, 10);
		break;
	}
	return v;
}

/* --- traffic -------------------------------------------------------------- */

/* An echo backend that first sends ${tag}, one letter. */
static struct h_backend *
tagged(const char *tag)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO, .hello = tag };

	return h_backend_start(AF_INET, &cfg);
}

/* A client of ${route} (from ${src}; NULL: 127.0.0.1) and its backend's tag. */
static int
open_tagged(struct h_relay *r, const char *route, const char *src, char *tag)
{
	int	 fd = h_relay_connect_from(r, route, AF_INET, src);
	size_t	 got = 0;
	int	 end;

	if ((end = h_recv_n(fd, tag, 1, H_IO_MS, &got)) != H_OK)
		fail_msg("route %s: no backend's tag: %s", route,
		    h_end_str(end));
	return fd;
}

static void
echo(int fd, uint64_t seed, size_t len)
{
	H_ASSERT_END(h_echo(fd, seed, len, H_IO_MS), H_OK, H_OK);
}

/* End a session from the client's side, cleanly. */
static void
finish(int fd)
{
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
}

/* One whole session of ${route}: the tag of the backend it reached. */
static char
one(struct h_relay *r, const char *route, uint64_t seed)
{
	char	 tag;
	int	 fd = open_tagged(r, route, NULL, &tag);

	echo(fd, seed, ECHO_LEN);
	finish(fd);
	return tag;
}

/* ${n} whole sessions; how many reached the backend tagged ${tag}. */
static unsigned
many(struct h_relay *r, const char *route, unsigned n, uint64_t seed, char tag)
{
	unsigned	 i, hits = 0;

	for (i = 0; i < n; i++)
		hits += one(r, route, seed + i) == tag;
	return hits;
}

static unsigned
accepted(struct h_backend *b)
{
	struct h_backend_stats	 st;

	h_backend_stats(b, &st);
	return st.accepted;
}

/* "client=127.0.0.1:P upstream=" : the start of ${fd}'s session line. */
static const char *
client_needle(int fd, char *buf, size_t len)
{
	snprintf(buf, len,
	    "client=127.0.0.1:%d upstream=", h_sock_port(fd, false));
	return buf;
}

/* "127.0.0.1:P", the client column of ${fd}'s session (from ${src}). */
static const char *
client_addr(int fd, const char *src, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%d", src != NULL ? src : "127.0.0.1",
	    h_sock_port(fd, false));
	return buf;
}

/* A path for the control socket, in a new directory of the test's. */
static void
sock_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/ctl.sock", h_tmpdir());
}

/* How many workers relay46 runs (show info). */
static unsigned
workers(const char *sock)
{
	struct tab	*j = tab_new();
	unsigned	 w;

	show_json(sock, "show info", KIND_KV, info_keys, j);
	w = (unsigned)tab_n(j, 0, "workers");
	free(j);
	return w;
}

/* Wait until relay46 has logged ${n} session ends in all. */
static void
wait_ends(struct h_relay *r, unsigned n)
{
	if (!h_relay_log_wait_n(r, "msg=\"session end\"", n, H_IO_MS))
		fail_msg("relay46 logged %u session ends, expected %u",
		    h_relay_log_count(r, "msg=\"session end\""), n);
}

/* -------------------------------------------------------------------------- */
/* --- every command, plain and -j ------------------------------------------ */

/* "YYYY-MM-DDTHH:MM:SSZ", as show info writes a time. */
static void
assert_time(const char *s, const char *what)
{
	int	 y, mo, d, h, mi, sec, n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec,
		&n) != 6 ||
	    n != 20 || s[n] != '\0')
		fail_msg("%s: '%s' is not a UTC time", what, s);
}

/* The kernel's cap on a listen() backlog, or -1. */
static long
somaxconn(void)
{
	char	*s = h_read_file("/proc/sys/net/core/somaxconn");
	long	 v = s != NULL ? strtol(s, NULL, 10) : -1;

	free(s);
	return v;
}

/* Sessions listed by "show sessions ${filter}": how many, and must-haves. */
static void
expect_listed(const char *sock, const char *filter, size_t n,
    const char *const *clients)
{
	struct tab	*p = tab_new(), *j = tab_new();
	char		 cmd[256];
	size_t		 i;

	snprintf(cmd, sizeof(cmd), "show sessions%s%s", filter[0] ? " " : "",
	    filter);
	show(sock, cmd, KIND_TABLE, sessions_cols, "id route client upstream",
	    p, j);
	if (j->nrow != n)
		fail_msg("%s: %zu rows, expected %zu", cmd, j->nrow, n);
	for (i = 0; clients != NULL && clients[i] != NULL; i++)
		(void)tab_must(j, "client", clients[i]);
	free(p);
	free(j);
}

/* A route's session in its state: the kernel's view on the sides it has. */
static void
expect_session(const struct tab *j, const char *client, const char *route,
    const char *upstream, const char *st, long long up, long long down)
{
	static const char *const tcp[] = { "rtt_us", "rttvar_us", "retrans",
		"unacked", "cwnd" };
	size_t		 r = tab_must(j, "client", client), i;
	char		 name[16];

	assert_string_equal(tab_s(j, r, "route"), route);
	assert_string_equal(tab_s(j, r, "upstream"), upstream);
	assert_string_equal(tab_s(j, r, "state"), st);
	assert_int_equal(tab_n(j, r, "bytes_up"), up);
	assert_int_equal(tab_n(j, r, "bytes_down"), down);
	assert_true(tab_n(j, r, "idle_ms") >= 0);
	assert_true(tab_n(j, r, "age_ms") >= tab_n(j, r, "idle_ms"));
	assert_true(tab_n(j, r, "c_rtt_us") > 0);
	assert_true(tab_n(j, r, "c_cwnd") > 0);
	for (i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++) {
		snprintf(name, sizeof(name), "u_%s", tcp[i]);
		if (strcmp(upstream, "-") == 0)
			tab_null(j, r, name);	/* no upstream socket yet */
		else
			assert_true(tab_n(j, r, name) >= 0);
	}
	if (strcmp(upstream, "-") != 0)
		assert_true(tab_n(j, r, "u_rtt_us") > 0);
	if (strcmp(upstream, "-") == 0)
		tab_null(j, r, "upstream");
}

/*
 * Five routes, each holding a session in one state: two relaying on web
 * (from 127.0.0.1 and 127.0.0.2), one on db (from 127.0.0.3), one
 * connecting (bh: its upstream never answers), one accepted (px: waits
 * for a PROXY header that never comes), one half_closed (hc: the client
 * sent its FIN, the backend, ours, holds on).  Every command's columns,
 * the values that matter, plain and -j alike; every show sessions filter.
 */
static void
test_show(void **state)
{
	struct h_backend	*a, *b, *c;
	struct h_relay		*r;
	struct tab		*p = tab_new(), *j = tab_new();
	static const char *const routes[] = { "web", "db", "bh", "px", "hc" };
	char			 sock[H_PATH], pa[64], pb[64], pc[64], pbh[64];
	char			 phc[64], cw1[64], cw2[64], cd1[64], cbh[64];
	char			 cpx[64], chc[64], cmd[256], t1, t2, t3, x[2];
	const char		*env, *up1, *up2, *want[4];
	int			 bhl, bhfill, bhport, hcl, hcport, w1, w2, d1;
	int			 bh1, px1, hc1, hb, i;
	unsigned		 nw, k;
	size_t			 row;
	long			 smax = somaxconn();
	int64_t			 deadline;

	(void)state;
	a = tagged("A");
	b = tagged("B");
	c = tagged("C");
	bhport = 0;
	bhl = h_blackhole(AF_INET, &bhport, &bhfill);
	hcl = h_listen_socket(AF_INET, &hcport);
	snprintf(pa, sizeof(pa), "%s", h_hostport(AF_INET, h_backend_port(a)));
	snprintf(pb, sizeof(pb), "%s", h_hostport(AF_INET, h_backend_port(b)));
	snprintf(pc, sizeof(pc), "%s", h_hostport(AF_INET, h_backend_port(c)));
	snprintf(pbh, sizeof(pbh), "%s", h_hostport(AF_INET, bhport));
	snprintf(phc, sizeof(phc), "%s", h_hostport(AF_INET, hcport));
	sock_path(sock, sizeof(sock));
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route web]\nlisten = 127.0.0.1:0\nupstream = %s\n"
	    "upstream = %s weight=2\n"
	    "[route db]\nlisten = 127.0.0.1:0\nbacklog = 50\nupstream = %s\n"
	    "[route bh]\nlisten = 127.0.0.1:0\nupstream = %s\n"
	    "connect_timeout = 60s\n"
	    "[route px]\nlisten = 127.0.0.1:0\nupstream = %s\n"
	    "accept_proxy = on\nproxy_from = 127.0.0.0/8\nproxy_timeout = 60s\n"
	    "[route hc]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    sock, pa, pb, pc, pbh, pc, phc);
	nw = workers(sock);
	if ((env = getenv("RELAY46_WORKERS")) != NULL && *env != '\0')
		assert_int_equal(nw, (unsigned)atoi(env));

	/* Two whole sessions on db, then one of each state. */
	assert_int_equal(one(r, "db", 1), 'C');
	assert_int_equal(one(r, "db", 2), 'C');
	wait_ends(r, 2);
	w1 = open_tagged(r, "web", NULL, &t1);
	echo(w1, 10, 1000);
	w2 = open_tagged(r, "web", "127.0.0.2", &t2);
	echo(w2, 11, 500);
	d1 = open_tagged(r, "db", "127.0.0.3", &t3);
	assert_int_equal(t3, 'C');
	echo(d1, 12, 300);
	bh1 = h_relay_connect(r, "bh", AF_INET);
	px1 = h_relay_connect(r, "px", AF_INET);
	hc1 = h_relay_connect(r, "hc", AF_INET);
	if ((hb = h_accept(hcl, H_IO_MS)) == -1)
		fail_msg("hc: relay46 never connected: %s", strerror(errno));
	H_ASSERT_END(h_send_all(hc1, "x", 1, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_recv_n(hb, x, 1, H_IO_MS, NULL), H_OK, H_OK);
	H_ASSERT_END(h_send_all(hb, "yz", 2, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_recv_n(hc1, x, 2, H_IO_MS, NULL), H_OK, H_OK);
	assert_int_equal(shutdown(hc1, SHUT_WR), 0);
	/* The FIN went through: relay46 has read the client's EOF. */
	H_ASSERT_END(h_recv_n(hb, x, 1, H_IO_MS, NULL), H_EOF, H_EOF);
	client_addr(w1, NULL, cw1, sizeof(cw1));
	client_addr(w2, "127.0.0.2", cw2, sizeof(cw2));
	client_addr(d1, "127.0.0.3", cd1, sizeof(cd1));
	client_addr(bh1, NULL, cbh, sizeof(cbh));
	client_addr(px1, NULL, cpx, sizeof(cpx));
	client_addr(hc1, NULL, chc, sizeof(chc));
	up1 = t1 == 'A' ? pa : pb;
	up2 = t2 == 'A' ? pa : pb;

	/* bh and px were accepted when their sessions are listed. */
	deadline = h_now_ms() + H_IO_MS;
	for (i = 0; i < POLL_MAX; i++) {
		show_json(sock, "show sessions", KIND_TABLE, sessions_cols, j);
		if (j->nrow == 6 || h_left(deadline) == 0)
			break;
		(void)poll(NULL, 0, 5);
	}
	show(sock, "show sessions", KIND_TABLE, sessions_cols,
	    "id route client upstream state bytes_up bytes_down", p, j);
	assert_int_equal(j->nrow, 6);
	for (row = 1; row < j->nrow; row++)	/* oldest first, ids unique */
		assert_true(tab_n(j, row, "id") > tab_n(j, row - 1, "id"));
	assert_string_equal(tab_s(j, 0, "client"), cw1);
	expect_session(j, cw1, "web", up1, "relaying", 1000, 1001);
	expect_session(j, cw2, "web", up2, "relaying", 500, 501);
	expect_session(j, cd1, "db", pc, "relaying", 300, 301);
	expect_session(j, cbh, "bh", "-", "connecting", 0, 0);
	expect_session(j, cpx, "px", "-", "accepted", 0, 0);
	expect_session(j, chc, "hc", phc, "half_closed", 1, 2);
	/* Plain: the same values, "-" where JSON has null. */
	row = tab_must(p, "client", cbh);
	assert_string_equal(tab_s(p, row, "upstream"), "-");
	assert_string_equal(tab_s(p, row, "u_rtt_us"), "-");
	assert_true(atoi(tab_s(p, row, "c_rtt_us")) > 0);

	/* Each filter, and filters together. */
	want[0] = cw1, want[1] = cw2, want[2] = NULL;
	expect_listed(sock, "web", 2, want);
	want[0] = cw2, want[1] = NULL;
	expect_listed(sock, "client 127.0.0.2", 1, want);
	want[0] = cw2, want[1] = cd1, want[2] = NULL;
	expect_listed(sock, "client 127.0.0.2/31", 2, want);
	expect_listed(sock, "client ::ffff:127.0.0.0/104", 6, NULL);
	expect_listed(sock, "client ::1", 0, NULL);
	want[0] = cd1, want[1] = NULL;
	snprintf(cmd, sizeof(cmd), "upstream %s", pc);
	expect_listed(sock, cmd, 1, want);
	snprintf(cmd, sizeof(cmd), "web upstream %s", up1);
	want[0] = cw1, want[1] = NULL;
	expect_listed(sock, cmd, strcmp(up1, up2) == 0 ? 2 : 1, want);
	snprintf(cmd, sizeof(cmd), "upstream %s client 127.0.0.1", phc);
	want[0] = chc, want[1] = NULL;
	expect_listed(sock, cmd, 1, want);
	snprintf(cmd, sizeof(cmd), "db client 127.0.0.3/32 upstream %s", pc);
	want[0] = cd1, want[1] = NULL;
	expect_listed(sock, cmd, 1, want);
	expect_listed(sock, "db client 127.0.0.1", 0, NULL);
	expect_listed(sock, "nosuch", 0, NULL);
	free(ctl_refused(sock, "show sessions client 127.0.0.1/8",
	    "did you mean 127.0.0.0/8?"));
	free(ctl_refused(sock, "show sessions client 127.0.0.1 client ::1",
	    "client"));

	/* show info */
	show(sock, "show info", KIND_KV, info_keys,
	    "version build pid started workers sessions config config_loaded "
	    "reloads last_reload last_reload_time",
	    p, j);
	assert_string_equal(tab_s(j, 0, "version"), PACKAGE_VERSION);
	H_ASSERT_CONTAINS(tab_s(j, 0, "build"), "splice=");
	H_ASSERT_CONTAINS(tab_s(j, 0, "build"), " libevent=");
	assert_int_equal(tab_n(j, 0, "pid"), r->pid);
	assert_int_equal(tab_n(j, 0, "workers"), nw);
	assert_int_equal(tab_n(j, 0, "sessions"), 6);
	assert_true(tab_n(j, 0, "uptime_seconds") >= 0);
	assert_string_equal(tab_s(j, 0, "config"), r->conf);
	assert_time(tab_s(j, 0, "started"), "started");
	assert_time(tab_s(j, 0, "config_loaded"), "config_loaded");
	assert_int_equal(tab_n(j, 0, "reloads"), 0);
	tab_null(j, 0, "last_reload");
	tab_null(j, 0, "last_reload_time");

	/* show routes: in the file's order, listening where the kernel said. */
	show(sock, "show routes", KIND_TABLE, routes_cols,
	    "route listen balance health_check upstreams sessions", p, j);
	assert_int_equal(j->nrow, 5);
	for (k = 0; k < 5; k++) {
		assert_string_equal(tab_s(j, k, "route"), routes[k]);
		assert_string_equal(tab_s(j, k, "listen"),
		    h_relay_ready_addr(r, routes[k], 0)->text);
		assert_string_equal(tab_s(j, k, "balance"), "roundrobin");
		assert_string_equal(tab_s(j, k, "health_check"), "off");
		assert_int_equal(tab_n(j, k, "upstreams"), k == 0 ? 2 : 1);
		assert_int_equal(tab_n(j, k, "sessions"), k == 0 ? 2 : 1);
	}
	assert_int_equal(tab_n(j, 1, "sessions_total"), 3);
	assert_int_equal(tab_n(j, 0, "sessions_total"), 2);
	assert_true(tab_n(j, 1, "bytes_up") >= 2 * ECHO_LEN);
	assert_true(tab_n(j, 1, "bytes_down") >= 2 * (ECHO_LEN + 1));

	/* show upstreams [ROUTE] */
	show(sock, "show upstreams", KIND_TABLE, upstreams_cols,
	    "route upstream host backup weight state down_why down_since "
	    "sessions",
	    p, j);
	assert_int_equal(j->nrow, 6);
	{
		static const char *const rt[6] = { "web", "web", "db", "bh",
			"px", "hc" };
		const char *const	 ups[6] = { pa, pb, pc, pbh, pc, phc };
		const int		 live[6] = { (t1 == 'A') + (t2 == 'A'),
				       (t1 == 'B') + (t2 == 'B'), 1, 1, 0, 1 };

		for (k = 0; k < 6; k++) {
			assert_string_equal(tab_s(j, k, "route"), rt[k]);
			assert_string_equal(tab_s(j, k, "upstream"), ups[k]);
			assert_string_equal(tab_s(j, k, "host"), ups[k]);
			assert_string_equal(tab_s(j, k, "backup"), "no");
			assert_int_equal(tab_n(j, k, "weight"), k == 1 ? 2 : 1);
			assert_string_equal(tab_s(j, k, "state"), "ready");
			if (strcmp(tab_s(j, k, "health"), "up") != 0 &&
			    strcmp(tab_s(j, k, "health"), "unchecked") != 0)
				fail_msg("upstream %s: health %s", ups[k],
				    tab_s(j, k, "health"));
			tab_null(j, k, "down_why");
			tab_null(j, k, "down_since");
			assert_int_equal(tab_n(j, k, "sessions"), live[k]);
			assert_int_equal(tab_n(j, k, "connect_fails"), 0);
			assert_int_equal(tab_n(j, k, "check_fails"), 0);
		}
		assert_int_equal(tab_n(j, 2, "connects"), 3);
	}
	show(sock, "show upstreams web", KIND_TABLE, upstreams_cols,
	    "route upstream", p, j);
	assert_int_equal(j->nrow, 2);
	assert_int_equal(tab_count(j, "route", "web"), 2);
	free(ctl_refused(sock, "show upstreams nosuch", "no route nosuch"));

	/* show listeners: one socket per worker, nothing waiting. */
	show(sock, "show listeners", KIND_TABLE, listeners_cols,
	    "route listen sockets queue queue_limit", p, j);
	assert_int_equal(j->nrow, 5);
	for (k = 0; k < 5; k++) {
		assert_string_equal(tab_s(j, k, "route"), routes[k]);
		assert_string_equal(tab_s(j, k, "listen"),
		    h_relay_ready_addr(r, routes[k], 0)->text);
		assert_int_equal(tab_n(j, k, "sockets"), nw);
		assert_int_equal(tab_n(j, k, "queue"), 0);
		if (k == 1)
			assert_int_equal(tab_n(j, k, "queue_limit"), 50);
		else if (smax > 0)
			assert_int_equal(tab_n(j, k, "queue_limit"),
			    smax < 65535 ? smax : 65535);
	}

	/* help: the commands, one a line. */
	show(sock, "help", KIND_TEXT, NULL, "line", p, j);
	assert_int_equal(j->nrow, sizeof(help_lines) / sizeof(help_lines[0]));
	for (k = 0; k < j->nrow; k++)
		assert_string_equal(tab_s(j, k, "line"), help_lines[k]);

	/* What relay46 does not know: exit 1, the reason on stderr alone. */
	free(ctl_refused(sock, "frobnicate", "frobnicate"));
	free(ctl_refused(sock, "show", ""));
	free(ctl_refused(sock, "show upstreams web extra", ""));
	free(ctl_refused(sock, "set upstream web 127.0.0.1:1 state ready",
	    "route web has no upstream 127.0.0.1:1"));

	close(w1);
	close(w2);
	close(d1);
	close(bh1);
	close(px1);
	close(hc1);
	close(hb);
	close(hcl);
	close(bhfill);
	close(bhl);
	h_relay_finish(r);
	h_backend_free(a);
	h_backend_free(b);
	h_backend_free(c);
	free(p);
	free(j);
}

/*
 * An upstream line with a name (ctl.test, from a hosts file): show
 * upstreams has its address and, as host, the line; the line as written
 * names that address in show sessions, set and kill, as the address does.
 */
static void
test_upstream_by_name(void **state)
{
	struct h_backend	*a = tagged("A");
	struct h_relay		*r;
	struct tab		*j = tab_new();
	char			 sock[H_PATH], hosts[H_PATH + 16], line[64];
	char			 addr[64], cmd[256], want[256], cl[64], tag;
	int			 fd, port = h_backend_port(a);

	(void)state;
	snprintf(line, sizeof(line), "ctl.test:%d", port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	sock_path(sock, sizeof(sock));
	h_write_file(hosts, sizeof(hosts), h_tmpdir(), "hosts",
	    "127.0.0.1 ctl.test\n");
	h_relay_setenv("RELAY46_HOSTS", hosts);
	r = h_relay_start("[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
			  "[route n]\nlisten = 127.0.0.1:0\nupstream = %s\n"
			  "resolve = 200ms\n",
	    sock, line);
	h_relay_setenv(NULL, NULL);
	show_json(sock, "show upstreams", KIND_TABLE, upstreams_cols, j);
	assert_int_equal(j->nrow, 1);
	assert_string_equal(tab_s(j, 0, "upstream"), addr);
	assert_string_equal(tab_s(j, 0, "host"), line);

	fd = open_tagged(r, "n", NULL, &tag);
	echo(fd, 1, ECHO_LEN);
	snprintf(cmd, sizeof(cmd), "show sessions upstream %s", line);
	show_json(sock, cmd, KIND_TABLE, sessions_cols, j);
	assert_int_equal(j->nrow, 1);
	assert_string_equal(tab_s(j, 0, "client"),
	    client_addr(fd, NULL, cl, sizeof(cl)));
	assert_string_equal(tab_s(j, 0, "upstream"), addr);
	snprintf(cmd, sizeof(cmd), "show sessions n upstream %s", line);
	show_json(sock, cmd, KIND_TABLE, sessions_cols, j);
	assert_int_equal(j->nrow, 1);
	expect_listed(sock, "upstream nosuch.test:1", 0, NULL);

	snprintf(cmd, sizeof(cmd), "set upstream n %s weight 2", line);
	snprintf(want, sizeof(want), "n %s weight 2 (was 1)\n", addr);
	ctl_says(sock, cmd, want);

	/*
	 * The name moves while a session is on its old address: that one
	 * is listed as long as the session lasts, and as gone, not as the
	 * health it had.
	 */
	h_replace_file(hosts, "127.0.0.2 ctl.test\n");
	H_EXPECT_LOG(r, "msg=\"upstream removed\"");
	show_json(sock, "show upstreams", KIND_TABLE, upstreams_cols, j);
	assert_int_equal(j->nrow, 2);
	assert_string_equal(tab_s(j, 0, "upstream"), addr);
	assert_string_equal(tab_s(j, 0, "health"), "gone");
	assert_string_equal(tab_s(j, 0, "down_since"), "-");
	assert_string_not_equal(tab_s(j, 1, "health"), "gone");
	snprintf(cmd, sizeof(cmd), "kill sessions upstream n %s", addr);
	ctl_says(sock, cmd, "1 session killed\n");
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), ECONNRESET, ECONNRESET);
	close(fd);

	/*
	 * The address the name no longer has, with no session left on it,
	 * is no upstream any more, and not shown as one.
	 */
	show_json(sock, "show upstreams", KIND_TABLE, upstreams_cols, j);
	assert_int_equal(j->nrow, 1);
	snprintf(addr, sizeof(addr), "127.0.0.2:%d", port);
	assert_string_equal(tab_s(j, 0, "upstream"), addr);
	show_json(sock, "show routes", KIND_TABLE, routes_cols, j);
	assert_int_equal(tab_n(j, 0, "upstreams"), 1);
	h_relay_finish(r);
	h_backend_free(a);
	free(j);
}

/* --- the kernel's round-trip times ---------------------------------------- */

/*
 * A live session that has moved data both ways has a round-trip time on
 * each side, in microseconds, and the congestion windows are open.
 */
static void
test_rtt(void **state)
{
	struct h_backend	*a = tagged("A");
	struct h_relay		*r;
	struct tab		*p = tab_new(), *j = tab_new();
	char			 sock[H_PATH], tag, cl[64];
	int			 fd;

	(void)state;
	sock_path(sock, sizeof(sock));
	r = h_relay_start("[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
			  "[route t]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    sock, h_hostport(AF_INET, h_backend_port(a)));
	fd = open_tagged(r, "t", NULL, &tag);
	echo(fd, 1, 64 * 1024);
	show(sock, "show sessions", KIND_TABLE, sessions_cols,
	    "id client state bytes_up bytes_down", p, j);
	assert_int_equal(j->nrow, 1);
	assert_string_equal(tab_s(j, 0, "client"),
	    client_addr(fd, NULL, cl, sizeof(cl)));
	assert_true(tab_n(j, 0, "c_rtt_us") > 0);
	assert_true(tab_n(j, 0, "u_rtt_us") > 0);
	assert_true(tab_n(j, 0, "c_rttvar_us") >= 0);
	assert_true(tab_n(j, 0, "u_rttvar_us") >= 0);
	assert_true(tab_n(j, 0, "c_cwnd") > 0);
	assert_true(tab_n(j, 0, "u_cwnd") > 0);
	assert_true(tab_n(j, 0, "c_retrans") >= 0);
	assert_true(tab_n(j, 0, "u_unacked") >= 0);
	/* Plain: positive whole numbers in the same columns. */
	assert_true(atol(tab_s(p, 0, "c_rtt_us")) > 0);
	assert_true(atol(tab_s(p, 0, "u_rtt_us")) > 0);
	finish(fd);
	h_relay_finish(r);
	h_backend_free(a);
	free(p);
	free(j);
}

/*
 * backlog = N changed by a reload reaches the kernel on the sockets the
 * reload keeps (Linux takes a second listen()): show listeners' limit
 * follows it, 7 then 9, on every worker's socket.
 */
static void
test_backlog_reload(void **state)
{
	struct h_relay	*r;
	struct tab	*p = tab_new(), *j = tab_new();
	char		 sock[H_PATH], base[H_PATH + 256], text[H_PATH + 320];
	char		*out;

	(void)state;
	sock_path(sock, sizeof(sock));
	snprintf(base, sizeof(base),
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route b]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n",
	    sock);
	r = h_relay_start("%sbacklog = 7\n", base);
	show(sock, "show listeners", KIND_TABLE, NULL, "queue_limit", p, j);
	assert_int_equal(tab_n(j, 0, "queue_limit"), 7);
	snprintf(text, sizeof(text), "%sbacklog = 9\n", base);
	h_replace_file(r->conf, text);
	out = ctl_ok(sock, false, "reload");
	H_ASSERT_CONTAINS(out, "route b: settings changed");
	free(out);
	show(sock, "show listeners", KIND_TABLE, NULL, "queue_limit", p, j);
	assert_int_equal(tab_n(j, 0, "queue_limit"), 9);
	h_relay_finish(r);
	free(p);
	free(j);
}

/* --- drain, maint, ready -------------------------------------------------- */

#define N_NEW		6	/* sessions opened while an upstream is out */

/* "set upstream ROUTE ADDR state ST": the answer says what it was. */
static void
set_state(const char *sock, const char *route, const char *addr, const char *st,
    const char *was)
{
	char	 cmd[256], want[256];

	snprintf(cmd, sizeof(cmd), "set upstream %s %s state %s", route, addr,
	    st);
	snprintf(want, sizeof(want), "%s %s state %s (was %s)\n", route, addr,
	    st, was);
	ctl_says(sock, cmd, want);
}

static void
set_weight(const char *sock, const char *route, const char *addr, unsigned w,
    unsigned was)
{
	char	 cmd[256], want[256];

	snprintf(cmd, sizeof(cmd), "set upstream %s %s weight %u", route, addr,
	    w);
	snprintf(want, sizeof(want), "%s %s weight %u (was %u)\n", route, addr,
	    w, was);
	ctl_says(sock, cmd, want);
}

/*
 * A session of ${route} held on the upstream tagged ${tag}: ${other} is
 * drained while it connects, so nothing else can take it.
 */
static int
open_on(struct h_relay *r, const char *sock, const char *route,
    const char *other, char tag)
{
	char	 got;
	int	 fd;

	set_state(sock, route, other, "drain", "ready");
	fd = open_tagged(r, route, NULL, &got);
	assert_int_equal(got, tag);
	set_state(sock, route, other, "ready", "drain");
	return fd;
}

/* Row of upstream ${addr} in "show upstreams ${route}": its state etc. */
static void
expect_upstream(const char *sock, const char *route, const char *addr,
    const char *st, long long weight, long long live)
{
	struct tab	*j = tab_new();
	char		 cmd[128];
	size_t		 row;

	snprintf(cmd, sizeof(cmd), "show upstreams %s", route);
	show_json(sock, cmd, KIND_TABLE, upstreams_cols, j);
	row = tab_must(j, "upstream", addr);
	assert_string_equal(tab_s(j, row, "state"), st);
	assert_int_equal(tab_n(j, row, "weight"), weight);
	if (live >= 0)
		assert_int_equal(tab_n(j, row, "sessions"), live);
	free(j);
}

/*
 * drain: a session streaming on A goes on to its end, byte for byte,
 * while every new one goes to B.  maint: A's live session is closed
 * (end=killed), B's is not, and new ones go to B.  ready: A takes new
 * sessions again.
 */
static void
test_drain_maint(void **state)
{
	struct h_backend	*a = tagged("A"), *b = tagged("B");
	struct h_relay		*r;
	struct tab		*j = tab_new();
	char			 sock[H_PATH], pa[64], pb[64], cmd[256];
	char			 needle[256], cl[64];
	unsigned		 nw, acc_a, acc_b, hits;
	int			 live, m, n;

	(void)state;
	snprintf(pa, sizeof(pa), "%s", h_hostport(AF_INET, h_backend_port(a)));
	snprintf(pb, sizeof(pb), "%s", h_hostport(AF_INET, h_backend_port(b)));
	sock_path(sock, sizeof(sock));
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route d]\nlisten = 127.0.0.1:0\nupstream = %s\nupstream = %s\n",
	    sock, pa, pb);
	nw = workers(sock);

	/* drain */
	live = open_on(r, sock, "d", pb, 'A');
	echo(live, 100, 1000);
	set_state(sock, "d", pa, "drain", "ready");
	acc_a = accepted(a);
	acc_b = accepted(b);
	assert_int_equal(many(r, "d", N_NEW, 200, 'B'), N_NEW);
	assert_int_equal(accepted(a), acc_a);
	assert_int_equal(accepted(b), acc_b + N_NEW);
	echo(live, 101, 4000);
	expect_upstream(sock, "d", pa, "drain", 1, 1);
	expect_upstream(sock, "d", pb, "ready", 1, -1);
	snprintf(cmd, sizeof(cmd), "show sessions d upstream %s", pa);
	show_json(sock, cmd, KIND_TABLE, sessions_cols, j);
	assert_int_equal(j->nrow, 1);
	assert_string_equal(tab_s(j, 0, "client"),
	    client_addr(live, NULL, cl, sizeof(cl)));
	assert_string_equal(tab_s(j, 0, "state"), "relaying");
	assert_int_equal(tab_n(j, 0, "bytes_up"), 5000);
	assert_int_equal(tab_n(j, 0, "bytes_down"), 5001);
	echo(live, 102, 3000);
	snprintf(needle, sizeof(needle),
	    "client=127.0.0.1:%d upstream=%s "
	    "msg=\"session end\" end=done up=8000 down=8001",
	    h_sock_port(live, false), pa);
	finish(live);
	H_EXPECT_LOG(r, needle);
	/* A saw that session alone, all of it. */
	assert_true(h_backend_wait(a, 1, 1, 8000, H_IO_MS));
	{
		struct h_backend_stats	 st;

		h_backend_stats(a, &st);
		assert_int_equal(st.accepted, 1);
		assert_int_equal(st.rx, 8000);
		assert_int_equal(st.tx, 8001);
	}

	/* maint: A's live session goes, B's stays. */
	set_state(sock, "d", pa, "ready", "drain");
	m = open_on(r, sock, "d", pb, 'A');
	n = open_on(r, sock, "d", pa, 'B');
	echo(m, 300, 100);
	echo(n, 301, 100);
	snprintf(cmd, sizeof(cmd), "set upstream d %s state maint", pa);
	snprintf(needle, sizeof(needle),
	    "d %s state maint (was ready)\n1 session killed\n", pa);
	ctl_says(sock, cmd, needle);
	H_ASSERT_END(h_wait_end(m, H_IO_MS, NULL), ECONNRESET, H_EOF);
	H_EXPECT_LOG_LINE(r, client_needle(m, needle, sizeof(needle)),
	    "end=killed");
	close(m);
	echo(n, 302, 100);
	acc_a = accepted(a);
	assert_int_equal(many(r, "d", 4, 400, 'B'), 4);
	assert_int_equal(accepted(a), acc_a);
	expect_upstream(sock, "d", pa, "maint", 1, 0);

	/* ready: A is back in the rotation. */
	set_state(sock, "d", pa, "ready", "maint");
	acc_a = accepted(a);
	hits = many(r, "d", N_NEW, 500, 'A');
	/* Round robin per worker: each takes turns, A at least every other. */
	if (hits * 2 + nw < N_NEW || hits == 0)
		fail_msg("A took %u of %d sessions after ready (%u workers)",
		    hits, N_NEW, nw);
	assert_int_equal(accepted(a), acc_a + hits);
	expect_upstream(sock, "d", pa, "ready", 1, -1);
	finish(n);
	h_relay_finish(r);
	h_backend_free(a);
	h_backend_free(b);
	free(j);
}

/* --- weights, and what a reload keeps ------------------------------------- */

#define SHARE_N		40	/* sessions per measure of the weights 3:1 */

/*
 * ${SHARE_N} sessions with A at weight 3 and B at 1: smooth round robin
 * from fresh credits gives A 30 exactly with one worker; with ${nw} the
 * turns are per worker, and each worker's share of them is off by at
 * most a quarter below or a half above, so 30 - nw/4 .. 30 + nw/2.
 */
static void
share(struct h_relay *r, struct h_backend *a, struct h_backend *b, unsigned nw,
    uint64_t seed)
{
	unsigned	 acc_a = accepted(a), acc_b = accepted(b), hits;
	int		 off;

	hits = many(r, "w", SHARE_N, seed, 'A');
	assert_int_equal(accepted(a), acc_a + hits);
	assert_int_equal(accepted(b), acc_b + SHARE_N - hits);
	off = 4 * ((int)hits - SHARE_N * 3 / 4);
	print_message("weights 3:1, %u workers: A %u, B %u of %d\n", nw, hits,
	    SHARE_N - hits, SHARE_N);
	if (off < -(int)nw || off > 2 * (int)nw)
		fail_msg("A took %u of %d at weights 3:1 (%u workers)", hits,
		    SHARE_N, nw);
}

/* SIGHUP, and wait for the ${n}th "configuration reloaded". */
static void
sighup(struct h_relay *r, unsigned n)
{
	assert_int_equal(kill(r->pid, SIGHUP), 0);
	if (!h_relay_log_wait_n(r, "msg=\"configuration reloaded\"", n,
		H_IO_MS))
		fail_msg("reload %u never finished", n);
}

/*
 * weight 3:1 takes 3 of 4 sessions; weight 0 takes none; and the weight
 * and the state an operator set survive a SIGHUP and a relay46ctl reload
 * (with the file unchanged), in show upstreams and in the traffic.
 */
static void
test_weight(void **state)
{
	struct h_backend	*a = tagged("A"), *b = tagged("B");
	struct h_relay		*r;
	char			 sock[H_PATH], pa[64], pb[64];
	unsigned		 nw, acc_a;

	(void)state;
	snprintf(pa, sizeof(pa), "%s", h_hostport(AF_INET, h_backend_port(a)));
	snprintf(pb, sizeof(pb), "%s", h_hostport(AF_INET, h_backend_port(b)));
	sock_path(sock, sizeof(sock));
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route w]\nlisten = 127.0.0.1:0\nbalance = roundrobin\n"
	    "upstream = %s\nupstream = %s\n",
	    sock, pa, pb);
	nw = workers(sock);
	set_weight(sock, "w", pa, 3, 1);
	set_weight(sock, "w", pb, 1, 1);
	share(r, a, b, nw, 1000);

	/* SIGHUP keeps the weights. */
	sighup(r, 1);
	expect_upstream(sock, "w", pa, "ready", 3, -1);
	expect_upstream(sock, "w", pb, "ready", 1, -1);
	share(r, a, b, nw, 2000);

	/* Weight 0: no new sessions, and a relay46ctl reload keeps it. */
	set_weight(sock, "w", pa, 0, 3);
	acc_a = accepted(a);
	assert_int_equal(many(r, "w", 8, 3000, 'B'), 8);
	ctl_says(sock, "reload", "no change to the routes\n");
	expect_upstream(sock, "w", pa, "ready", 0, -1);
	assert_int_equal(many(r, "w", 8, 3100, 'B'), 8);
	assert_int_equal(accepted(a), acc_a);

	/* A drain survives both kinds of reload too. */
	set_weight(sock, "w", pa, 3, 0);
	set_state(sock, "w", pa, "drain", "ready");
	sighup(r, 3);
	expect_upstream(sock, "w", pa, "drain", 3, 0);
	assert_int_equal(many(r, "w", 8, 4000, 'B'), 8);
	ctl_says(sock, "reload", "no change to the routes\n");
	expect_upstream(sock, "w", pa, "drain", 3, 0);
	assert_int_equal(many(r, "w", 8, 4100, 'B'), 8);
	assert_int_equal(accepted(a), acc_a);

	/* ready again: 3:1 from the reloaded (fresh) balancing state. */
	set_state(sock, "w", pa, "ready", "drain");
	share(r, a, b, nw, 5000);
	h_relay_finish(r);
	h_backend_free(a);
	h_backend_free(b);
}

/* --- kill ----------------------------------------------------------------- */

/* Bytes both ways between a client and its backend, as we hold both. */
static void
exchange(int cfd, int bfd, uint64_t seed)
{
	uint8_t	 out[64], in[64];

	h_pattern(seed, 0, out, sizeof(out));
	H_ASSERT_END(h_send_all(cfd, out, sizeof(out), H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_recv_n(bfd, in, sizeof(in), H_IO_MS, NULL), H_OK, H_OK);
	assert_memory_equal(in, out, sizeof(out));
	H_ASSERT_END(h_send_all(bfd, out, sizeof(out), H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_recv_n(cfd, in, sizeof(in), H_IO_MS, NULL), H_OK, H_OK);
	assert_memory_equal(in, out, sizeof(out));
}

#define KILL_A		3	/* sessions on A */
#define KILL_B		2	/* sessions on B */

/*
 * A session of route k held on the listener ${lfd}, both ends ours: the
 * client in cfd[i], what relay46 connected to us in bfd[i].
 */
static void
hold_on(struct h_relay *r, int lfd, int *cfd, int *bfd)
{
	*cfd = h_relay_connect(r, "k", AF_INET);
	if ((*bfd = h_accept(lfd, H_IO_MS)) == -1)
		fail_msg("relay46 never reached the backend: %s",
		    strerror(errno));
}

/* Both ends of a killed session see a reset; its line says end=killed. */
static void
expect_killed(struct h_relay *r, int cfd, int bfd)
{
	char	 needle[96];

	H_ASSERT_END(h_wait_end(cfd, H_IO_MS, NULL), ECONNRESET, ECONNRESET);
	H_ASSERT_END(h_wait_end(bfd, H_IO_MS, NULL), ECONNRESET, ECONNRESET);
	H_EXPECT_LOG_LINE(r, client_needle(cfd, needle, sizeof(needle)),
	    "end=killed");
}

/*
 * kill session ID resets both ends of that session alone; kill sessions
 * upstream k A ends every session on A and none on B; an id that is not
 * (or no longer) live is refused.
 */
static void
test_kill(void **state)
{
	struct h_relay	*r;
	struct tab	*j = tab_new();
	char		 sock[H_PATH], pa[64], pb[64], cmd[256], cl[64];
	char		 want[128];
	int		 la, lb, porta, portb, cfd[KILL_A + KILL_B];
	int		 bfd[KILL_A + KILL_B], i;
	long long	 id;

	(void)state;
	la = h_listen_socket(AF_INET, &porta);
	lb = h_listen_socket(AF_INET, &portb);
	snprintf(pa, sizeof(pa), "%s", h_hostport(AF_INET, porta));
	snprintf(pb, sizeof(pb), "%s", h_hostport(AF_INET, portb));
	sock_path(sock, sizeof(sock));
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route k]\nlisten = 127.0.0.1:0\nupstream = %s\nupstream = %s\n",
	    sock, pa, pb);
	/* KILL_A sessions on A, then KILL_B on B, the other side drained. */
	set_state(sock, "k", pb, "drain", "ready");
	for (i = 0; i < KILL_A; i++)
		hold_on(r, la, &cfd[i], &bfd[i]);
	set_state(sock, "k", pb, "ready", "drain");
	set_state(sock, "k", pa, "drain", "ready");
	for (i = KILL_A; i < KILL_A + KILL_B; i++)
		hold_on(r, lb, &cfd[i], &bfd[i]);
	set_state(sock, "k", pa, "ready", "drain");
	for (i = 0; i < KILL_A + KILL_B; i++)
		exchange(cfd[i], bfd[i], (uint64_t)i);

	/* kill session ID: the first on A. */
	show_json(sock, "show sessions k", KIND_TABLE, sessions_cols, j);
	assert_int_equal(j->nrow, KILL_A + KILL_B);
	id = tab_n(j,
	    tab_must(j, "client", client_addr(cfd[0], NULL, cl, sizeof(cl))),
	    "id");
	snprintf(cmd, sizeof(cmd), "kill session %lld", id);
	ctl_says(sock, cmd, "1 session killed\n");
	expect_killed(r, cfd[0], bfd[0]);
	snprintf(want, sizeof(want), "no session %lld", id);
	free(ctl_refused(sock, cmd, want));
	free(ctl_refused(sock, "kill session 999999", "no session 999999"));
	for (i = 1; i < KILL_A + KILL_B; i++)
		exchange(cfd[i], bfd[i], 100 + (uint64_t)i);

	/* kill sessions upstream k A: the rest of A's, none of B's. */
	snprintf(cmd, sizeof(cmd), "kill sessions upstream k %s", pa);
	snprintf(want, sizeof(want), "%d sessions killed\n", KILL_A - 1);
	ctl_says(sock, cmd, want);
	for (i = 1; i < KILL_A; i++)
		expect_killed(r, cfd[i], bfd[i]);
	for (i = KILL_A; i < KILL_A + KILL_B; i++)
		exchange(cfd[i], bfd[i], 200 + (uint64_t)i);
	show_json(sock, "show sessions k", KIND_TABLE, sessions_cols, j);
	assert_int_equal(j->nrow, KILL_B);
	assert_int_equal(tab_count(j, "upstream", pb), KILL_B);
	ctl_says(sock, cmd, "0 sessions killed\n");
	free(ctl_refused(sock, "kill sessions upstream k 127.0.0.1:1",
	    "route k has no upstream 127.0.0.1:1"));
	snprintf(cmd, sizeof(cmd), "kill sessions upstream nosuch %s", pa);
	free(ctl_refused(sock, cmd, "no route nosuch"));

	for (i = 0; i < KILL_A + KILL_B; i++) {
		close(cfd[i]);
		close(bfd[i]);
	}
	close(la);
	close(lb);
	h_relay_finish(r);
	free(j);
}

/* --- reload --------------------------------------------------------------- */

/*
 * relay46ctl reload: a bad file is refused with every error as
 * FILE:LINE: message on stderr (exit 1) and the old configuration serves
 * on; a good one says what changed (exit 0); show info tells the outcome.
 */
static void
test_reload(void **state)
{
	struct h_backend	*a = tagged("A");
	struct h_relay		*r;
	struct tab		*p = tab_new(), *j = tab_new();
	char			 sock[H_PATH], pa[64], base[1024], text[2048];
	char			 want[H_PATH + 64], *err, tag;
	const char		*l7, *l8;
	unsigned		 nw;
	int			 fd, xport, hold, hport;

	(void)state;
	snprintf(pa, sizeof(pa), "%s", h_hostport(AF_INET, h_backend_port(a)));
	sock_path(sock, sizeof(sock));
	/* Lines 1 to 6. */
	snprintf(base, sizeof(base),
	    "[global]\nshutdown_timeout = 1s\n"
	    "control = %s\n[route a]\nlisten = 127.0.0.1:0\nupstream = %s\n",
	    sock, pa);
	r = h_relay_start("%s", base);
	nw = workers(sock);
	assert_int_equal(one(r, "a", 1), 'A');

	/* Two errors, lines 7 and 8: both, in order; nothing changes. */
	snprintf(text, sizeof(text), "%sbalance = sideways\nretries = many\n",
	    base);
	h_replace_file(r->conf, text);
	err = ctl_refused(sock, "reload", "");
	snprintf(want, sizeof(want), "relay46ctl: %s:7: ", r->conf);
	l7 = strstr(err, want);
	snprintf(want, sizeof(want), "relay46ctl: %s:8: ", r->conf);
	l8 = strstr(err, want);
	if (l7 == NULL || l8 == NULL || l8 < l7 ||
	    (l7 != err && l7[-1] != '\n'))
		fail_msg("reload's errors, lines 7 and 8 expected:\n%s", err);
	free(err);
	snprintf(want, sizeof(want), "msg=\"reload: %s:7: ", r->conf);
	H_EXPECT_LOG(r, want);
	assert_int_equal(one(r, "a", 2), 'A');
	show(sock, "show info", KIND_KV, info_keys, "last_reload reloads", p,
	    j);
	assert_string_equal(tab_s(j, 0, "last_reload"), "failed");
	assert_int_equal(tab_n(j, 0, "reloads"), 0);
	assert_time(tab_s(j, 0, "last_reload_time"), "last_reload_time");

	/* What only a restart can do is refused too. */
	snprintf(text, sizeof(text), "[global]\nworkers = %u\n%s", nw + 1,
	    base + strlen("[global]\n"));
	h_replace_file(r->conf, text);
	snprintf(want, sizeof(want), "workers changed from %u to %u", nw,
	    nw + 1);
	free(ctl_refused(sock, "reload", want));

	/* A good one: what changed, and the new route serves. */
	snprintf(text, sizeof(text),
	    "%s[route x]\nlisten = 127.0.0.1:0\nupstream = %s\n", base, pa);
	h_replace_file(r->conf, text);
	ctl_says(sock, "reload", "route x added\n");
	show(sock, "show info", KIND_KV, info_keys, "last_reload reloads", p,
	    j);
	assert_string_equal(tab_s(j, 0, "last_reload"), "ok");
	assert_int_equal(tab_n(j, 0, "reloads"), 1);
	assert_time(tab_s(j, 0, "last_reload_time"), "last_reload_time");
	assert_time(tab_s(j, 0, "config_loaded"), "config_loaded");
	show(sock, "show routes", KIND_TABLE, routes_cols, "route listen", p,
	    j);
	assert_int_equal(j->nrow, 2);
	assert_string_equal(tab_s(j, 0, "route"), "a");
	assert_string_equal(tab_s(j, 0, "listen"),
	    h_relay_ready_addr(r, "a", 0)->text);
	assert_string_equal(tab_s(j, 1, "route"), "x");
	/* Bound where the log says, not ":0". */
	xport = h_relay_listening_port(r, "x", 0);
	snprintf(want, sizeof(want), "127.0.0.1:%d", xport);
	assert_string_equal(tab_s(j, 1, "listen"), want);
	fd = h_connect_port(AF_INET, xport, H_IO_MS);
	assert_true(fd != -1);
	H_ASSERT_END(h_recv_n(fd, &tag, 1, H_IO_MS, NULL), H_OK, H_OK);
	assert_int_equal(tag, 'A');
	echo(fd, 3, ECHO_LEN);
	finish(fd);

	/* x goes, a changes; then nothing changes. */
	snprintf(text, sizeof(text), "%sidle_timeout = 30s\n", base);
	h_replace_file(r->conf, text);
	ctl_says(sock, "reload",
	    "route a: settings changed\nroute x removed\n");
	ctl_says(sock, "reload", "no change to the routes\n");
	show_json(sock, "show info", KIND_KV, info_keys, j);
	assert_int_equal(tab_n(j, 0, "reloads"), 3);
	assert_string_equal(tab_s(j, 0, "last_reload"), "ok");
	assert_int_equal(one(r, "a", 4), 'A');

	/* An upstream line's options are changes too. */
	snprintf(text, sizeof(text),
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n[route a]\n"
	    "listen = 127.0.0.1:0\nupstream = %s weight=5\n"
	    "idle_timeout = 30s\nkeepalive = off\n",
	    sock, pa);
	h_replace_file(r->conf, text);
	snprintf(want, sizeof(want),
	    "route a: upstream %s: weight 1 -> 5\n"
	    "route a: settings changed\n",
	    pa);
	ctl_says(sock, "reload", want);

	/*
	 * Refused at bind: the answer lists no change, since none was made,
	 * and the log warns of no restart-only change (the count below).
	 */
	hold = h_listen_socket(AF_INET, &hport);
	snprintf(text, sizeof(text),
	    "[global]\nlog_level = warn\n%s[route busy]\nlisten = %s\n"
	    "upstream = %s\n",
	    base + strlen("[global]\n"), h_hostport(AF_INET, hport), pa);
	h_replace_file(r->conf, text);
	err = ctl_refused(sock, "reload", "Address already in use");
	if (strstr(err, "added") != NULL || strstr(err, "changed") != NULL)
		fail_msg("a refused reload reported changes:\n%s", err);
	free(err);
	close(hold);

	/*
	 * What only a restart changes is compared with what runs: the same
	 * change warns on each reload, and going back to what runs does not.
	 */
	snprintf(text, sizeof(text), "[global]\nlog_level = warn\n%s",
	    base + strlen("[global]\n"));
	h_replace_file(r->conf, text);
	snprintf(want, sizeof(want),
	    "route a: upstream %s: weight 5 -> 1\n"
	    "route a: settings changed\n"
	    "waits for a restart: log or log_level\n",
	    pa);
	ctl_says(sock, "reload", want);
	ctl_says(sock, "reload",
	    "no change to the routes\n"
	    "waits for a restart: log or log_level\n");
	assert_true(
	    h_relay_log_wait_n(r, "a change of log or log_level", 2, H_IO_MS));
	h_replace_file(r->conf, base);
	ctl_says(sock, "reload", "no change to the routes\n");
	assert_int_equal(h_relay_log_count(r, "a change of log or log_level"),
	    2);
	assert_int_equal(one(r, "a", 5), 'A');
	h_relay_finish(r);
	h_backend_free(a);
	free(p);
	free(j);
}

/* --- the accept queue ----------------------------------------------------- */

#define NQ		5	/* clients left in the accept queue */

/* The lowest descriptor number ${pid} does not use: the next it would get. */
static int
lowest_free_fd(pid_t pid)
{
	char		 path[64];
	bool		 used[4096] = { false };
	struct dirent	*de;
	DIR		*d;
	long		 n;
	int		 i;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if ((n = strtol(de->d_name, NULL, 10)) >= 0 && n < 4096 &&
		    de->d_name[0] >= '0' && de->d_name[0] <= '9')
			used[n] = true;
	closedir(d);
	for (i = 0; i < 4096 && used[i]; i++)
		continue;
	return i;
}

/*
 * Connections waiting in the accept queues of the sockets listening on
 * 127.0.0.1:${port} (one per worker), as /proc/net/tcp has them.
 */
static int
proc_queue(int port)
{
	char		 line[512];
	unsigned	 addr, lport, st, tx, rx, i;
	FILE		*f;
	int		 q = 0;

	if ((f = fopen("/proc/net/tcp", "r")) == NULL)
		return -1;
	for (i = 0; i < 100000 && fgets(line, sizeof(line), f) != NULL; i++)
		if (sscanf(line, " %*u: %8X:%4X %*8X:%*4X %2X %8X:%8X", &addr,
			&lport, &st, &tx, &rx) == 5 &&
		    st == 0x0A && (int)lport == port &&
		    addr == htonl(INADDR_LOOPBACK))
			q += (int)rx;
	fclose(f);
	return q;
}

/*
 * show listeners reports an accept queue the test filled.  relay46 is
 * held from accepting by its own limit: RLIMIT_NOFILE, lowered with
 * prlimit(2) to the lowest descriptor number it does not use, so that
 * the worker's accept() fails with EMFILE (and backs off) while the
 * kernel completes the clients' handshakes into the queue.  The control
 * connection is opened first: the control thread could not accept one
 * now, but answers on one it has, with no descriptor of its own.  Then
 * the limit goes back and every waiting client is served.
 */
static void
test_listen_queue(void **state)
{
	struct h_backend	*a = tagged("A");
	struct h_relay		*r;
	struct raw		*c;
	struct answer		*ans;
	struct rlimit		 old, low;
	char			 sock[H_PATH], tag;
	int			 fd[NQ], port, i, q = -1, kq = -1;
	int64_t			 deadline;

	(void)state;
	if ((ans = calloc(1, sizeof(*ans))) == NULL)
		fail_msg("out of memory");
	sock_path(sock, sizeof(sock));
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route q]\nlisten = 127.0.0.1:0\nbacklog = 16\nupstream = %s\n",
	    sock, h_hostport(AF_INET, h_backend_port(a)));
	port = h_relay_ready_port(r, "q", 0);
	c = raw_open(sock);
	raw_ask(c, "show listeners", ans);
	assert_true(ans->ok);
	assert_string_equal(ans->kind, "table");
	assert_int_equal(ans->n, 2);
	assert_int_equal(raw_cell(ans, "q", "queue"), 0);
	assert_int_equal(raw_cell(ans, "q", "queue_limit"), 16);

	if (prlimit(r->pid, RLIMIT_NOFILE, NULL, &old) == -1)
		fail_msg("prlimit: %s", strerror(errno));
	low = old;
	low.rlim_cur = (rlim_t)lowest_free_fd(r->pid);
	if (prlimit(r->pid, RLIMIT_NOFILE, &low, NULL) == -1)
		fail_msg("prlimit: %s", strerror(errno));
	for (i = 0; i < NQ; i++) {
		if ((fd[i] = h_connect_port(AF_INET, port, H_IO_MS)) == -1)
			fail_msg("client %d: %s", i, strerror(errno));
	}
	H_EXPECT_LOG(r, "accept: Too many open files");
	deadline = h_now_ms() + H_IO_MS;
	for (i = 0; i < POLL_MAX && h_left(deadline) > 0; i++) {
		raw_ask(c, "show listeners", ans);
		q = (int)raw_cell(ans, "q", "queue");
		kq = proc_queue(port);
		if (q == NQ && kq == NQ)
			break;
		(void)poll(NULL, 0, 10);
	}
	if (q != NQ || kq != NQ)
		fail_msg("show listeners says %d waiting, the kernel %d; %d "
			 "expected:\n%s",
		    q, kq, NQ, ans->body);

	if (prlimit(r->pid, RLIMIT_NOFILE, &old, NULL) == -1)
		fail_msg("prlimit: %s", strerror(errno));
	for (i = 0; i < NQ; i++) {
		H_ASSERT_END(h_recv_n(fd[i], &tag, 1, H_IO_MS, NULL), H_OK,
		    H_OK);
		assert_int_equal(tag, 'A');
		echo(fd[i], (uint64_t)i, ECHO_LEN);
		finish(fd[i]);
	}
	raw_ask(c, "show listeners", ans);
	assert_int_equal(raw_cell(ans, "q", "queue"), 0);
	raw_close(c);
	h_relay_finish(r);
	h_backend_free(a);
	free(ans);
}

/* --- who may connect ------------------------------------------------------ */

/*
 * In a child that is ${uid}:${gid} with no other group, connect to
 * ${path}: 0, or the errno of the failure.  No cmocka in the child.
 */
static int
connect_as(const char *path, uid_t uid, gid_t gid)
{
	struct sockaddr_un	 sun;
	pid_t			 pid;
	int			 st, fd, i;

	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1)
			_exit(120);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) ==
		    -1)
			_exit(121);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(errno < 100 ? errno : 122);
		_exit(0);
	}
	for (i = 0; i < 2000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		(void)poll(NULL, 0, 5);
	}
	if (i == 2000) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("the child connecting as %d:%d hung", (int)uid,
		    (int)gid);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) >= 120)
		fail_msg("the child connecting as %d:%d: status %d", (int)uid,
		    (int)gid, st);
	return WEXITSTATUS(st);
}

/*
 * The socket is 0660: nobody:nogroup is refused (EACCES), while nobody
 * in the socket's group gets in, which shows that the mode refused the
 * first and not the path.  As root only.
 */
static void
test_socket_perms(void **state)
{
	struct h_relay	*r;
	struct stat	 st;
	const char	*dir;
	char		 sock[H_PATH];

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: cannot become another user\n");
		skip();
	}
	dir = h_tmpdir();
	/* The directory lets anyone through to the socket; its mode decides. */
	assert_int_equal(chmod(dir, 0711), 0);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route p]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n",
	    sock);
	if (lstat(sock, &st) == -1)
		fail_msg("%s: %s", sock, strerror(errno));
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	assert_int_equal(connect_as(sock, 65534, 65534), EACCES);
	assert_int_equal(connect_as(sock, 65534, 0), 0);
	h_relay_finish(r);
}

/* --- the connection's limits ---------------------------------------------- */

/*
 * CTLSOCK_CLIENTS_MAX (16) connections at once, the 17th told so in one
 * line and closed; a line over 4096 bytes answered with a reason, then
 * closed; commands in one write (one of them answered by the workers)
 * answered in order; a client that half-closes still answered; two
 * reloads at once on two connections each answered.
 */
static void
test_limits(void **state)
{
	struct h_relay	*r;
	struct raw	*c[17] = { NULL }, *d;
	struct answer	*ans;
	char		 sock[H_PATH], line[8192], big[5001];
	int		 i, oks = 0, busy = 0;
	int64_t		 deadline;

	(void)state;
	if ((ans = calloc(1, sizeof(*ans))) == NULL)
		fail_msg("out of memory");
	sock_path(sock, sizeof(sock));
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 1s\ncontrol = %s\n"
	    "[route l]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n",
	    sock);

	/* 16 at once, each answered (so each was accepted), then one more. */
	for (i = 0; i < 16; i++) {
		c[i] = raw_open(sock);
		raw_ask(c[i], "help", ans);
		assert_true(ans->ok);
	}
	c[16] = raw_open(sock);
	raw_answer(c[16], ans);
	assert_false(ans->ok);
	assert_int_equal(ans->n, 1);
	assert_string_equal(ans->body, "too many control connections\n");
	H_ASSERT_END(raw_line(c[16], line, sizeof(line), H_IO_MS), H_EOF,
	    H_EOF);
	/*
	 * relay46ctl says so too, as a refusal (exit 1): the line comes
	 * and the connection closes, often before its command is out.
	 */
	for (i = 0; i < 4; i++)
		free(ctl_refused(sock, "show info",
		    "too many control connections"));
	/* One goes: the next is served, once relay46 has seen it go. */
	raw_close(c[0]);
	c[0] = NULL;
	deadline = h_now_ms() + H_IO_MS;
	for (i = 0; i < POLL_MAX && h_left(deadline) > 0; i++) {
		raw_close(c[16]);
		c[16] = raw_open(sock);
		/* Turned away, it may be closed before "help" is out. */
		(void)send(c[16]->fd, "help\n", 5, MSG_NOSIGNAL);
		raw_answer(c[16], ans);
		if (ans->ok)
			break;
		(void)poll(NULL, 0, 5);
	}
	assert_true(ans->ok);
	for (i = 0; i < 17; i++)
		raw_close(c[i]);

	/* 4096 bytes with the LF is a line (an unknown command) ... */
	d = raw_open(sock);
	memset(big, 'x', sizeof(big));
	big[4095] = '\n';
	raw_send(d, big, 4096);
	raw_answer(d, ans);
	assert_false(ans->ok);
	H_ASSERT_CONTAINS(ans->body, "unknown command");
	raw_ask(d, "help", ans);
	assert_true(ans->ok);
	/* ... 5001 is not: the reason, then the end. */
	big[4095] = 'x';
	big[5000] = '\n';
	raw_send(d, big, 5001);
	raw_answer(d, ans);
	assert_false(ans->ok);
	assert_string_equal(ans->body, "line longer than 4096 bytes\n");
	/*
	 * relay46 stops reading at 4096 bytes; a Unix socket closed with
	 * bytes unread tells the peer ECONNRESET, after what it was sent.
	 */
	H_ASSERT_END(raw_line(d, line, sizeof(line), H_IO_MS), H_EOF,
	    ECONNRESET);
	raw_close(d);
	/* 4096 bytes and no LF yet: the same, without waiting for the rest. */
	d = raw_open(sock);
	raw_send(d, big, 4096);
	raw_answer(d, ans);
	assert_string_equal(ans->body, "line longer than 4096 bytes\n");
	H_ASSERT_END(raw_line(d, line, sizeof(line), H_IO_MS), H_EOF,
	    ECONNRESET);
	raw_close(d);

	/* Commands in one write: answers in order, the workers' one too. */
	d = raw_open(sock);
	raw_send(d, "show info\nhelp\n", 15);
	raw_answer(d, ans);
	assert_true(ans->ok);
	assert_string_equal(ans->kind, "kv");
	/* 12 keys, and the host's two listen counters where Linux has them. */
	assert_int_equal(ans->n,
	    access("/proc/net/netstat", R_OK) == 0 ? 14 : 12);
	assert_true(strncmp(ans->body, "version\t", 8) == 0);
	raw_answer(d, ans);
	assert_string_equal(ans->kind, "text");
	assert_int_equal(ans->n, 10);
	raw_send(d, "show sessions\nhelp\nshow listeners\nbogus\nhelp\n", 45);
	raw_answer(d, ans);
	assert_string_equal(ans->kind, "table");
	assert_true(strncmp(ans->body, "id:n\troute\t", 11) == 0);
	raw_answer(d, ans);
	assert_string_equal(ans->kind, "text");
	raw_answer(d, ans);
	assert_string_equal(ans->kind, "table");
	assert_true(strncmp(ans->body, "route\tlisten\t", 13) == 0);
	raw_answer(d, ans);
	assert_false(ans->ok);
	raw_answer(d, ans);
	assert_string_equal(ans->kind, "text");
	raw_close(d);

	/* Half-closed after the command: answered, then closed. */
	d = raw_open(sock);
	raw_send(d, "show info\n", 10);
	assert_int_equal(shutdown(d->fd, SHUT_WR), 0);
	raw_answer(d, ans);
	assert_string_equal(ans->kind, "kv");
	H_ASSERT_END(raw_line(d, line, sizeof(line), H_IO_MS), H_EOF, H_EOF);
	raw_close(d);
	/* The same with a command the workers answer. */
	d = raw_open(sock);
	raw_send(d, "show sessions\n", 14);
	assert_int_equal(shutdown(d->fd, SHUT_WR), 0);
	raw_answer(d, ans);
	assert_string_equal(ans->kind, "table");
	H_ASSERT_END(raw_line(d, line, sizeof(line), H_IO_MS), H_EOF, H_EOF);
	raw_close(d);

	/*
	 * Two reloads at once: relay46 is stopped while both are sent, so
	 * it reads them in one turn of its loop, the second while the first
	 * is under way.  One is done, the other refused, both answered.
	 */
	c[0] = raw_open(sock);
	c[1] = raw_open(sock);
	raw_ask(c[0], "help", ans);
	raw_ask(c[1], "help", ans);
	h_stop_process(r->pid);
	raw_send(c[0], "reload\n", 7);
	raw_send(c[1], "reload\n", 7);
	assert_int_equal(kill(r->pid, SIGCONT), 0);
	for (i = 0; i < 2; i++) {
		raw_answer(c[i], ans);
		if (ans->ok &&
		    strcmp(ans->body, "no change to the routes\n") == 0)
			oks++;
		else if (!ans->ok &&
		    strstr(ans->body, "reload is still under way") != NULL)
			busy++;
		else
			fail_msg("reload %d answered:\n%s", i, ans->body);
	}
	assert_int_equal(oks, 1);
	assert_int_equal(busy, 1);
	raw_close(c[0]);
	raw_close(c[1]);

	/* And relay46ctl, to end with: all is well. */
	free(ctl_ok(sock, false, "show info"));
	h_relay_finish(r);
	free(ans);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_show, h_teardown),
		cmocka_unit_test_teardown(test_upstream_by_name, h_teardown),
		cmocka_unit_test_teardown(test_rtt, h_teardown),
		cmocka_unit_test_teardown(test_backlog_reload, h_teardown),
		cmocka_unit_test_teardown(test_drain_maint, h_teardown),
		cmocka_unit_test_teardown(test_weight, h_teardown),
		cmocka_unit_test_teardown(test_kill, h_teardown),
		cmocka_unit_test_teardown(test_reload, h_teardown),
		cmocka_unit_test_teardown(test_listen_queue, h_teardown),
		cmocka_unit_test_teardown(test_socket_perms, h_teardown),
		cmocka_unit_test_teardown(test_limits, h_teardown),
	};

	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
