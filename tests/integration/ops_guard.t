#!/usr/bin/env bash
# Guards around a running pipe, and tables lost behind pgch's back:
#  - while pgch run runs, a second run --restart, snapshot --restart or drop is refused before
#    it changes anything (tables, progress and slot stay);
#  - a destination table dropped while the pipe streams is marked needs_resync, created again
#    and copied again by the running pipe;
#  - a needs_resync mark left by an earlier run is honoured when pgch run starts again.
# Each phase ends with ClickHouse equal to PostgreSQL.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg -c "CREATE TABLE items (id int PRIMARY KEY, name text)" \
   -c "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g" >/dev/null
write_config "$WORK/g.lua" 'pipe = { sync_interval = 1, max_retries = 1 }' 'tables = { "public.items" }'

start_run() {
	"$PGCH" run "$WORK/g.lua" >"$WORK/run.log" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
}
copied() { grep -q "every table is copied" "$WORK/run.log"; }
equal() { # the deduplicated destination has PostgreSQL's rows
	[ "$(ch "SELECT count(), sum(id) FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0" 2>/dev/null)" = \
	  "$(pg -F $'\t' -c "SELECT count(*), sum(id) FROM items")" ]
}

start_run
poll_until 60 copied || { diag "$(cat "$WORK/run.log")"; bail "pgch run did not finish copying"; }
poll_until 30 equal
ok $? "set-up: the pipe copied items"

# ---------------------------------------------------------------- a second pgch is refused
for args in "run --restart" "snapshot --restart" "snapshot" "drop" "drop --tables"; do
	# shellcheck disable=SC2086
	out=$("$PGCH" $args "$WORK/g.lua" 2>&1)
	st=$?
	is "$st" 1 "pgch $args while pgch run runs: exit 1"
	like "$out" 'another pgch is running for pipe g .*stop it first' "pgch $args: says another pgch runs the pipe"
	ok $((!!$(printf '%s\n' "$out" | grep -c 'forgetting\|dropped'))) "pgch $args: dropped and forgot nothing"
done
is "$(ch "SELECT count() FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0")" 1000 "the destination table is intact"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgch_g' AND active")" 1 "the slot is still there and in use"
is "$(ch "SELECT status FROM $CHDB._pgch_state FINAL WHERE pipe = 'g' AND source_table = 'public.items' AND part = -1")" done \
	"the table's recorded progress is intact"
kill -0 "$pid" 2>/dev/null
ok $? "the running pgch is still running"

# ---------------------------------------------------------------- a table dropped behind pgch's back
ch_ok "DROP TABLE $CHDB.items" >/dev/null
pg -c "INSERT INTO items SELECT g, 'late ' || g FROM generate_series(1001, 1100) g" -c "DELETE FROM items WHERE id <= 10" >/dev/null
poll_until 90 equal
ok $? "the dropped table is created and copied again by the running pipe: count and sum equal PostgreSQL's"
like "$(cat "$WORK/run.log")" 'items.*needs_resync' "the log says the table was marked needs_resync"
same_rows "SELECT id, name FROM items WHERE id % 37 = 1 ORDER BY id" \
	"SELECT id, name FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0 AND id % 37 = 1 ORDER BY id" "a sample of rows equals PostgreSQL's"
kill -TERM "$pid"
wait_pid "$pid" 60
is "$WAIT_STATUS" 0 "pgch run exits 0 on SIGTERM"

# ---------------------------------------------------------------- a needs_resync mark from an earlier run
ch_ok "DROP TABLE $CHDB.items" >/dev/null
seq=$(ch "SELECT max(seq) + 1 FROM $CHDB._pgch_state")
ch_ok "INSERT INTO $CHDB._pgch_state (pipe, source_table, part, target, leaf, range_start, range_end, status, rows, snapshot_lsn, info, seq)
       VALUES ('g', 'public.items', -1, 'items', '', 0, 0, 'needs_resync', 0, 0, 'ClickHouse keeps rejecting its rows', $seq)" >/dev/null
ok $? "set-up: the table is gone and marked needs_resync, as a run that stopped before copying it leaves it"
start_run
poll_until 60 equal
ok $? "pgch run copies the marked table again: count and sum equal PostgreSQL's"
poll_until 30 copied
is "$(ch "SELECT status FROM $CHDB._pgch_state FINAL WHERE pipe = 'g' AND source_table = 'public.items' AND part = -1")" done \
	"the mark is replaced by done"
pg -c "UPDATE items SET name = 'after' WHERE id = 500" >/dev/null
poll_until 30 bash -c "[ \"\$(curl -sS '$CH_URL/' --data-binary \"SELECT name FROM $CHDB.items FINAL WHERE id = 500\")\" = after ]"
ok $? "changes stream again after the copy"

# ---------------------------------------------------------------- a run that dies
kids=$(ps --ppid "$pid" -o pid= | tr -d ' ')
kill -KILL "$pid" $kids
wait_pid "$pid" 30
out=$("$PGCH" status "$WORK/g.lua" 2>&1)
like "$out" 'pipe g: streaming when the last run ended, and no pgch is running it now' \
	"status after the run was killed: says no pgch is running the pipe any more"
poll_until 30 bash -c "! ps -o comm= -C pgch-stream,pgch-snapshot | grep -q ."
start_run
pg -c "UPDATE items SET name = 'resumed' WHERE id = 501" >/dev/null
poll_until 60 bash -c "[ \"\$(curl -sS '$CH_URL/' --data-binary \"SELECT name FROM $CHDB.items FINAL WHERE id = 501\")\" = resumed ]"
ok $? "pgch run continues after the kill"
like "$("$PGCH" status "$WORK/g.lua" 2>&1)" 'pipe g: streaming \(a pgch is running it\)' "status: running again"
kill -TERM "$pid"
wait_pid "$pid" 60
is "$WAIT_STATUS" 0 "pgch run exits 0 on SIGTERM"
done_testing
