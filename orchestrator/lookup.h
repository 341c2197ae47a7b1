/*
 * lookup — values a change did not carry, found before a batch is flushed.
 *
 * pgoutput leaves out unchanged TOAST values ('u') unless the table has REPLICA IDENTITY
 * FULL, and never sends stored generated columns. The applier marks such columns missing
 * in a batch entry; before the INSERT, lookup_resolve fills them:
 *
 *   1. from ClickHouse: the latest live row already written under the entry's key (one
 *      SELECT ... FINAL ... WHERE (key) IN (...) FORMAT RowBinary per table), for keys whose
 *      types print as simple literals, and not for rows that moved to a new key (what
 *      ClickHouse holds there is another row's);
 *   2. from the source: the current values by key, one SELECT per table;
 *   3. an entry found in neither is dropped: its row no longer exists at the source, and
 *      the change that removed it follows in the stream.
 *
 * Answers are matched to entries through a hash of the key columns' RowBinary bytes, and
 * each entry's row is rebuilt once with every value found, so a lookup costs one pass over
 * the answer and one over the batch.
 */
#ifndef PGCH_LOOKUP_H
#define PGCH_LOOKUP_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "batch.h"
#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "rowbinary.h"

typedef struct LookupTable {
	const Table *t;
	ColConv *conv;           /* per destination column */
	const bool *col_dropped; /* dropped at the source (NULL: none) */
	TableBatch *batch;
} LookupTable;

/* The source connection, opened on first use by the caller's function (NULL: unavailable, logged). */
typedef PGconn *(*LookupSourceFn)(void *ctx);

/*
 * Fill the missing values of the live entries. Records are laid out as the applier writes
 * them: the destination columns, then the PostgreSQL text form of each key column.
 * false: a lookup failed (logged); *fatal is set when retrying cannot help.
 */
bool lookup_resolve(const LookupTable *lt, const Config *cfg, ChConn *ch, LookupSourceFn source, void *ctx,
		    bool *fatal);

#endif
