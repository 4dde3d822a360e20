/* SPDX-License-Identifier: MIT */
/* Inside the store: what db.c (VMs, migrations) and db_usage.c (metering)
 * share. */
#ifndef BERTH_DAEMON_DB_INT_H
#define BERTH_DAEMON_DB_INT_H

#include <sqlite3.h>

#include "daemon/db.h"

struct db {
	sqlite3 *h;
};

/* Log what failed with SQLite's message; returns -EIO. */
int db_fail(struct db *db, const char *what);

/* Run sql (no results); -EIO after one error line. */
int db_exec(struct db *db, const char *sql);

#endif
