/*
 * schema — relation mapping and schema diffs, pure; see schema.h.
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

bool schema_map_relation(const Table *t, const bool *dropped, const PgoMsg *m, int *rel_to_col, int *col_to_rel)
{
	const TableRule *r = t->rule;
	for (int c = 0; c < t->ncols; c++)
		col_to_rel[c] = -1;
	bool complete = true;
	for (int i = 0; i < m->ncols; i++) {
		rel_to_col[i] = -1;
		int found = -1;
		for (int c = 0; c < t->ncols; c++)
			if (strcmp(t->cols[c].name, m->columns[i].name) == 0 && !(dropped && dropped[c]))
				found = c;
		if (found >= 0) {
			if (t->cols[found].type_oid != m->columns[i].type_oid)
				complete = false;
			rel_to_col[i] = found;
			col_to_rel[found] = i;
			continue;
		}
		bool excluded = false;
		for (int k = 0; r && k < r->n_exclude_columns; k++)
			excluded = excluded || strcmp(r->exclude_columns[k], m->columns[i].name) == 0;
		if (!excluded)
			complete = false; /* a column pgch does not know */
	}
	for (int c = 0; c < t->ncols; c++)
		if (col_to_rel[c] < 0 && t->cols[c].generated != 's' && !(dropped && dropped[c]))
			complete = false; /* a known column the message lacks */
	return complete;
}

static void diff_add(SchemaDiff *d, SchemaChangeKind kind, int col, int now)
{
	d->changes = xrealloc(d->changes, sizeof(SchemaChange) * (size_t)(d->n + 1));
	d->changes[d->n++] = (SchemaChange){kind, col, now};
}

/* Same ClickHouse type, same converter: the values already written stay right. */
static bool same_mapping(const Column *a, const Column *b)
{
	return types_same_ch(&a->ch, &b->ch) && a->kind == b->kind && a->binary == b->binary;
}

/* Dropped earlier, or by this diff? */
static bool is_dropped(const SchemaDiff *d, const bool *dropped, int c)
{
	if (dropped && dropped[c])
		return true;
	for (int i = 0; i < d->n; i++)
		if (d->changes[i].kind == SCHEMA_DROP && d->changes[i].col == c)
			return true;
	return false;
}

void schema_diff(const Column *known, int nknown, const bool *dropped, const Column *now, int nnow, SchemaDiff *out)
{
	memset(out, 0, sizeof *out);
	/* known columns: kept, renamed, retyped or dropped */
	for (int c = 0; c < nknown && !out->resync; c++) {
		int cur = -1;
		for (int i = 0; i < nnow; i++)
			if (now[i].attnum == known[c].attnum)
				cur = i;
		if (cur < 0) {
			if (!(dropped && dropped[c]))
				diff_add(out, SCHEMA_DROP, c, -1);
			continue;
		}
		if (!same_mapping(&known[c], &now[cur])) {
			out->resync = "a column changed to a type that maps differently";
			break;
		}
		/* renamed at the source, or its ClickHouse name changed with it (columns = { ... }) */
		bool same = strcmp(known[c].name, now[cur].name) == 0 && strcmp(known[c].ch_name, now[cur].ch_name) == 0;
		diff_add(out, same ? SCHEMA_KEEP : SCHEMA_RENAME, c, cur);
	}
	/* the source's columns pgch does not know */
	for (int i = 0; i < nnow && !out->resync; i++) {
		bool seen = false;
		for (int c = 0; c < nknown && !seen; c++)
			seen = known[c].attnum == now[i].attnum;
		if (seen)
			continue;
		/* a column dropped and added again under the same name: revive the old one */
		int revived = -1;
		for (int c = 0; c < nknown; c++)
			if (is_dropped(out, dropped, c) && strcmp(known[c].ch_name, now[i].ch_name) == 0)
				revived = c;
		if (revived >= 0 && !types_same_ch(&known[revived].ch, &now[i].ch)) {
			out->resync = "a column was dropped and added again with another type";
			break;
		}
		if (revived >= 0)
			diff_add(out, SCHEMA_REVIVE, revived, i);
		else
			diff_add(out, SCHEMA_ADD, -1, i);
	}
}

void schema_diff_free(SchemaDiff *d)
{
	free(d->changes);
	memset(d, 0, sizeof *d);
}

int schema_ch_name_owner(const Table *t, const bool *dropped, const char *ch_name)
{
	for (int c = 0; c < t->ncols; c++)
		if (!(dropped && dropped[c]) && strcmp(t->cols[c].ch_name, ch_name) == 0)
			return c;
	return -1;
}
