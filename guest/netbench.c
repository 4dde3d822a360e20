/* SPDX-License-Identifier: MIT */
/*
 * netbench: virtio-net throughput from inside the guest, timed with the
 * TSC, so that berth and QEMU can be compared on the same setup.
 *
 *   mode=tx dst=MAC [size=N] [secs=S] [batch=B] [sync=1]
 *       send N-byte frames (60..1514, Ethernet header included, no FCS;
 *       default 64) of EtherType 0x88b5 to dst as fast as the ring takes
 *       them, B per kick (default 32), for S seconds (default 5); then a
 *       few END frames. sync=1: first send PROBE frames every 100 ms until
 *       an rx guest answers READY (for S seconds at most).
 *   mode=rx [secs=S] [idle=MS] [ip=A]
 *       count 0x88b5 frames until an END frame, S seconds (default 30), or
 *       MS (default 2000) without a frame once they started; the rate is
 *       over first to last frame, lost = sequence numbers never seen.
 *       Answers PROBE with READY. With ip=A, also a station (ARP and ICMP
 *       echo answered) that counts UDP and other IPv4 traffic to A, so a
 *       host behind a tap can flood it with UDP (`udp=` on the result).
 *   driver options as for virtio_net: irq=1 event_idx=1 indirect=1
 *       qsize=N rxbuf=N mrg=0 mac=M verbose=1
 *
 * Frame payload after the Ethernet header, little-endian: magic
 * 0x4e425448 ("HTBN"), kind (0 data, 1 end, 2 probe, 3 ready), 16 bits
 * reserved, 64-bit sequence number, 64-bit TSC at send; the last 8 bytes
 * of a data frame repeat the sequence number (checked: bad=).
 *
 * Result lines, fields in this order (MB = 10^6 bytes, mbps = MB/s as in
 * blkbench; bytes count whole frames without the virtio header or FCS):
 *   netbench: tx size=64 batch=32 frames=N bytes=N usec=N pps=N mbps=N.NN
 *       kicks=N notifies=N ring-full=N
 *   netbench: rx frames=N bytes=N usec=N pps=N mbps=N.NN lost=N bad=N
 *       first-seq=N last-seq=N end=0|1 udp=N udp-bytes=N other=N
 */
#include "net.h"

#define BENCH_MAGIC 0x4e425448
#define KIND_DATA   0
#define KIND_END    1
#define KIND_PROBE  2
#define KIND_READY  3
#define END_FRAMES  8
#define PROBE_US    100000
#define MAX_BATCH   256
#define MIN_SIZE    ETH_ZLEN
#define MAX_SIZE    1514

struct bench_hdr {
	struct eth_hdr eth;
	uint32_t magic;
	uint16_t kind;
	uint16_t reserved;
	uint64_t seq;
	uint64_t tsc;
} __packed;

static struct vnet nic;
static struct net_station st;
static uint8_t frame[VNET_MAX_FRAME];

static uint64_t arg(const char *key, uint64_t def)
{
	long v = cmdline_int(key, (long)def);

	return v < 0 ? def : (uint64_t)v;
}

static uint64_t tsc_us(uint64_t ticks)
{
	return ticks * 1000 / tsc_khz();
}

static void rate(uint64_t frames, uint64_t bytes, uint64_t usec, uint64_t *pps,
		 uint64_t *mbps100)
{
	if (!usec)
		usec = 1;
	*pps = frames * 1000000 / usec;
	*mbps100 = bytes * 100 / usec;
}

static void put_hdr(uint8_t *f, const uint8_t *dst, uint16_t kind, uint64_t seq)
{
	struct bench_hdr *h = (struct bench_hdr *)f;

	memcpy(h->eth.dst, dst, ETH_ALEN);
	memcpy(h->eth.src, nic.mac, ETH_ALEN);
	h->eth.type = htons(ETH_P_BENCH);
	h->magic = BENCH_MAGIC;
	h->kind = kind;
	h->reserved = 0;
	h->seq = seq;
	h->tsc = rdtsc();
}

static void send_control(const uint8_t *dst, uint16_t kind, uint64_t seq)
{
	uint8_t f[ETH_ZLEN] = {0};

	put_hdr(f, dst, kind, seq);
	if (vnet_send(&nic, f, sizeof(f)))
		test_fail("sending a control frame failed");
}

/* PROBE until a READY comes back; false if none in time. */
static bool sync_with_rx(const uint8_t *dst, uint64_t end)
{
	for (;;) {
		uint64_t next = tsc_deadline(PROBE_US);
		uint32_t len;

		send_control(dst, KIND_PROBE, 0);
		while (vnet_poll_until(&nic, next)) {
			while ((len = vnet_recv(&nic, frame, sizeof(frame)))) {
				const struct bench_hdr *h = (void *)frame;

				if (len >= sizeof(*h) &&
				    h->eth.type == htons(ETH_P_BENCH) &&
				    h->magic == BENCH_MAGIC &&
				    h->kind == KIND_READY)
					return true;
			}
			if (vnet_broken(&nic))
				test_fail("virtio-net: a virtqueue is broken");
		}
		if ((int64_t)(rdtsc() - end) >= 0)
			return false;
	}
}

static void mode_tx(void)
{
	static uint8_t f[MAX_SIZE];
	uint64_t size = arg("size", 64), secs = arg("secs", 5);
	uint64_t batch = arg("batch", 32), seq = 0, t0, t1, stop;
	uint64_t pps, mbps100, usec;
	uint8_t dst[ETH_ALEN];
	char s[24];
	int err = 0;

	if (!cmdline_get("dst", s, sizeof(s)) || !vnet_parse_mac(s, dst))
		test_fail("dst=xx:xx:xx:xx:xx:xx is required");
	if (size < MIN_SIZE || size > MAX_SIZE)
		test_fail("size=%lu: want %u..%u", size, MIN_SIZE, MAX_SIZE);
	if (!batch || batch > MAX_BATCH)
		test_fail("batch=%lu: want 1..%u", batch, MAX_BATCH);
	if (!secs)
		test_fail("secs=0");
	if (arg("sync", 0)) {
		if (!sync_with_rx(dst, tsc_deadline(secs * 1000000)))
			test_fail("no READY from %s in %lu s", s, secs);
		printf("netbench: rx ready\n");
	}
	for (uint64_t i = sizeof(struct bench_hdr); i < size; i++)
		f[i] = (uint8_t)i;
	put_hdr(f, dst, KIND_DATA, 0);
	t0 = rdtsc();
	stop = t0 + secs * tsc_khz() * 1000;
	do {
		for (uint64_t i = 0; i < batch && !err; i++, seq++) {
			((struct bench_hdr *)f)->seq = seq;
			memcpy(f + size - 8, &seq, 8);
			err = vnet_queue(&nic, f, (uint32_t)size);
		}
		vnet_flush(&nic);
	} while (!err && (int64_t)(rdtsc() - stop) < 0);
	if (err)
		test_fail("sending frame %lu: %s", seq, err_name(err));
	t1 = rdtsc();
	/* Drained (the device has taken every frame), then the END marks. */
	if (vnet_tx_drain(&nic, 1000000))
		test_fail("the transmit queue did not drain");
	for (unsigned i = 0; i < END_FRAMES; i++)
		send_control(dst, KIND_END, seq);
	if (vnet_tx_drain(&nic, 1000000))
		test_fail("the transmit queue did not drain");
	usec = tsc_us(t1 - t0);
	rate(seq, seq * size, usec, &pps, &mbps100);
	printf("netbench: tx size=%lu batch=%lu frames=%lu bytes=%lu usec=%lu "
	       "pps=%lu mbps=%lu.%02lu kicks=%lu notifies=%lu ring-full=%lu\n",
	       size, batch, seq, seq * size, usec, pps, mbps100 / 100,
	       mbps100 % 100, nic.tx.kicks, nic.tx.notifies,
	       nic.stats.tx_ring_full);
}

struct rx_count {
	uint64_t frames, bytes, bad, first_seq, last_seq, max_seq;
	uint64_t t_first, t_last; /* bench frames */
	uint64_t u_first, u_last; /* UDP */
	uint64_t udp, udp_bytes, other;
	bool started, ended;
};

/* One bench frame; true when it is END. */
static bool rx_bench(struct rx_count *c, const uint8_t *f, uint32_t len,
		     uint64_t now)
{
	const struct bench_hdr *h = (const void *)f;
	uint64_t tail;

	if (len < sizeof(*h) || h->magic != BENCH_MAGIC) {
		c->other++;
		return false;
	}
	if (h->kind == KIND_PROBE) {
		send_control(h->eth.src, KIND_READY, 0);
		return false;
	}
	if (h->kind == KIND_END)
		return c->started;
	if (h->kind != KIND_DATA)
		return false;
	memcpy(&tail, f + len - 8, 8);
	if (tail != h->seq)
		c->bad++;
	if (!c->started) {
		c->started = true;
		c->t_first = now;
		c->first_seq = c->max_seq = h->seq;
	}
	if (h->seq > c->max_seq)
		c->max_seq = h->seq;
	c->last_seq = h->seq;
	c->t_last = now;
	c->frames++;
	c->bytes += len;
	return false;
}

/* Anything else: the station answers ARP and pings; UDP to it counts. */
static void rx_other(struct rx_count *c, const uint8_t *f, uint32_t len)
{
	const struct ipv4_hdr *ip = (const void *)(f + ETH_HLEN);
	const struct eth_hdr *e = (const void *)f;
	struct net_info info;

	if (!st.ip) {
		c->other++;
		return;
	}
	if (net_input(&st, f, len, &info) != NET_OTHER)
		return;
	if (e->type == htons(ETH_P_IP) && len >= ETH_HLEN + sizeof(*ip) &&
	    ip->proto == IPPROTO_UDP && !memcmp(e->dst, nic.mac, ETH_ALEN)) {
		c->u_last = rdtsc();
		if (!c->udp)
			c->u_first = c->u_last;
		c->udp++;
		c->udp_bytes += len;
		return;
	}
	c->other++;
}

static void mode_rx(void)
{
	uint64_t secs = arg("secs", 30), idle_us = arg("idle", 2000) * 1000;
	uint64_t end = tsc_deadline(secs * 1000000);
	uint64_t idle_ticks = idle_us * tsc_khz() / 1000;
	uint64_t usec, pps, mbps100, span, lost;
	struct rx_count c = {0};
	char ip[16];

	if (st.ip)
		printf("netbench: rx ip %s\n", net_ip_str(st.ip, ip));
	printf("netbench: rx ready\n");
	while (!c.ended) {
		uint64_t until = end, last = c.t_last;
		uint32_t len;

		if (c.u_last > last)
			last = c.u_last;
		if (last && (int64_t)(last + idle_ticks - end) < 0)
			until = last + idle_ticks;
		if (!vnet_poll_until(&nic, until))
			break;
		if (vnet_broken(&nic))
			test_fail("virtio-net: a virtqueue is broken");
		while (!c.ended &&
		       (len = vnet_recv(&nic, frame, sizeof(frame)))) {
			const struct eth_hdr *e = (const void *)frame;

			if (e->type == htons(ETH_P_BENCH))
				c.ended = rx_bench(&c, frame, len, rdtsc());
			else
				rx_other(&c, frame, len);
		}
	}
	/* The rate of the bench frames, or of the UDP flood if none. */
	if (c.frames) {
		usec = tsc_us(c.t_last - c.t_first);
		rate(c.frames, c.bytes, usec, &pps, &mbps100);
		span = c.max_seq - c.first_seq + 1;
		lost = span > c.frames ? span - c.frames : 0;
	} else {
		usec = tsc_us(c.u_last - c.u_first);
		rate(c.udp, c.udp_bytes, usec, &pps, &mbps100);
		lost = 0;
	}
	printf("netbench: rx frames=%lu bytes=%lu usec=%lu pps=%lu "
	       "mbps=%lu.%02lu lost=%lu bad=%lu first-seq=%lu last-seq=%lu "
	       "end=%u udp=%lu udp-bytes=%lu other=%lu\n",
	       c.frames, c.bytes, usec, pps, mbps100 / 100, mbps100 % 100, lost,
	       c.bad, c.first_seq, c.last_seq, c.ended, c.udp, c.udp_bytes,
	       c.other);
	if (c.bad)
		test_fail("%lu frames with a wrong tail", c.bad);
}

int main(void)
{
	char mode[8] = "", s[20];
	uint32_t ip = 0;

	cmdline_get("mode", mode, sizeof(mode));
	if (strcmp(mode, "tx") && strcmp(mode, "rx"))
		test_fail("mode=tx|rx, not \"%s\"", mode);
	if (cmdline_get("ip", s, sizeof(s)) && !net_parse_ip(s, &ip))
		test_fail("ip=%s is not an IPv4 address", s);
	net_open_cmdline(&nic);
	net_station_init(&st, &nic, ip);
	printf("netbench: tsc %lu kHz (%s), %s\n", tsc_khz(), tsc_source(),
	       nic.vd.msix ? "MSI-X" : "polling");
	if (!strcmp(mode, "tx"))
		mode_tx();
	else
		mode_rx();
	if (vnet_tx_drain(&nic, 1000000))
		printf("virtio-net: transmit queue did not drain\n");
	net_report(&nic);
	test_pass();
}
