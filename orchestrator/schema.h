/*
 * schema — what a Relation message or a changed source catalog means for a replicated
 * table, as pure functions (docs/ARCHITECTURE.md, "Consistency", schema changes).
 *
 * Relation messages are re-sent on every connection and after every invalidation, so they
 * are not evidence of a change: schema_map_relation maps the message's columns onto the
 * known destination columns by name and type and says whether every column is accounted
 * for. Only when it is not does the applier read the source catalog again and ask
 * schema_diff what changed, by attnum: a dropped column stays in ClickHouse and is written
 * empty; a rename is a rename (of the ClickHouse column when its ClickHouse name changes with
 * it: the config's renames follow the source's name); a column dropped and added again under
 * its ClickHouse name is revived;
 * a new column is added; a type that maps to another ClickHouse type cannot be applied
 * (the table is copied again). The applier (apply.c) carries the changes out, with the
 * DDL helpers in schema_ddl.c.
 *
 * schema_ddl.c also holds the I/O side shared with the supervisor: a new column's
 * missing-value default, read from the source, and the columns added while pgch was not
 * running. Every DDL is idempotent: system.columns is checked first (18.16 has no
 * ADD COLUMN IF NOT EXISTS).
 */
#ifndef PGCH_SCHEMA_H
#define PGCH_SCHEMA_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "pgoutput.h"

/* ---------------------------------------------------------------- pure */

/*
 * Map a Relation message's columns (by name, skipping known columns dropped at the source)
 * onto the table's known columns: rel_to_col[m->ncols], col_to_rel[t->ncols] (-1: none).
 * True when every column is accounted for: the same type OIDs, no column pgch does not know
 * (except excluded ones), no known column missing (except stored generated and dropped ones).
 */
bool schema_map_relation(const Table *t, const bool *dropped, const PgoMsg *m, int *rel_to_col, int *col_to_rel);

typedef enum SchemaChangeKind {
	SCHEMA_KEEP,   /* known column `col` is source column `now` (its type OID may have changed) */
	SCHEMA_RENAME, /* known column `col` is now called now[`now`].name (ClickHouse: .ch_name) */
	SCHEMA_DROP,   /* known column `col` was dropped at the source: kept in ClickHouse, written empty */
	SCHEMA_REVIVE, /* dropped column `col` was added again under its ClickHouse name, with the same type */
	SCHEMA_ADD,    /* source column `now` is new */
} SchemaChangeKind;

typedef struct SchemaChange {
	SchemaChangeKind kind;
	int col; /* index into the known columns, -1 for SCHEMA_ADD */
	int now; /* index into the source's columns, -1 for SCHEMA_DROP */
} SchemaChange;

typedef struct SchemaDiff {
	SchemaChange *changes; /* known columns first (in order), then new ones */
	int n;
	const char *resync;    /* non-NULL: the change cannot be applied in place, and why */
} SchemaDiff;

/*
 * Compare the known columns (dropped[c]: dropped at the source earlier) with the source's
 * columns now, by attnum. SCHEMA_ADD changes come last, so applying them in order may
 * append to the known columns without moving the others.
 */
void schema_diff(const Column *known, int nknown, const bool *dropped, const Column *now, int nnow, SchemaDiff *out);
void schema_diff_free(SchemaDiff *d);

/* A known column, not dropped at the source, that ClickHouse knows as ch_name (a new source
 * column's ClickHouse name taken by another's rename), or -1. */
int schema_ch_name_owner(const Table *t, const bool *dropped, const char *ch_name);

/* ---------------------------------------------------------------- with the servers (schema_ddl.c) */

/* Does the destination table have a column of this name? false if the query failed (logged). */
bool schema_ch_has_column(ChConn *ch, const Config *cfg, const Table *t, const char *name, bool *has);

/*
 * The ClickHouse DEFAULT clause (" DEFAULT ...", or "" for none) for column c added at the
 * source: old rows read the stored missing value, as in PostgreSQL. false when the column
 * has a default without a stored missing value (a volatile default rewrote the table, so
 * existing rows hold values pgch never saw) or the catalog cannot be read.
 */
bool schema_missing_default(PGconn *conn, const Table *t, const Column *c, Buf *out);

/*
 * Before any worker starts: add the source's columns that an existing destination table
 * lacks (columns added while pgch was not running), with their missing-value defaults.
 * *unsure (NULL, or why): the old rows' values of an added column cannot be known (a volatile
 * default, or the destination has columns the plan lacks, so it may be a rename): copy it again.
 */
bool schema_add_columns(ChConn *ch, PGconn *pg, const Config *cfg, const Table *t, const char **unsure);

/*
 * Before a table is copied again: does its destination table have columns the plan lacks
 * (dropped or renamed at the source, or renamed in the config's columns = { ... })? Then it
 * is made anew rather than truncated. false if the query failed (logged).
 */
bool schema_dest_extra(ChConn *ch, const Config *cfg, const Table *t, bool *extra);

#endif
