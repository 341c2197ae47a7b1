#!/usr/bin/env bash
# A publication and a slot a DBA created, used together (issue 12 acceptance: "A DBA-created
# slot and publication: snapshot + stream exact"). The publication publishes exactly the
# selected tables, so pgch uses it as it is (creates none, changes nothing in it); changes
# made before pgch first runs and while it runs reach ClickHouse, value by value.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

SLOT=dba_${T_NAME}
PUB=dbapub_${T_NAME}
fresh_dbs
pg -c "CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL, note text)" \
	-c "INSERT INTO acct SELECT g, g * 10, 'n' || g FROM generate_series(1, 2000) g" \
	-c "CREATE TABLE other (id int PRIMARY KEY)" \
	-c "CREATE PUBLICATION $PUB FOR TABLE acct WITH (publish_via_partition_root = true)" >/dev/null
slot_cleanup() {
	psql -X -q -At -d "$DB" -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null 2>&1
}
at_exit slot_cleanup
slot_cleanup
pg -c "SELECT pg_create_logical_replication_slot('$SLOT', 'pgoutput')" >/dev/null
pg -c "UPDATE acct SET balance = balance + 1 WHERE id <= 100" -c "DELETE FROM acct WHERE id BETWEEN 201 AND 210" >/dev/null
write_config "$WORK/p.lua" "pipe = { name = \"$T_NAME\", slot = \"$SLOT\", publication = \"$PUB\", sync_interval = 0.5 }" \
	'tables = { "public.acct" }'

out=$("$PGCH" check "$WORK/p.lua" 2>&1)
like "$out" "OK +publication $PUB publishes exactly the 1 selected table" "check: the DBA's publication is OK as it is"
like "$out" "OK +replication slot $SLOT exists and is inactive" "check: the DBA's slot is OK"

run_start "$WORK/p.lua"
wait_streaming 60
ok "$(! run_has "created publication|added .* to publication|removed .* from publication"; echo $?)" \
	"run creates no publication and changes nothing in the DBA's"
pg -c "UPDATE acct SET balance = balance - 5 WHERE id % 7 = 0" -c "DELETE FROM acct WHERE id BETWEEN 501 AND 520" \
	-c "INSERT INTO acct SELECT g, 1, 'late' FROM generate_series(3001, 3100) g" -c "UPDATE acct SET id = id + 10000 WHERE id = 300" >/dev/null
wait_same 60 "SELECT count(*), sum(id), sum(balance) FROM acct" \
	"SELECT count(), sum(id), sum(balance) FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0" "copy and stream through the DBA's publication and slot: equal"
same_rows "SELECT id, balance, note FROM acct ORDER BY id" \
	"SELECT id, balance, note FROM $CHDB.acct FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" "every row equal, value by value"
is "$(pg -c "SELECT string_agg(tablename, ',') FROM pg_publication_tables WHERE pubname = '$PUB'")" acct "the DBA's publication still publishes only acct"
out=$("$PGCH" verify "$WORK/p.lua" 2>&1)
is "$?" 0 "pgch verify: equal"
run_stop
done_testing
