#!/usr/bin/env bash
# Failover between the endpoints of a 1-shard, 2-replica cluster (pgch_1x2), and insert_quorum.
# pgch snapshot with the first URL's node down: the ON CLUSTER DDL finishes on node 2 within
# destination.timeout and the down node is named in a warning; every snapshot worker moves
# to node 2; when node 1 is back it runs the queued DDL and holds the same rows. Then pgch
# run with insert_quorum = 2: with node 1 killed, an insert is not acknowledged without its
# quorum (18.16 waits for it, or refuses and pgch retries), so the slot does not move past the
# changes it carries and the table is not marked for a new copy; node 1 started again, both
# replicas end equal to the source and the slot moves on. Last, a hung node (SIGSTOP): the
# stream gives it up after destination.timeout without a byte and writes to the other, and
# pgch status names the node the stream writes to.
# exclusive: starts ZooKeeper and two ClickHouse servers, stops and kills one of them
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"
. "$(dirname "$0")/lib_cluster.sh"
t_start=$SECONDS

fresh_dbs
cluster_fresh
pg <<'SQL'
CREATE TABLE big (id int PRIMARY KEY, v text);
INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 30000) g;
CREATE TABLE small (id int PRIMARY KEY, n int);
INSERT INTO small SELECT g, g FROM generate_series(1, 100) g;
SQL
cat >"$WORK/p.lua" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$DB", user = "${PGUSER:-postgres}" }
destination = {
  url = { "$CH1_URL", "$CH2_URL" },
  database = "$CHDB",
  cluster = "$CH_CLUSTER_REPLICATED",
  replica_path = "/clickhouse/tables/{repl_shard}/{database}/{table}",
  insert_quorum = 2,
  timeout = 2,
}
pipe = { name = "$T_NAME", sync_interval = 0.5, snapshot = { workers = 3, rows_per_partition = 5000 } }
tables = { "public.big", "public.small" }
LUA

# --- the snapshot with node 1 down
"$CLUSTER_SH" stop-node "$CLUSTER_DIR" 1
ok $? "node 1 stopped"
sed -i 's/insert_quorum = 2,//' "$WORK/p.lua" # no quorum with one replica up: the copy goes to node 2 alone
t0=$SECONDS
"$PGCH" snapshot "$WORK/p.lua" --keep-slot >"$RUN_LOG" 2>&1
st=$?
is "$st" 0 "pgch snapshot succeeds with the first URL's node down ($((SECONDS - t0)) s)"
[ "$st" = 0 ] || show_log
like "$(cat "$RUN_LOG")" "ClickHouse cluster $CH_CLUSTER_REPLICATED: 127\\.0\\.0\\.1:$CH1_TCP did not finish within 2 s" \
	"the ON CLUSTER DDL names the node that did not run it"
is "$(grep -c 'partition .* failed\|retrying in' "$RUN_LOG")" 0 "no partition failed: each worker moved to node 2 before sending rows"
on_node 2 same_rows "SELECT count(*), sum(id) FROM big" "SELECT count(), sum(id) FROM $CHDB.big FINAL" "node 2 holds the copy"
out=$("$CLUSTER_SH" start-node "$CLUSTER_DIR" 1 2>&1)
ok $? "node 1 started again: $out"
wait_until 60 "node 1 to run the queued DDL" eval "qn 1 'SELECT 1 FROM system.tables WHERE database = '\\''$CHDB'\\'' AND name = '\\''big'\\''' | grep -q 1"
ok $? "node 1 ran the queued CREATE TABLE when it came back"
qn 1 "SYSTEM SYNC REPLICA $CHDB.big" >/dev/null
# SYNC REPLICA returns at once while the replica has not yet pulled the fetches into its
# queue (seen under load): wait for the rows
on_node 1 wait_same 60 "SELECT count(*), sum(id) FROM big" "SELECT count(), sum(id) FROM $CHDB.big FINAL" "node 1 fetched the copy from node 2"

# --- insert_quorum = 2: a quorum failure is retried, never counted as written
sed -i "s/  timeout = 2,/  insert_quorum = 2,\n  timeout = 2,/" "$WORK/p.lua"
run_start "$WORK/p.lua" -v -v # debug: each position the stream confirms, and why
wait_until 60 "the stream to start" run_has 'stream\[[0-9]+\] info: streaming from slot'
ok $? "pgch run streams with insert_quorum = 2"
pg -c "UPDATE small SET n = n + 1000 WHERE id <= 10"
wait_same 30 "SELECT sum(n) FROM small" "SELECT sum(n) FROM $CHDB.small FINAL WHERE _pgch_is_deleted = 0" "a change reaches ClickHouse with both replicas up"
"$CLUSTER_SH" kill-node "$CLUSTER_DIR" 1
ok $? "node 1 killed"
pg -c "UPDATE small SET n = n + 1 WHERE id > 50"
# the insert position: with synchronous_commit = off (scripts/pg.sh) the write position
# pg_current_wal_lsn() can still be at the previous commit's end, which pgch had confirmed
# already (the cause of this test's old failures under load)
lsn=$(pg -c "SELECT pg_current_wal_insert_lsn()")
sleep 3
behind=$(psql -X -At -d postgres -c "SELECT confirmed_flush_lsn < '$lsn' FROM pg_replication_slots WHERE slot_name = 'pgch_$T_NAME'")
ok "$([ "$behind" = t ]; echo $?)" "the slot does not move past the change while the quorum of 2 is not met (the insert is not acknowledged)"
[ "$behind" = t ] || {
	diag "change at $lsn, slot at $(psql -X -At -d postgres -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'pgch_$T_NAME'")"
	diag "$(tail -n +"$RUN_FROM" "$RUN_LOG" | grep -E 'stream\[|confirming' | grep -v 'debug: (sent|received)' | tail -n 60)"
	diag "node 2's INSERTs into small: $(qn 2 "SYSTEM FLUSH LOGS"; qn 2 "SELECT event_time, type, exception_code, query_id FROM system.query_log WHERE query LIKE 'INSERT INTO%small%' AND event_date = today() ORDER BY event_time FORMAT TSV")"
}
out=$("$CLUSTER_SH" start-node "$CLUSTER_DIR" 1 2>&1)
ok $? "node 1 started again: $out"
for n in 1 2; do
	on_node $n wait_same 90 "SELECT id, n FROM small ORDER BY id" \
		"SELECT id, n FROM $CHDB.small FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" "node$n: small equals the source value by value"
done
# a later change, flushed with both replicas up, confirms a position past everything before it
# (the UPDATE's own commit may end a few bytes before $lsn when other WAL followed it)
pg -c "UPDATE big SET v = v WHERE id = 1"
wait_until 30 "the slot to move past the change" eval \
	"[ \"\$(psql -X -At -d postgres -c \"SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'pgch_$T_NAME'\")\" = t ]"
ok $? "the slot moves past the change once the quorum insert succeeded"
ok "$(run_has 'needs a new copy|needs_resync' && echo 1 || echo 0)" "the table was not marked for a new copy"
run_stop

# --- a hung node (SIGSTOP: it keeps its sockets, answers nothing): the stream moves on after
# destination.timeout without a byte, and pgch status says which node the stream writes to
sed -i 's/  insert_quorum = 2,//' "$WORK/p.lua"
run_start "$WORK/p.lua"
wait_until 60 "the stream to start" run_has 'stream\[[0-9]+\] info: streaming from slot'
pg -c "UPDATE small SET n = n + 1 WHERE id <= 5"
on_node 1 wait_same 30 "SELECT sum(n) FROM small" "SELECT sum(n) FROM $CHDB.small FINAL WHERE _pgch_is_deleted = 0" "the stream writes to node 1, the first URL"
st=$("$PGCH" status "$WORK/p.lua" 2>&1)
like "$st" "the stream writes to $CH1_URL;" "pgch status: the stream writes to node 1"
"$CLUSTER_SH" pause-node "$CLUSTER_DIR" 1
ok $? "node 1 paused (SIGSTOP)"
t_status=$SECONDS # pgch status meanwhile: its queries to the hung first node are given up
("$PGCH" status "$WORK/p.lua" >"$WORK/status-hung.out" 2>&1; echo "rc=$? after $((SECONDS - t_status)) s" >>"$WORK/status-hung.out") &
status_pid=$!
pg -c "UPDATE small SET n = n + 1 WHERE id <= 20"
on_node 2 wait_same 40 "SELECT id, n FROM small ORDER BY id" \
	"SELECT id, n FROM $CHDB.small FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" "node 2 gets the change: the stream left the hung node"
ok "$(run_has "stopped answering" && run_has "using ClickHouse at $CH2_URL from now on"; echo $?)" \
	"the log says the node stopped answering and names the node the stream moved to"
wait "$status_pid"
like "$(cat "$WORK/status-hung.out")" "read through $CH2_URL " "pgch status with the first node hung: reads through node 2"
like "$(tail -n 1 "$WORK/status-hung.out")" "^rc=0 after" "... and exits 0 ($(tail -n 1 "$WORK/status-hung.out"))"
out=$("$CLUSTER_SH" resume-node "$CLUSTER_DIR" 1 2>&1)
ok $? "node 1 resumed $out"
# the supervisor records the switch once its own requests to node 1 are given up too
wait_until 60 "status to name node 2" eval "\"\$PGCH\" status \"\$WORK/p.lua\" 2>&1 | grep -q 'the stream writes to $CH2_URL;'"
ok $? "pgch status: the stream writes to node 2 now (after ${WAITED}s)"
is "$("$PGCH" status --json "$WORK/p.lua" 2>/dev/null | sed -n 's/.*"stream_endpoint": "\([^"]*\)".*/\1/p')" "$CH2_URL" \
	"pgch status --json: stream_endpoint"
qn 1 "SYSTEM SYNC REPLICA $CHDB.small" >/dev/null
on_node 1 wait_same 60 "SELECT id, n FROM small ORDER BY id" \
	"SELECT id, n FROM $CHDB.small FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" "node 1 catches up once it runs again"
run_stop
diag "cluster_failover took $((SECONDS - t_start)) s"
done_testing
