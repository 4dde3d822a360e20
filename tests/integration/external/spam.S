/*
 * A PVH guest that writes to COM1 forever, in 32-bit ring 0 with no set-up
 * at all: used to check that a console nobody reads cannot make the VMM
 * unstoppable.
 */
	.section .note.Xen, "a"
	.p2align 2
	.long 4, 4, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov $0x3f8, %dx
	mov $'x', %al
1:	out %al, %dx
	jmp 1b
