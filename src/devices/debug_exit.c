/* SPDX-License-Identifier: MIT */
#include "devices/debug_exit.h"

#include <string.h>

int debug_exit_status(uint32_t value)
{
	return (int)(((value << 1) | 1) & 0xff);
}

static void debug_exit_bus_write(void *opaque, uint64_t offset,
				 const void *data, unsigned len)
{
	struct debug_exit *d = opaque;
	uint32_t v = 0;

	if (offset)
		return;
	memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));
	d->exit(d->ctx, debug_exit_status(v));
}

const struct bus_ops debug_exit_bus_ops = {
	.write = debug_exit_bus_write,
};

static void sink_bus_read(void *opaque, uint64_t offset, void *data,
			  unsigned len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0xff, len);
}

static void sink_bus_write(void *opaque, uint64_t offset, const void *data,
			   unsigned len)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)len;
}

const struct bus_ops sink_bus_ops = {
	.read = sink_bus_read,
	.write = sink_bus_write,
};
