/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (virtio 1.2 section 5.3) with one port and no
 * VIRTIO_CONSOLE_F_MULTIPORT: queue 0 is port 0's receiveq (host to
 * guest), queue 1 its transmitq (guest to host). VIRTIO_CONSOLE_F_SIZE is
 * offered when the host knows a terminal size.
 *
 * Threads: the guest's output is written on the device's I/O thread. Host
 * input comes from another thread (the console loop) through
 * virtio_console_input(), which only takes the input buffer's own mutex
 * and signals an eventfd; the I/O thread then copies the input into the
 * receive buffers the guest posted.
 *
 * Output never blocks the I/O thread for long: each chain gets at most
 * VIRTIO_CONSOLE_STALL_MS of waiting for out_fd to take bytes. What is
 * left then is dropped and counted, and later output is written only
 * while out_fd takes it at once, until a chain goes out whole again.
 */
#ifndef BERTH_VIRTIO_CONSOLE_H
#define BERTH_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"

/* Feature bits (spec 5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE	     0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

#define VIRTIO_CONSOLE_RXQ 0 /* port 0 receiveq: host to guest */
#define VIRTIO_CONSOLE_TXQ 1 /* port 0 transmitq: guest to host */

/* Host input held for the guest until it posts receive buffers. */
#define VIRTIO_CONSOLE_IN_SIZE 4096
/* Guest output taken from one transmit chain; the rest is dropped, so a
 * guest cannot keep the I/O thread on one chain for long. */
#define VIRTIO_CONSOLE_MAX_PER_CHAIN 65536
/* Longest wait for out_fd per transmit chain. */
#define VIRTIO_CONSOLE_STALL_MS 500

/* Device configuration space (spec 5.3.4), little-endian. */
struct virtio_console_config {
	uint16_t cols;
	uint16_t rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
};

_Static_assert(sizeof(struct virtio_console_config) == 12, "console config");

/* Fill d as a console whose guest output goes to out_fd (-1 drops it);
 * cols and rows both non-zero offer VIRTIO_CONSOLE_F_SIZE. The transport
 * fills d->mem, d->tops and d->transport before the first activate.
 * -errno after one error line; d->priv is left NULL then. */
int virtio_console_init(struct virtio_dev *d, const char *name, int out_fd,
			uint16_t cols, uint16_t rows)
	__attribute__((warn_unused_result));

/* Free what init made; safe after a failed init. The transport must no
 * longer call d's ops or the watch_fd callback. */
void virtio_console_destroy(struct virtio_dev *d);

/* Any thread but the I/O thread: queue host input for the guest. Returns
 * how many bytes fitted; offer the rest again later. */
size_t virtio_console_input(struct virtio_dev *d, const uint8_t *buf,
			    size_t len);

/* Any thread but the I/O thread: the host terminal is now cols x rows;
 * with VIRTIO_CONSOLE_F_SIZE, tell the driver (configuration change). */
void virtio_console_resize(struct virtio_dev *d, uint16_t cols, uint16_t rows);

/* Guest output bytes dropped so far (out_fd stalled or failed). */
uint64_t virtio_console_dropped(struct virtio_dev *d);

#endif
