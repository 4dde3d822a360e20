/* SPDX-License-Identifier: MIT */
/*
 * virtio-console driver (virtio 1.2 section 5.3), port 0 only: MULTIPORT
 * is not negotiated, so queue 0 is port 0's receiveq and queue 1 its
 * transmitq, and there is no control queue.
 */
#ifndef GUEST_VCONS_H
#define GUEST_VCONS_H

#include "virtio.h"

#define VCONS_RX_BUFS	  8
#define VCONS_RX_BUF_SIZE 256

struct vcons {
	struct virtio_dev vd;
	struct virtq rx, tx;
	uint8_t *rxbuf; /* VCONS_RX_BUFS buffers */
	uint8_t *cur;	/* the received buffer being consumed */
	uint32_t cur_len, cur_off;
	uint8_t *txbuf; /* a copy of what is being sent */
	uint32_t txbuf_size;
	uint64_t timeout_us; /* for a transmit; default 10 s */
};

/* virtio_start() the index'th virtio-console, set up both queues, post
 * the receive buffers, DRIVER_OK. */
int vcons_open(struct vcons *c, unsigned index,
	       const struct virtio_opts *o) __must_check;
/* Send len bytes on port 0 and wait until the device has taken them. */
int vcons_write(struct vcons *c, const void *buf, uint32_t len) __must_check;
/* Up to len received bytes into buf, waiting up to timeout_us for the
 * first; the count (0 on timeout) or a negative error. */
int vcons_read(struct vcons *c, void *buf, uint32_t len, uint64_t timeout_us);
/* One line ('\n' dropped, NUL-terminated, at most size - 1 bytes) within
 * timeout_us; its length, or -ETIMEDOUT. */
int vcons_read_line(struct vcons *c, char *line, uint32_t size,
		    uint64_t timeout_us);

#endif
