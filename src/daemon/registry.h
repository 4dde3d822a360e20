/* SPDX-License-Identifier: MIT */
/*
 * The registry: every VM berthd knows, its definition, its state and its
 * process, kept in memory and written through to the database on every
 * change. The API's request threads and the daemon's main loop share it.
 *
 * Errors: each operation returns 0 or a negative errno and, on error, sets
 * *err (message and field). -ENOENT no such VM, -EINVAL a bad request,
 * -EEXIST, -EBUSY and -ENOSPC a conflict with the VM's state or another
 * VM, anything else a failure of berthd or the host.
 */
#ifndef BERTH_DAEMON_REGISTRY_H
#define BERTH_DAEMON_REGISTRY_H

#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/db.h"
#include "daemon/vmdef.h"

#define BERTHD_VERSION	     "0.1.0"
#define REG_MAX_VMS	     1024
#define REG_STOP_TIMEOUT_S   10	  /* default graceful-stop timeout */
#define REG_STOP_TIMEOUT_MAX 3600 /* longest a stop request may ask for */
#define REG_CONSOLE_TAIL     (64 << 10)
#define REG_CONSOLE_MAX	     (16 << 20)

struct vm_rec;
struct meter;

struct registry {
	pthread_mutex_t lock;	/* everything below, every record, the db */
	pthread_cond_t changed; /* a VM stopped (CLOCK_MONOTONIC) */
	struct db *db;
	struct vm_rec **vms; /* in creation order */
	unsigned nr, cap;
	char state_dir[PATH_MAX];
	char exe[PATH_MAX];	    /* the berth binary VMs run */
	struct vmdef_limits limits; /* for new definitions */
	int wake_fd; /* eventfd: a pidfd was added; the main loop re-polls */
	int64_t started_at;  /* when berthd started (Unix ms) */
	struct meter *meter; /* the sampler (meter.h); NULL: no metering */
	unsigned spawning;   /* VMs between fork and a watched pidfd */
};

/* Set up r on an open db and load every VM in it; exe is what VMs run
 * (berth itself). -errno after one error line. */
int registry_init(struct registry *r, struct db *db, const char *state_dir,
		  const char *exe, const struct vmdef_limits *lim)
	__attribute__((warn_unused_result));

/* Forget every VM (their processes keep running) and close the fds. */
void registry_fini(struct registry *r);

/* At start-up: re-adopt each VM the db says runs if its process (same pid,
 * same start time) is alive and its control socket answers; mark the rest
 * stopped with the reason. Then start the VMs marked autostart. */
void registry_recover(struct registry *r);

/* POST /v1/vms: validate the JSON body, store the VM; *vm its object. */
int reg_create(struct registry *r, const char *body, size_t len,
	       struct json_object **vm, struct field_error *err)
	__attribute__((warn_unused_result));

/* Every VM as an array of VM objects. */
struct json_object *reg_list(struct registry *r);

/* The VM whose id or name is key, as an object. */
int reg_inspect(struct registry *r, const char *key, struct json_object **vm,
		struct field_error *err) __attribute__((warn_unused_result));

/* Remove the VM and its files; a running one only with force (it is then
 * stopped at once). id gets the deleted VM's id. */
int reg_delete(struct registry *r, const char *key, bool force,
	       char id[VM_ID_LEN + 1], struct field_error *err)
	__attribute__((warn_unused_result));

/* Start a created or stopped VM; returns once its control socket answers
 * (or the guest has already run to its end). */
int reg_start(struct registry *r, const char *key, struct json_object **vm,
	      struct field_error *err) __attribute__((warn_unused_result));

/* Stop a running or paused VM: Ctrl-Alt-Del, up to timeout_s for the guest
 * to finish, then quit, then SIGKILL. force skips the guest's part. */
int reg_stop(struct registry *r, const char *key, unsigned timeout_s,
	     bool force, struct json_object **vm, struct field_error *err)
	__attribute__((warn_unused_result));

/* Pause (pause true) a running VM or resume a paused one. */
int reg_pause(struct registry *r, const char *key, bool pause,
	      struct json_object **vm, struct field_error *err)
	__attribute__((warn_unused_result));

/* The live counters of a running or paused VM (its control socket's stats
 * reply, without "ok"). */
int reg_stats(struct registry *r, const char *key, struct json_object **out,
	      struct field_error *err) __attribute__((warn_unused_result));

/* The last tail bytes of the VM's console log into *text (malloc'd). */
int reg_console(struct registry *r, const char *key, uint64_t tail, char **text,
		size_t *len, struct field_error *err)
	__attribute__((warn_unused_result));

/* GET /v1/health: counts and versions. */
struct json_object *reg_health(struct registry *r);

/* The pidfds of the VMs being watched, for the main loop's poll. Returns
 * how many it put in p (at most max). */
unsigned reg_poll_fds(struct registry *r, struct pollfd *p, unsigned max);

/* Take note of every watched VM whose process has exited. */
void reg_reap_all(struct registry *r);

/* Reap berthd's exited children that are not VM processes: as the VMs'
 * subreaper it inherits what they leave behind (berth's teardown helper).
 * Does nothing while a VM is being spawned. */
void reg_reap_strays(struct registry *r);

#endif
