/* SPDX-License-Identifier: MIT */
/*
 * berthd (`berth daemon`): keeps VM definitions and state in DIR/berth.db,
 * runs each VM as its own detached `berth run`, and serves the HTTP API
 * (docs/api.md) on a Unix socket. Stopping berthd leaves the VMs running;
 * the next berthd on the same state directory re-adopts them.
 */
#ifndef BERTH_DAEMON_DAEMON_H
#define BERTH_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BERTHD_DEFAULT_SOCKET	 "/run/berth/berthd.sock"
#define BERTHD_DEFAULT_STATE_DIR "/var/lib/berth"

struct daemon_config {
	const char *state_dir;
	const char *socket;
	const char *log;	 /* NULL: stderr */
	uint64_t max_memory_mib; /* 0: the host's MemTotal */
	double sample_interval;	 /* seconds between usage samples */
	int verbose;
	bool help;
};

/* Parse `berth daemon` arguments (argv[0] is the command's name). On error
 * logs one line naming the option and returns -EINVAL. */
int daemon_config_parse(struct daemon_config *c, int argc, char **argv)
	__attribute__((warn_unused_result));

/* Print the usage text for `berth daemon`. */
void daemon_usage(FILE *f);

/* Run berthd until SIGINT or SIGTERM; returns the exit status (0, 2 for
 * bad options, 6 when it cannot start). */
int cmd_daemon(int argc, char **argv);

#endif
