#!/usr/bin/env bash
# Row filters (`where`) and column lists (`exclude_columns`) at the source (rowfilter.h).
#
# Misuse first, each one clear line with file:line and nothing created: a filter over a
# column outside the replica identity (the message gives the ALTER TABLE that makes it
# safe), a filter PostgreSQL rejects, a filter that is not a string or is empty, an excluded
# key column, exclude_columns on a REPLICA IDENTITY FULL table.
#
# Then a run: the snapshot copies only the rows the filter selects, and after updates that
# move rows into and out of the filter, deletes on both sides of it, key changes inside,
# into and out of it, ClickHouse equals `SELECT ... WHERE filter` on the source value by
# value (a filter over a non-key column with REPLICA IDENTITY FULL, and one over the key).
# An excluded column is not in the publication's column list, and a second pgoutput slot on
# the same publication shows its values are never sent. Changing a filter copies the table
# again, and pgch verify compares the filtered rows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, amount int, note text);
INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN 'draft' ELSE 'paid' END, g * 7, 'order ' || g
  FROM generate_series(1, 300) g;
CREATE TABLE evens (id int PRIMARY KEY, v text);
INSERT INTO evens SELECT g, 'v' || g FROM generate_series(1, 100) g;
CREATE TABLE people (id int PRIMARY KEY, email text, secret text, city text);
INSERT INTO people SELECT g, 'p' || g || '@example.com', 'TOPSECRET-' || g, 'city ' || g FROM generate_series(1, 50) g;
CREATE TABLE full_t (id int PRIMARY KEY, v text, hidden text);
ALTER TABLE full_t REPLICA IDENTITY FULL;
SQL
CFG=$WORK/bad.lua

# bad REGEX DESCRIPTION: pgch snapshot on $CFG fails with exit 2, one line, nothing created
bad() {
	local out err st
	out=$("$PGCH" snapshot "$CFG" 2>"$WORK/err")
	st=$?
	err=$(cat "$WORK/err")
	is "$st" 2 "$2: exit 2"
	like "$err" "^pgch: error: $1" "$2: the message"
	is "$(printf '%s\n' "$err" | grep -c .)" 1 "$2: one line on stderr"
	is "$out" "" "$2: nothing on stdout"
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'") $(pg -F ' ' -c "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots WHERE database = '$DB')")" \
		"0 0 0" "$2: nothing created (ClickHouse database, publication, slot)"
}
cfg() { write_config "$CFG" "pipe = { name = \"$T_NAME\" }" "$@"; }

cfg 'tables = {' '  { "public.evens",' '    where = "v <> '"'"'v3'"'"'" },' '}'
bad '.*bad\.lua:6: public\.evens: where reads column "v", which is not in the table'"'"'s replica identity \(id\): PostgreSQL would refuse every UPDATE and DELETE on the table\. Fix: ALTER TABLE "public"\."evens" REPLICA IDENTITY FULL' \
	"a filter over a column outside the replica identity"
cfg 'tables = {' '  { "public.evens", where = "nosuch > 1" },' '}'
bad '.*bad\.lua:5: public\.evens: where "nosuch > 1" is not a condition PostgreSQL accepts on the table: column "nosuch" does not exist' \
	"a filter over a column that does not exist"
cfg 'tables = {' '  { "public.evens", where = "id >" },' '}'
bad '.*bad\.lua:5: public\.evens: where "id >" is not a condition PostgreSQL accepts on the table: syntax error' \
	"a filter that is not SQL"
cfg 'tables = {' '  { "public.evens", where = true },' '}'
bad '.*bad\.lua:5: public\.evens: where must be a SQL condition in a string' "a filter that is not a string"
cfg 'tables = {' '  { "public.evens", where = "  " },' '}'
bad '.*bad\.lua:5: public\.evens: where is empty' "an empty filter"
cfg 'tables = {' '  { "public.evens", where = "id > 1; DROP TABLE evens" },' '}'
bad '.*bad\.lua:5: public\.evens: where must be one SQL condition, without' "two statements in a filter"
cfg 'tables = {' '  { "public.people",' '    exclude_columns = { "id" } },' '}'
bad '.*bad\.lua:6: public\.people: a replica identity column is in exclude_columns' "an excluded key column"
cfg 'tables = {' '  { "public.full_t",' '    exclude_columns = { "hidden" } },' '}'
bad '.*bad\.lua:6: public\.full_t has REPLICA IDENTITY FULL, so every column is in its replica identity and none can be left out of the publication \(exclude_columns\).*Fix: give it a primary key and ALTER TABLE "public"\."full_t" REPLICA IDENTITY DEFAULT' \
	"exclude_columns on a REPLICA IDENTITY FULL table"

# ---------------------------------------------------------------- a run
pg -c "ALTER TABLE orders REPLICA IDENTITY FULL"
write_config "$WORK/p.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" \
	'tables = {' \
	'  { "public.orders", where = "status <> '"'"'draft'"'"'" },' \
	'  { "public.evens", where = "id % 2 = 0" },' \
	'  { "public.people", exclude_columns = { "secret" } },' \
	'}'
out=$("$PGCH" plan "$WORK/p.lua" 2>&1)
is "$?" 0 "pgch plan takes the filters"
run_start "$WORK/p.lua"
wait_streaming

ORD_F="status <> 'draft'"
same_orders() {
	wait_same 60 "SELECT id, status, amount, note FROM orders WHERE $ORD_F ORDER BY id" \
		"SELECT id, status, amount, note FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
		"orders $1: ClickHouse equals the source's rows WHERE $ORD_F, value by value"
}
same_evens() {
	wait_same 60 "SELECT id, v FROM evens WHERE id % 2 = 0 ORDER BY id" \
		"SELECT id, v FROM $CHDB.evens FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
		"evens $1: ClickHouse equals the source's rows WHERE id % 2 = 0, value by value"
}
is "$(ch "SELECT count() FROM $CHDB.orders")" 200 "the snapshot copied only the 200 rows the filter selects"
same_orders "after the snapshot"
same_evens "after the snapshot"

# a second pgoutput slot on the same publication, to see what the stream carries
pg -c "SELECT pg_create_logical_replication_slot('${DB}_peek', 'pgoutput')" >/dev/null
at_exit "psql -X -q -d $DB -c \"SELECT pg_drop_replication_slot('${DB}_peek')\" >/dev/null 2>&1"

pg <<'SQL'
-- into the filter, out of it, within it; on both sides
UPDATE orders SET status = 'paid', amount = amount + 1 WHERE id IN (3, 6, 9);
UPDATE orders SET status = 'draft' WHERE id IN (1, 2, 4);
UPDATE orders SET amount = -amount WHERE id IN (5, 7);
UPDATE orders SET note = 'still a draft' WHERE id IN (12, 15);
DELETE FROM orders WHERE id IN (8, 10);
DELETE FROM orders WHERE id IN (18, 21);
INSERT INTO orders VALUES (1001, 'paid', 1, 'new in'), (1002, 'draft', 2, 'new out');
-- key changes: inside the filter, out of it, into it
UPDATE orders SET id = 2011 WHERE id = 11;
UPDATE orders SET id = 2013, status = 'draft' WHERE id = 13;
UPDATE orders SET id = 2024, status = 'shipped' WHERE id = 24;
-- several moves in one transaction
BEGIN;
UPDATE orders SET status = 'draft' WHERE id = 14;
UPDATE orders SET status = 'paid' WHERE id = 14;
UPDATE orders SET status = 'paid' WHERE id = 27;
UPDATE orders SET status = 'draft' WHERE id = 27;
COMMIT;
UPDATE evens SET id = 1001 WHERE id = 2;
UPDATE evens SET id = 1002 WHERE id = 3;
UPDATE evens SET id = 1004 WHERE id = 4;
UPDATE evens SET v = 'changed' WHERE id IN (6, 7);
DELETE FROM evens WHERE id IN (8, 9);
UPDATE people SET secret = 'TOPSECRET-changed', city = 'moved' WHERE id <= 5;
INSERT INTO people VALUES (100, 'new@example.com', 'TOPSECRET-new', 'new city');
SQL
same_orders "after rows moved into and out of the filter, deletes on both sides and key changes"
same_evens "after key changes into and out of a filter over the key"
is "$(ch "SELECT count() FROM $CHDB.orders FINAL WHERE id IN (1, 2, 4, 13) AND _pgch_is_deleted = 1")" 4 \
	"rows that left the filter are delete rows in ClickHouse"
wait_same 60 "SELECT id, email, city FROM people ORDER BY id" \
	"SELECT id, email, city FROM $CHDB.people FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" "people: the kept columns stream"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'people' AND name = 'secret'")" 0 \
	"the excluded column is not in ClickHouse"
is "$(pg -c "SELECT array_to_string(attnames, ',') FROM pg_publication_tables WHERE pubname = 'pgch_$T_NAME' AND tablename = 'people'")" \
	"id,email,city" "the publication's column list leaves the excluded column out"
is "$(pg -c "SELECT rowfilter FROM pg_publication_tables WHERE pubname = 'pgch_$T_NAME' AND tablename = 'orders'")" \
	"(status <> 'draft'::text)" "the publication carries the row filter"
# what pgoutput sends, decoded from the peek slot: Relation messages name columns, tuples carry values
sent=$(pg -c "SELECT encode(data, 'escape') FROM pg_logical_slot_peek_binary_changes('${DB}_peek', NULL, NULL, 'proto_version', '1', 'publication_names', 'pgch_$T_NAME')")
like "$sent" "TOPSECRET|moved" "the peek slot sees the changes to people (the check below can fail)"
like "$sent" "moved" "the kept column's new value is sent"
is "$(printf '%s' "$sent" | grep -c 'TOPSECRET')" 0 "the excluded column's values are never sent"
is "$(printf '%s' "$sent" | grep -c 'secret')" 0 "the excluded column is not in the Relation message"
like "$sent" "city" "the kept columns are in the Relation message"
pg -c "SELECT pg_drop_replication_slot('${DB}_peek')" >/dev/null

out=$("$PGCH" verify "$WORK/p.lua" 2>&1)
is "$?" 0 "pgch verify compares the filtered rows: no difference"
like "$out" "public\.orders +OK" "verify: orders OK"
run_stop

# ---------------------------------------------------------------- the filter changes
sed -i "s/where = \"status <> 'draft'\"/where = \"status = 'draft' OR amount > 1000\"/" "$WORK/p.lua"
ORD_F="status = 'draft' OR amount > 1000"
run_start "$WORK/p.lua"
wait_until 60 "the changed filter to be noticed" run_has "public.orders: its row filter in publication .* changed" ||
	ok 1 "the changed filter is noticed"
same_orders "after the filter changed (copied again)"
pg -c "UPDATE orders SET status = 'paid', amount = 1 WHERE id = 30; UPDATE orders SET status = 'draft' WHERE id = 31"
same_orders "streamed under the new filter"
run_stop

done_testing
