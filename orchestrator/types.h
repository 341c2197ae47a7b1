/*
 * types — the PostgreSQL → ClickHouse type mapping of ARCHITECTURE.md, "Types", as a table in C.
 *
 * A source column is described by PgTypeInfo (from the catalog, domains already resolved
 * to their base type). types_map picks the ClickHouse type from the probed server
 * capabilities (ChCaps) and the config, and the PgKind that says how values of the column
 * are decoded. A Lua override (`types = { col = "String" }`) is parsed by types_parse.
 * Columns whose values cannot be converted from PostgreSQL's binary form into the chosen
 * type are transferred as text (types_binary_ok says which); both paths share the encoders
 * in rowbinary.c.
 */
#ifndef PGCH_TYPES_H
#define PGCH_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* How a PostgreSQL value is decoded (binary send format or text output format). */
typedef enum PgKind {
	PG_OTHER, /* no decoder: the text form, as is */
	PG_BOOL,
	PG_INT2,
	PG_INT4,
	PG_INT8,
	PG_OID,
	PG_FLOAT4,
	PG_FLOAT8,
	PG_NUMERIC,
	PG_TEXT, /* text, varchar, bpchar, name, citext, enum labels, json */
	PG_JSONB,
	PG_BYTEA,
	PG_UUID,
	PG_DATE,
	PG_TIMESTAMP,
	PG_TIMESTAMPTZ,
	PG_CHAR, /* "char" */
} PgKind;

typedef enum ChKind {
	CH_BOOL,
	CH_UINT8,
	CH_UINT16,
	CH_UINT32,
	CH_UINT64,
	CH_INT8,
	CH_INT16,
	CH_INT32,
	CH_INT64,
	CH_FLOAT32,
	CH_FLOAT64,
	CH_DECIMAL,
	CH_STRING,
	CH_UUID,
	CH_DATE,
	CH_DATE32,
	CH_DATETIME,
	CH_DATETIME64,
} ChKind;

typedef struct ChType {
	ChKind kind;
	int precision; /* Decimal precision; DateTime64 precision */
	int scale;     /* Decimal scale */
	bool nullable; /* Nullable(T); for arrays, of the elements */
	bool array;    /* Array(T): one dimension */
	bool low_cardinality;
	bool text_form; /* String holding the PostgreSQL text form (said so in plan) */
} ChType;

/* What the destination server can do, probed once (ch_probe). */
typedef struct ChCaps {
	char version[64];
	bool has_bool;
	bool has_date32;
	bool has_datetime64;
	bool has_decimal256;
	bool has_low_cardinality;
	bool has_nullable_in_array;
	bool has_replacing_is_deleted;
	bool has_async_insert;
	bool has_max_partitions_per_insert_block;
	bool has_insert_deduplicate;
	bool has_zstd_http;
	bool has_distributed_ddl_task_timeout;
	bool has_insert_distributed_sync;
	bool has_insert_quorum_timeout;
	int cluster_shards;   /* destination.cluster: shards and most replicas of a shard (0: no cluster, or unknown) */
	int cluster_replicas;
	int32_t date32_min, date32_max; /* days since 1970-01-01 */
	int64_t dt64_min, dt64_max;     /* microseconds since 1970-01-01 UTC */
} ChCaps;

/* A source column's type, as discovered (domains resolved to the base type). */
typedef struct PgTypeInfo {
	uint32_t oid;      /* element type for arrays */
	const char *name;  /* pg_type.typname of that type */
	char typtype;      /* 'b' base, 'e' enum, 'c' composite, 'r' range, 'm' multirange, 'p' pseudo */
	int32_t typmod;
	bool array;
	int ndims;         /* declared dimensions; informational, values are checked */
	bool notnull;
} PgTypeInfo;

typedef struct TypeOptions {
	bool timestamp_as_datetime;  /* servers without DateTime64: DateTime instead of String */
	bool numeric_as_decimal;     /* numeric without typmod: Decimal(76,38) where possible */
} TypeOptions;

/* Built-in type OIDs (stable across PostgreSQL versions). */
enum {
	OID_BOOL = 16, OID_BYTEA = 17, OID_CHAR = 18, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21,
	OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26, OID_JSON = 114, OID_XML = 142, OID_FLOAT4 = 700,
	OID_FLOAT8 = 701, OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIME = 1083,
	OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_INTERVAL = 1186, OID_TIMETZ = 1266,
	OID_NUMERIC = 1700, OID_UUID = 2950, OID_JSONB = 3802,
};

/* Choose the ClickHouse type and decoder for a column. */
void types_map(const PgTypeInfo *pg, const ChCaps *caps, const TypeOptions *opt, ChType *ch, PgKind *kind);
/* The decoder for a type (used for overrides, where the ClickHouse side is given). */
PgKind types_pg_kind(const PgTypeInfo *pg);

/* Can values of kind `pg` be converted from binary send format into `ch`? Otherwise: text. */
bool types_binary_ok(PgKind pg, const ChType *ch);

/* Can values of kind `pg` be written as `ch` at all (binary or text)? Reason in err if not. */
bool types_compatible(PgKind pg, const ChType *ch, char *err, size_t errlen);

/* ClickHouse type name, e.g. "Array(Nullable(Decimal(10, 2)))". */
void types_ch_name(const ChType *ch, Buf *out);
/* Do two mapped types name the same ClickHouse type? */
bool types_same_ch(const ChType *a, const ChType *b);

/*
 * Parse a ClickHouse type name from a config override. Nullable(...) sets nullable; without
 * it the column's own nullability applies. Returns false with a reason in err.
 */
bool types_parse(const char *name, const ChCaps *caps, ChType *out, char *err, size_t errlen);

/* Can a value of this type be NULL in ClickHouse? (ORDER BY columns must not be.) */
static inline bool types_is_nullable(const ChType *ch)
{
	return ch->nullable && !ch->array;
}

/* Capabilities of ClickHouse 18.16 and of a modern (23.x+) server: for unit tests, and for
 * `pgch plan --assume-modern`. */
/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm). */
int64_t types_days_from_civil(int64_t y, int m, int d);

void types_caps_legacy(ChCaps *caps);
void types_caps_modern(ChCaps *caps);

#endif
