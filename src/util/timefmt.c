/* SPDX-License-Identifier: MIT */
#include "util/timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The largest time accepted: the year 9999, well inside int64 ms. */
#define TIME_MAX_S 253402300799LL

void time_format(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	int frac = (int)(ms % 1000);
	struct tm tm;
	size_t n;

	if (frac < 0) { /* before 1970: floor, not truncate */
		frac += 1000;
		s--;
	}
	if (!gmtime_r(&s, &tm) ||
	    !(n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm))) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf + n, len - n, ".%03dZ", frac);
}

/* Exactly n digits at *p, as a number; advances *p. -1 if not. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* ".ddd..." at *p as milliseconds (digits past the third are dropped);
 * 0 if there is no fraction. -1 for a dot without digits. */
static int fraction_ms(const char **p)
{
	int ms = 0, n = 0;

	if (**p != '.')
		return 0;
	for ((*p)++; isdigit((unsigned char)**p); (*p)++, n++)
		if (n < 3)
			ms = ms * 10 + (**p - '0');
	if (!n)
		return -1;
	for (; n < 3; n++)
		ms *= 10;
	return ms;
}

/* "Z", "z" or "+hh:mm" / "-hh:mm" as seconds east of UTC; -EINVAL. */
static int offset_parse(const char *p, long *off)
{
	int h, m, sign;

	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		*off = 0;
		return 0;
	}
	if (*p != '+' && *p != '-')
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	h = digits(&p, 2);
	if (h < 0 || *p++ != ':')
		return -EINVAL;
	m = digits(&p, 2);
	if (m < 0 || *p || h > 23 || m > 59)
		return -EINVAL;
	*off = sign * (h * 3600L + m * 60L);
	return 0;
}

static int rfc3339_parse(const char *p, int64_t *ms)
{
	struct tm tm = {0};
	int frac, mday;
	long off;
	time_t t;

	tm.tm_year = digits(&p, 4) - 1900;
	if (tm.tm_year < -1900 || *p++ != '-')
		return -EINVAL;
	tm.tm_mon = digits(&p, 2) - 1;
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || *p++ != '-')
		return -EINVAL;
	tm.tm_mday = digits(&p, 2);
	if (tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p++;
	tm.tm_hour = digits(&p, 2);
	if (tm.tm_hour < 0 || tm.tm_hour > 23 || *p++ != ':')
		return -EINVAL;
	tm.tm_min = digits(&p, 2);
	if (tm.tm_min < 0 || tm.tm_min > 59 || *p++ != ':')
		return -EINVAL;
	tm.tm_sec = digits(&p, 2);
	/* No leap seconds: the times here come from Unix clocks. */
	if (tm.tm_sec < 0 || tm.tm_sec > 59)
		return -EINVAL;
	frac = fraction_ms(&p);
	if (frac < 0 || offset_parse(p, &off))
		return -EINVAL;
	mday = tm.tm_mday;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: refuse that. */
	if (tm.tm_mday != mday || t == (time_t)-1)
		return -EINVAL;
	*ms = ((int64_t)t - off) * 1000 + frac;
	return 0;
}

/* Unix seconds, optionally with a fraction. */
static int unix_parse(const char *s, int64_t *ms)
{
	const char *p = s;
	long long v = 0;
	int frac;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > TIME_MAX_S)
			return -EINVAL;
	}
	frac = fraction_ms(&p);
	if (frac < 0 || *p)
		return -EINVAL;
	*ms = (int64_t)v * 1000 + frac;
	return 0;
}

int time_parse(const char *s, int64_t *ms)
{
	size_t n = strspn(s, "0123456789");

	if (n == 4 && s[4] == '-')
		return rfc3339_parse(s, ms);
	return unix_parse(s, ms);
}

int duration_parse(const char *s, int64_t *ms)
{
	static const struct {
		char unit;
		double ms;
	} units[] = {{'s', 1e3}, {'m', 60e3}, {'h', 3600e3}, {'d', 86400e3}};
	char *end;
	double v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !*end || end[1])
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (*end == units[i].unit &&
		    v * units[i].ms <= TIME_MAX_S * 1e3) {
			*ms = (int64_t)(v * units[i].ms + 0.5);
			return 0;
		}
	}
	return -EINVAL;
}
