/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk, driver side (virtio 1.2 section 5.2). A request is a chain:
 * the header (device-readable), data segments (readable for OUT, writable
 * for IN and GET_ID) and a status byte (writable), so the device sees the
 * header, data and status as separate descriptors, as Linux sends them.
 */
#include "vblk.h"

/* struct virtio_blk_config (spec 5.2.4). */
#define CFG_CAPACITY		0
#define CFG_SIZE_MAX		8
#define CFG_SEG_MAX		12
#define CFG_BLK_SIZE		20
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG	40
#define CFG_DISCARD_ALIGN	44
#define CFG_MAX_WZ_SECTORS	48
#define CFG_MAX_WZ_SEG		52
#define CFG_WZ_MAY_UNMAP	56

#define DEFAULT_TIMEOUT_US 10000000

/* Only fields whose feature was negotiated: the others may not exist
 * (the structure's length can depend on the features). */
static void read_config(struct virtio_dev *vd, void *arg)
{
	struct vblk_config *c = arg;

	*c = (struct vblk_config){0};
	c->capacity = virtio_cfg_read64(vd, CFG_CAPACITY);
	if (virtio_has(vd, VIRTIO_BLK_F_SIZE_MAX))
		c->size_max = virtio_cfg_read32(vd, CFG_SIZE_MAX);
	if (virtio_has(vd, VIRTIO_BLK_F_SEG_MAX))
		c->seg_max = virtio_cfg_read32(vd, CFG_SEG_MAX);
	if (virtio_has(vd, VIRTIO_BLK_F_BLK_SIZE))
		c->blk_size = virtio_cfg_read32(vd, CFG_BLK_SIZE);
	if (virtio_has(vd, VIRTIO_BLK_F_DISCARD)) {
		c->max_discard_sectors =
			virtio_cfg_read32(vd, CFG_MAX_DISCARD_SECTORS);
		c->max_discard_seg = virtio_cfg_read32(vd, CFG_MAX_DISCARD_SEG);
		c->discard_align = virtio_cfg_read32(vd, CFG_DISCARD_ALIGN);
	}
	if (virtio_has(vd, VIRTIO_BLK_F_WRITE_ZEROES)) {
		c->max_write_zeroes_sectors =
			virtio_cfg_read32(vd, CFG_MAX_WZ_SECTORS);
		c->max_write_zeroes_seg = virtio_cfg_read32(vd, CFG_MAX_WZ_SEG);
		c->write_zeroes_may_unmap =
			virtio_cfg_read8(vd, CFG_WZ_MAY_UNMAP);
	}
}

static void describe(struct vblk *b)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{VIRTIO_BLK_F_RO, " ro"},
		{VIRTIO_BLK_F_FLUSH, " flush"},
		{VIRTIO_BLK_F_DISCARD, " discard"},
		{VIRTIO_BLK_F_WRITE_ZEROES, " write-zeroes"},
		{VIRTIO_F_INDIRECT_DESC, " indirect"},
		{VIRTIO_F_EVENT_IDX, " event-idx"},
	};
	char feat[96] = "";
	size_t n = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
		if (vblk_has(b, names[i].bit))
			n += snprintf(feat + n, sizeof(feat) - n, "%s",
				      names[i].name);
	printf("%s: capacity %lu sectors, blk_size %u, seg_max %u, "
	       "size_max %u, queue size %u, %s;%s\n",
	       b->vd.name, b->cfg.capacity, b->cfg.blk_size, b->cfg.seg_max,
	       b->cfg.size_max, b->vq.size, b->vd.msix ? "MSI-X" : "polling",
	       n ? feat : " no optional features");
}

int vblk_open(struct vblk *b, unsigned index, const struct virtio_opts *o)
{
	uint64_t want = o->features | VIRTIO_BIT(VIRTIO_BLK_F_RO) |
			VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
			VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) |
			VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
			VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
			VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	int err;

	*b = (struct vblk){.timeout_us = DEFAULT_TIMEOUT_US};
	err = virtio_start(&b->vd, VIRTIO_ID_BLOCK, index, o, want);
	if (!err)
		err = virtio_config_read(&b->vd, read_config, &b->cfg);
	if (!err)
		err = virtq_setup(&b->vd, &b->vq, 0, o->queue_size);
	if (!err)
		err = virtio_driver_ok(&b->vd);
	if (!err)
		describe(b);
	return err;
}

/* Data buffers of at most size_max bytes each (when negotiated); how many,
 * or -EINVAL if more than seg_max or than an indirect table holds. */
static int split_data(struct vblk *b, void *data, uint32_t len, bool writes,
		      struct virtq_buf *segs)
{
	uint32_t max = b->cfg.size_max ? b->cfg.size_max : len;
	unsigned limit = VBLK_MAX_SEGS, n = 0;

	if (b->cfg.seg_max && b->cfg.seg_max < limit)
		limit = b->cfg.seg_max;
	for (uint32_t off = 0; off < len; off += max) {
		if (n == limit)
			return -EINVAL;
		segs[n++] = (struct virtq_buf){
			(char *)data + off, len - off < max ? len - off : max,
			writes};
	}
	return (int)n;
}

static int add_request(struct vblk *b, struct vblk_req *r,
		       struct virtq_buf *bufs, unsigned n)
{
	r->status = VBLK_S_NONE;
	r->done = false;
	bufs[0] = (struct virtq_buf){&r->hdr, sizeof(r->hdr), false};
	bufs[n - 1] = (struct virtq_buf){&r->status, 1, true};
	return virtq_add(&b->vq, bufs, n, r);
}

int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type,
		uint64_t sector, void *data, uint32_t len)
{
	struct virtq_buf bufs[VBLK_MAX_SEGS + 2];
	int nseg = 0;

	r->hdr.type = type;
	r->hdr.reserved = 0;
	r->hdr.sector = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT
				? sector
				: 0;
	r->data = data;
	r->len = len;
	if (len) {
		nseg = split_data(b, data, len, type != VIRTIO_BLK_T_OUT,
				  bufs + 1);
		if (nseg < 0)
			return nseg;
	}
	return add_request(b, r, bufs, (unsigned)nseg + 2);
}

int vblk_submit_dwz(struct vblk *b, struct vblk_req *r, uint32_t type,
		    uint64_t sector, uint32_t count, uint32_t flags)
{
	struct virtq_buf bufs[3];

	r->hdr.type = type;
	r->hdr.reserved = 0;
	r->hdr.sector = 0;
	r->dwz.sector = sector;
	r->dwz.num_sectors = count;
	r->dwz.flags = flags;
	r->data = NULL;
	r->len = 0;
	bufs[1] = (struct virtq_buf){&r->dwz, sizeof(r->dwz), false};
	return add_request(b, r, bufs, 3);
}

void vblk_kick(struct vblk *b)
{
	virtq_kick(&b->vq);
}

struct vblk_req *vblk_complete(struct vblk *b)
{
	uint32_t len;
	struct vblk_req *r = virtq_wait(&b->vq, &len, b->timeout_us);

	if (!r)
		return NULL;
	r->used_len = len;
	r->done = true;
	/* A failed request may be the device giving up: say so if it is. */
	if (r->status != VIRTIO_BLK_S_OK)
		virtio_needs_reset(&b->vd);
	if (r->status == VBLK_S_NONE) {
		printf("%s: request type %u sector %lu completed without a "
		       "status byte\n",
		       b->vd.name, r->hdr.type, r->hdr.sector);
		b->vq.errors++;
	}
	return r;
}

/* Submit, kick and wait for r alone (nothing else in flight). */
static int run_one(struct vblk *b, struct vblk_req *r, int err)
{
	struct vblk_req *done;

	if (err)
		return err;
	vblk_kick(b);
	done = vblk_complete(b);
	if (!done)
		return -ETIMEDOUT;
	if (done != r) {
		printf("%s: completion for a request not submitted\n",
		       b->vd.name);
		return -EPROTO;
	}
	return r->status;
}

struct vblk_req *vblk_req_alloc(unsigned n)
{
	return dma_alloc(n * sizeof(struct vblk_req), 16);
}

int vblk_io(struct vblk *b, uint32_t type, uint64_t sector, void *data,
	    uint32_t len)
{
	static struct vblk_req req;

	return run_one(b, &req, vblk_submit(b, &req, type, sector, data, len));
}

int vblk_dwz(struct vblk *b, uint32_t type, uint64_t sector, uint32_t count,
	     uint32_t flags)
{
	static struct vblk_req req;

	return run_one(b, &req,
		       vblk_submit_dwz(b, &req, type, sector, count, flags));
}

const char *vblk_status_name(int status)
{
	static char buf[8];

	switch (status) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	}
	if (status < 0)
		return err_name(status);
	snprintf(buf, sizeof(buf), "0x%x", status);
	return buf;
}
