/*
 * supervisor — preparation, worker scheduling, retries and progress; see supervisor.h.
 *
 * Layout: signals and forking; preparation (state, plan restore, publication, slot, DDL);
 * the scheduler (which partition next, launch, reap, retry); finishing (catch-up, slot,
 * summary).
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pg.h"
#include "plan.h"
#include "progress.h"
#include "schema.h"
#include "slot.h"
#include "snapshot.h"
#include "state.h"
#include "stream.h"

typedef struct Worker {
	pid_t pid;
	int part;       /* partition in hand, -1 when idle */
	int cmd_fd;     /* write end: the next partition's index; closed: no more work */
	uint64_t lsn;   /* the snapshot it imported */
	int table;      /* the table it copies: its transaction holds that table's lock */
} Worker;

typedef struct Sup {
	Config *cfg;
	PGconn *pg;
	ChConn *ch;
	Catalog *cat;
	const SupervisorOptions *o;
	Plan plan;
	int *order;            /* partitions in scheduling order */
	ExportedSnapshot snap;
	bool snap_ok;
	uint64_t slot_start;   /* where CDC coverage of the main slot starts */
	uint64_t max_lsn;      /* largest consistent point a partition was read under */
	int prog_rd, prog_wr;
	Worker *workers;
	int nworkers;
	ProgressLine *lines;   /* per table */
	bool *active;          /* per table: started, not finished */
	int nactive;
	int temp_seq;
	double started;
	bool failed;
	bool stopping;
	/* pgch run */
	bool run_mode;
	pid_t stream_pid;
	double stream_restart_at;
	int stream_failures;
	double stream_started;
	uint64_t stream_rows;
	uint64_t stream_lsn;
	bool copy_finished;    /* every table copied and recorded */
	bool *resync;          /* per table: copy again once the stream has stopped */
	uint64_t *truncated;   /* per table: LSN of the TRUNCATE that last made it copy again */
	bool stream_stopping;  /* asked the stream worker to stop for a resync */
	int64_t *unrep;        /* per table: values written as NULL or clamped */
	bool paused;           /* pgch pause: no stream worker until pgch resume */
	uint64_t *min_lsn;     /* per table: workers must hold a snapshot at least this recent */
	double last_control;   /* when requests in _pgch_state were last read */
} Sup;

/* ---------------------------------------------------------------- signals and forking */

static volatile sig_atomic_t sup_stop;
static int sigchld_rd = -1, sigchld_wr = -1;

static void on_stop(int sig)
{
	(void)sig;
	sup_stop = 1;
}

static void on_chld(int sig)
{
	(void)sig;
	int e = errno;
	if (sigchld_wr >= 0) {
		ssize_t w = write(sigchld_wr, "c", 1);
		(void)w;
	}
	errno = e;
}

static void on_worker_stop(int sig)
{
	(void)sig;
	snapshot_stop = 1;
	stream_stop = 1;
}

bool supervisor_signals(void)
{
	if (sigchld_rd >= 0)
		return true;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_error("pipe: %s", strerror(errno));
		return false;
	}
	sigchld_rd = fds[0];
	sigchld_wr = fds[1];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return true;
}

/* In a freshly forked child: die with the parent, own signal handlers, own role. */
static void child_setup(Sup *s, const char *role, int keep_fd)
{
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(WORKER_STOPPED);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_worker_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	close(sigchld_rd);
	close(sigchld_wr);
	sigchld_rd = sigchld_wr = -1;
	/* let go of the supervisor's connections (the exported snapshot's among them): a worker
	 * outliving a killed supervisor must not keep its walsender, and so the slot, busy */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != s->prog_wr && fd != keep_fd)
			close(fd);
	log_set_role(role);
	char name[16];
	snprintf(name, sizeof name, "pgch-%s", role); /* shown by ps -o comm and top */
	prctl(PR_SET_NAME, name);
	progress_display_init(false);
}

/* ---------------------------------------------------------------- preparation */

static Table *table_of(Sup *s, int part)
{
	return &s->cat->tables[s->plan.parts[part].table];
}

/* Replace the fresh plan of tables that have a stored one (a resumed run keeps its ranges). */
static void restore_plan(Sup *s, const State *st)
{
	Plan fresh = s->plan;
	Plan out = {xcalloc((size_t)fresh.nparts + (size_t)st->n + 1, sizeof(Partition)), 0};
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		Table *t = &s->cat->tables[ti];
		bool stored = false;
		for (int i = 0; i < st->n; i++) {
			const StateRow *r = &st->rows[i];
			if (r->part < 0 || strcmp(r->table, t->display) != 0)
				continue;
			int leaf = -1;
			for (int l = 0; l < t->nleaves; l++)
				if (strcmp(t->leaves[l].qualified, r->leaf) == 0)
					leaf = l;
			stored = true;
			if (leaf < 0) {
				log_warn("%s: partition %d reads %s, which no longer exists; skipping it", t->display, r->part, r->leaf);
				continue;
			}
			Partition *p = &out.parts[out.nparts++];
			memset(p, 0, sizeof *p);
			p->table = ti;
			p->leaf = leaf;
			p->number = r->part;
			p->start = r->start;
			p->end = r->end;
			p->est_rows = t->leaves[leaf].est_rows; /* refined below */
			if (strcmp(r->status, "done") == 0) {
				p->status = PART_DONE;
				p->rows = (int64_t)r->rows;
				p->snapshot_lsn = r->lsn;
			}
		}
		if (stored) {
			/* spread the table's current estimate over its stored partitions */
			int n = 0;
			for (int i = 0; i < out.nparts; i++)
				n += out.parts[i].table == ti;
			for (int i = 0; i < out.nparts; i++)
				if (out.parts[i].table == ti)
					out.parts[i].est_rows = n ? t->est_rows / n : 0;
			continue;
		}
		for (int i = 0; i < fresh.nparts; i++)
			if (fresh.parts[i].table == ti)
				out.parts[out.nparts++] = fresh.parts[i];
	}
	plan_free(&fresh);
	s->plan = out;
}

static void partition_row(Sup *s, const Partition *p, const char *status, StateRow *r)
{
	const Table *t = &s->cat->tables[p->table];
	memset(r, 0, sizeof *r);
	r->table = t->display;
	r->part = p->number;
	r->target = t->target;
	r->leaf = t->leaves[p->leaf].qualified;
	r->start = p->start;
	r->end = p->end;
	r->status = (char *)status;
	r->rows = (uint64_t)p->rows;
	r->lsn = p->snapshot_lsn;
}

static bool write_pipe_row(Sup *s, const char *status, uint64_t lsn, const char *info)
{
	StateRow r;
	memset(&r, 0, sizeof r);
	r.table = "";
	r.part = -1;
	r.status = (char *)status;
	r.lsn = lsn;
	r.info = (char *)info;
	return state_write(s->ch, s->cfg, &r, 1);
}

static bool write_table_row(Sup *s, int ti, const char *status)
{
	const Table *t = &s->cat->tables[ti];
	StateRow r;
	memset(&r, 0, sizeof r);
	r.table = t->display;
	r.part = -1;
	r.target = t->target;
	r.status = (char *)status;
	char info[64] = "";
	if (s->unrep && s->unrep[ti] > 0)
		snprintf(info, sizeof info, "unrepresentable values: %lld", (long long)s->unrep[ti]);
	r.info = info;
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].table == ti) {
			r.rows += (uint64_t)s->plan.parts[i].rows;
			if (s->plan.parts[i].snapshot_lsn > r.lsn)
				r.lsn = s->plan.parts[i].snapshot_lsn;
		}
	return state_write(s->ch, s->cfg, &r, 1);
}

/* The plan and table rows of everything not yet recorded. */
static bool record_plan(Sup *s, const State *st)
{
	int n = 0;
	StateRow *rows = xcalloc((size_t)s->plan.nparts + 1, sizeof(StateRow));
	for (int i = 0; i < s->plan.nparts; i++) {
		const Partition *p = &s->plan.parts[i];
		if (!state_find(st, s->cat->tables[p->table].display, p->number))
			partition_row(s, p, "todo", &rows[n++]);
	}
	bool ok = n == 0 || state_write(s->ch, s->cfg, rows, n);
	free(rows);
	for (int ti = 0; ok && ti < s->cat->ntables; ti++) {
		const StateRow *r = state_find(st, s->cat->tables[ti].display, -1);
		if (!r || strcmp(r->status, "done") != 0)
			ok = write_table_row(s, ti, "copying");
	}
	return ok;
}

/* CREATE TABLE IF NOT EXISTS for one table, then the statements its hook added. */
static bool create_table(Sup *s, const Table *t)
{
	Buf sql;
	buf_init(&sql);
	plan_create_table(t, s->cfg, &s->ch->caps, &sql);
	bool ok = ch_query(s->ch, sql.data, NULL);
	for (int k = 0; ok && k < t->nafter; k++)
		ok = ch_query(s->ch, t->after[k], NULL);
	buf_free(&sql);
	return ok;
}

static bool create_tables(Sup *s)
{
	Buf sql;
	buf_init(&sql);
	plan_create_database(s->cfg, &sql);
	bool ok = ch_query(s->ch, sql.data, NULL);
	buf_free(&sql);
	for (int i = 0; ok && i < s->cat->ntables; i++)
		ok = create_table(s, &s->cat->tables[i]);
	return ok;
}

static bool drop_targets(Sup *s)
{
	Buf sql;
	buf_init(&sql);
	bool ok = true;
	for (int i = 0; ok && i < s->cat->ntables; i++) {
		buf_reset(&sql);
		buf_puts(&sql, "DROP TABLE IF EXISTS ");
		plan_target(&s->cat->tables[i], s->cfg, &sql);
		ok = ch_query(s->ch, sql.data, NULL);
	}
	buf_free(&sql);
	return ok;
}

/* A fresh snapshot from a temporary slot (the exported one is gone). */
static bool new_snapshot(Sup *s)
{
	slot_release(&s->snap);
	char name[64];
	snprintf(name, sizeof name, "%.40s_tmp_%d_%d", s->cfg->pipe.slot, (int)getpid(), ++s->temp_seq);
	s->snap_ok = slot_create_exported(s->cfg, name, true, &s->snap);
	return s->snap_ok;
}

/* ---------------------------------------------------------------- scheduler */

static int cmp_order_sup;
static Sup *order_sup;
static int order_cmp(const void *a, const void *b)
{
	const Partition *pa = &order_sup->plan.parts[*(const int *)a], *pb = &order_sup->plan.parts[*(const int *)b];
	int64_t ra = order_sup->cat->tables[pa->table].est_rows, rb = order_sup->cat->tables[pb->table].est_rows;
	if (ra != rb)
		return ra > rb ? -1 : 1;
	if (pa->table != pb->table)
		return pa->table - pb->table;
	return pa->number - pb->number;
}

static void build_order(Sup *s)
{
	s->order = xcalloc((size_t)s->plan.nparts + 1, sizeof(int));
	for (int i = 0; i < s->plan.nparts; i++)
		s->order[i] = i;
	order_sup = s;
	(void)cmp_order_sup;
	qsort(s->order, (size_t)s->plan.nparts, sizeof(int), order_cmp);
}

static int next_partition(Sup *s, double now)
{
	int best = -1;
	for (int k = 0; k < s->plan.nparts; k++) {
		int i = s->order[k];
		Partition *p = &s->plan.parts[i];
		if (p->status != PART_TODO || p->next_try > now)
			continue;
		if (s->active[p->table])
			return i;
		if (best < 0 && s->nactive < s->cfg->pipe.snapshot.tables_in_parallel)
			best = i;
	}
	return best;
}

static bool all_done(Sup *s)
{
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].status != PART_DONE)
			return false;
	return true;
}

/* Mark a partition as running (on a worker holding snapshot lsn). */
static void start_partition(Sup *s, int pi, uint64_t lsn)
{
	Partition *p = &s->plan.parts[pi];
	p->status = PART_RUNNING;
	p->attempts++;
	p->rows = 0;
	p->bytes = 0;
	p->snapshot_lsn = lsn;
	p->started = progress_now();
	if (!s->active[p->table]) {
		s->active[p->table] = true;
		s->nactive++;
		if (!s->lines[p->table].started)
			s->lines[p->table].started = p->started;
	}
	log_debug("%s partition %d started", table_of(s, pi)->display, p->number);
}

static void retire_worker(Worker *w)
{
	if (w->cmd_fd >= 0)
		close(w->cmd_fd); /* end of work: it finishes and exits */
	w->cmd_fd = -1;
}

/* An idle worker whose snapshot (and copy of the catalog) may copy table ti; any idle one
 * if eligible_only is false. */
static Worker *idle_worker(Sup *s, int ti, bool eligible_only)
{
	for (int i = 0; i < s->nworkers; i++) {
		Worker *w = &s->workers[i];
		/* same table only: a worker's transaction keeps every table it read locked
		 * (ACCESS SHARE), so moving on to another would hold up DDL on the first */
		if (w->part < 0 && w->cmd_fd >= 0 && (!eligible_only || (w->lsn >= s->min_lsn[ti] && w->table == ti)))
			return w;
	}
	return NULL;
}

/*
 * Give partition pi to a worker: an idle one (whatever snapshot it imported: each is
 * consistent, and the slot covers every change after the oldest), else a new one, which
 * needs a live exported snapshot. Returns 1 if started, 0 if no worker can take it now,
 * -1 on failure.
 */
static int launch(Sup *s, int pi, int limit)
{
	int ti = s->plan.parts[pi].table;
	Worker *w = idle_worker(s, ti, true);
	if (w) {
		int32_t idx = pi;
		if (write(w->cmd_fd, &idx, sizeof idx) == (ssize_t)sizeof idx) {
			w->part = pi;
			start_partition(s, pi, w->lsn);
			return 1;
		}
		retire_worker(w); /* it is gone: reaped soon */
		return 0;
	}
	if (s->nworkers >= limit) {
		/* an idle worker of another table, or older than this table's new copy, makes room */
		Worker *stale = idle_worker(s, ti, false);
		if (stale)
			retire_worker(stale);
		return 0;
	}
	if ((!s->snap_ok || s->snap.lsn < s->min_lsn[ti]) && !new_snapshot(s))
		return -1;
	int cmd[2];
	if (pipe(cmd) != 0) {
		log_error("pipe: %s", strerror(errno));
		return -1;
	}
	fcntl(cmd[1], F_SETFD, FD_CLOEXEC);
	SnapshotJob job = {s->cfg, s->cat, s->plan.parts, pi, s->snap.name, s->snap.lsn - 1, &s->ch->caps,
			   s->ch->compress, s->prog_wr, cmd[0]};
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		close(cmd[0]);
		close(cmd[1]);
		return -1;
	}
	if (pid == 0) {
		child_setup(s, "snapshot", cmd[0]);
		int rc = snapshot_worker_run(&job);
		fflush(NULL);
		_exit(rc);
	}
	close(cmd[0]);
	w = &s->workers[s->nworkers++];
	w->pid = pid;
	w->part = pi;
	w->cmd_fd = cmd[1];
	w->lsn = s->snap.lsn;
	w->table = ti;
	start_partition(s, pi, w->lsn);
	return 1;
}

/* Idle workers keep a snapshot open (holding back the source's xmin) and their table
 * locked: let them go when their table has no partition waiting to be copied. */
static void retire_idle(Sup *s)
{
	for (int i = 0; i < s->nworkers; i++) {
		Worker *w = &s->workers[i];
		if (w->part >= 0 || w->cmd_fd < 0)
			continue;
		bool waiting = false;
		for (int k = 0; k < s->plan.nparts && !s->stopping; k++)
			waiting = waiting || (s->plan.parts[k].table == w->table && s->plan.parts[k].status == PART_TODO &&
					      w->lsn >= s->min_lsn[w->table]);
		if (!waiting)
			retire_worker(w);
	}
}

static void update_lines(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		ProgressLine *l = &s->lines[ti];
		l->rows = 0;
		l->parts = l->parts_done = 0;
		for (int i = 0; i < s->plan.nparts; i++) {
			const Partition *p = &s->plan.parts[i];
			if (p->table != ti)
				continue;
			l->rows += p->rows;
			l->parts++;
			l->parts_done += p->status == PART_DONE;
		}
		if (l->est_rows < l->rows)
			l->est_rows = l->rows;
		l->done = l->parts_done == l->parts;
	}
}

static void partition_done(Sup *s, int pi);

static bool table_copying(Sup *s, int ti)
{
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].table == ti && s->plan.parts[i].status != PART_DONE)
			return true;
	return false;
}

/* Ask the stream worker to stop so a table can be copied again without it writing. */
static void request_resync(Sup *s, int ti, const char *why)
{
	if (ti < 0 || ti >= s->cat->ntables || s->resync[ti])
		return;
	log_warn("%s will be copied again: %s", s->cat->tables[ti].display, why);
	s->resync[ti] = true;
	if (s->stream_pid > 0 && !s->stream_stopping) {
		kill(s->stream_pid, SIGTERM);
		s->stream_stopping = true;
	}
}

/* Columns added at the source while pgch was not running reach existing destination tables. */
static bool add_new_columns(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		bool unsure;
		if (!schema_add_columns(s->ch, s->pg, s->cfg, &s->cat->tables[ti], &unsure))
			return false;
		if (unsure && s->run_mode)
			request_resync(s, ti, "columns were added while pgch was not running and the old rows' values are unknown");
		else if (unsure)
			log_warn("%s: columns were added while pgch was not running and rows copied earlier may not have "
				 "their values; copy it again with pgch snapshot --restart",
				 s->cat->tables[ti].display);
	}
	return true;
}

static bool table_index_ok(const Sup *s, int ti)
{
	return ti >= 0 && ti < s->cat->ntables;
}

static void part_progress(Sup *s, const ProgressMsg *m)
{
	int pi = m->kind == PROG_PART_UNREP ? m->u.unrep.index : m->u.part.index;
	if (pi < 0 || pi >= s->plan.nparts)
		return;
	Partition *p = &s->plan.parts[pi];
	if (m->kind == PROG_PART_UNREP) {
		s->unrep[p->table] += m->u.unrep.count;
		return;
	}
	p->rows = m->u.part.rows;
	p->bytes = (uint64_t)m->u.part.bytes;
	if (m->kind == PROG_PART_DONE && p->status == PART_RUNNING) {
		for (int k = 0; k < s->nworkers; k++)
			if (s->workers[k].part == pi)
				s->workers[k].part = -1;
		partition_done(s, pi);
	}
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
			request_resync(s, m->u.table.index, "its changes could not be applied");
		break;
	case PROG_STREAM_UNREP:
		if (table_index_ok(s, m->u.unrep.index)) {
			int ti = m->u.unrep.index;
			s->unrep[ti] += m->u.unrep.count;
			write_table_row(s, ti, table_copying(s, ti) ? "copying" : "done");
		}
		break;
	case PROG_STREAM_TRUNCATE: {
		/* rows a running copy writes after the TRUNCATE would survive it. The stream is
		 * stopped inside the truncating transaction, so its next run reads that TRUNCATE
		 * again: the new copy starts after it committed and covers it already. */
		int ti = m->u.table.index;
		if (table_index_ok(s, ti) && table_copying(s, ti) && m->u.table.lsn > s->truncated[ti]) {
			s->truncated[ti] = m->u.table.lsn;
			request_resync(s, ti, "it was truncated while being copied");
		}
		break;
	}
	default:
		break;
	}
}

static void drain_progress(Sup *s)
{
	ProgressMsg m[64];
	ssize_t n;
	while ((n = read(s->prog_rd, m, sizeof m)) > 0) {
		for (int i = 0; i < (int)(n / (ssize_t)sizeof m[0]); i++) {
			switch ((ProgressKind)m[i].kind) {
			case PROG_PART_ROWS:
			case PROG_PART_DONE:
			case PROG_PART_UNREP: part_progress(s, &m[i]); break;
			default: stream_progress(s, &m[i]); break;
			}
		}
	}
}

static void table_finished(Sup *s, int ti)
{
	Table *t = &s->cat->tables[ti];
	s->active[ti] = false;
	s->nactive--;
	update_lines(s);
	ProgressLine *l = &s->lines[ti];
	l->finished = progress_now();
	char rows[32];
	progress_format_count(l->rows, rows, sizeof rows);
	double secs = l->finished - l->started;
	log_info("%s copied: %s rows in %.1f s", t->display, rows, secs);
	write_table_row(s, ti, "copied");
}

static void partition_done(Sup *s, int pi)
{
	Partition *p = &s->plan.parts[pi];
	Table *t = table_of(s, pi);
	p->status = PART_DONE;
	if (p->snapshot_lsn > s->max_lsn)
		s->max_lsn = p->snapshot_lsn;
	StateRow r;
	partition_row(s, p, "done", &r);
	if (!state_write(s->ch, s->cfg, &r, 1))
		log_warn("could not record partition %d of %s as done; a resumed run copies it again", p->number, t->display);
	int total = 0, done = 0;
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].table == p->table) {
			total++;
			done += s->plan.parts[i].status == PART_DONE;
		}
	if (!progress_display_enabled() || log_get_level() <= LOG_DEBUG) {
		char rows[32];
		progress_format_count(p->rows, rows, sizeof rows);
		double secs = progress_now() - p->started;
		log_info("%s partition %d (%d/%d): %s rows in %.1f s", t->display, p->number, done, total, rows, secs);
	}
	if (done == total)
		table_finished(s, p->table);
}

static void worker_exited(Sup *s, int pi, int status)
{
	Partition *p = &s->plan.parts[pi];
	Table *t = table_of(s, pi);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (code == WORKER_OK)
		code = WORKER_RETRY; /* exited with a partition in hand, unfinished */
	p->status = PART_TODO;
	p->rows = 0;
	if (code == WORKER_STOPPED && (s->stopping || sup_stop))
		return;
	if (code == WORKER_SNAPSHOT_GONE) {
		if (p->snapshot_lsn == s->snap.lsn) {
			slot_release(&s->snap);
			s->snap_ok = false;
		}
		p->attempts--; /* not the partition's fault */
		return;
	}
	if (code == WORKER_SCHEMA) {
		p->attempts--;
		request_resync(s, p->table, "its columns changed at the source during the copy");
		return;
	}
	if (code == WORKER_FATAL) {
		log_error("%s partition %d cannot be copied (see the error above); stopping", t->display, p->number);
		s->failed = true;
		return;
	}
	char how[64];
	if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof how, "failed (exit %d)", code);
	if (p->attempts > s->cfg->pipe.max_retries) {
		log_error("%s partition %d %s, %d attempts in all; giving up (pipe.max_retries = %d)", t->display, p->number, how,
			  p->attempts, s->cfg->pipe.max_retries);
		s->failed = true;
		return;
	}
	double delay = 1;
	for (int i = 1; i < p->attempts && delay < 30; i++)
		delay *= 2;
	if (delay > 30)
		delay = 30;
	p->next_try = progress_now() + delay;
	log_warn("%s partition %d %s; retrying in %.0f s (attempt %d of %d)", t->display, p->number, how, delay,
		 p->attempts + 1, s->cfg->pipe.max_retries + 1);
}

static void stream_exited(Sup *s, int status)
{
	s->stream_pid = 0;
	drain_progress(s);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	double now = progress_now();
	if ((code == WORKER_STOPPED || code == WORKER_OK) && (s->stopping || s->stream_stopping)) {
		s->stream_stopping = false;
		s->stream_restart_at = now;
		return;
	}
	s->stream_stopping = false;
	if (code == WORKER_FATAL || code == WORKER_SLOT_LOST) {
		log_error("the stream worker cannot continue (see the error above); stopping");
		s->failed = true;
		return;
	}
	if (now - s->stream_started > 120)
		s->stream_failures = 0;
	double delay = 1;
	for (int i = 0; i < s->stream_failures && delay < 60; i++)
		delay *= 2;
	if (delay > 60)
		delay = 60;
	s->stream_failures++;
	if (WIFSIGNALED(status))
		log_warn("the stream worker was killed by signal %d; restarting it in %.0f s", WTERMSIG(status), delay);
	else
		log_warn("the stream worker stopped (exit %d); restarting it in %.0f s", code, delay);
	s->stream_restart_at = now + delay;
}

static void reap(Sup *s)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->stream_pid) {
			stream_exited(s, status);
			continue;
		}
		if (pid == pg_tunnel_pid && pid > 0) {
			log_error("the SSH tunnel to the bastion exited (see above): every connection to PostgreSQL goes "
				  "through it; stopping (run pgch again to reconnect)");
			pg_tunnel_pid = 0;
			s->failed = true;
			continue;
		}
		for (int i = 0; i < s->nworkers; i++) {
			if (s->workers[i].pid != pid)
				continue;
			retire_worker(&s->workers[i]);
			s->workers[i].pid = 0;
			drain_progress(s); /* its last PROG_DONE, if any, frees the partition */
			int pi = s->workers[i].part;
			s->workers[i] = s->workers[--s->nworkers];
			if (pi >= 0)
				worker_exited(s, pi, status);
			else if (!(WIFEXITED(status) && (WEXITSTATUS(status) == WORKER_OK || WEXITSTATUS(status) == WORKER_STOPPED)))
				log_warn("an idle snapshot worker ended unexpectedly (status %d)", status);
			break;
		}
	}
}

static void stop_workers(Sup *s)
{
	for (int i = 0; i < s->nworkers; i++) {
		retire_worker(&s->workers[i]);
		kill(s->workers[i].pid, SIGTERM);
	}
	if (s->stream_pid > 0)
		kill(s->stream_pid, SIGTERM);
}

static bool launch_stream(Sup *s)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return false;
	}
	if (pid == 0) {
		child_setup(s, "stream", -1);
		StreamOptions o = {s->cfg, s->cat, &s->ch->caps, s->ch->compress, 0, s->prog_wr};
		int rc = stream_run(&o);
		fflush(NULL);
		_exit(rc);
	}
	s->stream_pid = pid;
	s->stream_started = progress_now();
	return true;
}

/*
 * Before a table is copied again: read its columns anew (the reason may be a schema change
 * the stream could not apply) and empty its destination — recreated if its shape changed.
 */
static bool refresh_table(Sup *s, int ti)
{
	Table *t = &s->cat->tables[ti];
	Column *cols;
	int n;
	bool cok = true;
	if (!catalog_read_columns(s->pg, s->cfg, &s->ch->caps, t, &cols, &n, &cok))
		return false;
	if (!cok) {
		catalog_free_columns(cols, n);
		log_error("%s: its columns cannot be mapped any more (see above); fix the config and run again", t->display);
		return false;
	}
	bool same = n == t->ncols;
	for (int i = 0; same && i < n; i++) {
		Buf a, b;
		buf_init(&a);
		buf_init(&b);
		types_ch_name(&cols[i].ch, &a);
		types_ch_name(&t->cols[i].ch, &b);
		same = strcmp(cols[i].name, t->cols[i].name) == 0 && strcmp(a.data, b.data) == 0 &&
		       cols[i].kind == t->cols[i].kind && cols[i].binary == t->cols[i].binary;
		buf_free(&a);
		buf_free(&b);
	}
	/* key and ORDER BY columns by attnum in the new list */
	int *idx[2] = {t->key, t->order};
	int cnt[2] = {t->nkey, t->norder};
	for (int l = 0; l < 2; l++)
		for (int k = 0; k < cnt[l]; k++) {
			int att = t->cols[idx[l][k]].attnum, found = -1;
			for (int i = 0; i < n; i++)
				if (cols[i].attnum == att)
					found = i;
			if (found < 0) {
				log_error("%s: its key column %s is gone at the source; run pgch %s --restart", t->display,
					  t->cols[idx[l][k]].name, s->run_mode ? "run" : "snapshot");
				catalog_free_columns(cols, n);
				return false;
			}
		}
	for (int l = 0; l < 2; l++)
		for (int k = 0; k < cnt[l]; k++) {
			int att = t->cols[idx[l][k]].attnum;
			for (int i = 0; i < n; i++)
				if (cols[i].attnum == att)
					idx[l][k] = i;
		}
	for (int i = 0; i < n; i++) /* ORDER BY columns are never Nullable (catalog_discover) */
		for (int k = 0; k < t->norder; k++)
			if (t->order[k] == i) {
				if (!cols[i].notnull) {
					log_error("%s: order_by column %s can be NULL now (ALTER TABLE ... DROP NOT NULL?), and "
						  "ClickHouse sorting keys cannot be: run ALTER TABLE %s ALTER %s SET NOT NULL, or "
						  "take it out of order_by, then start pgch again",
						  t->display, cols[i].name, t->qualified, cols[i].name);
					catalog_free_columns(cols, n);
					return false;
				}
				cols[i].ch.nullable = false;
			}
	catalog_free_columns(t->cols, t->ncols);
	t->cols = cols;
	t->ncols = n;
	Buf sql;
	buf_init(&sql);
	bool ok;
	if (same) {
		/* created again first if it was dropped behind pgch's back (perhaps why it is copied) */
		ok = create_table(s, t);
		buf_puts(&sql, "TRUNCATE TABLE ");
		plan_target(t, s->cfg, &sql);
		ok = ok && ch_query(s->ch, sql.data, NULL);
	} else {
		log_info("%s: its columns changed; recreating its ClickHouse table", t->display);
		buf_puts(&sql, "DROP TABLE IF EXISTS ");
		plan_target(t, s->cfg, &sql);
		ok = ch_query(s->ch, sql.data, NULL) && create_table(s, t);
	}
	buf_free(&sql);
	return ok;
}

/* Copy a table again (needs_resync, or truncated mid-copy): the stream worker is stopped. */
static bool do_resyncs(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		if (!s->resync[ti])
			continue;
		bool busy = false;
		for (int i = 0; i < s->nworkers; i++)
			if (s->workers[i].part >= 0 && s->plan.parts[s->workers[i].part].table == ti) {
				kill(s->workers[i].pid, SIGTERM);
				busy = true;
			}
		if (busy)
			continue; /* again once they are reaped */
		if (!refresh_table(s, ti))
			return false;
		/* only workers forked from now on (a snapshot taken now, this catalog) copy it */
		uint64_t newest = s->snap.lsn;
		for (int i = 0; i < s->nworkers; i++)
			if (s->workers[i].lsn > newest)
				newest = s->workers[i].lsn;
		s->min_lsn[ti] = newest + 1;
		StateRow *rows = xcalloc((size_t)s->plan.nparts + 1, sizeof(StateRow));
		int n = 0;
		for (int i = 0; i < s->plan.nparts; i++) {
			Partition *p = &s->plan.parts[i];
			if (p->table != ti)
				continue;
			p->status = PART_TODO;
			p->rows = 0;
			p->attempts = 0;
			p->snapshot_lsn = 0;
			partition_row(s, p, "todo", &rows[n++]);
		}
		bool ok = state_write(s->ch, s->cfg, rows, n) && write_table_row(s, ti, "copying");
		free(rows);
		if (!ok)
			return false;
		s->lines[ti].done = false;
		s->lines[ti].started = 0;
		s->lines[ti].finished = 0;
		s->resync[ti] = false;
		s->copy_finished = false;
		/* the copy needs a snapshot taken now, after the stream stopped */
		slot_release(&s->snap);
		s->snap_ok = false;
		log_info("%s: destination truncated; copying it again", s->cat->tables[ti].display);
	}
	return true;
}

static bool any_resync(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++)
		if (s->resync[ti])
			return true;
	return false;
}

/* pgch run: every table copied: record it, let go of the snapshot; the stream carries on. */
static void copy_complete(Sup *s)
{
	for (int ti = 0; ti < s->cat->ntables; ti++)
		write_table_row(s, ti, "done");
	write_pipe_row(s, "streaming", s->slot_start, s->cfg->pipe.slot);
	slot_release(&s->snap);
	s->snap_ok = false;
	s->copy_finished = true;
	log_info("every table is copied; streaming changes (stop with SIGTERM or Ctrl-C)");
}

/* Requests left in _pgch_state by pgch pause / resume / resync. */
static void read_requests(Sup *s, const State *st)
{
	const StateRow *ctl = state_find(st, "", -2);
	bool paused = ctl && strcmp(ctl->status, "paused") == 0;
	if (paused != s->paused) {
		s->paused = paused;
		log_info(paused ? "paused by pgch pause: the stream worker stops; the slot keeps its position"
				: "resumed by pgch resume");
		if (paused && s->stream_pid > 0 && !s->stream_stopping) {
			kill(s->stream_pid, SIGTERM);
			s->stream_stopping = true;
		}
	}
	for (int ti = 0; ti < s->cat->ntables; ti++) {
		const StateRow *r = state_find(st, s->cat->tables[ti].display, -1);
		if (r && strcmp(r->status, "resync_requested") == 0)
			request_resync(s, ti, "requested by pgch resync");
		else if (r && strcmp(r->status, "needs_resync") == 0) /* by a stream worker, maybe of an earlier run */
			request_resync(s, ti, r->info && r->info[0] ? r->info : "marked needs_resync");
	}
}

static void poll_requests(Sup *s, double now)
{
	if (now - s->last_control < 5)
		return;
	s->last_control = now;
	State st;
	if (state_load(s->ch, s->cfg, &st)) {
		read_requests(s, &st);
		state_free(&st);
	}
}

/* pgch run: the stream worker's part of the loop. */
static void manage_stream(Sup *s, double now)
{
	if (s->stopping)
		return;
	poll_requests(s, now);
	if (any_resync(s)) {
		if (s->stream_pid == 0 && !do_resyncs(s))
			s->failed = true;
		return;
	}
	if (s->stream_pid == 0 && !s->paused && now >= s->stream_restart_at && !launch_stream(s))
		s->failed = true;
	if (!s->copy_finished && all_done(s) && s->nworkers == 0)
		copy_complete(s);
}


/* Run partitions until all are done, the run fails, or a stop is requested. */
static void schedule(Sup *s)
{
	int limit = s->cfg->pipe.snapshot.workers;
	for (;;) {
		double now = progress_now();
		if (sup_stop && !s->stopping) {
			bool copying = false;
			for (int i = 0; i < s->nworkers; i++)
				copying = copying || s->workers[i].part >= 0;
			log_info(copying ? "stopping: workers abandon their partitions, which stay to do" : "stopping");
			s->stopping = true;
			stop_workers(s);
		}
		if (s->failed && !s->stopping) {
			s->stopping = true;
			stop_workers(s);
		}
		if (s->run_mode)
			manage_stream(s, now);
		else if (any_resync(s) && !do_resyncs(s))
			s->failed = true;
		while (!s->stopping && !(s->run_mode && any_resync(s))) {
			int pi = next_partition(s, now);
			if (pi < 0)
				break;
			int r = launch(s, pi, limit);
			if (r < 0)
				s->failed = true;
			if (r <= 0)
				break;
		}
		retire_idle(s);
		if (s->nworkers == 0 && s->stream_pid == 0 && (s->stopping || (!s->run_mode && all_done(s))))
			break;
		update_lines(s);
		progress_display_draw(s->lines, s->cat->ntables, false);
		struct pollfd pfd[3] = {{s->prog_rd, POLLIN, 0}, {sigchld_rd, POLLIN, 0}, {-1, POLLIN, 0}};
		if (s->snap_ok)
			pfd[2].fd = PQsocket(s->snap.conn);
		int timeout = progress_display_enabled() ? 500 : 1000;
		if (s->run_mode && s->stream_pid == 0 && !s->stopping)
			timeout = 200;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
			log_warn("poll: %s", strerror(errno));
		if (pfd[1].revents & POLLIN) {
			char junk[64];
			while (read(sigchld_rd, junk, sizeof junk) > 0)
				;
		}
		drain_progress(s);
		reap(s);
		if (s->snap_ok && (pfd[2].revents & (POLLIN | POLLERR | POLLHUP)) && !slot_snapshot_alive(&s->snap)) {
			log_warn("the connection holding snapshot %s was lost; partitions not yet started will be read under a "
				 "new snapshot",
				 s->snap.name);
			slot_release(&s->snap);
			s->snap_ok = false;
		}
	}
	update_lines(s);
	progress_display_draw(s->lines, s->cat->ntables, true);
}

/* ---------------------------------------------------------------- finishing */

static void summary(Sup *s, bool complete)
{
	int64_t rows = 0;
	uint64_t bytes = 0;
	int remaining = 0;
	for (int i = 0; i < s->plan.nparts; i++) {
		rows += s->plan.parts[i].status == PART_DONE ? s->plan.parts[i].rows : 0;
		bytes += s->plan.parts[i].status == PART_DONE ? s->plan.parts[i].bytes : 0;
		remaining += s->plan.parts[i].status != PART_DONE;
	}
	double secs = progress_now() - s->started;
	char r[32], b[32];
	progress_format_count(rows, r, sizeof r);
	progress_format_bytes(bytes, b, sizeof b);
	if (complete)
		log_info("snapshot complete: %d table%s, %s rows, %s in %.1f s", s->cat->ntables, s->cat->ntables == 1 ? "" : "s",
			 r, b, secs);
	else if (s->failed && remaining == 0)
		log_info("stopped by the error above");
	else if (s->failed)
		log_info("snapshot stopped by the error above: %d partition%s remain", remaining, remaining == 1 ? "" : "s");
	else
		log_info("snapshot incomplete: %d partition%s remain; run the same command again to continue", remaining,
			 remaining == 1 ? "" : "s");
	if (s->o->json) {
		Buf j;
		buf_init(&j);
		buf_printf(&j, "{\"complete\": %s, \"tables\": %d, \"rows\": %lld, \"bytes\": %llu, \"seconds\": %.3f, "
			       "\"partitions_remaining\": %d, \"per_table\": [",
			   complete ? "true" : "false", s->cat->ntables, (long long)rows, (unsigned long long)bytes, secs, remaining);
		for (int ti = 0; ti < s->cat->ntables; ti++) {
			buf_puts(&j, ti ? ", {\"source\": " : "{\"source\": ");
			buf_json_string(&j, s->cat->tables[ti].display);
			buf_puts(&j, ", \"target\": ");
			buf_json_string(&j, s->cat->tables[ti].target);
			buf_printf(&j, ", \"rows\": %lld}", (long long)s->lines[ti].rows);
		}
		buf_puts(&j, "]}\n");
		fwrite(j.data, 1, j.len, stdout);
		fflush(stdout);
		buf_free(&j);
	}
}

/* Everything copied: make the destination consistent at the largest snapshot used. */
static bool finish_snapshot(Sup *s)
{
	/* Partitions were read under one snapshot or more; changes made while the copy ran are
	 * in the slot. Applying them up to where the WAL is now leaves the destination equal to
	 * the source as of the end of the copy (at least the largest snapshot used, so that rows
	 * moved between ctid ranges under different snapshots are covered, DESIGN.md §3). */
	uint64_t upto = s->max_lsn;
	PGresult *res = pg_query(s->pg, "SELECT pg_current_wal_lsn()");
	uint64_t now = 0;
	if (res && pg_parse_lsn(PQgetvalue(res, 0, 0), &now) && now > upto)
		upto = now;
	PQclear(res);
	if (upto > s->slot_start) {
		char from[32], to[32];
		pg_format_lsn(s->slot_start, from, sizeof from);
		pg_format_lsn(upto, to, sizeof to);
		log_info("applying the changes made during the copy (%s to %s) from slot %s", from, to, s->cfg->pipe.slot);
		if (!stream_catch_up(s->cfg, s->cat, &s->ch->caps, s->ch->compress, upto))
			return false;
		s->max_lsn = upto;
	}
	for (int ti = 0; ti < s->cat->ntables; ti++)
		if (!write_table_row(s, ti, "done"))
			return false;
	slot_release(&s->snap);
	s->snap_ok = false;
	if (!s->o->keep_slot) {
		if (!write_pipe_row(s, "done", s->max_lsn, "slot dropped"))
			return false;
		return slot_drop(s->pg, s->cfg->pipe.slot);
	}
	log_info("kept replication slot %s: `pgch run` continues from it", s->cfg->pipe.slot);
	return write_pipe_row(s, "done", s->max_lsn, "slot kept");
}

/* Decide where the slot and snapshot come from; false (logged) if the run cannot go on. */
static bool prepare_slot(Sup *s, const StateRow *prior)
{
	SlotInfo info;
	if (!slot_info(s->pg, s->cfg->pipe.slot, &info))
		return false;
	bool slot_recorded = prior && prior->lsn != 0 &&
			     (strcmp(prior->status, "snapshotting") == 0 || strcmp(prior->status, "streaming") == 0 ||
			      strcmp(prior->status, "stopped") == 0 ||
			      (strcmp(prior->status, "done") == 0 && strcmp(prior->info, "slot kept") == 0));
	if (prior && strcmp(prior->status, "done") == 0 && strcmp(prior->info, "slot dropped") == 0 && s->run_mode) {
		log_error("the snapshot finished without keeping its replication slot, so the changes since then cannot be "
			  "streamed. Copy again and stream: pgch run --restart %s (next time: pgch snapshot --keep-slot)",
			  s->cfg->path);
		return false;
	}
	if (slot_recorded) {
		if (!info.exists || strcmp(info.wal_status, "lost") == 0) {
			log_error("replication slot %s, created by an earlier run, is %s: what was copied cannot be kept "
				  "consistent. Start over with: pgch %s --restart %s",
				  s->cfg->pipe.slot, info.exists ? "invalidated (its WAL was removed)" : "gone",
				  s->run_mode ? "run" : "snapshot", s->cfg->path);
			return false;
		}
		if (info.active) {
			log_error("replication slot %s is in use by another process (another pgch for this pipe?)", s->cfg->pipe.slot);
			return false;
		}
		s->slot_start = info.confirmed_flush;
		s->max_lsn = s->slot_start;
		char lsn[32];
		pg_format_lsn(s->slot_start, lsn, sizeof lsn);
		log_info("resuming: slot %s is at %s", s->cfg->pipe.slot, lsn);
		return true; /* a temporary slot provides the snapshot when a partition starts */
	}
	if (info.exists && prior && strcmp(prior->status, "snapshotting") == 0 && prior->lsn == 0) {
		/* created by a run that died before recording it: nothing was copied under it */
		if (!slot_drop(s->pg, s->cfg->pipe.slot))
			return false;
	}
	if (!write_pipe_row(s, "snapshotting", 0, s->cfg->pipe.slot))
		return false;
	if (!slot_create_exported(s->cfg, s->cfg->pipe.slot, false, &s->snap))
		return false;
	s->snap_ok = true;
	s->slot_start = s->snap.lsn;
	s->max_lsn = s->slot_start;
	return write_pipe_row(s, "snapshotting", s->snap.lsn, s->cfg->pipe.slot);
}

static int supervise(Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const SupervisorOptions *o, bool run_mode)
{
	Sup sup;
	Sup *s = &sup;
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->pg = pg;
	s->ch = ch;
	s->cat = cat;
	s->o = o;
	s->started = progress_now();
	s->prog_rd = s->prog_wr = -1;
	s->run_mode = run_mode;
	int rc = 1;
	State st;
	memset(&st, 0, sizeof st);

	if (!supervisor_signals())
		return 1;
	if (!slot_lock_pipe(pg, cfg)) /* before --restart destroys anything a running pgch uses */
		goto out;
	if (!state_ensure(ch, cfg))
		goto out;
	if (o->restart) {
		log_info("--restart: forgetting recorded progress and dropping the target tables");
		SlotInfo info;
		if (!state_clear(ch, cfg) || !drop_targets(s) || !slot_info(pg, cfg->pipe.slot, &info))
			goto out;
		if (info.exists && !slot_drop(pg, cfg->pipe.slot))
			goto out;
	}
	if (!state_load(ch, cfg, &st))
		goto out;
	const StateRow *prior = state_find(&st, "", -1);
	if (prior && strcmp(prior->status, "done") == 0 && !run_mode) {
		bool all_recorded = true;
		for (int ti = 0; ti < cat->ntables; ti++) {
			const StateRow *r = state_find(&st, cat->tables[ti].display, -1);
			all_recorded = all_recorded && r && strcmp(r->status, "done") == 0;
		}
		if (all_recorded) {
			SlotInfo info;
			if (slot_info(pg, cfg->pipe.slot, &info) && info.exists && strcmp(prior->info, "slot dropped") == 0 &&
			    !o->keep_slot)
				slot_drop(pg, cfg->pipe.slot);
			log_info("every selected table was already copied by an earlier run (pgch snapshot --restart copies again)");
			rc = 0;
			goto out;
		}
		log_error("tables were added to the config after the snapshot finished: copy them with "
			  "pgch snapshot --restart (all tables), or use pgch run, which copies new tables");
		goto out;
	}

	plan_partitions(cat, cfg, &s->plan);
	restore_plan(s, &st);
	build_order(s);
	s->lines = xcalloc((size_t)cat->ntables + 1, sizeof(ProgressLine));
	s->active = xcalloc((size_t)cat->ntables + 1, sizeof(bool));
	for (int ti = 0; ti < cat->ntables; ti++) {
		s->lines[ti].name = cat->tables[ti].display;
		s->lines[ti].est_rows = cat->tables[ti].est_rows;
	}
	s->workers = xcalloc((size_t)cfg->pipe.snapshot.workers + 1, sizeof(Worker));
	s->resync = xcalloc((size_t)cat->ntables + 1, sizeof(bool));
	s->min_lsn = xcalloc((size_t)cat->ntables + 1, sizeof(uint64_t));
	s->truncated = xcalloc((size_t)cat->ntables + 1, sizeof(uint64_t));
	s->unrep = xcalloc((size_t)cat->ntables + 1, sizeof(int64_t));
	for (int ti = 0; ti < cat->ntables; ti++) {
		const StateRow *r = state_find(&st, cat->tables[ti].display, -1);
		if (r && strncmp(r->info, "unrepresentable values: ", 24) == 0)
			s->unrep[ti] = strtoll(r->info + 24, NULL, 10);
	}
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].status == PART_DONE && s->plan.parts[i].snapshot_lsn > s->max_lsn)
			s->max_lsn = s->plan.parts[i].snapshot_lsn;

	if (!slot_ensure_publication(pg, cfg, cat) || !prepare_slot(s, prior))
		goto out;
	if (run_mode) {
		read_requests(s, &st);
		s->last_control = progress_now();
	}
	for (int i = 0; i < s->plan.nparts; i++)
		if (s->plan.parts[i].status == PART_DONE && s->plan.parts[i].snapshot_lsn > s->max_lsn)
			s->max_lsn = s->plan.parts[i].snapshot_lsn;
	if (!create_tables(s) || !add_new_columns(s) || !record_plan(s, &st))
		goto out;

	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		log_error("pipe: %s", strerror(errno));
		goto out;
	}
	s->prog_rd = fds[0];
	s->prog_wr = fds[1];
	fcntl(s->prog_rd, F_SETFL, O_NONBLOCK);
	int todo = 0;
	for (int i = 0; i < s->plan.nparts; i++)
		todo += s->plan.parts[i].status != PART_DONE;
	log_info("copying %d table%s in %d partition%s (%d to do) with up to %d workers", cat->ntables,
		 cat->ntables == 1 ? "" : "s", s->plan.nparts, s->plan.nparts == 1 ? "" : "s", todo, cfg->pipe.snapshot.workers);
	for (int ti = 0; ti < cat->ntables; ti++) {
		bool all = true;
		for (int i = 0; i < s->plan.nparts; i++)
			all = all && (s->plan.parts[i].table != ti || s->plan.parts[i].status == PART_DONE);
		if (all)
			s->lines[ti].done = true;
	}
	progress_display_init(true); /* on stderr, and only on a terminal: --json goes to stdout */
	schedule(s);
	progress_display_finish();

	if (s->failed) {
		summary(s, false);
		goto out;
	}
	if (run_mode) {
		char lsn[32];
		pg_format_lsn(s->stream_lsn, lsn, sizeof lsn);
		log_info("stopped: %llu changes applied in this run; slot %s confirmed at %s", (unsigned long long)s->stream_rows,
			 cfg->pipe.slot, lsn);
		if (!all_done(s))
			summary(s, false);
		else
			write_pipe_row(s, "stopped", s->slot_start, cfg->pipe.slot); /* pgch status tells */
		rc = 0;
		goto out;
	}
	if (!all_done(s)) {
		summary(s, false);
		/* stopped on request: not a failure, but not a finished copy either, so that
		 * `pgch snapshot && cut-over` does not go on; the same command continues */
		rc = PGCH_EXIT_INCOMPLETE;
		goto out;
	}
	if (!finish_snapshot(s))
		goto out;
	summary(s, true);
	rc = 0;
out:
	slot_release(&s->snap);
	state_free(&st);
	plan_free(&s->plan);
	free(s->order);
	free(s->lines);
	free(s->active);
	free(s->workers);
	free(s->resync);
	free(s->min_lsn);
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
