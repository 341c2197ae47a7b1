/*
 * supervisor — the process that owns a pipe's run. Once prepare.c has made it ready
 * (publication, slot, exported snapshot, ClickHouse tables, stored plan), it forks snapshot
 * workers as scheduler.c decides, within the configured limits, reaps them, retries failed
 * partitions with backoff, records progress in the destination and shows it. In pgch run it
 * keeps a stream worker going from the start (restarted after a failure, stopped for a
 * pause or while a table is copied again); in pgch snapshot a catch-up worker applies the
 * changes made during the copy once every partition is in. It never moves row data itself:
 * every worker is a forked process (worker.c).
 *
 * Event loop: poll() on the workers' progress pipe, a self-pipe written by the SIGCHLD
 * handler, and the exported-snapshot connection (to notice it dying), with a timeout only
 * for the display and retry timers. Signals only set flags: SIGTERM/SIGINT ask every worker
 * to stop (partitions in hand stay to do; the stream and catch-up workers flush and confirm
 * what they applied), and once all are reaped pgch run exits 0 and an unfinished pgch
 * snapshot 3 (PGCH_EXIT_INCOMPLETE).
 */
#ifndef PGCH_SUPERVISOR_H
#define PGCH_SUPERVISOR_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "exitcode.h"

typedef struct SupervisorOptions {
	bool keep_slot;  /* snapshot: keep the slot for `pgch run` */
	bool restart;    /* forget recorded progress, truncate targets, copy again */
	bool json;       /* summary as JSON on stdout */
	Config **reload_cfg;   /* run: where a config re-read on SIGHUP goes (reload.h), */
	Catalog *reload_cat;   /* with its catalog */
} SupervisorOptions;

/* supervisor_run's answer when it stopped to take the config in *reload_cfg: run it again
 * with that (never an exit status). */
#define SUPERVISOR_RELOAD 100

/* Install the signal handlers early, so a SIGTERM during start-up still ends in an orderly exit. */
bool supervisor_signals(void);

/* pgch snapshot: returns the process exit status (PGCH_EXIT_OK, _FAILED or _INCOMPLETE). */
int supervisor_snapshot(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const SupervisorOptions *o);
/* pgch run: copy what is not copied, stream changes until SIGTERM/SIGINT (then exit 0). */
int supervisor_run(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const SupervisorOptions *o);

#endif
