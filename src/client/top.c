/* SPDX-License-Identifier: MIT */
/* berth top: every VM's CPU, memory and I/O rates, refreshed. Each round
 * reads GET /v1/vms and each live VM's GET /v1/vms/{id}/stats; rates are
 * the difference between two rounds. */
#include "client/report.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/http.h"
#include "util/log.h"
#include "vm/vm.h"

#define TOP_INTERVAL_DEFAULT 2.0
#define TOP_INTERVAL_MIN     0.1

/* One VM in one round. */
struct top_vm {
	char id[16], name[64], state[12];
	unsigned vcpus;
	bool have;     /* its stats answered */
	uint64_t t_ns; /* when (CLOCK_MONOTONIC) */
	uint64_t cpu_ns, steal_ns, rss, rd, wr, rx, tx, uptime_ms;
	/* from the previous round, if have_rates */
	bool have_rates;
	double cpu_pct, steal_pct, rd_s, wr_s, rx_s, tx_s;
};

struct top_round {
	struct top_vm *v;
	size_t n;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v)
		       ? json_object_get_uint64(v)
		       : 0;
}

static void copy_str(struct json_object *o, const char *key, char *buf,
		     size_t len)
{
	struct json_object *v;

	snprintf(buf, len, "%s",
		 json_object_object_get_ex(o, key, &v) && v
			 ? json_object_get_string(v)
			 : "-");
}

/* Sum key over the objects of array o[arr]. */
static uint64_t sum(struct json_object *o, const char *arr, const char *key)
{
	struct json_object *a;
	uint64_t s = 0;

	if (!json_object_object_get_ex(o, arr, &a) ||
	    !json_object_is_type(a, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		s += u64(json_object_array_get_idx(a, i), key);
	return s;
}

/* The VM's counters; a VM that stopped meanwhile (409) has none. */
static void top_stats(const char *sock, struct top_vm *t)
{
	struct json_object *o;
	struct http_reply r;
	char path[96];

	snprintf(path, sizeof(path), "/v1/vms/%s/stats", t->id);
	if (http_call(sock, "GET", path, NULL, &r))
		return;
	o = r.status == 200 ? json_tokener_parse(r.body) : NULL;
	http_reply_free(&r);
	if (!o)
		return;
	t->t_ns = mono_ns();
	t->cpu_ns = u64(o, "cpu_user_ns") + u64(o, "cpu_system_ns");
	t->steal_ns = u64(o, "steal_ns");
	t->rss = u64(o, "rss_bytes");
	t->uptime_ms = u64(o, "uptime_ms");
	t->rd = sum(o, "disks", "read_bytes");
	t->wr = sum(o, "disks", "write_bytes");
	t->rx = sum(o, "nics", "rx_bytes");
	t->tx = sum(o, "nics", "tx_bytes");
	t->have = true;
	json_object_put(o);
}

/* One round: every VM, and the counters of the live ones. */
static int top_take(const char *sock, struct top_round *rd)
{
	struct json_object *o, *vms, *vm, *cfg;
	int ret = client_call(sock, "GET", "/v1/vms", NULL, &o);

	rd->v = NULL;
	rd->n = 0;
	if (ret)
		return ret;
	if (json_object_object_get_ex(o, "vms", &vms))
		rd->n = json_object_array_length(vms);
	rd->v = calloc(rd->n ? rd->n : 1, sizeof(*rd->v));
	if (!rd->v) {
		json_object_put(o);
		return CLIENT_EXIT_FAILED;
	}
	for (size_t i = 0; i < rd->n; i++) {
		struct top_vm *t = &rd->v[i];

		vm = json_object_array_get_idx(vms, i);
		copy_str(vm, "id", t->id, sizeof(t->id));
		copy_str(vm, "name", t->name, sizeof(t->name));
		copy_str(vm, "state", t->state, sizeof(t->state));
		if (json_object_object_get_ex(vm, "config", &cfg))
			t->vcpus = (unsigned)u64(cfg, "vcpus");
		if (!strcmp(t->state, "running") || !strcmp(t->state, "paused"))
			top_stats(sock, t);
	}
	json_object_put(o);
	return 0;
}

static double rate(uint64_t before, uint64_t after, uint64_t ns)
{
	return after >= before && ns ? (double)(after - before) * 1e9 / ns : 0;
}

/* Rates of cur's VMs from their counters in prev (same id, same process:
 * uptime did not go backwards). */
static void top_rates(const struct top_round *prev, struct top_round *cur)
{
	for (size_t i = 0; i < cur->n; i++) {
		struct top_vm *c = &cur->v[i];
		const struct top_vm *p = NULL;
		uint64_t dt;

		for (size_t k = 0; k < prev->n && !p; k++)
			if (!strcmp(prev->v[k].id, c->id))
				p = &prev->v[k];
		if (!c->have || !p || !p->have || c->uptime_ms < p->uptime_ms)
			continue;
		dt = c->t_ns - p->t_ns;
		c->have_rates = true;
		c->cpu_pct = report_cpu_percent(p->cpu_ns, c->cpu_ns, dt);
		c->steal_pct = report_cpu_percent(p->steal_ns, c->steal_ns, dt);
		c->rd_s = rate(p->rd, c->rd, dt);
		c->wr_s = rate(p->wr, c->wr, dt);
		c->rx_s = rate(p->rx, c->rx, dt);
		c->tx_s = rate(p->tx, c->tx, dt);
	}
}

/* Busiest first; those without figures last, in creation order. */
static int by_cpu(const void *a, const void *b)
{
	const struct top_vm *x = a, *y = b;

	if (x->have_rates != y->have_rates)
		return x->have_rates ? -1 : 1;
	if (x->cpu_pct != y->cpu_pct)
		return x->cpu_pct > y->cpu_pct ? -1 : 1;
	return 0;
}

#define TOP_FMT                                                                \
	"%-12s  %-16.16s  %-7s  %4s  %6s  %6s  %10s  %12s  %12s  %12s  %12s  " \
	"%9s\n"

static void top_row(const struct top_vm *t)
{
	char vcpus[8], cpu[16] = "-", steal[16] = "-", rss[24] = "-";
	char r[4][24] = {"-", "-", "-", "-"}, up[24] = "-";

	snprintf(vcpus, sizeof(vcpus), "%u", t->vcpus);
	if (t->have) {
		report_bytes((double)t->rss, false, rss, sizeof(rss));
		report_duration((double)t->uptime_ms / 1000, up, sizeof(up));
	}
	if (t->have_rates) {
		snprintf(cpu, sizeof(cpu), "%.1f", t->cpu_pct);
		snprintf(steal, sizeof(steal), "%.1f", t->steal_pct);
		report_bytes(t->rd_s, true, r[0], sizeof(r[0]));
		report_bytes(t->wr_s, true, r[1], sizeof(r[1]));
		report_bytes(t->rx_s, true, r[2], sizeof(r[2]));
		report_bytes(t->tx_s, true, r[3], sizeof(r[3]));
	}
	printf(TOP_FMT, t->id, t->name, t->state, vcpus, cpu, steal, rss, r[0],
	       r[1], r[2], r[3], up);
}

static void top_print(struct top_round *rd, double interval, bool clear)
{
	unsigned running = 0, paused = 0;
	char now[16];
	time_t t = time(NULL);
	struct tm tm;

	for (size_t i = 0; i < rd->n; i++) {
		running += !strcmp(rd->v[i].state, "running");
		paused += !strcmp(rd->v[i].state, "paused");
	}
	localtime_r(&t, &tm);
	strftime(now, sizeof(now), "%H:%M:%S", &tm);
	qsort(rd->v, rd->n, sizeof(*rd->v), by_cpu);
	if (clear)
		fputs("\033[H\033[2J", stdout);
	printf("berth top  %s  %zu VMs: %u running, %u paused  (every %g "
	       "s)\n\n",
	       now, rd->n, running, paused, interval);
	printf(TOP_FMT, "ID", "NAME", "STATE", "VCPU", "CPU%", "STEAL%", "RSS",
	       "DISK RD", "DISK WR", "NET RX", "NET TX", "UPTIME");
	for (size_t i = 0; i < rd->n; i++)
		top_row(&rd->v[i]);
	fflush(stdout);
}

static const struct option top_options[] = {
	{"interval", required_argument, NULL, 'i'},
	{"once", no_argument, NULL, '1'},
	{"socket", required_argument, NULL, 's'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void top_help(FILE *f)
{
	fputs("usage: berth top [--interval S] [--once] [--socket PATH]\n"
	      "A live table of every VM: state, CPU% and steal% (of one host "
	      "CPU),\n"
	      "resident memory, disk and network rates, uptime; busiest "
	      "first.\n"
	      "\n"
	      "  --interval S  seconds between refreshes (default 2, at least "
	      "0.1)\n"
	      "  --once        print one table, S seconds after the first "
	      "look, and exit\n",
	      f);
}

/* Parse the options; -EINVAL after one error line, 1 for --help. */
static int top_args(int argc, char **argv, double *interval, bool *once,
		    const char **sock)
{
	char *end;
	int opt;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", top_options, NULL)) != -1) {
		if (opt == 'h')
			return 1;
		if (opt == '?')
			return -EINVAL;
		if (opt == 'i') {
			*interval = strtod(optarg, &end);
			if (end == optarg || *end ||
			    !(*interval >= TOP_INTERVAL_MIN &&
			      *interval <= 3600)) {
				pr_err("--interval: '%s' is not a number of "
				       "seconds from 0.1 to 3600",
				       optarg);
				return -EINVAL;
			}
		}
		*once |= opt == '1';
		*sock = opt == 's' ? optarg : *sock;
	}
	if (optind < argc) {
		pr_err("top: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int top_loop(const char *sock, double interval, bool once)
{
	struct top_round prev, cur;
	bool clear = !once && isatty(STDOUT_FILENO);
	int ret = top_take(sock, &prev);

	while (!ret) {
		usleep((useconds_t)(interval * 1e6));
		ret = top_take(sock, &cur);
		if (ret)
			break;
		top_rates(&prev, &cur);
		top_print(&cur, interval, clear);
		free(prev.v);
		prev = cur;
		if (once)
			break;
		if (!clear)
			putchar('\n');
	}
	free(prev.v);
	return ret;
}

int cmd_top(int argc, char **argv)
{
	double interval = TOP_INTERVAL_DEFAULT;
	const char *sock = NULL;
	bool once = false;
	int ret = top_args(argc, argv, &interval, &once, &sock);

	if (ret == 1) {
		top_help(stdout);
		return 0;
	}
	if (ret)
		return BERTH_EXIT_USAGE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		pr_err("cannot initialise libcurl");
		return CLIENT_EXIT_FAILED;
	}
	ret = top_loop(client_socket(sock), interval, once);
	curl_global_cleanup();
	return ret;
}
