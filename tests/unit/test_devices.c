/* SPDX-License-Identifier: MIT */
/* The legacy devices through their bus callbacks: 16550 UART, i8042 reset,
 * debug-exit port. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/acpi_sleep.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/uart.h"

struct uart_fixture {
	struct uart u;
	int pipe[2];
	int irq;
	int irq_changes;
};

static void fake_irq(void *ctx, int level)
{
	struct uart_fixture *f = ctx;

	f->irq = level;
	f->irq_changes++;
}

static int uart_setup(void **state)
{
	static struct uart_fixture f;

	memset(&f, 0, sizeof(f));
	if (pipe2(f.pipe, O_NONBLOCK) ||
	    uart_init(&f.u, f.pipe[1], fake_irq, &f))
		return -1;
	*state = &f;
	return 0;
}

static int uart_teardown(void **state)
{
	struct uart_fixture *f = *state;

	uart_destroy(&f->u);
	close(f->pipe[0]);
	close(f->pipe[1]);
	return 0;
}

static uint8_t rd(struct uart *u, unsigned reg)
{
	uint8_t v = 0;

	uart_bus_ops.read(u, reg, &v, 1);
	return v;
}

static void wr(struct uart *u, unsigned reg, uint8_t v)
{
	uart_bus_ops.write(u, reg, &v, 1);
}

static void test_uart_transmit(void **state)
{
	struct uart_fixture *f = *state;
	char buf[8] = {0};

	assert_true(rd(&f->u, 5) & 0x20); /* LSR: THR empty */
	wr(&f->u, 0, 'o');
	wr(&f->u, 0, 'k');
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
}

static void test_uart_divisor_latch(void **state)
{
	struct uart_fixture *f = *state;
	char c;

	wr(&f->u, 3, 0x83); /* DLAB on, 8N1 */
	wr(&f->u, 0, 0x01); /* DLL: 115200 baud */
	wr(&f->u, 1, 0x00);
	assert_int_equal(rd(&f->u, 0), 0x01);
	wr(&f->u, 3, 0x03);
	assert_int_equal(rd(&f->u, 3), 0x03);
	/* The DLL write must not have been transmitted. */
	assert_int_equal(read(f->pipe[0], &c, 1), -1);
}

static void test_uart_receive_and_irq(void **state)
{
	struct uart_fixture *f = *state;

	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"hi", 2), 2);
	assert_int_equal(f->irq, 0);	  /* IER not set yet */
	assert_true(rd(&f->u, 5) & 0x01); /* data ready */
	wr(&f->u, 1, 0x01);		  /* IER: rx data */
	assert_int_equal(f->irq, 1);
	assert_int_equal(rd(&f->u, 2) & 0x0f, 0x04); /* IIR: rx data */
	assert_int_equal(rd(&f->u, 0), 'h');
	assert_int_equal(f->irq, 1);
	assert_int_equal(rd(&f->u, 0), 'i');
	assert_int_equal(f->irq, 0);
	assert_false(rd(&f->u, 5) & 0x01);
	assert_int_equal(rd(&f->u, 2) & 0x0f, 0x01); /* no interrupt */
}

static void test_uart_rx_overflow(void **state)
{
	struct uart_fixture *f = *state;
	uint8_t big[UART_RX_SIZE + 10];

	memset(big, 'x', sizeof(big));
	assert_int_equal(uart_receive(&f->u, big, sizeof(big)), UART_RX_SIZE);
	assert_int_equal(uart_rx_room(&f->u), 0);
	assert_int_equal(uart_receive(&f->u, big, 1), 0);
	wr(&f->u, 2, 0x03); /* FCR: enable and clear rx FIFO */
	assert_int_equal(uart_rx_room(&f->u), UART_RX_SIZE);
}

static void test_uart_thr_interrupt(void **state)
{
	struct uart_fixture *f = *state;

	wr(&f->u, 1, 0x02); /* IER: THR empty */
	assert_int_equal(f->irq, 1);
	assert_int_equal(rd(&f->u, 2) & 0x0f, 0x02); /* IIR: THRI, cleared */
	assert_int_equal(f->irq, 0);
	assert_int_equal(rd(&f->u, 2) & 0x0f, 0x01);
	wr(&f->u, 0, 'a'); /* transmitting raises it again */
	assert_int_equal(f->irq, 1);
	wr(&f->u, 1, 0x00);
	assert_int_equal(f->irq, 0);
}

static void test_uart_loopback(void **state)
{
	struct uart_fixture *f = *state;
	char c;

	wr(&f->u, 4, 0x10 | 0x0a); /* loop, RTS, OUT2 */
	/* The 8250 driver's probe: CTS and DCD follow RTS and OUT2. */
	assert_int_equal(rd(&f->u, 6) & 0xf0, 0x90);
	wr(&f->u, 0, 'L');
	assert_int_equal(read(f->pipe[0], &c, 1), -1); /* not on the wire */
	assert_int_equal(rd(&f->u, 0), 'L');
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"z", 1), 0);
	wr(&f->u, 7, 0xa5);
	assert_int_equal(rd(&f->u, 7), 0xa5); /* scratch */
}

static int resets;

static void count_reset(void *ctx)
{
	(void)ctx;
	resets++;
}

static void test_i8042_reset(void **state)
{
	struct i8042 k;
	uint8_t v;

	(void)state;
	i8042_init(&k, count_reset, NULL, NULL);
	resets = 0;
	i8042_command_ops.read(&k, 0, &v, 1);
	assert_int_equal(v & 0x01, 0); /* output buffer empty */
	v = 0xfe;
	i8042_command_ops.write(&k, 0, &v, 1);
	assert_int_equal(resets, 1);
	v = 0xd1; /* write output port ... */
	i8042_command_ops.write(&k, 0, &v, 1);
	v = 0x00; /* ... with the reset line low */
	i8042_data_ops.write(&k, 0, &v, 1);
	assert_int_equal(resets, 2);
	v = 0xff; /* pulse nothing */
	i8042_command_ops.write(&k, 0, &v, 1);
	v = 0x01; /* data write without a pending command */
	i8042_data_ops.write(&k, 0, &v, 1);
	assert_int_equal(resets, 2);
}

static unsigned kbd_irqs;

static void count_irq(void *ctx, int level)
{
	(void)ctx;
	kbd_irqs += level;
}

static uint8_t kbd_status(struct i8042 *k)
{
	uint8_t v;

	i8042_command_ops.read(k, 0, &v, 1);
	return v;
}

static uint8_t kbd_data(struct i8042 *k)
{
	uint8_t v;

	i8042_data_ops.read(k, 0, &v, 1);
	return v;
}

static void kbd_cmd(struct i8042 *k, uint8_t v)
{
	i8042_command_ops.write(k, 0, &v, 1);
}

/* What Linux's i8042 driver asks at probe time. */
static void test_i8042_controller(void **state)
{
	struct i8042 k;
	uint8_t v;

	(void)state;
	i8042_init(&k, count_reset, count_irq, NULL);
	kbd_cmd(&k, 0xaa);
	assert_int_equal(kbd_status(&k) & 0x01, 1);
	assert_int_equal(kbd_data(&k), 0x55);
	assert_int_equal(kbd_status(&k) & 0x01, 0);
	kbd_cmd(&k, 0x20);
	assert_int_equal(kbd_data(&k), 0x65); /* KBDINT SYS AUXDIS XLATE */
	kbd_cmd(&k, 0x60);
	assert_int_equal(kbd_status(&k) & 0x08, 0x08);
	v = 0x44;
	i8042_data_ops.write(&k, 0, &v, 1);
	kbd_cmd(&k, 0x20);
	assert_int_equal(kbd_data(&k), 0x44);
	kbd_cmd(&k, 0xab);
	assert_int_equal(kbd_data(&k), 0x00);
	/* Keyboard reset: ACK, then self-test passed. */
	v = 0xff;
	i8042_data_ops.write(&k, 0, &v, 1);
	assert_int_equal(kbd_data(&k), 0xfa);
	assert_int_equal(kbd_data(&k), 0xaa);
	assert_int_equal(kbd_data(&k), 0x00); /* empty reads 0 */
}

/* The control API's shutdown request: Ctrl-Alt-Del in set 1 scancodes,
 * one IRQ 1 per byte while the interrupt is enabled; refused while the
 * guest leaves the last presses unread. */
static void test_i8042_ctrl_alt_del(void **state)
{
	static const uint8_t want[] = {0x1d, 0x38, 0xe0, 0x53,
				       0xe0, 0xd3, 0xb8, 0x9d};
	struct i8042 k;

	(void)state;
	i8042_init(&k, count_reset, count_irq, NULL);
	kbd_irqs = 0;
	resets = 0;
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	assert_int_equal(kbd_irqs, 1);
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	assert_int_equal(i8042_ctrl_alt_del(&k), -EBUSY);
	for (unsigned n = 0; n < 2; n++)
		for (unsigned i = 0; i < sizeof(want); i++)
			assert_int_equal(kbd_data(&k), want[i]);
	assert_int_equal(kbd_status(&k) & 0x01, 0);
	assert_int_equal(kbd_irqs, 16);
	assert_int_equal(resets, 0);
	/* A disabled keyboard takes no keys. */
	kbd_cmd(&k, 0xad);
	assert_int_equal(i8042_ctrl_alt_del(&k), -EBUSY);
	kbd_cmd(&k, 0xae);
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
}

static int exit_status = -1;

static void record_exit(void *ctx, int status)
{
	(void)ctx;
	exit_status = status;
}

static void test_debug_exit(void **state)
{
	struct debug_exit d = {.exit = record_exit};
	uint32_t v = 21;

	(void)state;
	assert_int_equal(debug_exit_status(0), 1);
	assert_int_equal(debug_exit_status(21), 43);
	assert_int_equal(debug_exit_status(0x7f), 0xff);
	assert_int_equal(debug_exit_status(0x80), 1); /* as QEMU truncates */
	debug_exit_bus_ops.write(&d, 0, &v, 1);
	assert_int_equal(exit_status, 43);
	v = 2;
	debug_exit_bus_ops.write(&d, 0, &v, 4);
	assert_int_equal(exit_status, 5);
}

static int power_offs;

static void count_power_off(void *ctx)
{
	(void)ctx;
	power_offs++;
}

static void test_acpi_sleep(void **state)
{
	struct acpi_sleep s = {.power_off = count_power_off};
	uint8_t v;

	(void)state;
	v = 0x14; /* SLP_TYP 5 without SLP_EN */
	acpi_sleep_ops.write(&s, 0, &v, 1);
	v = 0x24; /* SLP_EN with SLP_TYP 1: no S1 here */
	acpi_sleep_ops.write(&s, 0, &v, 1);
	v = 0x34;			    /* what Linux writes for S5 */
	acpi_sleep_ops.write(&s, 1, &v, 1); /* the status register */
	assert_int_equal(power_offs, 0);
	acpi_sleep_ops.write(&s, 0, &v, 1);
	assert_int_equal(power_offs, 1);
	acpi_sleep_ops.read(&s, 1, &v, 1);
	assert_int_equal(v, 0);
}

int main(void)
{
#define U(fn) cmocka_unit_test_setup_teardown(fn, uart_setup, uart_teardown)
	const struct CMUnitTest tests[] = {
		U(test_uart_transmit),
		U(test_uart_divisor_latch),
		U(test_uart_receive_and_irq),
		U(test_uart_rx_overflow),
		U(test_uart_thr_interrupt),
		U(test_uart_loopback),
		cmocka_unit_test(test_i8042_reset),
		cmocka_unit_test(test_i8042_controller),
		cmocka_unit_test(test_i8042_ctrl_alt_del),
		cmocka_unit_test(test_debug_exit),
		cmocka_unit_test(test_acpi_sleep),
	};

	return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
