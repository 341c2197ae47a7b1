/*
 * preflight_pooler — the refusal to replicate through a connection pooler.
 *
 * preflight_refuse_pooler is called by every command that reads the source, right after
 * connecting: pgch needs the replication protocol, one server session that keeps the
 * exported snapshot alive while workers import it, and its own session settings in effect,
 * and PgBouncer, RDS Proxy and Supavisor provide none of these reliably. The signals, and
 * why they do not fire for a direct connection, an SSH tunnel or NAT, are in
 * preflight_pooler.c. `pgch check` reports the same detection as a finding
 * (preflight_path_detect) and reuses its replication probe.
 */
#ifndef PGCH_PREFLIGHT_POOLER_H
#define PGCH_PREFLIGHT_POOLER_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"
#include "config.h"

/* False (after logging one error with the reason and the fix) when `conn` goes through a
 * connection pooler; true for a direct connection. */
bool preflight_refuse_pooler(const Config *cfg, PGconn *conn);

/* Why a pooler matters, and the fix: the words of every pooler finding. */
extern const char preflight_pooler_why[];
extern const char preflight_pooler_fix[];

typedef enum PathKind { PATH_DIRECT, PATH_PROXY, PATH_POOLER } PathKind;

/* What lies between pgch and PostgreSQL. */
typedef struct PathInfo {
	PathKind kind;
	const char *fix;
	Buf finding;    /* what was seen (pooler or proxy) */
	Buf evidence;   /* supporting details, "; "-separated */
} PathInfo;

/* Classify the path from pgch to PostgreSQL over `conn`. False on a failed query (logged). */
bool preflight_path_detect(const Config *cfg, PGconn *conn, PathInfo *p);
/* One line for the log or a finding: what was seen, the evidence, and why it matters. */
void preflight_path_describe(const PathInfo *p, Buf *out);
void preflight_path_free(PathInfo *p);

/*
 * Open a replication connection and run IDENTIFY_SYSTEM (what every walsender answers).
 * On failure `why` gets the reason on one line and sqlstate the SQLSTATE of the refusal
 * ("" when none answered); pg_connect's own error line is captured into `why`, not logged.
 */
bool preflight_replication_probe(const Config *cfg, Buf *why, char sqlstate[6]);

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

#endif
