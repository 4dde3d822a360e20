/* SPDX-License-Identifier: MIT */
#include "boot/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/elf.h"
#include "boot/linux.h"
#include "boot/pvh.h"
#include "util/log.h"

#define BOOT_FILE_MAX (1ULL << 32) /* nothing we load can exceed 4 GiB */

struct mapped_file {
	const uint8_t *data;
	size_t size;
};

/* Map a whole regular file read-only; what names it in error lines. */
static int map_file(const char *what, const char *path, struct mapped_file *f)
{
	struct stat st;
	void *p;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = errno;
		pr_err("%s: cannot open %s: %s", what, path, strerror(err));
		goto fail;
	}
	err = !S_ISREG(st.st_mode)		     ? EINVAL
	      : st.st_size == 0			     ? ENOEXEC
	      : (uint64_t)st.st_size > BOOT_FILE_MAX ? EFBIG
						     : 0;
	if (err) {
		pr_err("%s: %s is %s", what, path,
		       err == EINVAL	? "not a regular file"
		       : err == ENOEXEC ? "empty"
					: "larger than 4 GiB");
		goto fail;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		err = errno;
		pr_err("%s: cannot map %s: %s", what, path, strerror(err));
		goto fail;
	}
	close(fd);
	*f = (struct mapped_file){p, (size_t)st.st_size};
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -err;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
}

/* An ELF with a PVH note boots through PVH; any other ELF or a bzImage
 * through the Linux 64-bit boot protocol. */
static int boot_load_image(const struct guest_mem *m,
			   const struct boot_config *cfg,
			   const struct mapped_file *k,
			   const struct mapped_file *initrd,
			   struct boot_entry *entry)
{
	struct linux_boot_args la = {
		.kernel = k->data,
		.kernel_size = k->size,
		.initrd = initrd->data,
		.initrd_size = initrd->size,
		.cmdline = cfg->cmdline,
		.guest_decompress = cfg->guest_decompress,
	};
	struct elf_image img;
	uint64_t pvh_entry;
	int ret;

	if (elf_is_elf(k->data, k->size)) {
		ret = elf_parse(k->data, k->size, &img);
		if (ret)
			return ret;
		ret = pvh_find_entry(&img, &pvh_entry);
		if (ret == 0) {
			struct pvh_boot_args pa = {
				.initrd = initrd->data,
				.initrd_size = initrd->size,
				.cmdline = cfg->cmdline,
			};
			return pvh_load(m, &img, &pa, entry);
		}
		if (ret != -ENOENT)
			return ret;
		return linux_load(m, &la, entry);
	}
	if (linux_is_bzimage(k->data, k->size))
		return linux_load(m, &la, entry);
	pr_err("kernel: %s is neither an ELF (PVH or vmlinux) nor a bzImage",
	       cfg->kernel_path);
	return -ENOEXEC;
}

int boot_load(const struct guest_mem *m, const struct boot_config *cfg,
	      struct boot_entry *entry)
{
	struct mapped_file k = {0}, initrd = {0};
	int ret;

	ret = map_file("kernel", cfg->kernel_path, &k);
	if (!ret && cfg->initrd_path)
		ret = map_file("initrd", cfg->initrd_path, &initrd);
	if (!ret)
		ret = boot_load_image(m, cfg, &k, &initrd, entry);
	unmap_file(&initrd);
	unmap_file(&k);
	return ret;
}
