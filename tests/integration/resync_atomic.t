#!/usr/bin/env bash
# pgch resync --table under a write load: the copy goes into a shadow table and is swapped in
# with one RENAME TABLE (ClickHouse 18.16 has no EXCHANGE TABLES), so a reader polling the
# table every ~20 ms never sees it empty, nor fewer rows than it had minus the rows deleted
# meanwhile; the table's after statements run again and a view over it reads the new rows.
# Then pgch is killed with SIGKILL while a second resync copies into its shadow: the next
# run drops the leftover shadow, copies the table again and ends equal, with no shadow left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, note text)" \
	-c "INSERT INTO t SELECT g, g, 'n' || g FROM generate_series(1, 60000) g" \
	-c "CREATE TABLE other (id int PRIMARY KEY, v int)" -c "INSERT INTO other SELECT g, g FROM generate_series(1, 50) g" \
	-c "CREATE TABLE deleted_log (id int, at timestamptz DEFAULT clock_timestamp())" -c "CREATE SEQUENCE next_id START 100001"
write_config "$WORK/ra.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1, snapshot = { workers = 1, rows_per_partition = 1000 } }" \
	'tables = { "public.t", "public.other" }' \
	'function on_table(t)
  if t.source ~= "public.t" then return end
  local db = pgch.ident(t.database)
  pgch.live_view(t)
  table.insert(t.after, "CREATE TABLE IF NOT EXISTS " .. db .. ".after_runs (at DateTime) ENGINE = Log")
  table.insert(t.after, "INSERT INTO " .. db .. ".after_runs VALUES (now())")
end'
run_start "$WORK/ra.lua"
wait_streaming 90
wait_table_equal 60 t id v
after_runs() { ch "SELECT count() FROM $CHDB.after_runs"; }
runs_before=$(after_runs)
shadows() { ch "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name LIKE 't\\_\\_pgch\\_%'"; }
# the progress table names a shadow as t's target (the resync is under way, recorded)
recorded_shadow() {
	[ "$(ch "SELECT count() FROM $CHDB._pgch_state FINAL WHERE pipe = '$T_NAME' AND source_table = 'public.t' AND part = -1 AND target LIKE 't\\_\\_pgch\\_resync\\_%'")" = 1 ]
}

# the load: each transaction inserts a row, updates one and deletes one (logged in deleted_log,
# which is not replicated, so a reader knows how many rows were deleted so far)
load() {
	local i=0
	while [ ! -e "$WORK/stop-load" ]; do
		i=$((i + 1))
		psql -X -q -At -d "$DB" -c "BEGIN;
INSERT INTO t VALUES (nextval('next_id'), $i, 'load');
UPDATE t SET v = v + 1, note = 'upd' WHERE id = (SELECT id FROM t ORDER BY random() LIMIT 1);
WITH d AS (DELETE FROM t WHERE id = (SELECT id FROM t WHERE id <= 6000 ORDER BY random() LIMIT 1) RETURNING id)
INSERT INTO deleted_log SELECT id FROM d;
COMMIT;" >/dev/null 2>>"$WORK/load.err"
		sleep 0.02
	done
}
# the reader: ClickHouse's count, and when the answer came (epoch microseconds)
read_loop() {
	local c
	while [ ! -e "$WORK/stop-read" ]; do
		c=$(curl -sS "$CH_URL/" --data-binary "SELECT count() FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0" 2>&1)
		echo "${EPOCHREALTIME/./} ${c//$'\n'/ }" >>"$WORK/reads"
		sleep 0.02
	done
}
# log_us REGEX: when the run log's first line matching REGEX was written (epoch microseconds)
log_us() {
	local line
	line=$(grep -E -m1 -- "$1" "$RUN_LOG") || return 1
	date -d "$(cut -c1-23 <<<"$line")" +%s%6N
}

n0=$(pg -c "SELECT count(*) FROM t")
rm -f "$WORK/stop-load" "$WORK/stop-read" "$WORK/reads"
deleted0=$(pg -c "SELECT count(*) FROM deleted_log")
load &
loader=$!
read_loop &
reader=$!
sleep 1
"$PGCH" resync --table public.t "$WORK/ra.lua" >"$WORK/resync.out" 2>&1
is "$?" 0 "pgch resync --table public.t: exit 0"
wait_until 90 "the new copy to be swapped in" run_has 'public\.t: the new copy is swapped in \(RENAME TABLE\)' ||
	stop_here "the shadow was swapped in"
sleep 2
touch "$WORK/stop-load"
wait "$loader"
touch "$WORK/stop-read"
wait "$reader"

# each read against the source's rows at the start minus the rows deleted before it was answered
pg -c "COPY (SELECT (extract(epoch FROM at) * 1000000)::bigint FROM deleted_log ORDER BY 1) TO STDOUT" >"$WORK/deletes"
checked=$(awk -v n0="$((n0 + deleted0))" 'NR == FNR { del[NR] = $1; nd = NR; next }
	{ while (k < nd && del[k + 1] < $1) k++
	  if ($2 !~ /^[0-9]+$/ || $2 == 0 || $2 < n0 - k) { print "bad: " $0 " (deleted by then: " k ")"; exit } }' \
	"$WORK/deletes" "$WORK/reads")
is "$checked" "" "the reader never saw the table empty, failing, or below its rows minus those deleted ($(wc -l <"$WORK/reads") reads)"
from=$(log_us 'public\.t: copying it again into') to=$(log_us 'public\.t: the new copy is swapped in')
during=$(awk -v a="${from:-0}" -v b="${to:-0}" '$1 > a && $1 < b' "$WORK/reads" | wc -l)
ok "$([ "$during" -gt 2 ]; echo $?)" "the reader read while the shadow was copied ($during reads in $(((${to:-0} - ${from:-0}) / 1000)) ms)"
like "$(cat "$RUN_LOG")" 'public\.t: copying it again into t_resync_atomic\.t__pgch_resync_[0-9]+; readers keep t_resync_atomic\.t until' \
	"the run log names the shadow table"
ok "$([ "$(pg -c "SELECT count(*) FROM deleted_log")" -gt "$deleted0" ]; echo $?)" "the load deleted rows during the resync"
[ -s "$WORK/load.err" ] && diag "load errors: $(head -c 300 "$WORK/load.err")"

wait_table_equal 60 t id v
same_sample t "id, v, note" id "1 = 1" "t: equal to the source value by value after the swap"
is "$(shadows)" 0 "no shadow or old table is left after the swap"
is "$(after_runs)" $((runs_before + 1)) "the after statements ran again after the swap"
same_rows "SELECT count(*) FROM t" "SELECT count() FROM $CHDB.t_live" "the view over t reads the new table"
wait_table_equal 30 other id v

# killed during the copy into the shadow: the restart converges
pg -c "INSERT INTO t VALUES (900001, 1, 'before kill')"
"$PGCH" resync --table public.t "$WORK/ra.lua" >/dev/null 2>&1
# the supervisor, which swaps, stopped the moment the shadow appears, then killed
poll_until 30 recorded_shadow
ok $? "the second resync created its shadow table"
kill -STOP "$RUN_PID"
is "$(grep -c 'public\.t: the new copy is swapped in' "$RUN_LOG")" 1 "stopped before the second swap"
before_kill=$(ch "SELECT count() FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0")
kill -KILL "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
RUN_PID=
ok "$([ "$before_kill" -gt 0 ]; echo $?)" "the table kept its rows while the shadow was copied ($before_kill)"
pg -c "UPDATE t SET note = 'while down' WHERE id <= 10" -c "DELETE FROM t WHERE id BETWEEN 11 AND 20"
sleep 2 # the killed run's walsender lets go of the slot
run_start "$WORK/ra.lua"
wait_until 90 "the restarted run to swap in a new copy" run_has 'public\.t: the new copy is swapped in' ||
	stop_here "the restarted run copied t again"
ok 0 "the restarted run copied t again and swapped it in"
like "$(tail -n +"$RUN_FROM" "$RUN_LOG")" 'dropping t_resync_atomic\.t__pgch_resync_[0-9]+, left by an earlier resync' \
	"the restarted run dropped the leftover shadow"
like "$(tail -n +"$RUN_FROM" "$RUN_LOG")" 'public\.t will be copied again: pgch stopped while copying it into a shadow table' \
	"the run log says why t is copied again"
wait_table_equal 60 t id v
same_sample t "id, v, note" id "1 = 1" "t: equal value by value after the restart"
is "$(shadows)" 0 "no shadow table left after the restart"
is "$(ch "SELECT target FROM $CHDB._pgch_state FINAL WHERE pipe = '$T_NAME' AND source_table = 'public.t' AND part = -1")" t \
	"the progress table names t's real target again"

# pgch drop --tables after a run killed during a resync drops the shadow and the table
"$PGCH" resync --table public.t "$WORK/ra.lua" >/dev/null 2>&1
poll_until 30 recorded_shadow
ok $? "a third resync created its shadow table"
kill -STOP "$RUN_PID"
kill -KILL "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
RUN_PID=
sleep 2 # the killed run's walsender lets go of the slot
"$PGCH" drop --tables "$WORK/ra.lua" >"$WORK/drop.out" 2>&1
is "$?" 0 "pgch drop --tables after a run killed during a resync: exit 0"
is "$(ch "SELECT count() FROM system.tables WHERE database = '$CHDB' AND (name = 't' OR name LIKE 't\\_\\_pgch\\_%')")" 0 \
	"pgch drop --tables dropped t and its shadow"
done_testing
