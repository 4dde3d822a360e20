/* SPDX-License-Identifier: MIT */
/*
 * virtio-net, driver side (virtio 1.2 section 5.1), in ring 3.
 *
 * Receive: rx.size buffers of rx_buf_size bytes, each one device-writable
 * descriptor, all posted at open. A used buffer starts with the 12-byte
 * header; with VIRTIO_NET_F_MRG_RXBUF a frame may continue in the next
 * num_buffers - 1 used buffers (which have no header). Used buffers are
 * collected and re-posted rx_batch at a time, with one kick per batch.
 * What the device wrote is checked before it is used: a used length
 * shorter than the header or longer than the buffer, a num_buffers of 0
 * or more than the ring holds, or continuation buffers that never come
 * drop the frame and count as malformed; nothing is read or copied past a
 * buffer.
 *
 * Transmit: tx.size slots of VNET_TX_SLOT bytes; a frame is copied after
 * a zeroed header and sent as one device-readable descriptor (VERSION_1
 * implies ANY_LAYOUT). Completions are reaped only when free slots run
 * low, and with irq=1 the transmit queue asks for no interrupts.
 */
#include "vnet.h"
#include "irq.h"

#define VNET_TX_SLOT	   2048
#define TX_TIMEOUT_US	   1000000
#define RX_CONT_TIMEOUT_US 100000 /* for the rest of a merged frame */
#define IRQ_SLICE_US	   10000
#define CFG_MAC		   0
#define CFG_STATUS	   6
#define ETH_HLEN	   14
#define MAX_MESSAGES	   8 /* about malformed buffers, then quiet */

/* Only fields whose feature was negotiated exist (spec 5.1.4). */
static void read_config(struct virtio_dev *vd, void *arg)
{
	struct vnet *n = arg;

	if (virtio_has(vd, VIRTIO_NET_F_MAC))
		for (unsigned i = 0; i < ETH_ALEN; i++)
			n->mac[i] = virtio_cfg_read8(vd, CFG_MAC + i);
	if (virtio_has(vd, VIRTIO_NET_F_STATUS))
		n->status = virtio_cfg_read16(vd, CFG_STATUS);
}

int vnet_link(struct vnet *n)
{
	uint8_t mac[ETH_ALEN];

	if (!virtio_has(&n->vd, VIRTIO_NET_F_STATUS))
		return -1;
	/* read_config() also reads the MAC: keep ours (it may be an
	 * override). */
	memcpy(mac, n->mac, ETH_ALEN);
	if (virtio_config_read(&n->vd, read_config, n))
		return -1;
	memcpy(n->mac, mac, ETH_ALEN);
	return n->status & VIRTIO_NET_S_LINK_UP ? 1 : 0;
}

char *vnet_mac_str(const uint8_t *mac, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool vnet_parse_mac(const char *s, uint8_t *mac)
{
	for (unsigned i = 0; i < ETH_ALEN; i++) {
		int hi = hex_digit(s[0]), lo = hex_digit(s[1]);

		if (hi < 0 || lo < 0)
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i + 1 < ETH_ALEN && *s != ':' && *s != '-')
			return false;
		if (i + 1 < ETH_ALEN)
			s++;
	}
	return *s == '\0';
}

void vnet_describe(struct vnet *n)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{VIRTIO_NET_F_MAC, " mac"},
		{VIRTIO_NET_F_STATUS, " status"},
		{VIRTIO_NET_F_MRG_RXBUF, " mrg-rxbuf"},
		{VIRTIO_F_EVENT_IDX, " event-idx"},
		{VIRTIO_F_INDIRECT_DESC, " indirect"},
		{VIRTIO_F_ACCESS_PLATFORM, " access-platform"},
	};
	char feat[96] = "", mac[18];
	size_t len = 0;
	int link = virtio_has(&n->vd, VIRTIO_NET_F_STATUS)
			   ? !!(n->status & VIRTIO_NET_S_LINK_UP)
			   : -1;

	for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
		if (virtio_has(&n->vd, names[i].bit))
			len += snprintf(feat + len, sizeof(feat) - len, "%s",
					names[i].name);
	printf("virtio-net: mac %s link %s features%s, queues %u/%u, rx "
	       "buffers %u bytes, %s%s\n",
	       vnet_mac_str(n->mac, mac),
	       link < 0	  ? "unknown"
	       : link > 0 ? "up"
			  : "down",
	       len ? feat : " none", n->rx.size, n->tx.size, n->rx_buf_size,
	       n->vd.msix ? "MSI-X" : "polling",
	       n->mac_from_device ? ""
	       : virtio_has(&n->vd, VIRTIO_NET_F_MAC)
		       ? ", mac set by option"
		       : ", device has no mac: made one up");
}

/* ---- receive ------------------------------------------------------------- */

static uint8_t *rx_buf(struct vnet *n, unsigned slot)
{
	return n->rx_bufs + (size_t)slot * n->rx_stride;
}

/* Post the used buffers collected so far, one kick for them all. */
static void rx_refill(struct vnet *n)
{
	if (!n->rx_npending)
		return;
	for (unsigned i = 0; i < n->rx_npending; i++) {
		uint8_t *b = rx_buf(n, n->rx_pending[i]);
		struct virtq_buf vb = {b, n->rx_buf_size, true};

		/* One descriptor per buffer, and each buffer was taken
		 * off the ring: there is always room. */
		if (virtq_add(&n->rx, &vb, 1, b))
			break;
	}
	n->rx_npending = 0;
	virtq_kick(&n->rx);
	n->stats.rx_refills++;
}

/* A used buffer goes back on the list to re-post. */
static void rx_recycle(struct vnet *n, void *token)
{
	size_t off = (uint8_t *)token - n->rx_bufs;

	n->rx_pending[n->rx_npending++] = (uint16_t)(off / n->rx_stride);
}

static void malformed(struct vnet *n, const char *what, uint32_t a, uint32_t b)
{
	if (n->stats.rx_malformed++ < MAX_MESSAGES)
		printf("virtio-net: malformed receive buffer: %s (%u, %u): "
		       "dropped\n",
		       what, a, b);
}

/* The next used buffer of a merged frame: the device may publish it a
 * little later than the first one. */
static void *rx_next(struct vnet *n, uint32_t *len)
{
	uint64_t end = tsc_deadline(RX_CONT_TIMEOUT_US);
	void *t;

	while (!(t = virtq_get(&n->rx, len))) {
		if (n->rx.broken || (int64_t)(rdtsc() - end) >= 0)
			return NULL;
		cpu_relax();
	}
	n->stats.rx_buffers++;
	return t;
}

/* One frame starting at used buffer t of len bytes: its length in buf, or
 * 0 if it was dropped. Every buffer it used is recycled. */
static uint32_t rx_frame(struct vnet *n, uint8_t *t, uint32_t len, uint8_t *buf,
			 uint32_t maxlen)
{
	const volatile struct virtio_net_hdr *h = (void *)t;
	uint32_t total, nbufs = 1;
	bool bad = false;

	n->stats.rx_buffers++;
	if (len < VNET_HDR_LEN || len > n->rx_buf_size) {
		malformed(n, "used length vs buffer size", len, n->rx_buf_size);
		rx_recycle(n, t);
		return 0;
	}
	if (n->mrg_rxbuf) {
		nbufs = h->num_buffers;
		if (!nbufs || nbufs > n->rx.size) {
			malformed(n, "num_buffers vs queue size", nbufs,
				  n->rx.size);
			rx_recycle(n, t);
			return 0;
		}
	}
	total = len - VNET_HDR_LEN;
	if (total <= maxlen)
		memcpy(buf, t + VNET_HDR_LEN, total);
	rx_recycle(n, t);
	for (uint32_t i = 1; i < nbufs; i++) {
		uint32_t l;
		uint8_t *c = rx_next(n, &l);

		if (!c) {
			malformed(n, "merged frame: buffers missing", i, nbufs);
			return 0;
		}
		if (l > n->rx_buf_size) {
			bad = true;
		} else {
			if (total + l <= maxlen)
				memcpy(buf + total, c, l);
			total += l;
		}
		rx_recycle(n, c);
	}
	if (bad) {
		malformed(n, "merged frame: used length vs buffer size", nbufs,
			  n->rx_buf_size);
		return 0;
	}
	if (total > maxlen || total < ETH_HLEN) {
		n->stats.rx_dropped++;
		return 0;
	}
	if (nbufs > 1)
		n->stats.rx_merged++;
	n->stats.rx_frames++;
	n->stats.rx_bytes += total;
	return total;
}

uint32_t vnet_recv(struct vnet *n, void *buf, uint32_t maxlen)
{
	for (;;) {
		uint32_t len, got;
		void *t;

		/* A batch is ready, or too few buffers are posted for the
		 * largest frame: the device would wait for more forever. */
		if (n->rx_npending >= n->rx_batch ||
		    (n->rx_npending &&
		     virtq_in_flight(&n->rx) < n->rx_min_posted))
			rx_refill(n);
		t = virtq_get(&n->rx, &len);
		if (!t)
			return 0;
		got = rx_frame(n, t, len, buf, maxlen);
		if (got)
			return got;
	}
}

static bool rx_ready(struct vnet *n)
{
	return n->rx.used->idx != n->rx.last_used || vnet_broken(n);
}

bool vnet_poll_until(struct vnet *n, uint64_t end)
{
	for (;;) {
		int64_t left;
		uint64_t us;

		if (rx_ready(n))
			return true;
		left = (int64_t)(end - rdtsc());
		if (left <= 0)
			return false;
		if (!n->rx.irq) {
			cpu_relax();
			continue;
		}
		/* used_event (written in virtq_get) before the idx load: an
		 * interrupt for what arrives after this stays pending and
		 * ends the halt at once. */
		mb();
		if (rx_ready(n))
			return true;
		us = (uint64_t)left * 1000 / tsc_khz();
		n->stats.rx_halts++;
		irq_wait(us < IRQ_SLICE_US ? us + 1 : IRQ_SLICE_US);
	}
}

/* ---- transmit ------------------------------------------------------------ */

unsigned vnet_tx_reap(struct vnet *n)
{
	unsigned k = 0;
	void *t;

	while ((t = virtq_get(&n->tx, NULL))) {
		size_t off = (uint8_t *)t - n->tx_bufs;

		n->tx_free[n->tx_nfree++] = (uint16_t)(off / VNET_TX_SLOT);
		k++;
	}
	n->stats.tx_completed += k;
	return k;
}

/* A free slot, reaping (and if need be kicking and waiting) for one. */
static int tx_slot(struct vnet *n)
{
	uint64_t end;

	if (n->tx_nfree <= n->tx.size / 2)
		vnet_tx_reap(n);
	if (n->tx_nfree)
		return 0;
	n->stats.tx_ring_full++;
	/* What is queued must reach the device before it can come back. */
	virtq_kick(&n->tx);
	end = tsc_deadline(n->timeout_us);
	while (!vnet_tx_reap(n)) {
		if (n->tx.broken)
			return -EPROTO;
		if ((int64_t)(rdtsc() - end) >= 0) {
			printf("virtio-net: transmit ring full for %lu ms (%u "
			       "in flight, used idx %u)\n",
			       n->timeout_us / 1000, virtq_in_flight(&n->tx),
			       n->tx.used->idx);
			virtio_needs_reset(&n->vd);
			return -ETIMEDOUT;
		}
		cpu_relax();
	}
	return 0;
}

int vnet_queue(struct vnet *n, const void *frame, uint32_t len)
{
	struct virtq_buf vb;
	uint16_t slot;
	uint8_t *p;
	int err;

	if (!len || len > VNET_MAX_FRAME)
		return -EINVAL;
	if (n->tx.broken)
		return -EPROTO;
	err = tx_slot(n);
	if (err)
		return err;
	slot = n->tx_free[--n->tx_nfree];
	p = n->tx_bufs + (size_t)slot * VNET_TX_SLOT;
	memset(p, 0, VNET_HDR_LEN); /* no offloads, GSO_NONE */
	memcpy(p + VNET_HDR_LEN, frame, len);
	vb = (struct virtq_buf){p, VNET_HDR_LEN + len, false};
	err = virtq_add(&n->tx, &vb, 1, p);
	if (err) {
		n->tx_free[n->tx_nfree++] = slot;
		return err;
	}
	n->stats.tx_frames++;
	n->stats.tx_bytes += len;
	return 0;
}

void vnet_flush(struct vnet *n)
{
	virtq_kick(&n->tx);
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	int err = vnet_queue(n, frame, len);

	if (!err)
		vnet_flush(n);
	return err;
}

int vnet_send_batch(struct vnet *n, const struct vnet_frame *f, unsigned count)
{
	unsigned i;
	int err = 0;

	for (i = 0; i < count; i++) {
		err = vnet_queue(n, f[i].data, f[i].len);
		if (err)
			break;
	}
	vnet_flush(n);
	return i ? (int)i : err;
}

int vnet_tx_drain(struct vnet *n, uint64_t timeout_us)
{
	uint64_t end = tsc_deadline(timeout_us);

	vnet_flush(n);
	for (;;) {
		vnet_tx_reap(n);
		if (!virtq_in_flight(&n->tx))
			return 0;
		if (n->tx.broken)
			return -EPROTO;
		if ((int64_t)(rdtsc() - end) >= 0)
			return -ETIMEDOUT;
		cpu_relax();
	}
}

/* ---- set-up -------------------------------------------------------------- */

/* The transmit queue's completions are reaped by polling: no interrupts
 * for it even with irq=1 (its MSI-X vector stays set, unused). */
static void tx_no_interrupts(struct virtq *vq)
{
	vq->irq = false;
	if (vq->event_idx)
		vq->avail->ring[vq->size] = (uint16_t)(vq->last_used + 0x7fff);
	else
		vq->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

static int alloc_buffers(struct vnet *n)
{
	n->rx_stride = (n->rx_buf_size + 63) & ~63U;
	n->rx_bufs = dma_alloc((size_t)n->rx.size * n->rx_stride, 4096);
	n->rx_pending = dma_alloc(n->rx.size * sizeof(uint16_t), 2);
	n->tx_bufs = dma_alloc((size_t)n->tx.size * VNET_TX_SLOT, 4096);
	n->tx_free = dma_alloc(n->tx.size * sizeof(uint16_t), 2);
	if (!n->rx_bufs || !n->rx_pending || !n->tx_bufs || !n->tx_free)
		return -ENOMEM;
	for (unsigned i = 0; i < n->tx.size; i++)
		n->tx_free[i] = (uint16_t)(n->tx.size - 1 - i);
	n->tx_nfree = n->tx.size;
	/* Re-post a quarter of the ring at a time (at most 64), so kicks
	 * are rare; vnet_recv() re-posts early if fewer than the largest
	 * frame needs would be left. */
	n->rx_min_posted =
		(VNET_HDR_LEN + VNET_MAX_FRAME + n->rx_buf_size - 1) /
		n->rx_buf_size;
	if (n->rx_min_posted > n->rx.size)
		return virtio_fail(&n->vd,
				   "%u receive buffers of %u bytes cannot "
				   "hold a %u-byte frame",
				   n->rx.size, n->rx_buf_size, VNET_MAX_FRAME);
	n->rx_batch = n->rx.size / 4;
	if (n->rx_batch > 64)
		n->rx_batch = 64;
	if (!n->rx_batch)
		n->rx_batch = 1;
	return 0;
}

/* A locally administered unicast address from the TSC (spec 5.1.5: the
 * driver makes one up when the device has none). */
static void make_up_mac(uint8_t *mac)
{
	uint64_t r = rdtsc() * 0x9e3779b97f4a7c15ULL;

	for (unsigned i = 0; i < ETH_ALEN; i++)
		mac[i] = (uint8_t)(r >> (8 * i));
	mac[0] = (mac[0] & 0xfc) | 0x02;
}

int vnet_open(struct vnet *n, unsigned index, const struct vnet_opts *o)
{
	uint64_t want =
		VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		(o->no_mrg_rxbuf ? 0 : VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
	int err;

	*n = (struct vnet){.timeout_us = TX_TIMEOUT_US};
	err = virtio_start(&n->vd, VIRTIO_ID_NET, index, &o->virtio, want);
	if (err)
		return err;
	n->mrg_rxbuf = virtio_has(&n->vd, VIRTIO_NET_F_MRG_RXBUF);
	n->rx_buf_size = o->rx_buf ? o->rx_buf : VNET_RX_BUF_DEF;
	if (n->rx_buf_size > 65536 ||
	    n->rx_buf_size <
		    (n->mrg_rxbuf ? VNET_RX_BUF_SMALL : VNET_RX_BUF_MIN))
		return virtio_fail(&n->vd,
				   "receive buffers of %u bytes: want %u to "
				   "65536 %s MRG_RXBUF",
				   n->rx_buf_size,
				   n->mrg_rxbuf ? VNET_RX_BUF_SMALL
						: VNET_RX_BUF_MIN,
				   n->mrg_rxbuf ? "with" : "without");
	err = virtio_config_read(&n->vd, read_config, n);
	if (err)
		return err;
	n->mac_from_device =
		virtio_has(&n->vd, VIRTIO_NET_F_MAC) && !o->has_mac;
	if (o->has_mac)
		memcpy(n->mac, o->mac, ETH_ALEN);
	else if (!n->mac_from_device)
		make_up_mac(n->mac);
	err = virtq_setup(&n->vd, &n->rx, 0, o->virtio.queue_size);
	if (!err)
		err = virtq_setup(&n->vd, &n->tx, 1, o->virtio.queue_size);
	if (err)
		return err;
	if (n->vd.msix)
		tx_no_interrupts(&n->tx);
	err = alloc_buffers(n);
	if (!err)
		err = virtio_driver_ok(&n->vd);
	if (err)
		return err;
	/* Spec 5.1.6.3: fill the receive queue (after DRIVER_OK, which
	 * must come before any notification). */
	for (unsigned i = 0; i < n->rx.size; i++)
		n->rx_pending[i] = (uint16_t)i;
	n->rx_npending = n->rx.size;
	rx_refill(n);
	n->stats.rx_refills = 0;
	return 0;
}
