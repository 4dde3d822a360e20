/* SPDX-License-Identifier: MIT */
/*
 * A PCI root bus: a host bridge at 00:00.0, configuration mechanism #1
 * (ports 0xCF8/0xCFC) and ECAM for bus 0, devices at fixed slots, and
 * 32-bit memory BARs that berth assigns like firmware does and that the
 * guest may size and move as on hardware.
 */
#ifndef BERTH_PCI_PCI_H
#define BERTH_PCI_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"

#define PCI_MAX_SLOTS 32
#define PCI_NUM_BARS  6
#define PCI_CFG_SIZE  256
/* BARs are placed here (below the ECAM window, in the MMIO hole). */
#define PCI_MMIO_BASE 0xc0000000ULL
#define PCI_MMIO_END  0xe0000000ULL
/* No BAR decodes at or above this (APICs, firmware area). */
#define PCI_BAR_LIMIT 0xfec00000ULL
/* ECAM for bus 0 only: 32 devices x 8 functions x 4 KiB. */
#define PCI_ECAM_BASE 0xe0000000ULL
#define PCI_ECAM_SIZE 0x100000ULL

/* Standard configuration header offsets (PCI Local Bus spec 3.0, 6.1). */
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
#define PCI_INTERRUPT_LINE   0x3c
#define PCI_INTERRUPT_PIN    0x3d

#define PCI_COMMAND_IO	    0x0001
#define PCI_COMMAND_MEMORY  0x0002
#define PCI_COMMAND_MASTER  0x0004
#define PCI_STATUS_CAP_LIST 0x0010

struct pci_dev;

struct pci_bar {
	uint64_t size; /* a power of two, at least 4 KiB; 0: no BAR */
	uint64_t addr; /* what the guest (or berth) programmed */
	bool mapped;   /* on the MMIO bus: memory decoding on, addr valid */
	const struct bus_ops *ops;
	void *opaque;
};

struct pci_dev {
	const char *name;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
	struct pci_bar bars[PCI_NUM_BARS];
	uint8_t cap_end;  /* next free byte for a capability */
	uint8_t cap_last; /* the last capability in the list, or 0 */
	/* Optional hooks, called with the host's config lock held: before a
	 * config read of [off, off + len) (to refresh cfg[]) and after a
	 * write (the write mask already applied). */
	void (*config_read)(struct pci_dev *d, unsigned off, unsigned len);
	void (*config_write)(struct pci_dev *d, unsigned off, unsigned len);
	/* Optional: a BAR's guest address or mapping changed. */
	void (*bar_moved)(struct pci_dev *d, unsigned bar);
	void *opaque;
	struct pci_host *host;
	unsigned slot;
};

struct pci_host {
	struct bus *pio;
	struct bus *mmio;
	pthread_mutex_t lock;	 /* all config-space state */
	uint32_t config_address; /* the CF8 latch */
	struct pci_dev *devs[PCI_MAX_SLOTS];
	struct pci_dev bridge;
	uint64_t mmio_next; /* BAR allocator */
};

/* Create the host bridge and claim CF8/CFC and the ECAM window. */
int pci_host_init(struct pci_host *h, struct bus *pio, struct bus *mmio)
	__attribute__((warn_unused_result));

/* Release the lock (buses are torn down by their owner). */
void pci_host_destroy(struct pci_host *h);

/* Fill a type-0 header: IDs, class (base << 16 | sub << 8 | prog-if). */
void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor,
		  uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id);

/* Declare a 32-bit non-prefetchable memory BAR of size bytes (a power of
 * two >= 4 KiB) served by ops. */
int pci_dev_add_bar(struct pci_dev *d, unsigned bar, uint64_t size,
		    const struct bus_ops *ops, void *opaque)
	__attribute__((warn_unused_result));

/* Append a capability (cap[0] = ID; cap[1] is filled as the next pointer)
 * of len bytes; returns its config offset or -ENOSPC. wmask (len bytes, or
 * NULL for read-only) says which bits the guest may write. */
int pci_dev_add_cap(struct pci_dev *d, const void *cap, const void *wmask,
		    unsigned len) __attribute__((warn_unused_result));

/* Put d in the next free slot, assign its BARs in the MMIO window and turn
 * memory decoding on, as firmware would. */
int pci_host_add_dev(struct pci_host *h, struct pci_dev *d)
	__attribute__((warn_unused_result));

/* One config-space access to bus 0, device slot, function fn (what CF8/CFC
 * and ECAM both turn into). Absent functions read as all-ones. */
void pci_config_access(struct pci_host *h, unsigned slot, unsigned fn,
		       unsigned off, void *data, unsigned len, bool is_write);

#endif
