/*
 * batch — per-table pending changes compacted by key; see batch.h.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

void batch_init(TableBatch *b)
{
	memset(b, 0, sizeof *b);
	buf_init(&b->arena);
}

void batch_free(TableBatch *b)
{
	buf_free(&b->arena);
	free(b->entries);
	free(b->slots);
	memset(b, 0, sizeof *b);
}

void batch_reset(TableBatch *b)
{
	buf_reset(&b->arena);
	b->n = 0;
	b->live = 0;
	if (b->slots)
		memset(b->slots, 0, sizeof(BatchSlot) * (size_t)b->nslots);
	/* give memory back after an unusually large batch */
	if (b->arena.cap > (64u << 20)) {
		buf_free(&b->arena);
		buf_init(&b->arena);
	}
	if (b->cap > 1 << 20) {
		free(b->entries);
		b->entries = NULL;
		b->cap = 0;
		free(b->slots);
		b->slots = NULL;
		b->nslots = 0;
	}
}

static uint32_t key_hash(const char *key, size_t klen)
{
	uint64_t h = buf_hash(key, klen);
	return (uint32_t)(h ^ h >> 32);
}

/* The slot holding key (hash h), or the empty slot where it would go. */
static BatchSlot *slot_for(TableBatch *b, const char *key, size_t klen, uint32_t h)
{
	size_t mask = (size_t)b->nslots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		BatchSlot *s = &b->slots[i];
		if (s->entry == 0)
			return s;
		if (s->hash != h)
			continue;
		const BatchEntry *e = &b->entries[s->entry - 1];
		if (e->key_len == klen && memcmp(b->arena.data + e->key_off, key, klen) == 0)
			return s;
	}
}

/* Grow the index; live keys are distinct, so each goes to the first empty slot of its run. */
static void rehash(TableBatch *b, int nslots)
{
	free(b->slots);
	b->nslots = nslots;
	b->slots = xcalloc((size_t)nslots, sizeof(BatchSlot));
	size_t mask = (size_t)nslots - 1;
	for (int i = 0; i < b->n; i++) {
		const BatchEntry *e = &b->entries[i];
		if (!e->live)
			continue;
		size_t j = e->hash & mask;
		while (b->slots[j].entry != 0)
			j = (j + 1) & mask;
		b->slots[j] = (BatchSlot){i + 1, e->hash};
	}
}

BatchEntry *batch_find(TableBatch *b, const char *key, size_t klen)
{
	if (b->nslots == 0)
		return NULL;
	int s = slot_for(b, key, klen, key_hash(key, klen))->entry;
	return s ? &b->entries[s - 1] : NULL;
}

int batch_add(TableBatch *b, const char *key, size_t klen, uint64_t version, bool deleted, const char *row, size_t rowlen,
	      bool missing)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->entries = xrealloc(b->entries, sizeof(BatchEntry) * (size_t)b->cap);
	}
	if ((b->n + 1) * 2 > b->nslots)
		rehash(b, b->nslots ? b->nslots * 2 : 512);
	BatchEntry *e = &b->entries[b->n];
	e->version = version;
	e->deleted = deleted;
	e->live = true;
	e->missing = missing;
	e->source_only = false;
	e->key_off = b->arena.len;
	e->key_len = (uint32_t)klen;
	e->hash = key_hash(key, klen);
	buf_put(&b->arena, key, klen);
	e->row_off = b->arena.len;
	e->row_len = (uint32_t)rowlen;
	buf_put(&b->arena, row, rowlen);
	BatchSlot *s = slot_for(b, key, klen, e->hash);
	if (s->entry)
		b->entries[s->entry - 1].live = false;
	else
		b->live++;
	*s = (BatchSlot){b->n + 1, e->hash};
	return b->n++;
}

size_t batch_bytes(const TableBatch *b)
{
	/* bytes in use, not capacity: a reset keeps its arena for the next batch, and counting
	 * that capacity would make every following row look like a full batch */
	return b->arena.len + (sizeof(BatchEntry) + 2 * sizeof(BatchSlot)) * (size_t)b->n; /* the index is kept half empty */
}

void batch_row_put(Buf *row, uint8_t state, const char *data, size_t len)
{
	buf_put_u8(row, state);
	buf_put_le(row, (uint64_t)len, 4);
	if (len)
		buf_put(row, data, len);
}

bool batch_row_split(const char *row, size_t rowlen, int n, RowSlice *out)
{
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		if (off + 5 > rowlen)
			return false;
		const unsigned char *h = (const unsigned char *)row + off;
		uint32_t l = (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 24;
		if (l > rowlen - off - 5)
			return false;
		out[i].state = h[0];
		out[i].len = l;
		out[i].data = row + off + 5;
		off += 5 + (size_t)l;
	}
	return true;
}

bool batch_row_column(const char *row, size_t rowlen, int col, uint8_t *state, const char **data, uint32_t *len)
{
	size_t off = 0;
	for (int i = 0;; i++) {
		if (off + 5 > rowlen)
			return false;
		uint32_t l = (uint32_t)(unsigned char)row[off + 1] | (uint32_t)(unsigned char)row[off + 2] << 8 |
			     (uint32_t)(unsigned char)row[off + 3] << 16 | (uint32_t)(unsigned char)row[off + 4] << 24;
		if (i == col) {
			*state = (uint8_t)row[off];
			*data = row + off + 5;
			*len = l;
			return off + 5 + l <= rowlen;
		}
		off += 5 + l;
	}
}
