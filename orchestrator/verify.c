/*
 * verify — compare source and destination row by row (pgch verify); the comparison of one
 * table is verify_rows.c's.
 *
 * Consistency while the pipe streams: the source is read under the snapshot of a temporary
 * slot, whose consistent point C is exact, after waiting until the pipe has confirmed
 * (so written to ClickHouse) everything up to C. ClickHouse may hold later changes too; a
 * row there whose version is C or more changed after the snapshot, so a difference on its
 * key is not a difference of the copy. Such keys are compared again, only them, under a
 * new snapshot once the pipe has confirmed its point (up to VERIFY_ROUNDS times): a key
 * still different then is reported; one that keeps changing is counted as "changed during
 * the check". With the pipe stopped, ClickHouse reflects the source up to the slot's
 * position; the output says so, and nothing is compared again.
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
#include "verify_rows.h"

#define VERIFY_WAIT_SECS 120    /* for the pipe to confirm the snapshot's position */
#define VERIFY_ROUNDS 3         /* comparisons again of the keys changed during the check */

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
		ch_quote_ident(&q, c->ch_name);
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

/* ---------------------------------------------------------------- the snapshot */

/*
 * Wait until the pipe has confirmed the snapshot's position, so ClickHouse has every change
 * before it; false when it cannot wait, with *note saying why the comparison may include lag.
 */
static bool wait_for_pipe(PGconn *pg, const Config *cfg, uint64_t upto, Buf *note)
{
	double until = progress_now() + VERIFY_WAIT_SECS;
	for (;;) {
		SlotInfo info;
		if (!slot_info(pg, cfg->pipe.slot, &info) || !info.exists)
			return false; /* no slot: a finished copy, nothing streams into the destination */
		if (info.confirmed_flush >= upto)
			return true;
		char at[32];
		pg_format_lsn(info.confirmed_flush, at, sizeof at);
		if (!info.active) {
			buf_printf(note, "the pipe is not running: ClickHouse reflects the source up to %s, and changes made since "
					 "show as differences until pgch run applies them",
				   at);
			return false;
		}
		if (progress_now() > until) {
			buf_printf(note, "the pipe had not confirmed the check's starting point after %d s (it is at %s): changes "
					 "it has not applied yet show as differences",
				   VERIFY_WAIT_SECS, at);
			return false;
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

/* A snapshot of the source for the check (a temporary slot's, imported on pg), taken once the
 * pipe has confirmed its point when it can; *wal_start: the WAL position then. */
static bool begin_snapshot(const Config *cfg, PGconn *pg, int round, ExportedSnapshot *snap, uint64_t *wal_start,
			   bool *caught_up, Buf *note)
{
	char name[64];
	snprintf(name, sizeof name, "pgch_verify_%d_%d", (int)getpid(), round);
	memset(snap, 0, sizeof *snap);
	if (!slot_create_exported(cfg, name, true, snap))
		return false;
	*caught_up = wait_for_pipe(pg, cfg, snap->lsn, note);
	PGresult *res = import_snapshot(pg, snap) ? pg_query(pg, "SELECT pg_current_wal_lsn()") : NULL;
	bool ok = res && pg_parse_lsn(PQgetvalue(res, 0, 0), wal_start);
	PQclear(res);
	if (!ok)
		slot_release(snap);
	return ok;
}

typedef struct Checked {
	Compare cmp;
	bool absent, ok;
	uint64_t rechecked;   /* keys changed during the check and compared again */
	Buf pg_agg, ch_agg;
} Checked;

/* Compare again the keys that changed during the last pass, under a newer snapshot. */
static void recheck(Checked *c, ChConn *ch, uint64_t since, uint64_t wal_start)
{
	Compare again;
	verify_compare_init(&again, c->cmp.cfg, c->cmp.t, c->cmp.pg);
	Buf pw, cw;
	buf_init(&pw);
	buf_init(&cw);
	verify_recheck_where(&c->cmp, &pw, &cw);
	again.pg_where = pw.data;
	again.ch_where = cw.data;
	again.since = since;
	again.wal_start = wal_start;
	if (!verify_compare_table(&again, ch, &ch->caps)) {
		c->ok = false;
	} else {
		/* the kept keys are settled now, except those that changed again */
		c->rechecked += (uint64_t)c->cmp.nrecheck;
		c->cmp.changed = c->cmp.changed - (uint64_t)c->cmp.nrecheck + again.changed;
		c->cmp.differ += again.differ;
		for (const char *p = again.shown.data; p && *p && c->cmp.nshown < VERIFY_SHOW; c->cmp.nshown++) {
			size_t len = strcspn(p, "\n") + 1;
			buf_put(&c->cmp.shown, p, len);
			p += len;
		}
		if (again.shown_json.len) {
			buf_puts(&c->cmp.shown_json, c->cmp.shown_json.len ? ", " : "");
			buf_put(&c->cmp.shown_json, again.shown_json.data, again.shown_json.len);
		}
		Buf tmp = c->cmp.recheck_pg;
		c->cmp.recheck_pg = again.recheck_pg;
		again.recheck_pg = tmp;
		tmp = c->cmp.recheck_ch;
		c->cmp.recheck_ch = again.recheck_ch;
		again.recheck_ch = tmp;
		c->cmp.nrecheck = again.nrecheck;
	}
	verify_compare_free(&again);
	buf_free(&pw);
	buf_free(&cw);
}

/* One table's result, as a line (and its differences) or a JSON object. */
static void print_table(Buf *out, const Checked *c, bool json, bool first)
{
	const Compare *cmp = &c->cmp;
	const Table *t = cmp->t;
	const char *result = c->absent ? "MISSING" : !c->ok ? "ERROR" : cmp->differ == 0 ? "OK" : "DIFFERS";
	if (json) {
		buf_puts(out, first ? "{\"source\": " : ", {\"source\": ");
		buf_json_string(out, t->display);
		buf_puts(out, ", \"target\": ");
		buf_json_string(out, t->target);
		buf_puts(out, ", \"result\": ");
		buf_json_string(out, result);
		buf_puts(out, ", \"postgresql\": ");
		buf_json_string(out, c->pg_agg.data ? c->pg_agg.data : "");
		buf_puts(out, ", \"clickhouse\": ");
		buf_json_string(out, c->ch_agg.data ? c->ch_agg.data : "");
		buf_printf(out, ", \"rows_postgresql\": %llu, \"rows_clickhouse\": %llu, \"differences\": %llu, "
				"\"changed_during_check\": %llu, \"rechecked\": %llu, \"shown\": [%s]}",
			   (unsigned long long)cmp->pg_rows, (unsigned long long)cmp->ch_rows, (unsigned long long)cmp->differ,
			   (unsigned long long)cmp->changed, (unsigned long long)c->rechecked,
			   cmp->shown_json.data ? cmp->shown_json.data : "");
		return;
	}
	buf_printf(out, "%-36s %-8s %s | %s\n", t->display, result, c->pg_agg.data ? c->pg_agg.data : "",
		   c->ch_agg.data ? c->ch_agg.data : "");
	if (cmp->differ)
		buf_printf(out, "  %llu row%s differ%s:\n%s%s", (unsigned long long)cmp->differ, cmp->differ == 1 ? "" : "s",
			   cmp->differ == 1 ? "s" : "", cmp->shown.data, cmp->differ > (uint64_t)cmp->nshown ? "    ...\n" : "");
	if (c->rechecked)
		buf_printf(out, "  %llu row%s changed during the check, compared again once the pipe had applied the change%s\n",
			   (unsigned long long)c->rechecked, c->rechecked == 1 ? "" : "s", c->rechecked == 1 ? "" : "s");
	if (cmp->changed)
		buf_printf(out, "  %llu row%s kept changing at the source during the check (not compared)\n",
			   (unsigned long long)cmp->changed, cmp->changed == 1 ? "" : "s");
}

int verify_run(const Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const char *only, bool json)
{
	Buf present, note;
	buf_init(&present);
	buf_init(&note);
	int nselected = 0, ncompare = 0;
	if (!destination_tables(ch, cfg, &present)) {
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
		buf_free(&present);
		buf_free(&note);
		return 2;
	}
	ExportedSnapshot snap;
	uint64_t wal_start = 0;
	bool caught_up = false;
	if (ncompare > 0 && !begin_snapshot(cfg, pg, 0, &snap, &wal_start, &caught_up, &note)) {
		buf_free(&present);
		buf_free(&note);
		return 1;
	}
	Checked *checked = xcalloc((size_t)nselected + 1, sizeof(Checked));
	int n = 0;
	for (int i = 0; i < cat->ntables; i++) {
		const Table *t = &cat->tables[i];
		if (!selected(t, only))
			continue;
		Checked *c = &checked[n++];
		verify_compare_init(&c->cmp, cfg, t, pg);
		c->cmp.since = snap.lsn;
		c->cmp.wal_start = wal_start;
		buf_init(&c->pg_agg);
		buf_init(&c->ch_agg);
		c->absent = !listed(&present, t->target);
		if (c->absent)
			buf_puts(&c->ch_agg, "not in ClickHouse");
		else
			c->ok = pg_aggregates(pg, t, &c->pg_agg) && ch_aggregates(ch, cfg, t, &c->ch_agg) &&
				verify_compare_table(&c->cmp, ch, &ch->caps);
	}
	if (ncompare > 0) {
		pg_exec(pg, "COMMIT");
		slot_release(&snap);
	}
	/* keys changed during the check, again under newer snapshots while the pipe keeps up */
	for (int round = 1; caught_up && round <= VERIFY_ROUNDS; round++) {
		bool any = false;
		for (int i = 0; i < n; i++)
			any = any || (checked[i].ok && checked[i].cmp.nrecheck > 0);
		if (!any || !begin_snapshot(cfg, pg, round, &snap, &wal_start, &caught_up, &note))
			break;
		for (int i = 0; i < n && caught_up; i++)
			if (checked[i].ok && checked[i].cmp.nrecheck > 0)
				recheck(&checked[i], ch, snap.lsn, wal_start);
		pg_exec(pg, "COMMIT");
		slot_release(&snap);
	}
	int differ = 0, failed = 0, missing = 0;
	Buf out;
	buf_init(&out);
	if (json)
		buf_puts(&out, "{\"tables\": [");
	else
		buf_printf(&out, "%-36s %-8s %s\n", "TABLE", "RESULT", "POSTGRESQL | CLICKHOUSE (count|sum|min|max of integer keys)");
	for (int i = 0; i < n; i++) {
		Checked *c = &checked[i];
		missing += c->absent;
		failed += !c->ok && !c->absent;
		differ += c->ok && c->cmp.differ > 0;
		print_table(&out, c, json, i == 0);
		verify_compare_free(&c->cmp);
		buf_free(&c->pg_agg);
		buf_free(&c->ch_agg);
	}
	free(checked);
	if (json) {
		buf_printf(&out, "], \"ok\": %s, \"note\": ", differ || failed || missing ? "false" : "true");
		buf_json_string(&out, note.data ? note.data : "");
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
