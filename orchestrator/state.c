/*
 * state — the progress table in ClickHouse; see state.h.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"

static void state_table(const Config *cfg, Buf *out)
{
	ch_quote_ident(out, cfg->dest.database);
	buf_put_u8(out, '.');
	ch_quote_ident(out, cfg->dest.state_table);
}

bool state_ensure(ChConn *ch, const Config *cfg)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "CREATE DATABASE IF NOT EXISTS ");
	ch_quote_ident(&sql, cfg->dest.database);
	bool ok = ch_query(ch, sql.data, NULL);
	buf_reset(&sql);
	buf_puts(&sql, "CREATE TABLE IF NOT EXISTS ");
	state_table(cfg, &sql);
	buf_puts(&sql, " (pipe String, source_table String, part Int32, target String, leaf String, "
		       "range_start UInt32, range_end UInt32, status String, rows UInt64, snapshot_lsn UInt64, "
		       "info String, updated_at DateTime DEFAULT now(), seq UInt64) "
		       "ENGINE = ReplacingMergeTree(seq) ORDER BY (pipe, source_table, part)");
	ok = ok && ch_query(ch, sql.data, NULL);
	buf_free(&sql);
	return ok;
}

bool state_load(ChConn *ch, const Config *cfg, State *st)
{
	memset(st, 0, sizeof *st);
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT count() FROM system.tables WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	buf_puts(&sql, " AND name = ");
	ch_quote_string(&sql, cfg->dest.state_table);
	bool ok = ch_query(ch, sql.data, &ans);
	if (!ok || atoi(ans.data) == 0)
		goto out;
	buf_reset(&sql);
	buf_reset(&ans);
	buf_puts(&sql, "SELECT source_table, part, target, leaf, range_start, range_end, status, rows, snapshot_lsn, "
		       "info, toString(updated_at) FROM ");
	state_table(cfg, &sql);
	buf_puts(&sql, " FINAL WHERE pipe = ");
	ch_quote_string(&sql, cfg->pipe.name);
	buf_puts(&sql, " AND status != 'forgotten' ORDER BY source_table, part FORMAT TabSeparated");
	ok = ch_query(ch, sql.data, &ans);
	if (!ok)
		goto out;
	ChTsv tsv;
	ch_tsv_init(&tsv, &ans);
	char *f[11];
	int nf;
	while ((nf = ch_tsv_next_line(&tsv, f, 11)) >= 0) {
		if (nf != 11)
			continue;
		st->rows = xrealloc(st->rows, sizeof(StateRow) * (size_t)(st->n + 1));
		StateRow *r = &st->rows[st->n++];
		r->table = xstrdup(f[0]);
		r->part = atoi(f[1]);
		r->target = xstrdup(f[2]);
		r->leaf = xstrdup(f[3]);
		r->start = (uint32_t)strtoul(f[4], NULL, 10);
		r->end = (uint32_t)strtoul(f[5], NULL, 10);
		r->status = xstrdup(f[6]);
		r->rows = strtoull(f[7], NULL, 10);
		r->lsn = strtoull(f[8], NULL, 10);
		r->info = xstrdup(f[9]);
		r->updated_at = xstrdup(f[10]);
	}
out:
	buf_free(&sql);
	buf_free(&ans);
	return ok;
}

void state_free(State *st)
{
	for (int i = 0; i < st->n; i++) {
		StateRow *r = &st->rows[i];
		free(r->table);
		free(r->target);
		free(r->leaf);
		free(r->status);
		free(r->info);
		free(r->updated_at);
	}
	free(st->rows);
	memset(st, 0, sizeof *st);
}

const StateRow *state_find(const State *st, const char *table, int part)
{
	for (int i = 0; i < st->n; i++)
		if (st->rows[i].part == part && strcmp(st->rows[i].table, table) == 0)
			return &st->rows[i];
	return NULL;
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
	const StateRow *rows;
	int n;
	bool sent;
} RowsFill;

static int fill_rows(void *ctx, Buf *out)
{
	RowsFill *f = ctx;
	if (f->sent)
		return 0;
	for (int i = 0; i < f->n; i++) {
		const StateRow *r = &f->rows[i];
		tsv_field(out, f->cfg->pipe.name);
		buf_put_u8(out, '\t');
		tsv_field(out, r->table);
		buf_printf(out, "\t%d\t", r->part);
		tsv_field(out, r->target);
		buf_put_u8(out, '\t');
		tsv_field(out, r->leaf);
		buf_printf(out, "\t%u\t%u\t", r->start, r->end);
		tsv_field(out, r->status);
		buf_printf(out, "\t%llu\t%llu\t", (unsigned long long)r->rows, (unsigned long long)r->lsn);
		tsv_field(out, r->info);
		buf_printf(out, "\t%llu\n", (unsigned long long)next_seq());
	}
	f->sent = true;
	return 0;
}

bool state_write(ChConn *ch, const Config *cfg, const StateRow *rows, int n)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "INSERT INTO ");
	state_table(cfg, &sql);
	buf_puts(&sql, " (pipe, source_table, part, target, leaf, range_start, range_end, status, rows, snapshot_lsn, "
		       "info, seq) FORMAT TabSeparated");
	RowsFill f = {cfg, rows, n, false};
	bool compress = ch->compress;
	ch->compress = false;
	bool ok = ch_insert(ch, sql.data, NULL, fill_rows, &f, NULL);
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
		for (int i = 0; i < st.n; i++) {
			free(st.rows[i].status);
			st.rows[i].status = xstrdup("forgotten");
		}
		ok = state_write(ch, cfg, st.rows, st.n);
	}
	state_free(&st);
	return ok;
}
