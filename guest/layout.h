/* SPDX-License-Identifier: MIT */
/*
 * Numbers shared by start.S, the ring-0 C code and the ring-3 runtime.
 * Plain #defines only: this file is also included from assembly.
 */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* guest.ld links the .boot section here and checks it. */
#define BOOT_BASE 0x100000

#define MAX_CPUS	16
#define KSTACK_SHIFT	13 /* 8 KiB ring-0 stack per CPU */
#define USTACK_SHIFT	14 /* 16 KiB ring-3 stack per AP */
#define BSP_USTACK_SIZE 0x10000

/* Real-mode AP entry page: clear of hvm_start_info/memmap (0x6000-0x7fff),
 * berth's page tables (0x9000-0xefff) and the cmdline (0x20000). */
#define TRAMPOLINE_ADDR 0x8000

/* GDT selectors (start.S). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b /* 0x18 | RPL 3 */
#define SEL_UCODE 0x23 /* 0x20 | RPL 3 */
#define SEL_TSS0  0x28 /* CPU n uses SEL_TSS0 + 16 * n */

/*
 * Syscalls: "int $4" from ring 3, rdi = number, rsi/rdx/rcx = arguments,
 * rax = result. Vector 4 (#OF) cannot otherwise occur in 64-bit mode, and PVM
 * hosts let ring 3 issue only INT 3, INT 4 and INT 0x80, of which INT 0x80
 * raises #UD on the development hosts.
 */
#define VEC_SYSCALL	 4
#define SYS_HALT	 0  /* cli; hlt forever */
#define SYS_TRIPLE_FAULT 1  /* empty IDT, then an exception */
#define SYS_READ_CR	 2  /* a = 0, 2, 3 or 4 */
#define SYS_RDMSR	 3  /* a = msr */
#define SYS_WRMSR	 4  /* a = msr, b = value */
#define SYS_LAPIC_READ	 5  /* a = register offset */
#define SYS_LAPIC_WRITE	 6  /* a = register offset, b = value */
#define SYS_SEND_IPI	 7  /* a = destination APIC ID, b = ICR low word */
#define SYS_SET_PTE	 8  /* a = address of a paging entry, b = value */
#define SYS_WAIT_IRQ	 9  /* a = LAPIC timer count (0: none); sti; hlt */
#define SYS_CPUID	 10 /* a = leaf | subleaf << 32, b = uint32_t[4] out */

/* External interrupt vectors (start.S): a device's MSI/MSI-X (counted in
 * irq_events), the LAPIC timer that bounds SYS_WAIT_IRQ, spurious. */
#define VEC_IRQ	     32
#define VEC_TIMER    33
#define VEC_SPURIOUS 34
#define NUM_VECTORS  35 /* IDT entries */

/* Value written to the debug-exit port when an exception reaches ring 0's
 * handler: QEMU then exits with status 2 * 0x7e + 1 = 253. */
#define EXIT_EXCEPTION 0x7e

#endif
