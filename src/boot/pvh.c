/* SPDX-License-Identifier: MIT */
#include "boot/pvh.h"

#include <errno.h>
#include <string.h>

#include "boot/acpi.h"
#include "util/log.h"

#define PVH_MEMMAP_ADDR (BOOT_PVH_INFO_ADDR + 0x40)
#define PAGE_SIZE	4096ULL
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(PVH_MEMMAP_ADDR +
			       E820_MAX_ENTRIES *
				       sizeof(struct hvm_memmap_table_entry) <=
		       BOOT_PVH_MODLIST_ADDR,
	       "memmap overlaps modlist");

int pvh_find_entry(const struct elf_image *img, uint64_t *entry)
{
	const uint8_t *desc;
	uint32_t descsz, v32;
	int ret;

	ret = elf_find_note(img, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc,
			    &descsz);
	if (ret)
		return ret;
	/* Linux emits a pointer-sized value, others a 32-bit one. */
	if (descsz == 8) {
		memcpy(entry, desc, 8);
	} else if (descsz == 4) {
		memcpy(&v32, desc, 4);
		*entry = v32;
	} else {
		pr_err("kernel: PVH entry note has size %u (want 4 or 8)",
		       descsz);
		return -ENOEXEC;
	}
	if (*entry >= GUEST_MMIO_HOLE_END) {
		pr_err("kernel: PVH entry %#llx is not a 32-bit address",
		       (unsigned long long)*entry);
		return -ENOEXEC;
	}
	return 0;
}

/* What berth itself writes below 1 MiB: the GDT, start info, zero page,
 * page tables and command line; then the MP and ACPI tables in the EBDA
 * and BIOS area. A segment there would silently overwrite them or be
 * overwritten. */
static const struct {
	uint64_t start, end;
	const char *what;
} boot_reserved[] = {
	{BOOT_GDT_ADDR, BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX, "boot data"},
	{BOOT_EBDA_START, BOOT_HIMEM_START, "MP and ACPI tables"},
};

static int pvh_check_segments(const struct elf_image *img)
{
	for (unsigned i = 0; i < img->nr_load; i++) {
		const struct elf_segment *s = &img->load[i];

		for (unsigned r = 0; r < ARRAY_SIZE(boot_reserved) && s->memsz;
		     r++) {
			if (s->paddr >= boot_reserved[r].end ||
			    s->paddr + s->memsz <= boot_reserved[r].start)
				continue;
			pr_err("kernel: ELF segment at %#llx overlaps berth's "
			       "%s at %#llx-%#llx",
			       (unsigned long long)s->paddr,
			       boot_reserved[r].what,
			       (unsigned long long)boot_reserved[r].start,
			       (unsigned long long)boot_reserved[r].end - 1);
			return -ENOEXEC;
		}
	}
	return 0;
}

/* Place the initrd page-aligned at the top of low RAM, above the kernel. */
static int pvh_place_initrd(const struct guest_mem *m,
			    const struct pvh_boot_args *a, uint64_t kernel_end,
			    struct hvm_start_info *si)
{
	struct hvm_modlist_entry mod = {0};
	uint64_t top = guest_mem_low_end(m);
	int ret;

	if (a->initrd_size > top ||
	    ((top - a->initrd_size) & ~(PAGE_SIZE - 1)) < kernel_end) {
		pr_err("initrd: %zu bytes do not fit in guest RAM above the "
		       "kernel (end %#llx)",
		       a->initrd_size, (unsigned long long)kernel_end);
		return -E2BIG;
	}
	mod.paddr = (top - a->initrd_size) & ~(PAGE_SIZE - 1);
	mod.size = a->initrd_size;
	ret = guest_mem_write(m, mod.paddr, a->initrd, a->initrd_size);
	if (!ret)
		ret = guest_mem_write(m, BOOT_PVH_MODLIST_ADDR, &mod,
				      sizeof(mod));
	si->nr_modules = 1;
	si->modlist_paddr = BOOT_PVH_MODLIST_ADDR;
	return ret;
}

static int pvh_write_memmap(const struct guest_mem *m,
			    struct hvm_start_info *si)
{
	struct e820_entry e820[E820_MAX_ENTRIES];
	int n = e820_build(m, e820, E820_MAX_ENTRIES);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct hvm_memmap_table_entry e = {
			.addr = e820[i].addr,
			.size = e820[i].size,
			.type = e820[i].type,
		};
		int ret = guest_mem_write(m, PVH_MEMMAP_ADDR + i * sizeof(e),
					  &e, sizeof(e));

		if (ret)
			return ret;
	}
	si->memmap_paddr = PVH_MEMMAP_ADDR;
	si->memmap_entries = (uint32_t)n;
	return 0;
}

/* Command line, initrd module, memory map, then the start info itself. */
static int pvh_write_boot_data(const struct guest_mem *m,
			       const struct pvh_boot_args *a,
			       uint64_t kernel_end)
{
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE_ADDR,
		.rsdp_paddr = ACPI_RSDP_ADDR, /* written by vm_start */
	};
	int ret;

	ret = boot_write_cmdline(m, a->cmdline, BOOT_CMDLINE_MAX);
	if (ret == -E2BIG)
		pr_err("cmdline: %zu bytes is longer than the %llu PVH allows",
		       strlen(a->cmdline), BOOT_CMDLINE_MAX - 1);
	if (!ret && a->initrd)
		ret = pvh_place_initrd(m, a, kernel_end, &si);
	if (!ret)
		ret = pvh_write_memmap(m, &si);
	if (!ret)
		ret = guest_mem_write(m, BOOT_PVH_INFO_ADDR, &si, sizeof(si));
	return ret;
}

int pvh_load(const struct guest_mem *m, const struct elf_image *img,
	     const struct pvh_boot_args *a, struct boot_entry *entry)
{
	uint64_t rip, kernel_end;
	int ret;

	ret = pvh_find_entry(img, &rip);
	if (ret == -ENOENT)
		pr_err("kernel: ELF has no PVH entry note "
		       "(XEN_ELFNOTE_PHYS32_ENTRY)");
	if (!ret)
		ret = pvh_check_segments(img);
	if (!ret)
		ret = elf_load(img, m, 0, &kernel_end);
	if (ret)
		return ret;
	if (!guest_mem_is_ram(m, rip, 1)) {
		pr_err("kernel: PVH entry %#llx is outside guest RAM",
		       (unsigned long long)rip);
		return -ENOEXEC;
	}
	ret = pvh_write_boot_data(m, a, kernel_end);
	if (ret)
		return ret;
	*entry = (struct boot_entry){
		.mode = BOOT_MODE_PVH32,
		.rip = rip,
		.rbx = BOOT_PVH_INFO_ADDR,
	};
	return 0;
}
