#!/usr/bin/env bash
# A ClickHouse cluster of two shards of one replica (scripts/cluster.sh, pgch_2x1): each
# target is <target>_local on both shards under a Distributed table. A sharding_key that is
# not a function of the key is refused with the reason; pgch snapshot, then pgch run with
# updates that change non-key columns, deletes and inserts: reads through the Distributed
# table with FINAL equal the source value by value on either node, every key is on exactly
# one shard and both shards hold rows; pgch.live_view's view is on both nodes; ADD COLUMN
# and TRUNCATE reach both shards; pgch verify passes through the Distributed table.
# exclusive: starts ZooKeeper and two ClickHouse servers
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"
. "$(dirname "$0")/lib_cluster.sh"
t_start=$SECONDS

fresh_dbs
cluster_fresh
pg <<'SQL'
CREATE TABLE acct (id int PRIMARY KEY, region text NOT NULL, bal bigint NOT NULL, memo text);
INSERT INTO acct SELECT g, 'r' || (g % 7), g * 10, 'm' || g FROM generate_series(1, 5000) g;
SQL
S=$CH_CLUSTER_SHARDED
cfg() { # cfg FILE [EXTRA DESTINATION LINE]
	cat >"$1" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$DB", user = "${PGUSER:-postgres}" }
destination = {
  url = { "$CH1_URL", "$CH2_URL" },
  database = "$CHDB",
  cluster = "$S",
  timeout = 5,
  ${2:-}
}
pipe = { name = "$T_NAME", sync_interval = 0.5 }
tables = { "public.acct" }
on_table = function(t) pgch.live_view(t) end
LUA
}

cfg "$WORK/bad.lua" 'sharding_key = "cityHash64(bal)",'
"$PGCH" snapshot "$WORK/bad.lua" >"$WORK/bad.log" 2>&1
ok $((! $?)) "a sharding_key on a non-key column is refused"
like "$(cat "$WORK/bad.log")" "destination\\.sharding_key cityHash64\\(bal\\) cannot shard public\\.acct: it uses column bal, which is not in the table's key" \
	"the refusal says why"
is "$(qn 1 "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "the refused run created nothing"

cfg "$WORK/p.lua"
out=$("$PGCH" check "$WORK/p.lua" 2>&1)
is "$?" 0 "pgch check passes"
like "$out" "cluster $S: 2 shards x 1 replica .*Distributed table over <target>_local" "check: the shape, and what pgch makes of it"
out=$("$PGCH" plan "$WORK/p.lua" 2>&1)
like "$out" "ENGINE = Distributed\\(\`$S\`, \`$CHDB\`, \`acct_local\`, cityHash64\\(\`id\`\\)\\)" \
	"plan: a Distributed table sharded by cityHash64 of the key"

"$PGCH" snapshot "$WORK/p.lua" --keep-slot >"$RUN_LOG" 2>&1
is "$?" 0 "pgch snapshot"
for n in 1 2; do
	is "$(qn $n "SELECT name, engine FROM system.tables WHERE database = '$CHDB' AND name IN ('acct', 'acct_local') ORDER BY name FORMAT TSV")" \
		"acct	Distributed
acct_local	ReplicatedReplacingMergeTree" "node$n: acct (Distributed) over acct_local"
done
local_counts() { echo "$(qn 1 "SELECT count() FROM $CHDB.acct_local") $(qn 2 "SELECT count() FROM $CHDB.acct_local")"; }
read -r c1 c2 <<<"$(local_counts)"
want1=$(qn 1 "SELECT countIf(cityHash64(toInt32(number + 1)) % 2 = 0) FROM numbers(5000)")
is "$c1 $c2" "$want1 $((5000 - want1))" "after the snapshot each shard holds the keys cityHash64(id) sends it ($c1 + $c2)"

run_start "$WORK/p.lua"
wait_until 60 "the stream to start" run_has 'stream\[[0-9]+\] info: streaming from slot'
ok $? "pgch run streams"
pg <<'SQL'
UPDATE acct SET bal = bal + 1, region = 'moved' WHERE id % 3 = 0;
UPDATE acct SET memo = NULL WHERE id % 11 = 0;
DELETE FROM acct WHERE id % 13 = 0;
INSERT INTO acct SELECT g, 'new', g, NULL FROM generate_series(5001, 5400) g;
UPDATE acct SET bal = bal * 2 WHERE id % 3 = 0;
SQL
acct_pg="SELECT id, region, bal, coalesce(memo, '-') FROM acct ORDER BY id"
acct_ch="SELECT id, region, bal, ifNull(memo, '-') FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0 ORDER BY id"
wait_same 60 "SELECT count(*), sum(bal) FROM acct" "SELECT count(), sum(bal) FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0" \
	"through the Distributed table: counts and sums reach the source's"
for n in 1 2; do
	on_node $n same_rows "$acct_pg" "$acct_ch" "node$n: SELECT ... FROM acct FINAL equals the source value by value"
done
for n in 1 2; do
	on_node $n same_rows "SELECT count(*), sum(bal) FROM acct" "SELECT count(), sum(bal) FROM $CHDB.acct_live" \
		"node$n: pgch.live_view's view (made ON CLUSTER) reads the source's rows"
done
u1=$(qn 1 "SELECT uniqExact(id) FROM $CHDB.acct_local")
u2=$(qn 2 "SELECT uniqExact(id) FROM $CHDB.acct_local")
is "$((u1 + u2))" "$(qn 1 "SELECT uniqExact(id) FROM $CHDB.acct")" "no key has rows on both shards (keys per shard add up to all keys)"
read -r c1 c2 <<<"$(local_counts)"
ok $((c1 == 0 || c2 == 0)) "both shards hold rows ($c1, $c2)"

pg -c "ALTER TABLE acct ADD COLUMN flag int DEFAULT 3"
pg -c "UPDATE acct SET flag = 9 WHERE id <= 100"
wait_same 60 "SELECT sum(flag) FROM acct" "SELECT sum(flag) FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0" \
	"ADD COLUMN: the new column's values through the Distributed table"
for n in 1 2; do
	is "$(qn $n "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table IN ('acct', 'acct_local') AND name = 'flag'")" 2 \
		"node$n: the new column in acct_local and acct"
done
pg -c "TRUNCATE acct"
pg -c "INSERT INTO acct VALUES (1, 'a', 1, NULL, 1), (2, 'b', 2, NULL, 2), (3, 'c', 3, NULL, 3), (4, 'd', 4, NULL, 4)"
wait_same 60 "SELECT count(*) FROM acct" "SELECT count() FROM $CHDB.acct" "TRUNCATE reached both shards' local tables (4 rows after)"
# a type change the stream cannot apply: a resync into shadow local tables, swapped in ON
# CLUSTER under the Distributed table, which is made anew with the new type
pg -c "ALTER TABLE acct ALTER COLUMN flag TYPE bigint" -c "UPDATE acct SET flag = 5000000000 WHERE id = 1"
wait_until 120 "acct to be swapped in" log_has 'public\.acct: the new copy is swapped in \(RENAME TABLE\)'
ok $? "resync on shards: the shadow's local tables are swapped in"
wait_same 60 "SELECT count(*), sum(flag) FROM acct" "SELECT count(), sum(flag) FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0" \
	"resync on shards: the new copy through the Distributed table"
for n in 1 2; do
	is "$(qn $n "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table IN ('acct', 'acct_local') AND name = 'flag' AND type LIKE '%Int64%'")" 2 \
		"node$n: flag is Int64 in acct_local and in the Distributed acct"
	is "$(qn $n "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name LIKE 'acct\\_\\_pgch\\_%'")" 0 \
		"node$n: no shadow or old table left"
done
run_stop
out=$("$PGCH" verify "$WORK/p.lua" 2>&1)
is "$?" 0 "pgch verify through the Distributed table: $(printf '%s' "$out" | tail -n 1)"
diag "cluster_sharded took $((SECONDS - t_start)) s"
done_testing
