/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, driver side (virtio 1.2 section 2.7). The rings are in
 * guest RAM, so adding and reaping requests costs no exits; only the
 * notification (a 16-bit MMIO write) does, and the device can suppress it
 * through VIRTQ_USED_F_NO_NOTIFY or, with EVENT_IDX, avail_event.
 *
 * What the device writes (used ring ids and lengths) is checked before use:
 * a bad id would otherwise corrupt the free list.
 */
#include "virtio.h"
#include "irq.h"

#define PAGE_SIZE    4096
#define IRQ_SLICE_US 10000 /* longest halt between timeout checks */

/* used_event (driver -> device) follows the avail ring; avail_event
 * (device -> driver) follows the used ring (spec 2.7.10). */
static volatile uint16_t *used_event(struct virtq *vq)
{
	return &vq->avail->ring[vq->size];
}

static volatile uint16_t *avail_event(struct virtq *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->size];
}

/* Spec 2.7.10: notify if new_idx passed event_idx since old_idx. */
static bool need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) <
	       (uint16_t)(new_idx - old_idx);
}

/* Where the device should next interrupt: right away in irq mode, else
 * half the index space ahead, so that polling takes no interrupts. */
static void update_used_event(struct virtq *vq)
{
	if (vq->event_idx)
		*used_event(vq) = vq->irq ? vq->last_used
					  : (uint16_t)(vq->last_used + 0x7fff);
}

int virtq_init(struct virtq *vq, struct virtio_dev *vd, unsigned index,
	       unsigned size)
{
	*vq = (struct virtq){
		.vdev = vd,
		.index = (uint16_t)index,
		.size = (uint16_t)size,
		.event_idx = virtio_has(vd, VIRTIO_F_EVENT_IDX),
		.indirect = virtio_has(vd, VIRTIO_F_INDIRECT_DESC),
		.irq = vd->msix,
		.num_free = (uint16_t)size,
	};
	/* Alignment: 16 for descriptors, 2 for avail, 4 for used (spec
	 * 2.7); each on a page of its own, as a VMM must allow. */
	vq->desc = dma_alloc(size * sizeof(struct virtq_desc), PAGE_SIZE);
	vq->avail = dma_alloc(6 + 2 * size, PAGE_SIZE);
	vq->used = dma_alloc(6 + 8 * size, PAGE_SIZE);
	vq->token = dma_alloc(size * sizeof(void *), 8);
	vq->wlen = dma_alloc(size * sizeof(uint32_t), 4);
	vq->ndesc = dma_alloc(size * sizeof(uint16_t), 2);
	if (vq->indirect)
		vq->ind = dma_alloc(size * VIRTQ_MAX_INDIRECT *
					    sizeof(struct virtq_desc),
				    16);
	if (!vq->desc || !vq->avail || !vq->used || !vq->token || !vq->wlen ||
	    !vq->ndesc || (vq->indirect && !vq->ind))
		return -ENOMEM;
	for (unsigned i = 0; i + 1 < size; i++)
		vq->desc[i].next = (uint16_t)(i + 1);
	/* Spec 2.7.7.2: flags must be 0 with EVENT_IDX (used_event does
	 * the suppressing), else NO_INTERRUPT asks for none when polling. */
	vq->avail->flags =
		vq->irq || vq->event_idx ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
	update_used_event(vq);
	return 0;
}

unsigned virtq_num_free(const struct virtq *vq)
{
	return vq->num_free;
}

/* Device-readable buffers first (spec 2.7.4.2); no empty ones. */
static int check_bufs(struct virtq *vq, const struct virtq_buf *bufs,
		      unsigned n)
{
	bool writes = false;

	if (n == 0 || n > vq->size)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!bufs[i].len || (writes && !bufs[i].device_writes)) {
			printf("%s: queue %u: bad request (buffer %u of %u)\n",
			       vq->vdev->name, vq->index, i, n);
			return -EINVAL;
		}
		writes = bufs[i].device_writes;
	}
	return 0;
}

static void fill_desc(volatile struct virtq_desc *d, const struct virtq_buf *b,
		      bool more)
{
	d->addr = virt_to_phys(b->addr);
	d->len = b->len;
	d->flags = (b->device_writes ? VIRTQ_DESC_F_WRITE : 0) |
		   (more ? VIRTQ_DESC_F_NEXT : 0);
}

/* One ring descriptor pointing at a table of n (spec 2.7.5.3). */
static uint16_t add_indirect(struct virtq *vq, const struct virtq_buf *bufs,
			     unsigned n)
{
	uint16_t head = vq->free_head;
	struct virtq_desc *t = &vq->ind[head * VIRTQ_MAX_INDIRECT];

	for (unsigned i = 0; i < n; i++) {
		fill_desc(&t[i], &bufs[i], i + 1 < n);
		t[i].next = (uint16_t)(i + 1);
	}
	vq->desc[head].addr = virt_to_phys(t);
	vq->desc[head].len = n * sizeof(*t);
	vq->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
	vq->free_head = vq->desc[head].next;
	vq->num_free--;
	vq->ndesc[head] = 1;
	return head;
}

/* A chain of n ring descriptors taken off the free list, which is linked
 * through next, so the chain's next fields are already right. */
static uint16_t add_direct(struct virtq *vq, const struct virtq_buf *bufs,
			   unsigned n)
{
	uint16_t head = vq->free_head, i = head;

	for (unsigned k = 0; k < n; k++) {
		fill_desc(&vq->desc[i], &bufs[k], k + 1 < n);
		i = vq->desc[i].next;
	}
	vq->free_head = i;
	vq->num_free -= (uint16_t)n;
	vq->ndesc[head] = (uint16_t)n;
	return head;
}

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n,
	      void *token)
{
	bool ind = vq->indirect && n > 1 && n <= VIRTQ_MAX_INDIRECT;
	uint32_t wlen = 0;
	uint16_t head;
	int err = check_bufs(vq, bufs, n);

	if (err)
		return err;
	if (!token)
		return -EINVAL;
	if (vq->num_free < (ind ? 1 : n))
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++)
		if (bufs[i].device_writes)
			wlen += bufs[i].len;
	head = ind ? add_indirect(vq, bufs, n) : add_direct(vq, bufs, n);
	vq->token[head] = token;
	vq->wlen[head] = wlen;
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	vq->avail_idx++;
	vq->added++;
	return 0;
}

void virtq_kick(struct virtq *vq)
{
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;
	bool notify;

	if (old == new)
		return;
	/* Descriptors and ring entries before the index that publishes
	 * them (spec 2.7.13.3.1). */
	wmb();
	vq->avail->idx = new;
	/* The index store before the suppression reads: otherwise the
	 * device could go idle unnoticed between the two (spec 2.7.13.4). */
	mb();
	if (vq->event_idx)
		notify = need_event(*avail_event(vq), new, old);
	else
		notify = !(vq->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	vq->kicked_idx = new;
	vq->kicks++;
	if (notify) {
		writew(vq->index, vq->notify);
		vq->notifies++;
	}
}

/* A used element the device must not have produced: stop using the
 * queue rather than corrupt the free list. */
static void *bad_used(struct virtq *vq, uint32_t id, const char *why)
{
	printf("%s: queue %u: used ring entry %u has id %u: %s\n",
	       vq->vdev->name, vq->index, vq->last_used, id, why);
	vq->broken = true;
	vq->errors++;
	return NULL;
}

static void free_chain(struct virtq *vq, uint16_t head)
{
	uint16_t last = head;

	for (unsigned k = 1; k < vq->ndesc[head]; k++)
		last = vq->desc[last].next;
	vq->desc[last].next = vq->free_head;
	vq->free_head = head;
	vq->num_free += vq->ndesc[head];
	vq->ndesc[head] = 0;
}

void *virtq_get(struct virtq *vq, uint32_t *len)
{
	volatile struct virtq_used_elem *e;
	uint32_t id, n;
	void *token;

	if (vq->broken || vq->used->idx == vq->last_used)
		return NULL;
	/* The index before the entry it covers (spec 2.7.14). */
	rmb();
	e = &vq->used->ring[vq->last_used & (vq->size - 1)];
	id = e->id;
	n = e->len;
	if (id >= vq->size)
		return bad_used(vq, id, "out of range");
	if (!vq->ndesc[id])
		return bad_used(vq, id, "not in flight");
	if (n > vq->wlen[id]) {
		printf("%s: queue %u: used length %u > %u writable bytes\n",
		       vq->vdev->name, vq->index, n, vq->wlen[id]);
		vq->errors++;
	}
	token = vq->token[id];
	vq->token[id] = NULL;
	free_chain(vq, (uint16_t)id);
	vq->last_used++;
	vq->completed++;
	update_used_event(vq);
	if (len)
		*len = n;
	return token;
}

static void report_timeout(struct virtq *vq, uint64_t timeout_us)
{
	struct virtio_dev *vd = vq->vdev;

	printf("%s: queue %u: nothing used in %lu ms (%u in flight, avail "
	       "idx %u, used idx %u, status 0x%x)\n",
	       vd->name, vq->index, timeout_us / 1000, virtq_in_flight(vq),
	       vq->avail_idx, vq->used->idx, virtio_status(vd));
	virtio_needs_reset(vd);
}

/* Halt until an interrupt (or the end of a slice), unless the device
 * used a buffer after the last check. Interrupts are taken only inside
 * the halt, so one that arrives before it stays pending and ends it at
 * once: no wake-up is lost. */
static void wait_irq(struct virtq *vq, uint64_t end)
{
	int64_t left = (int64_t)(end - rdtsc());
	uint64_t us = left > 0 ? (uint64_t)left * 1000 / tsc_khz() : 0;

	mb(); /* used_event store (in virtq_get) before the idx load */
	if (vq->used->idx != vq->last_used)
		return;
	irq_wait(us < IRQ_SLICE_US ? us + 1 : IRQ_SLICE_US);
}

void *virtq_wait_until(struct virtq *vq, uint32_t *len, uint64_t end)
{
	void *token;

	for (;;) {
		token = virtq_get(vq, len);
		if (token || vq->broken)
			return token;
		if ((int64_t)(rdtsc() - end) >= 0)
			return NULL;
		if (vq->irq)
			wait_irq(vq, end);
		else
			cpu_relax();
	}
}

void *virtq_wait(struct virtq *vq, uint32_t *len, uint64_t timeout_us)
{
	void *token = virtq_wait_until(vq, len, tsc_deadline(timeout_us));

	if (!token && !vq->broken)
		report_timeout(vq, timeout_us);
	return token;
}
