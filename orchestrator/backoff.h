/*
 * backoff — the delay before the next attempt of something that failed: `first` seconds,
 * doubling with each further failure, at most `max`. Used for partitions, the stream
 * worker's restarts and the stream's retries of ClickHouse requests.
 */
#ifndef PGCH_BACKOFF_H
#define PGCH_BACKOFF_H

/* failures: how many attempts have failed so far (1: the first one). */
static inline double backoff_delay(int failures, double first, double max)
{
	double d = first;
	for (int i = 1; i < failures && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

#endif
