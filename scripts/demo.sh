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
pipe        = { snapshot = { workers = 2 } }
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

if "$top/pgch" snapshot "$work/northwind.lua" 2>&1; then
	say "In ClickHouse ($CH_URL): orders per country, from the replicated tables"
	curl -sS "$CH_URL/" --data-binary "
	  SELECT c.country, count() AS orders
	  FROM northwind.orders AS o FINAL
	  ANY INNER JOIN (SELECT customer_id, country FROM northwind.customers FINAL WHERE _pgch_is_deleted = 0) AS c
	  USING customer_id
	  WHERE o._pgch_is_deleted = 0
	  GROUP BY c.country ORDER BY orders DESC LIMIT 10 FORMAT PrettyCompact"
fi
