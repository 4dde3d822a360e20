/* SPDX-License-Identifier: MIT */
/*
 * PVH boot (xen/include/public/arch-x86/hvm/start_info.h): an ELF with a
 * XEN_ELFNOTE_PHYS32_ENTRY note, entered in 32-bit protected mode with EBX
 * pointing at struct hvm_start_info.
 */
#ifndef BERTH_BOOT_PVH_H
#define BERTH_BOOT_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "boot/elf.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC		 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct pvh_boot_args {
	const uint8_t *initrd; /* NULL if none; passed as module 0 */
	size_t initrd_size;
	const char *cmdline; /* never NULL */
};

/* The PVH entry address of a parsed ELF: 0 and *entry set, -ENOENT if the
 * ELF has no PHYS32_ENTRY note, -ENOEXEC if the note is malformed. */
int pvh_find_entry(const struct elf_image *img, uint64_t *entry)
	__attribute__((warn_unused_result));

/* Load a parsed PVH ELF, write hvm_start_info, memmap, cmdline and initrd,
 * and fill *entry for BOOT_MODE_PVH32. Logs one line on failure. */
int pvh_load(const struct guest_mem *m, const struct elf_image *img,
	     const struct pvh_boot_args *a, struct boot_entry *entry)
	__attribute__((warn_unused_result));

#endif
