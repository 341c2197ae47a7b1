/*
 * fill — the body of a stream INSERT, made from one table's batch (batch.h): each live
 * entry's row record, in entry order, as RowBinary rows or as Native blocks (native.h).
 *
 * Why both: ClickHouse 18.16 parses a RowBinary INSERT into one block of up to a million
 * rows and copies it whole through its insert pipeline; Native blocks of a few thousand
 * rows arrive columnar and stay small. On the 64-column wide table the server's CPU for the
 * stream's INSERTs is the largest serial part of a catch-up after PostgreSQL's decoding;
 * fill_native writes the same value bytes (the records hold what rowbinary_put wrote) in
 * the layout the snapshot already uses where native_chosen says so.
 */
#ifndef PGCH_FILL_H
#define PGCH_FILL_H

#include <stdint.h>

#include "batch.h"
#include "buf.h"
#include "native.h"

typedef struct Fill {
	TableBatch *batch;
	int ncols;          /* destination columns: the records' first ncols values */
	NativeBlock *block; /* NULL: RowBinary */
	int next;           /* next entry */
	int64_t bytes;      /* body bytes written so far */
} Fill;

/* A ChFillFn: append the next entries (about FILL_CHUNK bytes) to out; 1 more follows, 0 the
 * end, -1 a record that does not parse (Native only; internal error, logged). */
int fill_next(void *ctx, Buf *out);

#endif
