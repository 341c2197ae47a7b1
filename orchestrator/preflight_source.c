/*
 * preflight_source — the PostgreSQL checks of `pgch check`; see preflight_source.h.
 */
#include "preflight_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pg.h"
#include "preflight_pooler.h"
#include "rowhook.h"
#include "runcheck.h"
#include "slot.h"

/* Names of the usable (not refused) tables, at most 5, for findings. */
static void table_names(const Catalog *cat, Buf *out)
{
	int shown = 0, usable = 0;
	for (int i = 0; i < cat->ntables; i++) {
		if (cat->tables[i].refused)
			continue;
		usable++;
		if (shown < 5)
			buf_printf(out, "%s%s", shown++ ? ", " : "", cat->tables[i].display);
	}
	if (usable > shown)
		buf_printf(out, " and %d more", usable - shown);
}

static int usable_tables(const Catalog *cat)
{
	int n = 0;
	for (int i = 0; i < cat->ntables; i++)
		n += !cat->tables[i].refused;
	return n;
}

/* Is the connection encrypted, and was the server verified? (sslmode decides: verify-ca
 * checks the certificate, verify-full its host name too.) */
static void check_pg_tls(SourceCheck *c)
{
	int verified = 0;
	PQconninfoOption *opts = PQconninfo(c->pg);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "sslmode") == 0 && o->val)
			verified = strcmp(o->val, "verify-full") == 0 ? 2 : strcmp(o->val, "verify-ca") == 0 ? 1 : 0;
	PQconninfoFree(opts);
	bool encrypted = PQsslInUse(c->pg);
	char msg[512];
	const char *fix;
	CheckStatus st = preflight_tls_verdict(encrypted, encrypted ? verified : 0, PQhost(c->pg), "PostgreSQL",
					       "set source.sslmode = \"verify-full\" and source.sslrootcert to the CA that "
					       "signed the server's certificate",
					       msg, sizeof msg, &fix);
	findings_add(c->out, "postgres tls", st, fix, "%s", msg);
}

static bool check_pg_connect(SourceCheck *c)
{
	char where[512];
	pg_describe(c->cfg, where, sizeof where);
	PgConnFailure failure;
	c->pg = pg_connect_why(c->cfg, PG_CONN_NORMAL, "check", &failure);
	if (!c->pg) {
		bool pooler = pg_refused_by_pooler(failure.sqlstate);
		findings_add_captured(c->out, pooler ? "pooler" : "postgres",
				      pooler ? preflight_pooler_fix
					     : "check source (host, port, dbname, user, password) and that PostgreSQL's "
					       "pg_hba.conf admits this client");
		return false;
	}
	const char *version = PQparameterStatus(c->pg, "server_version");
	findings_add(c->out, "postgres", CHECK_OK, NULL, "PostgreSQL %s at %s", version ? version : "?", where);
	check_pg_tls(c);
	int v = PQserverVersion(c->pg);
	if (v < 140000)
		findings_add(c->out, "postgres version", CHECK_FAIL, "upgrade PostgreSQL to 14 or newer",
			     "PostgreSQL %d is older than 14: pgch needs TID range scans (snapshot partitions by ctid) and "
			     "pgoutput's binary mode, both new in 14",
			     v / 10000);
	return true;
}

/* Without a connection a pooler's documented endpoint is still worth naming. */
static void check_endpoint_offline(SourceCheck *c)
{
	const char *host = getenv("PGHOST"), *port = getenv("PGPORT"), *fix;
	for (int i = 0; i < c->cfg->source.n_params; i++) {
		if (strcmp(c->cfg->source.params[i].key, "host") == 0)
			host = c->cfg->source.params[i].val;
		if (strcmp(c->cfg->source.params[i].key, "port") == 0)
			port = c->cfg->source.params[i].val;
	}
	for (int i = 0; i < c->out->n; i++)
		if (strcmp(c->out->items[i].name, "pooler") == 0)
			return; /* the connection error already said so */
	const char *what = preflight_pooler_endpoint(host, port ? atoi(port) : 5432, &fix);
	if (what) {
		char where[512];
		pg_describe(c->cfg, where, sizeof where);
		findings_add(c->out, "pooler", CHECK_FAIL, fix, "%s is an endpoint of %s; %s", where, what, preflight_pooler_why);
	}
}

static void check_path(SourceCheck *c)
{
	PathInfo p;
	if (!preflight_path_detect(c->cfg, c->pg, &p)) {
		findings_add_captured(c->out, "pooler", "see the finding");
		preflight_path_free(&p);
		return;
	}
	Buf msg;
	buf_init(&msg);
	preflight_path_describe(&p, &msg);
	if (p.kind == PATH_POOLER) {
		c->pooler = true;
		findings_add(c->out, "pooler", CHECK_FAIL, p.fix, "connection pooler at %s:%s: %s", PQhost(c->pg), PQport(c->pg),
			     msg.data);
	} else if (p.kind == PATH_PROXY) {
		findings_add(c->out, "pooler", CHECK_WARN,
			     "nothing if this proxy keeps each client on one server session (as Neon's does); if it is a "
			     "pooler in transaction mode, connect directly to PostgreSQL",
			     "%s; it passes replication connections and session settings through", msg.data);
	} else if (p.evidence.len) {
		findings_add(c->out, "pooler", CHECK_OK, NULL,
			     "no pooler: the backend's process id is the one in the connection's cancel key (%s: NAT or a TCP "
			     "proxy, which is fine)",
			     p.evidence.data);
	} else {
		findings_add(c->out, "pooler", CHECK_OK, NULL,
			     "direct connection, no pooler: the backend's process id is the one in the connection's cancel key");
	}
	buf_free(&msg);
	preflight_path_free(&p);
}

/* wal_level, free slots and WAL senders, the role's right to replicate, a replication connection. */
static void check_server(SourceCheck *c)
{
	PGresult *res = pg_query(c->pg,
				 "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, "
				 "(SELECT count(*) FROM pg_replication_slots), current_setting('max_wal_senders')::int, "
				 "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'), "
				 "r.rolsuper, r.rolreplication, coalesce((SELECT bool_or(pg_has_role(current_user, m.oid, "
				 "'member')) FROM pg_roles m WHERE m.rolname = 'rds_replication'), false), current_user, "
				 "quote_ident(current_user) "
				 "FROM pg_roles r WHERE r.rolname = current_user");
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		findings_add_captured(c->out, "postgres", "see the finding");
		return;
	}
	const char *wal_level = PQgetvalue(res, 0, 0);
	int max_slots = atoi(PQgetvalue(res, 0, 1)), used_slots = atoi(PQgetvalue(res, 0, 2));
	int max_senders = atoi(PQgetvalue(res, 0, 3)), used_senders = atoi(PQgetvalue(res, 0, 4));
	bool super = PQgetvalue(res, 0, 5)[0] == 't', repl = PQgetvalue(res, 0, 6)[0] == 't';
	bool rds = PQgetvalue(res, 0, 7)[0] == 't';
	const char *user = PQgetvalue(res, 0, 8), *user_q = PQgetvalue(res, 0, 9);

	if (strcmp(wal_level, "logical") == 0)
		findings_add(c->out, "wal_level", CHECK_OK, NULL, "wal_level = logical");
	else
		findings_add(c->out, "wal_level", CHECK_FAIL,
			     "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (RDS and Aurora: "
			     "rds.logical_replication = 1 in the parameter group; Cloud SQL: the cloudsql.logical_decoding flag)",
			     "wal_level = %s: logical decoding needs wal_level = logical", wal_level);

	char fix[256];
	int free_slots = max_slots - used_slots;
	snprintf(fix, sizeof fix,
		 "ALTER SYSTEM SET max_replication_slots = %d; then restart PostgreSQL (or drop slots no longer used: "
		 "SELECT slot_name, active FROM pg_replication_slots)",
		 used_slots + 2 > 10 ? used_slots + 2 : 10);
	if (free_slots < 1 && !c->slot_exists)
		findings_add(c->out, "max_replication_slots", CHECK_FAIL, fix,
			     "no replication slot is free for pgch: max_replication_slots = %d, %d in use", max_slots, used_slots);
	else if (free_slots < 1)
		findings_add(c->out, "max_replication_slots", CHECK_WARN, fix,
			     "no replication slot is free (max_replication_slots = %d, %d in use): re-reading a partition whose "
			     "snapshot is gone needs a temporary slot",
			     max_slots, used_slots);
	else
		findings_add(c->out, "max_replication_slots", CHECK_OK, NULL, "max_replication_slots = %d, %d in use", max_slots,
			     used_slots);

	int free_senders = max_senders - used_senders;
	snprintf(fix, sizeof fix, "ALTER SYSTEM SET max_wal_senders = %d; then restart PostgreSQL",
		 used_senders + 2 > 10 ? used_senders + 2 : 10);
	if (free_senders < 1)
		findings_add(c->out, "max_wal_senders", CHECK_FAIL, fix,
			     "no WAL sender is free: max_wal_senders = %d, %d in use (pgch needs one for the snapshot export and "
			     "one for the stream)",
			     max_senders, used_senders);
	else if (free_senders < 2)
		findings_add(c->out, "max_wal_senders", CHECK_WARN, fix,
			     "only one WAL sender is free (max_wal_senders = %d, %d in use): pgch run needs two, the snapshot "
			     "export and the stream",
			     max_senders, used_senders);
	else
		findings_add(c->out, "max_wal_senders", CHECK_OK, NULL, "max_wal_senders = %d, %d in use", max_senders, used_senders);

	if (!super && !repl && !rds) {
		snprintf(fix, sizeof fix, "ALTER ROLE %s REPLICATION (on RDS and Aurora: GRANT rds_replication TO %s)",
			 user_q, user_q);
		findings_add(c->out, "replication", CHECK_FAIL, fix,
			     "role %s has neither REPLICATION nor superuser: it cannot create the replication slot or stream "
			     "changes",
			     user);
	} else if (c->pooler) {
		findings_add(c->out, "replication", CHECK_OK, NULL,
			     "role %s %s (a replication connection is not tried through the pooler)", user,
			     super ? "is a superuser" : repl ? "has REPLICATION" : "is a member of rds_replication");
	} else {
		Buf why;
		buf_init(&why);
		char sqlstate[6];
		const char *how = super ? "is a superuser" : repl ? "has REPLICATION" : "is a member of rds_replication";
		if (preflight_replication_probe(c->cfg, &why, sqlstate)) {
			findings_add(c->out, "replication", CHECK_OK, NULL,
				     "role %s %s, and a replication connection answers IDENTIFY_SYSTEM", user, how);
		} else {
			const char *hint = preflight_replication_fix(sqlstate);
			findings_add(c->out, "replication", CHECK_FAIL, hint ? hint : "see the finding",
				     "role %s %s, but a replication connection fails: %s", user, how, why.data);
		}
		buf_free(&why);
	}
	PQclear(res);
}

/* catalog_discover's verdicts, one finding per problem, plus what is ready. */
static void check_tables(SourceCheck *c, const ChCaps *caps)
{
	ChCaps legacy;
	if (!caps) {
		types_caps_legacy(&legacy); /* the narrowest mapping: the table checks do not depend on it */
		caps = &legacy;
	}
	bool ok = catalog_discover(c->pg, c->cfg, caps, &c->cat);
	c->have_cat = true;
	bool privileges = true;
	for (int i = 0; i < c->out->cap.n; i++) {
		char name[300] = "tables", *detail, *fix;
		size_t best = 0; /* the longest name it contains: public.ab, not public.a */
		for (int t = 0; t < c->cat.ntables; t++) {
			const char *d = c->cat.tables[t].display;
			if (strlen(d) > best && strstr(c->out->cap.msg[i], d)) {
				snprintf(name, sizeof name, "table %s", d);
				best = strlen(d);
			}
		}
		/* catalog.c's own words for a missing grant (pgch's text, not the server's); a table
		 * refused for that and more is not `unreadable`, so the flag cannot stand in */
		privileges = privileges && !strstr(c->out->cap.msg[i], "GRANT SELECT");
		preflight_split_fix(c->out->cap.msg[i], c->cfg->path, &detail, &fix);
		findings_add(c->out, name, c->out->cap.level[i] >= LOG_ERROR ? CHECK_FAIL : CHECK_WARN,
			     fix ? fix : "change the table or the config as the finding says", "%s", detail);
		free(detail);
		free(fix);
	}
	findings_captured_clear(&c->out->cap);
	int usable = usable_tables(&c->cat);
	if (c->cat.ntables == 0)
		return;
	bool partitioned = false;
	Buf parts;
	buf_init(&parts);
	for (int i = 0; i < c->cat.ntables; i++) {
		partitioned = partitioned || c->cat.tables[i].relkind == 'p';
		if (!c->cat.tables[i].refused && c->cat.tables[i].relkind == 'p')
			buf_printf(&parts, "%s%s", parts.len ? ", " : "", c->cat.tables[i].display);
	}
	if (privileges)
		findings_add(c->out, "select", CHECK_OK, NULL, "%s can SELECT from the %d selected table%s%s", PQuser(c->pg),
			     c->cat.ntables, c->cat.ntables == 1 ? "" : "s", partitioned ? " and their partitions" : "");
	if (parts.len) /* ARCHITECTURE.md, "Consistency" */
		findings_add(c->out, "partitioned tables", CHECK_WARN,
			     "truncate the whole table, or after truncating one partition run pgch resync --table for it",
			     "with publish_via_partition_root, PostgreSQL does not send a TRUNCATE of a single partition of %s, so "
			     "ClickHouse keeps those rows",
			     parts.data);
	buf_free(&parts);
	if (usable > 0) {
		Buf names;
		buf_init(&names);
		table_names(&c->cat, &names);
		if (ok)
			findings_add(c->out, "tables", CHECK_OK, NULL,
				     "%d table%s selected, each with a usable replica identity and key: %s", usable,
				     usable == 1 ? "" : "s", names.data);
		else
			findings_add(c->out, "tables", CHECK_OK, NULL, "%d of the %d selected tables are ready: %s", usable,
				     c->cat.ntables, names.data);
		buf_free(&names);
	}
}

/* Quoted, comma-separated names of tables by oid. */
static void names_of(PGconn *conn, const char *oid_array, bool only_not_owned, Buf *out)
{
	const char *params[1] = {oid_array};
	PGresult *res = pg_query_params(conn,
					only_not_owned
						? "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
						  "ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) AND NOT pg_has_role(c.relowner, "
						  "'USAGE') ORDER BY 1"
						: "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
						  "ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) ORDER BY 1",
					1, params);
	if (!res)
		return;
	for (int i = 0; i < PQntuples(res); i++)
		buf_printf(out, "%s%s", i ? ", " : "", PQgetvalue(res, i, 0));
	PQclear(res);
}

/* The publication: absent and creatable, or present with exactly the usable tables. */
static void check_publication(SourceCheck *c)
{
	const Config *cfg = c->cfg;
	if (usable_tables(&c->cat) == 0)
		return;
	/* the usable tables only: a refused one must not be published (its writes would fail) */
	Catalog usable = c->cat;
	usable.tables = xcalloc((size_t)c->cat.ntables + 1, sizeof(Table));
	usable.ntables = 0;
	/* a table refused only for want of SELECT is reported by its own finding (GRANT SELECT);
	 * publishing it harms nothing, so it is neither wanted nor to be dropped here */
	Buf want, neutral;
	buf_init(&want);
	buf_init(&neutral);
	buf_put_u8(&want, '{');
	buf_put_u8(&neutral, '{');
	for (int i = 0; i < c->cat.ntables; i++)
		if (!c->cat.tables[i].refused) {
			usable.tables[usable.ntables++] = c->cat.tables[i];
			buf_printf(&want, "%s%u", want.len > 1 ? "," : "", c->cat.tables[i].oid);
		} else if (c->cat.tables[i].unreadable) {
			buf_printf(&neutral, "%s%u", neutral.len > 1 ? "," : "", c->cat.tables[i].oid);
		}
	buf_put_u8(&want, '}');
	buf_put_u8(&neutral, '}');
	const char *params[3] = {cfg->pipe.publication, want.data, neutral.data};
	Buf sql, add_list, drop_list, not_owned;
	buf_init(&sql);
	buf_init(&add_list);
	buf_init(&drop_list);
	buf_init(&not_owned);
	PGresult *res = pg_query_params(c->pg,
					"SELECT p.puballtables, p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate, "
					"p.pubviaroot, pg_has_role(p.pubowner, 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE "
					"rolname = current_user), "
					"(SELECT coalesce(array_agg(oid), '{}') FROM unnest($2::oid[]) oid WHERE oid NOT IN "
					"(SELECT prrelid FROM pg_publication_rel WHERE prpubid = p.oid)), "
					"(SELECT coalesce(array_agg(prrelid), '{}') FROM pg_publication_rel WHERE prpubid = p.oid "
					"AND prrelid <> ALL ($2::oid[]) AND prrelid <> ALL ($3::oid[])) "
					"FROM pg_publication p WHERE p.pubname = $1",
					3, params);
	if (!res) {
		findings_add_captured(c->out, "publication", "see the finding");
		goto out;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = pg_query(c->pg, "SELECT rolsuper, has_database_privilege(current_database(), 'CREATE') FROM pg_roles "
				      "WHERE rolname = current_user");
		if (!res) {
			findings_add_captured(c->out, "publication", "see the finding");
			goto out;
		}
		bool super = PQgetvalue(res, 0, 0)[0] == 't', create = PQgetvalue(res, 0, 1)[0] == 't';
		if (!super)
			names_of(c->pg, want.data, true, &not_owned);
		slot_publication_sql(c->pg, cfg, &usable, &sql);
		if (super || (create && not_owned.len == 0)) {
			findings_add(c->out, "publication", CHECK_OK, NULL, "publication %s does not exist yet; pgch creates it (%s)",
				     cfg->pipe.publication, super ? "superuser" : "owner of the tables");
		} else {
			Buf why;
			buf_init(&why);
			if (not_owned.len)
				buf_printf(&why, "does not own %s", not_owned.data);
			if (!create)
				buf_printf(&why, "%shas no CREATE privilege on database %s", why.len ? " and " : "", PQdb(c->pg));
			char *fix = xasprintf("as the owner of the tables (or a superuser) run: %s", sql.data);
			findings_add(c->out, "publication", CHECK_FAIL, fix,
				     "publication %s does not exist and %s cannot create it: %s %s", cfg->pipe.publication,
				     PQuser(c->pg), PQuser(c->pg), why.data);
			free(fix);
			buf_free(&why);
		}
		goto out;
	}
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		findings_add(c->out, "publication", CHECK_FAIL,
			     "set pipe.publication to another name: pgch creates a publication of exactly the selected tables",
			     "publication %s is FOR ALL TABLES", cfg->pipe.publication);
		goto out;
	}
	bool ops = PQgetvalue(res, 0, 1)[0] == 't', viaroot = PQgetvalue(res, 0, 2)[0] == 't';
	bool owner = PQgetvalue(res, 0, 3)[0] == 't';
	const char *missing = PQgetvalue(res, 0, 4), *extra = PQgetvalue(res, 0, 5);
	if (strcmp(missing, "{}") != 0) {
		names_of(c->pg, missing, false, &add_list);
		names_of(c->pg, missing, true, &not_owned);
	}
	if (strcmp(extra, "{}") != 0)
		names_of(c->pg, extra, false, &drop_list);
	if (!add_list.len && !drop_list.len && ops && viaroot) {
		findings_add(c->out, "publication", CHECK_OK, NULL, "publication %s publishes exactly the %d selected table%s",
			     cfg->pipe.publication, usable.ntables, usable.ntables == 1 ? "" : "s");
		goto out;
	}
	if (!slot_publication_fix_sql(c->pg, cfg, &usable, neutral.data, &sql) || sql.len == 0) {
		findings_add_captured(c->out, "publication", "see the finding");
		goto out;
	}
	Buf what;
	buf_init(&what);
	if (add_list.len)
		buf_printf(&what, "lacks %s", add_list.data);
	if (drop_list.len)
		buf_printf(&what, "%salso publishes %s", what.len ? ", " : "", drop_list.data);
	if (!ops || !viaroot)
		buf_printf(&what, "%shas other options", what.len ? ", " : "");
	if (owner && not_owned.len == 0) {
		findings_add(c->out, "publication", CHECK_OK, NULL, "publication %s %s; pgch brings it up to date: %s",
			     cfg->pipe.publication, what.data, sql.data);
	} else {
		char *fix = xasprintf("as the owner of the publication and the tables (or a superuser) run: %s", sql.data);
		findings_add(c->out, "publication", CHECK_FAIL, fix, "publication %s %s, and %s cannot change it (%s)",
			     cfg->pipe.publication, what.data, PQuser(c->pg),
			     owner ? "does not own every table to add" : "not its owner");
		free(fix);
	}
	buf_free(&what);
out:
	PQclear(res);
	free(usable.tables);
	buf_free(&want);
	buf_free(&neutral);
	buf_free(&sql);
	buf_free(&add_list);
	buf_free(&drop_list);
	buf_free(&not_owned);
}

/* The slot: absent (created later), inactive (continued from), active, or lost. */
static void check_slot(SourceCheck *c, const SlotInfo *s)
{
	const char *slot = c->cfg->pipe.slot;
	char fix[512];
	snprintf(fix, sizeof fix, "SELECT pg_drop_replication_slot('%s') if no other pipe uses it, or set pipe.slot", slot);
	if (!s->exists) {
		findings_add(c->out, "slot", CHECK_OK, NULL, "replication slot %s does not exist yet; pgch creates it", slot);
	} else if (strcmp(s->plugin, "pgoutput") != 0 || strcmp(s->database, PQdb(c->pg)) != 0) {
		findings_add(c->out, "slot", CHECK_FAIL, fix,
			     "replication slot %s belongs to something else (plugin %s, database %s): pgch needs a pgoutput slot "
			     "of database %s",
			     slot, *s->plugin ? s->plugin : "none (physical)", *s->database ? s->database : "none", PQdb(c->pg));
	} else if (strcmp(s->wal_status, "lost") == 0) {
		snprintf(fix, sizeof fix,
			 "SELECT pg_drop_replication_slot('%s'); then copy again with pgch snapshot --restart", slot);
		findings_add(c->out, "slot", CHECK_FAIL, fix,
			     "replication slot %s is invalidated (wal_status = lost): the WAL it needed is gone, so the changes "
			     "since it last confirmed cannot be streamed",
			     slot);
	} else if (s->active) {
		findings_add(c->out, "slot", CHECK_WARN,
			     "stop the other consumer (SELECT active_pid FROM pg_replication_slots), or set pipe.slot",
			     "replication slot %s is in use by another connection (a running pgch run?): a second pipe on it "
			     "fails until that stops",
			     slot);
	} else {
		char lsn[32];
		pg_format_lsn(s->confirmed_flush, lsn, sizeof lsn);
		if (strcmp(s->wal_status, "unreserved") == 0)
			findings_add(c->out, "slot", CHECK_WARN,
				     "run pgch run soon, or raise max_slot_wal_keep_size so the slot keeps its WAL",
				     "replication slot %s is about to lose WAL it needs (wal_status = unreserved)", slot);
		else
			findings_add(c->out, "slot", CHECK_OK, NULL, "replication slot %s exists and is inactive; pgch continues from %s",
				     slot, lsn);
	}
}

bool preflight_source_connect(SourceCheck *c, const Config *cfg, Findings *out)
{
	memset(c, 0, sizeof *c);
	c->cfg = cfg;
	c->out = out;
	if (check_pg_connect(c))
		return true;
	check_endpoint_offline(c);
	return false;
}

/* The row hooks on each table's first rows, as pgch run tries them before it creates anything. */
static void check_row_hooks(SourceCheck *c)
{
	if (!c->have_cat)
		return;
	int hooked = 0;
	for (int i = 0; i < c->cat.ntables; i++)
		hooked += rowhook_enabled(c->cfg, &c->cat.tables[i]);
	if (hooked == 0)
		return;
	if (runcheck_row_hooks(c->pg, c->cfg, &c->cat))
		findings_add(c->out, "row hooks", CHECK_OK, NULL, "on_row takes the first rows of %d table%s", hooked,
			     hooked == 1 ? "" : "s");
	else
		findings_add_captured(c->out, "row hooks", "fix on_row in the config");
}

void preflight_source_check(SourceCheck *c, const ChCaps *caps)
{
	check_path(c);
	SlotInfo slot;
	bool have_slot = slot_info(c->pg, c->cfg->pipe.slot, &slot);
	c->slot_exists = have_slot && slot.exists;
	check_server(c);
	check_tables(c, caps);
	check_publication(c);
	if (have_slot)
		check_slot(c, &slot);
	else
		findings_add_captured(c->out, "slot", "see the finding");
	check_row_hooks(c);
}

void preflight_source_close(SourceCheck *c)
{
	if (c->have_cat)
		catalog_free(&c->cat);
	if (c->pg)
		PQfinish(c->pg);
}
