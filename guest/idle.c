/* SPDX-License-Identifier: MIT */
/*
 * idle: prints one line, then halts with interrupts off (cli; hlt) for
 * good. KVM parks the vCPU thread until something stops the VM, so the
 * guest costs no CPU: the density benchmark's guest. Only the VMM (quit,
 * a signal) ends it; Ctrl-Alt-Del does nothing.
 */
#include "rt.h"

int main(void)
{
	printf("idle: halting\n");
	sys_halt();
}
