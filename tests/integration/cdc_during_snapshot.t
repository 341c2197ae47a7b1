#!/usr/bin/env bash
# Changes to a table while its snapshot is still being copied (ARCHITECTURE.md, "Consistency": CDC may run
# while the snapshot runs; every transaction the snapshot did not see is streamed with a
# larger version, so it wins whatever the order). One worker, small partitions, so the copy
# takes a while; updates, deletes and inserts spread over the whole key range (partitions
# already copied and not yet copied) run meanwhile; a second table, t2, waiting for its turn
# to be copied, is truncated and refilled (ARCHITECTURE.md, "Consistency": a TRUNCATE during a table's snapshot
# restarts that snapshot). The test checks that the changes really ran during the copy, then
# that the destination ends equal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

N=${CDC_SNAP_ROWS:-300000}
fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL)" \
	-c "INSERT INTO t SELECT g, 0, repeat('x', 40) || g FROM generate_series(1, $N) g" -c "ANALYZE t" \
	-c "CREATE TABLE t2 (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL)" \
	-c "INSERT INTO t2 SELECT g, g, 'before' FROM generate_series(1, $((N / 15))) g" -c "ANALYZE t2"
write_config "$WORK/d.lua" \
	"pipe = { name = \"$T_NAME\", sync_interval = 1, snapshot = { workers = 1, rows_per_partition = $((N / 120)), tables_in_parallel = 1 } }" \
	'tables = { "public.t", "public.t2" }'
run_start "$WORK/d.lua"
# start changing once the first partitions are in and the stream is up
wait_until 60 "the first partition to be copied" log_has 'public.t partition [0-9]+ \(2/' || stop_here "the copy started"
wait_until 30 "the stream worker to start" log_has 'streaming from slot' || stop_here "the stream worker started"

# hold the snapshot worker still while the changes run, so they certainly overlap the copy
worker=$(pgrep -x pgch-snapshot -P "$RUN_PID" | head -n 1)
[ -n "$worker" ] && kill -STOP "$worker"
pg >/dev/null <<SQL
DO \$\$
BEGIN
  FOR i IN 1..20 LOOP
    UPDATE t SET v = v + i WHERE id % 997 = i;           -- spread over every partition
    DELETE FROM t WHERE id % 4999 = i;
    INSERT INTO t SELECT $N + i * 100 + g, i, 'new' FROM generate_series(1, 100) g;
    UPDATE t SET id = -id WHERE id % 9973 = i;          -- key changes, too
    IF i = 10 THEN  -- a transaction the stream takes a while to get through
      TRUNCATE t2;
      INSERT INTO t2 SELECT g, -g, 'after' FROM generate_series(1, 100000) g;
    END IF;
    COMMIT;
    PERFORM pg_sleep(0.05);
  END LOOP;
END
\$\$;
SQL
ok "$(! log_has 'public.t copied:'; echo $?)" "the changes were made while the copy was still running"
[ -n "$worker" ] && kill -CONT "$worker"
parts=$(grep -c 'public.t partition' "$RUN_LOG")
diag "$parts partitions copied when the changes were done"
is "$(pg -c "SELECT count(*) FILTER (WHERE id > $N), count(*) FILTER (WHERE id < 0) > 0, count(*) FILTER (WHERE v > 0 AND id BETWEEN 1 AND $N) > 0,
             count(*) FILTER (WHERE id % 4999 BETWEEN 1 AND 20 AND id BETWEEN 1 AND $N) FROM t")" "2000|t|t|0" \
	"updates, deletes, inserts and key changes happened in PostgreSQL"

ok "$(! log_has 'public.t2 copied:'; echo $?)" "t2 was truncated before its copy ended"
is "$(pg -c "SELECT count(*), min(v) FROM t2")" "100000|-100000" "t2 truncated and refilled in PostgreSQL"
wait_until 120 "the copy to finish" log_has 'every table is copied' || stop_here "the copy finished"
is "$(grep -c 'public.t2 will be copied again: it was truncated while being copied' "$RUN_LOG")" 1 \
	"t2's copy was started again, once (the stream replaying the TRUNCATE does not start it again)"
t0=$SECONDS
wait_table_equal 60 t id v
diag "equal $((SECONDS - t0)) s after the copy finished"
same_sample t "id, v, pad" id "id % 997 < 3 OR id < 0 OR id > $N" "changed rows (and others) equal value by value"
is "$(ch "SELECT count() FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0 AND id % 4999 BETWEEN 1 AND 20 AND id > 0 AND id <= $N")" 0 \
	"no deleted row is left in ClickHouse"
wait_table_equal 60 t2 id v
same_sample t2 "id, v, pad" id "id % 97 = 0" "t2: a sample equal value by value (only rows inserted after the TRUNCATE)"
run_stop
done_testing
