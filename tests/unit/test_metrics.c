/*
 * Unit tests of the metrics registry (metrics.c) and the address parser (metrics_http.c):
 * what progress records add up to, the pipe's state and /healthz for each supervisor state,
 * label escaping, and which pipe.metrics values are refused. No socket is opened (the
 * integration test metrics.t serves the same output to promtool and Prometheus).
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"

static bool has(const Buf *b, const char *line)
{
	return b->data && strstr(b->data, line) != NULL;
}

static void test_parse(void)
{
	char host[64], err[128];
	int port = 0;
	ok(metrics_http_parse("127.0.0.1:9187", host, sizeof host, &port, err, sizeof err) && strcmp(host, "127.0.0.1") == 0 &&
		   port == 9187,
	   "HOST:PORT");
	ok(metrics_http_parse(":9187", host, sizeof host, &port, err, sizeof err) && host[0] == '\0', ":PORT is every interface");
	ok(metrics_http_parse("[::1]:80", host, sizeof host, &port, err, sizeof err) && strcmp(host, "::1") == 0 && port == 80,
	   "[IPv6]:PORT");
	ok(metrics_http_parse("localhost:1", host, sizeof host, &port, err, sizeof err), "a host name");
	const char *bad[] = {"9187", "host:", "host:0", "host:65536", "host:9x", "::1:9187"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(!metrics_http_parse(bad[i], host, sizeof host, &port, err, sizeof err) && err[0], "\"%s\" refused: %s", bad[i], err);
}

static void test_counts(void)
{
	Config cfg = {0};
	cfg.pipe.slot = "pgch_p";
	cfg.pipe.name = "p";
	char *urls[2] = {"http://ch1:8123", "http://ch2:8123"};
	cfg.dest.urls = urls;
	cfg.dest.n_urls = 2;
	cfg.dest.url = urls[0];
	Table tables[2] = {{.display = "public.a"}, {.display = "odd\"name\\x"}};
	Catalog cat = {tables, 2, 150000, "db"};
	Partition parts[3] = {{.table = 0, .status = PART_DONE}, {.table = 0}, {.table = 1, .status = PART_DONE}};
	bool resync[2] = {false, false}, paused = false, failed = false, finished = true;
	int64_t unrep[2] = {0, 7};
	Sched sched = {.plan = {parts, 3}, .ntables = 2, .resync = resync};
	Metrics m;
	ok(metrics_open(&m, &cfg, &cat), "open without pipe.metrics: nothing to listen on");
	is_int(metrics_fd(&m), -1, "no socket");
	metrics_attach(&m, &(MetricsView){&sched, unrep, &paused, &failed, &finished, true});

	metrics_copied(&m, 0, 1000, 5000);
	metrics_copied(&m, 0, 500, 2500);
	metrics_copied(&m, 0, -10, 0); /* a late record of an earlier attempt */
	ProgressMsg c = {.kind = PROG_STREAM_TABLE, .u.counts = {.index = 0}};
	c.u.counts.n[PROG_N_INSERT] = 3;
	c.u.counts.n[PROG_N_UPDATE] = 2;
	c.u.counts.n[PROG_N_ROWS] = 5;
	metrics_progress(&m, &c);
	metrics_progress(&m, &c);
	ProgressMsg r = {.kind = PROG_STREAM_TABLE, .u.counts = {.index = 1}};
	r.u.counts.n[PROG_N_RETRY_REJECTED] = 1;
	metrics_progress(&m, &r);
	ProgressMsg bad = {.kind = PROG_STREAM_TABLE, .u.counts = {.index = 9}};
	metrics_progress(&m, &bad);
	ProgressMsg f = {.kind = PROG_STREAM_FLUSH, .u.flush = {.duration_us = 30000}};
	metrics_progress(&m, &f);
	f.u.flush.duration_us = 2000000;
	metrics_progress(&m, &f);
	Buf b;
	buf_init(&b);
	metrics_render(&m, &b);
	ok(has(&b, "pgch_stream_endpoint{url=\"http://ch1:8123\"} 0\n") && has(&b, "pgch_stream_endpoint{url=\"http://ch2:8123\"} 0\n"),
	   "no endpoint before the stream says which");
	ProgressMsg e = {.kind = PROG_STREAM_ENDPOINT, .u.table = {.index = 1}};
	metrics_progress(&m, &e);
	metrics_worker_exit(&m, METRICS_STREAM, 0, true, true);
	metrics_worker_exit(&m, METRICS_SNAPSHOT, WORKER_SNAPSHOT_GONE, false, true);
	metrics_worker_exit(&m, METRICS_SNAPSHOT, WORKER_FATAL, false, false);

	buf_reset(&b);
	metrics_render(&m, &b);
	ok(has(&b, "pgch_stream_endpoint{url=\"http://ch1:8123\"} 0\n") && has(&b, "pgch_stream_endpoint{url=\"http://ch2:8123\"} 1\n"),
	   "the endpoint the stream writes to");
	ok(has(&b, "pgch_rows_written_total{table=\"public.a\",phase=\"snapshot\"} 1500\n"), "snapshot rows add up");
	ok(has(&b, "pgch_bytes_written_total{table=\"public.a\",phase=\"snapshot\"} 7500\n"), "snapshot bytes add up");
	ok(has(&b, "pgch_stream_changes_total{table=\"public.a\",kind=\"insert\"} 6\n"), "inserts add up");
	ok(has(&b, "pgch_stream_changes_total{table=\"public.a\",kind=\"update\"} 4\n"), "updates add up");
	ok(has(&b, "pgch_stream_changes_total{table=\"public.a\",kind=\"delete\"} 0\n"), "every series is there from the start");
	ok(has(&b, "pgch_rows_written_total{table=\"public.a\",phase=\"stream\"} 10\n"), "stream rows add up");
	ok(has(&b, "pgch_insert_retries_total{table=\"odd\\\"name\\\\x\",reason=\"rejected\"} 1\n"),
	   "a table name's quote and backslash are escaped");
	ok(has(&b, "pgch_unrepresentable_values_total{table=\"odd\\\"name\\\\x\"} 7\n"), "unrepresentable values from the state");
	ok(has(&b, "pgch_stream_flush_duration_seconds_bucket{le=\"0.05\"} 1\n") &&
		   has(&b, "pgch_stream_flush_duration_seconds_bucket{le=\"2.5\"} 2\n") &&
		   has(&b, "pgch_stream_flush_duration_seconds_bucket{le=\"+Inf\"} 2\n") &&
		   has(&b, "pgch_stream_flush_duration_seconds_count 2\n") &&
		   has(&b, "pgch_stream_flush_duration_seconds_sum 2.030000\n"),
	   "the flush histogram is cumulative");
	ok(has(&b, "pgch_snapshot_partitions{table=\"public.a\"} 2\n") && has(&b, "pgch_snapshot_partitions_done{table=\"public.a\"} 1\n"),
	   "partitions done/total from the plan");
	ok(has(&b, "pgch_worker_restarts_total{role=\"snapshot\"} 1\n") && has(&b, "pgch_worker_restarts_total{role=\"stream\"} 1\n"),
	   "restarts by role");
	ok(has(&b, "pgch_worker_exits_total{role=\"stream\",reason=\"signal\"} 1\n") &&
		   has(&b, "pgch_worker_exits_total{role=\"snapshot\",reason=\"fatal\"} 1\n"),
	   "exits by reason");
	ok(has(&b, "pgch_replication_lag_seconds 0.000\n"), "no change waiting: lag 0");
	ok(!has(&b, "pgch_replication_lag_bytes") && has(&b, "pgch_source_up 0\n"), "slot not read: no lag in bytes, source_up 0");
	ok(has(&b, "pgch_pipe_state{state=\"streaming\"} 1\n") && has(&b, "pgch_pipe_state{state=\"copying\"} 0\n"),
	   "streaming once every table is copied");

	/* the oldest waiting change sets the lag; a flush clears it */
	ProgressMsg p = {.kind = PROG_STREAM_PENDING, .u.flush = {.commit_unix_us = 1000000}};
	metrics_progress(&m, &p);
	p.u.flush.commit_unix_us = 5000000; /* a later one does not move it */
	metrics_progress(&m, &p);
	is_int(m.pending_since_us, 1000000, "the oldest pending commit is kept");
	metrics_progress(&m, &f);
	is_int(m.pending_since_us, 0, "a flush clears it");

	const char *why;
	ok(metrics_healthy(&m, &why) && strcmp(why, "streaming") == 0, "healthy while streaming");
	finished = false;
	ok(metrics_healthy(&m, &why) && strcmp(why, "copying") == 0, "healthy while copying");
	resync[1] = true;
	ok(!metrics_healthy(&m, &why) && strcmp(why, "needs_resync") == 0, "a table to copy again: unhealthy");
	paused = true;
	ok(!metrics_healthy(&m, &why) && strcmp(why, "paused") == 0, "paused: unhealthy");
	failed = true;
	ok(!metrics_healthy(&m, &why) && strcmp(why, "failed") == 0, "failed: unhealthy");
	buf_reset(&b);
	metrics_render(&m, &b);
	ok(has(&b, "pgch_pipe_state{state=\"failed\"} 1\n") && has(&b, "pgch_tables_needing_resync 1\n"), "rendered states follow");
	failed = paused = false;
	resync[1] = false;
	m.view.run_mode = false;
	for (int i = 0; i < 3; i++)
		parts[i].status = PART_DONE;
	ok(metrics_healthy(&m, &why) && strcmp(why, "catching_up") == 0, "pgch snapshot, every partition copied: catching up");
	buf_free(&b);
	metrics_close(&m);
}

int main(void)
{
	test_parse();
	test_counts();
	return done_testing();
}
