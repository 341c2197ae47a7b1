#!/usr/bin/env bash
# A replication slot the DBA created (pipe.slot names it) is used, not refused: the copy
# reads a temporary slot's snapshot at C, the DBA's slot is moved to C (the changes made
# between its creation and C are in the copy; decoding them could fail when the slot is
# older than the publication) and the changes stream from it: the result is exact. pgch never drops that slot (pgch snapshot's end, pgch drop). A slot
# of another plugin, one in use and one of another database are refused with the reason,
# by pgch check and pgch run alike.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

SLOT=dba_${T_NAME}
fresh_dbs
pg -c "CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL, note text)" \
	-c "INSERT INTO acct SELECT g, g * 10, 'n' || g FROM generate_series(1, 3000) g"
slots_cleanup() {
	for s in "$SLOT" "${SLOT}_td" "${SLOT}_busy"; do
		psql -X -q -At -d "$DB" -c "SELECT pg_drop_replication_slot('$s') FROM pg_replication_slots WHERE slot_name = '$s' AND NOT active" >/dev/null 2>&1
	done
	psql -X -q -At -d postgres -c "SELECT pg_drop_replication_slot('${SLOT}_other') FROM pg_replication_slots WHERE slot_name = '${SLOT}_other'" >/dev/null 2>&1
}
at_exit slots_cleanup
slots_cleanup

# the DBA's slot, then changes before pgch ever runs: they are in the slot and in the copy
pg -c "SELECT pg_create_logical_replication_slot('$SLOT', 'pgoutput')" >/dev/null
pg -c "UPDATE acct SET balance = balance + 1 WHERE id <= 100" -c "DELETE FROM acct WHERE id BETWEEN 201 AND 210" \
	-c "INSERT INTO acct SELECT g, 0, 'early' FROM generate_series(3001, 3050) g" -c "UPDATE acct SET id = id + 10000 WHERE id = 300"
write_config "$WORK/dba.lua" "pipe = { name = \"$T_NAME\", slot = \"$SLOT\", sync_interval = 0.5 }" 'tables = { "public.acct" }'

out=$("$PGCH" check "$WORK/dba.lua" 2>&1)
like "$out" "OK +replication slot $SLOT exists and is inactive" "check: the DBA's slot is OK"

run_start "$WORK/dba.lua"
wait_streaming 60
ok "$(run_has "replication slot $SLOT was not created by pgch: moved from [0-9A-F/]+ to the copy's snapshot at [0-9A-F/]+"; echo $?)" \
	"run says it streams from the DBA's slot, from the copy's temporary snapshot on"
pg -c "UPDATE acct SET balance = balance - 5 WHERE id % 7 = 0" -c "DELETE FROM acct WHERE id BETWEEN 501 AND 520" \
	-c "INSERT INTO acct SELECT g, 1, 'late' FROM generate_series(4001, 4100) g"
wait_same 60 "SELECT count(*), sum(id), sum(balance) FROM acct" \
	"SELECT count(), sum(id), sum(balance) FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0" "copy and stream through the DBA's slot: counts and sums equal"
same_rows "SELECT id, balance, note FROM acct ORDER BY id" \
	"SELECT id, balance, note FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" "every row equal, value by value"
ok "$(! log_has 'error'; echo $?)" "no error in the run's log"
run_stop
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" 1 "the DBA's slot is still there"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '${SLOT}_tmp%'")" 0 "no temporary slot is left"

# a second run continues from it
pg -c "UPDATE acct SET note = 'second' WHERE id <= 50"
run_start "$WORK/dba.lua"
wait_same 60 "SELECT count(*) FROM acct WHERE note = 'second'" \
	"SELECT count() FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0 AND note = 'second'" "a second run resumes from the DBA's slot"
run_stop

# pgch drop leaves it
out=$("$PGCH" drop "$WORK/dba.lua" 2>&1)
ok $? "pgch drop"
like "$out" "kept replication slot $SLOT: pgch did not create it" "drop says it keeps the slot"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" 1 "and the slot is still there"

# pgch snapshot through a DBA's slot keeps it at its end
ch "DROP DATABASE IF EXISTS $CHDB" >/dev/null
out=$("$PGCH" snapshot "$WORK/dba.lua" 2>&1)
ok $? "pgch snapshot with the DBA's slot"
like "$out" "kept replication slot $SLOT \(pgch did not create it\)" "the snapshot's end keeps it"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" 1 "the slot is still there"
same_rows "SELECT count(*), sum(balance) FROM acct" "SELECT count(), sum(balance) FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0" \
	"the snapshot is exact"

# ---------------------------------------------------------------- refused, by check and by run alike
refused() { # refused NAME SLOT CHECK_REGEX RUN_REGEX
	sed "s/slot = \"$SLOT\"/slot = \"$2\"/; s/name = \"$T_NAME\"/name = \"${T_NAME}_$1\"/" "$WORK/dba.lua" >"$WORK/$1.lua"
	local c r st
	c=$("$PGCH" check "$WORK/$1.lua" 2>&1)
	like "$c" "$3" "$1: pgch check says why"
	r=$(timeout 60 "$PGCH" run "$WORK/$1.lua" 2>&1)
	st=$?
	like "$st $r" "^1 .*$4" "$1: pgch run refuses, saying why"
}
pg -c "SELECT pg_create_logical_replication_slot('${SLOT}_td', 'test_decoding')" >/dev/null
refused plugin "${SLOT}_td" "FAIL +replication slot ${SLOT}_td belongs to something else \(plugin test_decoding" \
	"replication slot ${SLOT}_td belongs to something else \(plugin test_decoding, database $DB\)"
psql -X -q -d postgres -c "SELECT pg_create_logical_replication_slot('${SLOT}_other', 'pgoutput')" >/dev/null
refused otherdb "${SLOT}_other" "FAIL +replication slot ${SLOT}_other belongs to something else \(plugin pgoutput, database postgres\)" \
	"replication slot ${SLOT}_other belongs to something else \(plugin pgoutput, database postgres\)"
pg -c "SELECT pg_create_logical_replication_slot('${SLOT}_busy', 'pgoutput')" -c "CREATE PUBLICATION ${T_NAME}_any FOR TABLE acct" >/dev/null
pg_recvlogical -d "$DB" --slot "${SLOT}_busy" --start -o proto_version=1 -o "publication_names=${T_NAME}_any" -f /dev/null &
recv=$!
at_exit "kill $recv 2>/dev/null"
poll_until 10 eval "[ \"\$(pg -c \"SELECT active FROM pg_replication_slots WHERE slot_name = '${SLOT}_busy'\")\" = t ]"
refused busy "${SLOT}_busy" "WARN +replication slot ${SLOT}_busy is in use by another connection" \
	"replication slot ${SLOT}_busy is in use by another process"
kill $recv
wait $recv 2>/dev/null
pg -c "DROP PUBLICATION ${T_NAME}_any"
done_testing
