/* SPDX-License-Identifier: MIT */
/*
 * The Linux x86 boot protocol, 64-bit entry (Documentation/arch/x86/boot.rst).
 * The kernel file is hostile input: every offset and size read from it is
 * checked against the file and against guest RAM before use.
 */
#include "boot/linux.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "boot/acpi.h"
#include "boot/decompress.h"
#include "boot/elf.h"
#include "util/log.h"

/* The zero page is ABI: pin the offsets boot.rst and zero-page.rst give. */
#define BP_OFF(f)  offsetof(struct boot_params, f)
#define HDR_OFF(f) (BP_OFF(hdr) + offsetof(struct setup_header, f))
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is 4 KiB");
_Static_assert(BP_OFF(ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(BP_OFF(ext_ramdisk_size) == 0x0c4, "ext_ramdisk_size");
_Static_assert(BP_OFF(ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(BP_OFF(e820_entries) == 0x1e8, "e820_entries");
_Static_assert(BP_OFF(hdr) == 0x1f1, "setup header");
_Static_assert(BP_OFF(e820_table) == 0x2d0, "e820_table");
_Static_assert(HDR_OFF(vid_mode) == 0x1fa, "vid_mode");
_Static_assert(HDR_OFF(boot_flag) == 0x1fe, "boot_flag");
_Static_assert(HDR_OFF(jump) == 0x200, "jump");
_Static_assert(HDR_OFF(header) == 0x202, "header");
_Static_assert(HDR_OFF(version) == 0x206, "version");
_Static_assert(HDR_OFF(type_of_loader) == 0x210, "type_of_loader");
_Static_assert(HDR_OFF(loadflags) == 0x211, "loadflags");
_Static_assert(HDR_OFF(code32_start) == 0x214, "code32_start");
_Static_assert(HDR_OFF(ramdisk_image) == 0x218, "ramdisk_image");
_Static_assert(HDR_OFF(ramdisk_size) == 0x21c, "ramdisk_size");
_Static_assert(HDR_OFF(heap_end_ptr) == 0x224, "heap_end_ptr");
_Static_assert(HDR_OFF(cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(HDR_OFF(initrd_addr_max) == 0x22c, "initrd_addr_max");
_Static_assert(HDR_OFF(kernel_alignment) == 0x230, "kernel_alignment");
_Static_assert(HDR_OFF(relocatable_kernel) == 0x234, "relocatable_kernel");
_Static_assert(HDR_OFF(xloadflags) == 0x236, "xloadflags");
_Static_assert(HDR_OFF(cmdline_size) == 0x238, "cmdline_size");
_Static_assert(HDR_OFF(payload_offset) == 0x248, "payload_offset");
_Static_assert(HDR_OFF(payload_length) == 0x24c, "payload_length");
_Static_assert(HDR_OFF(setup_data) == 0x250, "setup_data");
_Static_assert(HDR_OFF(pref_address) == 0x258, "pref_address");
_Static_assert(HDR_OFF(init_size) == 0x260, "init_size");
_Static_assert(HDR_OFF(kernel_info_offset) == 0x268, "kernel_info_offset");
_Static_assert(sizeof(struct boot_e820_entry) == 20, "e820 entry");
_Static_assert(sizeof(struct e820_entry) == sizeof(struct boot_e820_entry),
	       "boot.h e820 entry matches the zero page's");
_Static_assert(E820_MAX_ENTRIES <= E820_MAX_ENTRIES_ZEROPAGE, "e820 table");
/* Any header length the jump can encode fits the header's hole. */
_Static_assert(HDR_OFF(header) + INT8_MAX <= 0x290, "setup header hole");

#define LINUX_BOOT_FLAG	  0xaa55
#define LINUX_HDRS_MAGIC  0x53726448 /* "HdrS" */
#define LINUX_MIN_VERSION 0x020c     /* 2.12 added xloadflags */
#define LINUX_ELF_VERSION 0x020f     /* what we claim for a bare vmlinux */
#define LINUX_JUMP_OPCODE 0xeb
#define LINUX_HDR_START	  0x1f1
/* Header bytes up to init_size exist in every 2.12+ kernel; the jump that
 * gives the header's length reaches no further than 0x281. */
#define LINUX_HDR_MIN_END  (HDR_OFF(init_size) + 4)
#define LINUX_HDR_MAX_END  (HDR_OFF(header) + INT8_MAX)
#define LINUX_SECTOR	   512
#define LINUX_ENTRY64	   0x200 /* 64-bit entry, from the protected-mode code */
#define LINUX_HEAP_END	   0xe000 /* boot.rst's sample real-mode layout */
#define LINUX_LOADER_OTHER 0xff
#define LINUX_VID_NORMAL   0xffff
#define LINUX_MAX_VMLINUX  (512ULL << 20)
#define LINUX_MAX_ALIGN	   (1U << 30)
/* For a bare vmlinux, which has no header: x86's COMMAND_LINE_SIZE - 1, the
 * initrd ceiling and alignment every x86-64 bzImage advertises. */
#define LINUX_ELF_CMDLINE_SIZE 2047
#define LINUX_ELF_INITRD_MAX   0x7fffffff
#define LINUX_ELF_ALIGN	       0x1000000
#define LINUX_PAGE	       4096ULL
#define LINUX_4G	       (1ULL << 32)
#define MIB(x)		       (((unsigned long long)(x) + (1 << 20) - 1) >> 20)

/* A bzImage's setup header and where its parts lie in the file. */
struct linux_bzimage {
	const uint8_t *data;
	struct setup_header hdr; /* zero past the header's own length */
	size_t hdr_end;		 /* file offset, from the jump at 0x200 */
	const uint8_t *pm;	 /* protected-mode code, after the setup */
	size_t pm_size;
};

/* Where the loaded kernel starts running and how far its memory reaches. */
struct linux_kernel {
	const char *kind;
	uint64_t entry;
	uint64_t end;
};

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

bool linux_is_bzimage(const uint8_t *data, size_t size)
{
	return size >= HDR_OFF(header) + 4 &&
	       get_le16(data + HDR_OFF(boot_flag)) == LINUX_BOOT_FLAG &&
	       get_le32(data + HDR_OFF(header)) == LINUX_HDRS_MAGIC;
}

/* Check the magic numbers, the version and the header length. */
static int linux_check_magic(const uint8_t *data, size_t size, size_t *hdr_end)
{
	unsigned version;

	if (size < LINUX_HDR_MAX_END) {
		pr_err("kernel: %zu-byte file is too small to be a bzImage or "
		       "ELF vmlinux",
		       size);
		return -ENOEXEC;
	}
	if (get_le16(data + HDR_OFF(boot_flag)) != LINUX_BOOT_FLAG) {
		pr_err("kernel: neither ELF nor bzImage (no 0xAA55 boot "
		       "signature at 0x1fe)");
		return -ENOEXEC;
	}
	if (get_le32(data + HDR_OFF(header)) != LINUX_HDRS_MAGIC) {
		pr_err("kernel: no \"HdrS\" setup header at 0x202 (not a "
		       "bzImage)");
		return -ENOEXEC;
	}
	version = get_le16(data + HDR_OFF(version));
	if (version < LINUX_MIN_VERSION) {
		pr_err("kernel: bzImage setup header version %u.%02u is too "
		       "old (need 2.12 for 64-bit entry)",
		       version >> 8, version & 0xff);
		return -ENOEXEC;
	}
	/* boot.rst: the short jump at 0x200 also gives the header's end. */
	*hdr_end = HDR_OFF(header) + (size_t)(int8_t)data[HDR_OFF(jump) + 1];
	if (data[HDR_OFF(jump)] != LINUX_JUMP_OPCODE ||
	    *hdr_end < LINUX_HDR_MIN_END) {
		pr_err("kernel: bzImage setup header length (jump %02x %02x at "
		       "0x200) is invalid",
		       data[HDR_OFF(jump)], data[HDR_OFF(jump) + 1]);
		return -ENOEXEC;
	}
	return 0;
}

/* Checks of the header fields a 64-bit loader relies on. */
static int linux_check_header(const struct linux_bzimage *bz, size_t size,
			      size_t setup_size)
{
	const struct setup_header *h = &bz->hdr;

	if (setup_size >= size) {
		pr_err("kernel: bzImage setup (%zu bytes) runs to or past the "
		       "end of the %zu-byte file",
		       setup_size, size);
		return -ENOEXEC;
	}
	if (!(h->loadflags & LOADED_HIGH)) {
		pr_err("kernel: zImage (LOADED_HIGH clear) is not supported, "
		       "only bzImage");
		return -ENOEXEC;
	}
	if (!(h->xloadflags & XLF_KERNEL_64)) {
		pr_err("kernel: bzImage has no 64-bit entry point "
		       "(XLF_KERNEL_64 clear in xloadflags %#x)",
		       h->xloadflags);
		return -ENOEXEC;
	}
	if ((uint64_t)h->syssize * 16 > size - setup_size) {
		pr_err("kernel: bzImage is truncated: %zu bytes of "
		       "protected-mode code, the header says %llu",
		       size - setup_size, (unsigned long long)h->syssize * 16);
		return -ENOEXEC;
	}
	return 0;
}

/* Parse and validate a bzImage's setup header. */
static int linux_parse_bzimage(const uint8_t *data, size_t size,
			       struct linux_bzimage *bz)
{
	size_t setup_size, copy;
	int ret;

	memset(bz, 0, sizeof(*bz));
	ret = linux_check_magic(data, size, &bz->hdr_end);
	if (ret)
		return ret;
	copy = bz->hdr_end - LINUX_HDR_START;
	if (copy > sizeof(bz->hdr))
		copy = sizeof(bz->hdr);
	memcpy(&bz->hdr, data + LINUX_HDR_START, copy);
	setup_size = ((size_t)(bz->hdr.setup_sects ?: 4) + 1) * LINUX_SECTOR;
	ret = linux_check_header(bz, size, setup_size);
	if (ret)
		return ret;
	bz->data = data;
	bz->pm = data + setup_size;
	bz->pm_size = size - setup_size;
	return 0;
}

/* The compressed payload inside the protected-mode code. */
static int linux_payload(const struct linux_bzimage *bz, const uint8_t **p,
			 size_t *len)
{
	uint64_t off = bz->hdr.payload_offset, plen = bz->hdr.payload_length;

	if (plen < 8 || off + plen > bz->pm_size) {
		pr_err("kernel: bzImage payload (offset %#llx, length %#llx) "
		       "is not inside the %zu bytes of protected-mode code",
		       (unsigned long long)off, (unsigned long long)plen,
		       bz->pm_size);
		return -ENOEXEC;
	}
	*p = bz->pm + off;
	*len = plen;
	return 0;
}

/*
 * The size the payload says it decompresses to: the kernel's build appends
 * it as a le32 to every format (gzip's ISIZE is the same thing). It sizes
 * the host buffer, so bound it by guest RAM and a sane vmlinux size.
 */
static int linux_payload_size(const struct guest_mem *m, const uint8_t *p,
			      size_t len, enum decompress_format fmt,
			      size_t *size)
{
	const char *name = decompress_name(fmt);

	*size = get_le32(p + len - 4);
	if (!*size) {
		pr_err("kernel: %s payload claims an uncompressed size of 0",
		       name);
		return -ENOEXEC;
	}
	if (*size > LINUX_MAX_VMLINUX) {
		pr_err("kernel: %s payload claims to decompress to %llu MiB, "
		       "more than the %llu MiB limit",
		       name, MIB(*size), MIB(LINUX_MAX_VMLINUX));
		return -E2BIG;
	}
	if (*size > m->ram_size) {
		pr_err("kernel: %s payload decompresses to %llu MiB, more than "
		       "guest RAM (--mem %llu MiB)",
		       name, MIB(*size), MIB(m->ram_size));
		return -ENOMEM;
	}
	return 0;
}

/* Decompress a payload into a malloc'd *out of exactly the promised size. */
static int linux_decompress(const struct guest_mem *m, const uint8_t *p,
			    size_t len, uint8_t **out, size_t *out_len)
{
	enum decompress_format fmt = decompress_detect(p, len);
	size_t want;
	int ret;

	if (fmt == DECOMPRESS_UNKNOWN || fmt == DECOMPRESS_LZO) {
		pr_err("kernel: cannot decompress a %s payload (magic %02x "
		       "%02x %02x %02x) on the host; use --guest-decompress",
		       decompress_name(fmt), p[0], p[1], p[2], p[3]);
		return -ENOEXEC;
	}
	ret = linux_payload_size(m, p, len, fmt, &want);
	if (!ret) /* max_out = want: more than promised is a bomb */
		ret = decompress_buffer(p, len, want, want, out, out_len);
	if (ret)
		return ret;
	if (*out_len != want) {
		pr_err("kernel: %s payload decompressed to %zu bytes, but it "
		       "claims %zu",
		       decompress_name(fmt), *out_len, want);
		free(*out);
		*out = NULL;
		return -ENOEXEC;
	}
	pr_debug("kernel: %s payload of %zu bytes decompressed to %zu bytes",
		 decompress_name(fmt), len, want);
	return 0;
}

/* The vmlinux in the payload; *owned is what to free afterwards. */
static int linux_unpack(const struct guest_mem *m,
			const struct linux_bzimage *bz, const uint8_t **vmlinux,
			size_t *vmlinux_size, uint8_t **owned)
{
	const uint8_t *p;
	size_t len;
	int ret;

	*owned = NULL;
	ret = linux_payload(bz, &p, &len);
	if (ret)
		return ret;
	if (elf_is_elf(p, len)) { /* an uncompressed payload */
		*vmlinux = p;
		*vmlinux_size = len;
		return 0;
	}
	ret = linux_decompress(m, p, len, owned, vmlinux_size);
	*vmlinux = *owned;
	return ret;
}

/* Every segment in RAM above 1 MiB, and the entry inside one of them. */
static int linux_check_segments(const struct guest_mem *m,
				const struct elf_image *img)
{
	bool entry_ok = false;

	for (unsigned i = 0; i < img->nr_load; i++) {
		const struct elf_segment *s = &img->load[i];

		/* Below 1 MiB are the zero page, command line, GDT and page
		 * tables; a kernel there would be overwritten or clobber them. */
		if (s->paddr < BOOT_HIMEM_START) {
			pr_err("kernel: ELF segment at %#llx is below 1 MiB, "
			       "where the boot data lives",
			       (unsigned long long)s->paddr);
			return -ENOEXEC;
		}
		if (!guest_mem_is_ram(m, s->paddr, s->memsz ?: 1)) {
			pr_err("kernel: ELF segment at %#llx size %#llx does "
			       "not fit in guest RAM (--mem %llu MiB)",
			       (unsigned long long)s->paddr,
			       (unsigned long long)s->memsz, MIB(m->ram_size));
			return -EFAULT;
		}
		if (img->entry >= s->paddr && img->entry - s->paddr < s->filesz)
			entry_ok = true;
	}
	if (!entry_ok) {
		pr_err("kernel: ELF entry point %#llx is not inside a loaded "
		       "segment",
		       (unsigned long long)img->entry);
		return -ENOEXEC;
	}
	return 0;
}

/* Load an ELF vmlinux at its physical addresses; enter at e_entry. */
static int linux_load_elf(const struct guest_mem *m, const uint8_t *data,
			  size_t size, struct linux_kernel *k)
{
	struct elf_image img;
	int ret;

	ret = elf_parse(data, size, &img);
	if (ret)
		return ret;
	if (!img.is64) {
		pr_err("kernel: ELF vmlinux is 32-bit; the 64-bit boot "
		       "protocol needs an x86-64 kernel");
		return -ENOEXEC;
	}
	ret = linux_check_segments(m, &img);
	if (!ret)
		ret = elf_load(&img, m, 0, &k->end);
	/* x86-64 vmlinux has ENTRY(phys_startup_64): already physical. */
	k->entry = img.entry;
	return ret;
}

/*
 * Where the protected-mode code goes (*load) and where its decompressor will
 * run (*run). head_64.S runs it at align_up(load, kernel_alignment), never
 * below LOAD_PHYSICAL_ADDR, which pref_address reports; a non-relocatable
 * kernel always runs at pref_address, so load it there.
 */
static int linux_classic_addrs(const struct setup_header *h, uint64_t *load,
			       uint64_t *run)
{
	uint32_t align = h->kernel_alignment;

	if (h->pref_address >= LINUX_4G ||
	    (!h->relocatable_kernel && h->pref_address < BOOT_HIMEM_START)) {
		pr_err("kernel: bzImage pref_address %#llx is unusable%s",
		       (unsigned long long)h->pref_address,
		       h->relocatable_kernel ? ""
					     : " for a non-relocatable kernel");
		return -ENOEXEC;
	}
	if (!h->relocatable_kernel) {
		*load = *run = h->pref_address;
		return 0;
	}
	if (!align || (align & (align - 1)) || align > LINUX_MAX_ALIGN) {
		pr_err("kernel: bzImage kernel_alignment %#x is not a power of "
		       "two up to 1 GiB",
		       align);
		return -ENOEXEC;
	}
	*load = BOOT_HIMEM_START;
	*run = align_up(*load, align);
	if (*run < h->pref_address)
		*run = h->pref_address;
	return 0;
}

/* Classic path: copy the protected-mode code; enter its decompressor. */
static int linux_load_classic(const struct guest_mem *m,
			      const struct linux_bzimage *bz,
			      struct boot_params *zp, struct linux_kernel *k)
{
	uint64_t load, run, end, low_end = guest_mem_low_end(m);
	int ret;

	if (bz->pm_size <= LINUX_ENTRY64) {
		pr_err("kernel: bzImage protected-mode code (%zu bytes) ends "
		       "before its 64-bit entry at +0x200",
		       bz->pm_size);
		return -ENOEXEC;
	}
	ret = linux_classic_addrs(&bz->hdr, &load, &run);
	if (ret)
		return ret;
	end = run + bz->hdr.init_size;
	if (end < load + bz->pm_size)
		end = load + bz->pm_size;
	if (end > low_end) {
		pr_err("kernel: bzImage needs RAM up to %#llx (init_size %llu "
		       "MiB at %#llx) but RAM below 4 GiB ends at %#llx (--mem "
		       "%llu MiB)",
		       (unsigned long long)end, MIB(bz->hdr.init_size),
		       (unsigned long long)run, (unsigned long long)low_end,
		       MIB(m->ram_size));
		return -ENOMEM;
	}
	ret = guest_mem_write(m, load, bz->pm, bz->pm_size);
	if (ret) {
		pr_err("kernel: cannot copy the bzImage to %#llx",
		       (unsigned long long)load);
		return ret;
	}
	zp->hdr.code32_start = (uint32_t)load; /* boot.rst: (reloc) */
	k->entry = load + LINUX_ENTRY64;
	k->end = end;
	return 0;
}

/* Default path: decompress on the host and load the vmlinux inside. */
static int linux_load_unpacked(const struct guest_mem *m,
			       const struct linux_bzimage *bz,
			       struct linux_kernel *k)
{
	const uint8_t *vmlinux;
	uint8_t *owned;
	size_t size;
	int ret;

	ret = linux_unpack(m, bz, &vmlinux, &size, &owned);
	if (ret)
		return ret;
	if (!elf_is_elf(vmlinux, size)) {
		pr_err("kernel: bzImage payload does not decompress to an ELF "
		       "vmlinux");
		ret = -ENOEXEC;
	} else {
		ret = linux_load_elf(m, vmlinux, size, k);
	}
	free(owned);
	return ret;
}

/* The setup header as the kernel wrote it, bytes 0x1f1 up to its end. */
static void linux_zero_page_bzimage(struct boot_params *zp,
				    const struct linux_bzimage *bz)
{
	memcpy((uint8_t *)zp + LINUX_HDR_START, bz->data + LINUX_HDR_START,
	       bz->hdr_end - LINUX_HDR_START);
	zp->hdr.setup_data = 0; /* ours to fill; we pass none */
}

/* A bare vmlinux has no header: make up the one a bzImage would carry. */
static void linux_zero_page_elf(struct boot_params *zp)
{
	zp->hdr.boot_flag = LINUX_BOOT_FLAG;
	zp->hdr.header = LINUX_HDRS_MAGIC;
	zp->hdr.version = LINUX_ELF_VERSION;
	zp->hdr.loadflags = LOADED_HIGH;
	zp->hdr.initrd_addr_max = LINUX_ELF_INITRD_MAX;
	zp->hdr.kernel_alignment = LINUX_ELF_ALIGN;
	zp->hdr.cmdline_size = LINUX_ELF_CMDLINE_SIZE;
}

/* The fields boot.rst marks "write (obligatory)", bar the ones set later. */
static void linux_zero_page_loader(struct boot_params *zp)
{
	zp->hdr.type_of_loader = LINUX_LOADER_OTHER;
	zp->hdr.ext_loader_ver = 0;
	zp->hdr.ext_loader_type = 0;
	zp->hdr.loadflags |= CAN_USE_HEAP;
	zp->hdr.heap_end_ptr = LINUX_HEAP_END - 0x200;
	zp->hdr.vid_mode = LINUX_VID_NORMAL;
	zp->hdr.ramdisk_image = 0;
	zp->hdr.ramdisk_size = 0;
	/* Protocol 2.14+ reads it; older kernels scan the BIOS area. */
	zp->acpi_rsdp_addr = ACPI_RSDP_ADDR;
}

/* The command line's length against the kernel's cmdline_size. */
static int linux_check_cmdline(const struct boot_params *zp,
			       const char *cmdline, size_t *max)
{
	size_t len = strlen(cmdline);

	*max = zp->hdr.cmdline_size;
	if (*max > BOOT_CMDLINE_MAX - 1)
		*max = BOOT_CMDLINE_MAX - 1;
	if (len > *max) {
		pr_err("kernel: command line is %zu bytes, longer than the "
		       "kernel's cmdline_size (%zu)",
		       len, *max);
		return -E2BIG;
	}
	return 0;
}

/* Put the initrd as high as the kernel allows, above the kernel. */
static int linux_place_initrd(const struct guest_mem *m, struct boot_params *zp,
			      const struct linux_boot_args *a,
			      uint64_t kernel_end)
{
	/* initrd_addr_max is the highest byte allowed; being 32-bit, it also
	 * keeps the initrd below 4 GiB. */
	uint64_t top = zp->hdr.initrd_addr_max + 1ULL;
	uint64_t low = align_up(kernel_end, LINUX_PAGE);
	uint64_t size = a->initrd_size, addr = 0;
	int ret;

	if (!a->initrd || !size)
		return 0;
	if (top > guest_mem_low_end(m))
		top = guest_mem_low_end(m);
	if (size <= top)
		addr = (top - size) & ~(LINUX_PAGE - 1);
	if (size > top || addr < low) {
		pr_err("initrd (%llu MiB) does not fit below initrd_addr_max "
		       "%#x and above the kernel (ends at %#llx) with --mem "
		       "%llu MiB",
		       MIB(size), zp->hdr.initrd_addr_max,
		       (unsigned long long)kernel_end, MIB(m->ram_size));
		return -E2BIG;
	}
	ret = guest_mem_write(m, addr, a->initrd, size);
	if (ret) {
		pr_err("initrd: cannot copy to %#llx",
		       (unsigned long long)addr);
		return ret;
	}
	zp->hdr.ramdisk_image = (uint32_t)addr;
	zp->ext_ramdisk_image = (uint32_t)(addr >> 32);
	zp->hdr.ramdisk_size = (uint32_t)size;
	zp->ext_ramdisk_size = (uint32_t)(size >> 32);
	return 0;
}

/* The guest's memory map, as e820_build makes it, into the zero page. */
static int linux_write_e820(const struct guest_mem *m, struct boot_params *zp)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	int n = e820_build(m, map, E820_MAX_ENTRIES);

	if (n < 0) {
		pr_err("kernel: cannot build the e820 map for this RAM layout "
		       "(error %d)",
		       n);
		return n;
	}
	/* Same packed 20-byte layout (asserted above); no packed pointer. */
	memcpy((uint8_t *)zp + BP_OFF(e820_table), map, n * sizeof(map[0]));
	zp->e820_entries = (uint8_t)n;
	return 0;
}

/* Initrd, e820, command line, then the zero page itself. */
static int linux_write_boot_data(const struct guest_mem *m,
				 const struct linux_boot_args *a,
				 struct boot_params *zp, uint64_t kernel_end,
				 size_t cmdline_max)
{
	int ret;

	ret = linux_place_initrd(m, zp, a, kernel_end);
	if (!ret)
		ret = linux_write_e820(m, zp);
	if (ret)
		return ret;
	ret = boot_write_cmdline(m, a->cmdline, cmdline_max + 1);
	if (ret) {
		pr_err("kernel: cannot write the command line at %#llx",
		       BOOT_CMDLINE_ADDR);
		return ret;
	}
	zp->hdr.cmd_line_ptr = BOOT_CMDLINE_ADDR;
	ret = guest_mem_write(m, BOOT_ZERO_PAGE_ADDR, zp, sizeof(*zp));
	if (ret)
		pr_err("kernel: cannot write the zero page at %#llx",
		       BOOT_ZERO_PAGE_ADDR);
	return ret;
}

/* Load the kernel the header describes, by the path the caller chose. */
static int linux_load_kernel(const struct guest_mem *m,
			     const struct linux_boot_args *a,
			     const struct linux_bzimage *bz,
			     struct boot_params *zp, struct linux_kernel *k)
{
	if (!bz) {
		k->kind = "ELF vmlinux";
		return linux_load_elf(m, a->kernel, a->kernel_size, k);
	}
	if (a->guest_decompress) {
		k->kind = "bzImage, guest decompression";
		return linux_load_classic(m, bz, zp, k);
	}
	k->kind = "bzImage, decompressed on the host";
	return linux_load_unpacked(m, bz, k);
}

int linux_load(const struct guest_mem *m, const struct linux_boot_args *a,
	       struct boot_entry *entry)
{
	struct boot_params zp;
	struct linux_bzimage bz;
	struct linux_kernel k = {0};
	bool is_elf = elf_is_elf(a->kernel, a->kernel_size);
	size_t cmdline_max;
	int ret;

	memset(&zp, 0, sizeof(zp));
	if (is_elf) {
		linux_zero_page_elf(&zp);
	} else {
		ret = linux_parse_bzimage(a->kernel, a->kernel_size, &bz);
		if (ret)
			return ret;
		linux_zero_page_bzimage(&zp, &bz);
	}
	linux_zero_page_loader(&zp);
	/* Before the (slow) kernel load: a too-long command line is cheap
	 * to refuse. */
	ret = linux_check_cmdline(&zp, a->cmdline, &cmdline_max);
	if (!ret)
		ret = linux_load_kernel(m, a, is_elf ? NULL : &bz, &zp, &k);
	if (!ret)
		ret = linux_write_boot_data(m, a, &zp, k.end, cmdline_max);
	if (ret)
		return ret;
	*entry = (struct boot_entry){.mode = BOOT_MODE_LINUX64,
				     .rip = k.entry,
				     .rsi = BOOT_ZERO_PAGE_ADDR};
	pr_info("kernel: %s, protocol %u.%02u, entry %#llx, kernel ends at "
		"%#llx",
		k.kind, zp.hdr.version >> 8, zp.hdr.version & 0xff,
		(unsigned long long)k.entry, (unsigned long long)k.end);
	return 0;
}
