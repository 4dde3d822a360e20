/* SPDX-License-Identifier: MIT */
/*
 * virtio_blk: exercise a VMM's virtio-blk (modern virtio-pci) from ring 3.
 *
 *   mode=pattern [start=S] [sectors=N] [per=P]  write a pattern derived from
 *       each sector number over N sectors (P per request), read it back,
 *       compare, flush
 *   mode=readonly        expect VIRTIO_BLK_F_RO, a write to fail with IOERR
 *                        and a read to succeed
 *   mode=discard start=S count=N       one DISCARD, expect OK
 *   mode=write-zeroes start=S count=N [unmap=1]  pattern around, zeroes
 *                        inside, read back and check both
 *   mode=id              print the GET_ID string
 *   mode=errors [sector=S]  a read at S (default: capacity, past the end)
 *                        must fail with IOERR, a read at 0 then succeed
 *   qd=N (requests in flight), indirect=1, event_idx=1, irq=1 (MSI-X),
 *   qsize=N (queue size), verbose=1
 */
#include "vblk.h"
#include "irq.h"

#define PATTERN_MAGIC 0x5eed000000000000ULL
#define WORDS	      (VBLK_SECTOR / 8)
#define MAX_QD	      256

static struct vblk blk;

/* Word i of sector s: tells the sector and the offset apart, so a
 * misplaced or shifted sector shows. tests/integration/qemu-virtio.sh
 * checks the same pattern in the disk image. */
static uint64_t pattern_word(uint64_t sector, unsigned i)
{
	return PATTERN_MAGIC | (uint64_t)i << 40 | sector;
}

static void pattern_fill(void *buf, uint64_t sector, unsigned n)
{
	uint64_t *w = buf;

	for (unsigned s = 0; s < n; s++)
		for (unsigned i = 0; i < WORDS; i++)
			*w++ = pattern_word(sector + s, i);
}

/* The first wrong word, or -1 if all match. */
static long pattern_check(const void *buf, uint64_t sector, unsigned n)
{
	const uint64_t *w = buf;

	for (unsigned k = 0; k < n * WORDS; k++)
		if (w[k] != pattern_word(sector + k / WORDS, k % WORDS))
			return (long)k;
	return -1;
}

/* Requests in flight over [start, start + count), per sectors each. */
struct pipeline {
	uint32_t type;
	uint64_t next, end;
	unsigned per, qd, in_flight;
	struct vblk_req *reqs;
	uint8_t *bufs;
	unsigned *free_slots, nfree;
};

static int pipeline_fill(struct pipeline *p)
{
	while (p->in_flight < p->qd && p->next < p->end) {
		unsigned slot = p->free_slots[p->nfree - 1];
		struct vblk_req *r = &p->reqs[slot];
		uint8_t *buf = p->bufs + (size_t)slot * p->per * VBLK_SECTOR;
		unsigned n =
			p->end - p->next < p->per ? p->end - p->next : p->per;
		int err;

		if (p->type == VIRTIO_BLK_T_OUT)
			pattern_fill(buf, p->next, n);
		else
			memset(buf, 0xcc, n * VBLK_SECTOR);
		r->priv = (void *)(uintptr_t)slot;
		err = vblk_submit(&blk, r, p->type, p->next, buf,
				  n * VBLK_SECTOR);
		if (err == -ENOSPC && p->in_flight)
			break; /* the ring is full: reap first */
		if (err)
			return err;
		p->nfree--;
		p->in_flight++;
		p->next += n;
	}
	vblk_kick(&blk);
	return 0;
}

static int pipeline_reap(struct pipeline *p)
{
	struct vblk_req *r = vblk_complete(&blk);
	long bad;

	if (!r)
		return -ETIMEDOUT;
	p->in_flight--;
	p->free_slots[p->nfree++] = (unsigned)(uintptr_t)r->priv;
	if (r->status != VIRTIO_BLK_S_OK) {
		printf("blk: %s at sector %lu: status %s\n",
		       r->hdr.type == VIRTIO_BLK_T_OUT ? "write" : "read",
		       r->hdr.sector, vblk_status_name(r->status));
		return -EIO;
	}
	if (p->type != VIRTIO_BLK_T_IN)
		return 0;
	bad = pattern_check(r->data, r->hdr.sector, r->len / VBLK_SECTOR);
	if (bad >= 0) {
		printf("blk: sector %lu word %ld reads 0x%lx, want 0x%lx\n",
		       r->hdr.sector + bad / WORDS, bad % WORDS,
		       ((uint64_t *)r->data)[bad],
		       pattern_word(r->hdr.sector + bad / WORDS, bad % WORDS));
		return -EIO;
	}
	return 0;
}

/* Slots for qd requests of per sectors, kept for the next run (dma_alloc
 * never frees) and made anew only if that one needs more. */
static int pipeline_alloc(struct pipeline *p)
{
	static struct vblk_req *reqs;
	static uint8_t *bufs;
	static unsigned *slots;
	static size_t have_qd, have_bytes;
	size_t bytes = (size_t)p->qd * p->per * VBLK_SECTOR;

	if (p->qd > have_qd || bytes > have_bytes) {
		reqs = vblk_req_alloc(p->qd);
		bufs = dma_alloc(bytes, 4096);
		slots = dma_alloc(p->qd * sizeof(unsigned), 4);
		if (!reqs || !bufs || !slots)
			return -ENOMEM;
		have_qd = p->qd;
		have_bytes = bytes;
	}
	p->reqs = reqs;
	p->bufs = bufs;
	p->free_slots = slots;
	return 0;
}

static int pipeline_run(uint32_t type, uint64_t start, uint64_t count,
			unsigned per, unsigned qd)
{
	struct pipeline p = {
		.type = type,
		.next = start,
		.end = start + count,
		.per = per,
		.qd = qd,
		.nfree = qd,
	};
	int err = pipeline_alloc(&p);

	if (err)
		return err;
	for (unsigned i = 0; i < qd; i++)
		p.free_slots[i] = i;
	while (!err && (p.next < p.end || p.in_flight)) {
		err = pipeline_fill(&p);
		if (!err)
			err = pipeline_reap(&p);
	}
	/* On an error, collect what is still out before returning. */
	while (p.in_flight && vblk_complete(&blk))
		p.in_flight--;
	return err;
}

static uint64_t arg(const char *key, uint64_t def)
{
	long v = cmdline_int(key, (long)def);

	return v < 0 ? def : (uint64_t)v;
}

static void check_range(uint64_t start, uint64_t count)
{
	if (!count || start + count > blk.cfg.capacity || start + count < start)
		test_fail("range %lu+%lu is outside the disk (%lu sectors)",
			  start, count, blk.cfg.capacity);
}

static void mode_pattern(unsigned qd)
{
	uint64_t start = arg("start", 0);
	uint64_t def = blk.cfg.capacity < 2048 ? blk.cfg.capacity : 2048;
	uint64_t n = arg("sectors", def);
	unsigned per = (unsigned)arg("per", 8);
	int err;

	check_range(start, n);
	if (!per || per > 2048)
		test_fail("per=%u: want 1..2048 sectors per request", per);
	if (vblk_has(&blk, VIRTIO_BLK_F_RO))
		test_fail("the disk is read-only (VIRTIO_BLK_F_RO)");
	err = pipeline_run(VIRTIO_BLK_T_OUT, start, n, per, qd);
	if (err)
		test_fail("writing the pattern: %s", err_name(err));
	err = pipeline_run(VIRTIO_BLK_T_IN, start, n, per, qd);
	if (err)
		test_fail("reading the pattern back: %s", err_name(err));
	if (vblk_has(&blk, VIRTIO_BLK_F_FLUSH)) {
		err = vblk_io(&blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
		if (err != VIRTIO_BLK_S_OK)
			test_fail("flush: %s", vblk_status_name(err));
	} else {
		printf("blk: no VIRTIO_BLK_F_FLUSH: not flushing\n");
	}
	printf("blk: capacity %lu sectors, wrote and verified %lu sectors\n",
	       blk.cfg.capacity, n);
}

static void mode_readonly(void)
{
	uint8_t *buf = dma_alloc(VBLK_SECTOR, VBLK_SECTOR);
	int st;

	if (!buf)
		test_fail("no memory");
	if (!vblk_has(&blk, VIRTIO_BLK_F_RO))
		test_fail("VIRTIO_BLK_F_RO not offered");
	pattern_fill(buf, 0, 1);
	st = vblk_io(&blk, VIRTIO_BLK_T_OUT, 0, buf, VBLK_SECTOR);
	if (st != VIRTIO_BLK_S_IOERR)
		test_fail("write to a read-only disk: status %s, want IOERR",
			  vblk_status_name(st));
	st = vblk_io(&blk, VIRTIO_BLK_T_IN, 0, buf, VBLK_SECTOR);
	if (st != VIRTIO_BLK_S_OK)
		test_fail("read from a read-only disk: status %s",
			  vblk_status_name(st));
	printf("blk: read-only: write failed with IOERR, read ok\n");
}

static void mode_discard(void)
{
	uint64_t start = arg("start", 0), count = arg("count", 8);
	int st;

	if (!vblk_has(&blk, VIRTIO_BLK_F_DISCARD))
		test_fail("VIRTIO_BLK_F_DISCARD not offered");
	check_range(start, count);
	if (count > blk.cfg.max_discard_sectors)
		test_fail("count=%lu is over max_discard_sectors %u", count,
			  blk.cfg.max_discard_sectors);
	printf("blk: discard: max %u sectors, %u segments, alignment %u\n",
	       blk.cfg.max_discard_sectors, blk.cfg.max_discard_seg,
	       blk.cfg.discard_align);
	st = vblk_dwz(&blk, VIRTIO_BLK_T_DISCARD, start, (uint32_t)count, 0);
	if (st != VIRTIO_BLK_S_OK)
		test_fail("discard: status %s", vblk_status_name(st));
	printf("blk: discarded %lu sectors at %lu\n", count, start);
}

/* The pattern outside [start, start + count), zeroes inside. */
static void check_zeroed(const uint64_t *buf, uint64_t first, uint64_t n,
			 uint64_t start, uint64_t count)
{
	for (uint64_t s = first; s < first + n; s++) {
		const uint64_t *w = buf + (s - first) * WORDS;
		bool inside = s >= start && s < start + count;

		for (unsigned i = 0; i < WORDS; i++)
			if (w[i] != (inside ? 0 : pattern_word(s, i)))
				test_fail("sector %lu word %u is 0x%lx after "
					  "write-zeroes",
					  s, i, w[i]);
	}
}

static void mode_write_zeroes(void)
{
	uint64_t start = arg("start", 8), count = arg("count", 8);
	uint32_t flags = arg("unmap", 0) ? VIRTIO_BLK_WZ_UNMAP : 0;
	uint64_t first, n;
	uint8_t *buf;
	int st;

	if (!vblk_has(&blk, VIRTIO_BLK_F_WRITE_ZEROES))
		test_fail("VIRTIO_BLK_F_WRITE_ZEROES not offered");
	check_range(start, count);
	if (count > blk.cfg.max_write_zeroes_sectors)
		test_fail("count=%lu is over max_write_zeroes_sectors %u",
			  count, blk.cfg.max_write_zeroes_sectors);
	/* One sector of pattern on each side shows the zeroes stay put. */
	first = start ? start - 1 : 0;
	n = start + count < blk.cfg.capacity ? start + count + 1 - first
					     : start + count - first;
	buf = dma_alloc(n * VBLK_SECTOR, 4096);
	if (!buf || n * VBLK_SECTOR > 0xffffffff)
		test_fail("range too large for one request");
	pattern_fill(buf, first, (unsigned)n);
	st = vblk_io(&blk, VIRTIO_BLK_T_OUT, first, buf, n * VBLK_SECTOR);
	if (st != VIRTIO_BLK_S_OK)
		test_fail("write: status %s", vblk_status_name(st));
	st = vblk_dwz(&blk, VIRTIO_BLK_T_WRITE_ZEROES, start, (uint32_t)count,
		      flags);
	if (st != VIRTIO_BLK_S_OK)
		test_fail("write-zeroes: status %s", vblk_status_name(st));
	memset(buf, 0xcc, n * VBLK_SECTOR);
	st = vblk_io(&blk, VIRTIO_BLK_T_IN, first, buf, n * VBLK_SECTOR);
	if (st != VIRTIO_BLK_S_OK)
		test_fail("read: status %s", vblk_status_name(st));
	check_zeroed((const uint64_t *)buf, first, n, start, count);
	printf("blk: wrote zeroes to %lu sectors at %lu%s, verified\n", count,
	       start, flags ? " (unmap)" : "");
}

static void mode_id(void)
{
	static char id[VIRTIO_BLK_ID_BYTES + 1];
	int st = vblk_io(&blk, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES);

	if (st != VIRTIO_BLK_S_OK)
		test_fail("GET_ID: status %s", vblk_status_name(st));
	/* Spec 5.2.6: NUL-terminated unless it is all 20 bytes. */
	id[VIRTIO_BLK_ID_BYTES] = '\0';
	printf("blk: id \"%s\"\n", id);
}

static void mode_errors(void)
{
	uint64_t sector = arg("sector", blk.cfg.capacity);
	uint8_t *buf = dma_alloc(VBLK_SECTOR, VBLK_SECTOR);
	int st;

	if (!buf)
		test_fail("no memory");
	st = vblk_io(&blk, VIRTIO_BLK_T_IN, sector, buf, VBLK_SECTOR);
	if (st != VIRTIO_BLK_S_IOERR)
		test_fail("read at sector %lu: status %s, want IOERR", sector,
			  vblk_status_name(st));
	st = vblk_io(&blk, VIRTIO_BLK_T_IN, 0, buf, VBLK_SECTOR);
	if (st != VIRTIO_BLK_S_OK)
		test_fail("read at sector 0 after the error: status %s",
			  vblk_status_name(st));
	printf("blk: read at sector %lu failed with IOERR as expected, read "
	       "at sector 0 ok\n",
	       sector);
}

static void open_disk(unsigned qd)
{
	struct virtio_opts o = {
		.queue_size = (unsigned)arg("qsize", 0),
		.irq = arg("irq", 0),
		.verbose = arg("verbose", 0),
	};
	int err;

	if (arg("indirect", 0))
		o.features |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (arg("event_idx", 0))
		o.features |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (!qd || qd > MAX_QD)
		test_fail("qd=%u: want 1..%u", qd, MAX_QD);
	err = vblk_open(&blk, (unsigned)arg("disk", 0), &o);
	if (err)
		test_fail("no usable virtio-blk device: %s", err_name(err));
	if (arg("indirect", 0) && !vblk_has(&blk, VIRTIO_F_INDIRECT_DESC))
		test_fail("indirect=1 but VIRTIO_F_INDIRECT_DESC not offered");
	if (arg("event_idx", 0) && !vblk_has(&blk, VIRTIO_F_EVENT_IDX))
		test_fail("event_idx=1 but VIRTIO_F_EVENT_IDX not offered");
}

int main(void)
{
	char mode[24] = "pattern";
	unsigned qd = (unsigned)arg("qd", 1);

	cmdline_get("mode", mode, sizeof(mode));
	open_disk(qd);
	if (!strcmp(mode, "pattern"))
		mode_pattern(qd);
	else if (!strcmp(mode, "readonly"))
		mode_readonly();
	else if (!strcmp(mode, "discard"))
		mode_discard();
	else if (!strcmp(mode, "write-zeroes"))
		mode_write_zeroes();
	else if (!strcmp(mode, "id"))
		mode_id();
	else if (!strcmp(mode, "errors"))
		mode_errors();
	else
		test_fail("unknown mode \"%s\"", mode);
	/* An interrupt that came while polling found the request done is
	 * still pending in the LAPIC: one short halt counts it. */
	if (blk.vd.msix && !irq_count())
		irq_wait(1000);
	printf("blk: %lu requests, %lu kicks, %lu notifications, %lu "
	       "interrupts\n",
	       blk.vq.completed, blk.vq.kicks, blk.vq.notifies, irq_count());
	if (blk.vq.errors)
		test_fail("%u virtqueue protocol errors", blk.vq.errors);
	if (blk.vd.msix && !irq_count())
		test_fail("irq=1 but no MSI-X interrupt arrived");
	test_pass();
}
