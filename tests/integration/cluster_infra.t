#!/usr/bin/env bash
# The local ClickHouse cluster the cluster tests run on (scripts/cluster.sh): ZooKeeper and two
# ClickHouse 18.16 servers forming pgch_1x2 (one shard, two replicas) and pgch_2x1 (two shards).
# Topology and macros as each node sees them, ZooKeeper through ClickHouse, ON CLUSTER DDL
# answered per host, replication both ways, a synchronous insert through a Distributed table
# landing on both shards, and a stopped node catching up when it is started again.
# Uses the cluster of scripts/with-cluster.sh when CH1_URL is set, else starts its own.
# exclusive: starts ZooKeeper and two ClickHouse servers
. "$(dirname "$0")/lib.sh"

t_start=${EPOCHREALTIME/,/.}
elapsed() { perl -e 'printf "%.1f", $ARGV[1] - $ARGV[0]' "$1" "${EPOCHREALTIME/,/.}"; }
CLUSTER_SH=$ROOT/scripts/cluster.sh
OWN=
if [ -z "${CH1_URL:-}" ]; then
	OWN=$WORK/cluster
	eval "set -- $(trap -p EXIT)"
	LIB_TRAP=${3:-}
	START_PID=
	own_cluster_exit() { # a start still running (the test was killed) stops what it started
		[ -z "$START_PID" ] || { kill -TERM "$START_PID" 2>/dev/null && wait "$START_PID"; }
		"$CLUSTER_SH" stop "$OWN" >/dev/null 2>&1
		eval "$LIB_TRAP"
	}
	trap own_cluster_exit EXIT
	"$CLUSTER_SH" start "$OWN" >"$WORK/start.log" 2>&1 &
	START_PID=$!
	wait "$START_PID" || { START_PID= && bail "cluster.sh start failed: $(cat "$WORK/start.log")"; }
	START_PID=
	diag "$(cat "$WORK/start.log")"
	# shellcheck disable=SC1091
	source "$OWN/env"
fi
[ -n "${CLUSTER_DIR:-}" ] || bail "CLUSTER_DIR is not set: run under scripts/with-cluster.sh or without CH1_URL"
R=$CH_CLUSTER_REPLICATED S=$CH_CLUSTER_SHARDED

# qn N SQL [URL PARAMETERS]: node N's answer; fails (returns 1) on a ClickHouse or connection error
qn() {
	local url out
	if [ "$1" = 1 ]; then url=$CH1_URL; else url=$CH2_URL; fi
	out=$(curl -sS --max-time 60 -w '\n%{http_code}' "$url/?${3:-}" --data-binary "$2") || return 1
	[ "${out##*$'\n'}" = 200 ] || { printf '%s\n' "${out%$'\n'*}" >&2; return 1; }
	printf '%s' "${out%$'\n'*}"
}

# --- topology and macros, as each node sees them
for n in 1 2; do
	is "$(qn $n "SELECT cluster, count(), uniqExact(shard_num), max(replica_num), arrayStringConcat(arraySort(groupArray(toString(port))), ',')
		FROM system.clusters WHERE cluster IN ('$R', '$S') GROUP BY cluster ORDER BY cluster FORMAT TSV")" \
		"$R	2	1	2	$(printf '%s\n' "$CH1_TCP" "$CH2_TCP" | sort | paste -sd,)
$S	2	2	1	$(printf '%s\n' "$CH1_TCP" "$CH2_TCP" | sort | paste -sd,)" \
		"node$n: system.clusters has $R (1 shard x 2 replicas) and $S (2 shards x 1 replica) over both nodes"
	# 18.16's is_local is per shard: both replicas of pgch_1x2 say 1 on either node
	is "$(qn $n "SELECT shard_num FROM system.clusters WHERE cluster = '$S' AND is_local")" "$n" \
		"node$n: is shard $n of $S"
	is "$(qn $n "SELECT macro, substitution FROM system.macros ORDER BY macro FORMAT TSV")" \
		"repl_shard	r01
replica	node$n
shard	0$n" "node$n: macros {repl_shard} = r01, {replica} = node$n, {shard} = 0$n"
	like "$(qn $n "SELECT name FROM system.zookeeper WHERE path = '/' ORDER BY name FORMAT TSV" | paste -sd' ')" \
		'(^| )clickhouse( |$).*zookeeper' "node$n: reads ZooKeeper (system.zookeeper at /)"
done
is "$("$ROOT/scripts/zk.sh" check "$ZK_DIR")" "clickhouse zookeeper" "zk.sh check: a session of its own lists / in ZooKeeper"

# --- ON CLUSTER DDL and a replicated table over pgch_1x2
qn 1 "DROP DATABASE IF EXISTS $CHDB ON CLUSTER $R" >/dev/null || bail "could not drop $CHDB on the cluster"
out=$(qn 1 "CREATE DATABASE $CHDB ON CLUSTER $R FORMAT TSV")
is "$(printf '%s\n' "$out" | cut -f2,3 | sort)" "$(printf '%s\t0\n' "$CH1_TCP" "$CH2_TCP" | sort)" \
	"CREATE DATABASE ON CLUSTER $R: one row per host, status 0 on both"
for n in 1 2; do
	is "$(qn $n "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 1 "node$n: the database exists"
done
qn 1 "CREATE TABLE $CHDB.r ON CLUSTER $R (k UInt64, s String, v UInt64)
	ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{repl_shard}/{database}/{table}', '{replica}', v) ORDER BY k" >/dev/null
ok $? "CREATE TABLE ReplicatedReplacingMergeTree ON CLUSTER $R"
for n in 1 2; do
	is "$(qn $n "SELECT zookeeper_path, replica_name, total_replicas, active_replicas FROM system.replicas WHERE database = '$CHDB' AND table = 'r' FORMAT TSV")" \
		"/clickhouse/tables/r01/$CHDB/r	node$n	2	2" "node$n: replica node$n of the path with macros substituted, 2 of 2 active"
done
qn 1 "INSERT INTO $CHDB.r VALUES (1, 'one', 1)" >/dev/null
qn 2 "SYSTEM SYNC REPLICA $CHDB.r" >/dev/null
is "$(qn 2 "SELECT k, s, v FROM $CHDB.r FINAL FORMAT TSV")" "1	one	1" "a row inserted on node1 is read on node2 after SYSTEM SYNC REPLICA"
qn 2 "INSERT INTO $CHDB.r VALUES (1, 'uno', 2)" >/dev/null
qn 1 "SYSTEM SYNC REPLICA $CHDB.r" >/dev/null
is "$(qn 1 "SELECT k, s, v FROM $CHDB.r FINAL FORMAT TSV")" "1	uno	2" "a newer version inserted on node2 wins on node1"

# --- pgch_2x1: a local table per shard and a Distributed table over them
qn 1 "CREATE TABLE $CHDB.t_local ON CLUSTER $S (k UInt64, s String, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY k" >/dev/null &&
	qn 1 "CREATE TABLE $CHDB.dist ON CLUSTER $S (k UInt64, s String, v UInt64) ENGINE = Distributed($S, $CHDB, t_local, cityHash64(k))" >/dev/null
ok $? "CREATE TABLE local + Distributed ON CLUSTER $S"
qn 1 "INSERT INTO $CHDB.dist SELECT number, toString(number), 1 FROM numbers(100)" insert_distributed_sync=1 >/dev/null
ok $? "INSERT of 100 rows through the Distributed table with insert_distributed_sync=1 (URL parameter)"
want1=$(qn 1 "SELECT countIf(cityHash64(number) % 2 = 0) FROM numbers(100)")
c1=$(qn 1 "SELECT count() FROM $CHDB.t_local")
c2=$(qn 2 "SELECT count() FROM $CHDB.t_local")
is "$c1 $c2" "$want1 $((100 - want1))" "right after the INSERT, shard 1 holds the keys with cityHash64(k) % 2 = 0, shard 2 the others"
ok $((c1 == 0 || c2 == 0)) "both shards hold rows"
qn 2 "INSERT INTO $CHDB.dist SELECT number, 'x', 2 FROM numbers(10)" insert_distributed_sync=1 >/dev/null
for n in 1 2; do
	is "$(qn $n "SELECT count(), countIf(v = 2), countIf(s = 'x') FROM $CHDB.dist FINAL FORMAT TSV")" "100	10	10" \
		"node$n: SELECT FROM the Distributed table FINAL: 100 keys, the 10 newer versions win"
done

# --- a node stopped and started again catches up
t=${EPOCHREALTIME/,/.}
"$CLUSTER_SH" stop-node "$CLUSTER_DIR" 2
ok $? "stop-node 2 ($(elapsed "$t") s)"
qn 2 "SELECT 1" >/dev/null 2>&1
ok $((!$?)) "node2 does not answer while stopped"
qn 1 "INSERT INTO $CHDB.r VALUES (2, 'two', 1)" >/dev/null
ok $? "node1 takes an INSERT into the replicated table while node2 is down"
out=$("$CLUSTER_SH" start-node "$CLUSTER_DIR" 2 2>&1)
ok $? "start-node 2: $out"
qn 2 "SYSTEM SYNC REPLICA $CHDB.r" >/dev/null
is "$(qn 2 "SELECT k, s, v FROM $CHDB.r FINAL ORDER BY k FORMAT TSV")" "1	uno	2
2	two	1" "node2 caught up the row inserted while it was down"
is "$(qn 2 "SELECT count() FROM system.clusters WHERE cluster = '$R'")" 2 "node2 sees $R again"

# --- the cluster this test started stops completely
if [ -n "$OWN" ]; then
	pids=$(cat "$OWN/zk/zk.pid" "$OWN/ch1/server.pid.launch" "$OWN/ch2/server.pid.launch")
	"$CLUSTER_SH" stop "$OWN"
	ok $? "cluster.sh stop"
	left=
	for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	is "$left" "" "no ZooKeeper or ClickHouse process of this cluster is left ($(echo $pids))"
fi
diag "cluster_infra took $(elapsed "$t_start") s"
done_testing
