/* SPDX-License-Identifier: MIT */
/* The host side of the serial console: stdin to COM1, raw terminal mode,
 * the Ctrl-A escape, and the signals that stop a VM. */
#ifndef BERTH_CLI_CONSOLE_H
#define BERTH_CLI_CONSOLE_H

#include <stdbool.h>

#include "vm/vm.h"

/* Block SIGINT, SIGTERM and SIGHUP in this thread (and the threads it will
 * start) so only console_run sees them, through a signalfd. */
int console_block_signals(void) __attribute__((warn_unused_result));

/* Run until the VM stops: feed stdin to COM1 if feed_stdin (raw mode when
 * stdin is a terminal, restored before returning), stop the VM on a
 * signal or on Ctrl-A x. */
int console_run(struct vm *vm, bool feed_stdin)
	__attribute__((warn_unused_result));

#endif
