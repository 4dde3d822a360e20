/* SPDX-License-Identifier: MIT */
/*
 * virtio-net driver (virtio 1.2 section 5.1) for the test guests: receiveq0
 * and transmitq0, no control queue, no offloads. Receive buffers are posted
 * up front and re-posted in batches (one kick per batch); frames to send are
 * copied into per-slot buffers, one descriptor each (header and frame
 * together, as VERSION_1 allows), and their completions are reaped lazily.
 * (The test guests are virtio_net.c and netbench.c; this is the driver.)
 */
#ifndef GUEST_VNET_H
#define GUEST_VNET_H

#include "virtio.h"

/* Feature bits (spec 5.1.3). */
#define VIRTIO_NET_F_CSUM	    0
#define VIRTIO_NET_F_GUEST_CSUM	    1
#define VIRTIO_NET_F_MTU	    3
#define VIRTIO_NET_F_MAC	    5
#define VIRTIO_NET_F_GUEST_TSO4	    7
#define VIRTIO_NET_F_MRG_RXBUF	    15
#define VIRTIO_NET_F_STATUS	    16
#define VIRTIO_NET_F_CTRL_VQ	    17
#define VIRTIO_NET_F_MQ		    22
#define VIRTIO_NET_S_LINK_UP	    1
#define VIRTIO_NET_S_ANNOUNCE	    2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1

#define ETH_ALEN 6

/* struct virtio_net_hdr (spec 5.1.6): 12 bytes, num_buffers always there
 * with VERSION_1. Little-endian, as is the guest. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

#define VNET_HDR_LEN 12
/* The largest frame without GSO: an MTU of 1500, the Ethernet header and
 * a VLAN tag (no FCS). */
#define VNET_MAX_FRAME 1518
/* Without MRG_RXBUF a receive buffer must hold a whole frame and the
 * header (spec 5.1.6.3.1: at least 1526 bytes). */
#define VNET_RX_BUF_MIN	  (VNET_HDR_LEN + 1514)
#define VNET_RX_BUF_DEF	  1536
#define VNET_RX_BUF_SMALL 32 /* the least allowed with MRG_RXBUF */

/* What vnet_open() does beyond the virtio options. */
struct vnet_opts {
	struct virtio_opts virtio; /* irq, queue_size, EVENT_IDX, INDIRECT */
	uint32_t rx_buf;	   /* bytes per receive buffer; 0: default */
	bool no_mrg_rxbuf;	   /* do not accept VIRTIO_NET_F_MRG_RXBUF */
	bool has_mac;		   /* use mac below, not the device's */
	uint8_t mac[ETH_ALEN];
};

struct vnet_stats {
	uint64_t rx_frames, rx_bytes; /* delivered to the caller */
	uint64_t tx_frames, tx_bytes; /* queued */
	uint64_t rx_buffers;	      /* used receive buffers */
	uint64_t rx_merged;    /* frames that spanned more than one buffer */
	uint64_t rx_malformed; /* used entries the device got wrong */
	uint64_t rx_dropped;   /* too long for the caller, or runts */
	uint64_t rx_refills;   /* batches re-posted (one kick each) */
	uint64_t rx_halts;     /* halts waiting for a frame (irq=1) */
	uint64_t tx_ring_full; /* vnet_queue() found no free slot */
	uint64_t tx_completed; /* transmit buffers the device returned */
};

struct vnet {
	struct virtio_dev vd;
	struct virtq rx, tx;
	uint8_t mac[ETH_ALEN];
	bool mac_from_device; /* VIRTIO_NET_F_MAC and no override */
	bool mrg_rxbuf;
	uint16_t status; /* config status at open (VIRTIO_NET_F_STATUS) */
	uint32_t rx_buf_size, rx_stride;
	uint8_t *rx_bufs;     /* rx.size buffers of rx_stride bytes */
	uint16_t *rx_pending; /* used buffers waiting to be re-posted */
	unsigned rx_npending, rx_batch;
	unsigned rx_min_posted; /* buffers the largest frame needs */
	uint8_t *tx_bufs;	/* tx.size slots of VNET_TX_SLOT bytes */
	uint16_t *tx_free;	/* free slots, a stack */
	unsigned tx_nfree;
	uint64_t timeout_us; /* for a full transmit ring; default 1 s */
	struct vnet_stats stats;
};

/* virtio_start() the index'th virtio-net with MAC, STATUS and (unless
 * o->no_mrg_rxbuf) MRG_RXBUF if offered, read the MAC (or take o's, or
 * make up a locally administered one) and the status, set up receiveq0
 * and transmitq0, DRIVER_OK, post every receive buffer. */
int vnet_open(struct vnet *n, unsigned index,
	      const struct vnet_opts *o) __must_check;
/* Print "virtio-net: mac M link up|down|unknown features ...". */
void vnet_describe(struct vnet *n);
/* Re-read the link status: 1 up, 0 down, -1 unknown (no STATUS). */
int vnet_link(struct vnet *n);

/* Queue one frame (Ethernet header on, no FCS; at most VNET_MAX_FRAME
 * bytes; copied); not sent before vnet_flush(). Reaps completions when the
 * ring runs low, and kicks and waits (up to timeout_us) when it is full.
 * 0, -EINVAL (length), -ETIMEDOUT or -EPROTO (the queue is broken). */
int vnet_queue(struct vnet *n, const void *frame, uint32_t len) __must_check;
/* Notify the device of the queued frames (one kick). */
void vnet_flush(struct vnet *n);
/* vnet_queue() and vnet_flush(). */
int vnet_send(struct vnet *n, const void *frame, uint32_t len) __must_check;
/* Queue count frames and kick once; how many were queued, or a negative
 * error if the first one failed. */
struct vnet_frame {
	const void *data;
	uint32_t len;
};
int vnet_send_batch(struct vnet *n, const struct vnet_frame *f,
		    unsigned count) __must_check;
/* Reap transmit completions; returns how many. */
unsigned vnet_tx_reap(struct vnet *n);
/* Flush and wait up to timeout_us until the device has used every
 * transmit buffer (before exiting, so queued frames are not lost). */
int vnet_tx_drain(struct vnet *n, uint64_t timeout_us) __must_check;

/* The next received frame copied to buf (without the virtio header): its
 * length, or 0 if none is ready. A frame longer than maxlen, a runt (under
 * 14 bytes) and a malformed used entry are dropped and counted. Re-posts
 * used buffers in batches. */
uint32_t vnet_recv(struct vnet *n, void *buf, uint32_t maxlen);
/* Wait until a frame may be ready (true) or the TSC passes end (false):
 * spins when polling, halts for the interrupt with irq=1. */
bool vnet_poll_until(struct vnet *n, uint64_t end);
/* True if a queue stopped because the device returned a bad id. */
static inline bool vnet_broken(const struct vnet *n)
{
	return n->rx.broken || n->tx.broken;
}
/* Virtqueue protocol errors on both queues (bad ids, lengths). */
static inline unsigned vnet_errors(const struct vnet *n)
{
	return n->rx.errors + n->tx.errors;
}

/* "52:54:00:12:34:56" into buf (at least 18 bytes); returns buf. */
char *vnet_mac_str(const uint8_t *mac, char *buf);
/* Parse "52:54:00:12:34:56" (or '-' separated); false if malformed. */
bool vnet_parse_mac(const char *s, uint8_t *mac);

#endif
