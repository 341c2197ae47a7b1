/*
 * fill — the body of a stream INSERT from a table's batch; see fill.h.
 */
#include "fill.h"

#include "log.h"

#define FILL_CHUNK (512u << 10)

static inline uint32_t record_len(const unsigned char *p)
{
	return (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
}

/* RowBinary: each record's column bytes in order, then version and is_deleted. */
static void fill_rowbinary(Fill *f, const BatchEntry *e, Buf *out)
{
	const unsigned char *p = (const unsigned char *)batch_row(f->batch, e);
	for (int c = 0; c < f->ncols; c++) {
		uint32_t len = record_len(p);
		buf_put(out, (const char *)p + 5, len);
		p += 5 + (size_t)len;
	}
	buf_put_le(out, e->version, 8);
	buf_put_u8(out, e->deleted ? 1 : 0);
}

/* Native: the record's values into the block's columns; a full block goes to out. */
static bool fill_native(Fill *f, const BatchEntry *e, Buf *out)
{
	const unsigned char *p = (const unsigned char *)batch_row(f->batch, e);
	for (int c = 0; c < f->ncols; c++) {
		uint32_t len = record_len(p);
		if (!native_put_rowbinary(f->block, c, (const char *)p + 5, len)) {
			log_error("internal error: column %d of a batched row is not RowBinary of its type", c + 1);
			return false;
		}
		p += 5 + (size_t)len;
	}
	native_row_meta(f->block, e->version, e->deleted);
	if (native_row_done(f->block))
		native_flush(f->block, out);
	return true;
}

int fill_next(void *ctx, Buf *out)
{
	Fill *f = ctx;
	TableBatch *b = f->batch;
	size_t start = out->len;
	while (f->next < b->n && out->len < FILL_CHUNK) {
		const BatchEntry *e = &b->entries[f->next++];
		if (!e->live)
			continue;
		if (!f->block)
			fill_rowbinary(f, e, out);
		else if (!fill_native(f, e, out))
			return -1;
	}
	if (f->block && f->next >= b->n)
		native_flush(f->block, out);
	f->bytes += (int64_t)(out->len - start);
	return f->next < b->n ? 1 : 0;
}
