/* SPDX-License-Identifier: MIT */
/* Per-vCPU CPUID: APIC IDs and topology patched into KVM's table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <asm/kvm_para.h>
#include <cmocka.h>

#include "vm/vm.h"

static struct kvm_cpuid2 *fake_supported(void)
{
	static const struct kvm_cpuid_entry2 e[] = {
		{.function = 1, .ebx = 0x00000800, .ecx = 0x1, .edx = 0x1},
		{.function = 4, .index = 0, .eax = 0x121}, /* L1 data */
		{.function = 4, .index = 3, .eax = 0x163}, /* L3 unified */
		{.function = 0xb, .index = 0},
		{.function = 0xb, .index = 1},
		{.function = 0xb, .index = 2},
		{.function = 0x80000008, .ecx = 0xffff},
		{.function = 0x8000001e, .eax = 7, .ebx = 7},
		{.function = 0x40000000,
		 .eax = 0x40000001,
		 .ebx = 0x4b4d564b,
		 .ecx = 0x564b4d56,
		 .edx = 0x4d},
		{.function = 0x40000001, .eax = 0x1007efb}, /* PVM host's */
	};
	size_t n = sizeof(e) / sizeof(e[0]);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sizeof(e));

	c->nent = n;
	memcpy(c->entries, e, sizeof(e));
	return c;
}

static const struct kvm_cpuid_entry2 *leaf(const struct kvm_cpuid2 *c,
					   uint32_t fn, uint32_t idx)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	fail();
	return NULL;
}

static void test_three_vcpus(void **state)
{
	struct kvm_cpuid2 *sup = fake_supported();
	struct kvm_cpuid2 *c = cpuid_for_vcpu(sup, 2, 3);

	(void)state;
	assert_int_equal(leaf(c, 1, 0)->ebx >> 24, 2);	      /* APIC ID */
	assert_int_equal(leaf(c, 1, 0)->ebx >> 16 & 0xff, 4); /* 2^ceil */
	assert_int_equal(leaf(c, 1, 0)->ebx & 0xffff, 0x800); /* kept */
	assert_true(leaf(c, 1, 0)->edx & 1U << 28);	      /* HTT */
	assert_true(leaf(c, 1, 0)->ecx & 1U << 31);	      /* hypervisor */
	assert_int_equal(leaf(c, 4, 0)->eax >> 26, 3);
	assert_int_equal(leaf(c, 4, 0)->eax >> 14 & 0xfff, 0); /* per core */
	assert_int_equal(leaf(c, 4, 3)->eax >> 14 & 0xfff, 3); /* shared */
	assert_int_equal(leaf(c, 4, 3)->eax & 0x3fff, 0x163);
	assert_int_equal(leaf(c, 0xb, 0)->ebx, 1); /* one thread per core */
	assert_int_equal(leaf(c, 0xb, 1)->ebx, 3); /* three cores */
	assert_int_equal(leaf(c, 0xb, 1)->eax, 2); /* APIC ID shift */
	assert_int_equal(leaf(c, 0xb, 1)->edx, 2);
	assert_int_equal(leaf(c, 0xb, 2)->ecx >> 8 & 0xff, 0); /* invalid */
	assert_int_equal(leaf(c, 0x80000008, 0)->ecx & 0xff, 2);
	assert_int_equal(leaf(c, 0x8000001e, 0)->eax, 2);
	assert_int_equal(leaf(c, 0x40000000, 0)->ebx, 0x4b4d564b);
	/* The supported table itself is untouched. */
	assert_int_equal(leaf(sup, 1, 0)->ebx, 0x800);
	free(c);
	free(sup);
}

static void test_one_vcpu(void **state)
{
	struct kvm_cpuid2 *sup = fake_supported();
	struct kvm_cpuid2 *c = cpuid_for_vcpu(sup, 0, 1);

	(void)state;
	assert_int_equal(leaf(c, 1, 0)->ebx >> 16 & 0xff, 1);
	assert_false(leaf(c, 1, 0)->edx & 1U << 28);
	assert_int_equal(leaf(c, 4, 3)->eax >> 26, 0);
	assert_int_equal(leaf(c, 0xb, 1)->eax, 0);
	free(c);
	free(sup);
}

/* Every vCPU gets KVM's paravirt leaves as offered: the signature, and the
 * feature bits with steal time among them. */
static void test_kvm_leaves(void **state)
{
	struct kvm_cpuid2 *sup = fake_supported();

	(void)state;
	for (unsigned id = 0; id < 3; id++) {
		struct kvm_cpuid2 *c = cpuid_for_vcpu(sup, id, 3);
		const struct kvm_cpuid_entry2 *s =
			leaf(c, KVM_CPUID_SIGNATURE, 0);
		const struct kvm_cpuid_entry2 *f =
			leaf(c, KVM_CPUID_FEATURES, 0);

		assert_int_equal(s->eax, KVM_CPUID_FEATURES);
		assert_memory_equal(&s->ebx, "KVMK", 4);
		assert_memory_equal(&s->ecx, "VMKV", 4);
		assert_memory_equal(&s->edx, "M\0\0\0", 4);
		assert_true(f->eax & 1U << KVM_FEATURE_STEAL_TIME);
		assert_int_equal(f->eax, 0x1007efb);
		free(c);
	}
	free(sup);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_vcpus),
		cmocka_unit_test(test_one_vcpu),
		cmocka_unit_test(test_kvm_leaves),
	};

	return cmocka_run_group_tests_name("cpuid", tests, NULL, NULL);
}
