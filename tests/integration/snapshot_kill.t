#!/usr/bin/env bash
# A snapshot worker killed with SIGKILL in the middle of its partition (its COPY transaction is
# open, its ClickHouse INSERT has started): the supervisor retries the partition, the run ends
# with exit 0 and the deduplicated contents equal PostgreSQL's exactly.
#
# To kill a worker while it copies, without racing it: stop it (SIGSTOP), check that it is
# mid-partition (its INSERT is open in ClickHouse and its PostgreSQL session holds the
# partition's COPY transaction), and only then SIGKILL it; otherwise let it go on and look
# again. If a run ends before a worker was caught (a very loaded machine), copy again.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE big (id bigint NOT NULL, v text, n numeric(12,2), f float8);
INSERT INTO big SELECT g, repeat(md5(g::text), 4), g / 7.0, g * 1.5 FROM generate_series(1, 400000) g;
ALTER TABLE big ADD PRIMARY KEY (id);
ANALYZE big;
SQL
write_config "$WORK/k.lua" \
	'pipe = { snapshot = { workers = 2, rows_per_partition = 50000 } }' \
	'tables = { "public.big" }'
CH_PORT_=${CH_URL##*:}
CH_PORT_=${CH_PORT_%%/*}

# local TCP port of worker PID's own connection to PORT (workers also hold the supervisor's
# sockets, inherited across fork: skip those)
conn_port() {
	ss -Htnp state established "( dport = :$2 )" 2>/dev/null | grep "pid=$1," | grep -v "pid=$sup," |
		awk '{print $3}' | sed 's/.*://' | head -1
}

# With worker PID stopped: "ROWS_STORED RANGE_START" if it is mid-partition, else nothing.
# The cheap test first: its INSERT is open in ClickHouse (it starts after the COPY and ends
# after the COPY's last row); then its session holds the partition's COPY transaction.
mid_partition() {
	local pid=$1 pgport chport start written
	chport=$(conn_port "$pid" "$CH_PORT_")
	[ -n "$chport" ] || return 1
	written=$(ch "SELECT written_rows FROM system.processes WHERE port = $chport AND query LIKE 'INSERT INTO%'")
	[ -n "$written" ] || return 1
	pgport=$(conn_port "$pid" "$PGPORT")
	[ -n "$pgport" ] || return 1
	start=$(pg -c "SELECT coalesce(substring(query from 'ctid >= ''[(]([0-9]+),0[)]'''), '0') FROM pg_stat_activity
		WHERE client_port = $pgport AND query LIKE 'COPY%' AND state IN ('active', 'idle in transaction')")
	[ -n "$start" ] || return 1
	echo "$written $start"
}

killed= range_start= written= restart=
for attempt in 1 2 3; do
	"$PGCH" snapshot $restart "$WORK/k.lua" 2>"$WORK/run.log" &
	sup=$!
	T_PIDS+=("$sup")
	while kill -0 "$sup" 2>/dev/null; do
		for w in $(pgrep -P "$sup"); do
			kill -STOP "$w" 2>/dev/null || continue
			if info=$(mid_partition "$w"); then
				kill -KILL "$w"
				kill -CONT "$w" 2>/dev/null
				killed=$w
				written=${info%% *}
				range_start=${info##* }
				break
			fi
			kill -CONT "$w" 2>/dev/null
		done
		[ -n "$killed" ] && break
		sleep 0.02
	done
	[ -n "$killed" ] && break
	wait_pid "$sup" 120
	diag "attempt $attempt: the run ended (exit $WAIT_STATUS) before a worker was caught mid-partition"
	restart=--restart
done
ok $((!(${#killed} > 0))) "a worker was killed mid-partition (pid ${killed:-none}, $written rows stored so far, range from page ${range_start:-?})"

wait_pid "$sup" 120
st=$WAIT_STATUS
log=$(cat "$WORK/run.log")
is "$st" 0 "the run ends with exit 0"
[ "$st" = 0 ] || diag "$log"

part=$(ch "SELECT part FROM $CHDB._pgch_state FINAL WHERE source_table = 'public.big' AND part >= 0 AND range_start = ${range_start:-999999}")
like "$log" "public\\.big partition ${part:-X} was killed by signal 9; retrying" "the supervisor saw partition ${part:-?} killed and retried it"
like "$log" "public\\.big partition ${part:-X} \\([0-9]+/8\\): " "partition ${part:-?} was then copied"
like "$log" "snapshot complete: 1 table, 400,000 rows" "the summary counts every row once"

is "$(pg -c "SELECT count(*) FROM big")" 400000 "set-up: 400000 rows in PostgreSQL"
same_rows "SELECT count(*), sum(id), sum(n), sum(f), sum(length(v)) FROM big" \
	"SELECT count(), sum(id), sum(n), sum(f), sum(length(v)) FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0" \
	"row count, sum of ids and column sums equal PostgreSQL's"
same_rows "SELECT id, v, n, f FROM big WHERE id % 4999 = 7 ORDER BY id" \
	"SELECT id, v, n, f FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0 AND id % 4999 = 7 ORDER BY id" "a sample of rows equals PostgreSQL's"
diag "rows stored before deduplication: $(ch "SELECT count() FROM $CHDB.big") (an aborted INSERT may keep what it sent)"
is "$(ch "SELECT count() FROM $CHDB._pgch_state FINAL WHERE source_table = 'public.big' AND part >= 0 AND status = 'done'")" 8 "all 8 partitions are recorded done"

ok $(kill -0 "$killed" 2>/dev/null && echo 1 || echo 0) "the killed worker is gone"
no_sessions() { [ "$(pg -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgch%' AND datname = '$DB'")" = 0 ]; }
poll_until 10 no_sessions
ok $? "no pgch session is left on PostgreSQL"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" 0 "no replication slot is left"
done_testing
