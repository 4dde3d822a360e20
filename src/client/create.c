/* SPDX-License-Identifier: MIT */
/* `berth vm create`: berth run's options, as the JSON berthd takes. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "client/vm.h"
#include "util/log.h"

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_NAME,
	OPT_CPUS,
	OPT_MEM,
	OPT_DISK,
	OPT_NET,
	OPT_WEIGHT,
	OPT_CAP,
	OPT_PIN,
	OPT_AUTOSTART,
	OPT_START,
	OPT_SOCKET,
};

static const struct option create_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"name", required_argument, NULL, OPT_NAME},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"mem", required_argument, NULL, OPT_MEM},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"cpu-weight", required_argument, NULL, OPT_WEIGHT},
	{"cpu-cap", required_argument, NULL, OPT_CAP},
	{"cpu-pin", required_argument, NULL, OPT_PIN},
	{"autostart", no_argument, NULL, OPT_AUTOSTART},
	{"start", no_argument, NULL, OPT_START},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{NULL, 0, NULL, 0},
};

/* berthd wants absolute paths: resolve what exists, prefix the rest. */
static struct json_object *abs_path(const char *p)
{
	char buf[PATH_MAX], cwd[PATH_MAX];

	if (realpath(p, buf))
		return json_object_new_string(buf);
	if (p[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
	    snprintf(buf, sizeof(buf), "%s/%s", cwd, p) < (int)sizeof(buf))
		return json_object_new_string(buf);
	return json_object_new_string(p);
}

static int parse_int(const char *opt, const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno) {
		pr_err("--%s: '%s' is not a number", opt, s);
		return -EINVAL;
	}
	return 0;
}

static int add_int(struct json_object *o, const char *key, const char *opt,
		   const char *s)
{
	long long v;

	if (parse_int(opt, s, &v))
		return -EINVAL;
	json_object_object_add(o, key, json_object_new_int64(v));
	return 0;
}

static int add_mem(struct json_object *o, const char *s)
{
	uint64_t bytes;

	if (parse_size(s, &bytes) || !bytes || bytes & ((1 << 20) - 1)) {
		pr_err("--mem: '%s' is not a whole number of MiB (e.g. 512M, "
		       "2G)",
		       s);
		return -EINVAL;
	}
	json_object_object_add(o, "memory_mib",
			       json_object_new_uint64(bytes >> 20));
	return 0;
}

static int add_cap(struct json_object *o, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno) {
		pr_err("--cpu-cap: '%s' is not a number of CPUs (e.g. 0.5)", s);
		return -EINVAL;
	}
	json_object_object_add(o, "cpu_cap", json_object_new_double(v));
	return 0;
}

static int add_pin(struct json_object *o, const char *s)
{
	struct json_object *a = json_object_new_array();
	char buf[256], *rest = buf, *tok;
	long long v;

	snprintf(buf, sizeof(buf), "%s", s);
	while ((tok = strsep(&rest, ","))) {
		if (parse_int("cpu-pin", tok, &v)) {
			json_object_put(a);
			return -EINVAL;
		}
		json_object_array_add(a, json_object_new_int64(v));
	}
	json_object_object_add(o, "cpu_pin", a);
	return 0;
}

/* --disk PATH[,ro][,direct], as berth run takes it. */
static int add_disk(struct json_object *disks, const char *spec)
{
	struct json_object *d = json_object_new_object();
	char buf[PATH_MAX + 32], *rest = buf, *opt;

	snprintf(buf, sizeof(buf), "%s", spec);
	json_object_object_add(d, "path", abs_path(strsep(&rest, ",")));
	while ((opt = strsep(&rest, ","))) {
		if (strcmp(opt, "ro") && strcmp(opt, "direct")) {
			pr_err("--disk: '%s' in '%s' is not ro or direct", opt,
			       spec);
			json_object_put(d);
			return -EINVAL;
		}
		json_object_object_add(d, opt[0] == 'r' ? "readonly" : "direct",
				       json_object_new_boolean(1));
	}
	json_object_array_add(disks, d);
	return 0;
}

/* --net tap=NAME[,mac=MAC] | switch=PATH[,mac=MAC]. */
static int add_net(struct json_object *nics, const char *spec)
{
	struct json_object *n = json_object_new_object();
	char buf[PATH_MAX + 32], *rest = buf, *what, *opt;

	snprintf(buf, sizeof(buf), "%s", spec);
	what = strsep(&rest, ",");
	if (!strncmp(what, "tap=", 4))
		json_object_object_add(n, "tap",
				       json_object_new_string(what + 4));
	else if (!strncmp(what, "switch=", 7))
		json_object_object_add(n, "switch", abs_path(what + 7));
	else
		goto bad;
	while ((opt = strsep(&rest, ","))) {
		if (strncmp(opt, "mac=", 4))
			goto bad;
		json_object_object_add(n, "mac",
				       json_object_new_string(opt + 4));
	}
	json_object_array_add(nics, n);
	return 0;
bad:
	pr_err("--net: '%s' is not tap=NAME[,mac=MAC] or switch=PATH[,mac=MAC]",
	       spec);
	json_object_put(n);
	return -EINVAL;
}

static int create_option(struct json_object *o, int opt, const char *arg)
{
	switch (opt) {
	case OPT_KERNEL:
	case OPT_INITRD:
		json_object_object_add(o,
				       opt == OPT_KERNEL ? "kernel" : "initrd",
				       abs_path(arg));
		return 0;
	case OPT_CMDLINE:
	case OPT_NAME:
		json_object_object_add(o, opt == OPT_NAME ? "name" : "cmdline",
				       json_object_new_string(arg));
		return 0;
	case OPT_CPUS:
		return add_int(o, "vcpus", "cpus", arg);
	case OPT_MEM:
		return add_mem(o, arg);
	case OPT_WEIGHT:
		return add_int(o, "cpu_weight", "cpu-weight", arg);
	case OPT_CAP:
		return add_cap(o, arg);
	case OPT_PIN:
		return add_pin(o, arg);
	case OPT_AUTOSTART:
		json_object_object_add(o, "autostart",
				       json_object_new_boolean(1));
		return 0;
	default: /* getopt said what was wrong */
		return -EINVAL;
	}
}

int vm_create_parse(int argc, char **argv, struct json_object **body,
		    bool *start, const char **sock)
{
	struct json_object *o = json_object_new_object();
	struct json_object *disks = json_object_new_array();
	struct json_object *nics = json_object_new_array();
	int opt, ret = 0;

	*start = false;
	*sock = NULL;
	optind = 1;
	opterr = 1;
	while (!ret && (opt = getopt_long(argc, argv, "", create_options,
					  NULL)) != -1) {
		if (opt == OPT_START)
			*start = true;
		else if (opt == OPT_SOCKET)
			*sock = optarg;
		else if (opt == OPT_DISK)
			ret = add_disk(disks, optarg);
		else if (opt == OPT_NET)
			ret = add_net(nics, optarg);
		else
			ret = create_option(o, opt, optarg);
	}
	if (!ret && optind < argc) {
		pr_err("vm create: unexpected argument '%s'", argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && !json_object_object_get_ex(o, "kernel", NULL)) {
		pr_err("vm create: --kernel is required");
		ret = -EINVAL;
	}
	json_object_object_add(o, "disks", disks);
	json_object_object_add(o, "nics", nics);
	if (ret)
		json_object_put(o);
	*body = ret ? NULL : o;
	return ret;
}
