#!/usr/bin/env bash
# Errors are classified by code, never by the server's words. Each path pgch takes on a
# PostgreSQL error runs twice, with the source server's lc_messages in English and then in
# German (de_DE.UTF-8), and must end the same way: same exit status, same pgch-authored
# line and fix. lc_messages is set with ALTER SYSTEM, because a refusal at connection time
# is worded before any role setting applies, and reset when the test ends (the servers are
# shared by the test files of a run).
#   - a replication slot that exists without this pipe's record: pgch snapshot says so and
#     how to drop it (found from pg_replication_slots before creating anything; the 42710
#     of CREATE_REPLICATION_SLOT, for a slot made in between, is unit-tested);
#   - pgch check as a role without REPLICATION and without SELECT on one table: the whole
#     report is the same;
#   - a wrong password (28P01; pg_hba.conf asks one test role for a password, and is
#     restored at the end): check reports PostgreSQL's refusal with pgch's fix, never a
#     pooler's, and snapshot fails with the same line up to the server's own words.
# ClickHouse translates nothing; its wrong password is told by its error code (193, or 516
# on newer servers), and check gives the user/password fix.
# exclusive: sets lc_messages for the whole server and adds a pg_hba.conf line
. "$(dirname "$0")/lib.sh"

locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8' || {
	echo "1..0 # SKIP the de_DE.UTF-8 locale is not generated (scripts/deps.sh generates it)"
	exit 0
}

NOREPL=${DB}_norepl
PWROLE=${DB}_pw
SLOT=pgch_locale_slot
HBA=$PG_DIR/data/pg_hba.conf

# set_messages LOCALE|default: the source server's lc_messages, for sessions started from now on
set_messages() {
	if [ "$1" = default ]; then
		psql -X -q -d postgres -c "ALTER SYSTEM RESET lc_messages" -c "SELECT pg_reload_conf()" >/dev/null
	else
		psql -X -q -d postgres -c "ALTER SYSTEM SET lc_messages = '$1'" -c "SELECT pg_reload_conf()" >/dev/null
	fi
}
# speaks REGEX: a new session's error message matches REGEX (the reload has taken effect)
speaks() { psql -X -d postgres -c "SELECT 1/0" 2>&1 | grep -Eq "$1"; }
restore() {
	set_messages default
	sed -i "/^host all $PWROLE /d" "$HBA"
	psql -X -q -d postgres -c "SELECT pg_reload_conf()" \
		-c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
	psql -X -q -d "$DB" -c "DROP OWNED BY $NOREPL, $PWROLE" >/dev/null 2>&1
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $NOREPL" -c "DROP ROLE IF EXISTS $PWROLE" >/dev/null 2>&1
}
trap 'restore; rm -rf "$WORK"' EXIT

set_messages 'de_DE.UTF-8'
if ! poll_until 10 speaks 'Division durch Null'; then
	restore
	echo "1..0 # SKIP PostgreSQL does not answer in German with lc_messages = de_DE.UTF-8 (no translations installed?)"
	exit 0
fi
set_messages default
poll_until 10 speaks 'division by zero' || bail "PostgreSQL does not answer in English again after RESET lc_messages"

fresh_dbs
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $NOREPL" -c "CREATE ROLE $NOREPL LOGIN" \
	-c "DROP ROLE IF EXISTS $PWROLE" -c "CREATE ROLE $PWROLE LOGIN PASSWORD 'right'"
sed -i "1i host all $PWROLE 127.0.0.1/32 scram-sha-256" "$HBA"
psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null

write_config "$WORK/locale_slot.lua" 'tables = { "public.items" }'
write_config "$WORK/locale_role.lua" 'tables = { "public.items", "public.hidden" }'
sed -i "s/user = \"[^\"]*\"/user = \"$NOREPL\"/" "$WORK/locale_role.lua"
write_config "$WORK/locale_pw.lua" 'tables = { "public.items" }'
sed -i "s/user = \"[^\"]*\"/user = \"$PWROLE\", password = \"wrong\"/" "$WORK/locale_pw.lua"

# the last "error: " line of a run's stderr, without its time and process
error_line() { printf '%s\n' "$1" | grep -E 'error: ' | tail -n 1 | sed -E 's/^.*error: //'; }
# a check --json report as name|status|fix lines (the details quote the server's words)
shape() { perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
	print map { "$_->{name}|$_->{status}|" . ($_->{fix} // "") . "\n" } @{$j->{checks}}'; }

# slot_exists: pgch snapshot with the pipe's slot already there and no record of it; sets ST and LINE
slot_exists() {
	fresh_dbs
	pg -c "CREATE TABLE items (id int PRIMARY KEY)" -c "INSERT INTO items VALUES (1)"
	pg -c "SELECT pg_create_logical_replication_slot('$SLOT', 'test_decoding')" >/dev/null
	local err
	err=$("$PGCH" snapshot "$WORK/locale_slot.lua" 2>&1 >/dev/null)
	ST=$?
	LINE=$(error_line "$err")
}
# role_report: pgch check as the role without REPLICATION; sets ST and OUT
role_report() {
	pg -c "CREATE TABLE IF NOT EXISTS hidden (id int PRIMARY KEY)" -c "GRANT SELECT ON items TO $NOREPL"
	OUT=$("$PGCH" check "$WORK/locale_role.lua" 2>&1)
	ST=$?
}
# wrong_password: check --json and snapshot with a wrong password; sets ST, SHAPE, SNAP_ST and LINE
wrong_password() {
	local json err
	json=$("$PGCH" check --json "$WORK/locale_pw.lua" 2>/dev/null)
	ST=$?
	SHAPE=$(printf '%s' "$json" | shape)
	err=$("$PGCH" snapshot "$WORK/locale_pw.lua" 2>&1 >/dev/null)
	SNAP_ST=$?
	LINE=$(error_line "$err")
}

for lang in en de; do
	[ "$lang" = de ] && { set_messages 'de_DE.UTF-8'; poll_until 10 speaks 'Division durch Null' || bail "German messages went away"; }
	slot_exists
	eval "slot_st_$lang=\$ST slot_line_$lang=\$LINE"
	role_report
	eval "role_st_$lang=\$ST role_out_$lang=\$OUT"
	wrong_password
	eval "pw_st_$lang=\$ST pw_shape_$lang=\$SHAPE pw_snap_st_$lang=\$SNAP_ST pw_line_$lang=\$LINE"
done
like "$(pg -c "SELECT 1/0" 2>&1)" 'Division durch Null' "the server answered in German for the second round"

# ---------------------------------------------------------------- a slot of another plugin
is "$slot_st_en" 1 "slot exists, English: pgch snapshot exits 1"
like "$slot_line_en" "^replication slot $SLOT belongs to something else \(plugin test_decoding.*pg_create_logical_replication_slot\('$SLOT', 'pgoutput'\)" \
	"slot of another plugin, English: pgch says so, and what to do"
is "$slot_st_de" "$slot_st_en" "slot exists, German: the same exit status"
is "$slot_line_de" "$slot_line_en" "slot exists, German: the same line, with its fix"

# ---------------------------------------------------------------- a role lacking privileges
is "$role_st_en" 1 "role without REPLICATION, English: check exits 1"
like "$role_out_en" "FAIL  role $NOREPL has neither REPLICATION nor superuser" "role without REPLICATION, English: FAIL for REPLICATION"
like "$role_out_en" "FAIL  $NOREPL cannot SELECT from public.hidden" "role without REPLICATION, English: FAIL for SELECT"
is "$role_st_de" "$role_st_en" "role without REPLICATION, German: the same exit status"
is "$role_out_de" "$role_out_en" "role without REPLICATION, German: the same report, line for line"

# ---------------------------------------------------------------- a wrong password (28P01)
is "$pw_st_en" 1 "wrong password, English: check exits 1"
like "$pw_shape_en" "^postgres\|FAIL\|check source \(host, port, dbname, user, password\)" "wrong password, English: PostgreSQL's refusal, with pgch's fix"
if printf '%s\n' "$pw_shape_en" | grep -q '^pooler|'; then ok 1 "wrong password, English: not taken for a pooler"; else ok 0 "wrong password, English: not taken for a pooler"; fi
is "$pw_st_de" "$pw_st_en" "wrong password, German: check exits the same"
is "$pw_shape_de" "$pw_shape_en" "wrong password, German: the same findings, statuses and fixes"
is "$pw_snap_st_en" 1 "wrong password, English: snapshot exits 1"
is "$pw_snap_st_de" "$pw_snap_st_en" "wrong password, German: snapshot exits the same"
like "$pw_line_de" 'Passwort-Authentifizierung' "wrong password, German: the server's own words are German"
is "${pw_line_de%%connection to server at*}" "${pw_line_en%%connection to server at*}" "wrong password, German: pgch's part of the line is the same"
if printf '%s' "$pw_line_de" | grep -q 'connection pooler'; then ok 1 "wrong password, German: no pooler hint"; else ok 0 "wrong password, German: no pooler hint"; fi

# ---------------------------------------------------------------- ClickHouse: by error code
write_config "$WORK/locale_ch.lua" 'tables = { "public.items" }'
sed -i 's|destination = { url = "\([^"]*\)", database = "\([^"]*\)" }|destination = { url = "\1", database = "\2", user = "default", password = "wrong" }|' "$WORK/locale_ch.lua"
json=$("$PGCH" check --json "$WORK/locale_ch.lua" 2>/dev/null)
is "$?" 1 "ClickHouse refusing the password: check exits 1"
like "$(printf '%s' "$json" | shape)" '^clickhouse\|FAIL\|check destination\.user and destination\.password' \
	"ClickHouse refusing the password: the user/password fix, by error code"

done_testing
