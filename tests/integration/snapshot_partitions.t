#!/usr/bin/env bash
# A table split into many ctid-range partitions copied by two workers: pgch plan shows the
# split, and after pgch snapshot the row count, the sum of ids and a sample of rows compared
# value by value equal PostgreSQL; every row arrived exactly once (no overlapping ranges, no
# gaps). An empty table becomes an existing ClickHouse table with no rows.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE big (
  id bigint PRIMARY KEY,
  label text NOT NULL,
  amount numeric(12,2),
  ratio double precision,
  created date,
  flag bool
);
INSERT INTO big
SELECT g, md5(g::text) || repeat('x', g % 7), CASE WHEN g % 11 = 0 THEN NULL ELSE g / 7.0 END,
       g * 1.25, date '2000-01-01' + (g % 9000), g % 3 = 0
FROM generate_series(1, 200000) g;
ANALYZE big;
CREATE TABLE empty_one (id int PRIMARY KEY, note text);
ANALYZE empty_one;
SQL
is "$(pg -c "SELECT count(*) FROM big")" 200000 "set-up: 200000 rows in PostgreSQL"

write_config "$WORK/sp.lua" \
	'pipe = { snapshot = { workers = 2, rows_per_partition = 20000 } }' \
	'tables = { "public.big", "public.empty_one" }'

plan=$("$PGCH" plan "$WORK/sp.lua" 2>&1)
ok $? "plan exits 0"
nparts=$(printf '%s\n' "$plan" | grep -c '^  partition [0-9]*: "public"."big"')
ok $((!(nparts >= 8 && nparts <= 12))) "plan splits big into about 10 partitions (got $nparts)"
like "$plan" 'public\.big -> t_snapshot_partitions\.big \(~200000 rows, [0-9]+ partitions\)' "plan shows the estimate and the partition count"
like "$plan" 'partition 0: "public"."big" WHERE ctid < '"'"'\([0-9]+,0\)'"'" "the first partition is bounded above only"
like "$plan" "partition $((nparts - 1)): \"public\".\"big\" WHERE ctid >= '\\([0-9]+,0\\)' \\(" "the last partition is open-ended"
like "$plan" 'partition 0: "public"."empty_one" \(all\)' "the empty table is one partition"
is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "plan created nothing in ClickHouse"

# each partition starts where the previous one ends
starts=$(printf '%s\n' "$plan" | sed -n "s/.*\"public\".\"big\" WHERE ctid >= '(\([0-9]*\),0)'.*/\1/p")
ends=$(printf '%s\n' "$plan" | sed -n "s/.*\"public\".\"big\" .*ctid < '(\([0-9]*\),0)'.*/\1/p")
is "$starts" "$ends" "partition ranges are contiguous (each starts at the previous end)"

out=$("$PGCH" snapshot "$WORK/sp.lua" 2>&1)
st=$?
is "$st" 0 "snapshot exits 0"
[ "$st" = 0 ] || diag "$out"
like "$out" "copying 2 tables in $((nparts + 1)) partitions" "the run used the planned partitions"
done_lines=$(printf '%s\n' "$out" | grep -c 'public\.big partition [0-9]* ([0-9]*/'"$nparts"')')
is "$done_lines" "$nparts" "every partition of big reported done once"

want_count=$(pg -c "SELECT count(*) FROM big")
want_sum=$(pg -c "SELECT sum(id) FROM big")
is "$(ch "SELECT count() FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0")" "$want_count" "row count equals PostgreSQL's ($want_count)"
is "$(ch "SELECT count() FROM $CHDB.big")" "$want_count" "no row was written twice (count without FINAL)"
is "$(ch "SELECT sum(id) FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0")" "$want_sum" "sum of ids equals PostgreSQL's"
is "$(ch "SELECT uniqExact(id) FROM $CHDB.big")" "$want_count" "every id is present"
same_rows "SELECT id, label, coalesce(amount::text, 'N'), ratio, created, flag::int FROM big WHERE id % 997 = 1 OR id IN (1, 200000) ORDER BY id" \
	"SELECT id, label, ifNull(toString(amount), 'N'), ratio, created, flag FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0 AND (id % 997 = 1 OR id IN (1, 200000)) ORDER BY id" \
	"a sample of rows equals PostgreSQL value by value"
same_rows "SELECT count(*), sum(length(label)), sum(amount), count(amount), sum(created - date '1970-01-01'), sum(flag::int) FROM big" \
	"SELECT count(), sum(length(label)), sum(amount), count(amount), sum(toInt32(created)), sum(flag) FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0" \
	"column aggregates equal PostgreSQL's"

# progress: one done row per planned partition, their rows adding up to the table
state="$CHDB._pgch_state FINAL WHERE source_table = 'public.big' AND part >= 0"
is "$(ch "SELECT count() FROM $state AND status = 'done'")" "$nparts" "_pgch_state has every partition of big done"
is "$(ch "SELECT sum(rows) FROM $state")" "$want_count" "_pgch_state partition rows add up to the table"
is "$(ch "SELECT count() FROM $CHDB._pgch_state FINAL WHERE part < 0 AND source_table != '' AND status = 'done'")" 2 "both tables are recorded done"

# the empty table: exists, no rows
is "$(ch "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name = 'empty_one'")" 1 "the empty table exists in ClickHouse"
is "$(ch_ok "SELECT count() FROM $CHDB.empty_one")" 0 "the empty table has 0 rows"
is "$(ch_ok "SELECT name FROM system.columns WHERE database = '$CHDB' AND table = 'empty_one' FORMAT TSV" | tr '\n' ' ')" \
	"id note _pgch_version _pgch_is_deleted _pgch_synced_at " "the empty table has its columns"

is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" 0 "the slot was dropped at the end"
done_testing
