#!/usr/bin/env bash
# pgch check: a healthy pipe passes (exit 0, OK lines, --json parses) before and after a
# snapshot; each broken prerequisite FAILs with its fix — a role without REPLICATION, a table
# without SELECT privilege, a table without a primary key, wal_level = replica on a second
# server, an existing ClickHouse table whose column type differs, and a publication a DBA
# made that does not publish the selection (check and run give the same ALTER statements).
# Check changes nothing.
. "$(dirname "$0")/lib.sh"

ROLE=${DB}_norepl
PG2=$WORK/pg2
trap '"$ROOT/scripts/pg.sh" stop "$PG2" >/dev/null 2>&1; rm -rf "$WORK"' EXIT

fresh_dbs
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "CREATE ROLE $ROLE LOGIN"
pg <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(10,2));
CREATE TABLE customers (id bigint PRIMARY KEY, name text);
CREATE TABLE events (at timestamptz, what text);
INSERT INTO orders VALUES (1, 'a', 9.99), (2, 'b', NULL);
INSERT INTO customers VALUES (1, 'x');
SQL

# fix_after OUTPUT REGEX: the "fix:" line right after the first line matching REGEX
fix_after() { printf '%s\n' "$1" | grep -E -A1 -- "$2" | sed -n '2s/^ *fix: //p' | head -n 1; }

# ---------------------------------------------------------------- healthy
write_config "$WORK/ok.lua" 'tables = { "public.orders", "public.customers" }'
out=$("$PGCH" check "$WORK/ok.lua" 2>&1)
ok $? "check of a healthy pipe exits 0"
like "$out" '^OK    wal_level = logical' "aligned OK line for wal_level"
like "$out" 'OK    direct connection, no pooler' "a direct connection is not taken for a pooler"
like "$out" 'OK    PostgreSQL connection not encrypted, to a local host \(127\.0\.0\.1\)' "an unencrypted local PostgreSQL connection is OK, and said"
like "$out" 'OK    ClickHouse connection not encrypted, to a local host \(127\.0\.0\.1\)' "so is the ClickHouse one"
like "$out" 'OK    role [a-z]+ is a superuser, and a replication connection answers IDENTIFY_SYSTEM' "replication connection works"
like "$out" 'OK    publication pgch_ok does not exist yet; pgch creates it' "publication can be created"
like "$out" 'OK    replication slot pgch_ok does not exist yet' "slot state: absent"
like "$out" 'OK    ClickHouse [0-9.]+ at ' "ClickHouse reachable, with its version"
like "$out" 'OK    probed: ' "ClickHouse capabilities listed"
if printf '%s' "$out" | grep -q '^FAIL'; then ok 1 "no FAIL lines"; diag "$out"; else ok 0 "no FAIL lines"; fi

json=$("$PGCH" check --json "$WORK/ok.lua" 2>/dev/null)
got=$(printf '%s' "$json" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>);
	my %s = map { $_->{name} => $_->{status} } @{$j->{checks}};
	my $shape = !grep { !exists $_->{detail} || !exists $_->{fix} || $_->{status} !~ /^(OK|WARN|FAIL)$/ } @{$j->{checks}};
	print join(",", $j->{ok} ? "ok" : "notok", $s{wal_level}, $s{pooler}, $shape ? "shape" : "badshape")')
is "$got" "ok,OK,OK,shape" "--json: {checks: [{name, status, detail, fix}], ok: true}"

is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" 0 "check created no ClickHouse database"
is "$(pg -c "SELECT count(*) FROM pg_publication")" 0 "check created no publication"
is "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" 0 "check created no slot"

"$PGCH" snapshot --keep-slot "$WORK/ok.lua" >/dev/null 2>&1
ok $? "snapshot of the healthy pipe"
out=$("$PGCH" check "$WORK/ok.lua" 2>&1)
ok $? "check after the snapshot exits 0"
like "$out" 'OK    publication pgch_ok publishes exactly the 2 selected tables' "publication matches the selection"
like "$out" 'OK    replication slot pgch_ok exists and is inactive' "slot state: present and inactive"
like "$out" 'OK    2 existing target tables match the plan' "tables created by pgch match the plan"

# an existing target table with another column type
ch_ok "ALTER TABLE $CHDB.customers MODIFY COLUMN name String" >/dev/null
out=$("$PGCH" check "$WORK/ok.lua" 2>&1)
st=$?
is "$st" 1 "an incompatible target table fails the check (exit 1)"
like "$out" "FAIL  ClickHouse table $CHDB.customers has column name as String, pgch writes Nullable\(String\)" "the FAIL names the column and both types"
like "$(fix_after "$out" 'has column name as String')" "DROP TABLE \`$CHDB\`.\`customers\`.*types = \{ name = \"String\" \}" "its fix: recreate, or keep it with a types override"
psql -X -q -d postgres -c "SELECT pg_drop_replication_slot('pgch_ok')" >/dev/null

# ---------------------------------------------------------------- role without REPLICATION, no SELECT on one table
pg -c "GRANT SELECT ON orders TO $ROLE"
write_config "$WORK/role.lua" 'tables = { "public.orders", "public.customers" }'
sed -i "s/user = \"[^\"]*\"/user = \"$ROLE\"/" "$WORK/role.lua"
out=$("$PGCH" check "$WORK/role.lua" 2>&1)
is "$?" 1 "check as a role without REPLICATION exits 1"
like "$out" "FAIL  role $ROLE has neither REPLICATION nor superuser" "FAIL line for the missing REPLICATION"
like "$(fix_after "$out" "role $ROLE has neither")" "^ALTER ROLE $ROLE REPLICATION" "its fix: ALTER ROLE ... REPLICATION"
like "$out" "FAIL  $ROLE cannot SELECT from public.customers" "FAIL line for the table without SELECT privilege"
like "$(fix_after "$out" "cannot SELECT from public.customers")" "^GRANT SELECT ON public.customers TO $ROLE$" "its fix: GRANT SELECT"
if printf '%s' "$out" | grep -q "cannot SELECT from public.orders"; then ok 1 "the granted table is not reported"; else ok 0 "the granted table is not reported"; fi
like "$out" "FAIL  publication pgch_role does not exist and $ROLE cannot create it" "a role that owns nothing cannot create the publication"
like "$(fix_after "$out" "publication pgch_role does not exist")" 'CREATE PUBLICATION "pgch_role" FOR TABLE "public"."orders"' "its fix: the CREATE PUBLICATION a DBA should run"
like "$out" "error: [0-9]+ checks failed" "one summary line on stderr"
# the publication already has both tables: the one without SELECT gets one fix, GRANT SELECT,
# not also a contradictory 'DROP TABLE it from the publication'
pg -c "CREATE PUBLICATION pgch_role FOR TABLE orders, customers" >/dev/null
out=$("$PGCH" check "$WORK/role.lua" 2>&1)
like "$out" "FAIL  $ROLE cannot SELECT from public.customers" "with the publication in place: still the GRANT SELECT finding"
if printf '%s' "$out" | grep -q "also publishes"; then
	ok 1 "with the publication in place: no finding asks to drop the unreadable table from it"
	diag "$out"
else ok 0 "with the publication in place: no finding asks to drop the unreadable table from it"; fi
pg -c "DROP PUBLICATION pgch_role" >/dev/null

# ---------------------------------------------------------------- a publication a DBA made, not as selected
# a role that may replicate but does not own the publication: check and run both give the
# exact ALTER PUBLICATION statements; once the DBA runs them, check passes
DBA_ROLE=${DB}_repl
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $DBA_ROLE" -c "CREATE ROLE $DBA_ROLE LOGIN REPLICATION"
pg -c "GRANT SELECT ON orders, customers TO $DBA_ROLE" -c "CREATE PUBLICATION dba_pub FOR TABLE orders, events" >/dev/null
write_config "$WORK/dbapub.lua" 'tables = { "public.orders", "public.customers" }
pipe = { name = "check_dbapub", publication = "dba_pub" }'
sed -i "s/user = \"[^\"]*\"/user = \"$DBA_ROLE\"/" "$WORK/dbapub.lua"
fix_sql='ALTER PUBLICATION "dba_pub" ADD TABLE "public"."customers"; ALTER PUBLICATION "dba_pub" DROP TABLE public.events; ALTER PUBLICATION "dba_pub" SET \(publish_via_partition_root = true\)'
out=$("$PGCH" check "$WORK/dbapub.lua" 2>&1)
like "$out" "FAIL  publication dba_pub lacks public.customers, also publishes public.events, has other options, and $DBA_ROLE cannot change it" \
	"check: the DBA's publication differs from the selection and the role cannot change it"
like "$(fix_after "$out" "publication dba_pub lacks")" "run: $fix_sql\$" "check's fix: the exact ALTER PUBLICATION statements"
out=$("$PGCH" run "$WORK/dbapub.lua" 2>&1)
st=$?
ok "$([ "$st" != 0 ]; echo $?)" "run refuses it (exit $st)"
like "$out" "publication dba_pub must change .* Fix: .* run: $fix_sql\$" "run's refusal gives the same statements"
is "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgch_check_dbapub'")" 0 \
	"run created no slot"
pg -c "ALTER PUBLICATION dba_pub ADD TABLE customers" -c "ALTER PUBLICATION dba_pub DROP TABLE events" \
	-c "ALTER PUBLICATION dba_pub SET (publish_via_partition_root = true)" >/dev/null
like "$("$PGCH" check "$WORK/dbapub.lua" 2>&1)" "OK    publication dba_pub publishes exactly the 2 selected tables" \
	"after the DBA ran them: the publication is used as it is"
pg -c "DROP PUBLICATION dba_pub" >/dev/null

# ---------------------------------------------------------------- a table without a primary key
write_config "$WORK/nopk.lua" 'tables = { "public.orders", "public.events" }'
out=$("$PGCH" check "$WORK/nopk.lua" 2>&1)
is "$?" 1 "check with a table without a primary key exits 1"
like "$out" "FAIL  public.events has no primary key" "FAIL line names the table"
like "$(fix_after "$out" "public.events has no primary key")" 'ALTER TABLE "public"."events" ADD PRIMARY KEY.*REPLICA IDENTITY FULL' "its fix: add a key or REPLICA IDENTITY FULL"
like "$out" "OK    1 of the 2 selected tables are ready: public.orders" "the other table is still checked and ready"
json=$("$PGCH" check --json "$WORK/nopk.lua" 2>/dev/null)
got=$(printf '%s' "$json" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>);
	my ($f) = grep { $_->{name} eq "table public.events" } @{$j->{checks}};
	print join(",", $j->{ok} ? "ok" : "notok", $f ? ($f->{status}, $f->{fix} =~ /REPLICA IDENTITY FULL/ ? "fix" : "nofix") : "missing")')
is "$got" "notok,FAIL,fix" "--json: ok false, the table's finding is FAIL with its fix"

# ---------------------------------------------------------------- a partitioned table: a WARN, not a FAIL
pg -c "CREATE TABLE readings (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)" \
   -c "CREATE TABLE readings_2024 PARTITION OF readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
write_config "$WORK/parts.lua" 'tables = { "public.readings" }'
out=$("$PGCH" check "$WORK/parts.lua" 2>&1)
ok $? "check with a partitioned table exits 0"
like "$out" 'WARN  with publish_via_partition_root, PostgreSQL does not send a TRUNCATE of a single partition of public.readings' "it warns that a partition's TRUNCATE is not sent"
like "$(fix_after "$out" 'TRUNCATE of a single partition')" 'pgch resync --table' "with what to do about it"
like "$out" 'OK    [a-z]+ can SELECT from the 1 selected table and their partitions' "SELECT is checked on the partitions too"
pg -c "GRANT SELECT ON readings TO $ROLE"
sed "s/user = \"[^\"]*\"/user = \"$ROLE\"/" "$WORK/parts.lua" >"$WORK/parts_role.lua"
out=$("$PGCH" check "$WORK/parts_role.lua" 2>&1)
like "$out" "FAIL  $ROLE cannot SELECT from public.readings or its partitions" "SELECT on the parent alone is not enough (the snapshot reads the leaves)"
like "$(fix_after "$out" "cannot SELECT from public.readings")" "^GRANT SELECT ON public.readings_2024 TO $ROLE$" "its fix grants the leaf"

# ---------------------------------------------------------------- wal_level = replica on a second server
port2=$("$ROOT/scripts/pg.sh" start "$PG2" 'wal_level = replica') || bail "cannot start a second PostgreSQL"
psql -X -q -h 127.0.0.1 -p "$port2" -U postgres -d postgres -c "CREATE TABLE t (id int PRIMARY KEY)"
cat >"$WORK/replica.lua" <<EOF
source = { host = "127.0.0.1", port = $port2, dbname = "postgres", user = "postgres" }
destination = { url = "$CH_URL", database = "$CHDB" }
tables = { "public.t" }
EOF
out=$("$PGCH" check "$WORK/replica.lua" 2>&1)
is "$?" 1 "check against wal_level = replica exits 1"
like "$out" 'FAIL  wal_level = replica: logical decoding needs wal_level = logical' "FAIL line for wal_level"
like "$(fix_after "$out" 'FAIL  wal_level')" '^ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL' "its fix: the setting and the restart"
done_testing
