/* SPDX-License-Identifier: MIT */
#include "boot/decompress.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "util/log.h"

/* First allocation when the caller gives no size hint. */
#define DECOMPRESS_FIRST_CHUNK (1UL << 20)
/* Keeps every size computation below far from overflow. */
#define DECOMPRESS_MAX_LIMIT (SIZE_MAX / 4)
/* liblzma may allocate the dictionary a (hostile) header asks for. */
#define DECOMPRESS_LZMA_MEMLIMIT (256ULL << 20)

/* The lz4 legacy frame: this magic, then blocks of [le32 size][data], each
 * decompressing to at most 8 MiB (what `lz4 -l` and the kernel write). */
#define LZ4_LEGACY_MAGIC 0x184c2102U
#define LZ4_LEGACY_BLOCK (8 << 20)

/* Growing output buffer; len never exceeds max + 1 except by one lz4 block. */
struct outbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;
	const char *why; /* the reason data was refused, for the message */
};

struct decompress_magic {
	enum decompress_format fmt;
	uint8_t len;
	uint8_t bytes[6];
};

static const struct decompress_magic decompress_magics[] = {
	{DECOMPRESS_GZIP, 2, {0x1f, 0x8b}},
	{DECOMPRESS_BZIP2, 3, {'B', 'Z', 'h'}},
	{DECOMPRESS_LZMA, 3, {0x5d, 0x00, 0x00}},
	{DECOMPRESS_XZ, 6, {0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{DECOMPRESS_LZ4, 4, {0x02, 0x21, 0x4c, 0x18}},
	{DECOMPRESS_ZSTD, 4, {0x28, 0xb5, 0x2f, 0xfd}},
	{DECOMPRESS_LZO, 4, {0x89, 'L', 'Z', 'O'}},
};

static const char *const decompress_names[] = {
	[DECOMPRESS_UNKNOWN] = "unknown", [DECOMPRESS_GZIP] = "gzip",
	[DECOMPRESS_BZIP2] = "bzip2",	  [DECOMPRESS_LZMA] = "lzma",
	[DECOMPRESS_XZ] = "xz",		  [DECOMPRESS_LZ4] = "lz4",
	[DECOMPRESS_ZSTD] = "zstd",	  [DECOMPRESS_LZO] = "lzo",
};

enum decompress_format decompress_detect(const uint8_t *in, size_t len)
{
	for (size_t i = 0;
	     i < sizeof(decompress_magics) / sizeof(decompress_magics[0]);
	     i++) {
		const struct decompress_magic *mg = &decompress_magics[i];

		if (len >= mg->len && !memcmp(in, mg->bytes, mg->len))
			return mg->fmt;
	}
	return DECOMPRESS_UNKNOWN;
}

const char *decompress_name(enum decompress_format fmt)
{
	if ((unsigned)fmt >= sizeof(decompress_names) / sizeof(char *))
		return "unknown";
	return decompress_names[fmt];
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int outbuf_corrupt(struct outbuf *b, const char *why)
{
	b->why = why;
	return -ENOEXEC;
}

/*
 * Make room for at least want more bytes, doubling the buffer. It stops at
 * max + 1 bytes: one byte past the limit is enough to see that a stream
 * overruns it, so a bomb never makes us allocate more than that.
 */
static int outbuf_reserve(struct outbuf *b, size_t want)
{
	size_t cap;
	uint8_t *p;

	if (b->len > b->max)
		return -E2BIG;
	if (b->cap - b->len >= want)
		return 0;
	cap = b->cap ? b->cap * 2 : DECOMPRESS_FIRST_CHUNK;
	if (cap < b->len + want)
		cap = b->len + want;
	if (cap > b->max + 1)
		cap = b->len + want > b->max + 1 ? b->len + want : b->max + 1;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Output room for libraries whose counters are unsigned int. */
static unsigned outbuf_room_uint(const struct outbuf *b)
{
	size_t room = b->cap - b->len;

	return room > UINT_MAX ? UINT_MAX : (unsigned)room;
}

static int decompress_gzip(const uint8_t *in, size_t len, struct outbuf *b)
{
	z_stream zs;
	int zr = Z_OK, ret = 0;

	if (len > UINT_MAX)
		return outbuf_corrupt(b, "input larger than 4 GiB");
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: a gzip wrapper, any window size. */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	zs.next_in = in;
	zs.avail_in = (unsigned)len;
	while (zr != Z_STREAM_END) {
		unsigned room;

		ret = outbuf_reserve(b, 1);
		if (ret)
			break;
		room = outbuf_room_uint(b);
		zs.next_out = b->p + b->len;
		zs.avail_out = room;
		zr = inflate(&zs, Z_NO_FLUSH);
		b->len += room - zs.avail_out;
		/* Z_BUF_ERROR with room left: the input ended mid-stream. */
		if (zr != Z_OK && zr != Z_STREAM_END) {
			ret = zr == Z_MEM_ERROR ? -ENOMEM
						: outbuf_corrupt(b, zr == Z_BUF_ERROR ? "truncated"
								  : zs.msg ?: "bad data");
			break;
		}
	}
	inflateEnd(&zs);
	return ret;
}

static int decompress_bzip2(const uint8_t *in, size_t len, struct outbuf *b)
{
	bz_stream bs;
	int br = BZ_OK, ret = 0;

	if (len > UINT_MAX)
		return outbuf_corrupt(b, "input larger than 4 GiB");
	memset(&bs, 0, sizeof(bs));
	if (BZ2_bzDecompressInit(&bs, 0, 0) != BZ_OK)
		return -ENOMEM;
	bs.next_in = (char *)in; /* libbz2 does not write through it */
	bs.avail_in = (unsigned)len;
	while (br != BZ_STREAM_END) {
		unsigned room;

		ret = outbuf_reserve(b, 1);
		if (ret)
			break;
		room = outbuf_room_uint(b);
		bs.next_out = (char *)b->p + b->len;
		bs.avail_out = room;
		br = BZ2_bzDecompress(&bs);
		b->len += room - bs.avail_out;
		if (br == BZ_MEM_ERROR) {
			ret = -ENOMEM;
			break;
		}
		if (br != BZ_OK && br != BZ_STREAM_END) {
			ret = outbuf_corrupt(b, "bad bzip2 data");
			break;
		}
		/* Room left over and no input: the stream was cut short. */
		if (br == BZ_OK && !bs.avail_in && bs.avail_out) {
			ret = outbuf_corrupt(b, "truncated");
			break;
		}
	}
	BZ2_bzDecompressEnd(&bs);
	return ret;
}

static const char *lzma_reason(lzma_ret lr)
{
	switch (lr) {
	case LZMA_BUF_ERROR:
		return "truncated";
	case LZMA_MEMLIMIT_ERROR:
		return "needs a dictionary larger than 256 MiB";
	case LZMA_FORMAT_ERROR:
		return "bad header";
	case LZMA_OPTIONS_ERROR:
		return "unsupported options";
	case LZMA_DATA_ERROR:
		return "bad data";
	default:
		return "liblzma error";
	}
}

/* Run an initialised liblzma decoder (xz or lzma) to its stream end. */
static int decompress_lzma_run(lzma_stream *s, const uint8_t *in, size_t len,
			       struct outbuf *b)
{
	lzma_ret lr = LZMA_OK;
	int ret = 0;

	s->next_in = in;
	s->avail_in = len;
	while (lr != LZMA_STREAM_END) {
		size_t room;

		ret = outbuf_reserve(b, 1);
		if (ret)
			break;
		room = b->cap - b->len;
		s->next_out = b->p + b->len;
		s->avail_out = room;
		lr = lzma_code(s, LZMA_RUN);
		b->len += room - s->avail_out;
		if (lr != LZMA_OK && lr != LZMA_STREAM_END) {
			ret = lr == LZMA_MEM_ERROR
				      ? -ENOMEM
				      : outbuf_corrupt(b, lzma_reason(lr));
			break;
		}
	}
	lzma_end(s);
	return ret;
}

static int decompress_xz(const uint8_t *in, size_t len, struct outbuf *b)
{
	lzma_stream s = LZMA_STREAM_INIT;

	/* No LZMA_CONCATENATED: stop after one stream, before the kernel's
	 * appended size (which is not valid stream padding). */
	if (lzma_stream_decoder(&s, DECOMPRESS_LZMA_MEMLIMIT, 0) != LZMA_OK) {
		lzma_end(&s);
		return -ENOMEM;
	}
	return decompress_lzma_run(&s, in, len, b);
}

static int decompress_lzma(const uint8_t *in, size_t len, struct outbuf *b)
{
	lzma_stream s = LZMA_STREAM_INIT;

	if (lzma_alone_decoder(&s, DECOMPRESS_LZMA_MEMLIMIT) != LZMA_OK) {
		lzma_end(&s);
		return -ENOMEM;
	}
	return decompress_lzma_run(&s, in, len, b);
}

/* Decode one lz4 legacy block of csize bytes at in. */
static int decompress_lz4_block(const uint8_t *in, uint32_t csize,
				struct outbuf *b)
{
	int n, ret;

	ret = outbuf_reserve(b, LZ4_LEGACY_BLOCK);
	if (ret)
		return ret;
	n = LZ4_decompress_safe((const char *)in, (char *)b->p + b->len,
				(int)csize, LZ4_LEGACY_BLOCK);
	if (n < 0)
		return outbuf_corrupt(b, "bad lz4 block");
	b->len += (size_t)n;
	return b->len > b->max ? -E2BIG : 0;
}

static int decompress_lz4(const uint8_t *in, size_t len, struct outbuf *b)
{
	size_t pos = 4; /* past the magic */
	unsigned blocks = 0;
	int ret;

	/* Four bytes or fewer left: the kernel's appended size, or nothing.
	 * The legacy format has no end marker. */
	while (len - pos > 4) {
		uint32_t csize = get_le32(in + pos);

		pos += 4;
		if (csize == LZ4_LEGACY_MAGIC)
			continue; /* concatenated frames */
		if (!csize ||
		    csize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK) ||
		    csize > len - pos)
			return outbuf_corrupt(b, "block size beyond the input");
		ret = decompress_lz4_block(in + pos, csize, b);
		if (ret)
			return ret;
		pos += csize;
		blocks++;
	}
	return blocks ? 0 : outbuf_corrupt(b, "no blocks");
}

/* True if another zstd frame (or a skippable frame) starts at in. */
static bool zstd_more_frames(const uint8_t *in, size_t len)
{
	uint32_t magic;

	if (len < 4)
		return false;
	magic = get_le32(in);
	return magic == ZSTD_MAGICNUMBER ||
	       (magic & ZSTD_MAGIC_SKIPPABLE_MASK) ==
		       ZSTD_MAGIC_SKIPPABLE_START;
}

static int decompress_zstd(const uint8_t *in, size_t len, struct outbuf *b)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer ib = {in, len, 0};
	int ret = 0;

	if (!dctx)
		return -ENOMEM;
	/* The default window limit (128 MiB) bounds what a header can make
	 * zstd allocate; the kernel's zstd -22 stays within it. */
	while (!ret) {
		ZSTD_outBuffer ob;
		size_t zr;

		ret = outbuf_reserve(b, 1);
		if (ret)
			break;
		ob = (ZSTD_outBuffer){b->p + b->len, b->cap - b->len, 0};
		zr = ZSTD_decompressStream(dctx, &ob, &ib);
		b->len += ob.pos;
		if (ZSTD_isError(zr))
			ret = outbuf_corrupt(b, ZSTD_getErrorName(zr));
		else if (!zr && !zstd_more_frames(in + ib.pos, len - ib.pos))
			break;
		else if (zr && ib.pos == ib.size && ob.pos < ob.size)
			ret = outbuf_corrupt(b, "truncated");
	}
	ZSTD_freeDCtx(dctx);
	return ret;
}

typedef int (*decompress_fn)(const uint8_t *in, size_t len, struct outbuf *b);

static const decompress_fn decompress_fns[] = {
	[DECOMPRESS_GZIP] = decompress_gzip,
	[DECOMPRESS_BZIP2] = decompress_bzip2,
	[DECOMPRESS_LZMA] = decompress_lzma,
	[DECOMPRESS_XZ] = decompress_xz,
	[DECOMPRESS_LZ4] = decompress_lz4,
	[DECOMPRESS_ZSTD] = decompress_zstd,
};

static void decompress_log(enum decompress_format fmt, int err,
			   const struct outbuf *b)
{
	const char *name = decompress_name(fmt);

	if (err == -E2BIG)
		pr_err("decompress: %s data expands beyond the limit of %zu "
		       "bytes",
		       name, b->max);
	else if (err == -ENOMEM)
		pr_err("decompress: out of memory decompressing %s data", name);
	else
		pr_err("decompress: %s data is corrupt (%s)", name,
		       b->why ?: "unknown error");
}

int decompress_buffer(const uint8_t *in, size_t len, size_t size_hint,
		      size_t max_out, uint8_t **out, size_t *out_len)
{
	enum decompress_format fmt = decompress_detect(in, len);
	struct outbuf b = {.max = max_out};
	int ret;

	*out = NULL;
	*out_len = 0;
	if (fmt == DECOMPRESS_UNKNOWN || fmt == DECOMPRESS_LZO) {
		pr_err("decompress: %s compression format is not supported",
		       fmt == DECOMPRESS_LZO ? "the lzo" : "an unknown");
		return -ENOEXEC;
	}
	if (b.max > DECOMPRESS_MAX_LIMIT)
		b.max = DECOMPRESS_MAX_LIMIT;
	/* The hint sizes the buffer so an honest stream needs no realloc;
	 * it is never trusted beyond max. */
	if (size_hint > b.max)
		size_hint = b.max;
	ret = outbuf_reserve(&b, size_hint + 1);
	if (!ret)
		ret = decompress_fns[fmt](in, len, &b);
	if (!ret && b.len > b.max)
		ret = -E2BIG;
	if (ret) {
		decompress_log(fmt, ret, &b);
		free(b.p);
		return ret;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}
