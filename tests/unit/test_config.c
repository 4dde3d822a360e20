/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/config.h"
#include "lib/test_util.h"

static void test_parse_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(parse_size("2g", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(parse_size("64K", &v), 0);
	assert_int_equal(v, 64ULL << 10);
	assert_int_equal(parse_size("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(parse_size("128", &v), 0); /* MiB, as QEMU's -m */
	assert_int_equal(v, 128ULL << 20);
	assert_int_equal(parse_size("256MiB", &v), 0);
	assert_int_equal(v, 256ULL << 20);
	assert_int_equal(parse_size("1GB", &v), 0);
	assert_int_equal(v, 1ULL << 30);
}

static void test_parse_size_rejects(void **state)
{
	const char *bad[] = {"",
			     "M",
			     "-1G",
			     "12X",
			     "1.5G",
			     "1GG",
			     "99999999999999999999",
			     "17179869184G",
			     " 1G",
			     "1G ",
			     "0x10M"};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(parse_size(NULL, &v), -EINVAL);
}

static int parse(struct run_config *c, int argc, char **argv)
{
	return run_config_parse(c, argc, argv);
}

static void test_run_defaults(void **state)
{
	char *argv[] = {"berth run", NULL};
	struct run_config c;

	(void)state;
	assert_int_equal(parse(&c, 1, argv), 0);
	assert_null(c.kernel);
	assert_int_equal(c.cpus, 1);
	assert_int_equal(c.mem, RUN_DEFAULT_MEM);
	assert_int_equal(c.serial, SERIAL_STDIO);
	assert_string_equal(c.cmdline, "");
}

static void test_run_all_options(void **state)
{
	char *argv[] = {"berth run",   "--kernel",
			"k",	       "--initrd",
			"i",	       "--cmdline",
			"a b",	       "--cpus",
			"4",	       "--mem",
			"1G",	       "--serial",
			"file:/tmp/x", "--guest-decompress",
			"-vv",	       NULL};
	struct run_config c;

	(void)state;
	assert_int_equal(parse(&c, 15, argv), 0);
	assert_string_equal(c.kernel, "k");
	assert_string_equal(c.initrd, "i");
	assert_string_equal(c.cmdline, "a b");
	assert_int_equal(c.cpus, 4);
	assert_int_equal(c.mem, 1ULL << 30);
	assert_int_equal(c.serial, SERIAL_FILE);
	assert_string_equal(c.serial_path, "/tmp/x");
	assert_true(c.guest_decompress);
	assert_int_equal(c.verbose, 2);
}

static void test_run_bad_values(void **state)
{
	const char *cases[][2] = {
		{"--cpus", "0"},       {"--cpus", "65"},
		{"--cpus", "two"},     {"--cpus", "4x"},
		{"--mem", "1M"},       {"--mem", "lots"},
		{"--mem", "2T"},       {"--mem", "4097K"},
		{"--serial", "tcp:1"}, {"--serial", "file:"},
	};
	struct run_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = {"berth run", (char *)cases[i][0],
				(char *)cases[i][1], NULL};

		assert_int_equal(parse(&c, 3, argv), -EINVAL);
	}
}

static void test_run_unknown_and_stray(void **state)
{
	char *unknown[] = {"berth run", "--frobnicate", NULL};
	char *stray[] = {"berth run", "kernel.elf", NULL};
	char *missing[] = {"berth run", "--kernel", NULL};
	struct run_config c;

	(void)state;
	assert_int_equal(parse(&c, 2, unknown), -EINVAL);
	assert_int_equal(parse(&c, 2, stray), -EINVAL);
	assert_int_equal(parse(&c, 2, missing), -EINVAL);
}

static void test_run_cpu_options(void **state)
{
	char *argv[] = {
		"berth run", "--cpu-weight", "300",	 "--cpu-cap", "0.5",
		"--cpu-pin", "0,0",	     "--cgroup", "pool/vm-a", NULL};
	char *defaults[] = {"berth run", NULL};
	char *cap1[] = {"berth run", "--cpu-cap", "1", NULL};
	struct run_config c;

	(void)state;
	assert_int_equal(parse(&c, 9, argv), 0);
	assert_int_equal(c.cpu_weight, 300);
	assert_int_equal(c.cpu_cap_milli, 500);
	assert_int_equal(c.nr_cpu_pin, 2);
	assert_int_equal(c.cpu_pin[0], 0);
	assert_int_equal(c.cpu_pin[1], 0);
	assert_string_equal(c.cgroup, "pool/vm-a");
	assert_int_equal(parse(&c, 3, cap1), 0);
	assert_int_equal(c.cpu_cap_milli, 1000);
	/* No CPU option: no cgroup, no pinning. */
	assert_int_equal(parse(&c, 1, defaults), 0);
	assert_int_equal(c.cpu_weight, 0);
	assert_int_equal(c.cpu_cap_milli, 0);
	assert_int_equal(c.nr_cpu_pin, 0);
	assert_null(c.cgroup);
}

/* Each bad value is one log line that names the option and the value. */
static void test_run_cpu_bad_values(void **state)
{
	const char *cases[][2] = {
		{"--cpu-weight", "0"},	 {"--cpu-weight", "10001"},
		{"--cpu-weight", "1e3"}, {"--cpu-weight", "-5"},
		{"--cpu-cap", "0"},	 {"--cpu-cap", "0.001"},
		{"--cpu-cap", "-1"},	 {"--cpu-cap", "0.5x"},
		{"--cpu-cap", ".5"},	 {"--cpu-cap", "1."},
		{"--cpu-cap", "0.1234"}, {"--cpu-cap", "100000"},
		{"--cpu-pin", ""},	 {"--cpu-pin", "0,"},
		{"--cpu-pin", "1023"},	 {"--cpu-pin", "a"},
		{"--cgroup", ""},	 {"--cgroup", "/abs"},
		{"--cgroup", "a/../b"},	 {"--cgroup", "a b"},
	};
	struct run_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = {"berth run", (char *)cases[i][0],
				(char *)cases[i][1], NULL};
		char want[64];

		capture_begin();
		assert_int_equal(parse(&c, 3, argv), -EINVAL);
		assert_int_equal(capture_end(), 1);
		snprintf(want, sizeof(want), "%s: '%s'", cases[i][0],
			 cases[i][1]);
		assert_non_null(strstr(capture_last, want));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_size_rejects),
		cmocka_unit_test(test_run_defaults),
		cmocka_unit_test(test_run_all_options),
		cmocka_unit_test(test_run_bad_values),
		cmocka_unit_test(test_run_unknown_and_stray),
		cmocka_unit_test(test_run_cpu_options),
		cmocka_unit_test(test_run_cpu_bad_values),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
