/* SPDX-License-Identifier: MIT */
/*
 * Metering without KVM: /proc/PID/stat parsing, the control socket's stats
 * summed, deltas and baselines (resets, stale looks, a control socket that
 * does not answer), and a whole life against a real database and a real
 * process that burns CPU: looks, a berthd restart in the middle, and the
 * last interval read from the zombie. The records must add up to exactly
 * what /proc says the process used.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/meter.h"
#include "daemon/registry_int.h"
#include "lib/test_util.h"

static void test_proc_stat_parse(void **state)
{
	/* comm with spaces and a ')': the fields start after the last ')'. */
	const char *text =
		"4242 (berth (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
		"250 51 0 0 20 0 3 0 987654 123456789 2500 "
		"18446744073709551615 "
		"1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	struct proc_stat ps;

	(void)state;
	assert_int_equal(proc_stat_parse(text, 100, 4096, &ps), 0);
	assert_int_equal(ps.state, 'S');
	assert_int_equal(ps.cpu_ns, 3010000000ULL); /* (250 + 51) / 100 s */
	assert_int_equal(ps.start, 987654);
	assert_int_equal(ps.rss_bytes, 2500 * 4096ULL);
	/* Another tick rate: 301 ticks at 250 Hz. */
	assert_int_equal(proc_stat_parse(text, 250, 4096, &ps), 0);
	assert_int_equal(ps.cpu_ns, 1204000000ULL);
	assert_int_equal(
		proc_stat_parse("4242 (no close paren S 1", 100, 4096, &ps),
		-EINVAL);
	assert_int_equal(proc_stat_parse("1 (x) S 1 2 3", 100, 4096, &ps),
			 -EINVAL);
}

static void test_proc_stat_read_self(void **state)
{
	struct proc_stat ps;
	uint64_t start;

	(void)state;
	assert_int_equal(proc_stat_read(getpid(), &ps), 0);
	assert_int_equal(proc_start_time(getpid(), &start), 0);
	assert_int_equal(ps.start, start);
	assert_true(ps.rss_bytes > 0);
	assert_int_equal(proc_stat_read(0x3ffffff0, &ps), -ESRCH);
}

static void test_stats_parse(void **state)
{
	struct json_object *o = json_tokener_parse(
		"{\"ok\": true, \"steal_ns\": 7,"
		" \"disks\": [{\"name\": \"virtio-blk0\", \"read_ops\": 1,"
		"  \"read_bytes\": 512, \"write_ops\": 2, \"write_bytes\": "
		"8192},"
		" {\"name\": \"virtio-blk1\", \"read_ops\": 10, "
		"\"read_bytes\": "
		"  4096, \"write_ops\": 20, \"write_bytes\": 1}],"
		" \"nics\": [{\"name\": \"virtio-net0\", \"rx_packets\": 3,"
		"  \"rx_bytes\": 300, \"tx_packets\": 4, \"tx_bytes\": 400}]}");
	struct meter_sample s = {.tot.cpu_ns = 99};

	(void)state;
	assert_non_null(o);
	assert_int_equal(meter_stats_parse(o, &s), 0);
	assert_true(s.have_dev);
	assert_int_equal(s.tot.cpu_ns, 99); /* /proc's, untouched */
	assert_int_equal(s.tot.steal_ns, 7);
	assert_int_equal(s.tot.disk_read_bytes, 4608);
	assert_int_equal(s.tot.disk_write_bytes, 8193);
	assert_int_equal(s.tot.disk_read_ops, 11);
	assert_int_equal(s.tot.disk_write_ops, 22);
	assert_int_equal(s.tot.net_rx_bytes, 300);
	assert_int_equal(s.tot.net_tx_bytes, 400);
	assert_int_equal(s.tot.net_rx_packets, 3);
	assert_int_equal(s.tot.net_tx_packets, 4);
	json_object_put(o);
	/* No steal, or a counter that is not a number: refused as a whole. */
	s = (struct meter_sample){0};
	o = json_tokener_parse("{\"disks\": []}");
	assert_int_equal(meter_stats_parse(o, &s), -EINVAL);
	assert_false(s.have_dev);
	json_object_put(o);
	o = json_tokener_parse("{\"steal_ns\": 1, \"nics\": [{\"rx_bytes\": "
			       "\"1\", \"tx_bytes\": 1, \"rx_packets\": 1, "
			       "\"tx_packets\": 1}]}");
	assert_int_equal(meter_stats_parse(o, &s), -EINVAL);
	json_object_put(o);
}

static struct meter_sample sample(int64_t t, uint64_t cpu, uint64_t disk_w,
				  uint64_t rss, bool dev)
{
	return (struct meter_sample){.t_ms = t,
				     .rss_bytes = rss,
				     .tot = {.cpu_ns = cpu,
					     .steal_ns = cpu / 10,
					     .disk_write_bytes = disk_w},
				     .have_dev = dev};
}

static void test_delta(void **state)
{
	struct meter_mark m;
	struct meter_sample s;
	struct usage_rec u;

	(void)state;
	meter_mark_reset(&m, 42, 777, 10000);
	assert_int_equal(m.pid, 42);
	assert_int_equal(m.pid_start, 777);
	/* First look: everything since the process started, from 0. */
	s = sample(12000, 500, 4096, 1ULL << 30, true);
	assert_int_equal(meter_delta(&m, &s, &u), 0);
	assert_int_equal(u.t_start, 10000);
	assert_int_equal(u.t_end, 12000);
	assert_int_equal(u.d.cpu_ns, 500);
	assert_int_equal(u.d.steal_ns, 50);
	assert_int_equal(u.d.disk_write_bytes, 4096);
	assert_int_equal(u.rss_bytes, 1ULL << 30);
	assert_true(u.mem_gib_s > 1.999 && u.mem_gib_s < 2.001);
	assert_true(u.uptime_s > 1.999 && u.uptime_s < 2.001);
	/* The next one: the difference. */
	s = sample(13000, 800, 8192, 1ULL << 29, true);
	assert_int_equal(meter_delta(&m, &s, &u), 0);
	assert_int_equal(u.t_start, 12000);
	assert_int_equal(u.d.cpu_ns, 300);
	assert_int_equal(u.d.disk_write_bytes, 4096);
	assert_true(u.mem_gib_s > 0.499 && u.mem_gib_s < 0.501);
	/* The control socket did not answer: CPU moves, the rest waits and
	 * is counted by the next look that has it. */
	s = sample(14000, 900, 0, 1ULL << 29, false);
	assert_int_equal(meter_delta(&m, &s, &u), 0);
	assert_int_equal(u.d.cpu_ns, 100);
	assert_int_equal(u.d.disk_write_bytes, 0);
	assert_int_equal(u.d.steal_ns, 0);
	s = sample(15000, 1000, 10240, 1ULL << 29, true);
	assert_int_equal(meter_delta(&m, &s, &u), 0);
	assert_int_equal(u.d.disk_write_bytes, 2048);
	assert_int_equal(u.d.steal_ns, 20); /* 100 - 80 */
	/* An older look (taken before, stored after): refused, m unmoved. */
	s = sample(14500, 2000, 0, 0, true);
	assert_int_equal(meter_delta(&m, &s, &u), -EAGAIN);
	assert_int_equal(m.t_ms, 15000);
	assert_int_equal(m.tot.cpu_ns, 1000);
	/* Counters that go backwards started again: all of it is new. */
	s = sample(16000, 70, 512, 0, true);
	assert_int_equal(meter_delta(&m, &s, &u), 0);
	assert_int_equal(u.d.cpu_ns, 70);
	assert_int_equal(u.d.disk_write_bytes, 512);
	assert_int_equal(m.tot.cpu_ns, 70);
	/* The same instant twice: an empty interval, not an error. */
	s = sample(16000, 70, 512, 0, true);
	assert_int_equal(meter_delta(&m, &s, &u), 0);
	assert_int_equal(u.d.cpu_ns, 0);
	assert_true(u.uptime_s == 0);
}

/* ---- a whole life ------------------------------------------------------- */

struct fx {
	char dir[64], db_path[96], kernel[96];
	struct db *db;
	struct registry reg;
	struct vmdef_limits lim;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	FILE *k;

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/berth-meter-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db_path, sizeof(f->db_path), "%s/berth.db", f->dir);
	snprintf(f->kernel, sizeof(f->kernel), "%s/kernel", f->dir);
	k = fopen(f->kernel, "w");
	if (!k)
		return -1;
	fputs("kernel", k);
	fclose(k);
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

/* berthd's start: database, registry, a sampler that never wakes by
 * itself (the test looks when it wants). */
static void open_all(struct fx *f)
{
	char vms[128];

	snprintf(vms, sizeof(vms), "%s/vms", f->dir);
	mkdir(vms, 0700);
	assert_int_equal(db_open(&f->db, f->db_path), 0);
	assert_int_equal(
		registry_init(&f->reg, f->db, f->dir, "/bin/false", &f->lim),
		0);
	assert_int_equal(meter_start(&f->reg, METER_INTERVAL_MAX), 0);
}

static void close_all(struct fx *f)
{
	meter_stop(&f->reg);
	registry_fini(&f->reg);
	db_close(f->db);
}

/* A process that burns about ms of CPU, then exits. */
static pid_t burner(unsigned ms)
{
	pid_t pid = fork();
	struct timespec ts;
	volatile uint64_t x = 0;

	assert_true(pid >= 0);
	if (pid)
		return pid;
	do {
		for (unsigned i = 0; i < 100000; i++)
			x += i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	} while ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < ms);
	_exit(0);
}

/* Make the VM's record say it runs pid, as launch() does. */
static struct vm_rec *pretend_running(struct fx *f, const char *id, pid_t pid)
{
	struct vm_rec *rec = reg_find(&f->reg, id);

	assert_non_null(rec);
	rec->row.state = VM_RUNNING;
	rec->row.pid = pid;
	assert_int_equal(proc_start_time(pid, &rec->row.pid_start), 0);
	rec->row.started_at = now_ms();
	rec->pidfd = vmproc_pidfd(pid);
	assert_true(rec->pidfd >= 0);
	reg_persist(&f->reg, rec);
	return rec;
}

struct sums {
	unsigned n;
	struct usage_sum s;
};

static int take_sum(void *ctx, const struct usage_sum *s)
{
	struct sums *x = ctx;

	x->n++;
	x->s = *s;
	return 0;
}

static void test_life_and_restart(void **state)
{
	struct usage_filter all = {.since = 0, .until = INT64_MAX};
	struct fx *f = *state;
	struct json_object *vm;
	struct field_error err;
	struct proc_stat ps;
	struct vm_rec *rec;
	struct sums x = {0};
	char body[160], id[VM_ID_LEN + 1];
	struct pollfd p;
	pid_t pid;

	snprintf(body, sizeof(body), "{\"kernel\": \"%s\", \"name\": \"m\"}",
		 f->kernel);
	open_all(f);
	assert_int_equal(reg_create(&f->reg, body, strlen(body), &vm, &err), 0);
	snprintf(id, sizeof(id), "%s",
		 json_object_get_string(json_object_object_get(vm, "id")));
	json_object_put(vm);
	pid = burner(1000);
	pthread_mutex_lock(&f->reg.lock);
	rec = pretend_running(f, id, pid);
	meter_vm_started(&f->reg, rec);
	pthread_mutex_unlock(&f->reg.lock);
	usleep(150000);
	meter_vm_sample(&f->reg, id); /* no control socket: CPU only */
	usleep(100000);
	meter_vm_sample(&f->reg, id);

	/* berthd restarts: the mark comes back from the database. */
	close_all(f);
	open_all(f);
	pthread_mutex_lock(&f->reg.lock);
	rec = reg_find(&f->reg, id);
	assert_int_equal(rec->row.state, VM_RUNNING);
	rec->pidfd = vmproc_pidfd(pid);
	meter_vm_adopted(&f->reg, rec);
	assert_true(rec->meter.t_ms > rec->row.started_at);
	assert_true(rec->meter.tot.cpu_ns > 0);
	pthread_mutex_unlock(&f->reg.lock);
	usleep(100000);
	meter_vm_sample(&f->reg, id);

	/* It exits: the last interval comes from the zombie. */
	p = (struct pollfd){.fd = rec->pidfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(proc_stat_read(pid, &ps), 0);
	assert_int_equal(ps.state, 'Z');
	assert_true(ps.cpu_ns >= 500000000ULL);
	capture_begin();
	pthread_mutex_lock(&f->reg.lock);
	rec_reap(&f->reg, rec);
	pthread_mutex_unlock(&f->reg.lock);
	capture_end();
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* reaped */

	assert_int_equal(db_usage_sum(f->db, &all, take_sum, &x), 0);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.s.vm_id, id);
	assert_string_equal(x.s.vm_name, "m");
	assert_true(x.s.records >= 4);
	/* Nothing counted twice across the restart, nothing lost. */
	assert_int_equal(x.s.d.cpu_ns, ps.cpu_ns);
	assert_true(x.s.mem_gib_s > 0);
	assert_true(x.s.uptime_s > 0.3 && x.s.uptime_s < 30);
	/* Looking at a stopped VM stores nothing. */
	meter_vm_sample(&f->reg, id);
	x.n = 0;
	assert_int_equal(db_usage_sum(f->db, &all, take_sum, &x), 0);
	assert_int_equal(x.s.d.cpu_ns, ps.cpu_ns);
	close_all(f);
}

/* A mark of another process (the pid was reused, or the VM restarted
 * while berthd was down) is not continued from. */
static void test_adopt_other_process(void **state)
{
	struct fx *f = *state;
	struct meter_mark m = {.pid = 1,
			       .pid_start = 1,
			       .t_ms = 5,
			       .tot = {.cpu_ns = 1ULL << 40}};
	struct usage_rec u = {
		.vm_id = "0123456789ab", .t_start = 1, .t_end = 5};
	struct vm_rec rec = {.row = {.id = "0123456789ab",
				     .pid = 2,
				     .pid_start = 9,
				     .started_at = 1234}};

	open_all(f);
	assert_int_equal(db_usage_append(f->db, &u, &m), 0);
	meter_vm_adopted(&f->reg, &rec);
	assert_true(rec.metered);
	assert_int_equal(rec.meter.pid, 2);
	assert_int_equal(rec.meter.t_ms, 1234);
	assert_int_equal(rec.meter.tot.cpu_ns, 0);
	rec.row.pid = 1;
	rec.row.pid_start = 1;
	meter_vm_adopted(&f->reg, &rec);
	assert_int_equal(rec.meter.tot.cpu_ns, 1ULL << 40);
	assert_int_equal(rec.meter.t_ms, 5);
	close_all(f);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_stat_parse),
		cmocka_unit_test(test_proc_stat_read_self),
		cmocka_unit_test(test_stats_parse),
		cmocka_unit_test(test_delta),
		T(test_life_and_restart),
		T(test_adopt_other_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
