/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bus/bus.h"

struct fake_dev {
	uint64_t last_offset;
	unsigned last_len;
	uint32_t last_value;
	unsigned writes;
};

static void fake_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct fake_dev *d = opaque;
	uint32_t v = 0x11223344;

	d->last_offset = offset;
	d->last_len = len;
	memcpy(data, &v, len < 4 ? len : 4);
}

static void fake_write(void *opaque, uint64_t offset, const void *data,
		       unsigned len)
{
	struct fake_dev *d = opaque;

	d->last_offset = offset;
	d->last_len = len;
	d->last_value = 0;
	memcpy(&d->last_value, data, len < 4 ? len : 4);
	d->writes++;
}

static const struct bus_ops fake_ops = {fake_read, fake_write};

static int setup(void **state)
{
	static struct bus b;

	if (bus_init(&b, "test"))
		return -1;
	*state = &b;
	return 0;
}

static int teardown(void **state)
{
	bus_destroy(*state);
	return 0;
}

static void test_dispatch_with_offset(void **state)
{
	struct bus *b = *state;
	struct fake_dev a = {0}, c = {0};
	uint32_t v = 0xdeadbeef;

	assert_int_equal(bus_register(b, "a", 0x3f8, 8, &fake_ops, &a), 0);
	assert_int_equal(bus_register(b, "c", 0x100, 4, &fake_ops, &c), 0);
	assert_true(bus_access(b, 0x3fd, &v, 1, false));
	assert_int_equal(a.last_offset, 5);
	assert_int_equal(v & 0xff, 0x44);
	v = 0xcafe;
	assert_true(bus_access(b, 0x102, &v, 2, true));
	assert_int_equal(c.last_offset, 2);
	assert_int_equal(c.last_value, 0xcafe);
	assert_int_equal(a.writes, 0);
}

static void test_overlap_rejected(void **state)
{
	struct bus *b = *state;
	struct fake_dev d = {0};

	assert_int_equal(bus_register(b, "a", 0x1000, 0x100, &fake_ops, &d), 0);
	assert_int_equal(bus_register(b, "b", 0x10ff, 1, &fake_ops, &d),
			 -EEXIST);
	assert_int_equal(bus_register(b, "c", 0xf00, 0x101, &fake_ops, &d),
			 -EEXIST);
	assert_int_equal(bus_register(b, "d", 0x0, 0x10000, &fake_ops, &d),
			 -EEXIST);
	/* Touching ranges are fine. */
	assert_int_equal(bus_register(b, "e", 0x1100, 0x10, &fake_ops, &d), 0);
	assert_int_equal(bus_register(b, "f", 0xff0, 0x10, &fake_ops, &d), 0);
	assert_int_equal(bus_register(b, "g", UINT64_MAX, 2, &fake_ops, &d),
			 -EINVAL);
	assert_int_equal(bus_register(b, "h", 0x5000, 0, &fake_ops, &d),
			 -EINVAL);
}

static void test_unclaimed_reads_all_ones(void **state)
{
	struct bus *b = *state;
	struct fake_dev d = {0};
	uint64_t v = 0;

	assert_int_equal(bus_register(b, "a", 0x60, 1, &fake_ops, &d), 0);
	assert_false(bus_access(b, 0x61, &v, 4, false));
	assert_int_equal(v, 0xffffffffULL);
	v = 0;
	assert_false(bus_access(b, 0x0, &v, 8, false));
	assert_int_equal(v, UINT64_MAX);
	v = 0x1234;
	assert_false(bus_access(b, 0x70, &v, 2, true));
	assert_int_equal(d.writes, 0);
	/* An access that runs off the end of a range is not claimed. */
	assert_false(bus_access(b, 0x60, &v, 2, true));
	assert_int_equal(d.writes, 0);
	assert_int_equal(b->unclaimed, 4);
}

static void test_many_ranges_and_unregister(void **state)
{
	struct bus *b = *state;
	struct fake_dev d = {0};
	uint8_t v;

	/* Registered out of order, more than the initial capacity. */
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(bus_register(b, "r", ((i * 37) % 100) * 0x10,
					      8, &fake_ops, &d),
				 0);
	for (unsigned i = 0; i < 100; i++) {
		assert_true(bus_access(b, i * 0x10 + 7, &v, 1, false));
		assert_int_equal(d.last_offset, 7);
		assert_false(bus_access(b, i * 0x10 + 8, &v, 1, false));
	}
	assert_int_equal(bus_unregister(b, 0x500), 0);
	assert_false(bus_access(b, 0x500, &v, 1, false));
	assert_int_equal(bus_unregister(b, 0x500), -ENOENT);
	assert_int_equal(bus_register(b, "again", 0x500, 8, &fake_ops, &d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dispatch_with_offset,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_rejected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unclaimed_reads_all_ones,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_ranges_and_unregister,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
