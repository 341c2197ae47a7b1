/*
 * rowhook — the row hook `on_row(t, row)` of a config, run on each row of a table that has
 * one, the same way for the snapshot and the stream (ARCHITECTURE.md, "The row hook").
 *
 * The hook is the global function on_row, or a table entry's own on_row = function. A
 * table with a hook travels in PostgreSQL's text form (the snapshot selects format('%s'),
 * the stream asks pgoutput for text), so that rowhook_run sees each value as PostgreSQL
 * prints it and gives back values in the same form, which the usual converters then write
 * (a value the ClickHouse column cannot take follows its on_unrepresentable policy). A
 * table without a hook never reaches this module.
 *
 * In Lua, row is a table keyed by the source's column names (also for a column the table
 * entry renames in ClickHouse: the hook sees source rows): integers and floats as numbers, booleans as
 * booleans, NULL as nil, everything else as its text form; t is { source = "schema.name",
 * target = "..." }. The hook returns the row (changed in place, or a new table) or nil to
 * leave it out. It may not change a key (replica identity) or ORDER BY column: deletes carry
 * the source's values of those. Each call runs under the sandbox's caps with a fresh
 * budget; a failure (a Lua error, a cap, a changed key, a value of another type) is logged
 * once, naming the table and the row's key, and stops the copy or the stream.
 */
#ifndef PGCH_ROWHOOK_H
#define PGCH_ROWHOOK_H

#include <stdbool.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"

typedef enum RowHookResult {
	ROWHOOK_ROW,  /* the row to write: RowHook.vals / lens */
	ROWHOOK_DROP, /* the hook returned nil: leave the row out */
	ROWHOOK_FAIL, /* logged; the worker stops */
} RowHookResult;

typedef struct RowHook {
	bool on;            /* the table has a hook */
	const Config *cfg;
	const Table *t;
	int fn;             /* registry reference of the function; LUA_NOREF: no hook */
	int targ;           /* registry reference of the t argument */
	const char **vals;  /* the result, per column: text form (into out) */
	int *lens;          /* its length, -1 for NULL */
	int *offs;
	Buf out;
	Buf what;           /* "on_row(schema.name), row with key = ...", for messages */
	char defined[96];   /* where the function is defined: "file:line" */
	int ncols;
	/* one call's input and outcome (for the protected call) */
	const char *const *in;
	const int *inlens;
	RowHookResult result;
	char err[512];
} RowHook;

/* Does table t have a row hook? */
bool rowhook_enabled(const Config *cfg, const Table *t);

/* Ready h for table t (no hook: h->on is false, and rowhook_run must not be called). */
void rowhook_init(RowHook *h, const Config *cfg, const Table *t);
void rowhook_free(RowHook *h);

/* Run the hook on one row: in[c], inlens[c] (-1: NULL) in text form, every column of t. */
RowHookResult rowhook_run(RowHook *h, const char *const *in, const int *inlens);

#endif
