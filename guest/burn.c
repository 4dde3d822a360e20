/* SPDX-License-Identifier: MIT */
/*
 * burn: a CPU-bound guest for the CPU-sharing tests. Every vCPU spins in
 * ring 3; the BSP prints "burn: t=Ns loops=N" once a second (loops of all
 * CPUs together) and passes after secs=S seconds (default 5; 0 = never).
 * disk_mib=N first writes N MiB to the first virtio-blk disk. The BSP polls
 * the i8042 keyboard and powers off through ACPI on Ctrl-Alt-Del, which is
 * how a graceful stop (berth's control socket "shutdown") is tested.
 */
#include "err.h"
#include "mem.h"
#include "rt.h"
#include "vblk.h"

#define SPIN_ITERS  20000 /* one "loop": about 30 us of ring-3 work */
#define KBD_POLL_US 10000 /* each poll is a port read, so a VM exit */
#define KBD_STATUS  0x64
#define KBD_DATA    0x60
#define KBD_OBF	    0x01 /* output buffer full */
#define KBD_AUX	    0x20 /* the byte is from the mouse */
#define DISK_CHUNK  (256U << 10)
#define SMP_WAIT_MS 2000

/* One counter per CPU, each on its own cache line. */
static struct {
	uint64_t n;
	uint8_t pad[56];
} loops[MAX_CPUS] __attribute__((aligned(64)));

/* Work the compiler cannot drop or fold: an LCG step per iteration. */
static uint64_t spin(uint64_t x)
{
	for (unsigned i = 0; i < SPIN_ITERS; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		asm volatile("" : "+r"(x));
	}
	return x;
}

static void count_loop(unsigned cpu)
{
	__atomic_store_n(&loops[cpu].n, loops[cpu].n + 1, __ATOMIC_RELAXED);
}

static uint64_t total_loops(void)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < MAX_CPUS; i++)
		sum += __atomic_load_n(&loops[i].n, __ATOMIC_RELAXED);
	return sum;
}

void ap_main(unsigned cpu)
{
	uint64_t x = cpu;

	for (;;) {
		x = spin(x);
		count_loop(cpu);
	}
}

/* Keyboard state for Ctrl-Alt-Del in scancode set 1: Ctrl (0x1d, right
 * Ctrl 0xe0 0x1d) and Alt (0x38) held when Delete (0xe0 0x53, or keypad
 * 0x53) goes down; bit 7 set is a key's release. */
static struct {
	bool ctrl, alt, e0, absent;
} kbd;

static bool kbd_scancode(uint8_t sc)
{
	bool down = !(sc & 0x80);

	if (sc == 0xe0) {
		kbd.e0 = true;
		return false;
	}
	kbd.e0 = false;
	switch (sc & 0x7f) {
	case 0x1d:
		kbd.ctrl = down;
		break;
	case 0x38:
		kbd.alt = down;
		break;
	case 0x53:
		return down && kbd.ctrl && kbd.alt;
	}
	return false;
}

/* Read what the keyboard has; true once Ctrl-Alt-Del came. A status of
 * all ones is no controller at all (QEMU microvm): stop asking then. */
static bool kbd_ctrl_alt_del(void)
{
	for (unsigned i = 0; i < 16 && !kbd.absent; i++) {
		uint8_t st = inb(KBD_STATUS), sc;

		if (st == 0xff)
			kbd.absent = true;
		if (st == 0xff || !(st & KBD_OBF))
			return false;
		sc = inb(KBD_DATA);
		if (!(st & KBD_AUX) && kbd_scancode(sc))
			return true;
	}
	return false;
}

static void write_disk(uint64_t mib)
{
	static struct vblk blk;
	struct virtio_opts o = {0};
	uint64_t bytes = mib << 20;
	uint8_t *buf;
	int err;

	err = vblk_open(&blk, 0, &o);
	if (err)
		test_fail("disk_mib=%lu: no usable virtio-blk device: %s", mib,
			  err_name(err));
	if (bytes > blk.cfg.capacity * VBLK_SECTOR)
		test_fail("disk_mib=%lu: the disk has only %lu sectors", mib,
			  blk.cfg.capacity);
	buf = dma_alloc(DISK_CHUNK, 4096);
	if (!buf)
		test_fail("no memory for a %u-byte buffer", DISK_CHUNK);
	for (uint64_t off = 0; off < bytes; off += DISK_CHUNK) {
		memset(buf, (int)(off >> 20) + 1, DISK_CHUNK);
		err = vblk_io(&blk, VIRTIO_BLK_T_OUT, off / VBLK_SECTOR, buf,
			      DISK_CHUNK);
		if (err)
			test_fail("write at byte %lu: %s", off,
				  err < 0 ? err_name(err)
					  : vblk_status_name(err));
	}
	if (vblk_has(&blk, VIRTIO_BLK_F_FLUSH)) {
		err = vblk_io(&blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
		if (err)
			test_fail("flush: %s", err < 0 ? err_name(err)
						       : vblk_status_name(err));
	}
	printf("burn: wrote %lu bytes\n", bytes);
}

int main(void)
{
	long secs = cmdline_int("secs", 5), mib = cmdline_int("disk_mib", 0);
	uint64_t tick, poll, start, now, next_poll, x = 1;
	const char *source;
	unsigned cpus, t = 1;

	if (secs < 0 || mib < 0)
		test_fail("secs=%ld disk_mib=%ld: want numbers >= 0", secs,
			  mib);
	if (mib)
		write_disk((uint64_t)mib);
	cpus = smp_boot(SMP_WAIT_MS, &source);
	printf("burn: %u cpus burning, secs=%ld\n", cpus, secs);
	tick = tsc_khz() * 1000;
	poll = tsc_khz() * KBD_POLL_US / 1000;
	start = next_poll = rdtsc();
	while (!secs || t <= (unsigned long)secs) {
		x = spin(x);
		count_loop(0);
		now = rdtsc();
		if (now - next_poll < (1ULL << 63)) {
			next_poll = now + poll;
			if (kbd_ctrl_alt_del()) {
				printf("burn: ctrl-alt-del, powering off\n");
				acpi_poweroff();
				test_fail("ACPI power-off did not stop the VM");
			}
		}
		if (now - start >= t * tick) {
			printf("burn: t=%us loops=%lu\n", t, total_loops());
			t++;
		}
	}
	test_pass();
}
