/* SPDX-License-Identifier: MIT */
/*
 * A virtio device as the transport sees it (virtio 1.2). A device supplies
 * struct virtio_dev_ops and its config space; the transport (virtio-pci)
 * does feature negotiation, status, queue set-up, notifications and
 * interrupts, and runs the device's I/O thread.
 *
 * Threads: queue_notify and fd callbacks run on the device's I/O thread;
 * config accesses, activate and reset run on a vCPU thread. The transport
 * holds d->lock around every one of these calls, so a device sees them one
 * at a time and needs no lock of its own for state they share.
 */
#ifndef BERTH_VIRTIO_VIRTIO_H
#define BERTH_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/virtqueue.h"

/* Device status bits (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER	  0x02
#define VIRTIO_STATUS_DRIVER_OK	  0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

/* Transport feature bits (spec 6). */
#define VIRTIO_F_VERSION_1 32

/* Device IDs (spec 5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4

#define VIRTIO_MAX_QUEUES 64

struct virtio_dev;

struct virtio_dev_ops {
	/* The driver notified queue q (its ioeventfd fired). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Device-specific config space; off + len <= config_size is checked
	 * by the transport. Either may be NULL (reads then return zeroes). */
	void (*config_read)(struct virtio_dev *d, unsigned off, void *data,
			    unsigned len);
	void (*config_write)(struct virtio_dev *d, unsigned off,
			     const void *data, unsigned len);
	/* May the driver have these features (all bits)? Checked when it
	 * sets FEATURES_OK, after they were found a subset of those offered;
	 * false leaves FEATURES_OK clear. May be NULL. */
	bool (*features_ok)(struct virtio_dev *d, uint64_t features);
	/* The driver set DRIVER_OK with these queues enabled; -errno makes
	 * the transport set DEVICE_NEEDS_RESET. May be NULL. */
	int (*activate)(struct virtio_dev *d);
	/* The driver reset the device: finish or drop in-flight requests and
	 * forget queue state before returning. May be NULL. */
	void (*reset)(struct virtio_dev *d);
};

/* What a device asks of its transport. */
struct virtio_transport_ops {
	/* Send queue q's interrupt (the device already checked that the
	 * driver wants one). */
	void (*notify_queue)(void *t, unsigned q);
	/* Send the configuration-change interrupt. */
	void (*notify_config)(void *t);
	/* Set DEVICE_NEEDS_RESET and send the configuration interrupt. */
	void (*needs_reset)(void *t);
	/* Call cb(d, arg) on the device's I/O thread whenever fd is readable
	 * (an io_uring eventfd, a tap device). */
	int (*watch_fd)(void *t, int fd,
			void (*cb)(struct virtio_dev *d, void *arg), void *arg);
	/* Change what a watched fd is waited for: EPOLLIN, EPOLLOUT, both
	 * or 0 (paused). watch_fd starts it at EPOLLIN. */
	int (*watch_events)(void *t, int fd, uint32_t events);
};

struct virtio_dev {
	const char *name; /* "virtio-blk0": used in log lines */
	uint16_t device_id;
	uint32_t pci_class; /* class code: base << 16 | sub << 8 | prog-if */
	uint64_t features;  /* device-specific bits offered */
	uint64_t driver_features; /* what the driver accepted (all bits) */
	unsigned num_queues;
	uint16_t queue_max; /* largest queue size offered */
	unsigned config_size;
	const struct virtio_dev_ops *ops;
	void *priv; /* the device's own state */
	const struct guest_mem *mem;
	struct virtq vqs[VIRTIO_MAX_QUEUES];
	pthread_mutex_t lock; /* held by the transport around every op */
	const struct virtio_transport_ops *tops;
	void *transport;
};

/* True if the driver accepted feature bit. */
static inline bool virtio_has_feature(const struct virtio_dev *d, unsigned bit)
{
	return bit < 64 && (d->driver_features >> bit) & 1;
}

/* After virtq_push()es on queue q: interrupt the driver if it wants one. */
void virtio_queue_used(struct virtio_dev *d, unsigned q);

/* The driver broke the rules (malformed queue): log why (rate-limited),
 * set DEVICE_NEEDS_RESET; the device stops using its queues until reset. */
void virtio_dev_broken(struct virtio_dev *d, const char *why);

/* Send the configuration-change interrupt (e.g. capacity changed). */
void virtio_config_changed(struct virtio_dev *d);

#endif
