/*
 * slot — publication and replication slot management; see slot.h.
 */
#include "slot.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "pg.h"
#include "rowfilter.h"

void slot_publication_sql(PGconn *conn, const Config *cfg, const Catalog *cat, Buf *out)
{
	char *pub = pg_quote_ident(conn, cfg->pipe.publication);
	buf_printf(out, "CREATE PUBLICATION %s FOR TABLE ", pub);
	free(pub);
	for (int i = 0; i < cat->ntables; i++) {
		buf_puts(out, i ? ", " : "");
		rowfilter_publication_table(conn, &cat->tables[i], cat->server_version, out);
	}
	buf_puts(out, " WITH (publish_via_partition_root = true)");
}

bool slot_publication_fix_sql(PGconn *conn, const Config *cfg, const Catalog *cat, const char *neutral_oids, Buf *out)
{
	Buf want;
	buf_init(&want);
	buf_put_u8(&want, '{');
	for (int i = 0; i < cat->ntables; i++)
		buf_printf(&want, "%s%u", i ? "," : "", cat->tables[i].oid);
	buf_put_u8(&want, '}');
	const char *params[3] = {cfg->pipe.publication, want.data, neutral_oids ? neutral_oids : "{}"};
	PGresult *res = pg_query_params(
		conn,
		"SELECT p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate, p.pubviaroot, "
		"(SELECT coalesce(array_agg(oid), '{}') FROM unnest($2::oid[]) oid WHERE oid NOT IN "
		"(SELECT prrelid FROM pg_publication_rel WHERE prpubid = p.oid))::text, "
		"(SELECT coalesce(string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY 1), '') "
		"FROM pg_publication_rel r JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
		"WHERE r.prpubid = p.oid AND r.prrelid <> ALL ($2::oid[]) AND r.prrelid <> ALL ($3::oid[])) "
		"FROM pg_publication p WHERE p.pubname = $1",
		3, params);
	buf_free(&want);
	if (!res)
		return false;
	if (PQntuples(res) == 1) {
		char *pub = pg_quote_ident(conn, cfg->pipe.publication);
		const char *missing = PQgetvalue(res, 0, 2), *extra = PQgetvalue(res, 0, 3);
		bool first = true;
		for (int i = 0; i < cat->ntables; i++) { /* in the catalog's order, with filters and column lists */
			char oid[16];
			snprintf(oid, sizeof oid, "%u", cat->tables[i].oid);
			bool in = false;
			for (const char *p = missing; (p = strstr(p, oid)) != NULL; p += strlen(oid))
				if ((p[-1] == '{' || p[-1] == ',') && (p[strlen(oid)] == '}' || p[strlen(oid)] == ','))
					in = true;
			if (!in)
				continue;
			buf_printf(out, first ? "%sALTER PUBLICATION %s ADD TABLE " : ", ", out->len ? "; " : "", pub);
			rowfilter_publication_table(conn, &cat->tables[i], cat->server_version, out);
			first = false;
		}
		if (extra[0])
			buf_printf(out, "%sALTER PUBLICATION %s DROP TABLE %s", out->len ? "; " : "", pub, extra);
		if (PQgetvalue(res, 0, 0)[0] != 't')
			buf_printf(out, "%sALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate')",
				   out->len ? "; " : "", pub);
		if (PQgetvalue(res, 0, 1)[0] != 't')
			buf_printf(out, "%sALTER PUBLICATION %s SET (publish_via_partition_root = true)", out->len ? "; " : "", pub);
		free(pub);
	}
	PQclear(res);
	return true;
}

/* Per published table: oid, row filter and column list as PostgreSQL prints them ("": none). */
static PGresult *publication_entries(PGconn *conn, const char *const *params)
{
	return pg_query_params(conn,
			       "SELECT r.prrelid, coalesce(pg_get_expr(r.prqual, r.prrelid), ''), coalesce(r.prattrs::text, '') "
			       "FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid WHERE p.pubname = $1",
			       1, params);
}

/* The row of table oid in publication_entries' result, or -1. */
static int entry_of(const PGresult *res, uint32_t oid)
{
	for (int j = 0; j < PQntuples(res); j++)
		if (strtoul(PQgetvalue(res, j, 0), NULL, 10) == oid)
			return j;
	return -1;
}

/*
 * PostgreSQL 15+, when a table has (or had) a row filter or a column list: set the
 * publication's whole table list in one statement, which keeps the entries that do not
 * change. The filters as PostgreSQL prints them before and after tell which tables' filters
 * changed (filter_changed[i]): their rows in ClickHouse were chosen by the old filter.
 */
static bool set_tables(PGconn *conn, const Config *cfg, const Catalog *cat, const char *pub, PGresult *before,
		       bool *filter_changed)
{
	const char *params[1] = {cfg->pipe.publication};
	Buf sql;
	buf_init(&sql);
	buf_printf(&sql, "ALTER PUBLICATION %s SET TABLE ", pub);
	for (int i = 0; i < cat->ntables; i++) {
		buf_puts(&sql, i ? ", " : "");
		rowfilter_publication_table(conn, &cat->tables[i], cat->server_version, &sql);
	}
	bool ok = pg_exec(conn, "BEGIN");
	PGresult *after = NULL;
	if (ok) {
		PGresult *r = PQexecParams(conn, sql.data, 0, NULL, NULL, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("cannot change publication %s: %s. Fix: as its owner (or a superuser) run: %s",
				  cfg->pipe.publication, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), sql.data);
			ok = false;
		}
		PQclear(r);
	}
	if (ok)
		ok = (after = publication_entries(conn, params)) != NULL;
	for (int i = 0; ok && i < cat->ntables; i++) {
		int b = entry_of(before, cat->tables[i].oid), a = entry_of(after, cat->tables[i].oid);
		if (b < 0) {
			log_info("added %s to publication %s", cat->tables[i].display, cfg->pipe.publication);
			continue;
		}
		if (a >= 0 && strcmp(PQgetvalue(before, b, 1), PQgetvalue(after, a, 1)) != 0) {
			log_info("%s: its row filter in publication %s changed from \"%s\" to \"%s\"", cat->tables[i].display,
				 cfg->pipe.publication, PQgetvalue(before, b, 1), PQgetvalue(after, a, 1));
			if (filter_changed)
				filter_changed[i] = true;
		}
	}
	for (int j = 0; ok && j < PQntuples(before); j++)
		if (entry_of(after, (uint32_t)strtoul(PQgetvalue(before, j, 0), NULL, 10)) < 0)
			log_info("removed table oid %s from publication %s (no longer selected)", PQgetvalue(before, j, 0),
				 cfg->pipe.publication);
	PQclear(after);
	ok = pg_exec(conn, ok ? "COMMIT" : "ROLLBACK") && ok;
	buf_free(&sql);
	return ok;
}

/* Must the publication's entries be set (rowfilter): a filter or column list wanted or present? */
static bool entries_need_set(const Catalog *cat, const PGresult *before)
{
	if (cat->server_version < ROWFILTER_MIN_VERSION)
		return false;
	for (int i = 0; i < cat->ntables; i++) {
		const Table *t = &cat->tables[i];
		if ((t->rule && t->rule->where) || rowfilter_has_column_list(t, cat->server_version))
			return true;
	}
	for (int j = 0; j < PQntuples(before); j++)
		if (PQgetvalue(before, j, 1)[0] || PQgetvalue(before, j, 2)[0])
			return true;
	return false;
}

bool slot_ensure_publication(PGconn *conn, const Config *cfg, const Catalog *cat, bool *filter_changed)
{
	const char *params[1] = {cfg->pipe.publication};
	PGresult *res = pg_query_params(conn,
					"SELECT p.oid, p.pubviaroot, p.puballtables, p.pubinsert AND p.pubupdate AND "
					"p.pubdelete AND p.pubtruncate FROM pg_publication p WHERE p.pubname = $1",
					1, params);
	if (!res)
		return false;
	bool ok = true;
	Buf sql;
	buf_init(&sql);
	char *pub = pg_quote_ident(conn, cfg->pipe.publication);
	if (PQntuples(res) == 0) {
		slot_publication_sql(conn, cfg, cat, &sql);
		PGresult *r = PQexec(conn, sql.data);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("cannot create publication %s: %s. Fix: as the owner of the tables (or a superuser) run: %s",
				  cfg->pipe.publication, PQresultErrorMessage(r), sql.data);
			ok = false;
		} else {
			log_info("created publication %s for %d table%s", cfg->pipe.publication, cat->ntables,
				 cat->ntables == 1 ? "" : "s");
		}
		PQclear(r);
		goto out;
	}
	if (PQgetvalue(res, 0, 2)[0] == 't') {
		log_error("publication %s is FOR ALL TABLES; pgch needs a publication of exactly the selected tables: "
			  "choose another pipe.publication",
			  cfg->pipe.publication);
		ok = false;
		goto out;
	}
	if (PQgetvalue(res, 0, 3)[0] != 't') {
		buf_reset(&sql);
		buf_printf(&sql, "ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate')", pub);
		ok = pg_exec(conn, sql.data);
	}
	if (ok && PQgetvalue(res, 0, 1)[0] != 't') {
		buf_reset(&sql);
		buf_printf(&sql, "ALTER PUBLICATION %s SET (publish_via_partition_root = true)", pub);
		ok = pg_exec(conn, sql.data);
	}
	/* tables to add and to remove */
	PGresult *rels = !ok ? NULL
		       : cat->server_version >= ROWFILTER_MIN_VERSION
			       ? publication_entries(conn, params)
			       : pg_query_params(conn,
						 "SELECT r.prrelid FROM pg_publication_rel r JOIN pg_publication p ON p.oid = "
						 "r.prpubid WHERE p.pubname = $1",
						 1, params);
	if (!rels) {
		ok = false;
		goto out;
	}
	if (entries_need_set(cat, rels)) {
		ok = set_tables(conn, cfg, cat, pub, rels, filter_changed);
		PQclear(rels);
		goto out;
	}
	for (int i = 0; ok && i < cat->ntables; i++) {
		bool present = false;
		for (int j = 0; j < PQntuples(rels); j++)
			if (strtoul(PQgetvalue(rels, j, 0), NULL, 10) == cat->tables[i].oid)
				present = true;
		if (!present) {
			buf_reset(&sql);
			buf_printf(&sql, "ALTER PUBLICATION %s ADD TABLE %s", pub, cat->tables[i].qualified);
			ok = pg_exec(conn, sql.data);
			if (ok)
				log_info("added %s to publication %s", cat->tables[i].display, cfg->pipe.publication);
		}
	}
	for (int j = 0; ok && j < PQntuples(rels); j++) {
		uint32_t oid = (uint32_t)strtoul(PQgetvalue(rels, j, 0), NULL, 10);
		bool wanted = false;
		for (int i = 0; i < cat->ntables; i++)
			wanted = wanted || cat->tables[i].oid == oid;
		if (!wanted) {
			/* name it through regclass so quoting is PostgreSQL's own */
			buf_reset(&sql);
			buf_printf(&sql, "SELECT %u::oid::regclass::text", oid);
			PGresult *n = pg_query(conn, sql.data);
			if (n) {
				buf_reset(&sql);
				buf_printf(&sql, "ALTER PUBLICATION %s DROP TABLE %s", pub, PQgetvalue(n, 0, 0));
				ok = pg_exec(conn, sql.data);
				if (ok)
					log_info("removed %s from publication %s (no longer selected)", PQgetvalue(n, 0, 0),
						 cfg->pipe.publication);
				PQclear(n);
			}
		}
	}
	PQclear(rels);
out:
	free(pub);
	buf_free(&sql);
	PQclear(res);
	return ok;
}

bool slot_info(PGconn *conn, const char *slot, SlotInfo *info)
{
	memset(info, 0, sizeof *info);
	const char *params[1] = {slot};
	bool has_wal_status = PQserverVersion(conn) >= 130000;
	PGresult *res = pg_query_params(conn,
					has_wal_status
						? "SELECT active, confirmed_flush_lsn, restart_lsn, coalesce(wal_status, ''), "
						  "coalesce(plugin, ''), coalesce(database, '') FROM pg_replication_slots WHERE slot_name = $1"
						: "SELECT active, confirmed_flush_lsn, restart_lsn, '', coalesce(plugin, ''), "
						  "coalesce(database, '') FROM pg_replication_slots WHERE slot_name = $1",
					1, params);
	if (!res)
		return false;
	if (PQntuples(res) == 1) {
		info->exists = true;
		info->active = PQgetvalue(res, 0, 0)[0] == 't';
		pg_parse_lsn(PQgetvalue(res, 0, 1), &info->confirmed_flush);
		pg_parse_lsn(PQgetvalue(res, 0, 2), &info->restart_lsn);
		snprintf(info->wal_status, sizeof info->wal_status, "%s", PQgetvalue(res, 0, 3));
		snprintf(info->plugin, sizeof info->plugin, "%s", PQgetvalue(res, 0, 4));
		snprintf(info->database, sizeof info->database, "%s", PQgetvalue(res, 0, 5));
	}
	PQclear(res);
	return true;
}

bool slot_create_exported(const Config *cfg, const char *slot, bool temporary, ExportedSnapshot *out)
{
	memset(out, 0, sizeof *out);
	PGconn *conn = pg_connect(cfg, PG_CONN_REPLICATION, temporary ? "snapshot-export" : "slot");
	if (!conn)
		return false;
	/* the exporting connection must outlive every import: no timeout may end it */
	const char *guard = PQserverVersion(conn) >= 140000
				    ? "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
				      "SET idle_session_timeout = 0"
				    : "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0";
	if (!pg_exec(conn, guard)) {
		PQfinish(conn);
		return false;
	}
	char *q = pg_quote_ident(conn, slot);
	char *sql = xasprintf("CREATE_REPLICATION_SLOT %s %sLOGICAL pgoutput EXPORT_SNAPSHOT", q, temporary ? "TEMPORARY " : "");
	free(q);
	log_info("creating %sreplication slot %s (waits for transactions running now to finish)",
		 temporary ? "temporary " : "", slot);
	PGresult *res = PQexec(conn, sql);
	free(sql);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
		switch (slot_refusal(pg_sqlstate(res))) {
		case SLOT_REFUSED_EXISTS:
			log_error("replication slot %s already exists but this pipe has no record of creating it: if no "
				  "other pipe uses it, drop it (SELECT pg_drop_replication_slot('%s')), or set pipe.slot",
				  slot, slot);
			break;
		case SLOT_REFUSED_PRIVILEGE:
			log_error("cannot create replication slot %s: %s. Fix: ALTER ROLE %s REPLICATION", slot, msg, PQuser(conn));
			break;
		case SLOT_REFUSED_OTHER:
			log_error("cannot create replication slot %s: %s", slot, msg);
			break;
		}
		PQclear(res);
		PQfinish(conn);
		return false;
	}
	out->conn = conn;
	out->slot = xstrdup(slot);
	out->name = xstrdup(PQgetvalue(res, 0, 2));
	pg_parse_lsn(PQgetvalue(res, 0, 1), &out->lsn);
	out->temporary = temporary;
	char lsn[32];
	pg_format_lsn(out->lsn, lsn, sizeof lsn);
	log_info("%sslot %s created at %s, snapshot %s", temporary ? "temporary " : "", slot, lsn, out->name);
	PQclear(res);
	return true;
}

SlotRefusal slot_refusal(const char *sqlstate)
{
	if (strcmp(sqlstate, PG_DUPLICATE_OBJECT) == 0)
		return SLOT_REFUSED_EXISTS;
	if (strcmp(sqlstate, PG_INSUFFICIENT_PRIVILEGE) == 0)
		return SLOT_REFUSED_PRIVILEGE;
	return SLOT_REFUSED_OTHER;
}

bool slot_snapshot_alive(ExportedSnapshot *s)
{
	if (!s->conn)
		return false;
	struct pollfd pfd = {PQsocket(s->conn), POLLIN, 0};
	if (pfd.fd < 0)
		return false;
	if (poll(&pfd, 1, 0) > 0) {
		if (!PQconsumeInput(s->conn) || PQstatus(s->conn) != CONNECTION_OK)
			return false;
		PGresult *res;
		while (!PQisBusy(s->conn) && (res = PQgetResult(s->conn)) != NULL)
			PQclear(res);
	}
	return PQstatus(s->conn) == CONNECTION_OK;
}

void slot_release(ExportedSnapshot *s)
{
	if (s->conn)
		PQfinish(s->conn);
	free(s->slot);
	free(s->name);
	memset(s, 0, sizeof *s);
}

bool slot_drop(PGconn *conn, const char *slot)
{
	const char *params[1] = {slot};
	PGresult *res = NULL;
	bool ok = false;
	/* A worker that used the slot has exited, but its walsender may still be on its way out:
	 * 55006 (object_in_use) for a few moments. Wait for it, up to 10 s, then report. */
	for (int tries = 0; tries < 100; tries++) {
		PQclear(res);
		res = PQexecParams(conn, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
				   1, NULL, params, NULL, NULL, 0);
		ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
		if (ok || strcmp(pg_sqlstate(res), "55006") != 0)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (!ok)
		log_error("cannot drop replication slot %s: %s", slot, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	else if (PQntuples(res) > 0)
		log_info("dropped replication slot %s", slot);
	PQclear(res);
	return ok;
}

bool slot_drop_publication(PGconn *conn, const char *publication)
{
	/* looked up first: DROP PUBLICATION IF EXISTS would print the server's NOTICE on stderr */
	const char *params[1] = {publication};
	PGresult *res = pg_query_params(conn, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, params);
	if (!res)
		return false;
	bool exists = PQntuples(res) > 0;
	PQclear(res);
	if (!exists)
		return true;
	char *q = pg_quote_ident(conn, publication);
	char *sql = xasprintf("DROP PUBLICATION %s", q);
	bool ok = pg_exec(conn, sql);
	free(q);
	free(sql);
	if (ok)
		log_info("dropped publication %s", publication);
	return ok;
}

/* Run `sql` with the pipe's advisory-lock key as $1; true: it returned 't'. -1 on error (logged). */
static int pipe_lock_query(PGconn *conn, const Config *cfg, const char *sql)
{
	char *key = xasprintf("pgch pipe %s", cfg->pipe.slot);
	const char *params[1] = {key};
	PGresult *res = pg_query_params(conn, sql, 1, params);
	free(key);
	if (!res)
		return -1;
	int yes = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return yes;
}

/* 1: the pipe's lock is taken for this session; 0: another session holds it; -1: error (logged). */
static int try_pipe_lock(PGconn *conn, const Config *cfg)
{
	return pipe_lock_query(conn, cfg, "SELECT pg_try_advisory_lock(hashtext($1))");
}

bool slot_pipe_running(PGconn *conn, const Config *cfg, bool *running)
{
	int got = try_pipe_lock(conn, cfg);
	if (got < 0)
		return false;
	*running = !got;
	if (got)
		pipe_lock_query(conn, cfg, "SELECT pg_advisory_unlock(hashtext($1))");
	return true;
}

bool slot_lock_pipe(PGconn *conn, const Config *cfg)
{
	int got = try_pipe_lock(conn, cfg);
	if (got < 0)
		return false;
	if (!got)
		log_error("another pgch is running for pipe %s (slot %s is in use by its run or snapshot): stop it first",
			  cfg->pipe.name, cfg->pipe.slot);
	return got;
}
