/* SPDX-License-Identifier: MIT */
/* Choosing the boot path for a kernel file: PVH ELF, Linux bzImage or ELF
 * vmlinux, and loading it with its initrd and command line. */
#ifndef BERTH_BOOT_LOADER_H
#define BERTH_BOOT_LOADER_H

#include <stdbool.h>

#include "boot/boot.h"

struct boot_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL if none */
	const char *cmdline;	 /* never NULL */
	bool guest_decompress; /* bzImage: run the kernel's own decompressor */
};

/* Read the files, detect the image kind and load it into guest RAM; fills
 * *entry. Logs one line and returns -errno on any failure. */
int boot_load(const struct guest_mem *m, const struct boot_config *cfg,
	      struct boot_entry *entry) __attribute__((warn_unused_result));

#endif
