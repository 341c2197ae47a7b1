/*
 * apply_send — the applier's batches into ClickHouse INSERTs, the INSERTs in the background
 * while the next batch fills; see apply.h ("Flush").
 *
 * A flush takes every table's live rows: their missing values are looked up first (on this
 * thread: lookups read ClickHouse and the source), then each table's batch is swapped with
 * its empty `sending` batch and one thread inserts the sending batches, one INSERT per table,
 * while the stream goes on decoding into the emptied batches. Nothing else touches the
 * ClickHouse connection meanwhile: every other use of it (DDL, state writes, lookups, the
 * next flush) settles the flight first, that is, joins the thread and, for a table whose
 * INSERT failed, retries it here with backoff (the caller's wait keeps the replication
 * connection alive) until ClickHouse takes it or the table is set aside for a new copy.
 * Only a settled flight moves `acked`, the position the stream may confirm.
 *
 * Measured on the wide table's 300,000-row UPDATE (2 cores): decoding a batch of 56,000
 * rows took 0.45 s and inserting it 0.3 to 0.5 s; one after the other they were most of the
 * catch-up, side by side the INSERT hides behind the decoding of the next batch.
 */
#include "apply.h"
#include "apply_int.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "fill.h"
#include "log.h"
#include "lookup.h"
#include "native.h"

static PGconn *source_for_lookup(void *ctx)
{
	return apply_source(ctx);
}

/* Fill the batch's missing values, retrying while ClickHouse or the source is away. */
static bool resolve_table(Applier *a, ApplyTable *at)
{
	LookupTable lt = {at->t, at->conv, at->col_dropped, &at->batch};
	for (int attempt = 1; !lookup_resolve(&lt, a->cfg, &a->ch, source_for_lookup, a, &a->fatal); attempt++)
		if (a->fatal || !a->o->wait(a->o->wait_ctx, backoff_delay(attempt, 1, 30)))
			return false;
	return true;
}

/* One INSERT of a batch; its body's size in *bytes. */
static bool insert_once(Applier *a, ApplyTable *at, TableBatch *b, int64_t *bytes)
{
	NativeBlock block;
	Fill f = {b, at->t->ncols, NULL, 0, 0};
	if (native_chosen(a->o->caps)) {
		native_init_rows(&block, at->t, a->cfg);
		f.block = &block;
	}
	char settings[256];
	ch_insert_settings(&a->ch, false, settings, sizeof settings);
	bool ok = ch_insert(&a->ch, at->insert_sql, settings, fill_next, &f, NULL);
	if (f.block)
		native_free(f.block);
	*bytes = f.bytes;
	return ok;
}

/* The sending batch is in ClickHouse: count it, report it, empty it. */
static void sent(Applier *a, ApplyTable *at, int64_t bytes)
{
	a->rows_applied += (uint64_t)at->sending.live;
	at->sent_counts[PROG_N_ROWS] = at->sending.live;
	at->sent_counts[PROG_N_BYTES] = bytes;
	progress_send_counts(a->o->progress_fd, (int)(at - a->tables), at->sent_counts);
	memset(at->sent_counts, 0, sizeof at->sent_counts);
	batch_reset(&at->sending);
}

/* Insert a table's sending batch, retrying while ClickHouse is away; `failed` says a first
 * attempt (the background one) failed already. false: stop asked for, or fatal. */
static bool insert_table(Applier *a, ApplyTable *at, bool failed)
{
	log_set_table(at->t->display);
	int failures = 0, ch_errors = 0;
	for (;;) {
		if (!failed) {
			int64_t bytes;
			a->ch.quiet = failures > 0;
			bool ok = insert_once(a, at, &at->sending, &bytes);
			a->ch.quiet = false;
			if (ok) {
				if (failures > 0)
					log_info("ClickHouse accepts inserts again");
				sent(a, at, bytes);
				return true;
			}
		}
		failed = false;
		failures++;
		int64_t retry[PROG_N_COUNTS] = {0};
		retry[a->ch.last_status == 0 ? PROG_N_RETRY_UNREACHABLE : PROG_N_RETRY_REJECTED] = 1;
		progress_send_counts(a->o->progress_fd, (int)(at - a->tables), retry);
		/* refused rows count against max_retries; a cluster partly away does not */
		if (a->ch.last_status != 0 && !ch_error_transient(a->ch.last_code) && ++ch_errors > a->cfg->pipe.max_retries) {
			batch_reset(&at->sending);
			memset(at->sent_counts, 0, sizeof at->sent_counts);
			apply_mark_resync(a, at, a->ch.last_error ? a->ch.last_error : "ClickHouse keeps rejecting its rows");
			return true;
		}
		if (failures == 1)
			log_warn("%s; retrying with backoff (status updates keep the replication connection alive)",
				 a->ch.last_error ? a->ch.last_error : "insert failed");
		if (!a->o->wait(a->o->wait_ctx, backoff_delay(failures, 1, 30)))
			return false;
	}
}

/* A flush is complete: its duration to the metrics, and the lag clock restarted from the
 * oldest change batched meanwhile. */
static void flushed(Applier *a, double started)
{
	progress_send_flush(a->o->progress_fd, PROG_STREAM_FLUSH, (int64_t)((progress_now() - started) * 1e6), 0);
	if (a->pending_rows > 0)
		progress_send_flush(a->o->progress_fd, PROG_STREAM_PENDING, 0, a->first_pending_us);
}

/* The background thread: one INSERT per table of the flight, stopping at the first failure. */
static void *send_main(void *arg)
{
	Applier *a = arg;
	ApplySender *s = &a->send;
	a->ch.quiet = true; /* a failure is reported when the flight settles */
	for (int i = 0; i < s->n; i++) {
		ApplyTable *at = &a->tables[s->list[i]];
		if (!insert_once(a, at, &at->sending, &s->bytes[i])) {
			s->failed_at = i;
			break;
		}
	}
	a->ch.quiet = false;
	atomic_store(&s->done, true);
	return NULL;
}

bool apply_busy(const Applier *a)
{
	return a->send.busy;
}

bool apply_sent(Applier *a)
{
	return a->send.busy && atomic_load(&a->send.done);
}

bool apply_settle(Applier *a)
{
	ApplySender *s = &a->send;
	if (!s->busy)
		return true;
	if (s->threaded)
		pthread_join(s->thread, NULL);
	s->busy = false; /* from here on this thread owns the connection: retries may use it */
	for (int i = 0; i < s->n; i++) {
		ApplyTable *at = &a->tables[s->list[i]];
		if (s->failed_at < 0 || i < s->failed_at)
			sent(a, at, s->bytes[i]);
		else if (!insert_table(a, at, i == s->failed_at)) {
			/* the rest stays unsent: the flight is not acked; a restart replays it */
			for (int j = i; j < s->n; j++) {
				batch_reset(&a->tables[s->list[j]].sending);
				memset(a->tables[s->list[j]].sent_counts, 0, sizeof at->sent_counts);
			}
			s->n = 0;
			log_set_table(NULL);
			return false;
		}
	}
	s->n = 0;
	log_set_table(NULL);
	if (s->upto > a->acked)
		a->acked = s->upto;
	flushed(a, s->started);
	return true;
}

bool apply_flush_start(Applier *a, uint64_t upto, bool background)
{
	if (!apply_settle(a))
		return false;
	ApplySender *s = &a->send;
	if (!s->list) {
		s->list = xcalloc((size_t)a->ntables + 1, sizeof(int));
		s->bytes = xcalloc((size_t)a->ntables + 1, sizeof(int64_t));
	}
	s->n = 0;
	s->started = progress_now();
	bool had_rows = a->pending_rows > 0;
	for (int i = 0; i < a->ntables; i++) {
		ApplyTable *at = &a->tables[i];
		if (at->batch.live == 0) {
			if (at->batch.n)
				batch_reset(&at->batch);
			continue;
		}
		log_set_table(at->t->display);
		if (!resolve_table(a, at)) {
			log_set_table(NULL);
			return false;
		}
		if (at->resync || at->batch.live == 0) /* set aside while resolving */
			continue;
		TableBatch swap = at->sending;
		at->sending = at->batch;
		at->batch = swap;
		memcpy(at->sent_counts, at->counts, sizeof at->counts);
		memset(at->counts, 0, sizeof at->counts);
		s->list[s->n] = i;
		s->bytes[s->n] = 0;
		s->n++;
	}
	log_set_table(NULL);
	a->pending_rows = 0;
	if (s->n == 0) {
		if (upto > a->acked)
			a->acked = upto;
		if (had_rows) /* changes that came to nothing (set aside, superseded) */
			flushed(a, s->started);
		return true;
	}
	s->upto = upto;
	s->failed_at = -1;
	s->busy = true;
	atomic_store(&s->done, false);
	s->threaded = false;
	if (background) {
		/* one malloc arena for both threads, so that what one frees the other reuses, and
		 * buffers of a megabyte or more mapped and unmapped rather than kept in the heap
		 * (cdc_batch_memory.t's peak RSS growth: 17.2 MB without, 16.7 MB with) */
		static bool malloc_set;
		if (!malloc_set)
			malloc_set = mallopt(M_ARENA_MAX, 1) == 1 && mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1;
		/* the thread takes no signal: SIGTERM and SIGINT reach the stream's loop */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		s->threaded = pthread_create(&s->thread, NULL, send_main, a) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!s->threaded)
		send_main(a);
	return true;
}

bool apply_flush(Applier *a)
{
	return apply_flush_start(a, a->acked, false) && apply_settle(a);
}

void apply_send_close(Applier *a)
{
	ApplySender *s = &a->send;
	if (s->busy && s->threaded)
		pthread_join(s->thread, NULL);
	s->busy = false;
	free(s->list);
	free(s->bytes);
	memset(s, 0, sizeof *s);
}
