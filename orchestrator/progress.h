/*
 * progress — worker-to-supervisor progress messages, and the supervisor's display.
 *
 * Workers write fixed-size ProgressMsg records to a pipe shared by all of them; each write
 * is smaller than PIPE_BUF, so records never interleave. The supervisor aggregates them per
 * table. On a terminal it redraws one line per active table (rows, %, rows/s, ETA) at most
 * twice a second, moving log lines above it; otherwise it logs one line per finished
 * partition.
 */
#ifndef PGCH_PROGRESS_H
#define PGCH_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a record says; each kind has its own member of ProgressMsg.u. */
typedef enum ProgressKind {
	PROG_PART_ROWS = 1, /* snapshot: running totals of a partition (u.part) */
	PROG_PART_DONE,     /* snapshot: final totals of a partition (u.part) */
	PROG_PART_UNREP,    /* snapshot: a column's unrepresentable values, final count (u.unrep) */
	PROG_STREAM_ROWS,   /* stream: rows applied so far and the confirmed LSN (u.stream) */
	PROG_STREAM_UNREP,  /* stream: a table's unrepresentable values since the last record (u.unrep) */
	PROG_STREAM_RESYNC, /* stream: a table's changes cannot be applied: it needs a new copy (u.table) */
	PROG_STREAM_TRUNCATE, /* stream: a table was truncated by the transaction at u.table.lsn */
	PROG_STREAM_TABLE,  /* stream: a table's counts since its last record, for metrics (u.counts) */
	PROG_STREAM_FLUSH,  /* stream: every pending change is in ClickHouse (u.flush) */
	PROG_STREAM_PENDING, /* stream: the first change since the last flush was batched (u.flush) */
	PROG_STREAM_ENDPOINT, /* stream: it writes to destination.url's endpoint u.table.index now */
} ProgressKind;

/* The counts of a PROG_STREAM_TABLE record: changes applied by kind, rows and bytes written,
 * failed INSERT attempts by reason. */
enum {
	PROG_N_INSERT,
	PROG_N_UPDATE,
	PROG_N_DELETE,
	PROG_N_TRUNCATE,
	PROG_N_ROWS,
	PROG_N_BYTES,
	PROG_N_RETRY_UNREACHABLE, /* ClickHouse did not answer */
	PROG_N_RETRY_REJECTED,    /* ClickHouse answered with an error */
	PROG_N_COUNTS
};

typedef struct ProgressMsg {
	int32_t kind; /* ProgressKind */
	int32_t pad;
	union {
		struct {
			int32_t index; /* partition index in the plan */
			int32_t pad;
			int64_t rows;
			int64_t bytes;
		} part;
		struct {
			int32_t index;  /* PROG_PART_UNREP: partition index; PROG_STREAM_UNREP: table index */
			int32_t column; /* column index in its table (-1: any) */
			int64_t count;
		} unrep;
		struct {
			int64_t rows_applied;
			uint64_t confirmed_lsn;
		} stream;
		struct {
			int32_t index; /* table index in the catalog */
			int32_t pad;
			uint64_t lsn;
		} table;
		struct {
			int32_t index; /* table index in the catalog */
			int32_t pad;
			int64_t n[PROG_N_COUNTS];
		} counts;
		struct {
			int64_t duration_us;  /* PROG_STREAM_FLUSH: how long the flush took, retries included */
			int64_t commit_unix_us; /* PROG_STREAM_PENDING: commit time of the first change waiting */
		} flush;
	} u;
} ProgressMsg;

/* Write one record (best effort: progress is advisory; fd < 0: none). */
void progress_send(int fd, const ProgressMsg *m);
void progress_send_part(int fd, ProgressKind kind, int part, int64_t rows, int64_t bytes);
void progress_send_unrep(int fd, ProgressKind kind, int index, int column, int64_t count);
void progress_send_stream(int fd, int64_t rows_applied, uint64_t confirmed_lsn);
void progress_send_table(int fd, ProgressKind kind, int table, uint64_t lsn);
void progress_send_counts(int fd, int table, const int64_t n[PROG_N_COUNTS]);
void progress_send_flush(int fd, ProgressKind kind, int64_t duration_us, int64_t commit_unix_us);

/* Monotonic seconds. */
double progress_now(void);

typedef struct ProgressLine {
	const char *name;
	int64_t rows;      /* copied so far */
	int64_t est_rows;  /* estimate for the whole table */
	int parts_done;
	int parts;
	double started;    /* 0: not started */
	double finished;   /* 0: not finished */
	bool done;
} ProgressLine;

/* The terminal display: enabled only when stderr is a terminal. */
void progress_display_init(bool enabled);
bool progress_display_enabled(void);
/* Redraw (rate-limited unless force). */
void progress_display_draw(const ProgressLine *lines, int n, bool force);
void progress_display_finish(void);

/* "1,234,567" */
void progress_format_count(int64_t v, char *out, size_t outlen);
/* "1.2 MB" */
void progress_format_bytes(uint64_t v, char *out, size_t outlen);

#endif
