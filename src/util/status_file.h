/* SPDX-License-Identifier: MIT */
/*
 * berth run --status-file PATH: how a VM process tells berthd why it ended.
 * One JSON line, {"exit_status": N, "reason": "..."}, written to PATH.tmp
 * and renamed over PATH, so a reader sees all of it or nothing.
 */
#ifndef BERTH_UTIL_STATUS_FILE_H
#define BERTH_UTIL_STATUS_FILE_H

#include <stddef.h>

/* Write status and reason (NULL: none) to path atomically. -errno after one
 * error line. */
int status_file_write(const char *path, int status, const char *reason)
	__attribute__((warn_unused_result));

/* Read path into *status and reason (at most len bytes, NUL-terminated;
 * "" if the file has none). -ENOENT if there is no file, -EINVAL if it is
 * not what status_file_write() writes. */
int status_file_read(const char *path, int *status, char *reason, size_t len)
	__attribute__((warn_unused_result));

#endif
