#!/usr/bin/env bash
# Operating a running pipe: pgch verify finds a difference, pgch resync repairs it while
# pgch run streams, pgch pause stops consumption (the slot keeps its position) and
# pgch resume catches up.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg -c "CREATE TABLE items (id int PRIMARY KEY, name text)" \
   -c "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g" \
   -c "CREATE TABLE tags (code text PRIMARY KEY, n int)" -c "INSERT INTO tags VALUES ('a', 1), ('b', 2)"
write_config "$WORK/ops.lua" 'pipe = { sync_interval = 1 }' 'tables = { "public.*" }'

# before anything was copied: each table is reported missing, with what to run
out=$("$PGCH" verify "$WORK/ops.lua" 2>"$WORK/verify.err")
is "$?" 1 "verify before any copy: exit 1"
like "$out" 'public\.items +MISSING +.* \| not in ClickHouse' "verify before any copy: items is MISSING"
like "$out" '2 tables are not in ClickHouse database t_ops: copy them with pgch snapshot or pgch run' "verify before any copy: says what to run"
is "$(cat "$WORK/verify.err")" "" "verify before any copy: no raw ClickHouse error"
json=$("$PGCH" verify --json "$WORK/ops.lua")
is "$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); print $j->{ok} ? "true" : "false", " ", join(",", map { $_->{result} } @{$j->{tables}})')" "false MISSING,MISSING" \
	"verify --json before any copy: ok false, both MISSING"
out=$("$PGCH" resync --table public.items "$WORK/ops.lua" 2>&1)
is "$?" 0 "resync before any copy: exit 0"
like "$out" 'public\.items has not been copied yet: pgch run \(or pgch snapshot\) copies it' "resync before any copy: says there is nothing to copy again"
is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "resync before any copy: created nothing in ClickHouse"
for cmd in pause resume; do
	out=$("$PGCH" $cmd "$WORK/ops.lua" 2>&1)
	is "$?" 0 "$cmd before the pipe ever ran: exit 0"
	like "$out" "has never run: there is nothing to $cmd" "$cmd before the pipe ever ran: says so"
done
is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "pause and resume before any run: created nothing in ClickHouse"

"$PGCH" run "$WORK/ops.lua" >"$WORK/run.log" 2>&1 &
pid=$!
wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.5
	done
}
copied() { grep -q "every table is copied" "$WORK/run.log"; }
wait_for 60 copied || { diag "$(cat "$WORK/run.log")"; bail "pgch run did not finish copying"; }

out=$("$PGCH" verify "$WORK/ops.lua")
ok $? "verify: exit 0 when source and destination agree"
like "$out" 'public\.items +OK +1000\|500500\|1\|1000 \| 1000\|500500\|1\|1000' "verify shows count and key sum/min/max on both sides"
like "$out" 'public\.tags +OK +2 \| 2' "tables with text keys are compared by count"

# damage the destination behind pgch's back: an extra row and a lost one
ch_ok "INSERT INTO $CHDB.items (id, name, _pgch_version, _pgch_is_deleted) VALUES (5000, 'ghost', 1, 0)" >/dev/null
ch_ok "INSERT INTO $CHDB.items (id, name, _pgch_version, _pgch_is_deleted) VALUES (7, '', 99999999999, 1)" >/dev/null
out=$("$PGCH" verify "$WORK/ops.lua")
st=$?
ok $((st == 0)) "verify: non-zero exit when a table differs"
like "$out" 'public\.items +DIFFERS' "verify names the table that differs"
json=$("$PGCH" verify --json "$WORK/ops.lua")
is "$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); print $j->{ok} ? "true" : "false", " ", scalar(grep { $_->{result} eq "DIFFERS" } @{$j->{tables}})')" "false 1" "verify --json: ok false, one table differs"

"$PGCH" resync --table public.items "$WORK/ops.lua" >/dev/null 2>&1
ok $? "resync request accepted"
resynced() { "$PGCH" verify "$WORK/ops.lua" >/dev/null 2>&1; }
wait_for 60 resynced
ok $? "the running pipe copied the table again: verify agrees"
like "$(cat "$WORK/run.log")" 'public\.items will be copied again: requested by pgch resync' "the run log says why"
is "$(ch "SELECT count() FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0 AND id IN (7, 5000)")" 1 "the ghost is gone and the lost row is back"

"$PGCH" pause "$WORK/ops.lua" >/dev/null 2>&1
ok $? "pause accepted"
paused() { grep -q "paused by pgch pause" "$WORK/run.log"; }
wait_for 20 paused
ok $? "the running pipe paused"
sleep 2
pg -c "UPDATE items SET name = 'changed while paused' WHERE id = 1"
sleep 4
is "$(ch "SELECT name FROM $CHDB.items FINAL WHERE id = 1")" "item 1" "no change is applied while paused"
is "$(pg -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'pgch_ops'")" "f" "the slot is not consumed while paused"
"$PGCH" resume "$WORK/ops.lua" >/dev/null 2>&1
applied() { [ "$(ch "SELECT name FROM $CHDB.items FINAL WHERE id = 1")" = "changed while paused" ]; }
wait_for 30 applied
ok $? "after resume the change made while paused arrives"

kill -TERM $pid
wait $pid
ok $? "pgch run exits 0 on SIGTERM"
done_testing
