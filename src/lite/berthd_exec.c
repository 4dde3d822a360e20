/* SPDX-License-Identifier: MIT */
/*
 * In the berth binary, the daemon and client commands are berthd's: berth
 * execs the berthd next to it, so that `berth run` does not load
 * libmicrohttpd, SQLite and libcurl (with their dependencies they took a
 * tiny VM from 3 to 10 MiB of RSS and 3 to 10 ms of CPU).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/report.h"
#include "client/vm.h"
#include "daemon/daemon.h"
#include "util/log.h"
#include "vm/vm.h"

#ifndef BERTH_BIN_DIR
#define BERTH_BIN_DIR "/usr/local/bin"
#endif

/* Run `berthd CMD ARGS...` in place of this process; argv[0] is the
 * command as berth's main() passed it, argv[1..] its arguments. */
static int exec_berthd(const char *cmd, int argc, char **argv)
{
	char exe[PATH_MAX], path[PATH_MAX + 8];
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (!args)
		return BERTH_EXIT_HOST;
	if (n > 0) {
		exe[n] = '\0';
		snprintf(path, sizeof(path), "%s/berthd", dirname(exe));
	}
	if (n <= 0 || access(path, X_OK))
		snprintf(path, sizeof(path), "%s/berthd", BERTH_BIN_DIR);
	args[0] = "berthd";
	args[1] = (char *)cmd;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execv(path, args);
	pr_err("berth %s: cannot run %s: %s (is berthd built or installed?)",
	       cmd, path, strerror(errno));
	free(args);
	return BERTH_EXIT_HOST;
}

int cmd_daemon(int argc, char **argv)
{
	return exec_berthd("daemon", argc, argv);
}

int cmd_vm(int argc, char **argv)
{
	return exec_berthd("vm", argc, argv);
}

int cmd_usage(int argc, char **argv)
{
	return exec_berthd("usage", argc, argv);
}

int cmd_top(int argc, char **argv)
{
	return exec_berthd("top", argc, argv);
}
