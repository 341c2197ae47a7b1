#!/usr/bin/env bash
# A ClickHouse cluster of one shard and two replicas (scripts/cluster.sh, pgch_1x2) with
# destination.url listing both nodes. pgch check reports the cluster's shape, both
# endpoints, ZooKeeper and the macros (and a missing macro, a path that would not
# replicate, an unreachable ZooKeeper as failures); pgch plan shows the ON CLUSTER DDL;
# pgch run copies and streams into ReplicatedReplacingMergeTree tables on both nodes; node 1
# (the first URL) is killed under DML and started again later: the stream moves to node 2,
# and both replicas end equal to the source value by value, with no key lost or twice in the
# deduplicated view. ADD COLUMN, TRUNCATE and pgch resync --table (a shadow table swapped in
# with RENAME TABLE ON CLUSTER) reach both nodes.
# exclusive: starts ZooKeeper and two ClickHouse servers, kills one of them
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"
. "$(dirname "$0")/lib_cluster.sh"
t_start=$SECONDS

fresh_dbs
cluster_fresh
pg <<'SQL'
CREATE TABLE items (id bigserial PRIMARY KEY, grp int NOT NULL, qty int NOT NULL, note text);
INSERT INTO items (grp, qty, note) SELECT g % 50, g, 'n' || g FROM generate_series(1, 20000) g;
CREATE TABLE tags (id int PRIMARY KEY, tag text);
INSERT INTO tags SELECT g, 't' || g FROM generate_series(1, 500) g;
SQL

R=$CH_CLUSTER_REPLICATED
cfg() { # cfg FILE REPLICA_PATH: both nodes, the 1x2 cluster
	cat >"$1" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$DB", user = "${PGUSER:-postgres}" }
destination = {
  url = { "$CH1_URL", "$CH2_URL" },
  database = "$CHDB",
  cluster = "$R",
  replica_path = "$2",
  timeout = 5,
}
pipe = { name = "$T_NAME", sync_interval = 0.5 }
tables = { "public.items", "public.tags" }
LUA
}
cfg "$WORK/p.lua" "/clickhouse/tables/{repl_shard}/{database}/{table}"

# --- pgch check and pgch plan
out=$("$PGCH" check "$WORK/p.lua" 2>&1)
is "$?" 0 "pgch check passes on the cluster"
like "$out" "cluster $R: 1 shard x 2 replicas \\(127\\.0\\.0\\.1:$CH1_TCP, 127\\.0\\.0\\.1:$CH2_TCP\\)" "check: the cluster's shape and nodes"
like "$out" "${CH1_URL#http://} answers" "check: endpoint 1 answers"
like "$out" "${CH2_URL#http://} answers" "check: endpoint 2 answers"
like "$out" "reaches ZooKeeper" "check: ZooKeeper answers"
like "$out" "every node has the macros of replica_path" "check: the macros are on every node"
cfg "$WORK/bad.lua" "/clickhouse/tables/{nosuch}/{database}/{table}"
out=$("$PGCH" check "$WORK/bad.lua" 2>&1)
ok $((! $?)) "check fails with a macro no node has"
like "$out" "node 127\\.0\\.0\\.1:$CH1_TCP has no macro \\{nosuch\\}, which destination\\.replica_path uses" "check: the missing macro, by node"
cfg "$WORK/bad.lua" "/clickhouse/tables/{shard}/{database}/{table}"
out=$("$PGCH" check "$WORK/bad.lua" 2>&1)
like "$out" "are replicas of shard 1 but destination\\.replica_path gives them different paths" \
	"check: {shard} (01 and 02 on the replicas of one shard) would not replicate"
"$PGCH" snapshot "$WORK/bad.lua" >"$WORK/refused.log" 2>&1
ok $((! $?)) "pgch snapshot refuses that path before creating anything"
is "$(qn 1 "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "the refused run created no database"

out=$("$PGCH" plan "$WORK/p.lua" 2>&1)
like "$out" "CREATE TABLE IF NOT EXISTS \`$CHDB\`\\.\`items\` ON CLUSTER \`$R\`" "plan: CREATE TABLE ... ON CLUSTER"
like "$out" "ENGINE = ReplicatedReplacingMergeTree\\('/clickhouse/tables/\\{repl_shard\\}/\\{database\\}/\\{table\\}', '\\{replica\\}', \`_pgch_version\`" \
	"plan: ReplicatedReplacingMergeTree with the configured path and the default replica name"

# --- the run, DML, node 1 killed under DML, started again
run_start "$WORK/p.lua"
wait_streaming 120
for n in 1 2; do
	is "$(qn $n "SELECT table, engine, replica_name, total_replicas FROM system.replicas WHERE database = '$CHDB' ORDER BY table FORMAT TSV")" \
		"_pgch_state	ReplicatedReplacingMergeTree	node$n	2
items	ReplicatedReplacingMergeTree	node$n	2
tags	ReplicatedReplacingMergeTree	node$n	2" "node$n: the targets and the progress table are replicas of 2"
done

load() { # load ROUNDS: updates that move non-key columns, inserts, deletes
	local i
	for i in $(seq 1 "$1"); do
		pg -c "UPDATE items SET qty = qty + 1, note = 'u$i' WHERE grp = $((i % 50));
			INSERT INTO items (grp, qty, note) SELECT $i % 50, g, 'i$i' FROM generate_series(1, 20) g;
			DELETE FROM items WHERE id IN (SELECT id FROM items WHERE grp = $(((i + 7) % 50)) ORDER BY id LIMIT 5);
			UPDATE tags SET tag = 'x$i' WHERE id = $((i % 500 + 1))" || return 1
		sleep 0.05
	done
}
load 20
ok $? "DML before the outage"
load 60 &
loader=$!
sleep 1.5
"$CLUSTER_SH" kill-node "$CLUSTER_DIR" 1
ok $? "node 1 killed (SIGKILL) while DML runs"
wait "$loader"
ok $? "DML during the outage"
wait_until 60 "the stream to move to node 2" run_has "stream\\[[0-9]+\\] warning: .*using ClickHouse at $CH2_URL from now on"
ok $? "the stream worker logs its move to node 2"
items_pg="SELECT id, grp, qty, note FROM items ORDER BY id"
items_ch="SELECT id, grp, qty, note FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0 ORDER BY id"
on_node 2 wait_same 90 "SELECT count(*), sum(qty) FROM items" \
	"SELECT count(), sum(qty) FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0" "node 2 catches up while node 1 is down"
out=$("$PGCH" status "$WORK/p.lua" 2>&1)
like "$out" "ClickHouse .*${CH2_URL#http://}" "pgch status answers through node 2 while node 1 is down"
load 10
ok $? "more DML with node 1 still down"
out=$("$CLUSTER_SH" start-node "$CLUSTER_DIR" 1 2>&1)
ok $? "node 1 started again: $out"
load 10
wait_same 90 "SELECT count(*), sum(qty) FROM items" \
	"SELECT count(), sum(qty) FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0" "node 1: counts and sums reach the source's"
for n in 1 2; do
	qn $n "SYSTEM SYNC REPLICA $CHDB.items" >/dev/null
	qn $n "SYSTEM SYNC REPLICA $CHDB.tags" >/dev/null
	on_node $n same_rows "$items_pg" "$items_ch" "node$n: items equal the source value by value"
	on_node $n same_rows "SELECT id, tag FROM tags ORDER BY id" \
		"SELECT id, tag FROM $CHDB.tags FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" "node$n: tags equal the source value by value"
	is "$(qn $n "SELECT count() - uniqExact(id) FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0")" 0 \
		"node$n: no key twice in the deduplicated view"
done

# --- schema change, TRUNCATE, resync: on both nodes
pg -c "ALTER TABLE tags ADD COLUMN weight int DEFAULT 7"
pg -c "UPDATE tags SET weight = id WHERE id <= 10"
wait_until 60 "the new column on both nodes" eval \
	'[ "$(qn 1 "SELECT count() FROM system.columns WHERE database = '"'$CHDB'"' AND table = '"'tags'"' AND name = '"'weight'"'")$(qn 2 "SELECT count() FROM system.columns WHERE database = '"'$CHDB'"' AND table = '"'tags'"' AND name = '"'weight'"'")" = 11 ]'
ok $? "ADD COLUMN at the source: the column is on both nodes"
for n in 1 2; do
	on_node $n wait_same 60 "SELECT sum(weight) FROM tags" "SELECT sum(weight) FROM $CHDB.tags FINAL WHERE _pgch_is_deleted = 0" \
		"node$n: the new column's values"
done
pg -c "TRUNCATE tags"
pg -c "INSERT INTO tags VALUES (1, 'after', 1)"
for n in 1 2; do
	on_node $n wait_same 60 "SELECT count(*) FROM tags" "SELECT count() FROM $CHDB.tags" "node$n: TRUNCATE reached it (one row after)"
done
qn 1 "INSERT INTO $CHDB.items (id, grp, qty, note, _pgch_version) VALUES (999999999, 0, 0, 'stray', 1)" >/dev/null
"$PGCH" resync "$WORK/p.lua" --table public.items >>"$RUN_LOG" 2>&1
ok $? "pgch resync --table public.items"
for n in 1 2; do
	on_node $n wait_same 120 "SELECT count(*), sum(qty) FROM items" "SELECT count(), sum(qty) FROM $CHDB.items" \
		"node$n: the copy again replaced the table's rows (the stray row is gone)"
done
wait_until 30 "the swap's log line" run_has 'public\.items: the new copy is swapped in \(RENAME TABLE\)'
ok $? "resync: a shadow copy swapped in ON CLUSTER"
for n in 1 2; do
	is "$(qn $n "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name LIKE 'items\\_\\_pgch\\_%'")" 0 \
		"node$n: no shadow or old table left after the resync"
	is "$(qn $n "SELECT count() FROM system.replicas WHERE database = '$CHDB' AND table = 'items' AND total_replicas = 2")" 1 \
		"node$n: the swapped-in items is a replica of 2"
done
run_stop

# --- ZooKeeper away: pgch check says so
"$CLUSTER_SH" stop-zk "$CLUSTER_DIR"
out=$("$PGCH" check "$WORK/p.lua" 2>&1)
ok $((! $?)) "check fails without ZooKeeper"
like "$out" "cannot reach ZooKeeper" "check: ZooKeeper does not answer"
"$CLUSTER_SH" start-zk "$CLUSTER_DIR"
diag "cluster_replicated took $((SECONDS - t_start)) s"
done_testing
