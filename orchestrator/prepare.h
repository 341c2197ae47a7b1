/*
 * prepare — what pgch snapshot and pgch run do before their first worker starts, in an
 * order that leaves both servers as they were when the run is refused:
 *
 *   1. look: take the pipe's lock, read the recorded progress and the slot (creates nothing);
 *   2. decide: a snapshot that already finished; resume from the recorded slot, or create
 *      it; and refuse what cannot work: the slot's state here, the servers' in runcheck.c;
 *   3. create: the state table, --restart's clean slate, the plan (the stored one where
 *      there is one, so a resumed run keeps its ranges), the publication, then the slot with
 *      its exported snapshot (slot.h: in that order), the ClickHouse tables, the plan's rows.
 *
 * A table copied again during a run (a resync) is prepared anew by prepare_recopy.
 */
#ifndef PGCH_PREPARE_H
#define PGCH_PREPARE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "plan.h"
#include "scheduler.h"
#include "slot.h"
#include "state.h"

typedef enum PrepareResult {
	PREPARE_READY,        /* start the workers */
	PREPARE_NOTHING_LEFT, /* pgch snapshot: every table was copied by an earlier run (exit 0) */
	PREPARE_FAILED,       /* logged; whatever was created so far stays for the next run */
} PrepareResult;

/* What the run starts from; the caller owns all of it once PREPARE_READY is returned. */
typedef struct Prepared {
	State st;               /* recorded progress as loaded (empty after --restart) */
	Plan plan;              /* partitions, those recorded done marked done */
	ExportedSnapshot snap;  /* the new slot's exported snapshot (snap_ok), for the first workers */
	bool snap_ok;
	bool slot_foreign;      /* the slot is not pgch's (a DBA made it): never dropped */
	uint64_t slot_start;    /* where the slot's changes start */
	uint64_t max_lsn;       /* largest consistent point a done partition was read under, >= slot_start */
	int64_t *unrep;         /* per table: unrepresentable values recorded so far */
	const char **unsure;    /* per table: NULL, or why the old rows' values of columns added while
				 * pgch was away are unknown (schema_add_columns) */
} Prepared;

typedef struct PrepareOptions {
	bool run_mode;   /* pgch run (else pgch snapshot) */
	bool restart;    /* forget progress, drop the targets and the slot, copy again */
	bool keep_slot;  /* pgch snapshot --keep-slot */
} PrepareOptions;

PrepareResult prepare_run(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const PrepareOptions *o, Prepared *out);

/*
 * Table ti, to be copied again while the run goes on: its columns read anew
 * (catalog_refresh), then either (shadow, pgch run) a shadow table created for the copy,
 * swapped in later (resync.h), or its destination emptied or recreated; its partitions made to do
 * again in sched, for workers with a snapshot newer than newest_lsn (sched_reset_table), and
 * recorded so. false (logged), with nothing reset, if it cannot be copied as it is now.
 */
bool prepare_recopy(const Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, Sched *sched, int ti, uint64_t newest_lsn,
		    uint64_t unrep, const char *restart_hint, bool shadow);

#endif
