/* SPDX-License-Identifier: MIT */
#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "host/cgroup.h"
#include "host/cpus.h"
#include "util/log.h"
#include "vm/vm.h"

_Static_assert(RUN_MAX_CPU_PIN == VM_MAX_VCPUS, "a pin entry per vCPU");

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 20;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end) {
		end++;
		/* Accept 512M, 512MB and 512MiB alike. */
		if (!strcasecmp(end, "B") || !strcasecmp(end, "iB"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_cpus(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v < 1 ||
	    v > VM_MAX_VCPUS) {
		pr_err("--cpus: '%s' is not a number from 1 to %d", s,
		       VM_MAX_VCPUS);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_mem(const char *s, uint64_t *out)
{
	if (parse_size(s, out) || *out < RUN_MIN_MEM || *out > RUN_MAX_MEM) {
		pr_err("--mem: '%s' is not a size from 2M to 1T (e.g. 512M, "
		       "2G)",
		       s);
		return -EINVAL;
	}
	if (*out & 0xfff) {
		pr_err("--mem: '%s' is not a whole number of 4 KiB pages", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_serial(struct run_config *c, const char *s)
{
	if (!strcmp(s, "stdio")) {
		c->serial = SERIAL_STDIO;
	} else if (!strcmp(s, "none")) {
		c->serial = SERIAL_NONE;
	} else if (!strncmp(s, "file:", 5) && s[5]) {
		c->serial = SERIAL_FILE;
		c->serial_path = s + 5;
	} else {
		pr_err("--serial: '%s' is not stdio, none or file:PATH", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_console(struct run_config *c, const char *s)
{
	if (!strcmp(s, "serial")) {
		c->console = CONSOLE_SERIAL;
	} else if (!strcmp(s, "virtio")) {
		c->console = CONSOLE_VIRTIO;
	} else {
		pr_err("--console: '%s' is not serial or virtio", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_cpu_weight(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno ||
	    v < CGROUP_WEIGHT_MIN || v > CGROUP_WEIGHT_MAX) {
		pr_err("--cpu-weight: '%s' is not a number from %d to %d", s,
		       CGROUP_WEIGHT_MIN, CGROUP_WEIGHT_MAX);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* A decimal with at most three places ("2", "0.5", "1.25") in
 * thousandths. */
static int parse_milli(const char *s, unsigned long *out)
{
	unsigned long v = 0;
	unsigned places = 0;
	bool dot = false;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; *s; s++) {
		if (*s == '.' && !dot) {
			dot = true;
			if (!isdigit((unsigned char)s[1]))
				return -EINVAL;
			continue;
		}
		if (!isdigit((unsigned char)*s) || places == 3 ||
		    v > 1000000000UL)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		places += dot;
	}
	while (places++ < 3)
		v *= 10;
	*out = v;
	return 0;
}

static int parse_cpu_cap(const char *s, unsigned *out)
{
	unsigned long milli, max;
	cpu_set_t online;

	if (host_cpus_online(HOST_CPUS_ONLINE, &online))
		return -EINVAL;
	max = (unsigned long)CPU_COUNT(&online) * 1000;
	if (parse_milli(s, &milli) || milli < CGROUP_CAP_MIN_MILLI ||
	    milli > max) {
		pr_err("--cpu-cap: '%s' is not a number of CPUs from 0.01 to "
		       "%lu, the host's (e.g. 0.5 or 1.5)",
		       s, max / 1000);
		return -EINVAL;
	}
	*out = (unsigned)milli;
	return 0;
}

static int parse_cpu_pin(struct run_config *c, const char *s)
{
	int n = cpu_list_parse(s, c->cpu_pin, RUN_MAX_CPU_PIN);
	cpu_set_t online;

	if (n < 0) {
		pr_err("--cpu-pin: '%s' is not a list of at most %d host CPUs "
		       "(e.g. 0,1 or 2-5)",
		       s, RUN_MAX_CPU_PIN);
		return -EINVAL;
	}
	if (host_cpus_online(HOST_CPUS_ONLINE, &online))
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		if (!CPU_ISSET(c->cpu_pin[i], &online)) {
			pr_err("--cpu-pin: '%s': host CPU %u is not online", s,
			       c->cpu_pin[i]);
			return -EINVAL;
		}
	}
	c->nr_cpu_pin = (unsigned)n;
	return 0;
}

static int parse_cgroup(const char *s, const char **out)
{
	if (!cgroup_name_valid(s)) {
		pr_err("--cgroup: '%s' is not a cgroup name below the root "
		       "(letters, digits, '.', '_', '-', joined by '/')",
		       s);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

void run_config_usage(FILE *f)
{
	fputs("usage: berth run [options]\n"
	      "Boot one VM in the foreground. With no --kernel, boots the demo "
	      "guest.\n"
	      "\n"
	      "  --kernel FILE        PVH ELF, Linux bzImage or ELF vmlinux\n"
	      "  --initrd FILE        initial ramdisk (Linux) or PVH module\n"
	      "  --cmdline STR        kernel command line (default: empty)\n"
	      "  --cpus N             vCPUs, 1-64 (default 1)\n"
	      "  --mem SIZE           guest RAM: 512M, 2G, ...; no suffix = "
	      "MiB\n"
	      "                       (default 256M)\n"
	      "  --cpu-weight N       CPU share against other VMs, 1-10000 "
	      "(100 is\n"
	      "                       a default cgroup's); runs berth in a "
	      "cgroup\n"
	      "  --cpu-cap CPUS       at most this many host CPUs' worth, "
	      "e.g. 0.5;\n"
	      "                       runs berth in a cgroup\n"
	      "  --cpu-pin LIST       host CPUs for the vCPUs: vCPU i runs on "
	      "entry\n"
	      "                       i mod n of LIST (e.g. 0,1 or 2-5)\n"
	      "  --cgroup NAME        the cgroup, relative to the cpu "
	      "hierarchy's\n"
	      "                       root (default berth/vm-PID with a "
	      "weight or\n"
	      "                       cap); removed at exit if berth made it\n"
	      "  --serial stdio|file:PATH|none\n"
	      "                       where COM1 output goes (default stdio)\n"
	      "  --console serial|virtio\n"
	      "                       what stdin and stdout are the console "
	      "of:\n"
	      "                       COM1 (default) or a virtio-console "
	      "(hvc0);\n"
	      "                       with virtio, COM1 still writes where "
	      "--serial\n"
	      "                       says but gets no input\n"
	      "  --disk PATH[,ro][,direct]\n"
	      "                       a virtio-blk disk on a file or block "
	      "device\n"
	      "                       (repeatable, up to 8): ro refuses "
	      "writes,\n"
	      "                       direct opens it O_DIRECT\n"
	      "  --net tap=NAME[,mac=MAC] | switch=PATH[,mac=MAC]\n"
	      "                       a virtio-net NIC (repeatable, up to 8) "
	      "on a\n"
	      "                       host tap device or a port of a `berth "
	      "switch`;\n"
	      "                       the MAC is random unless given\n"
	      "  --rng                a virtio-rng device (entropy from "
	      "getrandom)\n"
	      "  --control PATH       serve the control socket at PATH "
	      "(status, stats,\n"
	      "                       pause, resume, shutdown, quit; see "
	      "docs/control.md)\n"
	      "  --status-file PATH   at exit, write {\"exit_status\":N,"
	      "\"reason\":\"...\"}\n"
	      "                       to PATH (for berthd)\n"
	      "  --guest-decompress   bzImage: let the kernel decompress "
	      "itself\n"
	      "                       instead of berth doing it on the host\n"
	      "  -v, --verbose        more log lines (repeat for debug)\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "On a terminal the console is raw: Ctrl-A x quits, Ctrl-A "
	      "Ctrl-A\n"
	      "sends Ctrl-A. Exit status: 0 guest powered off or reset, 2 bad\n"
	      "option or image, 4 guest crashed, 6 host or KVM failure, 8 "
	      "stopped\n"
	      "by a signal; a guest write of v to port 0xf4 exits with 2v+1.\n",
	      f);
}

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEM,
	OPT_CPU_WEIGHT,
	OPT_CPU_CAP,
	OPT_CPU_PIN,
	OPT_CGROUP,
	OPT_SERIAL,
	OPT_CONSOLE,
	OPT_GUEST_DECOMPRESS,
	OPT_RNG,
	OPT_DISK,
	OPT_NET,
	OPT_CONTROL,
	OPT_STATUS_FILE,
};

static const struct option run_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"mem", required_argument, NULL, OPT_MEM},
	{"cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT},
	{"cpu-cap", required_argument, NULL, OPT_CPU_CAP},
	{"cpu-pin", required_argument, NULL, OPT_CPU_PIN},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"guest-decompress", no_argument, NULL, OPT_GUEST_DECOMPRESS},
	{"rng", no_argument, NULL, OPT_RNG},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"control", required_argument, NULL, OPT_CONTROL},
	{"status-file", required_argument, NULL, OPT_STATUS_FILE},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int run_config_option(struct run_config *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_KERNEL:
		c->kernel = arg;
		return 0;
	case OPT_INITRD:
		c->initrd = arg;
		return 0;
	case OPT_CMDLINE:
		c->cmdline = arg;
		return 0;
	case OPT_CPUS:
		return parse_cpus(arg, &c->cpus);
	case OPT_MEM:
		return parse_mem(arg, &c->mem);
	case OPT_CPU_WEIGHT:
		return parse_cpu_weight(arg, &c->cpu_weight);
	case OPT_CPU_CAP:
		return parse_cpu_cap(arg, &c->cpu_cap_milli);
	case OPT_CPU_PIN:
		return parse_cpu_pin(c, arg);
	case OPT_CGROUP:
		return parse_cgroup(arg, &c->cgroup);
	case OPT_SERIAL:
		return parse_serial(c, arg);
	case OPT_CONSOLE:
		return parse_console(c, arg);
	case OPT_GUEST_DECOMPRESS:
		c->guest_decompress = true;
		return 0;
	case OPT_RNG:
		c->rng = true;
		return 0;
	case OPT_DISK:
		if (c->nr_disks == RUN_MAX_DISKS) {
			pr_err("--disk: at most %d disks", RUN_MAX_DISKS);
			return -EINVAL;
		}
		return virtio_blk_parse(arg, &c->disks[c->nr_disks++]);
	case OPT_NET:
		if (c->nr_nics == RUN_MAX_NICS) {
			pr_err("--net: at most %d NICs", RUN_MAX_NICS);
			return -EINVAL;
		}
		return virtio_net_parse(arg, &c->nics[c->nr_nics++]);
	case OPT_CONTROL:
		c->control = arg;
		return 0;
	case OPT_STATUS_FILE:
		c->status_file = arg;
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

int run_config_parse(struct run_config *c, int argc, char **argv)
{
	int opt, ret;

	*c = (struct run_config){.cmdline = "",
				 .cpus = 1,
				 .mem = RUN_DEFAULT_MEM,
				 .serial = SERIAL_STDIO};
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "vh", run_options, NULL)) != -1) {
		ret = run_config_option(c, opt, optarg);
		if (ret)
			return ret;
	}
	if (optind < argc) {
		pr_err("run: unexpected argument '%s' (see berth run --help)",
		       argv[optind]);
		return -EINVAL;
	}
	return 0;
}
