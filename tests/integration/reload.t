#!/usr/bin/env bash
# SIGHUP: pgch run re-reads its config. A table added to it joins the publication and is
# copied while the others keep streaming under load, and ends equal; a table removed leaves
# the publication and stops receiving changes (its ClickHouse table stays). A config that no
# longer loads, and one that changes what only a restart can (the destination), are
# reported and the running pipe keeps its config and keeps streaming. A source table dropped
# while streaming shows in pgch status as source_dropped at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE a (id bigserial PRIMARY KEY, v int)" -c "INSERT INTO a (v) SELECT g FROM generate_series(1, 2000) g" \
	-c "CREATE TABLE b (id int PRIMARY KEY, note text)" -c "INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 20000) g" -c "ANALYZE"
conf() { # conf TABLES...: the pipe's config with these tables
	local list
	list=$(printf '"public.%s", ' "$@")
	write_config "$WORK/r.lua" "pipe = { name = \"$T_NAME\", sync_interval = 0.5 }" "tables = { ${list%, } }"
}
conf a
run_start "$WORK/r.lua"
wait_streaming 60

# load on both tables for the whole test
load() {
	local i=0
	while :; do
		i=$((i + 1))
		psql -X -q -d "$DB" -c "INSERT INTO a (v) VALUES ($i)" -c "UPDATE b SET note = 'load $i' WHERE id = $((i % 20000 + 1))" >/dev/null 2>&1 || break
		sleep 0.05
	done
}
load &
loader=$!
at_exit "kill $loader 2>/dev/null"

# ---------------------------------------------------------------- a table added
conf a b
kill -HUP "$RUN_PID"
wait_until 30 "the reload" run_has 'reloading: tables added: public\.b; removed: none' || stop_here "SIGHUP reloads the config"
ok 0 "SIGHUP: the log names the table added"
wait_until 60 "b to be copied" run_has 'public\.b copied: '
ok $? "the added table is copied"
wait_until 30 "a's stream to go on" eval "[ \"\$(ch \"SELECT max(id) FROM $CHDB.a FINAL\")\" -gt \"\$(pg -c 'SELECT max(id) - 50 FROM a')\" ]"
ok $? "a keeps streaming after the reload"
is "$(pg -c "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'pgch_$T_NAME'")" "a,b" \
	"b is in the publication"

# ---------------------------------------------------------------- a config that no longer loads
echo 'tables = {' >>"$WORK/r.lua"
kill -HUP "$RUN_PID"
wait_until 30 "the refusal" run_has 'r\.lua no longer loads \(see above\): pgch run keeps its running config'
ok $? "a broken config: reported, the running config kept"
# ---------------------------------------------------------------- a row hook that fails on the table's rows
conf a b
echo 'function on_row(t, row) row.id = row.id + 1; return row end' >>"$WORK/r.lua"
kill -HUP "$RUN_PID"
wait_until 30 "the refusal" run_has 'cannot be replicated as configured \(see above\): pgch run keeps its running config'
ok $? "a hook that fails on the first rows: reported at the reload, the running config kept"
ok "$(run_has 'on_row\(public\.a\), row with id = [0-9]+: on_row changed id, a key .*r\.lua:[0-9]+'; echo $?)" "... naming the row and the hook's file:line"
# ---------------------------------------------------------------- a change that takes a restart
conf a b
sed -i "s/database = \"$CHDB\"/database = \"${CHDB}_other\"/" "$WORK/r.lua"
kill -HUP "$RUN_PID"
wait_until 30 "the refusal" run_has 'destination changed, which takes a restart of pgch run'
ok $? "a changed destination: reported, the running config kept"
n=$(ch "SELECT count() FROM $CHDB.a FINAL")
wait_until 30 "a to keep streaming" eval "[ \"\$(ch \"SELECT count() FROM $CHDB.a FINAL\")\" -gt $n ]"
ok $? "the pipe keeps streaming after both refusals"

# ---------------------------------------------------------------- a table removed
conf b
kill -HUP "$RUN_PID"
wait_until 30 "the reload" run_has 'reloading: tables added: none; removed: public\.a'
ok $? "a table removed: the log says so"
wait_until 30 "a to leave the publication" eval "[ \"\$(pg -c \"SELECT string_agg(tablename, ',') FROM pg_publication_tables WHERE pubname = 'pgch_$T_NAME'\")\" = b ]"
ok $? "a leaves the publication"
sleep 2 # what a's stream had in flight
n=$(ch "SELECT count() FROM $CHDB.a FINAL")
pg -c "INSERT INTO a (v) SELECT g FROM generate_series(1, 100) g"
kill $loader
wait $loader 2>/dev/null
wait_same 60 "SELECT count(*), sum(id), string_agg(note, ',' ORDER BY id) FROM b" \
	"SELECT count(), sum(id), arrayStringConcat(groupArray(note), ',') FROM (SELECT id, note FROM $CHDB.b FINAL WHERE _pgch_is_deleted = 0 ORDER BY id)" \
	"b, added under load, ends equal to the source, value by value"
is "$(ch "SELECT count() FROM $CHDB.a FINAL")" "$n" "a, removed, receives no more changes"
is "$(ch "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name = 'a'")" 1 "and its ClickHouse table stays"

# ---------------------------------------------------------------- pgch drop --table: the removed table's ClickHouse table
out=$("$PGCH" drop "$WORK/r.lua" --table public.b --tables 2>&1)
is "$?" 2 "pgch drop --table of a table the config still selects: refused"
like "$out" 'public\.b is still one of the tables .* selects: remove it from the config' "... saying to remove it from the config first"
out=$("$PGCH" drop "$WORK/r.lua" --table public.a 2>&1)
is "$?" 2 "pgch drop --table without --tables: refused"
like "$out" 'add --tables to say so' "... asking for --tables"
out=$("$PGCH" drop "$WORK/r.lua" --table public.a --tables 2>&1)
is "$?" 0 "pgch drop --table public.a --tables, while pgch run streams b"
[ "$?" = 0 ] || diag "$out"
is "$(ch "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name IN ('a', 'b')")" 1 "a's ClickHouse table is dropped, b's stays"
is "$(ch "SELECT count() FROM $CHDB._pgch_state FINAL WHERE pipe = '$T_NAME' AND source_table = 'public.a' AND status != 'forgotten'")" 0 \
	"a's recorded progress is forgotten"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgch_$T_NAME'") $(pg -c "SELECT string_agg(tablename, ',') FROM pg_publication_tables WHERE pubname = 'pgch_$T_NAME'")" \
	"1 b" "the slot and the publication (of b) stay"
pg -c "INSERT INTO b VALUES (900001, 'after drop')"
wait_same 60 "SELECT count(*) FROM b" "SELECT count() FROM $CHDB.b FINAL WHERE _pgch_is_deleted = 0" "b keeps streaming"

# ---------------------------------------------------------------- a source table dropped while streaming
pg -c "DROP TABLE b"
out=$("$PGCH" status "$WORK/r.lua" 2>&1)
like "$out" 'public\.b +source_dropped' "status: a table dropped at the source shows as source_dropped at once"
like "$out" 'the source table is gone: nothing more arrives for it' "... with what to do"
"$PGCH" status --json "$WORK/r.lua" >"$WORK/st.json" 2>/dev/null
is "$(python3 -c 'import json,sys; print(",".join(t["source"] + "=" + t["status"] for t in json.load(open(sys.argv[1]))["tables"] if t["source"] == "public.b"))' "$WORK/st.json")" \
	"public.b=source_dropped" "status --json says so too"
run_stop
done_testing
