/* SPDX-License-Identifier: MIT */
/*
 * virtio_console: write "hello from virtio-console\n" on port 0 of a
 * virtio-console; with echo=1, read a line from it (timeout=MS, default
 * 10000) and write it back followed by '\n'. irq=1 uses MSI-X.
 */
#include "vcons.h"

#define HELLO "hello from virtio-console\n"

int main(void)
{
	struct virtio_opts o = {
		.irq = cmdline_int("irq", 0) > 0,
		.verbose = cmdline_int("verbose", 0) > 0,
	};
	long timeout_ms = cmdline_int("timeout", 10000);
	static struct vcons con;
	static char line[VCONS_RX_BUF_SIZE];
	int err, n;

	err = vcons_open(&con, 0, &o);
	if (err)
		test_fail("no usable virtio-console device: %s", err_name(err));
	err = vcons_write(&con, HELLO, sizeof(HELLO) - 1);
	if (err)
		test_fail("writing: %s", err_name(err));
	printf("console: wrote %u bytes\n", (unsigned)sizeof(HELLO) - 1);
	if (cmdline_int("echo", 0) > 0) {
		n = vcons_read_line(&con, line, sizeof(line),
				    (uint64_t)timeout_ms * 1000);
		if (n < 0)
			test_fail("no line within %ld ms: %s", timeout_ms,
				  err_name(n));
		printf("console: read \"%s\"\n", line);
		line[n] = '\n';
		err = vcons_write(&con, line, (uint32_t)n + 1);
		if (err)
			test_fail("echoing: %s", err_name(err));
	}
	if (con.rx.errors || con.tx.errors)
		test_fail("virtqueue protocol errors");
	test_pass();
}
