/*
 * A minimal virtio-blk driver written from the specifications only: the
 * virtio 1.2 specification (its section numbers are cited), PCI configuration
 * mechanism #1 and the PVH boot ABI. It shares no code with berth.
 *
 * It boots through PVH (32-bit protected mode, paging off, EBX = the
 * hvm_start_info), finds the first modern virtio-blk function (1af4:1042)
 * on PCI bus 0, drives it with one split virtqueue by polling, and:
 *   - reads sectors 100-107, which the host filled with a text pattern;
 *   - writes sectors [start, start + count) with a pattern made from the
 *     sector number and a seed, FLUSHes if the device offers it, and reads
 *     them back, framing the requests in four different descriptor
 *     layouts and keeping up to four of them in flight;
 *   - resets the device, initialises it again and re-reads some sectors.
 * Command line: seed=N start=N count=N (decimal or 0x hex).
 *
 * Output on COM1: "virtio-blk-spec: ..." lines, a "SPEC: ..." line for each
 * device behaviour that breaks a MUST of the specification, then "PASS"
 * (exit value 0 on port 0xf4) or "FAIL: ..." (exit value 1).
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/*
 * PVH entry (Xen's PVH ABI): an ELF note of type XEN_ELFNOTE_PHYS32_ENTRY
 * (18) gives the 32-bit entry point; we arrive in flat 32-bit protected
 * mode with paging off and EBX = physical address of hvm_start_info.
 */
__asm__(".section .note.Xen, \"a\"\n"
	".p2align 2\n"
	".long 4, 4, 18\n" /* namesz, descsz, type */
	".asciz \"Xen\"\n"
	".long pvh_start\n"
	".text\n"
	".globl pvh_start\n"
	"pvh_start:\n"
	"	cli\n"
	"	cld\n"
	"	mov $stack_top, %esp\n"
	"	push %ebx\n"
	"	call main32\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	".bss\n"
	".p2align 4\n"
	".skip 16384\n"
	"stack_top:\n"
	".text\n");

#define HVM_START_MAGIC 0x336ec578

#define COM1	  0x3f8
#define EXIT_PORT 0xf4

/* 2.1 Device Status Field */
#define S_ACKNOWLEDGE 1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 64
#define S_FAILED      128

/* 6 Reserved Feature Bits (high word) and 5.2.3 block feature bits */
#define F_VERSION_1_HI (1u << (32 - 32))
#define BLK_F_RO       (1u << 5)
#define BLK_F_FLUSH    (1u << 9)

/* 4.1.4 virtio_pci_cap cfg_type values */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR	   3
#define CAP_DEVICE 4

/* 4.1.4.3 struct virtio_pci_common_cfg, byte offsets */
#define CC_DFSELECT	0x00
#define CC_DF		0x04
#define CC_GFSELECT	0x08
#define CC_GF		0x0c
#define CC_STATUS	0x14
#define CC_CFGGEN	0x15
#define CC_Q_SELECT	0x16
#define CC_Q_SIZE	0x18
#define CC_Q_ENABLE	0x1c
#define CC_Q_NOTIFY_OFF 0x1e
#define CC_Q_DESC	0x20
#define CC_Q_DRIVER	0x28
#define CC_Q_DEVICE	0x30
#define CC_LEN		0x38 /* what this driver uses */

/* 2.7.5, 2.7.6, 2.7.8 split virtqueue */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

/* 5.2.6 block requests */
#define T_IN	 0
#define T_OUT	 1
#define T_FLUSH	 4
#define T_GET_ID 8
#define BLK_S_OK 0

#define QSZ_MAX	     16 /* the queue size this driver asks for at most */
#define SLOT_DESCS   4	/* descriptors per request: header, 2 x data, status */
#define MAX_SLOTS    (QSZ_MAX / SLOT_DESCS)
#define SLOT_SECTORS 8
#define SLOT_BYTES   (SLOT_SECTORS * 512)
#define HOST_SECTOR  100	  /* the host filled sectors 100-107 */
#define TIMEOUT	     (1ull << 34) /* TSC ticks: several seconds */
/* the head descriptor of slot i: chains run down from the slot's last one */
#define HEAD(i) ((i)*SLOT_DESCS + SLOT_DESCS - 1)

struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct virtq_avail {
	u16 flags;
	u16 idx;
	u16 ring[QSZ_MAX];
	u16 used_event;
};

struct virtq_used_elem {
	u32 id;
	u32 len;
};

struct virtq_used {
	u16 flags;
	u16 idx;
	struct virtq_used_elem ring[QSZ_MAX];
	u16 avail_event;
};

struct virtio_blk_req_hdr {
	u32 type;
	u32 reserved;
	u64 sector;
};

/* 2.7: descriptor table aligned to 16, available ring to 2, used ring to 4 */
static struct virtq_desc desc[QSZ_MAX] __attribute__((aligned(16)));
static struct virtq_avail avail __attribute__((aligned(16)));
static struct virtq_used used __attribute__((aligned(16)));

/* request i, contiguous in memory: header, data, then the status byte */
static struct {
	struct virtio_blk_req_hdr hdr;
	u8 data[SLOT_BYTES + 1];
} req[MAX_SLOTS] __attribute__((aligned(4096)));
static struct {
	int busy;
	u32 type;
	u32 bytes;
	u32 len; /* used length reported by the device */
} slot[MAX_SLOTS];

static u32 common, devcfg, notify_base, notify_mult, notify_cap_len;
static u32 notify_addr;
static u16 qsz, qmax, avail_idx, last_used;
static u32 nslots, feat_lo, feat_hi, acc_lo;
static u64 capacity;
static u32 seed = 0x5eed1234, start = 2048, count = 64;
static u32 deviations;

#define barrier() __asm__ __volatile__("" ::: "memory")
/* a full barrier (also orders a store before a later load) */
#define mb() __asm__ __volatile__("lock; addl $0, (%%esp)" ::: "memory", "cc")

static inline void outb(u16 port, u8 v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(u16 port, u16 v)
{
	__asm__ __volatile__("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(u16 port, u32 v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u32 inl(u16 port)
{
	u32 v;

	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/* MMIO: the BARs lie below 4 GiB and paging is off, so pointers work */
static inline u8 rd8(u32 a)
{
	return *(volatile u8 *)a;
}
static inline u16 rd16(u32 a)
{
	return *(volatile u16 *)a;
}
static inline u32 rd32(u32 a)
{
	return *(volatile u32 *)a;
}
static inline void wr8(u32 a, u8 v)
{
	*(volatile u8 *)a = v;
}
static inline void wr16(u32 a, u16 v)
{
	*(volatile u16 *)a = v;
}
static inline void wr32(u32 a, u32 v)
{
	*(volatile u32 *)a = v;
}

/* ---- output ------------------------------------------------------------ */

static void putch(char c)
{
	if (c == '\n')
		putch('\r');
	while (!(inb(COM1 + 5) & 0x20)) /* LSR: THR empty */
		;
	outb(COM1, c);
}

/* printf subset: %s %c %u %x with an optional zero-padded width */
static void vpr(const char *fmt, __builtin_va_list ap)
{
	char digits[12];

	for (; *fmt; fmt++) {
		u32 v, base, pad = 0;
		int n = 0;
		const char *s;

		if (*fmt != '%') {
			putch(*fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			pad = pad * 10 + *fmt++ - '0';
		switch (*fmt) {
		case 's':
			for (s = __builtin_va_arg(ap, const char *); *s; s++)
				putch(*s);
			break;
		case 'c':
			putch(__builtin_va_arg(ap, int));
			break;
		case 'u':
		case 'x':
			v = __builtin_va_arg(ap, u32);
			base = *fmt == 'u' ? 10 : 16;
			do {
				digits[n++] = "0123456789abcdef"[v % base];
				v /= base;
			} while (v);
			while (n < (int)pad && n < (int)sizeof(digits))
				digits[n++] = '0';
			while (n)
				putch(digits[--n]);
			break;
		default:
			putch(*fmt);
		}
	}
}

static void pr(const char *fmt, ...)
{
	__builtin_va_list ap;

	__builtin_va_start(ap, fmt);
	vpr(fmt, ap);
	__builtin_va_end(ap);
}

static void __attribute__((noreturn)) vm_exit(u8 v)
{
	outb(EXIT_PORT, v); /* the VMM exits with status 2v + 1 */
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	__builtin_va_list ap;

	pr("FAIL: ");
	__builtin_va_start(ap, fmt);
	vpr(fmt, ap);
	__builtin_va_end(ap);
	pr("\n");
	vm_exit(1);
}

/* a device behaviour against a MUST of the specification */
static void spec(const char *fmt, ...)
{
	__builtin_va_list ap;

	pr("SPEC: ");
	__builtin_va_start(ap, fmt);
	vpr(fmt, ap);
	__builtin_va_end(ap);
	pr("\n");
	deviations++;
}

/* ---- command line ------------------------------------------------------ */

static const char *parse_num(const char *s, u32 *out)
{
	u32 v = 0, base = 10, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (*s | 0x20) - 'a' + 10;
		else
			break;
		v = v * base + d;
	}
	*out = v;
	return s;
}

static int match(const char *s, const char *key)
{
	while (*key)
		if (*s++ != *key++)
			return 0;
	return 1;
}

static void parse_cmdline(u32 start_info)
{
	const char *s;

	/* hvm_start_info: magic at 0, cmdline_paddr (u64) at 24 */
	if (!start_info || rd32(start_info) != HVM_START_MAGIC)
		fail("no hvm_start_info in EBX (0x%x)", start_info);
	if (rd32(start_info + 28) || !rd32(start_info + 24))
		return;
	for (s = (const char *)rd32(start_info + 24); *s;) {
		if (match(s, "seed="))
			s = parse_num(s + 5, &seed);
		else if (match(s, "start="))
			s = parse_num(s + 6, &start);
		else if (match(s, "count="))
			s = parse_num(s + 6, &count);
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
}

/* ---- PCI (configuration mechanism #1) ---------------------------------- */

static u32 pci_bdf;

static u32 pci_rd(u32 off)
{
	outl(0xcf8, 0x80000000 | pci_bdf | (off & 0xfc));
	return inl(0xcfc);
}

static void pci_wr16(u32 off, u16 v)
{
	outl(0xcf8, 0x80000000 | pci_bdf | (off & 0xfc));
	outw(0xcfc + (off & 2), v);
}

/* 4.1.2: a modern virtio-blk is 1af4:(0x1040 + device id 2) */
static void pci_find(void)
{
	u32 dev, fn;

	for (dev = 0; dev < 32; dev++) {
		for (fn = 0; fn < 8; fn++) {
			pci_bdf = dev << 11 | fn << 8;
			if (pci_rd(0) == 0x10421af4) {
				pr("virtio-blk-spec: 1af4:1042 at 00:%02x.%u, "
				   "revision %u\n",
				   dev, fn, pci_rd(8) & 0xff);
				return;
			}
			/* only function 0 of a single-function device */
			if (fn == 0 && (pci_rd(0) == 0xffffffff ||
					!(pci_rd(0x0c) >> 16 & 0x80)))
				break;
		}
	}
	fail("no 1af4:1042 (modern virtio-blk) on PCI bus 0");
}

/* the address of memory BAR n, or 0 if this driver cannot use it */
static u32 bar_addr(u32 n, const char **why)
{
	u32 lo = pci_rd(0x10 + 4 * n);

	if (lo & 1) {
		*why = "an I/O BAR";
		return 0;
	}
	if ((lo >> 1 & 3) == 2 && (n == 5 || pci_rd(0x14 + 4 * n))) {
		*why = "a 64-bit BAR above 4 GiB";
		return 0;
	}
	if (!(lo & ~0xfu)) {
		*why = "an unassigned BAR";
		return 0;
	}
	return lo & ~0xfu;
}

/*
 * 4.1.4: walk the capability list for the first usable instance of the
 * common, notify, ISR and device configuration structures.
 */
static void map_caps(void)
{
	static const char *const names[] = {"", "common", "notify", "ISR",
					    "device"};
	u32 found[5] = {0}, ptr, n, w0, type, bar, off, len, base,
	    lens[5] = {0};
	u32 offs[5] = {0}, seen = 0;
	const char *why = "";

	/* PCI status bit 4: capabilities list; non-transitional drivers
	 * MUST find the virtio capabilities (4.1.5.1.1) */
	if (!(pci_rd(4) >> 16 & 0x10))
		fail("no PCI capability list: a legacy-only device?");
	ptr = pci_rd(0x34) & 0xfc;
	for (n = 0; ptr && n < 48; n++, ptr = w0 >> 8 & 0xfc) {
		w0 = pci_rd(ptr);
		type = w0 >> 24;
		/* cap_vndr 0x09; reserved cfg_type or bar values are ignored */
		if ((w0 & 0xff) != 0x09 || type < CAP_COMMON ||
		    type > CAP_DEVICE || found[type])
			continue;
		seen |= 1 << type;
		bar = pci_rd(ptr + 4) & 0xff;
		if (bar > 5 || (w0 >> 16 & 0xff) < 16)
			continue;
		off = pci_rd(ptr + 8);
		len = pci_rd(ptr + 12);
		if (type == CAP_NOTIFY && (w0 >> 16 & 0xff) < 20)
			continue; /* too short for notify_off_multiplier */
		base = bar_addr(bar, &why);
		if (!base) {
			pr("virtio-blk-spec: skipping the %s capability: BAR%u "
			   "is %s\n",
			   names[type], bar, why);
			continue;
		}
		found[type] = base + off;
		lens[type] = len;
		offs[type] = off;
		if (type == CAP_NOTIFY)
			notify_mult = pci_rd(ptr + 16);
		if (type == CAP_COMMON)
			pr("virtio-blk-spec: common config at BAR%u+0x%x = "
			   "0x%x\n",
			   bar, off, base + off);
	}
	if (!found[CAP_COMMON] || !found[CAP_NOTIFY] || !found[CAP_DEVICE])
		fail("missing a usable capability: common %x notify %x device "
		     "%x",
		     found[CAP_COMMON], found[CAP_NOTIFY], found[CAP_DEVICE]);
	/* what the device has to present, 4.1.4.3.1 - 4.1.4.6.1 */
	if (!(seen & 1 << CAP_ISR))
		spec("no ISR capability (4.1.4.5.1: MUST present one)");
	if (offs[CAP_COMMON] & 3)
		spec("common config offset 0x%x not 4-byte aligned (4.1.4.3.1)",
		     offs[CAP_COMMON]);
	if (offs[CAP_DEVICE] & 3)
		spec("device config offset 0x%x not 4-byte aligned (4.1.4.6.1)",
		     offs[CAP_DEVICE]);
	if (offs[CAP_NOTIFY] & 1)
		spec("notify offset 0x%x not 2-byte aligned (4.1.4.4.1)",
		     offs[CAP_NOTIFY]);
	if (notify_mult & (notify_mult - 1) || notify_mult & 0xaaaaaaaa)
		spec("notify_off_multiplier %u is neither 0 nor an even power "
		     "of 2 (4.1.4.4.1)",
		     notify_mult);
	if (lens[CAP_COMMON] < CC_LEN || lens[CAP_DEVICE] < 8)
		fail("common config (%u bytes) or device config (%u bytes) too "
		     "short",
		     lens[CAP_COMMON], lens[CAP_DEVICE]);
	common = found[CAP_COMMON];
	devcfg = found[CAP_DEVICE];
	notify_base = found[CAP_NOTIFY];
	notify_cap_len = lens[CAP_NOTIFY];

	/* memory space and bus master on, INTx off: this driver polls */
	pci_wr16(4, (pci_rd(4) & 0xffff) | 1 << 1 | 1 << 2 | 1 << 10);
}

/* ---- device initialisation (3.1.1) ------------------------------------ */

static void wait_reset(void)
{
	u64 t0 = rdtsc();

	/* 4.1.4.3.2: after writing 0, wait for device_status to read 0 */
	wr8(common + CC_STATUS, 0);
	while (rd8(common + CC_STATUS))
		if (rdtsc() - t0 > TIMEOUT)
			fail("device_status is 0x%x long after a reset",
			     rd8(common + CC_STATUS));
}

static void set_status(u8 bit)
{
	wr8(common + CC_STATUS, rd8(common + CC_STATUS) | bit);
}

static void dev_init(int again)
{
	u32 lo, hi, i, tries;
	u8 gen;

	/* 1. reset the device */
	wait_reset();
	/* 2., 3. we noticed the device and know how to drive it */
	set_status(S_ACKNOWLEDGE);
	set_status(S_DRIVER);

	/* 4. read the feature bits, write the subset we understand (2.2) */
	wr32(common + CC_DFSELECT, 0);
	feat_lo = rd32(common + CC_DF);
	wr32(common + CC_DFSELECT, 1);
	feat_hi = rd32(common + CC_DF);
	wr32(common + CC_DFSELECT, 2);
	if (rd32(common + CC_DF))
		spec("device_feature is 0x%x for select 2 (4.1.4.3.1: no bits "
		     "above 63)",
		     rd32(common + CC_DF));
	if (!(feat_hi & F_VERSION_1_HI)) {
		set_status(S_FAILED);
		fail("VIRTIO_F_VERSION_1 not offered (features 0x%08x%08x)",
		     feat_hi, feat_lo);
	}
	acc_lo = feat_lo &
		 (BLK_F_FLUSH | BLK_F_RO); /* 5.2.6.1: SHOULD accept RO */
	wr32(common + CC_GFSELECT, 0);
	wr32(common + CC_GF, acc_lo);
	wr32(common + CC_GFSELECT, 1);
	wr32(common + CC_GF, F_VERSION_1_HI);
	wr32(common + CC_GFSELECT, 0);
	if (rd32(common + CC_GF) != acc_lo)
		spec("driver_feature reads 0x%x after writing 0x%x (4.1.4.3.1)",
		     rd32(common + CC_GF), acc_lo);

	/* 5., 6. FEATURES_OK, and check the device kept it */
	set_status(S_FEATURES_OK);
	if (!(rd8(common + CC_STATUS) & S_FEATURES_OK)) {
		set_status(S_FAILED);
		fail("device refused features 0x1%08x", acc_lo);
	}

	/* 7. device-specific setup: request queue 0 (4.1.5.1.3) */
	wr16(common + CC_Q_SELECT, 0);
	i = rd16(common + CC_Q_SIZE);
	if (!i)
		fail("queue 0 does not exist (queue_size 0)");
	if (i & (i - 1))
		spec("queue_size %u is not a power of 2 (4.1.4.3.1)", i);
	if (again && i != qmax)
		spec("queue_size is %u after a reset, the maximum was %u "
		     "(4.1.4.3)",
		     i, qmax);
	qmax = i;
	if (rd16(common + CC_Q_ENABLE))
		spec("queue_enable is %u before the driver enabled it "
		     "(4.1.4.3.1: 0 on reset)",
		     rd16(common + CC_Q_ENABLE));
	for (qsz = QSZ_MAX; qsz > qmax; qsz >>= 1)
		;
	if (qsz < SLOT_DESCS)
		fail("queue size %u is too small for this driver", qmax);
	nslots = qsz / SLOT_DESCS;
	if (qsz != qmax) {
		wr16(common + CC_Q_SIZE, qsz);
		if (rd16(common + CC_Q_SIZE) != qsz)
			spec("queue_size reads %u after writing %u",
			     rd16(common + CC_Q_SIZE), qsz);
	}
	/* zero the rings; we poll, so ask for no used buffer notifications */
	for (i = 0; i < sizeof(desc); i++)
		((volatile u8 *)desc)[i] = 0;
	for (i = 0; i < sizeof(avail); i++)
		((volatile u8 *)&avail)[i] = 0;
	for (i = 0; i < sizeof(used); i++)
		((volatile u8 *)&used)[i] = 0;
	avail.flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	avail_idx = last_used = 0;
	for (i = 0; i < MAX_SLOTS; i++)
		slot[i].busy = 0;
	/* 4.1.3: 64-bit fields as two 32-bit halves, low first */
	wr32(common + CC_Q_DESC, (u32)desc);
	wr32(common + CC_Q_DESC + 4, 0);
	wr32(common + CC_Q_DRIVER, (u32)&avail);
	wr32(common + CC_Q_DRIVER + 4, 0);
	wr32(common + CC_Q_DEVICE, (u32)&used);
	wr32(common + CC_Q_DEVICE + 4, 0);
	/* 4.1.4.4: cap.offset + queue_notify_off * notify_off_multiplier */
	i = rd16(common + CC_Q_NOTIFY_OFF);
	if (i * notify_mult + 2 > notify_cap_len)
		spec("notify cap length %u < queue_notify_off %u * multiplier "
		     "%u + 2 (4.1.4.4.1)",
		     notify_cap_len, i, notify_mult);
	notify_addr = notify_base + i * notify_mult;
	/* the other fields are set: enable the queue (4.1.4.3.2) */
	wr16(common + CC_Q_ENABLE, 1);

	/* 2.5.1: read multi-word config until config_generation is stable */
	for (tries = 0;; tries++) {
		gen = rd8(common + CC_CFGGEN);
		lo = rd32(devcfg);
		hi = rd32(devcfg + 4);
		if (rd8(common + CC_CFGGEN) == gen)
			break;
		if (tries > 100)
			fail("config_generation never settles");
	}
	capacity = (u64)hi << 32 | lo;

	/* 8. DRIVER_OK: the device is live */
	set_status(S_DRIVER_OK);
	if (rd8(common + CC_STATUS) & (S_NEEDS_RESET | S_FAILED))
		fail("device_status 0x%x after DRIVER_OK",
		     rd8(common + CC_STATUS));
}

/* ---- requests ---------------------------------------------------------- */

/* chains run downwards through a slot's descriptors: the device has to
 * follow next (2.7.5), not assume that a chain is in table order */
static void set_desc(u32 n, u32 addr, u32 len, u16 flags)
{
	desc[n].addr = addr;
	desc[n].len = len;
	desc[n].flags = flags;
	desc[n].next = flags & VIRTQ_DESC_F_NEXT ? n - 1 : 0;
}

/*
 * 5.2.6: a request is a 16-byte header (device-readable), data (readable
 * for OUT, writable for IN and GET_ID) and a status byte (writable). 2.7.4:
 * the device MUST NOT assume how descriptors frame it, so the chain cuts
 * the request at the offsets of one of these rows (END: the end of the data)
 * and always where the readable part ends (2.7.4.2: writable after readable):
 *   0: header | data | status
 *   1: header | data, split at an odd 1000 bytes | status
 *   2: header and data | status (OUT), header | data and status (IN)
 *   3: the header split in the middle
 */
#define END 0xffff
static const u32 cuts[4][3] = {
	{16, END},
	{16, 16 + 1000, END},
	{0},
	{8, END},
};

static void submit(u32 i, u32 type, u32 sector, u32 bytes, u32 framing)
{
	u32 rend = 16 + (type == T_OUT ? bytes : 0), total = 16 + bytes + 1;
	u32 n = HEAD(i), pos, end, c, k;
	u16 flags;

	req[i].hdr.type = type;
	req[i].hdr.reserved = 0;
	req[i].hdr.sector = sector;
	req[i].data[bytes] = 0xff; /* status, until the device writes it */
	for (pos = 0; pos < total; pos = end) {
		end = pos < rend ? rend : total;
		for (k = 0; k < 3; k++) {
			c = cuts[framing][k] == END ? 16 + bytes
						    : cuts[framing][k];
			if (c > pos && c < end)
				end = c;
		}
		flags = pos < rend ? 0 : VIRTQ_DESC_F_WRITE;
		if (end < total)
			flags |= VIRTQ_DESC_F_NEXT;
		set_desc(n--, (u32)&req[i] + pos, end - pos, flags);
	}
	/* 2.7.13 steps 1 and 2: the chain, then its head in the ring */
	((volatile u16 *)avail.ring)[avail_idx++ % qsz] = HEAD(i);
	slot[i].busy = 1;
	slot[i].type = type;
	slot[i].bytes = bytes;
}

/* 2.7.13 steps 4-7 and 4.1.5.2 */
static void kick(void)
{
	u16 flags;

	barrier(); /* descriptors and ring before idx (x86: stores in order) */
	*(volatile u16 *)&avail.idx = avail_idx;
	mb(); /* idx before reading used->flags (2.7.13.4.1) */
	flags = *(volatile u16 *)&used.flags;
	if (flags & ~VIRTQ_USED_F_NO_NOTIFY)
		spec("used->flags is 0x%x (2.7.10.2: MUST be 0 or 1)", flags);
	if (!(flags & VIRTQ_USED_F_NO_NOTIFY))
		wr16(notify_addr, 0); /* the 16-bit queue index */
}

/* 2.7.14: poll the used ring until no request is outstanding */
static void wait_all(void)
{
	u64 t0 = rdtsc();
	u32 i, busy = 1, id, len;
	u16 idx;

	while (busy) {
		idx = *(volatile u16 *)&used.idx;
		if (idx == last_used) {
			if (rdtsc() - t0 > TIMEOUT)
				fail("timeout: used idx %u, avail idx %u, "
				     "device_status 0x%x",
				     idx, avail_idx, rd8(common + CC_STATUS));
			__asm__ __volatile__("pause");
			continue;
		}
		barrier(); /* idx before the entries (x86: loads in order) */
		if ((u16)(idx - last_used) > qsz)
			fail("used idx jumped from %u to %u", last_used, idx);
		for (; last_used != idx; last_used++) {
			id = ((volatile struct virtq_used_elem *)
				      used.ring)[last_used % qsz]
				     .id;
			len = ((volatile struct virtq_used_elem *)
				       used.ring)[last_used % qsz]
				      .len;
			i = id / SLOT_DESCS;
			if (id != HEAD(i) || i >= nslots || !slot[i].busy)
				fail("used ring entry %u has id %u, not an "
				     "outstanding head",
				     last_used, id);
			slot[i].busy = 0;
			slot[i].len = len;
		}
		for (busy = 0, i = 0; i < nslots; i++)
			busy |= slot[i].busy;
	}
}

static const char *type_name(u32 type)
{
	return type == T_IN	 ? "IN"
	       : type == T_OUT	 ? "OUT"
	       : type == T_FLUSH ? "FLUSH"
				 : "GET_ID";
}

/* the request in slot i completed: check status and used length */
static void check_done(u32 i, u32 sector)
{
	u32 want = (slot[i].type == T_OUT ? 0 : slot[i].bytes) + 1;
	const char *t = type_name(slot[i].type);

	u8 st = req[i].data[slot[i].bytes];

	if (st != BLK_S_OK)
		fail("%s at sector %u: status %u", t, sector, st);
	/* 2.7.8: len = bytes written; at least that many really written */
	if (slot[i].len > want)
		spec("%s at sector %u: used len %u exceeds the %u writable "
		     "bytes (2.7.8.2)",
		     t, sector, slot[i].len, want);
	else if (slot[i].len < want && slot[i].type == T_IN)
		fail("IN at sector %u: used len %u < %u, the data cannot be "
		     "trusted (2.7.8.3)",
		     sector, slot[i].len, want);
	else if (slot[i].len < want)
		pr("virtio-blk-spec: note: %s used len %u, %u bytes were "
		   "written\n",
		   t, slot[i].len, want);
}

/* ---- patterns ---------------------------------------------------------- */

/* 32-bit word w of sector s; the host checks the same with awk */
static u32 pat(u32 s, u32 w)
{
	return seed + s * 0x9e3779b1u + w * 0x01000193u;
}

static void fill(u32 i, u32 sector, u32 n)
{
	u32 *p = (u32 *)req[i].data, w;

	for (w = 0; w < n * 128; w++)
		p[w] = pat(sector + w / 128, w % 128);
}

static void poison(u32 i)
{
	u32 *p = (u32 *)req[i].data, w;

	for (w = 0; w < SLOT_BYTES / 4; w++)
		p[w] = 0xa5a5a5a5;
}

/* 0 if slot i holds the pattern of n sectors from sector */
static int check(u32 i, u32 sector, u32 n, int quiet)
{
	u32 *p = (u32 *)req[i].data, w;

	for (w = 0; w < n * 128; w++) {
		if (p[w] == pat(sector + w / 128, w % 128))
			continue;
		if (!quiet)
			pr("virtio-blk-spec: sector %u word %u is 0x%08x, want "
			   "0x%08x\n",
			   sector + w / 128, w % 128, p[w],
			   pat(sector + w / 128, w % 128));
		return -1;
	}
	return 0;
}

/* the host's text: "host pattern, sector N.\n" repeated through the sector */
static int check_host(u32 i)
{
	char line[40];
	u32 s, b, n, len, v;
	const char *pre = "host pattern, sector ";

	for (s = 0; s < SLOT_SECTORS; s++) {
		for (len = 0; pre[len]; len++)
			line[len] = pre[len];
		for (v = HOST_SECTOR + s, n = 1; v >= 10 * n; n *= 10)
			;
		for (; n; n /= 10)
			line[len++] = '0' + v / n % 10;
		line[len++] = '.';
		line[len++] = '\n';
		for (b = 0; b < 512; b++) {
			if (req[i].data[s * 512 + b] == (u8)line[b % len])
				continue;
			pr("virtio-blk-spec: host sector %u byte %u is 0x%02x, "
			   "want 0x%02x\n",
			   HOST_SECTOR + s, b, req[i].data[s * 512 + b],
			   (u8)line[b % len]);
			return -1;
		}
	}
	return 0;
}

/*
 * Write (OUT) or read back (IN) sectors [first, first + n) in batches of
 * up to nslots requests of up to 8 sectors, framed in turn in each of the
 * four ways submit() knows.
 */
static u32 transfer(u32 type, u32 first, u32 n)
{
	u32 s = first, reqs = 0, i, k, batch;
	u32 sec[MAX_SLOTS], cnt[MAX_SLOTS];

	while (s < first + n) {
		for (batch = 0; batch < nslots && s < first + n; batch++) {
			k = first + n - s < SLOT_SECTORS ? first + n - s
							 : SLOT_SECTORS;
			if (type == T_OUT)
				fill(batch, s, k);
			else
				poison(batch);
			submit(batch, type, s, k * 512, reqs++ % 4);
			sec[batch] = s;
			cnt[batch] = k;
			s += k;
		}
		kick();
		wait_all();
		for (i = 0; i < batch; i++) {
			check_done(i, sec[i]);
			if (type == T_IN && check(i, sec[i], cnt[i], 0))
				fail("read back sectors %u-%u differ from what "
				     "was written",
				     sec[i], sec[i] + cnt[i] - 1);
			/* 2.7.5.1: the device MUST NOT write readable buffers */
			if (type == T_OUT && (check(i, sec[i], cnt[i], 1) ||
					      req[i].hdr.type != T_OUT ||
					      req[i].hdr.sector != sec[i]))
				spec("OUT at sector %u: the device changed a "
				     "device-readable buffer (2.7.5.1)",
				     sec[i]);
		}
	}
	return reqs;
}

static void read_host(void)
{
	poison(0);
	submit(0, T_IN, HOST_SECTOR, SLOT_BYTES, 1); /* data split */
	kick();
	wait_all();
	check_done(0, HOST_SECTOR);
	if (check_host(0))
		fail("sectors %u-%u do not hold the host's pattern",
		     HOST_SECTOR, HOST_SECTOR + SLOT_SECTORS - 1);
}

static void get_id(void)
{
	u32 i;
	char id[21];

	for (i = 0; i < 20; i++)
		req[0].data[i] = 0;
	submit(0, T_GET_ID, 0, 20, 2); /* 5.2.6.1: data is 20 bytes */
	kick();
	wait_all();
	if (slot[0].len > 21)
		spec("GET_ID: used len %u exceeds the 21 writable bytes "
		     "(2.7.8.2)",
		     slot[0].len);
	if (req[0].data[20] != BLK_S_OK) {
		pr("virtio-blk-spec: GET_ID status %u\n", req[0].data[20]);
		return;
	}
	for (i = 0; i < 20 && req[0].data[i]; i++)
		id[i] = req[0].data[i] >= 0x20 && req[0].data[i] < 0x7f
				? req[0].data[i]
				: '?';
	id[i] = 0;
	pr("virtio-blk-spec: id \"%s\"\n", id);
}

void __attribute__((noreturn, used)) main32(u32 start_info)
{
	u32 reqs;

	parse_cmdline(start_info);
	pr("virtio-blk-spec: seed=0x%08x start=%u count=%u\n", seed, start,
	   count);
	pci_find();
	map_caps();
	dev_init(0);
	pr("virtio-blk-spec: features 0x%08x%08x, accepted 0x%08x%08x\n",
	   feat_hi, feat_lo, F_VERSION_1_HI, acc_lo);
	pr("virtio-blk-spec: queue 0: size %u of %u, notify at 0x%x "
	   "(multiplier %u)\n",
	   qsz, qmax, notify_addr, notify_mult);
	if (capacity >> 32)
		pr("virtio-blk-spec: capacity 0x%x%08x sectors\n",
		   (u32)(capacity >> 32), (u32)capacity);
	else
		pr("virtio-blk-spec: capacity %u sectors\n", (u32)capacity);
	if (acc_lo & BLK_F_RO)
		fail("the device is read-only (VIRTIO_BLK_F_RO)");
	/* 5.2.6.1: no request may go beyond capacity */
	if (!count || (u64)start + count > capacity ||
	    (u64)HOST_SECTOR + SLOT_SECTORS > capacity ||
	    (start < HOST_SECTOR + SLOT_SECTORS && start + count > HOST_SECTOR))
		fail("bad range: start=%u count=%u on %u sectors", start, count,
		     (u32)capacity);

	get_id();
	read_host();
	pr("virtio-blk-spec: host pattern at sectors %u-%u read ok\n",
	   HOST_SECTOR, HOST_SECTOR + SLOT_SECTORS - 1);

	reqs = transfer(T_OUT, start, count);
	pr("virtio-blk-spec: wrote %u sectors at %u in %u requests\n", count,
	   start, reqs);
	if (acc_lo & BLK_F_FLUSH) {
		submit(0, T_FLUSH, 0, 0, 0); /* 5.2.6.1: sector 0, no data */
		kick();
		wait_all();
		check_done(0, 0);
		pr("virtio-blk-spec: flush ok\n");
	} else {
		pr("virtio-blk-spec: VIRTIO_BLK_F_FLUSH not offered\n");
	}
	reqs = transfer(T_IN, start, count);
	pr("virtio-blk-spec: read back and verified %u sectors in %u "
	   "requests\n",
	   count, reqs);

	/* 2.4: a reset and a second initialisation start the rings afresh */
	dev_init(1);
	read_host();
	transfer(T_IN, start,
		 count < 2 * SLOT_SECTORS ? count : 2 * SLOT_SECTORS);
	pr("virtio-blk-spec: reset, initialised again, re-read ok\n");
	wait_reset(); /* leave the device reset, as a driver unloading does */

	pr("virtio-blk-spec: %u spec deviations\n", deviations);
	pr("PASS\n");
	vm_exit(0);
}
