/*
 * preflight — `pgch check` (DESIGN.md §7) and the refusal to replicate through a pooler.
 *
 * preflight_check runs every prerequisite of a pipe; each check adds findings of OK, WARN
 * or FAIL with a one-line detail and, for WARN and FAIL, the exact fix (a SQL statement, a
 * config key or a server setting). It changes nothing on either server.
 *
 * preflight_refuse_pooler is called by every command that reads the source, right after
 * connecting: pgch needs the replication protocol, one server session that keeps the
 * exported snapshot alive while workers import it, and its own session settings in effect,
 * and PgBouncer, RDS Proxy and Supavisor provide none of these reliably. The signals and
 * why they do not fire for a direct connection, an SSH tunnel or NAT are in preflight.c.
 */
#ifndef PGCH_PREFLIGHT_H
#define PGCH_PREFLIGHT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"

/* Run every check, print the findings (aligned lines, or JSON with `json`) on stdout and
 * return the exit status: 0 when nothing FAILs, 1 otherwise. */
int preflight_check(const Config *cfg, bool json);

/* False (after logging one error with the reason and the fix) when `conn` goes through a
 * connection pooler; true for a direct connection. */
bool preflight_refuse_pooler(const Config *cfg, PGconn *conn);

/* ---- pure helpers, exposed for the unit tests */

/* The managed pooler a documented endpoint belongs to ("RDS Proxy", "Supavisor", ...), or
 * NULL; *fix gets how to connect directly instead. Host names compare case-insensitively. */
const char *preflight_pooler_endpoint(const char *host, int port, const char **fix);

/* Is a connection refusal with this SQLSTATE PostgreSQL's own (privileges, pg_hba.conf,
 * password, unknown role or database, connection limits) rather than from something in
 * between? Decided by code alone: the message is in the server's lc_messages. */
bool preflight_refused_by_postgres(const char *sqlstate);

/* The fix for a replication connection refused with this SQLSTATE after a normal one to
 * the same database succeeded, or NULL when the finding says it all: 28000 there means a
 * pg_hba.conf line admits the one and not the other. */
const char *preflight_replication_fix(const char *sqlstate);

/* One row of ClickHouse's system.grants for the current user or its roles; "*" stands for
 * NULL (any database / any table). */
typedef struct ChGrant {
	const char *access;     /* access_type, e.g. "CREATE TABLE", "ALL" */
	const char *database;
	const char *table;
	bool revoke;            /* is_partial_revoke */
} ChGrant;

/* Do the grants allow `access` (e.g. "INSERT") on every table of `database`? A grant of a
 * parent privilege (CREATE for CREATE TABLE, ALL for everything) counts; a partial revoke
 * of it on the database or everywhere takes it away. */
bool preflight_ch_grant_covers(const ChGrant *grants, int n, const char *database, const char *access);

/* The fix for a ClickHouse request that failed with this HTTP status (0: no answer) and
 * error code (0: none), or NULL when nothing more specific than the finding can be said.
 * Decided by code: an authentication failure, a host not allowed, no answer at all. */
const char *preflight_ch_refusal_fix(long http_status, int code);

/* Split a logged problem into its finding and its fix: the text after ". Fix: " when there
 * is one; a config problem ("file:line: ...") gets "change the config at file:line"; other
 * messages get NULL. Both results are malloc'd. */
void preflight_split_fix(const char *msg, const char *config_path, char **detail, char **fix);

#endif
