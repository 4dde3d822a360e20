/* SPDX-License-Identifier: MIT */
/*
 * virtio_rng: read 4 KiB from a virtio-rng device twice and check that it
 * looks random: not one repeated byte, many distinct byte values, and the
 * two reads differ. irq=1 uses MSI-X, verbose=1 says more.
 */
#include "vrng.h"

#define READ_SIZE    4096
#define MIN_DISTINCT 128 /* of 256; 4 KiB of random bytes have ~255 */

static unsigned distinct_bytes(const uint8_t *p, size_t n)
{
	bool seen[256] = {false};
	unsigned count = 0;

	for (size_t i = 0; i < n; i++)
		if (!seen[p[i]]) {
			seen[p[i]] = true;
			count++;
		}
	return count;
}

int main(void)
{
	struct virtio_opts o = {
		.irq = cmdline_int("irq", 0) > 0,
		.verbose = cmdline_int("verbose", 0) > 0,
	};
	static struct vrng rng;
	uint8_t *a = dma_alloc(READ_SIZE, 4096),
		*b = dma_alloc(READ_SIZE, 4096);
	unsigned da, db;
	int err;

	if (!a || !b)
		test_fail("no memory");
	err = vrng_open(&rng, 0, &o);
	if (err)
		test_fail("no usable virtio-rng device: %s", err_name(err));
	err = vrng_read(&rng, a, READ_SIZE);
	if (!err)
		err = vrng_read(&rng, b, READ_SIZE);
	if (err)
		test_fail("reading: %s", err_name(err));
	da = distinct_bytes(a, READ_SIZE);
	db = distinct_bytes(b, READ_SIZE);
	printf("rng: read %u bytes twice in %lu requests, %u and %u distinct "
	       "byte values\n",
	       READ_SIZE, rng.vq.completed, da, db);
	if (da == 1 || db == 1)
		test_fail("a read is one byte value repeated (0x%02x)",
			  da == 1 ? a[0] : b[0]);
	if (da < MIN_DISTINCT || db < MIN_DISTINCT)
		test_fail("too few distinct byte values for random data");
	if (!memcmp(a, b, READ_SIZE))
		test_fail("the two reads are identical");
	if (rng.vq.errors)
		test_fail("%u virtqueue protocol errors", rng.vq.errors);
	test_pass();
}
