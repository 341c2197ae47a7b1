/*
 * state — progress kept in the destination, in a table users can query (DESIGN.md §4):
 *
 *   SELECT * FROM <db>._pgch_state FINAL WHERE pipe = 'app' ORDER BY source_table, part
 *
 * One row per (pipe, source_table, part), a ReplacingMergeTree keyed by that triple and
 * versioned by `seq` (microseconds, strictly increasing per writer), so the latest write of
 * a row wins. Rows:
 *   - the pipe:       source_table = '', part = -1: status, snapshot LSN of the slot, slot name
 *   - each table:     part = -1: status (copying, done, needs_resync), rows, target
 *   - each partition: part >= 0: the plan (leaf relation, page range) and its status, rows and
 *                     the snapshot LSN it was read under
 * The plan is written before any copying starts, so a resumed run reuses the same ranges.
 */
#ifndef PGCH_STATE_H
#define PGCH_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ch.h"
#include "config.h"

typedef struct StateRow {
	char *table;   /* source table, "" for the pipe row */
	int part;      /* -1 for pipe and table rows */
	char *target;
	char *leaf;    /* quoted relation the partition reads */
	uint32_t start, end;
	char *status;
	uint64_t rows;
	uint64_t lsn;
	char *info;
	char *updated_at;
} StateRow;

typedef struct State {
	StateRow *rows;
	int n;
} State;

/* Create the destination database and the state table if missing. */
bool state_ensure(ChConn *ch, const Config *cfg);
/* Load this pipe's rows (empty if the table does not exist yet). */
bool state_load(ChConn *ch, const Config *cfg, State *st);
void state_free(State *st);
const StateRow *state_find(const State *st, const char *table, int part);
/* Write rows (insert; the newest wins). Strings may be NULL for "". */
bool state_write(ChConn *ch, const Config *cfg, const StateRow *rows, int n);
/* Remove this pipe's rows (for --restart and drop). */
bool state_clear(ChConn *ch, const Config *cfg);

#endif
