/*
 * metrics — the supervisor's counters and their Prometheus exposition; see metrics.h.
 *
 * Layout: counting; reading the slot; rendering (families in the order of the README's
 * table); serving.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "pg.h"

#define SLOT_READ_EVERY 5.0 /* seconds between reads of pg_replication_slots */

/* Upper bounds of the flush duration histogram, seconds (+Inf is implied). */
static const double flush_bounds[METRICS_FLUSH_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
							   0.5,   1,    2.5,   5,    10,  30};

static const char *const exit_reasons[WORKER_SLOT_LOST + 2] = {
	"done", "retry", "fatal", "stopped", "snapshot_gone", "schema_changed", "slot_lost", "signal"};
static const char *const role_names[METRICS_NROLES] = {"snapshot", "stream"};

static double unix_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- counting */

void metrics_copied(Metrics *m, int ti, int64_t rows, int64_t bytes)
{
	if (ti < 0 || ti >= m->cat->ntables || rows < 0 || bytes < 0) /* a late record of an earlier attempt */
		return;
	m->tables[ti].n[0][PROG_N_ROWS] += rows;
	m->tables[ti].n[0][PROG_N_BYTES] += bytes;
}

static void flushed(Metrics *m, double secs)
{
	m->flushes++;
	m->flush_seconds += secs;
	for (int b = 0; b < METRICS_FLUSH_BUCKETS; b++)
		if (secs <= flush_bounds[b])
			m->flush_buckets[b]++;
	m->last_flush = unix_now();
	m->pending_since_us = 0;
}

void metrics_progress(Metrics *m, const ProgressMsg *msg)
{
	switch ((ProgressKind)msg->kind) {
	case PROG_STREAM_TABLE: {
		int ti = msg->u.counts.index;
		if (ti < 0 || ti >= m->cat->ntables)
			return;
		for (int k = 0; k < PROG_N_COUNTS; k++)
			m->tables[ti].n[1][k] += msg->u.counts.n[k];
		break;
	}
	case PROG_STREAM_FLUSH: flushed(m, (double)msg->u.flush.duration_us / 1e6); break;
	case PROG_STREAM_PENDING:
		/* a restarted stream worker batches again what its predecessor had: keep the oldest */
		if (m->pending_since_us == 0 || msg->u.flush.commit_unix_us < m->pending_since_us)
			m->pending_since_us = msg->u.flush.commit_unix_us;
		break;
	case PROG_STREAM_ROWS: m->confirmed_lsn = msg->u.stream.confirmed_lsn; break;
	case PROG_STREAM_ENDPOINT: m->stream_endpoint = msg->u.table.index; break;
	default: break;
	}
}

void metrics_worker_exit(Metrics *m, MetricsRole role, int code, bool signaled, bool restarted)
{
	int reason = signaled ? WORKER_SLOT_LOST + 1 : code;
	if (reason < 0 || reason > WORKER_SLOT_LOST + 1)
		reason = WORKER_RETRY;
	m->exits[role][reason]++;
	if (restarted)
		m->restarts[role]++;
}

/* ---------------------------------------------------------------- the slot */

/* Lag in bytes and retained WAL, as the source sees the slot. */
static void read_slot(Metrics *m, PGconn *pg)
{
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		m->slot_known = false;
		return;
	}
	const char *params[1] = {m->cfg->pipe.slot};
	PGresult *res = PQexecParams(pg,
				     "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, "
				     "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
				     "FROM pg_replication_slots WHERE slot_name = $1",
				     1, NULL, params, NULL, NULL, 0);
	m->slot_known = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
	if (m->slot_known) {
		m->lag_bytes = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		m->retained_bytes = PQgetisnull(res, 0, 1) ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_debug("metrics: reading slot %s: %s", m->cfg->pipe.slot, PQerrorMessage(pg));
	}
	PQclear(res);
}

/* ---------------------------------------------------------------- rendering */

static void family(Buf *o, const char *name, const char *type, const char *help)
{
	buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format wants (backslash, quote, newline). */
static void label(Buf *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_put_u8(o, '\\');
		if (*v == '\n') {
			buf_puts(o, "\\n");
			continue;
		}
		buf_put_u8(o, (uint8_t)*v);
	}
}

/* name{table="T"[,extra]} value */
static void table_sample(Buf *o, const char *name, const char *table, const char *extra, double v)
{
	buf_printf(o, "%s{table=\"", name);
	label(o, table);
	buf_printf(o, "\"%s%s} %.17g\n", extra ? "," : "", extra ? extra : "", v);
}

static const char *pipe_state(const Metrics *m)
{
	const MetricsView *v = &m->view;
	if (*v->failed)
		return "failed";
	if (*v->paused)
		return "paused";
	if (sched_any_resync(v->sched))
		return "needs_resync";
	if (v->run_mode)
		return *v->copy_finished ? "streaming" : "copying";
	return sched_all_done(v->sched) ? "catching_up" : "copying";
}

bool metrics_healthy(const Metrics *m, const char **why)
{
	*why = pipe_state(m);
	return strcmp(*why, "failed") != 0 && strcmp(*why, "paused") != 0 && strcmp(*why, "needs_resync") != 0;
}

static void render_pipe(Metrics *m, Buf *o)
{
	static const char *const states[] = {"copying", "streaming", "catching_up", "paused", "needs_resync", "failed"};
	family(o, "pgch_info", "gauge", "The pipe this process runs (always 1).");
	buf_printf(o, "pgch_info{pipe=\"");
	label(o, m->cfg->pipe.name ? m->cfg->pipe.name : "");
	buf_printf(o, "\",slot=\"");
	label(o, m->cfg->pipe.slot);
	buf_printf(o, "\",mode=\"%s\"} 1\n", m->view.run_mode ? "run" : "snapshot");
	family(o, "pgch_start_time_seconds", "gauge", "When the supervisor started, Unix time.");
	buf_printf(o, "pgch_start_time_seconds %.3f\n", m->started);
	const DestConfig *d = &m->cfg->dest;
	int nu = d->n_urls > 0 ? d->n_urls : 1;
	family(o, "pgch_stream_endpoint", "gauge",
	       "1 for the destination.url endpoint the stream writes to, 0 for the others (none before it starts).");
	for (int i = 0; i < nu; i++) { /* URLs carry no credentials (the config refuses them) */
		const char *url = d->n_urls > 0 ? d->urls[i] : d->url;
		if (!url)
			continue;
		buf_puts(o, "pgch_stream_endpoint{url=\"");
		label(o, url);
		buf_printf(o, "\"} %d\n", i == m->stream_endpoint);
	}
	family(o, "pgch_pipe_state", "gauge", "1 for the state the pipe is in, 0 for the others.");
	const char *now = pipe_state(m);
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		buf_printf(o, "pgch_pipe_state{state=\"%s\"} %d\n", states[i], strcmp(now, states[i]) == 0);
}

static void render_tables(Metrics *m, Buf *o)
{
	static const char *const kinds[] = {"insert", "update", "delete", "truncate"};
	const Catalog *c = m->cat;
	family(o, "pgch_rows_written_total", "counter",
	       "Rows written to ClickHouse, by table and phase (snapshot: copied; stream: row versions and deletes).");
	for (int ti = 0; ti < c->ntables; ti++)
		for (int ph = 0; ph < 2; ph++)
			table_sample(o, "pgch_rows_written_total", c->tables[ti].display,
				     ph ? "phase=\"stream\"" : "phase=\"snapshot\"", (double)m->tables[ti].n[ph][PROG_N_ROWS]);
	family(o, "pgch_bytes_written_total", "counter", "Bytes of row data sent to ClickHouse, by table and phase.");
	for (int ti = 0; ti < c->ntables; ti++)
		for (int ph = 0; ph < 2; ph++)
			table_sample(o, "pgch_bytes_written_total", c->tables[ti].display,
				     ph ? "phase=\"stream\"" : "phase=\"snapshot\"", (double)m->tables[ti].n[ph][PROG_N_BYTES]);
	family(o, "pgch_stream_changes_total", "counter",
	       "Changes applied by the stream (acknowledged by ClickHouse), by table and kind.");
	for (int ti = 0; ti < c->ntables; ti++)
		for (int k = 0; k < 4; k++) {
			char extra[32];
			snprintf(extra, sizeof extra, "kind=\"%s\"", kinds[k]);
			table_sample(o, "pgch_stream_changes_total", c->tables[ti].display, extra, (double)m->tables[ti].n[1][k]);
		}
	family(o, "pgch_insert_retries_total", "counter",
	       "Stream INSERTs that failed and were retried, by table and reason (unreachable: no answer; rejected: an "
	       "error from ClickHouse).");
	for (int ti = 0; ti < c->ntables; ti++) {
		table_sample(o, "pgch_insert_retries_total", c->tables[ti].display, "reason=\"unreachable\"",
			     (double)m->tables[ti].n[1][PROG_N_RETRY_UNREACHABLE]);
		table_sample(o, "pgch_insert_retries_total", c->tables[ti].display, "reason=\"rejected\"",
			     (double)m->tables[ti].n[1][PROG_N_RETRY_REJECTED]);
	}
	family(o, "pgch_unrepresentable_values_total", "counter",
	       "Values ClickHouse's column could not take, written as NULL or clamped (pipe.on_unrepresentable).");
	for (int ti = 0; ti < c->ntables; ti++)
		table_sample(o, "pgch_unrepresentable_values_total", c->tables[ti].display, NULL,
			     (double)(m->view.unrep ? m->view.unrep[ti] : 0));
}

static void render_snapshot(Metrics *m, Buf *o)
{
	const Catalog *c = m->cat;
	const Plan *plan = &m->view.sched->plan;
	int *total = xcalloc((size_t)c->ntables + 1, sizeof(int)), *done = xcalloc((size_t)c->ntables + 1, sizeof(int));
	for (int i = 0; i < plan->nparts; i++) {
		int ti = plan->parts[i].table;
		if (ti < 0 || ti >= c->ntables)
			continue;
		total[ti]++;
		done[ti] += plan->parts[i].status == PART_DONE;
	}
	family(o, "pgch_snapshot_partitions", "gauge", "Partitions of each table's copy (rows_per_partition).");
	for (int ti = 0; ti < c->ntables; ti++)
		table_sample(o, "pgch_snapshot_partitions", c->tables[ti].display, NULL, total[ti]);
	family(o, "pgch_snapshot_partitions_done", "gauge", "Partitions of each table's copy that are done.");
	for (int ti = 0; ti < c->ntables; ti++)
		table_sample(o, "pgch_snapshot_partitions_done", c->tables[ti].display, NULL, done[ti]);
	free(total);
	free(done);
	int resync = 0;
	for (int ti = 0; ti < c->ntables; ti++)
		resync += m->view.sched->resync[ti];
	family(o, "pgch_tables_needing_resync", "gauge", "Tables waiting to be copied again (their changes set aside).");
	buf_printf(o, "pgch_tables_needing_resync %d\n", resync);
}

static void render_stream(Metrics *m, Buf *o)
{
	family(o, "pgch_stream_flush_duration_seconds", "histogram",
	       "Time to flush the stream's batch into ClickHouse, retries included; _count is the batches flushed.");
	for (int b = 0; b < METRICS_FLUSH_BUCKETS; b++)
		buf_printf(o, "pgch_stream_flush_duration_seconds_bucket{le=\"%g\"} %llu\n", flush_bounds[b],
			   (unsigned long long)m->flush_buckets[b]);
	buf_printf(o, "pgch_stream_flush_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)m->flushes);
	buf_printf(o, "pgch_stream_flush_duration_seconds_sum %.6f\n", m->flush_seconds);
	buf_printf(o, "pgch_stream_flush_duration_seconds_count %llu\n", (unsigned long long)m->flushes);
	family(o, "pgch_last_flush_timestamp_seconds", "gauge",
	       "When the stream's last flush was acknowledged, Unix time (0: none yet; an idle source flushes nothing).");
	buf_printf(o, "pgch_last_flush_timestamp_seconds %.3f\n", m->last_flush);
	double lag = 0;
	if (m->pending_since_us > 0) {
		lag = unix_now() - (double)m->pending_since_us / 1e6;
		if (lag < 0)
			lag = 0;
	}
	family(o, "pgch_replication_lag_seconds", "gauge",
	       "Age of the oldest change not yet acknowledged by ClickHouse (its commit time to now); 0 when none waits.");
	buf_printf(o, "pgch_replication_lag_seconds %.3f\n", lag);
	if (m->slot_known) {
		family(o, "pgch_replication_lag_bytes", "gauge",
		       "WAL the source has written past the slot's confirmed position, bytes.");
		buf_printf(o, "pgch_replication_lag_bytes %lld\n", (long long)m->lag_bytes);
		family(o, "pgch_slot_retained_wal_bytes", "gauge", "WAL the replication slot keeps on the source, bytes.");
		buf_printf(o, "pgch_slot_retained_wal_bytes %lld\n", (long long)m->retained_bytes);
	}
	family(o, "pgch_source_up", "gauge", "1 when the last read of the slot's position from the source worked.");
	buf_printf(o, "pgch_source_up %d\n", m->slot_known);
}

static void render_workers(Metrics *m, Buf *o)
{
	family(o, "pgch_worker_exits_total", "counter", "Worker processes that ended, by role and reason.");
	for (int r = 0; r < METRICS_NROLES; r++)
		for (int e = 0; e <= WORKER_SLOT_LOST + 1; e++)
			buf_printf(o, "pgch_worker_exits_total{role=\"%s\",reason=\"%s\"} %llu\n", role_names[r], exit_reasons[e],
				   (unsigned long long)m->exits[r][e]);
	family(o, "pgch_worker_restarts_total", "counter", "Workers started again after a failure, by role.");
	for (int r = 0; r < METRICS_NROLES; r++)
		buf_printf(o, "pgch_worker_restarts_total{role=\"%s\"} %llu\n", role_names[r],
			   (unsigned long long)m->restarts[r]);
}

void metrics_render(Metrics *m, Buf *out)
{
	render_pipe(m, out);
	render_tables(m, out);
	render_snapshot(m, out);
	render_stream(m, out);
	render_workers(m, out);
}

/* ---------------------------------------------------------------- serving */

static int answer(void *ctx, const char *path, Buf *body, const char **content_type)
{
	Metrics *m = ctx;
	if (strcmp(path, "/metrics") == 0) {
		*content_type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(m, body);
		return 200;
	}
	if (strcmp(path, "/healthz") == 0) {
		const char *why;
		bool ok = metrics_healthy(m, &why);
		buf_printf(body, "%s\n", why);
		return ok ? 200 : 503;
	}
	if (strcmp(path, "/") == 0) {
		buf_printf(body, "pgch: /metrics (Prometheus), /healthz\n");
		return 200;
	}
	buf_printf(body, "not found: /metrics or /healthz\n");
	return 404;
}

bool metrics_open(Metrics *m, const Config *cfg, const Catalog *cat)
{
	memset(m, 0, sizeof *m);
	m->cfg = cfg;
	m->stream_endpoint = -1;
	m->cat = cat;
	m->tables = xcalloc((size_t)cat->ntables + 1, sizeof(MetricsTable));
	m->started = unix_now();
	if (!cfg->pipe.metrics)
		return true;
	if (!metrics_http_start(&m->http, cfg->pipe.metrics, answer, m))
		return false;
	m->serving = true;
	log_info("metrics at http://%s/metrics", cfg->pipe.metrics);
	return true;
}

void metrics_attach(Metrics *m, const MetricsView *view)
{
	m->view = *view;
	m->attached = true;
}

void metrics_close(Metrics *m)
{
	if (m->serving)
		metrics_http_stop(&m->http);
	m->serving = false;
	free(m->tables);
	m->tables = NULL;
}

int metrics_fd(const Metrics *m)
{
	return m->serving && m->attached ? metrics_http_fd(&m->http) : -1;
}

void metrics_serve(Metrics *m, PGconn *pg)
{
	if (!m->serving || !m->attached)
		return;
	double now = progress_now();
	if (m->slot_read_at == 0 || now - m->slot_read_at >= SLOT_READ_EVERY) {
		m->slot_read_at = now;
		read_slot(m, pg);
	}
	metrics_http_run(&m->http);
}
