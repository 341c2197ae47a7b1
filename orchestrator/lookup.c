/*
 * lookup — missing values from ClickHouse, then the source; see lookup.h.
 */
#include "lookup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "plan.h"

/* ---------------------------------------------------------------- entries by key */

/* The entries waiting for values, by the RowBinary bytes of their key columns. */
typedef struct KeyIndex {
	Buf keys;      /* key bytes of each indexed entry, back to back */
	size_t *off;
	uint32_t *len;
	int *entry;    /* batch entry index */
	int *next;     /* next indexed entry with the same hash slot, -1: none */
	int n;
	int *slots;    /* first indexed entry + 1; 0: empty */
	size_t nslots;
} KeyIndex;

/* Index the live entries with missing values (skipping source-only ones unless `source`). */
static void index_build(KeyIndex *ix, const LookupTable *lt, bool source, RowSlice *sl)
{
	const Table *t = lt->t;
	TableBatch *b = lt->batch;
	memset(ix, 0, sizeof *ix);
	buf_init(&ix->keys);
	int cap = 0;
	for (int i = 0; i < b->n; i++)
		cap += b->entries[i].live && b->entries[i].missing;
	ix->off = xcalloc((size_t)cap + 1, sizeof(size_t));
	ix->len = xcalloc((size_t)cap + 1, sizeof(uint32_t));
	ix->entry = xcalloc((size_t)cap + 1, sizeof(int));
	ix->next = xcalloc((size_t)cap + 1, sizeof(int));
	ix->nslots = 16;
	while (ix->nslots < (size_t)cap * 2)
		ix->nslots *= 2;
	ix->slots = xcalloc(ix->nslots, sizeof(int));
	for (int i = 0; i < b->n; i++) {
		BatchEntry *e = &b->entries[i];
		if (!e->live || !e->missing || (e->source_only && !source))
			continue;
		if (!batch_row_split(batch_row(b, e), e->row_len, t->ncols, sl))
			continue;
		size_t off = ix->keys.len;
		for (int k = 0; k < t->nkey; k++)
			buf_put(&ix->keys, sl[t->key[k]].data, sl[t->key[k]].len);
		int j = ix->n++;
		ix->off[j] = off;
		ix->len[j] = (uint32_t)(ix->keys.len - off);
		ix->entry[j] = i;
		size_t s = buf_hash(ix->keys.data + off, ix->len[j]) & (ix->nslots - 1);
		ix->next[j] = ix->slots[s] - 1;
		ix->slots[s] = j + 1;
	}
}

/* First indexed entry with these key bytes at or after chain position `from` (-1: start). */
static int index_next(const KeyIndex *ix, const char *key, size_t len, int from)
{
	int j = from < 0 ? ix->slots[buf_hash(key, len) & (ix->nslots - 1)] - 1 : ix->next[from];
	for (; j >= 0; j = ix->next[j])
		if (ix->len[j] == len && memcmp(ix->keys.data + ix->off[j], key, len) == 0)
			return j;
	return -1;
}

static void index_free(KeyIndex *ix)
{
	buf_free(&ix->keys);
	free(ix->off);
	free(ix->len);
	free(ix->entry);
	free(ix->next);
	free(ix->slots);
}

/*
 * Rebuild an entry's row once with the values found (found[c].data non-NULL), in one pass
 * over its records; the old row stays in the arena until the batch is reset.
 */
static void entry_fill(const LookupTable *lt, BatchEntry *e, const RowSlice *found, Buf *scratch, RowSlice *sl)
{
	TableBatch *b = lt->batch;
	int ncols = lt->t->ncols, total = ncols + lt->t->nkey;
	if (!batch_row_split(batch_row(b, e), e->row_len, total, sl))
		return;
	buf_reset(scratch);
	bool still = false;
	for (int c = 0; c < total; c++) {
		if (c < ncols && sl[c].state == BATCH_MISSING && found[c].data) {
			batch_row_put(scratch, BATCH_VALUE, found[c].data, found[c].len);
			continue;
		}
		still = still || sl[c].state == BATCH_MISSING;
		batch_row_put(scratch, sl[c].state, sl[c].data, sl[c].len);
	}
	e->row_off = b->arena.len;
	e->row_len = (uint32_t)scratch->len;
	buf_put(&b->arena, scratch->data, scratch->len);
	e->missing = still;
}

/* ---------------------------------------------------------------- ClickHouse */

/* Can the key columns be written as simple literals in an IN list? */
static bool keys_printable(const Table *t)
{
	for (int k = 0; k < t->nkey; k++) {
		const ChType *ch = &t->cols[t->key[k]].ch;
		ChKind kd = ch->kind;
		if (ch->nullable || ch->array ||
		    !(kd == CH_INT16 || kd == CH_INT32 || kd == CH_INT64 || kd == CH_UINT32 || kd == CH_STRING || kd == CH_UUID))
			return false;
	}
	return true;
}

/* Append the key tuple of an entry as ClickHouse literals; false if one is not a plain literal. */
static bool put_key_literals(const Table *t, const RowSlice *sl, Buf *sql)
{
	buf_put_u8(sql, '(');
	for (int k = 0; k < t->nkey; k++) {
		const RowSlice *text = &sl[t->ncols + k];
		char *v = xstrndup(text->data, text->len);
		ChKind kind = t->cols[t->key[k]].ch.kind;
		if (k)
			buf_puts(sql, ", ");
		bool ok = true;
		if (kind == CH_STRING) {
			ch_quote_string(sql, v);
		} else if (kind == CH_UUID) {
			buf_puts(sql, "toUUID(");
			ch_quote_string(sql, v);
			buf_puts(sql, ")");
		} else {
			for (const char *p = v; *p && ok; p++)
				ok = (*p >= '0' && *p <= '9') || *p == '-';
			ok = ok && v[0];
			buf_puts(sql, v);
		}
		free(v);
		if (!ok)
			return false;
	}
	buf_put_u8(sql, ')');
	return true;
}

/* For unchanged TOAST values: the latest live row already written under the same key. */
static bool lookup_clickhouse(const LookupTable *lt, const Config *cfg, ChConn *ch, RowSlice *sl)
{
	const Table *t = lt->t;
	if (!keys_printable(t))
		return true;
	TableBatch *b = lt->batch;
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT ");
	for (int c = 0; c < t->ncols; c++) {
		if (c)
			buf_puts(&sql, ", ");
		ch_quote_ident(&sql, t->cols[c].ch_name);
	}
	buf_puts(&sql, " FROM ");
	plan_target(t, cfg, &sql);
	buf_puts(&sql, " FINAL WHERE ");
	ch_quote_ident(&sql, cfg->dest.deleted_column);
	buf_puts(&sql, " = 0 AND (");
	for (int k = 0; k < t->nkey; k++) {
		if (k)
			buf_puts(&sql, ", ");
		ch_quote_ident(&sql, t->cols[t->key[k]].ch_name);
	}
	buf_puts(&sql, ") IN (");
	int n = 0;
	for (int i = 0; i < b->n; i++) {
		BatchEntry *e = &b->entries[i];
		if (!e->live || !e->missing || e->source_only)
			continue;
		if (!batch_row_split(batch_row(b, e), e->row_len, t->ncols + t->nkey, sl))
			continue;
		if (n++)
			buf_puts(&sql, ", ");
		if (!put_key_literals(t, sl, &sql)) {
			buf_free(&sql); /* not a plain integer: leave it to the source lookup */
			buf_free(&ans);
			return true;
		}
	}
	buf_puts(&sql, ") FORMAT RowBinary");
	bool ok = n == 0 || ch_query(ch, sql.data, &ans);
	if (ok && n > 0) {
		KeyIndex ix;
		index_build(&ix, lt, false, sl);
		RowSlice *found = xcalloc((size_t)t->ncols + 1, sizeof(RowSlice));
		Buf key, scratch;
		buf_init(&key);
		buf_init(&scratch);
		size_t off = 0;
		while (ok && off < ans.len) {
			for (int c = 0; c < t->ncols; c++) {
				size_t used;
				if (!rowbinary_skip(&t->cols[c].ch, ans.data + off, ans.len - off, &used)) {
					log_error("%s: cannot parse ClickHouse's answer to a lookup", t->display);
					ok = false;
					break;
				}
				found[c].data = ans.data + off;
				found[c].len = (uint32_t)used;
				off += used;
			}
			if (!ok)
				break;
			buf_reset(&key);
			for (int k = 0; k < t->nkey; k++)
				buf_put(&key, found[t->key[k]].data, found[t->key[k]].len);
			for (int c = 0; c < t->ncols; c++)
				if (t->cols[c].generated == 's')
					found[c].data = NULL; /* computed at the source: ClickHouse's copy may be stale */
			for (int j = index_next(&ix, key.data, key.len, -1); j >= 0; j = index_next(&ix, key.data, key.len, j))
				entry_fill(lt, &b->entries[ix.entry[j]], found, &scratch, sl);
		}
		free(found);
		buf_free(&key);
		buf_free(&scratch);
		index_free(&ix);
	}
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}

/* ---------------------------------------------------------------- the source */

static char *source_query(const LookupTable *lt, PGconn *conn, RowSlice *sl, int *n)
{
	const Table *t = lt->t;
	TableBatch *b = lt->batch;
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "SELECT ");
	for (int k = 0; k < t->nkey; k++) {
		catalog_select_expr(t, t->key[k], &sql); /* as the converters expect it */
		buf_puts(&sql, ", ");
	}
	char *cols = catalog_select_list_except(t, lt->col_dropped); /* a dropped column is not there to select */
	buf_printf(&sql, "%s FROM %s WHERE (", cols, t->qualified);
	free(cols);
	for (int k = 0; k < t->nkey; k++) {
		char *q = pg_quote_ident(conn, t->cols[t->key[k]].name);
		buf_printf(&sql, "%s%s", k ? ", " : "", q);
		free(q);
	}
	buf_puts(&sql, ") IN (");
	*n = 0;
	for (int i = 0; i < b->n; i++) {
		BatchEntry *e = &b->entries[i];
		if (!e->live || !e->missing || !batch_row_split(batch_row(b, e), e->row_len, t->ncols + t->nkey, sl))
			continue;
		buf_puts(&sql, (*n)++ ? ", (" : "(");
		for (int k = 0; k < t->nkey; k++) {
			char *text = xstrndup(sl[t->ncols + k].data, sl[t->ncols + k].len);
			char *lit = pg_quote_literal(conn, text);
			buf_printf(&sql, "%s%s::%s", k ? ", " : "", lit, t->cols[t->key[k]].type_name);
			free(lit);
			free(text);
		}
		buf_puts(&sql, ")");
	}
	buf_puts(&sql, ")");
	return buf_steal(&sql);
}

/* Convert result row r's value of column c (field f) to RowBinary, appended to out. */
static bool source_value(const LookupTable *lt, PGresult *res, int r, int c, int f, Buf *out, bool *fatal)
{
	const Table *t = lt->t;
	char err[256];
	if (rowbinary_put(&lt->conv[c], t->cols[c].binary, PQgetvalue(res, r, f),
			  PQgetisnull(res, r, f) ? -1 : PQgetlength(res, r, f), out, err, sizeof err) == CONV_OK)
		return true;
	log_error("%s.%s: %s", t->display, t->cols[c].name, err);
	*fatal = true;
	return false;
}

/* The current values at the source, by key, in one query. */
static bool lookup_source(const LookupTable *lt, PGconn *conn, RowSlice *sl, bool *fatal)
{
	const Table *t = lt->t;
	int n;
	char *sql = source_query(lt, conn, sl, &n);
	if (n == 0) {
		free(sql);
		return true;
	}
	PGresult *res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 1);
	free(sql);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("%s: looking up values at the source failed: %s", t->display,
			  res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	KeyIndex ix;
	index_build(&ix, lt, true, sl);
	RowSlice *found = xcalloc((size_t)t->ncols + 1, sizeof(RowSlice));
	size_t *at = xcalloc((size_t)t->ncols + 1, sizeof(size_t));
	uint32_t *len = xcalloc((size_t)t->ncols + 1, sizeof(uint32_t));
	Buf key, vals, scratch;
	buf_init(&key);
	buf_init(&vals);
	buf_init(&scratch);
	bool ok = true;
	for (int r = 0; ok && r < PQntuples(res); r++) {
		buf_reset(&key);
		bool key_ok = true;
		for (int k = 0; k < t->nkey && key_ok; k++) {
			char err[256];
			int c = t->key[k];
			key_ok = rowbinary_put(&lt->conv[c], t->cols[c].binary, PQgetvalue(res, r, k),
					       PQgetisnull(res, r, k) ? -1 : PQgetlength(res, r, k), &key, err, sizeof err) == CONV_OK;
		}
		if (!key_ok)
			continue;
		int j = index_next(&ix, key.data, key.len, -1);
		if (j < 0)
			continue;
		/* each value converted once per answer row, when a matching entry lacks it */
		for (int c = 0; c < t->ncols; c++)
			at[c] = SIZE_MAX;
		buf_reset(&vals);
		for (; ok && j >= 0; j = index_next(&ix, key.data, key.len, j)) {
			BatchEntry *e = &lt->batch->entries[ix.entry[j]];
			if (!batch_row_split(batch_row(lt->batch, e), e->row_len, t->ncols, sl))
				continue;
			for (int c = 0; c < t->ncols && ok; c++) {
				if (sl[c].state != BATCH_MISSING || at[c] != SIZE_MAX)
					continue;
				at[c] = vals.len;
				ok = source_value(lt, res, r, c, t->nkey + c, &vals, fatal);
				len[c] = (uint32_t)(vals.len - at[c]);
			}
			for (int c = 0; c < t->ncols; c++) {
				found[c].data = at[c] == SIZE_MAX ? NULL : vals.data + at[c];
				found[c].len = at[c] == SIZE_MAX ? 0 : len[c];
			}
			if (ok)
				entry_fill(lt, e, found, &scratch, sl);
		}
	}
	free(found);
	free(at);
	free(len);
	buf_free(&key);
	buf_free(&vals);
	buf_free(&scratch);
	index_free(&ix);
	PQclear(res);
	return ok;
}

/* ---------------------------------------------------------------- both */

static int count_missing(const TableBatch *b)
{
	int n = 0;
	for (int i = 0; i < b->n; i++)
		n += b->entries[i].live && b->entries[i].missing;
	return n;
}

bool lookup_resolve(const LookupTable *lt, const Config *cfg, ChConn *ch, LookupSourceFn source, void *ctx,
		    bool *fatal)
{
	TableBatch *b = lt->batch;
	if (count_missing(b) == 0)
		return true;
	RowSlice *sl = xcalloc((size_t)(lt->t->ncols + lt->t->nkey) + 1, sizeof(RowSlice));
	bool ok = lookup_clickhouse(lt, cfg, ch, sl);
	if (ok && count_missing(b) > 0) {
		PGconn *conn = source(ctx);
		ok = conn && lookup_source(lt, conn, sl, fatal);
	}
	free(sl);
	if (!ok)
		return false;
	int skipped = 0;
	for (int i = 0; i < b->n; i++) {
		BatchEntry *e = &b->entries[i];
		if (e->live && e->missing) {
			e->live = false; /* found in neither: the row is gone; a later change supersedes */
			b->live--;
			skipped++;
		}
	}
	if (skipped)
		log_debug("%s: %d changed row%s no longer exist at the source; skipped", lt->t->display, skipped,
			  skipped == 1 ? "" : "s");
	return true;
}
