/* SPDX-License-Identifier: MIT */
/* The control channel: a Unix stream socket at PATH.ctl. A client sends one
 * line ("stats\n"), the switch answers with text and closes. Served by the
 * same non-blocking loop as the ports, so a client that stalls holds one of
 * SWITCH_MAX_CTL slots and nothing else. */
#include "switch/switch_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void switch_ctl_close(struct eth_switch *sw, unsigned idx)
{
	struct switch_ctl *c = &sw->ctl[idx];

	if (c->fd >= 0)
		close(c->fd);
	free(c->reply);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void switch_ctl_accept(struct eth_switch *sw)
{
	unsigned i;
	int fd;

	while ((fd = accept4(sw->ctl_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < SWITCH_MAX_CTL && sw->ctl[i].fd >= 0; i++)
			;
		/* Busy: the client sees end of file and may retry. */
		if (i == SWITCH_MAX_CTL ||
		    switch_epoll(sw, EPOLL_CTL_ADD, fd, EPOLLIN,
				 SWITCH_TAG(TAG_CTL, i))) {
			close(fd);
			continue;
		}
		sw->ctl[i].fd = fd;
		sw->ctl[i].opened_ms = sw->now_ms;
	}
}

void switch_ctl_expire(struct eth_switch *sw)
{
	for (unsigned i = 0; i < SWITCH_MAX_CTL; i++)
		if (sw->ctl[i].fd >= 0 &&
		    sw->now_ms - sw->ctl[i].opened_ms >= SWITCH_CTL_TIMEOUT)
			switch_ctl_close(sw, i);
}

static void ctl_format_mac(char *buf, const uint8_t *m)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		m[4], m[5]);
}

static void ctl_write_port(const struct eth_switch *sw, FILE *f, unsigned id)
{
	const struct switch_port *p = &sw->port[id];
	const struct switch_port_stats *s = &p->st;

	if (p->tap)
		fprintf(f, "%-4u %-7s %-5s", id, "-", "tap");
	else
		fprintf(f, "%-4u %-7d %-5s", id, (int)p->pid, "unix");
	fprintf(f,
		" %4u %10llu %12llu %10llu %12llu %9llu %7llu %10llu %8llu "
		"%8llu\n",
		fdb_count_port(&sw->fdb, id, sw->now_ms),
		(unsigned long long)s->rx_frames,
		(unsigned long long)s->rx_bytes,
		(unsigned long long)s->tx_frames,
		(unsigned long long)s->tx_bytes,
		(unsigned long long)s->drop_malformed,
		(unsigned long long)s->drop_spoofed,
		(unsigned long long)s->drop_bad_source,
		(unsigned long long)s->drop_txq_full,
		(unsigned long long)s->drop_tx_error);
}

static void ctl_write_macs(const struct eth_switch *sw, FILE *f)
{
	const struct fdb *fdb = &sw->fdb;
	const struct fdb_entry *e;
	char mac[18];

	fprintf(f, "\nmac               port idle_s\n");
	for (unsigned i = 0; i < FDB_SLOTS; i++) {
		e = &fdb->slot[i];
		if (!e->used || fdb_lookup(fdb, e->mac, sw->now_ms) < 0)
			continue;
		ctl_format_mac(mac, e->mac);
		fprintf(f, "%s %-4u %llu\n", mac, e->port,
			(unsigned long long)(sw->now_ms - e->seen_ms) / 1000);
	}
}

/* The stats table: a summary line, one row per port, the learned MACs. */
static void ctl_write_stats(const struct eth_switch *sw, FILE *f)
{
	unsigned ports = 0;

	for (unsigned i = 0; i < SWITCH_MAX_PORTS; i++)
		ports += sw->port[i].fd >= 0;
	fprintf(f,
		"# berth switch %s: %u ports, %u of %u MACs, %llu not learned "
		"(table full), %llu connections refused, age %u s, queue %u "
		"frames\n",
		sw->opts.socket_path, ports, sw->fdb.count, sw->fdb.max_entries,
		(unsigned long long)sw->fdb.refused_full,
		(unsigned long long)sw->refused_ports, sw->opts.age_s,
		sw->opts.queue);
	fprintf(f, "port pid     kind  macs  rx_frames     rx_bytes  tx_frames "
		   "    tx_bytes malformed spoofed bad_source txq_full "
		   "tx_error\n");
	for (unsigned i = 0; i < SWITCH_MAX_PORTS; i++)
		if (sw->port[i].fd >= 0)
			ctl_write_port(sw, f, i);
	ctl_write_macs(sw, f);
}

/* Answer a request line: the reply is built whole, then sent as the socket
 * takes it. */
static int ctl_answer(struct eth_switch *sw, struct switch_ctl *c)
{
	FILE *f = open_memstream(&c->reply, &c->reply_len);

	if (!f)
		return -ENOMEM;
	if (!strcmp(c->req, "stats"))
		ctl_write_stats(sw, f);
	else
		fprintf(f, "error: unknown request '%s' (try stats)\n", c->req);
	if (fclose(f))
		return -ENOMEM;
	return switch_epoll(sw, EPOLL_CTL_MOD, c->fd, EPOLLOUT,
			    SWITCH_TAG(TAG_CTL, c - sw->ctl));
}

/* Read until a full line: 1 when c->req holds it, 0 for more, -errno. */
static int ctl_read_request(struct switch_ctl *c)
{
	size_t room = sizeof(c->req) - 1 - c->req_len;
	ssize_t n = recv(c->fd, c->req + c->req_len, room, MSG_DONTWAIT);
	char *nl;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (!n)
		return -ECONNRESET; /* gone before finishing its request */
	c->req_len += n;
	c->req[c->req_len] = '\0';
	nl = strchr(c->req, '\n');
	if (!nl && c->req_len < sizeof(c->req) - 1)
		return 0;
	if (!nl) {
		strcpy(c->req, "(too long)");
		return 1;
	}
	*nl = '\0';
	if (nl > c->req && nl[-1] == '\r')
		nl[-1] = '\0';
	return 1;
}

/* Send what the socket takes: 1 when all is sent, 0 for more, -errno. */
static int ctl_send_reply(struct switch_ctl *c)
{
	ssize_t n;

	while (c->reply_off < c->reply_len) {
		n = send(c->fd, c->reply + c->reply_off,
			 c->reply_len - c->reply_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->reply_off += n;
	}
	return 1;
}

void switch_ctl_event(struct eth_switch *sw, unsigned idx, uint32_t events)
{
	struct switch_ctl *c;
	int ret;

	(void)events; /* hang-ups and errors show up in recv() and send() */
	if (idx >= SWITCH_MAX_CTL || sw->ctl[idx].fd < 0)
		return;
	c = &sw->ctl[idx];
	if (!c->reply) {
		ret = ctl_read_request(c);
		if (ret == 1)
			ret = ctl_answer(sw, c);
		else if (ret == 0)
			return;
		if (ret < 0) {
			switch_ctl_close(sw, idx);
			return;
		}
	}
	if (ctl_send_reply(c) != 0)
		switch_ctl_close(sw, idx);
}

/* Connect to the control socket of the switch at socket_path. */
static int ctl_connect(const char *socket_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (strlen(socket_path) + strlen(SWITCH_CTL_SUFFIX) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s" SWITCH_CTL_SUFFIX,
		 socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = errno == ENOENT ? -ECONNREFUSED : -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Copy everything the switch sends until it closes; -EBUSY if it closes
 * without a word (all its control slots were taken). */
static int ctl_copy_reply(int fd, FILE *out)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t total = 0;
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = poll(&pfd, 1, SWITCH_CTL_TIMEOUT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ETIMEDOUT;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		/* Turned away: closed with our request unread, a reset. */
		if (!total && (!n || (n < 0 && errno == ECONNRESET)))
			return -EBUSY;
		if (n <= 0)
			return n ? -errno : 0;
		if (fwrite(buf, 1, n, out) != (size_t)n)
			return -EIO;
		total += n;
	}
}

int switch_stats_fetch(const char *socket_path, FILE *out)
{
	static const char req[] = "stats\n";
	int fd = ctl_connect(socket_path), ret;

	if (fd < 0)
		return fd;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(req) - 1)
		ret = errno == EPIPE || errno == ECONNRESET ? -EBUSY : -errno;
	else
		ret = ctl_copy_reply(fd, out);
	close(fd);
	return ret;
}
