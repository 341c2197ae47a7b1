# lib.sh — TAP helpers and server access for the integration tests (sourced by each .t).
#
# The servers come from scripts/with-servers.sh (PGHOST/PGPORT/PGUSER and CH_URL in the
# environment). Each test works in its own PostgreSQL database and ClickHouse database,
# named after the test file, so tests do not see each other's tables.
set -u
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning -c timezone=UTC -c datestyle=ISO,MDY -c intervalstyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
PGCH=${PGCH:-$(pwd)/pgch}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_NAME=$(basename "$0" .t | tr -c 'a-z0-9_\n' '_')
DB=t_${T_NAME}
CHDB=t_${T_NAME}
WORK=$(mktemp -d "/tmp/pgch-test-${T_NAME}.XXXXXX")
chmod 755 "$WORK"
T_N=0
T_FAIL=0
T_PIDS=() # background processes to stop if the test ends early (stopped ones are continued)
trap 'for p in "${T_PIDS[@]}"; do kill -CONT "$p"; kill -TERM "$p"; done 2>/dev/null; rm -rf "$WORK"' EXIT

ok() { # ok STATUS DESCRIPTION — STATUS 0 is a pass
	local st=$1
	shift
	T_N=$((T_N + 1))
	if [ "$st" = 0 ]; then echo "ok $T_N - $*"; else
		echo "not ok $T_N - $*"
		T_FAIL=$((T_FAIL + 1))
	fi
}
# todo STATUS REASON DESCRIPTION: a known, reported failure (TAP's TODO): the assertion runs
# and prove shows its result, but a failure does not fail the file. REASON names the issue.
todo() {
	local st=$1 why=$2
	shift 2
	T_N=$((T_N + 1))
	if [ "$st" = 0 ]; then echo "ok $T_N - $* # TODO $why"; else echo "not ok $T_N - $* # TODO $why"; fi
}
is() { # is GOT WANT DESCRIPTION
	local got=$1 want=$2
	shift 2
	if [ "$got" = "$want" ]; then ok 0 "$@"; else
		ok 1 "$@"
		diag "got:  $(printf '%s' "$got" | head -c 2000)"
		diag "want: $(printf '%s' "$want" | head -c 2000)"
	fi
}
like() { # like GOT EXTENDED-REGEX DESCRIPTION
	local got=$1 re=$2
	shift 2
	if printf '%s' "$got" | grep -Eq -- "$re"; then ok 0 "$@"; else
		ok 1 "$@"
		diag "got: $(printf '%s' "$got" | head -c 2000)"
		diag "expected to match: $re"
	fi
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" = 0 ]
}
bail() {
	echo "Bail out! $*"
	exit 255
}

pg() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }
ch() { curl -sS "$CH_URL/" --data-binary "$1"; }
ch_ok() { # fails (returns 1) on a ClickHouse error
	local out
	out=$(curl -sS -w '\n%{http_code}' "$CH_URL/" --data-binary "$1") || return 1
	[ "${out##*$'\n'}" = 200 ] || { printf '%s\n' "${out%$'\n'*}" >&2; return 1; }
	printf '%s' "${out%$'\n'*}"
}

# A fresh PostgreSQL database and no ClickHouse database of the same name.
fresh_dbs() {
	# slots of an earlier run of this test first: a database with a logical slot cannot be dropped
	psql -X -q -At -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB' AND NOT active" >/dev/null
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
	psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null
	ch "DROP DATABASE IF EXISTS $CHDB" >/dev/null
}

# write_config FILE [LUA LINES...]: source/destination for this test's databases, then extra lines.
# Without pipe.name, the pipe (and its slot, which every database of the server shares) is
# named after FILE: a stem another test also uses without a name lets two tests running at
# once take each other's slot. Set name = "$T_NAME" or pick a stem no other test uses.
write_config() {
	local f=$1
	shift
	{
		echo "source = { host = \"$PGHOST\", port = $PGPORT, dbname = \"$DB\", user = \"${PGUSER:-postgres}\" }"
		echo "destination = { url = \"$CH_URL\", database = \"$CHDB\" }"
		for line in "$@"; do echo "$line"; done
	} >"$f"
}

# Rows of a ClickHouse table as the user reads it (deduplicated, without deletes).
ch_final() { # ch_final TABLE COLUMNS ORDER_BY
	ch_ok "SELECT $2 FROM $CHDB.$1 FINAL WHERE _pgch_is_deleted = 0 ORDER BY $3 FORMAT TabSeparated"
}

# Compare a query's rows in PostgreSQL and ClickHouse (both as TSV, NULL as \N).
pg_tsv() { psql -X -q -v ON_ERROR_STOP=1 -At -F $'\t' -P 'null=\N' -d "$DB" -c "$1"; }
same_rows() { # same_rows PG_SQL CH_SQL DESCRIPTION
	local want got
	want=$(pg_tsv "$1") || { ok 1 "$3 (PostgreSQL query failed)"; return; }
	[ -n "$want" ] || { ok 1 "$3 (no rows to compare: the test set-up failed)"; return; }
	got=$(ch_ok "$2 FORMAT TabSeparated") || { ok 1 "$3 (ClickHouse query failed)"; return; }
	if [ "$got" = "$want" ]; then ok 0 "$3"; else
		ok 1 "$3"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -20 | sed 's/^/# /'
	fi
}

# poll_until SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds (0) or time is up (1).
poll_until() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# wait_pid PID SECONDS: wait for a background child of this shell; WAIT_STATUS is its exit
# status, or "timeout" (it is then stopped with SIGTERM, and SIGKILL 10 s later).
wait_pid() {
	local pid=$1
	if poll_until "$2" eval "! kill -0 $pid 2>/dev/null"; then
		wait "$pid"
		WAIT_STATUS=$?
		return
	fi
	WAIT_STATUS=timeout
	kill -TERM "$pid" 2>/dev/null
	poll_until 10 eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
