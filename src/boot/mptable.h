/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI
 * finds its CPUs, its I/O APIC and how ISA interrupts are wired.
 */
#ifndef BERTH_BOOT_MPTABLE_H
#define BERTH_BOOT_MPTABLE_H

#include <stdint.h>

#include "mem/guest_mem.h"

#define MPTABLE_IOAPIC_ADDR 0xfec00000U
#define MPTABLE_LAPIC_ADDR  0xfee00000U
#define MPTABLE_MAX_CPUS    254 /* APIC IDs 0..253; the I/O APIC takes the next */

/* Write the floating pointer and configuration table at BOOT_EBDA_START for
 * nr_cpus CPUs with APIC IDs 0..nr_cpus-1; the boot CPU is APIC ID 0. */
int mptable_write(const struct guest_mem *m, unsigned nr_cpus)
	__attribute__((warn_unused_result));

#endif
