/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the control socket's command parser: it never
 * reads past the line, a refusal always says why in one printable line
 * and leaves the caller's struct alone, what it accepts is within
 * ctlcmd.h's bounds, and a command written back out in its plainest
 * form parses to the same command.  The input is parsed whole, then
 * line by line as the control socket would split it.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "ctlcmd.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse data[0..len) from a copy of exactly that size, for ASan. */
static int
parse_copy(const uint8_t *data, size_t len, struct ctlcmd *c, char *err,
    size_t errlen)
{
	char	*copy;
	int	 rc;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(copy, data, len);
	memset(c, 0xa5, sizeof(*c));
	memset(err, 'X', errlen);
	rc = ctlcmd_parse(copy, len, c, err, errlen);
	free(copy);
	return rc;
}

/*
 * ${s}, in a buffer of ${size}, is terminated, at most ${max} long, and
 * a word: printable ASCII with no blank.
 */
static void
check_word(const char *s, size_t size, size_t max, bool empty_ok)
{
	size_t	 i, n;

	if (memchr(s, '\0', size) == NULL || (n = strlen(s)) > max ||
	    (n == 0 && !empty_ok))
		abort();
	for (i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] > 0x7e)
			abort();
}

/* A client network of either family, its prefix within its length. */
static bool
client_ok(const struct ctlcmd *c)
{
	if (c->client.ss.ss_family == AF_INET)
		return c->client_bits <= 32 &&
		    c->client.len == sizeof(c->client.ss.sin);
	return c->client.ss.ss_family == AF_INET6 && c->client_bits <= 128 &&
	    c->client.len == sizeof(c->client.ss.sin6);
}

static void
check_fields(const struct ctlcmd *c)
{
	bool	 both = c->kind == CTLCMD_SET_STATE ||
	    c->kind == CTLCMD_SET_WEIGHT || c->kind == CTLCMD_KILL_UPSTREAM;

	if ((unsigned)c->kind > CTLCMD_RELOAD ||
	    (unsigned)c->state > CTL_ADMIN_MAINT || c->weight > CTL_WEIGHT_MAX)
		abort();
	check_word(c->route, sizeof(c->route), 64, !both);
	check_word(c->upstream, sizeof(c->upstream), CTL_WORD_MAX, !both);
	if (!c->has_client && (c->client_bits != 0 || c->client.len != 0))
		abort();
	if (c->has_client && !client_ok(c))
		abort();
}

/* "10.0.0.0/8": ${c}'s client network as allow = would write it. */
static const char *
client_str(const struct ctlcmd *c, char *buf, size_t len)
{
	struct acl_rule	 r;

	ctlcmd_client_rule(c, &r);
	return acl_format(&r, buf, len);
}

/* ${c} in its plainest form: single spaces, every optional word in order. */
static int
format(const struct ctlcmd *c, char *buf, size_t len)
{
	char		 cidr[128];
	const char	*sp = c->route[0] != '\0' ? " " : "";

	switch (c->kind) {
	case CTLCMD_HELP:
		return snprintf(buf, len, "help");
	case CTLCMD_SHOW_INFO:
		return snprintf(buf, len, "show info");
	case CTLCMD_SHOW_ROUTES:
		return snprintf(buf, len, "show routes");
	case CTLCMD_SHOW_UPSTREAMS:
		return snprintf(buf, len, "show upstreams%s%s", sp, c->route);
	case CTLCMD_SHOW_LISTENERS:
		return snprintf(buf, len, "show listeners");
	case CTLCMD_SHOW_SESSIONS:
		return snprintf(buf, len, "show sessions%s%s%s%s%s%s", sp,
		    c->route, c->has_client ? " client " : "",
		    c->has_client ? client_str(c, cidr, sizeof(cidr)) : "",
		    c->upstream[0] != '\0' ? " upstream " : "", c->upstream);
	case CTLCMD_SET_STATE:
		return snprintf(buf, len, "set upstream %s %s state %s",
		    c->route, c->upstream, ctl_admin_name(c->state));
	case CTLCMD_SET_WEIGHT:
		return snprintf(buf, len, "set upstream %s %s weight %u",
		    c->route, c->upstream, c->weight);
	case CTLCMD_KILL_SESSION:
		return snprintf(buf, len, "kill session %llu",
		    (unsigned long long)c->id);
	case CTLCMD_KILL_UPSTREAM:
		return snprintf(buf, len, "kill sessions upstream %s %s",
		    c->route, c->upstream);
	case CTLCMD_RELOAD:
		return snprintf(buf, len, "reload");
	}
	abort();
}

static bool
same(const struct ctlcmd *a, const struct ctlcmd *b)
{
	return a->kind == b->kind && strcmp(a->route, b->route) == 0 &&
	    strcmp(a->upstream, b->upstream) == 0 &&
	    a->has_client == b->has_client &&
	    memcmp(&a->client, &b->client, sizeof(a->client)) == 0 &&
	    a->client_bits == b->client_bits && a->state == b->state &&
	    a->weight == b->weight && a->id == b->id;
}

static void
check_line(const uint8_t *data, size_t size)
{
	struct ctlcmd	 c, back, before;
	char		 err[512], line[CTL_LINE_MAX];
	size_t		 i;
	int		 n, rc;

	if (parse_copy(data, size, &c, err, sizeof(err)) == -1) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
		for (i = 0; err[i] != '\0'; i++)
			if (err[i] < 0x20 || err[i] > 0x7e)
				abort();
		memset(&before, 0xa5, sizeof(before));
		if (memcmp(&c, &before, sizeof(c)) != 0)
			abort();
		return;
	}
	check_fields(&c);
	(void)ctlcmd_changes(&c);
	n = format(&c, line, sizeof(line));
	if (n <= 0 || (size_t)n >= sizeof(line))
		abort();
	rc = parse_copy((const uint8_t *)line, (size_t)n, &back, err,
	    sizeof(err));
	if (rc != 0 || !same(&c, &back))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nl;
	size_t		 at, n;

	/* Past CTL_LINE_MAX only the length is looked at: one run is enough. */
	if (size > 2 * CTL_LINE_MAX)
		return 0;
	check_line(data, size);
	for (at = 0; at < size; at += n + 1) {
		nl = memchr(data + at, '\n', size - at);
		n = nl != NULL ? (size_t)(nl - (data + at)) : size - at;
		check_line(data + at, n);
	}
	return 0;
}
