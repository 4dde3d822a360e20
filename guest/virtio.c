/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci transport, driver side (virtio 1.2 section 4.1, modern
 * interface only): finding a device's vendor capabilities, the status and
 * feature handshake, device configuration and MSI-X. Split virtqueues are
 * in virtq.c.
 *
 * The device is trusted to follow the spec, but what it reports is checked
 * where garbage could send the guest astray (capability fields, BAR ranges,
 * queue sizes), so that a broken VMM gives a message instead of a hang.
 */
#include "virtio.h"
#include "irq.h"

/* struct virtio_pci_common_cfg (spec 4.1.4.3). */
#define COMMON_DFSELECT	 0x00
#define COMMON_DF	 0x04
#define COMMON_GFSELECT	 0x08
#define COMMON_GF	 0x0c
#define COMMON_MSIX	 0x10
#define COMMON_NUMQ	 0x12
#define COMMON_STATUS	 0x14
#define COMMON_CFGGEN	 0x15
#define COMMON_Q_SELECT	 0x16
#define COMMON_Q_SIZE	 0x18
#define COMMON_Q_MSIX	 0x1a
#define COMMON_Q_ENABLE	 0x1c
#define COMMON_Q_NOFF	 0x1e
#define COMMON_Q_DESCLO	 0x20
#define COMMON_Q_DESCHI	 0x24
#define COMMON_Q_AVAILLO 0x28
#define COMMON_Q_AVAILHI 0x2c
#define COMMON_Q_USEDLO	 0x30
#define COMMON_Q_USEDHI	 0x34
#define COMMON_MIN_LEN	 0x38

/* struct virtio_pci_cap (spec 4.1.4) and its notify and PCI_CFG forms. */
#define CAP_LEN		    2
#define CAP_CFG_TYPE	    3
#define CAP_BAR		    4
#define CAP_OFFSET	    8
#define CAP_LENGTH	    12
#define CAP_NOTIFY_MUL	    16
#define CAP_PCI_CFG_DATA    16
#define CAP_MIN_LEN	    16
#define CAP_NOTIFY_MIN_LEN  20
#define CAP_PCI_CFG_MIN_LEN 20

/* Accepted whenever offered: VERSION_1 (required) and ACCESS_PLATFORM,
 * since the kit hands out physical addresses, right with or without an
 * IOMMU in between (it never enables one), and a device may insist. */
#define BASE_FEATURES \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM))

#define RESET_TIMEOUT_US 1000000
#define CONFIG_RETRIES	 100

/* PCI device IDs: modern 0x1040 + type; transitional 0x1000-0x103f with the
 * type in the subsystem ID (spec 4.1.2.1). */
#define VIRTIO_PCI_MODERN_BASE 0x1040
#define VIRTIO_PCI_TRANS_FIRST 0x1000
#define VIRTIO_PCI_TRANS_LAST  0x103f

/* MSI-X capability (PCI 3.0, 6.8.2) and table entries. */
#define MSIX_CTRL	 2
#define MSIX_TABLE	 4
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASK	 0x4000
#define MSIX_ENTRY_SIZE	 16

static const char *const type_names[] = {
	[VIRTIO_ID_NET] = "virtio-net",
	[VIRTIO_ID_BLOCK] = "virtio-blk",
	[VIRTIO_ID_CONSOLE] = "virtio-console",
	[VIRTIO_ID_RNG] = "virtio-rng",
};

static const char *const cap_names[] = {
	[VIRTIO_PCI_CAP_COMMON_CFG] = "common",
	[VIRTIO_PCI_CAP_NOTIFY_CFG] = "notify",
	[VIRTIO_PCI_CAP_ISR_CFG] = "isr",
	[VIRTIO_PCI_CAP_DEVICE_CFG] = "device",
};

/* What the capability walk found for one structure type. */
struct vcap {
	bool found;
	uint8_t bar;
	uint32_t off, len, mul;
};

/* BARs read once each during the walk (sizing takes six port accesses). */
struct bar_cache {
	struct pci_bar bar[PCI_NUM_BARS];
	bool read[PCI_NUM_BARS];
};

static const char *type_name(unsigned type)
{
	if (type < ARRAY_SIZE(type_names) && type_names[type])
		return type_names[type];
	return "virtio";
}

static bool is_virtio_type(const struct pci_dev *d, unsigned type)
{
	if (d->vendor != VIRTIO_PCI_VENDOR)
		return false;
	if (d->device == VIRTIO_PCI_MODERN_BASE + type)
		return true;
	return d->device >= VIRTIO_PCI_TRANS_FIRST &&
	       d->device <= VIRTIO_PCI_TRANS_LAST && d->subsys_id == type;
}

static bool find_function(unsigned type, unsigned index, struct pci_dev *out)
{
	struct pci_dev devs[64];
	unsigned n = pci_scan(devs, ARRAY_SIZE(devs));

	for (unsigned i = 0; i < n; i++) {
		if (!is_virtio_type(&devs[i], type))
			continue;
		if (index-- == 0) {
			*out = devs[i];
			return true;
		}
	}
	return false;
}

static const struct pci_bar *bar_get(struct virtio_dev *vd,
				     struct bar_cache *bc, unsigned n)
{
	if (n >= PCI_NUM_BARS)
		return NULL;
	if (!bc->read[n]) {
		if (!pci_bar(&vd->pci, n, true, &bc->bar[n]))
			bc->bar[n].present = false;
		bc->read[n] = true;
	}
	return &bc->bar[n];
}

/* Whether a structure at BAR bar, [off, off + len), can be used: a memory
 * BAR that is assigned and holds the whole range. */
static int cap_check_bar(struct virtio_dev *vd, struct bar_cache *bc,
			 const char *what, const struct vcap *c)
{
	const struct pci_bar *b = bar_get(vd, bc, c->bar);

	if (!b || !b->present) {
		printf("%s: %s structure in BAR%u, which is not implemented\n",
		       vd->name, what, c->bar);
		return -ENODEV;
	}
	if (b->io) {
		printf("%s: %s structure in I/O BAR%u: unsupported, "
		       "skipped\n",
		       vd->name, what, c->bar);
		return -EOPNOTSUPP;
	}
	if (!b->addr) {
		printf("%s: BAR%u is not assigned (reads 0)\n", vd->name,
		       c->bar);
		return -ENODEV;
	}
	if ((uint64_t)c->off + c->len > b->size) {
		printf("%s: %s structure at BAR%u+0x%x+0x%x is beyond the "
		       "BAR (0x%lx bytes)\n",
		       vd->name, what, c->bar, c->off, c->len, b->size);
		return -EINVAL;
	}
	return 0;
}

/* Read one vendor capability at pos into the slot for its type, unless
 * that type already has one (spec 4.1.4: use the first one the driver can
 * use). */
static void cap_parse(struct virtio_dev *vd, struct bar_cache *bc, unsigned pos,
		      struct vcap *caps)
{
	uint8_t len = pci_read8(&vd->pci, pos + CAP_LEN);
	uint8_t type = pci_read8(&vd->pci, pos + CAP_CFG_TYPE);
	struct vcap c = {.found = true};

	if (len < CAP_MIN_LEN || pos + len > 0x100)
		return;
	c.bar = pci_read8(&vd->pci, pos + CAP_BAR);
	if (c.bar >= PCI_NUM_BARS) /* reserved values: ignore the cap */
		return;
	if (type == VIRTIO_PCI_CAP_PCI_CFG) {
		if (!vd->pci_cfg && len >= CAP_PCI_CFG_MIN_LEN)
			vd->pci_cfg = (uint8_t)pos;
		return;
	}
	if (type < VIRTIO_PCI_CAP_COMMON_CFG ||
	    type > VIRTIO_PCI_CAP_DEVICE_CFG || caps[type].found)
		return;
	c.off = pci_read32(&vd->pci, pos + CAP_OFFSET);
	c.len = pci_read32(&vd->pci, pos + CAP_LENGTH);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
		if (len < CAP_NOTIFY_MIN_LEN)
			return;
		c.mul = pci_read32(&vd->pci, pos + CAP_NOTIFY_MUL);
	}
	if (cap_check_bar(vd, bc, cap_names[type], &c) == 0)
		caps[type] = c;
}

/* Structure type's minimum length and offset alignment (spec 4.1.4.x). */
static int cap_check_layout(struct virtio_dev *vd, unsigned type,
			    const struct vcap *c)
{
	static const uint32_t min_len[] = {
		[VIRTIO_PCI_CAP_COMMON_CFG] = COMMON_MIN_LEN,
		[VIRTIO_PCI_CAP_NOTIFY_CFG] = 2,
		[VIRTIO_PCI_CAP_ISR_CFG] = 1,
		[VIRTIO_PCI_CAP_DEVICE_CFG] = 0,
	};
	static const uint32_t align[] = {
		[VIRTIO_PCI_CAP_COMMON_CFG] = 4,
		[VIRTIO_PCI_CAP_NOTIFY_CFG] = 2,
		[VIRTIO_PCI_CAP_ISR_CFG] = 1,
		[VIRTIO_PCI_CAP_DEVICE_CFG] = 4,
	};

	if (c->len < min_len[type] || (c->off & (align[type] - 1))) {
		printf("%s: bad %s structure: offset 0x%x length 0x%x\n",
		       vd->name, cap_names[type], c->off, c->len);
		return -EINVAL;
	}
	return 0;
}

static volatile uint8_t *cap_map(struct virtio_dev *vd, struct bar_cache *bc,
				 const struct vcap *c)
{
	const struct pci_bar *b = bar_get(vd, bc, c->bar);

	return mmio_map(b->addr + c->off, c->len);
}

static int map_structures(struct virtio_dev *vd, struct bar_cache *bc,
			  const struct vcap *caps)
{
	static const unsigned required[] = {VIRTIO_PCI_CAP_COMMON_CFG,
					    VIRTIO_PCI_CAP_NOTIFY_CFG,
					    VIRTIO_PCI_CAP_ISR_CFG};
	const struct vcap *dev = &caps[VIRTIO_PCI_CAP_DEVICE_CFG];

	for (unsigned i = 0; i < ARRAY_SIZE(required); i++) {
		unsigned t = required[i];

		if (!caps[t].found) {
			printf("%s: no usable %s capability\n", vd->name,
			       cap_names[t]);
			return -ENODEV;
		}
		if (cap_check_layout(vd, t, &caps[t]))
			return -EINVAL;
	}
	if (dev->found && cap_check_layout(vd, VIRTIO_PCI_CAP_DEVICE_CFG, dev))
		return -EINVAL;
	vd->common = cap_map(vd, bc, &caps[VIRTIO_PCI_CAP_COMMON_CFG]);
	vd->notify_base = cap_map(vd, bc, &caps[VIRTIO_PCI_CAP_NOTIFY_CFG]);
	vd->isr = cap_map(vd, bc, &caps[VIRTIO_PCI_CAP_ISR_CFG]);
	vd->device = dev->found ? cap_map(vd, bc, dev) : NULL;
	if (!vd->common || !vd->notify_base || !vd->isr ||
	    (dev->found && !vd->device))
		return -ENOMEM;
	vd->notify_mul = caps[VIRTIO_PCI_CAP_NOTIFY_CFG].mul;
	vd->notify_len = caps[VIRTIO_PCI_CAP_NOTIFY_CFG].len;
	vd->device_len = dev->found ? dev->len : 0;
	vd->common_bar = caps[VIRTIO_PCI_CAP_COMMON_CFG].bar;
	return 0;
}

/* One line on where everything is: what a VMM developer wants to see. */
static void describe(struct virtio_dev *vd, struct bar_cache *bc,
		     const struct vcap *caps)
{
	const struct vcap *c = &caps[VIRTIO_PCI_CAP_COMMON_CFG];
	const struct vcap *n = &caps[VIRTIO_PCI_CAP_NOTIFY_CFG];
	const struct vcap *i = &caps[VIRTIO_PCI_CAP_ISR_CFG];
	const struct vcap *d = &caps[VIRTIO_PCI_CAP_DEVICE_CFG];
	const struct pci_bar *b = bar_get(vd, bc, c->bar);
	char dev[48] = "none";

	if (d->found)
		snprintf(dev, sizeof(dev), "BAR%u+0x%x (0x%x bytes)", d->bar,
			 d->off, d->len);
	printf("%s: %04x:%04x, common BAR%u+0x%x at 0x%lx (%s%s, 0x%lx "
	       "bytes), notify BAR%u+0x%x x%u, isr BAR%u+0x%x, device %s\n",
	       vd->name, vd->pci.vendor, vd->pci.device, c->bar, c->off,
	       b->addr, b->is64 ? "64-bit" : "32-bit",
	       b->prefetch ? " prefetchable" : "", b->size, n->bar, n->off,
	       n->mul, i->bar, i->off, dev);
}

/* Spec 4.1.4.9: the PCI_CFG window must give the same bytes as the BAR.
 * num_queues is read both ways: it has no side effects. */
static int check_pci_cfg(struct virtio_dev *vd, const struct vcap *common)
{
	uint16_t direct, windowed;

	if (!vd->pci_cfg) {
		printf("%s: warning: no VIRTIO_PCI_CAP_PCI_CFG capability "
		       "(spec 4.1.4.9 requires one)\n",
		       vd->name);
		return 0;
	}
	direct = readw(vd->common + COMMON_NUMQ);
	windowed = (uint16_t)virtio_pci_cfg_read(vd, common->bar,
						 common->off + COMMON_NUMQ, 2);
	if (direct != windowed) {
		printf("%s: PCI_CFG window reads num_queues %u, the BAR %u\n",
		       vd->name, windowed, direct);
		return -EIO;
	}
	return 0;
}

int virtio_find(unsigned type, unsigned index, struct virtio_dev *vd)
{
	struct vcap caps[VIRTIO_PCI_CAP_DEVICE_CFG + 1] = {{0}};
	struct bar_cache bc = {0};
	uint8_t pos[PCI_MAX_CAPS];
	unsigned n;
	bool bad;
	int err;

	*vd = (struct virtio_dev){.type = (uint16_t)type};
	if (!find_function(type, index, &vd->pci)) {
		printf("%s: no device number %u on PCI bus 0\n",
		       type_name(type), index);
		return -ENODEV;
	}
	snprintf(vd->name, sizeof(vd->name), "%s %02x:%02x.%u", type_name(type),
		 vd->pci.bus, vd->pci.dev, vd->pci.fn);
	n = pci_caps(&vd->pci, pos, ARRAY_SIZE(pos), &bad);
	if (bad)
		printf("%s: capability list is malformed after %u entries\n",
		       vd->name, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t id = pci_read8(&vd->pci, pos[i]);

		if (id == PCI_CAP_ID_VNDR)
			cap_parse(vd, &bc, pos[i], caps);
		else if (id == PCI_CAP_ID_MSIX && !vd->msix_cap)
			vd->msix_cap = pos[i];
	}
	err = map_structures(vd, &bc, caps);
	if (err)
		return err;
	/* Bus mastering lets the device reach the rings; memory decoding
	 * is normally on already (the firmware or VMM enabled it). INTx
	 * stays off: the kit polls, or uses MSI-X. */
	pci_enable(&vd->pci, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				     PCI_COMMAND_INTX_OFF);
	describe(vd, &bc, caps);
	vd->num_queues = readw(vd->common + COMMON_NUMQ);
	return check_pci_cfg(vd, &caps[VIRTIO_PCI_CAP_COMMON_CFG]);
}

/* ---- status and features ------------------------------------------------- */

uint8_t virtio_status(struct virtio_dev *vd)
{
	return readb(vd->common + COMMON_STATUS);
}

static void status_set(struct virtio_dev *vd, uint8_t bits)
{
	/* Spec 2.1.1: the driver never clears a bit it set, so each write
	 * carries the bits so far - its own, not what it reads back, which
	 * may hold DEVICE_NEEDS_RESET, the device's to set. */
	vd->status |= bits;
	writeb(vd->status, vd->common + COMMON_STATUS);
}

int virtio_fail(struct virtio_dev *vd, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("%s: %s\n", vd->name, msg);
	status_set(vd, VIRTIO_STATUS_FAILED);
	return -EIO;
}

bool virtio_needs_reset(struct virtio_dev *vd)
{
	if (!(virtio_status(vd) & VIRTIO_STATUS_NEEDS_RESET))
		return false;
	if (!vd->told_needs_reset)
		printf("%s: device set DEVICE_NEEDS_RESET\n", vd->name);
	vd->told_needs_reset = true;
	return true;
}

int virtio_reset(struct virtio_dev *vd)
{
	uint64_t end;

	/* Spec 4.1.4.3.2: after writing 0 the driver waits for the status
	 * to read 0, which is when the device has finished its reset. */
	vd->status = 0;
	writeb(0, vd->common + COMMON_STATUS);
	end = tsc_deadline(RESET_TIMEOUT_US);
	while (virtio_status(vd) != 0) {
		if ((int64_t)(rdtsc() - end) >= 0) {
			printf("%s: status still 0x%x a second after reset\n",
			       vd->name, virtio_status(vd));
			return -ETIMEDOUT;
		}
		udelay(100);
	}
	return 0;
}

static uint64_t read_device_features(struct virtio_dev *vd)
{
	uint64_t f;

	writel(0, vd->common + COMMON_DFSELECT);
	f = readl(vd->common + COMMON_DF);
	writel(1, vd->common + COMMON_DFSELECT);
	return f | (uint64_t)readl(vd->common + COMMON_DF) << 32;
}

static void write_driver_features(struct virtio_dev *vd, uint64_t f)
{
	writel(0, vd->common + COMMON_GFSELECT);
	writel((uint32_t)f, vd->common + COMMON_GF);
	writel(1, vd->common + COMMON_GFSELECT);
	writel((uint32_t)(f >> 32), vd->common + COMMON_GF);
}

int virtio_negotiate(struct virtio_dev *vd, uint64_t want)
{
	int err = virtio_reset(vd);

	if (err)
		return err;
	status_set(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	status_set(vd, VIRTIO_STATUS_DRIVER);
	vd->device_features = read_device_features(vd);
	if (!(vd->device_features & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return virtio_fail(vd,
				   "device does not offer VERSION_1 "
				   "(legacy only): features 0x%lx",
				   vd->device_features);
	vd->features = vd->device_features & (want | BASE_FEATURES);
	write_driver_features(vd, vd->features);
	status_set(vd, VIRTIO_STATUS_FEATURES_OK);
	/* Spec 3.1.1 step 6: the device clears FEATURES_OK if it cannot
	 * work with this subset. */
	if (!(virtio_status(vd) & VIRTIO_STATUS_FEATURES_OK))
		return virtio_fail(vd, "device refused features 0x%lx",
				   vd->features);
	if (vd->verbose)
		printf("%s: features offered 0x%lx, accepted 0x%lx, %u "
		       "queues\n",
		       vd->name, vd->device_features, vd->features,
		       vd->num_queues);
	return 0;
}

int virtio_start(struct virtio_dev *vd, unsigned type, unsigned index,
		 const struct virtio_opts *o, uint64_t want)
{
	int err = virtio_find(type, index, vd);

	if (err)
		return err;
	vd->verbose = o->verbose;
	err = virtio_negotiate(vd, want | o->features);
	if (!err && o->irq)
		err = virtio_enable_msix(vd);
	return err;
}

int virtio_driver_ok(struct virtio_dev *vd)
{
	status_set(vd, VIRTIO_STATUS_DRIVER_OK);
	if (virtio_needs_reset(vd))
		return -EIO;
	if (!(virtio_status(vd) & VIRTIO_STATUS_DRIVER_OK))
		return virtio_fail(vd, "DRIVER_OK did not stick: status 0x%x",
				   virtio_status(vd));
	return 0;
}

/* ---- device configuration ------------------------------------------------ */

static bool cfg_in_range(struct virtio_dev *vd, unsigned off, unsigned width)
{
	if (vd->device && off + width <= vd->device_len)
		return true;
	printf("%s: config access at 0x%x+%u outside the device "
	       "configuration (0x%x bytes)\n",
	       vd->name, off, width, vd->device_len);
	return false;
}

uint8_t virtio_cfg_read8(struct virtio_dev *vd, unsigned off)
{
	return cfg_in_range(vd, off, 1) ? readb(vd->device + off) : 0;
}

uint16_t virtio_cfg_read16(struct virtio_dev *vd, unsigned off)
{
	return cfg_in_range(vd, off, 2) ? readw(vd->device + off) : 0;
}

uint32_t virtio_cfg_read32(struct virtio_dev *vd, unsigned off)
{
	return cfg_in_range(vd, off, 4) ? readl(vd->device + off) : 0;
}

/* Spec 4.1.3.1: 64-bit fields are read as two 32-bit halves; the caller's
 * generation loop catches a change between the two. */
uint64_t virtio_cfg_read64(struct virtio_dev *vd, unsigned off)
{
	uint32_t lo, hi;

	if (!cfg_in_range(vd, off, 8))
		return 0;
	lo = readl(vd->device + off);
	hi = readl(vd->device + off + 4);
	return (uint64_t)hi << 32 | lo;
}

void virtio_cfg_write8(struct virtio_dev *vd, unsigned off, uint8_t v)
{
	if (cfg_in_range(vd, off, 1))
		writeb(v, vd->device + off);
}

void virtio_cfg_write16(struct virtio_dev *vd, unsigned off, uint16_t v)
{
	if (cfg_in_range(vd, off, 2))
		writew(v, vd->device + off);
}

void virtio_cfg_write32(struct virtio_dev *vd, unsigned off, uint32_t v)
{
	if (cfg_in_range(vd, off, 4))
		writel(v, vd->device + off);
}

int virtio_config_read(struct virtio_dev *vd,
		       void (*read)(struct virtio_dev *vd, void *arg),
		       void *arg)
{
	for (unsigned i = 0; i < CONFIG_RETRIES; i++) {
		uint8_t gen = readb(vd->common + COMMON_CFGGEN);

		read(vd, arg);
		if (readb(vd->common + COMMON_CFGGEN) == gen)
			return 0;
	}
	printf("%s: config_generation kept changing over %u reads\n", vd->name,
	       CONFIG_RETRIES);
	return -EIO;
}

uint32_t virtio_pci_cfg_read(struct virtio_dev *vd, uint8_t bar, uint32_t off,
			     unsigned len)
{
	unsigned cap = vd->pci_cfg;
	uint32_t v;

	if (!cap || (len != 1 && len != 2 && len != 4) || (off & (len - 1)))
		return 0xffffffff;
	/* Spec 4.1.4.9.1: set bar, offset and length, then read
	 * pci_cfg_data; the first len bytes hold the data. */
	pci_write8(&vd->pci, cap + CAP_BAR, bar);
	pci_write32(&vd->pci, cap + CAP_OFFSET, off);
	pci_write32(&vd->pci, cap + CAP_LENGTH, len);
	v = pci_read32(&vd->pci, cap + CAP_PCI_CFG_DATA);
	return len == 4 ? v : v & ((1U << (8 * len)) - 1);
}

/* ---- MSI-X --------------------------------------------------------------- */

static int msix_map_table(struct virtio_dev *vd)
{
	uint32_t tbl = pci_read32(&vd->pci, vd->msix_cap + MSIX_TABLE);
	uint32_t off = tbl & ~7U;
	struct pci_bar bar;

	if (!pci_bar(&vd->pci, tbl & 7, true, &bar) || !bar.present || bar.io ||
	    !bar.addr) {
		printf("%s: MSI-X table BAR%u is not an assigned memory BAR\n",
		       vd->name, tbl & 7);
		return -ENODEV;
	}
	if ((uint64_t)off + vd->msix_size * MSIX_ENTRY_SIZE > bar.size) {
		printf("%s: MSI-X table BAR%u+0x%x (%u entries) is beyond the "
		       "BAR\n",
		       vd->name, tbl & 7, off, vd->msix_size);
		return -EINVAL;
	}
	vd->msix_table = (volatile uint32_t *)mmio_map(
		bar.addr + off, vd->msix_size * MSIX_ENTRY_SIZE);
	return vd->msix_table ? 0 : -ENOMEM;
}

int virtio_enable_msix(struct virtio_dev *vd)
{
	uint16_t ctrl;
	int err;

	if (!vd->msix_cap) {
		printf("%s: no MSI-X capability\n", vd->name);
		return -ENODEV;
	}
	ctrl = pci_read16(&vd->pci, vd->msix_cap + MSIX_CTRL);
	vd->msix_size = (ctrl & 0x7ff) + 1;
	err = msix_map_table(vd);
	if (err)
		return err;
	irq_setup();
	/* Enabled but function-masked while the entries are written, so no
	 * half-written entry can fire. */
	pci_write16(&vd->pci, vd->msix_cap + MSIX_CTRL,
		    ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_MASK);
	for (unsigned i = 0; i < vd->msix_size; i++) {
		volatile uint32_t *e = vd->msix_table + i * 4;

		writel(msi_address(), e);
		writel(0, e + 1);
		writel(msi_data(), e + 2);
		writel(0, e + 3); /* vector control: unmasked */
	}
	pci_write16(&vd->pci, vd->msix_cap + MSIX_CTRL,
		    (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASK);
	vd->msix = true;
	/* No configuration-change interrupts: the tests do not need them. */
	writew(VIRTIO_MSI_NO_VECTOR, vd->common + COMMON_MSIX);
	if (readw(vd->common + COMMON_MSIX) != VIRTIO_MSI_NO_VECTOR)
		return virtio_fail(vd, "config_msix_vector does not read back "
				       "NO_VECTOR");
	if (vd->verbose)
		printf("%s: MSI-X on, %u entries, address 0x%x data 0x%x\n",
		       vd->name, vd->msix_size, msi_address(), msi_data());
	return 0;
}

/* ---- queue set-up (spec 4.1.5.1.3) --------------------------------------- */

static unsigned pow2_floor(unsigned v)
{
	unsigned p = 1;

	while (p <= v / 2)
		p *= 2;
	return p;
}

/* 64-bit registers as two 32-bit writes, low half first (spec 4.1.3.1). */
static void write64(struct virtio_dev *vd, unsigned off, uint64_t v)
{
	writel((uint32_t)v, vd->common + off);
	writel((uint32_t)(v >> 32), vd->common + off + 4);
}

/* The selected queue's size: the device's, or max_size if smaller; split
 * rings need a power of two. 0 if the queue does not exist. */
static unsigned queue_size(struct virtio_dev *vd, unsigned index,
			   unsigned max_size)
{
	unsigned size = readw(vd->common + COMMON_Q_SIZE), want = size;

	if (!size) {
		printf("%s: queue %u has size 0 (not available)\n", vd->name,
		       index);
		return 0;
	}
	if (max_size && max_size < want)
		want = max_size;
	want = pow2_floor(want < VIRTQ_MAX_SIZE ? want : VIRTQ_MAX_SIZE);
	if (want != size)
		writew((uint16_t)want, vd->common + COMMON_Q_SIZE);
	return want;
}

static int queue_set_vector(struct virtio_dev *vd, struct virtq *vq)
{
	uint16_t v =
		vd->msix ? vq->index % vd->msix_size : VIRTIO_MSI_NO_VECTOR;

	/* Spec 4.1.4.3: a vector the device cannot use reads back as
	 * NO_VECTOR. */
	writew(v, vd->common + COMMON_Q_MSIX);
	if (readw(vd->common + COMMON_Q_MSIX) != v)
		return virtio_fail(vd, "queue %u: MSI-X vector %u refused",
				   vq->index, v);
	vq->msix_vector = v;
	return 0;
}

static int queue_set_notify(struct virtio_dev *vd, struct virtq *vq)
{
	uint64_t off =
		(uint64_t)readw(vd->common + COMMON_Q_NOFF) * vd->notify_mul;

	/* Spec 4.1.4.4: the notify structure covers every queue's address
	 * (plus 2 bytes for the 16-bit write). */
	if (off + 2 > vd->notify_len)
		return virtio_fail(vd,
				   "queue %u: notify offset 0x%lx beyond "
				   "the notify structure (0x%x bytes)",
				   vq->index, off, vd->notify_len);
	vq->notify = (volatile uint16_t *)(vd->notify_base + off);
	return 0;
}

int virtq_setup(struct virtio_dev *vd, struct virtq *vq, unsigned index,
		unsigned max_size)
{
	unsigned size;
	int err;

	if (index >= vd->num_queues) {
		printf("%s: queue %u asked for, the device has %u\n", vd->name,
		       index, vd->num_queues);
		return -ENODEV;
	}
	writew((uint16_t)index, vd->common + COMMON_Q_SELECT);
	if (readw(vd->common + COMMON_Q_ENABLE))
		return virtio_fail(vd, "queue %u enabled before set-up", index);
	size = queue_size(vd, index, max_size);
	if (!size)
		return -ENODEV;
	err = virtq_init(vq, vd, index, size);
	if (err)
		return err;
	err = queue_set_vector(vd, vq);
	if (!err)
		err = queue_set_notify(vd, vq);
	if (err)
		return err;
	write64(vd, COMMON_Q_DESCLO, virt_to_phys(vq->desc));
	write64(vd, COMMON_Q_AVAILLO, virt_to_phys(vq->avail));
	write64(vd, COMMON_Q_USEDLO, virt_to_phys(vq->used));
	writew(1, vd->common + COMMON_Q_ENABLE);
	if (vd->verbose)
		printf("%s: queue %u: size %u, vector 0x%x, notify at %p\n",
		       vd->name, index, size, vq->msix_vector, vq->notify);
	return 0;
}
