/* SPDX-License-Identifier: MIT */
/*
 * A port compatible with QEMU's isa-debug-exit: a guest write of value v
 * ends the VM with exit status (2v + 1) & 0xff, so one test guest reports
 * the same result under berth and under QEMU.
 */
#ifndef BERTH_DEVICES_DEBUG_EXIT_H
#define BERTH_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

#include "bus/bus.h"

#define DEBUG_EXIT_PORT	  0xf4
#define DEBUG_EXIT_NPORTS 4

struct debug_exit {
	void (*exit)(void *ctx, int status);
	void *ctx;
};

/* The exit status for a written value, as QEMU's isa-debug-exit computes it. */
int debug_exit_status(uint32_t value);

extern const struct bus_ops debug_exit_bus_ops;

/* A port that accepts and ignores writes (POST codes on 0x80). */
extern const struct bus_ops sink_bus_ops;

#endif
