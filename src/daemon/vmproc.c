/* SPDX-License-Identifier: MIT */
#include "daemon/vmproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/dlog.h"

/* stats with 64 vCPUs, 8 disks and 8 NICs is about 8 KiB. */
#define CONTROL_REPLY_MAX 65536

int vm_paths_init(struct vm_paths *p, const char *state_dir, const char *id)
{
	int n = snprintf(p->dir, sizeof(p->dir), "%s/vms/%s", state_dir, id);

	if (n < 0 || (size_t)n >= sizeof(p->dir) ||
	    (size_t)snprintf(p->control, sizeof(p->control), "%s/control.sock",
			     p->dir) >= sizeof(p->control))
		return -ENAMETOOLONG;
	snprintf(p->console, sizeof(p->console), "%s/console.log", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/berth.log", p->dir);
	snprintf(p->status, sizeof(p->status), "%s/status.json", p->dir);
	return 0;
}

/* ---- spawning -------------------------------------------------------- */

/* The grandchild: between fork and exec only async-signal-safe calls. Fd 3
 * is the report pipe (close-on-exec): it carries errno if exec fails. */
static void __attribute__((noreturn))
spawn_exec(const char *exe, char *const argv[], int in, int out, int report)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int err;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
	    (report != 3 && dup3(report, 3, O_CLOEXEC) < 0))
		goto fail;
	/* Nothing of berthd's (its API socket above all) may live on in the
	 * VM: a stale copy would keep the socket alive after berthd dies. */
	syscall(SYS_close_range, 4U, ~0U, 0U);
	execv(exe, argv);
fail:
	err = errno;
	if (write(3, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/* The middle child: a new session, then the VM process, whose pid goes
 * back through the pipe; exiting at once makes init the VM's parent. */
static void __attribute__((noreturn))
spawn_middle(const char *exe, char *const argv[], int in, int out, int pipe_w)
{
	pid_t pid;

	setsid();
	pid = fork();
	if (pid == 0)
		spawn_exec(exe, argv, in, out, pipe_w);
	if (pid < 0)
		pid = -errno;
	if (write(pipe_w, &pid, sizeof(pid)) < 0)
		_exit(1);
	_exit(0);
}

/* Read the VM's pid, then either EOF (exec worked) or exec's errno. */
static int spawn_report(int fd, pid_t *pid)
{
	ssize_t n;
	int err;

	do
		n = read(fd, pid, sizeof(*pid));
	while (n < 0 && errno == EINTR);
	if (n != sizeof(*pid))
		return -EIO;
	if (*pid < 0)
		return *pid;
	do
		n = read(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	return n == sizeof(err) ? -err : 0;
}

static int spawn_fork(const char *exe, char *const argv[], int in, int out,
		      pid_t *pid)
{
	int fds[2], ret, status;
	pid_t middle;

	*pid = 0;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	middle = fork();
	if (middle == 0)
		spawn_middle(exe, argv, in, out, fds[1]);
	ret = middle < 0 ? -errno : 0;
	close(fds[1]);
	if (!ret) {
		ret = spawn_report(fds[0], pid);
		while (waitpid(middle, &status, 0) < 0 && errno == EINTR)
			;
		/* exec failed: the VM process, berthd's child now (subreaper)
		 * or init's, is exiting; reap it if it is ours. */
		if (ret && *pid > 0)
			while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
				;
	}
	close(fds[0]);
	return ret;
}

int vmproc_spawn(const char *exe, char *const argv[], const struct vm_paths *p,
		 pid_t *pid)
{
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret;

	if (in < 0 || out < 0)
		ret = -errno;
	else
		ret = spawn_fork(exe, argv, in, out, pid);
	if (ret)
		dlog(LOG_ERR, "cannot start %s for %s: %s", exe, p->dir,
		     strerror(-ret));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ret;
}

/* ---- processes ------------------------------------------------------- */

int proc_start_time(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return -ESRCH;
	p += 2;
	/* p is field 3 (state); field 22 is 19 fields further on. */
	for (int i = 0; i < 19 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &v) != 1)
		return -ESRCH;
	*start = v;
	return 0;
}

int vmproc_pidfd(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

bool vmproc_exited(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

void vmproc_reap(int pidfd)
{
	siginfo_t si;

	/* ECHILD: a VM a previous berthd started; init reaps it. */
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0 &&
	       errno == EINTR)
		;
}

int vmproc_kill(int pidfd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	return 0;
}

/* ---- the control socket ---------------------------------------------- */

static int control_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			     .tv_usec = (timeout_ms % 1000) * 1000};
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* Read one line (without its newline) into buf; -errno, -ECONNRESET if the
 * VM closed the connection first (it serves 8 at a time). */
static int control_read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1) {
		n = recv(fd, buf + got, len - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
		buf[got] = '\0';
		if (memchr(buf, '\n', got)) {
			*strchr(buf, '\n') = '\0';
			return 0;
		}
	}
	return -EMSGSIZE;
}

static int control_parse(const char *line, struct json_object **reply,
			 char *err, size_t len)
{
	struct json_object *o = json_tokener_parse(line), *ok, *msg;

	if (!o || !json_object_object_get_ex(o, "ok", &ok)) {
		json_object_put(o);
		snprintf(err, len, "the control socket's reply is not JSON");
		return -EPROTO;
	}
	if (!json_object_get_boolean(ok)) {
		snprintf(err, len, "%s",
			 json_object_object_get_ex(o, "error", &msg)
				 ? json_object_get_string(msg)
				 : "the VM refused");
		json_object_put(o);
		return -EREMOTEIO;
	}
	if (reply)
		*reply = o;
	else
		json_object_put(o);
	return 0;
}

static int control_once(const char *path, const char *cmd, int timeout_ms,
			struct json_object **reply, char *err, size_t len)
{
	char req[64], *line;
	int fd, ret, n;

	n = snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
	fd = control_connect(path, timeout_ms);
	if (fd < 0) {
		snprintf(err, len, "cannot connect to %s: %s", path,
			 strerror(-fd));
		return fd;
	}
	line = malloc(CONTROL_REPLY_MAX);
	ret = line ? 0 : -ENOMEM;
	if (!ret && send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		ret = -EIO;
	if (!ret)
		ret = control_read_line(fd, line, CONTROL_REPLY_MAX);
	close(fd);
	if (ret)
		snprintf(err, len, "no answer from %s: %s", path,
			 strerror(-ret));
	else
		ret = control_parse(line, reply, err, len);
	free(line);
	return ret;
}

int vmproc_control(const char *path, const char *cmd, int timeout_ms,
		   struct json_object **reply, char *err, size_t len)
{
	int ret;

	/* A VM serves 8 connections and closes a ninth at once: try again
	 * a few times before calling it an error. */
	for (int i = 0;; i++) {
		ret = control_once(path, cmd, timeout_ms, reply, err, len);
		if (ret != -ECONNRESET || i == 4)
			return ret;
		usleep(20000 << i);
	}
}

void vmproc_last_line(const char *path, char *buf, size_t len)
{
	char tail[512], *end, *start;
	ssize_t n;
	off_t size;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(tail) - 1)
		lseek(fd, size - (off_t)sizeof(tail) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, tail, sizeof(tail) - 1);
	close(fd);
	if (n <= 0)
		return;
	tail[n] = '\0';
	end = tail + n;
	while (end > tail && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(tail, '\n');
	snprintf(buf, len, "%s", start ? start + 1 : tail);
}
