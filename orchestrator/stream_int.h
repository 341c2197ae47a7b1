/*
 * stream_int — the streaming worker's state, shared by stream.c (the loop, batching,
 * flushing) and schema.c (relation messages and schema changes). Not for other modules.
 */
#ifndef PGCH_STREAM_INT_H
#define PGCH_STREAM_INT_H

#include <libpq-fe.h>

#include "batch.h"
#include "ch.h"
#include "pgoutput.h"
#include "rowbinary.h"
#include "stream.h"

typedef struct StreamTable {
	Table *t;
	ColConv *conv;        /* per destination column */
	int nconv;
	TableBatch batch;
	int *rel_to_col;      /* relation column -> destination column, -1: not replicated */
	int nrel;
	int *col_to_rel;      /* destination column -> relation column, -1: not sent */
	bool *col_dropped;    /* dropped at the source, kept in ClickHouse (written empty) */
	bool have_relation;
	bool resync;          /* needs_resync: changes set aside until copied again */
	char *insert_sql;
} StreamTable;

typedef struct Stream {
	const StreamOptions *o;
	const Config *cfg;
	PGconn *repl;
	PGconn *sql;          /* lookups, heartbeats, catalog reads (opened on first use) */
	ChConn ch;
	PgoDecoder dec;
	StreamTable *tables;
	int ntables;
	bool binary;
	bool in_txn;
	bool fatal;
	bool reached;         /* catch-up target passed */
	uint64_t version;     /* the open transaction's commit LSN */
	uint64_t last_commit_end;
	uint64_t confirmed;   /* reported as flushed */
	uint64_t received;
	uint64_t server_pos;  /* from keepalives */
	int64_t pending_rows;
	uint64_t rows_applied;
	uint64_t txns;
	double first_pending;
	double last_status;
	double last_heartbeat;
	double last_request;
	double status_interval;
	Buf row;
	Buf key;
	int moved_from; /* during an update that moves a row: its old key's live batch entry, or -1 */
} Stream;

/* (Re)build a table's converters, INSERT statement and column maps after its columns changed. */
bool stream_table_columns(Stream *s, StreamTable *st);
/* Flush every table's pending rows (retrying while ClickHouse is away). */
bool stream_flush(Stream *s);
/* Set a table aside until it is copied again (state row, supervisor told). */
void stream_mark_resync(Stream *s, StreamTable *st, const char *why);
/* The non-replication connection, opened on first use. */
PGconn *stream_sql_conn(Stream *s);

#endif
