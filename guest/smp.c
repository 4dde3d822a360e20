/* SPDX-License-Identifier: MIT */
/*
 * smp: start every AP, have each report in, and check the count against
 * cmdline "cpus=N" when given.
 */
#include "rt.h"

#define TIMEOUT_MS 5000

static unsigned reported;

void ap_main(unsigned cpu)
{
	printf("cpu %u apic %u online\n", cpu, cpu_apic_id());
	__atomic_fetch_add(&reported, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	long want = cmdline_int("cpus", 0);
	const char *source;
	uint64_t end;
	unsigned n;

	printf("cpu 0 apic %u online\n", cpu_apic_id());
	n = smp_boot(TIMEOUT_MS, &source);
	/* Online APs print before the summary, so wait for their lines. */
	end = tsc_deadline(TIMEOUT_MS * 1000);
	while (__atomic_load_n(&reported, __ATOMIC_SEQ_CST) < n - 1 &&
	       (int64_t)(rdtsc() - end) < 0)
		cpu_relax();
	printf("smp: CPUs listed by: %s\n", source);
	printf("smp: %u cpus online\n", n);
	if (want > 0 && n != (unsigned long)want)
		test_fail("%u cpus online, cmdline asks for %ld", n, want);
	test_pass();
}
