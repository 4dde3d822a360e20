/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests: compressed streams made at test time
 * and capture of the log lines a call under test prints. */
#ifndef BERTH_TESTS_UNIT_LIB_TEST_UTIL_H
#define BERTH_TESTS_UNIT_LIB_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A compressed test stream; p is malloc'd. */
struct blob {
	uint8_t *p;
	size_t len;
};

/* Bytes per block of the kernel's lz4 legacy frame. */
#define LZ4_BLOCK (8 << 20)

/* Store v little-endian at p. */
void put_le32(uint8_t *p, uint32_t v);

/* Compress in[0..len) as gzip, bzip2, xz, lzma ("alone"), lz4 legacy
 * frame or zstd, failing the test if the library does. */
struct blob compress_gzip(const uint8_t *in, size_t len);
struct blob compress_bzip2(const uint8_t *in, size_t len);
struct blob compress_xz(const uint8_t *in, size_t len);
struct blob compress_lzma(const uint8_t *in, size_t len);
struct blob compress_lz4(const uint8_t *in, size_t len);
struct blob compress_zstd(const uint8_t *in, size_t len);

/* The last line captured by capture_end(). */
extern char capture_last[512];

/* Send stderr to a temporary file until capture_end(). */
void capture_begin(void);

/* Restore stderr; the number of lines logged, the last in capture_last. */
unsigned capture_end(void);

#endif
