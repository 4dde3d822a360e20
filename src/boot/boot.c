/* SPDX-License-Identifier: MIT */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "pci/pci.h"

int e820_build(const struct guest_mem *m, struct e820_entry *out, unsigned max)
{
	uint64_t low_end = guest_mem_low_end(m);
	unsigned n = 0;

	if (max < 4 + m->nr_regions)
		return -ENOSPC;
	if (low_end < BOOT_HIMEM_START)
		return -EINVAL;
	/* Conventional memory below the EBDA, then the EBDA, video RAM and
	 * BIOS area that PC software expects to find reserved. */
	out[n++] = (struct e820_entry){0, BOOT_EBDA_START, E820_RAM};
	out[n++] = (struct e820_entry){BOOT_EBDA_START,
				       BOOT_HIMEM_START - BOOT_EBDA_START,
				       E820_RESERVED};
	if (low_end > BOOT_HIMEM_START)
		out[n++] = (struct e820_entry){
			BOOT_HIMEM_START, low_end - BOOT_HIMEM_START, E820_RAM};
	/* The PCI ECAM window: Linux trusts MCFG only for reserved ranges. */
	out[n++] = (struct e820_entry){PCI_ECAM_BASE, PCI_ECAM_SIZE,
				       E820_RESERVED};
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct guest_region *r = &m->regions[i];

		if (r->gpa >= GUEST_MMIO_HOLE_END)
			out[n++] =
				(struct e820_entry){r->gpa, r->size, E820_RAM};
	}
	return (int)n;
}

/* Flat segments: base 0, limit 4 GiB, present, DPL 0. */
#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_CODE64 0x00af9b000000ffffULL
#define GDT_DATA   0x00cf93000000ffffULL
#define GDT_TSS32  0x00008b0000000067ULL /* busy 32-bit TSS, limit 0x67 */

uint64_t boot_gdt_entry(enum boot_mode mode, unsigned idx)
{
	switch (idx) {
	case BOOT_CS_SEL / 8:
		return mode == BOOT_MODE_PVH32 ? GDT_CODE32 : GDT_CODE64;
	case BOOT_DS_SEL / 8:
		return GDT_DATA;
	case BOOT_TSS_SEL / 8:
		return GDT_TSS32;
	default:
		return 0;
	}
}

/* Identity-map the first 4 GiB with 2 MiB pages: one PML4 entry, four
 * PDPT entries, four page directories (0x9000..0xefff). */
static int boot_write_page_tables(const struct guest_mem *m)
{
	const uint64_t pdpt = BOOT_PML4_ADDR + 0x1000;
	const uint64_t pd = BOOT_PML4_ADDR + 0x2000;
	uint64_t table[512];
	int ret;

	memset(table, 0, sizeof(table));
	table[0] = pdpt | 0x3; /* present, writable */
	ret = guest_mem_write(m, BOOT_PML4_ADDR, table, sizeof(table));
	for (unsigned i = 0; i < 4; i++)
		table[i] = (pd + i * 0x1000) | 0x3;
	if (!ret)
		ret = guest_mem_write(m, pdpt, table, sizeof(table));
	for (unsigned d = 0; d < 4 && !ret; d++) {
		for (unsigned i = 0; i < 512; i++)
			table[i] = ((uint64_t)(d * 512 + i) << 21) | 0x83;
		ret = guest_mem_write(m, pd + d * 0x1000, table, sizeof(table));
	}
	return ret;
}

int boot_write_cpu_tables(const struct guest_mem *m, enum boot_mode mode)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	int ret;

	for (unsigned i = 0; i < BOOT_GDT_ENTRIES; i++)
		gdt[i] = boot_gdt_entry(mode, i);
	ret = guest_mem_write(m, BOOT_GDT_ADDR, gdt, sizeof(gdt));
	if (!ret && mode == BOOT_MODE_LINUX64)
		ret = boot_write_page_tables(m);
	return ret;
}

int boot_write_cmdline(const struct guest_mem *m, const char *cmdline,
		       size_t max)
{
	size_t len = strlen(cmdline) + 1;

	if (max > BOOT_CMDLINE_MAX)
		max = BOOT_CMDLINE_MAX;
	if (len > max)
		return -E2BIG;
	return guest_mem_write(m, BOOT_CMDLINE_ADDR, cmdline, len);
}

uint8_t boot_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}
