/*
 * Unit tests of the value converters (rowbinary.c) and the type mapping (types.c), under
 * both probed-capability branches: ClickHouse 18.16 (legacy) and a modern server.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rowbinary.h"
#include "tap.h"
#include "types.h"

static ChCaps legacy, modern;

static char hexbuf[4096];
static const char *hex(const Buf *b)
{
	static const char *digits = "0123456789abcdef";
	size_t n = 0;
	for (size_t i = 0; i < b->len && n + 3 < sizeof hexbuf; i++) {
		hexbuf[n++] = digits[(unsigned char)b->data[i] >> 4];
		hexbuf[n++] = digits[(unsigned char)b->data[i] & 15];
	}
	hexbuf[n] = '\0';
	return hexbuf;
}

static ChType ch_of(const char *name, const ChCaps *caps)
{
	ChType t;
	char err[256];
	if (!types_parse(name, caps, &t, err, sizeof err)) {
		printf("# bad type %s: %s\n", name, err);
		abort();
	}
	return t;
}

/* Convert a text-form value; return hex of the RowBinary (or "UNREP"/"BAD"). */
static const char *conv(PgKind pg, const char *type, const ChCaps *caps, Unrepresentable pol, bool binary,
			const char *data, int len)
{
	ColConv c;
	ChType t = ch_of(type, caps);
	rowbinary_init(&c, pg, &t, pol, caps);
	Buf out;
	buf_init(&out);
	char err[256];
	ConvResult r = rowbinary_put(&c, binary, data, len, &out, err, sizeof err);
	static char result[4096];
	if (r == CONV_OK)
		snprintf(result, sizeof result, "%s", hex(&out));
	else
		snprintf(result, sizeof result, "%s: %s", r == CONV_UNREP ? "UNREP" : "BAD", err);
	buf_free(&out);
	rowbinary_free(&c);
	return result;
}

static const char *text(PgKind pg, const char *type, const ChCaps *caps, const char *s)
{
	return conv(pg, type, caps, UNREP_ERROR, false, s, (int)strlen(s));
}

/* numeric in binary send format */
static int numeric_bin(char *out, int sign, int weight, int dscale, const uint16_t *digits, int n)
{
	int len = 0;
	out[len++] = (char)(n >> 8), out[len++] = (char)n;
	out[len++] = (char)((uint16_t)weight >> 8), out[len++] = (char)weight;
	out[len++] = (char)(sign >> 8), out[len++] = (char)sign;
	out[len++] = (char)(dscale >> 8), out[len++] = (char)dscale;
	for (int i = 0; i < n; i++) {
		out[len++] = (char)(digits[i] >> 8);
		out[len++] = (char)digits[i];
	}
	return len;
}

static void test_ints(void)
{
	char be4[4] = {0, 0, 0x01, 0x02};
	is_str(conv(PG_INT4, "Int32", &legacy, UNREP_ERROR, true, be4, 4), "02010000", "int4 binary -> Int32 little-endian");
	is_str(conv(PG_INT4, "Nullable(Int32)", &legacy, UNREP_ERROR, true, be4, 4), "0002010000",
	       "nullable int4: 0 marker then value");
	is_str(conv(PG_INT4, "Nullable(Int32)", &legacy, UNREP_ERROR, true, NULL, -1), "01", "NULL: marker 1 only");
	is_str(text(PG_INT4, "Int32", &legacy, "258"), "02010000", "int4 text equals binary");
	is_str(text(PG_INT8, "Int64", &legacy, "-1"), "ffffffffffffffff", "int8 -1");
	is_str(text(PG_INT2, "Int16", &legacy, "-32768"), "0080", "int2 min");
	is_str(text(PG_BOOL, "UInt8", &legacy, "t"), "01", "bool true -> UInt8 on 18.16");
	is_str(text(PG_BOOL, "Bool", &modern, "f"), "00", "bool false -> Bool on modern");
	is_str(text(PG_OID, "UInt32", &legacy, "4294967295"), "ffffffff", "oid max");
	is_str(text(PG_INT8, "Int32", &legacy, "3000000000"), "UNREP: 3000000000 is out of range", "narrowing override checks range");
}

static void test_floats(void)
{
	is_str(text(PG_FLOAT8, "Float64", &legacy, "1.5"), "000000000000f83f", "float8 1.5");
	is_str(text(PG_FLOAT8, "Float64", &legacy, "NaN"), "000000000000f87f", "float8 NaN");
	is_str(text(PG_FLOAT8, "Float64", &legacy, "-Infinity"), "000000000000f0ff", "float8 -Infinity");
	is_str(text(PG_FLOAT4, "Float32", &legacy, "Infinity"), "0000807f", "float4 Infinity");
	char be8[8] = {0x3f, (char)0xf8, 0, 0, 0, 0, 0, 0};
	is_str(conv(PG_FLOAT8, "Float64", &legacy, UNREP_ERROR, true, be8, 8), "000000000000f83f", "float8 binary");
}

static void test_numeric(void)
{
	char b[64];
	uint16_t d1[] = {123, 4500};
	int n = numeric_bin(b, 0, 0, 2, d1, 2);
	/* 123.45 as Decimal(10,2) = 12345 in 8 bytes */
	is_str(conv(PG_NUMERIC, "Decimal(10, 2)", &legacy, UNREP_ERROR, true, b, n), "3930000000000000",
	       "numeric 123.45 binary -> Decimal(10,2)");
	is_str(text(PG_NUMERIC, "Decimal(10, 2)", &legacy, "123.45"), "3930000000000000", "numeric text equals binary");
	is_str(text(PG_NUMERIC, "Decimal(9, 2)", &legacy, "-123.45"), "c7cfffff", "negative Decimal32");
	is_str(text(PG_NUMERIC, "Decimal(10, 4)", &legacy, "0.0001"), "0100000000000000", "0.0001 scale 4");
	is_str(text(PG_NUMERIC, "Decimal(10, 4)", &legacy, "5"), "50c3000000000000", "integer into scale 4");
	is_str(text(PG_NUMERIC, "Decimal(5, 0)", &legacy, "100000"), "UNREP: 100000 does not fit in Decimal(5, 0)",
	       "too many digits");
	is_str(text(PG_NUMERIC, "Decimal(10, 2)", &legacy, "1.005"),
	       "UNREP: 1.005 has more fraction digits than Decimal(10, 2)", "digits below the scale are not rounded");
	is_str(text(PG_NUMERIC, "Decimal(38, 0)", &legacy, "99999999999999999999999999999999999999"),
	       "ffffffff3f228a097ac4865aa84c3b4b", "38 nines in Int128");
	is_str(text(PG_NUMERIC, "Decimal(38, 10)", &legacy, "-12345678901234567.8901234567"),
	       "79b460d3570da70e02e199ffffffffff", "Decimal128 negative with scale");
	is_str(text(PG_NUMERIC, "Decimal(76, 0)", &modern, "1"),
	       "0100000000000000000000000000000000000000000000000000000000000000", "Decimal256 on modern");
	is_str(text(PG_NUMERIC, "Decimal(10, 2)", &legacy, "NaN"), "UNREP: numeric NaN has no ClickHouse Decimal form",
	       "NaN refused by default");
	is_str(conv(PG_NUMERIC, "Nullable(Decimal(10, 2))", &legacy, UNREP_NULL, false, "NaN", 3), "01",
	       "NaN with policy null -> NULL");
	is_str(conv(PG_NUMERIC, "Decimal(4, 1)", &legacy, UNREP_CLAMP, false, "12345", 5), "0f270000",
	       "clamp to 999.9");
	/* numeric without typmod as String: the text form from binary */
	uint16_t d2[] = {1, 2345};
	n = numeric_bin(b, 0x4000, 1, 3, d2, 2);
	is_str(conv(PG_NUMERIC, "String", &legacy, UNREP_ERROR, true, b, n), "0a2d31323334352e303030",
	       "binary numeric -12345 dscale 3 -> '-12345.000'");
	uint16_t d3[] = {1};
	n = numeric_bin(b, 0, -2, 8, d3, 1);
	is_str(conv(PG_NUMERIC, "String", &legacy, UNREP_ERROR, true, b, n), "0a302e3030303030303031",
	       "binary 0.00000001 -> '0.00000001'");
	n = numeric_bin(b, 0, 0, 0, NULL, 0);
	is_str(conv(PG_NUMERIC, "String", &legacy, UNREP_ERROR, true, b, n), "0130", "binary zero -> '0'");
	n = numeric_bin(b, 0xC000, 0, 0, NULL, 0);
	is_str(conv(PG_NUMERIC, "String", &legacy, UNREP_ERROR, true, b, n), "034e614e", "binary NaN -> 'NaN'");
}

/*
 * Decimal(p <= 18) has its own 64-bit converter: check it against a plain decimal-string
 * oracle over generated values (signs, leading and trailing zeros, every p and s).
 */
static void test_decimal_small(void)
{
	unsigned seed = 7;
	int bad = 0, tried = 0;
	for (int iter = 0; iter < 3000; iter++) {
		char s[80], ip[32], fp[32];
		int il = (int)((seed = seed * 1103515245 + 12345) >> 16) % 21;
		int fl = (int)((seed = seed * 1103515245 + 12345) >> 16) % 21;
		for (int i = 0; i < il; i++)
			ip[i] = (char)('0' + ((seed = seed * 1103515245 + 12345) >> 16) % 10 * (i > 3 || iter % 3));
		for (int i = 0; i < fl; i++)
			fp[i] = (char)('0' + ((seed = seed * 1103515245 + 12345) >> 16) % 10 * (i < fl - 2 || iter % 5));
		ip[il] = fp[fl] = '\0';
		if (il + fl == 0)
			continue;
		snprintf(s, sizeof s, "%s%s%s%s", iter % 2 ? "-" : "", ip, fl ? "." : "", fp);
		int p = 1 + iter % 18, sc = (iter / 18) % (p + 1);
		/* oracle: the scaled integer's digits, and whether anything lies below the scale */
		char digits[64];
		int nd = 0;
		for (int i = 0; i < il; i++)
			if (nd || ip[i] != '0')
				digits[nd++] = ip[i];
		bool below = false;
		for (int i = 0; i < fl || i < sc; i++) {
			char d = i < fl ? fp[i] : '0';
			if (i >= sc)
				below = below || d != '0';
			else if (nd || d != '0')
				digits[nd++] = d;
		}
		char want[160], type[32];
		snprintf(type, sizeof type, "Decimal(%d, %d)", p, sc);
		if (nd > p) {
			snprintf(want, sizeof want, "UNREP: %.60s does not fit in %s", s, type);
		} else if (below) {
			snprintf(want, sizeof want, "UNREP: %.60s has more fraction digits than %s", s, type);
		} else {
			int64_t x = 0;
			for (int i = 0; i < nd; i++)
				x = x * 10 + (digits[i] - '0');
			if (iter % 2)
				x = -x;
			int bytes = p <= 9 ? 4 : 8;
			int n = 0;
			for (int i = 0; i < bytes; i++)
				n += snprintf(want + n, sizeof want - (size_t)n, "%02x", (unsigned)((uint64_t)x >> (8 * i)) & 0xff);
		}
		const char *got = text(PG_NUMERIC, type, &legacy, s);
		tried++;
		/* the messages print the value as PostgreSQL would (no leading zeros...): compare the verdict */
		bool same = strncmp(want, "UNREP", 5) == 0 ? strncmp(got, "UNREP", 5) == 0 &&
							      (strstr(got, "does not fit") != NULL) == (strstr(want, "does not fit") != NULL)
							: strcmp(got, want) == 0;
		if (!same && bad++ < 5)
			printf("# %s as %s: got %s, want %s\n", s, type, got, want);
	}
	ok(bad == 0 && tried > 2500, "Decimal(p <= 18) matches the decimal oracle on %d generated values", tried);
}

static void test_text_bytes(void)
{
	is_str(text(PG_TEXT, "String", &legacy, "a\tb"), "036109" "62", "text as String with its length");
	is_str(text(PG_BYTEA, "String", &legacy, "\\x00ff10"), "0300ff10", "bytea hex text -> raw bytes");
	is_str(text(PG_BYTEA, "String", &legacy, "a\\000\\\\"), "0361005c", "bytea escape text -> raw bytes");
	char jb[] = {1, '{', '}'};
	is_str(conv(PG_JSONB, "String", &legacy, UNREP_ERROR, true, jb, 3), "027b7d", "jsonb binary drops version byte");
	is_str(conv(PG_CHAR, "String", &legacy, UNREP_ERROR, true, "\xe9", 1), "045c333531", "\"char\" high byte -> \\351");
}

static void test_uuid(void)
{
	is_str(text(PG_UUID, "UUID", &legacy, "01020304-0506-0708-090a-0b0c0d0e0f10"), "0807060504030201100f0e0d0c0b0a09",
	       "uuid: two little-endian halves");
	char raw[16];
	for (int i = 0; i < 16; i++)
		raw[i] = (char)(i + 1);
	is_str(conv(PG_UUID, "UUID", &legacy, UNREP_ERROR, true, raw, 16), "0807060504030201100f0e0d0c0b0a09",
	       "uuid binary equals text");
}

static void test_dates(void)
{
	is_str(text(PG_DATE, "Date", &legacy, "1970-01-02"), "0100", "Date 1970-01-02 = 1");
	is_str(text(PG_DATE, "Date", &legacy, "1969-12-31"),
	       "UNREP: date 1969-12-31 is outside the range of Date (1970-01-01 to 2105-12-31)", "pre-1970 refused on Date");
	is_str(conv(PG_DATE, "Date", &legacy, UNREP_CLAMP, false, "1969-12-31", 10), "0000", "clamp to 1970-01-01");
	is_str(conv(PG_DATE, "Nullable(Date)", &legacy, UNREP_NULL, false, "infinity", 8), "01", "infinity -> NULL");
	is_str(text(PG_DATE, "Date32", &modern, "1969-12-31"), "ffffffff", "Date32 holds 1969-12-31 (-1)");
	is_str(text(PG_DATE, "Date32", &modern, "1900-01-01"), "219cffff", "Date32 1900-01-01");
	is_str(text(PG_DATE, "Date32", &modern, "0044-03-15 BC"),
	       "UNREP: date 0044-03-15 BC is outside the range of Date32 on this server", "BC date names itself");
	char be[4] = {(char)0xff, (char)0xff, (char)0xff, (char)0xff}; /* 1999-12-31 */
	is_str(conv(PG_DATE, "Date32", &modern, UNREP_ERROR, true, be, 4), text(PG_DATE, "Date32", &modern, "1999-12-31"),
	       "date binary equals text");
	is_str(conv(PG_DATE, "String", &legacy, UNREP_ERROR, true, be, 4), "0a313939392d31322d3331", "date binary -> text form");
}

/* The text form PostgreSQL prints for a date or timestamp, through binary: parse `s` (the
 * text decoder), send the value as PostgreSQL's binary form, and format it back as String. */
static const char *ts_round_trip(PgKind kind, const char *s)
{
	PgScratch sc = {0};
	Value v = {.kind = V_NULL};
	char err[128], be[8];
	static char result[128];
	if (pgvalue_decode_text(&sc, kind, s, strlen(s), &v, err, sizeof err) != CONV_OK)
		return "BAD";
	int len = kind == PG_DATE ? 4 : 8;
	uint64_t x = kind == PG_DATE ? (uint64_t)(uint32_t)(int32_t)(v.days - PG_EPOCH_DAYS) : (uint64_t)v.us;
	for (int i = 0; i < len; i++)
		be[i] = (char)(x >> (8 * (len - 1 - i)));
	ColConv c;
	ChType t = ch_of("String", &legacy);
	rowbinary_init(&c, kind, &t, UNREP_ERROR, &legacy);
	Buf out;
	buf_init(&out);
	rowbinary_put(&c, true, be, len, &out, err, sizeof err);
	snprintf(result, sizeof result, "%s", out.data + 1);
	buf_free(&out);
	rowbinary_free(&c);
	return result;
}

static void test_timestamps(void)
{
	/* 2000-01-01 00:00:00.5 = 946684800.5 s */
	char be[8] = {0, 0, 0, 0, 0, 0x07, (char)0xa1, 0x20};
	is_str(conv(PG_TIMESTAMP, "DateTime64(6, 'UTC')", &modern, UNREP_ERROR, true, be, 8),
	       text(PG_TIMESTAMP, "DateTime64(6, 'UTC')", &modern, "2000-01-01 00:00:00.5"), "timestamp binary equals text");
	is_str(text(PG_TIMESTAMPTZ, "DateTime64(6, 'UTC')", &modern, "2000-01-01 01:00:00.5+01"),
	       text(PG_TIMESTAMP, "DateTime64(6, 'UTC')", &modern, "2000-01-01 00:00:00.5"), "timestamptz offset applied");
	is_str(text(PG_TIMESTAMP, "DateTime('UTC')", &legacy, "1970-01-01 00:01:40"), "64000000", "DateTime seconds");
	ColConv c;
	ChType t = ch_of("String", &legacy);
	rowbinary_init(&c, PG_TIMESTAMPTZ, &t, UNREP_ERROR, &legacy);
	c.tz = true;
	Buf out;
	buf_init(&out);
	char err[128];
	rowbinary_put(&c, true, be, 8, &out, err, sizeof err);
	is_str(out.data + 1, "2000-01-01 00:00:00.5+00", "timestamptz binary -> PostgreSQL text form");
	rowbinary_free(&c);
	buf_free(&out);
	is_str(text(PG_TIMESTAMP, "DateTime64(6, 'UTC')", &modern, "infinity"),
	       "UNREP: infinity has no ClickHouse DateTime64 form", "infinity refused");
	/* the formatter prints what PostgreSQL's timestamp_out and date_out print */
	static const char *const ts[] = {
		"2024-01-02 03:04:05.678901", "1999-12-31 23:59:59", "2000-01-01 00:00:00.00001",
		"1970-01-01 00:00:00.000001", "1812-06-24 12:00:00.1", "0001-01-01 00:00:00 BC",
		"0044-03-15 10:11:12.5 BC", "294276-12-31 23:59:59.999999", "4713-11-24 00:00:00 BC",
	};
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
		is_str(ts_round_trip(PG_TIMESTAMP, ts[i]), ts[i], "timestamp binary -> text form %s", ts[i]);
	static const char *const dates[] = {"2024-02-29", "0044-03-15 BC", "5874897-12-31", "1970-01-01", "0001-01-01"};
	for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++)
		is_str(ts_round_trip(PG_DATE, dates[i]), dates[i], "date binary -> text form %s", dates[i]);
}

static void test_arrays(void)
{
	is_str(text(PG_INT4, "Array(Nullable(Int32))", &legacy, "{1,NULL,3}"), "030001000000010003000000",
	       "int[] with NULL element");
	is_str(text(PG_TEXT, "Array(Nullable(String))", &legacy, "{\"a,b\",\"q\\\"x\",NULL,\"NULL\", c }"),
	       "05" "0003612c62" "0003712278" "01" "00044e554c4c" "000163", "quoted, escaped, NULL vs \"NULL\", spaces");
	is_str(text(PG_INT4, "Array(Nullable(Int32))", &legacy, "{}"), "00", "empty array");
	is_str(text(PG_INT4, "Array(Nullable(Int32))", &legacy, "{{1,2},{3,4}}"),
	       "UNREP: multi-dimensional arrays have no ClickHouse Array(T) form (map the column to String with types = { col = \"String\" })",
	       "multi-dimensional refused");
	is_str(conv(PG_INT4, "Array(Nullable(Int32))", &legacy, UNREP_NULL, true, NULL, -1), "00", "NULL array -> []");
	/* binary: ndim 1, flags 1, elem int4, dim 2 lbound 1, [7, NULL] */
	char b[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 23, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 7, -1, -1, -1, -1};
	is_str(conv(PG_INT4, "Array(Nullable(Int32))", &legacy, UNREP_ERROR, true, b, (int)sizeof b), "02000700000001",
	       "binary int[] equals text form");
}

static void test_types(void)
{
	PgTypeInfo pg = {.oid = OID_DATE, .name = "date", .typtype = 'b', .typmod = -1};
	ChType ch;
	PgKind k;
	Buf b;
	buf_init(&b);
	types_map(&pg, &legacy, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "Nullable(Date)", "date on 18.16 -> Date");
	buf_reset(&b);
	types_map(&pg, &modern, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "Nullable(Date32)", "date on modern -> Date32");
	pg = (PgTypeInfo){.oid = OID_TIMESTAMPTZ, .name = "timestamptz", .typtype = 'b', .typmod = -1, .notnull = true};
	buf_reset(&b);
	types_map(&pg, &legacy, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	ok(strcmp(b.data, "String") == 0 && ch.text_form, "timestamptz on 18.16 -> String (text form)");
	TypeOptions dt = {.timestamp_as_datetime = true};
	buf_reset(&b);
	types_map(&pg, &legacy, &dt, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "DateTime('UTC')", "timestamp_fallback = datetime");
	buf_reset(&b);
	types_map(&pg, &modern, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "DateTime64(6, 'UTC')", "timestamptz on modern -> DateTime64(6)");
	pg = (PgTypeInfo){.oid = OID_NUMERIC, .name = "numeric", .typtype = 'b', .typmod = ((60 << 16) | 10) + 4, .notnull = true};
	buf_reset(&b);
	types_map(&pg, &legacy, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "String", "numeric(60,10) on 18.16 -> String");
	buf_reset(&b);
	types_map(&pg, &modern, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "Decimal(60, 10)", "numeric(60,10) on modern -> Decimal(60,10)");
	pg = (PgTypeInfo){.oid = 3500, .name = "mood", .typtype = 'e', .typmod = -1};
	buf_reset(&b);
	types_map(&pg, &modern, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "LowCardinality(Nullable(String))", "enum on modern -> LowCardinality");
	buf_reset(&b);
	types_map(&pg, &legacy, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "Nullable(String)", "enum on 18.16 -> String");
	pg = (PgTypeInfo){.oid = OID_INT4, .name = "int4", .typtype = 'b', .typmod = -1, .array = true, .ndims = 1};
	buf_reset(&b);
	types_map(&pg, &legacy, NULL, &ch, &k);
	types_ch_name(&ch, &b);
	is_str(b.data, "Array(Nullable(Int32))", "int4[] -> Array(Nullable(Int32))");
	char err[256];
	ok(!types_parse("Bool", &legacy, &ch, err, sizeof err) && strstr(err, "no Bool"), "Bool refused on 18.16: %s", err);
	ok(!types_parse("Map(String, String)", &modern, &ch, err, sizeof err), "unsupported type refused: %s", err);
	ok(types_parse("Nullable(Decimal(12, 3))", &legacy, &ch, err, sizeof err) && ch.nullable && ch.precision == 12,
	   "Nullable(Decimal(12, 3)) parses");
	buf_free(&b);
}

/* ---------------------------------------------------------------- direct conversions */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) /* xorshift64: the same values every run */
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A binary-form value of kind pg for case k: edges first, then random ones of every size. */
static int fast_value(PgKind pg, int k, char *be)
{
	static uint64_t prev_ts;
	static const int64_t edges[] = {0, 1, -1, INT16_MIN, INT16_MAX, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX,
					-10957, 49709 - 10957, 49710 - 10957, INT64_C(-946684800000000),
					INT64_C(3408134399999999), INT64_C(3408134400000000), INT64_C(86399999999)};
	int nedges = (int)(sizeof edges / sizeof edges[0]);
	uint64_t x = rng();
	bool wild = k % 4 == 0; /* any bits; otherwise a value as tables hold them */
	if (k < nedges)
		x = (uint64_t)edges[k];
	else if (wild && k % 3 == 0)
		x = (uint64_t)((int64_t)x >> (x % 60)); /* small magnitudes too */
	int len = 8;
	switch (pg) {
	case PG_INT2: len = 2; break;
	case PG_BOOL: len = 1; x = k % 5 == 4 ? 2 : x & 1; break; /* 2: not 0/1, still true */
	case PG_INT4:
	case PG_FLOAT4: len = 4; break;
	case PG_DATE:
		len = 4;
		if (k >= nedges && !wild)
			x = (uint64_t)(int64_t)(x % 60000) - 12000; /* 1967..2131 */
		break;
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ:
		if (k >= nedges && !wild) /* 1970..2090, some on whole seconds */
			x = (uint64_t)((int64_t)(x % (INT64_C(120) * 365 * 86400000000)) - INT64_C(946684800000000)) /
			    (k % 2 ? 1 : 1000000) * (k % 2 ? 1 : 1000000);
		if (k >= nedges && k % 4 == 1) /* a few minutes after the previous one: the day formatted last, or the next */
			x = prev_ts + (rng() % 600000000);
		prev_ts = x;
		break;
	case PG_NUMERIC: {
		uint16_t dg[8];
		int n = (int)(x % 7), sign = (x >> 8) % 9 == 0 ? 0xC000 : (x >> 8) % 2 ? 0x4000 : 0;
		int weight = (int)((x >> 16) % 9) - 4;
		if (!wild) {
			n = (int)(x % 4);
			weight = (int)((x >> 16) % 3);
			sign = (x >> 8) % 2 ? 0x4000 : 0;
		}
		for (int i = 0; i < n; i++) {
			dg[i] = (uint16_t)(rng() % (wild && k % 11 == 0 ? 10010 : 10000)); /* a bad digit now and then */
			if (!wild && weight - i < 0)
				dg[i] = (uint16_t)(dg[i] / 100 * 100); /* two fraction digits */
		}
		return numeric_bin(be, sign, weight, 2, dg, n);
	}
	default: break;
	}
	for (int i = 0; i < len; i++)
		be[i] = (char)(x >> (8 * (len - 1 - i)));
	return len;
}

/* rowbinary_put with the column's direct conversion and without it: same result, bytes, message */
static void test_fast_paths(void)
{
	static const struct {
		PgKind pg;
		const char *type;
		bool modern;
	} pairs[] = {
		{PG_INT2, "Int16", 0}, {PG_INT2, "Int64", 0}, {PG_INT4, "Int32", 0}, {PG_INT4, "Int64", 0},
		{PG_INT8, "Int64", 0}, {PG_FLOAT4, "Float32", 0}, {PG_FLOAT8, "Float64", 0}, {PG_BOOL, "UInt8", 0},
		{PG_BOOL, "Bool", 1}, {PG_DATE, "Date", 0}, {PG_DATE, "Date32", 1}, {PG_TIMESTAMP, "DateTime('UTC')", 0},
		{PG_TIMESTAMP, "DateTime64(6, 'UTC')", 1}, {PG_TIMESTAMP, "DateTime64(3, 'UTC')", 1},
		{PG_TIMESTAMP, "DateTime64(9, 'UTC')", 1}, {PG_TIMESTAMP, "String", 0}, {PG_TIMESTAMPTZ, "String", 0},
		{PG_NUMERIC, "Decimal(14, 2)", 0}, {PG_NUMERIC, "Decimal(9, 2)", 0}, {PG_NUMERIC, "Decimal(18, 4)", 0},
	};
	static const Unrepresentable pols[] = {UNREP_ERROR, UNREP_NULL, UNREP_CLAMP};
	const char *pg_names[PG_CHAR + 1] = {0};
	pg_names[PG_INT2] = "int2", pg_names[PG_INT4] = "int4", pg_names[PG_INT8] = "int8";
	pg_names[PG_FLOAT4] = "float4", pg_names[PG_FLOAT8] = "float8", pg_names[PG_BOOL] = "bool";
	pg_names[PG_DATE] = "date", pg_names[PG_TIMESTAMP] = "timestamp", pg_names[PG_TIMESTAMPTZ] = "timestamptz";
	pg_names[PG_NUMERIC] = "numeric";
	for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
		const ChCaps *caps = pairs[p].modern ? &modern : &legacy;
		int differ = 0, fast_used = 0, total = 0;
		for (int nullable = 0; nullable < 2; nullable++) {
			char type[64];
			snprintf(type, sizeof type, nullable ? "Nullable(%s)" : "%s", pairs[p].type);
			ChType t = ch_of(type, caps);
			ColConv fast, slow; /* kept across values, as a column's are */
			rowbinary_init(&fast, pairs[p].pg, &t, UNREP_ERROR, caps);
			rowbinary_init(&slow, pairs[p].pg, &t, UNREP_ERROR, caps);
			fast.tz = slow.tz = pairs[p].pg == PG_TIMESTAMPTZ;
			slow.fast = 0;
			for (int k = 0; k < 3000; k++) {
				char be[64];
				int len = fast_value(pairs[p].pg, k, be);
				fast.policy = slow.policy = pols[k % 3];
				Buf a, b, direct;
				buf_init(&a);
				buf_init(&b);
				buf_init(&direct);
				char ea[256] = "", eb[256] = "";
				ConvResult ra = rowbinary_put(&fast, true, be, len, &a, ea, sizeof ea);
				ConvResult rb = rowbinary_put(&slow, true, be, len, &b, eb, sizeof eb);
				if (rowbinary_put_fast(&fast, be, len, &direct))
					fast_used++;
				total++;
				if (ra != rb || (ra == CONV_OK ? a.len != b.len || memcmp(a.data, b.data, a.len) != 0
								: strcmp(ea, eb) != 0) ||
				    fast.unrep_count != slow.unrep_count || a.data[a.len] != '\0') {
					if (!differ++) {
						printf("# %s, case %d: direct %s", type, k, ra == CONV_OK ? hex(&a) : ea);
						printf(" / general %s\n", rb == CONV_OK ? hex(&b) : eb);
					}
				}
				buf_free(&a);
				buf_free(&b);
				buf_free(&direct);
			}
			rowbinary_free(&fast);
			rowbinary_free(&slow);
		}
		ok(differ == 0 && fast_used > total / 4, "%s into %s: direct conversion equals the general one (%d of %d "
							  "values taken directly)",
		   pg_names[pairs[p].pg], pairs[p].type, fast_used, total);
	}
	ColConv none;
	ChType u = ch_of("UInt16", &legacy);
	rowbinary_init(&none, PG_INT4, &u, UNREP_ERROR, &legacy);
	Buf o;
	buf_init(&o);
	char be4[4] = {0, 0, 0, 7};
	ok(!rowbinary_put_fast(&none, be4, 4, &o) && o.len == 0, "int4 into UInt16 has no direct conversion (a bound)");
	buf_free(&o);
	rowbinary_free(&none);
}

int main(void)
{
	types_caps_legacy(&legacy);
	types_caps_modern(&modern);
	uint32_t one = 1;
	ok(*(char *)&one == 1, "host is little-endian (the RowBinary fast paths assume it)");
	test_ints();
	test_floats();
	test_numeric();
	test_decimal_small();
	test_text_bytes();
	test_uuid();
	test_dates();
	test_timestamps();
	test_arrays();
	test_types();
	test_fast_paths();
	return done_testing();
}
