/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "lib/test_util.h"

char capture_last[512];
static int capture_saved_fd = -1;
static FILE *capture_file;

void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	capture_saved_fd = dup(2);
	assert_true(capture_saved_fd >= 0);
	assert_true(dup2(fileno(capture_file), 2) >= 0);
}

unsigned capture_end(void)
{
	unsigned lines = 0;

	fflush(stderr);
	dup2(capture_saved_fd, 2);
	close(capture_saved_fd);
	rewind(capture_file);
	capture_last[0] = 0;
	while (fgets(capture_last, sizeof(capture_last), capture_file))
		lines++;
	fclose(capture_file);
	return lines;
}

struct blob compress_gzip(const uint8_t *in, size_t len)
{
	struct blob b = {malloc(len + 1024), 0};
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (uint8_t *)in;
	zs.avail_in = len;
	zs.next_out = b.p;
	zs.avail_out = len + 1024;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	b.len = zs.total_out;
	deflateEnd(&zs);
	return b;
}

struct blob compress_bzip2(const uint8_t *in, size_t len)
{
	unsigned out = len + len / 100 + 1024;
	struct blob b = {malloc(out), 0};

	assert_int_equal(BZ2_bzBuffToBuffCompress((char *)b.p, &out, (char *)in,
						  len, 9, 0, 0),
			 BZ_OK);
	b.len = out;
	return b;
}

struct blob compress_xz(const uint8_t *in, size_t len)
{
	size_t cap = lzma_stream_buffer_bound(len);
	struct blob b = {malloc(cap), 0};

	assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in,
						 len, b.p, &b.len, cap),
			 LZMA_OK);
	return b;
}

/* The .lzma ("alone") format with an end marker, as `lzma -9` writes. */
struct blob compress_lzma(const uint8_t *in, size_t len)
{
	size_t cap = len + len / 2 + 1024;
	struct blob b = {malloc(cap), 0};
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;

	assert_false(lzma_lzma_preset(&opt, 6));
	assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
	s.next_in = in;
	s.avail_in = len;
	s.next_out = b.p;
	s.avail_out = cap;
	assert_int_equal(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
	b.len = s.total_out;
	lzma_end(&s);
	return b;
}

/* The lz4 legacy frame: magic, then [le32 size][block] per 8 MiB. */
struct blob compress_lz4(const uint8_t *in, size_t len)
{
	size_t cap =
		4 + (len / LZ4_BLOCK + 1) * (4 + LZ4_compressBound(LZ4_BLOCK));
	struct blob b = {malloc(cap), 4};

	put_le32(b.p, 0x184c2102);
	for (size_t off = 0; off < len; off += LZ4_BLOCK) {
		int n = len - off < LZ4_BLOCK ? (int)(len - off) : LZ4_BLOCK;
		int c = LZ4_compress_default((const char *)in + off,
					     (char *)b.p + b.len + 4, n,
					     LZ4_compressBound(n));

		assert_true(c > 0);
		put_le32(b.p + b.len, c);
		b.len += 4 + c;
	}
	return b;
}

struct blob compress_zstd(const uint8_t *in, size_t len)
{
	size_t cap = ZSTD_compressBound(len);
	struct blob b = {malloc(cap), 0};

	b.len = ZSTD_compress(b.p, cap, in, len, 19);
	assert_false(ZSTD_isError(b.len));
	return b;
}
