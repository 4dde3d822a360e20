/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: label and help escaping, sample lines, seconds with nine
 * decimals, and a whole exposition for VMs in every state (one "running"
 * on a real process) checked line by line against the text format's
 * grammar: HELP and TYPE before each family's samples, families not
 * interleaved, names, labels and values well formed.
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
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

#include "daemon/meter.h"
#include "daemon/metrics.h"
#include "daemon/registry_int.h"

static char *take(struct prom_buf *b)
{
	assert_false(b->oom);
	assert_non_null(b->p);
	return b->p;
}

static void test_escaping(void **state)
{
	struct prom_buf b = {0};
	const char *l[] = {"vm", "a\"b\\c\nd", "name", ""};

	(void)state;
	prom_label_value(&b, "plain");
	prom_label_value(&b, "q\"b\\n\n");
	assert_string_equal(take(&b), "plainq\\\"b\\\\n\\n");
	free(b.p);
	b = (struct prom_buf){0};
	prom_family(&b, "x_total", "counter",
		    "Help with \\ and\nnewline \"q\"");
	assert_string_equal(take(&b),
			    "# HELP x_total Help with \\\\ and\\nnewline "
			    "\"q\"\n# TYPE x_total counter\n");
	free(b.p);
	b = (struct prom_buf){0};
	prom_sample(&b, "x_total", l, 2, "1.5");
	prom_sample(&b, "up", NULL, 0, "1");
	assert_string_equal(take(&b),
			    "x_total{vm=\"a\\\"b\\\\c\\nd\",name=\"\"} "
			    "1.5\nup 1\n");
	free(b.p);
}

static void test_seconds_and_growth(void **state)
{
	struct prom_buf b = {0};
	char buf[48];

	(void)state;
	prom_seconds(buf, sizeof(buf), 3140000000ULL);
	assert_string_equal(buf, "3.140000000");
	prom_seconds(buf, sizeof(buf), 7);
	assert_string_equal(buf, "0.000000007");
	prom_seconds(buf, sizeof(buf), 18446744073709551615ULL);
	assert_string_equal(buf, "18446744073.709551615");
	for (int i = 0; i < 10000; i++)
		prom_printf(&b, "%04d\n", i);
	assert_int_equal(b.len, 50000);
	assert_int_equal(strncmp(take(&b) + 49995, "9999\n", 5), 0);
	free(b.p);
}

/* ---- a whole exposition ---------------------------------------------------- */

#define NAME  "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LNAME "[a-zA-Z_][a-zA-Z0-9_]*"
#define LVAL  "\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
#define VALUE "[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?"

struct grammar {
	regex_t help, type, sample;
};

static void grammar_init(struct grammar *g)
{
	assert_int_equal(
		regcomp(&g->help, "^# HELP (" NAME ") .*$", REG_EXTENDED), 0);
	assert_int_equal(regcomp(&g->type,
				 "^# TYPE (" NAME ") (counter|gauge|untyped)$",
				 REG_EXTENDED),
			 0);
	assert_int_equal(regcomp(&g->sample,
				 "^(" NAME ")(\\{" LNAME "=" LVAL "(," LNAME
				 "=" LVAL ")*\\})? " VALUE "$",
				 REG_EXTENDED),
			 0);
}

static void grammar_free(struct grammar *g)
{
	regfree(&g->help);
	regfree(&g->type);
	regfree(&g->sample);
}

/* Check every line; returns the number of samples. A family's samples
 * follow its TYPE line, and no family shows up twice. */
static unsigned check_exposition(char *text, const char *must_have)
{
	char family[128] = "", seen[8192] = " ", *save, *line;
	struct grammar g;
	regmatch_t m[2];
	unsigned samples = 0;

	grammar_init(&g);
	assert_non_null(strstr(text, must_have));
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], key[132];

		if (!regexec(&g.help, line, 2, m, 0))
			continue;
		if (!regexec(&g.type, line, 2, m, 0)) {
			snprintf(family, sizeof(family), "%.*s",
				 (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			snprintf(key, sizeof(key), " %s ", family);
			assert_null(strstr(seen, key));
			strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
			continue;
		}
		if (regexec(&g.sample, line, 2, m, 0))
			fail_msg("not a sample line: '%s'", line);
		snprintf(name, sizeof(name), "%.*s",
			 (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		if (strcmp(name, family))
			fail_msg("'%s' outside its family ('%s')", line,
				 family);
		samples++;
	}
	grammar_free(&g);
	return samples;
}

static void test_exposition(void **state)
{
	struct vmdef_limits lim = {.max_memory_mib = 64, .host_cpus = 1};
	char dir[] = "/tmp/berth-metrics-XXXXXX", path[96], body[128], *text;
	struct json_object *vm;
	struct field_error err;
	struct vm_rec *rec;
	struct registry r;
	struct db *db;
	size_t len;
	pid_t child;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vms", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/berth.db", dir);
	assert_int_equal(db_open(&db, path), 0);
	assert_int_equal(registry_init(&r, db, dir, "/bin/false", &lim), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(body, sizeof(body),
			 "{\"kernel\": \"/bin/true\", \"name\": \"vm-%d\", "
			 "\"memory_mib\": 32}",
			 i);
		assert_int_equal(reg_create(&r, body, strlen(body), &vm, &err),
				 0);
		json_object_put(vm);
	}
	/* vm-1 "runs" as a sleeping child, vm-2 has stopped. */
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	pthread_mutex_lock(&r.lock);
	rec = reg_find(&r, "vm-1");
	rec->row.state = VM_RUNNING;
	rec->row.pid = child;
	assert_int_equal(proc_start_time(child, &rec->row.pid_start), 0);
	rec->row.started_at = now_ms();
	reg_find(&r, "vm-2")->row.state = VM_STOPPED;
	pthread_mutex_unlock(&r.lock);

	assert_int_equal(reg_metrics(&r, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "berth_vms{state=\"running\"} 1\n"));
	assert_non_null(strstr(text, "berth_vms{state=\"created\"} 1\n"));
	assert_non_null(strstr(text, "name=\"vm-2\",state=\"stopped\"} 1\n"));
	assert_non_null(strstr(text, "name=\"vm-2\",state=\"running\"} 0\n"));
	assert_non_null(strstr(text, "berth_vm_memory_bytes{vm=\""));
	/* Per-process figures for the running VM only. */
	assert_non_null(strstr(text, "berth_vm_memory_resident_bytes{vm="));
	assert_null(strstr(text, "name=\"vm-0\"} 0.000000000"));
	assert_true(check_exposition(text, "berth_vm_cpu_seconds_total{vm=\"") >
		    20);
	free(text);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	registry_fini(&r);
	db_close(db);
	snprintf(body, sizeof(body), "rm -rf %s", dir);
	assert_int_equal(system(body), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_seconds_and_growth),
		cmocka_unit_test(test_exposition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
