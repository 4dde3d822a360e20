/* SPDX-License-Identifier: MIT */
#include "mem/guest_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

int guest_mem_add_region(struct guest_mem *m, uint64_t gpa, void *host,
			 uint64_t size)
{
	uint64_t end;

	if (m->nr_regions >= GUEST_MEM_MAX_REGIONS || !size || !host)
		return -EINVAL;
	if (__builtin_add_overflow(gpa, size, &end))
		return -EINVAL;
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct guest_region *r = &m->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < end)
			return -EEXIST;
	}
	m->regions[m->nr_regions++] = (struct guest_region){
		.gpa = gpa,
		.size = size,
		.host = host,
	};
	m->ram_size += size;
	return 0;
}

int guest_mem_init(struct guest_mem *m, uint64_t ram_size)
{
	uint64_t low, high;
	uint8_t *map;
	int ret;

	memset(m, 0, sizeof(*m));
	if (ram_size < (1ULL << 20) || ram_size > (1ULL << 46))
		return -EINVAL;
	map = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	m->map = map;
	m->map_size = ram_size;

	low = ram_size < GUEST_MMIO_HOLE_START ? ram_size
					       : GUEST_MMIO_HOLE_START;
	high = ram_size - low;
	ret = guest_mem_add_region(m, 0, map, low);
	if (!ret && high)
		ret = guest_mem_add_region(m, GUEST_MMIO_HOLE_END, map + low,
					   high);
	if (ret)
		guest_mem_destroy(m);
	return ret;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (m->map)
		munmap(m->map, m->map_size);
	memset(m, 0, sizeof(*m));
}

/* The region holding all of [gpa, gpa + len), or NULL. len 0 is never RAM. */
static const struct guest_region *find_region(const struct guest_mem *m,
					      uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (!len || __builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct guest_region *r = &m->regions[i];

		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return r;
	}
	return NULL;
}

bool guest_mem_is_ram(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	return find_region(m, gpa, len) != NULL;
}

int guest_mem_slice(const struct guest_mem *m, uint64_t gpa, size_t len,
		    void **out)
{
	const struct guest_region *r = find_region(m, gpa, len);

	if (!r)
		return -EFAULT;
	*out = r->host + (gpa - r->gpa);
	return 0;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst,
		   size_t len)
{
	void *p;
	int ret;

	if (!len)
		return 0;
	ret = guest_mem_slice(m, gpa, len, &p);
	if (!ret)
		memcpy(dst, p, len);
	return ret;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src,
		    size_t len)
{
	void *p;
	int ret;

	if (!len)
		return 0;
	ret = guest_mem_slice(m, gpa, len, &p);
	if (!ret)
		memcpy(p, src, len);
	return ret;
}

int guest_mem_fill(const struct guest_mem *m, uint64_t gpa, int c, size_t len)
{
	void *p;
	int ret;

	if (!len)
		return 0;
	ret = guest_mem_slice(m, gpa, len, &p);
	if (!ret)
		memset(p, c, len);
	return ret;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	uint64_t end = 0;

	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct guest_region *r = &m->regions[i];

		if (r->gpa < GUEST_MMIO_HOLE_END && r->gpa + r->size > end)
			end = r->gpa + r->size;
	}
	return end;
}

uint64_t guest_mem_resident(const struct guest_mem *m)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages, chunk = 1 << 16;
	unsigned char *vec;
	uint64_t resident = 0;

	if (!m->map)
		return 0;
	vec = malloc(chunk);
	if (!vec)
		return 0;
	pages = (m->map_size + page - 1) / page;
	/* In chunks, so a 1 TiB guest does not need a 256 MiB vector. */
	for (size_t first = 0; first < pages; first += chunk) {
		size_t n = pages - first < chunk ? pages - first : chunk;

		if (mincore((uint8_t *)m->map + first * page, n * page, vec))
			break;
		for (size_t i = 0; i < n; i++)
			resident += vec[i] & 1;
	}
	free(vec);
	return resident * page;
}
