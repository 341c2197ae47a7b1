#!/usr/bin/env bash
# Subtransactions: one transaction updates the same keys hundreds of times with savepoints
# rolled back in between (updates, deletes, inserts and key changes that never happened),
# savepoints released, PL/pgSQL exception blocks that roll back; a rolled-back transaction.
# ClickHouse must end equal to the committed state; batch_size is small so the transaction
# also travels in several chunks of the same version.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, s text)" \
	-c "INSERT INTO t SELECT g, 0, 'orig' FROM generate_series(1, 100) g"
write_config "$WORK/s.lua" "pipe = { name = \"$T_NAME\", sync_interval = 1, batch_size = 50 }" 'tables = { "public.t" }'
run_start "$WORK/s.lua"
wait_streaming
wait_table_equal 30 t id v

# 1. 300 rounds in one transaction: a kept update, then a savepoint whose changes roll back
{
	echo "BEGIN;"
	for i in $(seq 1 300); do
		echo "UPDATE t SET v = $i, s = 'kept $i' WHERE id = 1;"
		echo "UPDATE t SET v = v + 1 WHERE id = $((i % 50 + 10));"
		echo "SAVEPOINT s$i;"
		echo "UPDATE t SET v = -$i, s = 'rolled back' WHERE id = 1;"
		echo "DELETE FROM t WHERE id = 2;"
		echo "INSERT INTO t VALUES ($((1000 + i)), $i, 'rolled back');"
		echo "UPDATE t SET id = $((5000 + i)) WHERE id = 3;"
		if [ $((i % 3)) = 0 ]; then
			echo "SAVEPOINT n$i; UPDATE t SET v = v + 1000 WHERE id = 4; ROLLBACK TO n$i;"
		fi
		echo "ROLLBACK TO s$i;"
		if [ $((i % 10)) = 0 ]; then
			echo "SAVEPOINT r$i; UPDATE t SET v = v + 1 WHERE id = 5; SAVEPOINT q$i; INSERT INTO t VALUES ($((2000 + i)), $i, 'released'); RELEASE r$i;"
		fi
	done
	echo "COMMIT;"
} >"$WORK/txn.sql"
pg -f "$WORK/txn.sql" >/dev/null
is "$(pg -c "SELECT v || ':' || s FROM t WHERE id = 1")|$(pg -c "SELECT count(*) FROM t WHERE id IN (2, 3)")|$(pg -c "SELECT count(*) FROM t WHERE id > 1000")|$(pg -c "SELECT v FROM t WHERE id = 5")|$(pg -c "SELECT sum(v) FROM t WHERE id BETWEEN 10 AND 59")" \
	"300:kept 300|2|30|30|300" "PostgreSQL holds only what the savepoints kept"
wait_table_equal 60 t id v
same_sample t "id, v, s" id "1 = 1" "after savepoints rolled back: every row equal"

# 2. PL/pgSQL exception blocks (subtransactions) that roll back half the rounds
pg >/dev/null <<'SQL'
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    BEGIN
      UPDATE t SET v = v + 1 WHERE id = 6;
      INSERT INTO t VALUES (3000 + i, i, 'from a block');
      IF i % 2 = 0 THEN RAISE EXCEPTION 'roll this round back'; END IF;
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
  END LOOP;
END
$$;
SQL
is "$(pg -c "SELECT v FROM t WHERE id = 6")|$(pg -c "SELECT count(*) FROM t WHERE id > 3000")" "100|100" "PostgreSQL kept the odd rounds of the exception blocks"
wait_table_equal 60 t id v
same_sample t "id, v, s" id "1 = 1" "after exception blocks: every row equal"

# 3. a rolled-back transaction, then one that commits (so there is something to wait for)
pg -c "BEGIN" -c "UPDATE t SET v = v + 100000" -c "DELETE FROM t WHERE id < 50" -c "INSERT INTO t VALUES (9000, 9, 'never')" -c "ROLLBACK"
pg -c "UPDATE t SET v = v + 1 WHERE id = 7"
is "$(pg -c "SELECT count(*), max(v) < 100000 FROM t")" "230|t" "the rolled-back transaction changed nothing in PostgreSQL"
wait_table_equal 60 t id v
same_sample t "id, v, s" id "1 = 1" "after a rolled-back transaction: every row equal"
run_stop
done_testing
