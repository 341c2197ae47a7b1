/*
 * schema — relation messages and schema changes while streaming (DESIGN.md §3).
 *
 * Relation messages are re-sent on every connection and after every invalidation, so they
 * are not evidence of a change: schema_relation maps the message's columns onto the known
 * destination columns by name and type, and only when that fails diffs the source catalog
 * (by attnum) against what pgch knows and the destination's columns. A new column gets its
 * missing-value default in ClickHouse (old rows read it, as in PostgreSQL); a rename is a
 * rename where the server can; a dropped column stays in ClickHouse and is written empty;
 * a type change that maps to a different ClickHouse type, a rewrite, or anything the
 * server cannot do marks the table needs_resync. Every DDL is idempotent: it checks
 * system.columns first (18.16 has no ADD COLUMN IF NOT EXISTS).
 */
#ifndef PGCH_SCHEMA_H
#define PGCH_SCHEMA_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "pgoutput.h"

typedef struct Stream Stream;
typedef struct StreamTable StreamTable;

/* Handle a Relation message for a replicated table; false only on fatal errors. */
bool schema_relation(Stream *s, StreamTable *st, const PgoMsg *m);

/*
 * Before any worker starts: add the source's columns that an existing destination table
 * lacks (columns added while pgch was not running), with their missing-value defaults.
 * *unsure: the old rows' values of an added column cannot be known (a volatile default, or
 * the destination has columns the source lacks, so it may be a rename): copy it again.
 */
bool schema_add_columns(ChConn *ch, PGconn *pg, const Config *cfg, const Table *t, bool *unsure);

#endif
