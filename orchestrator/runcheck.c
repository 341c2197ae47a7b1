/*
 * runcheck — what must hold before a run creates anything; see runcheck.h.
 */
#include "runcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cluster.h"
#include "log.h"
#include "pg.h"
#include "rowfilter.h"
#include "rowhook.h"
#include "slot.h"

/* wal_level, the role's right to replicate, free slots and WAL senders. */
static bool check_server(PGconn *pg, bool create_slot, bool *may_replicate)
{
	PGresult *res = pg_query(pg, "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, "
				     "(SELECT count(*) FROM pg_replication_slots), current_setting('max_wal_senders')::int, "
				     "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'), "
				     "r.rolsuper OR r.rolreplication OR coalesce((SELECT bool_or(pg_has_role(current_user, "
				     "m.oid, 'member')) FROM pg_roles m WHERE m.rolname = 'rds_replication'), false), "
				     "current_user, quote_ident(current_user) FROM pg_roles r WHERE r.rolname = current_user");
	*may_replicate = false;
	if (!res)
		return false;
	bool ok = true;
	const char *wal_level = PQgetvalue(res, 0, 0);
	int max_slots = atoi(PQgetvalue(res, 0, 1)), used_slots = atoi(PQgetvalue(res, 0, 2));
	int max_senders = atoi(PQgetvalue(res, 0, 3)), used_senders = atoi(PQgetvalue(res, 0, 4));
	const char *user = PQgetvalue(res, 0, 6), *user_q = PQgetvalue(res, 0, 7);
	if (strcmp(wal_level, "logical") != 0) {
		log_error("wal_level = %s: logical decoding needs wal_level = logical. Fix: ALTER SYSTEM SET wal_level = "
			  "logical; then restart PostgreSQL (RDS and Aurora: rds.logical_replication = 1 in the parameter "
			  "group; Cloud SQL: the cloudsql.logical_decoding flag)",
			  wal_level);
		ok = false;
	}
	*may_replicate = PQgetvalue(res, 0, 5)[0] == 't';
	if (!*may_replicate) {
		log_error("role %s has neither REPLICATION nor superuser: it cannot create the replication slot or stream "
			  "changes. Fix: ALTER ROLE %s REPLICATION (on RDS and Aurora: GRANT rds_replication TO %s)",
			  user, user_q, user_q);
		ok = false;
	}
	if (create_slot && used_slots >= max_slots) {
		log_error("no replication slot is free for the pipe's slot: max_replication_slots = %d, %d in use. Fix: "
			  "ALTER SYSTEM SET max_replication_slots = %d; then restart PostgreSQL (or drop slots no longer "
			  "used: SELECT slot_name, active FROM pg_replication_slots)",
			  max_slots, used_slots, used_slots + 2 > 10 ? used_slots + 2 : 10);
		ok = false;
	}
	if (used_senders >= max_senders) {
		log_error("no WAL sender is free: max_wal_senders = %d, %d in use (pgch needs one for the snapshot export "
			  "and one for the stream). Fix: ALTER SYSTEM SET max_wal_senders = %d; then restart PostgreSQL",
			  max_senders, used_senders, used_senders + 2 > 10 ? used_senders + 2 : 10);
		ok = false;
	}
	PQclear(res);
	return ok;
}

/* A replication connection is accepted (pg_hba.conf has a line for it) and answers. */
static bool check_replication_connection(const Config *cfg)
{
	PGconn *r = pg_connect(cfg, PG_CONN_REPLICATION, "check"); /* logs why not */
	if (!r)
		return false;
	PGresult *res = PQexec(r, "IDENTIFY_SYSTEM");
	bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		log_error("IDENTIFY_SYSTEM on a replication connection failed: %s",
			  res ? PQresultErrorMessage(res) : PQerrorMessage(r));
	PQclear(res);
	PQfinish(r);
	return ok;
}

/* The selected tables' oids as an array literal, "{1,2,3}". */
static void oid_array(const Catalog *cat, Buf *out)
{
	buf_put_u8(out, '{');
	for (int i = 0; i < cat->ntables; i++)
		buf_printf(out, "%s%u", i ? "," : "", cat->tables[i].oid);
	buf_put_u8(out, '}');
}

/*
 * The publication: absent and creatable, or not FOR ALL TABLES and changeable where
 * slot_ensure_publication will change it (tables to add or drop, options).
 */
static bool check_publication(PGconn *pg, const Config *cfg, const Catalog *cat)
{
	Buf oids, sql;
	buf_init(&oids);
	buf_init(&sql);
	oid_array(cat, &oids);
	const char *params[2] = {cfg->pipe.publication, oids.data};
	/* one row: exists, FOR ALL TABLES, must change, owns it, may create, superuser, and the
	 * selected tables this role does not own among those to be added */
	PGresult *res = pg_query_params(
		pg,
		"SELECT p.oid IS NOT NULL, coalesce(p.puballtables, false), "
		"p.oid IS NOT NULL AND (NOT (p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate AND p.pubviaroot) "
		"OR EXISTS (SELECT FROM pg_publication_rel pr WHERE pr.prpubid = p.oid AND pr.prrelid <> ALL ($2::oid[])) "
		"OR EXISTS (SELECT FROM unnest($2::oid[]) o WHERE o NOT IN (SELECT prrelid FROM pg_publication_rel WHERE "
		"prpubid = p.oid))), "
		"coalesce(pg_has_role(p.pubowner, 'USAGE'), true), has_database_privilege(current_database(), 'CREATE'), "
		"(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
		"(SELECT coalesce(string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY 1), '') FROM pg_class c "
		"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($2::oid[]) AND NOT pg_has_role(c.relowner, "
		"'USAGE') AND (p.oid IS NULL OR c.oid NOT IN (SELECT prrelid FROM pg_publication_rel WHERE prpubid = p.oid))) "
		"FROM (SELECT 1) one LEFT JOIN pg_publication p ON p.pubname = $1",
		2, params);
	bool ok = res != NULL;
	if (ok) {
		bool exists = PQgetvalue(res, 0, 0)[0] == 't', all = PQgetvalue(res, 0, 1)[0] == 't';
		bool change = PQgetvalue(res, 0, 2)[0] == 't', owner = PQgetvalue(res, 0, 3)[0] == 't';
		bool create = PQgetvalue(res, 0, 4)[0] == 't', super = PQgetvalue(res, 0, 5)[0] == 't';
		const char *not_owned = PQgetvalue(res, 0, 6);
		const char *user = PQuser(pg);
		if (all) {
			log_error("publication %s is FOR ALL TABLES; pgch needs a publication of exactly the selected tables. "
				  "Fix: set pipe.publication to another name",
				  cfg->pipe.publication);
			ok = false;
		} else if (!exists && !super && (!create || not_owned[0])) {
			Buf why;
			buf_init(&why);
			if (not_owned[0])
				buf_printf(&why, " does not own %s", not_owned);
			if (!create)
				buf_printf(&why, "%s has no CREATE privilege on database %s", why.len ? " and" : "", PQdb(pg));
			slot_publication_sql(pg, cfg, cat, &sql);
			log_error("publication %s does not exist and %s cannot create it: %s%s. Fix: as the owner of the "
				  "tables (or a superuser) run: %s",
				  cfg->pipe.publication, user, user, why.data, sql.data);
			buf_free(&why);
			ok = false;
		} else if (exists && change && !super && (!owner || not_owned[0])) {
			slot_publication_fix_sql(pg, cfg, cat, NULL, &sql); /* the statements pgch check shows too */
			log_error("publication %s must change to publish exactly the selected tables, and %s cannot change it "
				  "(%s%s). Fix: as the owner of the publication and the tables (or a superuser) run: %s",
				  cfg->pipe.publication, user, owner ? "does not own " : "not its owner",
				  owner ? not_owned : "", sql.data ? sql.data : "");
			ok = false;
		}
	}
	PQclear(res);
	buf_free(&oids);
	buf_free(&sql);
	return ok;
}

/* May the ClickHouse user create tables and insert? (readonly and allow_ddl: every version.) */
static bool check_destination(ChConn *ch)
{
	int readonly, allow_ddl;
	bool ok = ch_user_limits(ch, &readonly, &allow_ddl);
	if (ok) {
		if (readonly != 0 || allow_ddl == 0) {
			log_error("ClickHouse user %s has %s = %d: pgch cannot create tables%s. Fix: set %s for user %s in its "
				  "settings profile (users.xml or SETTINGS PROFILE)",
				  ch->user, readonly ? "readonly" : "allow_ddl", readonly ? readonly : allow_ddl,
				  readonly ? " or insert" : "", readonly ? "readonly = 0" : "allow_ddl = 1", ch->user);
			ok = false;
		}
	}
	return ok;
}

#define HOOK_TRIAL_ROWS 100

bool runcheck_row_hooks(PGconn *pg, const Config *cfg, const Catalog *cat)
{
	bool ok = true;
	for (int ti = 0; ti < cat->ntables && ok; ti++) {
		const Table *t = &cat->tables[ti];
		if (!rowhook_enabled(cfg, t))
			continue;
		Buf sql;
		buf_init(&sql);
		char *cols = catalog_select_list(t);
		buf_printf(&sql, "SELECT %s FROM %s", cols, t->qualified);
		free(cols);
		rowfilter_sql(t, false, &sql);
		buf_printf(&sql, " LIMIT %d", HOOK_TRIAL_ROWS);
		PGresult *res = pg_query(pg, sql.data);
		buf_free(&sql);
		if (!res)
			return false;
		RowHook h;
		rowhook_init(&h, cfg, t);
		const char **vals = xcalloc((size_t)t->ncols + 1, sizeof(char *));
		int *lens = xcalloc((size_t)t->ncols + 1, sizeof(int));
		for (int r = 0; r < PQntuples(res) && ok; r++) {
			for (int c = 0; c < t->ncols; c++) {
				bool null = PQgetisnull(res, r, c);
				vals[c] = null ? NULL : PQgetvalue(res, r, c);
				lens[c] = null ? -1 : PQgetlength(res, r, c);
			}
			ok = rowhook_run(&h, vals, lens) != ROWHOOK_FAIL; /* logged */
		}
		free(vals);
		free(lens);
		rowhook_free(&h);
		PQclear(res);
	}
	return ok;
}

bool runcheck(PGconn *pg, ChConn *ch, const Config *cfg, const Catalog *cat, bool create_slot)
{
	bool may_replicate;
	bool ok = check_server(pg, create_slot, &may_replicate);
	/* the role's refusal says it better than a refused connection would */
	if (may_replicate && !check_replication_connection(cfg))
		ok = false;
	if (!check_publication(pg, cfg, cat))
		ok = false;
	if (!check_destination(ch))
		ok = false;
	ClusterReport cr; /* destination.cluster: defined, macros on every node, ZooKeeper, sharding keys */
	cluster_inspect(ch, cfg, cat, false, &cr);
	for (int i = 0; i < cr.n; i++) {
		if (cr.items[i].warn)
			log_warn("%s", cr.items[i].text);
		else if (!cr.items[i].ok)
			log_error("%s", cr.items[i].text);
	}
	ok = ok && cr.problems == 0;
	cluster_report_free(&cr);
	if (ok && !runcheck_row_hooks(pg, cfg, cat))
		ok = false;
	if (!ok)
		log_info("nothing was created or changed on either server: fix the above and run pgch again");
	return ok;
}
