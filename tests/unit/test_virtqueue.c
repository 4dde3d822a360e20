/* SPDX-License-Identifier: MIT */
/*
 * The virtqueue library against a fake guest: 1 MiB of calloc'd RAM at
 * gpa 0, and helpers that write descriptors and rings byte by byte, little
 * endian, the way a driver would. The second half is a malicious driver.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/test_util.h"
#include "mem/guest_mem.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

#define RAM_SIZE  (1u << 20)
#define DESC_GPA  0x1000ULL /* room for 2048 descriptors */
#define AVAIL_GPA 0xa000ULL
#define USED_GPA  0xc000ULL
#define TABLE_GPA 0x20000ULL /* indirect tables */
#define BUF_GPA	  0x40000ULL /* buffers */

/* Driver-side flag values, written out here as a driver would have them. */
#define F_NEXT	       1
#define F_WRITE	       2
#define F_INDIRECT     4
#define F_NO_INTERRUPT 1
#define F_NO_NOTIFY    1

struct drv {
	struct guest_mem mem;
	uint8_t *ram;
	struct virtq vq;
	uint16_t size;
	uint16_t avail_idx; /* the driver's next avail->idx */
	struct virtq_chain chain;
};

static int setup(void **state)
{
	struct drv *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	d->ram = calloc(1, RAM_SIZE);
	if (!d->ram ||
	    guest_mem_add_region(&d->mem, 0, d->ram, RAM_SIZE) != 0) {
		free(d->ram);
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct drv *d = *state;

	free(d->ram);
	free(d);
	return 0;
}

static void put16(struct drv *d, uint64_t gpa, uint16_t v)
{
	d->ram[gpa] = v & 0xff;
	d->ram[gpa + 1] = v >> 8;
}

static void put32(struct drv *d, uint64_t gpa, uint32_t v)
{
	put16(d, gpa, v & 0xffff);
	put16(d, gpa + 2, v >> 16);
}

static void put64(struct drv *d, uint64_t gpa, uint64_t v)
{
	put32(d, gpa, v & 0xffffffff);
	put32(d, gpa + 4, v >> 32);
}

static uint16_t get16(const struct drv *d, uint64_t gpa)
{
	return d->ram[gpa] | d->ram[gpa + 1] << 8;
}

static uint32_t get32(const struct drv *d, uint64_t gpa)
{
	return get16(d, gpa) | (uint32_t)get16(d, gpa + 2) << 16;
}

/* Descriptor i of the table at gpa table. */
static void set_desc_at(struct drv *d, uint64_t table, unsigned i,
			uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	uint64_t p = table + 16 * (uint64_t)i;

	put64(d, p, addr);
	put32(d, p + 8, len);
	put16(d, p + 12, flags);
	put16(d, p + 14, next);
}

static void set_desc(struct drv *d, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	set_desc_at(d, DESC_GPA, i, addr, len, flags, next);
}

static void set_avail_idx(struct drv *d, uint16_t idx)
{
	d->avail_idx = idx;
	put16(d, AVAIL_GPA + 2, idx);
}

/* Make the chain at head available: ring slot first, then the index. */
static void publish(struct drv *d, uint16_t head)
{
	put16(d, AVAIL_GPA + 4 + 2 * (d->avail_idx % d->size), head);
	set_avail_idx(d, d->avail_idx + 1);
}

static uint16_t used_idx(const struct drv *d)
{
	return get16(d, USED_GPA + 2);
}

static uint64_t used_event_gpa(const struct drv *d)
{
	return AVAIL_GPA + 4 + 2 * (uint64_t)d->size;
}

static uint64_t avail_event_gpa(const struct drv *d)
{
	return USED_GPA + 4 + 8 * (uint64_t)d->size;
}

/* The driver sets its rings up afresh: indices back to 0. */
static void driver_reset(struct drv *d)
{
	memset(d->ram + AVAIL_GPA, 0, USED_GPA - AVAIL_GPA);
	memset(d->ram + USED_GPA, 0, TABLE_GPA - USED_GPA);
	d->avail_idx = 0;
}

static void enable_q(struct drv *d, uint16_t size, bool indirect,
		     bool event_idx)
{
	d->size = size;
	assert_int_equal(virtq_enable(&d->vq, &d->mem, size, DESC_GPA,
				      AVAIL_GPA, USED_GPA, indirect, event_idx),
			 0);
}

static void enable(struct drv *d, uint16_t size)
{
	enable_q(d, size, true, false);
}

static void pop_ok(struct drv *d)
{
	assert_int_equal(virtq_pop(&d->vq, &d->chain), 1);
}

/* A malformed queue: -EINVAL for the reason given (the debug log line),
 * broken, and it stays that way. */
static void pop_einval(struct drv *d, const char *why)
{
	unsigned lines;
	int ret;

	capture_begin();
	log_threshold = LOG_DEBUG;
	ret = virtq_pop(&d->vq, &d->chain);
	log_threshold = LOG_WARN;
	lines = capture_end();
	assert_int_equal(ret, -EINVAL);
	assert_int_equal(lines, 1);
	assert_non_null(strstr(capture_last, why));
	assert_true(d->vq.broken);
	assert_int_equal(virtq_pop(&d->vq, &d->chain), -EINVAL);
	assert_false(virtq_has_avail(&d->vq));
}

static void assert_buf(const struct virtq_buf *b, uint64_t gpa, uint32_t len,
		       bool device_writes)
{
	assert_int_equal(b->gpa, gpa);
	assert_int_equal(b->len, len);
	assert_int_equal(b->device_writes, device_writes);
}

/* ---- Happy paths ---- */

static void test_empty_queue(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	assert_false(virtq_has_avail(&d->vq));
	assert_int_equal(virtq_pop(&d->vq, &d->chain), 0);
	assert_false(d->vq.broken);
}

static void test_single_buffer(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 3, BUF_GPA, 100, 0, 0);
	publish(d, 3);
	assert_true(virtq_has_avail(&d->vq));
	pop_ok(d);
	assert_int_equal(d->chain.head, 3);
	assert_int_equal(d->chain.nr, 1);
	assert_int_equal(d->chain.nr_out, 1);
	assert_int_equal(d->chain.out_len, 100);
	assert_int_equal(d->chain.in_len, 0);
	assert_buf(&d->chain.bufs[0], BUF_GPA, 100, false);
	assert_false(virtq_has_avail(&d->vq));
	assert_int_equal(virtq_pop(&d->vq, &d->chain), 0);
}

static void test_chain_readable_then_writable(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	/* Out of order in the table on purpose: 5 -> 1 -> 7 -> 0. */
	set_desc(d, 5, BUF_GPA, 16, F_NEXT, 1);
	set_desc(d, 1, BUF_GPA + 0x100, 512, F_NEXT, 7);
	set_desc(d, 7, BUF_GPA + 0x1000, 1, F_NEXT | F_WRITE, 0);
	set_desc(d, 0, BUF_GPA + 0x2000, 4096, F_WRITE, 0);
	publish(d, 5);
	pop_ok(d);
	assert_int_equal(d->chain.head, 5);
	assert_int_equal(d->chain.nr, 4);
	assert_int_equal(d->chain.nr_out, 2);
	assert_int_equal(d->chain.out_len, 528);
	assert_int_equal(d->chain.in_len, 4097);
	assert_buf(&d->chain.bufs[0], BUF_GPA, 16, false);
	assert_buf(&d->chain.bufs[1], BUF_GPA + 0x100, 512, false);
	assert_buf(&d->chain.bufs[2], BUF_GPA + 0x1000, 1, true);
	assert_buf(&d->chain.bufs[3], BUF_GPA + 0x2000, 4096, true);
}

static void test_indirect_chain(void **state)
{
	struct drv *d = *state;

	enable(d, 4);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA, 10, F_NEXT, 2);
	set_desc_at(d, TABLE_GPA, 2, BUF_GPA + 0x10, 20, F_NEXT | F_WRITE, 1);
	set_desc_at(d, TABLE_GPA, 1, BUF_GPA + 0x20, 30, F_WRITE, 0);
	/* The WRITE flag on the indirect descriptor itself is ignored. */
	set_desc(d, 2, TABLE_GPA, 3 * 16, F_INDIRECT | F_WRITE, 0);
	publish(d, 2);
	pop_ok(d);
	assert_int_equal(d->chain.head, 2);
	assert_int_equal(d->chain.nr, 3);
	assert_int_equal(d->chain.nr_out, 1);
	assert_int_equal(d->chain.out_len, 10);
	assert_int_equal(d->chain.in_len, 50);
	assert_buf(&d->chain.bufs[0], BUF_GPA, 10, false);
	assert_buf(&d->chain.bufs[1], BUF_GPA + 0x10, 20, true);
	assert_buf(&d->chain.bufs[2], BUF_GPA + 0x20, 30, true);
}

static void test_mixed_direct_and_indirect(void **state)
{
	struct drv *d = *state;

	enable(d, 4);
	/* A direct header, then an indirect table ending the chain. */
	set_desc(d, 0, BUF_GPA, 8, F_NEXT, 3);
	set_desc(d, 3, TABLE_GPA, 2 * 16, F_INDIRECT, 0);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA + 0x100, 64, F_NEXT, 1);
	set_desc_at(d, TABLE_GPA, 1, BUF_GPA + 0x200, 1, F_WRITE, 0);
	publish(d, 0);
	pop_ok(d);
	assert_int_equal(d->chain.nr, 3);
	assert_int_equal(d->chain.nr_out, 2);
	assert_int_equal(d->chain.out_len, 72);
	assert_int_equal(d->chain.in_len, 1);
	assert_buf(&d->chain.bufs[2], BUF_GPA + 0x200, 1, true);
}

static void test_full_ring(void **state)
{
	struct drv *d = *state;

	enable(d, 4);
	for (unsigned i = 0; i < 4; i++) {
		set_desc(d, i, BUF_GPA + i, 1, 0, 0);
		publish(d, 3 - i);
	}
	for (unsigned i = 0; i < 4; i++) {
		pop_ok(d);
		assert_int_equal(d->chain.head, 3 - i);
	}
	assert_int_equal(virtq_pop(&d->vq, &d->chain), 0);
}

/* The 16-bit indices wrap over 65535 many times on a 4-entry queue. */
static void test_index_wrap_around(void **state)
{
	struct drv *d = *state;

	enable(d, 4);
	for (unsigned i = 0; i < 65536 * 2 + 10; i++) {
		uint16_t head = i % 4;

		set_desc(d, head, BUF_GPA + head * 0x100, 0x10 + head, F_WRITE,
			 0);
		publish(d, head);
		pop_ok(d);
		assert_int_equal(d->chain.head, head);
		assert_int_equal(d->chain.in_len, 0x10 + head);
		assert_int_equal(virtq_push(&d->vq, head, i & 0xff), 0);
		assert_int_equal(used_idx(d), (uint16_t)(i + 1));
		assert_int_equal(get32(d, USED_GPA + 4 + 8 * head), head);
	}
	assert_int_equal(d->vq.last_avail, (uint16_t)(65536 * 2 + 10));
	assert_int_equal(virtq_pop(&d->vq, &d->chain), 0);
}

static void test_push_used_ring(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(d, i, BUF_GPA, 4, F_WRITE, 0);
		publish(d, i);
		pop_ok(d);
	}
	/* Completed out of order, as a device may. */
	assert_int_equal(virtq_push(&d->vq, 2, 4), 0);
	assert_int_equal(virtq_push(&d->vq, 0, 0), 0);
	assert_int_equal(virtq_push(&d->vq, 1, 3), 0);
	assert_int_equal(used_idx(d), 3);
	assert_int_equal(get32(d, USED_GPA + 4), 2);
	assert_int_equal(get32(d, USED_GPA + 8), 4);
	assert_int_equal(get32(d, USED_GPA + 12), 0);
	assert_int_equal(get32(d, USED_GPA + 16), 0);
	assert_int_equal(get32(d, USED_GPA + 20), 1);
	assert_int_equal(get32(d, USED_GPA + 24), 3);
}

/* A merged receive: several used entries published with one index
 * update, all or nothing. */
static void test_push_many(void **state)
{
	struct drv *d = *state;
	uint16_t heads[3] = {1, 0, 2}, bad[2] = {0, 8};
	uint32_t lens[3] = {10, 20, 30};

	enable(d, 8);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(d, i, BUF_GPA, 64, F_WRITE, 0);
		publish(d, i);
		pop_ok(d);
	}
	assert_int_equal(virtq_push_many(&d->vq, bad, lens, 2), -EINVAL);
	assert_int_equal(used_idx(d), 0);
	assert_int_equal(get32(d, USED_GPA + 4), 0);
	assert_int_equal(virtq_push_many(&d->vq, heads, lens, 9), -EINVAL);
	assert_int_equal(virtq_push_many(&d->vq, heads, lens, 3), 0);
	assert_int_equal(used_idx(d), 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(get32(d, USED_GPA + 4 + 8 * i), heads[i]);
		assert_int_equal(get32(d, USED_GPA + 8 + 8 * i), lens[i]);
	}
}

/* A device that cannot use what it popped gives it back: the same chains
 * come out again, and with EVENT_IDX avail_event follows. */
static void test_unpop(void **state)
{
	struct drv *d = *state;

	enable_q(d, 8, false, true);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(d, i, BUF_GPA + 64 * i, 64, F_WRITE, 0);
		publish(d, i);
	}
	pop_ok(d);
	pop_ok(d);
	assert_int_equal(get16(d, avail_event_gpa(d)), 2);
	virtq_unpop(&d->vq, 2);
	assert_int_equal(get16(d, avail_event_gpa(d)), 0);
	assert_true(virtq_has_avail(&d->vq));
	for (unsigned i = 0; i < 3; i++) {
		pop_ok(d);
		assert_int_equal(d->chain.head, i);
	}
	assert_int_equal(virtq_pop(&d->vq, &d->chain), 0);
}

static void fill_chain_for_copy(struct drv *d)
{
	static const uint32_t lens[] = {5, 7, 9, 4, 6};

	enable(d, 8);
	for (unsigned i = 0; i < 5; i++) {
		uint16_t flags = (i < 4 ? F_NEXT : 0) | (i >= 3 ? F_WRITE : 0);

		set_desc(d, i, BUF_GPA + i * 0x100, lens[i], flags, i + 1);
	}
	/* Readable bytes 0..20 spread over three buffers. */
	for (unsigned i = 0, n = 0; i < 3; i++)
		for (unsigned j = 0; j < lens[i]; j++)
			d->ram[BUF_GPA + i * 0x100 + j] = n++;
	publish(d, 0);
	pop_ok(d);
	assert_int_equal(d->chain.nr_out, 3);
	assert_int_equal(d->chain.out_len, 21);
	assert_int_equal(d->chain.in_len, 10);
}

static void test_chain_read_spanning(void **state)
{
	struct drv *d = *state;
	uint8_t buf[64];

	fill_chain_for_copy(d);
	/* From offset 3 across all three readable buffers. */
	assert_int_equal(virtq_chain_read(&d->vq, &d->chain, 3, buf, 15), 15);
	for (unsigned i = 0; i < 15; i++)
		assert_int_equal(buf[i], 3 + i);
	/* Asking for more gets what there is; past the end gets nothing. */
	assert_int_equal(virtq_chain_read(&d->vq, &d->chain, 0, buf, 64), 21);
	assert_int_equal(buf[20], 20);
	assert_int_equal(virtq_chain_read(&d->vq, &d->chain, 12, buf, 64), 9);
	assert_int_equal(buf[0], 12);
	assert_int_equal(virtq_chain_read(&d->vq, &d->chain, 21, buf, 64), 0);
	assert_int_equal(
		virtq_chain_read(&d->vq, &d->chain, UINT64_MAX, buf, 64), 0);
}

static void test_chain_write_spanning(void **state)
{
	struct drv *d = *state;
	const uint8_t src[16] = "ABCDEFGHIJKLMNO";
	const uint64_t w0 = BUF_GPA + 3 * 0x100, w1 = BUF_GPA + 4 * 0x100;

	fill_chain_for_copy(d);
	/* Offset 2 counts writable buffers only: 2 bytes in w0, 4 in w1. */
	assert_int_equal(virtq_chain_write(&d->vq, &d->chain, 2, src, 6), 6);
	assert_memory_equal(d->ram + w0 + 2, "AB", 2);
	assert_memory_equal(d->ram + w1, "CDEF", 4);
	assert_int_equal(d->ram[w1 + 4], 0);
	/* Never past the writable buffers, never into the readable ones. */
	assert_int_equal(virtq_chain_write(&d->vq, &d->chain, 0, src, 16), 10);
	assert_memory_equal(d->ram + w0, "ABCD", 4);
	assert_memory_equal(d->ram + w1, "EFGHIJ", 6);
	assert_int_equal(d->ram[w1 + 6], 0);
	assert_int_equal(d->ram[BUF_GPA + 0x200 + 8], 20);
	assert_int_equal(virtq_chain_write(&d->vq, &d->chain, 10, src, 16), 0);
}

/* A chain that virtq_pop did not fill is still checked on copy. */
static void test_chain_copy_forged(void **state)
{
	struct drv *d = *state;
	uint8_t buf[8] = {0};

	enable(d, 8);
	d->chain.nr = 2;
	d->chain.nr_out = 1;
	d->chain.bufs[0] = (struct virtq_buf){RAM_SIZE - 4, 8, false};
	d->chain.bufs[1] = (struct virtq_buf){UINT64_MAX - 2, 8, true};
	assert_int_equal(virtq_chain_read(&d->vq, &d->chain, 0, buf, 8),
			 -EFAULT);
	assert_int_equal(virtq_chain_write(&d->vq, &d->chain, 0, buf, 8),
			 -EFAULT);
	d->chain.nr_out = 3;
	assert_int_equal(virtq_chain_read(&d->vq, &d->chain, 0, buf, 8),
			 -EFAULT);
}

/* Pop and complete one single-buffer chain at head 0. */
static void round_trip(struct drv *d)
{
	set_desc(d, 0, BUF_GPA, 8, F_WRITE, 0);
	publish(d, 0);
	pop_ok(d);
	assert_int_equal(virtq_push(&d->vq, 0, 8), 0);
}

static void test_notify_no_event_idx(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	round_trip(d);
	assert_true(virtq_should_notify(&d->vq));
	/* Nothing new since: no interrupt. */
	assert_false(virtq_should_notify(&d->vq));
	put16(d, AVAIL_GPA, F_NO_INTERRUPT);
	round_trip(d);
	assert_false(virtq_should_notify(&d->vq));
	put16(d, AVAIL_GPA, 0);
	round_trip(d);
	assert_true(virtq_should_notify(&d->vq));
	/* used_event means nothing without EVENT_IDX. */
	put16(d, used_event_gpa(d), 100);
	round_trip(d);
	assert_true(virtq_should_notify(&d->vq));
}

static void test_notify_event_idx(void **state)
{
	struct drv *d = *state;

	enable_q(d, 8, false, true);
	/* NO_INTERRUPT means nothing with EVENT_IDX; the first always goes. */
	put16(d, AVAIL_GPA, F_NO_INTERRUPT);
	put16(d, used_event_gpa(d), 100);
	round_trip(d);
	assert_true(virtq_should_notify(&d->vq));
	round_trip(d); /* used idx 2, the driver waits for 101 */
	assert_false(virtq_should_notify(&d->vq));
	put16(d, used_event_gpa(d), 2); /* interrupt once idx passes 2 */
	assert_false(virtq_should_notify(&d->vq));
	round_trip(d); /* 3 */
	assert_true(virtq_should_notify(&d->vq));
	round_trip(d); /* 4 */
	assert_false(virtq_should_notify(&d->vq));
	put16(d, used_event_gpa(d), 4);
	round_trip(d); /* 5 */
	round_trip(d); /* 6: crossed 4 -> 5 since the last check */
	assert_true(virtq_should_notify(&d->vq));
	assert_false(virtq_should_notify(&d->vq));
}

/* Half the index space pushed without a check: the next check must not
 * compare across the wrap, it must notify. */
static void test_notify_event_idx_long_silence(void **state)
{
	struct drv *d = *state;

	enable_q(d, 8, false, true);
	round_trip(d);
	assert_true(virtq_should_notify(&d->vq));
	put16(d, used_event_gpa(d), 0);
	for (unsigned i = 0; i < 32768; i++)
		assert_int_equal(virtq_push(&d->vq, 0, 0), 0);
	assert_false(d->vq.signalled_valid);
	assert_true(virtq_should_notify(&d->vq));
}

static void test_set_notify_no_event_idx(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	virtq_set_notify(&d->vq, false);
	assert_int_equal(get16(d, USED_GPA), F_NO_NOTIFY);
	virtq_set_notify(&d->vq, true);
	assert_int_equal(get16(d, USED_GPA), 0);
	/* avail_event is not ours to write without EVENT_IDX. */
	put16(d, avail_event_gpa(d), 0x1234);
	round_trip(d);
	virtq_set_notify(&d->vq, true);
	assert_int_equal(get16(d, avail_event_gpa(d)), 0x1234);
}

static void test_set_notify_event_idx(void **state)
{
	struct drv *d = *state;

	enable_q(d, 8, false, true);
	round_trip(d);
	round_trip(d);
	/* Each pop asks for a notification past what it consumed. */
	assert_int_equal(get16(d, avail_event_gpa(d)), 2);
	put16(d, avail_event_gpa(d), 0);
	virtq_set_notify(&d->vq, false);
	assert_int_equal(get16(d, avail_event_gpa(d)), 0);
	assert_int_equal(get16(d, USED_GPA), 0);
	virtq_set_notify(&d->vq, true);
	assert_int_equal(get16(d, avail_event_gpa(d)), 2);
}

/* The driver's notification test (vring_need_event on avail_event). */
static bool driver_would_notify(struct drv *d, uint16_t old, uint16_t new)
{
	uint16_t event = get16(d, avail_event_gpa(d));

	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

/*
 * The race set_notify(true) + has_avail closes: the driver adds a buffer
 * while notifications are off, so it does not notify; re-enabling must
 * then find the buffer (or have made the driver notify).
 */
static void test_set_notify_race(void **state)
{
	struct drv *d = *state;

	for (int event_idx = 0; event_idx < 2; event_idx++) {
		uint16_t old;

		driver_reset(d);
		enable_q(d, 8, false, event_idx);
		round_trip(d);
		virtq_set_notify(&d->vq, false);
		/* The driver adds a buffer now; for all it can tell it need
		 * not notify. */
		set_desc(d, 1, BUF_GPA, 8, 0, 0);
		publish(d, 1);
		if (!event_idx)
			assert_int_equal(get16(d, USED_GPA), F_NO_NOTIFY);
		virtq_set_notify(&d->vq, true);
		assert_true(virtq_has_avail(&d->vq));
		pop_ok(d);
		assert_int_equal(d->chain.head, 1);
		/* Drained with notifications on: the next one is notified. */
		assert_false(virtq_has_avail(&d->vq));
		old = d->avail_idx;
		publish(d, 1);
		if (event_idx)
			assert_true(driver_would_notify(d, old, d->avail_idx));
		else
			assert_int_equal(get16(d, USED_GPA), 0);
	}
}

static void test_reset_and_reenable(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	round_trip(d);
	virtq_reset(&d->vq);
	assert_false(d->vq.enabled);
	assert_int_equal(virtq_pop(&d->vq, &d->chain), 0);
	assert_int_equal(virtq_push(&d->vq, 0, 0), -EINVAL);
	assert_false(virtq_has_avail(&d->vq));
	assert_false(virtq_should_notify(&d->vq));
	virtq_set_notify(&d->vq, false); /* harmless on a disabled queue */
	driver_reset(d);
	enable(d, 8);
	round_trip(d);
	assert_int_equal(used_idx(d), 1);
}

static void test_max_queue_size(void **state)
{
	struct drv *d = *state;

	/* 32768 entries: 512 KiB of descriptors, rings behind them. */
	assert_int_equal(virtq_enable(&d->vq, &d->mem, 32768, 0, 0x80000,
				      0xa0000, false, false),
			 0);
	assert_int_equal(d->vq.size, 32768);
}

/* Two 4 GiB - 1 buffers in sparse 12 GiB RAM: totals over 4 GiB add up
 * without overflow, and copies land at the right offsets. */
static void test_huge_buffers_in_big_ram(void **state)
{
	const uint64_t hi = 1ULL << 32, huge = 0xffffffffULL;
	struct drv *d = *state, *b;
	uint8_t out[4] = {0};

	b = calloc(1, sizeof(*b));
	assert_non_null(b);
	if (guest_mem_init(&b->mem, 12ULL << 30) != 0) {
		free(b);
		skip(); /* no room for a sparse 12 GiB mapping here */
	}
	b->ram = b->mem.regions[0].host; /* the rings live below 3 GiB */
	enable(b, 4);
	set_desc(b, 0, hi, huge, F_NEXT | F_WRITE, 1);
	set_desc(b, 1, hi + huge, huge, F_WRITE, 0);
	publish(b, 0);
	pop_ok(b);
	assert_int_equal(b->chain.nr, 2);
	assert_int_equal(b->chain.in_len, 2 * huge);
	assert_int_equal(
		virtq_chain_write(&b->vq, &b->chain, huge - 2, "wxyz", 4), 4);
	assert_int_equal(guest_mem_read(&b->mem, hi + huge - 2, out, 4), 0);
	assert_memory_equal(out, "wxyz", 4);
	guest_mem_destroy(&b->mem);
	free(b);
	(void)d;
}

/* ---- A malicious driver: every case ends in -EINVAL, never a crash ---- */

static void test_bad_self_loop(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 2, BUF_GPA, 8, F_NEXT, 2);
	publish(d, 2);
	pop_einval(d, "descriptor chain loops");
}

static void test_bad_two_cycle(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 0, BUF_GPA, 8, F_NEXT | F_WRITE, 1);
	set_desc(d, 1, BUF_GPA, 8, F_NEXT | F_WRITE, 0);
	publish(d, 0);
	pop_einval(d, "descriptor chain loops");
}

/* A loop through zero-length descriptors moves no data, but must end. */
static void test_bad_loop_zero_length(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 0, 0, 0, F_NEXT, 1);
	set_desc(d, 1, 0, 0, F_NEXT, 0);
	publish(d, 0);
	pop_einval(d, "descriptor chain loops");
}

static void test_bad_head_index(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	publish(d, 8);
	pop_einval(d, "head index out of range");
}

static void test_bad_head_index_max(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	publish(d, 0xffff);
	pop_einval(d, "head index out of range");
}

static void test_bad_next_index(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 0, BUF_GPA, 8, F_NEXT, 8);
	publish(d, 0);
	pop_einval(d, "next index out of range");
}

static void test_bad_avail_idx_jump(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	for (unsigned i = 0; i < 8; i++)
		set_desc(d, i, BUF_GPA, 8, 0, 0);
	set_avail_idx(d, 9);
	pop_einval(d, "more than size ahead");
}

/* The same check when the indices have wrapped: last_avail near 65535. */
static void test_bad_avail_idx_jump_wrapped(void **state)
{
	struct drv *d = *state;

	enable(d, 4);
	set_desc(d, 0, BUF_GPA, 8, 0, 0);
	d->vq.last_avail = 65533;
	set_avail_idx(d, 1); /* 65533 + 4 wrapped: exactly size, fine */
	for (unsigned i = 0; i < 4; i++)
		pop_ok(d);
	set_avail_idx(d, 6); /* 5 ahead of last_avail, now 1 */
	pop_einval(d, "more than size ahead");
}

static void test_bad_avail_idx_backwards(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	round_trip(d);
	set_avail_idx(d, 0); /* 65535 "new" chains */
	pop_einval(d, "more than size ahead");
}

static void bad_buffer(struct drv *d, uint64_t gpa, uint32_t len)
{
	enable(d, 8);
	set_desc(d, 0, BUF_GPA, 8, F_NEXT, 1);
	set_desc(d, 1, gpa, len, F_WRITE, 0);
	publish(d, 0);
	pop_einval(d, "buffer outside guest RAM");
}

static void test_bad_buffer_beyond_ram(void **state)
{
	bad_buffer(*state, RAM_SIZE, 1);
}

static void test_bad_buffer_far_beyond_ram(void **state)
{
	bad_buffer(*state, 0xfee00000ULL, 4096);
}

static void test_bad_buffer_overflows(void **state)
{
	bad_buffer(*state, UINT64_MAX - 3, 8);
}

static void test_bad_buffer_straddles_end(void **state)
{
	bad_buffer(*state, RAM_SIZE - 4, 8);
}

static void test_bad_buffer_huge(void **state)
{
	bad_buffer(*state, 0, 0xffffffffu);
}

/* Zero-length buffers are skipped, wherever they point and whatever their
 * WRITE flag; they still count towards the chain length. */
static void test_zero_length_skipped(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 0, UINT64_MAX, 0, F_NEXT, 1);
	set_desc(d, 1, BUF_GPA, 8, F_NEXT, 2);
	set_desc(d, 2, RAM_SIZE, 0, F_NEXT | F_WRITE, 3);
	set_desc(d, 3, BUF_GPA + 8, 8, F_NEXT | F_WRITE, 4);
	set_desc(d, 4, 0, 0, 0, 0); /* readable, after a writable */
	publish(d, 0);
	pop_ok(d);
	assert_int_equal(d->chain.nr, 2);
	assert_int_equal(d->chain.nr_out, 1);
	assert_buf(&d->chain.bufs[0], BUF_GPA, 8, false);
	assert_buf(&d->chain.bufs[1], BUF_GPA + 8, 8, true);
}

static void test_zero_length_only(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 0, 0xdead0000ULL, 0, 0, 0);
	publish(d, 0);
	pop_ok(d);
	assert_int_equal(d->chain.nr, 0);
	assert_int_equal(d->chain.out_len + d->chain.in_len, 0);
	assert_int_equal(virtq_push(&d->vq, 0, 0), 0);
}

static void test_bad_indirect_not_negotiated(void **state)
{
	struct drv *d = *state;

	enable_q(d, 8, false, false);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	set_desc(d, 0, TABLE_GPA, 16, F_INDIRECT, 0);
	publish(d, 0);
	pop_einval(d, "indirect descriptor not negotiated");
}

static void test_bad_indirect_with_next(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	set_desc(d, 0, TABLE_GPA, 16, F_INDIRECT | F_NEXT, 1);
	set_desc(d, 1, BUF_GPA, 8, F_WRITE, 0);
	publish(d, 0);
	pop_einval(d, "indirect descriptor with NEXT");
}

static void test_bad_indirect_nested(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA, 8, F_NEXT, 1);
	set_desc_at(d, TABLE_GPA, 1, TABLE_GPA + 0x100, 16, F_INDIRECT, 0);
	set_desc_at(d, TABLE_GPA + 0x100, 0, BUF_GPA, 8, 0, 0);
	set_desc(d, 0, TABLE_GPA, 32, F_INDIRECT, 0);
	publish(d, 0);
	pop_einval(d, "nested indirect table");
}

static void bad_indirect_table(struct drv *d, uint64_t gpa, uint32_t len,
			       const char *why)
{
	enable(d, 8);
	set_desc(d, 0, gpa, len, F_INDIRECT, 0);
	publish(d, 0);
	pop_einval(d, why);
}

static void test_bad_indirect_len_not_multiple(void **state)
{
	struct drv *d = *state;

	set_desc_at(d, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	bad_indirect_table(d, TABLE_GPA, 24, "bad indirect table length");
}

static void test_bad_indirect_len_zero(void **state)
{
	bad_indirect_table(*state, TABLE_GPA, 0, "bad indirect table length");
}

static void test_bad_indirect_outside_ram(void **state)
{
	bad_indirect_table(*state, RAM_SIZE, 16,
			   "indirect table outside guest RAM");
}

static void test_bad_indirect_straddles_end(void **state)
{
	bad_indirect_table(*state, RAM_SIZE - 16, 32,
			   "indirect table outside guest RAM");
}

static void test_bad_indirect_overflows(void **state)
{
	bad_indirect_table(*state, UINT64_MAX - 15, 32,
			   "indirect table outside guest RAM");
}

static void test_bad_indirect_too_many_entries(void **state)
{
	struct drv *d = *state;

	for (unsigned i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		set_desc_at(d, TABLE_GPA, i, BUF_GPA, 1, F_NEXT, i + 1);
	bad_indirect_table(d, TABLE_GPA, (VIRTQ_MAX_CHAIN + 1) * 16,
			   "bad indirect table length");
}

/* A whole 1024-entry table is fine; one more buffer before it is not. */
static void test_indirect_chain_limit(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	for (unsigned i = 0; i < VIRTQ_MAX_CHAIN; i++)
		set_desc_at(d, TABLE_GPA, i, BUF_GPA, 1,
			    i + 1 < VIRTQ_MAX_CHAIN ? F_NEXT : 0, i + 1);
	set_desc(d, 0, TABLE_GPA, VIRTQ_MAX_CHAIN * 16, F_INDIRECT, 0);
	set_desc(d, 1, BUF_GPA, 1, F_NEXT, 0);
	publish(d, 0);
	pop_ok(d);
	assert_int_equal(d->chain.nr, VIRTQ_MAX_CHAIN);
	assert_int_equal(d->chain.out_len, VIRTQ_MAX_CHAIN);
	publish(d, 1);
	pop_einval(d, "chain too long");
}

static void test_bad_indirect_next_index(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA, 8, F_NEXT, 2);
	set_desc_at(d, TABLE_GPA, 2, BUF_GPA, 8, 0, 0); /* past the table */
	set_desc(d, 0, TABLE_GPA, 32, F_INDIRECT, 0);
	publish(d, 0);
	pop_einval(d, "indirect next out of range");
}

static void test_bad_indirect_loop(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA, 8, F_NEXT, 1);
	set_desc_at(d, TABLE_GPA, 1, BUF_GPA, 8, F_NEXT, 0);
	set_desc(d, 0, TABLE_GPA, 32, F_INDIRECT, 0);
	publish(d, 0);
	pop_einval(d, "indirect table loops");
}

/* A direct chain of 1025 distinct descriptors on a 2048-entry queue. */
static void test_bad_direct_chain_too_long(void **state)
{
	struct drv *d = *state;

	enable(d, 2048);
	for (unsigned i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		set_desc(d, i, BUF_GPA, 1, i < VIRTQ_MAX_CHAIN ? F_NEXT : 0,
			 i + 1);
	set_desc(d, VIRTQ_MAX_CHAIN - 1, BUF_GPA, 1, 0, 0);
	publish(d, 0); /* exactly VIRTQ_MAX_CHAIN: fine */
	pop_ok(d);
	assert_int_equal(d->chain.nr, VIRTQ_MAX_CHAIN);
	set_desc(d, VIRTQ_MAX_CHAIN - 1, BUF_GPA, 1, F_NEXT, VIRTQ_MAX_CHAIN);
	publish(d, 0);
	pop_einval(d, "chain too long");
}

static void test_bad_readable_after_writable(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 0, BUF_GPA, 8, F_NEXT | F_WRITE, 1);
	set_desc(d, 1, BUF_GPA + 8, 8, 0, 0);
	publish(d, 0);
	pop_einval(d, "readable buffer after a writable one");
}

/* The order rule holds across the step into an indirect table. */
static void test_bad_readable_after_writable_indirect(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	set_desc(d, 0, BUF_GPA, 8, F_NEXT | F_WRITE, 1);
	set_desc(d, 1, TABLE_GPA, 16, F_INDIRECT, 0);
	set_desc_at(d, TABLE_GPA, 0, BUF_GPA + 8, 8, 0, 0);
	publish(d, 0);
	pop_einval(d, "readable buffer after a writable one");
}

static void test_bad_enable(void **state)
{
	struct drv *d = *state;
	const struct {
		uint16_t size;
		uint64_t desc, avail, used;
	} bad[] = {
		{0, DESC_GPA, AVAIL_GPA, USED_GPA},
		{3, DESC_GPA, AVAIL_GPA, USED_GPA},
		{6, DESC_GPA, AVAIL_GPA, USED_GPA},
		{65535, DESC_GPA, AVAIL_GPA, USED_GPA},
		{8, DESC_GPA + 8, AVAIL_GPA, USED_GPA},	 /* misaligned */
		{8, DESC_GPA, AVAIL_GPA + 1, USED_GPA},	 /* misaligned */
		{8, DESC_GPA, AVAIL_GPA, USED_GPA + 2},	 /* misaligned */
		{8, RAM_SIZE, AVAIL_GPA, USED_GPA},	 /* outside */
		{8, RAM_SIZE - 64, AVAIL_GPA, USED_GPA}, /* straddles */
		{8, DESC_GPA, RAM_SIZE - 20, USED_GPA},	 /* 22 bytes */
		{8, DESC_GPA, AVAIL_GPA, RAM_SIZE - 68}, /* 70 bytes */
		{8, UINT64_MAX - 15, AVAIL_GPA, USED_GPA},
		{8, DESC_GPA, 0xfffffffffffffff0ULL, USED_GPA},
		{8, DESC_GPA, AVAIL_GPA, 0xfffffffffffffff0ULL},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d->vq.enabled = true;
		assert_int_equal(virtq_enable(&d->vq, &d->mem, bad[i].size,
					      bad[i].desc, bad[i].avail,
					      bad[i].used, true, true),
				 -EINVAL);
		assert_false(d->vq.enabled);
		assert_int_equal(virtq_push(&d->vq, 0, 0), -EINVAL);
	}
	/* The exact fits at the end of RAM are fine. */
	assert_int_equal(virtq_enable(&d->vq, &d->mem, 8, RAM_SIZE - 128,
				      AVAIL_GPA, USED_GPA, true, true),
			 0);
	assert_int_equal(virtq_enable(&d->vq, &d->mem, 8, DESC_GPA,
				      RAM_SIZE - 22, USED_GPA, true, true),
			 0);
	assert_int_equal(virtq_enable(&d->vq, &d->mem, 8, DESC_GPA, AVAIL_GPA,
				      RAM_SIZE - 72, true, true),
			 0);
}

static void test_bad_push_head(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	round_trip(d);
	assert_int_equal(virtq_push(&d->vq, 8, 0), -EINVAL);
	assert_int_equal(virtq_push(&d->vq, 0xffff, 0), -EINVAL);
	assert_int_equal(used_idx(d), 1);
	/* A device bug, not a malformed guest ring: the queue carries on. */
	assert_false(d->vq.broken);
	round_trip(d);
	assert_int_equal(used_idx(d), 2);
}

static void test_broken_stays_broken(void **state)
{
	struct drv *d = *state;

	enable(d, 8);
	round_trip(d);
	publish(d, 9);
	pop_einval(d, "head index out of range");
	/* The driver repairs the slot: too late, until a reset. */
	put16(d, AVAIL_GPA + 4 + 2 * 1, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->chain), -EINVAL);
	assert_int_equal(virtq_push(&d->vq, 0, 0), -EINVAL);
	assert_false(virtq_has_avail(&d->vq));
	assert_int_equal(used_idx(d), 1);
	assert_int_equal(d->vq.last_avail, 1);
	driver_reset(d);
	enable(d, 8);
	assert_false(d->vq.broken);
	round_trip(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty_queue),
		T(test_single_buffer),
		T(test_chain_readable_then_writable),
		T(test_indirect_chain),
		T(test_mixed_direct_and_indirect),
		T(test_full_ring),
		T(test_index_wrap_around),
		T(test_push_used_ring),
		T(test_push_many),
		T(test_unpop),
		T(test_chain_read_spanning),
		T(test_chain_write_spanning),
		T(test_chain_copy_forged),
		T(test_notify_no_event_idx),
		T(test_notify_event_idx),
		T(test_notify_event_idx_long_silence),
		T(test_set_notify_no_event_idx),
		T(test_set_notify_event_idx),
		T(test_set_notify_race),
		T(test_reset_and_reenable),
		T(test_max_queue_size),
		T(test_huge_buffers_in_big_ram),
		T(test_bad_self_loop),
		T(test_bad_two_cycle),
		T(test_bad_loop_zero_length),
		T(test_bad_head_index),
		T(test_bad_head_index_max),
		T(test_bad_next_index),
		T(test_bad_avail_idx_jump),
		T(test_bad_avail_idx_jump_wrapped),
		T(test_bad_avail_idx_backwards),
		T(test_bad_buffer_beyond_ram),
		T(test_bad_buffer_far_beyond_ram),
		T(test_bad_buffer_overflows),
		T(test_bad_buffer_straddles_end),
		T(test_bad_buffer_huge),
		T(test_zero_length_skipped),
		T(test_zero_length_only),
		T(test_bad_indirect_not_negotiated),
		T(test_bad_indirect_with_next),
		T(test_bad_indirect_nested),
		T(test_bad_indirect_len_not_multiple),
		T(test_bad_indirect_len_zero),
		T(test_bad_indirect_outside_ram),
		T(test_bad_indirect_straddles_end),
		T(test_bad_indirect_overflows),
		T(test_bad_indirect_too_many_entries),
		T(test_indirect_chain_limit),
		T(test_bad_indirect_next_index),
		T(test_bad_indirect_loop),
		T(test_bad_direct_chain_too_long),
		T(test_bad_readable_after_writable),
		T(test_bad_readable_after_writable_indirect),
		T(test_bad_enable),
		T(test_bad_push_head),
		T(test_broken_stays_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
