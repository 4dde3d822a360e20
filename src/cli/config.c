/* SPDX-License-Identifier: MIT */
#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vm/vm.h"

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
	OPT_SERIAL,
	OPT_CONSOLE,
	OPT_GUEST_DECOMPRESS,
	OPT_RNG,
	OPT_DISK,
	OPT_NET,
	OPT_CONTROL,
};

static const struct option run_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"mem", required_argument, NULL, OPT_MEM},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"guest-decompress", no_argument, NULL, OPT_GUEST_DECOMPRESS},
	{"rng", no_argument, NULL, OPT_RNG},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"control", required_argument, NULL, OPT_CONTROL},
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
