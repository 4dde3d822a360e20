/* SPDX-License-Identifier: MIT */
/*
 * Times as berthd's API and its clients write them: RFC 3339 in UTC with
 * milliseconds, and, when reading, RFC 3339 with any offset, Unix seconds
 * (with a fraction, if wanted) or, for the command line, a duration ago.
 * All values are Unix milliseconds.
 */
#ifndef BERTH_UTIL_TIMEFMT_H
#define BERTH_UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest string time_format() writes, with its NUL. */
#define TIME_RFC3339_LEN 32

/* Format ms as "2026-11-21T09:12:03.120Z" into buf (TIME_RFC3339_LEN). */
void time_format(int64_t ms, char *buf, size_t len);

/* Parse an RFC 3339 time ("2026-11-21T09:12:03Z", "...T10:12:03.5+01:00")
 * or Unix seconds ("1795259523", "1795259523.25"). -EINVAL if s is
 * neither. */
int time_parse(const char *s, int64_t *ms) __attribute__((warn_unused_result));

/* Parse a duration: a number and a unit s, m, h or d ("90s", "2h", "1.5d").
 * -EINVAL if s is not one. */
int duration_parse(const char *s, int64_t *ms)
	__attribute__((warn_unused_result));

#endif
