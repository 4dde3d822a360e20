/* SPDX-License-Identifier: MIT */
#include "switch/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vm/vm.h"

enum {
	OPT_SOCKET = 256,
	OPT_UPLINK,
	OPT_AGE,
	OPT_QUEUE,
	OPT_STATS,
};

static const struct option switch_options[] = {
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"uplink", required_argument, NULL, OPT_UPLINK},
	{"age", required_argument, NULL, OPT_AGE},
	{"queue", required_argument, NULL, OPT_QUEUE},
	{"stats", no_argument, NULL, OPT_STATS},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

void switch_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: berth switch --socket PATH [options]\n"
		"\n"
		"A learning L2 Ethernet switch: VMs connect to PATH (a Unix "
		"SOCK_SEQPACKET\n"
		"socket, one raw Ethernet frame per message); PATH.ctl answers "
		"--stats.\n"
		"\n"
		"options:\n"
		"  --socket PATH      where VMs attach (required)\n"
		"  --uplink tap=NAME  also switch to and from tap interface "
		"NAME (port 0)\n"
		"  --age SECONDS      forget a MAC unseen this long, 1 to %d "
		"(default %d)\n"
		"  --queue N          frames queued per slow port, 1 to %d "
		"(default %d)\n"
		"  --stats            print the running switch's ports and "
		"counters, exit\n"
		"  -v, --verbose      log ports connecting and leaving "
		"(twice: debug)\n"
		"  -h, --help         this text\n",
		SWITCH_MAX_AGE, SWITCH_DEFAULT_AGE, SWITCH_MAX_QUEUE,
		SWITCH_DEFAULT_QUEUE);
}

/* A whole decimal number in [min, max]. */
static int parse_uint(const char *opt, const char *s, unsigned min,
		      unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		pr_err("%s: '%s' is not a number from %u to %u", opt, s, min,
		       max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_uplink(struct switch_opts *o, const char *s)
{
	const char *name = s + 4;

	if (strncmp(s, "tap=", 4) || !*name || strlen(name) >= 16 ||
	    strchr(name, '/') || strchr(name, ' ')) {
		pr_err("--uplink: '%s' is not tap=NAME (an interface name of 1 "
		       "to 15 characters)",
		       s);
		return -EINVAL;
	}
	o->uplink_tap = name;
	return 0;
}

static int switch_cli_option(struct switch_cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SOCKET:
		if (!*arg) {
			pr_err("--socket: '' is not a path");
			return -EINVAL;
		}
		c->opts.socket_path = arg;
		return 0;
	case OPT_UPLINK:
		return parse_uplink(&c->opts, arg);
	case OPT_AGE:
		return parse_uint("--age", arg, 1, SWITCH_MAX_AGE,
				  &c->opts.age_s);
	case OPT_QUEUE:
		return parse_uint("--queue", arg, 1, SWITCH_MAX_QUEUE,
				  &c->opts.queue);
	case OPT_STATS:
		c->stats = true;
		return 0;
	case 'v':
		c->verbose++;
		return 0;
	case 'h':
		c->help = true;
		return 0;
	default: /* getopt printed what was wrong */
		return -EINVAL;
	}
}

int switch_cli_parse(struct switch_cli *c, int argc, char **argv)
{
	int opt, ret;

	*c = (struct switch_cli){
		.opts = {.age_s = SWITCH_DEFAULT_AGE,
			 .queue = SWITCH_DEFAULT_QUEUE,
			 .signals = true},
	};
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "vh", switch_options, NULL)) !=
	       -1) {
		ret = switch_cli_option(c, opt, optarg);
		if (ret)
			return ret;
	}
	if (optind < argc) {
		pr_err("switch: unexpected argument '%s' (see berth switch "
		       "--help)",
		       argv[optind]);
		return -EINVAL;
	}
	if (!c->help && !c->opts.socket_path) {
		pr_err("switch: --socket PATH is required (see berth switch "
		       "--help)");
		return -EINVAL;
	}
	return 0;
}

static int switch_print_stats(const char *path)
{
	int ret = switch_stats_fetch(path, stdout);

	if (ret == -ECONNREFUSED) {
		pr_err("--stats: no switch is listening on %s", path);
		return BERTH_EXIT_USAGE;
	}
	if (ret == -EBUSY) {
		pr_err("--stats: the switch on %s is busy with other control "
		       "clients; try again",
		       path);
		return BERTH_EXIT_HOST;
	}
	if (ret) {
		pr_err("--stats: %s: %s", path, strerror(-ret));
		return ret == -ENAMETOOLONG || ret == -EACCES ? BERTH_EXIT_USAGE
							      : BERTH_EXIT_HOST;
	}
	return 0;
}

/* Errors that are the user's to fix: the socket path, the tap name. */
static bool switch_usage_error(int err)
{
	return err == -EINVAL || err == -EADDRINUSE || err == -EEXIST ||
	       err == -ENAMETOOLONG || err == -ENOENT || err == -EACCES ||
	       err == -EPERM || err == -ENOTDIR || err == -EBUSY;
}

int cmd_switch(int argc, char **argv)
{
	struct switch_cli c;
	struct eth_switch *sw;
	int ret;

	if (switch_cli_parse(&c, argc, argv))
		return BERTH_EXIT_USAGE;
	if (c.help) {
		switch_cli_usage(stdout);
		return 0;
	}
	log_threshold = c.verbose >= 2 ? LOG_DEBUG
			: c.verbose    ? LOG_INFO
				       : LOG_WARN;
	if (c.stats)
		return switch_print_stats(c.opts.socket_path);
	ret = switch_create(&sw, &c.opts);
	if (ret)
		return switch_usage_error(ret) ? BERTH_EXIT_USAGE
					       : BERTH_EXIT_HOST;
	ret = switch_run(sw);
	switch_destroy(sw);
	return ret ? BERTH_EXIT_HOST : 0;
}
