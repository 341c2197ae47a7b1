#!/usr/bin/env bash
# A DBA's slot whose confirmed position is already past the copy's consistent point C is
# refused by pgch run, with the reason (the changes between C and the slot's position would
# be lost). C exists only inside a run (the temporary slot's consistent point), so the case
# is produced deterministically inside one: an open transaction holds pgch's
# CREATE_REPLICATION_SLOT ... TEMPORARY; pgch's ordinary session's backend is stopped
# (SIGSTOP), so pgch's next look at the DBA's slot waits; the transaction ends, the slot is
# made at C, the DBA's slot is advanced past C with pg_replication_slot_advance, and the
# backend continues (SIGCONT). (A lock cannot do it: LOCK TABLE on the pg_replication_slots
# view locks pg_database too, which the walsender needs to finish the slot, and a lock taken
# by DDL gives its transaction an xid the new slot waits for.) pgch check, which has
# no C, reports the slot OK before the run and again after it (a new run takes a new C past
# the slot's position and loses nothing), and that second run is exact.
# exclusive: holds a transaction with an xid open, which every logical slot created meanwhile
# in the cluster waits for
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

SLOT=dba_${T_NAME}
fresh_dbs
pg -c "CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL)" \
	-c "INSERT INTO acct SELECT g, g * 10 FROM generate_series(1, 1000) g" \
	-c "CREATE TABLE marker (i int)" >/dev/null
slot_cleanup() {
	psql -X -q -At -d "$DB" -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null 2>&1
}
SESS_PIDS=() STOPPED=
at_exit 'for p in "${SESS_PIDS[@]}"; do kill $p; done 2>/dev/null; [ -z "$STOPPED" ] || kill -CONT $STOPPED 2>/dev/null'
at_exit slot_cleanup
slot_cleanup
pg -c "SELECT pg_create_logical_replication_slot('$SLOT', 'pgoutput')" >/dev/null
write_config "$WORK/past.lua" "pipe = { name = \"$T_NAME\", slot = \"$SLOT\", sync_interval = 0.5 }" 'tables = { "public.acct" }'

out=$("$PGCH" check "$WORK/past.lua" 2>&1)
like "$out" "OK +replication slot $SLOT exists and is inactive" "check before the run: the DBA's slot is OK (no C exists yet)"

# two psql sessions, each reading its statements from a fifo
session() { # session NAME: psql reading $WORK/NAME.in, writing $WORK/NAME.out; fd per name
	mkfifo "$WORK/$1.in"
	psql -X -q -At -v ON_ERROR_STOP=0 -d "$DB" <"$WORK/$1.in" >"$WORK/$1.out" 2>&1 &
	SESS_PIDS+=($!)
}
out_has() { grep -Eq -- "$2" "$WORK/$1.out" 2>/dev/null; }
session xact
exec 7>"$WORK/xact.in"
session dba
exec 9>"$WORK/dba.in"
echo "INSERT INTO marker VALUES (0); SELECT 'dba ready';" >&9
echo "BEGIN; SELECT 'xid ' || txid_current();" >&7
poll_until 20 out_has xact '^xid [0-9]+' && poll_until 20 out_has dba '^dba ready' ||
	stop_here "the two sessions are connected"

# 1. pgch's temporary slot waits for the open transaction
run_start "$WORK/past.lua"
tmp_waiting() { [ "$(psql -X -q -At -d "$DB" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '${SLOT}_tmp%'")" = 1 ]; }
wait_until 60 "pgch's temporary slot to wait for the open transaction" tmp_waiting ||
	stop_here "pgch creates its temporary slot"
ok "$(! run_has "temporary slot ${SLOT}_tmp[^ ]* created at"; echo $?)" "the temporary slot is not made yet: it waits for the open transaction"

# 2. pgch's ordinary session (not the walsender making the slot) is stopped: its next query waits
STOPPED=$(pg -c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE datname = '$DB' AND application_name LIKE 'pgch%' AND backend_type = 'client backend'")
like "$STOPPED" '^[0-9]+( [0-9]+)*$' "pgch's ordinary session's backend is found ($STOPPED)"
kill -STOP $STOPPED || stop_here "the backend can be stopped (the test needs to signal the server's processes)"

# 3. the transaction ends: the temporary slot is made, at C
echo "COMMIT;" >&7
wait_until 60 "the temporary slot to be made" run_has "temporary slot ${SLOT}_tmp[^ ]* created at" ||
	stop_here "the temporary slot is made"
C=$(tail -n +"$RUN_FROM" "$RUN_LOG" | sed -nE "s/.*temporary slot ${SLOT}_tmp[^ ]* created at ([0-9A-F]+\/[0-9A-F]+),.*/\1/p" | head -1)
like "$C" '^[0-9A-F]+/[0-9A-F]+$' "C, the temporary slot's consistent point, is logged ($C)"

# 4. meanwhile a consumer moves the DBA's slot past C: a commit after C, then the slot to it
echo "SET synchronous_commit = on; INSERT INTO marker VALUES (1); SELECT 'advanced ' || (end_lsn > '$C'::pg_lsn) FROM pg_replication_slot_advance('$SLOT', pg_current_wal_lsn());" >&9
poll_until 30 out_has dba '^advanced ' || stop_here "the DBA's slot is advanced"
is "$(sed -n 's/^advanced //p' "$WORK/dba.out")" true "the DBA's slot now confirms a position past C"
sleep 1
ok "$(kill -0 "$RUN_PID" 2>/dev/null; echo $?)" "pgch run is still waiting to look at the DBA's slot"
ok "$(! run_has "replication slot $SLOT (has confirmed|was not created)"; echo $?)" "... and has not looked yet"

# 5. the backend continues: pgch sees the slot past C and refuses
kill -CONT $STOPPED
STOPPED=
wait_pid "$RUN_PID" 60
st=$WAIT_STATUS
RUN_PID=
is "$st" 1 "pgch run exits 1"
ok "$(run_has "error: replication slot $SLOT has confirmed up to [0-9A-F]+/[0-9A-F]+, past the copy's snapshot at $C: the changes in between would be lost"; echo $?)" \
	"pgch run refuses the slot past C, naming both positions and the reason"
[ "$st" = 1 ] || show_log
no_tmp() { [ "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '${SLOT}_tmp%'")" = 0 ]; }
poll_until 10 no_tmp
ok $? "no temporary slot is left"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND confirmed_flush_lsn > '$C'")" 1 "the DBA's slot is kept, where the consumer left it"
exec 7>&- 9>&-

# pgch check has no C: it reports the slot as before; a new run takes a new C past the
# slot's position, so nothing is lost and the copy and stream are exact
out=$("$PGCH" check "$WORK/past.lua" 2>&1)
like "$out" "OK +replication slot $SLOT exists and is inactive" "check after the refusal: the slot is usable by a new run"
run_start "$WORK/past.lua"
wait_streaming 60
pg -c "UPDATE acct SET balance = balance + 1 WHERE id % 3 = 0" -c "DELETE FROM acct WHERE id <= 10"
wait_same 60 "SELECT count(*), sum(balance) FROM acct" \
	"SELECT count(), sum(balance) FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0" "a new run from the same slot: copy and stream equal"
run_stop
done_testing
