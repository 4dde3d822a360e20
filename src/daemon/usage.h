/* SPDX-License-Identifier: MIT */
/* GET /v1/usage: the usage records of a time range, summed per VM, as
 * JSON (docs/api.md). */
#ifndef BERTH_DAEMON_USAGE_H
#define BERTH_DAEMON_USAGE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/db.h"
#include "daemon/vmdef.h"

#define USAGE_MAX_RECORDS 10000 /* records one answer lists at most */

struct registry;

/* A usage query: records whose t_end is in (since, until]. */
struct usage_query {
	int64_t since, until;	  /* Unix ms */
	char vm[VM_NAME_MAX + 1]; /* id or name; "": every VM */
	bool records;		  /* list the records too */
};

/* Fill q from the query parameters (each NULL if absent): since and until
 * as RFC 3339 or Unix seconds (default: the beginning, and now), vm an id
 * or name, records a boolean. -EINVAL with err naming the parameter. */
int usage_query_parse(struct usage_query *q, const char *since,
		      const char *until, const char *vm, const char *records,
		      int64_t now, struct field_error *err)
	__attribute__((warn_unused_result));

/* The answer to q: per-VM sums, their total and, if asked, the records.
 * -ENOENT if q names a VM that neither exists nor has records. */
int reg_usage(struct registry *r, const struct usage_query *q,
	      struct json_object **out, struct field_error *err)
	__attribute__((warn_unused_result));

#endif
