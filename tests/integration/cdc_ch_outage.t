#!/usr/bin/env bash
# ClickHouse stopped for 45 s (4.5 timeouts) under load, with wal_sender_timeout = 10s at the source
# (ARCHITECTURE.md, "Consistency": while ClickHouse is unreachable the stream worker keeps answering, so the
# walsender never drops it). The same walsender and the same stream worker serve the slot
# before and after the outage, neither log has a replication timeout or a lost connection,
# and the destination ends equal. CDC_OUTAGE_SECS overrides the 45 s.
# exclusive: stops the shared ClickHouse for 45 s and sets wal_sender_timeout at the source
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

OUTAGE=${CDC_OUTAGE_SECS:-45}
[ -n "${CH_DIR:-}" ] || bail "CH_DIR is not set: run under scripts/with-servers.sh"
CH_SH=$ROOT/scripts/ch.sh

fresh_dbs
pgbench -i -s 1 -q "$DB" >"$WORK/pgbench-init.log" 2>&1 || bail "pgbench -i failed: $(cat "$WORK/pgbench-init.log")"
pg -c "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY"

psql -X -q -d postgres -c "ALTER SYSTEM SET wal_sender_timeout = '10s'" -c "SELECT pg_reload_conf()" >/dev/null
at_exit 'psql -X -q -d postgres -c "ALTER SYSTEM RESET wal_sender_timeout" -c "SELECT pg_reload_conf()" >/dev/null'
at_exit '[ "$(curl -s -o /dev/null -w "%{http_code}" "$CH_URL/?query=SELECT%201")" = 200 ] || "$CH_SH" start "$CH_DIR" >/dev/null'
sleep 0.5
is "$(psql -X -At -d postgres -c "SHOW wal_sender_timeout")" "10s" "wal_sender_timeout is 10s at the source"
server_log_lines=$(wc -l <"$PG_DIR/server.log" 2>/dev/null || echo 0)

write_config "$WORK/o.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" \
	'tables = { "public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_tellers", "public.pgbench_history" }'
run_start "$WORK/o.lua"
wait_streaming 120

walsender() { psql -X -At -d postgres -c "SELECT r.pid FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'pgch_$T_NAME'"; }
wait_until 30 "the slot to be active" eval '[ -n "$(walsender)" ]'
ws_before=$(walsender)
sp_before=$(stream_pid)
ok "$([ -n "$ws_before" ] && [ -n "$sp_before" ]; echo $?)" "walsender ${ws_before:-?} serves stream worker ${sp_before:-?}"

# rate-limited load across the whole outage
pgbench -N -c 2 -j 1 -R 150 -T $((OUTAGE + 15)) "$DB" >"$WORK/pgbench.log" 2>&1 &
bench=$!
sleep 5
"$CH_SH" stop "$CH_DIR"
ok "$([ "$(curl -s -o /dev/null -w '%{http_code}' "$CH_URL/?query=SELECT%201")" != 200 ]; echo $?)" "ClickHouse is down"
t_down=$SECONDS
sleep "$OUTAGE"
ok "$([ "$(walsender)" = "$ws_before" ]; echo $?)" "after ${OUTAGE}s without ClickHouse the same walsender still serves the slot"
"$CH_SH" start "$CH_DIR" >/dev/null
diag "ClickHouse was down for $((SECONDS - t_down)) s"
wait "$bench"
is "$?" 0 "pgbench ran without error"
txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.log")
ok "$([ "${txns:-0}" -gt 1000 ]; echo $?)" "the load changed the source (${txns:-0} transactions)"

t0=$SECONDS
wait_table_equal 180 pgbench_history hid aid delta tid
diag "caught up $((SECONDS - t0)) s after the load stopped"
wait_table_equal 60 pgbench_accounts aid abalance bid
wait_table_equal 30 pgbench_branches bid bbalance
wait_table_equal 30 pgbench_tellers tid tbalance bid
same_sample pgbench_accounts "aid, bid, abalance" aid "aid % 97 = 0" "pgbench_accounts: a sample equal value by value"
same_sample pgbench_history "hid, tid, bid, aid, delta" hid "hid % 37 = 0" "pgbench_history: a sample equal value by value"

is "$(walsender)" "$ws_before" "the same walsender serves the slot after the outage"
is "$(stream_pid)" "$sp_before" "the same stream worker streams after the outage"
like "$(cat "$RUN_LOG")" 'retrying with backoff' "the stream worker retried its inserts during the outage"
ok "$(! log_has 'lost the replication connection|replication stream ended|terminating walsender|replication timeout|stream worker (stopped|was killed)'; echo $?)" \
	"the run log shows no lost replication connection"
new_server_log=$(tail -n +$((server_log_lines + 1)) "$PG_DIR/server.log" 2>/dev/null)
ok "$(! grep -Eq 'terminating walsender|replication timeout' <<<"$new_server_log"; echo $?)" "the PostgreSQL log shows no walsender timeout"
grep -E 'terminating walsender|replication timeout' <<<"$new_server_log" | head -5 | sed 's/^/# /'
run_stop
done_testing
