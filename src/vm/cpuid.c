/* SPDX-License-Identifier: MIT */
/* CPUID for each vCPU: what KVM supports, with per-vCPU APIC IDs and a
 * topology of one package holding nr_vcpus single-threaded cores. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vm/vm.h"

#define CPUID_MAX_ENTRIES 512

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	size_t size = sizeof(struct kvm_cpuid2) +
		      CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, size);

	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int err = errno;

		pr_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(err));
		free(c);
		return -err;
	}
	*out = c;
	return 0;
}

/* Bits needed to number n items (ceil(log2(n))). */
static unsigned order_of(unsigned n)
{
	unsigned bits = 0;

	while ((1U << bits) < n)
		bits++;
	return bits;
}

/* Leaves not named here pass through as KVM offers them; among them the
 * KVM leaves (0x40000000 signature, 0x40000001 features): kvmclock, and
 * steal time (KVM_FEATURE_STEAL_TIME), with which a guest sees what the
 * host's CPU sharing (--cpu-weight, --cpu-cap, --cpu-pin) takes from it. */
static void cpuid_patch_entry(struct kvm_cpuid_entry2 *e, unsigned id,
			      unsigned nr)
{
	unsigned ids = 1U << order_of(nr);

	switch (e->function) {
	case 1:
		/* EBX[31:24] initial APIC ID, [23:16] addressable logical
		 * processor IDs in the package: a power of two (Intel SDM). */
		e->ebx = (e->ebx & 0xffff) | (id << 24) | (ids << 16);
		if (nr > 1)
			e->edx |= 1U << 28; /* HTT: the field above is valid */
		e->ecx |= 1U << 31;	    /* running under a hypervisor */
		break;
	case 4: /* Intel: EAX[31:26] core IDs - 1, [25:14] IDs sharing the
		 * cache - 1: L1 and L2 per core, L3 and beyond shared. */
		e->eax = (e->eax & 0x3fff) | ((ids - 1) << 26) |
			 (((e->eax >> 5 & 7) >= 3 ? ids - 1 : 0) << 14);
		break;
	case 0xb:
	case 0x1f: /* x2APIC topology: SMT level, then core level */
		e->edx = id;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1U << 8) | 0;
		} else if (e->index == 1) {
			e->eax = order_of(nr);
			e->ebx = nr;
			e->ecx = (2U << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000008: /* AMD: ECX[15:12] APIC ID bits, [7:0] cores - 1 */
		e->ecx = (e->ecx & ~0xf0ffU) | (order_of(nr) << 12) | (nr - 1);
		break;
	case 0x8000001e: /* AMD: extended APIC ID, one thread per core */
		e->eax = id;
		e->ebx = id & 0xff;
		e->ecx = 0;
		break;
	}
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported,
				  unsigned id, unsigned nr_vcpus)
{
	size_t size = sizeof(*supported) +
		      supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);

	if (!c)
		return NULL;
	memcpy(c, supported, size);
	for (unsigned i = 0; i < c->nent; i++)
		cpuid_patch_entry(&c->entries[i], id, nr_vcpus);
	return c;
}
