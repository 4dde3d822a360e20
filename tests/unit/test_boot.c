/* SPDX-License-Identifier: MIT */
/* Shared boot structures: e820 map, boot GDT and page tables, command line,
 * MP table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/acpi.h"
#include "boot/boot.h"
#include "boot/mptable.h"
#include "pci/pci.h"

#define RAM_SIZE (2ULL << 20)

static uint8_t *ram;

static int setup(void **state)
{
	static struct guest_mem m;

	memset(&m, 0, sizeof(m));
	ram = calloc(1, RAM_SIZE);
	if (!ram || guest_mem_add_region(&m, 0, ram, RAM_SIZE))
		return -1;
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static void test_e820_low_only(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	assert_int_equal(e820_build(*state, e, E820_MAX_ENTRIES), 4);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, BOOT_EBDA_START);
	assert_int_equal(e[0].type, E820_RAM);
	assert_int_equal(e[1].type, E820_RESERVED);
	assert_int_equal(e[1].addr + e[1].size, BOOT_HIMEM_START);
	assert_int_equal(e[2].addr, BOOT_HIMEM_START);
	assert_int_equal(e[2].addr + e[2].size, RAM_SIZE);
	assert_int_equal(e[3].addr, PCI_ECAM_BASE); /* MCFG's window */
	assert_int_equal(e[3].type, E820_RESERVED);
	assert_int_equal(e820_build(*state, e, 2), -ENOSPC);
}

static void test_e820_with_high_memory(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	struct guest_mem m;

	(void)state;
	assert_int_equal(guest_mem_init(&m, 5ULL << 30), 0);
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), 5);
	assert_int_equal(e[2].addr + e[2].size, GUEST_MMIO_HOLE_START);
	assert_int_equal(e[4].addr, GUEST_MMIO_HOLE_END);
	assert_int_equal(e[4].size, 2ULL << 30);
	guest_mem_destroy(&m);
}

static void test_gdt_and_page_tables(void **state)
{
	uint64_t pml4, pdpt, pde;

	assert_int_equal(boot_write_cpu_tables(*state, BOOT_MODE_PVH32), 0);
	assert_int_equal(boot_gdt_entry(BOOT_MODE_PVH32, BOOT_CS_SEL / 8),
			 0x00cf9b000000ffffULL);
	assert_int_equal(boot_gdt_entry(BOOT_MODE_LINUX64, BOOT_CS_SEL / 8),
			 0x00af9b000000ffffULL);
	assert_int_equal(boot_gdt_entry(BOOT_MODE_LINUX64, 0), 0);
	assert_memory_equal(ram + BOOT_GDT_ADDR + BOOT_DS_SEL,
			    (uint64_t[]){0x00cf93000000ffffULL}, 8);
	/* PVH32 runs with paging off: no tables written. */
	memcpy(&pml4, ram + BOOT_PML4_ADDR, 8);
	assert_int_equal(pml4, 0);
	assert_int_equal(boot_write_cpu_tables(*state, BOOT_MODE_LINUX64), 0);
	memcpy(&pml4, ram + BOOT_PML4_ADDR, 8);
	assert_int_equal(pml4 & ~0xfffULL, BOOT_PML4_ADDR + 0x1000);
	memcpy(&pdpt, ram + BOOT_PML4_ADDR + 0x1000 + 3 * 8, 8);
	assert_int_equal(pdpt & ~0xfffULL, BOOT_PML4_ADDR + 0x5000);
	/* Last 2 MiB page of the 4 GiB identity map. */
	memcpy(&pde, ram + BOOT_PML4_ADDR + 0x5000 + 511 * 8, 8);
	assert_int_equal(pde, 0xffe00000ULL | 0x83);
}

static void test_cmdline(void **state)
{
	assert_int_equal(boot_write_cmdline(*state, "quiet", 256), 0);
	assert_string_equal((char *)ram + BOOT_CMDLINE_ADDR, "quiet");
	assert_int_equal(boot_write_cmdline(*state, "12345", 5), -E2BIG);
	assert_int_equal(boot_write_cmdline(*state, "1234", 5), 0);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void test_mptable(void **state)
{
	const uint8_t *mpf = ram + BOOT_EBDA_START;
	const uint8_t *tbl;
	uint32_t physptr;
	uint16_t len, count;
	unsigned cpus = 0, bsp = 0;
	size_t off;

	assert_int_equal(mptable_write(*state, 4), 0);
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(sum(mpf, 16), 0);
	memcpy(&physptr, mpf + 4, 4);
	tbl = ram + physptr;
	assert_memory_equal(tbl, "PCMP", 4);
	memcpy(&len, tbl + 4, 2);
	memcpy(&count, tbl + 34, 2);
	assert_int_equal(sum(tbl, len), 0);
	for (off = 44; off < len && count--;) {
		if (tbl[off] == 0) { /* processor */
			assert_int_equal(tbl[off + 1], cpus);
			assert_true(tbl[off + 3] & 1);
			bsp += tbl[off + 3] >> 1 & 1;
			cpus++;
			off += 20;
		} else {
			if (tbl[off] == 2) /* I/O APIC id after the CPUs */
				assert_int_equal(tbl[off + 1], 4);
			off += 8;
		}
	}
	assert_int_equal(off, len);
	assert_int_equal(cpus, 4);
	assert_int_equal(bsp, 1);
	assert_int_equal(mptable_write(*state, 0), -EINVAL);
	assert_int_equal(mptable_write(*state, MPTABLE_MAX_CPUS + 1), -EINVAL);
	assert_int_equal(mptable_write(*state, MPTABLE_MAX_CPUS), 0);
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Where needle (n bytes) first occurs in the table t, or NULL. */
static const uint8_t *table_find(const uint8_t *t, const void *needle, size_t n)
{
	return memmem(t, le32(t + 4), needle, n);
}

/* Find a table through RSDP -> XSDT as an OS does, checking checksums. */
static const uint8_t *acpi_find(const char *sig)
{
	const uint8_t *rsdp = ram + ACPI_RSDP_ADDR;
	const uint8_t *xsdt = ram + le64(rsdp + 24);
	uint32_t n = (le32(xsdt + 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = ram + le64(xsdt + 36 + i * 8);

		if (!memcmp(t, sig, 4)) {
			assert_int_equal(sum(t, le32(t + 4)), 0);
			return t;
		}
	}
	return NULL;
}

static void test_acpi_tables(void **state)
{
	const uint8_t *rsdp = ram + ACPI_RSDP_ADDR;
	const uint8_t *xsdt, *fadt, *madt, *dsdt;
	unsigned lapics = 0, ioapics = 0;

	assert_int_equal(acpi_write_tables(*state, 3), 0);
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(rsdp[15], 2); /* revision: XSDT present */
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(sum(rsdp, 36), 0);
	xsdt = ram + le64(rsdp + 24);
	assert_memory_equal(xsdt, "XSDT", 4);
	assert_int_equal(sum(xsdt, le32(xsdt + 4)), 0);

	fadt = acpi_find("FACP");
	assert_non_null(fadt);
	assert_int_equal(le32(fadt + 4), 276);
	assert_true(le32(fadt + 112) & (1U << 20));    /* hardware-reduced */
	assert_int_equal(le64(fadt + 244 + 4), 0x600); /* sleep control */
	assert_int_equal(fadt[244], 1);		       /* in I/O space */
	assert_int_equal(le64(fadt + 256 + 4), 0x601); /* sleep status */
	dsdt = ram + le64(fadt + 140);
	assert_int_equal(le32(fadt + 40), dsdt - ram);
	assert_memory_equal(dsdt, "DSDT", 4);
	assert_int_equal(sum(dsdt, le32(dsdt + 4)), 0);
	/* Name (_S5, Package () { 5, 0 }) */
	assert_memory_equal(dsdt + 36, "\x08_S5_\x12\x05\x02\x0a\x05\x00", 11);
	assert_non_null(acpi_find("MCFG"));
	assert_int_equal(le64(acpi_find("MCFG") + 44), PCI_ECAM_BASE);
	/* Tables follow each other, 16-byte aligned, without overlap. */
	assert_true(acpi_find("MCFG") >= dsdt + le32(dsdt + 4));
	assert_int_equal((acpi_find("MCFG") - ram) % 16, 0);

	madt = acpi_find("APIC");
	assert_non_null(madt);
	assert_int_equal(le32(madt + 36), 0xfee00000);
	for (uint32_t off = 44; off < le32(madt + 4); off += madt[off + 1]) {
		assert_true(madt[off + 1] >= 2);
		if (madt[off] == 0) {
			assert_int_equal(madt[off + 3], lapics); /* APIC ID */
			assert_int_equal(le32(madt + off + 4) & 1, 1);
			lapics++;
		} else if (madt[off] == 1) {
			assert_int_equal(madt[off + 2], 3); /* after the CPUs */
			assert_int_equal(le32(madt + off + 4), 0xfec00000);
			ioapics++;
		}
	}
	assert_int_equal(lapics, 3);
	assert_int_equal(ioapics, 1);
	assert_true(madt >= acpi_find("MCFG") + le32(acpi_find("MCFG") + 4));
	assert_true(madt + le32(madt + 4) <= ram + ACPI_AREA_END);
}

/* The DSDT's PCI root bridge and ECAM reservation, as iasl encodes them:
 * Linux finds PCI buses only through them when it boots with ACPI. */
static void test_acpi_dsdt_pci(void **state)
{
	/* Scope (\_SB) { Device (PCI0) { Name (_HID, EisaId ("PNP0A08")),
	 * Name (_CID, EisaId ("PNP0A03")), _SEG, _BBN, _UID: Zero */
	static const uint8_t pci0[] = {
		0x10, 0x4a, 0x09, '\\', '_',  'S',  'B', '_', 0x5b, 0x82, 0x49,
		0x06, 'P',  'C',  'I',	'0',  0x08, '_', 'H', 'I',  'D',  0x0c,
		0x41, 0xd0, 0x0a, 0x08, 0x08, '_',  'C', 'I', 'D',  0x0c, 0x41,
		0xd0, 0x0a, 0x03, 0x08, '_',  'S',  'E', 'G', 0x00, 0x08, '_',
		'B',  'B',  'N',  0x00, 0x08, '_',  'U', 'I', 'D',  0x00};
	/* Name (_CRS, ResourceTemplate () { WordBusNumber (0-0),
	 * IO (Decode16, 0xCF8, 0xCF8, 1, 8), DWordMemory (0xC0000000 -
	 * 0xDFFFFFFF) }) */
	static const uint8_t crs[] = {
		0x08, '_',  'C',  'R',	'S',  0x11, 0x37, 0x0a, 0x34,
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x47, 0x01,
		0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08, 0x87, 0x17, 0x00,
		0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x20, 0x79, 0x00};
	/* Device (MBRD) { Name (_HID, EisaId ("PNP0C02")), Name (_CRS,
	 * ResourceTemplate () { Memory32Fixed (ReadWrite, 0xE0000000,
	 * 0x100000) }) } */
	static const uint8_t mbrd[] = {
		0x5b, 0x82, 0x26, 'M',	'B',  'R',  'D',  0x08, '_',  'H',
		'I',  'D',  0x0c, 0x41, 0xd0, 0x0c, 0x02, 0x08, '_',  'C',
		'R',  'S',  0x11, 0x11, 0x0a, 0x0e, 0x86, 0x09, 0x00, 0x01,
		0x00, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x10, 0x00, 0x79, 0x00};
	const uint8_t *fadt, *dsdt, *p;

	assert_int_equal(acpi_write_tables(*state, 1), 0);
	fadt = acpi_find("FACP");
	assert_non_null(fadt);
	dsdt = ram + le64(fadt + 140);
	assert_int_equal(sum(dsdt, le32(dsdt + 4)), 0);
	p = table_find(dsdt, pci0, sizeof(pci0));
	assert_non_null(p);
	/* _CRS right after _UID, ending PCI0 (PkgLength 0x69 at p + 10). */
	assert_memory_equal(p + sizeof(pci0), crs, sizeof(crs));
	assert_ptr_equal(p + sizeof(pci0) + sizeof(crs), p + 10 + 0x69);
	/* MBRD follows PCI0 and ends \_SB, which ends the DSDT. */
	assert_memory_equal(p + sizeof(pci0) + sizeof(crs), mbrd, sizeof(mbrd));
	assert_ptr_equal(p + sizeof(pci0) + sizeof(crs) + sizeof(mbrd),
			 dsdt + le32(dsdt + 4));
	assert_ptr_equal(p + 1 + 0x9a, dsdt + le32(dsdt + 4)); /* PkgLength */
}

static void test_acpi_limits(void **state)
{
	const uint8_t *madt;

	assert_int_equal(acpi_write_tables(*state, 0), -EINVAL);
	assert_int_equal(acpi_write_tables(*state, MPTABLE_MAX_CPUS + 1),
			 -EINVAL);
	assert_int_equal(acpi_write_tables(*state, MPTABLE_MAX_CPUS), 0);
	madt = acpi_find("APIC");
	assert_non_null(madt);
	assert_true(madt + le32(madt + 4) <= ram + ACPI_AREA_END);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_e820_low_only),
		T(test_e820_with_high_memory),
		T(test_gdt_and_page_tables),
		T(test_cmdline),
		T(test_mptable),
		T(test_acpi_tables),
		T(test_acpi_dsdt_pci),
		T(test_acpi_limits),
	};

	return cmocka_run_group_tests_name("boot", tests, NULL, NULL);
}
