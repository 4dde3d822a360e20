/* SPDX-License-Identifier: MIT */
/* The registry's processes: start, stop, pause, resume, exits, re-adoption
 * after a restart. See registry_int.h for the locking rules. */
#include "daemon/registry_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/dlog.h"
#include "daemon/meter.h"
#include "util/status_file.h"
#include "vm/vm.h"

#define START_TIMEOUT_MS   15000 /* from spawn to a control socket answer */
#define CONTROL_TIMEOUT_MS 10000
#define QUIT_GRACE_MS	   2000 /* after quit, before SIGKILL */
#define KILL_GRACE_MS	   2000
#define ADOPT_TIMEOUT_MS   3000

static bool live(const struct vm_rec *rec)
{
	return rec->row.state == VM_RUNNING || rec->row.state == VM_PAUSED;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- exits --------------------------------------------------------------- */

/* rec's process is gone: record why (note, if any, then what berth wrote
 * in its status file), and when. Lock held. */
static void rec_mark_stopped(struct registry *r, struct vm_rec *rec,
			     const char *note)
{
	char said[256], why[512];
	int status;
	struct stat st;
	int64_t when = now_ms();

	if (status_file_read(rec->paths.status, &status, said, sizeof(said))) {
		status = -1;
		snprintf(said, sizeof(said),
			 "berth ended without writing its exit status "
			 "(killed?)");
	} else if (!stat(rec->paths.status, &st) &&
		   (int64_t)st.st_mtime * 1000 >= rec->row.started_at) {
		/* It may have stopped long before anyone looked. */
		when = (int64_t)st.st_mtime * 1000 +
		       st.st_mtim.tv_nsec / 1000000;
	}
	snprintf(why, sizeof(why), "%s%s%s", note ? note : "",
		 note && *note ? ": " : "", said);
	rec->row.state = VM_STOPPED;
	rec->row.stopped_at = when;
	rec->row.exit_status = status;
	rec_set_reason(rec, why);
	rec->stop_note[0] = '\0';
	reg_persist(r, rec);
	pthread_cond_broadcast(&r->changed);
	if (status >= 0)
		dlog_vm(LOG_INFO, rec->row.id, "stopped: %s (exit status %d)",
			why, status);
	else
		dlog_vm(LOG_INFO, rec->row.id, "stopped: %s", why);
}

void rec_reap(struct registry *r, struct vm_rec *rec)
{
	if (rec->pidfd < 0 || !vmproc_exited(rec->pidfd))
		return;
	/* Before reaping: the zombie still shows its CPU time. */
	meter_vm_exited(r, rec, now_ms());
	vmproc_reap(rec->pidfd);
	close(rec->pidfd);
	rec->pidfd = -1;
	rec_mark_stopped(r, rec, rec->stop_note);
}

/* Is pid a VM process being watched? Lock held. */
static bool watched_pid(struct registry *r, pid_t pid)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (r->vms[i]->pidfd >= 0 && r->vms[i]->row.pid == pid)
			return true;
	return false;
}

void reg_reap_strays(struct registry *r)
{
	siginfo_t si;

	pthread_mutex_lock(&r->lock);
	while (!r->spawning) {
		si.si_pid = 0;
		/* WNOWAIT: look first; a VM's zombie is rec_reap's to reap,
		 * after the sampler has read its CPU time. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) ||
		    !si.si_pid || watched_pid(r, si.si_pid))
			break;
		if (waitpid(si.si_pid, NULL, WNOHANG) <= 0)
			break;
	}
	pthread_mutex_unlock(&r->lock);
}

void rec_release(struct registry *r, struct vm_rec *rec,
		 struct json_object **vm)
{
	pthread_mutex_lock(&r->lock);
	rec->busy = false;
	if (vm)
		*vm = rec_to_json(rec);
	pthread_mutex_unlock(&r->lock);
}

/* Wait up to ms for rec to stop; true if it has. Takes the lock. Polls the
 * pidfd itself too, so it works before the main loop runs. */
static bool wait_stopped(struct registry *r, struct vm_rec *rec, uint64_t ms)
{
	uint64_t deadline = mono_ms() + ms, now;
	struct timespec ts;
	bool stopped;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		rec_reap(r, rec);
		stopped = rec->row.state == VM_STOPPED;
		now = mono_ms();
		if (stopped || now >= deadline)
			break;
		now += deadline - now < 100 ? deadline - now : 100;
		ts.tv_sec = (time_t)(now / 1000);
		ts.tv_nsec = (long)(now % 1000) * 1000000;
		pthread_cond_timedwait(&r->changed, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return stopped;
}

/* Note why berthd ends the process, then send sig through the pidfd. */
static void rec_signal(struct registry *r, struct vm_rec *rec, int sig,
		       const char *note)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	snprintf(rec->stop_note, sizeof(rec->stop_note), "%s", note);
	if (rec->pidfd >= 0)
		ret = vmproc_kill(rec->pidfd, sig);
	pthread_mutex_unlock(&r->lock);
	if (ret)
		dlog_vm(LOG_WARN, rec->row.id, "cannot send signal %d: %s", sig,
			strerror(-ret));
}

static void rec_note(struct registry *r, struct vm_rec *rec, const char *note)
{
	pthread_mutex_lock(&r->lock);
	snprintf(rec->stop_note, sizeof(rec->stop_note), "%s", note);
	pthread_mutex_unlock(&r->lock);
}

/* ---- start -------------------------------------------------------------- */

/* berth run's whole command line for rec. Lock held. */
static int build_argv(struct registry *r, struct vm_rec *rec, char **argv,
		      struct field_error *err)
{
	const struct vmdef *d = &rec->def;
	char cgroup[32];
	int n;

	snprintf(cgroup, sizeof(cgroup), "berth/%s", rec->row.id);
	/* berth run joins a cgroup only for a weight or a cap: a VM without
	 * them runs where cgroups cannot be made too. */
	n = vmdef_run_args(d, d->cpu_weight || d->cpu_cap > 0 ? cgroup : NULL,
			   argv + 2);
	if (n < 0)
		return reg_error(err, n, "out of memory");
	argv[0] = strdup("berth");
	argv[1] = strdup("run");
	n += 2;
	argv[n++] = strdup("--control");
	argv[n++] = strdup(rec->paths.control);
	argv[n++] = strdup("--serial");
	if (asprintf(&argv[n++], "file:%s", rec->paths.console) < 0)
		argv[n - 1] = NULL;
	argv[n++] = strdup("--status-file");
	argv[n++] = strdup(rec->paths.status);
	argv[n] = NULL;
	for (int i = 0; i < n; i++)
		if (!argv[i])
			return reg_error(err, -ENOMEM, "out of memory");
	(void)r;
	return 0;
}

static void free_argv(char **argv, int max)
{
	for (int i = 0; i < max && argv[i]; i++)
		free(argv[i]);
}

/* Spawn berth run and start watching it. */
static int launch(struct registry *r, struct vm_rec *rec, char **argv,
		  struct field_error *err)
{
	uint64_t start = 0, one = 1;
	int ret, pidfd;
	pid_t pid;

	unlink(rec->paths.status);
	pthread_mutex_lock(&r->lock);
	r->spawning++; /* until its pidfd is in rec: not a stray */
	pthread_mutex_unlock(&r->lock);
	ret = vmproc_spawn(r->exe, argv, &rec->paths, &pid);
	if (ret) {
		pthread_mutex_lock(&r->lock);
		r->spawning--;
		pthread_mutex_unlock(&r->lock);
		return reg_error(err, ret, "cannot start berth: %s",
				 strerror(-ret));
	}
	/* Both fail only if it is gone already; rec_reap then sees that. */
	if (proc_start_time(pid, &start))
		start = 0;
	pidfd = vmproc_pidfd(pid);
	pthread_mutex_lock(&r->lock);
	rec->row.state = VM_RUNNING;
	rec->row.pid = pid;
	rec->row.pid_start = start;
	rec->row.started_at = now_ms();
	rec->row.stopped_at = 0;
	rec->row.exit_status = -1;
	rec_set_reason(rec, NULL);
	rec->stop_note[0] = '\0';
	rec->pidfd = pidfd;
	r->spawning--;
	meter_vm_started(r, rec);
	reg_persist(r, rec);
	if (pidfd < 0)
		rec_mark_stopped(r, rec, "berth exited at once");
	pthread_mutex_unlock(&r->lock);
	if (write(r->wake_fd, &one, sizeof(one)) < 0)
		dlog(LOG_WARN, "cannot wake the main loop: %s",
		     strerror(errno));
	dlog_vm(LOG_INFO, rec->row.id, "started pid %d", (int)pid);
	return 0;
}

/* The VM stopped before its control socket answered. A guest that ran
 * and finished that fast (status 0, 4 or odd) was started all right; a
 * berth that could not set the VM up (2: bad definition, 6: host, none:
 * killed) failed, and says why on its last log line. */
static int start_failed(struct vm_rec *rec, struct field_error *err)
{
	char line[256];
	int status = rec->row.exit_status;

	if (status >= 0 && status != BERTH_EXIT_USAGE &&
	    status != BERTH_EXIT_HOST)
		return 0;
	vmproc_last_line(rec->paths.log, line, sizeof(line));
	return reg_error(err, status == BERTH_EXIT_USAGE ? -EINVAL : -EIO,
			 "the VM stopped at once (exit status %d): %s", status,
			 *line ? line
			       : (rec->row.stop_reason ? rec->row.stop_reason
						       : "no reason given"));
}

/* Wait until the control socket answers with the VM's pid. */
static int wait_ready(struct registry *r, struct vm_rec *rec,
		      struct field_error *err)
{
	uint64_t deadline = mono_ms() + START_TIMEOUT_MS;
	struct json_object *reply, *pid;
	char msg[256] = "it answered with another pid";
	bool stopped;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		rec_reap(r, rec);
		stopped = rec->row.state == VM_STOPPED;
		pthread_mutex_unlock(&r->lock);
		if (stopped)
			return start_failed(rec, err);
		if (!vmproc_control(rec->paths.control, "status", 1000, &reply,
				    msg, sizeof(msg))) {
			bool mine =
				json_object_object_get_ex(reply, "pid", &pid) &&
				json_object_get_int(pid) == rec->row.pid;

			json_object_put(reply);
			if (mine)
				return 0;
		}
		if (mono_ms() >= deadline)
			break;
		/* berth needs 20 to 40 ms to listen: a short poll keeps
		 * start latency (and VMs started per second) close to that,
		 * and a failed connect costs microseconds. */
		usleep(5000);
	}
	rec_signal(r, rec, SIGKILL,
		   "its control socket did not answer within 15 s: killed");
	wait_stopped(r, rec, KILL_GRACE_MS);
	return reg_error(err, -ETIMEDOUT,
			 "the VM's control socket did not answer within 15 s "
			 "(%s); it was killed",
			 msg);
}

int reg_start(struct registry *r, const char *key, struct json_object **vm,
	      struct field_error *err)
{
	char *argv[VMDEF_MAX_ARGS + 12] = {0};
	struct vm_rec *rec;
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = reg_find_idle(r, key, &rec, err);
	if (!ret && live(rec))
		ret = reg_error(err, -EBUSY, "VM %s is already %s", rec->row.id,
				vm_state_name(rec->row.state));
	if (!ret)
		ret = build_argv(r, rec, argv, err);
	if (!ret)
		rec->busy = true;
	pthread_mutex_unlock(&r->lock);
	if (!ret) {
		ret = launch(r, rec, argv, err);
		if (!ret)
			ret = wait_ready(r, rec, err);
		rec_release(r, rec, ret ? NULL : vm);
	}
	free_argv(argv, VMDEF_MAX_ARGS + 12);
	return ret;
}

/* ---- stop, pause, resume --------------------------------------------------- */

/* Ask the guest to shut down and give it timeout_s; true if it stopped. */
static bool stop_graceful(struct registry *r, struct vm_rec *rec,
			  unsigned timeout_s, bool paused)
{
	char msg[256];
	int ret = 0;

	/* A paused guest cannot see Ctrl-Alt-Del: let it run first. */
	if (paused)
		ret = vmproc_control(rec->paths.control, "resume",
				     CONTROL_TIMEOUT_MS, NULL, msg,
				     sizeof(msg));
	rec_note(r, rec, "stopped by request");
	if (!ret)
		ret = vmproc_control(rec->paths.control, "shutdown",
				     CONTROL_TIMEOUT_MS, NULL, msg,
				     sizeof(msg));
	if (ret) {
		dlog_vm(LOG_INFO, rec->row.id, "no graceful shutdown: %s", msg);
		return wait_stopped(r, rec, 0);
	}
	return wait_stopped(r, rec, (uint64_t)timeout_s * 1000);
}

/* quit, then SIGKILL; true once the process is gone. */
static bool stop_hard(struct registry *r, struct vm_rec *rec,
		      unsigned timeout_s, bool force)
{
	char note[160], msg[256];

	if (force)
		snprintf(note, sizeof(note), "stopped by request (forced)");
	else
		snprintf(note, sizeof(note),
			 "stopped by request: the guest did not shut down "
			 "within %u s",
			 timeout_s);
	rec_note(r, rec, note);
	if (vmproc_control(rec->paths.control, "quit", CONTROL_TIMEOUT_MS, NULL,
			   msg, sizeof(msg)))
		dlog_vm(LOG_INFO, rec->row.id, "quit failed: %s", msg);
	else if (wait_stopped(r, rec, QUIT_GRACE_MS))
		return true;
	snprintf(note + strlen(note), sizeof(note) - strlen(note),
		 "; killed with SIGKILL");
	rec_signal(r, rec, SIGKILL, note);
	return wait_stopped(r, rec, KILL_GRACE_MS);
}

int reg_stop(struct registry *r, const char *key, unsigned timeout_s,
	     bool force, struct json_object **vm, struct field_error *err)
{
	struct vm_rec *rec;
	bool paused, stopped = false;
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = reg_find_idle(r, key, &rec, err);
	if (!ret && !live(rec))
		ret = reg_error(err, -EBUSY, "VM %s is %s, not running",
				rec->row.id, vm_state_name(rec->row.state));
	if (!ret) {
		rec->busy = true;
		paused = rec->row.state == VM_PAUSED;
	}
	pthread_mutex_unlock(&r->lock);
	if (ret)
		return ret;
	dlog_vm(LOG_INFO, rec->row.id, "stopping (%s)",
		force ? "forced" : "graceful");
	/* For a process berthd did not start (re-adopted), this look is the
	 * last: it cannot read the CPU time of a process it cannot reap. */
	meter_vm_sample(r, rec->row.id);
	if (!force)
		stopped = stop_graceful(r, rec, timeout_s, paused);
	if (!stopped)
		stopped = stop_hard(r, rec, timeout_s, force);
	rec_release(r, rec, vm);
	if (!stopped)
		return reg_error(err, -EIO,
				 "VM %s did not stop, even after SIGKILL", key);
	return 0;
}

/* After a failed control request: the VM may have just stopped. */
static int control_failed(struct registry *r, struct vm_rec *rec,
			  const char *msg, struct field_error *err)
{
	rec_reap(r, rec);
	if (rec->row.state == VM_STOPPED)
		return reg_error(err, -EBUSY, "VM %s stopped meanwhile",
				 rec->row.id);
	return reg_error(err, -EIO, "VM %s: %s", rec->row.id, msg);
}

int reg_pause(struct registry *r, const char *key, bool pause,
	      struct json_object **vm, struct field_error *err)
{
	enum vm_state from = pause ? VM_RUNNING : VM_PAUSED;
	enum vm_state to = pause ? VM_PAUSED : VM_RUNNING;
	struct vm_rec *rec;
	char msg[256];
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = reg_find_idle(r, key, &rec, err);
	if (!ret && rec->row.state != from)
		ret = reg_error(err, -EBUSY, "VM %s is %s, not %s", rec->row.id,
				vm_state_name(rec->row.state),
				vm_state_name(from));
	if (!ret)
		rec->busy = true;
	pthread_mutex_unlock(&r->lock);
	if (ret)
		return ret;
	ret = vmproc_control(rec->paths.control, pause ? "pause" : "resume",
			     CONTROL_TIMEOUT_MS, NULL, msg, sizeof(msg));
	pthread_mutex_lock(&r->lock);
	if (ret) {
		ret = control_failed(r, rec, msg, err);
	} else if (rec->row.state == from) {
		rec->row.state = to;
		reg_persist(r, rec);
		dlog_vm(LOG_INFO, rec->row.id, "%s",
			pause ? "paused" : "resumed");
	}
	pthread_mutex_unlock(&r->lock);
	rec_release(r, rec, ret ? NULL : vm);
	return ret;
}

int reg_stats(struct registry *r, const char *key, struct json_object **out,
	      struct field_error *err)
{
	struct vm_paths paths;
	struct vm_rec *rec;
	char msg[256], id[VM_ID_LEN + 1];
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = reg_find_idle(r, key, &rec, err);
	if (ret == -EBUSY)
		ret = 0; /* reading counters does not get in anyone's way */
	if (!ret && !live(rec))
		ret = reg_error(err, -EBUSY, "VM %s is %s, not running",
				rec->row.id, vm_state_name(rec->row.state));
	if (!ret) {
		paths = rec->paths;
		memcpy(id, rec->row.id, sizeof(id));
	}
	pthread_mutex_unlock(&r->lock);
	if (ret)
		return ret;
	ret = vmproc_control(paths.control, "stats", CONTROL_TIMEOUT_MS, out,
			     msg, sizeof(msg));
	if (ret)
		return reg_error(err, -EIO, "VM %s: %s", id, msg);
	json_object_object_del(*out, "ok");
	json_object_object_add(*out, "id", json_object_new_string(id));
	return 0;
}

int reg_console(struct registry *r, const char *key, uint64_t tail, char **text,
		size_t *len, struct field_error *err)
{
	char path[sizeof(((struct vm_paths *)0)->console)];
	struct vm_rec *rec;
	struct stat st;
	ssize_t n = 0;
	int fd, ret;

	pthread_mutex_lock(&r->lock);
	ret = reg_find_idle(r, key, &rec, err);
	if (ret == -EBUSY)
		ret = 0;
	if (!ret)
		memcpy(path, rec->paths.console, sizeof(path));
	pthread_mutex_unlock(&r->lock);
	if (ret)
		return ret;
	*len = 0;
	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st)) {
		if ((uint64_t)st.st_size < tail)
			tail = (uint64_t)st.st_size;
		*text = malloc(tail + 1);
		if (*text)
			n = pread(fd, *text, tail, st.st_size - (off_t)tail);
	}
	if (fd >= 0)
		close(fd);
	if (!*text)
		*text = calloc(1, 1); /* no console output yet */
	if (!*text)
		return reg_error(err, -ENOMEM, "out of memory");
	*len = n > 0 ? (size_t)n : 0;
	return 0;
}

/* ---- after a restart ---------------------------------------------------- */

/* Does the control socket answer with the pid berthd knows? */
static bool answers_as(const struct vm_rec *rec, enum vm_state *state)
{
	uint64_t deadline = mono_ms() + ADOPT_TIMEOUT_MS;
	struct json_object *reply, *pid, *st;
	char msg[256];
	bool mine;

	do {
		if (!vmproc_control(rec->paths.control, "status", 1000, &reply,
				    msg, sizeof(msg))) {
			mine = json_object_object_get_ex(reply, "pid", &pid) &&
			       json_object_get_int(pid) == rec->row.pid;
			*state = json_object_object_get_ex(reply, "state",
							   &st) &&
						 !strcmp(json_object_get_string(
								 st),
							 "paused")
					 ? VM_PAUSED
					 : VM_RUNNING;
			json_object_put(reply);
			return mine;
		}
		usleep(100000);
	} while (mono_ms() < deadline);
	return false;
}

/* One VM the database says runs. Lock held; nothing else runs yet. */
static void recover_one(struct registry *r, struct vm_rec *rec)
{
	enum vm_state state;
	uint64_t start;
	int pidfd;

	if (rec->row.pid <= 0 || proc_start_time(rec->row.pid, &start) ||
	    start != rec->row.pid_start) {
		rec_mark_stopped(r, rec, "process died while berthd was down");
		return;
	}
	pidfd = vmproc_pidfd(rec->row.pid);
	if (pidfd >= 0 && answers_as(rec, &state)) {
		rec->pidfd = pidfd;
		meter_vm_adopted(r, rec);
		if (rec->row.state != state) {
			rec->row.state = state;
			reg_persist(r, rec);
		}
		dlog_vm(LOG_INFO, rec->row.id, "re-adopted pid %d (%s)",
			rec->row.pid, vm_state_name(state));
		return;
	}
	/* Alive but deaf: a VM nobody can control is stopped for good rather
	 * than left running unseen. */
	if (pidfd >= 0) {
		if (vmproc_kill(pidfd, SIGKILL) == 0)
			for (int i = 0; i < 20 && !vmproc_exited(pidfd); i++)
				usleep(100000);
		close(pidfd);
	}
	rec_mark_stopped(r, rec,
			 "its control socket did not answer after berthd "
			 "restarted: killed");
}

void registry_recover(struct registry *r)
{
	struct field_error err;
	char(*ids)[VM_ID_LEN + 1];
	unsigned n = 0;

	pthread_mutex_lock(&r->lock);
	ids = calloc(r->nr ? r->nr : 1, sizeof(*ids));
	for (unsigned i = 0; i < r->nr; i++) {
		struct vm_rec *rec = r->vms[i];

		if (live(rec))
			recover_one(r, rec);
		if (ids && rec->def.autostart && !live(rec))
			memcpy(ids[n++], rec->row.id, sizeof(ids[0]));
	}
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < n; i++) {
		dlog_vm(LOG_INFO, ids[i], "autostart");
		if (reg_start(r, ids[i], NULL, &err))
			dlog_vm(LOG_ERR, ids[i], "autostart failed: %s",
				err.msg);
	}
	free(ids);
}
