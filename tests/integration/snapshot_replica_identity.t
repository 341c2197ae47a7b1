#!/usr/bin/env bash
# Replica identity (ARCHITECTURE.md, "Consistency"): a selected table without a usable one (no primary key with
# REPLICA IDENTITY DEFAULT, or REPLICA IDENTITY NOTHING) is refused by plan and snapshot with a
# message naming the table and the statement that fixes it; nothing is created (no ClickHouse
# database, no publication, no slot), so the application's UPDATE/DELETE on it still work.
# REPLICA IDENTITY FULL with order_by is accepted and copied.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE nopk (a int, b text);
INSERT INTO nopk SELECT g, 'b' || g FROM generate_series(1, 100) g;
CREATE TABLE nothing_t (id int PRIMARY KEY, b text);
ALTER TABLE nothing_t REPLICA IDENTITY NOTHING;
INSERT INTO nothing_t SELECT g, 'b' || g FROM generate_series(1, 10) g;
CREATE TABLE withpk (id int PRIMARY KEY, b text);
INSERT INTO withpk SELECT g, 'b' || g FROM generate_series(1, 10) g;
SQL
is "$(pg -c "SELECT relreplident FROM pg_class WHERE relname = 'nopk'")" d "set-up: nopk has REPLICA IDENTITY DEFAULT and no primary key"

nothing_created() { # nothing_created DESCRIPTION
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "$1: no ClickHouse database"
	is "$(pg -c "SELECT count(*) FROM pg_publication")" 0 "$1: no publication"
	is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" 0 "$1: no replication slot"
}
refused() { # refused TABLE TABLES-LUA MESSAGE-REGEX
	write_config "$WORK/ri.lua" "tables = { $2 }"
	local cmd out st
	for cmd in plan snapshot; do
		out=$("$PGCH" "$cmd" "$WORK/ri.lua" 2>&1)
		st=$?
		ok $((st == 0)) "$cmd refuses $1 (exit $st)"
		like "$out" "$3" "$cmd: the message names $1 and the fix"
		is "$(printf '%s\n' "$out" | grep -c .)" 1 "$cmd: one line of output"
	done
	nothing_created "$1"
}

refused public.nopk '"public.*", exclude = { "public.nothing_t" }' \
	'public\.nopk has no primary key: publishing it would make its UPDATEs and DELETEs fail on the source\. Fix: add a primary key \(ALTER TABLE "public"\."nopk" ADD PRIMARY KEY \(\.\.\.\)\), or ALTER TABLE "public"\."nopk" REPLICA IDENTITY FULL and set order_by'
refused public.nothing_t '"public.withpk", "public.nothing_t"' \
	'public\.nothing_t has REPLICA IDENTITY NOTHING: .* Fix: ALTER TABLE "public"\."nothing_t" REPLICA IDENTITY DEFAULT'

# the source still works: UPDATE and DELETE on the refused tables succeed
pg -c "UPDATE nopk SET b = 'changed' WHERE a <= 10" -c "DELETE FROM nopk WHERE a > 90"
ok $? "UPDATE and DELETE on nopk still work"
is "$(pg -c "SELECT count(*), count(*) FILTER (WHERE b = 'changed') FROM nopk")" "90|10" "and changed the rows"

# REPLICA IDENTITY FULL with order_by: accepted; plan shows the ORDER BY; contents equal
pg <<'SQL'
ALTER TABLE nopk ALTER COLUMN a SET NOT NULL;
ALTER TABLE nopk REPLICA IDENTITY FULL;
SQL
write_config "$WORK/full.lua" 'tables = { { "public.nopk", order_by = { "a" } } }'
plan=$("$PGCH" plan "$WORK/full.lua" 2>&1)
ok $? "plan accepts REPLICA IDENTITY FULL with order_by"
like "$plan" 'ORDER BY \(`a`\)' "the ClickHouse table is ordered by the configured column"
out=$("$PGCH" snapshot "$WORK/full.lua" 2>&1)
st=$?
is "$st" 0 "snapshot of the REPLICA IDENTITY FULL table exits 0"
[ "$st" = 0 ] || diag "$out"
same_rows "SELECT a, b FROM nopk ORDER BY a" "SELECT a, b FROM $CHDB.nopk FINAL WHERE _pgch_is_deleted = 0 ORDER BY a" "its contents equal PostgreSQL's"
is "$(pg -c "SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_publication_tables WHERE pubname = 'pgch_full'")" public.nopk \
	"the publication has the table"
pg -c "UPDATE nopk SET b = 'again' WHERE a = 1" -c "DELETE FROM nopk WHERE a = 2"
ok $? "UPDATE and DELETE on the published table still work"
done_testing
