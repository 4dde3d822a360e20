/* SPDX-License-Identifier: MIT */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum log_level log_threshold = LOG_WARN;

static const char *const level_name[] = {
	[LOG_ERR] = "error: ",
	[LOG_WARN] = "warning: ",
	[LOG_INFO] = "",
	[LOG_DEBUG] = "debug: ",
};

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so lines from vCPU threads do not interleave. */
	fprintf(stderr, "berth: %s%s\n", level_name[level], line);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool ratelimit_allow(struct ratelimit *rl)
{
	uint64_t now = now_ms();
	uint64_t refill;

	if (rl->interval_ms) {
		refill = (now - rl->last_ms) / rl->interval_ms;
		if (refill) {
			rl->tokens = refill >= rl->burst ? rl->burst
							 : rl->tokens + refill;
			if (rl->tokens > rl->burst)
				rl->tokens = rl->burst;
			rl->last_ms = now;
		}
	}
	if (rl->tokens) {
		rl->tokens--;
		return true;
	}
	rl->suppressed++;
	return false;
}
