/*
 * apply — the stream's applier: decoded changes into per-table batches, batches into
 * ClickHouse INSERTs, TRUNCATE and schema changes. It knows nothing of the replication
 * protocol: the stream worker (stream.c) hands it decoded pgoutput messages and decides
 * when to flush and what position to confirm.
 *
 * Rows. An INSERT or UPDATE becomes a batch entry keyed by the RowBinary of the table's
 * ORDER BY columns, versioned by the transaction's commit LSN: later changes to the same
 * key in one batch supersede earlier ones. A DELETE is an entry with the key columns and
 * _pgch_is_deleted = 1. An UPDATE that changes the ORDER BY key writes a delete for the
 * old key and the row under the new one. Values pgoutput leaves out (unchanged TOAST,
 * stored generated columns) are taken from the row's earlier entry in the batch, else
 * looked up before the flush (lookup.c).
 *
 * Flush. One INSERT per table with pending rows (RowBinary or Native, streamed from the
 * batch), retried with backoff while ClickHouse is away; the caller's wait function keeps the
 * replication connection alive meanwhile. A flush may run in the background (apply_send.c):
 * the batches move aside and a thread inserts them while new changes fill the emptied ones;
 * `acked` moves only once such a flight has settled. A table ClickHouse keeps rejecting, or whose
 * change cannot be applied, is marked needs_resync: its changes are set aside and the
 * supervisor copies it again.
 *
 * Relations. A Relation message that maps onto the known columns changes nothing; one that
 * does not makes the applier flush, read the source catalog, and carry out schema_diff's
 * changes (schema.h).
 */
#ifndef PGCH_APPLY_H
#define PGCH_APPLY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "batch.h"
#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "pgoutput.h"
#include "progress.h"
#include "rowbinary.h"
#include "rowhook.h"

/* Wait `secs` while keeping the replication connection alive; false: stop was asked for. */
typedef bool (*ApplyWaitFn)(void *ctx, double secs);

typedef struct ApplyOptions {
	const Config *cfg;
	Catalog *cat;
	const ChCaps *caps;
	bool compress;
	int progress_fd;     /* -1: none */
	ApplyWaitFn wait;
	void *wait_ctx;
} ApplyOptions;

typedef struct ApplyTable {
	Table *t;
	ColConv *conv;        /* per destination column */
	int nconv;
	uint64_t unrep;       /* values its policies nulled or clamped, all columns, all time */
	TableBatch batch;
	TableBatch sending;   /* the batch a flush is inserting (apply_send.c) */
	int64_t sent_counts[PROG_N_COUNTS]; /* its counts, reported once ClickHouse has it */
	int *rel_to_col;      /* relation column -> destination column, -1: not replicated */
	int nrel;
	int *col_to_rel;      /* destination column -> relation column, -1: not sent */
	bool *col_dropped;    /* dropped at the source, kept in ClickHouse (written empty) */
	bool have_relation;
	bool resync;          /* needs_resync: changes set aside until copied again */
	char *insert_sql;
	int64_t counts[PROG_N_COUNTS]; /* changes batched since the last flush, for metrics */
	RowHook hook;         /* the table's row hook, if hook.on */
	PgoValue *hooked;     /* the new tuple as the hook left it (per relation column) */
	int nhooked;
} ApplyTable;

/* A flush in flight (apply_send.c). */
typedef struct ApplySender {
	pthread_t thread;
	bool threaded;        /* the thread was started (else the INSERTs ran on the caller's) */
	bool busy;            /* a flight not settled yet: the ClickHouse connection is the thread's */
	atomic_bool done;     /* the thread has finished */
	int *list;            /* tables (indexes) of the flight */
	int64_t *bytes;       /* their bodies' sizes */
	int n;
	int failed_at;        /* the first table whose INSERT failed, -1: none */
	uint64_t upto;        /* what acked becomes once the flight has settled */
	double started;       /* when the flush began (progress_now), for the flush metric */
} ApplySender;

typedef struct Applier {
	const ApplyOptions *o;
	const Config *cfg;
	ChConn ch;
	PGconn *sql;          /* lookups and catalog reads (opened on first use) */
	ApplyTable *tables;
	int ntables;
	bool binary_ok;       /* every column can travel in pgoutput's binary form */
	bool fatal;           /* cannot continue as configured (logged) */
	uint64_t version;     /* the open transaction's commit LSN */
	int64_t commit_unix_us; /* and its commit time */
	int64_t pending_rows; /* changes batched since the last flush */
	double first_pending; /* when the first of them arrived */
	int64_t first_pending_us; /* and its commit time (Unix microseconds), for the lag metric */
	uint64_t rows_applied;
	uint64_t acked;       /* position the stream may confirm: rows before it are all in ClickHouse */
	ApplySender send;
	Buf row, key, scratch;
	RowSlice *slices;     /* room for the widest table's records */
	RowSlice *prev_slices;
	int moved_from;       /* during an update that moves a row: its old key's live entry, or -1 */
} Applier;

/* Set up the tables and the ClickHouse connection; false (logged) if ClickHouse cannot be used. */
bool apply_open(Applier *a, const ApplyOptions *o);
void apply_close(Applier *a);

/* The source connection for queries (opened on first use; NULL, logged, when it cannot be). */
PGconn *apply_source(Applier *a);

/* A transaction begins: its changes carry this version (its commit LSN); commit_time is
 * pgoutput's (microseconds since 2000-01-01), for the lag metric. */
void apply_begin(Applier *a, uint64_t version, int64_t commit_time);

/* Insert ('I'), Update ('U'), Delete ('D'), Relation ('R'), Truncate ('T'); other messages
 * are ignored. false: the stream cannot go on (a->fatal says whether retrying can help). */
bool apply_message(Applier *a, const PgoMsg *m);

/* Insert every table's pending rows before returning. false: stop was asked for, or a fatal error. */
bool apply_flush(Applier *a);

/* Start a flush of every table's pending rows, in the background if `background` (after
 * settling the one in flight); once it settles, acked becomes at least `upto`. false: stop
 * was asked for, or a fatal error. */
bool apply_flush_start(Applier *a, uint64_t upto, bool background);
/* A flush is in flight (not settled); it has finished sending (settling will not wait). */
bool apply_busy(const Applier *a);
bool apply_sent(Applier *a);
/* Wait for the flight, retry what failed, move acked. false: stop asked for, or fatal. */
bool apply_settle(Applier *a);
/* Join the flight without retrying (closing). */
void apply_send_close(Applier *a);

/* Memory held by the pending rows (bytes in use), for pipe.max_batch_memory. */
size_t apply_pending_bytes(const Applier *a);

#endif
