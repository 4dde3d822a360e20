/* SPDX-License-Identifier: MIT */
/*
 * demo: what "berth run" boots when given nothing. Shows the VM from the
 * inside (CPU, hypervisor, CPUs, memory, command line, devices, TSC), then
 * waits for a key on COM1 and powers off.
 */
#include "rt.h"

#define WAIT_S 30

static void show_cpu(void)
{
	uint32_t r[4], brand[13] = {0}, vendor[4] = {0};

	cpuid(0, 0, r);
	vendor[0] = r[1];
	vendor[1] = r[3];
	vendor[2] = r[2];
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000004)
		for (unsigned i = 0; i < 3; i++)
			cpuid(0x80000002 + i, 0, brand + 4 * i);
	cpuid(1, 0, r);
	printf("  cpu:        %s, family %u model %u stepping %u\n",
	       (char *)vendor, ((r[0] >> 8) & 0xf) + ((r[0] >> 20) & 0xff),
	       ((r[0] >> 4) & 0xf) | ((r[0] >> 12) & 0xf0), r[0] & 0xf);
	if (brand[0]) {
		const char *b = (const char *)brand;

		while (*b == ' ')
			b++;
		printf("              %s\n", b);
	}
}

static void show_hypervisor(void)
{
	uint32_t r[4], sig[4] = {0};

	cpuid(1, 0, r);
	if (!(r[2] & 1U << 31)) {
		printf("  hypervisor: none reported (CPUID.1:ECX bit 31 "
		       "clear)\n");
		return;
	}
	cpuid(0x40000000, 0, r);
	sig[0] = r[1];
	sig[1] = r[2];
	sig[2] = r[3];
	printf("  hypervisor: \"%s\", leaves up to 0x%x\n", (char *)sig, r[0]);
}

static void show_cpus(void)
{
	uint32_t ids[MAX_CPUS];
	const char *source;
	unsigned n = cpus_find(ids, MAX_CPUS, &source);

	if (!n) {
		printf("  cpus:       no MP table or ACPI MADT found\n");
		return;
	}
	printf("  cpus:       %u (from the %s), APIC IDs", n, source);
	for (unsigned i = 0; i < n; i++)
		printf(" %u", ids[i]);
	printf("; this is APIC %u\n", cpu_apic_id());
}

static void show_memory(void)
{
	static const char *const types[] = {"?",    "RAM", "reserved",
					    "ACPI", "NVS", "unusable"};
	const struct hvm_memmap_entry *map;
	unsigned n = memmap(&map);
	uint64_t ram = 0;

	printf("  memory map: %u entries\n", n);
	for (unsigned i = 0; i < n; i++) {
		const struct hvm_memmap_entry *e = &map[i];

		if (!e->size)
			continue;
		printf("    %016lx-%016lx %s\n", e->addr, e->addr + e->size - 1,
		       e->type < ARRAY_SIZE(types) ? types[e->type] : "?");
		if (e->type == 1)
			ram += e->size;
	}
	printf("  RAM:        %lu MiB (%lu KiB)\n", ram >> 20, ram >> 10);
}

/* The scratch register (base + 7) holds what is written if a 16550 is
 * there; all ones or a mismatch means no UART. */
static void show_serial(void)
{
	bool ok;

	outb(0x5a, COM1 + 7);
	ok = inb(COM1 + 7) == 0x5a;
	outb(0xa5, COM1 + 7);
	ok = ok && inb(COM1 + 7) == 0xa5;
	printf("  COM1:       16550 at 0x3f8, scratch register %s\n",
	       ok ? "works" : "does not hold a value");
}

static uint32_t pci_read(unsigned dev, unsigned fn, unsigned reg)
{
	outl(0x80000000U | dev << 11 | fn << 8 | reg, 0xcf8);
	return inl(0xcfc);
}

static const char *pci_class(unsigned c)
{
	static const char *const names[] = {
		"unclassified", "storage", "network", "display",
		"multimedia",	"memory",  "bridge",  "communication",
		"system",	"input",   "docking", "processor",
		"serial bus",
	};

	return c < ARRAY_SIZE(names) ? names[c] : "other";
}

/* Bus 0 through configuration mechanism #1 (0xcf8/0xcfc). */
static void show_pci(void)
{
	unsigned found = 0;

	for (unsigned dev = 0; dev < 32; dev++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			uint32_t id = pci_read(dev, fn, 0), cls;

			if ((id & 0xffff) == 0xffff) {
				if (fn == 0)
					break;
				continue;
			}
			cls = pci_read(dev, fn, 8);
			printf("  pci 00:%02x.%u: %04x:%04x class %02x.%02x "
			       "(%s)\n",
			       dev, fn, id & 0xffff, id >> 16, cls >> 24,
			       (cls >> 16) & 0xff, pci_class(cls >> 24));
			found++;
			/* header type bit 7: more functions */
			if (fn == 0 && !(pci_read(dev, 0, 0xc) & 0x800000))
				break;
		}
	}
	if (!found)
		printf("  pci:        no PCI devices\n");
}

int main(void)
{
	uint64_t khz;

	/* printf keeps 255 bytes per call: one line at a time */
	printf("\n  +----------------------------------------------+\n");
	printf("  | Hello from inside a berth virtual machine!   |\n");
	printf("  | This demo guest is a tiny kernel describing  |\n");
	printf("  | the machine it finds itself in.              |\n");
	printf("  +----------------------------------------------+\n\n");
	show_cpu();
	show_hypervisor();
	show_cpus();
	show_memory();
	printf("  cmdline:    \"%s\"\n", cmdline());
	show_serial();
	show_pci();
	khz = tsc_khz();
	printf("  tsc:        %lu.%03lu MHz (%s)\n\n", khz / 1000, khz % 1000,
	       tsc_source());
	printf("Press any key to power off (or wait %d s).\n", WAIT_S);
	if (serial_getc((uint64_t)WAIT_S * 1000000) < 0)
		printf("No key pressed: powering off.\n");
	else
		printf("Key pressed: powering off.\n");
	reset();
}
