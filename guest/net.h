/* SPDX-License-Identifier: MIT */
/*
 * Just enough Ethernet, ARP, IPv4 and ICMP for the network test guests: a
 * "station" with one MAC and one IPv4 address on a virtio-net that answers
 * ARP requests and ICMP echo requests for its address, learns who answers
 * its own ARP requests, and hands everything else to the caller.
 * Addresses are held in host byte order (10.0.0.1 is 0x0a000001).
 */
#ifndef GUEST_NET_H
#define GUEST_NET_H

#include "vnet.h"

#define ETH_HLEN	  14
#define ETH_ZLEN	  60 /* shortest frame without FCS; shorter is padded */
#define ETH_P_IP	  0x0800
#define ETH_P_ARP	  0x0806
#define ETH_P_BENCH	  0x88b5 /* IEEE local experimental: netbench frames */
#define ARP_REQUEST	  1
#define ARP_REPLY	  2
#define IPPROTO_ICMP	  1
#define IPPROTO_UDP	  17
#define ICMP_ECHO_REPLY	  0
#define ICMP_ECHO_REQUEST 8

#define __packed __attribute__((packed))

struct eth_hdr {
	uint8_t dst[ETH_ALEN];
	uint8_t src[ETH_ALEN];
	uint16_t type; /* network order */
} __packed;

struct arp_ipv4 {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[ETH_ALEN];
	uint8_t spa[4];
	uint8_t tha[ETH_ALEN];
	uint8_t tpa[4];
} __packed;

struct ipv4_hdr {
	uint8_t ver_ihl, tos;
	uint16_t len, id, frag;
	uint8_t ttl, proto;
	uint16_t csum;
	uint8_t src[4], dst[4];
} __packed;

struct icmp_echo {
	uint8_t type, code;
	uint16_t csum, id, seq;
} __packed;

static inline uint16_t htons(uint16_t v)
{
	return __builtin_bswap16(v);
}

static inline uint16_t ntohs(uint16_t v)
{
	return __builtin_bswap16(v);
}

/* The Internet checksum (RFC 1071) of len bytes, ready to store in the
 * checksum field; over data that includes a correct checksum it is 0. */
uint16_t inet_csum(const void *p, size_t len);

/* "10.0.0.1" to host order; false if malformed. */
bool net_parse_ip(const char *s, uint32_t *ip);
/* Host order to "10.0.0.1" in buf (at least 16 bytes); returns buf. */
char *net_ip_str(uint32_t ip, char *buf);
static inline bool mac_is_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

enum net_event {
	NET_NONE,	  /* nothing (yet) */
	NET_ARP_REQUEST,  /* for our address: answered */
	NET_ARP_REPLY,	  /* learned */
	NET_ECHO_REQUEST, /* to our address: answered if answer_echo */
	NET_ECHO_REPLY,	  /* to our address */
	NET_OTHER,	  /* not for the station: see the frame */
	NET_BAD,	  /* a bad checksum or a truncated packet */
};

/* What net_input() found, for ARP and echo events. */
struct net_info {
	uint32_t src_ip;
	uint8_t src_mac[ETH_ALEN]; /* the frame's source */
	uint16_t id, seq;	   /* echo, host order */
	const uint8_t *data;	   /* echo payload, in the frame */
	uint32_t data_len;
};

#define NET_ARP_ENTRIES 8

struct net_station {
	struct vnet *nic;
	uint32_t ip;
	bool answer_echo;
	uint16_t ip_id;
	struct {
		uint32_t ip;
		uint8_t mac[ETH_ALEN];
	} arp[NET_ARP_ENTRIES];
	unsigned narp;
	uint64_t arp_requests, arp_replies, echo_requests, echo_replies;
	uint64_t bad, other, send_errors;
};

/* A station on nic with address ip, answering echo requests. */
void net_station_init(struct net_station *st, struct vnet *nic, uint32_t ip);
/* Look at one received frame: answer what is for the station (replies go
 * out at once), learn ARP replies, and say what it was. */
enum net_event net_input(struct net_station *st, const uint8_t *frame,
			 uint32_t len, struct net_info *info);
/* The MAC learned for ip, or NULL. */
const uint8_t *net_arp_lookup(const struct net_station *st, uint32_t ip);
/* Send an ARP request for ip (broadcast); ip == st->ip: a gratuitous one. */
int net_arp_request(struct net_station *st, uint32_t ip) __must_check;
/* Send an ICMP echo request or reply of len payload bytes. */
int net_send_echo(struct net_station *st, const uint8_t *dst_mac,
		  uint32_t dst_ip, uint8_t type, uint16_t id, uint16_t seq,
		  const void *data, uint32_t len) __must_check;
/* Receive and handle frames until one gives an event in the mask
 * (1 << NET_*) or the TSC passes end; NET_NONE then. The frame stays in
 * buf (VNET_MAX_FRAME bytes) and info describes it. */
enum net_event net_wait(struct net_station *st, uint8_t *buf, uint32_t *len,
			struct net_info *info, unsigned mask, uint64_t end);

/* For the test guests: open virtio-net 0 with the options on the command
 * line (irq=1 event_idx=1 indirect=1 qsize=N rxbuf=N mrg=0 mac=M
 * verbose=1), print the vnet_describe() line; test_fail() if it fails. */
void net_open_cmdline(struct vnet *n);
/* "virtio-net: rx frames=... tx frames=..." counters, then fail if the
 * device returned malformed or protocol-violating buffers. */
void net_report(struct vnet *n);

#endif
