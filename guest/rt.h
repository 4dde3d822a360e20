/* SPDX-License-Identifier: MIT */
/*
 * Runtime for berth test guests. A guest is a ring-3 program: start.S sets up
 * long mode and calls main() in ring 3 with port I/O allowed on every port
 * and the first 4 GiB identity mapped (page 0 excluded). Ring 3 runs natively
 * on PVM hosts while ring 0 is emulated, so everything here runs in ring 3
 * and asks ring 0 (int $4, see layout.h) only for what needs privilege.
 *
 * Exit status under QEMU (isa-debug-exit): value v gives status 2v + 1.
 */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define EXIT_PASS 0 /* test_pass(): QEMU status 1 */
#define EXIT_FAIL 1 /* test_fail(): QEMU status 3 */

#define COM1		0x3f8
#define DEBUG_EXIT_IO	0xf4
#define LAPIC_BASE	0xfee00000UL
#define HVM_START_MAGIC 0x336ec578

#define __noreturn     __attribute__((noreturn))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 RAM, 2 reserved, 3 ACPI, 4 NVS */
	uint32_t reserved;
};

/* The guest's program, run on the BSP; its return value goes to exit_code. */
int main(void);
/* Optional (weak): runs in ring 3 on each AP that smp_boot() starts. */
void ap_main(unsigned cpu);

/* A pointer to physical address pa (identity mapped below 4 GiB). The asm
 * hides the constant from gcc, which warns about small constant addresses. */
static inline void *phys(uint64_t pa)
{
	asm("" : "+r"(pa));
	return (void *)pa;
}

/* Write a byte to an I/O port (Linux argument order: value, port). */
static inline void outb(uint8_t v, uint16_t port)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* Write a 32-bit value to an I/O port. */
static inline void outl(uint32_t v, uint16_t port)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* Read a byte from an I/O port. */
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Read a 32-bit value from an I/O port. */
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Write a 16-bit value to an I/O port. */
static inline void outw(uint16_t v, uint16_t port)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

/* Read a 16-bit value from an I/O port. */
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/*
 * MMIO accessors: one plain mov of the given width each, so that the VMM
 * (or KVM's instruction emulator) sees exactly the access the device model
 * expects - virtio, for one, requires each field's natural width.
 */
static inline uint8_t readb(const volatile void *a)
{
	uint8_t v;

	asm volatile("movb %1, %0"
		     : "=q"(v)
		     : "m"(*(const volatile uint8_t *)a)
		     : "memory");
	return v;
}

static inline uint16_t readw(const volatile void *a)
{
	uint16_t v;

	asm volatile("movw %1, %0"
		     : "=r"(v)
		     : "m"(*(const volatile uint16_t *)a)
		     : "memory");
	return v;
}

static inline uint32_t readl(const volatile void *a)
{
	uint32_t v;

	asm volatile("movl %1, %0"
		     : "=r"(v)
		     : "m"(*(const volatile uint32_t *)a)
		     : "memory");
	return v;
}

static inline void writeb(uint8_t v, volatile void *a)
{
	asm volatile("movb %1, %0"
		     : "=m"(*(volatile uint8_t *)a)
		     : "q"(v)
		     : "memory");
}

static inline void writew(uint16_t v, volatile void *a)
{
	asm volatile("movw %1, %0"
		     : "=m"(*(volatile uint16_t *)a)
		     : "r"(v)
		     : "memory");
}

static inline void writel(uint32_t v, volatile void *a)
{
	asm volatile("movl %1, %0"
		     : "=m"(*(volatile uint32_t *)a)
		     : "r"(v)
		     : "memory");
}

/*
 * Barriers for memory shared with a device (x86: stores are not reordered
 * with stores nor loads with loads, so those two only stop the compiler; a
 * store followed by a load needs a locked instruction).
 */
#define barrier() asm volatile("" ::: "memory")
#define wmb()	  barrier()
#define rmb()	  barrier()
#define mb()	  asm volatile("lock; orl $0, (%%rsp)" ::: "memory", "cc")

/* Read the time-stamp counter (native in ring 3). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Execute CPUID leaf/subleaf; r[] gets eax, ebx, ecx, edx. */
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	asm volatile("cpuid"
		     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(leaf), "c"(sub));
}

/* Spin-wait hint. */
static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

/* Ask ring 0 for syscall nr (layout.h); clobbers caller-saved registers. */
static inline uint64_t syscall3(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t ret;

	asm volatile("int %[vec]"
		     : "=a"(ret), "+D"(nr), "+S"(a), "+d"(b), "+c"(c)
		     : [vec] "i"(VEC_SYSCALL)
		     : "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}

/* Halt this CPU for good (ring 0 cli; hlt). */
static inline __noreturn void sys_halt(void)
{
	syscall3(SYS_HALT, 0, 0, 0);
	__builtin_unreachable();
}

/* Load an empty IDT in ring 0 and fault: the VMM sees a triple fault. */
static inline __noreturn void sys_triple_fault(void)
{
	syscall3(SYS_TRIPLE_FAULT, 0, 0, 0);
	__builtin_unreachable();
}

/* Read control register CRn (n = 0, 2, 3, 4). */
static inline uint64_t sys_read_cr(unsigned n)
{
	return syscall3(SYS_READ_CR, n, 0, 0);
}

/* Read an MSR (an unknown MSR raises #GP: exception exit). */
static inline uint64_t sys_rdmsr(uint32_t msr)
{
	return syscall3(SYS_RDMSR, msr, 0, 0);
}

/* Write an MSR. */
static inline void sys_wrmsr(uint32_t msr, uint64_t v)
{
	syscall3(SYS_WRMSR, msr, v, 0);
}

/* Read a local APIC register (offset from 0xfee00000) in ring 0. */
static inline uint32_t sys_lapic_read(uint32_t reg)
{
	return (uint32_t)syscall3(SYS_LAPIC_READ, reg, 0, 0);
}

/* Write a local APIC register in ring 0. */
static inline void sys_lapic_write(uint32_t reg, uint32_t v)
{
	syscall3(SYS_LAPIC_WRITE, reg, v, 0);
}

/* Send an IPI: ICR high = apic_id << 24, then ICR low = icr_lo. */
static inline void sys_send_ipi(uint32_t apic_id, uint32_t icr_lo)
{
	syscall3(SYS_SEND_IPI, apic_id, icr_lo, 0);
}

/* Write a paging-structure entry (e.g. to link in a page table that ring 3
 * filled while nothing pointed to it) and reload CR3. */
static inline void sys_set_pte(uint64_t *entry, uint64_t v)
{
	syscall3(SYS_SET_PTE, (uintptr_t)entry, v, 0);
}

/* Halt with interrupts on until one arrives, or until the LAPIC timer
 * (set up by the caller, one-shot) counts down from count (0: no timer). */
static inline void sys_wait_irq(uint32_t count)
{
	syscall3(SYS_WAIT_IRQ, count, 0, 0);
}

/* CPUID executed in ring 0, where the VMM's table (KVM_SET_CPUID2) applies.
 * On PVM hosts ring-3 CPUID runs natively and shows the host's leaves. */
static inline void sys_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	syscall3(SYS_CPUID, (uint64_t)sub << 32 | leaf, (uintptr_t)r, 0);
}

/* A test-and-set lock for ring-3 code on several CPUs. */
typedef struct {
	int locked;
} spinlock_t;

/* Take the lock, spinning. */
static inline void spin_lock(spinlock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}

/* Release the lock. */
static inline void spin_unlock(spinlock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* Freestanding string functions (gcc may also call the mem* ones). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Format into buf (%d %i %u %x %X %s %c %p %%, l/ll/z, width, 0 and -). */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/* Format into buf; returns the length the full output would have. */
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
/* Print to COM1, one call's output kept whole across CPUs (255 bytes max). */
int printf(const char *fmt, ...) __printf(1, 2);
/* Write n bytes to COM1 without the lock ('\n' becomes "\r\n"). */
void serial_write(const char *s, size_t n);
/* Read a byte from COM1, or -1 if none arrives within timeout_us. */
int serial_getc(uint64_t timeout_us);

/* Write v to the debug-exit port (QEMU: status 2v + 1); halts if that fails. */
__noreturn void exit_code(unsigned v);
/* Reset through the i8042 (0xfe to port 0x64); falls back to exit_code(0). */
__noreturn void reset(void);
/* Print "PASS" and exit_code(EXIT_PASS). */
__noreturn void test_pass(void);
/* Print "FAIL: <message>" and exit_code(EXIT_FAIL). */
__noreturn void test_fail(const char *fmt, ...) __printf(1, 2);

/* The hvm_start_info from the PVH entry, or NULL if its magic is wrong. */
const struct hvm_start_info *start_info(void);
/* The kernel command line ("" if none). */
const char *cmdline(void);
/* Copy the value of word "key=value" ("" for a bare "key"); false if absent. */
bool cmdline_get(const char *key, char *val, size_t size);
/* The value of "key=N" (decimal or 0x hex), or def if absent or malformed. */
long cmdline_int(const char *key, long def);
/* The PVH memory map; returns the entry count and sets *map. */
unsigned memmap(const struct hvm_memmap_entry **map);

/* TSC frequency in kHz, found once: CPUID, kvmclock, PIT, else a guess. */
uint64_t tsc_khz(void);
/* Where tsc_khz() got its value ("CPUID 0x40000010", "PIT", ...). */
const char *tsc_source(void);
/* Busy-wait us microseconds on the TSC. */
void udelay(uint64_t us);
/* The TSC value us microseconds from now, for timeouts. */
uint64_t tsc_deadline(uint64_t us);

/* This CPU's APIC ID, from its local APIC's ID register (ring 0). */
unsigned cpu_apic_id(void);
/* List enabled CPUs' APIC IDs from the MP table, or the ACPI MADT if that
 * lists more; returns the count (0: no table) and names the source. */
unsigned cpus_find(uint32_t *apic_ids, unsigned max, const char **source);
/* Start every AP (INIT-SIPI-SIPI, broadcast if no table lists them); each
 * runs ap_main(cpu). Waits up to timeout_ms for them; returns the number of
 * CPUs online including the BSP, and names the CPU list's source. */
unsigned smp_boot(unsigned timeout_ms, const char **source);
/* The APIC ID of CPU number cpu (0 = BSP) once it is online. */
unsigned cpu_apic_of(unsigned cpu);
/* The ACPI table with this signature (through the RSDP, XSDT or RSDT), or
 * NULL; its checksum has been verified. */
const uint8_t *acpi_table(const char *sig);
/* Power off as an ACPI OS does on a hardware-reduced platform: SLP_TYP 5
 * with SLP_EN to the FADT's sleep control register (I/O or memory). Returns
 * only if there is no such register or the VM did not stop. */
void acpi_poweroff(void);

#endif
