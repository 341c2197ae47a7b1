/*
 * Unit tests of the batch (compaction by key) and of the version rules of ARCHITECTURE.md, "Consistency",
 * checked against a model of ReplacingMergeTree: the row with the largest version wins,
 * and among equal versions the one inserted last.
 */
#include <stdint.h>
#include <stdlib.h>

#include "batch.h"
#include "tap.h"

/* ReplacingMergeTree's choice among rows with one key, in insertion order. */
typedef struct ModelRow {
	uint64_t version;
	int value;
} ModelRow;

static int model_winner(const ModelRow *rows, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (rows[i].version >= rows[best].version)
			best = i;
	return rows[best].value;
}

static int entry_value(TableBatch *b, const BatchEntry *e)
{
	uint8_t state;
	const char *d;
	uint32_t len;
	if (!batch_row_column(batch_row(b, e), e->row_len, 0, &state, &d, &len) || len != 4)
		return -1;
	int v;
	memcpy(&v, d, 4);
	return v;
}

static void add(TableBatch *b, int key, uint64_t version, int value, bool deleted)
{
	Buf row;
	buf_init(&row);
	batch_row_put(&row, BATCH_VALUE, (const char *)&value, 4);
	batch_row_put(&row, BATCH_MISSING, NULL, 0);
	batch_add(b, (const char *)&key, sizeof key, version, deleted, row.data, row.len, false);
	buf_free(&row);
}

static void test_compaction(void)
{
	TableBatch b;
	batch_init(&b);
	for (int k = 0; k < 1000; k++)
		add(&b, k, 10, k, false);
	is_int(b.live, 1000, "1000 distinct keys are 1000 live entries");
	for (int k = 0; k < 1000; k += 2)
		add(&b, k, 11, -k, false);
	is_int(b.live, 1000, "updating half of them keeps 1000 live entries");
	int key = 2;
	BatchEntry *e = batch_find(&b, (const char *)&key, sizeof key);
	ok(e && e->version == 11 && entry_value(&b, e) == -2, "the live entry of a key is its last change");
	key = 3;
	e = batch_find(&b, (const char *)&key, sizeof key);
	ok(e && e->version == 10 && entry_value(&b, e) == 3, "untouched keys keep their entry");
	add(&b, 3, 12, 0, true);
	e = batch_find(&b, (const char *)&key, sizeof key);
	ok(e && e->deleted, "a delete supersedes the row");
	int live = 0;
	for (int i = 0; i < b.n; i++)
		live += b.entries[i].live;
	is_int(live, b.live, "exactly one live entry per key (%d)", live);
	uint8_t state;
	const char *d;
	uint32_t len;
	ok(batch_row_column(batch_row(&b, e), e->row_len, 1, &state, &d, &len) && state == BATCH_MISSING,
	   "row records keep a missing column's state");
	ok(!batch_row_column(batch_row(&b, e), e->row_len, 2, &state, &d, &len), "no column past the end");
	RowSlice sl[3];
	ok(batch_row_split(batch_row(&b, e), e->row_len, 2, sl) && sl[0].state == BATCH_VALUE && sl[0].len == 4 &&
	   sl[1].state == BATCH_MISSING && sl[1].len == 0,
	   "one pass splits a row into its columns");
	ok(!batch_row_split(batch_row(&b, e), e->row_len, 3, sl), "and refuses a column past the end");
	ok(!batch_row_split(batch_row(&b, e), e->row_len - 6, 1, sl), "or a value cut short");
	batch_reset(&b);
	is_int(b.live, 0, "reset empties the batch");
	key = 2;
	ok(batch_find(&b, (const char *)&key, sizeof key) == NULL, "and forgets its keys");
	batch_free(&b);
}

/*
 * The equal-LSN edge: a transaction whose commit record starts exactly at the snapshot's
 * consistent point is not in the snapshot and is streamed; snapshot rows carry cp - 1, so
 * the streamed row (version cp) wins whatever the insertion order. Chunks of one large
 * transaction share its version, so the later chunk (inserted later) wins.
 */
static void test_versions(void)
{
	uint64_t cp = 0x16B3748;
	uint64_t snapshot_version = cp - 1;
	ModelRow cdc_first[] = {{cp, 2}, {snapshot_version, 1}};
	ModelRow snap_first[] = {{snapshot_version, 1}, {cp, 2}};
	is_int(model_winner(cdc_first, 2), 2, "a transaction committed at the consistent point beats the snapshot row "
					      "even when inserted first");
	is_int(model_winner(snap_first, 2), 2, "and when inserted after it");
	ModelRow earlier[] = {{snapshot_version, 1}, {cp - 8, 0}};
	is_int(model_winner(earlier, 2), 1, "a transaction the snapshot saw (commit before cp) loses to the snapshot row");

	/* a large transaction flushed in two chunks: same version, compaction within each */
	TableBatch b;
	batch_init(&b);
	uint64_t v = cp + 100;
	add(&b, 7, v, 1, false);
	add(&b, 7, v, 2, false);
	ModelRow inserted[4];
	int n = 0;
	for (int i = 0; i < b.n; i++)
		if (b.entries[i].live)
			inserted[n++] = (ModelRow){b.entries[i].version, entry_value(&b, &b.entries[i])};
	is_int(n, 1, "chunk 1: the key's two changes compacted to one row");
	batch_reset(&b);
	add(&b, 7, v, 3, false);
	for (int i = 0; i < b.n; i++)
		if (b.entries[i].live)
			inserted[n++] = (ModelRow){b.entries[i].version, entry_value(&b, &b.entries[i])};
	is_int(model_winner(inserted, n), 3, "chunk 2 (same version, inserted later) wins");
	/* a replay after a crash re-sends both chunks in order: still the last */
	inserted[n++] = (ModelRow){v, 2};
	inserted[n++] = (ModelRow){v, 3};
	is_int(model_winner(inserted, n), 3, "a full replay of the transaction ends on the same value");
	batch_free(&b);
}

/*
 * The memory bound counts bytes in use. A reset keeps the arena's capacity for the next
 * batch; counting capacity made every row after a 64 MB batch look like a full batch, so
 * each was flushed alone (one INSERT per row).
 */
static void test_bytes_in_use(void)
{
	TableBatch b;
	batch_init(&b);
	is_int(batch_bytes(&b), 0, "an empty batch holds no bytes");
	char big[4096];
	memset(big, 'x', sizeof big);
	for (int k = 0; k < 5000; k++)
		batch_add(&b, (const char *)&k, sizeof k, 1, false, big, sizeof big, false);
	size_t full = batch_bytes(&b);
	ok(full >= 5000u * sizeof big, "a batch of 5000 rows of 4 kB counts at least their bytes (%zu)", full);
	ok(full < 5000u * sizeof big * 2, "and not the arena's doubled capacity (%zu of capacity %zu)", full, b.arena.cap);
	batch_reset(&b);
	is_int(batch_bytes(&b), 0, "after a reset the batch counts 0 bytes, whatever capacity it keeps");
	int k = 1;
	batch_add(&b, (const char *)&k, sizeof k, 2, false, big, sizeof big, false);
	ok(batch_bytes(&b) < 64u * 1024, "one row after a large batch counts as one row (%zu bytes)", batch_bytes(&b));
	batch_free(&b);
}

int main(void)
{
	test_bytes_in_use();
	test_compaction();
	test_versions();
	return done_testing();
}
