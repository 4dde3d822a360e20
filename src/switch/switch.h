/* SPDX-License-Identifier: MIT */
/*
 * berth switch: a learning L2 Ethernet switch in its own process. VMs attach
 * over a Unix SOCK_SEQPACKET socket, one raw Ethernet frame per message; an
 * optional tap device is one more port. One thread, one epoll loop, every
 * socket non-blocking, a bounded output queue per port: a slow port loses
 * its own frames and never holds up the others. See docs/switch.md.
 */
#ifndef BERTH_SWITCH_SWITCH_H
#define BERTH_SWITCH_SWITCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SWITCH_FRAME_MIN     14	   /* destination, source, EtherType */
#define SWITCH_FRAME_MAX     65536 /* longer messages are malformed */
#define SWITCH_MAX_PORTS     64
#define SWITCH_DEFAULT_AGE   300 /* seconds */
#define SWITCH_MAX_AGE	     86400
#define SWITCH_DEFAULT_QUEUE 256 /* frames per port */
#define SWITCH_MAX_QUEUE     4096
/* A port's queue also holds at most this many bytes per frame slot on
 * average (never less than one maximum-size frame), which bounds memory. */
#define SWITCH_QUEUE_BYTES_PER_FRAME 4096
#define SWITCH_CTL_SUFFIX	     ".ctl"

struct switch_opts {
	const char *socket_path; /* must outlive the switch */
	const char *uplink_tap;	 /* tap interface name, or NULL */
	unsigned age_s;		 /* 0: SWITCH_DEFAULT_AGE */
	unsigned queue;		 /* frames; 0: SWITCH_DEFAULT_QUEUE */
	/* SIGINT and SIGTERM stop switch_run(): they are blocked in the
	 * calling thread and read from a signalfd. Off for tests. */
	bool signals;
};

/* One port's counters. rx counts every message read, dropped or not. */
struct switch_port_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t tx_frames, tx_bytes;
	uint64_t drop_malformed;  /* < 14 bytes or truncated (too long) */
	uint64_t drop_spoofed;	  /* source MAC live on another port */
	uint64_t drop_bad_source; /* group or all-zero source MAC */
	uint64_t drop_txq_full;	  /* output queue full: frame not sent */
	uint64_t drop_tx_error;	  /* the port refused a frame (tap down) */
};

struct eth_switch;

/* Open the uplink, bind the socket and its control socket PATH.ctl
 * (replacing stale ones) and prepare the loop. Logs one line on error:
 * -EADDRINUSE if a switch already listens there, -EEXIST if PATH is not a
 * socket, -ENAMETOOLONG, or what the system call failed with. */
int switch_create(struct eth_switch **out, const struct switch_opts *o)
	__attribute__((warn_unused_result));

/* Forward frames until switch_stop() or a signal; 0, or -errno if the
 * loop itself failed. May run in any one thread. */
int switch_run(struct eth_switch *sw) __attribute__((warn_unused_result));

/* Make switch_run() return soon; safe from any thread or signal handler. */
void switch_stop(struct eth_switch *sw);

/* Close every port and socket and unlink the sockets it bound. */
void switch_destroy(struct eth_switch *sw);

/* Counters and learned-MAC count of port id, only while switch_run() is
 * not running; -ENOENT if no port has that id. */
int switch_port_stats(const struct eth_switch *sw, unsigned id,
		      struct switch_port_stats *st, unsigned *macs)
	__attribute__((warn_unused_result));

/* Ask the switch listening at socket_path for its stats table (through
 * PATH.ctl) and copy it to out. -ECONNREFUSED if no switch listens there,
 * -ETIMEDOUT if it does not answer within 5 s, -EBUSY if it is serving too
 * many control clients. */
int switch_stats_fetch(const char *socket_path, FILE *out)
	__attribute__((warn_unused_result));

#endif
