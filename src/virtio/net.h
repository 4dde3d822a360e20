/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.2, 5.1): one receive and one transmit queue, a MAC
 * address, link status, mergeable receive buffers, and checksum and TSO
 * offloads where the backend (a tap) supports them. Frames go to and from
 * a net_backend on the device's I/O thread.
 */
#ifndef BERTH_VIRTIO_NET_H
#define BERTH_VIRTIO_NET_H

#include <stdint.h>

#include "net/backend.h"
#include "virtio/virtio.h"

/* Feature bit numbers (spec 5.1.3). */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr (spec 5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP	    3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80

struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/* What --net asks for. */
struct virtio_net_options {
	enum net_backend_kind kind;
	char target[108]; /* tap interface name or switch socket path */
	uint8_t mac[6];
	bool mac_set; /* else a random locally administered address */
};

/* Counters, read by the VMM for its log and metering. */
struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_dropped; /* no room in the guest's buffers, too long */
	uint64_t tx_dropped; /* malformed, refused by the backend, link down */
};

/* Parse the value of --net: tap=NAME[,mac=MAC] or switch=PATH[,mac=MAC].
 * -EINVAL after one error line naming --net and the value. */
int virtio_net_parse(const char *spec, struct virtio_net_options *o)
	__attribute__((warn_unused_result));

/* Open the backend and fill in d as a network device (features, queues,
 * config, ops, priv; name if NULL). -errno after one error line. */
int virtio_net_init(struct virtio_dev *d, const struct virtio_net_options *o)
	__attribute__((warn_unused_result));

/* A snapshot of the counters. */
void virtio_net_get_stats(struct virtio_dev *d, struct virtio_net_stats *st);

/* Close the backend and free what init made; the transport must no longer
 * call d's ops. Safe after a failed init. */
void virtio_net_destroy(struct virtio_dev *d);

#endif
