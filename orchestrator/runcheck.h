/*
 * runcheck — the conditions without which pgch snapshot or pgch run cannot work, checked
 * before the run creates anything on either server, so that a refused run leaves both as
 * they were (no publication, slot, database or _pgch_state made by a run that then fails).
 *
 * PostgreSQL: wal_level = logical; the role has REPLICATION (or is a superuser, or a member
 * of rds_replication); a replication connection is accepted (pg_hba.conf); a free WAL
 * sender; a free replication slot when the pipe's slot is to be created; the publication
 * absent and creatable by this role (CREATE on the database, owner of every selected
 * table), or present, not FOR ALL TABLES, and changeable by this role where it must change.
 * ClickHouse: the user may create and write (readonly = 0, allow_ddl = 1).
 *
 * Every failing condition is logged as one error, "<what is wrong>. Fix: <what to run or
 * set>", and all are checked, so one refusal lists every problem. pgch check (preflight.c)
 * reports the same conditions, and more, as findings without refusing anything.
 */
#ifndef PGCH_RUNCHECK_H
#define PGCH_RUNCHECK_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"

/* create_slot: the pipe's replication slot is to be created (and does not exist). */
bool runcheck(PGconn *pg, ChConn *ch, const Config *cfg, const Catalog *cat, bool create_slot);

/* Each row hook on the first 100 rows of its table (its filter applied), before anything
 * exists: a hook that fails on them (a changed key, a value no column takes, a Lua error, a
 * runaway loop) is logged once, with where on_row is defined, and false is returned, so the
 * run stops before it creates anything (pgch check reports it too). */
bool runcheck_row_hooks(PGconn *pg, const Config *cfg, const Catalog *cat);

#endif
