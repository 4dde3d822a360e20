/* SPDX-License-Identifier: MIT */
/*
 * berth run's control socket (--control PATH): what berthd, or any local
 * program, uses to drive one running VM. A Unix stream socket; each request
 * is one line of JSON, {"cmd": "..."}, and each reply one line of JSON,
 * {"ok": true, ...} or {"ok": false, "error": "..."}. See docs/control.md.
 */
#ifndef BERTH_CLI_CONTROL_H
#define BERTH_CLI_CONTROL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "vm/vm.h"

#define CONTROL_MAX_CLIENTS 8
#define CONTROL_MAX_LINE    4096

/* What the control socket reports on and acts on. */
struct control_target {
	struct vm *vm;
	struct virtio_dev *disks[8];
	unsigned nr_disks;
	struct virtio_dev *nics[8];
	unsigned nr_nics;
	const char *kernel;
	uint64_t mem;
	unsigned cpus;
};

struct control_client {
	int fd;
	size_t len;
	char buf[CONTROL_MAX_LINE];
};

struct control {
	int listen_fd, stop_fd;
	char path[108];
	pthread_t thread;
	bool started;
	struct timespec start; /* CLOCK_MONOTONIC at control_start */
	struct control_target t;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

/* Bind path (a stale socket there is replaced, anything else refused) and
 * serve it on a thread of its own. -errno after one error line. */
int control_start(struct control *c, const char *path,
		  const struct control_target *t)
	__attribute__((warn_unused_result));

/* Stop serving, close every connection, unlink the socket. */
void control_stop(struct control *c);

/* Answer one request line (without its newline) into reply (a JSON object
 * on one line, NUL-terminated, at most len bytes). For the unit tests; the
 * server thread calls it. */
void control_handle(struct control *c, const char *line, char *reply,
		    size_t len);

#endif
