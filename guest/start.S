/* SPDX-License-Identifier: MIT */
/*
 * Ring 0 of the berth test-guest kit: PVH entry, descriptor tables, page
 * tables, exception and syscall entry, and the AP trampoline.
 *
 * On PVM hosts every guest ring-0 instruction goes through KVM's emulator
 * (~1.2 us each), so all tables are built here by the assembler and the boot
 * path is about two dozen instructions before it drops to ring 3.
 */
#include "layout.h"

#define CR0_PE	 0x00000001
#define CR0_ET	 0x00000010
#define CR0_PG	 0x80000000
#define CR0_BOOT (CR0_PG | CR0_ET | CR0_PE)
#define CR4_PAE	 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

#define PTE_P	0x01
#define PTE_W	0x02
#define PTE_U	0x04
#define PTE_PWT 0x08
#define PTE_PCD 0x10
#define PTE_PS	0x80
#define PTE_USER (PTE_P | PTE_W | PTE_U)
#define PDE_RAM	 (PTE_USER | PTE_PS)
#define PDE_MMIO (PTE_USER | PTE_PS | PTE_PCD | PTE_PWT)

#define KSTACK_SIZE (1 << KSTACK_SHIFT)
#define USTACK_SIZE (1 << USTACK_SHIFT)

/* Offsets inside .boot, which sits at BOOT_BASE so that the IDT and the TSS
 * descriptors (which split addresses into bit fields) are assembler
 * constants. */
#define STUB_SIZE 16
#define TSS_OFF	  0x400
#define TSS_SIZE  128
#define IOPB_OFF  (TSS_OFF + MAX_CPUS * TSS_SIZE)
#define IOPB_SIZE 8192 /* one bit per port, all clear: ring 3 may use all */

/* The PVH entry point, found by QEMU and berth in this note. 8 bytes like
 * Linux's; the value is a 32-bit physical address. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 8, 18			/* namesz, descsz, PHYS32_ENTRY */
	.asciz "Xen"
	.quad pvh_start

/* ------------------------------------------------------------------------ */
	.section .boot, "ax"
	.globl boot_start
boot_start:

/* One 16-byte stub per exception vector: push a dummy error code where the
 * CPU pushes none, then the vector, so ring0_exception sees one layout. */
.macro exc_stub vec
	.org \vec * STUB_SIZE
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || \
	    (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp exc_common
.endm
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22, \
		23,24,25,26,27,28,29,30,31
	exc_stub \vec
	.endr

/* Syscall entry (int $VEC_SYSCALL), slot 32. Ring 3 declares every
 * caller-saved register clobbered, so nothing needs saving; the sub keeps the
 * C ABI's alignment (the CPU pushed 5 quadwords onto a 16-byte aligned
 * stack). */
	.org 32 * STUB_SIZE
syscall_entry:
	subq $8, %rsp
	call ring0_syscall
	addq $8, %rsp
	iretq

exc_common:
	movq %rsp, %rdi			/* struct exc_frame * */
	andq $-16, %rsp
	call ring0_exception		/* does not return */
1:	cli
	hlt
	jmp 1b

/* External interrupts, taken only inside SYS_WAIT_IRQ's sti; hlt. Each
 * is a handful of instructions because ring 0 is emulated on PVM hosts:
 * count device interrupts (ring 3 reads irq_events), EOI the xAPIC. The
 * EOI register's address does not fit a sign-extended disp32, hence %rax. */
#define LAPIC_EOI 0xfee000b0
	.org 48 * STUB_SIZE
spurious_entry:				/* no EOI for a spurious vector */
	iretq

	.org 49 * STUB_SIZE
timer_entry:
	pushq %rax
	movl $LAPIC_EOI, %eax
	movl $0, (%rax)
	popq %rax
	iretq

	.org 50 * STUB_SIZE
irq_entry:
	lock incq irq_events(%rip)
	pushq %rax
	movl $LAPIC_EOI, %eax
	movl $0, (%rax)
	popq %rax
	iretq

/* 64-bit TSSs: only RSP0 (the ring-0 stack) and the I/O bitmap offset
 * matter. All CPUs share one I/O bitmap: each TSS's offset reaches it. */
	.if MAX_CPUS != 16
	.error "the .irp lists of CPU numbers assume MAX_CPUS == 16"
	.endif
	.org TSS_OFF
	.irp cpu, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	.long 0
	.quad kstacks + (\cpu + 1) * KSTACK_SIZE	/* rsp0 */
	.fill 88, 1, 0
	.word 0
	.word IOPB_OFF - (TSS_OFF + \cpu * TSS_SIZE)	/* I/O bitmap offset */
	.fill TSS_SIZE - 104, 1, 0
	.endr
	.org IOPB_OFF
	.fill IOPB_SIZE, 1, 0
	.byte 0xff			/* the terminator the CPU may read */
	.globl boot_end
boot_end:

/* ------------------------------------------------------------------------ */
	.text
	.code32
/* PVH entry: 32-bit protected mode, flat segments, paging off, EBX = struct
 * hvm_start_info. Straight to long mode: the CPU allows PG with LME set in
 * one CR0 write, and the cached 32-bit CS keeps running until the far jump. */
	.globl pvh_start
pvh_start:
	movl %ebx, boot_info
	lgdt gdt_ptr
	movl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	movl $EFER_LME, %eax
	xorl %edx, %edx
	wrmsr
	movl $CR0_BOOT, %eax
	movl %eax, %cr0
	ljmp $SEL_KCODE, $bsp_start64

	.code64
bsp_start64:
	movl $SEL_KDATA, %eax
	movl %eax, %ss
	movw $SEL_TSS0, %ax
	ltr %ax
	lidt idt_ptr(%rip)
	movl $(kstacks + KSTACK_SIZE), %esp
	pushq $SEL_UDATA
	pushq $(bsp_ustack + BSP_USTACK_SIZE - 8)	/* as if called */
	pushq $2			/* RFLAGS: IF=0, IOPL=0 */
	pushq $SEL_UCODE
	pushq $rt_bsp_entry
	iretq

/* AP trampoline, copied by ring 3 to TRAMPOLINE_ADDR and entered by SIPI in
 * real mode with CS = TRAMPOLINE_ADDR >> 4. Like pvh_start it goes directly
 * to long mode (PE and PG in one CR0 write) with the same page tables. */
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdt_ptr - trampoline_start
	movl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	movl $EFER_LME, %eax
	xorl %edx, %edx
	wrmsr
	movl $CR0_BOOT, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE, $ap_start64
	.balign 4
tramp_gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt
trampoline_end:

	.code64
/* Each AP takes the next CPU number, which picks its TSS and stacks; with
 * more than MAX_CPUS CPUs the rest park here. */
ap_start64:
	movl $SEL_KDATA, %eax
	movl %eax, %ss
	movl $1, %edi
	lock xaddl %edi, ap_next_cpu(%rip)
	cmpl $MAX_CPUS, %edi
	jae ap_park
	movl %edi, %eax
	shll $4, %eax
	addl $SEL_TSS0, %eax
	ltr %ax
	lidt idt_ptr(%rip)
	movl %edi, %eax
	shll $KSTACK_SHIFT, %eax
	leaq kstacks + KSTACK_SIZE(%rax), %rsp
	movl %edi, %eax
	shll $USTACK_SHIFT, %eax
	leaq ap_ustacks + USTACK_SIZE - 8(%rax), %rax
	pushq $SEL_UDATA
	pushq %rax
	pushq $2
	pushq $SEL_UCODE
	pushq $rt_ap_entry		/* rt_ap_entry(cpu = %edi) */
	iretq
ap_park:
	cli
	hlt
	jmp ap_park

/* ------------------------------------------------------------------------ */
	.data
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cff2000000ffff	/* 0x18 user data, DPL 3 */
	.quad 0x00affa000000ffff	/* 0x20 user code, 64-bit, DPL 3 */
/* 64-bit available TSS; its limit takes in the I/O bitmap and terminator. */
.macro tss_desc cpu
	.Lbase = BOOT_BASE + TSS_OFF + \cpu * TSS_SIZE
	.Llimit = IOPB_OFF + IOPB_SIZE - (TSS_OFF + \cpu * TSS_SIZE)
	.word .Llimit & 0xffff, .Lbase & 0xffff
	.byte (.Lbase >> 16) & 0xff, 0x89, (.Llimit >> 16) & 0x0f
	.byte (.Lbase >> 24) & 0xff
	.long 0, 0
.endm
	.irp cpu, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	tss_desc \cpu
	.endr
gdt_end:

	.balign 8
	.word 0, 0, 0
gdt_ptr:				/* 32-bit lgdt reads limit and base32 */
	.word gdt_end - gdt - 1
	.quad gdt

/* Interrupt gates to the stubs; the syscall vector is callable from ring 3. */
.macro gate target, attr
	.word (\target) & 0xffff, SEL_KCODE
	.byte 0, \attr
	.word ((\target) >> 16) & 0xffff
	.long 0, 0
.endm
	.balign 16
idt:
	.Lvec = 0
	.rept 32
	.if .Lvec == VEC_SYSCALL
	gate (BOOT_BASE+32*STUB_SIZE), 0xee
	.else
	gate (BOOT_BASE+.Lvec*STUB_SIZE), 0x8e
	.endif
	.Lvec = .Lvec + 1
	.endr
	.if VEC_IRQ != 32 || VEC_TIMER != 33 || VEC_SPURIOUS != 34 || \
	    NUM_VECTORS != 35
	.error "the IDT below assumes vectors 32-34 for IRQ, timer, spurious"
	.endif
	gate (BOOT_BASE+50*STUB_SIZE), 0x8e	/* VEC_IRQ */
	gate (BOOT_BASE+49*STUB_SIZE), 0x8e	/* VEC_TIMER */
	gate (BOOT_BASE+48*STUB_SIZE), 0x8e	/* VEC_SPURIOUS */
idt_end:

	.balign 8
	.word 0, 0, 0
idt_ptr:
	.word idt_end - idt - 1
	.quad idt

	.balign 4
ap_next_cpu:
	.long 1				/* the BSP is CPU 0 */

/* Identity map of the first 4 GiB with 2 MiB pages, all user-accessible so
 * that ring 3 can reach RAM, boot data (QEMU q35 puts the memory map in page
 * 0), the BIOS area and MMIO. The top GiB (MMIO) is uncached. */
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + PTE_USER
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + PTE_USER, pd + 0x1000 + PTE_USER
	.quad pd + 0x2000 + PTE_USER, pd + 0x3000 + PTE_USER
	.fill 508, 8, 0
pd:
	.Li = 0
	.rept 2048
	.if .Li < 1536
	.quad (.Li << 21) | PDE_RAM
	.else
	.quad (.Li << 21) | PDE_MMIO
	.endif
	.Li = .Li + 1
	.endr

/* ------------------------------------------------------------------------ */
	.bss
	.globl boot_info
	.balign 4
boot_info:				/* EBX at the PVH entry */
	.skip 4
	.globl irq_events
	.balign 8
irq_events:				/* device interrupts taken */
	.skip 8
	.balign 16
kstacks:
	.skip MAX_CPUS * KSTACK_SIZE
bsp_ustack:
	.skip BSP_USTACK_SIZE
ap_ustacks:
	.skip MAX_CPUS * USTACK_SIZE

	.section .note.GNU-stack, "", @progbits
