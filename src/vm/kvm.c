/* SPDX-License-Identifier: MIT */
/* Opening /dev/kvm and checking that it offers what berth relies on. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"
#include "vm/vm.h"

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{KVM_CAP_USER_MEMORY, "USER_MEMORY"},
	{KVM_CAP_IRQCHIP, "IRQCHIP"},
	{KVM_CAP_PIT2, "PIT2"},
	{KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "SET_IDENTITY_MAP_ADDR"},
	{KVM_CAP_EXT_CPUID, "EXT_CPUID"},
	{KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
	{KVM_CAP_IOEVENTFD, "IOEVENTFD"},
	{KVM_CAP_IRQFD, "IRQFD"},
	{KVM_CAP_MP_STATE, "MP_STATE"},
};

int kvm_open_checked(int *kvm_fd)
{
	int fd, version;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err == ENOENT)
			pr_err("no /dev/kvm: is KVM loaded (modprobe "
			       "kvm_intel, kvm_amd or kvm_pvm)?");
		else
			pr_err("cannot open /dev/kvm: %s: are you allowed to "
			       "open it (group kvm)?",
			       strerror(err));
		return -err;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		pr_err("/dev/kvm speaks API version %d, berth needs %d",
		       version, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]);
	     i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			pr_err("KVM lacks capability KVM_CAP_%s, which berth "
			       "needs",
			       required_caps[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	*kvm_fd = fd;
	return 0;
}
