/* SPDX-License-Identifier: MIT */
/*
 * Where a virtual NIC's frames go: a tap device on the host (with a
 * virtio_net_hdr in front of every frame, so checksum and segmentation
 * offloads pass through) or a port of a `berth switch` (a Unix
 * SOCK_SEQPACKET socket, one bare Ethernet frame per message).
 *
 * Both are one non-blocking file descriptor that moves one frame per
 * read or write; the device owns it on its I/O thread.
 */
#ifndef BERTH_NET_BACKEND_H
#define BERTH_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* struct virtio_net_hdr with num_buffers: its size under VERSION_1. */
#define NET_HDR_LEN 12
/* Largest frame either way, without the header: a 64 KiB GSO packet and
 * its Ethernet header (with a VLAN tag). */
#define NET_MAX_FRAME (65535 + 18)
#define NET_ETH_HLEN  14

enum net_backend_kind { NET_TAP, NET_SWITCH };

/* Offloads a tap can deliver to the guest (TUN_F_* bits). */
#define NET_OFFLOAD_CSUM (1U << 0)
#define NET_OFFLOAD_TSO4 (1U << 1)
#define NET_OFFLOAD_TSO6 (1U << 2)
#define NET_OFFLOAD_ECN	 (1U << 3)

struct net_backend {
	enum net_backend_kind kind;
	int fd;
	bool vnet_hdr;	   /* frames carry a virtio_net_hdr (tap) */
	unsigned offloads; /* NET_OFFLOAD_* the backend supports */
	char name[108];	   /* interface name or socket path */
};

/* Attach to tap interface ifname (created if missing and allowed) with
 * IFF_VNET_HDR, non-blocking, and probe its offloads. -errno after one
 * error line that says what to do. */
int net_tap_open(struct net_backend *b, const char *ifname)
	__attribute__((warn_unused_result));

/* Connect to the `berth switch` listening at path. -errno after one error
 * line. */
int net_switch_connect(struct net_backend *b, const char *path)
	__attribute__((warn_unused_result));

/* Turn on the offloads the guest accepted for frames it receives
 * (NET_OFFLOAD_*; a subset of b->offloads). */
int net_backend_set_offloads(struct net_backend *b, unsigned offloads)
	__attribute__((warn_unused_result));

/* Send one frame (with its header if b->vnet_hdr). 0, -EAGAIN if the
 * backend cannot take it now (wait for EPOLLOUT), another -errno if the
 * frame was refused (dropped) or the link is gone (-EPIPE, -ECONNRESET). */
int net_backend_send(struct net_backend *b, const struct iovec *iov, int n)
	__attribute__((warn_unused_result));

/* Receive one frame (with its header if b->vnet_hdr) into buf: its
 * length, -EAGAIN if none is waiting, -EMSGSIZE if it was longer than len
 * (dropped), -EPIPE when the peer has gone, or another -errno. */
ssize_t net_backend_recv(struct net_backend *b, void *buf, size_t len)
	__attribute__((warn_unused_result));

/* Receive up to n frames at once: frame i goes to bufs + i * stride + off,
 * its length to lens[i] (SIZE_MAX if it was longer than stride - off and
 * was cut: drop it). Returns how many, -EAGAIN if none is waiting, -EPIPE
 * when the peer has gone. One recvmmsg on a switch port; one read on a
 * tap (which has no batch read). */
int net_backend_recv_batch(struct net_backend *b, uint8_t *bufs, size_t stride,
			   size_t off, size_t *lens, unsigned n)
	__attribute__((warn_unused_result));

void net_backend_close(struct net_backend *b);

/* Parse "aa:bb:cc:dd:ee:ff" into mac. -EINVAL if malformed or multicast. */
int net_parse_mac(const char *s, uint8_t mac[6])
	__attribute__((warn_unused_result));

#endif
