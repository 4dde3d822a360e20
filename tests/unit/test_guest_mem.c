/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mem/guest_mem.h"

static uint8_t low[64 * 1024];
static uint8_t high[16 * 1024];

/* Fake RAM: 64 KiB at 0 and 16 KiB at 4 GiB. */
static void fake_mem(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(guest_mem_add_region(m, 0, low, sizeof(low)), 0);
	assert_int_equal(
		guest_mem_add_region(m, 1ULL << 32, high, sizeof(high)), 0);
}

static void test_read_write_in_bounds(void **state)
{
	struct guest_mem m;
	uint8_t buf[8] = "berth!!";
	uint8_t out[8] = {0};

	(void)state;
	fake_mem(&m);
	assert_int_equal(guest_mem_write(&m, 0x100, buf, sizeof(buf)), 0);
	assert_memory_equal(low + 0x100, buf, sizeof(buf));
	assert_int_equal(guest_mem_read(&m, 0x100, out, sizeof(out)), 0);
	assert_memory_equal(out, buf, sizeof(buf));
	/* Last byte of each region. */
	assert_int_equal(guest_mem_write(&m, sizeof(low) - 1, buf, 1), 0);
	assert_int_equal(
		guest_mem_write(&m, (1ULL << 32) + sizeof(high) - 1, buf, 1),
		0);
	assert_int_equal(high[sizeof(high) - 1], 'b');
}

static void test_out_of_bounds(void **state)
{
	struct guest_mem m;
	uint8_t buf[16] = {0};
	void *p = NULL;

	(void)state;
	fake_mem(&m);
	/* Crossing the end of a region, in the hole, past everything. */
	assert_int_equal(guest_mem_write(&m, sizeof(low) - 4, buf, 8), -EFAULT);
	assert_int_equal(guest_mem_read(&m, sizeof(low), buf, 1), -EFAULT);
	assert_int_equal(guest_mem_read(&m, 0xC0000000ULL, buf, 4), -EFAULT);
	assert_int_equal(
		guest_mem_read(&m, (1ULL << 32) + sizeof(high), buf, 1),
		-EFAULT);
	/* gpa + len wrapping around 2^64 must not look like a small range. */
	assert_int_equal(guest_mem_slice(&m, UINT64_MAX - 3, 8, &p), -EFAULT);
	assert_int_equal(guest_mem_slice(&m, 8, SIZE_MAX, &p), -EFAULT);
	assert_null(p);
	assert_false(guest_mem_is_ram(&m, 0, 0));
	assert_false(guest_mem_is_ram(&m, UINT64_MAX, 2));
	assert_int_equal(guest_mem_fill(&m, sizeof(low) - 1, 0, 2), -EFAULT);
}

static void test_zero_length_is_harmless(void **state)
{
	struct guest_mem m;
	uint8_t b;

	(void)state;
	fake_mem(&m);
	assert_int_equal(guest_mem_read(&m, UINT64_MAX, &b, 0), 0);
	assert_int_equal(guest_mem_write(&m, 0xC0000000ULL, &b, 0), 0);
}

static void test_overlapping_regions_rejected(void **state)
{
	struct guest_mem m;
	static uint8_t extra[4096];

	(void)state;
	fake_mem(&m);
	assert_int_equal(guest_mem_add_region(&m, 0x1000, extra, 4096),
			 -EEXIST);
	assert_int_equal(guest_mem_add_region(&m, UINT64_MAX - 10, extra, 4096),
			 -EINVAL);
	assert_int_equal(guest_mem_add_region(&m, 0x100000, extra, 0), -EINVAL);
}

static void test_init_splits_around_hole(void **state)
{
	struct guest_mem m;
	uint8_t v = 0x5a, out = 0;

	(void)state;
	/* 3.5 GiB: 3 GiB below the hole, 512 MiB above 4 GiB. MAP_NORESERVE
	 * means this costs nothing until touched. */
	assert_int_equal(guest_mem_init(&m, 3584ULL << 20), 0);
	assert_int_equal(m.nr_regions, 2);
	assert_int_equal(m.regions[0].gpa, 0);
	assert_int_equal(m.regions[0].size, GUEST_MMIO_HOLE_START);
	assert_int_equal(m.regions[1].gpa, GUEST_MMIO_HOLE_END);
	assert_int_equal(m.regions[1].size, 512ULL << 20);
	assert_int_equal(guest_mem_low_end(&m), GUEST_MMIO_HOLE_START);
	assert_false(guest_mem_is_ram(&m, GUEST_MMIO_HOLE_START, 1));
	assert_int_equal(guest_mem_write(&m, GUEST_MMIO_HOLE_END, &v, 1), 0);
	assert_int_equal(guest_mem_read(&m, GUEST_MMIO_HOLE_END, &out, 1), 0);
	assert_int_equal(out, 0x5a);
	assert_true(guest_mem_resident(&m) >= 4096);
	assert_true(guest_mem_resident(&m) < (1ULL << 20));
	guest_mem_destroy(&m);
	assert_int_equal(guest_mem_init(&m, 4096), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write_in_bounds),
		cmocka_unit_test(test_out_of_bounds),
		cmocka_unit_test(test_zero_length_is_harmless),
		cmocka_unit_test(test_overlapping_regions_rejected),
		cmocka_unit_test(test_init_splits_around_hole),
	};

	return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
