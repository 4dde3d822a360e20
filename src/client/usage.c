/* SPDX-License-Identifier: MIT */
/* berth usage: GET /v1/usage as a billing-style table. */
#include "client/report.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/http.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "vm/vm.h"

#define GB 1e9

int report_time_arg(const char *s, int64_t now_ms, int64_t *ms)
{
	int64_t ago;

	if (!time_parse(s, ms))
		return 0;
	if (duration_parse(s, &ago) || ago > now_ms)
		return -EINVAL;
	*ms = now_ms - ago;
	return 0;
}

void report_duration(double s, char *buf, size_t len)
{
	unsigned long long t = s > 0 ? (unsigned long long)(s + 0.5) : 0;

	snprintf(buf, len, "%llu:%02llu:%02llu", t / 3600, t / 60 % 60, t % 60);
}

void report_bytes(double bytes, bool per_s, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f %s%s", bytes, units[u],
			 per_s ? "/s" : "");
	else
		snprintf(buf, len, "%.1f %s%s", bytes, units[u],
			 per_s ? "/s" : "");
}

double report_cpu_percent(uint64_t before_ns, uint64_t after_ns,
			  uint64_t wall_ns)
{
	if (after_ns < before_ns || !wall_ns)
		return 0;
	return (double)(after_ns - before_ns) * 100.0 / (double)wall_ns;
}

static void usage_help(FILE *f)
{
	fputs("usage: berth usage [--since T] [--until T] [--vm ID] [--json] "
	      "[--socket PATH]\n"
	      "What each VM used, from berthd's usage records: CPU and steal "
	      "seconds,\n"
	      "memory GiB-hours, disk and network GB and operations, "
	      "uptime.\n"
	      "\n"
	      "  --since T, --until T  the range (records ending in it): RFC "
	      "3339,\n"
	      "                        Unix seconds, or a time ago (90m, 2h, "
	      "7d);\n"
	      "                        default: everything up to now\n"
	      "  --vm ID               one VM (id or name; deleted VMs too)\n"
	      "  --json                berthd's answer as it is\n",
	      f);
}

static double num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v)
						     : 0;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

#define ROW_FMT                                                              \
	"%-12s  %-16.16s  %10s  %9s  %10s  %10s  %10s  %9s  %9s  %9s  %9s  " \
	"%9s  %9s  %10s\n"

static void usage_row(const char *id, const char *name, struct json_object *o)
{
	char c[9][24], up[24], ops[4][24];

	snprintf(c[0], sizeof(c[0]), "%.3f", num(o, "cpu_seconds"));
	snprintf(c[1], sizeof(c[1]), "%.3f", num(o, "steal_seconds"));
	snprintf(c[2], sizeof(c[2]), "%.6f", num(o, "mem_gib_h"));
	snprintf(c[3], sizeof(c[3]), "%.3f", num(o, "disk_read_bytes") / GB);
	snprintf(c[4], sizeof(c[4]), "%.3f", num(o, "disk_write_bytes") / GB);
	snprintf(c[5], sizeof(c[5]), "%.3f", num(o, "net_rx_bytes") / GB);
	snprintf(c[6], sizeof(c[6]), "%.3f", num(o, "net_tx_bytes") / GB);
	snprintf(ops[0], sizeof(ops[0]), "%.0f", num(o, "disk_read_ops"));
	snprintf(ops[1], sizeof(ops[1]), "%.0f", num(o, "disk_write_ops"));
	snprintf(ops[2], sizeof(ops[2]), "%.0f", num(o, "net_rx_packets"));
	snprintf(ops[3], sizeof(ops[3]), "%.0f", num(o, "net_tx_packets"));
	report_duration(num(o, "uptime_s"), up, sizeof(up));
	printf(ROW_FMT, id, name, c[0], c[1], c[2], c[3], c[4], ops[0], ops[1],
	       c[5], c[6], ops[2], ops[3], up);
}

static void usage_print(struct json_object *o)
{
	struct json_object *vms = NULL, *total = NULL;
	size_t n;

	json_object_object_get_ex(o, "vms", &vms);
	json_object_object_get_ex(o, "total", &total);
	n = vms ? json_object_array_length(vms) : 0;
	printf("Usage from %s to %s: %zu VM%s\n\n", str(o, "since"),
	       str(o, "until"), n, n == 1 ? "" : "s");
	printf(ROW_FMT, "ID", "NAME", "CPU s", "STEAL s", "MEM GiB-h",
	       "DISK RD GB", "DISK WR GB", "RD OPS", "WR OPS", "NET RX GB",
	       "NET TX GB", "RX PKTS", "TX PKTS", "UPTIME");
	for (size_t i = 0; i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);

		usage_row(str(vm, "id"), str(vm, "name"), vm);
	}
	if (total)
		usage_row("TOTAL", "", total);
}

static const struct option usage_options[] = {
	{"since", required_argument, NULL, 's'},
	{"until", required_argument, NULL, 'u'},
	{"vm", required_argument, NULL, 'v'},
	{"json", no_argument, NULL, 'j'},
	{"socket", required_argument, NULL, 'S'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Append "&key=<Unix seconds>" for a time argument. */
static int add_time(char *path, size_t len, const char *key, const char *arg,
		    int64_t now)
{
	int64_t ms;

	if (report_time_arg(arg, now, &ms)) {
		pr_err("--%s: '%s' is not a time (RFC 3339, Unix seconds, or "
		       "a duration ago such as 2h)",
		       key, arg);
		return -EINVAL;
	}
	snprintf(path + strlen(path), len - strlen(path), "%s%s=%lld.%03lld",
		 strchr(path, '?') ? "&" : "?", key, (long long)(ms / 1000),
		 (long long)(ms % 1000));
	return 0;
}

/* The request path for the options; -EINVAL after one error line. */
static int usage_path(int argc, char **argv, char *path, size_t len,
		      const char **sock, bool *json, bool *help)
{
	struct timespec ts;
	int64_t now;
	int opt;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	snprintf(path, len, "/v1/usage");
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", usage_options, NULL)) !=
	       -1) {
		if ((opt == 's' && add_time(path, len, "since", optarg, now)) ||
		    (opt == 'u' && add_time(path, len, "until", optarg, now)) ||
		    opt == '?')
			return -EINVAL;
		if (opt == 'v' &&
		    (strlen(optarg) > 64 ||
		     strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
			     strlen(optarg))) {
			pr_err("--vm: '%.64s' is not a VM id or name", optarg);
			return -EINVAL;
		}
		if (opt == 'v')
			snprintf(path + strlen(path), len - strlen(path),
				 "%svm=%s", strchr(path, '?') ? "&" : "?",
				 optarg);
		*sock = opt == 'S' ? optarg : *sock;
		*json |= opt == 'j';
		*help |= opt == 'h';
	}
	if (optind < argc) {
		pr_err("usage: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int cmd_usage(int argc, char **argv)
{
	struct json_object *o;
	const char *sock = NULL;
	bool json = false, help = false;
	char path[512];
	int ret;

	if (usage_path(argc, argv, path, sizeof(path), &sock, &json, &help))
		return BERTH_EXIT_USAGE;
	if (help) {
		usage_help(stdout);
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		pr_err("cannot initialise libcurl");
		return CLIENT_EXIT_FAILED;
	}
	ret = client_call(sock, "GET", path, NULL, &o);
	curl_global_cleanup();
	if (ret)
		return ret;
	if (json)
		puts(json_object_to_json_string_ext(
			o, JSON_C_TO_STRING_PRETTY |
				   JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		usage_print(o);
	json_object_put(o);
	return 0;
}
