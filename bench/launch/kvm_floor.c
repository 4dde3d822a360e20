/* SPDX-License-Identifier: MIT */
/*
 * kvm_floor: the least a VMM can do to launch and tear down a VM.
 *
 * Opens /dev/kvm, creates a VM with one 2 MiB memory slot and one vCPU,
 * runs three guest instructions in 32-bit protected mode with flat
 * segments (mov $0x0b, %al; out %al, $0xf4; hlt), stops at the port 0xf4
 * I/O exit and exits. Everything else a VMM does costs more than this.
 *
 * Exit status: 0 when the guest wrote 0x0b to port 0xf4, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_SIZE  (2UL << 20)
#define CODE_ADDR 0x1000UL

static void die(const char *what)
{
	fprintf(stderr, "kvm_floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int ret = ioctl(fd, req, arg);

	if (ret < 0)
		die(what);
	return ret;
}

/* A flat 4 GiB segment with the given type, as KVM_SET_SREGS takes it. */
static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = 1,
		.s = 1,
		.g = 1,
	};
}

/* With --irqchip, also create what berth must: an in-kernel irqchip and
 * PIT (after the memory slot, as berth does). */
int main(int argc, char **argv)
{
	bool irqchip = argc > 1 && !strcmp(argv[1], "--irqchip");
	static const uint8_t code[] = {
		0xb0, 0x0b, /* mov $0x0b, %al */
		0xe6, 0xf4, /* out %al, $0xf4 */
		0xf4,	    /* hlt */
	};
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int kvm, vm, vcpu, run_size;
	uint8_t *ram;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	vm = xioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap");
	memcpy(ram + CODE_ADDR, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = RAM_SIZE,
		.userspace_addr = (uintptr_t)ram,
	};
	xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region,
	       "KVM_SET_USER_MEMORY_REGION");
	if (irqchip) {
		struct kvm_pit_config pit = {.flags = 0};

		xioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
		xioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	}

	vcpu = xioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0,
			  "KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	flat_segment(&sregs.cs, 0x08, 0xb); /* code: execute/read, accessed */
	flat_segment(&sregs.ds, 0x10, 0x3); /* data: read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x11; /* PE, ET */
	xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_ADDR;
	regs.rflags = 0x2;
	xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0xf4 &&
		    run->io.direction == KVM_EXIT_IO_OUT)
			return *((uint8_t *)run + run->io.data_offset) == 0x0b
				       ? 0
				       : 1;
		fprintf(stderr, "kvm_floor: unexpected exit reason %u\n",
			run->exit_reason);
		return 1;
	}
}
