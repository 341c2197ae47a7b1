/*
 * prepare — from recorded progress to a run ready for its workers; see prepare.h.
 */
#include "prepare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pg.h"
#include "resync.h"
#include "runcheck.h"
#include "schema.h"
#include "target.h"

typedef enum SlotPlan {
	SLOT_CREATE,    /* no slot: create it */
	SLOT_RECREATE,  /* a slot nothing was copied under (or --restart): drop it, then create it */
	SLOT_RESUME,    /* the recorded slot: continue from its confirmed position */
	SLOT_FOREIGN,   /* a slot pgch did not create (pipe.slot named a DBA's): copy under a temporary
			 * slot's snapshot, stream from it, never drop it */
} SlotPlan;

/* ---------------------------------------------------------------- look and decide */

/* Does the recorded pipe row name a slot that a run continues from? */
static bool slot_recorded(const StateRecord *prior)
{
	if (!prior || prior->lsn == 0)
		return false;
	switch (prior->status) {
	case STATE_SNAPSHOTTING:
	case STATE_STREAMING:
	case STATE_STOPPED: return true;
	case STATE_DONE: return prior->slot_kept;
	default: return false;
	}
}

static bool slot_in_use(const Config *cfg, const SlotInfo *info)
{
	if (info->exists && info->active)
		log_error("replication slot %s is in use by another process (another pgch for this pipe?)", cfg->pipe.slot);
	return info->exists && info->active;
}

/* A slot pgch can stream from: pgoutput, of the source's database. */
static bool slot_usable(PGconn *pg, const Config *cfg, const SlotInfo *info)
{
	if (!info->exists || (strcmp(info->plugin, "pgoutput") == 0 && strcmp(info->database, PQdb(pg)) == 0))
		return true;
	log_error("replication slot %s belongs to something else (plugin %s, database %s): pgch streams from a pgoutput slot "
		  "of database %s. Set pipe.slot to another name (pgch creates it), or have one made with "
		  "SELECT pg_create_logical_replication_slot('%s', 'pgoutput') in database %s",
		  cfg->pipe.slot, *info->plugin ? info->plugin : "none (a physical slot)", *info->database ? info->database : "none",
		  PQdb(pg), cfg->pipe.slot, PQdb(pg));
	return false;
}

/*
 * Where the slot comes from; false (logged) if the run cannot go on. Changes nothing.
 * `recorded` is the pipe's row even under --restart, for what it says of the slot itself.
 */
static bool slot_decide(PGconn *pg, const Config *cfg, const PrepareOptions *o, const StateRecord *prior,
			const StateRecord *recorded, const SlotInfo *info, SlotPlan *plan)
{
	const char *cmd = o->run_mode ? "run" : "snapshot";
	if (slot_in_use(cfg, info) || !slot_usable(pg, cfg, info))
		return false;
	bool foreign = recorded && recorded->slot_foreign;
	if (foreign && (!info->exists || strcmp(info->wal_status, "lost") == 0)) {
		log_error("replication slot %s, which pgch did not create, is %s: have it made again (SELECT "
			  "pg_create_logical_replication_slot('%s', 'pgoutput')), then copy again with pgch %s --restart %s",
			  cfg->pipe.slot, info->exists ? "invalidated (its WAL was removed)" : "gone", cfg->pipe.slot, cmd,
			  cfg->path);
		return false;
	}
	if (o->restart) {
		/* a slot pgch did not create, or that nothing records as pgch's, is never dropped */
		bool ours = recorded && !foreign;
		*plan = !info->exists ? SLOT_CREATE : ours ? SLOT_RECREATE : SLOT_FOREIGN;
		return true;
	}
	if (prior && prior->status == STATE_DONE && !prior->slot_kept && o->run_mode) {
		log_error("the snapshot finished without keeping its replication slot, so the changes since then cannot be "
			  "streamed. Copy again and stream: pgch run --restart %s (next time: pgch snapshot --keep-slot)",
			  cfg->path);
		return false;
	}
	if (slot_recorded(prior)) {
		if (!info->exists || strcmp(info->wal_status, "lost") == 0) {
			log_error("replication slot %s, created by an earlier run, is %s: what was copied cannot be kept "
				  "consistent. Start over with: pgch %s --restart %s",
				  cfg->pipe.slot, info->exists ? "invalidated (its WAL was removed)" : "gone", cmd, cfg->path);
			return false;
		}
		*plan = SLOT_RESUME;
		return true;
	}
	if (!info->exists) {
		*plan = SLOT_CREATE;
		return true;
	}
	if (prior && prior->status == STATE_SNAPSHOTTING && !foreign) {
		/* created by a run that died before recording it: nothing was copied under it */
		*plan = SLOT_RECREATE;
		return true;
	}
	/* a slot no run of this pipe recorded: a DBA's (or a forgotten one); a new copy is made
	 * under a temporary slot's snapshot and the changes stream from this one */
	*plan = SLOT_FOREIGN;
	return true;
}

/* pgch snapshot after a finished one: nothing to do, unless tables were added since. */
static PrepareResult finished_before(PGconn *pg, const Config *cfg, const Catalog *cat, const PrepareOptions *o,
				     const State *st, const StateRecord *prior, const SlotInfo *info)
{
	for (int ti = 0; ti < cat->ntables; ti++) {
		const StateRecord *r = state_find(st, STATE_TABLE, cat->tables[ti].display, 0);
		if (!r || r->status != STATE_DONE) {
			log_error("tables were added to the config after the snapshot finished: copy them with "
				  "pgch snapshot --restart (all tables), or use pgch run, which copies new tables");
			return PREPARE_FAILED;
		}
	}
	if (info->exists && !prior->slot_kept && !o->keep_slot && !info->active)
		slot_drop(pg, cfg->pipe.slot); /* left by a run that died after recording it dropped */
	log_info("every selected table was already copied by an earlier run (pgch snapshot --restart copies again)");
	return PREPARE_NOTHING_LEFT;
}

/* ---------------------------------------------------------------- create */

/* The plan rows of partitions not yet recorded, and the table rows of tables not done. */
static bool record_plan(ChConn *ch, const Config *cfg, const Catalog *cat, const Prepared *p)
{
	int n = 0;
	StateRecord *rows = xcalloc((size_t)p->plan.nparts + (size_t)cat->ntables + 1, sizeof(StateRecord));
	for (int i = 0; i < p->plan.nparts; i++) {
		const Partition *part = &p->plan.parts[i];
		const Table *t = &cat->tables[part->table];
		if (!state_find(&p->st, STATE_PARTITION, t->display, part->number))
			state_row_partition(&rows[n++], t, part, part->status == PART_DONE ? STATE_DONE : STATE_TODO);
	}
	for (int ti = 0; ti < cat->ntables; ti++) {
		const StateRecord *r = state_find(&p->st, STATE_TABLE, cat->tables[ti].display, 0);
		if (r && resync_is_shadow_of(r->target, cat->tables[ti].target))
			continue; /* its copy into a shadow was cut short: mark_unswapped's */
		if (!r || r->status != STATE_DONE)
			state_row_table(&rows[n++], &cat->tables[ti], ti, &p->plan, STATE_COPYING, (uint64_t)p->unrep[ti]);
	}
	bool ok = n == 0 || state_put(ch, cfg, rows, n);
	free(rows);
	return ok;
}

/* The partitions: the stored plan where there is one, a fresh one elsewhere. */
static void restore_plan(const Config *cfg, const Catalog *cat, Prepared *p)
{
	plan_partitions(cat, cfg, &p->plan);
	const StateRecord **skipped = xcalloc((size_t)p->st.n + 1, sizeof *skipped);
	int n = sched_restore_plan(&p->plan, cat, &p->st, skipped);
	for (int i = 0; i < n; i++)
		log_warn("%s: partition %d reads %s, which no longer exists; skipping it", skipped[i]->table, skipped[i]->part,
			 skipped[i]->leaf);
	free(skipped);
	p->unrep = xcalloc((size_t)cat->ntables + 1, sizeof(int64_t));
	for (int ti = 0; ti < cat->ntables; ti++) {
		const StateRecord *r = state_find(&p->st, STATE_TABLE, cat->tables[ti].display, 0);
		p->unrep[ti] = r ? (int64_t)r->unrepresentable : 0;
	}
}

/*
 * A slot pgch did not create: the copy cannot use its snapshot, so a temporary slot's, whose
 * consistent point C is exact. The slot's changes from before C are all in the copy, so it
 * is advanced to C and the stream starts there; a slot already past C would skip the
 * changes in between, and is refused.
 */
static bool open_foreign_slot(const Config *cfg, PGconn *pg, ChConn *ch, Prepared *p)
{
	char name[64];
	snprintf(name, sizeof name, "%.40s_tmp_%d_0", cfg->pipe.slot, (int)getpid());
	SlotInfo now;
	if (!slot_create_exported(cfg, name, true, &p->snap))
		return false;
	p->snap_ok = true;
	if (!slot_info(pg, cfg->pipe.slot, &now) || !now.exists || slot_in_use(cfg, &now))
		return false;
	char c[32], at[32];
	pg_format_lsn(p->snap.lsn, c, sizeof c);
	pg_format_lsn(now.confirmed_flush, at, sizeof at);
	if (now.confirmed_flush > p->snap.lsn) {
		log_error("replication slot %s has confirmed up to %s, past the copy's snapshot at %s: the changes in between "
			  "would be lost. Let pgch create its own slot (set pipe.slot to an unused name), or stop what consumes %s",
			  cfg->pipe.slot, at, c, cfg->pipe.slot);
		return false;
	}
	/* everything committed before C is in the copy: the slot moves on to C rather than
	 * replaying it, and so never decodes a change from before the publication existed
	 * (pgoutput fails on those: "publication does not exist") */
	const char *params[2] = {cfg->pipe.slot, c};
	PGresult *res = pg_query_params(pg, "SELECT pg_replication_slot_advance($1, $2::pg_lsn)", 2, params);
	if (!res)
		return false;
	PQclear(res);
	p->slot_foreign = true;
	p->slot_start = p->snap.lsn;
	log_info("replication slot %s was not created by pgch: moved from %s to the copy's snapshot at %s (a temporary "
		 "slot's) and streaming from there; pgch never drops it",
		 cfg->pipe.slot, at, c);
	StateRecord r;
	state_row_pipe(&r, STATE_SNAPSHOTTING, p->slot_start, false, cfg->pipe.slot);
	r.slot_foreign = true;
	return state_put(ch, cfg, &r, 1);
}

/* The slot: continued from, or created with a snapshot for the first workers. */
static bool open_slot(const Config *cfg, PGconn *pg, ChConn *ch, SlotPlan plan, const SlotInfo *info, Prepared *p)
{
	if (plan == SLOT_FOREIGN)
		return open_foreign_slot(cfg, pg, ch, p);
	if (plan == SLOT_RESUME) {
		p->slot_start = info->confirmed_flush;
		char lsn[32];
		pg_format_lsn(p->slot_start, lsn, sizeof lsn);
		log_info("resuming: slot %s is at %s", cfg->pipe.slot, lsn);
		return true; /* a temporary slot provides the snapshot when a partition starts */
	}
	StateRecord r;
	state_row_pipe(&r, STATE_SNAPSHOTTING, 0, false, cfg->pipe.slot);
	if (!state_put(ch, cfg, &r, 1) || !slot_create_exported(cfg, cfg->pipe.slot, false, &p->snap))
		return false;
	p->snap_ok = true;
	p->slot_start = p->snap.lsn;
	r.lsn = p->snap.lsn;
	return state_put(ch, cfg, &r, 1);
}

/* Columns added at the source while pgch was not running reach existing destination tables. */
static bool add_new_columns(PGconn *pg, ChConn *ch, const Config *cfg, Catalog *cat, const PrepareOptions *o,
			    Prepared *p)
{
	p->unsure = xcalloc((size_t)cat->ntables + 1, sizeof(const char *));
	for (int ti = 0; ti < cat->ntables; ti++) {
		if (!schema_add_columns(ch, pg, cfg, &cat->tables[ti], &p->unsure[ti]))
			return false;
		if (p->unsure[ti] && !o->run_mode)
			log_warn("%s: %s; copy it again with pgch snapshot --restart", cat->tables[ti].display, p->unsure[ti]);
	}
	return true;
}

/*
 * A table whose row filter changed has rows in ClickHouse chosen by the old one. pgch run
 * copies it again: it is marked needs_resync in the progress table (so a run that stops
 * first still does it next time, the publication having changed already) and in the loaded
 * state the supervisor reads its requests from.
 */
static bool mark_refiltered(ChConn *ch, const Config *cfg, const Catalog *cat, const PrepareOptions *o, Prepared *p,
			    const bool *refiltered)
{
	static const char why[] = "its row filter (where) changed";
	for (int ti = 0; ti < cat->ntables; ti++) {
		const Table *t = &cat->tables[ti];
		StateRecord *r = NULL;
		for (int i = 0; i < p->st.n && !r; i++)
			if (p->st.rows[i].kind == STATE_TABLE && strcmp(p->st.rows[i].table, t->display) == 0)
				r = &p->st.rows[i];
		if (!refiltered[ti] || !r)
			continue; /* not copied before: the copy to come uses the new filter */
		if (!o->run_mode) {
			log_warn("%s: %s, so the rows copied earlier were chosen by the old one; copy it again with pgch "
				 "snapshot --restart, or with pgch run and pgch resync --table %s",
				 t->display, why, t->display);
			continue;
		}
		if (!state_mark_needs_resync(ch, cfg, t->display, t->target, 0, why))
			return false;
		r->status = STATE_NEEDS_RESYNC;
		free(r->info);
		r->info = xstrdup(why);
	}
	return true;
}

/*
 * A table pgch run was copying into a shadow table when it stopped (its row names the
 * shadow): copied again from the start, into a new shadow; readers kept the old table.
 */
static bool mark_unswapped(ChConn *ch, const Config *cfg, const Catalog *cat, const PrepareOptions *o, Prepared *p)
{
	static const char why[] = "pgch stopped while copying it into a shadow table";
	for (int i = 0; i < p->st.n; i++) {
		StateRecord *r = &p->st.rows[i];
		const Table *t = r->kind == STATE_TABLE ? catalog_find((Catalog *)cat, r->table) : NULL;
		if (!t || !resync_is_shadow_of(r->target, t->target))
			continue;
		if (!o->run_mode) {
			log_warn("%s: %s; pgch run copies it again (or pgch snapshot --restart)", t->display, why);
			continue;
		}
		if (!state_mark_needs_resync(ch, cfg, t->display, t->target, 0, why))
			return false;
		r->status = STATE_NEEDS_RESYNC;
		free(r->info);
		r->info = xstrdup(why);
	}
	return true;
}

bool prepare_recopy(const Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, Sched *sched, int ti, uint64_t newest_lsn,
		    uint64_t unrep, const char *restart_hint, bool shadow)
{
	Table *t = &cat->tables[ti];
	bool changed, extra = false;
	resync_abandon(t); /* begun again before its swap: the shadow is a leftover */
	if (!catalog_refresh(pg, cfg, &ch->caps, t, restart_hint, &changed))
		return false;
	/* a shadow has the table's shape now; an emptied table is made anew if it has columns
	 * the plan lacks (a rename changed, a column dropped) */
	if (shadow ? !resync_begin(ch, cfg, t)
		   : (!changed && !schema_dest_extra(ch, cfg, t, &extra)) || !target_reset(ch, cfg, t, changed || extra))
		return false;
	sched_reset_table(sched, ti, newest_lsn);
	const Plan *plan = &sched->plan;
	StateRecord *rows = xcalloc((size_t)plan->nparts + 1, sizeof(StateRecord));
	int n = 0;
	for (int i = 0; i < plan->nparts; i++)
		if (plan->parts[i].table == ti)
			state_row_partition(&rows[n++], t, &plan->parts[i], STATE_TODO);
	state_row_table(&rows[n++], t, ti, plan, STATE_COPYING, unrep);
	bool ok = state_put(ch, cfg, rows, n);
	free(rows);
	return ok;
}

static void prepared_free(Prepared *p)
{
	slot_release(&p->snap);
	state_free(&p->st);
	plan_free(&p->plan);
	free(p->unrep);
	free(p->unsure);
	memset(p, 0, sizeof *p);
}

PrepareResult prepare_run(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const PrepareOptions *o, Prepared *out)
{
	memset(out, 0, sizeof *out);
	SlotInfo info;
	SlotPlan plan;
	/* look and decide: nothing is created until every check has passed */
	if (!slot_lock_pipe(pg, cfg) || !state_load(ch, cfg, &out->st) || !slot_info(pg, cfg->pipe.slot, &info))
		goto fail;
	const StateRecord *recorded = state_find(&out->st, STATE_PIPE, NULL, 0);
	const StateRecord *prior = o->restart ? NULL : recorded;
	if (prior && prior->status == STATE_DONE && !o->run_mode) {
		PrepareResult r = finished_before(pg, cfg, cat, o, &out->st, prior, &info);
		prepared_free(out);
		return r;
	}
	if (!slot_decide(pg, cfg, o, prior, recorded, &info, &plan) ||
	    !runcheck(pg, ch, cfg, cat, plan == SLOT_FOREIGN || (plan != SLOT_RESUME && !info.exists)))
		goto fail;
	out->slot_foreign = recorded && recorded->slot_foreign; /* resumed; open_slot sets it for a new one */

	/* create */
	if (!state_ensure(ch, cfg))
		goto fail;
	if (o->restart) {
		log_info("--restart: forgetting recorded progress and dropping the target tables");
		if (!state_clear(ch, cfg) || !target_drop_all(ch, cfg, cat))
			goto fail;
		state_free(&out->st);
	}
	if (plan == SLOT_RECREATE && !slot_drop(pg, cfg->pipe.slot))
		goto fail;
	restore_plan(cfg, cat, out);
	bool *refiltered = xcalloc((size_t)cat->ntables + 1, sizeof(bool));
	if (!slot_ensure_publication(pg, cfg, cat, refiltered) || !open_slot(cfg, pg, ch, plan, &info, out)) {
		free(refiltered);
		goto fail;
	}
	out->max_lsn = out->slot_start;
	for (int i = 0; i < out->plan.nparts; i++)
		if (out->plan.parts[i].status == PART_DONE && out->plan.parts[i].snapshot_lsn > out->max_lsn)
			out->max_lsn = out->plan.parts[i].snapshot_lsn;
	bool ready = target_create_all(ch, cfg, cat) && add_new_columns(pg, ch, cfg, cat, o, out) &&
		     record_plan(ch, cfg, cat, out) && mark_refiltered(ch, cfg, cat, o, out, refiltered) &&
		     mark_unswapped(ch, cfg, cat, o, out);
	free(refiltered);
	if (!ready)
		goto fail;
	return PREPARE_READY;
fail:
	prepared_free(out);
	return PREPARE_FAILED;
}
