#!/usr/bin/env bash
# The stream worker killed with SIGKILL twice under pgbench -N load: the supervisor restarts
# it, it resumes from the slot (delivery is at least once, versions make replays harmless),
# and once the load stops and pgch catches up, pgbench_accounts/branches/tellers/history are
# equal in count and sums, and a sample value by value. pgbench_history has no key, so it
# gets one (a bigserial column pgbench does not name in its INSERT).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pgbench -i -s 1 -q "$DB" >"$WORK/pgbench-init.log" 2>&1 || bail "pgbench -i failed: $(cat "$WORK/pgbench-init.log")"
pg -c "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY"
write_config "$WORK/k.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" \
	'tables = { "public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_tellers", "public.pgbench_history" }'
run_start "$WORK/k.lua"
wait_streaming 120

pgbench -N -c 4 -j 2 -T 30 "$DB" >"$WORK/pgbench.log" 2>&1 &
bench=$!

# kill the stream worker twice while the load runs; each time a new one must take over
killed=()
for delay in 8 10; do
	sleep $delay
	old=$(stream_pid)
	if [ -z "$old" ]; then ok 1 "found the stream worker to kill"; continue; fi
	kill -KILL "$old"
	killed+=("$old")
	wait_until 30 "a new stream worker after killing $old" eval '[ -n "$(stream_pid)" ] && [ "$(stream_pid)" != '"$old"' ]'
	ok $? "killed stream worker $old with SIGKILL; the supervisor started $(stream_pid) (after ${WAITED}s)"
done
wait "$bench"
st=$?
is "$st" 0 "pgbench ran without error"
[ "$st" = 0 ] || diag "$(tail -n 20 "$WORK/pgbench.log")"
diag "pgbench: $(grep -E '^(number of transactions actually processed|tps)' "$WORK/pgbench.log" | tr '\n' ' ')"
txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.log")
ok "$([ "${txns:-0}" -gt 1000 ]; echo $?)" "the load changed the source (${txns:-0} transactions)"
is "$(grep -c 'the stream worker was killed by signal 9' "$RUN_LOG")" 2 "the supervisor saw both kills"
is "$(pg -c "SELECT count(*) FROM pgbench_history")" "${txns:-0}" "one history row per transaction in PostgreSQL"

t0=$SECONDS
wait_table_equal 180 pgbench_history hid aid delta tid
diag "caught up $((SECONDS - t0)) s after the load stopped"
wait_table_equal 60 pgbench_accounts aid abalance bid
wait_table_equal 30 pgbench_branches bid bbalance
wait_table_equal 30 pgbench_tellers tid tbalance bid
same_sample pgbench_accounts "aid, bid, abalance" aid "aid % 97 = 0" "pgbench_accounts: a sample equal value by value"
same_sample pgbench_history "hid, tid, bid, aid, delta" hid "hid % 37 = 0" "pgbench_history: a sample equal value by value"
same_rows "SELECT count(*) FROM pgbench_accounts WHERE abalance <> 0" \
	"SELECT count() FROM $CHDB.pgbench_accounts FINAL WHERE _pgch_is_deleted = 0 AND abalance <> 0" "the same accounts changed"
run_stop
done_testing
