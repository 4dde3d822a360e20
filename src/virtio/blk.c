/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk over io_uring. queue_notify pops chains, turns each into one
 * io_uring request and submits the whole batch at once; the ring's eventfd
 * brings completions back to the I/O thread, where the status byte is
 * written and the chain pushed.
 *
 * Guest trust: virtq_pop hands over a snapshot of the chain (buffer
 * addresses and lengths, each already checked to be guest RAM). Every length
 * used here comes from that snapshot and is checked once; the header and the
 * discard segments are copied out of guest memory before they are looked
 * at. Only the data bytes stay in guest memory while I/O runs: a guest that
 * changes them meanwhile changes what it reads or writes, nothing more.
 */
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/log.h"

#define BLK_QUEUED  0xff /* not a status: the request is in io_uring */
#define BLK_HDR_LEN sizeof(struct virtio_blk_req_hdr)
#define BLK_SECTOR  VIRTIO_BLK_SECTOR_SIZE

/* One request in flight; iov[] stays put until its completion. */
struct blk_req {
	uint64_t offset; /* disk byte offset of what is still to do */
	uint64_t len;	 /* bytes still to transfer, or fallocate length */
	uint64_t status_gpa;
	uint32_t used_len; /* used length to report if the status is OK */
	uint32_t type;
	uint16_t head;
	uint16_t q;
	int mode;	/* fallocate mode */
	bool fault;	/* fail-sector hit: a NOP that completes as -EIO */
	uint64_t bytes; /* IN, OUT: bytes asked for, for the counters */
	unsigned iov_first, niov;
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
};

struct blk {
	int fd;
	int efd; /* io_uring completion eventfd, watched by the transport */
	bool ring_ready;
	bool readonly;
	bool watching;
	bool broken; /* virtio_dev_broken called: hands off until reset */
	bool fail_sector_set;
	uint64_t fail_sector;
	uint64_t capacity; /* sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config cfg;
	struct io_uring ring;
	unsigned inflight; /* requests with an SQE queued or in the kernel */
	unsigned nfree;
	uint16_t free[VIRTIO_BLK_INFLIGHT];
	uint64_t starved;   /* queues left unpopped for want of a free slot */
	uint64_t used_mask; /* queues pushed to in this batch */
	struct ratelimit err_rl;
	struct virtio_blk_stats st;
	struct virtq_chain chain; /* scratch for virtq_pop */
	struct blk_req reqs[VIRTIO_BLK_INFLIGHT];
};

/* One option after the path: ro, direct or fail-sector=N. */
static int blk_parse_opt(const char *opt, const char *spec,
			 struct virtio_blk_options *o)
{
	const char *n = opt + strlen("fail-sector=");
	char *end;

	if (!strcmp(opt, "ro")) {
		o->readonly = true;
	} else if (!strcmp(opt, "direct")) {
		o->direct = true;
	} else if (!strncmp(opt, "fail-sector=", n - opt)) {
		errno = 0;
		o->fail_sector = strtoull(n, &end, 0);
		if (*n < '0' || *n > '9' || *end || errno) {
			pr_err("--disk: '%s' in '%s' is not a sector number",
			       opt, spec);
			return -EINVAL;
		}
		o->fail_sector_set = true;
	} else {
		pr_err("--disk: unknown option '%s' in '%s' (expected "
		       "PATH[,ro][,direct][,fail-sector=N])",
		       opt, spec);
		return -EINVAL;
	}
	return 0;
}

int virtio_blk_parse(const char *spec, struct virtio_blk_options *o)
{
	char buf[PATH_MAX + 64], *rest = buf;
	const char *path;

	memset(o, 0, sizeof(*o));
	if ((size_t)snprintf(buf, sizeof(buf), "%s", spec) >= sizeof(buf))
		buf[0] = 0;
	path = strsep(&rest, ",");
	if (!*path || strlen(path) >= sizeof(o->path)) {
		pr_err("--disk: '%.64s' does not start with a file or block "
		       "device path (PATH[,ro][,direct])",
		       spec);
		return -EINVAL;
	}
	strcpy(o->path, path);
	while (rest)
		if (blk_parse_opt(strsep(&rest, ","), spec, o))
			return -EINVAL;
	return 0;
}

/* Open the disk and size it: st_size for a file, the device's size for a
 * block device. */
static int blk_open(struct blk *s, const struct virtio_blk_options *o,
		    struct stat *st, uint64_t *bytes)
{
	int flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int err;

	s->fd = open(o->path, flags | (o->direct ? O_DIRECT : 0));
	if (s->fd < 0 && errno == EINVAL && o->direct) {
		pr_err("--disk: %s: the filesystem does not support O_DIRECT "
		       "(drop ',direct')",
		       o->path);
		return -EINVAL;
	}
	if (s->fd < 0 || fstat(s->fd, st) < 0)
		goto fail;
	*bytes = st->st_size;
	if (S_ISREG(st->st_mode))
		return 0;
	if (!S_ISBLK(st->st_mode)) {
		pr_err("--disk: %s is not a regular file or a block device",
		       o->path);
		return -EINVAL;
	}
	if (ioctl(s->fd, BLKGETSIZE64, bytes) == 0)
		return 0;
fail:
	err = errno;
	pr_err("--disk: %s: %s%s", o->path, strerror(err),
	       !o->readonly && (err == EROFS || err == EACCES)
		       ? " (add ',ro' for a read-only disk)"
		       : "");
	return -err;
}

static int blk_ring_init(struct blk *s)
{
	int ret;

	/* SUBMIT_ALL (Linux 5.18): one SQE failing early must not hold back
	 * the rest of a batch; older kernels reject the flag. No
	 * SINGLE_ISSUER or DEFER_TASKRUN: reset waits on a vCPU thread. */
	ret = io_uring_queue_init(VIRTIO_BLK_INFLIGHT, &s->ring,
				  IORING_SETUP_SUBMIT_ALL);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(VIRTIO_BLK_INFLIGHT, &s->ring, 0);
	if (ret < 0) {
		pr_err("--disk: io_uring set-up failed: %s", strerror(-ret));
		return ret;
	}
	s->ring_ready = true;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0)
		ret = -errno;
	else
		ret = io_uring_register_eventfd(&s->ring, s->efd);
	if (ret < 0)
		pr_err("--disk: io_uring eventfd: %s", strerror(-ret));
	return ret;
}

/* Discards are aligned to the host's I/O block (st_blksize) so that whole
 * blocks can be deallocated. */
static void blk_fill_config(struct blk *s, unsigned num_queues,
			    uint32_t io_size)
{
	struct virtio_blk_config *c = &s->cfg;
	uint32_t align = io_size > BLK_SECTOR ? io_size / BLK_SECTOR : 1;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(s->capacity);
	c->seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	c->blk_size = htole32(BLK_SECTOR);
	c->num_queues = htole16(num_queues);
	c->max_discard_sectors = htole32(VIRTIO_BLK_MAX_DWZ_SECTORS);
	c->max_discard_seg = htole32(1);
	c->discard_sector_alignment = htole32(align);
	c->max_write_zeroes_sectors = htole32(VIRTIO_BLK_MAX_DWZ_SECTORS);
	c->max_write_zeroes_seg = htole32(1);
	c->write_zeroes_may_unmap = 1;
}

/* "berth-<dev>-<inode>": stable while the file exists, so a guest can name
 * the disk by it (/dev/disk/by-id); cut to 20 bytes, NUL-padded. */
static void blk_make_id(struct blk *s, const struct stat *st)
{
	char id[48];
	size_t n;

	n = snprintf(id, sizeof(id), "berth-%llx-%llx",
		     (unsigned long long)st->st_dev,
		     (unsigned long long)st->st_ino);
	memset(s->id, 0, sizeof(s->id));
	memcpy(s->id, id, n < sizeof(s->id) ? n : sizeof(s->id));
}

static int blk_setup(struct blk *s, const struct virtio_blk_options *o,
		     unsigned num_queues)
{
	struct stat st;
	uint64_t bytes;
	int ret;

	ret = blk_open(s, o, &st, &bytes);
	if (!ret)
		ret = blk_ring_init(s);
	if (ret)
		return ret;
	if (bytes % BLK_SECTOR)
		pr_warn("--disk: %s: size %llu is not a multiple of 512; the "
			"last %llu bytes are not visible to the guest",
			o->path, (unsigned long long)bytes,
			(unsigned long long)(bytes % BLK_SECTOR));
	/* Capped so that every byte offset fits in off_t. */
	s->capacity = (bytes > INT64_MAX ? INT64_MAX : bytes) / BLK_SECTOR;
	s->readonly = o->readonly;
	s->fail_sector_set = o->fail_sector_set;
	s->fail_sector = o->fail_sector;
	blk_fill_config(s, num_queues, st.st_blksize);
	blk_make_id(s, &st);
	return 0;
}

static struct blk_req *blk_req_get(struct blk *s)
{
	struct blk_req *r = &s->reqs[s->free[--s->nfree]];

	r->used_len = 1;
	r->bytes = 0;
	r->fault = false;
	r->iov_first = 0;
	r->niov = 0;
	return r;
}

static void blk_req_put(struct blk *s, struct blk_req *r)
{
	s->free[s->nfree++] = r - s->reqs;
}

static void blk_break(struct virtio_dev *d, const char *why)
{
	struct blk *s = d->priv;

	s->broken = true;
	virtio_dev_broken(d, why);
}

/* The status is the last byte of the last non-empty writable buffer. */
static bool blk_status_gpa(const struct virtq_chain *c, uint64_t *gpa)
{
	unsigned i;

	for (i = c->nr; i > c->nr_out; i--) {
		if (c->bufs[i - 1].len) {
			*gpa = c->bufs[i - 1].gpa + c->bufs[i - 1].len - 1;
			return true;
		}
	}
	return false;
}

/* Point r->iov at len bytes of bufs[from..to) after the first skip bytes.
 * False if that takes more than seg_max pieces or a piece is not RAM. */
static bool blk_map_iov(const struct guest_mem *m, const struct virtq_chain *c,
			unsigned from, unsigned to, uint64_t skip, uint64_t len,
			struct blk_req *r)
{
	unsigned i;
	uint64_t n;
	void *p;

	for (i = from; i < to && len; i++) {
		n = c->bufs[i].len;
		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = n - skip < len ? n - skip : len;
		/* virtq_pop checked the buffer; slicing again gets the
		 * pointer and keeps the check next to its use. */
		if (r->niov == VIRTIO_BLK_SEG_MAX ||
		    guest_mem_slice(m, c->bufs[i].gpa + skip, n, &p))
			return false;
		r->iov[r->niov++] = (struct iovec){p, n};
		len -= n;
		skip = 0;
	}
	return len == 0;
}

static bool blk_range_ok(const struct blk *s, uint64_t sector, uint64_t n)
{
	return sector <= s->capacity && n <= s->capacity - sector;
}

/* Queue r's next io_uring operation for the batch's io_uring_submit. */
static uint8_t blk_submit(struct blk *s, struct blk_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
	const struct iovec *iov = r->iov + r->iov_first;
	unsigned n = r->niov - r->iov_first;

	/* Not expected: a request holds at most one SQE and the SQ has an
	 * entry for every request slot. */
	if (!sqe)
		return VIRTIO_BLK_S_IOERR;
	if (r->fault)
		io_uring_prep_nop(sqe);
	else if (r->type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, s->fd, iov, n, r->offset);
	else if (r->type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, s->fd, iov, n, r->offset);
	else if (r->type == VIRTIO_BLK_T_FLUSH)
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
	else
		io_uring_prep_fallocate(sqe, s->fd, r->mode, r->offset, r->len);
	io_uring_sqe_set_data(sqe, r);
	s->inflight++;
	return BLK_QUEUED;
}

/* Send n sectors from sector to io_uring, or a NOP if they hold the
 * injected fault; the range was checked against the capacity. */
static uint8_t blk_submit_range(struct blk *s, struct blk_req *r,
				uint64_t sector, uint64_t n)
{
	r->offset = sector * BLK_SECTOR;
	r->len = n * BLK_SECTOR;
	r->fault = s->fail_sector_set && s->fail_sector >= sector &&
		   s->fail_sector - sector < n;
	return n ? blk_submit(s, r) : VIRTIO_BLK_S_OK;
}

static uint8_t blk_prep_rw(struct virtio_dev *d, const struct virtq_chain *c,
			   struct blk_req *r, uint64_t sector)
{
	struct blk *s = d->priv;
	bool out = r->type == VIRTIO_BLK_T_OUT;
	/* From the snapshot: out_len >= 16 (the header was read), in_len >= 1
	 * (there is a status byte). */
	uint64_t len = out ? c->out_len - BLK_HDR_LEN : c->in_len - 1;
	bool mapped;

	if (out && s->readonly)
		return VIRTIO_BLK_S_IOERR;
	/* The used length is 32 bits: len + 1 must fit. */
	if (len % BLK_SECTOR || len >= UINT32_MAX ||
	    !blk_range_ok(s, sector, len / BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (out)
		mapped = blk_map_iov(d->mem, c, 0, c->nr_out, BLK_HDR_LEN, len,
				     r);
	else
		mapped = blk_map_iov(d->mem, c, c->nr_out, c->nr, 0, len, r);
	if (!mapped)
		return VIRTIO_BLK_S_IOERR;
	r->used_len = out ? 1 : len + 1;
	r->bytes = len;
	return blk_submit_range(s, r, sector, len / BLK_SECTOR);
}

/* GET_ID is answered at once; no I/O. */
static uint8_t blk_get_id(struct virtio_dev *d, const struct virtq_chain *c,
			  struct blk_req *r)
{
	struct blk *s = d->priv;
	uint64_t room = c->in_len - 1;
	size_t n = room < sizeof(s->id) ? room : sizeof(s->id);

	if (virtq_chain_write(&d->vqs[r->q], c, 0, s->id, n) != (long)n)
		return VIRTIO_BLK_S_IOERR;
	r->used_len = n + 1;
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES, one segment each (max_*_seg is 1). */
static uint8_t blk_prep_dwz(struct virtio_dev *d, const struct virtq_chain *c,
			    struct blk_req *r)
{
	struct blk *s = d->priv;
	struct virtio_blk_discard_write_zeroes seg;
	bool zeroes = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint64_t sector;
	uint32_t n, flags;

	if (s->readonly || c->out_len - BLK_HDR_LEN != sizeof(seg) ||
	    virtq_chain_read(&d->vqs[r->q], c, BLK_HDR_LEN, &seg,
			     sizeof(seg)) != (long)sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	sector = le64toh(seg.sector);
	n = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	/* Spec 5.2.6.3: unknown flags, and unmap on a discard, are UNSUPP. */
	if (flags & ~VIRTIO_BLK_DWZ_F_UNMAP || (!zeroes && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (n > VIRTIO_BLK_MAX_DWZ_SECTORS || !blk_range_ok(s, sector, n))
		return VIRTIO_BLK_S_IOERR;
	/* Both modes read back as zeroes (files and block devices alike);
	 * ZERO_RANGE keeps the blocks, as a write-zeroes without unmap asks. */
	r->mode =
		FALLOC_FL_KEEP_SIZE | (zeroes && !flags ? FALLOC_FL_ZERO_RANGE
							: FALLOC_FL_PUNCH_HOLE);
	return blk_submit_range(s, r, sector, n);
}

static uint8_t blk_prep(struct virtio_dev *d, const struct virtq_chain *c,
			struct blk_req *r)
{
	struct virtio_blk_req_hdr h;

	/* A readable part shorter than the header gets IOERR: the chain
	 * still has a status byte to report it through. */
	if (virtq_chain_read(&d->vqs[r->q], c, 0, &h, sizeof(h)) !=
	    (long)sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	r->type = le32toh(h.type);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return blk_prep_rw(d, c, r, le64toh(h.sector));
	case VIRTIO_BLK_T_FLUSH:
		return blk_submit(d->priv, r);
	case VIRTIO_BLK_T_GET_ID:
		return blk_get_id(d, c, r);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_prep_dwz(d, c, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Report r to the driver and free its slot. */
static void blk_count(struct virtio_blk_stats *st, const struct blk_req *r,
		      uint8_t status)
{
	if (status != VIRTIO_BLK_S_OK) {
		st->errors++;
	} else if (r->type == VIRTIO_BLK_T_IN) {
		st->read_ops++;
		st->read_bytes += r->bytes;
	} else if (r->type == VIRTIO_BLK_T_OUT) {
		st->write_ops++;
		st->write_bytes += r->bytes;
	} else if (r->type == VIRTIO_BLK_T_FLUSH) {
		st->flush_ops++;
	} else if (r->type == VIRTIO_BLK_T_DISCARD ||
		   r->type == VIRTIO_BLK_T_WRITE_ZEROES) {
		st->discard_ops++;
	}
}

static void blk_finish(struct virtio_dev *d, struct blk_req *r, uint8_t status)
{
	struct blk *s = d->priv;
	uint32_t used = status == VIRTIO_BLK_S_OK ? r->used_len : 1;

	blk_count(&s->st, r, status);
	/* After virtio_dev_broken the rings are not ours until reset. */
	if (!s->broken) {
		if (guest_mem_write(d->mem, r->status_gpa, &status, 1) < 0)
			pr_debug("%s: status byte not in RAM", d->name);
		/* Fails only if the queue broke or was disabled meanwhile. */
		if (virtq_push(&d->vqs[r->q], r->head, used) == 0)
			s->used_mask |= 1ULL << r->q;
	}
	blk_req_put(s, r);
}

static void blk_handle_chain(struct virtio_dev *d, unsigned q,
			     const struct virtq_chain *c)
{
	struct blk *s = d->priv;
	struct blk_req *r;
	uint64_t status_gpa;
	uint8_t status;

	/* Without a status byte the driver can never learn the outcome, and
	 * the chain cannot be completed: the driver is broken. */
	if (!blk_status_gpa(c, &status_gpa)) {
		blk_break(d, "request without a status byte");
		return;
	}
	r = blk_req_get(s);
	r->q = q;
	r->head = c->head;
	r->status_gpa = status_gpa;
	status = blk_prep(d, c, r);
	if (status != BLK_QUEUED)
		blk_finish(d, r, status);
}

static void blk_process_queue(struct virtio_dev *d, unsigned q)
{
	struct blk *s = d->priv;
	int ret;

	if (!d->vqs[q].enabled)
		return;
	while (!s->broken) {
		/* Every slot busy: leave the chains in the ring; a completion
		 * restarts this queue (the driver will not notify again). */
		if (!s->nfree) {
			s->starved |= 1ULL << q;
			return;
		}
		ret = virtq_pop(&d->vqs[q], &s->chain);
		if (ret == 0)
			return;
		if (ret < 0) {
			blk_break(d, "malformed request queue");
			return;
		}
		blk_handle_chain(d, q, &s->chain);
	}
}

/* End of a batch: one io_uring_submit, one interrupt check per queue. */
static void blk_flush_batch(struct virtio_dev *d)
{
	struct blk *s = d->priv;
	uint64_t mask = s->used_mask;
	int ret;

	if (io_uring_sq_ready(&s->ring)) {
		do
			ret = io_uring_submit(&s->ring);
		while (ret == -EINTR);
		/* What was not taken stays in the SQ for the next submit. */
		if (ret < 0 && ratelimit_allow(&s->err_rl))
			pr_warn("%s: io_uring_submit: %s", d->name,
				strerror(-ret));
	}
	s->used_mask = 0;
	while (mask) {
		virtio_queue_used(d, __builtin_ctzll(mask));
		mask &= mask - 1;
	}
}

static void blk_iov_advance(struct blk_req *r, uint64_t done)
{
	struct iovec *v;

	r->offset += done;
	r->len -= done;
	while (done) {
		v = &r->iov[r->iov_first];
		if (done < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + done;
			v->iov_len -= done;
			return;
		}
		done -= v->iov_len;
		r->iov_first++;
	}
}

/* A short transfer (a huge request cut at the kernel's per-call limit, a
 * signal, a file shrunk under us) goes on from where it stopped; one that
 * makes no progress at all is an error. */
static uint8_t blk_complete_rw(struct blk *s, struct blk_req *r, int res)
{
	if (res <= 0)
		return VIRTIO_BLK_S_IOERR;
	if ((uint64_t)res < r->len) {
		blk_iov_advance(r, res);
		return blk_submit(s, r);
	}
	return VIRTIO_BLK_S_OK;
}

/* A backend that cannot deallocate may ignore a discard (a hint); for
 * write-zeroes, UNSUPP makes the driver write the zeroes itself. */
static uint8_t blk_complete_dwz(const struct blk_req *r, int res)
{
	if (res == -EOPNOTSUPP)
		return r->type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_S_OK
						       : VIRTIO_BLK_S_UNSUPP;
	return res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static void blk_complete(struct virtio_dev *d, struct blk_req *r, int res)
{
	struct blk *s = d->priv;
	uint8_t status;

	if (r->fault)
		res = -EIO;
	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT)
		status = blk_complete_rw(s, r, res);
	else if (r->type == VIRTIO_BLK_T_FLUSH)
		status = res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	else
		status = blk_complete_dwz(r, res);
	if (status == BLK_QUEUED)
		return;
	if (status == VIRTIO_BLK_S_IOERR && ratelimit_allow(&s->err_rl))
		pr_warn("%s: request type %u at sector %llu failed: %s",
			d->name, r->type,
			(unsigned long long)(r->offset / BLK_SECTOR),
			res < 0 ? strerror(-res) : "no progress");
	blk_finish(d, r, status);
}

static void blk_reap(struct virtio_dev *d)
{
	struct blk *s = d->priv;
	struct io_uring_cqe *cqe;
	struct blk_req *r;
	int res;

	while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
		r = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&s->ring, cqe);
		s->inflight--;
		blk_complete(d, r, res);
	}
}

/* watch_fd callback, on the I/O thread: the ring has completions. */
static void blk_io_ready(struct virtio_dev *d, void *arg)
{
	struct blk *s = d->priv;
	uint64_t count, starved;

	(void)arg;
	/* Clear the eventfd before draining the CQ: a completion posted
	 * after this read signals it again, so none is left behind. */
	if (read(s->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_debug("%s: eventfd read: %s", d->name, strerror(errno));
	blk_reap(d);
	starved = s->starved;
	s->starved = 0;
	while (starved) {
		blk_process_queue(d, __builtin_ctzll(starved));
		starved &= starved - 1;
	}
	blk_flush_batch(d);
}

static void blk_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q >= d->num_queues)
		return;
	blk_process_queue(d, q);
	blk_flush_batch(d);
}

static void blk_config_read(struct virtio_dev *d, unsigned off, void *data,
			    unsigned len)
{
	struct blk *s = d->priv;

	/* The transport checks off + len <= config_size; cheap to repeat. */
	if (off > sizeof(s->cfg) || len > sizeof(s->cfg) - off) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&s->cfg + off, len);
}

static int blk_activate(struct virtio_dev *d)
{
	struct blk *s = d->priv;
	int ret;

	/* Once: the eventfd stays watched across device resets. */
	if (s->watching)
		return 0;
	ret = d->tops->watch_fd(d->transport, s->efd, blk_io_ready, NULL);
	if (ret < 0) {
		pr_err("%s: cannot watch the io_uring eventfd: %s", d->name,
		       strerror(-ret));
		return ret;
	}
	s->watching = true;
	return 0;
}

/* Wait until the kernel is done with every request: after this, nothing
 * writes to guest memory on the disk's behalf. */
static void blk_drain(struct blk *s)
{
	struct io_uring_cqe *cqe;
	int ret;

	if (io_uring_sq_ready(&s->ring))
		io_uring_submit(&s->ring);
	while (s->inflight) {
		ret = io_uring_wait_cqe(&s->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			pr_err("virtio-blk: waiting for disk I/O: %s",
			       strerror(-ret));
			return;
		}
		io_uring_cqe_seen(&s->ring, cqe);
		s->inflight--;
	}
}

static void blk_forget(struct blk *s)
{
	unsigned i;

	for (i = 0; i < VIRTIO_BLK_INFLIGHT; i++)
		s->free[i] = VIRTIO_BLK_INFLIGHT - 1 - i;
	s->nfree = VIRTIO_BLK_INFLIGHT;
	s->starved = 0;
	s->used_mask = 0;
	s->broken = false;
}

/* Requests in flight are dropped, not completed: the driver reset the
 * device and the queues (the transport resets them) are gone. */
static void blk_reset(struct virtio_dev *d)
{
	struct blk *s = d->priv;

	blk_drain(s);
	blk_forget(s);
}

static const struct virtio_dev_ops blk_ops = {
	.queue_notify = blk_queue_notify,
	.config_read = blk_config_read,
	.activate = blk_activate,
	.reset = blk_reset,
};

static void blk_free(struct blk *s)
{
	if (s->ring_ready) {
		blk_drain(s);
		io_uring_queue_exit(&s->ring);
	}
	if (s->efd >= 0)
		close(s->efd);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static uint64_t blk_features(const struct virtio_blk_options *o,
			     unsigned num_queues)
{
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;

	if (o->readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_DISCARD |
		     1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	if (num_queues > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;
	return f;
}

int virtio_blk_init(struct virtio_dev *d, const struct virtio_blk_options *o,
		    unsigned num_queues)
{
	struct blk *s;
	int ret;

	d->priv = NULL;
	if (num_queues < 1 || num_queues > VIRTIO_MAX_QUEUES) {
		pr_err("--disk: %u queues: must be 1 to %d", num_queues,
		       VIRTIO_MAX_QUEUES);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->efd = -1;
	s->err_rl = (struct ratelimit)RATELIMIT_INIT(10, 1000);
	ret = blk_setup(s, o, num_queues);
	if (ret) {
		blk_free(s);
		return ret;
	}
	blk_forget(s);
	if (!d->name)
		d->name = "virtio-blk";
	d->device_id = VIRTIO_ID_BLOCK;
	d->pci_class = 0x018000; /* mass storage, other */
	d->features = blk_features(o, num_queues);
	d->num_queues = num_queues;
	d->queue_max = VIRTIO_BLK_QUEUE_MAX;
	d->config_size = sizeof(struct virtio_blk_config);
	d->ops = &blk_ops;
	d->priv = s;
	return 0;
}

void virtio_blk_destroy(struct virtio_dev *d)
{
	if (!d->priv)
		return;
	blk_free(d->priv);
	d->priv = NULL;
}

void virtio_blk_get_stats(struct virtio_dev *d, struct virtio_blk_stats *st)
{
	struct blk *s = d->priv;

	pthread_mutex_lock(&d->lock);
	*st = s->st;
	pthread_mutex_unlock(&d->lock);
}
