/* SPDX-License-Identifier: MIT */
#include "irq/irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

static void irq_add_irqchip(struct irq_router *r, unsigned gsi, unsigned chip,
			    unsigned pin)
{
	struct kvm_irq_routing_entry *e = &r->routes[r->nr++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* Hand the whole table to KVM (KVM_SET_GSI_ROUTING replaces it). Caller
 * holds r->lock. */
static int irq_commit(struct irq_router *r)
{
	size_t size = sizeof(struct kvm_irq_routing) +
		      r->nr * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *t = malloc(size);
	int ret = 0;

	if (!t)
		return -ENOMEM;
	t->nr = r->nr;
	t->flags = 0;
	memcpy(t->entries, r->routes, r->nr * sizeof(r->routes[0]));
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0) {
		ret = -errno;
		pr_err("KVM_SET_GSI_ROUTING: %s", strerror(errno));
	}
	free(t);
	return ret;
}

int irq_router_init(struct irq_router *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->next_gsi = IRQ_LEGACY_GSIS;
	if (pthread_mutex_init(&r->lock, NULL))
		return -ENOMEM;
	/* The same table KVM starts with (irq_comm.c default_routing):
	 * GSIs 0-15 on the I/O APIC and the 8259s, 16-23 on the I/O APIC. */
	for (unsigned gsi = 0; gsi < IRQ_LEGACY_GSIS; gsi++) {
		irq_add_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC, gsi);
		if (gsi < 16)
			irq_add_irqchip(r, gsi,
					gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						: KVM_IRQCHIP_PIC_SLAVE,
					gsi % 8);
	}
	/* Not committed: it equals KVM's own until the first MSI route,
	 * and every KVM_SET_GSI_ROUTING costs an SRCU grace period. */
	return 0;
}

void irq_router_destroy(struct irq_router *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_msi_alloc(struct irq_router *r, unsigned *gsi)
{
	struct kvm_irq_routing_entry *e;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->nr == IRQ_MAX_ROUTES) {
		ret = -ENOSPC;
	} else {
		e = &r->routes[r->nr++];
		memset(e, 0, sizeof(*e));
		e->gsi = r->next_gsi++;
		e->type = KVM_IRQ_ROUTING_MSI;
		*gsi = e->gsi;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_msi_set(struct irq_router *r, unsigned gsi, uint64_t addr,
		uint32_t data)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr; i++) {
		struct kvm_irq_routing_entry *e = &r->routes[i];

		if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		if (e->u.msi.address_lo == (uint32_t)addr &&
		    e->u.msi.address_hi == (uint32_t)(addr >> 32) &&
		    e->u.msi.data == data) {
			ret = 0; /* unchanged: skip the SRCU-synchronised ioctl */
			break;
		}
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		ret = irq_commit(r);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_irqfd_attach(int vm_fd, int efd, unsigned gsi)
{
	struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = gsi};

	if (ioctl(vm_fd, KVM_IRQFD, &f) < 0) {
		pr_err("KVM_IRQFD gsi %u: %s", gsi, strerror(errno));
		return -errno;
	}
	return 0;
}

int irq_irqfd_detach(int vm_fd, int efd, unsigned gsi)
{
	struct kvm_irqfd f = {.fd = (uint32_t)efd,
			      .gsi = gsi,
			      .flags = KVM_IRQFD_FLAG_DEASSIGN};

	return ioctl(vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}
