/* SPDX-License-Identifier: MIT */
#include "daemon/db_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dlog.h"

/*
 * The migrations: step i takes the schema from version i to i + 1, and
 * PRAGMA user_version records how many have run. To change the schema,
 * append a step (one string of SQL; it runs in one transaction with the
 * version bump) and never edit a step that has shipped: databases out
 * there have already run it.
 */
static const char *const migrations[] = {
	/* 1: VMs, their definition and their last known process. */
	"CREATE TABLE vms ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" name TEXT UNIQUE,"
	" config TEXT NOT NULL,"
	" state TEXT NOT NULL"
	"  CHECK (state IN ('created', 'running', 'paused', 'stopped')),"
	" pid INTEGER NOT NULL DEFAULT 0,"
	" pid_start INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" started_at INTEGER NOT NULL DEFAULT 0,"
	" stopped_at INTEGER NOT NULL DEFAULT 0,"
	" stop_reason TEXT,"
	" exit_status INTEGER NOT NULL DEFAULT -1);",
	/* 2: metering. usage holds one row per VM and sampling interval (the
	 * deltas, kept after the VM is deleted: they are the bill);
	 * meter_mark where the sampler left each VM's process, so a restarted
	 * berthd neither counts twice nor loses what it had. Times in Unix ms,
	 * CPU in ns. */
	"CREATE TABLE usage ("
	" id INTEGER PRIMARY KEY,"
	" vm_id TEXT NOT NULL,"
	" vm_name TEXT,"
	" t_start INTEGER NOT NULL,"
	" t_end INTEGER NOT NULL,"
	" cpu_ns INTEGER NOT NULL,"
	" steal_ns INTEGER NOT NULL,"
	" rss_bytes INTEGER NOT NULL,"
	" mem_gib_s REAL NOT NULL,"
	" disk_read_bytes INTEGER NOT NULL,"
	" disk_write_bytes INTEGER NOT NULL,"
	" disk_read_ops INTEGER NOT NULL,"
	" disk_write_ops INTEGER NOT NULL,"
	" net_rx_bytes INTEGER NOT NULL,"
	" net_tx_bytes INTEGER NOT NULL,"
	" net_rx_packets INTEGER NOT NULL,"
	" net_tx_packets INTEGER NOT NULL,"
	" uptime_s REAL NOT NULL);"
	"CREATE INDEX usage_vm_t_end ON usage (vm_id, t_end);"
	"CREATE INDEX usage_t_end ON usage (t_end);"
	"CREATE TABLE meter_mark ("
	" vm_id TEXT PRIMARY KEY NOT NULL,"
	" pid INTEGER NOT NULL,"
	" pid_start INTEGER NOT NULL,"
	" t_ms INTEGER NOT NULL,"
	" rss_bytes INTEGER NOT NULL,"
	" cpu_ns INTEGER NOT NULL,"
	" steal_ns INTEGER NOT NULL,"
	" disk_read_bytes INTEGER NOT NULL,"
	" disk_write_bytes INTEGER NOT NULL,"
	" disk_read_ops INTEGER NOT NULL,"
	" disk_write_ops INTEGER NOT NULL,"
	" net_rx_bytes INTEGER NOT NULL,"
	" net_tx_bytes INTEGER NOT NULL,"
	" net_rx_packets INTEGER NOT NULL,"
	" net_tx_packets INTEGER NOT NULL);",
};

#define NR_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const state_names[] = {
	[VM_CREATED] = "created",
	[VM_RUNNING] = "running",
	[VM_PAUSED] = "paused",
	[VM_STOPPED] = "stopped",
};

const char *vm_state_name(enum vm_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "unknown";
}

int vm_state_parse(const char *name, enum vm_state *s)
{
	for (unsigned i = 0; i < 4; i++) {
		if (name && !strcmp(name, state_names[i])) {
			*s = (enum vm_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

int db_latest_version(void)
{
	return NR_MIGRATIONS;
}

int db_fail(struct db *db, const char *what)
{
	dlog(LOG_ERR, "database: %s: %s", what, sqlite3_errmsg(db->h));
	return -EIO;
}

int db_exec(struct db *db, const char *sql)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, sql);
	return 0;
}

int db_version(struct db *db)
{
	sqlite3_stmt *st;
	int v = -EIO;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL))
		return db_fail(db, "user_version");
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Run step n (0-based) and record version n + 1, all or nothing. */
static int db_migrate_step(struct db *db, int n)
{
	char bump[64];

	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", n + 1);
	if (db_exec(db, "BEGIN IMMEDIATE"))
		return -EIO;
	if (db_exec(db, migrations[n]) || db_exec(db, bump)) {
		(void)db_exec(db, "ROLLBACK");
		return -EIO;
	}
	return db_exec(db, "COMMIT");
}

static int db_migrate(struct db *db, const char *path)
{
	int v = db_version(db);

	if (v < 0)
		return v;
	if (v > NR_MIGRATIONS) {
		dlog(LOG_ERR,
		     "%s has schema version %d, newer than this berthd knows "
		     "(%d): use a newer berthd",
		     path, v, NR_MIGRATIONS);
		return -EPROTO;
	}
	for (; v < NR_MIGRATIONS; v++) {
		if (db_migrate_step(db, v))
			return -EIO;
		dlog(LOG_INFO, "database %s: schema version %d", path, v + 1);
	}
	return 0;
}

/* WAL: readers never wait for the writer and a crash loses at most the
 * last transaction; synchronous=NORMAL is what WAL is meant to run with. */
static int db_configure(struct db *db)
{
	sqlite3_stmt *st;
	int ret = -EIO;

	sqlite3_busy_timeout(db->h, 5000);
	if (sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &st, NULL))
		return db_fail(db, "journal_mode");
	if (sqlite3_step(st) == SQLITE_ROW &&
	    !strcmp((const char *)sqlite3_column_text(st, 0), "wal"))
		ret = 0;
	sqlite3_finalize(st);
	if (ret)
		return db_fail(db, "cannot switch to WAL mode");
	return db_exec(db, "PRAGMA synchronous=NORMAL");
}

int db_open(struct db **out, const char *path)
{
	struct db *db = calloc(1, sizeof(*db));
	int ret;

	*out = NULL;
	if (!db)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &db->h,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		dlog(LOG_ERR, "cannot open database %s: %s", path,
		     db->h ? sqlite3_errmsg(db->h) : "out of memory");
		db_close(db);
		return -EIO;
	}
	ret = db_configure(db);
	if (!ret)
		ret = db_migrate(db, path);
	if (ret) {
		db_close(db);
		return ret;
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	sqlite3_close(db->h);
	free(db);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Bind the columns that change over a VM's life: ?1 id, ?2..?8. */
static void bind_state(sqlite3_stmt *st, const struct vm_row *r)
{
	bind_text(st, 1, r->id);
	bind_text(st, 2, vm_state_name(r->state));
	sqlite3_bind_int(st, 3, r->pid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->pid_start);
	sqlite3_bind_int64(st, 5, r->started_at);
	sqlite3_bind_int64(st, 6, r->stopped_at);
	bind_text(st, 7, r->stop_reason);
	sqlite3_bind_int(st, 8, r->exit_status);
}

/* Prepare sql, bind r, step once; the statement's result code. */
static int db_write_row(struct db *db, const char *sql, const struct vm_row *r,
			bool full)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL))
		return db_fail(db, "prepare");
	bind_state(st, r);
	if (full) {
		bind_text(st, 9, r->name);
		bind_text(st, 10, r->config);
		sqlite3_bind_int64(st, 11, r->created_at);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

int db_vm_insert(struct db *db, const struct vm_row *r)
{
	int rc = db_write_row(
		db,
		"INSERT INTO vms (id, state, pid, pid_start, started_at, "
		"stopped_at, stop_reason, exit_status, name, config, "
		"created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
		"?11)",
		r, true);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return db_fail(db, "insert");
}

int db_vm_update(struct db *db, const struct vm_row *r)
{
	int rc = db_write_row(db,
			      "UPDATE vms SET state = ?2, pid = ?3, "
			      "pid_start = ?4, started_at = ?5, "
			      "stopped_at = ?6, stop_reason = ?7, "
			      "exit_status = ?8 WHERE id = ?1",
			      r, false);

	if (rc != SQLITE_DONE)
		return db_fail(db, "update");
	return sqlite3_changes(db->h) ? 0 : -ENOENT;
}

int db_vm_delete(struct db *db, const char *id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->h, "DELETE FROM vms WHERE id = ?1", -1, &st,
			       NULL))
		return db_fail(db, "prepare");
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, "delete");
	return sqlite3_changes(db->h) ? 0 : -ENOENT;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? strdup((const char *)s) : NULL;
}

/* The current row of a SELECT in db_vm_load's column order. */
static int row_read(sqlite3_stmt *st, struct vm_row *r)
{
	const unsigned char *id = sqlite3_column_text(st, 0);

	*r = (struct vm_row){.exit_status = -1};
	if (!id || strlen((const char *)id) != VM_ID_LEN ||
	    vm_state_parse((const char *)sqlite3_column_text(st, 3), &r->state))
		return -EINVAL;
	memcpy(r->id, id, VM_ID_LEN + 1);
	r->name = column_dup(st, 1);
	r->config = column_dup(st, 2);
	r->pid = sqlite3_column_int(st, 4);
	r->pid_start = (uint64_t)sqlite3_column_int64(st, 5);
	r->created_at = sqlite3_column_int64(st, 6);
	r->started_at = sqlite3_column_int64(st, 7);
	r->stopped_at = sqlite3_column_int64(st, 8);
	r->stop_reason = column_dup(st, 9);
	r->exit_status = sqlite3_column_int(st, 10);
	if (!r->config) {
		vm_row_free(r);
		return -EINVAL;
	}
	return 0;
}

int db_vm_load(struct db *db, int (*fn)(void *ctx, struct vm_row *r), void *ctx)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, ret = 0;
	struct vm_row r;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT id, name, config, state, pid, "
			       "pid_start, created_at, started_at, stopped_at, "
			       "stop_reason, exit_status FROM vms "
			       "ORDER BY created_at, rowid",
			       -1, &st, NULL))
		return db_fail(db, "prepare");
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row_read(st, &r)) {
			dlog(LOG_WARN, "database: skipping a malformed row");
			continue;
		}
		ret = fn(ctx, &r);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = db_fail(db, "select");
	sqlite3_finalize(st);
	return ret;
}

void vm_row_free(struct vm_row *r)
{
	free(r->name);
	free(r->config);
	free(r->stop_reason);
	r->name = r->config = r->stop_reason = NULL;
}
