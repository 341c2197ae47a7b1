# lib_cdc.sh — helpers for the continuous-replication tests (cdc_*.t), sourced after lib.sh.
#
# A test starts `pgch run` in the background (run_start), changes the source, waits with a
# bounded poll until ClickHouse shows what PostgreSQL has (wait_same, wait_table_equal), then
# stops it (run_stop). Every wait prints the run log when it times out, so a failure says
# what pgch was doing. The run is killed when the test exits, whatever happened.
RUN_PID=
RUN_LOG=$WORK/run.log
RUN_FROM=1 # first line of $RUN_LOG written by the current run
WAITED=0 # seconds the last wait_* took

CDC_AT_EXIT=()

# at_exit COMMAND: run COMMAND (with eval) when the test exits, however it exits, after
# pgch run is stopped: put back what the test changed on the shared servers.
at_exit() { CDC_AT_EXIT+=("$1"); }

cdc_cleanup() {
	if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
		kill -TERM "$RUN_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$RUN_PID" 2>/dev/null
	fi
	local c
	for c in "${CDC_AT_EXIT[@]}"; do eval "$c"; done
	# slots are per cluster: do not leave this test's holding WAL for the tests after it
	psql -X -q -At -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB' AND NOT active" >/dev/null 2>&1
	eval "$CDC_LIB_TRAP"
	rm -rf "$WORK"
}
# lib.sh's own exit trap runs after ours
cdc_lib_trap() { eval "set -- $(trap -p EXIT)"; CDC_LIB_TRAP=${3:-}; }
cdc_lib_trap
trap cdc_cleanup EXIT

# run_start CONFIG [OPTIONS...]: `pgch OPTIONS run CONFIG` in the background, logging to
# $RUN_LOG (appended).
run_start() {
	RUN_FROM=$(($(cat "$RUN_LOG" 2>/dev/null | wc -l) + 1))
	"$PGCH" "${@:2}" run "$1" >>"$RUN_LOG" 2>&1 &
	RUN_PID=$!
}

# run_stop: SIGTERM, wait, and test that pgch exited 0.
run_stop() {
	local st
	kill -TERM "$RUN_PID" 2>/dev/null
	wait "$RUN_PID"
	st=$?
	RUN_PID=
	is "$st" 0 "pgch run exits 0 on SIGTERM"
	[ "$st" = 0 ] || show_log
}

show_log() { # the end of the run log, as TAP comments
	diag "--- last lines of $RUN_LOG:"
	tail -n "${1:-60}" "$RUN_LOG" 2>/dev/null | sed 's/^/# /'
}

# wait_until SECONDS DESCRIPTION COMMAND...: run COMMAND every 0.5 s until it succeeds;
# 1 (and the run log) after SECONDS. Sets WAITED. No test line of its own.
wait_until() {
	local secs=$1 what=$2
	shift 2
	local start=${EPOCHREALTIME/./} now
	while :; do
		if "$@"; then
			now=${EPOCHREALTIME/./}
			WAITED=$(((now - start) / 1000000))
			return 0
		fi
		now=${EPOCHREALTIME/./}
		if [ $((now - start)) -gt $((secs * 1000000)) ]; then
			WAITED=$secs
			diag "timed out after ${secs}s waiting for: $what"
			show_log
			return 1
		fi
		if [ -n "$RUN_PID" ] && ! kill -0 "$RUN_PID" 2>/dev/null; then
			diag "pgch run exited while waiting for: $what"
			show_log
			return 1
		fi
		sleep 0.5
	done
}

# log_has REGEX: the run log has a matching line; run_has: one written by the current run.
log_has() { grep -Eq -- "$1" "$RUN_LOG" 2>/dev/null; }
run_has() { tail -n +"$RUN_FROM" "$RUN_LOG" 2>/dev/null | grep -Eq -- "$1"; }

# stop_here DESCRIPTION: a failing test line, and no more tests (the rest would only time out).
stop_here() {
	ok 1 "$*"
	done_testing
	exit 1
}

# wait_streaming [SECONDS]: the current run has every table copied and a stream worker
# streaming; the test stops here if that does not happen.
wait_streaming() {
	wait_until "${1:-60}" "pgch run to copy every table and stream" \
		run_has 'every table is copied; streaming changes' || stop_here "pgch run copies every table"
	wait_until 30 "the stream worker to start" run_has 'stream\[[0-9]+\] info: streaming from slot' ||
		stop_here "the stream worker starts"
}

# The same query's answer from both sides (TSV), non-empty on the PostgreSQL side.
same_now() { # same_now PG_SQL CH_SQL
	local want got
	want=$(pg_tsv "$1" 2>/dev/null) || return 1
	[ -n "$want" ] || return 1
	got=$(ch_ok "$2 FORMAT TabSeparated" 2>/dev/null) || return 1
	[ "$got" = "$want" ]
}

# wait_same SECONDS PG_SQL CH_SQL DESCRIPTION: a test that the two answers become equal.
wait_same() {
	local secs=$1 p=$2 c=$3 what=$4
	if wait_until "$secs" "$what" same_now "$p" "$c"; then
		ok 0 "$what (after ${WAITED}s)"
	else
		ok 1 "$what"
		diag "PostgreSQL: $(pg_tsv "$p" 2>&1 | head -c 500)"
		diag "ClickHouse: $(ch_ok "$c FORMAT TabSeparated" 2>&1 | head -c 500)"
	fi
}

# Aggregates of a table on both sides: count and sum of each named integer column.
pg_aggs() { # pg_aggs TABLE COLS...
	local t=$1 q="count(*)"
	shift
	for c in "$@"; do q="$q, coalesce(sum($c), 0)"; done
	echo "SELECT $q FROM $t"
}
ch_aggs() { # ch_aggs TABLE COLS...
	local t=$1 q="count()"
	shift
	for c in "$@"; do q="$q, sum($c)"; done
	echo "SELECT $q FROM $CHDB.$t FINAL WHERE _pgch_is_deleted = 0"
}

# wait_table_equal SECONDS TABLE COLS...: count and sums become equal (a test line).
wait_table_equal() {
	local secs=$1 t=$2
	shift 2
	wait_same "$secs" "$(pg_aggs "$t" "$@")" "$(ch_aggs "$t" "$@")" "$t: count and sums of ($*) equal in ClickHouse"
}

# same_sample TABLE COLS ORDER WHERE DESCRIPTION: rows matching WHERE, value by value. The
# column expressions must print the same in both (integers, text).
same_sample() {
	same_rows "SELECT $2 FROM $1 WHERE $4 ORDER BY $3" \
		"SELECT $2 FROM $CHDB.$1 FINAL WHERE _pgch_is_deleted = 0 AND ($4) ORDER BY $3" "$5"
}
# wait_sample SECONDS TABLE COLS ORDER WHERE DESCRIPTION: the same, waited for. For changes
# that leave counts and sums alone (two keys swapped).
wait_sample() {
	wait_same "$1" "SELECT $3 FROM $2 WHERE $5 ORDER BY $4" \
		"SELECT $3 FROM $CHDB.$2 FINAL WHERE _pgch_is_deleted = 0 AND ($5) ORDER BY $4" "$6"
}

# Pids of the running supervisor's children; the stream worker's pid (from the log).
children() { ps --ppid "$RUN_PID" -o pid= 2>/dev/null | tr -d ' '; }
stream_pid() { # the live stream worker, or nothing
	local p
	for p in $(grep -Eo 'stream\[[0-9]+\]' "$RUN_LOG" | tr -dc '0-9\n' | sort -u); do
		if children | grep -qx "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
# VmHWM (peak resident set) of a process, in kB.
vm_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }


# resync_and_wait CONFIG TABLE: pgch resync --table TABLE, then wait (90 s) until the run log
# has one more "TABLE copied:" line than before; its status is wait_until's.
resync_and_wait() {
	local re=${2//./\\.} copies
	copies=$(tail -n +"$RUN_FROM" "$RUN_LOG" | grep -c "$re copied:")
	"$PGCH" resync "$1" --table "$2" >/dev/null 2>&1
	wait_until 90 "the resync" eval "[ \"\$(tail -n +\"\$RUN_FROM\" \"\$RUN_LOG\" | grep -c \"$re copied:\")\" -gt $copies ]"
}
