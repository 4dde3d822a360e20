/* SPDX-License-Identifier: MIT */
/* GET /v1/usage (see usage.h). */
#include "daemon/usage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/registry_int.h"
#include "util/timefmt.h"

int usage_query_parse(struct usage_query *q, const char *since,
		      const char *until, const char *vm, const char *records,
		      int64_t now, struct field_error *err)
{
	*q = (struct usage_query){.since = 0, .until = now};
	if (since && time_parse(since, &q->since))
		return field_error_set(err, "since",
				       "since must be an RFC 3339 time or Unix "
				       "seconds");
	if (until && time_parse(until, &q->until))
		return field_error_set(err, "until",
				       "until must be an RFC 3339 time or Unix "
				       "seconds");
	if (q->since > q->until)
		return field_error_set(err, "since",
				       "since must not be after until");
	if (vm && (!*vm || strlen(vm) >= sizeof(q->vm)))
		return field_error_set(err, "vm",
				       "vm must be a VM's id or name");
	if (vm)
		snprintf(q->vm, sizeof(q->vm), "%s", vm);
	if (!records)
		return 0;
	if (!*records || !strcmp(records, "1") || !strcmp(records, "true"))
		q->records = true;
	else if (strcmp(records, "0") && strcmp(records, "false"))
		return field_error_set(err, "records",
				       "records must be 1, true, 0 or false");
	return 0;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* v as a JSON number written with fmt (json-c's own writes 17 digits). */
static void add_double(struct json_object *o, const char *key, double v,
		       const char *fmt)
{
	char buf[48];

	snprintf(buf, sizeof(buf), fmt, v);
	json_object_object_add(o, key, json_object_new_double_s(v, buf));
}

static void add_time(struct json_object *o, const char *key, int64_t ms)
{
	char buf[TIME_RFC3339_LEN];

	time_format(ms, buf, sizeof(buf));
	json_object_object_add(o, key, json_object_new_string(buf));
}

/* The counters and derived figures every sum and record carries. */
static void add_amounts(struct json_object *o, const struct usage_counters *d,
			double mem_gib_s, double uptime_s)
{
	add_u64(o, "cpu_ns", d->cpu_ns);
	add_double(o, "cpu_seconds", (double)d->cpu_ns / 1e9, "%.9f");
	add_u64(o, "steal_ns", d->steal_ns);
	add_double(o, "steal_seconds", (double)d->steal_ns / 1e9, "%.9f");
	add_double(o, "mem_gib_s", mem_gib_s, "%.9g");
	add_double(o, "mem_gib_h", mem_gib_s / 3600, "%.9g");
	add_u64(o, "disk_read_bytes", d->disk_read_bytes);
	add_u64(o, "disk_write_bytes", d->disk_write_bytes);
	add_u64(o, "disk_read_ops", d->disk_read_ops);
	add_u64(o, "disk_write_ops", d->disk_write_ops);
	add_u64(o, "net_rx_bytes", d->net_rx_bytes);
	add_u64(o, "net_tx_bytes", d->net_tx_bytes);
	add_u64(o, "net_rx_packets", d->net_rx_packets);
	add_u64(o, "net_tx_packets", d->net_tx_packets);
	add_double(o, "uptime_s", uptime_s, "%.3f");
}

/* What the per-VM callback builds. */
struct usage_acc {
	struct json_object *vms;
	struct usage_sum total;
};

static int sum_one(void *ctx, const struct usage_sum *s)
{
	struct usage_acc *a = ctx;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(s->vm_id));
	json_object_object_add(
		o, "name",
		s->vm_name[0] ? json_object_new_string(s->vm_name) : NULL);
	add_u64(o, "records", s->records);
	add_time(o, "first", s->t_first);
	add_time(o, "last", s->t_last);
	add_amounts(o, &s->d, s->mem_gib_s, s->uptime_s);
	add_u64(o, "rss_max_bytes", s->rss_max);
	json_object_array_add(a->vms, o);
	for (unsigned i = 0; i < USAGE_NR_COUNTERS; i++)
		a->total.d.v[i] += s->d.v[i];
	a->total.records += s->records;
	a->total.mem_gib_s += s->mem_gib_s;
	a->total.uptime_s += s->uptime_s;
	return 0;
}

static int record_one(void *ctx, const struct usage_rec *u)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(u->vm_id));
	json_object_object_add(
		o, "name",
		u->vm_name[0] ? json_object_new_string(u->vm_name) : NULL);
	add_time(o, "t_start", u->t_start);
	add_time(o, "t_end", u->t_end);
	add_u64(o, "rss_bytes", u->rss_bytes);
	add_amounts(o, &u->d, u->mem_gib_s, u->uptime_s);
	json_object_array_add(ctx, o);
	return 0;
}

/* The queries, under the registry lock (it guards the database). */
static int usage_locked(struct registry *r, const struct usage_query *q,
			struct json_object *out, struct field_error *err)
{
	struct usage_filter f = {.since = q->since,
				 .until = q->until,
				 .vm = q->vm[0] ? q->vm : NULL};
	struct usage_acc a = {.vms = json_object_new_array()};
	struct json_object *total = json_object_new_object(), *recs;
	int ret;

	json_object_object_add(out, "vms", a.vms);
	json_object_object_add(out, "total", total);
	ret = db_usage_sum(r->db, &f, sum_one, &a);
	if (ret)
		return reg_error(err, ret, "cannot read the usage records");
	if (f.vm && !json_object_array_length(a.vms) && !reg_find(r, f.vm)) {
		field_error_set(err, "vm",
				"no VM and no usage records with id or name "
				"'%.64s'",
				f.vm);
		return -ENOENT;
	}
	add_u64(total, "records", a.total.records);
	add_amounts(total, &a.total.d, a.total.mem_gib_s, a.total.uptime_s);
	if (!q->records)
		return 0;
	recs = json_object_new_array();
	json_object_object_add(out, "records", recs);
	ret = db_usage_records(r->db, &f, USAGE_MAX_RECORDS + 1, record_one,
			       recs);
	if (ret)
		return reg_error(err, ret, "cannot read the usage records");
	json_object_object_add(
		out, "records_truncated",
		json_object_new_boolean(json_object_array_length(recs) >
					USAGE_MAX_RECORDS));
	if (json_object_array_length(recs) > USAGE_MAX_RECORDS)
		json_object_array_del_idx(recs, USAGE_MAX_RECORDS, 1);
	return 0;
}

int reg_usage(struct registry *r, const struct usage_query *q,
	      struct json_object **out, struct field_error *err)
{
	struct json_object *o = json_object_new_object();
	int ret;

	add_time(o, "since", q->since);
	add_time(o, "until", q->until);
	pthread_mutex_lock(&r->lock);
	ret = usage_locked(r, q, o, err);
	pthread_mutex_unlock(&r->lock);
	if (ret) {
		json_object_put(o);
		return ret;
	}
	*out = o;
	return 0;
}
