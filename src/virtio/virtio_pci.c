/* SPDX-License-Identifier: MIT */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"

#define PCI_VENDOR_VIRTIO      0x1af4
#define PCI_DEVICE_VIRTIO_BASE 0x1040 /* + device ID: modern devices */

/* BAR 0 layout. */
#define BAR0_SIZE	 0x8000
#define COMMON_OFF	 0x0000
#define COMMON_LEN	 0x3c
#define ISR_OFF		 0x1000
#define DEVICE_OFF	 0x2000
#define DEVICE_LEN	 0x1000
#define NOTIFY_OFF	 0x3000
#define NOTIFY_MULT	 4
#define MSIX_TABLE_OFF	 0x4000
#define MSIX_PBA_OFF	 0x6000
#define MSIX_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_NO_VECTOR 0xffff

/* Vendor capability types (spec 4.1.4). */
enum {
	CAP_COMMON = 1,
	CAP_NOTIFY = 2,
	CAP_ISR = 3,
	CAP_DEVICE = 4,
	CAP_PCI_CFG = 5,
};

struct virtio_pci_cap {
	uint8_t cap_vndr; /* 0x09 */
	uint8_t cap_next;
	uint8_t cap_len;
	uint8_t cfg_type;
	uint8_t bar;
	uint8_t id;
	uint8_t padding[2];
	uint32_t offset;
	uint32_t length;
} __attribute__((packed));

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: masked */
};

struct vp_queue {
	uint16_t size;
	uint16_t vector;
	bool enabled;
	uint64_t desc, driver, device;
	int efd;	  /* notifications: ioeventfd or the slow path */
	uint64_t io_addr; /* where the ioeventfd is registered, or 0 */
};

struct vp_watch {
	int fd;
	void (*cb)(struct virtio_dev *d, void *arg);
	void *arg;
};

struct virtio_pci {
	struct virtio_dev *d;
	struct virtio_pci_env env;
	struct pci_dev pci;
	uint8_t status;
	uint8_t isr;
	uint8_t config_generation;
	uint32_t dfselect, gfselect;
	uint64_t
		pending_features; /* written by the driver before FEATURES_OK */
	uint16_t config_vector;
	uint16_t queue_select;
	struct vp_queue q[VIRTIO_MAX_QUEUES];
	unsigned msix_cap, pcicfg_cap;
	unsigned nvec;
	struct msix_entry msix[MSIX_MAX_VECTORS];
	uint64_t pba[(MSIX_MAX_VECTORS + 63) / 64];
	int vec_efd[MSIX_MAX_VECTORS];
	unsigned vec_gsi[MSIX_MAX_VECTORS];
	/* The I/O thread. */
	pthread_t thread;
	bool thread_started;
	int epfd, stop_efd;
	unsigned nr_watch;
	struct vp_watch watch[4];
};

/* ---- MSI-X --------------------------------------------------------- */

static bool msix_enabled(const struct virtio_pci *vp, bool *fmask)
{
	uint16_t ctrl;

	memcpy(&ctrl, vp->pci.cfg + vp->msix_cap + 2, 2);
	*fmask = ctrl & 0x4000;
	return ctrl & 0x8000;
}

/* Deliver vector v, or keep it pending while it is masked (PCI 3.0 6.8.2).
 * Caller holds d->lock. */
static void msix_signal(struct virtio_pci *vp, unsigned v)
{
	uint64_t one = 1;
	bool fmask;

	if (v >= vp->nvec || !msix_enabled(vp, &fmask))
		return;
	if (fmask || (vp->msix[v].ctrl & 1)) {
		vp->pba[v / 64] |= 1ULL << (v % 64);
		return;
	}
	if (write(vp->vec_efd[v], &one, sizeof(one)) < 0)
		pr_warn("%s: MSI-X vector %u: %s", vp->d->name, v,
			strerror(errno));
}

/* Send what became deliverable (a vector or the function unmasked). */
static void msix_flush_pending(struct virtio_pci *vp)
{
	bool fmask;

	/* Disabled or function-masked: nothing is deliverable, and clearing
	 * a pending bit here would lose its interrupt. */
	if (!msix_enabled(vp, &fmask) || fmask)
		return;
	for (unsigned v = 0; v < vp->nvec; v++) {
		if (vp->pba[v / 64] & (1ULL << (v % 64))) {
			vp->pba[v / 64] &= ~(1ULL << (v % 64));
			msix_signal(vp, v);
		}
	}
}

static void msix_table_write(struct virtio_pci *vp, unsigned off,
			     const void *data, unsigned len)
{
	unsigned v = off / 16;
	struct msix_entry *e;

	if (v >= vp->nvec || (off % 16) + len > 16)
		return;
	e = &vp->msix[v];
	memcpy((uint8_t *)e + off % 16, data, len);
	e->ctrl &= 1;
	if (off % 16 < 12 &&
	    irq_msi_set(vp->env.irq, vp->vec_gsi[v],
			(uint64_t)e->addr_hi << 32 | e->addr_lo, e->data))
		pr_warn("%s: cannot route MSI-X vector %u", vp->d->name, v);
	if (!(e->ctrl & 1))
		msix_flush_pending(vp);
}

static void msix_read(struct virtio_pci *vp, unsigned off, void *data,
		      unsigned len)
{
	memset(data, 0, len);
	if (off >= MSIX_PBA_OFF - MSIX_TABLE_OFF) {
		off -= MSIX_PBA_OFF - MSIX_TABLE_OFF;
		if (off + len <= sizeof(vp->pba))
			memcpy(data, (uint8_t *)vp->pba + off, len);
	} else if (off / 16 < vp->nvec && (off % 16) + len <= 16) {
		memcpy(data, (uint8_t *)&vp->msix[off / 16] + off % 16, len);
	}
}

/* ---- notifications and interrupts ---------------------------------- */

static void vp_notify_queue(void *t, unsigned q)
{
	struct virtio_pci *vp = t;
	bool fmask;

	if (msix_enabled(vp, &fmask)) {
		if (vp->q[q].vector != VIRTIO_NO_VECTOR)
			msix_signal(vp, vp->q[q].vector);
	} else {
		vp->isr |= 1; /* INTx is not wired: polled drivers see ISR */
	}
}

static void vp_config_irq(struct virtio_pci *vp)
{
	bool fmask;

	vp->isr |= 2;
	if (msix_enabled(vp, &fmask) && vp->config_vector != VIRTIO_NO_VECTOR)
		msix_signal(vp, vp->config_vector);
}

/* The device changed its config: drivers re-read until config_generation
 * is stable (spec 4.1.4.3.1), so it must change with every update. */
static void vp_notify_config(void *t)
{
	struct virtio_pci *vp = t;

	vp->config_generation++;
	vp_config_irq(vp);
}

static void vp_needs_reset(void *t)
{
	struct virtio_pci *vp = t;

	if (vp->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	vp_config_irq(vp);
}

static int vp_watch_fd(void *t, int fd,
		       void (*cb)(struct virtio_dev *d, void *arg), void *arg)
{
	struct virtio_pci *vp = t;
	struct epoll_event ev = {.events = EPOLLIN};
	unsigned i = vp->nr_watch;

	if (i == sizeof(vp->watch) / sizeof(vp->watch[0]))
		return -ENOSPC;
	vp->watch[i] = (struct vp_watch){fd, cb, arg};
	ev.data.u64 = (1ULL << 32) | i;
	if (epoll_ctl(vp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	vp->nr_watch++;
	return 0;
}

static int vp_watch_events(void *t, int fd, uint32_t events)
{
	struct virtio_pci *vp = t;

	for (unsigned i = 0; i < vp->nr_watch; i++) {
		struct epoll_event ev = {.events = events,
					 .data.u64 = (1ULL << 32) | i};

		if (vp->watch[i].fd != fd)
			continue;
		return epoll_ctl(vp->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno
								       : 0;
	}
	return -ENOENT;
}

static const struct virtio_transport_ops vp_transport_ops = {
	.notify_queue = vp_notify_queue,
	.notify_config = vp_notify_config,
	.needs_reset = vp_needs_reset,
	.watch_fd = vp_watch_fd,
	.watch_events = vp_watch_events,
};

/* ---- ioeventfds ---------------------------------------------------- */

static int vp_ioeventfd(struct virtio_pci *vp, unsigned q, uint64_t addr,
			bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = 2, /* the driver writes the 16-bit queue index */
		.fd = vp->q[q].efd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(vp->env.vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/* Register queue q's ioeventfd at the notify address BAR 0 decodes now
 * (or drop it). Writes that miss it still arrive via vp_notify_write. */
static void vp_queue_ioeventfd(struct virtio_pci *vp, unsigned q, bool on)
{
	struct pci_bar *bar = &vp->pci.bars[0];
	uint64_t addr = bar->addr + NOTIFY_OFF + q * NOTIFY_MULT;

	if (vp->q[q].io_addr &&
	    (!on || !bar->mapped || vp->q[q].io_addr != addr)) {
		vp_ioeventfd(vp, q, vp->q[q].io_addr, false);
		vp->q[q].io_addr = 0;
	}
	if (on && bar->mapped && !vp->q[q].io_addr) {
		if (vp_ioeventfd(vp, q, addr, true))
			pr_warn("%s: no ioeventfd for queue %u: notifications "
				"take the slow path",
				vp->d->name, q);
		else
			vp->q[q].io_addr = addr;
	}
}

static void vp_bar_moved(struct pci_dev *pd, unsigned bar)
{
	struct virtio_pci *vp = pd->opaque;

	if (bar != 0)
		return;
	pthread_mutex_lock(&vp->d->lock);
	for (unsigned q = 0; q < vp->d->num_queues; q++)
		vp_queue_ioeventfd(vp, q, vp->q[q].enabled);
	pthread_mutex_unlock(&vp->d->lock);
}

/* ---- device status and reset --------------------------------------- */

static void vp_reset(struct virtio_pci *vp)
{
	struct virtio_dev *d = vp->d;

	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned q = 0; q < d->num_queues; q++) {
		vp_queue_ioeventfd(vp, q, false);
		virtq_reset(&d->vqs[q]);
		/* Field by field: the I/O thread reads efd without the lock. */
		vp->q[q].size = d->queue_max;
		vp->q[q].vector = VIRTIO_NO_VECTOR;
		vp->q[q].enabled = false;
		vp->q[q].desc = vp->q[q].driver = vp->q[q].device = 0;
	}
	vp->status = 0;
	vp->isr = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->pending_features = 0;
	d->driver_features = 0;
	vp->config_vector = VIRTIO_NO_VECTOR;
	vp->queue_select = 0;
}

static uint64_t vp_offered(const struct virtio_pci *vp)
{
	return vp->d->features | 1ULL << VIRTIO_F_VERSION_1 |
	       1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_EVENT_IDX;
}

/* The driver may only accept what was offered, and must accept
 * VERSION_1: this transport has no legacy interface (spec 6.1). */
static bool vp_features_ok(const struct virtio_pci *vp)
{
	uint64_t f = vp->pending_features;

	return !(f & ~vp_offered(vp)) && (f & (1ULL << VIRTIO_F_VERSION_1)) &&
	       (!vp->d->ops->features_ok || vp->d->ops->features_ok(vp->d, f));
}

/* Buffers posted before DRIVER_OK were not processed (a notify then is
 * dropped): look at every enabled queue once the device is live. */
static void vp_kick_enabled_queues(struct virtio_pci *vp)
{
	uint64_t one = 1;

	for (unsigned q = 0; q < vp->d->num_queues; q++)
		if (vp->q[q].enabled &&
		    write(vp->q[q].efd, &one, sizeof(one)) < 0)
			pr_warn("%s: queue %u: %s", vp->d->name, q,
				strerror(errno));
}

static void vp_write_status(struct virtio_pci *vp, uint8_t v)
{
	struct virtio_dev *d = vp->d;

	if (v == 0) {
		vp_reset(vp);
		return;
	}
	/* The driver may not clear a bit (spec 2.1.1); a driver that does
	 * must not renegotiate features or activate the device twice. */
	v |= vp->status;
	if ((v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
		if (vp_features_ok(vp))
			d->driver_features = vp->pending_features;
		else
			v &= ~VIRTIO_STATUS_FEATURES_OK; /* driver re-reads */
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vp->status & VIRTIO_STATUS_DRIVER_OK)) {
		vp->status = v;
		if (!(v & VIRTIO_STATUS_FEATURES_OK) ||
		    (d->ops->activate && d->ops->activate(d)))
			vp_needs_reset(vp);
		else
			vp_kick_enabled_queues(vp);
		return;
	}
	vp->status = v;
}

static void vp_enable_queue(struct virtio_pci *vp, unsigned q)
{
	struct virtio_dev *d = vp->d;
	struct vp_queue *vq = &vp->q[q];

	if (vq->enabled || !(vp->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	if (vq->size > d->queue_max ||
	    virtq_enable(&d->vqs[q], d->mem, vq->size, vq->desc, vq->driver,
			 vq->device,
			 virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC),
			 virtio_has_feature(d, VIRTIO_F_EVENT_IDX))) {
		/* A guest can repeat this at will: debug level only. */
		pr_debug("%s: queue %u: bad size %u or rings outside RAM",
			 d->name, q, vq->size);
		vp_needs_reset(vp);
		return;
	}
	vq->enabled = true;
	vp_queue_ioeventfd(vp, q, true);
}

/* ---- common configuration (spec 4.1.4.3) ---------------------------- */

struct vp_common {
	uint32_t dfselect, dfeature, gfselect, gfeature;
	uint16_t config_vector, num_queues;
	uint8_t status, config_generation;
	uint16_t queue_select, queue_size, queue_vector, queue_enable;
	uint16_t queue_notify_off;
	uint64_t queue_desc, queue_driver, queue_device;
	uint16_t queue_notify_data, queue_reset;
} __attribute__((packed));

_Static_assert(sizeof(struct vp_common) == COMMON_LEN, "common cfg layout");
_Static_assert(offsetof(struct vp_common, queue_desc) == 0x20, "queue_desc");

static struct vp_queue *vp_selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->d->num_queues ? &vp->q[vp->queue_select]
						    : NULL;
}

static void vp_common_snapshot(struct virtio_pci *vp, struct vp_common *c)
{
	struct vp_queue *q = vp_selected(vp);
	uint64_t f = vp_offered(vp);

	memset(c, 0, sizeof(*c));
	c->dfselect = vp->dfselect;
	c->dfeature =
		vp->dfselect < 2 ? (uint32_t)(f >> (32 * vp->dfselect)) : 0;
	c->gfselect = vp->gfselect;
	c->gfeature = vp->gfselect < 2 ? (uint32_t)(vp->pending_features >>
						    (32 * vp->gfselect))
				       : 0;
	c->config_vector = vp->config_vector;
	c->num_queues = vp->d->num_queues;
	c->status = vp->status;
	c->config_generation = vp->config_generation;
	c->queue_select = vp->queue_select;
	if (q) {
		c->queue_size = q->size;
		c->queue_vector = q->vector;
		c->queue_enable = q->enabled;
		c->queue_notify_off = vp->queue_select;
		c->queue_desc = q->desc;
		c->queue_driver = q->driver;
		c->queue_device = q->device;
	}
}

#define FIELD_HIT(off, len, field)                                 \
	((off) < offsetof(struct vp_common, field) +               \
			 sizeof(((struct vp_common *)0)->field) && \
	 offsetof(struct vp_common, field) < (off) + (len))

/* Apply the fields the write touched; vector numbers the device cannot
 * map read back as NO_VECTOR (spec 4.1.4.3.2). */
static void vp_common_apply(struct virtio_pci *vp, const struct vp_common *c,
			    unsigned off, unsigned len)
{
	struct vp_queue *q;
	unsigned sh;

	if (FIELD_HIT(off, len, dfselect))
		vp->dfselect = c->dfselect;
	if (FIELD_HIT(off, len, gfselect))
		vp->gfselect = c->gfselect;
	if (FIELD_HIT(off, len, gfeature) && vp->gfselect < 2 &&
	    !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
		sh = 32 * vp->gfselect;
		vp->pending_features &= ~(0xffffffffULL << sh);
		vp->pending_features |= (uint64_t)c->gfeature << sh;
	}
	if (FIELD_HIT(off, len, config_vector))
		vp->config_vector = c->config_vector < vp->nvec
					    ? c->config_vector
					    : VIRTIO_NO_VECTOR;
	if (FIELD_HIT(off, len, queue_select))
		vp->queue_select = c->queue_select;
	q = vp_selected(vp);
	if (q && !q->enabled) { /* queue fields are fixed once enabled */
		if (FIELD_HIT(off, len, queue_size))
			q->size = c->queue_size;
		if (FIELD_HIT(off, len, queue_desc))
			q->desc = c->queue_desc;
		if (FIELD_HIT(off, len, queue_driver))
			q->driver = c->queue_driver;
		if (FIELD_HIT(off, len, queue_device))
			q->device = c->queue_device;
	}
	if (q && FIELD_HIT(off, len, queue_vector))
		q->vector = c->queue_vector < vp->nvec ? c->queue_vector
						       : VIRTIO_NO_VECTOR;
	if (q && FIELD_HIT(off, len, queue_enable) && c->queue_enable == 1)
		vp_enable_queue(vp, vp->queue_select);
	if (FIELD_HIT(off, len, status))
		vp_write_status(vp, c->status);
}

static void vp_common_access(struct virtio_pci *vp, unsigned off, void *data,
			     unsigned len, bool is_write)
{
	struct vp_common c;

	if (off + len > COMMON_LEN) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	vp_common_snapshot(vp, &c);
	if (!is_write) {
		memcpy(data, (uint8_t *)&c + off, len);
		return;
	}
	memcpy((uint8_t *)&c + off, data, len);
	vp_common_apply(vp, &c, off, len);
}

/* ---- BAR 0 --------------------------------------------------------- */

/* A notify write that the ioeventfd did not catch (other width, or before
 * the queue was enabled): hand it to the I/O thread the same way. */
static void vp_notify_write(struct virtio_pci *vp, unsigned off,
			    const void *data, unsigned len)
{
	uint16_t q = 0;
	uint64_t one = 1;

	memcpy(&q, data, len < 2 ? len : 2);
	if (off / NOTIFY_MULT == q && q < vp->d->num_queues &&
	    write(vp->q[q].efd, &one, sizeof(one)) < 0)
		pr_warn("%s: queue %u notify: %s", vp->d->name, q,
			strerror(errno));
}

static void vp_device_cfg(struct virtio_pci *vp, unsigned off, void *data,
			  unsigned len, bool is_write)
{
	struct virtio_dev *d = vp->d;

	if (off + len > d->config_size) { /* beyond the device's config */
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		if (d->ops->config_write)
			d->ops->config_write(d, off, data, len);
	} else if (d->ops->config_read) {
		d->ops->config_read(d, off, data, len);
	} else {
		memset(data, 0, len);
	}
}

static void vp_bar0_access(struct virtio_pci *vp, uint64_t off, void *data,
			   unsigned len, bool is_write)
{
	pthread_mutex_lock(&vp->d->lock);
	if (off < ISR_OFF) {
		vp_common_access(vp, off - COMMON_OFF, data, len, is_write);
	} else if (off < DEVICE_OFF) {
		if (!is_write) { /* reading ISR acknowledges it (4.1.4.5) */
			memset(data, 0, len);
			if (off == ISR_OFF)
				*(uint8_t *)data = vp->isr;
			vp->isr = 0;
		}
	} else if (off < NOTIFY_OFF) {
		vp_device_cfg(vp, off - DEVICE_OFF, data, len, is_write);
	} else if (off < MSIX_TABLE_OFF) {
		if (is_write)
			vp_notify_write(vp, off - NOTIFY_OFF, data, len);
		else
			memset(data, 0, len);
	} else if (is_write) {
		if (off < MSIX_PBA_OFF) /* the PBA is read-only */
			msix_table_write(vp, off - MSIX_TABLE_OFF, data, len);
	} else {
		msix_read(vp, off - MSIX_TABLE_OFF, data, len);
	}
	pthread_mutex_unlock(&vp->d->lock);
}

static void vp_bar0_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	vp_bar0_access(opaque, off, data, len, false);
}

static void vp_bar0_write(void *opaque, uint64_t off, const void *data,
			  unsigned len)
{
	vp_bar0_access(opaque, off, (void *)data, len, true);
}

static const struct bus_ops vp_bar0_ops = {vp_bar0_read, vp_bar0_write};

/* ---- PCI config space: MSI-X control and the PCI_CFG window ---------- */

/* VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): the driver picks bar, offset and
 * length in the capability and then reads or writes pci_cfg_data. */
static void vp_pcicfg_window(struct virtio_pci *vp, bool is_write)
{
	uint8_t *cap = vp->pci.cfg + vp->pcicfg_cap;
	uint32_t off, len;

	memcpy(&off, cap + 8, 4);
	memcpy(&len, cap + 12, 4);
	if (cap[4] != 0 || (len != 1 && len != 2 && len != 4) ||
	    off >= BAR0_SIZE || off + len > BAR0_SIZE || off % len)
		return;
	if (!is_write)
		memset(cap + 16, 0, 4);
	vp_bar0_access(vp, off, cap + 16, len, is_write);
}

static bool vp_hits(unsigned off, unsigned len, unsigned at, unsigned n)
{
	return off < at + n && at < off + len;
}

static void vp_config_read(struct pci_dev *pd, unsigned off, unsigned len)
{
	struct virtio_pci *vp = pd->opaque;

	if (vp_hits(off, len, vp->pcicfg_cap + 16, 4))
		vp_pcicfg_window(vp, false);
}

static void vp_config_write(struct pci_dev *pd, unsigned off, unsigned len)
{
	struct virtio_pci *vp = pd->opaque;

	if (vp_hits(off, len, vp->pcicfg_cap + 16, 4))
		vp_pcicfg_window(vp, true);
	if (vp_hits(off, len, vp->msix_cap + 2, 2)) {
		pthread_mutex_lock(&vp->d->lock);
		msix_flush_pending(vp); /* enabled or unmasked */
		pthread_mutex_unlock(&vp->d->lock);
	}
}

static int vp_add_vendor_cap(struct virtio_pci *vp, uint8_t type, uint32_t off,
			     uint32_t len, unsigned extra)
{
	uint8_t buf[20] = {0}, wmask[20] = {0};
	struct virtio_pci_cap cap = {
		.cap_vndr = 0x09,
		.cap_len = (uint8_t)(sizeof(cap) + extra),
		.cfg_type = type,
		.bar = 0,
		.offset = off,
		.length = len,
	};
	uint32_t mult = NOTIFY_MULT;

	memcpy(buf, &cap, sizeof(cap));
	if (type == CAP_NOTIFY)
		memcpy(buf + sizeof(cap), &mult, 4);
	if (type == CAP_PCI_CFG) { /* bar, offset, length, data */
		wmask[4] = 0xff;
		memset(wmask + 8, 0xff, 12);
	}
	return pci_dev_add_cap(&vp->pci, buf, wmask, sizeof(cap) + extra);
}

static int vp_add_caps(struct virtio_pci *vp)
{
	uint8_t msix[12] = {0x11}, msix_wmask[12] = {0};
	uint16_t ctrl = (uint16_t)(vp->nvec - 1);
	uint32_t table = MSIX_TABLE_OFF, pba = MSIX_PBA_OFF; /* BIR 0 */
	int ret;

	memcpy(msix + 2, &ctrl, 2);
	memcpy(msix + 4, &table, 4);
	memcpy(msix + 8, &pba, 4);
	msix_wmask[3] = 0xc0; /* MSI-X enable, function mask */
	ret = pci_dev_add_cap(&vp->pci, msix, msix_wmask, sizeof(msix));
	if (ret < 0)
		return ret;
	vp->msix_cap = (unsigned)ret;
	if ((ret = vp_add_vendor_cap(vp, CAP_COMMON, COMMON_OFF, COMMON_LEN,
				     0)) < 0 ||
	    (ret = vp_add_vendor_cap(vp, CAP_NOTIFY, NOTIFY_OFF,
				     vp->d->num_queues * NOTIFY_MULT, 4)) < 0 ||
	    (ret = vp_add_vendor_cap(vp, CAP_ISR, ISR_OFF, 1, 0)) < 0)
		return ret;
	/* Only a device with a config space has the capability (4.1.4.6):
	 * Linux refuses the device if one has length 0. */
	if (vp->d->config_size &&
	    (ret = vp_add_vendor_cap(vp, CAP_DEVICE, DEVICE_OFF,
				     vp->d->config_size, 0)) < 0)
		return ret;
	if ((ret = vp_add_vendor_cap(vp, CAP_PCI_CFG, 0, 0, 4)) < 0)
		return ret;
	vp->pcicfg_cap = (unsigned)ret;
	return 0;
}

/* ---- the I/O thread ------------------------------------------------- */

#define EV_STOP	 (2ULL << 32)
#define EV_WATCH (1ULL << 32)

static void vp_run_queue(struct virtio_pci *vp, unsigned q)
{
	struct virtio_dev *d = vp->d;
	uint64_t n;

	/* Consume the notification first: one arriving while the device
	 * works is then seen on the next epoll_wait, never lost. */
	if (read(vp->q[q].efd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&d->lock);
	if ((vp->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vp->status & VIRTIO_STATUS_NEEDS_RESET) && vp->q[q].enabled)
		d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

static void *vp_io_thread(void *arg)
{
	struct virtio_pci *vp = arg;
	struct epoll_event ev[16];

	for (;;) {
		int n = epoll_wait(vp->epfd, ev, 16, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == EV_STOP)
				return NULL;
			if (tag & EV_WATCH) {
				struct vp_watch *w = &vp->watch[(uint32_t)tag];

				pthread_mutex_lock(&vp->d->lock);
				w->cb(vp->d, w->arg);
				pthread_mutex_unlock(&vp->d->lock);
			} else {
				vp_run_queue(vp, (unsigned)tag);
			}
		}
	}
	pr_err("%s: I/O thread: epoll_wait: %s", vp->d->name, strerror(errno));
	return NULL;
}

static int vp_epoll_add(struct virtio_pci *vp, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(vp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Eventfds for queues and vectors, each vector's MSI route and irqfd. */
static int vp_create_fds(struct virtio_pci *vp)
{
	int ret = 0;

	vp->epfd = epoll_create1(EPOLL_CLOEXEC);
	vp->stop_efd = eventfd(0, EFD_CLOEXEC);
	if (vp->epfd < 0 || vp->stop_efd < 0)
		return -errno;
	ret = vp_epoll_add(vp, vp->stop_efd, EV_STOP);
	for (unsigned q = 0; q < vp->d->num_queues && !ret; q++) {
		vp->q[q].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ret = vp->q[q].efd < 0 ? -errno
				       : vp_epoll_add(vp, vp->q[q].efd, q);
	}
	for (unsigned v = 0; v < vp->nvec && !ret; v++) {
		vp->vec_efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ret = vp->vec_efd[v] < 0
			      ? -errno
			      : irq_msi_alloc(vp->env.irq, &vp->vec_gsi[v]);
		if (!ret)
			ret = irq_irqfd_attach(vp->env.vm_fd, vp->vec_efd[v],
					       vp->vec_gsi[v]);
	}
	return ret;
}

static int vp_init_pci(struct virtio_pci *vp)
{
	struct virtio_dev *d = vp->d;
	int ret;

	pci_dev_init(&vp->pci, d->name, PCI_VENDOR_VIRTIO,
		     PCI_DEVICE_VIRTIO_BASE + d->device_id, d->pci_class,
		     1 /* modern only */, PCI_VENDOR_VIRTIO,
		     0x40 + d->device_id);
	vp->pci.opaque = vp;
	vp->pci.config_read = vp_config_read;
	vp->pci.config_write = vp_config_write;
	vp->pci.bar_moved = vp_bar_moved;
	ret = pci_dev_add_bar(&vp->pci, 0, BAR0_SIZE, &vp_bar0_ops, vp);
	if (!ret)
		ret = vp_add_caps(vp);
	if (!ret)
		ret = pci_host_add_dev(vp->env.pci, &vp->pci);
	return ret;
}

int virtio_pci_create(const struct virtio_pci_env *env, struct virtio_dev *d,
		      struct virtio_pci **out)
{
	struct virtio_pci *vp;
	int ret;

	if (!d->num_queues || d->num_queues > VIRTIO_MAX_QUEUES ||
	    d->config_size > DEVICE_LEN || !d->ops->queue_notify)
		return -EINVAL;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->d = d;
	vp->env = *env;
	vp->nvec = d->num_queues + 1;
	for (unsigned v = 0; v < vp->nvec; v++)
		vp->msix[v].ctrl = 1; /* masked after reset (PCI 3.0 6.8.2.9) */
	vp->epfd = vp->stop_efd = -1;
	d->mem = env->mem;
	d->tops = &vp_transport_ops;
	d->transport = vp;
	ret = -pthread_mutex_init(&d->lock, NULL);
	if (!ret)
		ret = vp_create_fds(vp);
	if (!ret)
		ret = -pthread_create(&vp->thread, NULL, vp_io_thread, vp);
	vp->thread_started = !ret;
	/* Last: once on the bus the device cannot be taken off again, so
	 * nothing after this may fail (destroy would leave it dangling). */
	if (!ret) {
		vp_reset(vp);
		ret = vp_init_pci(vp);
	}
	if (ret) {
		pr_err("%s: cannot create the virtio-pci device: %s", d->name,
		       strerror(-ret));
		virtio_pci_destroy(vp);
		return ret;
	}
	*out = vp;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	uint64_t one = 1;

	if (vp->thread_started) {
		if (write(vp->stop_efd, &one, sizeof(one)) < 0)
			pr_warn("%s: cannot stop the I/O thread", vp->d->name);
		pthread_join(vp->thread, NULL);
	}
	for (unsigned q = 0; q < vp->d->num_queues; q++) {
		if (vp->q[q].io_addr) /* KVM would keep signalling it */
			vp_ioeventfd(vp, q, vp->q[q].io_addr, false);
		if (vp->q[q].efd > 0)
			close(vp->q[q].efd);
	}
	for (unsigned v = 0; v < vp->nvec; v++)
		if (vp->vec_efd[v] > 0)
			close(vp->vec_efd[v]);
	if (vp->epfd >= 0)
		close(vp->epfd);
	if (vp->stop_efd >= 0)
		close(vp->stop_efd);
	free(vp);
}
