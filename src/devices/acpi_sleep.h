/* SPDX-License-Identifier: MIT */
/*
 * The sleep control and status registers of a hardware-reduced ACPI
 * platform (ACPI 6.0, 4.8.3.7): the FADT points at them and the DSDT's
 * \_S5 gives SLP_TYP 5, so an OS powers off by writing SLP_TYP 5 with
 * SLP_EN set.
 */
#ifndef BERTH_DEVICES_ACPI_SLEEP_H
#define BERTH_DEVICES_ACPI_SLEEP_H

#include "bus/bus.h"

#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_SLEEP_STATUS_PORT	0x601
#define ACPI_SLEEP_NPORTS	2
#define ACPI_SLEEP_TYPE_S5	5

struct acpi_sleep {
	void (*power_off)(void *ctx);
	void *ctx;
};

/* Register at ACPI_SLEEP_CONTROL_PORT, ACPI_SLEEP_NPORTS ports. */
extern const struct bus_ops acpi_sleep_ops;

#endif
