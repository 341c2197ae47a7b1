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
 */
#ifndef PGCH_PG_H
#define PGCH_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

typedef enum PgConnKind { PG_CONN_NORMAL, PG_CONN_REPLICATION } PgConnKind;

/* Local port of the SSH tunnel (0: none). Set once by the supervisor before forking. */
extern int pg_tunnel_port;
/* Its process (0: none), so the supervisor notices when it exits. */
extern pid_t pg_tunnel_pid;

PGconn *pg_connect(const Config *cfg, PgConnKind kind, const char *role);
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

#endif
