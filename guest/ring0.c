/* SPDX-License-Identifier: MIT */
/*
 * The only C code that runs in ring 0: the int $4 syscalls and the
 * exception report. Both are entered from start.S's stubs. Ring 0 is
 * emulated on PVM hosts, so the syscalls do one privileged thing each.
 */
#include "rt.h"

/* What the exception stubs and the CPU pushed, lowest address first. */
struct exc_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

uint64_t ring0_syscall(uint64_t nr, uint64_t a, uint64_t b, uint64_t c);
void ring0_exception(const struct exc_frame *f);

static __noreturn void halt_forever(void)
{
	for (;;)
		asm volatile("cli; hlt");
}

static uint64_t read_cr(uint64_t n)
{
	uint64_t v = 0;

	switch (n) {
	case 0:
		asm volatile("mov %%cr0, %0" : "=r"(v));
		break;
	case 2:
		asm volatile("mov %%cr2, %0" : "=r"(v));
		break;
	case 3:
		asm volatile("mov %%cr3, %0" : "=r"(v));
		break;
	case 4:
		asm volatile("mov %%cr4, %0" : "=r"(v));
		break;
	}
	return v;
}

uint64_t ring0_syscall(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	volatile uint32_t *lapic = (volatile uint32_t *)LAPIC_BASE;
	uint64_t cr3;
	uint32_t lo, hi;

	(void)c;
	switch (nr) {
	case SYS_HALT:
		halt_forever();
	case SYS_TRIPLE_FAULT: {
		/* No IDT: the #UD cannot be delivered, nor the #DF after it. */
		static const struct {
			uint16_t limit;
			uint64_t base;
		} __attribute__((packed)) no_idt;

		asm volatile("lidt %0; ud2" : : "m"(no_idt));
		halt_forever();
	}
	case SYS_READ_CR:
		return read_cr(a);
	case SYS_RDMSR:
		asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"((uint32_t)a));
		return (uint64_t)hi << 32 | lo;
	case SYS_WRMSR:
		asm volatile("wrmsr"
			     :
			     : "c"((uint32_t)a), "a"((uint32_t)b),
			       "d"((uint32_t)(b >> 32)));
		return 0;
	case SYS_LAPIC_READ:
		return lapic[(a & 0xff0) / 4];
	case SYS_LAPIC_WRITE:
		lapic[(a & 0xff0) / 4] = (uint32_t)b;
		return 0;
	case SYS_SEND_IPI:
		lapic[0x310 / 4] = (uint32_t)a << 24;
		lapic[0x300 / 4] = (uint32_t)b;
		return 0;
	case SYS_WAIT_IRQ:
		/* sti's one-instruction shadow covers the hlt: an interrupt
		 * already pending wakes the hlt instead of slipping in
		 * before it. The one-shot timer bounds the wait. */
		if (a)
			lapic[0x380 / 4] = (uint32_t)a;
		asm volatile("sti; hlt; cli" ::: "memory");
		if (a)
			lapic[0x380 / 4] = 0;
		return 0;
	case SYS_CPUID: {
		uint32_t *r = (uint32_t *)b;

		asm volatile("cpuid"
			     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			     : "a"((uint32_t)a), "c"((uint32_t)(a >> 32)));
		return 0;
	}
	case SYS_SET_PTE:
		/* The CR3 write flushes the TLB and paging-structure caches
		 * (the kit's pages are not global). */
		*(volatile uint64_t *)a = b;
		asm volatile("mov %%cr3, %0; mov %0, %%cr3"
			     : "=r"(cr3)
			     :
			     : "memory");
		return 0;
	}
	return (uint64_t)-1;
}

static const char *const exc_names[32] = {
	"#DE", "#DB",  "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
	"#MF", "#AC",  "#MC", "#XM", "#VE", "#CP", "#22", "#23",
	"#24", "#25",  "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

/* Report any exception, from ring 0 or 3, and end the VM: these guests
 * never expect one, so there is nothing to return to. */
void ring0_exception(const struct exc_frame *f)
{
	char buf[160];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "guest: exception %lu error=0x%lx rip=0x%lx cr2=0x%lx "
		     "(%s in ring %lu)\n",
		     f->vector, f->error, f->rip, read_cr(2),
		     exc_names[f->vector & 31], f->cs & 3);
	/* No lock: the faulting code may hold it. */
	serial_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	outb(EXIT_EXCEPTION, DEBUG_EXIT_IO);
	halt_forever();
}
