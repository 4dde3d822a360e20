/* SPDX-License-Identifier: MIT */
/* CPU cgroups against fake cgroup roots (temporary directories laid out as
 * cgroup v1 and v2 are), and the host CPU list parser. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/cgroup.h"
#include "host/cpus.h"
#include "lib/test_util.h"

static char root[64];

/* Write text to root/rel, making the directories on the way. */
static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The content of root/rel ("<missing>" if there is no such file). */
static const char *get(const char *rel)
{
	static char buf[256];
	char path[PATH_MAX];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	if (!f)
		return "<missing>";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool is_dir(const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static void del(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(unlink(path), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/berth-cgroup-test-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_detect_v1(void **state)
{
	struct cgroup cg;

	(void)state;
	/* This development host: v1 cpu, and an empty v2 at unified. */
	put("unified/cgroup.controllers", "");
	put("cpu/cpu.shares", "1024\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	assert_int_equal(cg.version, CGROUP_V1);
	assert_string_equal(cg.root + strlen(root), "/cpu");
}

static void test_detect_v1_comounted(void **state)
{
	struct cgroup cg;

	(void)state;
	put("cpu,cpuacct/cpu.shares", "1024\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	assert_int_equal(cg.version, CGROUP_V1);
	assert_string_equal(cg.root + strlen(root), "/cpu,cpuacct");
}

static void test_detect_v2(void **state)
{
	struct cgroup cg;

	(void)state;
	put("cgroup.controllers", "cpuset cpu io memory pids\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	assert_int_equal(cg.version, CGROUP_V2);
	assert_string_equal(cg.root, root);
}

static void test_detect_v2_hybrid(void **state)
{
	struct cgroup cg;

	(void)state;
	put("unified/cgroup.controllers", "cpu\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	assert_int_equal(cg.version, CGROUP_V2);
	assert_string_equal(cg.root + strlen(root), "/unified");
}

static void test_detect_none(void **state)
{
	struct cgroup cg;

	(void)state;
	/* cpuset is not cpu, and a v1 directory without cpu.shares is not
	 * the cpu controller. */
	put("cgroup.controllers", "cpuset memory\n");
	put("cpu/tasks", "");
	capture_begin();
	assert_int_equal(cgroup_detect(&cg, root), -ENODEV);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last,
			       "cgroup: no cpu controller mounted (neither "
			       "cgroup v2 with cpu nor v1 cpu)"));
}

static void test_name_valid(void **state)
{
	static const char *const good[] = {"berth/vm-1", "a", "x.y_z-9",
					   "berth/pool.a/vm-2", "..a"};
	static const char *const bad[] = {"",	"/a",	"a/",	 "a//b",
					  "..", "a/..", "a/./b", "a b",
					  "a*", "vm\n"};

	(void)state;
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(cgroup_name_valid(good[i]));
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(cgroup_name_valid(bad[i]));
	assert_false(cgroup_name_valid(NULL));
}

static void test_v1_shares(void **state)
{
	(void)state;
	assert_int_equal(cgroup_v1_shares(100), 1024);
	assert_int_equal(cgroup_v1_shares(300), 3072);
	assert_int_equal(cgroup_v1_shares(1), 10);
	assert_int_equal(cgroup_v1_shares(10000), 102400);
	assert_int_equal(cgroup_v1_shares(0), 2); /* the kernel's minimum */
}

static void test_parse_self(void **state)
{
	const char *v1 = "9:name=systemd:/\n4:memory:/m\n2:cpuacct:/acct\n"
			 "1:cpu,cpuacct:/user/x\n0::/v2path\n";
	char out[64];

	(void)state;
	assert_int_equal(cgroup_parse_self(CGROUP_V1, v1, out, sizeof(out)), 0);
	assert_string_equal(out, "/user/x");
	assert_int_equal(cgroup_parse_self(CGROUP_V2, v1, out, sizeof(out)), 0);
	assert_string_equal(out, "/v2path");
	assert_int_equal(cgroup_parse_self(CGROUP_V1, "2:cpuacct:/a\n", out,
					   sizeof(out)),
			 -ENOENT);
	assert_int_equal(
		cgroup_parse_self(CGROUP_V2, "1:cpu:/a", out, sizeof(out)),
		-ENOENT);
	assert_int_equal(cgroup_parse_self(CGROUP_V1, "1:cpu:/a/long", out, 4),
			 -ENAMETOOLONG);
	assert_int_equal(
		cgroup_parse_self(CGROUP_V1, "1:cpu:/", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
}

/* v1: make berth/vm-7, set weight and cap, move a pid in and back out,
 * remove the VM's cgroup but not berth/. */
static void test_v1_lifecycle(void **state)
{
	char self[PATH_MAX];
	struct cgroup cg;

	(void)state;
	snprintf(self, sizeof(self), "%s/self", root);
	put("cpu/cpu.shares", "1024\n");
	put("cpu/cgroup.procs", "");
	put("cpu/home/cgroup.procs", "");
	put("self", "3:cpuset:/\n2:cpu:/home\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	cg.self = self;
	assert_int_equal(cgroup_open(&cg, "berth/vm-7"), 0);
	assert_true(cg.created);
	assert_true(is_dir("cpu/berth/vm-7"));
	/* What the kernel makes with the directory. */
	put("cpu/berth/vm-7/cpu.shares", "1024\n");
	put("cpu/berth/vm-7/cpu.cfs_period_us", "100000\n");
	put("cpu/berth/vm-7/cpu.cfs_quota_us", "-1\n");
	put("cpu/berth/vm-7/cgroup.procs", "");
	assert_int_equal(cgroup_set_cpu(&cg, 300, 1500), 0);
	assert_string_equal(get("cpu/berth/vm-7/cpu.shares"), "3072");
	assert_string_equal(get("cpu/berth/vm-7/cpu.cfs_period_us"), "100000");
	assert_string_equal(get("cpu/berth/vm-7/cpu.cfs_quota_us"), "150000");
	assert_int_equal(cgroup_enter(&cg, 4321), 0);
	assert_string_equal(get("cpu/berth/vm-7/cgroup.procs"), "4321");
	assert_string_equal(cg.home + strlen(root), "/cpu/home");
	/* cgroupfs lets a directory with control files go; a temp dir does
	 * not. */
	del("cpu/berth/vm-7/cpu.shares");
	del("cpu/berth/vm-7/cpu.cfs_period_us");
	del("cpu/berth/vm-7/cpu.cfs_quota_us");
	del("cpu/berth/vm-7/cgroup.procs");
	cgroup_leave(&cg, 4321);
	assert_string_equal(get("cpu/home/cgroup.procs"), "4321");
	assert_false(is_dir("cpu/berth/vm-7"));
	assert_true(is_dir("cpu/berth"));
}

/* Weight only: the cap is left as it was; an existing cgroup is used and
 * kept. */
static void test_v1_existing_weight_only(void **state)
{
	struct cgroup cg;

	(void)state;
	put("cpu/cpu.shares", "1024\n");
	put("cpu/pool/cpu.shares", "1024\n");
	put("cpu/pool/cpu.cfs_quota_us", "20000\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	assert_int_equal(cgroup_open(&cg, "pool"), 0);
	assert_false(cg.created);
	assert_int_equal(cgroup_set_cpu(&cg, 50, 0), 0);
	assert_string_equal(get("cpu/pool/cpu.shares"), "512");
	assert_string_equal(get("cpu/pool/cpu.cfs_quota_us"), "20000\n");
	cgroup_leave(&cg, 1);
	assert_true(is_dir("cpu/pool"));
}

/* v2: each parent gets +cpu in subtree_control (unless it has it), and
 * the leaf takes cpu.weight and cpu.max directly. */
static void test_v2_open_and_set(void **state)
{
	struct cgroup cg;

	(void)state;
	put("cgroup.controllers", "cpu memory\n");
	put("cgroup.subtree_control", "");
	put("berth/cgroup.subtree_control", "memory cpu\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	assert_int_equal(cgroup_open(&cg, "berth/vm-1"), 0);
	assert_true(cg.created);
	assert_string_equal(get("cgroup.subtree_control"), "+cpu");
	assert_string_equal(get("berth/cgroup.subtree_control"),
			    "memory cpu\n"); /* had it: not written */
	put("berth/vm-1/cpu.weight", "100\n");
	put("berth/vm-1/cpu.max", "max 100000\n");
	assert_int_equal(cgroup_set_cpu(&cg, 250, 500), 0);
	assert_string_equal(get("berth/vm-1/cpu.weight"), "250");
	assert_string_equal(get("berth/vm-1/cpu.max"), "50000 100000");
}

/* A control file that is not there (the controller is not enabled for
 * this cgroup) fails with one line naming the file. */
static void test_missing_control_file(void **state)
{
	struct cgroup cg;

	(void)state;
	put("cpu/cpu.shares", "1024\n");
	assert_int_equal(cgroup_detect(&cg, root), 0);
	assert_int_equal(cgroup_open(&cg, "vm"), 0);
	capture_begin();
	assert_int_equal(cgroup_set_cpu(&cg, 100, 0), -ENOENT);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "vm/cpu.shares"));
}

/* mkdir in sysfs is refused even to root: the error says what to do. */
static void test_permission_hint(void **state)
{
	struct cgroup cg = {.version = CGROUP_V1, .root = "/sys"};
	unsigned lines;
	int ret;

	(void)state;
	capture_begin();
	ret = cgroup_open(&cg, "berth-unit-test");
	lines = capture_end();
	if (ret != -EPERM && ret != -EACCES) /* no sysfs, or read-only */
		skip();
	assert_int_equal(lines, 1);
	assert_non_null(strstr(capture_last, "cannot create /sys/berth-unit-"
					     "test"));
	assert_non_null(
		strstr(capture_last, "need root or a delegated subtree"));
}

static void test_cpu_list(void **state)
{
	unsigned cpus[8];

	(void)state;
	assert_int_equal(cpu_list_parse("0", cpus, 8), 1);
	assert_int_equal(cpus[0], 0);
	assert_int_equal(cpu_list_parse("3,1,2-4", cpus, 8), 5);
	assert_int_equal(cpus[0], 3);
	assert_int_equal(cpus[1], 1);
	assert_int_equal(cpus[2], 2);
	assert_int_equal(cpus[4], 4);
	assert_int_equal(cpu_list_parse("0-1\n", cpus, 8), 2);
	assert_int_equal(cpu_list_parse("0-8", cpus, 8), -EINVAL); /* 9 */
	assert_int_equal(cpu_list_parse("", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse("1,", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse(",1", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse("0,,1", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse("2-1", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse("-1", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse("1x", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse("1024", cpus, 8), -EINVAL);
	assert_int_equal(cpu_list_parse("99999999999999999999", cpus, 8),
			 -EINVAL);
}

static void test_cpus_online(void **state)
{
	char online[PATH_MAX];
	cpu_set_t set;

	(void)state;
	snprintf(online, sizeof(online), "%s/online", root);
	put("online", "0-2,5\n");
	assert_int_equal(host_cpus_online(online, &set), 0);
	assert_int_equal(CPU_COUNT(&set), 4);
	assert_true(CPU_ISSET(5, &set));
	assert_false(CPU_ISSET(3, &set));
	put("online", "garbage\n");
	capture_begin();
	assert_int_equal(host_cpus_online(online, &set), -EINVAL);
	assert_int_equal(capture_end(), 1);
	/* The real one lists at least the CPU this runs on. */
	assert_int_equal(host_cpus_online(HOST_CPUS_ONLINE, &set), 0);
	assert_true(CPU_COUNT(&set) >= 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_detect_v1),
		T(test_detect_v1_comounted),
		T(test_detect_v2),
		T(test_detect_v2_hybrid),
		T(test_detect_none),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_v1_shares),
		cmocka_unit_test(test_parse_self),
		T(test_v1_lifecycle),
		T(test_v1_existing_weight_only),
		T(test_v2_open_and_set),
		T(test_missing_control_file),
		cmocka_unit_test(test_permission_hint),
		cmocka_unit_test(test_cpu_list),
		T(test_cpus_online),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
