/* SPDX-License-Identifier: MIT */
#include "bus/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->unclaimed_rl = (struct ratelimit)RATELIMIT_INIT(10, 1000);
	if (pthread_rwlock_init(&b->lock, NULL))
		return -ENOMEM;
	if (pthread_mutex_init(&b->log_lock, NULL)) {
		pthread_rwlock_destroy(&b->lock);
		return -ENOMEM;
	}
	return 0;
}

void bus_destroy(struct bus *b)
{
	free(b->ranges);
	pthread_rwlock_destroy(&b->lock);
	pthread_mutex_destroy(&b->log_lock);
	memset(b, 0, sizeof(*b));
}

/* Index of the first range whose end is above addr (callers hold the lock). */
static unsigned bus_lower_bound(const struct bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];

		if (r->base + r->size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int bus_grow(struct bus *b)
{
	unsigned cap = b->cap ? b->cap * 2 : 16;
	struct bus_range *r = realloc(b->ranges, cap * sizeof(*r));

	if (!r)
		return -ENOMEM;
	b->ranges = r;
	b->cap = cap;
	return 0;
}

int bus_register(struct bus *b, const char *name, uint64_t base, uint64_t size,
		 const struct bus_ops *ops, void *opaque)
{
	uint64_t end;
	unsigned i;
	int ret = 0;

	if (!size || __builtin_add_overflow(base, size, &end) || !ops)
		return -EINVAL;
	pthread_rwlock_wrlock(&b->lock);
	i = bus_lower_bound(b, base);
	if (i < b->nr && b->ranges[i].base < end) {
		pr_err("%s bus: %s at %#llx-%#llx overlaps %s", b->name, name,
		       (unsigned long long)base, (unsigned long long)end - 1,
		       b->ranges[i].name);
		ret = -EEXIST;
	} else if (b->nr == b->cap) {
		ret = bus_grow(b);
	}
	if (!ret) {
		memmove(&b->ranges[i + 1], &b->ranges[i],
			(b->nr - i) * sizeof(b->ranges[0]));
		b->ranges[i] =
			(struct bus_range){base, size, name, ops, opaque};
		b->nr++;
	}
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

int bus_unregister(struct bus *b, uint64_t base)
{
	unsigned i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&b->lock);
	i = bus_lower_bound(b, base);
	if (i < b->nr && b->ranges[i].base == base) {
		memmove(&b->ranges[i], &b->ranges[i + 1],
			(b->nr - i - 1) * sizeof(b->ranges[0]));
		b->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

static void bus_log_unclaimed(struct bus *b, uint64_t addr, unsigned len,
			      bool is_write)
{
	pthread_mutex_lock(&b->log_lock);
	b->unclaimed++;
	if (ratelimit_allow(&b->unclaimed_rl))
		pr_info("%s bus: unclaimed %u-byte %s at %#llx", b->name, len,
			is_write ? "write" : "read", (unsigned long long)addr);
	pthread_mutex_unlock(&b->log_lock);
}

bool bus_access(struct bus *b, uint64_t addr, void *data, unsigned len,
		bool is_write)
{
	const struct bus_range *r = NULL;
	struct bus_range hit;
	unsigned i;

	pthread_rwlock_rdlock(&b->lock);
	i = bus_lower_bound(b, addr);
	if (i < b->nr && b->ranges[i].base <= addr &&
	    addr - b->ranges[i].base + len <= b->ranges[i].size) {
		hit = b->ranges[i];
		r = &hit;
	}
	pthread_rwlock_unlock(&b->lock);

	if (!r || len == 0 || len > 8) {
		if (!is_write)
			memset(data, 0xff, len > 8 ? 8 : len);
		bus_log_unclaimed(b, addr, len, is_write);
		return false;
	}
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, addr - r->base, data, len);
	} else if (r->ops->read) {
		r->ops->read(r->opaque, addr - r->base, data, len);
	} else {
		memset(data, 0xff, len);
	}
	return true;
}
