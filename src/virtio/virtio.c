/* SPDX-License-Identifier: MIT */
#include "virtio/virtio.h"

#include "util/log.h"

void virtio_queue_used(struct virtio_dev *d, unsigned q)
{
	if (q < d->num_queues && virtq_should_notify(&d->vqs[q]))
		d->tops->notify_queue(d->transport, q);
}

void virtio_dev_broken(struct virtio_dev *d, const char *why)
{
	pr_warn("%s: %s: device needs reset", d->name, why);
	d->tops->needs_reset(d->transport);
}

void virtio_config_changed(struct virtio_dev *d)
{
	d->tops->notify_config(d->transport);
}
