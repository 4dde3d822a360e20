/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: berthd and its VMs in the Prometheus text exposition
 * format, version 0.0.4. Names and labels are stable (docs/api.md lists
 * them); per-process counters (CPU, disk, network) are read live at scrape
 * time and start again from 0 when a VM is restarted, as Prometheus
 * counters may.
 */
#ifndef BERTH_DAEMON_METRICS_H
#define BERTH_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct registry;

/* A growing text buffer; on allocation failure it stops growing and says
 * so in oom. */
struct prom_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Append printf-style text. */
void prom_printf(struct prom_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append s as a label value: backslash, double quote and newline become
 * \\, \" and \n. */
void prom_label_value(struct prom_buf *b, const char *s);

/* Append the "# HELP" and "# TYPE" lines of a metric family (the help
 * text with backslash and newline escaped). */
void prom_family(struct prom_buf *b, const char *name, const char *type,
		 const char *help);

/* Append one sample line: name, then labels (pairs of name and value,
 * n_labels pairs; values escaped) in braces if any, then value. */
void prom_sample(struct prom_buf *b, const char *name,
		 const char *const *labels, unsigned n_labels,
		 const char *value);

/* Format ns as seconds with nine decimals ("3.140000000") into buf. */
void prom_seconds(char *buf, size_t len, unsigned long long ns);

/* The whole exposition for r's VMs into *text (malloc'd, *len bytes).
 * -ENOMEM. */
int reg_metrics(struct registry *r, char **text, size_t *len)
	__attribute__((warn_unused_result));

#endif
