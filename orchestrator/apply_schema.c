/*
 * apply_schema — the applier's Relation messages: a message that maps onto the known
 * columns is remembered; one that does not means the source's columns changed, so the
 * pending rows are flushed, the columns read again and diffed (schema.c), and the diff
 * carried out in ClickHouse (ADD COLUMN, a rename where the server can; a dropped column is
 * kept and written empty), or the table marked needs_resync when it cannot be.
 */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"
#include "catalog.h"
#include "cluster.h"
#include "log.h"
#include "plan.h"
#include "schema.h"

static bool map_relation(ApplyTable *at, const PgoMsg *m)
{
	free(at->rel_to_col);
	at->rel_to_col = xcalloc((size_t)m->ncols + 1, sizeof(int));
	at->nrel = m->ncols;
	return schema_map_relation(at->t, at->col_dropped, m, at->rel_to_col, at->col_to_rel);
}

static bool run_ddl(Applier *a, const char *sql)
{
	log_info("schema change: %s", sql);
	return cluster_ddl(&a->ch, sql);
}

/* Carry out one change of a diff; *why is set when the table must be copied again instead. */
static bool carry_out(Applier *a, ApplyTable *at, const SchemaChange *ch, Column *now, bool *dropped, const char **why)
{
	Table *t = at->t;
	Buf sql;
	buf_init(&sql);
	bool ok = true;
	switch (ch->kind) {
	case SCHEMA_KEEP: t->cols[ch->col].type_oid = now[ch->now].type_oid; break;
	case SCHEMA_DROP:
		log_info("%s.%s was dropped at the source; ClickHouse keeps the column, written empty from now on", t->display,
			 t->cols[ch->col].name);
		dropped[ch->col] = true;
		break;
	case SCHEMA_RENAME: {
		Column *old = &t->cols[ch->col];
		bool has_new = strcmp(old->ch_name, now[ch->now].ch_name) == 0; /* a source rename only */
		if (!has_new && !(ok = schema_ch_has_column(&a->ch, a->cfg, t, now[ch->now].ch_name, &has_new)))
			break;
		if (!has_new) {
			plan_rename_column_sql(t, a->cfg, &a->ch.caps, old->ch_name, now[ch->now].ch_name, &sql);
			a->ch.quiet = true;
			bool renamed = run_ddl(a, sql.data);
			a->ch.quiet = false;
			if (!renamed) {
				/* 18.16 and other old servers have no RENAME COLUMN (a syntax error) */
				*why = "a column was renamed and this ClickHouse server cannot rename columns";
				break;
			}
		}
		old->type_oid = now[ch->now].type_oid;
		free(old->name);
		old->name = xstrdup(now[ch->now].name);
		free(old->ch_name);
		old->ch_name = xstrdup(now[ch->now].ch_name);
		break;
	}
	case SCHEMA_REVIVE:
		free(t->cols[ch->col].name);
		t->cols[ch->col].name = xstrdup(now[ch->now].name);
		t->cols[ch->col].attnum = now[ch->now].attnum;
		t->cols[ch->col].type_oid = now[ch->now].type_oid;
		dropped[ch->col] = false;
		break;
	case SCHEMA_ADD: {
		Column *c = &now[ch->now];
		Buf def;
		buf_init(&def);
		bool has;
		if (schema_ch_name_owner(t, dropped, c->ch_name) >= 0) {
			log_error("%s.%s was added at the source, and another column is named %s in ClickHouse (columns = { ... }): "
				  "rename one of them in the config",
				  t->display, c->name, c->ch_name);
			*why = "a column was added whose ClickHouse name another column has";
		} else if (!schema_missing_default(apply_source(a), t, c, &def)) {
			*why = "a column was added with a volatile default (the table was rewritten)";
		} else if (!(ok = schema_ch_has_column(&a->ch, a->cfg, t, c->ch_name, &has))) {
			/* the query failed (logged) */
		} else if (!has) {
			plan_add_column_sql(t, a->cfg, &a->ch.caps, c, def.data, &sql);
			if (!run_ddl(a, sql.data))
				*why = "ClickHouse refused to add its new column";
		}
		buf_free(&def);
		if (ok && !*why) {
			/* append to the known columns (indexes of key and ORDER BY columns stay valid) */
			t->cols = xrealloc(t->cols, sizeof(Column) * (size_t)(t->ncols + 1));
			t->cols[t->ncols] = *c;
			memset(c, 0, sizeof *c);
			c->attnum = -1;
			dropped[t->ncols] = false;
			t->ncols++;
		}
		break;
	}
	}
	buf_free(&sql);
	return ok;
}

/* The source's columns changed: diff them against the known ones and carry the diff out. */
static bool apply_schema_change(Applier *a, ApplyTable *at)
{
	Table *t = at->t;
	/* rows already batched were built for the old layout: send them first */
	if (!apply_flush(a))
		return false;
	PGconn *conn = apply_source(a);
	if (!conn)
		return false;
	Column *now;
	int nnow;
	bool cok = true;
	if (!catalog_read_columns(conn, a->cfg, &a->ch.caps, t, &now, &nnow, &cok) || !cok) {
		apply_mark_resync(a, at, "its new columns cannot be mapped (see above)");
		return true;
	}
	SchemaDiff d;
	schema_diff(t->cols, t->ncols, at->col_dropped, now, nnow, &d);
	bool *dropped = xcalloc((size_t)t->ncols + (size_t)nnow + 1, sizeof(bool));
	for (int c = 0; c < t->ncols; c++)
		dropped[c] = at->col_dropped ? at->col_dropped[c] : false;
	const char *why = d.resync;
	bool ok = true;
	for (int i = 0; i < d.n && ok && !why; i++)
		ok = carry_out(a, at, &d.changes[i], now, dropped, &why);
	schema_diff_free(&d);
	catalog_free_columns(now, nnow);
	if (!ok) {
		free(dropped);
		return false;
	}
	free(at->col_dropped);
	at->col_dropped = dropped;
	if (why) {
		apply_mark_resync(a, at, why);
		return true;
	}
	apply_table_columns(a, at);
	return true;
}

bool apply_relation(Applier *a, const PgoMsg *m)
{
	ApplyTable *at = apply_table_by_relid(a, m->relid);
	if (!at || at->resync)
		return true;
	log_set_table(at->t->display);
	if (map_relation(at, m)) {
		at->have_relation = true;
		return true;
	}
	if (!apply_schema_change(a, at))
		return false;
	if (at->resync)
		return true;
	if (!map_relation(at, m)) {
		/* the catalog has moved on again since this message was written (later DDL): map by
		 * name what matches; columns the message lacks are written empty until the next one */
		log_warn("%s: the source's columns changed again after this change was made; mapping by name", at->t->display);
	}
	at->have_relation = true;
	return true;
}
