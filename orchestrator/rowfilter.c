/*
 * rowfilter — row filters and column lists at the source; see rowfilter.h.
 */
#include "rowfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"

bool rowfilter_version_ok(int server_version)
{
	return server_version >= ROWFILTER_MIN_VERSION;
}

bool rowfilter_refuse_version(const Table *t, int server_version, char *why, size_t whylen)
{
	if (!t->rule || !t->rule->where || rowfilter_version_ok(server_version))
		return false;
	snprintf(why, whylen,
		 "%s: where needs PostgreSQL 15 or newer, whose publications filter rows (the source is %d.%d): the "
		 "stream would carry every row. Fix: leave where out, or upgrade the source",
		 t->display, server_version / 10000, server_version % 10000);
	return true;
}

int rowfilter_outside_identity(char replident, const int *filter_att, int nfilter, const int *ident_att, int nident)
{
	if (replident == 'f')
		return 0;
	for (int i = 0; i < nfilter; i++) {
		bool in = false;
		for (int k = 0; k < nident && !in; k++)
			in = ident_att[k] == filter_att[i];
		if (!in)
			return filter_att[i];
	}
	return 0;
}

bool rowfilter_has_column_list(const Table *t, int server_version)
{
	return t->rule && t->rule->n_exclude_columns > 0 && rowfilter_version_ok(server_version);
}

void rowfilter_sql(const Table *t, bool have_where, Buf *out)
{
	if (t->rule && t->rule->where)
		buf_printf(out, " %s (%s)", have_where ? "AND" : "WHERE", t->rule->where);
}

void rowfilter_publication_table(PGconn *conn, const Table *t, int server_version, Buf *out)
{
	buf_puts(out, t->qualified);
	if (rowfilter_has_column_list(t, server_version)) {
		/* stored generated columns are never published, and a column list may not name them */
		int n = 0;
		buf_puts(out, " (");
		for (int c = 0; c < t->ncols; c++) {
			if (t->cols[c].generated)
				continue;
			char *q = pg_quote_ident(conn, t->cols[c].name);
			buf_printf(out, "%s%s", n++ ? ", " : "", q);
			free(q);
		}
		buf_puts(out, ")");
	}
	if (t->rule && t->rule->where && rowfilter_version_ok(server_version))
		buf_printf(out, " WHERE (%s)", t->rule->where);
}

/* The line to name for the filter: its own key's, else the table entry's. */
static int where_line(const Table *t)
{
	return t->rule->where_line ? t->rule->where_line : t->rule->line;
}

/*
 * The attnums (and names, for messages) of the columns the filter reads, from a temporary
 * view created in a transaction that is rolled back. *valid is false (reported) when
 * PostgreSQL rejects the filter; false is returned when a query failed.
 */
static bool filter_columns(PGconn *conn, const Config *cfg, const Table *t, PGresult **cols, bool *valid)
{
	*cols = NULL;
	*valid = true;
	if (!pg_exec(conn, "BEGIN"))
		return false;
	Buf sql;
	buf_init(&sql);
	buf_printf(&sql, "CREATE TEMPORARY VIEW pgch_filter_check AS SELECT FROM ONLY %s", t->qualified);
	rowfilter_sql(t, false, &sql);
	/* the extended protocol runs exactly one statement, whatever the filter's text holds */
	PGresult *res = PQexecParams(conn, sql.data, 0, NULL, NULL, NULL, NULL, 0);
	bool ok = true;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		config_error_at(cfg, where_line(t), "%s: where \"%s\" is not a condition PostgreSQL accepts on the table: %s",
				t->display, t->rule->where, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		*valid = false;
	} else {
		char oid[16];
		snprintf(oid, sizeof oid, "%u", t->oid);
		const char *params[1] = {oid};
		*cols = pg_query_params(conn,
					"SELECT DISTINCT d.refobjsubid, a.attname FROM pg_depend d "
					"JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid "
					"JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
					"WHERE r.ev_class = 'pg_temp.pgch_filter_check'::regclass AND d.refobjid = $1::oid "
					"AND d.refobjsubid > 0 ORDER BY 1",
					1, params);
		ok = *cols != NULL;
	}
	PQclear(res);
	buf_free(&sql);
	return pg_exec(conn, "ROLLBACK") && ok;
}

static bool check_filter(PGconn *conn, const Config *cfg, int server_version, const Table *t, bool *failed)
{
	char why[512];
	if (rowfilter_refuse_version(t, server_version, why, sizeof why)) {
		config_error_at(cfg, where_line(t), "%s", why);
		return false;
	}
	PGresult *cols;
	bool valid;
	if (!filter_columns(conn, cfg, t, &cols, &valid)) {
		*failed = true;
		PQclear(cols);
		return false;
	}
	if (!valid)
		return false;
	int n = PQntuples(cols);
	int *att = xcalloc((size_t)n + 1, sizeof(int)), *ident = xcalloc((size_t)t->nkey + 1, sizeof(int));
	for (int i = 0; i < n; i++)
		att[i] = atoi(PQgetvalue(cols, i, 0));
	for (int k = 0; k < t->nkey; k++)
		ident[k] = t->cols[t->key[k]].attnum;
	int outside = rowfilter_outside_identity(t->replident, att, n, ident, t->nkey);
	bool ok = outside == 0;
	for (int i = 0; !ok && i < n; i++)
		if (att[i] == outside) {
			Buf keys;
			buf_init(&keys);
			for (int k = 0; k < t->nkey; k++)
				buf_printf(&keys, "%s%s", k ? ", " : "", t->cols[t->key[k]].name);
			config_error_at(cfg, where_line(t),
					"%s: where reads column \"%s\", which is not in the table's replica identity (%s): "
					"PostgreSQL would refuse every UPDATE and DELETE on the table. Fix: ALTER TABLE %s "
					"REPLICA IDENTITY FULL, or filter on replica identity columns only",
					t->display, PQgetvalue(cols, i, 1), keys.data, t->qualified);
			buf_free(&keys);
		}
	free(att);
	free(ident);
	PQclear(cols);
	return ok;
}

bool rowfilter_check(PGconn *conn, const Config *cfg, int server_version, const Table *t, bool *failed)
{
	*failed = false;
	if (!t->rule)
		return true;
	bool ok = true;
	if (t->rule->where)
		ok = check_filter(conn, cfg, server_version, t, failed);
	if (rowfilter_has_column_list(t, server_version) && t->replident == 'f') {
		/* with REPLICA IDENTITY FULL every column is in the identity, and a column list that
		 * leaves one out makes PostgreSQL refuse UPDATE and DELETE on the table */
		int line = config_key_line(cfg, t->rule->line, "exclude_columns");
		config_error_at(cfg, line ? line : t->rule->line,
				"%s has REPLICA IDENTITY FULL, so every column is in its replica identity and none can "
				"be left out of the publication (exclude_columns): PostgreSQL would refuse every UPDATE and "
				"DELETE on the table. Fix: give it a primary key and ALTER TABLE %s REPLICA IDENTITY "
				"DEFAULT, or replicate every column",
				t->display, t->qualified);
		ok = false;
	}
	return ok;
}
