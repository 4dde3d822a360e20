/* SPDX-License-Identifier: MIT */
/* The vCPU thread and its exit table: one small handler per exit reason. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"
#include "vm/vm.h"

enum exit_action { EXIT_CONTINUE, EXIT_STOP };

typedef enum exit_action (*exit_handler_fn)(struct vcpu *vcpu);

static enum exit_action exit_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep ins/outs) arrives as count items back to back;
	 * KVM placed the buffer inside the run page it sized itself. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_access(&vcpu->vm->pio, run->io.port, data, run->io.size,
			   is_write);
		data += run->io.size;
	}
	return EXIT_CONTINUE;
}

static enum exit_action exit_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len <= 8 ? run->mmio.len : 8;

	bus_access(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
		   run->mmio.is_write);
	return EXIT_CONTINUE;
}

static enum exit_action exit_hlt(struct vcpu *vcpu)
{
	/* With the in-kernel irqchip KVM handles HLT; one reaching us means
	 * the vCPU can never wake again. */
	vm_stop(vcpu->vm, BERTH_EXIT_OK, "guest halted");
	return EXIT_STOP;
}

static enum exit_action exit_shutdown(struct vcpu *vcpu)
{
	pr_err("vcpu %u: guest triple fault (shutdown)", vcpu->id);
	vm_stop(vcpu->vm, BERTH_EXIT_GUEST_CRASH, "guest triple fault");
	return EXIT_STOP;
}

static enum exit_action exit_fail_entry(struct vcpu *vcpu)
{
	pr_err("vcpu %u: KVM could not enter the guest (hardware reason %#llx)",
	       vcpu->id,
	       (unsigned long long)
		       vcpu->run->fail_entry.hardware_entry_failure_reason);
	vm_stop(vcpu->vm, BERTH_EXIT_GUEST_CRASH, "guest entry failed");
	return EXIT_STOP;
}

/* The instruction KVM could not emulate, as hex, if KVM reported it. */
static void emulation_failure_bytes(const struct kvm_run *run, char *buf,
				    size_t len)
{
	const __typeof__(run->emulation_failure) *e = &run->emulation_failure;
	size_t off = 0;

	buf[0] = '\0';
	if (!(e->flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return;
	for (unsigned i = 0; i < e->insn_size && i < 15 && off + 4 < len; i++)
		off += snprintf(buf + off, len - off, " %02x",
				e->insn_bytes[i]);
}

static enum exit_action exit_internal_error(struct vcpu *vcpu)
{
	struct kvm_regs regs;
	uint32_t sub = vcpu->run->internal.suberror;
	char bytes[64] = "";

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		memset(&regs, 0, sizeof(regs));
	if (sub == KVM_INTERNAL_ERROR_EMULATION) {
		emulation_failure_bytes(vcpu->run, bytes, sizeof(bytes));
		pr_err("vcpu %u: guest failure: KVM cannot emulate the "
		       "instruction at rip %#llx%s%s",
		       vcpu->id, (unsigned long long)regs.rip,
		       bytes[0] ? ":" : " (no RAM or device there?)", bytes);
	} else {
		pr_err("vcpu %u: guest failure: KVM internal error %u at rip "
		       "%#llx",
		       vcpu->id, sub, (unsigned long long)regs.rip);
	}
	vm_stop(vcpu->vm, BERTH_EXIT_GUEST_CRASH, "KVM internal error");
	return EXIT_STOP;
}

static enum exit_action exit_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_stop(vcpu->vm, BERTH_EXIT_OK, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_stop(vcpu->vm, BERTH_EXIT_OK, "guest reset");
		break;
	default:
		pr_err("vcpu %u: guest crash event %u", vcpu->id,
		       vcpu->run->system_event.type);
		vm_stop(vcpu->vm, BERTH_EXIT_GUEST_CRASH, "guest crashed");
		break;
	}
	return EXIT_STOP;
}

static enum exit_action exit_ignore(struct vcpu *vcpu)
{
	(void)vcpu;
	return EXIT_CONTINUE;
}

static const exit_handler_fn exit_handlers[] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_HLT] = exit_hlt,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
	[KVM_EXIT_INTR] = exit_ignore,
	[KVM_EXIT_IRQ_WINDOW_OPEN] = exit_ignore,
	[KVM_EXIT_DEBUG] = exit_ignore,
};

static enum exit_action vcpu_dispatch_exit(struct vcpu *vcpu)
{
	uint32_t reason = vcpu->run->exit_reason;

	if (reason < sizeof(exit_handlers) / sizeof(exit_handlers[0]) &&
	    exit_handlers[reason])
		return exit_handlers[reason](vcpu);
	pr_err("vcpu %u: unexpected KVM exit reason %u", vcpu->id, reason);
	vm_stop(vcpu->vm, BERTH_EXIT_HOST, "unexpected KVM exit");
	return EXIT_STOP;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;

	atomic_store(&vcpu->tid, (int)gettid());
	while (!atomic_load(&vm->stopping)) {
		vcpu_park_if_paused(vcpu);
		if (atomic_load(&vm->stopping))
			break;
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			int err = errno;

			/* EINTR: kicked by vm_stop (or immediate_exit). */
			if (err == EINTR || err == EAGAIN)
				continue;
			pr_err("vcpu %u: KVM_RUN: %s", vcpu->id, strerror(err));
			vm_stop(vm, BERTH_EXIT_HOST, "KVM_RUN failed");
			break;
		}
		if (vcpu_dispatch_exit(vcpu) == EXIT_STOP)
			break;
	}
	return NULL;
}
