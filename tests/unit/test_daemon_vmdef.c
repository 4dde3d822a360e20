/* SPDX-License-Identifier: MIT */
/*
 * berthd's request validation: every field of POST /v1/vms with a wrong
 * type, an impossible value and unknown names, each refused with the field
 * named; bad JSON; the normalized output and the berth run options.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/vmdef.h"

struct fx {
	char dir[64], kernel[96], disk[96], ro_disk[96];
	struct vmdef_limits lim;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	FILE *k;

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/berth-vmdef-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->kernel, sizeof(f->kernel), "%s/kernel", f->dir);
	snprintf(f->disk, sizeof(f->disk), "%s/disk.img", f->dir);
	k = fopen(f->kernel, "w");
	fputs("not really a kernel", k);
	fclose(k);
	k = fopen(f->disk, "w");
	fclose(k);
	f->lim = (struct vmdef_limits){
		.max_memory_mib = 4096, .host_cpus = 4, .check_files = true};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->kernel);
	unlink(f->disk);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Parse "{"kernel": K, <extra>}" (extra may be empty). */
static int parse_with(struct fx *f, const char *extra, struct vmdef *d,
		      struct field_error *err)
{
	char body[4096];

	snprintf(body, sizeof(body), "{\"kernel\": \"%s\"%s%s}", f->kernel,
		 *extra ? ", " : "", extra);
	memset(err, 0, sizeof(*err));
	return vmdef_parse(d, body, strlen(body), &f->lim, err);
}

/* extra must be refused, naming field, with msg somewhere in the message. */
static void refused(struct fx *f, const char *extra, const char *field,
		    const char *msg)
{
	struct field_error err;
	struct vmdef d;

	if (parse_with(f, extra, &d, &err) != -EINVAL) {
		vmdef_free(&d);
		fail_msg("accepted: %s", extra);
	}
	if (strcmp(err.field, field))
		fail_msg("%s: field '%s', wanted '%s' (%s)", extra, err.field,
			 field, err.msg);
	if (!strstr(err.msg, msg))
		fail_msg("%s: message '%s' lacks '%s'", extra, err.msg, msg);
}

static void test_minimal_and_defaults(void **state)
{
	struct fx *f = *state;
	struct field_error err;
	struct vmdef d;

	assert_int_equal(parse_with(f, "", &d, &err), 0);
	assert_string_equal(d.kernel, f->kernel);
	assert_int_equal(d.vcpus, 1);
	assert_int_equal(d.memory_mib, VMDEF_DEF_MEM_MIB);
	assert_string_equal(d.cmdline, "");
	assert_null(d.name);
	assert_int_equal(d.cpu_weight, 0);
	assert_false(d.autostart);
	vmdef_free(&d);
}

static void test_full_definition(void **state)
{
	struct fx *f = *state;
	struct field_error err;
	char extra[1024];
	struct vmdef d;

	snprintf(extra, sizeof(extra),
		 "\"name\": \"web-1\", \"cmdline\": \"console=ttyS0\", "
		 "\"vcpus\": 4, \"memory_mib\": 4096, \"initrd\": \"%s\", "
		 "\"disks\": [{\"path\": \"%s\", \"readonly\": true, "
		 "\"direct\": false}], \"nics\": [{\"tap\": \"tap0\", \"mac\": "
		 "\"52:54:00:12:34:56\"}, {\"switch\": \"/run/sw.sock\"}], "
		 "\"cpu_weight\": 200, \"cpu_cap\": 1.5, \"cpu_pin\": [0, 3], "
		 "\"autostart\": true",
		 f->kernel, f->disk);
	assert_int_equal(parse_with(f, extra, &d, &err), 0);
	assert_string_equal(d.name, "web-1");
	assert_int_equal(d.vcpus, 4);
	assert_int_equal(d.nr_disks, 1);
	assert_true(d.disks[0].readonly);
	assert_int_equal(d.nr_nics, 2);
	assert_string_equal(d.nics[0].tap, "tap0");
	assert_string_equal(d.nics[0].mac, "52:54:00:12:34:56");
	assert_string_equal(d.nics[1].sw, "/run/sw.sock");
	assert_int_equal(d.cpu_weight, 200);
	assert_true(d.cpu_cap > 1.49 && d.cpu_cap < 1.51);
	assert_int_equal(d.nr_pin, 2);
	assert_int_equal(d.cpu_pin[1], 3);
	assert_true(d.autostart);
	vmdef_free(&d);
}

static void test_wrong_types(void **state)
{
	struct fx *f = *state;

	refused(f, "\"name\": 5", "name", "must be a string");
	refused(f, "\"cmdline\": [\"a\"]", "cmdline", "must be a string");
	refused(f, "\"initrd\": true", "initrd", "must be a string");
	refused(f, "\"vcpus\": \"2\"", "vcpus", "must be an integer");
	refused(f, "\"vcpus\": 1.5", "vcpus", "must be an integer");
	refused(f, "\"vcpus\": null", "vcpus", "must be an integer");
	refused(f, "\"memory_mib\": \"512M\"", "memory_mib",
		"must be an integer");
	refused(f, "\"disks\": {}", "disks", "must be an array");
	refused(f, "\"disks\": [\"/x\"]", "disks[0]", "must be an object");
	refused(f, "\"disks\": [{\"path\": 1}]", "disks[0].path",
		"must be a string");
	refused(f, "\"nics\": \"tap0\"", "nics", "must be an array");
	refused(f, "\"nics\": [{\"tap\": 7}]", "nics[0].tap",
		"must be a string");
	refused(f, "\"cpu_weight\": \"high\"", "cpu_weight",
		"must be an integer");
	refused(f, "\"cpu_cap\": \"0.5\"", "cpu_cap", "must be a number");
	refused(f, "\"cpu_pin\": 0", "cpu_pin", "must be an array");
	refused(f, "\"cpu_pin\": [\"0\"]", "cpu_pin[0]", "must be an integer");
	refused(f, "\"autostart\": 1", "autostart", "true or false");
}

static void test_impossible_values(void **state)
{
	struct fx *f = *state;

	refused(f, "\"vcpus\": 0", "vcpus", "from 1 to 64");
	refused(f, "\"vcpus\": 65", "vcpus", "from 1 to 64");
	refused(f, "\"vcpus\": -1", "vcpus", "from 1 to 64");
	refused(f, "\"vcpus\": 99999999999999999999", "vcpus", "from 1 to 64");
	refused(f, "\"memory_mib\": 1", "memory_mib", "from 2 to 4096");
	refused(f, "\"memory_mib\": 4097", "memory_mib", "from 2 to 4096");
	refused(f, "\"name\": \"Web\"", "name", "a-z, 0-9");
	refused(f, "\"name\": \"\"", "name", "a-z, 0-9");
	refused(f, "\"name\": \"a/b\"", "name", "a-z, 0-9");
	refused(f,
		"\"name\": "
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"a"
		"aaa\"",
		"name", "longer than 63");
	refused(f, "\"cpu_weight\": 0", "cpu_weight", "from 1 to 10000");
	refused(f, "\"cpu_weight\": 10001", "cpu_weight", "from 1 to 10000");
	refused(f, "\"cpu_cap\": 0", "cpu_cap", "more than 0");
	refused(f, "\"cpu_cap\": -1", "cpu_cap", "more than 0");
	refused(f, "\"cpu_cap\": 4.5", "cpu_cap", "at most 4");
	refused(f, "\"cpu_cap\": 0.001", "cpu_cap", "at least 0.01");
	/* json-c takes NaN and Infinity even in strict mode. */
	refused(f, "\"cpu_cap\": NaN", "cpu_cap", "more than 0");
	refused(f, "\"cpu_cap\": Infinity", "cpu_cap", "more than 0");
	refused(f, "\"vcpus\": NaN", "vcpus", "must be an integer");
	refused(f, "\"cpu_pin\": []", "cpu_pin", "1 to 64");
	refused(f, "\"cpu_pin\": [4]", "cpu_pin[0]", "from 0 to 3");
	refused(f, "\"cpu_pin\": [1, 1]", "cpu_pin[1]", "twice");
	refused(f,
		"\"nics\": [{\"tap\": \"tap0\", \"mac\": "
		"\"01:00:5e:00:00:01\"}]",
		"nics[0].mac", "unicast");
	refused(f,
		"\"nics\": [{\"tap\": \"tap0\", \"mac\": \"52:54:00:12:34\"}]",
		"nics[0].mac", "unicast");
	refused(f, "\"nics\": [{\"tap\": \"a,b\"}]", "nics[0].tap",
		"interface name");
	refused(f, "\"nics\": [{\"tap\": \"averylongtapname0\"}]",
		"nics[0].tap", "interface name");
	refused(f, "\"nics\": [{}]", "nics[0]", "exactly one of");
	refused(f, "\"nics\": [{\"tap\": \"t\", \"switch\": \"/s\"}]",
		"nics[0]", "exactly one of");
	refused(f, "\"nics\": [{\"switch\": \"rel/sw.sock\"}]",
		"nics[0].switch", "absolute");
	refused(f, "\"cmdline\": \"a\\u0000b\"", "cmdline", "NUL");
}

static void test_files(void **state)
{
	struct fx *f = *state;
	struct field_error err;
	struct vmdef d;
	char extra[512];
	const char *body = "{\"vcpus\": 1}";

	refused(f, "\"initrd\": \"/nonexistent/initrd\"", "initrd",
		"No such file");
	refused(f, "\"initrd\": \"/tmp\"", "initrd", "not a regular file");
	refused(f, "\"initrd\": \"relative/initrd\"", "initrd", "absolute");
	refused(f, "\"disks\": [{\"path\": \"/nonexistent/disk\"}]",
		"disks[0].path", "No such file");
	refused(f, "\"disks\": [{\"readonly\": true}]", "disks[0].path",
		"required");
	snprintf(extra, sizeof(extra), "\"disks\": [{\"path\": \"%s,ro\"}]",
		 f->disk);
	refused(f, extra, "disks[0].path", "','");
	/* The kernel: required, existing, a file. */
	assert_int_equal(vmdef_parse(&d, body, strlen(body), &f->lim, &err),
			 -EINVAL);
	assert_string_equal(err.field, "kernel");
	assert_non_null(strstr(err.msg, "required"));
	body = "{\"kernel\": \"/nonexistent/vmlinuz\"}";
	assert_int_equal(vmdef_parse(&d, body, strlen(body), &f->lim, &err),
			 -EINVAL);
	assert_string_equal(err.field, "kernel");
	assert_non_null(strstr(err.msg, "No such file"));
	/* Read back from the database, files need not exist any more. */
	f->lim.check_files = false;
	assert_int_equal(vmdef_parse(&d, body, strlen(body), &f->lim, &err), 0);
	vmdef_free(&d);
}

static void test_unknown_fields(void **state)
{
	struct fx *f = *state;

	refused(f, "\"cpus\": 2", "cpus", "unknown field");
	refused(f, "\"Kernel\": \"/x\"", "Kernel", "unknown field");
	refused(f, "\"disks\": [{\"path\": \"/x\", \"ro\": true}]",
		"disks[0].ro", "unknown field");
	refused(f, "\"nics\": [{\"tap\": \"t\", \"model\": \"e1000\"}]",
		"nics[0].model", "unknown field");
}

static void test_bad_json(void **state)
{
	static const char *const bad[] = {
		"",	"{",	 "{\"kernel\": }", "[1, 2]",	 "42",
		"null", "{} {}", "{\"a\" 1}",	   "\xff\xfe{}", "{\"a\":1}x",
	};
	struct fx *f = *state;
	struct field_error err;
	struct vmdef d;
	char deep[64];
	const char *body;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (vmdef_parse(&d, bad[i], strlen(bad[i]), &f->lim, &err) !=
		    -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_string_equal(err.field, "");
		assert_true(strlen(err.msg) > 0);
	}
	/* json-c takes single quotes even in strict mode; the value is still
	 * checked like any other. */
	body = "{'kernel': 1}";
	assert_int_equal(vmdef_parse(&d, body, strlen(body), &f->lim, &err),
			 -EINVAL);
	assert_string_equal(err.field, "kernel");
	/* Nesting deeper than JSON_BODY_MAX_DEPTH. */
	memset(deep, '[', 40);
	deep[40] = '\0';
	assert_int_equal(vmdef_parse(&d, deep, strlen(deep), &f->lim, &err),
			 -EINVAL);
}

static void test_json_round_trip(void **state)
{
	struct fx *f = *state;
	struct field_error err;
	struct vmdef d, e;
	struct json_object *o;
	const char *s;
	char extra[512];

	snprintf(extra, sizeof(extra),
		 "\"name\": \"x\", \"disks\": [{\"path\": \"%s\"}], "
		 "\"cpu_cap\": 0.5",
		 f->disk);
	assert_int_equal(parse_with(f, extra, &d, &err), 0);
	o = vmdef_to_json(&d);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(s, "\"memory_mib\":256"));
	assert_non_null(strstr(s, "\"readonly\":false"));
	assert_null(strstr(s, "initrd"));     /* absent stays absent */
	assert_null(strstr(s, "cpu_weight")); /* berth run's default */
	assert_int_equal(vmdef_parse(&e, s, strlen(s), &f->lim, &err), 0);
	assert_string_equal(e.name, "x");
	assert_string_equal(e.disks[0].path, f->disk);
	json_object_put(o);
	vmdef_free(&d);
	vmdef_free(&e);
}

static bool has_pair(char **argv, int n, const char *opt, const char *val)
{
	for (int i = 0; i + 1 < n; i++)
		if (!strcmp(argv[i], opt) && !strcmp(argv[i + 1], val))
			return true;
	return false;
}

static void test_run_args(void **state)
{
	struct fx *f = *state;
	struct field_error err;
	char *argv[VMDEF_MAX_ARGS], extra[512], disk[128];
	struct vmdef d;
	int n;

	snprintf(extra, sizeof(extra),
		 "\"vcpus\": 2, \"memory_mib\": 512, \"cmdline\": \"a b\", "
		 "\"disks\": [{\"path\": \"%s\", \"readonly\": true}], "
		 "\"nics\": [{\"switch\": \"/s.sock\", \"mac\": "
		 "\"52:54:00:00:00:01\"}], \"cpu_weight\": 50, \"cpu_cap\": "
		 "0.25, \"cpu_pin\": [1, 0]",
		 f->disk);
	assert_int_equal(parse_with(f, extra, &d, &err), 0);
	n = vmdef_run_args(&d, "berth/abc", argv);
	assert_true(n > 0);
	assert_null(argv[n]);
	assert_true(has_pair(argv, n, "--kernel", f->kernel));
	assert_true(has_pair(argv, n, "--cpus", "2"));
	assert_true(has_pair(argv, n, "--mem", "512M"));
	assert_true(has_pair(argv, n, "--cmdline", "a b"));
	snprintf(disk, sizeof(disk), "%s,ro", f->disk);
	assert_true(has_pair(argv, n, "--disk", disk));
	assert_true(has_pair(argv, n, "--net",
			     "switch=/s.sock,mac=52:54:00:00:00:01"));
	assert_true(has_pair(argv, n, "--cpu-weight", "50"));
	assert_true(has_pair(argv, n, "--cpu-cap", "0.250"));
	assert_true(has_pair(argv, n, "--cpu-pin", "1,0"));
	assert_true(has_pair(argv, n, "--cgroup", "berth/abc"));
	for (int i = 0; i < n; i++)
		free(argv[i]);
	vmdef_free(&d);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_minimal_and_defaults),
		T(test_full_definition),
		T(test_wrong_types),
		T(test_impossible_values),
		T(test_files),
		T(test_unknown_fields),
		T(test_bad_json),
		T(test_json_round_trip),
		T(test_run_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
