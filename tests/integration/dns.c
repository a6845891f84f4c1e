/* SPDX-License-Identifier: BSD-2-Clause */
#include "autoconf.h"

/*
 * A name server for the tests (dns.h): UDP on 127.0.0.1, one thread,
 * answers A and AAAA questions from a small table.  Just enough of RFC
 * 1035 for evdns as a client: one question, answers by compression pointer
 * to it, nothing in the other sections.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dns.h"
#include "harness.h"

#define DNS_MAX_ADDRS	8
#define DNS_NAME_MAX	256
#define DNS_PKT_MAX	512
#define DNS_POLL_MS	50
#define DNS_TYPE_A	1
#define DNS_TYPE_AAAA	28

struct h_dns {
	int		 fd;
	int		 port;
	pthread_t	 th;
	atomic_bool	 stop;
	atomic_bool	 silent;
	atomic_uint	 queries;
	pthread_mutex_t	 mu;		/* guards the answer below */
	char		 name[DNS_NAME_MAX];
	struct in_addr	 v4[DNS_MAX_ADDRS];
	struct in6_addr	 v6[DNS_MAX_ADDRS];
	size_t		 n4, n6;
	char		 conf[H_PATH + 32];
};

/*
 * The question's name as dotted lower-case text into ${out}; the offset
 * just past its QTYPE and QCLASS into *${end}.  -1 if malformed.
 */
static int
dns_question(const uint8_t *p, size_t len, char *out, size_t outlen,
    size_t *end, unsigned *qtype)
{
	size_t	 off = 12, o = 0, l, i;

	while (off < len && p[off] != 0) {
		l = p[off++];
		if (l > 63 || off + l > len || o + l + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < l; i++) {
			char	 c = (char)p[off + i];

			out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') :
			    c;
		}
		off += l;
	}
	if (off + 5 > len)
		return -1;
	out[o] = '\0';
	*qtype = (unsigned)p[off + 1] << 8 | p[off + 2];
	*end = off + 5;
	return 0;
}

static void
dns_put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
dns_answer(struct h_dns *d, const uint8_t *q, size_t qlen,
    const struct sockaddr_in *from)
{
	uint8_t		 r[DNS_PKT_MAX];
	char		 name[DNS_NAME_MAX];
	size_t		 qend, off, i, n = 0, alen = 0;
	unsigned	 qtype;
	bool		 known;
	const void	*a[DNS_MAX_ADDRS];

	if (qlen < 12 || dns_question(q, qlen, name, sizeof(name), &qend,
	    &qtype) == -1)
		return;
	pthread_mutex_lock(&d->mu);
	known = strcasecmp(name, d->name) == 0;
	if (known && qtype == DNS_TYPE_A) {
		for (i = 0; i < d->n4; i++)
			a[n++] = &d->v4[i];
		alen = 4;
	} else if (known && qtype == DNS_TYPE_AAAA) {
		for (i = 0; i < d->n6; i++)
			a[n++] = &d->v6[i];
		alen = 16;
	}
	/* The question, as it came (evdns checks the 0x20 case mix). */
	memcpy(r, q, qend);
	/* QR, the asker's RD, RA; NXDOMAIN for a name we do not know. */
	r[2] = (uint8_t)(0x80 | (q[2] & 0x01));
	r[3] = known ? 0x80 : 0x83;
	dns_put16(r + 4, 1);
	dns_put16(r + 8, 0);
	dns_put16(r + 10, 0);
	off = qend;
	for (i = 0; i < n && off + 12 + alen <= sizeof(r); i++) {
		dns_put16(r + off, 0xc00c);	/* the name at offset 12 */
		dns_put16(r + off + 2, qtype);
		dns_put16(r + off + 4, 1);	/* IN */
		memset(r + off + 6, 0, 4);	/* TTL 0: never cache */
		dns_put16(r + off + 10, (unsigned)alen);
		memcpy(r + off + 12, a[i], alen);
		off += 12 + alen;
	}
	pthread_mutex_unlock(&d->mu);
	dns_put16(r + 6, (unsigned)i);
	(void)sendto(d->fd, r, off, 0, (const struct sockaddr *)from,
	    sizeof(*from));
}

static void *
dns_main(void *arg)
{
	struct h_dns		*d = arg;
	struct pollfd		 pfd = { .fd = d->fd, .events = POLLIN };
	struct sockaddr_in	 from;
	socklen_t		 flen;
	uint8_t			 q[DNS_PKT_MAX];
	ssize_t			 n;

	/* Bounded by h_dns_free(), which every test calls. */
	while (!atomic_load(&d->stop)) {
		if (poll(&pfd, 1, DNS_POLL_MS) <= 0)
			continue;
		flen = sizeof(from);
		n = recvfrom(d->fd, q, sizeof(q), 0, (struct sockaddr *)&from,
		    &flen);
		if (n <= 0)
			continue;
		atomic_fetch_add(&d->queries, 1);
		if (!atomic_load(&d->silent))
			dns_answer(d, q, (size_t)n, &from);
	}
	return NULL;
}

struct h_dns *
h_dns_start(void)
{
	struct h_dns		*d;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 text[128];

	if ((d = calloc(1, sizeof(*d))) == NULL)
		h_fault("out of memory");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(d->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(d->fd, (struct sockaddr *)&sin, &len) == -1)
		h_fault("dns socket: %s", strerror(errno));
	d->port = ntohs(sin.sin_port);
	pthread_mutex_init(&d->mu, NULL);
	snprintf(text, sizeof(text), "nameserver 127.0.0.1:%d\n", d->port);
	h_write_file(d->conf, sizeof(d->conf), h_tmpdir(), "resolv.conf",
	    text);
	if (pthread_create(&d->th, NULL, dns_main, d) != 0)
		h_fault("pthread_create failed");
	return d;
}

void
h_dns_set(struct h_dns *d, const char *name, const char *const *addrs,
    size_t n)
{
	size_t	 i;

	pthread_mutex_lock(&d->mu);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->n4 = d->n6 = 0;
	for (i = 0; i < n; i++) {
		if (d->n4 < DNS_MAX_ADDRS &&
		    inet_pton(AF_INET, addrs[i], &d->v4[d->n4]) == 1)
			d->n4++;
		else if (d->n6 < DNS_MAX_ADDRS &&
		    inet_pton(AF_INET6, addrs[i], &d->v6[d->n6]) == 1)
			d->n6++;
		else
			h_fault("h_dns_set: bad address %s", addrs[i]);
	}
	pthread_mutex_unlock(&d->mu);
}

void
h_dns_silent(struct h_dns *d, bool on)
{
	atomic_store(&d->silent, on);
}

unsigned
h_dns_queries(struct h_dns *d)
{
	return atomic_load(&d->queries);
}

const char *
h_dns_resolv_conf(const struct h_dns *d)
{
	return d->conf;
}

void
h_dns_free(struct h_dns *d)
{
	if (d == NULL)
		return;
	atomic_store(&d->stop, true);
	pthread_join(d->th, NULL);
	close(d->fd);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
