/* SPDX-License-Identifier: MIT */
/* The store's metering tables: usage records and the sampler's marks. */
#include "daemon/db_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The counter columns, in struct usage_counters' order. */
#define COUNTER_COLS                                                  \
	"cpu_ns, steal_ns, disk_read_bytes, disk_write_bytes, "       \
	"disk_read_ops, disk_write_ops, net_rx_bytes, net_tx_bytes, " \
	"net_rx_packets, net_tx_packets"

/* Bind the counters to ?first.. (SQLite integers are signed 64-bit: a
 * counter past 2^63 would take centuries). */
static void bind_counters(sqlite3_stmt *st, int first,
			  const struct usage_counters *c)
{
	for (unsigned i = 0; i < USAGE_NR_COUNTERS; i++)
		sqlite3_bind_int64(st, first + (int)i, (sqlite3_int64)c->v[i]);
}

static void read_counters(sqlite3_stmt *st, int first, struct usage_counters *c)
{
	for (unsigned i = 0; i < USAGE_NR_COUNTERS; i++) {
		sqlite3_int64 v = sqlite3_column_int64(st, first + (int)i);

		c->v[i] = v > 0 ? (uint64_t)v : 0;
	}
}

static void copy_text(sqlite3_stmt *st, int i, char *buf, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(buf, len, "%s", s ? (const char *)s : "");
}

/* Prepare, bind nothing, step once: for the statements below. */
static int step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, what);
}

static int usage_insert(struct db *db, const struct usage_rec *u)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(
		    db->h,
		    "INSERT INTO usage (vm_id, vm_name, t_start, "
		    "t_end, rss_bytes, mem_gib_s, uptime_s, " COUNTER_COLS
		    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		    "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
		    -1, &st, NULL))
		return db_fail(db, "prepare");
	sqlite3_bind_text(st, 1, u->vm_id, -1, SQLITE_TRANSIENT);
	if (u->vm_name[0])
		sqlite3_bind_text(st, 2, u->vm_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, u->t_start);
	sqlite3_bind_int64(st, 4, u->t_end);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)u->rss_bytes);
	sqlite3_bind_double(st, 6, u->mem_gib_s);
	sqlite3_bind_double(st, 7, u->uptime_s);
	bind_counters(st, 8, &u->d);
	return step_done(db, st, "insert usage");
}

static int mark_store(struct db *db, const char *id, const struct meter_mark *m)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->h,
			       "INSERT OR REPLACE INTO meter_mark (vm_id, pid, "
			       "pid_start, t_ms, rss_bytes, " COUNTER_COLS
			       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
			       "?10, ?11, ?12, ?13, ?14, ?15)",
			       -1, &st, NULL))
		return db_fail(db, "prepare");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, m->pid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)m->pid_start);
	sqlite3_bind_int64(st, 4, m->t_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)m->rss_bytes);
	bind_counters(st, 6, &m->tot);
	return step_done(db, st, "store meter mark");
}

int db_usage_append(struct db *db, const struct usage_rec *u,
		    const struct meter_mark *m)
{
	int ret;

	if (db_exec(db, "BEGIN IMMEDIATE"))
		return -EIO;
	ret = usage_insert(db, u);
	if (!ret && m)
		ret = mark_store(db, u->vm_id, m);
	if (ret) {
		(void)db_exec(db, "ROLLBACK");
		return ret;
	}
	return db_exec(db, "COMMIT");
}

int db_meter_mark_get(struct db *db, const char *id, struct meter_mark *m)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(
		    db->h,
		    "SELECT pid, pid_start, t_ms, rss_bytes, " COUNTER_COLS
		    " FROM meter_mark WHERE vm_id = ?1",
		    -1, &st, NULL))
		return db_fail(db, "prepare");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*m = (struct meter_mark){
			.pid = sqlite3_column_int(st, 0),
			.pid_start = (uint64_t)sqlite3_column_int64(st, 1),
			.t_ms = sqlite3_column_int64(st, 2),
			.rss_bytes = (uint64_t)sqlite3_column_int64(st, 3)};
		read_counters(st, 4, &m->tot);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : db_fail(db, "select meter mark");
}

int db_meter_mark_delete(struct db *db, const char *id)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->h, "DELETE FROM meter_mark WHERE vm_id = ?1",
			       -1, &st, NULL))
		return db_fail(db, "prepare");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	return step_done(db, st, "delete meter mark");
}

/* ---- queries ------------------------------------------------------------ */

/* The WHERE clause every query shares: ?1 since, ?2 until, ?3 id or name. */
#define USAGE_WHERE                                         \
	" WHERE t_end > ?1 AND t_end <= ?2 AND (?3 IS NULL" \
	" OR vm_id = ?3 OR vm_name = ?3)"

static void bind_filter(sqlite3_stmt *st, const struct usage_filter *f)
{
	sqlite3_bind_int64(st, 1, f->since);
	sqlite3_bind_int64(st, 2, f->until);
	if (f->vm)
		sqlite3_bind_text(st, 3, f->vm, -1, SQLITE_TRANSIENT);
}

int db_usage_sum(struct db *db, const struct usage_filter *f,
		 int (*fn)(void *ctx, const struct usage_sum *s), void *ctx)
{
	sqlite3_stmt *st;
	struct usage_sum s;
	int rc = SQLITE_DONE, ret = 0;

	/* The name of a VM's latest record: names can be reused after a
	 * delete, ids cannot. */
	if (sqlite3_prepare_v2(
		    db->h,
		    "SELECT vm_id, (SELECT vm_name FROM usage u2 WHERE "
		    "u2.vm_id = usage.vm_id ORDER BY t_end DESC LIMIT 1), "
		    "COUNT(*), MIN(t_start), MAX(t_end), MAX(rss_bytes), "
		    "TOTAL(mem_gib_s), TOTAL(uptime_s), SUM(cpu_ns), "
		    "SUM(steal_ns), SUM(disk_read_bytes), "
		    "SUM(disk_write_bytes), "
		    "SUM(disk_read_ops), SUM(disk_write_ops), "
		    "SUM(net_rx_bytes), "
		    "SUM(net_tx_bytes), SUM(net_rx_packets), "
		    "SUM(net_tx_packets) FROM usage" USAGE_WHERE
		    " GROUP BY vm_id ORDER BY MIN(t_start), vm_id",
		    -1, &st, NULL))
		return db_fail(db, "prepare");
	bind_filter(st, f);
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&s, 0, sizeof(s));
		copy_text(st, 0, s.vm_id, sizeof(s.vm_id));
		copy_text(st, 1, s.vm_name, sizeof(s.vm_name));
		s.records = (unsigned)sqlite3_column_int(st, 2);
		s.t_first = sqlite3_column_int64(st, 3);
		s.t_last = sqlite3_column_int64(st, 4);
		s.rss_max = (uint64_t)sqlite3_column_int64(st, 5);
		s.mem_gib_s = sqlite3_column_double(st, 6);
		s.uptime_s = sqlite3_column_double(st, 7);
		read_counters(st, 8, &s.d);
		ret = fn(ctx, &s);
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = db_fail(db, "select usage");
	sqlite3_finalize(st);
	return ret;
}

int db_usage_records(struct db *db, const struct usage_filter *f, unsigned max,
		     int (*fn)(void *ctx, const struct usage_rec *u), void *ctx)
{
	sqlite3_stmt *st;
	struct usage_rec u;
	int rc = SQLITE_DONE, ret = 0;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT vm_id, vm_name, t_start, t_end, "
			       "rss_bytes, mem_gib_s, uptime_s, " COUNTER_COLS
			       " FROM usage" USAGE_WHERE
			       " ORDER BY t_end, id LIMIT ?4",
			       -1, &st, NULL))
		return db_fail(db, "prepare");
	bind_filter(st, f);
	sqlite3_bind_int64(st, 4, max);
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&u, 0, sizeof(u));
		copy_text(st, 0, u.vm_id, sizeof(u.vm_id));
		copy_text(st, 1, u.vm_name, sizeof(u.vm_name));
		u.t_start = sqlite3_column_int64(st, 2);
		u.t_end = sqlite3_column_int64(st, 3);
		u.rss_bytes = (uint64_t)sqlite3_column_int64(st, 4);
		u.mem_gib_s = sqlite3_column_double(st, 5);
		u.uptime_s = sqlite3_column_double(st, 6);
		read_counters(st, 7, &u.d);
		ret = fn(ctx, &u);
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = db_fail(db, "select usage");
	sqlite3_finalize(st);
	return ret;
}
