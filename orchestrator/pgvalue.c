/*
 * pgvalue — PostgreSQL values in, PostgreSQL text out; see pgvalue.h.
 *
 * Layout: calendar helpers; binary decoders; text decoders; text formatters.
 */
#include "pgvalue.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- calendar */

void pgvalue_civil_from_days(int64_t z, int64_t *yp, int *mp, int *dp)
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

/* ---------------------------------------------------------------- scratch and errors */

static uint16_t *digits_reserve(PgScratch *c, size_t n)
{
	if (n > c->digits_cap) {
		c->digits_cap = n < 64 ? 64 : n * 2;
		c->digits = xrealloc(c->digits, c->digits_cap * sizeof(uint16_t));
	}
	return c->digits;
}

ConvResult pgvalue_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CONV_BAD;
}

/* ---------------------------------------------------------------- binary decoders */

ConvResult pgvalue_decode_binary(PgScratch *c, PgKind kind, const char *d, size_t n, Value *v, char *err, size_t errlen)
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
				return pgvalue_bad(err, errlen, "invalid numeric digit %u", dg[i]);
		}
		v->digits = dg;
		return CONV_OK;
	}
	case PG_JSONB:
		if (n < 1 || d[0] != 1)
			return pgvalue_bad(err, errlen, "unsupported jsonb binary version %d", n ? d[0] : -1);
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
	return pgvalue_bad(err, errlen, "invalid binary value (%zu bytes)", n);
}

/* ---------------------------------------------------------------- text decoders */

/* Copy a short token into a NUL-terminated buffer for strto* functions. */
static bool short_token(const char *s, size_t n, char *buf, size_t bufsize)
{
	if (n == 0 || n >= bufsize)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

ConvResult pgvalue_parse_numeric(PgScratch *c, const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	v->kind = V_NUMERIC;
	v->ndigits = v->weight = v->dscale = 0;
	v->digits = NULL;
	if (pgvalue_text_eq(s, n, "NaN")) {
		v->nsign = NUM_NAN;
		return CONV_OK;
	}
	if (pgvalue_text_eq(s, n, "Infinity") || pgvalue_text_eq(s, n, "+Infinity")) {
		v->nsign = NUM_PINF;
		return CONV_OK;
	}
	if (pgvalue_text_eq(s, n, "-Infinity")) {
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
		return pgvalue_bad(err, errlen, "invalid numeric \"%.*s\"", (int)(n > 40 ? 40 : n), s);
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
	*days = types_days_from_civil(y, m, d);
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
	pgvalue_civil_from_days(days, &y, &m, &d);
	return types_days_from_civil(1 - y, m, d);
}

static ConvResult parse_date_text(const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	v->kind = V_DATE;
	v->inf = 0;
	if (pgvalue_text_eq(s, n, "infinity")) {
		v->inf = 1;
		return CONV_OK;
	}
	if (pgvalue_text_eq(s, n, "-infinity")) {
		v->inf = -1;
		return CONV_OK;
	}
	bool bc = ends_with_bc(s, &n);
	int64_t days;
	if (parse_ymd(s, n, &days) != n)
		return pgvalue_bad(err, errlen, "invalid date \"%.*s\" (expected DateStyle ISO)", (int)(n > 40 ? 40 : n), s);
	v->days = bc ? bc_days(days) : days;
	return CONV_OK;
}

static ConvResult parse_ts_text(const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	v->kind = V_TS;
	v->inf = 0;
	if (pgvalue_text_eq(s, n, "infinity")) {
		v->inf = 1;
		return CONV_OK;
	}
	if (pgvalue_text_eq(s, n, "-infinity")) {
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
	return pgvalue_bad(err, errlen, "invalid timestamp \"%.*s\" (expected DateStyle ISO)", (int)(n > 40 ? 40 : n), s);
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
static ConvResult parse_bytea_text(PgScratch *c, const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	Buf *b = &c->fmt;
	buf_reset(b);
	if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
		if ((n - 2) % 2)
			return pgvalue_bad(err, errlen, "invalid bytea hex (odd length)");
		buf_reserve(b, (n - 2) / 2);
		for (size_t i = 2; i < n; i += 2) {
			int hi = hexval(s[i]), lo = hexval(s[i + 1]);
			if (hi < 0 || lo < 0)
				return pgvalue_bad(err, errlen, "invalid bytea hex digit");
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
				return pgvalue_bad(err, errlen, "invalid bytea escape");
			}
		}
	}
	v->kind = V_BYTES;
	v->s = b->data;
	v->n = b->len;
	return CONV_OK;
}

ConvResult pgvalue_decode_text(PgScratch *c, PgKind kind, const char *s, size_t n, Value *v, char *err, size_t errlen)
{
	char tok[64];
	char *end;
	switch (kind) {
	case PG_BOOL:
		v->kind = V_BOOL;
		if (pgvalue_text_eq(s, n, "t") || pgvalue_text_eq(s, n, "true"))
			v->i = 1;
		else if (pgvalue_text_eq(s, n, "f") || pgvalue_text_eq(s, n, "false"))
			v->i = 0;
		else
			return pgvalue_bad(err, errlen, "invalid boolean \"%.*s\"", (int)(n > 20 ? 20 : n), s);
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
	case PG_NUMERIC: return pgvalue_parse_numeric(c, s, n, v, err, errlen);
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
				return pgvalue_bad(err, errlen, "invalid uuid");
			v->uuid[nib / 2] |= (unsigned char)(nib % 2 ? h : h << 4);
			nib++;
		}
		if (nib != 32)
			return pgvalue_bad(err, errlen, "invalid uuid");
		v->kind = V_UUID;
		return CONV_OK;
	}
	case PG_DATE: return parse_date_text(s, n, v, err, errlen);
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ: return parse_ts_text(s, n, v, err, errlen);
	}
	return pgvalue_bad(err, errlen, "invalid number \"%.*s\"", (int)(n > 40 ? 40 : n), s);
}

/* ---------------------------------------------------------------- text formatters */

/* v in decimal, zero-padded to at least `width` digits, at p; returns the end. printf would
 * cost a third of a snapshot worker's CPU on a table with a few timestamp columns. */
static char *put_digits(char *p, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	while (n)
		*p++ = tmp[--n];
	return p;
}

static inline char *put_2digits(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* "YYYY-MM-DD" (at least four year digits) at p; *bc for years before 1 AD. */
static char *fmt_ymd(int64_t days, char *p, bool *bc)
{
	int64_t y;
	int m, d;
	pgvalue_civil_from_days(days, &y, &m, &d);
	*bc = y <= 0;
	if (*bc)
		y = 1 - y;
	p = put_digits(p, (uint64_t)y, 4);
	*p++ = '-';
	p = put_2digits(p, m);
	*p++ = '-';
	return put_2digits(p, d);
}

void pgvalue_format_date(const Value *v, Buf *out)
{
	if (v->inf) {
		buf_puts(out, v->inf > 0 ? "infinity" : "-infinity");
		return;
	}
	bool bc;
	buf_reserve(out, 40);
	char *p = fmt_ymd(v->days, out->data + out->len, &bc);
	if (bc) {
		memcpy(p, " BC", 3);
		p += 3;
	}
	*p = '\0';
	out->len = (size_t)(p - out->data);
}

/* " HH:MM:SS[.ffffff]" of rem microseconds into the day, trailing zeros of the fraction dropped */
static char *put_time(char *p, int64_t rem)
{
	int secs = (int)(rem / 1000000), frac = (int)(rem % 1000000);
	*p++ = ' ';
	p = put_2digits(p, secs / 3600);
	*p++ = ':';
	p = put_2digits(p, secs / 60 % 60);
	*p++ = ':';
	p = put_2digits(p, secs % 60);
	if (frac) {
		int len = 6;
		while (frac % 10 == 0) {
			frac /= 10;
			len--;
		}
		*p++ = '.';
		p = put_digits(p, (uint64_t)frac, len);
	}
	return p;
}

void pgvalue_format_ts(const Value *v, bool tz, Buf *out)
{
	if (v->inf) {
		buf_puts(out, v->inf > 0 ? "infinity" : "-infinity");
		return;
	}
	int64_t days = pgvalue_floor_div(v->us, US_PER_DAY);
	int64_t rem = v->us - days * US_PER_DAY;
	bool bc;
	buf_reserve(out, 64);
	char *p = fmt_ymd(days + PG_EPOCH_DAYS, out->data + out->len, &bc);
	p = put_time(p, rem);
	if (tz) {
		memcpy(p, "+00", 3);
		p += 3;
	}
	if (bc) {
		memcpy(p, " BC", 3);
		p += 3;
	}
	*p = '\0';
	out->len = (size_t)(p - out->data);
}

char *pgvalue_put_ts(char *p, int64_t us, bool tz, PgDayCache *dc)
{
	int64_t days = pgvalue_floor_div(us, US_PER_DAY);
	int64_t rem = us - days * US_PER_DAY;
	if (!dc->set || dc->days != days) {
		int64_t y;
		int m, d;
		pgvalue_civil_from_days(days + PG_EPOCH_DAYS, &y, &m, &d);
		if (y < 1 || y > 9999)
			return NULL;
		char *q = put_digits(dc->ymd, (uint64_t)y, 4);
		*q++ = '-';
		q = put_2digits(q, m);
		*q++ = '-';
		put_2digits(q, d);
		dc->days = days;
		dc->set = true;
	}
	memcpy(p, dc->ymd, 10);
	p = put_time(p + 10, rem);
	if (tz) {
		memcpy(p, "+00", 3);
		p += 3;
	}
	return p;
}

void pgvalue_format_numeric(const Value *v, Buf *out)
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
void pgvalue_format(const Value *v, PgKind kind, bool tz, Buf *out)
{
	switch (v->kind) {
	case V_BOOL: buf_puts(out, v->i ? "t" : "f"); break;
	case V_INT: { /* the stream formats every key this way: printf was 7% of its CPU */
		char tmp[24], *p = tmp;
		uint64_t u = (uint64_t)v->i;
		if (v->i < 0) {
			*p++ = '-';
			u = 0 - u;
		}
		p = put_digits(p, u, 1);
		buf_put(out, tmp, (size_t)(p - tmp));
		break;
	}
	case V_FLOAT: buf_printf(out, "%.17g", v->f); break;
	case V_NUMERIC: pgvalue_format_numeric(v, out); break;
	case V_BYTES:
		if (kind == PG_CHAR)
			fmt_char(v, out);
		else
			buf_put(out, v->s, v->n);
		break;
	case V_UUID: fmt_uuid(v->uuid, out); break;
	case V_DATE: pgvalue_format_date(v, out); break;
	case V_TS: pgvalue_format_ts(v, tz, out); break;
	case V_NULL: break;
	}
}
