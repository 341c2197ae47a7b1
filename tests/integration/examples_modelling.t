#!/usr/bin/env bash
# The shipped example contrib/examples/modelling.lua works as its comments say: on the
# Northwind sample, ClickHouse gets only the orders the filter selects (also for changes
# streamed afterwards, including one that moves an order out of the filter), two of their
# columns under other names, their derived order_month computed by ClickHouse, and the customers' phone and fax numbers masked by the
# row hook, in the snapshot and in the stream alike.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

example=$ROOT/contrib/examples/modelling.lua
fresh_dbs
pg -f "$ROOT/contrib/datasets/northwind/northwind.sql" >/dev/null
ok $? "set-up: Northwind loaded"
export PGDATABASE=$DB CH_DATABASE=$CHDB
plan=$("$PGCH" plan "$example" 2>&1)
ok $? "pgch plan accepts the example"
like "$plan" '`order_month` Nullable\(UInt32\) MATERIALIZED toYYYYMM\(ordered_on\)' "the plan shows the derived column"
like "$plan" 'note: ship_city is named city in ClickHouse' "the plan shows a renamed column"

cp "$example" "$WORK/modelling.lua"
sed -i 's/sync_interval = 10/sync_interval = 1/' "$WORK/modelling.lua"
run_start "$WORK/modelling.lua"
wait_streaming
orders_same() {
	wait_same 60 "SELECT order_id, customer_id, to_char(order_date, 'YYYYMM'), order_date, ship_city FROM orders WHERE order_id >= 10300 ORDER BY order_id" \
		"SELECT order_id, customer_id, toString(order_month), ordered_on, city FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0 ORDER BY order_id" \
		"orders $1: only those from 10300 on, with order_month, order_date as ordered_on and ship_city as city"
}
phones_same() {
	wait_same 60 "SELECT customer_id, regexp_replace(phone, '[0-9]', '#', 'g'), regexp_replace(fax, '[0-9]', '#', 'g'), right(regexp_replace(phone, '[^0-9]', '', 'g'), 2) FROM customers ORDER BY customer_id" \
		"SELECT customer_id, replaceRegexpAll(phone, '[0-9]', '#'), replaceRegexpAll(fax, '[0-9]', '#'), replaceRegexpAll(phone, '[^0-9]', '') FROM $CHDB.customers FINAL WHERE _pgch_is_deleted = 0 ORDER BY customer_id" \
		"customers $1: phone and fax masked, only the last two digits of the phone left"
}
orders_same "after the snapshot"
phones_same "after the snapshot"
pg <<'SQL'
INSERT INTO orders (order_id, customer_id, order_date, ship_city) VALUES (10000, 'ALFKI', '2030-01-01', 'Oslo'), (30000, 'ANATR', '2031-07-04', NULL);
UPDATE orders SET order_id = 10001 WHERE order_id = 30000;
UPDATE orders SET order_id = 30001, order_date = '2032-02-02' WHERE order_id = 10000;
UPDATE customers SET phone = '(555) 123-4567' WHERE customer_id = 'ALFKI';
INSERT INTO customers (customer_id, company_name, phone, fax) VALUES ('ZZZZZ', 'New', '+1 212 555 0000', NULL);
SQL
orders_same "after an order moved out of the filter and another into it"
phones_same "after streamed changes"
is "$(ch "SELECT phone FROM $CHDB.customers FINAL WHERE customer_id = 'ALFKI'")" "(###) ###-##67" "a streamed phone number is masked"
run_stop
done_testing
