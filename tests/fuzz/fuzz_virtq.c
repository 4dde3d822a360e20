/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a whole guest, the rings and everything
 * they point at. The device side pops, copies and pushes whatever it finds;
 * ASan catches any access outside the two fake RAM regions, and the checks
 * below trap if a popped chain breaks a promise virtq_pop() makes.
 *
 * Input layout (little endian):
 *   0      features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   1      log2 of the queue size (low 4 bits; 2^15 at most)
 *   2..7   desc, avail and used ring gpas, 16 bits each
 *   8..9   starting ring index (last_avail and used_idx, to cross 65535)
 *   10..11 copy offset for virtq_chain_read/write
 *   12..   guest RAM: region 0 (64 KiB at gpa 0), then region 1
 *          (4 KiB at gpa 1 MiB); what the input does not cover is zero
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "virtio/virtqueue.h"

#define HDR	 12
#define RAM0	 (64u << 10)
#define RAM1_GPA (1u << 20)
#define RAM1	 (4u << 10)
#define MAX_POPS 64

static uint8_t *ram0, *ram1;
static struct virtq_chain chain;
static uint8_t scratch[8192];

static uint16_t get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

/* The promises of a successful virtq_pop(): trap if one is broken. */
static void check_chain(const struct virtq *vq, const struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;

	if (c->head >= vq->size || c->nr > VIRTQ_MAX_CHAIN || c->nr_out > c->nr)
		__builtin_trap();
	for (unsigned i = 0; i < c->nr; i++) {
		const struct virtq_buf *b = &c->bufs[i];

		if (b->device_writes != (i >= c->nr_out) ||
		    !guest_mem_is_ram(vq->mem, b->gpa, b->len))
			__builtin_trap();
		*(b->device_writes ? &in : &out) += b->len;
	}
	if (in != c->in_len || out != c->out_len)
		__builtin_trap();
}

/* Do what a device does with a chain: read it, fill it, hand it back. */
static void serve_chain(struct virtq *vq, uint64_t off)
{
	long r, w;

	check_chain(vq, &chain);
	r = virtq_chain_read(vq, &chain, off, scratch, sizeof(scratch));
	w = virtq_chain_write(vq, &chain, off, scratch, sizeof(scratch));
	if (r < 0 || w < 0 || (uint64_t)w > chain.in_len)
		__builtin_trap(); /* every buffer was checked: no -EFAULT */
	if (virtq_push(vq, chain.head, (uint32_t)w))
		__builtin_trap();
	(void)virtq_should_notify(vq);
}

static void run_queue(struct virtq *vq, uint64_t off)
{
	for (unsigned i = 0; i < MAX_POPS; i++) {
		int ret = virtq_pop(vq, &chain);

		if (ret < 0) {
			if (!vq->broken || virtq_pop(vq, &chain) != -EINVAL ||
			    virtq_push(vq, 0, 0) != -EINVAL)
				__builtin_trap();
			return;
		}
		if (ret == 0) {
			/* Re-enable and close the race, as a device does;
			 * the guest may have laid used over avail, so a
			 * second look may well find something. */
			virtq_set_notify(vq, true);
			if (!virtq_has_avail(vq))
				return;
			continue;
		}
		virtq_set_notify(vq, i & 1);
		serve_chain(vq, off);
	}
}

static void load_ram(const uint8_t *data, size_t size)
{
	size_t n0 = size < RAM0 ? size : RAM0;
	size_t n1 = size - n0 < RAM1 ? size - n0 : RAM1;

	memset(ram0, 0, RAM0);
	memset(ram1, 0, RAM1);
	memcpy(ram0, data, n0);
	memcpy(ram1, data + n0, n1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem = {0};
	struct virtq vq;

	if (size < HDR)
		return 0;
	if (!ram0) {
		/* Exactly sized heap blocks: one byte past either is ASan's. */
		ram0 = malloc(RAM0);
		ram1 = malloc(RAM1);
		if (!ram0 || !ram1)
			abort();
	}
	if (guest_mem_add_region(&mem, 0, ram0, RAM0) ||
	    guest_mem_add_region(&mem, RAM1_GPA, ram1, RAM1))
		abort();
	load_ram(data + HDR, size - HDR);
	if (virtq_enable(&vq, &mem, 1u << (data[1] & 15), get16(data + 2),
			 get16(data + 4), get16(data + 6), data[0] & 1,
			 data[0] & 2))
		return 0;
	vq.last_avail = vq.used_idx = get16(data + 8);
	run_queue(&vq, get16(data + 10));
	virtq_reset(&vq);
	return 0;
}
