/* SPDX-License-Identifier: MIT */
/* The switch's ports: connect, receive, forward, queue, drain, disconnect.
 * Everything a VM sends is untrusted: lengths and addresses are checked
 * before they are used, and no port can make another wait. */
#include "switch/switch_int.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT_EVENTS (EPOLLIN | EPOLLRDHUP)

static size_t port_queue_bytes(unsigned frames)
{
	size_t bytes = (size_t)frames * SWITCH_QUEUE_BYTES_PER_FRAME;

	return bytes < SWITCH_FRAME_MAX ? SWITCH_FRAME_MAX : bytes;
}

int switch_port_open(struct eth_switch *sw, unsigned id, int fd, bool tap,
		     pid_t pid)
{
	struct switch_port *p = &sw->port[id];
	int ret;

	ret = txq_init(&p->txq, sw->opts.queue,
		       port_queue_bytes(sw->opts.queue));
	if (!ret)
		ret = switch_epoll(sw, EPOLL_CTL_ADD, fd, PORT_EVENTS,
				   SWITCH_TAG(TAG_PORT, id));
	if (ret) {
		txq_free(&p->txq);
		close(fd);
		return ret;
	}
	p->fd = fd;
	p->tap = tap;
	p->pid = pid;
	p->dead = p->want_out = false;
	p->close_err = 0;
	memset(&p->st, 0, sizeof(p->st));
	return 0;
}

void switch_port_close(struct eth_switch *sw, unsigned id)
{
	struct switch_port *p = &sw->port[id];

	if (p->fd < 0)
		return;
	close(p->fd); /* also leaves the epoll set */
	p->fd = -1;
	txq_free(&p->txq);
	fdb_remove_port(&sw->fdb, id);
}

/* The lowest free VM port id, or -1. Ids stay put while connected. */
static int port_free_id(const struct eth_switch *sw)
{
	for (unsigned i = sw->first_vm_port; i < SWITCH_MAX_PORTS; i++)
		if (sw->port[i].fd < 0)
			return i;
	return -1;
}

static void port_accept_one(struct eth_switch *sw, int fd)
{
	struct ucred cred = {0};
	socklen_t len = sizeof(cred);
	int id = port_free_id(sw), ret;

	if (id < 0) {
		sw->refused_ports++;
		if (ratelimit_allow(&sw->rl))
			pr_warn("switch: all %d ports in use, connection "
				"refused",
				SWITCH_MAX_PORTS);
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		cred.pid = 0;
	ret = switch_port_open(sw, id, fd, false, cred.pid);
	if (ret)
		pr_warn("port %d: cannot add connection: %s", id,
			strerror(-ret));
	else
		pr_info("port %d: connected (pid %d)", id, (int)cred.pid);
}

void switch_port_accept(struct eth_switch *sw)
{
	int fd;

	for (;;) {
		fd = accept4(sw->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED && ratelimit_allow(&sw->rl))
				pr_warn("switch: accept: %s", strerror(errno));
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			return;
		}
		port_accept_one(sw, fd);
	}
}

static void port_kill(struct switch_port *p, int err)
{
	if (!p->dead)
		p->close_err = err;
	p->dead = true;
}

/* One frame out, without waiting: 0, -EAGAIN, or why the port refused. */
static int port_write(const struct switch_port *p, const void *frame,
		      size_t len)
{
	ssize_t n;

	do {
		if (p->tap)
			n = write(p->fd, frame, len);
		else
			n = send(p->fd, frame, len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

static void port_sent(struct switch_port *p, size_t len)
{
	p->st.tx_frames++;
	p->st.tx_bytes += len;
}

/* A frame the port refused: a peer that went away kills a VM port; else
 * (a tap that is down, a frame too big for the peer) it is one lost frame. */
static void port_tx_error(struct eth_switch *sw, struct switch_port *p, int err)
{
	if (!p->tap && (err == -EPIPE || err == -ECONNRESET ||
			err == -ENOTCONN || err == -EBADF)) {
		port_kill(p, -err);
		return;
	}
	p->st.drop_tx_error++;
	if (ratelimit_allow(&sw->rl))
		pr_warn("port %ld: frame not sent: %s", (long)(p - sw->port),
			strerror(-err));
}

static int port_want_out(struct eth_switch *sw, struct switch_port *p, bool on)
{
	uint32_t ev = PORT_EVENTS | (on ? EPOLLOUT : 0);

	if (p->want_out == on)
		return 0;
	p->want_out = on;
	return switch_epoll(sw, EPOLL_CTL_MOD, p->fd, ev,
			    SWITCH_TAG(TAG_PORT, p - sw->port));
}

/* Send now if nothing is queued ahead (no copy), else queue one copy; a
 * full queue drops the frame for this port only. */
static void port_send(struct eth_switch *sw, struct switch_port *p,
		      const uint8_t *frame, size_t len)
{
	int ret;

	if (p->dead)
		return;
	if (txq_empty(&p->txq)) {
		ret = port_write(p, frame, len);
		if (!ret) {
			port_sent(p, len);
			return;
		}
		if (ret != -EAGAIN) {
			port_tx_error(sw, p, ret);
			return;
		}
	}
	if (txq_push(&p->txq, frame, len)) {
		p->st.drop_txq_full++;
		return;
	}
	ret = port_want_out(sw, p, true);
	if (ret)
		port_kill(p, -ret);
}

/* The socket can take more: send queued frames until it cannot. */
static void port_drain(struct eth_switch *sw, struct switch_port *p)
{
	const uint8_t *frame;
	size_t len;
	int ret;

	while ((frame = txq_peek(&p->txq, &len))) {
		ret = port_write(p, frame, len);
		if (ret == -EAGAIN)
			return;
		if (ret)
			port_tx_error(sw, p, ret);
		else
			port_sent(p, len);
		if (p->dead)
			return;
		txq_pop(&p->txq);
	}
	ret = port_want_out(sw, p, false);
	if (ret)
		port_kill(p, -ret);
}

/* Learn the source, then send to one port or flood; never back to the
 * ingress port. */
static void port_forward(struct eth_switch *sw, unsigned in,
			 const uint8_t *frame, size_t len)
{
	struct switch_port *p = &sw->port[in];
	int dst;

	switch (fdb_learn(&sw->fdb, frame + 6, in, sw->now_ms)) {
	case FDB_BAD_SOURCE:
		p->st.drop_bad_source++;
		return;
	case FDB_SPOOFED:
		p->st.drop_spoofed++;
		return;
	default: /* learned, refreshed, or table full: forward anyway */
		break;
	}
	dst = fdb_decide(&sw->fdb, frame, in, sw->now_ms);
	if (dst >= 0) {
		port_send(sw, &sw->port[dst], frame, len);
		return;
	}
	if (dst == FDB_FILTER)
		return;
	for (unsigned i = 0; i < SWITCH_MAX_PORTS; i++)
		if (i != in && sw->port[i].fd >= 0)
			port_send(sw, &sw->port[i], frame, len);
}

/* recv() gave 0: end of file, or a zero-length message (malformed)? */
static bool port_hung_up(const struct switch_port *p)
{
	struct pollfd pfd = {.fd = p->fd, .events = POLLRDHUP};

	if (p->tap)
		return false;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP));
}

/* Read up to SWITCH_RX_BATCH messages into sw->rx's slots, one syscall:
 * how many (lens[i], trunc[i] if one did not fit), -EAGAIN, or another
 * -errno. A tap gives one frame per read. */
static int port_read(struct eth_switch *sw, struct switch_port *p, size_t *lens,
		     bool *trunc)
{
	struct mmsghdr m[SWITCH_RX_BATCH];
	struct iovec iov[SWITCH_RX_BATCH];
	ssize_t n;
	int got;

	if (p->tap) {
		do
			n = read(p->fd, sw->rx, SWITCH_RX_SLOT);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		lens[0] = (size_t)n;
		trunc[0] = n > SWITCH_FRAME_MAX;
		return 1;
	}
	for (unsigned i = 0; i < SWITCH_RX_BATCH; i++) {
		iov[i] = (struct iovec){sw->rx + (size_t)i * SWITCH_RX_SLOT,
					SWITCH_RX_SLOT};
		m[i] = (struct mmsghdr){
			.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	do
		got = recvmmsg(p->fd, m, SWITCH_RX_BATCH, MSG_DONTWAIT, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (int i = 0; i < got; i++) {
		lens[i] = m[i].msg_len;
		trunc[i] = (m[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			   m[i].msg_len > SWITCH_FRAME_MAX;
	}
	return got;
}

/* Forward what the port has sent, at most SWITCH_RX_BUDGET frames so one
 * busy port cannot starve the others (epoll reports it again). */
static void port_receive(struct eth_switch *sw, unsigned id)
{
	struct switch_port *p = &sw->port[id];
	size_t lens[SWITCH_RX_BATCH];
	bool trunc[SWITCH_RX_BATCH];
	unsigned done = 0;

	while (done < SWITCH_RX_BUDGET && !p->dead) {
		int got = port_read(sw, p, lens, trunc);

		if (got == -EAGAIN)
			return;
		if (got < 0) {
			port_kill(p, -got);
			return;
		}
		if (!got) { /* no message: end of file or nothing after all */
			if (port_hung_up(p))
				port_kill(p, 0);
			return;
		}
		for (int i = 0; i < got && !p->dead; i++, done++) {
			uint8_t *frame = sw->rx + (size_t)i * SWITCH_RX_SLOT;

			/* 0 is end of file, or an empty message (malformed):
			 * at end of file every later slot reads 0 too. */
			if (!lens[i] && port_hung_up(p)) {
				port_kill(p, 0);
				return;
			}
			p->st.rx_frames++;
			p->st.rx_bytes += lens[i];
			if (trunc[i] || lens[i] < SWITCH_FRAME_MIN) {
				p->st.drop_malformed++;
				continue;
			}
			port_forward(sw, id, frame, lens[i]);
		}
	}
}

void switch_port_event(struct eth_switch *sw, unsigned id, uint32_t events)
{
	struct switch_port *p;

	if (id >= SWITCH_MAX_PORTS)
		return;
	p = &sw->port[id];
	if (p->fd < 0 || p->dead)
		return;
	/* Hang-ups are found by reading: frames sent before a close still
	 * get forwarded, then recv() says end of file. */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		port_receive(sw, id);
	if (!p->dead && (events & EPOLLOUT))
		port_drain(sw, p);
}

void switch_port_reap(struct eth_switch *sw)
{
	struct switch_port *p;

	for (unsigned i = 0; i < SWITCH_MAX_PORTS; i++) {
		p = &sw->port[i];
		if (p->fd < 0 || !p->dead)
			continue;
		if (p->tap)
			pr_err("port %u: uplink tap failed: %s", i,
			       strerror(p->close_err));
		else if (p->close_err)
			pr_info("port %u: disconnected (pid %d): %s", i,
				(int)p->pid, strerror(p->close_err));
		else
			pr_info("port %u: disconnected (pid %d)", i,
				(int)p->pid);
		switch_port_close(sw, i);
	}
}
