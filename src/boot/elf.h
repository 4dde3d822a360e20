/* SPDX-License-Identifier: MIT */
/*
 * ELF executables for x86 (ELF32 i386 and ELF64 x86-64): parsed with every
 * offset and size checked against the file, since the file is user input.
 */
#ifndef BERTH_BOOT_ELF_H
#define BERTH_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define ELF_MAX_SEGMENTS 32

struct elf_segment {
	uint64_t offset; /* in the file */
	uint64_t paddr;
	uint64_t vaddr;
	uint64_t filesz;
	uint64_t memsz;
};

struct elf_image {
	const uint8_t *data;
	size_t size;
	bool is64;
	uint64_t entry;
	unsigned nr_load; /* PT_LOAD segments, in file order */
	struct elf_segment load[ELF_MAX_SEGMENTS];
	unsigned nr_note; /* PT_NOTE segments */
	struct elf_segment note[ELF_MAX_SEGMENTS];
};

/* True if data starts with the ELF magic (says nothing about validity). */
bool elf_is_elf(const uint8_t *data, size_t size);

/* Parse and validate an x86 executable; -ENOEXEC with a logged reason. */
int elf_parse(const uint8_t *data, size_t size, struct elf_image *img)
	__attribute__((warn_unused_result));

/*
 * Find the note (name, type) in the PT_NOTE segments. On success *desc points
 * into the image and *descsz is its length. -ENOENT if absent, -ENOEXEC if a
 * note segment is malformed.
 */
int elf_find_note(const struct elf_image *img, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *descsz)
	__attribute__((warn_unused_result));

/*
 * Copy every PT_LOAD segment to guest RAM at paddr - phys_bias, zeroing the
 * memsz - filesz tail. -EFAULT (logged) if any byte falls outside RAM.
 * *end gets one past the highest byte loaded.
 */
int elf_load(const struct elf_image *img, const struct guest_mem *m,
	     uint64_t phys_bias, uint64_t *end)
	__attribute__((warn_unused_result));

#endif
