#!/usr/bin/env bash
# The shipped example config (contrib/examples/northwind.lua) works as its comments say:
# plan and snapshot the Northwind sample with it, and ClickHouse gets the tables it selects,
# under the names, keys and columns it sets, with the live views its hook adds, and the same
# rows as PostgreSQL.
. "$(dirname "$0")/lib.sh"

example=$ROOT/contrib/examples/northwind.lua
fresh_dbs
pg -f "$ROOT/contrib/datasets/northwind/northwind.sql" >/dev/null
ok $? "set-up: Northwind loaded"

run() { PGDATABASE=$DB CH_DATABASE=$CHDB CH_URL=$CH_URL "$PGCH" "$@" "$example" 2>&1; }

plan=$(run plan)
ok $? "pgch plan accepts the example"
like "$plan" 'public\.order_details -> [^ ]*order_lines' "the plan renames order_details to order_lines"
printf '%s\n' "$plan" | grep -q 'us_states'
ok $((!$?)) "the plan leaves out the excluded us_states"

out=$(run snapshot)
st=$?
is "$st" 0 "pgch snapshot with the example exits 0"
[ "$st" = 0 ] || diag "$out"

want=$(pg -c "SELECT string_agg(CASE relname WHEN 'order_details' THEN 'order_lines' ELSE relname END, ' ' ORDER BY CASE relname WHEN 'order_details' THEN 'order_lines' ELSE relname END) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = 'public' AND relkind = 'r' AND relname <> 'us_states'")
got=$(ch "SELECT arrayStringConcat(groupArray(name), ' ') FROM (SELECT name FROM system.tables WHERE database = '$CHDB' AND engine LIKE '%MergeTree' AND NOT startsWith(name, '_pgch') ORDER BY name)")
is "$got" "$want" "ClickHouse has every selected table, under its target name, and not us_states"

like "$(ch "SHOW CREATE TABLE $CHDB.order_lines")" 'PARTITION BY intDiv\(order_id, 1000\) ORDER BY \(product_id, order_id\)' \
	"order_lines is ordered by product then order, and partitioned as the example says"
is "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = 'employees' AND name LIKE 'photo%'")" 0 \
	"employees has no photo columns"
is "$(ch "SELECT type FROM system.columns WHERE database = '$CHDB' AND table = 'employees' AND name = 'birth_date'")" "Nullable(String)" \
	"employees.birth_date holds its text form"

is "$(ch "SELECT type FROM system.columns WHERE database = '$CHDB' AND table = 'products' AND name = 'unit_price'")" "Nullable(Float64)" \
	"the hook's pgch.set_type made products.unit_price a Float64"

for t in $got; do
	src=$t
	[ "$t" = order_lines ] && src=order_details
	n=$(pg -c "SELECT count(*) FROM $src")
	is "$(ch "SELECT count() FROM $CHDB.${t}_live")" "$n" "the hook's view ${t}_live reads PostgreSQL's $n rows"
done
same_rows "SELECT order_id, product_id, quantity, round(unit_price::numeric * 100), round(discount::numeric * 100) FROM order_details ORDER BY order_id, product_id" \
	"SELECT order_id, product_id, quantity, round(unit_price * 100), round(discount * 100) FROM $CHDB.order_lines_live ORDER BY order_id, product_id" \
	"order_lines equals order_details row by row"
same_rows "SELECT employee_id, last_name, birth_date FROM employees ORDER BY employee_id" \
	"SELECT employee_id, last_name, birth_date FROM $CHDB.employees_live ORDER BY employee_id" \
	"employees equals PostgreSQL's, birth dates as text"
done_testing
