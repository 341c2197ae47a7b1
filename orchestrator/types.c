/*
 * types — the mapping table and ClickHouse type names; see types.h.
 */
#include "types.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t types_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void types_caps_legacy(ChCaps *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->version, sizeof c->version, "18.16");
	c->has_nullable_in_array = true;
	c->has_insert_deduplicate = true;
}

void types_caps_modern(ChCaps *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->version, sizeof c->version, "24.8");
	c->has_bool = c->has_date32 = c->has_datetime64 = c->has_decimal256 = true;
	c->has_low_cardinality = c->has_nullable_in_array = c->has_replacing_is_deleted = true;
	c->has_async_insert = c->has_max_partitions_per_insert_block = c->has_insert_deduplicate = true;
	c->has_zstd_http = true;
	c->date32_min = (int32_t)types_days_from_civil(1900, 1, 1);
	c->date32_max = (int32_t)types_days_from_civil(2299, 12, 31);
	c->dt64_min = types_days_from_civil(1900, 1, 1) * 86400 * 1000000;
	c->dt64_max = (types_days_from_civil(2299, 12, 31) * 86400 + 86399) * 1000000 + 999999;
}

PgKind types_pg_kind(const PgTypeInfo *pg)
{
	if (pg->typtype == 'e')
		return PG_TEXT;
	switch (pg->oid) {
	case OID_BOOL: return PG_BOOL;
	case OID_INT2: return PG_INT2;
	case OID_INT4: return PG_INT4;
	case OID_INT8: return PG_INT8;
	case OID_OID: return PG_OID;
	case OID_FLOAT4: return PG_FLOAT4;
	case OID_FLOAT8: return PG_FLOAT8;
	case OID_NUMERIC: return PG_NUMERIC;
	case OID_TEXT:
	case OID_VARCHAR:
	case OID_BPCHAR:
	case OID_NAME:
	case OID_JSON: return PG_TEXT;
	case OID_JSONB: return PG_JSONB;
	case OID_BYTEA: return PG_BYTEA;
	case OID_UUID: return PG_UUID;
	case OID_DATE: return PG_DATE;
	case OID_TIMESTAMP: return PG_TIMESTAMP;
	case OID_TIMESTAMPTZ: return PG_TIMESTAMPTZ;
	case OID_CHAR: return PG_CHAR;
	default: break;
	}
	if (pg->name && strcmp(pg->name, "citext") == 0 && pg->typtype == 'b')
		return PG_TEXT;
	return PG_OTHER;
}

void types_map(const PgTypeInfo *pg, const ChCaps *caps, const TypeOptions *opt, ChType *ch, PgKind *kindp)
{
	PgKind kind = types_pg_kind(pg);
	memset(ch, 0, sizeof *ch);
	ch->kind = CH_STRING;
	switch (kind) {
	case PG_BOOL: ch->kind = caps->has_bool ? CH_BOOL : CH_UINT8; break;
	case PG_INT2: ch->kind = CH_INT16; break;
	case PG_INT4: ch->kind = CH_INT32; break;
	case PG_INT8: ch->kind = CH_INT64; break;
	case PG_OID: ch->kind = CH_UINT32; break;
	case PG_FLOAT4: ch->kind = CH_FLOAT32; break;
	case PG_FLOAT8: ch->kind = CH_FLOAT64; break;
	case PG_NUMERIC:
		if (pg->typmod >= 4) {
			int p = ((pg->typmod - 4) >> 16) & 0xffff;
			/* PostgreSQL 15 stores the scale as an 11-bit signed field. */
			int s = (((pg->typmod - 4) & 0x7ff) ^ 1024) - 1024;
			if (s >= 0 && s <= p && (p <= 38 || (p <= 76 && caps->has_decimal256))) {
				ch->kind = CH_DECIMAL;
				ch->precision = p;
				ch->scale = s;
			} else {
				ch->text_form = true;
			}
		} else if (opt && opt->numeric_as_decimal && caps->has_decimal256) {
			ch->kind = CH_DECIMAL;
			ch->precision = 76;
			ch->scale = 38;
		} else {
			ch->text_form = true;
		}
		break;
	case PG_TEXT:
		ch->low_cardinality = pg->typtype == 'e' && caps->has_low_cardinality;
		break;
	case PG_JSONB:
	case PG_BYTEA:
	case PG_CHAR: break;
	case PG_UUID: ch->kind = CH_UUID; break;
	case PG_DATE: ch->kind = caps->has_date32 ? CH_DATE32 : CH_DATE; break;
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ:
		if (caps->has_datetime64) {
			ch->kind = CH_DATETIME64;
			ch->precision = 6;
		} else if (opt && opt->timestamp_as_datetime) {
			ch->kind = CH_DATETIME;
		} else {
			ch->text_form = true;
		}
		break;
	case PG_OTHER: ch->text_form = true; break;
	}
	ch->array = pg->array;
	ch->nullable = pg->array ? caps->has_nullable_in_array : !pg->notnull;
	if (pg->array && pg->ndims > 1) {
		/* declared multi-dimensional: the whole value as text */
		memset(ch, 0, sizeof *ch);
		ch->kind = CH_STRING;
		ch->text_form = true;
		ch->nullable = !pg->notnull;
		kind = PG_OTHER;
	}
	*kindp = kind;
}

bool types_binary_ok(PgKind pg, const ChType *ch)
{
	if (pg == PG_OTHER)
		return false;
	if (ch->kind == CH_STRING && (pg == PG_FLOAT4 || pg == PG_FLOAT8))
		return false; /* float text form needs PostgreSQL's shortest-exact printer */
	return true;
}

static bool is_integer_kind(ChKind k)
{
	return k == CH_UINT8 || k == CH_UINT16 || k == CH_UINT32 || k == CH_UINT64 || k == CH_INT8 || k == CH_INT16 ||
	       k == CH_INT32 || k == CH_INT64;
}

static const char *base_name(ChKind k);

bool types_compatible(PgKind pg, const ChType *ch, char *err, size_t errlen)
{
	ChKind k = ch->kind;
	bool ok = k == CH_STRING;
	switch (pg) {
	case PG_BOOL: ok = ok || k == CH_BOOL || is_integer_kind(k); break;
	case PG_INT2:
	case PG_INT4:
	case PG_INT8:
	case PG_OID: ok = ok || is_integer_kind(k) || k == CH_FLOAT32 || k == CH_FLOAT64 || k == CH_DECIMAL; break;
	case PG_FLOAT4:
	case PG_FLOAT8: ok = ok || k == CH_FLOAT32 || k == CH_FLOAT64; break;
	case PG_NUMERIC: ok = ok || k == CH_DECIMAL; break;
	case PG_UUID: ok = ok || k == CH_UUID; break;
	case PG_DATE:
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ:
		ok = ok || k == CH_DATE || k == CH_DATE32 || k == CH_DATETIME || k == CH_DATETIME64;
		break;
	default: break;
	}
	if (!ok)
		snprintf(err, errlen, "values of this column cannot be written as %s", base_name(k));
	return ok;
}

static const char *base_name(ChKind k)
{
	switch (k) {
	case CH_BOOL: return "Bool";
	case CH_UINT8: return "UInt8";
	case CH_UINT16: return "UInt16";
	case CH_UINT32: return "UInt32";
	case CH_UINT64: return "UInt64";
	case CH_INT8: return "Int8";
	case CH_INT16: return "Int16";
	case CH_INT32: return "Int32";
	case CH_INT64: return "Int64";
	case CH_FLOAT32: return "Float32";
	case CH_FLOAT64: return "Float64";
	case CH_DECIMAL: return "Decimal";
	case CH_STRING: return "String";
	case CH_UUID: return "UUID";
	case CH_DATE: return "Date";
	case CH_DATE32: return "Date32";
	case CH_DATETIME: return "DateTime";
	case CH_DATETIME64: return "DateTime64";
	}
	return "?";
}

bool types_same_ch(const ChType *a, const ChType *b)
{
	Buf x, y;
	buf_init(&x);
	buf_init(&y);
	types_ch_name(a, &x);
	types_ch_name(b, &y);
	bool same = strcmp(x.data, y.data) == 0;
	buf_free(&x);
	buf_free(&y);
	return same;
}

void types_ch_name(const ChType *ch, Buf *out)
{
	int close = 0;
	if (ch->array) {
		buf_puts(out, "Array(");
		close++;
	}
	if (ch->low_cardinality) {
		buf_puts(out, "LowCardinality(");
		close++;
	}
	if (ch->nullable) {
		buf_puts(out, "Nullable(");
		close++;
	}
	if (ch->kind == CH_DECIMAL)
		buf_printf(out, "Decimal(%d, %d)", ch->precision, ch->scale);
	else if (ch->kind == CH_DATETIME64)
		buf_printf(out, "DateTime64(%d, 'UTC')", ch->precision);
	else if (ch->kind == CH_DATETIME)
		buf_puts(out, "DateTime('UTC')");
	else
		buf_puts(out, base_name(ch->kind));
	while (close--)
		buf_put_u8(out, ')');
}

/* ---- parsing overrides: a small recursive-descent reader of ClickHouse type names ---- */

typedef struct TypeLexer {
	const char *p;
	char *err;
	size_t errlen;
} TypeLexer;

static void skip_ws(TypeLexer *lx)
{
	while (isspace((unsigned char)*lx->p))
		lx->p++;
}

static bool expect(TypeLexer *lx, char c)
{
	skip_ws(lx);
	if (*lx->p != c) {
		snprintf(lx->err, lx->errlen, "expected '%c' at \"%s\"", c, lx->p);
		return false;
	}
	lx->p++;
	return true;
}

static bool read_int(TypeLexer *lx, int *v)
{
	skip_ws(lx);
	if (!isdigit((unsigned char)*lx->p)) {
		snprintf(lx->err, lx->errlen, "expected a number at \"%s\"", lx->p);
		return false;
	}
	*v = (int)strtol(lx->p, (char **)&lx->p, 10);
	return true;
}

static bool parse_inner(TypeLexer *lx, const ChCaps *caps, ChType *t, int depth)
{
	skip_ws(lx);
	const char *s = lx->p;
	while (isalnum((unsigned char)*lx->p) || *lx->p == '_')
		lx->p++;
	size_t n = (size_t)(lx->p - s);
	char id[32];
	if (n == 0 || n >= sizeof id) {
		snprintf(lx->err, lx->errlen, "expected a type name at \"%s\"", s);
		return false;
	}
	memcpy(id, s, n);
	id[n] = '\0';
	if (depth > 3) {
		snprintf(lx->err, lx->errlen, "type nested too deeply");
		return false;
	}
	if (strcmp(id, "Nullable") == 0 || strcmp(id, "LowCardinality") == 0 || strcmp(id, "Array") == 0) {
		if (id[0] == 'N')
			t->nullable = true;
		else if (id[0] == 'L') {
			if (!caps->has_low_cardinality) {
				snprintf(lx->err, lx->errlen, "this ClickHouse server has no LowCardinality type");
				return false;
			}
			t->low_cardinality = true;
		} else {
			if (t->array || t->nullable || t->low_cardinality) {
				snprintf(lx->err, lx->errlen, "Array must be the outermost type, and only one level");
				return false;
			}
			t->array = true;
		}
		return expect(lx, '(') && parse_inner(lx, caps, t, depth + 1) && expect(lx, ')');
	}
	static const struct {
		const char *name;
		ChKind kind;
	} simple[] = {{"Bool", CH_BOOL},	 {"UInt8", CH_UINT8},	  {"UInt16", CH_UINT16}, {"UInt32", CH_UINT32},
		      {"UInt64", CH_UINT64},	 {"Int8", CH_INT8},	  {"Int16", CH_INT16},	 {"Int32", CH_INT32},
		      {"Int64", CH_INT64},	 {"Float32", CH_FLOAT32}, {"Float64", CH_FLOAT64}, {"String", CH_STRING},
		      {"UUID", CH_UUID},	 {"Date", CH_DATE},	  {"Date32", CH_DATE32}};
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (strcmp(id, simple[i].name) == 0) {
			t->kind = simple[i].kind;
			if ((t->kind == CH_BOOL && !caps->has_bool) || (t->kind == CH_DATE32 && !caps->has_date32)) {
				snprintf(lx->err, lx->errlen, "this ClickHouse server (%s) has no %s type", caps->version, id);
				return false;
			}
			return true;
		}
	if (strcmp(id, "DateTime") == 0) {
		t->kind = CH_DATETIME;
		skip_ws(lx);
		if (*lx->p == '(') {
			lx->p++;
			skip_ws(lx);
			if (strncmp(lx->p, "'UTC'", 5) != 0) {
				snprintf(lx->err, lx->errlen, "only the 'UTC' time zone is supported");
				return false;
			}
			lx->p += 5;
			return expect(lx, ')');
		}
		return true;
	}
	if (strcmp(id, "DateTime64") == 0) {
		if (!caps->has_datetime64) {
			snprintf(lx->err, lx->errlen, "this ClickHouse server (%s) has no DateTime64 type", caps->version);
			return false;
		}
		t->kind = CH_DATETIME64;
		if (!expect(lx, '(') || !read_int(lx, &t->precision))
			return false;
		if (t->precision > 9) {
			snprintf(lx->err, lx->errlen, "DateTime64 precision must be 0 to 9");
			return false;
		}
		skip_ws(lx);
		if (*lx->p == ',') {
			lx->p++;
			skip_ws(lx);
			if (strncmp(lx->p, "'UTC'", 5) != 0) {
				snprintf(lx->err, lx->errlen, "only the 'UTC' time zone is supported");
				return false;
			}
			lx->p += 5;
		}
		return expect(lx, ')');
	}
	if (strncmp(id, "Decimal", 7) == 0) {
		t->kind = CH_DECIMAL;
		if (strcmp(id, "Decimal") == 0) {
			if (!expect(lx, '(') || !read_int(lx, &t->precision) || !expect(lx, ',') || !read_int(lx, &t->scale))
				return false;
		} else {
			int bits = atoi(id + 7);
			t->precision = bits == 32 ? 9 : bits == 64 ? 18 : bits == 128 ? 38 : bits == 256 ? 76 : 0;
			if (!t->precision) {
				snprintf(lx->err, lx->errlen, "unknown type %s", id);
				return false;
			}
			if (!expect(lx, '(') || !read_int(lx, &t->scale))
				return false;
		}
		if (t->precision < 1 || t->precision > 76 || t->scale > t->precision) {
			snprintf(lx->err, lx->errlen, "Decimal(P, S) needs 1 <= P <= 76 and S <= P");
			return false;
		}
		if (t->precision > 38 && !caps->has_decimal256) {
			snprintf(lx->err, lx->errlen, "this ClickHouse server (%s) has no Decimal wider than 38 digits",
				 caps->version);
			return false;
		}
		return expect(lx, ')');
	}
	snprintf(lx->err, lx->errlen,
		 "pgch cannot write %s (it writes Bool, [U]Int8-64, Float32/64, Decimal, String, UUID, Date, Date32, "
		 "DateTime, DateTime64, with Nullable, LowCardinality and Array)",
		 id);
	return false;
}

bool types_parse(const char *name, const ChCaps *caps, ChType *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	TypeLexer lx = {name, err, errlen};
	if (!parse_inner(&lx, caps, out, 0))
		return false;
	skip_ws(&lx);
	if (*lx.p) {
		snprintf(err, errlen, "unexpected \"%s\" after the type", lx.p);
		return false;
	}
	if (out->low_cardinality && out->kind != CH_STRING) {
		snprintf(err, errlen, "pgch uses LowCardinality only with String");
		return false;
	}
	return true;
}
