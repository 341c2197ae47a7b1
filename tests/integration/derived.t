#!/usr/bin/env bash
# Derived columns: pgch.add_column(t, name, ch_type, expression [, kind]) in on_table adds a
# column ClickHouse computes (MATERIALIZED or DEFAULT). Its values equal the expression
# computed on the source for copied and for streamed rows, and it survives a column added at
# the source, TRUNCATE and pgch resync. Each misuse (a name taken, a bad kind, a missing
# expression, a hook writing t.derived wrong) is one error with the config's line, nothing
# created; an expression ClickHouse rejects fails the run with ClickHouse's reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, order_date date NOT NULL, email text, amount int);
INSERT INTO orders SELECT g, date '2024-01-01' + g, 'User' || g || '@Example.COM', g FROM generate_series(1, 200) g;
SQL
CFG=$WORK/bad.lua
bad() { # bad REGEX DESCRIPTION
	local out err st
	out=$("$PGCH" snapshot "$CFG" 2>"$WORK/err")
	st=$?
	err=$(cat "$WORK/err")
	is "$st" 2 "$2: exit 2"
	like "$err" "^pgch: error: $1" "$2: the message"
	is "$(printf '%s\n' "$err" | grep -c .)" 1 "$2: one line on stderr"
	is "$out" "" "$2: nothing on stdout"
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'") $(pg -F ' ' -c "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots WHERE database = '$DB')")" \
		"0 0 0" "$2: nothing created"
}
hook() { write_config "$CFG" "pipe = { name = \"$T_NAME\" }" 'tables = { "public.orders" }' 'function on_table(t)' "  $1" 'end'; }

hook 'pgch.add_column(t, "email", "String", "lower(email)")'
bad '.*on_table\(public\.orders\) failed: .*bad\.lua:6: pgch\.add_column: orders already has a column "email"' "a derived column named like a replicated one"
hook 'pgch.add_column(t, "_pgch_version", "UInt64", "1")'
bad '.*bad\.lua:6: pgch\.add_column: orders already has a column "_pgch_version"' "a derived column named like pgch's own"
hook 'pgch.add_column(t, "m", "UInt32", "toYYYYMM(order_date)", "alias")'
bad '.*bad\.lua:6: pgch\.add_column: kind must be "materialized" or "default", got "alias"' "a bad kind"
hook 'pgch.add_column(t, "m", "UInt32")'
bad '.*bad\.lua:6: pgch\.add_column: the expression must be a non-empty string' "no expression"
hook 't.derived = { { name = "m" } }'
bad '.*on_table\(public\.orders\): derived\[1\] must be \{ name = \.\.\., ch_type = \.\.\., expression = \.\.\. \}' "t.derived written by hand, incomplete"

# an expression ClickHouse rejects: the run stops with ClickHouse's reason, naming the column
hook 'pgch.add_column(t, "m", "UInt32", "no_such_function(order_date)")'
out=$("$PGCH" snapshot "$CFG" 2>&1)
isnt_zero=$?
ok $((isnt_zero == 0)) "an expression ClickHouse rejects fails the run"
like "$out" "no_such_function" "... with ClickHouse's reason"
"$PGCH" drop --tables "$CFG" >/dev/null 2>&1
ch "DROP DATABASE IF EXISTS $CHDB" >/dev/null

# ---------------------------------------------------------------- a run
write_config "$WORK/p.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = { "public.orders" }' \
	'function on_table(t)' \
	'  pgch.add_column(t, "order_month", "UInt32", "toYYYYMM(order_date)")' \
	'  pgch.add_column(t, "email_lower", "Nullable(String)", "lower(email)", "default")' \
	'end'
plan=$("$PGCH" plan "$WORK/p.lua" 2>&1)
like "$plan" '`order_month` UInt32 MATERIALIZED toYYYYMM\(order_date\),' "the plan shows the MATERIALIZED column"
like "$plan" '`email_lower` Nullable\(String\) DEFAULT lower\(email\),' "the plan shows the DEFAULT column"
run_start "$WORK/p.lua"
wait_streaming
same_derived() {
	wait_same 60 "SELECT id, to_char(order_date, 'YYYYMM')::int, lower(email) FROM orders ORDER BY id" \
		"SELECT id, order_month, email_lower FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
		"derived columns equal the expressions on the source $1"
}
same_derived "after the snapshot"
pg -c "UPDATE orders SET order_date = order_date + 40, email = 'Changed' || id || '@X.ORG' WHERE id <= 20; INSERT INTO orders VALUES (500, '2030-05-05', 'NEW@Y.COM', 5)"
same_derived "after streamed changes"
is "$(ch "SELECT name FROM system.columns WHERE database = '$CHDB' AND table = 'orders' AND default_kind = 'MATERIALIZED'")" \
	"order_month" "order_month is MATERIALIZED in ClickHouse"

pg -c "ALTER TABLE orders ADD COLUMN note text DEFAULT 'n'; UPDATE orders SET note = 'x' || id WHERE id <= 5"
wait_same 60 "SELECT id, note, lower(email) FROM orders ORDER BY id" \
	"SELECT id, note, email_lower FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
	"a column added at the source arrives beside the derived ones"
same_derived "after the column was added"

pg -c "TRUNCATE orders; INSERT INTO orders VALUES (1, '2025-02-03', 'After@Truncate.IO', 1, 'z')"
same_derived "after TRUNCATE"

"$PGCH" resync "$WORK/p.lua" --table public.orders >/dev/null 2>&1
wait_until 60 "the resync" run_has "public.orders copied: 1 rows" || true
pg -c "INSERT INTO orders VALUES (2, '2026-12-12', 'Post@Resync.IO', 2, 'y')"
same_derived "after pgch resync"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'orders' AND name IN ('order_month', 'email_lower')")" 2 \
	"both derived columns are still there after the resync"
run_stop

done_testing
