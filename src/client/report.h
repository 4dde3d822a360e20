/* SPDX-License-Identifier: MIT */
/* `berth usage` (a billing-style report of berthd's usage records) and
 * `berth top` (a live table of each VM's CPU, memory and I/O), both over
 * berthd's socket. */
#ifndef BERTH_CLIENT_REPORT_H
#define BERTH_CLIENT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* berth usage [--since T] [--until T] [--vm ID] [--json] [--socket PATH]
 * (argv[0] is "usage"); returns the exit status as `berth vm` does. */
int cmd_usage(int argc, char **argv);

/* berth top [--interval S] [--once] [--socket PATH]; the exit status. */
int cmd_top(int argc, char **argv);

/* A --since or --until argument as the Unix ms it means: RFC 3339, Unix
 * seconds, or a duration before now ("90m", "2h", "7d"). -EINVAL. */
int report_time_arg(const char *s, int64_t now_ms, int64_t *ms)
	__attribute__((warn_unused_result));

/* Seconds as "H:MM:SS" (hours growing as needed). */
void report_duration(double s, char *buf, size_t len);

/* A byte count (or a rate, with per_s) in binary units: "512 B",
 * "1.5 KiB", "12.0 MiB/s". */
void report_bytes(double bytes, bool per_s, char *buf, size_t len);

/* CPU percent of one host CPU between two readings of a CPU counter
 * (ns) taken wall_ns apart; 0 if the counter went backwards (a restart)
 * or no time passed. */
double report_cpu_percent(uint64_t before_ns, uint64_t after_ns,
			  uint64_t wall_ns);

#endif
