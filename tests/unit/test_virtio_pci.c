/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci transport (virtio 1.2, 4.1) driven the way a guest driver
 * drives it: config space through 0xCF8/0xCFC, BAR 0 through the MMIO bus,
 * rings in fake guest RAM. Each test has its own KVM VM with an in-kernel
 * irqchip (irqfds and ioeventfds need one) and is skipped where /dev/kvm
 * cannot be used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/test_util.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"

#define RAM_GPA	 0x100000ULL
#define RAM_SIZE 0x40000ULL
#define RING(q)	 (RAM_GPA + 0x4000ULL * (q)) /* desc; avail +4K; used +8K */
#define BUF_GPA	 (RAM_GPA + 0x20000ULL)
#define QSIZE	 8
#define V1	 (1ULL << VIRTIO_F_VERSION_1)
#define FAKE_F	 (1ULL << 0 | 1ULL << 3)
#define FAKE_CFG 12

/* Common configuration fields (spec 4.1.4.3). */
enum { C_DFSEL = 0x00, C_DF = 0x04, C_GFSEL = 0x08, C_GF = 0x0c };
enum { C_MSIX = 0x10, C_NUMQ = 0x12, C_STATUS = 0x14, C_GEN = 0x15 };
enum { C_QSEL = 0x16, C_QSIZE = 0x18, C_QMSIX = 0x1a, C_QENABLE = 0x1c };
enum { C_QNOFF = 0x1e, C_QDESC = 0x20, C_QDRIVER = 0x28, C_QDEVICE = 0x30 };
enum { CAP_COMMON = 1, CAP_NOTIFY, CAP_ISR, CAP_DEVICE, CAP_PCI_CFG };
enum { ACK = 1, DRV = 2, DRV_OK = 4, FEAT_OK = 8, NEEDS_RESET = 0x40 };
#define READY (ACK | DRV | FEAT_OK | DRV_OK)

struct fx {
	int kvm_fd, vm_fd, vcpu_fd, fds, threads;
	struct bus pio, mmio;
	struct pci_host host;
	struct irq_router irq;
	struct guest_mem mem;
	uint8_t *ram;
	struct virtio_dev dev;
	struct virtio_pci *vp;
	uint64_t bar;
	/* Vendor capabilities by type: config offset, BAR offset, length. */
	unsigned pos[6], msix;
	uint32_t off[6], len[6], mult;
	/* The fake device's state. */
	uint8_t cfg[FAKE_CFG];
	unsigned notifies, last_q, activates, resets, cfg_end;
	pthread_t notifier;
};

/* Poll for up to 2 s: the I/O thread works asynchronously. */
#define WAIT_FOR(cond)                                       \
	do {                                                 \
		for (int i_ = 0; i_ < 2000 && !(cond); i_++) \
			usleep(1000);                        \
		assert_true(cond);                           \
	} while (0)

static void fake_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct fx *f = d->priv;

	f->notifier = pthread_self();
	__atomic_store_n(&f->last_q, q, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&f->notifies, 1, __ATOMIC_SEQ_CST);
}

static void fake_config_read(struct virtio_dev *d, unsigned off, void *data,
			     unsigned len)
{
	struct fx *f = d->priv;

	if (off + len > f->cfg_end)
		f->cfg_end = off + len;
	memcpy(data, f->cfg + off, len);
}

/* A write to byte 0 changes the device's config (as a resize would). */
static void fake_config_write(struct virtio_dev *d, unsigned off,
			      const void *data, unsigned len)
{
	memcpy(((struct fx *)d->priv)->cfg + off, data, len);
	if (off == 0)
		virtio_config_changed(d);
}

static int fake_activate(struct virtio_dev *d)
{
	((struct fx *)d->priv)->activates++;
	return 0;
}

static void fake_reset(struct virtio_dev *d)
{
	((struct fx *)d->priv)->resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.queue_notify = fake_queue_notify,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.reset = fake_reset,
};

/* Configuration mechanism #1, slot 1 (where the device lands). */
static uint32_t cfg(struct fx *f, unsigned reg, uint32_t v, unsigned len,
		    bool is_write)
{
	uint32_t a = 0x80000000U | 1 << 11 | (reg & 0xfc);

	bus_access(&f->pio, 0xcf8, &a, 4, true);
	bus_access(&f->pio, 0xcfc + (reg & 3), &v, len, is_write);
	return v;
}

/* One access to BAR 0 at offset off; the device must claim it. */
static uint64_t bar0(struct fx *f, uint64_t off, uint64_t v, unsigned len,
		     bool is_write)
{
	assert_true(bus_access(&f->mmio, f->bar + off, &v, len, is_write));
	return v;
}

#define cfg_rd(f, reg, len)    cfg(f, reg, 0, len, false)
#define cfg_wr(f, reg, v, len) cfg(f, reg, v, len, true)
#define rd(f, off, len)	       bar0(f, off, 0, len, false)
#define wr(f, off, v, len)     bar0(f, off, v, len, true)

#define crd(f, field, len)    rd(f, (f)->off[CAP_COMMON] + (field), len)
#define cwr(f, field, v, len) wr(f, (f)->off[CAP_COMMON] + (field), v, len)
#define status(f)	      ((uint8_t)crd(f, C_STATUS, 1))
#define host(f, gpa)	      ((void *)((f)->ram + ((gpa)-RAM_GPA)))
#define used_idx(f, q) \
	__atomic_load_n((uint16_t *)host(f, RING(q) + 0x2002), __ATOMIC_ACQUIRE)
#define notifies(f)	  __atomic_load_n(&(f)->notifies, __ATOMIC_SEQ_CST)
#define notify(f, q, len) wr(f, (f)->off[CAP_NOTIFY] + (q) * (f)->mult, q, len)

/* 64-bit fields as two 32-bit halves, as Linux writes them. */
static void cwr64(struct fx *f, unsigned field, uint64_t v)
{
	cwr(f, field, (uint32_t)v, 4);
	cwr(f, field + 4, v >> 32, 4);
}

/* Find every capability the way a driver does; each type at most once. */
static void walk_caps(struct fx *f)
{
	unsigned n = 0, type;

	assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (unsigned p = cfg_rd(f, PCI_CAPABILITY_LIST, 1); p;
	     p = cfg_rd(f, p + 1, 1)) {
		assert_true(p >= 0x40 && p % 4 == 0 && ++n < 16);
		if (cfg_rd(f, p, 1) == 0x11) {
			assert_int_equal(f->msix, 0);
			f->msix = p;
			continue;
		}
		type = cfg_rd(f, p + 3, 1);
		assert_int_equal(cfg_rd(f, p, 1), 0x09);
		assert_true(type >= CAP_COMMON && type <= CAP_PCI_CFG);
		assert_int_equal(f->pos[type], 0);
		assert_true(
			cfg_rd(f, p + 2, 1) >=
			(type == CAP_NOTIFY || type == CAP_PCI_CFG ? 20 : 16));
		assert_int_equal(cfg_rd(f, p + 4, 1), 0); /* BAR 0 */
		f->pos[type] = p;
		f->off[type] = cfg_rd(f, p + 8, 4);
		f->len[type] = cfg_rd(f, p + 12, 4);
		if (type == CAP_NOTIFY)
			f->mult = cfg_rd(f, p + 16, 4);
	}
	assert_true(f->msix && f->pos[CAP_COMMON] && f->pos[CAP_NOTIFY] &&
		    f->pos[CAP_ISR] && f->pos[CAP_PCI_CFG]);
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	f->fds = count_dir("/proc/self/fd");
	f->threads = count_dir("/proc/self/task");
	f->vm_fd = f->vcpu_fd = -1;
	f->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm_fd >= 0)
		f->vm_fd = ioctl(f->kvm_fd, KVM_CREATE_VM, 0);
	if (f->vm_fd >= 0 && ioctl(f->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		close(f->vm_fd);
		f->vm_fd = -1;
	}
	f->ram = calloc(1, RAM_SIZE);
	if (!f->ram || bus_init(&f->pio, "pio") || bus_init(&f->mmio, "mmio") ||
	    pci_host_init(&f->host, &f->pio, &f->mmio) ||
	    irq_router_init(&f->irq, f->vm_fd) ||
	    guest_mem_add_region(&f->mem, RAM_GPA, f->ram, RAM_SIZE))
		return -1;
	return 0;
}

/* Fails the test if it left a file descriptor or a thread behind. */
static int teardown(void **state)
{
	struct fx *f = *state;
	int fds, threads = 0, ret = 0;

	if (f->vp)
		virtio_pci_destroy(f->vp);
	pci_host_destroy(&f->host);
	irq_router_destroy(&f->irq);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	for (int i = 0, fd[] = {f->vcpu_fd, f->vm_fd, f->kvm_fd}; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	free(f->ram);
	fds = count_dir("/proc/self/fd");
	/* A joined thread can linger in /proc for a moment. */
	for (int i = 0; i < 2000 && threads != f->threads; i++) {
		threads = count_dir("/proc/self/task");
		usleep(threads != f->threads ? 1000 : 0);
	}
	if (fds != f->fds || threads != f->threads) {
		print_error("leak: %d fds (was %d), %d threads (was %d)\n", fds,
			    f->fds, threads, f->threads);
		ret = -1;
	}
	free(f);
	return ret;
}

/* Put a fake device (or virtio-rng) in slot 1; skip without KVM. */
static struct fx *start(void **state, bool rng)
{
	struct fx *f = *state;
	struct virtio_pci_env env = {f->vm_fd, &f->host, &f->irq, &f->mem};

	if (f->vm_fd < 0) {
		print_message("/dev/kvm missing or unusable: skipped\n");
		skip();
	}
	f->dev = (struct virtio_dev){.name = "fake",
				     .device_id = 26,
				     .pci_class = 0xff0000,
				     .features = FAKE_F,
				     .num_queues = 2,
				     .queue_max = 16,
				     .config_size = FAKE_CFG,
				     .ops = &fake_ops,
				     .priv = f};
	for (unsigned i = 0; i < FAKE_CFG; i++)
		f->cfg[i] = (uint8_t)i;
	if (rng)
		virtio_rng_init(&f->dev, "rng");
	assert_int_equal(virtio_pci_create(&env, &f->dev, &f->vp), 0);
	f->bar = cfg_rd(f, PCI_BAR0, 4) & ~0xfULL;
	walk_caps(f);
	return f;
}

static void set_features(struct fx *f, uint64_t feat)
{
	cwr(f, C_GFSEL, 0, 4);
	cwr(f, C_GF, (uint32_t)feat, 4);
	cwr(f, C_GFSEL, 1, 4);
	cwr(f, C_GF, feat >> 32, 4);
}

static uint64_t features(struct fx *f, unsigned sel, unsigned val)
{
	uint64_t lo;

	cwr(f, sel, 0, 4);
	lo = crd(f, val, 4);
	cwr(f, sel, 1, 4);
	return lo | crd(f, val, 4) << 32;
}

/* Spec 3.1.1 up to FEATURES_OK; returns the status read back. */
static uint8_t drv_init(struct fx *f, uint64_t feat)
{
	cwr(f, C_STATUS, 0, 1);
	assert_int_equal(status(f), 0);
	cwr(f, C_STATUS, ACK, 1);
	cwr(f, C_STATUS, ACK | DRV, 1);
	set_features(f, feat);
	cwr(f, C_STATUS, ACK | DRV | FEAT_OK, 1);
	return status(f);
}

static void queue_setup(struct fx *f, unsigned q, unsigned size, uint64_t desc)
{
	memset(f->ram + (RING(q) - RAM_GPA), 0, 0x4000);
	cwr(f, C_QSEL, q, 2);
	cwr(f, C_QSIZE, size, 2);
	cwr64(f, C_QDESC, desc);
	cwr64(f, C_QDRIVER, RING(q) + 0x1000);
	cwr64(f, C_QDEVICE, RING(q) + 0x2000);
	cwr(f, C_QENABLE, 1, 2);
}

/* Queue q enabled with good rings and MSI-X vector, then DRIVER_OK. */
/* DRIVER_OK with one queue enabled. The device then looks at that queue
 * once (for buffers posted before DRIVER_OK): wait for that call, so that
 * each later notification counts exactly one and none merges with it. */
static void ready_settled(struct fx *f)
{
	unsigned n = notifies(f);

	cwr(f, C_STATUS, READY, 1);
	assert_int_equal(status(f), READY);
	if (f->dev.ops == &fake_ops) /* rng does its own counting */
		WAIT_FOR(notifies(f) == n + 1);
}

static void drv_ready(struct fx *f, unsigned q, uint16_t vector)
{
	assert_int_equal(drv_init(f, V1), ACK | DRV | FEAT_OK);
	cwr(f, C_QSEL, q, 2);
	cwr(f, C_QMSIX, vector, 2);
	queue_setup(f, q, QSIZE, RING(q));
	assert_int_equal(crd(f, C_QENABLE, 2), 1);
	ready_settled(f);
}

/* Make a device-writable buffer available as descriptor head. */
static void post_buf(struct fx *f, unsigned q, uint16_t head, uint64_t gpa,
		     uint32_t len)
{
	uint8_t *desc = (uint8_t *)host(f, RING(q)) + 16 * head;
	uint16_t *avail = host(f, RING(q) + 0x1000), idx = avail[1];
	uint16_t flags = 2; /* VIRTQ_DESC_F_WRITE */

	memcpy(desc, &gpa, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &flags, 2);
	avail[2 + idx % QSIZE] = head;
	/* Ring entry and descriptor before the index (spec 2.7.13). */
	__atomic_store_n(&avail[1], (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

/* True if KVM holds an ioeventfd for 2-byte writes at addr: another
 * wildcard one at the same place collides with EEXIST. */
static bool ioeventfd_at(struct fx *f, uint64_t addr)
{
	int efd = eventfd(0, EFD_CLOEXEC), ret;
	struct kvm_ioeventfd io = {.addr = addr, .len = 2, .fd = efd};
	bool taken;

	assert_true(efd >= 0);
	ret = ioctl(f->vm_fd, KVM_IOEVENTFD, &io);
	taken = ret < 0 && errno == EEXIST;
	io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
	assert_true(ret < 0 || ioctl(f->vm_fd, KVM_IOEVENTFD, &io) == 0);
	close(efd);
	return taken;
}

static void test_identity_and_caps(void **state)
{
	struct fx *f = start(state, false);
	uint32_t table, pba, n, size, lo[6], hi[6], nr = 0;

	assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(f, PCI_DEVICE_ID, 2), 0x1040 + 26);
	assert_true(cfg_rd(f, PCI_REVISION_ID, 1) >= 1);
	assert_true(cfg_rd(f, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_int_equal(cfg_rd(f, PCI_BAR0, 4) & 0xf, 0); /* 32-bit memory */
	cfg_wr(f, PCI_COMMAND, 0, 2); /* size BAR 0 as an OS does */
	cfg_wr(f, PCI_BAR0, 0xffffffff, 4);
	size = ~(cfg_rd(f, PCI_BAR0, 4) & ~0xfU) + 1;
	cfg_wr(f, PCI_BAR0, (uint32_t)f->bar, 4);
	cfg_wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_true(size >= 0x1000 && !(size & (size - 1)));

	assert_true(f->len[CAP_COMMON] >= 0x38);
	assert_int_equal(f->off[CAP_COMMON] % 4, 0);
	assert_int_equal(f->len[CAP_ISR], 1);
	assert_int_equal(f->len[CAP_DEVICE], FAKE_CFG);
	assert_int_equal(f->off[CAP_DEVICE] % 4, 0);
	assert_int_equal(f->mult, 4);
	assert_int_equal(f->off[CAP_NOTIFY] % 2, 0);
	assert_true(f->len[CAP_NOTIFY] >= 1 * f->mult + 2); /* 2 queues */
	assert_int_equal(crd(f, C_NUMQ, 2), 2);
	cwr(f, C_QSEL, 1, 2);
	assert_int_equal(crd(f, C_QNOFF, 2), 1);

	/* MSI-X: a vector per queue plus config; table and PBA in BAR 0; off
	 * at reset with every entry masked (PCI 3.0 6.8.2.9). */
	n = (cfg_rd(f, f->msix + 2, 2) & 0x7ff) + 1;
	assert_int_equal(n, 3);
	assert_int_equal(cfg_rd(f, f->msix + 2, 2) & 0xc000, 0);
	table = cfg_rd(f, f->msix + 4, 4);
	pba = cfg_rd(f, f->msix + 8, 4);
	assert_int_equal(table & 7, 0); /* BIR 0 */
	assert_int_equal(pba & 7, 0);
	for (unsigned v = 0; v < n; v++)
		assert_int_equal(rd(f, table + 16 * v + 12, 4), 1);

	/* Every structure inside BAR 0, none overlapping another. */
	for (unsigned t = CAP_COMMON; t <= CAP_DEVICE; t++, nr++) {
		lo[nr] = f->off[t];
		hi[nr] = f->off[t] + f->len[t];
	}
	lo[nr] = table;
	hi[nr++] = table + 16 * n;
	lo[nr] = pba;
	hi[nr++] = pba + 8 * ((n + 63) / 64);
	for (unsigned i = 0; i < nr; i++) {
		assert_true(hi[i] > lo[i] && hi[i] <= size);
		for (unsigned j = 0; j < i; j++)
			assert_true(hi[i] <= lo[j] || hi[j] <= lo[i]);
	}
}

static void test_feature_negotiation(void **state)
{
	struct fx *f = start(state, false);

	cwr(f, C_STATUS, ACK | DRV, 1);
	assert_true((features(f, C_DFSEL, C_DF) & (V1 | FAKE_F)) ==
		    (V1 | FAKE_F));
	cwr(f, C_DFSEL, 2, 4);
	assert_int_equal(crd(f, C_DF, 4), 0);

	assert_int_equal(drv_init(f, V1 | 1), ACK | DRV | FEAT_OK);
	assert_int_equal(features(f, C_GFSEL, C_GF), V1 | 1);
	set_features(f, V1 | 8); /* too late: ignored */
	assert_int_equal(features(f, C_GFSEL, C_GF), V1 | 1);
	cwr(f, C_STATUS, 0, 1); /* reset forgets them */
	assert_int_equal(features(f, C_GFSEL, C_GF), 0);

	/* Bit 1 was never offered; the driver may then try again. */
	assert_int_equal(drv_init(f, V1 | 2), ACK | DRV);
	set_features(f, V1);
	cwr(f, C_STATUS, ACK | DRV | FEAT_OK, 1);
	assert_int_equal(status(f), ACK | DRV | FEAT_OK);
	/* No legacy interface: VERSION_1 is required (spec 6.1). */
	assert_int_equal(drv_init(f, 1), ACK | DRV);
	/* DRIVER_OK without FEATURES_OK is a broken driver. */
	cwr(f, C_STATUS, ACK | DRV | DRV_OK, 1);
	assert_true(status(f) & NEEDS_RESET);
	assert_int_equal(f->activates, 0);

	/* The driver may not clear status bits (2.1.1): clearing DRIVER_OK
	 * and setting it again must not activate the device twice, nor
	 * clearing FEATURES_OK reopen negotiation. */
	drv_ready(f, 0, 0xffff);
	cwr(f, C_STATUS, ACK | DRV, 1);
	assert_int_equal(status(f), READY);
	cwr(f, C_STATUS, READY, 1);
	assert_int_equal(f->activates, 1);
	set_features(f, V1 | 1);
	assert_int_equal(features(f, C_GFSEL, C_GF), V1);
}

static void test_queue_setup_and_notify(void **state)
{
	struct fx *f = start(state, false);
	uint64_t qaddr = f->bar + f->off[CAP_NOTIFY] + 1 * f->mult;

	assert_int_equal(drv_init(f, V1), ACK | DRV | FEAT_OK);
	queue_setup(f, 1, QSIZE, RING(1));
	assert_int_equal(crd(f, C_QSIZE, 2), QSIZE);
	assert_int_equal(crd(f, C_QDESC, 8), RING(1));
	assert_int_equal(crd(f, C_QDRIVER, 8), RING(1) + 0x1000);
	assert_int_equal(crd(f, C_QDEVICE, 8), RING(1) + 0x2000);
	assert_int_equal(crd(f, C_QENABLE, 2), 1);
	cwr(f, C_QSIZE, 4, 2); /* fixed once enabled */
	cwr64(f, C_QDESC, RING(0));
	assert_int_equal(crd(f, C_QSIZE, 2), QSIZE);
	assert_int_equal(crd(f, C_QDESC, 8), RING(1));
	/* The ioeventfd is on queue 1's notify address only. */
	assert_true(ioeventfd_at(f, qaddr));
	assert_false(ioeventfd_at(f, qaddr - f->mult));

	/* Before DRIVER_OK the device consumes nothing (spec 2.1.2). */
	notify(f, 1, 2);
	usleep(50000);
	assert_int_equal(notifies(f), 0);
	ready_settled(f); /* notifies: 1 */
	assert_int_equal(f->activates, 1);
	/* The slow path (an MMIO exit) reaches the I/O thread. */
	notify(f, 1, 2);
	WAIT_FOR(notifies(f) == 2);
	assert_int_equal(f->last_q, 1);
	assert_false(pthread_equal(f->notifier, pthread_self()));
	notify(f, 1, 4); /* another width: still the slow path */
	WAIT_FOR(notifies(f) == 3);
	/* Not enabled, out of range, or the wrong index: ignored. */
	notify(f, 0, 2);
	notify(f, 5, 2);
	wr(f, f->off[CAP_NOTIFY] + f->mult, 0, 2);
	wr(f, f->off[CAP_NOTIFY] + f->len[CAP_NOTIFY], 0xffff, 2);
	usleep(50000);
	assert_int_equal(notifies(f), 3);
}

static void test_rng_fills_buffer(void **state)
{
	struct fx *f = start(state, true);
	uint8_t *buf = host(f, BUF_GPA), zero[64] = {0};
	uint32_t *elem = host(f, RING(0) + 0x2000 + 4);

	assert_int_equal(cfg_rd(f, PCI_DEVICE_ID, 2), 0x1044);
	assert_int_equal(crd(f, C_NUMQ, 2), 1);
	assert_int_equal((cfg_rd(f, f->msix + 2, 2) & 0x7ff) + 1, 2);
	/* No config space, no device capability: Linux's vp_modern_probe
	 * refuses a device whose capability has length 0. */
	assert_int_equal(f->pos[CAP_DEVICE], 0);
	assert_int_equal(crd(f, C_QSIZE, 2), 256);

	drv_ready(f, 0, 0xffff);
	post_buf(f, 0, 3, BUF_GPA, 64);
	notify(f, 0, 2);
	WAIT_FOR(used_idx(f, 0) == 1);
	assert_int_equal(elem[0], 3); /* the head we posted */
	assert_int_equal(elem[1], 64);
	assert_memory_not_equal(buf, zero, 64);
	/* MSI-X is off: the queue interrupt shows in ISR, read-to-clear. */
	assert_int_equal(rd(f, f->off[CAP_ISR], 1), 1);
	assert_int_equal(rd(f, f->off[CAP_ISR], 1), 0);
}

static void test_bad_queues_need_reset(void **state)
{
	struct fx *f = start(state, false);
	unsigned n;
	/* Rings outside RAM, across its ends, misaligned; bad sizes. */
	const uint64_t desc[] = {0x10000000, RAM_GPA - 16,
				 RAM_GPA + RAM_SIZE - 64, RING(0) + 8};
	const unsigned size[] = {0, 3, 32 /* > queue_max */, 0xffff};

	/* Enabling before FEATURES_OK is ignored, not an error. */
	cwr(f, C_STATUS, ACK | DRV, 1);
	queue_setup(f, 0, QSIZE, RING(0));
	assert_int_equal(crd(f, C_QENABLE, 2), 0);
	assert_int_equal(status(f), ACK | DRV);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(drv_init(f, V1), ACK | DRV | FEAT_OK);
		capture_begin(); /* the warning a bad queue logs */
		queue_setup(f, 0, i < 4 ? QSIZE : size[i - 4],
			    i < 4 ? desc[i] : RING(0));
		capture_end();
		assert_int_equal(status(f), ACK | DRV | FEAT_OK | NEEDS_RESET);
		assert_int_equal(crd(f, C_QENABLE, 2), 0);
		/* Sticky across status writes until a reset. */
		cwr(f, C_STATUS, READY, 1);
		assert_true(status(f) & NEEDS_RESET);
		cwr(f, C_STATUS, 0xff & ~NEEDS_RESET, 1);
		assert_true(status(f) & NEEDS_RESET);
	}
	cwr(f, C_STATUS, 0, 1);
	assert_int_equal(status(f), 0);
	drv_ready(f, 0, 0xffff); /* and the device works again */
	n = notifies(f);
	notify(f, 0, 2);
	WAIT_FOR(notifies(f) == n + 1);
}

static void test_reset_clears_state(void **state)
{
	struct fx *f = start(state, false);
	uint64_t qaddr = f->bar + f->off[CAP_NOTIFY];
	unsigned n;

	drv_ready(f, 0, 1);
	cwr(f, C_MSIX, 0, 2);
	assert_true(ioeventfd_at(f, qaddr));
	cwr(f, C_QSEL, 1, 2);
	cwr(f, C_QSIZE, 4, 2);
	f->resets = 0;
	cwr(f, C_STATUS, 0, 1);
	assert_int_equal(f->resets, 1);
	assert_int_equal(status(f), 0);
	assert_int_equal(features(f, C_GFSEL, C_GF), 0);
	assert_int_equal(crd(f, C_MSIX, 2), 0xffff);
	assert_int_equal(crd(f, C_QSEL, 2), 0);
	for (unsigned q = 0; q < 2; q++) {
		cwr(f, C_QSEL, q, 2);
		assert_int_equal(crd(f, C_QSIZE, 2), 16);
		assert_int_equal(crd(f, C_QENABLE, 2), 0);
		assert_int_equal(crd(f, C_QMSIX, 2), 0xffff);
		assert_int_equal(crd(f, C_QDESC, 8), 0);
		assert_int_equal(crd(f, C_QDRIVER, 8), 0);
		assert_int_equal(crd(f, C_QDEVICE, 8), 0);
	}
	assert_false(ioeventfd_at(f, qaddr));
	n = notifies(f);
	notify(f, 0, 2); /* the old queue is gone */
	usleep(50000);
	assert_int_equal(notifies(f), n);
}

static void test_vectors_and_queue_select(void **state)
{
	struct fx *f = start(state, false);
	const uint16_t bad[] = {3, 0x800, 0xfffe};
	const uint16_t absent[] = {2, 3, 64, 0x8000, 0xffff};

	cwr(f, C_MSIX, 2, 2);
	assert_int_equal(crd(f, C_MSIX, 2), 2);
	cwr(f, C_QSEL, 1, 2);
	cwr(f, C_QMSIX, 0, 2);
	assert_int_equal(crd(f, C_QMSIX, 2), 0);
	for (unsigned i = 0; i < 3; i++) { /* the table has 3 entries */
		cwr(f, C_MSIX, bad[i], 2);
		assert_int_equal(crd(f, C_MSIX, 2), 0xffff);
		cwr(f, C_QMSIX, bad[i], 2);
		assert_int_equal(crd(f, C_QMSIX, 2), 0xffff);
	}
	/* A queue that does not exist reads as size 0 and takes nothing. */
	assert_int_equal(drv_init(f, V1), ACK | DRV | FEAT_OK);
	for (unsigned i = 0; i < 5; i++) {
		cwr(f, C_QSEL, absent[i], 2);
		cwr(f, C_QSIZE, QSIZE, 2);
		cwr64(f, C_QDESC, RING(0));
		cwr(f, C_QMSIX, 0, 2);
		cwr(f, C_QENABLE, 1, 2);
		assert_int_equal(crd(f, C_QSEL, 2), absent[i]);
		assert_int_equal(crd(f, C_QSIZE, 2), 0);
		assert_int_equal(crd(f, C_QENABLE, 2), 0);
		assert_int_equal(crd(f, C_QDESC, 8), 0);
	}
	assert_int_equal(status(f), ACK | DRV | FEAT_OK);
	cwr(f, C_QSEL, 0, 2);
	assert_int_equal(crd(f, C_QSIZE, 2), 16);
}

static void test_device_config_and_isr(void **state)
{
	struct fx *f = start(state, false);
	uint64_t dev = f->off[CAP_DEVICE];
	uint8_t gen = (uint8_t)crd(f, C_GEN, 1);

	assert_int_equal(rd(f, dev, 4), 0x03020100);
	assert_int_equal(rd(f, dev + 4, 8), 0x0b0a090807060504ULL);
	assert_int_equal(rd(f, dev + 11, 1), 0x0b);
	assert_int_equal(rd(f, dev + 10, 4), 0); /* crosses the end */
	assert_int_equal(rd(f, dev + FAKE_CFG, 8), 0);
	wr(f, dev + 10, 0xffffffff, 4);
	wr(f, dev + FAKE_CFG, 0xffffffff, 4);
	assert_int_equal(f->cfg[10], 10);
	assert_int_equal(f->cfg_end, FAKE_CFG); /* never asked for more */
	wr(f, dev + 4, 0xaabb, 2);
	assert_int_equal(rd(f, dev + 4, 2), 0xaabb);

	/* A config change: new generation (4.1.4.3.1), ISR bit 1. */
	assert_int_equal(rd(f, f->off[CAP_ISR], 1), 0);
	wr(f, dev, 0x55, 1);
	assert_int_equal(f->cfg[0], 0x55);
	assert_int_not_equal(crd(f, C_GEN, 1), gen);
	assert_int_equal(rd(f, f->off[CAP_ISR], 4), 2);
	assert_int_equal(rd(f, f->off[CAP_ISR], 1), 0); /* read-to-clear */
	wr(f, dev, 0x56, 1);
	wr(f, f->off[CAP_ISR], 0, 1); /* read-only */
	assert_int_equal(rd(f, f->off[CAP_ISR], 1), 2);
}

static void test_pci_cfg_window(void **state)
{
	struct fx *f = start(state, false);
	unsigned cap = f->pos[CAP_PCI_CFG], common = f->off[CAP_COMMON];

	/* bar, offset, length, then the data (spec 4.1.4.9). */
	cfg_wr(f, cap + 4, 0, 1);
	cfg_wr(f, cap + 8, common + C_NUMQ, 4);
	cfg_wr(f, cap + 12, 2, 4);
	assert_int_equal(cfg_rd(f, cap + 16, 4), 2);
	cfg_wr(f, cap + 8, common + C_STATUS, 4);
	cfg_wr(f, cap + 12, 1, 4);
	cfg_wr(f, cap + 16, ACK, 4);
	assert_int_equal(status(f), ACK);
	assert_int_equal(cfg_rd(f, cap + 16, 1), ACK);
	/* What the driver may not do is ignored. */
	cfg_wr(f, cap + 12, 3, 4); /* length 3 */
	cfg_wr(f, cap + 16, ACK | DRV, 4);
	cfg_wr(f, cap + 12, 2, 4); /* misaligned */
	cfg_wr(f, cap + 8, common + C_STATUS + 1, 4);
	cfg_wr(f, cap + 16, ACK | DRV, 4);
	cfg_wr(f, cap + 8, 0xfffffffe, 4); /* beyond BAR 0 */
	cfg_wr(f, cap + 16, 0, 4);
	cfg_wr(f, cap + 8, common + C_STATUS, 4);
	cfg_wr(f, cap + 12, 1, 4);
	cfg_wr(f, cap + 4, 1, 1); /* BAR 1 does not exist */
	cfg_wr(f, cap + 16, ACK | DRV, 4);
	assert_int_equal(status(f), ACK);
}

/* vCPU 0 with a software-enabled local APIC, so MSIs land in its IRR. */
static void lapic_on(struct fx *f)
{
	struct kvm_lapic_state s;

	f->vcpu_fd = ioctl(f->vm_fd, KVM_CREATE_VCPU, 0);
	assert_true(f->vcpu_fd >= 0);
	assert_int_equal(ioctl(f->vcpu_fd, KVM_GET_LAPIC, &s), 0);
	s.regs[0xf0] = (char)0xff; /* spurious vector */
	s.regs[0xf1] |= 1;	   /* APIC software enable */
	assert_int_equal(ioctl(f->vcpu_fd, KVM_SET_LAPIC, &s), 0);
}

static bool irr(struct fx *f, unsigned vec)
{
	struct kvm_lapic_state s;

	assert_int_equal(ioctl(f->vcpu_fd, KVM_GET_LAPIC, &s), 0);
	return (uint8_t)s.regs[0x200 + vec / 32 * 16 + vec % 32 / 8] >>
		       vec % 8 &
	       1;
}

static bool pending(struct fx *f, unsigned v)
{
	return rd(f, cfg_rd(f, f->msix + 8, 4) + v / 64 * 8, 8) >> v % 64 & 1;
}

/* Post one buffer on the rng's queue and wait until it is used. */
static void rng_kick(struct fx *f)
{
	uint16_t want = used_idx(f, 0) + 1;

	post_buf(f, 0, 0, BUF_GPA, 16);
	notify(f, 0, 2);
	WAIT_FOR(used_idx(f, 0) == want);
}

static void test_msix_mask_and_pba(void **state)
{
	struct fx *f = start(state, true);
	uint32_t e1 = cfg_rd(f, f->msix + 4, 4) + 16;

	lapic_on(f);
	cfg_wr(f, f->msix + 2, 0x8000, 2); /* MSI-X enable */
	wr(f, e1, 0xfee00000, 4);	   /* to APIC 0, vector 0x51 */
	wr(f, e1 + 4, 0, 4);
	wr(f, e1 + 8, 0x51, 4);
	drv_ready(f, 0, 1);
	/* Still masked from reset: the interrupt waits in the PBA. */
	rng_kick(f);
	WAIT_FOR(pending(f, 1));
	assert_false(pending(f, 0));
	assert_false(irr(f, 0x51));
	wr(f, cfg_rd(f, f->msix + 8, 4), 0, 8); /* the PBA is read-only */
	assert_true(pending(f, 1));
	wr(f, e1 + 12, 0, 4); /* unmask: delivered now */
	assert_false(pending(f, 1));
	WAIT_FOR(irr(f, 0x51));

	/* The function mask holds every vector the same way. */
	wr(f, e1 + 8, 0x52, 4);
	cfg_wr(f, f->msix + 2, 0xc000, 2);
	rng_kick(f);
	WAIT_FOR(pending(f, 1));
	usleep(20000);
	assert_false(irr(f, 0x52));
	cfg_wr(f, f->msix + 2, 0x8000, 2);
	assert_false(pending(f, 1));
	WAIT_FOR(irr(f, 0x52));

	/* Disabling MSI-X does not drop a pending interrupt. */
	wr(f, e1 + 8, 0x53, 4);
	wr(f, e1 + 12, 1, 4);
	rng_kick(f);
	WAIT_FOR(pending(f, 1));
	cfg_wr(f, f->msix + 2, 0, 2);
	assert_true(pending(f, 1));
	cfg_wr(f, f->msix + 2, 0x8000, 2);
	wr(f, e1 + 12, 0, 4);
	assert_false(pending(f, 1));
	WAIT_FOR(irr(f, 0x53));
	wr(f, e1 + 16 * 4, 0x12345678, 4); /* past the table: no entry */
	assert_int_equal(rd(f, e1 + 16 * 4, 4), 0);
}

static void test_bar_move(void **state)
{
	struct fx *f = start(state, false);
	uint64_t old = f->bar, v = 0, noff = f->off[CAP_NOTIFY] + f->mult;
	unsigned n;

	drv_ready(f, 1, 0xffff);
	assert_true(ioeventfd_at(f, old + noff));
	cfg_wr(f, PCI_COMMAND, 0, 2); /* decoding off: gone from the bus */
	assert_false(bus_access(&f->mmio, old, &v, 4, false));
	assert_false(ioeventfd_at(f, old + noff));
	cfg_wr(f, PCI_BAR0, 0xd0000000, 4);
	cfg_wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	f->bar = 0xd0000000;
	assert_int_equal(crd(f, C_NUMQ, 2), 2);
	assert_int_equal(status(f), READY);
	assert_false(bus_access(&f->mmio, old, &v, 4, false));
	assert_true(ioeventfd_at(f, f->bar + noff));
	assert_false(ioeventfd_at(f, old + noff));
	n = notifies(f);
	notify(f, 1, 2);
	WAIT_FOR(notifies(f) == n + 1);
	cfg_wr(f, PCI_BAR0, 0xd0100000, 4); /* with decoding on */
	f->bar = 0xd0100000;
	assert_true(ioeventfd_at(f, f->bar + noff));
	assert_false(ioeventfd_at(f, 0xd0000000 + noff));
	/* Destroying the device leaves no ioeventfd in the VM. */
	virtio_pci_destroy(f->vp);
	f->vp = NULL;
	assert_false(ioeventfd_at(f, f->bar + noff));
}

static void test_hostile_accesses(void **state)
{
	struct fx *f = start(state, false);
	uint64_t v, ones = ~0ULL;
	uint32_t df;
	uint8_t big[16];

	drv_ready(f, 1, 0xffff);
	/* Read-only fields stay put. */
	df = (uint32_t)crd(f, C_DF, 4);
	cwr(f, C_NUMQ, 7, 2);
	cwr(f, C_DF, 0, 4);
	cwr(f, C_GEN, 0x77, 1);
	cwr(f, C_QNOFF, 0, 2);
	assert_int_equal(crd(f, C_NUMQ, 2), 2);
	assert_int_equal(crd(f, C_DF, 4), df);
	assert_int_not_equal(crd(f, C_GEN, 1), 0x77);
	assert_int_equal(crd(f, C_QNOFF, 2), 1);
	/* Too wide, or crossing the end of BAR 0: not claimed. */
	assert_false(bus_access(&f->mmio, f->bar, big, 16, false));
	assert_false(bus_access(&f->mmio, f->bar + 0x7ffc, &v, 8, false));

	/* Every width at every offset, read and written with all-ones: no
	 * crash, no sanitizer report, and the device still works after. */
	capture_begin();
	for (uint64_t off = 0; off < 0x8000; off++) {
		for (unsigned len = 1; len <= 8; len++) {
			bus_access(&f->mmio, f->bar + off, &v, len, false);
			bus_access(&f->mmio, f->bar + off, &ones, len, true);
		}
	}
	capture_end();
	assert_int_equal(crd(f, C_NUMQ, 2), 2);
	drv_ready(f, 1, 0xffff);
	notify(f, 1, 2);
	WAIT_FOR(notifies(f) >= 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity_and_caps),
		T(test_feature_negotiation),
		T(test_queue_setup_and_notify),
		T(test_rng_fills_buffer),
		T(test_bad_queues_need_reset),
		T(test_reset_clears_state),
		T(test_vectors_and_queue_select),
		T(test_device_config_and_isr),
		T(test_pci_cfg_window),
		T(test_msix_mask_and_pba),
		T(test_bar_move),
		T(test_hostile_accesses),
	};

	return cmocka_run_group_tests_name("virtio_pci", tests, NULL, NULL);
}
