/* SPDX-License-Identifier: MIT */
#include "client/vm.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/http.h"
#include "util/log.h"
#include "vm/vm.h"

/* What one subcommand was given. */
struct vmc_args {
	const char *sock;
	const char *key; /* the VM's id or name */
	bool force, quiet, json;
	long long timeout_s; /* -1: berthd's default */
	long long tail;	     /* -1: berthd's default */
};

static void vmc_usage(FILE *f)
{
	fputs("usage: berth vm COMMAND [--socket PATH] ...\n"
	      "Drive berthd (berth daemon) over its socket: --socket PATH, "
	      "else\n"
	      "$BERTH_SOCKET, else " CLIENT_DEFAULT_SOCKET ".\n"
	      "\n"
	      "  create --kernel FILE [--name N] [--cpus N] [--mem SIZE] "
	      "[--cmdline S]\n"
	      "         [--initrd FILE] [--disk PATH[,ro][,direct]]... "
	      "[--net SPEC]...\n"
	      "         [--cpu-weight N] [--cpu-cap CPUS] [--cpu-pin LIST]\n"
	      "         [--autostart] [--start]      define a VM; prints its "
	      "id\n"
	      "  start ID                            boot it\n"
	      "  stop ID [--timeout S] [--force]     Ctrl-Alt-Del, then quit "
	      "after S s\n"
	      "                                      (default 10), then "
	      "SIGKILL\n"
	      "  pause ID, resume ID                 freeze or thaw its vCPUs\n"
	      "  rm ID [--force]                     delete it (--force: stop "
	      "it first)\n"
	      "  ls [-q] [--json]                    list VMs (-q: ids only)\n"
	      "  inspect ID                          definition and state, as "
	      "JSON\n"
	      "  logs ID [--tail BYTES]              its console output\n"
	      "  stats ID                            its live counters, as "
	      "JSON\n"
	      "\n"
	      "ID is a VM's id or name. Exit status: 0 done, 2 bad options or "
	      "a\n"
	      "request berthd refused, 6 no berthd, 1 berthd failed.\n",
	      f);
}

/* ---- replies --------------------------------------------------------------- */

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

static void print_pretty(struct json_object *o)
{
	puts(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- commands ---------------------------------------------------------------- */

static int vmc_state_cmd(const struct vmc_args *a, const char *action)
{
	struct json_object *vm;
	char path[128], body[96] = "";
	int ret;

	snprintf(path, sizeof(path), "/v1/vms/%s/%s", a->key, action);
	if (!strcmp(action, "stop") && a->timeout_s >= 0)
		snprintf(body, sizeof(body),
			 "{\"force\":%s,\"timeout_s\":%lld}",
			 a->force ? "true" : "false", a->timeout_s);
	else if (!strcmp(action, "stop"))
		snprintf(body, sizeof(body), "{\"force\":%s}",
			 a->force ? "true" : "false");
	ret = client_call(a->sock, "POST", path, *body ? body : NULL, &vm);
	if (ret)
		return ret;
	printf("%s %s\n", str_field(vm, "id"), str_field(vm, "state"));
	json_object_put(vm);
	return 0;
}

static int vmc_rm(const struct vmc_args *a)
{
	struct json_object *o;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "/v1/vms/%s%s", a->key,
		 a->force ? "?force=1" : "");
	ret = client_call(a->sock, "DELETE", path, NULL, &o);
	if (!ret) {
		printf("%s\n", str_field(o, "id"));
		json_object_put(o);
	}
	return ret;
}

static void ls_row(struct json_object *vm)
{
	struct json_object *cfg = NULL, *v;
	char mem[24] = "-";
	const char *vcpus = "-";

	if (json_object_object_get_ex(vm, "config", &cfg)) {
		if (json_object_object_get_ex(cfg, "memory_mib", &v))
			snprintf(mem, sizeof(mem), "%sM",
				 json_object_get_string(v));
		vcpus = str_field(cfg, "vcpus");
	}
	printf("%-12s  %-20s  %-8s  %7s  %5s  %8s  %s\n", str_field(vm, "id"),
	       str_field(vm, "name"), str_field(vm, "state"),
	       str_field(vm, "pid"), vcpus, mem, str_field(vm, "started_at"));
}

static int vmc_ls(const struct vmc_args *a)
{
	struct json_object *o, *vms;
	int ret = client_call(a->sock, "GET", "/v1/vms", NULL, &o);
	size_t n;

	if (ret)
		return ret;
	if (a->json) {
		print_pretty(o);
	} else if (json_object_object_get_ex(o, "vms", &vms)) {
		n = json_object_array_length(vms);
		if (!a->quiet)
			printf("%-12s  %-20s  %-8s  %7s  %5s  %8s  %s\n", "ID",
			       "NAME", "STATE", "PID", "VCPUS", "MEMORY",
			       "STARTED");
		for (size_t i = 0; i < n; i++) {
			struct json_object *vm =
				json_object_array_get_idx(vms, i);

			if (a->quiet)
				printf("%s\n", str_field(vm, "id"));
			else
				ls_row(vm);
		}
	}
	json_object_put(o);
	return 0;
}

static int vmc_show(const struct vmc_args *a, const char *suffix)
{
	struct json_object *o;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "/v1/vms/%s%s", a->key, suffix);
	ret = client_call(a->sock, "GET", path, NULL, &o);
	if (!ret) {
		print_pretty(o);
		json_object_put(o);
	}
	return ret;
}

static int vmc_logs(const struct vmc_args *a)
{
	struct http_reply r;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "/v1/vms/%s/console", a->key);
	if (a->tail >= 0)
		snprintf(path + strlen(path), sizeof(path) - strlen(path),
			 "?tail=%lld", a->tail);
	ret = http_call(client_socket(a->sock), "GET", path, NULL, &r);
	if (ret)
		return ret == -ECONNREFUSED ? BERTH_EXIT_HOST
					    : CLIENT_EXIT_FAILED;
	if (r.status >= 300)
		ret = client_reply_error(&r);
	else
		fwrite(r.body, 1, r.len, stdout);
	http_reply_free(&r);
	return ret;
}

static int vmc_create(int argc, char **argv)
{
	struct json_object *body, *vm;
	const char *sock, *id;
	char path[128];
	bool start;
	int ret;

	if (vm_create_parse(argc, argv, &body, &start, &sock))
		return BERTH_EXIT_USAGE;
	ret = client_call(
		sock, "POST", "/v1/vms",
		json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
		&vm);
	json_object_put(body);
	if (ret)
		return ret;
	id = str_field(vm, "id");
	printf("%s\n", id);
	if (start) {
		snprintf(path, sizeof(path), "/v1/vms/%s/start", id);
		ret = client_call(sock, "POST", path, NULL, NULL);
	}
	json_object_put(vm);
	return ret;
}

/* ---- options ----------------------------------------------------------------- */

static const struct option vm_options[] = {
	{"socket", required_argument, NULL, 's'},
	{"force", no_argument, NULL, 'f'},
	{"timeout", required_argument, NULL, 't'},
	{"tail", required_argument, NULL, 'n'},
	{"json", no_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int parse_count(const char *opt, const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno) {
		pr_err("--%s: '%s' is not a number", opt, s);
		return -EINVAL;
	}
	return 0;
}

/* An id or name: it goes into a URL path, so only what names may hold. */
static bool key_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Options shared by every command but create; `allowed` lists the short
 * names this one takes. needs_key: one positional ID. */
static int vmc_args_parse(struct vmc_args *a, int argc, char **argv,
			  const char *allowed, bool needs_key)
{
	int opt;

	*a = (struct vmc_args){.timeout_s = -1, .tail = -1};
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "fqh", vm_options, NULL)) != -1) {
		if (opt == 's') {
			a->sock = optarg;
			continue;
		}
		if (opt == '?' || !strchr(allowed, opt)) {
			if (opt != '?')
				pr_err("vm %s: no such option here", argv[0]);
			return -EINVAL;
		}
		if ((opt == 't' &&
		     parse_count("timeout", optarg, &a->timeout_s)) ||
		    (opt == 'n' && parse_count("tail", optarg, &a->tail)))
			return -EINVAL;
		a->force |= opt == 'f';
		a->quiet |= opt == 'q';
		a->json |= opt == 'j';
	}
	if (needs_key && optind < argc)
		a->key = argv[optind++];
	if (needs_key && !a->key) {
		pr_err("vm %s: which VM? (an id or name)", argv[0]);
		return -EINVAL;
	}
	if (a->key && !key_ok(a->key)) {
		pr_err("vm %s: '%.64s' is not a VM id or name", argv[0],
		       a->key);
		return -EINVAL;
	}
	if (optind < argc) {
		pr_err("vm %s: unexpected argument '%s'", argv[0],
		       argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Run the command called name. */
static int vmc_dispatch(const char *name, int argc, char **argv)
{
	static const char *const state_cmds[] = {"start", "pause", "resume"};
	struct vmc_args a;

	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(name, state_cmds[i]))
			return vmc_args_parse(&a, argc, argv, "", true)
				       ? BERTH_EXIT_USAGE
				       : vmc_state_cmd(&a, name);
	if (!strcmp(name, "stop"))
		return vmc_args_parse(&a, argc, argv, "ft", true)
			       ? BERTH_EXIT_USAGE
			       : vmc_state_cmd(&a, name);
	if (!strcmp(name, "rm"))
		return vmc_args_parse(&a, argc, argv, "f", true)
			       ? BERTH_EXIT_USAGE
			       : vmc_rm(&a);
	if (!strcmp(name, "ls"))
		return vmc_args_parse(&a, argc, argv, "qj", false)
			       ? BERTH_EXIT_USAGE
			       : vmc_ls(&a);
	if (!strcmp(name, "inspect") || !strcmp(name, "stats"))
		return vmc_args_parse(&a, argc, argv, "", true)
			       ? BERTH_EXIT_USAGE
			       : vmc_show(&a, name[0] == 'i' ? "" : "/stats");
	if (!strcmp(name, "logs"))
		return vmc_args_parse(&a, argc, argv, "n", true)
			       ? BERTH_EXIT_USAGE
			       : vmc_logs(&a);
	pr_err("vm: unknown command '%s' (see berth vm --help)", name);
	return BERTH_EXIT_USAGE;
}

int cmd_vm(int argc, char **argv)
{
	int status;

	if (argc < 2) {
		vmc_usage(stderr);
		return BERTH_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		vmc_usage(stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			vmc_usage(stdout);
			return 0;
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		pr_err("cannot initialise libcurl");
		return CLIENT_EXIT_FAILED;
	}
	if (!strcmp(argv[1], "create"))
		status = vmc_create(argc - 1, argv + 1);
	else
		status = vmc_dispatch(argv[1], argc - 1, argv + 1);
	curl_global_cleanup();
	return status;
}
