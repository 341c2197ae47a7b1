/*
 * verify_rows — the row-by-row comparison of one table for pgch verify (verify.c runs it
 * under a snapshot and prints the results).
 *
 * Every replicated value is compared, not a digest of it: the source's rows are read and
 * converted to RowBinary by the same converters the snapshot uses, ClickHouse's rows are
 * read as RowBinary from the deduplicated view (FINAL), and a row is equal when its bytes
 * are, so any difference in any column is found, with its key and the columns that
 * differ. Both sides are read once, ordered by key, and matched through a hash of the key
 * bytes: rows wait in the table only until their counterpart arrives, so memory stays
 * small when both sides order rows alike (they are asked to: text keys in byte order).
 *
 * A ClickHouse row whose version is the snapshot's consistent point or later changed after
 * the snapshot: a difference on its key is not counted as one; the key is kept (up to
 * VERIFY_RECHECK_MAX) so that verify.c can compare it again under a later snapshot, with
 * pg_where and ch_where restricting both sides to the kept keys.
 */
#ifndef PGCH_VERIFY_ROWS_H
#define PGCH_VERIFY_ROWS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "rowbinary.h"
#include "rowhook.h"

#define VERIFY_SHOW 20            /* differences printed per table */
#define VERIFY_FETCH "5000"       /* source rows per FETCH */
#define VERIFY_FUTURE 1000        /* rows with versions past the check's start kept to check */
#define VERIFY_RECHECK_MAX 10000  /* keys changed during the check compared again, per table */

typedef struct VRow {
	struct VRow *next;   /* hash chain */
	uint64_t hash;
	uint64_t version;    /* ClickHouse rows */
	bool deleted;        /* ClickHouse rows */
	uint32_t klen, rlen;
	char *key;           /* RowBinary of the key columns */
	char *row;           /* RowBinary of every column */
	uint32_t *off;       /* column c is row[off[c], off[c + 1]) */
	char *key_text;      /* for messages */
	char *key_vals;      /* the key columns' text forms, each ending in NUL (NULL: not usable in SQL) */
} VRow;

typedef struct VMap {
	VRow **slots;
	size_t nslots, n;
} VMap;

typedef struct Compare {
	const Config *cfg;
	const Table *t;
	uint64_t since;       /* the snapshot's consistent point: ClickHouse versions from here on are later */
	uint64_t wal_start;   /* the source's WAL position when the check began */
	const char *pg_where; /* NULL: every row; else " WHERE ..." on the source */
	const char *ch_where; /* and on ClickHouse */
	VRow *future;         /* rows with a version past wal_start: checked against the WAL at the end */
	int nfuture;
	PGconn *pg;
	ColConv *conv;
	RowHook hook;         /* the table's row hook: source rows go through it, as the copy's do */
	VMap pg_wait, ch_wait;
	Buf pending;          /* ClickHouse bytes not yet a whole row */
	uint64_t pg_rows, ch_rows;
	bool pg_done;
	bool failed;
	uint64_t differ, changed;
	Buf recheck_pg;       /* the changed keys as a source predicate's list, */
	Buf recheck_ch;       /* and ClickHouse's */
	int nrecheck;
	Buf shown;            /* the differences printed (text) */
	Buf shown_json;       /* and as JSON objects */
	int nshown;
} Compare;

/* Set up a comparison of table t (since, wal_start and the wheres are set by the caller). */
void verify_compare_init(Compare *cmp, const Config *cfg, const Table *t, PGconn *pg);
void verify_compare_free(Compare *cmp);
/* Compare the table row by row; false if a side could not be read (logged). */
bool verify_compare_table(Compare *cmp, ChConn *ch, const ChCaps *caps);
/* A difference, counted and shown up to VERIFY_SHOW. */
void verify_note(Compare *cmp, const char *key_text, const char *what, const char *columns);
/* The kept keys as " WHERE ..." predicates on both sides (false when none is kept). */
bool verify_recheck_where(const Compare *cmp, Buf *pg_where, Buf *ch_where);

#endif
