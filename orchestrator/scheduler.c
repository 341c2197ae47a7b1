/*
 * scheduler — partitions to workers, and what a worker's exit means; see scheduler.h.
 *
 * Layout: set-up (order, restored plan), the next step, bookkeeping of starts and ends,
 * verdicts on exits.
 */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "exitcode.h"

/* ---------------------------------------------------------------- set-up */

/* A partition's place in the order, with the keys it is sorted by. */
typedef struct OrderKey {
	int64_t table_rows;
	int table;
	int number;
	int index;
} OrderKey;

static int order_cmp(const void *a, const void *b)
{
	const OrderKey *x = a, *y = b;
	if (x->table_rows != y->table_rows)
		return x->table_rows > y->table_rows ? -1 : 1;
	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	return x->number < y->number ? -1 : x->number > y->number;
}

void sched_init(Sched *s, Plan plan, const int64_t *table_rows, int ntables, int max_workers, int tables_in_parallel,
		int max_retries)
{
	memset(s, 0, sizeof *s);
	s->plan = plan;
	s->ntables = ntables;
	s->max_workers = max_workers;
	s->tables_in_parallel = tables_in_parallel;
	s->max_retries = max_retries;
	s->active = xcalloc((size_t)ntables + 1, sizeof(bool));
	s->resync = xcalloc((size_t)ntables + 1, sizeof(bool));
	s->min_lsn = xcalloc((size_t)ntables + 1, sizeof(uint64_t));
	s->workers = xcalloc((size_t)max_workers + 1, sizeof(SchedWorker));
	OrderKey *keys = xcalloc((size_t)plan.nparts + 1, sizeof(OrderKey));
	for (int i = 0; i < plan.nparts; i++) {
		const Partition *p = &plan.parts[i];
		keys[i] = (OrderKey){table_rows[p->table], p->table, p->number, i};
	}
	qsort(keys, (size_t)plan.nparts, sizeof(OrderKey), order_cmp);
	s->order = xcalloc((size_t)plan.nparts + 1, sizeof(int));
	for (int i = 0; i < plan.nparts; i++)
		s->order[i] = keys[i].index;
	free(keys);
}

void sched_free(Sched *s)
{
	plan_free(&s->plan);
	free(s->order);
	free(s->active);
	free(s->resync);
	free(s->min_lsn);
	free(s->workers);
	memset(s, 0, sizeof *s);
}

static int leaf_index(const Table *t, const char *qualified)
{
	for (int l = 0; l < t->nleaves; l++)
		if (strcmp(t->leaves[l].qualified, qualified) == 0)
			return l;
	return -1;
}

int sched_restore_plan(Plan *plan, const Catalog *cat, const State *st, const StateRecord **skipped)
{
	Plan fresh = *plan;
	Plan out = {xcalloc((size_t)fresh.nparts + (size_t)st->n + 1, sizeof(Partition)), 0};
	int nskipped = 0;
	for (int ti = 0; ti < cat->ntables; ti++) {
		const Table *t = &cat->tables[ti];
		bool stored = false;
		int first = out.nparts;
		for (int i = 0; i < st->n; i++) {
			const StateRecord *r = &st->rows[i];
			if (r->kind != STATE_PARTITION || strcmp(r->table, t->display) != 0)
				continue;
			stored = true;
			int leaf = leaf_index(t, r->leaf);
			if (leaf < 0) {
				skipped[nskipped++] = r;
				continue;
			}
			Partition *p = &out.parts[out.nparts++];
			memset(p, 0, sizeof *p);
			p->table = ti;
			p->leaf = leaf;
			p->number = r->part;
			p->start = r->start;
			p->end = r->end;
			if (r->status == STATE_DONE) {
				p->status = PART_DONE;
				p->rows = (int64_t)r->rows;
				p->snapshot_lsn = r->lsn;
			}
		}
		if (stored) {
			/* the table's current estimate, spread over its stored partitions */
			int n = out.nparts - first;
			for (int i = first; i < out.nparts; i++)
				out.parts[i].est_rows = n ? t->est_rows / n : 0;
			continue;
		}
		for (int i = 0; i < fresh.nparts; i++)
			if (fresh.parts[i].table == ti)
				out.parts[out.nparts++] = fresh.parts[i];
	}
	plan_free(&fresh);
	*plan = out;
	return nskipped;
}

/* ---------------------------------------------------------------- the next step */

static int next_partition(const Sched *s, double now)
{
	int best = -1;
	for (int k = 0; k < s->plan.nparts; k++) {
		int i = s->order[k];
		const Partition *p = &s->plan.parts[i];
		if (p->status != PART_TODO || p->next_try > now)
			continue;
		if (s->active[p->table])
			return i;
		if (best < 0 && s->nactive < s->tables_in_parallel)
			best = i;
	}
	return best;
}

/* An idle worker that may copy table ti (eligible_only), or any idle one. */
static int idle_worker(const Sched *s, int ti, bool eligible_only)
{
	for (int i = 0; i < s->nworkers; i++) {
		const SchedWorker *w = &s->workers[i];
		if (w->part < 0 && w->cmd_fd >= 0 && (!eligible_only || (w->table == ti && w->lsn >= s->min_lsn[ti])))
			return i;
	}
	return -1;
}

SchedAction sched_next(const Sched *s, double now, bool hold)
{
	SchedAction a = {SCHED_WAIT, -1, -1};
	int pi = hold ? -1 : next_partition(s, now);
	if (pi < 0)
		return a;
	int ti = s->plan.parts[pi].table;
	a.part = pi;
	a.worker = idle_worker(s, ti, true);
	if (a.worker >= 0) {
		a.step = SCHED_ASSIGN;
		return a;
	}
	if (s->nworkers >= s->max_workers) {
		/* an idle worker of another table, or older than this table's new copy, makes room */
		a.worker = idle_worker(s, ti, false);
		a.step = a.worker >= 0 ? SCHED_RETIRE : SCHED_WAIT;
		return a;
	}
	a.step = SCHED_FORK;
	return a;
}

/* ---------------------------------------------------------------- starts and ends */

int sched_add_worker(Sched *s, int pid, int cmd_fd, int ti, uint64_t lsn)
{
	SchedWorker *w = &s->workers[s->nworkers];
	*w = (SchedWorker){pid, cmd_fd, -1, ti, lsn};
	return s->nworkers++;
}

void sched_started(Sched *s, int pi, int w, double now)
{
	Partition *p = &s->plan.parts[pi];
	s->workers[w].part = pi;
	p->status = PART_RUNNING;
	p->attempts++;
	p->rows = 0;
	p->bytes = 0;
	p->snapshot_lsn = s->workers[w].lsn;
	p->started = now;
	if (!s->active[p->table]) {
		s->active[p->table] = true;
		s->nactive++;
	}
}

static void table_idle(Sched *s, int ti)
{
	if (s->active[ti]) {
		s->active[ti] = false;
		s->nactive--;
	}
}

bool sched_part_done(Sched *s, int pi)
{
	Partition *p = &s->plan.parts[pi];
	p->status = PART_DONE;
	for (int k = 0; k < s->nworkers; k++)
		if (s->workers[k].part == pi)
			s->workers[k].part = -1;
	if (sched_table_copying(s, p->table))
		return false;
	table_idle(s, p->table);
	return true;
}

int sched_worker_index(const Sched *s, int pid)
{
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].pid == pid)
			return i;
	return -1;
}

int sched_worker_gone(Sched *s, int w)
{
	int pi = s->workers[w].part;
	s->workers[w] = s->workers[--s->nworkers];
	return pi;
}

int sched_idle_to_retire(const Sched *s, bool stopping, int *out)
{
	int n = 0;
	for (int i = 0; i < s->nworkers; i++) {
		const SchedWorker *w = &s->workers[i];
		if (w->part >= 0 || w->cmd_fd < 0)
			continue;
		bool waiting = false;
		for (int k = 0; k < s->plan.nparts && !stopping && !waiting; k++)
			waiting = s->plan.parts[k].table == w->table && s->plan.parts[k].status == PART_TODO &&
				  w->lsn >= s->min_lsn[w->table];
		if (!waiting)
			out[n++] = i;
	}
	return n;
}

void sched_reset_table(Sched *s, int ti, uint64_t newest_lsn)
{
	s->min_lsn[ti] = newest_lsn + 1;
	s->resync[ti] = false;
	for (int i = 0; i < s->plan.nparts; i++) {
		Partition *p = &s->plan.parts[i];
		if (p->table != ti)
			continue;
		p->status = PART_TODO;
		p->rows = 0;
		p->attempts = 0;
		p->snapshot_lsn = 0;
		p->next_try = 0;
	}
}

bool sched_all_done(const Sched *s)
{
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].status != PART_DONE)
			return false;
	return true;
}

bool sched_table_copying(const Sched *s, int ti)
{
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].table == ti && s->plan.parts[i].status != PART_DONE)
			return true;
	return false;
}

bool sched_any_resync(const Sched *s)
{
	for (int ti = 0; ti < s->ntables; ti++)
		if (s->resync[ti])
			return true;
	return false;
}

/* ---------------------------------------------------------------- verdicts */

SchedVerdict sched_part_failed(Sched *s, int pi, int code, bool stopping, double now, double *retry_at)
{
	Partition *p = &s->plan.parts[pi];
	if (code == WORKER_OK)
		code = WORKER_RETRY; /* it exited with the partition in hand, unfinished */
	p->status = PART_TODO;
	p->rows = 0;
	*retry_at = now;
	if (code == WORKER_STOPPED && stopping)
		return SCHED_ABANDONED;
	if (code == WORKER_SNAPSHOT_GONE) {
		p->attempts--; /* not the partition's fault */
		return SCHED_NEW_SNAPSHOT;
	}
	if (code == WORKER_SCHEMA) {
		p->attempts--;
		return SCHED_COPY_AGAIN;
	}
	if (code == WORKER_FATAL)
		return SCHED_FATAL;
	if (p->attempts > s->max_retries)
		return SCHED_GIVE_UP;
	p->next_try = now + backoff_delay(p->attempts, 1, 30);
	*retry_at = p->next_try;
	return SCHED_RETRY;
}

RoleVerdict sched_role_exit(SchedRole *r, int code, bool stopping, bool catch_up, double now)
{
	bool asked = stopping || r->stopping;
	r->pid = 0;
	r->stopping = false;
	r->restart_at = now;
	if (catch_up && code == WORKER_OK) {
		r->failures = 0;
		return ROLE_REACHED;
	}
	if ((code == WORKER_STOPPED || code == WORKER_OK) && asked)
		return ROLE_STOPPED;
	if (code == WORKER_FATAL || code == WORKER_SLOT_LOST)
		return ROLE_FAILED;
	if (now - r->started > 120)
		r->failures = 0; /* it ran a good while: this is a new failure, not the next of a series */
	r->failures++;
	r->restart_at = now + backoff_delay(r->failures, 1, 60);
	return ROLE_RESTART;
}
