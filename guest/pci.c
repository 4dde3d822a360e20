/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration mechanism #1 from ring 3 (the TSS's I/O bitmap allows
 * every port): the address goes to 0xCF8, the data moves through 0xCFC-0xCFF
 * at the byte lane of the register. Each port access is a VM exit, so the
 * helpers read only what they are asked for.
 */
#include "pci.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA	   0xcfc
#define PCI_ENABLE	   0x80000000U

static void pci_select(const struct pci_dev *d, unsigned off)
{
	outl(PCI_ENABLE | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 |
		     (uint32_t)d->fn << 8 | (off & 0xfc),
	     PCI_CONFIG_ADDRESS);
}

uint8_t pci_read8(const struct pci_dev *d, unsigned off)
{
	pci_select(d, off);
	return inb(PCI_CONFIG_DATA + (off & 3));
}

uint16_t pci_read16(const struct pci_dev *d, unsigned off)
{
	pci_select(d, off);
	return inw(PCI_CONFIG_DATA + (off & 2));
}

uint32_t pci_read32(const struct pci_dev *d, unsigned off)
{
	pci_select(d, off);
	return inl(PCI_CONFIG_DATA);
}

void pci_write8(const struct pci_dev *d, unsigned off, uint8_t v)
{
	pci_select(d, off);
	outb(v, PCI_CONFIG_DATA + (off & 3));
}

void pci_write16(const struct pci_dev *d, unsigned off, uint16_t v)
{
	pci_select(d, off);
	outw(v, PCI_CONFIG_DATA + (off & 2));
}

void pci_write32(const struct pci_dev *d, unsigned off, uint32_t v)
{
	pci_select(d, off);
	outl(v, PCI_CONFIG_DATA);
}

/* Fill in a function's identity; false if nothing answers there. */
static bool pci_probe(uint8_t dev, uint8_t fn, struct pci_dev *d)
{
	uint32_t id, cls, sub;

	*d = (struct pci_dev){.bus = 0, .dev = dev, .fn = fn};
	id = pci_read32(d, PCI_VENDOR_ID);
	if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
		return false;
	d->vendor = id & 0xffff;
	d->device = id >> 16;
	cls = pci_read32(d, PCI_REVISION_ID);
	d->revision = cls & 0xff;
	d->class = cls >> 8;
	d->header_type = pci_read8(d, PCI_HEADER_TYPE) & 0x7f;
	if (d->header_type == 0) {
		sub = pci_read32(d, PCI_SUBSYSTEM_VENDOR);
		d->subsys_vendor = sub & 0xffff;
		d->subsys_id = sub >> 16;
	}
	return true;
}

static bool pci_multifunction(uint8_t dev)
{
	struct pci_dev d = {.dev = dev};

	return pci_read8(&d, PCI_HEADER_TYPE) & PCI_HEADER_MULTI_FUNC;
}

unsigned pci_scan(struct pci_dev *devs, unsigned max)
{
	unsigned n = 0;

	for (uint8_t dev = 0; dev < 32 && n < max; dev++) {
		unsigned nfn;

		if (!pci_probe(dev, 0, &devs[n]))
			continue;
		n++;
		nfn = pci_multifunction(dev) ? 8 : 1;
		for (uint8_t fn = 1; fn < nfn && n < max; fn++)
			if (pci_probe(dev, fn, &devs[n]))
				n++;
	}
	return n;
}

bool pci_find(uint16_t vendor, uint16_t dev_lo, uint16_t dev_hi, unsigned index,
	      struct pci_dev *out)
{
	struct pci_dev devs[64];
	unsigned n = pci_scan(devs, ARRAY_SIZE(devs));

	for (unsigned i = 0; i < n; i++) {
		if (devs[i].vendor != vendor || devs[i].device < dev_lo ||
		    devs[i].device > dev_hi)
			continue;
		if (index-- == 0) {
			*out = devs[i];
			return true;
		}
	}
	return false;
}

/* Number of BAR registers in this header type (bridges have two). */
static unsigned pci_num_bars(const struct pci_dev *d)
{
	return d->header_type == 0 ? 6 : d->header_type == 1 ? 2 : 0;
}

/* Size the BAR at reg (and reg + 4 if 64-bit) with decoding off, so that
 * nothing answers at the all-ones address meanwhile; then restore both. */
static uint64_t pci_bar_size(const struct pci_dev *d, unsigned reg,
			     const struct pci_bar *bar)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	uint32_t lo = pci_read32(d, reg), hi = 0, mlo, mhi = 0xffffffff;
	uint64_t mask;

	pci_write16(d, PCI_COMMAND,
		    cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	pci_write32(d, reg, 0xffffffff);
	mlo = pci_read32(d, reg);
	pci_write32(d, reg, lo);
	if (bar->is64) {
		hi = pci_read32(d, reg + 4);
		pci_write32(d, reg + 4, 0xffffffff);
		mhi = pci_read32(d, reg + 4);
		pci_write32(d, reg + 4, hi);
	}
	pci_write16(d, PCI_COMMAND, cmd);
	mask = (uint64_t)mhi << 32 | (mlo & (bar->io ? ~3U : ~15U));
	if (bar->io)
		mask |= 0xffffffffffff0000ULL; /* 16-bit I/O space */
	if (!(mask & 0xffffffff) && !bar->is64)
		return 0;
	return ~mask + 1;
}

bool pci_bar(const struct pci_dev *d, unsigned n, bool size,
	     struct pci_bar *bar)
{
	unsigned reg = PCI_BAR0 + 4 * n;
	uint32_t lo;

	*bar = (struct pci_bar){0};
	if (n >= pci_num_bars(d))
		return false;
	/* The upper half of a 64-bit BAR is not a BAR of its own. */
	if (n > 0) {
		uint32_t prev = pci_read32(d, reg - 4);

		if (!(prev & 1) && ((prev >> 1) & 3) == 2)
			return false;
	}
	lo = pci_read32(d, reg);
	bar->io = lo & 1;
	if (bar->io) {
		bar->addr = lo & ~3U;
	} else {
		bar->is64 = ((lo >> 1) & 3) == 2 && n + 1 < pci_num_bars(d);
		bar->prefetch = lo & 8;
		bar->addr = lo & ~15U;
		if (bar->is64)
			bar->addr |= (uint64_t)pci_read32(d, reg + 4) << 32;
	}
	if (size)
		bar->size = pci_bar_size(d, reg, bar);
	/* An unimplemented BAR reads as zero and sizes to zero. */
	bar->present = size ? bar->size != 0 : lo != 0;
	return true;
}

unsigned pci_caps(const struct pci_dev *d, uint8_t *pos, unsigned max,
		  bool *bad)
{
	unsigned n = 0, p;

	if (bad)
		*bad = false;
	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	p = pci_read8(d, PCI_CAPABILITY_LIST);
	/* The bound stops a list that loops; the range and alignment checks
	 * stop one that points into the header or into the middle of a
	 * register, as garbage from a broken device would. */
	while (p && n < max && n < PCI_MAX_CAPS) {
		if (p < 0x40 || p > 0xfc || (p & 3)) {
			if (bad)
				*bad = true;
			break;
		}
		pos[n++] = (uint8_t)p;
		p = pci_read8(d, p + 1);
	}
	if (p && n == PCI_MAX_CAPS && bad)
		*bad = true;
	return n;
}

unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned start)
{
	uint8_t pos[PCI_MAX_CAPS];
	unsigned n = pci_caps(d, pos, PCI_MAX_CAPS, NULL);
	bool after = start == 0;

	for (unsigned i = 0; i < n; i++) {
		if (after && pci_read8(d, pos[i]) == id)
			return pos[i];
		if (pos[i] == start)
			after = true;
	}
	return 0;
}

uint16_t pci_enable(const struct pci_dev *d, uint16_t bits)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);

	if ((cmd & bits) != bits)
		pci_write16(d, PCI_COMMAND, cmd | bits);
	return cmd;
}
