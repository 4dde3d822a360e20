/* SPDX-License-Identifier: MIT */
/*
 * Interrupt routing through KVM: the GSI routing table (the legacy irqchip
 * pins plus one MSI route per device vector) and irqfds, so devices raise
 * interrupts by writing an eventfd and never exit to berth to do it.
 */
#ifndef BERTH_IRQ_IRQ_H
#define BERTH_IRQ_IRQ_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#define IRQ_LEGACY_GSIS	 24 /* I/O APIC pins; 0-15 also on the 8259s */
#define IRQ_MAX_ROUTES	 1024
#define IRQ_MAX_MSI_GSIS (IRQ_MAX_ROUTES - IRQ_LEGACY_GSIS - 16)

struct irq_router {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned next_gsi;
	unsigned nr;
	struct kvm_irq_routing_entry routes[IRQ_MAX_ROUTES];
};

/* Start berth's copy of KVM's default routes (GSI n to I/O APIC pin n, and
 * to the 8259s for n < 16), so MSI routes can be added to it. */
int irq_router_init(struct irq_router *r, int vm_fd)
	__attribute__((warn_unused_result));

/* Free the lock. */
void irq_router_destroy(struct irq_router *r);

/* Reserve a GSI for an MSI route; it delivers nothing until irq_msi_set. */
int irq_msi_alloc(struct irq_router *r, unsigned *gsi)
	__attribute__((warn_unused_result));

/* Point gsi at the MSI message (address, data) and update KVM's table. */
int irq_msi_set(struct irq_router *r, unsigned gsi, uint64_t addr,
		uint32_t data) __attribute__((warn_unused_result));

/* Make writes to eventfd efd inject gsi (KVM_IRQFD). */
int irq_irqfd_attach(int vm_fd, int efd, unsigned gsi)
	__attribute__((warn_unused_result));

/* Undo irq_irqfd_attach. */
int irq_irqfd_detach(int vm_fd, int efd, unsigned gsi);

#endif
