/* SPDX-License-Identifier: MIT */
#include "cli/control.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/blk.h"
#include "virtio/net.h"

/* ---- what the requests report ------------------------------------------ */

static uint64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000 +
	       (uint64_t)(now.tv_nsec / 1000000) -
	       (uint64_t)(since->tv_nsec / 1000000);
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static const char *vm_state(struct vm *vm)
{
	if (atomic_load(&vm->stopping))
		return "stopping";
	return vm_paused(vm) ? "paused" : "running";
}

static void report_status(struct control *c, struct json_object *r)
{
	json_object_object_add(r, "state",
			       json_object_new_string(vm_state(c->t.vm)));
	add_u64(r, "pid", (uint64_t)getpid());
	add_u64(r, "uptime_ms", elapsed_ms(&c->start));
	add_u64(r, "vcpus", c->t.cpus);
	add_u64(r, "mem_bytes", c->t.mem);
	json_object_object_add(r, "kernel",
			       json_object_new_string(c->t.kernel));
}

/* A thread's CPU time, and how long it waited runnable for a CPU: the time
 * the host took away from it (its steal). */
static void thread_times(const struct vcpu *v, uint64_t *cpu_ns,
			 uint64_t *wait_ns)
{
	unsigned long long run = 0, wait = 0;
	char path[64];
	FILE *f;

	*cpu_ns = *wait_ns = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat",
		 atomic_load(&v->tid));
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
		*cpu_ns = run;
		*wait_ns = wait;
	}
	fclose(f);
}

static void report_cpu(struct control *c, struct json_object *r)
{
	struct json_object *vcpus = json_object_new_array();
	uint64_t steal = 0;
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	add_u64(r, "cpu_user_ns",
		(uint64_t)ru.ru_utime.tv_sec * 1000000000 +
			(uint64_t)ru.ru_utime.tv_usec * 1000);
	add_u64(r, "cpu_system_ns",
		(uint64_t)ru.ru_stime.tv_sec * 1000000000 +
			(uint64_t)ru.ru_stime.tv_usec * 1000);
	for (unsigned i = 0; i < c->t.vm->nr_vcpus; i++) {
		struct json_object *v = json_object_new_object();
		uint64_t cpu, wait;

		thread_times(&c->t.vm->vcpus[i], &cpu, &wait);
		add_u64(v, "id", i);
		add_u64(v, "cpu_ns", cpu);
		add_u64(v, "steal_ns", wait);
		steal += wait;
		json_object_array_add(vcpus, v);
	}
	add_u64(r, "steal_ns", steal);
	json_object_object_add(r, "vcpu_threads", vcpus);
}

static void report_memory(struct control *c, struct json_object *r)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	add_u64(r, "rss_bytes", (uint64_t)resident * (uint64_t)getpagesize());
	add_u64(r, "guest_resident_bytes", guest_mem_resident(&c->t.vm->mem));
}

static void report_devices(struct control *c, struct json_object *r)
{
	struct json_object *disks = json_object_new_array();
	struct json_object *nics = json_object_new_array();

	for (unsigned i = 0; i < c->t.nr_disks; i++) {
		struct json_object *d = json_object_new_object();
		struct virtio_blk_stats st;

		virtio_blk_get_stats(c->t.disks[i], &st);
		json_object_object_add(
			d, "name", json_object_new_string(c->t.disks[i]->name));
		add_u64(d, "read_ops", st.read_ops);
		add_u64(d, "read_bytes", st.read_bytes);
		add_u64(d, "write_ops", st.write_ops);
		add_u64(d, "write_bytes", st.write_bytes);
		add_u64(d, "flush_ops", st.flush_ops);
		add_u64(d, "discard_ops", st.discard_ops);
		add_u64(d, "errors", st.errors);
		json_object_array_add(disks, d);
	}
	for (unsigned i = 0; i < c->t.nr_nics; i++) {
		struct json_object *n = json_object_new_object();
		struct virtio_net_stats st;

		virtio_net_get_stats(c->t.nics[i], &st);
		json_object_object_add(
			n, "name", json_object_new_string(c->t.nics[i]->name));
		add_u64(n, "rx_packets", st.rx_frames);
		add_u64(n, "rx_bytes", st.rx_bytes);
		add_u64(n, "tx_packets", st.tx_frames);
		add_u64(n, "tx_bytes", st.tx_bytes);
		add_u64(n, "rx_dropped", st.rx_dropped);
		add_u64(n, "tx_dropped", st.tx_dropped);
		json_object_array_add(nics, n);
	}
	json_object_object_add(r, "disks", disks);
	json_object_object_add(r, "nics", nics);
}

/* ---- requests ------------------------------------------------------------ */

/* Run cmd; NULL on success, else what was wrong. */
static const char *control_do(struct control *c, const char *cmd,
			      struct json_object *r)
{
	struct vm *vm = c->t.vm;

	if (!strcmp(cmd, "status")) {
		report_status(c, r);
	} else if (!strcmp(cmd, "stats")) {
		report_status(c, r);
		report_cpu(c, r);
		report_memory(c, r);
		report_devices(c, r);
	} else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		if (atomic_load(&vm->stopping))
			return "the VM is stopping";
		if (cmd[0] == 'p')
			vm_pause(vm);
		else
			vm_resume(vm);
		json_object_object_add(r, "state",
				       json_object_new_string(vm_state(vm)));
	} else if (!strcmp(cmd, "shutdown")) {
		if (vm_paused(vm))
			return "the VM is paused: resume it first";
		if (i8042_ctrl_alt_del(&vm->i8042))
			return "the guest is not reading its keyboard";
	} else if (!strcmp(cmd, "quit")) {
		vm_stop(vm, BERTH_EXIT_OK,
			"stopped through the control socket");
	} else {
		return "unknown cmd (status, stats, pause, resume, shutdown, "
		       "quit)";
	}
	return NULL;
}

void control_handle(struct control *c, const char *line, char *reply,
		    size_t len)
{
	struct json_object *req, *cmd, *r = json_object_new_object();
	const char *err = NULL;

	req = json_tokener_parse(line);
	if (!req || !json_object_is_type(req, json_type_object))
		err = "not a JSON object";
	else if (!json_object_object_get_ex(req, "cmd", &cmd) ||
		 !json_object_is_type(cmd, json_type_string))
		err = "no \"cmd\" string";
	else
		err = control_do(c, json_object_get_string(cmd), r);
	if (err) {
		json_object_put(r);
		r = json_object_new_object();
		json_object_object_add(r, "ok", json_object_new_boolean(0));
		json_object_object_add(r, "error", json_object_new_string(err));
	} else {
		json_object_object_add(r, "ok", json_object_new_boolean(1));
	}
	snprintf(reply, len, "%s",
		 json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	json_object_put(r);
	json_object_put(req);
}

/* ---- the server ---------------------------------------------------------- */

static void client_close(struct control_client *cl)
{
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

static void reply_line(struct control_client *cl, const char *s)
{
	size_t n = strlen(s);

	/* Replies are small; a client that does not read them is dropped. */
	if (send(cl->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n ||
	    send(cl->fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
		client_close(cl);
}

/* Read what the client sent; answer every complete line. */
static void client_input(struct control *c, struct control_client *cl)
{
	static char reply[65536];
	ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len,
			 MSG_DONTWAIT);
	char *nl;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_close(cl);
		return;
	}
	cl->len += (size_t)n;
	while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len))) {
		*nl = '\0';
		control_handle(c, cl->buf, reply, sizeof(reply));
		reply_line(cl, reply);
		cl->len -= (size_t)(nl + 1 - cl->buf);
		memmove(cl->buf, nl + 1, cl->len);
	}
	if (cl->fd >= 0 && cl->len == sizeof(cl->buf)) {
		reply_line(cl, "{\"ok\":false,\"error\":\"request line too "
			       "long\"}");
		if (cl->fd >= 0)
			client_close(cl);
	}
}

static void control_accept(struct control *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (c->clients[i].fd < 0) {
			c->clients[i].fd = fd;
			c->clients[i].len = 0;
			return;
		}
	}
	close(fd); /* too many: the client sees end of file */
}

static void *control_thread(void *arg)
{
	struct control *c = arg;
	struct pollfd p[CONTROL_MAX_CLIENTS + 2];

	for (;;) {
		unsigned n = 0;

		p[n++] = (struct pollfd){.fd = c->stop_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
			p[n++] = (struct pollfd){.fd = c->clients[i].fd,
						 .events = POLLIN};
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("control: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[0].revents)
			return NULL;
		if (p[1].revents & POLLIN)
			control_accept(c);
		for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
			if (p[i + 2].revents && c->clients[i].fd >= 0)
				client_input(c, &c->clients[i]);
	}
}

/* Bind path, replacing a socket nobody listens on. */
static int control_bind(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("--control: '%s' is not a socket path (1 to %zu bytes)",
		       path, sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode) ||
		    !connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			pr_err("--control: %s exists and is %s", path,
			       S_ISSOCK(st.st_mode) ? "in use"
						    : "not a socket");
			close(fd);
			return -EEXIST;
		}
		unlink(path); /* stale */
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		err = errno;
		pr_err("--control: cannot listen on %s: %s", path,
		       strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

int control_start(struct control *c, const char *path,
		  const struct control_target *t)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->t = *t;
	c->stop_fd = -1;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->listen_fd = control_bind(path);
	if (c->listen_fd < 0)
		return c->listen_fd;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	ret = c->stop_fd < 0 ? -errno : 0;
	if (!ret)
		ret = -pthread_create(&c->thread, NULL, control_thread, c);
	if (ret) {
		pr_err("--control: cannot start: %s", strerror(-ret));
		control_stop(c);
		return ret;
	}
	c->started = true;
	return 0;
}

void control_stop(struct control *c)
{
	uint64_t one = 1;

	if (c->started) {
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			pr_warn("control: %s", strerror(errno));
		pthread_join(c->thread, NULL);
		c->started = false;
	}
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_close(&c->clients[i]);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->path);
		c->listen_fd = -1;
	}
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	c->stop_fd = -1;
}
