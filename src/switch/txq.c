/* SPDX-License-Identifier: MIT */
#include "switch/txq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int txq_init(struct txq *q, unsigned max_frames, size_t cap_bytes)
{
	memset(q, 0, sizeof(*q));
	if (!max_frames || !cap_bytes || cap_bytes > UINT32_MAX)
		return -EINVAL;
	q->buf = malloc(cap_bytes);
	q->frames = calloc(max_frames, sizeof(*q->frames));
	if (!q->buf || !q->frames) {
		txq_free(q);
		return -ENOMEM;
	}
	q->cap = cap_bytes;
	q->max = max_frames;
	return 0;
}

void txq_free(struct txq *q)
{
	free(q->buf);
	free(q->frames);
	memset(q, 0, sizeof(*q));
}

/* Where a frame of len bytes fits after the newest one, or -ENOBUFS. The
 * occupied bytes run from the oldest frame's start to the newest's end,
 * possibly wrapped past the end of buf. */
static long txq_place(const struct txq *q, size_t len)
{
	const struct txq_frame *old, *new;
	size_t start, end;

	if (!q->count)
		return len <= q->cap ? 0 : -ENOBUFS;
	old = &q->frames[q->head];
	new = &q->frames[(q->head + q->count - 1) % q->max];
	start = old->off;
	end = (size_t) new->off + new->len;
	if (end > start) {
		/* Not wrapped: room after end, else at the start of buf. */
		if (q->cap - end >= len)
			return end;
		return start >= len ? 0 : -ENOBUFS;
	}
	return start - end >= len ? (long)end : -ENOBUFS;
}

int txq_push(struct txq *q, const void *data, size_t len)
{
	struct txq_frame *f;
	long off;

	if (!len)
		return -EINVAL;
	if (q->count == q->max)
		return -ENOBUFS;
	off = txq_place(q, len);
	if (off < 0)
		return off;
	f = &q->frames[(q->head + q->count) % q->max];
	f->off = off;
	f->len = len;
	memcpy(q->buf + off, data, len);
	q->count++;
	q->bytes += len;
	return 0;
}

const uint8_t *txq_peek(const struct txq *q, size_t *len)
{
	if (!q->count)
		return NULL;
	*len = q->frames[q->head].len;
	return q->buf + q->frames[q->head].off;
}

void txq_pop(struct txq *q)
{
	if (!q->count)
		return;
	q->bytes -= q->frames[q->head].len;
	q->head = (q->head + 1) % q->max;
	q->count--;
}
