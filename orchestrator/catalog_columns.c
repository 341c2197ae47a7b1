/*
 * catalog_columns — one table's columns: read from pg_attribute with their types resolved
 * (domains to their base type, arrays to their element) and mapped to ClickHouse types
 * (types.c) under the config's overrides and policies; read again when a table is copied
 * anew (catalog_refresh); and the column lists the snapshot SELECTs and the INSERTs name.
 * The table-level decisions (selection, keys, ORDER BY, leaves) are in catalog.c.
 */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ch.h"
#include "log.h"
#include "pg.h"
#include "rowbinary.h"
#include "rowhook.h"

/* ---------------------------------------------------------------- types */

typedef struct TypeInfo {
	uint32_t oid;
	int32_t typmod;
	char *typname;
	char typtype;
	bool array;
	char delim;
} TypeInfo;

/* Resolve domains to their base type and arrays to their (resolved) element type. */
static bool resolve_type(PGconn *conn, uint32_t oid, int32_t typmod, TypeInfo *out)
{
	memset(out, 0, sizeof *out);
	out->typmod = typmod;
	bool array = false;
	char delim = ',';
	for (int depth = 0; depth < 32; depth++) {
		char oidbuf[16];
		snprintf(oidbuf, sizeof oidbuf, "%u", oid);
		const char *params[1] = {oidbuf};
		PGresult *res = pg_query_params(conn,
						"SELECT typname, typtype, typbasetype, typtypmod, typcategory, typelem, typdelim "
						"FROM pg_type WHERE oid = $1::oid",
						1, params);
		if (!res)
			return false;
		if (PQntuples(res) != 1) {
			PQclear(res);
			log_error("type %u not found in pg_type", oid);
			return false;
		}
		char typtype = PQgetvalue(res, 0, 1)[0];
		uint32_t base = (uint32_t)strtoul(PQgetvalue(res, 0, 2), NULL, 10);
		int32_t basemod = atoi(PQgetvalue(res, 0, 3));
		char category = PQgetvalue(res, 0, 4)[0];
		uint32_t elem = (uint32_t)strtoul(PQgetvalue(res, 0, 5), NULL, 10);
		char tdelim = PQgetvalue(res, 0, 6)[0];
		if (typtype == 'd') {
			oid = base;
			if (basemod >= 0)
				out->typmod = basemod;
			PQclear(res);
			continue;
		}
		if (!array && category == 'A' && elem != 0) {
			array = true;
			oid = elem;
			PQclear(res);
			continue;
		}
		out->oid = oid;
		out->typname = xstrdup(PQgetvalue(res, 0, 0));
		out->typtype = typtype;
		if (array)
			delim = tdelim;
		PQclear(res);
		out->array = array;
		out->delim = delim;
		return true;
	}
	log_error("type %u: domain chain too deep", oid);
	return false;
}

/* ---------------------------------------------------------------- columns */

bool catalog_read_columns(PGconn *conn, const Config *cfg, const ChCaps *caps, const Table *t, Column **out, int *nout,
			  bool *ok)
{
	char oidbuf[16];
	snprintf(oidbuf, sizeof oidbuf, "%u", t->oid);
	const char *params[1] = {oidbuf};
	PGresult *res = pg_query_params(conn,
					"SELECT a.attname, a.attnum, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), "
					"a.attnotnull, a.attgenerated, a.atthasmissing, a.attndims "
					"FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
					"ORDER BY a.attnum",
					1, params);
	if (!res)
		return false;
	const TableRule *r = t->rule;
	int n = PQntuples(res);
	Column *cols = xcalloc((size_t)n + 1, sizeof(Column));
	int ncols = 0;
	*out = cols;
	*nout = 0;
	TypeOptions topt = {strcmp(cfg->dest.timestamp_fallback, "datetime") == 0,
			    strcmp(cfg->dest.numeric_unconstrained, "decimal") == 0};
	for (int i = 0; i < n; i++) {
		const char *name = PQgetvalue(res, i, 0);
		bool excluded = false;
		for (int k = 0; r && k < r->n_exclude_columns; k++)
			if (strcmp(r->exclude_columns[k], name) == 0)
				excluded = true;
		if (excluded)
			continue;
		Column *c = &cols[ncols++];
		*nout = ncols;
		c->name = xstrdup(name);
		c->ch_name = xstrdup(config_ch_name(r, name));
		c->attnum = atoi(PQgetvalue(res, i, 1));
		c->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10);
		int32_t typmod = atoi(PQgetvalue(res, i, 3));
		c->type_name = xstrdup(PQgetvalue(res, i, 4));
		c->notnull = PQgetvalue(res, i, 5)[0] == 't';
		c->generated = PQgetvalue(res, i, 6)[0];
		c->has_missing_default = PQgetvalue(res, i, 7)[0] == 't';
		int ndims = atoi(PQgetvalue(res, i, 8));
		TypeInfo ti;
		if (!resolve_type(conn, c->type_oid, typmod, &ti)) {
			PQclear(res);
			return false;
		}
		c->pg_typname = ti.typname;
		c->pg.oid = ti.oid;
		c->pg.name = c->pg_typname;
		c->pg.typtype = ti.typtype;
		c->pg.typmod = ti.typmod;
		c->pg.array = ti.array;
		c->pg.ndims = ndims;
		c->pg.notnull = c->notnull;
		c->delim = ti.delim;
		c->policy = config_unrep_policy(cfg, r, c->name);

		const char *override = NULL;
		for (int k = 0; r && k < r->n_types; k++)
			if (strcmp(r->types[k].key, c->name) == 0)
				override = r->types[k].val;
		if (override) {
			char err[256];
			ChType ch;
			if (!types_parse(override, caps, &ch, err, sizeof err)) {
				config_error_at(cfg, config_line_of_string(cfg, override), "%s.%s: types = \"%s\": %s", t->display,
						c->name, override, err);
				*ok = false;
				continue;
			}
			bool explicit_nullable = ch.nullable;
			c->kind = (ti.array == ch.array) ? types_pg_kind(&c->pg) : PG_OTHER;
			if (ch.array && !ti.array) {
				config_error_at(cfg, config_line_of_string(cfg, override),
						"%s.%s: types = \"%s\": the column (%s) is not an array", t->display, c->name,
						override, c->type_name);
				*ok = false;
				continue;
			}
			if (!ch.array && ti.array && ch.kind != CH_STRING) {
				config_error_at(cfg, config_line_of_string(cfg, override),
						"%s.%s: types = \"%s\": an array column can become Array(T) or String", t->display,
						c->name, override);
				*ok = false;
				continue;
			}
			if (!types_compatible(c->kind, &ch, err, sizeof err)) {
				config_error_at(cfg, config_line_of_string(cfg, override), "%s.%s (%s): types = \"%s\": %s",
						t->display, c->name, c->type_name, override, err);
				*ok = false;
				continue;
			}
			if (!ch.array)
				ch.nullable = explicit_nullable || !c->notnull;
			ch.text_form = ch.kind == CH_STRING && c->kind != PG_TEXT && c->kind != PG_BYTEA && c->kind != PG_JSONB;
			c->ch = ch;
			c->overridden = true;
		} else {
			types_map(&c->pg, caps, &topt, &c->ch, &c->kind);
		}
		/* "null" policy on a NOT NULL column that can hold unrepresentable values: make room. */
		if (c->policy == UNREP_NULL && !c->ch.array &&
		    (c->ch.kind == CH_DATE || c->ch.kind == CH_DATE32 || c->ch.kind == CH_DATETIME ||
		     c->ch.kind == CH_DATETIME64 || c->ch.kind == CH_DECIMAL))
			c->ch.nullable = true;
		/* a table with a row hook travels in text form, which the hook reads and writes */
		c->binary = types_binary_ok(c->kind, &c->ch) && !rowhook_enabled(cfg, t);
	}
	PQclear(res);
	return true;
}

void catalog_free_columns(Column *cols, int n)
{
	for (int i = 0; i < n; i++) {
		free(cols[i].name);
		free(cols[i].ch_name);
		free(cols[i].type_name);
		free(cols[i].pg_typname);
	}
	free(cols);
}

/* ---------------------------------------------------------------- ClickHouse names */

bool catalog_check_renames(const Config *cfg, const Table *t, PGresult *res)
{
	const TableRule *r = t->rule;
	bool ok = true;
	for (int k = 0; k < r->n_renames; k++) {
		const char *col = r->renames[k].key;
		int line = config_rename_line(cfg, r, col);
		bool found = false, excluded = false;
		for (int i = 0; i < PQntuples(res); i++)
			found = found || strcmp(PQgetvalue(res, i, 0), col) == 0;
		for (int i = 0; i < r->n_exclude_columns; i++)
			excluded = excluded || strcmp(r->exclude_columns[i], col) == 0;
		if (!found) {
			config_error_at(cfg, line,
					"%s: columns renames \"%s\", which %s does not have: name a source column (columns = { "
					"source_name = \"clickhouse_name\" })",
					t->display, col, t->display);
			ok = false;
		} else if (excluded) {
			config_error_at(cfg, line,
					"%s: columns renames \"%s\", which is in exclude_columns and so has no ClickHouse column: "
					"remove it from one of the two",
					t->display, col);
			ok = false;
		}
	}
	return ok;
}

bool catalog_check_ch_names(const Config *cfg, const Table *t, const Column *cols, int ncols)
{
	const char *mine[3] = {cfg->dest.version_column, cfg->dest.deleted_column, cfg->dest.synced_column};
	static const char *const keys[3] = {"version", "is_deleted", "synced_at"};
	const TableRule *r = t->rule;
	int line = r ? r->line : 0;
	for (int i = 0; i < ncols; i++) {
		const Column *c = &cols[i];
		bool renamed = strcmp(c->name, c->ch_name) != 0;
		for (int k = 0; k < 3; k++) {
			if (strcmp(c->ch_name, mine[k]) != 0)
				continue;
			if (renamed)
				config_error_at(cfg, config_rename_line(cfg, r, c->name),
						"%s: columns renames %s to \"%s\", which is pgch's own %s column: choose another "
						"ClickHouse name for it",
						t->display, c->name, c->ch_name, keys[k]);
			else
				config_error_at(cfg, line,
						"%s has a column named %s, which is pgch's own %s column: name that one "
						"otherwise with destination.columns = { %s = \"...\" }, rename it with the "
						"table entry's columns = { %s = \"...\" }, or exclude_columns it",
						t->display, mine[k], keys[k], keys[k], c->name);
			return false;
		}
		for (int j = 0; j < i; j++) {
			const Column *o = &cols[j];
			if (strcmp(o->ch_name, c->ch_name) != 0)
				continue;
			const char *renamed_one = renamed ? c->name : o->name;
			config_error_at(cfg, config_rename_line(cfg, r, renamed_one),
					"%s: columns %s and %s would both be named \"%s\" in ClickHouse: give one of them "
					"another name in the table entry's columns = { ... }",
					t->display, o->name, c->name, c->ch_name);
			return false;
		}
	}
	return true;
}

/* ---------------------------------------------------------------- refresh */

static int col_by_attnum(const Column *cols, int n, int attnum)
{
	for (int i = 0; i < n; i++)
		if (cols[i].attnum == attnum)
			return i;
	return -1;
}

/* The key or ORDER BY list (indexes into t->cols) as indexes into cols; false (logged) if a
 * column is gone. */
static bool remap(const Table *t, const int *idx, int n, const Column *cols, int ncols, const char *restart_hint,
		  int *out)
{
	for (int k = 0; k < n; k++) {
		out[k] = col_by_attnum(cols, ncols, t->cols[idx[k]].attnum);
		if (out[k] < 0) {
			log_error("%s: its key column %s is gone at the source; run %s", t->display, t->cols[idx[k]].name,
				  restart_hint);
			return false;
		}
	}
	return true;
}

bool catalog_refresh(PGconn *conn, const Config *cfg, const ChCaps *caps, Table *t, const char *restart_hint,
		     bool *changed)
{
	Column *cols;
	int n;
	bool mapped = true;
	if (!catalog_read_columns(conn, cfg, caps, t, &cols, &n, &mapped))
		return false;
	int *key = xcalloc((size_t)t->nkey + 1, sizeof(int)), *order = xcalloc((size_t)t->norder + 1, sizeof(int));
	bool ok = mapped;
	if (!mapped)
		log_error("%s: its columns cannot be mapped any more (see above); fix the config and run again", t->display);
	ok = ok && catalog_check_ch_names(cfg, t, cols, n);
	ok = ok && remap(t, t->key, t->nkey, cols, n, restart_hint, key) &&
	     remap(t, t->order, t->norder, cols, n, restart_hint, order);
	for (int k = 0; ok && k < t->norder; k++) { /* ORDER BY columns are never Nullable (catalog_discover) */
		Column *c = &cols[order[k]];
		if (!c->notnull) {
			log_error("%s: order_by column %s can be NULL now (ALTER TABLE ... DROP NOT NULL?), and ClickHouse "
				  "sorting keys cannot be: run ALTER TABLE %s ALTER %s SET NOT NULL, or take it out of "
				  "order_by, then start pgch again",
				  t->display, c->name, t->qualified, c->name);
			ok = false;
		}
		c->ch.nullable = false;
	}
	if (!ok) {
		catalog_free_columns(cols, n);
		free(key);
		free(order);
		return false;
	}
	*changed = n != t->ncols;
	for (int i = 0; !*changed && i < n; i++)
		*changed = strcmp(cols[i].name, t->cols[i].name) != 0 || strcmp(cols[i].ch_name, t->cols[i].ch_name) != 0 || !types_same_ch(&cols[i].ch, &t->cols[i].ch) ||
			   cols[i].kind != t->cols[i].kind || cols[i].binary != t->cols[i].binary;
	catalog_free_columns(t->cols, t->ncols);
	t->cols = cols;
	t->ncols = n;
	memcpy(t->key, key, sizeof(int) * (size_t)t->nkey);
	memcpy(t->order, order, sizeof(int) * (size_t)t->norder);
	free(key);
	free(order);
	return true;
}

/* ---------------------------------------------------------------- column lists */

static void pg_ident(Buf *b, const char *s)
{
	buf_put_u8(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			buf_put_u8(b, '"');
		buf_put_u8(b, (uint8_t)*s);
	}
	buf_put_u8(b, '"');
}

void catalog_select_expr(const Table *t, int c, Buf *b)
{
	if (t->cols[c].binary) {
		pg_ident(b, t->cols[c].name);
		return;
	}
	/* the output function's form; num_nulls keeps NULL (format() would print '') and is
	 * not fooled by a composite whose fields are all NULL */
	buf_puts(b, "CASE WHEN num_nulls(");
	pg_ident(b, t->cols[c].name);
	buf_puts(b, ") = 0 THEN format('%s', ");
	pg_ident(b, t->cols[c].name);
	buf_puts(b, ") END");
}

char *catalog_select_list(const Table *t)
{
	return catalog_select_list_except(t, NULL);
}

char *catalog_select_list_except(const Table *t, const bool *absent)
{
	Buf b;
	buf_init(&b);
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			buf_puts(&b, ", ");
		if (absent && absent[i])
			buf_puts(&b, "NULL");
		else
			catalog_select_expr(t, i, &b);
	}
	return buf_steal(&b);
}

char *catalog_insert_columns(const Table *t, const Config *cfg)
{
	Buf b;
	buf_init(&b);
	for (int i = 0; i < t->ncols; i++) {
		ch_quote_ident(&b, t->cols[i].ch_name);
		buf_puts(&b, ", ");
	}
	ch_quote_ident(&b, cfg->dest.version_column);
	buf_puts(&b, ", ");
	ch_quote_ident(&b, cfg->dest.deleted_column);
	return buf_steal(&b);
}

void catalog_conv_init(const Column *c, const ChCaps *caps, ColConv *out)
{
	rowbinary_init(out, c->kind, &c->ch, c->policy, caps);
	out->tz = c->pg.oid == OID_TIMESTAMPTZ;
	out->delim = c->delim;
}
