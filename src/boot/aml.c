/* SPDX-License-Identifier: MIT */
#include "boot/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes and prefixes (ACPI 6.4, 20.3). */
#define AML_ZERO_OP	  0x00
#define AML_ONE_OP	  0x01
#define AML_NAME_OP	  0x08
#define AML_BYTE_PREFIX	  0x0a
#define AML_WORD_PREFIX	  0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP	  0x10
#define AML_BUFFER_OP	  0x11
#define AML_PACKAGE_OP	  0x12
#define AML_DUAL_NAME	  0x2e
#define AML_MULTI_NAME	  0x2f
#define AML_EXT_OP	  0x5b
#define AML_DEVICE_OP	  0x82 /* after AML_EXT_OP */
#define AML_NULL_NAME	  0x00
#define AML_MAX_SEGS	  8
#define AML_UPPER	  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* Resource descriptor tags (6.4.2, 6.4.3). */
#define RES_IO		   0x47 /* small item 8, 7 bytes follow */
#define RES_END		   0x79 /* small item 15, 1 byte follows */
#define RES_MEMORY32_FIXED 0x86
#define RES_DWORD_ADDR	   0x87
#define RES_WORD_ADDR	   0x88
/* Address space descriptors (6.4.3.5): resource type and flags. */
#define RES_TYPE_MEM	   0
#define RES_TYPE_BUS	   2
#define RES_PRODUCER_FIXED 0x0c /* _MAF | _MIF, positive decode, producer */
#define RES_MEM_RW	   0x01 /* non-cacheable, read-write */

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	*a = (struct aml){.buf = buf, .cap = cap};
}

int aml_status(const struct aml *a)
{
	if (a->overflow)
		return -ENOSPC;
	return a->invalid ? -EINVAL : 0;
}

/* Once a write has not fit, nothing more is written: the output is
 * useless anyway, and the caller learns it from aml_status(). */
static bool aml_room(struct aml *a, size_t n)
{
	if (a->overflow || n > a->cap - a->len)
		a->overflow = true;
	return !a->overflow;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!n || !aml_room(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* AML is little-endian whatever the host is. */
static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/* Insert n bytes at pos (<= len), moving what was written after pos up. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *p, size_t n)
{
	if (!aml_room(a, n))
		return;
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, p, n);
	a->len += n;
}

size_t aml_pkglen_encode(uint8_t out[4], size_t len)
{
	if (len + 1 <= 0x3f) {
		out[0] = (uint8_t)(len + 1);
		return 1;
	}
	/* n bytes hold 4 + 8 * (n - 1) bits: the lead byte gives the count
	 * in bits 7:6 and the low nibble in bits 3:0 (20.2.4). */
	for (size_t n = 2; n <= 4; n++) {
		size_t total = len + n;

		if (total >> (4 + 8 * (n - 1)))
			continue;
		out[0] = (uint8_t)((n - 1) << 6 | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

/* Copy the segment at p into seg, padded with '_'; returns its length
 * (1-4), or 0 if it is not a valid NameSeg (no digit first). */
static size_t aml_parse_seg(const char *p, char seg[4])
{
	size_t n = strspn(p, AML_UPPER "_0123456789");

	if (!n || n > 4 || (p[n] && p[n] != '.') || (*p >= '0' && *p <= '9'))
		return 0;
	memcpy(seg, p, n);
	memset(seg + n, '_', 4 - n);
	return n;
}

void aml_name_string(struct aml *a, const char *path)
{
	size_t prefix = path[0] == '\\' ? 1 : strspn(path, "^");
	const char *p = path + prefix;
	char segs[AML_MAX_SEGS][4];
	size_t nr = 0, n;

	while (*p) {
		if (nr == AML_MAX_SEGS || !(n = aml_parse_seg(p, segs[nr]))) {
			a->invalid = true;
			return;
		}
		nr++;
		p += n;
		if (*p == '.' && !*++p) { /* a trailing dot */
			a->invalid = true;
			return;
		}
	}
	aml_bytes(a, path, prefix);
	if (nr == 0)
		aml_byte(a, AML_NULL_NAME);
	else if (nr == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (nr > 2)
		aml_bytes(a, (uint8_t[]){AML_MULTI_NAME, (uint8_t)nr}, 2);
	aml_bytes(a, segs, nr * 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
	static const uint8_t prefix[9] = {[1] = AML_BYTE_PREFIX,
					  [2] = AML_WORD_PREFIX,
					  [4] = AML_DWORD_PREFIX,
					  [8] = AML_QWORD_PREFIX};
	unsigned n = 1;

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
		return;
	}
	while (n < 8 && v >> (8 * n))
		n *= 2;
	aml_byte(a, prefix[n]);
	aml_le(a, v, n);
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

uint32_t aml_eisaid_value(const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7 || strspn(id, AML_UPPER) < 3 ||
	    strspn(id + 3, "0123456789ABCDEF") != 4)
		return 0;
	/* Three letters of 5 bits ('A' = 1) and four nibbles, big-endian in
	 * 31 bits; AML stores the four bytes in that order. */
	for (int i = 0; i < 3; i++)
		v = v << 5 | (uint32_t)(id[i] - '@');
	v = v << 16 | (uint32_t)strtoul(id + 3, NULL, 16);
	return __builtin_bswap32(v);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = aml_eisaid_value(id);

	if (!v)
		a->invalid = true;
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, v, 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

/* Emit an opcode of n bytes and, if path, the name that follows the
 * PkgLength; return where the PkgLength goes. */
static size_t aml_open(struct aml *a, const uint8_t *op, size_t n,
		       const char *path)
{
	size_t start;

	aml_bytes(a, op, n);
	start = a->len;
	if (path)
		aml_name_string(a, path);
	return start;
}

size_t aml_scope_open(struct aml *a, const char *path)
{
	return aml_open(a, (uint8_t[]){AML_SCOPE_OP}, 1, path);
}

size_t aml_device_open(struct aml *a, const char *path)
{
	return aml_open(a, (uint8_t[]){AML_EXT_OP, AML_DEVICE_OP}, 2, path);
}

size_t aml_package_open(struct aml *a, uint8_t nr_elements)
{
	size_t start = aml_open(a, (uint8_t[]){AML_PACKAGE_OP}, 1, NULL);

	aml_byte(a, nr_elements);
	return start;
}

void aml_close(struct aml *a, size_t start)
{
	uint8_t pkglen[4];
	size_t n;

	if (a->overflow) /* the output is lost already */
		return;
	n = start <= a->len ? aml_pkglen_encode(pkglen, a->len - start) : 0;
	if (!n)
		a->invalid = true;
	else
		aml_insert(a, start, pkglen, n);
}

size_t aml_buffer_open(struct aml *a)
{
	return aml_open(a, (uint8_t[]){AML_BUFFER_OP}, 1, NULL);
}

void aml_buffer_close(struct aml *a, size_t start)
{
	uint8_t size[9];
	struct aml s;

	/* BufferSize comes before the bytes it counts; aml_close() reports
	 * a bad start. */
	aml_init(&s, size, sizeof(size));
	aml_integer(&s, a->len - start);
	if (start <= a->len)
		aml_insert(a, start, size, s.len);
	aml_close(a, start);
}

size_t aml_resources_open(struct aml *a)
{
	return aml_buffer_open(a);
}

void aml_resources_close(struct aml *a, size_t start)
{
	/* A zero checksum means "treat as correct" (6.4.2.9). */
	aml_bytes(a, (uint8_t[]){RES_END, 0}, 2);
	aml_buffer_close(a, start);
}

void aml_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align,
	    uint8_t len)
{
	if (min > max)
		a->invalid = true;
	aml_bytes(a, (uint8_t[]){RES_IO, 1 /* Decode16 */}, 2);
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_bytes(a, (uint8_t[]){align, len}, 2);
}

void aml_memory32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	aml_bytes(a, (uint8_t[]){RES_MEMORY32_FIXED, 9, 0, 1 /* RW */}, 4);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

/* A Word, DWord or QWord Address Space Descriptor (6.4.3.5.1-3) of width
 * bytes: a range the device hands down to its children. QWordMemory (tag
 * 0x8a) or WordIO (type 1, flags 3) would be one more wrapper each. */
static void aml_addr_space(struct aml *a, unsigned width, uint8_t tag,
			   uint8_t type, uint8_t type_flags, uint64_t min,
			   uint64_t max)
{
	if (min > max)
		a->invalid = true;
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * width, 2); /* bytes after this length field */
	aml_bytes(a, (uint8_t[]){type, RES_PRODUCER_FIXED, type_flags}, 3);
	aml_le(a, 0, width); /* granularity: fixed ends, nothing to align */
	aml_le(a, min, width);
	aml_le(a, max, width);
	aml_le(a, 0, width); /* no translation: CPU and bus addresses agree */
	aml_le(a, max - min + 1, width);
}

void aml_word_bus_number(struct aml *a, uint16_t min, uint16_t max)
{
	aml_addr_space(a, 2, RES_WORD_ADDR, RES_TYPE_BUS, 0, min, max);
}

void aml_dword_memory(struct aml *a, uint32_t min, uint32_t max)
{
	aml_addr_space(a, 4, RES_DWORD_ADDR, RES_TYPE_MEM, RES_MEM_RW, min,
		       max);
}
