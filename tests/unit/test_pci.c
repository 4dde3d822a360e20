/* SPDX-License-Identifier: MIT */
/* The PCI root bus through its guest-visible interfaces: ports 0xCF8/0xCFC
 * and the ECAM window, as a guest's PCI code would use them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pci/pci.h"

struct fixture {
	struct bus pio, mmio;
	struct pci_host host;
	struct pci_dev dev;
	unsigned bar_reads, moves;
};

static void bar_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct fixture *f = opaque;
	uint32_t v = 0xb0000000 | (uint32_t)off;

	f->bar_reads++;
	memcpy(data, &v, len < 4 ? len : 4);
}

static const struct bus_ops bar_ops = {.read = bar_read};

static void moved(struct pci_dev *d, unsigned bar)
{
	struct fixture *f = d->opaque;

	(void)bar;
	f->moves++;
}

static int setup(void **state)
{
	static struct fixture f;
	uint8_t cap[8] = {0x09, 0, 8, 0xaa, 0, 0, 0, 0};
	uint8_t wmask[8] = {0, 0, 0, 0, 0xff, 0, 0, 0};

	memset(&f, 0, sizeof(f));
	if (bus_init(&f.pio, "pio") || bus_init(&f.mmio, "mmio") ||
	    pci_host_init(&f.host, &f.pio, &f.mmio))
		return -1;
	pci_dev_init(&f.dev, "test", 0x1af4, 0x1044, 0xff0000, 1, 0x1af4, 4);
	f.dev.opaque = &f;
	f.dev.bar_moved = moved;
	if (pci_dev_add_bar(&f.dev, 0, 0x4000, &bar_ops, &f) ||
	    pci_dev_add_cap(&f.dev, cap, wmask, sizeof(cap)) != 0x40 ||
	    pci_dev_add_cap(&f.dev, cap, NULL, sizeof(cap)) != 0x48 ||
	    pci_host_add_dev(&f.host, &f.dev))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pci_host_destroy(&f->host);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	return 0;
}

/* Mechanism #1, as a guest does it. */
static uint32_t cf8_read(struct fixture *f, unsigned slot, unsigned reg,
			 unsigned len)
{
	uint32_t a = 0x80000000U | slot << 11 | (reg & 0xfc), v = 0;

	bus_access(&f->pio, 0xcf8, &a, 4, true);
	bus_access(&f->pio, 0xcfc + (reg & 3), &v, len, false);
	return v;
}

static void cf8_write(struct fixture *f, unsigned slot, unsigned reg,
		      uint32_t v, unsigned len)
{
	uint32_t a = 0x80000000U | slot << 11 | (reg & 0xfc);

	bus_access(&f->pio, 0xcf8, &a, 4, true);
	bus_access(&f->pio, 0xcfc + (reg & 3), &v, len, true);
}

static void test_enumeration(void **state)
{
	struct fixture *f = *state;
	uint32_t a = 0x80000000, v = 0;

	/* Linux's pci_check_type1: the address latch reads back. */
	bus_access(&f->pio, 0xcf8, &a, 4, true);
	bus_access(&f->pio, 0xcf8, &v, 4, false);
	assert_int_equal(v, 0x80000000);
	assert_int_equal(cf8_read(f, 0, 0x0a, 2), 0x0600); /* host bridge */
	assert_int_equal(cf8_read(f, 1, 0, 4), 0x10441af4);
	assert_int_equal(cf8_read(f, 1, 0x0b, 1), 0xff);    /* class */
	assert_int_equal(cf8_read(f, 1, 0x2e, 2), 4);	    /* subsystem */
	assert_int_equal(cf8_read(f, 2, 0, 4), 0xffffffff); /* empty slot */
	/* Function 1 of slot 1 does not exist. */
	a = 0x80000000U | 1 << 11 | 1 << 8;
	bus_access(&f->pio, 0xcf8, &a, 4, true);
	bus_access(&f->pio, 0xcfc, &v, 4, false);
	assert_int_equal(v, 0xffffffff);
	/* With the enable bit clear, data reads are all-ones. */
	a = 1 << 11;
	bus_access(&f->pio, 0xcf8, &a, 4, true);
	bus_access(&f->pio, 0xcfc, &v, 4, false);
	assert_int_equal(v, 0xffffffff);
}

static void test_bar_assigned_and_decoding(void **state)
{
	struct fixture *f = *state;
	uint32_t bar = cf8_read(f, 1, 0x10, 4), v = 0;

	assert_true(bar >= PCI_MMIO_BASE && bar < PCI_MMIO_END);
	assert_int_equal(bar & 0x3fff, 0); /* aligned to its size */
	assert_true(cf8_read(f, 1, 0x04, 2) & PCI_COMMAND_MEMORY);
	assert_true(bus_access(&f->mmio, bar + 0x10, &v, 4, false));
	assert_int_equal(v, 0xb0000010);
}

static void test_bar_sizing_and_move(void **state)
{
	struct fixture *f = *state;
	uint32_t old = cf8_read(f, 1, 0x10, 4), v = 0;

	/* What an OS does: decoding off, write all-ones, read the size. */
	cf8_write(f, 1, 0x04, 0, 2);
	assert_false(bus_access(&f->mmio, old, &v, 4, false));
	cf8_write(f, 1, 0x10, 0xffffffff, 4);
	assert_int_equal(cf8_read(f, 1, 0x10, 4), 0xffffc000);
	cf8_write(f, 1, 0x10, 0xd0000000, 4);
	cf8_write(f, 1, 0x04, PCI_COMMAND_MEMORY, 2);
	assert_true(bus_access(&f->mmio, 0xd0000004, &v, 4, false));
	assert_int_equal(v, 0xb0000004);
	assert_false(bus_access(&f->mmio, old, &v, 4, false));
	assert_true(f->moves >= 2);
	/* Moving it while decoding is on remaps at once. */
	cf8_write(f, 1, 0x10, 0xd0100000, 4);
	assert_true(bus_access(&f->mmio, 0xd0100000, &v, 4, false));
	assert_false(bus_access(&f->mmio, 0xd0000000, &v, 4, false));
	/* Sizing with decoding left on maps nothing at the all-ones value. */
	cf8_write(f, 1, 0x10, 0xffffffff, 4);
	assert_false(bus_access(&f->mmio, 0xffffc000, &v, 4, false));
}

static void test_read_only_fields(void **state)
{
	struct fixture *f = *state;

	cf8_write(f, 1, 0x00, 0x12345678, 4); /* vendor/device */
	assert_int_equal(cf8_read(f, 1, 0, 4), 0x10441af4);
	cf8_write(f, 1, 0x08, 0, 4); /* revision, class */
	assert_int_equal(cf8_read(f, 1, 0x0b, 1), 0xff);
	cf8_write(f, 1, 0x3c, 0x0b, 1); /* interrupt line is writable */
	assert_int_equal(cf8_read(f, 1, 0x3c, 1), 0x0b);
	cf8_write(f, 1, 0x14, 0xffffffff, 4); /* BAR1 does not exist */
	assert_int_equal(cf8_read(f, 1, 0x14, 4), 0);
}

static void test_capabilities(void **state)
{
	struct fixture *f = *state;
	unsigned ptr, n = 0;

	assert_true(cf8_read(f, 1, 0x06, 2) & PCI_STATUS_CAP_LIST);
	for (ptr = cf8_read(f, 1, 0x34, 1); ptr;
	     ptr = cf8_read(f, 1, ptr + 1, 1)) {
		assert_int_equal(cf8_read(f, 1, ptr, 1), 0x09);
		n++;
		assert_true(n < 10);
	}
	assert_int_equal(n, 2);
	/* Only the bits the device allows change. */
	cf8_write(f, 1, 0x40, 0x5555ffff, 4);
	assert_int_equal(cf8_read(f, 1, 0x40, 4), 0xaa084809);
	cf8_write(f, 1, 0x44, 0x12, 1);
	assert_int_equal(cf8_read(f, 1, 0x44, 1), 0x12);
	cf8_write(f, 1, 0x4c, 0x12, 1);
	assert_int_equal(cf8_read(f, 1, 0x4c, 1), 0);
}

static void test_ecam(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0;

	assert_true(
		bus_access(&f->mmio, PCI_ECAM_BASE + (1 << 15), &v, 4, false));
	assert_int_equal(v, 0x10441af4);
	bus_access(&f->mmio, PCI_ECAM_BASE + (3 << 15), &v, 4, false);
	assert_int_equal(v, 0xffffffff);
	/* Extended space of a conventional function reads as zero. */
	bus_access(&f->mmio, PCI_ECAM_BASE + (1 << 15) + 0x100, &v, 4, false);
	assert_int_equal(v, 0);
	v = 0x0b;
	bus_access(&f->mmio, PCI_ECAM_BASE + (1 << 15) + 0x3c, &v, 1, true);
	assert_int_equal(cf8_read(f, 1, 0x3c, 1), 0x0b);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct pci_dev d;
	uint8_t big[200] = {0x10};

	(void)f;
	pci_dev_init(&d, "x", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_dev_add_bar(&d, 6, 0x1000, &bar_ops, NULL),
			 -EINVAL);
	assert_int_equal(pci_dev_add_bar(&d, 0, 0x1800, &bar_ops, NULL),
			 -EINVAL);
	assert_int_equal(pci_dev_add_bar(&d, 0, 0x800, &bar_ops, NULL),
			 -EINVAL);
	assert_int_equal(pci_dev_add_cap(&d, big, NULL, sizeof(big)), -ENOSPC);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_enumeration),
		T(test_bar_assigned_and_decoding),
		T(test_bar_sizing_and_move),
		T(test_read_only_fields),
		T(test_capabilities),
		T(test_ecam),
		T(test_limits),
	};

	return cmocka_run_group_tests_name("pci", tests, NULL, NULL);
}
