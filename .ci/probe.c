/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe: is a relay on 127.0.0.1:8080 relaying to 127.0.0.1:8000?  For
 * .ci/run's test of the README's daemon command, on machines with
 * nothing but a C compiler.  It plays the backend (listening on :8000)
 * and the client (connecting to :8080): the bytes the client sends must
 * reach the backend, and the backend's answer must come back.
 * Exit 0: relayed; 1: wrong or no answer; 2: nothing listens on :8080
 * yet (try again later).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
readall(int fd, char *buf, size_t len)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };
	size_t		 got = 0;
	ssize_t		 n;

	while (got < len) {
		if (poll(&p, 1, 5000) != 1)
			return -1;
		if ((n = read(fd, buf + got, len - got)) <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int
tcp(unsigned short port, int listening)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	int			 fd, one = 1;

	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (listening) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(fd, 4) == -1) {
			perror("probe: listen 127.0.0.1:8000");
			close(fd);
			return -1;
		}
	} else if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -2;
	}
	return fd;
}

int
main(void)
{
	static const char	 ask[] = "relay46 probe: ping\n";
	static const char	 answer[] = "relay46 probe: pong\n";
	char			 buf[64];
	struct pollfd		 p;
	int			 lfd, cfd, bfd;

	if ((lfd = tcp(8000, 1)) < 0)
		return 1;
	if ((cfd = tcp(8080, 0)) < 0) {
		close(lfd);
		return 2;
	}
	p.fd = lfd;
	p.events = POLLIN;
	if (write(cfd, ask, sizeof(ask) - 1) != sizeof(ask) - 1 ||
	    poll(&p, 1, 10000) != 1 || (bfd = accept(lfd, NULL, NULL)) == -1) {
		fprintf(stderr, "probe: the relay did not connect to :8000\n");
		return 1;
	}
	if (readall(bfd, buf, sizeof(ask) - 1) == -1 ||
	    memcmp(buf, ask, sizeof(ask) - 1) != 0) {
		fprintf(stderr, "probe: the backend did not get the bytes\n");
		return 1;
	}
	if (write(bfd, answer, sizeof(answer) - 1) != sizeof(answer) - 1 ||
	    readall(cfd, buf, sizeof(answer) - 1) == -1 ||
	    memcmp(buf, answer, sizeof(answer) - 1) != 0) {
		fprintf(stderr, "probe: the answer did not come back\n");
		return 1;
	}
	printf("probe: 127.0.0.1:8080 relayed %zu bytes to 127.0.0.1:8000 "
	    "and %zu back\n", sizeof(ask) - 1, sizeof(answer) - 1);
	close(bfd);
	close(cfd);
	close(lfd);
	return 0;
}
