/*
 * convcheck — proves that the binary and text paths write identical values (ARCHITECTURE.md, "Types").
 *
 *   convcheck CONFIG      (PostgreSQL and ClickHouse from the config; TAP on stdout)
 *
 * For every column of every selected table whose type has a binary converter, it reads
 * all rows twice from PostgreSQL — once in binary send format, once in text output format
 * (the two forms pgoutput may send, 'b' and 't') — converts both with rowbinary_put for the
 * column's ClickHouse type, and compares the RowBinary bytes value by value.
 *
 * Where the snapshot writes ClickHouse's Native format (native_chosen), it also proves the
 * two formats equal through the server: every table's rows, converted once, are inserted
 * as RowBinary into one copy of the table and as Native (two-row blocks, so that offsets
 * and null maps restart) into another, and the two copies must read back the same.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "log.h"
#include "native.h"
#include "pg.h"
#include "plan.h"
#include "rowbinary.h"
#include "tap.h"

/* ch_insert's producer: the prepared body, once. */
static int fill_once(void *ctx, Buf *out)
{
	Buf *body = ctx;
	if (body->len == 0)
		return 0;
	buf_put(out, body->data, body->len);
	buf_reset(body);
	return 1;
}

/* Create `target` as the planned table for t, fill it from body in `format`, read it back. */
static bool load_copy(ChConn *ch, const Config *cfg, const Table *t, const char *target, bool native, Buf *body,
		      Buf *rows)
{
	Table copy = *t;
	copy.target = (char *)target;
	copy.after = NULL;
	copy.nafter = 0;
	Buf sql;
	buf_init(&sql);
	plan_drop_sql(&copy, cfg, &ch->caps, &sql);
	bool okq = ch_query(ch, sql.data, NULL);
	buf_reset(&sql);
	plan_create_table(&copy, cfg, &ch->caps, &sql);
	okq = okq && ch_query(ch, sql.data, NULL);
	char *insert = plan_insert_sql(&copy, cfg, native ? "Native" : "RowBinary");
	okq = okq && ch_insert(ch, insert, NULL, fill_once, body, NULL);
	free(insert);
	char *cols = catalog_insert_columns(&copy, cfg);
	buf_reset(&sql);
	buf_printf(&sql, "SELECT %s FROM ", cols);
	plan_target(&copy, cfg, &sql);
	buf_puts(&sql, " ORDER BY ");
	ch_quote_ident(&sql, t->cols[t->key[0]].name);
	buf_puts(&sql, " FORMAT TabSeparated");
	free(cols);
	okq = okq && ch_query(ch, sql.data, rows);
	buf_free(&sql);
	return okq;
}

/* The table's rows as RowBinary and as Native, inserted into two copies that must match. */
static void check_native(PGconn *pg, ChConn *ch, const Config *cfg, const Table *t)
{
	char *list = catalog_select_list(t);
	char *k = pg_quote_ident(pg, t->cols[t->key[0]].name);
	char *sql = xasprintf("SELECT %s FROM %s ORDER BY %s", list, t->qualified, k);
	free(list);
	free(k);
	PGresult *res = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 1);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ok(0, "%s: query failed: %s", t->display, PQresultErrorMessage(res));
		PQclear(res);
		return;
	}
	ColConv *conv = xcalloc((size_t)t->ncols, sizeof(ColConv));
	for (int c = 0; c < t->ncols; c++)
		catalog_conv_init(&t->cols[c], &ch->caps, &conv[c]);
	NativeBlock nb;
	native_init(&nb, t, cfg, 1);
	nb.max_rows = 2;
	Buf rb, nat;
	buf_init(&rb);
	buf_init(&nat);
	bool conv_ok = true;
	char err[256];
	for (int r = 0; r < PQntuples(res); r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *v = PQgetvalue(res, r, c);
			int len = PQgetisnull(res, r, c) ? -1 : PQgetlength(res, r, c);
			conv_ok = conv_ok && rowbinary_put(&conv[c], t->cols[c].binary, v, len, &rb, err, sizeof err) == CONV_OK &&
				  native_put(&nb, c, &conv[c], t->cols[c].binary, v, len, err, sizeof err) == CONV_OK;
		}
		buf_put_le(&rb, 1, 8);
		buf_put_u8(&rb, 0);
		if (native_row_done(&nb))
			native_flush(&nb, &nat);
	}
	native_flush(&nb, &nat);
	Buf got_rb, got_nat;
	buf_init(&got_rb);
	buf_init(&got_nat);
	char name_rb[200], name_nat[200];
	snprintf(name_rb, sizeof name_rb, "%s_rowbinary", t->target);
	snprintf(name_nat, sizeof name_nat, "%s_native", t->target);
	bool loaded = conv_ok && load_copy(ch, cfg, t, name_rb, false, &rb, &got_rb) &&
		      load_copy(ch, cfg, t, name_nat, true, &nat, &got_nat);
	ok(loaded && got_rb.len > 0 && strcmp(got_rb.data, got_nat.data) == 0,
	   "%s: %d rows read back the same from a RowBinary and a Native INSERT (%zu bytes)", t->display,
	   PQntuples(res), got_rb.len);
	if (!loaded)
		printf("# %s\n", conv_ok ? (ch->last_error ? ch->last_error : "?") : err);
	else if (strcmp(got_rb.data, got_nat.data) != 0)
		printf("# RowBinary:\n%s# Native:\n%s", got_rb.data, got_nat.data);
	for (int c = 0; c < t->ncols; c++)
		rowbinary_free(&conv[c]);
	free(conv);
	native_free(&nb);
	buf_free(&rb);
	buf_free(&nat);
	buf_free(&got_rb);
	buf_free(&got_nat);
	PQclear(res);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: convcheck CONFIG\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Config *cfg = config_load(argv[1]);
	if (!cfg)
		return 2;
	PGconn *pg = pg_connect(cfg, PG_CONN_NORMAL, "convcheck");
	ChConn ch;
	if (!pg || !ch_open(&ch, &cfg->dest) || !ch_probe(&ch))
		return 1;
	Catalog cat;
	if (!catalog_discover(pg, cfg, &ch.caps, &cat))
		return 1;
	int compared = 0;
	/* pass 0: this server's mapping; pass 1: a modern server's (Date32, DateTime64, Bool,
	 * Decimal256, LowCardinality): the converters need no server to be compared */
	ChCaps modern;
	types_caps_modern(&modern);
	for (int pass = 0; pass < 2; pass++)
	for (int ti = 0; ti < cat.ntables; ti++) {
		Table *t = &cat.tables[ti];
		for (int c = 0; c < t->ncols; c++) {
			Column mapped = t->cols[c];
			Column *col = &mapped;
			if (pass == 1) {
				types_map(&col->pg, &modern, NULL, &col->ch, &col->kind);
				col->binary = types_binary_ok(col->kind, &col->ch);
			}
			const ChCaps *caps = pass ? &modern : &ch.caps;
			if (!col->binary)
				continue; /* always travels as text */
			char *q = pg_quote_ident(pg, col->name);
			char *k = pg_quote_ident(pg, t->cols[t->key[0]].name);
			char *sql = xasprintf("SELECT %s FROM %s ORDER BY %s", q, t->qualified, k);
			free(q);
			free(k);
			PGresult *bin = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 1);
			PGresult *txt = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0);
			free(sql);
			if (PQresultStatus(bin) != PGRES_TUPLES_OK || PQresultStatus(txt) != PGRES_TUPLES_OK ||
			    PQntuples(bin) != PQntuples(txt)) {
				ok(0, "%s.%s: query failed: %s", t->display, col->name, PQresultErrorMessage(bin));
				continue;
			}
			ColConv cb, ct;
			col->policy = UNREP_NULL;
			catalog_conv_init(col, caps, &cb);
			catalog_conv_init(col, caps, &ct);
			Buf ob, ot;
			buf_init(&ob);
			buf_init(&ot);
			int same = 0, rows = PQntuples(bin);
			char errb[256] = "", errt[256] = "";
			for (int r = 0; r < rows; r++) {
				buf_reset(&ob);
				buf_reset(&ot);
				ConvResult rb = rowbinary_put(&cb, true, PQgetvalue(bin, r, 0), PQgetisnull(bin, r, 0) ? -1 : PQgetlength(bin, r, 0),
							      &ob, errb, sizeof errb);
				ConvResult rt = rowbinary_put(&ct, false, PQgetvalue(txt, r, 0), PQgetisnull(txt, r, 0) ? -1 : PQgetlength(txt, r, 0),
							      &ot, errt, sizeof errt);
				if (rb == rt && ob.len == ot.len && memcmp(ob.data, ot.data, ob.len) == 0)
					same++;
				else
					printf("# %s.%s row %d: text '%s' differs (%s / %s)\n", t->display, col->name, r,
					       PQgetisnull(txt, r, 0) ? "NULL" : PQgetvalue(txt, r, 0), errb, errt);
			}
			Buf tn;
			buf_init(&tn);
			types_ch_name(&col->ch, &tn);
			ok(same == rows && rows > 0, "%s.%s (%s as %s%s, %s server): %d/%d values identical from binary and text",
			   t->display, col->name, col->type_name, tn.data, col->ch.text_form ? " text form" : "",
			   pass ? "modern" : "this", same, rows);
			buf_free(&tn);
			compared++;
			rowbinary_free(&cb);
			rowbinary_free(&ct);
			buf_free(&ob);
			buf_free(&ot);
			PQclear(bin);
			PQclear(txt);
		}
	}
	ok(compared > 40, "compared %d columns under both mappings", compared);
	if (native_chosen(&ch.caps)) {
		Buf db;
		buf_init(&db);
		plan_create_database(cfg, &db);
		if (ch_query(&ch, db.data, NULL))
			for (int ti = 0; ti < cat.ntables; ti++)
				check_native(pg, &ch, cfg, &cat.tables[ti]);
		else
			ok(0, "create the database: %s", ch.last_error ? ch.last_error : "?");
		buf_free(&db);
	}
	catalog_free(&cat);
	ch_close(&ch);
	PQfinish(pg);
	config_free(cfg);
	curl_global_cleanup();
	return done_testing();
}
