/*
 * snapshot — the snapshot worker: one partition, from PostgreSQL's binary COPY to one
 * streaming RowBinary INSERT into ClickHouse.
 *
 * The worker runs in its own process (forked by the supervisor) and opens its own
 * connections. It imports the exported snapshot (REPEATABLE READ + SET TRANSACTION
 * SNAPSHOT), runs COPY (SELECT cols FROM ONLY leaf WHERE ctid range) TO STDOUT (FORMAT
 * binary), and feeds the INSERT from libcurl's read callback: each callback pulls COPY rows,
 * converts every field (rowbinary.c) and appends the row's version (the snapshot's
 * consistent point - 1) and is_deleted = 0. Memory is one upload buffer, whatever the size
 * of the partition. Progress goes to the supervisor over a pipe; the result is the exit code.
 */
#ifndef PGCH_SNAPSHOT_H
#define PGCH_SNAPSHOT_H

#include <signal.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "plan.h"
#include "types.h"

/* Worker exit codes: the failure protocol between workers and the supervisor. */
enum {
	WORKER_OK = 0,
	WORKER_RETRY = 1,         /* transient: connection lost, ClickHouse error; retried with backoff */
	WORKER_FATAL = 2,         /* the data cannot be written as configured; the run stops */
	WORKER_SNAPSHOT_GONE = 3, /* the exported snapshot can no longer be imported */
	WORKER_STOPPED = 4,       /* asked to stop (SIGTERM/SIGINT); the partition stays to do */
};

typedef struct SnapshotJob {
	const Config *cfg;
	const Table *table;
	const Partition *part;
	int part_index;          /* in the plan: progress messages carry it */
	const char *snapshot_name;
	uint64_t version;        /* consistent point - 1 */
	const ChCaps *caps;
	bool compress;
	int progress_fd;
} SnapshotJob;

/* Set by the worker's SIGTERM/SIGINT handler. */
extern volatile sig_atomic_t snapshot_stop;

/* Run one partition; returns a WORKER_* exit code. */
int snapshot_worker_run(const SnapshotJob *job);

#endif
