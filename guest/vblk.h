/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk driver (virtio 1.2 section 5.2) for the test guests: one
 * request queue, requests of a 16-byte header, data buffers and a status
 * byte, any number in flight up to the queue's capacity. (The test guest
 * itself is virtio_blk.c; this is the driver.)
 */
#ifndef GUEST_VBLK_H
#define GUEST_VBLK_H

#include "virtio.h"

/* Feature bits (spec 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_GEOMETRY	  4
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_TOPOLOGY	  10
#define VIRTIO_BLK_F_CONFIG_WCE	  11
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (spec 5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		  0
#define VIRTIO_BLK_S_IOERR	  1
#define VIRTIO_BLK_S_UNSUPP	  2
#define VBLK_S_NONE		  0xff /* before the device writes one */
#define VIRTIO_BLK_WZ_UNMAP	  1
#define VIRTIO_BLK_ID_BYTES	  20
#define VBLK_SECTOR		  512 /* "sector" is always 512 bytes */

#define VBLK_MAX_SEGS (VIRTQ_MAX_INDIRECT - 2) /* header, status */

/* The device configuration, fields of features not offered left 0. */
struct vblk_config {
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t size_max, seg_max, blk_size;
	uint16_t num_queues;
	uint8_t writeback;
	uint32_t max_discard_sectors, max_discard_seg, discard_align;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
};

/* One request; lives in guest RAM because the device reads the header
 * and writes the status byte there. */
struct vblk_req {
	struct {
		uint32_t type;
		uint32_t reserved;
		uint64_t sector;
	} hdr;
	struct { /* the one discard / write-zeroes segment */
		uint64_t sector;
		uint32_t num_sectors;
		uint32_t flags;
	} dwz;
	uint8_t status;
	bool done;
	uint32_t used_len;
	void *data;
	uint32_t len;
	void *priv; /* the caller's */
};

struct vblk {
	struct virtio_dev vd;
	struct virtq vq;
	struct vblk_config cfg;
	uint64_t timeout_us; /* per wait; default 10 s */
};

/* virtio_start() the index'th virtio-blk, also accepting RO, BLK_SIZE,
 * SEG_MAX, SIZE_MAX, FLUSH, DISCARD and WRITE_ZEROES if offered; read the
 * config, set up queue 0, set DRIVER_OK. */
int vblk_open(struct vblk *b, unsigned index,
	      const struct virtio_opts *o) __must_check;
/* Queue a read or write (VIRTIO_BLK_T_IN/OUT) of len bytes at sector,
 * split into segments of at most size_max and seg_max of them; or a FLUSH
 * or GET_ID (sector 0; GET_ID needs a 20-byte data buffer). No kick. */
int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type,
		uint64_t sector, void *data, uint32_t len) __must_check;
/* Queue a DISCARD or WRITE_ZEROES of one segment. No kick. */
int vblk_submit_dwz(struct vblk *b, struct vblk_req *r, uint32_t type,
		    uint64_t sector, uint32_t count,
		    uint32_t flags) __must_check;
/* Notify the device of queued requests (if it wants to be). */
void vblk_kick(struct vblk *b);
/* The next completed request (r->done, r->status set), waiting up to
 * b->timeout_us; NULL on timeout or a broken queue. */
struct vblk_req *vblk_complete(struct vblk *b);
/* One request start to finish: the device's status (VIRTIO_BLK_S_*), or
 * a negative error if it could not be queued or did not complete. */
int vblk_io(struct vblk *b, uint32_t type, uint64_t sector, void *data,
	    uint32_t len);
int vblk_dwz(struct vblk *b, uint32_t type, uint64_t sector, uint32_t count,
	     uint32_t flags);
/* A request struct from guest RAM (requests must not be on a stack that
 * could be reused before they complete). */
struct vblk_req *vblk_req_alloc(unsigned n);
static inline bool vblk_has(const struct vblk *b, unsigned bit)
{
	return virtio_has(&b->vd, bit);
}
/* "OK", "IOERR", "UNSUPP", or "0x.." for another status byte. */
const char *vblk_status_name(int status);

#endif
