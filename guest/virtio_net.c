/* SPDX-License-Identifier: MIT */
/*
 * virtio_net: a station on a VMM's virtio-net (modern virtio-pci), in
 * ring 3, that two or three guests on one network (or a host behind a tap)
 * test each other with.
 *
 *   mode=responder ip=A [count=N] [secs=S] [every=K]
 *       answer ARP for A and ICMP echo requests to A; pass after N echoes
 *       (default 3; 0: after S seconds), fail if S (default 30) pass first;
 *       print every K'th echo (default 1)
 *   mode=ping ip=A peer=B [count=N] [secs=S] [size=D] [timeout=MS]
 *       resolve B by ARP, send N (default 3) echo requests of D (default
 *       56) payload bytes one at a time, each tried up to 4 times
 *       (timeout MS each, default 1000), check id, seq and payload; pass if
 *       all came back; answers ARP and echoes for A meanwhile
 *   mode=watch ip=C [secs=S] [announce=1]
 *       count what arrives for S seconds (default 10): group-addressed
 *       frames, unicast to this MAC and unicast to other MACs (which a
 *       learning switch should not deliver here); pass (the caller judges
 *       the numbers). announce=1 sends one gratuitous ARP first.
 *   driver options: irq=1 event_idx=1 indirect=1 qsize=N rxbuf=N mrg=0|1
 *   mac=M verbose=1 (see net_open_cmdline)
 *
 * Output lines (parsed by the tests):
 *   virtio-net: mac M link up|down|unknown features ..., queues R/T, ...
 *   responder: ip A ready
 *   responder: echo from B id=I seq=S bytes=D
 *   responder: answered N echo requests, M arp requests in T ms
 *   ping: B is at M (arp took T us)
 *   ping: reply from B seq=S bytes=D rtt_us=R
 *   ping: N/M replies, R retries, rtt_us min=A avg=B max=C
 *   watch: broadcast=B mine=M foreign-unicast=F frames=T
 *   virtio-net: rx frames=... / virtio-net: tx frames=... (counters)
 */
#include "net.h"

#define PING_ID	     0xbe47
#define PING_TRIES   4
#define MAX_PAYLOAD  1472 /* 1500 - IPv4 - ICMP headers */
#define ARP_RETRY_US 200000

static struct vnet nic;
static struct net_station st;
static uint8_t frame[VNET_MAX_FRAME];

static uint32_t arg_ip(const char *key, bool required)
{
	char s[20];
	uint32_t ip = 0;

	if (!cmdline_get(key, s, sizeof(s))) {
		if (required)
			test_fail("%s=A.B.C.D is required", key);
		return 0;
	}
	if (!net_parse_ip(s, &ip))
		test_fail("%s=%s is not an IPv4 address", key, s);
	return ip;
}

static uint64_t arg(const char *key, uint64_t def)
{
	long v = cmdline_int(key, (long)def);

	return v < 0 ? def : (uint64_t)v;
}

static uint64_t tsc_us(uint64_t ticks)
{
	return ticks * 1000 / tsc_khz();
}

static void finish(void)
{
	/* Replies still in the ring would be lost when the VM ends. */
	if (vnet_tx_drain(&nic, 1000000))
		printf("virtio-net: transmit queue did not drain\n");
	net_report(&nic);
	test_pass();
}

static void mode_responder(void)
{
	uint64_t count = arg("count", 3), secs = arg("secs", 30);
	uint64_t every = arg("every", 1), t0 = rdtsc();
	uint64_t end = tsc_deadline(secs * 1000000);
	struct net_info info;
	char ip[16];
	uint32_t len;

	if (!every)
		every = 1;
	printf("responder: ip %s ready\n", net_ip_str(st.ip, ip));
	while (!count || st.echo_requests < count) {
		enum net_event ev = net_wait(
			&st, frame, &len, &info,
			1u << NET_ECHO_REQUEST | 1u << NET_ARP_REQUEST, end);

		if (ev == NET_NONE)
			break;
		if (ev == NET_ECHO_REQUEST && st.echo_requests % every == 0)
			printf("responder: echo from %s id=0x%x seq=%u "
			       "bytes=%u\n",
			       net_ip_str(info.src_ip, ip), info.id, info.seq,
			       info.data_len);
	}
	printf("responder: answered %lu echo requests, %lu arp requests in "
	       "%lu ms\n",
	       st.echo_requests, st.arp_requests, tsc_us(rdtsc() - t0) / 1000);
	if (count && st.echo_requests < count) {
		net_report(&nic);
		test_fail("answered %lu of %lu echo requests in %lu s",
			  st.echo_requests, count, secs);
	}
	finish();
}

static const uint8_t *resolve(uint32_t peer, uint64_t end)
{
	uint64_t t0 = rdtsc();
	const uint8_t *mac;
	struct net_info info;
	char ip[16], m[18];
	uint32_t len;

	while (!(mac = net_arp_lookup(&st, peer))) {
		uint64_t retry = tsc_deadline(ARP_RETRY_US);

		if ((int64_t)(rdtsc() - end) >= 0)
			return NULL;
		if (net_arp_request(&st, peer))
			test_fail("sending an ARP request failed");
		if ((int64_t)(retry - end) > 0)
			retry = end;
		while (!net_arp_lookup(&st, peer) &&
		       net_wait(&st, frame, &len, &info, 1u << NET_ARP_REPLY,
				retry) != NET_NONE)
			;
	}
	printf("ping: %s is at %s (arp took %lu us)\n", net_ip_str(peer, ip),
	       vnet_mac_str(mac, m), tsc_us(rdtsc() - t0));
	return mac;
}

static void fill_payload(uint8_t *p, uint32_t len, uint16_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 7 + i);
}

/* One echo: up to PING_TRIES sends; the round trip in us, or -1. */
static int64_t ping_one(const uint8_t *mac, uint32_t peer, uint16_t seq,
			uint32_t size, uint64_t timeout_us, uint64_t end,
			uint64_t *retries)
{
	static uint8_t payload[MAX_PAYLOAD];
	struct net_info info;
	uint32_t len;
	char ip[16];

	fill_payload(payload, size, seq);
	for (unsigned t = 0; t < PING_TRIES; t++) {
		uint64_t sent = rdtsc(), until = tsc_deadline(timeout_us);

		if ((int64_t)(until - end) > 0)
			until = end;
		if (t)
			(*retries)++;
		if (net_send_echo(&st, mac, peer, ICMP_ECHO_REQUEST, PING_ID,
				  seq, payload, size))
			test_fail("sending echo request %u failed", seq);
		for (;;) {
			enum net_event ev =
				net_wait(&st, frame, &len, &info,
					 1u << NET_ECHO_REPLY, until);
			uint64_t rtt = tsc_us(rdtsc() - sent);

			if (ev == NET_NONE)
				break;
			if (info.id != PING_ID || info.seq != seq ||
			    info.src_ip != peer) {
				printf("ping: ignoring a reply from %s id=0x%x "
				       "seq=%u\n",
				       net_ip_str(info.src_ip, ip), info.id,
				       info.seq);
				continue;
			}
			if (info.data_len != size ||
			    memcmp(info.data, payload, size))
				test_fail("reply seq=%u: payload differs (%u "
					  "bytes, sent %u)",
					  seq, info.data_len, size);
			printf("ping: reply from %s seq=%u bytes=%u "
			       "rtt_us=%lu\n",
			       net_ip_str(peer, ip), seq, size, rtt);
			return (int64_t)rtt;
		}
		if ((int64_t)(rdtsc() - end) >= 0)
			break;
	}
	printf("ping: no reply to seq=%u\n", seq);
	return -1;
}

static void mode_ping(void)
{
	uint32_t peer = arg_ip("peer", true);
	uint64_t count = arg("count", 3), secs = arg("secs", 30);
	uint64_t size = arg("size", 56), timeout_ms = arg("timeout", 1000);
	uint64_t end = tsc_deadline(secs * 1000000), retries = 0;
	uint64_t got = 0, sum = 0, min = ~0ULL, max = 0;
	const uint8_t *mac;
	char ip[16];

	if (size > MAX_PAYLOAD)
		test_fail("size=%lu: at most %u payload bytes", size,
			  MAX_PAYLOAD);
	if (!count || count > 65535)
		test_fail("count=%lu: want 1..65535", count);
	mac = resolve(peer, end);
	if (!mac) {
		net_report(&nic);
		test_fail("no ARP reply from %s in %lu s", net_ip_str(peer, ip),
			  secs);
	}
	for (uint64_t seq = 1; seq <= count; seq++) {
		int64_t rtt = ping_one(mac, peer, (uint16_t)seq, (uint32_t)size,
				       timeout_ms * 1000, end, &retries);

		if (rtt < 0)
			continue;
		got++;
		sum += (uint64_t)rtt;
		if ((uint64_t)rtt < min)
			min = (uint64_t)rtt;
		if ((uint64_t)rtt > max)
			max = (uint64_t)rtt;
	}
	printf("ping: %lu/%lu replies, %lu retries, rtt_us min=%lu avg=%lu "
	       "max=%lu\n",
	       got, count, retries, got ? min : 0, got ? sum / got : 0, max);
	if (got != count) {
		net_report(&nic);
		test_fail("%lu of %lu echo requests unanswered", count - got,
			  count);
	}
	finish();
}

static void mode_watch(void)
{
	uint64_t secs = arg("secs", 10);
	uint64_t end = tsc_deadline(secs * 1000000);
	uint64_t group = 0, mine = 0, foreign = 0, total = 0;
	char a[18], b[18];

	if (arg("announce", 0) && net_arp_request(&st, st.ip))
		test_fail("sending a gratuitous ARP failed");
	printf("watch: listening for %lu s\n", secs);
	while (vnet_poll_until(&nic, end)) {
		uint32_t len;

		if (vnet_broken(&nic))
			test_fail("virtio-net: a virtqueue is broken");
		while ((len = vnet_recv(&nic, frame, sizeof(frame)))) {
			const struct eth_hdr *e = (const void *)frame;
			struct net_info info;

			total++;
			if (mac_is_group(e->dst)) {
				group++;
			} else if (!memcmp(e->dst, nic.mac, ETH_ALEN)) {
				mine++;
			} else if (foreign++ < 4) {
				printf("watch: foreign unicast to %s from %s "
				       "type 0x%04x len %u\n",
				       vnet_mac_str(e->dst, a),
				       vnet_mac_str(e->src, b), ntohs(e->type),
				       len);
			}
			/* A station still: ARP for its address is answered. */
			net_input(&st, frame, len, &info);
		}
	}
	printf("watch: broadcast=%lu mine=%lu foreign-unicast=%lu frames=%lu\n",
	       group, mine, foreign, total);
	finish();
}

int main(void)
{
	char mode[16] = "";
	uint32_t ip;

	cmdline_get("mode", mode, sizeof(mode));
	if (strcmp(mode, "responder") && strcmp(mode, "ping") &&
	    strcmp(mode, "watch"))
		test_fail("mode=responder|ping|watch, not \"%s\"", mode);
	ip = arg_ip("ip", true);
	net_open_cmdline(&nic);
	/* A device without a MAC: one derived from the address, so that
	 * stations stay apart and runs repeat. */
	if (!nic.mac_from_device && !cmdline_get("mac", NULL, 0)) {
		uint8_t mac[ETH_ALEN] = {0x02,	   0x00,    ip >> 24,
					 ip >> 16, ip >> 8, ip};
		char m[18];

		memcpy(nic.mac, mac, ETH_ALEN);
		printf("virtio-net: using mac %s\n", vnet_mac_str(mac, m));
	}
	net_station_init(&st, &nic, ip);
	if (!strcmp(mode, "responder"))
		mode_responder();
	else if (!strcmp(mode, "ping"))
		mode_ping();
	else
		mode_watch();
	return 0;
}
