/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory. Every read or write of guest memory by berth goes
 * through these functions: they check gpa + len for overflow and against the
 * RAM regions, and fail with -EFAULT instead of handing out an unchecked
 * pointer. A guest is hostile input.
 */
#ifndef BERTH_MEM_GUEST_MEM_H
#define BERTH_MEM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

/* RAM above this address is moved above 4 GiB, leaving a hole for MMIO. */
#define GUEST_MMIO_HOLE_START 0xC0000000ULL
#define GUEST_MMIO_HOLE_END   0x100000000ULL

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t ram_size; /* sum of region sizes */
	void *map; /* the one host mapping behind all regions, or NULL */
	size_t map_size;
};

/* Map ram_size bytes of anonymous guest RAM, split around the MMIO hole. */
int guest_mem_init(struct guest_mem *m, uint64_t ram_size)
	__attribute__((warn_unused_result));

/* Add a region backed by caller-owned memory (used by tests: fake RAM). */
int guest_mem_add_region(struct guest_mem *m, uint64_t gpa, void *host,
			 uint64_t size) __attribute__((warn_unused_result));

/* Unmap what guest_mem_init mapped; safe on a zeroed or half-built struct. */
void guest_mem_destroy(struct guest_mem *m);

/* Copy len bytes from guest gpa into dst; -EFAULT unless all of it is RAM. */
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst,
		   size_t len) __attribute__((warn_unused_result));

/* Copy len bytes from src to guest gpa; -EFAULT unless all of it is RAM. */
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src,
		    size_t len) __attribute__((warn_unused_result));

/* Set len bytes at gpa to c; -EFAULT unless all of it is RAM. */
int guest_mem_fill(const struct guest_mem *m, uint64_t gpa, int c, size_t len)
	__attribute__((warn_unused_result));

/*
 * Checked pointer to len contiguous bytes of guest RAM at gpa, in *out.
 * Returns -EFAULT if the range overflows, leaves RAM or spans two regions.
 * The pointer stays valid while the guest_mem lives; the guest may change
 * the bytes under it at any time, so copy before validating.
 */
int guest_mem_slice(const struct guest_mem *m, uint64_t gpa, size_t len,
		    void **out) __attribute__((warn_unused_result));

/* True if [gpa, gpa + len) is entirely guest RAM (in one region). */
bool guest_mem_is_ram(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Bytes of guest RAM the host has actually backed (resident pages). */
uint64_t guest_mem_resident(const struct guest_mem *m);

/* One past the highest RAM address below 4 GiB. */
uint64_t guest_mem_low_end(const struct guest_mem *m);

#endif
