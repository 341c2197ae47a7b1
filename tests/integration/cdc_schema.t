#!/usr/bin/env bash
# Schema changes while pgch run streams (ARCHITECTURE.md, "Consistency"): ALTER TABLE ADD COLUMN with constant
# defaults of several types (rows not touched since read the default in ClickHouse, as in
# PostgreSQL) and without a default (NULL); DROP COLUMN (the ClickHouse column stays, rows
# written before keep their values); a column added in the transaction that fills it; two
# DDLs before one change; changes before and after each. Restarting pgch run (Relation
# messages sent again) runs no DDL and changes no column; a column added while pgch was
# stopped (and one added, filled and dropped again) reaches ClickHouse when it comes back,
# with its default for old rows, or by a new copy of the table when the destination has a
# column the source lacks (it could be the old name of a renamed column).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, s text);
INSERT INTO t SELECT g, g, 's' || g FROM generate_series(1, 100) g;
CREATE TABLE u (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO u SELECT g, g FROM generate_series(1, 50) g;
SQL
write_config "$WORK/s.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = { "public.t", "public.u" }'

# Every column PostgreSQL has now, compared row by row: PostgreSQL and ClickHouse
# expressions that print the same.
declare -A PGX=([c_bool]="c_bool::int" [c_ts]="format('%s', c_ts)") CHX=([c_num]="toString(c_num)" [c_date]="toString(c_date)")
same_all() { # same_all STEP [TABLE]
	local cols p="" c="" x tb=${2:-t}
	cols=$(pg -c "SELECT string_agg(attname, ' ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$tb'::regclass AND attnum > 0 AND NOT attisdropped")
	for x in $cols; do
		p="$p${p:+, }${PGX[$x]:-$x}"
		c="$c${c:+, }${CHX[$x]:-$x}"
	done
	wait_table_equal 60 "$tb" id v
	same_rows "SELECT $p FROM $tb ORDER BY id" "SELECT $c FROM $CHDB.$tb FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
		"$tb $1: every row equal in every column ($cols)"
}
ch_columns() { ch "SELECT name, type, default_kind, default_expression FROM system.columns WHERE database = '$CHDB' AND table = '${1:-t}' FORMAT TabSeparated"; }
has_ch_column() { [ "$(ch "SELECT count() FROM system.columns WHERE database = '$CHDB' AND table = '${2:-t}' AND name = '$1'")" = 1 ]; }

run_start "$WORK/s.lua"
wait_streaming

# changes before any DDL
pg -c "UPDATE t SET v = v + 1, s = s || '!' WHERE id <= 10" -c "INSERT INTO t SELECT g, g, 's' || g FROM generate_series(101, 110) g"
same_all "before DDL"

# 1. ADD COLUMN with constant defaults of several types, and without one
pg <<'SQL'
ALTER TABLE t ADD COLUMN c_int int DEFAULT 42, ADD COLUMN c_text text DEFAULT 'hello', ADD COLUMN c_bool bool DEFAULT true,
  ADD COLUMN c_num numeric(10,2) DEFAULT 1.5, ADD COLUMN c_ts timestamptz DEFAULT '2020-01-02 03:04:05+00',
  ADD COLUMN c_date date DEFAULT '2021-06-01', ADD COLUMN c_null int;
INSERT INTO t SELECT g, g, 's' || g, g, 't' || g, false, g / 4.0, '2024-01-01'::timestamptz + g * interval '1 hour', '2024-01-01'::date + g, g
  FROM generate_series(111, 115) g;
UPDATE t SET v = v + 1 WHERE id BETWEEN 11 AND 20;
SQL
is "$(pg -c "SELECT c_int, c_text, c_bool, c_num, c_null IS NULL FROM t WHERE id = 50")" "42|hello|t|1.50|t" \
	"PostgreSQL: an old row reads the new columns' defaults"
same_all "after ADD COLUMN"
for c in c_int c_text c_bool c_num c_ts c_date c_null; do
	has_ch_column "$c"
	ok $? "ClickHouse has the new column $c"
done
like "$(ch_columns | grep '^c_int')" $'^c_int\tNullable\\(Int32\\)\tDEFAULT\t' "c_int has a DEFAULT in ClickHouse"

# 2. DROP COLUMN, with changes after it
pg -c "ALTER TABLE t DROP COLUMN s" -c "UPDATE t SET v = v + 1 WHERE id BETWEEN 21 AND 30" \
	-c "INSERT INTO t (id, v, c_int) SELECT g, g, g FROM generate_series(116, 120) g"
same_all "after DROP COLUMN"
has_ch_column s
ok $? "the dropped column stays in ClickHouse"
is "$(ch "SELECT s FROM $CHDB.t FINAL WHERE id = 50")" "s50" "a row not changed since keeps its value of the dropped column"

# 3. a column added in the transaction that fills it; two more DDLs right after, which the
#    stream finds in the catalog while it handles the first (100,000 changes to u come first
#    in that transaction, so the stream gets there late): the new row then lacks values for
#    the newest columns and is completed from the source, whose columns are not the ones
#    pgch knows (s is dropped)
pg >/dev/null <<'SQL'
BEGIN;
DO $$ BEGIN FOR i IN 1..2000 LOOP UPDATE u SET v = v + 1; END LOOP; END $$;
ALTER TABLE t ADD COLUMN c_in_txn int DEFAULT 5;
INSERT INTO t (id, v, c_in_txn) VALUES (121, 121, 8);
COMMIT;
ALTER TABLE t ADD COLUMN c_a int DEFAULT 1;
ALTER TABLE t ADD COLUMN c_b int;
UPDATE t SET c_b = 2, v = v + 1 WHERE id = 1;
SQL
same_all "after 100,000 changes" u
same_all "after ADD COLUMN in the changing transaction, and two DDLs before one change"
schema_lines=$(grep -c 'schema change:' "$RUN_LOG")
ok "$([ "$schema_lines" -ge 4 ]; echo $?)" "the run log shows the DDL ($schema_lines schema change lines)"

# 4. a restart: Relation messages come again, no DDL runs, no column changes
before=$(ch_columns)
run_stop
log_lines=$(wc -l <"$RUN_LOG")
run_start "$WORK/s.lua"
wait_streaming
pg -c "UPDATE t SET v = v + 1 WHERE id <= 100" -c "INSERT INTO t (id, v, c_b) VALUES (122, 122, 3)"
same_all "after a restart"
is "$(tail -n +$((log_lines + 1)) "$RUN_LOG" | grep -c -E 'schema change|error|warning')" 0 "the restarted run ran no DDL and logged no problem"
is "$(ch_columns)" "$before" "the ClickHouse columns are the same after the restart"

# 5. DDL while pgch is stopped: columns added; a column added, filled and dropped again
run_stop
log_lines=$(wc -l <"$RUN_LOG")
pg <<'SQL'
ALTER TABLE u ADD COLUMN c_off int DEFAULT 9;
INSERT INTO u (id, v, c_off) VALUES (51, 51, 10);
UPDATE u SET v = v + 1 WHERE id = 2;
ALTER TABLE u ADD COLUMN c_tmp int DEFAULT 3;
INSERT INTO u (id, v, c_tmp) VALUES (52, 52, 4);
ALTER TABLE u DROP COLUMN c_tmp;
INSERT INTO u (id, v) VALUES (53, 53);
UPDATE u SET v = v + 1 WHERE id = 3;
ALTER TABLE t ADD COLUMN c_off int DEFAULT 7;
INSERT INTO t (id, v, c_off) VALUES (123, 123, 10);
UPDATE t SET v = v + 1 WHERE id = 2;
SQL
run_start "$WORK/s.lua"
wait_streaming
same_all "after DDL made while pgch was stopped" u
has_ch_column c_off u
ok $? "u: the column added while pgch was stopped is in ClickHouse"
is "$(ch "SELECT c_off FROM $CHDB.u FINAL WHERE id = 50")" 9 "u: an old row reads its default"
is "$(tail -n +$((log_lines + 1)) "$RUN_LOG" | grep -c 'public.u will be copied again')" 0 "u was not copied again"
# t has a column the source lacks (s, dropped): c_off could be its new name, so t is copied again
wait_until 60 "t to be copied again" eval "tail -n +$((log_lines + 1)) \"\$RUN_LOG\" | grep -q 'public.t copied:'"
same_all "after DDL made while pgch was stopped (copied again)" t
is "$(ch "SELECT c_off FROM $CHDB.t FINAL WHERE id = 50")" 7 "t: an old row reads the new column's value"
is "$(tail -n +$((log_lines + 1)) "$RUN_LOG" | grep -c ' error: ')" 0 "no error in the run log"
run_stop
done_testing
