/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/decompress.h"
#include "lib/test_util.h"

/* decompress_buffer, checking it logs exactly one line iff it fails. */
static int run_decompress(const uint8_t *in, size_t len, size_t hint,
			  size_t max, uint8_t **out, size_t *out_len)
{
	int ret;

	capture_begin();
	ret = decompress_buffer(in, len, hint, max, out, out_len);
	assert_int_equal(capture_end(), ret ? 1 : 0);
	return ret;
}

/* Half text-like, half pseudo-random: exercises literals and matches. */
static uint8_t *make_data(size_t len, uint32_t seed)
{
	uint8_t *d = malloc(len);

	assert_non_null(d);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		d[i] = (i / 4096) % 2 ? (uint8_t)(seed >> 16) : "berth "[i % 6];
	}
	return d;
}

static struct blob compress_fmt(enum decompress_format fmt, const uint8_t *in,
				size_t len)
{
	switch (fmt) {
	case DECOMPRESS_GZIP:
		return compress_gzip(in, len);
	case DECOMPRESS_BZIP2:
		return compress_bzip2(in, len);
	case DECOMPRESS_LZMA:
		return compress_lzma(in, len);
	case DECOMPRESS_XZ:
		return compress_xz(in, len);
	case DECOMPRESS_LZ4:
		return compress_lz4(in, len);
	default:
		return compress_zstd(in, len);
	}
}

/* Like the kernel's size_append: the uncompressed size as le32. */
static void append_size(struct blob *b, uint32_t size)
{
	b->p = realloc(b->p, b->len + 4);
	assert_non_null(b->p);
	put_le32(b->p + b->len, size);
	b->len += 4;
}

static const enum decompress_format all_formats[] = {
	DECOMPRESS_GZIP, DECOMPRESS_BZIP2, DECOMPRESS_LZMA,
	DECOMPRESS_XZ,	 DECOMPRESS_LZ4,   DECOMPRESS_ZSTD,
};
#define NR_FORMATS (sizeof(all_formats) / sizeof(all_formats[0]))

static void test_detect(void **state)
{
	static const uint8_t elf[] = {0x7f, 'E', 'L', 'F'};
	static const uint8_t lzo[] = {0x89, 'L', 'Z', 'O', 0, '\r', '\n'};
	uint8_t *d = make_data(1000, 1);

	(void)state;
	for (size_t i = 0; i < NR_FORMATS; i++) {
		struct blob b = compress_fmt(all_formats[i], d, 1000);

		assert_int_equal(decompress_detect(b.p, b.len), all_formats[i]);
		/* A prefix too short for the magic is not detected. */
		assert_int_equal(decompress_detect(b.p, 1), DECOMPRESS_UNKNOWN);
		free(b.p);
	}
	assert_int_equal(decompress_detect(elf, sizeof(elf)),
			 DECOMPRESS_UNKNOWN);
	assert_int_equal(decompress_detect(lzo, sizeof(lzo)), DECOMPRESS_LZO);
	assert_int_equal(decompress_detect(elf, 0), DECOMPRESS_UNKNOWN);
	assert_string_equal(decompress_name(DECOMPRESS_XZ), "xz");
	assert_string_equal(decompress_name((enum decompress_format)99),
			    "unknown");
	free(d);
}

/* Every format round-trips, with and without the kernel's size trailer,
 * with an exact, a low, a high and no size hint. */
static void test_round_trip(void **state)
{
	const size_t len = 300 * 1024;
	const size_t hints[] = {0, len, 1000, 10 * len};
	uint8_t *d = make_data(len, 2);

	(void)state;
	for (size_t i = 0; i < NR_FORMATS; i++) {
		struct blob b = compress_fmt(all_formats[i], d, len);

		for (int trailer = 0; trailer < 2; trailer++) {
			for (size_t h = 0; h < 4; h++) {
				uint8_t *out = NULL;
				size_t out_len = 0;

				assert_int_equal(run_decompress(b.p, b.len,
								hints[h], len,
								&out, &out_len),
						 0);
				assert_int_equal(out_len, len);
				assert_memory_equal(out, d, len);
				free(out);
			}
			if (!trailer && all_formats[i] != DECOMPRESS_GZIP)
				append_size(&b, len);
		}
		free(b.p);
	}
	free(d);
}

/* One byte more than max_out is refused for every format. */
static void test_limit_exact(void **state)
{
	const size_t len = 100 * 1024;
	uint8_t *d = make_data(len, 3);

	(void)state;
	for (size_t i = 0; i < NR_FORMATS; i++) {
		struct blob b = compress_fmt(all_formats[i], d, len);
		uint8_t *out = (uint8_t *)1;
		size_t out_len = 1;

		assert_int_equal(
			run_decompress(b.p, b.len, len, len, &out, &out_len),
			0);
		free(out);
		assert_int_equal(run_decompress(b.p, b.len, len, len - 1, &out,
						&out_len),
				 -E2BIG);
		assert_null(out);
		assert_int_equal(out_len, 0);
		assert_int_equal(
			run_decompress(b.p, b.len, 0, 0, &out, &out_len),
			-E2BIG);
		free(b.p);
	}
	free(d);
}

/* 24 MiB of zeros compress to almost nothing: a bomb against a 1 MiB cap
 * fails without decompressing (or allocating) all of it. */
static void test_bomb(void **state)
{
	const size_t len = 24 << 20;
	uint8_t *zeros = calloc(1, len);

	(void)state;
	assert_non_null(zeros);
	for (size_t i = 0; i < NR_FORMATS; i++) {
		struct blob b = compress_fmt(all_formats[i], zeros, len);
		uint8_t *out;
		size_t out_len;

		assert_true(b.len < len / 100);
		/* The hint lies too: it is clamped to max_out. */
		assert_int_equal(run_decompress(b.p, b.len, SIZE_MAX, 1 << 20,
						&out, &out_len),
				 -E2BIG);
		assert_null(out);
		free(b.p);
	}
	free(zeros);
}

/* Every proper prefix of a stream is refused (a one-block lz4 frame too,
 * although the legacy format has no end marker). */
static void test_truncated(void **state)
{
	const size_t len = 64 * 1024;
	uint8_t *d = make_data(len, 4);

	(void)state;
	for (size_t i = 0; i < NR_FORMATS; i++) {
		struct blob b = compress_fmt(all_formats[i], d, len);

		for (size_t cut = 0; cut < b.len; cut += 1 + cut / 8) {
			uint8_t *out;
			size_t out_len;
			uint8_t *copy = malloc(cut ? cut : 1);

			/* A copy of exactly cut bytes, so ASan sees any
			 * read past the end. */
			memcpy(copy, b.p, cut);
			assert_int_equal(run_decompress(copy, cut, len, len,
							&out, &out_len),
					 -ENOEXEC);
			assert_null(out);
			free(copy);
		}
		free(b.p);
	}
	free(d);
}

static void expect_corrupt(const uint8_t *p, size_t len)
{
	uint8_t *out;
	size_t out_len;

	assert_int_equal(run_decompress(p, len, 0, 1 << 20, &out, &out_len),
			 -ENOEXEC);
	assert_null(out);
}

/* A damaged stream is refused, by checksum or by a bad header field. */
static void test_corrupt(void **state)
{
	const size_t len = 64 * 1024;
	uint8_t *d = make_data(len, 5);
	struct blob b;

	(void)state;
	b = compress_gzip(d, len); /* CRC32 in the trailer */
	b.p[b.len - 6] ^= 0xff;
	expect_corrupt(b.p, b.len);
	free(b.p);
	b = compress_bzip2(d, len); /* block CRC */
	b.p[b.len / 2] ^= 0x55;
	expect_corrupt(b.p, b.len);
	free(b.p);
	b = compress_xz(d, len); /* CRC32 check */
	b.p[b.len / 2] ^= 0x55;
	expect_corrupt(b.p, b.len);
	free(b.p);
	b = compress_lzma(d, len); /* the range coder's first byte is 0 */
	b.p[13] = 0xff;
	expect_corrupt(b.p, b.len);
	free(b.p);
	b = compress_zstd(d, len); /* reserved frame header bit */
	b.p[4] |= 0x08;
	expect_corrupt(b.p, b.len);
	free(b.p);
	free(d);
}

/* lz4 blocks whose size field is zero, too large, past the input, or whose
 * data refer before the start of the output. */
static void test_lz4_bad_blocks(void **state)
{
	uint8_t buf[32] = {0x02, 0x21, 0x4c, 0x18};

	(void)state;
	put_le32(buf + 4, 0);
	expect_corrupt(buf, 16);
	put_le32(buf + 4, 0x7fffffff);
	expect_corrupt(buf, 16);
	put_le32(buf + 4, 100);
	expect_corrupt(buf, 16);
	/* token: 0 literals, match; offset 0xffff: before the output. */
	put_le32(buf + 4, 3);
	buf[8] = 0x0f;
	buf[9] = 0xff;
	buf[10] = 0xff;
	expect_corrupt(buf, 11);
	/* Only the magic: no blocks at all. */
	expect_corrupt(buf, 4);
}

/* Over 8 MiB: several lz4 blocks, and a second frame after a repeated
 * magic, as concatenated `lz4 -l` output looks. */
static void test_lz4_multi_block(void **state)
{
	const size_t len = 17 << 20;
	uint8_t *d = make_data(len, 6);
	struct blob b = compress_lz4(d, len), b2 = compress_lz4(d, 1000);
	uint8_t *out;
	size_t out_len;

	(void)state;
	b.p = realloc(b.p, b.len + b2.len);
	memcpy(b.p + b.len, b2.p, b2.len);
	b.len += b2.len;
	append_size(&b, len + 1000);
	assert_int_equal(run_decompress(b.p, b.len, len + 1000, len + 1000,
					&out, &out_len),
			 0);
	assert_int_equal(out_len, len + 1000);
	assert_memory_equal(out, d, len);
	assert_memory_equal(out + len, d, 1000);
	free(out);
	free(b.p);
	free(b2.p);
	free(d);
}

/* Two zstd frames back to back decode as one stream; the size trailer
 * after them is not mistaken for a third. */
static void test_zstd_two_frames(void **state)
{
	uint8_t *d = make_data(5000, 7);
	struct blob b = compress_zstd(d, 3000),
		    b2 = compress_zstd(d + 3000, 2000);
	uint8_t *out;
	size_t out_len;

	(void)state;
	b.p = realloc(b.p, b.len + b2.len);
	memcpy(b.p + b.len, b2.p, b2.len);
	b.len += b2.len;
	append_size(&b, 5000);
	assert_int_equal(run_decompress(b.p, b.len, 0, 5000, &out, &out_len),
			 0);
	assert_int_equal(out_len, 5000);
	assert_memory_equal(out, d, 5000);
	free(out);
	free(b.p);
	free(b2.p);
	free(d);
}

static void test_unsupported(void **state)
{
	static const uint8_t lzo[] = {0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a};
	static const uint8_t junk[] = "not compressed at all";
	uint8_t *out = (uint8_t *)1;
	size_t out_len = 1;

	(void)state;
	assert_int_equal(
		run_decompress(lzo, sizeof(lzo), 0, 100, &out, &out_len),
		-ENOEXEC);
	assert_null(out);
	assert_int_equal(
		run_decompress(junk, sizeof(junk), 0, 100, &out, &out_len),
		-ENOEXEC);
	assert_int_equal(run_decompress(junk, 0, 0, 100, &out, &out_len),
			 -ENOEXEC);
}

/* Random byte flips never crash a decoder or exceed the limit. */
static void test_random_damage(void **state)
{
	const size_t len = 16 * 1024;
	uint8_t *d = make_data(len, 8);
	uint32_t seed = 42;

	(void)state;
	for (size_t i = 0; i < NR_FORMATS; i++) {
		struct blob b = compress_fmt(all_formats[i], d, len);

		for (int round = 0; round < 200; round++) {
			uint8_t *copy = malloc(b.len), *out;
			size_t out_len;
			int ret;

			memcpy(copy, b.p, b.len);
			for (int k = 0; k < 3; k++) {
				seed = seed * 1103515245 + 12345;
				/* Keep the magic so the decoder runs. */
				copy[6 + (seed >> 8) % (b.len - 6)] ^=
					(uint8_t)(seed >> 20) | 1;
			}
			ret = run_decompress(copy, b.len, 0, 2 * len, &out,
					     &out_len);
			assert_true(ret == 0 || ret == -ENOEXEC ||
				    ret == -E2BIG);
			if (!ret)
				assert_true(out_len <= 2 * len);
			free(out);
			free(copy);
		}
		free(b.p);
	}
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_limit_exact),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_lz4_bad_blocks),
		cmocka_unit_test(test_lz4_multi_block),
		cmocka_unit_test(test_zstd_two_frames),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_random_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
