#!/usr/bin/env bash
# bench.sh — snapshot benchmark: pgch against the plain `psql \copy | HTTP INSERT` pipeline,
# on a narrow table (pgbench_accounts) and on a wide one of mixed types (scripts/wide.sh).
#
#   scripts/bench.sh            (what `make bench` runs; needs ./pgch built)
#
# Benchmarks are not tests: every figure is a ratio against a baseline measured in the same
# run on the same servers, because the machine is shared and absolute numbers mean little.
#
# What it does
#   1. Starts throwaway PostgreSQL and ClickHouse (scripts/with-servers.sh), loads
#      `pgbench -i -s $BENCH_SCALE` (50: 5,000,000 rows in pgbench_accounts, ordinary logged
#      tables) and the wide table (scripts/wide.sh: id and 63 columns of int, bigint,
#      numeric(14,2), date, timestamp, text, boolean, double and varchar(40), a tenth NULL;
#      BENCH_WIDE_ROWS = 300,000 rows) and runs VACUUM ANALYZE.
#   2. Measures, table by table, BENCH_REPS times each, alternating the order between
#      repetitions (forward, then reversed) so neither side always runs on a warmer machine:
#        baseline         psql -c "\copy pgbench_accounts to stdout" | curl --data-binary @-
#                         (the buffered form; note curl reads the whole body into memory
#                         before it sends anything, so PostgreSQL and ClickHouse never overlap)
#        baseline-stream  the same with `curl -T - -X POST` (chunked upload: streams, overlaps)
#        pgch             pgch snapshot, pipe.snapshot.workers = 2, rows_per_partition unset
#                         (pgch's default: the table's rows / workers within 100,000..1,000,000)
#        pgch-hook        pgch with a trivial row hook (on_row returns the row as is), for
#                         the cost of a hook per row against none (BENCH_HOOK=0 leaves it out)
#        pgch-rpp=N       the same with rows_per_partition = N, for each N in BENCH_PGCH_RPP
#                         (none by default); "auto" is the table's estimate / workers, rounded
#                         up, whatever pgch's bounds
#      For the wide table: baseline-stream (booleans selected as 0/1 for the TSV, the rest as
#      is: ClickHouse parses PostgreSQL's text forms of every other column), pgch and the
#      pgch-rpp kinds; the buffered baseline is left out (it only flatters pgch).
#      Every run writes into a fresh ClickHouse database (dropped afterwards) whose table has
#      exactly the DDL `pgch plan` prints — the baseline table too, so both sides pay for the
#      same engine, ORDER BY and column types; the baseline's INSERT names the four source
#      columns and ClickHouse fills the three pgch columns with their defaults.
#      Before each run PostgreSQL is restarted (empty shared_buffers: pgch's TID range scans
#      do not use the bulk-read ring, so they leave shared_buffers full of the table, which
#      would favour whichever run comes next) and a warm-up `SELECT count(*) FROM
#      pgbench_accounts` puts the table in the OS page cache: every run reads it from there.
#   3. Verifies every run: count, sum(aid), sum(bid), sum(abalance) and total filler bytes of
#      the ClickHouse table (FINAL, not deleted) equal PostgreSQL's; for the wide table, per
#      column the non-NULL count and a sum (the value; days for dates; length for text and
#      timestamps; 7 x the value, rounded, for doubles). A mismatch fails the bench.
#   4. Prints per table best and median wall time, rows/s, the ratios pgch/baseline-stream
#      (target <= 0.65) and pgch/baseline, peak RSS of every pgch process (target < 64 MB),
#      CPU seconds by component and the load.
#   5. After each `pgch` run, times `pgch verify` on the copy just made (both sides read
#      once, every value compared) and reports its median and its ratio to the snapshot's;
#      a difference it finds fails the bench.
#
# How it measures
#   wall time    bash $EPOCHREALTIME around the whole command (pgch: process start to exit,
#                including config, probing, CREATE TABLE, slot creation and drop).
#   client CPU   /usr/bin/time user+sys: pgch with all its reaped workers; psql+curl.
#   PostgreSQL   CPU of backends that ended during the run (the postmaster's cutime+cstime
#   CPU          delta: backends are reaped by the postmaster, so this is the COPY backends'
#                and the walsender's CPU; long-lived background processes are not included).
#   ClickHouse   utime+stime delta of the clickhouse-server process (all its threads,
#   CPU          including background merges during the run).
#   other CPU    busy time of the whole machine (/proc/stat) minus the three above: the other
#                users of this shared machine, plus the bench's own poller.
#   page faults  minor faults of the PostgreSQL backends (postmaster cminflt delta) and of
#                clickhouse-server: on a virtual machine they are a large part of the CPU.
#   CPU ratio    client+PostgreSQL+ClickHouse CPU seconds of pgch over the baseline's: when
#                other users saturate the machine, wall time follows CPU demand and this
#                ratio is far steadier than the wall-time one.
#   peak RSS     per pgch process: a poller (perl, every BENCH_RSS_INTERVAL_MS = 20 ms) walks
#                the process tree below /usr/bin/time through /proc/PID/task/*/children and
#                keeps the largest VmHWM (the kernel's own high-water mark, so samples only
#                have to see each process alive once after its peak) of every process named
#                pgch; the child of /usr/bin/time is the supervisor, the rest are workers.
#                Cross-check: /usr/bin/time's maximum RSS is the kernel's exact peak over the
#                supervisor and every worker it reaped (wait4 rusage includes waited-for
#                descendants); the report shows it next to the poller's figures and warns
#                when the poller saw less (a process that grew after its last sample).
#
# Environment
#   BENCH_SCALE=50  BENCH_WIDE_ROWS=300000  BENCH_REPS=3  BENCH_WORKERS=2
#   BENCH_TABLES="pgbench_accounts wide"  BENCH_PGCH_RPP="" (list, e.g. "auto 50000")
#   BENCH_HOOK=1  BENCH_RSS_INTERVAL_MS=20  BENCH_OUT=build/bench (logs and raw results are kept there)
#   PGCH=./pgch
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

# run under scripts/with-servers.sh already (its PG_DIR and CH_URL set): use those servers;
# starting them again in the same directory made pg_ctl fail on the existing postmaster.pid
if [ "${1:-}" != "--inside" ] && ! { [ -n "${PG_DIR:-}" ] && [ -n "${CH_URL:-}" ]; }; then
	exec "$here/with-servers.sh" "$0" --inside
fi

PGCH=${PGCH:-$top/pgch}
SCALE=${BENCH_SCALE:-50}
WIDE_ROWS=${BENCH_WIDE_ROWS:-300000}
TABLES=${BENCH_TABLES:-pgbench_accounts wide}
REPS=${BENCH_REPS:-3}
WORKERS=${BENCH_WORKERS:-2}
EXTRA_RPP=${BENCH_PGCH_RPP-}
RSS_MS=${BENCH_RSS_INTERVAL_MS:-20}
OUT=${BENCH_OUT:-$top/build/bench}
[ -x "$PGCH" ] || { echo "bench: $PGCH is not built; run make" >&2; exit 1; }
for tool in pgbench psql curl perl /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
chmod 755 "$OUT"
results=$OUT/results.tsv
rssfile=$OUT/rss.tsv
: >"$results"
: >"$rssfile"
DB=bench
tick=$(getconf CLK_TCK)
export PGOPTIONS="-c client_min_messages=warning"

say() { printf '%s\n' "$*" >&2; }
pg() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }
ch() { # fails on a ClickHouse error; prints the answer
	local out
	out=$(curl -sS -w '\n%{http_code}' "$CH_URL/" --data-binary "$1") || return 1
	[ "${out##*$'\n'}" = 200 ] || { printf 'ClickHouse: %s\n' "${out%$'\n'*}" >&2; return 1; }
	printf '%s' "${out%$'\n'*}"
}

# ---------------------------------------------------------------- data set

say "bench: $(uptime)"
say "bench: loading pgbench scale $SCALE and the $WIDE_ROWS-row wide table into PostgreSQL $PGHOST:$PGPORT (logs in $OUT)"
createdb "$DB"
pgbench -i -s "$SCALE" "$DB" >"$OUT/pgbench-init.log" 2>&1 || { cat "$OUT/pgbench-init.log" >&2; exit 1; }
"$here/wide.sh" wide "$WIDE_ROWS" | pg >/dev/null
pg -c "VACUUM ANALYZE"

wide_ref=$(pg -F $'\t' -c "SELECT $("$here/wide.sh" --check pg) FROM wide")

use_table() { # use_table TABLE: set the per-table globals
	TABLE=$1
	ROWS=$(pg -c "SELECT count(*) FROM $TABLE")
	SIZE=$(pg -c "SELECT pg_size_pretty(pg_relation_size('$TABLE'))")
	if [ "$TABLE" = wide ]; then
		REF=$wide_ref
		CHECK=$("$here/wide.sh" --check ch)
	else
		REF=$(pg -F $'\t' -c "SELECT count(*), sum(aid), sum(bid), sum(abalance), sum(octet_length(filler)) FROM $TABLE")
		CHECK="count(), sum(aid), sum(bid), sum(abalance), sum(length(filler))"
	fi
	COLS=$(pg -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$TABLE'::regclass AND attnum > 0 AND NOT attisdropped")
	# the baseline's SELECT: booleans as 0/1 (ClickHouse's UInt8 does not read t/f)
	BASE_SELECT=$(pg -c "SELECT string_agg(CASE WHEN atttypid = 'bool'::regtype THEN attname || '::int' ELSE attname END, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$TABLE'::regclass AND attnum > 0 AND NOT attisdropped")
	write_config "$OUT/plan.lua" plan 1000000
	"$PGCH" plan "$OUT/plan.lua" >"$OUT/plan-$TABLE.txt"
	DDL=$("$PGCH" plan --json "$OUT/plan.lua" | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{tables}[0]{ddl}')
	case "$DDL" in
		"CREATE TABLE IF NOT EXISTS \`plan\`.\`$TABLE\`"*) ;;
		*) echo "bench: unexpected DDL from pgch plan: $DDL" >&2; exit 1 ;;
	esac
	EST=$("$PGCH" plan --json "$OUT/plan.lua" | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{tables}[0]{estimated_rows}')
	say "bench: $TABLE has $ROWS rows, $SIZE"
}

chpid=$(cat "$CH_DIR/server.pid.launch")
[ -r "/proc/$chpid/stat" ] || { echo "bench: cannot find the ClickHouse server process" >&2; exit 1; }

write_config() { # write_config FILE CH_DATABASE ROWS_PER_PARTITION [LUA] ("" rows: pgch's default)
	cat >"$1" <<LUA
source      = { host = "$PGHOST", port = $PGPORT, dbname = "$DB", user = "${PGUSER:-postgres}" }
destination = { url = "$CH_URL", database = "$2" }
pipe        = { name = "bench", snapshot = { workers = $WORKERS${3:+, rows_per_partition = $3} } }
tables      = { "public.$TABLE" }
${4:-}
LUA
}

# ---------------------------------------------------------------- measuring

cat >"$OUT/rss-poller.pl" <<'PERL'
# rss-poller.pl ROOT_PID INTERVAL_MS: the largest VmHWM of every `pgch` process below ROOT_PID,
# printed as "pid ppid-role hwm_kb samples" when ROOT_PID has exited.
use strict;
use warnings;
use Time::HiRes qw(sleep);
my ($root, $ms) = @ARGV;
my %seen;
sub slurp { open(my $f, '<', $_[0]) or return undef; local $/; my $s = <$f>; return $s; }
sub alive { my $s = slurp("/proc/$root/stat") // return 0; return $s !~ /\) [ZX] /; }
while (alive()) {
	my @queue = ([$root, 0]);
	while (my $e = shift @queue) {
		my ($pid, $parent) = @$e;
		for my $c (glob("/proc/$pid/task/*/children")) {
			push @queue, map { [$_, $pid] } split(' ', slurp($c) // '');
		}
		next if $pid == $root;
		my $st = slurp("/proc/$pid/status") // next;
		my ($name) = $st =~ /^Name:\s+(\S+)/m;
		my ($hwm) = $st =~ /^VmHWM:\s+(\d+)/m;
		# workers rename themselves (prctl PR_SET_NAME "pgch-snapshot"): match the prefix
		next unless defined $hwm && defined $name && $name =~ /^pgch(-|$)/;
		my $r = $seen{$pid} //= { role => ($parent == $root ? 'supervisor' : 'worker'), hwm => 0, n => 0 };
		$r->{hwm} = $hwm if $hwm > $r->{hwm};
		$r->{n}++;
	}
	sleep($ms / 1000);
}
printf "%d\t%s\t%d\t%d\n", $_, $seen{$_}{role}, $seen{$_}{hwm}, $seen{$_}{n} for sort { $a <=> $b } keys %seen;
PERL

ticks() { # ticks PID: "CPU faults" — utime+stime+cutime+cstime (fields 14-17 of
	# /proc/PID/stat) in clock ticks and minflt+cminflt (fields 10, 11)
	local stat
	local -a f
	stat=$(<"/proc/$1/stat")
	read -r -a f <<<"${stat##*) }" # from field 3 (state) on: field N is f[N-3]
	echo "$((f[11] + f[12] + f[13] + f[14])) $((f[7] + f[8]))"
}
cpu_now() { # "clickhouse-cpu clickhouse-faults postgres-cpu postgres-faults busy", CPU in clock ticks
	local ch pm busy
	ch=$(ticks "$chpid")
	pm=$(ticks "$pmpid")
	busy=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat)
	echo "$ch $pm $busy"
}

restart_pg() { # empty shared_buffers; same port
	"$here/pg.sh" restart "$PG_DIR" >/dev/null
	pmpid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
	[ -r "/proc/$pmpid/stat" ] || { echo "bench: cannot find the postmaster" >&2; exit 1; }
}

warm_up() {
	restart_pg
	pg -c "SELECT count(*) FROM $TABLE" >/dev/null
}

verify() { # verify CH_DATABASE: the deduplicated view of the table against PostgreSQL's figures
	local got
	got=$(ch "SELECT $CHECK FROM \`$1\`.\`$TABLE\` FINAL WHERE _pgch_is_deleted = 0 FORMAT TabSeparated") || return 1
	if [ "$got" != "$REF" ]; then
		say "bench: MISMATCH in $1: ClickHouse has [$got], PostgreSQL [$REF]"
		return 1
	fi
}

run_no=0
failed=0
measure() { # measure KIND REP
	local kind=$1 rep=$2 chdb t0 t1 before after cfg log rpp tpid ppid hook
	run_no=$((run_no + 1))
	chdb=run_${run_no}
	log=$OUT/$run_no-$TABLE-$kind.log
	ch "DROP DATABASE IF EXISTS \`$chdb\`" >/dev/null
	pg -c "DROP PUBLICATION IF EXISTS pgch_bench" >/dev/null
	case $kind in
		baseline*)
			ch "CREATE DATABASE \`$chdb\`" >/dev/null
			ch "${DDL/\`plan\`/\`$chdb\`}" >/dev/null
			local url="$CH_URL/?query=INSERT%20INTO%20%60$chdb%60.%60$TABLE%60%20($COLS)%20FORMAT%20TabSeparated"
			local upload="--data-binary @-"
			[ "$kind" = baseline-stream ] && upload="-X POST -T -"
			warm_up
			before=$(cpu_now)
			t0=$EPOCHREALTIME
			/usr/bin/time -f '%U %S %M' -o "$OUT/time" bash -c "set -o pipefail; psql -X -d '$DB' -c '\\copy (SELECT $BASE_SELECT FROM $TABLE) to stdout' | curl -sS --fail-with-body $upload '$url'" >"$log" 2>&1 \
				|| { say "bench: $kind failed: $(tail -n 3 "$log")"; failed=1; }
			t1=$EPOCHREALTIME
			;;
		pgch*)
			rpp= # pgch's default: a table's rows / workers within 100,000..1,000,000
			[ "$kind" = "${kind#pgch-rpp=}" ] || rpp=${kind#pgch-rpp=}
			cfg=$OUT/$run_no.lua
			hook=
			[ "$kind" != pgch-hook ] || hook='function on_row(t, row) return row end'
			write_config "$cfg" "$chdb" "$rpp" "$hook"
			warm_up
			before=$(cpu_now)
			t0=$EPOCHREALTIME
			/usr/bin/time -f '%U %S %M' -o "$OUT/time" "$PGCH" snapshot "$cfg" >"$log" 2>&1 &
			tpid=$!
			perl "$OUT/rss-poller.pl" "$tpid" "$RSS_MS" >"$OUT/rss" &
			ppid=$!
			wait "$tpid" || { say "bench: $kind failed: $(tail -n 3 "$log")"; failed=1; }
			t1=$EPOCHREALTIME
			wait "$ppid" || true
			awk -v k="$kind" -v r="$rep" -v t="$TABLE" '{print k "\t" r "\t" $0 "\t" t}' "$OUT/rss" >>"$rssfile"
			;;
	esac
	sleep 0.2 # let the postmaster reap the backends before reading its cutime
	after=$(cpu_now)
	if [ "$kind" = pgch ]; then # pgch verify on the copy just made: its cost next to the copy's
		local v0=$EPOCHREALTIME vst=0
		"$PGCH" verify "$cfg" >"$OUT/$run_no-verify.out" 2>&1 || vst=$?
		printf '%s\t%s\t%s\t%s\n' "$TABLE" "$rep" "$(awk -v a="$v0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')" "$vst" >>"$OUT/verify.tsv"
		[ "$vst" = 0 ] || { say "bench: pgch verify found differences: $(tail -n 3 "$OUT/$run_no-verify.out")"; failed=1; }
	fi
	local ok=ok
	verify "$chdb" || ok=MISMATCH
	[ "$ok" = ok ] || failed=1
	ch "DROP DATABASE IF EXISTS \`$chdb\`" >/dev/null
	read -r ut st maxrss < <(tail -n 1 "$OUT/time")
	local parts=-
	[ "$kind" = "${kind#pgch}" ] || parts=$(sed -n 's/.* in \([0-9]*\) partitions* (.*/\1/p' "$log" | head -n 1)
	read -r ch0 chf0 pm0 pmf0 busy0 <<<"$before"
	read -r ch1 chf1 pm1 pmf1 busy1 <<<"$after"
	awk -v k="$kind" -v r="$rep" -v t0="$t0" -v t1="$t1" -v ut="$ut" -v st="$st" -v m="$maxrss" -v tick="$tick" \
		-v ch="$((ch1 - ch0))" -v pm="$((pm1 - pm0))" -v busy="$((busy1 - busy0))" -v ok="$ok" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
		-v chf="$((chf1 - chf0))" -v pmf="$((pmf1 - pmf0))" -v parts="${parts:--}" \
		-v table="$TABLE" \
		'BEGIN { client = ut + st; other = busy / tick - client - ch / tick - pm / tick; if (other < 0) other = 0;
		         printf "%s\t%s\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n", k, r, t1 - t0, client, pm / tick, ch / tick, other, m, load, ok, pmf, chf, parts, table }' >>"$results"
	say "bench: $(tail -n 1 "$results" | awk -F'\t' '{printf "%-16s %-16s rep %s: %6.2f s  (load %s) %s", $14, $1, $2, $3, $9, $10}')"
}

report() { # report: the current table's figures, from the results of its runs
	echo
	echo "== pgch snapshot benchmark: $TABLE, $ROWS rows ($SIZE)$([ "$TABLE" = wide ] || echo ", pgbench scale $SCALE"), $REPS runs each"
	echo "   PostgreSQL $(pg -c 'SHOW server_version'), ClickHouse $(ch 'SELECT version()'), $(nproc) cores$(grep -q '^flags.* hypervisor' /proc/cpuinfo && echo ' (virtual machine)'); pgch: workers = $WORKERS, table estimate $EST rows"
	echo "   load at start:$(echo "$load_start" | sed 's/.*load average/ load average/')"
	echo "   load at end:  $(echo "$load_end" | sed 's/.*load average/ load average/')"
	echo
	awk -F'\t' -v rows="$ROWS" -v kinds="${kinds[*]}" -v cores="$(nproc)" -v table="$TABLE" '
	function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
	function med(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	$14 != table { next }
	{ k = $1; n[k]++; w[k, n[k]] = $3; c[k, n[k]] = $4; p[k, n[k]] = $5; h[k, n[k]] = $6; o[k, n[k]] = $7; if ($10 != "ok") bad[k]++
	  pf[k, n[k]] = $11; hf[k, n[k]] = $12; np[k] = $13
	  tot[k, n[k]] = $4 + $5 + $6; tw += $3; to += $7 }
	END {
		nk = split(kinds, K, " ")
		printf "%-20s %7s %8s %11s %10s   %-41s %s\n", "", "best s", "median s", "best rows/s", "med rows/s",
			"median CPU s: client/PG/CH (sum) others", "median minor faults: PG/CH"
		for (i = 1; i <= nk; i++) {
			k = K[i]; m = n[k]
			for (j = 1; j <= m; j++) { W[j] = w[k, j]; C[j] = c[k, j]; P[j] = p[k, j]; H[j] = h[k, j]; O[j] = o[k, j]; PF[j] = pf[k, j]; HF[j] = hf[k, j]; T[j] = tot[k, j] }
			sortn(W, m); sortn(C, m); sortn(P, m); sortn(H, m); sortn(O, m); sortn(PF, m); sortn(HF, m); sortn(T, m)
			best[k] = W[1]; median[k] = med(W, m); cpu[k] = med(T, m)
			printf "%-20s %7.2f %8.2f %11.0f %10.0f   %4.1f / %4.1f / %4.1f (%4.1f) %5.1f %12s %6.0fk / %4.0fk%s\n", k, best[k], median[k], rows / best[k], rows / median[k],
				med(C, m), med(P, m), med(H, m), cpu[k], med(O, m), "", med(PF, m) / 1000, med(HF, m) / 1000, (bad[k] ? "   VERIFY FAILED" : "")
		}
		printf "\nother users of the machine kept %.1f of its %d cores busy on average during the runs\n\n", to / tw, cores
		if ("pgch-hook" in median)
			printf "row hook: %.0f rows/s with a trivial on_row against %.0f without (median): %.2f times the time\n\n",
				rows / median["pgch-hook"], rows / median["pgch"], median["pgch-hook"] / median["pgch"]
		for (i = 1; i <= nk; i++) {
			k = K[i]; if (k !~ /^pgch/) continue
			printf "ratio %-18s / baseline-stream: best %.2f  median %.2f   (target <= 0.65: %s; partitions: %s)\n", k, best[k] / best["baseline-stream"],
				median[k] / median["baseline-stream"], (median[k] / median["baseline-stream"] <= 0.65 ? "met" : "MISSED"), np[k]
			if ("baseline" in median)
				printf "ratio %-18s / baseline:        best %.2f  median %.2f\n", k, best[k] / best["baseline"], median[k] / median["baseline"]
			printf "CPU   %-18s / baseline-stream: %.2f%s   (median client+PG+CH CPU seconds: less sensitive to load)\n", k,
				cpu[k] / cpu["baseline-stream"], ("baseline" in cpu) ? sprintf("   / baseline: %.2f", cpu[k] / cpu["baseline"]) : ""
		}
	}' "$results"
	awk -F'\t' -v table="$TABLE" -v rows="$ROWS" '
	function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
	function med(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	FNR == NR { if ($1 == "pgch" && $14 == table) S[++ns] = $3; next }
	$1 == table { V[++nv] = $3; if ($4 != 0) bad++ }
	END { if (!nv) exit; sortn(S, ns); sortn(V, nv)
	      printf "pgch verify (every value of every row, both sides): median %.2f s, %.0f rows/s, %.2f x the snapshot%s\n",
	             med(V, nv), rows / med(V, nv), med(V, nv) / med(S, ns), bad ? "   DIFFERENCES FOUND" : "" }' "$results" "$OUT/verify.tsv" 2>/dev/null
	echo
	echo "peak RSS (MB) per pgch process, largest over the runs (target < 64 MB):"
	awk -F'\t' -v kinds="${kinds[*]}" -v reps="$REPS" -v table="$TABLE" '
	FNR == NR { if ($1 ~ /^pgch/ && $14 == table) { if ($8 > tm[$1]) tm[$1] = $8 } ; next }
	$7 != table { next }
	{ k = $1; if ($4 == "supervisor") { if ($5 > sup[k]) sup[k] = $5 } else { nw[k]++; if ($5 > wk[k]) wk[k] = $5; if (!(k in wmin) || $5 < wmin[k]) wmin[k] = $5 } }
	END {
		nk = split(kinds, K, " ")
		for (i = 1; i <= nk; i++) {
			k = K[i]; if (k !~ /^pgch/) continue
			worst = sup[k] > wk[k] ? sup[k] : wk[k]
			printf "  %-18s supervisor %5.1f   workers %5.1f..%5.1f (%d per run)   kernel peak over all %5.1f   %s%s\n", k, sup[k] / 1024,
				wmin[k] / 1024, wk[k] / 1024, nw[k] / reps, tm[k] / 1024, (tm[k] < 64 * 1024 ? "met" : "MISSED"),
				(tm[k] > worst + 1024 ? "  (the poller saw less than the kernel peak: a process grew after its last sample)" : "")
		}
	}' "$results" "$rssfile"
	echo
	echo "client peak RSS (MB, largest of psql and curl):"
	awk -F'\t' -v table="$TABLE" '$1 ~ /^baseline/ && $14 == table { if ($8 > m[$1]) m[$1] = $8 } END { for (k in m) printf "  %-15s %7.1f\n", k, m[k] / 1024 }' "$results" | sort
}

for TABLE in $TABLES; do
	use_table "$TABLE"
	kinds=(baseline baseline-stream pgch)
	[ "$TABLE" = wide ] && kinds=(baseline-stream pgch)
	[ "${BENCH_HOOK:-1}" = 0 ] || kinds+=(pgch-hook)
	for n in $EXTRA_RPP; do
		[ "$n" = auto ] && n=$(((EST + WORKERS - 1) / WORKERS))
		kinds+=("pgch-rpp=$n")
	done
	load_start=$(uptime)
	for rep in $(seq 1 "$REPS"); do
		order=("${kinds[@]}")
		if [ $((rep % 2)) = 0 ]; then
			order=()
			for ((i = ${#kinds[@]} - 1; i >= 0; i--)); do order+=("${kinds[i]}"); done
		fi
		for kind in "${order[@]}"; do measure "$kind" "$rep"; done
	done
	load_end=$(uptime)
	report | tee -a "$OUT/report.txt"
done
{
	echo
	echo "raw: $results (kind rep wall client_cpu pg_cpu ch_cpu other_cpu client_maxrss_kb load1 verified pg_faults ch_faults partitions table)"
	echo "     $rssfile (kind rep pid role vmhwm_kb samples table); logs in $OUT"
} | tee -a "$OUT/report.txt"

if [ "$failed" != 0 ]; then
	echo "bench: FAILED: a run failed or its ClickHouse table does not match PostgreSQL (see above)" >&2
	exit 1
fi
