/* SPDX-License-Identifier: MIT */
/*
 * ARP, IPv4 and ICMP echo for the network test guests (see net.h). Every
 * received header is checked against the frame's length and every
 * checksum verified before anything is answered; replies are built fresh
 * (IPv4 without options) and go to the requester's MAC.
 */
#include "net.h"
#include "irq.h"

#define IP_TTL	   64
#define IP_DF	   0x4000
#define IP_MF	   0x2000
#define IP_OFFMASK 0x1fff

static const uint8_t broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

uint16_t inet_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t sum = 0;

	/* The one's complement sum does not care about byte order: add
	 * the words as they are in memory (little-endian loads). */
	for (; len >= 2; b += 2, len -= 2)
		sum += (uint16_t)(b[0] | b[1] << 8);
	if (len)
		sum += b[0];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

bool net_parse_ip(const char *s, uint32_t *ip)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++) {
		unsigned part = 0, digits = 0;

		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			part = part * 10 + (unsigned)(*s - '0');
		if (!digits || part > 255)
			return false;
		v = v << 8 | part;
		if (i < 3 && *s++ != '.')
			return false;
	}
	if (*s)
		return false;
	*ip = v;
	return true;
}

char *net_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

static uint32_t get_ip(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void put_ip(uint8_t *p, uint32_t ip)
{
	p[0] = (uint8_t)(ip >> 24);
	p[1] = (uint8_t)(ip >> 16);
	p[2] = (uint8_t)(ip >> 8);
	p[3] = (uint8_t)ip;
}

void net_station_init(struct net_station *st, struct vnet *nic, uint32_t ip)
{
	*st = (struct net_station){.nic = nic, .ip = ip, .answer_echo = true};
}

const uint8_t *net_arp_lookup(const struct net_station *st, uint32_t ip)
{
	for (unsigned i = 0; i < st->narp; i++)
		if (st->arp[i].ip == ip)
			return st->arp[i].mac;
	return NULL;
}

static void arp_learn(struct net_station *st, uint32_t ip, const uint8_t *mac)
{
	unsigned i;

	for (i = 0; i < st->narp && st->arp[i].ip != ip; i++)
		;
	if (i == NET_ARP_ENTRIES)
		i = ip % NET_ARP_ENTRIES; /* full: replace one */
	else if (i == st->narp)
		st->narp++;
	st->arp[i].ip = ip;
	memcpy(st->arp[i].mac, mac, ETH_ALEN);
}

/* Send a frame, padded to ETH_ZLEN; count failures. */
static int send_frame(struct net_station *st, uint8_t *frame, uint32_t len)
{
	int err;

	if (len < ETH_ZLEN) {
		memset(frame + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	err = vnet_send(st->nic, frame, len);
	if (err)
		st->send_errors++;
	return err;
}

static int send_arp(struct net_station *st, uint16_t op, const uint8_t *dst_mac,
		    const uint8_t *tha, uint32_t tpa)
{
	uint8_t frame[ETH_ZLEN];
	struct eth_hdr *e = (struct eth_hdr *)frame;
	struct arp_ipv4 *a = (struct arp_ipv4 *)(e + 1);

	memcpy(e->dst, dst_mac, ETH_ALEN);
	memcpy(e->src, st->nic->mac, ETH_ALEN);
	e->type = htons(ETH_P_ARP);
	a->htype = htons(1);
	a->ptype = htons(ETH_P_IP);
	a->hlen = ETH_ALEN;
	a->plen = 4;
	a->op = htons(op);
	memcpy(a->sha, st->nic->mac, ETH_ALEN);
	put_ip(a->spa, st->ip);
	memcpy(a->tha, tha, ETH_ALEN);
	put_ip(a->tpa, tpa);
	return send_frame(st, frame, ETH_HLEN + sizeof(*a));
}

int net_arp_request(struct net_station *st, uint32_t ip)
{
	static const uint8_t zero[ETH_ALEN];

	return send_arp(st, ARP_REQUEST, broadcast, zero, ip);
}

/* Failures are counted in send_errors (replies are best effort). */
static int send_echo(struct net_station *st, const uint8_t *dst_mac,
		     uint32_t dst_ip, uint8_t type, uint16_t id, uint16_t seq,
		     const void *data, uint32_t len)
{
	static uint8_t frame[VNET_MAX_FRAME];
	struct eth_hdr *e = (struct eth_hdr *)frame;
	struct ipv4_hdr *ip = (struct ipv4_hdr *)(e + 1);
	struct icmp_echo *icmp = (struct icmp_echo *)(ip + 1);
	uint32_t ip_len = sizeof(*ip) + sizeof(*icmp) + len;

	if (ETH_HLEN + ip_len > 1514)
		return -EINVAL;
	memcpy(e->dst, dst_mac, ETH_ALEN);
	memcpy(e->src, st->nic->mac, ETH_ALEN);
	e->type = htons(ETH_P_IP);
	*ip = (struct ipv4_hdr){
		.ver_ihl = 0x45,
		.len = htons((uint16_t)ip_len),
		.id = htons(st->ip_id++),
		.frag = htons(IP_DF),
		.ttl = IP_TTL,
		.proto = IPPROTO_ICMP,
	};
	put_ip(ip->src, st->ip);
	put_ip(ip->dst, dst_ip);
	ip->csum = inet_csum(ip, sizeof(*ip));
	*icmp = (struct icmp_echo){
		.type = type,
		.id = htons(id),
		.seq = htons(seq),
	};
	memcpy(icmp + 1, data, len);
	icmp->csum = inet_csum(icmp, sizeof(*icmp) + len);
	return send_frame(st, frame, ETH_HLEN + ip_len);
}

int net_send_echo(struct net_station *st, const uint8_t *dst_mac,
		  uint32_t dst_ip, uint8_t type, uint16_t id, uint16_t seq,
		  const void *data, uint32_t len)
{
	return send_echo(st, dst_mac, dst_ip, type, id, seq, data, len);
}

static enum net_event arp_input(struct net_station *st, const uint8_t *frame,
				uint32_t len, struct net_info *info)
{
	const struct arp_ipv4 *a = (const void *)(frame + ETH_HLEN);
	uint16_t op;

	if (len < ETH_HLEN + sizeof(*a))
		return NET_BAD;
	if (a->htype != htons(1) || a->ptype != htons(ETH_P_IP) ||
	    a->hlen != ETH_ALEN || a->plen != 4)
		return NET_OTHER;
	op = ntohs(a->op);
	info->src_ip = get_ip(a->spa);
	memcpy(info->src_mac, a->sha, ETH_ALEN);
	if (op == ARP_REQUEST && get_ip(a->tpa) == st->ip && st->ip) {
		st->arp_requests++;
		/* RFC 826: learn the asker, then answer it directly. */
		arp_learn(st, info->src_ip, a->sha);
		send_arp(st, ARP_REPLY, a->sha, a->sha, info->src_ip);
		return NET_ARP_REQUEST;
	}
	if (op == ARP_REPLY && get_ip(a->tpa) == st->ip && info->src_ip) {
		st->arp_replies++;
		arp_learn(st, info->src_ip, a->sha);
		return NET_ARP_REPLY;
	}
	return NET_OTHER;
}

static enum net_event ip_input(struct net_station *st, const uint8_t *frame,
			       uint32_t len, struct net_info *info)
{
	const struct ipv4_hdr *ip = (const void *)(frame + ETH_HLEN);
	const struct eth_hdr *e = (const void *)frame;
	const struct icmp_echo *icmp;
	uint32_t ihl, ip_len;

	if (len < ETH_HLEN + sizeof(*ip))
		return NET_BAD;
	ihl = (ip->ver_ihl & 0xf) * 4u;
	ip_len = ntohs(ip->len);
	if (ip->ver_ihl >> 4 != 4 || ihl < sizeof(*ip) || ip_len < ihl ||
	    ETH_HLEN + ip_len > len || inet_csum(ip, ihl))
		return NET_BAD;
	if (get_ip(ip->dst) != st->ip || !st->ip)
		return NET_OTHER;
	if (ip->proto != IPPROTO_ICMP ||
	    (ntohs(ip->frag) & (IP_MF | IP_OFFMASK)))
		return NET_OTHER;
	if (ip_len < ihl + sizeof(*icmp))
		return NET_BAD;
	icmp = (const void *)((const uint8_t *)ip + ihl);
	if (inet_csum(icmp, ip_len - ihl))
		return NET_BAD;
	if (icmp->code ||
	    (icmp->type != ICMP_ECHO_REQUEST && icmp->type != ICMP_ECHO_REPLY))
		return NET_OTHER;
	info->src_ip = get_ip(ip->src);
	memcpy(info->src_mac, e->src, ETH_ALEN);
	info->id = ntohs(icmp->id);
	info->seq = ntohs(icmp->seq);
	info->data = (const uint8_t *)(icmp + 1);
	info->data_len = ip_len - ihl - sizeof(*icmp);
	if (icmp->type == ICMP_ECHO_REPLY) {
		st->echo_replies++;
		return NET_ECHO_REPLY;
	}
	st->echo_requests++;
	if (st->answer_echo)
		send_echo(st, e->src, info->src_ip, ICMP_ECHO_REPLY, info->id,
			  info->seq, info->data, info->data_len);
	return NET_ECHO_REQUEST;
}

enum net_event net_input(struct net_station *st, const uint8_t *frame,
			 uint32_t len, struct net_info *info)
{
	const struct eth_hdr *e = (const void *)frame;
	enum net_event ev = NET_OTHER;

	if (len < ETH_HLEN) {
		ev = NET_BAD;
	} else if (!mac_is_group(e->dst) &&
		   memcmp(e->dst, st->nic->mac, ETH_ALEN)) {
		ev = NET_OTHER; /* unicast to someone else */
	} else if (e->type == htons(ETH_P_ARP)) {
		ev = arp_input(st, frame, len, info);
	} else if (e->type == htons(ETH_P_IP)) {
		ev = ip_input(st, frame, len, info);
	}
	if (ev == NET_BAD)
		st->bad++;
	else if (ev == NET_OTHER)
		st->other++;
	return ev;
}

enum net_event net_wait(struct net_station *st, uint8_t *buf, uint32_t *len,
			struct net_info *info, unsigned mask, uint64_t end)
{
	for (;;) {
		uint32_t n;

		while ((n = vnet_recv(st->nic, buf, VNET_MAX_FRAME))) {
			enum net_event ev = net_input(st, buf, n, info);

			if (mask & (1u << ev)) {
				*len = n;
				return ev;
			}
		}
		if (vnet_broken(st->nic))
			test_fail("virtio-net: a virtqueue is broken");
		if (!vnet_poll_until(st->nic, end))
			return NET_NONE;
	}
}

void net_open_cmdline(struct vnet *n)
{
	struct vnet_opts o = {
		.virtio.queue_size = (unsigned)cmdline_int("qsize", 0),
		.virtio.irq = cmdline_int("irq", 0) > 0,
		.virtio.verbose = cmdline_int("verbose", 0) > 0,
		.no_mrg_rxbuf = cmdline_int("mrg", 1) == 0,
	};
	long rxbuf = cmdline_int("rxbuf", 0);
	char mac[24];
	int err;

	if (cmdline_int("event_idx", 0) > 0)
		o.virtio.features |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_int("indirect", 0) > 0)
		o.virtio.features |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (rxbuf < 0 || rxbuf > 65536)
		test_fail("rxbuf=%ld: want 0 (default) to 65536", rxbuf);
	o.rx_buf = (uint32_t)rxbuf;
	if (cmdline_get("mac", mac, sizeof(mac))) {
		if (!vnet_parse_mac(mac, o.mac) || mac_is_group(o.mac))
			test_fail("mac=%s: want a unicast xx:xx:xx:xx:xx:xx",
				  mac);
		o.has_mac = true;
	}
	err = vnet_open(n, (unsigned)cmdline_int("nic", 0), &o);
	if (err)
		test_fail("no usable virtio-net device: %s", err_name(err));
	if (cmdline_int("event_idx", 0) > 0 &&
	    !virtio_has(&n->vd, VIRTIO_F_EVENT_IDX))
		test_fail("event_idx=1 but VIRTIO_F_EVENT_IDX not offered");
	if (cmdline_int("indirect", 0) > 0 &&
	    !virtio_has(&n->vd, VIRTIO_F_INDIRECT_DESC))
		test_fail("indirect=1 but VIRTIO_F_INDIRECT_DESC not offered");
	if (cmdline_int("mrg", 0) > 0 &&
	    !virtio_has(&n->vd, VIRTIO_NET_F_MRG_RXBUF))
		test_fail("mrg=1 but VIRTIO_NET_F_MRG_RXBUF not offered");
	vnet_describe(n);
}

void net_report(struct vnet *n)
{
	const struct vnet_stats *s = &n->stats;

	/* An interrupt that came while polling found the work done is
	 * still pending in the LAPIC: one short halt counts it. */
	if (n->vd.msix && !irq_count())
		irq_wait(1000);
	printf("virtio-net: rx frames=%lu bytes=%lu buffers=%lu merged=%lu "
	       "malformed=%lu dropped=%lu refills=%lu kicks=%lu "
	       "notifies=%lu halts=%lu\n",
	       s->rx_frames, s->rx_bytes, s->rx_buffers, s->rx_merged,
	       s->rx_malformed, s->rx_dropped, s->rx_refills, n->rx.kicks,
	       n->rx.notifies, s->rx_halts);
	printf("virtio-net: tx frames=%lu bytes=%lu completed=%lu "
	       "ring-full=%lu kicks=%lu notifies=%lu interrupts=%lu\n",
	       s->tx_frames, s->tx_bytes, s->tx_completed, s->tx_ring_full,
	       n->tx.kicks, n->tx.notifies, irq_count());
	if (vnet_errors(n))
		test_fail("%u virtqueue protocol errors", vnet_errors(n));
	if (s->rx_malformed)
		test_fail("%lu malformed receive buffers", s->rx_malformed);
}
