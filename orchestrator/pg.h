/*
 * pg — PostgreSQL connections with libpq, as every pgch process opens them.
 *
 * pg_connect builds the connection from the config's libpq keywords and adds what pgch
 * relies on: an application_name per role, TCP keepalives, a connect timeout, and session
 * settings that make text output forms deterministic (DateStyle ISO, TimeZone UTC,
 * IntervalStyle postgres, extra_float_digits 3, bytea_output hex, client_encoding UTF8).
 * With an SSH tunnel the connection goes to the tunnel's local port while `host` keeps the
 * real name, so TLS still verifies it. Failures are logged once with host, port, database
 * and user — never the password.
 *
 * Errors are told apart by SQLSTATE, never by their text: the server writes its messages in
 * its own lc_messages, and a branch that looks for English words silently takes the wrong
 * path in German. pg_sqlstate reads the code of a failed query; a refused connection has no
 * PGresult, so pg_connect_why reads its code from libpq's verbose message (see pg.c).
 */
#ifndef PGCH_PG_H
#define PGCH_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"

typedef enum PgConnKind { PG_CONN_NORMAL, PG_CONN_REPLICATION } PgConnKind;

/* Local port of the SSH tunnel (0: none). Set once by the supervisor before forking. */
extern int pg_tunnel_port;
/* Its process (0: none), so the supervisor notices when it exits. */
extern pid_t pg_tunnel_pid;

/* SQLSTATEs pgch acts on (PostgreSQL's "Appendix A. PostgreSQL Error Codes"). */
#define PG_PROTOCOL_VIOLATION "08P01"      /* at connection: a PgBouncer refusal (pg_refused_by_pooler) */
#define PG_INVALID_AUTHORIZATION "28000"   /* pg_hba.conf rejects, unknown role, role may not log in */
#define PG_INVALID_PASSWORD "28P01"        /* password authentication failed */
#define PG_UNDEFINED_DATABASE "3D000"      /* database does not exist */
#define PG_INSUFFICIENT_PRIVILEGE "42501"  /* no REPLICATION attribute, no CONNECT privilege, ... */
#define PG_DUPLICATE_OBJECT "42710"        /* a replication slot of that name exists */
#define PG_TOO_MANY_CONNECTIONS "53300"    /* max_connections, a role's limit, max_wal_senders */

/* Why a connection attempt failed. */
typedef struct PgConnFailure {
	char sqlstate[6]; /* the SQLSTATE of the answer that refused it; "" when no server answered
			   * (address refused or unreachable, timeout, DNS, TLS, no password to send) */
} PgConnFailure;

/* Connect, or log why not (once) and return NULL. */
PGconn *pg_connect(const Config *cfg, PgConnKind kind, const char *role);
/* pg_connect that also tells the caller why it failed (why may be NULL). */
PGconn *pg_connect_why(const Config *cfg, PgConnKind kind, const char *role, PgConnFailure *why);
/* Describe the target for messages: "host:port/dbname as user". */
void pg_describe(const Config *cfg, char *out, size_t outlen);

/* Run a command that returns no rows; log and return false on error. */
bool pg_exec(PGconn *conn, const char *sql);
/* Run a query that returns rows; log and return NULL on error. */
PGresult *pg_query(PGconn *conn, const char *sql);
PGresult *pg_query_params(PGconn *conn, const char *sql, int nparams, const char *const *params);

/* Quote an identifier / literal (malloc'd). */
char *pg_quote_ident(PGconn *conn, const char *s);
char *pg_quote_literal(PGconn *conn, const char *s);

/* LSN text "X/Y" <-> 64-bit. */
bool pg_parse_lsn(const char *s, uint64_t *lsn);
void pg_format_lsn(uint64_t lsn, char *out, size_t outlen);

/* The server's SQLSTATE of the last result, or "" (for classifying failures). */
const char *pg_sqlstate(const PGresult *res);

/* Was a connection refused by a pooler in front of PostgreSQL rather than by PostgreSQL?
 * PgBouncer answers each refusal of its own (an unsupported startup parameter, its own
 * authentication, its connection limits) with 08P01, which PostgreSQL does not send to the
 * well-formed startup packet libpq writes; what PgBouncer passes on keeps the server's code. */
bool pg_refused_by_pooler(const char *sqlstate);

/* ---- pure helper, exposed for the unit tests */

/* Split libpq's message for a failed connection, built with PQERRORS_VERBOSE, into the
 * SQLSTATE of the last refusal in it ("" if none) and the message as the default verbosity
 * writes it: "...failed: FATAL:  28P01: password ...\nLOCATION:  auth_failed, auth.c:334\n"
 * gives 28P01 and "...failed: FATAL:  password ...\n". */
void pg_connect_error_parse(const char *verbose, char sqlstate[6], Buf *plain);

#endif
