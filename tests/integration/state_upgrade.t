#!/usr/bin/env bash
# A _pgch_state table written by a pgch older than its typed columns (slot_kept,
# unrepresentable): those facts were text in `info` ("slot kept", "unrepresentable values:
# N"). The new pgch reads them from there for such rows, pgch status adds nothing to the
# table, and the first pgch run adds the columns (ClickHouse 18.16 has no ADD COLUMN IF NOT
# EXISTS) and continues from the kept slot; a row that says "slot dropped" is read as such.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v text)" -c "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g"
write_config "$WORK/u.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = { "public.t" }'
"$PGCH" snapshot --keep-slot "$WORK/u.lua" >"$WORK/snap.log" 2>&1
is "$?" 0 "set-up: pgch snapshot --keep-slot copies"
typed() { ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = '_pgch_state' AND name IN ('slot_kept', 'unrepresentable')"; }
is "$(typed)" 2 "a new state table has the typed columns"

# the state table as the older pgch left it: no typed columns, the facts in info
ch_ok "ALTER TABLE $CHDB._pgch_state DROP COLUMN slot_kept" >/dev/null &&
	ch_ok "ALTER TABLE $CHDB._pgch_state DROP COLUMN unrepresentable" >/dev/null
ok $? "set-up: the typed columns dropped"
old_row() { # old_row SOURCE_TABLE TARGET STATUS ROWS LSN INFO: a row with the older pgch's columns only
	local seq
	seq=$(ch "SELECT max(seq) + 1 FROM $CHDB._pgch_state")
	ch_ok "INSERT INTO $CHDB._pgch_state (pipe, source_table, part, target, leaf, range_start, range_end, status, rows, snapshot_lsn, info, seq)
	       VALUES ('$T_NAME', '$1', -1, '$2', '', 0, 0, '$3', $4, $5, '$6', $seq)" >/dev/null
}
lsn=$(ch "SELECT snapshot_lsn FROM $CHDB._pgch_state FINAL WHERE source_table = '' AND part = -1")
old_row "" "" done 0 "$lsn" "slot kept"
old_row public.t t done 1000 "$lsn" "unrepresentable values: 7"
is "$(ch "SELECT info FROM $CHDB._pgch_state FINAL WHERE source_table = '' AND part = -1")" "slot kept" "set-up: the pipe row says \"slot kept\" in info only"

out=$("$PGCH" status --json "$WORK/u.lua" 2>&1)
like "$out" '"source": "public.t".*"status": "done".*"unrepresentable_values": 7[,}]' \
	"pgch status reads the unrepresentable count of an old row"
like "$out" '^\{"pipe": "[a-z_]+", "status": "done"' "and the pipe's status (done)"
is "$(typed)" 0 "pgch status changed nothing in ClickHouse"

run_start "$WORK/u.lua"
wait_until 60 "pgch run to resume from the kept slot" run_has 'resuming: slot pgch_[a-z_]+ is at' ||
	stop_here "pgch run resumes from the slot the old row says was kept"
like "$(cat "$RUN_LOG")" 'added column slot_kept to the state table' "pgch run added slot_kept"
like "$(cat "$RUN_LOG")" 'added column unrepresentable to the state table' "and unrepresentable"
is "$(typed)" 2 "the state table has the typed columns now"
wait_streaming 60
pg -c "INSERT INTO t VALUES (1001, 'after the upgrade')" -c "DELETE FROM t WHERE id = 1" >/dev/null
wait_table_equal 60 t id
run_stop
out=$("$PGCH" status --json "$WORK/u.lua" 2>&1)
like "$out" '"unrepresentable_values": 7[,}]' "the unrepresentable count survived the upgrade"
is "$(ch "SELECT unrepresentable FROM $CHDB._pgch_state FINAL WHERE source_table = 'public.t' AND part = -1")" 7 \
	"and is in its typed column"

# an old row that says the snapshot dropped its slot: pgch run refuses, as it did
old_row "" "" done 0 "$lsn" "slot dropped"
out=$("$PGCH" run "$WORK/u.lua" 2>&1)
is "$?" 1 "pgch run after an old \"slot dropped\" row exits 1"
like "$out" 'finished without keeping its replication slot' "it reads the old row as a dropped slot"
done_testing
