/*
 * Unit tests of the scheduler (scheduler.c): the order partitions are taken in, the limits
 * on workers and tables copied at once, which worker may take which partition, backoff and
 * giving up, what each worker exit means, and the restored plan of a resumed run. No
 * process is started: the tests play the supervisor's part on a Sched.
 */
#include <stdlib.h>
#include <string.h>

#include "exitcode.h"
#include "plan.h"
#include "scheduler.h"
#include "tap.h"

/* A plan of tables with the given partition counts (partitions interleaved by table, as
 * plan_partitions would not, to show the order is the scheduler's). */
static Plan make_plan(const int *nparts, int ntables)
{
	int total = 0;
	for (int t = 0; t < ntables; t++)
		total += nparts[t];
	Plan p = {calloc((size_t)total + 1, sizeof(Partition)), 0};
	for (int k = 0; p.nparts < total; k++)
		for (int t = 0; t < ntables; t++)
			if (k < nparts[t])
				p.parts[p.nparts++] = (Partition){.table = t, .number = k};
	return p;
}

static void test_order(void)
{
	int nparts[3] = {2, 3, 1};
	int64_t rows[3] = {100, 5000, 100};
	Sched s;
	sched_init(&s, make_plan(nparts, 3), rows, 3, 4, 3, 2);
	char got[64] = "", one[8];
	for (int i = 0; i < s.plan.nparts; i++) {
		const Partition *p = &s.plan.parts[s.order[i]];
		snprintf(one, sizeof one, "%s%d.%d", i ? " " : "", p->table, p->number);
		strcat(got, one);
	}
	is_str(got, "1.0 1.1 1.2 0.0 0.1 2.0", "the biggest table first, then by table, then by number");
	sched_free(&s);
}

static void test_limits(void)
{
	int nparts[2] = {2, 2};
	int64_t rows[2] = {10, 20};
	Sched s;
	sched_init(&s, make_plan(nparts, 2), rows, 2, 2, 1, 2);
	SchedAction a = sched_next(&s, 0, false);
	ok(a.step == SCHED_FORK && s.plan.parts[a.part].table == 1 && s.plan.parts[a.part].number == 0,
	   "first: fork a worker for table 1 (the bigger) partition 0");
	int w0 = sched_add_worker(&s, 100, 10, 1, 500);
	sched_started(&s, a.part, w0, 0);
	a = sched_next(&s, 0, false);
	ok(a.step == SCHED_FORK && s.plan.parts[a.part].table == 1 && s.plan.parts[a.part].number == 1,
	   "then its partition 1, on a second worker");
	int w1 = sched_add_worker(&s, 101, 11, 1, 500);
	sched_started(&s, a.part, w1, 0);
	a = sched_next(&s, 0, false);
	is_int(a.step, SCHED_WAIT, "two workers busy at workers = 2: wait");
	ok(!sched_part_done(&s, s.workers[w0].part), "table 1's first partition done: the table is not finished");
	a = sched_next(&s, 0, false);
	is_int(a.step, SCHED_WAIT, "tables_in_parallel = 1: table 0 waits while table 1 is copied");
	int pi = s.workers[w1].part;
	ok(sched_part_done(&s, pi), "table 1's last partition done: the table is finished");
	is_int(s.nactive, 0, "no table is being copied");
	a = sched_next(&s, 0, false);
	ok(a.step == SCHED_RETIRE && (a.worker == w0 || a.worker == w1),
	   "at the worker limit, an idle worker of another table is retired to make room");
	s.workers[a.worker].cmd_fd = -1;
	a = sched_next(&s, 0, false);
	ok(a.step == SCHED_RETIRE && s.workers[a.worker].cmd_fd >= 0, "then the other one");
	s.workers[a.worker].cmd_fd = -1;
	a = sched_next(&s, 0, false);
	is_int(a.step, SCHED_WAIT, "retired workers still count until they exit");
	is_int(sched_worker_gone(&s, 0), -1, "an idle worker's end frees no partition");
	a = sched_next(&s, 0, false);
	ok(a.step == SCHED_FORK && s.plan.parts[a.part].table == 0, "with room again, table 0 gets a new worker");
	is_int(sched_next(&s, 0, true).step, SCHED_WAIT, "held (stopping, or a resync waits): nothing starts");
	sched_free(&s);
}

static void test_reuse(void)
{
	int nparts[2] = {3, 1};
	int64_t rows[2] = {30, 10};
	Sched s;
	sched_init(&s, make_plan(nparts, 2), rows, 2, 3, 2, 2);
	int w = sched_add_worker(&s, 100, 10, 0, 500);
	sched_started(&s, 0, w, 0); /* table 0, partition 0 */
	sched_part_done(&s, 0);
	SchedAction a = sched_next(&s, 0, false);
	ok(a.step == SCHED_ASSIGN && a.worker == w && s.plan.parts[a.part].table == 0,
	   "an idle worker takes the next partition of its own table");
	sched_started(&s, a.part, w, 0);
	a = sched_next(&s, 0, false);
	ok(a.step == SCHED_FORK && s.plan.parts[a.part].table == 0, "the table's third partition: a new worker");
	int w2 = sched_add_worker(&s, 101, 11, 0, 500);
	sched_started(&s, a.part, w2, 0);
	a = sched_next(&s, 0, false);
	ok(a.step == SCHED_FORK && s.plan.parts[a.part].table == 1, "table 1 (two tables at once): a new worker");
	int w3 = sched_add_worker(&s, 102, 12, 1, 500);
	sched_started(&s, a.part, w3, 0);
	sched_part_done(&s, s.workers[w3].part);
	int idle[8];
	int n = sched_idle_to_retire(&s, false, idle);
	ok(n == 1 && idle[0] == w3, "a worker whose table has nothing waiting is let go (its snapshot and lock)");

	/* table 0 is copied again: its workers' snapshots are too old for it now */
	int p1 = s.workers[w].part;
	sched_part_done(&s, p1);
	sched_reset_table(&s, 0, 500);
	is_int(s.min_lsn[0], 501, "a table copied again needs a snapshot newer than every one in use");
	ok(s.plan.parts[p1].status == PART_TODO && s.plan.parts[p1].attempts == 0, "its partitions are to do again");
	a = sched_next(&s, 0, false);
	ok(a.step == SCHED_RETIRE, "no worker may take it: at the limit, an idle one is retired");
	n = sched_idle_to_retire(&s, false, idle);
	ok(n == 2, "idle workers with too old a snapshot are let go (%d)", n);
	n = sched_idle_to_retire(&s, true, idle);
	ok(n == 2, "stopping: every idle worker is let go");
	sched_free(&s);
}

static void test_failures(void)
{
	int nparts[1] = {2};
	int64_t rows[1] = {10};
	Sched s;
	sched_init(&s, make_plan(nparts, 1), rows, 1, 2, 1, 3);
	double at;
	const double want[] = {1, 2, 4};
	for (int attempt = 1; attempt <= 3; attempt++) {
		int w = sched_add_worker(&s, 100 + attempt, 10, 0, 500);
		sched_started(&s, 0, w, 100);
		ok(sched_next(&s, 100, false).part != 0, "attempt %d: a running partition is not handed out", attempt);
		is_int(sched_worker_gone(&s, w), 0, "attempt %d: the worker's end frees partition 0", attempt);
		SchedVerdict v = sched_part_failed(&s, 0, WORKER_RETRY, false, 100, &at);
		ok(v == SCHED_RETRY && at == 100 + want[attempt - 1], "failure %d: retried after %.0f s (got %.0f)", attempt,
		   want[attempt - 1], at - 100);
		ok(s.plan.parts[s.order[0]].status == PART_TODO, "failure %d: the partition is to do again", attempt);
	}
	SchedAction a = sched_next(&s, 103.9, false);
	ok(a.part != 0, "not before its retry time");
	a = sched_next(&s, 104, false);
	ok(a.part == 0, "at its retry time it is handed out again");
	int w = sched_add_worker(&s, 200, 10, 0, 500);
	sched_started(&s, 0, w, 104);
	sched_worker_gone(&s, w);
	is_int(sched_part_failed(&s, 0, -1, false, 104, &at), SCHED_GIVE_UP,
	       "killed by a signal on the 4th attempt with max_retries = 3: give up");

	s.plan.parts[1].attempts = 1;
	is_int(sched_part_failed(&s, 1, WORKER_STOPPED, true, 0, &at), SCHED_ABANDONED,
	       "stopped while the run stops: abandoned, to do");
	is_int(sched_part_failed(&s, 1, WORKER_STOPPED, false, 0, &at), SCHED_RETRY,
	       "stopped while the run goes on: retried like a failure");
	int before = s.plan.parts[1].attempts;
	is_int(sched_part_failed(&s, 1, WORKER_SNAPSHOT_GONE, false, 0, &at), SCHED_NEW_SNAPSHOT,
	       "its snapshot is gone: a new snapshot");
	is_int(s.plan.parts[1].attempts, before - 1, "... and the attempt does not count");
	is_int(sched_part_failed(&s, 1, WORKER_SCHEMA, false, 0, &at), SCHED_COPY_AGAIN, "its columns changed: copy again");
	is_int(sched_part_failed(&s, 1, WORKER_FATAL, false, 0, &at), SCHED_FATAL, "fatal: the run fails");
	s.plan.parts[1].attempts = 1;
	is_int(sched_part_failed(&s, 1, WORKER_OK, false, 0, &at), SCHED_RETRY,
	       "exit 0 with a partition in hand (unfinished): retried");
	sched_free(&s);
}

static void test_roles(void)
{
	SchedRole r = {.pid = 5, .started = 0};
	is_int(sched_role_exit(&r, WORKER_OK, false, true, 10), ROLE_REACHED, "catch-up: exit 0 is its position reached");
	is_int(r.pid, 0, "the role is not running any more");
	r.pid = 5;
	is_int(sched_role_exit(&r, WORKER_STOPPED, true, true, 10), ROLE_STOPPED, "catch-up stopped with the run: stopped");
	r = (SchedRole){.pid = 5, .stopping = true};
	is_int(sched_role_exit(&r, WORKER_STOPPED, false, false, 10), ROLE_STOPPED, "stream stopped as asked (a pause, a resync)");
	ok(!r.stopping && r.restart_at == 10, "it may start again at once");
	is_int(sched_role_exit(&r, WORKER_FATAL, false, false, 10), ROLE_FAILED, "fatal: the run stops");
	is_int(sched_role_exit(&r, WORKER_SLOT_LOST, false, true, 10), ROLE_FAILED, "the slot lost: the run stops");
	r = (SchedRole){.started = 100};
	const double want[] = {1, 2, 4, 8, 16, 32, 60, 60};
	bool all = true;
	for (int i = 0; i < 8; i++) {
		RoleVerdict v = sched_role_exit(&r, i % 2 ? -1 : WORKER_RETRY, false, false, 110);
		all = all && v == ROLE_RESTART && r.restart_at == 110 + want[i];
		if (v != ROLE_RESTART || r.restart_at != 110 + want[i])
			printf("#   failure %d: restart in %.0f s, want %.0f\n", i + 1, r.restart_at - 110, want[i]);
	}
	ok(all, "ended on its own again and again: restarted after 1, 2, 4 ... 60 s");
	r.started = 0;
	sched_role_exit(&r, WORKER_RETRY, false, false, 200);
	ok(r.restart_at == 201, "after running over two minutes, the backoff starts again at 1 s");
	r.started = 0;
	is_int(sched_role_exit(&r, WORKER_OK, false, false, 300), ROLE_RESTART,
	       "stream worker exit 0 unasked (pgch run streams until stopped): restarted");
}

static void test_restore(void)
{
	Leaf leaves_a[2] = {{.qualified = "\"public\".\"a_1\""}, {.qualified = "\"public\".\"a_2\""}};
	Leaf leaves_b[1] = {{.qualified = "\"public\".\"b\""}};
	Table tables[2] = {
		{.display = "public.a", .leaves = leaves_a, .nleaves = 2, .est_rows = 90},
		{.display = "public.b", .leaves = leaves_b, .nleaves = 1, .est_rows = 10},
	};
	Catalog cat = {tables, 2, 0, NULL};
	StateRecord rows[5] = {
		{.kind = STATE_PARTITION, .table = "public.a", .part = 0, .leaf = "\"public\".\"a_1\"", .start = 0, .end = 7,
		 .status = STATE_DONE, .rows = 33, .lsn = 77},
		{.kind = STATE_PARTITION, .table = "public.a", .part = 1, .leaf = "\"public\".\"a_1\"", .start = 7, .end = 0,
		 .status = STATE_TODO},
		{.kind = STATE_PARTITION, .table = "public.a", .part = 2, .leaf = "\"public\".\"gone\"", .status = STATE_TODO},
		{.kind = STATE_PARTITION, .table = "public.a", .part = 3, .leaf = "\"public\".\"a_2\"", .status = STATE_TODO},
		{.kind = STATE_TABLE, .table = "public.b", .status = STATE_COPYING},
	};
	State st = {rows, 5};
	int nparts[2] = {1, 4};
	Plan plan = make_plan(nparts, 2); /* fresh: 1 partition of a, 4 of b */
	const StateRecord *skipped[5];
	int n = sched_restore_plan(&plan, &cat, &st, skipped);
	ok(n == 1 && skipped[0] == &rows[2], "a stored partition whose leaf is gone is skipped and named");
	is_int(plan.nparts, 3 + 4, "table a: its 3 stored partitions; table b (no stored plan): its 4 fresh ones");
	const Partition *p = &plan.parts[0];
	ok(p->table == 0 && p->number == 0 && p->leaf == 0 && p->end == 7 && p->status == PART_DONE && p->rows == 33 &&
		   p->snapshot_lsn == 77,
	   "a stored done partition stays done, with its range, rows and snapshot");
	p = &plan.parts[1];
	ok(p->number == 1 && p->start == 7 && p->status == PART_TODO && p->rows == 0, "a stored partition to do is to do");
	p = &plan.parts[2];
	ok(p->number == 3 && p->leaf == 1, "its leaf is found by name");
	ok(plan.parts[0].est_rows == 30 && plan.parts[2].est_rows == 30, "the table's estimate is spread over its partitions");
	ok(plan.parts[3].table == 1 && plan.parts[6].table == 1 && plan.parts[6].number == 3, "table b keeps its fresh plan");
	plan_free(&plan);
}

/* rows_per_partition unset: a table's rows / workers within 100,000..1,000,000; set: as set. */
static void test_auto_partitions(void)
{
	Config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.pipe.initial_load = true;
	cfg.pipe.snapshot.workers = 2;
	is_int(plan_rows_per_partition(300000, &cfg), 150000, "auto: 300,000 rows on 2 workers, 150,000 a partition");
	is_int(plan_rows_per_partition(1000000, &cfg), 500000, "auto: 1,000,000 rows, 500,000 a partition");
	is_int(plan_rows_per_partition(50000, &cfg), 100000, "auto: at least 100,000 (a small table is one partition)");
	is_int(plan_rows_per_partition(30000000, &cfg), 1000000, "auto: at most 1,000,000 (a large table in resumable pieces)");
	Leaf leaf = {0};
	leaf.est_rows = 300000;
	leaf.pages = 3000;
	Table t = {0};
	t.leaves = &leaf;
	t.nleaves = 1;
	Catalog cat = {0};
	cat.tables = &t;
	cat.ntables = 1;
	Plan plan;
	plan_partitions(&cat, &cfg, &plan);
	is_int(plan.nparts, 2, "auto: the 300,000-row table in 2 partitions, one per worker");
	plan_free(&plan);
	cfg.pipe.snapshot.rows_per_partition = 1000000;
	is_int(plan_rows_per_partition(300000, &cfg), 1000000, "set: rows_per_partition as configured");
	plan_partitions(&cat, &cfg, &plan);
	is_int(plan.nparts, 1, "set to 1,000,000: the 300,000-row table in one partition");
	plan_free(&plan);
}

int main(void)
{
	test_auto_partitions();
	test_order();
	test_limits();
	test_reuse();
	test_failures();
	test_roles();
	test_restore();
	return done_testing();
}
