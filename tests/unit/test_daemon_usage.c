/* SPDX-License-Identifier: MIT */
/*
 * Usage records: storing them with the sampler's mark in one transaction,
 * the per-VM sums and the record list over a time range (by id, by name,
 * of a deleted VM), GET /v1/usage's parameters and answer, the time
 * formats, and the client's report helpers.
 */
#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "client/report.h"
#include "lib/test_util.h"
#include "daemon/registry.h"
#include "daemon/usage.h"
#include "util/timefmt.h"

struct fx {
	char dir[64], path[96];
	struct db *db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/berth-usage-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/berth.db", f->dir);
	if (db_open(&f->db, f->path))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static struct usage_rec rec(const char *id, const char *name, int64_t t0,
			    int64_t t1, uint64_t cpu, uint64_t wr)
{
	struct usage_rec u = {.t_start = t0,
			      .t_end = t1,
			      .d = {.cpu_ns = cpu,
				    .disk_write_bytes = wr,
				    .disk_write_ops = wr / 4096,
				    .net_rx_packets = 1},
			      .rss_bytes = 1ULL << 30,
			      .mem_gib_s = (double)(t1 - t0) / 1000,
			      .uptime_s = (double)(t1 - t0) / 1000};

	snprintf(u.vm_id, sizeof(u.vm_id), "%s", id);
	snprintf(u.vm_name, sizeof(u.vm_name), "%s", name);
	return u;
}

struct got {
	unsigned n;
	struct usage_sum s[4];
	struct usage_rec r[8];
};

static int got_sum(void *ctx, const struct usage_sum *s)
{
	struct got *g = ctx;

	if (g->n == 4)
		return -ENOSPC;
	g->s[g->n++] = *s;
	return 0;
}

static int got_rec(void *ctx, const struct usage_rec *u)
{
	struct got *g = ctx;

	if (g->n == 8)
		return -ENOSPC;
	g->r[g->n++] = *u;
	return 0;
}

/* Three VMs' records; b's name was reused by c after b was deleted. */
static void fill(struct db *db)
{
	struct usage_rec u[] = {
		rec("aaaaaaaaaaaa", "a", 1000, 2000, 100, 4096),
		rec("bbbbbbbbbbbb", "b", 1500, 2500, 10, 0),
		rec("aaaaaaaaaaaa", "a", 2000, 3000, 200, 8192),
		rec("aaaaaaaaaaaa", "a", 3000, 4000, 300, 0),
		rec("cccccccccccc", "b", 5000, 6000, 1, 0),
	};
	struct meter_mark m = {.pid = 7, .pid_start = 8, .t_ms = 4000};

	for (unsigned i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		assert_int_equal(db_usage_append(db, &u[i], i == 3 ? &m : NULL),
				 0);
}

static void test_sums(void **state)
{
	struct fx *f = *state;
	struct usage_filter all = {.since = 0, .until = INT64_MAX};
	struct got g = {0};

	fill(f->db);
	assert_int_equal(db_usage_sum(f->db, &all, got_sum, &g), 0);
	assert_int_equal(g.n, 3);
	/* In the order their records start. */
	assert_string_equal(g.s[0].vm_id, "aaaaaaaaaaaa");
	assert_string_equal(g.s[0].vm_name, "a");
	assert_int_equal(g.s[0].records, 3);
	assert_int_equal(g.s[0].t_first, 1000);
	assert_int_equal(g.s[0].t_last, 4000);
	assert_int_equal(g.s[0].d.cpu_ns, 600);
	assert_int_equal(g.s[0].d.disk_write_bytes, 12288);
	assert_int_equal(g.s[0].d.disk_write_ops, 3);
	assert_int_equal(g.s[0].d.net_rx_packets, 3);
	assert_true(g.s[0].mem_gib_s > 2.999 && g.s[0].mem_gib_s < 3.001);
	assert_int_equal(g.s[0].rss_max, 1ULL << 30);
	assert_string_equal(g.s[1].vm_id, "bbbbbbbbbbbb");
	assert_string_equal(g.s[2].vm_id, "cccccccccccc");
}

static void test_ranges_and_names(void **state)
{
	struct fx *f = *state;
	struct usage_filter r = {.since = 2000, .until = 3000};
	struct got g = {0};

	fill(f->db);
	/* t_end in (2000, 3000]: b's only record (from 1500) and a's
	 * second (from 2000), in that order. */
	assert_int_equal(db_usage_sum(f->db, &r, got_sum, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.s[0].d.cpu_ns, 10);
	assert_int_equal(g.s[1].d.cpu_ns, 200);
	assert_int_equal(g.s[1].t_first, 2000);
	/* By name: "b" was two VMs, one after the other. */
	r = (struct usage_filter){.since = 0, .until = INT64_MAX, .vm = "b"};
	g.n = 0;
	assert_int_equal(db_usage_sum(f->db, &r, got_sum, &g), 0);
	assert_int_equal(g.n, 2);
	/* By id. */
	r.vm = "aaaaaaaaaaaa";
	g.n = 0;
	assert_int_equal(db_usage_records(f->db, &r, 100, got_rec, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.r[0].t_end, 2000);
	assert_int_equal(g.r[2].d.cpu_ns, 300);
	assert_string_equal(g.r[2].vm_name, "a");
	/* At most max. */
	g.n = 0;
	assert_int_equal(db_usage_records(f->db, &r, 2, got_rec, &g), 0);
	assert_int_equal(g.n, 2);
	r.vm = "nobody";
	g.n = 0;
	assert_int_equal(db_usage_sum(f->db, &r, got_sum, &g), 0);
	assert_int_equal(g.n, 0);
}

static void test_marks(void **state)
{
	struct fx *f = *state;
	struct meter_mark m;
	struct usage_rec u = rec("aaaaaaaaaaaa", "", 1, 2, 3, 4);
	struct meter_mark w = {.pid = 5,
			       .pid_start = 6,
			       .t_ms = 2,
			       .rss_bytes = 9,
			       .tot = {.cpu_ns = 3, .net_tx_packets = 11}};
	sqlite3 *h;

	assert_int_equal(db_meter_mark_get(f->db, "aaaaaaaaaaaa", &m), -ENOENT);
	fill(f->db);
	assert_int_equal(db_meter_mark_get(f->db, "aaaaaaaaaaaa", &m), 0);
	assert_int_equal(m.pid, 7);
	assert_int_equal(m.t_ms, 4000);
	assert_int_equal(db_usage_append(f->db, &u, &w), 0);
	assert_int_equal(db_meter_mark_get(f->db, "aaaaaaaaaaaa", &m), 0);
	assert_int_equal(m.pid, 5);
	assert_int_equal(m.pid_start, 6);
	assert_int_equal(m.rss_bytes, 9);
	assert_int_equal(m.tot.cpu_ns, 3);
	assert_int_equal(m.tot.net_tx_packets, 11);
	assert_int_equal(db_meter_mark_delete(f->db, "aaaaaaaaaaaa"), 0);
	assert_int_equal(db_meter_mark_get(f->db, "aaaaaaaaaaaa", &m), -ENOENT);
	/* A record that cannot be stored takes its mark with it: make the
	 * mark's table refuse, and the record must not be there either. */
	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
				      "CREATE TRIGGER no_marks BEFORE INSERT "
				      "ON meter_mark BEGIN SELECT RAISE(FAIL, "
				      "'no'); END",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	u = rec("dddddddddddd", "", 1, 2, 3, 4);
	capture_begin();
	assert_int_equal(db_usage_append(f->db, &u, &w), -EIO);
	assert_int_equal(capture_end(), 1);
	{
		struct usage_filter d = {
			.since = 0, .until = INT64_MAX, .vm = "dddddddddddd"};
		struct got g = {0};

		assert_int_equal(db_usage_sum(f->db, &d, got_sum, &g), 0);
		assert_int_equal(g.n, 0);
	}
}

static void test_query_parse(void **state)
{
	struct usage_query q;
	struct field_error err;

	(void)state;
	assert_int_equal(
		usage_query_parse(&q, NULL, NULL, NULL, NULL, 5000, &err), 0);
	assert_int_equal(q.since, 0);
	assert_int_equal(q.until, 5000);
	assert_false(q.records);
	assert_string_equal(q.vm, "");
	assert_int_equal(usage_query_parse(&q, "2026-11-21T09:12:03Z",
					   "1795259600.5", "web", "1", 0, &err),
			 0);
	assert_int_equal(q.since, 1795252323000LL);
	assert_int_equal(q.until, 1795259600500LL);
	assert_string_equal(q.vm, "web");
	assert_true(q.records);
	assert_int_equal(
		usage_query_parse(&q, "yesterday", NULL, NULL, NULL, 0, &err),
		-EINVAL);
	assert_string_equal(err.field, "since");
	assert_int_equal(usage_query_parse(&q, "20", "10", NULL, NULL, 0, &err),
			 -EINVAL);
	assert_int_equal(
		usage_query_parse(&q, NULL, NULL, NULL, "maybe", 0, &err),
		-EINVAL);
	assert_string_equal(err.field, "records");
	assert_int_equal(usage_query_parse(&q, NULL, NULL, "", NULL, 0, &err),
			 -EINVAL);
	assert_int_equal(
		usage_query_parse(&q, NULL, NULL, NULL, "false", 0, &err), 0);
	assert_false(q.records);
}

/* GET /v1/usage's answer, through a registry on the same database. */
static void test_reg_usage(void **state)
{
	struct fx *f = *state;
	struct vmdef_limits lim = {.max_memory_mib = 64, .host_cpus = 1};
	struct usage_query q = {.since = 0, .until = INT64_MAX};
	struct json_object *o, *v, *vms, *total, *recs;
	struct field_error err;
	struct registry r;

	fill(f->db);
	assert_int_equal(registry_init(&r, f->db, f->dir, "/bin/false", &lim),
			 0);
	assert_int_equal(reg_usage(&r, &q, &o, &err), 0);
	assert_true(json_object_object_get_ex(o, "vms", &vms));
	assert_int_equal(json_object_array_length(vms), 3);
	v = json_object_array_get_idx(vms, 0);
	assert_string_equal(
		json_object_get_string(json_object_object_get(v, "name")), "a");
	assert_int_equal(
		json_object_get_int64(json_object_object_get(v, "cpu_ns")),
		600);
	assert_string_equal(
		json_object_get_string(json_object_object_get(v, "first")),
		"1970-01-01T00:00:01.000Z");
	assert_true(json_object_object_get_ex(o, "total", &total));
	assert_int_equal(
		json_object_get_int64(json_object_object_get(total, "cpu_ns")),
		611);
	assert_int_equal(
		json_object_get_int64(json_object_object_get(total, "records")),
		5);
	assert_false(json_object_object_get_ex(o, "records", &recs));
	json_object_put(o);
	q.records = true;
	snprintf(q.vm, sizeof(q.vm), "cccccccccccc");
	assert_int_equal(reg_usage(&r, &q, &o, &err), 0);
	assert_true(json_object_object_get_ex(o, "records", &recs));
	assert_int_equal(json_object_array_length(recs), 1);
	json_object_put(o);
	/* Neither a VM nor any record: 404. */
	snprintf(q.vm, sizeof(q.vm), "nobody");
	assert_int_equal(reg_usage(&r, &q, &o, &err), -ENOENT);
	assert_string_equal(err.field, "vm");
	registry_fini(&r);
}

static void test_time_formats(void **state)
{
	char buf[TIME_RFC3339_LEN];
	int64_t ms;

	(void)state;
	time_format(1795252323120LL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-21T09:12:03.120Z");
	assert_int_equal(time_parse(buf, &ms), 0);
	assert_int_equal(ms, 1795252323120LL);
	assert_int_equal(time_parse("2026-11-21T10:12:03.1204+01:00", &ms), 0);
	assert_int_equal(ms, 1795252323120LL);
	assert_int_equal(time_parse("2026-11-21t09:12:03z", &ms), 0);
	assert_int_equal(time_parse("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(time_parse("12.5", &ms), 0);
	assert_int_equal(ms, 12500);
	assert_int_equal(time_parse("2026-02-31T00:00:00Z", &ms), -EINVAL);
	assert_int_equal(time_parse("2026-11-21T09:12:03", &ms), -EINVAL);
	assert_int_equal(time_parse("2026-11-21T24:00:00Z", &ms), -EINVAL);
	assert_int_equal(time_parse("2026-11-21T09:12:03.Z", &ms), -EINVAL);
	assert_int_equal(time_parse("-5", &ms), -EINVAL);
	assert_int_equal(time_parse("1e9", &ms), -EINVAL);
	assert_int_equal(time_parse("", &ms), -EINVAL);
	assert_int_equal(time_parse("99999999999999999999", &ms), -EINVAL);
	assert_int_equal(duration_parse("90s", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(duration_parse("1.5h", &ms), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(duration_parse("2d", &ms), 0);
	assert_int_equal(ms, 172800000);
	assert_int_equal(duration_parse("2", &ms), -EINVAL);
	assert_int_equal(duration_parse("2w", &ms), -EINVAL);
	assert_int_equal(duration_parse("h", &ms), -EINVAL);
}

static void test_report_helpers(void **state)
{
	char buf[32];
	int64_t ms;

	(void)state;
	assert_int_equal(report_time_arg("2h", 10000000, &ms), 0);
	assert_int_equal(ms, 10000000 - 7200000);
	assert_int_equal(report_time_arg("1795252323", 0, &ms), 0);
	assert_int_equal(ms, 1795252323000LL);
	assert_int_equal(report_time_arg("3d", 1000, &ms), -EINVAL);
	assert_int_equal(report_time_arg("soon", 1000, &ms), -EINVAL);
	report_duration(3725.4, buf, sizeof(buf));
	assert_string_equal(buf, "1:02:05");
	report_duration(360000, buf, sizeof(buf));
	assert_string_equal(buf, "100:00:00");
	report_bytes(512, false, buf, sizeof(buf));
	assert_string_equal(buf, "512 B");
	report_bytes(1536, true, buf, sizeof(buf));
	assert_string_equal(buf, "1.5 KiB/s");
	report_bytes(16 << 20, false, buf, sizeof(buf));
	assert_string_equal(buf, "16.0 MiB");
	assert_true(report_cpu_percent(0, 500000000, 1000000000) == 50.0);
	assert_true(report_cpu_percent(0, 2000000000, 1000000000) == 200.0);
	assert_true(report_cpu_percent(5, 1, 1000) == 0);
	assert_true(report_cpu_percent(0, 1, 0) == 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_sums),
		T(test_ranges_and_names),
		T(test_marks),
		cmocka_unit_test(test_query_parse),
		T(test_reg_usage),
		cmocka_unit_test(test_time_formats),
		cmocka_unit_test(test_report_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
