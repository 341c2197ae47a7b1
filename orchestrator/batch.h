/*
 * batch — one table's pending changes between two flushes, compacted by key.
 *
 * An entry is a row ready for RowBinary: for each destination column a record
 * [state u8][length u32 little-endian][RowBinary bytes], where state 0 is a value and 1 a
 * value still to be found (an unchanged TOAST value, a generated column). Entries live in
 * one arena; a hash table on the key bytes (the RowBinary of the ORDER BY columns) points
 * at the live entry for each key (each slot keeps the key's hash too, so probing and growing
 * the table touch neither the entries nor the arena: on the wide table the arena's cache
 * misses in a rehash were 12% of the stream worker's CPU), so a later change to the same key supersedes the earlier
 * one (ARCHITECTURE.md, "Consistency": changes to the same key within a batch are compacted to the last).
 * Superseded entries stay in the arena until the batch is reset: memory is bounded by
 * flushing when batch_bytes passes the stream's limit.
 */
#ifndef PGCH_BATCH_H
#define PGCH_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum { BATCH_VALUE = 0, BATCH_MISSING = 1 };

typedef struct BatchEntry {
	uint64_t version;
	size_t key_off;
	size_t row_off;
	uint32_t key_len;
	uint32_t row_len;
	uint32_t hash;       /* of the key bytes */
	bool deleted;
	bool live;
	bool missing; /* has columns still to be found */
	/* missing values may come only from the source: the row moved here from another key,
	 * so what ClickHouse holds under this key is another row's */
	bool source_only;
} BatchEntry;

typedef struct BatchSlot {
	int entry;     /* entry index + 1; 0 = empty */
	uint32_t hash; /* the entry's key hash */
} BatchSlot;

typedef struct TableBatch {
	Buf arena;
	BatchEntry *entries;
	int n, cap;
	BatchSlot *slots;
	int nslots;
	int live;
} TableBatch;

void batch_init(TableBatch *b);
void batch_free(TableBatch *b);
void batch_reset(TableBatch *b);

/* The live entry for a key, or NULL. */
BatchEntry *batch_find(TableBatch *b, const char *key, size_t klen);

/* Add an entry (superseding a live one with the same key). Returns its index. */
int batch_add(TableBatch *b, const char *key, size_t klen, uint64_t version, bool deleted, const char *row, size_t rowlen,
	      bool missing);

static inline const char *batch_key(const TableBatch *b, const BatchEntry *e)
{
	return b->arena.data + e->key_off;
}
static inline char *batch_row(TableBatch *b, const BatchEntry *e)
{
	return b->arena.data + e->row_off;
}

/* Bytes in use by the pending entries (arena, entries, index), for the stream's memory bound;
 * 0 after a reset, whatever capacity is kept for the next batch. */
size_t batch_bytes(const TableBatch *b);

/* One column of a row record. */
typedef struct RowSlice {
	const char *data;
	uint32_t len;
	uint8_t state;
} RowSlice;

/* Row records: append one column; find column i (0-based). */
void batch_row_put(Buf *row, uint8_t state, const char *data, size_t len);
bool batch_row_column(const char *row, size_t rowlen, int col, uint8_t *state, const char **data, uint32_t *len);
/* Split a row record into its first n columns in one pass; false if it has fewer or is cut short. */
bool batch_row_split(const char *row, size_t rowlen, int n, RowSlice *out);

#endif
