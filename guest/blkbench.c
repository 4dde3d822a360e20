/* SPDX-License-Identifier: MIT */
/*
 * blkbench: virtio-blk throughput from inside the guest, timed with the
 * TSC, so that berth and QEMU can be compared on the same disk image.
 *
 *   tests=A,B,...  any of randread-4k-qd1 randread-4k-qd32 seqread-1m
 *                  seqwrite-1m (default: all four, in that order)
 *   secs=N         run each test N seconds (default 2), or
 *   count=N        run each test for N requests instead
 *   seqqd=N        requests in flight for the 1 MiB tests (default 1)
 *   irq=1 event_idx=1 indirect=1   as for virtio_blk
 *
 * One line per test, fields in a fixed order (MB = 10^6 bytes):
 *   blkbench: test=randread-4k-qd1 bs=4096 qd=1 ops=N bytes=N usec=N
 *       iops=N mbps=N.NN
 * seqwrite-1m overwrites the disk from sector 0 on.
 */
#include "vblk.h"

#define MAX_QD 64

struct bench {
	const char *name;
	uint32_t type;
	uint32_t bs;
	unsigned qd; /* 0: seqqd= */
	bool random;
};

static const struct bench benches[] = {
	{"randread-4k-qd1", VIRTIO_BLK_T_IN, 4096, 1, true},
	{"randread-4k-qd32", VIRTIO_BLK_T_IN, 4096, 32, true},
	{"seqread-1m", VIRTIO_BLK_T_IN, 1 << 20, 0, false},
	{"seqwrite-1m", VIRTIO_BLK_T_OUT, 1 << 20, 0, false},
};

/* A run in progress: where the next request goes and when to stop. */
struct run {
	const struct bench *b;
	unsigned qd;
	uint64_t next_sector, span; /* span: sectors a request may start in */
	uint64_t count, submitted, done, bytes;
	uint64_t stop_tsc;
	uint64_t rng;
	struct vblk_req *reqs;
	uint8_t *bufs;
};

static struct vblk blk;

static uint64_t xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t next_sector(struct run *r)
{
	uint64_t per = r->b->bs / VBLK_SECTOR, s;

	if (r->b->random)
		return xorshift64(&r->rng) % (r->span / per) * per;
	s = r->next_sector;
	r->next_sector = s + per >= r->span ? 0 : s + per;
	return s;
}

static bool want_more(const struct run *r)
{
	if (r->count)
		return r->submitted < r->count;
	return (int64_t)(rdtsc() - r->stop_tsc) < 0;
}

static void submit(struct run *r, unsigned slot)
{
	struct vblk_req *q = &r->reqs[slot];
	int err;

	q->priv = (void *)(uintptr_t)slot;
	err = vblk_submit(&blk, q, r->b->type, next_sector(r),
			  r->bufs + (size_t)slot * r->b->bs, r->b->bs);
	if (err)
		test_fail("%s: submitting: %s", r->b->name, err_name(err));
	r->submitted++;
}

/* Keep qd requests in flight until the count or the time is reached; a
 * completed slot is refilled at once, and one kick covers each batch. */
static void run_loop(struct run *r)
{
	for (unsigned i = 0; i < r->qd && want_more(r); i++)
		submit(r, i);
	vblk_kick(&blk);
	while (r->done < r->submitted) {
		struct vblk_req *q = vblk_complete(&blk);

		if (!q)
			test_fail("%s: request timed out", r->b->name);
		if (q->status != VIRTIO_BLK_S_OK)
			test_fail("%s: sector %lu: status %s", r->b->name,
				  q->hdr.sector, vblk_status_name(q->status));
		r->done++;
		r->bytes += q->len;
		if (want_more(r)) {
			submit(r, (unsigned)(uintptr_t)q->priv);
			vblk_kick(&blk);
		}
	}
}

static void report(const struct run *r, uint64_t ticks)
{
	uint64_t usec = ticks * 1000 / tsc_khz();
	uint64_t iops, mbps100;

	if (!usec)
		usec = 1;
	iops = r->done * 1000000 / usec;
	mbps100 = r->bytes * 100 / usec;
	printf("blkbench: test=%s bs=%u qd=%u ops=%lu bytes=%lu usec=%lu "
	       "iops=%lu mbps=%lu.%02lu\n",
	       r->b->name, r->b->bs, r->qd, r->done, r->bytes, usec, iops,
	       mbps100 / 100, mbps100 % 100);
}

static void run_bench(const struct bench *b, uint64_t secs, uint64_t count,
		      unsigned seqqd)
{
	static uint8_t *bufs;
	static struct vblk_req *reqs;
	struct run r = {
		.b = b,
		.qd = b->qd ? b->qd : seqqd,
		.span = blk.cfg.capacity,
		.count = count,
		.rng = 0x9e3779b97f4a7c15ULL,
	};
	uint64_t t0;

	if (r.span < b->bs / VBLK_SECTOR)
		test_fail("%s: the disk is smaller than one request", b->name);
	/* One set of buffers, sized for the largest run, reused. */
	if (!bufs) {
		size_t size = (size_t)seqqd << 20;

		if (size < 32 * 4096)
			size = 32 * 4096;
		bufs = dma_alloc(size, 4096);
		reqs = vblk_req_alloc(MAX_QD);
		if (!bufs || !reqs)
			test_fail("no memory for %zu KiB of buffers",
				  size >> 10);
	}
	r.bufs = bufs;
	r.reqs = reqs;
	if (b->type == VIRTIO_BLK_T_OUT)
		memset(bufs, 0xa5, (size_t)r.qd * b->bs);
	t0 = rdtsc();
	r.stop_tsc = t0 + secs * tsc_khz() * 1000;
	run_loop(&r);
	report(&r, rdtsc() - t0);
}

/* Whether name is in the comma-separated list. */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		const char *e = p;

		while (*e && *e != ',')
			e++;
		if ((size_t)(e - p) == n && !strncmp(p, name, n))
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

int main(void)
{
	struct virtio_opts o = {.irq = cmdline_int("irq", 0) > 0};
	char tests[160] = "";
	long secs = cmdline_int("secs", 2), count = cmdline_int("count", 0);
	long seqqd = cmdline_int("seqqd", 1);
	unsigned ran = 0;
	int err;

	if (cmdline_int("event_idx", 0) > 0)
		o.features |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_int("indirect", 0) > 0)
		o.features |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (secs <= 0 || count < 0 || seqqd < 1 || seqqd > MAX_QD)
		test_fail("want secs > 0, count >= 0, seqqd 1..%u", MAX_QD);
	cmdline_get("tests", tests, sizeof(tests));
	err = vblk_open(&blk, 0, &o);
	if (err)
		test_fail("no usable virtio-blk device: %s", err_name(err));
	printf("blkbench: tsc %lu kHz (%s), %s, %lu s or %ld requests per "
	       "test\n",
	       tsc_khz(), tsc_source(), o.irq ? "MSI-X" : "polling",
	       (uint64_t)secs, count);
	for (unsigned i = 0; i < ARRAY_SIZE(benches); i++) {
		if (*tests && !listed(tests, benches[i].name))
			continue;
		run_bench(&benches[i], (uint64_t)secs, (uint64_t)count,
			  (unsigned)seqqd);
		ran++;
	}
	if (!ran)
		test_fail("tests=%s names no test", tests);
	printf("blkbench: %lu kicks, %lu notifications\n", blk.vq.kicks,
	       blk.vq.notifies);
	if (blk.vq.errors)
		test_fail("%u virtqueue protocol errors", blk.vq.errors);
	test_pass();
}
