/*
 * ch — ClickHouse over HTTP with libcurl: queries, capability probing, streaming inserts.
 *
 * One ChConn per process (opened after fork) holds a curl easy handle, so keep-alive
 * connections are reused. A query's SQL travels as the POST body; an INSERT's SQL travels
 * in the `query` URL parameter and its data as a chunked POST body produced on demand by
 * a fill callback (optionally zstd-compressed on the fly), so memory stays bounded by one
 * upload buffer whatever the partition size. Settings are sent as URL parameters, and only
 * the ones the probed server has (18.16 rejects unknown settings). A 200 answer means the
 * server stored everything; anything else is an error whose first line is logged once.
 *
 * Several endpoints (destination.url as a list, the nodes of one cluster): requests go to one
 * at a time. A connection error moves to the next one; a query, or an INSERT whose body was
 * not yet read, is sent again there at once, an INSERT that failed half-way is left to the
 * caller's retry (which then goes to the new endpoint). Replays are harmless by the version
 * rules. A node that takes an INSERT's connection and then moves no byte for
 * destination.timeout (hung, stopped with SIGSTOP, cut off) counts as a connection error.
 *
 * ch.c holds queries, probing and quoting; ch_insert.c the streaming INSERTs.
 *
 * Credentials go in HTTP basic auth, never in URLs or log lines.
 */
#ifndef PGCH_CH_H
#define PGCH_CH_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "types.h"

/* A query's time limit in seconds unless ch_limit_queries (inserts have a stall limit instead). */
#define CH_QUERY_LIMIT_LONG 900

typedef struct ChConn {
	void *curl;      /* CURL * */
	void *headers;   /* struct curl_slist * */
	char *url;       /* base URL of the endpoint in use, no trailing slash (one of urls) */
	char *display;   /* the same without user info, for messages (one of displays) */
	char **urls;     /* every endpoint of destination.url, in order */
	char **displays;
	int n_urls;
	int cur;         /* index of the endpoint in use */
	const char *cluster; /* destination.cluster, or NULL */
	int insert_quorum;   /* destination.insert_quorum, 0: not set */
	char *user;
	char *password;
	char *tls_ca, *tls_cert, *tls_key; /* destination.tls files (NULL: libcurl's defaults) */
	bool tls_verify;
	int timeout;
	int query_limit; /* seconds a query may take (ch_open: 900; ch_limit_queries: control work) */
	bool compress;   /* zstd request bodies (chosen after probing) */
	const char *compression; /* the configured choice */
	ChCaps caps;
	bool probed;
	bool quiet;      /* do not log errors (probes that may fail) */
	long last_status;
	char *last_error; /* first line of the last error, for messages */
	int last_code;    /* ClickHouse's error code of the last failed request (0: none, or not ClickHouse's) */
} ChConn;

/* Produce more upload data: append to out, return 1 if more may follow, 0 at the end, -1 on error. */
typedef int (*ChFillFn)(void *ctx, Buf *out);

/* Is a ClickHouse error code one that a later retry may not get: the cluster is busy or
 * partly away (no ZooKeeper, a read-only replica, a quorum not reached, a shard down, a
 * timeout)? Such failures are retried without counting against pipe.max_retries. */
bool ch_error_transient(int code);

/* The error code of a ClickHouse error answer ("Code: 60. DB::Exception: ..."), 0 if none. */
int ch_error_code(const char *answer);

/* A table's column names, one per line (TabSeparated), into out (empty: no such table);
 * false (logged) if the query failed. */
bool ch_columns(ChConn *ch, const char *database, const char *table, Buf *out);

/* The user's readonly and allow_ddl settings (every server version has both); false (logged
 * unless quiet) if they cannot be read. */
bool ch_user_limits(ChConn *ch, int *readonly, int *allow_ddl);

bool ch_open(ChConn *ch, const DestConfig *cfg);
/* The endpoint in use, without user info (for status and messages). */
const char *ch_endpoint(const ChConn *ch);
void ch_close(ChConn *ch);

/* Run one statement; the answer body (if out) is appended to out. */
bool ch_query(ChConn *ch, const char *sql, Buf *out);
/* Run one statement with extra URL-encoded settings ("a=1&b=2"). */
bool ch_query_with(ChConn *ch, const char *sql, const char *settings, Buf *out);

/* Consume an answer as it arrives: called with each piece (any size); return false to abort. */
typedef bool (*ChSinkFn)(void *ctx, const char *data, size_t len);
/* Run a query whose answer may be large (a whole table): pieces go to sink, nothing is kept.
 * No overall time limit. false (logged) if the query failed or the sink aborted it. */
bool ch_query_stream(ChConn *ch, const char *sql, ChSinkFn sink, void *ctx);

/* Probe capabilities into ch->caps (and decide compression). */
bool ch_probe(ChConn *ch);

/*
 * Stream an INSERT: `insert_sql` is "INSERT INTO db.t (cols) FORMAT RowBinary"; fill is
 * called until it returns 0. bytes_out gets the uncompressed bytes sent.
 */
bool ch_insert(ChConn *ch, const char *insert_sql, const char *settings, ChFillFn fill, void *ctx,
	       uint64_t *bytes_out);

/* URL settings for inserts, only those the server has: async_insert=0 (a 200 means
 * stored), insert_deduplicate=0 (versions make replays harmless; dedup would drop a
 * deliberately re-sent block), and no partitions-per-block limit for partitioned tables. */
void ch_insert_settings(const ChConn *ch, bool partitioned, char *out, size_t outlen);
/* How long an INSERT may move no byte before the node is given up (and the next endpoint
 * used): destination.timeout, twice that with insert_quorum (the server is told to stop
 * waiting for its quorum after destination.timeout, so it answers first). */
int ch_insert_stall_seconds(const ChConn *ch);

/* For control work (state rows, DDL, status; not verify's long reads): a node that takes a
 * query and does not answer within 3 × destination.timeout (at least 30 s; ON CLUSTER DDL
 * is answered within destination.timeout where the server has distributed_ddl_task_timeout)
 * is given up for the next endpoint, rather than after 15 minutes. Call before ch_probe
 * (its queries too) and again after it (the DDL rule needs the server's settings). */
void ch_limit_queries(ChConn *ch);

/* Quote an identifier with backticks (db, table, column names). */
void ch_quote_ident(Buf *out, const char *name);
/* Quote a string literal with single quotes. */
void ch_quote_string(Buf *out, const char *s);

/*
 * TabSeparated answers: iterate lines and fields, unescaping \t \n \\ etc. in place.
 * ch_tsv_next_line returns false at the end; fields are NUL-terminated pointers into buf.
 */
typedef struct ChTsv {
	char *p;
	char *end;
} ChTsv;
void ch_tsv_init(ChTsv *t, Buf *b);
int ch_tsv_next_line(ChTsv *t, char **fields, int max_fields);

#endif
