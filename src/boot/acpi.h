/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables (ACPI 6.0): RSDP, XSDT, a hardware-reduced FADT, a DSDT
 * (\_S5 for power-off, \_SB.PCI0 for the PCI root bus, \_SB.MBRD
 * reserving ECAM), MCFG and a MADT listing the local APICs and the I/O
 * APIC. Stock Linux kernels built without MP-table support (Debian's cloud
 * kernel among them) find their CPUs and PCI devices only here.
 */
#ifndef BERTH_BOOT_ACPI_H
#define BERTH_BOOT_ACPI_H

#include <stdint.h>

#include "mem/guest_mem.h"

/* In the BIOS area Linux scans for "RSD PTR " (0xE0000-0xFFFFF). */
#define ACPI_RSDP_ADDR 0xe0000ULL
/* The tables end before this address. */
#define ACPI_AREA_END 0xf0000ULL

/* Write the tables for nr_cpus CPUs with APIC IDs 0..nr_cpus-1. */
int acpi_write_tables(const struct guest_mem *m, unsigned nr_cpus)
	__attribute__((warn_unused_result));

#endif
