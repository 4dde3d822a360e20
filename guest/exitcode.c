/* SPDX-License-Identifier: MIT */
/*
 * exitcode: exit at once with cmdline "code=N" (default 0). The launch
 * benchmark guest: no output, no TSC calibration, no APs, no syscalls; its
 * only exit is the write to the debug-exit port.
 */
#include "rt.h"

int main(void)
{
	exit_code((unsigned)cmdline_int("code", 0));
}
