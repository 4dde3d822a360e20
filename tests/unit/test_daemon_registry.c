/* SPDX-License-Identifier: MIT */
/*
 * berthd's registry without KVM: create, list, inspect and delete against a
 * real database; starts with stand-in programs for berth that fail the way
 * berth does; re-adoption after a restart when the processes are gone or
 * are not the VM's; the status file, and process start times.
 */
#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/registry.h"
#include "daemon/vmproc.h"
#include "lib/test_util.h"
#include "util/status_file.h"

struct fx {
	char dir[64], db_path[96], kernel[96], exe[96];
	char body[256];
	struct db *db;
	struct registry reg;
	struct vmdef_limits lim;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/berth-reg-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db_path, sizeof(f->db_path), "%s/berth.db", f->dir);
	snprintf(f->kernel, sizeof(f->kernel), "%s/kernel", f->dir);
	snprintf(f->exe, sizeof(f->exe), "%s/fake-berth", f->dir);
	snprintf(f->body, sizeof(f->body), "{\"kernel\": \"%s\"}", f->kernel);
	write_file(f->kernel, "kernel", 0644);
	f->lim = (struct vmdef_limits){
		.max_memory_mib = 1024, .host_cpus = 2, .check_files = true};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

/* (Re)open the database and the registry, as berthd does at start. */
static void open_registry(struct fx *f, const char *exe)
{
	char vms[128];

	snprintf(vms, sizeof(vms), "%s/vms", f->dir);
	mkdir(vms, 0700);
	assert_int_equal(db_open(&f->db, f->db_path), 0);
	assert_int_equal(registry_init(&f->reg, f->db, f->dir, exe, &f->lim),
			 0);
}

static void close_registry(struct fx *f)
{
	registry_fini(&f->reg);
	db_close(f->db);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static char *create(struct fx *f, const char *body, int want)
{
	struct json_object *vm = NULL;
	struct field_error err;
	char *id = NULL;

	assert_int_equal(reg_create(&f->reg, body, strlen(body), &vm, &err),
			 want);
	if (!want) {
		id = strdup(get_str(vm, "id"));
		assert_string_equal(get_str(vm, "state"), "created");
		json_object_put(vm);
	}
	return id;
}

static void test_create_inspect_delete(void **state)
{
	struct fx *f = *state;
	struct json_object *vm, *list;
	struct field_error err;
	char body[256], id[VM_ID_LEN + 1], *a, *b;

	open_registry(f, "/bin/false");
	a = create(f, f->body, 0);
	assert_int_equal(strlen(a), VM_ID_LEN);
	snprintf(body, sizeof(body), "{\"kernel\": \"%s\", \"name\": \"web\"}",
		 f->kernel);
	b = create(f, body, 0);
	/* names are unique, and no name may be another VM's id */
	create(f, body, -EEXIST);
	snprintf(body, sizeof(body), "{\"kernel\": \"%s\", \"name\": \"%s\"}",
		 f->kernel, a);
	create(f, body, -EEXIST);
	create(f, "{\"kernel\": 1}", -EINVAL);
	assert_int_equal(reg_inspect(&f->reg, "web", &vm, &err), 0);
	assert_string_equal(get_str(vm, "id"), b);
	assert_null(get_str(vm, "pid"));
	json_object_put(vm);
	assert_int_equal(reg_inspect(&f->reg, "nope", &vm, &err), -ENOENT);
	list = reg_list(&f->reg);
	assert_int_equal(json_object_array_length(list), 2);
	json_object_put(list);
	/* Stopping or pausing what does not run is a conflict. */
	assert_int_equal(reg_stop(&f->reg, a, 1, false, NULL, &err), -EBUSY);
	assert_int_equal(reg_pause(&f->reg, a, true, NULL, &err), -EBUSY);
	assert_int_equal(reg_stats(&f->reg, a, &vm, &err), -EBUSY);

	/* A restart finds them again. */
	close_registry(f);
	open_registry(f, "/bin/false");
	assert_int_equal(f->reg.nr, 2);
	assert_int_equal(reg_delete(&f->reg, "web", false, id, &err), 0);
	assert_string_equal(id, b);
	assert_int_equal(reg_delete(&f->reg, "web", false, id, &err), -ENOENT);
	close_registry(f);
	open_registry(f, "/bin/false");
	assert_int_equal(f->reg.nr, 1);
	close_registry(f);
	free(a);
	free(b);
}

/* berth that dies without a word (killed, or not berth at all). */
static void test_start_fails_silently(void **state)
{
	struct fx *f = *state;
	struct json_object *vm;
	struct field_error err;
	char *id;

	open_registry(f, "/bin/false");
	id = create(f, f->body, 0);
	capture_begin();
	assert_int_equal(reg_start(&f->reg, id, NULL, &err), -EIO);
	capture_end();
	assert_non_null(strstr(err.msg, "stopped at once"));
	assert_int_equal(reg_inspect(&f->reg, id, &vm, &err), 0);
	assert_string_equal(get_str(vm, "state"), "stopped");
	assert_non_null(strstr(get_str(vm, "stop_reason"), "without writing"));
	assert_null(get_str(vm, "exit_status"));
	json_object_put(vm);
	close_registry(f);
	free(id);
}

/* berth refusing the definition: status 2, its reason in the status file,
 * its error line on stderr (berth.log). */
static void test_start_refused(void **state)
{
	struct fx *f = *state;
	struct json_object *vm;
	struct field_error err;
	char *id;

	write_file(f->exe,
		   "#!/bin/sh\n"
		   "while [ $# -gt 0 ]; do\n"
		   "  [ \"$1\" = --status-file ] && sf=$2\n"
		   "  shift\n"
		   "done\n"
		   "echo 'berth: error: kernel: not an ELF or bzImage' >&2\n"
		   "echo '{\"exit_status\":2,\"reason\":\"bad kernel\"}' "
		   ">\"$sf\"\n"
		   "exit 2\n",
		   0755);
	open_registry(f, f->exe);
	id = create(f, f->body, 0);
	capture_begin();
	assert_int_equal(reg_start(&f->reg, id, NULL, &err), -EINVAL);
	capture_end();
	assert_non_null(strstr(err.msg, "not an ELF or bzImage"));
	assert_non_null(strstr(err.msg, "exit status 2"));
	assert_int_equal(reg_inspect(&f->reg, id, &vm, &err), 0);
	assert_string_equal(get_str(vm, "state"), "stopped");
	assert_string_equal(get_str(vm, "exit_status"), "2");
	assert_non_null(strstr(get_str(vm, "stop_reason"), "bad kernel"));
	json_object_put(vm);
	close_registry(f);
	free(id);
}

/* Mark a VM running with pid and start time, as a berthd that was killed
 * would have left it. */
static void fake_running(struct fx *f, const char *id, int pid, uint64_t start)
{
	sqlite3 *h;
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "UPDATE vms SET state='running', pid=%d, pid_start=%llu, "
		 "started_at=1 WHERE id='%s'",
		 pid, (unsigned long long)start, id);
	assert_int_equal(sqlite3_open(f->db_path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(h), 1);
	sqlite3_close(h);
}

static void test_recover(void **state)
{
	struct fx *f = *state;
	struct json_object *vm;
	struct field_error err;
	char *gone, *reused, status[160];
	uint64_t start;

	open_registry(f, "/bin/false");
	gone = create(f, f->body, 0);
	reused = create(f, f->body, 0);
	close_registry(f);
	/* A pid nobody has; our own pid with another start time: a reused
	 * pid, not the VM. */
	fake_running(f, gone, 0x3ffffff0, 12345);
	assert_int_equal(proc_start_time(getpid(), &start), 0);
	fake_running(f, reused, getpid(), start + 1);
	/* gone left a status file before it died */
	snprintf(status, sizeof(status), "%s/vms/%s/status.json", f->dir, gone);
	assert_int_equal(status_file_write(status, 0, "the guest powered off"),
			 0);

	open_registry(f, "/bin/false");
	capture_begin();
	registry_recover(&f->reg);
	capture_end();
	assert_int_equal(reg_inspect(&f->reg, gone, &vm, &err), 0);
	assert_string_equal(get_str(vm, "state"), "stopped");
	assert_string_equal(get_str(vm, "stop_reason"),
			    "process died while berthd was down: the guest "
			    "powered off");
	assert_string_equal(get_str(vm, "exit_status"), "0");
	json_object_put(vm);
	assert_int_equal(reg_inspect(&f->reg, reused, &vm, &err), 0);
	assert_string_equal(get_str(vm, "state"), "stopped");
	assert_non_null(strstr(get_str(vm, "stop_reason"), "died while"));
	json_object_put(vm);
	close_registry(f);
	free(gone);
	free(reused);
}

static void test_status_file(void **state)
{
	struct fx *f = *state;
	char path[128], reason[64];
	int status;

	snprintf(path, sizeof(path), "%s/status.json", f->dir);
	assert_int_equal(
		status_file_read(path, &status, reason, sizeof(reason)),
		-ENOENT);
	assert_int_equal(status_file_write(path, 4, "triple fault \"x\""), 0);
	assert_int_equal(
		status_file_read(path, &status, reason, sizeof(reason)), 0);
	assert_int_equal(status, 4);
	assert_string_equal(reason, "triple fault \"x\"");
	write_file(path, "{\"exit_status\":\"4\"}", 0644);
	assert_int_equal(
		status_file_read(path, &status, reason, sizeof(reason)),
		-EINVAL);
	write_file(path, "", 0644);
	assert_int_equal(
		status_file_read(path, &status, reason, sizeof(reason)),
		-EINVAL);
}

static void test_proc_start_time(void **state)
{
	uint64_t a, b;
	pid_t child;

	(void)state;
	assert_int_equal(proc_start_time(getpid(), &a), 0);
	assert_int_equal(proc_start_time(getpid(), &b), 0);
	assert_true(a == b && a > 0);
	assert_int_equal(proc_start_time(0x3ffffff0, &a), -ESRCH);
	/* An exited process (a zombie until reaped) is not alive. */
	child = fork();
	if (child == 0)
		_exit(0);
	usleep(100000);
	assert_int_equal(proc_start_time(child, &a), -ESRCH);
	waitpid(child, NULL, 0);
}

static void test_paths(void **state)
{
	struct vm_paths p;
	char dir[128];

	(void)state;
	assert_int_equal(vm_paths_init(&p, "/var/lib/berth", "0123456789ab"),
			 0);
	assert_string_equal(p.control,
			    "/var/lib/berth/vms/0123456789ab/control.sock");
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(vm_paths_init(&p, dir, "0123456789ab"), -ENAMETOOLONG);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_inspect_delete),
		T(test_start_fails_silently),
		T(test_start_refused),
		T(test_recover),
		T(test_status_file),
		T(test_proc_start_time),
		T(test_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
