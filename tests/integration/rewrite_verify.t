#!/usr/bin/env bash
# A same-type rewrite (ALTER TABLE ... ALTER v TYPE int USING v * 2 on an int column) sends
# no row changes and the same Relation message, so pgch cannot see it; the README documents
# `pgch verify` after such DDL as the check and `pgch resync` as the fix (issue 12, item 6).
# This shows that check works: verify reports the rewritten rows with the column, and after
# pgch resync verify is clean.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
pg -c "CREATE TABLE rw (id int PRIMARY KEY, v int NOT NULL, note text)" \
	-c "INSERT INTO rw SELECT g, g, 'n' || g FROM generate_series(1, 100) g" >/dev/null
write_config "$WORK/rw.lua" "pipe = { name = \"$T_NAME\", sync_interval = 0.5 }" 'tables = { "public.rw" }'
run_start "$WORK/rw.lua"
wait_streaming
out=$("$PGCH" verify "$WORK/rw.lua" 2>&1)
is "$?" 0 "verify before the rewrite: equal"

pg -c "ALTER TABLE rw ALTER v TYPE int USING v * 2" -c "UPDATE rw SET note = 'after' WHERE id = 1" >/dev/null
wait_same 60 "SELECT note FROM rw WHERE id = 1" "SELECT note FROM $CHDB.rw FINAL WHERE id = 1" "the pipe streams past the rewrite"
out=$("$PGCH" verify "$WORK/rw.lua" 2>&1)
is "$?" 1 "verify after the same-type rewrite: exit 1"
like "$out" 'public\.rw +DIFFERS' "verify: the table DIFFERS"
like "$out" 'id = 2: differs in v' "verify names a rewritten row and the column"

copies=$(tail -n +"$RUN_FROM" "$RUN_LOG" | grep -c 'public\.rw copied:')
"$PGCH" resync "$WORK/rw.lua" --table public.rw >/dev/null 2>&1
wait_until 90 "the resync" eval '[ "$(tail -n +"$RUN_FROM" "$RUN_LOG" | grep -c "public\.rw copied:")" -gt "$copies" ]'
ok $? "pgch resync copies the table again"
wait_same 60 "SELECT count(*), sum(v) FROM rw" "SELECT count(), sum(v) FROM $CHDB.rw FINAL WHERE _pgch_is_deleted = 0" "after the resync: equal"
out=$("$PGCH" verify "$WORK/rw.lua" 2>&1)
is "$?" 0 "verify after pgch resync: equal"
run_stop
done_testing
