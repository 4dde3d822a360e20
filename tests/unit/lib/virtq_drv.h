/* SPDX-License-Identifier: MIT */
/* The driver's side of a split virtqueue (virtio 1.2, 2.7) in fake guest
 * memory, for device unit tests: lay out the rings, write descriptor
 * chains, make them available and read back what the device used. */
#ifndef BERTH_TESTS_UNIT_LIB_VIRTQ_DRV_H
#define BERTH_TESTS_UNIT_LIB_VIRTQ_DRV_H

#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/virtqueue.h"

struct virtq_drv {
	const struct guest_mem *mem;
	uint16_t size;
	uint64_t desc, avail, used; /* ring addresses in guest memory */
	uint16_t next_desc;	    /* next descriptor to hand out */
	uint16_t avail_idx;	    /* our copy of avail->idx */
	uint16_t used_seen;	    /* used entries already taken */
};

/* Zero a queue of size entries at desc/avail/used (the device side is set
 * up separately, with virtq_enable on the same addresses). */
void virtq_drv_init(struct virtq_drv *v, const struct guest_mem *m,
		    uint16_t size, uint64_t desc, uint64_t avail,
		    uint64_t used);

/* Write bufs[0..n) as one chain of descriptors (device_writes sets
 * VIRTQ_DESC_F_WRITE) and return its head; descriptors are taken round
 * robin. The chain is not yet available. */
uint16_t virtq_drv_add(struct virtq_drv *v, const struct virtq_buf *bufs,
		       unsigned n);

/* Put head (any value, valid or not) in the next avail slot and publish
 * it by bumping avail->idx. */
void virtq_drv_publish(struct virtq_drv *v, uint16_t head);

/* The device's used->idx. */
uint16_t virtq_drv_used_idx(const struct virtq_drv *v);

/* Take the next used element: 1 with id and len filled, 0 if none. */
int virtq_drv_take_used(struct virtq_drv *v, uint32_t *id, uint32_t *len);

#endif
