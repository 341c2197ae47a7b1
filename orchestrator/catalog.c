/*
 * catalog — table discovery and the checks of ARCHITECTURE.md, "Consistency" and "ClickHouse tables"; see catalog.h.
 *
 * Layout: selection (patterns against pg_class), columns (read in catalog_columns.c, checked
 * against the config here), keys, per-table decisions (key, ORDER BY, PARTITION BY),
 * privileges, leaves and row estimates, then the public entry points.
 */
#include "catalog.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hooks.h"
#include <lauxlib.h>
#include "log.h"
#include "pg.h"
#include "rowfilter.h"

/* ---------------------------------------------------------------- selection */

typedef struct Candidate {
	uint32_t oid;
	char *schema, *name, *display;
	char *root; /* for a partition: its partitioned root table, "schema.name" */
	char relkind, replident;
	bool is_partition;
} Candidate;

static bool rule_matches(const TableRule *r, const char *display)
{
	return r->wildcard ? config_glob_match(r->pattern, display) : strcmp(r->pattern, display) == 0;
}

/* The rule that selects a table, or NULL if it is not selected. */
static const TableRule *select_rule(const Config *cfg, const char *display)
{
	const TableRule *exact = NULL, *pattern = NULL;
	bool excluded = false;
	for (int i = 0; i < cfg->n_rules; i++) {
		const TableRule *r = &cfg->rules[i];
		if (!rule_matches(r, display))
			continue;
		if (r->excluded)
			excluded = true;
		else if (!r->wildcard)
			exact = r;
		else if (!pattern)
			pattern = r;
	}
	if (exact)
		return exact;
	return excluded ? NULL : pattern;
}

static const char *closest_table(Candidate *cands, int n, const char *name)
{
	const char *best = NULL;
	int bestd = 4;
	for (int i = 0; i < n; i++) {
		if (cands[i].is_partition)
			continue; /* never suggest what would be refused */
		int d = config_edit_distance(name, cands[i].display);
		if (d < bestd) {
			bestd = d;
			best = cands[i].display;
		}
	}
	return best;
}


/* ---------------------------------------------------------------- helpers */

static int column_index(const Table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

/* The column ClickHouse knows by name (its ch_name), -1 if none. */
static int ch_column_index(const Table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].ch_name, name) == 0)
			return i;
	return -1;
}

static bool in_list(const int *list, int n, int v)
{
	for (int i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}

static void cols_list(const Table *t, const int *idx, int n, Buf *out)
{
	for (int i = 0; i < n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", t->cols[idx[i]].name);
}

/* The config line of the rule that selected a table (0: none), for messages. */
static int rule_line(const TableRule *r)
{
	return r ? r->line : 0;
}


static bool load_columns(PGconn *conn, const Config *cfg, const ChCaps *caps, Table *t, bool *ok)
{
	if (!catalog_read_columns(conn, cfg, caps, t, &t->cols, &t->ncols, ok))
		return false;
	for (int i = 0; i < t->ncols; i++)
		t->has_generated = t->has_generated || t->cols[i].generated == 's';
	return true;
}


/* exclude_columns, order_by, types and columns must name existing columns (checked against
 * the full list). */
static bool check_column_names(PGconn *conn, const Config *cfg, Table *t)
{
	const TableRule *r = t->rule;
	if (!r || (r->n_exclude_columns == 0 && r->n_types == 0 && r->n_order_by == 0 && r->n_renames == 0))
		return true;
	char oidbuf[16];
	snprintf(oidbuf, sizeof oidbuf, "%u", t->oid);
	const char *params[1] = {oidbuf};
	PGresult *res = pg_query_params(conn,
					"SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
					"AND NOT attisdropped",
					1, params);
	if (!res)
		return false;
	bool ok = true;
	struct {
		char **names;
		int n;
		const char *what;
	} lists[2] = {{r->exclude_columns, r->n_exclude_columns, "exclude_columns"}, {r->order_by, r->n_order_by, "order_by"}};
	for (int l = 0; l < 2; l++)
		for (int k = 0; k < lists[l].n; k++) {
			bool found = false;
			for (int i = 0; i < PQntuples(res); i++)
				if (strcmp(PQgetvalue(res, i, 0), lists[l].names[k]) == 0)
					found = true;
			const char *from = config_renamed_from(r, lists[l].names[k]);
			if (!found) {
				int line = config_line_of_string(cfg, lists[l].names[k]);
				config_error_at(cfg, line ? line : r->line, "%s: %s names column \"%s\", which %s does not have%s%s%s",
						t->display, lists[l].what, lists[l].names[k], t->display,
						from ? " (a table entry names source columns: write " : "", from ? from : "",
						from ? ", whose ClickHouse name it is)" : "");
				ok = false;
			}
		}
	ok = catalog_check_renames(cfg, t, res) && ok;
	for (int k = 0; k < r->n_types; k++) {
		bool found = false;
		for (int i = 0; i < PQntuples(res); i++)
			if (strcmp(PQgetvalue(res, i, 0), r->types[k].key) == 0)
				found = true;
		if (!found) {
			int line = config_line_of_string(cfg, r->types[k].val);
			const char *from = config_renamed_from(r, r->types[k].key);
			config_error_at(cfg, line ? line : r->line, "%s: types names column \"%s\", which %s does not have%s%s%s",
					t->display, r->types[k].key, t->display,
					from ? " (a table entry names source columns: write " : "", from ? from : "",
					from ? ", whose ClickHouse name it is)" : "");
			ok = false;
		}
	}
	PQclear(res);
	return ok;
}

/* ---------------------------------------------------------------- keys */

/* attnums of the primary key and of the replica-identity index (if any). */
static bool load_keys(PGconn *conn, Table *t, int **pk, int *npk, int **ri, int *nri)
{
	char oidbuf[16];
	snprintf(oidbuf, sizeof oidbuf, "%u", t->oid);
	const char *params[1] = {oidbuf};
	PGresult *res = pg_query_params(conn,
					"SELECT indisprimary, indisreplident, array_to_string(indkey::int2[], ',') FROM pg_index "
					"WHERE indrelid = $1::oid AND (indisprimary OR indisreplident) AND indisvalid",
					1, params);
	if (!res)
		return false;
	*pk = *ri = NULL;
	*npk = *nri = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *keys = PQgetvalue(res, i, 2);
		int *list = xcalloc(strlen(keys) + 1, sizeof(int));
		int n = 0;
		for (const char *p = keys; *p;) {
			if (isdigit((unsigned char)*p)) {
				list[n++] = (int)strtol(p, (char **)&p, 10);
			} else {
				p++;
			}
		}
		if (PQgetvalue(res, i, 0)[0] == 't' && !*pk) {
			*pk = list;
			*npk = n;
			if (PQgetvalue(res, i, 1)[0] == 't') {
				*ri = xcalloc((size_t)n + 1, sizeof(int));
				memcpy(*ri, list, sizeof(int) * (size_t)n);
				*nri = n;
			}
		} else if (PQgetvalue(res, i, 1)[0] == 't' && !*ri) {
			*ri = list;
			*nri = n;
		} else {
			free(list);
		}
	}
	PQclear(res);
	return true;
}

/* Map attnums to column indexes; false if a key column is excluded. */
static bool attnums_to_cols(const Table *t, const int *att, int n, int **out)
{
	*out = xcalloc((size_t)n + 1, sizeof(int));
	for (int i = 0; i < n; i++) {
		int found = -1;
		for (int c = 0; c < t->ncols; c++)
			if (t->cols[c].attnum == att[i])
				found = c;
		if (found < 0)
			return false;
		(*out)[i] = found;
	}
	return true;
}

static bool check_order(const Config *cfg, Table *t);

/* pgch's progress table must not share a name with what it replicates (its own columns are
 * catalog_check_ch_names's). */
static bool check_pgch_names(const Config *cfg, const Table *t)
{
	int line = t->rule ? t->rule->line : 0;
	if (strcmp(t->target, cfg->dest.state_table) == 0) {
		config_error_at(cfg, line,
				"%s would be written to ClickHouse table %s, which is pgch's progress table: set target, "
				"or destination.state_table",
				t->display, t->target);
		return false;
	}
	return true;
}

/*
 * Decide the dedup key and ORDER BY (ARCHITECTURE.md, "ClickHouse tables"). A table may be published only with a
 * usable replica identity; the key is the replica-identity columns; ORDER BY contains it.
 */
static bool decide_keys(PGconn *conn, const Config *cfg, Table *t)
{
	int *pk, *ri, npk, nri;
	if (!load_keys(conn, t, &pk, &npk, &ri, &nri))
		return false;
	const TableRule *r = t->rule;
	bool ok = true;
	int *att = NULL, natt = 0;
	switch (t->replident) {
	case 'd': att = pk; natt = npk; break;
	case 'i': att = ri; natt = nri; break;
	case 'f': att = pk; natt = npk; break;
	default: break;
	}
	if (t->replident == 'n' || ((t->replident == 'd' || t->replident == 'i') && natt == 0)) {
		const char *why = t->replident == 'n' ? "has REPLICA IDENTITY NOTHING"
			       : t->replident == 'i' ? "has REPLICA IDENTITY USING INDEX on an index that no longer exists"
						     : "has no primary key";
		if (npk > 0) /* it has a primary key: identity DEFAULT is the fix */
			config_error_at(cfg, r ? r->line : 0,
					"%s %s: publishing it would make its UPDATEs and DELETEs fail on the source. Fix: "
					"ALTER TABLE %s REPLICA IDENTITY DEFAULT (its primary key becomes the identity), or "
					"exclude it",
					t->display, why, t->qualified);
		else
			config_error_at(cfg, r ? r->line : 0,
					"%s %s: publishing it would make its UPDATEs and DELETEs fail on the source. Fix: add "
					"a primary key (ALTER TABLE %s ADD PRIMARY KEY (...)), or ALTER TABLE %s REPLICA "
					"IDENTITY FULL and set order_by for it in the config, or exclude it",
					t->display, why, t->qualified, t->qualified);
		ok = false;
		goto out;
	}
	if (natt > 0) {
		if (!attnums_to_cols(t, att, natt, &t->key)) {
			int line = r ? config_key_line(cfg, r->line, "exclude_columns") : 0;
			config_error_at(cfg, line ? line : rule_line(r),
					"%s: a replica identity column is in exclude_columns; it is needed to apply updates "
					"and deletes (and PostgreSQL refuses UPDATE and DELETE on a table whose published "
					"columns leave one out): keep it",
					t->display);
			ok = false;
			goto out;
		}
		t->nkey = natt;
	}
	/* ORDER BY: configured, or the key */
	if (r && r->n_order_by > 0) {
		t->order = xcalloc((size_t)r->n_order_by + 1, sizeof(int));
		for (int i = 0; i < r->n_order_by; i++) {
			int c = column_index(t, r->order_by[i]);
			if (c < 0) {
				config_error_at(cfg, rule_line(r),
						"%s: order_by column \"%s\" is excluded or does not exist", t->display, r->order_by[i]);
				ok = false;
				goto out;
			}
			t->order[t->norder++] = c;
		}
		if (t->nkey == 0) {
			/* REPLICA IDENTITY FULL without a primary key: the configured columns are the key */
			t->key = xcalloc((size_t)t->norder + 1, sizeof(int));
			memcpy(t->key, t->order, sizeof(int) * (size_t)t->norder);
			t->nkey = t->norder;
		}
	} else if (t->nkey > 0) {
		t->order = xcalloc((size_t)t->nkey + 1, sizeof(int));
		memcpy(t->order, t->key, sizeof(int) * (size_t)t->nkey);
		t->norder = t->nkey;
	} else {
		config_error_at(cfg, r ? r->line : 0,
				"%s has REPLICA IDENTITY FULL but no primary key: set order_by = { ... } to columns that are "
				"unique and NOT NULL, or add a primary key",
				t->display);
		ok = false;
		goto out;
	}
	ok = check_order(cfg, t);
out:
	free(pk);
	free(ri);
	return ok;
}

/* The ORDER BY rules of ARCHITECTURE.md, "ClickHouse tables" (also after a hook changed order_by). */
static bool check_order(const Config *cfg, Table *t)
{
	const TableRule *r = t->rule;
	bool ok = true;
	for (int i = 0; i < t->nkey; i++) {
		if (!in_list(t->order, t->norder, t->key[i])) {
			Buf k;
			buf_init(&k);
			cols_list(t, t->key, t->nkey, &k);
			config_error_at(cfg, rule_line(r),
					"%s: order_by must contain the key columns (%s): ClickHouse deduplicates rows with equal "
					"ORDER BY, and deletes carry only the key",
					t->display, k.data);
			buf_free(&k);
			return false;
		}
	}
	for (int i = 0; i < t->norder; i++) {
		Column *c = &t->cols[t->order[i]];
		if (!in_list(t->key, t->nkey, t->order[i]) && t->replident != 'f') {
			config_error_at(cfg, rule_line(r),
					"%s: order_by column \"%s\" is not part of the key, so an UPDATE that changes it "
					"cannot find the old row; run ALTER TABLE %s REPLICA IDENTITY FULL (the old row is "
					"then sent with each change) or leave it out of order_by",
					t->display, c->name, t->qualified);
			ok = false;
		}
		if (!c->notnull) {
			config_error_at(cfg, rule_line(r),
					"%s: column \"%s\" can be NULL, and ClickHouse sorting keys cannot be Nullable: add "
					"NOT NULL to it or leave it out of order_by",
					t->display, c->name);
			ok = false;
		}
		if (c->ch.array) {
			config_error_at(cfg, rule_line(r), "%s: array column \"%s\" cannot be in ORDER BY",
					t->display, c->name);
			ok = false;
		}
		c->ch.nullable = false;
	}
	return ok;
}

/* PARTITION BY may only use ORDER BY columns (merges never cross partitions; deletes must
 * land in the partition of the row they delete). */
static bool check_partition_by(const Config *cfg, Table *t)
{
	if (!t->partition_by)
		return true;
	const char *p = t->partition_by;
	bool ok = true;
	while (*p) {
		if (*p == '\'') { /* skip string literals */
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
			continue;
		}
		if (isalpha((unsigned char)*p) || *p == '_' || *p == '`' || *p == '"') {
			char q = (*p == '`' || *p == '"') ? *p++ : 0;
			const char *s = p;
			while (*p && (q ? *p != q : (isalnum((unsigned char)*p) || *p == '_')))
				p++;
			char *id = xstrndup(s, (size_t)(p - s));
			if (q && *p)
				p++;
			const char *after = p;
			while (*after == ' ')
				after++;
			int c = ch_column_index(t, id), src = column_index(t, id);
			if (c < 0 && src >= 0 && *after != '(') {
				/* a source name that is renamed: ClickHouse would not know it */
				config_error_at(cfg, config_line_of_string(cfg, t->partition_by),
						"%s: partition_by uses column \"%s\", which is named \"%s\" in ClickHouse "
						"(columns = { ... }): partition_by is a ClickHouse expression, write \"%s\"",
						t->display, id, t->cols[src].ch_name, t->cols[src].ch_name);
				ok = false;
			} else if (c >= 0 && *after != '(' && !in_list(t->order, t->norder, c)) {
				config_error_at(cfg, config_line_of_string(cfg, t->partition_by),
						"%s: partition_by uses column \"%s\", which is not in ORDER BY; a delete carries only "
						"the ORDER BY columns and must land in the same partition as the row",
						t->display, id);
				ok = false;
			}
			free(id);
			continue;
		}
		p++;
	}
	return ok;
}

/* ---------------------------------------------------------------- privileges */

/* The snapshot reads the table (FROM ONLY each leaf): the user needs SELECT on all of them.
 * Checked before anything reads rows, so a missing grant is one message with its fix. */
static bool check_select(PGconn *conn, Table *t, bool *ok)
{
	char oidbuf[16];
	snprintf(oidbuf, sizeof oidbuf, "%u", t->oid);
	const char *params[1] = {oidbuf};
	PGresult *res = pg_query_params(conn,
					t->relkind == 'p'
						? "SELECT format('%I.%I', n.nspname, c.relname), quote_ident(current_user) FROM pg_class c "
						  "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE (c.oid = $1::oid OR c.oid IN (SELECT "
						  "relid FROM pg_partition_tree($1::oid) WHERE isleaf)) AND NOT has_table_privilege(c.oid, "
						  "'SELECT') ORDER BY c.oid <> $1::oid, 1"
						: "SELECT format('%I.%I', n.nspname, c.relname), quote_ident(current_user) FROM pg_class c "
						  "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid AND NOT "
						  "has_table_privilege(c.oid, 'SELECT')",
					1, params);
	if (!res)
		return false;
	if (PQntuples(res) > 0) {
		Buf list;
		buf_init(&list);
		for (int i = 0; i < PQntuples(res); i++)
			buf_printf(&list, "%s%s", i ? ", " : "", PQgetvalue(res, i, 0));
		log_error("%s cannot SELECT from %s%s (the snapshot reads it with COPY). Fix: GRANT SELECT ON %s TO %s",
			  PQgetvalue(res, 0, 1), t->display, t->relkind == 'p' ? " or its partitions" : "", list.data,
			  PQgetvalue(res, 0, 1));
		buf_free(&list);
		*ok = false;
	}
	PQclear(res);
	return true;
}

/* ---------------------------------------------------------------- leaves and sizes */

static bool load_leaves(PGconn *conn, Table *t)
{
	char oidbuf[16];
	snprintf(oidbuf, sizeof oidbuf, "%u", t->oid);
	const char *params[1] = {oidbuf};
	const char *sql =
		t->relkind == 'p'
			? "SELECT c.oid, n.nspname, c.relname, pg_relation_size(c.oid) / current_setting('block_size')::int, "
			  "c.reltuples FROM pg_partition_tree($1::oid) p JOIN pg_class c ON c.oid = p.relid "
			  "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.isleaf AND c.relkind = 'r' "
			  "ORDER BY n.nspname, c.relname"
			: "SELECT c.oid, n.nspname, c.relname, pg_relation_size(c.oid) / current_setting('block_size')::int, "
			  "c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid";
	PGresult *res = pg_query_params(conn, sql, 1, params);
	if (!res)
		return false;
	int n = PQntuples(res);
	t->leaves = xcalloc((size_t)n + 1, sizeof(Leaf));
	t->est_rows = 0;
	for (int i = 0; i < n; i++) {
		Leaf *l = &t->leaves[t->nleaves++];
		l->oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
		l->schema = xstrdup(PQgetvalue(res, i, 1));
		l->name = xstrdup(PQgetvalue(res, i, 2));
		char *qs = pg_quote_ident(conn, l->schema), *qn = pg_quote_ident(conn, l->name);
		l->qualified = xasprintf("%s.%s", qs, qn);
		free(qs);
		free(qn);
		l->pages = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		l->reltuples = strtod(PQgetvalue(res, i, 4), NULL);
	}
	PQclear(res);
	for (int i = 0; i < t->nleaves; i++) {
		Leaf *l = &t->leaves[i];
		if (l->reltuples >= 0 && !(l->reltuples == 0 && l->pages > 0)) {
			l->est_rows = (int64_t)l->reltuples;
		} else if (l->pages == 0) {
			l->est_rows = 0;
		} else {
			/* never analysed: count small tables, sample big ones (about 1000 pages) */
			char *sql2;
			double pct = 100.0;
			if (l->pages <= 2000) {
				sql2 = xasprintf("SELECT count(*) FROM ONLY %s", l->qualified);
			} else {
				pct = 100.0 * 1000.0 / (double)l->pages;
				sql2 = xasprintf("SELECT count(*) FROM ONLY %s TABLESAMPLE SYSTEM (%.6f) REPEATABLE (42)",
						 l->qualified, pct);
			}
			PGresult *r2 = pg_query(conn, sql2);
			free(sql2);
			if (!r2)
				return false;
			l->est_rows = (int64_t)llround(strtod(PQgetvalue(r2, 0, 0), NULL) * 100.0 / pct);
			PQclear(r2);
			log_debug("%s was never analysed: estimated %lld rows", l->qualified, (long long)l->est_rows);
		}
		t->est_rows += l->est_rows;
	}
	return true;
}

/* ---------------------------------------------------------------- public */

static char *default_target(const char *schema, const char *name)
{
	return strcmp(schema, "public") == 0 ? xstrdup(name) : xasprintf("%s_%s", schema, name);
}

bool catalog_discover(PGconn *conn, const Config *cfg, const ChCaps *caps, Catalog *cat)
{
	memset(cat, 0, sizeof *cat);
	cat->server_version = PQserverVersion(conn);
	cat->dbname = xstrdup(PQdb(conn));
	PGresult *res = pg_query(conn,
				 "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident, c.relispartition, "
				 "(SELECT rn.nspname || '.' || r.relname FROM pg_class r JOIN pg_namespace rn "
				 "ON rn.oid = r.relnamespace WHERE c.relispartition AND r.oid = pg_partition_root(c.oid)) "
				 "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
				 "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
				 "AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp' "
				 "ORDER BY n.nspname, c.relname");
	if (!res)
		return false;
	int n = PQntuples(res);
	Candidate *cands = xcalloc((size_t)n + 1, sizeof *cands);
	for (int i = 0; i < n; i++) {
		Candidate *c = &cands[i];
		c->oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
		c->schema = xstrdup(PQgetvalue(res, i, 1));
		c->name = xstrdup(PQgetvalue(res, i, 2));
		c->display = xasprintf("%s.%s", c->schema, c->name);
		c->relkind = PQgetvalue(res, i, 3)[0];
		c->replident = PQgetvalue(res, i, 4)[0];
		c->is_partition = PQgetvalue(res, i, 5)[0] == 't';
		c->root = xstrdup(PQgetvalue(res, i, 6));
	}
	PQclear(res);

	bool ok = true;
	/* every include rule must match something; exact names must be root tables */
	for (int r = 0; r < cfg->n_rules; r++) {
		TableRule *rule = &cfg->rules[r];
		rule->matches = 0;
		const Candidate *leaf = NULL;
		for (int i = 0; i < n; i++) {
			if (!rule_matches(rule, cands[i].display))
				continue;
			if (cands[i].is_partition) {
				if (!rule->wildcard && !rule->excluded) {
					config_error_at(cfg, rule->line,
							"%s is a partition of partitioned table %s: select %s instead; its "
							"partitions are copied with it",
							rule->pattern, cands[i].root, cands[i].root);
					ok = false;
				}
				if (!leaf)
					leaf = &cands[i];
				continue;
			}
			rule->matches++;
		}
		if (rule->matches == 0 && leaf && !rule->excluded && ok) {
			/* patterns select root tables: one that only names partitions selects nothing */
			config_error_at(cfg, rule->line,
					"\"%s\" matches only partitions of partitioned tables (such as %s, a partition of %s): "
					"select %s instead; its partitions are copied with it",
					rule->pattern, leaf->display, leaf->root, leaf->root);
			ok = false;
		} else if (rule->matches == 0 && ok) {
			const char *hint = closest_table(cands, n, rule->pattern);
			if (rule->excluded && leaf) {
				log_warn("%s:%d: tables.exclude \"%s\" names partitions (such as %s of %s): a partitioned table is "
					 "copied whole; exclude %s, or leave this out",
					 cfg->path, rule->line, rule->pattern, leaf->display, leaf->root, leaf->root);
			} else if (rule->excluded) {
				log_warn("%s:%d: tables.exclude \"%s\" matches no table", cfg->path, rule->line, rule->pattern);
			} else {
				config_error_at(cfg, rule->line, "\"%s\" matches no table in database %s%s%s%s", rule->pattern,
						cat->dbname, hint ? " (did you mean " : "", hint ? hint : "", hint ? "?)" : "");
				ok = false;
			}
		}
	}
	for (int i = 0; i < n && ok; i++) {
		if (cands[i].is_partition)
			continue;
		const TableRule *rule = select_rule(cfg, cands[i].display);
		if (!rule)
			continue;
		cat->tables = xrealloc(cat->tables, sizeof(Table) * (size_t)(cat->ntables + 1));
		Table *t = &cat->tables[cat->ntables++];
		memset(t, 0, sizeof *t);
		t->oid = cands[i].oid;
		t->schema = xstrdup(cands[i].schema);
		t->name = xstrdup(cands[i].name);
		t->display = xstrdup(cands[i].display);
		char *qs = pg_quote_ident(conn, t->schema), *qn = pg_quote_ident(conn, t->name);
		t->qualified = xasprintf("%s.%s", qs, qn);
		free(qs);
		free(qn);
		t->relkind = cands[i].relkind;
		t->replident = cands[i].replident;
		t->rule = rule;
		t->refused = true; /* until its checks pass */
		t->target = rule->target ? xstrdup(rule->target) : default_target(t->schema, t->name);
		t->partition_by = rule->partition_by ? xstrdup(rule->partition_by) : NULL;
	}
	for (int i = 0; i < n; i++) {
		free(cands[i].schema);
		free(cands[i].name);
		free(cands[i].display);
		free(cands[i].root);
	}
	free(cands);
	if (!ok)
		return false;

	for (int i = 0; i < cat->ntables; i++) {
		Table *t = &cat->tables[i];
		bool tok, can_read = true; /* without SELECT the rest is still checked, but no rows are read */
		if (!check_select(conn, t, &can_read))
			return false;
		tok = check_column_names(conn, cfg, t);
		if (tok && !load_columns(conn, cfg, caps, t, &tok))
			return false;
		if (tok && t->ncols == 0) {
			log_error("%s: no columns left to replicate", t->display);
			tok = false;
		}
		tok = tok && catalog_check_ch_names(cfg, t, t->cols, t->ncols);
		if (tok)
			tok = decide_keys(conn, cfg, t) && check_partition_by(cfg, t);
		if (tok) {
			bool failed;
			tok = rowfilter_check(conn, cfg, cat->server_version, t, &failed);
			if (failed)
				return false;
		}
		if (tok && cfg->hook_on_table != LUA_NOREF)
			tok = hooks_on_table(cfg, caps, t) && check_order(cfg, t) && check_partition_by(cfg, t);
		if (tok) /* after the hook, which may change the target */
			tok = check_pgch_names(cfg, t);
		if (tok && can_read && !load_leaves(conn, t))
			return false;
		t->unreadable = tok && !can_read;
		tok = tok && can_read;
		for (int j = 0; j < i; j++)
			if (strcmp(cat->tables[j].target, t->target) == 0) {
				config_error_at(cfg, t->rule ? t->rule->line : 0,
						"%s and %s would both be written to ClickHouse table %s: set target for one of them",
						cat->tables[j].display, t->display, t->target);
				tok = false;
			}
		t->refused = !tok;
		ok = ok && tok;
	}
	return ok;
}

static void free_table(Table *t)
{
	catalog_free_columns(t->cols, t->ncols);
	free(t->key);
	free(t->order);
	for (int i = 0; i < t->nleaves; i++) {
		free(t->leaves[i].schema);
		free(t->leaves[i].name);
		free(t->leaves[i].qualified);
	}
	free(t->leaves);
	for (int i = 0; i < t->nafter; i++)
		free(t->after[i]);
	free(t->after);
	for (int i = 0; i < t->nderived; i++) {
		free(t->derived[i].name);
		free(t->derived[i].ch_type);
		free(t->derived[i].expr);
	}
	free(t->derived);
	free(t->schema);
	free(t->name);
	free(t->display);
	free(t->qualified);
	free(t->target);
	free(t->resync_target);
	free(t->partition_by);
}

void catalog_free(Catalog *cat)
{
	for (int i = 0; i < cat->ntables; i++)
		free_table(&cat->tables[i]);
	free(cat->tables);
	free(cat->dbname);
	memset(cat, 0, sizeof *cat);
}

Table *catalog_find(Catalog *cat, const char *name)
{
	for (int i = 0; i < cat->ntables; i++)
		if (strcmp(cat->tables[i].display, name) == 0 || strcmp(cat->tables[i].target, name) == 0)
			return &cat->tables[i];
	return NULL;
}
