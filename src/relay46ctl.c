/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * relay46ctl: the operator's end of relay46's control socket (control =
 * PATH in relay46.ini).  It sends one command line, reads the one answer
 * that ctlcmd.h describes, and prints it for people (aligned columns) or,
 * with -j, as one JSON document for scripts; a refusal ("err N") goes to
 * standard error.  Exit 0: done; 1: relay46 refused; 2: no usable answer.
 *
 * It links nothing but libc, so it runs wherever relay46 can, and trusts
 * nothing it reads: a line is at most RCTL_LINE_MAX bytes, an answer at
 * most RCTL_LINES_MAX lines and RCTL_BYTES_MAX bytes, and everything
 * happens before the -t deadline, so a server that misbehaves costs a
 * bounded wait and bounded memory.  The whole answer is read and checked
 * before anything is printed: a script sees all of it or none.
 */

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlcmd.h"

#define RCTL_DEFAULT_SOCKET	RUNSTATEDIR "/relay46/control.sock"
#define RCTL_DEFAULT_TIMEOUT	"30"		/* s: a reload takes a while */
#define RCTL_TIMEOUT_MAX	86400		/* s */
#define RCTL_LINE_MAX		65536		/* an answer's line, with LF */
#define RCTL_LINES_MAX		1000000		/* the N of "ok N KIND" */
#define RCTL_BYTES_MAX		(256u << 20)	/* all of an answer's lines */

enum rctl_kind {
	RCTL_TABLE = 0,
	RCTL_KV,
	RCTL_TEXT,
	RCTL_ERR,
};

struct rctl_opts {
	const char	*path;
	const char	*timeout;	/* -t as given, for messages */
	int		 timeout_ms;
	bool		 json;
	char		 line[CTL_LINE_MAX];	/* the command, LF included */
	size_t		 linelen;
};

/* The socket, the deadline, and what was read past the last line. */
struct rctl_conn {
	int		 fd;
	const char	*path;
	const char	*timeout;
	int64_t		 deadline;	/* CLOCK_MONOTONIC, ms */
	char		 buf[RCTL_LINE_MAX];
	size_t		 off, len;	/* unread: buf[off .. len) */
};

/*
 * The lines after the status line, as NUL-terminated fields one after
 * the other: a table's header and rows have ncol fields each, a kv line
 * two, a text or err line one (TABs kept).
 */
struct rctl_answer {
	enum rctl_kind	 kind;
	size_t		 n;		/* lines announced */
	size_t		 got;		/* lines stored */
	size_t		 ncol;		/* table: the header's columns */
	char		*body;
	size_t		 len, cap;
};

/* A table's column: its width and whether it holds numbers (":n"). */
struct rctl_col {
	size_t		 width;
	bool		 num;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: relay46ctl [-jVh] [-s PATH] [-t SECONDS] COMMAND ...\n"
	    "  -s, --socket PATH      relay46's control socket, by default\n"
	    "                         %s\n"
	    "  -j, --json             print the answer as JSON\n"
	    "  -t, --timeout SECONDS  give up when no whole answer came by "
	    "then (default %s)\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n"
	    "commands: show info|routes|upstreams|listeners|sessions, set "
	    "upstream, kill,\n"
	    "reload, help; see relay46ctl(8)\n",
	    RCTL_DEFAULT_SOCKET, RCTL_DEFAULT_TIMEOUT);
}

/* A message on stderr, and exit 2: we got no answer we can trust. */
static void __attribute__((noreturn, format(printf, 1, 2)))
rctl_die(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("relay46ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* A usage error: the message, the usage, exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
rctl_usage_die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("relay46ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

static int64_t
rctl_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -t: seconds, a decimal fraction allowed, (0, RCTL_TIMEOUT_MAX]; or -1. */
static int
rctl_parse_timeout(const char *s)
{
	char	*end;
	double	 d;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !(d > 0) || d > RCTL_TIMEOUT_MAX)
		return -1;
	return d * 1000 < 1 ? 1 : (int)(d * 1000 + 0.5);
}

/* The command words, joined by single spaces, plus LF; exits 2 if unfit. */
static void
rctl_join(int n, char **w, struct rctl_opts *o)
{
	size_t	 len = 0, wl;
	int	 i;

	for (i = 0; i < n; i++) {
		wl = strlen(w[i]);
		if (strpbrk(w[i], "\r\n") != NULL)
			rctl_die("a command word holds a line break");
		if (len + (i > 0) + wl + 1 > sizeof(o->line))
			rctl_die("the command is longer than %zu bytes",
			    sizeof(o->line) - 1);
		if (i > 0)
			o->line[len++] = ' ';
		memcpy(o->line + len, w[i], wl);
		len += wl;
	}
	o->line[len++] = '\n';
	o->linelen = len;
}

static void
rctl_opts(int argc, char **argv, struct rctl_opts *o)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	memset(o, 0, sizeof(*o));
	o->path = RCTL_DEFAULT_SOCKET;
	o->timeout = RCTL_DEFAULT_TIMEOUT;
	/* "+": the command's own words may start with '-' ("weight -1"). */
	while ((ch = getopt_long(argc, argv, "+s:jt:Vh", lopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->path = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
			o->timeout = optarg;
			break;
		case 'V':
			printf("relay46ctl %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if ((o->timeout_ms = rctl_parse_timeout(o->timeout)) == -1)
		rctl_usage_die("-t %s: expected seconds, above 0, at most %d",
		    o->timeout, RCTL_TIMEOUT_MAX);
	if (optind == argc)
		rctl_usage_die("no command");
	rctl_join(argc - optind, argv + optind, o);
}

/* Why a connect failed, and what to check; "" when nothing helps. */
static const char *
rctl_connect_hint(int err)
{
	switch (err) {
	case ENOENT:
		return " (is relay46 running, with control = this path?)";
	case ECONNREFUSED:
		return " (is relay46 running?)";
	case EACCES:
		return " (the socket is for its owner and group)";
	default:
		return "";
	}
}

/*
 * A connected socket, non-blocking from then on.  connect() to a Unix
 * socket whose listen queue is full sleeps in the kernel; SO_SNDTIMEO
 * bounds that sleep by the deadline (Linux), which poll() cannot.
 */
static int
rctl_connect(struct rctl_conn *c)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	int64_t			 left = c->deadline - rctl_now_ms();
	int			 fd;

	if (strlen(c->path) >= sizeof(sun.sun_path))
		rctl_die("%s: a Unix socket's path is at most %zu bytes",
		    c->path, sizeof(sun.sun_path) - 1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->path, strlen(c->path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		rctl_die("socket: %s", strerror(errno));
	if (left < 1)
		left = 1;	/* {0, 0} would mean no timeout at all */
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		rctl_die("%s: SO_SNDTIMEO: %s", c->path, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINPROGRESS)
			rctl_die("%s: connect: no room within %s s", c->path,
			    c->timeout);
		rctl_die("%s: connect: %s%s", c->path, strerror(errno),
		    rctl_connect_hint(errno));
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		rctl_die("%s: O_NONBLOCK: %s", c->path, strerror(errno));
	return fd;
}

/* Wait until the socket is ready for ${events}; exits 2 at the deadline. */
static void
rctl_wait(struct rctl_conn *c, short events)
{
	struct pollfd	 pfd = { .fd = c->fd, .events = events };
	int64_t		 left;
	int		 r;

	while ((left = c->deadline - rctl_now_ms()) > 0) {
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return;
		if (r == -1 && errno != EINTR)
			rctl_die("%s: poll: %s", c->path, strerror(errno));
	}
	rctl_die("%s: no whole answer within %s s", c->path, c->timeout);
}

/*
 * Each pass sends a byte or more, or waits, which the deadline bounds.
 * A peer that has closed (EPIPE, ECONNRESET) may have answered first:
 * relay46 refuses a connection over its limit with one line and closes
 * it at once, often before the command is out.  So that is not fatal
 * here: 0, or that errno, which the caller reports if no answer came.
 */
static int
rctl_send(struct rctl_conn *c, const char *line, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len) {
		n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			rctl_wait(c, POLLOUT);
		else if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return errno;
		else
			rctl_die("%s: send: %s", c->path, strerror(errno));
	}
	return 0;
}

/*
 * The next line, its LF (and a CR before it) cut off, NUL-terminated in
 * c->buf until the next call; NULL at end of stream.  Each pass finds a
 * line, reads a byte or more into a bounded buffer, or waits until the
 * deadline.
 */
static char *
rctl_read_line(struct rctl_conn *c, size_t *lenp)
{
	char	*line, *nl;
	ssize_t	 n;

	for (;;) {
		line = c->buf + c->off;
		if ((nl = memchr(line, '\n', c->len - c->off)) != NULL) {
			*lenp = (size_t)(nl - line);
			c->off += *lenp + 1;
			if (*lenp > 0 && line[*lenp - 1] == '\r')
				(*lenp)--;
			line[*lenp] = '\0';
			return line;
		}
		if (c->len - c->off == sizeof(c->buf))
			rctl_die("%s: malformed answer: a line over %d bytes",
			    c->path, RCTL_LINE_MAX - 1);
		memmove(c->buf, line, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n > 0)
			c->len += (size_t)n;
		else if (n == 0)
			return NULL;
		else if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)
			rctl_wait(c, POLLIN);
		else
			rctl_die("%s: read: %s", c->path, strerror(errno));
	}
}

/* "ok N KIND" or "err N" into ${a}: 0, or -1 when it is neither. */
static int
rctl_parse_status(const char *s, struct rctl_answer *a)
{
	static const char *const kinds[] = { "table", "kv", "text" };
	size_t	 i;

	if (strncmp(s, "ok ", 3) == 0)
		s += 3;
	else if (strncmp(s, "err ", 4) == 0) {
		s += 4;
		a->kind = RCTL_ERR;
	} else
		return -1;
	if (*s < '0' || *s > '9')
		return -1;
	for (a->n = 0; *s >= '0' && *s <= '9'; s++)
		if ((a->n = a->n * 10 + (size_t)(*s - '0')) > RCTL_LINES_MAX)
			return -1;
	if (a->kind == RCTL_ERR)
		return *s == '\0' && a->n > 0 ? 0 : -1;
	if (*s++ != ' ')
		return -1;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(s, kinds[i]) == 0) {
			a->kind = (enum rctl_kind)i;
			return 0;
		}
	return -1;
}

/* Room for ${need} more bytes in a->body; -1 past RCTL_BYTES_MAX. */
static int
rctl_answer_grow(struct rctl_answer *a, size_t need)
{
	size_t	 cap = a->cap > 0 ? a->cap : RCTL_LINE_MAX;
	char	*p;

	if (need > RCTL_BYTES_MAX - a->len)
		return -1;
	while (cap - a->len < need)
		cap *= 2;
	if (cap > RCTL_BYTES_MAX)
		cap = RCTL_BYTES_MAX;
	if (cap == a->cap)
		return 0;
	if ((p = realloc(a->body, cap)) == NULL)
		rctl_die("out of memory");
	a->body = p;
	a->cap = cap;
	return 0;
}

/* Check and keep one line of ${a}; -1 with the reason in ${why}. */
static int
rctl_answer_add(struct rctl_answer *a, const char *line, size_t len, char *why,
    size_t whylen)
{
	size_t	 i, fields = 1;
	char	*p;

	if (memchr(line, '\0', len) != NULL) {
		snprintf(why, whylen, "line %zu holds a NUL byte", a->got + 2);
		return -1;
	}
	if (a->kind == RCTL_TABLE || a->kind == RCTL_KV)
		for (i = 0; i < len; i++)
			fields += line[i] == '\t';
	if (a->kind == RCTL_TABLE && a->got == 0)
		a->ncol = fields;
	if ((a->kind == RCTL_TABLE && fields != a->ncol) ||
	    (a->kind == RCTL_KV && fields != 2)) {
		snprintf(why, whylen, "line %zu: %zu field%s, not %zu",
		    a->got + 2, fields, fields == 1 ? "" : "s",
		    a->kind == RCTL_KV ? 2 : a->ncol);
		return -1;
	}
	if (rctl_answer_grow(a, len + 1) == -1) {
		snprintf(why, whylen, "longer than %u bytes", RCTL_BYTES_MAX);
		return -1;
	}
	p = memcpy(a->body + a->len, line, len + 1);
	if (a->kind == RCTL_TABLE || a->kind == RCTL_KV)
		for (i = 0; i < len; i++)
			if (p[i] == '\t')
				p[i] = '\0';
	a->len += len + 1;
	a->got++;
	return 0;
}

/* ${s} for a message: at most 60 bytes, control characters as '?'. */
static const char *
rctl_quote(const char *s, char *buf, size_t buflen)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i < 60 && i + 1 < buflen; i++) {
		buf[i] = s[i];
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			buf[i] = '?';
	}
	buf[i] = '\0';
	return buf;
}

/*
 * Read the status line and the lines it announces; exits 2 if unfit.
 * ${send_err}: why the command could not all be sent (0: it was), the
 * reason given if no answer comes either.
 */
static void
rctl_read_answer(struct rctl_conn *c, struct rctl_answer *a, int send_err)
{
	char	 why[128], q[64];
	char	*line;
	size_t	 len;

	if ((line = rctl_read_line(c, &len)) == NULL && send_err != 0)
		rctl_die("%s: send: %s", c->path, strerror(send_err));
	if (line == NULL)
		rctl_die("%s: the connection closed without an answer",
		    c->path);
	if (memchr(line, '\0', len) != NULL || rctl_parse_status(line, a) == -1)
		rctl_die("%s: malformed answer: status line '%s'", c->path,
		    rctl_quote(line, q, sizeof(q)));
	while (a->got < a->n) {
		if ((line = rctl_read_line(c, &len)) == NULL)
			rctl_die("%s: closed after %zu of %zu lines", c->path,
			    a->got, a->n);
		if (rctl_answer_add(a, line, len, why, sizeof(why)) == -1)
			rctl_die("%s: malformed answer: %s", c->path, why);
	}
}

/* The field after ${p} in an answer's body. */
static const char *
rctl_next(const char *p)
{
	return p + strlen(p) + 1;
}

/* The length of ${name} without its ":n" suffix; *num says if it had one. */
static size_t
rctl_name_len(const char *name, bool *num)
{
	size_t	 len = strlen(name);

	*num = len >= 2 && strcmp(name + len - 2, ":n") == 0;
	return *num ? len - 2 : len;
}

/* Columns on a terminal: a byte that starts a UTF-8 character counts. */
static size_t
rctl_width(const char *s, size_t len)
{
	size_t	 i, w = 0;

	for (i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

/*
 * ${len} bytes of ${s} for people: control characters but TAB as '?', so
 * that no escape sequence from the socket reaches a terminal.
 */
static void
rctl_put(FILE *fp, const char *s, size_t len, bool upper)
{
	size_t	 i;
	int	 ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			ch = '?';
		else if (upper && ch >= 'a' && ch <= 'z')
			ch -= 'a' - 'A';
		putc(ch, fp);
	}
}

static void
rctl_pad(size_t n)
{
	while (n-- > 0)
		putchar(' ');
}

/* Each column's width, its header's and its values'. */
static struct rctl_col *
rctl_table_cols(const struct rctl_answer *a)
{
	struct rctl_col	*cols;
	const char	*p = a->body;
	size_t		 i, j, w;
	bool		 num;

	if ((cols = calloc(a->ncol, sizeof(*cols))) == NULL)
		rctl_die("out of memory");
	for (j = 0; j < a->ncol; j++, p = rctl_next(p)) {
		cols[j].width = rctl_width(p, rctl_name_len(p, &num));
		cols[j].num = num;
	}
	for (i = 1; i < a->n; i++)
		for (j = 0; j < a->ncol; j++, p = rctl_next(p))
			if ((w = rctl_width(p, strlen(p))) > cols[j].width)
				cols[j].width = w;
	return cols;
}

/* One line of a table, ${p} its first field; the field after it. */
static const char *
rctl_table_row(const char *p, const struct rctl_col *cols, size_t ncol,
    bool header)
{
	size_t	 j, len, w;
	bool	 num;

	for (j = 0; j < ncol; j++, p = rctl_next(p)) {
		len = header ? rctl_name_len(p, &num) : strlen(p);
		w = rctl_width(p, len);
		if (j > 0)
			rctl_pad(2);
		if (cols[j].num)
			rctl_pad(cols[j].width - w);
		rctl_put(stdout, p, len, header);
		if (!cols[j].num && j + 1 < ncol)
			rctl_pad(cols[j].width - w);
	}
	putchar('\n');
	return p;
}

/* Aligned columns, the header in upper case, numbers to the right. */
static void
rctl_print_table(const struct rctl_answer *a)
{
	struct rctl_col	*cols;
	const char	*p = a->body;
	size_t		 i;

	if (a->n == 0)
		return;
	cols = rctl_table_cols(a);
	for (i = 0; i < a->n; i++)
		p = rctl_table_row(p, cols, a->ncol, i == 0);
	free(cols);
}

/* "key: value", the values aligned. */
static void
rctl_print_kv(const struct rctl_answer *a)
{
	const char	*p;
	size_t		 i, len, w, width = 0;
	bool		 num;

	for (i = 0, p = a->body; i < a->n; i++, p = rctl_next(rctl_next(p)))
		if ((w = rctl_width(p, rctl_name_len(p, &num))) > width)
			width = w;
	for (i = 0, p = a->body; i < a->n; i++, p = rctl_next(p)) {
		len = rctl_name_len(p, &num);
		rctl_put(stdout, p, len, false);
		putchar(':');
		rctl_pad(width - rctl_width(p, len) + 1);
		p = rctl_next(p);
		rctl_put(stdout, p, strlen(p), false);
		putchar('\n');
	}
}

/* Text lines as they came; err lines on stderr, after our name. */
static void
rctl_print_lines(const struct rctl_answer *a, FILE *fp, const char *prefix)
{
	const char	*p;
	size_t		 i;

	for (i = 0, p = a->body; i < a->n; i++, p = rctl_next(p)) {
		fputs(prefix, fp);
		rctl_put(fp, p, strlen(p), false);
		putc('\n', fp);
	}
}

/*
 * The length of the valid UTF-8 character at ${s} (${left} bytes there):
 * 2 to 4, or 0 for a byte that starts none (an overlong form, a
 * surrogate, past U+10FFFF, cut short).
 */
static size_t
rctl_utf8_len(const unsigned char *s, size_t left)
{
	uint32_t	 cp;
	size_t		 n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A JSON string.  Valid UTF-8 passes through; a byte that is not part of
 * a valid UTF-8 character is written as \u00XX (read as Latin-1), so the
 * output is always valid UTF-8 and no byte is dropped.  Control
 * characters and DEL are escaped, so none reaches a terminal raw.
 */
static void
rctl_json_string(const char *s, size_t len)
{
	static const char	 from[] = "\"\\\n\t\r", to[] = "\"\\ntr";
	const unsigned char	*u = (const unsigned char *)s;
	const char		*e;
	size_t			 i, n;

	putchar('"');
	for (i = 0; i < len; i += n) {
		n = 1;
		if ((e = memchr(from, u[i], sizeof(from) - 1)) != NULL)
			printf("\\%c", to[e - from]);
		else if (u[i] < 0x20 || u[i] == 0x7f)
			printf("\\u%04x", u[i]);
		else if (u[i] < 0x80)
			putchar(u[i]);
		else if ((n = rctl_utf8_len(u + i, len - i)) > 0)
			fwrite(u + i, 1, n, stdout);
		else {
			printf("\\u%04x", u[i]);
			n = 1;
		}
	}
	putchar('"');
}

/* Is ${s} a number as JSON writes one ("-1.5e3", not "01", "+1", "nan")? */
static bool
rctl_json_number(const char *s)
{
#define RCTL_DIGIT(c)	((c) >= '0' && (c) <= '9')
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (RCTL_DIGIT(*s))
		while (RCTL_DIGIT(*s))
			s++;
	else
		return false;
	if (*s == '.') {
		if (!RCTL_DIGIT(s[1]))
			return false;
		for (s++; RCTL_DIGIT(*s); s++)
			continue;
	}
	if (*s == 'e' || *s == 'E') {
		s += s[1] == '+' || s[1] == '-' ? 2 : 1;
		if (!RCTL_DIGIT(*s))
			return false;
		while (RCTL_DIGIT(*s))
			s++;
	}
	return *s == '\0';
#undef RCTL_DIGIT
}

/* "key": value, the key ${name} without ":n"; "-" is null. */
static void
rctl_json_member(const char *name, const char *value)
{
	size_t	 len;
	bool	 num;

	len = rctl_name_len(name, &num);
	rctl_json_string(name, len);
	fputs(": ", stdout);
	if (strcmp(value, "-") == 0)
		fputs("null", stdout);
	else if (num && rctl_json_number(value))
		fputs(value, stdout);
	else
		rctl_json_string(value, strlen(value));
}

/* table: [{column: value, ...}, ...], one row a line. */
static void
rctl_json_table(const struct rctl_answer *a)
{
	const char	*head = a->body, *name, *p;
	size_t		 i, j;

	for (j = 0, p = head; j < a->ncol; j++)
		p = rctl_next(p);
	fputs(a->n > 1 ? "[\n" : "[", stdout);
	for (i = 1; i < a->n; i++) {
		fputs("  {", stdout);
		for (j = 0, name = head; j < a->ncol; j++) {
			if (j > 0)
				fputs(", ", stdout);
			rctl_json_member(name, p);
			name = rctl_next(name);
			p = rctl_next(p);
		}
		fputs(i + 1 < a->n ? "},\n" : "}\n", stdout);
	}
	fputs("]\n", stdout);
}

/* kv: {key: value, ...}, one key a line; text: [line, ...]. */
static void
rctl_json_kv_text(const struct rctl_answer *a)
{
	const char	*p = a->body;
	size_t		 i;
	bool		 kv = a->kind == RCTL_KV;

	fputs(a->n == 0 ? (kv ? "{" : "[") : (kv ? "{\n" : "[\n"), stdout);
	for (i = 0; i < a->n; i++, p = rctl_next(p)) {
		fputs("  ", stdout);
		if (kv) {
			rctl_json_member(p, rctl_next(p));
			p = rctl_next(p);
		} else
			rctl_json_string(p, strlen(p));
		fputs(i + 1 < a->n ? ",\n" : "\n", stdout);
	}
	fputs(kv ? "}\n" : "]\n", stdout);
}

static void
rctl_print(const struct rctl_answer *a, bool json)
{
	if (json && a->kind == RCTL_TABLE)
		rctl_json_table(a);
	else if (json)
		rctl_json_kv_text(a);
	else if (a->kind == RCTL_TABLE)
		rctl_print_table(a);
	else if (a->kind == RCTL_KV)
		rctl_print_kv(a);
	else
		rctl_print_lines(a, stdout, "");
}

int
main(int argc, char **argv)
{
	static struct rctl_conn	 conn;	/* 64 KiB: not on the stack */
	struct rctl_opts	 o;
	struct rctl_answer	 a = { .kind = RCTL_TABLE };
	int			 saved, send_err;

	rctl_opts(argc, argv, &o);
	conn.path = o.path;
	conn.timeout = o.timeout;
	conn.deadline = rctl_now_ms() + o.timeout_ms;
	conn.fd = rctl_connect(&conn);
	send_err = rctl_send(&conn, o.line, o.linelen);
	rctl_read_answer(&conn, &a, send_err);
	close(conn.fd);
	if (a.kind == RCTL_ERR) {
		rctl_print_lines(&a, stderr, "relay46ctl: ");
		free(a.body);
		return 1;
	}
	rctl_print(&a, o.json);
	free(a.body);
	errno = 0;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		saved = errno;
		fprintf(stderr, "relay46ctl: standard output: %s\n",
		    saved != 0 ? strerror(saved) : "write error");
		return 2;
	}
	return 0;
}
