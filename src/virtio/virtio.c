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
	/* A guest can break and reset a queue in a loop: a few lines a
	 * second at most, whatever it does. */
	static struct ratelimit rl = RATELIMIT_INIT(5, 1000);
	static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
	bool log;

	pthread_mutex_lock(&rl_lock);
	log = ratelimit_allow(&rl);
	pthread_mutex_unlock(&rl_lock);
	if (log)
		pr_warn("%s: %s: device needs reset", d->name, why);
	d->tops->needs_reset(d->transport);
}

void virtio_config_changed(struct virtio_dev *d)
{
	d->tops->notify_config(d->transport);
}
