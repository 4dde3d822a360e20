/* SPDX-License-Identifier: MIT */
/* The part of the i8042 keyboard controller a PC guest uses to reset. */
#ifndef BERTH_DEVICES_I8042_H
#define BERTH_DEVICES_I8042_H

#include "bus/bus.h"

#define I8042_DATA_PORT	   0x60
#define I8042_COMMAND_PORT 0x64

struct i8042 {
	void (*reset)(void *ctx); /* the guest pulsed the reset line */
	void *ctx;
	uint8_t pending_cmd; /* command awaiting a data byte, or 0 */
	uint8_t out;	     /* the output port's last value */
};

/* Register i8042_data_ops at port 0x60 and i8042_command_ops at 0x64, both
 * with the same struct i8042 as opaque. */
extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_command_ops;

#endif
