/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <asm/bootparam.h>
#include <elf.h>

#include "boot/acpi.h"
#include "boot/boot.h"
#include "boot/decompress.h"
#include "lib/test_util.h"
#include "boot/linux.h"

#define RAM_SIZE    (64ULL << 20)
#define TEXT_PADDR  0x200000ULL
#define DATA_PADDR  0x300000ULL
#define ENTRY	    (TEXT_PADDR + 0x40)
#define KVIRT	    0xffffffff80000000ULL /* vaddr = paddr + KVIRT */
#define TEXT_SIZE   0x200
#define DATA_SIZE   0x80
#define BSS_SIZE    0x3000
#define SETUP_SECTS 4
#define SETUP_SIZE  ((SETUP_SECTS + 1) * 512)
#define PAYLOAD_OFF 0x400 /* in the protected-mode code */
#define PM_PAD	    16	  /* like the CRC and padding after the payload */

struct fixture {
	struct guest_mem m;
	uint8_t *ram;
};

/* ---- building test kernels ---- */

static uint8_t text_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static void add_phdr(uint8_t *elf, unsigned i, uint64_t off, uint64_t paddr,
		     uint64_t filesz, uint64_t memsz)
{
	Elf64_Phdr ph = {
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_X,
		.p_offset = off,
		.p_vaddr = paddr + KVIRT,
		.p_paddr = paddr,
		.p_filesz = filesz,
		.p_memsz = memsz,
		.p_align = 0x1000,
	};

	memcpy(elf + sizeof(Elf64_Ehdr) + i * sizeof(ph), &ph, sizeof(ph));
}

/* A tiny x86-64 vmlinux: text at text_paddr, data + bss at DATA_PADDR,
 * linked high like a real kernel so only p_paddr gives the load address. */
static struct blob make_vmlinux(uint64_t text_paddr, uint64_t entry)
{
	struct blob b = {calloc(1, 0x1300), 0x1300};
	Elf64_Ehdr eh = {
		.e_type = ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = entry,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 2,
	};

	assert_non_null(b.p);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(b.p, &eh, sizeof(eh));
	add_phdr(b.p, 0, 0x1000, text_paddr, TEXT_SIZE, TEXT_SIZE);
	add_phdr(b.p, 1, 0x1200, DATA_PADDR, DATA_SIZE, DATA_SIZE + BSS_SIZE);
	for (size_t i = 0; i < TEXT_SIZE; i++)
		b.p[0x1000 + i] = text_byte(i);
	memset(b.p + 0x1200, 0xda, DATA_SIZE);
	return b;
}

static struct blob default_vmlinux(void)
{
	return make_vmlinux(TEXT_PADDR, ENTRY);
}

static void append_le32(struct blob *b, uint32_t v)
{
	b->p = realloc(b->p, b->len + 4);
	assert_non_null(b->p);
	put_le32(b->p + b->len, v);
	b->len += 4;
}

/* A bzImage payload as the kernel's build makes it: compressed, with the
 * uncompressed size appended (gzip's own trailer already ends with it). */
static struct blob make_payload(enum decompress_format fmt, const uint8_t *in,
				size_t len)
{
	struct blob b;

	switch (fmt) {
	case DECOMPRESS_GZIP:
		return compress_gzip(in, len);
	case DECOMPRESS_BZIP2:
		b = compress_bzip2(in, len);
		break;
	case DECOMPRESS_LZMA:
		b = compress_lzma(in, len);
		break;
	case DECOMPRESS_XZ:
		b = compress_xz(in, len);
		break;
	case DECOMPRESS_LZ4:
		b = compress_lz4(in, len);
		break;
	default:
		b = compress_zstd(in, len);
		break;
	}
	append_le32(&b, len);
	return b;
}

static struct setup_header *hdr_of(uint8_t *img)
{
	return (struct setup_header *)(img + 0x1f1);
}

/*
 * A synthetic bzImage: boot sector and setup (4 sectors), then the
 * protected-mode code: a stand-in decompressor with a marker at its 64-bit
 * entry (+0x200), the payload at +0x400, and 16 bytes of padding.
 */
static struct blob make_bzimage(const uint8_t *payload, size_t plen)
{
	/* Padded to whole paragraphs, as the kernel's build tool does. */
	size_t pm_size = (PAYLOAD_OFF + plen + PM_PAD + 15) & ~(size_t)15;
	struct blob b = {calloc(1, SETUP_SIZE + pm_size), SETUP_SIZE + pm_size};
	struct setup_header *h = hdr_of(b.p);

	assert_non_null(b.p);
	h->setup_sects = SETUP_SECTS;
	h->syssize = pm_size / 16;
	h->boot_flag = 0xaa55;
	h->jump = 0x6aeb; /* jmp short 0x26c: the header ends there */
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->payload_offset = PAYLOAD_OFF;
	h->payload_length = plen;
	h->pref_address = 0x1000000;
	h->init_size = 0x1000000;
	h->setup_data = 0xdead0000; /* the loader's to fill: must not leak */
	memset(b.p + SETUP_SIZE, 0xcc, PAYLOAD_OFF);
	memcpy(b.p + SETUP_SIZE + 0x200, "ENTRY64!", 8);
	memcpy(b.p + SETUP_SIZE + PAYLOAD_OFF, payload, plen);
	memset(b.p + SETUP_SIZE + PAYLOAD_OFF + plen, 0xee,
	       pm_size - PAYLOAD_OFF - plen);
	return b;
}

/* A bzImage whose payload is the default vmlinux compressed with fmt. */
static struct blob make_default_bzimage(enum decompress_format fmt)
{
	struct blob v = default_vmlinux();
	struct blob p = make_payload(fmt, v.p, v.len);
	struct blob b = make_bzimage(p.p, p.len);

	free(v.p);
	free(p.p);
	return b;
}

/* ---- running the loader ---- */

static int setup_ram(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ram = calloc(1, RAM_SIZE);
	if (!f->ram || guest_mem_add_region(&f->m, 0, f->ram, RAM_SIZE))
		return -1;
	*state = f;
	return 0;
}

static int teardown_ram(void **state)
{
	struct fixture *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

/* linux_load, checking that it logs one line exactly when it fails. */
static int load_ex(struct fixture *f, const struct blob *k, const char *cmdline,
		   const struct blob *initrd, bool guest, struct boot_entry *e)
{
	struct linux_boot_args a = {
		.kernel = k->p,
		.kernel_size = k->len,
		.initrd = initrd ? initrd->p : NULL,
		.initrd_size = initrd ? initrd->len : 0,
		.cmdline = cmdline,
		.guest_decompress = guest,
	};
	unsigned lines;
	int ret;

	capture_begin();
	ret = linux_load(&f->m, &a, e);
	lines = capture_end();
	if (ret) {
		assert_int_equal(lines, 1);
		assert_true(!strncmp(capture_last, "berth: error: ", 14));
	} else {
		assert_int_equal(lines, 0);
	}
	return ret;
}

static int load(struct fixture *f, const struct blob *k, bool guest,
		struct boot_entry *e)
{
	return load_ex(f, k, "console=ttyS0", NULL, guest, e);
}

/* Load k (then free it) and expect failure with err. */
static void expect_fail(struct fixture *f, struct blob k, bool guest, int err)
{
	struct boot_entry e;

	assert_int_equal(load(f, &k, guest, &e), err);
	free(k.p);
}

static void read_zero_page(struct fixture *f, struct boot_params *zp)
{
	memcpy(zp, f->ram + BOOT_ZERO_PAGE_ADDR, sizeof(*zp));
}

/* The e820 table in the zero page is what e820_build makes. */
static void check_e820(struct fixture *f, const struct boot_params *zp)
{
	struct e820_entry want[E820_MAX_ENTRIES];
	int n = e820_build(&f->m, want, E820_MAX_ENTRIES);

	assert_true(n >= 3);
	assert_int_equal(zp->e820_entries, n);
	assert_memory_equal((const uint8_t *)zp + 0x2d0, want,
			    n * sizeof(want[0]));
	assert_int_equal(zp->e820_table[0].addr, 0);
	assert_int_equal(zp->e820_table[0].type, E820_RAM);
}

/* Fields every path must set, and the command line in RAM. */
static void check_zero_page_common(struct fixture *f,
				   const struct boot_params *zp,
				   const char *cmdline)
{
	assert_int_equal(zp->hdr.boot_flag, 0xaa55);
	assert_int_equal(zp->hdr.header, 0x53726448);
	assert_int_equal(zp->hdr.type_of_loader, 0xff);
	assert_true(zp->hdr.loadflags & CAN_USE_HEAP);
	assert_true(zp->hdr.loadflags & LOADED_HIGH);
	assert_int_equal(zp->hdr.heap_end_ptr, 0xe000 - 0x200);
	assert_int_equal(zp->hdr.vid_mode, 0xffff);
	assert_int_equal(zp->hdr.cmd_line_ptr, BOOT_CMDLINE_ADDR);
	assert_int_equal(zp->ext_cmd_line_ptr, 0);
	assert_int_equal(zp->hdr.setup_data, 0);
	assert_int_equal(zp->sentinel, 0);
	assert_int_equal(zp->acpi_rsdp_addr, ACPI_RSDP_ADDR);
	assert_string_equal((char *)f->ram + BOOT_CMDLINE_ADDR, cmdline);
	check_e820(f, zp);
}

/* The default vmlinux's segments, at their physical addresses. */
static void check_vmlinux_in_ram(struct fixture *f)
{
	for (size_t i = 0; i < TEXT_SIZE; i++)
		assert_int_equal(f->ram[TEXT_PADDR + i], text_byte(i));
	for (size_t i = 0; i < DATA_SIZE; i++)
		assert_int_equal(f->ram[DATA_PADDR + i], 0xda);
	for (size_t i = DATA_SIZE; i < DATA_SIZE + BSS_SIZE; i++)
		assert_int_equal(f->ram[DATA_PADDR + i], 0);
}

static void check_entry(const struct boot_entry *e, uint64_t rip)
{
	assert_int_equal(e->mode, BOOT_MODE_LINUX64);
	assert_int_equal(e->rip, rip);
	assert_int_equal(e->rsi, BOOT_ZERO_PAGE_ADDR);
}

/* ---- tests: good images ---- */

static void test_is_bzimage(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);
	struct blob v = default_vmlinux();

	(void)state;
	assert_true(linux_is_bzimage(k.p, k.len));
	assert_false(linux_is_bzimage(k.p, 0x205));
	assert_false(linux_is_bzimage(v.p, v.len));
	k.p[0x202] = 'X';
	assert_false(linux_is_bzimage(k.p, k.len));
	free(k.p);
	free(v.p);
}

/* Host decompression: the vmlinux in the payload is loaded at p_paddr and
 * entered at e_entry, with the bzImage's own setup header. */
static void check_host_path(struct fixture *f, enum decompress_format fmt)
{
	struct blob k = make_default_bzimage(fmt);
	struct boot_params zp;
	struct boot_entry e;

	/* Dirty bss, to see that it is cleared. */
	memset(f->ram + DATA_PADDR + DATA_SIZE, 0x5a, BSS_SIZE);
	assert_int_equal(load(f, &k, false, &e), 0);
	check_entry(&e, ENTRY);
	check_vmlinux_in_ram(f);
	read_zero_page(f, &zp);
	check_zero_page_common(f, &zp, "console=ttyS0");
	/* Copied from the image, including fields we never look at; only
	 * vid_mode and the loader's fields (0x210-0x22b) differ. */
	assert_memory_equal((uint8_t *)&zp + 0x1f1, k.p + 0x1f1, 0x1fa - 0x1f1);
	assert_memory_equal((uint8_t *)&zp + 0x1fc, k.p + 0x1fc, 0x210 - 0x1fc);
	assert_memory_equal((uint8_t *)&zp + 0x22c, k.p + 0x22c, 0x250 - 0x22c);
	assert_memory_equal((uint8_t *)&zp + 0x258, k.p + 0x258, 0x26c - 0x258);
	assert_int_equal(zp.hdr.version, 0x020f);
	assert_int_equal(zp.hdr.payload_offset, PAYLOAD_OFF);
	assert_int_equal(zp.hdr.init_size, 0x1000000);
	assert_int_equal(zp.hdr.kernel_alignment, 0x200000);
	assert_int_equal(zp.hdr.xloadflags,
			 XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	assert_int_equal(zp.hdr.ramdisk_image, 0);
	assert_int_equal(zp.hdr.ramdisk_size, 0);
	/* Nothing copied past the header's end (0x26c, from the jump). */
	for (size_t i = 0x26c; i < 0x2d0; i++)
		assert_int_equal(((uint8_t *)&zp)[i], 0);
	free(k.p);
}

static void test_host_gzip(void **state)
{
	check_host_path(*state, DECOMPRESS_GZIP);
}

static void test_host_bzip2(void **state)
{
	check_host_path(*state, DECOMPRESS_BZIP2);
}

static void test_host_lzma(void **state)
{
	check_host_path(*state, DECOMPRESS_LZMA);
}

static void test_host_xz(void **state)
{
	check_host_path(*state, DECOMPRESS_XZ);
}

static void test_host_lz4(void **state)
{
	check_host_path(*state, DECOMPRESS_LZ4);
}

static void test_host_zstd(void **state)
{
	check_host_path(*state, DECOMPRESS_ZSTD);
}

/* An uncompressed ELF payload is loaded as is. */
static void test_host_uncompressed(void **state)
{
	struct fixture *f = *state;
	struct blob v = default_vmlinux();
	struct blob k = make_bzimage(v.p, v.len);
	struct boot_entry e;

	assert_int_equal(load(f, &k, false, &e), 0);
	check_entry(&e, ENTRY);
	check_vmlinux_in_ram(f);
	free(k.p);
	free(v.p);
}

/* Classic path: the protected-mode code at 1 MiB, entered at +0x200. */
static void test_classic_relocatable(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_XZ);
	struct boot_params zp;
	struct boot_entry e;

	assert_int_equal(load(f, &k, true, &e), 0);
	check_entry(&e, 0x100000 + 0x200);
	assert_memory_equal(f->ram + 0x100000, k.p + SETUP_SIZE,
			    k.len - SETUP_SIZE);
	assert_memory_equal(f->ram + e.rip, "ENTRY64!", 8);
	/* Nothing was decompressed on the host. */
	assert_int_equal(f->ram[TEXT_PADDR], 0);
	read_zero_page(f, &zp);
	check_zero_page_common(f, &zp, "console=ttyS0");
	assert_int_equal(zp.hdr.code32_start, 0x100000);
	free(k.p);
}

/* A non-relocatable kernel is loaded at its pref_address. */
static void test_classic_fixed_address(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);
	struct boot_params zp;
	struct boot_entry e;

	hdr_of(k.p)->relocatable_kernel = 0;
	hdr_of(k.p)->pref_address = 0x2000000;
	assert_int_equal(load(f, &k, true, &e), 0);
	check_entry(&e, 0x2000000 + 0x200);
	assert_memory_equal(f->ram + 0x2000000, k.p + SETUP_SIZE,
			    k.len - SETUP_SIZE);
	read_zero_page(f, &zp);
	assert_int_equal(zp.hdr.code32_start, 0x2000000);
	free(k.p);
}

/* The decompressor's init_size, from pref_address, must be in RAM. */
static void test_classic_init_size_too_big(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->init_size = RAM_SIZE - 0x1000000 + 1;
	expect_fail(f, k, true, -ENOMEM);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	hdr_of(k.p)->init_size = RAM_SIZE - 0x1000000; /* exactly fits */
	assert_int_equal(load(f, &k, true, &(struct boot_entry){0}), 0);
	free(k.p);
}

static void test_classic_bad_alignment(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->kernel_alignment = 0x300000;
	expect_fail(f, k, true, -ENOEXEC);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	hdr_of(k.p)->kernel_alignment = 0;
	expect_fail(f, k, true, -ENOEXEC);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	hdr_of(k.p)->relocatable_kernel = 0;
	hdr_of(k.p)->pref_address = 0x8000; /* below 1 MiB */
	expect_fail(f, k, true, -ENOEXEC);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	hdr_of(k.p)->pref_address = 1ULL << 40;
	expect_fail(f, k, true, -ENOEXEC);
}

/* A bare ELF vmlinux gets a zero page made from scratch. */
static void test_elf_vmlinux(void **state)
{
	struct fixture *f = *state;
	struct blob v = default_vmlinux();
	struct boot_params zp;
	struct boot_entry e;

	assert_int_equal(load_ex(f, &v, "", NULL, false, &e), 0);
	check_entry(&e, ENTRY);
	check_vmlinux_in_ram(f);
	read_zero_page(f, &zp);
	check_zero_page_common(f, &zp, "");
	assert_int_equal(zp.hdr.version, 0x020f);
	assert_int_equal(zp.hdr.kernel_alignment, 0x1000000);
	assert_int_equal(zp.hdr.cmdline_size, 2047);
	assert_int_equal(zp.hdr.initrd_addr_max, 0x7fffffff);
	/* guest_decompress means nothing for an ELF. */
	assert_int_equal(load(f, &v, true, &e), 0);
	check_entry(&e, ENTRY);
	free(v.p);
}

static void test_elf_32bit(void **state)
{
	struct blob v = default_vmlinux();
	Elf32_Ehdr eh = {
		.e_type = ET_EXEC,
		.e_machine = EM_386,
		.e_version = EV_CURRENT,
		.e_entry = 0x100000,
		.e_phoff = 0x100,
		.e_ehsize = sizeof(Elf32_Ehdr),
		.e_phentsize = sizeof(Elf32_Phdr),
		.e_phnum = 1,
	};
	Elf32_Phdr ph = {.p_type = PT_LOAD,
			 .p_offset = 0x1000,
			 .p_paddr = 0x100000,
			 .p_filesz = 0x100,
			 .p_memsz = 0x100};

	memset(v.p, 0, 0x200);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(v.p, &eh, sizeof(eh));
	memcpy(v.p + 0x100, &ph, sizeof(ph));
	expect_fail(*state, v, false, -ENOEXEC);
}

/* The initrd sits page-aligned at the top of RAM, or below
 * initrd_addr_max when that is lower, and above the kernel. */
static void test_initrd_placement(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_ZSTD);
	struct blob rd = {malloc((1 << 20) + 123), (1 << 20) + 123};
	struct boot_params zp;
	struct boot_entry e;
	uint64_t addr;

	for (size_t i = 0; i < rd.len; i++)
		rd.p[i] = (uint8_t)(i * 13);
	assert_int_equal(load_ex(f, &k, "x", &rd, false, &e), 0);
	read_zero_page(f, &zp);
	addr = zp.hdr.ramdisk_image;
	assert_int_equal(addr, (RAM_SIZE - rd.len) & ~0xfffULL);
	assert_int_equal(zp.hdr.ramdisk_size, rd.len);
	assert_int_equal(zp.ext_ramdisk_image, 0);
	assert_int_equal(zp.ext_ramdisk_size, 0);
	assert_memory_equal(f->ram + addr, rd.p, rd.len);

	hdr_of(k.p)->initrd_addr_max = 0x17fffff; /* highest byte < 24 MiB */
	assert_int_equal(load_ex(f, &k, "x", &rd, false, &e), 0);
	read_zero_page(f, &zp);
	addr = zp.hdr.ramdisk_image;
	assert_int_equal(addr, (0x1800000 - rd.len) & ~0xfffULL);
	assert_true(addr + rd.len - 1 <= 0x17fffff);
	assert_memory_equal(f->ram + addr, rd.p, rd.len);
	free(k.p);
	free(rd.p);
}

/* The classic path's kernel reaches 32 MiB: an initrd_addr_max below that
 * leaves no room, which is refused, not overlapped. */
static void test_initrd_below_kernel_refused(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);
	struct blob rd = {calloc(1, 4096), 4096};
	struct boot_entry e;

	hdr_of(k.p)->initrd_addr_max = 0x1ffffff;
	assert_int_equal(load_ex(f, &k, "", &rd, true, &e), -E2BIG);
	assert_non_null(strstr(capture_last, "initrd (1 MiB) does not fit"));
	free(k.p);
	free(rd.p);
}

static void test_initrd_larger_than_ram(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);
	struct blob rd = {calloc(1, RAM_SIZE + 4096), RAM_SIZE + 4096};
	struct boot_entry e;

	assert_int_equal(load_ex(f, &k, "", &rd, false, &e), -E2BIG);
	assert_non_null(strstr(capture_last, "with --mem 64 MiB"));
	free(k.p);
	free(rd.p);
}

/* cmdline_size characters are fine; one more is refused. */
static void test_cmdline_limit(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);
	char line[102];
	struct boot_entry e;

	memset(line, 'a', 100);
	line[100] = 0;
	hdr_of(k.p)->cmdline_size = 100;
	assert_int_equal(load_ex(f, &k, line, NULL, false, &e), 0);
	assert_string_equal((char *)f->ram + BOOT_CMDLINE_ADDR, line);
	strcpy(line + 100, "b");
	assert_int_equal(load_ex(f, &k, line, NULL, false, &e), -E2BIG);
	assert_non_null(strstr(capture_last, "cmdline_size"));
	free(k.p);
}

/* RAM above 4 GiB shows up in the zero page's e820 table. */
static void test_e820_high_ram(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);
	uint8_t *high = calloc(1, 1 << 20);
	struct boot_params zp;
	struct boot_entry e;

	assert_int_equal(guest_mem_add_region(&f->m, 1ULL << 32, high, 1 << 20),
			 0);
	assert_int_equal(load(f, &k, false, &e), 0);
	read_zero_page(f, &zp);
	check_e820(f, &zp);
	assert_int_equal(zp.e820_entries, 5); /* + the reserved ECAM window */
	assert_int_equal(zp.e820_table[4].addr, 1ULL << 32);
	assert_int_equal(zp.e820_table[4].size, 1 << 20);
	free(high);
	free(k.p);
}

/* ---- tests: malformed images ---- */

static void test_bad_boot_flag(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->boot_flag = 0x55aa;
	expect_fail(*state, k, false, -ENOEXEC);
}

static void test_bad_hdrs(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->header = 0x53726449;
	expect_fail(*state, k, false, -ENOEXEC);
}

static void test_old_version(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->version = 0x0205;
	expect_fail(*state, k, true, -ENOEXEC);
	assert_non_null(strstr(capture_last, "version 2.05 is too old"));
}

static void test_no_kernel64(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	expect_fail(*state, k, true, -ENOEXEC);
}

static void test_zimage(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->loadflags = 0;
	expect_fail(*state, k, false, -ENOEXEC);
}

/* The header length from the jump at 0x200 must be sane. */
static void test_bad_jump(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->jump = 0x80eb; /* backwards */
	expect_fail(*state, k, false, -ENOEXEC);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	hdr_of(k.p)->jump = 0x50eb; /* ends before init_size */
	expect_fail(*state, k, false, -ENOEXEC);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	hdr_of(k.p)->jump = 0x6a90; /* not a short jump */
	expect_fail(*state, k, false, -ENOEXEC);
}

static void test_setup_sects_beyond_file(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);

	hdr_of(k.p)->setup_sects = 255;
	expect_fail(*state, k, false, -ENOEXEC);
}

/* setup_sects 0 means 4: with our 4-sector image nothing changes. */
static void test_setup_sects_zero(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_GZIP);
	struct boot_entry e;

	hdr_of(k.p)->setup_sects = 0;
	assert_int_equal(load(*state, &k, true, &e), 0);
	assert_memory_equal(((struct fixture *)*state)->ram + e.rip, "ENTRY64!",
			    8);
	free(k.p);
}

/* Every proper prefix of a bzImage is refused, by both paths. */
static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct blob k = make_default_bzimage(DECOMPRESS_XZ);
	struct boot_entry e;

	for (size_t cut = 0; cut < k.len; cut++) {
		/* An exact-size copy, so ASan catches any overread. */
		struct blob t = {malloc(cut ? cut : 1), cut};

		memcpy(t.p, k.p, cut);
		assert_int_equal(load(f, &t, false, &e), -ENOEXEC);
		assert_int_equal(load(f, &t, true, &e), -ENOEXEC);
		free(t.p);
	}
	free(k.p);
}

static void test_payload_outside(void **state)
{
	static const uint32_t bad[][2] = {
		{0x7ffff000, 0x100},	  /* offset past the end */
		{PAYLOAD_OFF, 0x100000},  /* length past the end */
		{0xffffffff, 0xffffffff}, /* overflow of offset + length */
		{PAYLOAD_OFF, 0},	  /* empty */
	};

	struct blob k;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k = make_default_bzimage(DECOMPRESS_GZIP);
		hdr_of(k.p)->payload_offset = bad[i][0];
		hdr_of(k.p)->payload_length = bad[i][1];
		expect_fail(*state, k, false, -ENOEXEC);
	}
	/* The last 2 bytes of the file: too short to hold a magic and the
	 * size trailer, and nothing may be read past them. */
	k = make_default_bzimage(DECOMPRESS_GZIP);
	hdr_of(k.p)->payload_offset = k.len - SETUP_SIZE - 2;
	hdr_of(k.p)->payload_length = 2;
	expect_fail(*state, k, false, -ENOEXEC);
}

static void test_corrupt_payload(void **state)
{
	struct blob k = make_default_bzimage(DECOMPRESS_XZ);

	k.p[SETUP_SIZE + PAYLOAD_OFF + hdr_of(k.p)->payload_length / 2] ^= 0x5a;
	expect_fail(*state, k, false, -ENOEXEC);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	memcpy(k.p + SETUP_SIZE + PAYLOAD_OFF, "\x89LZO", 4);
	expect_fail(*state, k, false, -ENOEXEC);
	k = make_default_bzimage(DECOMPRESS_GZIP);
	memcpy(k.p + SETUP_SIZE + PAYLOAD_OFF, "junk", 4);
	expect_fail(*state, k, false, -ENOEXEC);
}

/* The payload decompresses to more than its trailer says: a bomb. */
static void test_payload_bomb(void **state)
{
	uint8_t *zeros = calloc(1, 8 << 20);
	struct blob p = compress_zstd(zeros, 8 << 20), k;

	append_le32(&p, 4096);
	k = make_bzimage(p.p, p.len);
	expect_fail(*state, k, false, -E2BIG);
	free(p.p);
	free(zeros);
}

/* A trailer claiming more than guest RAM or 512 MiB is refused before
 * any allocation; a claim of 0, or one the data does not match, is
 * malformed. */
static void test_payload_size_claims(void **state)
{
	struct blob v = default_vmlinux();
	struct blob p = make_payload(DECOMPRESS_LZ4, v.p, v.len);
	uint8_t *trailer = p.p + p.len - 4;

	put_le32(trailer, RAM_SIZE + 1);
	expect_fail(*state, make_bzimage(p.p, p.len), false, -ENOMEM);
	put_le32(trailer, 0xffffffff);
	expect_fail(*state, make_bzimage(p.p, p.len), false, -E2BIG);
	put_le32(trailer, 0);
	expect_fail(*state, make_bzimage(p.p, p.len), false, -ENOEXEC);
	put_le32(trailer, v.len + 1);
	expect_fail(*state, make_bzimage(p.p, p.len), false, -ENOEXEC);
	free(p.p);
	free(v.p);
}

static void test_payload_not_elf(void **state)
{
	uint8_t text[4096];
	struct blob p, k;

	memset(text, 'k', sizeof(text));
	p = make_payload(DECOMPRESS_BZIP2, text, sizeof(text));
	k = make_bzimage(p.p, p.len);
	expect_fail(*state, k, false, -ENOEXEC);
	free(p.p);
}

/* An ELF (bare or inside a bzImage) must lie in RAM above 1 MiB and be
 * entered inside a segment. */
static void check_bad_vmlinux(void **state, struct blob v, int err)
{
	struct blob p = make_payload(DECOMPRESS_GZIP, v.p, v.len);

	expect_fail(*state, make_bzimage(p.p, p.len), false, err);
	expect_fail(*state, v, false, err);
	free(p.p);
}

static void test_elf_outside_ram(void **state)
{
	check_bad_vmlinux(state,
			  make_vmlinux(RAM_SIZE - 0x100, RAM_SIZE - 0x100),
			  -EFAULT);
	check_bad_vmlinux(state, make_vmlinux(1ULL << 40, (1ULL << 40) + 0x40),
			  -EFAULT);
	check_bad_vmlinux(state,
			  make_vmlinux(UINT64_MAX - 0xff, UINT64_MAX - 0xff),
			  -EFAULT);
	check_bad_vmlinux(state, make_vmlinux(0x7000, 0x7000), -ENOEXEC);
	check_bad_vmlinux(state, make_vmlinux(TEXT_PADDR, 0x500000), -ENOEXEC);
}

/* Random damage to the header and payload: no crash, no overread, and a
 * failure is always one logged line with a known errno. */
static void test_random_damage(void **state)
{
	struct fixture *f = *state;
	uint32_t seed = 1;

	for (int round = 0; round < 3000; round++) {
		struct blob k = make_default_bzimage(
			round % 2 ? DECOMPRESS_LZ4 : DECOMPRESS_GZIP);
		struct boot_entry e;
		int ret;

		for (int i = 0; i < 4; i++) {
			size_t at;

			seed = seed * 1103515245 + 12345;
			at = i % 2 ? 0x1f1 + (seed >> 8) % (0x290 - 0x1f1)
				   : SETUP_SIZE +
					     (seed >> 8) % (k.len - SETUP_SIZE);
			k.p[at] ^= (uint8_t)(seed >> 20) | 1;
		}
		ret = load(f, &k, round % 4 == 3, &e);
		assert_true(ret == 0 || ret == -ENOEXEC || ret == -E2BIG ||
			    ret == -EFAULT || ret == -ENOMEM);
		free(k.p);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_ram, teardown_ram)
	const struct CMUnitTest tests[] = {
		T(test_is_bzimage),
		T(test_host_gzip),
		T(test_host_bzip2),
		T(test_host_lzma),
		T(test_host_xz),
		T(test_host_lz4),
		T(test_host_zstd),
		T(test_host_uncompressed),
		T(test_classic_relocatable),
		T(test_classic_fixed_address),
		T(test_classic_init_size_too_big),
		T(test_classic_bad_alignment),
		T(test_elf_vmlinux),
		T(test_elf_32bit),
		T(test_initrd_placement),
		T(test_initrd_below_kernel_refused),
		T(test_initrd_larger_than_ram),
		T(test_cmdline_limit),
		T(test_e820_high_ram),
		T(test_bad_boot_flag),
		T(test_bad_hdrs),
		T(test_old_version),
		T(test_no_kernel64),
		T(test_zimage),
		T(test_bad_jump),
		T(test_setup_sects_beyond_file),
		T(test_setup_sects_zero),
		T(test_truncated),
		T(test_payload_outside),
		T(test_corrupt_payload),
		T(test_payload_bomb),
		T(test_payload_size_claims),
		T(test_payload_not_elf),
		T(test_elf_outside_ram),
		T(test_random_damage),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
