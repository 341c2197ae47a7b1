/*
 * repl — the replication client: a logical replication connection, START_REPLICATION with
 * pgoutput, messages in, standby status updates out. It knows nothing of ClickHouse or of
 * what the messages mean (after PostgreSQL's receivelog.c: small named steps the stream
 * worker calls in its loop).
 *
 *   repl_open      connect (replication=database) and read wal_sender_timeout, so status
 *                  updates go at least three times per timeout
 *   repl_start     START_REPLICATION SLOT s LOGICAL 0/0 (proto_version 1, publication_names,
 *                  binary where every column can): the server resumes from the slot's
 *                  confirmed position. A failure is classified by SQLSTATE, never by text.
 *   repl_receive   the next CopyData frame, without waiting: XLogData ('w') or keepalive ('k')
 *   repl_wait      wait for the socket until data arrives or `secs` pass
 *   repl_send_status  report what is applied (flushed = applied = the caller's position)
 */
#ifndef PGCH_REPL_H
#define PGCH_REPL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config.h"
#include "pgoutput.h"

typedef struct ReplClient {
	PGconn *conn;
	const Config *cfg;
	uint64_t received;      /* WAL start of the latest XLogData */
	uint64_t server_pos;    /* the server's WAL end, from keepalives */
	double status_interval; /* seconds between status updates */
	double last_status;     /* when the last one was sent */
	char *frame;            /* the frame repl_receive returned last (libpq's memory) */
} ReplClient;

typedef enum ReplEvent {
	REPL_DATA,      /* an XLogData message: f->payload, f->payload_len */
	REPL_KEEPALIVE, /* a keepalive: server_pos updated; f->reply_requested */
	REPL_NONE,      /* nothing has arrived yet: repl_wait */
	REPL_ENDED,     /* the connection failed or the server ended the stream (logged) */
	REPL_BAD,       /* a message pgch cannot read (logged): retrying will not help */
} ReplEvent;

/* Connect for replication; false (logged) on failure. */
bool repl_open(ReplClient *r, const Config *cfg);
void repl_close(ReplClient *r);

/* Start streaming from the slot; returns a WorkerExit (WORKER_OK once streaming; logged otherwise). */
int repl_start(ReplClient *r, bool binary);

/* What a failed START_REPLICATION's SQLSTATE means: WORKER_SLOT_LOST or WORKER_RETRY. */
int repl_classify_start_error(const char *sqlstate);

ReplEvent repl_receive(ReplClient *r, PgoFrame *f);

/* Wait up to `secs` for the socket; false (logged) if the connection failed. */
bool repl_wait(ReplClient *r, double secs);

/* Send a standby status update: `applied` flushed and applied; received as written. */
bool repl_send_status(ReplClient *r, uint64_t applied, bool reply_requested);

/* Is a status update due (status_interval passed since the last)? */
bool repl_status_due(const ReplClient *r, double now);

/* A server setting such as wal_sender_timeout ("60s", "500ms", "1min", "0") in seconds. */
double repl_parse_interval(const char *v);

#endif
