/* SPDX-License-Identifier: MIT */
/* berth switch: the forwarding table and output queue on their own, then
 * the event loop in a thread with real SOCK_SEQPACKET clients. Negative
 * checks ("C saw nothing") use a marker frame sent afterwards: ports
 * deliver in order, so the marker must be the next frame C reads. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/test_util.h"
#include "switch/cli.h"
#include "switch/fdb.h"
#include "switch/switch.h"
#include "switch/txq.h"

#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental */
#define WAIT_MS	       1000   /* a frame that should come comes by then */

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0x0c};
static const uint8_t mac_x[6] = {0x02, 0, 0, 0, 0, 0x99}; /* never seen */
static const uint8_t mac_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mac_mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t mac_zero[6];

/* ---- forwarding table ---- */

static struct fdb fdb; /* 128 KiB: not on the stack */

static void test_fdb_learn_lookup(void **state)
{
	(void)state;
	fdb_init(&fdb, 1000, FDB_MAX_ENTRIES, 0);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0), -ENOENT);
	assert_int_equal(fdb_learn(&fdb, mac_a, 1, 0), FDB_LEARNED);
	assert_int_equal(fdb_learn(&fdb, mac_b, 2, 0), FDB_LEARNED);
	assert_int_equal(fdb_learn(&fdb, mac_a, 1, 10), FDB_REFRESHED);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 10), 1);
	assert_int_equal(fdb_lookup(&fdb, mac_b, 10), 2);
	assert_int_equal(fdb_lookup(&fdb, mac_c, 10), -ENOENT);
	assert_int_equal(fdb.count, 2);
	assert_int_equal(fdb_count_port(&fdb, 1, 10), 1);
}

static void test_fdb_decide(void **state)
{
	(void)state;
	fdb_init(&fdb, 1000, FDB_MAX_ENTRIES, 0);
	assert_int_equal(fdb_learn(&fdb, mac_a, 1, 0), FDB_LEARNED);
	assert_int_equal(fdb_learn(&fdb, mac_b, 2, 0), FDB_LEARNED);
	assert_int_equal(fdb_decide(&fdb, mac_bcast, 1, 0), FDB_FLOOD);
	assert_int_equal(fdb_decide(&fdb, mac_mcast, 1, 0), FDB_FLOOD);
	assert_int_equal(fdb_decide(&fdb, mac_x, 1, 0), FDB_FLOOD);
	assert_int_equal(fdb_decide(&fdb, mac_b, 1, 0), 2);
	assert_int_equal(fdb_decide(&fdb, mac_a, 2, 0), 1);
	/* Never back out of the ingress port. */
	assert_int_equal(fdb_decide(&fdb, mac_a, 1, 0), FDB_FILTER);
}

static void test_fdb_ageing(void **state)
{
	(void)state;
	fdb_init(&fdb, 1000, FDB_MAX_ENTRIES, 0);
	assert_int_equal(fdb_learn(&fdb, mac_a, 1, 5000), FDB_LEARNED);
	assert_int_equal(fdb_learn(&fdb, mac_b, 2, 5000), FDB_LEARNED);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 5999), 1);
	assert_int_equal(fdb_learn(&fdb, mac_b, 2, 5500), FDB_REFRESHED);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 6000), -ENOENT);
	assert_int_equal(fdb_decide(&fdb, mac_a, 2, 6000), FDB_FLOOD);
	assert_int_equal(fdb_lookup(&fdb, mac_b, 6000), 2);
	assert_int_equal(fdb_count_port(&fdb, 1, 6000), 0);
	/* A clock that steps back expires nothing. */
	assert_int_equal(fdb_lookup(&fdb, mac_a, 100), 1);
	assert_int_equal(fdb_age(&fdb, 6000), 1);
	assert_int_equal(fdb.count, 1);
	assert_int_equal(fdb_age(&fdb, 6499), 0);
	assert_int_equal(fdb_age(&fdb, 6500), 1);
	assert_int_equal(fdb.count, 0);
	/* An expired entry is no claim: another port may take the MAC. */
	assert_int_equal(fdb_learn(&fdb, mac_c, 1, 7000), FDB_LEARNED);
	assert_int_equal(fdb_learn(&fdb, mac_c, 3, 8000), FDB_LEARNED);
	assert_int_equal(fdb_lookup(&fdb, mac_c, 8000), 3);
}

static void test_fdb_spoofed_refused(void **state)
{
	(void)state;
	fdb_init(&fdb, 1000, FDB_MAX_ENTRIES, 0);
	assert_int_equal(fdb_learn(&fdb, mac_a, 1, 0), FDB_LEARNED);
	assert_int_equal(fdb_learn(&fdb, mac_a, 2, 999), FDB_SPOOFED);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 999), 1);
	assert_int_equal(fdb.count, 1);
}

static void test_fdb_bad_source_refused(void **state)
{
	(void)state;
	fdb_init(&fdb, 1000, FDB_MAX_ENTRIES, 0);
	assert_int_equal(fdb_learn(&fdb, mac_bcast, 1, 0), FDB_BAD_SOURCE);
	assert_int_equal(fdb_learn(&fdb, mac_mcast, 1, 0), FDB_BAD_SOURCE);
	assert_int_equal(fdb_learn(&fdb, mac_zero, 1, 0), FDB_BAD_SOURCE);
	assert_int_equal(fdb.count, 0);
}

static void mac_of(uint8_t *mac, unsigned i)
{
	mac[0] = 0x02;
	mac[1] = 0x42;
	mac[2] = i >> 24;
	mac[3] = i >> 16;
	mac[4] = i >> 8;
	mac[5] = i;
}

static void test_fdb_full(void **state)
{
	uint8_t mac[6];

	(void)state;
	fdb_init(&fdb, 1000, FDB_MAX_ENTRIES, 7);
	for (unsigned i = 0; i < FDB_MAX_ENTRIES; i++) {
		mac_of(mac, i);
		assert_int_equal(fdb_learn(&fdb, mac, i % 5, 0), FDB_LEARNED);
	}
	mac_of(mac, FDB_MAX_ENTRIES);
	assert_int_equal(fdb_learn(&fdb, mac, 1, 10), FDB_FULL);
	assert_int_equal(fdb_learn(&fdb, mac, 1, 10), FDB_FULL);
	assert_int_equal(fdb.refused_full, 2);
	assert_int_equal(fdb.count, FDB_MAX_ENTRIES);
	assert_int_equal(fdb_lookup(&fdb, mac, 10), -ENOENT);
	/* Known MACs still refresh; once the rest expire there is room. */
	mac_of(mac, 3);
	assert_int_equal(fdb_learn(&fdb, mac, 3, 500), FDB_REFRESHED);
	mac_of(mac, FDB_MAX_ENTRIES);
	assert_int_equal(fdb_learn(&fdb, mac, 1, 1200), FDB_LEARNED);
	assert_int_equal(fdb.count, 2);
	mac_of(mac, 3);
	assert_int_equal(fdb_lookup(&fdb, mac, 1200), 3);
}

static void test_fdb_remove_port(void **state)
{
	uint8_t mac[6];
	unsigned removed;

	(void)state;
	fdb_init(&fdb, 100000, FDB_MAX_ENTRIES, 1);
	for (unsigned i = 0; i < 3000; i++) {
		mac_of(mac, i);
		assert_int_equal(fdb_learn(&fdb, mac, i % 3, 0), FDB_LEARNED);
	}
	removed = fdb_remove_port(&fdb, 1);
	assert_int_equal(removed, 1000);
	assert_int_equal(fdb.count, 2000);
	/* Deleting shifts entries back: every survivor is still found. */
	for (unsigned i = 0; i < 3000; i++) {
		mac_of(mac, i);
		assert_int_equal(fdb_lookup(&fdb, mac, 0),
				 i % 3 == 1 ? -ENOENT : (int)(i % 3));
	}
	assert_int_equal(fdb_count_port(&fdb, 2, 0), 1000);
}

/* Random learns and port removals against a plain array, the table kept
 * near its load limit so chains are long and deletions shift entries. */
static void test_fdb_model(void **state)
{
	enum { NR_MACS = FDB_MAX_ENTRIES - 64 };
	static int model[NR_MACS]; /* port + 1, 0: absent */
	uint8_t mac[6];
	unsigned seed = 12345, m, port, n = 0;

	(void)state;
	memset(model, 0, sizeof(model));
	fdb_init(&fdb, 1000, FDB_MAX_ENTRIES, 99);
	for (unsigned step = 0; step < 60000; step++) {
		seed = seed * 1103515245 + 12345;
		m = (seed >> 4) % NR_MACS;
		port = (seed >> 24) % 4;
		mac_of(mac, m);
		if ((seed >> 16) % 4000 == 0) {
			fdb_remove_port(&fdb, port);
			for (unsigned i = 0; i < NR_MACS; i++)
				if (model[i] == (int)port + 1)
					model[i] = 0;
			continue;
		}
		if (fdb_learn(&fdb, mac, port, 0) == FDB_LEARNED)
			model[m] = port + 1;
		assert_int_equal(model[m] - 1, fdb_lookup(&fdb, mac, 0));
	}
	for (unsigned i = 0; i < NR_MACS; i++) {
		mac_of(mac, i);
		assert_int_equal(fdb_lookup(&fdb, mac, 0),
				 model[i] ? model[i] - 1 : -ENOENT);
		n += model[i] != 0;
	}
	assert_int_equal(fdb.count, n);
	assert_true(n > NR_MACS / 2);
	/* Everything expires at once; the table is empty and usable. */
	assert_int_equal(fdb_age(&fdb, 1000), n);
	assert_int_equal(fdb.count, 0);
	assert_int_equal(fdb_learn(&fdb, mac, 1, 1000), FDB_LEARNED);
}

/* ---- output queue ---- */

static void fill(uint8_t *p, size_t len, uint8_t v)
{
	memset(p, v, len);
}

static void expect_head(struct txq *q, size_t len, uint8_t v)
{
	const uint8_t *p;
	size_t got = 0;

	p = txq_peek(q, &got);
	assert_non_null(p);
	assert_int_equal(got, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], v);
	txq_pop(q);
}

static void test_txq_limits(void **state)
{
	uint8_t buf[1100] = {0};
	struct txq q;
	size_t len;

	(void)state;
	assert_int_equal(txq_init(&q, 0, 100), -EINVAL);
	assert_int_equal(txq_init(&q, 3, 1000), 0);
	assert_null(txq_peek(&q, &len));
	assert_int_equal(txq_push(&q, buf, 0), -EINVAL);
	assert_int_equal(txq_push(&q, buf, 1001), -ENOBUFS);
	assert_int_equal(txq_push(&q, buf, 1000), 0);
	txq_pop(&q);
	fill(buf, sizeof(buf), 1);
	assert_int_equal(txq_push(&q, buf, 100), 0);
	fill(buf, sizeof(buf), 2);
	assert_int_equal(txq_push(&q, buf, 100), 0);
	fill(buf, sizeof(buf), 3);
	assert_int_equal(txq_push(&q, buf, 100), 0);
	assert_int_equal(txq_push(&q, buf, 100), -ENOBUFS); /* 3 frames */
	expect_head(&q, 100, 1);
	/* 700 bytes free after the tail, 100 at the start: 701 fits nowhere */
	assert_int_equal(txq_push(&q, buf, 701), -ENOBUFS);
	assert_int_equal(txq_push(&q, buf, 700), 0);
	expect_head(&q, 100, 2);
	expect_head(&q, 100, 3);
	expect_head(&q, 700, 3);
	assert_true(txq_empty(&q));
	assert_int_equal(q.bytes, 0);
	txq_free(&q);
	txq_free(&q); /* twice is harmless */
}

/* Frames of varying sizes through a small ring: order and bytes intact
 * across every wrap. */
static void test_txq_wraps(void **state)
{
	uint8_t buf[300];
	unsigned pushed = 0, popped = 0, seed = 1;
	size_t lens[64];
	struct txq q;

	(void)state;
	assert_int_equal(txq_init(&q, 64, 1024), 0);
	for (unsigned step = 0; step < 5000; step++) {
		seed = seed * 1103515245 + 12345;
		if ((seed >> 16) & 1) {
			size_t len = 1 + (seed >> 17) % sizeof(buf);

			fill(buf, len, (uint8_t)pushed);
			if (!txq_push(&q, buf, len))
				lens[pushed++ % 64] = len;
		} else if (popped < pushed) {
			expect_head(&q, lens[popped % 64], (uint8_t)popped);
			popped++;
		}
		assert_true(q.bytes <= q.cap);
	}
	assert_true(pushed > 1000);
	txq_free(&q);
}

/* ---- the loop in a thread, with real sockets ---- */

struct fixture {
	char dir[64];
	char path[96];
	struct eth_switch *sw;
	pthread_t thread;
	int run_ret;
	int fd[4];
};

static void *switch_thread(void *arg)
{
	struct fixture *fx = arg;

	fx->run_ret = switch_run(fx->sw);
	return NULL;
}

static int connect_port(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The stats text, or NULL if the switch turned the request away. */
static char *try_fetch_stats(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	assert_non_null(f);
	ret = switch_stats_fetch(path, f);
	assert_int_equal(fclose(f), 0);
	if (ret == -EBUSY) {
		free(text);
		return NULL;
	}
	assert_int_equal(ret, 0);
	return text;
}

static char *fetch_stats(const char *path)
{
	char *text = try_fetch_stats(path);

	assert_non_null(text);
	return text;
}

static unsigned stats_ports(const char *text)
{
	const char *p = strstr(text, ": ");
	unsigned n = 0;

	assert_non_null(p);
	assert_int_equal(sscanf(p, ": %u ports", &n), 1);
	return n;
}

/* Until the switch has accepted n ports (connect() returns before). */
static void wait_ports(struct fixture *fx, unsigned n)
{
	struct timespec ms = {0, 1000000};
	char *text;

	for (int i = 0; i < WAIT_MS; i++) {
		text = try_fetch_stats(fx->path);
		if (text && stats_ports(text) == n) {
			free(text);
			return;
		}
		free(text);
		nanosleep(&ms, NULL);
	}
	fail_msg("switch never had %u ports", n);
}

static void start_switch(struct fixture *fx, unsigned queue, const char *uplink,
			 unsigned nports)
{
	struct switch_opts o = {
		.socket_path = fx->path, .uplink_tap = uplink, .queue = queue};

	assert_int_equal(switch_create(&fx->sw, &o), 0);
	assert_int_equal(pthread_create(&fx->thread, NULL, switch_thread, fx),
			 0);
	for (unsigned i = 0; i < nports; i++)
		fx->fd[i] = connect_port(fx->path);
	wait_ports(fx, nports + !!uplink);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/berth-switch-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/sw.sock", fx->dir);
	for (unsigned i = 0; i < 4; i++)
		fx->fd[i] = -1;
	*state = fx;
	return 0;
}

/* Stop the loop, close everything, check the sockets were unlinked. */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	char ctl[160];

	for (unsigned i = 0; i < 4; i++)
		if (fx->fd[i] >= 0)
			close(fx->fd[i]);
	if (fx->sw) {
		switch_stop(fx->sw);
		pthread_join(fx->thread, NULL);
		switch_destroy(fx->sw);
		assert_int_equal(fx->run_ret, 0);
	}
	snprintf(ctl, sizeof(ctl), "%s.ctl", fx->path);
	assert_int_equal(access(fx->path, F_OK), -1);
	assert_int_equal(access(ctl, F_OK), -1);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static size_t make_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
			 uint16_t seq, size_t len)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	f[14] = seq >> 8;
	f[15] = seq & 0xff;
	memset(f + 16, 0x5a, len - 16);
	return len;
}

static void send_frame(int fd, const uint8_t *dst, const uint8_t *src,
		       uint16_t seq)
{
	uint8_t f[64];

	make_frame(f, dst, src, seq, sizeof(f));
	assert_int_equal(send(fd, f, sizeof(f), 0), sizeof(f));
}

/* The next frame on fd within WAIT_MS, or -1. */
static ssize_t recv_frame(int fd, uint8_t *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, WAIT_MS) != 1)
		return -1;
	return recv(fd, buf, len, 0);
}

/* The next frame on fd is (dst, src, seq), 64 bytes. */
static void expect_frame(int fd, const uint8_t *dst, const uint8_t *src,
			 uint16_t seq)
{
	uint8_t want[64], got[128];

	make_frame(want, dst, src, seq, sizeof(want));
	assert_int_equal(recv_frame(fd, got, sizeof(got)), sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
}

/* Port from sends a broadcast marker; the next frame each port in mask
 * reads must be that marker. */
static void expect_only_marker(struct fixture *fx, int from, const uint8_t *src,
			       unsigned mask)
{
	static uint16_t seq = 0x8000;

	send_frame(fx->fd[from], mac_bcast, src, ++seq);
	for (int i = 0; i < 4; i++)
		if (mask & (1u << i))
			expect_frame(fx->fd[i], mac_bcast, src, seq);
}

struct row {
	unsigned id, macs;
	char pid[16], kind[8];
	unsigned long long rx_frames, rx_bytes, tx_frames, tx_bytes;
	unsigned long long malformed, spoofed, bad_source, txq_full, tx_error;
};

/* Port id's row of the stats table; fails the test if there is none. */
static struct row stats_row(const char *text, unsigned id)
{
	const char *line = strstr(text, "\nport ");
	struct row r;

	assert_non_null(line);
	while ((line = strchr(line + 1, '\n')) && line[1] != '\n') {
		memset(&r, 0, sizeof(r));
		if (sscanf(line + 1,
			   "%u %15s %7s %u %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu",
			   &r.id, r.pid, r.kind, &r.macs, &r.rx_frames,
			   &r.rx_bytes, &r.tx_frames, &r.tx_bytes, &r.malformed,
			   &r.spoofed, &r.bad_source, &r.txq_full,
			   &r.tx_error) == 13 &&
		    r.id == id)
			return r;
	}
	fail_msg("no row for port %u in:\n%s", id, text);
	return r;
}

static void test_broadcast_and_flooding(void **state)
{
	struct fixture *fx = *state;

	start_switch(fx, 0, NULL, 3);
	send_frame(fx->fd[0], mac_bcast, mac_a, 1);
	expect_frame(fx->fd[1], mac_bcast, mac_a, 1);
	expect_frame(fx->fd[2], mac_bcast, mac_a, 1);
	/* Multicast and unknown unicast flood too. */
	send_frame(fx->fd[0], mac_mcast, mac_a, 2);
	send_frame(fx->fd[0], mac_x, mac_a, 3);
	expect_frame(fx->fd[1], mac_mcast, mac_a, 2);
	expect_frame(fx->fd[2], mac_mcast, mac_a, 2);
	expect_frame(fx->fd[1], mac_x, mac_a, 3);
	expect_frame(fx->fd[2], mac_x, mac_a, 3);
	/* None of it came back to the sender. */
	expect_only_marker(fx, 1, mac_b, 1u << 0 | 1u << 2);
}

static void test_learned_unicast(void **state)
{
	struct fixture *fx = *state;

	start_switch(fx, 0, NULL, 3);
	expect_only_marker(fx, 0, mac_a, 1u << 1 | 1u << 2);
	expect_only_marker(fx, 1, mac_b, 1u << 0 | 1u << 2);
	send_frame(fx->fd[0], mac_b, mac_a, 10);
	expect_frame(fx->fd[1], mac_b, mac_a, 10);
	send_frame(fx->fd[1], mac_a, mac_b, 11);
	expect_frame(fx->fd[0], mac_a, mac_b, 11);
	/* Port 2 saw neither: its next frame is this marker. */
	expect_only_marker(fx, 0, mac_a, 1u << 1 | 1u << 2);
}

static void test_disconnect_frees_macs(void **state)
{
	struct fixture *fx = *state;
	char *text;

	start_switch(fx, 0, NULL, 3);
	expect_only_marker(fx, 2, mac_c, 1u << 0 | 1u << 1);
	send_frame(fx->fd[0], mac_c, mac_a, 20);
	expect_frame(fx->fd[2], mac_c, mac_a, 20);
	expect_only_marker(fx, 0, mac_a, 1u << 1 | 1u << 2); /* not flooded */
	close(fx->fd[2]);
	fx->fd[2] = -1;
	wait_ports(fx, 2);
	/* C's MAC is unknown again: a frame to it floods. */
	send_frame(fx->fd[0], mac_c, mac_a, 21);
	expect_frame(fx->fd[1], mac_c, mac_a, 21);
	/* A new connection takes the lowest free id. */
	fx->fd[2] = connect_port(fx->path);
	wait_ports(fx, 3);
	text = fetch_stats(fx->path);
	assert_int_equal(stats_row(text, 2).rx_frames, 0);
	assert_int_equal(stats_row(text, 2).macs, 0);
	assert_null(strstr(text, "02:00:00:00:00:0c"));
	assert_non_null(strstr(text, "02:00:00:00:00:0a 0"));
	free(text);
}

static void test_malformed_dropped(void **state)
{
	static uint8_t big[SWITCH_FRAME_MAX + 100];
	struct fixture *fx = *state;
	struct switch_port_stats st;
	char *text;

	start_switch(fx, 0, NULL, 2);
	make_frame(big, mac_bcast, mac_a, 1, sizeof(big));
	assert_int_equal(send(fx->fd[0], big, 13, 0), 13);
	assert_int_equal(send(fx->fd[0], big, 0, 0), 0);
	assert_int_equal(send(fx->fd[0], big, sizeof(big), 0), sizeof(big));
	/* The largest frame accepted goes through whole. */
	assert_int_equal(send(fx->fd[0], big, SWITCH_FRAME_MAX, 0),
			 SWITCH_FRAME_MAX);
	assert_int_equal(recv_frame(fx->fd[1], big, sizeof(big)),
			 SWITCH_FRAME_MAX);
	/* Bad sources are dropped too, then a good frame passes. */
	send_frame(fx->fd[0], mac_bcast, mac_zero, 2);
	send_frame(fx->fd[0], mac_bcast, mac_mcast, 3);
	send_frame(fx->fd[0], mac_bcast, mac_a, 4);
	expect_frame(fx->fd[1], mac_bcast, mac_a, 4);
	text = fetch_stats(fx->path);
	assert_int_equal(stats_row(text, 0).malformed, 3);
	assert_int_equal(stats_row(text, 0).bad_source, 2);
	assert_int_equal(stats_row(text, 0).rx_frames, 7);
	assert_int_equal(stats_row(text, 1).tx_frames, 2);
	assert_int_equal(stats_row(text, 1).malformed, 0);
	free(text);
	/* The same counters straight from the struct once stopped. */
	switch_stop(fx->sw);
	pthread_join(fx->thread, NULL);
	assert_int_equal(switch_port_stats(fx->sw, 0, &st, NULL), 0);
	assert_int_equal(st.drop_malformed, 3);
	assert_int_equal(switch_port_stats(fx->sw, 5, &st, NULL), -ENOENT);
	switch_destroy(fx->sw);
	fx->sw = NULL;
}

/* Port 2 never reads: once its socket and its 4-frame queue are full its
 * frames are dropped, and ports 0 and 1 lose nothing. */
static void test_slow_port_does_not_block(void **state)
{
	struct fixture *fx = *state;
	unsigned n = 3000;
	uint8_t f[1024];
	struct row r;
	char *text;

	start_switch(fx, 4, NULL, 3);
	for (unsigned i = 0; i < n; i++) {
		make_frame(f, mac_bcast, mac_a, i, sizeof(f));
		assert_int_equal(send(fx->fd[0], f, sizeof(f), 0), sizeof(f));
		if (i % 16 == 15 || i == n - 1)
			for (unsigned j = i - i % 16; j <= i; j++) {
				uint8_t got[2048];

				assert_int_equal(
					recv_frame(fx->fd[1], got, sizeof(got)),
					sizeof(f));
				assert_int_equal(got[14] << 8 | got[15],
						 j & 0xffff);
			}
	}
	text = fetch_stats(fx->path);
	r = stats_row(text, 2);
	assert_true(r.txq_full > 0);
	assert_true(r.tx_frames + r.txq_full <= n);
	assert_true(r.tx_frames + r.txq_full >= n - 4);
	assert_int_equal(stats_row(text, 1).tx_frames, n);
	assert_int_equal(stats_row(text, 1).txq_full, 0);
	free(text);
}

static void test_spoof_and_stats(void **state)
{
	struct fixture *fx = *state;
	char *text, pid[16];
	struct row r;

	start_switch(fx, 0, NULL, 3);
	expect_only_marker(fx, 0, mac_a, 1u << 1 | 1u << 2);
	/* Port 2 claims A's MAC: dropped, A stays on port 0. */
	send_frame(fx->fd[2], mac_bcast, mac_a, 30);
	send_frame(fx->fd[1], mac_a, mac_b, 31);
	expect_frame(fx->fd[0], mac_a, mac_b, 31);
	expect_only_marker(fx, 1, mac_b, 1u << 0 | 1u << 2);
	text = fetch_stats(fx->path);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_non_null(strstr(text, "3 ports, 2 of 4096 MACs"));
	r = stats_row(text, 2);
	assert_int_equal(r.spoofed, 1);
	assert_int_equal(r.rx_frames, 1);
	assert_int_equal(r.macs, 0);
	assert_string_equal(r.kind, "unix");
	assert_string_equal(r.pid, pid);
	r = stats_row(text, 0);
	assert_int_equal(r.macs, 1);
	assert_int_equal(r.rx_frames, 1);
	assert_int_equal(r.rx_bytes, 64);
	assert_int_equal(r.tx_frames, 2);
	assert_int_equal(r.tx_bytes, 128);
	assert_non_null(strstr(text, "02:00:00:00:00:0a 0"));
	assert_non_null(strstr(text, "02:00:00:00:00:0b 1"));
	free(text);
}

/* A second switch on the same path is refused; a stale socket is replaced,
 * anything else at the path is left alone. */
static void test_socket_in_use_and_stale(void **state)
{
	struct fixture *fx = *state;
	struct switch_opts o = {.socket_path = fx->path};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct eth_switch *sw2;
	int fd;

	start_switch(fx, 0, NULL, 0);
	capture_begin();
	assert_int_equal(switch_create(&sw2, &o), -EADDRINUSE);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "already listening"));
	assert_null(sw2);
	switch_stop(fx->sw);
	pthread_join(fx->thread, NULL);
	switch_destroy(fx->sw);
	fx->sw = NULL;
	assert_int_equal(switch_stats_fetch(fx->path, stdout), -ECONNREFUSED);

	/* A socket file left behind by a dead process. */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(switch_create(&sw2, &o), 0);
	switch_destroy(sw2);

	fd = open(fx->path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	capture_begin();
	assert_int_equal(switch_create(&sw2, &o), -EEXIST);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "not a socket"));
	unlink(fx->path);
}

static int connect_ctl(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.ctl", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* An unknown request gets one error line; clients beyond the control
 * slots are turned away, not queued behind idle ones. */
static void test_ctl_requests(void **state)
{
	struct fixture *fx = *state;
	char buf[256] = "", *text;
	int fd, idle[4];
	ssize_t n, len = 0;

	start_switch(fx, 0, NULL, 0);
	fd = connect_ctl(fx->path);
	assert_int_equal(write(fd, "reboot\n", 7), 7);
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	assert_string_equal(buf,
			    "error: unknown request 'reboot' (try stats)\n");
	for (int i = 0; i < 4; i++)
		idle[i] = connect_ctl(fx->path);
	assert_int_equal(switch_stats_fetch(fx->path, stdout), -EBUSY);
	for (int i = 0; i < 4; i++)
		close(idle[i]);
	wait_ports(fx, 0); /* retries until a slot is free again */
	text = fetch_stats(fx->path);
	assert_non_null(strstr(text, "\nport pid"));
	free(text);
}

/* ---- the uplink, where a tap can be made (root) ---- */

static int ifup(const char *name, int *ifindex)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		if (!ioctl(s, SIOCSIFFLAGS, &ifr) &&
		    !ioctl(s, SIOCGIFINDEX, &ifr)) {
			*ifindex = ifr.ifr_ifindex;
			ret = 0;
		}
	}
	close(s);
	return ret;
}

/* A raw socket on the host side of the tap, test EtherType only. */
static int host_side(int ifindex)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETHERTYPE_TEST),
				  .sll_ifindex = ifindex};
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE_TEST));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

/* The next test frame on a VM port, skipping what the host's own stack
 * sends out of the tap (IPv6 router solicitations and the like). */
static void expect_test_frame(int fd, const uint8_t *dst, const uint8_t *src,
			      uint16_t seq)
{
	uint8_t want[64], got[2048];
	ssize_t n;

	make_frame(want, dst, src, seq, sizeof(want));
	do {
		n = recv_frame(fd, got, sizeof(got));
		assert_true(n > 0);
	} while ((got[12] << 8 | got[13]) != ETHERTYPE_TEST);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
}

static void test_uplink_tap(void **state)
{
	struct fixture *fx = *state;
	char name[16], *text;
	int tun, ifindex = 0, host;

	tun = open("/dev/net/tun", O_RDWR);
	if (tun < 0 || geteuid()) {
		print_message("uplink test skipped: needs root and "
			      "/dev/net/tun\n");
		if (tun >= 0)
			close(tun);
		skip();
	}
	close(tun);
	snprintf(name, sizeof(name), "bswt%u", (unsigned)getpid() % 100000);
	start_switch(fx, 0, name, 1);
	assert_int_equal(ifup(name, &ifindex), 0);
	host = host_side(ifindex);
	/* VM (port 1) to the host through the tap (port 0)... */
	send_frame(fx->fd[0], mac_bcast, mac_a, 40);
	expect_test_frame(host, mac_bcast, mac_a, 40);
	/* ...and back, to the MAC learned on port 1. */
	send_frame(host, mac_a, mac_x, 41);
	expect_test_frame(fx->fd[0], mac_a, mac_x, 41);
	close(host);
	text = fetch_stats(fx->path);
	assert_string_equal(stats_row(text, 0).kind, "tap");
	assert_string_equal(stats_row(text, 0).pid, "-");
	assert_int_equal(stats_row(text, 1).macs, 1);
	free(text);
}

/* ---- options ---- */

static void test_cli_parse(void **state)
{
	char *good[] = {
		"berth switch", "--socket", "/tmp/s",  "--uplink", "tap=br0tap",
		"--age",	"60",	    "--queue", "8",	   "-v"};
	char *bad_age[] = {"berth switch", "--socket", "/s", "--age", "0"};
	char *bad_queue[] = {"berth switch", "--socket", "/s", "--queue", "9x"};
	char *bad_uplink[] = {"berth switch", "--socket", "/s", "--uplink",
			      "eth0"};
	char *no_socket[] = {"berth switch", "--stats"};
	struct switch_cli c;

	(void)state;
	assert_int_equal(switch_cli_parse(&c, 10, good), 0);
	assert_string_equal(c.opts.socket_path, "/tmp/s");
	assert_string_equal(c.opts.uplink_tap, "br0tap");
	assert_int_equal(c.opts.age_s, 60);
	assert_int_equal(c.opts.queue, 8);
	assert_int_equal(c.verbose, 1);
	assert_false(c.stats);
	capture_begin();
	assert_int_equal(switch_cli_parse(&c, 5, bad_age), -EINVAL);
	assert_int_equal(switch_cli_parse(&c, 5, bad_queue), -EINVAL);
	assert_int_equal(switch_cli_parse(&c, 5, bad_uplink), -EINVAL);
	assert_int_equal(switch_cli_parse(&c, 2, no_socket), -EINVAL);
	assert_int_equal(capture_end(), 4);
	assert_non_null(strstr(capture_last, "--socket PATH is required"));
	capture_begin();
	assert_int_equal(switch_cli_parse(&c, 5, bad_queue), -EINVAL);
	capture_end();
	assert_non_null(strstr(capture_last, "--queue: '9x'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fdb_learn_lookup),
		cmocka_unit_test(test_fdb_decide),
		cmocka_unit_test(test_fdb_ageing),
		cmocka_unit_test(test_fdb_spoofed_refused),
		cmocka_unit_test(test_fdb_bad_source_refused),
		cmocka_unit_test(test_fdb_full),
		cmocka_unit_test(test_fdb_remove_port),
		cmocka_unit_test(test_fdb_model),
		cmocka_unit_test(test_txq_limits),
		cmocka_unit_test(test_txq_wraps),
		cmocka_unit_test_setup_teardown(test_broadcast_and_flooding,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_learned_unicast, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_frees_macs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_slow_port_does_not_block,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoof_and_stats, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_socket_in_use_and_stale,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_uplink_tap, setup,
						teardown),
		cmocka_unit_test(test_cli_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
