/* SPDX-License-Identifier: MIT */
#include "boot/acpi.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "boot/aml.h"
#include "boot/boot.h"
#include "boot/mptable.h"
#include "devices/acpi_sleep.h"
#include "pci/pci.h"

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* of the first 20 bytes */
	char oem_id[6];
	uint8_t revision; /* 2: ACPI 2.0 and later */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic address structure. */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t legacy_fields[68]; /* 44..111: unused when hardware-reduced */
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas
		x_blocks[8]; /* PM1a/b event, control, PM2, timer, GPE0/1 */
	struct acpi_gas sleep_control;
	struct acpi_gas sleep_status;
	char hypervisor_id[8];
} __attribute__((packed));

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type; /* 4 */
	uint8_t length;
	uint8_t processor_uid; /* 0xff: all */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

/* PCI Firmware spec 3.0, 4.1.2: one ECAM window per segment/bus range. */
struct acpi_mcfg {
	struct acpi_header h;
	uint64_t reserved;
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved2;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_mcfg) == 60, "MCFG layout");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");

#define FADT_HW_REDUCED_ACPI (1U << 20)
/* IA-PC boot architecture flags: no VGA, no CMOS RTC. The i8042 flag stays
 * clear: berth's i8042 only resets the machine. */
#define IAPC_VGA_NOT_PRESENT	  (1U << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1U << 5)
#define FADT_IAPC_BOOT_ARCH_OFF	  (109 - 44) /* inside legacy_fields */
#define MADT_PCAT_COMPAT	  1U	     /* dual 8259s present (in KVM) */

static void acpi_header_init(struct acpi_header *h, const char *sig,
			     uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "BERTH ", 6);
	memcpy(h->oem_table_id, "BERTHVM ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "BRTH", 4);
	h->creator_revision = 1;
}

/* Fill the table's checksum; the table occupies len bytes at h. */
static void acpi_seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = boot_checksum(h, h->length);
}

static size_t acpi_build_madt(uint8_t *buf, unsigned nr_cpus)
{
	struct acpi_madt *madt = (struct acpi_madt *)buf;
	struct madt_ioapic io = {1, sizeof(io),		 (uint8_t)nr_cpus,
				 0, MPTABLE_IOAPIC_ADDR, 0};
	struct madt_lapic_nmi nmi = {4, sizeof(nmi), 0xff, 0, 1};
	size_t off = sizeof(*madt);

	for (unsigned i = 0; i < nr_cpus; i++) {
		struct madt_lapic l = {0, sizeof(l), (uint8_t)i, (uint8_t)i,
				       1 /* enabled */};

		memcpy(buf + off, &l, sizeof(l));
		off += sizeof(l);
	}
	/* The I/O APIC takes the ID after the CPUs; LINT1 is NMI on every
	 * CPU, as berth programs it. */
	memcpy(buf + off, &io, sizeof(io));
	off += sizeof(io);
	memcpy(buf + off, &nmi, sizeof(nmi));
	off += sizeof(nmi);
	memset(&madt->h, 0, sizeof(madt->h));
	acpi_header_init(&madt->h, "APIC", off, 5);
	madt->lapic_address = MPTABLE_LAPIC_ADDR;
	madt->flags = MADT_PCAT_COMPAT;
	acpi_seal(&madt->h);
	return off;
}

/* A byte-wide register in I/O space. */
static struct acpi_gas acpi_io_reg(uint16_t port)
{
	return (struct acpi_gas){.space_id = 1, /* SystemIO */
				 .bit_width = 8,
				 .access_size = 1, /* byte */
				 .address = port};
}

static int acpi_write_fadt(const struct guest_mem *m, uint64_t addr,
			   uint64_t dsdt)
{
	uint16_t iapc = IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT;
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header_init(&f.h, "FACP", sizeof(f), 6);
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	memcpy(&f.legacy_fields[FADT_IAPC_BOOT_ARCH_OFF], &iapc, 2);
	f.flags = FADT_HW_REDUCED_ACPI;
	f.sleep_control = acpi_io_reg(ACPI_SLEEP_CONTROL_PORT);
	f.sleep_status = acpi_io_reg(ACPI_SLEEP_STATUS_PORT);
	memcpy(f.hypervisor_id, "BERTHVMM", 8);
	acpi_seal(&f.h);
	return guest_mem_write(m, addr, &f, sizeof(f));
}

/* Room for the DSDT, header included (202 bytes today). */
#define ACPI_DSDT_MAX 512

/* The PCI root bus of pci.h. With ACPI, Linux finds root buses only
 * through PNP0A03/PNP0A08 devices, never by probing. No _PRT: no device
 * has an INTx pin, all use MSI-X. No _OSC: Linux then leaves PCIe hotplug,
 * AER, PME and ASPM alone, and berth has no PCIe ports or links for them.
 * No I/O window: no device has an I/O BAR and the port bus routes none to
 * PCI. */
static void acpi_dsdt_pci0(struct aml *a)
{
	size_t dev = aml_device_open(a, "PCI0"), crs;

	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08"); /* PCI Express root bridge: ECAM */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	crs = aml_resources_open(a);
	aml_word_bus_number(a, 0, 0);
	aml_io(a, 0xcf8, 0xcf8, 1, 8); /* configuration mechanism #1 */
	aml_dword_memory(a, PCI_MMIO_BASE, PCI_MMIO_END - 1);
	aml_resources_close(a, crs);
	aml_close(a, dev);
}

/* Motherboard resources: Linux uses MCFG's ECAM window only if it finds
 * it reserved, in e820 early and in a PNP0C01/PNP0C02 device's _CRS once
 * ACPI is up (arch/x86/pci/mmconfig-shared.c). */
static void acpi_dsdt_mbrd(struct aml *a)
{
	size_t dev = aml_device_open(a, "MBRD"), crs;

	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_CRS");
	crs = aml_resources_open(a);
	aml_memory32_fixed(a, PCI_ECAM_BASE, PCI_ECAM_SIZE);
	aml_resources_close(a, crs);
	aml_close(a, dev);
}

/* Build the DSDT in buf; returns its length, or -ENOSPC if cap is too
 * small (raise ACPI_DSDT_MAX) or -EINVAL for a bad name or range. */
static int acpi_build_dsdt(uint8_t *buf, size_t cap)
{
	struct acpi_header *h = (struct acpi_header *)buf;
	struct aml a;
	size_t pkg, sb;
	int ret;

	aml_init(&a, buf + sizeof(*h), cap - sizeof(*h));
	/* The sleep type an OS writes to the sleep control register to
	 * power off: SLP_TYPa 5, SLP_TYPb 0. */
	aml_name(&a, "_S5");
	pkg = aml_package_open(&a, 2);
	aml_integer(&a, ACPI_SLEEP_TYPE_S5);
	aml_integer(&a, 0);
	aml_close(&a, pkg);
	sb = aml_scope_open(&a, "\\_SB");
	acpi_dsdt_pci0(&a);
	acpi_dsdt_mbrd(&a);
	aml_close(&a, sb);
	ret = aml_status(&a);
	if (ret)
		return ret;
	memset(h, 0, sizeof(*h));
	acpi_header_init(h, "DSDT", sizeof(*h) + a.len, 2);
	acpi_seal(h);
	return (int)h->length;
}

/* The ECAM window of bus 0 (Linux uses it if e820 or MBRD reserves it). */
static int acpi_write_mcfg(const struct guest_mem *m, uint64_t addr)
{
	struct acpi_mcfg t;

	memset(&t, 0, sizeof(t));
	acpi_header_init(&t.h, "MCFG", sizeof(t), 1);
	t.base = PCI_ECAM_BASE;
	t.start_bus = t.end_bus = 0;
	acpi_seal(&t.h);
	return guest_mem_write(m, addr, &t, sizeof(t));
}

static int acpi_write_xsdt(const struct guest_mem *m, uint64_t addr,
			   const uint64_t entry[3])
{
	struct {
		struct acpi_header h;
		uint64_t entry[3];
	} __attribute__((packed)) x;

	memset(&x, 0, sizeof(x));
	acpi_header_init(&x.h, "XSDT", sizeof(x), 1);
	memcpy(x.entry, entry, sizeof(x.entry));
	acpi_seal(&x.h);
	return guest_mem_write(m, addr, &x, sizeof(x));
}

static int acpi_write_rsdp(const struct guest_mem *m, uint64_t xsdt)
{
	struct acpi_rsdp r = {.signature = "RSD PTR ",
			      .oem_id = "BERTH ",
			      .revision = 2,
			      .length = sizeof(r),
			      .xsdt_address = xsdt};

	r.checksum = boot_checksum(&r, 20);
	r.extended_checksum = boot_checksum(&r, sizeof(r));
	return guest_mem_write(m, ACPI_RSDP_ADDR, &r, sizeof(r));
}

/* Tables follow the RSDP one after another, 16-byte aligned. */
static uint64_t acpi_next(uint64_t addr, size_t len)
{
	return (addr + len + 15) & ~15ULL;
}

int acpi_write_tables(const struct guest_mem *m, unsigned nr_cpus)
{
	const uint64_t xsdt =
		acpi_next(ACPI_RSDP_ADDR, sizeof(struct acpi_rsdp));
	const uint64_t fadt = acpi_next(xsdt, sizeof(struct acpi_header) + 24);
	const uint64_t dsdt = acpi_next(fadt, sizeof(struct acpi_fadt));
	uint8_t dsdt_buf[ACPI_DSDT_MAX];
	uint8_t buf[sizeof(struct acpi_madt) +
		    MPTABLE_MAX_CPUS * sizeof(struct madt_lapic) + 64];
	uint64_t mcfg, madt;
	size_t madt_len;
	int dsdt_len, ret;

	if (!nr_cpus || nr_cpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	dsdt_len = acpi_build_dsdt(dsdt_buf, sizeof(dsdt_buf));
	if (dsdt_len < 0)
		return dsdt_len;
	mcfg = acpi_next(dsdt, (size_t)dsdt_len);
	madt = acpi_next(mcfg, sizeof(struct acpi_mcfg));
	madt_len = acpi_build_madt(buf, nr_cpus);
	if (madt + madt_len > ACPI_AREA_END)
		return -ENOSPC;
	ret = guest_mem_write(m, madt, buf, madt_len);
	if (!ret)
		ret = guest_mem_write(m, dsdt, dsdt_buf, (size_t)dsdt_len);
	if (!ret)
		ret = acpi_write_fadt(m, fadt, dsdt);
	if (!ret)
		ret = acpi_write_mcfg(m, mcfg);
	if (!ret)
		ret = acpi_write_xsdt(m, xsdt, (uint64_t[]){fadt, madt, mcfg});
	if (!ret)
		ret = acpi_write_rsdp(m, xsdt);
	return ret;
}
