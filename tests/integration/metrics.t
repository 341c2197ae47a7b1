#!/usr/bin/env bash
# pipe.metrics: the Prometheus endpoint of `pgch run`, with the real Prometheus.
#
# The test has its own ClickHouse (it stops it to make the lag rise) and its own Prometheus
# server scraping pgch every second. After a snapshot of 5000 rows in partitions of 1000 and a CDC workload
# of known size, the counters equal what was replicated (rows copied, changes by kind);
# /metrics passes `promtool check metrics`; Prometheus reads the same numbers back through
# its HTTP API; lag rises while ClickHouse is stopped and falls to 0 after; a killed stream
# worker counts as a restart; /healthz is 200 while streaming and 503 while paused. The
# alerting rules in contrib/ pass `promtool check rules` and the Grafana dashboard is JSON
# over metrics pgch serves. Wrong addresses are refused with the key named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

command -v promtool >/dev/null && command -v prometheus >/dev/null || bail "promtool/prometheus missing: run scripts/deps.sh"
CHM=$WORK/ch
at_exit '"$ROOT/scripts/ch.sh" stop "$CHM" >/dev/null 2>&1'
at_exit '[ -n "${PROM_PID:-}" ] && kill "$PROM_PID" 2>/dev/null; wait "${PROM_PID:-}" 2>/dev/null'
"$ROOT/scripts/ch.sh" start "$CHM" >/dev/null || bail "cannot start this test's ClickHouse"
CH_URL=$(. "$CHM/env" && echo "$CH_URL")

fresh_dbs
pg -c "CREATE TABLE orders (id int PRIMARY KEY, note text, amount numeric(12,2))" \
	-c "INSERT INTO orders SELECT g, 'n' || g, g / 7.0 FROM generate_series(1, 5000) g" \
	-c "CREATE TABLE events (id bigint PRIMARY KEY, kind text)" \
	-c "INSERT INTO events SELECT g, 'k' FROM generate_series(1, 40) g" -c "ANALYZE"

port=$("$ROOT/scripts/freeport")
write_config "$WORK/m.lua" \
	"pipe = { name = \"$T_NAME\", sync_interval = 0.5, metrics = \"127.0.0.1:$port\"," \
	"  snapshot = { workers = 2, rows_per_partition = 1000 } }" \
	'tables = { "public.orders", "public.events" }'
M="http://127.0.0.1:$port"

# ---------------------------------------------------------------- wrong addresses
for bad in 'nocolon' '127.0.0.1:0' '127.0.0.1:http' '::1:9187'; do
	sed "s|metrics = \"127.0.0.1:$port\"|metrics = \"$bad\"|" "$WORK/m.lua" >"$WORK/bad.lua"
	out=$("$PGCH" plan "$WORK/bad.lua" 2>&1)
	st=$?
	like "$st $out" "^2 .*pipe\.metrics = \"$(printf '%s' "$bad" | sed 's/[.]/[.]/g')\" (has|must)" "pipe.metrics = \"$bad\" is refused, naming the key"
done
# the port taken by another process: run stops at once with the address and the fix
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(60)' "$port" &
blocker=$!
poll_until 5 eval "ss -ltn | grep -q '127.0.0.1:$port '"
out=$(timeout 60 "$PGCH" run "$WORK/m.lua" 2>&1)
st=$?
kill $blocker
wait $blocker 2>/dev/null
like "$st $out" "^1 .*pipe\.metrics: cannot listen on 127\.0\.0\.1:$port: Address already in use; choose a free port" \
	"a port in use: pgch run fails naming the address"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgch_$T_NAME'")" 0 "before creating anything (no slot)"

# ---------------------------------------------------------------- a snapshot and a stream
scrape() { curl -sS --max-time 5 "$M/metrics"; }
metric() { # metric NAME{LABELS} : its value on a fresh scrape ("" if absent)
	scrape | awk -v k="$1" 'index($0, k " ") == 1 { print $2 }'
}
run_start "$WORK/m.lua"
wait_streaming 90
scrape >"$WORK/scrape1.txt"
promtool check metrics <"$WORK/scrape1.txt" >"$WORK/promtool.out" 2>&1
is "$?" 0 "promtool check metrics accepts /metrics"
[ -s "$WORK/promtool.out" ] && diag "$(cat "$WORK/promtool.out")"
is "$(metric 'pgch_rows_written_total{table="public.orders",phase="snapshot"}')" 5000 "rows copied: 5000 for orders"
is "$(metric 'pgch_rows_written_total{table="public.events",phase="snapshot"}')" 40 "rows copied: 40 for events"
parts=$(metric 'pgch_snapshot_partitions{table="public.orders"}')
ok "$([ "${parts:-0}" -ge 5 ]; echo $?)" "orders was copied in ${parts:-no} partitions (1000 rows each, the last open-ended)"
is "$(metric 'pgch_snapshot_partitions_done{table="public.orders"}')" "$parts" "and all of them are done"
ok "$([ "$(metric 'pgch_bytes_written_total{table="public.orders",phase="snapshot"}')" -gt 50000 ]; echo $?)" "bytes copied are counted"
is "$(metric 'pgch_pipe_state{state="streaming"}')" 1 "pipe state: streaming"
is "$(curl -s -o /dev/null -w '%{http_code}' "$M/healthz")" 200 "/healthz: 200 while streaming"
is "$(curl -s -o /dev/null -w '%{http_code}' "$M/nothing")" 404 "another path: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$M/metrics")" 405 "POST: 405"

# a real Prometheus scraping pgch every second
pport=$("$ROOT/scripts/freeport")
cat >"$WORK/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: pgch
    static_configs: [ { targets: [ "127.0.0.1:$port" ] } ]
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
	--web.listen-address="127.0.0.1:$pport" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
promq() { # promq QUERY: the first result's value
	curl -sS --max-time 5 -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}

# a workload of known size: 300 inserts, 200 updates, 50 deletes, one TRUNCATE
pg -c "INSERT INTO orders SELECT g, 'new', 1 FROM generate_series(5001, 5300) g"
pg -c "UPDATE orders SET note = 'upd' WHERE id BETWEEN 1001 AND 1200"
pg -c "DELETE FROM orders WHERE id BETWEEN 2001 AND 2050"
pg -c "TRUNCATE events"
wait_same 60 "SELECT count(*), sum(id) FROM orders WHERE note = 'upd'" \
	"SELECT count(), sum(id) FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0 AND note = 'upd'" "the workload reached ClickHouse"
wait_same 30 "SELECT count(*) FROM orders" "SELECT count() FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0" "orders: counts equal"
changes() { metric "pgch_stream_changes_total{table=\"$1\",kind=\"$2\"}"; }
wait_until 10 "the truncate to be counted" eval '[ "$(changes public.events truncate)" = 1 ]'
is "$(changes public.orders insert) $(changes public.orders update) $(changes public.orders delete)" "300 200 50" \
	"stream changes counted by kind: 300 inserts, 200 updates, 50 deletes"
is "$(changes public.events truncate)" 1 "and one truncate of events"
is "$(metric 'pgch_rows_written_total{table="public.orders",phase="stream"}')" 550 "550 rows written by the stream"
ok "$([ "$(metric 'pgch_stream_flush_duration_seconds_count')" -ge 1 ]; echo $?)" "flushes are counted"
ok "$(awk -v t="$(metric pgch_last_flush_timestamp_seconds)" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 60 && t <= now + 1) }'; echo $?)" \
	"the last flush was just now"
is "$(metric pgch_source_up)" 1 "the slot's position is read from the source"
ok "$([ "$(metric pgch_slot_retained_wal_bytes)" -gt 0 ]; echo $?)" "WAL retained by the slot is reported"

wait_until 20 "Prometheus to scrape the workload" eval \
	'[ "$(promq '\''pgch_stream_changes_total{table="public.orders",kind="update"}'\'')" = 200 ]' ||
	diag "$(tail -5 "$WORK/prometheus.log")"
is "$(promq 'pgch_stream_changes_total{table="public.orders",kind="update"}')" 200 "Prometheus reads the update counter back: 200"
is "$(promq 'pgch_rows_written_total{table="public.orders",phase="snapshot"}')" 5000 "and the rows copied: 5000"
is "$(promq 'pgch_replication_lag_seconds')" 0 "and the lag: 0 when caught up"

# ---------------------------------------------------------------- lag while ClickHouse is away
"$ROOT/scripts/ch.sh" stop "$CHM"
pg -c "INSERT INTO orders VALUES (9001, 'while away', 1)"
wait_until 30 "the lag to rise above 3 s" eval '[ "$(metric pgch_replication_lag_seconds | cut -d. -f1)" -ge 3 ]'
ok $? "lag rises while ClickHouse is stopped ($(metric pgch_replication_lag_seconds) s)"
wait_until 20 "Prometheus to see the lag" eval '[ "$(promq "pgch_replication_lag_seconds > 2")" != "" ]'
ok $? "Prometheus sees it too ($(promq pgch_replication_lag_seconds) s)"
ok "$([ "$(metric 'pgch_insert_retries_total{table="public.orders",reason="unreachable"}')" -ge 1 ]; echo $?)" \
	"failed INSERTs are counted as retries (unreachable)"
# the slot's position is read from the source every 5 s: the first read after the INSERT says it
wait_until 15 "lag in bytes above 0" eval '[ "$(metric pgch_replication_lag_bytes)" -gt 0 ]'
ok $? "lag in bytes is above 0"
"$ROOT/scripts/ch.sh" start "$CHM" >/dev/null
wait_same 60 "SELECT count(*) FROM orders" "SELECT count() FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0" "caught up after ClickHouse is back"
wait_until 20 "the lag to fall to 0" eval '[ "$(metric pgch_replication_lag_seconds)" = 0.000 ]'
ok $? "lag falls to 0 once the batch is in"
is "$(changes public.orders insert)" 301 "the insert made while away is counted once"

# ---------------------------------------------------------------- restarts, pause
sp=$(stream_pid)
kill -KILL "$sp"
wait_until 30 "a restart to be counted" eval "[ \"\$(metric 'pgch_worker_restarts_total{role=\"stream\"}')\" = 1 ]"
ok $? "a killed stream worker counts as a restart"
is "$(metric 'pgch_worker_exits_total{role="stream",reason="signal"}')" 1 "and as an exit by signal"
"$PGCH" pause "$WORK/m.lua" >/dev/null 2>&1
wait_until 20 "/healthz to say paused" eval "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $M/healthz)\" = 503 ]"
is "$(curl -s "$M/healthz")" paused "/healthz: 503 paused"
is "$(metric 'pgch_pipe_state{state="paused"}')" 1 "pipe state: paused"
"$PGCH" resume "$WORK/m.lua" >/dev/null 2>&1
wait_until 20 "/healthz to be 200 again" eval "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $M/healthz)\" = 200 ]"
ok $? "/healthz: 200 again after resume"
run_stop
ok "$(curl -s --max-time 2 "$M/metrics" >/dev/null; [ $? -ne 0 ]; echo $?)" "the endpoint is gone once pgch stops"

# ---------------------------------------------------------------- contrib: rules and dashboard
promtool check rules "$ROOT/contrib/prometheus/pgch-rules.yml" >"$WORK/rules.out" 2>&1
is "$?" 0 "promtool check rules accepts contrib/prometheus/pgch-rules.yml"
[ "$?" = 0 ] || diag "$(cat "$WORK/rules.out")"
# every metric the rules and the dashboard use is one pgch serves
served=$(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$WORK/scrape1.txt")
used=$(python3 - "$ROOT/contrib/grafana/pgch.json" "$ROOT/contrib/prometheus/pgch-rules.yml" <<'PY'
import json, re, sys
dash = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
exprs += re.findall(r"expr:\s*(.+)", open(sys.argv[2]).read())
names = set()
for e in exprs:
    names.update(re.findall(r"\bpgch_[a-z_]+", e))
print("\n".join(sorted(names)))
PY
)
missing=
for n in $used; do
	b=${n%_bucket}; b=${b%_sum}; b=${b%_count}
	grep -qx "$b" <<<"$served" || missing="$missing $n"
done
ok "$([ -n "$used" ] && [ -z "$missing" ]; echo $?)" "the dashboard and the rules use only metrics pgch serves${missing:+ (unknown:$missing)}"

done_testing
