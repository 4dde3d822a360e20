/* SPDX-License-Identifier: MIT */
#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

#define CMD_READ_CTR	 0x20
#define CMD_WRITE_CTR	 0x60
#define CMD_AUX_DISABLE	 0xa7
#define CMD_AUX_ENABLE	 0xa8
#define CMD_AUX_TEST	 0xa9
#define CMD_SELF_TEST	 0xaa
#define CMD_KBD_TEST	 0xab
#define CMD_KBD_DISABLE	 0xad
#define CMD_KBD_ENABLE	 0xae
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_PULSE_RESET	 0xfe

#define STATUS_OBF     0x01 /* output buffer full: data port has a byte */
#define STATUS_SYSFLAG 0x04 /* POST passed */
#define STATUS_CMD     0x08 /* last write was to the command port */

#define CTR_KBDINT     0x01 /* IRQ 1 when a keyboard byte arrives */
#define CTR_SYSFLAG    0x04
#define CTR_KBDDIS     0x10
#define CTR_AUXDIS     0x20
#define CTR_XLATE      0x40
#define CTR_DEFAULT    (CTR_KBDINT | CTR_SYSFLAG | CTR_AUXDIS | CTR_XLATE)
#define OUT_RESET_LINE 0x01 /* output port bit 0 low holds the CPU in reset */

void i8042_init(struct i8042 *k, void (*reset)(void *ctx),
		void (*irq)(void *ctx, int level), void *ctx)
{
	memset(k, 0, sizeof(*k));
	k->reset = reset;
	k->irq = irq;
	k->ctx = ctx;
	k->ctr = CTR_DEFAULT;
	k->out = OUT_RESET_LINE;
	pthread_mutex_init(&k->lock, NULL);
}

/* Queue a byte for the data port; controller replies go in front of
 * nothing else, so one queue serves both. Caller holds the lock. */
static bool i8042_put(struct i8042 *k, uint8_t v)
{
	if (k->count == I8042_QUEUE)
		return false;
	k->queue[(k->head + k->count++) % I8042_QUEUE] = v;
	return true;
}

/* Pulse IRQ 1 for a keyboard byte now at the head of the queue. */
static void i8042_kbd_irq(struct i8042 *k)
{
	if (k->irq && k->count && (k->ctr & CTR_KBDINT)) {
		k->irq(k->ctx, 1);
		k->irq(k->ctx, 0);
	}
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Set 1 make codes, then break codes in reverse order. */
	static const uint8_t keys[] = {0x1d, 0x38, 0xe0, 0x53,
				       0xe0, 0xd3, 0xb8, 0x9d};
	int ret = 0;
	bool idle;

	pthread_mutex_lock(&k->lock);
	idle = !k->count;
	if (k->count + sizeof(keys) > I8042_QUEUE || (k->ctr & CTR_KBDDIS)) {
		ret = -EBUSY;
	} else {
		for (unsigned i = 0; i < sizeof(keys); i++)
			(void)i8042_put(k, keys[i]);
		/* A full output buffer has interrupted already: the next
		 * byte interrupts when the guest reads this one. */
		if (idle)
			i8042_kbd_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

static void i8042_data_read(void *opaque, uint64_t offset, void *data,
			    unsigned len)
{
	struct i8042 *k = opaque;
	uint8_t v = 0;

	(void)offset;
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (k->count) {
		v = k->queue[k->head];
		k->head = (k->head + 1) % I8042_QUEUE;
		k->count--;
		/* The next byte raises the interrupt again, as a real
		 * keyboard's next byte would. */
		i8042_kbd_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	*(uint8_t *)data = v;
}

/* A byte written to the data port: the argument of a pending controller
 * command, or a command for the keyboard itself. */
static void i8042_data_write(void *opaque, uint64_t offset, const void *data,
			     unsigned len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data, cmd;
	bool reset = false, idle;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&k->lock);
	idle = !k->count;
	cmd = k->pending_cmd;
	k->pending_cmd = 0;
	if (cmd == CMD_WRITE_OUTPUT) {
		k->out = v;
		reset = !(v & OUT_RESET_LINE);
	} else if (cmd == CMD_WRITE_CTR) {
		k->ctr = v;
	} else {
		/* A keyboard command: ACK; reset also reports its self
		 * test passed. */
		(void)(i8042_put(k, 0xfa) && (v != 0xff || i8042_put(k, 0xaa)));
		if (idle)
			i8042_kbd_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		k->reset(k->ctx);
}

static void i8042_status_read(void *opaque, uint64_t offset, void *data,
			      unsigned len)
{
	struct i8042 *k = opaque;
	uint8_t v;

	(void)offset;
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	v = STATUS_SYSFLAG | (k->count ? STATUS_OBF : 0) |
	    (k->pending_cmd ? STATUS_CMD : 0);
	pthread_mutex_unlock(&k->lock);
	*(uint8_t *)data = v;
}

static void i8042_command_write(void *opaque, uint64_t offset, const void *data,
				unsigned len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)offset;
	(void)len;
	/* 0xf0-0xff pulse output-port bits low; bit 0 is the CPU reset. */
	if ((v & 0xf0) == 0xf0 && !(v & 0x01)) {
		k->reset(k->ctx);
		return;
	}
	pthread_mutex_lock(&k->lock);
	k->pending_cmd = 0;
	switch (v) {
	case CMD_READ_CTR:
		(void)i8042_put(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPUT:
		k->pending_cmd = v;
		break;
	case CMD_SELF_TEST:
		(void)i8042_put(k, 0x55);
		break;
	case CMD_KBD_TEST:
		(void)i8042_put(k, 0x00);
		break;
	case CMD_AUX_TEST: /* no mouse: the clock line is stuck low */
		(void)i8042_put(k, 0x01);
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ctr &= (uint8_t)~CTR_AUXDIS;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&k->lock);
}

const struct bus_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

const struct bus_ops i8042_command_ops = {
	.read = i8042_status_read,
	.write = i8042_command_write,
};
