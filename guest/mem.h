/* SPDX-License-Identifier: MIT */
/*
 * Memory for drivers: a bump allocator over the RAM after the image (for
 * rings and buffers that a device reaches by DMA; identity mapped, so a
 * pointer is its physical address) and mappings for MMIO above 4 GiB.
 */
#ifndef GUEST_MEM_H
#define GUEST_MEM_H

#include "rt.h"

/* Zeroed memory of size bytes aligned to align (a power of two), never
 * freed; NULL (with a message) when RAM runs out. */
void *dma_alloc(size_t size, size_t align);
/* Bytes dma_alloc() can still hand out. */
size_t dma_avail(void);

/* The physical address of a pointer into identity-mapped memory. */
static inline uint64_t virt_to_phys(const volatile void *p)
{
	return (uintptr_t)p;
}

/* A pointer to MMIO at [pa, pa + size): below 4 GiB the kit's map already
 * covers it; above, whole GiBs are mapped uncached (identity) on demand,
 * the page tables extended with sys_set_pte(). NULL (with a message) past
 * the physical address width. */
volatile void *mmio_map(uint64_t pa, uint64_t size);

#endif
