/*
 * rowbinary — PostgreSQL values to ClickHouse RowBinary; see rowbinary.h for the model.
 *
 * Layout: numeric to Decimal; the encoders with the unrepresentable policy; arrays; the
 * public entry points. Decoding and text formatting are in pgvalue.c; reading RowBinary
 * back (the length of a value) is rowbinary_read.c's. (About 740 lines: the
 * encoders are one dispatch over the ClickHouse kinds with the policy applied in one place;
 * split further, each half would need the other's cases.)
 */
#include "rowbinary.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DATE_MAX_DAYS 49709                   /* 2105-12-31: the end of Date/DateTime on every server */
#define DATETIME_MAX_S (INT64_C(49709) * 86400 + 86399)

/* ---------------------------------------------------------------- numeric → Decimal */

typedef struct Big {
	uint64_t w[4]; /* little-endian limbs of an unsigned 256-bit integer */
} Big;

static void big_mul10_add(Big *b, unsigned digit)
{
	unsigned __int128 carry = digit;
	for (int i = 0; i < 4; i++) {
		unsigned __int128 t = (unsigned __int128)b->w[i] * 10 + carry;
		b->w[i] = (uint64_t)t;
		carry = t >> 64;
	}
}

static void big_negate(Big *b)
{
	unsigned carry = 1;
	for (int i = 0; i < 4; i++) {
		uint64_t x = ~b->w[i];
		b->w[i] = x + carry;
		carry = carry && b->w[i] == 0;
	}
}

int rowbinary_decimal_bytes(int precision)
{
	return precision <= 9 ? 4 : precision <= 18 ? 8 : precision <= 38 ? 16 : 32;
}

static void put_big(Buf *out, const Big *b, int bytes)
{
	for (int i = 0; i < bytes / 8; i++)
		buf_put_le(out, b->w[i], 8);
	if (bytes == 4)
		buf_put_le(out, b->w[0], 4);
}

/* The largest Decimal(p, s) magnitude, 10^p - 1, as a scaled integer. */
static Big big_all_nines(int precision)
{
	Big b = {{0, 0, 0, 0}};
	for (int i = 0; i < precision; i++)
		big_mul10_add(&b, 9);
	return b;
}

/* 0: ok; 1: too many digits for the precision; 2: digits below the scale (would round). */
static int numeric_to_big(const Value *v, int precision, int scale, Big *out)
{
	Big b = {{0, 0, 0, 0}};
	int significant = 0;
	int min_exp = -((scale + 3) / 4);
	if (v->weight - v->ndigits + 1 < min_exp)
		min_exp = v->weight - v->ndigits + 1;
	for (int e = v->weight; e >= min_exp && v->ndigits > 0; e--) {
		int idx = v->weight - e;
		unsigned d = (idx >= 0 && idx < v->ndigits) ? v->digits[idx] : 0;
		unsigned pow = 1000;
		for (int k = 0; k < 4; k++, pow /= 10) {
			unsigned digit = d / pow % 10;
			int de = 4 * e + 3 - k;
			if (de < -scale) {
				if (digit)
					return 2;
				continue;
			}
			if (significant || digit) {
				if (++significant > precision)
					return 1;
			}
			big_mul10_add(&b, digit);
		}
	}
	/* the loop visited every decimal position down to 10^-scale (min_exp <= -ceil(scale/4)) */
	*out = b;
	return 0;
}

/*
 * numeric_to_big for Decimal(p <= 18): the same answers from one 64-bit accumulator, a whole
 * base-10000 group at a time (the group across the scale split by one division; at most 18
 * significant digits cannot overflow).
 * Decimal(14, 2) columns cost a snapshot worker 8% of its time through the 256-bit loop.
 */
static int numeric_to_small(const Value *v, int precision, int scale, Big *out)
{
	static const unsigned pow10_4[5] = {1, 10, 100, 1000, 10000};
	uint64_t acc = 0;
	int significant = 0;
	int min_exp = -((scale + 3) / 4);
	if (v->weight - v->ndigits + 1 < min_exp)
		min_exp = v->weight - v->ndigits + 1;
	for (int e = v->weight; e >= min_exp && v->ndigits > 0; e--) {
		int idx = v->weight - e;
		unsigned d = (idx >= 0 && idx < v->ndigits) ? v->digits[idx] : 0;
		int keep = 4 * e + 4 + scale; /* the group's digits at or above 10^-scale */
		if (keep > 4)
			keep = 4;
		if (keep <= 0) {
			if (d)
				return 2;
			continue;
		}
		unsigned div = pow10_4[4 - keep], q = d / div;
		if (significant)
			significant += keep;
		else if (q)
			significant = q >= 1000 ? 4 : q >= 100 ? 3 : q >= 10 ? 2 : 1;
		if (significant > precision)
			return 1;
		if (d % div)
			return 2;
		acc = acc * pow10_4[keep] + q;
	}
	*out = (Big){{acc, 0, 0, 0}};
	return 0;
}

/* ---------------------------------------------------------------- encoders */

static void put_default(const ColConv *c, ChKind kind, Buf *out)
{
	switch (kind) {
	case CH_BOOL:
	case CH_UINT8:
	case CH_INT8: buf_put_u8(out, 0); break;
	case CH_UINT16:
	case CH_INT16:
	case CH_DATE: buf_put_le(out, 0, 2); break;
	case CH_UINT32:
	case CH_INT32:
	case CH_FLOAT32:
	case CH_DATE32:
	case CH_DATETIME: buf_put_le(out, 0, 4); break;
	case CH_UINT64:
	case CH_INT64:
	case CH_FLOAT64:
	case CH_DATETIME64: buf_put_le(out, 0, 8); break;
	case CH_DECIMAL: {
		Big z = {{0, 0, 0, 0}};
		put_big(out, &z, rowbinary_decimal_bytes(c->ch.precision));
		break;
	}
	case CH_STRING: buf_put_varint(out, 0); break;
	case CH_UUID:
		buf_put_le(out, 0, 8);
		buf_put_le(out, 0, 8);
		break;
	}
}

static int64_t pow10i(int k)
{
	int64_t p = 1;
	while (k-- > 0)
		p *= 10;
	return p;
}

/* Write the nearest representable value in direction dir (<0 low, >0 high). */
static void put_clamped(const ColConv *c, int dir, Buf *out)
{
	const ChType *t = &c->ch;
	switch (t->kind) {
	case CH_DATE: buf_put_le(out, dir > 0 ? DATE_MAX_DAYS : 0, 2); break;
	case CH_DATE32: buf_put_le(out, (uint32_t)(dir > 0 ? c->caps->date32_max : c->caps->date32_min), 4); break;
	case CH_DATETIME: buf_put_le(out, dir > 0 ? (uint64_t)DATETIME_MAX_S : 0, 4); break;
	case CH_DATETIME64: {
		int64_t us = dir > 0 ? c->caps->dt64_max : c->caps->dt64_min;
		int64_t ticks = t->precision >= 6 ? us * pow10i(t->precision - 6) : pgvalue_floor_div(us, pow10i(6 - t->precision));
		buf_put_le(out, (uint64_t)ticks, 8);
		break;
	}
	case CH_DECIMAL: {
		Big b = big_all_nines(t->precision);
		if (dir < 0)
			big_negate(&b);
		put_big(out, &b, rowbinary_decimal_bytes(t->precision));
		break;
	}
	case CH_INT8: buf_put_u8(out, dir > 0 ? 0x7f : 0x80); break;
	case CH_INT16: buf_put_le(out, dir > 0 ? 0x7fff : 0x8000, 2); break;
	case CH_INT32: buf_put_le(out, dir > 0 ? 0x7fffffffu : 0x80000000u, 4); break;
	case CH_INT64: buf_put_le(out, dir > 0 ? (uint64_t)INT64_MAX : (uint64_t)INT64_MIN, 8); break;
	case CH_UINT8: buf_put_u8(out, dir > 0 ? 0xff : 0); break;
	case CH_UINT16: buf_put_le(out, dir > 0 ? 0xffff : 0, 2); break;
	case CH_UINT32: buf_put_le(out, dir > 0 ? 0xffffffffu : 0, 4); break;
	case CH_UINT64: buf_put_le(out, dir > 0 ? UINT64_MAX : 0, 8); break;
	default: put_default(c, t->kind, out); break;
	}
}

/*
 * A value with no ClickHouse form. `mark` is where this value started in out (before its
 * Nullable byte): the policy rewrites from there. dir: -1 below range, +1 above, 0 neither.
 */
static ConvResult unrep(ColConv *c, bool nullable, int dir, Buf *out, size_t mark, char *err, size_t errlen,
			const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static ConvResult unrep(ColConv *c, bool nullable, int dir, Buf *out, size_t mark, char *err, size_t errlen,
			const char *fmt, ...)
{
	out->len = mark;
	if (c->policy == UNREP_ERROR) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		return CONV_UNREP;
	}
	c->unrep_count++;
	if (c->policy == UNREP_NULL || dir == 0) {
		if (nullable)
			buf_put_u8(out, 1);
		else
			put_default(c, c->ch.kind, out);
		return CONV_OK;
	}
	if (nullable)
		buf_put_u8(out, 0);
	put_clamped(c, dir, out);
	return CONV_OK;
}

static ConvResult put_int(ColConv *c, int64_t i, bool nullable, Buf *out, size_t mark, char *err, size_t errlen)
{
	int64_t lo, hi;
	int bytes;
	switch (c->ch.kind) {
	case CH_BOOL: lo = 0; hi = 1; bytes = 1; break;
	case CH_UINT8: lo = 0; hi = UINT8_MAX; bytes = 1; break;
	case CH_UINT16: lo = 0; hi = UINT16_MAX; bytes = 2; break;
	case CH_UINT32: lo = 0; hi = UINT32_MAX; bytes = 4; break;
	case CH_UINT64: lo = 0; hi = INT64_MAX; bytes = 8; break;
	case CH_INT8: lo = INT8_MIN; hi = INT8_MAX; bytes = 1; break;
	case CH_INT16: lo = INT16_MIN; hi = INT16_MAX; bytes = 2; break;
	case CH_INT32: lo = INT32_MIN; hi = INT32_MAX; bytes = 4; break;
	default: lo = INT64_MIN; hi = INT64_MAX; bytes = 8; break;
	}
	if (i < lo || i > hi)
		return unrep(c, nullable, i < lo ? -1 : 1, out, mark, err, errlen, "%" PRId64 " is out of range", i);
	buf_put_le(out, (uint64_t)i, bytes);
	return CONV_OK;
}

static ConvResult put_days(ColConv *c, const Value *v, int64_t days, bool nullable, Buf *out, size_t mark, char *err,
			   size_t errlen)
{
	Buf *f = &c->scratch.fmt;
	if (v->inf)
		return unrep(c, nullable, v->inf, out, mark, err, errlen, "%s has no ClickHouse %s form",
			     v->inf > 0 ? "infinity" : "-infinity", c->ch.kind == CH_DATE ? "Date" : "Date32");
	int64_t lo = c->ch.kind == CH_DATE ? 0 : c->caps->date32_min;
	int64_t hi = c->ch.kind == CH_DATE ? DATE_MAX_DAYS : c->caps->date32_max;
	if (days < lo || days > hi) {
		buf_reset(f);
		Value d = *v;
		d.kind = V_DATE;
		d.days = days;
		pgvalue_format_date(&d, f);
		return unrep(c, nullable, days < lo ? -1 : 1, out, mark, err, errlen, "date %s is outside the range of %s",
			     f->data, c->ch.kind == CH_DATE ? "Date (1970-01-01 to 2105-12-31)" : "Date32 on this server");
	}
	buf_put_le(out, (uint64_t)days, c->ch.kind == CH_DATE ? 2 : 4);
	return CONV_OK;
}

static ConvResult put_us(ColConv *c, const Value *v, int64_t us, bool nullable, Buf *out, size_t mark, char *err,
			 size_t errlen)
{
	bool dt64 = c->ch.kind == CH_DATETIME64;
	if (v->inf)
		return unrep(c, nullable, v->inf, out, mark, err, errlen, "%s has no ClickHouse %s form",
			     v->inf > 0 ? "infinity" : "-infinity", dt64 ? "DateTime64" : "DateTime");
	/* bounds in PostgreSQL's epoch, so extreme values cannot overflow */
	int64_t lo = (dt64 ? c->caps->dt64_min : 0) - PG_EPOCH_US;
	int64_t hi = (dt64 ? c->caps->dt64_max : DATETIME_MAX_S * 1000000 + 999999) - PG_EPOCH_US;
	if (us < lo || us > hi) {
		buf_reset(&c->scratch.fmt);
		Value t = *v;
		t.kind = V_TS;
		t.us = us;
		pgvalue_format_ts(&t, false, &c->scratch.fmt);
		return unrep(c, nullable, us < lo ? -1 : 1, out, mark, err, errlen, "timestamp %s is outside the range of %s",
			     c->scratch.fmt.data, dt64 ? "DateTime64 on this server" : "DateTime (1970 to 2105)");
	}
	us += PG_EPOCH_US; /* in range, so it fits */
	if (dt64) {
		int p = c->ch.precision;
		int64_t ticks = p >= 6 ? us * pow10i(p - 6) : pgvalue_floor_div(us, pow10i(6 - p));
		buf_put_le(out, (uint64_t)ticks, 8);
	} else {
		buf_put_le(out, (uint64_t)pgvalue_floor_div(us, 1000000), 4);
	}
	return CONV_OK;
}

static ConvResult put_decimal(ColConv *c, const Value *v, bool nullable, Buf *out, size_t mark, char *err,
			      size_t errlen)
{
	const ChType *t = &c->ch;
	Big b;
	if (v->kind == V_INT) {
		Value nv = {0};
		char tmp[24];
		int len = snprintf(tmp, sizeof tmp, "%" PRId64, v->i);
		char e2[8];
		if (pgvalue_parse_numeric(&c->scratch, tmp, (size_t)len, &nv, e2, sizeof e2) != CONV_OK)
			return CONV_BAD;
		return put_decimal(c, &nv, nullable, out, mark, err, errlen);
	}
	if (v->nsign == NUM_NAN)
		return unrep(c, nullable, 0, out, mark, err, errlen, "numeric NaN has no ClickHouse Decimal form");
	if (v->nsign == NUM_PINF || v->nsign == NUM_NINF)
		return unrep(c, nullable, v->nsign == NUM_PINF ? 1 : -1, out, mark, err, errlen,
			     "numeric %s has no ClickHouse Decimal form", v->nsign == NUM_PINF ? "Infinity" : "-Infinity");
	int r = t->precision <= 18 ? numeric_to_small(v, t->precision, t->scale, &b)
				       : numeric_to_big(v, t->precision, t->scale, &b);
	if (r) {
		buf_reset(&c->scratch.fmt);
		pgvalue_format_numeric(v, &c->scratch.fmt);
		return unrep(c, nullable, v->nsign == NUM_NEG ? -1 : 1, out, mark, err, errlen, "%.60s %s Decimal(%d, %d)",
			     c->scratch.fmt.data, r == 1 ? "does not fit in" : "has more fraction digits than", t->precision,
			     t->scale);
	}
	if (v->nsign == NUM_NEG)
		big_negate(&b);
	put_big(out, &b, rowbinary_decimal_bytes(t->precision));
	return CONV_OK;
}

static void put_uuid(const unsigned char *u, Buf *out)
{
	uint8_t b[16];
	for (int i = 0; i < 8; i++) {
		b[i] = u[7 - i];
		b[8 + i] = u[15 - i];
	}
	buf_put(out, b, 16);
}

/* Encode one decoded value (scalar or array element) for the column's type. */
static ConvResult encode(ColConv *c, PgKind kind, const Value *v, bool nullable, Buf *out, char *err, size_t errlen)
{
	size_t mark = out->len;
	if (v->kind == V_NULL) {
		if (nullable)
			buf_put_u8(out, 1);
		else
			put_default(c, c->ch.kind, out);
		return CONV_OK;
	}
	if (nullable)
		buf_put_u8(out, 0);
	const ChType *t = &c->ch;
	switch (t->kind) {
	case CH_STRING:
		if (v->kind == V_BYTES && kind != PG_CHAR) {
			buf_put_string(out, v->s, v->n);
		} else {
			buf_reset(&c->scratch.fmt);
			pgvalue_format(v, kind, c->tz, &c->scratch.fmt);
			buf_put_string(out, c->scratch.fmt.data, c->scratch.fmt.len);
		}
		return CONV_OK;
	case CH_BOOL:
	case CH_UINT8:
	case CH_UINT16:
	case CH_UINT32:
	case CH_UINT64:
	case CH_INT8:
	case CH_INT16:
	case CH_INT32:
	case CH_INT64:
		if (v->kind == V_INT || v->kind == V_BOOL)
			return put_int(c, v->i, nullable, out, mark, err, errlen);
		break;
	case CH_FLOAT32:
	case CH_FLOAT64: {
		double f;
		if (v->kind == V_FLOAT)
			f = v->f;
		else if (v->kind == V_INT)
			f = (double)v->i;
		else
			break;
		if (t->kind == CH_FLOAT32) {
			float ff = (float)f;
			uint32_t bits;
			memcpy(&bits, &ff, 4);
			buf_put_le(out, bits, 4);
		} else {
			uint64_t bits;
			memcpy(&bits, &f, 8);
			buf_put_le(out, bits, 8);
		}
		return CONV_OK;
	}
	case CH_DECIMAL:
		if (v->kind == V_NUMERIC || v->kind == V_INT)
			return put_decimal(c, v, nullable, out, mark, err, errlen);
		break;
	case CH_UUID:
		if (v->kind == V_UUID) {
			put_uuid(v->uuid, out);
			return CONV_OK;
		}
		break;
	case CH_DATE:
	case CH_DATE32:
		if (v->kind == V_DATE)
			return put_days(c, v, v->days, nullable, out, mark, err, errlen);
		if (v->kind == V_TS)
			return put_days(c, v, pgvalue_floor_div(v->us, US_PER_DAY) + PG_EPOCH_DAYS, nullable, out, mark, err, errlen);
		break;
	case CH_DATETIME:
	case CH_DATETIME64:
		if (v->kind == V_TS)
			return put_us(c, v, v->us, nullable, out, mark, err, errlen);
		if (v->kind == V_DATE) {
			int64_t us;
			if (__builtin_mul_overflow(v->days - PG_EPOCH_DAYS, US_PER_DAY, &us))
				us = v->days < 0 ? INT64_MIN : INT64_MAX;
			return put_us(c, v, us, nullable, out, mark, err, errlen);
		}
		break;
	}
	return pgvalue_bad(err, errlen, "cannot convert this value to the column's ClickHouse type");
}

/* ---------------------------------------------------------------- arrays */

static ConvResult put_scalar(ColConv *c, bool binary, const char *d, size_t n, bool nullable, Buf *out, char *err,
			     size_t errlen)
{
	Value v;
	v.kind = V_NULL;
	v.inf = 0;
	v.f4 = false;
	ConvResult r = binary ? pgvalue_decode_binary(&c->scratch, c->pg, d, n, &v, err, errlen) : pgvalue_decode_text(&c->scratch, c->pg, d, n, &v, err, errlen);
	if (r != CONV_OK)
		return r;
	return encode(c, c->pg, &v, nullable, out, err, errlen);
}

static ConvResult put_null_element(ColConv *c, Buf *out)
{
	Value v = {.kind = V_NULL};
	char e[8];
	if (!c->ch.nullable)
		c->unrep_count++; /* element NULL where the server has no Nullable in Array */
	return encode(c, c->pg, &v, c->ch.nullable, out, e, sizeof e);
}

static ConvResult multidim(ColConv *c, Buf *out, size_t mark, char *err, size_t errlen)
{
	out->len = mark;
	if (c->policy == UNREP_ERROR) {
		snprintf(err, errlen, "multi-dimensional arrays have no ClickHouse Array(T) form "
				      "(map the column to String with types = { col = \"String\" })");
		return CONV_UNREP;
	}
	c->unrep_count++;
	buf_put_varint(out, 0);
	return CONV_OK;
}

static ConvResult put_array_binary(ColConv *c, const char *d, size_t n, Buf *out, char *err, size_t errlen)
{
	size_t mark = out->len;
	if (n < 12)
		return pgvalue_bad(err, errlen, "invalid binary array");
	int32_t ndim = (int32_t)rd_be32(d);
	if (ndim == 0) {
		buf_put_varint(out, 0);
		return CONV_OK;
	}
	if (ndim < 0 || n < 12 + 8 * (size_t)ndim)
		return pgvalue_bad(err, errlen, "invalid binary array header");
	if (ndim > 1)
		return multidim(c, out, mark, err, errlen);
	int32_t count = (int32_t)rd_be32(d + 12);
	if (count < 0)
		return pgvalue_bad(err, errlen, "invalid binary array size");
	buf_put_varint(out, (uint64_t)count);
	size_t off = 20;
	for (int32_t i = 0; i < count; i++) {
		if (off + 4 > n)
			return pgvalue_bad(err, errlen, "truncated binary array");
		int32_t len = (int32_t)rd_be32(d + off);
		off += 4;
		ConvResult r;
		if (len < 0) {
			r = put_null_element(c, out);
		} else {
			if (off + (size_t)len > n)
				return pgvalue_bad(err, errlen, "truncated binary array element");
			r = put_scalar(c, true, d + off, (size_t)len, c->ch.nullable, out, err, errlen);
			off += (size_t)len;
		}
		if (r != CONV_OK)
			return r;
	}
	return CONV_OK;
}

/* PostgreSQL array text form: {a,"b c",NULL,"q\"uote"}; optional "[l:u]=" prefix. */
static ConvResult put_array_text(ColConv *c, const char *s, size_t n, Buf *out, char *err, size_t errlen)
{
	size_t mark = out->len;
	size_t i = 0;
	if (i < n && s[i] == '[') {
		while (i < n && s[i] != '=')
			i++;
		i++;
	}
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	if (i >= n || s[i] != '{')
		return pgvalue_bad(err, errlen, "invalid array text form");
	i++;
	Buf *tmp = &c->tmp;
	buf_reset(tmp);
	uint64_t count = 0;
	char delim = c->delim ? c->delim : ',';
	for (;;) {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i >= n)
			return pgvalue_bad(err, errlen, "unterminated array text form");
		if (s[i] == '}' && count == 0) {
			i++;
			break;
		}
		if (s[i] == '{')
			return multidim(c, out, mark, err, errlen);
		Buf *el = &c->text;
		buf_reset(el);
		bool quoted = false;
		if (s[i] == '"') {
			quoted = true;
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				buf_put_u8(el, (uint8_t)s[i]);
			}
			if (i >= n)
				return pgvalue_bad(err, errlen, "unterminated quoted array element");
			i++;
		} else {
			size_t last_nonspace = 0;
			for (; i < n && s[i] != delim && s[i] != '}'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				buf_put_u8(el, (uint8_t)s[i]);
				if (!isspace((unsigned char)s[i]) || s[i - 1] == '\\')
					last_nonspace = el->len;
			}
			el->len = last_nonspace;
		}
		ConvResult r;
		if (!quoted && pgvalue_text_eq(el->data, el->len, "NULL"))
			r = put_null_element(c, tmp);
		else
			r = put_scalar(c, false, el->data, el->len, c->ch.nullable, tmp, err, errlen);
		if (r != CONV_OK)
			return r;
		count++;
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i < n && s[i] == delim) {
			i++;
			continue;
		}
		if (i < n && s[i] == '}') {
			i++;
			break;
		}
		return pgvalue_bad(err, errlen, "invalid array text form");
	}
	buf_put_varint(out, count);
	buf_put(out, tmp->data, tmp->len);
	return CONV_OK;
}

/* ---------------------------------------------------------------- direct conversions */

/* The direct conversions: one per (PostgreSQL kind, ClickHouse type) pair common enough in
 * real tables to be worth a path of its own; each writes the same bytes as decode + encode. */
enum {
	FAST_NONE,
	FAST_INT2,    /* int2 into Int16/Int32/Int64 */
	FAST_INT4,    /* int4 into Int32/Int64 */
	FAST_INT8,    /* int8 into Int64 */
	FAST_FLOAT4,  /* float4 into Float32 */
	FAST_FLOAT8,  /* float8 into Float64 */
	FAST_BOOL,    /* bool into Bool/UInt8 */
	FAST_TEXT,    /* text-like into String */
	FAST_DATE,    /* date into Date/Date32 */
	FAST_TS,      /* timestamp(tz) into DateTime/DateTime64 */
	FAST_TS_TEXT, /* timestamp(tz) into String (servers without DateTime64) */
	FAST_NUMERIC, /* numeric into Decimal(p <= 18) */
};

static int int_bytes(ChKind k)
{
	return k == CH_INT16 ? 2 : k == CH_INT32 ? 4 : k == CH_INT64 ? 8 : 0;
}

static uint8_t fast_choose(PgKind pg, const ChType *ch)
{
	if (ch->array)
		return FAST_NONE;
	int w = int_bytes(ch->kind);
	switch (pg) {
	case PG_INT2: return w >= 2 ? FAST_INT2 : FAST_NONE;
	case PG_INT4: return w >= 4 ? FAST_INT4 : FAST_NONE;
	case PG_INT8: return w == 8 ? FAST_INT8 : FAST_NONE;
	case PG_FLOAT4: return ch->kind == CH_FLOAT32 ? FAST_FLOAT4 : FAST_NONE;
	case PG_FLOAT8: return ch->kind == CH_FLOAT64 ? FAST_FLOAT8 : FAST_NONE;
	case PG_BOOL: return ch->kind == CH_BOOL || ch->kind == CH_UINT8 ? FAST_BOOL : FAST_NONE;
	case PG_TEXT: return ch->kind == CH_STRING ? FAST_TEXT : FAST_NONE;
	case PG_DATE: return ch->kind == CH_DATE || ch->kind == CH_DATE32 ? FAST_DATE : FAST_NONE;
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ:
		return ch->kind == CH_DATETIME || ch->kind == CH_DATETIME64 ? FAST_TS
		       : ch->kind == CH_STRING				   ? FAST_TS_TEXT
										   : FAST_NONE;
	case PG_NUMERIC: return ch->kind == CH_DECIMAL && ch->precision <= 18 ? FAST_NUMERIC : FAST_NONE;
	default: return FAST_NONE;
	}
}

/* Little-endian bytes of x, `bytes` of them (the host is little-endian: checked in tests). */
static inline void put_raw(Buf *out, uint64_t x, int bytes)
{
	buf_reserve(out, 8);
	memcpy(out->data + out->len, &x, 8);
	out->len += (size_t)bytes;
	out->data[out->len] = '\0'; /* Buf's terminator, as every buf_put keeps it */
}

/* numeric (binary form) into Decimal(p <= 18): false for what the general path must judge */
static bool fast_numeric(ColConv *c, const char *d, size_t n, Buf *out)
{
	uint16_t dg[16];
	if (n < 8)
		return false;
	int nd = (int16_t)rd_be16(d);
	uint16_t sign = rd_be16(d + 4);
	if (nd < 0 || nd > 16 || n != 8 + 2 * (size_t)nd || (sign != 0 && sign != 0x4000))
		return false;
	for (int i = 0; i < nd; i++) {
		dg[i] = rd_be16(d + 8 + 2 * i);
		if (dg[i] > 9999)
			return false;
	}
	Value v = {.kind = V_NUMERIC, .ndigits = nd, .weight = (int16_t)rd_be16(d + 2), .digits = dg,
		   .nsign = sign ? NUM_NEG : NUM_POS};
	Big b;
	if (numeric_to_small(&v, c->ch.precision, c->ch.scale, &b))
		return false;
	uint64_t x = sign ? (uint64_t)0 - b.w[0] : b.w[0];
	put_raw(out, x, rowbinary_decimal_bytes(c->ch.precision));
	return true;
}

bool rowbinary_put_fast(ColConv *c, const char *d, int len, Buf *out)
{
	size_t n = (size_t)len;
	const ChType *t = &c->ch;
	switch (c->fast) {
	case FAST_INT2:
		if (n != 2)
			return false;
		put_raw(out, (uint64_t)(int64_t)(int16_t)rd_be16(d), int_bytes(t->kind));
		return true;
	case FAST_INT4:
		if (n != 4)
			return false;
		put_raw(out, (uint64_t)(int64_t)(int32_t)rd_be32(d), int_bytes(t->kind));
		return true;
	case FAST_INT8:
		if (n != 8)
			return false;
		put_raw(out, rd_be64(d), 8);
		return true;
	case FAST_FLOAT4: {
		if (n != 4)
			return false;
		uint32_t bits = rd_be32(d);
		float f;
		memcpy(&f, &bits, 4);
		if (f != f) /* NaN: the general path's float -> double -> float quiets a signalling one */
			return false;
		put_raw(out, bits, 4);
		return true;
	}
	case FAST_FLOAT8:
		if (n != 8)
			return false;
		put_raw(out, rd_be64(d), 8);
		return true;
	case FAST_BOOL:
		if (n != 1)
			return false;
		buf_put_u8(out, d[0] != 0);
		return true;
	case FAST_TEXT:
		buf_reserve(out, n + 10);
		buf_put_string(out, d, n);
		return true;
	case FAST_DATE: {
		if (n != 4)
			return false;
		int64_t days = (int64_t)(int32_t)rd_be32(d) + PG_EPOCH_DAYS;
		int64_t lo = t->kind == CH_DATE ? 0 : c->caps->date32_min;
		int64_t hi = t->kind == CH_DATE ? DATE_MAX_DAYS : c->caps->date32_max;
		if (days < lo || days > hi) /* ±infinity lie outside too */
			return false;
		put_raw(out, (uint64_t)days, t->kind == CH_DATE ? 2 : 4);
		return true;
	}
	case FAST_TS: {
		if (n != 8)
			return false;
		int64_t us = (int64_t)rd_be64(d);
		bool dt64 = t->kind == CH_DATETIME64;
		int64_t lo = (dt64 ? c->caps->dt64_min : 0) - PG_EPOCH_US;
		int64_t hi = (dt64 ? c->caps->dt64_max : DATETIME_MAX_S * 1000000 + 999999) - PG_EPOCH_US;
		if (us < lo || us > hi) /* ±infinity lie outside too */
			return false;
		us += PG_EPOCH_US;
		if (!dt64) {
			put_raw(out, (uint64_t)pgvalue_floor_div(us, 1000000), 4);
			return true;
		}
		int p = t->precision;
		put_raw(out, (uint64_t)(p >= 6 ? us * pow10i(p - 6) : pgvalue_floor_div(us, pow10i(6 - p))), 8);
		return true;
	}
	case FAST_TS_TEXT: {
		if (n != 8)
			return false;
		int64_t us = (int64_t)rd_be64(d);
		if (us == INT64_MAX || us == INT64_MIN)
			return false;
		buf_reserve(out, 40);
		char *start = out->data + out->len + 1; /* after a one-byte length: the text is < 128 bytes */
		char *end = pgvalue_put_ts(start, us, c->tz, &c->scratch.day);
		if (!end)
			return false;
		out->data[out->len] = (char)(end - start);
		out->len += (size_t)(end - start) + 1;
		out->data[out->len] = '\0';
		return true;
	}
	case FAST_NUMERIC: return fast_numeric(c, d, n, out);
	}
	return false;
}

/* ---------------------------------------------------------------- public */

void rowbinary_init(ColConv *c, PgKind pg, const ChType *ch, Unrepresentable policy, const ChCaps *caps)
{
	memset(c, 0, sizeof *c);
	c->pg = pg;
	c->ch = *ch;
	c->policy = policy;
	c->caps = caps;
	c->delim = ',';
	c->fast = fast_choose(pg, ch);
	buf_init(&c->tmp);
	buf_init(&c->text);
	buf_init(&c->scratch.fmt);
}

void rowbinary_free(ColConv *c)
{
	free(c->scratch.digits);
	c->scratch.digits = NULL;
	buf_free(&c->tmp);
	buf_free(&c->text);
	buf_free(&c->scratch.fmt);
}

ConvResult rowbinary_put(ColConv *c, bool binary, const char *data, int len, Buf *out, char *err, size_t errlen)
{
	if (len < 0) {
		if (c->ch.array) {
			buf_put_varint(out, 0); /* ClickHouse arrays cannot be NULL: an empty array */
			return CONV_OK;
		}
		Value v = {.kind = V_NULL};
		return encode(c, c->pg, &v, c->ch.nullable, out, err, errlen);
	}
	if (c->ch.array)
		return binary ? put_array_binary(c, data, (size_t)len, out, err, errlen)
			      : put_array_text(c, data, (size_t)len, out, err, errlen);
	if (binary && c->fast) {
		size_t mark = out->len;
		if (c->ch.nullable)
			buf_put_u8(out, 0);
		if (rowbinary_put_fast(c, data, len, out))
			return CONV_OK;
		out->len = mark;
	}
	if (binary)
		return put_scalar(c, true, data, (size_t)len, c->ch.nullable, out, err, errlen);
	/* Text form into a String: the text is the value, except bytea (raw bytes). */
	if (c->ch.kind == CH_STRING && c->pg != PG_BYTEA) {
		if (c->ch.nullable)
			buf_put_u8(out, 0);
		buf_put_string(out, data, (size_t)len);
		return CONV_OK;
	}
	return put_scalar(c, false, data, (size_t)len, c->ch.nullable, out, err, errlen);
}

void rowbinary_put_default(const ColConv *c, Buf *out)
{
	if (c->ch.array)
		buf_put_varint(out, 0);
	else if (c->ch.nullable)
		buf_put_u8(out, 1);
	else
		put_default(c, c->ch.kind, out);
}

/* s (n bytes) into out, cut to outlen - 1 bytes and terminated. */
static void copy_out(char *out, size_t outlen, const char *s, size_t n)
{
	if (outlen == 0)
		return;
	if (n >= outlen)
		n = outlen - 1;
	if (n > 0)
		memcpy(out, s, n);
	out[n] = '\0';
}

void rowbinary_describe(ColConv *c, bool binary, const char *data, int len, char *out, size_t outlen)
{
	if (len < 0) {
		copy_out(out, outlen, "NULL", 4);
		return;
	}
	if (!binary) {
		copy_out(out, outlen, data, (size_t)len);
		return;
	}
	Value v = {.kind = V_NULL};
	char err[64];
	Buf b;
	buf_init(&b);
	if (!c->ch.array && c->pg != PG_OTHER && pgvalue_decode_binary(&c->scratch, c->pg, data, (size_t)len, &v, err, sizeof err) == CONV_OK)
		pgvalue_format(&v, c->pg, c->tz, &b);
	else
		buf_puts(&b, "(binary value)");
	copy_out(out, outlen, b.data, b.len);
	buf_free(&b);
}
