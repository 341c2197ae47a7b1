/*
 * summary — what pgch snapshot (and a pgch run stopped before its copy ended) says at the
 * end: one log line (complete, stopped by an error, or incomplete with how to continue) and,
 * with --json, one JSON object on stdout:
 *
 *   {"complete": bool, "tables": N, "rows": N, "bytes": N, "seconds": S,
 *    "partitions_remaining": N, "per_table": [{"source", "target", "rows"}, ...]}
 *
 * and, while the run goes, the per-table lines the progress display draws (progress.h).
 */
#ifndef PGCH_SUMMARY_H
#define PGCH_SUMMARY_H

#include <stdbool.h>

#include "catalog.h"
#include "plan.h"
#include "progress.h"

typedef struct SummaryInput {
	const Catalog *cat;
	const Plan *plan;
	const ProgressLine *lines;  /* per table: rows copied */
	double seconds;             /* since the run started */
	bool complete;              /* copied and caught up */
	bool failed;                /* stopped by an error (logged) */
} SummaryInput;

void summary_report(const SummaryInput *in, bool json);

/* The per-table lines of the progress display (rows, partitions done) from the plan. */
void summary_lines(const Plan *plan, int ntables, ProgressLine *lines);

#endif
