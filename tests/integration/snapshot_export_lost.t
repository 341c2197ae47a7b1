#!/usr/bin/env bash
# The connection holding the exported snapshot (the 'pgch slot' walsender) is terminated in the
# middle of pgch snapshot while other sessions UPDATE, DELETE and INSERT rows of the table being
# copied: partitions not yet started are read under a new snapshot, the changes in between come
# from the slot ("catch-up"), and the contents end exactly equal to PostgreSQL's.
# exclusive: counts the server's replication connections, which other tests open too
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE big (id bigint NOT NULL, v text NOT NULL, n int);
INSERT INTO big SELECT g, md5(g::text), g % 1000 FROM generate_series(1, 400000) g;
ALTER TABLE big ADD PRIMARY KEY (id);
ANALYZE big;
SQL
write_config "$WORK/e.lua" \
	'pipe = { snapshot = { workers = 2, rows_per_partition = 25000 } }' \
	'tables = { "public.big" }'
STATE="$CHDB._pgch_state FINAL WHERE source_table = 'public.big' AND part >= 0"
one_done() { [ "$(ch "SELECT count() FROM $STATE AND status = 'done'" 2>/dev/null)" -ge 1 ] 2>/dev/null; }
exporter() { pg -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgch slot' AND backend_type = 'walsender'"; }

"$PGCH" snapshot "$WORK/e.lua" 2>"$WORK/run.log" &
sup=$!
T_PIDS+=("$sup")
poll_until 60 one_done
ok $? "the snapshot is under way (a partition is done)"
# Freeze the supervisor so that it starts no partition until the snapshot is gone (its
# workers finish what they copy); it notices everything when it continues.
kill -STOP "$sup"

# changes while it copies: some committed now, then a transaction still open when the
# exporting connection goes away (it commits 1.5 s later)
pg -c "UPDATE big SET v = 'updated', n = -1 WHERE id % 100 = 5" \
	-c "DELETE FROM big WHERE id % 100 = 7" \
	-c "INSERT INTO big SELECT g, 'inserted', 1 FROM generate_series(400001, 401000) g"
pg -c "BEGIN" -c "UPDATE big SET v = 'late', n = -2 WHERE id % 1000 = 9" -c "DELETE FROM big WHERE id % 1000 = 11" \
	-c "INSERT INTO big SELECT g, 'late', 2 FROM generate_series(401001, 401500) g" -c "SELECT pg_sleep(1.5)" -c "COMMIT" \
	>/dev/null 2>"$WORK/late.err" &
late=$!
T_PIDS+=("$late")
poll_until 10 eval '[ "$(pg -c "SELECT count(*) FROM pg_stat_activity WHERE query = '"'SELECT pg_sleep(1.5)'"'")" = 1 ]'
ok $? "the concurrent transaction is open"

pids=$(exporter)
is "$(printf '%s\n' "$pids" | grep -c .)" 1 "one walsender named 'pgch slot' holds the exported snapshot"
is "$(pg -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pgch slot'")" 1 "it is in pg_stat_replication too"
is "$(pg -c "SELECT pg_terminate_backend(${pids:-0})")" t "terminated it"
poll_until 10 eval '[ -z "$(exporter)" ]'
ok $? "it is gone"
# Workers that imported the snapshot keep it (one transaction each): kill them too, so the
# partitions left need new workers, and those a new snapshot.
pkill -KILL -P "$sup" -x pgch-snapshot
remaining=$(ch "SELECT count() FROM $STATE AND status != 'done'")
ok $((!(remaining > 2))) "partitions remain to be started ($remaining not done)"
kill -CONT "$sup"

wait_pid "$late" 30
is "$WAIT_STATUS" 0 "the concurrent transaction committed"
wait_pid "$sup" 120
st=$WAIT_STATUS
log=$(cat "$WORK/run.log")
like "$log" 'the connection holding snapshot [^ ]+ was lost; partitions not yet started will be read under a new snapshot' \
	"the supervisor noticed the lost snapshot"
like "$log" 'temporary slot [^ ]+ created at' "a temporary slot gave a new snapshot"
if printf '%s\n' "$log" | grep -q 'giving up'; then ok 1 "no partition was given up"; else ok 0 "no partition was given up"; fi
is "$(ch "SELECT count() FROM $STATE AND status = 'done'")" 16 "all 16 partitions are done"
nsnap=$(ch "SELECT uniqExact(snapshot_lsn) FROM $STATE")
ok $((!(nsnap >= 2))) "partitions were read under $nsnap snapshots"

is "$st" 0 "the run exits 0"
[ "$st" = 0 ] || diag "$(printf '%s\n' "$log" | grep -E 'error' | head -5)"
want=$(pg -c "SELECT count(*) FROM big")
is "$(pg -c "SELECT count(*) FILTER (WHERE v = 'updated') > 0 AND count(*) FILTER (WHERE v = 'late') > 0 FROM big")" t \
	"set-up: PostgreSQL has the updated and the late rows"
is "$(ch "SELECT count() FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0")" "$want" "row count equals PostgreSQL's ($want)"
is "$(ch "SELECT sum(id) FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0")" "$(pg -c "SELECT sum(id) FROM big")" "sum of ids equals PostgreSQL's"
# (rows updated while a snapshot holds back the xmin horizon move to new pages, which are read
# under the new snapshot: these pass without catch-up)
same_rows "SELECT v, count(*), sum(n), sum(id) FROM big WHERE v IN ('updated', 'late', 'inserted') GROUP BY v ORDER BY v" \
	"SELECT v, count(), sum(n), sum(id) FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0 AND v IN ('updated', 'late', 'inserted') GROUP BY v ORDER BY v" \
	"updated, inserted and late rows equal PostgreSQL's"
is "$(ch "SELECT count() FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0 AND id <= 400000 AND (id % 100 = 7 OR id % 1000 = 11)")" 0 "deleted rows are gone"
same_rows "SELECT md5(string_agg(id || ':' || v || ':' || n, ',' ORDER BY id)) FROM big" \
	"SELECT lower(hex(MD5(arrayStringConcat(groupArray(concat(toString(id), ':', v, ':', toString(n))), ',')))) FROM (SELECT id, v, n FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0 ORDER BY id)" \
	"every row equals PostgreSQL's (digest)"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" 0 "no replication slot is left"
pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB' AND NOT active" >/dev/null
done_testing
