/*
 * native — ClickHouse Native format for the snapshot's INSERTs: column blocks assembled from
 * the values rowbinary_put writes.
 *
 * Why: ClickHouse 18.16 parses a RowBinary INSERT row by row into one block of up to
 * max_insert_block_size (1,048,576) rows, and its insert pipeline then copies every block
 * whole (SquashingBlockOutputStream: a copy-on-write clone, then an append into the
 * accumulated block). For a wide table that is hundreds of megabytes per copy: perf on the
 * server puts memmove and the page faults of fresh allocations at about 60% of its CPU.
 * Native blocks arrive columnar and as small as they are sent, so those copies stay small
 * and reuse memory. Measured on the 64-column wide table (scripts/wide.sh, 300,000 rows):
 * the server's CPU for the INSERT falls from 4.6 s (RowBinary) to 3.2 s (Native, 8,192-row
 * blocks), medians of four alternated runs of the same data sent by curl.
 *
 * Native format (what ClickHouse reads over HTTP, with no client revision): per block, a
 * varint column count and a varint row count, then per column its name (String), its type
 * name (String) and its data:
 *   - fixed-width types: one little-endian value per row, as in RowBinary;
 *   - String: one varint length and the bytes per row, as in RowBinary;
 *   - Nullable(T): one null-map byte per row (1 = NULL), then T's data with a default value
 *     ('' or zeros) in the NULL rows;
 *   - Array(T): one UInt64 per row, the cumulative element count (offsets), then the elements
 *     as a column of T (Nullable elements: their null map, then their values).
 * Every value is converted by rowbinary_put straight into its column's data buffer, so both
 * formats carry the same bytes per value and the same policies; native only moves what
 * Native keeps elsewhere: a Nullable flag to the null map, an array's count to the offsets.
 *
 * The stream writes Native too (native_init_rows): its batch records already hold each
 * value as rowbinary_put wrote it, so native_put_rowbinary only moves the Nullable flag and
 * an array's count, and each row brings its own version and deleted flag.
 *
 * Used where the server's types are the plain ones measured here (no LowCardinality, which
 * Native encodes with dictionaries): native_chosen says so from the probed capabilities.
 * Other servers keep RowBinary until a measurement on one shows Native wins there too.
 */
#ifndef PGCH_NATIVE_H
#define PGCH_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "rowbinary.h"
#include "config.h"
#include "types.h"

/* Rows per block, or fewer when rows are wide. On 18.16, blocks of 4k-16k rows cost the
 * server alike and 64k-row blocks a third more; 2 MB rather than 8 MB kept pgch's copies in
 * cache (its peak RSS 12 MB instead of 21 MB on the wide table, and a little less CPU), and
 * 512 KB rather than 2 MB took a third off what a large transaction adds to the stream's
 * RSS (cdc_batch_memory.t: 10.4 MB instead of 15 MB; the block, its encoded copy and its
 * compressed copy live beside the two batches) with snapshot times unchanged (3 runs each,
 * pgbench_accounts and the wide table). ClickHouse squashes blocks into parts by its own
 * min_insert_block_size, so parts do not multiply. */
#define NATIVE_BLOCK_ROWS 8192
#define NATIVE_BLOCK_BYTES (512u << 10)

typedef struct NativeCol {
	char *name;
	char *type;        /* type name in the block header */
	bool nullable;     /* Nullable(T); for arrays, of the elements */
	bool array;
	ChType elem;       /* one value: not nullable, not an array */
	char dflt[32];     /* elem's default value, for NULL rows */
	size_t dflt_len;
	Buf nulls;         /* null map */
	Buf data;          /* values, after one spare byte (see native_put) */
	Buf offsets;       /* arrays: cumulative element counts */
	uint64_t elements; /* arrays: elements in this block so far */
	Buf split;         /* arrays: the value being taken apart */
} NativeCol;

typedef struct NativeBlock {
	int ncols;         /* the table's columns; the version and deleted columns follow */
	NativeCol *cols;
	char *version_name, *deleted_name;
	uint64_t version;
	bool per_row;      /* native_init_rows: versions and deleted flags per row, below */
	Buf versions, deleted;
	size_t rows;
	size_t max_rows;   /* NATIVE_BLOCK_ROWS; tests make blocks smaller */
} NativeBlock;

/* Does this server get Native INSERTs from the snapshot? */
bool native_chosen(const ChCaps *caps);

/* A block for table t's columns, then the version column (= version) and deleted (= 0). */
void native_init(NativeBlock *b, const Table *t, const Config *cfg, uint64_t version);
void native_free(NativeBlock *b);

/* A block for the stream: each row's version and deleted flag come from native_row_meta. */
void native_init_rows(NativeBlock *b, const Table *t, const Config *cfg);

/* One value of column i already in RowBinary (n bytes at p, as rowbinary_put wrote it for
 * the column's type, Nullable flag included) into the block; false if the bytes do not
 * parse as that type (the block is then unusable). */
bool native_put_rowbinary(NativeBlock *b, int i, const char *p, size_t n);

/* The version and deleted flag of the row being built, in a native_init_rows block. */
void native_row_meta(NativeBlock *b, uint64_t version, bool deleted);

/*
 * Convert one value of column i (len < 0: SQL NULL) into the block with rowbinary_put;
 * its result, and err, as rowbinary_put's. On failure the block is left unusable (callers
 * abandon the INSERT, as they abandon a RowBinary one).
 */
ConvResult native_put(NativeBlock *b, int i, ColConv *conv, bool binary, const char *data, int len, char *err,
		      size_t errlen);

/* The row is complete; true when the block should be flushed. */
bool native_row_done(NativeBlock *b);

/* Append the block (if it has rows) to out and start the next one. */
void native_flush(NativeBlock *b, Buf *out);

#endif
