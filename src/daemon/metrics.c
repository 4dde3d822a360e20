/* SPDX-License-Identifier: MIT */
/* GET /metrics: the Prometheus text format (see metrics.h). */
#include "daemon/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/meter.h"
#include "daemon/registry_int.h"

/* ---- the format ------------------------------------------------------------ */

static bool prom_grow(struct prom_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->oom)
		return false;
	while (cap - b->len <= more)
		cap *= 2;
	if (cap == b->cap)
		return true;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void prom_printf(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !prom_grow(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Append s with backslash and newline escaped, and double quote too if
 * quote is set. */
static void prom_escaped(struct prom_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			prom_printf(b, "\\\\");
		else if (*s == '\n')
			prom_printf(b, "\\n");
		else if (*s == '"' && quote)
			prom_printf(b, "\\\"");
		else
			prom_printf(b, "%c", *s);
	}
}

void prom_label_value(struct prom_buf *b, const char *s)
{
	prom_escaped(b, s, true);
}

void prom_family(struct prom_buf *b, const char *name, const char *type,
		 const char *help)
{
	prom_printf(b, "# HELP %s ", name);
	prom_escaped(b, help, false);
	prom_printf(b, "\n# TYPE %s %s\n", name, type);
}

void prom_sample(struct prom_buf *b, const char *name,
		 const char *const *labels, unsigned n_labels,
		 const char *value)
{
	prom_printf(b, "%s", name);
	for (unsigned i = 0; i < n_labels; i++) {
		prom_printf(b, "%s%s=\"", i ? "," : "{", labels[2 * i]);
		prom_label_value(b, labels[2 * i + 1]);
		prom_printf(b, "\"");
	}
	prom_printf(b, "%s %s\n", n_labels ? "}" : "", value);
}

void prom_seconds(char *buf, size_t len, unsigned long long ns)
{
	snprintf(buf, len, "%llu.%09llu", ns / 1000000000ULL,
		 ns % 1000000000ULL);
}

/* ---- what is known about each VM ----------------------------------------- */

struct vm_snap {
	char id[VM_ID_LEN + 1], name[VM_NAME_MAX];
	enum vm_state state;
	unsigned vcpus;
	unsigned long long mem_bytes;
	int pid;
	uint64_t pid_start;
	int64_t started_at;
	char control[VMPROC_SUN_PATH_MAX];
	bool have_proc;		   /* s holds CPU and RSS from /proc */
	struct meter_sample s;	   /* if have_proc */
	struct json_object *stats; /* the control socket's reply, or NULL */
};

/* Copy the VMs out under the lock; then read their processes without it. */
static struct vm_snap *snap_take(struct registry *r, unsigned *n)
{
	struct vm_snap *v;

	pthread_mutex_lock(&r->lock);
	*n = r->nr;
	v = calloc(r->nr ? r->nr : 1, sizeof(*v));
	for (unsigned i = 0; v && i < r->nr; i++) {
		const struct vm_rec *rec = r->vms[i];

		memcpy(v[i].id, rec->row.id, sizeof(v[i].id));
		snprintf(v[i].name, sizeof(v[i].name), "%s",
			 rec->row.name ? rec->row.name : "");
		v[i].state = rec->row.state;
		v[i].vcpus = rec->def.vcpus;
		v[i].mem_bytes = (unsigned long long)rec->def.memory_mib << 20;
		v[i].pid = rec->row.pid;
		v[i].pid_start = rec->row.pid_start;
		v[i].started_at = rec->row.started_at;
		memcpy(v[i].control, rec->paths.control, sizeof(v[i].control));
	}
	pthread_mutex_unlock(&r->lock);
	if (!v)
		return NULL;
	for (unsigned i = 0; i < *n; i++)
		if (v[i].state == VM_RUNNING || v[i].state == VM_PAUSED)
			v[i].have_proc =
				!meter_read(v[i].pid, v[i].pid_start,
					    v[i].control, &v[i].s, &v[i].stats);
	return v;
}

static void snap_free(struct vm_snap *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		json_object_put(v[i].stats);
	free(v);
}

/* o[key] as an unsigned number, or false. */
static bool json_u64(struct json_object *o, const char *key,
		     unsigned long long *out)
{
	struct json_object *f;

	if (!o || !json_object_object_get_ex(o, key, &f) ||
	    !json_object_is_type(f, json_type_int))
		return false;
	*out = json_object_get_uint64(f);
	return true;
}

/* ---- families ------------------------------------------------------------ */

/* Fills buf with v's value of a per-VM metric; false: none for v. */
typedef bool (*vm_value_fn)(const struct vm_snap *v, char *buf, size_t len);

static bool val_cpu(const struct vm_snap *v, char *buf, size_t len)
{
	if (v->have_proc)
		prom_seconds(buf, len, v->s.tot.cpu_ns);
	return v->have_proc;
}

static bool val_rss(const struct vm_snap *v, char *buf, size_t len)
{
	if (v->have_proc)
		snprintf(buf, len, "%llu", (unsigned long long)v->s.rss_bytes);
	return v->have_proc;
}

static bool val_uptime(const struct vm_snap *v, char *buf, size_t len)
{
	unsigned long long ms;

	if (!v->have_proc)
		return false;
	if (!json_u64(v->stats, "uptime_ms", &ms))
		ms = (unsigned long long)(now_ms() - v->started_at);
	snprintf(buf, len, "%llu.%03llu", ms / 1000, ms % 1000);
	return true;
}

static bool val_steal(const struct vm_snap *v, char *buf, size_t len)
{
	unsigned long long ns;

	if (!v->have_proc || !json_u64(v->stats, "steal_ns", &ns))
		return false;
	prom_seconds(buf, len, ns);
	return true;
}

static bool val_guest_resident(const struct vm_snap *v, char *buf, size_t len)
{
	unsigned long long b;

	if (!v->have_proc || !json_u64(v->stats, "guest_resident_bytes", &b))
		return false;
	snprintf(buf, len, "%llu", b);
	return true;
}

static bool val_vcpus(const struct vm_snap *v, char *buf, size_t len)
{
	snprintf(buf, len, "%u", v->vcpus);
	return true;
}

static bool val_mem(const struct vm_snap *v, char *buf, size_t len)
{
	snprintf(buf, len, "%llu", v->mem_bytes);
	return true;
}

static void family_vm(struct prom_buf *b, const struct vm_snap *v, unsigned n,
		      const char *name, const char *type, const char *help,
		      vm_value_fn fn)
{
	char val[48];

	prom_family(b, name, type, help);
	for (unsigned i = 0; i < n; i++) {
		const char *l[] = {"vm", v[i].id, "name", v[i].name};

		if (fn(&v[i], val, sizeof(val)))
			prom_sample(b, name, l, 2, val);
	}
}

/* A family with one sample per element of each VM's array arr (disks,
 * nics, vcpu_threads): label lkey from the element's field lfield, value
 * its field key (nanoseconds shown as seconds if ns). */
static void family_dev(struct prom_buf *b, const struct vm_snap *v, unsigned n,
		       const char *name, const char *help, const char *arr,
		       const char *lkey, const char *lfield, const char *key,
		       bool ns)
{
	struct json_object *a, *e, *lv;
	unsigned long long x;
	char val[48];

	prom_family(b, name, "counter", help);
	for (unsigned i = 0; i < n; i++) {
		if (!v[i].have_proc || !v[i].stats ||
		    !json_object_object_get_ex(v[i].stats, arr, &a) ||
		    !json_object_is_type(a, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(a); k++) {
			e = json_object_array_get_idx(a, k);
			if (!json_u64(e, key, &x) ||
			    !json_object_object_get_ex(e, lfield, &lv))
				continue;
			const char *l[] = {"vm",   v[i].id,
					   "name", v[i].name,
					   lkey,   json_object_get_string(lv)};
			if (ns)
				prom_seconds(val, sizeof(val), x);
			else
				snprintf(val, sizeof(val), "%llu", x);
			prom_sample(b, name, l, 3, val);
		}
	}
}

static void families_daemon(struct prom_buf *b, struct registry *r,
			    const struct vm_snap *v, unsigned n)
{
	const char *build[] = {"version", BERTHD_VERSION, "schema_version",
			       NULL};
	char schema[16], val[48];
	uint64_t records, errors;

	snprintf(schema, sizeof(schema), "%d", db_latest_version());
	build[3] = schema;
	prom_family(b, "berthd_up", "gauge", "1 while berthd answers.");
	prom_sample(b, "berthd_up", NULL, 0, "1");
	prom_family(b, "berthd_build_info", "gauge",
		    "berthd's version and database schema version.");
	prom_sample(b, "berthd_build_info", build, 2, "1");
	prom_family(b, "berthd_uptime_seconds", "gauge",
		    "Seconds since berthd started.");
	prom_seconds(val, sizeof(val),
		     (unsigned long long)(now_ms() - r->started_at) * 1000000);
	prom_sample(b, "berthd_uptime_seconds", NULL, 0, val);
	prom_family(b, "berthd_sample_interval_seconds", "gauge",
		    "How often the sampler records each VM's usage.");
	snprintf(val, sizeof(val), "%g", meter_interval(r));
	prom_sample(b, "berthd_sample_interval_seconds", NULL, 0, val);
	meter_counts(r, &records, &errors);
	prom_family(b, "berthd_usage_records_total", "counter",
		    "Usage records stored since berthd started.");
	snprintf(val, sizeof(val), "%llu", (unsigned long long)records);
	prom_sample(b, "berthd_usage_records_total", NULL, 0, val);
	prom_family(b, "berthd_usage_errors_total", "counter",
		    "Usage records that could not be stored.");
	snprintf(val, sizeof(val), "%llu", (unsigned long long)errors);
	prom_sample(b, "berthd_usage_errors_total", NULL, 0, val);
	prom_family(b, "berth_vms", "gauge", "VMs by state.");
	for (enum vm_state s = VM_CREATED; s <= VM_STOPPED; s++) {
		const char *l[] = {"state", vm_state_name(s)};
		unsigned count = 0;

		for (unsigned i = 0; i < n; i++)
			count += v[i].state == s;
		snprintf(val, sizeof(val), "%u", count);
		prom_sample(b, "berth_vms", l, 1, val);
	}
}

static void families_state(struct prom_buf *b, const struct vm_snap *v,
			   unsigned n)
{
	prom_family(b, "berth_vm_state", "gauge",
		    "1 for the state each VM is in, 0 for the others.");
	for (unsigned i = 0; i < n; i++) {
		for (enum vm_state s = VM_CREATED; s <= VM_STOPPED; s++) {
			const char *l[] = {"vm",    v[i].id,
					   "name",  v[i].name,
					   "state", vm_state_name(s)};

			prom_sample(b, "berth_vm_state", l, 3,
				    v[i].state == s ? "1" : "0");
		}
	}
}

static void families_vm(struct prom_buf *b, const struct vm_snap *v, unsigned n)
{
	family_vm(b, v, n, "berth_vm_vcpus", "gauge", "vCPUs of each VM.",
		  val_vcpus);
	family_vm(b, v, n, "berth_vm_memory_bytes", "gauge",
		  "Guest RAM each VM is defined with.", val_mem);
	family_vm(b, v, n, "berth_vm_cpu_seconds_total", "counter",
		  "CPU time of the VM's berth process (/proc/PID/stat utime + "
		  "stime), since it started.",
		  val_cpu);
	family_vm(b, v, n, "berth_vm_steal_seconds_total", "counter",
		  "Time the VM's vCPU threads waited, runnable, for a host "
		  "CPU.",
		  val_steal);
	family_vm(b, v, n, "berth_vm_memory_resident_bytes", "gauge",
		  "Resident memory of the VM's berth process.", val_rss);
	family_vm(b, v, n, "berth_vm_guest_memory_resident_bytes", "gauge",
		  "Guest RAM the host has backed with pages.",
		  val_guest_resident);
	family_vm(b, v, n, "berth_vm_uptime_seconds", "gauge",
		  "Seconds since the VM's process started.", val_uptime);
}

static void families_devices(struct prom_buf *b, const struct vm_snap *v,
			     unsigned n)
{
	static const struct {
		const char *name, *help, *arr, *lkey, *lfield, *key;
		bool ns;
	} f[] = {
		{"berth_vm_vcpu_cpu_seconds_total",
		 "CPU time of each vCPU thread.", "vcpu_threads", "vcpu", "id",
		 "cpu_ns", true},
		{"berth_vm_vcpu_steal_seconds_total",
		 "Time each vCPU thread waited, runnable, for a host CPU.",
		 "vcpu_threads", "vcpu", "id", "steal_ns", true},
		{"berth_vm_disk_read_bytes_total", "Bytes read by the guest.",
		 "disks", "disk", "name", "read_bytes", false},
		{"berth_vm_disk_write_bytes_total",
		 "Bytes written by the guest.", "disks", "disk", "name",
		 "write_bytes", false},
		{"berth_vm_disk_read_ops_total", "Read requests completed.",
		 "disks", "disk", "name", "read_ops", false},
		{"berth_vm_disk_write_ops_total", "Write requests completed.",
		 "disks", "disk", "name", "write_ops", false},
		{"berth_vm_disk_flush_ops_total", "Flush requests completed.",
		 "disks", "disk", "name", "flush_ops", false},
		{"berth_vm_disk_errors_total", "Requests that failed.", "disks",
		 "disk", "name", "errors", false},
		{"berth_vm_net_rx_bytes_total", "Bytes received by the guest.",
		 "nics", "nic", "name", "rx_bytes", false},
		{"berth_vm_net_tx_bytes_total", "Bytes sent by the guest.",
		 "nics", "nic", "name", "tx_bytes", false},
		{"berth_vm_net_rx_packets_total",
		 "Frames received by the guest.", "nics", "nic", "name",
		 "rx_packets", false},
		{"berth_vm_net_tx_packets_total", "Frames sent by the guest.",
		 "nics", "nic", "name", "tx_packets", false},
		{"berth_vm_net_rx_dropped_total",
		 "Frames for the guest dropped (no buffers).", "nics", "nic",
		 "name", "rx_dropped", false},
		{"berth_vm_net_tx_dropped_total",
		 "Frames from the guest dropped.", "nics", "nic", "name",
		 "tx_dropped", false},
	};

	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		family_dev(b, v, n, f[i].name, f[i].help, f[i].arr, f[i].lkey,
			   f[i].lfield, f[i].key, f[i].ns);
}

int reg_metrics(struct registry *r, char **text, size_t *len)
{
	struct prom_buf b = {0};
	struct vm_snap *v;
	unsigned n;

	v = snap_take(r, &n);
	if (!v)
		return -ENOMEM;
	families_daemon(&b, r, v, n);
	families_state(&b, v, n);
	families_vm(&b, v, n);
	families_devices(&b, v, n);
	snap_free(v, n);
	if (b.oom || !b.p) {
		free(b.p);
		return -ENOMEM;
	}
	*text = b.p;
	*len = b.len;
	return 0;
}
