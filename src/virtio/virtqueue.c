/* SPDX-License-Identifier: MIT */
/*
 * The device side of a virtio 1.2 split virtqueue (spec 2.7).
 *
 * Guest trust: every byte of the rings, the descriptor table and the
 * indirect tables is written by the guest, possibly from another CPU while
 * we read it. Each field is loaded exactly once into host memory and only
 * the copy is validated and used. The three rings are bounds-checked once
 * in virtq_enable(); every buffer and indirect table a descriptor names is
 * checked against guest RAM (overflow-safe) before it is recorded.
 *
 * Zero-length buffers are accepted and skipped: they name no bytes, so
 * their address is never checked or used, and their WRITE flag does not
 * count for the readable-before-writable rule. They do count towards the
 * VIRTQ_MAX_CHAIN bound. (QEMU rejects them; Linux drivers have sent them.)
 */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>

#include "util/log.h"

/* Guest-visible layout (spec 2.7.5, 2.7.6, 2.7.8), little-endian in guest
 * memory; struct virtq_desc also holds our host-order copies. */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* size entries, then avail_event */
};

_Static_assert(sizeof(struct virtq_desc) == 16, "descriptor is 16 bytes");

/* avail->used_event and used->avail_event sit just past each ring. */
static uint16_t *virtq_used_event(const struct virtq *vq)
{
	struct virtq_avail *avail = vq->avail;

	return &avail->ring[vq->size];
}

static uint16_t *virtq_avail_event(const struct virtq *vq)
{
	struct virtq_used *used = vq->used;

	return (uint16_t *)&used->ring[vq->size];
}

static uint16_t virtq_load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void virtq_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* The driver's avail->idx. Acquire: pairs with the driver's write barrier
 * between filling ring entries and descriptors and publishing avail->idx,
 * so nothing read after this is older than the index (spec 2.7.13). */
static uint16_t virtq_load_avail_idx(const struct virtq *vq)
{
	const struct virtq_avail *avail = vq->avail;

	return le16toh(__atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE));
}

/* Why a queue is malformed: a debug line (a guest can repeat it at will
 * by resetting the device, so it must not flood the warning log). */
static int virtq_bad(const struct virtq *vq, const char *why)
{
	pr_debug("virtq at %#llx: %s", (unsigned long long)vq->desc_gpa, why);
	return -EINVAL;
}

static bool virtq_size_ok(uint16_t size)
{
	return size && size <= VIRTQ_MAX_SIZE && !(size & (size - 1));
}

/* Checked host pointer to a ring, or NULL: in RAM, aligned in the guest
 * (spec 2.7 table) and on the host, so the atomic accesses are aligned. */
static void *virtq_map_ring(const struct guest_mem *mem, uint64_t gpa,
			    size_t len, uint64_t align)
{
	void *p;

	if (gpa & (align - 1) || guest_mem_slice(mem, gpa, len, &p))
		return NULL;
	return (uintptr_t)p & (align - 1) ? NULL : p;
}

int virtq_enable(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
		 uint64_t desc, uint64_t avail, uint64_t used, bool indirect,
		 bool event_idx)
{
	void *d, *a, *u;

	virtq_reset(vq);
	if (!virtq_size_ok(size))
		return -EINVAL;
	d = virtq_map_ring(mem, desc, 16 * (size_t)size, 16);
	a = virtq_map_ring(mem, avail, 6 + 2 * (size_t)size, 2);
	u = virtq_map_ring(mem, used, 6 + 8 * (size_t)size, 4);
	if (!d || !a || !u)
		return -EINVAL;
	*vq = (struct virtq){
		.mem = mem,
		.size = size,
		.indirect = indirect,
		.event_idx = event_idx,
		.enabled = true,
		.desc_gpa = desc,
		.avail_gpa = avail,
		.used_gpa = used,
		.desc = d,
		.avail = a,
		.used = u,
	};
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	*vq = (struct virtq){0};
}

/* Copy descriptor i of the (checked) descriptor table, one load a field. */
static void virtq_read_desc(const struct virtq *vq, uint16_t i,
			    struct virtq_desc *d)
{
	const struct virtq_desc *g = (const struct virtq_desc *)vq->desc + i;

	d->addr = le64toh(__atomic_load_n(&g->addr, __ATOMIC_RELAXED));
	d->len = le32toh(__atomic_load_n(&g->len, __ATOMIC_RELAXED));
	d->flags = le16toh(__atomic_load_n(&g->flags, __ATOMIC_RELAXED));
	d->next = le16toh(__atomic_load_n(&g->next, __ATOMIC_RELAXED));
}

/* Copy entry i of an indirect table. The table is in RAM (checked by the
 * caller) but need not be aligned, so copy it out through the accessor:
 * the opaque call also keeps the compiler from re-reading guest memory. */
static int virtq_read_indirect(const struct virtq *vq, uint64_t table,
			       uint32_t i, struct virtq_desc *d)
{
	struct virtq_desc raw;

	if (guest_mem_read(vq->mem, table + 16 * (uint64_t)i, &raw, 16))
		return -EFAULT;
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
	return 0;
}

/* Record one buffer descriptor in c; *seen counts every descriptor of the
 * chain so loops and over-long chains end here. */
static int virtq_add_buf(const struct virtq *vq, struct virtq_chain *c,
			 const struct virtq_desc *d, unsigned *seen)
{
	bool writes = d->flags & VIRTQ_DESC_F_WRITE;

	if (++*seen > VIRTQ_MAX_CHAIN)
		return virtq_bad(vq, "chain too long or looped");
	if (!d->len)
		return 0;
	/* Spec 2.7.4.2: device-readable buffers come first. */
	if (!writes && c->nr > c->nr_out)
		return virtq_bad(vq, "readable buffer after a writable one");
	if (!guest_mem_is_ram(vq->mem, d->addr, d->len))
		return virtq_bad(vq, "buffer outside guest RAM");
	/* nr <= *seen <= VIRTQ_MAX_CHAIN, so bufs[] has room; the sums stay
	 * below 2^42 (1024 buffers of < 2^32 bytes) and cannot overflow. */
	c->bufs[c->nr++] = (struct virtq_buf){
		.gpa = d->addr,
		.len = d->len,
		.device_writes = writes,
	};
	if (writes) {
		c->in_len += d->len;
	} else {
		c->out_len += d->len;
		c->nr_out++;
	}
	return 0;
}

/* The checks an indirect descriptor must pass (spec 2.7.5.3.1). The WRITE
 * flag of the indirect descriptor itself is ignored, as the spec asks. */
static int virtq_check_indirect(const struct virtq *vq,
				const struct virtq_desc *ind)
{
	if (!vq->indirect)
		return virtq_bad(vq, "indirect descriptor not negotiated");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return virtq_bad(vq, "indirect descriptor with NEXT");
	if (!ind->len || ind->len % 16 || ind->len / 16 > VIRTQ_MAX_CHAIN)
		return virtq_bad(vq, "bad indirect table length");
	if (!guest_mem_is_ram(vq->mem, ind->addr, ind->len))
		return virtq_bad(vq, "indirect table outside guest RAM");
	return 0;
}

/* Walk the indirect table ind names; it ends the chain. */
static int virtq_walk_indirect(const struct virtq *vq,
			       const struct virtq_desc *ind,
			       struct virtq_chain *c, unsigned *seen)
{
	uint32_t entries = ind->len / 16, i = 0, visited = 0;
	struct virtq_desc d;
	int ret = virtq_check_indirect(vq, ind);

	while (!ret) {
		/* More visits than entries means the table loops. */
		if (++visited > entries)
			return virtq_bad(vq, "indirect table loops");
		if (virtq_read_indirect(vq, ind->addr, i, &d))
			return virtq_bad(vq, "indirect table unreadable");
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_bad(vq, "nested indirect table");
		ret = virtq_add_buf(vq, c, &d, seen);
		if (ret || !(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= entries)
			return virtq_bad(vq, "indirect next out of range");
		i = d.next;
	}
	return ret;
}

/* Collect the chain starting at descriptor head (already < size): zero or
 * more direct descriptors, optionally ending in one indirect table. */
static int virtq_walk_chain(const struct virtq *vq, uint16_t head,
			    struct virtq_chain *c)
{
	unsigned seen = 0, direct = 0;
	struct virtq_desc d;
	uint16_t i = head;
	int ret;

	c->head = head;
	c->nr = c->nr_out = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		/* A chain without loops visits each descriptor at most once. */
		if (++direct > vq->size)
			return virtq_bad(vq, "descriptor chain loops");
		virtq_read_desc(vq, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_walk_indirect(vq, &d, c, &seen);
		ret = virtq_add_buf(vq, c, &d, &seen);
		if (ret || !(d.flags & VIRTQ_DESC_F_NEXT))
			return ret;
		if (d.next >= vq->size)
			return virtq_bad(vq, "next index out of range");
		i = d.next;
	}
}

/* The head of the next available chain, checked against the ring rules. */
static int virtq_next_head(const struct virtq *vq, uint16_t avail_idx,
			   uint16_t *head)
{
	const struct virtq_avail *avail = vq->avail;
	uint16_t slot = vq->last_avail & (vq->size - 1);

	/* Spec 2.7.13: the driver never has more than size outstanding. */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
		return virtq_bad(vq, "avail idx more than size ahead");
	*head = virtq_load16(&avail->ring[slot]);
	if (*head >= vq->size)
		return virtq_bad(vq, "head index out of range");
	return 0;
}

/*
 * The queue looks empty. With EVENT_IDX the driver notifies only when
 * avail->idx passes avail_event, so before the device may wait for a
 * notification the driver must be able to see avail_event == last_avail,
 * and the device must then look at avail->idx once more. Full barrier:
 * pairs with the driver's full barrier between publishing avail->idx and
 * reading avail_event; x86 lets a store pass a later load, and without it
 * both sides miss each other and wait forever (seen at queue depth 32).
 * True, with *avail_idx updated, if chains arrived meanwhile.
 */
static bool virtq_recheck_empty(struct virtq *vq, uint16_t *avail_idx)
{
	if (!vq->event_idx)
		return false; /* the driver notifies every time (no NO_NOTIFY) */
	virtq_store16(virtq_avail_event(vq), vq->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*avail_idx = virtq_load_avail_idx(vq);
	return *avail_idx != vq->last_avail;
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
	uint16_t avail_idx, head;
	int ret;

	if (vq->broken)
		return -EINVAL;
	if (!vq->enabled)
		return 0; /* nothing can be available on a disabled queue */
	avail_idx = virtq_load_avail_idx(vq);
	if (avail_idx == vq->last_avail && !virtq_recheck_empty(vq, &avail_idx))
		return 0;
	ret = virtq_next_head(vq, avail_idx, &head);
	if (!ret)
		ret = virtq_walk_chain(vq, head, chain);
	if (ret) {
		vq->broken = true;
		return ret;
	}
	vq->last_avail++;
	/* Keep the driver notifying us for what comes after this chain. No
	 * barrier needed here: the one that matters is taken before the pop
	 * that reports the queue empty (virtq_recheck_empty). */
	if (vq->event_idx)
		virtq_store16(virtq_avail_event(vq), vq->last_avail);
	return 1;
}

int virtq_push_many(struct virtq *vq, const uint16_t *heads,
		    const uint32_t *written, unsigned n)
{
	struct virtq_used *used = vq->used;
	uint16_t old = vq->used_idx, new = old + n;

	if (!vq->enabled || vq->broken || n > vq->size)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (heads[i] >= vq->size)
			return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct virtq_used_elem *e =
			&used->ring[(uint16_t)(old + i) & (vq->size - 1)];

		__atomic_store_n(&e->id, htole32(heads[i]), __ATOMIC_RELAXED);
		__atomic_store_n(&e->len, htole32(written[i]),
				 __ATOMIC_RELAXED);
	}
	/* Release: pairs with the driver's read barrier after it reads
	 * used->idx (spec 2.7.14), so it never sees the new index before
	 * the elements it covers, and sees all n at once. */
	__atomic_store_n(&used->idx, htole16(new), __ATOMIC_RELEASE);
	vq->used_idx = new;
	/* If used_idx ran half the index space past the last interrupt,
	 * old/new comparisons with it would wrap: force the next one. */
	if ((int16_t)(new - vq->signalled_used) < (uint16_t)(new - old))
		vq->signalled_valid = false;
	return 0;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	return virtq_push_many(vq, &head, &written, 1);
}

void virtq_unpop(struct virtq *vq, unsigned n)
{
	if (!vq->enabled || vq->broken)
		return;
	vq->last_avail -= (uint16_t)n;
	if (vq->event_idx)
		virtq_store16(virtq_avail_event(vq), vq->last_avail);
}

/* Spec 2.7.10: interrupt if used->idx moved from old past event. */
static bool virtq_need_event(uint16_t event, uint16_t new, uint16_t old)
{
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

bool virtq_should_notify(struct virtq *vq)
{
	const struct virtq_avail *avail = vq->avail;
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;

	if (!vq->enabled)
		return false;
	/* Full barrier: pairs with the driver's full barrier between writing
	 * flags/used_event and re-reading used->idx. Either it sees our new
	 * used->idx, or we see its request for an interrupt; without it the
	 * store of used->idx could pass this load and both sides sleep. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (valid && new == old)
		return false; /* nothing pushed since the last check */
	if (!vq->event_idx)
		return !(virtq_load16(&avail->flags) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* The first check after enable has no old value to compare. */
	return !valid ||
	       virtq_need_event(virtq_load16(virtq_used_event(vq)), new, old);
}

void virtq_set_notify(struct virtq *vq, bool enable)
{
	struct virtq_used *used = vq->used;

	if (!vq->enabled)
		return;
	/* With EVENT_IDX there is nothing to switch off: the driver ignores
	 * used->flags, and avail_event (moved on by virtq_pop) already holds
	 * it to one notification per batch the device has caught up with. */
	if (!vq->event_idx)
		virtq_store16(&used->flags,
			      enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
	else if (enable)
		virtq_store16(virtq_avail_event(vq), vq->last_avail);
	/* Full barrier: pairs with the driver's full barrier between
	 * publishing avail->idx and reading used->flags/avail_event. Either
	 * it sees notifications on and notifies, or the caller's
	 * virtq_has_avail() after this sees its new buffers. */
	if (enable)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_has_avail(struct virtq *vq)
{
	if (!vq->enabled || vq->broken)
		return false;
	return virtq_load_avail_idx(vq) != vq->last_avail;
}

/* Copy len bytes from the chain's readable buffers into dst, or from src
 * into its writable ones (dst NULL), starting off bytes in. The buffers were
 * checked at pop time, but the accessors check again: a caller's chain is
 * not trusted to be one that virtq_pop() filled. */
static long virtq_chain_copy(const struct virtq *vq,
			     const struct virtq_chain *c, uint64_t off,
			     void *dst, const void *src, size_t len)
{
	unsigned i = dst ? 0 : c->nr_out, end = dst ? c->nr_out : c->nr;
	size_t done = 0, n;
	int ret;

	if (c->nr > VIRTQ_MAX_CHAIN || c->nr_out > c->nr)
		return -EFAULT;
	for (; i < end && done < len; i++) {
		const struct virtq_buf *b = &c->bufs[i];

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off < len - done ? b->len - off : len - done;
		if (dst)
			ret = guest_mem_read(vq->mem, b->gpa + off,
					     (char *)dst + done, n);
		else
			ret = guest_mem_write(vq->mem, b->gpa + off,
					      (const char *)src + done, n);
		if (ret)
			return ret;
		done += n;
		off = 0;
	}
	/* done <= 1024 buffers of < 2^32 bytes each: it fits in a long. */
	return (long)done;
}

long virtq_chain_read(const struct virtq *vq, const struct virtq_chain *c,
		      uint64_t off, void *dst, size_t len)
{
	return dst ? virtq_chain_copy(vq, c, off, dst, NULL, len) : -EFAULT;
}

long virtq_chain_write(const struct virtq *vq, const struct virtq_chain *c,
		       uint64_t off, const void *src, size_t len)
{
	return virtq_chain_copy(vq, c, off, NULL, src, len);
}
