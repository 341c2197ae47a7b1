/*
 * rowbinary — PostgreSQL values to ClickHouse RowBinary; see rowbinary.h for the model.
 *
 * Layout: calendar helpers; the Value a decoder produces; binary decoders; text decoders;
 * text formatters (for String targets); the encoders with the unrepresentable policy;
 * arrays; the public entry points.
 */
#include "rowbinary.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_EPOCH_DAYS 10957                   /* 2000-01-01 - 1970-01-01 in days */
#define PG_EPOCH_US INT64_C(946684800000000)  /* the same in microseconds */
#define US_PER_DAY INT64_C(86400000000)
#define DATE_MAX_DAYS 49709                   /* 2105-12-31: the end of Date/DateTime on every server */
#define DATETIME_MAX_S (INT64_C(49709) * 86400 + 86399)

/* ---------------------------------------------------------------- calendar */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *yp, int *mp, int *dp)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp0 = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp0 + 2) / 5 + 1);
	int m = (int)(mp0 < 10 ? mp0 + 3 : mp0 - 9);
	*yp = y + (m <= 2);
	*mp = m;
	*dp = d;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* ---------------------------------------------------------------- values */

typedef enum VKind { V_NULL, V_BOOL, V_INT, V_FLOAT, V_NUMERIC, V_BYTES, V_UUID, V_DATE, V_TS } VKind;

enum { NUM_POS, NUM_NEG, NUM_NAN, NUM_PINF, NUM_NINF };

typedef struct Value {
	VKind kind;
	int inf; /* V_DATE, V_TS: +1 / -1 for ±infinity */
	bool f4; /* V_FLOAT came from float4 */
	int64_t i;
	double f;
	const char *s;
	size_t n;
	unsigned char uuid[16];
	int64_t days; /* since 1970-01-01 */
	int64_t us;   /* since 2000-01-01 00:00 UTC (PostgreSQL's epoch: its whole range fits) */
	int nsign;
	int weight, dscale, ndigits;
	const uint16_t *digits; /* base 10000, most significant first */
} Value;

static uint16_t *digits_reserve(ColConv *c, size_t n)
{
	if (n > c->digits_cap) {
		c->digits_cap = n < 64 ? 64 : n * 2;
		c->digits = xrealloc(c->digits, c->digits_cap * sizeof(uint16_t));
	}
	return c->digits;
}

static ConvResult bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ConvResult bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CONV_BAD;
}

/* ---------------------------------------------------------------- binary decoders */

static ConvResult decode_binary(ColConv *c, PgKind kind, const char *d, size_t n, Value *v, char *err, size_t errlen)
{
	switch (kind) {
	case PG_BOOL:
		if (n != 1)
			break;
		v->kind = V_BOOL;
		v->i = d[0] != 0;
		return CONV_OK;
	case PG_INT2:
		if (n != 2)
			break;
		v->kind = V_INT;
		v->i = (int16_t)rd_be16(d);
		return CONV_OK;
	case PG_INT4:
		if (n != 4)
			break;
		v->kind = V_INT;
		v->i = (int32_t)rd_be32(d);
		return CONV_OK;
	case PG_OID:
		if (n != 4)
			break;
		v->kind = V_INT;
		v->i = rd_be32(d);
		return CONV_OK;
	case PG_INT8:
		if (n != 8)
			break;
		v->kind = V_INT;
		v->i = (int64_t)rd_be64(d);
		return CONV_OK;
	case PG_FLOAT4: {
		if (n != 4)
			break;
		uint32_t bits = rd_be32(d);
		float f;
		memcpy(&f, &bits, 4);
		v->kind = V_FLOAT;
		v->f = f;
		v->f4 = true;
		return CONV_OK;
	}
	case PG_FLOAT8: {
		if (n != 8)
			break;
		uint64_t bits = rd_be64(d);
		memcpy(&v->f, &bits, 8);
		v->kind = V_FLOAT;
		return CONV_OK;
	}
	case PG_NUMERIC: {
		if (n < 8)
			break;
		int nd = (int16_t)rd_be16(d);
		if (nd < 0 || n != 8 + 2 * (size_t)nd)
			break;
		v->kind = V_NUMERIC;
		v->ndigits = nd;
		v->weight = (int16_t)rd_be16(d + 2);
		uint16_t sign = rd_be16(d + 4);
		v->dscale = rd_be16(d + 6) & 0x3fff;
		v->nsign = sign == 0x0000 ? NUM_POS : sign == 0x4000 ? NUM_NEG : sign == 0xC000 ? NUM_NAN
			 : sign == 0xD000 ? NUM_PINF : sign == 0xF000 ? NUM_NINF : -1;
		if (v->nsign < 0)
			break;
		uint16_t *dg = digits_reserve(c, (size_t)nd);
		for (int i = 0; i < nd; i++) {
			dg[i] = rd_be16(d + 8 + 2 * i);
			if (dg[i] > 9999)
				return bad(err, errlen, "invalid numeric digit %u", dg[i]);
		}
		v->digits = dg;
		return CONV_OK;
	}
	case PG_JSONB:
		if (n < 1 || d[0] != 1)
			return bad(err, errlen, "unsupported jsonb binary version %d", n ? d[0] : -1);
		v->kind = V_BYTES;
		v->s = d + 1;
		v->n = n - 1;
		return CONV_OK;
	case PG_TEXT:
	case PG_BYTEA:
	case PG_CHAR:
	case PG_OTHER:
		v->kind = V_BYTES;
		v->s = d;
		v->n = n;
		return CONV_OK;
	case PG_UUID:
		if (n != 16)
			break;
		v->kind = V_UUID;
		memcpy(v->uuid, d, 16);
		return CONV_OK;
	case PG_DATE: {
		if (n != 4)
			break;
		int32_t days = (int32_t)rd_be32(d);
		v->kind = V_DATE;
		v->inf = days == INT32_MAX ? 1 : days == INT32_MIN ? -1 : 0;
		v->days = (int64_t)days + PG_EPOCH_DAYS;
		return CONV_OK;
	}
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ: {
		if (n != 8)
			break;
		int64_t us = (int64_t)rd_be64(d);
		v->kind = V_TS;
		v->inf = us == INT64_MAX ? 1 : us == INT64_MIN ? -1 : 0;
		v->us = v->inf ? 0 : us;
		return CONV_OK;
	}
	}
	return bad(err, errlen, "invalid binary value (%zu bytes)", n);
}

/* ---------------------------------------------------------------- text decoders */

static bool text_eq(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n == m && strncasecmp(s, lit, m) == 0;
}

/* Copy a short token into a NUL-terminated buffer for strto* functions. */
static bool short_token(const char *s, size_t n, char *buf, size_t bufsize)
{
	if (n == 0 || n >= bufsize)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static ConvResult parse_numeric_text(ColConv *c, const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	v->kind = V_NUMERIC;
	v->ndigits = v->weight = v->dscale = 0;
	v->digits = NULL;
	if (text_eq(s, n, "NaN")) {
		v->nsign = NUM_NAN;
		return CONV_OK;
	}
	if (text_eq(s, n, "Infinity") || text_eq(s, n, "+Infinity")) {
		v->nsign = NUM_PINF;
		return CONV_OK;
	}
	if (text_eq(s, n, "-Infinity")) {
		v->nsign = NUM_NINF;
		return CONV_OK;
	}
	size_t i = 0;
	v->nsign = NUM_POS;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		v->nsign = s[i++] == '-' ? NUM_NEG : NUM_POS;
	size_t int_start = i;
	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	size_t int_len = i - int_start;
	size_t frac_start = i, frac_len = 0;
	if (i < n && s[i] == '.') {
		frac_start = ++i;
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
		frac_len = i - frac_start;
	}
	if (i != n || int_len + frac_len == 0)
		return bad(err, errlen, "invalid numeric \"%.*s\"", (int)(n > 40 ? 40 : n), s);
	/* Align to base-10000 groups around the decimal point. */
	size_t int_groups = (int_len + 3) / 4, frac_groups = (frac_len + 3) / 4;
	uint16_t *dg = digits_reserve(c, int_groups + frac_groups + 1);
	size_t lead = int_groups * 4 - int_len; /* zeros padded on the left */
	for (size_t g = 0; g < int_groups + frac_groups; g++) {
		unsigned val = 0;
		for (int k = 0; k < 4; k++) {
			size_t pos = g * 4 + (size_t)k; /* position in the padded digit string */
			int digit = 0;
			if (pos >= lead && pos < int_groups * 4)
				digit = s[int_start + pos - lead] - '0';
			else if (pos >= int_groups * 4 && pos - int_groups * 4 < frac_len)
				digit = s[frac_start + pos - int_groups * 4] - '0';
			val = val * 10 + (unsigned)digit;
		}
		dg[g] = (uint16_t)val;
	}
	int weight = (int)int_groups - 1;
	size_t first = 0, count = int_groups + frac_groups;
	while (first < count && dg[first] == 0) {
		first++;
		weight--;
	}
	while (count > first && dg[count - 1] == 0)
		count--;
	v->digits = dg + first;
	v->ndigits = (int)(count - first);
	v->weight = v->ndigits ? weight : 0;
	v->dscale = (int)frac_len;
	if (v->ndigits == 0)
		v->nsign = NUM_POS;
	return CONV_OK;
}

/* "YYYY-MM-DD" with an optional " BC"; returns bytes consumed, 0 on error. */
static size_t parse_ymd(const char *s, size_t n, int64_t *days)
{
	size_t i = 0;
	int64_t y = 0;
	while (i < n && isdigit((unsigned char)s[i]) && i < 9)
		y = y * 10 + (s[i++] - '0');
	if (i < 4 || i + 6 > n || s[i] != '-' || s[i + 3] != '-')
		return 0;
	if (!isdigit((unsigned char)s[i + 1]) || !isdigit((unsigned char)s[i + 2]) ||
	    !isdigit((unsigned char)s[i + 4]) || !isdigit((unsigned char)s[i + 5]))
		return 0;
	int m = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	int d = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	*days = days_from_civil(y, m, d);
	return i + 6;
}

static bool ends_with_bc(const char *s, size_t *n)
{
	if (*n >= 3 && strncmp(s + *n - 3, " BC", 3) == 0) {
		*n -= 3;
		return true;
	}
	return false;
}

/* Year y BC is year 1-y in the proleptic calendar: re-derive days with the shifted year. */
static int64_t bc_days(int64_t days)
{
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	return days_from_civil(1 - y, m, d);
}

static ConvResult parse_date_text(const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	v->kind = V_DATE;
	v->inf = 0;
	if (text_eq(s, n, "infinity")) {
		v->inf = 1;
		return CONV_OK;
	}
	if (text_eq(s, n, "-infinity")) {
		v->inf = -1;
		return CONV_OK;
	}
	bool bc = ends_with_bc(s, &n);
	int64_t days;
	if (parse_ymd(s, n, &days) != n)
		return bad(err, errlen, "invalid date \"%.*s\" (expected DateStyle ISO)", (int)(n > 40 ? 40 : n), s);
	v->days = bc ? bc_days(days) : days;
	return CONV_OK;
}

static ConvResult parse_ts_text(const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	v->kind = V_TS;
	v->inf = 0;
	if (text_eq(s, n, "infinity")) {
		v->inf = 1;
		return CONV_OK;
	}
	if (text_eq(s, n, "-infinity")) {
		v->inf = -1;
		return CONV_OK;
	}
	bool bc = ends_with_bc(s, &n);
	int64_t days;
	size_t i = parse_ymd(s, n, &days);
	if (!i || i + 9 > n || s[i] != ' ' || s[i + 3] != ':' || s[i + 6] != ':')
		goto invalid;
	for (int k = 1; k <= 8; k++)
		if (k != 3 && k != 6 && !isdigit((unsigned char)s[i + k]))
			goto invalid;
	int hh = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	int mi = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
	int ss = (s[i + 7] - '0') * 10 + (s[i + 8] - '0');
	i += 9;
	int64_t frac = 0;
	if (i < n && s[i] == '.') {
		int digits = 0;
		for (i++; i < n && isdigit((unsigned char)s[i]); i++)
			if (digits < 6) {
				frac = frac * 10 + (s[i] - '0');
				digits++;
			}
		while (digits++ < 6)
			frac *= 10;
	}
	int64_t offset = 0;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		int parts[3] = {0, 0, 0}, np = 0;
		i++;
		while (np < 3 && i < n && isdigit((unsigned char)s[i])) {
			if (i + 1 >= n || !isdigit((unsigned char)s[i + 1]))
				goto invalid;
			parts[np++] = (s[i] - '0') * 10 + (s[i + 1] - '0');
			i += 2;
			if (i < n && s[i] == ':')
				i++;
			else
				break;
		}
		offset = sign * ((int64_t)parts[0] * 3600 + parts[1] * 60 + parts[2]);
	}
	if (i != n)
		goto invalid;
	if (bc)
		days = bc_days(days);
	v->us = (days - PG_EPOCH_DAYS) * US_PER_DAY + ((int64_t)hh * 3600 + mi * 60 + ss - offset) * 1000000 + frac;
	return CONV_OK;
invalid:
	return bad(err, errlen, "invalid timestamp \"%.*s\" (expected DateStyle ISO)", (int)(n > 40 ? 40 : n), s);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* bytea text form (hex "\x..." or the old escape format) into raw bytes in c->fmt. */
static ConvResult parse_bytea_text(ColConv *c, const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	Buf *b = &c->fmt;
	buf_reset(b);
	if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
		if ((n - 2) % 2)
			return bad(err, errlen, "invalid bytea hex (odd length)");
		buf_reserve(b, (n - 2) / 2);
		for (size_t i = 2; i < n; i += 2) {
			int hi = hexval(s[i]), lo = hexval(s[i + 1]);
			if (hi < 0 || lo < 0)
				return bad(err, errlen, "invalid bytea hex digit");
			b->data[b->len++] = (char)(hi << 4 | lo);
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			if (s[i] != '\\') {
				buf_put_u8(b, (uint8_t)s[i]);
			} else if (i + 1 < n && s[i + 1] == '\\') {
				buf_put_u8(b, '\\');
				i++;
			} else if (i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
				   s[i + 3] >= '0' && s[i + 3] <= '7') {
				buf_put_u8(b, (uint8_t)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
				i += 3;
			} else {
				return bad(err, errlen, "invalid bytea escape");
			}
		}
	}
	v->kind = V_BYTES;
	v->s = b->data;
	v->n = b->len;
	return CONV_OK;
}

static ConvResult decode_text(ColConv *c, PgKind kind, const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	char tok[64];
	char *end;
	switch (kind) {
	case PG_BOOL:
		v->kind = V_BOOL;
		if (text_eq(s, n, "t") || text_eq(s, n, "true"))
			v->i = 1;
		else if (text_eq(s, n, "f") || text_eq(s, n, "false"))
			v->i = 0;
		else
			return bad(err, errlen, "invalid boolean \"%.*s\"", (int)(n > 20 ? 20 : n), s);
		return CONV_OK;
	case PG_INT2:
	case PG_INT4:
	case PG_INT8:
	case PG_OID:
		if (!short_token(s, n, tok, sizeof tok))
			break;
		v->kind = V_INT;
		if (kind == PG_OID)
			v->i = (int64_t)strtoull(tok, &end, 10);
		else
			v->i = strtoll(tok, &end, 10);
		if (*end)
			break;
		return CONV_OK;
	case PG_FLOAT4:
	case PG_FLOAT8:
		if (!short_token(s, n, tok, sizeof tok))
			break;
		v->kind = V_FLOAT;
		v->f4 = kind == PG_FLOAT4;
		v->f = v->f4 ? (double)strtof(tok, &end) : strtod(tok, &end);
		if (*end)
			break;
		return CONV_OK;
	case PG_NUMERIC: return parse_numeric_text(c, s, n, v, err, errlen);
	case PG_BYTEA: return parse_bytea_text(c, s, n, v, err, errlen);
	case PG_TEXT:
	case PG_JSONB:
	case PG_CHAR:
	case PG_OTHER:
		v->kind = V_BYTES;
		v->s = s;
		v->n = n;
		return CONV_OK;
	case PG_UUID: {
		int nib = 0;
		memset(v->uuid, 0, 16);
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '-' || s[i] == '{' || s[i] == '}')
				continue;
			int h = hexval(s[i]);
			if (h < 0 || nib >= 32)
				return bad(err, errlen, "invalid uuid");
			v->uuid[nib / 2] |= (unsigned char)(nib % 2 ? h : h << 4);
			nib++;
		}
		if (nib != 32)
			return bad(err, errlen, "invalid uuid");
		v->kind = V_UUID;
		return CONV_OK;
	}
	case PG_DATE: return parse_date_text(s, n, v, err, errlen);
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ: return parse_ts_text(s, n, v, err, errlen);
	}
	return bad(err, errlen, "invalid number \"%.*s\"", (int)(n > 40 ? 40 : n), s);
}

/* ---------------------------------------------------------------- text formatters */

static void fmt_ymd(int64_t days, Buf *out, bool *bc)
{
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	*bc = y <= 0;
	if (*bc)
		y = 1 - y;
	buf_printf(out, "%04" PRId64 "-%02d-%02d", y, m, d);
}

static void fmt_date(const Value *v, Buf *out)
{
	if (v->inf) {
		buf_puts(out, v->inf > 0 ? "infinity" : "-infinity");
		return;
	}
	bool bc;
	fmt_ymd(v->days, out, &bc);
	if (bc)
		buf_puts(out, " BC");
}

static void fmt_ts(const Value *v, bool tz, Buf *out)
{
	if (v->inf) {
		buf_puts(out, v->inf > 0 ? "infinity" : "-infinity");
		return;
	}
	int64_t days = floor_div(v->us, US_PER_DAY);
	int64_t rem = v->us - days * US_PER_DAY;
	bool bc;
	fmt_ymd(days + PG_EPOCH_DAYS, out, &bc);
	int64_t secs = rem / 1000000, frac = rem % 1000000;
	buf_printf(out, " %02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	if (frac) {
		char f[8];
		snprintf(f, sizeof f, "%06d", (int)frac);
		int len = 6;
		while (len > 0 && f[len - 1] == '0')
			len--;
		buf_printf(out, ".%.*s", len, f);
	}
	if (tz)
		buf_puts(out, "+00");
	if (bc)
		buf_puts(out, " BC");
}

static void fmt_numeric(const Value *v, Buf *out)
{
	if (v->nsign == NUM_NAN) {
		buf_puts(out, "NaN");
		return;
	}
	if (v->nsign == NUM_PINF || v->nsign == NUM_NINF) {
		buf_puts(out, v->nsign == NUM_PINF ? "Infinity" : "-Infinity");
		return;
	}
	if (v->nsign == NUM_NEG)
		buf_put_u8(out, '-');
	/* integer part */
	if (v->weight < 0) {
		buf_put_u8(out, '0');
	} else {
		for (int g = 0; g <= v->weight; g++) {
			unsigned d = g < v->ndigits ? v->digits[g] : 0;
			if (g == 0)
				buf_printf(out, "%u", d);
			else
				buf_printf(out, "%04u", d);
		}
	}
	if (v->dscale > 0) {
		buf_put_u8(out, '.');
		int written = 0;
		for (int g = v->weight + 1; written < v->dscale; g++) {
			unsigned d = (g >= 0 && g < v->ndigits) ? v->digits[g] : 0;
			unsigned pow = 1000;
			for (int k = 0; k < 4 && written < v->dscale; k++, written++, pow /= 10)
				buf_put_u8(out, (uint8_t)('0' + d / pow % 10));
		}
	}
}

static void fmt_uuid(const unsigned char *u, Buf *out)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf_put_u8(out, '-');
		buf_put_u8(out, (uint8_t)hex[u[i] >> 4]);
		buf_put_u8(out, (uint8_t)hex[u[i] & 15]);
	}
}

/* "char" prints as the byte, or \ooo for high-bit bytes, or nothing for \0. */
static void fmt_char(const Value *v, Buf *out)
{
	if (v->n == 0 || v->s[0] == '\0')
		return;
	unsigned char ch = (unsigned char)v->s[0];
	if (ch & 0x80)
		buf_printf(out, "\\%03o", ch);
	else
		buf_put_u8(out, ch);
}

/* The PostgreSQL text form of a decoded value (not floats: those travel as text). */
static void format_value(const ColConv *c, PgKind kind, const Value *v, Buf *out)
{
	switch (v->kind) {
	case V_BOOL: buf_puts(out, v->i ? "t" : "f"); break;
	case V_INT: buf_printf(out, "%" PRId64, v->i); break;
	case V_FLOAT: buf_printf(out, "%.17g", v->f); break;
	case V_NUMERIC: fmt_numeric(v, out); break;
	case V_BYTES:
		if (kind == PG_CHAR)
			fmt_char(v, out);
		else
			buf_put(out, v->s, v->n);
		break;
	case V_UUID: fmt_uuid(v->uuid, out); break;
	case V_DATE: fmt_date(v, out); break;
	case V_TS: fmt_ts(v, c->tz, out); break;
	case V_NULL: break;
	}
}

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

static int decimal_bytes(int precision)
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
		put_big(out, &z, decimal_bytes(c->ch.precision));
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
		int64_t ticks = t->precision >= 6 ? us * pow10i(t->precision - 6) : floor_div(us, pow10i(6 - t->precision));
		buf_put_le(out, (uint64_t)ticks, 8);
		break;
	}
	case CH_DECIMAL: {
		Big b = big_all_nines(t->precision);
		if (dir < 0)
			big_negate(&b);
		put_big(out, &b, decimal_bytes(t->precision));
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
	Buf *f = &c->fmt;
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
		fmt_date(&d, f);
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
		buf_reset(&c->fmt);
		Value t = *v;
		t.kind = V_TS;
		t.us = us;
		fmt_ts(&t, false, &c->fmt);
		return unrep(c, nullable, us < lo ? -1 : 1, out, mark, err, errlen, "timestamp %s is outside the range of %s",
			     c->fmt.data, dt64 ? "DateTime64 on this server" : "DateTime (1970 to 2105)");
	}
	us += PG_EPOCH_US; /* in range, so it fits */
	if (dt64) {
		int p = c->ch.precision;
		int64_t ticks = p >= 6 ? us * pow10i(p - 6) : floor_div(us, pow10i(6 - p));
		buf_put_le(out, (uint64_t)ticks, 8);
	} else {
		buf_put_le(out, (uint64_t)floor_div(us, 1000000), 4);
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
		if (parse_numeric_text(c, tmp, (size_t)len, &nv, e2, sizeof e2) != CONV_OK)
			return CONV_BAD;
		return put_decimal(c, &nv, nullable, out, mark, err, errlen);
	}
	if (v->nsign == NUM_NAN)
		return unrep(c, nullable, 0, out, mark, err, errlen, "numeric NaN has no ClickHouse Decimal form");
	if (v->nsign == NUM_PINF || v->nsign == NUM_NINF)
		return unrep(c, nullable, v->nsign == NUM_PINF ? 1 : -1, out, mark, err, errlen,
			     "numeric %s has no ClickHouse Decimal form", v->nsign == NUM_PINF ? "Infinity" : "-Infinity");
	int r = numeric_to_big(v, t->precision, t->scale, &b);
	if (r) {
		buf_reset(&c->fmt);
		fmt_numeric(v, &c->fmt);
		return unrep(c, nullable, v->nsign == NUM_NEG ? -1 : 1, out, mark, err, errlen, "%.60s %s Decimal(%d, %d)",
			     c->fmt.data, r == 1 ? "does not fit in" : "has more fraction digits than", t->precision,
			     t->scale);
	}
	if (v->nsign == NUM_NEG)
		big_negate(&b);
	put_big(out, &b, decimal_bytes(t->precision));
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
			buf_reset(&c->fmt);
			format_value(c, kind, v, &c->fmt);
			buf_put_string(out, c->fmt.data, c->fmt.len);
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
			return put_days(c, v, floor_div(v->us, US_PER_DAY) + PG_EPOCH_DAYS, nullable, out, mark, err, errlen);
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
	return bad(err, errlen, "cannot convert this value to the column's ClickHouse type");
}

/* ---------------------------------------------------------------- arrays */

static ConvResult put_scalar(ColConv *c, bool binary, const char *d, size_t n, bool nullable, Buf *out, char *err,
			     size_t errlen)
{
	Value v;
	v.kind = V_NULL;
	v.inf = 0;
	v.f4 = false;
	ConvResult r = binary ? decode_binary(c, c->pg, d, n, &v, err, errlen) : decode_text(c, c->pg, d, n, &v, err, errlen);
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
		return bad(err, errlen, "invalid binary array");
	int32_t ndim = (int32_t)rd_be32(d);
	if (ndim == 0) {
		buf_put_varint(out, 0);
		return CONV_OK;
	}
	if (ndim < 0 || n < 12 + 8 * (size_t)ndim)
		return bad(err, errlen, "invalid binary array header");
	if (ndim > 1)
		return multidim(c, out, mark, err, errlen);
	int32_t count = (int32_t)rd_be32(d + 12);
	if (count < 0)
		return bad(err, errlen, "invalid binary array size");
	buf_put_varint(out, (uint64_t)count);
	size_t off = 20;
	for (int32_t i = 0; i < count; i++) {
		if (off + 4 > n)
			return bad(err, errlen, "truncated binary array");
		int32_t len = (int32_t)rd_be32(d + off);
		off += 4;
		ConvResult r;
		if (len < 0) {
			r = put_null_element(c, out);
		} else {
			if (off + (size_t)len > n)
				return bad(err, errlen, "truncated binary array element");
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
		return bad(err, errlen, "invalid array text form");
	i++;
	Buf *tmp = &c->tmp;
	buf_reset(tmp);
	uint64_t count = 0;
	char delim = c->delim ? c->delim : ',';
	for (;;) {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i >= n)
			return bad(err, errlen, "unterminated array text form");
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
				return bad(err, errlen, "unterminated quoted array element");
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
		if (!quoted && text_eq(el->data, el->len, "NULL"))
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
		return bad(err, errlen, "invalid array text form");
	}
	buf_put_varint(out, count);
	buf_put(out, tmp->data, tmp->len);
	return CONV_OK;
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
	buf_init(&c->tmp);
	buf_init(&c->text);
	buf_init(&c->fmt);
}

void rowbinary_free(ColConv *c)
{
	free(c->digits);
	c->digits = NULL;
	buf_free(&c->tmp);
	buf_free(&c->text);
	buf_free(&c->fmt);
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
	/* Fast paths for the commonest columns: not nullable or nullable, no conversion. */
	if (binary) {
		size_t n = (size_t)len;
		switch (c->pg) {
		case PG_INT4:
			if (c->ch.kind == CH_INT32 && n == 4) {
				buf_reserve(out, 5);
				if (c->ch.nullable)
					out->data[out->len++] = 0;
				uint32_t x = rd_be32(data);
				memcpy(out->data + out->len, &x, 4); /* host is little-endian (checked in tests) */
				out->len += 4;
				return CONV_OK;
			}
			break;
		case PG_INT8:
			if (c->ch.kind == CH_INT64 && n == 8) {
				buf_reserve(out, 9);
				if (c->ch.nullable)
					out->data[out->len++] = 0;
				uint64_t x = rd_be64(data);
				memcpy(out->data + out->len, &x, 8);
				out->len += 8;
				return CONV_OK;
			}
			break;
		case PG_TEXT:
			if (c->ch.kind == CH_STRING) {
				buf_reserve(out, n + 11);
				if (c->ch.nullable)
					out->data[out->len++] = 0;
				buf_put_string(out, data, n);
				return CONV_OK;
			}
			break;
		default: break;
		}
		return put_scalar(c, true, data, (size_t)len, c->ch.nullable, out, err, errlen);
	}
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

void rowbinary_describe(ColConv *c, bool binary, const char *data, int len, char *out, size_t outlen)
{
	if (len < 0) {
		snprintf(out, outlen, "NULL");
		return;
	}
	if (!binary) {
		snprintf(out, outlen, "%.*s", len, data);
		return;
	}
	Value v = {.kind = V_NULL};
	char err[64];
	Buf b;
	buf_init(&b);
	if (!c->ch.array && c->pg != PG_OTHER && decode_binary(c, c->pg, data, (size_t)len, &v, err, sizeof err) == CONV_OK)
		format_value(c, c->pg, &v, &b);
	else
		buf_puts(&b, "(binary value)");
	snprintf(out, outlen, "%s", b.data);
	buf_free(&b);
}

static bool read_varint(const char *p, size_t n, size_t *used, uint64_t *v)
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
	case CH_DECIMAL: return (size_t)decimal_bytes(t->precision);
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
		if (!read_varint(p + off, n - off, &vl, &len) || len > n - off - vl)
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
	if (!read_varint(p, n, &off, &count))
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
