#!/usr/bin/env bash
# Unchanged TOAST values (ARCHITECTURE.md, "Consistency"): a 100 kB text stored out of line (STORAGE EXTERNAL)
# and left alone by an UPDATE of another column arrives as 'u' (REPLICA IDENTITY DEFAULT).
# The value in ClickHouse must stay intact (length and md5) when it comes from
#  - ClickHouse (the row's earlier version is there: the snapshot's, or an earlier batch's),
#  - the source (a key type the ClickHouse lookup does not take: numeric; or a changed key),
#  - the same batch (insert and update in one transaction, or back to back),
#  - the old tuple (REPLICA IDENTITY FULL sends it whole),
# and the stream must neither fail nor write an empty value when the row was deleted at the
# source before pgch processed the update (pgch stopped meanwhile; batch_size 1 so the update
# is flushed, and looked up, before the delete is read).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg >/dev/null <<'SQL'
CREATE TABLE tk (id int PRIMARY KEY, v int NOT NULL, big text, small text);
CREATE TABLE tn (k numeric(12,2) PRIMARY KEY, id int NOT NULL, v int NOT NULL, big text, small text);
ALTER TABLE tk ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE tn ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE tf (k numeric(12,2) PRIMARY KEY, id int NOT NULL, v int NOT NULL, big text, small text);
ALTER TABLE tf ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE tf REPLICA IDENTITY FULL;
-- 100 kB of hex digits, different for every row
CREATE FUNCTION big(g int) RETURNS text LANGUAGE sql AS
  $$ SELECT string_agg(md5(g || ':' || x), '') FROM generate_series(1, 3200) x $$;
CREATE FUNCTION add_rows(lo int, hi int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO tk SELECT g, g, big(g), 's' || g FROM generate_series(lo, hi) g;
  INSERT INTO tn SELECT g + 0.25, g, g, big(g), 's' || g FROM generate_series(lo, hi) g;
  INSERT INTO tf SELECT g + 0.25, g, g, big(g), 's' || g FROM generate_series(lo, hi) g;
$$;
SELECT add_rows(1, 5);
SQL
ok "$([ "$(pg -c "SELECT pg_relation_size(reltoastrelid) > 400000 FROM pg_class WHERE relname = 'tk'")" = t ]; echo $?)" \
	"the big values are stored out of line at the source"

write_config "$WORK/t.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1 }" 'tables = { "public.tk", "public.tn", "public.tf" }'
write_config "$WORK/t1.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1, batch_size = 1 }" 'tables = { "public.tk", "public.tn", "public.tf" }'

# Every row's v, length and md5 of big and small on both sides.
same_big() { # same_big TABLE DESCRIPTION
	wait_same 60 "SELECT id, v, length(big), md5(big), small FROM $1 ORDER BY id" \
		"SELECT id, v, length(big), lower(hex(MD5(big))), small FROM $CHDB.$1 FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
		"$1 $2: v, length and md5 of the big value equal"
}
all_big() { # every row in PostgreSQL has a 100 kB value (the compared set is not trivial)
	is "$(pg -c "SELECT count(*) FILTER (WHERE length(big) = 102400) || '/' || count(*) FROM $1")" "$2/$2" "$1: $2 rows with a 100 kB value in PostgreSQL"
}

run_start "$WORK/t.lua"
wait_streaming
for t in tk tn tf; do same_big $t "after the snapshot"; done

# rows written by the stream in an earlier batch
pg -c "SELECT add_rows(11, 15)" >/dev/null
for t in tk tn tf; do same_big $t "after inserts"; done

# 1. lookup: the earlier version is in ClickHouse (snapshot rows 1-5, streamed rows 11-15)
pg -c "UPDATE tk SET v = v + 1000 WHERE id <= 15" -c "UPDATE tn SET v = v + 1000 WHERE id <= 15" -c "UPDATE tf SET v = v + 1000 WHERE id <= 15"
is "$(pg -c "SELECT count(*) FROM tk WHERE v > 1000")" 10 "10 rows of tk updated in PostgreSQL"
for t in tk tn tf; do
	all_big $t 10
	same_big $t "after updates of another column (value looked up)"
done

# 1b. a key changed, the value unchanged: the new key is not in ClickHouse yet
pg -c "UPDATE tk SET id = id + 100, v = v + 100 WHERE id IN (3, 13)" \
	-c "UPDATE tn SET k = k + 100, id = id + 100, v = v + 100 WHERE id IN (3, 13)" \
	-c "UPDATE tf SET k = k + 100, id = id + 100, v = v + 100 WHERE id IN (3, 13)"
is "$(pg -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM tk WHERE id > 100")" "103,113" "two keys of tk changed in PostgreSQL"
for t in tk tn tf; do
	all_big $t 10
	same_big $t "after key changes"
done

# 1c. two rows swap keys in one batch (one transaction; and three back to back): each moved
# row's unchanged value is its own, not that of the row that had its new key before
pg >/dev/null <<'SQL'
BEGIN;
UPDATE tk SET id = -4 WHERE id = 4;
UPDATE tk SET id = 4 WHERE id = 5;
UPDATE tk SET id = 5 WHERE id = -4;
UPDATE tn SET k = -4 WHERE k = 4.25;
UPDATE tn SET k = 4.25 WHERE k = 5.25;
UPDATE tn SET k = 5.25 WHERE k = -4;
COMMIT;
UPDATE tk SET id = -14 WHERE id = 14;
UPDATE tk SET id = 14 WHERE id = 15;
UPDATE tk SET id = 15 WHERE id = -14;
SQL
is "$(pg -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM tk WHERE id IN (4, 5, 14, 15)")" "4:1005,5:1004,14:1015,15:1014" \
	"rows of tk swapped keys in PostgreSQL"
for t in tk tn; do
	all_big $t 10
	wait_same 60 "SELECT $( [ $t = tn ] && echo k || echo id ), v, md5(big) FROM $t ORDER BY 1" \
		"SELECT $( [ $t = tn ] && echo k || echo id ), v, lower(hex(MD5(big))) FROM $CHDB.$t FINAL WHERE _pgch_is_deleted = 0 ORDER BY 1" \
		"$t after key swaps: each key has its own row's big value"
done

# 2. the same batch: insert and update in one transaction; and in two, back to back
pg >/dev/null <<'SQL'
BEGIN;
SELECT add_rows(21, 25);
UPDATE tk SET v = v + 2000, small = 'changed' WHERE id BETWEEN 21 AND 25;
UPDATE tn SET v = v + 2000, small = 'changed' WHERE id BETWEEN 21 AND 25;
UPDATE tf SET v = v + 2000, small = 'changed' WHERE id BETWEEN 21 AND 25;
COMMIT;
SELECT add_rows(31, 35);
UPDATE tk SET v = v + 3000 WHERE id BETWEEN 31 AND 35;
UPDATE tn SET v = v + 3000 WHERE id BETWEEN 31 AND 35;
UPDATE tf SET v = v + 3000 WHERE id BETWEEN 31 AND 35;
SQL
is "$(pg -c "SELECT count(*) FROM tk WHERE v > 2000")" 10 "10 rows of tk inserted and updated in PostgreSQL"
for t in tk tn tf; do
	all_big $t 20
	same_big $t "after insert and update in one batch"
done
run_stop

# 3. updates pgch reads only after their rows were deleted at the source
for t in tk tn tf; do
	pg -c "UPDATE $t SET v = v + 5000 WHERE id IN (1, 2, 11, 12, 21)" -c "DELETE FROM $t WHERE id IN (1, 11, 21)"
done
is "$(pg -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM tk WHERE v > 5000")" "2:6002,12:6012" \
	"rows updated, some then deleted, while pgch was stopped"
run_start "$WORK/t1.lua" -v -v # debug lines say what the lookups found
wait_streaming
for t in tk tn tf; do
	all_big $t 17
	same_big $t "after updates of rows deleted before pgch read them"
done
ok "$(! log_has ' (error|warning): '; echo $?)" "no error or warning in the run log"
# tn's key is numeric, which the ClickHouse lookup does not take: the source lookup ran and
# found the deleted rows gone
is "$(grep -c 'public.tn: 1 changed row no longer exist at the source; skipped' "$RUN_LOG")" 3 \
	"the three updates of rows deleted at the source were skipped, not written empty"
is "$(grep -c 'public.tf: .* no longer exist' "$RUN_LOG")" 0 "tf (REPLICA IDENTITY FULL) took the values from the old tuples instead"
run_stop
is "$(ch "SELECT count() FROM $CHDB.tk FINAL WHERE _pgch_is_deleted = 0 AND length(big) <> 102400")" 0 \
	"no live row in ClickHouse has an empty or cut value"
done_testing
