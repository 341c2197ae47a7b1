#!/usr/bin/env bash
# bench_catchup.sh — the wide table's catch-up alone, cheap enough to repeat while profiling
# the stream worker (issue 7 item 5). Needs PGHOST/PGPORT/PGUSER and CH_URL, e.g. from
# scripts/with-servers.sh or a kept server dir's env files.
#
#   scripts/bench_catchup.sh setup ROWS     create db catchup_wide: the wide table
#                                           (scripts/wide.sh) snapshotted with its slot kept
#   scripts/bench_catchup.sh run [N]        N times (default 1): a one-transaction
#                                           `UPDATE wide SET c1 = c1 + 1`, decoded by
#                                           pg_recvlogical, then caught up by `pgch run`;
#                                           prints per run the wall and CPU seconds of both
#   scripts/bench_catchup.sh check          the copy equal to the source, column by column
#   WRAP="perf record -g -o F --" / WRAP="valgrind --tool=callgrind --trace-children=yes ..."
#                                           runs pgch under that command (run only)
#
# The stream worker's CPU (pgch-stream: utime + stime from /proc, read once ClickHouse
# reflects the UPDATE) is the figure to compare; wall times on a shared machine are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
PGCH=${PGCH:-$top/pgch}
db=catchup_wide
work=${CATCHUP_DIR:-/tmp/pgch-catchup}
mkdir -p "$work"
ch() { curl -sS "$CH_URL/" --data-binary "$1"; }
. "$here/bench_lib.sh"
wq() { psql -X -q -At -d "$db" "$@"; }
now() { date +%s.%N; }
tick=$(getconf CLK_TCK)
ticks_of() { awk '{ line = $0; sub(/^.*\) /, "", line); split(line, f, " "); print f[12] + f[13] }' "/proc/$1/stat" 2>/dev/null || echo 0; }
ch_ticks() { ticks_of "$(cat "$CH_DIR/server.pid.launch")"; }

setup() {
	rows=${1:?usage: bench_catchup.sh setup ROWS}
	dropdb --if-exists "$db" >/dev/null 2>&1 || true
	ch "DROP DATABASE IF EXISTS $db" >/dev/null
	createdb "$db"
	"$here/wide.sh" wide "$rows" | wq >/dev/null
	cat >"$work/wide.lua" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$db", user = "${PGUSER:-postgres}" }
destination = { url = "$CH_URL", database = "$db" }
pipe = { name = "catchup", sync_interval = 1, snapshot = { workers = 2 } }
tables = { "public.wide" }
LUA
	"$PGCH" snapshot --keep-slot "$work/wide.lua" >"$work/snapshot.log" 2>&1 || { cat "$work/snapshot.log"; exit 1; }
}

stream_pid() { ps --ppid "$1" -o pid=,comm= | awk '$2 == "pgch-stream" {print $1}' | head -n 1; }

run_once() {
	wq -c "SELECT pg_create_logical_replication_slot('catchup_recv', 'pgoutput')" >/dev/null
	floor=$(update_in_one_txn "$db" "UPDATE wide SET c1 = c1 + 1")
	nrows=$(wq -c "SELECT count(*) FROM wide")
	[ -z "${BENCH_DEBUG:-}" ] || echo "floor $floor rows $nrows" >&2
	endpos=$(wq -c "SELECT pg_current_wal_insert_lsn()")
	wsum=$(wq -c "SELECT coalesce(sum(c1), 0) FROM wide")
	t0=$(now)
	/usr/bin/time -f '%U %S' -o "$work/recv.time" pg_recvlogical -d "$db" --slot catchup_recv --start \
		-o proto_version=1 -o publication_names=pgch_catchup --endpos "$endpos" -f /dev/null --no-loop
	t1=$(now)
	wq -c "SELECT pg_drop_replication_slot('catchup_recv')" >/dev/null
	read -r ru rs <"$work/recv.time"
	recv_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')

	ch_start=$(ch "SELECT toString(now())")
	sleep 1 # query_log's event_time has whole seconds
	c0=$(ch_ticks)
	t0=$(now)
	# shellcheck disable=SC2086
	${WRAP:-} "$PGCH" run "$work/wide.lua" >"$work/run.log" 2>&1 &
	wpid=$!
	spid= ticks=0
	for _ in $(seq 1 600); do
		[ -n "$spid" ] || spid=$(stream_pid "$wpid" || true)
		# under WRAP the supervisor is a grandchild: look one level further down
		[ -n "$spid" ] || for c in $(ps --ppid "$wpid" -o pid=); do spid=$(stream_pid "$c" || true); [ -n "$spid" ] && break; done
		[ -n "$spid" ] && break
		sleep 0.05
	done
	wait_versions "$CH_URL" "$db.wide" "$floor" "$nrows" 3000 || true
	t1=$(now)
	[ -n "$spid" ] && ticks=$(ticks_of "$spid")
	got=$(ch "SELECT coalesce(sum(c1), 0) FROM $db.wide FINAL WHERE _pgch_is_deleted = 0" 2>/dev/null || true)
	c1=$(ch_ticks)
	kill -TERM "$wpid" 2>/dev/null || true
	wait "$wpid" || true
	[ "$got" = "$wsum" ] || { echo "catch-up did not converge: $got vs $wsum"; tail "$work/run.log"; exit 1; }
	ch "SYSTEM FLUSH LOGS" >/dev/null
	ins=$(ch "SELECT count(), sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] +
	                        ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')]) / 1e6
	          FROM system.query_log WHERE toInt8(type) = 2 AND event_time >= toDateTime('$ch_start')
	          AND query LIKE 'INSERT INTO \`$db\`.\`wide\`%' FORMAT TabSeparated")
	read -r n_ins ins_cpu <<<"$ins"
	pgch_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
	awk -v rw="$recv_wall" -v ru="$ru" -v rs="$rs" -v pw="$pgch_wall" -v t="$ticks" -v hz="$tick" -v c="$((c1 - c0))" -v n="$n_ins" -v ic="$ins_cpu" 'BEGIN {
		printf "recvlogical wall %.2f s cpu %.2f s | pgch wall %.2f s stream cpu %.2f s | ClickHouse cpu %.2f s, %d INSERTs %.2f s | wall ratio %.2f\n",
			rw, ru + rs, pw, t / hz, c / hz, n, ic, pw / rw }'
}

check() { # the copy column by column (scripts/wide.sh --check): equal or not
	want=$(wq -F $'\t' -c "SELECT $("$here/wide.sh" --check pg) FROM wide")
	got=$(ch "SELECT $("$here/wide.sh" --check ch) FROM $db.wide FINAL WHERE _pgch_is_deleted = 0 FORMAT TabSeparated")
	if [ "$got" = "$want" ]; then echo "equal column by column"; else echo "NOT EQUAL"; echo "pg: $want"; echo "ch: $got"; return 1; fi
}

case ${1:-} in
setup) setup "${2:-}" ;;
run) for _ in $(seq 1 "${2:-1}"); do run_once; done ;;
check) check ;;
*) echo "usage: bench_catchup.sh setup ROWS | run [N] | check" >&2; exit 2 ;;
esac
