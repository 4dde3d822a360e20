/* SPDX-License-Identifier: MIT */
/*
 * A modern virtio-pci driver (virtio 1.2, no legacy interface) for the test
 * guests, in ring 3: device discovery on PCI bus 0, the initialisation
 * sequence of spec 3.1.1, split virtqueues, device configuration reads with
 * the generation check, and polling or MSI-X interrupts.
 *
 * Every register access is a plain load or store of the field's width to
 * the BAR the firmware or VMM assigned, so each is one VM exit to the
 * device model (~26 us from ring 3 on PVM hosts); rings live in guest RAM
 * and are polled without exits.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "err.h"
#include "mem.h"
#include "pci.h"

/* Device types (spec 5); the modern PCI device ID is 0x1040 + type. */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4

#define VIRTIO_PCI_VENDOR 0x1af4

/* Device status (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER	  0x02
#define VIRTIO_STATUS_DRIVER_OK	  0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

/* Reserved feature bits (spec 6). */
#define VIRTIO_F_INDIRECT_DESC	   28
#define VIRTIO_F_EVENT_IDX	   29
#define VIRTIO_F_VERSION_1	   32
#define VIRTIO_F_ACCESS_PLATFORM   33
#define VIRTIO_F_RING_PACKED	   34
#define VIRTIO_F_IN_ORDER	   35
#define VIRTIO_F_ORDER_PLATFORM	   36
#define VIRTIO_F_SR_IOV		   37
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#define VIRTIO_F_RING_RESET	   40
#define VIRTIO_BIT(n)		   (1ULL << (n))

/* virtio_pci_cap.cfg_type (spec 4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	  5

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Split virtqueue layout (spec 2.7). */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1
#define VIRTQ_MAX_SIZE		   32768
#define VIRTQ_MAX_INDIRECT	   16 /* descriptors per indirect table */

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* then used_event, with EVENT_IDX */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* then avail_event, with EVENT_IDX */
};

/* One buffer of a request. Device-readable buffers come first. */
struct virtq_buf {
	void *addr;
	uint32_t len;
	bool device_writes; /* VIRTQ_DESC_F_WRITE */
};

struct virtio_dev;

struct virtq {
	struct virtio_dev *vdev;
	uint16_t index, size;
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	volatile uint16_t *notify; /* where to write index to notify */
	bool event_idx;		   /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;		   /* put chains in indirect tables */
	bool irq;		   /* interrupts wanted (MSI-X vector set) */
	uint16_t msix_vector;	   /* or VIRTIO_MSI_NO_VECTOR */
	uint16_t free_head, num_free;
	uint16_t avail_idx;	/* ours; published to avail->idx by kick */
	uint16_t kicked_idx;	/* avail->idx at the last notification check */
	uint16_t last_used;	/* next used->ring entry to consume */
	struct virtq_desc *ind; /* size tables of VIRTQ_MAX_INDIRECT */
	void **token;		/* per head: the caller's token */
	uint32_t *wlen;		/* per head: device-writable bytes */
	uint16_t *ndesc;	/* per head: descriptors in the ring */
	bool broken;		/* the device returned a bad used entry */
	unsigned errors;	/* protocol errors seen (bad ids, lengths) */
	uint64_t kicks, notifies; /* statistics: kicks, actual notifies */
	uint64_t added, completed;
};

struct virtio_dev {
	struct pci_dev pci;
	char name[32]; /* "virtio-blk 00:03.0": prefix for messages */
	uint16_t type; /* VIRTIO_ID_* */
	volatile uint8_t *common, *isr, *device, *notify_base;
	uint32_t notify_mul, notify_len, device_len;
	uint8_t pci_cfg;    /* config offset of the PCI_CFG window, or 0 */
	uint8_t common_bar; /* BAR of the common configuration */
	uint64_t device_features, features; /* offered; negotiated */
	uint8_t status;			    /* what the driver has set */
	uint16_t num_queues;
	/* MSI-X (irq mode): the table in its BAR, its size, whether on. */
	uint8_t msix_cap;
	uint16_t msix_size;
	volatile uint32_t *msix_table;
	bool msix;
	bool verbose;
	bool told_needs_reset;
};

/* What a test asks of a device driver's open function. */
struct virtio_opts {
	uint64_t features;   /* optional bits to accept (EVENT_IDX, ...) */
	unsigned queue_size; /* 0: the device's */
	bool irq;	     /* MSI-X interrupts instead of polling */
	bool verbose;
};

/* ---- device -------------------------------------------------------------- */

/* Find the index'th virtio device of this type on bus 0, map its
 * capabilities' BAR regions and enable memory decoding (if off) and bus
 * mastering. Prints why and returns -ENODEV (-EINVAL for a malformed
 * capability, -EIO if the PCI_CFG window disagrees) if that fails. */
int virtio_find(unsigned type, unsigned index,
		struct virtio_dev *vd) __must_check;
/* Spec 3.1.1 steps 1-6: reset (write 0, wait for 0), ACKNOWLEDGE, DRIVER,
 * read the 64 feature bits, write offered & (want | VERSION_1 |
 * ACCESS_PLATFORM) (VERSION_1 must be offered), set FEATURES_OK and check
 * that it stuck. Sets FAILED and returns -EIO on
 * failure; vd->features holds what was negotiated. */
int virtio_negotiate(struct virtio_dev *vd, uint64_t want) __must_check;
/* virtio_find(), then virtio_negotiate() for want | o->features, then
 * virtio_enable_msix() if o->irq: what every device driver does first. */
int virtio_start(struct virtio_dev *vd, unsigned type, unsigned index,
		 const struct virtio_opts *o, uint64_t want) __must_check;
/* Step 8: DRIVER_OK, after the queues are set up. */
int virtio_driver_ok(struct virtio_dev *vd) __must_check;
/* Reset the device (status 0, waiting for it to read back 0). */
int virtio_reset(struct virtio_dev *vd) __must_check;
/* Give up: print the reason, set FAILED. Returns -EIO for convenience. */
int virtio_fail(struct virtio_dev *vd, const char *fmt, ...) __printf(2, 3);
uint8_t virtio_status(struct virtio_dev *vd);
/* True (and a message, once) if the device set DEVICE_NEEDS_RESET. */
bool virtio_needs_reset(struct virtio_dev *vd);
static inline bool virtio_has(const struct virtio_dev *vd, unsigned bit)
{
	return vd->features & VIRTIO_BIT(bit);
}

/* ---- device configuration ------------------------------------------------ */

/* Reads of device-specific configuration at off, natural width; out of the
 * structure's range they return 0. 64-bit fields are two 32-bit reads, so
 * wrap them (and any multi-field read) in virtio_config_read(). */
uint8_t virtio_cfg_read8(struct virtio_dev *vd, unsigned off);
uint16_t virtio_cfg_read16(struct virtio_dev *vd, unsigned off);
uint32_t virtio_cfg_read32(struct virtio_dev *vd, unsigned off);
uint64_t virtio_cfg_read64(struct virtio_dev *vd, unsigned off);
void virtio_cfg_write8(struct virtio_dev *vd, unsigned off, uint8_t v);
void virtio_cfg_write16(struct virtio_dev *vd, unsigned off, uint16_t v);
void virtio_cfg_write32(struct virtio_dev *vd, unsigned off, uint32_t v);
/* Run read(vd, arg) until config_generation reads the same before and
 * after it (spec 2.5.1, 4.1.4.3.1); -EIO if it never settles. */
int virtio_config_read(struct virtio_dev *vd,
		       void (*read)(struct virtio_dev *vd, void *arg),
		       void *arg) __must_check;
/* Read len (1, 2 or 4) bytes at off in BAR bar through the
 * VIRTIO_PCI_CAP_PCI_CFG window in configuration space (spec 4.1.4.9). */
uint32_t virtio_pci_cfg_read(struct virtio_dev *vd, uint8_t bar, uint32_t off,
			     unsigned len);

/* ---- virtqueues ---------------------------------------------------------- */

/* Set up queue index (spec 4.1.5.1.3): select it, read its size, write
 * max_size (rounded down to a power of two) if smaller, allocate and zero
 * the rings, set the MSI-X vector (NO_VECTOR unless irq mode is on), the
 * ring addresses and queue_enable. Before virtio_driver_ok(). */
int virtq_setup(struct virtio_dev *vd, struct virtq *vq, unsigned index,
		unsigned max_size) __must_check;
/* Free descriptors: a request of n buffers fits if n (direct) or 1
 * (indirect) descriptors are free. */
unsigned virtq_num_free(const struct virtq *vq);
/* Put a request of n buffers (device-readable first) in the ring; token
 * comes back from virtq_get(). Indirect when vq->indirect and n > 1.
 * Not visible to the device until virtq_kick(). token must not be NULL.
 * -ENOSPC if it does not fit now, -EINVAL if it never would. */
int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n,
	      void *token) __must_check;
/* Publish the added requests (write barrier, then avail->idx) and notify
 * the device unless it asked not to be (NO_NOTIFY or avail_event). */
void virtq_kick(struct virtq *vq);
/* The token of the next used request, its used length in *len; NULL if
 * none is ready. */
void *virtq_get(struct virtq *vq, uint32_t *len);
/* Wait up to timeout_us for a used request (polling, or halting for the
 * interrupt in irq mode); NULL on timeout, with a message. */
void *virtq_wait(struct virtq *vq, uint32_t *len, uint64_t timeout_us);
/* The same, quietly, until the TSC passes end (a timeout may be normal,
 * as for input that may not come). */
void *virtq_wait_until(struct virtq *vq, uint32_t *len, uint64_t end);
/* Requests added and not yet returned by virtq_get(). */
static inline unsigned virtq_in_flight(const struct virtq *vq)
{
	return (unsigned)(vq->added - vq->completed);
}

/* For virtq_setup(): allocate and initialise a queue's rings and free
 * list (EVENT_IDX and INDIRECT_DESC as negotiated). */
int virtq_init(struct virtq *vq, struct virtio_dev *vd, unsigned index,
	       unsigned size) __must_check;

/* ---- interrupts (irq=1) -------------------------------------------------- */

/* Turn on MSI-X (after virtio_negotiate, before virtq_setup): every table
 * entry delivers VEC_IRQ to this CPU (irq.h), config changes get
 * NO_VECTOR, and virtq_setup() gives queue i entry i % msix_size and
 * makes virtq_wait() halt instead of spin. -ENODEV without MSI-X. */
int virtio_enable_msix(struct virtio_dev *vd) __must_check;

#endif
