#!/usr/bin/env bash
# pgch snapshot stopped by SIGTERM while it applies the changes made during the copy, with
# ClickHouse away (issue 8): it exits 3 (incomplete) within seconds instead of retrying
# forever, and a second pgch snapshot completes with the destination equal to the source.
#
# To catch the catch-up with work still to do, without racing it: pgch runs in a process
# group of its own; a large update is made while the snapshot worker is held still (SIGSTOP
# as soon as it exists, so the changes certainly fall in the copy); when the log says the catch-up starts, the whole group is
# stopped (SIGSTOP), ClickHouse is stopped, and the group continued: the catch-up then meets
# ClickHouse's absence and retries. Only then is pgch (the supervisor alone) sent SIGTERM.
# exclusive: stops the shared ClickHouse
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

[ -n "${CH_DIR:-}" ] || bail "CH_DIR is not set: run under scripts/with-servers.sh"
CH_SH=$ROOT/scripts/ch.sh
ch_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$CH_URL/?query=SELECT%201")" = 200 ]; }
# other test files share this ClickHouse: never leave it stopped
at_exit 'ch_up || "$CH_SH" start "$CH_DIR" >/dev/null'
at_exit '[ -n "$RUN_PID" ] && kill -CONT -- "-$RUN_PID" 2>/dev/null'

N=200000
fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL)" \
	-c "INSERT INTO t SELECT g, 0, repeat('x', 20) || g FROM generate_series(1, $N) g" -c "ANALYZE t"
write_config "$WORK/s.lua" \
	"pipe = { name = \"$T_NAME\", snapshot = { workers = 1, rows_per_partition = $((N / 8)) } }" \
	'tables = { "public.t" }'

RUN_FROM=1
setsid "$PGCH" snapshot "$WORK/s.lua" >"$RUN_LOG" 2>&1 &
RUN_PID=$!
# the snapshot is exported before the worker starts: what changes while it is held is not in the copy
snapshot_worker() { worker=$(pgrep -x pgch-snapshot -P "$RUN_PID" | head -n 1); [ -n "$worker" ]; }
poll_until 60 snapshot_worker || stop_here "a snapshot worker started"
kill -STOP "$worker"
pg -c "UPDATE t SET v = v + 1" -c "UPDATE t SET v = v + 1 WHERE id % 2 = 0" \
	-c "DELETE FROM t WHERE id % 1000 = 7" -c "INSERT INTO t SELECT g, 5, 'new' FROM generate_series($N + 1, $N + 500) g" >/dev/null
ok "$(! log_has 'public\.t copied:'; echo $?)" "the changes were made while the copy was still running"
kill -CONT "$worker"

poll_until 120 log_has 'applying the changes made during the copy' || stop_here "the catch-up started"
kill -STOP -- "-$RUN_PID"
"$CH_SH" stop "$CH_DIR"
ok "$(! ch_up; echo $?)" "ClickHouse is down during the catch-up"
kill -CONT -- "-$RUN_PID"
wait_until 60 "the catch-up to meet ClickHouse's absence" log_has 'retrying with backoff' || stop_here "the catch-up retried"
ok "$(! log_has 'snapshot complete'; echo $?)" "the snapshot is not complete yet"

t0=$SECONDS
kill -TERM "$RUN_PID"
wait_pid "$RUN_PID" 10
st=$WAIT_STATUS
group=$RUN_PID
RUN_PID=
is "$st" 3 "pgch snapshot stopped by SIGTERM during the catch-up exits 3 (incomplete)"
diag "it exited $((SECONDS - t0)) s after SIGTERM"
[ "$st" = 3 ] || show_log
like "$(tail -n 5 "$RUN_LOG")" 'snapshot incomplete.*run the same command again' "the log says the snapshot is incomplete and how to continue"
no_children() { [ -z "$(pgrep -g "$group")" ]; } # its workers stay in its process group
poll_until 10 no_children
ok $? "no pgch process is left"
pgrep -g "$group" -a | sed 's/^/# left: /'

"$CH_SH" start "$CH_DIR" >/dev/null
poll_until 30 ch_up
ok $? "ClickHouse is back"
is "$(ch "SELECT status FROM $CHDB._pgch_state FINAL WHERE source_table = '' AND part = -1")" snapshotting \
	"the pipe is still recorded as snapshotting"

RUN_FROM=$(($(wc -l <"$RUN_LOG") + 1))
timeout 180 "$PGCH" snapshot "$WORK/s.lua" >>"$RUN_LOG" 2>&1
st=$?
is "$st" 0 "a second pgch snapshot completes"
[ "$st" = 0 ] || show_log
like "$(tail -n +"$RUN_FROM" "$RUN_LOG")" 'applying the changes made during the copy' "it applies the changes the first one did not"
same_rows "SELECT count(*), sum(id), sum(v), count(*) FILTER (WHERE pad = 'new') FROM t" \
	"SELECT count(), sum(id), sum(v), countIf(pad = 'new') FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0" \
	"count, sums and inserted rows equal PostgreSQL's"
same_sample t "id, v, pad" id "id % 997 = 3 OR id % 1000 = 7" "a sample of rows equals PostgreSQL's, deleted ones absent"
is "$(ch "SELECT status FROM $CHDB._pgch_state FINAL WHERE source_table = '' AND part = -1")" done "the pipe is recorded done"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgch_$T_NAME'")" 0 "the slot is dropped (no --keep-slot)"
done_testing
