/* SPDX-License-Identifier: MIT */
/*
 * Interrupt set-up from ring 3 through the kit's LAPIC syscalls. Each
 * syscall is an emulated trip through ring 0 on PVM hosts, so this runs
 * once, and waiting costs one syscall per halt.
 */
#include "irq.h"

#define LAPIC_TPR	 0x080
#define LAPIC_SVR	 0x0f0
#define LAPIC_LVT_TIMER	 0x320
#define LAPIC_LVT_LINT0	 0x350
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV	 0x3e0
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_LVT_MASKED 0x10000
#define LAPIC_DIV_1	 0xb
/* KVM's in-kernel LAPIC (QEMU's and berth's) counts at 1 GHz; elsewhere
 * the timer only bounds a halt, so a different rate changes nothing but
 * the length of a timeout slice. */
#define LAPIC_TIMER_PER_US 1000
#define PIC1_DATA	   0x21
#define PIC2_DATA	   0xa1
#define MSI_ADDRESS_BASE   0xfee00000U

extern uint64_t irq_events; /* start.S, counted by the VEC_IRQ handler */

void irq_setup(void)
{
	static bool done;

	if (done)
		return;
	/* The BIOS leaves the PICs' vectors at 8 and 0x70: a PIC interrupt
	 * would look like a #DF. */
	outb(0xff, PIC1_DATA);
	outb(0xff, PIC2_DATA);
	sys_lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
	sys_lapic_write(LAPIC_TPR, 0);
	sys_lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | VEC_SPURIOUS);
	sys_lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_1);
	sys_lapic_write(LAPIC_LVT_TIMER, VEC_TIMER); /* one-shot */
	done = true;
}

void irq_wait(uint64_t max_us)
{
	uint64_t count = max_us ? max_us * LAPIC_TIMER_PER_US : 1;

	sys_wait_irq(count > 0xffffffff ? 0xffffffff : (uint32_t)count);
}

uint64_t irq_count(void)
{
	return __atomic_load_n(&irq_events, __ATOMIC_RELAXED);
}

uint32_t msi_address(void)
{
	return MSI_ADDRESS_BASE | cpu_apic_id() << 12;
}

uint32_t msi_data(void)
{
	return VEC_IRQ; /* fixed delivery, edge triggered */
}
