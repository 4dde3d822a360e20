/* SPDX-License-Identifier: MIT */
#include "boot/elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "util/log.h"

bool elf_is_elf(const uint8_t *data, size_t size)
{
	return size >= SELFMAG && !memcmp(data, ELFMAG, SELFMAG);
}

/* True if [off, off + len) lies inside a file of size bytes. */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
	uint64_t end;

	return !__builtin_add_overflow(off, len, &end) && end <= size;
}

static int elf_check_header(const uint8_t *data, size_t size, bool *is64)
{
	const Elf32_Ehdr *eh = (const void *)data;

	if (!elf_is_elf(data, size) || size < sizeof(Elf32_Ehdr)) {
		pr_err("kernel: not an ELF file or truncated ELF header");
		return -ENOEXEC;
	}
	if (data[EI_DATA] != ELFDATA2LSB || data[EI_VERSION] != EV_CURRENT) {
		pr_err("kernel: ELF is not little-endian version 1");
		return -ENOEXEC;
	}
	*is64 = data[EI_CLASS] == ELFCLASS64;
	if (*is64 ? size < sizeof(Elf64_Ehdr) : data[EI_CLASS] != ELFCLASS32) {
		pr_err("kernel: ELF class %u is not supported", data[EI_CLASS]);
		return -ENOEXEC;
	}
	/* e_type and e_machine sit at the same offsets in both classes. */
	if (eh->e_type != ET_EXEC ||
	    eh->e_machine != (*is64 ? EM_X86_64 : EM_386)) {
		pr_err("kernel: ELF is not an x86 executable (type %u, machine "
		       "%u)",
		       eh->e_type, eh->e_machine);
		return -ENOEXEC;
	}
	return 0;
}

/* Read program header i into a class-independent segment. */
static int elf_read_phdr(struct elf_image *img, uint64_t phoff,
			 unsigned phentsize, unsigned i, uint32_t *type,
			 struct elf_segment *seg)
{
	uint64_t off = phoff + (uint64_t)i * phentsize;

	if (!in_file(off, phentsize, img->size))
		return -ENOEXEC;
	if (img->is64) {
		Elf64_Phdr ph;

		memcpy(&ph, img->data + off, sizeof(ph));
		*type = ph.p_type;
		*seg = (struct elf_segment){ph.p_offset, ph.p_paddr, ph.p_vaddr,
					    ph.p_filesz, ph.p_memsz};
	} else {
		Elf32_Phdr ph;

		memcpy(&ph, img->data + off, sizeof(ph));
		*type = ph.p_type;
		*seg = (struct elf_segment){ph.p_offset, ph.p_paddr, ph.p_vaddr,
					    ph.p_filesz, ph.p_memsz};
	}
	return 0;
}

static int elf_add_segment(struct elf_image *img, uint32_t type,
			   const struct elf_segment *seg)
{
	if (!in_file(seg->offset, seg->filesz, img->size)) {
		pr_err("kernel: ELF segment at file offset %#llx size %#llx is "
		       "outside the file",
		       (unsigned long long)seg->offset,
		       (unsigned long long)seg->filesz);
		return -ENOEXEC;
	}
	if (type == PT_LOAD) {
		if (seg->filesz > seg->memsz) {
			pr_err("kernel: ELF segment has filesz > memsz");
			return -ENOEXEC;
		}
		if (img->nr_load == ELF_MAX_SEGMENTS)
			goto too_many;
		img->load[img->nr_load++] = *seg;
	} else if (type == PT_NOTE) {
		if (img->nr_note == ELF_MAX_SEGMENTS)
			goto too_many;
		img->note[img->nr_note++] = *seg;
	}
	return 0;
too_many:
	pr_err("kernel: ELF has more than %d segments of one kind",
	       ELF_MAX_SEGMENTS);
	return -ENOEXEC;
}

/* The program header table's place and shape, from either class. */
struct elf_phdrs {
	uint64_t off;
	unsigned num, entsize, want;
};

static void elf_read_ehdr(struct elf_image *img, struct elf_phdrs *ph)
{
	if (img->is64) {
		Elf64_Ehdr eh;

		memcpy(&eh, img->data, sizeof(eh));
		img->entry = eh.e_entry;
		*ph = (struct elf_phdrs){eh.e_phoff, eh.e_phnum, eh.e_phentsize,
					 sizeof(Elf64_Phdr)};
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, img->data, sizeof(eh));
		img->entry = eh.e_entry;
		*ph = (struct elf_phdrs){eh.e_phoff, eh.e_phnum, eh.e_phentsize,
					 sizeof(Elf32_Phdr)};
	}
}

int elf_parse(const uint8_t *data, size_t size, struct elf_image *img)
{
	struct elf_phdrs ph;
	int ret;

	memset(img, 0, sizeof(*img));
	img->data = data;
	img->size = size;
	ret = elf_check_header(data, size, &img->is64);
	if (ret)
		return ret;
	elf_read_ehdr(img, &ph);
	if (ph.entsize < ph.want || !ph.num ||
	    !in_file(ph.off, (uint64_t)ph.num * ph.entsize, size)) {
		pr_err("kernel: ELF program headers are missing or outside the "
		       "file");
		return -ENOEXEC;
	}
	for (unsigned i = 0; i < ph.num; i++) {
		struct elf_segment seg;
		uint32_t type;

		ret = elf_read_phdr(img, ph.off, ph.entsize, i, &type, &seg);
		if (!ret && (type == PT_LOAD || type == PT_NOTE))
			ret = elf_add_segment(img, type, &seg);
		if (ret)
			return ret;
	}
	if (!img->nr_load) {
		pr_err("kernel: ELF has no loadable segment");
		return -ENOEXEC;
	}
	return 0;
}

static uint32_t align4(uint32_t v)
{
	return (v + 3) & ~3U;
}

/* Scan one PT_NOTE segment; 1 if found, 0 if not, -ENOEXEC if malformed. */
static int elf_scan_notes(const struct elf_image *img,
			  const struct elf_segment *seg, const char *name,
			  uint32_t type, const uint8_t **desc, uint32_t *descsz)
{
	size_t namelen = strlen(name) + 1;
	uint64_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= seg->filesz) {
		const uint8_t *p = img->data + seg->offset + off;
		Elf64_Nhdr nh; /* Elf32_Nhdr has the same layout */
		uint64_t nlen, dlen;

		memcpy(&nh, p, sizeof(nh));
		nlen = align4(nh.n_namesz);
		dlen = align4(nh.n_descsz);
		if (nh.n_namesz > 0xffff || nh.n_descsz > 0xffffff ||
		    off + sizeof(nh) + nlen + nh.n_descsz > seg->filesz) {
			pr_err("kernel: ELF note at segment offset %#llx is "
			       "malformed",
			       (unsigned long long)off);
			return -ENOEXEC;
		}
		if (nh.n_type == type && nh.n_namesz == namelen &&
		    !memcmp(p + sizeof(nh), name, namelen)) {
			*desc = p + sizeof(nh) + nlen;
			*descsz = nh.n_descsz;
			return 1;
		}
		off += sizeof(nh) + nlen + dlen;
	}
	return 0;
}

int elf_find_note(const struct elf_image *img, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *descsz)
{
	for (unsigned i = 0; i < img->nr_note; i++) {
		int ret = elf_scan_notes(img, &img->note[i], name, type, desc,
					 descsz);

		if (ret)
			return ret < 0 ? ret : 0;
	}
	return -ENOENT;
}

int elf_load(const struct elf_image *img, const struct guest_mem *m,
	     uint64_t phys_bias, uint64_t *end)
{
	uint64_t top = 0;

	for (unsigned i = 0; i < img->nr_load; i++) {
		const struct elf_segment *s = &img->load[i];
		uint64_t gpa = s->paddr - phys_bias;
		int ret;

		if (s->paddr < phys_bias ||
		    !guest_mem_is_ram(m, gpa, s->memsz ? s->memsz : 1)) {
			pr_err("kernel: ELF segment at %#llx size %#llx is "
			       "outside guest RAM",
			       (unsigned long long)s->paddr,
			       (unsigned long long)s->memsz);
			return -EFAULT;
		}
		ret = guest_mem_write(m, gpa, img->data + s->offset, s->filesz);
		if (!ret)
			ret = guest_mem_fill(m, gpa + s->filesz, 0,
					     s->memsz - s->filesz);
		if (ret)
			return ret;
		if (gpa + s->memsz > top)
			top = gpa + s->memsz;
	}
	if (end)
		*end = top;
	return 0;
}
