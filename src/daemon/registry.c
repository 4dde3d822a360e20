/* SPDX-License-Identifier: MIT */
/* The registry's records: loading, lookup, JSON, create, list, delete. */
#include "daemon/registry_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/dlog.h"
#include "daemon/meter.h"

int reg_error(struct field_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct vm_rec *reg_find(struct registry *r, const char *key)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (!strcmp(r->vms[i]->row.id, key))
			return r->vms[i];
	for (unsigned i = 0; i < r->nr; i++)
		if (r->vms[i]->row.name && !strcmp(r->vms[i]->row.name, key))
			return r->vms[i];
	return NULL;
}

int reg_find_idle(struct registry *r, const char *key, struct vm_rec **rec,
		  struct field_error *err)
{
	*rec = reg_find(r, key);
	if (!*rec)
		return reg_error(err, -ENOENT, "no VM with id or name '%.64s'",
				 key);
	if ((*rec)->busy)
		return reg_error(err, -EBUSY,
				 "another request is working on VM %s; try "
				 "again when it is done",
				 (*rec)->row.id);
	return 0;
}

void reg_persist(struct registry *r, struct vm_rec *rec)
{
	if (db_vm_update(r->db, &rec->row))
		dlog_vm(LOG_ERR, rec->row.id, "cannot store its state (%s)",
			vm_state_name(rec->row.state));
}

void rec_set_reason(struct vm_rec *rec, const char *reason)
{
	free(rec->row.stop_reason);
	rec->row.stop_reason = reason ? strdup(reason) : NULL;
}

/* ---- JSON ------------------------------------------------------------ */

/* RFC 3339 in UTC with milliseconds, or null for 0 (never). */
static struct json_object *time_json(int64_t ms)
{
	char buf[40];
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms)
		return NULL;
	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ",
		 (int)(ms % 1000));
	return json_object_new_string(buf);
}

static struct json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *rec_to_json(const struct vm_rec *rec)
{
	const struct vm_row *w = &rec->row;
	struct json_object *o = json_object_new_object();
	bool live = w->state == VM_RUNNING || w->state == VM_PAUSED;

	json_object_object_add(o, "id", json_object_new_string(w->id));
	json_object_object_add(o, "name", str_or_null(w->name));
	json_object_object_add(o, "state",
			       json_object_new_string(vm_state_name(w->state)));
	json_object_object_add(o, "pid",
			       live ? json_object_new_int(w->pid) : NULL);
	json_object_object_add(o, "created_at", time_json(w->created_at));
	json_object_object_add(o, "started_at", time_json(w->started_at));
	json_object_object_add(o, "stopped_at", time_json(w->stopped_at));
	json_object_object_add(o, "stop_reason", str_or_null(w->stop_reason));
	json_object_object_add(o, "exit_status",
			       w->exit_status >= 0
				       ? json_object_new_int(w->exit_status)
				       : NULL);
	json_object_object_add(o, "config", vmdef_to_json(&rec->def));
	return o;
}

/* ---- loading ---------------------------------------------------------- */

/* Room for one more record, so that adding it cannot fail. */
static int reg_reserve(struct registry *r)
{
	unsigned cap = r->cap ? r->cap * 2 : 16;
	struct vm_rec **v;

	if (r->nr < r->cap)
		return 0;
	v = realloc(r->vms, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->vms = v;
	r->cap = cap;
	return 0;
}

static int reg_append(struct registry *r, struct vm_rec *rec)
{
	int ret = reg_reserve(r);

	if (!ret)
		r->vms[r->nr++] = rec;
	return ret;
}

static void rec_free(struct vm_rec *rec)
{
	if (!rec)
		return;
	if (rec->pidfd >= 0)
		close(rec->pidfd);
	vm_row_free(&rec->row);
	vmdef_free(&rec->def);
	free(rec);
}

/* A row from the database becomes a record. Files need not exist any more
 * and limits may have changed since it was created: those are checked when
 * a VM is created, not when berthd reads it back. */
static int load_row(void *ctx, struct vm_row *row)
{
	const struct vmdef_limits lim = {.max_memory_mib = INT64_MAX,
					 .host_cpus = 1 << 16};
	struct registry *r = ctx;
	struct vm_rec *rec = calloc(1, sizeof(*rec));
	struct field_error err;

	if (!rec) {
		vm_row_free(row);
		return -ENOMEM;
	}
	rec->row = *row;
	rec->pidfd = -1;
	if (vmdef_parse(&rec->def, row->config, strlen(row->config), &lim,
			&err) ||
	    vm_paths_init(&rec->paths, r->state_dir, row->id)) {
		dlog_vm(LOG_WARN, row->id,
			"its stored definition is unusable (%s%s%s): ignored",
			err.field, *err.field ? ": " : "", err.msg);
		rec_free(rec);
		return 0;
	}
	return reg_append(r, rec);
}

int registry_init(struct registry *r, struct db *db, const char *state_dir,
		  const char *exe, const struct vmdef_limits *lim)
{
	pthread_condattr_t ca;
	int ret;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->changed, &ca);
	pthread_condattr_destroy(&ca);
	r->db = db;
	r->limits = *lim;
	r->started_at = now_ms();
	snprintf(r->state_dir, sizeof(r->state_dir), "%s", state_dir);
	snprintf(r->exe, sizeof(r->exe), "%s", exe);
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->wake_fd < 0)
		return -errno;
	ret = db_vm_load(db, load_row, r);
	if (ret)
		dlog(LOG_ERR, "cannot load the VMs from the database");
	return ret;
}

void registry_fini(struct registry *r)
{
	for (unsigned i = 0; i < r->nr; i++)
		rec_free(r->vms[i]);
	free(r->vms);
	r->vms = NULL;
	r->nr = r->cap = 0;
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	r->wake_fd = -1;
	pthread_cond_destroy(&r->changed);
	pthread_mutex_destroy(&r->lock);
}

/* ---- create ----------------------------------------------------------- */

/* A random id that is neither an id nor a name yet. Lock held. */
static int new_id(struct registry *r, char id[VM_ID_LEN + 1])
{
	unsigned char b[VM_ID_LEN / 2];

	for (int tries = 0; tries < 16; tries++) {
		if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
			return -EIO;
		for (unsigned i = 0; i < sizeof(b); i++)
			snprintf(id + 2 * i, 3, "%02x", b[i]);
		if (!reg_find(r, id))
			return 0;
	}
	return -EEXIST;
}

/* Make the record and its directory, store it. Lock held. */
static int create_locked(struct registry *r, struct vm_rec *rec,
			 struct field_error *err)
{
	int ret;

	if (r->nr >= REG_MAX_VMS)
		return reg_error(err, -ENOSPC,
				 "berthd holds %d VMs already: delete some "
				 "first",
				 REG_MAX_VMS);
	if (rec->def.name && reg_find(r, rec->def.name)) {
		field_error_set(err, "name", "name '%s' is taken",
				rec->def.name);
		return -EEXIST;
	}
	ret = reg_reserve(r);
	if (!ret)
		ret = new_id(r, rec->row.id);
	if (!ret)
		ret = vm_paths_init(&rec->paths, r->state_dir, rec->row.id);
	if (!ret && mkdir(rec->paths.dir, 0700) && errno != EEXIST)
		ret = -errno;
	if (!ret)
		ret = db_vm_insert(r->db, &rec->row);
	if (!ret)
		r->vms[r->nr++] = rec; /* reserved above */
	if (ret) {
		reg_error(err, ret, "cannot store the VM: %s", strerror(-ret));
		rmdir(rec->paths.dir);
	}
	return ret;
}

int reg_create(struct registry *r, const char *body, size_t len,
	       struct json_object **vm, struct field_error *err)
{
	struct vm_rec *rec = calloc(1, sizeof(*rec));
	struct json_object *cfg;
	int ret;

	if (!rec)
		return reg_error(err, -ENOMEM, "out of memory");
	rec->pidfd = -1;
	ret = vmdef_parse(&rec->def, body, len, &r->limits, err);
	if (ret) {
		free(rec);
		return ret;
	}
	cfg = vmdef_to_json(&rec->def);
	rec->row = (struct vm_row){
		.name = rec->def.name ? strdup(rec->def.name) : NULL,
		.config = strdup(json_object_to_json_string_ext(
			cfg, JSON_C_TO_STRING_PLAIN)),
		.state = VM_CREATED,
		.created_at = now_ms(),
		.exit_status = -1};
	json_object_put(cfg);
	pthread_mutex_lock(&r->lock);
	ret = create_locked(r, rec, err);
	if (!ret)
		*vm = rec_to_json(rec);
	pthread_mutex_unlock(&r->lock);
	if (ret) {
		rec_free(rec);
		return ret;
	}
	dlog_vm(LOG_INFO, rec->row.id, "created%s%s (%u vCPUs, %llu MiB, %s)",
		rec->def.name ? " as " : "", rec->def.name ? rec->def.name : "",
		rec->def.vcpus, (unsigned long long)rec->def.memory_mib,
		rec->def.kernel);
	return 0;
}

/* ---- list, inspect ------------------------------------------------------ */

struct json_object *reg_list(struct registry *r)
{
	struct json_object *a = json_object_new_array();

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr; i++)
		json_object_array_add(a, rec_to_json(r->vms[i]));
	pthread_mutex_unlock(&r->lock);
	return a;
}

int reg_inspect(struct registry *r, const char *key, struct json_object **vm,
		struct field_error *err)
{
	struct vm_rec *rec;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	rec = reg_find(r, key);
	if (rec)
		*vm = rec_to_json(rec);
	else
		ret = reg_error(err, -ENOENT, "no VM with id or name '%.64s'",
				key);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

struct json_object *reg_health(struct registry *r)
{
	struct json_object *o = json_object_new_object();
	unsigned running = 0, nr;

	pthread_mutex_lock(&r->lock);
	nr = r->nr;
	for (unsigned i = 0; i < r->nr; i++)
		running += r->vms[i]->row.state == VM_RUNNING ||
			   r->vms[i]->row.state == VM_PAUSED;
	pthread_mutex_unlock(&r->lock);
	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "version",
			       json_object_new_string(BERTHD_VERSION));
	json_object_object_add(o, "schema_version",
			       json_object_new_int(db_latest_version()));
	json_object_object_add(o, "vms", json_object_new_int((int)nr));
	json_object_object_add(o, "running", json_object_new_int((int)running));
	json_object_object_add(
		o, "uptime_s",
		json_object_new_int64((now_ms() - r->started_at) / 1000));
	return o;
}

/* ---- delete ----------------------------------------------------------- */

static void remove_files(const struct vm_paths *p)
{
	const char *files[] = {p->control, p->console, p->log, p->status};
	char tmp[sizeof(p->status) + 8];

	for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p->status);
	unlink(tmp);
	if (rmdir(p->dir) && errno != ENOENT)
		dlog(LOG_WARN, "cannot remove %s: %s", p->dir, strerror(errno));
}

/* Take rec out of the list and the database. Lock held. */
static int delete_locked(struct registry *r, struct vm_rec *rec,
			 struct field_error *err)
{
	int ret = db_vm_delete(r->db, rec->row.id);

	if (ret && ret != -ENOENT)
		return reg_error(err, ret, "cannot delete the VM: %s",
				 strerror(-ret));
	meter_vm_deleted(r, rec);
	for (unsigned i = 0; i < r->nr; i++) {
		if (r->vms[i] == rec) {
			memmove(&r->vms[i], &r->vms[i + 1],
				(r->nr - i - 1) * sizeof(r->vms[0]));
			r->nr--;
			break;
		}
	}
	return 0;
}

int reg_delete(struct registry *r, const char *key, bool force,
	       char id[VM_ID_LEN + 1], struct field_error *err)
{
	struct vm_rec *rec;
	int ret;

	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&r->lock);
		ret = reg_find_idle(r, key, &rec, err);
		if (ret || rec->row.state == VM_CREATED ||
		    rec->row.state == VM_STOPPED)
			break;
		pthread_mutex_unlock(&r->lock);
		if (!force || tries == 2)
			return reg_error(err, -EBUSY,
					 "VM %.64s is %s: stop it first, or "
					 "delete with ?force=1",
					 key,
					 force ? "still running" : "running");
		ret = reg_stop(r, key, 0, true, NULL, err);
		if (ret && ret != -EBUSY)
			return ret;
	}
	if (!ret)
		ret = delete_locked(r, rec, err);
	pthread_mutex_unlock(&r->lock);
	if (ret)
		return ret;
	remove_files(&rec->paths);
	memcpy(id, rec->row.id, VM_ID_LEN + 1);
	dlog_vm(LOG_INFO, rec->row.id, "deleted");
	rec_free(rec);
	return 0;
}

/* ---- the main loop's part ------------------------------------------------ */

unsigned reg_poll_fds(struct registry *r, struct pollfd *p, unsigned max)
{
	unsigned n = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr && n < max; i++)
		if (r->vms[i]->pidfd >= 0)
			p[n++] = (struct pollfd){.fd = r->vms[i]->pidfd,
						 .events = POLLIN};
	pthread_mutex_unlock(&r->lock);
	return n;
}

void reg_reap_all(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr; i++)
		rec_reap(r, r->vms[i]);
	pthread_mutex_unlock(&r->lock);
}
