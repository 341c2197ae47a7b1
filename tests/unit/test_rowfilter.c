/*
 * test_rowfilter — the pure decisions of rowfilter.c: which servers take a row filter,
 * which filter columns fall outside the replica identity, the SQL a filter adds.
 */
#include <stdlib.h>
#include <string.h>

#include "rowfilter.h"
#include "tap.h"

int main(void)
{
	TableRule rule;
	memset(&rule, 0, sizeof rule);
	rule.where = "status <> 'draft'";
	Table t;
	memset(&t, 0, sizeof t);
	t.display = "public.orders";
	t.rule = &rule;
	char why[512] = "";

	/* the version: 14 refuses with the reason, 15 and later take it */
	ok(rowfilter_refuse_version(&t, 140011, why, sizeof why), "a filter on PostgreSQL 14.11 is refused");
	is_str(why,
	       "public.orders: where needs PostgreSQL 15 or newer, whose publications filter rows (the source is 14.11): "
	       "the stream would carry every row. Fix: leave where out, or upgrade the source",
	       "the refusal names the table, the version and the fix");
	why[0] = '\0';
	ok(!rowfilter_refuse_version(&t, 150000, why, sizeof why) && why[0] == '\0', "a filter on PostgreSQL 15.0 is taken");
	ok(!rowfilter_refuse_version(&t, 170002, why, sizeof why), "a filter on PostgreSQL 17 is taken");
	rule.where = NULL;
	ok(!rowfilter_refuse_version(&t, 130000, why, sizeof why), "no filter: nothing to refuse on PostgreSQL 13");
	ok(!rowfilter_version_ok(149999) && rowfilter_version_ok(150000), "the boundary is 150000");

	/* the column list: only with exclude_columns, only on 15+ */
	ok(!rowfilter_has_column_list(&t, 160000), "no exclude_columns: no column list");
	char *ex[1] = {"secret"};
	rule.exclude_columns = ex;
	rule.n_exclude_columns = 1;
	ok(rowfilter_has_column_list(&t, 150000), "exclude_columns on 15: a column list");
	ok(!rowfilter_has_column_list(&t, 140000), "exclude_columns on 14: none (the values are dropped by pgch)");

	/* filter columns against the replica identity */
	int ident[2] = {1, 3}, inside[2] = {3, 1}, outside[3] = {1, 2, 3};
	is_int(rowfilter_outside_identity('d', inside, 2, ident, 2), 0, "key columns only: allowed");
	is_int(rowfilter_outside_identity('d', outside, 3, ident, 2), 2, "a non-key column: named (attnum 2)");
	is_int(rowfilter_outside_identity('i', outside, 3, ident, 2), 2, "the same with an identity index");
	is_int(rowfilter_outside_identity('f', outside, 3, ident, 2), 0, "REPLICA IDENTITY FULL: any column");
	is_int(rowfilter_outside_identity('d', NULL, 0, ident, 2), 0, "a filter over no column (true)");

	/* the SQL */
	rule.where = "id % 2 = 0";
	Buf b;
	buf_init(&b);
	rowfilter_sql(&t, false, &b);
	is_str(b.data, " WHERE (id % 2 = 0)", "the filter alone");
	buf_reset(&b);
	buf_puts(&b, " WHERE ctid < '(5,0)'");
	rowfilter_sql(&t, true, &b);
	is_str(b.data, " WHERE ctid < '(5,0)' AND (id % 2 = 0)", "after a ctid range");
	buf_reset(&b);
	t.rule = NULL;
	rowfilter_sql(&t, false, &b);
	is_str(b.data, "", "no rule: nothing");
	buf_free(&b);
	return done_testing();
}
