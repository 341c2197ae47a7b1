/*
 * state — progress kept in the destination, in a table users can query (ARCHITECTURE.md, "ClickHouse tables"):
 *
 *   SELECT * FROM <db>._pgch_state FINAL WHERE pipe = 'app' ORDER BY source_table, part
 *
 * One row per (pipe, source_table, part), a ReplacingMergeTree keyed by that triple and
 * versioned by `seq` (microseconds, strictly increasing per writer), so the latest write of
 * a row wins. Four kinds of rows, told apart by source_table and part:
 *
 *   kind        source_table  part   what it says
 *   pipe        ''            -1     status, the slot's snapshot LSN, slot_kept, the endpoint
 *                                    the stream writes to
 *   table       schema.name   -1     status, rows, target, unrepresentable
 *   partition   schema.name   >= 0   the plan (leaf relation, page range), status, rows and
 *                                    the snapshot LSN it was read under
 *   request     ''            -2     pgch pause / pgch resume, for a running pgch run
 *
 * The plan is written before any copying starts, so a resumed run reuses the same ranges.
 *
 * In C a row is a StateRecord: its kind and status are enums, and this module alone turns
 * them into the stored part number and status word and back. Facts a run reads back have
 * typed columns (slot_kept, unrepresentable, endpoint); `info` is text for people and is never read
 * back, with one exception for migration: rows written by a pgch older than the typed
 * columns (where they are NULL) carried those facts in `info` ("slot kept", "unrepresentable
 * values: N"), and state_decode reads them from there for such rows alone. A state table
 * created by that older pgch gets the typed columns added by state_ensure.
 */
#ifndef PGCH_STATE_H
#define PGCH_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "ch.h"
#include "config.h"
#include "plan.h"

typedef enum StateKind {
	STATE_PIPE,
	STATE_TABLE,
	STATE_PARTITION,
	STATE_REQUEST,
} StateKind;

/* The stored words are the lower-case names: "todo", "copying", "needs_resync", ... */
typedef enum StateStatus {
	STATE_UNKNOWN,          /* a word this version does not know (written by a newer pgch) */
	STATE_TODO,             /* partition: not copied yet */
	STATE_COPYING,          /* table: being copied */
	STATE_COPIED,           /* table: copied; pgch snapshot has yet to apply the changes made meanwhile */
	STATE_DONE,             /* partition, table, pipe: finished */
	STATE_NEEDS_RESYNC,     /* table: its changes could not be applied; pgch run copies it again */
	STATE_RESYNC_REQUESTED, /* table: pgch resync asked for a new copy */
	STATE_SNAPSHOTTING,     /* pipe: pgch snapshot or pgch run is copying */
	STATE_STREAMING,        /* pipe: pgch run copied everything and streams */
	STATE_STOPPED,          /* pipe: pgch run was stopped */
	STATE_FORGOTTEN,        /* any row: progress forgotten (--restart, drop); loaded as absent */
	STATE_PAUSED,           /* request: pgch pause */
	STATE_RUNNING,          /* request: pgch resume */
} StateStatus;

typedef struct StateRecord {
	StateKind kind;
	StateStatus status;
	char *table;               /* source table (schema.name); "" for pipe and request rows */
	int part;                  /* partition number (STATE_PARTITION), else unused */
	char *target;
	char *leaf;                /* quoted relation the partition reads */
	uint32_t start, end;
	uint64_t rows;
	uint64_t lsn;
	bool slot_kept;            /* pipe: the slot is kept for pgch run (done), or in use */
	bool slot_foreign;         /* pipe: the slot is not pgch's (pipe.slot named one it did not create):
				    * never dropped; stored as slot_kept = 2 */
	uint64_t unrepresentable;  /* table: values written as NULL or clamped */
	char *endpoint;            /* pipe: the destination.url endpoint the stream writes to ("": none) */
	char *info;                /* for people: a slot name, why a table needs a new copy */
	char *updated_at;          /* loaded rows: "YYYY-MM-DD hh:mm:ss" (UTC) */
} StateRecord;

typedef struct State {
	StateRecord *rows;
	int n;
} State;

/* Create the destination database and the state table if missing, and add the typed columns
 * to a state table created by an older pgch. */
bool state_ensure(ChConn *ch, const Config *cfg);
/* Load this pipe's rows (empty if the table does not exist yet); creates nothing. */
bool state_load(ChConn *ch, const Config *cfg, State *st);
void state_free(State *st);
/* The row of that kind (table: for table and partition rows; part: for partitions), or NULL. */
const StateRecord *state_find(const State *st, StateKind kind, const char *table, int part);
/* Write rows (insert; the newest wins). Strings may be NULL for "". */
bool state_put(ChConn *ch, const Config *cfg, const StateRecord *rows, int n);
/* Remove this pipe's rows (for --restart and drop). */
bool state_clear(ChConn *ch, const Config *cfg);

/* Forget one table's rows (the table and its partitions), as state_clear does for all. */
bool state_forget_table(ChConn *ch, const Config *cfg, const char *table);
/* The stream's mark on a table whose changes cannot be applied (why: for people). */
bool state_mark_needs_resync(ChConn *ch, const Config *cfg, const char *table, const char *target, uint64_t lsn,
			     const char *why);

/* Rows built from the plan (strings point into t; nothing is allocated). */
void state_row_pipe(StateRecord *r, StateStatus status, uint64_t lsn, bool slot_kept, const char *info);
void state_row_partition(StateRecord *r, const Table *t, const Partition *p, StateStatus status);
/* A table's row: rows and the newest snapshot LSN summed over its partitions (table ti of plan). */
void state_row_table(StateRecord *r, const Table *t, int ti, const Plan *plan, StateStatus status,
		     uint64_t unrepresentable);

/* ---- the encoding, exposed for the unit tests */

const char *state_status_name(StateStatus s);
StateStatus state_status_parse(const char *word);
/* One INSERT line: pipe, source_table, part, target, leaf, range_start, range_end, status,
 * rows, snapshot_lsn, info, slot_kept, unrepresentable, endpoint, seq (TabSeparated, escaped). */
void state_encode(const StateRecord *r, const char *pipe, uint64_t seq, Buf *out);
/* One loaded line, fields in the order of state_encode without pipe and with updated_at in
 * place of seq; "" in slot_kept / unrepresentable stands for NULL (a row of an older pgch).
 * Strings are copied. false: not a row of a kind this version knows (skipped). */
bool state_decode(char *const *f, int nf, StateRecord *out);
void state_record_free(StateRecord *r);

#endif
