/*
 * rowbinary_read — reading RowBinary back: the length of one value of a ClickHouse type, for
 * the Native writer (native.c) that splits a batched row record into its columns. See
 * rowbinary.h; the writing side is rowbinary.c.
 */
#include "rowbinary.h"

bool rowbinary_read_varint(const char *p, size_t n, size_t *used, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		*v |= (uint64_t)((unsigned char)p[i] & 0x7f) << (7 * i);
		if (!((unsigned char)p[i] & 0x80)) {
			*used = i + 1;
			return true;
		}
	}
	return false;
}

static size_t fixed_size(const ChType *t)
{
	switch (t->kind) {
	case CH_BOOL:
	case CH_UINT8:
	case CH_INT8: return 1;
	case CH_UINT16:
	case CH_INT16:
	case CH_DATE: return 2;
	case CH_UINT32:
	case CH_INT32:
	case CH_FLOAT32:
	case CH_DATE32:
	case CH_DATETIME: return 4;
	case CH_UINT64:
	case CH_INT64:
	case CH_FLOAT64:
	case CH_DATETIME64: return 8;
	case CH_UUID: return 16;
	case CH_DECIMAL: return (size_t)rowbinary_decimal_bytes(t->precision);
	case CH_STRING: return 0;
	}
	return 0;
}

/* One scalar (with its Nullable byte when nullable). */
static bool skip_scalar(const ChType *t, bool nullable, const char *p, size_t n, size_t *used)
{
	size_t off = 0;
	if (nullable) {
		if (n < 1)
			return false;
		off = 1;
		if (p[0]) {
			*used = 1;
			return true;
		}
	}
	if (t->kind == CH_STRING) {
		uint64_t len;
		size_t vl;
		if (!rowbinary_read_varint(p + off, n - off, &vl, &len) || len > n - off - vl)
			return false;
		*used = off + vl + (size_t)len;
		return true;
	}
	size_t sz = fixed_size(t);
	if (n - off < sz)
		return false;
	*used = off + sz;
	return true;
}

bool rowbinary_skip(const ChType *t, const char *p, size_t n, size_t *used)
{
	if (!t->array)
		return skip_scalar(t, t->nullable, p, n, used);
	uint64_t count;
	size_t off;
	if (!rowbinary_read_varint(p, n, &off, &count))
		return false;
	for (uint64_t i = 0; i < count; i++) {
		size_t u;
		if (!skip_scalar(t, t->nullable, p + off, n - off, &u))
			return false;
		off += u;
	}
	*used = off;
	return true;
}
