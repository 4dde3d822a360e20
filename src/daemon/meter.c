/* SPDX-License-Identifier: MIT */
/* The sampler: per-VM marks, deltas, the sampling thread and the
 * registry's hooks. See meter.h. */
#include "daemon/meter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/dlog.h"
#include "daemon/registry_int.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

struct meter {
	struct registry *reg;
	double interval_s;
	pthread_t thread;
	bool running;	      /* thread was started */
	pthread_mutex_t lock; /* stop, with wake */
	pthread_cond_t wake;  /* CLOCK_MONOTONIC */
	bool stop;
	/* One look at a time, applied before the next is taken: the looks at
	 * a VM reach its mark in the order they were taken. Taken before
	 * the registry lock, never while holding it. */
	pthread_mutex_t sample_lock;
	atomic_uint_fast64_t records, errors;
};

/* A VM to look at, copied out of its record. */
struct meter_target {
	char id[VM_ID_LEN + 1];
	int pid;
	uint64_t pid_start;
	char control[VMPROC_SUN_PATH_MAX];
};

/* ---- /proc and the control socket ------------------------------------------ */

static uint64_t ticks_to_ns(uint64_t ticks, long clk_tck)
{
	uint64_t hz = (uint64_t)clk_tck;

	return ticks / hz * 1000000000ULL + ticks % hz * 1000000000ULL / hz;
}

int proc_stat_parse(const char *text, long clk_tck, long page_size,
		    struct proc_stat *ps)
{
	unsigned long long utime, stime, start;
	long long rss;
	const char *p = strrchr(text, ')');
	char state;

	if (!p || clk_tck <= 0 || page_size <= 0)
		return -EINVAL;
	/* Fields 3 to 24; those not wanted are skipped as words. */
	if (sscanf(p + 1,
		   " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu %*s "
		   "%*s %*s %*s %*s %*s %llu %*s %lld",
		   &state, &utime, &stime, &start, &rss) != 5)
		return -EINVAL;
	ps->state = state;
	ps->cpu_ns = ticks_to_ns(utime + stime, clk_tck);
	ps->start = start;
	ps->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page_size : 0;
	return 0;
}

int proc_stat_read(int pid, struct proc_stat *ps)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	if (proc_stat_parse(buf, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE),
			    ps))
		return -ESRCH;
	return 0;
}

/* o[key] as an unsigned integer; -EINVAL if it is missing or not one. */
static int get_u64(struct json_object *o, const char *key, uint64_t *v)
{
	struct json_object *f;

	if (!json_object_object_get_ex(o, key, &f) ||
	    !json_object_is_type(f, json_type_int) ||
	    json_object_get_int64(f) < 0)
		return -EINVAL;
	*v = json_object_get_uint64(f);
	return 0;
}

/* Add up keys[i] over the objects of array o[name] into sums[i]. */
static int sum_devices(struct json_object *o, const char *name,
		       const char *const keys[4], uint64_t *const sums[4])
{
	struct json_object *a;
	uint64_t v;

	if (!json_object_object_get_ex(o, name, &a))
		return 0; /* no devices of this kind */
	if (!json_object_is_type(a, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		for (unsigned k = 0; k < 4; k++) {
			if (get_u64(json_object_array_get_idx(a, i), keys[k],
				    &v))
				return -EINVAL;
			*sums[k] += v;
		}
	}
	return 0;
}

int meter_stats_parse(struct json_object *stats, struct meter_sample *s)
{
	static const char *const disk_keys[4] = {"read_bytes", "write_bytes",
						 "read_ops", "write_ops"};
	static const char *const nic_keys[4] = {"rx_bytes", "tx_bytes",
						"rx_packets", "tx_packets"};
	struct usage_counters c = {.cpu_ns = s->tot.cpu_ns};
	uint64_t *const disk[4] = {&c.disk_read_bytes, &c.disk_write_bytes,
				   &c.disk_read_ops, &c.disk_write_ops};
	uint64_t *const nic[4] = {&c.net_rx_bytes, &c.net_tx_bytes,
				  &c.net_rx_packets, &c.net_tx_packets};

	if (get_u64(stats, "steal_ns", &c.steal_ns) ||
	    sum_devices(stats, "disks", disk_keys, disk) ||
	    sum_devices(stats, "nics", nic_keys, nic))
		return -EINVAL;
	s->tot = c;
	s->have_dev = true;
	return 0;
}

int meter_read(int pid, uint64_t pid_start, const char *control,
	       struct meter_sample *s, struct json_object **stats)
{
	struct json_object *o;
	struct proc_stat ps;
	char msg[256];

	*s = (struct meter_sample){0};
	if (stats)
		*stats = NULL;
	if (proc_stat_read(pid, &ps) || ps.start != pid_start ||
	    ps.state == 'Z' || ps.state == 'X')
		return -ESRCH;
	s->t_ms = now_ms();
	s->tot.cpu_ns = ps.cpu_ns;
	s->rss_bytes = ps.rss_bytes;
	if (!control || vmproc_control(control, "stats", METER_CONTROL_MS, &o,
				       msg, sizeof(msg)))
		return 0;
	if (meter_stats_parse(o, s))
		dlog(LOG_DEBUG, "%s: stats reply without counters", control);
	if (stats)
		*stats = o;
	else
		json_object_put(o);
	return 0;
}

/* ---- marks and deltas ---------------------------------------------------- */

void meter_mark_reset(struct meter_mark *m, int pid, uint64_t pid_start,
		      int64_t t_ms)
{
	*m = (struct meter_mark){
		.pid = pid, .pid_start = pid_start, .t_ms = t_ms};
}

int meter_delta(struct meter_mark *m, const struct meter_sample *s,
		struct usage_rec *u)
{
	double dt;

	if (s->t_ms < m->t_ms)
		return -EAGAIN;
	memset(u, 0, sizeof(*u));
	u->t_start = m->t_ms;
	u->t_end = s->t_ms;
	for (unsigned i = 0; i < USAGE_NR_COUNTERS; i++) {
		uint64_t now = s->tot.v[i], was = m->tot.v[i];

		/* cpu_ns (v[0]) comes from /proc: it is always there. */
		if (i && !s->have_dev)
			continue;
		u->d.v[i] = now >= was ? now - was : now;
		m->tot.v[i] = now;
	}
	dt = (double)(s->t_ms - m->t_ms) / 1000.0;
	u->rss_bytes = s->rss_bytes;
	u->mem_gib_s = (double)s->rss_bytes / GIB * dt;
	u->uptime_s = dt;
	m->t_ms = s->t_ms;
	m->rss_bytes = s->rss_bytes;
	return 0;
}

/* ---- storing --------------------------------------------------------------- */

static bool rec_live(const struct vm_rec *rec)
{
	return rec->row.state == VM_RUNNING || rec->row.state == VM_PAUSED;
}

/* The record with exactly this id (not a name). Registry lock held. */
static struct vm_rec *find_id(struct registry *r, const char *id)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (!strcmp(r->vms[i]->row.id, id))
			return r->vms[i];
	return NULL;
}

/* Store the usage from rec's mark to s and move the mark, all or nothing:
 * if the database fails the mark stays, and the next look's record covers
 * this one's time too. Registry lock held. */
static void meter_apply(struct registry *r, struct vm_rec *rec,
			const struct meter_sample *s)
{
	struct meter_mark m = rec->meter;
	struct usage_rec u;

	if (meter_delta(&m, s, &u))
		return;
	memcpy(u.vm_id, rec->row.id, sizeof(u.vm_id));
	snprintf(u.vm_name, sizeof(u.vm_name), "%s",
		 rec->row.name ? rec->row.name : "");
	if (db_usage_append(r->db, &u, &m)) {
		atomic_fetch_add(&r->meter->errors, 1);
		dlog_vm(LOG_WARN, rec->row.id,
			"cannot store a usage record; the next one will "
			"cover its time");
		return;
	}
	atomic_fetch_add(&r->meter->records, 1);
	rec->meter = m;
}

/* Look at t's process and store the result if its record is still that
 * process's. */
static void sample_one(struct meter *m, const struct meter_target *t)
{
	struct registry *r = m->reg;
	struct meter_sample s;
	struct vm_rec *rec;

	pthread_mutex_lock(&m->sample_lock);
	if (!meter_read(t->pid, t->pid_start, t->control, &s, NULL)) {
		pthread_mutex_lock(&r->lock);
		rec = find_id(r, t->id);
		/* It may have stopped (and been given its last record) or
		 * been restarted since t was copied. */
		if (rec && rec_live(rec) && rec->metered &&
		    rec->meter.pid == t->pid &&
		    rec->meter.pid_start == t->pid_start)
			meter_apply(r, rec, &s);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_mutex_unlock(&m->sample_lock);
}

/* Copy what a look at rec needs. Registry lock held. */
static bool target_of(const struct vm_rec *rec, struct meter_target *t)
{
	if (!rec_live(rec) || !rec->metered || rec->pidfd < 0)
		return false;
	memcpy(t->id, rec->row.id, sizeof(t->id));
	t->pid = rec->meter.pid;
	t->pid_start = rec->meter.pid_start;
	memcpy(t->control, rec->paths.control, sizeof(t->control));
	return true;
}

/* One look at every running or paused VM. */
static void meter_pass(struct meter *m)
{
	struct registry *r = m->reg;
	struct meter_target *t;
	unsigned n = 0;

	pthread_mutex_lock(&r->lock);
	t = calloc(r->nr ? r->nr : 1, sizeof(*t));
	for (unsigned i = 0; t && i < r->nr; i++)
		n += target_of(r->vms[i], &t[n]);
	pthread_mutex_unlock(&r->lock);
	if (!t) {
		atomic_fetch_add(&m->errors, 1);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		sample_one(m, &t[i]);
	free(t);
}

/* ---- the thread -------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Looks at fixed multiples of the interval; a pass that overruns skips
 * the looks it missed rather than bunching them up. */
static void *meter_main(void *arg)
{
	struct meter *m = arg;
	uint64_t step = (uint64_t)(m->interval_s * 1e9);
	uint64_t next = mono_ns() + step, now;
	struct timespec ts;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		now = mono_ns();
		if (now < next) {
			ts.tv_sec = (time_t)(next / 1000000000ULL);
			ts.tv_nsec = (long)(next % 1000000000ULL);
			pthread_cond_timedwait(&m->wake, &m->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&m->lock);
		meter_pass(m);
		pthread_mutex_lock(&m->lock);
		next += step;
		now = mono_ns();
		if (next <= now)
			next = now + step;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int meter_start(struct registry *r, double interval_s)
{
	struct meter *m = calloc(1, sizeof(*m));
	pthread_condattr_t ca;
	int ret;

	if (!m)
		return -ENOMEM;
	m->reg = r;
	m->interval_s = interval_s;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->sample_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&r->lock);
	r->meter = m;
	pthread_mutex_unlock(&r->lock);
	ret = -pthread_create(&m->thread, NULL, meter_main, m);
	m->running = !ret;
	if (ret) {
		dlog(LOG_ERR, "cannot start the sampler: %s", strerror(-ret));
		meter_stop(r);
	}
	return ret;
}

void meter_stop(struct registry *r)
{
	struct meter *m = r->meter;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	if (m->running)
		pthread_join(m->thread, NULL);
	pthread_mutex_lock(&r->lock);
	r->meter = NULL;
	pthread_mutex_unlock(&r->lock);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->sample_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

double meter_interval(const struct registry *r)
{
	return r->meter ? r->meter->interval_s : 0;
}

void meter_counts(const struct registry *r, uint64_t *records, uint64_t *errors)
{
	*records = r->meter ? atomic_load(&r->meter->records) : 0;
	*errors = r->meter ? atomic_load(&r->meter->errors) : 0;
}

/* ---- hooks -------------------------------------------------------------------- */

void meter_vm_started(struct registry *r, struct vm_rec *rec)
{
	if (!r->meter)
		return;
	meter_mark_reset(&rec->meter, rec->row.pid, rec->row.pid_start,
			 rec->row.started_at);
	rec->metered = true;
}

void meter_vm_adopted(struct registry *r, struct vm_rec *rec)
{
	struct meter_mark m;

	if (!r->meter)
		return;
	if (!db_meter_mark_get(r->db, rec->row.id, &m) &&
	    m.pid == rec->row.pid && m.pid_start == rec->row.pid_start) {
		rec->meter = m;
	} else {
		/* Never looked at: all this process has used is new. */
		meter_mark_reset(&rec->meter, rec->row.pid, rec->row.pid_start,
				 rec->row.started_at);
	}
	rec->metered = true;
}

void meter_vm_exited(struct registry *r, struct vm_rec *rec, int64_t t_ms)
{
	struct meter_sample s = {.t_ms = t_ms,
				 .rss_bytes = rec->meter.rss_bytes,
				 .tot = rec->meter.tot};
	struct proc_stat ps;

	if (!r->meter || !rec->metered)
		return;
	rec->metered = false;
	/* A zombie still shows its final CPU time (until it is reaped, and
	 * berthd reaps the VMs it started only after this). A start time of
	 * 0 was not known: the zombie keeps its pid from being reused. */
	if (!proc_stat_read(rec->meter.pid, &ps) &&
	    (ps.start == rec->meter.pid_start || !rec->meter.pid_start))
		s.tot.cpu_ns = ps.cpu_ns;
	else
		dlog_vm(LOG_DEBUG, rec->row.id,
			"its process is gone: usage since the last sample "
			"is lost");
	meter_apply(r, rec, &s);
}

void meter_vm_sample(struct registry *r, const char *id)
{
	struct meter *m = r->meter;
	struct meter_target t;
	struct vm_rec *rec;
	bool ok = false;

	pthread_mutex_lock(&r->lock);
	rec = m ? find_id(r, id) : NULL;
	if (rec)
		ok = target_of(rec, &t);
	pthread_mutex_unlock(&r->lock);
	if (ok)
		sample_one(m, &t);
}

void meter_vm_deleted(struct registry *r, struct vm_rec *rec)
{
	if (db_meter_mark_delete(r->db, rec->row.id))
		dlog_vm(LOG_WARN, rec->row.id, "cannot forget its meter mark");
}
