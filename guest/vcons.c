/* SPDX-License-Identifier: MIT */
/*
 * virtio-console, driver side, port 0 without MULTIPORT (virtio 1.2 section
 * 5.3). Receive buffers are posted before DRIVER_OK (spec 5.3.6.1: the
 * driver fills the receiveq first) and reposted as soon as consumed.
 */
#include "vcons.h"

#define QUEUE_RX	   0
#define QUEUE_TX	   1
#define DEFAULT_TIMEOUT_US 10000000
#define TXBUF_SIZE	   4096

static int post_rx(struct vcons *c, uint8_t *buf)
{
	struct virtq_buf b = {buf, VCONS_RX_BUF_SIZE, true};

	return virtq_add(&c->rx, &b, 1, buf);
}

int vcons_open(struct vcons *c, unsigned index, const struct virtio_opts *o)
{
	int err;

	*c = (struct vcons){.timeout_us = DEFAULT_TIMEOUT_US};
	err = virtio_start(&c->vd, VIRTIO_ID_CONSOLE, index, o, 0);
	if (!err)
		err = virtq_setup(&c->vd, &c->rx, QUEUE_RX, o->queue_size);
	if (!err)
		err = virtq_setup(&c->vd, &c->tx, QUEUE_TX, o->queue_size);
	if (err)
		return err;
	c->rxbuf = dma_alloc(VCONS_RX_BUFS * VCONS_RX_BUF_SIZE, 64);
	c->txbuf = dma_alloc(TXBUF_SIZE, 64);
	c->txbuf_size = TXBUF_SIZE;
	if (!c->rxbuf || !c->txbuf)
		return -ENOMEM;
	for (unsigned i = 0; i < VCONS_RX_BUFS && !err; i++)
		err = post_rx(c, c->rxbuf + i * VCONS_RX_BUF_SIZE);
	if (!err)
		err = virtio_driver_ok(&c->vd);
	if (err)
		return err;
	/* Notifications only after DRIVER_OK (spec 3.1.1). */
	virtq_kick(&c->rx);
	printf("%s: port 0, queue sizes %u/%u, %s\n", c->vd.name, c->rx.size,
	       c->tx.size, c->vd.msix ? "MSI-X" : "polling");
	return 0;
}

/* One transmit of at most txbuf_size bytes, copied so that the caller's
 * buffer need not be DMA-able or stay put. */
static int write_chunk(struct vcons *c, const uint8_t *p, uint32_t n)
{
	struct virtq_buf b = {c->txbuf, n, false};
	int err;

	memcpy(c->txbuf, p, n);
	err = virtq_add(&c->tx, &b, 1, c->txbuf);
	if (err)
		return err;
	virtq_kick(&c->tx);
	if (virtq_wait(&c->tx, NULL, c->timeout_us) != c->txbuf)
		return c->tx.broken ? -EPROTO : -ETIMEDOUT;
	return 0;
}

int vcons_write(struct vcons *c, const void *buf, uint32_t len)
{
	const uint8_t *p = buf;

	while (len) {
		uint32_t n = len < c->txbuf_size ? len : c->txbuf_size;
		int err = write_chunk(c, p, n);

		if (err)
			return err;
		p += n;
		len -= n;
	}
	return 0;
}

/* Make c->cur a received buffer with data left, waiting until the TSC
 * reaches end if need be; consumed buffers go straight back. */
static int next_rx(struct vcons *c, uint64_t end)
{
	while (!c->cur || c->cur_off == c->cur_len) {
		uint32_t len;
		uint8_t *buf;

		if (c->cur) {
			int err = post_rx(c, c->cur);

			if (err)
				return err;
			virtq_kick(&c->rx);
			c->cur = NULL;
		}
		buf = virtq_wait_until(&c->rx, &len, end);
		if (!buf)
			return c->rx.broken ? -EPROTO : -ETIMEDOUT;
		c->cur = buf;
		c->cur_off = 0;
		c->cur_len = len < VCONS_RX_BUF_SIZE ? len : VCONS_RX_BUF_SIZE;
	}
	return 0;
}

static int read_until(struct vcons *c, void *buf, uint32_t len, uint64_t end)
{
	uint32_t n;
	int err = next_rx(c, end);

	if (err == -ETIMEDOUT)
		return 0;
	if (err)
		return err;
	n = c->cur_len - c->cur_off;
	if (n > len)
		n = len;
	memcpy(buf, c->cur + c->cur_off, n);
	c->cur_off += n;
	return (int)n;
}

int vcons_read(struct vcons *c, void *buf, uint32_t len, uint64_t timeout_us)
{
	return read_until(c, buf, len, tsc_deadline(timeout_us));
}

int vcons_read_line(struct vcons *c, char *line, uint32_t size,
		    uint64_t timeout_us)
{
	uint64_t end = tsc_deadline(timeout_us);
	uint32_t n = 0;

	while (n + 1 < size) {
		char ch;
		int got = read_until(c, &ch, 1, end);

		if (got < 0)
			return got;
		if (got == 0)
			return -ETIMEDOUT;
		if (ch == '\n')
			break;
		if (ch != '\r')
			line[n++] = ch;
	}
	line[n] = '\0';
	return (int)n;
}
