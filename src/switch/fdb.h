/* SPDX-License-Identifier: MIT */
/*
 * The switch's forwarding database: which port each source MAC was last seen
 * on. Pure data, no I/O: the caller passes the time, so tests inject a clock.
 * A fixed open-addressing table (linear probing, backward-shift deletion)
 * holds at most FDB_MAX_ENTRIES entries in twice as many slots, so a probe
 * never walks more than FDB_MAX_ENTRIES slots and memory is fixed.
 */
#ifndef BERTH_SWITCH_FDB_H
#define BERTH_SWITCH_FDB_H

#include <stdbool.h>
#include <stdint.h>

#define ETH_ALEN_BYTES	6
#define FDB_MAX_ENTRIES 4096
#define FDB_SLOTS	(2 * FDB_MAX_ENTRIES) /* a power of two */

/* Where fdb_decide() sends a frame, when it is not one port. */
#define FDB_FLOOD  (-1) /* every port but the ingress port */
#define FDB_FILTER (-2) /* nowhere: the destination is on the ingress port */

struct fdb_entry {
	uint8_t mac[ETH_ALEN_BYTES];
	uint16_t port;
	bool used;
	uint64_t seen_ms; /* last frame from this MAC, caller's clock */
};

struct fdb {
	struct fdb_entry slot[FDB_SLOTS];
	unsigned count;
	unsigned max_entries; /* <= FDB_MAX_ENTRIES */
	uint64_t age_ms;      /* an entry unseen this long is gone */
	uint64_t seed;	      /* hash key: guests cannot aim at one chain */
	uint64_t swept_ms;    /* last sweep forced by a full table */
	uint64_t refused_full;
};

/* What fdb_learn() did with a source MAC. */
enum fdb_learn_result {
	FDB_LEARNED,	/* new entry, or an expired one taken over */
	FDB_REFRESHED,	/* already on this port: timestamp updated */
	FDB_SPOOFED,	/* live on another port: refused, entry unchanged */
	FDB_BAD_SOURCE, /* group or all-zero address: refused */
	FDB_FULL,	/* no room even after ageing: not learned (counted) */
};

/* True for a group (multicast or broadcast) address: I/G bit set. */
static inline bool mac_is_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

/* True for 00:00:00:00:00:00. */
bool mac_is_zero(const uint8_t *mac);

/* Empty table; max_entries is clamped to 1..FDB_MAX_ENTRIES. */
void fdb_init(struct fdb *f, uint64_t age_ms, unsigned max_entries,
	      uint64_t seed);

/* Record that mac was seen on port at now_ms. */
enum fdb_learn_result fdb_learn(struct fdb *f, const uint8_t *mac,
				unsigned port, uint64_t now_ms);

/* The port a live entry for mac points to, or -ENOENT. */
int fdb_lookup(const struct fdb *f, const uint8_t *mac, uint64_t now_ms);

/* Where a frame to dst that came in on ingress goes: a port number,
 * FDB_FLOOD (group or unknown destination) or FDB_FILTER. */
int fdb_decide(const struct fdb *f, const uint8_t *dst, unsigned ingress,
	       uint64_t now_ms);

/* Remove every entry pointing to port (it disconnected); how many. */
unsigned fdb_remove_port(struct fdb *f, unsigned port);

/* Remove every expired entry; how many. */
unsigned fdb_age(struct fdb *f, uint64_t now_ms);

/* Live entries on port (for the stats). */
unsigned fdb_count_port(const struct fdb *f, unsigned port, uint64_t now_ms);

#endif
