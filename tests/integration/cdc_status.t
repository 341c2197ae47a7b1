#!/usr/bin/env bash
# pgch status (text and --json) before, while and after pgch run: slot active and lag
# present while streaming, tables done with their copied rows, slot inactive and no lag once
# stopped. pgch drop refuses while the pipe runs, then removes slot and publication and
# keeps the ClickHouse tables; pgch drop --tables also drops the tables.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)" -c "INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g" \
	-c "CREATE TABLE t2 (id int PRIMARY KEY, v int NOT NULL)" -c "INSERT INTO t2 SELECT g, g FROM generate_series(1, 500) g"
SLOT=pgch_$T_NAME
write_config "$WORK/s.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = { "public.t", "public.t2" }'

# json FILE PERL-EXPR: a value of pgch status --json ($j is the document; b(X) prints a
# boolean as true/false; undef prints null)
json() {
	perl -MJSON::PP -e 'sub b { ref $_[0] eq "JSON::PP::Boolean" ? ($_[0] ? "true" : "false") : "not a boolean" }
		my $j = eval { decode_json(do { local $/; <STDIN> }) } or do { print "invalid JSON"; exit };
		my $v = eval $ARGV[0]; print defined $v ? $v : "null"' "$2" <"$1"
}
status() { "$PGCH" status "$WORK/s.lua" 2>&1; }
status_json() { "$PGCH" status --json "$WORK/s.lua" >"$WORK/status.json" 2>"$WORK/status.err"; }
slot_exists() { pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }
pub_exists() { pg -c "SELECT count(*) FROM pg_publication WHERE pubname = '$SLOT'"; }
ch_tables() { ch "SELECT name FROM system.tables WHERE database = '$CHDB' AND name IN ('t', 't2') ORDER BY name FORMAT TSV" | tr '\n' ' '; }

# before any run
out=$(status)
ok $? "pgch status works before any run"
like "$out" "pipe $T_NAME: never run" "text: the pipe never ran"
like "$out" "slot $SLOT: does not exist" "text: no slot yet"
status_json
ok $? "pgch status --json works before any run"
is "$(json "$WORK/status.json" '$j->{status} . " " . b($j->{slot}{exists}) . " " . scalar @{$j->{tables}}')" "new false 0" \
	"json: status new, no slot, no tables"

# while running
run_start "$WORK/s.lua"
wait_streaming
pg -c "UPDATE t SET v = v + 1 WHERE id <= 10"
wait_table_equal 30 t id v
out=$(status)
ok $? "pgch status works while pgch run streams"
like "$out" "pipe $T_NAME: streaming" "text: the pipe is streaming"
like "$out" "slot $SLOT: streaming, confirmed [0-9A-F]+/[0-9A-F]+" "text: the slot is active, with its confirmed position"
like "$out" $'replication lag: [0-9]+\\.[0-9] s' "text: the replication lag is shown"
like "$out" 'public\.t +done +1,000 +1/1 +[0-9]{4}-[0-9]{2}-[0-9]{2} ' "text: t is done, 1,000 rows copied, with its last sync"
like "$out" 'public\.t2 +done +500 +1/1 ' "text: t2 is done, 500 rows copied"
status_json
ok $? "pgch status --json works while pgch run streams"
is "$(json "$WORK/status.json" '$j->{status}')" streaming "json: status streaming"
is "$(json "$WORK/status.json" 'b($j->{running}) . " " . b($j->{destination_reachable})')" "true true" "json: a pgch is running the pipe"
like "$out" "pipe $T_NAME: streaming \\(a pgch is running it\\)" "text: says a pgch is running it"
is "$(json "$WORK/status.json" '$j->{slot}{name} . " " . b($j->{slot}{exists}) . " " . b($j->{slot}{active})')" "$SLOT true true" \
	"json: the slot exists and is active"
like "$(json "$WORK/status.json" '$j->{slot}{lag_seconds}')" '^[0-9]+(\.[0-9]+)?$' "json: lag_seconds is a number"
like "$(json "$WORK/status.json" '$j->{slot}{confirmed_flush_lsn}')" '^[0-9A-F]+/[0-9A-F]+$' "json: the confirmed position"
is "$(json "$WORK/status.json" 'join ",", map { "$_->{source}:$_->{target}:$_->{status}:$_->{rows_copied}:$_->{partitions_done}/$_->{partitions}" } sort { $a->{source} cmp $b->{source} } @{$j->{tables}}')" \
	"public.t:t:done:1000:1/1,public.t2:t2:done:500:1/1" "json: both tables done with their rows"
like "$(json "$WORK/status.json" '$j->{tables}[0]{last_sync} . " " . $j->{tables}[0]{seconds_since_sync}')" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} [0-9]+$' "json: last sync and its age"

# drop refuses while running
out=$("$PGCH" drop "$WORK/s.lua" 2>&1)
st=$?
ok $((st == 0)) "pgch drop refuses while pgch run streams (exit $st)"
like "$out" 'in use' "the refusal says the slot is in use"
is "$(slot_exists)|$(pub_exists)" "1|1" "slot and publication are still there"
pg -c "UPDATE t SET v = v + 1 WHERE id <= 20"
wait_table_equal 30 t id v
run_stop

# after stop
out=$(status)
like "$out" "pipe $T_NAME: stopped" "text after stop: the pipe is stopped"
like "$out" "slot $SLOT: inactive" "text after stop: the slot is inactive"
ok "$(! grep -q 'replication lag' <<<"$out"; echo $?)" "text after stop: no replication lag line"
like "$out" 'public\.t +done +1,000 ' "text after stop: t still done"
status_json
is "$(json "$WORK/status.json" 'b($j->{slot}{exists}) . " " . b($j->{slot}{active}) . " " . (defined $j->{slot}{lag_seconds} ? "lag" : "null")')" \
	"true false null" "json after stop: the slot exists, inactive, no lag"
is "$(json "$WORK/status.json" 'join ",", map { $_->{status} } @{$j->{tables}}')" "done,done" "json after stop: tables done"
is "$(json "$WORK/status.json" 'b($j->{running})')" false "json after stop: no pgch is running the pipe"

# ClickHouse unreachable: the slot's side is still shown, and the exit status says something is wrong
sed "s|$CH_URL|http://127.0.0.1:1|" "$WORK/s.lua" >"$WORK/down.lua"
out=$("$PGCH" status "$WORK/down.lua" 2>"$WORK/down.err")
is "$?" 1 "status with ClickHouse unreachable: exit 1"
like "$(cat "$WORK/down.err")" 'ClickHouse at http://127\.0\.0\.1:1' "status with ClickHouse unreachable: says so on stderr"
like "$out" "slot $SLOT: inactive, confirmed [0-9A-F]+/[0-9A-F]+, .* of WAL retained" "status with ClickHouse unreachable: still shows the slot and its retained WAL"
like "$out" "pipe $T_NAME: unknown" "status with ClickHouse unreachable: the pipe's state is unknown"

# drop with ClickHouse unreachable: the slot and publication still go (the source stops
# retaining WAL), and it says what is left to do
out=$("$PGCH" drop "$WORK/down.lua" 2>&1)
is "$?" 1 "drop with ClickHouse unreachable: exit 1"
like "$out" 'the slot and publication are dropped, but the pipe.s recorded progress in ClickHouse could not be: run pgch drop again when ClickHouse is reachable' \
	"drop with ClickHouse unreachable: says what is left"
is "$(slot_exists)|$(pub_exists)" "0|0" "drop with ClickHouse unreachable: slot and publication are gone"
is "$(ch "SELECT count() > 0 FROM $CHDB._pgch_state FINAL WHERE status != 'forgotten' AND pipe = '$T_NAME' AND source_table = 'public.t'")" 1 \
	"drop with ClickHouse unreachable: the progress rows are still there"

# drop: slot and publication go, the tables stay
out=$("$PGCH" drop "$WORK/s.lua" 2>&1)
ok $? "pgch drop succeeds once stopped"
is "$(slot_exists)|$(pub_exists)" "0|0" "the slot and the publication are gone"
is "$(ch_tables)" "t t2 " "the ClickHouse tables are kept"
status_json
is "$(json "$WORK/status.json" 'b($j->{slot}{exists})')" false "json after drop: no slot"

# drop --tables after another run
run_start "$WORK/s.lua"
wait_streaming
run_stop
is "$(slot_exists)|$(pub_exists)" "1|1" "a new run created slot and publication again"
out=$("$PGCH" drop --tables "$WORK/s.lua" 2>&1)
st=$?
ok $st "pgch drop --tables succeeds"
[ $st = 0 ] || diag "$out"
is "$(slot_exists)|$(pub_exists)" "0|0" "slot and publication are gone"
is "$(ch_tables)" "" "the ClickHouse tables are gone too"
done_testing
