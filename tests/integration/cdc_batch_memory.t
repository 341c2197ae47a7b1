#!/usr/bin/env bash
# Large transactions reach ClickHouse in a few large INSERTs, never in one-row ones. A
# one-transaction UPDATE of a wide table (64 mixed columns) is flushed when the pending
# changes reach half of pipe.max_batch_memory (a batch being filled and one being inserted
# share it) or pipe.batch_size rows; the INSERTs are counted by
# ClickHouse itself (system.query_log, written_rows per INSERT). Before the fix, a batch
# whose arena had grown to the limit kept counting its capacity after a flush, so every
# later row was flushed alone: thousands of one-row INSERTs (and parts) for one UPDATE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

N=${CDC_WIDE_ROWS:-30000}
fresh_dbs
"$ROOT/scripts/wide.sh" wide "$N" | pg >/dev/null
ch_ok "SYSTEM FLUSH LOGS" >/dev/null

# INSERTs into the wide table that ClickHouse finished since $1 (a query_log event time):
# their written_rows, one per line, in order.
inserts_since() {
	ch_ok "SYSTEM FLUSH LOGS" >/dev/null
	ch_ok "SELECT written_rows FROM system.query_log WHERE type = 2 AND query_start_time >= toDateTime('$1')
	       AND query LIKE 'INSERT INTO \`$CHDB\`.\`wide\`%' ORDER BY event_time, query_start_time FORMAT TabSeparated"
}
ch_now() { ch_ok "SELECT toString(now())"; }

# --- memory bound: 8 MB of pending changes, batch_size far above the row count
write_config "$WORK/m.lua" "pipe = { name = \"$T_NAME\", sync_interval = 10, batch_size = 1000000, max_batch_memory = \"8MB\" }" \
	'tables = { "public.wide" }'
run_start "$WORK/m.lua"
wait_streaming 120
wait_table_equal 60 wide id c1 c2
spid=$(stream_pid)
# the fixed cost of inserting at all (the sender thread, a Native block, zstd's context):
# a small UPDATE first, so that the bound below is on what the large one adds
pg -c "UPDATE wide SET c1 = coalesce(c1, 0) + 1 WHERE id <= 200"
wait_table_equal 60 wide id c1 c2
hwm0=$(vm_hwm "$spid")
sleep 1
since=$(ch_now)
sleep 1
pg -c "UPDATE wide SET c1 = coalesce(c1, 0) + 1"
wait_table_equal 120 wide id c1 c2
rows=$(inserts_since "$since")
count=$(printf '%s\n' "$rows" | grep -c .)
total=$(printf '%s\n' "$rows" | awk '{ s += $1 } END { print s + 0 }')
small=$(printf '%s\n' "$rows" | head -n -1 | awk '$1 < 2000' | wc -l)
diag "INSERTs after the UPDATE of $N rows with max_batch_memory = 8MB: $count, rows each: $(printf '%s' "$rows" | tr '\n' ' ')"
is "$total" "$N" "the INSERTs carry the $N updated rows, each once"
ok "$([ "$count" -ge 2 ] && [ "$count" -le 12 ]; echo $?)" "the memory bound splits the transaction into a few INSERTs ($count)"
is "$small" 0 "every INSERT but the last carries at least 2000 rows"
hwm=$(vm_hwm "$spid")
diag "stream worker VmHWM: ${hwm0:-?} kB after a 200-row UPDATE, ${hwm:-?} kB after the $N-row one"
if [ -n "${PGCH_SANITIZED:-}" ]; then
	T_N=$((T_N + 1))
	echo "ok $T_N # skip memory bound under AddressSanitizer"
else
	ok "$([ -n "$hwm" ] && [ $((hwm - hwm0)) -lt $((2 * 8 * 1024)) ]; echo $?)" \
		"the large UPDATE grew the stream worker's peak RSS by less than twice max_batch_memory ($((hwm - hwm0)) kB)"
fi
same_sample wide "id, c1, c2, c3, c4, c6, c9, c10" id "id % 997 = 3" "a sample of rows equal value by value"
run_stop

# --- row bound: batch_size rows per INSERT, whatever memory allows
write_config "$WORK/r.lua" "pipe = { name = \"$T_NAME\", sync_interval = 10, batch_size = 7000 }" 'tables = { "public.wide" }'
run_start "$WORK/r.lua"
wait_until 60 "the stream worker to start" run_has 'stream\[[0-9]+\] info: streaming from slot' || stop_here "the stream starts"
sleep 1
since=$(ch_now)
sleep 1
pg -c "UPDATE wide SET c1 = c1 + 1"
wait_table_equal 120 wide id c1 c2
rows=$(inserts_since "$since")
count=$(printf '%s\n' "$rows" | grep -c .)
want=$(((N + 6999) / 7000))
diag "INSERTs after the UPDATE with batch_size = 7000: $count, rows each: $(printf '%s' "$rows" | tr '\n' ' ')"
ok "$([ "$count" -le $((want + 2)) ]; echo $?)" "at most ceil($N / 7000) + 2 = $((want + 2)) INSERTs ($count)"
is "$(printf '%s\n' "$rows" | head -n -1 | awk '$1 != 7000' | wc -l)" 0 "every INSERT but the last carries batch_size rows"
ok "$(! log_has ' (error|warning): '; echo $?)" "no error or warning in the run log"
run_stop
done_testing
