/* SPDX-License-Identifier: MIT */
/* virtio-rng driver (virtio 1.2 section 5.4): one request queue of
 * device-writable buffers that come back holding random bytes. */
#ifndef GUEST_VRNG_H
#define GUEST_VRNG_H

#include "virtio.h"

struct vrng {
	struct virtio_dev vd;
	struct virtq vq;
	uint64_t timeout_us; /* per request; default 10 s */
};

/* virtio_start() the index'th virtio-rng, set up its requestq, DRIVER_OK. */
int vrng_open(struct vrng *r, unsigned index,
	      const struct virtio_opts *o) __must_check;
/* Fill buf with len random bytes, as many requests as the device needs
 * (it may return fewer bytes than asked). 0, or a negative error. */
int vrng_read(struct vrng *r, void *buf, uint32_t len) __must_check;

#endif
