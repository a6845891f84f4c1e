/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctlcmd.c: the parser of the control socket's command lines, shared by
 * relay46 (which obeys them) and relay46ctl (which checks them before it
 * sends them).  The language and the answers are in ctlcmd.h.
 *
 * It reads bytes straight from whoever may connect to the control
 * socket, so it is written for hostile input: it never reads past
 * ${len}, never allocates, bounds every word, lets no byte into a result
 * or an error message that is not printable ASCII, and is fuzzed
 * (tests/fuzz/fuzz_ctlcmd).
 *
 * Pure: it owns nothing, keeps no state, never logs; a reason goes into
 * the caller's ${err}, which the caller sends back as an "err 1" answer.
 * Any thread may call it.
 *
 * Strict, as units.c is: a line is refused rather than read some other
 * way than its writer meant.  Commands are lower case, numbers are plain
 * decimal, a client network with host bits set is an error (as allow =
 * 10.0.0.1/8 is in the config), and every word must be used.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "config.h"
#include "ctlcmd.h"
#include "util.h"

/* A route name the config accepts is one the control socket can name. */
_Static_assert(sizeof(((struct ctlcmd *)0)->route) == CONFIG_NAME_MAX + 1,
    "struct ctlcmd's route must hold any [route NAME]");

/* The most words a command has: show sessions R client C upstream A. */
#define CTL_WORDS	7
/* How much of a word an error message quotes. */
#define CTL_QUOTE_MAX	40

/* One word of the line: not NUL-terminated, never empty. */
struct ctl_word {
	const char	*p;
	size_t		 len;
};

/*
 * The line's words.  One more is kept than any command takes, so that
 * an error can name the first word too many; n counts them all.
 */
struct ctl_line {
	struct ctl_word	 w[CTL_WORDS + 1];
	size_t		 n;
};

/*
 * Each reads the words after a command's own into ${c}: ${n} of them, as
 * many as the command's min..max allow.  -1 with the reason in ${err}.
 */
static int ctl_args_route(struct ctlcmd *, const struct ctl_word *, size_t,
    char *, size_t);
static int ctl_args_sessions(struct ctlcmd *, const struct ctl_word *, size_t,
    char *, size_t);
static int ctl_args_set(struct ctlcmd *, const struct ctl_word *, size_t,
    char *, size_t);
static int ctl_args_id(struct ctlcmd *, const struct ctl_word *, size_t, char *,
    size_t);
static int ctl_args_kill(struct ctlcmd *, const struct ctl_word *, size_t,
    char *, size_t);

/* One command: its one or two words, and what may follow them. */
struct ctl_verb {
	const char	*w1, *w2;	/* w2: NULL for a one-word command */
	enum ctlcmd_kind kind;
	size_t		 min, max;	/* how many words may follow */
	const char	*args;		/* for "missing X" and the usage */
	/* NULL: takes nothing */
	int (*fn)(struct ctlcmd *, const struct ctl_word *, size_t, char *,
	    size_t);
};

static const struct ctl_verb ctl_verbs[] = {
	{ "help", NULL, CTLCMD_HELP, 0, 0, "", NULL },
	{ "show", "info", CTLCMD_SHOW_INFO, 0, 0, "", NULL },
	{ "show", "routes", CTLCMD_SHOW_ROUTES, 0, 0, "", NULL },
	{ "show", "upstreams", CTLCMD_SHOW_UPSTREAMS, 0, 1, "[ROUTE]",
	    ctl_args_route },
	{ "show", "listeners", CTLCMD_SHOW_LISTENERS, 0, 0, "", NULL },
	{ "show", "sessions", CTLCMD_SHOW_SESSIONS, 0, 5,
	    "[ROUTE] [client CIDR] [upstream ADDR]", ctl_args_sessions },
	/* ctl_args_set() makes it CTLCMD_SET_WEIGHT when it is one. */
	{ "set", "upstream", CTLCMD_SET_STATE, 4, 4,
	    "ROUTE ADDR state|weight ready|drain|maint|N", ctl_args_set },
	{ "kill", "session", CTLCMD_KILL_SESSION, 1, 1, "ID", ctl_args_id },
	{ "kill", "sessions", CTLCMD_KILL_UPSTREAM, 3, 3, "upstream ROUTE ADDR",
	    ctl_args_kill },
	{ "reload", NULL, CTLCMD_RELOAD, 0, 0, "", NULL },
};

static const char *const ctl_admin_names[] = {
	[CTL_ADMIN_READY] = "ready",
	[CTL_ADMIN_DRAIN] = "drain",
	[CTL_ADMIN_MAINT] = "maint",
};

static bool
ctl_word_is(const struct ctl_word *w, const char *s)
{
	return w->len == strlen(s) && memcmp(w->p, s, w->len) == 0;
}

/*
 * ${w} in double quotes for an error message, cut to CTL_QUOTE_MAX
 * bytes so that a 4 KB word cannot crowd out the reason.  The line was
 * checked to be printable first, so this never puts a newline (or any
 * control byte) into an answer line.
 */
static const char *
ctl_quote(const struct ctl_word *w, char *buf, size_t len)
{
	if (w->len > CTL_QUOTE_MAX)
		snprintf(buf, len, "\"%.*s...\"", CTL_QUOTE_MAX, w->p);
	else
		snprintf(buf, len, "\"%.*s\"", (int)w->len, w->p);
	return buf;
}

/*
 * Refuse a line that is too long or holds a byte that is not printable
 * ASCII, space or tab, after dropping one trailing CR (telnet and
 * Windows clients send CR LF) from *${len}.  Checked before anything is
 * split or quoted: a NUL would cut a word short in whatever reads it as
 * a C string later, and an ESC or a newline must not reach a log or an
 * answer line.
 */
static int
ctl_check(const char *line, size_t *len, char *err, size_t errlen)
{
	unsigned char	 ch;
	size_t		 i;

	if (*len > CTL_LINE_MAX - 1) {
		err_set(err, errlen, "command too long (%zu bytes; at most %d)",
		    *len, CTL_LINE_MAX - 1);
		return -1;
	}
	if (*len > 0 && line[*len - 1] == '\r')
		(*len)--;
	for (i = 0; i < *len; i++) {
		ch = (unsigned char)line[i];
		if (ch == '\0') {
			err_set(err, errlen, "NUL byte at column %zu", i + 1);
			return -1;
		}
		if (ch != '\t' && (ch < 0x20 || ch > 0x7e)) {
			err_set(err, errlen,
			    "byte 0x%02x at column %zu is not printable ASCII",
			    ch, i + 1);
			return -1;
		}
	}
	return 0;
}

/* Split a checked line into words at runs of spaces and tabs. */
static void
ctl_split(const char *line, size_t len, struct ctl_line *l)
{
	size_t	 i = 0, start;

	l->n = 0;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (l->n < NELEM(l->w)) {
			l->w[l->n].p = line + start;
			l->w[l->n].len = i - start;
		}
		l->n++;
	}
}

/*
 * The command that ${l}'s first words name, or NULL with the reason.
 * Only the words the table lists are commands: "Help" and "show" alone
 * are errors, not guesses.
 */
static const struct ctl_verb *
ctl_verb_find(const struct ctl_line *l, char *err, size_t errlen)
{
	const struct ctl_verb	*v;
	char			 q[CTL_QUOTE_MAX + 8];
	bool			 known = false;
	size_t			 i;

	for (i = 0; i < NELEM(ctl_verbs); i++) {
		v = &ctl_verbs[i];
		if (!ctl_word_is(&l->w[0], v->w1))
			continue;
		known = true;
		if (v->w2 == NULL || (l->n > 1 && ctl_word_is(&l->w[1], v->w2)))
			return v;
	}
	if (!known)
		err_set(err, errlen, "unknown command %s; try \"help\"",
		    ctl_quote(&l->w[0], q, sizeof(q)));
	else if (l->n == 1)
		err_set(err, errlen, "%s needs another word; try \"help\"",
		    ctl_quote(&l->w[0], q, sizeof(q)));
	else {
		/* One pair of quotes; the first word is a verb's, so short. */
		err_set(err, errlen, "unknown command \"%.*s %s; try \"help\"",
		    (int)l->w[0].len, l->w[0].p,
		    ctl_quote(&l->w[1], q, sizeof(q)) + 1);
	}
	return NULL;
}

/*
 * "missing ROUTE" for a command ${have} words short of its arguments:
 * the word of ${v}->args that is due, then the whole usage.
 */
static void
ctl_missing(const struct ctl_verb *v, size_t have, char *err, size_t errlen)
{
	const char	*p = v->args;
	size_t		 i, n;

	for (i = 0; i < have; i++) {
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	n = strcspn(p, " ");
	err_set(err, errlen, "missing %.*s: usage: %s%s%s %s", (int)n, p, v->w1,
	    v->w2 != NULL ? " " : "", v->w2 != NULL ? v->w2 : "", v->args);
}

/* Keep ${w} as the route: as long as a [route NAME] may be. */
static int
ctl_route(struct ctlcmd *c, const struct ctl_word *w, char *err, size_t errlen)
{
	char	 q[CTL_QUOTE_MAX + 8];

	if (w->len > sizeof(c->route) - 1) {
		err_set(err, errlen, "route %s is too long (at most %zu bytes)",
		    ctl_quote(w, q, sizeof(q)), sizeof(c->route) - 1);
		return -1;
	}
	memcpy(c->route, w->p, w->len);
	c->route[w->len] = '\0';
	return 0;
}

/*
 * Keep ${w} as the upstream.  Only its length is checked: an address
 * or a host name line is matched against the config by relay46.
 */
static int
ctl_upstream(struct ctlcmd *c, const struct ctl_word *w, char *err,
    size_t errlen)
{
	char	 q[CTL_QUOTE_MAX + 8];

	if (w->len > CTL_WORD_MAX) {
		err_set(err, errlen,
		    "upstream %s is too long (at most %d bytes)",
		    ctl_quote(w, q, sizeof(q)), CTL_WORD_MAX);
		return -1;
	}
	memcpy(c->upstream, w->p, w->len);
	c->upstream[w->len] = '\0';
	return 0;
}

/*
 * Read ${w} as a client network with acl_rule_parse(), so that it means
 * just what the same text means in allow = or deny = (host bits refused,
 * ::ffff:10.0.0.0/104 read as 10.0.0.0/8).
 */
static int
ctl_client(struct ctlcmd *c, const struct ctl_word *w, char *err, size_t errlen)
{
	struct acl_rule	 r;
	char		 s[CTL_WORD_MAX + 1], why[CTL_WORD_MAX + 128];
	char		 q[CTL_QUOTE_MAX + 8];

	if (w->len > CTL_WORD_MAX) {
		err_set(err, errlen, "client %s is too long (at most %d bytes)",
		    ctl_quote(w, q, sizeof(q)), CTL_WORD_MAX);
		return -1;
	}
	memcpy(s, w->p, w->len);
	s[w->len] = '\0';
	if (acl_rule_parse(s, &r, why, sizeof(why)) == -1) {
		err_set(err, errlen, "client %s", why);
		return -1;
	}
	memset(&c->client, 0, sizeof(c->client));
	if (r.family == AF_INET) {
		c->client.ss.sin.sin_family = AF_INET;
		memcpy(&c->client.ss.sin.sin_addr, r.addr, 4);
		c->client.len = sizeof(c->client.ss.sin);
	} else {
		c->client.ss.sin6.sin6_family = AF_INET6;
		memcpy(&c->client.ss.sin6.sin6_addr, r.addr, 16);
		c->client.len = sizeof(c->client.ss.sin6);
	}
	c->client_bits = r.prefix;
	c->has_client = true;
	return 0;
}

/*
 * Read ${w} as a decimal number of 0..${max}: digits only (no sign, no
 * blank, no hex) and no leading zero, so that "010" is not taken for
 * ten by us and for eight by a reader of the command.  Checked before
 * each digit is added, so it never wraps.
 */
static int
ctl_number(const struct ctl_word *w, const char *what, uint64_t max,
    uint64_t *v, char *err, size_t errlen)
{
	char		 q[CTL_QUOTE_MAX + 8];
	uint64_t	 n = 0, d;
	size_t		 i;

	for (i = 0; i < w->len; i++) {
		if (w->p[i] < '0' || w->p[i] > '9') {
			err_set(err, errlen, "%s %s is not a decimal number",
			    what, ctl_quote(w, q, sizeof(q)));
			return -1;
		}
	}
	if (w->len > 1 && w->p[0] == '0') {
		err_set(err, errlen, "%s %s has a leading zero", what,
		    ctl_quote(w, q, sizeof(q)));
		return -1;
	}
	for (i = 0; i < w->len; i++) {
		d = (uint64_t)(w->p[i] - '0');
		if (n > max / 10 || d > max - n * 10) {
			err_set(err, errlen,
			    "%s %s is out of range (0 to %llu)", what,
			    ctl_quote(w, q, sizeof(q)),
			    (unsigned long long)max);
			return -1;
		}
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

/* show upstreams [ROUTE] */
static int
ctl_args_route(struct ctlcmd *c, const struct ctl_word *a, size_t n, char *err,
    size_t errlen)
{
	return n == 0 ? 0 : ctl_route(c, &a[0], err, errlen);
}

/*
 * One filter of show sessions, the two words at ${kv}: "client CIDR" or
 * "upstream ADDR", each at most once (an ADDR given is never empty).
 */
static int
ctl_filter(struct ctlcmd *c, const struct ctl_word *kv, char *err,
    size_t errlen)
{
	char	 q[CTL_QUOTE_MAX + 8];

	if (ctl_word_is(&kv[0], "client") && !c->has_client)
		return ctl_client(c, &kv[1], err, errlen);
	if (ctl_word_is(&kv[0], "upstream") && c->upstream[0] == '\0')
		return ctl_upstream(c, &kv[1], err, errlen);
	if (ctl_word_is(&kv[0], "client") || ctl_word_is(&kv[0], "upstream"))
		err_set(err, errlen, "%s given twice",
		    ctl_quote(&kv[0], q, sizeof(q)));
	else
		err_set(err, errlen,
		    "%s is not \"client\" or \"upstream\" (ROUTE comes first; "
		    "each filter takes one value)",
		    ctl_quote(&kv[0], q, sizeof(q)));
	return -1;
}

/*
 * show sessions [ROUTE] [client CIDR] [upstream ADDR]: filters come in
 * pairs, so an odd word out can only be the route, and it comes first.
 * A route named "client" is therefore "show sessions client", and never
 * mistaken for a filter that lost its value.
 */
static int
ctl_args_sessions(struct ctlcmd *c, const struct ctl_word *a, size_t n,
    char *err, size_t errlen)
{
	size_t	 i = 0;

	if (n % 2 == 1 && ctl_route(c, &a[i++], err, errlen) == -1)
		return -1;
	for (; i + 1 < n; i += 2)
		if (ctl_filter(c, &a[i], err, errlen) == -1)
			return -1;
	return 0;
}

/* state ready|drain|maint, by ctl_admin_name()'s names */
static int
ctl_state(struct ctlcmd *c, const struct ctl_word *w, char *err, size_t errlen)
{
	char	 q[CTL_QUOTE_MAX + 8];
	size_t	 i;

	for (i = 0; i < NELEM(ctl_admin_names); i++) {
		if (ctl_word_is(w, ctl_admin_names[i])) {
			c->state = (enum ctl_admin)i;
			return 0;
		}
	}
	err_set(err, errlen, "state %s is not ready, drain or maint",
	    ctl_quote(w, q, sizeof(q)));
	return -1;
}

/* set upstream ROUTE ADDR state ready|drain|maint, or weight N */
static int
ctl_args_set(struct ctlcmd *c, const struct ctl_word *a, size_t n, char *err,
    size_t errlen)
{
	char		 q[CTL_QUOTE_MAX + 8];
	uint64_t	 w;

	(void)n;
	if (ctl_route(c, &a[0], err, errlen) == -1 ||
	    ctl_upstream(c, &a[1], err, errlen) == -1)
		return -1;
	if (ctl_word_is(&a[2], "state"))
		return ctl_state(c, &a[3], err, errlen);
	if (!ctl_word_is(&a[2], "weight")) {
		err_set(err, errlen, "%s is not \"state\" or \"weight\"",
		    ctl_quote(&a[2], q, sizeof(q)));
		return -1;
	}
	if (ctl_number(&a[3], "weight", CTL_WEIGHT_MAX, &w, err, errlen) == -1)
		return -1;
	c->kind = CTLCMD_SET_WEIGHT;
	c->weight = (unsigned)w;
	return 0;
}

/* kill session ID */
static int
ctl_args_id(struct ctlcmd *c, const struct ctl_word *a, size_t n, char *err,
    size_t errlen)
{
	(void)n;
	return ctl_number(&a[0], "session ID", UINT64_MAX, &c->id, err, errlen);
}

/* kill sessions upstream ROUTE ADDR */
static int
ctl_args_kill(struct ctlcmd *c, const struct ctl_word *a, size_t n, char *err,
    size_t errlen)
{
	char	 q[CTL_QUOTE_MAX + 8];

	(void)n;
	if (!ctl_word_is(&a[0], "upstream")) {
		err_set(err, errlen,
		    "%s is not \"upstream\": usage: kill sessions upstream "
		    "ROUTE ADDR",
		    ctl_quote(&a[0], q, sizeof(q)));
		return -1;
	}
	if (ctl_route(c, &a[1], err, errlen) == -1)
		return -1;
	return ctl_upstream(c, &a[2], err, errlen);
}

int
ctlcmd_parse(const char *line, size_t len, struct ctlcmd *cmd, char *err,
    size_t errlen)
{
	const struct ctl_verb	*v;
	struct ctl_line		 l;
	struct ctlcmd		 c;
	char			 q[CTL_QUOTE_MAX + 8];
	size_t			 first, n;

	if (line == NULL)
		len = 0;
	if (ctl_check(line, &len, err, errlen) == -1)
		return -1;
	ctl_split(line, len, &l);
	if (l.n == 0) {
		err_set(err, errlen, "empty command");
		return -1;
	}
	if ((v = ctl_verb_find(&l, err, errlen)) == NULL)
		return -1;
	first = v->w2 == NULL ? 1 : 2;
	n = l.n - first;
	if (n < v->min) {
		ctl_missing(v, n, err, errlen);
		return -1;
	}
	/* first + max <= CTL_WORDS: that word was kept. */
	if (n > v->max) {
		err_set(err, errlen, "extra word %s: usage: %s%s%s%s%s",
		    ctl_quote(&l.w[first + v->max], q, sizeof(q)), v->w1,
		    v->w2 != NULL ? " " : "", v->w2 != NULL ? v->w2 : "",
		    v->args[0] != '\0' ? " " : "", v->args);
		return -1;
	}
	/* Built aside and copied whole: a caller never sees half a command. */
	memset(&c, 0, sizeof(c));
	c.kind = v->kind;
	if (v->fn != NULL && v->fn(&c, &l.w[first], n, err, errlen) == -1)
		return -1;
	*cmd = c;
	return 0;
}

bool
ctlcmd_changes(const struct ctlcmd *cmd)
{
	switch (cmd->kind) {
	case CTLCMD_SET_STATE:
	case CTLCMD_SET_WEIGHT:
	case CTLCMD_KILL_SESSION:
	case CTLCMD_KILL_UPSTREAM:
	case CTLCMD_RELOAD:
		return true;
	case CTLCMD_HELP:
	case CTLCMD_SHOW_INFO:
	case CTLCMD_SHOW_ROUTES:
	case CTLCMD_SHOW_UPSTREAMS:
	case CTLCMD_SHOW_LISTENERS:
	case CTLCMD_SHOW_SESSIONS:
		break;
	}
	return false;
}

const char *
ctl_admin_name(enum ctl_admin s)
{
	if ((unsigned)s >= NELEM(ctl_admin_names))
		return "?";
	return ctl_admin_names[s];
}

void
ctlcmd_client_rule(const struct ctlcmd *cmd, struct acl_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->family = cmd->client.ss.ss_family;
	if (r->family == AF_INET)
		memcpy(r->addr, &cmd->client.ss.sin.sin_addr, 4);
	else if (r->family == AF_INET6)
		memcpy(r->addr, &cmd->client.ss.sin6.sin6_addr, 16);
	r->prefix = cmd->client_bits;
}
