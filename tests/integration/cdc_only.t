#!/usr/bin/env bash
# initial_load = false: CDC-only tables. A table so marked (per table, or pipe-wide with a
# per-table override) is created in ClickHouse and receives the changes made from the
# start of the pipe on, without its existing rows being copied; `pgch plan` says so. Updates
# and deletes of rows that were never copied arrive as full rows and deletes. A resync of
# such a table copies it all the same (its rows are then needed). A wrong value is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE loaded (id int PRIMARY KEY, note text)" \
	-c "INSERT INTO loaded SELECT g, 'old ' || g FROM generate_series(1, 1000) g" \
	-c "CREATE TABLE copied (id int PRIMARY KEY, note text)" \
	-c "INSERT INTO copied SELECT g, 'c' || g FROM generate_series(1, 500) g" -c "ANALYZE"

write_config "$WORK/c.lua" "pipe = { name = \"$T_NAME\", sync_interval = 0.5, initial_load = false }" \
	'tables = { { "public.loaded" }, { "public.copied", initial_load = true } }'

# ---------------------------------------------------------------- wrong values
write_config "$WORK/bad.lua" "pipe = { name = \"$T_NAME\", initial_load = \"no\" }" 'tables = { "public.loaded" }'
out=$("$PGCH" plan "$WORK/bad.lua" 2>&1)
like "$? $out" '^2 .*pipe\.initial_load must be (a boolean|true or false)' "pipe.initial_load = \"no\" is refused"
write_config "$WORK/bad2.lua" "pipe = { name = \"$T_NAME\" }" 'tables = { { "public.loaded", initial_load = 0 } }'
out=$("$PGCH" plan "$WORK/bad2.lua" 2>&1)
like "$? $out" '^2 .*public\.loaded: initial_load must be true or false, got number' "a table's initial_load = 0 is refused"

# ---------------------------------------------------------------- plan
out=$("$PGCH" plan "$WORK/c.lua" 2>&1)
block() { awk -v t="$1" '/^public\./ { on = index($0, t " ->") == 1 } on' <<<"$out"; }
like "$(block public.loaded)" '^public\.loaded -> [^ ]*\.loaded \(~1000 rows, not copied\)' "plan: loaded is not copied"
like "$(block public.loaded)" '^  no initial copy \(initial_load = false\): only changes from now on are streamed' "... and says why"
ok "$(! grep -q 'partition 0' <<<"$(block public.loaded)"; echo $?)" "... with no partition listed"
like "$(block public.copied)" 'partition 0: "public"\."copied"' "plan: copied is copied"
js=$("$PGCH" --json plan "$WORK/c.lua" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s=%s" % (t["source"], t["initial_load"]) for t in d["tables"]))')
is "$js" "public.copied=True public.loaded=False" "plan --json: initial_load per table"

# ---------------------------------------------------------------- run
run_start "$WORK/c.lua"
wait_streaming 60
is "$(ch "SELECT count() FROM $CHDB.loaded")" 0 "loaded: created, no row copied"
is "$(ch "SELECT count() FROM $CHDB.copied FINAL WHERE _pgch_is_deleted = 0")" 500 "copied: every row copied"
pg -c "INSERT INTO loaded SELECT g, 'new ' || g FROM generate_series(1001, 1100) g" \
	-c "UPDATE loaded SET note = 'changed' WHERE id BETWEEN 11 AND 30" \
	-c "DELETE FROM loaded WHERE id BETWEEN 41 AND 45" \
	-c "UPDATE copied SET note = 'changed' WHERE id <= 10"
# what ClickHouse must hold: the rows changed since the pipe started, as they are now
changed="id > 1000 OR id BETWEEN 11 AND 30"
wait_same 60 "SELECT count(*), sum(id) FROM loaded WHERE $changed" \
	"SELECT count(), sum(id) FROM $CHDB.loaded FINAL WHERE _pgch_is_deleted = 0" "loaded: the changes arrived"
same_rows "SELECT id, note FROM loaded WHERE $changed ORDER BY id" \
	"SELECT id, note FROM $CHDB.loaded FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
	"loaded holds exactly the rows changed since the start, value by value"
is "$(ch "SELECT groupArray(id) FROM (SELECT id FROM $CHDB.loaded FINAL WHERE _pgch_is_deleted = 1 ORDER BY id)")" \
	"[41,42,43,44,45]" "deletes of rows never copied arrive as deletes"
wait_same 30 "SELECT count(*) FROM copied WHERE note = 'changed'" \
	"SELECT count() FROM $CHDB.copied FINAL WHERE _pgch_is_deleted = 0 AND note = 'changed'" "copied: changes stream as usual"

# a resync copies a CDC-only table all the same
"$PGCH" resync --table public.loaded "$WORK/c.lua" >"$WORK/resync.out" 2>&1
ok $? "pgch resync --table public.loaded"
wait_same 90 "SELECT count(*), sum(id) FROM loaded" \
	"SELECT count(), sum(id) FROM $CHDB.loaded FINAL WHERE _pgch_is_deleted = 0" "after a resync, loaded holds every row"
run_stop
done_testing
