/*
 * pgvalue — PostgreSQL values decoded into a Value, and printed back in PostgreSQL's text form.
 *
 * A column value arrives in binary send format (COPY binary, pgoutput 'b') or text output
 * format (pgoutput 't', text-form columns). Both decoders fill the same small Value on the
 * caller's stack, so the encoders (rowbinary.c) see one representation whatever the form;
 * the formatters print a decoded value the way PostgreSQL's output functions would (for
 * String targets and for messages). Nothing is allocated per value: numeric digits and
 * decoded bytea go through the caller's PgScratch, reused across values.
 *
 * Dates are days since 1970-01-01; timestamps are microseconds since 2000-01-01 UTC
 * (PostgreSQL's own epoch, over which its whole range fits in 64 bits).
 */
#ifndef PGCH_PGVALUE_H
#define PGCH_PGVALUE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "types.h"

#define PG_EPOCH_DAYS 10957                   /* 2000-01-01 - 1970-01-01 in days */
#define PG_EPOCH_US INT64_C(946684800000000)  /* the same in microseconds */
#define US_PER_DAY INT64_C(86400000000)

typedef enum ConvResult {
	CONV_OK = 0,
	CONV_UNREP, /* value has no ClickHouse form and the policy is "error" */
	CONV_BAD,   /* malformed input: a protocol or decoding error */
} ConvResult;

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

/* Per-column scratch reused across values: numeric digits, decoded bytea, formatted text. */
/* The "YYYY-MM-DD" of the last day a timestamp was formatted on (pgvalue_put_ts). */
typedef struct PgDayCache {
	int64_t days; /* since 2000-01-01 */
	char ymd[10];
	bool set;
} PgDayCache;

typedef struct PgScratch {
	uint16_t *digits;
	size_t digits_cap;
	Buf fmt;
	PgDayCache day;
} PgScratch;

static inline int64_t pgvalue_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Does s[0..n) equal lit, ignoring case? */
static inline bool pgvalue_text_eq(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n == m && strncasecmp(s, lit, m) == 0;
}

/* The date of a day count since 1970-01-01 (types_days_from_civil goes the other way). */
void pgvalue_civil_from_days(int64_t z, int64_t *yp, int *mp, int *dp);

/* Decode one value of kind `kind` (n bytes at d) into v; CONV_BAD with a message in err. */
ConvResult pgvalue_decode_binary(PgScratch *c, PgKind kind, const char *d, size_t n, Value *v, char *err, size_t errlen);
ConvResult pgvalue_decode_text(PgScratch *c, PgKind kind, const char *s, size_t n, Value *v, char *err, size_t errlen);
/* A numeric's text form ("-12.50", "NaN", "Infinity") into a V_NUMERIC value. */
ConvResult pgvalue_parse_numeric(PgScratch *c, const char *s, size_t n, Value *v, char *err, size_t errlen);

/* Append PostgreSQL's text form of a decoded value (tz: timestamptz, printed with "+00"). */
void pgvalue_format(const Value *v, PgKind kind, bool tz, Buf *out);
void pgvalue_format_date(const Value *v, Buf *out);
void pgvalue_format_ts(const Value *v, bool tz, Buf *out);
/* pgvalue_format_ts of a finite timestamp (us since 2000-01-01) written at p (room for 32
 * bytes, not terminated), the date part from *dc when the day is the one formatted last: the
 * end of the text, or NULL for a year outside 1..9999 (then nothing is written). */
char *pgvalue_put_ts(char *p, int64_t us, bool tz, PgDayCache *dc);
void pgvalue_format_numeric(const Value *v, Buf *out);

/* Write a message into err and return CONV_BAD. */
ConvResult pgvalue_bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
