/* SPDX-License-Identifier: MIT */
/*
 * Ring-3 runtime: strings, COM1, printf, exit, command line, memory map and
 * the TSC. Every port access here is a VM exit, so the code touches ports
 * only when asked to: a guest that never prints never initialises the UART.
 */
#include "rt.h"

/* Physical address of hvm_start_info, stored by pvh_start from EBX. */
extern uint32_t boot_info;

/* ---- strings ----------------------------------------------------------- */

void *memcpy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	if (d <= s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	char *d = dst;

	while (n--)
		*d++ = (char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++)
		if (*a != *b || !*a)
			return (unsigned char)*a - (unsigned char)*b;
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

/* ---- COM1 -------------------------------------------------------------- */

#define UART_LSR_DR   0x01
#define UART_LSR_THRE 0x20

static bool serial_ready;

/* 115200 8N1, no interrupts (we poll). The FIFO control register is left
 * alone: changing it clears bytes already received (QEMU holds back input
 * until the receive register is free, so nothing is lost without a FIFO). */
static void serial_init(void)
{
	outb(0x00, COM1 + 1); /* IER: no interrupts */
	outb(0x80, COM1 + 3); /* LCR: DLAB, to reach the divisor */
	outb(0x01, COM1 + 0); /* divisor 1: 115200 baud */
	outb(0x00, COM1 + 1);
	outb(0x03, COM1 + 3); /* 8N1 */
	outb(0x03, COM1 + 4); /* DTR, RTS; OUT2 off keeps IRQ 4 quiet */
	serial_ready = true;
}

static void serial_putc(char c)
{
	/* Bounded, so a missing or stuck UART cannot hang the guest. */
	for (int i = 0; i < 100000; i++)
		if (inb(COM1 + 5) & UART_LSR_THRE)
			break;
	outb((uint8_t)c, COM1);
}

void serial_write(const char *s, size_t n)
{
	if (!serial_ready)
		serial_init();
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

int serial_getc(uint64_t timeout_us)
{
	uint64_t end = tsc_deadline(timeout_us);

	if (!serial_ready)
		serial_init();
	/* Each LSR read is an exit: poll every 1 ms, not flat out. */
	for (;;) {
		if (inb(COM1 + 5) & UART_LSR_DR)
			return inb(COM1);
		if ((int64_t)(rdtsc() - end) >= 0)
			return -1;
		udelay(1000);
	}
}

/* ---- printf ------------------------------------------------------------ */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_field(struct out *o, const char *s, size_t n, int width,
		      bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	/* Zero padding goes after a sign or 0x prefix. */
	if (pad == '0' && n && (*s == '-' || (n > 1 && s[1] == 'x'))) {
		size_t pre = *s == '-' ? 1 : 2;

		for (size_t i = 0; i < pre; i++)
			put(o, *s++);
		n -= pre;
	}
	while (!left && fill-- > 0)
		put(o, pad);
	while (n--)
		put(o, *s++);
	while (left && fill-- > 0)
		put(o, ' ');
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		char num[24], *p = num + sizeof(num);
		const char *s = NULL;
		bool left = false, neg = false, is64 = false;
		char pad = ' ';
		int width = 0;
		unsigned base = 10;
		uint64_t v = 0;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++)
			if (*fmt == '-')
				left = true;
			else
				pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			is64 = true;
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t sv =
				is64 ? va_arg(ap, int64_t) : va_arg(ap, int);

			neg = sv < 0;
			v = neg ? -(uint64_t)sv : (uint64_t)sv;
			break;
		}
		case 'u':
		case 'x':
		case 'X':
			v = is64 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			base = *fmt == 'u' ? 10 : 16;
			break;
		case 'p':
			v = (uintptr_t)va_arg(ap, void *);
			base = 16;
			break;
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			put_field(&o, s, strlen(s), width, left, ' ');
			continue;
		case 'c':
			num[0] = (char)va_arg(ap, int);
			put_field(&o, num, 1, width, left, ' ');
			continue;
		case '\0':
			fmt--;
			continue;
		default: /* "%%" and unknown conversions print as is */
			put(&o, *fmt);
			continue;
		}
		do {
			*--p = "0123456789abcdef"[v % base];
			if (*fmt == 'X' && *p > '9')
				*p -= 'a' - 'A';
			v /= base;
		} while (v);
		if (*fmt == 'p') {
			*--p = 'x';
			*--p = '0';
		}
		if (neg)
			*--p = '-';
		put_field(&o, p, num + sizeof(num) - p, width, left, pad);
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static spinlock_t print_lock;

static int vprintf_locked(const char *fmt, va_list ap)
{
	char buf[256];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	spin_lock(&print_lock);
	serial_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	spin_unlock(&print_lock);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf_locked(fmt, ap);
	va_end(ap);
	return n;
}

/* ---- exit -------------------------------------------------------------- */

void exit_code(unsigned v)
{
	outb((uint8_t)v, DEBUG_EXIT_IO);
	sys_halt(); /* no debug-exit device: stop here */
}

void reset(void)
{
	/* i8042: pulse the reset line, then give the reset a few ms */
	outb(0xfe, 0x64);
	for (int i = 0; i < 1000000; i++)
		cpu_relax();
	exit_code(0);
}

void test_pass(void)
{
	printf("PASS\n");
	exit_code(EXIT_PASS);
}

void test_fail(const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("FAIL: %s\n", msg);
	exit_code(EXIT_FAIL);
}

/* ---- boot information --------------------------------------------------- */

const struct hvm_start_info *start_info(void)
{
	const struct hvm_start_info *si = phys(boot_info);

	if (!si || si->magic != HVM_START_MAGIC)
		return NULL;
	return si;
}

const char *cmdline(void)
{
	const struct hvm_start_info *si = start_info();

	if (!si || !si->cmdline_paddr || si->cmdline_paddr >= 1ULL << 32)
		return "";
	return phys(si->cmdline_paddr);
}

bool cmdline_get(const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);

	for (const char *p = cmdline(); *p;) {
		size_t n;

		while (*p == ' ')
			p++;
		for (n = 0; p[n] && p[n] != ' '; n++)
			;
		if (n >= klen && !strncmp(p, key, klen) &&
		    (n == klen || p[klen] == '=')) {
			size_t vlen = n > klen ? n - klen - 1 : 0;

			if (size) {
				if (vlen > size - 1)
					vlen = size - 1;
				memcpy(val, p + klen + 1, vlen);
				val[vlen] = '\0';
			}
			return true;
		}
		p += n;
	}
	return false;
}

long cmdline_int(const char *key, long def)
{
	char buf[24], *p = buf;
	unsigned base = 10;
	bool neg = false;
	long v = 0;

	if (!cmdline_get(key, buf, sizeof(buf)) || !*buf)
		return def;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p)
		return def;
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			d = (*p | 0x20) - 'a' + 10;
		else
			return def;
		if (d >= base)
			return def;
		v = v * base + d;
	}
	return neg ? -v : v;
}

unsigned memmap(const struct hvm_memmap_entry **map)
{
	const struct hvm_start_info *si = start_info();

	if (!si || si->version < 1 || !si->memmap_paddr) {
		*map = NULL;
		return 0;
	}
	*map = phys(si->memmap_paddr);
	return si->memmap_entries;
}

/* ---- TSC ---------------------------------------------------------------- */

static uint64_t tsc_khz_value;
static const char *tsc_src = "not measured";

/* Count TSC ticks while PIT channel 2 (mode 0, gate via port 0x61) counts
 * down 10 ms. Each port read is an exit of ~26 us: plenty of resolution. */
static uint64_t tsc_khz_pit(void)
{
	const unsigned ms = 10, latch = 1193182 * ms / 1000;
	uint8_t gate = inb(0x61);
	uint64_t t0, t;
	unsigned polls = 0;

	outb((gate & ~0x02) | 0x01, 0x61); /* gate on, speaker off */
	outb(0xb0, 0x43);		   /* channel 2, lo/hi byte, mode 0 */
	outb(latch & 0xff, 0x42);
	outb(latch >> 8, 0x42);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20)) {
		polls++;
		if (rdtsc() - t0 > 1ULL << 32)
			break;
	}
	t = rdtsc() - t0;
	outb(gate, 0x61);
	/* Output high at once (no PIT: all ones) or never: no answer. */
	if (polls < 10 || t > 1ULL << 32)
		return 0;
	return t / ms;
}

/* KVM's pvclock: the hypervisor publishes the TSC-to-ns scale in a page of
 * ours once the MSR points at it (two syscalls). Exact where there is no
 * PIT (QEMU microvm) and the clock PVM recommends. */
static uint64_t tsc_khz_kvmclock(void)
{
	static struct {
		uint32_t version, pad0;
		uint64_t tsc_timestamp, system_time;
		uint32_t mul;
		int8_t shift;
		uint8_t flags, pad[2];
	} __attribute__((aligned(64))) pv;
	uint32_t r[4], sig[3], msr;
	uint64_t khz = 1000000ULL << 32;

	cpuid(0x40000000, 0, r);
	memcpy(sig, &r[1], sizeof(sig));
	if (memcmp(sig, "KVMKVMKVM\0\0\0", 12) || r[0] < 0x40000001)
		return 0;
	cpuid(0x40000001, 0, r);
	if (r[0] & 1U << 3)
		msr = 0x4b564d01; /* MSR_KVM_SYSTEM_TIME_NEW */
	else if (r[0] & 1U << 0)
		msr = 0x12; /* MSR_KVM_SYSTEM_TIME */
	else
		return 0;
	sys_wrmsr(msr, (uintptr_t)&pv | 1);
	sys_wrmsr(msr, 0); /* one sample is enough: stop the updates */
	if (!__atomic_load_n(&pv.mul, __ATOMIC_ACQUIRE) || (pv.version & 1))
		return 0;
	khz /= pv.mul;
	return pv.shift < 0 ? khz << -pv.shift : khz >> pv.shift;
}

/* First answer from: the hypervisor's timing leaf, CPUID 0x15, kvmclock,
 * the PIT, CPUID 0x16 (nominal base clock), a guess. */
static uint64_t tsc_calibrate(void)
{
	uint32_t r[4], max;
	uint64_t khz;

	cpuid(0x40000000, 0, r);
	if (r[0] >= 0x40000010 && r[0] < 0x40010000) {
		cpuid(0x40000010, 0, r);
		if (r[0]) {
			tsc_src = "CPUID 0x40000010";
			return r[0];
		}
	}
	cpuid(0, 0, r);
	max = r[0];
	if (max >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2]) {
			tsc_src = "CPUID 0x15";
			return (uint64_t)r[2] * r[1] / r[0] / 1000;
		}
	}
	khz = tsc_khz_kvmclock();
	if (khz) {
		tsc_src = "kvmclock";
		return khz;
	}
	khz = tsc_khz_pit();
	if (khz) {
		tsc_src = "PIT";
		return khz;
	}
	if (max >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0] & 0xffff) {
			tsc_src = "CPUID 0x16";
			return (uint64_t)(r[0] & 0xffff) * 1000;
		}
	}
	tsc_src = "guessed: no CPUID leaf, kvmclock or PIT";
	return 2000000;
}

uint64_t tsc_khz(void)
{
	static spinlock_t lock;

	if (!__atomic_load_n(&tsc_khz_value, __ATOMIC_ACQUIRE)) {
		spin_lock(&lock);
		if (!tsc_khz_value)
			__atomic_store_n(&tsc_khz_value, tsc_calibrate(),
					 __ATOMIC_RELEASE);
		spin_unlock(&lock);
	}
	return tsc_khz_value;
}

const char *tsc_source(void)
{
	tsc_khz();
	return tsc_src;
}

uint64_t tsc_deadline(uint64_t us)
{
	return rdtsc() + us * tsc_khz() / 1000;
}

void udelay(uint64_t us)
{
	uint64_t end = tsc_deadline(us);

	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}

/* ---- entry points (called by start.S in ring 3) -------------------------- */

void rt_bsp_entry(void);

__noreturn void rt_bsp_entry(void)
{
	exit_code((unsigned)main());
}
