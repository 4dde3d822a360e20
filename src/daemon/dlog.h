/* SPDX-License-Identifier: MIT */
/*
 * berthd's log: one line per event, "berthd: vm ID: what happened", on
 * stderr or appended to a file (--log FILE, each line then starts with an
 * RFC 3339 time). Levels and the threshold are util/log.h's.
 */
#ifndef BERTH_DAEMON_DLOG_H
#define BERTH_DAEMON_DLOG_H

#include "util/log.h"

/* Append to path from now on (NULL: stderr). -errno after one error line. */
int dlog_open(const char *path) __attribute__((warn_unused_result));

/* Close the file dlog_open() opened; stderr again. */
void dlog_close(void);

/* One line about the daemon. */
void dlog(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One line about VM id. */
void dlog_vm(enum log_level level, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
