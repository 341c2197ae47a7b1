#!/usr/bin/env bash
# Values without a ClickHouse form that arrive through the stream, not the copy: a date
# before 1970 (ClickHouse 18.16's Date starts there) and numeric NaN (Decimal has none).
# With on_unrepresentable = "null" the stream writes NULL; with "clamp", the nearest value
# of the type; either way it logs the row's key and `pgch status` counts them per table.
# Values that have a form, in the same rows and columns, arrive unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg >/dev/null <<'SQL'
CREATE TABLE u (id int PRIMARY KEY, d date, n numeric(10,2), v int);
CREATE TABLE c (id int PRIMARY KEY, d date, v int);
INSERT INTO u VALUES (1, '2020-01-01', 1.25, 1), (2, NULL, NULL, 2);
INSERT INTO c VALUES (1, '2020-01-01', 1);
SQL
write_config "$WORK/u.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" \
	'tables = { { "public.u", on_unrepresentable = "null" }, { "public.c", on_unrepresentable = "clamp" } }'

run_start "$WORK/u.lua"
wait_streaming
pg >/dev/null <<'SQL'
INSERT INTO u VALUES (10, '1960-01-01', 1.5, 10), (11, '2021-02-03', 'NaN', 11), (12, '2022-03-04', -7.25, 12);
UPDATE u SET v = 99 WHERE id = 1;
INSERT INTO c VALUES (10, '1960-01-01', 10), (11, '2023-04-05', 11);
SQL
wait_same 60 "SELECT count(*), sum(v) FROM u" "SELECT count(), sum(v) FROM $CHDB.u FINAL WHERE _pgch_is_deleted = 0" \
	"u: every streamed row arrived"
wait_same 30 "SELECT count(*), sum(v) FROM c" "SELECT count(), sum(v) FROM $CHDB.c FINAL WHERE _pgch_is_deleted = 0" \
	"c: every streamed row arrived"
is "$(ch "SELECT id, toString(d), toString(n) FROM $CHDB.u FINAL WHERE _pgch_is_deleted = 0 ORDER BY id FORMAT TabSeparated")" \
	"$(printf '1\t2020-01-01\t1.25\n2\t\\N\t\\N\n10\t\\N\t1.50\n11\t2021-02-03\t\\N\n12\t2022-03-04\t-7.25')" \
	"null policy: the pre-1970 date and NaN became NULL, every other value as at the source"
# days since 1970 (18.16 prints Date's day 0 as 0000-00-00)
is "$(ch "SELECT id, toUInt16(d) FROM $CHDB.c FINAL WHERE _pgch_is_deleted = 0 ORDER BY id FORMAT TabSeparated")" \
	"$(pg_tsv "SELECT id, greatest(d - date '1970-01-01', 0) FROM c ORDER BY id")" \
	"clamp policy: the pre-1970 date became Date's first day (0), the others as at the source"
is "$(ch "SELECT toUInt16(d) FROM $CHDB.c FINAL WHERE id = 10")" 0 "the clamped value is day 0 exactly"
ok "$(run_has 'public\.u, row with id = 10: a value without a ClickHouse form was written as NULL or clamped'; echo $?)" \
	"the log names the table and the row's key (id = 10)"
ok "$(run_has 'public\.u, row with id = 11: a value without a ClickHouse form'; echo $?)" "and the NaN's row (id = 11)"
! run_has 'row with id = 12: a value without'
ok $? "a row whose values all have a form is not logged"
ok "$(run_has 'public\.c, row with id = 10: a value without a ClickHouse form'; echo $?)" "the clamped row is logged too"
count_of() { # count_of TABLE: its unrepresentable_values in `pgch status --json`
	"$PGCH" status --json "$WORK/u.lua" 2>/dev/null |
		perl -MJSON::PP -0777 -ne 'for (@{decode_json($_)->{tables}}) { print $_->{unrepresentable_values} if $_->{source} eq "public.'"$1"'" }'
}
counted() { [ "$(count_of u)" = 2 ] && [ "$(count_of c)" = 1 ]; }
wait_until 30 "status to count the values" counted
is "$(count_of u) $(count_of c)" "2 1" "pgch status counts them per table: 2 in u, 1 in c"
run_stop
done_testing
