/* SPDX-License-Identifier: MIT */
/*
 * What a loader hands to the vCPU set-up: where and how the boot vCPU enters
 * the guest, plus the fixed guest-physical layout the loaders share.
 */
#ifndef BERTH_BOOT_BOOT_H
#define BERTH_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

/* Low-memory layout (all below 1 MiB, inside the first RAM region). */
#define BOOT_GDT_ADDR	    0x500ULL
#define BOOT_PVH_INFO_ADDR  0x6000ULL /* hvm_start_info, memmap after it */
#define BOOT_ZERO_PAGE_ADDR 0x7000ULL /* Linux struct boot_params */
#define BOOT_STACK_TOP	    0x8ff0ULL /* LINUX64 entry stack */
#define BOOT_PML4_ADDR	    0x9000ULL /* 0x9000..0xefff: identity map */
#define BOOT_CMDLINE_ADDR   0x20000ULL
#define BOOT_CMDLINE_MAX    0x10000ULL /* bytes, including the NUL */
#define BOOT_EBDA_START	    0x9fc00ULL /* MP table lives here */
#define BOOT_HIMEM_START    0x100000ULL
/* PVH modules (the initrd) and their list go here, below the kernel. */
#define BOOT_PVH_MODLIST_ADDR 0x6800ULL

/* GDT selectors berth's boot GDT provides (Linux's __BOOT_CS/__BOOT_DS). */
#define BOOT_CS_SEL  0x10
#define BOOT_DS_SEL  0x18
#define BOOT_TSS_SEL 0x20

enum boot_mode {
	BOOT_MODE_PVH32,   /* 32-bit protected mode, paging off, rbx = info */
	BOOT_MODE_LINUX64, /* long mode, identity map of 4 GiB, rsi = zero page */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rbx;
	uint64_t rsi;
};

/* e820 memory types (the Linux boot protocol and hvm_start_info agree). */
#define E820_RAM      1
#define E820_RESERVED 2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_MAX_ENTRIES 8

/* Fill out[] with the guest's memory map; returns the entry count or -errno. */
int e820_build(const struct guest_mem *m, struct e820_entry *out, unsigned max)
	__attribute__((warn_unused_result));

/* Write the boot GDT (and, for LINUX64, the identity page tables) to RAM. */
int boot_write_cpu_tables(const struct guest_mem *m, enum boot_mode mode)
	__attribute__((warn_unused_result));

/* The boot GDT's descriptor at index idx (selector idx * 8) for mode. */
uint64_t boot_gdt_entry(enum boot_mode mode, unsigned idx);

#define BOOT_GDT_ENTRIES 5

/* The byte that makes len bytes at p sum to zero (MP and ACPI tables). */
uint8_t boot_checksum(const void *p, size_t len);

/* Copy cmdline (NUL-terminated) to BOOT_CMDLINE_ADDR; -E2BIG if > max-1. */
int boot_write_cmdline(const struct guest_mem *m, const char *cmdline,
		       size_t max) __attribute__((warn_unused_result));

#endif
