/* SPDX-License-Identifier: MIT */
/*
 * fault: make the guest fail in the way cmdline "mode=" asks, for testing a
 * VMM's error paths:
 *   triple         ring 0 faults with an empty IDT: the VMM sees a shutdown
 *   pf             ring 3 reads an unmapped address: exception exit (0x7e)
 *   unbacked-read  ring 3 reads 0xD0000000 (mapped, no RAM or device behind
 *                  it), prints the value (expected 0xffffffff), exits with 3
 *   unbacked-exec  ring 3 jumps to 0xD0000000: nothing to fetch, the VMM must
 *                  report a guest failure
 */
#include "rt.h"

#define UNMAPPED	   0x4000000000UL /* 256 GiB: beyond the 4 GiB mapped */
#define UNBACKED	   0xd0000000UL
#define EXIT_UNBACKED_READ 3

int main(void)
{
	char mode[32] = "";

	cmdline_get("mode", mode, sizeof(mode));
	if (!strcmp(mode, "triple")) {
		printf("fault: triple fault from ring 0\n");
		sys_triple_fault();
	}
	if (!strcmp(mode, "pf")) {
		printf("fault: ring 3 reads unmapped 0x%lx\n", UNMAPPED);
		test_fail("read returned 0x%x", *(volatile uint32_t *)UNMAPPED);
	}
	if (!strcmp(mode, "unbacked-read")) {
		printf("fault: ring 3 reads unbacked 0x%lx\n", UNBACKED);
		printf("fault: read 0x%x\n", *(volatile uint32_t *)UNBACKED);
		exit_code(EXIT_UNBACKED_READ);
	}
	if (!strcmp(mode, "unbacked-exec")) {
		printf("fault: ring 3 jumps to unbacked 0x%lx\n", UNBACKED);
		((void (*)(void))UNBACKED)();
		test_fail("returned from unbacked memory");
	}
	test_fail("mode=%s: want triple, pf, unbacked-read or unbacked-exec",
		  mode);
}
