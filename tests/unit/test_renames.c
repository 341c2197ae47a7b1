/*
 * Unit tests of column renames (a table entry's columns = { source_name = "clickhouse_name" }):
 * the names a rule gives (config_table.c), the checks of ClickHouse names (catalog_columns.c),
 * the DDL and INSERT that name ClickHouse columns (plan.c, catalog_columns.c), and schema
 * diffs that follow a renamed column (schema.c).
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "schema.h"
#include "tap.h"

static ChCaps caps;

static Column col(const char *name, const char *ch_name, int attnum, const char *ch_type, PgKind kind)
{
	Column c;
	memset(&c, 0, sizeof c);
	c.name = (char *)name;
	c.ch_name = (char *)ch_name;
	c.attnum = attnum;
	c.type_oid = kind == PG_TEXT ? 25 : 23;
	c.kind = kind;
	c.binary = true;
	c.notnull = true;
	char err[128];
	if (!types_parse(ch_type, &caps, &c.ch, err, sizeof err))
		fprintf(stderr, "# %s: %s\n", ch_type, err);
	return c;
}

static void setup_config(Config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->path = "t.lua";
	cfg->dest.database = "app";
	cfg->dest.version_column = "_pgch_version";
	cfg->dest.deleted_column = "_pgch_is_deleted";
	cfg->dest.synced_column = "_pgch_synced_at";
}

static void test_rule_names(void)
{
	KeyVal kv[2] = {{"billing_city", "city"}, {"zip", "zip"}};
	TableRule r;
	memset(&r, 0, sizeof r);
	r.renames = kv;
	r.n_renames = 2;
	is_str(config_ch_name(&r, "billing_city"), "city", "a renamed column has its ClickHouse name");
	is_str(config_ch_name(&r, "id"), "id", "a column not renamed keeps its name");
	is_str(config_ch_name(NULL, "id"), "id", "without a rule: its name");
	is_str(config_renamed_from(&r, "city"), "billing_city", "the source column behind a ClickHouse name");
	ok(config_renamed_from(&r, "zip") == NULL, "a column 'renamed' to its own name is not a rename");
	ok(config_renamed_from(&r, "id") == NULL, "a name no rename gives");
}

static void test_check_names(void)
{
	Config cfg;
	setup_config(&cfg);
	Table t;
	memset(&t, 0, sizeof t);
	t.display = "public.customers";
	Column ok_cols[3] = {col("id", "id", 1, "Int32", PG_INT4), col("billing_city", "city", 2, "String", PG_TEXT),
			     col("city", "old_city", 3, "String", PG_TEXT)};
	ok(catalog_check_ch_names(&cfg, &t, ok_cols, 3), "renames that leave every ClickHouse name unique are fine");
	Column swap[2] = {col("a", "b", 1, "Int32", PG_INT4), col("b", "a", 2, "Int32", PG_INT4)};
	ok(catalog_check_ch_names(&cfg, &t, swap, 2), "two columns may swap names");
	Column clash[3] = {col("id", "id", 1, "Int32", PG_INT4), col("billing_city", "city", 2, "String", PG_TEXT),
			   col("city", "city", 3, "String", PG_TEXT)};
	ok(!catalog_check_ch_names(&cfg, &t, clash, 3), "a rename to another column's name is refused");
	Column two[2] = {col("a", "x", 1, "Int32", PG_INT4), col("b", "x", 2, "Int32", PG_INT4)};
	ok(!catalog_check_ch_names(&cfg, &t, two, 2), "two columns renamed to one name are refused");
	Column mine[2] = {col("id", "id", 1, "Int32", PG_INT4), col("v", "_pgch_version", 2, "Int32", PG_INT4)};
	ok(!catalog_check_ch_names(&cfg, &t, mine, 2), "a rename to pgch's version column is refused");
	cfg.dest.synced_column = "synced";
	Column mine2[2] = {col("id", "id", 1, "Int32", PG_INT4), col("s", "synced", 2, "Int32", PG_INT4)};
	ok(!catalog_check_ch_names(&cfg, &t, mine2, 2), "... and to a configured synced_at name");
	Column own[2] = {col("id", "id", 1, "Int32", PG_INT4), col("_pgch_version", "ver", 2, "Int32", PG_INT4)};
	cfg.dest.synced_column = "_pgch_synced_at";
	ok(catalog_check_ch_names(&cfg, &t, own, 2), "a source column named like pgch's own may be renamed out of the way");
}

static void test_ddl(void)
{
	Config cfg;
	setup_config(&cfg);
	Column cols[3] = {col("cust_id", "customer_id", 1, "Int32", PG_INT4), col("region", "region", 2, "String", PG_TEXT),
			  col("billing_city", "city", 3, "String", PG_TEXT)};
	int order[2] = {1, 0}, key[1] = {0};
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = cols;
	t.ncols = 3;
	t.order = order;
	t.norder = 2;
	t.key = key;
	t.nkey = 1;
	t.target = "customers";
	t.partition_by = "intDiv(customer_id, 100)";
	Buf b;
	buf_init(&b);
	plan_create_table(&t, &cfg, &caps, &b);
	ok(strstr(b.data, "`customer_id` Int32,\n    `region` String,\n    `city` String,\n") != NULL,
	   "CREATE TABLE names the ClickHouse names");
	ok(strstr(b.data, "cust_id") == NULL && strstr(b.data, "billing_city") == NULL, "and no source name of a renamed column");
	ok(strstr(b.data, "ORDER BY (`region`, `customer_id`)") != NULL, "ORDER BY uses the ClickHouse names");
	ok(strstr(b.data, "PARTITION BY intDiv(customer_id, 100)") != NULL, "PARTITION BY is written as given");
	char *ins = plan_insert_sql(&t, &cfg, "RowBinary");
	is_str(ins, "INSERT INTO `app`.`customers` (`customer_id`, `region`, `city`, `_pgch_version`, `_pgch_is_deleted`) FORMAT RowBinary",
	       "INSERT names the ClickHouse names");
	free(ins);
	buf_reset(&b);
	plan_add_column_sql(&t, &cfg, &caps, &cols[2], NULL, &b);
	is_str(b.data, "ALTER TABLE `app`.`customers` ADD COLUMN `city` String", "ADD COLUMN uses the ClickHouse name");
	buf_reset(&b);
	plan_sharding_key(&t, &cfg, &b);
	is_str(b.data, "cityHash64(`region`, `customer_id`)", "the default sharding key uses the ClickHouse names");
	buf_free(&b);
}

static char *diff_text(const Column *known, int nknown, const bool *dropped, const Column *now, int nnow)
{
	static const char *const names[] = {"keep", "rename", "drop", "revive", "add"};
	SchemaDiff d;
	schema_diff(known, nknown, dropped, now, nnow, &d);
	Buf b;
	buf_init(&b);
	for (int i = 0; i < d.n; i++)
		buf_printf(&b, "%s%s %d>%d", i ? ", " : "", names[d.changes[i].kind], d.changes[i].col, d.changes[i].now);
	schema_diff_free(&d);
	return buf_steal(&b);
}

static void test_diff(void)
{
	Column known[2] = {col("id", "id", 1, "Int32", PG_INT4), col("billing_city", "city", 2, "String", PG_TEXT)};
	char *s;
	Column same[2] = {known[0], known[1]};
	is_str(s = diff_text(known, 2, NULL, same, 2), "keep 0>0, keep 1>1", "a renamed column unchanged is kept");
	free(s);
	Column src_renamed[2] = {known[0], col("bcity", "bcity", 2, "String", PG_TEXT)};
	is_str(s = diff_text(known, 2, NULL, src_renamed, 2), "keep 0>0, rename 1>1",
	       "renamed at the source (the config's rename no longer applies): a rename");
	free(s);
	Column ch_only[2] = {known[0], col("billing_city", "town", 2, "String", PG_TEXT)};
	is_str(s = diff_text(known, 2, NULL, ch_only, 2), "keep 0>0, rename 1>1", "only its ClickHouse name changed: a rename");
	free(s);
	bool was_dropped[2] = {false, true};
	Column readded[2] = {known[0], col("billing_city", "city", 3, "String", PG_TEXT)};
	is_str(s = diff_text(known, 2, was_dropped, readded, 2), "keep 0>0, revive 1>1",
	       "dropped and added again with the same ClickHouse name: revived");
	free(s);
	Column added[3] = {known[0], known[1], col("billing_zip", "zip", 3, "String", PG_TEXT)};
	is_str(s = diff_text(known, 2, NULL, added, 3), "keep 0>0, keep 1>1, add -1>2", "a new renamed column is added");
	free(s);
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = known;
	t.ncols = 2;
	is_int(schema_ch_name_owner(&t, NULL, "city"), 1, "a new column named city in ClickHouse: billing_city has that name");
	is_int(schema_ch_name_owner(&t, NULL, "billing_city"), -1, "the source name of a renamed column is free in ClickHouse");
	is_int(schema_ch_name_owner(&t, was_dropped, "city"), -1, "a dropped column's name is its revival's, not a clash");
}

int main(void)
{
	types_caps_modern(&caps);
	test_rule_names();
	test_check_names();
	test_ddl();
	test_diff();
	return done_testing();
}
