/*
 * pg — libpq connection helpers; see pg.h.
 */
#include "pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

int pg_tunnel_port;
pid_t pg_tunnel_pid;

#define SESSION_OPTIONS \
	"-c datestyle=ISO,MDY -c timezone=UTC -c intervalstyle=postgres -c extra_float_digits=3 -c bytea_output=hex"

static const char *param(const Config *cfg, const char *key)
{
	for (int i = 0; i < cfg->source.n_params; i++)
		if (strcmp(cfg->source.params[i].key, key) == 0)
			return cfg->source.params[i].val;
	return NULL;
}

void pg_describe(const Config *cfg, char *out, size_t outlen)
{
	const char *host = param(cfg, "host"), *port = param(cfg, "port");
	const char *db = param(cfg, "dbname"), *user = param(cfg, "user");
	if (!host)
		host = getenv("PGHOST");
	if (!port)
		port = getenv("PGPORT");
	if (!user)
		user = getenv("PGUSER");
	if (!db)
		db = getenv("PGDATABASE");
	snprintf(out, outlen, "%s:%s/%s as %s%s", host ? host : "localhost", port ? port : "5432",
		 db && !strchr(db, '=') && !strstr(db, "://") ? db : (user ? user : "?"), user ? user : "(default user)",
		 pg_tunnel_port ? " through the SSH tunnel" : "");
}

PGconn *pg_connect(const Config *cfg, PgConnKind kind, const char *role)
{
	const char *keys[64], *vals[64];
	int n = 0;
	char appname[64], portbuf[16];
	snprintf(appname, sizeof appname, "pgch %s", role);
	const char *user_options = NULL;
	for (int i = 0; i < cfg->source.n_params && n < 40; i++) {
		const KeyVal *kv = &cfg->source.params[i];
		if (strcmp(kv->key, "options") == 0) {
			user_options = kv->val;
			continue;
		}
		if (pg_tunnel_port && (strcmp(kv->key, "port") == 0 || strcmp(kv->key, "hostaddr") == 0))
			continue;
		keys[n] = kv->key;
		vals[n] = kv->val;
		n++;
	}
	char *options = user_options ? xasprintf("%s %s", user_options, SESSION_OPTIONS) : xstrdup(SESSION_OPTIONS);
	keys[n] = "options", vals[n++] = options;
	keys[n] = "application_name", vals[n++] = appname;
	keys[n] = "client_encoding", vals[n++] = "UTF8";
	if (!param(cfg, "connect_timeout"))
		keys[n] = "connect_timeout", vals[n++] = "10";
	if (!param(cfg, "keepalives_idle")) {
		keys[n] = "keepalives", vals[n++] = "1";
		keys[n] = "keepalives_idle", vals[n++] = "30";
		keys[n] = "keepalives_interval", vals[n++] = "10";
		keys[n] = "keepalives_count", vals[n++] = "6";
	}
	if (pg_tunnel_port) {
		snprintf(portbuf, sizeof portbuf, "%d", pg_tunnel_port);
		keys[n] = "hostaddr", vals[n++] = "127.0.0.1";
		keys[n] = "port", vals[n++] = portbuf;
	}
	if (kind == PG_CONN_REPLICATION)
		keys[n] = "replication", vals[n++] = "database";
	keys[n] = NULL;
	vals[n] = NULL;
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	free(options);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		char where[256];
		pg_describe(cfg, where, sizeof where);
		const char *err = conn ? PQerrorMessage(conn) : "out of memory";
		/* PgBouncer's wording; PostgreSQL says "unrecognized configuration parameter" */
		bool pooler = strstr(err, "unsupported startup parameter") != NULL;
		int errlen = (int)strlen(err);
		while (errlen > 0 && (err[errlen - 1] == '\n' || err[errlen - 1] == ' '))
			errlen--;
		log_error("cannot connect to PostgreSQL at %s%s: %.*s%s", where,
			  kind == PG_CONN_REPLICATION ? " (replication connection)" : "", errlen, err,
			  pooler ? " -- that answer comes from a connection pooler (PgBouncer), not PostgreSQL; pgch needs "
				   "the replication protocol and its own session settings. Fix: connect directly to "
				   "PostgreSQL (source.host and source.port of the database server, usually port 5432)"
				 : "");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static void log_pg_error(PGconn *conn, const PGresult *res, const char *sql)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	log_error("PostgreSQL: %s (in \"%.80s%s\")", msg && *msg ? msg : PQerrorMessage(conn), sql,
		  strlen(sql) > 80 ? "..." : "");
}

bool pg_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = res && (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK);
	if (!ok)
		log_pg_error(conn, res, sql);
	PQclear(res);
	return ok;
}

PGresult *pg_query(PGconn *conn, const char *sql)
{
	return pg_query_params(conn, sql, 0, NULL);
}

PGresult *pg_query_params(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = nparams ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_pg_error(conn, res, sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

char *pg_quote_ident(PGconn *conn, const char *s)
{
	char *q = PQescapeIdentifier(conn, s, strlen(s));
	char *r = xstrdup(q ? q : "\"\"");
	PQfreemem(q);
	return r;
}

char *pg_quote_literal(PGconn *conn, const char *s)
{
	char *q = PQescapeLiteral(conn, s, strlen(s));
	char *r = xstrdup(q ? q : "''");
	PQfreemem(q);
	return r;
}

bool pg_parse_lsn(const char *s, uint64_t *lsn)
{
	unsigned hi, lo;
	if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2)
		return false;
	*lsn = ((uint64_t)hi << 32) | lo;
	return true;
}

void pg_format_lsn(uint64_t lsn, char *out, size_t outlen)
{
	snprintf(out, outlen, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

const char *pg_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}
