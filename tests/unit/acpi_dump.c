/* SPDX-License-Identifier: MIT */
/* Write berth's ACPI tables (2 CPUs) to fake RAM and print the one named by
 * its signature (DSDT, FACP, APIC, MCFG) to stdout, for tests/acpi-iasl.sh
 * to check with ACPICA's iasl and acpiexec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "boot/acpi.h"

int main(int argc, char **argv)
{
	static struct guest_mem m;
	size_t size = 2 << 20;
	uint8_t *ram = calloc(1, size);
	const char *sig = argc > 1 ? argv[1] : "DSDT";
	uint64_t xsdt, fadt, t;
	uint32_t xlen, len;

	if (!ram || guest_mem_add_region(&m, 0, ram, size) ||
	    acpi_write_tables(&m, 2))
		return 1;
	memcpy(&xsdt, ram + ACPI_RSDP_ADDR + 24, 8);
	memcpy(&xlen, ram + xsdt + 4, 4);
	for (uint32_t i = 0; i < (xlen - 36) / 8; i++) {
		memcpy(&t, ram + xsdt + 36 + 8 * i, 8);
		if (!strcmp(sig, "DSDT") && !memcmp(ram + t, "FACP", 4)) {
			memcpy(&fadt, ram + t + 140, 8);
			t = fadt;
		} else if (memcmp(ram + t, sig, 4)) {
			continue;
		}
		memcpy(&len, ram + t + 4, 4);
		fprintf(stderr, "%.4s at 0x%llx, %u bytes\n", (char *)ram + t,
			(unsigned long long)t, len);
		fwrite(ram + t, 1, len, stdout);
		return 0;
	}
	return 1;
}
