/* SPDX-License-Identifier: MIT */
/* The AML encoder: byte-exact encodings (checked against iasl's), PkgLength
 * sizes at their boundaries, and the buffer limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "boot/aml.h"

#define GUARD 0xa5

static uint8_t out[8192];

static struct aml *fresh(void)
{
	static struct aml a;

	memset(out, GUARD, sizeof(out));
	aml_init(&a, out, sizeof(out));
	return &a;
}

/* The encoder produced exactly these bytes and no error. */
#define assert_aml(a, ...)                                         \
	do {                                                       \
		const uint8_t want[] = {__VA_ARGS__};              \
		assert_int_equal(aml_status(a), 0);                \
		assert_int_equal((a)->len, sizeof(want));          \
		assert_memory_equal((a)->buf, want, sizeof(want)); \
	} while (0)

static void test_integers(void **state)
{
	static const struct {
		uint64_t v;
		size_t len;
		uint8_t bytes[9];
	} cases[] = {
		{0, 1, {0x00}},
		{1, 1, {0x01}},
		{2, 2, {0x0a, 0x02}},
		{0xff, 2, {0x0a, 0xff}},
		{0x100, 3, {0x0b, 0x00, 0x01}},
		{0xffff, 3, {0x0b, 0xff, 0xff}},
		{0x10000, 5, {0x0c, 0x00, 0x00, 0x01, 0x00}},
		{0xffffffff, 5, {0x0c, 0xff, 0xff, 0xff, 0xff}},
		{0x100000000, 9, {0x0e, 0, 0, 0, 0, 1, 0, 0, 0}},
		{UINT64_MAX,
		 9,
		 {0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml *a = fresh();

		aml_integer(a, cases[i].v);
		assert_int_equal(aml_status(a), 0);
		assert_int_equal(a->len, cases[i].len);
		assert_memory_equal(out, cases[i].bytes, cases[i].len);
		assert_int_equal(out[a->len], GUARD);
	}
}

static void test_string(void **state)
{
	struct aml *a = fresh();

	(void)state;
	aml_string(a, "ab");
	assert_aml(a, 0x0d, 'a', 'b', 0x00);
}

static void test_eisaid(void **state)
{
	struct aml *a = fresh();

	(void)state;
	assert_int_equal(aml_eisaid_value("PNP0A03"), 0x030ad041);
	assert_int_equal(aml_eisaid_value("PNP0A08"), 0x080ad041);
	assert_int_equal(aml_eisaid_value("PNP0C02"), 0x020cd041);
	assert_int_equal(aml_eisaid_value("ZZZFFFF"), 0xffff5a6b);
	assert_int_equal(aml_eisaid_value("pnp0a03"), 0);
	assert_int_equal(aml_eisaid_value("PNP0A0"), 0);
	assert_int_equal(aml_eisaid_value("PNP0A033"), 0);
	assert_int_equal(aml_eisaid_value("PNP0a03"), 0);
	assert_int_equal(aml_eisaid_value("PN10A03"), 0);
	aml_eisaid(a, "PNP0A03");
	assert_aml(a, 0x0c, 0x41, 0xd0, 0x0a, 0x03);
	aml_eisaid(a, "PNP0G03");
	assert_int_equal(aml_status(a), -EINVAL);
}

static void test_name_string(void **state)
{
	struct aml *a = fresh();

	(void)state;
	aml_name_string(a, "_HID");
	assert_aml(a, '_', 'H', 'I', 'D');
	aml_name_string(a = fresh(), "_SB");
	assert_aml(a, '_', 'S', 'B', '_');
	aml_name_string(a = fresh(), "\\_SB");
	assert_aml(a, '\\', '_', 'S', 'B', '_');
	aml_name_string(a = fresh(), "\\_SB.PCI0");
	assert_aml(a, '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');
	aml_name_string(a = fresh(), "_SB.PCI0.S1");
	assert_aml(a, 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '1',
		   '_', '_');
	aml_name_string(a = fresh(), "^^PCI0");
	assert_aml(a, '^', '^', 'P', 'C', 'I', '0');
	aml_name_string(a = fresh(), "\\");
	assert_aml(a, '\\', 0x00);
	aml_name(a = fresh(), "_S5");
	assert_aml(a, 0x08, '_', 'S', '5', '_');
}

static void test_name_string_invalid(void **state)
{
	static const char *const bad[] = {
		"pci0", "PCI00", "1ABC", "A..B", "A.",
		".A",	"\\\\A", "^\\A", "A-B",	 "A.B.C.D.E.F.G.H.I",
		"\\A.",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct aml *a = fresh();

		aml_name_string(a, bad[i]);
		assert_int_equal(aml_status(a), -EINVAL);
		assert_int_equal(a->len, 0);
	}
}

static void test_pkglen_encode(void **state)
{
	uint8_t b[4];

	(void)state;
	/* The count includes the PkgLength's own bytes. */
	assert_int_equal(aml_pkglen_encode(b, 62), 1);
	assert_int_equal(b[0], 63);
	assert_int_equal(aml_pkglen_encode(b, 63), 2); /* 65: 64 won't do */
	assert_memory_equal(b, "\x41\x04", 2);
	assert_int_equal(aml_pkglen_encode(b, 4093), 2);
	assert_memory_equal(b, "\x4f\xff", 2); /* 4095 */
	assert_int_equal(aml_pkglen_encode(b, 4094), 3);
	assert_memory_equal(b, "\x81\x00\x01", 3); /* 4097 */
	assert_int_equal(aml_pkglen_encode(b, 0xffffc), 3);
	assert_memory_equal(b, "\x8f\xff\xff", 3);
	assert_int_equal(aml_pkglen_encode(b, 0xffffd), 4);
	assert_memory_equal(b, "\xc1\x00\x00\x01", 4);
	assert_int_equal(aml_pkglen_encode(b, 0xffffffb), 4);
	assert_int_equal(aml_pkglen_encode(b, 0xffffffc), 0);
}

/* A Scope whose body (name and filler) is body bytes long gets a
 * PkgLength of pkglen bytes, and the body survives being moved up. */
static void check_scope(size_t body, size_t pkglen)
{
	struct aml *a = fresh();
	size_t start = aml_scope_open(a, "ABCD");
	uint8_t fill[4096], enc[4];

	memset(fill, 0x5a, sizeof(fill));
	aml_bytes(a, fill, body - 4);
	aml_close(a, start);
	assert_int_equal(aml_status(a), 0);
	assert_int_equal(a->len, 1 + pkglen + body);
	assert_int_equal(out[0], 0x10);
	assert_int_equal(aml_pkglen_encode(enc, body), pkglen);
	assert_memory_equal(out + 1, enc, pkglen);
	assert_memory_equal(out + 1 + pkglen, "ABCD", 4);
	assert_memory_equal(out + 1 + pkglen + 4, fill, body - 4);
	assert_int_equal(out[a->len], GUARD);
}

static void test_pkglen_boundaries(void **state)
{
	(void)state;
	check_scope(4, 1);
	check_scope(62, 1);
	check_scope(63, 2);
	check_scope(64, 2);
	check_scope(4093, 2);
	check_scope(4094, 3);
	check_scope(4095, 3);
	check_scope(4096, 3);
}

static void test_package_device_nesting(void **state)
{
	struct aml *a = fresh();
	size_t dev, pkg;

	(void)state;
	/* Device (DEV0) { Name (PKG, Package () { 5, 0 }) } */
	dev = aml_device_open(a, "DEV0");
	aml_name(a, "PKG");
	pkg = aml_package_open(a, 2);
	aml_integer(a, 5);
	aml_integer(a, 0);
	aml_close(a, pkg);
	aml_close(a, dev);
	assert_aml(a, 0x5b, 0x82, 0x10, 'D', 'E', 'V', '0', 0x08, 'P', 'K', 'G',
		   '_', 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00);
}

static void test_buffer(void **state)
{
	struct aml *a = fresh();
	uint8_t bytes[300];
	size_t start;

	(void)state;
	start = aml_buffer_open(a);
	aml_bytes(a, "\x01\x02\x03", 3);
	aml_buffer_close(a, start);
	assert_aml(a, 0x11, 0x06, 0x0a, 0x03, 0x01, 0x02, 0x03);

	a = fresh();
	aml_buffer_close(a, aml_buffer_open(a));
	assert_aml(a, 0x11, 0x02, 0x00); /* BufferSize Zero */

	/* 300 bytes: a Word size and a 2-byte PkgLength (303 + 2). */
	memset(bytes, 0x77, sizeof(bytes));
	start = aml_buffer_open(a = fresh());
	aml_bytes(a, bytes, sizeof(bytes));
	aml_buffer_close(a, start);
	assert_int_equal(aml_status(a), 0);
	assert_int_equal(a->len, 1 + 2 + 3 + 300);
	assert_memory_equal(out, "\x11\x41\x13\x0b\x2c\x01", 6);
	assert_memory_equal(out + 6, bytes, sizeof(bytes));
}

static void test_resources(void **state)
{
	struct aml *a = fresh();
	size_t start;

	(void)state;
	start = aml_resources_open(a);
	aml_word_bus_number(a, 0, 0);
	aml_io(a, 0xcf8, 0xcf8, 1, 8);
	aml_dword_memory(a, 0xc0000000, 0xdfffffff);
	aml_memory32_fixed(a, 0xe0000000, 0x100000);
	aml_resources_close(a, start);
	/* 64 bytes of descriptors: a 2-byte PkgLength (66 + 2). */
	assert_aml(a, 0x11, 0x44, 0x04, 0x0a, 0x40,
		   /* WordBusNumber (ResourceProducer, MinFixed, MaxFixed,
		    * PosDecode, 0, 0, 0, 0, 1) */
		   0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
		   0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
		   /* IO (Decode16, 0xCF8, 0xCF8, 1, 8) */
		   0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
		   /* DWordMemory (ResourceProducer, PosDecode, MinFixed,
		    * MaxFixed, NonCacheable, ReadWrite, 0, 0xC0000000,
		    * 0xDFFFFFFF, 0, 0x20000000) */
		   0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00,
		   0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf, 0x00, 0x00,
		   0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
		   /* Memory32Fixed (ReadWrite, 0xE0000000, 0x100000) */
		   0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0, 0x00, 0x00,
		   0x10, 0x00,
		   /* End Tag, checksum 0 */
		   0x79, 0x00);
}

static void test_invalid_ranges(void **state)
{
	struct aml *a = fresh();

	(void)state;
	aml_io(a, 0x100, 0xff, 1, 1);
	assert_int_equal(aml_status(a), -EINVAL);
	aml_dword_memory(a = fresh(), 2, 1);
	assert_int_equal(aml_status(a), -EINVAL);
	aml_close(a = fresh(), 1); /* a start past the end */
	assert_int_equal(aml_status(a), -EINVAL);
	aml_buffer_close(a = fresh(), 1);
	assert_int_equal(aml_status(a), -EINVAL);
}

/* A small DSDT-like body using every kind of write. */
static void build_sample(struct aml *a)
{
	size_t sb = aml_scope_open(a, "\\_SB"), dev, crs, pkg;

	dev = aml_device_open(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_STR");
	aml_string(a, "berth");
	aml_name(a, "_CRS");
	crs = aml_resources_open(a);
	aml_word_bus_number(a, 0, 0);
	aml_io(a, 0xcf8, 0xcf8, 1, 8);
	aml_dword_memory(a, 0xc0000000, 0xdfffffff);
	aml_resources_close(a, crs);
	aml_name(a, "PKG");
	pkg = aml_package_open(a, 2);
	aml_integer(a, 0x12345678);
	aml_integer(a, 0x123456789);
	aml_close(a, pkg);
	aml_close(a, dev);
	aml_close(a, sb);
}

/* For every cap short of the full size: the flag is set, len stays
 * within cap and no byte at or past cap is touched, including by the
 * PkgLength insertions that close moves the body for. */
static void test_overflow(void **state)
{
	struct aml *a = fresh();
	size_t need;

	(void)state;
	build_sample(a);
	assert_int_equal(aml_status(a), 0);
	need = a->len;
	for (size_t cap = 0; cap <= need; cap++) {
		memset(out, GUARD, sizeof(out));
		aml_init(a, out, cap);
		build_sample(a);
		assert_int_equal(a->overflow, cap < need);
		assert_int_equal(aml_status(a), cap < need ? -ENOSPC : 0);
		assert_true(a->len <= cap);
		for (size_t i = cap; i < need + 16; i++)
			assert_int_equal(out[i], GUARD);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_eisaid),
		cmocka_unit_test(test_name_string),
		cmocka_unit_test(test_name_string_invalid),
		cmocka_unit_test(test_pkglen_encode),
		cmocka_unit_test(test_pkglen_boundaries),
		cmocka_unit_test(test_package_device_nesting),
		cmocka_unit_test(test_buffer),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_invalid_ranges),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests_name("aml", tests, NULL, NULL);
}
