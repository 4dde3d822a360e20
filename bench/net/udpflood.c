/* SPDX-License-Identifier: MIT */
/*
 * udpflood: send UDP datagrams to one address as fast as the host takes
 * them, for the host-to-guest test of bench/net/run.sh.
 *
 *   udpflood ADDR PORT FRAME_SIZE SECS [BATCH]
 *
 * FRAME_SIZE is the size of the Ethernet frame each datagram becomes on
 * the wire, header included and FCS not (60..1514): the UDP payload is
 * FRAME_SIZE - 42 bytes. Datagrams go out BATCH at a time (default 64)
 * with sendmmsg on a connected socket until SECS seconds have passed.
 * Prints one line:
 *
 *   udpflood: sent=N bytes=N usec=N pps=N mbps=N.NN errors=N
 *
 * sent counts the datagrams the kernel accepted (a datagram the tap's
 * queue then drops still counts: UDP does not report it); bytes are
 * frame bytes (sent * FRAME_SIZE), mbps is 10^6 bytes per second.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDRS	  42 /* Ethernet 14 + IPv4 20 + UDP 8 */
#define MAX_BATCH 256

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	static char payload[1514];
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	unsigned long long sent = 0, errors = 0;
	long size, secs, batch = 64;
	double t0, t1, stop, usec;
	int fd;

	if (argc < 5 || argc > 6) {
		fputs("usage: udpflood ADDR PORT FRAME_SIZE SECS [BATCH]\n",
		      stderr);
		return 2;
	}
	size = strtol(argv[3], NULL, 10);
	secs = strtol(argv[4], NULL, 10);
	if (argc == 6)
		batch = strtol(argv[5], NULL, 10);
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535 || size < 60 ||
	    size > 1514 || secs <= 0 || batch <= 0 || batch > MAX_BATCH) {
		fputs("udpflood: bad arguments\n", stderr);
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udpflood: socket/connect");
		return 1;
	}
	for (long i = 0; i < size - HDRS; i++)
		payload[i] = (char)i;
	for (long i = 0; i < batch; i++) {
		iov[i] = (struct iovec){payload, (size_t)(size - HDRS)};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now_us();
	stop = t0 + secs * 1e6;
	do {
		int n = sendmmsg(fd, msgs, (unsigned)batch, 0);

		if (n > 0) {
			sent += (unsigned)n;
		} else if (n < 0) {
			/* ENOBUFS (a full queue) or ECONNREFUSED (an ICMP error
			 * came back): count and go on; anything else is fatal. */
			if (errno != ENOBUFS && errno != ECONNREFUSED &&
			    errno != EAGAIN && errno != EINTR) {
				perror("udpflood: sendmmsg");
				return 1;
			}
			errors++;
		}
		t1 = now_us();
	} while (t1 < stop);
	usec = t1 - t0;
	printf("udpflood: sent=%llu bytes=%llu usec=%.0f pps=%.0f "
	       "mbps=%.2f errors=%llu\n",
	       sent, sent * (unsigned long long)size, usec, sent * 1e6 / usec,
	       sent * (double)size / usec, errors);
	close(fd);
	return 0;
}
