/*
 * verify — compare source and destination row by row (pgch verify).
 *
 * Every replicated value is compared, not a digest of it: the source's rows are read and
 * converted to RowBinary by the same converters the snapshot uses, ClickHouse's rows are
 * read as RowBinary from the deduplicated view (FINAL), and a row is equal when its bytes
 * are — so any difference in any column is found, with its key and the columns that
 * differ. Both sides are read once, ordered by key, and matched through a hash of the key
 * bytes: rows wait in the table only until their counterpart arrives, so memory stays
 * small when both sides order rows alike (they are asked to: text keys in byte order).
 *
 * Consistency while the pipe streams: the source is read under the snapshot of a temporary
 * slot, whose consistent point C is exact, after waiting until the pipe has confirmed
 * (so written to ClickHouse) everything up to C. ClickHouse may hold later changes too; a
 * row there whose version is C or more changed after the snapshot, so a difference on its
 * key is not a difference of the copy: it is counted as "changed during the check", not
 * reported. With the pipe stopped, ClickHouse reflects the source up to the slot's
 * position; the output says so.
 *
 * The table line also shows the row count and, for integer keys, their sum, minimum and
 * maximum on both sides (cheap aggregates, for the eye).
 */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "pg.h"
#include "plan.h"
#include "progress.h"
#include "rowbinary.h"
#include "rowfilter.h"
#include "rowhook.h"
#include "slot.h"

#define VERIFY_SHOW 20          /* differences printed per table */
#define VERIFY_FETCH "5000"     /* source rows per FETCH */
#define VERIFY_WAIT_SECS 120    /* for the pipe to confirm the snapshot's position */
#define VERIFY_FUTURE 1000      /* rows with versions past the check's start kept to check */

/* ---------------------------------------------------------------- aggregates (for the eye) */

static bool int_key(const Column *c)
{
	ChKind k = c->ch.kind;
	return !c->ch.array && (k == CH_INT16 || k == CH_INT32 || k == CH_INT64 || k == CH_UINT32);
}

/* "count|sum|min|max|..." from PostgreSQL. */
static bool pg_aggregates(PGconn *pg, const Table *t, Buf *out)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "SELECT concat_ws('|', count(*)");
	for (int k = 0; k < t->nkey; k++) {
		const Column *c = &t->cols[t->key[k]];
		if (!int_key(c))
			continue;
		char *q = pg_quote_ident(pg, c->name);
		/* the sum modulo 2^64, as ClickHouse's UInt64 sum wraps */
		buf_printf(&sql,
			   ", coalesce((sum(%s::numeric) %% 18446744073709551616 + 18446744073709551616) %% 18446744073709551616, 0)"
			   ", coalesce(min(%s), 0), coalesce(max(%s), 0)",
			   q, q, q);
		free(q);
	}
	buf_printf(&sql, ") FROM %s", t->qualified);
	rowfilter_sql(t, false, &sql);
	PGresult *res = pg_query(pg, sql.data);
	buf_free(&sql);
	if (!res)
		return false;
	buf_puts(out, PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

static bool ch_aggregates(ChConn *ch, const Config *cfg, const Table *t, Buf *out)
{
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT concat(toString(count()), ''"); /* concat needs two arguments on old servers */
	for (int k = 0; k < t->nkey; k++) {
		const Column *c = &t->cols[t->key[k]];
		if (!int_key(c))
			continue;
		Buf q;
		buf_init(&q);
		ch_quote_ident(&q, c->name);
		buf_printf(&sql, ", '|', toString(sum(toUInt64(%s))), '|', toString(if(count() = 0, 0, min(%s))), '|', "
				 "toString(if(count() = 0, 0, max(%s)))",
			   q.data, q.data, q.data);
		buf_free(&q);
	}
	buf_puts(&sql, ") FROM ");
	plan_target(t, cfg, &sql);
	buf_puts(&sql, " FINAL WHERE ");
	ch_quote_ident(&sql, cfg->dest.deleted_column);
	buf_puts(&sql, " = 0");
	bool ok = ch_query(ch, sql.data, &ans);
	if (ok)
		buf_put(out, ans.data, strcspn(ans.data, "\n"));
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}

/* ---------------------------------------------------------------- rows waiting for their counterpart */

typedef struct VRow {
	struct VRow *next;   /* hash chain */
	uint64_t hash;
	uint64_t version;    /* ClickHouse rows */
	bool deleted;        /* ClickHouse rows */
	uint32_t klen, rlen;
	char *key;           /* RowBinary of the key columns */
	char *row;           /* RowBinary of every column */
	uint32_t *off;       /* column c is row[off[c], off[c + 1]) */
	char *key_text;      /* for messages */
} VRow;

typedef struct VMap {
	VRow **slots;
	size_t nslots, n;
} VMap;

static void vrow_free(VRow *r)
{
	free(r->key);
	free(r->row);
	free(r->off);
	free(r->key_text);
	free(r);
}

static void map_put(VMap *m, VRow *r)
{
	if (m->n + 1 > m->nslots) {
		size_t ns = m->nslots ? m->nslots * 2 : 1024;
		VRow **slots = xcalloc(ns, sizeof(VRow *));
		for (size_t i = 0; i < m->nslots; i++)
			for (VRow *x = m->slots[i], *nx; x; x = nx) {
				nx = x->next;
				x->next = slots[x->hash & (ns - 1)];
				slots[x->hash & (ns - 1)] = x;
			}
		free(m->slots);
		m->slots = slots;
		m->nslots = ns;
	}
	r->next = m->slots[r->hash & (m->nslots - 1)];
	m->slots[r->hash & (m->nslots - 1)] = r;
	m->n++;
}

/* Remove and return the row with this key, or NULL. */
static VRow *map_take(VMap *m, const VRow *like)
{
	if (!m->nslots)
		return NULL;
	for (VRow **p = &m->slots[like->hash & (m->nslots - 1)]; *p; p = &(*p)->next) {
		VRow *r = *p;
		if (r->hash == like->hash && r->klen == like->klen && memcmp(r->key, like->key, r->klen) == 0) {
			*p = r->next;
			m->n--;
			return r;
		}
	}
	return NULL;
}

static void map_free(VMap *m)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (VRow *x = m->slots[i], *nx; x; x = nx) {
			nx = x->next;
			vrow_free(x);
		}
	free(m->slots);
	memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- one table */

typedef struct Compare {
	const Config *cfg;
	const Table *t;
	uint64_t since;       /* the snapshot's consistent point: ClickHouse versions from here on are later */
	uint64_t wal_start;   /* the source's WAL position when the check began */
	VRow *future;         /* rows with a version past wal_start: checked against the WAL at the end */
	int nfuture;
	PGconn *pg;
	ColConv *conv;
	RowHook hook;         /* the table's row hook: source rows go through it, as the copy's do */
	VMap pg_wait, ch_wait;
	Buf pending;          /* ClickHouse bytes not yet a whole row */
	uint64_t pg_rows, ch_rows;
	bool pg_done;
	bool failed;
	uint64_t differ, changed;
	Buf shown;            /* the differences printed (text) */
	Buf shown_json;       /* and as JSON objects */
	int nshown;
} Compare;

static void set_key(VRow *r, const Table *t)
{
	Buf k;
	buf_init(&k);
	for (int i = 0; i < t->nkey; i++) {
		int c = t->key[i];
		buf_put(&k, r->row + r->off[c], r->off[c + 1] - r->off[c]);
	}
	r->klen = (uint32_t)k.len;
	r->key = buf_steal(&k);
	r->hash = buf_hash(r->key, r->klen);
}

static void note(Compare *cmp, const char *key_text, const char *what, const char *columns)
{
	cmp->differ++;
	if (cmp->nshown >= VERIFY_SHOW)
		return;
	cmp->nshown++;
	buf_printf(&cmp->shown, "    %s: %s%s%s\n", key_text, what, columns[0] ? " " : "", columns);
	buf_puts(&cmp->shown_json, cmp->shown_json.len ? ", {\"key\": " : "{\"key\": ");
	buf_json_string(&cmp->shown_json, key_text);
	buf_puts(&cmp->shown_json, ", \"difference\": ");
	buf_json_string(&cmp->shown_json, what);
	buf_puts(&cmp->shown_json, ", \"columns\": [");
	int n = 0;
	for (const char *p = columns; *p;) {
		size_t len = strcspn(p, ",");
		Buf name;
		buf_init(&name);
		buf_put(&name, p, len);
		buf_puts(&cmp->shown_json, n++ ? ", " : "");
		buf_json_string(&cmp->shown_json, name.data);
		buf_free(&name);
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	buf_puts(&cmp->shown_json, "]}");
}

/* A source row and ClickHouse's row for the same key (either may be NULL). */
static void match(Compare *cmp, VRow *src, VRow *dst)
{
	const Table *t = cmp->t;
	bool live = dst && !dst->deleted;
	if (dst && dst->version >= cmp->since) {
		bool equal = src && live && src->rlen == dst->rlen && memcmp(src->row, dst->row, src->rlen) == 0;
		if (!equal && dst->version > cmp->wal_start && cmp->nfuture < VERIFY_FUTURE) {
			/* later than the check's start: a version the source may never have written */
			VRow *f = xcalloc(1, sizeof *f);
			f->version = dst->version;
			f->key_text = xstrdup(dst->key_text);
			f->next = cmp->future;
			cmp->future = f;
			cmp->nfuture++;
		} else if (!equal) {
			cmp->changed++; /* changed at the source after the snapshot: not the copy's difference */
		}
		return;
	}
	if (src && live) {
		if (src->rlen == dst->rlen && memcmp(src->row, dst->row, src->rlen) == 0)
			return;
		Buf cols;
		buf_init(&cols);
		for (int c = 0; c < t->ncols; c++) {
			uint32_t a = src->off[c + 1] - src->off[c], b = dst->off[c + 1] - dst->off[c];
			if (a != b || memcmp(src->row + src->off[c], dst->row + dst->off[c], a) != 0)
				buf_printf(&cols, "%s%s", cols.len ? ", " : "", t->cols[c].name);
		}
		note(cmp, src->key_text, "differs in", cols.data);
		buf_free(&cols);
	} else if (src) {
		note(cmp, src->key_text, "missing in ClickHouse", "");
	} else if (live) {
		note(cmp, dst->key_text, "only in ClickHouse (deleted or never at the source)", "");
	}
}

/* A row from one side: match it with the other side's waiting row, or wait. */
static void arrive(Compare *cmp, VRow *r, bool from_source)
{
	VRow *other = map_take(from_source ? &cmp->ch_wait : &cmp->pg_wait, r);
	if (!other) {
		map_put(from_source ? &cmp->pg_wait : &cmp->ch_wait, r);
		return;
	}
	match(cmp, from_source ? r : other, from_source ? other : r);
	vrow_free(r);
	vrow_free(other);
}

/* Read the next rows of the source cursor; false at the end or on failure. */
static bool fetch_source(Compare *cmp)
{
	const Table *t = cmp->t;
	static const char fetch[] = "FETCH " VERIFY_FETCH " FROM pgch_verify";
	PGresult *res = PQexecParams(cmp->pg, fetch, 0, NULL, NULL, NULL, NULL, 1);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("%s: reading the source failed: %s", t->display, res ? PQresultErrorMessage(res) : PQerrorMessage(cmp->pg));
		PQclear(res);
		cmp->failed = true;
		return false;
	}
	int n = PQntuples(res);
	Buf row, text;
	buf_init(&row);
	buf_init(&text);
	const char **vals = xcalloc((size_t)t->ncols + 1, sizeof(char *));
	int *lens = xcalloc((size_t)t->ncols + 1, sizeof(int));
	for (int i = 0; i < n && !cmp->failed; i++) {
		for (int c = 0; c < t->ncols; c++) {
			int f = t->nkey + c;
			vals[c] = PQgetvalue(res, i, f);
			lens[c] = PQgetisnull(res, i, f) ? -1 : PQgetlength(res, i, f);
		}
		const char *const *v = vals;
		const int *l = lens;
		if (cmp->hook.on) {
			RowHookResult hr = rowhook_run(&cmp->hook, vals, lens);
			if (hr == ROWHOOK_FAIL) {
				cmp->failed = true;
				break;
			}
			if (hr == ROWHOOK_DROP)
				continue; /* the copy leaves it out too */
			v = cmp->hook.vals;
			l = cmp->hook.lens;
		}
		VRow *r = xcalloc(1, sizeof *r);
		r->off = xcalloc((size_t)t->ncols + 1, sizeof(uint32_t));
		buf_reset(&row);
		for (int c = 0; c < t->ncols; c++) {
			char err[256];
			r->off[c] = (uint32_t)row.len;
			if (rowbinary_put(&cmp->conv[c], t->cols[c].binary, v[c], l[c], &row, err, sizeof err) != CONV_OK) {
				log_error("%s.%s: %s", t->display, t->cols[c].name, err);
				cmp->failed = true;
				break;
			}
		}
		r->off[t->ncols] = (uint32_t)row.len;
		buf_reset(&text);
		for (int k = 0; k < t->nkey; k++)
			buf_printf(&text, "%s%s = %s", k ? ", " : "", t->cols[t->key[k]].name, PQgetvalue(res, i, k));
		r->key_text = xstrdup(text.data);
		r->rlen = (uint32_t)row.len;
		r->row = xmalloc(row.len + 1);
		memcpy(r->row, row.data, row.len);
		if (cmp->failed) {
			vrow_free(r);
			break;
		}
		set_key(r, t);
		cmp->pg_rows++;
		arrive(cmp, r, true);
	}
	free(vals);
	free(lens);
	buf_free(&row);
	buf_free(&text);
	PQclear(res);
	if (n == 0)
		cmp->pg_done = true;
	return n > 0 && !cmp->failed;
}

/* Read a RowBinary String (varint length, bytes). */
static bool read_string(const char *p, size_t n, const char **s, size_t *len, size_t *used)
{
	uint64_t l = 0;
	size_t i = 0;
	for (int shift = 0; i < n && shift < 64; shift += 7) {
		unsigned char b = (unsigned char)p[i++];
		l |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (l > n - i)
				return false;
			*s = p + i;
			*len = (size_t)l;
			*used = i + (size_t)l;
			return true;
		}
	}
	return false;
}

/* One whole ClickHouse row at p (columns, version, is_deleted, key texts); 0 if incomplete. */
static size_t parse_ch_row(Compare *cmp, const char *p, size_t n)
{
	const Table *t = cmp->t;
	uint32_t *off = xcalloc((size_t)t->ncols + 1, sizeof(uint32_t));
	size_t at = 0, used;
	for (int c = 0; c < t->ncols; c++) {
		off[c] = (uint32_t)at;
		if (!rowbinary_skip(&t->cols[c].ch, p + at, n - at, &used)) {
			free(off);
			return 0;
		}
		at += used;
	}
	off[t->ncols] = (uint32_t)at;
	if (n - at < 9) {
		free(off);
		return 0;
	}
	uint64_t version = 0;
	for (int i = 0; i < 8; i++)
		version |= (uint64_t)(unsigned char)p[at + i] << (8 * i);
	bool deleted = p[at + 8] != 0;
	size_t end = at + 9;
	Buf text;
	buf_init(&text);
	for (int k = 0; k < t->nkey; k++) {
		const char *s;
		size_t len;
		if (!read_string(p + end, n - end, &s, &len, &used)) {
			buf_free(&text);
			free(off);
			return 0;
		}
		buf_printf(&text, "%s%s = %.*s", k ? ", " : "", t->cols[t->key[k]].name, (int)len, s);
		end += used;
	}
	VRow *r = xcalloc(1, sizeof *r);
	r->off = off;
	r->rlen = (uint32_t)at;
	r->row = xmalloc(at + 1);
	memcpy(r->row, p, at);
	r->version = version;
	r->deleted = deleted;
	r->key_text = buf_steal(&text);
	set_key(r, t);
	cmp->ch_rows++;
	arrive(cmp, r, false);
	return end;
}

/* ClickHouse's answer as it arrives: whole rows are matched, the source is read in step. */
static bool ch_sink(void *ctx, const char *data, size_t len)
{
	Compare *cmp = ctx;
	buf_put(&cmp->pending, data, len);
	size_t at = 0, used;
	while (at < cmp->pending.len && (used = parse_ch_row(cmp, cmp->pending.data + at, cmp->pending.len - at)) > 0) {
		at += used;
		while (!cmp->pg_done && !cmp->failed && cmp->pg_rows <= cmp->ch_rows)
			fetch_source(cmp);
	}
	memmove(cmp->pending.data, cmp->pending.data + at, cmp->pending.len - at);
	cmp->pending.len -= at;
	return !cmp->failed;
}

/* How both sides order rows: by key, text keys in byte order (ClickHouse's String order). */
static void order_by(const Table *t, PGconn *pg, Buf *pg_order, Buf *ch_order)
{
	for (int k = 0; k < t->nkey; k++) {
		const Column *c = &t->cols[t->key[k]];
		char *q = pg_quote_ident(pg, c->name);
		buf_puts(pg_order, k ? ", " : " ORDER BY ");
		buf_puts(ch_order, k ? ", " : " ORDER BY ");
		if (c->ch.kind == CH_STRING) {
			buf_printf(pg_order, "%s::text COLLATE \"C\"", q);
			ch_quote_ident(ch_order, c->name);
		} else if (c->ch.kind == CH_UUID) {
			buf_puts(pg_order, q);
			buf_puts(ch_order, "toString(");
			ch_quote_ident(ch_order, c->name);
			buf_puts(ch_order, ")");
		} else {
			buf_puts(pg_order, q);
			ch_quote_ident(ch_order, c->name);
		}
		free(q);
	}
}

/* Compare one table row by row; false if a side could not be read (logged). */
static bool compare_table(Compare *cmp, ChConn *ch, const ChCaps *caps)
{
	const Table *t = cmp->t;
	PGconn *pg = cmp->pg;
	Buf sql, pg_order, ch_order;
	buf_init(&sql);
	buf_init(&pg_order);
	buf_init(&ch_order);
	order_by(t, pg, &pg_order, &ch_order);
	buf_puts(&sql, "DECLARE pgch_verify NO SCROLL CURSOR FOR SELECT ");
	for (int k = 0; k < t->nkey; k++) {
		char *q = pg_quote_ident(pg, t->cols[t->key[k]].name);
		buf_printf(&sql, "format('%%s', %s), ", q);
		free(q);
	}
	char *cols = catalog_select_list(t);
	buf_printf(&sql, "%s FROM %s", cols, t->qualified);
	rowfilter_sql(t, false, &sql); /* the rows the pipe replicates */
	buf_puts(&sql, pg_order.data);
	free(cols);
	bool ok = pg_exec(pg, sql.data);
	cmp->conv = xcalloc((size_t)t->ncols + 1, sizeof(ColConv));
	for (int c = 0; c < t->ncols; c++)
		catalog_conv_init(&t->cols[c], caps, &cmp->conv[c]);
	rowhook_init(&cmp->hook, cmp->cfg, t);
	if (ok) {
		buf_reset(&sql);
		buf_puts(&sql, "SELECT ");
		for (int c = 0; c < t->ncols; c++) {
			ch_quote_ident(&sql, t->cols[c].name);
			buf_puts(&sql, ", ");
		}
		ch_quote_ident(&sql, cmp->cfg->dest.version_column);
		buf_puts(&sql, ", ");
		ch_quote_ident(&sql, cmp->cfg->dest.deleted_column);
		for (int k = 0; k < t->nkey; k++) {
			buf_puts(&sql, ", toString(");
			ch_quote_ident(&sql, t->cols[t->key[k]].name);
			buf_puts(&sql, ")");
		}
		buf_puts(&sql, " FROM ");
		plan_target(t, cmp->cfg, &sql);
		buf_printf(&sql, " FINAL%s FORMAT RowBinary", ch_order.data);
		ok = ch_query_stream(ch, sql.data, ch_sink, cmp) && !cmp->failed && cmp->pending.len == 0;
		if (ok && cmp->pending.len) {
			log_error("%s: cannot parse ClickHouse's rows", t->display);
			ok = false;
		}
		while (ok && !cmp->pg_done)
			ok = fetch_source(cmp) || (cmp->pg_done && !cmp->failed);
		ok = pg_exec(pg, "CLOSE pgch_verify") && ok;
	}
	if (ok) {
		/* versions written after the check began are at most the WAL's position now; one
		 * beyond it was never a commit of this source (written behind pgch's back) */
		uint64_t wal_end = 0;
		PGresult *res = pg_query(pg, "SELECT pg_current_wal_lsn()");
		ok = res && pg_parse_lsn(PQgetvalue(res, 0, 0), &wal_end);
		PQclear(res);
		for (VRow *f = cmp->future; ok && f; f = f->next) {
			if (f->version > wal_end)
				note(cmp, f->key_text, "has a version beyond the source's WAL (written behind pgch's back)", "");
			else
				cmp->changed++;
		}
	}
	for (VRow *f = cmp->future, *nf; f; f = nf) {
		nf = f->next;
		vrow_free(f);
	}
	cmp->future = NULL;
	if (ok) {
		/* what waits now has no counterpart */
		for (size_t i = 0; i < cmp->pg_wait.nslots; i++)
			for (VRow *r = cmp->pg_wait.slots[i]; r; r = r->next)
				match(cmp, r, NULL);
		for (size_t i = 0; i < cmp->ch_wait.nslots; i++)
			for (VRow *r = cmp->ch_wait.slots[i]; r; r = r->next)
				match(cmp, NULL, r);
	}
	for (int c = 0; c < t->ncols; c++)
		rowbinary_free(&cmp->conv[c]);
	free(cmp->conv);
	rowhook_free(&cmp->hook);
	map_free(&cmp->pg_wait);
	map_free(&cmp->ch_wait);
	buf_free(&sql);
	buf_free(&pg_order);
	buf_free(&ch_order);
	return ok;
}

/* ---------------------------------------------------------------- the snapshot */

/*
 * Wait until the pipe has confirmed the snapshot's position, so ClickHouse has every change
 * before it. *note says why the comparison may include lag when it cannot wait.
 */
static void wait_for_pipe(PGconn *pg, const Config *cfg, uint64_t upto, Buf *note)
{
	double until = progress_now() + VERIFY_WAIT_SECS;
	for (;;) {
		SlotInfo info;
		if (!slot_info(pg, cfg->pipe.slot, &info) || !info.exists)
			return; /* no slot: a finished copy, nothing streams into the destination */
		if (info.confirmed_flush >= upto)
			return;
		char at[32];
		pg_format_lsn(info.confirmed_flush, at, sizeof at);
		if (!info.active) {
			buf_printf(note, "the pipe is not running: ClickHouse reflects the source up to %s, and changes made since "
					 "show as differences until pgch run applies them",
				   at);
			return;
		}
		if (progress_now() > until) {
			buf_printf(note, "the pipe had not confirmed the check's starting point after %d s (it is at %s): changes "
					 "it has not applied yet show as differences",
				   VERIFY_WAIT_SECS, at);
			return;
		}
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Begin a transaction on the source that sees exactly the exported snapshot. */
static bool import_snapshot(PGconn *pg, const ExportedSnapshot *snap)
{
	char *lit = pg_quote_literal(pg, snap->name);
	char *sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s", lit);
	bool ok = pg_exec(pg, sql);
	free(lit);
	free(sql);
	return ok;
}

/* ---------------------------------------------------------------- all tables */

/* The tables of the destination database ("\n"-separated, empty if there is no database). */
static bool destination_tables(ChConn *ch, const Config *cfg, Buf *names)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "SELECT name FROM system.tables WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	buf_puts(&sql, " FORMAT TabSeparated");
	bool ok = ch_query(ch, sql.data, names);
	buf_free(&sql);
	return ok;
}

static bool listed(const Buf *names, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = names->data; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p = nl ? nl + 1 : p + len;
	}
	return false;
}

static bool selected(const Table *t, const char *only)
{
	return !only || strcmp(only, t->display) == 0 || strcmp(only, t->name) == 0 || strcmp(only, t->target) == 0;
}

int verify_run(const Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const char *only, bool json)
{
	Buf out, present, note;
	buf_init(&out);
	buf_init(&present);
	buf_init(&note);
	int nselected = 0, ncompare = 0;
	if (!destination_tables(ch, cfg, &present)) {
		buf_free(&out);
		buf_free(&present);
		buf_free(&note);
		return 1;
	}
	for (int i = 0; i < cat->ntables; i++) {
		nselected += selected(&cat->tables[i], only);
		ncompare += selected(&cat->tables[i], only) && listed(&present, cat->tables[i].target);
	}
	if (nselected == 0) {
		log_error("--table %s is not one of the pipe's tables (pgch plan lists them)", only);
		buf_free(&out);
		buf_free(&present);
		buf_free(&note);
		return 2;
	}
	ExportedSnapshot snap;
	memset(&snap, 0, sizeof snap);
	uint64_t wal_start = 0;
	bool snap_ok = true;
	if (ncompare > 0) {
		char name[64];
		snprintf(name, sizeof name, "pgch_verify_%d", (int)getpid());
		snap_ok = slot_create_exported(cfg, name, true, &snap);
		if (snap_ok) {
			wait_for_pipe(pg, cfg, snap.lsn, &note);
			snap_ok = import_snapshot(pg, &snap);
		}
		PGresult *res = snap_ok ? pg_query(pg, "SELECT pg_current_wal_lsn()") : NULL;
		snap_ok = res && pg_parse_lsn(PQgetvalue(res, 0, 0), &wal_start);
		PQclear(res);
		if (!snap_ok) {
			slot_release(&snap);
			buf_free(&out);
			buf_free(&present);
			buf_free(&note);
			return 1;
		}
	}
	int differ = 0, failed = 0, missing = 0;
	if (json)
		buf_puts(&out, "{\"tables\": [");
	else
		buf_printf(&out, "%-36s %-8s %s\n", "TABLE", "RESULT", "POSTGRESQL | CLICKHOUSE (count|sum|min|max of integer keys)");
	int shown = 0;
	for (int i = 0; i < cat->ntables; i++) {
		const Table *t = &cat->tables[i];
		if (!selected(t, only))
			continue;
		Buf a, b;
		buf_init(&a);
		buf_init(&b);
		Compare cmp;
		memset(&cmp, 0, sizeof cmp);
		cmp.cfg = cfg;
		cmp.t = t;
		cmp.pg = pg;
		cmp.since = snap.lsn;
		cmp.wal_start = wal_start;
		buf_init(&cmp.pending);
		buf_init(&cmp.shown);
		buf_init(&cmp.shown_json);
		bool absent = !listed(&present, t->target);
		bool ok = absent || (pg_aggregates(pg, t, &a) && ch_aggregates(ch, cfg, t, &b) && compare_table(&cmp, ch, &ch->caps));
		bool same = ok && cmp.differ == 0;
		missing += absent;
		const char *result = absent ? "MISSING" : !ok ? "ERROR" : same ? "OK" : "DIFFERS";
		if (absent)
			buf_puts(&b, "not in ClickHouse");
		failed += !ok && !absent;
		differ += ok && !absent && !same;
		if (json) {
			buf_puts(&out, shown++ ? ", {\"source\": " : "{\"source\": ");
			buf_json_string(&out, t->display);
			buf_puts(&out, ", \"target\": ");
			buf_json_string(&out, t->target);
			buf_puts(&out, ", \"result\": ");
			buf_json_string(&out, result);
			buf_puts(&out, ", \"postgresql\": ");
			buf_json_string(&out, a.data);
			buf_puts(&out, ", \"clickhouse\": ");
			buf_json_string(&out, b.data);
			buf_printf(&out, ", \"rows_postgresql\": %llu, \"rows_clickhouse\": %llu, \"differences\": %llu, "
					 "\"changed_during_check\": %llu, \"shown\": [%s]}",
				   (unsigned long long)cmp.pg_rows, (unsigned long long)cmp.ch_rows, (unsigned long long)cmp.differ,
				   (unsigned long long)cmp.changed, cmp.shown_json.data);
		} else {
			buf_printf(&out, "%-36s %-8s %s | %s\n", t->display, result, a.data, b.data);
			if (cmp.differ)
				buf_printf(&out, "  %llu row%s differ%s:\n%s%s", (unsigned long long)cmp.differ, cmp.differ == 1 ? "" : "s",
					   cmp.differ == 1 ? "s" : "", cmp.shown.data,
					   cmp.differ > (uint64_t)cmp.nshown ? "    ...\n" : "");
			if (cmp.changed)
				buf_printf(&out, "  %llu row%s changed at the source during the check (not compared)\n",
					   (unsigned long long)cmp.changed, cmp.changed == 1 ? "" : "s");
		}
		buf_free(&cmp.pending);
		buf_free(&cmp.shown);
		buf_free(&cmp.shown_json);
		buf_free(&a);
		buf_free(&b);
	}
	if (ncompare > 0) {
		pg_exec(pg, "COMMIT");
		slot_release(&snap);
	}
	if (json) {
		buf_printf(&out, "], \"ok\": %s, \"note\": ", differ || failed || missing ? "false" : "true");
		buf_json_string(&out, note.data);
		buf_puts(&out, "}\n");
	} else {
		if (note.len)
			buf_printf(&out, "\nNote: %s\n", note.data);
		if (missing)
			buf_printf(&out, "\n%d table%s not in ClickHouse database %s: copy %s with pgch snapshot or pgch run\n", missing,
				   missing == 1 ? " is" : "s are", cfg->dest.database, missing == 1 ? "it" : "them");
		if (differ)
			buf_printf(&out, "\n%d table%s differ: copy %s again with pgch resync --table NAME (or pgch snapshot --restart)\n",
				   differ, differ == 1 ? "" : "s", differ == 1 ? "it" : "them");
	}
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
	buf_free(&present);
	buf_free(&note);
	return differ || failed || missing ? 1 : 0;
}
