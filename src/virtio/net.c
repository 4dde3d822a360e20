/* SPDX-License-Identifier: MIT */
#include "virtio/net.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/log.h"

enum { RXQ, TXQ, NET_NUM_QUEUES };

#define NET_QUEUE_SIZE 256
/* Frames moved per wake-up before the I/O thread looks at its other
 * events: bounds the time one direction can hold up the other. */
#define NET_RX_BATCH 64
#define NET_TX_BATCH 256
#define NET_MAX_IOV  1024 /* IOV_MAX on Linux */
#define NET_RX_STASH 32	  /* frames read from a switch port per recvmmsg */

/* Device configuration (spec 5.1.4), little-endian on x86. */
struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
} __attribute__((packed));

struct net {
	struct net_backend be;
	struct net_config cfg;
	struct virtio_net_stats st;
	int kick_efd;	 /* "run the transmit queue again" */
	bool watching;	 /* backend fd and kick_efd are on the I/O thread */
	bool active;	 /* DRIVER_OK, not reset since */
	bool link_up;	 /* the backend is there */
	uint32_t events; /* what the backend fd is waited for */
	/* Frames read from the backend in one batch, each with room for its
	 * header first: stash_count of them from stash_head on. The first
	 * waits for receive buffers while rx_pending. */
	uint8_t *stash;
	size_t stash_len[NET_RX_STASH];
	unsigned stash_head, stash_count;
	bool rx_pending;
	bool tx_blocked; /* the backend refused with EAGAIN: wait EPOLLOUT */
	struct ratelimit rl;
	struct virtq_chain chain, first; /* scratch for virtq_pop */
	uint16_t heads[NET_QUEUE_SIZE];
	uint32_t lens[NET_QUEUE_SIZE];
	struct iovec iov[NET_MAX_IOV];
	uint8_t txbuf[NET_HDR_LEN + NET_MAX_FRAME];
};

#define NET_STASH_SLOT (NET_HDR_LEN + NET_MAX_FRAME)

static uint8_t *net_stash_frame(const struct net *s)
{
	return s->stash + (size_t)s->stash_head * NET_STASH_SLOT;
}

static void net_stash_drop(struct net *s)
{
	s->stash_head = s->stash_count = 0;
	s->rx_pending = false;
}

static void net_warn(struct virtio_dev *d, const char *why, size_t n)
{
	struct net *s = d->priv;

	if (ratelimit_allow(&s->rl))
		pr_warn("%s: %s (%zu)", d->name, why, n);
}

/* Wait on the backend for what the device can use now: frames when it
 * can hold one, room when a send was refused. */
static void net_update_events(struct virtio_dev *d)
{
	struct net *s = d->priv;
	uint32_t want = 0;
	int ret;

	if (s->active && s->link_up && !s->rx_pending)
		want |= EPOLLIN;
	if (s->active && s->link_up && s->tx_blocked)
		want |= EPOLLOUT;
	/* A hung-up socket reports EPOLLHUP whatever it is waited for:
	 * edge-triggered, that is one more wake-up, not a busy loop. */
	if (!s->link_up)
		want = EPOLLET;
	if (want == s->events || !s->watching)
		return;
	ret = d->tops->watch_events(d->transport, s->be.fd, want);
	if (ret)
		pr_err("%s: cannot wait on %s: %s", d->name, s->be.name,
		       strerror(-ret));
	else
		s->events = want;
}

static void net_link_down(struct virtio_dev *d, int err)
{
	struct net *s = d->priv;

	if (!s->link_up)
		return;
	pr_warn("%s: link down: %s: %s", d->name, s->be.name, strerror(-err));
	s->link_up = false;
	s->cfg.status &= (uint16_t)~VIRTIO_NET_S_LINK_UP;
	net_stash_drop(s);
	s->tx_blocked = false;
	if (virtio_has_feature(d, VIRTIO_NET_F_STATUS))
		virtio_config_changed(d);
}

/* The driver broke the rules: stop using the queues until it resets. */
static void net_break(struct virtio_dev *d, const char *why)
{
	struct net *s = d->priv;

	s->active = false;
	net_stash_drop(s);
	virtio_dev_broken(d, why);
}

/* ---- transmit ----------------------------------------------------------- */

/* The guest's header, checked against what was negotiated (spec 5.1.6.2):
 * offloads it did not negotiate are malformed frames, not requests. */
static bool net_tx_hdr_ok(struct virtio_dev *d, struct virtio_net_hdr *h)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !virtio_has_feature(d, VIRTIO_NET_F_CSUM))
		return false;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    (gso == VIRTIO_NET_HDR_GSO_NONE ||
	     !virtio_has_feature(d, VIRTIO_NET_F_HOST_ECN)))
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
	    !virtio_has_feature(d, VIRTIO_NET_F_HOST_TSO4))
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
	    !virtio_has_feature(d, VIRTIO_NET_F_HOST_TSO6))
		return false;
	if (gso != VIRTIO_NET_HDR_GSO_NONE && gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
	    gso != VIRTIO_NET_HDR_GSO_TCPV6)
		return false;
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM; /* the rest are rx flags */
	h->num_buffers = 0;
	return true;
}

/* iov for the frame: buffers of guest RAM in place, from byte NET_HDR_LEN
 * of the chain on; after *n entries already there. False if they are too
 * many for one writev. */
static bool net_tx_map(struct virtio_dev *d, const struct virtq_chain *c,
		       int *n)
{
	struct net *s = d->priv;
	uint64_t skip = NET_HDR_LEN;

	for (unsigned i = 0; i < c->nr_out; i++) {
		uint64_t len = c->bufs[i].len, gpa = c->bufs[i].gpa;
		void *p;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (*n == NET_MAX_IOV ||
		    guest_mem_slice(d->mem, gpa + skip, len - skip, &p))
			return false;
		s->iov[(*n)++] = (struct iovec){p, len - skip};
		skip = 0;
	}
	return true;
}

/* Send one transmit chain: 0 (sent or dropped) or -EAGAIN. */
static int net_tx_one(struct virtio_dev *d, const struct virtq_chain *c)
{
	struct net *s = d->priv;
	struct virtio_net_hdr h;
	int n = 0, ret;

	if (c->in_len || c->out_len < NET_HDR_LEN + NET_ETH_HLEN ||
	    c->out_len > NET_HDR_LEN + NET_MAX_FRAME ||
	    virtq_chain_read(&d->vqs[TXQ], c, 0, &h, sizeof(h)) != sizeof(h) ||
	    !net_tx_hdr_ok(d, &h)) {
		net_warn(d, "malformed transmit request dropped", c->out_len);
		s->st.tx_dropped++;
		return 0;
	}
	if (!s->link_up) {
		s->st.tx_dropped++;
		return 0;
	}
	/* Our checked copy of the header, not the guest's bytes: the guest
	 * can rewrite those while the backend reads them. */
	if (s->be.vnet_hdr)
		s->iov[n++] = (struct iovec){&h, sizeof(h)};
	if (!net_tx_map(d, c, &n)) {
		/* Split across RAM regions or too many pieces: copy. */
		long got = virtq_chain_read(&d->vqs[TXQ], c, NET_HDR_LEN,
					    s->txbuf, c->out_len - NET_HDR_LEN);

		n = s->be.vnet_hdr;
		s->iov[n++] = (struct iovec){s->txbuf, got > 0 ? got : 0};
	}
	ret = net_backend_send(&s->be, s->iov, n);
	if (ret == -EAGAIN)
		return ret;
	if (ret == -EPIPE || ret == -ECONNRESET || ret == -ENOTCONN)
		net_link_down(d, ret);
	if (ret) {
		net_warn(d, "backend refused a frame", c->out_len);
		s->st.tx_dropped++;
		return 0;
	}
	s->st.tx_frames++;
	s->st.tx_bytes += c->out_len - NET_HDR_LEN;
	return 0;
}

static void net_tx(struct virtio_dev *d)
{
	struct net *s = d->priv;
	struct virtq *vq = &d->vqs[TXQ];
	unsigned done = 0;
	uint64_t one = 1;
	int ret = 0;

	if (!s->active || s->tx_blocked)
		return;
	while (done < NET_TX_BATCH && (ret = virtq_pop(vq, &s->chain)) > 0) {
		if (net_tx_one(d, &s->chain) == -EAGAIN) {
			virtq_unpop(vq, 1);
			s->tx_blocked = true;
			break;
		}
		if (virtq_push(vq, s->chain.head, 0))
			break;
		done++;
	}
	if (ret < 0)
		net_break(d, "malformed transmit queue");
	if (done)
		virtio_queue_used(d, TXQ);
	/* A full batch: come back after the other events, not never. */
	if (done == NET_TX_BATCH && write(s->kick_efd, &one, sizeof(one)) < 0)
		pr_warn("%s: kick: %s", d->name, strerror(errno));
	net_update_events(d);
}

/* ---- receive ------------------------------------------------------------ */

/* The first stashed frame into the guest's receive buffers, spread over as many
 * as it needs with MRG_RXBUF (all handed back at once), else into one.
 * 1 if placed or dropped, 0 if the guest has too few buffers posted now,
 * -EINVAL if the queue is malformed. */
static int net_rx_place(struct virtio_dev *d)
{
	struct net *s = d->priv;
	struct virtq *vq = &d->vqs[RXQ];
	bool mrg = virtio_has_feature(d, VIRTIO_NET_F_MRG_RXBUF);
	uint8_t *frame = net_stash_frame(s);
	size_t off = 0, len = s->stash_len[s->stash_head];
	unsigned n = 0;
	uint16_t nb;
	int ret;

	while (off < len) {
		struct virtq_chain *c = n ? &s->chain : &s->first;
		size_t w;

		ret = virtq_pop(vq, c);
		if (ret <= 0) {
			virtq_unpop(vq, n);
			return ret;
		}
		/* Receive buffers are device-writable and hold at least the
		 * header (spec 5.1.6.3.1). */
		if (c->nr_out || c->in_len < (n ? 1 : NET_HDR_LEN))
			return -EINVAL;
		w = c->in_len < len - off ? c->in_len : len - off;
		if (w < len - off && (!mrg || n + 1 == vq->size)) {
			virtq_unpop(vq, n + 1);
			net_warn(d, "receive buffers too small for a frame",
				 len - NET_HDR_LEN);
			s->st.rx_dropped++;
			return 1;
		}
		if (virtq_chain_write(vq, c, 0, frame + off, w) != (long)w)
			return -EINVAL;
		s->heads[n] = c->head;
		s->lens[n++] = (uint32_t)w;
		off += w;
	}
	nb = (uint16_t)n;
	if (n > 1 &&
	    virtq_chain_write(vq, &s->first,
			      offsetof(struct virtio_net_hdr, num_buffers), &nb,
			      sizeof(nb)) != sizeof(nb))
		return -EINVAL;
	if (virtq_push_many(vq, s->heads, s->lens, n))
		return -EINVAL;
	s->st.rx_frames++;
	s->st.rx_bytes += len - NET_HDR_LEN;
	return 1;
}

/* Make the first stashed frame ready for the guest: its virtio-net header
 * filled in (or checked, from a tap). False if it is not a frame. */
static bool net_rx_prepare(struct virtio_dev *d, uint8_t *frame, size_t *len)
{
	struct net *s = d->priv;
	struct virtio_net_hdr *h = (struct virtio_net_hdr *)frame;
	size_t at = s->be.vnet_hdr ? 0 : NET_HDR_LEN;

	if (*len == SIZE_MAX || *len + at < NET_HDR_LEN + NET_ETH_HLEN) {
		net_warn(d, "bad frame from the backend dropped",
			 *len == SIZE_MAX ? 0 : *len);
		s->st.rx_dropped++;
		return false;
	}
	if (at)
		memset(h, 0, sizeof(*h));
	/* Flags the guest did not negotiate must read 0 (5.1.6.4). */
	if (!virtio_has_feature(d, VIRTIO_NET_F_GUEST_CSUM))
		h->flags = 0;
	h->num_buffers = 1;
	*len += at;
	return true;
}

/* Have a frame first in the stash, reading a batch from the backend if it
 * is empty: 1, or 0 if none is waiting. */
static int net_rx_fetch(struct virtio_dev *d)
{
	struct net *s = d->priv;
	size_t at = s->be.vnet_hdr ? 0 : NET_HDR_LEN;

	for (;;) {
		int n;

		while (s->stash_count) {
			if (net_rx_prepare(d, net_stash_frame(s),
					   &s->stash_len[s->stash_head]))
				return 1;
			s->stash_head++;
			s->stash_count--;
		}
		n = net_backend_recv_batch(&s->be, s->stash, NET_STASH_SLOT, at,
					   s->stash_len, NET_RX_STASH);
		if (n == -EAGAIN)
			return 0;
		if (n == -EPIPE || n == -ECONNRESET || n == -ENOTCONN) {
			net_link_down(d, n);
			return 0;
		}
		if (n < 0) {
			net_warn(d, "backend read failed", 0);
			s->st.rx_dropped++;
			return 0;
		}
		s->stash_head = 0;
		s->stash_count = (unsigned)n;
	}
}

static void net_rx(struct virtio_dev *d)
{
	struct net *s = d->priv;
	struct virtq *vq = &d->vqs[RXQ];
	bool placed = false;
	uint64_t one = 1;
	int ret;

	if (!s->active || !s->link_up)
		return;
	for (unsigned i = 0; i < NET_RX_BATCH; i++) {
		if (!s->rx_pending && !net_rx_fetch(d))
			break;
		s->rx_pending = true;
		ret = net_rx_place(d);
		if (ret < 0) {
			net_break(d, "malformed receive queue");
			break;
		}
		if (ret == 0) {
			/* Out of buffers: ask the driver to say when it posts
			 * more, then look once more to close the race. */
			virtq_set_notify(vq, true);
			if (!virtq_has_avail(vq))
				break;
			continue;
		}
		s->rx_pending = false;
		s->stash_head++;
		s->stash_count--;
		placed = true;
	}
	if (placed)
		virtio_queue_used(d, RXQ);
	/* Stashed frames left by the batch bound: the backend fd may not
	 * wake us for them, the kick does. */
	if (s->stash_count && !s->rx_pending && s->active && s->link_up &&
	    write(s->kick_efd, &one, sizeof(one)) < 0)
		pr_warn("%s: kick: %s", d->name, strerror(errno));
	net_update_events(d);
}

/* ---- events ------------------------------------------------------------- */

/* The backend fd is readable (frames) or writable (room again). */
static void net_backend_ready(struct virtio_dev *d, void *arg)
{
	struct net *s = d->priv;

	(void)arg;
	if (s->tx_blocked) {
		s->tx_blocked = false;
		net_tx(d);
	}
	net_rx(d);
}

static void net_kicked(struct virtio_dev *d, void *arg)
{
	struct net *s = d->priv;
	uint64_t n;

	(void)arg;
	if (read(s->kick_efd, &n, sizeof(n)) == sizeof(n)) {
		net_tx(d);
		net_rx(d);
	}
}

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q == TXQ)
		net_tx(d);
	else if (q == RXQ)
		net_rx(d);
}

static void net_config_read(struct virtio_dev *d, unsigned off, void *data,
			    unsigned len)
{
	struct net *s = d->priv;

	if (off > sizeof(s->cfg) || len > sizeof(s->cfg) - off) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&s->cfg + off, len);
}

/* Feature dependencies (spec 5.1.3.1): a driver that breaks them does not
 * get FEATURES_OK. */
static bool net_features_ok(struct virtio_dev *d, uint64_t f)
{
#define HAS(bit) ((f >> VIRTIO_NET_F_##bit) & 1)
	(void)d;
	if ((HAS(GUEST_TSO4) || HAS(GUEST_TSO6)) && !HAS(GUEST_CSUM))
		return false;
	if (HAS(GUEST_ECN) && !HAS(GUEST_TSO4) && !HAS(GUEST_TSO6))
		return false;
	if ((HAS(HOST_TSO4) || HAS(HOST_TSO6)) && !HAS(CSUM))
		return false;
	if (HAS(HOST_ECN) && !HAS(HOST_TSO4) && !HAS(HOST_TSO6))
		return false;
	return true;
#undef HAS
}

static unsigned net_rx_offloads(const struct virtio_dev *d)
{
	return (virtio_has_feature(d, VIRTIO_NET_F_GUEST_CSUM)
			? NET_OFFLOAD_CSUM
			: 0) |
	       (virtio_has_feature(d, VIRTIO_NET_F_GUEST_TSO4)
			? NET_OFFLOAD_TSO4
			: 0) |
	       (virtio_has_feature(d, VIRTIO_NET_F_GUEST_TSO6)
			? NET_OFFLOAD_TSO6
			: 0) |
	       (virtio_has_feature(d, VIRTIO_NET_F_GUEST_ECN) ? NET_OFFLOAD_ECN
							      : 0);
}

static int net_watch(struct virtio_dev *d)
{
	struct net *s = d->priv;
	int ret;

	if (s->watching)
		return 0;
	ret = d->tops->watch_fd(d->transport, s->be.fd, net_backend_ready,
				NULL);
	if (!ret)
		ret = d->tops->watch_fd(d->transport, s->kick_efd, net_kicked,
					NULL);
	if (ret) {
		pr_err("%s: cannot watch %s: %s", d->name, s->be.name,
		       strerror(-ret));
		return ret;
	}
	s->watching = true;
	s->events = EPOLLIN;
	return 0;
}

static int net_activate(struct virtio_dev *d)
{
	struct net *s = d->priv;
	int ret;

	ret = net_watch(d);
	if (ret)
		return ret;
	ret = net_backend_set_offloads(&s->be, net_rx_offloads(d));
	if (ret) {
		pr_err("%s: cannot set offloads on %s: %s", d->name, s->be.name,
		       strerror(-ret));
		return ret;
	}
	/* Receive buffers need no notification until we run out. */
	virtq_set_notify(&d->vqs[RXQ], false);
	s->active = true;
	net_update_events(d);
	return 0;
}

/* Frames not yet delivered are dropped with the queues. */
static void net_reset(struct virtio_dev *d)
{
	struct net *s = d->priv;

	s->active = false;
	net_stash_drop(s);
	s->tx_blocked = false;
	net_update_events(d);
}

static const struct virtio_dev_ops net_ops = {
	.queue_notify = net_queue_notify,
	.config_read = net_config_read,
	.features_ok = net_features_ok,
	.activate = net_activate,
	.reset = net_reset,
};

/* ---- set-up ------------------------------------------------------------- */

int virtio_net_parse(const char *spec, struct virtio_net_options *o)
{
	char buf[256], *rest = buf, *what, *opt;

	memset(o, 0, sizeof(*o));
	if ((size_t)snprintf(buf, sizeof(buf), "%s", spec) >= sizeof(buf))
		goto bad;
	what = strsep(&rest, ",");
	if (!strncmp(what, "tap=", 4))
		o->kind = NET_TAP;
	else if (!strncmp(what, "switch=", 7))
		o->kind = NET_SWITCH;
	else
		goto bad;
	what = strchr(what, '=') + 1;
	if (!*what || strlen(what) >= sizeof(o->target))
		goto bad;
	strcpy(o->target, what);
	while ((opt = strsep(&rest, ","))) {
		if (strncmp(opt, "mac=", 4) || net_parse_mac(opt + 4, o->mac)) {
			pr_err("--net: '%s' in '%s' is not "
			       "mac=XX:XX:XX:XX:XX:XX "
			       "(a unicast address)",
			       opt, spec);
			return -EINVAL;
		}
		o->mac_set = true;
	}
	return 0;
bad:
	pr_err("--net: '%.64s' is not tap=NAME[,mac=MAC] or "
	       "switch=PATH[,mac=MAC]",
	       spec);
	return -EINVAL;
}

static void net_pick_mac(uint8_t mac[6])
{
	/* 52:54:00 is locally administered and unicast; the rest random so
	 * that VMs on one switch do not collide. */
	mac[0] = 0x52, mac[1] = 0x54, mac[2] = 0x00;
	if (getrandom(mac + 3, 3, 0) != 3) {
		unsigned v = (unsigned)getpid();

		mac[3] = (uint8_t)(v >> 16), mac[4] = (uint8_t)(v >> 8),
		mac[5] = (uint8_t)v;
	}
}

static uint64_t net_features(const struct net_backend *b)
{
	uint64_t f = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
		     1ULL << VIRTIO_NET_F_MRG_RXBUF;
	unsigned off = b->offloads;

	/* Offer only what the backend can carry on. */
	if (off & NET_OFFLOAD_CSUM)
		f |= 1ULL << VIRTIO_NET_F_CSUM |
		     1ULL << VIRTIO_NET_F_GUEST_CSUM;
	if ((off & NET_OFFLOAD_CSUM) && (off & NET_OFFLOAD_TSO4))
		f |= 1ULL << VIRTIO_NET_F_HOST_TSO4 |
		     1ULL << VIRTIO_NET_F_GUEST_TSO4;
	if ((off & NET_OFFLOAD_CSUM) && (off & NET_OFFLOAD_TSO6))
		f |= 1ULL << VIRTIO_NET_F_HOST_TSO6 |
		     1ULL << VIRTIO_NET_F_GUEST_TSO6;
	if ((off & NET_OFFLOAD_ECN) && (f & 1ULL << VIRTIO_NET_F_HOST_TSO4))
		f |= 1ULL << VIRTIO_NET_F_HOST_ECN |
		     1ULL << VIRTIO_NET_F_GUEST_ECN;
	return f;
}

int virtio_net_init(struct virtio_dev *d, const struct virtio_net_options *o)
{
	const char *name = d->name ? d->name : "virtio-net";
	struct net *s = calloc(1, sizeof(*s));
	int ret;

	if (!s) {
		pr_err("%s: out of memory", name);
		return -ENOMEM;
	}
	/* Address space only: pages are touched as frames arrive. */
	s->stash = calloc(NET_RX_STASH, NET_STASH_SLOT);
	s->kick_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->stash || s->kick_efd < 0) {
		ret = s->stash ? -errno : -ENOMEM;
		pr_err("%s: %s", name, strerror(-ret));
		if (s->kick_efd >= 0)
			close(s->kick_efd);
		free(s->stash);
		free(s);
		return ret;
	}
	ret = o->kind == NET_TAP ? net_tap_open(&s->be, o->target)
				 : net_switch_connect(&s->be, o->target);
	if (ret) {
		close(s->kick_efd);
		free(s->stash);
		free(s);
		return ret;
	}
	if (o->mac_set)
		memcpy(s->cfg.mac, o->mac, 6);
	else
		net_pick_mac(s->cfg.mac);
	s->cfg.status = VIRTIO_NET_S_LINK_UP;
	s->cfg.max_virtqueue_pairs = 1;
	s->link_up = true;
	s->rl = (struct ratelimit)RATELIMIT_INIT(5, 1000);
	*d = (struct virtio_dev){
		.name = name,
		.device_id = VIRTIO_ID_NET,
		.pci_class = 0x020000, /* network controller, Ethernet */
		.features = net_features(&s->be),
		.num_queues = NET_NUM_QUEUES,
		.queue_max = NET_QUEUE_SIZE,
		.config_size = sizeof(s->cfg),
		.ops = &net_ops,
		.priv = s,
	};
	pr_info("%s: %s %s, mac %02x:%02x:%02x:%02x:%02x:%02x", name,
		o->kind == NET_TAP ? "tap" : "switch", o->target, s->cfg.mac[0],
		s->cfg.mac[1], s->cfg.mac[2], s->cfg.mac[3], s->cfg.mac[4],
		s->cfg.mac[5]);
	return 0;
}

void virtio_net_get_stats(struct virtio_dev *d, struct virtio_net_stats *st)
{
	struct net *s = d->priv;

	pthread_mutex_lock(&d->lock);
	*st = s->st;
	pthread_mutex_unlock(&d->lock);
}

void virtio_net_destroy(struct virtio_dev *d)
{
	struct net *s = d->priv;

	if (!s)
		return;
	pr_info("%s: rx %llu frames %llu bytes, tx %llu frames %llu bytes, "
		"dropped rx %llu tx %llu",
		d->name, (unsigned long long)s->st.rx_frames,
		(unsigned long long)s->st.rx_bytes,
		(unsigned long long)s->st.tx_frames,
		(unsigned long long)s->st.tx_bytes,
		(unsigned long long)s->st.rx_dropped,
		(unsigned long long)s->st.tx_dropped);
	net_backend_close(&s->be);
	close(s->kick_efd);
	free(s->stash);
	free(s);
	d->priv = NULL;
}
