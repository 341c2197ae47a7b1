#!/usr/bin/env bash
# pgch plan on the Northwind sample: DDL and partitions printed, --json parses, nothing created.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg -f "$ROOT/contrib/datasets/northwind/northwind.sql" >/dev/null
write_config "$WORK/nw.lua" 'tables = { "public.*", exclude = { "public.us_states" }, { "public.orders", target = "orders_v1" } }'

out=$("$PGCH" plan "$WORK/nw.lua" 2>&1)
ok $? "plan exits 0"
like "$out" "13 tables" "13 tables selected (us_states excluded)"
like "$out" 'CREATE TABLE IF NOT EXISTS `t_plan`.`orders_v1`' "target rename shows in the DDL"
like "$out" 'ORDER BY \(`order_id`, `product_id`\)' "composite primary key becomes ORDER BY"
like "$out" 'ReplacingMergeTree\(`_pgch_version`' "ReplacingMergeTree on the version column"
like "$out" 'partition 0: "public"."orders" \(all\)' "small table is one partition"

json=$("$PGCH" plan --json "$WORK/nw.lua")
n=$(printf '%s' "$json" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); print scalar @{$j->{tables}}')
is "$n" 13 "--json is valid JSON with 13 tables"

is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'")" "0" "plan created no ClickHouse database"
is "$(pg -c "SELECT count(*) FROM pg_publication")" 0 "plan created no publication"
done_testing
