#!/usr/bin/env bash
# Schema changes the stream cannot apply in place: a column type change that maps to another
# ClickHouse type (integer -> bigint, Int32 -> Int64) marks the table needs_resync; pgch run
# reads its columns again, copies it into a shadow table with the new type and swaps that in,
# while the other table keeps streaming. The destination ends equal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, note text)" \
	-c "INSERT INTO t SELECT g, g, 'n' || g FROM generate_series(1, 20000) g" \
	-c "CREATE TABLE other (id int PRIMARY KEY, v int)" -c "INSERT INTO other SELECT g, g FROM generate_series(1, 100) g"
write_config "$WORK/r.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = { "public.t", "public.other" }'
run_start "$WORK/r.lua"
wait_until 60 "the copy" log_has 'every table is copied' || stop_here "the copy finished"
is "$(ch "SELECT type FROM system.columns WHERE database = '$CHDB' AND table = 't' AND name = 'v'")" "Int32" "v starts as Int32"

pg -c "ALTER TABLE t ALTER COLUMN v TYPE bigint" -c "UPDATE t SET v = v + 5000000000 WHERE id <= 100" \
   -c "DELETE FROM t WHERE id BETWEEN 101 AND 200" -c "UPDATE other SET v = -v WHERE id <= 10"
wait_until 90 "t to be copied again" log_has 'public\.t: the new copy is swapped in' || stop_here "t was copied again"
like "$(cat "$RUN_LOG")" 'public\.t: copying it again into t_cdc_schema_resync\.t__pgch_resync_[0-9]+' \
	"t was copied into a shadow table with the new shape, the old one serving readers meanwhile"
like "$(cat "$RUN_LOG")" 'public\.t will be copied again' "the run log says t is copied again"
wait_table_equal 90 t id v
is "$(ch "SELECT type FROM system.columns WHERE database = '$CHDB' AND table = 't' AND name = 'v'")" "Int64" "v is Int64 now"
is "$(ch "SELECT count() FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0 AND v > 5000000000")" 100 "the large values arrived"
same_sample t "id, v, note" id "id % 97 = 0 OR id <= 105" "t: a sample equal value by value"
wait_table_equal 30 other id v
pg -c "UPDATE t SET note = 'after' WHERE id = 5000"
wait_until 30 "a change after the copy" eval '[ "$(ch "SELECT note FROM $CHDB.t FINAL WHERE id = 5000")" = after ]'
ok $? "changes after the new copy stream as usual"
run_stop
done_testing
