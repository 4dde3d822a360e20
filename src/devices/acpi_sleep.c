/* SPDX-License-Identifier: MIT */
#include "devices/acpi_sleep.h"

#include <string.h>

#define SLP_EN	   0x20
#define SLP_TYP(v) (((v) >> 2) & 7)

/* Status reads as "not waking"; control reads as zero. */
static void acpi_sleep_read(void *opaque, uint64_t off, void *data,
			    unsigned len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void acpi_sleep_write(void *opaque, uint64_t off, const void *data,
			     unsigned len)
{
	struct acpi_sleep *s = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	/* Only S5 exists: berth has no sleep states to resume from. */
	if (off == 0 && (v & SLP_EN) && SLP_TYP(v) == ACPI_SLEEP_TYPE_S5)
		s->power_off(s->ctx);
}

const struct bus_ops acpi_sleep_ops = {
	.read = acpi_sleep_read,
	.write = acpi_sleep_write,
};
