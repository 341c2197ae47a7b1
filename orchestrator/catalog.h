/*
 * catalog — discover the selected source tables and decide their ClickHouse shape
 * (catalog.c: tables, keys, checks; catalog_columns.c: columns, refresh, column lists).
 *
 * catalog_discover reads pg_class/pg_attribute/pg_index/pg_type once for every table the
 * config's patterns select (roots only; partitioned tables are listed with their leaves),
 * maps each column's type (types.c) under the destination's capabilities, applies the
 * per-table options (target, order_by, exclude_columns, partition_by, types), and checks
 * what ARCHITECTURE.md, "Consistency" and "ClickHouse tables" require: a replica identity that lets the source keep writing, a
 * dedup key equal to the replica-identity columns inside ORDER BY, no Nullable sorting
 * columns, PARTITION BY only over ORDER BY columns, unique target names, SELECT privilege on
 * the table and its leaves. Every refusal is one message naming the table or column and the
 * statement or setting that fixes it; a fix that is a statement to run follows ". Fix: "
 * (pgch check splits the message there into its finding and its fix).
 */
#ifndef PGCH_CATALOG_H
#define PGCH_CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "types.h"

typedef struct Column {
	char *name;             /* the source's name: SQL at the source, the config's options, hooks */
	char *ch_name;          /* its ClickHouse name: the table entry's columns = { name = ch_name } */
	int attnum;
	uint32_t type_oid;      /* declared type (the domain, if any) */
	char *type_name;        /* format_type(), for messages and plan */
	PgTypeInfo pg;          /* resolved base / element type */
	char *pg_typname;       /* owned storage for pg.name */
	char delim;             /* array delimiter */
	bool notnull;
	char generated;         /* 's' for stored generated columns */
	bool has_missing_default;
	ChType ch;
	PgKind kind;
	bool binary;            /* snapshot reads it in binary form */
	bool overridden;        /* type set by config */
	Unrepresentable policy;
} Column;

typedef struct Leaf {
	uint32_t oid;
	char *schema;
	char *name;
	char *qualified;        /* "schema"."name", quoted for SQL */
	int64_t pages;
	double reltuples;       /* -1: never analysed */
	int64_t est_rows;
} Leaf;

/* A column ClickHouse computes from the replicated ones (pgch.add_column in on_table). */
typedef struct Derived {
	char *name;
	char *ch_type;
	char *expr;             /* a ClickHouse expression over the table's columns */
	bool materialized;      /* MATERIALIZED (stored, left out of SELECT *), else DEFAULT */
} Derived;

typedef struct Table {
	uint32_t oid;
	char *schema;
	char *name;
	char *display;          /* schema.name */
	char *qualified;        /* "schema"."name" */
	char relkind;           /* 'r' or 'p' */
	char replident;         /* 'd', 'n', 'f', 'i' */
	Column *cols;           /* selected columns only, in attnum order */
	int ncols;
	int *key;               /* replica-identity key: indexes into cols */
	int nkey;
	int *order;             /* ClickHouse ORDER BY: indexes into cols */
	int norder;
	char *target;
	char *resync_target;    /* while it is copied again into a shadow table (resync.h): its real
				 * target, target naming the shadow; NULL otherwise */
	char *partition_by;
	const TableRule *rule;  /* the most specific rule that selected it (options) */
	Leaf *leaves;           /* the table itself, or its leaf partitions */
	int nleaves;
	int64_t est_rows;
	char **after;           /* statements from hooks, run after CREATE TABLE */
	int nafter;
	Derived *derived;       /* columns from hooks that ClickHouse computes; never inserted */
	int nderived;
	bool has_generated;
	bool refused;           /* not usable: a problem was reported, or discovery stopped first */
	bool unreadable;        /* refused only because the user may not SELECT it */
} Table;

typedef struct Catalog {
	Table *tables;
	int ntables;
	int server_version;     /* PostgreSQL server_version_num */
	char *dbname;
} Catalog;

/*
 * Discover and map. Problems of every table are logged (one message each; all tables are
 * checked, so one run shows every problem) before false is returned; the tables with a
 * problem are marked `refused`, the others are complete. A failing query stops discovery.
 */
bool catalog_discover(PGconn *conn, const Config *cfg, const ChCaps *caps, Catalog *cat);
void catalog_free(Catalog *cat);

/*
 * The ClickHouse names of cols (ch_name, from the table entry's `columns` renames) must be
 * unique and not pgch's own; false (logged with the config's line) otherwise.
 */
bool catalog_check_ch_names(const Config *cfg, const Table *t, const Column *cols, int ncols);

/* Each rename in the table entry's columns = { ... } names a column that exists (res: the
 * table's column names, one per row) and is not excluded; false (logged with the line). */
bool catalog_check_renames(const Config *cfg, const Table *t, PGresult *res);

/* Read a table's current columns (as catalog_discover would) without changing it. */
bool catalog_read_columns(PGconn *conn, const Config *cfg, const ChCaps *caps, const Table *t, Column **out, int *nout,
			  bool *ok);
void catalog_free_columns(Column *cols, int n);
/*
 * Before a table is copied again (the reason may be a schema change the stream could not
 * apply): read its columns anew and take them into t, its key and ORDER BY following their
 * columns. *changed: its ClickHouse shape differs, so its destination table must be created
 * again. false (logged) when it cannot be copied as it is now: a column no longer maps, a
 * key column is gone (restart_hint names the command that starts over), or an ORDER BY
 * column can be NULL.
 */
bool catalog_refresh(PGconn *conn, const Config *cfg, const ChCaps *caps, Table *t, const char *restart_hint,
		     bool *changed);

/* The value converter for a column (its decoder, ClickHouse type, policy, text details). */
typedef struct ColConv ColConv;
void catalog_conv_init(const Column *c, const ChCaps *caps, ColConv *out);

/* Find a table by source display name or target. */
Table *catalog_find(Catalog *cat, const char *name);

/* One column as the snapshot selects it: as is when binary, else its text output form. */
void catalog_select_expr(const Table *t, int col, Buf *out);
/* The snapshot SELECT list: binary columns as is, others through format('%s', col). */
char *catalog_select_list(const Table *t);
/* The same with NULL in place of the columns marked in absent (dropped at the source). */
char *catalog_select_list_except(const Table *t, const bool *absent);

/* Column names as a ClickHouse INSERT column list, including the version/deleted columns. */
char *catalog_insert_columns(const Table *t, const Config *cfg);

#endif
