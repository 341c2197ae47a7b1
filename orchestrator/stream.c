/*
 * stream — the streaming worker: the replication client (repl.c) feeding the applier
 * (apply.c); see stream.h for the model.
 *
 * The loop: take the next frame; an XLogData message is decoded (pgoutput.c) and handed to
 * the applier, a keepalive moves the server's position; when nothing is waiting, do the
 * time-based work (flush after sync_interval, status update, heartbeat) and wait for the
 * socket until the next of those is due. The stream decides what position to confirm:
 * the end of the last transaction whose rows ClickHouse has all acknowledged.
 */
#include "stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "log.h"
#include "pg.h"
#include "pgoutput.h"
#include "progress.h"
#include "repl.h"
#include "slot.h"

volatile sig_atomic_t stream_stop;

typedef struct Stream {
	const StreamOptions *o;
	const Config *cfg;
	ReplClient repl;
	Applier apply;
	ApplyOptions ao;
	PgoDecoder dec;
	bool in_txn;
	bool fatal;              /* a message pgch cannot read */
	bool reached;            /* catch-up: the stop position is passed */
	bool big_txn;            /* the open transaction filled a batch: flush the rest at its commit */
	uint64_t last_commit_end;
	uint64_t confirmed;      /* reported to PostgreSQL as flushed */
	double last_heartbeat;
	double last_request;     /* catch-up: when the server's position was last asked for */
	int endpoint_told;       /* the ClickHouse endpoint last reported to the supervisor (-1: none) */
} Stream;

/* ---------------------------------------------------------------- feedback */

/* Move the position to confirm forward (never back), saying why at debug level. */
static void confirm(Stream *s, uint64_t lsn, const char *why)
{
	if (lsn <= s->confirmed)
		return;
	char at[32];
	pg_format_lsn(lsn, at, sizeof at);
	log_debug("confirming %s: %s", at, why);
	s->confirmed = lsn;
}

/* The ClickHouse endpoint in use, when it changed, for pgch status and the metrics (read
 * only between flights: during one the connection is the sender thread's). */
static void tell_endpoint(Stream *s)
{
	if (!apply_busy(&s->apply) && s->apply.ch.cur != s->endpoint_told) {
		s->endpoint_told = s->apply.ch.cur;
		progress_send_table(s->o->progress_fd, PROG_STREAM_ENDPOINT, s->endpoint_told, 0);
	}
}

static bool send_status(Stream *s, bool reply_requested)
{
	confirm(s, s->apply.acked, "a background flush settled");
	if (!repl_send_status(&s->repl, s->confirmed, reply_requested))
		return false;
	progress_send_stream(s->o->progress_fd, (int64_t)s->apply.rows_applied, s->confirmed);
	tell_endpoint(s);
	return true;
}

/* The applier's wait: sleep without reading the stream, but keep status updates flowing. */
static bool wait_servicing(void *ctx, double secs)
{
	Stream *s = ctx;
	double until = progress_now() + secs;
	while (!stream_stop) {
		double now = progress_now();
		if (now >= until)
			return true;
		if (repl_status_due(&s->repl, now) && !send_status(s, false))
			return false;
		double step = until - now;
		if (step > 0.5)
			step = 0.5;
		struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Flush every table, then confirm the last transaction it completed. */
static bool stream_flush(Stream *s)
{
	if (!apply_flush(&s->apply)) /* which reports the flush to the metrics */
		return false;
	confirm(s, s->last_commit_end, "flushed");
	return send_status(s, false);
}

/* Start flushing every table in the background; the stream confirms the last complete
 * transaction once it has settled (apply_send.c). */
static bool stream_flush_async(Stream *s)
{
	return apply_flush_start(&s->apply, s->last_commit_end, true);
}

/* Nothing open, nothing pending, nothing in flight: the slot may move to the server's position. */
static bool idle(const Stream *s)
{
	return !s->in_txn && s->apply.pending_rows == 0 && !apply_busy(&s->apply);
}

static bool heartbeat(Stream *s)
{
	PGconn *c = apply_source(&s->apply);
	s->last_heartbeat = progress_now();
	if (!c)
		return false;
	PGresult *res = PQexec(c, "SELECT pg_logical_emit_message(false, 'pgch_heartbeat', '')");
	bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok;
}

/* ---------------------------------------------------------------- messages */

static bool on_message(Stream *s, const char *payload, size_t len)
{
	PgoMsg m;
	char err[256];
	if (!pgo_decode(&s->dec, payload, len, &m, err, sizeof err)) {
		log_error("%s", err);
		s->fatal = true;
		return false;
	}
	switch (m.type) {
	case 'B':
		s->in_txn = true;
		apply_begin(&s->apply, m.final_lsn, m.commit_time);
		if (s->o->stop_at && m.final_lsn >= s->o->stop_at)
			s->reached = true;
		return true;
	case 'C':
		s->in_txn = false;
		s->last_commit_end = m.end_lsn;
		if (s->apply.pending_rows == 0 && !apply_busy(&s->apply))
			confirm(s, m.end_lsn, "a commit with nothing pending");
		/* waiting sync_interval for more rows pays off for small transactions; a large one's
		 * last rows would only wait (a 300,000-row UPDATE of the wide table: 1 s of 6.4) */
		if (s->big_txn && s->apply.pending_rows > 0) {
			s->big_txn = false;
			return stream_flush_async(s);
		}
		s->big_txn = false;
		return true;
	default: return apply_message(&s->apply, &m); /* 'O' origin, 'Y' type, 'M' message are ignored */
	}
}

static bool on_keepalive(Stream *s, const PgoFrame *f)
{
	if (s->o->stop_at && f->wal_end >= s->o->stop_at && !s->in_txn)
		s->reached = true;
	if (!f->reply_requested)
		return true;
	if (idle(s))
		confirm(s, s->repl.server_pos, "idle at a keepalive");
	return send_status(s, false);
}

/* ---------------------------------------------------------------- time */

/* Time-based work between messages: flush, idle position, status, heartbeat. */
static bool tick(Stream *s)
{
	double now = progress_now();
	Applier *a = &s->apply;
	if (apply_sent(a)) {
		if (!apply_settle(a))
			return false;
		tell_endpoint(s);
	}
	if (a->pending_rows > 0 && now - a->first_pending >= s->cfg->pipe.sync_interval && !stream_flush_async(s))
		return false;
	/* a flush that settled is reported at once, not at the next status interval (up to a third
	 * of wal_sender_timeout later): the slot frees WAL and the server's flush_lag is current */
	bool settled = a->acked > s->confirmed;
	confirm(s, a->acked, "a flush settled");
	if (idle(s) && s->repl.server_pos >= s->repl.received)
		confirm(s, s->repl.server_pos, "idle");
	if ((settled || repl_status_due(&s->repl, now)) && !send_status(s, false))
		return false;
	if (idle(s) && s->cfg->pipe.heartbeat_interval > 0 && now - s->last_heartbeat >= s->cfg->pipe.heartbeat_interval)
		heartbeat(s);
	return true;
}

/* How long to wait for the socket: until the next status update or flush is due. */
static double wait_time(Stream *s)
{
	double now = progress_now();
	double wait = s->repl.status_interval - (now - s->repl.last_status);
	if (s->apply.pending_rows > 0) {
		double w2 = s->cfg->pipe.sync_interval - (now - s->apply.first_pending);
		if (w2 < wait)
			wait = w2;
	}
	if (apply_busy(&s->apply) && wait > 0.02)
		wait = 0.02; /* settle a background flush soon after it ends */
	if (s->o->stop_at) {
		/* catch-up: ask for the server's position when the stream goes quiet */
		if (now - s->last_request > 0.2 && !s->in_txn) {
			send_status(s, true);
			s->last_request = now;
		}
		if (wait > 0.25)
			wait = 0.25;
	}
	return wait;
}

/* Full: batch_size rows, or half of max_batch_memory, since a batch being filled and one
 * being inserted in the background share the bound. */
static bool batch_full(const Stream *s)
{
	return s->apply.pending_rows >= s->cfg->pipe.batch_size ||
	       apply_pending_bytes(&s->apply) >= (size_t)s->cfg->pipe.max_batch_memory / 2;
}

/* ---------------------------------------------------------------- the loop */

/* Why the applier stopped: a stop asked for, something retrying cannot fix, or a retry. */
static int failure(const Stream *s)
{
	if (stream_stop)
		return WORKER_STOPPED;
	return s->fatal || s->apply.fatal ? WORKER_FATAL : WORKER_RETRY;
}

static int stream_loop(Stream *s)
{
	for (;;) {
		bool unsent = s->apply.pending_rows > 0 || apply_busy(&s->apply);
		if (stream_stop) {
			if (unsent && !stream_flush(s))
				return WORKER_STOPPED;
			send_status(s, false);
			return WORKER_STOPPED;
		}
		if (s->reached && !s->in_txn) {
			if (unsent && !stream_flush(s))
				return failure(s);
			confirm(s, s->o->stop_at, "the stop position is reached");
			send_status(s, false);
			return WORKER_OK;
		}
		PgoFrame f;
		switch (repl_receive(&s->repl, &f)) {
		case REPL_DATA:
			if (!on_message(s, f.payload, f.payload_len))
				return failure(s);
			if (batch_full(s)) {
				s->big_txn = s->in_txn;
				if (!stream_flush_async(s))
					return failure(s);
			}
			break;
		case REPL_KEEPALIVE:
			if (!on_keepalive(s, &f))
				return failure(s);
			break;
		case REPL_NONE:
			if (!tick(s))
				return failure(s);
			if (!repl_wait(&s->repl, wait_time(s)))
				return WORKER_RETRY;
			break;
		case REPL_ENDED: return WORKER_RETRY;
		case REPL_BAD: return WORKER_FATAL;
		}
	}
}

int stream_run(const StreamOptions *o)
{
	Stream st;
	Stream *s = &st;
	memset(s, 0, sizeof *s);
	s->o = o;
	s->cfg = o->cfg;
	s->endpoint_told = -1;
	s->ao = (ApplyOptions){o->cfg, o->cat, o->caps, o->compress, o->progress_fd, wait_servicing, s};
	int rc = WORKER_RETRY;
	if (!apply_open(&s->apply, &s->ao) || !repl_open(&s->repl, s->cfg))
		goto out;
	bool binary = s->apply.binary_ok && PQserverVersion(s->repl.conn) >= 140000;
	SlotInfo info;
	PGconn *sql = apply_source(&s->apply);
	if (sql && slot_info(sql, s->cfg->pipe.slot, &info) && info.exists)
		s->confirmed = info.confirmed_flush;
	rc = repl_start(&s->repl, binary);
	if (rc != WORKER_OK)
		goto out;
	char lsn[32];
	pg_format_lsn(s->confirmed, lsn, sizeof lsn);
	log_info("streaming from slot %s at %s (%s values)", s->cfg->pipe.slot, lsn, binary ? "binary" : "text");
	s->last_heartbeat = progress_now();
	rc = stream_loop(s);
out:
	repl_close(&s->repl);
	apply_close(&s->apply);
	return rc;
}
