/*
 * rowfilter — what leaves the source: a table's row filter (`where`) and column list
 * (`exclude_columns`), the same for the snapshot and the stream (ARCHITECTURE.md,
 * "Row filters and column lists").
 *
 * The snapshot reads a filtered table with `WHERE (filter)`; the stream gets the filter as
 * the publication's row filter and the kept columns as its column list (PostgreSQL 15+),
 * so PostgreSQL turns an UPDATE that leaves the filter into a DELETE, one that enters it
 * into an INSERT, and never decodes nor sends an excluded column. PostgreSQL refuses
 * UPDATE and DELETE on the source table itself when the filter reads a column outside the
 * replica identity, or the column list leaves one out, so such a config is refused here,
 * before anything is created, with the statement that makes it safe.
 *
 * rowfilter_check asks PostgreSQL which columns a filter reads: it creates a temporary
 * view over the filter inside a transaction it rolls back (so it also checks that the
 * filter is valid SQL over the table's columns) and reads the view's column dependencies.
 */
#ifndef PGCH_ROWFILTER_H
#define PGCH_ROWFILTER_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"

/* PostgreSQL's first version with publication row filters and column lists. */
#define ROWFILTER_MIN_VERSION 150000

/* ---------------------------------------------------------------- pure */

/* May a source of this server_version_num have a row filter? */
bool rowfilter_version_ok(int server_version);

/* Is t's filter refused on this server_version_num? Then why[] says so and what to do. */
bool rowfilter_refuse_version(const Table *t, int server_version, char *why, size_t whylen);

/*
 * The first attnum in filter_att that is not in ident_att, or 0 when every column the
 * filter reads is in the replica identity (always 0 for REPLICA IDENTITY FULL, replident
 * 'f', whose identity is every column).
 */
int rowfilter_outside_identity(char replident, const int *filter_att, int nfilter, const int *ident_att, int nident);

/* Does the table's publication entry carry a column list (exclude_columns on 15+)? */
bool rowfilter_has_column_list(const Table *t, int server_version);

/*
 * The filter as a condition appended to a query: " WHERE (f)", or " AND (f)" after a WHERE
 * already written (have_where); nothing for a table without a filter.
 */
void rowfilter_sql(const Table *t, bool have_where, Buf *out);

/* The table as a publication names it: "s"."t" [(columns)] [WHERE (filter)]. */
void rowfilter_publication_table(PGconn *conn, const Table *t, int server_version, Buf *out);

/* ---------------------------------------------------------------- with the source */

/*
 * Check t's filter and column list against the server (its version, the filter's columns,
 * the replica identity). A problem is reported once with the config's file:line and false
 * returned; false with *failed set when a query failed (logged).
 */
bool rowfilter_check(PGconn *conn, const Config *cfg, int server_version, const Table *t, bool *failed);

#endif
