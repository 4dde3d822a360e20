/* SPDX-License-Identifier: MIT */
/*
 * berthd's store: DIR/berth.db, SQLite in WAL mode. The schema is versioned
 * with PRAGMA user_version and brought up to date by the migration steps in
 * db.c when the database is opened; a database from a newer berthd is
 * refused. Not thread-safe on its own: the registry serialises every call.
 */
#ifndef BERTH_DAEMON_DB_H
#define BERTH_DAEMON_DB_H

#include <stdbool.h>
#include <stdint.h>

#define VM_ID_LEN 12 /* hex digits */

struct db;

enum vm_state { VM_CREATED, VM_RUNNING, VM_PAUSED, VM_STOPPED };

/* One row of the vms table. Strings are malloc'd (vm_row_free). */
struct vm_row {
	char id[VM_ID_LEN + 1];
	char *name;   /* NULL: none */
	char *config; /* the normalized definition, JSON text */
	enum vm_state state;
	int pid;	    /* 0: none */
	uint64_t pid_start; /* /proc/PID/stat field 22, clock ticks */
	int64_t created_at, started_at, stopped_at; /* Unix ms; 0: never */
	char *stop_reason;			    /* NULL: none */
	int exit_status;			    /* -1: none */
};

/* The schema version this berthd writes: the number of migration steps. */
int db_latest_version(void);

/* Open (creating it if need be) and migrate the database at path. -EPROTO
 * if it is from a newer berthd; -errno after one error line otherwise. */
int db_open(struct db **out, const char *path)
	__attribute__((warn_unused_result));

/* Close it; NULL is fine. */
void db_close(struct db *db);

/* The database's schema version (PRAGMA user_version), or -EIO. */
int db_version(struct db *db) __attribute__((warn_unused_result));

/* Insert r; -EEXIST if its id or name is taken. */
int db_vm_insert(struct db *db, const struct vm_row *r)
	__attribute__((warn_unused_result));

/* Store r's state, pid, times, reason and exit status (by id). -ENOENT if
 * there is no such row. */
int db_vm_update(struct db *db, const struct vm_row *r)
	__attribute__((warn_unused_result));

/* Delete the row with this id; -ENOENT if there is none. */
int db_vm_delete(struct db *db, const char *id)
	__attribute__((warn_unused_result));

/* Call fn for every row, oldest first; fn owns the row it is given (and
 * frees it with vm_row_free). Stops at and returns fn's first error. */
int db_vm_load(struct db *db, int (*fn)(void *ctx, struct vm_row *r), void *ctx)
	__attribute__((warn_unused_result));

/* Free the strings r owns. */
void vm_row_free(struct vm_row *r);

/* ---- metering (db_usage.c) ---------------------------------------------- */

#define VM_NAME_MAX 64 /* a name's bytes with its NUL */

/* What metering adds up. As totals: since a process started; in a usage
 * record: over one interval. */
#define USAGE_NR_COUNTERS 10
struct usage_counters {
	union {
		struct {
			uint64_t cpu_ns, steal_ns;
			uint64_t disk_read_bytes, disk_write_bytes;
			uint64_t disk_read_ops, disk_write_ops;
			uint64_t net_rx_bytes, net_tx_bytes;
			uint64_t net_rx_packets, net_tx_packets;
		};
		uint64_t v[USAGE_NR_COUNTERS]; /* the same, in that order */
	};
};

_Static_assert(sizeof(struct usage_counters) == USAGE_NR_COUNTERS * 8,
	       "usage_counters: v[] must cover every counter");

/* One usage record: what a VM used from t_start to t_end (Unix ms). */
struct usage_rec {
	char vm_id[VM_ID_LEN + 1];
	char vm_name[VM_NAME_MAX]; /* "": none */
	int64_t t_start, t_end;
	struct usage_counters d;
	uint64_t rss_bytes; /* resident memory sampled at t_end */
	double mem_gib_s;   /* rss_bytes x the interval, GiB x s */
	double uptime_s;    /* how long the VM was up in the interval */
};

/* Where the sampler left a VM: the process (pid, start time) it measured
 * and that process's totals at t_ms. */
struct meter_mark {
	int pid;
	uint64_t pid_start;
	int64_t t_ms;
	uint64_t rss_bytes;
	struct usage_counters tot;
};

/* Which records a usage query covers: t_end in (since, until], of the VM
 * whose id or name is vm (NULL: every VM). */
struct usage_filter {
	int64_t since, until;
	const char *vm;
};

/* A VM's records in a query's range, added up. */
struct usage_sum {
	char vm_id[VM_ID_LEN + 1];
	char vm_name[VM_NAME_MAX];
	unsigned records;
	int64_t t_first, t_last; /* the first t_start, the last t_end */
	struct usage_counters d;
	uint64_t rss_max;
	double mem_gib_s, uptime_s;
};

/* Append record u and (if m is not NULL) store m as u's VM's mark, in one
 * transaction: either both are stored or neither. */
int db_usage_append(struct db *db, const struct usage_rec *u,
		    const struct meter_mark *m)
	__attribute__((warn_unused_result));

/* The stored mark of VM id; -ENOENT if there is none. */
int db_meter_mark_get(struct db *db, const char *id, struct meter_mark *m)
	__attribute__((warn_unused_result));

/* Forget VM id's mark (its records stay). */
int db_meter_mark_delete(struct db *db, const char *id)
	__attribute__((warn_unused_result));

/* Call fn with each VM's sum over f's range, in the order their records
 * start. Stops at and returns fn's first error. */
int db_usage_sum(struct db *db, const struct usage_filter *f,
		 int (*fn)(void *ctx, const struct usage_sum *s), void *ctx)
	__attribute__((warn_unused_result));

/* Call fn with each record in f's range, oldest first, at most max of
 * them. Stops at and returns fn's first error. */
int db_usage_records(struct db *db, const struct usage_filter *f, unsigned max,
		     int (*fn)(void *ctx, const struct usage_rec *u), void *ctx)
	__attribute__((warn_unused_result));

/* "created", "running", "paused", "stopped". */
const char *vm_state_name(enum vm_state s);

/* The state called name; -EINVAL if none is. */
int vm_state_parse(const char *name, enum vm_state *s)
	__attribute__((warn_unused_result));

#endif
