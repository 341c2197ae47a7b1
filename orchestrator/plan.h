/*
 * plan — the partition plan and the ClickHouse DDL for the discovered tables.
 *
 * Partitions come from row estimates (ARCHITECTURE.md, "Processes"): a leaf with more rows than
 * rows_per_partition is split into n = ceil(rows / rows_per_partition) ctid ranges (rounded
 * up to a multiple of snapshot.workers, so no worker idles in the last wave) of
 * pages / n pages each; the first range has no lower bound and the last none above, so rows
 * in pages added during the copy are not missed. A partition is identified by (table,
 * number); the plan is stored with the progress (state.c) so a resumed run reuses it.
 */
#ifndef PGCH_PLAN_H
#define PGCH_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "types.h"

/* rows_per_partition left unset: a leaf's rows / snapshot.workers, within these bounds, so
 * that a table of a few hundred thousand rows keeps every worker busy (one partition of the
 * 300,000-row wide table left one of 2 workers idle: 0.72 of the streaming pipeline's time
 * against 0.62 in 2 partitions) and a large one still comes in resumable pieces. */
#define PLAN_AUTO_MIN_ROWS 100000
#define PLAN_AUTO_MAX_ROWS 1000000

typedef enum PartStatus { PART_TODO, PART_RUNNING, PART_DONE } PartStatus;

typedef struct Partition {
	int table;          /* index into Catalog.tables */
	int leaf;           /* index into Table.leaves */
	int number;         /* 0-based within the table */
	uint32_t start;     /* first page (inclusive); 0 with end 0: the whole leaf */
	uint32_t end;       /* page bound (exclusive); 0: open */
	int64_t est_rows;
	/* progress */
	PartStatus status;
	int64_t rows;
	uint64_t bytes;
	int attempts;
	uint64_t snapshot_lsn; /* consistent point it was (or is being) read under */
	double started;
	double next_try;    /* backoff: not before this time */
} Partition;

typedef struct Plan {
	Partition *parts;
	int nparts;
} Plan;

/* Split every table into partitions. */
/* The rows per partition for a leaf of `rows` rows: the setting, or the automatic choice. */
int64_t plan_rows_per_partition(int64_t rows, const Config *cfg);
void plan_partitions(const Catalog *cat, const Config *cfg, Plan *plan);
/* Is the table copied before its changes are streamed (initial_load, per table or pipe)? A
 * table that is not has its partitions planned as done: a resync copies it all the same. */
bool plan_copies(const Table *t, const Config *cfg);
void plan_free(Plan *plan);

/* " WHERE ctid >= '(a,0)' AND ctid < '(b,0)'" or "" for a whole leaf. */
void plan_where(const Partition *p, Buf *out);

/*
 * DDL. On a cluster (cluster.h) every statement is ON CLUSTER and tables are Replicated; on
 * more than one shard a target is `<target>_local` per shard plus a Distributed table named
 * `<target>`, and some changes take several statements, separated by PLAN_NEXT_STATEMENT
 * (cluster_ddl runs them in order). String literals never hold a newline (ch_quote_string
 * escapes it), so the separator cannot occur inside one.
 */
#define PLAN_NEXT_STATEMENT "\n;\n"

/* Does the destination keep each target as local tables under a Distributed one? */
bool plan_sharded(const ChCaps *caps);
/* The Distributed table's sharding expression: destination.sharding_key, or cityHash64 of
 * the ORDER BY columns. */
void plan_sharding_key(const Table *t, const Config *cfg, Buf *out);

/* CREATE DATABASE / CREATE TABLE statements. */
void plan_create_database(const Config *cfg, Buf *out);
void plan_create_table(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out);
/* "INSERT INTO `db`.`target` (columns, version, is_deleted) FORMAT <format>" (malloc'd):
 * RowBinary, or Native for the snapshot where the server takes it cheaper */
char *plan_insert_sql(const Table *t, const Config *cfg, const char *format);
/* `db`.`target` */
void plan_target(const Table *t, const Config *cfg, Buf *out);
/* The DDL pgch runs on an existing target (appended to out): "TRUNCATE TABLE `db`.`t`",
 * "DROP TABLE IF EXISTS `db`.`t`", "ALTER TABLE `db`.`t` ADD COLUMN `c` Type[ DEFAULT ...]"
 * (default_expr: "" or " DEFAULT ..."). */
void plan_truncate_sql(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out);
void plan_drop_sql(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out);
void plan_add_column_sql(const Table *t, const Config *cfg, const ChCaps *caps, const Column *c, const char *default_expr,
			 Buf *out);
void plan_rename_column_sql(const Table *t, const Config *cfg, const ChCaps *caps, const char *from, const char *to,
			    Buf *out);

/* On shards: the Distributed table dropped and created again over the local tables, taking
 * their columns (two statements). */
void plan_distributed_sql(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out);

/* Print the plan for humans (pgch plan) or as JSON (--json). */
void plan_print(const Catalog *cat, const Plan *plan, const Config *cfg, const ChCaps *caps, bool json);

#endif
