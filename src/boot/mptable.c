/* SPDX-License-Identifier: MIT */
#include "boot/mptable.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"

struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount; /* entry count */
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature; /* CPUID signature */
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc { /* also used for local interrupt entries */
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16, "mpf layout");
_Static_assert(sizeof(struct mpc_table) == 44, "mpc header layout");
_Static_assert(sizeof(struct mpc_cpu) == 20, "mpc cpu layout");

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };

#define CPU_ENABLED    1
#define CPU_BOOTPROC   2
#define APIC_VERSION   0x14
#define IOAPIC_VERSION 0x11
#define ISA_BUS_ID     0
#define ISA_IRQS       16

/* Append one entry to the table being built in buf. */
static void mp_put(uint8_t *buf, size_t *off, const void *entry, size_t len,
		   uint16_t *count)
{
	memcpy(buf + *off, entry, len);
	*off += len;
	(*count)++;
}

static void mp_put_cpus(uint8_t *buf, size_t *off, uint16_t *count,
			unsigned nr_cpus)
{
	unsigned eax = 0, ebx, ecx, edx = 0;

	__get_cpuid(1, &eax, &ebx, &ecx, &edx);
	for (unsigned i = 0; i < nr_cpus; i++) {
		struct mpc_cpu c = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = APIC_VERSION,
			.cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROC : 0),
			.cpufeature = eax,
			.featureflag = edx,
		};
		mp_put(buf, off, &c, sizeof(c), count);
	}
}

/* ISA bus, one I/O APIC, ISA IRQ n on pin n (KVM's default GSI routing),
 * and LINT0 = ExtINT, LINT1 = NMI on every local APIC. */
static void mp_put_irqs(uint8_t *buf, size_t *off, uint16_t *count,
			uint8_t ioapic_id)
{
	struct mpc_bus bus = {MP_BUS, ISA_BUS_ID, "ISA   "};
	struct mpc_ioapic io = {MP_IOAPIC, ioapic_id, IOAPIC_VERSION, 1,
				MPTABLE_IOAPIC_ADDR};
	struct mpc_intsrc e = {
		.type = MP_INTSRC, .srcbus = ISA_BUS_ID, .dstapic = ioapic_id};

	mp_put(buf, off, &bus, sizeof(bus), count);
	mp_put(buf, off, &io, sizeof(io), count);
	for (unsigned irq = 0; irq < ISA_IRQS; irq++) {
		e.irqtype = MP_IRQ_INT;
		e.srcbusirq = e.dstirq = (uint8_t)irq;
		mp_put(buf, off, &e, sizeof(e), count);
	}
	e = (struct mpc_intsrc){MP_LINTSRC, MP_IRQ_EXTINT, 0, ISA_BUS_ID,
				0,	    0xff,	   0};
	mp_put(buf, off, &e, sizeof(e), count);
	e.irqtype = MP_IRQ_NMI;
	e.dstirq = 1;
	mp_put(buf, off, &e, sizeof(e), count);
}

int mptable_write(const struct guest_mem *m, unsigned nr_cpus)
{
	const uint64_t table_gpa = BOOT_EBDA_START + sizeof(struct mpf_intel);
	size_t size = sizeof(struct mpc_table) +
		      nr_cpus * sizeof(struct mpc_cpu) +
		      (2 + ISA_IRQS + 3) * sizeof(struct mpc_intsrc);
	struct mpf_intel mpf = {
		.signature = "_MP_", .length = 1, .specification = 4};
	struct mpc_table *hdr;
	size_t off = sizeof(*hdr);
	uint8_t *buf;
	uint16_t count = 0;
	int ret;

	if (!nr_cpus || nr_cpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	mp_put_cpus(buf, &off, &count, nr_cpus);
	mp_put_irqs(buf, &off, &count, (uint8_t)nr_cpus);
	hdr = (struct mpc_table *)buf;
	memcpy(hdr->signature, "PCMP", 4);
	memcpy(hdr->oem, "BERTH   ", 8);
	memcpy(hdr->productid, "BERTH VM    ", 12);
	hdr->length = (uint16_t)off;
	hdr->spec = 4;
	hdr->oemcount = count;
	hdr->lapic = MPTABLE_LAPIC_ADDR;
	hdr->checksum = boot_checksum(buf, off);

	mpf.physptr = (uint32_t)table_gpa;
	mpf.checksum = boot_checksum(&mpf, sizeof(mpf));
	ret = guest_mem_write(m, BOOT_EBDA_START, &mpf, sizeof(mpf));
	if (!ret)
		ret = guest_mem_write(m, table_gpa, buf, off);
	free(buf);
	return ret;
}
