#!/usr/bin/env bash
# pgch verify compares every value: no false alarm while the pipe streams under load, and a
# value changed, a row deleted and a row added behind pgch's back in ClickHouse are each
# reported with their key (and the column that differs), in text and in JSON.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
"$ROOT/scripts/wide.sh" wide 3000 | pg >/dev/null
pg -c "CREATE TABLE items (sku text PRIMARY KEY, name text, price numeric(10,2), seen timestamptz, tags text[])" \
   -c "INSERT INTO items SELECT 'sku-' || g, 'item ' || g, g / 7.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
       ARRAY['a' || g, 'b'] FROM generate_series(1, 500) g"
pgbench -i -s 1 -q "$DB" >"$WORK/pgbench-init.log" 2>&1 || bail "pgbench -i failed: $(cat "$WORK/pgbench-init.log")"
write_config "$WORK/v.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" \
	'tables = { "public.wide", "public.items", "public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_tellers" }'
run_start "$WORK/v.lua"
wait_streaming 120

# under load: updates, inserts and deletes while verify runs, five times (the issue's "no
# false alarm in 5 runs"), with a pgbench -N load on pgbench_accounts beside this script's own
load() {
	local i=0
	while :; do
		i=$((i + 1))
		psql -X -q -d "$DB" -c "UPDATE wide SET c1 = coalesce(c1, 0) + 1, c6 = 'load $i' WHERE id % 50 = $((i % 50))" \
			-c "INSERT INTO items VALUES ('load-$i', 'new', 1.5, now(), NULL)" \
			-c "DELETE FROM items WHERE sku = 'load-$((i - 3))'" >/dev/null 2>&1 || break
		sleep 0.1
	done
}
load &
loader=$!
at_exit "kill $loader 2>/dev/null"
pgbench -N -c 2 -T 900 -n "$DB" >"$WORK/pgbench.log" 2>&1 &
bencher=$!
at_exit "kill $bencher 2>/dev/null"
sleep 2
all=
for n in 1 2 3 4 5; do
	out=$("$PGCH" verify "$WORK/v.lua" 2>"$WORK/verify$n.err")
	st=$?
	is "$st" 0 "verify under load, run $n: exit 0 (no false alarm)"
	[ "$st" = 0 ] || diag "$out"
	like "$out" 'public\.wide +OK' "verify under load, run $n: wide is OK"
	like "$out" 'public\.pgbench_accounts +OK' "verify under pgbench load, run $n: pgbench_accounts is OK"
	all="$all$out"
done
# rows the load changed during a check were compared again once the pipe had applied them
like "$all" '[0-9]+ rows? changed during the check, compared again' "keys changed during the check are compared again, not skipped"
diag "$(grep -hE 'changed during the check|kept changing' <<<"$out" | head -2)"
is "$(pg -c "SELECT count(*) > 0 FROM pgbench_history")" t "pgbench ran during the five checks"
kill $loader $bencher 2>/dev/null
wait $loader $bencher 2>/dev/null
# the damage below must come after the pipe applied the load, or the load's late rows replace it
wait_same 60 "SELECT count(*), sum(c1), string_agg(c6, ',' ORDER BY id) FROM wide" \
	"SELECT count(), sum(c1), arrayStringConcat(groupArray(c6), ',') FROM (SELECT c1, c6 FROM $CHDB.wide FINAL WHERE _pgch_is_deleted = 0 ORDER BY id)" \
	"the pipe has applied the load"

# behind pgch's back: a changed value, a deleted row, an added row (versions below any
# snapshot pgch takes from now on, so they are the copy's differences)
rest=$(seq 3 63 | sed 's/^/c/' | paste -sd, -)
ch_ok "INSERT INTO $CHDB.wide (id, c1, c2, $rest, _pgch_version, _pgch_is_deleted)
       SELECT id, c1, c2 + 1, $rest, _pgch_version, 0 FROM $CHDB.wide FINAL WHERE id = 42" >/dev/null
ch_ok "INSERT INTO $CHDB.wide (id, _pgch_version, _pgch_is_deleted) SELECT id, _pgch_version, 1 FROM $CHDB.wide FINAL WHERE id = 43" >/dev/null
ch_ok "INSERT INTO $CHDB.items (sku, name, _pgch_version, _pgch_is_deleted) VALUES ('ghost', 'boo', 1, 0)" >/dev/null
ch_ok "INSERT INTO $CHDB.items (sku, name, price, seen, tags, _pgch_version, _pgch_is_deleted)
       SELECT sku, name, price, seen, ['x'], _pgch_version, 0 FROM $CHDB.items FINAL WHERE sku = 'sku-7'" >/dev/null
out=$("$PGCH" verify "$WORK/v.lua" 2>"$WORK/verify.err")
is "$?" 1 "verify after damage: exit 1"
like "$out" 'public\.wide +DIFFERS' "wide DIFFERS"
like "$out" 'id = 42: differs in c2$' "the changed value: its key and the column that differs"
like "$out" 'id = 43: missing in ClickHouse' "the deleted row: missing in ClickHouse"
like "$out" 'sku = ghost: only in ClickHouse' "the added row: only in ClickHouse"
like "$out" 'sku = sku-7: differs in tags' "an array value that differs"
json=$("$PGCH" verify --json "$WORK/v.lua" 2>/dev/null)
is "$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
	print $j->{ok} ? "true" : "false", " ", join(",", map { $_->{result} . ":" . $_->{differences} } @{$j->{tables}})')" \
	"false DIFFERS:2,OK:0,OK:0,OK:0,DIFFERS:2" "verify --json: each table's result and number of differences"
is "$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
	print join(";", sort map { $_->{key} . "=" . join(",", @{$_->{columns}}) } grep { $_->{difference} =~ /differs/ } map { @{$_->{shown}} } @{$j->{tables}})')" \
	"id = 42=c2;sku = sku-7=tags" "verify --json: the differing rows with their columns"

out=$("$PGCH" verify --table public.items "$WORK/v.lua" 2>/dev/null)
is "$?" 1 "verify --table: exit 1 for the damaged table"
ok "$(! grep -q 'public\.wide' <<<"$out"; echo $?)" "verify --table: only that table"
"$PGCH" verify --table nosuch "$WORK/v.lua" >/dev/null 2>"$WORK/nosuch.err"
is "$?" 2 "verify --table with an unknown table: exit 2"
like "$(cat "$WORK/nosuch.err")" 'nosuch is not one of the pipe' "and says so"

# a version beyond anything the source wrote is reported too, not taken for a late change
ch_ok "INSERT INTO $CHDB.wide (id, _pgch_version, _pgch_is_deleted) VALUES (44, 99999999999, 1)" >/dev/null
out=$("$PGCH" verify --table wide "$WORK/v.lua" 2>/dev/null)
like "$out" 'id = 44: has a version beyond the source' "a version from the future is reported"

run_stop
done_testing
