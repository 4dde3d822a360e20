/* SPDX-License-Identifier: MIT */
/* The host side of the console: stdin to COM1 or to a virtio-console, raw
 * terminal mode, the Ctrl-A escape, and the signals that stop a VM. */
#ifndef BERTH_CLI_CONSOLE_H
#define BERTH_CLI_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"
#include "vm/vm.h"

/* Block SIGINT, SIGTERM, SIGHUP and SIGWINCH in this thread (and the
 * threads it will start) so only console_run sees them, through a
 * signalfd. */
int console_block_signals(void) __attribute__((warn_unused_result));

/* The size of the terminal on stdin; false if stdin is not a terminal. */
bool console_term_size(uint16_t *cols, uint16_t *rows);

/* Run until the VM stops: feed stdin to COM1, or to the virtio-console
 * vcons if not NULL, when feed_stdin (raw mode when stdin is a terminal,
 * restored before returning); pass terminal resizes to vcons; stop the VM
 * on a signal or on Ctrl-A x. */
int console_run(struct vm *vm, bool feed_stdin, struct virtio_dev *vcons)
	__attribute__((warn_unused_result));

#endif
