/* SPDX-License-Identifier: MIT */
/*
 * berthd's store: migrations from an empty file, WAL mode, re-opening, a
 * database from a newer berthd refused, and every row operation.
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
#include <unistd.h>
#include <cmocka.h>

#include "daemon/db.h"
#include "lib/test_util.h"

struct fx {
	char dir[64], path[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/berth-db-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/berth.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Run sql on the file directly, as another program would. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

static struct vm_row make_row(const char *id, const char *name)
{
	struct vm_row r = {.name = name ? strdup(name) : NULL,
			   .config = strdup("{\"kernel\":\"/k\"}"),
			   .state = VM_CREATED,
			   .created_at = 1000,
			   .exit_status = -1};

	snprintf(r.id, sizeof(r.id), "%s", id);
	return r;
}

struct loaded {
	unsigned n;
	struct vm_row rows[8];
};

static int collect(void *ctx, struct vm_row *r)
{
	struct loaded *l = ctx;

	if (l->n == 8) {
		vm_row_free(r);
		return -ENOSPC;
	}
	l->rows[l->n++] = *r;
	return 0;
}

static void loaded_free(struct loaded *l)
{
	for (unsigned i = 0; i < l->n; i++)
		vm_row_free(&l->rows[i]);
	l->n = 0;
}

static void test_migrate_from_empty(void **state)
{
	struct fx *f = *state;
	struct db *db;
	sqlite3 *h;
	sqlite3_stmt *st;

	assert_int_equal(db_open(&db, f->path), 0);
	assert_int_equal(db_version(db), db_latest_version());
	assert_true(db_latest_version() >= 1);
	db_close(db);
	/* WAL is a property of the file: another connection sees it. */
	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static void test_crud_and_reopen(void **state)
{
	struct fx *f = *state;
	struct vm_row a = make_row("aaaaaaaaaaaa", "web");
	struct vm_row b = make_row("bbbbbbbbbbbb", NULL);
	struct loaded l = {0};
	struct db *db;

	b.created_at = 2000;
	assert_int_equal(db_open(&db, f->path), 0);
	assert_int_equal(db_vm_insert(db, &a), 0);
	assert_int_equal(db_vm_insert(db, &b), 0);
	/* id and name are unique */
	assert_int_equal(db_vm_insert(db, &a), -EEXIST);
	a.state = VM_RUNNING;
	a.pid = 4242;
	a.pid_start = 987654321;
	a.started_at = 3000;
	assert_int_equal(db_vm_update(db, &a), 0);
	db_close(db);

	assert_int_equal(db_open(&db, f->path), 0);
	assert_int_equal(db_vm_load(db, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.rows[0].id, "aaaaaaaaaaaa");
	assert_string_equal(l.rows[0].name, "web");
	assert_int_equal(l.rows[0].state, VM_RUNNING);
	assert_int_equal(l.rows[0].pid, 4242);
	assert_int_equal(l.rows[0].pid_start, 987654321);
	assert_int_equal(l.rows[0].started_at, 3000);
	assert_int_equal(l.rows[0].exit_status, -1);
	assert_null(l.rows[0].stop_reason);
	assert_string_equal(l.rows[0].config, "{\"kernel\":\"/k\"}");
	assert_null(l.rows[1].name);
	loaded_free(&l);

	b.state = VM_STOPPED;
	b.exit_status = 3;
	b.stop_reason = strdup("guest said so");
	assert_int_equal(db_vm_update(db, &b), 0);
	assert_int_equal(db_vm_delete(db, "aaaaaaaaaaaa"), 0);
	assert_int_equal(db_vm_delete(db, "aaaaaaaaaaaa"), -ENOENT);
	assert_int_equal(db_vm_update(db, &a), -ENOENT);
	assert_int_equal(db_vm_load(db, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].state, VM_STOPPED);
	assert_int_equal(l.rows[0].exit_status, 3);
	assert_string_equal(l.rows[0].stop_reason, "guest said so");
	loaded_free(&l);
	db_close(db);
	vm_row_free(&a);
	vm_row_free(&b);
}

static void test_newer_version_refused(void **state)
{
	struct fx *f = *state;
	struct db *db;
	char sql[64];

	assert_int_equal(db_open(&db, f->path), 0);
	db_close(db);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 db_latest_version() + 1);
	raw_exec(f->path, sql);
	capture_begin();
	assert_int_equal(db_open(&db, f->path), -EPROTO);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "newer than this berthd"));
	assert_null(db);
}

/* A half-migrated database cannot happen: each step and its version bump
 * are one transaction. A step that fails leaves the version where it was. */
static void test_failed_step_rolls_back(void **state)
{
	struct fx *f = *state;
	struct db *db;

	/* A table in the way of step 1. */
	raw_exec(f->path, "CREATE TABLE vms (x INTEGER)");
	capture_begin();
	assert_int_equal(db_open(&db, f->path), -EIO);
	capture_end();
	raw_exec(f->path, "DROP TABLE vms");
	assert_int_equal(db_open(&db, f->path), 0);
	assert_int_equal(db_version(db), db_latest_version());
	db_close(db);
}

static void test_not_a_database(void **state)
{
	struct fx *f = *state;
	struct db *db;
	FILE *fp = fopen(f->path, "w");

	fputs("this is not an SQLite database, just text that is long "
	      "enough to have a header",
	      fp);
	fclose(fp);
	capture_begin();
	assert_true(db_open(&db, f->path) < 0);
	capture_end();
	assert_null(db);
}

static void test_state_names(void **state)
{
	enum vm_state s;

	(void)state;
	for (unsigned i = VM_CREATED; i <= VM_STOPPED; i++) {
		assert_int_equal(vm_state_parse(vm_state_name(i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(vm_state_parse("exploded", &s), -EINVAL);
	assert_int_equal(vm_state_parse(NULL, &s), -EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_migrate_from_empty),    T(test_crud_and_reopen),
		T(test_newer_version_refused), T(test_failed_step_rolls_back),
		T(test_not_a_database),	       T(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
