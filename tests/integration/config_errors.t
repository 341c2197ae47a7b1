#!/usr/bin/env bash
# Bad configurations: each gives exactly one clear line on stderr (with file:line where the
# mistake is in the file), nothing on stdout, a non-zero exit status (2 for configuration
# errors, 1 for servers that cannot be reached), and creates nothing: no ClickHouse database,
# no publication, no replication slot. Checked with pgch snapshot (which would create them)
# and pgch plan.
. "$(dirname "$0")/lib.sh"
unset PGCH_TEST_UNSET_VARIABLE

fresh_dbs
pg <<'SQL'
CREATE TABLE t1 (id int PRIMARY KEY, b text, c int);
CREATE TABLE full_nokey (a int NOT NULL, b text);
ALTER TABLE full_nokey REPLICA IDENTITY FULL;
CREATE TABLE nokey (a int, b text);
CREATE SCHEMA s;
CREATE TABLE s.t1 (id int PRIMARY KEY);
CREATE TABLE public.s_t1 (id int PRIMARY KEY);
SQL
CFG=$WORK/bad.lua

# bad EXIT REGEX DESCRIPTION: run snapshot and plan on $CFG (written by the caller)
bad() {
	local want_st=$1 re=$2 desc=$3 cmd out err st
	for cmd in snapshot plan; do
		out=$("$PGCH" "$cmd" "$CFG" 2>"$WORK/err")
		st=$?
		err=$(cat "$WORK/err")
		if [ "$cmd" = snapshot ]; then
			is "$st" "$want_st" "$desc: exit $want_st"
			like "$err" "^pgch: error: $re" "$desc: the message"
			is "$(printf '%s\n' "$err" | grep -c .)" 1 "$desc: one line on stderr"
			is "$out" "" "$desc: nothing on stdout"
		else
			# libcurl's messages carry the milliseconds a connect took: not part of the message
			is "$st $(sed -E 's/[0-9]+ ms/N ms/g' <<<"$err")" "$want_st $(sed -E 's/[0-9]+ ms/N ms/g' "$WORK/err.snapshot")" "$desc: plan says the same"
		fi
		cp "$WORK/err" "$WORK/err.$cmd"
	done
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'") $(pg -F ' ' -c "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots WHERE database = '$DB')")" \
		"0 0 0" "$desc: nothing created (ClickHouse database, publication, slot)"
}
cfg() { write_config "$CFG" "$@"; } # lines 1-2 are source and destination; yours start at 3

cfg 'tables = { "public.t1" }' 'pipe = { sync_interval = = 5 }'
bad 2 'syntax error: .*bad\.lua:4: unexpected symbol near '"'='" "Lua syntax error"

cfg 'tables = { "public.t1" }' 'pipe = {' '  batch_size = 10,' '  sync_intervall = 5,' '}'
bad 2 ".*bad\\.lua:6: unknown key 'sync_intervall' in pipe; did you mean 'sync_interval'\\?" "unknown key"

cfg 'tables = { "public.t1" }' 'pipe = {' '  batch_size = 10,' '  sync_interval = "ten",' '}'
bad 2 ".*bad\\.lua:6: pipe\\.sync_interval must be a number, got string" "wrong type"

cfg 'tables = { "public.t1" }' 'tabels = { "public.t1" }'
bad 2 ".*bad\\.lua:4: unknown global 'tabels'; did you mean 'tables'\\?" "unknown global"

cfg 'tables = { "public.t1" }' 'pipe = {' '  name = env("PGCH_TEST_UNSET_VARIABLE"),' '}'
bad 2 '.*bad\.lua:5: environment variable PGCH_TEST_UNSET_VARIABLE is not set' "env() of an unset variable"

cfg 'tables = {' '  "public.t1",' '  "public.t2*",' '}'
bad 2 '.*bad\.lua:5: "public\.t2\*" matches no table in database t_config_errors \(did you mean public\.t1\?\)' "a pattern that matches nothing"

cfg 'tables = {' '  "public.t1",' '  "public.nokey",' '}'
bad 2 '.*bad\.lua:5: public\.nokey has no primary key: .*Fix: add a primary key \(ALTER TABLE "public"\."nokey" ADD PRIMARY KEY' \
	"a table with no primary key (REPLICA IDENTITY DEFAULT)"

cfg 'tables = {' '  "public.t1",' '  { "public.full_nokey" },' '}'
bad 2 '.*bad\.lua:5: public\.full_nokey has REPLICA IDENTITY FULL but no primary key: set order_by' \
	"a table with no primary key and no order_by"

cfg 'tables = {' '  { "public.t1",' '    order_by = { "id", "nosuch" } },' '}'
bad 2 '.*bad\.lua:5: public\.t1: order_by names column "nosuch", which public\.t1 does not have' "order_by naming a missing column"

cfg 'tables = {' '  { "public.t1",' '    exclude_columns = { "nosuch" } },' '}'
bad 2 '.*bad\.lua:5: public\.t1: exclude_columns names column "nosuch", which public\.t1 does not have' "exclude_columns naming a missing column"

cfg 'tables = {' '  { "public.t1",' '    types = { b = "Frobnicate" } },' '}'
bad 2 '.*bad\.lua:5: public\.t1\.b: types = "Frobnicate": pgch cannot write Frobnicate' "types naming an unsupported type"

cfg 'tables = {' '  "s.t1",' '  "public.s_t1",' '}'
bad 2 '.*bad\.lua:[45]: (public\.s_t1 and s\.t1|s\.t1 and public\.s_t1) would both be written to ClickHouse table s_t1: set target' \
	"two tables with the same target"

{
	echo "source = { host = \"$PGHOST\", port = $PGPORT, dbname = \"$DB\", user = \"${PGUSER:-postgres}\" }"
	echo "destination = { url = \"http://127.0.0.1:1\", database = \"$CHDB\" }"
	echo 'tables = { "public.t1" }'
} >"$CFG"
bad 1 'ClickHouse at http://127\.0\.0\.1:1: .*(Couldn.t connect|Connection refused)' "an unreachable ClickHouse URL"

{
	echo "source = { host = \"$PGHOST\", port = 1, dbname = \"$DB\", user = \"${PGUSER:-postgres}\" }"
	echo "destination = { url = \"$CH_URL\", database = \"$CHDB\" }"
	echo 'tables = { "public.t1" }'
} >"$CFG"
bad 1 'cannot connect to PostgreSQL at 127\.0\.0\.1:1/t_config_errors as postgres: .*Connection refused' "a wrong PostgreSQL port"

cfg 'tables = {' '  { "public.t1", target = "one" },' '  { "t1", target = "two" },' '}'
bad 2 '.*bad\.lua:5: public\.t1 is listed twice in tables \(lines 4 and 5\): keep one entry' "a table listed twice"

# destination mistakes: the URL is never echoed (it may hold a password)
dest() { # dest LUA-DESTINATION: a config with that destination line
	{
		echo "source = { host = \"$PGHOST\", port = $PGPORT, dbname = \"$DB\", user = \"${PGUSER:-postgres}\" }"
		echo "destination = $1"
		echo 'tables = { "public.t1" }'
	} >"$CFG"
}
dest "{ url = \"http://chuser:SecretPw1@${CH_URL#http://}\", database = \"$CHDB\" }"
bad 2 '.*bad\.lua:2: destination\.url must not hold a user or password: set destination\.user and destination\.password' \
	"credentials in the URL"
is "$(grep -c SecretPw1 "$WORK/err.snapshot" "$WORK/err.plan" | paste -sd' ')" "$WORK/err.snapshot:0 $WORK/err.plan:0" "credentials in the URL: the password is not printed"
dest "{ url = \"htps://chuser:SecretPw1@${CH_URL#http://}\", database = \"$CHDB\" }"
bad 2 '.*bad\.lua:2: destination\.url must start with http:// or https://, not htps://$' "a misspelt scheme"
is "$(grep -c SecretPw1 "$WORK/err.snapshot" "$WORK/err.plan" | paste -sd' ')" "$WORK/err.snapshot:0 $WORK/err.plan:0" "a misspelt scheme: the password is not printed"
dest "{ url = \"$CH_URL/?database=other\", database = \"$CHDB\" }"
bad 2 '.*bad\.lua:2: destination\.url must not have a query string' "a query string in the URL"
dest "{ url = \"$CH_URL\", database = \"\" }"
bad 2 '.*bad\.lua:2: destination\.database must not be empty' "an empty destination database"
dest "{ url = \"$CH_URL\", database = \"$CHDB\", columns = { is_deleted = \"\" } }"
bad 2 '.*bad\.lua:2: destination\.columns\.is_deleted must not be empty' "an empty pgch column name"
dest "{ url = \"$CH_URL\", database = \"$CHDB\", state_table = \"\" }"
bad 2 '.*bad\.lua:2: destination\.state_table must not be empty' "an empty progress table name"
dest "{ url = \"$CH_URL\", database = \"$CHDB\", columns = { version = \"id\" } }"
bad 2 '.*public\.t1 has a column named id, which is pgch.s own version column: name that one otherwise' \
	"a pgch column named like a replicated column"
cfg 'tables = { { "public.t1", target = "_pgch_state" } }'
bad 2 ".*bad\\.lua:3: public\\.t1 would be written to ClickHouse table _pgch_state, which is pgch's progress table" \
	"a target named like the progress table"
cfg 'tables = { { "public.t1", target = "" } }'
bad 2 '.*bad\.lua:3: public\.t1: target must not be empty' "an empty target"

# the good config next to them works, so the errors above came from the mistakes
cfg 'tables = { "public.t1" }'
"$PGCH" plan "$CFG" >/dev/null 2>&1
ok $? "the same config without the mistake is accepted"
done_testing
