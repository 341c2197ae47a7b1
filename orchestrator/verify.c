/*
 * verify — compare source and destination table by table (pgch verify, DESIGN.md §7).
 *
 * For each table: the row count in PostgreSQL against the deduplicated count in ClickHouse
 * (FINAL, not deleted), and for each integer key column its sum, minimum and maximum on
 * both sides — cheap aggregates that catch missing, extra and misplaced rows without
 * moving the data. While `pgch run` streams, the destination trails the source by the
 * replication lag, so a difference is re-checked a few times before it is reported.
 */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "pg.h"
#include "plan.h"

#define VERIFY_ATTEMPTS 3

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

int verify_run(const Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, bool json)
{
	Buf out, present;
	buf_init(&out);
	buf_init(&present);
	if (!destination_tables(ch, cfg, &present)) {
		buf_free(&present);
		return 1;
	}
	int differ = 0, failed = 0, missing = 0;
	if (json)
		buf_puts(&out, "{\"tables\": [");
	else
		buf_printf(&out, "%-36s %-8s %s\n", "TABLE", "RESULT", "POSTGRESQL | CLICKHOUSE (count|sum|min|max of integer keys)");
	for (int i = 0; i < cat->ntables; i++) {
		const Table *t = &cat->tables[i];
		Buf a, b;
		buf_init(&a);
		buf_init(&b);
		bool ok = false, same = false;
		bool absent = !listed(&present, t->target);
		missing += absent;
		for (int attempt = 0; attempt < VERIFY_ATTEMPTS && !same && !absent; attempt++) {
			if (attempt) {
				struct timespec ts = {2, 0}; /* the destination may trail by the replication lag */
				nanosleep(&ts, NULL);
			}
			buf_reset(&a);
			buf_reset(&b);
			ok = pg_aggregates(pg, t, &a) && ch_aggregates(ch, cfg, t, &b);
			if (!ok)
				break;
			same = strcmp(a.data, b.data) == 0;
		}
		const char *result = absent ? "MISSING" : !ok ? "ERROR" : same ? "OK" : "DIFFERS";
		if (absent)
			buf_puts(&b, "not in ClickHouse");
		failed += !ok && !absent;
		differ += ok && !same;
		if (json) {
			buf_puts(&out, i ? ", {\"source\": " : "{\"source\": ");
			buf_json_string(&out, t->display);
			buf_puts(&out, ", \"target\": ");
			buf_json_string(&out, t->target);
			buf_puts(&out, ", \"result\": ");
			buf_json_string(&out, result);
			buf_puts(&out, ", \"postgresql\": ");
			buf_json_string(&out, a.data);
			buf_puts(&out, ", \"clickhouse\": ");
			buf_json_string(&out, b.data);
			buf_puts(&out, "}");
		} else {
			buf_printf(&out, "%-36s %-8s %s | %s\n", t->display, result, a.data, b.data);
		}
		buf_free(&a);
		buf_free(&b);
	}
	if (json)
		buf_printf(&out, "], \"ok\": %s}\n", differ || failed || missing ? "false" : "true");
	else if (missing)
		buf_printf(&out, "\n%d table%s not in ClickHouse database %s: copy %s with pgch snapshot or pgch run\n", missing,
			   missing == 1 ? " is" : "s are", cfg->dest.database, missing == 1 ? "it" : "them");
	if (!json && differ)
		buf_printf(&out, "\n%d table%s differ: copy %s again with pgch resync --table NAME (or pgch snapshot --restart)\n",
			   differ, differ == 1 ? "" : "s", differ == 1 ? "it" : "them");
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
	buf_free(&present);
	return differ || failed || missing ? 1 : 0;
}
