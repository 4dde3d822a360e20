/* SPDX-License-Identifier: MIT */
/*
 * A VM definition: what POST /v1/vms accepts, validated field by field,
 * kept as normalized JSON in the database, and turned into `berth run`
 * options when the VM starts. Everything here treats the JSON as hostile:
 * unknown fields, wrong types and impossible values are refused with an
 * error naming the field.
 */
#ifndef BERTH_DAEMON_VMDEF_H
#define BERTH_DAEMON_VMDEF_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define VMDEF_MAX_DISKS	    8
#define VMDEF_MAX_NICS	    8
#define VMDEF_MAX_VCPUS	    64
#define VMDEF_MAX_PIN	    64
#define VMDEF_NAME_MAX	    63
#define VMDEF_CMDLINE_MAX   4096
#define VMDEF_MIN_MEM_MIB   2
#define VMDEF_DEF_MEM_MIB   256
#define VMDEF_MAX_WEIGHT    10000
#define VMDEF_MAX_ARGS	    80
#define JSON_BODY_MAX_DEPTH 16

/* What was wrong with a request: a message, and the field it is about
 * ("" when it is about the request as a whole), e.g. "disks[1].path". */
struct field_error {
	char field[64];
	char msg[256];
};

struct vmdef_disk {
	char *path;
	bool readonly, direct;
};

/* Exactly one of tap and sw is set. */
struct vmdef_nic {
	char *tap;
	char *sw;  /* path of a `berth switch` socket */
	char *mac; /* NULL: berth picks one */
};

struct vmdef {
	char *name; /* NULL: none */
	char *kernel, *initrd, *cmdline;
	unsigned vcpus;
	uint64_t memory_mib;
	unsigned nr_disks;
	struct vmdef_disk disks[VMDEF_MAX_DISKS];
	unsigned nr_nics;
	struct vmdef_nic nics[VMDEF_MAX_NICS];
	unsigned cpu_weight; /* 0: not given (berth run's default, 100) */
	double cpu_cap;	     /* 0: no cap */
	unsigned nr_pin;
	unsigned cpu_pin[VMDEF_MAX_PIN];
	bool autostart;
};

/* What the host allows, and whether files must exist now (at create; not
 * when a stored definition is read back). */
struct vmdef_limits {
	uint64_t max_memory_mib;
	unsigned host_cpus;
	bool check_files;
};

/* Fill *d from the JSON object o. -EINVAL with *err set on the first
 * problem (d is then freed); d owns copies of every string. */
int vmdef_from_json(struct vmdef *d, struct json_object *o,
		    const struct vmdef_limits *lim, struct field_error *err)
	__attribute__((warn_unused_result));

/* Parse a request body: exactly one JSON value (strict JSON, UTF-8, nested
 * at most JSON_BODY_MAX_DEPTH deep) and nothing after it. -EINVAL with *err
 * set if it is not. */
int json_body_parse(const char *text, size_t len, struct json_object **out,
		    struct field_error *err)
	__attribute__((warn_unused_result));

/* Parse text (a whole JSON document) into *d as vmdef_from_json() does;
 * text that is not one JSON object is an error about the whole body. */
int vmdef_parse(struct vmdef *d, const char *text, size_t len,
		const struct vmdef_limits *lim, struct field_error *err)
	__attribute__((warn_unused_result));

/* The normalized definition as a new JSON object (defaults filled in). */
struct json_object *vmdef_to_json(const struct vmdef *d);

/* The `berth run` options for d (without --control, --serial and
 * --status-file), into argv[0..n), malloc'd strings; cgroup, if not NULL,
 * becomes --cgroup. Returns n, or -ENOMEM. */
int vmdef_run_args(const struct vmdef *d, const char *cgroup,
		   char *argv[VMDEF_MAX_ARGS])
	__attribute__((warn_unused_result));

/* Free the strings *d owns and zero it. */
void vmdef_free(struct vmdef *d);

/* Set *err to field and a printf-style message. Always returns -EINVAL. */
int field_error_set(struct field_error *err, const char *field, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* True if s is a VM name: [a-z0-9-]{1,63}. */
bool vmdef_name_ok(const char *s);

#endif
