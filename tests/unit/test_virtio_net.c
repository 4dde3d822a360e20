/* SPDX-License-Identifier: MIT */
/*
 * virtio-net against fake guest RAM, a fake transport and a real switch
 * backend: the test listens on a SOCK_SEQPACKET socket, the device
 * connects to it as it would to `berth switch`, and the test plays both
 * the guest's driver (rings in fake RAM) and the far end of the wire.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/test_util.h"
#include "lib/virtq_drv.h"
#include "virtio/net.h"

#define RAM_SIZE (1u << 20)
#define QSIZE	 64
#define TXBUF	 0x10000u /* transmit buffers, 2 KiB apart */
#define TXSLOTS	 QSIZE
#define RXBUF	 0x40000u /* receive buffers, 2 KiB apart */
#define RXSLOT	 2048u
#define BIT(n)	 (1ULL << (n))

struct watch {
	int fd;
	void (*cb)(struct virtio_dev *d, void *arg);
	void *arg;
	uint32_t events;
};

/* A transport that records what the device asks of it. */
struct fake_transport {
	struct watch w[4];
	unsigned nw;
	unsigned notified[2], config_irqs, needs_reset;
};

struct fx {
	uint8_t *ram;
	struct guest_mem mem;
	unsigned txslot; /* next transmit buffer */
	struct virtio_dev dev;
	struct fake_transport t;
	struct virtq_drv vq[2];
	char dir[64], path[128];
	int lfd, peer; /* the listening socket; the device's connection */
};

static void ft_notify_queue(void *t, unsigned q)
{
	((struct fake_transport *)t)->notified[q]++;
}

static void ft_notify_config(void *t)
{
	((struct fake_transport *)t)->config_irqs++;
}

static void ft_needs_reset(void *t)
{
	((struct fake_transport *)t)->needs_reset++;
}

static int ft_watch_fd(void *t, int fd,
		       void (*cb)(struct virtio_dev *d, void *arg), void *arg)
{
	struct fake_transport *ft = t;

	assert_true(ft->nw < 4);
	ft->w[ft->nw++] = (struct watch){fd, cb, arg, EPOLLIN};
	return 0;
}

static int ft_watch_events(void *t, int fd, uint32_t events)
{
	struct fake_transport *ft = t;

	for (unsigned i = 0; i < ft->nw; i++)
		if (ft->w[i].fd == fd) {
			ft->w[i].events = events;
			return 0;
		}
	return -ENOENT;
}

static const struct virtio_transport_ops fake_tops = {
	.notify_queue = ft_notify_queue,
	.notify_config = ft_notify_config,
	.needs_reset = ft_needs_reset,
	.watch_fd = ft_watch_fd,
	.watch_events = ft_watch_events,
};

/* Run every watch callback whose fd is ready for what it waits for, as
 * the I/O thread would, until nothing is ready (bounded). */
static void run_io(struct fx *f)
{
	for (int round = 0; round < 1000; round++) {
		bool ran = false;

		for (unsigned i = 0; i < f->t.nw; i++) {
			struct pollfd p = {.fd = f->t.w[i].fd};

			p.events = (short)(f->t.w[i].events &
					   (EPOLLIN | EPOLLOUT));
			if (!p.events || poll(&p, 1, 0) != 1 ||
			    !(p.revents & p.events))
				continue;
			f->t.w[i].cb(&f->dev, f->t.w[i].arg);
			ran = true;
		}
		if (!ran)
			return;
	}
	fail_msg("the device never went idle");
}

static void enable_queue(struct fx *f, unsigned q, bool event_idx)
{
	uint64_t desc = 0x4000u * q, avail = desc + 16u * QSIZE;
	uint64_t used = avail + 0x1000;

	virtq_drv_init(&f->vq[q], &f->mem, QSIZE, desc, avail, used);
	assert_int_equal(virtq_enable(&f->dev.vqs[q], &f->mem, QSIZE, desc,
				      avail, used, false, event_idx),
			 0);
}

/* A device on a switch socket of ours, with these driver features. */
static struct fx *fx_open(uint64_t features)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct virtio_net_options o;
	char spec[160];

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(guest_mem_add_region(&f->mem, 0, f->ram, RAM_SIZE), 0);
	strcpy(f->dir, "/tmp/berth-net-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sw", f->dir);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	snprintf(spec, sizeof(spec), "switch=%s,mac=52:54:00:aa:bb:cc",
		 f->path);
	assert_int_equal(virtio_net_parse(spec, &o), 0);
	assert_int_equal(virtio_net_init(&f->dev, &o), 0);
	f->peer = accept(f->lfd, NULL, NULL);
	assert_true(f->peer >= 0);
	f->dev.mem = &f->mem;
	f->dev.tops = &fake_tops;
	f->dev.transport = &f->t;
	/* What the transport checks at FEATURES_OK. */
	assert_int_equal(features &
				 ~(f->dev.features | BIT(VIRTIO_F_VERSION_1) |
				   BIT(VIRTIO_F_EVENT_IDX)),
			 0);
	assert_true(f->dev.ops->features_ok(&f->dev, features));
	f->dev.driver_features = features;
	enable_queue(f, 0, features & BIT(VIRTIO_F_EVENT_IDX));
	enable_queue(f, 1, features & BIT(VIRTIO_F_EVENT_IDX));
	assert_int_equal(f->dev.ops->activate(&f->dev), 0);
	assert_int_equal(f->t.nw, 2);
	return f;
}

static void fx_close(struct fx *f)
{
	virtio_net_destroy(&f->dev);
	assert_null(f->dev.priv);
	close(f->peer);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	free(f->ram);
	free(f);
}

static struct virtio_net_stats stats(struct fx *f)
{
	struct virtio_net_stats st;

	virtio_net_get_stats(&f->dev, &st);
	return st;
}

/* An Ethernet frame of len bytes: to dst, from 52:54:00:00:00:<src>. */
static void make_frame(uint8_t *p, size_t len, uint8_t seed)
{
	static const uint8_t hdr[14] = {0x52, 0x54, 0, 0xaa, 0xbb, 0xcc, 0x52,
					0x54, 0,    0, 0,    1,	   0x88, 0xb5};

	memcpy(p, hdr, sizeof(hdr));
	for (size_t i = sizeof(hdr); i < len; i++)
		p[i] = (uint8_t)(seed + i);
}

/* The driver sends frame[0..len) behind a virtio_net_hdr, split after
 * split bytes (0: header and frame in one buffer). */
static uint16_t tx_frame(struct fx *f, const struct virtio_net_hdr *h,
			 const uint8_t *frame, size_t len, size_t split)
{
	uint64_t gpa = TXBUF + 2048u * (f->txslot++ % TXSLOTS);
	uint8_t *p = f->ram + gpa;
	struct virtq_buf b[3];
	unsigned n = 0;
	uint16_t head;

	memcpy(p, h, sizeof(*h));
	memcpy(p + sizeof(*h), frame, len);
	if (!split) {
		b[n++] = (struct virtq_buf){gpa, sizeof(*h) + len, false};
	} else {
		b[n++] = (struct virtq_buf){gpa, sizeof(*h), false};
		b[n++] = (struct virtq_buf){gpa + sizeof(*h), split, false};
		b[n++] = (struct virtq_buf){gpa + sizeof(*h) + split,
					    len - split, false};
	}
	head = virtq_drv_add(&f->vq[1], b, n);
	virtq_drv_publish(&f->vq[1], head);
	return head;
}

/* Post receive buffer i (len bytes, device-writable). */
static uint16_t post_rx(struct fx *f, unsigned i, uint32_t len)
{
	struct virtq_buf b = {RXBUF + i * RXSLOT, len, true};
	uint16_t head = virtq_drv_add(&f->vq[0], &b, 1);

	memset(f->ram + RXBUF + i * RXSLOT, 0xee, len);
	virtq_drv_publish(&f->vq[0], head);
	return head;
}

static void test_tx_strips_header(void **state)
{
	struct virtio_net_hdr h = {0};
	uint8_t frame[100], got[200];
	struct fx *f = fx_open(BIT(VIRTIO_F_VERSION_1));
	uint32_t id, len;
	uint16_t head;

	(void)state;
	make_frame(frame, sizeof(frame), 1);
	head = tx_frame(f, &h, frame, sizeof(frame), 30);
	f->dev.ops->queue_notify(&f->dev, 1);
	assert_int_equal(recv(f->peer, got, sizeof(got), MSG_DONTWAIT),
			 sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_int_equal(virtq_drv_take_used(&f->vq[1], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(f->t.notified[1], 1);
	assert_int_equal(stats(f).tx_frames, 1);
	assert_int_equal(stats(f).tx_bytes, sizeof(frame));
	fx_close(f);
}

/* Frames a guest cannot legally send are dropped and counted; the device
 * carries on (no reset) and hands the chain back. */
static void test_tx_malformed_dropped(void **state)
{
	struct virtio_net_hdr h = {0}, csum = {.flags = 1},
			      gso = {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4};
	uint8_t frame[64], got[200];
	struct fx *f = fx_open(BIT(VIRTIO_F_VERSION_1));
	struct virtq_buf w = {RXBUF, 64, true};
	uint32_t id, len;

	(void)state;
	make_frame(frame, sizeof(frame), 2);
	tx_frame(f, &h, frame, 10, 0);	  /* shorter than an Ethernet header */
	tx_frame(f, &csum, frame, 64, 0); /* NEEDS_CSUM, CSUM not negotiated */
	tx_frame(f, &gso, frame, 64, 0);  /* TSO, HOST_TSO4 not negotiated */
	virtq_drv_publish(&f->vq[1], virtq_drv_add(&f->vq[1], &w, 1));
	tx_frame(f, &h, frame, 64, 0); /* and a good one after them */
	f->dev.ops->queue_notify(&f->dev, 1);
	assert_int_equal(recv(f->peer, got, sizeof(got), MSG_DONTWAIT), 64);
	assert_int_equal(recv(f->peer, got, sizeof(got), MSG_DONTWAIT), -1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(virtq_drv_take_used(&f->vq[1], &id, &len), 1);
	assert_int_equal(stats(f).tx_dropped, 4);
	assert_int_equal(stats(f).tx_frames, 1);
	assert_int_equal(f->t.needs_reset, 0);
	fx_close(f);
}

static void test_rx_one_buffer(void **state)
{
	uint8_t frame[200];
	struct fx *f = fx_open(BIT(VIRTIO_F_VERSION_1));
	struct virtio_net_hdr h;
	uint32_t id, len;
	uint16_t head;

	(void)state;
	make_frame(frame, sizeof(frame), 3);
	head = post_rx(f, 0, 1526);
	assert_int_equal(send(f->peer, frame, sizeof(frame), 0), sizeof(frame));
	run_io(f);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(h) + sizeof(frame));
	memcpy(&h, f->ram + RXBUF, sizeof(h));
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, 0);
	assert_int_equal(h.num_buffers, 1);
	assert_memory_equal(f->ram + RXBUF + sizeof(h), frame, sizeof(frame));
	assert_int_equal(f->t.notified[0], 1);
	assert_int_equal(stats(f).rx_frames, 1);
	fx_close(f);
}

/* MRG_RXBUF: a frame spread over three small buffers, num_buffers 3 in
 * the first header, all three used entries published at once. */
static void test_rx_mergeable(void **state)
{
	uint8_t frame[60];
	struct fx *f =
		fx_open(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF));
	struct virtio_net_hdr h;
	uint32_t id, len;

	(void)state;
	make_frame(frame, sizeof(frame), 4);
	for (unsigned i = 0; i < 3; i++)
		post_rx(f, i, 32);
	assert_int_equal(send(f->peer, frame, sizeof(frame), 0), sizeof(frame));
	run_io(f);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), 3);
	memcpy(&h, f->ram + RXBUF, sizeof(h));
	assert_int_equal(h.num_buffers, 3);
	assert_memory_equal(f->ram + RXBUF + sizeof(h), frame, 20);
	assert_memory_equal(f->ram + RXBUF + RXSLOT, frame + 20, 32);
	assert_memory_equal(f->ram + RXBUF + 2 * RXSLOT, frame + 52, 8);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
		assert_int_equal(len, i < 2 ? 32 : 8);
	}
	fx_close(f);
}

/* No buffers posted: the frame waits (the backend is no longer read)
 * until the driver posts one and notifies. */
static void test_rx_waits_for_buffers(void **state)
{
	uint8_t frame[80];
	struct fx *f =
		fx_open(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF));
	uint32_t id, len;

	(void)state;
	make_frame(frame, sizeof(frame), 5);
	assert_int_equal(send(f->peer, frame, sizeof(frame), 0), sizeof(frame));
	assert_int_equal(send(f->peer, frame, sizeof(frame), 0), sizeof(frame));
	run_io(f);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), 0);
	assert_int_equal(f->t.w[0].events & EPOLLIN, 0);
	post_rx(f, 0, 1526);
	post_rx(f, 1, 1526);
	f->dev.ops->queue_notify(&f->dev, 0);
	run_io(f);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), 2);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(len, sizeof(struct virtio_net_hdr) + sizeof(frame));
	assert_int_equal(f->t.w[0].events & EPOLLIN, EPOLLIN);
	assert_int_equal(stats(f).rx_dropped, 0);
	fx_close(f);
}

/* Many frames at once: read in batches (recvmmsg on a switch port),
 * delivered in order, the rest kept until the driver posts more. */
static void test_rx_batches_in_order(void **state)
{
	struct fx *f =
		fx_open(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF));
	uint8_t frame[60];
	uint32_t id, len;

	(void)state;
	for (unsigned i = 0; i < 70; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		frame[14] = (uint8_t)i;
		assert_int_equal(send(f->peer, frame, sizeof(frame), 0),
				 sizeof(frame));
	}
	for (unsigned i = 0; i < QSIZE - 1; i++)
		post_rx(f, i, 1526);
	run_io(f);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), QSIZE - 1);
	for (unsigned i = 0; i < QSIZE - 1; i++) {
		assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
		assert_int_equal(f->ram[RXBUF + id * RXSLOT + 12 + 14], i);
	}
	for (unsigned i = 0; i < 7; i++)
		post_rx(f, i, 1526);
	f->dev.ops->queue_notify(&f->dev, 0);
	run_io(f);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), 70);
	assert_int_equal(stats(f).rx_frames, 70);
	assert_int_equal(stats(f).rx_dropped, 0);
	fx_close(f);
}

/* Without MRG_RXBUF a frame must fit one chain: a too-small buffer is not
 * consumed, the frame is dropped and counted, the next frame uses it. */
static void test_rx_too_small_without_mrg(void **state)
{
	uint8_t big[300], small[40];
	struct fx *f = fx_open(BIT(VIRTIO_F_VERSION_1));
	uint32_t id, len;
	uint16_t head;

	(void)state;
	make_frame(big, sizeof(big), 6);
	make_frame(small, sizeof(small), 7);
	head = post_rx(f, 0, 100);
	assert_int_equal(send(f->peer, big, sizeof(big), 0), sizeof(big));
	assert_int_equal(send(f->peer, small, sizeof(small), 0), sizeof(small));
	run_io(f);
	assert_int_equal(stats(f).rx_dropped, 1);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(struct virtio_net_hdr) + sizeof(small));
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 0);
	fx_close(f);
}

/* A receive chain the device could only read is a driver bug: the device
 * needs reset, and the VMM goes on. */
static void test_rx_readonly_buffer_breaks(void **state)
{
	uint8_t frame[60];
	struct fx *f = fx_open(BIT(VIRTIO_F_VERSION_1));
	struct virtq_buf b = {RXBUF, 1526, false};

	(void)state;
	make_frame(frame, sizeof(frame), 8);
	virtq_drv_publish(&f->vq[0], virtq_drv_add(&f->vq[0], &b, 1));
	assert_int_equal(send(f->peer, frame, sizeof(frame), 0), sizeof(frame));
	capture_begin();
	run_io(f);
	capture_end();
	assert_int_equal(f->t.needs_reset, 1);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), 0);
	/* The transport resets the device; it works again afterwards. */
	f->dev.ops->reset(&f->dev);
	fx_close(f);
}

/* The switch goes away: link down in config space, a config interrupt,
 * transmitted frames dropped, no busy loop on the hung-up socket. */
static void test_link_down(void **state)
{
	struct virtio_net_hdr h = {0};
	uint8_t frame[64], cfg[8];
	struct fx *f =
		fx_open(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_STATUS));
	uint16_t status;

	(void)state;
	f->dev.ops->config_read(&f->dev, 0, cfg, 8);
	assert_memory_equal(cfg, "\x52\x54\x00\xaa\xbb\xcc", 6);
	memcpy(&status, cfg + 6, 2);
	assert_int_equal(status, VIRTIO_NET_S_LINK_UP);
	close(f->peer);
	f->peer = -1;
	capture_begin();
	run_io(f);
	capture_end();
	f->dev.ops->config_read(&f->dev, 6, &status, 2);
	assert_int_equal(status, 0);
	assert_int_equal(f->t.config_irqs, 1);
	assert_int_equal(f->t.w[0].events, EPOLLET);
	make_frame(frame, sizeof(frame), 9);
	tx_frame(f, &h, frame, sizeof(frame), 0);
	f->dev.ops->queue_notify(&f->dev, 1);
	assert_int_equal(virtq_drv_used_idx(&f->vq[1]), 1);
	assert_int_equal(stats(f).tx_dropped, 1);
	fx_close(f);
}

/* The far end stops reading: the device stops at EAGAIN, leaves the rest
 * in the ring, waits for EPOLLOUT and then sends everything, in order. */
static void test_tx_backpressure(void **state)
{
	struct virtio_net_hdr h = {0};
	uint8_t frame[1514], got[2000];
	struct fx *f = fx_open(BIT(VIRTIO_F_VERSION_1));
	uint16_t sent = 0, n = 0;
	int sz = 4096;

	(void)state;
	assert_int_equal(
		setsockopt(f->peer, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
	make_frame(frame, sizeof(frame), 10);
	/* Keep the ring full until the socket pushes back. */
	for (unsigned round = 0; round < 100; round++) {
		while (sent - virtq_drv_used_idx(&f->vq[1]) < QSIZE - 1) {
			frame[20] = (uint8_t)sent++;
			tx_frame(f, &h, frame, sizeof(frame), 0);
		}
		f->dev.ops->queue_notify(&f->dev, 1);
		if (f->t.w[0].events & EPOLLOUT)
			break;
	}
	assert_true(f->t.w[0].events & EPOLLOUT);
	assert_true(virtq_drv_used_idx(&f->vq[1]) < sent);
	while (n < sent) {
		ssize_t r = recv(f->peer, got, sizeof(got), MSG_DONTWAIT);

		if (r < 0) {
			run_io(f);
			continue;
		}
		assert_int_equal(r, sizeof(frame));
		assert_int_equal(got[20], (uint8_t)n);
		n++;
	}
	run_io(f);
	assert_int_equal(virtq_drv_used_idx(&f->vq[1]), sent);
	assert_int_equal(f->t.w[0].events & EPOLLOUT, 0);
	assert_int_equal(stats(f).tx_dropped, 0);
	fx_close(f);
}

static void test_features(void **state)
{
	struct fx *f = fx_open(BIT(VIRTIO_F_VERSION_1));
	uint64_t off = f->dev.features;

	(void)state;
	/* A switch port carries plain frames: no offloads offered. */
	assert_true(off & BIT(VIRTIO_NET_F_MAC));
	assert_true(off & BIT(VIRTIO_NET_F_STATUS));
	assert_true(off & BIT(VIRTIO_NET_F_MRG_RXBUF));
	assert_false(off & BIT(VIRTIO_NET_F_CSUM));
	assert_false(off & BIT(VIRTIO_NET_F_GUEST_TSO4));
	/* Dependencies of spec 5.1.3.1. */
	assert_false(
		f->dev.ops->features_ok(&f->dev, BIT(VIRTIO_NET_F_GUEST_TSO4)));
	assert_true(f->dev.ops->features_ok(
		&f->dev,
		BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_CSUM)));
	assert_false(
		f->dev.ops->features_ok(&f->dev, BIT(VIRTIO_NET_F_HOST_TSO6)));
	assert_false(f->dev.ops->features_ok(
		&f->dev, BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_CSUM)));
	fx_close(f);
}

static void test_parse(void **state)
{
	static const char *bad[] = {
		"",
		"tap",
		"tap=",
		"bridge=br0",
		"tap=t0,mac=52:54:00:00:00",
		"tap=t0,mac=01:00:5e:00:00:01", /* multicast */
		"tap=t0,mac=00:00:00:00:00:00",
		"tap=t0,mac=52:54:00:00:00:01x",
		"tap=t0,speed=10",
		"switch=/tmp/s,mac=52:54:00:00:00:01,",
	};
	struct virtio_net_options o;

	(void)state;
	assert_int_equal(virtio_net_parse("tap=tap0", &o), 0);
	assert_int_equal(o.kind, NET_TAP);
	assert_string_equal(o.target, "tap0");
	assert_false(o.mac_set);
	assert_int_equal(
		virtio_net_parse("switch=/run/sw.sock,mac=02:00:00:00:00:2a",
				 &o),
		0);
	assert_int_equal(o.kind, NET_SWITCH);
	assert_string_equal(o.target, "/run/sw.sock");
	assert_true(o.mac_set);
	assert_int_equal(o.mac[5], 0x2a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		capture_begin();
		assert_int_equal(virtio_net_parse(bad[i], &o), -EINVAL);
		assert_int_equal(capture_end(), 1);
		assert_non_null(strstr(capture_last, "--net"));
	}
}

/* No switch listening: one line that says what to start. */
static void test_switch_missing(void **state)
{
	struct virtio_net_options o;
	struct virtio_dev d = {0};

	(void)state;
	assert_int_equal(virtio_net_parse("switch=/nonexistent/berth.sock", &o),
			 0);
	capture_begin();
	assert_int_equal(virtio_net_init(&d, &o), -ENOENT);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "berth switch"));
	assert_null(d.priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_strips_header),
		cmocka_unit_test(test_tx_malformed_dropped),
		cmocka_unit_test(test_rx_one_buffer),
		cmocka_unit_test(test_rx_mergeable),
		cmocka_unit_test(test_rx_waits_for_buffers),
		cmocka_unit_test(test_rx_batches_in_order),
		cmocka_unit_test(test_rx_too_small_without_mrg),
		cmocka_unit_test(test_rx_readonly_buffer_breaks),
		cmocka_unit_test(test_link_down),
		cmocka_unit_test(test_tx_backpressure),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_switch_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
