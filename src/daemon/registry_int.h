/* SPDX-License-Identifier: MIT */
/*
 * Inside the registry: what registry.c (records, storage) and lifecycle.c
 * (processes) share.
 *
 * Locking: r->lock guards the VM list, every field of every record and the
 * database. An operation that must wait (for a VM to start or stop, for a
 * control socket to answer) sets rec->busy under the lock and then drops
 * it; a busy record is never freed, and other operations on it answer
 * "busy" (409) instead of waiting. Only the thread that set busy clears it.
 */
#ifndef BERTH_DAEMON_REGISTRY_INT_H
#define BERTH_DAEMON_REGISTRY_INT_H

#include "daemon/registry.h"
#include "daemon/vmproc.h"

struct vm_rec {
	struct vm_row row;
	struct vmdef def;
	struct vm_paths paths;
	int pidfd; /* -1: no process watched */
	bool busy;
	bool metered;		 /* meter holds the process being run */
	struct meter_mark meter; /* where the sampler left it (meter.h) */
	char stop_note[160];	 /* why berthd ended the process, if it did */
};

/* Set *err to a printf-style message about the request as a whole and
 * return code (a negative errno). */
int reg_error(struct field_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Now, in Unix milliseconds. */
int64_t now_ms(void);

/* The record with this id or name, or NULL. Call with the lock held. */
struct vm_rec *reg_find(struct registry *r, const char *key);

/* reg_find, or -ENOENT with *err set; then, unless busy is allowed, -EBUSY
 * if another request is working on it. Call with the lock held. */
int reg_find_idle(struct registry *r, const char *key, struct vm_rec **rec,
		  struct field_error *err) __attribute__((warn_unused_result));

/* Write rec's state to the database; logs on failure (the VM's state in
 * memory stays right; the next write catches up). Lock held. */
void reg_persist(struct registry *r, struct vm_rec *rec);

/* Replace the stop reason (NULL: none). Lock held. */
void rec_set_reason(struct vm_rec *rec, const char *reason);

/* rec as the API's VM object. Lock held. */
struct json_object *rec_to_json(const struct vm_rec *rec);

/* If rec's process has exited: close its pidfd, read its status file, mark
 * it stopped, persist, log, wake waiters. Lock held. */
void rec_reap(struct registry *r, struct vm_rec *rec);

/* Release rec->busy and, if vm is not NULL, fill it. Takes the lock. */
void rec_release(struct registry *r, struct vm_rec *rec,
		 struct json_object **vm);

#endif
