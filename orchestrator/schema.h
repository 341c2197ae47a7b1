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

#include "pgoutput.h"

typedef struct Stream Stream;
typedef struct StreamTable StreamTable;

/* Handle a Relation message for a replicated table; false only on fatal errors. */
bool schema_relation(Stream *s, StreamTable *st, const PgoMsg *m);

#endif
