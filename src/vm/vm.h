/* SPDX-License-Identifier: MIT */
/*
 * A virtual machine: the KVM VM, its guest memory, its two buses, its vCPU
 * threads and the legacy devices; and how it stops.
 */
#ifndef BERTH_VM_VM_H
#define BERTH_VM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "bus/bus.h"
#include "devices/acpi_sleep.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/uart.h"
#include "irq/irq.h"
#include "pci/pci.h"
#include "virtio/virtio_pci.h"
#include "mem/guest_mem.h"

/* berth run's exit status. A guest's debug-exit write of v gives (2v+1)&0xff,
 * always odd, so berth's own outcomes are even. */
enum {
	BERTH_EXIT_OK = 0,	    /* guest powered off, reset, or user quit */
	BERTH_EXIT_USAGE = 2,	    /* bad option, config or kernel image */
	BERTH_EXIT_GUEST_CRASH = 4, /* triple fault, unrunnable guest state */
	BERTH_EXIT_HOST = 6,	    /* KVM or host failure */
	BERTH_EXIT_SIGNAL = 8,	    /* stopped by SIGINT, SIGTERM or SIGHUP */
};

#define VM_MAX_VCPUS  64
#define VM_MAX_VIRTIO 16

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id; /* also its APIC ID */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	atomic_bool started; /* read by vm_stop on any thread */
	atomic_int tid;	     /* the thread's kernel id, once it runs */
};

struct vm_options {
	unsigned nr_vcpus;
	uint64_t ram_size;
	int serial_out_fd; /* COM1 output; -1 for none */
	bool serial_in;	   /* feed stdin to COM1 */
	/* vCPU i runs only on host CPU pin[i % nr_pin]; nr_pin 0: anywhere. */
	unsigned nr_pin;
	unsigned pin[VM_MAX_VCPUS];
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct kvm_cpuid2 *cpuid; /* what KVM supports; patched per vCPU */
	unsigned nr_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	unsigned nr_pin; /* vm_options' pinning, applied by vm_start */
	unsigned pin[VM_MAX_VCPUS];
	struct boot_entry entry;
	struct uart com1;
	struct i8042 i8042;
	struct debug_exit debug_exit;
	struct acpi_sleep acpi_sleep;
	struct pci_host pci;
	struct irq_router irq;
	unsigned nr_virtio;
	struct virtio_pci *virtio[VM_MAX_VIRTIO];
	bool irqchip_ready;
	/* Pausing: vCPU threads park outside KVM_RUN while pause_req is
	 * set; parked counts them. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_req;
	unsigned parked;
	int stop_fd; /* eventfd, readable once the VM has stopped */
	atomic_bool stopping;
	int exit_status;
	const char *stop_reason;
};

/* Open /dev/kvm, check the API and capabilities, create the VM with its
 * memory, irqchip, PIT and legacy devices. Logs and returns -errno:
 * -EINVAL means the options asked for what this host cannot give (too many
 * vCPUs, RAM that cannot be mapped). */
int vm_create(struct vm *vm, const struct vm_options *opt)
	__attribute__((warn_unused_result));

/* Create the vCPUs, set the boot vCPU to enter at vm->entry, start the
 * vCPU threads (each on its pinned host CPU from the start, if pinned). */
int vm_start(struct vm *vm) __attribute__((warn_unused_result));

/* Stop the VM with this exit status (the first call wins) and kick every
 * vCPU out of KVM_RUN. Safe from any thread, including vCPU threads. */
void vm_stop(struct vm *vm, int status, const char *reason);

/* Stop running guest code: every vCPU leaves KVM_RUN and parks; returns
 * once all have (or the VM stopped). Devices keep running. Idempotent. */
void vm_pause(struct vm *vm);

/* Let parked vCPUs run again. Idempotent. */
void vm_resume(struct vm *vm);

/* True between vm_pause and vm_resume. */
bool vm_paused(struct vm *vm);

/* For a vCPU thread at the top of its run loop: park while paused. */
void vcpu_park_if_paused(struct vcpu *vcpu);

/* Wait for all vCPU threads after vm_stop; returns the exit status. */
int vm_join(struct vm *vm);

/* Release everything vm_create and vm_start made. */
void vm_destroy(struct vm *vm);

/*
 * For a process about to exit: let a detached helper hold the last
 * references to the VM so KVM's teardown (SRCU grace periods for every
 * in-kernel device, ~14 ms on PVM) runs after this process has exited and
 * its exit status has been reported. Returns -errno (and changes nothing)
 * if the helper cannot be started; the caller then just exits.
 */
int vm_teardown_detached(struct vm *vm) __attribute__((warn_unused_result));

/* Put a virtio device (filled in by its init function; it must outlive the
 * VM) on the VM's PCI bus. Call between vm_create and vm_start. */
int vm_add_virtio(struct vm *vm, struct virtio_dev *d)
	__attribute__((warn_unused_result));

/* Drive a legacy (ISA) interrupt line through the in-kernel irqchip. */
void vm_set_irq(struct vm *vm, unsigned irq, int level);

/* Open /dev/kvm and check what berth needs; fd in *kvm_fd. */
int kvm_open_checked(int *kvm_fd) __attribute__((warn_unused_result));

/* Set CPUID, MSRs, FPU and LAPIC LINT pins for one vCPU. */
int vcpu_init_cpu_state(struct vcpu *vcpu) __attribute__((warn_unused_result));

/* Put the boot vCPU's registers in the state vm->entry asks for. */
int vcpu_set_boot_regs(struct vcpu *vcpu) __attribute__((warn_unused_result));

/* The vCPU thread: KVM_RUN and exit dispatch until the VM stops. */
void *vcpu_thread(void *arg);

/* Fetch KVM's supported CPUID table (for vm->cpuid). */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
	__attribute__((warn_unused_result));

/* Patch a copy of the supported table for vCPU id of nr_vcpus (APIC IDs,
 * topology leaves, hypervisor bit); the caller frees it. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported,
				  unsigned id, unsigned nr_vcpus);

#endif
