/*
 * role — the supervisor's stream side: the stream worker of pgch run (restarted when it
 * fails, stopped for a pause or a resync) and the catch-up worker of pgch snapshot (the
 * changes made during the copy, up to where the WAL was when the copy ended); requests from
 * pgch pause / resume / resync, read from _pgch_state every few seconds; tables copied
 * again (pgch run: into a shadow table, swapped in with the stream worker stopped, resync.h).
 * See supervisor_int.h.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "pg.h"
#include "prepare.h"
#include "resync.h"
#include "stream.h"
#include "supervisor_int.h"
#include "worker.h"

static int run_stream(void *options)
{
	return stream_run(options);
}

static const char *role_name(const Sup *s)
{
	return s->run_mode ? "stream worker" : "catch-up worker";
}

/* The stream worker (stop_at 0) or the catch-up worker (until stop_at). */
static bool launch_role(Sup *s, uint64_t stop_at)
{
	StreamOptions so = {s->cfg, s->cat, &s->ch->caps, s->ch->compress, stop_at, s->prog_wr};
	int keep[1] = {s->prog_wr};
	pid_t pid = worker_spawn(stop_at ? "catchup" : "stream", run_stream, &so, keep, 1);
	if (pid < 0)
		return false;
	s->role.pid = pid;
	s->role.started = progress_now();
	return true;
}

void role_stop(Sup *s)
{
	if (s->role.pid > 0 && !s->role.stopping) {
		kill(s->role.pid, SIGTERM);
		s->role.stopping = true;
	}
}

void role_exited(Sup *s, int status)
{
	s->role.pid = 0; /* reaped: what it sent last must not signal its pid */
	supervisor_drain_progress(s);
	double now = progress_now();
	RoleVerdict verdict = sched_role_exit(&s->role, worker_exit_code(status), s->stopping, !s->run_mode, now);
	metrics_worker_exit(s->metrics, METRICS_STREAM, worker_exit_code(status), WIFSIGNALED(status),
			    verdict == ROLE_RESTART);
	switch (verdict) {
	case ROLE_REACHED:
		s->caught_up = true;
		if (s->catch_up_to > s->max_lsn)
			s->max_lsn = s->catch_up_to;
		break;
	case ROLE_STOPPED: break;
	case ROLE_FAILED:
		log_error("the %s cannot continue (see the error above); stopping", role_name(s));
		s->failed = true;
		break;
	case ROLE_RESTART:
		if (WIFSIGNALED(status))
			log_warn("the %s was killed by signal %d; restarting it in %.0f s", role_name(s), WTERMSIG(status),
				 s->role.restart_at - now);
		else
			log_warn("the %s stopped (exit %d); restarting it in %.0f s", role_name(s), worker_exit_code(status),
				 s->role.restart_at - now);
		break;
	}
}

/* Ask the stream worker to stop so a table can be copied again without it writing. */
void role_request_resync(Sup *s, int ti, const char *why)
{
	if (ti < 0 || ti >= s->cat->ntables || s->sched.resync[ti])
		return;
	log_warn("%s will be copied again: %s", s->cat->tables[ti].display, why);
	s->sched.resync[ti] = true;
	role_stop(s);
}

/* Copy the tables marked for it again; the stream (or catch-up) worker has stopped. */
static bool do_resyncs(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		if (!s->sched.resync[ti])
			continue;
		bool busy = false;
		for (int i = 0; i < s->sched.nworkers; i++)
			if (s->sched.workers[i].part >= 0 && s->sched.plan.parts[s->sched.workers[i].part].table == ti) {
				kill(s->sched.workers[i].pid, SIGTERM);
				busy = true;
			}
		if (busy)
			continue; /* again once they are reaped */
		/* only workers forked from now on (a snapshot taken now, this catalog) copy it */
		uint64_t newest = s->snap.lsn;
		for (int i = 0; i < s->sched.nworkers; i++)
			if (s->sched.workers[i].lsn > newest)
				newest = s->sched.workers[i].lsn;
		if (!prepare_recopy(s->cfg, s->pg, s->ch, s->cat, &s->sched, ti, newest, (uint64_t)s->unrep[ti],
				    s->run_mode ? "pgch run --restart" : "pgch snapshot --restart", s->run_mode))
			return false;
		s->lines[ti].done = false;
		s->lines[ti].started = 0;
		s->lines[ti].finished = 0;
		s->copy_finished = false;
		s->catch_up_to = 0;
		s->caught_up = false;
		/* the copy needs a snapshot taken now, after the stream stopped */
		slot_release(&s->snap);
		s->snap_ok = false;
		if (!s->run_mode)
			log_info("%s: destination truncated; copying it again", s->cat->tables[ti].display);
	}
	return true;
}

/* A table copied into a shadow table whose partitions are all done: due to be swapped in. */
static bool swap_due(const Sup *s, int ti)
{
	return s->cat->tables[ti].resync_target && !s->sched.resync[ti] && !sched_table_copying(&s->sched, ti);
}

/* Swap in the tables copied into a shadow; the stream worker, which writes to the shadow, has stopped. */
static bool do_swaps(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		if (!swap_due(s, ti))
			continue;
		if (!resync_finish(s->ch, s->cfg, &s->cat->tables[ti]))
			return false;
		/* recorded under its real name again: a restart no longer copies it again */
		supervisor_write_table_row(s, ti, STATE_COPIED);
	}
	return true;
}

/* pgch run: every table copied: record it, let go of the snapshot; the stream carries on. */
static void copy_complete(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++)
		supervisor_write_table_row(s, ti, STATE_DONE);
	supervisor_write_pipe_row(s, STATE_STREAMING, s->slot_start, false, s->cfg->pipe.slot);
	slot_release(&s->snap);
	s->snap_ok = false;
	s->copy_finished = true;
	log_info("every table is copied; streaming changes (stop with SIGTERM or Ctrl-C)");
}

/* Requests left in _pgch_state by pgch pause / resume / resync. */
void role_read_requests(Sup *s, const State *st)
{
	const StateRecord *ctl = state_find(st, STATE_REQUEST, NULL, 0);
	bool paused = ctl && ctl->status == STATE_PAUSED;
	if (paused != s->paused) {
		s->paused = paused;
		log_info(paused ? "paused by pgch pause: the stream worker stops; the slot keeps its position"
				: "resumed by pgch resume");
		if (paused)
			role_stop(s);
	}
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		const StateRecord *r = state_find(st, STATE_TABLE, s->cat->tables[ti].display, 0);
		if (r && r->status == STATE_RESYNC_REQUESTED)
			role_request_resync(s, ti, "requested by pgch resync");
		else if (r && r->status == STATE_NEEDS_RESYNC) /* by a stream worker, maybe of an earlier run */
			role_request_resync(s, ti, r->info[0] ? r->info : "marked needs_resync");
	}
}

static void poll_requests(Sup *s, double now)
{
	if (now - s->last_control < 5)
		return;
	s->last_control = now;
	State st;
	if (state_load(s->ch, s->cfg, &st)) {
		role_read_requests(s, &st);
		state_free(&st);
	}
}

/* pgch run: the stream worker's part of the loop. */
void role_manage_stream(Sup *s, double now)
{
	poll_requests(s, now);
	if (sched_any_resync(&s->sched)) {
		if (s->role.pid == 0 && !do_resyncs(s))
			s->failed = true;
		return;
	}
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		if (!swap_due(s, ti))
			continue;
		role_stop(s); /* it writes to the shadow, which is about to be renamed */
		if (s->role.pid == 0 && !do_swaps(s))
			s->failed = true;
		return;
	}
	if (s->role.pid == 0 && !s->paused && now >= s->role.restart_at && !launch_role(s, 0))
		s->failed = true;
	if (!s->copy_finished && sched_all_done(&s->sched) && s->sched.nworkers == 0)
		copy_complete(s);
}

/*
 * pgch snapshot, once every partition is copied: partitions were read under one snapshot or
 * more, and the changes made meanwhile are in the slot. Applying them up to where the WAL
 * is now leaves the destination equal to the source as of the end of the copy (at least the
 * largest snapshot used, so rows moved between ctid ranges under different snapshots are
 * covered, ARCHITECTURE.md, "Consistency"). A forked worker applies them, so that a stop reaches it.
 */
void role_manage_catch_up(Sup *s, double now)
{
	if (sched_any_resync(&s->sched)) {
		if (s->role.pid == 0 && !do_resyncs(s))
			s->failed = true;
		return;
	}
	if (s->caught_up || s->role.pid != 0 || now < s->role.restart_at || !sched_all_done(&s->sched) ||
	    s->sched.nworkers > 0)
		return;
	if (s->catch_up_to == 0) {
		uint64_t upto = s->max_lsn, wal = 0;
		PGresult *res = pg_query(s->pg, "SELECT pg_current_wal_lsn()");
		if (res && pg_parse_lsn(PQgetvalue(res, 0, 0), &wal) && wal > upto)
			upto = wal;
		PQclear(res);
		slot_release(&s->snap); /* no partition left to read under it */
		s->snap_ok = false;
		if (upto <= s->slot_start) {
			s->caught_up = true;
			return;
		}
		char from[32], to[32];
		pg_format_lsn(s->slot_start, from, sizeof from);
		pg_format_lsn(upto, to, sizeof to);
		log_info("applying the changes made during the copy (%s to %s) from slot %s", from, to, s->cfg->pipe.slot);
		s->catch_up_to = upto;
	}
	if (!launch_role(s, s->catch_up_to))
		s->failed = true;
}
