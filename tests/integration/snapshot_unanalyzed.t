#!/usr/bin/env bash
# Tables never analysed (autovacuum off, reltuples = -1): the planner's row estimate comes from
# a sample (big table) or a count (small table) rather than reltuples, so the plan still splits
# them sensibly; after pgch snapshot the contents equal PostgreSQL's; pgch analysed nothing.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE raw (id bigint PRIMARY KEY, v text, n int) WITH (autovacuum_enabled = false);
INSERT INTO raw SELECT g, md5(g::text), g % 1000 FROM generate_series(1, 300000) g;
CREATE TABLE raw_small (id bigint PRIMARY KEY, v text) WITH (autovacuum_enabled = false);
INSERT INTO raw_small SELECT g, md5(g::text) FROM generate_series(1, 50000) g;
SQL
reltuples() { pg -c "SELECT string_agg(relname || '=' || reltuples, ' ' ORDER BY relname) FROM pg_class WHERE relname IN ('raw', 'raw_small')"; }
is "$(reltuples)" "raw=-1 raw_small=-1" "set-up: both tables were never analysed"
pages=$(pg -c "SELECT pg_relation_size('raw') / current_setting('block_size')::int")
ok $((!(pages > 2000))) "set-up: the big table has $pages pages (more than a full count would read)"

write_config "$WORK/u.lua" \
	'pipe = { snapshot = { workers = 2, rows_per_partition = 40000 } }' \
	'tables = { "public.raw", "public.raw_small" }'

plan=$("$PGCH" plan "$WORK/u.lua" 2>&1)
ok $? "plan exits 0"
est=$(printf '%s\n' "$plan" | sed -n 's/^public\.raw -> [^ ]* (~\([0-9]*\) rows, .*/\1/p')
ok $((!(est >= 240000 && est <= 360000))) "the big table's estimate is within 20% of 300000 (got ${est:-none})"
nparts=$(printf '%s\n' "$plan" | grep -c '^  partition [0-9]*: "public"."raw" ')
ok $((!(nparts >= 6 && nparts <= 10))) "the big table is split into about 300000/40000 partitions (got $nparts)"
like "$plan" 'public\.raw_small -> [^ ]* \(~50000 rows, 2 partitions\)' "the small table is counted exactly and split in 2"
json=$("$PGCH" plan --json "$WORK/u.lua" 2>/dev/null)
jest=$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); print join(" ", map { $_->{estimated_rows} > 0 ? "pos" : "nonpos" } @{$j->{tables}})')
is "$jest" "pos pos" "--json gives positive estimates for both tables"

out=$("$PGCH" snapshot "$WORK/u.lua" 2>&1)
st=$?
is "$st" 0 "snapshot exits 0"
[ "$st" = 0 ] || diag "$out"
like "$out" "copying 2 tables in $((nparts + 2)) partitions" "the snapshot used the planned partitions"

for t in raw raw_small; do
	want=$(pg -c "SELECT count(*) FROM $t")
	is "$(ch "SELECT count() FROM $CHDB.$t FINAL WHERE _pgch_is_deleted = 0")" "$want" "$t: row count equals PostgreSQL's ($want)"
	is "$(ch "SELECT count() FROM $CHDB.$t")" "$want" "$t: no row was written twice"
	is "$(ch "SELECT sum(id) FROM $CHDB.$t FINAL WHERE _pgch_is_deleted = 0")" "$(pg -c "SELECT sum(id) FROM $t")" "$t: sum of ids equals PostgreSQL's"
done
same_rows "SELECT id, v, n FROM raw WHERE id % 1009 = 3 ORDER BY id" \
	"SELECT id, v, n FROM $CHDB.raw FINAL WHERE _pgch_is_deleted = 0 AND id % 1009 = 3 ORDER BY id" "a sample of raw equals PostgreSQL's"
same_rows "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM raw_small" \
	"SELECT lower(hex(MD5(arrayStringConcat(groupArray(concat(toString(id), ':', v)), ',')))) FROM (SELECT id, v FROM $CHDB.raw_small FINAL WHERE _pgch_is_deleted = 0 ORDER BY id)" \
	"raw_small: every row equals PostgreSQL's (digest)"

is "$(reltuples)" "raw=-1 raw_small=-1" "pgch did not analyse the source tables"
done_testing
