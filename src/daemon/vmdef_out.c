/* SPDX-License-Identifier: MIT */
/* A validated VM definition going out: as JSON, and as berth run options. */
#include "daemon/vmdef.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- output ---------------------------------------------------------- */

static void add_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s));
}

static struct json_object *disks_to_json(const struct vmdef *d)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < d->nr_disks; i++) {
		struct json_object *k = json_object_new_object();

		add_str(k, "path", d->disks[i].path);
		json_object_object_add(
			k, "readonly",
			json_object_new_boolean(d->disks[i].readonly));
		json_object_object_add(
			k, "direct",
			json_object_new_boolean(d->disks[i].direct));
		json_object_array_add(a, k);
	}
	return a;
}

static struct json_object *nics_to_json(const struct vmdef *d)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < d->nr_nics; i++) {
		struct json_object *k = json_object_new_object();
		const struct vmdef_nic *n = &d->nics[i];

		if (n->tap)
			add_str(k, "tap", n->tap);
		else
			add_str(k, "switch", n->sw);
		if (n->mac)
			add_str(k, "mac", n->mac);
		json_object_array_add(a, k);
	}
	return a;
}

static void resources_to_json(const struct vmdef *d, struct json_object *o)
{
	struct json_object *pin;

	if (d->cpu_weight)
		json_object_object_add(o, "cpu_weight",
				       json_object_new_int(d->cpu_weight));
	if (d->cpu_cap > 0)
		json_object_object_add(o, "cpu_cap",
				       json_object_new_double(d->cpu_cap));
	if (d->nr_pin) {
		pin = json_object_new_array();
		for (unsigned i = 0; i < d->nr_pin; i++)
			json_object_array_add(
				pin, json_object_new_int(d->cpu_pin[i]));
		json_object_object_add(o, "cpu_pin", pin);
	}
}

struct json_object *vmdef_to_json(const struct vmdef *d)
{
	struct json_object *o = json_object_new_object();

	if (d->name)
		add_str(o, "name", d->name);
	add_str(o, "kernel", d->kernel);
	if (d->initrd)
		add_str(o, "initrd", d->initrd);
	add_str(o, "cmdline", d->cmdline ? d->cmdline : "");
	json_object_object_add(o, "vcpus", json_object_new_int(d->vcpus));
	json_object_object_add(o, "memory_mib",
			       json_object_new_uint64(d->memory_mib));
	json_object_object_add(o, "disks", disks_to_json(d));
	json_object_object_add(o, "nics", nics_to_json(d));
	resources_to_json(d, o);
	json_object_object_add(o, "autostart",
			       json_object_new_boolean(d->autostart));
	return o;
}

/* ---- berth run options ------------------------------------------------ */

struct args {
	char **v;
	int n;
	bool oom;
};

static void arg_add(struct args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void arg_add(struct args *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n >= VMDEF_MAX_ARGS - 1) {
		a->oom = true;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&a->v[a->n], fmt, ap) < 0) {
		a->v[a->n] = NULL;
		a->oom = true;
	} else {
		a->n++;
	}
	va_end(ap);
}

static void devices_args(const struct vmdef *d, struct args *a)
{
	for (unsigned i = 0; i < d->nr_disks; i++) {
		arg_add(a, "--disk");
		arg_add(a, "%s%s%s", d->disks[i].path,
			d->disks[i].readonly ? ",ro" : "",
			d->disks[i].direct ? ",direct" : "");
	}
	for (unsigned i = 0; i < d->nr_nics; i++) {
		const struct vmdef_nic *n = &d->nics[i];

		arg_add(a, "--net");
		arg_add(a, "%s=%s%s%s", n->tap ? "tap" : "switch",
			n->tap ? n->tap : n->sw, n->mac ? ",mac=" : "",
			n->mac ? n->mac : "");
	}
}

static void resources_args(const struct vmdef *d, const char *cgroup,
			   struct args *a)
{
	char list[VMDEF_MAX_PIN * 6] = "";
	size_t off = 0;

	if (d->cpu_weight) {
		arg_add(a, "--cpu-weight");
		arg_add(a, "%u", d->cpu_weight);
	}
	if (d->cpu_cap > 0) {
		arg_add(a, "--cpu-cap");
		arg_add(a, "%.3f", d->cpu_cap);
	}
	for (unsigned i = 0; i < d->nr_pin; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u",
					i ? "," : "", d->cpu_pin[i]);
	if (d->nr_pin) {
		arg_add(a, "--cpu-pin");
		arg_add(a, "%s", list);
	}
	if (cgroup) {
		arg_add(a, "--cgroup");
		arg_add(a, "%s", cgroup);
	}
}

int vmdef_run_args(const struct vmdef *d, const char *cgroup,
		   char *argv[VMDEF_MAX_ARGS])
{
	struct args a = {.v = argv};

	arg_add(&a, "--kernel");
	arg_add(&a, "%s", d->kernel);
	if (d->initrd) {
		arg_add(&a, "--initrd");
		arg_add(&a, "%s", d->initrd);
	}
	arg_add(&a, "--cmdline");
	arg_add(&a, "%s", d->cmdline ? d->cmdline : "");
	arg_add(&a, "--cpus");
	arg_add(&a, "%u", d->vcpus);
	arg_add(&a, "--mem");
	arg_add(&a, "%lluM", (unsigned long long)d->memory_mib);
	devices_args(d, &a);
	resources_args(d, cgroup, &a);
	argv[a.n] = NULL;
	if (a.oom) {
		while (a.n)
			free(argv[--a.n]);
		return -ENOMEM;
	}
	return a.n;
}

void vmdef_free(struct vmdef *d)
{
	free(d->name);
	free(d->kernel);
	free(d->initrd);
	free(d->cmdline);
	for (unsigned i = 0; i < d->nr_disks; i++)
		free(d->disks[i].path);
	for (unsigned i = 0; i < d->nr_nics; i++) {
		free(d->nics[i].tap);
		free(d->nics[i].sw);
		free(d->nics[i].mac);
	}
	*d = (struct vmdef){0};
}
