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

typedef enum ProgressKind {
	PROG_ROWS = 1, /* running totals of a partition: rows, bytes */
	PROG_UNREP,    /* column `col` had `rows` unrepresentable values (final count) */
	PROG_DONE,     /* final totals of a partition */
	PROG_RESYNC,   /* stream: table `col` cannot be applied and needs a new snapshot */
	PROG_TRUNCATE, /* stream: table `col` was truncated at LSN `bytes` */
} ProgressKind;

typedef struct ProgressMsg {
	int32_t part;
	int32_t kind;
	int32_t col;
	int32_t pad;
	int64_t rows;
	int64_t bytes;
} ProgressMsg;

/* Write one record (best effort: progress is advisory). */
void progress_send(int fd, int part, ProgressKind kind, int col, int64_t rows, int64_t bytes);

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
