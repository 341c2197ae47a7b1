#!/usr/bin/env bash
# An excluded column (exclude_columns) stays at the source through ADD COLUMN, TRUNCATE and
# pgch resync: it is never in ClickHouse, never in the publication's column list, its values
# are never sent (a second pgoutput slot on the publication shows what is), and the kept
# columns, the column added at the source included, stay equal value by value. A renamed
# column and a derived column in the same table survive the same steps (issue 10's "a
# renamed, an excluded and a derived column survive ADD COLUMN, TRUNCATE and resync").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE people (id int PRIMARY KEY, email text, secret text, city text)" \
	-c "INSERT INTO people SELECT g, 'P' || g || '@Example.com', 'TOPSECRET-' || g, 'city ' || g FROM generate_series(1, 200) g"
write_config "$WORK/x.lua" "pipe = { name = \"$T_NAME\", sync_interval = 0.5 }" 'tables = {' \
	'  { "public.people", exclude_columns = { "secret" }, columns = { city = "town" } },' '}' \
	'function on_table(t) pgch.add_column(t, "email_lower", "Nullable(String)", "lower(email)") end'

no_secret() { # no_secret WHEN
	is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'people' AND name IN ('secret', 'city')")" 0 \
		"$1: no ClickHouse column secret (excluded) nor city (renamed to town)"
	is "$(pg -c "SELECT 'secret' = ANY(attnames) FROM pg_publication_tables WHERE pubname = 'pgch_$T_NAME' AND tablename = 'people'")" f \
		"$1: the publication's column list leaves secret out"
	is "$(ch "SELECT countIf(email_lower != lower(email)) FROM $CHDB.people FINAL WHERE _pgch_is_deleted = 0")" 0 \
		"$1: the derived column equals lower(email) on every row"
}

run_start "$WORK/x.lua"
wait_streaming
pg -c "SELECT pg_create_logical_replication_slot('${DB}_peek', 'pgoutput')" >/dev/null
at_exit "psql -X -q -d $DB -c \"SELECT pg_drop_replication_slot('${DB}_peek')\" >/dev/null 2>&1"
PGQ="SELECT id, email, city FROM people ORDER BY id"
CHQ="SELECT id, email, town FROM $CHDB.people FINAL WHERE _pgch_is_deleted = 0 ORDER BY id"
same_rows "$PGQ" "$CHQ" "after the copy: the kept columns equal"
no_secret "after the copy"

# ADD COLUMN while streaming: with a column list, the new column reaches ClickHouse when pgch
# next starts (README); the excluded one stays out either way
pg -c "ALTER TABLE people ADD COLUMN phone text" -c "UPDATE people SET secret = 'TOPSECRET-upd', city = 'moved', phone = '555' WHERE id <= 20"
wait_same 60 "$PGQ" "$CHQ" "after ADD COLUMN and updates: the kept columns equal"
no_secret "after ADD COLUMN"
run_stop
run_start "$WORK/x.lua"
wait_streaming 90
PGQ="SELECT id, email, city, phone FROM people ORDER BY id"
CHQ="SELECT id, email, town, phone FROM $CHDB.people FINAL WHERE _pgch_is_deleted = 0 ORDER BY id"
pg -c "UPDATE people SET phone = '556', secret = 'TOPSECRET-again' WHERE id = 21"
wait_same 90 "SELECT id, email, city, phone FROM people WHERE id > 20 ORDER BY id" \
	"SELECT id, email, town, phone FROM $CHDB.people FINAL WHERE _pgch_is_deleted = 0 AND id > 20 ORDER BY id" \
	"after a restart: the added column is in ClickHouse and streams"
# the column list did not carry the values written to the new column before the restart
# (rows 1-20, phone = '555'): pgch copies the table again (README)
wait_same 90 "SELECT count(*) FROM people WHERE id <= 20 AND phone = '555'" \
	"SELECT count() FROM $CHDB.people FINAL WHERE _pgch_is_deleted = 0 AND id <= 20 AND phone = '555'" \
	"after a restart: the values given to the added column before it are in ClickHouse (the table is copied again)"
no_secret "after ADD COLUMN and a restart"

# TRUNCATE
pg -c "TRUNCATE people" \
	-c "INSERT INTO people SELECT g, 'T' || g || '@Example.com', 'TOPSECRET-t' || g, 't' || g, 'ph' || g FROM generate_series(1, 50) g"
wait_same 60 "$PGQ" "$CHQ" "after TRUNCATE and new rows"
no_secret "after TRUNCATE"

# pgch resync
resync_and_wait "$WORK/x.lua" public.people
ok $? "pgch resync copies the table again"
pg -c "UPDATE people SET secret = 'TOPSECRET-post', email = 'Post@Resync.io' WHERE id = 9"
wait_same 60 "$PGQ" "$CHQ" "after pgch resync"
no_secret "after pgch resync"

sent=$(pg -c "SELECT encode(data, 'escape') FROM pg_logical_slot_peek_binary_changes('${DB}_peek', NULL, NULL, 'proto_version', '1', 'publication_names', 'pgch_$T_NAME')")
like "$sent" "Post@Resync" "the peek slot saw the changes (the check below can fail)"
is "$(printf '%s' "$sent" | grep -c 'TOPSECRET')" 0 "through ADD COLUMN, TRUNCATE and resync, the excluded column's values were never sent"
out=$("$PGCH" verify "$WORK/x.lua" 2>&1)
is "$?" 0 "pgch verify: no difference"
run_stop
done_testing
