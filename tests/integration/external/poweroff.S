/*
 * A PVH guest that powers off the way an ACPI OS does on a hardware-reduced
 * platform: it follows RSDP -> XSDT -> FADT to the sleep control register
 * and writes SLP_TYP 5 | SLP_EN to it. Exits with 0x3f (status 127) if it
 * cannot find the register, so a missing table fails the test.
 */
	.section .note.Xen, "a"
	.p2align 2
	.long 4, 4, 18
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov 32(%ebx), %esi		/* hvm_start_info.rsdp_paddr */
	test %esi, %esi
	jz fail
	cmpl $0x20445352, (%esi)	/* "RSD " */
	jne fail
	mov 24(%esi), %esi		/* RSDP.xsdt_address (low half) */
	mov 4(%esi), %ecx		/* XSDT.length */
	sub $36, %ecx
	shr $3, %ecx			/* number of entries */
	lea 36(%esi), %edi
1:	test %ecx, %ecx
	jz fail
	mov (%edi), %eax		/* entry (low half) */
	cmpl $0x50434146, (%eax)	/* "FACP" */
	je found
	add $8, %edi
	dec %ecx
	jmp 1b
found:
	cmpb $1, 244(%eax)		/* sleep_control.space_id: SystemIO */
	jne fail
	mov 248(%eax), %edx		/* sleep_control.address */
	mov $0x34, %al			/* SLP_TYP 5 << 2 | SLP_EN */
	out %al, %dx
2:	jmp 2b				/* the VM must be gone by now */
fail:
	mov $0x3f, %al
	out %al, $0xf4
3:	jmp 3b
