/*
 * apply — changes into batches, batches into ClickHouse; see apply.h.
 *
 * Layout: tables; changes into entries (rows, keys, deletes, key changes, unchanged TOAST
 * values); flushing with retries; needs_resync; truncate. Relations and schema changes are
 * apply_schema.c's.
 */
#include "apply.h"
#include "apply_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "cluster.h"
#include "log.h"
#include "native.h"
#include "pg.h"
#include "plan.h"
#include "progress.h"
#include "schema.h"
#include "state.h"

#define ROW_KEYTEXT 2 /* record state: PostgreSQL text form of a key column (after the columns) */

/* ---------------------------------------------------------------- tables */

/* (Re)build a table's converters, INSERT statement and column maps after its columns changed. */
void apply_table_columns(Applier *a, ApplyTable *at)
{
	Table *t = at->t;
	for (int i = 0; at->conv && i < at->nconv; i++)
		rowbinary_free(&at->conv[i]);
	free(at->conv);
	at->conv = xcalloc((size_t)t->ncols + 1, sizeof(ColConv));
	at->nconv = t->ncols;
	for (int i = 0; i < t->ncols; i++)
		catalog_conv_init(&t->cols[i], a->o->caps, &at->conv[i]);
	free(at->col_to_rel);
	at->col_to_rel = xcalloc((size_t)t->ncols + 1, sizeof(int));
	for (int i = 0; i < t->ncols; i++)
		at->col_to_rel[i] = -1;
	free(at->insert_sql);
	at->insert_sql = plan_insert_sql(t, a->cfg, native_chosen(a->o->caps) ? "Native" : "RowBinary");
	at->have_relation = false;
	rowhook_free(&at->hook);
	rowhook_init(&at->hook, a->cfg, t);
	/* room to split the widest row record (columns, then key texts) */
	int widest = 0;
	for (int i = 0; i < a->ntables; i++) {
		const Table *o = a->tables[i].t;
		if (o && o->ncols + o->nkey > widest)
			widest = o->ncols + o->nkey;
	}
	a->slices = xrealloc(a->slices, sizeof(RowSlice) * (size_t)(widest + 1));
	a->prev_slices = xrealloc(a->prev_slices, sizeof(RowSlice) * (size_t)(widest + 1));
}

static void table_free(ApplyTable *at)
{
	for (int i = 0; i < at->nconv; i++)
		rowbinary_free(&at->conv[i]);
	free(at->conv);
	free(at->col_to_rel);
	free(at->rel_to_col);
	free(at->col_dropped);
	free(at->insert_sql);
	rowhook_free(&at->hook);
	free(at->hooked);
	batch_free(&at->batch);
	batch_free(&at->sending);
}

ApplyTable *apply_table_by_relid(Applier *a, uint32_t relid)
{
	for (int i = 0; i < a->ntables; i++)
		if (a->tables[i].t->oid == relid)
			return &a->tables[i];
	return NULL;
}

bool apply_open(Applier *a, const ApplyOptions *o)
{
	memset(a, 0, sizeof *a);
	a->o = o;
	a->cfg = o->cfg;
	a->moved_from = -1;
	buf_init(&a->row);
	buf_init(&a->key);
	buf_init(&a->scratch);
	a->ntables = o->cat->ntables;
	a->tables = xcalloc((size_t)a->ntables + 1, sizeof(ApplyTable));
	a->binary_ok = true;
	for (int i = 0; i < a->ntables; i++) {
		ApplyTable *at = &a->tables[i];
		Table *t = &o->cat->tables[i];
		at->t = t;
		batch_init(&at->batch);
		batch_init(&at->sending);
		apply_table_columns(a, at);
		for (int c = 0; c < t->ncols; c++)
			a->binary_ok = a->binary_ok && types_binary_ok(t->cols[c].kind, &t->cols[c].ch);
		a->binary_ok = a->binary_ok && !at->hook.on; /* the hook reads and writes text forms */
	}
	if (!ch_open(&a->ch, &a->cfg->dest))
		return false;
	a->ch.caps = *o->caps;
	a->ch.probed = true;
	a->ch.compress = o->compress;
	return true;
}

void apply_close(Applier *a)
{
	apply_send_close(a);
	if (a->sql)
		PQfinish(a->sql);
	ch_close(&a->ch);
	for (int i = 0; i < a->ntables; i++)
		table_free(&a->tables[i]);
	free(a->tables);
	free(a->slices);
	free(a->prev_slices);
	buf_free(&a->row);
	buf_free(&a->key);
	buf_free(&a->scratch);
	memset(a, 0, sizeof *a);
}

PGconn *apply_source(Applier *a)
{
	if (a->sql && PQstatus(a->sql) != CONNECTION_OK) {
		PQfinish(a->sql);
		a->sql = NULL;
	}
	if (!a->sql)
		a->sql = pg_connect(a->cfg, PG_CONN_NORMAL, "stream-lookup");
	return a->sql;
}

void apply_begin(Applier *a, uint64_t version, int64_t commit_time)
{
	a->version = version;
	a->commit_unix_us = commit_time + 946684800LL * 1000000; /* PostgreSQL's epoch is 2000-01-01 */
}

/* A table's counts since its last report, to the supervisor's metrics. */
static void report_counts(Applier *a, ApplyTable *at)
{
	progress_send_counts(a->o->progress_fd, (int)(at - a->tables), at->counts);
	memset(at->counts, 0, sizeof at->counts);
}

/* ---------------------------------------------------------------- needs_resync */

/* Set a table aside until it is copied again: its state row, and the supervisor told. */
void apply_mark_resync(Applier *a, ApplyTable *at, const char *why)
{
	if (!at->resync)
		log_error("%s: %s; it is marked needs_resync and its changes are set aside until it is copied again "
			  "(pgch run does that)",
			  at->t->display, why);
	apply_settle(a); /* the state write needs the ClickHouse connection */
	at->resync = true;
	batch_reset(&at->batch);
	memset(at->counts, 0, sizeof at->counts); /* set aside, not applied */
	state_mark_needs_resync(&a->ch, a->cfg, at->t->display, at->t->target, a->version, why);
	progress_send_table(a->o->progress_fd, PROG_STREAM_RESYNC, (int)(at - a->tables), a->version);
}

/* ---------------------------------------------------------------- changes into entries */

/* Is catalog column c one of the table's ORDER BY (sorting key) columns? */
static bool in_order(const Table *t, int c)
{
	for (int k = 0; k < t->norder; k++)
		if (t->order[k] == c)
			return true;
	return false;
}

/* Encode one pgoutput value of catalog column c as a row record. */
static bool put_value(Applier *a, ApplyTable *at, int c, const PgoValue *v, Buf *row)
{
	Table *t = at->t;
	ColConv *conv = &at->conv[c];
	size_t head = row->len;
	buf_reserve(row, 5 + (v->kind == 'n' ? 0 : (size_t)v->len) + 16);
	row->data[head] = BATCH_VALUE;
	row->len = head + 5; /* the length is patched in below */
	size_t start = row->len;
	uint64_t unrep_before = conv->unrep_count;
	if (v->kind == 'b' && conv->fast) { /* the commonest case, without the general path's dispatch */
		if (conv->ch.nullable)
			row->data[row->len++] = 0;
		if (rowbinary_put_fast(conv, v->data, v->len, row))
			goto done;
		row->len = start;
	}
	char err[512];
	ConvResult r = rowbinary_put(conv, v->kind == 'b', v->data, v->kind == 'n' ? -1 : v->len, row, err, sizeof err);
	if (r != CONV_OK) {
		row->len = head;
		if (r == CONV_UNREP)
			log_error("%s.%s (%s): %s. Choose what to write instead: on_unrepresentable = \"null\" or \"clamp\" for "
				  "this column, or types = { %s = \"String\" }; the stream stops here until then",
				  t->display, t->cols[c].name, t->cols[c].type_name, err, t->cols[c].name);
		else
			log_error("%s.%s (%s): cannot decode a streamed value: %s", t->display, t->cols[c].name,
				  t->cols[c].type_name, err);
		a->fatal = true;
		return false;
	}
	at->unrep += conv->unrep_count - unrep_before;
done:;
	uint32_t len = (uint32_t)(row->len - start);
	memcpy(row->data + head + 1, &len, 4); /* little-endian, as batch_row_put writes it */
	return true;
}

static void put_default(ApplyTable *at, int c, Buf *row)
{
	size_t head = row->len;
	buf_put_u8(row, BATCH_VALUE);
	buf_put_le(row, 0, 4);
	size_t start = row->len;
	rowbinary_put_default(&at->conv[c], row);
	uint32_t len = (uint32_t)(row->len - start);
	for (int i = 0; i < 4; i++)
		row->data[head + 1 + i] = (char)(len >> (8 * i));
}

/* The key of a row: RowBinary of the ORDER BY columns (what ClickHouse deduplicates on). */
static bool row_key(Applier *a, ApplyTable *at, const Buf *row, Buf *key)
{
	const Table *t = at->t;
	RowSlice *sl = a->slices;
	buf_reset(key);
	int span = 0; /* the records up to the last ORDER BY column's: the row is built in column order */
	for (int k = 0; k < t->norder; k++)
		if (t->order[k] + 1 > span)
			span = t->order[k] + 1;
	if (!batch_row_split(row->data, row->len, span, sl))
		return false;
	for (int k = 0; k < t->norder; k++) {
		const RowSlice *v = &sl[t->order[k]];
		if (v->state != BATCH_VALUE)
			return false;
		buf_put(key, v->data, v->len);
	}
	return true;
}

/* Append the PostgreSQL text forms of the key columns (for lookups at the source). */
static void put_key_texts(ApplyTable *at, const PgoTuple *tup, Buf *row)
{
	for (int k = 0; k < at->t->nkey; k++) {
		int c = at->t->key[k];
		int ri = at->col_to_rel[c];
		char text[512];
		text[0] = '\0';
		if (ri >= 0 && ri < tup->ncols && (tup->cols[ri].kind == 't' || tup->cols[ri].kind == 'b'))
			rowbinary_describe(&at->conv[c], tup->cols[ri].kind == 'b', tup->cols[ri].data, tup->cols[ri].len, text,
					   sizeof text);
		batch_row_put(row, ROW_KEYTEXT, text, strlen(text));
	}
}

/*
 * Build the row of a new tuple. Unchanged TOAST values ('u') come from the old tuple
 * (REPLICA IDENTITY FULL sends it); otherwise they are marked missing, as are columns
 * pgoutput does not send (stored generated columns).
 */
static bool build_row(Applier *a, ApplyTable *at, const PgoTuple *tup, const PgoTuple *old, Buf *row, bool *missing)
{
	Table *t = at->t;
	buf_reset(row);
	*missing = false;
	for (int c = 0; c < t->ncols; c++) {
		int ri = at->col_to_rel[c];
		if (ri < 0 || ri >= tup->ncols) {
			if (at->col_dropped && at->col_dropped[c]) {
				put_default(at, c, row); /* dropped in PostgreSQL, kept in ClickHouse */
			} else {
				batch_row_put(row, BATCH_MISSING, NULL, 0);
				*missing = true;
			}
			continue;
		}
		const PgoValue *v = &tup->cols[ri];
		if (v->kind == 'u') {
			if (old && ri < old->ncols && (old->cols[ri].kind == 't' || old->cols[ri].kind == 'b')) {
				v = &old->cols[ri];
			} else {
				batch_row_put(row, BATCH_MISSING, NULL, 0);
				*missing = true;
				continue;
			}
		}
		if (v->kind == 'n' && !t->cols[c].ch.nullable && in_order(t, c)) {
			/* a sorting key cannot be NULL: left without a value, so the table is resynced */
			batch_row_put(row, BATCH_MISSING, NULL, 0);
			*missing = true;
			continue;
		}
		if (!put_value(a, at, c, v, row))
			return false;
	}
	put_key_texts(at, tup, row);
	return true;
}

/* Fill missing columns of `row` from an earlier batch entry of the same row, in one pass. */
static void fill_from_entry(Applier *a, ApplyTable *at, const BatchEntry *prev, Buf *row, bool *missing)
{
	if (!prev || prev->deleted)
		return;
	int ncols = at->t->ncols, total = ncols + at->t->nkey;
	RowSlice *cur = a->slices, *old = a->prev_slices;
	if (!batch_row_split(row->data, row->len, total, cur) ||
	    !batch_row_split(batch_row(&at->batch, prev), prev->row_len, ncols, old))
		return;
	Buf *merged = &a->scratch;
	buf_reset(merged);
	bool still = false;
	for (int c = 0; c < total; c++) {
		if (cur[c].state == BATCH_MISSING && c < ncols && old[c].state == BATCH_VALUE) {
			batch_row_put(merged, BATCH_VALUE, old[c].data, old[c].len);
			continue;
		}
		still = still || cur[c].state == BATCH_MISSING;
		batch_row_put(merged, cur[c].state, cur[c].data, cur[c].len);
	}
	buf_reset(row);
	buf_put(row, merged->data, merged->len);
	*missing = still;
}

/* Values the column policies turned into NULL or clamped: log with the key, count for status. */
static void report_unrep(Applier *a, ApplyTable *at, uint64_t before, const Buf *row)
{
	uint64_t now = at->unrep;
	if (now == before)
		return;
	const Table *t = at->t;
	if (now <= 100) {
		Buf key;
		buf_init(&key);
		RowSlice *sl = a->slices;
		if (batch_row_split(row->data, row->len, t->ncols + t->nkey, sl))
			for (int k = 0; k < t->nkey; k++)
				buf_printf(&key, "%s%s = %.*s", k ? ", " : "", t->cols[t->key[k]].name, (int)sl[t->ncols + k].len,
					   sl[t->ncols + k].data);
		log_warn("%s, row with %s: a value without a ClickHouse form was written as NULL or clamped "
			 "(on_unrepresentable)%s",
			 t->display, key.data, now == 100 ? "; further ones are counted, not logged" : "");
		buf_free(&key);
	}
	progress_send_unrep(a->o->progress_fd, PROG_STREAM_UNREP, (int)(at - a->tables), -1, (int64_t)(now - before));
}

static void note_pending(Applier *a)
{
	if (a->pending_rows++ == 0) {
		a->first_pending = progress_now();
		a->first_pending_us = a->commit_unix_us;
		progress_send_flush(a->o->progress_fd, PROG_STREAM_PENDING, 0, a->commit_unix_us);
	}
}

/* A delete: the key columns from the old tuple, the rest empty, is_deleted = 1. */
static bool add_delete(Applier *a, ApplyTable *at, const PgoTuple *old)
{
	Table *t = at->t;
	Buf *row = &a->row;
	buf_reset(row);
	for (int c = 0; c < t->ncols; c++) {
		bool key = in_order(t, c);
		int ri = at->col_to_rel[c];
		if (key && ri >= 0 && ri < old->ncols && (old->cols[ri].kind == 't' || old->cols[ri].kind == 'b')) {
			if (!put_value(a, at, c, &old->cols[ri], row))
				return false;
		} else if (key) {
			char *why = xasprintf("a delete arrived without its key column %s (NULL or missing)", t->cols[c].name);
			apply_mark_resync(a, at, why); /* recorded, so the supervisor copies it again */
			free(why);
			return true;
		} else {
			put_default(at, c, row);
		}
	}
	put_key_texts(at, old, row);
	if (!row_key(a, at, row, &a->key))
		return false;
	/* an update moving the row away: its values so far, for the columns it leaves unchanged */
	BatchEntry *prev = batch_find(&at->batch, a->key.data, a->key.len);
	a->moved_from = prev && !prev->deleted ? (int)(prev - at->batch.entries) : -1;
	batch_add(&at->batch, a->key.data, a->key.len, a->version, true, row->data, row->len, false);
	note_pending(a);
	return true;
}

/*
 * An insert or update. Columns the message leaves out (unchanged TOAST values) come from the
 * row's earlier entry in this batch; when `moved` (the update changed the row's key) that is
 * the entry under its old key, and what is still missing may come only from the source,
 * since ClickHouse's row under the new key, if any, is another row's.
 */
static bool add_upsert(Applier *a, ApplyTable *at, const PgoTuple *tup, const PgoTuple *old, bool moved)
{
	bool missing;
	uint64_t before = at->unrep;
	if (!build_row(a, at, tup, old, &a->row, &missing))
		return false;
	report_unrep(a, at, before, &a->row);
	if (!row_key(a, at, &a->row, &a->key)) {
		apply_mark_resync(a, at, "a change arrived without a value for a key column (NULL, or an unchanged TOAST key)");
		return true;
	}
	bool source_only = false;
	if (missing && moved) {
		fill_from_entry(a, at, a->moved_from >= 0 ? &at->batch.entries[a->moved_from] : NULL, &a->row, &missing);
		source_only = missing;
	} else if (missing) {
		const BatchEntry *prev = batch_find(&at->batch, a->key.data, a->key.len);
		fill_from_entry(a, at, prev, &a->row, &missing);
		source_only = missing && prev && !prev->deleted && prev->source_only;
	}
	int i = batch_add(&at->batch, a->key.data, a->key.len, a->version, false, a->row.data, a->row.len, missing);
	at->batch.entries[i].source_only = source_only;
	note_pending(a);
	return true;
}

/* Did an update move the row to another ORDER BY key? Compare old and new key bytes. */
static bool key_changed(const ApplyTable *at, char old_kind, const PgoTuple *old, const PgoTuple *tup)
{
	const Table *t = at->t;
	for (int k = 0; k < t->norder; k++) {
		int ri = at->col_to_rel[t->order[k]];
		if (ri < 0 || ri >= old->ncols || ri >= tup->ncols)
			return false;
		const PgoValue *x = &old->cols[ri], *y = &tup->cols[ri];
		if (x->kind == 'u' || y->kind == 'u' || (x->kind == 'n' && old_kind == 'K'))
			continue; /* not in the old tuple ('K' carries only the replica identity's columns) */
		if (x->kind != y->kind || x->len != y->len || memcmp(x->data, y->data, (size_t)x->len) != 0)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- the row hook */

/*
 * The new tuple of a change to a table with a row hook, complete: unchanged TOAST values
 * from the old tuple (REPLICA IDENTITY FULL) or else the source, by key. Values in out
 * point into the tuples and *res (the caller clears it). 1: complete; 0: the row is gone
 * at the source (the change that removed it follows in the stream); -1: failed (logged).
 */
static int hook_complete(Applier *a, ApplyTable *at, const PgoTuple *tup, const PgoTuple *old, PGresult **res)
{
	const Table *t = at->t;
	*res = NULL;
	if (at->nhooked < tup->ncols) {
		at->hooked = xrealloc(at->hooked, sizeof(PgoValue) * (size_t)tup->ncols);
		at->nhooked = tup->ncols;
	}
	bool missing = false;
	for (int ri = 0; ri < tup->ncols; ri++) {
		at->hooked[ri] = tup->cols[ri];
		if (tup->cols[ri].kind == 'u' && old && ri < old->ncols && old->cols[ri].kind != 'u')
			at->hooked[ri] = old->cols[ri];
		missing = missing || at->hooked[ri].kind == 'u';
	}
	if (!missing)
		return 1;
	PGconn *pg = apply_source(a);
	if (!pg)
		return -1;
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "SELECT ");
	int n = 0;
	for (int c = 0; c < t->ncols; c++) {
		int ri = at->col_to_rel[c];
		if (ri < 0 || ri >= tup->ncols || at->hooked[ri].kind != 'u')
			continue;
		buf_puts(&sql, n++ ? ", " : "");
		catalog_select_expr(t, c, &sql);
	}
	buf_printf(&sql, " FROM ONLY %s WHERE ", t->qualified);
	const char **params = xcalloc((size_t)t->nkey + 1, sizeof(char *));
	char **owned = xcalloc((size_t)t->nkey + 1, sizeof(char *));
	int rc = 1;
	for (int k = 0; k < t->nkey; k++) {
		int c = t->key[k], ri = at->col_to_rel[c];
		char *q = pg_quote_ident(pg, t->cols[c].name);
		buf_printf(&sql, "%s%s = $%d", k ? " AND " : "", q, k + 1);
		free(q);
		if (ri < 0 || ri >= tup->ncols || at->hooked[ri].kind != 't') {
			apply_mark_resync(a, at, "a change arrived without its key's value (an unchanged TOAST key)");
			rc = 0;
			break;
		}
		params[k] = owned[k] = xasprintf("%.*s", (int)at->hooked[ri].len, at->hooked[ri].data);
	}
	if (rc == 1) {
		*res = pg_query_params(pg, sql.data, t->nkey, params);
		rc = !*res ? -1 : PQntuples(*res) == 0 ? 0 : 1;
	}
	for (int c = 0, i = 0; rc == 1 && c < t->ncols; c++) {
		int ri = at->col_to_rel[c];
		if (ri < 0 || ri >= tup->ncols || at->hooked[ri].kind != 'u')
			continue;
		bool null = PQgetisnull(*res, 0, i);
		at->hooked[ri] = (PgoValue){null ? 'n' : 't', null ? 0 : PQgetlength(*res, 0, i), PQgetvalue(*res, 0, i)};
		i++;
	}
	for (int k = 0; k < t->nkey; k++)
		free(owned[k]);
	free(owned);
	free(params);
	buf_free(&sql);
	return rc;
}

/*
 * An insert or update of a table with a row hook: the complete new row through on_row; nil
 * leaves an insert out and turns an update into a delete of its key, so a row that stops
 * qualifying disappears. What the hook returns then goes the way of any change.
 */
static bool change_hooked(Applier *a, ApplyTable *at, const PgoMsg *m)
{
	const Table *t = at->t;
	const PgoTuple *old = m->type == 'U' && m->old_kind ? &m->old_tuple : NULL;
	PGresult *res;
	int got = hook_complete(a, at, &m->new_tuple, m->old_kind == 'O' ? old : NULL, &res);
	PgoTuple full = {m->new_tuple.ncols, at->hooked};
	const char **vals = xcalloc((size_t)t->ncols + 1, sizeof(char *));
	int *lens = xcalloc((size_t)t->ncols + 1, sizeof(int));
	bool ok = got >= 0;
	if (got <= 0)
		goto out;
	bool moved = old && key_changed(at, m->old_kind, old, &full);
	if (moved && (!add_delete(a, at, old) || at->resync)) {
		ok = !a->fatal;
		goto out;
	}
	for (int c = 0; c < t->ncols; c++) {
		int ri = at->col_to_rel[c];
		bool has = ri >= 0 && ri < full.ncols && full.cols[ri].kind == 't';
		vals[c] = has ? full.cols[ri].data : NULL;
		lens[c] = has ? (int)full.cols[ri].len : -1;
	}
	switch (rowhook_run(&at->hook, vals, lens)) {
	case ROWHOOK_FAIL: a->fatal = true; ok = false; break;
	case ROWHOOK_DROP: ok = m->type != 'U' || add_delete(a, at, &full) || !a->fatal; break;
	case ROWHOOK_ROW:
		for (int c = 0; c < t->ncols; c++) {
			int ri = at->col_to_rel[c];
			if (ri >= 0 && ri < full.ncols)
				at->hooked[ri] = (PgoValue){at->hook.lens[c] < 0 ? 'n' : 't', at->hook.lens[c] < 0 ? 0 : at->hook.lens[c],
							    at->hook.vals[c]};
		}
		ok = add_upsert(a, at, &full, NULL, moved) || !a->fatal;
		break;
	}
out:
	PQclear(res);
	free(vals);
	free(lens);
	return ok;
}

static bool apply_row_change(Applier *a, const PgoMsg *m)
{
	ApplyTable *at = apply_table_by_relid(a, m->relid);
	if (!at || at->resync)
		return true;
	log_set_table(at->t->display);
	if (!at->have_relation) {
		log_error("%s: a change arrived before its Relation message", at->t->display);
		return false;
	}
	at->counts[m->type == 'I' ? PROG_N_INSERT : m->type == 'U' ? PROG_N_UPDATE : PROG_N_DELETE]++;
	if (at->hook.on && m->type != 'D')
		return change_hooked(a, at, m);
	switch (m->type) {
	case 'I': return add_upsert(a, at, &m->new_tuple, NULL, false) || !a->fatal;
	case 'U': {
		const PgoTuple *old = m->old_kind ? &m->old_tuple : NULL;
		bool moved = old && key_changed(at, m->old_kind, old, &m->new_tuple);
		if (moved && (!add_delete(a, at, old) || at->resync))
			return !a->fatal;
		return add_upsert(a, at, &m->new_tuple, m->old_kind == 'O' ? old : NULL, moved) || !a->fatal;
	}
	case 'D': return add_delete(a, at, &m->old_tuple) || !a->fatal;
	}
	return true;
}

/* ---------------------------------------------------------------- memory */

size_t apply_pending_bytes(const Applier *a)
{
	size_t n = 0;
	for (int i = 0; i < a->ntables; i++)
		n += batch_bytes(&a->tables[i].batch);
	return n;
}

/* ---------------------------------------------------------------- truncate */

static bool apply_truncate(Applier *a, const PgoMsg *m)
{
	/* rows in flight are older than the TRUNCATE: in ClickHouse first, then truncated */
	if (!apply_settle(a))
		return false;
	for (int i = 0; i < m->nrelids; i++) {
		ApplyTable *at = apply_table_by_relid(a, pgo_truncate_relid(m, i));
		if (!at)
			continue;
		log_set_table(at->t->display);
		/* rows of this table before the TRUNCATE are void: drop them, then truncate */
		batch_reset(&at->batch);
		Buf sql;
		buf_init(&sql);
		plan_truncate_sql(at->t, a->cfg, &a->ch.caps, &sql);
		for (int attempt = 1; !cluster_ddl(&a->ch, sql.data); attempt++) {
			if (!a->o->wait(a->o->wait_ctx, backoff_delay(attempt, 1, 30))) {
				buf_free(&sql);
				return false;
			}
		}
		log_info("%s truncated", at->t->display);
		buf_free(&sql);
		at->counts[PROG_N_TRUNCATE]++; /* with the changes before it, which it made void */
		report_counts(a, at);
		progress_send_table(a->o->progress_fd, PROG_STREAM_TRUNCATE, (int)(at - a->tables), a->version);
	}
	return true;
}

bool apply_message(Applier *a, const PgoMsg *m)
{
	bool ok = true;
	switch (m->type) {
	case 'I':
	case 'U':
	case 'D': ok = apply_row_change(a, m); break;
	case 'R': ok = apply_relation(a, m); break;
	case 'T': ok = apply_truncate(a, m); break;
	default: break;
	}
	log_set_table(NULL);
	return ok;
}
