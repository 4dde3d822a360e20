/* SPDX-License-Identifier: MIT */
/* `berth run` options, parsed once into one validated struct. */
#ifndef BERTH_CLI_CONFIG_H
#define BERTH_CLI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "virtio/blk.h"
#include "virtio/net.h"

#define RUN_MAX_DISKS 8

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

/* Which guest device stdin and stdout are the console of (--console). */
enum console_mode { CONSOLE_SERIAL, CONSOLE_VIRTIO };

struct run_config {
	const char *kernel; /* NULL: the default demo guest */
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	uint64_t mem;
#define RUN_MAX_DISKS 8
	/* CPU sharing (docs in run_config_usage); 0 or NULL: not given. */
	unsigned cpu_weight;	/* --cpu-weight, 1..10000 */
	unsigned cpu_cap_milli; /* --cpu-cap, in thousandths of a CPU */
	const char *cgroup;	/* --cgroup NAME, relative to the root */
#define RUN_MAX_CPU_PIN 64
	unsigned nr_cpu_pin; /* --cpu-pin: vCPU i runs on cpu_pin[i % n] */
	unsigned cpu_pin[RUN_MAX_CPU_PIN];

	enum serial_mode serial;
	const char *serial_path;
	enum console_mode console;
	bool guest_decompress;
	bool rng; /* a virtio-rng device */
	unsigned nr_disks;
	struct virtio_blk_options disks[RUN_MAX_DISKS]; /* --disk, in order */
#define RUN_MAX_NICS 8
	unsigned nr_nics;
	struct virtio_net_options nics[RUN_MAX_NICS]; /* --net, in order */
	const char *control;	 /* --control PATH: the control socket */
	const char *status_file; /* --status-file PATH: exit status, reason */
	int verbose;
	bool help;
};

#define RUN_MAX_DISKS	8
#define RUN_DEFAULT_MEM (256ULL << 20)
#define RUN_MIN_MEM	(2ULL << 20)
#define RUN_MAX_MEM	(1ULL << 40)

/* Parse a size: a number with an optional K, M, G or T suffix (binary
 * units; no suffix means MiB, as in QEMU's -m). -EINVAL if malformed or
 * out of uint64_t range. */
int parse_size(const char *s, uint64_t *out)
	__attribute__((warn_unused_result));

/* Parse `berth run` arguments (argv[0] is "run"). On error logs one line
 * naming the option and the value and returns -EINVAL. */
int run_config_parse(struct run_config *c, int argc, char **argv)
	__attribute__((warn_unused_result));

/* Print the usage text for `berth run`. */
void run_config_usage(FILE *f);

#endif
