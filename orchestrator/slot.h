/*
 * slot — the publication, the replication slot and exported snapshots (ARCHITECTURE.md, "Consistency").
 *
 * Order matters: the publication is created and committed first, then the slot, because a
 * slot whose start point precedes its publication makes every START_REPLICATION fail. The
 * slot is created on a replication connection with EXPORT_SNAPSHOT; that connection first
 * turns off statement and idle timeouts, uses TCP keepalives, and then stays idle so the
 * snapshot stays importable by workers. When it is lost, a new snapshot comes from a
 * TEMPORARY slot, whose consistent point is exact; the main slot still starts where it did.
 */
#ifndef PGCH_SLOT_H
#define PGCH_SLOT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"

typedef struct ExportedSnapshot {
	PGconn *conn;   /* the replication connection that holds it; must stay idle */
	char *slot;
	char *name;     /* snapshot name for SET TRANSACTION SNAPSHOT */
	uint64_t lsn;   /* consistent point */
	bool temporary;
} ExportedSnapshot;

typedef struct SlotInfo {
	bool exists;
	bool active;
	uint64_t confirmed_flush;
	uint64_t restart_lsn;
	char wal_status[16];
	char plugin[32];
	char database[64];
} SlotInfo;

/* The CREATE PUBLICATION statement for the catalog's tables (also shown by pgch check). */
void slot_publication_sql(PGconn *conn, const Config *cfg, const Catalog *cat, Buf *out);
/* The ALTER PUBLICATION statements ("; "-separated, appended to out; none if nothing is to
 * change or it does not exist) that make the existing publication publish exactly the
 * catalog's tables with pgch's options: what pgch check and pgch run tell its owner to run
 * when pgch may not change it. neutral_oids ("{1,2}", NULL: none): published tables neither
 * wanted nor to drop. false (logged): the query failed. */
bool slot_publication_fix_sql(PGconn *conn, const Config *cfg, const Catalog *cat, const char *neutral_oids, Buf *out);
/* Create the publication for the selected tables (with their row filters and column lists,
 * rowfilter.h), or bring an existing one up to date; filter_changed[i] (may be NULL): table
 * i was published before with another row filter. */
bool slot_ensure_publication(PGconn *conn, const Config *cfg, const Catalog *cat, bool *filter_changed);
bool slot_info(PGconn *conn, const char *slot, SlotInfo *info);
/* Create a slot with an exported snapshot; the connection is kept in out. */
bool slot_create_exported(const Config *cfg, const char *slot, bool temporary, ExportedSnapshot *out);
/* What a failed CREATE_REPLICATION_SLOT means, from its SQLSTATE (never its text, which is
 * in the server's lc_messages): a slot of that name exists (42710), the role may not
 * create one (42501), or anything else. */
typedef enum SlotRefusal { SLOT_REFUSED_OTHER, SLOT_REFUSED_EXISTS, SLOT_REFUSED_PRIVILEGE } SlotRefusal;
SlotRefusal slot_refusal(const char *sqlstate);
/* Is the exporting connection still there? (Reads what the server sent, sends nothing.) */
bool slot_snapshot_alive(ExportedSnapshot *s);
void slot_release(ExportedSnapshot *s);
bool slot_drop(PGconn *conn, const char *slot);
/* Drop the publication if it exists (logged when it did). */
bool slot_drop_publication(PGconn *conn, const char *publication);
/*
 * Take the pipe's advisory lock (keyed by its slot name) for this session, so that a second
 * pgch run, snapshot or drop of the same pipe stops before it touches anything, whatever
 * phase the first is in; the lock goes with the session. false (logged) if another holds it.
 */
bool slot_lock_pipe(PGconn *conn, const Config *cfg);
/* Is a pgch holding the pipe's lock (running it) now? false (logged) on a query error. */
bool slot_pipe_running(PGconn *conn, const Config *cfg, bool *running);

#endif
