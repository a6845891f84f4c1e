/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * Who may come in: allow/deny over IPv4 (clients bound to 127.0.0.x) and
 * IPv6 (::1), IPv4-mapped clients against IPv4 rules, max_per_client
 * over IPv4, ::1 and (through PROXY headers) IPv6 /64s, and who may send
 * a PROXY header at all (proxy_from).  A refused client is closed at
 * once, and its bytes never reach the backend: every test ends by
 * checking that the backend saw exactly the sessions let in.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PAYLOAD		1000
#define REFUSE_MS	1000	/* "at once" */

/* A client of ${route} on ${family}, from ${src} unless NULL. */
static int
client(struct h_relay *r, const char *route, int family, const char *src)
{
	return src == NULL ? h_relay_connect(r, route, family) :
	    h_relay_connect_from(r, route, family, src);
}

/* Send ${hdr} (a PROXY header, or NULL), then check an echo of PAYLOAD. */
static int
served(struct h_relay *r, const char *route, int family, const char *src,
    const char *hdr, uint64_t seed)
{
	int	 fd = client(r, route, family, src), end;

	if (hdr != NULL)
		H_ASSERT_END(h_send_all(fd, hdr, strlen(hdr), H_IO_MS), H_OK,
		    H_OK);
	end = h_echo(fd, seed, PAYLOAD, H_IO_MS);
	if (end != H_OK)
		fail_msg("client %s%s%s on %s was not served: %s",
		    src == NULL ? "(loopback)" : src, hdr != NULL ? " with " : "",
		    hdr != NULL ? hdr : "", route, h_end_str(end));
	return fd;
}

/* As served(), and end the session cleanly. */
static void
served_close(struct h_relay *r, const char *route, int family,
    const char *src, const char *hdr, uint64_t seed)
{
	int	 fd = served(r, route, family, src, hdr, seed);

	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(fd, H_IO_MS, NULL), H_EOF, H_EOF);
	close(fd);
}

/*
 * The client is closed at once without a byte, after sending ${hdr} and
 * some payload (which may fail: the relay may have closed already), and
 * one log line shows its port and end=${why}.
 */
static void
refused(struct h_relay *r, const char *route, int family, const char *src,
    const char *hdr, const char *why)
{
	uint8_t		 req[PAYLOAD];
	char		 c[64], e[64];
	uint64_t	 extra = 0;
	int64_t		 t0 = h_now_ms(), took;
	int		 fd = client(r, route, family, src), end, port;

	port = h_sock_port(fd, false);
	if (hdr != NULL)
		(void)h_send_all(fd, hdr, strlen(hdr), 1000);
	h_pattern(1, 0, req, sizeof(req));
	(void)h_send_all(fd, req, sizeof(req), 1000);
	end = h_wait_end(fd, 3000, &extra);
	took = h_now_ms() - t0;
	close(fd);
	if ((end != H_EOF && end != ECONNRESET) || extra != 0 ||
	    took > REFUSE_MS)
		fail_msg("client %s%s%s on %s: expected to be closed at once, "
		    "got %s after %lld ms with %llu bytes", src == NULL ?
		    "(loopback)" : src, hdr != NULL ? " with " : "",
		    hdr != NULL ? hdr : "", route, h_end_str(end),
		    (long long)took, (unsigned long long)extra);
	snprintf(e, sizeof(e), "end=%s ", why);
	/* With a PROXY header the real peer is shown as via=. */
	if (hdr != NULL)
		snprintf(c, sizeof(c), " via=%s:%d ", src == NULL ?
		    "127.0.0.1" : src, port);
	else if (family == AF_INET6)
		snprintf(c, sizeof(c), "client=[::1]:%d ", port);
	else
		snprintf(c, sizeof(c), "client=%s:%d ", src == NULL ?
		    "127.0.0.1" : src, port);
	H_EXPECT_LOG_LINE(r, c, e);
}

/*
 * The backend saw exactly ${n} sessions and ${echoes} * PAYLOAD bytes
 * (${echoes} 0: one echo per session).
 */
static void
backend_saw(struct h_backend *b, unsigned n, unsigned echoes)
{
	struct h_backend_stats	 st;
	uint64_t		 rx;

	rx = (uint64_t)(echoes == 0 ? n : echoes) * PAYLOAD;
	/* The last session may still be ending on the backend's side. */
	(void)h_backend_wait(b, n, n, rx, H_IO_MS);
	h_backend_stats(b, &st);
	print_message("backend: %u accepted, %llu bytes (expected %u, %llu)\n",
	    st.accepted, (unsigned long long)st.rx, n, (unsigned long long)rx);
	if (st.failed != 0)
		fail_msg("%s", st.error);
	assert_int_equal(st.accepted, n);
	assert_int_equal(st.rx, rx);
}

/* --- max_per_client -------------------------------------------------- */

/*
 * max_per_client = 2: a third session from 127.0.0.2 is refused while
 * 127.0.0.3 still gets in; one ending frees a place, and only one.  Not
 * a row: the held sessions echo again between the steps, and one ends
 * part way.
 */
static void
test_max_per_client_v4(void **state)
{
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	int			 a1, a2, a3, c1;

	(void)state;
	b = h_backend_start(AF_INET, &cfg);
	r = h_relay_start(
	    "[global]\nshutdown_timeout = 2s\n"
	    "[route mpc]\nlisten = %s\nupstream = %s\nmax_per_client = 2\n",
	    h_hostport(AF_INET, 0), h_hostport(AF_INET, h_backend_port(b)));
	a1 = served(r, "mpc", AF_INET, "127.0.0.2", NULL, 1);
	a2 = served(r, "mpc", AF_INET, "127.0.0.2", NULL, 2);
	refused(r, "mpc", AF_INET, "127.0.0.2", NULL, "max_per_client");
	c1 = served(r, "mpc", AF_INET, "127.0.0.3", NULL, 3);
	/* The first two never noticed. */
	H_ASSERT_END(h_echo(a1, 4, PAYLOAD, H_IO_MS), H_OK, H_OK);
	H_ASSERT_END(h_echo(a2, 5, PAYLOAD, H_IO_MS), H_OK, H_OK);

	assert_int_equal(shutdown(a1, SHUT_WR), 0);
	H_ASSERT_END(h_wait_end(a1, H_IO_MS, NULL), H_EOF, H_EOF);
	close(a1);
	H_EXPECT_LOG_LINE(r, "client=127.0.0.2:", "end=done");
	a3 = served(r, "mpc", AF_INET, "127.0.0.2", NULL, 6);
	refused(r, "mpc", AF_INET, "127.0.0.2", NULL, "max_per_client");
	H_ASSERT_END(h_echo(c1, 7, PAYLOAD, H_IO_MS), H_OK, H_OK);
	close(a2);
	close(a3);
	close(c1);
	/* Echoes: a1, a2 and c1 twice each, a3 once. */
	backend_saw(b, 4, 7);
	h_relay_finish(r);
	h_backend_free(b);
}

/* --- proxy_from --------------------------------------------------------- */

/*
 * A peer outside proxy_from, from ${src} (NULL: ::1), sending ${hdr}: it
 * is reset at once, whatever it sends, and its line names the real peer
 * (no via=, nothing was read) with end=proxy_untrusted.
 */
static void
untrusted(struct h_relay *r, const char *route, int family, const char *src,
    const char *hdr)
{
	char		 c[64];
	int64_t		 t0 = h_now_ms(), took;
	int		 fd, end, port = -1;

	if ((fd = h_relay_try_connect(r, route, family, src)) == -1)
		end = errno;	/* reset before the connect was seen */
	else {
		port = h_sock_port(fd, false);
		end = h_send_all(fd, hdr, strlen(hdr), 1000);
		if (end == H_OK)
			end = h_wait_error(fd, 3000);
		close(fd);
	}
	took = h_now_ms() - t0;
	if ((end != ECONNRESET && end != EPIPE) || took > REFUSE_MS)
		fail_msg("peer %s on %s: expected a reset at once, got %s "
		    "after %lld ms", src == NULL ? "::1" : src, route,
		    h_end_str(end), (long long)took);
	if (port == -1)
		return;
	if (family == AF_INET6)
		snprintf(c, sizeof(c), "client=[::1]:%d upstream=- ", port);
	else
		snprintf(c, sizeof(c), "client=%s:%d upstream=- ", src, port);
	H_EXPECT_LOG_LINE(r, c, "end=proxy_untrusted ");
}

/* --- scenarios as rows --------------------------------------------------- */

/*
 * An access scenario: one relay46 with the routes of ${routes} ("{up}"
 * stands for the echo backend), and clients that come one after another,
 * each a step: served (an echo, then a clean end), held (served, kept
 * open until the last step), refused (closed at once, end=${why}) or
 * untrusted (outside proxy_from: reset at once).  Then one log line must
 * hold both ${line} needles (the second may be NULL), ${absent} must not
 * be in the log, and the backend must have seen exactly the sessions let
 * in.  A new such scenario is a new row.
 */
#define MAX_STEPS	12
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

enum step_kind {
	STEP_SERVED = 0,
	STEP_HELD,
	STEP_REFUSED,
	STEP_UNTRUSTED,
};

struct step {
	enum step_kind	 kind;
	const char	*route;		/* NULL: no more steps */
	int		 family;
	const char	*src;		/* NULL: the family's loopback */
	const char	*hdr;		/* a PROXY header sent first, or NULL */
	const char	*why;		/* STEP_REFUSED: the end= */
};

struct access_row {
	const char	*name;
	bool		 ipv6;		/* needs ::1 */
	const char	*routes;
	struct step	 steps[MAX_STEPS];
	const char	*line[2];
	const char	*absent;
};

#define H6	"PROXY TCP6 2001:db8::5 ::1 1000 80\r\n"

static const struct access_row access_rows[] = {
	/*
	 * Route "mixed": allow 127.0.0.0/29, deny 127.0.0.5.  Route
	 * "denyonly": deny 127.0.0.0/30.  Route "narrow": allow 127.0.0.5,
	 * deny 127.0.0.0/8 (deny wins even over a more specific allow).  The
	 * refusals are logged with upstream=-.
	 */
	{ "allow_deny_v4", false,
	    "[route mixed]\nlisten = 127.0.0.1:0\nupstream = {up}\n"
	    "allow = 127.0.0.0/29\ndeny = 127.0.0.5\n"
	    "[route denyonly]\nlisten = 127.0.0.1:0\nupstream = {up}\n"
	    "deny = 127.0.0.0/30\n"
	    "[route narrow]\nlisten = 127.0.0.1:0\nupstream = {up}\n"
	    "allow = 127.0.0.5\ndeny = 127.0.0.0/8\n",
	    {
		{ STEP_SERVED, "mixed", AF_INET, "127.0.0.2", NULL, NULL },
		{ STEP_SERVED, "mixed", AF_INET, NULL, NULL, NULL },
		{ STEP_REFUSED, "mixed", AF_INET, "127.0.0.5", NULL, "denied" },
		{ STEP_REFUSED, "mixed", AF_INET, "127.0.0.9", NULL, "denied" },
		{ STEP_SERVED, "mixed", AF_INET, "127.0.0.7", NULL, NULL },
		{ STEP_REFUSED, "denyonly", AF_INET, "127.0.0.2", NULL,
		    "denied" },
		{ STEP_REFUSED, "denyonly", AF_INET, NULL, NULL, "denied" },
		{ STEP_SERVED, "denyonly", AF_INET, "127.0.0.4", NULL, NULL },
		{ STEP_SERVED, "denyonly", AF_INET, "127.0.0.200", NULL, NULL },
		{ STEP_REFUSED, "narrow", AF_INET, "127.0.0.5", NULL,
		    "denied" },
		{ STEP_REFUSED, "narrow", AF_INET, "127.0.0.6", NULL,
		    "denied" },
	    },
	    { "upstream=- msg=\"session end\" end=denied",
		"client=127.0.0.9:" },
	    NULL },
	/*
	 * ::1 on four routes: allowed by "allow = ::1", refused by "deny =
	 * ::1/128", refused where only IPv4 is allowed, and on a route
	 * listening on both families with "allow = ::1/128", ::1 gets in and
	 * 127.0.0.1 does not.
	 */
	{ "allow_deny_v6", true,
	    "[route allow6]\nlisten = [::1]:0\nupstream = {up}\nallow = ::1\n"
	    "[route deny6]\nlisten = [::1]:0\nupstream = {up}\n"
	    "deny = ::1/128\n"
	    "[route only4]\nlisten = [::1]:0\nupstream = {up}\n"
	    "allow = 127.0.0.0/8\n"
	    "[route both]\nlisten = [::1]:0\nlisten = 127.0.0.1:0\n"
	    "upstream = {up}\nallow = ::1/128\n",
	    {
		{ STEP_SERVED, "allow6", AF_INET6, NULL, NULL, NULL },
		{ STEP_REFUSED, "deny6", AF_INET6, NULL, NULL, "denied" },
		{ STEP_REFUSED, "only4", AF_INET6, NULL, NULL, "denied" },
		{ STEP_SERVED, "both", AF_INET6, NULL, NULL, NULL },
		{ STEP_REFUSED, "both", AF_INET, NULL, NULL, "denied" },
		{ STEP_REFUSED, "both", AF_INET, "127.0.0.3", NULL, "denied" },
	    },
	    { NULL, NULL }, NULL },
	/*
	 * IPv4-mapped IPv6 clients match IPv4 rules.  The only way to be such
	 * a client over loopback is a PROXY header that says so
	 * (accept_proxy): ::ffff:192.0.2.5 is refused by "deny =
	 * 192.0.2.0/24", and ::ffff:10.1.2.3 is let in by "allow =
	 * 10.0.0.0/8".
	 */
	{ "v4_mapped", false,
	    "[route deny4]\nlisten = 127.0.0.1:0\nupstream = {up}\n"
	    "accept_proxy = on\nproxy_from = 127.0.0.0/8\n"
	    "deny = 192.0.2.0/24\n"
	    "[route allow4]\nlisten = 127.0.0.1:0\nupstream = {up}\n"
	    "accept_proxy = on\nproxy_from = 127.0.0.1\nallow = 10.0.0.0/8\n",
	    {
		{ STEP_REFUSED, "deny4", AF_INET, NULL,
		    "PROXY TCP6 ::ffff:192.0.2.5 ::1 1000 80\r\n", "denied" },
		{ STEP_REFUSED, "deny4", AF_INET, NULL,
		    "PROXY TCP4 192.0.2.77 127.0.0.1 1001 80\r\n", "denied" },
		{ STEP_SERVED, "deny4", AF_INET, NULL,
		    "PROXY TCP6 2001:db8::5 ::1 1002 80\r\n", NULL },
		{ STEP_SERVED, "deny4", AF_INET, NULL,
		    "PROXY TCP6 ::ffff:198.51.100.5 ::1 1003 80\r\n", NULL },
		{ STEP_SERVED, "allow4", AF_INET, NULL,
		    "PROXY TCP6 ::ffff:10.1.2.3 ::1 1004 80\r\n", NULL },
		{ STEP_SERVED, "allow4", AF_INET, NULL,
		    "PROXY TCP4 10.200.0.1 127.0.0.1 1005 80\r\n", NULL },
		{ STEP_REFUSED, "allow4", AF_INET, NULL,
		    "PROXY TCP6 2001:db8::1 ::1 1006 80\r\n", "denied" },
		/*
		 * The real peer (127.0.0.1) would be refused here, the header
		 * lets in.
		 */
		{ STEP_REFUSED, "allow4", AF_INET, NULL,
		    "PROXY TCP4 192.0.2.1 127.0.0.1 1007 80\r\n", "denied" },
	    },
	    { "client=192.0.2.5:1000 via=127.0.0.1:", "end=denied" }, NULL },
	/*
	 * IPv6: max_per_client = 1 on ::1 itself, and through PROXY headers
	 * on IPv6 /64s: 2001:db8:1:2::1 and 2001:db8:1:2::ffff share one
	 * place, 2001:db8:1:3::1 has its own.  The real peer (127.0.0.1 for
	 * them all) is not what counts.
	 */
	{ "max_per_client_v6", true,
	    "[route loop6]\nlisten = [::1]:0\nupstream = {up}\n"
	    "max_per_client = 1\n"
	    "[route net64]\nlisten = 127.0.0.1:0\nupstream = {up}\n"
	    "max_per_client = 1\naccept_proxy = on\n"
	    "proxy_from = 127.0.0.0/8\nproxy_from = ::1\n",
	    {
		{ STEP_HELD, "loop6", AF_INET6, NULL, NULL, NULL },
		{ STEP_REFUSED, "loop6", AF_INET6, NULL, NULL,
		    "max_per_client" },
		{ STEP_HELD, "net64", AF_INET, NULL,
		    "PROXY TCP6 2001:db8:1:2::1 2001:db8::80 40000 80\r\n",
		    NULL },
		{ STEP_REFUSED, "net64", AF_INET, NULL,
		    "PROXY TCP6 2001:db8:1:2::ffff 2001:db8::80 40001 80\r\n",
		    "max_per_client" },
		{ STEP_HELD, "net64", AF_INET, NULL,
		    "PROXY TCP6 2001:db8:1:3::1 2001:db8::80 40002 80\r\n",
		    NULL },
		{ STEP_HELD, "net64", AF_INET, NULL,
		    "PROXY TCP4 192.0.2.1 192.0.2.80 40003 80\r\n", NULL },
	    },
	    { "client=[2001:db8:1:2::ffff]:40001 ", "end=max_per_client" },
	    NULL },
	/*
	 * The two cases, with proxy_from naming the relay
	 * (127.0.0.2): from 127.0.0.1 a header claiming 10.1.2.3 no longer
	 * passes "allow = 10.0.0.0/8", and one peer (127.0.0.3) no longer
	 * holds five sessions under max_per_client = 1 by claiming five
	 * addresses.  The relay itself is judged by its headers as before.
	 */
	{ "proxy_from_v4", false,
	    "[route lb]\nlisten = 127.0.0.1:0\nupstream = {up}\n"
	    "accept_proxy = on\nproxy_from = 127.0.0.2\n"
	    "proxy_from = 127.0.1.0/24\nallow = 10.0.0.0/8\n"
	    "max_per_client = 1\n",
	    {
		{ STEP_UNTRUSTED, "lb", AF_INET, "127.0.0.1",
		    "PROXY TCP4 10.1.2.3 127.0.0.1 1000 80\r\n", NULL },
		{ STEP_UNTRUSTED, "lb", AF_INET, "127.0.0.3",
		    "PROXY TCP4 10.9.9.1 127.0.0.1 2000 80\r\n", NULL },
		{ STEP_UNTRUSTED, "lb", AF_INET, "127.0.0.3",
		    "PROXY TCP4 10.9.9.2 127.0.0.1 2001 80\r\n", NULL },
		{ STEP_UNTRUSTED, "lb", AF_INET, "127.0.0.3",
		    "PROXY TCP4 10.9.9.3 127.0.0.1 2002 80\r\n", NULL },
		{ STEP_UNTRUSTED, "lb", AF_INET, "127.0.0.3",
		    "PROXY TCP4 10.9.9.4 127.0.0.1 2003 80\r\n", NULL },
		{ STEP_UNTRUSTED, "lb", AF_INET, "127.0.0.3",
		    "PROXY TCP4 10.9.9.5 127.0.0.1 2004 80\r\n", NULL },
		{ STEP_HELD, "lb", AF_INET, "127.0.0.2",
		    "PROXY TCP4 10.1.2.3 127.0.0.1 3000 80\r\n", NULL },
		{ STEP_REFUSED, "lb", AF_INET, "127.0.0.2",
		    "PROXY TCP4 10.1.2.3 127.0.0.1 3001 80\r\n",
		    "max_per_client" },
		{ STEP_REFUSED, "lb", AF_INET, "127.0.0.2",
		    "PROXY TCP4 192.0.2.1 127.0.0.1 3002 80\r\n", "denied" },
		{ STEP_SERVED, "lb", AF_INET, "127.0.1.9",
		    "PROXY TCP4 10.1.2.4 127.0.0.1 3003 80\r\n", NULL },
	    },
	    { "client=10.1.2.3:3000 via=127.0.0.2:", "end=done" }, NULL },
	/*
	 * IPv6: proxy_from = ::1 lets ::1 send headers; a route whose
	 * proxy_from names only IPv4 resets ::1; "any" lets everyone.
	 */
	{ "proxy_from_v6", true,
	    "[route six]\nlisten = [::1]:0\nupstream = {up}\n"
	    "accept_proxy = on\nproxy_from = ::1\n"
	    "[route four]\nlisten = [::1]:0\nupstream = {up}\n"
	    "accept_proxy = on\nproxy_from = 127.0.0.0/8\n"
	    "[route all]\nlisten = [::1]:0\nupstream = {up}\n"
	    "accept_proxy = on\nproxy_from = any\n",
	    {
		{ STEP_SERVED, "six", AF_INET6, NULL, H6, NULL },
		{ STEP_UNTRUSTED, "four", AF_INET6, NULL, H6, NULL },
		{ STEP_SERVED, "all", AF_INET6, NULL, H6, NULL },
	    },
	    { "client=[2001:db8::5]:1000 via=[::1]:", NULL },
	    "without proxy_from" },
};

/* ${tpl} into ${out}, each "{up}" in it replaced by ${up}. */
static void
expand(char *out, size_t len, const char *tpl, const char *up)
{
	const char	*p = tpl, *q;
	size_t		 n = 0;
	unsigned	 i;
	int		 k;

	for (i = 0; i < 100 && (q = strstr(p, "{up}")) != NULL; i++) {
		k = snprintf(out + n, len - n, "%.*s%s", (int)(q - p), p, up);
		if (k < 0 || (size_t)k >= len - n)
			h_fault("expand: %zu bytes are not enough", len);
		n += (size_t)k;
		p = q + strlen("{up}");
	}
	k = snprintf(out + n, len - n, "%s", p);
	if (k < 0 || (size_t)k >= len - n)
		h_fault("expand: %zu bytes are not enough", len);
}

/* Row ${row}'s clients, in turn; the held ones go to ${held}. */
static void
run_steps(const struct access_row *row, struct h_relay *r, int *held,
    unsigned *nheld, unsigned *nserved, unsigned *nuntrusted)
{
	const struct step	*s;

	for (s = row->steps; s < row->steps + MAX_STEPS && s->route != NULL;
	     s++) {
		switch (s->kind) {
		case STEP_SERVED:
			served_close(r, s->route, s->family, s->src, s->hdr,
			    ++*nserved);
			break;
		case STEP_HELD:
			held[(*nheld)++] = served(r, s->route, s->family,
			    s->src, s->hdr, ++*nserved);
			break;
		case STEP_REFUSED:
			refused(r, s->route, s->family, s->src, s->hdr, s->why);
			break;
		case STEP_UNTRUSTED:
			untrusted(r, s->route, s->family, s->src, s->hdr);
			++*nuntrusted;
			break;
		}
	}
}

static void
run_access(void **state)
{
	const struct access_row	*row = *state;
	struct h_backend_cfg	 cfg = { .mode = H_ECHO };
	struct h_backend	*b;
	struct h_relay		*r;
	char			 routes[2048];
	int			 held[MAX_STEPS];
	unsigned		 nheld = 0, nserved = 0, nuntrusted = 0, i;

	if (row->ipv6)
		h_require_ipv6();
	b = h_backend_start(AF_INET, &cfg);
	expand(routes, sizeof(routes), row->routes,
	    h_hostport(AF_INET, h_backend_port(b)));
	r = h_relay_start("[global]\nshutdown_timeout = 2s\n%s", routes);
	run_steps(row, r, held, &nheld, &nserved, &nuntrusted);
	for (i = 0; i < nheld; i++)
		close(held[i]);
	/* Each untrusted peer has its line, even one reset at connect. */
	if (nuntrusted > 0)
		assert_true(h_relay_log_wait_n(r, "end=proxy_untrusted ",
		    nuntrusted, H_IO_MS));
	if (row->line[0] != NULL)
		H_EXPECT_LOG_LINE(r, row->line[0], row->line[1]);
	if (row->absent != NULL)
		assert_int_equal(h_relay_log_count(r, row->absent), 0);
	backend_saw(b, nserved, 0);
	h_relay_finish(r);
	h_backend_free(b);
}

int
main(void)
{
	const struct CMUnitTest	 funcs[] = {
		cmocka_unit_test_teardown(test_max_per_client_v4, h_teardown),
	};
	struct CMUnitTest	 tests[NELEM(access_rows) + NELEM(funcs)];
	size_t			 i, n = 0;

	/* Each row is a test of its own, named after the row. */
	for (i = 0; i < NELEM(access_rows); i++)
		tests[n++] = (struct CMUnitTest) { access_rows[i].name,
			run_access, NULL, h_teardown, (void *)&access_rows[i] };
	for (i = 0; i < NELEM(funcs); i++)
		tests[n++] = funcs[i];
	h_init();
	return h_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
