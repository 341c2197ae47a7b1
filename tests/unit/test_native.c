/*
 * Unit tests of the Native block builder (native.c): the format choice under both probed-
 * capability branches, and the exact bytes of a block with a plain, a Nullable and an
 * Array(Nullable) column over rows with NULLs, an empty array and a value the policy nulls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"
#include "tap.h"
#include "types.h"

static char hexbuf[8192];
static const char *hex(const char *p, size_t n)
{
	static const char *digits = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 3 < sizeof hexbuf; i++) {
		hexbuf[o++] = digits[(unsigned char)p[i] >> 4];
		hexbuf[o++] = digits[(unsigned char)p[i] & 15];
	}
	hexbuf[o] = '\0';
	return hexbuf;
}

static ChType type_of(const char *name, const ChCaps *caps)
{
	ChType t;
	char err[128];
	if (!types_parse(name, caps, &t, err, sizeof err)) {
		printf("# %s: %s\n", name, err);
		abort();
	}
	return t;
}

/* The hex of a string header: varint length, bytes. */
static void put_name(Buf *b, const char *s)
{
	buf_put_string(b, s, strlen(s));
}

/* 18.16's capabilities, and a config naming the version and deleted columns _v and _d. */
static void setup(ChCaps *legacy, Config *cfg)
{
	types_caps_legacy(legacy);
	memset(cfg, 0, sizeof *cfg);
	cfg->dest.version_column = "_v";
	cfg->dest.deleted_column = "_d";
}

static void test_choice(void)
{
	ChCaps legacy, modern;
	types_caps_legacy(&legacy);
	types_caps_modern(&modern);
	ok(native_chosen(&legacy), "18.16 (no LowCardinality): the snapshot writes Native");
	ok(!native_chosen(&modern), "a modern server: the snapshot keeps RowBinary (Native not measured there)");
}

static void test_block(void)
{
	ChCaps legacy;
	Config cfg;
	setup(&legacy, &cfg);
	Column cols[3];
	memset(cols, 0, sizeof cols);
	cols[0].name = cols[0].ch_name = "id";
	cols[0].ch = type_of("Int32", &legacy);
	cols[0].kind = PG_INT4;
	cols[1].name = cols[1].ch_name = "s";
	cols[1].ch = type_of("Nullable(Int16)", &legacy);
	cols[1].kind = PG_INT4;
	cols[1].policy = UNREP_NULL;
	cols[2].name = cols[2].ch_name = "a";
	cols[2].ch = type_of("Array(Nullable(String))", &legacy);
	cols[2].kind = PG_TEXT;
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = cols;
	t.ncols = 3;
	ColConv conv[3];
	for (int i = 0; i < 3; i++)
		rowbinary_init(&conv[i], cols[i].kind, &cols[i].ch, cols[i].policy, &legacy);
	NativeBlock b;
	native_init(&b, &t, &cfg, 0x0102);
	/* rows (text form): (1, 7, {x,NULL}), (2, NULL, NULL), (3, 70000 -> NULL by policy, {}) */
	const char *rows[3][3] = {{"1", "7", "{x,NULL}"}, {"2", NULL, NULL}, {"3", "70000", "{}"}};
	char err[128];
	bool all = true;
	for (int r = 0; r < 3; r++) {
		for (int c = 0; c < 3; c++) {
			const char *v = rows[r][c];
			all = all && native_put(&b, c, &conv[c], false, v, v ? (int)strlen(v) : -1, err, sizeof err) == CONV_OK;
		}
		ok(!native_row_done(&b), "row %d: the block is not full", r + 1);
	}
	ok(all, "every value converted");
	ok(conv[1].unrep_count == 1, "70000 has no Int16 form: the policy wrote NULL");
	Buf got;
	buf_init(&got);
	native_flush(&b, &got);
	Buf want;
	buf_init(&want);
	buf_put_varint(&want, 5); /* columns */
	buf_put_varint(&want, 3); /* rows */
	put_name(&want, "id");
	put_name(&want, "Int32");
	buf_put_le(&want, 1, 4);
	buf_put_le(&want, 2, 4);
	buf_put_le(&want, 3, 4);
	put_name(&want, "s");
	put_name(&want, "Nullable(Int16)");
	buf_put(&want, "\0\1\1", 3); /* null map */
	buf_put_le(&want, 7, 2);     /* values, defaults in the NULL rows */
	buf_put_le(&want, 0, 2);
	buf_put_le(&want, 0, 2);
	put_name(&want, "a");
	put_name(&want, "Array(Nullable(String))");
	buf_put_le(&want, 2, 8); /* offsets: 2 elements, then none, then none */
	buf_put_le(&want, 2, 8);
	buf_put_le(&want, 2, 8);
	buf_put(&want, "\0\1", 2);  /* the elements' null map */
	buf_put_string(&want, "x", 1);
	buf_put_string(&want, "", 0); /* NULL element: '' */
	put_name(&want, "_v");
	put_name(&want, "UInt64");
	for (int r = 0; r < 3; r++)
		buf_put_le(&want, 0x0102, 8);
	put_name(&want, "_d");
	put_name(&want, "UInt8");
	buf_put(&want, "\0\0\0", 3);
	char want_hex[4096];
	snprintf(want_hex, sizeof want_hex, "%s", hex(want.data, want.len));
	is_str(hex(got.data, got.len), want_hex, "the block's bytes");
	/* the next block starts afresh: offsets count from zero again, the spare byte stays */
	buf_reset(&got);
	all = native_put(&b, 0, &conv[0], false, "4", 1, err, sizeof err) == CONV_OK &&
	      native_put(&b, 1, &conv[1], false, "-5", 2, err, sizeof err) == CONV_OK &&
	      native_put(&b, 2, &conv[2], false, "{y}", 3, err, sizeof err) == CONV_OK;
	native_row_done(&b);
	native_flush(&b, &got);
	buf_reset(&want);
	buf_put_varint(&want, 5);
	buf_put_varint(&want, 1);
	put_name(&want, "id");
	put_name(&want, "Int32");
	buf_put_le(&want, 4, 4);
	put_name(&want, "s");
	put_name(&want, "Nullable(Int16)");
	buf_put(&want, "\0", 1);
	buf_put_le(&want, (uint16_t)-5, 2);
	put_name(&want, "a");
	put_name(&want, "Array(Nullable(String))");
	buf_put_le(&want, 1, 8);
	buf_put(&want, "\0", 1);
	buf_put_string(&want, "y", 1);
	put_name(&want, "_v");
	put_name(&want, "UInt64");
	buf_put_le(&want, 0x0102, 8);
	put_name(&want, "_d");
	put_name(&want, "UInt8");
	buf_put(&want, "\0", 1);
	snprintf(want_hex, sizeof want_hex, "%s", hex(want.data, want.len));
	ok(all, "second block converted");
	is_str(hex(got.data, got.len), want_hex, "a second block restarts offsets and null maps");
	buf_reset(&got);
	native_flush(&b, &got);
	ok(got.len == 0, "an empty block writes nothing");
	buf_free(&got);
	buf_free(&want);
	native_free(&b);
	for (int i = 0; i < 3; i++)
		rowbinary_free(&conv[i]);
}

static void test_block_size(void)
{
	ChCaps legacy;
	Config cfg;
	setup(&legacy, &cfg);
	Column col;
	memset(&col, 0, sizeof col);
	col.name = col.ch_name = "s";
	col.ch = type_of("String", &legacy);
	col.kind = PG_TEXT;
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = &col;
	t.ncols = 1;
	ColConv conv;
	rowbinary_init(&conv, PG_TEXT, &col.ch, UNREP_ERROR, &legacy);
	NativeBlock b;
	native_init(&b, &t, &cfg, 1);
	static char big[40000];
	memset(big, 'x', sizeof big);
	char err[64];
	int rows = 0;
	bool full = false;
	while (!full && rows < NATIVE_BLOCK_ROWS) {
		native_put(&b, 0, &conv, false, big, (int)sizeof big, err, sizeof err);
		full = native_row_done(&b);
		rows++;
	}
	ok(full && rows == (int)(NATIVE_BLOCK_BYTES / sizeof big) + 1, "wide rows: the block is full at %d rows (%u bytes)",
	   rows, NATIVE_BLOCK_BYTES);
	native_free(&b);
	rowbinary_free(&conv);
}

/* The stream's blocks: values already in RowBinary (as batch records hold them), each row
 * with its own version and deleted flag, give the same column bytes as the snapshot's. */
static void test_rows(void)
{
	ChCaps legacy;
	Config cfg;
	setup(&legacy, &cfg);
	Column cols[3];
	memset(cols, 0, sizeof cols);
	cols[0].name = cols[0].ch_name = "id";
	cols[0].ch = type_of("Int32", &legacy);
	cols[0].kind = PG_INT4;
	cols[1].name = cols[1].ch_name = "s";
	cols[1].ch = type_of("Nullable(Int16)", &legacy);
	cols[1].kind = PG_INT4;
	cols[1].policy = UNREP_NULL;
	cols[2].name = cols[2].ch_name = "a";
	cols[2].ch = type_of("Array(Nullable(String))", &legacy);
	cols[2].kind = PG_TEXT;
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = cols;
	t.ncols = 3;
	ColConv conv[3];
	for (int i = 0; i < 3; i++)
		rowbinary_init(&conv[i], cols[i].kind, &cols[i].ch, cols[i].policy, &legacy);
	NativeBlock snap, rows;
	native_init(&snap, &t, &cfg, 7);
	native_init_rows(&rows, &t, &cfg);
	const char *vals[3][3] = {{"1", "7", "{x,NULL}"}, {"2", NULL, NULL}, {"3", "70000", "{}"}};
	char err[128];
	bool all = true;
	Buf rb;
	buf_init(&rb);
	for (int r = 0; r < 3; r++) {
		for (int c = 0; c < 3; c++) {
			const char *v = vals[r][c];
			int len = v ? (int)strlen(v) : -1;
			all = all && native_put(&snap, c, &conv[c], false, v, len, err, sizeof err) == CONV_OK;
			buf_reset(&rb);
			all = all && rowbinary_put(&conv[c], false, v, len, &rb, err, sizeof err) == CONV_OK;
			all = all && native_put_rowbinary(&rows, c, rb.data, rb.len);
		}
		native_row_meta(&rows, 7, r == 1);
		native_row_done(&snap);
		native_row_done(&rows);
	}
	ok(all, "every value converted and taken from its RowBinary");
	Buf a, b;
	buf_init(&a);
	buf_init(&b);
	native_flush(&snap, &a);
	native_flush(&rows, &b);
	/* the same bytes but for the deleted flag of row 2, the block's last byte but one */
	ok(a.len == b.len && b.len > 2 && b.data[b.len - 2] == 1, "the rows' block has the deleted flag of row 2");
	b.data[b.len - 2] = 0;
	char want_hex[4096];
	snprintf(want_hex, sizeof want_hex, "%s", hex(a.data, a.len));
	is_str(hex(b.data, b.len), want_hex, "otherwise the snapshot's bytes");
	ok(!native_put_rowbinary(&rows, 1, "\1\0", 2), "a NULL flag followed by bytes is refused");
	buf_free(&rb);
	buf_free(&a);
	buf_free(&b);
	native_free(&snap);
	native_free(&rows);
	for (int i = 0; i < 3; i++)
		rowbinary_free(&conv[i]);
}

/* Binary-form values into Nullable columns: the direct conversions (rowbinary_put_fast) build
 * the same block as the general path, NULLs, a policy's NULL and a fallback included. */
static void test_direct(void)
{
	ChCaps legacy;
	Config cfg;
	setup(&legacy, &cfg);
	static const char *types[] = {"Nullable(Date)", "Nullable(String)", "Nullable(Decimal(14, 2))", "Nullable(Float32)"};
	static const PgKind kinds[] = {PG_DATE, PG_TIMESTAMP, PG_NUMERIC, PG_FLOAT4};
	Column cols[4];
	memset(cols, 0, sizeof cols);
	static const char *names[] = {"d", "ts", "n", "f"};
	for (int i = 0; i < 4; i++) {
		cols[i].name = cols[i].ch_name = (char *)names[i];
		cols[i].ch = type_of(types[i], &legacy);
		cols[i].kind = kinds[i];
		cols[i].binary = true;
	}
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = cols;
	t.ncols = 4;
	/* rows of big-endian values: in range; NULL; out of range (policy: NULL) or special */
	static const char d[3][4] = {{0, 0, 0x1d, 0x4c}, {0}, {(char)0xff, (char)0xff, (char)0x80, 0}};
	static const char ts[3][8] = {{0, 0x02, (char)0x8a, 0x5a, 0x15, 0x5b, 0x0c, 0x40}, {0}, {0x7f, -1, -1, -1, -1, -1, -1, -1}};
	static const char num[3][10] = {{0, 1, 0, 0, 0, 0, 0, 2, 0x04, (char)0xd2}, {0}, {0, 0, 0, 0, (char)0xc0, 0, 0, 0}};
	static const char fl[3][4] = {{0x3f, (char)0xc0, 0, 0}, {0}, {0x7f, (char)0xa0, 0, 1}};
	const char *vals[4][3] = {{d[0], NULL, d[2]}, {ts[0], NULL, ts[2]}, {num[0], NULL, num[2]}, {fl[0], NULL, fl[2]}};
	const int lens[4][3] = {{4, -1, 4}, {8, -1, 8}, {10, -1, 8}, {4, -1, 4}};
	Buf out[2];
	int direct = 0;
	bool all = true;
	for (int pass = 0; pass < 2; pass++) {
		ColConv conv[4];
		for (int i = 0; i < 4; i++) {
			rowbinary_init(&conv[i], kinds[i], &cols[i].ch, UNREP_NULL, &legacy);
			if (pass == 1)
				conv[i].fast = 0; /* the general path */
			else if (conv[i].fast)
				direct++;
		}
		NativeBlock b;
		native_init(&b, &t, &cfg, 7);
		char err[128];
		for (int r = 0; r < 3; r++) {
			for (int c = 0; c < 4; c++)
				all = all && native_put(&b, c, &conv[c], true, vals[c][r], lens[c][r], err, sizeof err) == CONV_OK;
			native_row_done(&b);
		}
		buf_init(&out[pass]);
		native_flush(&b, &out[pass]);
		native_free(&b);
		for (int i = 0; i < 4; i++)
			rowbinary_free(&conv[i]);
	}
	ok(all && direct == 4, "every value converted, each column with a direct conversion");
	ok(out[0].len == out[1].len && memcmp(out[0].data, out[1].data, out[0].len) == 0,
	   "Nullable date, timestamp-as-String, Decimal, Float32: the same block either way");
	buf_free(&out[0]);
	buf_free(&out[1]);
}

int main(void)
{
	test_choice();
	test_block();
	test_block_size();
	test_rows();
	test_direct();
	return done_testing();
}
