/*
 * Unit tests of the cluster DDL: plan.c's statements with and without destination.cluster,
 * on one shard and on several (local tables under a Distributed one), the probed settings of
 * inserts (insert_distributed_sync, insert_quorum) in ch_insert_settings, and cluster.c's
 * pure parts: sharding-key checks, macros of a path, their expansion with a node's macros.
 */
#include <stdlib.h>
#include <string.h>

#include "ch.h"
#include "cluster.h"
#include "plan.h"
#include "tap.h"

static Column col(const char *name, ChKind kind)
{
	Column c;
	memset(&c, 0, sizeof c);
	c.name = (char *)name;
	c.ch_name = (char *)name;
	c.ch.kind = kind;
	return c;
}

static char *sql_of(void (*fill)(const Table *, const Config *, const ChCaps *, Buf *), const Table *t,
		    const Config *cfg, const ChCaps *caps)
{
	Buf b;
	buf_init(&b);
	fill(t, cfg, caps, &b);
	return buf_steal(&b);
}

int main(void)
{
	Column cols[3] = {col("id", CH_INT64), col("region", CH_STRING), col("qty", CH_INT32)};
	int order[2] = {0, 1};
	Table t;
	memset(&t, 0, sizeof t);
	t.cols = cols;
	t.ncols = 3;
	t.order = order;
	t.norder = 2;
	t.target = "orders";
	Config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.dest.database = "app";
	cfg.dest.version_column = "_pgch_version";
	cfg.dest.deleted_column = "_pgch_is_deleted";
	cfg.dest.synced_column = "_pgch_synced_at";
	ChCaps one;
	memset(&one, 0, sizeof one);

	/* --- no cluster: as before */
	Buf b;
	buf_init(&b);
	plan_create_table(&t, &cfg, &one, &b);
	ok(strstr(b.data, "CREATE TABLE IF NOT EXISTS `app`.`orders`\n(") != NULL, "no cluster: CREATE TABLE without ON CLUSTER");
	ok(strstr(b.data, "ENGINE = ReplacingMergeTree(`_pgch_version`)") != NULL, "no cluster: ReplacingMergeTree");
	ok(strstr(b.data, PLAN_NEXT_STATEMENT) == NULL, "no cluster: one statement");
	char *s = sql_of(plan_truncate_sql, &t, &cfg, &one);
	is_str(s, "TRUNCATE TABLE `app`.`orders`", "no cluster: TRUNCATE");
	free(s);
	buf_reset(&b);
	plan_create_database(&cfg, &b);
	is_str(b.data, "CREATE DATABASE IF NOT EXISTS `app`", "no cluster: CREATE DATABASE");

	/* --- one shard, two replicas */
	cfg.dest.cluster = "c1";
	cfg.dest.replica_path = "/clickhouse/tables/{shard}/{database}/{table}";
	cfg.dest.replica_name = "{replica}";
	ChCaps rep = one;
	rep.cluster_shards = 1;
	rep.cluster_replicas = 2;
	buf_reset(&b);
	plan_create_database(&cfg, &b);
	is_str(b.data, "CREATE DATABASE IF NOT EXISTS `app` ON CLUSTER `c1`", "cluster: CREATE DATABASE ON CLUSTER");
	buf_reset(&b);
	plan_create_table(&t, &cfg, &rep, &b);
	ok(strstr(b.data, "CREATE TABLE IF NOT EXISTS `app`.`orders` ON CLUSTER `c1`\n(") != NULL, "1 shard: CREATE TABLE ON CLUSTER");
	ok(strstr(b.data, "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', "
			  "'{replica}', `_pgch_version`)") != NULL,
	   "1 shard: Replicated engine with the path and replica name");
	ok(strstr(b.data, "Distributed") == NULL, "1 shard: no Distributed table");
	rep.has_replacing_is_deleted = true;
	buf_reset(&b);
	plan_create_table(&t, &cfg, &rep, &b);
	ok(strstr(b.data, "'{replica}', `_pgch_version`, `_pgch_is_deleted`)") != NULL, "1 shard, 23.2+: is_deleted in the engine");
	rep.has_replacing_is_deleted = false;
	s = sql_of(plan_truncate_sql, &t, &cfg, &rep);
	is_str(s, "TRUNCATE TABLE `app`.`orders` ON CLUSTER `c1`", "1 shard: TRUNCATE ON CLUSTER");
	free(s);
	s = sql_of(plan_drop_sql, &t, &cfg, &rep);
	is_str(s, "DROP TABLE IF EXISTS `app`.`orders` ON CLUSTER `c1`", "1 shard: DROP ON CLUSTER");
	free(s);
	buf_reset(&b);
	plan_add_column_sql(&t, &cfg, &rep, &cols[2], NULL, &b);
	is_str(b.data, "ALTER TABLE `app`.`orders` ON CLUSTER `c1` ADD COLUMN `qty` Int32", "1 shard: ADD COLUMN ON CLUSTER");

	/* --- two shards: local tables and a Distributed one */
	ChCaps sh = one;
	sh.cluster_shards = 2;
	sh.cluster_replicas = 1;
	ok(plan_sharded(&sh) && !plan_sharded(&rep) && !plan_sharded(&one), "plan_sharded: more than one shard only");
	buf_reset(&b);
	plan_create_table(&t, &cfg, &sh, &b);
	ok(strstr(b.data, "CREATE TABLE IF NOT EXISTS `app`.`orders_local` ON CLUSTER `c1`\n(") != NULL, "2 shards: the local table");
	ok(strstr(b.data, PLAN_NEXT_STATEMENT "CREATE TABLE IF NOT EXISTS `app`.`orders` ON CLUSTER `c1` AS `app`.`orders_local`\n"
			  "ENGINE = Distributed(`c1`, `app`, `orders_local`, cityHash64(`id`, `region`))") != NULL,
	   "2 shards: then the Distributed table, sharded by cityHash64 of the ORDER BY columns");
	s = sql_of(plan_truncate_sql, &t, &cfg, &sh);
	is_str(s, "TRUNCATE TABLE `app`.`orders_local` ON CLUSTER `c1`", "2 shards: TRUNCATE the local tables (not the Distributed)");
	free(s);
	s = sql_of(plan_drop_sql, &t, &cfg, &sh);
	is_str(s, "DROP TABLE IF EXISTS `app`.`orders` ON CLUSTER `c1`" PLAN_NEXT_STATEMENT
		  "DROP TABLE IF EXISTS `app`.`orders_local` ON CLUSTER `c1`", "2 shards: DROP both");
	free(s);
	buf_reset(&b);
	plan_add_column_sql(&t, &cfg, &sh, &cols[2], " DEFAULT CAST('a\nb' AS String)", &b);
	ok(strncmp(b.data, "ALTER TABLE `app`.`orders_local` ON CLUSTER `c1` ADD COLUMN `qty` Int32", 71) == 0,
	   "2 shards: ADD COLUMN on the local tables");
	ok(strstr(b.data, PLAN_NEXT_STATEMENT "DROP TABLE IF EXISTS `app`.`orders` ON CLUSTER `c1`" PLAN_NEXT_STATEMENT
			  "CREATE TABLE `app`.`orders` ON CLUSTER `c1` AS `app`.`orders_local`") != NULL,
	   "2 shards: the Distributed table made anew from them");
	cfg.dest.sharding_key = "intHash64(id)";
	buf_reset(&b);
	plan_sharding_key(&t, &cfg, &b);
	is_str(b.data, "intHash64(id)", "destination.sharding_key is used as given");
	cfg.dest.sharding_key = NULL;
	buf_reset(&b);
	ch_quote_string(&b, "a\nb';");
	is_str(b.data, "'a\\nb\\';'", "a newline in a literal is escaped (the statement separator cannot occur in one)");

	/* --- insert settings: probed */
	ChConn ch;
	memset(&ch, 0, sizeof ch);
	char set[256];
	ch.caps = sh;
	ch_insert_settings(&ch, false, set, sizeof set);
	is_str(set, "", "2 shards without insert_distributed_sync on the server: not sent");
	ch.caps.has_insert_distributed_sync = true;
	ch_insert_settings(&ch, false, set, sizeof set);
	is_str(set, "insert_distributed_sync=1", "2 shards: insert_distributed_sync=1 where the server has it");
	ch.caps = rep;
	ch.caps.has_insert_distributed_sync = true;
	ch.insert_quorum = 2;
	ch_insert_settings(&ch, false, set, sizeof set);
	is_str(set, "insert_quorum=2", "1 shard: no insert_distributed_sync; insert_quorum as configured");
	ch.caps.has_insert_quorum_timeout = true;
	ch.timeout = 5;
	ch_insert_settings(&ch, false, set, sizeof set);
	is_str(set, "insert_quorum=2&insert_quorum_timeout=5000",
	       "insert_quorum_timeout where the server has it: destination.timeout, in ms");
	is_int(ch_insert_stall_seconds(&ch), 10, "with a quorum, an INSERT may stall twice destination.timeout");
	ch.insert_quorum = 0;
	ch_insert_settings(&ch, false, set, sizeof set);
	is_str(set, "", "no quorum: no insert_quorum_timeout");
	is_int(ch_insert_stall_seconds(&ch), 5, "without: destination.timeout");

	/* --- control queries: a node that does not answer is given up */
	ch.timeout = 2;
	ch_limit_queries(&ch);
	is_int(ch.query_limit, 30, "control queries: at least 30 s");
	ch.timeout = 30;
	ch_limit_queries(&ch);
	is_int(ch.query_limit, 90, "control queries: 3 x destination.timeout");
	ch.timeout = 2;
	ch.cluster = "c";
	ch.caps.has_distributed_ddl_task_timeout = false;
	ch_limit_queries(&ch);
	is_int(ch.query_limit, 30, "before the probe: the server's settings are not known yet");
	ch.probed = true;
	ch_limit_queries(&ch);
	is_int(ch.query_limit, 200, "a cluster without distributed_ddl_task_timeout: ON CLUSTER DDL may wait 180 s");
	ch.caps.has_distributed_ddl_task_timeout = true;
	ch_limit_queries(&ch);
	is_int(ch.query_limit, 30, "with it, DDL answers within destination.timeout");
	ch.timeout = 3600;
	ch_limit_queries(&ch);
	is_int(ch.query_limit, CH_QUERY_LIMIT_LONG, "never above the long limit");
	ch.cluster = NULL;

	/* --- sharding keys */
	char why[400];
	ok(cluster_check_sharding_key(&t, "cityHash64(id)", why, sizeof why), "cityHash64(id): a function of the key");
	ok(cluster_check_sharding_key(&t, "sipHash64(`region`, id) % 7", why, sizeof why), "quoted key columns and numbers");
	ok(cluster_check_sharding_key(&t, "cityHash64(concat(region, 'qty'))", why, sizeof why), "a string literal is not a column");
	ok(!cluster_check_sharding_key(&t, "cityHash64(qty)", why, sizeof why) && strstr(why, "column qty, which is not in the table's key"),
	   "a non-key column is refused, with the reason: %s", why);
	ok(!cluster_check_sharding_key(&t, "rand()", why, sizeof why) && strstr(why, "rand() is not deterministic"),
	   "rand() is refused: %s", why);
	ok(!cluster_check_sharding_key(&t, "42", why, sizeof why) && strstr(why, "uses no column"), "a constant is refused: %s", why);

	/* --- macros */
	char names[8][64];
	int n = cluster_path_macros("/clickhouse/tables/{shard}/{database}/{table}/{layer}-{shard}", names, 8);
	is_int(n, 2, "macros of a path: {shard} and {layer}, not the built-in ones, each once");
	ok(n == 2 && strcmp(names[0], "shard") == 0 && strcmp(names[1], "layer") == 0, "in order");
	char missing[64];
	buf_reset(&b);
	ok(cluster_expand("/t/{shard}/{database}/{table}", "replica\tnode1\nshard\t01\n", "app", "orders", &b, missing, sizeof missing),
	   "expand with a node's macros");
	is_str(b.data, "/t/01/app/orders", "expanded path");
	buf_reset(&b);
	ok(!cluster_expand("/t/{repl_shard}/{table}", "shard\t01\n", "app", "orders", &b, missing, sizeof missing) &&
		   strcmp(missing, "repl_shard") == 0,
	   "a macro the node lacks is named");
	buf_free(&b);
	return done_testing();
}
