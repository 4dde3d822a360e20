/* SPDX-License-Identifier: MIT */
#include "daemon/dlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static FILE *log_file; /* NULL: stderr */

static const char *const level_name[] = {
	[LOG_ERR] = "error: ",
	[LOG_WARN] = "warning: ",
	[LOG_INFO] = "",
	[LOG_DEBUG] = "debug: ",
};

int dlog_open(const char *path)
{
	FILE *f;

	if (!path)
		return 0;
	f = fopen(path, "ae");
	if (!f) {
		int err = errno;

		dlog(LOG_ERR, "--log: cannot open %s: %s", path, strerror(err));
		return -err;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	log_file = f;
	return 0;
}

void dlog_close(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

static void dlog_line(enum log_level level, const char *vm, const char *fmt,
		      va_list ap)
{
	char line[768], when[40] = "";
	struct timeval tv;
	struct tm tm;

	if (level > log_threshold)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_file) {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + strlen(when), sizeof(when) - strlen(when),
			 ".%03ldZ ", (long)tv.tv_usec / 1000);
	}
	/* One fprintf per line: lines from request threads never mix. */
	fprintf(log_file ? log_file : stderr, "%sberthd: %s%s%s%s%s\n", when,
		level_name[level], vm ? "vm " : "", vm ? vm : "",
		vm ? ": " : "", line);
}

void dlog(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dlog_line(level, NULL, fmt, ap);
	va_end(ap);
}

void dlog_vm(enum log_level level, const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dlog_line(level, id, fmt, ap);
	va_end(ap);
}
