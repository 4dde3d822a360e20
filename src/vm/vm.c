/* SPDX-License-Identifier: MIT */
/* VM lifecycle: create the KVM VM and its memory, irqchip and devices;
 * start vCPU threads; stop them all when any of them ends the VM. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/mptable.h"
#include "util/log.h"
#include "vm/vm.h"

/* KVM needs three pages for the (VMX) real-mode TSS and one for the
 * identity map; both sit in the MMIO hole just below the BIOS area. */
#define KVM_TSS_ADDR	      0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

#define SIG_VCPU_KICK SIGUSR1

static int vm_ioctl(struct vm *vm, unsigned long req, unsigned long arg,
		    const char *what)
{
	if (ioctl(vm->vm_fd, req, arg) < 0) {
		int err = errno;

		pr_err("%s: %s", what, strerror(err));
		return -err;
	}
	return 0;
}

static int vm_create_kvm(struct vm *vm, const struct vm_options *opt)
{
	int max, ret;

	ret = kvm_open_checked(&vm->kvm_fd);
	if (ret)
		return ret;
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && opt->nr_vcpus > (unsigned)max) {
		pr_err("--cpus: %u is more than this KVM allows (%d)",
		       opt->nr_vcpus, max);
		return -EINVAL;
	}
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		pr_err("KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		pr_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EIO;
	}
	return cpuid_get_supported(vm->kvm_fd, &vm->cpuid);
}

static int vm_create_irqchip(struct vm *vm)
{
	/* The dummy speaker makes KVM serve port 0x61 (PIT channel 2 gate
	 * and output), which PIT-based TSC calibration needs. */
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t ident = KVM_IDENTITY_MAP_ADDR;
	int ret;

	ret = vm_ioctl(vm, KVM_SET_TSS_ADDR, KVM_TSS_ADDR, "KVM_SET_TSS_ADDR");
	if (!ret)
		ret = vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR,
			       (unsigned long)&ident,
			       "KVM_SET_IDENTITY_MAP_ADDR");
	if (!ret)
		ret = vm_ioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	if (!ret)
		ret = vm_ioctl(vm, KVM_CREATE_PIT2, (unsigned long)&pit,
			       "KVM_CREATE_PIT2");
	vm->irqchip_ready = !ret;
	return ret;
}

static int vm_create_memory(struct vm *vm, uint64_t ram_size)
{
	int ret = guest_mem_init(&vm->mem, ram_size);

	if (ret) {
		pr_err("--mem: cannot map %llu MiB of guest RAM: %s",
		       (unsigned long long)(ram_size >> 20), strerror(-ret));
		return -EINVAL;
	}
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};

		ret = vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION,
			       (unsigned long)&slot,
			       "KVM_SET_USER_MEMORY_REGION");
		if (ret)
			return ret;
	}
	return 0;
}

static void vm_com1_irq(void *ctx, int level)
{
	vm_set_irq(ctx, UART_COM1_IRQ, level);
}

static void vm_kbd_irq(void *ctx, int level)
{
	vm_set_irq(ctx, I8042_KBD_IRQ, level);
}

static void vm_reset_requested(void *ctx)
{
	vm_stop(ctx, BERTH_EXIT_OK, "guest reset");
}

static void vm_power_off(void *ctx)
{
	vm_stop(ctx, BERTH_EXIT_OK, "guest powered off");
}

static void vm_debug_exit(void *ctx, int status)
{
	vm_stop(ctx, status, "guest wrote to the debug-exit port");
}

static int vm_create_devices(struct vm *vm, const struct vm_options *opt)
{
	int ret;

	ret = uart_init(&vm->com1, opt->serial_out_fd, vm_com1_irq, vm);
	if (ret)
		return ret;
	vm->com1.stopping = &vm->stopping;
	i8042_init(&vm->i8042, vm_reset_requested, vm_kbd_irq, vm);
	vm->acpi_sleep =
		(struct acpi_sleep){.power_off = vm_power_off, .ctx = vm};
	vm->debug_exit = (struct debug_exit){.exit = vm_debug_exit, .ctx = vm};
	ret = bus_register(&vm->pio, "com1", UART_COM1_BASE, UART_NR_PORTS,
			   &uart_bus_ops, &vm->com1);
	if (!ret)
		ret = bus_register(&vm->pio, "i8042-data", I8042_DATA_PORT, 1,
				   &i8042_data_ops, &vm->i8042);
	if (!ret)
		ret = bus_register(&vm->pio, "i8042-command",
				   I8042_COMMAND_PORT, 1, &i8042_command_ops,
				   &vm->i8042);
	if (!ret)
		ret = bus_register(&vm->pio, "debug-exit", DEBUG_EXIT_PORT,
				   DEBUG_EXIT_NPORTS, &debug_exit_bus_ops,
				   &vm->debug_exit);
	if (!ret)
		ret = bus_register(&vm->pio, "acpi-sleep",
				   ACPI_SLEEP_CONTROL_PORT, ACPI_SLEEP_NPORTS,
				   &acpi_sleep_ops, &vm->acpi_sleep);
	if (!ret) /* POST codes and Linux's io_delay */
		ret = bus_register(&vm->pio, "post", 0x80, 1, &sink_bus_ops,
				   NULL);
	return ret;
}

int vm_create(struct vm *vm, const struct vm_options *opt)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = -1;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->nr_vcpus = opt->nr_vcpus;
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	if (!opt->nr_vcpus || opt->nr_vcpus > VM_MAX_VCPUS ||
	    opt->nr_pin > VM_MAX_VCPUS)
		return -EINVAL;
	for (unsigned i = 0; i < opt->nr_pin; i++)
		if (opt->pin[i] >= CPU_SETSIZE)
			return -EINVAL;
	vm->nr_pin = opt->nr_pin;
	memcpy(vm->pin, opt->pin, sizeof(vm->pin));
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return -errno;
	ret = bus_init(&vm->pio, "pio");
	if (!ret)
		ret = bus_init(&vm->mmio, "mmio");
	if (!ret)
		ret = vm_create_kvm(vm, opt);
	if (!ret)
		ret = vm_create_memory(vm, opt->ram_size);
	if (!ret)
		ret = vm_create_irqchip(vm);
	if (!ret)
		ret = vm_create_devices(vm, opt);
	if (!ret)
		ret = pci_host_init(&vm->pci, &vm->pio, &vm->mmio);
	if (!ret)
		ret = irq_router_init(&vm->irq, vm->vm_fd);
	return ret;
}

int vm_add_virtio(struct vm *vm, struct virtio_dev *d)
{
	struct virtio_pci_env env = {
		.vm_fd = vm->vm_fd,
		.pci = &vm->pci,
		.irq = &vm->irq,
		.mem = &vm->mem,
	};

	if (vm->nr_virtio == VM_MAX_VIRTIO) {
		pr_err("%s: more than %d virtio devices", d->name,
		       VM_MAX_VIRTIO);
		return -ENOSPC;
	}
	return virtio_pci_create(&env, d, &vm->virtio[vm->nr_virtio++]);
}

void vm_set_irq(struct vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = level};

	if (vm->irqchip_ready && ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		pr_warn("KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

static int vm_create_vcpu(struct vm *vm, unsigned id)
{
	struct vcpu *vcpu = &vm->vcpus[id];
	void *run;

	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0) {
		pr_err("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return -errno;
	}
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	if (run == MAP_FAILED) {
		pr_err("vcpu %u: mmap kvm_run: %s", id, strerror(errno));
		return -errno;
	}
	vcpu->run = run;
	return vcpu_init_cpu_state(vcpu);
}

static int vm_prepare_vcpus(struct vm *vm)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};
	int ret;

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIG_VCPU_KICK, &sa, NULL) < 0)
		return -errno;
	ret = boot_write_cpu_tables(&vm->mem, vm->entry.mode);
	/* Both descriptions of the CPUs: MP tables for small kernels, ACPI
	 * for kernels built without MP-table support. */
	if (!ret)
		ret = mptable_write(&vm->mem, vm->nr_vcpus);
	if (!ret)
		ret = acpi_write_tables(&vm->mem, vm->nr_vcpus);
	for (unsigned i = 0; i < vm->nr_vcpus && !ret; i++)
		ret = vm_create_vcpu(vm, i);
	/* vCPU 0 is the boot processor; the others wait for INIT/SIPI in
	 * the in-kernel local APIC. */
	if (!ret)
		ret = vcpu_set_boot_regs(&vm->vcpus[0]);
	return ret;
}

/* Start vCPU i's thread; a pinned one gets its CPU through the thread
 * attributes, so it never runs guest code (or anything) elsewhere. */
static int vm_start_vcpu_thread(struct vm *vm, unsigned i)
{
	struct vcpu *vcpu = &vm->vcpus[i];
	unsigned cpu = vm->nr_pin ? vm->pin[i % vm->nr_pin] : 0;
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	ret = -pthread_attr_init(&attr);
	if (ret)
		return ret;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (vm->nr_pin)
		ret = -pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!ret)
		ret = -pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (ret && vm->nr_pin)
		pr_err("vcpu %u: cannot start thread on host CPU %u: %s", i,
		       cpu, strerror(-ret));
	else if (ret)
		pr_err("vcpu %u: cannot start thread: %s", i, strerror(-ret));
	else
		atomic_store(&vcpu->started, true);
	return ret;
}

int vm_start(struct vm *vm)
{
	int ret = vm_prepare_vcpus(vm);

	for (unsigned i = 0; i < vm->nr_vcpus && !ret; i++)
		ret = vm_start_vcpu_thread(vm, i);
	if (ret)
		vm_stop(vm, BERTH_EXIT_HOST, "vCPU start failed");
	return ret;
}

/* Out of KVM_RUN: immediate_exit for a vCPU about to enter it, the signal
 * for one inside. */
static void vm_kick_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->run)
			vcpu->run->immediate_exit = 1;
		if (atomic_load(&vcpu->started))
			pthread_kill(vcpu->thread, SIG_VCPU_KICK);
	}
}

void vm_stop(struct vm *vm, int status, const char *reason)
{
	bool expected = false;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
		return;
	vm->exit_status = status;
	vm->stop_reason = reason;
	vm_kick_vcpus(vm);
	/* Parked vCPUs and a vm_pause waiting for them wake up to stop. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		pr_warn("stop eventfd: %s", strerror(errno));
}

static unsigned vm_started_vcpus(struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		n += atomic_load(&vm->vcpus[i].started);
	return n;
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, true);
	vm_kick_vcpus(vm);
	/* A vCPU that ends the VM does not park: stop waiting then. */
	while (vm->parked < vm_started_vcpus(vm) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_paused(struct vm *vm)
{
	return atomic_load(&vm->pause_req);
}

void vcpu_park_if_paused(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (!atomic_load(&vm->pause_req))
		return;
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_req) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	/* The pause kick set it; vm_stop sets it again after setting
	 * stopping, which the run loop checks next, so clearing it here
	 * cannot lose a stop. */
	vcpu->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (atomic_load(&vm->vcpus[i].started)) {
			pthread_join(vm->vcpus[i].thread, NULL);
			atomic_store(&vm->vcpus[i].started, false);
		}
	}
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	/* Devices first: their I/O threads touch guest RAM and the VM fd. */
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		if (vm->virtio[i])
			virtio_pci_destroy(vm->virtio[i]);
	vm->nr_virtio = 0;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->run)
			munmap(vcpu->run, vm->run_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	guest_mem_destroy(&vm->mem);
	uart_destroy(&vm->com1);
	pci_host_destroy(&vm->pci);
	irq_router_destroy(&vm->irq);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm->cpuid);
}

#define REAPER_STACK_SIZE (64 * 1024)

/* Runs in the address space it shares with the exiting VMM: raw system
 * calls only. It owns copies of every file descriptor, KVM's among them,
 * and drops them when the VMM has gone. */
static int vm_reaper(void *arg)
{
	pid_t vmm = (pid_t)(intptr_t)arg;
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != vmm)
		_exit(0);
	/* Let whoever reads berth's output see end-of-file now. */
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	for (;;)
		pause(); /* SIGKILL when the VMM exits ends this, closing the
			  * last references to the VM */
	return 0;
}

int vm_teardown_detached(struct vm *vm)
{
	void *stack = mmap(NULL, REAPER_STACK_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid;

	(void)vm;
	if (stack == MAP_FAILED)
		return -errno;
	/* CLONE_VM: no copy of guest memory's page tables; the mm (and with
	 * it guest RAM) lives until the reaper exits. No exit signal: the
	 * reaper is not a child anyone waits for. */
	pid = clone(vm_reaper, (uint8_t *)stack + REAPER_STACK_SIZE, CLONE_VM,
		    (void *)(intptr_t)getpid());
	if (pid < 0) {
		munmap(stack, REAPER_STACK_SIZE);
		return -errno;
	}
	return 0;
}
