/*
 * stream — the streaming worker; see stream.h for the model.
 *
 * Layout: set-up (tables, connections, START_REPLICATION); status updates and waiting;
 * turning pgoutput changes into batch entries (rows, keys, deletes, key changes, unchanged
 * TOAST values); finding missing values (ClickHouse, then the source); flushing with
 * retries; relation messages and schema changes (schema.c); truncate; the main loop.
 */
#include "stream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "ch.h"
#include "log.h"
#include "pg.h"
#include "pgoutput.h"
#include "plan.h"
#include "progress.h"
#include "rowbinary.h"
#include "schema.h"
#include "slot.h"
#include "state.h"
#include "stream_int.h"

volatile sig_atomic_t stream_stop;

#define FILL_CHUNK (512u << 10)
#define ROW_KEYTEXT 2 /* record state: PostgreSQL text form of a key column (after the columns) */

/* ---------------------------------------------------------------- set-up */

static bool table_setup(Stream *s, StreamTable *st, Table *t)
{
	(void)s;
	memset(st, 0, sizeof *st);
	st->t = t;
	batch_init(&st->batch);
	return stream_table_columns(s, st);
}

bool stream_table_columns(Stream *s, StreamTable *st)
{
	Table *t = st->t;
	for (int i = 0; st->conv && i < st->nconv; i++)
		rowbinary_free(&st->conv[i]);
	free(st->conv);
	st->conv = xcalloc((size_t)t->ncols + 1, sizeof(ColConv));
	st->nconv = t->ncols;
	for (int i = 0; i < t->ncols; i++)
		catalog_conv_init(&t->cols[i], s->o->caps, &st->conv[i]);
	free(st->col_to_rel);
	st->col_to_rel = xcalloc((size_t)t->ncols + 1, sizeof(int));
	for (int i = 0; i < t->ncols; i++)
		st->col_to_rel[i] = -1;
	free(st->insert_sql);
	st->insert_sql = plan_insert_sql(t, s->cfg);
	st->have_relation = false;
	return true;
}

static void table_free(StreamTable *st)
{
	for (int i = 0; i < st->nconv; i++)
		rowbinary_free(&st->conv[i]);
	free(st->conv);
	free(st->col_to_rel);
	free(st->rel_to_col);
	free(st->insert_sql);
	batch_free(&st->batch);
}

static StreamTable *table_by_relid(Stream *s, uint32_t relid)
{
	for (int i = 0; i < s->ntables; i++)
		if (s->tables[i].t->oid == relid)
			return &s->tables[i];
	return NULL;
}

PGconn *stream_sql_conn(Stream *s)
{
	if (s->sql && PQstatus(s->sql) != CONNECTION_OK) {
		PQfinish(s->sql);
		s->sql = NULL;
	}
	if (!s->sql)
		s->sql = pg_connect(s->cfg, PG_CONN_NORMAL, "stream-lookup");
	return s->sql;
}

/* wal_sender_timeout in seconds (0: disabled). */
static double sender_timeout(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SHOW wal_sender_timeout");
	double secs = 60;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		const char *v = PQgetvalue(res, 0, 0);
		char *end;
		double n = strtod(v, &end);
		if (strcmp(end, "ms") == 0)
			secs = n / 1000;
		else if (strcmp(end, "s") == 0 || *end == '\0')
			secs = *end ? n : n / 1000;
		else if (strcmp(end, "min") == 0)
			secs = n * 60;
		else if (strcmp(end, "h") == 0)
			secs = n * 3600;
	}
	PQclear(res);
	return secs;
}

/* ---------------------------------------------------------------- status updates and waiting */

static bool send_status(Stream *s, bool reply_requested)
{
	char msg[34];
	uint64_t written = s->received > s->confirmed ? s->received : s->confirmed;
	pgo_status_update(msg, written, s->confirmed, s->confirmed, pgo_now(), reply_requested);
	if (PQputCopyData(s->repl, msg, sizeof msg) <= 0 || PQflush(s->repl) < 0) {
		log_error("cannot send a status update to PostgreSQL: %s", PQerrorMessage(s->repl));
		return false;
	}
	s->last_status = progress_now();
	if (s->o->progress_fd >= 0)
		progress_send_stream(s->o->progress_fd, (int64_t)s->rows_applied, s->confirmed);
	return true;
}

/* Sleep for `secs` without reading the stream, but keep status updates flowing. */
static bool wait_servicing(Stream *s, double secs)
{
	double until = progress_now() + secs;
	while (!stream_stop) {
		double now = progress_now();
		if (now >= until)
			return true;
		if (now - s->last_status >= s->status_interval && !send_status(s, false))
			return false;
		double step = until - now;
		if (step > 0.5)
			step = 0.5;
		struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
		nanosleep(&ts, NULL);
	}
	return false;
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
static bool put_value(Stream *s, StreamTable *st, int c, const PgoValue *v, Buf *row)
{
	Table *t = st->t;
	size_t head = row->len;
	buf_put_u8(row, BATCH_VALUE);
	buf_put_le(row, 0, 4);
	size_t start = row->len;
	char err[512];
	ConvResult r = rowbinary_put(&st->conv[c], v->kind == 'b', v->data, v->kind == 'n' ? -1 : v->len, row, err, sizeof err);
	if (r != CONV_OK) {
		row->len = head;
		if (r == CONV_UNREP)
			log_error("%s.%s (%s): %s. Choose what to write instead: on_unrepresentable = \"null\" or \"clamp\" for "
				  "this column, or types = { %s = \"String\" }; the stream stops here until then",
				  t->display, t->cols[c].name, t->cols[c].type_name, err, t->cols[c].name);
		else
			log_error("%s.%s (%s): cannot decode a streamed value: %s", t->display, t->cols[c].name,
				  t->cols[c].type_name, err);
		s->fatal = true;
		return false;
	}
	uint32_t len = (uint32_t)(row->len - start);
	for (int i = 0; i < 4; i++)
		row->data[head + 1 + i] = (char)(len >> (8 * i));
	return true;
}

static void put_missing(Buf *row)
{
	batch_row_put(row, BATCH_MISSING, NULL, 0);
}

static void put_default(StreamTable *st, int c, Buf *row)
{
	size_t head = row->len;
	buf_put_u8(row, BATCH_VALUE);
	buf_put_le(row, 0, 4);
	size_t start = row->len;
	rowbinary_put_default(&st->conv[c], row);
	uint32_t len = (uint32_t)(row->len - start);
	for (int i = 0; i < 4; i++)
		row->data[head + 1 + i] = (char)(len >> (8 * i));
}

/* The key of a row: RowBinary of the ORDER BY columns (what ClickHouse deduplicates on). */
static bool row_key(StreamTable *st, const Buf *row, Buf *key)
{
	buf_reset(key);
	for (int k = 0; k < st->t->norder; k++) {
		uint8_t state;
		const char *d;
		uint32_t len;
		if (!batch_row_column(row->data, row->len, st->t->order[k], &state, &d, &len) || state != BATCH_VALUE)
			return false;
		buf_put(key, d, len);
	}
	return true;
}

/* Append the PostgreSQL text forms of the key columns (for lookups at the source). */
static void put_key_texts(StreamTable *st, const PgoTuple *tup, Buf *row)
{
	for (int k = 0; k < st->t->nkey; k++) {
		int c = st->t->key[k];
		int ri = st->col_to_rel[c];
		char text[512];
		text[0] = '\0';
		if (ri >= 0 && ri < tup->ncols && (tup->cols[ri].kind == 't' || tup->cols[ri].kind == 'b'))
			rowbinary_describe(&st->conv[c], tup->cols[ri].kind == 'b', tup->cols[ri].data, tup->cols[ri].len, text,
					   sizeof text);
		batch_row_put(row, ROW_KEYTEXT, text, strlen(text));
	}
}

/*
 * Build the row of a new tuple. Unchanged TOAST values ('u') come from the old tuple
 * (REPLICA IDENTITY FULL sends it) or the batch's earlier entry for the key; otherwise they
 * are marked missing, as are columns pgoutput does not send (stored generated columns).
 */
static bool build_row(Stream *s, StreamTable *st, const PgoTuple *tup, const PgoTuple *old, Buf *row, bool *missing)
{
	Table *t = st->t;
	buf_reset(row);
	*missing = false;
	bool unchanged = false;
	for (int c = 0; c < t->ncols; c++) {
		int ri = st->col_to_rel[c];
		if (ri < 0 || ri >= tup->ncols) {
			if (st->col_dropped && st->col_dropped[c]) {
				put_default(st, c, row); /* dropped in PostgreSQL, kept in ClickHouse */
			} else {
				put_missing(row);
				*missing = true;
			}
			continue;
		}
		const PgoValue *v = &tup->cols[ri];
		if (v->kind == 'u') {
			if (old && ri < old->ncols && (old->cols[ri].kind == 't' || old->cols[ri].kind == 'b')) {
				v = &old->cols[ri];
			} else {
				put_missing(row);
				*missing = true;
				unchanged = true;
				continue;
			}
		}
		if (v->kind == 'n' && !t->cols[c].ch.nullable && in_order(t, c)) {
			/* a sorting key cannot be NULL: left without a value, so the table is resynced */
			put_missing(row);
			*missing = true;
			continue;
		}
		if (!put_value(s, st, c, v, row))
			return false;
	}
	put_key_texts(st, tup, row);
	(void)unchanged;
	return true;
}

/* Fill missing columns of `row` from an earlier batch entry of the same row. */
static void fill_from_entry(StreamTable *st, const BatchEntry *prev, Buf *row, bool *missing)
{
	if (!prev || prev->deleted)
		return;
	Buf merged;
	buf_init(&merged);
	bool still = false;
	const char *prow = batch_row(&st->batch, prev);
	int total = st->t->ncols + st->t->nkey;
	for (int c = 0; c < total; c++) {
		uint8_t state, pstate;
		const char *d, *pd;
		uint32_t len, plen;
		batch_row_column(row->data, row->len, c, &state, &d, &len);
		if (state == BATCH_MISSING && c < st->t->ncols &&
		    batch_row_column(prow, prev->row_len, c, &pstate, &pd, &plen) && pstate == BATCH_VALUE) {
			batch_row_put(&merged, BATCH_VALUE, pd, plen);
			continue;
		}
		if (state == BATCH_MISSING)
			still = true;
		batch_row_put(&merged, state, d, len);
	}
	buf_reset(row);
	buf_put(row, merged.data, merged.len);
	buf_free(&merged);
	*missing = still;
}

static uint64_t unrep_total(const StreamTable *st)
{
	uint64_t n = 0;
	for (int i = 0; i < st->nconv; i++)
		n += st->conv[i].unrep_count;
	return n;
}

/* Values the column policies turned into NULL or clamped: log with the key, count for status. */
static void report_unrep(Stream *s, StreamTable *st, uint64_t before, const Buf *row)
{
	uint64_t now = unrep_total(st);
	if (now == before)
		return;
	if (now <= 100) {
		Buf key;
		buf_init(&key);
		for (int k = 0; k < st->t->nkey; k++) {
			uint8_t state;
			const char *d;
			uint32_t len;
			if (batch_row_column(row->data, row->len, st->t->ncols + k, &state, &d, &len))
				buf_printf(&key, "%s%s = %.*s", k ? ", " : "", st->t->cols[st->t->key[k]].name, (int)len, d);
		}
		log_warn("%s, row with %s: a value without a ClickHouse form was written as NULL or clamped "
			 "(on_unrepresentable)%s",
			 st->t->display, key.data, now == 100 ? "; further ones are counted, not logged" : "");
		buf_free(&key);
	}
	progress_send_unrep(s->o->progress_fd, PROG_STREAM_UNREP, (int)(st - s->tables), -1, (int64_t)(now - before));
}

static void note_pending(Stream *s)
{
	if (s->pending_rows++ == 0)
		s->first_pending = progress_now();
}

/* A delete: the key columns from the old tuple, the rest empty, is_deleted = 1. */
static bool add_delete(Stream *s, StreamTable *st, const PgoTuple *old)
{
	Table *t = st->t;
	Buf *row = &s->row;
	buf_reset(row);
	for (int c = 0; c < t->ncols; c++) {
		bool key = in_order(t, c);
		int ri = st->col_to_rel[c];
		if (key && ri >= 0 && ri < old->ncols && (old->cols[ri].kind == 't' || old->cols[ri].kind == 'b')) {
			if (!put_value(s, st, c, &old->cols[ri], row))
				return false;
		} else if (key) {
			char *why = xasprintf("a delete arrived without its key column %s (NULL or missing)", t->cols[c].name);
			stream_mark_resync(s, st, why); /* recorded, so the supervisor copies it again */
			free(why);
			return true;
		} else {
			put_default(st, c, row);
		}
	}
	put_key_texts(st, old, row);
	if (!row_key(st, row, &s->key))
		return false;
	/* an update moving the row away: its values so far, for the columns it leaves unchanged */
	BatchEntry *prev = batch_find(&st->batch, s->key.data, s->key.len);
	s->moved_from = prev && !prev->deleted ? (int)(prev - st->batch.entries) : -1;
	batch_add(&st->batch, s->key.data, s->key.len, s->version, true, row->data, row->len, false);
	note_pending(s);
	return true;
}

/*
 * An insert or update. Columns the message leaves out (unchanged TOAST values) come from the
 * row's earlier entry in this batch; when `moved` (the update changed the row's key) that is
 * the entry under its old key, and what is still missing may come only from the source,
 * since ClickHouse's row under the new key, if any, is another row's.
 */
static bool add_upsert(Stream *s, StreamTable *st, const PgoTuple *tup, const PgoTuple *old, bool moved)
{
	bool missing;
	uint64_t before = unrep_total(st);
	if (!build_row(s, st, tup, old, &s->row, &missing))
		return false;
	report_unrep(s, st, before, &s->row);
	if (!row_key(st, &s->row, &s->key)) {
		stream_mark_resync(s, st, "a change arrived without a value for a key column (NULL, or an unchanged TOAST key)");
		return true;
	}
	bool source_only = false;
	if (missing && moved) {
		fill_from_entry(st, s->moved_from >= 0 ? &st->batch.entries[s->moved_from] : NULL, &s->row, &missing);
		source_only = missing;
	} else if (missing) {
		const BatchEntry *prev = batch_find(&st->batch, s->key.data, s->key.len);
		fill_from_entry(st, prev, &s->row, &missing);
		source_only = missing && prev && !prev->deleted && prev->source_only;
	}
	int i = batch_add(&st->batch, s->key.data, s->key.len, s->version, false, s->row.data, s->row.len, missing);
	st->batch.entries[i].source_only = source_only;
	note_pending(s);
	return true;
}

/* Did an update move the row to another ORDER BY key? Compare old and new key bytes. */
static bool key_changed(Stream *s, StreamTable *st, char old_kind, const PgoTuple *old, const PgoTuple *tup)
{
	Table *t = st->t;
	for (int k = 0; k < t->norder; k++) {
		int ri = st->col_to_rel[t->order[k]];
		if (ri < 0 || ri >= old->ncols || ri >= tup->ncols)
			return false;
		const PgoValue *a = &old->cols[ri], *b = &tup->cols[ri];
		if (a->kind == 'u' || b->kind == 'u' || (a->kind == 'n' && old_kind == 'K'))
			continue; /* not in the old tuple ('K' carries only the replica identity's columns) */
		if (a->kind != b->kind || a->len != b->len || memcmp(a->data, b->data, (size_t)a->len) != 0)
			return true;
	}
	(void)s;
	return false;
}

/* ---------------------------------------------------------------- missing values */

/* Rebuild an entry's row with the values found (cols from src row slices). */
static void entry_fill(StreamTable *st, BatchEntry *e, int col, const char *data, uint32_t len)
{
	TableBatch *b = &st->batch;
	Buf merged;
	buf_init(&merged);
	int total = st->t->ncols + st->t->nkey;
	bool still = false;
	for (int c = 0; c < total; c++) {
		uint8_t state;
		const char *d;
		uint32_t l;
		batch_row_column(batch_row(b, e), e->row_len, c, &state, &d, &l);
		if (c == col) {
			batch_row_put(&merged, BATCH_VALUE, data, len);
			continue;
		}
		still = still || state == BATCH_MISSING;
		batch_row_put(&merged, state, d, l);
	}
	e->row_off = b->arena.len;
	e->row_len = (uint32_t)merged.len;
	buf_put(&b->arena, merged.data, merged.len);
	e->missing = still;
	buf_free(&merged);
}

static bool column_missing(StreamTable *st, BatchEntry *e, int c)
{
	uint8_t state;
	const char *d;
	uint32_t l;
	return batch_row_column(batch_row(&st->batch, e), e->row_len, c, &state, &d, &l) && state == BATCH_MISSING;
}

/* The PostgreSQL text form of an entry's k-th key column (malloc'd). */
static char *entry_key_text(StreamTable *st, const BatchEntry *e, int k)
{
	uint8_t state;
	const char *d;
	uint32_t len;
	batch_row_column(batch_row(&st->batch, e), e->row_len, st->t->ncols + k, &state, &d, &len);
	return xstrndup(d, len);
}

/* Source lookup: current values of the missing columns, by key, in one query. */
static bool lookup_source(Stream *s, StreamTable *st)
{
	Table *t = st->t;
	PGconn *conn = stream_sql_conn(s);
	if (!conn)
		return false;
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "SELECT ");
	for (int k = 0; k < t->nkey; k++) {
		catalog_select_expr(t, t->key[k], &sql); /* as the converters expect it */
		buf_puts(&sql, ", ");
	}
	sql.len -= 2;
	char *cols = catalog_select_list_except(t, st->col_dropped); /* a dropped column is not there to select */
	buf_printf(&sql, ", %s FROM %s WHERE (", cols, t->qualified);
	free(cols);
	for (int k = 0; k < t->nkey; k++) {
		char *q = pg_quote_ident(conn, t->cols[t->key[k]].name);
		buf_printf(&sql, "%s%s", k ? ", " : "", q);
		free(q);
	}
	buf_puts(&sql, ") IN (");
	int n = 0;
	for (int i = 0; i < st->batch.n; i++) {
		BatchEntry *e = &st->batch.entries[i];
		if (!e->live || !e->missing)
			continue;
		buf_puts(&sql, n++ ? ", (" : "(");
		for (int k = 0; k < t->nkey; k++) {
			char *text = entry_key_text(st, e, k);
			char *lit = pg_quote_literal(conn, text);
			buf_printf(&sql, "%s%s::%s", k ? ", " : "", lit, t->cols[t->key[k]].type_name);
			free(lit);
			free(text);
		}
		buf_puts(&sql, ")");
	}
	buf_puts(&sql, ")");
	bool ok = true;
	if (n > 0) {
		PGresult *res = PQexecParams(conn, sql.data, 0, NULL, NULL, NULL, NULL, 1);
		if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
			log_error("%s: looking up values at the source failed: %s", t->display,
				  res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
			ok = false;
		} else {
			Buf keybuf, val;
			buf_init(&keybuf);
			buf_init(&val);
			for (int r = 0; r < PQntuples(res); r++) {
				/* key bytes of the answer, as RowBinary of the ORDER BY columns... the key
				 * columns are a subset of ORDER BY: match on the key columns' RowBinary */
				buf_reset(&keybuf);
				char err[256];
				bool conv_ok = true;
				for (int k = 0; k < t->nkey && conv_ok; k++) {
					int c = t->key[k];
					conv_ok = rowbinary_put(&st->conv[c], t->cols[c].binary, PQgetvalue(res, r, k),
								PQgetisnull(res, r, k) ? -1 : PQgetlength(res, r, k), &keybuf, err,
								sizeof err) == CONV_OK;
				}
				if (!conv_ok)
					continue;
				for (int i = 0; i < st->batch.n; i++) {
					BatchEntry *e = &st->batch.entries[i];
					if (!e->live || !e->missing)
						continue;
					/* compare the entry's key columns */
					Buf ek;
					buf_init(&ek);
					for (int k = 0; k < t->nkey; k++) {
						uint8_t state;
						const char *d;
						uint32_t len;
						batch_row_column(batch_row(&st->batch, e), e->row_len, t->key[k], &state, &d, &len);
						buf_put(&ek, d, len);
					}
					bool match = ek.len == keybuf.len && memcmp(ek.data, keybuf.data, ek.len) == 0;
					buf_free(&ek);
					if (!match)
						continue;
					for (int c = 0; c < t->ncols; c++) {
						if (!column_missing(st, e, c))
							continue;
						int f = t->nkey + c;
						buf_reset(&val);
						if (rowbinary_put(&st->conv[c], t->cols[c].binary, PQgetvalue(res, r, f),
								  PQgetisnull(res, r, f) ? -1 : PQgetlength(res, r, f), &val, err,
								  sizeof err) != CONV_OK) {
							log_error("%s.%s: %s", t->display, t->cols[c].name, err);
							s->fatal = true;
							ok = false;
							break;
						}
						entry_fill(st, e, c, val.data, (uint32_t)val.len);
					}
				}
			}
			buf_free(&keybuf);
			buf_free(&val);
		}
		PQclear(res);
	}
	buf_free(&sql);
	return ok;
}

/* ClickHouse lookup: for unchanged TOAST values, the latest row already written. */
static bool lookup_clickhouse(Stream *s, StreamTable *st)
{
	Table *t = st->t;
	/* literals only for key types that print simply */
	for (int k = 0; k < t->nkey; k++) {
		ChKind kd = t->cols[t->key[k]].ch.kind;
		if (t->cols[t->key[k]].ch.nullable || t->cols[t->key[k]].ch.array ||
		    !(kd == CH_INT16 || kd == CH_INT32 || kd == CH_INT64 || kd == CH_UINT32 || kd == CH_STRING || kd == CH_UUID))
			return true;
	}
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT ");
	for (int c = 0; c < t->ncols; c++) {
		if (c)
			buf_puts(&sql, ", ");
		ch_quote_ident(&sql, t->cols[c].name);
	}
	buf_puts(&sql, " FROM ");
	plan_target(t, s->cfg, &sql);
	buf_puts(&sql, " FINAL WHERE ");
	ch_quote_ident(&sql, s->cfg->dest.deleted_column);
	buf_puts(&sql, " = 0 AND (");
	for (int k = 0; k < t->nkey; k++) {
		if (k)
			buf_puts(&sql, ", ");
		ch_quote_ident(&sql, t->cols[t->key[k]].name);
	}
	buf_puts(&sql, ") IN (");
	int n = 0;
	for (int i = 0; i < st->batch.n; i++) {
		BatchEntry *e = &st->batch.entries[i];
		if (!e->live || !e->missing || e->source_only)
			continue;
		buf_puts(&sql, n++ ? ", (" : "(");
		for (int k = 0; k < t->nkey; k++) {
			int c = t->key[k];
			char *text = entry_key_text(st, e, k);
			if (k)
				buf_puts(&sql, ", ");
			if (t->cols[c].ch.kind == CH_STRING) {
				ch_quote_string(&sql, text);
			} else if (t->cols[c].ch.kind == CH_UUID) {
				buf_puts(&sql, "toUUID(");
				ch_quote_string(&sql, text);
				buf_puts(&sql, ")");
			} else {
				for (const char *p = text; *p; p++)
					if (!((*p >= '0' && *p <= '9') || *p == '-'))
						goto skip; /* not a plain integer: leave it to the source lookup */
				buf_puts(&sql, text);
			}
			free(text);
			continue;
		skip:
			free(text);
			buf_free(&sql);
			buf_free(&ans);
			return true;
		}
		buf_puts(&sql, ")");
	}
	buf_puts(&sql, ") FORMAT RowBinary");
	bool ok = n == 0 || ch_query(&s->ch, sql.data, &ans);
	if (ok && n > 0) {
		size_t off = 0;
		size_t *starts = xcalloc((size_t)t->ncols + 1, sizeof(size_t));
		size_t *lens = xcalloc((size_t)t->ncols + 1, sizeof(size_t));
		while (off < ans.len) {
			for (int c = 0; c < t->ncols; c++) {
				size_t used;
				if (!rowbinary_skip(&t->cols[c].ch, ans.data + off, ans.len - off, &used)) {
					log_error("%s: cannot parse ClickHouse's answer to a lookup", t->display);
					ok = false;
					goto done;
				}
				starts[c] = off;
				lens[c] = used;
				off += used;
			}
			for (int i = 0; i < st->batch.n; i++) {
				BatchEntry *e = &st->batch.entries[i];
				if (!e->live || !e->missing || e->source_only)
					continue;
				bool match = true;
				for (int k = 0; k < t->nkey && match; k++) {
					uint8_t state;
					const char *d;
					uint32_t len;
					batch_row_column(batch_row(&st->batch, e), e->row_len, t->key[k], &state, &d, &len);
					match = len == lens[t->key[k]] && memcmp(d, ans.data + starts[t->key[k]], len) == 0;
				}
				if (!match)
					continue;
				for (int c = 0; c < t->ncols; c++)
					if (t->cols[c].generated != 's' && column_missing(st, e, c))
						entry_fill(st, e, c, ans.data + starts[c], (uint32_t)lens[c]);
			}
		}
	done:
		free(starts);
		free(lens);
	}
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}

static bool resolve_missing(Stream *s, StreamTable *st)
{
	int n = 0;
	for (int i = 0; i < st->batch.n; i++)
		n += st->batch.entries[i].live && st->batch.entries[i].missing;
	if (n == 0)
		return true;
	if (!lookup_clickhouse(s, st))
		return false;
	n = 0;
	for (int i = 0; i < st->batch.n; i++)
		n += st->batch.entries[i].live && st->batch.entries[i].missing;
	if (n > 0 && !lookup_source(s, st))
		return false;
	int skipped = 0;
	for (int i = 0; i < st->batch.n; i++) {
		BatchEntry *e = &st->batch.entries[i];
		if (e->live && e->missing) {
			e->live = false; /* found in neither: the row is gone; a later change supersedes */
			st->batch.live--;
			skipped++;
		}
	}
	if (skipped)
		log_debug("%s: %d changed row%s no longer exist at the source; skipped", st->t->display, skipped,
			  skipped == 1 ? "" : "s");
	return true;
}

/* ---------------------------------------------------------------- flushing */

typedef struct FlushFill {
	StreamTable *st;
	int next;
} FlushFill;

static int flush_fill(void *ctx, Buf *out)
{
	FlushFill *f = ctx;
	StreamTable *st = f->st;
	int ncols = st->t->ncols;
	while (f->next < st->batch.n && out->len < FILL_CHUNK) {
		BatchEntry *e = &st->batch.entries[f->next++];
		if (!e->live)
			continue;
		const char *row = batch_row(&st->batch, e);
		for (int c = 0; c < ncols; c++) {
			uint8_t state;
			const char *d;
			uint32_t len;
			batch_row_column(row, e->row_len, c, &state, &d, &len);
			buf_put(out, d, len);
		}
		buf_put_le(out, e->version, 8);
		buf_put_u8(out, e->deleted ? 1 : 0);
	}
	return f->next < st->batch.n ? 1 : 0;
}

void stream_mark_resync(Stream *s, StreamTable *st, const char *why)
{
	if (!st->resync)
		log_error("%s: %s; it is marked needs_resync and its changes are set aside until it is copied again "
			  "(pgch run does that)",
			  st->t->display, why);
	st->resync = true;
	batch_reset(&st->batch);
	StateRow r;
	memset(&r, 0, sizeof r);
	r.table = st->t->display;
	r.part = -1;
	r.target = st->t->target;
	r.status = "needs_resync";
	r.info = (char *)why;
	r.lsn = s->version;
	state_write(&s->ch, s->cfg, &r, 1);
	progress_send_table(s->o->progress_fd, PROG_STREAM_RESYNC, (int)(st - s->tables), s->version);
}

/* Insert one table's batch, retrying while ClickHouse is away. false: stop requested. */
static bool flush_table(Stream *s, StreamTable *st)
{
	double delay = 1;
	int ch_errors = 0;
	for (;;) {
		if (!resolve_missing(s, st)) {
			if (s->fatal)
				return false;
		} else {
			FlushFill f = {st, 0};
			char settings[256];
			ch_insert_settings(&s->ch, false, settings, sizeof settings);
			s->ch.quiet = delay > 1;
			int live = st->batch.live;
			bool ok = ch_insert(&s->ch, st->insert_sql, settings, flush_fill, &f, NULL);
			s->ch.quiet = false;
			if (ok) {
				if (delay > 1)
					log_info("ClickHouse accepts inserts again");
				s->rows_applied += (uint64_t)live;
				batch_reset(&st->batch);
				return true;
			}
			if (s->ch.last_status != 0 && ++ch_errors > s->cfg->pipe.max_retries) {
				stream_mark_resync(s, st, s->ch.last_error ? s->ch.last_error : "ClickHouse keeps rejecting its rows");
				return true;
			}
			if (delay == 1)
				log_warn("%s; retrying with backoff (status updates keep the replication connection alive)",
					 s->ch.last_error ? s->ch.last_error : "insert failed");
		}
		if (!wait_servicing(s, delay))
			return false;
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
}

static size_t stream_pending_bytes(Stream *s)
{
	size_t n = 0;
	for (int i = 0; i < s->ntables; i++)
		n += batch_bytes(&s->tables[i].batch);
	return n;
}

bool stream_flush(Stream *s)
{
	for (int i = 0; i < s->ntables; i++) {
		StreamTable *st = &s->tables[i];
		if (st->batch.live == 0) {
			if (st->batch.n)
				batch_reset(&st->batch);
			continue;
		}
		if (!flush_table(s, st))
			return false;
	}
	s->pending_rows = 0;
	if (s->last_commit_end > s->confirmed)
		s->confirmed = s->last_commit_end;
	return send_status(s, false);
}

/* ---------------------------------------------------------------- truncate */

static bool apply_truncate(Stream *s, const PgoMsg *m)
{
	for (int i = 0; i < m->nrelids; i++) {
		StreamTable *st = table_by_relid(s, pgo_truncate_relid(m, i));
		if (!st)
			continue;
		/* rows of this table before the TRUNCATE are void: drop them, then truncate */
		batch_reset(&st->batch);
		Buf sql;
		buf_init(&sql);
		buf_puts(&sql, "TRUNCATE TABLE ");
		plan_target(st->t, s->cfg, &sql);
		double delay = 1;
		while (!ch_query(&s->ch, sql.data, NULL)) {
			if (!wait_servicing(s, delay)) {
				buf_free(&sql);
				return false;
			}
			delay = delay * 2 > 30 ? 30 : delay * 2;
		}
		log_info("%s truncated", st->t->display);
		buf_free(&sql);
		progress_send_table(s->o->progress_fd, PROG_STREAM_TRUNCATE, (int)(st - s->tables), s->version);
	}
	return true;
}

/* ---------------------------------------------------------------- messages */

static bool handle_change(Stream *s, const PgoMsg *m)
{
	StreamTable *st = table_by_relid(s, m->relid);
	if (!st || st->resync)
		return true;
	if (!st->have_relation) {
		log_error("%s: a change arrived before its Relation message", st->t->display);
		return false;
	}
	switch (m->type) {
	case 'I': return add_upsert(s, st, &m->new_tuple, NULL, false) || !s->fatal;
	case 'U': {
		const PgoTuple *old = m->old_kind ? &m->old_tuple : NULL;
		bool moved = old && key_changed(s, st, m->old_kind, old, &m->new_tuple);
		if (moved && (!add_delete(s, st, old) || st->resync))
			return !s->fatal;
		return add_upsert(s, st, &m->new_tuple, m->old_kind == 'O' ? old : NULL, moved) || !s->fatal;
	}
	case 'D': return add_delete(s, st, &m->old_tuple) || !s->fatal;
	}
	return true;
}

static bool handle_message(Stream *s, const char *payload, size_t len)
{
	PgoMsg m;
	char err[256];
	if (!pgo_decode(&s->dec, payload, len, &m, err, sizeof err)) {
		log_error("%s", err);
		s->fatal = true;
		return false;
	}
	switch (m.type) {
	case 'B':
		s->in_txn = true;
		s->version = m.final_lsn;
		if (s->o->stop_at && m.final_lsn >= s->o->stop_at)
			s->reached = true;
		return true;
	case 'C':
		s->in_txn = false;
		s->last_commit_end = m.end_lsn;
		if (s->pending_rows == 0 && m.end_lsn > s->confirmed)
			s->confirmed = m.end_lsn;
		s->txns++;
		return true;
	case 'R': {
		StreamTable *st = table_by_relid(s, m.relid);
		if (!st)
			return true;
		return schema_relation(s, st, &m);
	}
	case 'I':
	case 'U':
	case 'D': return handle_change(s, &m);
	case 'T': return apply_truncate(s, &m);
	default: return true; /* 'O' origin, 'Y' type, 'M' message */
	}
}

/* ---------------------------------------------------------------- main loop */

static int start_replication(Stream *s)
{
	PGconn *c = s->repl;
	char *slot = pg_quote_ident(c, s->cfg->pipe.slot);
	char *pub = pg_quote_ident(c, s->cfg->pipe.publication);
	char *publit = pg_quote_literal(c, pub);
	char *sql = xasprintf("START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', publication_names %s%s)", slot, publit,
			      s->binary ? ", binary 'true'" : "");
	free(slot);
	free(pub);
	free(publit);
	PGresult *res = PQexec(c, sql);
	free(sql);
	int rc = WORKER_OK;
	if (!res || PQresultStatus(res) != PGRES_COPY_BOTH) {
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c);
		const char *state = pg_sqlstate(res);
		if (strstr(msg, "does not exist") && strstr(msg, "slot")) {
			log_error("replication slot %s does not exist: the changes since the snapshot are lost to pgch. Copy "
				  "the tables again: pgch run --restart %s",
				  s->cfg->pipe.slot, s->cfg->path);
			rc = WORKER_SLOT_LOST;
		} else if (strstr(msg, "can no longer get changes") || strstr(msg, "has already been removed") ||
			   strstr(msg, "invalidated")) {
			log_error("replication slot %s was invalidated (its WAL was removed, see max_slot_wal_keep_size): %s Copy "
				  "the tables again: pgch run --restart %s",
				  s->cfg->pipe.slot, msg, s->cfg->path);
			rc = WORKER_SLOT_LOST;
		} else if (strcmp(state, "55006") == 0 || strstr(msg, "is active for PID")) {
			log_error("replication slot %s is in use by another process: %s", s->cfg->pipe.slot, msg);
			rc = WORKER_RETRY;
		} else {
			log_error("START_REPLICATION failed: %s", msg);
			rc = WORKER_RETRY;
		}
	}
	PQclear(res);
	return rc;
}

static bool heartbeat(Stream *s)
{
	PGconn *c = stream_sql_conn(s);
	if (!c)
		return false;
	PGresult *res = PQexec(c, "SELECT pg_logical_emit_message(false, 'pgch_heartbeat', '')");
	bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	s->last_heartbeat = progress_now();
	return ok;
}

/* Time-based work between messages: flush, status, heartbeat, idle position. */
static bool tick(Stream *s)
{
	double now = progress_now();
	if (s->pending_rows > 0 && now - s->first_pending >= s->cfg->pipe.sync_interval && !stream_flush(s))
		return false;
	bool idle = !s->in_txn && s->pending_rows == 0;
	if (idle && s->server_pos > s->confirmed && s->server_pos >= s->received) {
		s->confirmed = s->server_pos; /* nothing pending: the slot may move to the server's position */
	}
	if (now - s->last_status >= s->status_interval && !send_status(s, false))
		return false;
	if (idle && s->cfg->pipe.heartbeat_interval > 0 && now - s->last_heartbeat >= s->cfg->pipe.heartbeat_interval)
		heartbeat(s);
	return true;
}

static int stream_loop(Stream *s)
{
	for (;;) {
		if (stream_stop) {
			if (s->pending_rows > 0 && !stream_flush(s))
				return WORKER_STOPPED;
			send_status(s, false);
			return WORKER_STOPPED;
		}
		if (s->reached && !s->in_txn) {
			if (s->pending_rows > 0 && !stream_flush(s))
				return WORKER_RETRY;
			if (s->o->stop_at > s->confirmed)
				s->confirmed = s->o->stop_at;
			send_status(s, false);
			return WORKER_OK;
		}
		char *buf = NULL;
		int n = PQgetCopyData(s->repl, &buf, 1);
		if (n > 0) {
			PgoFrame f;
			char err[256];
			bool ok = pgo_frame(buf, (size_t)n, &f, err, sizeof err);
			if (!ok) {
				log_error("%s", err);
				PQfreemem(buf);
				return WORKER_FATAL;
			}
			if (f.type == 'w') {
				if (f.wal_start > s->received)
					s->received = f.wal_start;
				ok = handle_message(s, f.payload, f.payload_len);
			} else {
				if (f.wal_end > s->server_pos)
					s->server_pos = f.wal_end;
				if (s->o->stop_at && f.wal_end >= s->o->stop_at && !s->in_txn)
					s->reached = true;
				if (f.reply_requested) {
					if (!s->in_txn && s->pending_rows == 0 && s->server_pos > s->confirmed)
						s->confirmed = s->server_pos;
					ok = send_status(s, false);
				}
			}
			PQfreemem(buf);
			if (!ok)
				return s->fatal ? WORKER_FATAL : WORKER_RETRY;
			if (s->pending_rows >= s->cfg->pipe.batch_size || stream_pending_bytes(s) >= (size_t)s->cfg->pipe.max_batch_memory) {
				if (!stream_flush(s))
					return stream_stop ? WORKER_STOPPED : WORKER_RETRY;
			}
			continue;
		}
		if (n == 0) {
			if (!tick(s))
				return stream_stop ? WORKER_STOPPED : (s->fatal ? WORKER_FATAL : WORKER_RETRY);
			double now = progress_now();
			double wait = s->status_interval - (now - s->last_status);
			if (s->pending_rows > 0) {
				double w2 = s->cfg->pipe.sync_interval - (now - s->first_pending);
				if (w2 < wait)
					wait = w2;
			}
			if (s->o->stop_at) {
				/* catch-up: ask for the server's position when the stream goes quiet */
				if (now - s->last_request > 0.2 && !s->in_txn) {
					send_status(s, true);
					s->last_request = now;
				}
				if (wait > 0.25)
					wait = 0.25;
			}
			if (wait < 0.01)
				wait = 0.01;
			struct pollfd pfd = {PQsocket(s->repl), POLLIN, 0};
			if (poll(&pfd, 1, (int)(wait * 1000)) < 0 && errno != EINTR) {
				log_error("poll: %s", strerror(errno));
				return WORKER_RETRY;
			}
			if (!PQconsumeInput(s->repl)) {
				log_error("lost the replication connection: %s", PQerrorMessage(s->repl));
				return WORKER_RETRY;
			}
			continue;
		}
		if (n == -1) {
			PGresult *res = PQgetResult(s->repl);
			const char *why = res ? PQresultErrorMessage(res) : PQerrorMessage(s->repl);
			if (!why || !why[0])
				why = PQstatus(s->repl) == CONNECTION_BAD ? PQerrorMessage(s->repl) : "";
			log_error("the replication stream ended: %s",
				  why && why[0] ? why : "the server closed it (shut down or restarted?); reconnecting");
			PQclear(res);
			return WORKER_RETRY;
		}
		log_error("reading the replication stream failed: %s", PQerrorMessage(s->repl));
		return WORKER_RETRY;
	}
}

int stream_run(const StreamOptions *o)
{
	Stream st;
	Stream *s = &st;
	memset(s, 0, sizeof *s);
	s->o = o;
	s->cfg = o->cfg;
	buf_init(&s->row);
	buf_init(&s->key);
	s->ntables = o->cat->ntables;
	s->tables = xcalloc((size_t)s->ntables + 1, sizeof(StreamTable));
	s->binary = true;
	for (int i = 0; i < s->ntables; i++) {
		table_setup(s, &s->tables[i], &o->cat->tables[i]);
		for (int c = 0; c < o->cat->tables[i].ncols; c++)
			s->binary = s->binary && types_binary_ok(o->cat->tables[i].cols[c].kind, &o->cat->tables[i].cols[c].ch);
	}
	int rc = WORKER_RETRY;
	if (!ch_open(&s->ch, &s->cfg->dest))
		goto out;
	s->ch.caps = *o->caps;
	s->ch.probed = true;
	s->ch.compress = o->compress;
	s->repl = pg_connect(s->cfg, PG_CONN_REPLICATION, "stream");
	if (!s->repl)
		goto out;
	if (PQserverVersion(s->repl) < 140000)
		s->binary = false;
	double timeout = sender_timeout(s->repl);
	s->status_interval = s->cfg->pipe.status_interval;
	if (timeout > 0 && timeout / 3 < s->status_interval)
		s->status_interval = timeout / 3 < 1 ? 1 : timeout / 3;
	SlotInfo info;
	PGconn *sql = stream_sql_conn(s);
	if (sql && slot_info(sql, s->cfg->pipe.slot, &info) && info.exists)
		s->confirmed = info.confirmed_flush;
	rc = start_replication(s);
	if (rc != WORKER_OK)
		goto out;
	char lsn[32];
	pg_format_lsn(s->confirmed, lsn, sizeof lsn);
	log_info("streaming from slot %s at %s (%s values)", s->cfg->pipe.slot, lsn, s->binary ? "binary" : "text");
	s->last_status = s->last_heartbeat = progress_now();
	rc = stream_loop(s);
	if (s->fatal && rc != WORKER_STOPPED && rc != WORKER_OK)
		rc = WORKER_FATAL;
out:
	if (s->repl) {
		PQputCopyEnd(s->repl, NULL);
		PQfinish(s->repl);
	}
	if (s->sql)
		PQfinish(s->sql);
	ch_close(&s->ch);
	for (int i = 0; i < s->ntables; i++)
		table_free(&s->tables[i]);
	free(s->tables);
	buf_free(&s->row);
	buf_free(&s->key);
	return rc;
}

bool stream_catch_up(const Config *cfg, Catalog *cat, const ChCaps *caps, bool compress, uint64_t upto)
{
	StreamOptions o = {cfg, cat, caps, compress, upto, -1};
	int rc = stream_run(&o);
	return rc == WORKER_OK && !stream_stop;
}
