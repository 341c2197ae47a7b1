/*
 * preflight_dest — the ClickHouse half of `pgch check`.
 *
 * Connects and probes first (the PostgreSQL checks map types with the server's
 * capabilities) but reports after PostgreSQL: what connecting logged is kept in `probe`
 * until preflight_dest_report_connect. Then: the database exists or may be created; the
 * user may create, write and alter tables there (system.grants, or readonly and
 * allow_ddl on servers without it); existing target tables have the planned engine,
 * ORDER BY and column types. A failed request's fix comes from ClickHouse's error code.
 */
#ifndef PGCH_PREFLIGHT_DEST_H
#define PGCH_PREFLIGHT_DEST_H

#include <stdbool.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "preflight_findings.h"

typedef struct DestCheck {
	const Config *cfg;
	Findings *out;
	ChConn ch;
	bool ch_open, ch_ok; /* opened; and probed */
	Captured probe;      /* what opening and probing logged */
} DestCheck;

/* Open and probe ClickHouse; what that logs waits in c->probe. */
void preflight_dest_connect(DestCheck *c, const Config *cfg, Findings *out);
/* The findings of connecting: the server and its capabilities, or why it failed. */
void preflight_dest_report_connect(DestCheck *c);
/* Database, grants, and the target tables of `cat` (NULL: the tables are not known). */
void preflight_dest_check(DestCheck *c, const Catalog *cat);
void preflight_dest_close(DestCheck *c);

/* One row of ClickHouse's system.grants for the current user or its roles; "*" stands for
 * NULL (any database / any table). */
typedef struct ChGrant {
	const char *access;     /* access_type, e.g. "CREATE TABLE", "ALL" */
	const char *database;
	const char *table;
	bool revoke;            /* is_partial_revoke */
} ChGrant;

/* ---- pure helpers, exposed for the unit tests */

/* Do the grants allow `access` (e.g. "INSERT") on every table of `database`? A grant of a
 * parent privilege (CREATE for CREATE TABLE, ALL for everything) counts; a partial revoke
 * of it on the database or everywhere takes it away. */
bool preflight_ch_grant_covers(const ChGrant *grants, int n, const char *database, const char *access);

/* The fix for a ClickHouse request that failed with this HTTP status (0: no answer) and
 * error code (0: none), or NULL when nothing more specific than the finding can be said.
 * Decided by code: an authentication failure, a host not allowed, no answer at all. */
const char *preflight_ch_refusal_fix(long http_status, int code);

#endif
