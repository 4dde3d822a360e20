/* SPDX-License-Identifier: MIT */
#include "devices/i8042.h"

#include <string.h>

#define CMD_WRITE_OUTPUT 0xd1
#define CMD_PULSE_RESET	 0xfe
#define STATUS_SYSFLAG	 0x04 /* POST passed: Linux checks nothing else */
#define OUT_RESET_LINE	 0x01 /* output port bit 0 low holds the CPU in reset */

/* No keyboard: the output buffer is always empty, data reads 0. */
static void i8042_data_read(void *opaque, uint64_t offset, void *data,
			    unsigned len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, len);
}

static void i8042_data_write(void *opaque, uint64_t offset, const void *data,
			     unsigned len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)offset;
	(void)len;
	if (k->pending_cmd != CMD_WRITE_OUTPUT)
		return;
	k->pending_cmd = 0;
	k->out = v;
	if (!(v & OUT_RESET_LINE))
		k->reset(k->ctx);
}

static void i8042_status_read(void *opaque, uint64_t offset, void *data,
			      unsigned len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, len);
	*(uint8_t *)data = STATUS_SYSFLAG;
}

static void i8042_command_write(void *opaque, uint64_t offset, const void *data,
				unsigned len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)offset;
	(void)len;
	k->pending_cmd = v == CMD_WRITE_OUTPUT ? v : 0;
	/* 0xf0-0xff pulse output-port bits low; bit 0 is the CPU reset. */
	if ((v & 0xf0) == 0xf0 && !(v & 0x01))
		k->reset(k->ctx);
}

const struct bus_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

const struct bus_ops i8042_command_ops = {
	.read = i8042_status_read,
	.write = i8042_command_write,
};
