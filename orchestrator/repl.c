/*
 * repl — the replication client; see repl.h.
 */
#include "repl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "exitcode.h"
#include "log.h"
#include "pg.h"
#include "progress.h"

double repl_parse_interval(const char *v)
{
	char *end;
	double n = strtod(v, &end);
	if (strcmp(end, "ms") == 0 || *end == '\0')
		return n / 1000; /* a bare number is milliseconds */
	if (strcmp(end, "s") == 0)
		return n;
	if (strcmp(end, "min") == 0)
		return n * 60;
	if (strcmp(end, "h") == 0)
		return n * 3600;
	return 60;
}

/* wal_sender_timeout in seconds (0: disabled). */
static double sender_timeout(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SHOW wal_sender_timeout");
	double secs = 60;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		secs = repl_parse_interval(PQgetvalue(res, 0, 0));
	PQclear(res);
	return secs;
}

bool repl_open(ReplClient *r, const Config *cfg)
{
	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->conn = pg_connect(cfg, PG_CONN_REPLICATION, "stream");
	if (!r->conn)
		return false;
	double timeout = sender_timeout(r->conn);
	r->status_interval = cfg->pipe.status_interval;
	if (timeout > 0 && timeout / 3 < r->status_interval)
		r->status_interval = timeout / 3 < 1 ? 1 : timeout / 3;
	r->last_status = progress_now();
	return true;
}

void repl_close(ReplClient *r)
{
	if (r->frame)
		PQfreemem(r->frame);
	if (r->conn) {
		PQputCopyEnd(r->conn, NULL);
		PQfinish(r->conn);
	}
	memset(r, 0, sizeof *r);
}

int repl_classify_start_error(const char *sqlstate)
{
	if (strcmp(sqlstate, "42704") == 0 || /* undefined_object: the slot does not exist */
	    strcmp(sqlstate, "55000") == 0 || /* object_not_in_prerequisite_state: invalidated, or not usable here */
	    strcmp(sqlstate, "58P01") == 0)   /* undefined_file: the WAL it needs was removed */
		return WORKER_SLOT_LOST;
	return WORKER_RETRY; /* 55006 object_in_use (another process has it), connection trouble, ... */
}

int repl_start(ReplClient *r, bool binary)
{
	PGconn *c = r->conn;
	const Config *cfg = r->cfg;
	char *slot = pg_quote_ident(c, cfg->pipe.slot);
	char *pub = pg_quote_ident(c, cfg->pipe.publication);
	char *publit = pg_quote_literal(c, pub);
	char *sql = xasprintf("START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', publication_names %s%s)", slot, publit,
			      binary ? ", binary 'true'" : "");
	free(slot);
	free(pub);
	free(publit);
	PGresult *res = PQexec(c, sql);
	free(sql);
	if (res && PQresultStatus(res) == PGRES_COPY_BOTH) {
		PQclear(res);
		return WORKER_OK;
	}
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c);
	const char *state = pg_sqlstate(res);
	int rc = repl_classify_start_error(state);
	if (strcmp(state, "42704") == 0)
		log_error("replication slot %s does not exist: the changes since the snapshot are lost to pgch. Copy "
			  "the tables again: pgch run --restart %s",
			  cfg->pipe.slot, cfg->path);
	else if (rc == WORKER_SLOT_LOST)
		log_error("replication slot %s cannot be used any more (invalidated when its WAL was removed, see "
			  "max_slot_wal_keep_size): %s Copy the tables again: pgch run --restart %s",
			  cfg->pipe.slot, msg, cfg->path);
	else if (strcmp(state, "55006") == 0)
		log_error("replication slot %s is in use by another process: %s", cfg->pipe.slot, msg);
	else
		log_error("START_REPLICATION failed: %s", msg);
	PQclear(res);
	return rc;
}

ReplEvent repl_receive(ReplClient *r, PgoFrame *f)
{
	if (r->frame) {
		PQfreemem(r->frame);
		r->frame = NULL;
	}
	int n = PQgetCopyData(r->conn, &r->frame, 1);
	if (n == 0)
		return REPL_NONE;
	if (n > 0) {
		char err[256];
		if (!pgo_frame(r->frame, (size_t)n, f, err, sizeof err)) {
			log_error("%s", err);
			return REPL_BAD;
		}
		if (f->type == 'w') {
			if (f->wal_start > r->received)
				r->received = f->wal_start;
			return REPL_DATA;
		}
		if (f->wal_end > r->server_pos)
			r->server_pos = f->wal_end;
		return REPL_KEEPALIVE;
	}
	if (n == -1) {
		PGresult *res = PQgetResult(r->conn);
		const char *why = res ? PQresultErrorMessage(res) : PQerrorMessage(r->conn);
		if (!why || !why[0])
			why = PQstatus(r->conn) == CONNECTION_BAD ? PQerrorMessage(r->conn) : "";
		log_error("the replication stream ended: %s",
			  why && why[0] ? why : "the server closed it (shut down or restarted?); reconnecting");
		PQclear(res);
		return REPL_ENDED;
	}
	log_error("reading the replication stream failed: %s", PQerrorMessage(r->conn));
	return REPL_ENDED;
}

bool repl_wait(ReplClient *r, double secs)
{
	if (secs < 0.01)
		secs = 0.01;
	struct pollfd pfd = {PQsocket(r->conn), POLLIN, 0};
	if (poll(&pfd, 1, (int)(secs * 1000)) < 0 && errno != EINTR) {
		log_error("poll: %s", strerror(errno));
		return false;
	}
	if (!PQconsumeInput(r->conn)) {
		log_error("lost the replication connection: %s", PQerrorMessage(r->conn));
		return false;
	}
	return true;
}

bool repl_send_status(ReplClient *r, uint64_t applied, bool reply_requested)
{
	char msg[34];
	uint64_t written = r->received > applied ? r->received : applied;
	pgo_status_update(msg, written, applied, applied, pgo_now(), reply_requested);
	if (PQputCopyData(r->conn, msg, sizeof msg) <= 0 || PQflush(r->conn) < 0) {
		log_error("cannot send a status update to PostgreSQL: %s", PQerrorMessage(r->conn));
		return false;
	}
	r->last_status = progress_now();
	return true;
}

bool repl_status_due(const ReplClient *r, double now)
{
	return now - r->last_status >= r->status_interval;
}
