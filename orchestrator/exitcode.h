/*
 * exitcode — every process status pgch uses, in one place.
 *
 * pgch's own exit statuses are a contract with scripts (README, "Exit status"). Worker
 * processes (snapshot workers, the stream worker, the catch-up worker) report how they
 * ended through their exit status, which the supervisor reads with waitpid: the statuses
 * below are the whole failure protocol between them. The numbers are chosen so that a
 * worker's status read as pgch's own still means roughly the same (1: failed, may be
 * retried; 2: fix something first; 3: stopped before the work was done).
 */
#ifndef PGCH_EXITCODE_H
#define PGCH_EXITCODE_H

/* pgch's exit status. */
enum {
	PGCH_EXIT_OK = 0,
	PGCH_EXIT_FAILED = 1,     /* one line on stderr says what and how to fix it */
	PGCH_EXIT_USAGE = 2,      /* usage or configuration error */
	PGCH_EXIT_INCOMPLETE = 3, /* pgch snapshot stopped by SIGTERM/SIGINT before every table was copied */
};

/* A worker's exit status (every role). */
typedef enum WorkerExit {
	WORKER_OK = 0,            /* done: no more partitions, or the catch-up position reached */
	WORKER_RETRY = 1,         /* transient: connection lost, ClickHouse error; restarted with backoff */
	WORKER_FATAL = 2,         /* cannot continue as configured (logged); the run stops */
	WORKER_STOPPED = 3,       /* asked to stop (SIGTERM/SIGINT): flushed and confirmed what it had */
	WORKER_SNAPSHOT_GONE = 4, /* snapshot worker: the exported snapshot can no longer be imported */
	WORKER_SCHEMA = 5,        /* snapshot worker: the table's columns changed at the source */
	WORKER_SLOT_LOST = 6,     /* stream worker: the slot is gone or invalidated; a new copy is needed */
} WorkerExit;

#endif
