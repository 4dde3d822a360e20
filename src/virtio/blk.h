/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2 section 5.2): a disk backed by a regular file or a
 * host block device. Requests are read from the virtqueues on the device's
 * I/O thread and executed through one io_uring per disk; completions come
 * back through the ring's eventfd, which the first activate hands to the
 * transport with watch_fd(). Nothing here runs on a vCPU thread except
 * config reads, activate and reset.
 *
 * What the guest gets for a malformed request:
 * - readable part shorter than the 16-byte header, data not a multiple of
 *   512, a range past the capacity, more than seg_max data buffers, a
 *   write of any kind to a read-only disk, a backend error: IOERR;
 * - an unknown type or discard/write-zeroes flag: UNSUPP;
 * - no device-writable byte for the status: the chain cannot be answered,
 *   so the device is marked broken (virtio_dev_broken) until reset.
 * The used length is the status byte plus, on success, the data the device
 * wrote (IN: all of it, GET_ID: the id). A short read or write is resubmitted
 * for the rest; one that makes no progress is IOERR. A reset waits for
 * in-flight I/O and reports none of it.
 */
#ifndef BERTH_VIRTIO_BLK_H
#define BERTH_VIRTIO_BLK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"

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

/* Request types (spec 5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* Request status, the last device-writable byte of every request. */
#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

/* Flags of a discard or write-zeroes segment. */
#define VIRTIO_BLK_DWZ_F_UNMAP 1u

#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_ID_BYTES    20 /* GET_ID: NUL-padded, no NUL if 20 long */

/* Limits this device advertises and enforces. */
#define VIRTIO_BLK_QUEUE_MAX 256 /* largest virtqueue offered */
/* Data buffers per request (seg_max); a queue of 128 still fits a whole
 * request when the driver does not use indirect descriptors. */
#define VIRTIO_BLK_SEG_MAX 126
/* Requests in io_uring at once, over all queues of one disk. */
#define VIRTIO_BLK_INFLIGHT 128
/* Sectors per discard or write-zeroes segment; one segment per request. */
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 22)

/* The 16 bytes every request starts with (little-endian). */
struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One segment of a DISCARD or WRITE_ZEROES request. */
struct virtio_blk_discard_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags; /* VIRTIO_BLK_DWZ_F_UNMAP */
};

/* Device configuration space (spec 5.2.4), little-endian. */
struct virtio_blk_config {
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	struct {
		uint8_t physical_block_exp;
		uint8_t alignment_offset;
		uint16_t min_io_size;
		uint32_t opt_io_size;
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	uint32_t max_secure_erase_sectors;
	uint32_t max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
	struct {
		uint32_t zone_sectors;
		uint32_t max_open_zones;
		uint32_t max_active_zones;
		uint32_t max_append_sectors;
		uint32_t write_granularity;
		uint8_t model;
		uint8_t unused2[3];
	} zoned;
};

/* The offsets the spec gives; the driver reads the fields at these. */
#define BLK_CFG_AT(field, off)                                             \
	_Static_assert(offsetof(struct virtio_blk_config, field) == (off), \
		       "virtio_blk_config." #field)
BLK_CFG_AT(capacity, 0);
BLK_CFG_AT(size_max, 8);
BLK_CFG_AT(seg_max, 12);
BLK_CFG_AT(geometry, 16);
BLK_CFG_AT(blk_size, 20);
BLK_CFG_AT(topology.physical_block_exp, 24);
BLK_CFG_AT(topology.min_io_size, 26);
BLK_CFG_AT(topology.opt_io_size, 28);
BLK_CFG_AT(writeback, 32);
BLK_CFG_AT(unused0, 33);
BLK_CFG_AT(num_queues, 34);
BLK_CFG_AT(max_discard_sectors, 36);
BLK_CFG_AT(max_discard_seg, 40);
BLK_CFG_AT(discard_sector_alignment, 44);
BLK_CFG_AT(max_write_zeroes_sectors, 48);
BLK_CFG_AT(max_write_zeroes_seg, 52);
BLK_CFG_AT(write_zeroes_may_unmap, 56);
BLK_CFG_AT(max_secure_erase_sectors, 60);
BLK_CFG_AT(zoned, 72);
_Static_assert(sizeof(struct virtio_blk_config) == 96, "virtio_blk_config");
#undef BLK_CFG_AT

_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "request header");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16,
	       "discard/write-zeroes segment");

/* One --disk option, parsed. */
struct virtio_blk_options {
	char path[PATH_MAX];
	bool readonly; /* ,ro: open O_RDONLY, offer VIRTIO_BLK_F_RO */
	bool direct;   /* ,direct: O_DIRECT, bypass the host page cache */
	/* ,fail-sector=N: fault injection for tests. Every request touching
	 * sector N completes with -EIO from the io_uring completion path and
	 * reaches the guest as VIRTIO_BLK_S_IOERR; nothing is read or written. */
	bool fail_sector_set;
	uint64_t fail_sector;
};

/* Parse the value of --disk, PATH[,ro][,direct][,fail-sector=N]; the path
 * ends at the first comma. -EINVAL after one error line naming --disk. */
int virtio_blk_parse(const char *spec, struct virtio_blk_options *o)
	__attribute__((warn_unused_result));

/* Open and size the disk, set up its io_uring and fill d (device_id,
 * class, features, queues, config_size, ops, priv; name if NULL) for
 * num_queues (1..VIRTIO_MAX_QUEUES) request queues. The transport fills
 * d->mem, d->tops and d->transport before the first activate. -errno after
 * one error line; d->priv is left NULL then. */
int virtio_blk_init(struct virtio_dev *d, const struct virtio_blk_options *o,
		    unsigned num_queues) __attribute__((warn_unused_result));

/* Requests completed since the disk was opened. */
struct virtio_blk_stats {
	uint64_t read_ops, read_bytes, write_ops, write_bytes;
	uint64_t flush_ops, discard_ops; /* DISCARD and WRITE_ZEROES */
	uint64_t errors;		 /* completed with IOERR */
};

/* A snapshot of the counters; safe from any thread. */
void virtio_blk_get_stats(struct virtio_dev *d, struct virtio_blk_stats *st);

/* Wait for in-flight I/O, then close and free what init made; safe on a
 * device whose init failed. The transport must no longer call d's ops or
 * the watch_fd callback. */
void virtio_blk_destroy(struct virtio_dev *d);

#endif
