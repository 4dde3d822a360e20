/* SPDX-License-Identifier: MIT */
/*
 * CPU discovery (Intel MP table, else ACPI MADT) and AP start-up. Tables are
 * read from ring 3 (the BIOS area is identity mapped); only the IPIs go
 * through ring 0. Each AP runs start.S's trampoline, then rt_ap_entry().
 */
#include "rt.h"

#define ICR_INIT	  0x00004500 /* INIT, level assert */
#define ICR_STARTUP	  0x00004600 /* SIPI; low byte = page number */
#define ICR_ALL_BUT_SELF  0x000c0000
#define INIT_DELAY_US	  500 /* KVM needs none; keep a token wait */
#define SIPI_DELAY_US	  200
#define BROADCAST_WAIT_MS 200 /* how long to count unlisted APs */

extern const char trampoline_start[], trampoline_end[];

static unsigned cpus_online = 1;
static uint32_t apic_of[MAX_CPUS];

static bool checksum_ok(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (n--)
		sum += *b++;
	return sum == 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* ---- Intel MP table (MP spec 1.4) ---------------------------------------- */

static const uint8_t *mp_find_floating(uint32_t start, uint32_t end)
{
	for (uint32_t a = start; a + 16 <= end; a += 16) {
		const uint8_t *p = phys(a);

		if (!memcmp(p, "_MP_", 4) && p[8] == 1 && checksum_ok(p, 16))
			return p;
	}
	return NULL;
}

static unsigned mp_cpus(uint32_t *ids, unsigned max)
{
	const uint8_t *fp, *t, *p, *end;
	uint32_t ebda;
	unsigned n = 0;

	/* MP spec order: the EBDA's first KiB (its segment is in the BIOS
	 * data area; berth and SeaBIOS use 0x9fc00), the last KiB of base
	 * memory, the BIOS ROM. */
	ebda = (uint32_t)get16(phys(0x40e)) << 4;
	fp = NULL;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		fp = mp_find_floating(ebda, ebda + 1024);
	if (!fp)
		fp = mp_find_floating(0x9fc00, 0xa0000);
	if (!fp)
		fp = mp_find_floating(0xf0000, 0x100000);
	/* feature byte 1 non-zero means a default configuration, no table */
	if (!fp || !get32(fp + 4) || fp[11])
		return 0;
	t = phys(get32(fp + 4));
	if (memcmp(t, "PCMP", 4) || get16(t + 4) < 44 ||
	    !checksum_ok(t, get16(t + 4)))
		return 0;
	end = t + get16(t + 4);
	for (p = t + 44; p < end && n < max;) {
		if (*p == 0) { /* processor: id, version, flags (1 = enabled) */
			if (p + 20 > end)
				break;
			if (p[3] & 1)
				ids[n++] = p[1];
			p += 20;
		} else if (*p <= 4) {
			p += 8;
		} else {
			break; /* unknown entry type: its length is unknown */
		}
	}
	return n;
}

/* ---- ACPI MADT ----------------------------------------------------------- */

static const uint8_t *acpi_rsdp(void)
{
	const struct hvm_start_info *si = start_info();
	const uint8_t *p;

	if (si && si->rsdp_paddr && si->rsdp_paddr < 1ULL << 32) {
		p = phys(si->rsdp_paddr);
		if (!memcmp(p, "RSD PTR ", 8) && checksum_ok(p, 20))
			return p;
	}
	for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
		p = phys(a);
		if (!memcmp(p, "RSD PTR ", 8) && checksum_ok(p, 20))
			return p;
	}
	return NULL;
}

const uint8_t *acpi_table(const char *sig)
{
	const uint8_t *rsdp = acpi_rsdp(), *sdt;
	uint64_t xsdt;
	unsigned width;

	if (!rsdp)
		return NULL;
	xsdt = rsdp[15] >= 2
		       ? get32(rsdp + 24) | (uint64_t)get32(rsdp + 28) << 32
		       : 0;
	if (xsdt && xsdt < 1ULL << 32) {
		sdt = phys(xsdt);
		width = 8;
	} else {
		sdt = phys(get32(rsdp + 16));
		width = 4;
	}
	if (!sdt || get32(sdt + 4) < 36)
		return NULL;
	for (uint32_t off = 36; off + width <= get32(sdt + 4); off += width) {
		uint64_t a = get32(sdt + off);
		const uint8_t *t;

		if (width == 8)
			a |= (uint64_t)get32(sdt + off + 4) << 32;
		if (!a || a >= 1ULL << 32)
			continue;
		t = phys(a);
		if (!memcmp(t, sig, 4) && checksum_ok(t, get32(t + 4)))
			return t;
	}
	return NULL;
}

/* FADT (ACPI 6.0, 5.2.9): SLEEP_CONTROL_REG is a Generic Address Structure
 * at offset 244: space ID (0 memory, 1 I/O), bit width, bit offset, access
 * size, then the 64-bit address. */
#define FADT_SLEEP_CONTROL 244
#define SLP_TYP_S5	   5 /* what berth's and QEMU microvm's \_S5 say */
#define SLP_EN		   (1U << 5)

void acpi_poweroff(void)
{
	const uint8_t *fadt = acpi_table("FACP");
	const uint8_t *gas = fadt + FADT_SLEEP_CONTROL;
	uint8_t v = SLP_TYP_S5 << 2 | SLP_EN;
	uint64_t addr;

	if (!fadt || get32(fadt + 4) < FADT_SLEEP_CONTROL + 12)
		return;
	addr = get32(gas + 4) | (uint64_t)get32(gas + 8) << 32;
	if (gas[0] == 1 && addr && addr <= 0xffff)
		outb(v, (uint16_t)addr);
	else if (gas[0] == 0 && addr && addr < 1ULL << 32)
		writeb(v, phys(addr));
	else
		return;
	udelay(100000); /* the VM should be gone by now */
}

static unsigned madt_cpus(uint32_t *ids, unsigned max)
{
	const uint8_t *t = acpi_table("APIC"), *p, *end;
	unsigned n = 0;

	if (!t)
		return 0;
	end = t + get32(t + 4);
	for (p = t + 44; p + 2 <= end && p[1] >= 2 && n < max; p += p[1]) {
		if (p[0] == 0 && p[1] >= 8 && (get32(p + 4) & 1))
			ids[n++] = p[3]; /* local APIC */
		else if (p[0] == 9 && p[1] >= 16 && (get32(p + 8) & 1))
			ids[n++] = get32(p + 4); /* local x2APIC */
	}
	return n;
}

unsigned cpus_find(uint32_t *ids, unsigned max, const char **source)
{
	uint32_t madt_ids[MAX_CPUS];
	unsigned n = mp_cpus(ids, max), m;

	/* The MP table unless the MADT knows more CPUs: SeaBIOS (QEMU q35)
	 * can list fewer CPUs in its MP table than there are. */
	m = madt_cpus(madt_ids, max < MAX_CPUS ? max : MAX_CPUS);
	if (m > n) {
		memcpy(ids, madt_ids, m * sizeof(*ids));
		*source = n ? "ACPI MADT, which lists more than the MP table"
			    : "ACPI MADT";
		return m;
	}
	*source = n ? "MP table" : "none";
	return n;
}

/* ---- AP start-up --------------------------------------------------------- */

/* Not CPUID leaf 1: on PVM hosts ring-3 CPUID runs natively and reports the
 * APIC ID of whichever host CPU the vCPU thread is on at the moment. */
unsigned cpu_apic_id(void)
{
	return sys_lapic_read(0x20) >> 24;
}

unsigned cpu_apic_of(unsigned cpu)
{
	return cpu < MAX_CPUS ? apic_of[cpu] : 0;
}

__attribute__((weak)) void ap_main(unsigned cpu)
{
	(void)cpu;
}

void rt_ap_entry(unsigned cpu);

/* Ring-3 entry of AP number cpu (1..MAX_CPUS-1), from ap_start64. */
__noreturn void rt_ap_entry(unsigned cpu)
{
	apic_of[cpu] = cpu_apic_id();
	__atomic_fetch_add(&cpus_online, 1, __ATOMIC_SEQ_CST);
	ap_main(cpu);
	sys_halt();
}

static unsigned online(void)
{
	return __atomic_load_n(&cpus_online, __ATOMIC_SEQ_CST);
}

static bool apic_online(uint32_t id)
{
	unsigned n = online();

	for (unsigned c = 1; c < n && c < MAX_CPUS; c++)
		if (__atomic_load_n(&apic_of[c], __ATOMIC_RELAXED) == id)
			return true;
	return false;
}

/* Wait until want CPUs are online or the deadline passes. */
static void wait_online(unsigned want, uint64_t deadline)
{
	while (online() < want && (int64_t)(rdtsc() - deadline) < 0)
		cpu_relax();
}

unsigned smp_boot(unsigned timeout_ms, const char **source)
{
	const uint32_t sipi = ICR_STARTUP | TRAMPOLINE_ADDR >> 12;
	uint32_t ids[MAX_CPUS];
	unsigned n = cpus_find(ids, MAX_CPUS, source);
	unsigned self = cpu_apic_id();

	memcpy(phys(TRAMPOLINE_ADDR), trampoline_start,
	       trampoline_end - trampoline_start);
	tsc_khz(); /* calibrate before the timed waits */
	if (!n) {
		/* No table: wake whoever is there and count check-ins. */
		*source = "INIT-SIPI broadcast";
		sys_send_ipi(0, ICR_INIT | ICR_ALL_BUT_SELF);
		udelay(INIT_DELAY_US);
		sys_send_ipi(0, sipi | ICR_ALL_BUT_SELF);
		udelay(SIPI_DELAY_US);
		sys_send_ipi(0, sipi | ICR_ALL_BUT_SELF);
		udelay(BROADCAST_WAIT_MS * 1000);
		return online();
	}
	/* All APs in parallel: INIT each, then SIPI each, twice. A second
	 * SIPI reaches only APs that have not started (others ignore it). */
	for (unsigned i = 0; i < n; i++)
		if (ids[i] != self)
			sys_send_ipi(ids[i], ICR_INIT);
	udelay(INIT_DELAY_US);
	for (unsigned i = 0; i < n; i++)
		if (ids[i] != self)
			sys_send_ipi(ids[i], sipi);
	wait_online(n, tsc_deadline(SIPI_DELAY_US));
	for (unsigned i = 0; i < n; i++)
		if (ids[i] != self && !apic_online(ids[i]))
			sys_send_ipi(ids[i], sipi);
	wait_online(n, tsc_deadline((uint64_t)timeout_ms * 1000));
	return online();
}
