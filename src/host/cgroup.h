/* SPDX-License-Identifier: MIT */
/*
 * A CPU cgroup for one VM: find the cpu controller (cgroup v2 where it is
 * available, else v1), make the VM's cgroup, give it a weight and a cap,
 * move the berth process into it and, at exit, back out and remove it.
 *
 * The whole process goes in, not the vCPU threads alone: the weight and the
 * cap are the VM's share of the host, and device emulation done for the
 * guest (virtio I/O threads, io_uring workers) is part of what it costs.
 * v1 and v2 then work alike (v2 places threads apart only in a threaded
 * subtree), and joining before the vCPU threads exist leaves no moment in
 * which guest code runs outside the cgroup.
 */
#ifndef BERTH_HOST_CGROUP_H
#define BERTH_HOST_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define CGROUP_FSROOT	     "/sys/fs/cgroup"
#define CGROUP_SELF	     "/proc/self/cgroup"
#define CGROUP_WEIGHT_MIN    1
#define CGROUP_WEIGHT_MAX    10000
#define CGROUP_PERIOD_US     100000
#define CGROUP_CAP_MIN_MILLI 10 /* 1 ms per 100 ms: v1's smallest quota */
#define CGROUP_NAME_MAX	     200

enum cgroup_version { CGROUP_V1 = 1, CGROUP_V2 = 2 };

struct cgroup {
	enum cgroup_version version;
	char root[PATH_MAX]; /* mount point of the hierarchy with cpu */
	char dir[PATH_MAX];  /* root/NAME: the VM's cgroup */
	char home[PATH_MAX]; /* the cgroup the process was in before */
	const char *self;    /* /proc/self/cgroup; tests point it elsewhere */
	bool created;	     /* cgroup_open made dir: cgroup_leave removes it */
	bool entered;	     /* the process is in dir */
};

/* Find the cpu controller under fsroot (normally CGROUP_FSROOT): cgroup v2
 * at fsroot or fsroot/unified with "cpu" in cgroup.controllers, else a v1
 * hierarchy at fsroot/cpu or fsroot/cpu,cpuacct with cpu.shares. Logs and
 * returns -ENODEV if there is neither. */
int cgroup_detect(struct cgroup *cg, const char *fsroot)
	__attribute__((warn_unused_result));

/* True if name is a cgroup path relative to the hierarchy's root:
 * components of letters, digits, '.', '_' and '-' joined by '/', none of
 * them "." or "..", at most CGROUP_NAME_MAX characters. */
bool cgroup_name_valid(const char *name);

/* v1 cpu.shares for a weight: weight * 1024 / 100 (weight 100 is v1's
 * default 1024), at least 2. */
unsigned cgroup_v1_shares(unsigned weight);

/* Make root/name and any missing parents; on v2 enable +cpu in the
 * subtree_control of each parent. An existing cgroup is used as it is
 * (and not removed by cgroup_leave). Logs and returns -errno: -EACCES
 * needs root or a delegated subtree. */
int cgroup_open(struct cgroup *cg, const char *name)
	__attribute__((warn_unused_result));

/* Set the weight (1..10000; 0 leaves it) and the cap in thousandths of a
 * CPU (quota per CGROUP_PERIOD_US; 0 leaves it). Logs and returns -errno. */
int cgroup_set_cpu(struct cgroup *cg, unsigned weight, unsigned cap_milli)
	__attribute__((warn_unused_result));

/* The cgroup path of the cpu hierarchy in the text of /proc/PID/cgroup
 * ("0::/x" on v2; a line whose controllers include cpu on v1) into out.
 * -ENOENT if there is none, -ENAMETOOLONG if it does not fit. */
int cgroup_parse_self(enum cgroup_version v, const char *text, char *out,
		      size_t size) __attribute__((warn_unused_result));

/* Move process pid (all its threads) into the cgroup, remembering the one
 * it was in (from cg->self). Logs and returns -errno. */
int cgroup_enter(struct cgroup *cg, pid_t pid)
	__attribute__((warn_unused_result));

/* Move process pid back where it was and remove the cgroup if cgroup_open
 * made it; logs what fails (a cgroup another process still uses stays). */
void cgroup_leave(struct cgroup *cg, pid_t pid);

/* For berth run: detect, open name (NULL: "berth/vm-<pid>"), set weight
 * and cap, enter; undoes its own steps on failure. Logs and returns
 * -errno. */
int cgroup_join(struct cgroup *cg, const char *fsroot, const char *name,
		unsigned weight, unsigned cap_milli)
	__attribute__((warn_unused_result));

#endif
