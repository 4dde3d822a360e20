/* SPDX-License-Identifier: MIT */
/* berth: the command line. Only main() exits the process. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/loader.h"
#include "cli/config.h"
#include "cli/console.h"
#include "cli/control.h"
#include "client/report.h"
#include "client/vm.h"
#include "daemon/daemon.h"
#include "host/cgroup.h"
#include "switch/cli.h"
#include "util/log.h"
#include "util/status_file.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "vm/vm.h"

#define BERTH_VERSION "0.1.0"

#ifndef BERTH_GUEST_DIR
#define BERTH_GUEST_DIR "/usr/local/share/berth/guests"
#endif

static void usage(FILE *f)
{
	fputs("usage: berth COMMAND [options]\n"
	      "\n"
	      "commands:\n"
	      "  run        boot one VM in the foreground (berth run --help)\n"
	      "  switch     a learning L2 switch VMs attach to (berth switch "
	      "--help)\n"
	      "  daemon     berthd: manage VMs over an HTTP API (berth daemon "
	      "--help)\n"
	      "  vm         drive berthd: create, start, stop, ls, ... (berth "
	      "vm --help)\n"
	      "  usage      berthd's usage records as a report (berth usage "
	      "--help)\n"
	      "  top        a live table of berthd's VMs (berth top --help)\n"
	      "  version    print the version\n",
	      f);
}

/* The demo guest next to the binary (build tree) or installed. */
static const char *default_kernel(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		snprintf(buf, len, "%s/guest/demo.elf", dirname(exe));
		if (!access(buf, R_OK))
			return buf;
	}
	snprintf(buf, len, "%s/demo.elf", BERTH_GUEST_DIR);
	if (!access(buf, R_OK))
		return buf;
	pr_err("no --kernel given and the demo guest is not built or installed "
	       "(looked for %s)",
	       buf);
	return NULL;
}

static int open_serial(const struct run_config *c)
{
	int fd;

	if (c->serial == SERIAL_NONE)
		return -1;
	if (c->serial == SERIAL_STDIO)
		return STDOUT_FILENO;
	fd = open(c->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0)
		pr_err("--serial: cannot open '%s': %s", c->serial_path,
		       strerror(errno));
	return fd;
}

/* --console virtio: stdin and stdout become a virtio-console (hvc0), with
 * the terminal's size if stdin is one; *vcons is left NULL otherwise. */
static int add_console(struct vm *vm, const struct run_config *c,
		       struct virtio_dev **vcons)
{
	static struct virtio_dev dev;
	uint16_t cols = 0, rows = 0;
	int ret;

	*vcons = NULL;
	if (c->console != CONSOLE_VIRTIO)
		return 0;
	(void)console_term_size(&cols, &rows); /* else 0 x 0: no F_SIZE */
	ret = virtio_console_init(&dev, "virtio-console", STDOUT_FILENO, cols,
				  rows);
	if (!ret)
		ret = vm_add_virtio(vm, &dev);
	if (!ret)
		*vcons = &dev;
	return ret;
}

/* The devices the options ask for; they live as long as the process. */
static int add_devices(struct vm *vm, const struct run_config *c,
		       struct virtio_dev **vcons, struct control_target *t)
{
	static struct virtio_dev rng, disks[RUN_MAX_DISKS];
	static char names[RUN_MAX_DISKS][16];
	static struct virtio_dev nics[RUN_MAX_NICS];
	static char nic_names[RUN_MAX_NICS][16];
	/* One request queue per vCPU: the guest may use them all (MQ). */
	unsigned queues = c->cpus < 16 ? c->cpus : 16;
	int ret = 0;

	for (unsigned i = 0; i < c->nr_disks && !ret; i++) {
		snprintf(names[i], sizeof(names[i]), "virtio-blk%u", i);
		disks[i].name = names[i];
		ret = virtio_blk_init(&disks[i], &c->disks[i], queues);
		if (!ret)
			ret = vm_add_virtio(vm, &disks[i]);
		if (!ret)
			t->disks[t->nr_disks++] = &disks[i];
	}
	for (unsigned i = 0; i < c->nr_nics && !ret; i++) {
		snprintf(nic_names[i], sizeof(nic_names[i]), "virtio-net%u", i);
		nics[i].name = nic_names[i];
		ret = virtio_net_init(&nics[i], &c->nics[i]);
		if (!ret)
			ret = vm_add_virtio(vm, &nics[i]);
		if (!ret)
			t->nics[t->nr_nics++] = &nics[i];
	}
	if (!ret && c->rng) {
		virtio_rng_init(&rng, "virtio-rng");
		ret = vm_add_virtio(vm, &rng);
	}
	if (!ret)
		ret = add_console(vm, c, vcons);
	return ret;
}

/* Build, load and run the VM; returns berth's exit status, and in *why a
 * static string saying why it ended. */
static int run_vm(const struct run_config *c, const char *kernel,
		  const char **why)
{
	struct vm_options opt = {.nr_vcpus = c->cpus, .ram_size = c->mem};
	struct boot_config bc = {.kernel_path = kernel,
				 .initrd_path = c->initrd,
				 .cmdline = c->cmdline,
				 .guest_decompress = c->guest_decompress};
	static struct control ctl;
	static struct cgroup cg;
	static struct vm vm;
	struct control_target t = {
		.vm = &vm, .kernel = kernel, .mem = c->mem, .cpus = c->cpus};
	struct virtio_dev *vcons = NULL;
	bool ctl_on = false, cg_on = false;
	int status, ret;

	*why = "berth could not set up the VM (see its log)";
	/* First: every thread berth starts inherits the mask, virtio I/O
	 * threads (started by add_devices) included; one without it would
	 * take SIGTERM's default action and kill berth in raw mode. */
	if (console_block_signals())
		return BERTH_EXIT_HOST;
	opt.serial_out_fd = open_serial(c);
	if (c->serial == SERIAL_FILE && opt.serial_out_fd < 0)
		return BERTH_EXIT_USAGE;
	/* stdin feeds one console: COM1, or the virtio-console instead. */
	opt.serial_in =
		c->serial == SERIAL_STDIO && c->console == CONSOLE_SERIAL;
	opt.nr_pin = c->nr_cpu_pin;
	memcpy(opt.pin, c->cpu_pin, sizeof(opt.pin));
	ret = vm_create(&vm, &opt);
	if (ret) {
		status = ret == -EINVAL ? BERTH_EXIT_USAGE : BERTH_EXIT_HOST;
	} else if ((ret = add_devices(&vm, c, &vcons, &t))) {
		/* A disk that cannot be opened is a bad --disk. */
		status = ret == -EINVAL || ret == -ENOENT || ret == -EACCES ||
					 ret == -EROFS
				 ? BERTH_EXIT_USAGE
				 : BERTH_EXIT_HOST;
		*why = "a disk or NIC could not be set up (see its log)";
	} else if (boot_load(&vm.mem, &bc, &vm.entry)) {
		status = BERTH_EXIT_USAGE;
		*why = "the kernel or initrd could not be loaded (see its log)";
	} else if (c->control &&
		   !(ctl_on = !control_start(&ctl, c->control, &t))) {
		status = BERTH_EXIT_USAGE;
	} else if ((c->cgroup || c->cpu_weight || c->cpu_cap_milli) &&
		   !(cg_on = !cgroup_join(&cg, CGROUP_FSROOT, c->cgroup,
					  c->cpu_weight, c->cpu_cap_milli))) {
		/* Before the vCPU threads exist: they inherit the cgroup. */
		status = BERTH_EXIT_USAGE;
		*why = "the CPU options could not be applied (see its log)";
	} else if (vm_start(&vm)) {
		/* vm_start stopped what it started; wait for those threads. */
		vm_join(&vm);
		status = BERTH_EXIT_HOST;
	} else {
		if (console_run(&vm, opt.serial_in || vcons, vcons))
			vm_stop(&vm, BERTH_EXIT_HOST, "console failed");
		status = vm_join(&vm);
		*why = vm.stop_reason;
		pr_info("VM stopped: %s (exit status %d)", vm.stop_reason,
			status);
		pr_info("guest RAM resident: %llu KiB",
			(unsigned long long)guest_mem_resident(&vm.mem) >> 10);
	}
	if (ctl_on)
		control_stop(&ctl);
	if (cg_on) /* every vCPU thread has been joined */
		cgroup_leave(&cg, getpid());
	if (c->serial == SERIAL_FILE)
		close(opt.serial_out_fd);
	/* The process exits next: release the VM after it has, not before. */
	fflush(NULL);
	if (vm_teardown_detached(&vm))
		vm_destroy(&vm);
	return status;
}

static int cmd_run(int argc, char **argv)
{
	const char *kernel, *why = "no kernel to boot";
	char buf[PATH_MAX + 32];
	struct run_config c;
	int status;

	if (run_config_parse(&c, argc, argv))
		return BERTH_EXIT_USAGE;
	if (c.help) {
		run_config_usage(stdout);
		return 0;
	}
	log_threshold = c.verbose >= 2 ? LOG_DEBUG
			: c.verbose    ? LOG_INFO
				       : LOG_WARN;
	kernel = c.kernel ? c.kernel : default_kernel(buf, sizeof(buf));
	status = kernel ? run_vm(&c, kernel, &why) : BERTH_EXIT_USAGE;
	if (c.status_file && status_file_write(c.status_file, status, why))
		pr_warn("berthd will not learn why this VM stopped");
	return status;
}

static bool berth_command(const char *s)
{
	static const char *const cmds[] = {"run",   "switch", "daemon", "vm",
					   "usage", "top",    "version"};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(s, cmds[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	/* COM1 output is best effort: a reader that goes away (berth run |
	 * head) must not kill the VM; write() then fails with EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* berthd runs the daemon, unless given one of berth's commands
	 * (berth hands it daemon, vm, usage and top). */
	if (argc > 0 && !strcmp(basename(argv[0]), "berthd") &&
	    (argc < 2 || !berth_command(argv[1])))
		return cmd_daemon(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return BERTH_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run")) {
		argv[1] = "berth run";
		return cmd_run(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "switch")) {
		argv[1] = "berth switch";
		return cmd_switch(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "daemon")) {
		argv[1] = "berth daemon";
		return cmd_daemon(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "vm"))
		return cmd_vm(argc - 1, argv + 1);
	if (!strcmp(argv[1], "usage"))
		return cmd_usage(argc - 1, argv + 1);
	if (!strcmp(argv[1], "top"))
		return cmd_top(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("berth %s\n", BERTH_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	pr_err("unknown command '%s' (see berth --help)", argv[1]);
	return BERTH_EXIT_USAGE;
}
