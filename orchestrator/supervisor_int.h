/*
 * supervisor_int — what the supervisor's two halves share: the state of a run (Sup), kept
 * by supervisor.c (the loop, the snapshot workers, finishing) and role.c (the stream and
 * catch-up workers, requests from other pgch commands, resyncs). Not for other modules.
 */
#ifndef PGCH_SUPERVISOR_INT_H
#define PGCH_SUPERVISOR_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "metrics.h"
#include "progress.h"
#include "scheduler.h"
#include "slot.h"
#include "state.h"
#include "supervisor.h"

typedef struct Sup {
	Config *cfg;
	PGconn *pg;
	ChConn *ch;
	Catalog *cat;
	const SupervisorOptions *o;
	bool run_mode;
	Sched sched;            /* the partitions and the snapshot workers */
	SchedRole role;         /* the stream worker (pgch run) or the catch-up worker (pgch snapshot) */
	ExportedSnapshot snap;  /* what new snapshot workers import (snap_ok) */
	bool snap_ok;
	bool slot_foreign;      /* the slot is not pgch's: never dropped */
	int temp_seq;           /* temporary slots made for snapshots so far */
	uint64_t slot_start;    /* where the slot's changes start */
	uint64_t max_lsn;       /* largest consistent point a partition was read under */
	uint64_t catch_up_to;   /* pgch snapshot: the catch-up's stop position (0: not started) */
	bool caught_up;         /* pgch snapshot: the changes made during the copy are applied */
	int prog_rd, prog_wr;   /* the workers' progress pipe */
	ProgressLine *lines;    /* per table, for the display */
	int64_t *unrep;         /* per table: values written as NULL or clamped */
	uint64_t *truncated;    /* per table: LSN of the TRUNCATE that last made it copy again */
	uint64_t stream_rows;   /* the stream worker's last report: changes applied, */
	uint64_t stream_lsn;    /* and the position confirmed */
	int stream_endpoint;    /* the destination.url endpoint the stream writes to (-1: none yet) */
	struct {                /* the pipe row last written, written again when the endpoint changes */
		bool written;
		StateStatus status;
		uint64_t lsn;
		bool slot_kept;
		const char *info;
	} pipe_row;
	bool copy_finished;     /* pgch run: every table copied and recorded */
	bool paused;            /* pgch pause: no stream worker until pgch resume */
	bool failed;
	bool stopping;
	bool reloading;         /* stopping to start over with the config in *o->reload_cfg */
	double started;
	double last_control;    /* when requests in _pgch_state were last read */
	Metrics *metrics;       /* pipe.metrics */
} Sup;

/* supervisor.c: the progress table's rows, and the workers' progress records read now. */
bool supervisor_write_pipe_row(Sup *s, StateStatus status, uint64_t lsn, bool slot_kept, const char *info);
bool supervisor_write_table_row(Sup *s, int ti, StateStatus status);
void supervisor_drain_progress(Sup *s);

/* role.c: the stream worker (pgch run) or the catch-up worker (pgch snapshot). */
void role_stop(Sup *s);
/* It exited (already reaped) with this wait status. */
void role_exited(Sup *s, int status);
/* Stop the stream so table ti can be copied again without it writing; why: for the log. */
void role_request_resync(Sup *s, int ti, const char *why);
/* Requests left in _pgch_state by pgch pause / resume / resync. */
void role_read_requests(Sup *s, const State *st);
/* The loop's turn: pgch run's stream worker, requests and resyncs... */
void role_manage_stream(Sup *s, double now);
/* ...or pgch snapshot's catch-up once every partition is copied. */
void role_manage_catch_up(Sup *s, double now);

#endif
