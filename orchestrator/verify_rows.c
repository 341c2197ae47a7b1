/*
 * verify_rows — one table compared row by row; see verify_rows.h.
 */
#include "verify_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "plan.h"
#include "rowfilter.h"

/* ---------------------------------------------------------------- rows waiting for their counterpart */



static void vrow_free(VRow *r)
{
	free(r->key);
	free(r->row);
	free(r->off);
	free(r->key_text);
	free(r->key_vals);
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

void verify_note(Compare *cmp, const char *key_text, const char *what, const char *columns)
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
		char *hint = strstr(name.data, " ("); /* "c (x in ClickHouse)": the source's name c */
		if (hint)
			*hint = '\0';
		buf_puts(&cmp->shown_json, n++ ? ", " : "");
		buf_json_string(&cmp->shown_json, name.data);
		buf_free(&name);
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	buf_puts(&cmp->shown_json, "]}");
}

/* Can a key column's text from ClickHouse (toString) be read back by PostgreSQL as it is? */
static bool text_portable(const Column *c)
{
	ChKind k = c->ch.kind;
	return !c->ch.array && !c->ch.nullable &&
	       (k == CH_INT16 || k == CH_INT32 || k == CH_INT64 || k == CH_UINT32 || k == CH_STRING || k == CH_UUID ||
		k == CH_DATE);
}

/* Keep the key of a row changed during the check, to compare it again later. */
static void remember(Compare *cmp, const char *key_vals)
{
	const Table *t = cmp->t;
	if (!key_vals || cmp->nrecheck >= VERIFY_RECHECK_MAX)
		return;
	buf_puts(&cmp->recheck_pg, cmp->nrecheck ? ", " : "");
	buf_puts(&cmp->recheck_ch, cmp->nrecheck ? ", " : "");
	buf_puts(&cmp->recheck_pg, t->nkey > 1 ? "(" : "");
	buf_puts(&cmp->recheck_ch, t->nkey > 1 ? "(" : "");
	const char *v = key_vals;
	for (int k = 0; k < t->nkey; k++) {
		char *lit = pg_quote_literal(cmp->pg, v);
		buf_printf(&cmp->recheck_pg, "%s%s::%s", k ? ", " : "", lit, t->cols[t->key[k]].type_name);
		free(lit);
		buf_puts(&cmp->recheck_ch, k ? ", " : "");
		ch_quote_string(&cmp->recheck_ch, v);
		v += strlen(v) + 1;
	}
	buf_puts(&cmp->recheck_pg, t->nkey > 1 ? ")" : "");
	buf_puts(&cmp->recheck_ch, t->nkey > 1 ? ")" : "");
	cmp->nrecheck++;
}

bool verify_recheck_where(const Compare *cmp, Buf *pg_where, Buf *ch_where)
{
	const Table *t = cmp->t;
	if (cmp->nrecheck == 0)
		return false;
	buf_puts(pg_where, " WHERE ");
	buf_puts(ch_where, " WHERE ");
	buf_puts(pg_where, t->nkey > 1 ? "(" : "");
	buf_puts(ch_where, t->nkey > 1 ? "(" : "");
	for (int k = 0; k < t->nkey; k++) {
		const Column *c = &t->cols[t->key[k]];
		char *q = pg_quote_ident(cmp->pg, c->name);
		buf_printf(pg_where, "%s%s", k ? ", " : "", q);
		free(q);
		buf_puts(ch_where, k ? ", toString(" : "toString(");
		ch_quote_ident(ch_where, c->ch_name);
		buf_puts(ch_where, ")");
	}
	buf_printf(pg_where, "%s IN (%s)", t->nkey > 1 ? ")" : "", cmp->recheck_pg.data);
	buf_printf(ch_where, "%s IN (%s)", t->nkey > 1 ? ")" : "", cmp->recheck_ch.data);
	return true;
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
			f->key_vals = src && src->key_vals ? src->key_vals : dst->key_vals;
			if (src && src->key_vals)
				src->key_vals = NULL; /* moved to f */
			else
				dst->key_vals = NULL;
			f->next = cmp->future;
			cmp->future = f;
			cmp->nfuture++;
		} else if (!equal) {
			cmp->changed++; /* changed at the source after the snapshot: not the copy's difference */
			remember(cmp, src && src->key_vals ? src->key_vals : dst->key_vals);
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
			if (a == b && memcmp(src->row + src->off[c], dst->row + dst->off[c], a) == 0)
				continue;
			const Column *col = &t->cols[c];
			buf_printf(&cols, "%s%s", cols.len ? ", " : "", col->name);
			if (strcmp(col->name, col->ch_name) != 0) /* renamed: what to look at in ClickHouse */
				buf_printf(&cols, " (%s in ClickHouse)", col->ch_name);
		}
		verify_note(cmp, src->key_text, "differs in", cols.data);
		buf_free(&cols);
	} else if (src) {
		verify_note(cmp, src->key_text, "missing in ClickHouse", "");
	} else if (live) {
		verify_note(cmp, dst->key_text, "only in ClickHouse (deleted or never at the source)", "");
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
		buf_reset(&text);
		for (int k = 0; k < t->nkey; k++)
			buf_put(&text, PQgetvalue(res, i, k), (size_t)PQgetlength(res, i, k) + 1);
		r->key_vals = xmalloc(text.len);
		memcpy(r->key_vals, text.data, text.len);
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
	Buf text, vals;
	buf_init(&text);
	buf_init(&vals);
	bool portable = true;
	for (int k = 0; k < t->nkey; k++) {
		const char *s;
		size_t len;
		if (!read_string(p + end, n - end, &s, &len, &used)) {
			buf_free(&text);
			buf_free(&vals);
			free(off);
			return 0;
		}
		buf_printf(&text, "%s%s = %.*s", k ? ", " : "", t->cols[t->key[k]].name, (int)len, s);
		buf_put(&vals, s, len);
		buf_put_u8(&vals, 0);
		portable = portable && text_portable(&t->cols[t->key[k]]) && !memchr(s, 0, len);
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
	if (portable)
		r->key_vals = buf_steal(&vals);
	buf_free(&vals);
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
			ch_quote_ident(ch_order, c->ch_name);
		} else if (c->ch.kind == CH_UUID) {
			buf_puts(pg_order, q);
			buf_puts(ch_order, "toString(");
			ch_quote_ident(ch_order, c->ch_name);
			buf_puts(ch_order, ")");
		} else {
			buf_puts(pg_order, q);
			ch_quote_ident(ch_order, c->ch_name);
		}
		free(q);
	}
}

/* Compare one table row by row; false if a side could not be read (logged). */
bool verify_compare_table(Compare *cmp, ChConn *ch, const ChCaps *caps)
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
	buf_printf(&sql, "%s FROM %s%s", cols, t->qualified, cmp->pg_where ? cmp->pg_where : "");
	rowfilter_sql(t, cmp->pg_where != NULL, &sql); /* the rows the pipe replicates */
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
			ch_quote_ident(&sql, t->cols[c].ch_name);
			buf_puts(&sql, ", ");
		}
		ch_quote_ident(&sql, cmp->cfg->dest.version_column);
		buf_puts(&sql, ", ");
		ch_quote_ident(&sql, cmp->cfg->dest.deleted_column);
		for (int k = 0; k < t->nkey; k++) {
			buf_puts(&sql, ", toString(");
			ch_quote_ident(&sql, t->cols[t->key[k]].ch_name);
			buf_puts(&sql, ")");
		}
		buf_puts(&sql, " FROM ");
		plan_target(t, cmp->cfg, &sql);
		buf_printf(&sql, " FINAL%s%s FORMAT RowBinary", cmp->ch_where ? cmp->ch_where : "", ch_order.data);
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
			if (f->version > wal_end) {
				verify_note(cmp, f->key_text, "has a version beyond the source's WAL (written behind pgch's back)", "");
			} else {
				cmp->changed++;
				remember(cmp, f->key_vals);
			}
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

void verify_compare_init(Compare *cmp, const Config *cfg, const Table *t, PGconn *pg)
{
	memset(cmp, 0, sizeof *cmp);
	cmp->cfg = cfg;
	cmp->t = t;
	cmp->pg = pg;
	buf_init(&cmp->pending);
	buf_init(&cmp->shown);
	buf_init(&cmp->shown_json);
	buf_init(&cmp->recheck_pg);
	buf_init(&cmp->recheck_ch);
}

void verify_compare_free(Compare *cmp)
{
	buf_free(&cmp->pending);
	buf_free(&cmp->shown);
	buf_free(&cmp->shown_json);
	buf_free(&cmp->recheck_pg);
	buf_free(&cmp->recheck_ch);
}
