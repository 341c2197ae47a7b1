/*
 * snapshot — the snapshot worker: one partition, from PostgreSQL's binary COPY to one
 * streaming INSERT into ClickHouse (RowBinary, or Native where native_chosen says so).
 *
 * The worker runs in its own process (forked by the supervisor) and opens its own
 * connections, once: it copies partition after partition in one REPEATABLE READ
 * transaction, taking the next partition's number from a pipe until the supervisor closes
 * it (one backend per worker, not per partition, spares the source the cost of a fresh
 * backend faulting in shared_buffers each time). It imports the exported snapshot (REPEATABLE READ + SET TRANSACTION
 * SNAPSHOT), runs COPY (SELECT cols FROM ONLY leaf WHERE ctid range) TO STDOUT (FORMAT
 * binary), and feeds the INSERT from libcurl's read callback: each callback pulls COPY rows,
 * converts every field (rowbinary.c) and appends the row's version (the snapshot's
 * consistent point - 1) and is_deleted = 0; for Native, the values go into a column block
 * (native.c) that is appended whole when full. Memory is one upload buffer (and one block),
 * whatever the size of the partition. Progress goes to the supervisor over a pipe; the result is the exit code.
 */
#ifndef PGCH_SNAPSHOT_H
#define PGCH_SNAPSHOT_H

#include <signal.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "exitcode.h"
#include "plan.h"
#include "types.h"

typedef struct SnapshotJob {
	const Config *cfg;
	const Catalog *cat;
	const Partition *parts;  /* the plan (as it was when the worker was forked) */
	int first;               /* the first partition to copy */
	const char *snapshot_name;
	uint64_t version;        /* consistent point - 1 */
	const ChCaps *caps;
	bool compress;
	int progress_fd;
	int cmd_fd;              /* further partition indexes from the supervisor; EOF: done */
} SnapshotJob;

/* Set by the worker's SIGTERM/SIGINT handler. */
extern volatile sig_atomic_t snapshot_stop;

/* Copy partitions until there are no more; returns a WORKER_* exit code (a failure is the
 * partition in hand's). Each finished partition is reported with PROG_DONE. */
int snapshot_worker_run(const SnapshotJob *job);

#endif
