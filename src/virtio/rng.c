/* SPDX-License-Identifier: MIT */
#include "virtio/rng.h"

#include <errno.h>
#include <sys/random.h>

/* Bytes handed out per request at most: a guest asking for more gets a
 * short answer, which the spec allows (5.4.6.1), and cannot make the I/O
 * thread spend long on one chain. */
#define RNG_MAX_PER_REQUEST 65536

static long rng_fill(struct virtio_dev *d, const struct virtq_chain *c)
{
	uint8_t buf[4096];
	uint64_t want = c->in_len < RNG_MAX_PER_REQUEST ? c->in_len
							: RNG_MAX_PER_REQUEST;
	uint64_t done = 0;

	while (done < want) {
		size_t n =
			want - done < sizeof(buf) ? want - done : sizeof(buf);
		ssize_t got = getrandom(buf, n, 0);
		long put;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		put = virtq_chain_write(&d->vqs[0], c, done, buf, (size_t)got);
		if (put <= 0)
			break;
		done += (uint64_t)put;
	}
	return (long)done;
}

static void rng_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtq *vq = &d->vqs[q];
	struct virtq_chain c;
	bool pushed = false;
	int ret;

	while ((ret = virtq_pop(vq, &c)) > 0) {
		if (virtq_push(vq, c.head, (uint32_t)rng_fill(d, &c)))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_queue_used(d, q);
	if (ret < 0)
		virtio_dev_broken(d, "malformed request queue");
}

static const struct virtio_dev_ops rng_ops = {
	.queue_notify = rng_queue_notify,
};

void virtio_rng_init(struct virtio_dev *d, const char *name)
{
	*d = (struct virtio_dev){
		.name = name,
		.device_id = VIRTIO_ID_RNG,
		.pci_class = 0xff0000, /* unclassified device */
		.num_queues = 1,
		.queue_max = 256,
		.ops = &rng_ops,
	};
}
