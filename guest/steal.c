/* SPDX-License-Identifier: MIT */
/*
 * steal: KVM steal time seen from the guest. Looks for the KVM signature and
 * KVM_FEATURE_STEAL_TIME in the CPUID leaves the VMM set (read in ring 0:
 * on PVM hosts ring-3 CPUID is the host's own), hands the host a 64-byte
 * struct kvm_steal_time through MSR_KVM_STEAL_TIME, burns CPU in ring 3 for
 * secs=S (default 3) and prints "steal: t=Ns steal_ns=N" once a second.
 * Exit: PASS if the host kept the struct up to date; 2 (status 5) if the
 * feature is not offered; 3 (status 7) if it is but the host never wrote
 * the struct. A host that refuses the MSR raises #GP (status 253).
 */
#include "rt.h"

#define KVM_CPUID_SIGNATURE    0x40000000
#define KVM_CPUID_FEATURES     0x40000001
#define KVM_FEATURE_STEAL_TIME 5
#define MSR_KVM_STEAL_TIME     0x4b564d03
#define KVM_MSR_ENABLED	       1
#define EXIT_NOT_OFFERED       2
#define EXIT_NEVER_WRITTEN     3

/* The layout KVM writes (Documentation/virt/kvm/x86/msr.rst). */
struct kvm_steal_time {
	uint64_t steal; /* ns the vCPU was runnable but not running */
	uint32_t version;
	uint32_t flags;
	uint8_t preempted;
	uint8_t pad8[3];
	uint32_t pad[11];
};

static struct kvm_steal_time st __attribute__((aligned(64)));

/* The host makes version odd, writes, then makes it even again: retry
 * until a read saw the same even version on both sides. */
static uint64_t steal_read(uint32_t *version)
{
	uint32_t v;
	uint64_t s;

	do {
		v = __atomic_load_n(&st.version, __ATOMIC_ACQUIRE);
		s = __atomic_load_n(&st.steal, __ATOMIC_RELAXED);
		rmb();
	} while ((v & 1) ||
		 v != __atomic_load_n(&st.version, __ATOMIC_ACQUIRE));
	*version = v;
	return s;
}

/* The KVM leaves as the VMM set them: signature, then the feature bits. */
static void check_kvm_leaves(void)
{
	uint32_t r[4], native[4], sig[4] = {0};

	sys_cpuid(KVM_CPUID_SIGNATURE, 0, r);
	sig[0] = r[1];
	sig[1] = r[2];
	sig[2] = r[3];
	if (memcmp(sig, "KVMKVMKVM\0\0\0", 12) || r[0] < KVM_CPUID_FEATURES) {
		printf("steal: no KVM signature in CPUID 0x40000000 (\"%s\", "
		       "max leaf 0x%x)\n",
		       (char *)sig, r[0]);
		exit_code(EXIT_NOT_OFFERED);
	}
	sys_cpuid(KVM_CPUID_FEATURES, 0, r);
	cpuid(KVM_CPUID_FEATURES, 0, native);
	printf("steal: KVM features 0x%x (ring-3 CPUID, the host CPU's on "
	       "PVM: 0x%x)\n",
	       r[0], native[0]);
	if (!(r[0] & 1U << KVM_FEATURE_STEAL_TIME)) {
		printf("steal: KVM_FEATURE_STEAL_TIME is not offered\n");
		exit_code(EXIT_NOT_OFFERED);
	}
}

int main(void)
{
	long secs = cmdline_int("secs", 3);
	uint64_t start, tick, steal, last = 0, x = 1;
	uint32_t version = 0;

	if (secs < 1)
		test_fail("secs=%ld: want at least 1", secs);
	check_kvm_leaves();
	printf("steal: MSR_KVM_STEAL_TIME <- %p | enabled\n", (void *)&st);
	sys_wrmsr(MSR_KVM_STEAL_TIME, (uintptr_t)&st | KVM_MSR_ENABLED);
	tick = tsc_khz() * 1000;
	start = rdtsc();
	for (unsigned t = 1; t <= (unsigned long)secs; t++) {
		while (rdtsc() - start < t * tick) {
			x = x * 6364136223846793005ULL + 1;
			asm volatile("" : "+r"(x));
		}
		steal = steal_read(&version);
		printf("steal: t=%us steal_ns=%lu version=%u\n", t, steal,
		       version);
		if (steal < last)
			test_fail("steal went back from %lu to %lu", last,
				  steal);
		last = steal;
	}
	if (!version) {
		printf("steal: the host never wrote struct kvm_steal_time\n");
		exit_code(EXIT_NEVER_WRITTEN);
	}
	test_pass();
}
