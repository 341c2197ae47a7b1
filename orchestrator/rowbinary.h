/*
 * rowbinary — convert PostgreSQL values, in binary send format or text output format, into
 * ClickHouse RowBinary for a column's chosen type.
 *
 * A value goes through two steps: decode (binary or text, by PgKind; pgvalue.c) into a small
 * Value on the stack, then encode (by ChType) into the output buffer. The two decoders feed the same
 * encoders, so snapshot (COPY binary) and streaming (pgoutput 'b' or 't' values) write
 * identical bytes for the same value. Nothing is allocated per value: numeric digits,
 * unescaped array elements and formatted text go through per-column scratch buffers.
 *
 * Values with no ClickHouse form (±infinity dates, numeric NaN, out-of-range dates, multi-
 * dimensional arrays) follow the column's Unrepresentable policy: "error" fails the value
 * with a message, "null" writes NULL (or the type's empty value where NULL is impossible),
 * "clamp" writes the nearest representable value; both count into unrep_count.
 *
 * RowBinary reference: integers and floats little-endian; String = varint length + bytes;
 * Nullable = 1 byte (1 = NULL) then the value if not NULL; Array = varint count + elements;
 * UUID = two little-endian UInt64 halves; Decimal = little-endian two's-complement integer of
 * 4/8/16/32 bytes by precision; Date = UInt16 days, Date32 = Int32 days, DateTime = UInt32
 * seconds, DateTime64(p) = Int64 ticks of 10^-p s, all since 1970-01-01 UTC.
 */
#ifndef PGCH_ROWBINARY_H
#define PGCH_ROWBINARY_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "pgvalue.h"
#include "types.h"

typedef struct ColConv {
	PgKind pg;
	ChType ch;
	Unrepresentable policy;
	const ChCaps *caps;
	bool tz;         /* timestamptz: its text form carries "+00" */
	char delim;      /* array element delimiter in text form (pg_type.typdelim) */
	uint8_t fast;    /* a direct binary-form conversion for this column (FAST_*), or 0 */
	uint64_t unrep_count;
	/* scratch, reused across values */
	PgScratch scratch; /* numeric digits; formatted text, decoded bytea (scratch.fmt) */
	Buf tmp;  /* array elements being encoded */
	Buf text; /* an unescaped array element */
} ColConv;

void rowbinary_init(ColConv *c, PgKind pg, const ChType *ch, Unrepresentable policy, const ChCaps *caps);
void rowbinary_free(ColConv *c);

/*
 * Append one value (len < 0: SQL NULL) to out. `binary` says whether data is in binary send
 * format or text output format. On failure returns CONV_UNREP or CONV_BAD with a message in
 * err (naming the value, not the column: the caller adds table, column and key) and leaves
 * out at an unspecified length: callers rewind to the start of the row.
 */
ConvResult rowbinary_put(ColConv *c, bool binary, const char *data, int len, Buf *out, char *err, size_t errlen);

/*
 * The column's direct conversion of a non-NULL binary-form value, when it has one (ints,
 * floats, bool, text, date, timestamp and numeric into their usual ClickHouse types): the
 * value's bytes without a Nullable flag, exactly what rowbinary_put writes after it. False
 * (out unchanged) when the column has none or the value needs the general path (a bound, a
 * special value, a malformed one): rowbinary_put then decides.
 */
bool rowbinary_put_fast(ColConv *c, const char *data, int len, Buf *out);

/* Append the column's empty value (NULL, 0, '', [], 1970-01-01): for delete rows. */
void rowbinary_put_default(const ColConv *c, Buf *out);

/* Length of one RowBinary value of type t at p (n bytes available); false if truncated
 * (rowbinary_read.c). */
bool rowbinary_skip(const ChType *t, const char *p, size_t n, size_t *used);

/* A varint (LEB128, as RowBinary's lengths and counts) at p, within n bytes: its value and
 * its size in *used; false if it does not end within n bytes (or 10). */
bool rowbinary_read_varint(const char *p, size_t n, size_t *used, uint64_t *v);

/* Bytes of a Decimal of this precision in RowBinary: 4, 8, 16 or 32. */
int rowbinary_decimal_bytes(int precision);

/*
 * Render a value as PostgreSQL's text form would print it (for messages naming a row's key),
 * at most outlen-1 bytes. Falls back to hex for what it cannot render.
 */
void rowbinary_describe(ColConv *c, bool binary, const char *data, int len, char *out, size_t outlen);

#endif
