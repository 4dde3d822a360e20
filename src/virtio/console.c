/* SPDX-License-Identifier: MIT */
/*
 * virtio-console, one port. Host input waits in a ring until the guest
 * has posted receive buffers; the I/O thread fills them on new input (the
 * eventfd), new buffers (receiveq notify) and at activate.
 *
 * Guest trust: virtq_pop hands over a checked snapshot of each chain. A
 * receive chain with a readable buffer or no writable byte, or a transmit
 * chain with a writable buffer, breaks spec 5.3.6.1: the device is marked
 * broken and stays idle until reset.
 *
 * Locking: d->lock (held by the transport around every op and callback)
 * covers all but the input ring, whose own mutex keeps the console loop
 * from ever waiting on a stalled write. Order: d->lock, then in_lock.
 */
#include "virtio/console.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/param.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* Bytes per write(2) after POLLOUT. POLLOUT on a pipe promises room for a
 * PIPE_BUF write; a terminal signals it with at least a few hundred bytes
 * free. Smaller writes fit, so they do not block, unless another writer
 * to the same stdout (COM1) takes the room in between. */
#define CONS_CHUNK 256

struct cons {
	int out_fd;
	int efd; /* input arrived or activate: watched by the transport */
	bool watching;
	bool active;  /* activated and not reset since */
	bool broken;  /* virtio_dev_broken called: idle until reset */
	bool stalled; /* the last chain did not go out whole */
	uint64_t dropped;
	struct ratelimit drop_rl;
	struct virtio_console_config cfg;
	pthread_mutex_t in_lock; /* the input ring, taken after d->lock */
	unsigned in_head, in_count;
	uint8_t in[VIRTIO_CONSOLE_IN_SIZE];
	struct virtq_chain chain; /* scratch for virtq_pop, I/O thread */
};

static void cons_break(struct virtio_dev *d, const char *why)
{
	struct cons *s = d->priv;

	s->broken = true;
	virtio_dev_broken(d, why);
}

static void cons_kick(struct cons *s)
{
	uint64_t one = 1;

	if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_debug("virtio-console: eventfd write: %s", strerror(errno));
}

/* ---- transmit: guest to host ------------------------------------------ */

static int64_t cons_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write what out_fd takes before deadline (at once if stalled); returns
 * the bytes written. out_fd is left blocking: it is often the terminal or
 * pipe COM1 and the shell share, and O_NONBLOCK would reach them too. */
static size_t cons_write_some(struct cons *s, const uint8_t *p, size_t len,
			      int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = {.fd = s->out_fd, .events = POLLOUT};
		int64_t left = s->stalled ? 0 : deadline - cons_now_ms();
		size_t n = MIN(len - done, CONS_CHUNK);
		ssize_t put;
		int r = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !(pfd.revents & POLLOUT))
			break; /* stalled, or POLLERR/POLLHUP: reader gone */
		put = write(s->out_fd, p + done, n);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			break;
		done += (size_t)put;
	}
	return done;
}

/* Copy c's readable bytes to out_fd; count what did not go out. After a
 * short write stay stalled (write only what out_fd takes at once) until a
 * chain goes out whole: a reader that went away costs one wait, not one
 * per chain. */
static void cons_output_chain(struct virtio_dev *d, const struct virtq_chain *c)
{
	struct cons *s = d->priv;
	const struct virtq *vq = &d->vqs[VIRTIO_CONSOLE_TXQ];
	uint64_t want = MIN(c->out_len, VIRTIO_CONSOLE_MAX_PER_CHAIN);
	int64_t deadline = cons_now_ms() + VIRTIO_CONSOLE_STALL_MS;
	uint64_t off = 0;
	uint8_t buf[4096];
	bool short_write = false;

	if (s->out_fd < 0)
		return;
	while (off < want && !short_write) {
		size_t n = MIN(want - off, sizeof(buf));
		long got = virtq_chain_read(vq, c, off, buf, n);
		size_t put;

		if (got <= 0)
			break;
		put = cons_write_some(s, buf, (size_t)got, deadline);
		off += put;
		short_write = put < (size_t)got;
	}
	s->stalled = short_write;
	if (off == c->out_len)
		return;
	s->dropped += c->out_len - off;
	if (ratelimit_allow(&s->drop_rl))
		pr_warn("%s: output is not being read: dropped %llu bytes",
			d->name, (unsigned long long)s->dropped);
}

static void cons_transmit(struct virtio_dev *d)
{
	struct cons *s = d->priv;
	struct virtq *vq = &d->vqs[VIRTIO_CONSOLE_TXQ];
	bool pushed = false;
	int ret = 0;

	while (!s->broken && (ret = virtq_pop(vq, &s->chain)) > 0) {
		if (s->chain.in_len) {
			cons_break(d, "transmit buffer is device-writable");
			return;
		}
		cons_output_chain(d, &s->chain);
		if (virtq_push(vq, s->chain.head, 0))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_queue_used(d, VIRTIO_CONSOLE_TXQ);
	if (ret < 0)
		cons_break(d, "malformed transmit queue");
}

/* ---- receive: host to guest ------------------------------------------- */

/* Move buffered input into c's writable buffers; returns the bytes moved.
 * Caller holds d->lock; the ring is only emptied here, so input that
 * arrives meanwhile just waits for the next chain. */
static uint32_t cons_fill_chain(struct virtio_dev *d,
				const struct virtq_chain *c)
{
	struct cons *s = d->priv;
	const struct virtq *vq = &d->vqs[VIRTIO_CONSOLE_RXQ];
	uint32_t done = 0;

	pthread_mutex_lock(&s->in_lock);
	while (s->in_count && done < c->in_len) {
		size_t n = MIN(VIRTIO_CONSOLE_IN_SIZE - s->in_head,
			       MIN(s->in_count, c->in_len - done));
		long put;

		put = virtq_chain_write(vq, c, done, s->in + s->in_head, n);
		if (put <= 0)
			break;
		s->in_head = (s->in_head + put) % VIRTIO_CONSOLE_IN_SIZE;
		s->in_count -= put;
		done += put;
	}
	pthread_mutex_unlock(&s->in_lock);
	return done;
}

static bool cons_have_input(struct cons *s)
{
	bool any;

	pthread_mutex_lock(&s->in_lock);
	any = s->in_count != 0;
	pthread_mutex_unlock(&s->in_lock);
	return any;
}

/* Deliver buffered input while there is some and the guest has buffers. */
static void cons_receive(struct virtio_dev *d)
{
	struct cons *s = d->priv;
	struct virtq *vq = &d->vqs[VIRTIO_CONSOLE_RXQ];
	bool pushed = false;
	int ret = 0;

	if (!s->active || !vq->enabled)
		return;
	/* Pop only with input in hand: a chain cannot be given back. */
	while (!s->broken && cons_have_input(s) &&
	       (ret = virtq_pop(vq, &s->chain)) > 0) {
		if (s->chain.nr_out || !s->chain.in_len) {
			cons_break(d, "receive buffer is not device-writable");
			return;
		}
		if (virtq_push(vq, s->chain.head,
			       cons_fill_chain(d, &s->chain)))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_queue_used(d, VIRTIO_CONSOLE_RXQ);
	if (ret < 0)
		cons_break(d, "malformed receive queue");
}

/* watch_fd callback, on the I/O thread: new input, or activate. */
static void cons_input_ready(struct virtio_dev *d, void *arg)
{
	struct cons *s = d->priv;
	uint64_t count;

	(void)arg;
	/* Clear first: input queued after this read signals again. */
	if (read(s->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_debug("%s: eventfd read: %s", d->name, strerror(errno));
	cons_receive(d);
}

size_t virtio_console_input(struct virtio_dev *d, const uint8_t *buf,
			    size_t len)
{
	struct cons *s = d->priv;
	size_t n = 0;

	pthread_mutex_lock(&s->in_lock);
	while (n < len && s->in_count < VIRTIO_CONSOLE_IN_SIZE) {
		s->in[(s->in_head + s->in_count) % VIRTIO_CONSOLE_IN_SIZE] =
			buf[n++];
		s->in_count++;
	}
	pthread_mutex_unlock(&s->in_lock);
	if (n)
		cons_kick(s);
	return n;
}

/* ---- device ops ------------------------------------------------------- */

static void cons_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q == VIRTIO_CONSOLE_TXQ)
		cons_transmit(d);
	else if (q == VIRTIO_CONSOLE_RXQ)
		cons_receive(d); /* new buffers: input may be waiting */
}

static void cons_config_read(struct virtio_dev *d, unsigned off, void *data,
			     unsigned len)
{
	struct cons *s = d->priv;

	/* The transport checks off + len <= config_size; cheap to repeat. */
	if (off > sizeof(s->cfg) || len > sizeof(s->cfg) - off) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&s->cfg + off, len);
}

static int cons_activate(struct virtio_dev *d)
{
	struct cons *s = d->priv;
	int ret;

	/* Once: the eventfd stays watched across device resets. */
	if (!s->watching) {
		ret = d->tops->watch_fd(d->transport, s->efd, cons_input_ready,
					NULL);
		if (ret < 0) {
			pr_err("%s: cannot watch the input eventfd: %s",
			       d->name, strerror(-ret));
			return ret;
		}
		s->watching = true;
	}
	s->active = true;
	cons_kick(s); /* earlier input: delivered on the I/O thread */
	return 0;
}

/* Nothing is in flight: chains are finished within one op. The host's
 * input and the output state stay; they are not the driver's. */
static void cons_reset(struct virtio_dev *d)
{
	struct cons *s = d->priv;

	s->active = false;
	s->broken = false;
}

static const struct virtio_dev_ops cons_ops = {
	.queue_notify = cons_queue_notify,
	.config_read = cons_config_read,
	.activate = cons_activate,
	.reset = cons_reset,
};

void virtio_console_resize(struct virtio_dev *d, uint16_t cols, uint16_t rows)
{
	struct cons *s = d->priv;

	if (!(d->features & (1ULL << VIRTIO_CONSOLE_F_SIZE)))
		return;
	pthread_mutex_lock(&d->lock);
	s->cfg.cols = htole16(cols);
	s->cfg.rows = htole16(rows);
	if (s->active && virtio_has_feature(d, VIRTIO_CONSOLE_F_SIZE))
		virtio_config_changed(d);
	pthread_mutex_unlock(&d->lock);
}

uint64_t virtio_console_dropped(struct virtio_dev *d)
{
	struct cons *s = d->priv;
	uint64_t n;

	pthread_mutex_lock(&d->lock);
	n = s->dropped;
	pthread_mutex_unlock(&d->lock);
	return n;
}

int virtio_console_init(struct virtio_dev *d, const char *name, int out_fd,
			uint16_t cols, uint16_t rows)
{
	struct cons *s = calloc(1, sizeof(*s));
	int err;

	d->priv = NULL;
	if (!s)
		return -ENOMEM;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		err = errno;
		pr_err("virtio-console: eventfd: %s", strerror(err));
		free(s);
		return -err;
	}
	s->in_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	s->out_fd = out_fd;
	s->drop_rl = (struct ratelimit)RATELIMIT_INIT(1, 10000);
	s->cfg = (struct virtio_console_config){.cols = htole16(cols),
						.rows = htole16(rows),
						.max_nr_ports = htole32(1)};
	d->name = name ? name : "virtio-console";
	d->device_id = VIRTIO_ID_CONSOLE;
	d->pci_class = 0x078000; /* communication controller, other */
	d->features = cols && rows ? 1ULL << VIRTIO_CONSOLE_F_SIZE : 0;
	d->num_queues = 2;
	d->queue_max = 256;
	d->config_size = sizeof(struct virtio_console_config);
	d->ops = &cons_ops;
	d->priv = s;
	return 0;
}

void virtio_console_destroy(struct virtio_dev *d)
{
	struct cons *s = d->priv;

	if (!s)
		return;
	pthread_mutex_destroy(&s->in_lock);
	close(s->efd);
	free(s);
	d->priv = NULL;
}
