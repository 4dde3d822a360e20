/* SPDX-License-Identifier: MIT */
/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry:
 * a bzImage (decompressed on the host by default) or an ELF vmlinux, with a
 * boot_params zero page, e820 map, command line and initrd.
 */
#ifndef BERTH_BOOT_LINUX_H
#define BERTH_BOOT_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

struct linux_boot_args {
	const uint8_t *kernel; /* the whole image file */
	size_t kernel_size;
	const uint8_t *initrd; /* NULL if none */
	size_t initrd_size;
	const char *cmdline; /* never NULL; may be "" */
	/* bzImage only: enter the kernel's own decompressor (classic path)
	 * instead of decompressing the payload on the host. */
	bool guest_decompress;
};

/* True if the image looks like a bzImage (boot sector and "HdrS" magic). */
bool linux_is_bzimage(const uint8_t *data, size_t size);

/*
 * Load a bzImage or ELF vmlinux into guest RAM, write boot_params at
 * BOOT_ZERO_PAGE_ADDR, the command line and the initrd, and fill *entry for
 * BOOT_MODE_LINUX64. Malformed input: -ENOEXEC (or -E2BIG, -EFAULT, -ENOMEM)
 * after logging one line that says what is wrong.
 */
int linux_load(const struct guest_mem *m, const struct linux_boot_args *a,
	       struct boot_entry *entry) __attribute__((warn_unused_result));

#endif
