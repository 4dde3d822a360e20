/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci transport, modern (1.x) only (virtio 1.2, 4.1): vendor
 * capabilities for the common, notify, ISR, device and PCI-config-access
 * structures in BAR 0; MSI-X with its table and PBA in BAR 0; queue
 * notifications on ioeventfds; interrupts on irqfds; one I/O thread per
 * device.
 */
#ifndef BERTH_VIRTIO_VIRTIO_PCI_H
#define BERTH_VIRTIO_VIRTIO_PCI_H

#include "irq/irq.h"
#include "pci/pci.h"
#include "virtio/virtio.h"

/* What the transport needs from the VM. */
struct virtio_pci_env {
	int vm_fd;
	struct pci_host *pci;
	struct irq_router *irq;
	const struct guest_mem *mem;
};

struct virtio_pci;

/* Put device d (filled in by its own init function) on the PCI bus and
 * start its I/O thread. */
int virtio_pci_create(const struct virtio_pci_env *env, struct virtio_dev *d,
		      struct virtio_pci **out)
	__attribute__((warn_unused_result));

/* Stop the I/O thread and release what virtio_pci_create made. */
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
