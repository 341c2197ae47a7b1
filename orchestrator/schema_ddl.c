/*
 * schema_ddl — the schema module's side that talks to the servers: destination columns,
 * missing-value defaults from the source catalog, columns added while pgch was not
 * running; see schema.h.
 */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "log.h"
#include "pg.h"
#include "plan.h"
#include "rowfilter.h"

bool schema_ch_has_column(ChConn *ch, const Config *cfg, const Table *t, const char *name, bool *has)
{
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT count() FROM system.columns WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	buf_puts(&sql, " AND table = ");
	ch_quote_string(&sql, t->target);
	buf_puts(&sql, " AND name = ");
	ch_quote_string(&sql, name);
	bool ok = ch_query(ch, sql.data, &ans);
	*has = ok && atoi(ans.data) > 0;
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}

bool schema_missing_default(PGconn *conn, const Table *t, const Column *c, Buf *out)
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

/* The destination's column names, one per line of ans (names with a newline are refused by
 * the config and never made by pgch); the strings point into ans. */
static char **dest_columns(ChConn *ch, const Config *cfg, const Table *t, Buf *ans, int *n, bool *ok)
{
	*n = 0;
	*ok = ch_columns(ch, cfg->dest.database, t->target, ans);
	char **have = NULL;
	for (char *line = ans->data, *next; *ok && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		have = xrealloc(have, sizeof(char *) * (size_t)(*n + 1));
		have[(*n)++] = line;
	}
	return have;
}

/* Is name a column the plan has for t: a replicated one (its ClickHouse name), a derived one,
 * or one of pgch's? */
static bool planned_column(const Config *cfg, const Table *t, const char *name)
{
	bool known = strcmp(name, cfg->dest.version_column) == 0 || strcmp(name, cfg->dest.deleted_column) == 0 ||
		     strcmp(name, cfg->dest.synced_column) == 0;
	for (int c = 0; c < t->ncols && !known; c++)
		known = strcmp(t->cols[c].ch_name, name) == 0;
	for (int d = 0; d < t->nderived && !known; d++)
		known = strcmp(t->derived[d].name, name) == 0;
	return known;
}

bool schema_add_columns(ChConn *ch, PGconn *pg, const Config *cfg, const Table *t, const char **unsure)
{
	*unsure = NULL;
	Buf sql, ans, extra;
	buf_init(&sql);
	buf_init(&ans);
	buf_init(&extra);
	int nhave, added = 0;
	bool ok;
	char **have = dest_columns(ch, cfg, t, &ans, &nhave, &ok);
	for (int i = 0; i < nhave; i++)
		if (!planned_column(cfg, t, have[i]))
			buf_printf(&extra, "%s%s", extra.len ? ", " : "", have[i]);
	for (int c = 0; ok && c < t->ncols; c++) {
		bool present = false;
		for (int i = 0; i < nhave && !present; i++)
			present = strcmp(have[i], t->cols[c].ch_name) == 0;
		if (present)
			continue;
		Buf def;
		buf_init(&def);
		if (!schema_missing_default(pg, t, &t->cols[c], &def)) {
			buf_reset(&def); /* a volatile default rewrote the table: old rows hold values pgch never saw */
			*unsure = "columns were added while pgch was not running and the old rows' values are unknown";
		}
		buf_reset(&sql);
		plan_add_column_sql(t, cfg, &ch->caps, &t->cols[c], def.data, &sql);
		buf_free(&def);
		if (extra.len)
			log_info("%s.%s (%s in ClickHouse) is not in ClickHouse, which has %s instead: added at the source "
				 "while pgch was not running, or renamed there or in the config's columns: %s",
				 t->display, t->cols[c].name, t->cols[c].ch_name, extra.data, sql.data);
		else
			log_info("%s.%s was added at the source while pgch was not running: %s", t->display, t->cols[c].name,
				 sql.data);
		ok = cluster_ddl(ch, sql.data);
		added++;
	}
	/* a destination column the plan no longer has may be the old name of a renamed one (at the
	 * source, or in the config's columns = { ... }) */
	if (added && extra.len)
		*unsure = "its ClickHouse table has columns the plan does not (renamed at the source or in the config's "
			  "columns?), and the new ones have no values for the rows copied before";
	else if (added && !*unsure && rowfilter_has_column_list(t, PQserverVersion(pg)))
		*unsure = "the publication's column list (exclude_columns) left the added columns out until now, so "
			  "rows changed since they were added have no values for them";
	free(have);
	buf_free(&sql);
	buf_free(&ans);
	buf_free(&extra);
	return ok;
}

bool schema_dest_extra(ChConn *ch, const Config *cfg, const Table *t, bool *extra)
{
	Buf ans;
	buf_init(&ans);
	int nhave;
	bool ok;
	char **have = dest_columns(ch, cfg, t, &ans, &nhave, &ok);
	*extra = false;
	for (int i = 0; ok && i < nhave && !*extra; i++)
		*extra = !planned_column(cfg, t, have[i]);
	if (*extra)
		log_info("%s: its ClickHouse table has columns the plan does not have (dropped or renamed at the source, or "
			 "renamed in the config)",
			 t->display);
	free(have);
	buf_free(&ans);
	return ok;
}
