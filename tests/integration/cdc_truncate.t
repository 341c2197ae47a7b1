#!/usr/bin/env bash
# TRUNCATE while pgch run streams (ARCHITECTURE.md, "Consistency"): rows before it are gone from ClickHouse,
# rows after it are there. A plain TRUNCATE between streamed inserts; TRUNCATE between
# inserts of one transaction (the earlier ones void, the later ones kept); a TRUNCATE right
# after inserts still pending in the same batch; TRUNCATE ... CASCADE of two tables; a
# table not truncated keeps its rows (also those of the truncating transaction); a
# rolled-back TRUNCATE changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
CREATE TABLE child (id int PRIMARY KEY, t_id int REFERENCES t, v int NOT NULL);
CREATE TABLE other (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO t SELECT g, g FROM generate_series(1, 100) g;
INSERT INTO child SELECT g, g, g FROM generate_series(1, 50) g;
INSERT INTO other SELECT g, g FROM generate_series(1, 10) g;
SQL
write_config "$WORK/t.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" \
	'tables = { "public.t", "public.child", "public.other" }'
run_start "$WORK/t.lua"
wait_streaming
wait_table_equal 30 t id v
wait_table_equal 30 child id v

equal_all() { # equal_all STEP: the three tables, in full
	wait_table_equal 60 t id v
	same_sample t "id, v" id "1 = 1" "t $1: every row equal"
	wait_table_equal 60 child id v
	wait_table_equal 60 other id v
	same_sample other "id, v" id "1 = 1" "other $1: every row equal"
}

# 1. streamed rows, then a TRUNCATE, then new rows
pg -c "INSERT INTO t SELECT g, g FROM generate_series(101, 200) g"
wait_table_equal 60 t id v
pg -c "TRUNCATE t CASCADE"
pg -c "INSERT INTO t SELECT g, -g FROM generate_series(1001, 1050) g"
is "$(pg -c "SELECT count(*), min(id) FROM t")" "50|1001" "t truncated and refilled in PostgreSQL"
equal_all "after TRUNCATE between transactions"
is "$(ch "SELECT count() FROM $CHDB.t WHERE id <= 200")" 0 "no row from before the TRUNCATE is left in ClickHouse (not even a delete)"
is "$(ch "SELECT count() FROM $CHDB.child")" 0 "the cascaded TRUNCATE emptied child in ClickHouse"

# 2. inserts, TRUNCATE and inserts in one transaction, with another table changed around it
pg <<'SQL'
BEGIN;
INSERT INTO t SELECT g, g FROM generate_series(2001, 2010) g;
INSERT INTO other VALUES (11, 11);
TRUNCATE t, child;
INSERT INTO t SELECT g, g FROM generate_series(3001, 3020) g;
UPDATE t SET v = 0 WHERE id = 3001;
DELETE FROM t WHERE id = 3002;
INSERT INTO other VALUES (12, 12);
COMMIT;
SQL
is "$(pg -c "SELECT count(*), min(id), max(id) FROM t")|$(pg -c "SELECT count(*) FROM other")" "19|3001|3020|12" \
	"TRUNCATE between inserts of one transaction in PostgreSQL"
equal_all "after TRUNCATE inside a transaction"

# 3. a TRUNCATE right after inserts that are still pending (one batch), then more inserts
pg -c "INSERT INTO t SELECT g, g FROM generate_series(4001, 4100) g" \
	-c "INSERT INTO other VALUES (13, 13)" \
	-c "TRUNCATE t CASCADE" \
	-c "INSERT INTO t VALUES (5001, 5001)" \
	-c "INSERT INTO other VALUES (14, 14)"
is "$(pg -c "SELECT string_agg(id::text, ',') FROM t")" "5001" "t holds one row in PostgreSQL"
equal_all "after TRUNCATE of rows still in the batch"

# 4. a rolled-back TRUNCATE, then rows that must land on top of what is there
pg -c "BEGIN" -c "TRUNCATE t, child, other" -c "ROLLBACK"
pg -c "INSERT INTO t VALUES (6001, 6001)" -c "INSERT INTO other VALUES (15, 15)"
is "$(pg -c "SELECT count(*) FROM t")|$(pg -c "SELECT count(*) FROM other")" "2|15" "the rolled-back TRUNCATE changed nothing in PostgreSQL"
equal_all "after a rolled-back TRUNCATE"
run_stop
done_testing
