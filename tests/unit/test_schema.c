/*
 * Unit tests of the stream's pure parts: relation mapping and schema diffs (schema.c), and
 * the replication client's classification of START_REPLICATION failures by SQLSTATE and
 * its reading of interval settings (repl.c).
 */
#include <stdlib.h>
#include <string.h>

#include "exitcode.h"
#include "repl.h"
#include "schema.h"
#include "tap.h"

static ChCaps caps;

static Column col(const char *name, int attnum, uint32_t oid, const char *ch_type, PgKind kind)
{
	Column c;
	memset(&c, 0, sizeof c);
	c.name = (char *)name;
	c.ch_name = (char *)name;
	c.attnum = attnum;
	c.type_oid = oid;
	c.kind = kind;
	c.binary = true;
	char err[128];
	if (!types_parse(ch_type, &caps, &c.ch, err, sizeof err))
		fprintf(stderr, "# %s: %s\n", ch_type, err);
	return c;
}

static const char *kind_name(SchemaChangeKind k)
{
	static const char *const names[] = {"keep", "rename", "drop", "revive", "add"};
	return names[k];
}

/* The diff as text: "keep 0>0, rename 1>1, add -1>2" — easy to compare. */
static char *diff_text(const Column *known, int nknown, const bool *dropped, const Column *now, int nnow)
{
	SchemaDiff d;
	schema_diff(known, nknown, dropped, now, nnow, &d);
	Buf b;
	buf_init(&b);
	for (int i = 0; i < d.n; i++)
		buf_printf(&b, "%s%s %d>%d", i ? ", " : "", kind_name(d.changes[i].kind), d.changes[i].col, d.changes[i].now);
	if (d.resync)
		buf_printf(&b, "%sresync: %s", d.n ? "; " : "", d.resync);
	schema_diff_free(&d);
	return buf_steal(&b);
}

static void test_diff(void)
{
	Column known[3] = {col("id", 1, 23, "Int32", PG_INT4), col("name", 2, 25, "String", PG_TEXT),
			   col("qty", 3, 20, "Int64", PG_INT8)};
	char *t;

	Column same[3] = {known[0], known[1], known[2]};
	is_str(t = diff_text(known, 3, NULL, same, 3), "keep 0>0, keep 1>1, keep 2>2", "nothing changed: every column kept");
	free(t);

	Column renamed[3] = {known[0], col("title", 2, 25, "String", PG_TEXT), known[2]};
	is_str(t = diff_text(known, 3, NULL, renamed, 3), "keep 0>0, rename 1>1, keep 2>2", "a rename is found by attnum");
	free(t);

	Column dropped[2] = {known[0], known[2]};
	is_str(t = diff_text(known, 3, NULL, dropped, 2), "keep 0>0, drop 1>-1, keep 2>1", "a dropped column is a drop");
	free(t);

	bool was_dropped[3] = {false, true, false};
	is_str(t = diff_text(known, 3, was_dropped, dropped, 2), "keep 0>0, keep 2>1", "a column dropped earlier is not dropped again");
	free(t);

	Column added[4] = {known[0], known[1], known[2], col("note", 4, 25, "String", PG_TEXT)};
	is_str(t = diff_text(known, 3, NULL, added, 4), "keep 0>0, keep 1>1, keep 2>2, add -1>3", "a new column is added, last");
	free(t);

	Column readded[3] = {known[0], known[2], col("name", 5, 25, "String", PG_TEXT)};
	is_str(t = diff_text(known, 3, was_dropped, readded, 3), "keep 0>0, keep 2>1, revive 1>2",
	       "a column dropped and added again under its name is revived");
	free(t);
	is_str(t = diff_text(known, 3, NULL, readded, 3), "keep 0>0, drop 1>-1, keep 2>1, revive 1>2",
	       "also when both happened since the last look");
	free(t);

	Column readded_other[3] = {known[0], known[2], col("name", 5, 20, "Int64", PG_INT8)};
	t = diff_text(known, 3, was_dropped, readded_other, 3);
	ok(strstr(t, "resync: a column was dropped and added again with another type") != NULL,
	   "added again with another type: copy again (%s)", t);
	free(t);

	Column retyped[3] = {known[0], known[1], col("qty", 3, 1700, "String", PG_NUMERIC)};
	t = diff_text(known, 3, NULL, retyped, 3);
	ok(strstr(t, "resync: a column changed to a type that maps differently") != NULL,
	   "a type that maps to another ClickHouse type: copy again (%s)", t);
	free(t);

	Column widened[3] = {known[0], col("name", 2, 1043, "String", PG_TEXT), known[2]};
	is_str(t = diff_text(known, 3, NULL, widened, 3), "keep 0>0, keep 1>1, keep 2>2",
	       "text to varchar maps to the same type: kept (its OID refreshed)");
	free(t);
}

static void test_map_relation(void)
{
	Column cols[3] = {col("id", 1, 23, "Int32", PG_INT4), col("name", 2, 25, "String", PG_TEXT),
			  col("total", 3, 20, "Int64", PG_INT8)};
	cols[2].generated = 's';
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = cols;
	t.ncols = 3;
	char *excl[] = {"secret"};
	TableRule rule;
	memset(&rule, 0, sizeof rule);
	rule.exclude_columns = excl;
	rule.n_exclude_columns = 1;
	t.rule = &rule;

	PgoRelColumn rel[3] = {{true, "id", 23, -1}, {false, "secret", 25, -1}, {false, "name", 25, -1}};
	PgoMsg m;
	memset(&m, 0, sizeof m);
	m.columns = rel;
	m.ncols = 3;
	int r2c[3], c2r[3];
	ok(schema_map_relation(&t, NULL, &m, r2c, c2r), "excluded and stored generated columns are accounted for");
	ok(r2c[0] == 0 && r2c[1] == -1 && r2c[2] == 1 && c2r[0] == 0 && c2r[1] == 2 && c2r[2] == -1,
	   "columns are mapped by name both ways");

	rel[2].type_oid = 1043;
	ok(!schema_map_relation(&t, NULL, &m, r2c, c2r), "another type OID is a change");
	rel[2].type_oid = 25;
	rel[1].name = "extra";
	ok(!schema_map_relation(&t, NULL, &m, r2c, c2r), "a column pgch does not know is a change");
	rel[1].name = "secret";
	m.ncols = 2;
	ok(!schema_map_relation(&t, NULL, &m, r2c, c2r), "a known column the message lacks is a change");
	bool dropped[3] = {false, true, false};
	ok(schema_map_relation(&t, dropped, &m, r2c, c2r), "unless it was dropped at the source");
}

static void test_repl(void)
{
	is_int(repl_classify_start_error("42704"), WORKER_SLOT_LOST, "undefined_object: the slot is gone");
	is_int(repl_classify_start_error("55000"), WORKER_SLOT_LOST, "object_not_in_prerequisite_state: invalidated");
	is_int(repl_classify_start_error("58P01"), WORKER_SLOT_LOST, "undefined_file: its WAL was removed");
	is_int(repl_classify_start_error("55006"), WORKER_RETRY, "object_in_use: another process has it, retry");
	is_int(repl_classify_start_error(""), WORKER_RETRY, "no SQLSTATE (connection trouble): retry");
	ok(repl_parse_interval("60s") == 60 && repl_parse_interval("500ms") == 0.5 && repl_parse_interval("2min") == 120 &&
	       repl_parse_interval("1h") == 3600 && repl_parse_interval("0") == 0 && repl_parse_interval("1500") == 1.5,
	   "wal_sender_timeout's forms read in seconds");
}

int main(void)
{
	types_caps_modern(&caps);
	test_diff();
	test_map_relation();
	test_repl();
	return done_testing();
}
