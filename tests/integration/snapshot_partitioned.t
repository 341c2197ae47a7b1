#!/usr/bin/env bash
# A declaratively partitioned table (range partitions, one of them hash-subpartitioned, and a
# default partition) selected by a pattern: pgch copies it leaf by leaf into one ClickHouse
# table named after the root, with the same contents; a pattern or name that selects a leaf
# partition directly is refused with a message naming the root, and nothing is created.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE events (
  id bigint NOT NULL,
  at date NOT NULL,
  kind text,
  payload jsonb,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY HASH (id);
CREATE TABLE events_2024_h0 PARTITION OF events_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE events_2024_h1 PARTITION OF events_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT;
INSERT INTO events
SELECT g, date '2022-07-01' + (g % 1000), 'k' || (g % 5), jsonb_build_object('g', g, 's', repeat('p', g % 13))
FROM generate_series(1, 60000) g;
ANALYZE events;
CREATE TABLE plain (id int PRIMARY KEY, v text);
INSERT INTO plain SELECT g, 'v' || g FROM generate_series(1, 100) g;
SQL
# the set-up put rows in every kind of leaf
is "$(pg -c "SELECT string_agg(tableoid::regclass::text, ',' ORDER BY tableoid::regclass::text) FROM (SELECT DISTINCT tableoid FROM events) x")" \
	"events_2023,events_2024_h0,events_2024_h1,events_2025,events_other" "set-up: rows in range, hash-subpartitioned and default leaves"

write_config "$WORK/p.lua" \
	'pipe = { snapshot = { workers = 2, rows_per_partition = 10000 } }' \
	'tables = { "public.*" }'

plan=$("$PGCH" plan "$WORK/p.lua" 2>&1)
ok $? "plan exits 0"
like "$plan" '2 tables' "the pattern selects 2 tables (the root and the plain table, no leaves)"
like "$plan" 'public\.events -> t_snapshot_partitioned\.events \(~60000 rows, [0-9]+ partitions over 5 leaf partitions\)' \
	"the root is planned over its 5 leaves"
for leaf in events_2023 events_2024_h0 events_2024_h1 events_2025 events_other; do
	like "$plan" "partition [0-9]+: \"public\".\"$leaf\"" "a partition reads leaf $leaf"
done
if printf '%s\n' "$plan" | grep -q -- '-> t_snapshot_partitioned\.events_'; then ok 1 "no leaf is planned as a table of its own"; else ok 0 "no leaf is planned as a table of its own"; fi
nparts=$(printf '%s\n' "$plan" | grep -c '^  partition [0-9]*: "public"."events_')
ok $((!(nparts >= 6))) "the big leaves are split further ($nparts partitions)"

out=$("$PGCH" snapshot "$WORK/p.lua" 2>&1)
st=$?
is "$st" 0 "snapshot exits 0"
[ "$st" = 0 ] || diag "$out"

is "$(ch_ok "SELECT name FROM system.tables WHERE database = '$CHDB' AND name != '_pgch_state' ORDER BY name FORMAT TSV" | tr '\n' ' ')" \
	"events plain " "only the root (and the plain table) exist in ClickHouse"
want=$(pg -c "SELECT count(*) FROM events")
is "$(ch "SELECT count() FROM $CHDB.events FINAL WHERE _pgch_is_deleted = 0")" "$want" "row count equals PostgreSQL's ($want)"
is "$(ch "SELECT count() FROM $CHDB.events")" "$want" "no row was written twice"
same_rows "SELECT id, at, kind, payload::text FROM events ORDER BY id, at" \
	"SELECT id, at, kind, payload FROM $CHDB.events FINAL WHERE _pgch_is_deleted = 0 ORDER BY id, at" \
	"every row of the partitioned table equals PostgreSQL's"
same_rows "SELECT extract(year FROM at)::int, count(*), sum(id) FROM events GROUP BY 1 ORDER BY 1" \
	"SELECT toYear(at), count(), sum(id) FROM $CHDB.events FINAL WHERE _pgch_is_deleted = 0 GROUP BY toYear(at) ORDER BY toYear(at)" \
	"rows per year (one per leaf) equal PostgreSQL's"
same_rows "SELECT id, v FROM plain ORDER BY id" "SELECT id, v FROM $CHDB.plain FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
	"the plain table beside it is copied too"
is "$(ch "SELECT uniqExact(leaf) FROM $CHDB._pgch_state FINAL WHERE source_table = 'public.events' AND part >= 0 AND status = 'done'")" 5 \
	"_pgch_state has done partitions for each of the 5 leaves"
is "$(pg -c "SELECT pubviaroot FROM pg_publication WHERE pubname = 'pgch_p'")" t "the publication publishes changes through the root"

# a leaf named directly, or a pattern that only matches leaves, is refused; nothing is created
fresh_dbs
pg -c "CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)" \
	-c "CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')" \
	-c "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')" \
	-c "INSERT INTO events VALUES (1, '2023-05-05'), (2, '2024-05-05')"
refused() { # refused DESCRIPTION TABLES-LUA MESSAGE-REGEX
	write_config "$WORK/leaf.lua" "tables = { $2 }"
	local cmd out st
	for cmd in plan snapshot; do
		out=$("$PGCH" "$cmd" "$WORK/leaf.lua" 2>&1)
		st=$?
		ok $((st == 0)) "$cmd refuses $1 (exit $st)"
		like "$out" "$3" "$cmd: the message names the leaf, the root to select instead and the config line"
		is "$(printf '%s\n' "$out" | grep -c .)" 1 "$cmd: one line of output"
	done
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "$1: no ClickHouse database"
	is "$(pg -c "SELECT count(*) FROM pg_publication") $(pg -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" \
		"0 0" "$1: no publication, no slot"
}
refused "a leaf named directly" '"public.events_2023"' \
	'leaf\.lua:3: public\.events_2023 is a partition of partitioned table public\.events: select public\.events instead'
refused "a pattern matching only leaves" '"public.events_20*"' \
	'leaf\.lua:3: "public\.events_20\*" matches only partitions of partitioned tables \(such as public\.events_202[34], a partition of public\.events\): select public\.events instead'
refused "a leaf named beside its root" '"public.events", "public.events_2024"' \
	'leaf\.lua:3: public\.events_2024 is a partition of partitioned table public\.events'
done_testing
