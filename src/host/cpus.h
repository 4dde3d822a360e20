/* SPDX-License-Identifier: MIT */
/* Host CPUs: CPU lists as the kernel writes them, and which CPUs are online. */
#ifndef BERTH_HOST_CPUS_H
#define BERTH_HOST_CPUS_H

#include <sched.h>

#define HOST_CPUS_ONLINE "/sys/devices/system/cpu/online"

/* Parse a CPU list ("0-3,8,10-11") into out[] in the order written (a range
 * expands upward); at most max entries, each below CPU_SETSIZE. Returns the
 * number of entries, or -EINVAL if s is empty, malformed or too long. */
int cpu_list_parse(const char *s, unsigned *out, unsigned max)
	__attribute__((warn_unused_result));

/* The CPUs listed in the file at path (normally HOST_CPUS_ONLINE); logs and
 * returns -errno if it cannot be read or parsed. */
int host_cpus_online(const char *path, cpu_set_t *set)
	__attribute__((warn_unused_result));

#endif
