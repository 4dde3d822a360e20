/* SPDX-License-Identifier: MIT */
#include "switch/fdb.h"

#include <errno.h>
#include <string.h>

#define FDB_MASK (FDB_SLOTS - 1)

bool mac_is_zero(const uint8_t *mac)
{
	static const uint8_t zero[ETH_ALEN_BYTES];

	return !memcmp(mac, zero, ETH_ALEN_BYTES);
}

void fdb_init(struct fdb *f, uint64_t age_ms, unsigned max_entries,
	      uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	f->age_ms = age_ms;
	f->seed = seed;
	f->swept_ms = UINT64_MAX;
	if (max_entries < 1 || max_entries > FDB_MAX_ENTRIES)
		max_entries = FDB_MAX_ENTRIES;
	f->max_entries = max_entries;
}

/* A keyed mix of the 48 address bits (splitmix64's finaliser). */
static unsigned fdb_home(const struct fdb *f, const uint8_t *mac)
{
	uint64_t x = 0;

	memcpy(&x, mac, ETH_ALEN_BYTES);
	x ^= f->seed;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (unsigned)(x ^ (x >> 31)) & FDB_MASK;
}

/* A clock that steps back (an injected one) never expires an entry. */
static bool fdb_expired(const struct fdb *f, const struct fdb_entry *e,
			uint64_t now_ms)
{
	return now_ms > e->seen_ms && now_ms - e->seen_ms >= f->age_ms;
}

/* The slot holding mac, or the free slot where it would go. */
static struct fdb_entry *fdb_find(const struct fdb *f, const uint8_t *mac)
{
	unsigned i = fdb_home(f, mac);

	/* Terminates: at most FDB_MAX_ENTRIES of FDB_SLOTS slots are used. */
	while (f->slot[i].used && memcmp(f->slot[i].mac, mac, ETH_ALEN_BYTES))
		i = (i + 1) & FDB_MASK;
	return (struct fdb_entry *)&f->slot[i];
}

/* Empty slot i and shift back the entries after it that probed past it,
 * so lookups need no tombstones. */
static void fdb_delete_slot(struct fdb *f, unsigned i)
{
	unsigned j = i, home;

	f->slot[i].used = false;
	f->count--;
	for (;;) {
		j = (j + 1) & FDB_MASK;
		if (!f->slot[j].used)
			return;
		home = fdb_home(f, f->slot[j].mac);
		/* Slot j may move to the hole unless its home lies cyclically
		 * in (i, j]. */
		if (((j - home) & FDB_MASK) < ((j - i) & FDB_MASK))
			continue;
		f->slot[i] = f->slot[j];
		f->slot[j].used = false;
		i = j;
	}
}

enum fdb_learn_result fdb_learn(struct fdb *f, const uint8_t *mac,
				unsigned port, uint64_t now_ms)
{
	struct fdb_entry *e;

	if (mac_is_group(mac) || mac_is_zero(mac))
		return FDB_BAD_SOURCE;
	e = fdb_find(f, mac);
	if (e->used) {
		if (e->port != port && !fdb_expired(f, e, now_ms))
			return FDB_SPOOFED;
		if (e->port == port && !fdb_expired(f, e, now_ms)) {
			e->seen_ms = now_ms;
			return FDB_REFRESHED;
		}
		e->port = port;
		e->seen_ms = now_ms;
		return FDB_LEARNED;
	}
	/* Full: sweep once per clock tick at most, so a guest spraying new
	 * source addresses cannot make every frame walk the whole table. */
	if (f->count >= f->max_entries && now_ms != f->swept_ms) {
		f->swept_ms = now_ms;
		if (fdb_age(f, now_ms))
			e = fdb_find(f, mac); /* ageing moved entries around */
	}
	if (f->count >= f->max_entries) {
		f->refused_full++;
		return FDB_FULL;
	}
	memcpy(e->mac, mac, ETH_ALEN_BYTES);
	e->port = port;
	e->seen_ms = now_ms;
	e->used = true;
	f->count++;
	return FDB_LEARNED;
}

int fdb_lookup(const struct fdb *f, const uint8_t *mac, uint64_t now_ms)
{
	const struct fdb_entry *e = fdb_find(f, mac);

	if (!e->used || fdb_expired(f, e, now_ms))
		return -ENOENT;
	return e->port;
}

int fdb_decide(const struct fdb *f, const uint8_t *dst, unsigned ingress,
	       uint64_t now_ms)
{
	int port;

	if (mac_is_group(dst))
		return FDB_FLOOD;
	port = fdb_lookup(f, dst, now_ms);
	if (port < 0)
		return FDB_FLOOD;
	return (unsigned)port == ingress ? FDB_FILTER : port;
}

/* Delete every entry for which drop() holds. A deletion may shift a later
 * entry into slot i, so slot i is looked at again before moving on. */
static unsigned fdb_delete_if(struct fdb *f,
			      bool (*drop)(const struct fdb *,
					   const struct fdb_entry *, uint64_t),
			      uint64_t arg)
{
	unsigned i = 0, removed = 0;

	while (i < FDB_SLOTS) {
		if (f->slot[i].used && drop(f, &f->slot[i], arg)) {
			fdb_delete_slot(f, i);
			removed++;
			continue;
		}
		i++;
	}
	return removed;
}

static bool fdb_on_port(const struct fdb *f, const struct fdb_entry *e,
			uint64_t port)
{
	(void)f;
	return e->port == port;
}

unsigned fdb_remove_port(struct fdb *f, unsigned port)
{
	return fdb_delete_if(f, fdb_on_port, port);
}

unsigned fdb_age(struct fdb *f, uint64_t now_ms)
{
	return fdb_delete_if(f, fdb_expired, now_ms);
}

unsigned fdb_count_port(const struct fdb *f, unsigned port, uint64_t now_ms)
{
	unsigned n = 0;

	for (unsigned i = 0; i < FDB_SLOTS; i++)
		if (f->slot[i].used && f->slot[i].port == port &&
		    !fdb_expired(f, &f->slot[i], now_ms))
			n++;
	return n;
}
