/*
 * schema — relation messages and schema changes while streaming; see schema.h.
 */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "plan.h"
#include "state.h"
#include "stream_int.h"

/* Map the message's columns by name and type; true when every column is accounted for. */
static bool map_relation(StreamTable *st, const PgoMsg *m)
{
	Table *t = st->t;
	const TableRule *r = t->rule;
	free(st->rel_to_col);
	st->rel_to_col = xcalloc((size_t)m->ncols + 1, sizeof(int));
	st->nrel = m->ncols;
	for (int c = 0; c < t->ncols; c++)
		st->col_to_rel[c] = -1;
	bool complete = true;
	for (int i = 0; i < m->ncols; i++) {
		st->rel_to_col[i] = -1;
		int found = -1;
		for (int c = 0; c < t->ncols; c++)
			if (strcmp(t->cols[c].name, m->columns[i].name) == 0 && !(st->col_dropped && st->col_dropped[c]))
				found = c;
		if (found >= 0) {
			if (t->cols[found].type_oid != m->columns[i].type_oid)
				complete = false;
			st->rel_to_col[i] = found;
			st->col_to_rel[found] = i;
			continue;
		}
		bool excluded = false;
		for (int k = 0; r && k < r->n_exclude_columns; k++)
			excluded = excluded || strcmp(r->exclude_columns[k], m->columns[i].name) == 0;
		if (!excluded)
			complete = false; /* a column pgch does not know */
	}
	for (int c = 0; c < t->ncols; c++)
		if (st->col_to_rel[c] < 0 && t->cols[c].generated != 's' && !(st->col_dropped && st->col_dropped[c]))
			complete = false; /* a known column the message lacks */
	return complete;
}

static bool ch_has_column(Stream *s, const Table *t, const char *name, bool *has)
{
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT count() FROM system.columns WHERE database = ");
	ch_quote_string(&sql, s->cfg->dest.database);
	buf_puts(&sql, " AND table = ");
	ch_quote_string(&sql, t->target);
	buf_puts(&sql, " AND name = ");
	ch_quote_string(&sql, name);
	bool ok = ch_query(&s->ch, sql.data, &ans);
	*has = ok && atoi(ans.data) > 0;
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}

/* The ClickHouse DEFAULT for a column added with a constant default: old rows read it. */
static bool missing_default(PGconn *conn, const Table *t, const Column *c, Buf *out)
{
	if (!conn)
		return false;
	char oid[16], att[16];
	snprintf(oid, sizeof oid, "%u", t->oid);
	snprintf(att, sizeof att, "%d", c->attnum);
	const char *params[2] = {oid, att};
	char *sql = xasprintf("SELECT a.atthasmissing, CASE WHEN a.atthasmissing THEN "
			      "(a.attmissingval::text::%s[])[1]::text END, "
			      "EXISTS (SELECT 1 FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) "
			      "FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum = $2::int",
			      c->type_name);
	PGresult *res = pg_query_params(conn, sql, 2, params);
	free(sql);
	if (!res)
		return false;
	bool ok = true;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't' && !PQgetisnull(res, 0, 1)) {
		const char *v = PQgetvalue(res, 0, 1);
		Buf type;
		buf_init(&type);
		types_ch_name(&c->ch, &type);
		buf_puts(out, " DEFAULT ");
		if (c->kind == PG_BOOL)
			buf_printf(out, "CAST(%d AS %s)", v[0] == 't', type.data);
		else if (c->ch.kind == CH_DATETIME64 || c->ch.kind == CH_DATETIME) {
			buf_puts(out, c->ch.kind == CH_DATETIME64 ? "parseDateTime64BestEffort(" : "parseDateTimeBestEffort(");
			ch_quote_string(out, v);
			buf_puts(out, c->ch.kind == CH_DATETIME64 ? ", 6, 'UTC')" : ", 'UTC')");
		} else {
			buf_puts(out, "CAST(");
			ch_quote_string(out, v);
			buf_printf(out, " AS %s)", type.data);
		}
		buf_free(&type);
	} else if (PQntuples(res) == 1 && PQgetvalue(res, 0, 2)[0] == 't') {
		/* a default without a stored missing value: the table was rewritten (volatile
		 * default), so existing rows hold values pgch never saw */
		ok = false;
	}
	PQclear(res);
	return ok;
}

static bool run_ddl(Stream *s, const char *sql)
{
	log_info("schema change: %s", sql);
	return ch_query(&s->ch, sql, NULL);
}

/* Diff the source catalog (by attnum) against the known columns and apply the change. */
static bool apply_change(Stream *s, StreamTable *st)
{
	Table *t = st->t;
	/* rows already batched were built for the old layout: send them first */
	if (!stream_flush(s))
		return false;
	PGconn *conn = stream_sql_conn(s);
	if (!conn)
		return false;
	Column *now;
	int nnow;
	bool cok = true;
	if (!catalog_read_columns(conn, s->cfg, &s->ch.caps, t, &now, &nnow, &cok) || !cok) {
		stream_mark_resync(s, st, "its new columns cannot be mapped (see above)");
		return true;
	}
	bool *dropped = xcalloc((size_t)t->ncols + (size_t)nnow + 1, sizeof(bool));
	for (int c = 0; c < t->ncols; c++)
		dropped[c] = st->col_dropped ? st->col_dropped[c] : false;
	Buf sql;
	buf_init(&sql);
	const char *why = NULL;
	/* known columns: renamed, retyped or dropped */
	for (int c = 0; c < t->ncols && !why; c++) {
		Column *old = &t->cols[c];
		Column *cur = NULL;
		for (int i = 0; i < nnow; i++)
			if (now[i].attnum == old->attnum)
				cur = &now[i];
		if (!cur) {
			if (!dropped[c])
				log_info("%s.%s was dropped at the source; ClickHouse keeps the column, written empty from now on",
					 t->display, old->name);
			dropped[c] = true;
			continue;
		}
		Buf a, b;
		buf_init(&a);
		buf_init(&b);
		types_ch_name(&old->ch, &a);
		types_ch_name(&cur->ch, &b);
		bool same_type = strcmp(a.data, b.data) == 0 && old->kind == cur->kind && old->binary == cur->binary;
		buf_free(&a);
		buf_free(&b);
		if (!same_type) {
			why = "a column changed to a type that maps differently";
			break;
		}
		old->type_oid = cur->type_oid;
		if (strcmp(old->name, cur->name) != 0) {
			bool has_new;
			if (!ch_has_column(s, t, cur->name, &has_new))
				goto fail;
			if (!has_new) {
				buf_reset(&sql);
				buf_puts(&sql, "ALTER TABLE ");
				plan_target(t, s->cfg, &sql);
				buf_puts(&sql, " RENAME COLUMN ");
				ch_quote_ident(&sql, old->name);
				buf_puts(&sql, " TO ");
				ch_quote_ident(&sql, cur->name);
				s->ch.quiet = true;
				bool renamed = run_ddl(s, sql.data);
				s->ch.quiet = false;
				if (!renamed) {
					/* 18.16 and other old servers have no RENAME COLUMN (a syntax error) */
					why = "a column was renamed and this ClickHouse server cannot rename columns";
					break;
				}
			}
			free(old->name);
			old->name = xstrdup(cur->name);
		}
	}
	/* new columns */
	for (int i = 0; i < nnow && !why; i++) {
		bool known = false;
		for (int c = 0; c < t->ncols; c++)
			known = known || t->cols[c].attnum == now[i].attnum;
		if (known)
			continue;
		/* a column dropped and added again under the same name: revive the old one */
		int revived = -1;
		for (int c = 0; c < t->ncols; c++)
			if (dropped[c] && strcmp(t->cols[c].name, now[i].name) == 0)
				revived = c;
		if (revived >= 0) {
			Buf a, b;
			buf_init(&a);
			buf_init(&b);
			types_ch_name(&t->cols[revived].ch, &a);
			types_ch_name(&now[i].ch, &b);
			bool same = strcmp(a.data, b.data) == 0;
			buf_free(&a);
			buf_free(&b);
			if (!same) {
				why = "a column was dropped and added again with another type";
				break;
			}
			t->cols[revived].attnum = now[i].attnum;
			t->cols[revived].type_oid = now[i].type_oid;
			dropped[revived] = false;
			continue;
		}
		Buf def;
		buf_init(&def);
		if (!missing_default(stream_sql_conn(s), t, &now[i], &def)) {
			buf_free(&def);
			why = "a column was added with a volatile default (the table was rewritten)";
			break;
		}
		bool has;
		if (!ch_has_column(s, t, now[i].name, &has)) {
			buf_free(&def);
			goto fail;
		}
		if (!has) {
			buf_reset(&sql);
			buf_puts(&sql, "ALTER TABLE ");
			plan_target(t, s->cfg, &sql);
			buf_puts(&sql, " ADD COLUMN ");
			ch_quote_ident(&sql, now[i].name);
			buf_put_u8(&sql, ' ');
			types_ch_name(&now[i].ch, &sql);
			buf_puts(&sql, def.data);
			if (!run_ddl(s, sql.data)) {
				buf_free(&def);
				why = "ClickHouse refused to add its new column";
				break;
			}
		}
		buf_free(&def);
		/* append to the known columns (indexes of key and ORDER BY columns stay valid) */
		t->cols = xrealloc(t->cols, sizeof(Column) * (size_t)(t->ncols + 1));
		t->cols[t->ncols] = now[i];
		memset(&now[i], 0, sizeof now[i]);
		now[i].attnum = -1;
		dropped[t->ncols] = false;
		t->ncols++;
	}
	catalog_free_columns(now, nnow);
	buf_free(&sql);
	free(st->col_dropped);
	st->col_dropped = dropped;
	if (why) {
		stream_mark_resync(s, st, why);
		return true;
	}
	stream_table_columns(s, st);
	return true;
fail:
	catalog_free_columns(now, nnow);
	buf_free(&sql);
	free(dropped);
	return false;
}

bool schema_relation(Stream *s, StreamTable *st, const PgoMsg *m)
{
	if (st->resync)
		return true;
	if (map_relation(st, m)) {
		st->have_relation = true;
		return true;
	}
	if (!apply_change(s, st))
		return false;
	if (st->resync)
		return true;
	if (!map_relation(st, m)) {
		/* the catalog has moved on again since this message was written (later DDL): map by
		 * name what matches; columns the message lacks are written empty until the next one */
		log_warn("%s: the source's columns changed again after this change was made; mapping by name", st->t->display);
	}
	st->have_relation = true;
	return true;
}

bool schema_add_columns(ChConn *ch, PGconn *pg, const Config *cfg, const Table *t, bool *unsure)
{
	*unsure = false;
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT name FROM system.columns WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	buf_puts(&sql, " AND table = ");
	ch_quote_string(&sql, t->target);
	bool ok = ch_query(ch, sql.data, &ans);
	/* the destination's column names, one per line (names with a newline are not expected) */
	int nhave = 0, extra = 0, added = 0;
	char **have = NULL;
	for (char *line = ans.data, *next; ok && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		have = xrealloc(have, sizeof(char *) * (size_t)(nhave + 1));
		have[nhave++] = line;
		bool known = strcmp(line, cfg->dest.version_column) == 0 || strcmp(line, cfg->dest.deleted_column) == 0 ||
			     strcmp(line, cfg->dest.synced_column) == 0;
		for (int c = 0; c < t->ncols && !known; c++)
			known = strcmp(t->cols[c].name, line) == 0;
		extra += !known;
	}
	for (int c = 0; ok && c < t->ncols; c++) {
		bool present = false;
		for (int i = 0; i < nhave && !present; i++)
			present = strcmp(have[i], t->cols[c].name) == 0;
		if (present)
			continue;
		Buf def;
		buf_init(&def);
		if (!missing_default(pg, t, &t->cols[c], &def)) {
			buf_reset(&def); /* a volatile default rewrote the table: old rows hold values pgch never saw */
			*unsure = true;
		}
		buf_reset(&sql);
		buf_puts(&sql, "ALTER TABLE ");
		plan_target(t, cfg, &sql);
		buf_puts(&sql, " ADD COLUMN ");
		ch_quote_ident(&sql, t->cols[c].name);
		buf_put_u8(&sql, ' ');
		types_ch_name(&t->cols[c].ch, &sql);
		buf_puts(&sql, def.data);
		buf_free(&def);
		log_info("%s.%s was added at the source while pgch was not running: %s", t->display, t->cols[c].name, sql.data);
		ok = ch_query(ch, sql.data, NULL);
		added++;
	}
	/* a destination column the source no longer has may be the old name of a renamed one */
	if (added && extra)
		*unsure = true;
	free(have);
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}
