/*
 * summary — the end-of-run report; see summary.h.
 */
#include "summary.h"

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "log.h"

void summary_lines(const Plan *plan, int ntables, ProgressLine *lines)
{
	for (int ti = 0; ti < ntables; ti++) {
		ProgressLine *l = &lines[ti];
		l->rows = 0;
		l->parts = l->parts_done = 0;
		for (int i = 0; i < plan->nparts; i++) {
			const Partition *p = &plan->parts[i];
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

void summary_report(const SummaryInput *in, bool json)
{
	int64_t rows = 0;
	uint64_t bytes = 0;
	int remaining = 0;
	const Plan *plan = in->plan;
	for (int i = 0; i < plan->nparts; i++) {
		bool done = plan->parts[i].status == PART_DONE;
		rows += done ? plan->parts[i].rows : 0;
		bytes += done ? plan->parts[i].bytes : 0;
		remaining += !done;
	}
	double secs = in->seconds;
	char r[32], b[32];
	progress_format_count(rows, r, sizeof r);
	progress_format_bytes(bytes, b, sizeof b);
	if (in->complete)
		log_info("snapshot complete: %d table%s, %s rows, %s in %.1f s", in->cat->ntables, in->cat->ntables == 1 ? "" : "s",
			 r, b, secs);
	else if (in->failed && remaining == 0)
		log_info("stopped by the error above");
	else if (in->failed)
		log_info("snapshot stopped by the error above: %d partition%s remain", remaining, remaining == 1 ? "" : "s");
	else if (remaining == 0)
		log_info("snapshot incomplete: every partition is copied, but the changes made during the copy are not all "
			 "applied; run the same command again to continue");
	else
		log_info("snapshot incomplete: %d partition%s remain; run the same command again to continue", remaining,
			 remaining == 1 ? "" : "s");
	if (!json)
		return;
	Buf j;
	buf_init(&j);
	buf_printf(&j, "{\"complete\": %s, \"tables\": %d, \"rows\": %lld, \"bytes\": %llu, \"seconds\": %.3f, "
		       "\"partitions_remaining\": %d, \"per_table\": [",
		   in->complete ? "true" : "false", in->cat->ntables, (long long)rows, (unsigned long long)bytes, secs, remaining);
	for (int ti = 0; ti < in->cat->ntables; ti++) {
		buf_puts(&j, ti ? ", {\"source\": " : "{\"source\": ");
		buf_json_string(&j, in->cat->tables[ti].display);
		buf_puts(&j, ", \"target\": ");
		buf_json_string(&j, in->cat->tables[ti].target);
		buf_printf(&j, ", \"rows\": %lld}", (long long)in->lines[ti].rows);
	}
	buf_puts(&j, "]}\n");
	fwrite(j.data, 1, j.len, stdout);
	fflush(stdout);
	buf_free(&j);
}

