/* SPDX-License-Identifier: MIT */
#include "pci/pci.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

#define PCI_VENDOR_REDHAT 0x1b36
#define PCI_DEVICE_HOST	  0x0008 /* QEMU's generic PCIe host bridge ID */
#define PCI_CLASS_HOST	  0x060000
#define PCI_COMMAND_WMASK 0x0547 /* IO, MEM, MASTER, PARITY, SERR, INTX off */
#define CF8_ENABLE	  0x80000000U
#define PCI_CFG_ADDR_PORT 0xcf8
#define PCI_CFG_DATA_PORT 0xcfc

static void cfg_put16(uint8_t *cfg, unsigned off, uint16_t v)
{
	memcpy(cfg + off, &v, 2);
}

static void cfg_put32(uint8_t *cfg, unsigned off, uint32_t v)
{
	memcpy(cfg + off, &v, 4);
}

static uint32_t cfg_get32(const uint8_t *cfg, unsigned off)
{
	uint32_t v;

	memcpy(&v, cfg + off, 4);
	return v;
}

void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor,
		  uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	cfg_put16(d->cfg, PCI_VENDOR_ID, vendor);
	cfg_put16(d->cfg, PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION_ID] = revision;
	d->cfg[PCI_CLASS_PROG] = class_code & 0xff;
	d->cfg[PCI_CLASS_PROG + 1] = (class_code >> 8) & 0xff;
	d->cfg[PCI_CLASS_PROG + 2] = (class_code >> 16) & 0xff;
	cfg_put16(d->cfg, PCI_SUBSYSTEM_VENDOR, subsys_vendor);
	cfg_put16(d->cfg, PCI_SUBSYSTEM_ID, subsys_id);
	cfg_put16(d->wmask, PCI_COMMAND, PCI_COMMAND_WMASK);
	d->wmask[0x0c] = 0xff; /* cache line size */
	d->wmask[0x0d] = 0xff; /* latency timer */
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->cap_end = 0x40;
}

int pci_dev_add_bar(struct pci_dev *d, unsigned bar, uint64_t size,
		    const struct bus_ops *ops, void *opaque)
{
	if (bar >= PCI_NUM_BARS || size < 0x1000 || size > (1ULL << 30) ||
	    (size & (size - 1)) || d->bars[bar].size)
		return -EINVAL;
	d->bars[bar] =
		(struct pci_bar){.size = size, .ops = ops, .opaque = opaque};
	/* Memory BAR, 32-bit, not prefetchable: type bits all zero. The
	 * address bits below size read as zero, which is how the guest
	 * learns the size after writing all-ones. */
	cfg_put32(d->wmask, PCI_BAR0 + 4 * bar, (uint32_t) ~(size - 1));
	return 0;
}

int pci_dev_add_cap(struct pci_dev *d, const void *cap, const void *wmask,
		    unsigned len)
{
	unsigned off = (d->cap_end + 3) & ~3U;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	memcpy(d->cfg + off, cap, len);
	d->cfg[off + 1] = 0;
	if (wmask)
		memcpy(d->wmask + off, wmask, len);
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = (uint8_t)off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->cap_last = (uint8_t)off;
	d->cap_end = (uint8_t)(off + len);
	return (int)off;
}

/* Bring BAR i's bus mapping in line with its register and the command
 * register's memory-decode bit. Caller holds the host lock. */
static void pci_bar_update(struct pci_dev *d, unsigned i)
{
	struct pci_bar *b = &d->bars[i];
	uint64_t addr = cfg_get32(d->cfg, PCI_BAR0 + 4 * i) & ~0xfULL;
	bool decode = d->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY;
	/* BARs decode only below the I/O APIC, local APIC and firmware area
	 * at the top of 4 GiB. That also covers the all-ones value a BAR
	 * holds while the guest sizes it with decoding left on. */
	bool valid = addr && addr + b->size <= PCI_BAR_LIMIT;
	bool changed = false;

	if (b->mapped && (!decode || !valid || addr != b->addr)) {
		if (bus_unregister(d->host->mmio, b->addr))
			pr_warn("pci %s: BAR%u was not mapped", d->name, i);
		b->mapped = false;
		changed = true;
	}
	if (decode && valid && !b->mapped) {
		if (bus_register(d->host->mmio, d->name, addr, b->size, b->ops,
				 b->opaque))
			pr_warn("pci %s: BAR%u at %#llx overlaps another "
				"range; left unmapped",
				d->name, i, (unsigned long long)addr);
		else
			b->mapped = changed = true;
	}
	b->addr = addr;
	if (changed && d->bar_moved)
		d->bar_moved(d, i);
}

static void pci_update_bars(struct pci_dev *d)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		if (d->bars[i].size)
			pci_bar_update(d, i);
}

static bool ranges_overlap(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
	return a < b + blen && b < a + alen;
}

static void pci_dev_config(struct pci_dev *d, unsigned off, uint8_t *data,
			   unsigned len, bool is_write)
{
	if (off >= PCI_CFG_SIZE) { /* ECAM extended space: not PCIe */
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (off + len > PCI_CFG_SIZE)
		len = PCI_CFG_SIZE - off;
	if (!is_write) {
		if (d->config_read)
			d->config_read(d, off, len);
		memcpy(data, d->cfg + off, len);
		return;
	}
	for (unsigned i = 0; i < len; i++)
		d->cfg[off + i] = (d->cfg[off + i] & ~d->wmask[off + i]) |
				  (data[i] & d->wmask[off + i]);
	if (ranges_overlap(off, len, PCI_COMMAND, 2) ||
	    ranges_overlap(off, len, PCI_BAR0, 4 * PCI_NUM_BARS))
		pci_update_bars(d);
	if (d->config_write)
		d->config_write(d, off, len);
}

void pci_config_access(struct pci_host *h, unsigned slot, unsigned fn,
		       unsigned off, void *data, unsigned len, bool is_write)
{
	struct pci_dev *d;

	pthread_mutex_lock(&h->lock);
	d = slot < PCI_MAX_SLOTS && fn == 0 ? h->devs[slot] : NULL;
	if (d)
		pci_dev_config(d, off, data, len, is_write);
	else if (!is_write) /* no device: master abort */
		memset(data, 0xff, len);
	pthread_mutex_unlock(&h->lock);
}

static void pci_cf8_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct pci_host *h = opaque;

	memset(data, 0xff, len);
	if (off == 0 && len == 4) {
		pthread_mutex_lock(&h->lock);
		memcpy(data, &h->config_address, 4);
		pthread_mutex_unlock(&h->lock);
	}
}

static void pci_cf8_write(void *opaque, uint64_t off, const void *data,
			  unsigned len)
{
	struct pci_host *h = opaque;
	uint32_t v;

	/* Only a 32-bit access selects a register (byte accesses at 0xCFB
	 * are how old software probes for mechanism #2: ignore them). */
	if (off || len != 4)
		return;
	memcpy(&v, data, 4);
	pthread_mutex_lock(&h->lock);
	h->config_address = v & (CF8_ENABLE | 0x00fffffc);
	pthread_mutex_unlock(&h->lock);
}

static void pci_cfc_access(void *opaque, uint64_t off, void *data, unsigned len,
			   bool is_write)
{
	struct pci_host *h = opaque;
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->config_address;
	pthread_mutex_unlock(&h->lock);
	if (!(a & CF8_ENABLE) || ((a >> 16) & 0xff) != 0) {
		if (!is_write) /* disabled, or a bus that does not exist */
			memset(data, 0xff, len);
		return;
	}
	pci_config_access(h, (a >> 11) & 0x1f, (a >> 8) & 7,
			  (a & 0xfc) + (unsigned)off, data, len, is_write);
}

static void pci_cfc_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	pci_cfc_access(opaque, off, data, len, false);
}

static void pci_cfc_write(void *opaque, uint64_t off, const void *data,
			  unsigned len)
{
	pci_cfc_access(opaque, off, (void *)data, len, true);
}

/* ECAM: offset = device << 15 | function << 12 | register (bus 0). */
static void pci_ecam_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	pci_config_access(opaque, (off >> 15) & 0x1f, (off >> 12) & 7,
			  off & 0xfff, data, len, false);
}

static void pci_ecam_write(void *opaque, uint64_t off, const void *data,
			   unsigned len)
{
	pci_config_access(opaque, (off >> 15) & 0x1f, (off >> 12) & 7,
			  off & 0xfff, (void *)data, len, true);
}

static const struct bus_ops pci_cf8_ops = {pci_cf8_read, pci_cf8_write};
static const struct bus_ops pci_cfc_ops = {pci_cfc_read, pci_cfc_write};
static const struct bus_ops pci_ecam_ops = {pci_ecam_read, pci_ecam_write};

int pci_host_init(struct pci_host *h, struct bus *pio, struct bus *mmio)
{
	int ret;

	memset(h, 0, sizeof(*h));
	h->pio = pio;
	h->mmio = mmio;
	h->mmio_next = PCI_MMIO_BASE;
	if (pthread_mutex_init(&h->lock, NULL))
		return -ENOMEM;
	pci_dev_init(&h->bridge, "host-bridge", PCI_VENDOR_REDHAT,
		     PCI_DEVICE_HOST, PCI_CLASS_HOST, 0, PCI_VENDOR_REDHAT, 0);
	h->bridge.host = h;
	h->devs[0] = &h->bridge;
	ret = bus_register(pio, "pci-config-address", PCI_CFG_ADDR_PORT, 4,
			   &pci_cf8_ops, h);
	if (!ret)
		ret = bus_register(pio, "pci-config-data", PCI_CFG_DATA_PORT, 4,
				   &pci_cfc_ops, h);
	if (!ret)
		ret = bus_register(mmio, "pci-ecam", PCI_ECAM_BASE,
				   PCI_ECAM_SIZE, &pci_ecam_ops, h);
	return ret;
}

void pci_host_destroy(struct pci_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

/* Firmware's job: give every BAR an aligned address in the window. */
static int pci_assign_bars(struct pci_host *h, struct pci_dev *d)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &d->bars[i];
		uint64_t addr = (h->mmio_next + b->size - 1) & ~(b->size - 1);

		if (!b->size)
			continue;
		if (addr + b->size > PCI_MMIO_END) {
			pr_err("pci %s: no room for BAR%u (%llu KiB) in the "
			       "MMIO window",
			       d->name, i, (unsigned long long)b->size >> 10);
			return -ENOSPC;
		}
		cfg_put32(d->cfg, PCI_BAR0 + 4 * i, (uint32_t)addr);
		h->mmio_next = addr + b->size;
	}
	return 0;
}

int pci_host_add_dev(struct pci_host *h, struct pci_dev *d)
{
	unsigned slot;
	int ret;

	pthread_mutex_lock(&h->lock);
	for (slot = 1; slot < PCI_MAX_SLOTS && h->devs[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS) {
		ret = -ENOSPC;
	} else {
		d->host = h;
		d->slot = slot;
		ret = pci_assign_bars(h, d);
	}
	if (!ret) {
		h->devs[slot] = d;
		d->cfg[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
		pci_update_bars(d);
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}
