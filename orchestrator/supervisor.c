/*
 * supervisor — the loop of a prepared run: workers started as the scheduler decides, reaped,
 * retried; progress recorded and shown; the stream worker kept going (pgch run) or the
 * catch-up worker run to its stop position (pgch snapshot); see supervisor.h.
 *
 * Layout: signals; state rows; snapshot workers (launch, progress, ends); the loop;
 * finishing. The stream and catch-up workers, requests and resyncs are role.c's.
 */
#include "supervisor.h"
#include "supervisor_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "prepare.h"
#include "progress.h"
#include "reload.h"
#include "scheduler.h"
#include "slot.h"
#include "snapshot.h"
#include "state.h"
#include "summary.h"
#include "worker.h"


/* ---------------------------------------------------------------- signals */

static volatile sig_atomic_t sup_stop, sup_reload;

static void on_stop(int sig)
{
	(void)sig;
	sup_stop = 1;
}

static void on_reload(int sig)
{
	(void)sig;
	sup_reload = 1;
}

bool supervisor_signals(void)
{
	if (!worker_watch())
		return false;
	worker_catch_stop(on_stop);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_reload;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return true;
}

/* ---------------------------------------------------------------- state rows */

bool supervisor_write_pipe_row(Sup *s, StateStatus status, uint64_t lsn, bool slot_kept, const char *info)
{
	StateRecord r;
	state_row_pipe(&r, status, lsn, slot_kept, info);
	r.slot_foreign = s->slot_foreign;
	const DestConfig *d = &s->cfg->dest;
	if (s->stream_endpoint >= 0) /* URLs carry no credentials (the config refuses them) */
		r.endpoint = (char *)(d->n_urls > 0 ? d->urls[s->stream_endpoint % d->n_urls] : d->url);
	s->pipe_row.written = true;
	s->pipe_row.status = status;
	s->pipe_row.lsn = lsn;
	s->pipe_row.slot_kept = slot_kept;
	s->pipe_row.info = info;
	return state_put(s->ch, s->cfg, &r, 1);
}

bool supervisor_write_table_row(Sup *s, int ti, StateStatus status)
{
	StateRecord r;
	state_row_table(&r, &s->cat->tables[ti], ti, &s->sched.plan, status, (uint64_t)s->unrep[ti]);
	return state_put(s->ch, s->cfg, &r, 1);
}

/* ---------------------------------------------------------------- snapshot workers */

static Table *table_of(Sup *s, int pi)
{
	return &s->cat->tables[s->sched.plan.parts[pi].table];
}

static int run_snapshot(void *job)
{
	return snapshot_worker_run(job);
}

/* A fresh snapshot from a temporary slot (the exported one is gone or too old). */
static bool new_snapshot(Sup *s)
{
	slot_release(&s->snap);
	char name[64];
	snprintf(name, sizeof name, "%.40s_tmp_%d_%d", s->cfg->pipe.slot, (int)getpid(), ++s->temp_seq);
	s->snap_ok = slot_create_exported(s->cfg, name, true, &s->snap);
	return s->snap_ok;
}

/* Close worker w's command pipe: it finishes what it has and exits. */
static void retire_worker(Sup *s, int w)
{
	SchedWorker *sw = &s->sched.workers[w];
	if (sw->cmd_fd >= 0)
		close(sw->cmd_fd);
	sw->cmd_fd = -1;
}

static void partition_started(Sup *s, int pi, int w)
{
	sched_started(&s->sched, pi, w, progress_now());
	const Partition *p = &s->sched.plan.parts[pi];
	if (!s->lines[p->table].started)
		s->lines[p->table].started = p->started;
	log_debug("%s partition %d started", table_of(s, pi)->display, p->number);
}

/* Give partition pi to idle worker w; false if it is gone (reaped soon). */
static bool assign(Sup *s, int pi, int w)
{
	int32_t idx = pi;
	if (write(s->sched.workers[w].cmd_fd, &idx, sizeof idx) != (ssize_t)sizeof idx) {
		retire_worker(s, w);
		return false;
	}
	partition_started(s, pi, w);
	return true;
}

/* A new worker for partition pi, under a snapshot recent enough for its table. */
static bool fork_worker(Sup *s, int pi)
{
	int ti = s->sched.plan.parts[pi].table;
	if ((!s->snap_ok || s->snap.lsn < s->sched.min_lsn[ti]) && !new_snapshot(s))
		return false;
	int cmd[2];
	if (pipe(cmd) != 0) {
		log_error("pipe: %s", strerror(errno));
		return false;
	}
	fcntl(cmd[1], F_SETFD, FD_CLOEXEC);
	SnapshotJob job = {s->cfg, s->cat, s->sched.plan.parts, pi, s->snap.name, s->snap.lsn - 1, &s->ch->caps,
			   s->ch->compress, s->prog_wr, cmd[0]};
	int keep[2] = {s->prog_wr, cmd[0]};
	pid_t pid = worker_spawn("snapshot", run_snapshot, &job, keep, 2);
	close(cmd[0]);
	if (pid < 0) {
		close(cmd[1]);
		return false;
	}
	partition_started(s, pi, sched_add_worker(&s->sched, pid, cmd[1], ti, s->snap.lsn));
	return true;
}

/* Start what the scheduler says can start now. */
static void launch_partitions(Sup *s, double now)
{
	bool hold = s->stopping || s->failed || (s->run_mode && sched_any_resync(&s->sched));
	for (;;) {
		SchedAction a = sched_next(&s->sched, now, hold);
		if (a.step == SCHED_WAIT)
			return;
		if (a.step == SCHED_RETIRE) {
			retire_worker(s, a.worker);
			return;
		}
		if (a.step == SCHED_ASSIGN && !assign(s, a.part, a.worker))
			return;
		if (a.step == SCHED_FORK && !fork_worker(s, a.part)) {
			s->failed = true;
			return;
		}
	}
}

/* Idle workers keep a snapshot open (holding back the source's xmin) and their table
 * locked: let them go when their table has no partition waiting for them. */
static void retire_idle(Sup *s)
{
	int idle[s->sched.nworkers + 1];
	int n = sched_idle_to_retire(&s->sched, s->stopping, idle);
	for (int i = 0; i < n; i++)
		retire_worker(s, idle[i]);
}

static void update_lines(Sup *s)
{
	summary_lines(&s->sched.plan, s->cat->ntables, s->lines);
}

static void table_finished(Sup *s, int ti)
{
	update_lines(s);
	ProgressLine *l = &s->lines[ti];
	l->finished = progress_now();
	char rows[32];
	progress_format_count(l->rows, rows, sizeof rows);
	log_info("%s copied: %s rows in %.1f s", s->cat->tables[ti].display, rows, l->finished - l->started);
	supervisor_write_table_row(s, ti, STATE_COPIED);
}

static void partition_done(Sup *s, int pi)
{
	const Partition *p = &s->sched.plan.parts[pi];
	Table *t = table_of(s, pi);
	bool table_done = sched_part_done(&s->sched, pi);
	if (p->snapshot_lsn > s->max_lsn)
		s->max_lsn = p->snapshot_lsn;
	StateRecord r;
	state_row_partition(&r, t, p, STATE_DONE);
	if (!state_put(s->ch, s->cfg, &r, 1))
		log_warn("could not record partition %d of %s as done; a resumed run copies it again", p->number, t->display);
	int total = 0, done = 0;
	for (int i = 0; i < s->sched.plan.nparts; i++)
		if (s->sched.plan.parts[i].table == p->table) {
			total++;
			done += s->sched.plan.parts[i].status == PART_DONE;
		}
	if (!progress_display_enabled() || log_get_level() <= LOG_DEBUG) {
		char rows[32];
		progress_format_count(p->rows, rows, sizeof rows);
		log_info("%s partition %d (%d/%d): %s rows in %.1f s", t->display, p->number, done, total, rows,
			 progress_now() - p->started);
	}
	if (table_done)
		table_finished(s, p->table);
}

/* Partition pi's worker exited before finishing it. */
static void partition_failed(Sup *s, int pi, int status)
{
	const Partition *p = &s->sched.plan.parts[pi];
	Table *t = table_of(s, pi);
	double now = progress_now(), retry_at;
	char how[64];
	worker_describe_exit(status, how, sizeof how);
	SchedVerdict verdict = sched_part_failed(&s->sched, pi, worker_exit_code(status), s->stopping || sup_stop, now, &retry_at);
	metrics_worker_exit(s->metrics, METRICS_SNAPSHOT, worker_exit_code(status), WIFSIGNALED(status),
			    verdict == SCHED_RETRY || verdict == SCHED_NEW_SNAPSHOT);
	switch (verdict) {
	case SCHED_ABANDONED: break;
	case SCHED_NEW_SNAPSHOT:
		if (p->snapshot_lsn == s->snap.lsn) {
			slot_release(&s->snap);
			s->snap_ok = false;
		}
		break;
	case SCHED_COPY_AGAIN: role_request_resync(s, p->table, "its columns changed at the source during the copy"); break;
	case SCHED_FATAL:
		log_error("%s partition %d cannot be copied (see the error above); stopping", t->display, p->number);
		s->failed = true;
		break;
	case SCHED_GIVE_UP:
		log_error("%s partition %d %s, %d attempts in all; giving up (pipe.max_retries = %d)", t->display, p->number,
			  how, p->attempts, s->cfg->pipe.max_retries);
		s->failed = true;
		break;
	case SCHED_RETRY:
		log_warn("%s partition %d %s; retrying in %.0f s (attempt %d of %d)", t->display, p->number, how,
			 retry_at - now, p->attempts + 1, s->cfg->pipe.max_retries + 1);
		break;
	}
}

static bool table_index_ok(const Sup *s, int ti)
{
	return ti >= 0 && ti < s->cat->ntables;
}

static void part_progress(Sup *s, const ProgressMsg *m)
{
	int pi = m->kind == PROG_PART_UNREP ? m->u.unrep.index : m->u.part.index;
	if (pi < 0 || pi >= s->sched.plan.nparts)
		return;
	Partition *p = &s->sched.plan.parts[pi];
	if (m->kind == PROG_PART_UNREP) {
		s->unrep[p->table] += m->u.unrep.count;
		return;
	}
	metrics_copied(s->metrics, p->table, m->u.part.rows - p->rows, m->u.part.bytes - (int64_t)p->bytes);
	p->rows = m->u.part.rows;
	p->bytes = (uint64_t)m->u.part.bytes;
	if (m->kind == PROG_PART_DONE && p->status == PART_RUNNING)
		partition_done(s, pi);
}

static void stream_progress(Sup *s, const ProgressMsg *m)
{
	switch ((ProgressKind)m->kind) {
	case PROG_STREAM_ROWS:
		s->stream_rows = (uint64_t)m->u.stream.rows_applied;
		s->stream_lsn = m->u.stream.confirmed_lsn;
		break;
	case PROG_STREAM_RESYNC:
		if (table_index_ok(s, m->u.table.index))
			role_request_resync(s, m->u.table.index, "its changes could not be applied");
		break;
	case PROG_STREAM_UNREP:
		if (table_index_ok(s, m->u.unrep.index)) {
			int ti = m->u.unrep.index;
			s->unrep[ti] += m->u.unrep.count;
			/* pgch snapshot records a table done only once it is caught up */
			StateStatus status = s->run_mode ? STATE_DONE : STATE_COPIED;
			supervisor_write_table_row(s, ti, sched_table_copying(&s->sched, ti) ? STATE_COPYING : status);
		}
		break;
	case PROG_STREAM_ENDPOINT: /* for pgch status: the pipe row says where the stream writes */
		s->stream_endpoint = m->u.table.index;
		if (s->pipe_row.written && s->run_mode)
			supervisor_write_pipe_row(s, s->pipe_row.status, s->pipe_row.lsn, s->pipe_row.slot_kept,
						  s->pipe_row.info);
		break;
	case PROG_STREAM_TRUNCATE: {
		/* rows a running copy writes after the TRUNCATE would survive it. The stream is
		 * stopped inside the truncating transaction, so its next run reads that TRUNCATE
		 * again: the new copy starts after it committed and covers it already. */
		int ti = m->u.table.index;
		if (table_index_ok(s, ti) && sched_table_copying(&s->sched, ti) && m->u.table.lsn > s->truncated[ti]) {
			s->truncated[ti] = m->u.table.lsn;
			role_request_resync(s, ti, "it was truncated while being copied");
		}
		break;
	}
	default: break;
	}
}

void supervisor_drain_progress(Sup *s)
{
	ProgressMsg m[64];
	ssize_t n;
	while ((n = read(s->prog_rd, m, sizeof m)) > 0) {
		for (int i = 0; i < (int)(n / (ssize_t)sizeof m[0]); i++) {
			switch ((ProgressKind)m[i].kind) {
			case PROG_PART_ROWS:
			case PROG_PART_DONE:
			case PROG_PART_UNREP: part_progress(s, &m[i]); break;
			default:
				metrics_progress(s->metrics, &m[i]);
				stream_progress(s, &m[i]);
				break;
			}
		}
	}
}

/* ---------------------------------------------------------------- the loop */

static void reap(Sup *s)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->role.pid) {
			role_exited(s, status);
			continue;
		}
		if (pid == pg_tunnel_pid && pid > 0) {
			log_error("the SSH tunnel to the bastion exited (see above): every connection to PostgreSQL goes "
				  "through it; stopping (run pgch again to reconnect)");
			pg_tunnel_pid = 0;
			s->failed = true;
			continue;
		}
		int w = sched_worker_index(&s->sched, pid);
		if (w < 0)
			continue;
		retire_worker(s, w);
		supervisor_drain_progress(s); /* its last PROG_PART_DONE, if any, frees the partition */
		int pi = sched_worker_gone(&s->sched, w);
		int code = worker_exit_code(status);
		if (pi >= 0)
			partition_failed(s, pi, status);
		else if (code != WORKER_OK && code != WORKER_STOPPED)
			log_warn("an idle snapshot worker ended unexpectedly (status %d)", status);
	}
}

static void stop_all(Sup *s)
{
	if (sup_stop) {
		bool copying = false;
		for (int i = 0; i < s->sched.nworkers; i++)
			copying = copying || s->sched.workers[i].part >= 0;
		log_info(copying ? "stopping: workers abandon their partitions, which stay to do" : "stopping");
	}
	s->stopping = true;
	for (int i = 0; i < s->sched.nworkers; i++) {
		retire_worker(s, i);
		kill(s->sched.workers[i].pid, SIGTERM);
	}
	if (s->role.pid > 0)
		kill(s->role.pid, SIGTERM);
}

/* Wait for progress, a child's end or the snapshot connection's loss, at most timeout ms. */
static void wait_events(Sup *s, int timeout)
{
	struct pollfd pfd[4] = {{s->prog_rd, POLLIN, 0}, {worker_ended_fd(), POLLIN, 0}, {-1, POLLIN, 0},
				{metrics_fd(s->metrics), POLLIN, 0}};
	if (s->snap_ok)
		pfd[2].fd = PQsocket(s->snap.conn);
	if (poll(pfd, 4, timeout) < 0 && errno != EINTR)
		log_warn("poll: %s", strerror(errno));
	metrics_serve(s->metrics, s->pg);
	if (pfd[1].revents & POLLIN)
		worker_ended_clear();
	supervisor_drain_progress(s);
	reap(s);
	if (s->snap_ok && (pfd[2].revents & (POLLIN | POLLERR | POLLHUP)) && !slot_snapshot_alive(&s->snap)) {
		log_warn("the connection holding snapshot %s was lost; partitions not yet started will be read under a new "
			 "snapshot",
			 s->snap.name);
		slot_release(&s->snap);
		s->snap_ok = false;
	}
}

/* SIGHUP: pgch run checks the config anew and, if it can be used, stops to start over. */
static void take_reload(Sup *s)
{
	sup_reload = 0;
	if (!s->run_mode || !s->o->reload_cfg) {
		log_info("SIGHUP: pgch snapshot does not re-read its config (pgch run does)");
		return;
	}
	if (s->stopping)
		return;
	if (reload_prepare(s->cfg, s->cat, s->pg, &s->ch->caps, s->o->reload_cfg, s->o->reload_cat)) {
		s->reloading = true;
		stop_all(s);
	}
}

/* Until every partition is copied and (pgch snapshot) caught up, the run fails, or a stop. */
static void schedule(Sup *s)
{
	for (;;) {
		if (sup_reload)
			take_reload(s);
		double now = progress_now();
		if ((sup_stop || s->failed) && !s->stopping)
			stop_all(s);
		if (!s->stopping) {
			if (s->run_mode)
				role_manage_stream(s, now);
			else
				role_manage_catch_up(s, now);
		}
		launch_partitions(s, now);
		retire_idle(s);
		if (s->sched.nworkers == 0 && s->role.pid == 0 && (s->stopping || (!s->run_mode && s->caught_up)))
			break;
		update_lines(s);
		progress_display_draw(s->lines, s->cat->ntables, false);
		int timeout = progress_display_enabled() ? 500 : 1000;
		if (s->role.pid == 0 && !s->stopping && (s->run_mode || s->catch_up_to))
			timeout = 200; /* its restart is due soon */
		wait_events(s, timeout);
	}
	update_lines(s);
	progress_display_draw(s->lines, s->cat->ntables, true);
}

/* ---------------------------------------------------------------- finishing */

static void summary(Sup *s, bool complete)
{
	summary_report(&(SummaryInput){s->cat, &s->sched.plan, s->lines, progress_now() - s->started, complete, s->failed},
		       s->o->json);
}

/* pgch snapshot, copied and caught up: record it, and drop or keep the slot. */
static bool finish_snapshot(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++)
		if (!supervisor_write_table_row(s, ti, STATE_DONE))
			return false;
	slot_release(&s->snap);
	s->snap_ok = false;
	if (!s->o->keep_slot && !s->slot_foreign)
		return supervisor_write_pipe_row(s, STATE_DONE, s->max_lsn, false, "slot dropped") && slot_drop(s->pg, s->cfg->pipe.slot);
	log_info("kept replication slot %s%s: `pgch run` continues from it", s->cfg->pipe.slot,
		 s->slot_foreign ? " (pgch did not create it)" : "");
	return supervisor_write_pipe_row(s, STATE_DONE, s->max_lsn, true, "slot kept");
}

/* After the loop: the exit status, with the summary. */
static int finish(Sup *s)
{
	if (s->failed) {
		summary(s, false);
		return PGCH_EXIT_FAILED;
	}
	if (s->run_mode) {
		char lsn[32];
		pg_format_lsn(s->stream_lsn, lsn, sizeof lsn);
		log_info("stopped: %llu changes applied in this run; slot %s confirmed at %s", (unsigned long long)s->stream_rows,
			 s->cfg->pipe.slot, lsn);
		if (!sched_all_done(&s->sched) && !s->reloading)
			summary(s, false);
		else if (sched_all_done(&s->sched))
			supervisor_write_pipe_row(s, STATE_STOPPED, s->slot_start, false, s->cfg->pipe.slot); /* pgch status tells */
		return s->reloading ? SUPERVISOR_RELOAD : PGCH_EXIT_OK;
	}
	if (!sched_all_done(&s->sched) || !s->caught_up) {
		/* stopped on request: not a failure, but not a finished copy either, so that
		 * `pgch snapshot && cut-over` does not go on; the same command continues */
		summary(s, false);
		return PGCH_EXIT_INCOMPLETE;
	}
	if (!finish_snapshot(s))
		return PGCH_EXIT_FAILED;
	summary(s, true);
	return PGCH_EXIT_OK;
}

static int supervise(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const SupervisorOptions *o, bool run_mode)
{
	if (!supervisor_signals())
		return PGCH_EXIT_FAILED;
	Metrics *metrics = xcalloc(1, sizeof *metrics); /* listening before anything is created */
	PrepareOptions po = {run_mode, o->restart, o->keep_slot};
	Prepared pre;
	PrepareResult pr = metrics_open(metrics, cfg, cat) ? prepare_run(cfg, pg, ch, cat, &po, &pre) : PREPARE_FAILED;
	if (pr != PREPARE_READY) {
		metrics_close(metrics);
		free(metrics);
		return pr == PREPARE_NOTHING_LEFT ? PGCH_EXIT_OK : PGCH_EXIT_FAILED;
	}
	Sup sup = {.cfg = cfg, .pg = pg, .ch = ch, .cat = cat, .o = o, .run_mode = run_mode, .metrics = metrics, .snap = pre.snap,
		   .snap_ok = pre.snap_ok, .slot_foreign = pre.slot_foreign, .slot_start = pre.slot_start, .max_lsn = pre.max_lsn, .prog_rd = -1, .stream_endpoint = -1,
		   .prog_wr = -1, .unrep = pre.unrep, .started = progress_now()};
	Sup *s = &sup;
	int64_t *est = xcalloc((size_t)cat->ntables + 1, sizeof(int64_t));
	s->lines = xcalloc((size_t)cat->ntables + 1, sizeof(ProgressLine));
	s->truncated = xcalloc((size_t)cat->ntables + 1, sizeof(uint64_t));
	for (int ti = 0; ti < cat->ntables; ti++) {
		est[ti] = cat->tables[ti].est_rows;
		s->lines[ti].name = cat->tables[ti].display;
		s->lines[ti].est_rows = cat->tables[ti].est_rows;
	}
	sched_init(&s->sched, pre.plan, est, cat->ntables, cfg->pipe.snapshot.workers, cfg->pipe.snapshot.tables_in_parallel,
		   cfg->pipe.max_retries);
	free(est);
	if (run_mode) {
		for (int ti = 0; ti < cat->ntables; ti++)
			if (pre.unsure[ti])
				role_request_resync(s, ti, pre.unsure[ti]);
		role_read_requests(s, &pre.st);
		s->last_control = progress_now();
	}
	state_free(&pre.st);
	free(pre.unsure);
	int rc = PGCH_EXIT_FAILED, fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		log_error("pipe: %s", strerror(errno));
		goto out;
	}
	s->prog_rd = fds[0];
	s->prog_wr = fds[1];
	fcntl(s->prog_rd, F_SETFL, O_NONBLOCK);
	int nparts = s->sched.plan.nparts, todo = 0;
	for (int i = 0; i < nparts; i++)
		todo += s->sched.plan.parts[i].status != PART_DONE;
	log_info("copying %d table%s in %d partition%s (%d to do) with up to %d workers", cat->ntables,
		 cat->ntables == 1 ? "" : "s", nparts, nparts == 1 ? "" : "s", todo, cfg->pipe.snapshot.workers);
	for (int ti = 0; ti < cat->ntables; ti++)
		s->lines[ti].done = !sched_table_copying(&s->sched, ti);
	metrics_attach(s->metrics, &(MetricsView){&s->sched, s->unrep, &s->paused, &s->failed, &s->copy_finished, run_mode});
	progress_display_init(true); /* on stderr, and only on a terminal: --json goes to stdout */
	schedule(s);
	progress_display_finish();
	rc = finish(s);
out:
	metrics_close(s->metrics);
	free(s->metrics);
	slot_release(&s->snap);
	sched_free(&s->sched);
	free(s->lines);
	free(s->truncated);
	free(s->unrep);
	if (s->prog_rd >= 0)
		close(s->prog_rd);
	if (s->prog_wr >= 0)
		close(s->prog_wr);
	return rc;
}

int supervisor_snapshot(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const SupervisorOptions *o)
{
	return supervise(cfg, pg, ch, cat, o, false);
}

int supervisor_run(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const SupervisorOptions *o)
{
	return supervise(cfg, pg, ch, cat, o, true);
}
