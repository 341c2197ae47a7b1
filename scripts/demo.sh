#!/usr/bin/env bash
# demo.sh — replicate the Northwind sample into a throwaway ClickHouse and show the result.
#
# Starts PostgreSQL and ClickHouse in a temp dir (scripts/with-servers.sh), loads Northwind,
# prints pgch's plan, copies the tables with `pgch snapshot`, and queries ClickHouse.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

if [ "${1:-}" != "--inside" ]; then
	exec "$here/with-servers.sh" "$0" --inside
fi

work=$(mktemp -d /tmp/pgch-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Loading the Northwind sample into PostgreSQL ($PGHOST:$PGPORT)"
createdb northwind
psql -X -q -d northwind -f "$top/contrib/datasets/northwind/northwind.sql" >/dev/null
psql -X -d northwind -c "SELECT count(*) AS orders FROM orders"

cat >"$work/northwind.lua" <<LUA
source      = { host = "$PGHOST", port = $PGPORT, dbname = "northwind", user = "postgres" }
destination = { url = "$CH_URL", database = "northwind" }
pipe        = { sync_interval = 1, snapshot = { workers = 2 } }
tables      = {
  "public.*",
  -- birth dates before 1970 have no form in an old server's Date type: keep their text
  { "public.employees", types = { birth_date = "String" } },
}
LUA
say "The config ($work/northwind.lua)"
cat "$work/northwind.lua"

say "pgch plan: what ClickHouse will get"
"$top/pgch" plan "$work/northwind.lua" | sed -n '1,40p'
echo "..."

say "pgch run: copy the tables, then stream changes (log: $work/run.log)"
"$top/pgch" run "$work/northwind.lua" >"$work/run.log" 2>&1 &
pgch_pid=$!
trap 'kill $pgch_pid 2>/dev/null || true; wait $pgch_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do
	grep -q "every table is copied" "$work/run.log" && break
	kill -0 $pgch_pid 2>/dev/null || { cat "$work/run.log"; exit 1; }
	sleep 0.5
done
grep -E "copied|complete|streaming" "$work/run.log" | sed 's/^/  /'

ch() { curl -sS "$CH_URL/" --data-binary "$1"; }
# (ClickHouse 18.16 joins two tables per SELECT: the third join goes through a subquery)
orders_by_country="
  SELECT country, count() AS orders, round(sum(amount)) AS revenue
  FROM (
    SELECT order_id, country
    FROM (SELECT order_id, customer_id FROM northwind.orders FINAL WHERE _pgch_is_deleted = 0)
    ANY INNER JOIN (SELECT customer_id, country FROM northwind.customers FINAL WHERE _pgch_is_deleted = 0)
    USING customer_id)
  ANY INNER JOIN (SELECT order_id, sum(unit_price * quantity) AS amount
                  FROM northwind.order_details FINAL WHERE _pgch_is_deleted = 0 GROUP BY order_id)
  USING order_id
  GROUP BY country HAVING country IN ('France', 'Germany', 'Iceland', 'USA')
  ORDER BY orders DESC, country FORMAT PrettyCompact"

say "In ClickHouse ($CH_URL): orders and revenue per country, from the replicated tables"
ch "$orders_by_country"

say "Live changes in PostgreSQL: a new customer in Iceland with two orders, a price change, a cancelled order"
psql -X -q -d northwind <<'SQL'
INSERT INTO customers (customer_id, company_name, country) VALUES ('ICEFI', 'Reykjavik Fish', 'Iceland');
INSERT INTO orders (order_id, customer_id, employee_id, order_date) VALUES (20001, 'ICEFI', 1, current_date), (20002, 'ICEFI', 1, current_date);
INSERT INTO order_details VALUES (20001, 11, 14, 100, 0), (20002, 42, 9.8, 500, 0);
UPDATE products SET unit_price = unit_price * 1.1 WHERE category_id = 1;
DELETE FROM order_details WHERE order_id = 10248;
DELETE FROM orders WHERE order_id = 10248;
SQL
echo "  (pipe.sync_interval is 1 s in this config: a change waits at most that long)"
sleep 3

say "The same query a few seconds later"
ch "$orders_by_country"
ch "SELECT customer_id, company_name, country, _pgch_version FROM northwind.customers FINAL
    WHERE _pgch_is_deleted = 0 AND customer_id = 'ICEFI' FORMAT PrettyCompact"
ch "SELECT count() AS order_10248_rows FROM northwind.orders FINAL WHERE _pgch_is_deleted = 0 AND order_id = 10248 FORMAT PrettyCompact"

say "pgch status"
"$top/pgch" status "$work/northwind.lua"

kill -TERM $pgch_pid
wait $pgch_pid || { echo "pgch exited with status $?" >&2; exit 1; }
say "Stopped pgch (SIGTERM: it flushed and confirmed what it had; pgch run continues from there)"
