/* SPDX-License-Identifier: MIT */
/*
 * Metering: a thread in berthd that looks at every running or paused VM
 * each --sample-interval seconds and stores what it used since the last
 * look as a usage record (db.h). CPU time and resident memory come from
 * /proc/PID/stat of the VM's `berth run` process (the host's own
 * accounting), steal and the disk and network counters from its control
 * socket's stats. The sampler keeps, per VM, the process it measured and
 * that process's totals at the last look (a struct meter_mark, stored with
 * each record), so a restarted berthd continues where it left off.
 *
 * A VM's last interval is closed when berthd notices its process has
 * exited: berthd is the child subreaper of the VMs it starts, so it reads
 * the CPU time of the exited (zombie) process before reaping it. Disk and
 * network counters cannot be read from a process that has gone: what
 * changed after the last look is lost (at most one interval).
 */
#ifndef BERTH_DAEMON_METER_H
#define BERTH_DAEMON_METER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/db.h"

#define METER_INTERVAL_DEFAULT 5.0
#define METER_INTERVAL_MIN     0.1
#define METER_INTERVAL_MAX     3600.0
#define METER_CONTROL_MS       1000 /* how long a look waits for stats */

struct registry;
struct vm_rec;
struct meter;

/* What /proc/PID/stat says about a process. */
struct proc_stat {
	char state;	    /* field 3: R, S, Z, ... */
	uint64_t cpu_ns;    /* utime + stime (fields 14, 15), in ns */
	uint64_t start;	    /* field 22, clock ticks after boot */
	uint64_t rss_bytes; /* field 24, pages, in bytes */
};

/* One look at a VM's process. */
struct meter_sample {
	int64_t t_ms;		   /* when (Unix ms) */
	uint64_t rss_bytes;	   /* resident memory then */
	struct usage_counters tot; /* since the process started */
	bool have_dev; /* steal, disks and NICs are in tot (the control
			* socket answered); else only cpu_ns is */
};

/* Parse the text of a /proc/PID/stat (comm may hold spaces and ')').
 * -EINVAL if it is malformed. */
int proc_stat_parse(const char *text, long clk_tck, long page_size,
		    struct proc_stat *ps) __attribute__((warn_unused_result));

/* Read /proc/PID/stat; -ESRCH if there is no such process. A zombie is
 * still read: its CPU time is final. */
int proc_stat_read(int pid, struct proc_stat *ps)
	__attribute__((warn_unused_result));

/* Add the control socket's stats reply (docs/control.md) to s: steal, and
 * disk and NIC counters summed over the devices; sets have_dev. -EINVAL
 * if a field is missing or not a number. */
int meter_stats_parse(struct json_object *stats, struct meter_sample *s)
	__attribute__((warn_unused_result));

/* Start a new mark: process pid (started at pid_start), nothing counted
 * yet, at t_ms (when it started). */
void meter_mark_reset(struct meter_mark *m, int pid, uint64_t pid_start,
		      int64_t t_ms);

/* The usage from mark m to sample s into u (all but its VM's id and name)
 * and move m to s. A counter lower than m's started afresh (a reset): all
 * of it is new. Without have_dev only CPU and memory move. -EAGAIN (and
 * nothing changed) if s is older than m. */
int meter_delta(struct meter_mark *m, const struct meter_sample *s,
		struct usage_rec *u) __attribute__((warn_unused_result));

/* Look at process pid now: /proc (which must show start time pid_start)
 * and, if control is not NULL, its control socket's stats (put into
 * *stats if that is not NULL). -ESRCH if the process is gone; a control
 * socket that does not answer only leaves have_dev false. */
int meter_read(int pid, uint64_t pid_start, const char *control,
	       struct meter_sample *s, struct json_object **stats)
	__attribute__((warn_unused_result));

/* Start sampling r's VMs every interval_s seconds (r->meter points to the
 * sampler from now on). -errno after one error line. */
int meter_start(struct registry *r, double interval_s)
	__attribute__((warn_unused_result));

/* Stop the sampler and free it (r->meter becomes NULL). */
void meter_stop(struct registry *r);

/* The sampling interval in seconds (0: no sampler). */
double meter_interval(const struct registry *r);

/* How many usage records the sampler has stored, and how many it could
 * not store or look for, since berthd started. */
void meter_counts(const struct registry *r, uint64_t *records,
		  uint64_t *errors);

/* ---- the registry's hooks; each does nothing without a sampler -------- */

/* rec's process was just started. Registry lock held. */
void meter_vm_started(struct registry *r, struct vm_rec *rec);

/* rec's process was re-adopted after a berthd restart: continue from the
 * stored mark if it is of this process. Registry lock held. */
void meter_vm_adopted(struct registry *r, struct vm_rec *rec);

/* rec's process has exited (a zombie, if berthd is its parent): store the
 * last interval, up to t_ms. Registry lock held. */
void meter_vm_exited(struct registry *r, struct vm_rec *rec, int64_t t_ms);

/* Look at the VM with this id now (before a stop). Registry lock not
 * held. */
void meter_vm_sample(struct registry *r, const char *id);

/* rec is being deleted: forget its mark (its records stay). Registry lock
 * held. Works without a sampler too. */
void meter_vm_deleted(struct registry *r, struct vm_rec *rec);

#endif
