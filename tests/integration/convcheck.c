/*
 * convcheck — proves that the binary and text paths write identical values (ARCHITECTURE.md, "Types").
 *
 *   convcheck CONFIG      (PostgreSQL and ClickHouse from the config; TAP on stdout)
 *
 * For every column of every selected table whose type has a binary converter, it reads
 * all rows twice from PostgreSQL — once in binary send format, once in text output format
 * (the two forms pgoutput may send, 'b' and 't') — converts both with rowbinary_put for the
 * column's ClickHouse type, and compares the RowBinary bytes value by value.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "log.h"
#include "pg.h"
#include "rowbinary.h"
#include "tap.h"

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
	catalog_free(&cat);
	ch_close(&ch);
	PQfinish(pg);
	config_free(cfg);
	curl_global_cleanup();
	return done_testing();
}
