#!/usr/bin/env bash
# Column renames: a table entry's columns = { billing_city = "city" } names a column otherwise
# in ClickHouse, everywhere: CREATE TABLE, INSERTs (copy and stream), ORDER BY (a renamed key),
# PARTITION BY (a ClickHouse expression, so ClickHouse names), pgch plan, pgch verify
# (source column X against ClickHouse column renamed(X)), a column added while pgch was
# stopped, a renamed column dropped and added again while streaming, and a rename changed
# between runs (the table is made anew and copied again). Each misuse is one error with the
# config's file:line, and nothing is created.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE customers (cust_id int PRIMARY KEY, region text NOT NULL, billing_city text, score int, notes text);
INSERT INTO customers SELECT g, 'r' || (g % 5), 'city' || g, g * 10, 'n' || g FROM generate_series(1, 200) g;
SQL
CFG=$WORK/bad.lua
# bad LINE-REGEX DESCRIPTION: snapshot and plan refuse $CFG with one line, nothing created
bad() {
	local out err st
	out=$("$PGCH" snapshot "$CFG" 2>"$WORK/err")
	st=$?
	err=$(cat "$WORK/err")
	is "$st" 2 "$2: exit 2"
	like "$err" "^pgch: error: $1" "$2: the message"
	is "$(printf '%s\n' "$err" | grep -c .)" 1 "$2: one line on stderr"
	is "$out" "" "$2: nothing on stdout"
	"$PGCH" plan "$CFG" >/dev/null 2>"$WORK/err.plan"
	is "$? $(cat "$WORK/err.plan")" "2 $err" "$2: plan says the same"
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'") $(pg -F ' ' -c "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots WHERE database = '$DB')")" \
		"0 0 0" "$2: nothing created"
}
entry() { write_config "$CFG" "pipe = { name = \"$T_NAME\" }" 'tables = {' "  { \"public.customers\", $1 }," '}' "${@:2}"; }

# ---------------------------------------------------------------- refusals
entry 'columns = { nosuch = "x" }'
bad '.*bad\.lua:5: public\.customers: columns renames "nosuch", which public\.customers does not have' "a rename of a column that does not exist"
entry 'exclude_columns = { "notes" }, columns = { notes = "remarks" }'
bad '.*bad\.lua:5: public\.customers: columns renames "notes", which is in exclude_columns' "a rename of an excluded column"
entry 'columns = { billing_city = "region" }'
bad '.*bad\.lua:5: public\.customers: columns region and billing_city would both be named "region" in ClickHouse' \
	"a rename to another column's name"
write_config "$CFG" "pipe = { name = \"$T_NAME\" }" 'tables = {' '  { "public.customers", columns = {' \
	'      billing_city = "city",' '      notes = "city" } },' '}'
bad '.*bad\.lua:(6|7): public\.customers: columns billing_city and notes would both be named "city" in ClickHouse' \
	"two columns renamed to one name"
entry 'columns = { score = "_pgch_version" }'
bad ".*bad\\.lua:5: public\\.customers: columns renames score to \"_pgch_version\", which is pgch's own version column" \
	"a rename to pgch's version column"
write_config "$CFG" "pipe = { name = \"$T_NAME\" }" \
	"destination = { url = \"$CH_URL\", database = \"$CHDB\", columns = { synced_at = \"synced\" } }" \
	'tables = { { "public.customers", columns = { score = "synced" } } }'
bad ".*bad\\.lua:5: public\\.customers: columns renames score to \"synced\", which is pgch's own synced_at column" \
	"a rename to pgch's configured synced_at name"
entry 'columns = { score = "" }'
bad '.*bad\.lua:5: public\.customers: columns\.score is an empty name' "an empty name"
entry 'columns = { score = 12 }'
bad '.*bad\.lua:5: public\.customers: columns\.score must be the column.s ClickHouse name as a string, got number' "a name that is not a string"
entry 'columns = { "score" }'
bad '.*bad\.lua:5: public\.customers: columns must map source column names to ClickHouse names' "a list instead of a map"
entry 'columns = "score"'
bad '.*bad\.lua:5: public\.customers: columns must map source column names to ClickHouse names, such as .*got string' "not a table"
entry 'columns = { cust_id = "customer_id" }, order_by = { "customer_id" }'
bad '.*bad\.lua:5: public\.customers: order_by names column "customer_id", which public\.customers does not have \(a table entry names source columns: write cust_id' \
	"order_by with a ClickHouse name: refused with the source name to write"
entry 'columns = { cust_id = "customer_id" }, partition_by = "intDiv(cust_id, 100)"'
bad '.*bad\.lua:5: public\.customers: partition_by uses column "cust_id", which is named "customer_id" in ClickHouse' \
	"partition_by with a renamed column's source name"
entry 'columns = { billing_city = "city" }' 'function on_table(t)' '  pgch.add_column(t, "city", "String", "upper(region)")' 'end'
bad '.*bad\.lua:8: pgch\.add_column: customers already has a column "city"' "a derived column named like a renamed one"
entry 'columns = { score = "points" }, types = { points = "Int64" }'
bad '.*bad\.lua:5: public\.customers: types names column "points", which public\.customers does not have \(a table entry names source columns: write score' \
	"types with a ClickHouse name: refused with the source name to write"
entry 'columns = { cust_id = "customer_id" }' 'function on_table(t)' '  t.order_by = { "customer_id" }' 'end'
bad '.*on_table\(public\.customers\): order_by names "customer_id", which is not a replicated column \(t\.order_by names source columns: write cust_id\)' \
	"on_table's order_by with a ClickHouse name"
entry 'columns = { billing_city = "city" }' 'function on_table(t)' '  pgch.column(t, "billing_city").ch_name = "town"' 'end'
bad '.*on_table\(public\.customers\): column billing_city: ch_name is read-only; rename a column in the table.s entry with columns' \
	"on_table cannot rename"

# ---------------------------------------------------------------- plan
write_config "$WORK/p.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = {' \
	'  { "public.customers", order_by = { "cust_id" }, partition_by = "intDiv(customer_id, 100)",' \
	'    columns = { cust_id = "customer_id", billing_city = "city", score = "points" } },' '}' \
	'function on_table(t)' \
	'  assert(pgch.column(t, "billing_city").ch_name == "city", "on_table sees the ClickHouse name")' \
	'  pgch.add_column(t, "city_upper", "Nullable(String)", "upper(city)")' \
	'  pgch.live_view(t)' \
	'end'
plan=$("$PGCH" plan "$WORK/p.lua" 2>&1)
like "$plan" '`customer_id` Int32,' "plan: the renamed key column in CREATE TABLE"
like "$plan" '`city` Nullable\(String\),' "plan: a renamed column in CREATE TABLE"
like "$plan" 'PARTITION BY intDiv\(customer_id, 100\)' "plan: PARTITION BY over the ClickHouse name"
like "$plan" 'ORDER BY \(`customer_id`\)' "plan: ORDER BY the ClickHouse name (order_by gave the source's)"
like "$plan" 'note: billing_city is named city in ClickHouse \(columns = \{ billing_city = "city" \}\)' "plan: a note per rename"
ok "$(grep -q 'billing_city`' <<<"$plan"; echo $((!$?)))" "plan: no ClickHouse column has the source name"
json=$("$PGCH" plan --json "$WORK/p.lua" 2>/dev/null)
is "$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
	print join(",", map { "$_->{name}=$_->{clickhouse_name}" } @{$j->{tables}[0]{columns}})')" \
	"cust_id=customer_id,region=region,billing_city=city,score=points,notes=notes" "plan --json: each column's clickhouse_name"

# ---------------------------------------------------------------- a run
PGQ="SELECT cust_id, region, billing_city, score, notes FROM customers ORDER BY cust_id"
CHQ="SELECT customer_id, region, city, points, notes FROM $CHDB.customers FINAL WHERE _pgch_is_deleted = 0 ORDER BY customer_id"
run_start "$WORK/p.lua"
wait_streaming
same_rows "$PGQ" "$CHQ" "after the copy: every row, renamed columns under their ClickHouse names"
is "$(ch "SELECT arrayStringConcat(arraySort(groupArray(name)), ',') FROM system.columns WHERE database = '$CHDB' AND table = 'customers'")" \
	"_pgch_is_deleted,_pgch_synced_at,_pgch_version,city,city_upper,customer_id,notes,points,region" "ClickHouse's columns"
like "$(ch "SELECT engine_full FROM system.tables WHERE database = '$CHDB' AND name = 'customers'")" \
	'PARTITION BY intDiv\(customer_id, 100\) ORDER BY customer_id' "the table is partitioned and ordered by the renamed key"
is "$(ch "SELECT count(DISTINCT partition) FROM system.parts WHERE database = '$CHDB' AND table = 'customers' AND active")" 3 \
	"rows are in the partitions of intDiv(customer_id, 100): 0, 1 and 2"
is "$(ch "SELECT city_upper FROM $CHDB.customers FINAL WHERE customer_id = 7")" "CITY7" "a derived column reads the renamed column"
is "$(ch "SELECT city, points FROM $CHDB.customers_live WHERE customer_id = 7 FORMAT TSV")" "city7	70" "the live view shows the ClickHouse names"

pg <<'SQL'
INSERT INTO customers VALUES (201, 'r1', 'new city', 5, 'nn'), (350, 'r2', NULL, NULL, NULL);
UPDATE customers SET billing_city = 'moved' || cust_id, score = score + 1 WHERE cust_id <= 20;
UPDATE customers SET cust_id = cust_id + 1000 WHERE cust_id = 30;
DELETE FROM customers WHERE cust_id BETWEEN 40 AND 49;
SQL
wait_same 60 "$PGQ" "$CHQ" "after INSERT, UPDATE (a renamed key changed too) and DELETE through the stream"

# a renamed column dropped and added again while streaming: its ClickHouse column comes back
pg -c "ALTER TABLE customers DROP COLUMN billing_city" -c "UPDATE customers SET score = score + 1 WHERE cust_id = 1"
wait_same 60 "SELECT cust_id, score FROM customers ORDER BY cust_id" \
	"SELECT customer_id, points FROM $CHDB.customers FINAL WHERE _pgch_is_deleted = 0 ORDER BY customer_id" "after DROP COLUMN of a renamed column"
pg -c "ALTER TABLE customers ADD COLUMN billing_city text" -c "UPDATE customers SET billing_city = 'back' || cust_id"
wait_same 60 "$PGQ" "$CHQ" "after the renamed column was added again: its values in city"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'customers' AND name = 'billing_city'")" 0 \
	"no ClickHouse column under the source name"

out=$("$PGCH" verify "$WORK/p.lua" 2>"$WORK/verify.err")
is "$?" 0 "verify: exit 0"
like "$out" 'public\.customers +OK' "verify compares billing_city with city and finds them equal"
# behind pgch's back: a value of a renamed column changed in ClickHouse
ch_ok "INSERT INTO $CHDB.customers (customer_id, region, city, points, notes, _pgch_version, _pgch_is_deleted)
       SELECT customer_id, region, 'tampered', points, notes, _pgch_version, 0 FROM $CHDB.customers FINAL WHERE customer_id = 150" >/dev/null
out=$("$PGCH" verify "$WORK/p.lua" 2>"$WORK/verify.err")
is "$?" 1 "verify after damage: exit 1"
like "$out" 'cust_id = 150: differs in billing_city \(city in ClickHouse\)$' "verify names the column that differs, with its ClickHouse name"
json=$("$PGCH" verify --json "$WORK/p.lua" 2>/dev/null)
is "$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
	print join(";", map { $_->{key} . "=" . join(",", @{$_->{columns}}) } map { @{$_->{shown}} } @{$j->{tables}})')" \
	"cust_id = 150=billing_city" "verify --json: the source's column name"
pg -c "UPDATE customers SET billing_city = 'fixed' WHERE cust_id = 150"
wait_same 60 "$PGQ" "$CHQ" "a change at the source replaces the damage"

# TRUNCATE and pgch resync keep the renames
pg -c "TRUNCATE customers" \
	-c "INSERT INTO customers (cust_id, region, billing_city, score, notes) SELECT g, 'r', 't' || g, g, 'n' FROM generate_series(1, 50) g"
wait_same 60 "$PGQ" "$CHQ" "after TRUNCATE and new rows"
resync_and_wait "$WORK/p.lua" public.customers
ok $? "pgch resync copies the table again"
pg -c "UPDATE customers SET billing_city = 'post-resync' WHERE cust_id = 9"
wait_same 60 "$PGQ" "$CHQ" "after pgch resync"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'customers' AND name IN ('cust_id', 'billing_city', 'score')")" 0 \
	"after the resync, no ClickHouse column has a renamed column's source name"
run_stop

# ---------------------------------------------------------------- a column added while pgch was stopped, renamed
pg <<'SQL'
ALTER TABLE customers ADD COLUMN billing_zip text DEFAULT 'z0';
INSERT INTO customers (cust_id, region, billing_city, score, billing_zip) VALUES (400, 'r4', 'c400', 4, 'z400');
SQL
write_config "$WORK/p.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = {' \
	'  { "public.customers", order_by = { "cust_id" }, partition_by = "intDiv(customer_id, 100)",' \
	'    columns = { cust_id = "customer_id", billing_city = "city", score = "points", billing_zip = "zip" } },' '}' \
	'function on_table(t)' '  pgch.add_column(t, "city_upper", "Nullable(String)", "upper(city)")' 'end'
run_start "$WORK/p.lua"
wait_streaming
pg -c "UPDATE customers SET billing_zip = 'z' || cust_id WHERE cust_id BETWEEN 50 AND 60"
PGQ="SELECT cust_id, region, billing_city, score, notes, billing_zip FROM customers ORDER BY cust_id"
CHQ="SELECT customer_id, region, city, points, notes, zip FROM $CHDB.customers FINAL WHERE _pgch_is_deleted = 0 ORDER BY customer_id"
wait_same 60 "$PGQ" "$CHQ" "a column added while pgch was stopped arrives under its ClickHouse name, old rows with its default"
ok "$(run_has 'public\.customers copied:'; echo $((!$?)))" "... without copying the table again"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'customers' AND name = 'billing_zip'")" 0 \
	"no ClickHouse column under its source name"
run_stop

# ---------------------------------------------------------------- the rename changed between runs
sed -i 's/billing_city = "city"/billing_city = "town"/; s/upper(city)/upper(town)/' "$WORK/p.lua"
check=$("$PGCH" check "$WORK/p.lua" 2>&1)
like "$check" "FAIL .*exists without column town \\(Nullable\\(String\\)\\), the ClickHouse name of source column billing_city" \
	"pgch check: the existing table lacks the new name"
run_start "$WORK/p.lua"
wait_until 90 "the table copied again" run_has 'public\.customers copied:'
ok $? "the run copies the table again"
wait_until 60 "the shadow copy swapped in" run_has 'public\.customers: the new copy is swapped in'
ok $? "the run makes the table anew (a shadow copy swapped in)"
CHQ="SELECT customer_id, region, town, points, notes, zip FROM $CHDB.customers FINAL WHERE _pgch_is_deleted = 0 ORDER BY customer_id"
pg -c "UPDATE customers SET billing_city = 'after' WHERE cust_id = 2"
wait_same 60 "$PGQ" "$CHQ" "after the rename changed: every row under the new name"
is "$(ch "SELECT arrayStringConcat(arraySort(groupArray(name)), ',') FROM system.columns WHERE database = '$CHDB' AND table = 'customers'")" \
	"_pgch_is_deleted,_pgch_synced_at,_pgch_version,city_upper,customer_id,notes,points,region,town,zip" \
	"ClickHouse's columns: the old name is gone"
is "$(ch "SELECT city_upper FROM $CHDB.customers FINAL WHERE customer_id = 2")" "AFTER" "the derived column follows the new name"
out=$("$PGCH" verify "$WORK/p.lua" 2>/dev/null)
like "$out" 'public\.customers +OK' "verify after the rename changed: OK"

# a renamed column renamed at the source while streaming: the config gives the new source
# name no ClickHouse name, so it is its own (renamed in place where the server can, else the
# table is copied again)
pg -c "ALTER TABLE customers RENAME COLUMN score TO pts" -c "UPDATE customers SET pts = -1 WHERE cust_id = 3"
wait_same 120 "SELECT cust_id, region, billing_city, pts, notes, billing_zip FROM customers ORDER BY cust_id" \
	"SELECT customer_id, region, town, pts, notes, zip FROM $CHDB.customers FINAL WHERE _pgch_is_deleted = 0 ORDER BY customer_id" \
	"a renamed column renamed at the source: its values under the new name"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'customers' AND name IN ('points', 'score')")" 0 \
	"neither its old ClickHouse name nor its old source name is left"
diag "$(tail -n +"$RUN_FROM" "$RUN_LOG" | grep -E 'schema change|copied again|recreating|pts' | head -5)"

# a column added at the source under the ClickHouse name another column is renamed to: the
# run stops with the config's line, rather than write two columns as one
pg -c "ALTER TABLE customers ADD COLUMN town text" -c "UPDATE customers SET town = 'x' WHERE cust_id = 1"
wait_pid "$RUN_PID" 90
RUN_PID=
isnt_ok=$([ "$WAIT_STATUS" != 0 ] && [ "$WAIT_STATUS" != timeout ]; echo $?)
ok "$isnt_ok" "pgch run stops (exit $WAIT_STATUS)"
like "$(tail -n +"$RUN_FROM" "$RUN_LOG")" 'public\.customers\.town was added at the source, and another column is named town in ClickHouse' \
	"the stream names the new column and the clash"
like "$(tail -n +"$RUN_FROM" "$RUN_LOG")" 'p\.lua:[0-9]+: public\.customers: columns billing_city and town would both be named "town" in ClickHouse' \
	"the refusal names the columns and the config's line"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'customers' AND name = 'town'")" 1 \
	"ClickHouse still has one column town"
done_testing
