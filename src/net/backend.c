/* SPDX-License-Identifier: MIT */
#include "net/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

static unsigned tun_flags(unsigned offloads)
{
	return (offloads & NET_OFFLOAD_CSUM ? TUN_F_CSUM : 0) |
	       (offloads & NET_OFFLOAD_TSO4 ? TUN_F_TSO4 : 0) |
	       (offloads & NET_OFFLOAD_TSO6 ? TUN_F_TSO6 : 0) |
	       (offloads & NET_OFFLOAD_ECN ? TUN_F_TSO_ECN : 0);
}

static int tap_attach(const char *ifname)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		pr_err("--net tap=%s: cannot open /dev/net/tun: %s (is the tun "
		       "module loaded?)",
		       ifname, strerror(err));
		return -err;
	}
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		if (err == EPERM)
			pr_err("--net tap=%s: not allowed: create it first "
			       "(ip tuntap add %s mode tap user $USER) or run "
			       "with CAP_NET_ADMIN",
			       ifname, ifname);
		else if (err == EBUSY)
			pr_err("--net tap=%s: in use by another process",
			       ifname);
		else
			pr_err("--net tap=%s: cannot attach: %s", ifname,
			       strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

int net_tap_open(struct net_backend *b, const char *ifname)
{
	unsigned all = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 |
		       NET_OFFLOAD_ECN;
	int hdr = NET_HDR_LEN, fd, err;

	if (!*ifname || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/')) {
		pr_err("--net tap=%s: not an interface name (1 to %d "
		       "characters)",
		       ifname, IFNAMSIZ - 1);
		return -EINVAL;
	}
	fd = tap_attach(ifname);
	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		err = errno;
		pr_err("--net tap=%s: cannot set the vnet header size: %s",
		       ifname, strerror(err));
		close(fd);
		return -err;
	}
	*b = (struct net_backend){.kind = NET_TAP, .fd = fd, .vnet_hdr = true};
	snprintf(b->name, sizeof(b->name), "%s", ifname);
	/* Probe, then start with none: the guest's features decide. */
	if (!ioctl(fd, TUNSETOFFLOAD, tun_flags(all)))
		b->offloads = all;
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		b->offloads = 0;
	return 0;
}

int net_switch_connect(struct net_backend *b, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, err;

	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("--net switch=%s: not a socket path (1 to %zu "
		       "characters)",
		       path, sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		pr_err("--net switch=%s: socket: %s", path, strerror(err));
		return -err;
	}
	/* A non-blocking connect on a Unix socket completes at once or
	 * fails (EAGAIN: the switch's backlog is full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		pr_err("--net switch=%s: cannot connect: %s%s", path,
		       strerror(err),
		       err == ENOENT || err == ECONNREFUSED
			       ? " (is `berth switch --socket PATH` running?)"
			       : "");
		close(fd);
		return -err;
	}
	*b = (struct net_backend){.kind = NET_SWITCH, .fd = fd};
	snprintf(b->name, sizeof(b->name), "%s", path);
	return 0;
}

int net_backend_set_offloads(struct net_backend *b, unsigned offloads)
{
	if (b->kind != NET_TAP)
		return offloads ? -EOPNOTSUPP : 0;
	if (ioctl(b->fd, TUNSETOFFLOAD, tun_flags(offloads)) < 0)
		return -errno;
	return 0;
}

int net_backend_send(struct net_backend *b, const struct iovec *iov, int n)
{
	ssize_t ret;

	if (b->kind == NET_SWITCH) {
		struct msghdr m = {.msg_iov = (struct iovec *)iov,
				   .msg_iovlen = (size_t)n};

		ret = sendmsg(b->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	} else {
		ret = writev(b->fd, iov, n);
	}
	if (ret >= 0)
		return 0;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

ssize_t net_backend_recv(struct net_backend *b, void *buf, size_t len)
{
	ssize_t ret;

	if (b->kind == NET_SWITCH) {
		/* MSG_TRUNC: the real length, so a long frame is seen. */
		ret = recv(b->fd, buf, len, MSG_DONTWAIT | MSG_TRUNC);
		if (ret == 0)
			return -EPIPE; /* the switch went away */
	} else {
		ret = read(b->fd, buf, len);
	}
	if (ret < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)ret > len)
		return -EMSGSIZE;
	return ret;
}

#define NET_BATCH_MAX 64

int net_backend_recv_batch(struct net_backend *b, uint8_t *bufs, size_t stride,
			   size_t off, size_t *lens, unsigned n)
{
	struct mmsghdr m[NET_BATCH_MAX];
	struct iovec iov[NET_BATCH_MAX];
	ssize_t one;
	int got;

	if (b->kind != NET_SWITCH || n == 1) {
		one = net_backend_recv(b, bufs + off, stride - off);
		if (one == -EMSGSIZE)
			lens[0] = SIZE_MAX;
		else if (one < 0)
			return (int)one;
		else
			lens[0] = (size_t)one;
		return 1;
	}
	if (n > NET_BATCH_MAX)
		n = NET_BATCH_MAX;
	for (unsigned i = 0; i < n; i++) {
		iov[i] = (struct iovec){bufs + i * stride + off, stride - off};
		m[i] = (struct mmsghdr){
			.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	got = recvmmsg(b->fd, m, n, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (int i = 0; i < got; i++) {
		/* An empty message at the end of file: the switch has gone
		 * if nothing follows it (a peek then sees end of file too). */
		if (!m[i].msg_len) {
			char c;

			if (!recv(b->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK))
				return i ? i : -EPIPE;
		}
		lens[i] = m[i].msg_hdr.msg_flags & MSG_TRUNC ? SIZE_MAX
							     : m[i].msg_len;
	}
	return got;
}

void net_backend_close(struct net_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &end) != 6 ||
	    strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	/* A NIC's own address must be unicast and not all zeroes. */
	if ((mac[0] & 1) ||
	    !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}
