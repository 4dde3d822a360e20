/* SPDX-License-Identifier: MIT */
/* `berth switch`: its options and the command itself. */
#ifndef BERTH_SWITCH_CLI_H
#define BERTH_SWITCH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "switch/switch.h"

struct switch_cli {
	struct switch_opts opts;
	bool stats; /* --stats: ask the running switch, print, exit */
	bool help;
	int verbose;
};

/* Parse `berth switch` arguments (argv[0] is the command name). On error
 * logs one line naming the option and the value and returns -EINVAL. */
int switch_cli_parse(struct switch_cli *c, int argc, char **argv)
	__attribute__((warn_unused_result));

/* Print the usage text for `berth switch`. */
void switch_cli_usage(FILE *f);

/* Run `berth switch`; returns the exit status: 0, 2 for bad options, a
 * switch already listening or (--stats) none listening, 6 otherwise. */
int cmd_switch(int argc, char **argv);

#endif
