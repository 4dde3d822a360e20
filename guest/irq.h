/* SPDX-License-Identifier: MIT */
/*
 * Interrupts for drivers that want them (virtio irq=1): the guest keeps
 * IF=0 in ring 3 and takes interrupts only while halted in SYS_WAIT_IRQ,
 * so there are no handlers to race with; ring 0 counts device interrupts
 * (VEC_IRQ) and EOIs the local APIC.
 */
#ifndef GUEST_IRQ_H
#define GUEST_IRQ_H

#include "rt.h"

/* Once: mask the 8259 PICs and LINT0, software-enable the local APIC and
 * make its timer one-shot on VEC_TIMER. */
void irq_setup(void);
/* Halt until an interrupt arrives or about max_us pass. */
void irq_wait(uint64_t max_us);
/* Device interrupts (VEC_IRQ) taken so far. */
uint64_t irq_count(void);
/* MSI address and data that deliver VEC_IRQ to this CPU (fixed, edge). */
uint32_t msi_address(void);
uint32_t msi_data(void);

#endif
