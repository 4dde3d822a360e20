/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng, driver side (virtio 1.2 section 5.4). The device may fill
 * only part of a buffer (used length), so reads loop; a bound on empty
 * answers keeps a device that returns nothing from hanging the guest.
 */
#include "vrng.h"

#define DEFAULT_TIMEOUT_US 10000000
#define MAX_EMPTY	   100 /* zero-length answers in a row */

int vrng_open(struct vrng *r, unsigned index, const struct virtio_opts *o)
{
	int err;

	*r = (struct vrng){.timeout_us = DEFAULT_TIMEOUT_US};
	err = virtio_start(&r->vd, VIRTIO_ID_RNG, index, o, 0);
	if (!err)
		err = virtq_setup(&r->vd, &r->vq, 0, o->queue_size);
	if (!err)
		err = virtio_driver_ok(&r->vd);
	if (!err)
		printf("%s: queue size %u, %s\n", r->vd.name, r->vq.size,
		       r->vd.msix ? "MSI-X" : "polling");
	return err;
}

/* One request for up to len bytes at p; how many came back. */
static int read_once(struct vrng *r, uint8_t *p, uint32_t len)
{
	struct virtq_buf buf = {p, len, true};
	uint32_t got;
	int err = virtq_add(&r->vq, &buf, 1, p);

	if (err)
		return err;
	virtq_kick(&r->vq);
	if (virtq_wait(&r->vq, &got, r->timeout_us) != p)
		return r->vq.broken ? -EPROTO : -ETIMEDOUT;
	return (int)got;
}

int vrng_read(struct vrng *r, void *buf, uint32_t len)
{
	uint8_t *p = buf;
	unsigned empty = 0;

	while (len) {
		int got = read_once(r, p, len);

		if (got < 0)
			return got;
		if (got == 0 && ++empty == MAX_EMPTY) {
			printf("%s: %u empty answers in a row\n", r->vd.name,
			       empty);
			return -EIO;
		}
		if (got)
			empty = 0;
		p += got;
		len -= (uint32_t)got;
	}
	return 0;
}
