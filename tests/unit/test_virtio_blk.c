/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk against fake guest RAM, a fake transport and a temporary file
 * as the disk. The tests play the driver: they write descriptor chains and
 * avail entries, call queue_notify as the I/O thread would, then run the
 * watch_fd callback whenever the io_uring eventfd is readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/test_util.h"
#include "lib/virtq_drv.h"
#include "virtio/blk.h"

#define RAM_SIZE  (1u << 20)
#define QSIZE	  256
#define SECTORS	  64 /* default disk: 32 KiB */
#define HDR(i)	  (0x8000u + 16u * (i))
#define STATUS(i) (0x9000u + (i))
#define DATA	  0x10000u /* data buffers, up to BIGQ */
#define BIGQ	  0xa0000u /* rings of a 1024-entry queue */
#define SENTINEL  0xee	   /* status byte before the device writes it */

/* A transport that records what the device asks of it. */
struct fake_transport {
	int fd;
	void (*cb)(struct virtio_dev *d, void *arg);
	void *arg;
	unsigned notified[VIRTIO_MAX_QUEUES];
	unsigned needs_reset;
};

struct fx {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_dev dev;
	struct fake_transport t;
	struct virtq_drv vq[2];
	char path[64];
	unsigned slot; /* next header/status slot */
};

static void ft_notify_queue(void *t, unsigned q)
{
	((struct fake_transport *)t)->notified[q]++;
}

static void ft_notify_config(void *t)
{
	(void)t;
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

static uint8_t pattern(uint64_t sector, unsigned i)
{
	return (uint8_t)(sector * 31 + i + 1);
}

/* A disk file in dir of nsect sectors (plus extra bytes) filled with
 * pattern(); its name goes to path[64]. */
static void make_disk_in(const char *dir, char *path, unsigned nsect,
			 unsigned extra)
{
	uint8_t buf[512];
	unsigned s, i;
	int fd;

	snprintf(path, 64, "%s/berth-blk-XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	for (s = 0; s < nsect; s++) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(s, i);
		assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	}
	assert_int_equal(write(fd, buf, extra), (ssize_t)extra);
	close(fd);
}

/* Queue q of size entries: rings at 16 KiB * q, or at BIGQ if large. */
static void enable_queue_size(struct fx *f, unsigned q, uint16_t size)
{
	uint64_t desc = size > QSIZE ? BIGQ : 0x4000u * q;
	uint64_t avail = desc + 16u * size, used = avail + 0x1000;

	virtq_drv_init(&f->vq[q], &f->mem, size, desc, avail, used);
	assert_int_equal(virtq_enable(&f->dev.vqs[q], &f->mem, size, desc,
				      avail, used, false, false),
			 0);
}

static void enable_queue(struct fx *f, unsigned q)
{
	enable_queue_size(f, q, QSIZE);
}

static void make_disk(char *path, unsigned nsect, unsigned extra)
{
	make_disk_in("/tmp", path, nsect, extra);
}

/* Fake RAM, a disk in dir, the device (with options after the path) and
 * its queues, activated. */
static struct fx *fx_open_in(const char *dir, const char *opts, unsigned nq)
{
	struct virtio_blk_options o;
	struct fx *f = calloc(1, sizeof(*f));
	char spec[128];
	unsigned q;

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(guest_mem_add_region(&f->mem, 0, f->ram, RAM_SIZE), 0);
	make_disk_in(dir, f->path, SECTORS, 0);
	snprintf(spec, sizeof(spec), "%s%s", f->path, opts);
	assert_int_equal(virtio_blk_parse(spec, &o), 0);
	assert_int_equal(virtio_blk_init(&f->dev, &o, nq), 0);
	f->dev.mem = &f->mem;
	f->dev.tops = &fake_tops;
	f->dev.transport = &f->t;
	f->t.fd = -1;
	for (q = 0; q < nq; q++)
		enable_queue(f, q);
	assert_int_equal(f->dev.ops->activate(&f->dev), 0);
	assert_true(f->t.fd >= 0);
	assert_non_null(f->t.cb);
	return f;
}

static struct fx *fx_open(const char *opts, unsigned nq)
{
	return fx_open_in("/tmp", opts, nq);
}

static void fx_close(struct fx *f)
{
	virtio_blk_destroy(&f->dev);
	assert_null(f->dev.priv);
	unlink(f->path);
	free(f->ram);
	free(f);
}

/* Make a request available on q: the 16-byte header, data buffers as
 * given, a 1-byte status. Returns the chain head. */
static uint16_t add_req(struct fx *f, unsigned q, uint32_t type,
			uint64_t sector, const struct virtq_buf *data,
			unsigned ndata, unsigned *slot)
{
	struct virtio_blk_req_hdr h = {.type = type, .sector = sector};
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
	uint8_t sentinel = SENTINEL;
	unsigned i = f->slot++ % 256;
	uint16_t head;

	assert_int_equal(guest_mem_write(&f->mem, HDR(i), &h, sizeof(h)), 0);
	assert_int_equal(guest_mem_write(&f->mem, STATUS(i), &sentinel, 1), 0);
	bufs[0] = (struct virtq_buf){HDR(i), sizeof(h), false};
	if (ndata)
		memcpy(bufs + 1, data, ndata * sizeof(*data));
	bufs[ndata + 1] = (struct virtq_buf){STATUS(i), 1, true};
	head = virtq_drv_add(&f->vq[q], bufs, ndata + 2);
	virtq_drv_publish(&f->vq[q], head);
	*slot = i;
	return head;
}

/* Run the callback the transport would run until q has used n more. */
static void wait_used(struct fx *f, unsigned q, unsigned n)
{
	uint16_t want = f->vq[q].used_seen + n;
	struct pollfd p = {.fd = f->t.fd, .events = POLLIN};
	int spins = 0;

	while ((int16_t)(virtq_drv_used_idx(&f->vq[q]) - want) < 0) {
		assert_int_equal(poll(&p, 1, 5000), 1);
		f->t.cb(&f->dev, f->t.arg);
		assert_true(++spins < 10000);
	}
}

static uint8_t status_of(struct fx *f, unsigned slot)
{
	return f->ram[STATUS(slot)];
}

/* One request on queue 0, waited for; returns its status byte. */
static uint8_t do_req(struct fx *f, uint32_t type, uint64_t sector,
		      const struct virtq_buf *data, unsigned ndata,
		      uint32_t *used_len)
{
	uint32_t id, len;
	unsigned slot;
	uint16_t head = add_req(f, 0, type, sector, data, ndata, &slot);

	f->dev.ops->queue_notify(&f->dev, 0);
	wait_used(f, 0, 1);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(id, head);
	if (used_len)
		*used_len = len;
	return status_of(f, slot);
}

static uint8_t do_rw(struct fx *f, uint32_t type, uint64_t sector, uint64_t gpa,
		     uint32_t len)
{
	struct virtq_buf b = {gpa, len, type == VIRTIO_BLK_T_IN};

	return do_req(f, type, sector, &b, 1, NULL);
}

/* DISCARD or WRITE_ZEROES with one segment. */
static uint8_t do_dwz(struct fx *f, uint32_t type, uint64_t sector, uint32_t n,
		      uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = {sector, n, flags};
	struct virtq_buf b = {DATA, sizeof(seg), false};

	assert_int_equal(guest_mem_write(&f->mem, DATA, &seg, sizeof(seg)), 0);
	return do_req(f, type, 0, &b, 1, NULL);
}

static void host_read(struct fx *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static bool ram_is(struct fx *f, uint64_t gpa, uint64_t sector, unsigned n)
{
	unsigned s, i;

	for (s = 0; s < n; s++)
		for (i = 0; i < 512; i++)
			if (f->ram[gpa + 512 * s + i] != pattern(sector + s, i))
				return false;
	return true;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

static uint32_t cfg32(struct fx *f, unsigned off)
{
	uint32_t v;

	f->dev.ops->config_read(&f->dev, off, &v, sizeof(v));
	return v;
}

/* --- parsing and set-up ------------------------------------------------- */

static void test_parse(void **state)
{
	struct virtio_blk_options o;

	(void)state;
	assert_int_equal(virtio_blk_parse("disk.img", &o), 0);
	assert_string_equal(o.path, "disk.img");
	assert_false(o.readonly || o.direct || o.fail_sector_set);
	assert_int_equal(
		virtio_blk_parse("/dev/vdb,ro,direct,fail-sector=0x10", &o), 0);
	assert_string_equal(o.path, "/dev/vdb");
	assert_true(o.readonly && o.direct && o.fail_sector_set);
	assert_int_equal(o.fail_sector, 16);
}

static void expect_parse_error(const char *spec, const char *part)
{
	struct virtio_blk_options o;

	capture_begin();
	assert_int_equal(virtio_blk_parse(spec, &o), -EINVAL);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "--disk"));
	assert_non_null(strstr(capture_last, part));
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse_error("", "path");
	expect_parse_error(",ro", "path");
	expect_parse_error("d.img,rw", "'rw'");
	expect_parse_error("d.img,ro,", "''");
	expect_parse_error("d.img,fail-sector=", "'fail-sector='");
	expect_parse_error("d.img,fail-sector=-1", "'fail-sector=-1'");
	expect_parse_error("d.img,fail-sector=12x", "'fail-sector=12x'");
	expect_parse_error("d.img,fail-sector=99999999999999999999", "fail");
}

static void test_init_errors(void **state)
{
	struct virtio_blk_options o;
	struct virtio_dev d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(virtio_blk_parse("/nonexistent/disk.img", &o), 0);
	capture_begin();
	assert_int_equal(virtio_blk_init(&d, &o, 1), -ENOENT);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "/nonexistent/disk.img"));
	assert_null(d.priv);
	virtio_blk_destroy(&d); /* harmless after a failed init */

	assert_int_equal(virtio_blk_parse("/tmp,ro", &o), 0);
	capture_begin();
	assert_int_equal(virtio_blk_init(&d, &o, 1), -EINVAL);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "not a regular file"));

	assert_int_equal(virtio_blk_parse("/dev/null", &o), 0);
	capture_begin();
	assert_int_equal(virtio_blk_init(&d, &o, 0), -EINVAL);
	assert_int_equal(virtio_blk_init(&d, &o, VIRTIO_MAX_QUEUES + 1),
			 -EINVAL);
	assert_int_equal(capture_end(), 2);
}

static void test_device_and_config(void **state)
{
	struct fx *f = fx_open("", 1);
	uint64_t cap;
	uint8_t big[8];

	(void)state;
	assert_int_equal(f->dev.device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(f->dev.pci_class, 0x018000);
	assert_int_equal(f->dev.num_queues, 1);
	assert_int_equal(f->dev.queue_max, 256);
	assert_int_equal(f->dev.config_size, sizeof(struct virtio_blk_config));
	assert_true(f->dev.features & 1ULL << VIRTIO_BLK_F_FLUSH);
	assert_true(f->dev.features & 1ULL << VIRTIO_BLK_F_SEG_MAX);
	assert_true(f->dev.features & 1ULL << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(f->dev.features & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_true(f->dev.features & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	assert_false(f->dev.features & 1ULL << VIRTIO_BLK_F_RO);
	assert_false(f->dev.features & 1ULL << VIRTIO_BLK_F_MQ);
	f->dev.ops->config_read(&f->dev, 0, &cap, sizeof(cap));
	assert_int_equal(cap, SECTORS);
	assert_int_equal(cfg32(f, 12), VIRTIO_BLK_SEG_MAX);
	assert_int_equal(cfg32(f, 20), 512);
	assert_int_equal(cfg32(f, 36), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(cfg32(f, 40), 1);
	assert_int_equal(cfg32(f, 48), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(cfg32(f, 52), 1);
	assert_int_equal(cfg32(f, 56) & 0xff, 1);
	/* Past the end reads as zeroes instead of overrunning. */
	memset(big, 0xff, sizeof(big));
	f->dev.ops->config_read(&f->dev, f->dev.config_size - 4, big, 8);
	assert_true(all_zero(big, sizeof(big)));
	fx_close(f);
}

static void test_size_rounded_down(void **state)
{
	struct virtio_blk_options o;
	struct virtio_dev d;
	char path[64];
	uint64_t cap;

	(void)state;
	memset(&d, 0, sizeof(d));
	make_disk(path, 3, 100);
	assert_int_equal(virtio_blk_parse(path, &o), 0);
	capture_begin();
	assert_int_equal(virtio_blk_init(&d, &o, 1), 0);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "multiple of 512"));
	d.ops->config_read(&d, 0, &cap, sizeof(cap));
	assert_int_equal(cap, 3);
	virtio_blk_destroy(&d);
	unlink(path);
}

/* --- requests ----------------------------------------------------------- */

static void test_read_write_round_trip(void **state)
{
	struct fx *f = fx_open("", 1);
	uint8_t host[1024];
	uint32_t used;
	struct virtq_buf b = {DATA, 2048, true};

	(void)state;
	/* Read 4 sectors at 10: the file's pattern lands in guest RAM. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 10, &b, 1, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 2048 + 1);
	assert_true(ram_is(f, DATA, 10, 4));
	assert_true(f->t.notified[0] >= 1);
	/* Write 2 sectors of 0x5a at 20 and see them in the file. */
	memset(f->ram + DATA, 0x5a, 1024);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_OUT, 20, DATA, 1024),
			 VIRTIO_BLK_S_OK);
	host_read(f, 20 * 512, host, sizeof(host));
	memset(f->ram + DATA, 0x5a, 1024);
	assert_memory_equal(host, f->ram + DATA, sizeof(host));
	host_read(f, 22 * 512, host, 512);
	assert_int_equal(host[0], pattern(22, 0)); /* neighbour untouched */
	/* And back through the device. */
	memset(f->ram + DATA, 0, 1024);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 20, DATA, 1024),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA], 0x5a);
	assert_int_equal(f->ram[DATA + 1023], 0x5a);
	fx_close(f);
}

/* The device must not assume any framing: header split in two, data
 * spread over buffers of odd sizes, the status sharing a buffer. */
static void test_any_framing(void **state)
{
	struct fx *f = fx_open("", 1);
	struct virtio_blk_req_hdr h = {.type = VIRTIO_BLK_T_IN, .sector = 5};
	struct virtq_buf bufs[] = {
		{HDR(0), 8, false},	     {HDR(0) + 8, 8, false},
		{DATA, 100, true},	     {DATA + 100, 0, true},
		{DATA + 100, 924 + 1, true}, /* data and the status */
	};
	uint32_t id, len;
	uint16_t head;

	(void)state;
	assert_int_equal(guest_mem_write(&f->mem, HDR(0), &h, sizeof(h)), 0);
	f->ram[DATA + 1024] = SENTINEL;
	head = virtq_drv_add(&f->vq[0], bufs, 5);
	virtq_drv_publish(&f->vq[0], head);
	f->dev.ops->queue_notify(&f->dev, 0);
	wait_used(f, 0, 1);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(len, 1025);
	assert_int_equal(f->ram[DATA + 1024], VIRTIO_BLK_S_OK);
	assert_true(ram_is(f, DATA, 5, 2));
	fx_close(f);
}

static void test_flush_and_get_id(void **state)
{
	struct fx *f = fx_open("", 1);
	struct virtq_buf id = {DATA, VIRTIO_BLK_ID_BYTES, true};
	uint32_t used;

	(void)state;
	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	memset(f->ram + DATA, 0xff, 64);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_ID, 0, &id, 1, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, VIRTIO_BLK_ID_BYTES + 1);
	assert_memory_equal(f->ram + DATA, "berth-", 6);
	assert_int_equal(f->ram[DATA + VIRTIO_BLK_ID_BYTES], 0xff);
	fx_close(f);
}

static void test_discard_punches_hole(void **state)
{
	struct fx *f = fx_open("", 1);
	struct stat before, after;
	off_t hole;
	int fd;

	(void)state;
	assert_int_equal(stat(f->path, &before), 0);
	/* Sectors 8..23: file bytes 4096..12287, two 4 KiB blocks. */
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, 8, 16, 0),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(stat(f->path, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	hole = lseek(fd, 0, SEEK_HOLE);
	close(fd);
	assert_int_equal(hole, 4096);
	assert_true(after.st_blocks < before.st_blocks);
	memset(f->ram + DATA, 0xff, 8192);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 8, DATA, 8192),
			 VIRTIO_BLK_S_OK);
	assert_true(all_zero(f->ram + DATA, 8192));
	fx_close(f);
}

static void test_write_zeroes(void **state)
{
	struct fx *f = fx_open("", 1);
	uint8_t host[2048];

	(void)state;
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 3, 4, 0),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 40, 16,
				VIRTIO_BLK_DWZ_F_UNMAP),
			 VIRTIO_BLK_S_OK);
	host_read(f, 3 * 512, host, sizeof(host));
	assert_true(all_zero(host, sizeof(host)));
	memset(f->ram + DATA, 0xff, 6 * 512);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 2, DATA, 6 * 512),
			 VIRTIO_BLK_S_OK);
	assert_true(ram_is(f, DATA, 2, 1));
	assert_true(all_zero(f->ram + DATA + 512, 4 * 512));
	assert_true(ram_is(f, DATA + 5 * 512, 7, 1));
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 40, DATA, 16 * 512),
			 VIRTIO_BLK_S_OK);
	assert_true(all_zero(f->ram + DATA, 16 * 512));
	fx_close(f);
}

/* tmpfs has no FALLOC_FL_ZERO_RANGE: a write-zeroes that must keep its
 * blocks reports UNSUPP, so the driver writes the zeroes itself; punching
 * holes (discard, write-zeroes with unmap) works. */
static void test_write_zeroes_unsupported(void **state)
{
	struct statfs sf;
	struct fx *f;

	(void)state;
	if (statfs("/dev/shm", &sf) || sf.f_type != TMPFS_MAGIC)
		skip();
	f = fx_open_in("/dev/shm", "", 1);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8,
				VIRTIO_BLK_DWZ_F_UNMAP),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, 8, 8, 0),
			 VIRTIO_BLK_S_OK);
	memset(f->ram + DATA, 0xff, 16 * 512);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 0, DATA, 16 * 512),
			 VIRTIO_BLK_S_OK);
	assert_true(all_zero(f->ram + DATA, 16 * 512));
	fx_close(f);
}

static void test_discard_bad_segments(void **state)
{
	struct fx *f = fx_open("", 1);
	struct virtio_blk_discard_write_zeroes seg[2] = {{0, 1, 0}, {4, 1, 0}};
	struct virtq_buf two = {DATA, sizeof(seg), false};

	(void)state;
	/* unmap is for write-zeroes only; unknown flags are unsupported. */
	assert_int_equal(
		do_dwz(f, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_DWZ_F_UNMAP),
		VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, SECTORS - 1, 2, 0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 1, 0),
			 VIRTIO_BLK_S_IOERR);
	/* max_discard_seg is 1. */
	assert_int_equal(guest_mem_write(&f->mem, DATA, seg, sizeof(seg)), 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, &two, 1, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, NULL, 0, NULL),
			 VIRTIO_BLK_S_IOERR);
	fx_close(f);
}

static void test_read_only(void **state)
{
	struct fx *f = fx_open(",ro", 1);
	uint8_t host[512];

	(void)state;
	assert_true(f->dev.features & 1ULL << VIRTIO_BLK_F_RO);
	assert_false(f->dev.features & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_false(f->dev.features & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	/* Refused by the device before any I/O: no backend error logged. */
	memset(f->ram + DATA, 0, 512);
	capture_begin();
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_OUT, 1, DATA, 512),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, 1, 1, 0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, 1, 0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(capture_end(), 0);
	host_read(f, 512, host, sizeof(host));
	assert_int_equal(host[0], pattern(1, 0));
	assert_int_equal(host[511], pattern(1, 511));
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 1, DATA, 512),
			 VIRTIO_BLK_S_OK);
	assert_true(ram_is(f, DATA, 1, 1));
	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL),
			 VIRTIO_BLK_S_OK);
	fx_close(f);
}

static void test_bad_ranges_and_lengths(void **state)
{
	struct fx *f = fx_open("", 1);

	(void)state;
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, SECTORS - 1, DATA, 512),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, SECTORS, DATA, 512),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, SECTORS - 1, DATA, 1024),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_OUT, SECTORS + 1, DATA, 512),
			 VIRTIO_BLK_S_IOERR);
	/* sector * 512 and sector + n wrap around 2^64. */
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, UINT64_MAX, DATA, 512),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(
		do_rw(f, VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, DATA, 512),
		VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 0, DATA, 100),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_OUT, 0, DATA, 513),
			 VIRTIO_BLK_S_IOERR);
	/* A transfer of nothing at the very end is fine. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, SECTORS, NULL, 0, NULL),
			 VIRTIO_BLK_S_OK);
	/* Unknown types. */
	assert_int_equal(do_req(f, 10, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_req(f, 0x80000000u, 0, NULL, 0, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(f->t.needs_reset, 0);
	fx_close(f);
}

/* More data buffers than seg_max is IOERR; seg_max itself works. */
static void test_too_many_segments(void **state)
{
	struct fx *f = fx_open("", 1);
	struct virtq_buf b[VIRTIO_BLK_SEG_MAX + 1];
	unsigned i, n;

	(void)state;
	for (n = VIRTIO_BLK_SEG_MAX + 1; n >= VIRTIO_BLK_SEG_MAX; n--) {
		/* n - 1 buffers of 4 bytes and one for the rest of 512. */
		for (i = 0; i + 1 < n; i++)
			b[i] = (struct virtq_buf){DATA + 4 * i, 4, true};
		b[i] = (struct virtq_buf){DATA + 4 * i, 512 - 4 * i, true};
		memset(f->ram + DATA, 0, 512);
		assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 7, b, n, NULL),
				 n > VIRTIO_BLK_SEG_MAX ? VIRTIO_BLK_S_IOERR
							: VIRTIO_BLK_S_OK);
	}
	assert_true(ram_is(f, DATA, 7, 1));
	fx_close(f);
}

/* A readable part shorter than the header: IOERR through the status
 * byte. No writable byte at all: nothing to report through, the device
 * needs a reset and uses nothing more until then. */
static void test_bad_header_and_missing_status(void **state)
{
	struct fx *f = fx_open("", 1);
	struct virtq_buf shorthdr[] = {{HDR(200), 8, false},
				       {STATUS(200), 1, true}};
	struct virtq_buf nostatus[] = {{HDR(201), 16, false},
				       {DATA, 512, false}};
	struct virtq_buf data = {DATA + 4096, 512, true};
	struct pollfd p = {.events = POLLIN};
	uint32_t id, len;
	unsigned slot;
	uint16_t head;

	(void)state;
	p.fd = f->t.fd;
	f->ram[STATUS(200)] = SENTINEL;
	head = virtq_drv_add(&f->vq[0], shorthdr, 2);
	virtq_drv_publish(&f->vq[0], head);
	f->dev.ops->queue_notify(&f->dev, 0);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(f->ram[STATUS(200)], VIRTIO_BLK_S_IOERR);

	/* A good read goes to io_uring, then the bad chain breaks the
	 * device: the read's completion is not reported either. */
	add_req(f, 0, VIRTIO_BLK_T_IN, 0, &data, 1, &slot);
	head = virtq_drv_add(&f->vq[0], nostatus, 2);
	virtq_drv_publish(&f->vq[0], head);
	capture_begin();
	f->dev.ops->queue_notify(&f->dev, 0);
	(void)capture_end();
	assert_int_equal(f->t.needs_reset, 1);
	assert_int_equal(poll(&p, 1, 5000), 1);
	f->t.cb(&f->dev, f->t.arg);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 0);
	assert_int_equal(status_of(f, slot), SENTINEL);
	/* Broken: later requests wait for the reset. */
	add_req(f, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &id);
	f->dev.ops->queue_notify(&f->dev, 0);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 0);
	/* Reset and re-enable: the device works again. */
	f->dev.ops->reset(&f->dev);
	enable_queue(f, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL),
			 VIRTIO_BLK_S_OK);
	fx_close(f);
}

static void test_malformed_queue(void **state)
{
	struct fx *f = fx_open("", 1);
	uint32_t id, len;

	(void)state;
	virtq_drv_publish(&f->vq[0], QSIZE + 3); /* no such descriptor */
	capture_begin();
	f->dev.ops->queue_notify(&f->dev, 0);
	(void)capture_end();
	assert_int_equal(f->t.needs_reset, 1);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 0);
	fx_close(f);
}

/* --- errors, batching, queues, reset ------------------------------------ */

static void test_injected_eio(void **state)
{
	struct fx *f = fx_open(",fail-sector=5", 1);
	struct virtq_buf a = {DATA, 2048, true}, b = {DATA + 4096, 512, true};
	uint8_t host[512];
	unsigned sa, sb;
	uint32_t id, len;

	(void)state;
	capture_begin();
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 4, DATA, 2048),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "sector 4"));
	/* The next requests, right next to sector 5, succeed. */
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 6, DATA, 512),
			 VIRTIO_BLK_S_OK);
	assert_true(ram_is(f, DATA, 6, 1));
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 1, DATA, 2048),
			 VIRTIO_BLK_S_OK);
	assert_true(ram_is(f, DATA, 1, 4));
	/* A failing write leaves the disk alone. */
	memset(f->ram + DATA, 0, 512);
	capture_begin();
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_OUT, 5, DATA, 512),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0),
			 VIRTIO_BLK_S_IOERR);
	(void)capture_end();
	host_read(f, 5 * 512, host, sizeof(host));
	assert_int_equal(host[0], pattern(5, 0));
	/* In one batch, only the request touching sector 5 fails. */
	add_req(f, 0, VIRTIO_BLK_T_IN, 2, &a, 1, &sa);
	add_req(f, 0, VIRTIO_BLK_T_IN, 20, &b, 1, &sb);
	capture_begin();
	f->dev.ops->queue_notify(&f->dev, 0);
	wait_used(f, 0, 2);
	(void)capture_end();
	assert_int_equal(status_of(f, sa), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status_of(f, sb), VIRTIO_BLK_S_OK);
	assert_true(ram_is(f, DATA + 4096, 20, 1));
	while (virtq_drv_take_used(&f->vq[0], &id, &len))
		;
	fx_close(f);
}

/* A file that shrank under the device: the short read is resubmitted for
 * the rest, which hits end of file and ends as IOERR. */
static void test_short_read(void **state)
{
	struct fx *f = fx_open("", 1);

	(void)state;
	assert_int_equal(truncate(f->path, 10 * 512 + 100), 0);
	capture_begin();
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 8, DATA, 2048),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(capture_end(), 1);
	assert_true(ram_is(f, DATA, 8, 2));
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 0, DATA, 2048),
			 VIRTIO_BLK_S_OK);
	fx_close(f);
}

/* More requests than io_uring slots: the device stops popping when all
 * slots are busy and takes the rest as completions free them. */
static void test_backpressure(void **state)
{
	struct fx *f = fx_open("", 1);
	struct virtq_buf b;
	unsigned i, slot[200];
	uint32_t id, len;

	(void)state;
	enable_queue_size(f, 0, 1024); /* 200 chains of 3 descriptors */
	for (i = 0; i < 200; i++) {
		b = (struct virtq_buf){DATA + 512 * i, 512, true};
		add_req(f, 0, VIRTIO_BLK_T_IN, i % SECTORS, &b, 1, &slot[i]);
	}
	f->dev.ops->queue_notify(&f->dev, 0);
	assert_int_equal(f->dev.vqs[0].last_avail, VIRTIO_BLK_INFLIGHT);
	wait_used(f, 0, 200);
	for (i = 0; i < 200; i++) {
		assert_int_equal(status_of(f, slot[i]), VIRTIO_BLK_S_OK);
		assert_true(ram_is(f, DATA + 512 * i, i % SECTORS, 1));
	}
	for (i = 0; i < 200; i++)
		assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 0);
	fx_close(f);
}

static void test_multiqueue(void **state)
{
	struct fx *f = fx_open("", 2);
	struct virtq_buf a = {DATA, 512, true}, b = {DATA + 512, 512, true};
	uint32_t id, len, nq = 0;
	unsigned sa, sb;
	uint16_t ha, hb;

	(void)state;
	assert_true(f->dev.features & 1ULL << VIRTIO_BLK_F_MQ);
	f->dev.ops->config_read(&f->dev, 34, &nq, 2);
	assert_int_equal(nq, 2);
	ha = add_req(f, 0, VIRTIO_BLK_T_IN, 1, &a, 1, &sa);
	hb = add_req(f, 1, VIRTIO_BLK_T_IN, 2, &b, 1, &sb);
	f->dev.ops->queue_notify(&f->dev, 1);
	wait_used(f, 1, 1);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), 0);
	f->dev.ops->queue_notify(&f->dev, 0);
	wait_used(f, 0, 1);
	assert_int_equal(virtq_drv_take_used(&f->vq[0], &id, &len), 1);
	assert_int_equal(id, ha);
	assert_int_equal(virtq_drv_take_used(&f->vq[1], &id, &len), 1);
	assert_int_equal(id, hb);
	assert_true(ram_is(f, DATA, 1, 1) && ram_is(f, DATA + 512, 2, 1));
	assert_true(f->t.notified[0] >= 1 && f->t.notified[1] >= 1);
	/* A queue number past num_queues is ignored. */
	f->dev.ops->queue_notify(&f->dev, 5);
	fx_close(f);
}

static void test_reset_with_requests_in_flight(void **state)
{
	struct fx *f = fx_open("", 1);
	struct virtq_buf b;
	unsigned i, slot[16];

	(void)state;
	for (i = 0; i < 16; i++) {
		b = (struct virtq_buf){DATA + 4096 * i, 4096, i % 2 == 0};
		add_req(f, 0, i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			8 * (i % 8), &b, 1, &slot[i]);
	}
	f->dev.ops->queue_notify(&f->dev, 0);
	f->dev.ops->reset(&f->dev);
	/* Nothing reported after the reset, not even late completions. */
	if (poll(&(struct pollfd){.fd = f->t.fd, .events = POLLIN}, 1, 0) > 0)
		f->t.cb(&f->dev, f->t.arg);
	assert_int_equal(virtq_drv_used_idx(&f->vq[0]), 0);
	for (i = 0; i < 16; i++)
		assert_int_equal(status_of(f, slot[i]), SENTINEL);
	/* The driver sets the queue up again and carries on. */
	enable_queue(f, 0);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 3, DATA, 512),
			 VIRTIO_BLK_S_OK);
	assert_true(ram_is(f, DATA, 3, 1));
	fx_close(f);
}

static void test_direct(void **state)
{
	char path[64];
	struct fx *f;
	int fd;

	(void)state;
	make_disk(path, 1, 0);
	fd = open(path, O_RDWR | O_DIRECT);
	unlink(path);
	if (fd < 0)
		skip(); /* the filesystem under /tmp has no O_DIRECT */
	close(fd);
	f = fx_open(",direct", 1);
	memset(f->ram + DATA, 0x77, 4096);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_OUT, 8, DATA, 4096),
			 VIRTIO_BLK_S_OK);
	memset(f->ram + DATA, 0, 4096);
	assert_int_equal(do_rw(f, VIRTIO_BLK_T_IN, 8, DATA, 4096),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(f->ram[DATA], 0x77);
	assert_int_equal(f->ram[DATA + 4095], 0x77);
	assert_int_equal(cfg32(f, 20) % 512, 0);
	fx_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_device_and_config),
		cmocka_unit_test(test_size_rounded_down),
		cmocka_unit_test(test_read_write_round_trip),
		cmocka_unit_test(test_any_framing),
		cmocka_unit_test(test_flush_and_get_id),
		cmocka_unit_test(test_discard_punches_hole),
		cmocka_unit_test(test_write_zeroes),
		cmocka_unit_test(test_write_zeroes_unsupported),
		cmocka_unit_test(test_discard_bad_segments),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_bad_ranges_and_lengths),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_bad_header_and_missing_status),
		cmocka_unit_test(test_malformed_queue),
		cmocka_unit_test(test_injected_eio),
		cmocka_unit_test(test_short_read),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_multiqueue),
		cmocka_unit_test(test_reset_with_requests_in_flight),
		cmocka_unit_test(test_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
