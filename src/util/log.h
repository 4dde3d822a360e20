/* SPDX-License-Identifier: MIT */
/* Logging: one line per event on stderr, prefixed "berth: ". */
#ifndef BERTH_UTIL_LOG_H
#define BERTH_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped; default LOG_WARN. */
extern enum log_level log_threshold;

/* Print one formatted line (a newline is added) if level passes the threshold. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A token bucket: at most burst events, refilled at one per interval_ms. */
struct ratelimit {
	uint64_t last_ms;
	unsigned burst;
	unsigned tokens;
	unsigned interval_ms;
	unsigned suppressed;
};

#define RATELIMIT_INIT(b, ms)                                    \
	{                                                        \
		.burst = (b), .tokens = (b), .interval_ms = (ms) \
	}

/* True if the caller may log now; counts the events it suppresses. Not
 * thread-safe on its own: callers serialise (the bus holds its lock). */
bool ratelimit_allow(struct ratelimit *rl);

#endif
