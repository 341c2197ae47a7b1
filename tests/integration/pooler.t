#!/usr/bin/env bash
# Replicating through a connection pooler is refused. A real PgBouncer runs in front of the
# test PostgreSQL twice: one ignoring the `options` startup parameter (it connects, but its
# cancel key is not the backend's and pgch's session settings are dropped), one that rejects
# it (the connection fails with PgBouncer's own wording). A third case makes the database's
# defaults equal pgch's settings, so only the replication connection can tell. `pgch check`
# FAILs with the reason and the fix; `pgch snapshot` exits non-zero with one line on stderr
# and creates nothing. A direct connection is not flagged.
. "$(dirname "$0")/lib.sh"

command -v pgbouncer >/dev/null || bail "pgbouncer is not installed (scripts/deps.sh installs it)"
BNC=$WORK/bouncer
mkdir -p "$BNC"
as_bouncer() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_bouncers() {
	for pid in "$BNC"/*.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done
	return 0
}
trap 'stop_bouncers; rm -rf "$WORK"' EXIT

# start_bouncer NAME [EXTRA INI LINES...]: a PgBouncer in front of the test server; prints its port
start_bouncer() {
	local name=$1 port
	shift
	port=$("$ROOT/scripts/freeport")
	{
		echo "[databases]"
		echo "* = host=$PGHOST port=$PGPORT"
		echo "[pgbouncer]"
		echo "listen_addr = 127.0.0.1"
		echo "listen_port = $port"
		echo "unix_socket_dir ="
		echo "auth_type = trust"
		echo "auth_file = $BNC/users.txt"
		echo "pool_mode = transaction"
		echo "logfile = $BNC/$name.log"
		echo "pidfile = $BNC/$name.pid"
		for line in "$@"; do echo "$line"; done
	} >"$BNC/$name.ini"
	echo "\"${PGUSER:-postgres}\" \"\"" >"$BNC/users.txt"
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$BNC"
	as_bouncer pgbouncer -d "$BNC/$name.ini" >/dev/null 2>&1 || { cat "$BNC/$name.log" >&2; return 1; }
	for _ in $(seq 50); do
		pg_isready -q -h 127.0.0.1 -p "$port" && break
		sleep 0.1
	done
	echo "$port"
}

# nothing_created LABEL: no ClickHouse database, publication or slot for this test
nothing_created() {
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "$1: no ClickHouse database created"
	is "$(pg -c "SELECT count(*) FROM pg_publication")" 0 "$1: no publication created"
	is "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" 0 "$1: no slot created"
}

fresh_dbs
pg -c "CREATE TABLE items (id int PRIMARY KEY, name text)" -c "INSERT INTO items VALUES (1, 'one')"

ignoring=$(start_bouncer ignoring 'ignore_startup_parameters = extra_float_digits,options') || bail "cannot start PgBouncer"
strict=$(start_bouncer strict) || bail "cannot start the second PgBouncer"

# ---------------------------------------------------------------- direct: not flagged
write_config "$WORK/direct.lua" 'tables = { "public.items" }'
out=$("$PGCH" check "$WORK/direct.lua" 2>&1)
ok $? "check over a direct connection exits 0"
like "$out" 'OK    direct connection, no pooler' "a direct connection is not flagged"

# ---------------------------------------------------------------- PgBouncer that ignores `options`
write_config "$WORK/bouncer.lua" 'tables = { "public.items" }'
sed -i "s/port = $PGPORT/port = $ignoring/" "$WORK/bouncer.lua"
out=$("$PGCH" check "$WORK/bouncer.lua" 2>&1)
is "$?" 1 "check through PgBouncer exits 1"
like "$out" "FAIL  connection pooler at 127.0.0.1:$ignoring: the connection's cancel key is not its backend's" "check FAILs: the cancel key is PgBouncer's"
like "$out" 'drops the session settings pgch sends at connection start \(extra_float_digits = 1, not 3' "and names the dropped session settings"
like "$out" 'a pooler provides none of them' "and says why that matters"
like "$out" $'\n      fix: connect directly to PostgreSQL: set source.host and source.port to the database server itself' "with the fix"
json=$("$PGCH" check --json "$WORK/bouncer.lua" 2>/dev/null)
is "$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); my ($p) = grep { $_->{name} eq "pooler" } @{$j->{checks}}; print $j->{ok} ? "ok" : "notok", ",", $p->{status}')" \
	"notok,FAIL" "--json: ok false, the pooler check FAILs"

err=$("$PGCH" snapshot "$WORK/bouncer.lua" 2>&1 >/dev/null)
st=$?
ok $((st == 0)) "snapshot through PgBouncer exits non-zero (exit $st)"
is "$(printf '%s\n' "$err" | wc -l)" 1 "snapshot says why in one line on stderr"
like "$err" "^pgch: error: refusing to replicate through a connection pooler at 127.0.0.1:$ignoring: .*Fix: connect directly to PostgreSQL" "the line gives the reason and the fix"
nothing_created "snapshot through PgBouncer"

# ---------------------------------------------------------------- PgBouncer that rejects `options`
write_config "$WORK/strict.lua" 'tables = { "public.items" }'
sed -i "s/port = $PGPORT/port = $strict/" "$WORK/strict.lua"
out=$("$PGCH" check "$WORK/strict.lua" 2>&1)
is "$?" 1 "check through a PgBouncer that rejects options exits 1"
like "$out" 'FAIL  cannot connect to PostgreSQL at .*unsupported startup parameter: options -- that answer comes from a connection pooler \(PgBouncer\)' "check FAILs and names PgBouncer"
like "$out" $'\n      fix: connect directly to PostgreSQL' "with the fix"
err=$("$PGCH" snapshot "$WORK/strict.lua" 2>&1 >/dev/null)
st=$?
ok $((st == 0)) "snapshot through it exits non-zero (exit $st)"
is "$(printf '%s\n' "$err" | wc -l)" 1 "in one line on stderr"
like "$err" 'connection pooler \(PgBouncer\).*Fix: connect directly to PostgreSQL' "which names PgBouncer and the fix"
nothing_created "snapshot through the strict PgBouncer"

# ---------------------------------------------------------------- settings that happen to match: the replication connection decides
LOOKALIKE=${DB}_lookalike
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $LOOKALIKE" -c "CREATE DATABASE $LOOKALIKE"
psql -X -q -d "$LOOKALIKE" -c "ALTER DATABASE $LOOKALIKE SET extra_float_digits = 3" -c "ALTER DATABASE $LOOKALIKE SET timezone = 'UTC'" \
	-c "CREATE TABLE items (id int PRIMARY KEY)"
sed "s/dbname = \"$DB\"/dbname = \"$LOOKALIKE\"/" "$WORK/bouncer.lua" >"$WORK/lookalike.lua"
out=$("$PGCH" check "$WORK/lookalike.lua" 2>&1)
is "$?" 1 "check through PgBouncer with look-alike settings exits 1"
like "$out" 'FAIL  connection pooler at .*it refuses a replication connection \(FATAL: unsupported startup parameter: replication\)' "the failed replication connection gives it away"
err=$("$PGCH" snapshot "$WORK/lookalike.lua" 2>&1 >/dev/null)
ok $(($? == 0)) "snapshot refuses it too"
like "$err" 'refusing to replicate through a connection pooler' "with the pooler reason"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $LOOKALIKE WITH (FORCE)"

# ---------------------------------------------------------------- still direct afterwards
"$PGCH" snapshot "$WORK/direct.lua" >/dev/null 2>&1
ok $? "the same pipe over a direct connection copies"
is "$(ch "SELECT count() FROM $CHDB.items")" 1 "its row arrived"
done_testing
