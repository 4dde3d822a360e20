/* SPDX-License-Identifier: MIT */
/* The switch's sockets, its epoll loop and its life cycle. */
#include "switch/switch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SWITCH_EVENTS	   64
#define SWITCH_SWEEP_MS	   1000 /* how often expired MACs are swept */
#define SWITCH_LISTEN_BACK 64

static uint64_t switch_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int switch_epoll(struct eth_switch *sw, int op, int fd, uint32_t events,
		 uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	if (epoll_ctl(sw->epoll_fd, op, fd, &ev))
		return -errno;
	return 0;
}

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Remove path if it is a socket nobody listens on. 0 if path is free now,
 * -EADDRINUSE if something answers there, -EEXIST if it is not a socket. */
static int unlink_stale(const char *path, int type)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	ret = unix_addr(&sa, path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Non-blocking: a listener with a full backlog says EAGAIN, not a
	 * hang; one of another socket type says EPROTOTYPE. Both are live. */
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	close(fd);
	if (ret != -ECONNREFUSED)
		return -EADDRINUSE;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

/* A non-blocking listening socket of type bound at path. */
static int listen_at(const char *path, int type, int *fdp, ino_t *ino)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret;

	ret = unix_addr(&sa, path);
	if (!ret)
		ret = unlink_stale(path, type);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, SWITCH_LISTEN_BACK)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*ino = stat(path, &st) ? 0 : st.st_ino;
	*fdp = fd;
	return 0;
}

/* Unlink path only if it is still the socket this switch bound. */
static void unlink_ours(const char *path, ino_t ino)
{
	struct stat st;

	if (ino && !lstat(path, &st) && st.st_ino == ino)
		unlink(path);
}

static void log_bind_error(const char *path, int err)
{
	if (err == -EADDRINUSE)
		pr_err("--socket: a switch is already listening on %s", path);
	else if (err == -EEXIST)
		pr_err("--socket: %s exists and is not a socket", path);
	else if (err == -ENAMETOOLONG)
		pr_err("--socket: '%s' is too long for a Unix socket (at most "
		       "%zu bytes with the " SWITCH_CTL_SUFFIX " suffix)",
		       path,
		       sizeof(((struct sockaddr_un *)0)->sun_path) - 1 -
			       strlen(SWITCH_CTL_SUFFIX));
	else
		pr_err("--socket: cannot listen on %s: %s", path,
		       strerror(-err));
}

/* The data socket and the control socket next to it. */
static int switch_listen(struct eth_switch *sw)
{
	const char *path = sw->opts.socket_path;
	int ret;

	if (strlen(path) + strlen(SWITCH_CTL_SUFFIX) >= sizeof(sw->ctl_path)) {
		log_bind_error(path, -ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	snprintf(sw->ctl_path, sizeof(sw->ctl_path), "%s" SWITCH_CTL_SUFFIX,
		 path);
	/* The control socket first: asking a live switch there costs it
	 * nothing, while a probe connection on PATH would show up as a port. */
	ret = unlink_stale(sw->ctl_path, SOCK_STREAM);
	if (ret) {
		log_bind_error(ret == -EADDRINUSE ? path : sw->ctl_path, ret);
		return ret;
	}
	ret = listen_at(path, SOCK_SEQPACKET, &sw->listen_fd, &sw->listen_ino);
	if (ret) {
		log_bind_error(path, ret);
		return ret;
	}
	ret = listen_at(sw->ctl_path, SOCK_STREAM, &sw->ctl_fd, &sw->ctl_ino);
	if (ret) {
		log_bind_error(sw->ctl_path, ret);
		return ret;
	}
	ret = switch_epoll(sw, EPOLL_CTL_ADD, sw->listen_fd, EPOLLIN,
			   SWITCH_TAG(TAG_LISTEN, 0));
	if (!ret)
		ret = switch_epoll(sw, EPOLL_CTL_ADD, sw->ctl_fd, EPOLLIN,
				   SWITCH_TAG(TAG_CTL_LISTEN, 0));
	return ret;
}

/* The tap as port 0: raw frames (IFF_NO_PI, no vnet header). */
static int switch_open_tap(struct eth_switch *sw, const char *name)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	int fd, ret;

	if (strlen(name) >= sizeof(ifr.ifr_name)) {
		pr_err("--uplink: tap name '%s' is too long", name);
		return -EINVAL;
	}
	strcpy(ifr.ifr_name, name);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_err("--uplink: cannot open /dev/net/tun: %s",
		       strerror(-ret));
		return ret;
	}
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		ret = -errno;
		pr_err("--uplink: cannot attach to tap '%s': %s", name,
		       strerror(-ret));
		close(fd);
		return ret;
	}
	sw->first_vm_port = 1;
	ret = switch_port_open(sw, 0, fd, true, 0);
	if (!ret)
		pr_info("port 0: uplink tap %s", ifr.ifr_name);
	return ret;
}

/* The eventfd switch_stop() writes, and the signalfd if asked for. */
static int switch_wakeups(struct eth_switch *sw)
{
	sigset_t set;
	int ret;

	sw->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sw->stop_fd < 0)
		return -errno;
	ret = switch_epoll(sw, EPOLL_CTL_ADD, sw->stop_fd, EPOLLIN,
			   SWITCH_TAG(TAG_STOP, 0));
	if (ret || !sw->opts.signals)
		return ret;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	ret = -pthread_sigmask(SIG_BLOCK, &set, &sw->old_mask);
	if (ret)
		return ret;
	sw->mask_saved = true;
	sw->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sw->signal_fd < 0)
		return -errno;
	return switch_epoll(sw, EPOLL_CTL_ADD, sw->signal_fd, EPOLLIN,
			    SWITCH_TAG(TAG_SIGNAL, 0));
}

static struct eth_switch *switch_alloc(const struct switch_opts *o)
{
	struct eth_switch *sw = calloc(1, sizeof(*sw));
	uint64_t seed = 0;

	if (!sw)
		return NULL;
	sw->rx = malloc((size_t)SWITCH_RX_BATCH * SWITCH_RX_SLOT);
	if (!sw->rx) {
		free(sw);
		return NULL;
	}
	sw->opts = *o;
	if (!sw->opts.age_s)
		sw->opts.age_s = SWITCH_DEFAULT_AGE;
	if (!sw->opts.queue)
		sw->opts.queue = SWITCH_DEFAULT_QUEUE;
	sw->epoll_fd = sw->listen_fd = sw->ctl_fd = -1;
	sw->stop_fd = sw->signal_fd = -1;
	for (unsigned i = 0; i < SWITCH_MAX_PORTS; i++)
		sw->port[i].fd = -1;
	for (unsigned i = 0; i < SWITCH_MAX_CTL; i++)
		sw->ctl[i].fd = -1;
	sw->rl = (struct ratelimit)RATELIMIT_INIT(5, 1000);
	/* A key guests cannot guess: no crafted MACs piling on one chain. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = switch_clock_ms() * 0x9e3779b97f4a7c15ULL ^ getpid();
	fdb_init(&sw->fdb, (uint64_t)sw->opts.age_s * 1000, FDB_MAX_ENTRIES,
		 seed);
	sw->now_ms = sw->swept_ms = switch_clock_ms();
	return sw;
}

int switch_create(struct eth_switch **out, const struct switch_opts *o)
{
	struct eth_switch *sw;
	int ret;

	*out = NULL;
	if (!o->socket_path || !*o->socket_path) {
		pr_err("switch: --socket PATH is required");
		return -EINVAL;
	}
	sw = switch_alloc(o);
	if (!sw)
		return -ENOMEM;
	sw->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	ret = sw->epoll_fd < 0 ? -errno : switch_wakeups(sw);
	if (ret)
		pr_err("switch: cannot set up the event loop: %s",
		       strerror(-ret));
	if (!ret && o->uplink_tap)
		ret = switch_open_tap(sw, o->uplink_tap);
	if (!ret)
		ret = switch_listen(sw);
	if (ret) {
		switch_destroy(sw);
		return ret;
	}
	pr_info("switch listening on %s (control: %s)", o->socket_path,
		sw->ctl_path);
	*out = sw;
	return 0;
}

void switch_stop(struct eth_switch *sw)
{
	uint64_t one = 1;

	/* Only fails if the counter would overflow: a stop is pending. */
	if (write(sw->stop_fd, &one, sizeof(one)) < 0)
		return;
}

/* Drain the stop eventfd or the signalfd: the loop ends. */
static void switch_wakeup(struct eth_switch *sw, int fd, bool signal)
{
	struct signalfd_siginfo si;

	if (signal) {
		if (read(fd, &si, sizeof(si)) == sizeof(si))
			pr_info("switch: stopping on %s",
				strsignal(si.ssi_signo));
	} else if (read(fd, &si, sizeof(uint64_t)) < 0) {
		return; /* spurious wakeup */
	}
	sw->stopping = true;
}

static void switch_dispatch(struct eth_switch *sw, uint64_t tag,
			    uint32_t events)
{
	unsigned idx = (uint32_t)tag;

	switch (tag >> 32) {
	case TAG_LISTEN:
		switch_port_accept(sw);
		break;
	case TAG_CTL_LISTEN:
		switch_ctl_accept(sw);
		break;
	case TAG_STOP:
		switch_wakeup(sw, sw->stop_fd, false);
		break;
	case TAG_SIGNAL:
		switch_wakeup(sw, sw->signal_fd, true);
		break;
	case TAG_PORT:
		switch_port_event(sw, idx, events);
		break;
	case TAG_CTL:
		switch_ctl_event(sw, idx, events);
		break;
	}
}

int switch_run(struct eth_switch *sw)
{
	struct epoll_event ev[SWITCH_EVENTS];
	int n, ret;

	sw->stopping = false;
	while (!sw->stopping) {
		n = epoll_wait(sw->epoll_fd, ev, SWITCH_EVENTS,
			       SWITCH_SWEEP_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			pr_err("switch: epoll_wait: %s", strerror(-ret));
			return ret;
		}
		sw->now_ms = switch_clock_ms();
		for (int i = 0; i < n; i++)
			switch_dispatch(sw, ev[i].data.u64, ev[i].events);
		switch_port_reap(sw);
		if (sw->now_ms - sw->swept_ms >= SWITCH_SWEEP_MS) {
			fdb_age(&sw->fdb, sw->now_ms);
			switch_ctl_expire(sw);
			sw->swept_ms = sw->now_ms;
		}
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void switch_destroy(struct eth_switch *sw)
{
	if (!sw)
		return;
	for (unsigned i = 0; i < SWITCH_MAX_PORTS; i++)
		switch_port_close(sw, i);
	for (unsigned i = 0; i < SWITCH_MAX_CTL; i++)
		switch_ctl_close(sw, i);
	if (sw->listen_fd >= 0)
		unlink_ours(sw->opts.socket_path, sw->listen_ino);
	if (sw->ctl_fd >= 0)
		unlink_ours(sw->ctl_path, sw->ctl_ino);
	close_fd(&sw->listen_fd);
	close_fd(&sw->ctl_fd);
	close_fd(&sw->stop_fd);
	close_fd(&sw->signal_fd);
	close_fd(&sw->epoll_fd);
	if (sw->mask_saved)
		pthread_sigmask(SIG_SETMASK, &sw->old_mask, NULL);
	free(sw->rx);
	free(sw);
}

int switch_port_stats(const struct eth_switch *sw, unsigned id,
		      struct switch_port_stats *st, unsigned *macs)
{
	if (id >= SWITCH_MAX_PORTS || sw->port[id].fd < 0)
		return -ENOENT;
	*st = sw->port[id].st;
	if (macs)
		*macs = fdb_count_port(&sw->fdb, id, sw->now_ms);
	return 0;
}
