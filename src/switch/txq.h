/* SPDX-License-Identifier: MIT */
/*
 * A port's bounded output queue: frames waiting for a socket that would
 * block. One byte ring allocated once (each frame stored contiguously, the
 * space at the end skipped when a frame does not fit there) and a ring of
 * frame descriptors: no allocation per frame, memory fixed at init.
 */
#ifndef BERTH_SWITCH_TXQ_H
#define BERTH_SWITCH_TXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct txq_frame {
	uint32_t off;
	uint32_t len;
};

struct txq {
	uint8_t *buf;
	size_t cap; /* bytes in buf */
	struct txq_frame *frames;
	unsigned max;	/* frames */
	unsigned head;	/* oldest frame */
	unsigned count; /* frames queued */
	size_t bytes;	/* payload bytes queued */
};

/* Allocate a queue of at most max_frames frames in cap_bytes bytes; a
 * frame longer than cap_bytes never fits. -EINVAL if either is 0 or
 * cap_bytes >= 4 GiB, -ENOMEM. */
int txq_init(struct txq *q, unsigned max_frames, size_t cap_bytes)
	__attribute__((warn_unused_result));

/* Release the memory; q may be zeroed or already freed. */
void txq_free(struct txq *q);

/* True if nothing is queued. */
static inline bool txq_empty(const struct txq *q)
{
	return !q->count;
}

/* Copy a frame to the tail; -ENOBUFS if the frames or the bytes are
 * exhausted (the caller counts the drop), -EINVAL for len 0. */
int txq_push(struct txq *q, const void *data, size_t len)
	__attribute__((warn_unused_result));

/* The oldest frame and its length, or NULL if empty. */
const uint8_t *txq_peek(const struct txq *q, size_t *len);

/* Drop the oldest frame (after it was sent); no-op if empty. */
void txq_pop(struct txq *q);

#endif
