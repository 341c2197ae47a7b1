/*
 * pgoutput — decode the messages of PostgreSQL's built-in logical decoding plugin
 * (protocol version 1), and the replication stream's framing around them.
 *
 * Everything is decoded in place: strings and column values point into the message buffer,
 * which the caller keeps alive while it uses the result. Every length and count is checked
 * against the buffer; a malformed message is an error with a reason, never a read past the
 * end. Reference: PostgreSQL docs, "Logical Replication Message Formats" and "Streaming
 * Replication Protocol" (XLogData 'w', primary keepalive 'k', standby status update 'r').
 */
#ifndef PGCH_PGOUTPUT_H
#define PGCH_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PGO_MAX_COLUMNS 1664 /* PostgreSQL's MaxTupleAttributeNumber */

/* One column value of a TupleData: kind 'n' null, 'u' unchanged TOAST, 't' text, 'b' binary. */
typedef struct PgoValue {
	char kind;
	int32_t len;
	const char *data;
} PgoValue;

typedef struct PgoTuple {
	int ncols;
	PgoValue *cols; /* points at decoder-owned storage */
} PgoTuple;

typedef struct PgoRelColumn {
	bool key;       /* part of the replica identity */
	const char *name;
	uint32_t type_oid;
	int32_t typmod;
} PgoRelColumn;

typedef struct PgoMsg {
	char type; /* 'B','C','O','R','Y','I','U','D','T','M' */
	/* Begin */
	uint64_t final_lsn;
	int64_t commit_time;
	uint32_t xid;
	/* Commit */
	uint8_t flags;
	uint64_t commit_lsn;
	uint64_t end_lsn;
	/* Relation, Type, Insert, Update, Delete */
	uint32_t relid;
	const char *nspname;
	const char *relname;
	char replident;
	int ncols;
	PgoRelColumn *columns; /* Relation */
	const char *type_name; /* Type */
	char old_kind;         /* Update/Delete: 'K' key, 'O' old row, 0 none */
	PgoTuple old_tuple;
	PgoTuple new_tuple;
	/* Truncate */
	int nrelids;
	const char *relids; /* nrelids big-endian uint32s */
	uint8_t truncate_options;
	/* Origin, Message */
	const char *origin;
	bool transactional;
	uint64_t message_lsn;
	const char *prefix;
	int32_t content_len;
	const char *content;
} PgoMsg;

typedef struct PgoDecoder {
	PgoValue old_cols[PGO_MAX_COLUMNS];
	PgoValue new_cols[PGO_MAX_COLUMNS];
	PgoRelColumn rel_cols[PGO_MAX_COLUMNS];
} PgoDecoder;

/* Decode one pgoutput message. */
bool pgo_decode(PgoDecoder *d, const char *buf, size_t len, PgoMsg *m, char *err, size_t errlen);

/* Truncate: the i-th relation id. */
uint32_t pgo_truncate_relid(const PgoMsg *m, int i);

/* Replication framing: the header of an XLogData ('w') or keepalive ('k') CopyData. */
typedef struct PgoFrame {
	char type;
	uint64_t wal_start; /* 'w' */
	uint64_t wal_end;
	int64_t send_time;
	bool reply_requested; /* 'k' */
	const char *payload;  /* 'w' */
	size_t payload_len;
} PgoFrame;

bool pgo_frame(const char *buf, size_t len, PgoFrame *f, char *err, size_t errlen);

/* Build a standby status update ('r', 34 bytes) into out. */
void pgo_status_update(char out[34], uint64_t written, uint64_t flushed, uint64_t applied, int64_t now_pg_us,
		       bool reply_requested);

/* Microseconds since 2000-01-01 (the protocol's clock). */
int64_t pgo_now(void);

#endif
