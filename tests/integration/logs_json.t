#!/usr/bin/env bash
# --log-format json (and PGCH_LOG_FORMAT=json): every log line of every command and role is
# one JSON object with time, level, role, pid and msg (and the table when there is one);
# the default stays the human format. No secret — the source's password, ClickHouse's
# password — appears in any log line, status, plan or error, in either format.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

PG_SECRET='Pg-Secret-8472-zebra'
CH_SECRET='Ch-Secret-5519-okapi'
fresh_dbs
pg -c "CREATE TABLE orders (id int PRIMARY KEY, note text)" -c "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 2000) g"
cat >"$WORK/j.lua" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$DB", user = "${PGUSER:-postgres}", password = "$PG_SECRET" }
destination = { url = "$CH_URL", database = "$CHDB" }
pipe = { name = "$T_NAME", sync_interval = 1 }
tables = { "public.orders" }
LUA
# the same with a ClickHouse password the server refuses
sed "s|database = \"$CHDB\" }|database = \"$CHDB\", user = \"default\", password = \"$CH_SECRET\" }|" "$WORK/j.lua" >"$WORK/bad.lua"

# every stderr line a JSON object with the fields a shipper indexes
json_lines() { # json_lines FILE: prints "ok N" or what is wrong
	python3 - "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        print("not JSON: " + line.strip()); sys.exit(0)
    for k in ("time", "level", "role", "pid", "msg"):
        if k not in o:
            print("no %s: %s" % (k, line.strip())); sys.exit(0)
    n += 1
print("ok %d" % n)
PY
}

"$PGCH" --log-format json snapshot --keep-slot "$WORK/j.lua" >"$WORK/snapshot.out" 2>"$WORK/snapshot.err"
is "$?" 0 "snapshot with --log-format json: exit 0"
like "$(json_lines "$WORK/snapshot.err")" '^ok [1-9][0-9]*$' "every snapshot log line is a JSON object"
like "$(cat "$WORK/snapshot.err")" '"role":"supervisor","pid":[0-9]+,"msg":"public.orders copied' "the supervisor's lines name their role and pid"

PGCH_LOG_FORMAT=json "$PGCH" run "$WORK/j.lua" >"$WORK/run.out" 2>"$WORK/run.err" &
pid=$!
poll_until 60 grep -q 'streaming from slot' "$WORK/run.err"
pg -c "UPDATE orders SET note = 'changed' WHERE id <= 10"
poll_until 30 eval '[ "$(ch "SELECT count() FROM $CHDB.orders FINAL WHERE note = '"'"'changed'"'"'")" = 10 ]'
ok $? "the stream applied the change"
pg -c "TRUNCATE orders"
poll_until 30 grep -q 'public.orders truncated' "$WORK/run.err"
kill -TERM $pid
wait $pid
is "$?" 0 "run with PGCH_LOG_FORMAT=json: exit 0 on SIGTERM"
like "$(cat "$WORK/run.err")" '"role":"stream","pid":[0-9]+,"table":"public.orders","msg":"public.orders truncated"' \
	"a line about a table carries it as a field"
like "$(json_lines "$WORK/run.err")" '^ok [1-9][0-9]*$' "every run log line (supervisor and stream) is a JSON object"
like "$(cat "$WORK/run.err")" '"role":"stream"' "the stream worker's lines say so"

for cmd in check plan status verify; do
	"$PGCH" --log-format json $cmd "$WORK/j.lua" >"$WORK/$cmd.out" 2>"$WORK/$cmd.err"
	like "$(json_lines "$WORK/$cmd.err")" '^ok [0-9]+$' "$cmd: its log lines are JSON objects"
done
for cmd in check plan status; do
	"$PGCH" --json --log-format json $cmd "$WORK/j.lua" >"$WORK/$cmd.json" 2>>"$WORK/$cmd.err"
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/$cmd.json"
	ok $? "$cmd --json: stdout is one JSON document"
done

# failures, in both formats: a refused ClickHouse password, an unknown database
"$PGCH" --log-format json snapshot "$WORK/bad.lua" >"$WORK/bad.out" 2>"$WORK/bad.err"
ok $(($? == 0)) "a refused ClickHouse password: the snapshot fails"
like "$(json_lines "$WORK/bad.err")" '^ok [1-9]' "its error is a JSON line"
like "$(cat "$WORK/bad.err")" '"level":"error"' "at level error"
"$PGCH" check "$WORK/bad.lua" >"$WORK/bad-check.out" 2>&1
"$PGCH" status "$WORK/bad.lua" >"$WORK/bad-status.out" 2>&1
sed "s/dbname = \"$DB\"/dbname = \"nosuchdb\"/" "$WORK/j.lua" >"$WORK/nodb.lua"
"$PGCH" plan "$WORK/nodb.lua" >"$WORK/nodb.out" 2>&1
"$PGCH" --log-format json plan "$WORK/nodb.lua" >>"$WORK/nodb.out" 2>&1
like "$(cat "$WORK/nodb.out")" 'nosuchdb' "an unknown database is reported"

leaks=$(grep -l -e "$PG_SECRET" -e "$CH_SECRET" "$WORK"/*.out "$WORK"/*.err "$WORK"/*.json 2>/dev/null | xargs -r -n1 basename | paste -sd' ')
is "$leaks" "" "no password in any output, log, status, plan or error (either format)"
ls "$WORK"/*.err "$WORK"/*.out >/dev/null && ok 0 "$(ls "$WORK"/*.err "$WORK"/*.out "$WORK"/*.json | wc -l) files searched"

# the default stays the human format
"$PGCH" plan "$WORK/nodb.lua" 2>&1 | head -1 | grep -q '^pgch: error: '
ok $? "without --log-format the lines are for humans"
"$PGCH" --log-format yaml plan "$WORK/j.lua" >/dev/null 2>"$WORK/fmt.txt"
is "$?" 2 "an unknown log format is a usage error"
like "$(cat "$WORK/fmt.txt")" 'must be text or json, got "yaml"' "and says what is accepted"
done_testing
