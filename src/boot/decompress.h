/* SPDX-License-Identifier: MIT */
/*
 * In-memory decompression of the formats a Linux bzImage payload may use
 * (gzip, bzip2, lzma, xz, lz4 legacy frames, zstd), told apart by their magic
 * numbers. Input is untrusted: output is bounded by the caller's max_out, so a
 * decompression bomb fails with -E2BIG instead of exhausting host memory.
 */
#ifndef BERTH_BOOT_DECOMPRESS_H
#define BERTH_BOOT_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

enum decompress_format {
	DECOMPRESS_UNKNOWN = 0,
	DECOMPRESS_GZIP,
	DECOMPRESS_BZIP2,
	DECOMPRESS_LZMA,
	DECOMPRESS_XZ,
	DECOMPRESS_LZ4, /* the legacy frame format the kernel uses */
	DECOMPRESS_ZSTD,
	DECOMPRESS_LZO, /* recognised so it can be refused by name */
};

/* The format of in[0, len) by its magic number; DECOMPRESS_UNKNOWN if none. */
enum decompress_format decompress_detect(const uint8_t *in, size_t len);

/* A short name for messages ("gzip", "xz", ...; "unknown"). */
const char *decompress_name(enum decompress_format fmt);

/*
 * Decompress the first stream in in[0, len) (format by magic; bytes after the
 * stream, such as the kernel's appended size, are ignored) into a malloc'd
 * buffer returned in *out and *out_len; the caller frees it. size_hint, if
 * nonzero, is the expected size and only sizes the first allocation.
 * Errors, each logged on one line: -ENOEXEC (unknown format, corrupt or
 * truncated data), -E2BIG (more than max_out bytes), -ENOMEM.
 */
int decompress_buffer(const uint8_t *in, size_t len, size_t size_hint,
		      size_t max_out, uint8_t **out, size_t *out_len)
	__attribute__((warn_unused_result));

#endif
