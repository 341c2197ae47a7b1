/*
 * metrics — the pipe's numbers for Prometheus, kept by the supervisor.
 *
 * Workers already tell the supervisor what they do through progress records (progress.h);
 * the supervisor hands the stream's records to metrics_progress and the snapshot's row
 * counts to metrics_copied, and reports worker exits. What the supervisor knows as state
 * (partitions done, tables to copy again, unrepresentable values, paused or failed) is read
 * from it when the metrics are rendered, through the pointers of MetricsView, so nothing is
 * kept twice. Replication lag in bytes and the WAL the slot retains are read from the
 * source every few seconds (pg_replication_slots), never on a scrape.
 *
 * With pipe.metrics set, metrics_open listens on that address (metrics_http.c) and
 * metrics_serve answers requests from the supervisor's loop: GET /metrics (Prometheus text
 * format 0.0.4) and GET /healthz (200 while copying or streaming; 503 when failed, paused
 * or waiting for a table to be copied again).
 *
 * Lag in seconds is the age of the oldest change the stream has batched and ClickHouse has
 * not yet acknowledged (its commit time to now), 0 when nothing waits: it rises while
 * ClickHouse is away and falls back once the batch is in.
 */
#ifndef PGCH_METRICS_H
#define PGCH_METRICS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "exitcode.h"
#include "metrics_http.h"
#include "progress.h"
#include "scheduler.h"

#define METRICS_FLUSH_BUCKETS 12

typedef enum MetricsRole { METRICS_SNAPSHOT, METRICS_STREAM, METRICS_NROLES } MetricsRole;

/* The supervisor's state, read when rendering. */
typedef struct MetricsView {
	const Sched *sched;    /* partitions (plan) and tables to copy again (resync) */
	const int64_t *unrep;  /* per table: unrepresentable values, all runs */
	const bool *paused;
	const bool *failed;
	const bool *copy_finished;
	bool run_mode;         /* pgch run (else pgch snapshot) */
} MetricsView;

typedef struct MetricsTable {
	int64_t n[2][PROG_N_COUNTS]; /* [0]: snapshot (rows, bytes); [1]: stream (every count) */
} MetricsTable;

typedef struct Metrics {
	const Config *cfg;
	const Catalog *cat;
	MetricsView view;
	bool attached;
	MetricsTable *tables;
	uint64_t flushes;
	uint64_t flush_buckets[METRICS_FLUSH_BUCKETS]; /* cumulative counts per upper bound */
	double flush_seconds;
	double last_flush;        /* unix time; 0: none yet */
	int stream_endpoint;      /* destination.url endpoint the stream writes to (-1: none yet) */
	int64_t pending_since_us; /* commit time of the oldest change not yet in ClickHouse; 0: none */
	uint64_t confirmed_lsn;
	uint64_t exits[METRICS_NROLES][WORKER_SLOT_LOST + 2]; /* by exit code; the last: killed by a signal */
	uint64_t restarts[METRICS_NROLES];
	bool slot_known;          /* the last read of pg_replication_slots worked */
	int64_t lag_bytes, retained_bytes;
	double slot_read_at;      /* monotonic */
	double started;           /* unix time */
	MetricsHttp http;
	bool serving;
} Metrics;

/* Set up the counters and, when pipe.metrics is set, listen there (requests wait until
 * metrics_attach). false (logged): the address cannot be used. */
bool metrics_open(Metrics *m, const Config *cfg, const Catalog *cat);
/* The supervisor's state to read from; requests are answered from now on. */
void metrics_attach(Metrics *m, const MetricsView *view);
void metrics_close(Metrics *m);

/* A stream record (PROG_STREAM_*); others are ignored. */
void metrics_progress(Metrics *m, const ProgressMsg *msg);
/* Rows and bytes a snapshot worker wrote for table ti since its last record. */
void metrics_copied(Metrics *m, int ti, int64_t rows, int64_t bytes);
/* A worker ended with exit code `code` (or killed by a signal); restarted: it runs again. */
void metrics_worker_exit(Metrics *m, MetricsRole role, int code, bool signaled, bool restarted);

/* The socket to wait on for requests (-1: not serving). */
int metrics_fd(const Metrics *m);
/* Answer waiting requests; every few seconds, read the slot's lag from the source. */
void metrics_serve(Metrics *m, PGconn *pg);

/* The Prometheus text exposition of every metric. */
void metrics_render(Metrics *m, Buf *out);
/* /healthz: true when copying or streaming; why names the state. */
bool metrics_healthy(const Metrics *m, const char **why);

#endif
