/*
 * A minimal PVH guest that shares no code with berth's guest kit: an ELF32
 * image with a 4-byte XEN_ELFNOTE_PHYS32_ENTRY note, as small hand-written
 * PVH kernels are. In 32-bit ring 0 with paging off it checks the
 * hvm_start_info magic in EBX, prints the command line to COM1 and exits
 * through port 0xf4 with 0x2a (status 85), or 0x3f (status 127) on a bad
 * magic.
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
	mov $stack_top, %esp
	cmpl $0x336ec578, (%ebx)	/* hvm_start_info.magic */
	jne bad_magic
	mov $hello, %esi
	call puts
	mov 24(%ebx), %esi		/* cmdline_paddr (low half) */
	call puts
	mov $newline, %esi
	call puts
	mov $0x2a, %al
	jmp done
bad_magic:
	mov $0x3f, %al
done:
	mov $0xf4, %dx
	out %al, %dx
1:	hlt
	jmp 1b

puts:					/* print the NUL-terminated string at esi */
	mov $0x3f8, %dx
2:	lodsb
	test %al, %al
	jz 3f
	out %al, %dx
	jmp 2b
3:	ret

	.section .rodata
hello:	.asciz "external pvh32 guest, cmdline: "
newline: .asciz "\n"

	.bss
	.p2align 4
	.skip 4096
stack_top:
