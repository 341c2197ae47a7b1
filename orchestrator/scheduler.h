/*
 * scheduler — the supervisor's decisions, without the doing: which partition a snapshot
 * worker copies next, and what a worker's exit means. Pure: no I/O, no processes, no clock
 * (the caller passes `now`), no logging; unit-tested in tests/unit/test_scheduler.c.
 *
 * The supervisor owns processes and pipes. It asks sched_next what to do (give partition P
 * to idle worker W, fork a worker for P, retire an idle worker, or wait), reports what
 * happened (sched_started, sched_part_done, sched_part_failed, sched_worker_gone) and carries
 * out the verdicts: retry at a time (backoff.h), give up after pipe.max_retries, stop the
 * run, take a new snapshot, copy a table again. A role worker (the stream worker of pgch
 * run, the catch-up worker of pgch snapshot) gets its verdict from sched_role_exit.
 *
 * Order: partitions of bigger tables first (their copy is the long pole), then by table, then
 * by number. At most tables_in_parallel tables are copied at once, and a table already being
 * copied takes free capacity before another starts. A worker only takes further partitions
 * of the table it started on (its transaction keeps every table it read locked, ACCESS
 * SHARE, so moving on would hold up DDL on the first), and only if its snapshot is recent
 * enough for that table (min_lsn, raised when the table is copied again).
 */
#ifndef PGCH_SCHEDULER_H
#define PGCH_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "plan.h"
#include "state.h"

typedef struct SchedWorker {
	int pid;
	int cmd_fd;      /* the supervisor's end of its command pipe; -1 once closed (no more work) */
	int part;        /* partition in hand, -1 when idle */
	int table;       /* the table it copies */
	uint64_t lsn;    /* the snapshot it imported */
} SchedWorker;

typedef struct Sched {
	Plan plan;            /* owned: the partitions and their progress */
	int ntables;
	int *order;           /* partition indexes in scheduling order */
	bool *active;         /* per table: started and not finished */
	int nactive;
	bool *resync;         /* per table: to be copied again */
	uint64_t *min_lsn;    /* per table: a worker's snapshot must be at least this recent */
	SchedWorker *workers;
	int nworkers;
	int max_workers;
	int tables_in_parallel;
	int max_retries;
} Sched;

/* Take over plan; table_rows: each table's row estimate (bigger tables go first). */
void sched_init(Sched *s, Plan plan, const int64_t *table_rows, int ntables, int max_workers, int tables_in_parallel,
		int max_retries);
void sched_free(Sched *s);

/*
 * The stored plan of tables that have one replaces the fresh plan in *plan (a resumed run
 * keeps its ranges; partitions recorded done stay done, with their rows and snapshot LSN);
 * other tables keep the fresh plan. A stored partition whose leaf is gone is left out: such
 * rows are put in skipped (room for st->n) for the caller to name; returns how many.
 */
int sched_restore_plan(Plan *plan, const Catalog *cat, const State *st, const StateRecord **skipped);

typedef enum SchedStep {
	SCHED_WAIT,    /* nothing to start now */
	SCHED_ASSIGN,  /* give .part to idle worker .worker */
	SCHED_FORK,    /* start a worker for .part (under a snapshot at least min_lsn[its table]) */
	SCHED_RETIRE,  /* close idle worker .worker's command pipe to make room, then wait */
} SchedStep;

typedef struct SchedAction {
	SchedStep step;
	int part;
	int worker;
} SchedAction;

/* The next thing to do. hold: start nothing new (stopping, or a resync waits). */
SchedAction sched_next(const Sched *s, double now, bool hold);
/* A worker was forked for table ti under snapshot lsn; returns its index. */
int sched_add_worker(Sched *s, int pid, int cmd_fd, int ti, uint64_t lsn);
/* Partition pi started on worker w. */
void sched_started(Sched *s, int pi, int w, double now);
/* Partition pi is copied; true when that finished its table. */
bool sched_part_done(Sched *s, int pi);
/* The index of worker pid, or -1 if it is not a snapshot worker. */
int sched_worker_index(const Sched *s, int pid);
/* Worker w exited: it is removed; returns the partition it had in hand, or -1. */
int sched_worker_gone(Sched *s, int w);
/* Idle workers to let go (no partition of their table waiting for them; every one if
 * stopping): their indexes in out (room for nworkers), returns how many. */
int sched_idle_to_retire(const Sched *s, bool stopping, int *out);

typedef enum SchedVerdict {
	SCHED_ABANDONED,     /* stopped on request: it stays to do */
	SCHED_RETRY,         /* failed: tried again at *retry_at */
	SCHED_GIVE_UP,       /* failed more than max_retries times: the run fails */
	SCHED_FATAL,         /* cannot be copied as configured: the run fails */
	SCHED_NEW_SNAPSHOT,  /* its snapshot cannot be imported any more: again, under a new one */
	SCHED_COPY_AGAIN,    /* its table's columns changed: the table is copied again */
} SchedVerdict;

/* Partition pi's worker exited before finishing it; code is its WorkerExit, or -1 when it
 * was killed by a signal; stopping: the run is being stopped. The partition is to do again. */
SchedVerdict sched_part_failed(Sched *s, int pi, int code, bool stopping, double now, double *retry_at);

/* Start copying table ti again: its partitions are to do, and only a worker holding a
 * snapshot newer than newest_lsn (taken from now on) may copy it. */
void sched_reset_table(Sched *s, int ti, uint64_t newest_lsn);

bool sched_all_done(const Sched *s);
bool sched_table_copying(const Sched *s, int ti);
bool sched_any_resync(const Sched *s);

/* A role worker: the stream worker (pgch run) or the catch-up worker (pgch snapshot). */
typedef struct SchedRole {
	int pid;             /* 0: not running */
	double started;
	double restart_at;   /* not before */
	int failures;        /* consecutive ends on its own */
	bool stopping;       /* asked to stop (a pause, a resync) */
} SchedRole;

typedef enum RoleVerdict {
	ROLE_REACHED,  /* catch-up: every change up to its stop position is applied */
	ROLE_STOPPED,  /* stopped as asked; may start again at once */
	ROLE_RESTART,  /* ended on its own: start it again at restart_at (backoff) */
	ROLE_FAILED,   /* cannot continue (fatal, or the slot is lost): the run stops */
} RoleVerdict;

/* The role's worker exited with code (WorkerExit, -1: killed by a signal). */
RoleVerdict sched_role_exit(SchedRole *r, int code, bool stopping, bool catch_up, double now);

#endif
