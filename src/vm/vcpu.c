/* SPDX-License-Identifier: MIT */
/* vCPU state set-up and the vCPU thread: KVM_RUN and a table of exit
 * handlers, one per exit reason. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vm/vm.h"

/* MSR numbers from the Intel SDM, volume 4 (not in the kernel's uapi). */
#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_TSC		0x010
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING 1ULL

static int vcpu_ioctl(struct vcpu *vcpu, unsigned long req, void *arg,
		      const char *what)
{
	if (ioctl(vcpu->fd, req, arg) < 0) {
		int err = errno;

		pr_err("vcpu %u: %s: %s", vcpu->id, what, strerror(err));
		return -err;
	}
	return 0;
}

static int vcpu_set_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *c =
		cpuid_for_vcpu(vcpu->vm->cpuid, vcpu->id, vcpu->vm->nr_vcpus);
	int ret;

	if (!c)
		return -ENOMEM;
	ret = vcpu_ioctl(vcpu, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
	return ret;
}

/* The MSR values a Linux guest expects at boot, as hardware resets them:
 * syscall MSRs clear, fast strings on, MTRRs enabled with write-back. */
static int vcpu_set_msrs(struct vcpu *vcpu)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_LSTAR, 0},
		{MSR_CSTAR, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, (1U << 11) | 6},
	};
	const unsigned n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct kvm_msrs *msrs =
		calloc(1, sizeof(*msrs) + n * sizeof(msrs->entries[0]));
	int set;

	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs->entries[i].index = boot_msrs[i].index;
		msrs->entries[i].data = boot_msrs[i].value;
	}
	set = ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
	free(msrs);
	if (set < 0 || (unsigned)set != n) {
		pr_err("vcpu %u: KVM_SET_MSRS: MSR %#x was refused", vcpu->id,
		       set < 0 ? 0 : boot_msrs[set].index);
		return -EIO;
	}
	return 0;
}

#define APIC_LVT0	0x350
#define APIC_LVT1	0x360
#define LVT_MASKED	(1U << 16)
#define LVT_MODE_MASK	(7U << 8)
#define LVT_MODE_NMI	(4U << 8)
#define LVT_MODE_EXTINT (7U << 8)

static void lapic_set_lvt(struct kvm_lapic_state *l, unsigned reg,
			  uint32_t mode, bool masked)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~(LVT_MODE_MASK | LVT_MASKED)) | mode |
	    (masked ? LVT_MASKED : 0);
	memcpy(&l->regs[reg], &v, 4);
}

/* Virtual-wire mode as a PC BIOS leaves it (MP spec 1.4, 3.6.2.2): LINT0
 * is ExtINT, unmasked on the boot CPU only, so 8259 interrupts reach a
 * guest that never programs its local APIC; LINT1 is NMI everywhere. */
static int vcpu_set_lint(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	int ret;

	ret = vcpu_ioctl(vcpu, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
	if (ret)
		return ret;
	lapic_set_lvt(&lapic, APIC_LVT0, LVT_MODE_EXTINT, vcpu->id != 0);
	lapic_set_lvt(&lapic, APIC_LVT1, LVT_MODE_NMI, false);
	return vcpu_ioctl(vcpu, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

int vcpu_init_cpu_state(struct vcpu *vcpu)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	int ret;

	ret = vcpu_set_cpuid(vcpu);
	if (!ret)
		ret = vcpu_set_msrs(vcpu);
	if (!ret)
		ret = vcpu_ioctl(vcpu, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
	if (!ret)
		ret = vcpu_set_lint(vcpu);
	return ret;
}

/* A flat segment described by the boot GDT entry at selector sel. */
static struct kvm_segment boot_segment(enum boot_mode mode, uint16_t sel)
{
	uint64_t d = boot_gdt_entry(mode, sel / 8);

	return (struct kvm_segment){
		.base = 0,
		.limit = (d >> 55) & 1 ? 0xffffffff : 0x67,
		.selector = sel,
		.type = (d >> 40) & 0xf,
		.present = (d >> 47) & 1,
		.dpl = (d >> 45) & 3,
		.db = (d >> 54) & 1,
		.s = (d >> 44) & 1,
		.l = (d >> 53) & 1,
		.g = (d >> 55) & 1,
	};
}

static void vcpu_boot_sregs(struct kvm_sregs *s, enum boot_mode mode)
{
	struct kvm_segment data = boot_segment(mode, BOOT_DS_SEL);

	s->cs = boot_segment(mode, BOOT_CS_SEL);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = boot_segment(mode, BOOT_TSS_SEL);
	s->gdt.base = BOOT_GDT_ADDR;
	s->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr0 = 0x11; /* PE, ET */
	s->cr4 = 0;
	s->efer = 0;
	if (mode == BOOT_MODE_LINUX64) {
		s->cr3 = BOOT_PML4_ADDR;
		s->cr4 |= 1U << 5;		   /* PAE */
		s->cr0 |= 1U << 31;		   /* PG */
		s->efer |= (1U << 8) | (1U << 10); /* LME, LMA */
	}
}

int vcpu_set_boot_regs(struct vcpu *vcpu)
{
	const struct boot_entry *e = &vcpu->vm->entry;
	struct kvm_regs regs = {
		.rflags = 0x2,
		.rip = e->rip,
		.rbx = e->rbx,
		.rsi = e->rsi,
		.rsp = e->mode == BOOT_MODE_LINUX64 ? BOOT_STACK_TOP : 0,
	};
	struct kvm_sregs sregs;
	int ret;

	ret = vcpu_ioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	if (ret)
		return ret;
	vcpu_boot_sregs(&sregs, e->mode);
	ret = vcpu_ioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	if (!ret)
		ret = vcpu_ioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	return ret;
}
