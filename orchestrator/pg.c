/*
 * pg — libpq connection helpers; see pg.h.
 *
 * How a refused connection yields its SQLSTATE. libpq keeps the error fields of a failed
 * start-up to itself: there is no PGresult, only PQerrorMessage, whose text libpq builds
 * from those fields with the connection's error verbosity. So pg_connect does what
 * PQconnectdbParams does, by hand (connect_verbose): PQconnectStartParams, then
 * PQERRORS_VERBOSE before the first byte is sent, then PQconnectPoll until done. The
 * message then reads "...failed: FATAL:  28P01: password authentication failed ..." and
 * pg_connect_error_parse takes the code out of it — the layout is libpq's own and the
 * code is never translated, whatever the server's lc_messages — and gives back the text
 * the default verbosity would have shown, which is what gets logged. On success the
 * verbosity goes back to the default, so later messages read as before.
 *
 * The waiting is libpq's connectDBComplete: poll() on the socket in the direction
 * PQconnectPoll asks for, with connect_timeout (at least 2 s) counted afresh for each
 * address tried. One difference: when it runs out, libpq goes on to the next address of a
 * host list, which the public API cannot ask for, so here the attempt ends.
 */
#include "pg.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
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

/* "...: " followed by a five-character SQLSTATE and ": ", as PQERRORS_VERBOSE writes it after
 * the severity; the first in the line (the severity is the first field with two blanks). */
static const char *verbose_code(const char *line, size_t len)
{
	for (const char *p = line; p + 10 <= line + len; p++) {
		if (memcmp(p, ":  ", 3) != 0)
			continue;
		const char *c = p + 3;
		if (strspn(c, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") >= 5 && c[5] == ':' && c[6] == ' ')
			return c;
		return NULL;
	}
	return NULL;
}

void pg_connect_error_parse(const char *verbose, char sqlstate[6], Buf *plain)
{
	sqlstate[0] = '\0';
	for (const char *line = verbose; *line;) {
		size_t len = strcspn(line, "\n");
		const char *next = line + len + (line[len] == '\n');
		if (strncmp(line, "LOCATION:  ", 11) == 0) { /* verbose only: the server's source line */
			line = next;
			continue;
		}
		const char *code = verbose_code(line, len);
		if (code) {
			memcpy(sqlstate, code, 5);
			sqlstate[5] = '\0';
			buf_put(plain, line, (size_t)(code - line));
			buf_put(plain, code + 7, (size_t)(next - code - 7));
		} else {
			buf_put(plain, line, (size_t)(next - line));
		}
		line = next;
	}
}

bool pg_refused_by_pooler(const char *sqlstate)
{
	return strcmp(sqlstate, PG_PROTOCOL_VIOLATION) == 0;
}

static int64_t now_ms(void)
{
	return (int64_t)(clock_now() * 1000);
}

/* connect_timeout as libpq reads it: none (0) unless positive, and at least 2 s. False
 * (with libpq's message in err) for a value that is not an integer. */
static bool connect_timeout_ms(PGconn *conn, int64_t *ms, Buf *err)
{
	*ms = 0;
	PQconninfoOption *opts = PQconninfo(conn);
	bool ok = true;
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "connect_timeout") != 0 || !o->val || !*o->val)
			continue;
		char *end;
		long s = strtol(o->val, &end, 10);
		end += strspn(end, " \t");
		if (*end || end == o->val) {
			buf_printf(err, "invalid integer value \"%s\" for connection option \"connect_timeout\"\n", o->val);
			ok = false;
		} else if (s > 0) {
			*ms = (int64_t)(s < 2 ? 2 : s) * 1000;
		}
	}
	PQconninfoFree(opts);
	return ok;
}

/* Notices that arrive while connecting (a collation warning, say) as the default
 * verbosity shows them: the connection is verbose only to read a refusal's SQLSTATE. */
static void notice_plain(void *arg, const PGresult *res)
{
	(void)arg;
	char *msg = PQresultVerboseErrorMessage(res, PQERRORS_DEFAULT, PQSHOW_CONTEXT_ERRORS);
	fprintf(stderr, "%s", msg ? msg : PQresultErrorMessage(res));
	PQfreemem(msg);
}

/* PQconnectdbParams with a verbose error message (see the top of the file). True when
 * connected; otherwise *conn (NULL when out of memory) and `more` hold why not. */
static bool connect_verbose(const char *const *keys, const char *const *vals, PGconn **conn, Buf *more)
{
	PGconn *c = *conn = PQconnectStartParams(keys, vals, 1);
	if (!c || PQstatus(c) == CONNECTION_BAD)
		return false;
	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	PQnoticeReceiver prev = PQsetNoticeReceiver(c, notice_plain, NULL);
	int64_t timeout, deadline = 0;
	if (!connect_timeout_ms(c, &timeout, more))
		return false;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	while (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
		if (PQstatus(c) == CONNECTION_STARTED) /* a connect() has just begun: a new address */
			deadline = timeout ? now_ms() + timeout : 0;
		struct pollfd p = {PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
		int n;
		do {
			int64_t left = deadline ? deadline - now_ms() : -1; /* -1: no timeout */
			n = poll(&p, 1, deadline && left < 0 ? 0 : (int)left);
		} while (n < 0 && errno == EINTR);
		if (n == 0) {
			buf_puts(more, "timeout expired\n"); /* after libpq's "connection to server at ... failed: " */
			return false;
		}
		if (n < 0) {
			buf_printf(more, "poll() failed: %s\n", strerror(errno));
			return false;
		}
		st = PQconnectPoll(c);
	}
	if (st != PGRES_POLLING_OK)
		return false;
	PQsetErrorVerbosity(c, PQERRORS_DEFAULT);
	PQsetNoticeReceiver(c, prev, NULL);
	return true;
}

PGconn *pg_connect(const Config *cfg, PgConnKind kind, const char *role)
{
	return pg_connect_why(cfg, kind, role, NULL);
}

PGconn *pg_connect_why(const Config *cfg, PgConnKind kind, const char *role, PgConnFailure *why)
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
	PGconn *conn;
	Buf more, verbose, plain;
	buf_init(&more);
	bool ok = connect_verbose(keys, vals, &conn, &more);
	free(options);
	if (why)
		why->sqlstate[0] = '\0';
	if (ok) {
		buf_free(&more);
		return conn;
	}
	buf_init(&verbose);
	buf_init(&plain);
	buf_puts(&verbose, conn ? PQerrorMessage(conn) : "out of memory\n");
	buf_put(&verbose, more.data, more.len); /* what connect_verbose adds: a timeout, ... */
	char sqlstate[6];
	pg_connect_error_parse(verbose.data, sqlstate, &plain);
	if (why)
		memcpy(why->sqlstate, sqlstate, sizeof sqlstate);
	char where[256];
	pg_describe(cfg, where, sizeof where);
	const char *msg = plain.data;
	int msglen = (int)strlen(msg);
	while (msglen > 0 && (msg[msglen - 1] == '\n' || msg[msglen - 1] == ' '))
		msglen--;
	log_error("cannot connect to PostgreSQL at %s%s: %.*s%s", where,
		  kind == PG_CONN_REPLICATION ? " (replication connection)" : "", msglen, msg,
		  pg_refused_by_pooler(sqlstate)
			  ? " -- that answer comes from a connection pooler (PgBouncer), not PostgreSQL; pgch needs "
			    "the replication protocol and its own session settings. Fix: connect directly to "
			    "PostgreSQL (source.host and source.port of the database server, usually port 5432)"
			  : "");
	buf_free(&more);
	buf_free(&verbose);
	buf_free(&plain);
	PQfinish(conn);
	return NULL;
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
