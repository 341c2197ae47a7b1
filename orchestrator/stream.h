/*
 * stream — the streaming worker: START_REPLICATION from the pipe's slot with pgoutput,
 * decoded changes batched per table into ClickHouse INSERTs, feedback once ClickHouse has
 * acknowledged them (ARCHITECTURE.md, "Consistency").
 *
 * Versions: every row of a transaction carries the Begin message's final LSN (its commit
 * LSN, known before the first change, so chunks of a large transaction agree). Feedback
 * reports the Commit's end LSN of the last transaction whose rows ClickHouse has all
 * acknowledged; when idle (no open transaction, nothing pending) it may jump to the
 * server's position from a keepalive. A batch closes after pipe.sync_interval seconds or
 * pipe.batch_size rows or a memory bound, at a transaction boundary when possible; a
 * transaction larger than that is sent in chunks with the same version. While ClickHouse is
 * unreachable, inserts are retried with backoff and status updates keep flowing, so
 * wal_sender_timeout never ends the connection.
 */
#ifndef PGCH_STREAM_H
#define PGCH_STREAM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "exitcode.h"
#include "types.h"

typedef struct StreamOptions {
	const Config *cfg;
	Catalog *cat;
	const ChCaps *caps;
	bool compress;
	uint64_t stop_at;   /* catch-up: stop once every transaction committed before this LSN is applied */
	int progress_fd;    /* -1: none */
} StreamOptions;

extern volatile sig_atomic_t stream_stop;

/* Run the streaming loop (with stop_at: until that position, the catch-up); returns a WorkerExit:
 * WORKER_OK when stop_at is reached, WORKER_STOPPED when asked to stop. */
int stream_run(const StreamOptions *o);

#endif
