/* SPDX-License-Identifier: MIT */
/*
 * virtio-console against fake guest RAM, a fake transport and a pipe as
 * the host's stdout. The tests play the driver (descriptor chains, avail
 * entries, used entries read back), the I/O thread (queue_notify, and the
 * watch_fd callback whenever the input eventfd is readable) and the
 * console loop (virtio_console_input).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/config.h"
#include "lib/test_util.h"
#include "lib/virtq_drv.h"
#include "virtio/console.h"

#define RAM_SIZE (1u << 20)
#define QSIZE	 64
#define RXQ	 VIRTIO_CONSOLE_RXQ
#define TXQ	 VIRTIO_CONSOLE_TXQ
#define RXBUF(i) (0x10000u + 0x1000u * (i)) /* receive buffers */
#define TXBUF	 0x40000u		    /* transmit data */

struct fake_transport {
	int fd;
	void (*cb)(struct virtio_dev *d, void *arg);
	void *arg;
	unsigned notified[VIRTIO_MAX_QUEUES];
	unsigned config_changed;
	unsigned needs_reset;
};

struct fx {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_dev dev;
	struct fake_transport t;
	struct virtq_drv vq[2];
	int out[2]; /* the pipe the guest's output goes to */
};

static void ft_notify_queue(void *t, unsigned q)
{
	((struct fake_transport *)t)->notified[q]++;
}

static void ft_notify_config(void *t)
{
	((struct fake_transport *)t)->config_changed++;
}

static void ft_needs_reset(void *t)
{
	((struct fake_transport *)t)->needs_reset++;
}

static int ft_watch_fd(void *t, int fd,
		       void (*cb)(struct virtio_dev *d, void *arg), void *arg)
{
	struct fake_transport *ft = t;

	ft->fd = fd;
	ft->cb = cb;
	ft->arg = arg;
	return 0;
}

static const struct virtio_transport_ops fake_tops = {
	.notify_queue = ft_notify_queue,
	.notify_config = ft_notify_config,
	.needs_reset = ft_needs_reset,
	.watch_fd = ft_watch_fd,
};

/* Queue q's rings at 16 KiB * q, on both sides. */
static void enable_queue(struct fx *f, unsigned q)
{
	uint64_t desc = 0x4000u * q, avail = desc + 16u * QSIZE;
	uint64_t used = avail + 0x800;

	virtq_drv_init(&f->vq[q], &f->mem, QSIZE, desc, avail, used);
	assert_int_equal(virtq_enable(&f->dev.vqs[q], &f->mem, QSIZE, desc,
				      avail, used, false, false),
			 0);
}

static void activate(struct fx *f)
{
	enable_queue(f, RXQ);
	enable_queue(f, TXQ);
	assert_int_equal(f->dev.ops->activate(&f->dev), 0);
	assert_true(f->t.fd >= 0);
	assert_non_null(f->t.cb);
}

/* The device with a terminal of cols x rows (0 x 0: none), queues not yet
 * enabled, output to a pipe: blocking on the device's side, as stdout. */
static struct fx *fx_new(uint16_t cols, uint16_t rows)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(guest_mem_add_region(&f->mem, 0, f->ram, RAM_SIZE), 0);
	assert_int_equal(pipe2(f->out, O_CLOEXEC), 0);
	assert_int_equal(fcntl(f->out[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(
		virtio_console_init(&f->dev, NULL, f->out[1], cols, rows), 0);
	assert_int_equal(pthread_mutex_init(&f->dev.lock, NULL), 0);
	f->dev.mem = &f->mem;
	f->dev.tops = &fake_tops;
	f->dev.transport = &f->t;
	f->t.fd = -1;
	return f;
}

static struct fx *fx_open(void)
{
	struct fx *f = fx_new(0, 0);

	activate(f);
	return f;
}

static void fx_close(struct fx *f)
{
	virtio_console_destroy(&f->dev);
	assert_null(f->dev.priv);
	pthread_mutex_destroy(&f->dev.lock);
	if (f->out[0] >= 0)
		close(f->out[0]);
	close(f->out[1]);
	free(f->ram);
	free(f);
}

/* Be the I/O thread: run the watch_fd callback while its fd is readable. */
static unsigned run_io(struct fx *f)
{
	struct pollfd p = {.fd = f->t.fd, .events = POLLIN};
	unsigned runs = 0;

	while (poll(&p, 1, 0) == 1) {
		f->t.cb(&f->dev, f->t.arg);
		assert_true(++runs < 100);
	}
	return runs;
}

static void input(struct fx *f, const char *s)
{
	assert_int_equal(
		virtio_console_input(&f->dev, (const uint8_t *)s, strlen(s)),
		strlen(s));
}

/* Post receive buffer i of len bytes. */
static uint16_t post_rx(struct fx *f, unsigned i, uint32_t len)
{
	struct virtq_buf b = {RXBUF(i), len, true};
	uint16_t head = virtq_drv_add(&f->vq[RXQ], &b, 1);

	memset(f->ram + RXBUF(i), '.', len);
	virtq_drv_publish(&f->vq[RXQ], head);
	return head;
}

/* The next used receive buffer must be head, holding want. */
static void expect_rx(struct fx *f, uint16_t head, unsigned i, const char *want)
{
	uint32_t id, len;

	assert_int_equal(virtq_drv_take_used(&f->vq[RXQ], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(f->ram + RXBUF(i), want, len);
}

static void expect_no_used(struct fx *f, unsigned q)
{
	uint32_t id, len;

	assert_int_equal(virtq_drv_take_used(&f->vq[q], &id, &len), 0);
}

/* Make s available on the transmitq, split in pieces of at most piece
 * bytes, and notify it. */
static uint16_t transmit(struct fx *f, const char *s, unsigned piece)
{
	struct virtq_buf bufs[64];
	size_t len = strlen(s), n = 0;
	uint16_t head;

	assert_true(len > 0 && len <= 64u * piece);
	memcpy(f->ram + TXBUF, s, len);
	for (size_t off = 0; off < len; off += piece, n++)
		bufs[n] = (struct virtq_buf){
			TXBUF + off, len - off < piece ? len - off : piece,
			false};
	head = virtq_drv_add(&f->vq[TXQ], bufs, n);
	virtq_drv_publish(&f->vq[TXQ], head);
	f->dev.ops->queue_notify(&f->dev, TXQ);
	return head;
}

static void expect_tx_used(struct fx *f, uint16_t head)
{
	uint32_t id, len;

	assert_int_equal(virtq_drv_take_used(&f->vq[TXQ], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 0); /* the device wrote nothing */
}

static size_t read_out(struct fx *f, char *buf, size_t size)
{
	ssize_t n = read(f->out[0], buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* --- set-up and config ---------------------------------------------------- */

static void test_device_and_config(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct virtio_console_config cfg;

	(void)state;
	assert_int_equal(f->dev.device_id, 3);
	assert_int_equal(f->dev.pci_class, 0x078000);
	assert_int_equal(f->dev.num_queues, 2);
	assert_int_equal(f->dev.features, 0); /* no terminal, no F_SIZE */
	assert_string_equal(f->dev.name, "virtio-console");
	fx_close(f);

	f = fx_new(132, 43);
	assert_int_equal(f->dev.features, 1ULL << VIRTIO_CONSOLE_F_SIZE);
	assert_int_equal(f->dev.config_size, sizeof(cfg));
	f->dev.ops->config_read(&f->dev, 0, &cfg, sizeof(cfg));
	assert_int_equal(le16toh(cfg.cols), 132);
	assert_int_equal(le16toh(cfg.rows), 43);
	/* Resized: the driver that took F_SIZE hears about it. */
	f->dev.driver_features = f->dev.features;
	activate(f);
	virtio_console_resize(&f->dev, 80, 25);
	assert_int_equal(f->t.config_changed, 1);
	f->dev.ops->config_read(&f->dev, 2, &cfg.rows, 2);
	assert_int_equal(le16toh(cfg.rows), 25);
	fx_close(f);
}

/* --- transmit ------------------------------------------------------------- */

static void test_transmit_reaches_fd(void **state)
{
	struct fx *f = fx_open();
	char buf[256];
	uint16_t head;

	(void)state;
	head = transmit(f, "hello from the guest\n", 1024);
	expect_tx_used(f, head);
	assert_int_equal(f->t.notified[TXQ], 1);
	read_out(f, buf, sizeof(buf));
	assert_string_equal(buf, "hello from the guest\n");
	/* Any framing: a chain of 3-byte buffers arrives whole, in order. */
	head = transmit(f, "split into many small buffers\n", 3);
	expect_tx_used(f, head);
	read_out(f, buf, sizeof(buf));
	assert_string_equal(buf, "split into many small buffers\n");
	assert_int_equal(virtio_console_dropped(&f->dev), 0);
	fx_close(f);
}

/* A pipe nobody reads: the device waits a bounded time for the first
 * chain, then drops without waiting, and recovers once there is room. */
static void test_transmit_stalled_output(void **state)
{
	struct fx *f = fx_open();
	char fill[4096], buf[64];
	struct timespec t0, t1;
	long ms;

	(void)state;
	memset(fill, 'x', sizeof(fill));
	assert_true(fcntl(f->out[1], F_SETPIPE_SZ, 4096) > 0);
	assert_int_equal(fcntl(f->out[1], F_SETFL, O_NONBLOCK), 0);
	while (write(f->out[1], fill, sizeof(fill)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(f->out[1], F_SETFL, 0), 0); /* blocking again */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	capture_begin();
	expect_tx_used(f, transmit(f, "lost\n", 1024));
	expect_tx_used(f, transmit(f, "lost too\n", 1024));
	assert_int_equal(capture_end(), 1); /* one warning, rate-limited */
	assert_non_null(strstr(capture_last, "dropped 5 bytes"));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= VIRTIO_CONSOLE_STALL_MS - 50);
	assert_true(ms < 2 * VIRTIO_CONSOLE_STALL_MS); /* one wait only */
	assert_int_equal(virtio_console_dropped(&f->dev), 5 + 9);
	/* The reader catches up: output flows again. */
	while (read(f->out[0], fill, sizeof(fill)) > 0)
		;
	expect_tx_used(f, transmit(f, "back\n", 1024));
	read_out(f, buf, sizeof(buf));
	assert_string_equal(buf, "back\n");
	/* The reader is gone: dropped at once, no SIGPIPE, no hang. */
	close(f->out[0]);
	f->out[0] = -1;
	capture_begin();
	expect_tx_used(f, transmit(f, "nobody\n", 1024));
	(void)capture_end();
	assert_int_equal(virtio_console_dropped(&f->dev), 5 + 9 + 7);
	fx_close(f);
}

/* --- receive -------------------------------------------------------------- */

static void test_input_in_order_across_buffers(void **state)
{
	struct fx *f = fx_open();
	uint16_t h0, h1, h2;

	(void)state;
	h0 = post_rx(f, 0, 4);
	h1 = post_rx(f, 1, 4);
	h2 = post_rx(f, 2, 4);
	f->dev.ops->queue_notify(&f->dev, RXQ);
	expect_no_used(f, RXQ); /* buffers but no input yet */
	input(f, "abcdefghij");
	assert_true(run_io(f) >= 1);
	expect_rx(f, h0, 0, "abcd");
	expect_rx(f, h1, 1, "efgh");
	expect_rx(f, h2, 2, "ij");
	assert_int_equal(f->t.notified[RXQ], 1);     /* one interrupt, 3 used */
	assert_int_equal(f->ram[RXBUF(2) + 2], '.'); /* nothing past "ij" */
	/* The next input goes to the next buffer. */
	h0 = post_rx(f, 3, 16);
	f->dev.ops->queue_notify(&f->dev, RXQ);
	input(f, "k");
	input(f, "lm");
	run_io(f);
	expect_rx(f, h0, 3, "klm");
	fx_close(f);
}

/* Input typed before the driver is ready, or while it has no buffers
 * posted, waits and is delivered when buffers come. */
static void test_input_before_buffers(void **state)
{
	struct fx *f = fx_new(0, 0);
	uint16_t h0, h1;

	(void)state;
	input(f, "early ");
	activate(f); /* no buffers posted yet */
	run_io(f);
	expect_no_used(f, RXQ);
	input(f, "and later");
	run_io(f);
	expect_no_used(f, RXQ);
	h0 = post_rx(f, 0, 8);
	h1 = post_rx(f, 1, 64);
	f->dev.ops->queue_notify(&f->dev, RXQ);
	expect_rx(f, h0, 0, "early an");
	expect_rx(f, h1, 1, "d later");
	fx_close(f);
}

/* The input ring is bounded: the console loop is told what fitted. */
static void test_input_backpressure(void **state)
{
	struct fx *f = fx_open();
	static uint8_t big[VIRTIO_CONSOLE_IN_SIZE + 100];
	uint32_t id, len, total = 0;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	assert_int_equal(virtio_console_input(&f->dev, big, sizeof(big)),
			 VIRTIO_CONSOLE_IN_SIZE);
	assert_int_equal(virtio_console_input(&f->dev, big, 1), 0);
	for (i = 0; i < 2; i++)
		post_rx(f, i, VIRTIO_CONSOLE_IN_SIZE / 2);
	f->dev.ops->queue_notify(&f->dev, RXQ);
	while (virtq_drv_take_used(&f->vq[RXQ], &id, &len) == 1)
		total += len;
	assert_int_equal(total, VIRTIO_CONSOLE_IN_SIZE);
	assert_memory_equal(f->ram + RXBUF(0), big, VIRTIO_CONSOLE_IN_SIZE / 2);
	assert_memory_equal(f->ram + RXBUF(1), big + VIRTIO_CONSOLE_IN_SIZE / 2,
			    VIRTIO_CONSOLE_IN_SIZE / 2);
	/* Room again, and the rest arrives after it, in order. */
	assert_int_equal(virtio_console_input(
				 &f->dev, big + VIRTIO_CONSOLE_IN_SIZE, 100),
			 100);
	post_rx(f, 2, 0x1000);
	run_io(f);
	assert_int_equal(virtq_drv_take_used(&f->vq[RXQ], &id, &len), 1);
	assert_int_equal(len, 100);
	assert_memory_equal(f->ram + RXBUF(2), big + VIRTIO_CONSOLE_IN_SIZE,
			    100);
	fx_close(f);
}

/* --- malformed queues and reset ------------------------------------------ */

static void expect_broken(struct fx *f, unsigned q)
{
	capture_begin();
	f->dev.ops->queue_notify(&f->dev, q);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "virtio-console"));
	assert_int_equal(f->t.needs_reset, 1);
	expect_no_used(f, q);
}

/* A readable receive buffer, a writable transmit buffer and a bad head
 * each break the device until reset. */
static void test_malformed_chains(void **state)
{
	struct virtq_buf rx_readable[] = {{RXBUF(0), 8, false},
					  {RXBUF(1), 8, true}};
	struct virtq_buf tx_writable[] = {{TXBUF, 4, false}, {TXBUF, 4, true}};
	struct fx *f = fx_open();
	uint16_t head;

	(void)state;
	input(f, "x");
	head = virtq_drv_add(&f->vq[RXQ], rx_readable, 2);
	virtq_drv_publish(&f->vq[RXQ], head);
	expect_broken(f, RXQ);
	/* Broken: input is not delivered, output not taken. */
	post_rx(f, 2, 8);
	run_io(f);
	expect_no_used(f, RXQ);
	transmit(f, "ignored", 64);
	expect_no_used(f, TXQ);
	fx_close(f);

	f = fx_open();
	head = virtq_drv_add(&f->vq[TXQ], tx_writable, 2);
	virtq_drv_publish(&f->vq[TXQ], head);
	expect_broken(f, TXQ);
	fx_close(f);

	f = fx_open();
	virtq_drv_publish(&f->vq[TXQ], QSIZE + 5); /* no such descriptor */
	expect_broken(f, TXQ);
	fx_close(f);
}

/* Reset forgets the driver's state (broken, activated), not the host's
 * input: after the driver comes back, the input still arrives. */
static void test_reset(void **state)
{
	struct virtq_buf rx_readable = {RXBUF(0), 8, false};
	struct fx *f = fx_open();
	uint16_t head;

	(void)state;
	head = virtq_drv_add(&f->vq[RXQ], &rx_readable, 1);
	virtq_drv_publish(&f->vq[RXQ], head);
	input(f, "kept");
	capture_begin();
	run_io(f);
	(void)capture_end();
	assert_int_equal(f->t.needs_reset, 1);
	/* Reset, as the transport does it: device first, then the queues. */
	f->dev.ops->reset(&f->dev);
	virtq_reset(&f->dev.vqs[RXQ]);
	virtq_reset(&f->dev.vqs[TXQ]);
	input(f, " across reset");
	run_io(f); /* not activated: nothing touches the queues */
	activate(f);
	head = post_rx(f, 1, 64);
	run_io(f);
	expect_rx(f, head, 1, "kept across reset");
	expect_tx_used(f, transmit(f, "ok\n", 64));
	fx_close(f);
}

/* --- the option ----------------------------------------------------------- */

static void test_console_option(void **state)
{
	char *def[] = {"run"};
	char *virt[] = {"run", "--console", "virtio"};
	char *bad[] = {"run", "--console", "hvc"};
	struct run_config c;

	(void)state;
	assert_int_equal(run_config_parse(&c, 1, def), 0);
	assert_int_equal(c.console, CONSOLE_SERIAL);
	assert_int_equal(run_config_parse(&c, 3, virt), 0);
	assert_int_equal(c.console, CONSOLE_VIRTIO);
	capture_begin();
	assert_int_equal(run_config_parse(&c, 3, bad), -EINVAL);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "--console"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_and_config),
		cmocka_unit_test(test_transmit_reaches_fd),
		cmocka_unit_test(test_transmit_stalled_output),
		cmocka_unit_test(test_input_in_order_across_buffers),
		cmocka_unit_test(test_input_before_buffers),
		cmocka_unit_test(test_input_backpressure),
		cmocka_unit_test(test_malformed_chains),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_console_option),
	};

	signal(SIGPIPE, SIG_IGN); /* as berth does: a gone reader is EPIPE */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
