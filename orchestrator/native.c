/*
 * native — Native blocks from RowBinary values; see native.h for the format and the why.
 */
#include "native.h"

#include <stdlib.h>
#include <string.h>

#include "ch.h"
#include "pgvalue.h"
#include "plan.h"

bool native_chosen(const ChCaps *caps)
{
	/* Every type pgch declares on a server without LowCardinality has the plain Native
	 * layout above; 18.16 is such a server, and the one where Native was measured. */
	return !caps->has_low_cardinality;
}

static void col_init(NativeCol *c, const char *name, const ChType *ch, const ChCaps *caps)
{
	memset(c, 0, sizeof *c);
	c->name = xstrdup(name);
	Buf t;
	buf_init(&t);
	types_ch_name(ch, &t);
	c->type = buf_steal(&t);
	c->nullable = ch->nullable;
	c->array = ch->array;
	c->elem = *ch;
	c->elem.nullable = c->elem.array = false;
	/* the default value's bytes, as rowbinary writes it for a non-nullable value */
	ColConv conv;
	rowbinary_init(&conv, PG_OTHER, &c->elem, UNREP_ERROR, caps);
	Buf d;
	buf_init(&d);
	rowbinary_put_default(&conv, &d);
	c->dflt_len = d.len < sizeof c->dflt ? d.len : sizeof c->dflt;
	memcpy(c->dflt, d.data, c->dflt_len);
	buf_free(&d);
	rowbinary_free(&conv);
	buf_init(&c->nulls);
	buf_init(&c->data);
	buf_put_u8(&c->data, 0); /* the spare byte */
	buf_init(&c->offsets);
	buf_init(&c->split);
}

void native_init(NativeBlock *b, const Table *t, const Config *cfg, uint64_t version)
{
	memset(b, 0, sizeof *b);
	b->ncols = t->ncols;
	b->cols = xcalloc((size_t)t->ncols, sizeof(NativeCol));
	ChCaps plain;
	memset(&plain, 0, sizeof plain);
	for (int i = 0; i < t->ncols; i++)
		col_init(&b->cols[i], t->cols[i].ch_name, &t->cols[i].ch, &plain);
	b->version_name = xstrdup(cfg->dest.version_column);
	b->deleted_name = xstrdup(cfg->dest.deleted_column);
	b->version = version;
	b->max_rows = NATIVE_BLOCK_ROWS;
	buf_init(&b->versions);
	buf_init(&b->deleted);
}

void native_init_rows(NativeBlock *b, const Table *t, const Config *cfg)
{
	native_init(b, t, cfg, 0);
	b->per_row = true;
}

void native_free(NativeBlock *b)
{
	for (int i = 0; i < b->ncols; i++) {
		NativeCol *c = &b->cols[i];
		free(c->name);
		free(c->type);
		buf_free(&c->nulls);
		buf_free(&c->data);
		buf_free(&c->offsets);
		buf_free(&c->split);
	}
	free(b->cols);
	buf_free(&b->versions);
	buf_free(&b->deleted);
	free(b->version_name);
	free(b->deleted_name);
	memset(b, 0, sizeof *b);
}

/* One element of c's type at p (n bytes) into c's null map and data. */
static bool put_element(NativeCol *c, const char *p, size_t n, size_t *used)
{
	size_t off = 0;
	if (c->nullable) {
		if (n < 1)
			return false;
		buf_put_u8(&c->nulls, (uint8_t)p[0]);
		off = 1;
		if (p[0]) {
			buf_put(&c->data, c->dflt, c->dflt_len);
			*used = 1;
			return true;
		}
	}
	size_t len;
	if (!rowbinary_skip(&c->elem, p + off, n - off, &len))
		return false;
	buf_put(&c->data, p + off, len);
	*used = off + len;
	return true;
}

/* Array: rowbinary wrote a varint count and the elements at mark; take them out of the data
 * and put them back one by one (Nullable elements split like scalars), the count into the
 * offsets. */
static bool split_array(NativeCol *c, size_t mark)
{
	Buf *d = &c->data;
	Buf *s = &c->split;
	buf_reset(s);
	buf_put(s, d->data + mark, d->len - mark);
	d->len = mark;
	uint64_t count;
	size_t off;
	if (!rowbinary_read_varint(s->data, s->len, &off, &count))
		return false;
	for (uint64_t k = 0; k < count; k++) {
		size_t used;
		if (!put_element(c, s->data + off, s->len - off, &used))
			return false;
		off += used;
	}
	c->elements += count;
	buf_put_le(&c->offsets, c->elements, 8);
	return off == s->len;
}

ConvResult native_put(NativeBlock *b, int i, ColConv *conv, bool binary, const char *data, int len, char *err,
		      size_t errlen)
{
	NativeCol *c = &b->cols[i];
	Buf *d = &c->data;
	if (!c->nullable && !c->array) /* the RowBinary value is the Native value */
		return rowbinary_put(conv, binary, data, len, d, err, errlen);
	if (c->array) {
		size_t mark = d->len;
		ConvResult r = rowbinary_put(conv, binary, data, len, d, err, errlen);
		if (r == CONV_OK && !split_array(c, mark))
			return pgvalue_bad(err, errlen, "internal error: not a RowBinary %s", c->type);
		return r;
	}
	buf_reserve(&c->nulls, 1);
	if (len < 0) {
		c->nulls.data[c->nulls.len++] = 1;
		buf_put(d, c->dflt, c->dflt_len);
		return CONV_OK;
	}
	if (binary && conv->fast && rowbinary_put_fast(conv, data, len, d)) {
		c->nulls.data[c->nulls.len++] = 0;
		return CONV_OK;
	}
	/* Nullable(T): rowbinary writes a flag byte, then the value. Let the flag land on the
	 * last byte before the value's place (the previous value's, or the spare byte), saved
	 * and put back: the value is written where Native wants it, nothing is moved. */
	size_t at = d->len - 1;
	char saved = d->data[at];
	d->len = at;
	ConvResult r = rowbinary_put(conv, binary, data, len, d, err, errlen);
	if (r != CONV_OK)
		return r;
	uint8_t flag = (uint8_t)d->data[at];
	d->data[at] = saved;
	c->nulls.data[c->nulls.len++] = (char)flag;
	if (flag) { /* the policy wrote NULL for a value without a ClickHouse form */
		d->len = at + 1;
		buf_put(d, c->dflt, c->dflt_len);
	}
	return CONV_OK;
}

bool native_put_rowbinary(NativeBlock *b, int i, const char *p, size_t n)
{
	NativeCol *c = &b->cols[i];
	if (c->array) {
		size_t mark = c->data.len;
		buf_put(&c->data, p, n);
		return split_array(c, mark);
	}
	if (!c->nullable) {
		buf_put(&c->data, p, n);
		return true;
	}
	if (n < 1 || (p[0] && n != 1))
		return false;
	buf_put_u8(&c->nulls, (uint8_t)p[0]);
	if (p[0])
		buf_put(&c->data, c->dflt, c->dflt_len);
	else
		buf_put(&c->data, p + 1, n - 1);
	return true;
}

void native_row_meta(NativeBlock *b, uint64_t version, bool deleted)
{
	buf_put_le(&b->versions, version, 8);
	buf_put_u8(&b->deleted, deleted ? 1 : 0);
}

bool native_row_done(NativeBlock *b)
{
	b->rows++;
	if (b->rows >= b->max_rows)
		return true;
	size_t bytes = 0; /* a few adds per row: rows of megabytes must not pile up */
	for (int i = 0; i < b->ncols; i++)
		bytes += b->cols[i].data.len - 1;
	return bytes >= NATIVE_BLOCK_BYTES;
}

static void put_header(Buf *out, const char *name, const char *type)
{
	buf_put_string(out, name, strlen(name));
	buf_put_string(out, type, strlen(type));
}

void native_flush(NativeBlock *b, Buf *out)
{
	if (b->rows == 0)
		return;
	buf_put_varint(out, (uint64_t)b->ncols + 2);
	buf_put_varint(out, b->rows);
	for (int i = 0; i < b->ncols; i++) {
		NativeCol *c = &b->cols[i];
		put_header(out, c->name, c->type);
		if (c->array)
			buf_put(out, c->offsets.data, c->offsets.len);
		if (c->nullable)
			buf_put(out, c->nulls.data, c->nulls.len);
		buf_put(out, c->data.data + 1, c->data.len - 1);
		buf_reset(&c->nulls);
		c->data.len = 1; /* keep the spare byte */
		buf_reset(&c->offsets);
		c->elements = 0;
	}
	put_header(out, b->version_name, "UInt64");
	if (b->per_row) {
		buf_put(out, b->versions.data, b->versions.len);
		put_header(out, b->deleted_name, "UInt8");
		buf_put(out, b->deleted.data, b->deleted.len);
		buf_reset(&b->versions);
		buf_reset(&b->deleted);
		b->rows = 0;
		return;
	}
	buf_reserve(out, b->rows * 9);
	for (size_t r = 0; r < b->rows; r++)
		buf_put_le(out, b->version, 8);
	put_header(out, b->deleted_name, "UInt8");
	buf_reserve(out, b->rows);
	memset(out->data + out->len, 0, b->rows);
	out->len += b->rows;
	out->data[out->len] = '\0';
	b->rows = 0;
}
