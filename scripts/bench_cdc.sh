#!/usr/bin/env bash
# bench_cdc.sh — change-data-capture benchmarks, as ratios against a baseline measured in the
# same run (ARCHITECTURE.md, "Benchmarks"). Called by scripts/bench.sh inside scripts/with-servers.sh, or alone:
#
#   scripts/with-servers.sh scripts/bench_cdc.sh
#
# (a) catch-up: a 1M-row UPDATE committed in one transaction; pgch's time until ClickHouse
#     reflects all of it, against pg_recvlogical (pgoutput) decoding the same WAL to /dev/null.
#     "Reflects" is seen by counting the rows with the UPDATE's version (bench_lib.sh: no
#     FINAL while pgch works), then the values are checked once with FINAL.
# (b) steady state: pgbench -N -c 4 for 60 s with sync_interval = 1; replication lag sampled
#     from pg_stat_replication.flush_lag every 0.5 s (pgch reports a position as flushed only
#     once ClickHouse has acknowledged its rows), p50 and p99; destination equal at the end.
# (c) catch-up of the wide table (scripts/wide.sh, BENCH_CDC_WIDE_ROWS = 300,000 rows x 64
#     mixed columns): `UPDATE wide SET c1 = c1 + 1` in one transaction, pgch against
#     pg_recvlogical on the same WAL as in (a); plus the INSERTs ClickHouse received during
#     the catch-up (system.query_log after SYSTEM FLUSH LOGS: count, rows per INSERT), the
#     CPU seconds of each side (pgch's process tree, PostgreSQL's, clickhouse-server's, from
#     /proc, so processes still running count too), the peak RSS (VmHWM) of each pgch process,
#     and the copy checked column by column (scripts/wide.sh --check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
PGCH=${PGCH:-$top/pgch}
SCALE=${BENCH_CDC_SCALE:-10}       # pgbench scale: 100,000 accounts per unit
WIDE_ROWS=${BENCH_CDC_WIDE_ROWS:-300000}
STEADY=${BENCH_CDC_SECONDS:-60}
db=bench_cdc
work=$(mktemp -d /tmp/pgch-bench-cdc.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
ch() { curl -sS "$CH_URL/" --data-binary "$1"; }
. "$here/bench_lib.sh" # update_in_one_txn, wait_versions: catch-up seen without polling FINAL
psqlq() { psql -X -q -At -d "$db" "$@"; }
now() { date +%s.%N; }

dropdb --if-exists "$db" >/dev/null 2>&1 || true
ch "DROP DATABASE IF EXISTS $db" >/dev/null
createdb "$db"
pgbench -i -q -s "$SCALE" "$db" >/dev/null 2>&1
psqlq -c "VACUUM ANALYZE"
rows=$(psqlq -c "SELECT count(*) FROM pgbench_accounts")

cat >"$work/cdc.lua" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$db", user = "${PGUSER:-postgres}" }
destination = { url = "$CH_URL", database = "$db" }
pipe = { name = "bench", sync_interval = 1, snapshot = { workers = 2 } }
tables = { "public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_tellers",
           { "public.pgbench_history", order_by = { "tid", "bid", "aid", "mtime", "delta" } } }
LUA
# pgbench_history has no primary key: give it one so it can be published
psqlq -c "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY"
sed -i 's/order_by = { "tid", "bid", "aid", "mtime", "delta" }/order_by = { "hid" }/' "$work/cdc.lua"

"$PGCH" snapshot --keep-slot "$work/cdc.lua" >"$work/snapshot.log" 2>&1 || { cat "$work/snapshot.log"; exit 1; }

# ---- (a) catch-up
psqlq -c "SELECT pg_create_logical_replication_slot('bench_recvlogical', 'pgoutput')" >/dev/null
floor=$(update_in_one_txn "$db" "UPDATE pgbench_accounts SET abalance = abalance + 1")
endpos=$(psqlq -c "SELECT pg_current_wal_insert_lsn()")
want_sum=$(psqlq -c "SELECT sum(abalance) FROM pgbench_accounts")

t0=$(now)
pg_recvlogical -d "$db" --slot bench_recvlogical --start -o proto_version=1 -o publication_names=pgch_bench \
	--endpos "$endpos" -f /dev/null --no-loop
t1=$(now)
base_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')

t0=$(now)
"$PGCH" run "$work/cdc.lua" >"$work/run.log" 2>&1 &
pgch_pid=$!
wait_versions "$CH_URL" "$db.pgbench_accounts" "$floor" "$rows" 600 || true
t1=$(now)
pgch_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
got=$(ch "SELECT sum(abalance) FROM $db.pgbench_accounts FINAL WHERE _pgch_is_deleted = 0" 2>/dev/null || true)
[ "$got" = "$want_sum" ] || { echo "catch-up did not converge: $got vs $want_sum"; tail "$work/run.log"; exit 1; }
stream_pid=$(ps --ppid $pgch_pid -o pid=,comm= | awk '$2 == "pgch-stream" {print $1}' | head -n 1)
psqlq -c "SELECT pg_drop_replication_slot('bench_recvlogical')" >/dev/null

# ---- (b) steady state with pgch still running
: >"$work/lag"
(
	while sleep 0.5; do
		psql -X -q -At -d "$db" -c "SELECT coalesce(extract(epoch FROM r.flush_lag), 0) FROM pg_stat_replication r
		  JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'pgch_bench'" >>"$work/lag" 2>/dev/null || true
	done
) &
sampler=$!
pgbench -n -N -c 4 -j 2 -T "$STEADY" "$db" >"$work/pgbench.log" 2>&1
tps=$(awk '/^tps/ {print $3; exit}' "$work/pgbench.log")
sleep 3
kill $sampler 2>/dev/null || true
peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$stream_pid/status" 2>/dev/null || echo 0)

# equal at the end: wait for the last changes, then compare count and sums
want=$(psqlq -c "SELECT (SELECT count(*) FROM pgbench_history), (SELECT sum(abalance) FROM pgbench_accounts),
                        (SELECT sum(bbalance) FROM pgbench_branches), (SELECT sum(tbalance) FROM pgbench_tellers)" | tr '|' '\t')
for _ in $(seq 1 600); do
	got=$(ch "SELECT (SELECT count() FROM $db.pgbench_history FINAL WHERE _pgch_is_deleted = 0),
	                 (SELECT sum(abalance) FROM $db.pgbench_accounts FINAL WHERE _pgch_is_deleted = 0),
	                 (SELECT sum(bbalance) FROM $db.pgbench_branches FINAL WHERE _pgch_is_deleted = 0),
	                 (SELECT sum(tbalance) FROM $db.pgbench_tellers FINAL WHERE _pgch_is_deleted = 0)")
	[ "$got" = "$want" ] && break
	sleep 0.2
done
equal=no
[ "$got" = "$want" ] && equal=yes
kill -TERM $pgch_pid
wait $pgch_pid || true

sort -n "$work/lag" >"$work/lag.sorted"
n=$(wc -l <"$work/lag.sorted")
pct() { awk -v p="$1" -v n="$n" 'NR == (int(n * p / 100) > 0 ? int(n * p / 100) : 1) {print; exit}' "$work/lag.sorted"; }
p50=$(pct 50)
p99=$(pct 99)

# ---- (c) catch-up of the wide table
wdb=bench_cdc_wide
tick=$(getconf CLK_TCK)
chpid=$(cat "$CH_DIR/server.pid.launch")
pmpid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
tree_ticks() { # tree_ticks PID: CPU ticks of PID (with its reaped children) and of every live descendant
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
	{ pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
	  ppid[pid] = f[2]; own[pid] = f[12] + f[13]; reaped[pid] = f[14] + f[15] }
	END { total = own[root] + reaped[root]
	      for (p in ppid) { q = ppid[p]; while (q != "" && q != 0 && q != root && q in ppid) q = ppid[q]; if (q == root && p != root) total += own[p] }
	      print total }'
}
ch_ticks() { awk '{ line = $0; sub(/^.*\) /, "", line); split(line, f, " "); print f[12] + f[13] }' "/proc/$chpid/stat"; }
wq() { psql -X -q -At -d "$wdb" "$@"; }
dropdb --if-exists "$wdb" >/dev/null 2>&1 || true
ch "DROP DATABASE IF EXISTS $wdb" >/dev/null
createdb "$wdb"
"$here/wide.sh" wide "$WIDE_ROWS" | wq >/dev/null
cat >"$work/wide.lua" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$wdb", user = "${PGUSER:-postgres}" }
destination = { url = "$CH_URL", database = "$wdb" }
pipe = { name = "benchw", sync_interval = 1, snapshot = { workers = 2 } }
tables = { "public.wide" }
LUA
"$PGCH" snapshot --keep-slot "$work/wide.lua" >"$work/wide-snapshot.log" 2>&1 || { cat "$work/wide-snapshot.log"; exit 1; }
wq -c "SELECT pg_create_logical_replication_slot('bench_recvlogical_w', 'pgoutput')" >/dev/null
wfloor=$(update_in_one_txn "$wdb" "UPDATE wide SET c1 = c1 + 1")
wendpos=$(wq -c "SELECT pg_current_wal_insert_lsn()")
wwant=$(wq -F $'\t' -c "SELECT $("$here/wide.sh" --check pg) FROM wide")
wsum=$(wq -c "SELECT coalesce(sum(c1), 0) FROM wide")

pg0=$(tree_ticks "$pmpid")
t0=$(now)
/usr/bin/time -f '%U %S' -o "$work/recv.time" pg_recvlogical -d "$wdb" --slot bench_recvlogical_w --start -o proto_version=1 \
	-o publication_names=pgch_benchw --endpos "$wendpos" -f /dev/null --no-loop
t1=$(now)
sleep 0.2
pg1=$(tree_ticks "$pmpid")
wbase_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
read -r ru rs <"$work/recv.time"
wq -c "SELECT pg_drop_replication_slot('bench_recvlogical_w')" >/dev/null

ch_start=$(ch "SELECT toString(now())")
sleep 1 # query_log's event_time has whole seconds: start after the snapshot's last INSERT
pg2=$(tree_ticks "$pmpid")
c2=$(ch_ticks)
t0=$(now)
"$PGCH" run "$work/wide.lua" >"$work/wide-run.log" 2>&1 &
wpid=$!
wait_versions "$CH_URL" "$wdb.wide" "$wfloor" "$(wq -c "SELECT count(*) FROM wide")" 1200 || true
t1=$(now)
got=$(ch "SELECT coalesce(sum(c1), 0) FROM $wdb.wide FINAL WHERE _pgch_is_deleted = 0" 2>/dev/null || true)
p_ticks=$(tree_ticks "$wpid")
pg3=$(tree_ticks "$pmpid")
c3=$(ch_ticks)
wpgch_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
[ "$got" = "$wsum" ] || { echo "wide catch-up did not converge: $got vs $wsum"; tail "$work/wide-run.log"; exit 1; }
rss=$(for p in $wpid $(ps --ppid "$wpid" -o pid= 2>/dev/null); do
	printf '%s %s\n' "$(cat "/proc/$p/comm" 2>/dev/null)" "$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null)"
done | awk 'NF == 2 {printf "%s%s %.1f MB", sep, $1, $2 / 1024; sep = ", "}')
wgot=$(ch "SELECT $("$here/wide.sh" --check ch) FROM $wdb.wide FINAL WHERE _pgch_is_deleted = 0 FORMAT TabSeparated")
wequal=no
[ "$wgot" = "$wwant" ] && wequal=yes
kill -TERM $wpid
wait $wpid || true
ch "SYSTEM FLUSH LOGS" >/dev/null
inserts=$(ch "SELECT count(), min(written_rows), max(written_rows), sum(written_rows) FROM system.query_log
              WHERE toInt8(type) = 2 AND event_time >= toDateTime('$ch_start') AND query LIKE 'INSERT INTO \`$wdb\`.\`wide\`%' FORMAT TabSeparated")
read -r n_ins min_rows max_rows sum_rows <<<"$inserts"

printf '\nCDC (ClickHouse %s, PostgreSQL %s, %s cores; load: %s)\n' "$(ch 'SELECT version()')" \
	"$(psqlq -c 'SHOW server_version' | cut -d' ' -f1)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  (a) catch-up of a %s-row UPDATE in one transaction\n' "$rows"
printf '      pg_recvlogical (pgoutput) to /dev/null  %8.2f s\n' "$base_s"
printf '      pgch run until ClickHouse reflects it   %8.2f s   ratio %.2f (target <= 0.7)\n' "$pgch_s" \
	"$(awk -v a="$pgch_s" -v b="$base_s" 'BEGIN {print a / b}')"
printf '      stream worker peak RSS                  %8.1f MB (target < 256)\n' "$(awk -v a="$peak_rss" 'BEGIN {print a / 1024}')"
printf '  (b) pgbench -N -c 4 for %s s (%s tps), sync_interval = 1\n' "$STEADY" "$tps"
printf '      replication lag p50 %.2f s, p99 %.2f s over %d samples (target p99 <= 3 s)\n' "$p50" "$p99" "$n"
printf '      destination equal to source at the end: %s\n' "$equal"
printf '  (c) catch-up of a %s-row UPDATE of the wide table (64 columns) in one transaction\n' "$WIDE_ROWS"
printf '      pg_recvlogical (pgoutput) to /dev/null  %8.2f s   CPU: pg_recvlogical %.2f s, PostgreSQL %.2f s\n' "$wbase_s" \
	"$(awk -v a="$ru" -v b="$rs" 'BEGIN {print a + b}')" "$(awk -v a="$pg0" -v b="$pg1" -v t="$tick" 'BEGIN {print (b - a) / t}')"
printf '      pgch run until ClickHouse reflects it   %8.2f s   ratio %.2f (target <= 1.0)\n' "$wpgch_s" \
	"$(awk -v a="$wpgch_s" -v b="$wbase_s" 'BEGIN {print a / b}')"
printf '      CPU seconds: pgch %.2f, PostgreSQL %.2f, ClickHouse %.2f\n' "$(awk -v a="$p_ticks" -v t="$tick" 'BEGIN {print a / t}')" \
	"$(awk -v a="$pg2" -v b="$pg3" -v t="$tick" 'BEGIN {print (b - a) / t}')" "$(awk -v a="$c2" -v b="$c3" -v t="$tick" 'BEGIN {print (b - a) / t}')"
printf '      INSERTs into ClickHouse during the catch-up: %s (rows each: %s to %s, %s in all)\n' "$n_ins" "$min_rows" "$max_rows" "$sum_rows"
printf '      peak RSS: %s\n' "$rss"
printf '      destination equal to source, column by column: %s\n' "$wequal"
[ "$equal" = yes ] && [ "$wequal" = yes ]
