/* SPDX-License-Identifier: MIT */
/* hello: the smallest useful guest. Prints a greeting and its command line. */
#include "rt.h"

int main(void)
{
	printf("Hello from a berth test guest\n");
	printf("cmdline: \"%s\"\n", cmdline());
	test_pass();
}
