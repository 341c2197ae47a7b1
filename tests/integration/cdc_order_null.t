#!/usr/bin/env bash
# An ORDER BY column (not part of the key) that the source lets become NULL: ClickHouse's
# ORDER BY columns cannot hold NULL, so the stream cannot apply such changes. The table must
# be marked needs_resync (recorded, so a restart still knows), copied again, and end equal to
# PostgreSQL; the changes after it, to this table and others, must not be lost.
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
wait_same 60 "SELECT count(*), sum(id), count(*) FILTER (WHERE v = 99), sum(grp) FROM t" \
	"SELECT count(), sum(id), countIf(v = 99), sum(grp) FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0" \
	"t ends equal to PostgreSQL (count, ids, the later update, grp)"
ok "$(log_has 'public\.t: .*needs_resync'; echo $?)" "the log says t was marked needs_resync"
wait_same 30 "SELECT count(*), sum(v) FROM other" \
	"SELECT count(), sum(v) FROM $CHDB.other FINAL WHERE _pgch_is_deleted = 0" "the other table's changes arrived"
pg -c "UPDATE t SET v = 5 WHERE id = 500" >/dev/null
wait_same 30 "SELECT v FROM t WHERE id = 500" "SELECT v FROM $CHDB.t FINAL WHERE id = 500" "t streams again after its copy"
run_stop
done_testing
