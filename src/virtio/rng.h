/* SPDX-License-Identifier: MIT */
/* virtio-rng (virtio 1.2, 5.4): one request queue, filled from getrandom. */
#ifndef BERTH_VIRTIO_RNG_H
#define BERTH_VIRTIO_RNG_H

#include "virtio/virtio.h"

/* Fill in d as an entropy device (no config space, no features). */
void virtio_rng_init(struct virtio_dev *d, const char *name);

#endif
