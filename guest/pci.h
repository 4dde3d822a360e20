/* SPDX-License-Identifier: MIT */
/*
 * PCI for the test guests, from ring 3: configuration mechanism #1 (ports
 * 0xCF8/0xCFC) on bus 0, BARs as the firmware or VMM programmed them, and
 * the capability list. The guest never assigns BARs.
 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "rt.h"

/* Standard configuration header (PCI Local Bus spec 3.0, 6.1). */
#define PCI_VENDOR_ID	     0x00
#define PCI_DEVICE_ID	     0x02
#define PCI_COMMAND	     0x04
#define PCI_STATUS	     0x06
#define PCI_REVISION_ID	     0x08
#define PCI_CLASS_PROG	     0x09
#define PCI_HEADER_TYPE	     0x0e
#define PCI_BAR0	     0x10
#define PCI_SUBSYSTEM_VENDOR 0x2c
#define PCI_SUBSYSTEM_ID     0x2e
#define PCI_CAPABILITY_LIST  0x34

#define PCI_COMMAND_IO	      0x0001
#define PCI_COMMAND_MEMORY    0x0002
#define PCI_COMMAND_MASTER    0x0004
#define PCI_COMMAND_INTX_OFF  0x0400
#define PCI_STATUS_CAP_LIST   0x0010
#define PCI_HEADER_MULTI_FUNC 0x80

#define PCI_CAP_ID_MSI	0x05
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MAX_CAPS	48 /* (256 - 64) / 4: more means a loop */
#define PCI_NUM_BARS	6

struct pci_dev {
	uint8_t bus, dev, fn;
	uint8_t header_type; /* without the multi-function bit */
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_id;
	uint32_t class; /* base << 16 | sub << 8 | prog-if */
	uint8_t revision;
};

struct pci_bar {
	uint64_t addr; /* as programmed; 0 means unassigned */
	uint64_t size; /* from sizing, 0 if not sized or no BAR */
	bool present;  /* the BAR register exists and is implemented */
	bool io;       /* I/O space (else memory) */
	bool is64;     /* 64-bit memory BAR: uses the next register too */
	bool prefetch;
};

/* Configuration reads and writes of 8, 16 and 32 bits at off (0..255),
 * aligned to their width. */
uint8_t pci_read8(const struct pci_dev *d, unsigned off);
uint16_t pci_read16(const struct pci_dev *d, unsigned off);
uint32_t pci_read32(const struct pci_dev *d, unsigned off);
void pci_write8(const struct pci_dev *d, unsigned off, uint8_t v);
void pci_write16(const struct pci_dev *d, unsigned off, uint16_t v);
void pci_write32(const struct pci_dev *d, unsigned off, uint32_t v);

/* List the functions on bus 0 (every device, every function of a
 * multi-function device); returns how many were found, up to max. */
unsigned pci_scan(struct pci_dev *devs, unsigned max);
/* The index'th function on bus 0 with this vendor and a device ID in
 * [dev_lo, dev_hi]; false if there is none. */
bool pci_find(uint16_t vendor, uint16_t dev_lo, uint16_t dev_hi, unsigned index,
	      struct pci_dev *out);

/* Read BAR n (0..5) as programmed. With size, also size it: decoding is
 * turned off, all ones written and read back, the address restored. The
 * BAR's address is never changed. Returns false for n out of range or the
 * upper half of a 64-bit BAR. */
bool pci_bar(const struct pci_dev *d, unsigned n, bool size,
	     struct pci_bar *bar);

/* Offsets of the capabilities, in list order; returns the count (at most
 * max and PCI_MAX_CAPS). The walk stops at a pointer outside 0x40..0xff
 * or not dword aligned, and *bad (if not NULL) is set to say so. */
unsigned pci_caps(const struct pci_dev *d, uint8_t *pos, unsigned max,
		  bool *bad);
/* Offset of the first capability with this ID after offset start (0 for
 * the first in the list); 0 if none. */
unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned start);

/* Set bits in the command register if not yet set; returns the old value. */
uint16_t pci_enable(const struct pci_dev *d, uint16_t bits);

#endif
