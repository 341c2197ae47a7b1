/*
 * state — the progress table in ClickHouse; see state.h.
 *
 * Layout: the encoding (status words, kinds as source_table and part, TabSeparated lines),
 * rows built from the plan, then the table itself (create and migrate, load, write, clear).
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cluster.h"
#include "log.h"

/* part as stored for the rows that are not partitions */
enum { PART_OF_PIPE_OR_TABLE = -1, PART_OF_REQUEST = -2 };

/* ---------------------------------------------------------------- encoding */

static const char *const status_words[] = {
	[STATE_UNKNOWN] = "unknown",
	[STATE_TODO] = "todo",
	[STATE_COPYING] = "copying",
	[STATE_COPIED] = "copied",
	[STATE_DONE] = "done",
	[STATE_NEEDS_RESYNC] = "needs_resync",
	[STATE_RESYNC_REQUESTED] = "resync_requested",
	[STATE_SNAPSHOTTING] = "snapshotting",
	[STATE_STREAMING] = "streaming",
	[STATE_STOPPED] = "stopped",
	[STATE_FORGOTTEN] = "forgotten",
	[STATE_PAUSED] = "paused",
	[STATE_RUNNING] = "running",
};
#define N_STATUS ((int)(sizeof status_words / sizeof status_words[0]))

const char *state_status_name(StateStatus s)
{
	return (int)s >= 0 && (int)s < N_STATUS ? status_words[s] : status_words[STATE_UNKNOWN];
}

StateStatus state_status_parse(const char *word)
{
	for (int i = 1; word && i < N_STATUS; i++)
		if (strcmp(status_words[i], word) == 0)
			return (StateStatus)i;
	return STATE_UNKNOWN;
}

static void tsv_field(Buf *b, const char *s)
{
	for (s = s ? s : ""; *s; s++) {
		switch (*s) {
		case '\t': buf_puts(b, "\\t"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\\': buf_puts(b, "\\\\"); break;
		default: buf_put_u8(b, (uint8_t)*s);
		}
	}
}

void state_encode(const StateRecord *r, const char *pipe, uint64_t seq, Buf *out)
{
	bool named = r->kind == STATE_TABLE || r->kind == STATE_PARTITION;
	int part = r->kind == STATE_PARTITION ? r->part : r->kind == STATE_REQUEST ? PART_OF_REQUEST : PART_OF_PIPE_OR_TABLE;
	tsv_field(out, pipe);
	buf_put_u8(out, '\t');
	tsv_field(out, named ? r->table : "");
	buf_printf(out, "\t%d\t", part);
	tsv_field(out, r->target);
	buf_put_u8(out, '\t');
	tsv_field(out, r->leaf);
	buf_printf(out, "\t%u\t%u\t%s\t%llu\t%llu\t", r->start, r->end, state_status_name(r->status),
		   (unsigned long long)r->rows, (unsigned long long)r->lsn);
	tsv_field(out, r->info);
	buf_printf(out, "\t%d\t%llu\t", r->slot_foreign ? 2 : r->slot_kept ? 1 : 0, (unsigned long long)r->unrepresentable);
	tsv_field(out, r->endpoint);
	buf_printf(out, "\t%llu\n", (unsigned long long)seq);
}

/* The text an older pgch wrote in `info` instead of the typed columns. */
#define OLD_SLOT_KEPT "slot kept"
#define OLD_UNREP "unrepresentable values: "

bool state_decode(char *const *f, int nf, StateRecord *out)
{
	memset(out, 0, sizeof *out);
	if (nf != 14)
		return false;
	int part = atoi(f[1]);
	if (part >= 0)
		out->kind = STATE_PARTITION;
	else if (part == PART_OF_REQUEST && f[0][0] == '\0')
		out->kind = STATE_REQUEST;
	else if (part == PART_OF_PIPE_OR_TABLE)
		out->kind = f[0][0] == '\0' ? STATE_PIPE : STATE_TABLE;
	else
		return false;
	out->table = xstrdup(f[0]);
	out->part = part >= 0 ? part : 0;
	out->target = xstrdup(f[2]);
	out->leaf = xstrdup(f[3]);
	out->start = (uint32_t)strtoul(f[4], NULL, 10);
	out->end = (uint32_t)strtoul(f[5], NULL, 10);
	out->status = state_status_parse(f[6]);
	out->rows = strtoull(f[7], NULL, 10);
	out->lsn = strtoull(f[8], NULL, 10);
	const char *info = f[9];
	/* NULL typed columns: a row of a pgch older than them, which kept these facts in info */
	if (f[10][0]) {
		out->slot_kept = atoi(f[10]) != 0;
		out->slot_foreign = atoi(f[10]) == 2;
	} else
		out->slot_kept = strcmp(info, OLD_SLOT_KEPT) == 0;
	if (f[11][0]) {
		out->unrepresentable = strtoull(f[11], NULL, 10);
	} else if (strncmp(info, OLD_UNREP, strlen(OLD_UNREP)) == 0) {
		out->unrepresentable = strtoull(info + strlen(OLD_UNREP), NULL, 10);
		info = ""; /* it said nothing else */
	}
	out->info = xstrdup(info);
	out->endpoint = xstrdup(f[12]);
	out->updated_at = xstrdup(f[13]);
	return true;
}

void state_record_free(StateRecord *r)
{
	free(r->table);
	free(r->target);
	free(r->leaf);
	free(r->info);
	free(r->endpoint);
	free(r->updated_at);
	memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- rows from the plan */

void state_row_pipe(StateRecord *r, StateStatus status, uint64_t lsn, bool slot_kept, const char *info)
{
	memset(r, 0, sizeof *r);
	r->kind = STATE_PIPE;
	r->status = status;
	r->lsn = lsn;
	r->slot_kept = slot_kept;
	r->info = (char *)info;
}

void state_row_partition(StateRecord *r, const Table *t, const Partition *p, StateStatus status)
{
	memset(r, 0, sizeof *r);
	r->kind = STATE_PARTITION;
	r->status = status;
	r->table = t->display;
	r->part = p->number;
	r->target = t->target;
	r->leaf = t->leaves[p->leaf].qualified;
	r->start = p->start;
	r->end = p->end;
	r->rows = (uint64_t)p->rows;
	r->lsn = p->snapshot_lsn;
}

void state_row_table(StateRecord *r, const Table *t, int ti, const Plan *plan, StateStatus status,
		     uint64_t unrepresentable)
{
	memset(r, 0, sizeof *r);
	r->kind = STATE_TABLE;
	r->status = status;
	r->table = t->display;
	r->target = t->target;
	r->unrepresentable = unrepresentable;
	for (int i = 0; i < plan->nparts; i++)
		if (plan->parts[i].table == ti) {
			r->rows += (uint64_t)plan->parts[i].rows;
			if (plan->parts[i].snapshot_lsn > r->lsn)
				r->lsn = plan->parts[i].snapshot_lsn;
		}
}

/* ---------------------------------------------------------------- the table */

/* The typed columns, added to a state table created before them (in this order, after info). */
static const char *const typed_columns[][2] = {
	{"slot_kept", "Nullable(UInt8)"},
	{"unrepresentable", "Nullable(UInt64)"},
	{"endpoint", "Nullable(String)"},
};
#define N_TYPED ((int)(sizeof typed_columns / sizeof typed_columns[0]))

static void state_table(const Config *cfg, Buf *out)
{
	ch_quote_ident(out, cfg->dest.database);
	buf_put_u8(out, '.');
	ch_quote_ident(out, cfg->dest.state_table);
}

/* Which columns the state table has: *exists, and has[i] for typed_columns[i]. */
static bool state_columns(ChConn *ch, const Config *cfg, bool *exists, bool has[N_TYPED])
{
	Buf ans;
	buf_init(&ans);
	bool ok = ch_columns(ch, cfg->dest.database, cfg->dest.state_table, &ans);
	*exists = false;
	for (int i = 0; i < N_TYPED; i++)
		has[i] = false;
	if (ok) {
		ChTsv tsv;
		ch_tsv_init(&tsv, &ans);
		char *f[1];
		while (ch_tsv_next_line(&tsv, f, 1) >= 0) {
			*exists = *exists || f[0][0];
			for (int i = 0; i < N_TYPED; i++)
				has[i] = has[i] || strcmp(f[0], typed_columns[i][0]) == 0;
		}
	}
	buf_free(&ans);
	return ok;
}

/* ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: add what system.columns lacks. Another
 * pgch sharing the table may add it at the same moment, so a failure is looked at again. */
static bool state_migrate(ChConn *ch, const Config *cfg)
{
	bool exists, has[N_TYPED];
	if (!state_columns(ch, cfg, &exists, has))
		return false;
	Buf sql;
	buf_init(&sql);
	bool ok = true;
	for (int i = 0; ok && i < N_TYPED; i++) {
		if (has[i])
			continue;
		buf_reset(&sql);
		buf_puts(&sql, "ALTER TABLE ");
		state_table(cfg, &sql);
		cluster_on_clause(&cfg->dest, &sql);
		buf_printf(&sql, " ADD COLUMN %s %s AFTER %s", typed_columns[i][0], typed_columns[i][1],
			   i ? typed_columns[i - 1][0] : "info");
		ch->quiet = true;
		ok = cluster_ddl(ch, sql.data);
		ch->quiet = false;
		if (!ok) {
			ok = state_columns(ch, cfg, &exists, has) && has[i];
			if (!ok)
				log_error("cannot add column %s to the state table %s.%s (created by an older pgch): run %s",
					  typed_columns[i][0], cfg->dest.database, cfg->dest.state_table, sql.data);
		} else {
			log_info("added column %s to the state table %s.%s", typed_columns[i][0], cfg->dest.database,
				 cfg->dest.state_table);
		}
	}
	buf_free(&sql);
	return ok;
}

bool state_ensure(ChConn *ch, const Config *cfg)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "CREATE DATABASE IF NOT EXISTS ");
	ch_quote_ident(&sql, cfg->dest.database);
	cluster_on_clause(&cfg->dest, &sql);
	bool ok = cluster_ddl(ch, sql.data);
	buf_reset(&sql);
	buf_puts(&sql, "CREATE TABLE IF NOT EXISTS ");
	state_table(cfg, &sql);
	cluster_on_clause(&cfg->dest, &sql);
	buf_puts(&sql, " (pipe String, source_table String, part Int32, target String, leaf String, "
		       "range_start UInt32, range_end UInt32, status String, rows UInt64, snapshot_lsn UInt64, info String");
	for (int i = 0; i < N_TYPED; i++)
		buf_printf(&sql, ", %s %s", typed_columns[i][0], typed_columns[i][1]);
	buf_puts(&sql, ", updated_at DateTime DEFAULT now(), seq UInt64) ENGINE = ");
	cluster_engine(&cfg->dest, "ReplacingMergeTree", "seq", true, &sql); /* on a cluster: one table over every node */
	buf_puts(&sql, " ORDER BY (pipe, source_table, part)");
	ok = ok && cluster_ddl(ch, sql.data) && state_migrate(ch, cfg);
	buf_free(&sql);
	return ok;
}

bool state_load(ChConn *ch, const Config *cfg, State *st)
{
	memset(st, 0, sizeof *st);
	bool exists, has[N_TYPED];
	if (!state_columns(ch, cfg, &exists, has))
		return false;
	if (!exists)
		return true;
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT source_table, part, target, leaf, range_start, range_end, status, rows, snapshot_lsn, info");
	for (int i = 0; i < N_TYPED; i++) /* "" for NULL, and for a column not added yet */
		buf_printf(&sql, has[i] ? ", ifNull(toString(%s), '')" : ", ''", typed_columns[i][0]);
	buf_puts(&sql, ", toString(updated_at) FROM ");
	state_table(cfg, &sql);
	buf_puts(&sql, " FINAL WHERE pipe = ");
	ch_quote_string(&sql, cfg->pipe.name);
	buf_printf(&sql, " AND status != '%s' ORDER BY source_table, part FORMAT TabSeparated",
		   state_status_name(STATE_FORGOTTEN));
	bool ok = ch_query(ch, sql.data, &ans);
	if (ok) {
		ChTsv tsv;
		ch_tsv_init(&tsv, &ans);
		char *f[14];
		int nf;
		while ((nf = ch_tsv_next_line(&tsv, f, 14)) >= 0) {
			StateRecord r;
			if (!state_decode(f, nf, &r))
				continue;
			st->rows = xrealloc(st->rows, sizeof(StateRecord) * (size_t)(st->n + 1));
			st->rows[st->n++] = r;
		}
	}
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}

void state_free(State *st)
{
	for (int i = 0; i < st->n; i++)
		state_record_free(&st->rows[i]);
	free(st->rows);
	memset(st, 0, sizeof *st);
}

const StateRecord *state_find(const State *st, StateKind kind, const char *table, int part)
{
	for (int i = 0; i < st->n; i++) {
		const StateRecord *r = &st->rows[i];
		if (r->kind != kind)
			continue;
		if ((kind == STATE_TABLE || kind == STATE_PARTITION) && strcmp(r->table, table) != 0)
			continue;
		if (kind == STATE_PARTITION && r->part != part)
			continue;
		return r;
	}
	return NULL;
}

/* Strictly increasing microsecond stamps, so two writes in one process never tie. */
static uint64_t next_seq(void)
{
	static uint64_t last;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t now = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	last = now > last ? now : last + 1;
	return last;
}

typedef struct RowsFill {
	const Config *cfg;
	const StateRecord *rows;
	int n;
	bool sent;
} RowsFill;

static int fill_rows(void *ctx, Buf *out)
{
	RowsFill *f = ctx;
	if (f->sent)
		return 0;
	for (int i = 0; i < f->n; i++)
		state_encode(&f->rows[i], f->cfg->pipe.name, next_seq(), out);
	f->sent = true;
	return 0;
}

bool state_put(ChConn *ch, const Config *cfg, const StateRecord *rows, int n)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "INSERT INTO ");
	state_table(cfg, &sql);
	buf_puts(&sql, " (pipe, source_table, part, target, leaf, range_start, range_end, status, rows, snapshot_lsn, info");
	for (int i = 0; i < N_TYPED; i++)
		buf_printf(&sql, ", %s", typed_columns[i][0]);
	buf_puts(&sql, ", seq) FORMAT TabSeparated");
	RowsFill f = {cfg, rows, n, false};
	bool compress = ch->compress;
	ch->compress = false;
	int endpoint = ch->cur;
	bool ok = ch_insert(ch, sql.data, NULL, fill_rows, &f, NULL);
	if (!ok && ch->cur != endpoint) { /* the node failed half-way and the next one is in use: once more there */
		f.sent = false;
		ok = ch_insert(ch, sql.data, NULL, fill_rows, &f, NULL);
	}
	ch->compress = compress;
	buf_free(&sql);
	return ok;
}

bool state_clear(ChConn *ch, const Config *cfg)
{
	State st;
	if (!state_load(ch, cfg, &st))
		return false;
	bool ok = true;
	if (st.n > 0) {
		/* mark every row of this pipe as forgotten: ALTER ... DELETE is a slow mutation on
		 * old servers, and a newer row with status 'forgotten' is read as absent */
		for (int i = 0; i < st.n; i++)
			st.rows[i].status = STATE_FORGOTTEN;
		ok = state_put(ch, cfg, st.rows, st.n);
	}
	state_free(&st);
	return ok;
}

bool state_forget_table(ChConn *ch, const Config *cfg, const char *table)
{
	State st;
	if (!state_load(ch, cfg, &st))
		return false;
	int n = 0;
	for (int i = 0; i < st.n; i++) {
		StateRecord *r = &st.rows[i];
		if ((r->kind == STATE_TABLE || r->kind == STATE_PARTITION) && strcmp(r->table, table) == 0) {
			r->status = STATE_FORGOTTEN;
			StateRecord tmp = st.rows[n];
			st.rows[n++] = *r;
			*r = tmp;
		}
	}
	bool ok = n == 0 || state_put(ch, cfg, st.rows, n);
	state_free(&st);
	return ok;
}

bool state_mark_needs_resync(ChConn *ch, const Config *cfg, const char *table, const char *target, uint64_t lsn,
			     const char *why)
{
	StateRecord r;
	memset(&r, 0, sizeof r);
	r.kind = STATE_TABLE;
	r.status = STATE_NEEDS_RESYNC;
	r.table = (char *)table;
	r.target = (char *)target;
	r.lsn = lsn;
	r.info = (char *)why;
	return state_put(ch, cfg, &r, 1);
}
