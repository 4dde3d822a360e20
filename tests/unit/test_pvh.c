/* SPDX-License-Identifier: MIT */
/* PVH loading and the ELF parser beneath it, against fake guest RAM, with
 * well-formed and malformed images built in memory. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/acpi.h"
#include "boot/pvh.h"

#define RAM_SIZE  (4ULL << 20)
#define LOAD_ADDR 0x100000ULL

struct image {
	uint8_t data[8192];
	size_t size;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph; /* [0] PT_LOAD, [1] PT_NOTE */
};

/* An ELF64 with a 256-byte code segment at 1 MiB and a Xen PVH note. */
static void build_elf64(struct image *im, uint32_t note_descsz)
{
	Elf64_Nhdr nh = {4, note_descsz, XEN_ELFNOTE_PHYS32_ENTRY};
	uint64_t entry = LOAD_ADDR + 0x10;
	size_t note_off = 0x200, code_off = 0x1000;

	memset(im, 0, sizeof(*im));
	im->eh = (Elf64_Ehdr *)im->data;
	im->ph = (Elf64_Phdr *)(im->data + sizeof(Elf64_Ehdr));
	memcpy(im->eh->e_ident, ELFMAG, SELFMAG);
	im->eh->e_ident[EI_CLASS] = ELFCLASS64;
	im->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh->e_ident[EI_VERSION] = EV_CURRENT;
	im->eh->e_type = ET_EXEC;
	im->eh->e_machine = EM_X86_64;
	im->eh->e_entry = entry;
	im->eh->e_phoff = sizeof(Elf64_Ehdr);
	im->eh->e_phentsize = sizeof(Elf64_Phdr);
	im->eh->e_phnum = 2;
	im->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
				 .p_offset = code_off,
				 .p_paddr = LOAD_ADDR,
				 .p_vaddr = LOAD_ADDR,
				 .p_filesz = 256,
				 .p_memsz = 4096};
	im->ph[1] = (Elf64_Phdr){.p_type = PT_NOTE,
				 .p_offset = note_off,
				 .p_filesz = sizeof(nh) + 4 +
					     ((note_descsz + 3) & ~3U)};
	memcpy(im->data + note_off, &nh, sizeof(nh));
	memcpy(im->data + note_off + sizeof(nh), "Xen", 4);
	memcpy(im->data + note_off + sizeof(nh) + 4, &entry,
	       note_descsz < 8 ? note_descsz : 8);
	memset(im->data + code_off, 0x90, 256);
	im->size = code_off + 256;
}

struct fixture {
	struct guest_mem m;
	uint8_t *ram;
	struct image im;
	struct pvh_boot_args args;
	struct boot_entry entry;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, RAM_SIZE);
	if (!f->ram || guest_mem_add_region(&f->m, 0, f->ram, RAM_SIZE))
		return -1;
	f->args.cmdline = "console=ttyS0 hello";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

static int load(struct fixture *f)
{
	struct elf_image img;
	int ret = elf_parse(f->im.data, f->im.size, &img);

	return ret ? ret : pvh_load(&f->m, &img, &f->args, &f->entry);
}

static void test_loads_and_fills_start_info(void **state)
{
	struct fixture *f = *state;
	struct hvm_start_info si;
	struct hvm_memmap_table_entry e;

	build_elf64(&f->im, 8);
	memset(f->ram + LOAD_ADDR + 256, 0xcc, 16); /* must become bss zeroes */
	assert_int_equal(load(f), 0);
	assert_int_equal(f->entry.mode, BOOT_MODE_PVH32);
	assert_int_equal(f->entry.rip, LOAD_ADDR + 0x10);
	assert_int_equal(f->entry.rbx, BOOT_PVH_INFO_ADDR);
	assert_int_equal(f->ram[LOAD_ADDR], 0x90);
	assert_int_equal(f->ram[LOAD_ADDR + 256], 0);
	memcpy(&si, f->ram + BOOT_PVH_INFO_ADDR, sizeof(si));
	assert_int_equal(si.magic, HVM_START_MAGIC);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.nr_modules, 0);
	assert_int_equal(si.rsdp_paddr, ACPI_RSDP_ADDR);
	assert_string_equal((char *)f->ram + si.cmdline_paddr,
			    "console=ttyS0 hello");
	assert_int_equal(si.memmap_entries, 4);
	memcpy(&e, f->ram + si.memmap_paddr, sizeof(e));
	assert_int_equal(e.addr, 0);
	assert_int_equal(e.type, E820_RAM);
	memcpy(&e, f->ram + si.memmap_paddr + 2 * sizeof(e), sizeof(e));
	assert_int_equal(e.addr, BOOT_HIMEM_START);
	assert_int_equal(e.addr + e.size, RAM_SIZE);
}

static void test_four_byte_note_and_initrd(void **state)
{
	struct fixture *f = *state;
	static const uint8_t initrd[5000] = {1, 2, 3};
	struct hvm_modlist_entry mod;
	struct hvm_start_info si;

	build_elf64(&f->im, 4);
	f->args.initrd = initrd;
	f->args.initrd_size = sizeof(initrd);
	assert_int_equal(load(f), 0);
	memcpy(&si, f->ram + BOOT_PVH_INFO_ADDR, sizeof(si));
	assert_int_equal(si.nr_modules, 1);
	memcpy(&mod, f->ram + si.modlist_paddr, sizeof(mod));
	assert_int_equal(mod.size, sizeof(initrd));
	assert_int_equal(mod.paddr & 0xfff, 0);
	assert_true(mod.paddr + mod.size <= RAM_SIZE);
	assert_memory_equal(f->ram + mod.paddr, initrd, sizeof(initrd));
}

static void test_elf32_pvh(void **state)
{
	struct fixture *f = *state;
	struct image *im = &f->im;
	Elf32_Ehdr *eh = (Elf32_Ehdr *)im->data;
	Elf32_Phdr *ph = (Elf32_Phdr *)(im->data + sizeof(*eh));
	Elf32_Nhdr nh = {4, 4, XEN_ELFNOTE_PHYS32_ENTRY};
	uint32_t entry = LOAD_ADDR;

	memset(im, 0, sizeof(*im));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_386;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0] = (Elf32_Phdr){.p_type = PT_LOAD,
			     .p_offset = 0x400,
			     .p_paddr = LOAD_ADDR,
			     .p_filesz = 16,
			     .p_memsz = 16};
	ph[1] = (Elf32_Phdr){.p_type = PT_NOTE,
			     .p_offset = 0x200,
			     .p_filesz = sizeof(nh) + 8};
	memcpy(im->data + 0x200, &nh, sizeof(nh));
	memcpy(im->data + 0x200 + sizeof(nh), "Xen", 4);
	memcpy(im->data + 0x200 + sizeof(nh) + 4, &entry, 4);
	im->size = 0x410;
	assert_int_equal(load(f), 0);
	assert_int_equal(f->entry.rip, LOAD_ADDR);
}

static void test_bad_magic(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.data[1] = 'X';
	assert_int_equal(load(f), -ENOEXEC);
}

static void test_wrong_machine(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.eh->e_machine = EM_AARCH64;
	assert_int_equal(load(f), -ENOEXEC);
}

static void test_truncated_file(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.size = 40; /* inside the ELF header */
	assert_int_equal(load(f), -ENOEXEC);
	build_elf64(&f->im, 8);
	f->im.size = 0x800; /* segment data cut off */
	assert_int_equal(load(f), -ENOEXEC);
}

static void test_phdrs_outside_file(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.eh->e_phoff = UINT64_MAX - 8;
	assert_int_equal(load(f), -ENOEXEC);
	build_elf64(&f->im, 8);
	f->im.eh->e_phnum = 0xffff;
	assert_int_equal(load(f), -ENOEXEC);
}

static void test_segment_outside_ram(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.ph[0].p_paddr = RAM_SIZE - 16;
	assert_int_equal(load(f), -EFAULT);
	build_elf64(&f->im, 8);
	f->im.ph[0].p_paddr = UINT64_MAX - 100; /* wraps */
	assert_int_equal(load(f), -EFAULT);
}

static void test_segment_over_boot_data(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.ph[0].p_paddr = 0x6000;
	assert_int_equal(load(f), -ENOEXEC);
	/* The MP table in the EBDA, the ACPI tables at 0xe0000. */
	f->im.ph[0].p_paddr = 0x9f000;
	assert_int_equal(load(f), -ENOEXEC);
	f->im.ph[0].p_paddr = 0xe0000;
	assert_int_equal(load(f), -ENOEXEC);
	f->im.ph[0].p_paddr = 0x30000; /* between the two: fine */
	assert_int_equal(load(f), 0);
}

static void test_filesz_above_memsz(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.ph[0].p_memsz = 16;
	assert_int_equal(load(f), -ENOEXEC);
}

static void test_note_missing_or_malformed(void **state)
{
	struct fixture *f = *state;

	build_elf64(&f->im, 8);
	f->im.data[0x200 + 8] = 19; /* note type: not PHYS32_ENTRY */
	assert_int_equal(load(f), -ENOENT);
	build_elf64(&f->im, 2); /* descsz neither 4 nor 8 */
	assert_int_equal(load(f), -ENOEXEC);
	build_elf64(&f->im, 8);
	memset(f->im.data + 0x200 + 4, 0xff, 4); /* descsz runs off */
	assert_int_equal(load(f), -ENOEXEC);
}

static void test_entry_points_nowhere(void **state)
{
	struct fixture *f = *state;
	uint64_t bad = 0x7f000000; /* 32-bit, but beyond 4 MiB of RAM */

	build_elf64(&f->im, 8);
	memcpy(f->im.data + 0x200 + sizeof(Elf64_Nhdr) + 4, &bad, 8);
	assert_int_equal(load(f), -ENOEXEC);
	bad = 0x100000000ULL; /* not a 32-bit address */
	memcpy(f->im.data + 0x200 + sizeof(Elf64_Nhdr) + 4, &bad, 8);
	assert_int_equal(load(f), -ENOEXEC);
}

static void test_initrd_larger_than_ram(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[RAM_SIZE];

	build_elf64(&f->im, 8);
	f->args.initrd = big;
	f->args.initrd_size = sizeof(big);
	assert_int_equal(load(f), -E2BIG);
	f->args.initrd_size = RAM_SIZE - LOAD_ADDR; /* would hit the kernel */
	assert_int_equal(load(f), -E2BIG);
}

static void test_cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	char *s = malloc(BOOT_CMDLINE_MAX + 1);

	memset(s, 'a', BOOT_CMDLINE_MAX);
	s[BOOT_CMDLINE_MAX] = '\0';
	build_elf64(&f->im, 8);
	f->args.cmdline = s;
	assert_int_equal(load(f), -E2BIG);
	s[BOOT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(load(f), 0);
	free(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_loads_and_fills_start_info),
		T(test_four_byte_note_and_initrd),
		T(test_elf32_pvh),
		T(test_bad_magic),
		T(test_wrong_machine),
		T(test_truncated_file),
		T(test_phdrs_outside_file),
		T(test_segment_outside_ram),
		T(test_segment_over_boot_data),
		T(test_filesz_above_memsz),
		T(test_note_missing_or_malformed),
		T(test_entry_points_nowhere),
		T(test_initrd_larger_than_ram),
		T(test_cmdline_too_long),
	};

	return cmocka_run_group_tests_name("pvh", tests, NULL, NULL);
}
