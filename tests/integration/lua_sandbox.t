#!/usr/bin/env bash
# The Lua sandbox as a user meets it (orchestrator/sandbox.c): print in a config or a hook
# goes to stderr, so --json output on stdout still parses; setmetatable(_G, nil) and rawset
# cannot unlock the global table, so a misspelt global is still an error naming it; and a
# runaway loop or allocation, in the config's own code or in an on_table hook, stops within
# seconds with one error line naming the file:line and the limit, exit status 2, nothing
# created.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg -c "CREATE TABLE t1 (id int PRIMARY KEY, v text)" >/dev/null
CFG=$WORK/bad.lua
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)'; }

# ---------------------------------------------------------------- print
write_config "$CFG" 'tables = { "public.t1" }' 'print("hello from the config", 42)' \
	'function on_table(t)' '  print("hook sees " .. t.source)' 'end'
for cmd in plan check; do
	"$PGCH" "$cmd" --json "$CFG" >"$WORK/out" 2>"$WORK/err"
	st=$?
	json_ok <"$WORK/out"
	ok $? "print in a config and a hook: $cmd --json still prints valid JSON on stdout"
	[ "$cmd" = plan ] && is "$st" 0 "print in a config and a hook: plan --json exits 0"
	like "$(cat "$WORK/err")" 'bad\.lua:4: hello from the config	42' "$cmd: the config's print is on stderr with its file:line"
	like "$(cat "$WORK/err")" 'bad\.lua:6: hook sees public\.t1' "$cmd: the hook's print is on stderr with its file:line"
	is "$(grep -c 'hello from the config\|hook sees' "$WORK/out")" 0 "$cmd: nothing printed reaches stdout"
done

# ---------------------------------------------------------------- configs that must fail
# bad EXIT REGEX DESCRIPTION: plan and check --json on $CFG give one line matching REGEX,
# within 30 seconds, nothing on stdout, nothing created
bad() {
	local want_st=$1 re=$2 desc=$3 cmd st start
	for cmd in plan "check --json"; do
		start=$SECONDS
		# shellcheck disable=SC2086
		timeout -k 5 60 "$PGCH" $cmd "$CFG" >"$WORK/out" 2>"$WORK/err"
		st=$?
		is "$st" "$want_st" "$desc: $cmd exits $want_st"
		like "$(cat "$WORK/err")" "^pgch: error: [^ ]*$re" "$desc: $cmd says so"
		is "$(grep -c . "$WORK/err")" 1 "$desc: $cmd writes one line"
		is "$(cat "$WORK/out")" "" "$desc: $cmd prints nothing on stdout"
		ok "$([ $((SECONDS - start)) -lt 30 ]; echo $?)" "$desc: $cmd is done in seconds ($((SECONDS - start)) s)"
	done
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'") $(pg -F ' ' -c "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots WHERE database = '$DB')")" \
		"0 0 0" "$desc: nothing created"
}
# write_config writes two lines, so the caller's start at line 3
cfg() { write_config "$CFG" 'tables = { "public.t1" }' "$@"; }

cfg 'setmetatable(_G, nil)' 'tabels = { "public.t1" }'
bad 2 "bad\\.lua:4: cannot change a protected metatable" "setmetatable(_G, nil)"
cfg 'pcall(setmetatable, _G, nil)' 'tabels = { "public.t1" }'
bad 2 "bad\\.lua:5: unknown global 'tabels'; did you mean 'tables'\\?" "a misspelt global after a caught setmetatable(_G, nil)"
cfg 'rawset(_G, "tabels", { "public.t1" })'
bad 2 "bad\\.lua:4: rawset cannot change a protected table" "rawset(_G, ...)"
cfg 'pcall(rawset, _G, "tabels", { "public.t1" })' 'local n = #tabels'
bad 2 "bad\\.lua:5: undefined variable 'tabels'" "a misspelt global after a caught rawset(_G, ...)"
cfg 'pgch.live_view = function() end'
bad 2 "bad\\.lua:4: pgch is read-only" "replacing a pgch helper"

cfg 'local n = 0' 'while true do' '  n = n + 1' 'end'
bad 2 "bad\\.lua:[56]: more than 200 million Lua instructions \\(the limit\\): is there an endless loop\\?" \
	"a runaway loop in the config"
cfg 'local t = {}' 'while true do' '  t[#t + 1] = ("x"):rep(1000) .. #t' 'end'
bad 2 "bad\\.lua:6: more than 64 MB of Lua memory \\(the limit\\)" "a runaway allocation in the config"

# in a hook: plan (and snapshot, which would create things) stop; check reports it as a FAIL
hookbad() { # hookbad REGEX DESCRIPTION LUA-LINES...
	local re=$1 desc=$2 cmd st start
	shift 2
	cfg "$@"
	for cmd in plan snapshot; do
		start=$SECONDS
		timeout -k 5 60 "$PGCH" "$cmd" "$CFG" >"$WORK/out" 2>"$WORK/err"
		st=$?
		is "$st" 2 "$desc: $cmd exits 2"
		like "$(cat "$WORK/err")" "^pgch: error: on_table\\(public\\.t1\\) failed: [^ ]*$re" "$desc: $cmd says so"
		is "$(grep -c . "$WORK/err")" 1 "$desc: $cmd writes one line"
		ok "$([ $((SECONDS - start)) -lt 30 ]; echo $?)" "$desc: $cmd is done in seconds ($((SECONDS - start)) s)"
	done
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'") $(pg -F ' ' -c "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots WHERE database = '$DB')")" \
		"0 0 0" "$desc: nothing created"
	timeout -k 5 60 "$PGCH" check --json "$CFG" >"$WORK/out" 2>"$WORK/err"
	st=$?
	is "$st" 1 "$desc: check exits 1 (a FAIL finding)"
	python3 -c '
import json, re, sys
j = json.load(sys.stdin)
fails = [c["detail"] for c in j["checks"] if c["status"] == "FAIL"]
sys.exit(0 if any(re.search(sys.argv[1], d) for d in fails) else 1)' "on_table\\(public\\.t1\\) failed: [^ ]*$re" <"$WORK/out"
	st=$?
	ok "$st" "$desc: check --json is valid JSON with a FAIL naming it"
	[ "$st" = 0 ] || diag "$(cat "$WORK/out")"
}
hookbad "bad\\.lua:6: more than 200 million Lua instructions \\(the limit\\)" "a runaway loop in on_table" \
	'function on_table(t)' '  local n = 0' '  while true do n = n + 1 end' 'end'
hookbad "bad\\.lua:6: more than 64 MB of Lua memory \\(the limit\\)" "a runaway allocation in on_table" \
	'function on_table(t)' '  local big = {}' '  while true do big[#big + 1] = t.source:rep(100) .. #big end' 'end'
hookbad "bad\\.lua:5: more than 200 million Lua instructions \\(the limit\\)" "a runaway loop in on_table inside pcall" \
	'function on_table(t)' '  while true do pcall(function() while true do end end) end' 'end'

# the same config without the runaway is accepted, so the errors above came from it
cfg 'function on_table(t) local n = 0 for i = 1, 1000 do n = n + i end end'
"$PGCH" plan "$CFG" >/dev/null 2>&1
ok $? "the config without the runaway is accepted"
done_testing
