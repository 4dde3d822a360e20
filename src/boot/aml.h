/* SPDX-License-Identifier: MIT */
/*
 * A small AML encoder (ACPI 6.4, chapter 20; resource descriptors, 6.4):
 * enough to describe berth's devices in the DSDT. It writes into a buffer
 * the caller owns and never past cap: a write that does not fit sets
 * overflow and is dropped, so callers emit freely and check aml_status()
 * once at the end.
 *
 * Objects that carry a PkgLength (Scope, Device, Package, Buffer)
 * are built as open ... close pairs. Open returns a position; close
 * measures the body and inserts the PkgLength there, in as few bytes as it
 * fits, as iasl encodes it. Pairs nest like brackets.
 */
#ifndef BERTH_BOOT_AML_H
#define BERTH_BOOT_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool overflow; /* a write did not fit in cap */
	bool invalid;  /* a bad name, EISA ID, range or size was given */
};

/* Start encoding into buf[0..cap). */
void aml_init(struct aml *a, uint8_t *buf, size_t cap);

/* 0 if everything fit and was valid, else -ENOSPC or -EINVAL. */
int aml_status(const struct aml *a) __attribute__((warn_unused_result));

/* Append n raw bytes. */
void aml_bytes(struct aml *a, const void *p, size_t n);

/* Encode the PkgLength of a body of len bytes (the count includes the
 * PkgLength itself) into out; returns 1-4 bytes, or 0 if too long. */
size_t aml_pkglen_encode(uint8_t out[4], size_t len);

/* A NameString: "[\\ | ^...]SEG[.SEG...]", segments of 1-4 characters
 * padded with '_' ("_SB" is "_SB_"), at most 8 segments. */
void aml_name_string(struct aml *a, const char *path);

/* An integer in the shortest form: ZeroOp, OneOp or a Byte, Word, DWord or
 * QWord prefix. */
void aml_integer(struct aml *a, uint64_t v);

/* A String; s must hold ASCII characters 1-127 only (20.2.3). */
void aml_string(struct aml *a, const char *s);

/* The compressed EISA ID of "AAA####" (e.g. "PNP0A03" -> 0x030ad041), or 0
 * if id is not three capitals and four upper-case hex digits. */
uint32_t aml_eisaid_value(const char *id);

/* EISAID(id), always as a DWord, as iasl emits it. */
void aml_eisaid(struct aml *a, const char *id);

/* Name(name, ...): the caller appends the object's value next. */
void aml_name(struct aml *a, const char *name);

/* Scope(path) { ...: returns the position to pass to aml_close(). */
size_t aml_scope_open(struct aml *a, const char *path);

/* Device(path) { ...: returns the position to pass to aml_close(). */
size_t aml_device_open(struct aml *a, const char *path);

/* Package() { ...: nr_elements objects follow; returns the position to
 * pass to aml_close(). */
size_t aml_package_open(struct aml *a, uint8_t nr_elements);

/* Close a Scope, Device or Package opened at start. */
void aml_close(struct aml *a, size_t start);

/* Buffer() { ...: bytes follow; returns the position to pass to
 * aml_buffer_close(). */
size_t aml_buffer_open(struct aml *a);

/* Close a Buffer opened at start, inserting its size and PkgLength. */
void aml_buffer_close(struct aml *a, size_t start);

/* ResourceTemplate() { ...: resource descriptors follow; returns the
 * position to pass to aml_resources_close(). */
size_t aml_resources_open(struct aml *a);

/* Append the End Tag (checksum 0) and close the template's Buffer. */
void aml_resources_close(struct aml *a, size_t start);

/* IO(Decode16, min, max, align, len): a fixed or relocatable port range
 * the device consumes. */
void aml_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align,
	    uint8_t len);

/* Memory32Fixed(ReadWrite, base, len): memory the device consumes. */
void aml_memory32_fixed(struct aml *a, uint32_t base, uint32_t len);

/* WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode) for the
 * buses min..max. */
void aml_word_bus_number(struct aml *a, uint16_t min, uint16_t max);

/* DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed,
 * NonCacheable, ReadWrite) for min..max. */
void aml_dword_memory(struct aml *a, uint32_t min, uint32_t max);

#endif
