#!/usr/bin/env bash
# A run that cannot work is refused before it creates anything, on either server (issue 8):
# with a role that lacks REPLICATION, with no free replication slot, and with wal_level =
# replica, `pgch snapshot` and `pgch run` exit 1 with the reason, and afterwards PostgreSQL
# has no publication and no slot for the pipe and ClickHouse has no database (so no
# _pgch_state either). Once the obstacle is gone the same command creates all of them, so the
# assertions can tell.
# exclusive: takes every free replication slot of the shared server for a while
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v text)" -c "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g"
PUB=pgch_$T_NAME
SLOT=pgch_$T_NAME

# nothing_created WHAT [PSQL ARGS...]: no publication or slot at the source, no database in ClickHouse
nothing_created() {
	local what=$1
	shift
	is "$(psql -X -At "$@" -c "SELECT count(*) FROM pg_publication WHERE pubname = '$PUB'")" 0 "$what: no publication in PostgreSQL"
	is "$(psql -X -At "$@" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" 0 "$what: no replication slot"
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "$what: no ClickHouse database (and no _pgch_state)"
}

# refused CONFIG WHAT REGEX [PSQL ARGS...]: pgch snapshot and pgch run both refuse, saying REGEX
refused() {
	local config=$1 what=$2 re=$3 cmd out st
	shift 3
	for cmd in snapshot run; do
		# what an earlier attempt may have left, so each one is judged on its own
		psql -X -q "$@" -c "DROP PUBLICATION IF EXISTS $PUB" >/dev/null
		ch "DROP DATABASE IF EXISTS $CHDB" >/dev/null
		out=$(timeout 60 "$PGCH" "$cmd" "$config" 2>&1)
		st=$?
		is "$st" 1 "$what: pgch $cmd exits 1"
		like "$out" "$re" "$what: pgch $cmd says why"
		[ "$st" = 1 ] || diag "$out"
		nothing_created "$what (pgch $cmd)" "$@"
	done
}

# ---------------------------------------------------------------- a role without REPLICATION
# It owns the table and may create in the database, so it could create the publication: only
# the slot is beyond it.
ROLE=${T_NAME}_norepl
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "CREATE ROLE $ROLE LOGIN NOREPLICATION"
at_exit "psql -X -q -d $DB -c 'DROP OWNED BY $ROLE' >/dev/null 2>&1; psql -X -q -d postgres -c 'DROP ROLE IF EXISTS $ROLE' >/dev/null 2>&1"
pg -c "GRANT CREATE ON DATABASE $DB TO $ROLE" -c "ALTER TABLE t OWNER TO $ROLE" -c "GRANT SELECT ON t TO $ROLE"
write_config "$WORK/norepl.lua" "pipe = { name = \"$T_NAME\" }" 'tables = { "public.t" }'
sed -i "s/user = \"[^\"]*\"/user = \"$ROLE\"/" "$WORK/norepl.lua"
refused "$WORK/norepl.lua" "a role without REPLICATION" "role $ROLE has neither REPLICATION nor superuser.*ALTER ROLE $ROLE REPLICATION" -d "$DB"

# ---------------------------------------------------------------- no free replication slot
write_config "$WORK/ok.lua" "pipe = { name = \"$T_NAME\" }" 'tables = { "public.t" }'
drop_fill() { psql -X -q -At -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '${T_NAME}_fill_%'" >/dev/null; }
at_exit drop_fill
free=$(psql -X -At -d postgres -c "SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots")
psql -X -q -At -d postgres -c "SELECT pg_create_physical_replication_slot('${T_NAME}_fill_' || g) FROM generate_series(1, $free) g" >/dev/null
is "$(psql -X -At -d postgres -c "SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots")" 0 \
	"set-up: every replication slot is taken ($free filled)"
refused "$WORK/ok.lua" "no free replication slot" "no replication slot is free.*max_replication_slots" -d "$DB"
drop_fill

# ---------------------------------------------------------------- wal_level = replica (a second server of its own)
PG2=$WORK/pg2
port2=$("$ROOT/scripts/pg.sh" start "$PG2" 'wal_level = replica') || bail "cannot start a second PostgreSQL"
at_exit '"$ROOT/scripts/pg.sh" stop "$PG2" >/dev/null 2>&1'
psql -X -q -h 127.0.0.1 -p "$port2" -U postgres -d postgres -c "CREATE TABLE t (id int PRIMARY KEY)" -c "INSERT INTO t VALUES (1)"
cat >"$WORK/replica.lua" <<EOF
source = { host = "127.0.0.1", port = $port2, dbname = "postgres", user = "postgres" }
destination = { url = "$CH_URL", database = "$CHDB" }
pipe = { name = "$T_NAME" }
tables = { "public.t" }
EOF
refused "$WORK/replica.lua" "wal_level = replica" "wal_level = replica.*wal_level = logical" -h 127.0.0.1 -p "$port2" -U postgres -d postgres

# ---------------------------------------------------------------- without the obstacle the same run creates them
out=$(timeout 120 "$PGCH" snapshot "$WORK/ok.lua" 2>&1)
st=$?
is "$st" 0 "with a free slot and a role that may replicate, pgch snapshot copies"
[ "$st" = 0 ] || diag "$out"
is "$(pg -c "SELECT count(*) FROM pg_publication WHERE pubname = '$PUB'")" 1 "it created the publication"
is "$(ch "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name = '_pgch_state'")" 1 "it created _pgch_state"
same_rows "SELECT count(*), sum(id) FROM t" "SELECT count(), sum(id) FROM $CHDB.t FINAL WHERE _pgch_is_deleted = 0" \
	"the copy equals the source"
done_testing
