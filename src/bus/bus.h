/* SPDX-License-Identifier: MIT */
/*
 * One bus type for both port I/O and MMIO: address ranges mapped to device
 * callbacks, no overlaps, and unclaimed accesses answered like a PC does
 * (reads return all-ones, writes are dropped) with a rate-limited log line.
 */
#ifndef BERTH_BUS_BUS_H
#define BERTH_BUS_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/log.h"

/* Device callbacks; offset is relative to the range base, len 1..8. They run
 * on vCPU threads, possibly several at once: devices lock their own state. */
struct bus_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const void *data,
		      unsigned len);
};

struct bus_range {
	uint64_t base;
	uint64_t size;
	const char *name;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	const char *name; /* "pio" or "mmio", for log lines */
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, never overlapping */
	unsigned nr, cap;
	pthread_mutex_t log_lock;
	struct ratelimit unclaimed_rl;
	uint64_t unclaimed; /* count of unclaimed accesses */
};

/* Initialise an empty bus; name is used in log lines. */
int bus_init(struct bus *b, const char *name)
	__attribute__((warn_unused_result));

/* Free the range table. */
void bus_destroy(struct bus *b);

/* Map [base, base + size) to ops; -EEXIST if it overlaps a mapped range,
 * -EINVAL if size is 0 or the range wraps. */
int bus_register(struct bus *b, const char *name, uint64_t base, uint64_t size,
		 const struct bus_ops *ops, void *opaque)
	__attribute__((warn_unused_result));

/* Remove the range that starts at base; -ENOENT if there is none. */
int bus_unregister(struct bus *b, uint64_t base)
	__attribute__((warn_unused_result));

/* Dispatch one access of len bytes (1..8). Returns true if a device claimed
 * it; otherwise reads fill data with 0xff, writes are dropped, and the
 * access is logged (rate-limited). */
bool bus_access(struct bus *b, uint64_t addr, void *data, unsigned len,
		bool is_write);

#endif
