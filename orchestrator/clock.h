/*
 * clock — seconds on the monotonic clock, for timeouts, stalls and durations: it never jumps
 * with the wall clock. The one place pgch reads it (progress_now, the INSERT stall check and
 * libpq's connect timeout all use this).
 */
#ifndef PGCH_CLOCK_H
#define PGCH_CLOCK_H

#include <time.h>

static inline double clock_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
