/* SPDX-License-Identifier: MIT */
/*
 * The i8042 keyboard controller, as much as a PC guest uses: the reset line
 * (a reboot), the controller's command byte and self tests, and a keyboard
 * whose only keys are the ones the VMM presses: Ctrl-Alt-Del, the request
 * to shut down that berth's control API sends (as Firecracker does).
 * Scancodes come out translated (set 1), on IRQ 1.
 */
#ifndef BERTH_DEVICES_I8042_H
#define BERTH_DEVICES_I8042_H

#include <pthread.h>
#include <stdbool.h>

#include "bus/bus.h"

#define I8042_DATA_PORT	   0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_IRQ	   1
#define I8042_QUEUE	   16

struct i8042 {
	void (*reset)(void *ctx);	   /* the guest pulsed the reset line */
	void (*irq)(void *ctx, int level); /* IRQ 1; may be NULL */
	void *ctx;
	pthread_mutex_t lock;	    /* vCPU threads and the VMM's key presses */
	uint8_t pending_cmd;	    /* command awaiting a data byte, or 0 */
	uint8_t out;		    /* the output port's last value */
	uint8_t ctr;		    /* controller command byte */
	uint8_t queue[I8042_QUEUE]; /* bytes for the data port */
	unsigned head, count;
};

/* Set up k with its callbacks (reset required, irq optional). */
void i8042_init(struct i8042 *k, void (*reset)(void *ctx),
		void (*irq)(void *ctx, int level), void *ctx);

/* Press and release Ctrl-Alt-Del. -EBUSY if the guest has not read the
 * last key presses yet (its keyboard is not being serviced). */
int i8042_ctrl_alt_del(struct i8042 *k) __attribute__((warn_unused_result));

/* Register i8042_data_ops at port 0x60 and i8042_command_ops at 0x64, both
 * with the same struct i8042 as opaque. */
extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_command_ops;

#endif
