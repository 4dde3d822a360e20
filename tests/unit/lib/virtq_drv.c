/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/virtq_drv.h"

#define DESC_F_NEXT  1
#define DESC_F_WRITE 2

struct drv_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static void drv_put(const struct virtq_drv *v, uint64_t gpa, const void *p,
		    size_t len)
{
	assert_int_equal(guest_mem_write(v->mem, gpa, p, len), 0);
}

void virtq_drv_init(struct virtq_drv *v, const struct guest_mem *m,
		    uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	*v = (struct virtq_drv){.mem = m,
				.size = size,
				.desc = desc,
				.avail = avail,
				.used = used};
	assert_int_equal(guest_mem_fill(m, desc, 0, 16u * size), 0);
	assert_int_equal(guest_mem_fill(m, avail, 0, 6 + 2u * size), 0);
	assert_int_equal(guest_mem_fill(m, used, 0, 6 + 8u * size), 0);
}

uint16_t virtq_drv_add(struct virtq_drv *v, const struct virtq_buf *bufs,
		       unsigned n)
{
	uint16_t head = v->next_desc, i = head;
	struct drv_desc d;
	unsigned k;

	assert_true(n >= 1 && n <= v->size);
	for (k = 0; k < n; k++) {
		d.addr = bufs[k].gpa;
		d.len = bufs[k].len;
		d.flags = (bufs[k].device_writes ? DESC_F_WRITE : 0) |
			  (k + 1 < n ? DESC_F_NEXT : 0);
		d.next = (i + 1) % v->size;
		drv_put(v, v->desc + 16u * i, &d, sizeof(d));
		i = d.next;
	}
	v->next_desc = i;
	return head;
}

void virtq_drv_publish(struct virtq_drv *v, uint16_t head)
{
	uint16_t *idx;
	void *p;

	drv_put(v, v->avail + 4 + 2u * (v->avail_idx % v->size), &head, 2);
	v->avail_idx++;
	/* Release: the ring entry is visible before the index that covers it. */
	assert_int_equal(guest_mem_slice(v->mem, v->avail + 2, 2, &p), 0);
	idx = p;
	__atomic_store_n(idx, v->avail_idx, __ATOMIC_RELEASE);
}

uint16_t virtq_drv_used_idx(const struct virtq_drv *v)
{
	void *p;

	assert_int_equal(guest_mem_slice(v->mem, v->used + 2, 2, &p), 0);
	return __atomic_load_n((uint16_t *)p, __ATOMIC_ACQUIRE);
}

int virtq_drv_take_used(struct virtq_drv *v, uint32_t *id, uint32_t *len)
{
	uint32_t elem[2];

	if (virtq_drv_used_idx(v) == v->used_seen)
		return 0;
	assert_int_equal(
		guest_mem_read(v->mem,
			       v->used + 4 + 8u * (v->used_seen % v->size),
			       elem, sizeof(elem)),
		0);
	v->used_seen++;
	*id = elem[0];
	*len = elem[1];
	return 1;
}
