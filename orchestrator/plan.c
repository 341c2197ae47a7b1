/*
 * plan — partitions, DDL and the printed plan; see plan.h.
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch.h"
#include "cluster.h"

bool plan_copies(const Table *t, const Config *cfg)
{
	return t->rule && t->rule->initial_load >= 0 ? t->rule->initial_load == 1 : cfg->pipe.initial_load;
}

int64_t plan_rows_per_partition(int64_t rows, const Config *cfg)
{
	if (cfg->pipe.snapshot.rows_per_partition > 0)
		return cfg->pipe.snapshot.rows_per_partition;
	int64_t w = cfg->pipe.snapshot.workers > 0 ? cfg->pipe.snapshot.workers : 1;
	int64_t rpp = (rows + w - 1) / w;
	if (rpp < PLAN_AUTO_MIN_ROWS)
		rpp = PLAN_AUTO_MIN_ROWS;
	if (rpp > PLAN_AUTO_MAX_ROWS)
		rpp = PLAN_AUTO_MAX_ROWS;
	return rpp;
}

void plan_partitions(const Catalog *cat, const Config *cfg, Plan *plan)
{
	memset(plan, 0, sizeof *plan);
	int cap = 16;
	plan->parts = xcalloc((size_t)cap, sizeof(Partition));
	for (int ti = 0; ti < cat->ntables; ti++) {
		const Table *t = &cat->tables[ti];
		int number = 0;
		for (int li = 0; li < t->nleaves; li++) {
			const Leaf *l = &t->leaves[li];
			int64_t rpp = plan_rows_per_partition(l->est_rows, cfg);
			int64_t n = l->est_rows > rpp ? (l->est_rows + rpp - 1) / rpp : 1;
			/* a multiple of the workers, so the last wave does not run with workers idle */
			int64_t w = cfg->pipe.snapshot.workers;
			if (n > 1 && n % w)
				n += w - n % w;
			if (n > l->pages)
				n = l->pages > 0 ? l->pages : 1;
			int64_t per = n > 1 ? (l->pages + n - 1) / n : 0;
			for (int64_t k = 0; k < n; k++) {
				if (plan->nparts == cap) {
					cap *= 2;
					plan->parts = xrealloc(plan->parts, sizeof(Partition) * (size_t)cap);
				}
				Partition *p = &plan->parts[plan->nparts++];
				memset(p, 0, sizeof *p);
				p->table = ti;
				p->leaf = li;
				p->number = number++;
				p->start = (uint32_t)(k * per);
				p->end = k + 1 < n ? (uint32_t)((k + 1) * per) : 0;
				p->est_rows = l->est_rows / n;
				/* initial_load = false: planned, so that a resync can copy it, but done */
				p->status = plan_copies(t, cfg) ? PART_TODO : PART_DONE;
			}
		}
	}
}

void plan_free(Plan *plan)
{
	free(plan->parts);
	memset(plan, 0, sizeof *plan);
}

void plan_where(const Partition *p, Buf *out)
{
	if (p->start == 0 && p->end == 0)
		return;
	buf_puts(out, " WHERE ");
	if (p->start > 0)
		buf_printf(out, "ctid >= '(%u,0)'", p->start);
	if (p->start > 0 && p->end > 0)
		buf_puts(out, " AND ");
	if (p->end > 0)
		buf_printf(out, "ctid < '(%u,0)'", p->end);
}

void plan_create_database(const Config *cfg, Buf *out)
{
	buf_puts(out, "CREATE DATABASE IF NOT EXISTS ");
	ch_quote_ident(out, cfg->dest.database);
	cluster_on_clause(&cfg->dest, out);
}

void plan_target(const Table *t, const Config *cfg, Buf *out)
{
	ch_quote_ident(out, cfg->dest.database);
	buf_put_u8(out, '.');
	ch_quote_ident(out, t->target);
}

bool plan_sharded(const ChCaps *caps)
{
	return caps->cluster_shards > 1;
}

/* The table that holds the rows: the target, or on shards its local table. */
static void stored_table(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out)
{
	if (!plan_sharded(caps)) {
		plan_target(t, cfg, out);
		return;
	}
	ch_quote_ident(out, cfg->dest.database);
	buf_put_u8(out, '.');
	char *local = xasprintf("%s_local", t->target);
	ch_quote_ident(out, local);
	free(local);
}

void plan_truncate_sql(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out)
{
	/* TRUNCATE of a Distributed table removes nothing (18.16): the local tables */
	buf_puts(out, "TRUNCATE TABLE ");
	stored_table(t, cfg, caps, out);
	cluster_on_clause(&cfg->dest, out);
}

void plan_drop_sql(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out)
{
	buf_puts(out, "DROP TABLE IF EXISTS ");
	plan_target(t, cfg, out);
	cluster_on_clause(&cfg->dest, out);
	if (plan_sharded(caps)) {
		buf_puts(out, PLAN_NEXT_STATEMENT "DROP TABLE IF EXISTS ");
		stored_table(t, cfg, caps, out);
		cluster_on_clause(&cfg->dest, out);
	}
}

/* The Distributed table over the local ones, with their columns (each host reads its own). */
static void create_distributed(const Table *t, const Config *cfg, const ChCaps *caps, bool if_not_exists, Buf *out)
{
	buf_puts(out, if_not_exists ? "CREATE TABLE IF NOT EXISTS " : "CREATE TABLE ");
	plan_target(t, cfg, out);
	cluster_on_clause(&cfg->dest, out);
	buf_puts(out, " AS ");
	stored_table(t, cfg, caps, out);
	buf_puts(out, "\nENGINE = Distributed(");
	ch_quote_ident(out, cfg->dest.cluster);
	buf_puts(out, ", ");
	ch_quote_ident(out, cfg->dest.database);
	buf_puts(out, ", ");
	char *local = xasprintf("%s_local", t->target);
	ch_quote_ident(out, local);
	free(local);
	buf_puts(out, ", ");
	plan_sharding_key(t, cfg, out);
	buf_put_u8(out, ')');
}

/* After the local tables' columns changed: the Distributed table over them made anew, as it
 * cannot be altered ON CLUSTER (code 371 on 18.16). */
static void remake_distributed(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out)
{
	buf_puts(out, PLAN_NEXT_STATEMENT "DROP TABLE IF EXISTS ");
	plan_target(t, cfg, out);
	cluster_on_clause(&cfg->dest, out);
	buf_puts(out, PLAN_NEXT_STATEMENT);
	create_distributed(t, cfg, caps, false, out);
}

void plan_distributed_sql(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out)
{
	buf_puts(out, "DROP TABLE IF EXISTS ");
	plan_target(t, cfg, out);
	cluster_on_clause(&cfg->dest, out);
	buf_puts(out, PLAN_NEXT_STATEMENT);
	create_distributed(t, cfg, caps, false, out);
}

void plan_add_column_sql(const Table *t, const Config *cfg, const ChCaps *caps, const Column *c, const char *default_expr,
			 Buf *out)
{
	buf_puts(out, "ALTER TABLE ");
	stored_table(t, cfg, caps, out);
	cluster_on_clause(&cfg->dest, out);
	buf_puts(out, " ADD COLUMN ");
	ch_quote_ident(out, c->ch_name);
	buf_put_u8(out, ' ');
	types_ch_name(&c->ch, out);
	buf_puts(out, default_expr ? default_expr : "");
	if (plan_sharded(caps))
		remake_distributed(t, cfg, caps, out);
}

void plan_rename_column_sql(const Table *t, const Config *cfg, const ChCaps *caps, const char *from, const char *to,
			    Buf *out)
{
	buf_puts(out, "ALTER TABLE ");
	stored_table(t, cfg, caps, out);
	cluster_on_clause(&cfg->dest, out);
	buf_puts(out, " RENAME COLUMN ");
	ch_quote_ident(out, from);
	buf_puts(out, " TO ");
	ch_quote_ident(out, to);
	if (plan_sharded(caps))
		remake_distributed(t, cfg, caps, out);
}

void plan_sharding_key(const Table *t, const Config *cfg, Buf *out)
{
	if (cfg->dest.sharding_key) {
		buf_puts(out, cfg->dest.sharding_key);
		return;
	}
	buf_puts(out, "cityHash64(");
	for (int i = 0; i < t->norder; i++) {
		if (i)
			buf_puts(out, ", ");
		ch_quote_ident(out, t->cols[t->order[i]].ch_name);
	}
	buf_put_u8(out, ')');
}

char *plan_insert_sql(const Table *t, const Config *cfg, const char *format)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "INSERT INTO ");
	plan_target(t, cfg, &sql);
	char *cols = catalog_insert_columns(t, cfg);
	buf_printf(&sql, " (%s) FORMAT %s", cols, format);
	free(cols);
	return buf_steal(&sql);
}

void plan_create_table(const Table *t, const Config *cfg, const ChCaps *caps, Buf *out)
{
	buf_puts(out, "CREATE TABLE IF NOT EXISTS ");
	stored_table(t, cfg, caps, out);
	cluster_on_clause(&cfg->dest, out);
	buf_puts(out, "\n(\n");
	for (int i = 0; i < t->ncols; i++) {
		buf_puts(out, "    ");
		ch_quote_ident(out, t->cols[i].ch_name);
		buf_put_u8(out, ' ');
		types_ch_name(&t->cols[i].ch, out);
		buf_puts(out, ",\n");
	}
	for (int i = 0; i < t->nderived; i++) { /* computed by ClickHouse, never in pgch's INSERTs */
		buf_puts(out, "    ");
		ch_quote_ident(out, t->derived[i].name);
		buf_printf(out, " %s %s %s,\n", t->derived[i].ch_type, t->derived[i].materialized ? "MATERIALIZED" : "DEFAULT",
			   t->derived[i].expr);
	}
	buf_puts(out, "    ");
	ch_quote_ident(out, cfg->dest.version_column);
	buf_puts(out, " UInt64,\n    ");
	ch_quote_ident(out, cfg->dest.deleted_column);
	buf_puts(out, " UInt8,\n    ");
	ch_quote_ident(out, cfg->dest.synced_column);
	buf_puts(out, " DateTime DEFAULT now()\n)\nENGINE = ");
	Buf args;
	buf_init(&args);
	ch_quote_ident(&args, cfg->dest.version_column);
	if (caps->has_replacing_is_deleted) {
		buf_puts(&args, ", ");
		ch_quote_ident(&args, cfg->dest.deleted_column);
	}
	cluster_engine(&cfg->dest, "ReplacingMergeTree", args.data, false, out);
	buf_free(&args);
	buf_puts(out, "\n");
	if (t->partition_by)
		buf_printf(out, "PARTITION BY %s\n", t->partition_by);
	buf_puts(out, "ORDER BY (");
	for (int i = 0; i < t->norder; i++) {
		if (i)
			buf_puts(out, ", ");
		ch_quote_ident(out, t->cols[t->order[i]].ch_name);
	}
	buf_puts(out, ")");
	if (plan_sharded(caps)) {
		buf_puts(out, PLAN_NEXT_STATEMENT);
		create_distributed(t, cfg, caps, true, out);
	}
}

static int count_parts(const Plan *plan, int table)
{
	int n = 0;
	for (int i = 0; i < plan->nparts; i++)
		n += plan->parts[i].table == table;
	return n;
}

static void put_note(Buf *out, bool json, bool *first, const char *note)
{
	if (json) {
		buf_puts(out, *first ? "" : ", ");
		buf_json_string(out, note);
	} else {
		buf_printf(out, "  note: %s\n", note);
	}
	*first = false;
}

static void print_notes(const Table *t, Buf *out, bool json)
{
	bool first = true;
	for (int i = 0; i < t->ncols; i++) {
		const Column *c = &t->cols[i];
		char tmp[512];
		if (strcmp(c->name, c->ch_name) != 0) {
			snprintf(tmp, sizeof tmp, "%s is named %s in ClickHouse (columns = { %s = \"%s\" })", c->name, c->ch_name,
				 c->name, c->ch_name);
			put_note(out, json, &first, tmp);
		}
		const char *note = NULL;
		if (c->ch.text_form && !c->overridden) {
			snprintf(tmp, sizeof tmp, "%s (%s) is written as String holding the PostgreSQL text form", c->name,
				 c->type_name);
			note = tmp;
		} else if (c->ch.array) {
			snprintf(tmp, sizeof tmp, "%s (%s): a NULL array is written as an empty array", c->name, c->type_name);
			note = tmp;
		} else if (c->generated == 's') {
			snprintf(tmp, sizeof tmp, "%s is a stored generated column: copied by the snapshot, filled by lookup "
					      "when streaming",
				 c->name);
			note = tmp;
		}
		if (note)
			put_note(out, json, &first, note);
	}
}

void plan_print(const Catalog *cat, const Plan *plan, const Config *cfg, const ChCaps *caps, bool json)
{
	Buf out;
	buf_init(&out);
	if (json) {
		buf_puts(&out, "{\"pipe\": ");
		buf_json_string(&out, cfg->pipe.name);
		buf_puts(&out, ", \"clickhouse_version\": ");
		buf_json_string(&out, caps->version);
		buf_puts(&out, ", \"tables\": [");
	} else {
		buf_printf(&out, "pipe %s: %d table%s from PostgreSQL database %s to ClickHouse %s database %s\n", cfg->pipe.name,
			   cat->ntables, cat->ntables == 1 ? "" : "s", cat->dbname, caps->version, cfg->dest.database);
		char rpp[96];
		if (cfg->pipe.snapshot.rows_per_partition > 0)
			snprintf(rpp, sizeof rpp, "%ld rows per partition", cfg->pipe.snapshot.rows_per_partition);
		else
			snprintf(rpp, sizeof rpp, "rows per partition: a table's rows / workers, within %d..%d",
				 PLAN_AUTO_MIN_ROWS, PLAN_AUTO_MAX_ROWS);
		buf_printf(&out, "slot %s, publication %s; snapshot: %d workers, %d tables in parallel, %s\n",
			   cfg->pipe.slot, cfg->pipe.publication, cfg->pipe.snapshot.workers,
			   cfg->pipe.snapshot.tables_in_parallel, rpp);
	}
	for (int ti = 0; ti < cat->ntables; ti++) {
		const Table *t = &cat->tables[ti];
		Buf ddl;
		buf_init(&ddl);
		plan_create_table(t, cfg, caps, &ddl);
		if (json) {
			buf_puts(&out, ti ? ", {" : "{");
			buf_puts(&out, "\"source\": ");
			buf_json_string(&out, t->display);
			buf_puts(&out, ", \"target\": ");
			buf_json_string(&out, t->target);
			buf_printf(&out, ", \"estimated_rows\": %lld, \"initial_load\": %s, \"ddl\": ", (long long)t->est_rows,
				   plan_copies(t, cfg) ? "true" : "false");
			buf_json_string(&out, ddl.data);
			buf_puts(&out, ", \"columns\": [");
			for (int i = 0; i < t->ncols; i++) {
				Buf chn;
				buf_init(&chn);
				types_ch_name(&t->cols[i].ch, &chn);
				buf_puts(&out, i ? ", {\"name\": " : "{\"name\": ");
				buf_json_string(&out, t->cols[i].name);
				buf_puts(&out, ", \"clickhouse_name\": ");
				buf_json_string(&out, t->cols[i].ch_name);
				buf_puts(&out, ", \"postgres_type\": ");
				buf_json_string(&out, t->cols[i].type_name);
				buf_puts(&out, ", \"clickhouse_type\": ");
				buf_json_string(&out, chn.data);
				buf_printf(&out, ", \"transfer\": \"%s\"}", t->cols[i].binary ? "binary" : "text");
				buf_free(&chn);
			}
			buf_puts(&out, "], \"partitions\": [");
			bool first = true;
			for (int i = 0; i < plan->nparts && plan_copies(t, cfg); i++) {
				const Partition *p = &plan->parts[i];
				if (p->table != ti)
					continue;
				Buf w;
				buf_init(&w);
				plan_where(p, &w);
				buf_printf(&out, "%s{\"number\": %d, \"relation\": ", first ? "" : ", ", p->number);
				buf_json_string(&out, t->leaves[p->leaf].qualified);
				buf_printf(&out, ", \"start_page\": %u, \"end_page\": %u, \"estimated_rows\": %lld}", p->start, p->end,
					   (long long)p->est_rows);
				buf_free(&w);
				first = false;
			}
			buf_puts(&out, "], \"after\": [");
			for (int k = 0; k < t->nafter; k++) {
				buf_puts(&out, k ? ", " : "");
				buf_json_string(&out, t->after[k]);
			}
			buf_puts(&out, "], \"notes\": [");
			print_notes(t, &out, true);
			buf_puts(&out, "]}");
		} else {
			if (plan_copies(t, cfg))
				buf_printf(&out, "\n%s -> %s.%s (~%lld rows, %d partition%s", t->display, cfg->dest.database,
					   t->target, (long long)t->est_rows, count_parts(plan, ti), count_parts(plan, ti) == 1 ? "" : "s");
			else
				buf_printf(&out, "\n%s -> %s.%s (~%lld rows, not copied", t->display, cfg->dest.database, t->target,
					   (long long)t->est_rows);
			if (t->relkind == 'p')
				buf_printf(&out, " over %d leaf partition%s", t->nleaves, t->nleaves == 1 ? "" : "s");
			buf_puts(&out, ")\n");
			buf_printf(&out, "%s\n", ddl.data);
			if (!plan_copies(t, cfg))
				buf_puts(&out, "  no initial copy (initial_load = false): only changes from now on are streamed\n");
			for (int i = 0; i < plan->nparts && plan_copies(t, cfg); i++) {
				const Partition *p = &plan->parts[i];
				if (p->table != ti)
					continue;
				Buf w;
				buf_init(&w);
				plan_where(p, &w);
				buf_printf(&out, "  partition %d: %s%s (~%lld rows)\n", p->number, t->leaves[p->leaf].qualified,
					   w.len ? w.data : " (all)", (long long)p->est_rows);
				buf_free(&w);
			}
			for (int k = 0; k < t->nafter; k++)
				buf_printf(&out, "  after: %s\n", t->after[k]);
			print_notes(t, &out, false);
		}
		buf_free(&ddl);
	}
	if (json)
		buf_puts(&out, "]}\n");
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
}
