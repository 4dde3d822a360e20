/* SPDX-License-Identifier: MIT */
#include "devices/uart.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Register offsets and bits, from the 16550A data sheet. */
#define REG_RBR_THR 0
#define REG_IER	    1
#define REG_IIR_FCR 2
#define REG_LCR	    3
#define REG_MCR	    4
#define REG_LSR	    5
#define REG_MSR	    6
#define REG_SCR	    7

#define IER_RDI	 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI	 0x08

#define IIR_NO_INT  0x01
#define IIR_THRI    0x02
#define IIR_RDI	    0x04
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI	0x40
#define MSR_DCD 0x80

/* Caller holds u->lock. Recompute the interrupt line from pending sources. */
static void uart_update_irq(struct uart *u)
{
	int level = ((u->ier & IER_RDI) && u->rx_count) ||
		    ((u->ier & IER_THRI) && u->thr_irq_pending);

	if (level != u->irq_level && u->set_irq)
		u->set_irq(u->irq_ctx, level);
	u->irq_level = level;
}

int uart_init(struct uart *u, int out_fd, void (*set_irq)(void *, int),
	      void *irq_ctx)
{
	memset(u, 0, sizeof(*u));
	if (pthread_mutex_init(&u->lock, NULL))
		return -ENOMEM;
	u->out_fd = out_fd;
	u->set_irq = set_irq;
	u->irq_ctx = irq_ctx;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	u->mcr = MCR_OUT2;
	return 0;
}

void uart_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

/* Caller holds u->lock. */
static size_t uart_rx_push(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len && u->rx_count < UART_RX_SIZE) {
		u->rx[(u->rx_head + u->rx_count) % UART_RX_SIZE] = buf[n++];
		u->rx_count++;
	}
	if (n)
		u->lsr |= LSR_DR;
	return n;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	/* In loopback the line is disconnected from the outside world. */
	n = (u->mcr & MCR_LOOP) ? 0 : uart_rx_push(u, buf, len);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart_rx_room(struct uart *u)
{
	size_t room;

	pthread_mutex_lock(&u->lock);
	room = (u->mcr & MCR_LOOP) ? 0 : UART_RX_SIZE - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return room;
}

/* Caller holds u->lock. Returns true if c must go out on out_fd, which
 * the caller does after dropping the lock. */
static bool uart_transmit(struct uart *u, uint8_t c)
{
	/* Transmission is instant, so THR is empty again at once. */
	u->thr_irq_pending = true;
	if (u->mcr & MCR_LOOP) {
		uart_rx_push(u, &c, 1);
		return false;
	}
	return u->out_fd >= 0;
}

/* Without the lock: a console that blocks (a full pipe, a stopped
 * terminal) stalls only this vCPU, never the console thread's input path,
 * and stopping the VM interrupts it (EINTR from the kick signal). Output
 * is best effort: an error or a stop drops the byte. */
static void uart_output(struct uart *u, uint8_t c)
{
	while (write(u->out_fd, &c, 1) < 0 && errno == EINTR)
		if (u->stopping && atomic_load(u->stopping))
			return;
}

static uint8_t uart_read_rbr(struct uart *u)
{
	uint8_t c = 0;

	if (u->rx_count) {
		c = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_RX_SIZE;
		u->rx_count--;
	}
	if (!u->rx_count)
		u->lsr &= ~LSR_DR;
	return c;
}

static uint8_t uart_read_iir(struct uart *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0;

	if ((u->ier & IER_RDI) && u->rx_count)
		return fifo | IIR_RDI;
	if ((u->ier & IER_THRI) && u->thr_irq_pending) {
		/* Reading IIR while THRI is the source clears it. */
		u->thr_irq_pending = false;
		return fifo | IIR_THRI;
	}
	return fifo | IIR_NO_INT;
}

/* In loopback the modem inputs follow the modem outputs. */
static uint8_t uart_read_msr(const struct uart *u)
{
	uint8_t m = u->mcr;

	if (!(m & MCR_LOOP))
		return u->msr;
	return ((m & MCR_RTS) ? MSR_CTS : 0) | ((m & MCR_DTR) ? MSR_DSR : 0) |
	       ((m & MCR_OUT1) ? MSR_RI : 0) | ((m & MCR_OUT2) ? MSR_DCD : 0);
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		return dlab ? u->dll : uart_read_rbr(u);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		return uart_read_iir(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return u->lsr;
	case REG_MSR:
		return uart_read_msr(u);
	default:
		return u->scr;
	}
}

/* Caller holds u->lock; returns true if v is to be output (uart_output). */
static bool uart_write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			u->dll = v;
		else
			return uart_transmit(u, v);
		break;
	case REG_IER:
		if (dlab) {
			u->dlm = v;
			break;
		}
		/* Enabling THRI with THR empty raises it at once. */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thr_irq_pending = true;
		u->ier = v & 0x0f;
		break;
	case REG_IIR_FCR:
		u->fcr = v & (FCR_ENABLE | 0xc0);
		if (v & FCR_CLEAR_RX) {
			u->rx_count = 0;
			u->lsr &= ~LSR_DR;
		}
		break;
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR:
		u->mcr = v & 0x1f;
		break;
	case REG_SCR:
		u->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
	return false;
}

static void uart_bus_read(void *opaque, uint64_t offset, void *data,
			  unsigned len)
{
	struct uart *u = opaque;

	memset(data, 0, len);
	pthread_mutex_lock(&u->lock);
	*(uint8_t *)data = uart_read_reg(u, offset & 7);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_bus_write(void *opaque, uint64_t offset, const void *data,
			   unsigned len)
{
	struct uart *u = opaque;
	uint8_t v = *(const uint8_t *)data;
	bool out;

	(void)len;
	pthread_mutex_lock(&u->lock);
	out = uart_write_reg(u, offset & 7, v);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (out)
		uart_output(u, v);
}

const struct bus_ops uart_bus_ops = {
	.read = uart_bus_read,
	.write = uart_bus_write,
};
