/* SPDX-License-Identifier: MIT */
/* The switch's state, shared by its loop (switch.c), its ports (port.c) and
 * its control channel (ctl.c); not for use outside src/switch. */
#ifndef BERTH_SWITCH_SWITCH_INT_H
#define BERTH_SWITCH_SWITCH_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "switch/fdb.h"
#include "switch/switch.h"
#include "switch/txq.h"
#include "util/log.h"

#define SWITCH_MAX_CTL	   4  /* control connections open at once */
#define SWITCH_CTL_REQ	   64 /* longest request line */
#define SWITCH_RX_BUDGET   64 /* frames read from one port per wakeup */
#define SWITCH_RX_BATCH	   16 /* frames per recvmmsg */
#define SWITCH_RX_SLOT	   (SWITCH_FRAME_MAX + 1)
#define SWITCH_CTL_TIMEOUT 5000 /* ms a control client may take */

/* What an epoll event is about: the kind in the high half of data.u64,
 * a port or control connection index in the low half. */
enum switch_tag {
	TAG_LISTEN = 1,
	TAG_CTL_LISTEN,
	TAG_STOP,
	TAG_SIGNAL,
	TAG_PORT,
	TAG_CTL,
};

#define SWITCH_TAG(kind, idx) ((uint64_t)(kind) << 32 | (uint32_t)(idx))

struct switch_port {
	int fd; /* -1: the id is free */
	bool tap;
	bool dead;     /* close at the end of this loop iteration */
	bool want_out; /* EPOLLOUT armed: the queue is not empty */
	pid_t pid;     /* SO_PEERCRED at connect; 0 for the tap */
	int close_err; /* why it died: 0 for EOF, else an errno */
	struct txq txq;
	struct switch_port_stats st;
};

struct switch_ctl {
	int fd;		    /* -1: free */
	uint64_t opened_ms; /* closed if still open SWITCH_CTL_TIMEOUT later */
	size_t req_len;
	char req[SWITCH_CTL_REQ];
	char *reply; /* malloc'd; sent from reply_off, then closed */
	size_t reply_len, reply_off;
};

struct eth_switch {
	struct switch_opts opts;
	char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int epoll_fd, listen_fd, ctl_fd, stop_fd, signal_fd;
	ino_t listen_ino, ctl_ino; /* unlink only what is still ours */
	bool stopping;
	bool mask_saved;
	sigset_t old_mask;
	unsigned first_vm_port; /* 1 with an uplink (port 0), else 0 */
	uint64_t now_ms, swept_ms;
	uint64_t refused_ports; /* connections beyond SWITCH_MAX_PORTS */
	struct ratelimit rl;
	uint8_t *rx; /* SWITCH_RX_BATCH slots of SWITCH_RX_SLOT bytes */
	struct switch_port port[SWITCH_MAX_PORTS];
	struct switch_ctl ctl[SWITCH_MAX_CTL];
	struct fdb fdb;
};

/* switch.c: add, change or remove fd in the epoll set. */
int switch_epoll(struct eth_switch *sw, int op, int fd, uint32_t events,
		 uint64_t tag) __attribute__((warn_unused_result));

/* port.c: make fd (a connected socket, or the tap) port id. Takes fd,
 * closing it on error. */
int switch_port_open(struct eth_switch *sw, unsigned id, int fd, bool tap,
		     pid_t pid) __attribute__((warn_unused_result));

/* port.c: accept every pending connection on the listening socket. */
void switch_port_accept(struct eth_switch *sw);

/* port.c: read, forward and drain for port id after epoll reported. */
void switch_port_event(struct eth_switch *sw, unsigned id, uint32_t events);

/* port.c: close the ports marked dead and forget their MACs. */
void switch_port_reap(struct eth_switch *sw);

/* port.c: close port id now (teardown), without logging. */
void switch_port_close(struct eth_switch *sw, unsigned id);

/* ctl.c: accept pending control connections. */
void switch_ctl_accept(struct eth_switch *sw);

/* ctl.c: read a request or send the reply on control connection idx. */
void switch_ctl_event(struct eth_switch *sw, unsigned idx, uint32_t events);

/* ctl.c: close the control connections open too long (clients that send
 * no request or read no reply would hold a slot forever). */
void switch_ctl_expire(struct eth_switch *sw);

/* ctl.c: close control connection idx. */
void switch_ctl_close(struct eth_switch *sw, unsigned idx);

#endif
