/* SPDX-License-Identifier: MIT */
#include "host/cpus.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* Read one CPU number at *s (decimal, below CPU_SETSIZE) and advance. */
static int cpu_number(const char **s, unsigned *cpu)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)**s))
		return -EINVAL;
	errno = 0;
	v = strtoul(*s, &end, 10);
	if (errno || v >= CPU_SETSIZE)
		return -EINVAL;
	*s = end;
	*cpu = (unsigned)v;
	return 0;
}

/* Call add(cpu, ctx) for every CPU in list s, in order; stops at the first
 * nonzero return and returns it. Whitespace around the list is allowed (the
 * sysfs file ends in a newline). */
static int cpu_list_walk(const char *s, int (*add)(unsigned cpu, void *ctx),
			 void *ctx)
{
	unsigned lo, hi;
	int ret;

	while (isspace((unsigned char)*s))
		s++;
	for (;;) {
		if (cpu_number(&s, &lo))
			return -EINVAL;
		hi = lo;
		if (*s == '-') {
			s++;
			if (cpu_number(&s, &hi) || hi < lo)
				return -EINVAL;
		}
		for (unsigned c = lo; c <= hi; c++) {
			ret = add(c, ctx);
			if (ret)
				return ret;
		}
		if (*s != ',')
			break;
		s++;
	}
	while (isspace((unsigned char)*s))
		s++;
	return *s ? -EINVAL : 0;
}

struct cpu_array {
	unsigned *out;
	unsigned n, max;
};

static int cpu_array_add(unsigned cpu, void *ctx)
{
	struct cpu_array *a = ctx;

	if (a->n == a->max)
		return -EINVAL;
	a->out[a->n++] = cpu;
	return 0;
}

int cpu_list_parse(const char *s, unsigned *out, unsigned max)
{
	struct cpu_array a = {.out = out, .max = max};
	int ret = cpu_list_walk(s, cpu_array_add, &a);

	return ret ? ret : (int)a.n;
}

static int cpu_set_add(unsigned cpu, void *ctx)
{
	CPU_SET(cpu, (cpu_set_t *)ctx);
	return 0;
}

int host_cpus_online(const char *path, cpu_set_t *set)
{
	char buf[4096];
	ssize_t n;
	int fd, err;

	CPU_ZERO(set);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		pr_err("cannot read the online CPUs from %s: %s", path,
		       strerror(err));
		return -err;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n < 0) {
		pr_err("cannot read the online CPUs from %s: %s", path,
		       strerror(err));
		return -err;
	}
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (cpu_list_walk(buf, cpu_set_add, set) || !CPU_COUNT(set)) {
		pr_err("%s: '%s' is not a CPU list", path, buf);
		return -EINVAL;
	}
	return 0;
}
