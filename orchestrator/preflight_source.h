/*
 * preflight_source — the PostgreSQL half of `pgch check`.
 *
 * In order: the connection (or, without one, whether the host is a documented pooler
 * endpoint); the path to the server (direct, proxy or pooler: preflight_pooler);
 * wal_level, free replication slots and WAL senders, the role's right to replicate and a
 * replication connection that answers; which tables can be replicated (catalog_discover
 * decides, its messages become findings); the publication (absent and creatable, or
 * present with exactly those tables); the slot. Nothing is created or changed.
 */
#ifndef PGCH_PREFLIGHT_SOURCE_H
#define PGCH_PREFLIGHT_SOURCE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "catalog.h"
#include "config.h"
#include "preflight_findings.h"
#include "types.h"

typedef struct SourceCheck {
	const Config *cfg;
	Findings *out;
	PGconn *pg;
	bool pooler;            /* a pooler was found: the replication test would repeat it */
	bool slot_exists;
	Catalog cat;            /* the selected tables, for the ClickHouse checks */
	bool have_cat;
} SourceCheck;

/* Connect; false (the failure is a finding, with a pooler's endpoint named if it is one)
 * when that fails. */
bool preflight_source_connect(SourceCheck *c, const Config *cfg, Findings *out);
/* Every check over the connection; caps: ClickHouse's, or NULL when it was not probed. */
void preflight_source_check(SourceCheck *c, const ChCaps *caps);
void preflight_source_close(SourceCheck *c);

#endif
