/* SPDX-License-Identifier: MIT */
/*
 * A 16550A UART: transmit to a file descriptor, receive from the host
 * console, FIFO and interrupt identification as the 8250 driver expects,
 * loopback for the driver's self-test, and interrupts on one ISA line.
 */
#ifndef BERTH_DEVICES_UART_H
#define BERTH_DEVICES_UART_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ  4
#define UART_NR_PORTS  8
#define UART_RX_SIZE   256

struct uart {
	pthread_mutex_t lock;
	int out_fd; /* -1 drops output */
	/* If set and true, a transmit interrupted by a signal is dropped:
	 * the VM is stopping (points at struct vm's stopping flag). */
	const atomic_bool *stopping;
	void (*set_irq)(void *ctx, int level);
	void *irq_ctx;
	int irq_level;
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	bool thr_irq_pending; /* THR-empty interrupt waiting for an IIR read */
	uint8_t rx[UART_RX_SIZE];
	unsigned rx_head, rx_count;
};

extern const struct bus_ops uart_bus_ops;

/* Reset the UART to its power-on state. set_irq may be NULL. */
int uart_init(struct uart *u, int out_fd, void (*set_irq)(void *, int),
	      void *irq_ctx) __attribute__((warn_unused_result));

/* Release the lock. */
void uart_destroy(struct uart *u);

/* Queue bytes from the host for the guest to read; returns how many fitted
 * (the rest should be offered again later). */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

/* Free space in the receive buffer. */
size_t uart_rx_room(struct uart *u);

#endif
