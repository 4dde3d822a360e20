/* SPDX-License-Identifier: MIT */
/*
 * The device side of a virtio 1.2 split virtqueue (spec 2.7), used by every
 * virtio device in berth. Everything in the rings is written by the guest
 * and is validated here: ring indices, descriptor indices, chain length and
 * loops, indirect tables, buffer addresses and lengths. A malformed queue is
 * marked broken; the caller then marks the device DEVICE_NEEDS_RESET.
 *
 * Not thread-safe: one thread (the device's I/O thread) owns a queue.
 */
#ifndef BERTH_VIRTIO_VIRTQUEUE_H
#define BERTH_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define VIRTQ_MAX_SIZE 32768 /* spec maximum queue size */
/* Longest chain accepted, direct plus indirect descriptors (bhyve and
 * QEMU bound it the same way); longer chains are malformed. */
#define VIRTQ_MAX_CHAIN 1024

/* Feature bits the library implements (spec 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29

struct virtq_buf {
	uint64_t gpa;
	uint32_t len;
	bool device_writes; /* VIRTQ_DESC_F_WRITE: the device fills it */
};

/* One request: the device-readable buffers first, then the writable ones. */
struct virtq_chain {
	uint16_t head;	  /* descriptor index to hand back in virtq_push() */
	unsigned nr;	  /* buffers in bufs[] */
	unsigned nr_out;  /* how many of bufs[] come first and are readable */
	uint64_t out_len; /* bytes the device may read */
	uint64_t in_len;  /* bytes the device may write */
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool enabled;
	bool broken; /* set on the first malformed ring or chain */
	/* Ring locations, bounds-checked once by virtq_enable(). */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	void *desc, *avail, *used;
	uint16_t last_avail;	 /* next avail ring slot to consume */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt sent */
	bool signalled_valid;
};

/* Set up a queue of size entries at the given ring addresses. -EINVAL if
 * size is not a power of two within 1..VIRTQ_MAX_SIZE, a ring is misaligned
 * (desc 16, avail 2, used 4 bytes) or not entirely in guest RAM. */
int virtq_enable(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
		 uint64_t desc, uint64_t avail, uint64_t used, bool indirect,
		 bool event_idx) __attribute__((warn_unused_result));

/* Forget the queue (device reset); it stays disabled until virtq_enable. */
void virtq_reset(struct virtq *vq);

/*
 * Take the next available chain. Returns 1 and fills *chain, 0 if the
 * driver has made nothing new available, or -EINVAL if the ring or the
 * chain is malformed (then vq->broken is set and every later call fails).
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
	__attribute__((warn_unused_result));

/* Hand chain head back to the driver with written bytes in its writable
 * buffers. -EINVAL if the queue is broken or disabled. */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
	__attribute__((warn_unused_result));

/* Hand n chains back at once: the driver sees all of them or none (a
 * merged receive buffer, virtio-net 5.1.6.4). -EINVAL as virtq_push, or if
 * n exceeds the queue size; nothing is written then. */
int virtq_push_many(struct virtq *vq, const uint16_t *heads,
		    const uint32_t *written, unsigned n)
	__attribute__((warn_unused_result));

/* Give back the last n chains virtq_pop returned, unused: the next pops
 * return them again (a device that found it cannot use them yet). */
void virtq_unpop(struct virtq *vq, unsigned n);

/* True if the driver wants an interrupt for what was pushed since the last
 * time this returned true (VIRTQ_AVAIL_F_NO_INTERRUPT or used_event). */
bool virtq_should_notify(struct virtq *vq);

/* Ask the driver not to notify (while the device is busy polling) or to
 * notify again; after re-enabling, check virtq_has_avail() to close the
 * race with a buffer added meanwhile. */
void virtq_set_notify(struct virtq *vq, bool enable);

/* True if the driver has made chains available that virtq_pop has not
 * taken yet. */
bool virtq_has_avail(struct virtq *vq);

/* Copy up to len bytes out of the chain's readable buffers starting at
 * byte offset off; returns the bytes copied or -EFAULT. */
long virtq_chain_read(const struct virtq *vq, const struct virtq_chain *c,
		      uint64_t off, void *dst, size_t len);

/* Copy up to len bytes into the chain's writable buffers starting at byte
 * offset off (counted over writable buffers only); returns bytes copied. */
long virtq_chain_write(const struct virtq *vq, const struct virtq_chain *c,
		       uint64_t off, const void *src, size_t len);

#endif
