#!/usr/bin/env bash
# An ORDER BY column (not part of the key) that the source lets become NULL after pgch
# started (ALTER TABLE ... DROP NOT NULL): ClickHouse's sorting keys cannot hold NULL, so the
# stream cannot apply such a change. The table must be marked needs_resync (recorded, so a
# restart still knows), the copy again must stop with a message saying how to fix it (as the
# config check would), and once NOT NULL is back, pgch run must copy it and end equal to
# PostgreSQL, with no change lost, to this table or another.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, grp int NOT NULL, v int);
ALTER TABLE t REPLICA IDENTITY FULL;
INSERT INTO t SELECT g, g % 5, g FROM generate_series(1, 1000) g;
CREATE TABLE other (id int PRIMARY KEY, v int);
INSERT INTO other SELECT g, g FROM generate_series(1, 100) g;
SQL
write_config "$WORK/n.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" \
	'tables = { { "public.t", order_by = { "grp", "id" } }, "public.other" }'

run_start "$WORK/n.lua"
wait_streaming
pg -c "ALTER TABLE t ALTER grp DROP NOT NULL" -c "UPDATE t SET grp = NULL WHERE id = 1" -c "UPDATE t SET grp = 7 WHERE id = 2" \
	-c "DELETE FROM t WHERE id = 1" -c "UPDATE t SET v = 99 WHERE id > 900" -c "UPDATE other SET v = -v WHERE id <= 10" >/dev/null
wait_pid "$RUN_PID" 60
is "$WAIT_STATUS" 1 "pgch run stops with exit 1"
ok "$(log_has 'public\.t: .*needs_resync'; echo $?)" "the log says t was marked needs_resync"
ok "$(log_has 'error: public\.t: order_by column grp can be NULL now .*ALTER TABLE "public"\."t" ALTER grp SET NOT NULL'; echo $?)" \
	"the log says why the copy cannot be made and what to run"
is "$(ch "SELECT status FROM $CHDB._pgch_state FINAL WHERE source_table = 'public.t' AND part = -1")" needs_resync \
	"the mark is recorded for the next run"

pg -c "ALTER TABLE t ALTER grp SET NOT NULL" -c "UPDATE other SET v = 0 WHERE id = 50" >/dev/null
run_start "$WORK/n.lua"
wait_same 60 "SELECT count(*), sum(id), count(*) FILTER (WHERE v = 99), sum(grp) FROM t" \
	"SELECT count(), sum(id), countIf(v = 99), sum(grp) FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0" \
	"after NOT NULL is back, the next run copies t: equal to PostgreSQL (count, ids, the later update, grp)"
wait_same 30 "SELECT count(*), sum(v) FROM other" \
	"SELECT count(), sum(v) FROM $CHDB.other FINAL WHERE _pgch_is_deleted = 0" "other is equal too: no change was lost while t stopped the run"
pg -c "UPDATE t SET v = 5 WHERE id = 500" >/dev/null
wait_same 30 "SELECT v FROM t WHERE id = 500" "SELECT v FROM $CHDB.t FINAL WHERE id = 500" "t streams again after its copy"
run_stop
done_testing
