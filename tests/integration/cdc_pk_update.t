#!/usr/bin/env bash
# Updates of primary-key columns while pgch run streams (ARCHITECTURE.md, "Consistency": an update that changes
# the key writes a delete for the old key first). Single and composite keys; a key changed
# twice, and changed and back, in one transaction; two keys swapped in one transaction; a key
# freed and reused by an insert; a row inserted and re-keyed in one transaction; a large
# transaction whose key moves land in different batches (batch_size is small). After each
# step the deduplicated view must equal PostgreSQL row for row: no ghost of an old key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE single (id int PRIMARY KEY, v int NOT NULL, s text);
INSERT INTO single SELECT g, g * 10, 'row ' || g FROM generate_series(1, 1000) g;
CREATE TABLE comp (a int, b text, v int NOT NULL, PRIMARY KEY (a, b));
INSERT INTO comp SELECT g % 10, 'k' || g, g FROM generate_series(1, 200) g;
SQL
write_config "$WORK/p.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1, batch_size = 200 }" 'tables = { "public.single", "public.comp" }'
run_start "$WORK/p.lua"
wait_streaming

# the whole tables, value by value (waited for: a swap leaves counts and sums alone)
same_single() {
	wait_sample 60 single "id, v, s" id "1 = 1" "single $1: every row equal, no ghost keys"
	wait_table_equal 10 single id v
}
same_comp() {
	wait_sample 60 comp "a, b, v" "a, b" "1 = 1" "comp $1: every row equal, no ghost keys"
	wait_table_equal 10 comp a v
}

# 1. a single-column key moved, rows of the snapshot
pg -c "UPDATE single SET id = id + 10000, v = v + 1 WHERE id <= 10"
is "$(pg -c "SELECT count(*) FROM single WHERE id BETWEEN 10001 AND 10010")" 10 "ten keys moved in PostgreSQL"
same_single "after keys moved"
is "$(ch "SELECT count() FROM $CHDB.single FINAL WHERE id <= 10 AND _pgch_is_deleted = 1")" 10 \
	"the old keys are delete rows in ClickHouse"

# 2. a key changed twice in one transaction; a key changed and back
pg <<'SQL'
BEGIN;
UPDATE single SET id = 2000 WHERE id = 20;
UPDATE single SET id = 3000, v = 1 WHERE id = 2000;
UPDATE single SET id = 5000 WHERE id = 50;
UPDATE single SET id = 50, v = 2 WHERE id = 5000;
COMMIT;
SQL
is "$(pg -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM single WHERE id IN (20, 50, 2000, 3000, 5000)")" \
	"50:2,3000:1" "changed twice, and changed and back, in PostgreSQL"
same_single "after a key changed twice in one transaction"

# 3. two keys swapped in one transaction (through a free key), and three rotated
pg <<'SQL'
BEGIN;
UPDATE single SET id = -30 WHERE id = 30;
UPDATE single SET id = 30 WHERE id = 31;
UPDATE single SET id = 31 WHERE id = -30;
UPDATE single SET id = -40 WHERE id = 40;
UPDATE single SET id = 40 WHERE id = 41;
UPDATE single SET id = 41 WHERE id = 42;
UPDATE single SET id = 42 WHERE id = -40;
COMMIT;
SQL
is "$(pg -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM single WHERE id IN (30, 31, 40, 41, 42, -30, -40)")" \
	"30:310,31:300,40:410,41:420,42:400" "keys swapped and rotated in PostgreSQL"
same_single "after keys swapped in one transaction"

# 4. a key freed and taken by a new row; a new row re-keyed and deleted in its transaction
pg <<'SQL'
BEGIN;
UPDATE single SET id = 6000 WHERE id = 60;
INSERT INTO single VALUES (60, -60, 'new under an old key');
INSERT INTO single VALUES (7000, 7, 'inserted');
UPDATE single SET id = 7001 WHERE id = 7000;
UPDATE single SET id = 7002 WHERE id = 7001;
INSERT INTO single VALUES (8000, 8, 'inserted');
UPDATE single SET id = 8001 WHERE id = 8000;
DELETE FROM single WHERE id = 8001;
UPDATE single SET id = 9000 WHERE id = 90;
DELETE FROM single WHERE id = 9000;
COMMIT;
SQL
is "$(pg -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM single WHERE id IN (60, 90, 6000, 7000, 7001, 7002, 8000, 8001, 9000)")" \
	"60:-60,6000:600,7002:7" "keys freed, reused, re-keyed and deleted in PostgreSQL"
same_single "after keys reused and re-keyed in one transaction"

# 5. one transaction larger than a batch (batch_size 200): keys moved away early and moved
#    back late travel in different INSERTs with the same version, and the later must win
pg <<'SQL'
BEGIN;
UPDATE single SET id = id + 100000 WHERE id BETWEEN 100 AND 149;
UPDATE single SET v = v + 1 WHERE id BETWEEN 200 AND 799;
UPDATE single SET id = id - 100000, v = v + 5 WHERE id BETWEEN 100100 AND 100149;
UPDATE single SET id = id + 200000 WHERE id BETWEEN 150 AND 159;
COMMIT;
SQL
is "$(pg -c "SELECT count(*) FILTER (WHERE id BETWEEN 100 AND 149), count(*) FILTER (WHERE id > 100000) FROM single")" \
	"50|10" "a large transaction moved keys away and back in PostgreSQL"
same_single "after a transaction split over several batches"

# 6. composite keys: one part changed, both parts changed, a swap, a change of a change
pg -c "UPDATE comp SET b = b || 'x' WHERE a = 1"
pg -c "UPDATE comp SET a = a + 100, b = upper(b) WHERE a = 2"
pg <<'SQL'
BEGIN;
UPDATE comp SET b = 'tmp' WHERE a = 3 AND b = 'k3';
UPDATE comp SET b = 'k3' WHERE a = 3 AND b = 'k13';
UPDATE comp SET b = 'k13' WHERE a = 3 AND b = 'tmp';
UPDATE comp SET a = 44 WHERE a = 4 AND b = 'k4';
UPDATE comp SET b = 'k44' WHERE a = 44 AND b = 'k4';
UPDATE comp SET a = 4, b = 'k4', v = -4 WHERE a = 44 AND b = 'k44';
COMMIT;
SQL
is "$(pg -c "SELECT count(*) FILTER (WHERE a = 1 AND b LIKE '%x'), count(*) FILTER (WHERE a = 102), count(*) FILTER (WHERE a = 2)
             FROM comp")|$(pg -c "SELECT string_agg(a || b || ':' || v, ',' ORDER BY a, b) FROM comp WHERE (a, b) IN ((3, 'k3'), (3, 'k13'), (4, 'k4'))")" \
	"20|20|0|3k13:3,3k3:13,4k4:-4" "composite keys changed in PostgreSQL"
same_comp "after composite key changes"

run_stop
same_single "after pgch stopped"
same_comp "after pgch stopped"
done_testing
