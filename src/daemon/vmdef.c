/* SPDX-License-Identifier: MIT */
#include "daemon/vmdef.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A switch socket path must fit sockaddr_un (and berth's --net). */
#define SWITCH_PATH_MAX 107

int field_error_set(struct field_error *err, const char *field, const char *fmt,
		    ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool vmdef_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > VMDEF_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* ---- typed getters: each checks the JSON type and names the field ---- */

static int get_string(struct json_object *v, const char *field, size_t max,
		      const char **out, struct field_error *err)
{
	size_t len;

	if (!json_object_is_type(v, json_type_string))
		return field_error_set(err, field, "%s must be a string",
				       field);
	*out = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(*out) != len)
		return field_error_set(err, field, "%s contains a NUL byte",
				       field);
	if (len > max)
		return field_error_set(
			err, field, "%s is longer than %zu bytes", field, max);
	return 0;
}

static int get_int(struct json_object *v, const char *field, int64_t min,
		   int64_t max, int64_t *out, struct field_error *err)
{
	*out = 0;
	if (!json_object_is_type(v, json_type_int))
		return field_error_set(err, field, "%s must be an integer",
				       field);
	*out = json_object_get_int64(v);
	if (*out < min || *out > max)
		return field_error_set(err, field,
				       "%s must be from %lld to %lld", field,
				       (long long)min, (long long)max);
	return 0;
}

static int get_bool(struct json_object *v, const char *field, bool *out,
		    struct field_error *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return field_error_set(err, field, "%s must be true or false",
				       field);
	*out = json_object_get_boolean(v);
	return 0;
}

static int dup_into(char **dst, const char *s, const char *field,
		    struct field_error *err)
{
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : field_error_set(err, field, "out of memory");
}

/* A host path berth will open: absolute, and without ',' (berth run's
 * --disk and --net options use it as a separator). */
static int check_path_syntax(const char *p, size_t max, const char *field,
			     struct field_error *err)
{
	if (p[0] != '/')
		return field_error_set(err, field,
				       "%s must be an absolute path", field);
	if (strchr(p, ','))
		return field_error_set(err, field, "%s must not contain ','",
				       field);
	if (strlen(p) > max)
		return field_error_set(
			err, field, "%s is longer than %zu bytes", field, max);
	return 0;
}

/* The file at p exists, is of the right kind and may be opened as asked. */
static int check_file(const char *p, bool block_ok, int mode, const char *field,
		      struct field_error *err)
{
	struct stat st;

	if (stat(p, &st))
		return field_error_set(err, field, "%s: %s: %s", field, p,
				       strerror(errno));
	if (!S_ISREG(st.st_mode) && !(block_ok && S_ISBLK(st.st_mode)))
		return field_error_set(err, field, "%s: %s is not a %s", field,
				       p,
				       block_ok ? "regular file or block device"
						: "regular file");
	if (access(p, mode))
		return field_error_set(err, field, "%s: %s is not %s", field, p,
				       mode & W_OK ? "readable and writable"
						   : "readable");
	return 0;
}

static int get_file(struct json_object *v, const char *field, char **dst,
		    const struct vmdef_limits *lim, struct field_error *err)
{
	const char *p;

	if (get_string(v, field, PATH_MAX - 1, &p, err) ||
	    check_path_syntax(p, PATH_MAX - 1, field, err))
		return -EINVAL;
	if (lim->check_files && check_file(p, false, R_OK, field, err))
		return -EINVAL;
	return dup_into(dst, p, field, err);
}

/* ---- fields ---------------------------------------------------------- */

typedef int (*field_fn)(struct vmdef *d, struct json_object *v,
			const struct vmdef_limits *lim,
			struct field_error *err);

static int f_name(struct vmdef *d, struct json_object *v,
		  const struct vmdef_limits *lim, struct field_error *err)
{
	const char *s;

	(void)lim;
	if (get_string(v, "name", VMDEF_NAME_MAX, &s, err))
		return -EINVAL;
	if (!vmdef_name_ok(s))
		return field_error_set(err, "name",
				       "name must be 1 to 63 characters of "
				       "a-z, 0-9 and '-'");
	return dup_into(&d->name, s, "name", err);
}

static int f_kernel(struct vmdef *d, struct json_object *v,
		    const struct vmdef_limits *lim, struct field_error *err)
{
	return get_file(v, "kernel", &d->kernel, lim, err);
}

static int f_initrd(struct vmdef *d, struct json_object *v,
		    const struct vmdef_limits *lim, struct field_error *err)
{
	return get_file(v, "initrd", &d->initrd, lim, err);
}

static int f_cmdline(struct vmdef *d, struct json_object *v,
		     const struct vmdef_limits *lim, struct field_error *err)
{
	const char *s;

	(void)lim;
	if (get_string(v, "cmdline", VMDEF_CMDLINE_MAX, &s, err))
		return -EINVAL;
	return dup_into(&d->cmdline, s, "cmdline", err);
}

static int f_vcpus(struct vmdef *d, struct json_object *v,
		   const struct vmdef_limits *lim, struct field_error *err)
{
	int64_t n;

	(void)lim;
	if (get_int(v, "vcpus", 1, VMDEF_MAX_VCPUS, &n, err))
		return -EINVAL;
	d->vcpus = (unsigned)n;
	return 0;
}

static int f_memory(struct vmdef *d, struct json_object *v,
		    const struct vmdef_limits *lim, struct field_error *err)
{
	int64_t n;

	if (get_int(v, "memory_mib", VMDEF_MIN_MEM_MIB,
		    (int64_t)lim->max_memory_mib, &n, err))
		return -EINVAL;
	d->memory_mib = (uint64_t)n;
	return 0;
}

static int f_cpu_weight(struct vmdef *d, struct json_object *v,
			const struct vmdef_limits *lim, struct field_error *err)
{
	int64_t n;

	(void)lim;
	if (get_int(v, "cpu_weight", 1, VMDEF_MAX_WEIGHT, &n, err))
		return -EINVAL;
	d->cpu_weight = (unsigned)n;
	return 0;
}

static int f_cpu_cap(struct vmdef *d, struct json_object *v,
		     const struct vmdef_limits *lim, struct field_error *err)
{
	double c;

	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int))
		return field_error_set(err, "cpu_cap",
				       "cpu_cap must be a number (CPUs, e.g. "
				       "0.5)");
	c = json_object_get_double(v);
	if (!isfinite(c) || c <= 0 || c > lim->host_cpus)
		return field_error_set(err, "cpu_cap",
				       "cpu_cap must be more than 0 and at "
				       "most %u (the host's CPUs)",
				       lim->host_cpus);
	/* berth run's smallest cap: 1 ms of CPU per 100 ms period. */
	if (c < 0.01)
		return field_error_set(err, "cpu_cap",
				       "cpu_cap must be at least 0.01");
	d->cpu_cap = c;
	return 0;
}

static int f_cpu_pin(struct vmdef *d, struct json_object *v,
		     const struct vmdef_limits *lim, struct field_error *err)
{
	size_t n;
	char field[32];
	int64_t cpu;

	if (!json_object_is_type(v, json_type_array))
		return field_error_set(err, "cpu_pin",
				       "cpu_pin must be an array of host CPU "
				       "numbers");
	n = json_object_array_length(v);
	if (n < 1 || n > VMDEF_MAX_PIN)
		return field_error_set(err, "cpu_pin",
				       "cpu_pin must list 1 to %d CPUs",
				       VMDEF_MAX_PIN);
	for (size_t i = 0; i < n; i++) {
		snprintf(field, sizeof(field), "cpu_pin[%zu]", i);
		if (get_int(json_object_array_get_idx(v, i), field, 0,
			    (int64_t)lim->host_cpus - 1, &cpu, err))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (d->cpu_pin[j] == (unsigned)cpu)
				return field_error_set(err, field,
						       "%s: CPU %lld is listed "
						       "twice",
						       field, (long long)cpu);
		d->cpu_pin[i] = (unsigned)cpu;
	}
	d->nr_pin = (unsigned)n;
	return 0;
}

static int f_autostart(struct vmdef *d, struct json_object *v,
		       const struct vmdef_limits *lim, struct field_error *err)
{
	(void)lim;
	return get_bool(v, "autostart", &d->autostart, err);
}

/* ---- disks and NICs: arrays of small objects -------------------------- */

static int disk_field(struct vmdef_disk *k, const char *key,
		      struct json_object *v, const char *prefix,
		      struct field_error *err)
{
	char field[64];
	const char *p;

	snprintf(field, sizeof(field), "%s.%s", prefix, key);
	if (!strcmp(key, "path")) {
		if (get_string(v, field, PATH_MAX - 1, &p, err) ||
		    check_path_syntax(p, PATH_MAX - 1, field, err))
			return -EINVAL;
		return dup_into(&k->path, p, field, err);
	}
	if (!strcmp(key, "readonly"))
		return get_bool(v, field, &k->readonly, err);
	if (!strcmp(key, "direct"))
		return get_bool(v, field, &k->direct, err);
	return field_error_set(err, field,
			       "unknown field %s (a disk has path, readonly, "
			       "direct)",
			       field);
}

static int parse_disk(struct vmdef_disk *k, struct json_object *o,
		      const char *prefix, const struct vmdef_limits *lim,
		      struct field_error *err)
{
	char field[64];

	if (!json_object_is_type(o, json_type_object))
		return field_error_set(err, prefix, "%s must be an object",
				       prefix);
	json_object_object_foreach(o, key, v)
	{
		if (disk_field(k, key, v, prefix, err))
			return -EINVAL;
	}
	snprintf(field, sizeof(field), "%s.path", prefix);
	if (!k->path)
		return field_error_set(err, field, "%s is required", field);
	if (lim->check_files &&
	    check_file(k->path, true, k->readonly ? R_OK : R_OK | W_OK, field,
		       err))
		return -EINVAL;
	return 0;
}

static bool mac_ok(const char *s)
{
	unsigned b[6];
	char end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return false;
	for (unsigned i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':'
			       : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return !(b[0] & 1); /* unicast */
}

static bool tap_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n < IFNAMSIZ &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_.-") == n;
}

static int nic_field(struct vmdef_nic *k, const char *key,
		     struct json_object *v, const char *field,
		     struct field_error *err)
{
	const char *s;

	if (strcmp(key, "tap") && strcmp(key, "switch") && strcmp(key, "mac"))
		return field_error_set(err, field,
				       "unknown field %s (a NIC has tap or "
				       "switch, and mac)",
				       field);
	if (get_string(v, field, PATH_MAX, &s, err))
		return -EINVAL;
	if (!strcmp(key, "tap")) {
		if (!tap_name_ok(s))
			return field_error_set(err, field,
					       "%s must be an interface name "
					       "(1 to 15 of A-Z a-z 0-9 _ . -)",
					       field);
		return dup_into(&k->tap, s, field, err);
	}
	if (!strcmp(key, "switch")) {
		if (check_path_syntax(s, SWITCH_PATH_MAX, field, err))
			return -EINVAL;
		return dup_into(&k->sw, s, field, err);
	}
	if (!mac_ok(s))
		return field_error_set(err, field,
				       "%s must be a unicast MAC address "
				       "XX:XX:XX:XX:XX:XX",
				       field);
	return dup_into(&k->mac, s, field, err);
}

static int parse_nic(struct vmdef_nic *k, struct json_object *o,
		     const char *prefix, struct field_error *err)
{
	char field[64];

	if (!json_object_is_type(o, json_type_object))
		return field_error_set(err, prefix, "%s must be an object",
				       prefix);
	json_object_object_foreach(o, key, v)
	{
		snprintf(field, sizeof(field), "%s.%s", prefix, key);
		if (nic_field(k, key, v, field, err))
			return -EINVAL;
	}
	if (!k->tap == !k->sw)
		return field_error_set(err, prefix,
				       "%s needs exactly one of tap and switch",
				       prefix);
	return 0;
}

static int f_disks(struct vmdef *d, struct json_object *v,
		   const struct vmdef_limits *lim, struct field_error *err)
{
	char prefix[32];
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return field_error_set(err, "disks",
				       "disks must be an array of objects");
	n = json_object_array_length(v);
	if (n > VMDEF_MAX_DISKS)
		return field_error_set(err, "disks", "at most %d disks",
				       VMDEF_MAX_DISKS);
	for (size_t i = 0; i < n; i++) {
		snprintf(prefix, sizeof(prefix), "disks[%zu]", i);
		d->nr_disks = (unsigned)i + 1; /* so vmdef_free sees it */
		if (parse_disk(&d->disks[i], json_object_array_get_idx(v, i),
			       prefix, lim, err))
			return -EINVAL;
	}
	return 0;
}

static int f_nics(struct vmdef *d, struct json_object *v,
		  const struct vmdef_limits *lim, struct field_error *err)
{
	char prefix[32];
	size_t n;

	(void)lim;
	if (!json_object_is_type(v, json_type_array))
		return field_error_set(err, "nics",
				       "nics must be an array of objects");
	n = json_object_array_length(v);
	if (n > VMDEF_MAX_NICS)
		return field_error_set(err, "nics", "at most %d NICs",
				       VMDEF_MAX_NICS);
	for (size_t i = 0; i < n; i++) {
		snprintf(prefix, sizeof(prefix), "nics[%zu]", i);
		d->nr_nics = (unsigned)i + 1;
		if (parse_nic(&d->nics[i], json_object_array_get_idx(v, i),
			      prefix, err))
			return -EINVAL;
	}
	return 0;
}

static const struct {
	const char *name;
	field_fn parse;
} fields[] = {
	{"name", f_name},
	{"kernel", f_kernel},
	{"initrd", f_initrd},
	{"cmdline", f_cmdline},
	{"vcpus", f_vcpus},
	{"memory_mib", f_memory},
	{"disks", f_disks},
	{"nics", f_nics},
	{"cpu_weight", f_cpu_weight},
	{"cpu_cap", f_cpu_cap},
	{"cpu_pin", f_cpu_pin},
	{"autostart", f_autostart},
};

static int parse_field(struct vmdef *d, const char *key, struct json_object *v,
		       const struct vmdef_limits *lim, struct field_error *err)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(key, fields[i].name))
			return fields[i].parse(d, v, lim, err);
	return field_error_set(err, key, "unknown field %.64s", key);
}

int vmdef_from_json(struct vmdef *d, struct json_object *o,
		    const struct vmdef_limits *lim, struct field_error *err)
{
	int ret = 0;

	*d = (struct vmdef){.vcpus = 1, .memory_mib = VMDEF_DEF_MEM_MIB};
	if (!json_object_is_type(o, json_type_object))
		return field_error_set(err, "",
				       "the body must be a JSON object");
	json_object_object_foreach(o, key, v)
	{
		ret = parse_field(d, key, v, lim, err);
		if (ret)
			break;
	}
	if (!ret && !d->kernel)
		ret = field_error_set(err, "kernel", "kernel is required");
	if (!ret && !d->cmdline)
		ret = dup_into(&d->cmdline, "", "cmdline", err);
	if (!ret && d->memory_mib > lim->max_memory_mib)
		ret = field_error_set(err, "memory_mib",
				      "memory_mib must be from %d to %llu",
				      VMDEF_MIN_MEM_MIB,
				      (unsigned long long)lim->max_memory_mib);
	if (ret)
		vmdef_free(d);
	return ret;
}

int json_body_parse(const char *text, size_t len, struct json_object **out,
		    struct field_error *err)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_BODY_MAX_DEPTH);
	enum json_tokener_error e = json_tokener_error_size;
	struct json_object *o = NULL;

	*out = NULL;
	if (!tok)
		return field_error_set(err, "", "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	if (len <= INT_MAX) {
		o = json_tokener_parse_ex(tok, text, (int)len);
		e = json_tokener_get_error(tok);
	}
	if (o && json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		json_tokener_free(tok);
		return field_error_set(err, "",
				       "the body is not valid JSON: text after "
				       "the value");
	}
	json_tokener_free(tok);
	if (!o || e != json_tokener_success) {
		json_object_put(o);
		return field_error_set(err, "",
				       "the body is not valid JSON: %s",
				       e == json_tokener_continue
					       ? "it ends too early"
					       : json_tokener_error_desc(e));
	}
	*out = o;
	return 0;
}

int vmdef_parse(struct vmdef *d, const char *text, size_t len,
		const struct vmdef_limits *lim, struct field_error *err)
{
	struct json_object *o;
	int ret;

	*d = (struct vmdef){0};
	ret = json_body_parse(text, len, &o, err);
	if (!ret)
		ret = vmdef_from_json(d, o, lim, err);
	json_object_put(o);
	return ret;
}
